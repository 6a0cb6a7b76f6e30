/*
 * calendar.c - parse systemd-style calendar events into bitmaps (one per
 * field) and find their next occurrence by walking forward field by field
 * (year, month, day, hour, minute, second), always in UTC.  See calendar.h.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "calendar.h"
#include "util/strutil.h"
#include "util/common.h"

/* One numeric field: its name for errors, its bounds. */
struct cal_field {
	const char *what;
	int lo, hi;
};

static const struct cal_field F_YEAR = { "year", CALENDAR_YEAR_MIN, CALENDAR_YEAR_MAX };
static const struct cal_field F_MONTH = { "month", 1, 12 };
static const struct cal_field F_DAY = { "day", 1, 31 };
static const struct cal_field F_HOUR = { "hour", 0, 23 };
static const struct cal_field F_MINUTE = { "minute", 0, 59 };
static const struct cal_field F_SECOND = { "second", 0, 59 };

static const char *const weekday_names[7][2] = {
	{ "mon", "monday" }, { "tue", "tuesday" }, { "wed", "wednesday" }, { "thu", "thursday" },
	{ "fri", "friday" }, { "sat", "saturday" }, { "sun", "sunday" },
};

static bool bit_get(const uint64_t *bits, int i)
{
	return (bits[i / 64] >> (i % 64)) & 1;
}

/* Parse an unsigned decimal of at most 4 digits at *p; advances *p.  -1 if none. */
static int parse_num(const char **p, const char *end)
{
	int v = 0, n = 0;
	while (*p < end && isdigit((unsigned char)**p) && n < 5) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n == 0 || n > 4 ? -1 : v;
}

static int field_fail(const struct cal_field *f, const char *s, size_t len, const char *why, struct buf *err)
{
	buf_printf(err, "calendar event: %s '%.*s' %s (allowed: %d..%d, '*', lists 'a,b', ranges 'a..b', steps '/n')",
		   f->what, (int)len, s, why, f->lo, f->hi);
	return -EINVAL;
}

/*
 * Parse s[0..len) as a comma list of `*`, N, N..M, each optionally /STEP,
 * into bits (bit v - f->lo).
 */
static int field_parse(const struct cal_field *f, const char *s, size_t len, uint64_t bits[4], struct buf *err)
{
	const char *p = s, *end = s + len;

	memset(bits, 0, 4 * sizeof(uint64_t));
	if (len == 0)
		return field_fail(f, s, len, "is empty", err);
	while (p <= end) {
		const char *item = p;
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *iend = comma ? comma : end;
		int start, stop, step = 1;
		bool ranged = false;

		if (p == iend)
			return field_fail(f, s, len, "has an empty list item", err);
		if (*p == '*') {
			p++;
			start = f->lo;
			stop = f->hi;
			ranged = true;
		} else {
			start = stop = parse_num(&p, iend);
			if (start < 0)
				return field_fail(f, item, (size_t)(iend - item), "is not a number", err);
			if (iend - p >= 2 && p[0] == '.' && p[1] == '.') {
				p += 2;
				stop = parse_num(&p, iend);
				if (stop < 0)
					return field_fail(f, item, (size_t)(iend - item), "has a range without an end", err);
				ranged = true;
			}
		}
		if (p < iend && *p == '/') {
			p++;
			step = parse_num(&p, iend);
			if (step < 1)
				return field_fail(f, item, (size_t)(iend - item), "needs a step of at least 1", err);
			if (!ranged)
				stop = f->hi;
		}
		if (p != iend)
			return field_fail(f, item, (size_t)(iend - item), "has unexpected characters", err);
		if (start < f->lo || stop > f->hi)
			return field_fail(f, item, (size_t)(iend - item), "is out of range", err);
		if (start > stop)
			return field_fail(f, item, (size_t)(iend - item), "is a range that ends before it starts", err);
		for (int v = start; v <= stop; v += step)
			bits[(v - f->lo) / 64] |= (uint64_t)1 << ((v - f->lo) % 64);
		p = iend + 1;
	}
	return 0;
}

static int weekday_lookup(const char *s, size_t len)
{
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 2; k++)
			if (strlen(weekday_names[i][k]) == len && strncasecmp(weekday_names[i][k], s, len) == 0)
				return i;
	return -1;
}

static int weekdays_parse(const char *s, size_t len, uint8_t *out, struct buf *err)
{
	const char *p = s, *end = s + len;

	*out = 0;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *iend = comma ? comma : end;
		const char *dots = NULL;
		for (const char *q = p; q + 1 < iend; q++)
			if (q[0] == '.' && q[1] == '.') {
				dots = q;
				break;
			}
		int a = weekday_lookup(p, (size_t)((dots ? dots : iend) - p));
		int b = dots ? weekday_lookup(dots + 2, (size_t)(iend - dots - 2)) : a;
		if (a < 0 || b < 0) {
			buf_printf(err, "calendar event: weekday '%.*s' is not valid (use Mon..Sun, lists 'Sat,Sun', ranges 'Mon..Fri')",
				   (int)(iend - p), p);
			return -EINVAL;
		}
		if (a > b) {
			buf_printf(err, "calendar event: weekday range '%.*s' ends before it starts (weeks run Mon..Sun)",
				   (int)(iend - p), p);
			return -EINVAL;
		}
		for (int i = a; i <= b; i++)
			*out |= (uint8_t)(1u << i);
		p = iend + 1;
	}
	return 0;
}

/* Split s[0..len) at `sep` into at most max parts; returns the count, or max + 1 if more. */
static int split(const char *s, size_t len, char sep, int max, const char **parts, size_t *lens)
{
	int n = 0;
	const char *p = s, *end = s + len;
	while (p <= end) {
		const char *q = memchr(p, sep, (size_t)(end - p));
		const char *e = q ? q : end;
		if (n == max)
			return max + 1;
		parts[n] = p;
		lens[n++] = (size_t)(e - p);
		p = e + 1;
	}
	return n;
}

static int date_parse(const char *s, size_t len, struct calendar *c, struct buf *err)
{
	const char *parts[3];
	size_t lens[3];
	uint64_t bits[4];
	int n = split(s, len, '-', 3, parts, lens), i = 0;

	if (n < 2 || n > 3) {
		buf_printf(err, "calendar event: date '%.*s' must be MM-DD or YYYY-MM-DD", (int)len, s);
		return -EINVAL;
	}
	if (n == 3) {
		if (field_parse(&F_YEAR, parts[0], lens[0], c->years, err) < 0)
			return -EINVAL;
		i = 1;
	}
	if (field_parse(&F_MONTH, parts[i], lens[i], bits, err) < 0)
		return -EINVAL;
	c->months = (uint16_t)(bits[0] << 1);
	if (field_parse(&F_DAY, parts[i + 1], lens[i + 1], bits, err) < 0)
		return -EINVAL;
	c->days = (uint32_t)(bits[0] << 1);
	return 0;
}

static int time_parse(const char *s, size_t len, struct calendar *c, struct buf *err)
{
	const char *parts[3];
	size_t lens[3];
	uint64_t bits[4];
	int n = split(s, len, ':', 3, parts, lens);

	if (n < 2 || n > 3) {
		buf_printf(err, "calendar event: time '%.*s' must be HH:MM or HH:MM:SS", (int)len, s);
		return -EINVAL;
	}
	if (field_parse(&F_HOUR, parts[0], lens[0], bits, err) < 0)
		return -EINVAL;
	c->hours = (uint32_t)bits[0];
	if (field_parse(&F_MINUTE, parts[1], lens[1], bits, err) < 0)
		return -EINVAL;
	c->minutes = bits[0];
	c->seconds = 1;
	if (n == 3) {
		if (field_parse(&F_SECOND, parts[2], lens[2], bits, err) < 0)
			return -EINVAL;
		c->seconds = bits[0];
	}
	return 0;
}

/* Every year, month, day and weekday at 00:00:00. */
static void calendar_every_day(struct calendar *c)
{
	memset(c, 0, sizeof(*c));
	for (int y = 0; y <= CALENDAR_YEAR_MAX - CALENDAR_YEAR_MIN; y++)
		c->years[y / 64] |= (uint64_t)1 << (y % 64);
	c->months = 0x1ffe;
	c->days = 0xfffffffe;
	c->weekdays = 0x7f;
	c->hours = 1;
	c->minutes = 1;
	c->seconds = 1;
}

/* Shorthands: 0 = not a shorthand, 1 = applied, 2 = applied and a time may follow. */
static int shorthand_apply(const char *s, size_t len, struct calendar *c)
{
	static const char *const names[] = { "minutely", "hourly", "daily", "weekly", "monthly", "yearly", "annually" };
	int which = -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && strncasecmp(names[i], s, len) == 0)
			which = (int)i;
	switch (which) {
	case 0:
		c->hours = 0xffffff;
		c->minutes = (UINT64_C(1) << 60) - 1;
		return 1;
	case 1:
		c->hours = 0xffffff;
		return 1;
	case 2:
		return 2;
	case 3:
		c->weekdays = 1;
		return 2;
	case 4:
		c->days = 2;
		return 2;
	case 5:
	case 6:
		c->months = 2;
		c->days = 2;
		return 2;
	}
	return 0;
}

int calendar_parse(const char *expr, struct calendar *out, struct buf *err)
{
	struct calendar c;
	const char *tok[4];
	size_t tlen[4];
	int ntok = 0;

	if (!expr || strlen(expr) > CALENDAR_MAX_LEN || str_has_control(expr)) {
		buf_printf(err, "calendar event must be 1..%d printable characters", CALENDAR_MAX_LEN);
		return -EINVAL;
	}
	for (const char *p = expr; *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (ntok == 3) {
			buf_printf(err, "calendar event '%s' has more than three parts (weekdays, date, time)", expr);
			return -EINVAL;
		}
		tok[ntok] = p;
		while (*p && *p != ' ')
			p++;
		tlen[ntok] = (size_t)(p - tok[ntok]);
		ntok++;
	}
	if (ntok == 0) {
		buf_adds(err, "calendar event is empty");
		return -EINVAL;
	}
	calendar_every_day(&c);

	int sh = shorthand_apply(tok[0], tlen[0], &c);
	if (sh) {
		if (ntok > 2 || (ntok == 2 && sh != 2)) {
			buf_printf(err, "calendar event '%s': only daily, weekly, monthly and yearly may be followed by a time",
				   expr);
			return -EINVAL;
		}
		if (ntok == 2 && !memchr(tok[1], ':', tlen[1])) {
			buf_printf(err, "calendar event: '%.*s' is not a time (HH:MM)", (int)tlen[1], tok[1]);
			return -EINVAL;
		}
		if (ntok == 2 && time_parse(tok[1], tlen[1], &c, err) < 0)
			return -EINVAL;
		*out = c;
		return 0;
	}

	int i = 0, stage = 0; /* 0: weekdays allowed, 1: date allowed, 2: time allowed, 3: done */
	if (isalpha((unsigned char)tok[0][0])) {
		if (weekdays_parse(tok[0], tlen[0], &c.weekdays, err) < 0)
			return -EINVAL;
		i = 1;
		stage = 1;
	}
	for (; i < ntok; i++) {
		bool is_time = memchr(tok[i], ':', tlen[i]) != NULL;
		bool is_date = !is_time && memchr(tok[i], '-', tlen[i]) != NULL;
		if (is_date && stage <= 1) {
			if (date_parse(tok[i], tlen[i], &c, err) < 0)
				return -EINVAL;
			stage = 2;
		} else if (is_time && stage <= 2) {
			if (time_parse(tok[i], tlen[i], &c, err) < 0)
				return -EINVAL;
			stage = 3;
		} else {
			buf_printf(err, "calendar event '%s': '%.*s' is not in place (expected [WEEKDAYS] [[YYYY-]MM-DD] [HH:MM[:SS]])",
				   expr, (int)tlen[i], tok[i]);
			return -EINVAL;
		}
	}
	*out = c;
	return 0;
}

bool calendar_matches(const struct calendar *cal, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm))
		return false;
	int year = tm.tm_year + 1900;
	if (year < CALENDAR_YEAR_MIN || year > CALENDAR_YEAR_MAX)
		return false;
	return bit_get(cal->years, year - CALENDAR_YEAR_MIN) && (cal->months >> (tm.tm_mon + 1) & 1) &&
	       (cal->days >> tm.tm_mday & 1) && (cal->weekdays >> ((tm.tm_wday + 6) % 7) & 1) &&
	       (cal->hours >> tm.tm_hour & 1) && (cal->minutes >> tm.tm_min & 1) && (cal->seconds >> tm.tm_sec & 1);
}

/* timegm of the given fields (out-of-range values normalise, e.g. month 12 -> next January). */
static int64_t utc_make(int year, int mon, int mday, int hour, int min)
{
	struct tm tm = { .tm_year = year - 1900, .tm_mon = mon, .tm_mday = mday, .tm_hour = hour, .tm_min = min };
	return (int64_t)timegm(&tm);
}

int calendar_next(const struct calendar *cal, int64_t after, int64_t *next, struct buf *err)
{
	time_t tt = (time_t)after;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || tm.tm_year + 1900 < CALENDAR_YEAR_MIN || tm.tm_year + 1900 >= CALENDAR_YEAR_MAX) {
		buf_printf(err, "calendar event: start time %lld is outside the years %d..%d", (long long)after,
			   CALENDAR_YEAR_MIN, CALENDAR_YEAR_MAX - 1);
		return -ERANGE;
	}
	int last_year = tm.tm_year + 1900 + CALENDAR_SEARCH_YEARS;
	int64_t t = after + 1;

	for (;;) {
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		int year = tm.tm_year + 1900;
		if (year > last_year || year > CALENDAR_YEAR_MAX) {
			buf_printf(err, "calendar event never occurs in the %d years after the start time",
				   CALENDAR_SEARCH_YEARS);
			return -ENOENT;
		}
		if (!bit_get(cal->years, year - CALENDAR_YEAR_MIN))
			t = utc_make(year + 1, 0, 1, 0, 0);
		else if (!(cal->months >> (tm.tm_mon + 1) & 1))
			t = utc_make(year, tm.tm_mon + 1, 1, 0, 0);
		else if (!(cal->days >> tm.tm_mday & 1) || !(cal->weekdays >> ((tm.tm_wday + 6) % 7) & 1))
			t = utc_make(year, tm.tm_mon, tm.tm_mday + 1, 0, 0);
		else if (!(cal->hours >> tm.tm_hour & 1))
			t = utc_make(year, tm.tm_mon, tm.tm_mday, tm.tm_hour + 1, 0);
		else if (!(cal->minutes >> tm.tm_min & 1))
			t = utc_make(year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min + 1);
		else if (!(cal->seconds >> tm.tm_sec & 1))
			t++;
		else
			break;
	}
	*next = t;
	return 0;
}
