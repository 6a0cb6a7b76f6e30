/*
 * image.h - looking inside disks, read-only (image.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_IMAGE_H
#define CORRAL_SERVICE_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"
#include "qemu/runtime.h"

/* Looking inside disks, read-only (image.c).  A volume of a running VM is
 * refused (-EBUSY) unless `snapshot` names an internal snapshot; the job lock
 * of the VM owning the volume is held while reading (-EAGAIN when busy). */
struct svc_img_ref {
	const char *volume;	/* a volume name, or NULL and */
	const char *file;	/* an absolute path of an image file on the host */
	const char *snapshot;	/* qcow2 internal snapshot to read, or NULL */
	int partition;		/* 0: the only filesystem */
	const char *lv;		/* or an LVM2 logical volume "VG/LV" (NULL: none) */
};
/* path NULL, partition 0, no lv: the partition table {"scheme","size","fstype","partitions":[...],
 * "volumes":[{"name","size","fstype","error"}]} (LVM2 logical volumes);
 * else the listing of path (default "/") {"path","fstype","type","entries":[...],"truncated"}. */
int svc_img_inspect(const struct svc_img_ref *ref, const char *path, json_t **out, struct buf *err);
/* Stream regular file `path`: *fd is a pipe delivering its *size bytes (a thread
 * fills it; the caller closes fd, early if it wants, which ends the reading). */
int svc_img_read(const struct svc_img_ref *ref, const char *path, int *fd, uint64_t *size, struct buf *err);
/* {"vm","volume","format","config","partition","fstype","boot_entry","default","selected","entries":[...]}
 * read from the VM's first disk. */
int svc_vm_boot_entries(const char *uuid, json_t **out, struct buf *err);

/* rt_config.boot_extract (qemu/runtime.h) for `--boot disk-kernel`: entry
 * `want` (NULL/"": the default) of volume vol's boot configuration, its
 * kernel to <dir>/vmlinuz and initrd to <dir>/initrd (each written to a temp
 * file by the image helper and renamed into place; a stale initrd removed
 * when the entry has none).  -ENOENT/-EINVAL/-EFBIG as bootdisk.h says,
 * -EIO for an unreadable image. */
int svc_boot_extract(const struct vol_record *vol, const char *want, const char *dir, struct rt_boot_choice *out,
		     struct buf *err);

#endif
