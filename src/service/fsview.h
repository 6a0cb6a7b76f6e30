/*
 * fsview.h - listing and streaming files of a guest filesystem (fsview.c).
 *
 * Shared by image.h (volumes and image files) and backup.h (disks inside
 * backups).  The reading itself happens in the image helper (imgclient.h);
 * this is where its answers become the API's JSON and a pipe of bytes.
 *
 * Errors: see service.h; a helper that fails is -EIO.
 */
#ifndef CORRAL_SERVICE_FSVIEW_H
#define CORRAL_SERVICE_FSVIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/imgclient.h"
#include "service/service.h"

/* -EINVAL + err unless path is absolute, without control characters, at most PATH_MAX. */
int svc_fs_path_check(const char *path, struct buf *err);
/* -EINVAL + err unless lv names an LVM2 logical volume as "VG/LV" or "VG-LV"
 * (LVM's name characters [A-Za-z0-9+_.-], at most 255 bytes). */
int svc_fs_lv_check(const char *lv, struct buf *err);
/* {"path","fstype","type","entries":[entry],"truncated"} of `path` in the
 * filesystem of `partition` (0: the only one) of src, or of LVM2 logical
 * volume lv ("VG/LV", NULL: none) (docs/api.md "Inside disks"): a
 * directory's entries sorted by name, anything else as its one entry
 * (without "truncated"). */
int svc_fs_listing(const struct imgc_source *src, int partition, const char *lv, const char *path, json_t **out,
		   struct buf *err);
/* Stream regular file `path` of that filesystem through a pipe: *fd is the
 * read end delivering *size bytes, filled by a thread that stops the helper
 * and calls release(owner) when done (the caller closes fd, early if it
 * wants, which ends the thread and the helper).  owner must keep src alive
 * until then.  On failure nothing is started and release is not called. */
int svc_fs_stream(const struct imgc_source *src, int partition, const char *lv, const char *path,
		  void (*release)(void *owner),
		  void *owner, int *fd, uint64_t *size, struct buf *err);

#endif
