/*
 * snapshot.h - qcow2 internal snapshots at the QEMU level: qemu-img on
 * images no QEMU has open, QMP on a running VM's format nodes.
 *
 * docs/snapshots.md says which call serves which case.  Nothing here knows
 * about VMs, the store or the snapshot tree (that is src/service/snapshot.c):
 * these are the mechanics, one tag at a time, on a list of images or nodes.
 *
 * Errors: 0 or -errno with one user-facing sentence appended to err (the
 * message of qemu-img or QEMU included); -EIO when they failed.
 */
#ifndef CORRAL_QEMU_SNAPSHOT_H
#define CORRAL_QEMU_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

struct qmp;

/* Images not in use: `qemu-img snapshot -c|-a|-d TAG PATH` (format qcow2). */
int snap_img_create(const char *path, const char *tag, struct buf *err);
int snap_img_apply(const char *path, const char *tag, struct buf *err);
int snap_img_delete(const char *path, const char *tag, struct buf *err);
/*
 * The internal snapshots of an image, from `qemu-img info -U --output=json`
 * (a read that also works while QEMU has the image open): *out is a new
 * array of {"name","vm-state-size","date-sec",...} as qemu-img prints them.
 */
int snap_img_list(const char *path, json_t **out, struct buf *err);
/* The entry named `tag` of such a list (borrowed), or NULL. */
json_t *snap_list_find(const json_t *list, const char *tag);

/* Called while a QMP job runs, with percent 0..100. */
typedef void (*snap_progress_cb)(void *opaque, double percent);

/*
 * Running VM.  `nodes` are the format node names of the VM's disks (n of
 * them; the first holds the RAM state for save/load).
 * snap_qmp_create_disks: one `transaction` of blockdev-snapshot-internal-sync,
 * atomic across the disks.  save/load/delete: the snapshot-save/-load/-delete
 * job `job_id`, waited for (progress through cb, may be NULL) up to
 * timeout_ms; a failure is the job's own error (QEMU 7.2 reports a failed
 * snapshot-load only there).
 */
int snap_qmp_create_disks(struct qmp *q, const char *const *nodes, int n, const char *tag, struct buf *err);
int snap_qmp_delete_disk(struct qmp *q, const char *node, const char *tag, struct buf *err);
int snap_qmp_save(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		  snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err);
int snap_qmp_load(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		  snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err);
int snap_qmp_delete(struct qmp *q, const char *job_id, const char *tag, const char *const *nodes, int n,
		    snap_progress_cb cb, void *opaque, int timeout_ms, struct buf *err);
/* Wait for (and dismiss) every QEMU job whose id starts with `prefix`
 * (jobs a crashed corrald left behind).  0, or the first failure. */
int snap_qmp_settle(struct qmp *q, const char *prefix, int timeout_ms, struct buf *err);
/* The internal snapshots QEMU sees on format node `node` (new array, as snap_img_list). */
int snap_qmp_list(struct qmp *q, const char *node, json_t **out, struct buf *err);

#endif
