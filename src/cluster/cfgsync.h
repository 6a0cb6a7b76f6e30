/*
 * cfgsync.h - the pure decisions of the replicated configuration's sync
 * round (cfgsync.c; docs/cluster.md "Catch-up"): which member leads, and
 * the fingerprint of the STATEs a verdict was made from.
 *
 * Every member of a CPG configuration sees the same messages in the same
 * order, so each computes the same leader from the same STATEs.  A round
 * is named by its members (node/pid), and a flapping membership repeats a
 * name: a STATE or VERDICT queued in one ring can be delivered after the
 * next configuration change with the same members.  The leader therefore
 * puts the fingerprint of the STATEs it judged in its verdict, and a member
 * takes a verdict only when the fingerprint is that of the STATEs it holds
 * now for the current round: a verdict made from other STATEs is never
 * applied (the leader sends a fresh one when a later STATE changes them).
 *
 * No state, no locks: any thread.
 */
#ifndef CORRAL_CLUSTER_CFGSYNC_H
#define CORRAL_CLUSTER_CFGSYNC_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/cfgmsg.h"

/* One member's STATE in a round. */
struct cfgsync_state {
	uint32_t nodeid, pid;
	uint64_t version;
	char chain[CFGMSG_HASH_HEX + 1];
};

/* The index of the leader among n >= 1 STATEs: the highest version, ties
 * the lowest node id, then the lowest pid. */
size_t cfgsync_leader(const struct cfgsync_state *s, size_t n);

/* The fingerprint of n STATEs in the order given (the round's member
 * order): 64 lowercase hex digits of SHA-256 over "node/pid version chain\n"
 * per member, NUL-terminated. */
void cfgsync_states_hash(const struct cfgsync_state *s, size_t n, char out[CFGMSG_HASH_HEX + 1]);

#endif
