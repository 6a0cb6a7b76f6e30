/*
 * alarm_state.c - the state every (rule, object) pair of an alarm goes
 * through, and the JSON of the notification a transition sends (see
 * alarm.h).  Time comes in as an argument: the unit tests drive a clock of
 * their own, corrald passes the wall clock (states are stored with their
 * times and survive restarts).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "metrics/alarm.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static const char *const state_names[] = { "ok", "pending", "firing" };

const char *alarm_state_name(enum alarm_state s) { return (unsigned)s < ARRAY_SIZE(state_names) ? state_names[s] : "?"; }

int alarm_state_parse(const char *s, enum alarm_state *out)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(state_names); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*out = (enum alarm_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *alarm_transition_name(enum alarm_transition t)
{
	switch (t) {
	case ALARM_T_NONE: return "none";
	case ALARM_T_PENDING: return "pending";
	case ALARM_T_CANCELED: return "canceled";
	case ALARM_T_FIRING: return "firing";
	case ALARM_T_RESOLVED: return "resolved";
	}
	return "?";
}

static enum alarm_transition to(struct alarm_track *t, enum alarm_state s, int64_t now_ms, enum alarm_transition tr)
{
	t->state = s;
	t->since_ms = now_ms;
	t->clear_since_ms = 0;
	return tr;
}

enum alarm_transition alarm_step(struct alarm_track *t, bool holds, double value, int64_t for_s, int64_t now_ms)
{
	int64_t for_ms = for_s * 1000;
	t->value = value;
	switch (t->state) {
	case ALARM_OK:
		if (!holds)
			return ALARM_T_NONE;
		if (for_ms <= 0)
			return to(t, ALARM_FIRING, now_ms, ALARM_T_FIRING);
		t->cond_since_ms = now_ms;
		return to(t, ALARM_PENDING, now_ms, ALARM_T_PENDING);
	case ALARM_PENDING:
		if (!holds)
			return to(t, ALARM_OK, now_ms, ALARM_T_CANCELED);
		if (now_ms - t->cond_since_ms >= for_ms)
			return to(t, ALARM_FIRING, now_ms, ALARM_T_FIRING);
		return ALARM_T_NONE;
	case ALARM_FIRING:
		if (holds) {
			t->clear_since_ms = 0;
			return ALARM_T_NONE;
		}
		if (!t->clear_since_ms)
			t->clear_since_ms = now_ms;
		if (now_ms - t->clear_since_ms >= for_ms)
			return to(t, ALARM_OK, now_ms, ALARM_T_RESOLVED);
		return ALARM_T_NONE;
	}
	return ALARM_T_NONE;
}

enum alarm_transition alarm_gone(struct alarm_track *t, int64_t now_ms)
{
	t->value = NAN;
	if (t->state == ALARM_FIRING)
		return to(t, ALARM_OK, now_ms, ALARM_T_RESOLVED);
	if (t->state == ALARM_PENDING)
		return to(t, ALARM_OK, now_ms, ALARM_T_CANCELED);
	return ALARM_T_NONE;
}

json_t *alarm_payload(const char *rule, const struct alarm_expr *e, const char *status, const char *obj_kind,
		      const char *obj_name, const char *obj_uuid, double value, const char *host, int64_t now_ms,
		      int64_t since_ms)
{
	char when[40];
	__do_free char *expr = alarm_expr_format(e);
	json_t *obj = json_pack("{s:s,s:s}", "kind", obj_kind, "name", obj_name ? obj_name : "");
	if (obj_uuid)
		json_object_set_new(obj, "uuid", json_string(obj_uuid));
	json_t *p = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:s}", "version", 1, "alarm", rule, "status", status, "expr",
			      expr, "object", obj, "host", host ? host : "", "time",
			      time_fmt_rfc3339(now_ms, when, sizeof(when)));
	if (e->kind == ALARM_THRESHOLD) {
		json_object_set_new(p, "metric", json_string(e->metric->name));
		if (!isnan(value) && isfinite(value))
			json_object_set_new(p, "value", json_real(value));
		json_object_set_new(p, "threshold", json_real(e->threshold));
		json_object_set_new(p, "unit", json_string(e->percent ? "%" : e->metric->unit));
	} else {
		json_object_set_new(p, "event", json_string(alarm_event_name(e->event)));
	}
	if (since_ms > 0)
		json_object_set_new(p, "since", json_string(time_fmt_rfc3339(since_ms, when, sizeof(when))));
	return p;
}

char *alarm_payload_subject(const json_t *p)
{
	const json_t *obj = json_object_get(p, "object");
	const json_t *v = json_object_get(p, "value");
	struct buf b = BUF_INIT;
	buf_printf(&b, "[corral] %s: %s on %s %s", json_string_value(json_object_get(p, "status")),
		   json_string_value(json_object_get(p, "alarm")), json_string_value(json_object_get(obj, "kind")),
		   json_string_value(json_object_get(obj, "name")));
	if (json_is_number(v))
		buf_printf(&b, " (%s %.4g %s)", json_string_value(json_object_get(p, "metric")), json_number_value(v),
			   json_string_value(json_object_get(p, "unit")));
	else if (json_object_get(p, "event"))
		buf_printf(&b, " (%s)", json_string_value(json_object_get(p, "event")));
	/* a subject is one line of printable text, whatever the names hold */
	for (char *c = b.s; c && *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	return buf_detach(&b);
}
