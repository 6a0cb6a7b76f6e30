/*
 * fuzz_policy.c - fuzz target for backup policies (JSON from the API, the
 * VmBackup-style text file), calendar events, and the retention decision.
 *
 * Every input is tried as all of: a calendar event, a JSON policy, a text
 * policy, and (as raw bytes) keep options plus a list of backup times.
 * Checked besides "no crash, no leak":
 *   - a rejection carries a message and leaves nothing behind;
 *   - an accepted policy survives policy_to_json -> policy_from_json unchanged,
 *     its schedule parses, and every selection names a pattern of the policy;
 *   - calendar_next returns an occurrence strictly after the start with no
 *     earlier occurrence in between (checked by asking again from next - 1);
 *   - retention keeps the newest complete backup whenever a keep rule is set,
 *     keeps everything otherwise, keeps at most sum(keep) + 1 backups, and
 *     pruning the survivors again removes nothing.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/calendar.h"
#include "backup/policy.h"
#include "backup/retention.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_policy: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void check_calendar(const char *text)
{
	static const int64_t starts[] = { 0, 1795219200 /* 2026-11-21 */, 4107542399 /* 2100-02-28 23:59:59 */ };
	struct calendar cal;
	struct buf err = BUF_INIT;

	if (calendar_parse(text, &cal, &err) < 0) {
		if (err.len == 0)
			die("calendar rejected without a message", text);
		buf_release(&err);
		return;
	}
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		int64_t next = 0, again = 0;
		if (calendar_next(&cal, starts[i], &next, &err) < 0) {
			if (err.len == 0)
				die("calendar_next failed without a message", text);
			buf_reset(&err);
			continue;
		}
		if (next <= starts[i] || !calendar_matches(&cal, next))
			die("calendar_next returned a non-occurrence", text);
		if (calendar_next(&cal, next - 1, &again, &err) < 0 || again != next)
			die("calendar_next skipped an occurrence", text);
	}
	buf_release(&err);
}

static bool pattern_in(const struct policy_pattern *by, const struct policy_pattern *arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (by == &arr[i])
			return true;
	return false;
}

static void check_policy(int r, struct policy *p, struct buf *err, const char *what)
{
	static const char *const tags[] = { "db", "nobackup" };
	static const struct policy_vm fleet[] = {
		{ "PROD-db1", tags, 1 }, { "PROD-test", NULL, 0 }, { "web1", tags + 1, 1 }, { "x", tags, 2 },
	};
	struct policy_choice out[4];

	if (r < 0) {
		if (err->len == 0)
			die("policy rejected without a message", what);
		if (p->name || p->select || p->repo)
			die("rejected policy left fields behind", what);
		return;
	}
	if (!p->name || !p->repo || p->nselect == 0)
		die("accepted policy lacks name, repo or select", what);
	json_t *j = policy_to_json(p);
	struct policy q;
	struct buf qerr = BUF_INIT;
	if (policy_from_json(j, &q, &qerr) < 0)
		die("policy_to_json output rejected", qerr.s);
	json_t *j2 = policy_to_json(&q);
	if (!json_equal(j, j2))
		die("policy changed in a JSON round trip", what);
	struct calendar cal;
	if (p->schedule && calendar_parse(p->schedule, &cal, &qerr) < 0)
		die("accepted schedule does not parse", p->schedule);
	policy_select(p, fleet, 4, out);
	for (size_t i = 0; i < 4; i++) {
		struct buf line = BUF_INIT;
		bool in_sel = pattern_in(out[i].by, p->select, p->nselect);
		bool in_exc = pattern_in(out[i].by, p->exclude, p->nexclude);
		if ((out[i].verdict == POLICY_SELECTED && !in_sel) || (out[i].verdict == POLICY_EXCLUDED && !in_exc) ||
		    (out[i].verdict == POLICY_UNMATCHED && out[i].by))
			die("selection names a foreign pattern", what);
		policy_choice_describe(&fleet[i], &out[i], &line);
		if (strncmp(line.s, fleet[i].name, strlen(fleet[i].name)) != 0)
			die("selection line does not start with the VM name", line.s);
		buf_release(&line);
	}
	json_decref(j);
	json_decref(j2);
	policy_release(&q);
	buf_release(&qerr);
	policy_release(p);
}

static void check_retention(const uint8_t *data, size_t size)
{
	struct keep_opts k = { 0 };
	struct retention_item items[128];
	char ids[128][16];
	size_t n = 0;
	int64_t t = 1795219200;
	struct buf err = BUF_INIT;

	if (size < 7)
		return;
	k = (struct keep_opts){ data[0] % 8, data[1] % 8, data[2] % 8, data[3] % 8, data[4] % 8, data[5] % 8 };
	int32_t offset = (int32_t)(data[6] % 5) * 3600 - 7200;
	for (size_t i = 7; i + 1 < size && n < 128; i += 2, n++) {
		t -= (int64_t)(data[i] | data[i + 1] << 8) * 97;
		snprintf(ids[n], sizeof(ids[n]), "b%zu", n);
		items[n] = (struct retention_item){ .id = ids[n], .time = t, .complete = !(data[i] & 1) || i % 3 };
	}
	if (retention_apply(items, n, &k, offset, &err) < 0)
		die("retention rejected valid options", err.s);
	size_t kept = 0, newest = n;
	for (size_t i = 0; i < n; i++) {
		kept += items[i].keep;
		/* newest = latest time, equal times broken by the larger id (as retention.h says) */
		if (items[i].complete && (newest == n || items[i].time > items[newest].time ||
					  (items[i].time == items[newest].time && strcmp(ids[i], ids[newest]) > 0)))
			newest = i;
		if (!items[i].reason[0])
			die("retention decision without a reason", ids[i]);
	}
	if (!keep_opts_any(&k) && kept != n)
		die("no keep rule but something removed", NULL);
	if (keep_opts_any(&k) && newest < n && !items[newest].keep)
		die("newest complete backup removed", items[newest].reason);
	if (kept > (size_t)(k.last + k.hourly + k.daily + k.weekly + k.monthly + k.yearly) + 1 && keep_opts_any(&k))
		die("kept more than the rules allow", NULL);
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (items[i].keep)
			items[w++] = items[i];
	if (retention_apply(items, w, &k, offset, &err) < 0)
		die("retention rejected valid options", err.s);
	for (size_t i = 0; i < w; i++)
		if (!items[i].keep)
			die("a second prune removed more", items[i].reason);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct policy p;
	struct buf err = BUF_INIT;

	if (!text)
		abort();
	check_calendar(text);

	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	if (j) {
		check_policy(policy_from_json(j, &p, &err), &p, &err, text);
		json_decref(j);
	}
	buf_reset(&err);
	check_policy(policy_parse_text((const char *)data, size, "fuzz", &p, &err), &p, &err, text);

	check_retention(data, size);
	buf_release(&err);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_policy", argc, argv); }
#endif
