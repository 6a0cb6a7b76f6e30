/*
 * replicate.h - synchronous disk replication of a running VM to a trusted
 * host (docs/ha.md).  Two halves:
 *
 * The VM's host (replicate.c): `corral vm replicate VM --to HOST` asks HOST
 * for replica volumes, then mirrors each local disk onto them with QEMU's
 * write-blocking mirror (qemu/replicate.h): once in sync, a guest write
 * completes only after the replica host has it on its storage.  A monitor
 * thread follows the mirrors once a second and keeps the state:
 *   syncing   the first copy (or a resync) runs; percent done
 *   in-sync   every mirror is ready: every acknowledged write is on both hosts
 *   degraded  a mirror failed (the replica host, its daemon or the link is
 *             gone): the VM runs on its local disks; a dirty bitmap holds
 *             what changed since the replica was last known in sync, and
 *             `--resume` (or the retry every SVC_REPL_RETRY_S) copies only that
 *   stopped   the VM's QEMU ended: the next `--resume` on the running VM
 *             copies everything again
 * The record (STATE/replication/<uuid>.json, written atomically at every
 * change) survives corrald: the mirrors are QEMU's and run on; a restarted
 * corrald loads the records and follows them again.
 *
 * The replica host (replica.c): POST /v1/replicas (from the VM's host,
 * Host.Peer) creates a volume of the same name, size and format for each
 * disk and serves them with qemu-storage-daemon (qemu/qsd.h) over NBD with
 * TLS-PSK (a fresh key from the VM's host each time, never in argv or
 * logs) and writethrough; /v1/replicas/{uuid}/export restarts that daemon
 * with a new key (a resume); DELETE removes daemon and volumes.  Its record
 * is STATE/replicas/<uuid>/replica.json; the daemon outlives corrald and is
 * found again by its identity, or started again at corrald's start.
 *
 * Onto a stale copy (docs/ha.md "Resync onto a stale copy"): volumes of the
 * disks' names that HOST holds already, marked as stale copies of the VM
 * (replica_stale.c) or reused on request, are kept; the VM's host then makes
 * the compare pass (resync.h: chunk hashes of both sides, only what differs
 * written into the export, POST /v1/replicas/{uuid}/hashes) before the
 * changed-block rounds and the mirror.  `--stop --keep-replica` (DELETE
 * ...?keep=true) leaves the replica's volumes on HOST as stale copies.
 *
 * Threading: all functions are thread-safe (one lock serialises the
 * replication steps of this host).  Errors: 0 or -errno with one sentence
 * appended to err: -ENOENT unknown VM or host, -EINVAL bad input (no local
 * disk, a stopped VM), -EEXIST replicated already, -EREMOTEIO & co. from
 * the peer (service/peer.h).
 */
#ifndef CORRAL_SERVICE_REPLICATE_H
#define CORRAL_SERVICE_REPLICATE_H

#include <stdbool.h>
#include <jansson.h>

#include "util/buf.h"

#define SVC_REPL_RETRY_S 15
#define SVC_REPL_ROTATE_S 10

/* ---- the VM's host ---- */
/* Start replicating VM uuid to trusted host `to`: *out the replication's JSON.
 * A volume of a disk's name already on `to` is refused, unless it is marked
 * there as a stale copy of this VM (svc_volume_mark_stale) or reuse is set
 * ("this volume is an older copy of this disk"), and it has the disk's
 * virtual size and format, in a local pool, used by nothing: then it is
 * reused and the compare pass (resync.h) copies only the chunks that differ,
 * in the monitor thread (state syncing, phase compare).  rate_mib: MiB/s
 * the compare pass may read (0: no limit). */
int svc_vm_replicate(const char *uuid, const char *to, bool reuse, unsigned rate_mib, json_t **out, struct buf *err);
/* Copy what changed to the replica again (degraded or stopped). */
int svc_vm_replicate_resume(const char *uuid, json_t **out, struct buf *err);
/* Stop replicating: mirrors and bitmaps removed here, the replica removed on
 * the peer; *out {"deleted":[replica volumes]}.  keep: the peer keeps the
 * replica volumes, marked as a stale copy of the VM; *out {"kept":[...]}. */
int svc_vm_replicate_stop(const char *uuid, bool keep, json_t **out, struct buf *err);
/* The replication of uuid as JSON for `vm show` and the API, or NULL if none. */
json_t *svc_vm_replication(const char *uuid);
/* Is uuid replicated (for operations a replicated VM refuses)? */
bool svc_vm_replicated(const char *uuid);
/* At start: load the records and start the monitor; at stop: join it. */
void svc_replicate_recover(void);
/* Drop VM uuid's replication record without touching QEMU or the peer: the
 * VM was taken over by its replica's host (HA failover; this host keeps its
 * old volumes). */
void svc_replicate_forget(const char *uuid);
/* Before `vm start` of a replicated VM: in a pool, the replica recorded
 * outdated (its writes would be on this host alone until a resume);
 * -EBUSY when that cannot be recorded (no quorum). */
int svc_replicate_start_check(const char *uuid, const char *name, struct buf *err);
void svc_replicate_shutdown(void);

/*
 * The switchover onto the replica (`vm migrate VM --to` its replica's host:
 * migrate.c, docs/migration.md "Onto its replica"), in this order:
 *   svc_replicate_switch_check  (the request) replicated to `to`, in-sync,
 *                        no compare pass pending: 0 and *volumes (if not
 *                        NULL) the replicated volumes; else -ENOENT (not
 *                        replicated), -EBUSY with a sentence naming the state,
 *                        or today's refusal for a replica on another host
 *   svc_replicate_switch_begin  (the job, once its migration record exists)
 *                        the same check under the replication's lock, the
 *                        pool's row removed (HA never restarts the VM on the
 *                        replica meanwhile), the record marked "handover":
 *                        "holding": the monitor leaves it alone, `--stop`
 *                        and `--resume` refuse
 *   svc_replicate_switch_cut    (the guest paused, before migrate-continue)
 *                        every mirror checked ready and caught up, then
 *                        ended in sync (qemu/replicate.h repl_finish):
 *                        "handover": "cut"
 *   svc_replicate_switch_done   the VM runs on the replica's host: the record
 *                        and its key go (this host keeps the old volumes,
 *                        the caller marks them stale)
 *   svc_replicate_switch_undo   it did not happen: "holding" goes back to
 *                        following the mirrors; "cut" becomes degraded, the
 *                        monitor resumes it at once (a new export there,
 *                        the writes since the cut copied from the bitmap)
 * A corrald killed meanwhile: the record keeps "handover"; at start it is
 * undone when no outgoing migration record of the VM exists, else the
 * migration's reconciler (migrate_recover.c) calls done or undo.
 */
struct qmp;
int svc_replicate_switch_check(const char *uuid, const char *name, const char *to, json_t **volumes, struct buf *err);
int svc_replicate_switch_begin(const char *uuid, const char *name, const char *to, struct buf *err);
int svc_replicate_switch_cut(const char *uuid, struct qmp *q, struct buf *err);
void svc_replicate_switch_done(const char *uuid, const char *to);
void svc_replicate_switch_undo(const char *uuid, const char *why);

/* ---- the replica host ---- */
int svc_replica_create(const json_t *req, json_t **out, struct buf *err);
/* caller: the trusted host calling (NULL: this host's own socket); only the
 * replica's source host may re-key or remove it (-EACCES). */
int svc_replica_export(const char *uuid, const char *caller, const json_t *req, json_t **out, struct buf *err);
/* *out {"deleted":[volumes]}; keep: the volumes stay, marked as stale
 * copies of the VM, *out {"kept":[volumes]}. */
int svc_replica_delete(const char *uuid, const char *caller, bool keep, json_t **out, struct buf *err);
/* The hash list (resync.h) of a page of replica volume req.volume:
 * req {"volume", "offset", "count", "chunk"}; read through the replica's own
 * export. */
int svc_replica_hashes(const char *uuid, const char *caller, const json_t *req, json_t **out, struct buf *err);
/* At start: every replica's daemon found again, or started again. */
void svc_replica_adopt(void);
/* HA failover onto this host (ha_manager.c): stop VM uuid's replica daemon
 * and forget the replica record, keeping its volumes (they become the VM's
 * disks, same names).  -ENOENT: this host holds no replica of it. */
int svc_replica_takeover(const char *uuid, struct buf *err);
/* A switchover onto the replica of VM uuid (migrate.c): the replica's
 * volumes, when this host holds one from host `source` (-ENOENT none,
 * -EACCES another host's). */
int svc_replica_switch_volumes(const char *uuid, const char *source, json_t **volumes, struct buf *err);
/* Its export ended (the daemon stopped, releasing the images' write lock)
 * and the record marked "released": the incoming QEMU may activate the
 * volumes; not served again at corrald's start; svc_replica_export serves it
 * again (the switchover undone), refused while the VM is defined here.
 * svc_replica_takeover ends it once the VM runs here. */
int svc_replica_release(const char *uuid, struct buf *err);
/* Is volume `name` a replica this host holds?  The VM's name and its host
 * ("web on hosta", caller frees), or NULL. */
char *svc_replica_of_volume(const char *name);

/* ---- stale copies (replica_stale.c) ----
 * A volume holding an older copy of a VM's disk, which a later replication
 * of that VM to this host reuses (the compare pass copies only what
 * differs).  The HA failover calls svc_volume_mark_stale on the old
 * primary for each disk of the VM it dropped there (the VM's uuid stays the
 * same on the new host); `vm replicate --stop --keep-replica` marks the
 * replica's volumes.  Thread-safe (files replaced atomically). */
/* Mark volume `name` as a stale copy of VM vm_uuid: -ENOENT no such volume,
 * -EINVAL bad name or uuid. */
int svc_volume_mark_stale(const char *name, const char *vm_uuid, struct buf *err);
/* The uuid of the VM volume `name` is a stale copy of (caller frees), or NULL. */
char *svc_volume_stale_of(const char *name);
void svc_volume_stale_clear(const char *name);

#endif
