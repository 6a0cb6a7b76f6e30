/*
 * expo.c - the Prometheus text exposition writer (see expo.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/expo.h"
#include "util/common.h"

bool expo_name_valid(const char *name, bool label)
{
	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (c == ':' && !label) ||
			  (p != name && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	/* names starting with "__" are reserved for Prometheus' own labels */
	return !(label && strncmp(name, "__", 2) == 0);
}

void expo_escape_label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_adds(out, "\\\\");
		else if (*s == '"')
			buf_adds(out, "\\\"");
		else if (*s == '\n')
			buf_adds(out, "\\n");
		else
			buf_addch(out, *s);
	}
}

static void escape_help(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_adds(out, "\\\\");
		else if (*s == '\n')
			buf_adds(out, "\\n");
		else
			buf_addch(out, *s);
	}
}

void expo_family(struct buf *out, const char *name, enum expo_type type, const char *help)
{
	if (!expo_name_valid(name, false))
		return;
	buf_printf(out, "# HELP %s ", name);
	escape_help(out, help ? help : "");
	buf_printf(out, "\n# TYPE %s %s\n", name, type == EXPO_COUNTER ? "counter" : "gauge");
}

static void add_value(struct buf *out, double v)
{
	if (isnan(v))
		buf_adds(out, "NaN");
	else if (isinf(v))
		buf_adds(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0) /* 2^53: every integer below is exact */
		buf_printf(out, "%.0f", v);
	else {
		/* the shortest of 15 or 17 digits that reads back the same (1.58, not 1.5800000000000001) */
		char b[32];
		snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, sizeof(b), "%.17g", v);
		buf_adds(out, b);
	}
}

void expo_sample(struct buf *out, const char *name, const char *const *labels, double value)
{
	bool first = true;
	if (!expo_name_valid(name, false))
		return;
	for (size_t i = 0; labels && labels[i]; i += 2)
		if (!expo_name_valid(labels[i], true))
			return;
	buf_adds(out, name);
	for (size_t i = 0; labels && labels[i]; i += 2) {
		if (!labels[i + 1])
			continue;
		buf_printf(out, "%s%s=\"", first ? "{" : ",", labels[i]);
		expo_escape_label(out, labels[i + 1]);
		buf_addch(out, '"');
		first = false;
	}
	if (!first)
		buf_addch(out, '}');
	buf_addch(out, ' ');
	add_value(out, value);
	buf_addch(out, '\n');
}
