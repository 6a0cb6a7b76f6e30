/*
 * retention.c - the prune decision of retention.h: sort one VM's backups
 * newest first, set aside incomplete ones, then mark backups rule by rule
 * exactly like Proxmox Backup Server's prune (mark_selections).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retention.h"
#include "util/common.h"

enum mark { MARK_NONE, MARK_KEEP, MARK_KEEP_PARTIAL, MARK_REMOVE };

/* One calendar rule: its name in reasons and the strftime format of its period. */
struct period_rule {
	const char *name;
	const char *fmt;
};

static const struct period_rule period_rules[] = {
	{ "hourly", "%Y-%m-%dT%H" }, { "daily", "%Y-%m-%d" }, { "weekly", "%G-W%V" },
	{ "monthly", "%Y-%m" },	     { "yearly", "%Y" },
};

struct sorted {
	struct retention_item *item;
	enum mark mark;
	size_t block;		/* index of the first backup of the same period */
	char key[24];
};

bool keep_opts_any(const struct keep_opts *k)
{
	return k->last || k->hourly || k->daily || k->weekly || k->monthly || k->yearly;
}

void keep_opts_describe(const struct keep_opts *k, struct buf *out)
{
	const int vals[] = { k->last, k->hourly, k->daily, k->weekly, k->monthly, k->yearly };
	const char *const names[] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
	bool first = true;

	if (!keep_opts_any(k)) {
		buf_adds(out, "everything");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(vals); i++) {
		if (!vals[i])
			continue;
		buf_printf(out, "%s%s %d", first ? "" : ", ", names[i], vals[i]);
		first = false;
	}
}

static int sorted_cmp(const void *a, const void *b)
{
	const struct retention_item *x = ((const struct sorted *)a)->item, *y = ((const struct sorted *)b)->item;
	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return -strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

static void mark_set(struct sorted *s, enum mark m, const char *reason)
{
	s->mark = m;
	snprintf(s->item->reason, sizeof(s->item->reason), "%s", reason);
}

/* The incomplete backup newer than every complete one is kept; all others removed. */
static void mark_incomplete(struct sorted *s, size_t n)
{
	bool keep_unfinished = true;
	for (size_t i = 0; i < n; i++) {
		if (!s[i].item->complete) {
			if (keep_unfinished)
				mark_set(&s[i], MARK_KEEP_PARTIAL, "keep: incomplete, newer than every complete backup");
			else
				mark_set(&s[i], MARK_REMOVE, "removed: incomplete");
		}
		keep_unfinished = false;
	}
}

static void mark_last(struct sorted *s, size_t n, int keep)
{
	int kept = 0;
	for (size_t i = 0; i < n && kept < keep; i++) {
		if (s[i].mark != MARK_NONE)
			continue;
		s[i].mark = MARK_KEEP;
		snprintf(s[i].item->reason, sizeof(s[i].item->reason), "keep-last %d", ++kept);
	}
}

/* PBS mark_selections for a calendar period (periods are contiguous in time order). */
static void mark_periods(struct sorted *s, size_t n, int keep, const struct period_rule *rule, int32_t offset)
{
	bool *already = xcalloc(n ? n : 1, sizeof(bool)), *included = xcalloc(n ? n : 1, sizeof(bool));
	int kept = 0;

	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)(s[i].item->time + offset);
		struct tm tm;
		if (!gmtime_r(&t, &tm) || !strftime(s[i].key, sizeof(s[i].key), rule->fmt, &tm))
			snprintf(s[i].key, sizeof(s[i].key), "@%lld", (long long)s[i].item->time);
		s[i].block = i > 0 && strcmp(s[i].key, s[i - 1].key) == 0 ? s[i - 1].block : i;
		if (s[i].mark == MARK_KEEP)
			already[s[i].block] = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i].mark != MARK_NONE || already[s[i].block])
			continue;
		if (included[s[i].block]) {
			s[i].mark = MARK_REMOVE;
			snprintf(s[i].item->reason, sizeof(s[i].item->reason), "removed: older than kept %s (keep-%s)",
				 s[i].key, rule->name);
			continue;
		}
		if (kept >= keep)
			break;
		kept++;
		included[s[i].block] = true;
		s[i].mark = MARK_KEEP;
		snprintf(s[i].item->reason, sizeof(s[i].item->reason), "keep-%s %s", rule->name, s[i].key);
	}
	free(already);
	free(included);
}

int retention_apply(struct retention_item *items, size_t n, const struct keep_opts *keep, int32_t utc_offset_s,
		    struct buf *err)
{
	const int period_keep[] = { keep->hourly, keep->daily, keep->weekly, keep->monthly, keep->yearly };

	if (keep->last < 0 || keep->last > KEEP_MAX) {
		buf_printf(err, "prune: keep-last must be between 0 and %d", KEEP_MAX);
		return -EINVAL;
	}
	for (size_t r = 0; r < ARRAY_SIZE(period_rules); r++)
		if (period_keep[r] < 0 || period_keep[r] > KEEP_MAX) {
			buf_printf(err, "prune: keep-%s must be between 0 and %d", period_rules[r].name, KEEP_MAX);
			return -EINVAL;
		}
	if (utc_offset_s < -RETENTION_MAX_OFFSET || utc_offset_s > RETENTION_MAX_OFFSET) {
		buf_printf(err, "prune: time zone offset %d s is beyond 14 hours", (int)utc_offset_s);
		return -EINVAL;
	}

	struct sorted *s = xcalloc(n ? n : 1, sizeof(*s));
	for (size_t i = 0; i < n; i++)
		s[i].item = &items[i];
	qsort(s, n, sizeof(*s), sorted_cmp);

	if (keep_opts_any(keep)) {
		mark_incomplete(s, n);
		mark_last(s, n, keep->last);
		for (size_t r = 0; r < ARRAY_SIZE(period_rules); r++)
			if (period_keep[r] > 0)
				mark_periods(s, n, period_keep[r], &period_rules[r], utc_offset_s);
	}
	for (size_t i = 0; i < n; i++) {
		if (!keep_opts_any(keep))
			mark_set(&s[i], MARK_KEEP, "keep: no keep rule is set");
		else if (s[i].mark == MARK_NONE)
			mark_set(&s[i], MARK_REMOVE, "removed: not selected by any keep rule");
		s[i].item->keep = s[i].mark == MARK_KEEP || s[i].mark == MARK_KEEP_PARTIAL;
	}
	free(s);
	return 0;
}
