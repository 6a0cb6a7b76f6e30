/*
 * alarms.h - alarm rules, their evaluation and their notifications
 * (alarms.c, alarm_notify.c; docs/alarms.md).
 *
 * A rule (stored as configuration, core/store.h "alarm rules") is
 *   {"name", "when": EXPR (metrics/alarm.h), "on": SELECTOR?, "notify":
 *    [TARGET...], "smtp": {"url", "from", "user"?, "password_set"}?}
 * TARGET is an http:// or https:// URL (a webhook) or mailto:ADDR[,ADDR...]
 * (mail through "smtp").  The SMTP password is write-only: it is kept in
 * STATE_DIR/alarms/NAME.smtp-password (0600), never in the store, an
 * answer, the log or `host export-db`.
 *
 * Evaluation: the metrics sampler calls svc_alarms_on_sample() with what it
 * measured, on its own thread, after each round; event rules are matched
 * against the event bus.  Each (rule, object) pair's state and every
 * transition go to the store (store_local.h "alarms"), transitions also to
 * the event history and bus as "alarm" events.  Notifications are sent by
 * one worker thread with retries (ALARM_RETRIES, backoff doubling from 1 s),
 * so neither the sampler nor the bus ever waits for a receiver.
 *
 * Threading: every function may be called from any thread.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_ALARMS_H
#define CORRAL_SERVICE_ALARMS_H

#include <stdint.h>
#include <jansson.h>

#include "metrics/alarm.h"
#include "util/buf.h"

#define ALARM_TARGETS_MAX 8
#define ALARM_RETRIES 5
#define ALARM_QUEUE_MAX 1000

/* Start the notification worker and subscribe to the event bus; load the stored states. */
int svc_alarms_start(struct buf *err);
/* Stop it (pending notifications are dropped, with a log line). NULL-safe to repeat. */
void svc_alarms_stop(void);

/* What one sampling round measured of one object. */
struct svc_alarm_obs {
	enum alarm_scope scope;
	const char *id;   /* VM uuid, pool name, "host" */
	const char *name; /* VM name, pool name, host name */
	double value[ALARM_METRICS_MAX];   /* by alarm_metrics[] index; NAN: not measured */
	double percent[ALARM_METRICS_MAX]; /* the same as a percentage of its total (pool_used, host_memory); NAN */
};
/* Evaluate every threshold rule over one round's observations taken at now_ms (wall clock). */
void svc_alarms_on_sample(const struct svc_alarm_obs *obs, size_t n, int64_t now_ms);

/* The API (docs/api.md "Alarms"). */
json_t *svc_alarm_list(void);
int svc_alarm_get(const char *name, json_t **out, struct buf *err);
/* Create (create: -EEXIST if it exists) or change (fields of body replace the stored ones). */
int svc_alarm_put(const char *name, const json_t *body, bool create, json_t **out, struct buf *err);
int svc_alarm_delete(const char *name, struct buf *err);
/* Send a "test" notification through every target now: {"results": [{"target", "ok", "error"?}]};
 * -EREMOTEIO (and the results) if one failed. */
int svc_alarm_test(const char *name, json_t **out, struct buf *err);
/* {"history": [...]} of rule name (NULL: all), the newest limit transitions. */
int svc_alarm_history(const char *name, int limit, json_t **out, struct buf *err);

#endif
