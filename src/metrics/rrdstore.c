/*
 * rrdstore.c - metric history in RRD files through librrd (see rrdstore.h).
 *
 * librrd keeps its error message per thread (rrd_get_error) and is not
 * meant for concurrent calls on one file, so every call runs under
 * rrds_lock, and the message is copied into err before the lock goes.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <rrd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics/rrdstore.h"
#include "util/common.h"

static pthread_mutex_t rrds_lock = PTHREAD_MUTEX_INITIALIZER;

/* librrd's last error into err, and cleared. */
static void rrd_err(struct buf *err, const char *what, const char *path)
{
	const char *m = rrd_test_error() ? rrd_get_error() : "unknown error";
	buf_printf(err, "%s %s: %s", what, path, m);
	rrd_clear_error();
}

static unsigned long per_row(unsigned long want_s, unsigned long step)
{
	return want_s <= step ? 1 : (want_s + step - 1) / step;
}

static int create(const char *path, unsigned step, const struct rrds_ds *ds, size_t nds, time_t t, struct buf *err)
{
	static const char *const cfs[] = { "AVERAGE", "MAX" };
	unsigned long hb = step * 3 > 60 ? step * 3 : 60;
	unsigned long s = step ? step : 10;
	unsigned long min_row = per_row(60, s), hour_row = per_row(3600, s);
	unsigned long raw_rows = 86400 / s < RRDS_RAW_ROWS ? 86400 / s : RRDS_RAW_ROWS;
	unsigned long week_rows = 7 * 86400 / (min_row * s), year_rows = 365 * 86400 / (hour_row * s);
	size_t argc = 0;
	char **argv = xcalloc(nds + 6, sizeof(*argv));
	int r = 0;

	if (raw_rows < 1)
		raw_rows = 1;
	for (size_t i = 0; i < nds; i++)
		argv[argc++] = xasprintf("DS:%s:%s:%lu:0:U", ds[i].name, ds[i].counter ? "DERIVE" : "GAUGE", hb);
	for (size_t c = 0; c < ARRAY_SIZE(cfs); c++) {
		argv[argc++] = xasprintf("RRA:%s:0.5:1:%lu", cfs[c], raw_rows);
		argv[argc++] = xasprintf("RRA:%s:0.5:%lu:%lu", cfs[c], min_row, week_rows);
		argv[argc++] = xasprintf("RRA:%s:0.5:%lu:%lu", cfs[c], hour_row, year_rows);
	}
	rrd_clear_error();
	if (rrd_create_r(path, s, t - 1, (int)argc, (const char **)argv) != 0) {
		rrd_err(err, "cannot create", path);
		unlink(path);
		r = -EIO;
	}
	for (size_t i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
	return r;
}

int rrds_update(const char *path, unsigned step, const struct rrds_ds *ds, size_t nds, time_t t,
		const double *values, struct buf *err)
{
	struct buf arg = BUF_INIT, tmpl = BUF_INIT;
	int r = 0;

	buf_printf(&arg, "%lld", (long long)t);
	for (size_t i = 0; i < nds; i++) {
		buf_printf(&tmpl, "%s%s", i ? ":" : "", ds[i].name);
		if (isnan(values[i]) || isinf(values[i]))
			buf_adds(&arg, ":U");
		else if (ds[i].counter)
			buf_printf(&arg, ":%.0f", values[i] < 0 ? 0.0 : values[i]);
		else
			buf_printf(&arg, ":%.17g", values[i]);
	}
	pthread_mutex_lock(&rrds_lock);
	if (access(path, F_OK) < 0 && (r = create(path, step, ds, nds, t, err)) < 0)
		goto out;
	time_t last = rrd_last_r(path);
	if (last < 0) {
		/* not an RRD librrd can read (a torn file, another program's): keep
		 * it for whoever wants to look, and start a new one next time */
		__do_free char *aside = xasprintf("%s.broken", path);
		rrd_err(err, "cannot read", path);
		buf_printf(err, "; moved to %s, a new file starts with the next sample", aside);
		if (rename(path, aside) < 0)
			unlink(path);
		r = -EIO;
		goto out;
	}
	if (last >= t) {
		r = -EEXIST;
		buf_printf(err, "%s already holds a sample at or after %lld", path, (long long)t);
		rrd_clear_error();
		goto out;
	}
	const char *argv[] = { arg.s };
	rrd_clear_error();
	if (rrd_update_r(path, tmpl.s, 1, argv) != 0) {
		rrd_err(err, "cannot update", path);
		r = -EIO;
	}
out:
	pthread_mutex_unlock(&rrds_lock);
	buf_release(&arg);
	buf_release(&tmpl);
	return r;
}

void rrds_series_release(struct rrds_series *s)
{
	for (size_t i = 0; s->names && i < s->nds; i++)
		free(s->names[i]);
	free(s->names);
	free(s->avg);
	free(s->max);
	memset(s, 0, sizeof(*s));
}

static void free_names(char **names, unsigned long n)
{
	for (unsigned long i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int rrds_fetch(const char *path, time_t start, time_t end, struct rrds_series *out, struct buf *err)
{
	time_t s1 = start, e1 = end, s2 = start, e2 = end;
	unsigned long step1 = 1, step2 = 1, n1 = 0, n2 = 0;
	char **names1 = NULL, **names2 = NULL;
	rrd_value_t *d1 = NULL, *d2 = NULL;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (access(path, F_OK) < 0) {
		buf_printf(err, "no history at %s", path);
		return -ENOENT;
	}
	pthread_mutex_lock(&rrds_lock);
	rrd_clear_error();
	if (rrd_fetch_r(path, "AVERAGE", &s1, &e1, &step1, &n1, &names1, &d1) != 0) {
		rrd_err(err, "cannot read", path);
		r = -EIO;
		goto out;
	}
	if (rrd_fetch_r(path, "MAX", &s2, &e2, &step2, &n2, &names2, &d2) != 0) {
		rrd_err(err, "cannot read", path);
		r = -EIO;
		goto out;
	}
	out->start = s1 + (time_t)step1;
	out->step = step1;
	out->nds = n1;
	out->rows = step1 && e1 > s1 ? (size_t)((e1 - s1) / (time_t)step1) : 0;
	out->names = xcalloc(n1 ? n1 : 1, sizeof(*out->names));
	for (unsigned long i = 0; i < n1; i++)
		out->names[i] = xstrdup(names1[i]);
	out->avg = xcalloc(out->rows * n1 + 1, sizeof(double));
	out->max = xcalloc(out->rows * n1 + 1, sizeof(double));
	for (size_t i = 0; i < out->rows * n1; i++) {
		out->avg[i] = d1[i];
		out->max[i] = NAN;
	}
	/* MAX comes from archives of the same resolutions; should it not line
	 * up, each row takes the MAX row that covers its time */
	size_t rows2 = step2 && e2 > s2 ? (size_t)((e2 - s2) / (time_t)step2) : 0;
	if (n2 == n1) {
		for (size_t row = 0; row < out->rows; row++) {
			time_t t = out->start + (time_t)(row * step1);
			if (t <= s2 || !step2)
				continue;
			size_t k = (size_t)((t - s2 - 1) / (time_t)step2);
			if (k < rows2)
				for (size_t c = 0; c < n1; c++)
					out->max[row * n1 + c] = d2[k * n2 + c];
		}
	}
out:
	pthread_mutex_unlock(&rrds_lock);
	free_names(names1, n1);
	free_names(names2, n2);
	free(d1);
	free(d2);
	if (r < 0)
		rrds_series_release(out);
	return r;
}
