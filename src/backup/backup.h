/*
 * backup.h - backing up VMs into a repository (repo.h) and restoring them.
 *
 * A backup reads a consistent point-in-time view of every disk:
 *  - running VM: an image-fleecing point taken through QMP (fleece.c): a
 *    temporary overlay in the VM's run directory receives the old contents of
 *    blocks the guest overwrites (copy-before-write), exported read-only over
 *    NBD on a unix socket together with the dirty bitmap of the previous backup;
 *    the guest pauses only for the QMP transaction;
 *  - stopped VM: the image itself, exported read-only by qemu-nbd (with the
 *    previous backup's bitmap, which recorded any offline writes, e.g. by
 *    qemu-io or qemu-img, since the image is closed cleanly between them).
 * Both are read with libnbd (nbdsrc.c).  Incrementals: every qcow2 disk keeps
 * a persistent dirty bitmap named "corral-<backup time>" enabled since the
 * last good backup; the transaction that takes the fleecing point also adds
 * the next bitmap and disables the old one.  A run reads only the chunks the
 * old bitmap marks and copies the rest of the chunk list from the previous
 * manifest, so every backup is complete and independently restorable.  When
 * the chain cannot be trusted (no previous backup, bitmap missing or
 * inconsistent, disk list/size/volume changed, previous run failed, raw
 * image), the run reads the whole disk and says why in the result.
 * On failure the new bitmap is dropped and the old one kept, so the next run is
 * still correct.
 *
 * Cancel (repo.h, "Cancelling"): a run looks at req->cancel before each step
 * and each worker before each chunk.  Once it is set, the workers stop after
 * the chunk in hand, the point-in-time view is torn down as after a failure
 * (NBD export and server, fleecing job and overlay; or qemu-nbd, which exits
 * once its clients are gone), the new bitmap is folded back into the old one
 * (so the next incremental still sees every change), no manifest is written
 * and backup_vm returns -ECANCELED.  Chunks already stored stay in the
 * repository, referenced by nothing, until the next sweep.  A restore that is
 * cancelled stops its writers and removes the image it was writing.
 *
 * Restore writes chunks into new images through qemu-nbd (restore.c);
 * backup_dev_open exposes one disk of a backup as a readable device, so
 * single files come out through the image helper without restoring anything.
 *
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_BACKUP_BACKUP_H
#define CORRAL_BACKUP_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "backup/repo.h"
#include "util/buf.h"

struct qmp;

#define BACKUP_MANIFEST_VERSION 1

/* Progress: bytes done/total of the current VM and a phase word
 * ("snapshot", "read", "finish"; restore: "write"). */
typedef void (*backup_progress_cb)(uint64_t done, uint64_t total, const char *phase, void *arg);

struct backup_disk_req {
	const char *volume;	/* volume name */
	const char *path;	/* image file */
	const char *format;	/* "qcow2" / "raw" */
	uint64_t size;		/* virtual size */
	const char *slot;	/* where it sits in the definition ("disk0", bus) */
	const char *node;	/* running VM: its format node name (rt_disk_nodes), else NULL */
};

struct backup_req {
	const char *vm_name, *vm_uuid;
	const json_t *definition;	/* saved in the manifest as is */
	struct qmp *qmp;		/* running VM: its monitor (caller got it from rt_qmp_acquire); NULL: stopped */
	struct backup_disk_req *disks;	/* already filtered (--os-disk-only) */
	size_t n_disks;
	const char *policy;		/* recorded, may be NULL */
	const char *run_dir;		/* VM run dir (running) or a scratch dir: sockets, overlays */
	int64_t now;			/* backup time, unix seconds (tests may set it) */
	const atomic_bool *cancel;	/* set by any thread to stop the run (NULL: never) */
	/* Running VM: called with before=true just before the point in time is
	 * taken and with before=false right after it, whether taking it worked
	 * or not (the guest agent's freeze and thaw, service/agent.h); NULL:
	 * none. */
	void (*point_hook)(void *arg, bool before);
	void *point_arg;
	/* A UEFI VM's NVRAM vars file (its boot entries, Secure Boot keys),
	 * kept with the backup as manifest "nvram" (read right after the point in
	 * time); NULL: none. */
	const char *nvram_path;
};

struct backup_disk_stats {
	char *volume;
	bool incremental;
	char *full_reason;		/* why a full read, NULL if incremental */
	uint64_t size, bytes_read, bytes_new, chunks, chunks_new;
};

struct backup_result {
	char *id;
	int64_t duration_ms;
	uint64_t bytes_read, bytes_new, size;
	struct backup_disk_stats *disks;
	size_t n_disks;
};

/* Back up one VM into r (caller holds the VM's job lock and a shared repo
 * lock).  On success the manifest is durable and res filled; on failure or
 * cancel (-ECANCELED) no manifest exists and the VM is untouched except for
 * its run dir scratch. */
int backup_vm(struct repo *r, const struct backup_req *req, backup_progress_cb cb, void *arg,
	      struct backup_result *res, struct buf *err);
void backup_result_release(struct backup_result *res);
/* {"id":..,"duration_ms":..,"disks":[{..}]} for job history. */
json_t *backup_result_json(const struct backup_result *res);

/* Remove what a crashed corrald left in a running VM's QEMU (fleecing nodes,
 * NBD exports, the temporary overlay) and in its run dir.  Safe to call on a
 * VM without leftovers. */
int backup_cleanup_vm(struct qmp *qmp, const char *run_dir, struct buf *err);
/* Only the files of that (the temporary overlays, the NBD sockets): for a VM
 * whose QEMU is gone (killed during a backup while corrald was down). */
void backup_cleanup_files(const char *run_dir);

/* Drop corral's dirty bitmaps from a qcow2 disk: through qmp on a running
 * VM's format node, else (qmp NULL) with qemu-img on the image at path.  QEMU
 * 7.2 refuses to revert an internal snapshot while the image carries any
 * bitmap, so snapshot revert calls this first; the next backup of the disk
 * then reads it whole ("bitmap missing"). */
int backup_bitmaps_drop(struct qmp *qmp, const char *node, const char *path, struct buf *err);

/* Restore disk `index` of backup `id` into a new image at dest (format
 * "qcow2"/"raw", created with the backed-up virtual size; must not exist).
 * Zero chunks are skipped.  On failure or cancel (-ECANCELED: *cancel was
 * set) dest is removed and no qemu-nbd is left. */
/* The NVRAM vars kept with backup id ("nvram" in its manifest) into out;
 * -ENOENT (err says so) when it has none. */
int backup_nvram_read(struct repo *r, const char *id, struct buf *out, struct buf *err);
/* Largest NVRAM vars file a backup keeps (OVMF's are 528 KiB or 4 MiB). */
#define BACKUP_NVRAM_MAX (64u << 20)

int backup_restore_disk(struct repo *r, const char *id, size_t index, const char *dest, const char *format,
			const atomic_bool *cancel, backup_progress_cb cb, void *arg, struct buf *err);

/*
 * Disk `index` of backup `id` as a read-only device: its size, reads of any
 * [off, off+len) inside it (chunks fetched, checked and cached; -EINVAL past
 * the end, -EIO for a damaged chunk), safe from several threads.  r must
 * stay open (and locked) until backup_dev_close.
 */
struct backup_dev;
int backup_dev_open(struct repo *r, const char *id, size_t index, struct backup_dev **out, struct buf *err);
uint64_t backup_dev_size(const struct backup_dev *bd);
int backup_dev_pread(struct backup_dev *bd, void *buf, size_t len, uint64_t off);
void backup_dev_close(struct backup_dev *bd);

#endif
