/*
 * membership.h - the pool thread: what corosync says about membership and
 * quorum, kept up to date for the rest of corrald (membership.c;
 * docs/cluster.md).
 *
 * One thread (membership_start) holds corrald's connections to the local
 * corosync: libquorum (model v1: quorate flag, ring id and member list,
 * pushed on every change), libvotequorum (votes, asked on demand) and libcfg
 * (this node's id, knet link status, reload).  It polls their fds and keeps
 * a struct membership_view; when corosync is not there (not started yet,
 * died, stopped) the view says connected = false and quorate = false, and
 * the thread tries again every half second (every 2 s while it supervises
 * no corosync).  The same thread supervises
 * corosync while membership_supervise(true) is in force: a corosync that
 * exited is started again after 1, 2, 4 ... 30 s (reset after a minute of
 * running), each restart an event.
 *
 * How others read the state (the replicated store and HA will gate on it):
 *  - membership_get() copies the whole view under the view lock: a
 *    consistent snapshot, never blocks on corosync, any thread.
 *  - membership_quorate() is the one-bit version.
 *  - view.changes increases at every change of quorate, ring or members;
 *    membership_wait() sleeps until a predicate holds or a timeout.
 *  - on_event (membership_config) is called from the pool thread, with no
 *    lock held, once per change: quorum lost or regained, a node joined or
 *    left, corosync connected, lost, restarted.  It must not block for long
 *    (corrald records an event and returns).
 * A quorate view means: the local corosync is in a ring whose votes reach
 * quorum (votequorum).  The ring id {nodeid, seq} is the totem ring id, the
 * same that CPG reports, so later parts can match deliveries to quorum.
 *
 * Calls that talk to corosync from other threads (membership_votes,
 * membership_links, membership_reload, membership_set_expected) share the
 * thread's handles under one library lock (corosync's handles are not for
 * two threads at once);
 * they answer -ENOTCONN when no corosync is connected.  Lock order: the
 * supervisor lock (held across a restart: membership_supervise(false) waits
 * for one under way, so no corosync is started after it returns), the
 * library lock, then the view lock; on_event runs with none of them.
 */
#ifndef CORRAL_CLUSTER_MEMBERSHIP_H
#define CORRAL_CLUSTER_MEMBERSHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/conf.h"
#include "util/buf.h"

#define MEMBERSHIP_MAX_MEMBERS 64
#define MEMBERSHIP_RING_HISTORY 32

struct membership_view {
	bool connected;          /* a corosync answers on this host */
	bool quorate;
	uint32_t local_id;       /* this node's id (0 while not connected) */
	uint32_t ring_nodeid;    /* the totem ring id (of the latest notification, nodelist or quorum) */
	uint64_t ring_seq;
	/* The rings of the latest quorum notifications, oldest first, each with
	 * the quorate value its latest notification gave.  corosync tells a new
	 * ring's node list (quorum service) before its quorum (votequorum,
	 * activated after it), so for a moment ring_* is the new ring while
	 * quorate is still the old one's; and a message of a ring can be
	 * delivered after the pool thread heard of the next one.  Match
	 * deliveries against these (membership_ring_quorum), never ring_*.
	 * Emptied when corosync goes away. */
	unsigned nqrings;
	struct membership_qring {
		uint32_t nodeid;
		uint64_t seq;
		bool quorate;
	} qrings[MEMBERSHIP_RING_HISTORY];
	unsigned nmembers;       /* the nodes in this node's ring, by id */
	uint32_t members[MEMBERSHIP_MAX_MEMBERS];
	uint64_t changes;        /* bumped at every change of the above */
	int64_t quorate_since_ms; /* wall time (ms) when quorate last changed, 0: never */
};

enum membership_event {
	MEMBERSHIP_CONNECTED,     /* to a corosync (nodeid: this node) */
	MEMBERSHIP_DISCONNECTED,  /* corosync went away */
	MEMBERSHIP_QUORUM_LOST,
	MEMBERSHIP_QUORUM_REGAINED,
	MEMBERSHIP_NODE_JOINED,   /* nodeid joined this node's ring */
	MEMBERSHIP_NODE_LEFT,     /* nodeid left it */
	MEMBERSHIP_COROSYNC_RESTARTED, /* the supervisor started corosync again (nodeid: attempt) */
	MEMBERSHIP_COROSYNC_FAILED,    /* ... and it failed to start (nodeid: attempt) */
};

typedef void membership_event_fn(enum membership_event ev, uint32_t nodeid, const struct membership_view *v,
				 void *opaque);

struct membership_config {
	const char *dir;           /* corosync's files (corosync.h), for the supervisor */
	membership_event_fn *on_event;
	void *opaque;
};

/* Start the pool thread (cfg copied).  0 or -errno. */
int membership_start(const struct membership_config *cfg);
/* Stop it and close the connections (corosync itself keeps running). */
void membership_stop(void);
/* Keep corosync running (start it again when it exits), or stop doing so
 * (returns once no restart is under way). */
void membership_supervise(bool on);

void membership_get(struct membership_view *out);
bool membership_quorate(void);
/* Whether node `id` is in view v's ring (pure). */
bool membership_has(const struct membership_view *v, uint32_t id);
/* Sleep until pred(view, arg) holds (checked at each change): 0, or -ETIMEDOUT. */
int membership_wait(int64_t timeout_ms, bool (*pred)(const struct membership_view *v, void *arg), void *arg);

/* Whether totem ring {nodeid, seq} had quorum, as view v tells it (pure):
 * QUORATE or NOT_QUORATE when v's history holds that ring (also when the
 * pool thread has moved on to a newer one); PENDING when every ring in it is
 * older (wait for the next notification; UNKNOWN instead when corosync is
 * not connected); UNKNOWN when the ring is not in the history (too old, or
 * a ring this node was never told about).  A node's own rings have strictly
 * increasing seq, so an older seq never comes back. */
enum membership_ring_quorum {
	MEMBERSHIP_RING_QUORATE,
	MEMBERSHIP_RING_NOT_QUORATE,
	MEMBERSHIP_RING_PENDING,
	MEMBERSHIP_RING_UNKNOWN,
};
enum membership_ring_quorum membership_ring_quorum(const struct membership_view *v, uint32_t nodeid, uint64_t seq);

/* Votes and effective timeouts (votequorum_getinfo, cmap runtime.config.totem.*). */
struct membership_votes {
	unsigned node_votes, expected_votes, highest_expected, total_votes, quorum;
	unsigned flags;            /* VOTEQUORUM_INFO_* */
	unsigned qdevice_votes;    /* a quorum device's (witness's) votes, its name ("" none) */
	char qdevice_name[64];
	unsigned token_ms, consensus_ms; /* effective, from corosync's runtime config (0: unknown) */
};
int membership_votes(struct membership_votes *out, struct buf *err);

/* One knet link of a node as this node sees it (corosync_cfg_node_status_get). */
struct membership_link {
	unsigned link;
	bool enabled, connected;
	unsigned mtu;
};
/* Up to max links of nodeid into out: the number, or -errno (-ENOTCONN, -ENOENT: corosync knows no such node). */
int membership_links(uint32_t nodeid, bool *reachable, struct membership_link *out, unsigned max, struct buf *err);

/* Ask corosync to re-read its configuration file (corosync-cfgtool -R). */
int membership_reload(struct buf *err);
/* Set votequorum's expected votes of the running cluster (corosync-quorumtool
 * -e N): lowered by `ha fence-ack` for acknowledged lost hosts, put back when
 * they return; corosync's configuration file is not changed. */
int membership_set_expected(unsigned expected, struct buf *err);

/* Does a corosync answer on this host (ours or another's)?  *name (may be NULL,
 * size CLUSTER_NAME_MAX + 1) gets its totem.cluster_name. */
bool membership_probe(char *name);

#endif
