/*
 * replrow.h - the pool's record of a replica's usability (replrow.c;
 * docs/ha.md "Failover onto the replica").  In a pool, the VM's host keeps
 * one row of the replicated ha_resources table per replicated VM,
 * "~repl:<vm uuid>" = {"vm","host","peer","state","since"}:
 *   syncing   a copy onto the replica runs (the first, or a resume): not usable
 *   in-sync   every mirror is ready and caught up: every write the guest saw
 *             acknowledged is on the replica; HA may restart the VM there
 *   outdated  written before any write is acknowledged on the VM's host
 *             alone (replica failed, VM's QEMU ended or started again):
 *             never used for a restart (RPO 0)
 * `since` is when the state began (wall ms).  The row goes when replication
 * stops, and when the replica host takes the VM over (failover).
 *
 * Writes go through the replicated store: they need quorum and return 0 only
 * once applied in a quorate ring, so a host cut off can never record
 * anything (which is the point: the VM's host holds guest writes until
 * `outdated` is applied, or is fenced).  Each write is compare-and-set on
 * the row this host read, and only the VM's host (the row's "host") writes
 * it: a stale writer (an old primary come back after a failover) finds the
 * row gone or changed and writes nothing.
 *
 * Outside a pool every function is a no-op returning 0 / NULL.
 * Threading: thread-safe (the store serialises); the write may block up to
 * the store's apply wait (10 s).  Errors: 0 or -errno with one sentence
 * appended to err.
 */
#ifndef CORRAL_SERVICE_REPLROW_H
#define CORRAL_SERVICE_REPLROW_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define REPLROW_PREFIX "~repl:"

/* Is this host in a pool (rows are kept)? */
bool replrow_in_pool(void);

/* Record VM uuid (name) replicated from this host to peer in state since
 * (wall ms).  create: the row may be made (the start of a replication);
 * else only an existing row of this host's is changed (none: 0, nothing
 * written). */
int replrow_put(const char *uuid, const char *name, const char *peer, const char *state, int64_t since, bool create,
		struct buf *err);

/* Remove VM uuid's row (nothing there: 0). */
int replrow_delete(const char *uuid, struct buf *err);

/* VM uuid's row (new reference) or NULL. */
json_t *replrow_get(const char *uuid);

#endif
