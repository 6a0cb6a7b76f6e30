/*
 * volume.h - disk volumes in the storage directory.
 *
 * A volume is one image file <pool directory>/<name>.<format> (qcow2 or raw)
 * registered in the store; moving it to another pool copies or (with a
 * running VM, see service/volume.c) mirrors it there.  Images are created thin (qcow2, or sparse raw)
 * with qemu-img; imports convert any format qemu-img reads (vmdk, vdi,
 * vhd/vpc, vhdx, qcow2, raw) into the store, reporting progress.  Every
 * function validates its inputs (names via str_name_invalid, sizes) and
 * leaves nothing behind on failure (no half-written file, no store row).
 * Errors: 0 or -errno with one user-facing sentence appended to err
 * (-EINVAL bad input, -EEXIST name taken, -ENOENT missing, -ENOSPC no room,
 * -EIO qemu-img failed: its message is included).
 */
#ifndef CORRAL_STORAGE_VOLUME_H
#define CORRAL_STORAGE_VOLUME_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "core/store.h"
#include "util/buf.h"

#define VOL_MIN_SIZE (1ULL << 20)   /* 1 MiB */
#define VOL_MAX_SIZE (64ULL << 40)  /* 64 TiB */

struct vol_info {
	uint64_t capacity;   /* virtual size */
	uint64_t allocation; /* bytes used on the host */
};

/* Called from the importing thread with percent 0..100, bytes/s and ETA seconds (-1 unknown),
 * and with percent -1 at least every quarter second in between.  Return non-zero to cancel:
 * the copy stops, nothing is left behind, and the call returns -ECANCELED. */
typedef int (*vol_progress_cb)(void *opaque, double percent, double rate, int64_t eta_s);

/*
 * `storage_dir` is the directory of a pool: the new volume is recorded in the
 * pool whose directory it is ("default" when no pool is registered there).
 * `format` is "qcow2" or "raw".
 */
int vol_create(struct store *st, const char *storage_dir, const char *name, uint64_t size, const char *format,
	       struct buf *err);

/*
 * A directory volume (format "dir", storage/dirvol.h): the directory
 * <storage_dir>/<name> owned by uid:gid, recorded in the pool of its
 * directory; *path (may be NULL) its path.  Nothing is left on failure.
 */
int vol_dir_create(struct store *st, const char *storage_dir, const char *name, uid_t uid, gid_t gid, char **path,
		   struct buf *err);

/*
 * An ext4 image volume (format "ext4", a container's root made with
 * `--image SIZE`, storage/loopmount.h): the sparse file
 * <storage_dir>/<name>.ext4 of `size` bytes (VOL_EXT4_MIN_SIZE..VOL_MAX_SIZE)
 * with an empty ext4 in it; *path (may be NULL) its path.  Nothing is left on failure.
 */
#define VOL_EXT4_FORMAT "ext4"
#define VOL_EXT4_MIN_SIZE (64ULL << 20)
int vol_ext4_create(struct store *st, const char *storage_dir, const char *name, uint64_t size, char **path,
		    struct buf *err);
/*
 * The row of an ext4 image volume whose file <storage_dir>/<name>.ext4
 * (*path, may be NULL) is not there yet: the caller copies an image into it
 * (a container root's clone).  Recorded first, so vol_delete removes a half
 * copy a crash left with the row.  -EEXIST when the file exists already.
 */
int vol_ext4_reserve(struct store *st, const char *storage_dir, const char *name, char **path, struct buf *err);

/*
 * Check an import request before the job starts: src absolute, exists, is a
 * regular file readable by qemu-img (probe format with `qemu-img info`),
 * name valid and free, format qcow2|raw.  Fills *virtual_size.
 */
int vol_import_check(struct store *st, const char *src, const char *name, const char *format,
		     uint64_t *virtual_size, struct buf *err);
/* Convert src into the store as `name` (runs qemu-img convert -p; long). */
int vol_import(struct store *st, const char *storage_dir, const char *src, const char *name, const char *format,
	       vol_progress_cb cb, void *opaque, struct buf *err);
/*
 * The same two reading src_fd, a descriptor of src the caller opened and
 * checked (service/hostpath.h): qemu-img gets it as QEMU_IMG_SRC_FD and
 * never opens src by name; src only names the image in messages and logs.
 * src_fd stays the caller's.
 */
int vol_import_check_fd(struct store *st, int src_fd, const char *src, const char *name, const char *format,
			uint64_t *virtual_size, struct buf *err);
int vol_import_fd(struct store *st, const char *storage_dir, int src_fd, const char *src, const char *name,
		  const char *format, vol_progress_cb cb, void *opaque, struct buf *err);
/*
 * The same with the source's format given (given_format one of raw, qcow2,
 * vmdk, vdi, vpc, vhdx: qemu-img is told, nothing is probed) or NULL
 * (probed).  vol_import_probe_fd also hands back the format the check found
 * (*detected, caller frees), so a caller can look closer at a "raw" file.
 */
int vol_import_probe_fd(struct store *st, int src_fd, const char *src, const char *name, const char *format,
			const char *given_format, uint64_t *virtual_size, char **detected, struct buf *err);
int vol_import_fmt_fd(struct store *st, const char *storage_dir, int src_fd, const char *src, const char *name,
		      const char *format, const char *given_format, vol_progress_cb cb, void *opaque, struct buf *err);

/* Grow an image that no running VM has open (shrinking is refused). */
int vol_resize_offline(struct store *st, const char *name, uint64_t new_size, struct buf *err);
/* Remove the file and the store row.  The caller checks that no VM uses it. */
int vol_delete(struct store *st, const char *name, struct buf *err);
/*
 * Moving a volume to another pool, whose directory is `dir`.
 * vol_move_check refuses what a move would break or lose (-EBUSY, saying
 * why): a template's (read-only) volume, a linked clone, the backing volume
 * of linked clones, an image with internal snapshots; then -EEXIST if a file
 * of the volume's name is in `dir`, -ENOSPC (with the numbers) if `dir`
 * lacks room for the data (qemu-img measure).  Safe on an image a running
 * VM has open.
 */
int vol_move_check(struct store *st, const struct vol_record *v, const char *dir, struct buf *err);
/* Offline, first step: qemu-img convert into a temp file in `dir`, fsync, rename into
 * place (*path, caller frees); -EBUSY if the image changed meanwhile.  The caller then
 * calls vol_move_finish, or removes *path. */
int vol_move_copy(const struct vol_record *v, const char *dir, vol_progress_cb cb, void *opaque, char **path,
		  struct buf *err);
/* Live, first step: an empty image of v's format and virtual size at its final place in `dir`
 * (*path, caller frees), for QEMU to mirror into.  The caller removes it if the move fails. */
int vol_move_target_create(const struct vol_record *v, const char *dir, char **path, struct buf *err);
/* Last step: the data is complete in new_path: sync it, record the new path and pool
 * (the pool whose directory holds it), remove the old file. */
int vol_move_finish(struct store *st, const struct vol_record *v, const char *new_path, struct buf *err);
/* Where a volume `name` of `format` lives in pool directory `dir`, and the
 * hidden temp file an import or offline move (`verb` "import", "move")
 * writes first (caller frees).  Start-up recovery removes the ones a killed
 * corrald left. */
char *vol_file_path(const char *dir, const char *name, const char *format);
char *vol_tmp_path(const char *dir, const char *name, const char *verb);
/* Remove a temp file left by a dead import or move: only if nobody holds its
 * lock (a running one does).  0, -EBUSY, or -errno (-ENOENT: none). */
int vol_tmp_remove_stale(const char *path);
/* qemu-img info (works on images open by a running VM: uses --force-share). */
int vol_info(const char *path, const char *format, struct vol_info *out, struct buf *err);
/* The same from the file itself (its size and blocks, a qcow2 header's
 * virtual size): no process per volume, for listings; falls back to
 * vol_info when the file does not look as expected. */
int vol_stat(const char *path, const char *format, struct vol_info *out, struct buf *err);
/* {"name","format","capacity","allocation","path"} (vol_stat; used_by is added by the caller). */
json_t *vol_to_json(const struct vol_record *v);

#endif
