/*
 * migrate.h - live migration of a running VM to a trusted host (migrate.c;
 * docs/migration.md).
 *
 * Source side: svc_vm_migrate() checks the request and starts a "migrate"
 * job holding the VM's lock.  The job asks the destination to prepare
 * (POST /v1/migrations/incoming through service/peer.h, mutual TLS), copies
 * local disks by block mirror over NBD while the guest runs, then the RAM,
 * and at the switch asks the destination to finish (resume there).  Only
 * once the destination answers that the guest runs there does the source
 * stop its QEMU and forget the VM.
 *
 * Destination side: svc_migrate_prepare() defines the VM, creates the
 * target volumes (local disks) or records the shared ones, starts QEMU
 * paused with -incoming and listens; the VM is held (job lock "migrate-in")
 * until svc_migrate_finish() resumes it or svc_migrate_abort() kills it and
 * removes everything prepare made.
 *
 * Ownership rule: exactly one host runs the guest at any moment.  The
 * destination's guest never runs before the source's has stopped for good
 * (QEMU's switch-over), and the source's QEMU is only stopped after the
 * destination said it resumed.  Any failure or cancel before that resumes
 * the source (if QEMU had paused it) and aborts on the destination.  If the
 * destination cannot be asked at the switch (link down), the source stays
 * paused with the reason rather than risk two running copies, and the
 * reconciler (migrate_recover.h) settles it once the destination answers;
 * both sides record each step durably so that a kill -9 of either corrald
 * is settled the same way after the restart.
 *
 * Onto its replica: a VM replicated (docs/ha.md) to exactly the destination,
 * in sync, moves there with its memory only: the destination's replica
 * volumes become its disks (prepare takes them like shared disks); at the
 * hold before the switch the source ends the mirrors in sync and the
 * destination ends the replica's export (svc_migrate_release) before
 * QEMU's switch.  The source keeps its old volumes, marked as stale copies.
 *
 * Errors: see service.h; -EHOSTUNREACH/-EREMOTEIO/-EKEYREJECTED from the
 * peer (peer.h).
 */
#ifndef CORRAL_SERVICE_MIGRATE_H
#define CORRAL_SERVICE_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

struct svc_migrate_opts {
	const char *to;		  /* trusted host name */
	bool with_local_disks;	  /* copy disks that are not in a shared pool */
	bool quick;		  /* pause the guest first, then move it (live: keep it running) */
	int64_t max_downtime_ms;  /* 0: default (300 ms) */
	uint64_t bandwidth;	  /* bytes/s, 0: unlimited */
};

/* Start the migration job of VM uuid; *job its JSON (docs/api.md "Jobs"). */
int svc_vm_migrate(const char *uuid, const struct svc_migrate_opts *o, json_t **job, struct buf *err);

/* ---- destination side (routes for trusted hosts only) ---- */

/* Prepare for an incoming VM (the request is docs/migration.md's "prepare"):
 * *out = {"port", "nbd_port"}. */
int svc_migrate_prepare(const json_t *req, json_t **out, struct buf *err);
/* The source's RAM migration completed: wait for ours, stop NBD, resume the
 * guest (or, !resume, keep it paused as it was on the source). */
int svc_migrate_finish(const char *uuid, bool resume, json_t **out, struct buf *err);
/* Kill the incoming QEMU and remove what prepare made.  -ENOENT if none. */
int svc_migrate_abort(const char *uuid, struct buf *err);
/* Where the incoming migration of uuid stands: *out = {"state": "prepared"|"finishing"|"running"};
 * -ENOENT if this host neither prepares nor holds the VM (migrate_recover.h). */
int svc_migrate_status(const char *uuid, json_t **out, struct buf *err);

/* A migration onto this host's replica of the VM (docs/migration.md "Onto
 * its replica"): the source, its guest paused and its mirrors ended in
 * sync, asks to end the replica's export so that finish can activate the
 * volumes here.  -ENOENT no incoming migration, -EINVAL not onto a replica. */
int svc_migrate_release(const char *uuid, struct buf *err);

/* Abort every incoming migration still prepared (corrald stopping). */
void svc_migrate_shutdown(void);

#endif
