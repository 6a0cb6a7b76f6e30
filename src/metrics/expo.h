/*
 * expo.h - writing the Prometheus text exposition format, version 0.0.4
 * (what `GET /metrics` answers; docs/metrics.md).
 *
 * A metric family is announced once with expo_family() (its "# HELP" and
 * "# TYPE" lines), then each of its samples follows with expo_sample():
 * `name{label="value",...} value`.  Label values are escaped as the format
 * wants (backslash, double quote and line feed as \\, \" and \n), HELP text
 * too (backslash and line feed), so a VM name holding any of them cannot
 * end a line or a value early.  Values are written as integers when they
 * are whole and small enough to be exact, else with the fewest of 15 or 17 significant digits that
 * read back exactly;
 * NaN and infinities as NaN, +Inf, -Inf.
 *
 * Metric and label names are the caller's constants; expo_name_valid()
 * checks one against [a-zA-Z_:][a-zA-Z0-9_:]* (labels: no ':'), and the
 * writer drops a sample or family whose name breaks it rather than write
 * a line a scraper would reject.
 *
 * Ownership: the writer appends to the caller's buffer.  Threading: none.
 */
#ifndef CORRAL_METRICS_EXPO_H
#define CORRAL_METRICS_EXPO_H

#include <stdbool.h>

#include "util/buf.h"

#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum expo_type { EXPO_COUNTER, EXPO_GAUGE };

/* "# HELP name help\n# TYPE name counter|gauge\n". */
void expo_family(struct buf *out, const char *name, enum expo_type type, const char *help);
/* One sample; labels is NULL or a NULL-terminated array of name, value pairs
 * ({"vm", "web1", "disk", "data", NULL}); a NULL value drops that label. */
void expo_sample(struct buf *out, const char *name, const char *const *labels, double value);
/* Append s to out escaped as a label value (without the quotes). */
void expo_escape_label(struct buf *out, const char *s);
/* A metric name (label: false) or a label name (label: true) the format allows. */
bool expo_name_valid(const char *name, bool label);

#endif
