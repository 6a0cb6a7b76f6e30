/*
 * snapshot.c - qcow2 internal snapshots through qemu-img and QMP (see
 * snapshot.h and docs/snapshots.md).
 *
 * qemu-img is only asked to write images no QEMU has open; reads use
 * --force-share so they also work on a running VM's disks.  The QMP side
 * follows the snapshot-* jobs itself (query-jobs, for progress) and lets
 * qmp_job_wait() collect the concluded job's result, because in QEMU 7.2 a
 * job's error is only visible there.
 */
#include <errno.h>
#include <string.h>

#include "snapshot.h"
#include "qemu/qmp.h"
#include "storage/qemuimg.h"
#include "util/cmd.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define QMP_CMD_TIMEOUT_MS 30000
#define JOB_POLL_MS 100

/* Run the qemu-img command `c` (released); on failure "<what>: <qemu-img's reason>" goes to err. */
static int img_run(struct cmd *c, struct buf *out, const char *what, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	int r = qemu_img_run(c, out, &why);
	if (r < 0)
		buf_printf(err, "%s: %s", what, why.s);
	return r;
}

/*
 * `qemu-img snapshot` has no -f: the format is forced through --image-opts
 * (never probed, so a guest cannot make an image look like another format).
 */
static char *image_opts(const char *path)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "driver=qcow2,file.driver=file,file.filename=");
	for (const char *p = path; *p; p++)
		if (*p == ',')
			buf_adds(&b, ",,"); /* QemuOpts escapes a comma by doubling it */
		else
			buf_addch(&b, *p);
	return buf_detach(&b);
}

static int img_snapshot(const char *op, const char *path, const char *tag, const char *what, struct buf *err)
{
	__do_free char *opts = image_opts(path);
	struct cmd c = CMD_INIT;
	qemu_img_cmd(&c, "snapshot", "--image-opts", op, tag, opts, NULL);
	return img_run(&c, NULL, what, err);
}

int snap_img_create(const char *path, const char *tag, struct buf *err)
{
	__do_free char *what = xasprintf("cannot create snapshot '%s' in %s", tag, path);
	return img_snapshot("-c", path, tag, what, err);
}

int snap_img_apply(const char *path, const char *tag, struct buf *err)
{
	__do_free char *what = xasprintf("cannot revert %s to snapshot '%s'", path, tag);
	return img_snapshot("-a", path, tag, what, err);
}

int snap_img_delete(const char *path, const char *tag, struct buf *err)
{
	__do_free char *what = xasprintf("cannot delete snapshot '%s' from %s", tag, path);
	return img_snapshot("-d", path, tag, what, err);
}

int snap_img_list(const char *path, json_t **out, struct buf *err)
{
	__do_buf struct buf o = BUF_INIT;
	__do_free char *what = xasprintf("cannot read the snapshots of %s", path);
	struct cmd c = CMD_INIT;
	json_error_t je;
	int r;

	qemu_img_cmd(&c, "info", "--output=json", "-U", "-f", "qcow2", path, NULL);
	if ((r = img_run(&c, &o, what, err)) < 0)
		return r;
	__do_json json_t *info = json_loads(o.s, 0, &je);
	json_t *snaps = json_object_get(info, "snapshots");
	if (!json_is_object(info)) {
		buf_printf(err, "%s: unreadable output from qemu-img info", what);
		return -EIO;
	}
	*out = json_is_array(snaps) ? json_incref(snaps) : json_array();
	return 0;
}

json_t *snap_list_find(const json_t *list, const char *tag)
{
	size_t i;
	json_t *it;
	json_array_foreach(list, i, it) {
		const char *name = json_string_value(json_object_get(it, "name"));
		if (name && strcmp(name, tag) == 0)
			return it;
	}
	return NULL;
}

/* ---- QMP ---------------------------------------------------------------- */

int snap_qmp_create_disks(struct qmp *q, const char *const *nodes, int n, const char *tag, struct buf *err)
{
	json_t *actions = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(actions, json_pack("{s:s,s:{s:s,s:s}}", "type", "blockdev-snapshot-internal-sync",
							 "data", "device", nodes[i], "name", tag));
	__do_buf struct buf e = BUF_INIT;
	int r = qmp_execute(q, "transaction", json_pack("{s:o}", "actions", actions), NULL, QMP_CMD_TIMEOUT_MS, &e);
	if (r < 0)
		buf_printf(err, "QEMU could not snapshot the disks: %s", e.s);
	return r;
}

int snap_qmp_delete_disk(struct qmp *q, const char *node, const char *tag, struct buf *err)
{
	__do_buf struct buf e = BUF_INIT;
	int r = qmp_execute(q, "blockdev-snapshot-delete-internal-sync",
			    json_pack("{s:s,s:s}", "device", node, "name", tag), NULL, QMP_CMD_TIMEOUT_MS, &e);
	if (r < 0)
		buf_printf(err, "QEMU could not delete snapshot '%s' from %s: %s", tag, node, e.s);
	return r;
}

static json_t *node_array(const char *const *nodes, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(nodes[i]));
	return a;
}

/* Report progress until the job concludes, then collect its result. */
static int follow_job(struct qmp *q, const char *job_id, snap_progress_cb cb, void *opaque, int timeout_ms,
		      struct buf *err)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	while (cb && time_mono_ms() < deadline) {
		__do_json json_t *job = NULL;
		if (qmp_job_query(q, job_id, &job, QMP_CMD_TIMEOUT_MS, NULL) < 0)
			break;
		const char *status = json_string_value(json_object_get(job, "status"));
		if (!job || (status && strcmp(status, "concluded") == 0))
			break;
		double cur = json_number_value(json_object_get(job, "current-progress"));
		double total = json_number_value(json_object_get(job, "total-progress"));
		if (total > 0)
			cb(opaque, 100.0 * cur / total);
		time_sleep_ms(JOB_POLL_MS);
	}
	int64_t left = deadline - time_mono_ms();
	return qmp_job_wait(q, job_id, left > 1000 ? (int)left : 1000, err);
}

static int run_job(struct qmp *q, const char *cmd, json_t *args, const char *job_id, const char *what,
		   snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err)
{
	__do_buf struct buf e = BUF_INIT;
	int r = qmp_execute(q, cmd, args, NULL, QMP_CMD_TIMEOUT_MS, &e);
	if (r == 0)
		r = follow_job(q, job_id, cb, opaque, timeout_ms, &e);
	if (r < 0)
		buf_printf(err, "%s: %s", what, e.s);
	return r;
}

int snap_qmp_save(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		  snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err)
{
	json_t *args = json_pack("{s:s,s:s,s:s,s:o}", "job-id", job_id, "tag", tag, "vmstate", nodes[0], "devices",
				 node_array(nodes, n));
	__do_free char *what = xasprintf("QEMU could not save snapshot '%s'", tag);
	return run_job(q, "snapshot-save", args, job_id, what, cb, opaque, timeout_ms, err);
}

int snap_qmp_load(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		  snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err)
{
	json_t *args = json_pack("{s:s,s:s,s:s,s:o}", "job-id", job_id, "tag", tag, "vmstate", nodes[0], "devices",
				 node_array(nodes, n));
	__do_free char *what = xasprintf("QEMU could not load snapshot '%s'", tag);
	return run_job(q, "snapshot-load", args, job_id, what, cb, opaque, timeout_ms, err);
}

int snap_qmp_delete(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		    snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err)
{
	json_t *args = json_pack("{s:s,s:s,s:o}", "job-id", job_id, "tag", tag, "devices", node_array(nodes, n));
	__do_free char *what = xasprintf("QEMU could not delete snapshot '%s'", tag);
	return run_job(q, "snapshot-delete", args, job_id, what, cb, opaque, timeout_ms, err);
}

int snap_qmp_settle(struct qmp *q, const char *prefix, int timeout_ms, struct buf *err)
{
	__do_json json_t *jobs = NULL;
	size_t i;
	json_t *it;
	int r, first = 0;

	if ((r = qmp_execute(q, "query-jobs", NULL, &jobs, QMP_CMD_TIMEOUT_MS, err)) < 0)
		return r;
	json_array_foreach(jobs, i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		if (!id || strncmp(id, prefix, strlen(prefix)) != 0)
			continue;
		__do_buf struct buf e = BUF_INIT;
		if ((r = qmp_job_wait(q, id, timeout_ms, &e)) < 0) {
			log_warn("leftover QEMU job %s: %s", id, e.s);
			if (!first) {
				first = r;
				buf_printf(err, "job %s: %s", id, e.s);
			}
		}
	}
	return first;
}

int snap_qmp_list(struct qmp *q, const char *node, json_t **out, struct buf *err)
{
	__do_json json_t *nodes = NULL;
	size_t i;
	json_t *it;
	int r;

	if ((r = qmp_execute(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &nodes, QMP_CMD_TIMEOUT_MS,
			     err)) < 0)
		return r;
	json_array_foreach(nodes, i, it) {
		const char *name = json_string_value(json_object_get(it, "node-name"));
		if (!name || strcmp(name, node) != 0)
			continue;
		json_t *snaps = json_object_get(json_object_get(it, "image"), "snapshots");
		*out = json_is_array(snaps) ? json_incref(snaps) : json_array();
		return 0;
	}
	buf_printf(err, "QEMU has no block node %s", node);
	return -ENOENT;
}
