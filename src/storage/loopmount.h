/*
 * loopmount.h - ext4 image files as container roots (loopmount.c): make the
 * filesystem, loop-mount it on a directory, unmount it, and tell whether a
 * directory is a mount point now.  mkfs.ext4, mount and umount run through
 * the command runner (util/cmd.h: argv vectors, never a shell); mount(8)
 * sets the loop device up with autoclear, so the unmount frees it.
 *
 * A mount lives in the host's mount namespace, not in corrald: it survives
 * a kill -9 of corrald, and the next corrald finds it (loop_mounted) and
 * uses it rather than mounting twice.
 *
 * Threading: any thread; callers serialise calls on one directory (the
 * container's job lock).  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_STORAGE_LOOPMOUNT_H
#define CORRAL_STORAGE_LOOPMOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

/* A sparse file `img` (must not exist) of `size` bytes holding an empty ext4. */
int loop_ext4_make(const char *img, uint64_t size, struct buf *err);
/* Mount ext4 image `img` on directory `dir` (made 0711 if missing):
 * with a loop device.  Already mounted there: 0. */
int loop_mount(const char *img, const char *dir, struct buf *err);
/* Unmount `dir`; not mounted: 0. */
int loop_umount(const char *dir, struct buf *err);
/* Give the blocks the filesystem mounted on `dir` no longer uses back to
 * its image file (fstrim: the loop device punches holes in the file). */
int loop_trim(const char *dir, struct buf *err);
/* Is `dir` a mount point now (/proc/self/mountinfo)? */
bool loop_mounted(const char *dir);

#endif
