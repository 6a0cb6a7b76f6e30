/*
 * output.c - tables, key/value views, JSON and value formatting; see output.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include "output.h"
#include "util/buf.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

struct table {
	size_t ncols;
	bool header;
	bool kv;
	char **cells;		/* nrows * ncols */
	size_t nrows;
	size_t alloc;		/* rows */
};

static struct table *table_alloc(size_t ncols)
{
	struct table *t = xcalloc(1, sizeof(*t));
	t->ncols = ncols;
	return t;
}

static char **table_new_row(struct table *t)
{
	if (t->nrows == t->alloc) {
		t->alloc = t->alloc ? t->alloc * 2 : 16;
		t->cells = xrealloc(t->cells, t->alloc * t->ncols * sizeof(char *));
	}
	return t->cells + t->nrows++ * t->ncols;
}

struct table *table_new(size_t ncols, const char *const *headers)
{
	struct table *t = table_alloc(ncols);

	if (headers) {
		char **row = table_new_row(t);
		for (size_t i = 0; i < ncols; i++)
			row[i] = xstrdup(headers[i]);
		t->header = true;
	}
	return t;
}

struct table *table_new_kv(void)
{
	struct table *t = table_alloc(2);
	t->kv = true;
	return t;
}

void table_add(struct table *t, ...)
{
	char **row = table_new_row(t);
	va_list ap;

	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		row[i] = xstrdup(s ? s : "-");
	}
	va_end(ap);
}

void table_add_kv(struct table *t, const char *key, const char *fmt, ...)
{
	char **row = table_new_row(t);
	struct buf v = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&v, fmt, ap);
	va_end(ap);
	row[0] = *key ? xasprintf("%s:", key) : xstrdup("");
	row[1] = buf_detach(&v);
}

/* Display width: count UTF-8 lead bytes, not continuation bytes. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static bool csv_mode;

void out_set_csv(bool on)
{
	csv_mode = on;
}

/* One CSV field (RFC 4180): quoted when it holds a comma, quote or line end. */
static void csv_field(const char *s, FILE *f)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void table_print_csv(const struct table *t, FILE *f)
{
	if (t->kv)
		fputs("key,value\n", f);
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = t->cells + r * t->ncols;
		for (size_t c = 0; c < t->ncols; c++) {
			if (c)
				fputc(',', f);
			if (t->kv && c == 0) {
				size_t n = strlen(row[0]);
				__do_free char *key = xstrndup(row[0], n && row[0][n - 1] == ':' ? n - 1 : n);
				csv_field(key, f);
			} else {
				csv_field(row[c], f);
			}
		}
		fputc('\n', f);
	}
}

void table_print(const struct table *t, FILE *f)
{
	__do_free size_t *w = xcalloc(t->ncols, sizeof(size_t));
	const char *sep = t->kv ? " " : "  ";

	if (csv_mode) {
		table_print_csv(t, f);
		return;
	}

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t n = width(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = t->cells + r * t->ncols;
		size_t last = t->ncols - 1;

		/* Trailing empty cells would only add spaces. */
		while (last > 0 && !*row[last])
			last--;
		for (size_t c = 0; c <= last; c++) {
			fputs(row[c], f);
			if (c < last)
				fprintf(f, "%*s%s", (int)(w[c] - width(row[c])), "", sep);
		}
		fputc('\n', f);
	}
}

void table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void out_guest_events(const json_t *answer)
{
	static const char *const headers[] = { "TIME", "TYPE", "DETAIL" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *ev;
	size_t i;

	json_array_foreach(json_object_get(answer, "events"), i, ev) {
		char when[32];
		table_add(t, out_time(out_str(ev, "time"), when, sizeof(when)), out_str(ev, "type"), out_str(ev, "detail"));
	}
	table_print(t, stdout);
}

void out_json(const json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

const char *out_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

char *out_scalar(const json_t *v)
{
	if (!v || json_is_null(v))
		return xstrdup("-");
	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v))
		return xasprintf("%g", json_real_value(v));
	if (json_is_boolean(v))
		return xstrdup(json_is_true(v) ? "yes" : "no");
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	return s ? s : xstrdup("?");
}

char *out_join(const json_t *arr, const char *sep)
{
	struct buf b = BUF_INIT;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v) {
		__do_free char *s = out_scalar(v);
		if (i)
			buf_adds(&b, sep);
		buf_adds(&b, s);
	}
	return buf_detach(&b);
}

const char *out_size(uint64_t bytes, char *buf, size_t len)
{
	return str_fmt_size(bytes, buf, len);
}

const char *out_rate(double bytes_per_s, char *buf, size_t len)
{
	static const char *const units[] = { "B/s", "K/s", "M/s", "G/s", "T/s" };
	size_t u = 0;

	if (bytes_per_s < 0)
		bytes_per_s = 0;
	while (bytes_per_s >= 1024 && u + 1 < ARRAY_SIZE(units)) {
		bytes_per_s /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", bytes_per_s, units[u]);
	return buf;
}

const char *out_time_epoch(int64_t epoch_s, char *buf, size_t len)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
	return buf;
}

const char *out_time(const char *rfc3339, char *buf, size_t len)
{
	int64_t ms;

	if (!rfc3339) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (!(ms = time_parse_rfc3339(rfc3339))) {
		snprintf(buf, len, "%s", rfc3339);
		return buf;
	}
	return out_time_epoch(ms / 1000, buf, len);
}

const char *out_age(const char *rfc3339, char *buf, size_t len)
{
	int64_t ms = rfc3339 ? time_parse_rfc3339(rfc3339) : 0;
	int64_t s;

	if (!ms) {
		snprintf(buf, len, "-");
		return buf;
	}
	s = (time_wall_ms() - ms) / 1000;
	if (s >= 86400) {
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s % 86400) / 3600);
		return buf;
	}
	return out_duration(s, buf, len);
}

const char *out_duration(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%" PRId64 "s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
	return buf;
}

int out_write_all(int fd, const char *p, size_t len, bool sock)
{
	while (len > 0) {
		ssize_t n = sock ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
