/*
 * log.h - the daemon's and CLI's logging.
 *
 * Messages go to stderr (or a log file chosen with log_open) with a timestamp
 * and level.  log_error_errno() logs and returns its first argument in one
 * expression, so error paths read `return log_error_errno(-1, errno, "open %s", p);`.
 * Never log secrets.
 */
#ifndef CORRAL_UTIL_LOG_H
#define CORRAL_UTIL_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/* Messages below `level` are dropped.  Default: INFO. */
void log_set_level(enum log_level level);
/* Redirect to `path` (append).  Returns 0 or -errno. */
int log_open(const char *path);

void log_msg(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, 0, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, 0, __VA_ARGS__)
#define log_error(ret, ...) (log_msg(LOG_LVL_ERROR, 0, __VA_ARGS__), (ret))
#define log_error_errno(ret, err, ...) (log_msg(LOG_LVL_ERROR, (err), __VA_ARGS__), (ret))

#endif
