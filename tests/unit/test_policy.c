/*
 * test_policy.c - backup policies as administrators rely on them: the JSON
 * and VmBackup-style readers (including hostile input), VM selection with
 * globs, tags, excludes and ":N" overrides, PBS-style retention over a
 * simulated 400 days of backups, and calendar events across month, year
 * and leap-year boundaries.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "backup/calendar.h"
#include "backup/policy.h"
#include "backup/retention.h"
#include "util/buf.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* Unix seconds of a UTC date and time. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s };
	return (int64_t)timegm(&tm);
}

static const char *fmt_utc(int64_t t, char *b, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(b, len, "%Y-%m-%d %H:%M:%S", &tm);
	return b;
}

/* ---- calendar ---- */

static int64_t next_of(const char *expr, int64_t after)
{
	struct calendar c;
	struct buf err = BUF_INIT;
	int64_t n = -1;
	if (calendar_parse(expr, &c, &err) < 0)
		fail_msg("calendar_parse(\"%s\") failed: %s", expr, err.s);
	if (calendar_next(&c, after, &n, &err) < 0)
		fail_msg("calendar_next(\"%s\") failed: %s", expr, err.s);
	buf_release(&err);
	return n;
}

static void assert_next(const char *expr, int64_t after, int64_t want)
{
	int64_t got = next_of(expr, after);
	char a[32], b[32], c[32];
	if (got != want)
		fail_msg("\"%s\" after %s: got %s, want %s", expr, fmt_utc(after, a, sizeof(a)), fmt_utc(got, b, sizeof(b)),
			 fmt_utc(want, c, sizeof(c)));
}

static void test_calendar_next(void **state)
{
	(void)state;
	/* 2026-11-22 is a Sunday */
	assert_next("daily 02:00", utc(2026, 11, 22, 3, 0, 0), utc(2026, 11, 23, 2, 0, 0));
	assert_next("daily 02:00", utc(2026, 11, 23, 2, 0, 0), utc(2026, 11, 24, 2, 0, 0)); /* strictly after */
	assert_next("daily 02:00", utc(2026, 11, 23, 1, 59, 59), utc(2026, 11, 23, 2, 0, 0));
	assert_next("daily", utc(2026, 12, 31, 23, 59, 59), utc(2027, 1, 1, 0, 0, 0));
	assert_next("hourly", utc(2026, 12, 31, 23, 0, 0), utc(2027, 1, 1, 0, 0, 0));
	assert_next("minutely", utc(2026, 11, 22, 10, 0, 30), utc(2026, 11, 22, 10, 1, 0));
	assert_next("weekly", utc(2026, 11, 22, 12, 0, 0), utc(2026, 11, 23, 0, 0, 0));
	assert_next("monthly", utc(2026, 12, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0));
	assert_next("yearly", utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0));
	assert_next("weekly 04:15", utc(2026, 11, 23, 4, 15, 0), utc(2026, 11, 30, 4, 15, 0));
	assert_next("Mon..Fri 02:30", utc(2026, 11, 20, 3, 0, 0), utc(2026, 11, 23, 2, 30, 0));
	assert_next("Mon..Fri 02:30", utc(2026, 11, 23, 2, 29, 0), utc(2026, 11, 23, 2, 30, 0));
	assert_next("Sat,Sun 03:00", utc(2026, 11, 22, 3, 0, 0), utc(2026, 11, 28, 3, 0, 0));
	assert_next("sunday 03:00", utc(2026, 11, 21, 3, 0, 0), utc(2026, 11, 22, 3, 0, 0));
	assert_next("*-*-01 04:00", utc(2026, 11, 22, 0, 0, 0), utc(2026, 12, 1, 4, 0, 0));
	assert_next("*-*-01 04:00", utc(2026, 12, 15, 0, 0, 0), utc(2027, 1, 1, 4, 0, 0));
	assert_next("*-*-31 00:00", utc(2027, 1, 31, 0, 0, 0), utc(2027, 3, 31, 0, 0, 0)); /* skips February */
	assert_next("*:0/15", utc(2026, 11, 22, 10, 14, 59), utc(2026, 11, 22, 10, 15, 0));
	assert_next("*:0/15", utc(2026, 11, 22, 23, 45, 0), utc(2026, 11, 23, 0, 0, 0));
	assert_next("0/6:00", utc(2026, 11, 22, 13, 0, 0), utc(2026, 11, 22, 18, 0, 0));
	assert_next("12:00:30", utc(2026, 11, 22, 12, 0, 30), utc(2026, 11, 23, 12, 0, 30));
	assert_next("8..10,20:05", utc(2026, 11, 22, 10, 5, 0), utc(2026, 11, 22, 20, 5, 0));
	assert_next("2027-06-15 06:00", utc(2026, 11, 22, 0, 0, 0), utc(2027, 6, 15, 6, 0, 0));
	assert_next("2026..2030-1,7-1 00:00", utc(2027, 2, 1, 0, 0, 0), utc(2027, 7, 1, 0, 0, 0));
	/* leap years: 2028 is one, 2100 is not (and lies beyond the 5-year search from 2096) */
	assert_next("*-02-29 00:00", utc(2026, 3, 1, 0, 0, 0), utc(2028, 2, 29, 0, 0, 0));
	assert_next("*-02-29 00:00", utc(2028, 2, 28, 12, 0, 0), utc(2028, 2, 29, 0, 0, 0));
}

static void test_calendar_never(void **state)
{
	(void)state;
	const char *never[] = { "*-02-30", "*-04-31 00:00", "2020-01-01", "Mon 2026-11-24" /* a Tuesday */ };
	for (size_t i = 0; i < ARRAY_SIZE(never); i++) {
		struct calendar c;
		struct buf err = BUF_INIT;
		int64_t n = 0;
		assert_int_equal(calendar_parse(never[i], &c, &err), 0);
		assert_int_equal(calendar_next(&c, utc(2026, 11, 22, 0, 0, 0), &n, &err), -ENOENT);
		assert_contains(err.s, "never occurs");
		buf_release(&err);
	}
	/* 2100 is not a leap year: from 2096-03-01 the next Feb 29 (2104) is beyond the search */
	struct calendar c;
	struct buf err = BUF_INIT;
	int64_t n = 0;
	assert_int_equal(calendar_parse("*-02-29", &c, &err), 0);
	assert_int_equal(calendar_next(&c, utc(2096, 3, 1, 0, 0, 0), &n, &err), -ENOENT);
	buf_reset(&err);
	assert_int_equal(calendar_next(&c, -5, &n, &err), -ERANGE);
	buf_release(&err);
}

static void test_calendar_errors(void **state)
{
	(void)state;
	static const struct {
		const char *expr, *msg;
	} cases[] = {
		{ "", "empty" },
		{ "   ", "empty" },
		{ "Mon..Fri 25:00", "hour '25'" },
		{ "*:61", "minute '61'" },
		{ "12:00:60", "second '60'" },
		{ "Funday 02:00", "weekday 'Funday'" },
		{ "Fri..Mon", "ends before it starts" },
		{ "1-2-3-4", "date '1-2-3-4'" },
		{ "*-13-01", "month '13'" },
		{ "*-*-00", "day '00'" },
		{ "1969-01-01", "year '1969'" },
		{ "02:00 Mon", "not in place" },
		{ "02:00 *-*-01", "not in place" },
		{ "daily daily", "not a time" },
		{ "hourly 02:00", "only daily, weekly" },
		{ "*/0:00", "step" },
		{ "1..:00", "range without an end" },
		{ "5..3:00", "ends before it starts" },
		{ "1,,2:00", "empty list item" },
		{ "12:00:00:00", "HH:MM" },
		{ "a:b", "weekday" },
		{ "99999:00", "hour" },
		{ "Mon Tue Wed Thu", "more than three parts" },
		{ "12:00\n", "printable" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct calendar c;
		struct buf err = BUF_INIT;
		if (calendar_parse(cases[i].expr, &c, &err) != -EINVAL)
			fail_msg("calendar_parse(\"%s\") accepted it", cases[i].expr);
		assert_contains(err.s, cases[i].msg);
		buf_release(&err);
	}
	char longexpr[CALENDAR_MAX_LEN + 10];
	memset(longexpr, '1', sizeof(longexpr) - 1);
	longexpr[sizeof(longexpr) - 1] = '\0';
	struct calendar c;
	struct buf err = BUF_INIT;
	assert_int_equal(calendar_parse(longexpr, &c, &err), -EINVAL);
	buf_release(&err);
}

/* calendar_next agrees with a minute-by-minute scan (all these fire at :00 seconds). */
static void test_calendar_brute_force(void **state)
{
	(void)state;
	const char *exprs[] = { "Mon..Fri 02:30", "Sat,Sun 03:00", "*:0/15", "*-*-01 04:00", "Tue,Thu *-*-1..7 12:00",
				"hourly", "*-2-28,29 23:59", "Wed..Fri 0/5:10,40" };
	for (size_t e = 0; e < ARRAY_SIZE(exprs); e++) {
		struct calendar c;
		struct buf err = BUF_INIT;
		assert_int_equal(calendar_parse(exprs[e], &c, &err), 0);
		for (int64_t start = utc(2027, 12, 20, 7, 3, 11); start < utc(2028, 3, 10, 0, 0, 0); start += 86400 * 9 + 3607) {
			int64_t n, want = -1;
			assert_int_equal(calendar_next(&c, start, &n, &err), 0);
			for (int64_t m = start - start % 60 + 60; m <= n; m += 60)
				if (calendar_matches(&c, m)) {
					want = m;
					break;
				}
			if (want != n)
				fail_msg("\"%s\" after %lld: next %lld, scan %lld", exprs[e], (long long)start, (long long)n,
					 (long long)want);
		}
		buf_release(&err);
	}
}

/* ---- retention ---- */

struct sim {
	struct retention_item *items;
	char (*ids)[32];
	size_t n;
};

static void sim_add(struct sim *s, int64_t t, bool complete)
{
	s->items = xrealloc(s->items, (s->n + 1) * sizeof(*s->items));
	s->ids = xrealloc(s->ids, (s->n + 1) * sizeof(*s->ids));
	fmt_utc(t, s->ids[s->n], sizeof(s->ids[s->n]));
	for (size_t i = 0; i < s->n; i++)
		s->items[i].id = s->ids[i];
	s->items[s->n] = (struct retention_item){ .id = s->ids[s->n], .time = t, .complete = complete };
	s->n++;
}

/* Apply and drop the removed backups; returns how many were removed. */
static size_t sim_prune(struct sim *s, const struct keep_opts *k)
{
	struct buf err = BUF_INIT;
	size_t w = 0, removed = 0;
	assert_int_equal(retention_apply(s->items, s->n, k, 0, &err), 0);
	buf_release(&err);
	for (size_t i = 0; i < s->n; i++) {
		if (!s->items[i].keep) {
			removed++;
			continue;
		}
		s->items[w] = s->items[i];
		memmove(s->ids[w], s->ids[i], sizeof(s->ids[w]));
		s->items[w].id = s->ids[w];
		w++;
	}
	s->n = w;
	return removed;
}

static void sim_free(struct sim *s)
{
	free(s->items);
	free(s->ids);
}

static const struct retention_item *sim_find(const struct sim *s, const char *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->items[i].id, id) == 0)
			return &s->items[i];
	return NULL;
}

static void test_retention_400_days(void **state)
{
	(void)state;
	struct sim s = { 0 };
	const struct keep_opts k = { .last = 3, .daily = 7, .weekly = 4, .monthly = 6, .yearly = 1 };
	/* every 6 hours from 2025-01-01 00:00 for 400 days: the newest is 2026-02-04 18:00 (a Wednesday) */
	for (int i = 0; i < 400 * 4; i++)
		sim_add(&s, utc(2025, 1, 1, 0, 0, 0) + (int64_t)i * 6 * 3600, true);

	static const struct {
		const char *id, *reason;
	} want[] = {
		{ "2026-02-04 18:00:00", "keep-last 1" },	  { "2026-02-04 12:00:00", "keep-last 2" },
		{ "2026-02-04 06:00:00", "keep-last 3" },	  { "2026-02-03 18:00:00", "keep-daily 2026-02-03" },
		{ "2026-02-02 18:00:00", "keep-daily 2026-02-02" }, { "2026-02-01 18:00:00", "keep-daily 2026-02-01" },
		{ "2026-01-31 18:00:00", "keep-daily 2026-01-31" }, { "2026-01-30 18:00:00", "keep-daily 2026-01-30" },
		{ "2026-01-29 18:00:00", "keep-daily 2026-01-29" }, { "2026-01-28 18:00:00", "keep-daily 2026-01-28" },
		/* ISO weeks 2026-W06 and W05 already hold kept backups, so weekly starts at W04 */
		{ "2026-01-25 18:00:00", "keep-weekly 2026-W04" },  { "2026-01-18 18:00:00", "keep-weekly 2026-W03" },
		{ "2026-01-11 18:00:00", "keep-weekly 2026-W02" },  { "2026-01-04 18:00:00", "keep-weekly 2026-W01" },
		/* 2026-W01 began on 2025-12-29, whose backups weekly removed: December keeps the 28th */
		{ "2025-12-28 18:00:00", "keep-monthly 2025-12" },  { "2025-11-30 18:00:00", "keep-monthly 2025-11" },
		{ "2025-10-31 18:00:00", "keep-monthly 2025-10" },  { "2025-09-30 18:00:00", "keep-monthly 2025-09" },
		{ "2025-08-31 18:00:00", "keep-monthly 2025-08" },  { "2025-07-31 18:00:00", "keep-monthly 2025-07" },
		/* yearly 1 adds nothing: 2026 and 2025 both hold kept backups already */
	};
	struct buf err = BUF_INIT;
	assert_int_equal(retention_apply(s.items, s.n, &k, 0, &err), 0);
	size_t kept = 0;
	for (size_t i = 0; i < s.n; i++)
		kept += s.items[i].keep;
	assert_int_equal(kept, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct retention_item *it = sim_find(&s, want[i].id);
		assert_non_null(it);
		if (!it->keep || strcmp(it->reason, want[i].reason) != 0)
			fail_msg("%s: keep=%d reason \"%s\", want \"%s\"", want[i].id, it->keep, it->reason, want[i].reason);
	}
	assert_string_equal(sim_find(&s, "2026-02-04 00:00:00")->reason, "removed: not selected by any keep rule");
	assert_string_equal(sim_find(&s, "2026-02-03 12:00:00")->reason, "removed: older than kept 2026-02-03 (keep-daily)");
	assert_string_equal(sim_find(&s, "2025-01-01 00:00:00")->reason, "removed: not selected by any keep rule");

	/* pruning the survivors again removes nothing */
	assert_int_equal(sim_prune(&s, &k), 1600 - ARRAY_SIZE(want));
	assert_int_equal(sim_prune(&s, &k), 0);
	assert_int_equal(s.n, ARRAY_SIZE(want));

	/* 90 more days of backups, pruned after each: the newest always survives, the count stays bounded */
	for (int day = 0; day < 90; day++) {
		int64_t t = 0;
		for (int q = 0; q < 4; q++) {
			t = utc(2026, 2, 5, 0, 0, 0) + (int64_t)day * 86400 + q * 6 * 3600;
			sim_add(&s, t, true);
		}
		sim_prune(&s, &k);
		char id[32];
		const struct retention_item *newest = sim_find(&s, fmt_utc(t, id, sizeof(id)));
		assert_non_null(newest);
		assert_string_equal(newest->reason, "keep-last 1");
		assert_true(s.n <= 3 + 7 + 4 + 6 + 1);
		assert_int_equal(sim_prune(&s, &k), 0);
	}
	buf_release(&err);
	sim_free(&s);
}

static void test_retention_rules(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;

	/* all zero: nothing is removed, incomplete ones included */
	struct sim s = { 0 };
	for (int i = 0; i < 5; i++)
		sim_add(&s, utc(2026, 11, 1 + i, 2, 0, 0), i != 2);
	struct keep_opts none = { 0 };
	assert_false(keep_opts_any(&none));
	assert_int_equal(sim_prune(&s, &none), 0);
	assert_string_equal(s.items[0].reason, "keep: no keep rule is set");
	sim_free(&s);

	/* incomplete: kept only when newer than every complete backup, never counted */
	s = (struct sim){ 0 };
	sim_add(&s, utc(2026, 11, 20, 2, 0, 0), true);
	sim_add(&s, utc(2026, 11, 21, 2, 0, 0), false);
	sim_add(&s, utc(2026, 11, 22, 2, 0, 0), true);
	sim_add(&s, utc(2026, 11, 23, 2, 0, 0), false);
	struct keep_opts last2 = { .last = 2 };
	assert_int_equal(retention_apply(s.items, s.n, &last2, 0, &err), 0);
	assert_true(s.items[0].keep);
	assert_string_equal(s.items[0].reason, "keep-last 2");
	assert_false(s.items[1].keep);
	assert_string_equal(s.items[1].reason, "removed: incomplete");
	assert_string_equal(s.items[2].reason, "keep-last 1");
	assert_true(s.items[3].keep);
	assert_string_equal(s.items[3].reason, "keep: incomplete, newer than every complete backup");
	sim_free(&s);

	/* hourly; a period holding a backup kept by keep-last is skipped and not counted */
	s = (struct sim){ 0 };
	for (int m = 0; m < 180; m += 20)
		sim_add(&s, utc(2026, 11, 22, 10, 0, 0) + m * 60, true); /* 10:00 .. 12:40 */
	struct keep_opts kh = { .last = 1, .hourly = 2 };
	assert_int_equal(retention_apply(s.items, s.n, &kh, 0, &err), 0);
	assert_string_equal(s.items[8].reason, "keep-last 1");			  /* 12:40 */
	assert_string_equal(s.items[7].reason, "removed: not selected by any keep rule"); /* 12:20 */
	assert_string_equal(s.items[5].reason, "keep-hourly 2026-11-22T11");	  /* 11:40 */
	assert_string_equal(s.items[4].reason, "removed: older than kept 2026-11-22T11 (keep-hourly)");
	assert_string_equal(s.items[2].reason, "keep-hourly 2026-11-22T10");	  /* 10:40 */
	assert_false(s.items[0].keep);

	/* order of input does not matter; equal times are broken by id */
	struct retention_item tie[3] = {
		{ .id = "a", .time = 100, .complete = true },
		{ .id = "c", .time = 100, .complete = true },
		{ .id = "b", .time = 50, .complete = true },
	};
	assert_int_equal(retention_apply(tie, 3, &(struct keep_opts){ .last = 1 }, 0, &err), 0);
	assert_true(tie[1].keep);
	assert_false(tie[0].keep);
	assert_false(tie[2].keep);

	/* day boundaries follow the offset */
	struct retention_item late[2] = {
		{ .id = "x", .time = utc(2026, 11, 21, 23, 30, 0), .complete = true },
		{ .id = "y", .time = utc(2026, 11, 22, 0, 30, 0), .complete = true },
	};
	struct keep_opts d2 = { .daily = 2 };
	assert_int_equal(retention_apply(late, 2, &d2, 0, &err), 0);
	assert_true(late[0].keep && late[1].keep);
	assert_int_equal(retention_apply(late, 2, &d2, 3600, &err), 0);
	assert_false(late[0].keep);
	assert_string_equal(late[1].reason, "keep-daily 2026-11-22");

	/* bad options */
	assert_int_equal(retention_apply(late, 2, &(struct keep_opts){ .weekly = -1 }, 0, &err), -EINVAL);
	assert_contains(err.s, "keep-weekly");
	assert_int_equal(retention_apply(late, 2, &d2, 15 * 3600, &err), -EINVAL);
	assert_int_equal(retention_apply(NULL, 0, &d2, 0, &err), 0);

	struct buf d = BUF_INIT;
	keep_opts_describe(&(struct keep_opts){ .last = 4, .daily = 7 }, &d);
	assert_string_equal(d.s, "last 4, daily 7");
	buf_release(&d);
	buf_release(&err);
	sim_free(&s);
}

/* The worked example of docs/backup-policies.md, line by line. */
static void test_retention_docs_example(void **state)
{
	(void)state;
	struct sim s = { 0 };
	const struct keep_opts k = { .last = 2, .daily = 3, .weekly = 2, .monthly = 2 };
	for (int d = 0; d < 53; d++) /* 2026-10-01 .. 2026-11-22, the last one failed */
		sim_add(&s, utc(2026, 10, 1, 2, 0, 0) + (int64_t)d * 86400, d != 52);
	struct buf err = BUF_INIT;
	assert_int_equal(retention_apply(s.items, s.n, &k, 0, &err), 0);
	static const struct {
		const char *id, *reason;
	} want[] = {
		{ "2026-11-22 02:00:00", "keep: incomplete, newer than every complete backup" },
		{ "2026-11-21 02:00:00", "keep-last 1" },
		{ "2026-11-20 02:00:00", "keep-last 2" },
		{ "2026-11-19 02:00:00", "keep-daily 2026-11-19" },
		{ "2026-11-17 02:00:00", "keep-daily 2026-11-17" },
		{ "2026-11-16 02:00:00", "removed: not selected by any keep rule" },
		{ "2026-11-15 02:00:00", "keep-weekly 2026-W46" },
		{ "2026-11-09 02:00:00", "removed: older than kept 2026-W46 (keep-weekly)" },
		{ "2026-11-08 02:00:00", "keep-weekly 2026-W45" },
		{ "2026-11-02 02:00:00", "removed: older than kept 2026-W45 (keep-weekly)" },
		{ "2026-11-01 02:00:00", "removed: not selected by any keep rule" },
		{ "2026-10-31 02:00:00", "keep-monthly 2026-10" },
		{ "2026-10-01 02:00:00", "removed: older than kept 2026-10 (keep-monthly)" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		const struct retention_item *it = sim_find(&s, want[i].id);
		assert_non_null(it);
		if (strcmp(it->reason, want[i].reason) != 0 || it->keep != (strncmp(want[i].reason, "keep", 4) == 0))
			fail_msg("%s: keep=%d \"%s\", want \"%s\"", want[i].id, it->keep, it->reason, want[i].reason);
	}
	size_t kept = 0;
	for (size_t i = 0; i < s.n; i++)
		kept += s.items[i].keep;
	assert_int_equal(kept, 9);
	buf_release(&err);
	sim_free(&s);
}

/* ---- policy ---- */

static const char full_json[] =
	"{\"name\": \"nightly\", \"select\": [\"PROD*\", \"DEV-RH*:3\", \"tag:db\", \"web1\"],"
	" \"exclude\": [\"*-test\", \"tag:nobackup\"], \"repo\": \"/srv/backup/main\","
	" \"keep\": {\"last\": 4, \"hourly\": 0, \"daily\": 7, \"weekly\": 4, \"monthly\": 6, \"yearly\": 0},"
	" \"schedule\": \"daily 02:00\", \"os_disk_only\": false, \"compression\": 3, \"enabled\": true}";

static int parse_json_policy(const char *text, struct policy *p, struct buf *err)
{
	struct buf jerr = BUF_INIT;
	json_t *j = json_loads(text, 0, NULL);
	if (!j)
		fail_msg("test JSON does not parse: %s", text);
	int r = policy_from_json(j, p, err);
	json_decref(j);
	buf_release(&jerr);
	return r;
}

static void test_policy_json(void **state)
{
	(void)state;
	struct policy p, q;
	struct buf err = BUF_INIT;

	assert_int_equal(parse_json_policy(full_json, &p, &err), 0);
	assert_string_equal(p.name, "nightly");
	assert_int_equal(p.nselect, 4);
	assert_string_equal(p.select[1].match, "DEV-RH*");
	assert_int_equal(p.select[1].keep_last, 3);
	assert_true(p.select[2].is_tag);
	assert_string_equal(p.select[2].match, "db");
	assert_int_equal(p.select[2].keep_last, 0);
	assert_int_equal(p.nexclude, 2);
	assert_int_equal(p.keep.daily, 7);
	assert_int_equal(p.keep.monthly, 6);
	assert_string_equal(p.schedule, "daily 02:00");

	/* round trip through policy_to_json */
	json_t *j = policy_to_json(&p);
	assert_int_equal(policy_from_json(j, &q, &err), 0);
	json_t *j2 = policy_to_json(&q);
	assert_true(json_equal(j, j2));
	json_t *orig = json_loads(full_json, 0, NULL);
	assert_true(json_equal(orig, j));
	json_decref(orig);
	json_decref(j);
	json_decref(j2);
	policy_release(&q);
	policy_release(&p);
	policy_release(&p); /* idempotent */

	/* defaults */
	assert_int_equal(parse_json_policy("{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"main\",\"schedule\":null}", &p, &err), 0);
	assert_int_equal(p.keep.last, 4);
	assert_int_equal(p.keep.daily, 0);
	assert_int_equal(p.compression, 3);
	assert_true(p.enabled);
	assert_false(p.os_disk_only);
	assert_null(p.schedule);
	assert_int_equal(p.nexclude, 0);
	policy_release(&p);

	/* no repo: the host's default repository, and it stays absent in JSON */
	assert_int_equal(parse_json_policy("{\"name\":\"a\",\"select\":[\"*\"]}", &p, &err), 0);
	assert_null(p.repo);
	{
		__do_json json_t *back = policy_to_json(&p);
		assert_null(json_object_get(back, "repo"));
	}
	policy_release(&p);

	/* an explicit keep object replaces the default entirely */
	assert_int_equal(parse_json_policy("{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"main\",\"keep\":{\"daily\":3}}", &p, &err), 0);
	assert_int_equal(p.keep.last, 0);
	assert_int_equal(p.keep.daily, 3);
	policy_release(&p);
	assert_int_equal(err.len, 0);
	buf_release(&err);
}

static void test_policy_json_hostile(void **state)
{
	(void)state;
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"color\":1}", "unknown field 'color'" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"keep\":{\"dayly\":1}}", "unknown field 'dayly' in field 'keep'" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"keep\":{\"daily\":-1}}", "keep.daily" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"keep\":{\"last\":10001}}", "keep.last" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"keep\":{\"last\":\"4\"}}", "keep.last" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"keep\":[]}", "field 'keep' must be a JSON object" },
		{ "{\"name\":\"../x\",\"select\":[\"*\"],\"repo\":\"r\"}", "policy name" },
		{ "{\"name\":\"a\\u0001b\",\"select\":[\"*\"],\"repo\":\"r\"}", "policy name" },
		{ "{\"name\":7,\"select\":[\"*\"],\"repo\":\"r\"}", "field 'name' must be a string" },
		{ "{\"name\":\"a\",\"select\":[\"PR\\u001bOD*\"],\"repo\":\"r\"}", "select[0]" },
		{ "{\"name\":\"a\",\"select\":[\"*\", 3],\"repo\":\"r\"}", "select[1]" },
		{ "{\"name\":\"a\",\"select\":\"*\",\"repo\":\"r\"}", "field 'select' must be a list" },
		{ "{\"name\":\"a\",\"select\":[],\"repo\":\"r\"}", "selects no VMs" },
		{ "{\"name\":\"a\",\"repo\":\"r\"}", "selects no VMs" },
		{ "{\"select\":[\"*\"],\"repo\":\"r\"}", "has no name" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"../r\"}", "repo '../r'" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"\"}", "repo must be" },
		{ "{\"name\":\"a\",\"select\":[\"a/b\"],\"repo\":\"r\"}", "not a VM name pattern" },
		{ "{\"name\":\"a\",\"select\":[\"DEV*:0\"],\"repo\":\"r\"}", "backup count" },
		{ "{\"name\":\"a\",\"select\":[\"DEV*:10001\"],\"repo\":\"r\"}", "backup count" },
		{ "{\"name\":\"a\",\"select\":[\"DEV*:99999999999\"],\"repo\":\"r\"}", "backup count" },
		{ "{\"name\":\"a\",\"select\":[\"tag:\"],\"repo\":\"r\"}", "tag in 'tag:'" },
		{ "{\"name\":\"a\",\"select\":[\"\"],\"repo\":\"r\"}", "select[0]" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"exclude\":[\"x*:2\"],\"repo\":\"r\"}", "exclude[0]" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"compression\":20}", "compression" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"compression\":0}", "compression" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"enabled\":\"yes\"}", "enabled" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"os_disk_only\":1}", "os_disk_only" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"schedule\":\"Mon 25:00\"}", "schedule: calendar event: hour '25'" },
		{ "{\"name\":\"a\",\"select\":[\"*\"],\"repo\":\"r\",\"schedule\":5}", "schedule" },
		{ "[1,2]", "must be a JSON object" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct policy p;
		struct buf err = BUF_INIT;
		memset(&p, 0x5a, sizeof(p));
		if (parse_json_policy(cases[i].json, &p, &err) != -EINVAL)
			fail_msg("accepted: %s", cases[i].json);
		assert_contains(err.s, "invalid backup policy");
		assert_contains(err.s, cases[i].msg);
		assert_null(p.name);
		assert_null(p.select);
		buf_release(&err);
	}

	/* a huge select list */
	json_t *j = json_pack("{s:s, s:s}", "name", "big", "repo", "r"), *arr = json_array();
	for (int i = 0; i < POLICY_MAX_PATTERNS + 1; i++)
		json_array_append_new(arr, json_string("vm*"));
	json_object_set_new(j, "select", arr);
	struct policy p;
	struct buf err = BUF_INIT;
	assert_int_equal(policy_from_json(j, &p, &err), -EINVAL);
	assert_contains(err.s, "at most 256");
	json_array_remove(arr, 0);
	buf_reset(&err);
	assert_int_equal(policy_from_json(j, &p, &err), 0);
	assert_int_equal(p.nselect, POLICY_MAX_PATTERNS);
	policy_release(&p);
	json_decref(j);

	/* an overlong pattern */
	char longpat[POLICY_MAX_PATTERN_LEN + 2];
	memset(longpat, 'a', sizeof(longpat) - 1);
	longpat[sizeof(longpat) - 1] = '\0';
	j = json_pack("{s:s, s:s, s:[s]}", "name", "a", "repo", "r", "select", longpat);
	buf_reset(&err);
	assert_int_equal(policy_from_json(j, &p, &err), -EINVAL);
	assert_contains(err.s, "select[0]");
	json_decref(j);
	buf_release(&err);
}

static const char vmbackup_text[] =
	"# converted from VmBackup.cfg\n"
	"max_backups=4\n"
	"  vm-export = PROD*\n"
	"vm-export=DEV-RH*:3\r\n"
	"select=tag:db\n"
	"\n"
	"exclude=*-test\n"
	"exclude=tag:nobackup\n"
	"keep_daily=7\n"
	"keep_weekly=4\n"
	"keep_monthly=6\n"
	"repo=/srv/backup/main\n"
	"schedule=daily 02:00\n"
	"os_disk_only=no\n"
	"compression=5\n";

static void test_policy_text(void **state)
{
	(void)state;
	struct policy p;
	struct buf err = BUF_INIT;

	assert_int_equal(policy_parse_text(vmbackup_text, strlen(vmbackup_text), "nightly", &p, &err), 0);
	assert_string_equal(p.name, "nightly");
	assert_int_equal(p.nselect, 3);
	assert_string_equal(p.select[0].text, "PROD*");
	assert_string_equal(p.select[1].text, "DEV-RH*:3");
	assert_int_equal(p.nexclude, 2);
	assert_int_equal(p.keep.last, 4);
	assert_int_equal(p.keep.daily, 7);
	assert_int_equal(p.keep.yearly, 0);
	assert_int_equal(p.compression, 5);
	assert_string_equal(p.schedule, "daily 02:00");
	assert_string_equal(p.repo, "/srv/backup/main");
	policy_release(&p);

	/* "tag:2024" is a tag, "tag:2024:2" that tag with a count */
	const char tags[] = "name=t\nrepo=r\nselect=tag:2024\nselect=tag:2024:2\n";
	assert_int_equal(policy_parse_text(tags, strlen(tags), NULL, &p, &err), 0);
	assert_true(p.select[0].is_tag && p.select[1].is_tag);
	assert_string_equal(p.select[0].match, "2024");
	assert_int_equal(p.select[0].keep_last, 0);
	assert_string_equal(p.select[1].match, "2024");
	assert_int_equal(p.select[1].keep_last, 2);
	policy_release(&p);

	/* the name may come from a name= line; keep defaults to last 4 without keep lines */
	const char minimal[] = "name=weekly\nselect=*\nrepo=main\n";
	assert_int_equal(policy_parse_text(minimal, strlen(minimal), NULL, &p, &err), 0);
	assert_string_equal(p.name, "weekly");
	assert_int_equal(p.keep.last, 4);
	policy_release(&p);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "select=*\nrepo=r\nfoo=1\n", "line 3: unknown key 'foo'" },
		{ "select=*\nrepo=r\nmax_backups=-1\n", "line 3: max_backups must be a whole number" },
		{ "select=*\nrepo=r\nkeep_daily=10001\n", "line 3: keep_daily" },
		{ "select=*\nrepo=r\nkeep_secondly=1\n", "unknown key 'keep_secondly'" },
		{ "select=*\n\n# c\nrepo\n", "line 4: expected key=value" },
		{ "select=*\nrepo=r\nname=../x\n", "line 3: policy name" },
		{ "select=*\nrepo=r\nschedule=Mon..Fri 24:00\n", "line 3: schedule" },
		{ "select=*\nrepo=r\nenabled=maybe\n", "line 3: enabled must be true or false" },
		{ "select=*\nrepo=r\ncompression=0\n", "line 3: compression" },
		{ "select=we\x01b\nrepo=r\n", "line 1: contains control characters" },
		{ "repo=r\n", "selects no VMs" },
		{ "exclude=a:1\n", "line 1: exclude pattern" },
		{ "select=*\nrepo=/srv/b\xc3\x28\n", "line 2: the value is not valid UTF-8" },
		{ "select=*\nrepo=r\0x\n", "NUL" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		size_t len = strlen(bad[i].text);
		if (strstr(bad[i].msg, "NUL"))
			len += 3;
		buf_reset(&err);
		if (policy_parse_text(bad[i].text, len, "p", &p, &err) != -EINVAL)
			fail_msg("accepted: %s", bad[i].text);
		assert_contains(err.s, "invalid backup policy file for p");
		assert_contains(err.s, bad[i].msg);
		assert_null(p.name);
	}
	buf_reset(&err);
	assert_int_equal(policy_parse_text("select=*\nrepo=r\n", 16, NULL, &p, &err), -EINVAL);
	assert_contains(err.s, "has no name");
	buf_reset(&err);
	assert_int_equal(policy_parse_text("select=*\nrepo=r\n", 16, "bad/name", &p, &err), -EINVAL);
	assert_contains(err.s, "file name");
	buf_release(&err);
}

static void test_policy_select(void **state)
{
	(void)state;
	struct policy p;
	struct buf err = BUF_INIT;
	const char *db_tags[] = { "db", "prod" }, *nb_tags[] = { "nobackup" }, *both[] = { "db", "nobackup" };
	const struct policy_vm vms[] = {
		{ "PROD-db1", NULL, 0 },     { "PROD-test", NULL, 0 },	  { "DEV-RH7", NULL, 0 },
		{ "DEV-RH8-test", NULL, 0 }, { "misc", db_tags, 2 },	  { "PROD-quiet", nb_tags, 1 },
		{ "web1", NULL, 0 },	     { "web10", NULL, 0 },	  { "old-db", both, 2 },
	};
	const char *want[] = {
		"PROD-db1: selected by PROD* (keep last 4, daily 7, weekly 4, monthly 6)",
		"PROD-test: excluded by *-test",
		"DEV-RH7: selected by DEV-RH*:3 (keep last 3)",
		"DEV-RH8-test: excluded by *-test",
		"misc: selected by tag:db (keep last 4, daily 7, weekly 4, monthly 6)",
		"PROD-quiet: excluded by tag:nobackup",
		"web1: selected by web1 (keep last 4, daily 7, weekly 4, monthly 6)",
		"web10: not selected (matches no select pattern)",
		"old-db: excluded by tag:nobackup",
	};
	struct policy_choice out[ARRAY_SIZE(vms)];

	assert_int_equal(parse_json_policy(full_json, &p, &err), 0);
	policy_select(&p, vms, ARRAY_SIZE(vms), out);
	for (size_t i = 0; i < ARRAY_SIZE(vms); i++) {
		struct buf line = BUF_INIT;
		policy_choice_describe(&vms[i], &out[i], &line);
		assert_string_equal(line.s, want[i]);
		buf_release(&line);
	}
	assert_int_equal(out[2].verdict, POLICY_SELECTED);
	assert_int_equal(out[2].keep.last, 3);
	assert_int_equal(out[2].keep.daily, 0);
	assert_ptr_equal(out[2].by, &p.select[1]);
	assert_int_equal(out[1].verdict, POLICY_EXCLUDED);
	assert_int_equal(out[7].verdict, POLICY_UNMATCHED);
	assert_null(out[7].by);
	policy_release(&p);

	/* the first matching select pattern wins, so list overrides before broad globs */
	const char text[] = "name=n\nrepo=r\nselect=PROD-db*:2\nselect=PROD*\nkeep_daily=5\n";
	assert_int_equal(policy_parse_text(text, strlen(text), NULL, &p, &err), 0);
	policy_select(&p, vms, 2, out);
	assert_int_equal(out[0].keep.last, 2);
	assert_int_equal(out[1].keep.daily, 5);
	struct buf line = BUF_INIT;
	policy_choice_describe(&vms[1], &out[1], &line);
	assert_string_equal(line.s, "PROD-test: selected by PROD* (keep daily 5)");
	buf_release(&line);
	policy_release(&p);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_calendar_next),
		cmocka_unit_test(test_calendar_never),
		cmocka_unit_test(test_calendar_errors),
		cmocka_unit_test(test_calendar_brute_force),
		cmocka_unit_test(test_retention_400_days),
		cmocka_unit_test(test_retention_rules),
		cmocka_unit_test(test_retention_docs_example),
		cmocka_unit_test(test_policy_json),
		cmocka_unit_test(test_policy_json_hostile),
		cmocka_unit_test(test_policy_text),
		cmocka_unit_test(test_policy_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
