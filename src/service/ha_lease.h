/*
 * ha_lease.h - corrald's side of the disk leases (docs/ha.md "Disk
 * leases"; the record and the decision: cluster/lease.h): an HA VM or
 * container with a disk on a shared pool has a lease file
 * POOL/.corral-leases/UUID (the first shared pool among its disks); it
 * starts only once this host holds the lease, and this host's corral-guard
 * renews it while it runs.
 *
 * A thread of its own (never the fence thread: a hung pool must not stop
 * the fence) every second: adopts the lease of a resource that runs here
 * (after a corrald restart, or a live migration in: once the source
 * released it), has the guard release the lease of one that no longer
 * runs here, and every 250 ms samples the lease files of the resources
 * that do not run here, so that an acquirer knows how long a record has
 * been still on this host's clock (a lost host's lease is free by the
 * time the HA manager restarts its guests).
 *
 * Threading: ha_lease_acquire and ha_lease_start_done on a start's job
 * thread (they wait: up to LEASE_EXPIRE_MS + LEASE_SETTLE_MS); the others
 * from any thread.
 */
#ifndef CORRAL_SERVICE_HA_LEASE_H
#define CORRAL_SERVICE_HA_LEASE_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

int ha_lease_start(void);
void ha_lease_stop(void);
/* The thread has made its first pass (held leases adopted): the fence
 * thread tells the guard nothing before, so a restarted corrald never
 * sends a set without the leases the guard renews (ready anyway 5 s after
 * the start: a first pass stuck on a hung pool must not keep corrald
 * silent towards the guard, whose silence rule would fence every guest). */
bool ha_lease_ready(void);

/* Before the start of the HA resource uuid (name for messages) on this
 * host: take its lease.  0 when held (or when no lease applies: not HA,
 * no disk on a shared pool, in no pool); -errno and one sentence in err
 * (held by another host that renews it, the file missing, the directory
 * not writable, corral-guard not running or not taking it).  Then the
 * caller must call ha_lease_start_done. */
int ha_lease_acquire(const char *uuid, const char *name, struct buf *err);
/* The start ended (running: it runs now): a lease of a start that failed is released. */
void ha_lease_start_done(const char *uuid, bool running);
/* `ha add`: create the lease file of the resource whose HA row def (its
 * "disks") is given, so that a missing one later means a lost one. */
int ha_lease_create(const char *uuid, const json_t *def, struct buf *err);

/* For the guard's set: appends "\nlease UUID INC MS P" or "\nrelease
 * UUID INC" lines to text and a dup of each one's fd to fds, followed (P
 * 1) by a pidfd of its guest when it runs here (at most max fds; the
 * caller closes them).  The count of fds. */
unsigned ha_lease_collect(struct buf *text, int *fds, unsigned max);
/* The set of the last ha_lease_collect reached the guard (the fence thread;
 * a start waits for it before its QEMU runs). */
void ha_lease_sent(void);
/* The lease of uuid as `ha status` shows it: {"state": "held here" |
 * "held by" | "released" | "none" | "unknown", "holder", "renewed_ms_ago",
 * "path"}, or NULL when none applies (new reference). */
json_t *ha_lease_status(const char *uuid);

#endif
