/*
 * calendar.h - calendar events for backup schedules: a subset of systemd.time(7)
 * (as in Proxmox Backup Server), always evaluated in UTC.
 *
 *   minutely | hourly | daily | weekly | monthly | yearly     shorthands
 *   daily|weekly|monthly|yearly HH:MM[:SS]                    shorthand at a time
 *   [WEEKDAYS] [[YYYY-]MM-DD] [HH:MM[:SS]]                     full form
 *
 * Each numeric component is `*`, N, N..M, or either with `/STEP`, and
 * components combine with `,` ("Mon..Fri 02:30", "*:0/15", "*-*-01 04:00").
 * Weekdays are Mon..Sun names (3 letters or full, any case), lists and ranges.
 * An omitted part means every weekday, every date, or 00:00:00.
 *
 * A struct calendar is a plain value (no heap memory): copy it freely.
 */
#ifndef CORRAL_BACKUP_CALENDAR_H
#define CORRAL_BACKUP_CALENDAR_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define CALENDAR_YEAR_MIN 1970
#define CALENDAR_YEAR_MAX 2199
#define CALENDAR_MAX_LEN 256
/* calendar_next looks this far ahead before giving up. */
#define CALENDAR_SEARCH_YEARS 5

struct calendar {
	uint64_t years[4];	/* bit (y - CALENDAR_YEAR_MIN) */
	uint16_t months;	/* bit 1..12 */
	uint32_t days;		/* bit 1..31 */
	uint8_t weekdays;	/* bit 0 = Monday .. 6 = Sunday */
	uint32_t hours;		/* bit 0..23 */
	uint64_t minutes;	/* bit 0..59 */
	uint64_t seconds;	/* bit 0..59 */
};

/* Parse expr into *out.  0, or -EINVAL with err naming the part that is wrong. */
int calendar_parse(const char *expr, struct calendar *out, struct buf *err);

/* true if the UTC time t (unix seconds) is an occurrence of cal. */
bool calendar_matches(const struct calendar *cal, int64_t t);

/*
 * The first occurrence strictly after `after` (unix seconds) into *next.
 * 0, or -ENOENT (+err) when none falls within CALENDAR_SEARCH_YEARS years
 * (e.g. "*-02-30"), or -ERANGE when `after` is outside the supported years.
 */
int calendar_next(const struct calendar *cal, int64_t after, int64_t *next, struct buf *err);

#endif
