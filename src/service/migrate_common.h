/*
 * migrate_common.h - what live (migrate.c) and offline (migrate_offline.c)
 * migration share: this host's name in messages, a free TCP port for an
 * incoming stream, and one disk of a prepare request, described by the
 * source (mig_disk_describe) and taken by the destination (mig_disk_accept).
 *
 * Threading: thread-safe.  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_SERVICE_MIGRATE_COMMON_H
#define CORRAL_SERVICE_MIGRATE_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/vmdef.h"
#include "util/buf.h"

/* This host's name as other hosts know it (host_name, else "localhost"). */
const char *mig_self_name(void);

/* The destination `to` of a migration: named, not this host, a trusted
 * host (-EINVAL / -ENOENT + err otherwise). */
int mig_target_check(const char *to, struct buf *err);

/* Can VM d leave this host at all?  Not with a CD-ROM medium inserted (a
 * file of this host), nor replicated (docs/ha.md): -EBUSY + err.  A live
 * migration passes its destination as onto_replica: a VM replicated to
 * exactly that host, in sync, may go there onto its replica (replicate.h
 * svc_replicate_switch_check; NULL: refused). */
int mig_movable(const struct vm_def *d, const char *onto_replica, struct buf *err);

/* Is disk `volume` copied to the destination (*copy: its pool is not
 * shared) or seen there in place?  *pool (if not NULL; caller frees): its
 * pool's name.  A copied linked clone is refused (-ENOTSUP), a volume gone
 * too; 0 or -errno + err. */
int mig_disk_copied(const char *volume, bool *copy, char **pool, struct buf *err);

/* The destination's QEMU must emulate the machine type VM d is pinned to
 * (the guest's hardware stays the same): -ENOTSUP + err naming this host
 * otherwise.  A VM never started (not pinned yet) is pinned here. */
int mig_machine_check(struct vm_def *d, struct buf *err);

/* A free TCP port on addr, this host's IP address (the kernel's choice; the
 * caller's QEMU or qemu-nbd binds it right after). */
int mig_port_pick(const char *addr, int *port, struct buf *err);

/*
 * The source's description of its disk `volume` for a prepare request
 * (the object mig_disk_accept takes): pool, format, capacity, allocation,
 * and for a disk that stays (!copy) its file relative to the pool.  NULL
 * and err when the volume is gone; *capacity (if not NULL) its size.
 */
json_t *mig_disk_describe(const char *volume, bool copy, uint64_t *capacity, struct buf *err);

/*
 * A UEFI VM's NVRAM vars file (boot entries, Secure Boot keys) travels in
 * the prepare request as "nvram" (base64; OVMF's are 128 or 528 KiB).  The
 * source adds it (mig_nvram_add: nothing for a BIOS VM or one never started,
 * which gets OVMF's pristine vars at its first start wherever it is); the
 * destination writes it as the VM's own before its QEMU starts
 * (mig_nvram_accept), and forgetting the VM there removes it.  In a live
 * migration the flash's contents also move with the guest's memory, and
 * QEMU writes them to the destination's file when the guest resumes there:
 * the copy sent here is what the file holds until then.
 */
int mig_nvram_add(const struct vm_def *d, json_t *req, struct buf *err);
int mig_nvram_accept(const struct vm_def *d, const json_t *req, struct buf *err);

/*
 * One disk of a prepare request {"volume","pool","format","file","copy",
 * "capacity","allocation"}: checked (name, format, no clash, the pool
 * exists; a shared disk's file is seen through this host's pool, a copied
 * disk fits with 64 MiB to spare), then a copied disk's volume is created
 * here (its name appended to created) or a shared disk's volume recorded
 * (appended to recorded).  The caller undoes both lists on failure.
 */
int mig_disk_accept(const json_t *dj, json_t *created, json_t *recorded, struct buf *err);

/* VM uuid (name) moved onto its replica (migrate.c): its old local volume
 * here stays, marked as a stale copy of it (replicate.h), so a replication
 * back (`vm replicate --to` this host) compares against it.  Logs failures. */
void mig_replica_left(const char *uuid, const char *name, const char *volume);

/* The outcome is unknown (no answer at the switch or hand-over): `why`, made
 * from fmt, becomes a "migrate" event of VM uuid and replaces err's text. */
void mig_unknown(const char *uuid, struct buf *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The end of a failed offline move of `noun` ("VM", "container") `name`
 * (uuid) to `to`: once `prepared` there, the destination is asked through
 * `peer` to abort (POST {abort_path}; unanswered: the record goes to phase
 * "aborting" and the reconciler asks again later), else the durable record
 * is dropped; a "migrate" event says it stays here.  Returns r, or
 * -ECANCELED with err saying so when the job was cancelled.
 */
struct peer;
struct job;
/*
 * An offline hand-over's finish (POST {base}/finish) failed, with an error
 * answer or none: did the destination take it?  Its status (POST
 * {base}/status) decides, asked either way, since an error answer may be to
 * a finish carried out whose answer was lost (peer.h): 1 it took it
 * ("finished"), 0 it did not (prepared there or nothing there: abort it),
 * -1 no answer (the record stays, the reconciler settles it).
 */
int mig_handover_taken(struct peer *peer, const char *base);
int mig_out_failed(struct peer *peer, const char *abort_path, bool prepared, const char *uuid, const char *noun,
		   const char *name, const char *to, struct job *j, int r, struct buf *err);

#endif
