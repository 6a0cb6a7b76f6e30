/*
 * recover.c - start-up recovery: what a killed corrald left half done.
 *
 * corrald may die at any moment (kill -9, a crash, the host's OOM killer);
 * its guests run on and a new corrald re-attaches to them (rt_attach_all),
 * finishes or rolls back snapshots (svc_snapshot_recover), then calls
 * svc_recover(), which, before any new job can start:
 *  - in every running VM, ends QEMU block jobs and nodes a live disk move
 *    left: a mirror that had already switched the disk over is recorded as
 *    the volume's new place, any other is cancelled and its target node and
 *    file removed;
 *  - ends every job the store still calls "running" with what really
 *    happened: a move, import, clone, restore or backup run that completed
 *    is "succeeded"; one that did not is undone (its files and volumes
 *    removed, using what the job recorded before it made them with
 *    job_record_result) and "failed"; a snapshot job says what snapshot
 *    recovery made of it; any other job is "failed" ("corrald stopped
 *    while the job ran");
 *  - adopts the migrations this host was in the middle of and starts
 *    settling them with the other host (service/migrate_recover.h);
 *  - thaws, in the background, guests whose agent reports their
 *    filesystems frozen (a backup or snapshot cut off mid-freeze,
 *    service/agent.h).
 * Helper processes the dead corrald left were ended before all this, by
 * corrald's start (util/proc.h, proc_track_sweep).
 * A file is removed only if the job recorded it and no volume is registered
 * at that path.  docs/jobs.md, "Crash recovery", lists the cases per job.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "service/ctbackup.h"
#include "service/appliance.h"
#include "recover.h"
#include "service/ct.h"
#include "service/agent.h"
#include "service/internal.h"
#include "backup/backup.h"
#include "service/backup.h"
#include "service/migrate_recover.h"
#include "service/replicate.h"
#include "service/vm.h"
#include "core/job.h"
#include "core/store_local.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "storage/volume.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define RECOVER_QMP_TIMEOUT_MS 10000
#define RECOVER_JOB_TIMEOUT_MS 60000
#define STOPPED_MSG "corrald stopped while the job ran"

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ---- files ------------------------------------------------------------- */

/* true if a volume is registered at `path`. */
static bool path_registered(const char *path)
{
	struct vol_record *list;
	size_t n;
	bool found = false;
	if (store_vol_list(svc_cfg.store, &list, &n) < 0)
		return true; /* cannot tell: keep the file */
	for (size_t i = 0; i < n && !found; i++)
		found = list[i].path && strcmp(list[i].path, path) == 0;
	store_vol_list_free(list, n);
	return found;
}

/* Remove a file a dead job made, unless it is a volume's; true if one was removed. */
static bool remove_orphan(const char *path)
{
	if (!path || access(path, F_OK) < 0 || path_registered(path))
		return false;
	if (unlink(path) < 0) {
		log_warn("recovery: cannot remove %s: %s", path, strerror(errno));
		return false;
	}
	log_info("recovery: removed %s, left by a job corrald did not finish", path);
	return true;
}

static void remove_tmp(const char *tmp)
{
	int r = tmp ? vol_tmp_remove_stale(tmp) : -ENOENT;
	if (r == 0)
		log_info("recovery: removed temp file %s", tmp);
	else if (r != -ENOENT)
		log_warn("recovery: cannot remove temp file %s: %s", tmp, strerror(-r));
}

/*
 * The scratch directories of backups of stopped VMs, <run_dir>/bk<job>-<i>
 * (service/backup.c: qemu-nbd's socket, pid file and log), left by a dead
 * run; their qemu-nbd was ended by the helper sweep (util/proc.h).
 */
static void remove_backup_scratch(void)
{
	DIR *d = opendir(svc_cfg.run_dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "bk", 2) != 0 || !is_digit(de->d_name[2]) || de->d_type != DT_DIR)
			continue;
		int fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *sd = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *f;
		if (!sd) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		while ((f = readdir(sd)))
			if (strcmp(f->d_name, ".") != 0 && strcmp(f->d_name, "..") != 0)
				unlinkat(fd, f->d_name, 0);
		closedir(sd);
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
			log_info("recovery: removed %s/%s, left by a backup run", svc_cfg.run_dir, de->d_name);
	}
	closedir(d);
}

/* ---- live moves: QEMU's side ------------------------------------------- */

/* A node a live move adds (service/volume.c): "disk<N>-m<digits>", its file node with "-f". */
static bool is_move_node(const char *name, bool *file)
{
	const char *p = name;
	if (!name || strncmp(p, "disk", 4) != 0)
		return false;
	p += 4;
	if (!is_digit(*p))
		return false;
	while (is_digit(*p))
		p++;
	if (strncmp(p, "-m", 2) != 0 || !is_digit(p[2]))
		return false;
	p += 2;
	while (is_digit(*p))
		p++;
	*file = strcmp(p, "-f") == 0;
	return *file || *p == '\0';
}

static int qmp_call(struct qmp *q, const char *cmd, json_t *args, json_t **ret, const char *vm)
{
	struct buf e __do_buf = BUF_INIT;
	int r = qmp_execute(q, cmd, args, ret, RECOVER_QMP_TIMEOUT_MS, &e);
	if (r < 0)
		log_warn("vm %s: recovery: %s failed: %s", vm, cmd, e.s);
	return r;
}

/* End every mirror job a move left: cancel it unless it already switched over, and dismiss it. */
static void mirror_jobs_end(struct qmp *q, const char *vm)
{
	__do_json json_t *jobs = NULL;
	size_t i;
	json_t *jb;

	if (qmp_call(q, "query-jobs", NULL, &jobs, vm) < 0)
		return;
	json_array_foreach(jobs, i, jb) {
		const char *id = json_string_value(json_object_get(jb, "id"));
		const char *status = json_string_value(json_object_get(jb, "status"));
		struct buf e __do_buf = BUF_INIT;
		if (!id || strncmp(id, "move-", 5) != 0 || !status)
			continue;
		if (strcmp(status, "concluded") != 0 && strcmp(status, "waiting") != 0 &&
		    strcmp(status, "pending") != 0 && strcmp(status, "aborting") != 0)
			qmp_call(q, "block-job-cancel", json_pack("{s:s,s:b}", "device", id, "force", 1), NULL, vm);
		int r = qmp_job_wait(q, id, RECOVER_JOB_TIMEOUT_MS, &e);
		log_info("vm %s: recovery: mirror job %s (%s) ended%s%s", vm, id, status, r < 0 ? ": " : "",
			 r < 0 ? e.s : "");
	}
}

/* The file behind the format node `node` in query-named-block-nodes' answer, or NULL. */
static const char *node_filename(json_t *nodes, const char *node)
{
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
		if (strcmp(json_string_value(json_object_get(n, "node-name")) ?: "", node) == 0)
			return json_string_value(json_object_get(n, "file"));
	return NULL;
}

/* true if some device of the VM reads from format node `node` (query-block). */
static bool node_inserted(json_t *blocks, const char *node)
{
	size_t i;
	json_t *b;
	json_array_foreach(blocks, i, b) {
		const char *n = json_string_value(json_object_get(json_object_get(b, "inserted"), "node-name"));
		if (n && strcmp(n, node) == 0)
			return true;
	}
	return false;
}

/*
 * A move whose mirror switched the disk over before corrald died: the VM
 * writes to the new image.  Record it as the volume's place (the old image
 * goes) and drop the old nodes; into `moves`: volume -> "finished".
 */
static void switched_finish(struct qmp *q, const char *uuid, const char *vm, json_t *blocks, json_t *nodes,
			    json_t *moves)
{
	__do_json json_t *disks = rt_disk_nodes(uuid);
	const char *vol;
	json_t *d;

	json_object_foreach(disks, vol, d) {
		const char *node = json_string_value(json_object_get(d, "node"));
		const char *file = json_string_value(json_object_get(d, "file"));
		const char *dev = json_string_value(json_object_get(d, "device"));
		size_t i;
		json_t *b;
		if (!node || !dev || node_inserted(blocks, node))
			continue;
		json_array_foreach(blocks, i, b) {
			const char *n = json_string_value(json_object_get(json_object_get(b, "inserted"), "node-name"));
			bool isfile;
			if (!n || strncmp(n, dev, strlen(dev)) != 0 || n[strlen(dev)] != '-' || !is_move_node(n, &isfile) ||
			    isfile)
				continue;
			const char *path = node_filename(nodes, n);
			struct vol_record v = { 0 };
			struct buf e __do_buf = BUF_INIT;
			__do_free char *fnode = xasprintf("%s-f", n);
			if (!path || store_vol_get(svc_cfg.store, vol, &v) < 0)
				break;
			rt_disk_set_nodes(uuid, vol, n, fnode);
			qmp_call(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, vm);
			if (file)
				qmp_call(q, "blockdev-del", json_pack("{s:s}", "node-name", file), NULL, vm);
			if (strcmp(v.path, path) != 0 && vol_move_finish(svc_cfg.store, &v, path, &e) < 0) {
				log_warn("vm %s: volume %s runs on %s after a move, but it cannot be recorded: %s", vm, vol,
					 path, e.s);
			} else {
				log_info("vm %s: the live move of volume %s to %s had switched over; recorded", vm, vol, path);
				json_object_set_new(moves, vol, json_string("finished"));
			}
			vol_record_release(&v);
			break;
		}
	}
}

/* Delete every move node no device uses (format nodes first) and remove their files. */
static void move_nodes_drop(struct qmp *q, const char *vm, json_t *blocks, json_t *nodes)
{
	__do_json json_t *files = json_array();
	for (int pass = 0; pass < 2; pass++) {
		size_t i;
		json_t *n;
		json_array_foreach(nodes, i, n) {
			const char *name = json_string_value(json_object_get(n, "node-name"));
			bool isfile;
			if (!is_move_node(name, &isfile) || isfile != (pass == 1) || node_inserted(blocks, name))
				continue;
			if (pass == 1) {
				/* A file node still under a format node in use is that node's. */
				__do_free char *fmt = xasprintf("%.*s", (int)(strlen(name) - 2), name);
				if (node_inserted(blocks, fmt))
					continue;
			}
			if (qmp_call(q, "blockdev-del", json_pack("{s:s}", "node-name", name), NULL, vm) == 0) {
				log_info("vm %s: recovery: removed node %s left by a live move", vm, name);
				const char *f = json_string_value(json_object_get(n, "file"));
				if (pass == 1 && f)
					json_array_append_new(files, json_string(f));
			}
		}
	}
	size_t i;
	json_t *f;
	json_array_foreach(files, i, f)
		remove_orphan(json_string_value(f));
}

/* true if QEMU has a node named like a move's that is not a node of the VM's disks. */
static bool strange_move_nodes(const char *uuid, json_t *nodes)
{
	__do_json json_t *disks = rt_disk_nodes(uuid);
	size_t i;
	json_t *n;

	json_array_foreach(nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "node-name"));
		const char *vol;
		json_t *d;
		bool isfile, mine = false;
		if (!is_move_node(name, &isfile))
			continue;
		json_object_foreach(disks, vol, d)
			mine = mine || strcmp(json_string_value(json_object_get(d, "node")) ?: "", name) == 0 ||
			       strcmp(json_string_value(json_object_get(d, "file")) ?: "", name) == 0;
		if (!mine)
			return true;
	}
	return false;
}

/* Everything a live move of VM uuid left in its QEMU; moves that had switched over go into `moves`. */
static void recover_vm_moves(const char *uuid, const char *vm, json_t *moves)
{
	struct buf e __do_buf = BUF_INIT;
	struct job_hold *h = NULL;
	struct rt_ref *ref = NULL;
	struct qmp *q;

	if (job_hold_vm(uuid, vm, "recover", &h, &e) < 0)
		return;
	if ((q = rt_qmp_acquire(uuid, &ref, &e))) {
		__do_json json_t *blocks = NULL;
		__do_json json_t *nodes = NULL;
		/* One query per VM when no move was cut off (a mirror job always holds its target node). */
		if (qmp_call(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &nodes, vm) == 0 &&
		    strange_move_nodes(uuid, nodes)) {
			json_decref(nodes);
			nodes = NULL;
			mirror_jobs_end(q, vm);
			if (qmp_call(q, "query-block", NULL, &blocks, vm) == 0 &&
			    qmp_call(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &nodes, vm) == 0) {
				switched_finish(q, uuid, vm, blocks, nodes, moves);
				move_nodes_drop(q, vm, blocks, nodes);
			}
		}
		rt_qmp_release(ref);
	}
	job_release(h);
}

/* ---- job records --------------------------------------------------------- */

static const char *res_str(json_t *job, const char *key)
{
	return json_string_value(json_object_get(json_object_get(job, "result"), key));
}

static void job_end(json_t *job, bool ok, const char *why)
{
	int64_t id = json_integer_value(json_object_get(job, "id"));
	store_job_finish(svc_cfg.store, id, ok ? "succeeded" : "failed", ok ? NULL : why);
	log_info("job %lld (%s %s) recovered: %s%s%s", (long long)id, json_string_value(json_object_get(job, "type")),
		 json_string_value(json_object_get(job, "target")), ok ? "succeeded" : "failed", !ok && why ? ": " : "",
		 !ok && why ? why : "");
}

static void recover_move(json_t *job, const char *name, json_t *moves)
{
	const char *path = res_str(job, "path"), *from = res_str(job, "from");
	struct vol_record v = { 0 };

	if (!path || store_vol_get(svc_cfg.store, name, &v) < 0) {
		job_end(job, false, STOPPED_MSG);
		return;
	}
	if (strcmp(v.path, path) == 0 || json_object_get(moves, name)) {
		/* vol_move_finish ran (or recovery ran it): only the old file may be left. */
		if (from && strcmp(from, v.path) != 0)
			remove_orphan(from);
		job_end(job, true, "the move had finished when corrald stopped");
	} else {
		remove_orphan(path);
		remove_tmp(res_str(job, "tmp"));
		__do_free char *why = xasprintf("corrald stopped during the move; it was undone and volume %s stays "
						"in pool %s",
						name, v.pool ? v.pool : "default");
		job_end(job, false, why);
	}
	vol_record_release(&v);
}

static void recover_import(json_t *job, const char *name)
{
	const char *path = res_str(job, "path");
	struct vol_record v = { 0 };
	bool done = path && store_vol_get(svc_cfg.store, name, &v) == 0 && strcmp(v.path, path) == 0;

	vol_record_release(&v);
	if (done) {
		job_end(job, true, NULL);
		return;
	}
	remove_tmp(res_str(job, "tmp"));
	remove_orphan(path);
	job_end(job, false, path ? "corrald stopped during the import; nothing was kept" : STOPPED_MSG);
}

/*
 * Remove the volumes a dead clone or restore recorded ({"name","path"}):
 * a volume only if it is registered at that very path and no VM uses it,
 * a file only if no volume is registered at it.
 */
static void undo_volumes(json_t *vols, const char *what)
{
	size_t i;
	json_t *d;

	pthread_mutex_lock(&svc_defs_lock);
	json_array_foreach(vols, i, d) {
		const char *vol = json_string_value(json_object_get(d, "name"));
		const char *path = json_string_value(json_object_get(d, "path"));
		struct vol_record v = { 0 };
		struct buf e __do_buf = BUF_INIT;
		if (!vol || !path)
			continue;
		if (store_vol_get(svc_cfg.store, vol, &v) == 0 && strcmp(v.path, path) == 0 && !v.vm) {
			if (vol_delete(svc_cfg.store, vol, &e) < 0)
				log_warn("recovery of %s: cannot remove volume %s: %s", what, vol, e.s);
			else
				log_info("recovery of %s: removed volume %s", what, vol);
		}
		vol_record_release(&v);
		remove_tmp(json_string_value(json_object_get(d, "tmp")));
		remove_orphan(path);
	}
	pthread_mutex_unlock(&svc_defs_lock);
}

/* A job that ends by defining VM `name` (clone, vm-import): done once the VM
 * exists; else the volumes its result lists go ("<kind> <name>" in the log). */
static void recover_new_vm(json_t *job, const char *name, const char *kind, const char *gone)
{
	json_t *vols = json_object_get(json_object_get(job, "result"), "volumes");
	char uuid[37];

	if (store_vm_lookup(svc_cfg.store, name, uuid) == 0) {
		job_end(job, true, NULL);
		return;
	}
	if (!json_is_array(vols)) {
		job_end(job, false, STOPPED_MSG);
		return;
	}
	__do_free char *what = xasprintf("%s %s", kind, name);
	undo_volumes(vols, what);
	job_end(job, false, gone);
}

static void recover_clone(json_t *job, const char *name)
{
	recover_new_vm(job, name, "clone", "corrald stopped during the clone; nothing was kept");
}

/* A vm-import: its scratch copies go in any case. */
static void recover_vm_import(json_t *job, const char *name)
{
	const char *scratch = res_str(job, "scratch");

	if (scratch)
		svc_vm_import_scratch_remove(scratch);
	recover_new_vm(job, name, "vm import", "corrald stopped during the import; nothing of it was kept");
}

/*
 * A restore under a new name is complete once its VM (or, for one disk, its
 * volume) is recorded; otherwise what it wrote goes.  Over the original, the
 * files written next to the images (*.restore) go; the images are whatever
 * the renames had reached.
 */
static void recover_restore(json_t *job)
{
	json_t *res = json_object_get(job, "result");
	json_t *vols = json_object_get(res, "volumes");
	const char *vm = json_string_value(json_object_get(res, "vm"));
	bool over = json_is_true(json_object_get(res, "over"));
	char uuid[37];
	const char *ct = json_string_value(json_object_get(res, "container"));

	if (ct) { /* a container's restore (ctbackup.c) */
		bool made = svc_ctb_is_container(ct);
		if (!made)
			svc_ctb_restore_recover(ct);
		job_end(job, made, made ? NULL : "corrald stopped during the restore; nothing was kept");
		return;
	}

	if (!json_is_array(vols)) {
		job_end(job, false, STOPPED_MSG);
		return;
	}
	if (!over) {
		json_t *d0 = json_array_get(vols, 0);
		struct vol_record v = { 0 };
		bool done = vm ? store_vm_lookup(svc_cfg.store, vm, uuid) == 0
			       : d0 && store_vol_get(svc_cfg.store, json_string_value(json_object_get(d0, "name")), &v) == 0 &&
					 strcmp(v.path, json_string_value(json_object_get(d0, "path")) ?: "") == 0;
		vol_record_release(&v);
		if (done) {
			job_end(job, true, NULL);
			return;
		}
	}
	undo_volumes(vols, "a restore");
	job_end(job, false, over ? "corrald stopped during the restore; the files it wrote were removed"
				 : "corrald stopped during the restore; nothing was kept");
}

/*
 * A backup run: the VMs it was backing up that got a backup made since the
 * job started (a backup becomes visible only once it is durable).
 */
static void recover_backup(json_t *job)
{
	json_t *res = json_object_get(job, "result");
	const char *repo = json_string_value(json_object_get(res, "repo"));
	json_t *names = json_object_get(res, "backing_up");
	const char *started = json_string_value(json_object_get(job, "started"));
	int64_t since = started ? time_parse_rfc3339(started) / 1000 * 1000 : 0; /* backup times have seconds */
	struct buf made __do_buf = BUF_INIT;
	struct buf missing __do_buf = BUF_INIT;
	size_t i, nmade = 0;
	json_t *name;

	if (!repo || !json_is_array(names) || !since) {
		job_end(job, false, STOPPED_MSG);
		return;
	}
	json_array_foreach(names, i, name) {
		const char *vm = json_string_value(name);
		__do_json json_t *list = NULL;
		struct buf e __do_buf = BUF_INIT;
		const char *id = NULL;
		size_t k;
		json_t *b;
		if (!vm)
			continue;
		svc_ctb_recover(vm); /* a container it left frozen */
		if (svc_backup_list(repo, vm, &list, &e) == 0) {
			json_array_foreach(list, k, b) {
				const char *t = json_string_value(json_object_get(b, "time"));
				if (!json_object_get(b, "error") && t && time_parse_rfc3339(t) >= since &&
				    strcmp(json_string_value(json_object_get(b, "vm")) ?: "", vm) == 0)
					id = json_string_value(json_object_get(b, "id"));
			}
		}
		struct buf *into = id ? &made : &missing;
		buf_printf(into, "%s%s", into->len ? ", " : "", id ? id : vm);
		nmade += id != NULL;
	}
	if (nmade == json_array_size(names)) {
		job_end(job, true, NULL);
		return;
	}
	__do_free char *why = xasprintf("corrald stopped during the backup run; %s%s%sno backup of %s was made (the "
					"chunks it stored stay in the repository until the next prune)",
					made.len ? "made: " : "", made.len ? made.s : "", made.len ? "; " : "", missing.s);
	job_end(job, false, why);
}

/* After svc_snapshot_recover: say what it made of the snapshot job's work. */
static void recover_snapshot(json_t *job, const char *type, const char *target)
{
	const char *vm = json_string_value(json_object_get(job, "vm"));
	const char *slash = target ? strchr(target, '/') : NULL;
	struct snap_record s = { 0 };
	bool exists, ready;

	if (!vm || !slash) {
		job_end(job, false, STOPPED_MSG);
		return;
	}
	exists = store_snap_get(svc_cfg.store, vm, slash + 1, &s) == 0;
	ready = exists && s.state && strcmp(s.state, "ready") == 0;
	snap_record_release(&s);
	if (strcmp(type, "snapshot-create") == 0)
		job_end(job, ready, "corrald stopped while the snapshot was taken; it was rolled back");
	else if (strcmp(type, "snapshot-delete") == 0)
		job_end(job, !exists, "corrald stopped while the snapshot was deleted; it could not be finished");
	else
		job_end(job, ready, "corrald stopped during the revert; it could not be finished");
}

void svc_recover(void)
{
	__do_json json_t *moves = json_object();
	__do_json json_t *stale = store_job_running(svc_cfg.store);
	struct vm_record *list;
	size_t n, i;
	json_t *job;

	remove_backup_scratch();
	if (store_vm_list(svc_cfg.store, &list, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (rt_is_active(list[i].def->uuid)) {
				recover_vm_moves(list[i].def->uuid, list[i].def->name, moves);
			} else {
				/* Running ones are cleaned with their QEMU by svc_backup_init. */
				__do_free char *dir = xasprintf("%s/%s", svc_cfg.run_dir, list[i].def->uuid);
				backup_cleanup_files(dir);
			}
		}
		store_vm_list_free(list, n);
	}
	json_array_foreach(stale, i, job) {
		const char *type = json_string_value(json_object_get(job, "type"));
		const char *target = json_string_value(json_object_get(job, "target"));
		if (!type || !target)
			continue;
		if (strcmp(type, "move") == 0)
			recover_move(job, target, moves);
		else if (strcmp(type, "import") == 0)
			recover_import(job, target);
		else if (strcmp(type, "clone") == 0)
			recover_clone(job, target);
		else if (strcmp(type, "vm-import") == 0)
			recover_vm_import(job, target);
		else if (strcmp(type, "restore") == 0)
			recover_restore(job);
		else if (strcmp(type, "backup") == 0)
			recover_backup(job);
		else if (strncmp(type, "snapshot-", 9) == 0)
			recover_snapshot(job, type, target);
		else if (strcmp(type, "ct-clone") == 0)
			job_end(job, svc_ct_clone_recover(json_object_get(job, "result")),
				"corrald stopped during the clone; nothing was kept");
		else if (strcmp(type, "ct-create") == 0) {
			job_end(job, svc_ct_create_recover(json_object_get(job, "result")),
				"corrald stopped during the create; nothing was kept");
		} else if (strcmp(type, "ct-move") == 0)
			job_end(job, svc_ct_move_recover(json_object_get(job, "result")),
				"corrald stopped during the move; the container keeps its old root");
	}
	/* Every other job (VM actions, backups, restores...) ran no step that survives corrald. */
	store_job_fail_stale(svc_cfg.store, STOPPED_MSG);
	/* Replication: the replica daemons this host serves, and the mirrors it follows; loaded before
	 * the migration reconciler starts, which settles a switchover onto a replica (migrate.h). */
	svc_replica_adopt();
	svc_replicate_recover();
	/* Migrations: adopt the incoming ones, settle the outgoing ones with their peers (in the background). */
	svc_migrate_recover();
	/* Guests a killed corrald left with frozen filesystems (in the background). */
	svc_agent_recover();
}
