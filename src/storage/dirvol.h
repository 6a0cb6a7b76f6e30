/*
 * dirvol.h - directory volumes (dirvol.c): format "dir", a directory
 * <pool directory>/<name> in the store's volumes table.  Container roots
 * live in them (docs/containers.md, "Storage"), and so do the extra mount
 * points bind-mounted into containers.  Image volumes are volume.h's.
 *
 * Threading: every call is safe from any thread.  vol_dir_usage() never
 * walks a tree on the caller's thread: one detached background thread
 * measures (started on first use, lives as long as the process).
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_STORAGE_DIRVOL_H
#define CORRAL_STORAGE_DIRVOL_H

#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "util/buf.h"

#define VOL_DIR_FORMAT "dir"
#define VOL_DIR_USAGE_TTL_MS 10000

/* Make the directory <dir>/<name> (mode 0755, owned uid:gid), which must
 * not exist; *path: its path (caller frees).  The caller records the row. */
int vol_dir_make(const char *dir, const char *name, uid_t uid, gid_t gid, char **path, struct buf *err);
/* Remove a directory volume's tree (no symlink followed, no mount crossed).  Absent: 0. */
int vol_dir_remove(const char *path, struct buf *err);
/* What the tree uses on disk (allocated blocks), measured now on this thread. */
int vol_dir_measure(const char *path, uint64_t *bytes);
/* The last measurement of path (0), or -EAGAIN when there is none yet; either
 * way a new one is asked for when the last is older than VOL_DIR_USAGE_TTL_MS. */
int vol_dir_usage(const char *path, uint64_t *bytes);
void vol_dir_usage_forget(const char *path);
/* -ENOSPC + "not enough space in DIR: X needed, Y free" unless need bytes are free in dir. */
int vol_dir_space_check(const char *dir, uint64_t need, struct buf *err);

#endif
