/*
 * replicate.c - the QMP steps of synchronous disk replication (see
 * replicate.h): the NBD target node, the write-blocking mirror, the dirty
 * bitmaps and the incremental resync.  The node, TLS and job helpers are
 * live migration's (qemu/migrate.h), shared.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qemu/replicate.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "util/cleanup.h"
#include "util/timeutil.h"
#include "util/common.h"

#define REPL_QMP_MS 10000

static int run(struct qmp *q, const char *cmd, json_t *args, json_t **ret, const char *what, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	int r = qmp_execute(q, cmd, args, ret, REPL_QMP_MS, &why);

	if (r < 0)
		buf_printf(err, "%s: %s", what, why.s);
	return r;
}

void repl_job_name(int slot, char *out, size_t len) { snprintf(out, len, "repl%d", slot); }

int repl_target_add(struct qmp *q, int slot, const char *export, const char *host, int port, struct buf *err)
{
	__do_free char *tgt = xasprintf("repl-tgt%d", slot);
	__do_free char *what = xasprintf("cannot connect disk %d to its replica", slot);

	return mig_nbd_node_add(q, tgt, export, host, port, REPL_TLS_ID, REPL_HOLD_S, what, err);
}

int repl_mirror_start(struct qmp *q, int slot, const char *node, bool full, struct buf *err)
{
	__do_free char *tgt = xasprintf("repl-tgt%d", slot);
	__do_free char *what = xasprintf("cannot start replicating disk %d", slot);
	char job[32];

	repl_job_name(slot, job, sizeof(job));
	json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", node, "target",
				 tgt, "sync", full ? "full" : "none", "copy-mode", "write-blocking", "on-target-error",
				 "report", "on-source-error", "report", "auto-dismiss", 0);
	return run(q, "blockdev-mirror", args, NULL, what, err);
}

int repl_bitmap_add(struct qmp *q, const char *node, const char *name, struct buf *err)
{
	return run(q, "block-dirty-bitmap-add", json_pack("{s:s, s:s}", "node", node, "name", name), NULL,
		   "cannot add a dirty bitmap for replication", err);
}

void repl_bitmap_remove(struct qmp *q, const char *node, const char *name)
{
	qmp_execute(q, "block-dirty-bitmap-remove", json_pack("{s:s, s:s}", "node", node, "name", name), NULL,
		    REPL_QMP_MS, NULL);
}

int repl_resync(struct qmp *q, int slot, const char *node, const char *name, int timeout_ms, uint64_t *bytes,
		struct buf *err)
{
	__do_free char *tgt = xasprintf("repl-tgt%d", slot);
	__do_free char *job = xasprintf("repl-resync%d", slot);
	__do_free char *what = xasprintf("cannot copy the changes of disk %d to its replica", slot);
	struct mig_disk_progress p;
	int64_t deadline = time_mono_ms() + timeout_ms;
	int r;

	*bytes = 0;
	json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", node, "target", tgt,
				 "sync", "incremental", "bitmap", name, "bitmap-mode", "on-success", "auto-dismiss", 0);
	if ((r = run(q, "blockdev-backup", args, NULL, what, err)) < 0)
		return r;
	for (;;) {
		uint64_t seen = qmp_events_seen(q);
		if ((r = mig_job_progress(q, job, what, &p, err)) < 0)
			return r;
		if (p.concluded)
			break;
		if (time_mono_ms() > deadline) {
			mig_job_abort(q, job, NULL, 5000);
			buf_printf(err, "%s: no end after %d s", what, timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		qmp_events_wait(q, seen, 200);
	}
	*bytes = p.offset;
	__do_buf struct buf why = BUF_INIT;
	if ((r = qmp_job_wait(q, job, 5000, &why)) < 0)
		buf_printf(err, "%s: %s", what, why.s);
	return r;
}

int repl_cmp_export_start(struct qmp *q, const char *socket, const int *slots, const char *const *nodes, size_t n,
			  struct buf *err)
{
	int r = run(q, "nbd-server-start", json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "unix", "data", "path", socket),
		    NULL, "cannot start QEMU's NBD server for the compare pass (a backup running?)", err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		__do_free char *id = xasprintf("repl-cmp%d", slots[i]);
		__do_free char *what = xasprintf("cannot export disk %d for the compare pass", slots[i]);
		json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", id, "node-name", nodes[i],
					 "name", id, "writable", 0);
		if ((r = run(q, "block-export-add", args, NULL, what, err)) < 0) {
			repl_cmp_export_stop(q);
			return r;
		}
	}
	return 0;
}

void repl_cmp_export_stop(struct qmp *q)
{
	qmp_execute(q, "nbd-server-stop", NULL, NULL, REPL_QMP_MS, NULL);
}

void repl_drop(struct qmp *q, int slot)
{
	__do_free char *tgt = xasprintf("repl-tgt%d", slot);
	char job[32];

	repl_job_name(slot, job, sizeof(job));
	mig_job_abort(q, job, tgt, 10000); /* yanks the NBD connection first */
}

int repl_finish(struct qmp *q, int slot, int timeout_ms, struct buf *err)
{
	__do_free char *tgt = xasprintf("repl-tgt%d", slot);
	__do_free char *what = xasprintf("cannot end the replication of disk %d in sync", slot);
	char job[32];

	repl_job_name(slot, job, sizeof(job));
	return mig_job_finish(q, job, tgt, timeout_ms, what, err);
}
