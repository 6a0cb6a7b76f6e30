/*
 * fleece.c - image-fleecing points through QMP, and cleanup after a crash.
 *
 * QEMU 7.2 offers two ways to fleece a running disk.  The copy-before-write
 * filter + snapshot-access node pair needs the filter inserted above the
 * device's root node (blockdev-reopen of the parent or qom-set of the
 * device's drive), which is invasive for a node the guest is using and hard
 * to undo after a crash.  The classic method (QEMU iotest 222) needs no graph
 * surgery by us: a temporary qcow2 overlay whose backing is the disk's format
 * node, and a `blockdev-backup sync=none` job from the disk to that overlay,
 * which inserts copy-before-write itself and moves the old contents of every
 * cluster the guest overwrites into the overlay.  Reading the overlay
 * therefore yields the disk as it was at the transaction.  Cancelling the job
 * removes the filter again, and blockdev-del drops the overlay.  Verified on
 * QEMU 7.2: the overlay export shows the bitmap of the backing node through
 * the NBD "qemu:dirty-bitmap:" context once that bitmap is disabled.
 *
 * Names: overlay node "corral-fleece-<i>" (its file node "...-file", the job
 * has the same id), file <run_dir>/corral-fleece-<i>.qcow2, NBD export
 * "corral-backup-<i>" (also its export id), server socket
 * <run_dir>/corral-backup.sock.  backup_cleanup_vm() removes exactly those.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/fleece.h"
#include "backup/nbdsrc.h"
#include "qemu/qmp.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/runas.h"
#include "util/common.h"

#define NODE_PREFIX "corral-fleece-"
#define EXPORT_PREFIX "corral-backup-"
#define SOCKET_NAME "corral-backup.sock"
#define TEARDOWN_WAIT_MS 10000

struct fleece_disk {
	char *node, *old_bitmap, *new_bitmap;
	char *overlay_node, *overlay_path, *export_name;
	uint64_t size;
	bool added, exported;
};

struct fleece {
	struct qmp *qmp;
	char *socket;
	struct fleece_disk *disks;
	size_t n;
	bool txn_done, server_started;
};

/* Run a QMP command; on failure append "<what>: <QEMU's error>." to err. */
static int qmp_do(struct qmp *q, const char *cmd, json_t *args, json_t **ret, const char *what, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_execute(q, cmd, args, ret, 0, &e);
	if (r < 0) {
		buf_printf(err, "%s failed: ", what);
		nbdsrc_err_add_output(err, &e);
	}
	buf_release(&e);
	return r;
}

static json_t *node_bitmaps(json_t *nodes, const char *node)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "node-name"));
		if (name && strcmp(name, node) == 0)
			return json_object_get(n, "dirty-bitmaps");
	}
	return NULL;
}

static int query_nodes(struct qmp *q, json_t **nodes, struct buf *err)
{
	return qmp_do(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), nodes,
		      "Listing the VM's block nodes", err);
}

int fleece_bitmap_usable(struct qmp *q, const char *node, const char *name, const char **why, struct buf *err)
{
	__do_json json_t *nodes = NULL;
	int r = query_nodes(q, &nodes, err);
	if (r < 0)
		return r;
	json_t *bms = node_bitmaps(nodes, node);
	size_t i;
	json_t *b;
	json_array_foreach(bms, i, b) {
		const char *bn = json_string_value(json_object_get(b, "name"));
		if (!bn || strcmp(bn, name) != 0)
			continue;
		if (!json_is_true(json_object_get(b, "persistent")))
			*why = "its dirty bitmap is not persistent";
		else if (json_is_true(json_object_get(b, "inconsistent")))
			*why = "its dirty bitmap is inconsistent (QEMU stopped uncleanly)";
		else if (json_is_true(json_object_get(b, "busy")))
			*why = "its dirty bitmap is in use by another operation";
		else if (!json_is_true(json_object_get(b, "recording")))
			*why = "its dirty bitmap stopped recording (an earlier backup did not finish)";
		else
			return 0;
		return 1;
	}
	*why = "the dirty bitmap of the previous backup is missing";
	return 1;
}

int fleece_node_bitmaps_supported(struct qmp *q, const char *node, bool *ok, struct buf *err)
{
	__do_json json_t *nodes = NULL;
	int r = query_nodes(q, &nodes, err);
	if (r < 0)
		return r;
	*ok = true;
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "node-name"));
		if (!name || strcmp(name, node) != 0)
			continue;
		json_t *fs = json_object_get(json_object_get(n, "image"), "format-specific");
		const char *compat = json_string_value(json_object_get(json_object_get(fs, "data"), "compat"));
		*ok = !compat || strcmp(compat, "0.10") != 0;
	}
	return 0;
}

static int overlay_create(const char *path, uint64_t size, struct buf *err)
{
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	c.helper = true;
	cmd_add(&c, "create");
	cmd_add(&c, "-q");
	cmd_add(&c, "-f");
	cmd_add(&c, "qcow2");
	cmd_add(&c, "--");
	cmd_add(&c, path);
	cmd_addf(&c, "%llu", (unsigned long long)size);
	struct buf e = BUF_INIT;
	int r = cmd_run(&c, NULL, &e);
	cmd_release(&c);
	if (r != 0) {
		buf_printf(err, "Creating the fleecing overlay %s failed: ", path);
		if (r < 0)
			buf_printf(err, "%s.", strerror(-r));
		else
			nbdsrc_err_add_output(err, &e);
	}
	buf_release(&e);
	if (r == 0)
		r = runas_own(path, err); /* QEMU writes into it, as the qemu user */
	return r == 0 ? 0 : (r < 0 ? r : -EIO);
}

/* Poll `query` until no entry has member `key` equal to id (or timeout). */
static int wait_gone(struct qmp *q, const char *query, const char *key, const char *id, struct buf *err)
{
	for (int64_t t0 = time_mono_ms(); time_mono_ms() - t0 < TEARDOWN_WAIT_MS; time_sleep_ms(20)) {
		__do_json json_t *list = NULL;
		int r = qmp_do(q, query, NULL, &list, "Waiting for the backup's QEMU objects to go away", err);
		if (r < 0)
			return r;
		bool found = false;
		size_t i;
		json_t *e;
		json_array_foreach(list, i, e) {
			const char *v = json_string_value(json_object_get(e, key));
			if (v && strcmp(v, id) == 0)
				found = true;
		}
		if (!found)
			return 0;
	}
	buf_printf(err, "QEMU did not remove '%s' within %d s.", id, TEARDOWN_WAIT_MS / 1000);
	return -ETIMEDOUT;
}

/* Teardown goes on after an error: the first one is the answer (appended to
 * err), later ones are only logged.  step holds the step's message. */
static void keep_first(int *first, int r, struct buf *step, struct buf *err)
{
	if (r < 0 && *first == 0) {
		*first = r;
		buf_add(err, step->s, step->len);
	} else if (r < 0) {
		log_warn("%s", step->s);
	}
	buf_reset(step);
}

/* An export already gone (its server was stopped) counts as removed. */
static int export_del(struct qmp *q, const char *id, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_do(q, "block-export-del", json_pack("{s:s}", "id", id), NULL, "Removing the backup NBD export", &e);
	int rw = wait_gone(q, "query-block-exports", "id", id, err);
	if (rw == 0 && r < 0)
		log_debug("%s", e.s);
	else if (r < 0)
		buf_add(err, e.s, e.len);
	buf_release(&e);
	return rw < 0 ? rw : 0;
}

static int job_cancel(struct qmp *q, const char *id, struct buf *err)
{
	int r = qmp_do(q, "block-job-cancel", json_pack("{s:s,s:b}", "device", id, "force", 1), NULL,
		       "Cancelling the fleecing job", err);
	return r < 0 ? r : wait_gone(q, "query-jobs", "id", id, err);
}

static int node_del(struct qmp *q, const char *node, struct buf *err)
{
	return qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL,
		      "Removing the fleecing overlay", err);
}

/* Remove every persistent corral-* bitmap of node except keep. */
static int bitmaps_prune(struct qmp *q, const char *node, const char *keep, struct buf *err)
{
	__do_json json_t *nodes = NULL;
	int r = query_nodes(q, &nodes, err);
	if (r < 0)
		return r;
	size_t i;
	json_t *b;
	int first = 0;
	struct buf step = BUF_INIT;
	json_array_foreach(node_bitmaps(nodes, node), i, b) {
		const char *bn = json_string_value(json_object_get(b, "name"));
		if (!bn || strncmp(bn, FLEECE_BITMAP_PREFIX, strlen(FLEECE_BITMAP_PREFIX)) != 0 ||
		    (keep && strcmp(bn, keep) == 0))
			continue;
		keep_first(&first, qmp_do(q, "block-dirty-bitmap-remove", json_pack("{s:s,s:s}", "node", node, "name", bn),
					  NULL, "Removing an old backup bitmap", &step), &step, err);
	}
	buf_release(&step);
	return first;
}

int fleece_bitmaps_drop(struct qmp *q, const char *node, struct buf *err) { return bitmaps_prune(q, node, NULL, err); }

/* The run failed: the old bitmap records again and absorbs what the new one
 * saw since the point; the new one goes. */
static int bitmaps_rollback(struct qmp *q, const struct fleece_disk *d, struct buf *err)
{
	int first = 0;
	struct buf step = BUF_INIT;
	if (d->old_bitmap) {
		keep_first(&first, qmp_do(q, "block-dirty-bitmap-enable",
					  json_pack("{s:s,s:s}", "node", d->node, "name", d->old_bitmap), NULL,
					  "Re-enabling the previous backup bitmap", &step), &step, err);
		if (first == 0 && d->new_bitmap)
			keep_first(&first, qmp_do(q, "block-dirty-bitmap-merge",
						  json_pack("{s:s,s:s,s:[s]}", "node", d->node, "target", d->old_bitmap,
							    "bitmaps", d->new_bitmap),
						  NULL, "Merging the new backup bitmap into the previous one", &step),
				   &step, err);
	}
	if (first == 0 && d->new_bitmap)
		keep_first(&first, qmp_do(q, "block-dirty-bitmap-remove",
					  json_pack("{s:s,s:s}", "node", d->node, "name", d->new_bitmap), NULL,
					  "Removing the new backup bitmap", &step), &step, err);
	buf_release(&step);
	return first;
}

static void fleece_free(struct fleece *f)
{
	for (size_t i = 0; i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		free(d->node);
		free(d->old_bitmap);
		free(d->new_bitmap);
		free(d->overlay_node);
		free(d->overlay_path);
		free(d->export_name);
	}
	free(f->disks);
	free(f->socket);
	free(f);
}

int fleece_end(struct fleece *f, bool success, struct buf *err)
{
	int first = 0;
	struct buf step = BUF_INIT;
	for (size_t i = 0; i < f->n; i++)
		if (f->disks[i].exported)
			keep_first(&first, export_del(f->qmp, f->disks[i].export_name, &step), &step, err);
	if (f->server_started) {
		/* Already stopped is fine: nothing of ours is left on it. */
		qmp_do(f->qmp, "nbd-server-stop", NULL, NULL, "Stopping the backup NBD server", &step);
		buf_reset(&step);
		unlink(f->socket);
	}
	for (size_t i = 0; i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		if (f->txn_done)
			keep_first(&first, job_cancel(f->qmp, d->overlay_node, &step), &step, err);
		if (d->added)
			keep_first(&first, node_del(f->qmp, d->overlay_node, &step), &step, err);
		unlink(d->overlay_path);
	}
	for (size_t i = 0; f->txn_done && i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		if (success && d->new_bitmap)
			keep_first(&first, bitmaps_prune(f->qmp, d->node, d->new_bitmap, &step), &step, err);
		else if (!success)
			keep_first(&first, bitmaps_rollback(f->qmp, d, &step), &step, err);
	}
	buf_release(&step);
	fleece_free(f);
	return first;
}

static int take_steps(struct fleece *f, struct buf *err)
{
	struct qmp *q = f->qmp;
	for (size_t i = 0; i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		unlink(d->overlay_path);
		int r = overlay_create(d->overlay_path, d->size, err);
		if (r < 0)
			return r;
		__do_free char *fnode = xasprintf("%s-file", d->overlay_node);
		r = qmp_do(q, "blockdev-add",
			   json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:s}", "driver", "qcow2", "node-name", d->overlay_node,
				     "file", "driver", "file", "filename", d->overlay_path, "node-name", fnode,
				     "backing", d->node),
			   NULL, "Adding the fleecing overlay", err);
		if (r < 0)
			return r;
		d->added = true;
	}
	json_t *actions = json_array();
	for (size_t i = 0; i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		json_array_append_new(actions, json_pack("{s:s,s:{s:s,s:s,s:s,s:s}}", "type", "blockdev-backup", "data",
							 "job-id", d->overlay_node, "device", d->node, "target",
							 d->overlay_node, "sync", "none"));
		if (d->new_bitmap)
			json_array_append_new(actions,
					      json_pack("{s:s,s:{s:s,s:s,s:b}}", "type", "block-dirty-bitmap-add", "data",
							"node", d->node, "name", d->new_bitmap, "persistent", 1));
		if (d->old_bitmap)
			json_array_append_new(actions, json_pack("{s:s,s:{s:s,s:s}}", "type", "block-dirty-bitmap-disable",
								 "data", "node", d->node, "name", d->old_bitmap));
	}
	int r = qmp_do(q, "transaction", json_pack("{s:o}", "actions", actions), NULL,
		       "Taking the backup's point-in-time view (QMP transaction)", err);
	if (r < 0)
		return r;
	f->txn_done = true;
	r = qmp_do(q, "nbd-server-start", json_pack("{s:{s:s,s:{s:s}}}", "addr", "type", "unix", "data", "path", f->socket),
		   NULL, "Starting QEMU's NBD server for the backup", err);
	if (r < 0)
		return r;
	f->server_started = true;
	for (size_t i = 0; i < f->n; i++) {
		struct fleece_disk *d = &f->disks[i];
		json_t *args = json_pack("{s:s,s:s,s:s,s:s,s:b}", "type", "nbd", "id", d->export_name, "node-name",
					 d->overlay_node, "name", d->export_name, "writable", 0);
		if (d->old_bitmap)
			json_object_set_new(args, "bitmaps", json_pack("[s]", d->old_bitmap));
		r = qmp_do(q, "block-export-add", args, NULL, "Exporting the backup view over NBD", err);
		if (r < 0)
			return r;
		d->exported = true;
	}
	return 0;
}

int fleece_take(struct qmp *q, const char *run_dir, const struct fleece_disk_spec *disks, size_t n,
		struct fleece **out, struct buf *err)
{
	struct fleece *f = xcalloc(1, sizeof(*f));
	f->qmp = q;
	f->socket = xasprintf("%s/%s", run_dir, SOCKET_NAME);
	f->disks = xcalloc(n ? n : 1, sizeof(*f->disks));
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		struct fleece_disk *d = &f->disks[i];
		d->node = xstrdup(disks[i].node);
		d->size = disks[i].size;
		d->old_bitmap = disks[i].old_bitmap ? xstrdup(disks[i].old_bitmap) : NULL;
		d->new_bitmap = disks[i].new_bitmap ? xstrdup(disks[i].new_bitmap) : NULL;
		d->overlay_node = xasprintf(NODE_PREFIX "%zu", i);
		d->overlay_path = xasprintf("%s/" NODE_PREFIX "%zu.qcow2", run_dir, i);
		d->export_name = xasprintf(EXPORT_PREFIX "%zu", i);
	}
	if (strlen(f->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		buf_printf(err, "The run directory %s is too long for the backup's NBD socket.", run_dir);
		fleece_end(f, false, err);
		return -ENAMETOOLONG;
	}
	int r = take_steps(f, err);
	if (r < 0) {
		struct buf ignored = BUF_INIT;
		fleece_end(f, false, &ignored);
		if (ignored.len)
			log_warn("Cleaning up a failed backup point: %s", ignored.s);
		buf_release(&ignored);
		return r;
	}
	*out = f;
	return 0;
}

const char *fleece_socket(const struct fleece *f)
{
	return f->socket;
}

const char *fleece_export(const struct fleece *f, size_t i)
{
	return f->disks[i].export_name;
}

/* Delete every entry of `query` whose `key` starts with prefix via `del`. */
static int cleanup_list(struct qmp *q, const char *query, const char *key, const char *prefix,
			int (*del)(struct qmp *, const char *, struct buf *), struct buf *err)
{
	__do_json json_t *list = NULL;
	int r = qmp_do(q, query, strcmp(query, "query-named-block-nodes") == 0 ? json_pack("{s:b}", "flat", 1) : NULL,
		       &list, "Looking for backup leftovers in QEMU", err);
	if (r < 0)
		return r;
	int first = 0;
	struct buf step = BUF_INIT;
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e) {
		const char *v = json_string_value(json_object_get(e, key));
		size_t pl = strlen(prefix);
		/* Overlay file nodes go with their overlay. */
		if (v && strncmp(v, prefix, pl) == 0 && !strstr(v + pl, "-file"))
			keep_first(&first, del(q, v, &step), &step, err);
	}
	buf_release(&step);
	return first;
}

int backup_cleanup_vm(struct qmp *qmp, const char *run_dir, struct buf *err)
{
	int first = 0;
	struct buf step = BUF_INIT;
	keep_first(&first, cleanup_list(qmp, "query-block-exports", "id", EXPORT_PREFIX, export_del, &step), &step, err);
	__do_free char *sock = xasprintf("%s/%s", run_dir, SOCKET_NAME);
	if (fs_exists(sock)) {
		/* Only ours uses this socket; "not running" is fine. */
		qmp_do(qmp, "nbd-server-stop", NULL, NULL, "Stopping the backup NBD server", &step);
		buf_reset(&step);
		unlink(sock);
	}
	keep_first(&first, cleanup_list(qmp, "query-jobs", "id", NODE_PREFIX, job_cancel, &step), &step, err);
	keep_first(&first, cleanup_list(qmp, "query-named-block-nodes", "node-name", NODE_PREFIX, node_del, &step),
		   &step, err);
	buf_release(&step);
	backup_cleanup_files(run_dir);
	return first;
}

void backup_cleanup_files(const char *run_dir)
{
	DIR *dir = opendir(run_dir);
	if (!dir)
		return;
	struct dirent *de;
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);
		bool overlay = strncmp(de->d_name, NODE_PREFIX, strlen(NODE_PREFIX)) == 0 && l > 6 &&
			       strcmp(de->d_name + l - 6, ".qcow2") == 0;
		bool nbdsock = strncmp(de->d_name, "corral-nbd-", 11) == 0 || strcmp(de->d_name, SOCKET_NAME) == 0;
		if (overlay || nbdsock)
			unlinkat(dirfd(dir), de->d_name, 0);
	}
	closedir(dir);
}
