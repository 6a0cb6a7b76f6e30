/*
 * ct_internal.h - what the container files of the service layer (ct.c:
 * definitions and lifecycle; ct_snap.c: snapshots and clones) share.  Not
 * for other modules: they use ct.h.
 */
#ifndef CORRAL_SERVICE_CT_INTERNAL_H
#define CORRAL_SERVICE_CT_INTERNAL_H

#include "core/ctdef.h"
#include "core/job.h"
#include "core/store.h"
#include "lxc/lxc.h"
#include "util/buf.h"

/* corrald's lxcpath, <state_dir>/lxc (a new string). */
char *ct_lxcpath(void);
/* The record and parsed definition of container `key` (name or uuid); -ENOENT + sentence. */
int ct_load(const char *key, struct ct_record *rec, struct ct_def **d, struct buf *err);
/* ct_vol.c: where the root is (docs/containers.md, "Storage").  The
 * directory holding rootfs/ and snapshots/: the root volume's directory,
 * or <lxcpath>/<name> for a root that is no volume (a new string). */
char *ct_rootdir_of(const struct ct_def *d);
/* The rootfs directory liblxc runs: the given one, or <rootdir>/rootfs (a new string). */
char *ct_rootfs_of(const struct ct_def *d);
/* The pool of d's root volume (a new string), NULL for a root that is no volume. */
char *ct_root_pool_of(const struct ct_def *d);
/* Bytes a new template root needs in its pool. */
uint64_t ct_template_need(void);
/* A new, empty root volume for d in pool (NULL: "default") after checking
 * that `need` bytes are free there (-ENOSPC + err); sets d->volume.  Its
 * row is free until d is stored (ct.put then names d as its user). */
int ct_root_vol_make(struct ct_def *d, const char *pool, uint64_t need, struct buf *err);
/* The same for an image root's clone: the row of d's image volume in pool,
 * its file <pool>/<volume>.ext4 not there yet (the caller copies into it:
 * ct_root_image_of(d) names it); ct_root_vol_undo undoes it too. */
int ct_root_image_reserve(struct ct_def *d, const char *pool, struct buf *err);
/* Undo ct_root_vol_make of a d never stored: its tree and row go. */
void ct_root_vol_undo(const struct ct_def *d);
/* The same by volume name, only if no container or VM uses it (clone recovery). */
void ct_root_vol_drop_free(const char *name);
/* The vol.delete of d's root volume into batch b (after its ct.delete). */
void ct_batch_root_delete(struct store_batch *b, const struct ct_def *d);
/* After the row is gone: d's snapshots, root (and its volume directory
 * `rootdir`, or its image file `image` (NULL: none), both read before the
 * row went), and its liblxc directory. */
int ct_root_files_remove(const char *lp, const struct ct_def *d, const char *rootdir, const char *image,
			 struct buf *err);
/* An image root (created --image SIZE): its file (a new string), else NULL. */
char *ct_root_image_of(const struct ct_def *d);
bool ct_root_is_image(const struct ct_def *d);
/* Loop-mount an image root on <lxcpath>/<name>/image (already mounted, or
 * no image root: 0); ct_root_umount undoes it (logging a failure). */
int ct_root_mount(const struct ct_def *d, struct buf *err);
void ct_root_umount(const struct ct_def *d);
/* The same with the failure in err: before an image root's file is copied
 * (a container that powered off inside keeps its image mounted; unmounted,
 * the file holds a clean filesystem).  No image root, or not mounted: 0. */
int ct_root_unmounted(const struct ct_def *d, struct buf *err);
/* Unmount <lxcpath>/<name>/image if a killed job left it mounted (recovery). */
void ct_root_umount_left(const char *name);
/* d's mount points name directory volumes no one else uses (-ENOENT/-EINVAL/-EBUSY + err). */
int ct_mounts_check(const struct ct_def *d, struct buf *err);
/* An unprivileged d: each mount's directory still root's becomes its mapped root's (top only). */
void ct_mounts_give(const struct ct_def *d);
/* The bind mounts of a start: out[i] points into paths[i] (new strings the caller frees, d->nmounts of them). */
int ct_mounts_resolve(const struct ct_def *d, struct ctrt_mount *out, char **paths, struct buf *err);
/* {"root": {volume, pool, path, used}, "mounts": [{volume, path, readonly, pool, source}]} for `ct show`. */
json_t *ct_storage_json(const struct ct_def *d);
/* The signal that halts d's init (its "halt_signal", else its template's), NULL: liblxc's SIGPWR. */
const char *ct_halt_signal(const struct ct_def *d);
/* liblxc's configuration of d with root `rootfs` (borrowed pointers). */
void ct_cfg_of(const struct ct_def *d, const char *rootfs, struct ctrt_config *c);
/* Store nd as the container's definition: its row exists (create false) or is new (create true). */
int ct_store_def(const struct ct_def *nd, bool create, struct buf *err);
/* After a stop or kill (ct.c): a stopped container's NIC filters and image mount go. */
void ct_stopped(const char *lp, const struct ct_def *d);
/* An unprivileged d's id map is the one this host gives containers (ct.c;
 * a migration or an HA take-over keeps the tree's numeric owners); -EINVAL
 * with a sentence naming `here` (the host) otherwise. */
int ct_idmap_same_here(const struct ct_def *d, const char *here, struct buf *err);
/* Is it stopped, as liblxc says? */
bool ct_is_stopped(const char *lp, const struct ct_def *d);

/* ct_snap.c: is `name` free among containers and VMs (under svc_defs_lock)?  -EEXIST + err. */
int ct_name_free(const char *name, struct buf *err);
/* A job that made the liblxc directory of a new container `name` claims
 * the name (under svc_defs_lock) until it ends (ct_name_unclaim takes the
 * lock).  ct_dir_taken (under svc_defs_lock): -EEXIST with the reason
 * (the job making it, or a directory left from another tool) when the
 * liblxc directory `dir` of `name` exists, else 0. */
void ct_name_claim(const char *name, int64_t job);
void ct_name_unclaim(int64_t job);
int ct_dir_taken(const char *dir, const char *name, struct buf *err);
/* Store a new container d whose liblxc directory and root a job made: its name checked free
 * and its networks checked again, under svc_defs_lock (a job's last step). */
int ct_store_new(const struct ct_def *d, struct buf *err);

/*
 * ct_create.c: a create whose root takes a while (a tarball to unpack, the
 * debian template's base to build and unpack) as a job "ct-create"
 * holding d (taken over, freed with the job) and fd (the tarball opened
 * and checked at the request, taken over; -EBADF for the debian template).
 * *job: the job.
 */
int ct_create_job(struct ct_def *d, int fd, json_t **job, struct buf *err);

/*
 * ct_debian.c: the debian template's base of `release` for this host's
 * architecture: a tarball in corrald's cache (<state_dir>/cache), built
 * once with debootstrap from the host's Debian mirror (job j shows the
 * phases; a cancel stops it, -ECANCELED).  *fd: the tarball, open.
 */
int ct_debian_base(struct job *j, const char *release, int *fd, struct buf *err);
/* The Debian mirror apt sources `text` name (changed in place): the first
 * `deb` URI (http, https or file) whose suite is a Debian release; deb822
 * for a *.sources file, else one-line style.  A new string, or NULL. */
char *ct_debian_mirror_of(char *text, bool deb822);
/* Start-up: a base build a killed corrald left (its mounts, its tree) goes. */
void ct_debian_leftovers_clean(void);

/* ct_snap.c: what a crash during a snapshot or revert left in the
 * container's directory (half copies) goes; kept copies stay. */
void ct_snap_leftovers_clean(const char *lp, const struct ct_def *d);
/* Remove every snapshot copy of d (before its directory goes). */
int ct_snap_remove_all(const char *lp, const struct ct_def *d, struct buf *err);
/* The same for the root directory `rootdir` (holding snapshots/) of container `name`. */
int ct_snap_remove_all_in(const char *rootdir, const char *name, struct buf *err);
/*
 * Copy root src (a tree, or an image root's file) to dst (not there; its
 * parent is) for job j: the fastest method (ctrt_copy_method_for; cp keeps
 * a sparse file's holes), the space check in dst's parent first (-ENOSPC +
 * err; not for a btrfs snapshot), progress every second, a cancel stops it
 * (-ECANCELED).  *how: the method, *size: the bytes src uses.  On failure
 * dst is gone again.
 */
int ct_root_copy(struct job *j, const char *src, const char *dst, enum ctrt_copy_method *how, int64_t *size,
		 struct buf *err);

#endif
