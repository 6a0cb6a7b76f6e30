/*
 * test_alarm.c - alarm rules as users write and rely on them
 * (src/metrics/alarm_expr.c, alarm_state.c): the expressions of
 * docs/alarms.md parse to what they say and print back the same, bad ones
 * are refused with the column that is wrong; the state machine fires only
 * after the condition held for its duration and resolves only after it was
 * false for as long (a clock driven by the test); the webhook JSON.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics/alarm.h"
#include "util/buf.h"
#include "util/common.h"

static void parse_ok(const char *text, const char *canon)
{
	struct alarm_expr e;
	struct buf err = BUF_INIT;
	int r = alarm_expr_parse(text, &e, &err);
	if (r < 0)
		fail_msg("'%s': %s", text, err.s);
	char *f = alarm_expr_format(&e);
	assert_string_equal(f, canon);
	/* the canonical text parses to the same rule */
	struct alarm_expr e2;
	assert_int_equal(alarm_expr_parse(f, &e2, &err), 0);
	assert_int_equal(e2.kind, e.kind);
	assert_true(e2.threshold == e.threshold);
	assert_int_equal(e2.for_s, e.for_s);
	free(f);
	buf_release(&err);
}

static void parse_bad(const char *text, const char *want)
{
	struct alarm_expr e;
	struct buf err = BUF_INIT;
	assert_int_equal(alarm_expr_parse(text, &e, &err), -EINVAL);
	if (!err.s || !strstr(err.s, want))
		fail_msg("'%s': got '%s', want '%s'", text, err.s ? err.s : "", want);
	buf_release(&err);
}

static void test_expr_parse(void **state)
{
	(void)state;
	struct alarm_expr e;
	struct buf err = BUF_INIT;

	assert_int_equal(alarm_expr_parse("cpu > 90% for 5m", &e, &err), 0);
	assert_int_equal(e.kind, ALARM_THRESHOLD);
	assert_int_equal(e.scope, ALARM_SCOPE_VM);
	assert_string_equal(e.metric->name, "cpu");
	assert_int_equal(e.op, ALARM_GT);
	assert_true(e.threshold == 90);
	assert_int_equal(e.for_s, 300);
	assert_false(e.percent);

	assert_int_equal(alarm_expr_parse("memory>1G for 1m", &e, &err), 0);
	assert_true(e.threshold == 1073741824.0);
	assert_int_equal(alarm_expr_parse("disk_write > 50M/s for 30s", &e, &err), 0);
	assert_true(e.threshold == 50.0 * 1048576);
	assert_int_equal(e.for_s, 30);
	assert_int_equal(alarm_expr_parse("pool_used >= 85%", &e, &err), 0);
	assert_int_equal(e.scope, ALARM_SCOPE_POOL);
	assert_true(e.percent);
	assert_int_equal(e.for_s, 0);
	assert_int_equal(alarm_expr_parse("host_load > 4 for 2m", &e, &err), 0);
	assert_int_equal(e.scope, ALARM_SCOPE_HOST);
	assert_int_equal(alarm_expr_parse("  vm   crashed ", &e, &err), 0);
	assert_int_equal(e.kind, ALARM_EVENT);
	assert_int_equal(e.event, ALARM_EV_VM_CRASHED);
	assert_int_equal(alarm_expr_parse("host lost quorum", &e, &err), 0);
	assert_int_equal(e.scope, ALARM_SCOPE_HOST);
	buf_release(&err);

	parse_ok("cpu > 90% for 5m", "cpu > 90% for 5m");
	parse_ok("cpu>90 for 300s", "cpu > 90% for 5m");
	parse_ok("memory > 1024M for 90s", "memory > 1G for 90s");
	parse_ok("disk_write > 50MiB/s for 30s", "disk_write > 50M/s for 30s");
	parse_ok("net_receive <= 1.5K", "net_receive <= 1536/s");
	parse_ok("pool_used > 85%", "pool_used > 85%");
	parse_ok("pool_used > 100G for 1h", "pool_used > 100G for 1h");
	parse_ok("host_cpu < 5% for 2h", "host_cpu < 5% for 2h");
	parse_ok("backup failed", "backup failed");
	parse_ok("ha restarted", "ha restarted");
	parse_ok("cpu > 902222222", "cpu > 902222222%");
	parse_ok("host_load >= 0.3333333 for 10s", "host_load >= 0.333333 for 10s");
	parse_ok("disk_read > 1.5M/s", "disk_read > 1536K/s");
}

static void test_expr_refused(void **state)
{
	(void)state;
	parse_bad("", "1 to 256 characters");
	parse_bad("cpux > 90%", "column 1: unknown metric 'cpux'");
	parse_bad("cpu >> 90%", "column 6: expected a number");
	parse_bad("cpu = 90", "column 5: unexpected character '='");
	parse_bad("cpu 90", "column 5: expected >, >=, < or <=");
	parse_bad("cpu > 90% for", "column 14: expected a duration");
	parse_bad("cpu > 90% for 5x", "column 15: bad duration");
	parse_bad("cpu > 90% for 1.5m", "bad duration");
	parse_bad("cpu > 90% for 25h", "at most 24h");
	parse_bad("cpu > 90% during 5m", "column 11: expected 'for DURATION'");
	parse_bad("memory > 1X", "column 11: unknown unit 'X' for memory");
	parse_bad("memory > 1G/s", "unknown unit 'G/s'");
	parse_bad("memory > 50%", "memory takes no percentage");
	parse_bad("host_load > 4%", "host_load takes no percentage");
	parse_bad("cpu > 90M", "cpu takes a plain number or a percentage");
	parse_bad("pool_used > 150%", "at most 100");
	parse_bad("vm exploded", "column 4: expected 'crashed'");
	parse_bad("vm crashed now", "column 12: unexpected text");
	parse_bad("cpu > 9999999999999999999999", "too large");
	parse_bad("cpu > 1e5", "column 8: cpu takes a plain number");
	parse_bad("cpu > 90%; rm -rf /", "column 10: unexpected character ';'");
	parse_bad("cpu > \x01", "unexpected character 0x01");
	parse_bad("cpu > .", "malformed");
	char big[400];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	parse_bad(big, "1 to 256 characters");
}

/* ---- the state machine, with the test's clock ---- */

static void test_state_durations(void **state)
{
	(void)state;
	struct alarm_track t = { 0 };
	int64_t now = 1000000;

	/* for 3s: true at 0, 1, 2 s -> pending; at 3 s -> firing */
	assert_int_equal(alarm_step(&t, true, 95, 3, now), ALARM_T_PENDING);
	assert_int_equal(t.state, ALARM_PENDING);
	assert_int_equal(alarm_step(&t, true, 96, 3, now + 1000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 97, 3, now + 2999), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 98, 3, now + 3000), ALARM_T_FIRING);
	assert_int_equal(t.state, ALARM_FIRING);
	assert_int_equal(t.since_ms, now + 3000);
	assert_true(t.value == 98);
	/* a dip shorter than the duration does not resolve, and nothing is notified again */
	assert_int_equal(alarm_step(&t, false, 10, 3, now + 4000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, false, 10, 3, now + 5000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 99, 3, now + 6000), ALARM_T_NONE);
	assert_int_equal(t.state, ALARM_FIRING);
	assert_int_equal(t.clear_since_ms, 0);
	/* false for the whole duration: resolved */
	assert_int_equal(alarm_step(&t, false, 5, 3, now + 7000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, false, 5, 3, now + 9000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, false, 5, 3, now + 10000), ALARM_T_RESOLVED);
	assert_int_equal(t.state, ALARM_OK);
	assert_int_equal(alarm_step(&t, false, 5, 3, now + 11000), ALARM_T_NONE);

	/* pending that ends early goes back to ok without firing */
	assert_int_equal(alarm_step(&t, true, 95, 3, now + 20000), ALARM_T_PENDING);
	assert_int_equal(alarm_step(&t, false, 5, 3, now + 21000), ALARM_T_CANCELED);
	assert_int_equal(t.state, ALARM_OK);
	assert_int_equal(alarm_step(&t, true, 95, 3, now + 22000), ALARM_T_PENDING);
	assert_int_equal(alarm_step(&t, true, 95, 3, now + 24000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 95, 3, now + 25000), ALARM_T_FIRING);
}

static void test_state_zero_and_gone(void **state)
{
	(void)state;
	struct alarm_track t = { 0 };
	/* no duration: the first sample fires, the first sample below resolves */
	assert_int_equal(alarm_step(&t, false, 1, 0, 1000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 90, 0, 2000), ALARM_T_FIRING);
	assert_int_equal(alarm_step(&t, true, 91, 0, 3000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, false, 1, 0, 4000), ALARM_T_RESOLVED);
	/* the object goes away: firing resolves, pending is canceled, ok stays */
	assert_int_equal(alarm_step(&t, true, 90, 0, 5000), ALARM_T_FIRING);
	assert_int_equal(alarm_gone(&t, 6000), ALARM_T_RESOLVED);
	assert_true(isnan(t.value));
	assert_int_equal(alarm_gone(&t, 7000), ALARM_T_NONE);
	assert_int_equal(alarm_step(&t, true, 90, 10, 8000), ALARM_T_PENDING);
	assert_int_equal(alarm_gone(&t, 9000), ALARM_T_CANCELED);
	/* a restored firing state (corrald restarted) stays firing without a new notification */
	struct alarm_track r = { .state = ALARM_FIRING, .since_ms = 100 };
	assert_int_equal(alarm_step(&r, true, 90, 5, 200000), ALARM_T_NONE);
	enum alarm_state s;
	assert_int_equal(alarm_state_parse("firing", &s), 0);
	assert_int_equal(s, ALARM_FIRING);
	assert_int_equal(alarm_state_parse("bogus", &s), -EINVAL);
}

static void test_payload(void **state)
{
	(void)state;
	struct alarm_expr e;
	struct buf err = BUF_INIT;
	assert_int_equal(alarm_expr_parse("cpu > 50% for 3s", &e, &err), 0);
	json_t *p = alarm_payload("busy", &e, "firing", "vm", "web\"1\n", "0b6c0000-0000-4000-8000-000000000001",
				  72.5, "h1", 1700000000000LL, 1699999990000LL);
	assert_int_equal(json_integer_value(json_object_get(p, "version")), 1);
	assert_string_equal(json_string_value(json_object_get(p, "alarm")), "busy");
	assert_string_equal(json_string_value(json_object_get(p, "status")), "firing");
	assert_string_equal(json_string_value(json_object_get(p, "expr")), "cpu > 50% for 3s");
	assert_string_equal(json_string_value(json_object_get(p, "metric")), "cpu");
	assert_true(json_real_value(json_object_get(p, "value")) == 72.5);
	assert_true(json_real_value(json_object_get(p, "threshold")) == 50);
	assert_string_equal(json_string_value(json_object_get(p, "unit")), "%");
	assert_string_equal(json_string_value(json_object_get(p, "host")), "h1");
	assert_string_equal(json_string_value(json_object_get(p, "time")), "2023-11-14T22:13:20.000Z");
	assert_string_equal(json_string_value(json_object_get(p, "since")), "2023-11-14T22:13:10.000Z");
	json_t *o = json_object_get(p, "object");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "vm");
	assert_string_equal(json_string_value(json_object_get(o, "name")), "web\"1\n");
	assert_string_equal(json_string_value(json_object_get(o, "uuid")), "0b6c0000-0000-4000-8000-000000000001");
	char *subj = alarm_payload_subject(p);
	assert_string_equal(subj, "[corral] firing: busy on vm web\"1  (cpu 72.5 %)");
	assert_null(strchr(subj, '\n'));
	free(subj);
	json_decref(p);

	/* an event rule: no value, the event named; a resolution without a value leaves it out */
	assert_int_equal(alarm_expr_parse("vm crashed", &e, &err), 0);
	p = alarm_payload("crash", &e, "firing", "vm", "m1", NULL, NAN, "h1", 1700000000000LL, 0);
	assert_null(json_object_get(p, "value"));
	assert_null(json_object_get(p, "since"));
	assert_string_equal(json_string_value(json_object_get(p, "event")), "vm crashed");
	json_decref(p);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expr_parse),        cmocka_unit_test(test_expr_refused),
		cmocka_unit_test(test_state_durations),   cmocka_unit_test(test_state_zero_and_gone),
		cmocka_unit_test(test_payload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
