/*
 * timeutil.h - clocks and timestamps.
 */
#ifndef CORRAL_UTIL_TIMEUTIL_H
#define CORRAL_UTIL_TIMEUTIL_H

#include <stdint.h>
#include <stddef.h>
#include <time.h>

/* Milliseconds on CLOCK_MONOTONIC (for timeouts). */
int64_t time_mono_ms(void);
/* Milliseconds since the epoch (for stored timestamps). */
int64_t time_wall_ms(void);
/* RFC 3339 UTC with milliseconds: "2026-11-22T00:35:26.123Z".  buf >= 32 bytes. */
const char *time_fmt_rfc3339(int64_t wall_ms, char *buf, size_t len);
/* time_fmt_rfc3339's format (fraction optional, "Z" only) back to ms since the epoch; 0 if malformed. */
int64_t time_parse_rfc3339(const char *s);
/* Sleep for ms milliseconds (restarts on EINTR). */
void time_sleep_ms(int64_t ms);
/* CLOCK_REALTIME ms milliseconds from now: the deadline pthread_cond_timedwait takes. */
struct timespec time_realtime_in(int64_t ms);

#endif
