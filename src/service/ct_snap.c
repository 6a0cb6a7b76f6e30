/*
 * ct_snap.c - snapshots and clones of stopped containers (see ct.h): the
 * service rules around the root copies lxc/rootcopy.c makes.
 *
 * Layout, all inside the container's liblxc directory <lxcpath>/<name>
 * (never inside the root): `rootfs/` (the root that runs),
 * `snapshots/<snap>/rootfs` (one copy per snapshot), and two kinds of
 * half-made entries a crash can leave: `snapshots/.part-<snap>` (a snapshot
 * being copied; renamed to `<snap>` once complete) and `rootfs.revert` (a
 * revert's copy, before or after the swap).  Snapshot names cannot start
 * with '.', so neither collides with a snapshot.
 *
 * Crash safety (kill -9 of corrald at any point):
 * - create copies into .part-<snap>, renames it into place, then stores
 *   the definition with the snapshot: before the store the snapshot does
 *   not exist (an unlisted copy is removed by the next create of that name
 *   or its .part by the next start, create or revert);
 * - revert copies the snapshot to rootfs.revert, then swaps rootfs and
 *   rootfs.revert in one renameat2(RENAME_EXCHANGE): `rootfs` is always
 *   either the whole old root or the whole snapshot copy, never half;
 *   whatever is left at rootfs.revert (a half copy or the old root) is
 *   removed by the next start, create or revert;
 * - delete stores the definition without the snapshot first, then removes
 *   the copy;
 * - a clone defines the new container's liblxc directory (which reserves
 *   the name: a create refuses an existing directory), copies the root into
 *   it and stores the new row last; the job records the new name and uuid
 *   first, so after a crash before the row the next corrald removes that
 *   directory (svc_ct_clone_recover, from service/recover.c).
 *
 * An image root (ct_vol.c) holds rootfs/ and snapshots/ inside its ext4
 * file: snapshots and reverts mount it for the copy.  Its clone copies the
 * whole file into a new image volume of the same pool (reserved, row
 * first, before the copy, so the recovery above removes a half copy with
 * the volume), then removes the source's snapshot copies inside the clone.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "service/internal.h"
#include "service/network.h"
#include "core/job.h"
#include "storage/loopmount.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#define SPACE_MARGIN (16u << 20) /* free space kept beyond a copy's size */

static char *snaps_dir(const char *rootdir) { return xasprintf("%s/snapshots", rootdir); }

static char *snap_root(const char *rootdir, const char *snap)
{
	return xasprintf("%s/snapshots/%s/rootfs", rootdir, snap);
}

static json_t *snap_json(const struct ct_snap *s)
{
	return json_pack("{s:s,s:I,s:s,s:I}", "name", s->name, "created", (json_int_t)s->created_ms, "method",
			 s->method, "size", (json_int_t)s->size);
}

/* Remove `path` (a tree this file made), logging what fails. */
static void remove_quiet(const char *path)
{
	struct buf e = BUF_INIT;
	if (ctrt_tree_remove(path, &e) < 0)
		log_warn("containers: cannot remove %s: %s", path, e.s);
	buf_release(&e);
}

static void leftovers_clean(const char *rootdir, const char *name)
{
	__do_free char *rev = xasprintf("%s/rootfs.revert", rootdir);
	__do_free char *sd = snaps_dir(rootdir);
	if (fs_exists(rev) > 0) {
		log_info("container %s: removing %s left by an interrupted revert", name, rev);
		remove_quiet(rev);
	}
	DIR *dir = opendir(sd);
	if (!dir)
		return;
	struct dirent *e;
	while ((e = readdir(dir)))
		if (strncmp(e->d_name, ".part-", 6) == 0) {
			__do_free char *part = xasprintf("%s/%s", sd, e->d_name);
			__do_free char *root = xasprintf("%s/rootfs", part);
			log_info("container %s: removing %s left by an interrupted snapshot", name, part);
			remove_quiet(root);
			rmdir(part);
		}
	closedir(dir);
}

void ct_snap_leftovers_clean(const char *lp, const struct ct_def *d)
{
	(void)lp;
	__do_free char *rootdir = ct_rootdir_of(d);
	leftovers_clean(rootdir, d->name);
}

/* Remove snapshots/<snap> (its rootfs copy, then the directory). */
static int snap_dir_remove(const char *rootdir, const char *snap, struct buf *err)
{
	__do_free char *root = snap_root(rootdir, snap);
	__do_free char *dir = xasprintf("%s/snapshots/%s", rootdir, snap);
	int r = ctrt_tree_remove(root, err);
	if (r < 0)
		return r;
	if (rmdir(dir) < 0 && errno != ENOENT) {
		buf_printf(err, "cannot remove %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

int ct_snap_remove_all_in(const char *rootdir, const char *name, struct buf *err)
{
	__do_free char *sd = snaps_dir(rootdir);
	leftovers_clean(rootdir, name);
	DIR *dir = opendir(sd);
	if (!dir)
		return 0;
	struct dirent *e;
	int r = 0;
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.' && (r = snap_dir_remove(rootdir, e->d_name, err)) < 0)
			break;
	closedir(dir);
	if (r == 0)
		rmdir(sd);
	return r;
}

int ct_snap_remove_all(const char *lp, const struct ct_def *d, struct buf *err)
{
	(void)lp;
	__do_free char *rootdir = ct_rootdir_of(d);
	return ct_snap_remove_all_in(rootdir, d->name, err);
}

/* What a snapshot or clone needs of the container: stopped, a root corral built. */
static int check_copyable(const char *lp, const struct ct_def *d, const char *what, struct buf *err)
{
	if (d->rootfs) {
		buf_printf(err, "container '%s' runs on a --rootfs directory of your own (%s): corral %s only roots it "
			   "built (docs/containers.md)", d->name, d->rootfs,
			   strcmp(what, "clone") == 0 ? "clones" : "snapshots");
		return -ENOTSUP;
	}
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' is running: stop it first (a %s is taken of a stopped container only)",
			   d->name, what);
		return -EBUSY;
	}
	return 0;
}

/* ---- copies with progress ---- */

struct copy_progress {
	struct job *job;
	const char *dst;
	uint64_t total;
	int64_t next_ms;
};

/* Every second: how much of the copy is there (a walk of dst); a cancel stops cp. */
static int copy_tick(void *opaque)
{
	struct copy_progress *p = opaque;
	int64_t now = time_mono_ms();
	if (job_cancelled(p->job))
		return 1;
	if (now >= p->next_ms && p->total) {
		uint64_t done = 0;
		if (ctrt_tree_size(p->dst, &done) == 0)
			job_progress_bytes(p->job, done < p->total ? done : p->total - 1, p->total);
		p->next_ms = now + 1000;
	}
	return 0;
}

int ct_root_copy(struct job *j, const char *src, const char *dst, enum ctrt_copy_method *how, int64_t *size,
		 struct buf *err)
{
	uint64_t bytes = 0;
	enum ctrt_copy_method m = ctrt_copy_method_for(src, dst);
	__do_free char *parent = xstrdup(dst);
	char *slash = strrchr(parent, '/');
	int r;
	if (slash)
		*slash = '\0';
	if ((r = ctrt_tree_size(src, &bytes)) < 0) {
		buf_printf(err, "cannot read %s: %s", src, strerror(-r));
		return r;
	}
	*size = (int64_t)bytes;
	if (m != CTRT_COPY_BTRFS && (r = ctrt_space_check(parent, bytes + SPACE_MARGIN, err)) < 0)
		return r;
	if (job_cancelled(j)) {
		buf_adds(err, "cancelled before the copy");
		return -ECANCELED;
	}
	job_set_phase(j, "copying %llu MiB (%s)", (unsigned long long)(bytes >> 20), ctrt_copy_method_name(m));
	struct copy_progress p = { j, dst, bytes, time_mono_ms() + 1000 };
	return ctrt_tree_copy(src, dst, how, copy_tick, &p, err);
}

/* ---- jobs ---- */

struct snap_op {
	svc_uuid uuid;
	char name[64]; /* snapshot, or the clone's new name */
};

static void snap_op_free(void *p) { free(p); }

/* The container of a job (by uuid; the job holds its lock), checked again. */
static int op_load(const struct snap_op *o, const char *what, struct ct_record *rec, struct ct_def **d, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	int r = ct_load(o->uuid, rec, d, err);
	if (r == 0 && (r = check_copyable(lp, *d, what, err)) < 0) {
		ctdef_free(*d);
		*d = NULL;
		ct_record_release(rec);
	}
	return r;
}

static int snap_create_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	__do_free char *lp = ct_lxcpath();
	__do_free char *sd = NULL, *part = NULL, *partroot = NULL, *final = NULL, *src = NULL, *rootdir = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	enum ctrt_copy_method how = CTRT_COPY_PLAIN;
	struct ct_snap s = { .size = -1 };
	int r;

	if ((r = op_load(o, "snapshot", &rec, &d, err)) < 0)
		return r;
	/* an image root: its snapshots are copies inside the image, mounted for the copy */
	if ((r = ct_root_mount(d, err)) < 0)
		goto out;
	if (ctdef_snap_index(d, o->name) >= 0) {
		buf_printf(err, "container '%s' has a snapshot '%s' already", d->name, o->name);
		r = -EEXIST;
		goto out;
	}
	if (d->nsnaps >= CT_MAX_SNAPSHOTS) {
		buf_printf(err, "container '%s' has %d snapshots, the most it may have: delete one first", d->name,
			   CT_MAX_SNAPSHOTS);
		r = -ENOSPC;
		goto out;
	}
	ct_snap_leftovers_clean(lp, d);
	rootdir = ct_rootdir_of(d);
	sd = snaps_dir(rootdir);
	part = xasprintf("%s/.part-%s", sd, o->name);
	partroot = xasprintf("%s/rootfs", part);
	final = xasprintf("%s/%s", sd, o->name);
	src = ct_rootfs_of(d);
	if (fs_exists(final) > 0) {
		/* a copy no definition lists: a crash after its rename, before the store */
		log_info("container %s: removing %s, a snapshot copy no definition lists", d->name, final);
		if ((r = snap_dir_remove(rootdir, o->name, err)) < 0)
			goto out;
	}
	if ((r = fs_mkdir_p(sd, 0700)) < 0 || (r = mkdir(part, 0700) < 0 ? -errno : 0) < 0) {
		buf_printf(err, "cannot make %s: %s", part, strerror(-r));
		goto out;
	}
	if ((r = ct_root_copy(j, src, partroot, &how, &s.size, err)) < 0) {
		rmdir(part);
		goto out;
	}
	if (rename(part, final) < 0) {
		buf_printf(err, "cannot rename %s: %s", part, strerror(errno));
		r = -errno;
		remove_quiet(partroot);
		rmdir(part);
		goto out;
	}
	snprintf(s.name, sizeof(s.name), "%s", o->name);
	snprintf(s.method, sizeof(s.method), "%s", ctrt_copy_method_name(how));
	s.created_ms = time_wall_ms();
	ctdef_snap_add(d, &s);
	if ((r = ct_store_def(d, false, err)) < 0) {
		struct buf e = BUF_INIT;
		snap_dir_remove(rootdir, o->name, &e);
		buf_release(&e);
		goto out;
	}
	{
		__do_free char *ev = xasprintf("snapshot '%s' taken (%s, %lld MiB)", s.name, s.method,
					       (long long)(s.size >> 20));
		svc_vm_event(d->uuid, "container", ev);
	}
	job_set_result(j, snap_json(&s));
out:
	ct_root_umount(d);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

static int snap_revert_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	__do_free char *lp = ct_lxcpath();
	__do_free char *snaproot = NULL, *tmp = NULL, *root = NULL, *rootdir = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	enum ctrt_copy_method how = CTRT_COPY_PLAIN;
	int64_t size;
	int r;

	if ((r = op_load(o, "revert", &rec, &d, err)) < 0)
		return r;
	if ((r = ct_root_mount(d, err)) < 0)
		goto out;
	if (ctdef_snap_index(d, o->name) < 0) {
		buf_printf(err, "container '%s' has no snapshot '%s'", d->name, o->name);
		r = -ENOENT;
		goto out;
	}
	rootdir = ct_rootdir_of(d);
	snaproot = snap_root(rootdir, o->name);
	tmp = xasprintf("%s/rootfs.revert", rootdir);
	root = ct_rootfs_of(d);
	if (fs_exists(snaproot) <= 0) {
		buf_printf(err, "the copy of snapshot '%s' (%s) is missing: delete the snapshot", o->name, snaproot);
		r = -EIO;
		goto out;
	}
	ct_snap_leftovers_clean(lp, d);
	if ((r = ct_root_copy(j, snaproot, tmp, &how, &size, err)) < 0)
		goto out;
	/* the one step that changes the root: old and new swap names at once */
	job_set_phase(j, "swapping the root");
	if ((r = ctrt_tree_exchange(tmp, root, err)) < 0) {
		remove_quiet(tmp);
		goto out;
	}
	job_set_phase(j, "removing the old root");
	remove_quiet(tmp);
	{
		__do_free char *ev = xasprintf("reverted to snapshot '%s'", o->name);
		svc_vm_event(d->uuid, "container", ev);
	}
	job_set_result(j, json_pack("{s:s,s:s,s:s}", "container", d->name, "snapshot", o->name, "method",
				    ctrt_copy_method_name(how)));
out:
	ct_root_umount(d);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

/*
 * Names a running job is making a container under: its liblxc directory
 * exists, its row not yet (a create from a tarball, a clone).  Under
 * svc_defs_lock, so that a second request for the name hears which job has
 * it rather than that a directory is "left from another tool".
 */
#define CT_CLAIMS 64
static struct {
	char name[64]; /* a container name: at most 63 characters */
	int64_t job;
} claims[CT_CLAIMS];

void ct_name_claim(const char *name, int64_t job)
{
	for (size_t i = 0; i < CT_CLAIMS; i++)
		if (!claims[i].job) {
			snprintf(claims[i].name, sizeof(claims[i].name), "%s", name);
			claims[i].job = job;
			return;
		}
}

void ct_name_unclaim(int64_t job)
{
	pthread_mutex_lock(&svc_defs_lock);
	for (size_t i = 0; i < CT_CLAIMS; i++)
		if (claims[i].job == job)
			claims[i].job = 0;
	pthread_mutex_unlock(&svc_defs_lock);
}

int ct_dir_taken(const char *dir, const char *name, struct buf *err)
{
	if (fs_exists(dir) <= 0)
		return 0;
	for (size_t i = 0; i < CT_CLAIMS; i++)
		if (claims[i].job && strcmp(claims[i].name, name) == 0) {
			buf_printf(err, "a container named '%s' is being made by job %lld", name,
				   (long long)claims[i].job);
			return -EEXIST;
		}
	buf_printf(err, "%s exists already (left from another tool?): not touching it", dir);
	return -EEXIST;
}

/* A name free among containers and VMs (under svc_defs_lock). */
int ct_name_free(const char *name, struct buf *err)
{
	struct ct_record old = { 0 };
	char vm[37];
	if (store_ct_get(svc_cfg.store, name, &old) == 0) {
		ct_record_release(&old);
		buf_printf(err, "a container named '%s' already exists", name);
		return -EEXIST;
	}
	if (store_vm_lookup(svc_cfg.store, name, vm) == 0) {
		buf_printf(err, "a vm named '%s' already exists", name);
		return -EEXIST;
	}
	return 0;
}

int ct_store_new(const struct ct_def *d, struct buf *err)
{
	int r;
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = ct_name_free(d->name, err)) == 0 && (r = svc_net_check_ct(d, err)) == 0)
		r = ct_store_def(d, true, err);
	pthread_mutex_unlock(&svc_defs_lock);
	return r;
}

/* The clone's definition: the source's with a new name and uuid, new MACs, no snapshots. */
static struct ct_def *clone_def(const struct ct_def *src, const char *name, struct buf *err)
{
	__do_json json_t *j = ctdef_to_json(src);
	json_t *nic;
	size_t i;
	json_object_set_new(j, "name", json_string(name));
	json_object_del(j, "uuid");
	json_object_del(j, "created");
	json_object_del(j, "snapshots");
	/* its own root volume (clone_run makes it), no mount points: a volume is one container's */
	json_object_del(j, "volume");
	json_object_del(j, "mounts");
	json_array_foreach(json_object_get(j, "nics"), i, nic) json_object_del(nic, "mac");
	return ctdef_from_json(j, CTDEF_FROM_STORE, err);
}

/*
 * An image root's clone: the source's file copied whole into the clone's
 * reserved volume (a reflink where the pool's filesystem shares extents,
 * else a copy keeping its holes), then, mounted, the source's snapshot
 * copies inside it removed (a clone starts without snapshots, as a
 * directory root's does, whose copy takes rootfs/ only) and the blocks they
 * held given back to the pool.  Left unmounted; on failure the caller's
 * undo removes the file with the volume.
 */
static int clone_image(struct job *j, const struct ct_def *d, const struct ct_def *nd, const char *img,
		       enum ctrt_copy_method *how, int64_t *size, struct buf *err)
{
	__do_free char *dst = ct_root_image_of(nd);
	__do_free char *rootdir = NULL;
	int r;

	if (!dst) {
		buf_printf(err, "the root volume '%s' of clone '%s' vanished", nd->volume, nd->name);
		return -ENOENT;
	}
	/* a source that powered off inside keeps its image mounted: unmounted, the file is a clean filesystem */
	if ((r = ct_root_unmounted(d, err)) < 0 || (r = ct_root_copy(j, img, dst, how, size, err)) < 0)
		return r;
	job_set_phase(j, "removing the snapshots of '%s' from the copy", d->name);
	if ((r = ct_root_mount(nd, err)) < 0)
		return r;
	rootdir = ct_rootdir_of(nd);
	if ((r = ct_snap_remove_all_in(rootdir, nd->name, err)) == 0) {
		struct buf e = BUF_INIT;
		if (loop_trim(rootdir, &e) < 0)
			log_info("container clone %s: the blocks of the removed snapshots stay in its image: %s", nd->name,
				 e.s);
		buf_release(&e);
	}
	return r < 0 ? r : ct_root_unmounted(nd, err); /* on failure the caller's undo unmounts it */
}

static int clone_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	__do_free char *lp = ct_lxcpath();
	__do_free char *src = NULL, *dst = NULL, *dir = NULL, *img = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL, *nd = NULL;
	enum ctrt_copy_method how = CTRT_COPY_PLAIN;
	struct ctrt_config cfg;
	bool made_vol = false;
	int64_t size;
	int r;

	if ((r = op_load(o, "clone", &rec, &d, err)) < 0)
		return r;
	if (!(nd = clone_def(d, o->name, err))) {
		r = -EINVAL;
		goto out;
	}
	src = ct_rootfs_of(d);
	img = ct_root_image_of(d);
	if (d->volume) {
		/* the clone's root: a new volume in the source's pool (space is checked by the copy) */
		__do_free char *pool = ct_root_pool_of(d);
		pthread_mutex_lock(&svc_defs_lock);
		r = ct_name_free(nd->name, err);
		pthread_mutex_unlock(&svc_defs_lock);
		if (r < 0 || (r = img ? ct_root_image_reserve(nd, pool, err) : ct_root_vol_make(nd, pool, 0, err)) < 0)
			goto out;
		made_vol = true;
	}
	dst = ct_rootfs_of(nd);
	dir = xasprintf("%s/%s", lp, nd->name);
	/* reserve the name: the liblxc directory of the new container */
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = ct_name_free(nd->name, err)) == 0 && (r = svc_net_check_ct(nd, err)) == 0 &&
	    (r = ct_dir_taken(dir, nd->name, err)) == 0) {
		ct_cfg_of(nd, dst, &cfg);
		if ((r = ctrt_define(lp, &cfg, err)) == 0)
			ct_name_claim(nd->name, job_id(j));
	}
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto undo_vol;
	/* for start-up recovery (svc_ct_clone_recover): what to remove if corrald dies now */
	job_record_result(j, json_pack("{s:s,s:s,s:s?}", "name", nd->name, "uuid", nd->uuid, "volume", nd->volume));
	if ((r = img ? clone_image(j, d, nd, img, &how, &size, err) : ct_root_copy(j, src, dst, &how, &size, err)) < 0)
		goto undo;
	if (job_cancelled(j)) {
		/* asked while the copy ended: honoured, the clone is not stored yet */
		buf_printf(err, "cancelled: the clone '%s' is removed again", nd->name);
		r = -ECANCELED;
		goto undo;
	}
	job_set_phase(j, "storing %s", nd->name);
	if ((r = ct_store_new(nd, err)) < 0)
		goto undo;
	svc_net_ct_hosts_refresh(nd);
	{
		__do_free char *ev = xasprintf("cloned from '%s' (%s)", d->name, ctrt_copy_method_name(how));
		__do_free char *ev2 = xasprintf("cloned to '%s'", nd->name);
		svc_vm_event(nd->uuid, "container", ev);
		svc_vm_event(d->uuid, "container", ev2);
	}
	job_set_result(j, json_pack("{s:s,s:s,s:s,s:s,s:I}", "name", nd->name, "uuid", nd->uuid, "source", d->name,
				    "method", ctrt_copy_method_name(how), "size", (json_int_t)size));
	goto out;
undo:
	{
		struct buf e = BUF_INIT;
		ct_root_umount(nd); /* an image clone is mounted while its snapshots go */
		if (ctrt_undefine(lp, nd->name, &e) < 0)
			log_warn("container clone %s: cannot remove %s: %s", nd->name, dir, e.s);
		buf_release(&e);
	}
undo_vol:
	if (made_vol)
		ct_root_vol_undo(nd);
out:
	ct_name_unclaim(job_id(j));
	ctdef_free(d);
	ctdef_free(nd);
	ct_record_release(&rec);
	return r;
}

bool svc_ct_clone_recover(const json_t *result)
{
	const char *name = json_string_value(json_object_get(result, "name"));
	const char *uuid = json_string_value(json_object_get(result, "uuid"));
	struct ct_record rec = { 0 };
	if (!name || !uuid || ctdef_name_invalid(name))
		return false;
	if (store_ct_get(svc_cfg.store, uuid, &rec) == 0) {
		ct_record_release(&rec);
		return true;
	}
	if (store_ct_get(svc_cfg.store, name, &rec) == 0) {
		ct_record_release(&rec); /* another container has the name now: its directory is not ours */
		return false;
	}
	__do_free char *lp = ct_lxcpath();
	struct buf e = BUF_INIT;
	ct_root_umount_left(name); /* an image clone's, mounted while its snapshots went */
	if (ctrt_undefine(lp, name, &e) < 0)
		log_warn("container %s: cannot remove what the interrupted clone or create made: %s", name, e.s);
	else
		log_info("container %s: removed what the interrupted clone or create made", name);
	buf_release(&e);
	const char *vol = json_string_value(json_object_get(result, "volume"));
	if (vol && !str_name_invalid(vol))
		ct_root_vol_drop_free(vol);
	return false;
}

/* ---- entry points ---- */

/*
 * What can be refused before a job starts (an unknown container, a bad
 * name, a running one, a --rootfs root, a snapshot that exists or not),
 * then the job on the container's lock.
 */
static int op_start(const char *key, const char *name, const char *type, job_fn run, json_t **job, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	bool clone = strcmp(type, "ct-clone") == 0, revert = strcmp(type, "ct-snapshot-revert") == 0;
	const char *bad = !name ? "missing" : clone ? ctdef_name_invalid(name) : str_name_invalid(name);
	int r;

	if (bad) {
		buf_printf(err, "invalid %s name '%.64s': %s", clone ? "container" : "snapshot", name ? name : "", bad);
		return -EINVAL;
	}
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	if ((r = check_copyable(lp, d, clone ? "clone" : revert ? "revert" : "snapshot", err)) < 0)
		goto out;
	if (!clone && revert != (ctdef_snap_index(d, name) >= 0)) {
		buf_printf(err, revert ? "container '%s' has no snapshot '%s'" : "container '%s' has a snapshot '%s' already",
			   d->name, name);
		r = revert ? -ENOENT : -EEXIST;
		goto out;
	}
	if (clone) {
		pthread_mutex_lock(&svc_defs_lock);
		r = ct_name_free(name, err);
		pthread_mutex_unlock(&svc_defs_lock);
		if (r < 0)
			goto out;
	}
	struct snap_op *o = xcalloc(1, sizeof(*o));
	snprintf(o->uuid, sizeof(o->uuid), "%s", d->uuid);
	snprintf(o->name, sizeof(o->name), "%s", name);
	struct job_spec spec = { .type = type, .target = d->name, .vm = d->uuid, .vm_name = d->name, .run = run,
				 .arg = o, .free_arg = snap_op_free };
	r = job_start(&spec, job, err);
out:
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

int svc_ct_snapshot_create(const char *key, const char *name, json_t **job, struct buf *err)
{
	return op_start(key, name, "ct-snapshot-create", snap_create_run, job, err);
}

int svc_ct_snapshot_revert(const char *key, const char *name, json_t **job, struct buf *err)
{
	return op_start(key, name, "ct-snapshot-revert", snap_revert_run, job, err);
}

int svc_ct_clone(const char *key, const char *name, json_t **job, struct buf *err)
{
	return op_start(key, name, "ct-clone", clone_run, job, err);
}

int svc_ct_snapshot_list(const char *key, json_t **out, struct buf *err)
{
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	json_t *arr = json_array();
	for (int i = 0; i < d->nsnaps; i++)
		json_array_append_new(arr, snap_json(&d->snaps[i]));
	*out = json_pack("{s:s,s:o}", "container", d->name, "snapshots", arr);
	ctdef_free(d);
	ct_record_release(&rec);
	return 0;
}

int svc_ct_snapshot_delete(const char *key, const char *name, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct job_hold *h = NULL;
	bool mounted = false;
	int k, r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "snapshot delete", &h, err)) < 0)
		goto out;
	/* a stopped image root is mounted for the removal of the copy inside it */
	if (ct_is_stopped(lp, d) && ct_root_is_image(d)) {
		if ((r = ct_root_mount(d, err)) < 0)
			goto out;
		mounted = true;
	}
	if ((k = ctdef_snap_index(d, name)) < 0) {
		buf_printf(err, "container '%s' has no snapshot '%.64s'", d->name, name);
		r = -ENOENT;
		goto out;
	}
	ctdef_snap_remove(d, k);
	/* the definition first: a crash after it leaves an unlisted copy, removed by a later create */
	if ((r = ct_store_def(d, false, err)) < 0)
		goto out;
	{
		struct buf e = BUF_INIT;
		__do_free char *rootdir = ct_rootdir_of(d);
		if (snap_dir_remove(rootdir, name, &e) < 0)
			log_warn("container %s: snapshot '%s' deleted but its copy stays: %s", d->name, name, e.s);
		buf_release(&e);
	}
	{
		__do_free char *ev = xasprintf("snapshot '%s' deleted", name);
		svc_vm_event(d->uuid, "container", ev);
	}
	*out = json_pack("{s:s,s:[s]}", "container", d->name, "deleted", name);
out:
	if (mounted)
		ct_root_umount(d);
	job_release(h);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}
