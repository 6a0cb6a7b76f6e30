/*
 * rrdstore.h - metric history in round-robin databases (librrd, the RRD
 * files of rrdtool, Munin and Proxmox; docs/metrics.md, "On disk").
 *
 * One file holds the data sources (DS) of one thing sampled together: a
 * VM, one of its disks, one of its NICs, the host, a pool.  A file is
 * made at its first update with the schema the caller gives (names and
 * kinds) and these archives, AVERAGE and MAX each:
 *   - every sample (the step, the sampler's interval) for a day, at most
 *     RRDS_RAW_ROWS rows (a step below 10 s keeps less than a day);
 *   - 1 minute (or the step, if longer) for a week;
 *   - 1 hour for a year.
 * Counters (CPU time, bytes, operations) are RRD DERIVE sources with a
 * minimum of 0: RRD stores their rate per second, and a counter that
 * restarts (a new QEMU) leaves one unknown interval instead of a negative
 * rate.  Gauges (memory, load, pool usage) are stored as given.  The
 * heartbeat is max(3 steps, 60 s): a gap longer than that (corrald down)
 * is unknown, a shorter one is interpolated.  A file keeps the step it was
 * made with; a changed interval still updates it (RRD consolidates).
 *
 * Fetching returns the best resolution that covers [start, end], AVERAGE
 * and MAX side by side.
 *
 * Threading: librrd is not safe to call concurrently on one file; every
 * function here takes one module lock around its librrd calls.
 * Errors: 0 or -errno with one sentence appended to err (librrd's message).
 */
#ifndef CORRAL_METRICS_RRDSTORE_H
#define CORRAL_METRICS_RRDSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define RRDS_RAW_ROWS 8640
#define RRDS_DS_NAME_MAX 19 /* librrd's limit on a data source's name */

struct rrds_ds {
	const char *name; /* [a-zA-Z0-9_], at most RRDS_DS_NAME_MAX */
	bool counter;     /* DERIVE (a rate is stored) rather than GAUGE */
};

/*
 * Record values[i] (NaN: unknown) for ds[i] at time t into the file at
 * path, made first (with step seconds) when absent.  Counter values are
 * written as integers.  An update at or before the file's last one is
 * -EEXIST (nothing written).  A file librrd cannot read (torn, not an
 * RRD) is renamed to PATH.broken and -EIO returned: the next update starts
 * a new file, so one bad file costs one warning, not one per sample.  The
 * directory must exist.
 */
int rrds_update(const char *path, unsigned step, const struct rrds_ds *ds, size_t nds, time_t t,
		const double *values, struct buf *err);

/* What rrds_fetch returns: rows of nds values, AVERAGE and MAX. */
struct rrds_series {
	time_t start;      /* time of the first row's end */
	unsigned long step;
	size_t rows, nds;
	char **names;      /* nds data source names */
	double *avg, *max; /* rows * nds, row-major; NaN: unknown */
};
#define RRDS_SERIES_INIT { 0 }
void rrds_series_release(struct rrds_series *s);

/* The rows of the file at path from start to end.  -ENOENT: no file. */
int rrds_fetch(const char *path, time_t start, time_t end, struct rrds_series *out, struct buf *err);

#endif
