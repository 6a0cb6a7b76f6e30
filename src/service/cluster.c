/*
 * cluster.c - the pool's membership as the service layer sees it (see
 * cluster.h): the definition kept in the state database and in memory,
 * corrald's corosync started or re-adopted at start, the pool thread's
 * changes turned into events, and the status answer.  The changes that go
 * through trusted hosts (create, join, leave, node remove, and their peer
 * side) are cluster_change.c's.
 */
#include <corosync/votequorum.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "cluster/corosync.h"
#include "cluster/membership.h"
#include "core/events.h"
#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/cluster_store.h"
#include "service/ha_fence.h"
#include "service/ha_lease.h"
#include "service/ha_maint.h"
#include "service/ha_manager.h"
#include "service/witness.h"
#include "service/internal.h"
#include "util/cleanup.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

/*
 * def_lock, a leaf, guards cur/self/in_cluster for quick reads (status, the
 * pool thread's event names); changes are serialised by cluster_change.c's
 * op_lock, taken before it.
 */
static pthread_mutex_t def_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cluster_def cur;
static char self[CLUSTER_NODE_NAME_MAX + 1];
static bool in_cluster;
static char *dir; /* STATE/cluster */

const char *svc_cluster_dir(void) { return dir; }

void svc_cluster_event(const char *fmt, ...)
{
	struct buf d = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&d, fmt, ap);
	va_end(ap);
	log_info("cluster: %s", d.s);
	store_event_add(svc_cfg.store, NULL, "cluster", d.s);
	events_publish_vm("cluster", NULL, NULL, json_pack("{s:s,s:s}", "type", "cluster", "detail", d.s));
	buf_release(&d);
}

bool svc_cluster_def_get(struct cluster_def *out, char *me)
{
	pthread_mutex_lock(&def_lock);
	bool in = in_cluster;
	if (in) {
		*out = cur;
		if (me)
			memcpy(me, self, sizeof(self));
	}
	pthread_mutex_unlock(&def_lock);
	return in;
}

static void def_set(const struct cluster_def *d, const char *me)
{
	pthread_mutex_lock(&def_lock);
	in_cluster = d != NULL;
	if (d) {
		cur = *d;
		snprintf(self, sizeof(self), "%s", me);
	} else {
		memset(&cur, 0, sizeof(cur));
		self[0] = '\0';
	}
	pthread_mutex_unlock(&def_lock);
}

/* The name of node id (into out) for an event. */
static const char *node_name(uint32_t id, char *out, size_t len)
{
	pthread_mutex_lock(&def_lock);
	const struct cluster_node *n = in_cluster ? cluster_def_node_id(&cur, id) : NULL;
	snprintf(out, len, "%s", n ? n->name : "?");
	pthread_mutex_unlock(&def_lock);
	return out;
}

/* A "quorum" event on the bus (alarm rules `host lost quorum` watch it). */
static void quorum_publish(bool quorate, const struct membership_view *v)
{
	struct cluster_def d;
	char ring[48];
	json_t *members = json_array();
	snprintf(ring, sizeof(ring), "%x.%llx", v->ring_nodeid, (unsigned long long)v->ring_seq);
	for (unsigned i = 0; i < v->nmembers; i++)
		json_array_append_new(members, json_integer(v->members[i]));
	events_publish_vm("quorum", NULL, NULL,
			  json_pack("{s:b,s:s?,s:s,s:o}", "quorate", quorate,
				    "cluster", svc_cluster_def_get(&d, NULL) ? d.name : NULL, "ring_id", ring, "members",
				    members));
}

static void on_membership(enum membership_event ev, uint32_t id, const struct membership_view *v, void *opaque)
{
	char name[CLUSTER_NODE_NAME_MAX + 1];
	(void)opaque;
	switch (ev) {
	case MEMBERSHIP_CONNECTED:
		svc_cluster_event("connected to corosync as node %s (id %u)", node_name(id, name, sizeof(name)), id);
		break;
	case MEMBERSHIP_DISCONNECTED: svc_cluster_event("lost the connection to corosync"); break;
	case MEMBERSHIP_QUORUM_LOST:
	case MEMBERSHIP_QUORUM_REGAINED:
		svc_cluster_event("quorum %s: %u node(s) in ring %x.%llx",
				  ev == MEMBERSHIP_QUORUM_REGAINED ? "regained" : "lost", v->nmembers, v->ring_nodeid,
				  (unsigned long long)v->ring_seq);
		quorum_publish(ev == MEMBERSHIP_QUORUM_REGAINED, v);
		break;
	case MEMBERSHIP_NODE_JOINED:
		svc_cluster_event("node %s (id %u) joined the ring", node_name(id, name, sizeof(name)), id);
		break;
	case MEMBERSHIP_NODE_LEFT:
		svc_cluster_event("node %s (id %u) left the ring", node_name(id, name, sizeof(name)), id);
		break;
	case MEMBERSHIP_COROSYNC_RESTARTED: svc_cluster_event("corosync had exited: started it again (attempt %u)", id); break;
	case MEMBERSHIP_COROSYNC_FAILED:
		svc_cluster_event("corosync had exited and could not be started again (attempt %u): see %s/corosync.log", id,
			      dir);
		break;
	}
}

/* ---- keeping the definition: database, corosync.conf, reload ---- */

int svc_cluster_def_apply(const struct cluster_def *d, const char *me, bool reload, struct buf *err)
{
	__do_json json_t *j = cluster_def_to_json(d);
	__do_free char *text = json_to_string(j);
	int r;
	svc_cluster_qdevice_sync(d, true);
	if ((r = corosync_conf_write(d, dir, err)) < 0)
		return r;
	if ((r = store_cluster_put(svc_cfg.store, d->name, me, text)) < 0) {
		buf_printf(err, "cannot record cluster %s in the state database", d->name);
		return r;
	}
	def_set(d, me);
	if (reload && corosync_running(dir, NULL)) {
		struct buf why = BUF_INIT;
		if ((r = membership_reload(&why)) < 0)
			log_warn("cluster %s: config_version %u written, but %s", d->name, d->config_version, why.s);
		buf_release(&why);
	}
	svc_cluster_qdevice_sync(d, false);
	return 0;
}

void svc_cluster_def_drop(void)
{
	svc_cluster_qdevice_sync(NULL, false);
	membership_supervise(false);
	corosync_stop(dir);
	corosync_files_remove(dir);
	store_cluster_delete(svc_cfg.store);
	def_set(NULL, NULL);
}

/* ---- start-up ---- */

int svc_cluster_init(struct buf *err)
{
	__do_free char *text = NULL, *me = NULL;
	struct buf why __do_buf = BUF_INIT;
	struct cluster_def d;
	int r;

	dir = xasprintf("%s/cluster", svc_cfg.state_dir);
	if ((r = svc_witness_start(err)) < 0)
		return r;
	struct membership_config mc = { .dir = dir, .on_event = on_membership };
	if ((r = membership_start(&mc)) < 0) {
		buf_printf(err, "cannot start the pool thread: %s", strerror(-r));
		return r;
	}
	if ((r = cluster_store_start(&why)) < 0) {
		buf_printf(err, "%s", why.s);
		membership_stop();
		return r;
	}
	if ((r = ha_lease_start()) < 0) {
		buf_printf(err, "cannot start the HA disk lease thread: %s", strerror(-r));
		cluster_store_stop();
		membership_stop();
		return r;
	}
	if ((r = ha_fence_start()) < 0) {
		buf_printf(err, "cannot start the HA fence thread: %s", strerror(-r));
		ha_lease_stop();
		cluster_store_stop();
		membership_stop();
		return r;
	}
	if ((r = ha_manager_start()) < 0) {
		buf_printf(err, "cannot start the HA manager thread: %s", strerror(-r));
		ha_fence_stop();
		ha_lease_stop();
		cluster_store_stop();
		membership_stop();
		return r;
	}
	r = store_cluster_get(svc_cfg.store, &text, &me);
	if (r == -ENOENT) {
		if (corosync_running(dir, NULL)) { /* a leave cut off half-way */
			log_warn("cluster: in no cluster, but corrald's corosync runs: stopping it");
			corosync_stop(dir);
		}
		return 0;
	}
	__do_json json_t *j = r < 0 ? NULL : json_loads(text, 0, NULL);
	if (!j || cluster_def_from_json(j, &d, &why) < 0 || !cluster_def_node(&d, me)) {
		/* Not fatal: the host runs its guests; the cluster part reports. */
		log_msg(LOG_LVL_ERROR, 0, "cluster: the stored cluster definition is unusable (%s): not starting corosync",
			  why.len ? why.s : "no definition, or this host is not in it");
		return 0;
	}
	def_set(&d, me);
	buf_reset(&why);
	if ((r = corosync_conf_write(&d, dir, &why)) < 0) {
		log_msg(LOG_LVL_ERROR, 0, "cluster %s: %s", d.name, why.s);
		return 0;
	}
	struct proc_identity id;
	char other[CLUSTER_NAME_MAX + 1];
	if (corosync_running(dir, &id)) {
		log_info("cluster %s: corosync (pid %d) is running: re-adopted", d.name, (int)id.pid);
	} else if (membership_probe(other)) {
		log_warn("cluster %s: a corosync not started by corral runs on this host (cluster '%s'): using it, "
			 "not starting another", d.name, other);
		return 0;
	} else if ((r = corosync_start(dir, &why)) < 0) {
		log_msg(LOG_LVL_ERROR, 0, "cluster %s: %s (the supervisor tries again)", d.name, why.s);
	}
	membership_supervise(true);
	svc_cluster_qdevice_sync(&d, false); /* re-adopted when it runs */
	return 0;
}

void svc_cluster_shutdown(void)
{
	/* corosync keeps running: membership outlives corrald, as guests do;
	 * so do corosync-qdevice and corosync-qnetd. */
	ha_manager_stop();
	ha_fence_stop(); /* before the leases: the guard keeps renewing them ("quiet") */
	ha_lease_stop();
	cluster_store_stop();
	membership_stop();
	svc_cluster_qdevice_forget();
	svc_witness_shutdown();
	free(dir);
	dir = NULL;
}

/* ---- status ---- */

static json_t *vote_flags(unsigned f)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ VOTEQUORUM_INFO_TWONODE, "two_node" },
		{ VOTEQUORUM_INFO_QUORATE, "quorate" },
		{ VOTEQUORUM_INFO_WAIT_FOR_ALL, "wait_for_all" },
		{ VOTEQUORUM_INFO_LAST_MAN_STANDING, "last_man_standing" },
		{ VOTEQUORUM_INFO_AUTO_TIE_BREAKER, "auto_tie_breaker" },
		{ VOTEQUORUM_INFO_ALLOW_DOWNSCALE, "allow_downscale" },
		{ VOTEQUORUM_INFO_QDEVICE_REGISTERED, "qdevice" },
		{ VOTEQUORUM_INFO_QDEVICE_ALIVE, "qdevice_alive" },
		{ VOTEQUORUM_INFO_QDEVICE_CAST_VOTE, "qdevice_cast_vote" },
		{ VOTEQUORUM_INFO_QDEVICE_MASTER_WINS, "qdevice_master_wins" },
	};
	json_t *a = json_array();
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (f & names[i].bit)
			json_array_append_new(a, json_string(names[i].name));
	return a;
}

json_t *svc_cluster_status(void)
{
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct membership_view v;
	struct membership_votes votes;
	struct proc_identity id;
	struct buf err = BUF_INIT;
	char ring[48];

	if (!svc_cluster_def_get(&d, me))
		return json_pack("{s:n}", "cluster");
	membership_get(&v);
	bool running = corosync_running(dir, &id);
	snprintf(ring, sizeof(ring), "%x.%llx", v.ring_nodeid, (unsigned long long)v.ring_seq);
	const struct cluster_node *mine = cluster_def_node(&d, me);
	json_t *out = json_pack("{s:s,s:s,s:I,s:I,s:I,s:{s:b,s:b,s:o},s:b,s:o}", "cluster", d.name, "self", me,
				"node_id", (json_int_t)(mine ? mine->id : 0), "config_version",
				(json_int_t)d.config_version, "token_ms", (json_int_t)d.token_ms, "corosync", "running",
				running, "connected", v.connected, "pid", running ? json_integer(id.pid) : json_null(),
				"quorate", v.quorate, "ring_id", v.connected ? json_string(ring) : json_null());
	if (v.quorate_since_ms)
		json_object_set_new(out, "quorate_since", json_integer(v.quorate_since_ms));
	bool have_votes = membership_votes(&votes, &err) == 0;
	if (have_votes) {
		json_object_set_new(out, "votes",
				    json_pack("{s:I,s:I,s:I,s:I,s:I,s:o}", "node", (json_int_t)votes.node_votes,
					      "expected", (json_int_t)votes.expected_votes, "highest_expected",
					      (json_int_t)votes.highest_expected, "total", (json_int_t)votes.total_votes,
					      "quorum", (json_int_t)votes.quorum, "flags", vote_flags(votes.flags)));
		if (votes.token_ms)
			json_object_set_new(out, "effective_token_ms", json_integer(votes.token_ms));
		if (votes.consensus_ms)
			json_object_set_new(out, "consensus_ms", json_integer(votes.consensus_ms));
	} else {
		json_object_set_new(out, "error", json_string(err.s));
	}
	buf_release(&err);
	json_t *nodes = json_array();
	for (unsigned i = 0; i < d.nnodes; i++) {
		const struct cluster_node *n = &d.nodes[i];
		json_t *addrs = json_array(), *links = json_array();
		struct membership_link lk[CLUSTER_MAX_LINKS];
		bool reachable = false, online = false;
		for (unsigned l = 0; l < d.nlinks; l++)
			json_array_append_new(addrs, json_string(n->addr[l]));
		for (unsigned m = 0; m < v.nmembers; m++)
			online |= v.members[m] == n->id;
		struct buf ignore = BUF_INIT;
		int nl = v.connected ? membership_links(n->id, &reachable, lk, CLUSTER_MAX_LINKS, &ignore) : -ENOTCONN;
		buf_release(&ignore);
		for (int l = 0; l < nl; l++)
			json_array_append_new(links, json_pack("{s:I,s:s?,s:b,s:I}", "link", (json_int_t)lk[l].link,
							       "addr", lk[l].link < d.nlinks ? n->addr[lk[l].link] : NULL,
							       "connected", lk[l].connected, "mtu",
							       (json_int_t)lk[l].mtu));
		json_array_append_new(nodes, json_pack("{s:I,s:s,s:o,s:b,s:b,s:o,s:b}", "id", (json_int_t)n->id, "name",
						       n->name, "addrs", addrs, "online", online, "self",
						       strcmp(n->name, me) == 0, "links", links, "maintenance",
						       svc_ha_in_maintenance(n->name)));
	}
	json_object_set_new(out, "nodes", nodes);
	json_object_set_new(out, "witness", svc_cluster_witness_status(&d, &votes, have_votes));
	json_t *cfg = cluster_store_status();
	json_t *per = json_object_get(cfg, "nodes"), *n;
	size_t ni;
	json_array_foreach(nodes, ni, n) {
		char key[16];
		snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(n, "id")));
		json_t *c = json_object_get(per, key);
		json_object_set_new(n, "config", c ? json_incref(c) : json_pack("{s:n,s:s}", "version", "state", "unknown"));
	}
	json_object_del(cfg, "nodes");
	json_object_set_new(out, "config", cfg);
	json_t *warn = json_array();
	if (d.nnodes > 1 && d.nlinks == 1)
		json_array_append_new(warn, json_string("one link only: a failure of that network cuts every host off "
							"(add a second link)"));
	if (d.nnodes == 2 && !d.witness.set)
		json_array_append_new(warn, json_string("two nodes and no witness: when either host is down the other "
							"has no quorum (corral cluster witness add; docs/cluster.md)"));
	json_t *wst = json_object_get(out, "witness");
	if (d.witness.set && !json_is_true(json_object_get(wst, "connected")))
		json_array_append_new(warn, json_string("the witness is not connected: losing the other node now would "
							"cost this one its quorum"));
	json_object_set_new(out, "warnings", warn);
	return out;
}
