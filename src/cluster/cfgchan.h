/*
 * cfgchan.h - the replicated configuration's CPG channel: corrald's member
 * of the corosync process group "corral_cfg_v1" (cfgchan.c;
 * docs/cluster.md "Replicated configuration").
 *
 * One thread of its own (cfgchan_start) holds a CPG connection to the local
 * corosync, separate from the pool thread's (membership.h) handles: it joins
 * the group, dispatches, and when corosync is not there or goes away it
 * reports "no members" and tries again every half second, so a corosync that
 * restarts is rejoined.  The thread hands what CPG says to the ops, in CPG's
 * order, from the channel thread and with no lock held (ops may call
 * cfgchan_send):
 *   ring     a totem ring {nodeid, seq} came into force (the same ring id the
 *            quorum notifications carry: membership.h);
 *   confchg  the group's members now (nodeid, pid), sorted; n = 0 when the
 *            connection to corosync was lost;
 *   deliver  a message, with the sender CPG gives (never trust a name in a
 *            body over it), in the agreed order every member sees.
 *
 * cfgchan_send multicasts with CPG_TYPE_AGREED from any thread, retrying
 * CS_ERR_TRY_AGAIN (corosync's flow control) for up to 5 s.  The CPG
 * handle is used under one channel lock: never by two threads at once.
 * Errors: -ENOTCONN (not in the group), -EAGAIN (corosync kept saying try
 * again), -EIO, one sentence in err.
 */
#ifndef CORRAL_CLUSTER_CFGCHAN_H
#define CORRAL_CLUSTER_CFGCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CFGCHAN_GROUP "corral_cfg_v1"
#define CFGCHAN_MAX_MEMBERS 64

struct cfgchan_member {
	uint32_t nodeid, pid;
};

struct cfgchan_ops {
	void (*ring)(uint32_t ring_nodeid, uint64_t ring_seq, void *opaque);
	void (*confchg)(const struct cfgchan_member *m, size_t n, void *opaque);
	void (*deliver)(uint32_t nodeid, uint32_t pid, const void *msg, size_t len, void *opaque);
	void *opaque;
};

/* Start the channel thread (ops copied).  0 or -errno. */
int cfgchan_start(const struct cfgchan_ops *ops);
/* Leave the group and stop the thread. */
void cfgchan_stop(void);
int cfgchan_send(const void *msg, size_t len, struct buf *err);
/* Leave the group and join it again (a new confchg for every member). */
void cfgchan_rejoin(void);
/* This member's id in the group: false when not joined. */
bool cfgchan_self(struct cfgchan_member *out);

#endif
