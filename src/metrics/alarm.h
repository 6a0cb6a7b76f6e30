/*
 * alarm.h - alarm rules (docs/alarms.md): the expression language of
 * `corral alarm add --when`, the state machine every (rule, object) pair
 * goes through, and the JSON a notification carries.  Pure code: no
 * threads, no I/O, no clock of its own (times are passed in, so tests
 * drive them), used by service/alarms.c.
 *
 * Expressions (alarm_expr_parse):
 *   METRIC OP NUMBER[UNIT] [for DURATION]      a threshold, e.g. cpu > 90% for 5m
 *   vm crashed | backup failed | ha restarted | host lost quorum   an event
 * OP is > >= < <=; UNIT is % (cpu, host_cpu, pool_used), a size suffix
 * K M G T (powers of 1024, optional B / iB, "/s" for rates) or nothing;
 * DURATION is NUMBER s|m|h (at most ALARM_FOR_MAX_S).  Words are ASCII,
 * case-sensitive; whitespace between tokens is free.
 *
 * State machine (alarm_step): ok -> pending -> firing -> ok, with the
 * hysteresis of docs/alarms.md: a condition must hold `for` seconds to fire
 * and must stay false `for` seconds (at least one sample) to resolve;
 * a firing alarm whose condition is false is "firing" still, with
 * clear_since set, until then.
 *
 * Errors: -EINVAL with one sentence naming the column (1-based) appended to err.
 */
#ifndef CORRAL_METRICS_ALARM_H
#define CORRAL_METRICS_ALARM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define ALARM_EXPR_MAX 256
#define ALARM_FOR_MAX_S (24 * 3600)
/* The largest threshold (1 PB, 1 PB/s); thresholds keep six decimals. */
#define ALARM_VALUE_MAX 1e15

/* What a rule watches. */
enum alarm_scope { ALARM_SCOPE_VM, ALARM_SCOPE_POOL, ALARM_SCOPE_HOST };

enum alarm_kind { ALARM_THRESHOLD, ALARM_EVENT };

enum alarm_event {
	ALARM_EV_VM_CRASHED,
	ALARM_EV_BACKUP_FAILED,
	ALARM_EV_HA_RESTARTED,
	ALARM_EV_HOST_LOST_QUORUM,
};

enum alarm_op { ALARM_GT, ALARM_GE, ALARM_LT, ALARM_LE };

/* A metric an expression may name (alarm_metrics[]). */
struct alarm_metric {
	const char *name;
	enum alarm_scope scope;
	const char *unit;  /* "%", "bytes", "bytes/s", "" */
	bool percent_ok;   /* NUMBER% allowed (pool_used: of the pool's size) */
	const char *help;
};
#define ALARM_METRICS_MAX 16
extern const struct alarm_metric alarm_metrics[];
extern const size_t alarm_metrics_count;
/* The index of metric `name` in alarm_metrics[], or -1. */
int alarm_metric_index(const char *name);

struct alarm_expr {
	enum alarm_kind kind;
	enum alarm_scope scope;
	/* threshold */
	const struct alarm_metric *metric;
	enum alarm_op op;
	double threshold; /* in the metric's unit; percent when percent is set */
	bool percent;     /* pool_used NN%: compared with used/size*100 */
	int64_t for_s;
	/* event */
	enum alarm_event event;
};

/* Parse `text`: 0, or -EINVAL and "at column N: ..." in err. */
int alarm_expr_parse(const char *text, struct alarm_expr *out, struct buf *err);
/* The canonical text of e (caller frees): what `alarm show` prints. */
char *alarm_expr_format(const struct alarm_expr *e);
/* The condition for a value. */
bool alarm_expr_holds(const struct alarm_expr *e, double value);
const char *alarm_event_name(enum alarm_event ev);

/* ---- the state machine ---- */

enum alarm_state { ALARM_OK, ALARM_PENDING, ALARM_FIRING };

struct alarm_track {
	enum alarm_state state;
	int64_t since_ms;       /* when `state` began */
	int64_t cond_since_ms;  /* pending: since when the condition holds */
	int64_t clear_since_ms; /* firing: since when it no longer holds (0: it holds) */
	double value;           /* the newest value */
};

/* What alarm_step did. */
enum alarm_transition {
	ALARM_T_NONE,
	ALARM_T_PENDING,  /* ok -> pending */
	ALARM_T_CANCELED, /* pending -> ok: the condition ended before `for` */
	ALARM_T_FIRING,   /* -> firing: notify */
	ALARM_T_RESOLVED, /* firing -> ok: notify */
};

/* One sample: holds = the condition, at now_ms.  Updates t. */
enum alarm_transition alarm_step(struct alarm_track *t, bool holds, double value, int64_t for_s, int64_t now_ms);
/* The object went away (VM stopped, pool removed): firing resolves, pending ends. */
enum alarm_transition alarm_gone(struct alarm_track *t, int64_t now_ms);
const char *alarm_state_name(enum alarm_state s);
int alarm_state_parse(const char *s, enum alarm_state *out);
const char *alarm_transition_name(enum alarm_transition t);

/* ---- notifications ---- */

/*
 * The JSON of a notification (docs/alarms.md "Webhook"): {"version": 1,
 * "alarm", "status": "firing"|"resolved"|"test", "expr", "object": {"kind",
 * "name", "uuid"?}, "value"?, "threshold"?, "unit"?, "host", "time",
 * "since"?}.  obj_uuid, since_ms may be NULL/0; value NAN is left out.
 */
json_t *alarm_payload(const char *rule, const struct alarm_expr *e, const char *status, const char *obj_kind,
		      const char *obj_name, const char *obj_uuid, double value, const char *host, int64_t now_ms,
		      int64_t since_ms);
/* One line for a mail subject or log: "[corral] firing: cpu-high on vm web1 (cpu 97.2 %)". */
char *alarm_payload_subject(const json_t *payload);

#endif
