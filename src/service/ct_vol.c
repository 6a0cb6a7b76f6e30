/*
 * ct_vol.c - where a container's files are (docs/containers.md, "Storage"):
 * its root as a directory volume of a storage pool, its extra mount points
 * (directory volumes bind-mounted inside), and moving a stopped container's
 * root to another pool (`ct move`).
 *
 * A root volume is the directory <pool>/<volume> holding `rootfs/` (what
 * runs) and `snapshots/` (ct_snap.c), so the pool's space is what the
 * container and its snapshots use, and a revert's swap stays inside one
 * filesystem.  The volume row (format "dir") names the container as its
 * user (volumes.ct, kept by the store's ct.put from the definition's
 * "volume" and "mounts").  A container without "volume" keeps its root
 * where containers had it before roots were volumes, <lxcpath>/<name>/
 * rootfs (also what a restore or an incoming migration makes); `ct move`
 * puts such a root into a pool.
 *
 * A move copies rootfs and snapshots into `.<volume>.move` in the target
 * pool (cp -a through lxc/rootcopy.c: owners of the id map, modes, xattrs,
 * hard links, device nodes kept), renames it into place, stores the new
 * path (one batch), and only then removes the old copy.  An image root's
 * file is copied the same way (a reflink where the filesystem shares
 * extents, else keeping its holes) into `.<volume>.ext4.move`, renamed to
 * `<volume>.ext4` and switched by storage/volume.h's vol_move_finish.  The
 * job records both places before copying; a corrald killed meanwhile
 * settles it at start-up (svc_ct_move_recover): the copy goes unless the
 * switch was stored, else the old copy goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "service/ha.h"
#include "service/internal.h"
#include "service/pool.h"
#include "core/job.h"
#include "storage/dirvol.h"
#include "storage/loopmount.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"

#define ROOT_MARGIN (4u << 20)   /* free space kept beyond what a new root needs */
#define HOST_BUSYBOX "/bin/busybox"

/* The image file of d's root when it is an ext4 image volume (a new string), else NULL. */
char *ct_root_image_of(const struct ct_def *d)
{
	struct vol_record v = { 0 };
	char *img = NULL;
	if (d->volume && store_vol_get(svc_cfg.store, d->volume, &v) == 0 && strcmp(v.format, VOL_EXT4_FORMAT) == 0)
		img = move_ptr(v.path);
	vol_record_release(&v);
	return img;
}

/* Where the image root of container `name` is mounted: <lxcpath>/<name>/image. */
static char *image_mnt_of(const char *name)
{
	__do_free char *lp = ct_lxcpath();
	return xasprintf("%s/%s/image", lp, name);
}

static char *image_mnt(const struct ct_def *d) { return image_mnt_of(d->name); }

int ct_root_mount(const struct ct_def *d, struct buf *err)
{
	__do_free char *img = ct_root_image_of(d);
	if (!img)
		return 0;
	__do_free char *mnt = image_mnt(d);
	return loop_mount(img, mnt, err);
}

int ct_root_unmounted(const struct ct_def *d, struct buf *err)
{
	__do_free char *img = ct_root_image_of(d);
	if (!img)
		return 0;
	__do_free char *mnt = image_mnt(d);
	return loop_umount(mnt, err);
}

void ct_root_umount(const struct ct_def *d)
{
	struct buf e = BUF_INIT;
	if (d && ct_root_unmounted(d, &e) < 0)
		log_warn("container %s: %s", d->name, e.s);
	buf_release(&e);
}

void ct_root_umount_left(const char *name)
{
	__do_free char *mnt = image_mnt_of(name);
	struct buf e = BUF_INIT;
	if (loop_umount(mnt, &e) < 0)
		log_warn("container %s: %s", name, e.s);
	buf_release(&e);
}

bool ct_root_is_image(const struct ct_def *d)
{
	__do_free char *img = ct_root_image_of(d);
	return img != NULL;
}

char *ct_rootdir_of(const struct ct_def *d)
{
	if (d->volume) {
		struct vol_record v = { 0 };
		if (store_vol_get(svc_cfg.store, d->volume, &v) == 0) {
			/* an image root: the directory it is mounted on */
			char *p = strcmp(v.format, VOL_EXT4_FORMAT) == 0 ? image_mnt(d) : move_ptr(v.path);
			vol_record_release(&v);
			return p;
		}
		log_warn("container %s: its root volume '%s' is not in the store", d->name, d->volume);
	}
	__do_free char *lp = ct_lxcpath();
	return xasprintf("%s/%s", lp, d->name);
}

char *ct_rootfs_of(const struct ct_def *d)
{
	if (d->rootfs)
		return xstrdup(d->rootfs);
	__do_free char *dir = ct_rootdir_of(d);
	return xasprintf("%s/rootfs", dir);
}

char *ct_root_pool_of(const struct ct_def *d)
{
	struct vol_record v = { 0 };
	char *pool = NULL;
	if (d->volume && store_vol_get(svc_cfg.store, d->volume, &v) == 0)
		pool = xstrdup(v.pool ? v.pool : "default");
	vol_record_release(&v);
	return pool;
}

/* A free volume name for d's root: NAME-root, else ct-UUID. */
static void root_vol_name(const struct ct_def *d, char out[64])
{
	struct vol_record v = { 0 };
	snprintf(out, 64, "%s-root", d->name);
	if (strlen(d->name) + 5 <= 63 && store_vol_get(svc_cfg.store, out, &v) == -ENOENT)
		return;
	vol_record_release(&v);
	snprintf(out, 64, "ct-%s", d->uuid);
}

/* Bytes a new busybox root needs: the host's busybox, its links and files, a margin. */
static uint64_t template_need(void)
{
	struct stat st;
	uint64_t n = stat(HOST_BUSYBOX, &st) == 0 ? (uint64_t)st.st_blocks * 512 : (2u << 20);
	return n + ROOT_MARGIN;
}

/* ct_root_vol_make, or (for_copy) ct_root_image_reserve. */
static int root_vol_new(struct ct_def *d, const char *pool, uint64_t need, bool for_copy, struct buf *err)
{
	__do_free char *dir = NULL, *path = NULL;
	char name[64];
	int r;

	if ((r = svc_pool_hold(pool, &dir, err)) < 0)
		return r;
	if (need == 0)
		need = ROOT_MARGIN;
	if ((r = vol_dir_space_check(dir, need, err)) < 0) {
		buf_printf(err, " (pool '%s' cannot hold the root of container '%s')", pool ? pool : "default", d->name);
		goto out;
	}
	root_vol_name(d, name);
	/* the directory (or the image's filesystem) is root's: the container's root owns rootfs/ inside it */
	if (for_copy)
		r = vol_ext4_reserve(svc_cfg.store, dir, name, &path, err);
	else if (d->image_size)
		r = vol_ext4_create(svc_cfg.store, dir, name, (uint64_t)d->image_size, &path, err);
	else
		r = vol_dir_create(svc_cfg.store, dir, name, 0, 0, &path, err);
	if (r < 0)
		goto out;
	free(d->volume);
	d->volume = xstrdup(name);
out:
	svc_pool_put(pool);
	return r;
}

int ct_root_vol_make(struct ct_def *d, const char *pool, uint64_t need, struct buf *err)
{
	return root_vol_new(d, pool, need, false, err);
}

int ct_root_image_reserve(struct ct_def *d, const char *pool, struct buf *err)
{
	return root_vol_new(d, pool, 0, true, err);
}

void ct_root_vol_drop_free(const char *name)
{
	struct vol_record v = { 0 };
	struct buf e = BUF_INIT;
	if (store_vol_get(svc_cfg.store, name, &v) == 0 && !v.ct && !v.vm) {
		if (strcmp(v.format, VOL_DIR_FORMAT) == 0) {
			/* snapshots may be btrfs subvolumes: their own delete first */
			__do_free char *root = xasprintf("%s/rootfs", v.path);
			ct_snap_remove_all_in(v.path, name, &e);
			ctrt_tree_remove(root, &e);
		}
		if ((strcmp(v.format, VOL_DIR_FORMAT) == 0 || strcmp(v.format, VOL_EXT4_FORMAT) == 0) &&
		    vol_delete(svc_cfg.store, name, &e) < 0)
			log_warn("container volume %s: cannot remove it: %s", name, e.s);
	}
	vol_record_release(&v);
	buf_release(&e);
}

void ct_root_vol_undo(const struct ct_def *d)
{
	if (d->volume) {
		ct_root_umount(d);
		ct_root_vol_drop_free(d->volume);
	}
}

uint64_t ct_template_need(void) { return template_need(); }

void ct_batch_root_delete(struct store_batch *b, const struct ct_def *d)
{
	if (d->volume)
		store_batch_vol_delete(b, d->volume);
}

int ct_root_files_remove(const char *lp, const struct ct_def *d, const char *rootdir, const char *image,
			 struct buf *err)
{
	int r;
	if (image) {
		/* the image holds root and snapshots: unmounted, it goes as one file */
		if ((r = loop_umount(rootdir, err)) < 0 || (r = ctrt_undefine(lp, d->name, err)) < 0)
			return r;
		if (unlink(image) < 0 && errno != ENOENT) {
			buf_printf(err, "cannot remove %s: %s", image, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (!d->volume)
		return (r = ct_snap_remove_all_in(rootdir, d->name, err)) < 0 ? r : ctrt_undefine(lp, d->name, err);
	__do_free char *root = xasprintf("%s/rootfs", rootdir);
	if ((r = ct_snap_remove_all_in(rootdir, d->name, err)) < 0 || (r = ctrt_tree_remove(root, err)) < 0 ||
	    (r = vol_dir_remove(rootdir, err)) < 0)
		return r;
	return ctrt_undefine(lp, d->name, err);
}

/* ---- mount points ---- */

int ct_mounts_check(const struct ct_def *d, struct buf *err)
{
	for (int i = 0; i < d->nmounts; i++) {
		struct vol_record v = { 0 };
		const struct ct_mount *m = &d->mounts[i];
		int r = store_vol_get(svc_cfg.store, m->volume, &v);
		if (r < 0) {
			buf_printf(err, "container '%s': mount at %s: volume '%s' not found (make one with 'corral disk "
				   "create NAME --format dir [--pool POOL]')", d->name, m->path, m->volume);
			return -ENOENT;
		}
		if (strcmp(v.format, VOL_DIR_FORMAT) != 0) {
			buf_printf(err, "container '%s': mount at %s: volume '%s' is a %s disk image, not a directory "
				   "volume (--format dir)", d->name, m->path, m->volume, v.format);
			vol_record_release(&v);
			return -EINVAL;
		}
		if (v.ct && strcmp(v.ct, d->uuid) != 0) {
			buf_printf(err, "container '%s': volume '%s' is used by container '%s'", d->name, m->volume,
				   v.ct_name ? v.ct_name : v.ct);
			vol_record_release(&v);
			return -EBUSY;
		}
		if (v.vm) {
			buf_printf(err, "container '%s': volume '%s' is used by vm '%s'", d->name, m->volume,
				   v.vm_name ? v.vm_name : v.vm);
			vol_record_release(&v);
			return -EBUSY;
		}
		vol_record_release(&v);
	}
	return 0;
}

void ct_mounts_give(const struct ct_def *d)
{
	if (d->privileged)
		return;
	for (int i = 0; i < d->nmounts; i++) {
		struct vol_record v = { 0 };
		struct stat st;
		/* a fresh directory volume is root's: its top becomes the container root's, so it can write there */
		if (store_vol_get(svc_cfg.store, d->mounts[i].volume, &v) == 0 && lstat(v.path, &st) == 0 &&
		    S_ISDIR(st.st_mode) && st.st_uid == 0 && st.st_gid == 0 &&
		    lchown(v.path, d->idmap.uid_base, d->idmap.gid_base) < 0)
			log_warn("container %s: cannot give %s to %u:%u: %s", d->name, v.path, d->idmap.uid_base,
				 d->idmap.gid_base, strerror(errno));
		vol_record_release(&v);
	}
}

int ct_mounts_resolve(const struct ct_def *d, struct ctrt_mount *out, char **paths, struct buf *err)
{
	for (int i = 0; i < d->nmounts; i++) {
		struct vol_record v = { 0 };
		struct stat st;
		if (store_vol_get(svc_cfg.store, d->mounts[i].volume, &v) < 0) {
			buf_printf(err, "container '%s': the volume '%s' of its mount at %s is gone", d->name,
				   d->mounts[i].volume, d->mounts[i].path);
			for (int k = 0; k < i; k++)
				free(paths[k]);
			return -ENOENT;
		}
		paths[i] = move_ptr(v.path);
		vol_record_release(&v);
		if (lstat(paths[i], &st) < 0 || !S_ISDIR(st.st_mode)) {
			buf_printf(err, "container '%s': the directory %s of volume '%s' is missing", d->name, paths[i],
				   d->mounts[i].volume);
			for (int k = 0; k <= i; k++)
				free(paths[k]);
			return -ENOENT;
		}
		out[i] = (struct ctrt_mount){ paths[i], d->mounts[i].path, d->mounts[i].readonly };
	}
	return 0;
}

json_t *ct_storage_json(const struct ct_def *d)
{
	json_t *j = json_object();
	__do_free char *dir = d->rootfs ? NULL : ct_rootdir_of(d);
	__do_free char *rootfs = ct_rootfs_of(d);
	__do_free char *pool = ct_root_pool_of(d);
	uint64_t used;
	/* path: the directory holding rootfs/ and snapshots/ (the volume's); used: what all of it takes */
	__do_free char *img = ct_root_image_of(d);
	json_object_set_new(j, "root", json_pack("{s:s?,s:s?,s:s?,s:s,s:o}", "volume", d->volume, "pool", pool,
						  "path", dir, "rootfs", rootfs, "used",
						  !img && dir && vol_dir_usage(dir, &used) == 0 ? json_integer((json_int_t)used)
												: json_null()));
	if (img) {
		struct stat st;
		json_t *root = json_object_get(j, "root");
		json_object_set_new(root, "image", json_string(img));
		json_object_set_new(root, "mounted", json_boolean(loop_mounted(dir)));
		if (stat(img, &st) == 0) {
			json_object_set_new(root, "size", json_integer((json_int_t)st.st_size));
			json_object_set_new(root, "used", json_integer((json_int_t)st.st_blocks * 512));
		}
	}
	json_t *ms = json_array();
	for (int i = 0; i < d->nmounts; i++) {
		struct vol_record v = { 0 };
		bool ok = store_vol_get(svc_cfg.store, d->mounts[i].volume, &v) == 0;
		json_array_append_new(ms, json_pack("{s:s,s:s,s:b,s:s?,s:s?}", "volume", d->mounts[i].volume, "path",
						    d->mounts[i].path, "readonly", d->mounts[i].readonly, "pool",
						    ok ? (v.pool ? v.pool : "default") : NULL, "source", ok ? v.path : NULL));
		vol_record_release(&v);
	}
	json_object_set_new(j, "mounts", ms);
	return j;
}

/* ---- ct move ---- */

struct move_op {
	svc_uuid uuid;
	char pool[64];
};

static void move_op_free(void *p) { free(p); }

/* Copy <from>/rootfs and <from>/snapshots (if any) into <to> (made here). */
static int tree_pair_copy(struct job *j, const char *from, const char *to, struct buf *err)
{
	__do_free char *sroot = xasprintf("%s/rootfs", from), *droot = xasprintf("%s/rootfs", to);
	__do_free char *ssnap = xasprintf("%s/snapshots", from), *dsnap = xasprintf("%s/snapshots", to);
	int r;
	if (mkdir(to, 0755) < 0) {
		buf_printf(err, "cannot make %s: %s", to, strerror(errno));
		return -errno;
	}
	job_set_phase(j, "copying the root");
	if ((r = ctrt_tree_copy(sroot, droot, NULL, NULL, NULL, err)) < 0)
		return r;
	if (fs_exists(ssnap) > 0) {
		job_set_phase(j, "copying the snapshots");
		if ((r = ctrt_tree_copy(ssnap, dsnap, NULL, NULL, NULL, err)) < 0)
			return r;
	}
	return 0;
}

/* Remove what tree_pair_copy made (snapshots may be subvolumes). */
static void tree_pair_remove(const char *dir, const char *name)
{
	struct buf e = BUF_INIT;
	__do_free char *root = xasprintf("%s/rootfs", dir);
	if (fs_exists(dir) > 0 &&
	    (ct_snap_remove_all_in(dir, name, &e) < 0 || ctrt_tree_remove(root, &e) < 0 || vol_dir_remove(dir, &e) < 0))
		log_warn("container %s: cannot remove %s: %s", name, dir, e.s);
	buf_release(&e);
}

/*
 * Move d's image root (file `image`) into pool directory pooldir: the file
 * copied (ct_root_copy: a reflink or a copy keeping holes, with progress;
 * a cancel stops it) to .<volume>.ext4.move there, renamed to
 * <volume>.ext4, then vol_move_finish (synced, the new path and pool
 * stored, the old file removed).  Recorded for svc_ct_move_recover before
 * the copy.  *final: the new file, *need: the bytes copied.
 */
static int image_move(struct job *j, const struct ct_def *d, const char *image, const char *pool, const char *pooldir,
		      char **final, uint64_t *need, struct buf *err)
{
	__do_free char *to = vol_file_path(pooldir, d->volume, VOL_EXT4_FORMAT);
	__do_free char *part = xasprintf("%s/.%s.%s.move", pooldir, d->volume, VOL_EXT4_FORMAT);
	enum ctrt_copy_method how;
	struct vol_record v = { 0 };
	int64_t size = 0;
	int r;

	if ((r = store_vol_get(svc_cfg.store, d->volume, &v)) < 0) {
		buf_printf(err, "container '%s': its root volume '%s' is not in the store", d->name, d->volume);
		return r;
	}
	/* a container that powered off inside keeps its image mounted: unmounted, the file is a clean filesystem */
	if ((r = ct_root_unmounted(d, err)) < 0)
		goto out;
	if (unlink(part) == 0)
		log_info("container %s: removed %s, a copy a crash left", d->name, part);
	if (fs_exists(to) > 0) {
		buf_printf(err, "%s exists already in pool '%s' (not a volume corral uses there): not touching it", to, pool);
		r = -EEXIST;
		goto out;
	}
	/* for start-up recovery (svc_ct_move_recover): what to remove if corrald dies from here on */
	job_record_result(j, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "uuid", d->uuid, "name", d->name, "volume",
				       d->volume, "part", part, "final", to, "from", image, "fresh", false, "image", true));
	if ((r = ct_root_copy(j, image, part, &how, &size, err)) < 0) {
		if (r == -ENOSPC)
			buf_printf(err, " (pool '%s' cannot hold the root of container '%s')", pool, d->name);
		goto out;
	}
	/* on disk before the switch; the longest wait after cp, so still cancellable */
	job_set_phase(j, "syncing the copy");
	{
		__do_close int fd = open(part, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			r = -errno;
			buf_printf(err, "cannot sync %s: %s", part, strerror(errno));
			unlink(part);
			goto out;
		}
	}
	job_set_uncancellable(j, "the copy is complete: switching to it");
	if (job_cancelled(j)) {
		buf_adds(err, "cancelled after the copy: the container keeps its root where it was");
		unlink(part);
		r = -ECANCELED;
		goto out;
	}
	if (rename(part, to) < 0) {
		r = -errno;
		buf_printf(err, "cannot rename %s: %s", part, strerror(errno));
		unlink(part);
		goto out;
	}
	job_set_phase(j, "switching to the copy");
	if ((r = vol_move_finish(svc_cfg.store, &v, to, err)) < 0) {
		unlink(to);
		goto out;
	}
	*need = (uint64_t)size;
	*final = move_ptr(to);
out:
	vol_record_release(&v);
	return r;
}

static int move_run(struct job *j, void *arg, struct buf *err)
{
	struct move_op *o = arg;
	__do_free char *lp = ct_lxcpath();
	__do_free char *pooldir = NULL, *olddir = NULL, *part = NULL, *final = NULL, *oldpool = NULL, *image = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	uint64_t need = 0;
	bool held = false, fresh;
	char name[64];
	int r;

	if ((r = ct_load(o->uuid, &rec, &d, err)) < 0)
		return r;
	if (svc_ha_protected(d->uuid)) {
		/* the pool's copy names the root's pool on every host */
		buf_printf(err, "container '%s' is HA-protected: corral ha remove %s before moving its root", d->name,
			   d->name);
		r = -EBUSY;
		goto out;
	}
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' is running: stop it first (a root moves while stopped only)", d->name);
		r = -EBUSY;
		goto out;
	}
	if ((r = svc_pool_hold(o->pool, &pooldir, err)) < 0)
		goto out;
	held = true;
	fresh = !d->volume;
	olddir = ct_rootdir_of(d);
	oldpool = ct_root_pool_of(d);
	if ((image = ct_root_image_of(d))) {
		if ((r = image_move(j, d, image, o->pool, pooldir, &final, &need, err)) < 0)
			goto out;
		snprintf(name, sizeof(name), "%s", d->volume);
		goto moved;
	}
	job_set_uncancellable(j, "a move copies with cp and switches in one store batch; it ends by itself");
	if (job_cancelled(j)) {
		/* asked before the job knew the root is a directory: nothing is copied yet */
		buf_adds(err, "cancelled before the copy");
		r = -ECANCELED;
		goto out;
	}
	if (fresh)
		root_vol_name(d, name);
	else
		snprintf(name, sizeof(name), "%s", d->volume);
	part = xasprintf("%s/.%s.move", pooldir, name);
	final = xasprintf("%s/%s", pooldir, name);
	{
		__do_free char *sroot = xasprintf("%s/rootfs", olddir), *ssnap = xasprintf("%s/snapshots", olddir);
		uint64_t a = 0, b = 0;
		if ((r = vol_dir_measure(sroot, &a)) < 0) {
			buf_printf(err, "cannot read the root %s: %s", sroot, strerror(-r));
			goto out;
		}
		if (fs_exists(ssnap) > 0)
			vol_dir_measure(ssnap, &b);
		need = a + b;
	}
	tree_pair_remove(part, d->name); /* a copy a crash left */
	if (fs_exists(final) > 0) {
		buf_printf(err, "%s exists already in pool '%s' (not a volume corral uses there): not touching it", final,
			   o->pool);
		r = -EEXIST;
		goto out;
	}
	if ((r = vol_dir_space_check(pooldir, need + ROOT_MARGIN, err)) < 0) {
		buf_printf(err, " (pool '%s' cannot hold the root of container '%s')", o->pool, d->name);
		goto out;
	}
	job_progress_bytes(j, 0, need ? need : 1);
	/* for start-up recovery (svc_ct_move_recover): what to remove if corrald dies from here on */
	job_record_result(j, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "uuid", d->uuid, "name", d->name, "volume", name,
				       "part", part, "final", final, "from", olddir, "fresh", fresh));
	if ((r = tree_pair_copy(j, olddir, part, err)) < 0) {
		tree_pair_remove(part, d->name);
		goto out;
	}
	if (rename(part, final) < 0) {
		r = -errno;
		buf_printf(err, "cannot rename %s: %s", part, strerror(errno));
		tree_pair_remove(part, d->name);
		goto out;
	}
	job_progress_bytes(j, need ? need : 1, need ? need : 1);
	job_set_phase(j, "switching to the copy");
	{
		struct vol_record v = { .name = name, .format = VOL_DIR_FORMAT, .path = final, .pool = o->pool };
		struct store_batch *b = store_batch_new();
		if (fresh) {
			store_batch_vol_add(b, &v);
			free(d->volume);
			d->volume = xstrdup(name);
			__do_json json_t *dj = ctdef_to_json(d);
			json_object_del(dj, "created");
			__do_free char *text = json_dumps(dj, JSON_COMPACT | JSON_SORT_KEYS);
			store_batch_ct_put(b, d->uuid, d->name, text, false);
		} else {
			store_batch_vol_update(b, &v);
		}
		r = store_batch_commit(svc_cfg.store, b, err);
		store_batch_free(b);
		if (r < 0) {
			tree_pair_remove(final, d->name);
			goto out;
		}
	}
	/* the new root is the one in the store: the old copy goes */
	job_set_phase(j, "removing the old copy");
	if (fresh) {
		struct buf e = BUF_INIT;
		__do_free char *root = xasprintf("%s/rootfs", olddir);
		if (ct_snap_remove_all_in(olddir, d->name, &e) < 0 || ctrt_tree_remove(root, &e) < 0)
			log_warn("container %s: moved, but its old root stays in %s: %s", d->name, olddir, e.s);
		buf_release(&e);
	} else {
		tree_pair_remove(olddir, d->name);
	}
moved:
	{
		__do_free char *ev = xasprintf("root moved to pool %s (%s)", o->pool, final);
		svc_vm_event(d->uuid, "container", ev);
	}
	job_set_result(j, json_pack("{s:s,s:s,s:s?,s:s,s:s,s:I}", "container", d->name, "pool", o->pool, "from_pool",
				    oldpool, "volume", name, "path", final, "bytes", (json_int_t)need));
out:
	if (held)
		svc_pool_put(o->pool);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

bool svc_ct_move_recover(const json_t *result)
{
	const char *name = json_string_value(json_object_get(result, "name"));
	const char *vol = json_string_value(json_object_get(result, "volume"));
	const char *part = json_string_value(json_object_get(result, "part"));
	const char *final = json_string_value(json_object_get(result, "final"));
	const char *from = json_string_value(json_object_get(result, "from"));
	bool fresh = json_is_true(json_object_get(result, "fresh")), done = false;
	struct vol_record v = { 0 };

	if (!name || !vol || !part || !final || !from || ctdef_name_invalid(name) || str_name_invalid(vol) ||
	    part[0] != '/' || final[0] != '/' || from[0] != '/')
		return false;
	done = store_vol_get(svc_cfg.store, vol, &v) == 0 && strcmp(v.path, final) == 0;
	vol_record_release(&v);
	if (json_is_true(json_object_get(result, "image"))) {
		/* an image root: single files; the one the store names stays */
		const char *gone = done ? (strcmp(from, final) != 0 ? from : NULL) : final;
		if (unlink(part) == 0)
			log_info("container %s: removed %s, the copy of an interrupted move", name, part);
		if (gone && unlink(gone) == 0)
			log_info("container %s: removed %s, left by an interrupted move", name, gone);
		return done;
	}
	tree_pair_remove(part, name);
	if (done) {
		/* switched: the old copy is what is left to remove */
		if (strcmp(from, final) != 0 && fs_exists(from) > 0) {
			log_info("container %s: removing its old root %s left by an interrupted move", name, from);
			if (fresh) {
				struct buf e = BUF_INIT;
				__do_free char *root = xasprintf("%s/rootfs", from);
				if (ct_snap_remove_all_in(from, name, &e) < 0 || ctrt_tree_remove(root, &e) < 0)
					log_warn("container %s: its old root stays in %s: %s", name, from, e.s);
				buf_release(&e);
			} else {
				tree_pair_remove(from, name);
			}
		}
		return true;
	}
	/* not switched: the container keeps its old root; a complete copy no volume names goes */
	if (fs_exists(final) > 0) {
		log_info("container %s: removing %s, the copy of an interrupted move", name, final);
		tree_pair_remove(final, name);
	}
	return false;
}

int svc_ct_move(const char *key, const char *pool, json_t **job, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *cur = NULL, *pooldir = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	const char *bad = pool ? str_name_invalid(pool) : "the target pool is required";
	int r;

	if (bad) {
		buf_printf(err, "invalid pool: %s", bad);
		return -EINVAL;
	}
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	if (d->rootfs) {
		buf_printf(err, "container '%s' runs on a --rootfs directory of your own (%s): corral moves only roots "
			   "it made", d->name, d->rootfs);
		r = -ENOTSUP;
		goto out;
	}
	if (svc_ha_protected(d->uuid)) {
		/* the pool's copy names the root's pool on every host */
		buf_printf(err, "container '%s' is HA-protected: corral ha remove %s before moving its root", d->name,
			   d->name);
		r = -EBUSY;
		goto out;
	}
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' is running: stop it first (a root moves while stopped only)", d->name);
		r = -EBUSY;
		goto out;
	}
	if ((r = svc_pool_hold(pool, &pooldir, err)) < 0)
		goto out;
	svc_pool_put(pool);
	cur = ct_root_pool_of(d);
	if (cur && strcmp(cur, pool) == 0) {
		buf_printf(err, "container '%s' has its root in pool '%s' already", d->name, pool);
		r = -EINVAL;
		goto out;
	}
	struct move_op *o = xcalloc(1, sizeof(*o));
	snprintf(o->uuid, sizeof(o->uuid), "%s", d->uuid);
	snprintf(o->pool, sizeof(o->pool), "%s", pool);
	struct job_spec spec = { .type = "ct-move", .target = d->name, .vm = d->uuid, .vm_name = d->name,
				 .run = move_run, .arg = o, .free_arg = move_op_free };
	r = job_start(&spec, job, err);
out:
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}
