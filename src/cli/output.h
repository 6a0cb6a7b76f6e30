/*
 * output.h - how the CLI prints: aligned tables, "key: value" views, pretty
 * JSON for --json, the small formatters (sizes, rates, durations, JSON
 * scalars) that turn API answers into text, and raw writes to a file
 * descriptor (console output, the $EDITOR temp file).
 *
 * Tables copy every cell; a NULL cell prints as "-".  Columns are separated
 * by two spaces (one after "key:" in key/value views); the last column is
 * never padded.
 */
#ifndef CORRAL_CLI_OUTPUT_H
#define CORRAL_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

struct table;

/* A table with `ncols` columns; `headers` (ncols strings) or NULL for none. */
struct table *table_new(size_t ncols, const char *const *headers);
/* A two-column "key: value" view. */
struct table *table_new_kv(void);
/* Add a row of exactly ncols strings (NULL prints "-"). */
void table_add(struct table *t, ...);
/* Add "key: value" (an empty key continues the previous value on a new line). */
void table_add_kv(struct table *t, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void table_print(const struct table *t, FILE *f);
/* From now on table_print writes CSV (RFC 4180; headers as the first row,
 * key/value views as "key,value" rows): --format csv. */
void out_set_csv(bool on);
void table_free(struct table *t);

static inline void cleanup_table(struct table **t) { table_free(*t); }
#define __do_table __attribute__((cleanup(cleanup_table)))

/* Pretty JSON (2-space indent, key order kept) and a newline on stdout. */
void out_json(const json_t *j);

/* obj[key] as a string, NULL if absent or not a string. */
const char *out_str(const json_t *obj, const char *key);
/* Any JSON value as text: strings as-is, numbers, "yes"/"no", "-" for
 * null or absent, compact JSON for arrays/objects.  Caller frees. */
char *out_scalar(const json_t *v);
/* The strings of an array joined with `sep` ("" when empty/absent).  Caller frees. */
char *out_join(const json_t *arr, const char *sep);
/* Human size ("256M", "1.5G") of a byte count, into buf (>= 16 bytes). */
const char *out_size(uint64_t bytes, char *buf, size_t len);
/* "120.3M/s" for a rate in bytes/s (out_size's units), into buf (>= 24 bytes). */
const char *out_rate(double bytes_per_s, char *buf, size_t len);
/* "3s", "2m05s", "1h02m" for a duration in seconds, into buf (>= 24 bytes). */
const char *out_duration(int64_t seconds, char *buf, size_t len);

/*
 * The one readable time of tables and views: "2026-12-06 10:36:12Z" from the
 * API's RFC 3339 UTC ("2026-12-06T10:36:12.123Z"), into buf (>= 24 bytes).
 * NULL gives "-"; text that is not RFC 3339 is copied as it is.
 */
const char *out_time(const char *rfc3339, char *buf, size_t len);
/* The same for seconds since the epoch. */
const char *out_time_epoch(int64_t epoch_s, char *buf, size_t len);
/*
 * How long ago an RFC 3339 time was, for columns about age ("3s", "2m05s",
 * "1h02m", "3d04h"), into buf (>= 24 bytes); "-" for NULL or malformed.
 */
const char *out_age(const char *rfc3339, char *buf, size_t len);

/* One guest's event list ({"events":[{time,type,detail}]}, a VM's or a
 * container's) as the table TIME TYPE DETAIL on stdout. */
void out_guest_events(const json_t *answer);

/*
 * Write all `len` bytes of `p` to `fd`, going on after EINTR; a socket
 * (`sock`) is written with send(MSG_NOSIGNAL), so a peer that is gone gives
 * -EPIPE instead of SIGPIPE.  0 or -errno.
 */
int out_write_all(int fd, const char *p, size_t len, bool sock);

#endif
