/*
 * fsutil.h - small filesystem helpers: create directory trees, read and
 * atomically write whole files, check existence, and the process's limit
 * on open file descriptors.
 */
#ifndef CORRAL_UTIL_FSUTIL_H
#define CORRAL_UTIL_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* mkdir -p with `mode` for created components.  0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Read a whole file (up to `max` bytes; more is -EFBIG).  0 or -errno. */
int fs_read_file(const char *path, size_t max, struct buf *out);
/* The last non-empty lines (at most 3) of what a file got written since
 * offset from, on one line with control characters as spaces (for an error
 * message about a helper daemon's output); "no message" when there is none.
 * New string. */
char *fs_tail_text(const char *path, size_t from);
/*
 * The same for a file in a directory others may write to (an unprivileged
 * QEMU's run dir): -EPERM unless it is a regular file, not a symlink, with
 * one link, owned by this process's effective user.
 */
int fs_read_file_mine(const char *path, size_t max, struct buf *out);
/* The same for a file whose owner may be another user (a UEFI VM's vars,
 * the qemu user's): a regular file, not a symlink, with one link. */
int fs_read_file_regular(const char *path, size_t max, struct buf *out);
/* Write via a temp file (created O_EXCL | O_NOFOLLOW) + fsync + rename.  0 or -errno. */
int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Copy the file src to dest through a temp file (O_EXCL) and rename; dest gets mode.  0 or -errno. */
int fs_copy_file(const char *src, const char *dest, mode_t mode);
/* The same from the open descriptor `in`, read from its current offset (stays the caller's). */
int fs_copy_fd(int in, const char *dest, mode_t mode);
/* 1 if path exists, 0 if not. */
int fs_exists(const char *path);
/* Make `path` absolute against the cwd; returns a new string. */
char *fs_absolute(const char *path);
/*
 * Raise this process's soft RLIMIT_NOFILE to its hard limit (children
 * inherit it) and store the resulting soft limit in *limit.  0 or -errno
 * (*limit then holds the unchanged soft limit when it could be read).
 */
int fs_nofile_raise(unsigned long *limit);

#endif
