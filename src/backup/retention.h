/*
 * retention.h - which backups of one VM a prune keeps, with Proxmox Backup
 * Server's semantics (docs/backup-policies.md has a worked example).
 *
 * Backups are considered newest first.  An incomplete backup is kept only if
 * it is newer than every complete one (it may still be running); the others
 * are removed and no rule counts them.  Then the rules run in the order
 * last, hourly, daily, weekly (ISO 8601, Monday first), monthly, yearly.
 * keep-last N keeps the N newest complete backups.  Every other rule walks the
 * backups newest first and keeps the newest backup of each period (hour, day,
 * ...) until it has kept N periods; a period that already holds a backup kept
 * by an earlier rule is skipped and does not count towards N.  Everything not
 * kept is removed.  If every keep value is 0 nothing is removed, so a policy
 * can never delete all backups by accident; otherwise the newest complete
 * backup is always kept.  "now" plays no part: only periods that have
 * backups count, so a paused schedule never ages backups out.
 * Periods are computed in UTC shifted by utc_offset_s (0 = UTC).
 */
#ifndef CORRAL_BACKUP_RETENTION_H
#define CORRAL_BACKUP_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KEEP_MAX 10000
/* utc_offset_s must be within +-14 hours. */
#define RETENTION_MAX_OFFSET (14 * 3600)

struct keep_opts {
	int last, hourly, daily, weekly, monthly, yearly; /* each 0..KEEP_MAX */
};

struct retention_item {
	/* in, owned by the caller */
	const char *id;
	int64_t time;		/* unix seconds */
	bool complete;
	/* out */
	bool keep;
	char reason[64];	/* "keep-last 1", "keep-daily 2026-11-20", "removed: ..." */
};

/* true if any keep value is non-zero (i.e. prune may remove something). */
bool keep_opts_any(const struct keep_opts *k);

/* "last 4, daily 7" or "everything" into out. */
void keep_opts_describe(const struct keep_opts *k, struct buf *out);

/*
 * Decide keep/remove for items[0..n), given in any order (of two backups with
 * the same time, the larger id by strcmp counts as newer, so the result is
 * deterministic).  Sets .keep and .reason of each.
 * 0, or -EINVAL (+err) if a keep value or the offset is out of range.
 */
int retention_apply(struct retention_item *items, size_t n, const struct keep_opts *keep, int32_t utc_offset_s,
		    struct buf *err);

#endif
