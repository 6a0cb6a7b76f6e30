/*
 * cluster_store.h - the replicated configuration in a pool (cluster_store.c;
 * docs/cluster.md "Replicated configuration").  Internal to the service
 * layer: cluster.c starts it and asks it for status.
 *
 * While this host is in a cluster, the store's submit hook sends every
 * batch on the replicated tables (core/store_replica.h) to the CPG group
 * (cluster/cfgchan.h) with agreed ordering, and every member, this one
 * included, applies the batches in the order delivered, each iff the ring
 * it was delivered in was quorate (the ring id matched against the pool
 * thread's quorum view, membership.h).  The writer waits (at most 10 s)
 * until its own batch came back and was applied here, and gets the apply's
 * result.  Batches on host-local tables go straight to store_apply; a
 * batch mixing both is refused.
 *
 * At every change of the group's members a sync round runs: every member
 * multicasts STATE (version, chain, digest); once all are in, the leader
 * (highest version, ties lowest node id) multicasts a VERDICT (who is
 * behind, who forked) and a snapshot for those behind; batches delivered
 * meanwhile are queued and applied once a member is synced.  A member whose
 * history is not the leader's (its chain at its version is not the
 * leader's) is forked: it applies nothing and refuses writes until its
 * history is discarded (`corral cluster resync --discard-local`).
 *
 * Refusals: -EROFS (no quorum, synchronizing, forked, not in the group),
 * -ETIMEDOUT (sent, but not seen applied within 10 s: the outcome is
 * unknown), -EINVAL (mixed batch); one sentence in err.
 * Threading: the submit hook runs on any thread, deliveries and sync rounds
 * on the channel thread (cfgchan.h), so batches are applied one at a time in
 * delivery order.  One mutex guards the sync state, the queue and the
 * waiting writers; it is a leaf, never held while the store is read or
 * written nor while a message is sent.
 */
#ifndef CORRAL_SERVICE_CLUSTER_STORE_H
#define CORRAL_SERVICE_CLUSTER_STORE_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

/*
 * What the HA manager needs of the group (ha_manager.c): whether this host
 * holds the pool's configuration (synced), its node id, the ring id
 * ("%x.%llx", as an HA decision carries it), the group's members and its
 * manager (the lowest member node id).  A batch whose ops carry "ring"
 * (store_batch_ha_decide) is applied only when delivered in that ring and
 * sent by that ring's manager (-ESTALE otherwise, on every member alike).
 */
struct cluster_store_view {
	bool synced;
	uint32_t self;
	char ring[40];
	size_t n;
	uint32_t members[64]; /* CFGCHAN_MAX_MEMBERS */
	uint32_t manager;
};
void cluster_store_view(struct cluster_store_view *out);

/* Install the submit hook and start the channel (at corrald start, before the API serves). */
int cluster_store_start(struct buf *err);
void cluster_store_stop(void);
/* {"version","chain","state","leader","reason"?, "nodes":{"ID":{"version","state"}}} */
json_t *cluster_store_status(void);
/* Forget this host's replicated history so the next sync round replaces
 * its replicated tables by the pool's (`corral cluster resync --discard-local`). */
int cluster_store_discard_local(struct buf *err);

#endif
