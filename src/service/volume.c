/*
 * volume.c - volumes and import jobs (see volume.h).
 */
#include <errno.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "volume.h"
#include "service/hostpath.h"
#include "service/srcprobe.h"
#include "service/clone.h"
#include "service/pool.h"
#include "service/vm.h"
#include "service/replicate.h"
#include "service/internal.h"
#include "core/job.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "storage/volume.h"
#include "storage/dirvol.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static json_t *vol_json(const struct vol_record *v)
{
	json_t *j = vol_to_json(v);
	json_object_set_new(j, "used_by", v->vm_name ? json_string(v->vm_name)
						     : v->ct_name ? json_string(v->ct_name) : json_null());
	json_object_set_new(j, "used_by_kind", v->vm_name ? json_string("vm")
							  : v->ct_name ? json_string("container") : json_null());
	json_object_set_new(j, "backing", v->backing ? json_string(v->backing) : json_null());
	json_object_set_new(j, "readonly", json_boolean(v->readonly));
	return j;
}

json_t *svc_vol_list(void)
{
	struct vol_record *list;
	size_t n;
	json_t *arr = json_array();
	if (store_vol_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, vol_json(&list[i]));
		store_vol_list_free(list, n);
	}
	return json_pack("{s:o}", "volumes", arr);
}

static int get_vol(const char *name, struct vol_record *v, struct buf *err)
{
	const char *bad = str_name_invalid(name);
	if (bad) {
		buf_printf(err, "invalid volume name: %s", bad);
		return -EINVAL;
	}
	if (store_vol_get(svc_cfg.store, name, v) < 0) {
		buf_printf(err, "volume '%s' not found", name);
		return -ENOENT;
	}
	return 0;
}

static pthread_mutex_t moving_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *moving; /* names of volumes being moved */

/* -EBUSY + message while `name` is being moved (delete and resize wait for the move). */
static int check_not_moving(const char *name, struct buf *err)
{
	pthread_mutex_lock(&moving_lock);
	bool m = json_object_get(moving, name) != NULL;
	pthread_mutex_unlock(&moving_lock);
	if (!m)
		return 0;
	buf_printf(err, "volume '%s' is being moved; try again when the move is done", name);
	return -EBUSY;
}

int svc_vol_get(const char *name, json_t **out, struct buf *err)
{
	struct vol_record v = { 0 };
	int r = get_vol(name, &v, err);
	if (r == 0) {
		char *stale = svc_volume_stale_of(name);
		*out = vol_json(&v);
		/* an older copy of a VM's disk, which a replication of that VM here reuses (docs/ha.md) */
		json_object_set_new(*out, "stale_of", stale ? json_string(stale) : json_null());
		free(stale);
	}
	vol_record_release(&v);
	return r;
}

int svc_vol_create(const char *name, uint64_t size, const char *format, const char *pool, json_t **out,
		   struct buf *err)
{
	__do_free char *dir = NULL;
	bool is_dir = format && strcmp(format, VOL_DIR_FORMAT) == 0;
	if (is_dir && size) {
		buf_adds(err, "a directory volume (format dir) has no size: it grows up to its pool's free space");
		return -EINVAL;
	}
	int r = svc_pool_hold(pool, &dir, err);
	if (r < 0)
		return r;
	r = is_dir ? vol_dir_create(svc_cfg.store, dir, name, 0, 0, NULL, err)
		   : vol_create(svc_cfg.store, dir, name, size, format ? format : "qcow2", err);
	svc_pool_put(pool);
	if (r == 0)
		r = svc_vol_get(name, out, err);
	return r;
}

/* uuid of the VM whose definition uses `volume`, or "" */
static void vm_of_volume(const char *volume, svc_uuid out)
{
	__do_free char *uuid = NULL;
	out[0] = '\0';
	if (store_vol_owner(svc_cfg.store, volume, &uuid, NULL) == 0 && uuid)
		snprintf(out, sizeof(svc_uuid), "%s", uuid);
}

int svc_vol_resize(const char *name, uint64_t size, json_t **out, struct buf *err)
{
	struct vol_record v = { 0 };
	struct vol_info info;
	struct job_hold *h = NULL;
	svc_uuid vm;
	int r;

	if ((r = get_vol(name, &v, err)) < 0)
		return r;
	if (v.readonly) {
		buf_printf(err, "volume '%s' belongs to a template and is read-only", name);
		vol_record_release(&v);
		return -EBUSY;
	}
	if (strcmp(v.format, VOL_DIR_FORMAT) == 0) {
		buf_printf(err, "volume '%s' is a directory volume: it has no size to change (it uses its pool's space)",
			   name);
		vol_record_release(&v);
		return -EINVAL;
	}
	if ((r = check_not_moving(name, err)) < 0) {
		vol_record_release(&v);
		return r;
	}
	vm_of_volume(name, vm);
	if (vm[0] && (r = job_hold_vm(vm, NULL, "disk-resize", &h, err)) < 0)
		goto out;
	if ((r = vol_info(v.path, v.format, &info, err)) < 0)
		goto unlock;
	if (size < info.capacity) {
		char a[16], b[16];
		buf_printf(err, "volume '%s' is %s; shrinking to %s is not supported (it destroys data)", name,
			   str_fmt_size(info.capacity, a, sizeof(a)), str_fmt_size(size, b, sizeof(b)));
		r = -EINVAL;
		goto unlock;
	}
	if (size > VOL_MAX_SIZE) {
		buf_adds(err, "size is larger than 64 TiB");
		r = -EINVAL;
		goto unlock;
	}
	if (vm[0] && rt_is_active(vm))
		r = rt_disk_resize(vm, name, size, err);
	else
		r = vol_resize_offline(svc_cfg.store, name, size, err);
	if (r == 0 && vm[0]) {
		char a[16];
		__do_free char *d = xasprintf("disk %s resized to %s", name, str_fmt_size(size, a, sizeof(a)));
		svc_vm_event(vm, "disk", d);
	}
unlock:
	job_release(h);
out:
	vol_record_release(&v);
	if (r == 0)
		r = svc_vol_get(name, out, err);
	return r;
}

int svc_vol_delete(const char *name, struct buf *err)
{
	struct vol_record v = { 0 };
	int r;
	if ((r = get_vol(name, &v, err)) < 0)
		return r;
	vol_record_release(&v);
	if ((r = check_not_moving(name, err)) < 0)
		return r;
	pthread_mutex_lock(&svc_defs_lock);
	__do_free char *user = svc_vm_using_volume(name);
	__do_free char *replica = svc_replica_of_volume(name);
	struct buf clones __do_buf = BUF_INIT;
	struct vol_record cv = { 0 };
	__do_free char *ctuser = store_vol_get(svc_cfg.store, name, &cv) == 0 && cv.ct_name ? xstrdup(cv.ct_name) : NULL;
	vol_record_release(&cv);
	if (user) {
		buf_printf(err, "volume '%s' is used by vm '%s'; detach it first", name, user);
		r = -EBUSY;
	} else if (ctuser) {
		buf_printf(err, "volume '%s' is used by container '%s' (its root or a mount point); %s", name, ctuser,
			   "remove the mount with 'corral ct edit --unmount', or delete the container");
		r = -EBUSY;
	} else if (replica) {
		buf_printf(err, "volume '%s' is the replica of vm %s (docs/ha.md); it goes when that host stops replicating",
			   name, replica);
		r = -EBUSY;
	} else if (svc_linked_clones(&name, 1, &clones) > 0) {
		buf_printf(err, "volume '%s' is the base of linked clones: %s; delete them first", name, clones.s);
		r = -EBUSY;
	} else if ((r = vol_delete(svc_cfg.store, name, err)) == 0) {
		svc_volume_stale_clear(name);
	}
	pthread_mutex_unlock(&svc_defs_lock);
	return r;
}

/* ---- import jobs -------------------------------------------------------- */

struct import_job {
	char *src, *name, *format, *pool, *dir;
	char *src_format; /* as the admin gave it, or NULL: probed */
	int src_fd; /* src as hostpath opened and checked it: what qemu-img reads */
};

static void import_job_free(void *arg)
{
	struct import_job *j = arg;
	if (!j)
		return;
	free(j->src);
	free(j->name);
	free(j->format);
	free(j->src_format);
	free(j->pool);
	free(j->dir);
	if (j->src_fd >= 0)
		close(j->src_fd);
	free(j);
}

static pthread_mutex_t importing_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *importing; /* names being imported right now */

static void import_unclaim(const char *name)
{
	pthread_mutex_lock(&importing_lock);
	json_object_del(importing, name);
	pthread_mutex_unlock(&importing_lock);
}

static int import_run(struct job *jb, void *arg, struct buf *err)
{
	struct import_job *j = arg;
	__do_free char *path = vol_file_path(j->dir, j->name, j->format);
	__do_free char *tmp = vol_tmp_path(j->dir, j->name, "import");
	/* What start-up recovery removes if corrald dies before the import ends. */
	job_record_result(jb, json_pack("{s:s,s:s}", "path", path, "tmp", tmp));
	int r = vol_import_fmt_fd(svc_cfg.store, j->dir, j->src_fd, j->src, j->name, j->format, j->src_format,
				  svc_job_vol_progress, jb, err);
	job_set_result(jb, r == 0 ? json_pack("{s:s,s:s}", "volume", j->name, "path", path) : NULL);
	import_unclaim(j->name);
	svc_pool_put(j->pool);
	return r;
}

/* Default volume name: file name without directory and extension. */
static char *default_name(const char *path)
{
	__do_free char *copy = xstrdup(path);
	char *base = xstrdup(basename(copy));
	char *dot = strrchr(base, '.');
	if (dot && dot != base)
		*dot = '\0';
	return base;
}

int svc_vol_import(const char *path, const char *name, const char *format, const char *src_format, const char *pool,
		   json_t **job, struct buf *err)
{
	__do_free char *nm = name ? xstrdup(name) : default_name(path);
	__do_free char *dir = NULL, *detected = NULL;
	uint64_t vsize;
	int r;

	if (!format)
		format = "qcow2";
	pthread_mutex_lock(&importing_lock);
	if (!importing)
		importing = json_object();
	if (json_object_get(importing, nm)) {
		pthread_mutex_unlock(&importing_lock);
		buf_printf(err, "volume '%s' is being imported already", nm);
		return -EEXIST;
	}
	json_object_set_new(importing, nm, json_true());
	pthread_mutex_unlock(&importing_lock);

	/* opened once, inside a pool or an allow_path directory; qemu-img reads
	 * this descriptor, never the name again (and refuses backing files) */
	__do_close int src_fd = hostpath_open("source image", path, NULL, err);
	if ((r = src_fd) < 0 ||
	    (r = vol_import_probe_fd(svc_cfg.store, src_fd, path, nm, format, src_format, &vsize, &detected, err)) < 0)
		goto fail;
	/* qemu-img calls whatever it does not know raw: only a plausible disk, or the admin's word */
	if (!src_format && strcmp(detected, "raw") == 0 && (r = svc_raw_source_check(src_fd, path, err)) < 0)
		goto fail;
	if ((r = svc_pool_hold(pool, &dir, err)) < 0)
		goto fail;
	struct import_job *j = xcalloc(1, sizeof(*j));
	j->src = xstrdup(path);
	j->name = xstrdup(nm);
	j->format = xstrdup(format);
	j->src_format = src_format ? xstrdup(src_format) : NULL;
	j->pool = pool ? xstrdup(pool) : NULL;
	j->dir = move_ptr(dir);
	j->src_fd = move_fd(src_fd);
	struct job_spec spec = { .type = "import", .target = nm, .run = import_run, .arg = j,
				 .free_arg = import_job_free };
	if ((r = job_start(&spec, job, err)) < 0) {
		svc_pool_put(pool);
		goto fail;
	}
	return 0;
fail:
	import_unclaim(nm);
	return r;
}

/* ---- moving volumes between pools ---------------------------------------- */

/*
 * A move runs on its own thread.  Offline (no VM uses the volume, or its VM
 * is stopped) it is a copy: vol_move_copy, then vol_move_finish.  Live (the
 * VM runs) QEMU mirrors the disk onto an image in the target pool while the
 * guest keeps writing, and switches the device over once both are in sync:
 * blockdev-add the new file and format nodes, blockdev-mirror sync=full
 * (copy-mode write-blocking, so it always converges), wait for "ready",
 * job-complete, then drop the old nodes.  Until that
 * switch, any failure cancels the mirror and removes the new image; the VM
 * goes on using the old one.  The VM's job lock is held from the request
 * to the end, so it cannot be started, stopped or changed meanwhile.
 */

#define MIRROR_POLL_MS 200
#define MIRROR_COMPLETE_TIMEOUT_MS 120000

struct move_job {
	struct job *job;
	struct vol_record vol;
	char *pool, *dir;
	svc_uuid vm; /* "" when no VM uses the volume */
	bool live;
};

static void move_job_free(void *arg)
{
	struct move_job *j = arg;
	if (!j)
		return;
	vol_record_release(&j->vol);
	free(j->pool);
	free(j->dir);
	free(j);
}

/*
 * Offline move of a volume no VM held at the start: a VM may have been given
 * it meanwhile.  Record the move only if that VM is not running, under its
 * job lock so that it cannot start in between.
 */
static int move_finish_unattached(struct move_job *j, const char *path, struct buf *err)
{
	svc_uuid vm;
	int r;

	pthread_mutex_lock(&svc_defs_lock);
	vm_of_volume(j->vol.name, vm);
	if (vm[0] && (r = job_lock_vm(j->job, vm, NULL, err)) < 0)
		goto out;
	if (vm[0] && rt_is_active(vm)) {
		buf_printf(err, "volume '%s' was attached to a VM that started during the move; move it again",
			   j->vol.name);
		r = -EBUSY;
	} else {
		r = vol_move_finish(svc_cfg.store, &j->vol, path, err);
	}
	if (vm[0])
		job_unlock_vm(j->job, vm);
out:
	pthread_mutex_unlock(&svc_defs_lock);
	return r;
}

static int move_offline(struct move_job *j, struct buf *err)
{
	__do_free char *path = NULL;
	int r;

	if ((r = vol_move_copy(&j->vol, j->dir, svc_job_vol_progress, j->job, &path, err)) < 0)
		return r;
	if (j->vm[0])
		r = vol_move_finish(svc_cfg.store, &j->vol, path, err);
	else
		r = move_finish_unattached(j, path, err);
	if (r < 0)
		unlink(path);
	return r;
}

static int qmp_do(struct qmp *q, const char *cmd, json_t *args, json_t **ret, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = qmp_execute(q, cmd, args, ret, 0, &e);
	if (r < 0 && err)
		buf_printf(err, "%s failed: %s", cmd, e.s);
	buf_release(&e);
	return r;
}

/* The entry of query-jobs for `id` (new reference), or NULL when it is gone. */
static json_t *mirror_job_info(struct qmp *q, const char *id, struct buf *err, int *r)
{
	struct buf e = BUF_INIT;
	json_t *job = NULL;

	*r = qmp_job_query(q, id, &job, 0, &e);
	if (*r == -ENOENT) {
		buf_printf(err, "the mirror job %s disappeared", id);
		*r = -EIO;
	} else if (*r < 0) {
		buf_printf(err, "query-jobs failed: %s", e.s);
	}
	buf_release(&e);
	return job;
}

/* Follow the mirror until it is ready to switch over, reporting its progress. */
static int mirror_wait_ready(struct move_job *j, struct qmp *q, const char *id, struct buf *err)
{
	for (;;) {
		int r;
		__do_json json_t *info = mirror_job_info(q, id, err, &r);
		if (!info)
			return r;
		const char *status = json_string_value(json_object_get(info, "status"));
		const char *jerr = json_string_value(json_object_get(info, "error"));
		json_int_t cur = json_integer_value(json_object_get(info, "current-progress"));
		json_int_t total = json_integer_value(json_object_get(info, "total-progress"));
		if (status && strcmp(status, "ready") == 0)
			return 0;
		if (!status || jerr || strcmp(status, "concluded") == 0 || strcmp(status, "aborting") == 0 ||
		    strcmp(status, "null") == 0) {
			buf_printf(err, "the mirror failed: %s", jerr ? jerr : status ? status : "no status");
			return -EIO;
		}
		job_progress_bytes(j->job, (uint64_t)cur, (uint64_t)total);
		if (job_sleep(j->job, MIRROR_POLL_MS) < 0) {
			buf_adds(err, "cancelled");
			return -ECANCELED;
		}
	}
}

static int move_live(struct move_job *j, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	__do_json json_t *nodes = rt_disk_nodes(j->vm);
	json_t *e = json_object_get(nodes, j->vol.name);
	const char *old_node = json_string_value(json_object_get(e, "node"));
	const char *old_file = json_string_value(json_object_get(e, "file"));
	const char *device = json_string_value(json_object_get(e, "device"));
	__do_free char *path = NULL;
	char node[24], file[32], id[40];
	bool added_file = false, added_node = false, mirroring = false;
	struct rt_ref *ref;
	struct qmp *q;
	int r;

	if (!old_node || !old_file || !device) {
		buf_printf(err, "volume '%s' is not attached to the running VM", j->vol.name);
		return -ENOENT;
	}
	if (!(q = rt_qmp_acquire(j->vm, &ref, &why))) {
		buf_printf(err, "cannot move volume %s while its VM runs: %s", j->vol.name, why.s);
		return -EBUSY;
	}
	if ((r = vol_move_target_create(&j->vol, j->dir, &path, &why)) < 0)
		goto out;
	/* New node names: unique, <= 31 chars, starting with a letter. */
	snprintf(node, sizeof(node), "%s-m%lld", device, (long long)(time_wall_ms() % 10000000000LL));
	snprintf(file, sizeof(file), "%s-f", node);
	snprintf(id, sizeof(id), "move-%s", node);
	if ((r = qmp_do(q, "blockdev-add",
			json_pack("{s:s,s:s,s:s}", "driver", "file", "filename", path, "node-name", file), NULL,
			&why)) < 0)
		goto fail;
	added_file = true;
	if ((r = qmp_do(q, "blockdev-add",
			json_pack("{s:s,s:s,s:s}", "driver", j->vol.format, "file", file, "node-name", node), NULL,
			&why)) < 0)
		goto fail;
	added_node = true;
	/* write-blocking: guest writes reach both images before they complete, so the
	 * mirror converges however fast the guest writes (one pass over the disk). */
	if ((r = qmp_do(q, "blockdev-mirror",
			json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "job-id", id, "device", old_node, "target", node,
				  "sync", "full", "copy-mode", "write-blocking", "auto-dismiss", 0),
			NULL, &why)) < 0)
		goto fail;
	mirroring = true;
	log_info("volume %s: mirroring %s onto %s (%s)", j->vol.name, j->vol.path, path, node);
	if ((r = mirror_wait_ready(j, q, id, &why)) < 0)
		goto fail;
	job_set_uncancellable(j->job, "the disk is being switched over to the new image");
	if ((r = qmp_do(q, "job-complete", json_pack("{s:s}", "id", id), NULL, &why)) < 0)
		goto fail;
	if ((r = qmp_job_wait(q, id, MIRROR_COMPLETE_TIMEOUT_MS, &why)) < 0)
		goto fail;
	/* The device now writes to the new image: from here on it is the volume. */
	rt_disk_set_nodes(j->vm, j->vol.name, node, file);
	qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", old_node), NULL, NULL);
	qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", old_file), NULL, NULL);
	if ((r = vol_move_finish(svc_cfg.store, &j->vol, path, &why)) < 0)
		log_warn("volume %s: the running VM uses %s now, but the move could not be recorded", j->vol.name,
			 path);
	goto out;
fail:
	if (mirroring) {
		qmp_do(q, "block-job-cancel", json_pack("{s:s,s:b}", "device", id, "force", 1), NULL, NULL);
		qmp_job_wait(q, id, MIRROR_COMPLETE_TIMEOUT_MS, NULL);
	}
	if (added_node)
		qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, NULL);
	if (added_file)
		qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", file), NULL, NULL);
	if (path)
		unlink(path);
out:
	rt_qmp_release(ref);
	if (r == -ECANCELED)
		buf_printf(err, "move of volume %s cancelled; it stays where it was", j->vol.name);
	else if (r < 0)
		buf_printf(err, "cannot move volume %s while its VM runs: %s", j->vol.name, why.s);
	return r;
}

static void move_unclaim(const char *name)
{
	pthread_mutex_lock(&moving_lock);
	json_object_del(moving, name);
	pthread_mutex_unlock(&moving_lock);
}

static int move_run(struct job *jb, void *arg, struct buf *err)
{
	struct move_job *j = arg;
	int r;

	j->job = jb;
	{
		/* What start-up recovery looks for if corrald dies during the move. */
		__do_free char *path = vol_file_path(j->dir, j->vol.name, j->vol.format);
		__do_free char *tmp = vol_tmp_path(j->dir, j->vol.name, "move");
		job_record_result(jb, json_pack("{s:s,s:s,s:s,s:s,s:b}", "pool", j->pool, "from", j->vol.path, "path",
						path, "tmp", tmp, "live", j->live));
	}
	r = j->live ? move_live(j, err) : move_offline(j, err);
	{
		__do_free char *path = vol_file_path(j->dir, j->vol.name, j->vol.format);
		job_set_result(jb, r == 0 ? json_pack("{s:s,s:s}", "pool", j->pool, "path", path) : NULL);
	}
	if (r == 0 && j->vm[0]) {
		__do_free char *d = xasprintf("disk %s moved to pool %s%s", j->vol.name, j->pool,
					      j->live ? " (live)" : "");
		svc_vm_event(j->vm, "disk", d);
	}
	svc_pool_put(j->pool);
	move_unclaim(j->vol.name);
	return r;
}

/* The checks of a move that need the VM's lock held: state, live or not, what the volume allows. */
static int move_prepare(struct move_job *j, struct buf *err)
{
	struct vm_record rec = { 0 };
	int r = 0;

	if (j->vm[0]) {
		if ((r = store_vm_get(svc_cfg.store, j->vm, &rec)) < 0) {
			buf_adds(err, "vm not found");
			return r;
		}
		if (rec.state == VM_STARTING || rec.state == VM_STOPPING) {
			buf_printf(err, "%s: vm is %s; try again in a moment", rec.def->name, vmstate_name(rec.state));
			r = -EBUSY;
		}
		j->live = rt_is_active(j->vm);
		vm_record_release(&rec);
	}
	return r < 0 ? r : vol_move_check(svc_cfg.store, &j->vol, j->dir, err);
}

int svc_vol_move(const char *name, const char *pool, json_t **job, struct buf *err)
{
	struct move_job *j = xcalloc(1, sizeof(*j));
	bool claimed = false, held = false;
	struct job_hold *h = NULL;
	int r;

	if ((r = get_vol(name, &j->vol, err)) < 0)
		goto fail;
	if (!pool) {
		buf_adds(err, "the target pool is required");
		r = -EINVAL;
		goto fail;
	}
	pthread_mutex_lock(&moving_lock);
	if (!moving)
		moving = json_object();
	if (json_object_get(moving, name)) {
		buf_printf(err, "volume '%s' is being moved already", name);
		r = -EBUSY;
	} else {
		json_object_set_new(moving, name, json_true());
		claimed = true;
	}
	pthread_mutex_unlock(&moving_lock);
	if (r < 0)
		goto fail;
	if ((r = svc_pool_hold(pool, &j->dir, err)) < 0)
		goto fail;
	held = true;
	j->pool = xstrdup(pool);
	if (strcmp(j->vol.pool ? j->vol.pool : "default", pool) == 0) {
		buf_printf(err, "volume '%s' is already in pool '%s'", name, pool);
		r = -EINVAL;
		goto fail;
	}
	vm_of_volume(name, j->vm);
	/* Check under a hold of the VM, then the job takes the VM's lock itself. */
	if (j->vm[0] && (r = job_hold_vm(j->vm, NULL, "disk-move", &h, err)) < 0)
		goto fail;
	r = move_prepare(j, err);
	job_release(h);
	if (r < 0)
		goto fail;
	struct job_spec spec = { .type = "move", .target = name, .vm = j->vm[0] ? j->vm : NULL, .run = move_run,
				 .arg = j, .free_arg = move_job_free };
	j = NULL; /* job_start owns it, also when it fails */
	if ((r = job_start(&spec, job, err)) < 0)
		goto fail;
	return 0;
fail:
	if (held)
		svc_pool_put(pool);
	if (claimed)
		move_unclaim(name);
	move_job_free(j);
	return r;
}
