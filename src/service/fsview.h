/*
 * fsview.h - listing and streaming files of a guest filesystem (fsview.c).
 *
 * Shared by image.h (volumes and image files) and backup.h (disks inside backups).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_FSVIEW_H
#define CORRAL_SERVICE_FSVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

struct img_fs;
/* -EINVAL + err unless path is absolute, without control characters, at most PATH_MAX. */
int svc_fs_path_check(const char *path, struct buf *err);
/* {"path","fstype","type","entries":[entry],"truncated"} of `path` in fs
 * (fsview.c; docs/api.md "Inside disks"): a directory's entries sorted by
 * name, anything else as its one entry. */
int svc_fs_listing(struct img_fs *fs, const char *path, json_t **out, struct buf *err);
/* Stream regular file `path` of fs through a pipe (fsview.c): *fd is the read
 * end delivering *size bytes, filled by a thread that calls release(owner)
 * when done (the caller closes fd, early if it wants, which ends the thread).
 * On failure nothing is started and release is not called. */
int svc_fs_stream(struct img_fs *fs, const char *path, const char *label, void (*release)(void *owner), void *owner,
		  int *fd, uint64_t *size, struct buf *err);

#endif
