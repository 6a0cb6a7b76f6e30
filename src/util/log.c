/*
 * log.c - timestamped leveled logging to stderr or a file.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "common.h"

static enum log_level min_level = LOG_LVL_INFO;
static FILE *log_fp;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level) { min_level = level; }

int log_open(const char *path)
{
	FILE *f = fopen(path, "ae");
	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);
	pthread_mutex_lock(&log_lock);
	if (log_fp)
		fclose(log_fp);
	log_fp = f;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void log_msg(enum log_level level, int err, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	char stamp[32], msg[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	pthread_mutex_lock(&log_lock);
	FILE *out = log_fp ? log_fp : stderr;
	if (err)
		fprintf(out, "%s.%03ldZ %s: %s: %s\n", stamp, ts.tv_nsec / 1000000, names[level], msg,
			strerror(err > 0 ? err : -err));
	else
		fprintf(out, "%s.%03ldZ %s: %s\n", stamp, ts.tv_nsec / 1000000, names[level], msg);
	pthread_mutex_unlock(&log_lock);
}
