/*
 * pool.h - storage pools on disk: a pool is a directory volumes live in.
 *
 * The store keeps the pools (core/store.h, "Storage pools"); this module
 * checks a directory before it becomes a pool and reports its space.
 * Pools never nest: no pool's directory is inside another's, so every
 * image file belongs to exactly one pool.  Paths handed back are canonical
 * (symlinks resolved), so two spellings of one directory compare equal.
 * Errors: 0 or -errno with one user-facing sentence appended to err.
 */
#ifndef CORRAL_STORAGE_POOL_H
#define CORRAL_STORAGE_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

struct pool_usage {
	uint64_t capacity; /* size of the filesystem holding the pool */
	uint64_t used;     /* bytes in use on it (by anything) */
	uint64_t free;     /* bytes an unprivileged writer may still use */
};

/*
 * Check `path` for a new pool and resolve it: absolute, no control
 * characters, not "/", an existing directory or a missing one whose parent
 * directory exists (*exists says which; nothing is created here).
 * *canon gets the canonical path (caller frees).  -EINVAL for a bad path,
 * -ENOENT when the parent is missing, -ENOTDIR when it names a file.
 */
int pool_path_resolve(const char *path, char **canon, bool *exists, struct buf *err);
/* true when canonical paths a and b are the same directory or one lies inside the other. */
bool pool_paths_overlap(const char *a, const char *b);
/* `outer` is `inner` or one of its parent directories (both canonical). */
bool pool_path_within(const char *inner, const char *outer);
/* statvfs() of the pool's directory. */
int pool_usage_get(const char *path, struct pool_usage *out, struct buf *err);

#endif
