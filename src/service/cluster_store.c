/*
 * cluster_store.c - the replicated configuration of a pool (see
 * cluster_store.h): the submit hook that multicasts batches and waits for
 * their apply, the delivery side that gates on the ring's quorum and
 * applies in order, and the sync round (STATE, VERDICT, SNAPSHOT) that
 * brings a joining or returning member up to date without ever overwriting
 * a forked history.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cfgchan.h"
#include "cluster/cfgmsg.h"
#include "cluster/cfgsync.h"
#include "cluster/membership.h"
#include "core/store_replica.h"
#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/cluster_store.h"
#include "service/internal.h"
#include "util/cleanup.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define WAIT_MS 10000
#define RING_WAIT_MS 3000
#define ROUND_WAIT_MS 5000 /* a change waits this long for a running sync round (a member came or went) */

static const char no_quorum[] = "the pool has no quorum: configuration is read-only (reads still work)";

enum sync_state {
	SYNC_NONE,      /* not in the group (no corosync, or in no cluster) */
	SYNC_ROUND,     /* a round runs: waiting for every member's STATE and the verdict */
	SYNC_RECEIVING, /* behind: waiting for the leader's snapshot */
	SYNC_SYNCED,
	SYNC_FORKED,
	SYNC_FAILED,    /* the snapshot did not apply (see reason) */
};

static const char *const state_names[] = { "offline", "syncing", "receiving", "synced", "forked", "failed" };

struct queued {
	struct queued *next;
	struct cfgchan_member from;
	uint64_t seq;
	bool quorate;
	char ring[40];       /* the ring it was delivered in, "%x.%llx" */
	uint32_t manager;    /* the lowest node id of the group then: the HA manager */
	char *body;
	size_t len;
};

struct waiter {
	struct waiter *next;
	uint64_t seq;
	bool done;
	int r;
	struct buf err;
};

struct node_info {
	uint32_t nodeid;
	uint64_t version;
	enum sync_state state;
};

/* One member's STATE in the current round. */
struct mstate {
	bool have;
	uint64_t version;
	char chain[CFGMSG_HASH_HEX + 1], digest[CFGMSG_HASH_HEX + 1];
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running;
	enum sync_state state;
	char reason[256];
	struct cfgchan_member self;
	struct cfgchan_member members[CFGCHAN_MAX_MEMBERS];
	struct mstate ms[CFGCHAN_MAX_MEMBERS];
	size_t n;
	char round[CFGCHAN_MAX_MEMBERS * 24 + 8];
	uint32_t leader;
	uint64_t verdict_version; /* the leader's version in this round's verdict */
	bool state_sent;          /* this host's STATE for the round went out (else: again at the next ring) */
	uint32_t ring_nodeid;
	uint64_t ring_seq;
	struct queued *qhead, **qtail;
	struct buf snap;   /* the snapshot being received */
	uint64_t snap_part;
	uint64_t send_seq;
	struct waiter *waiters;
	struct node_info nodes[CFGCHAN_MAX_MEMBERS];
	size_t nnodes;
} R = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

/* ---- helpers, with R.lock held ---- */

static struct node_info *node_get(uint32_t id)
{
	for (size_t i = 0; i < R.nnodes; i++)
		if (R.nodes[i].nodeid == id)
			return &R.nodes[i];
	if (R.nnodes == ARRAY_SIZE(R.nodes))
		return NULL;
	R.nodes[R.nnodes] = (struct node_info){ .nodeid = id };
	return &R.nodes[R.nnodes++];
}

static void node_set(uint32_t id, enum sync_state st)
{
	struct node_info *n = node_get(id);
	if (n)
		n->state = st;
}

static int member_index(uint32_t nodeid, uint32_t pid)
{
	for (size_t i = 0; i < R.n; i++)
		if (R.members[i].nodeid == nodeid && R.members[i].pid == pid)
			return (int)i;
	return -1;
}

static bool is_self(uint32_t nodeid, uint32_t pid) { return nodeid == R.self.nodeid && pid == R.self.pid; }

static void finish_waiter(uint64_t seq, int r, const char *why)
{
	for (struct waiter *w = R.waiters; w; w = w->next)
		if (w->seq == seq && !w->done) {
			w->done = true;
			w->r = r;
			if (why)
				buf_adds(&w->err, why);
			pthread_cond_broadcast(&R.cond);
		}
}

static void queue_drop(const char *why)
{
	while (R.qhead) {
		struct queued *q = R.qhead;
		R.qhead = q->next;
		if (is_self(q->from.nodeid, q->from.pid))
			finish_waiter(q->seq, -EAGAIN, why);
		free(q->body);
		free(q);
	}
	R.qtail = &R.qhead;
}

static void set_state(enum sync_state st, const char *reason)
{
	R.state = st;
	snprintf(R.reason, sizeof(R.reason), "%s", reason ? reason : "");
	node_set(R.self.nodeid, st);
	pthread_cond_broadcast(&R.cond);
}

/* ---- sending ---- */

static int send_json(enum cfgmsg_type type, json_t *body, struct buf *err)
{
	__do_free char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf msg __do_buf = BUF_INIT;
	int r;
	if (!text) {
		buf_adds(err, "cannot encode a configuration message");
		return -ENOMEM;
	}
	if ((r = cfgmsg_encode(&msg, type, 0, text, strlen(text), err)) < 0)
		return r;
	return cfgchan_send(msg.s, msg.len, err);
}

/* Send this host's STATE for the round (R.lock NOT held): true when it went out. */
static bool send_state(const char *round)
{
	struct store_replica_state st;
	struct buf err __do_buf = BUF_INIT;
	if (store_replica_state(svc_cfg.store, &st) < 0) {
		log_warn("cluster: cannot read this host's configuration version: not taking part in the sync round");
		return false;
	}
	__do_json json_t *j = json_pack("{s:s,s:I,s:s,s:s}", "round", round, "version", (json_int_t)st.version, "chain",
					st.chain, "digest", st.digest);
	if (send_json(CFGMSG_STATE, j, &err) < 0) {
		log_warn("cluster: cannot send this host's configuration state (again at the next ring): %s", err.s);
		return false;
	}
	return true;
}

/* Send the STATE of round `round` and note it, unless a newer round began meanwhile. */
static void round_send_state(const char *round)
{
	bool sent = send_state(round);
	pthread_mutex_lock(&R.lock);
	if (strcmp(R.round, round) == 0 && R.state == SYNC_ROUND)
		R.state_sent = sent;
	pthread_mutex_unlock(&R.lock);
}

/* ---- applying ---- */

/* Apply one delivered batch (R.lock NOT held): the result for its writer. */
static int apply_batch(const struct queued *q, bool forked, struct buf *why)
{
	if (forked) {
		buf_adds(why, "this host's copy of the pool configuration has forked from the pool's: it applies nothing "
			      "(see corral cluster status)");
		return -EROFS;
	}
	if (!q->quorate) {
		buf_adds(why, "the pool lost quorum while the change was being delivered: nothing was changed");
		return -EROFS;
	}
	json_error_t je;
	__do_json json_t *batch = json_loadb(q->body, q->len, 0, &je);
	if (!batch) {
		buf_adds(why, "a configuration batch from the pool is not JSON");
		return -EINVAL;
	}
	if (store_batch_scope(batch, why) != STORE_SCOPE_REPLICATED) {
		if (!why->len)
			buf_adds(why, "a configuration batch from the pool touches host-local tables: refused");
		return -EINVAL;
	}
	/* An HA manager's decision (an op with "ring") lands only in the ring it
	 * was made in and from that ring's manager: every member judges it from
	 * the same delivery, so all refuse a stale manager's late write alike. */
	size_t i;
	json_t *op;
	json_array_foreach(json_object_get(batch, "ops"), i, op)
	{
		const char *ring = json_string_value(json_object_get(op, "ring"));
		if (ring && (strcmp(ring, q->ring) != 0 || q->from.nodeid != q->manager)) {
			buf_printf(why, "an HA decision made in ring %.32s by node %u arrived in ring %s, whose manager is "
					"node %u: not applied",
				   ring, q->from.nodeid, q->ring, q->manager);
			return -ESTALE;
		}
	}
	return store_replica_apply(svc_cfg.store, batch, q->body, q->len, why);
}

static void apply_one(struct queued *q)
{
	struct buf why __do_buf = BUF_INIT;
	pthread_mutex_lock(&R.lock);
	bool forked = R.state == SYNC_FORKED;
	pthread_mutex_unlock(&R.lock);
	int r = apply_batch(q, forked, &why);
	pthread_mutex_lock(&R.lock);
	if (is_self(q->from.nodeid, q->from.pid))
		finish_waiter(q->seq, r, why.len ? why.s : NULL);
	else if (r < 0 && r != -EROFS)
		log_msg(LOG_LVL_DEBUG, 0, "cluster: a configuration batch from node %u was refused here too: %s",
			q->from.nodeid, why.s);
	struct node_info *ni = node_get(R.self.nodeid);
	struct store_replica_state st;
	pthread_mutex_unlock(&R.lock);
	/* what each member applied, in which ring: the trail that finds a divergence (info when not applied) */
	if (store_replica_state(svc_cfg.store, &st) == 0)
		log_msg(r == 0 ? LOG_LVL_DEBUG : LOG_LVL_INFO, 0,
			"cluster: batch %u/%llu delivered in ring %s (%s): %s, version %llu chain %.12s", q->from.nodeid,
			(unsigned long long)q->seq, q->ring, q->quorate ? "quorate" : "not quorate",
			r == 0 ? "applied" : "not applied", (unsigned long long)st.version, st.chain);
	if (r == 0 && ni && store_replica_state(svc_cfg.store, &st) == 0) {
		/* every synced member applied the same batch: the same version (as far as this host can tell) */
		pthread_mutex_lock(&R.lock);
		for (size_t i = 0; i < R.n; i++)
			if ((ni = node_get(R.members[i].nodeid)) && ni->state == SYNC_SYNCED)
				ni->version = st.version;
		if ((ni = node_get(R.self.nodeid)))
			ni->version = st.version;
		pthread_mutex_unlock(&R.lock);
	}
}

/* Apply what was queued during the round, in order (called on the channel thread). */
static void queue_flush(void)
{
	for (;;) {
		pthread_mutex_lock(&R.lock);
		struct queued *q = R.state == SYNC_SYNCED || R.state == SYNC_FORKED ? R.qhead : NULL;
		if (q) {
			R.qhead = q->next;
			if (!R.qhead)
				R.qtail = &R.qhead;
		}
		pthread_mutex_unlock(&R.lock);
		if (!q)
			return;
		apply_one(q);
		free(q->body);
		free(q);
	}
}

/* ---- the quorum of the ring a batch was delivered in (memo 1.4) ---- */

struct ring_id {
	uint32_t nodeid;
	uint64_t seq;
};

static bool ring_reached(const struct membership_view *v, void *arg)
{
	const struct ring_id *r = arg;
	return membership_ring_quorum(v, r->nodeid, r->seq) != MEMBERSHIP_RING_PENDING;
}

/* Whether ring {nodeid, seq} was quorate, from the quorum notification of
 * that very ring (membership.h: the node list of a new ring comes before its
 * quorum); false also when the pool thread never had it: then *unknown is set. */
static bool ring_quorate(uint32_t nodeid, uint64_t seq, bool *unknown)
{
	struct ring_id want = { nodeid, seq };
	struct membership_view v;
	membership_wait(RING_WAIT_MS, ring_reached, &want);
	membership_get(&v);
	switch (membership_ring_quorum(&v, nodeid, seq)) {
	case MEMBERSHIP_RING_QUORATE: return true;
	case MEMBERSHIP_RING_NOT_QUORATE: return false;
	default:
		log_warn("cluster: no quorum information for ring %x.%llx (the pool thread is at %x.%llx): the change "
			 "is not applied here", nodeid, (unsigned long long)seq, v.ring_nodeid,
			 (unsigned long long)v.ring_seq);
		*unknown = true;
		return false;
	}
}

/* ---- the sync round ---- */

static void round_name(char *out, size_t len)
{
	size_t off = 0;
	out[0] = '\0';
	for (size_t i = 0; i < R.n && off < len; i++)
		off += (size_t)snprintf(out + off, len - off, "%s%u/%u", i ? "," : "", R.members[i].nodeid,
					R.members[i].pid);
}

static void on_ring(uint32_t nodeid, uint64_t seq, void *opaque)
{
	(void)opaque;
	char round[sizeof(R.round)];
	pthread_mutex_lock(&R.lock);
	R.ring_nodeid = nodeid;
	R.ring_seq = seq;
	/* a STATE that corosync would not take (a ring forming: flow control)
	 * goes out now: a ring change with the same members brings no confchg */
	bool resend = R.state == SYNC_ROUND && !R.state_sent;
	memcpy(round, R.round, sizeof(round));
	pthread_mutex_unlock(&R.lock);
	log_info("cluster: configuration group now in ring %x.%llx", nodeid, (unsigned long long)seq);
	if (resend) {
		log_info("cluster: sending this host's configuration state for the sync round again");
		round_send_state(round);
	}
}

static void on_confchg(const struct cfgchan_member *m, size_t n, void *opaque)
{
	(void)opaque;
	char round[sizeof(R.round)];
	struct cfgchan_member self;
	bool joined = cfgchan_self(&self);

	pthread_mutex_lock(&R.lock);
	R.self = self;
	R.n = n;
	memcpy(R.members, m, n * sizeof(*m));
	memset(R.ms, 0, sizeof(R.ms));
	round_name(R.round, sizeof(R.round));
	memcpy(round, R.round, sizeof(round));
	buf_reset(&R.snap);
	R.snap_part = 0;
	R.leader = 0;
	R.state_sent = false;
	for (size_t i = 0; i < R.nnodes; i++) {
		bool in = false;
		for (size_t k = 0; k < n; k++)
			in |= m[k].nodeid == R.nodes[i].nodeid;
		if (!in)
			R.nodes[i].state = SYNC_NONE;
	}
	bool forked = R.state == SYNC_FORKED;
	if (!joined || n == 0) {
		queue_drop("this host left the pool's configuration group while the change was being delivered: nothing "
			   "was changed here");
		if (!forked)
			set_state(SYNC_NONE, "not in the pool's configuration group");
		pthread_mutex_unlock(&R.lock);
		return;
	}
	if (R.state != SYNC_SYNCED)
		queue_drop("the pool's membership changed while the change was being delivered: nothing was changed, "
			   "retry");
	if (n == 1 && !forked) { /* alone: nothing to compare with */
		R.leader = self.nodeid;
		set_state(SYNC_SYNCED, NULL);
		pthread_mutex_unlock(&R.lock);
		return;
	}
	if (!forked)
		set_state(SYNC_ROUND, "synchronizing with the pool");
	pthread_mutex_unlock(&R.lock);
	log_info("cluster: configuration sync round with %zu members (%s)", n, round);
	round_send_state(round);
}

/* With R.lock held, once every STATE is in: the round's STATEs in member order. */
static void round_states(struct cfgsync_state *out)
{
	for (size_t i = 0; i < R.n; i++) {
		out[i] = (struct cfgsync_state){ .nodeid = R.members[i].nodeid, .pid = R.members[i].pid,
						 .version = R.ms[i].version };
		memcpy(out[i].chain, R.ms[i].chain, sizeof(out[i].chain));
	}
}

/* The leader: judge every member against this host's history and send the verdict and the snapshot. */
static void lead(const char *round, const char *states, const struct mstate *ms, const struct cfgchan_member *m,
		 size_t n)
{
	struct store_replica_state mine;
	struct buf err __do_buf = BUF_INIT;
	if (store_replica_state(svc_cfg.store, &mine) < 0) {
		log_warn("cluster: cannot read this host's configuration state to lead the sync round");
		return;
	}
	json_t *behind = json_array(), *forked = json_array();
	for (size_t i = 0; i < n; i++) {
		char at[STORE_REPLICA_HASH_HEX + 1];
		if (ms[i].version == mine.version && strcmp(ms[i].chain, mine.chain) == 0 &&
		    strcmp(ms[i].digest, mine.digest) == 0)
			continue;
		int r = store_replica_chain_at(svc_cfg.store, ms[i].version, at);
		if (r == 0 && strcmp(at, ms[i].chain) == 0)
			json_array_append_new(behind, json_integer(m[i].nodeid));
		else if (r == 0 || ms[i].version >= mine.version)
			json_array_append_new(forked, json_integer(m[i].nodeid));
		else /* older than the history kept: cannot tell, take the pool's */
			json_array_append_new(behind, json_integer(m[i].nodeid));
	}
	bool any_behind = json_array_size(behind) > 0;
	__do_json json_t *v = json_pack("{s:s,s:s,s:I,s:I,s:s,s:o,s:o}", "round", round, "states", states, "leader",
					(json_int_t)R.self.nodeid,
					"version", (json_int_t)mine.version, "chain", mine.chain, "behind", behind,
					"forked", forked);
	__do_free char *snap = any_behind ? store_replica_export(svc_cfg.store) : NULL;
	if (send_json(CFGMSG_VERDICT, v, &err) < 0) {
		log_warn("cluster: cannot send the sync round's verdict: %s", err.s);
		return;
	}
	if (!snap)
		return;
	size_t len = strlen(snap), part = 0;
	for (size_t off = 0; off < len || part == 0; part++) {
		size_t chunk = len - off < CFGMSG_CHUNK ? len - off : CFGMSG_CHUNK;
		__do_free char *data = xstrndup(snap + off, chunk);
		off += chunk;
		__do_json json_t *c = json_pack("{s:s,s:I,s:I,s:b,s:s}", "round", round, "version",
						(json_int_t)mine.version, "part", (json_int_t)part, "last", off >= len,
						"data", data);
		buf_reset(&err);
		if (send_json(CFGMSG_SNAPSHOT, c, &err) < 0) {
			log_warn("cluster: cannot send the configuration snapshot: %s", err.s);
			return;
		}
		if (off >= len)
			break;
	}
}

static void on_state(uint32_t nodeid, uint32_t pid, const json_t *j)
{
	char round[sizeof(R.round)];
	struct mstate ms[CFGCHAN_MAX_MEMBERS];
	struct cfgchan_member m[CFGCHAN_MAX_MEMBERS];
	size_t n;
	pthread_mutex_lock(&R.lock);
	int i = member_index(nodeid, pid);
	if (i < 0 || strcmp(json_string_value(json_object_get(j, "round")), R.round) != 0) {
		pthread_mutex_unlock(&R.lock);
		return; /* of an older round */
	}
	R.ms[i].have = true;
	R.ms[i].version = (uint64_t)json_integer_value(json_object_get(j, "version"));
	snprintf(R.ms[i].chain, sizeof(R.ms[i].chain), "%s", json_string_value(json_object_get(j, "chain")));
	snprintf(R.ms[i].digest, sizeof(R.ms[i].digest), "%s", json_string_value(json_object_get(j, "digest")));
	struct node_info *ni = node_get(nodeid);
	if (ni)
		ni->version = R.ms[i].version;
	for (size_t k = 0; k < R.n; k++)
		if (!R.ms[k].have) {
			pthread_mutex_unlock(&R.lock);
			return;
		}
	struct cfgsync_state all[CFGCHAN_MAX_MEMBERS];
	char states[CFGMSG_HASH_HEX + 1];
	round_states(all);
	cfgsync_states_hash(all, R.n, states);
	size_t li = cfgsync_leader(all, R.n);
	R.leader = R.members[li].nodeid;
	bool me = is_self(R.members[li].nodeid, R.members[li].pid);
	n = R.n;
	memcpy(ms, R.ms, sizeof(ms));
	memcpy(m, R.members, sizeof(m));
	memcpy(round, R.round, sizeof(round));
	pthread_mutex_unlock(&R.lock);
	log_info("cluster: configuration sync round: every state is in, leader node %u", m[li].nodeid);
	if (me)
		lead(round, states, ms, m, n);
}

static bool id_in(const json_t *a, uint32_t id)
{
	const json_t *v;
	size_t i;
	json_array_foreach(a, i, v) if ((uint32_t)json_integer_value(v) == id) return true;
	return false;
}

static void on_verdict(uint32_t nodeid, uint32_t pid, const json_t *j)
{
	const json_t *behind = json_object_get(j, "behind"), *forked = json_object_get(j, "forked");
	pthread_mutex_lock(&R.lock);
	if (member_index(nodeid, pid) < 0 || strcmp(json_string_value(json_object_get(j, "round")), R.round) != 0 ||
	    nodeid != R.leader || (R.state != SYNC_ROUND && R.state != SYNC_FORKED)) {
		pthread_mutex_unlock(&R.lock);
		return;
	}
	/* a verdict judged these very STATEs, or it is of another round with the same members (cfgsync.h) */
	struct cfgsync_state all[CFGCHAN_MAX_MEMBERS];
	char states[CFGMSG_HASH_HEX + 1];
	round_states(all);
	cfgsync_states_hash(all, R.n, states);
	if (strcmp(states, json_string_value(json_object_get(j, "states"))) != 0) {
		pthread_mutex_unlock(&R.lock);
		log_info("cluster: ignored a verdict of node %u made from other states than this round's", nodeid);
		return;
	}
	R.verdict_version = (uint64_t)json_integer_value(json_object_get(j, "version"));
	for (size_t i = 0; i < R.n; i++) {
		uint32_t id = R.members[i].nodeid;
		struct node_info *ni = node_get(id);
		if (ni && !id_in(forked, id))
			ni->version = id_in(behind, id) ? ni->version : R.verdict_version;
		node_set(id, id_in(forked, id) ? SYNC_FORKED : id_in(behind, id) ? SYNC_RECEIVING : SYNC_SYNCED);
	}
	if (R.state == SYNC_FORKED) {
		node_set(R.self.nodeid, SYNC_FORKED);
	} else if (id_in(forked, R.self.nodeid)) {
		char why[200];
		snprintf(why, sizeof(why),
			 "this host's configuration history differs from node %u's (the leader, version %lld): "
			 "it applies nothing and refuses changes until `corral cluster resync --discard-local` there",
			 nodeid, (long long)json_integer_value(json_object_get(j, "version")));
		queue_drop(why);
		set_state(SYNC_FORKED, why);
		log_msg(LOG_LVL_ERROR, 0, "cluster: %s", why);
	} else if (id_in(behind, R.self.nodeid)) {
		set_state(SYNC_RECEIVING, "receiving the pool's configuration");
	} else {
		set_state(SYNC_SYNCED, NULL);
	}
	bool forked_now = R.state == SYNC_FORKED;
	log_info("cluster: verdict of leader node %u in round %s (version %llu): this host %s", nodeid, R.round,
		 (unsigned long long)R.verdict_version, state_names[R.state]);
	pthread_mutex_unlock(&R.lock);
	if (forked_now)
		svc_cluster_event("this host's configuration has forked from the pool's (leader node %u): it refuses "
				  "configuration changes until `corral cluster resync --discard-local` here", nodeid);
	queue_flush();
}

static void on_snapshot(uint32_t nodeid, uint32_t pid, const json_t *j)
{
	struct buf err __do_buf = BUF_INIT;
	pthread_mutex_lock(&R.lock);
	if (member_index(nodeid, pid) >= 0 && nodeid == R.leader && json_is_true(json_object_get(j, "last")) &&
	    strcmp(json_string_value(json_object_get(j, "round")), R.round) == 0)
		for (size_t i = 0; i < R.nnodes; i++) /* the others took it (each reports its own failure) */
			if (R.nodes[i].state == SYNC_RECEIVING && R.nodes[i].nodeid != R.self.nodeid) {
				R.nodes[i].state = SYNC_SYNCED;
				R.nodes[i].version = R.verdict_version;
			}
	if (R.state != SYNC_RECEIVING || member_index(nodeid, pid) < 0 || nodeid != R.leader ||
	    strcmp(json_string_value(json_object_get(j, "round")), R.round) != 0) {
		pthread_mutex_unlock(&R.lock);
		return;
	}
	if ((uint64_t)json_integer_value(json_object_get(j, "version")) != R.verdict_version) {
		uint64_t want = R.verdict_version; /* a chunk of another round with the same members: not this verdict's */
		pthread_mutex_unlock(&R.lock);
		log_info("cluster: ignored a configuration snapshot chunk of version %lld (the verdict's is %llu)",
			 (long long)json_integer_value(json_object_get(j, "version")), (unsigned long long)want);
		return;
	}
	if ((uint64_t)json_integer_value(json_object_get(j, "part")) != R.snap_part) {
		buf_reset(&R.snap);
		set_state(SYNC_FAILED, "a part of the pool's configuration snapshot was lost: waiting for the next round");
		pthread_mutex_unlock(&R.lock);
		return;
	}
	R.snap_part++;
	buf_adds(&R.snap, json_string_value(json_object_get(j, "data")));
	if (!json_is_true(json_object_get(j, "last"))) {
		pthread_mutex_unlock(&R.lock);
		return;
	}
	char *text = buf_detach(&R.snap);
	pthread_mutex_unlock(&R.lock);
	int r = store_replica_import(svc_cfg.store, text ? text : "", &err);
	free(text);
	struct store_replica_state st;
	bool have = store_replica_state(svc_cfg.store, &st) == 0;
	pthread_mutex_lock(&R.lock);
	if (r < 0) {
		set_state(SYNC_FAILED, err.s);
	} else {
		set_state(SYNC_SYNCED, NULL);
		struct node_info *ni = node_get(R.self.nodeid);
		if (ni && have)
			ni->version = st.version;
	}
	pthread_mutex_unlock(&R.lock);
	if (r < 0)
		svc_cluster_event("the pool's configuration snapshot from node %u did not apply: %s", nodeid, err.s);
	else
		svc_cluster_event("caught up with the pool's configuration from node %u (version %llu)", nodeid,
				  (unsigned long long)(have ? st.version : 0));
	queue_flush();
}

static void on_batch(uint32_t nodeid, uint32_t pid, uint64_t seq, const void *body, size_t len)
{
	pthread_mutex_lock(&R.lock);
	uint32_t rn = R.ring_nodeid;
	uint64_t rs = R.ring_seq;
	pthread_mutex_unlock(&R.lock);
	struct queued *q = xcalloc(1, sizeof(*q));
	q->from = (struct cfgchan_member){ nodeid, pid };
	q->seq = seq;
	snprintf(q->ring, sizeof(q->ring), "%x.%llx", rn, (unsigned long long)rs);
	pthread_mutex_lock(&R.lock);
	for (size_t i = 0; i < R.n; i++)
		if (!q->manager || R.members[i].nodeid < q->manager)
			q->manager = R.members[i].nodeid;
	pthread_mutex_unlock(&R.lock);
	bool unknown = false;
	q->quorate = ring_quorate(rn, rs, &unknown);
	q->body = xmalloc(len + 1);
	memcpy(q->body, body, len);
	q->body[len] = '\0';
	q->len = len;
	pthread_mutex_lock(&R.lock);
	*R.qtail = q;
	R.qtail = &q->next;
	pthread_mutex_unlock(&R.lock);
	queue_flush();
	if (unknown) { /* the others may have applied it: a new sync round brings this host level (memo 1.4, 3) */
		log_warn("cluster: rejoining the configuration group to synchronize again");
		cfgchan_rejoin();
	}
}

static void on_deliver(uint32_t nodeid, uint32_t pid, const void *msg, size_t len, void *opaque)
{
	(void)opaque;
	struct cfgmsg_hdr h;
	json_t *j = NULL;
	struct buf err __do_buf = BUF_INIT;
	if (cfgmsg_decode(msg, len, &h, &j, &err) < 0) {
		log_warn("cluster: dropped a configuration message from node %u: %s", nodeid, err.s);
		return;
	}
	switch (h.type) {
	case CFGMSG_BATCH: on_batch(nodeid, pid, h.seq, (const char *)msg + CFGMSG_HDR_LEN, h.body_len); break;
	case CFGMSG_STATE: on_state(nodeid, pid, j); break;
	case CFGMSG_VERDICT: on_verdict(nodeid, pid, j); break;
	case CFGMSG_SNAPSHOT: on_snapshot(nodeid, pid, j); break;
	default: break;
	}
	json_decref(j);
}

/* ---- the submit hook ---- */

static int refuse_locked(struct buf *err)
{
	switch (R.state) {
	case SYNC_SYNCED: return 0;
	case SYNC_FORKED: buf_printf(err, "%s", R.reason); return -EROFS;
	case SYNC_ROUND:
	case SYNC_RECEIVING:
		buf_adds(err, "synchronizing with the pool: configuration is read-only for a moment (retry)");
		return -EROFS;
	case SYNC_FAILED:
		buf_printf(err, "this host could not take the pool's configuration (%s): read-only until the next sync",
			   R.reason);
		return -EROFS;
	case SYNC_NONE:
	default: buf_adds(err, no_quorum); return -EROFS;
	}
}

static int submit(struct store *s, const json_t *batch, struct buf *err, void *opaque)
{
	(void)opaque;
	struct cluster_def d;
	int scope = store_batch_scope(batch, err);
	if (scope < 0)
		return scope;
	if (scope == STORE_SCOPE_LOCAL || !svc_cluster_def_get(&d, NULL))
		return store_apply(s, batch, err);
	if (!membership_quorate()) {
		buf_adds(err, no_quorum);
		return -EROFS;
	}
	__do_free char *text = json_dumps(batch, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf msg __do_buf = BUF_INIT;
	struct waiter w = { .err = BUF_INIT };
	int r;

	pthread_mutex_lock(&R.lock);
	struct timespec round_end = time_realtime_in(ROUND_WAIT_MS);
	while ((R.state == SYNC_ROUND || R.state == SYNC_RECEIVING) &&
	       pthread_cond_timedwait(&R.cond, &R.lock, &round_end) != ETIMEDOUT)
		;
	if ((r = refuse_locked(err)) < 0) {
		pthread_mutex_unlock(&R.lock);
		return r;
	}
	w.seq = ++R.send_seq;
	w.next = R.waiters;
	R.waiters = &w;
	pthread_mutex_unlock(&R.lock);

	if ((r = cfgmsg_encode(&msg, CFGMSG_BATCH, w.seq, text, strlen(text), err)) == 0 &&
	    (r = cfgchan_send(msg.s, msg.len, err)) == 0) {
		struct timespec until = time_realtime_in(WAIT_MS);
		pthread_mutex_lock(&R.lock);
		while (!w.done)
			if (pthread_cond_timedwait(&R.cond, &R.lock, &until) == ETIMEDOUT)
				break;
		pthread_mutex_unlock(&R.lock);
		if (w.done) {
			r = w.r;
			if (r < 0)
				buf_adds(err, w.err.len ? w.err.s : "the pool refused the change");
		} else {
			r = -ETIMEDOUT;
			buf_adds(err, "the change was sent to the pool but not seen applied within 10 s: the outcome is "
				      "unknown (check before retrying)");
		}
	}
	pthread_mutex_lock(&R.lock);
	for (struct waiter **p = &R.waiters; *p; p = &(*p)->next)
		if (*p == &w) {
			*p = w.next;
			break;
		}
	pthread_mutex_unlock(&R.lock);
	buf_release(&w.err);
	return r;
}

void cluster_store_view(struct cluster_store_view *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&R.lock);
	out->synced = R.state == SYNC_SYNCED;
	out->self = R.self.nodeid;
	snprintf(out->ring, sizeof(out->ring), "%x.%llx", R.ring_nodeid, (unsigned long long)R.ring_seq);
	for (size_t i = 0; i < R.n && out->n < ARRAY_SIZE(out->members); i++)
		out->members[out->n++] = R.members[i].nodeid;
	for (size_t i = 0; i < out->n; i++)
		if (!out->manager || out->members[i] < out->manager)
			out->manager = out->members[i];
	pthread_mutex_unlock(&R.lock);
}

/* ---- start, stop, status ---- */

int cluster_store_start(struct buf *err)
{
	struct cfgchan_ops ops = { .ring = on_ring, .confchg = on_confchg, .deliver = on_deliver };
	R.qtail = &R.qhead;
	R.state = SYNC_NONE;
	store_set_submit(svc_cfg.store, submit, NULL);
	int r = cfgchan_start(&ops);
	if (r < 0) {
		store_set_submit(svc_cfg.store, NULL, NULL);
		buf_printf(err, "cannot start the configuration channel: %s", strerror(-r));
		return r;
	}
	R.running = true;
	return 0;
}

void cluster_store_stop(void)
{
	if (!R.running)
		return;
	cfgchan_stop();
	pthread_mutex_lock(&R.lock);
	queue_drop("corrald is stopping");
	buf_release(&R.snap);
	R.running = false;
	pthread_mutex_unlock(&R.lock);
}

json_t *cluster_store_status(void)
{
	struct store_replica_state st;
	bool have = store_replica_state(svc_cfg.store, &st) == 0;
	pthread_mutex_lock(&R.lock);
	json_t *nodes = json_object();
	for (size_t i = 0; i < R.nnodes; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%u", R.nodes[i].nodeid);
		json_object_set_new(nodes, id, json_pack("{s:I,s:s}", "version", (json_int_t)R.nodes[i].version, "state",
							 state_names[R.nodes[i].state]));
	}
	json_t *out = json_pack("{s:I,s:s,s:s,s:o}", "version", (json_int_t)(have ? st.version : 0), "chain",
				have ? st.chain : "", "state", state_names[R.state], "nodes", nodes);
	if (R.leader)
		json_object_set_new(out, "leader", json_integer(R.leader));
	if (R.reason[0] && R.state != SYNC_SYNCED)
		json_object_set_new(out, "reason", json_string(R.reason));
	pthread_mutex_unlock(&R.lock);
	return out;
}

int cluster_store_discard_local(struct buf *err)
{
	int r = store_replica_forget(svc_cfg.store);
	if (r < 0) {
		buf_adds(err, "cannot reset this host's configuration history in the state database");
		return r;
	}
	pthread_mutex_lock(&R.lock);
	set_state(SYNC_NONE, "resynchronizing with the pool");
	pthread_mutex_unlock(&R.lock);
	svc_cluster_event("discarded this host's configuration history: taking the pool's at the next sync round");
	cfgchan_rejoin();
	return 0;
}

int svc_cluster_resync(const json_t *body, json_t **out, struct buf *err)
{
	struct cluster_def d;
	if (!json_is_true(json_object_get(body, "discard_local"))) {
		buf_adds(err, "resync needs discard_local: true (this host's own configuration changes are lost)");
		return -EINVAL;
	}
	if (!svc_cluster_def_get(&d, NULL)) {
		buf_adds(err, "this host is in no cluster");
		return -ENOENT;
	}
	int r = cluster_store_discard_local(err);
	if (r < 0)
		return r;
	*out = json_pack("{s:b}", "discarded", 1);
	return 0;
}
