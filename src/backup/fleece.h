/*
 * fleece.h - image-fleecing points on a running VM, through QMP (internal to
 * src/backup; see backup.h for the design and fleece.c for the QEMU details).
 *
 * fleece_take() freezes a point-in-time view of several disks at once and
 * exports each read-only over NBD on a unix socket in the run dir; every
 * qcow2 disk also gets its next persistent dirty bitmap in the same QMP
 * transaction, and its previous one (the incremental base) is disabled and
 * exported with the view.  fleece_end() removes the point and settles the
 * bitmaps: on success only the new bitmap remains (every other "corral-*"
 * bitmap of the node is removed); on failure the new one is folded back into
 * the old one, which records again, so the next run is still exact.
 */
#ifndef CORRAL_BACKUP_FLEECE_H
#define CORRAL_BACKUP_FLEECE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct qmp;
struct fleece;

/* Prefix of every bitmap corral creates; the rest is the backup's time. */
#define FLEECE_BITMAP_PREFIX "corral-"

struct fleece_disk_spec {
	const char *node;	/* the disk's format node */
	uint64_t size;		/* virtual size */
	const char *old_bitmap;	/* incremental base on node (disabled and exported), or NULL */
	const char *new_bitmap;	/* persistent bitmap to start at the point (qcow2), or NULL */
};

int fleece_take(struct qmp *q, const char *run_dir, const struct fleece_disk_spec *disks, size_t n,
		struct fleece **out, struct buf *err);
/* Unix socket of the NBD server and the export name of disk i. */
const char *fleece_socket(const struct fleece *f);
const char *fleece_export(const struct fleece *f, size_t i);
/* Remove the point (NBD clients must be gone), settle bitmaps as described
 * above and free f.  Returns the first error; always frees f. */
int fleece_end(struct fleece *f, bool success, struct buf *err);

/* Whether bitmap `name` on `node` can serve as an incremental base: returns
 * 0 (yes), 1 (no; *why is a static phrase) or -errno (QMP failed). */
/* Remove every corral-* bitmap of a running VM's node. */
int fleece_bitmaps_drop(struct qmp *q, const char *node, struct buf *err);

int fleece_bitmap_usable(struct qmp *q, const char *node, const char *name, const char **why, struct buf *err);

/* Whether node's image can hold persistent bitmaps (not a qcow2 v2 image,
 * compat=0.10): *ok.  -errno if QMP failed. */
int fleece_node_bitmaps_supported(struct qmp *q, const char *node, bool *ok, struct buf *err);

#endif
