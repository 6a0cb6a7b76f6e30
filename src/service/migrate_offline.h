/*
 * migrate_offline.h - offline migration of a stopped VM to a trusted host
 * (migrate_offline.c, docs/migration.md "Offline"): its definition and its
 * disks move; nothing runs.
 *
 * Source side: svc_vm_migrate_offline() checks the request and starts a
 * "migrate" job on the VM.  The job asks the destination to prepare
 * (POST /v1/migrations/offline), copies each local disk into the volume the
 * destination made (qemu-img convert onto the destination's qemu-nbd, TLS
 * with a key made for this migration), asks it to finish, and only then
 * deletes the VM and its copied volumes here.  On any failure or cancel it
 * asks the destination to abort and the VM stays here untouched.
 *
 * Destination side: svc_migrate_offline_prepare() defines the VM held by a
 * job lock ("migrate-in": nobody starts or edits it), creates the copied
 * disks' volumes (or records the shared ones) and serves each copied
 * volume with qemu-nbd; svc_migrate_offline_step() with "finish" stops the
 * servers and lets the VM go, with "abort" removes everything prepare made.
 * A prepared VM that is neither finished nor aborted within
 * MIG_OFFLINE_EXPIRE_S (the source vanished) is removed by
 * svc_migrate_offline_reap() (housekeeping).
 *
 * Records (migrate_recover.h): the source writes one (role "off-out") before
 * prepare and marks it "finishing" before the hand-over; the destination
 * writes one (role "off-in") before it defines anything.  After a kill -9 the
 * destination removes its unfinished prepare at start (mig_off_in_recover);
 * the source's reconciler asks the destination what became of a hand-over
 * that got no answer ("status": the VM there wins, else it stays here) and
 * repeats an abort the destination did not hear.
 *
 * Threading: the prepared table is locked; each call may block for a few
 * seconds (qemu-nbd start).  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_SERVICE_MIGRATE_OFFLINE_H
#define CORRAL_SERVICE_MIGRATE_OFFLINE_H

#include <jansson.h>

#include "service/migrate.h"
#include "util/buf.h"

#define MIG_OFFLINE_EXPIRE_S 600

/* Start the offline migration job of stopped VM uuid (o->to, o->bandwidth caps each disk copy; the rest is ignored). */
int svc_vm_migrate_offline(const char *uuid, const struct svc_migrate_opts *o, json_t **job, struct buf *err);

/* Destination: {vm, source, address, psk, disks} -> {disks: [{volume, port}]}. */
int svc_migrate_offline_prepare(const json_t *req, json_t **out, struct buf *err);
/* Destination: step "finish" or "abort" of the prepared VM uuid. */
int svc_migrate_offline_step(const char *uuid, const char *step, json_t **out, struct buf *err);
/* Destination: remove prepared VMs older than MIG_OFFLINE_EXPIRE_S; at shutdown (all true) every one. */
void svc_migrate_offline_reap(bool all);
/* Destination, at start: remove what an unfinished prepare left (its "off-in" record, migrate_recover.h). */
void mig_off_in_recover(const json_t *rec);

#endif
