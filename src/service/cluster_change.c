/*
 * cluster_change.c - changing the pool's membership (see cluster.h):
 * create and join on this host, leave and node remove, and the peer side
 * of each (a joining host asks a member, a member tells the others), all
 * through trusted hosts (peer.h).  One mutex, op_lock, serialises them; it
 * is held across calls to other hosts (each with its own timeout).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "cluster/corosync.h"
#include "cluster/membership.h"
#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/ha_fence.h"
#include "service/internal.h"
#include "service/peer.h"
#include "service/trust.h"
#include "util/cleanup.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

/* How long a member waits for each other member when telling it of a change. */
#define TELL_CONNECT_MS 2000L
#define TELL_TOTAL_MS 8000L
/* How long create and join wait for corosync to answer before they return. */
#define START_WAIT_MS 5000

static pthread_mutex_t op_lock = PTHREAD_MUTEX_INITIALIZER;

void svc_cluster_op_lock(void) { pthread_mutex_lock(&op_lock); }
void svc_cluster_op_unlock(void) { pthread_mutex_unlock(&op_lock); }

/* ---- helpers of the requests ---- */

static bool is_connected(const struct membership_view *v, void *arg)
{
	(void)arg;
	return v->connected && v->nmembers > 0;
}

/* The link addresses of a request ("links", array of strings) into n (its addr[]), canonical. */
static int links_get(const json_t *body, struct cluster_node *n, unsigned *count, struct buf *err)
{
	json_t *links = json_object_get(body, "links"), *a;
	size_t i;
	*count = 0;
	if (!links || json_is_null(links))
		return 0;
	if (!json_is_array(links) || json_array_size(links) > CLUSTER_MAX_LINKS) {
		buf_printf(err, "'links' is an array of up to %d addresses", CLUSTER_MAX_LINKS);
		return -EINVAL;
	}
	json_array_foreach(links, i, a) {
		if (!json_is_string(a)) {
			buf_adds(err, "'links' holds addresses as strings");
			return -EINVAL;
		}
		if (cluster_addr_check(json_string_value(a), n->addr[i], err) < 0)
			return -EINVAL;
	}
	*count = (unsigned)json_array_size(links);
	return 0;
}

/* The address of this host's TLS listener, when it is a usable literal. */
static int listen_addr(char *out, struct buf *err)
{
	const char *l = svc_cfg.listen;
	char host[CLUSTER_ADDR_MAX + 2] = "";
	struct buf ignore = BUF_INIT;
	if (l && l[0] == '[') {
		const char *e = strchr(l, ']');
		if (e && (size_t)(e - l - 1) < sizeof(host))
			memcpy(host, l + 1, (size_t)(e - l - 1));
	} else if (l) {
		const char *e = strrchr(l, ':');
		size_t n = e ? (size_t)(e - l) : strlen(l);
		if (n < sizeof(host))
			memcpy(host, l, n);
	}
	int r = cluster_addr_check(host, out, &ignore);
	buf_release(&ignore);
	if (r < 0 || strcmp(out, "0.0.0.0") == 0 || strcmp(out, "::") == 0) {
		if (l)
			buf_printf(err, "give the address corosync uses on this host (--link ADDR): this host's listen "
					"address %s is not one",
				   l);
		else
			buf_adds(err, "give the address corosync uses on this host (--link ADDR): this host has no listen "
				      "address to take it from");
		return -EINVAL;
	}
	return 0;
}

/* The peer's address as a link address ("::ffff:a.b.c.d" as a.b.c.d). */
static int peer_link_addr(const char *peer_addr, char *out, struct buf *err)
{
	const char *a = peer_addr ? peer_addr : "";
	if (strncmp(a, "::ffff:", 7) == 0 && strchr(a + 7, '.'))
		a += 7;
	return cluster_addr_check(a, out, err);
}

static char *key_b64(struct buf *err)
{
	unsigned char key[COROSYNC_KEY_BYTES];
	char enc[4 * ((COROSYNC_KEY_BYTES + 2) / 3) + 1];
	if (corosync_key_read(svc_cluster_dir(), key, sizeof(key), err) < 0)
		return NULL;
	EVP_EncodeBlock((unsigned char *)enc, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	char *s = xstrdup(enc);
	OPENSSL_cleanse(enc, sizeof(enc));
	return s;
}

static int key_from_b64(const char *b64, struct buf *err)
{
	unsigned char key[4 * ((COROSYNC_KEY_BYTES + 2) / 3)];
	size_t len = b64 ? strlen(b64) : 0;
	if (len != 4 * ((COROSYNC_KEY_BYTES + 2) / 3)) {
		buf_adds(err, "the member sent no usable cluster key");
		return -EPROTO;
	}
	int n = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)len);
	int pad = (b64[len - 1] == '=') + (b64[len - 2] == '=');
	int r = n - pad == COROSYNC_KEY_BYTES ? corosync_key_write(svc_cluster_dir(), key, COROSYNC_KEY_BYTES, err)
					      : -EPROTO;
	if (r == -EPROTO)
		buf_adds(err, "the member sent no usable cluster key");
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/*
 * Send d to every node but this host and `skip`: [{"name","error"}] of
 * those that could not be told (new reference).
 */
json_t *svc_cluster_tell_members(const struct cluster_def *d, const char *me, const char *skip)
{
	json_t *failed = json_array();
	__do_json json_t *body = json_pack("{s:o}", "cluster", cluster_def_to_json(d));
	for (unsigned i = 0; i < d->nnodes; i++) {
		const char *name = d->nodes[i].name;
		struct buf err = BUF_INIT;
		struct peer *p = NULL;
		if (strcmp(name, me) == 0 || (skip && strcmp(name, skip) == 0))
			continue;
		int r = peer_open(name, &p, &err);
		if (r == 0) {
			peer_set_timeout(p, TELL_CONNECT_MS, TELL_TOTAL_MS);
			r = peer_call(p, "PUT", "/v1/cluster/peer/config", body, NULL, NULL, &err);
		}
		peer_close(p);
		if (r < 0) {
			log_warn("cluster %s: node %s not told of config_version %u: %s", d->name, name,
				 d->config_version, err.s);
			json_array_append_new(failed, json_pack("{s:s,s:s}", "name", name, "error", err.s));
		}
		buf_release(&err);
	}
	return failed;
}

int svc_cluster_not_in(struct buf *err)
{
	buf_adds(err, "this host is in no cluster (corral cluster create, or join)");
	return -ENOENT;
}

int svc_cluster_need_quorum(const struct cluster_def *d, struct buf *err)
{
	if (membership_quorate())
		return 0;
	buf_printf(err, "cluster %s has no quorum on this host: nodes are added or removed only with quorum (a node "
			"that is gone for good: corral cluster node remove NAME --force)",
		   d->name);
	return -EAGAIN;
}

/* Refuse when this host already is in a cluster, or a corosync not ours runs. */
static int may_start(const char *what, struct buf *err)
{
	struct cluster_def d;
	char other[CLUSTER_NAME_MAX + 1];
	if (svc_cluster_def_get(&d, NULL)) {
		buf_printf(err, "this host is already in cluster %s: cannot %s another (corral cluster leave first)",
			   d.name, what);
		return -EEXIST;
	}
	if (!svc_cfg.host_name || cluster_node_name_check(svc_cfg.host_name, err) < 0) {
		buf_adds(err, svc_cfg.host_name ? ": this host's host_name cannot be a node name"
						: "this host has no host_name (corrald.conf host_name, and listen)");
		return -EINVAL;
	}
	if (!corosync_running(svc_cluster_dir(), NULL) && membership_probe(other)) {
		buf_printf(err, "a corosync not started by corral already runs on this host (cluster '%s'): stop it, "
				"or leave that cluster, first",
			   other);
		return -EBUSY;
	}
	return 0;
}

/* ---- create, join ---- */

static int create_locked(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "name", "links", "token_ms", NULL };
	struct cluster_def d;
	const char *name = NULL;
	int64_t token = CLUSTER_TOKEN_DEFAULT;
	int r;

	memset(&d, 0, sizeof(d));
	if (json_check_keys(body, "cluster", keys, err) < 0 || json_get_str(body, "name", &name, err) < 0 ||
	    json_get_int(body, "token_ms", CLUSTER_TOKEN_MIN, CLUSTER_TOKEN_MAX, &token, err) < 0)
		return -EINVAL;
	if ((r = cluster_name_check(name, err)) < 0)
		return r;
	if ((r = may_start("create", err)) < 0)
		return r;
	snprintf(d.name, sizeof(d.name), "%s", name);
	d.config_version = 1;
	d.token_ms = (uint32_t)token;
	d.nnodes = 1;
	d.nodes[0].id = 1;
	snprintf(d.nodes[0].name, sizeof(d.nodes[0].name), "%s", svc_cfg.host_name);
	if ((r = links_get(body, &d.nodes[0], &d.nlinks, err)) < 0)
		return r;
	if (!d.nlinks) {
		if ((r = listen_addr(d.nodes[0].addr[0], err)) < 0)
			return r;
		d.nlinks = 1;
	}
	if ((r = cluster_def_check(&d, err)) < 0)
		return r;
	if (corosync_running(svc_cluster_dir(), NULL)) /* a leave cut off half-way */
		corosync_stop(svc_cluster_dir());
	if ((r = corosync_key_make(svc_cluster_dir(), err)) < 0 ||
	    (r = svc_cluster_def_apply(&d, svc_cfg.host_name, false, err)) < 0 ||
	    (r = corosync_start(svc_cluster_dir(), err)) < 0) {
		svc_cluster_def_drop();
		return r;
	}
	membership_supervise(true);
	svc_cluster_event("created cluster %s with this host as node %s (id 1), token %u ms", d.name, svc_cfg.host_name,
		      d.token_ms);
	membership_wait(START_WAIT_MS, is_connected, NULL);
	*out = svc_cluster_status();
	return 0;
}

int svc_cluster_create(const json_t *body, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = create_locked(body, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

/* The trusted host named, or whose URL is, `host`, opened. */
int svc_cluster_host_open(const char *host, struct peer **p, struct buf *err)
{
	if (host && strncmp(host, "https://", 8) == 0) {
		__do_json json_t *list = svc_trust_list();
		json_t *h;
		size_t i;
		json_array_foreach(json_object_get(list, "hosts"), i, h) {
			const char *url = json_string_value(json_object_get(h, "url"));
			size_t n = url ? strlen(url) : 0;
			if (url && (strcmp(url, host) == 0 || (strncmp(url, host, n) == 0 && strcmp(host + n, "/") == 0)))
				return peer_open(json_string_value(json_object_get(h, "name")), p, err);
		}
		buf_printf(err, "no trusted host has the URL %.128s: trust it first (corral host trust add)", host);
		return -ENOENT;
	}
	if (svc_trust_name_check(host, err) < 0)
		return -EINVAL;
	int r = peer_open(host, p, err);
	if (r == -ENOENT)
		buf_adds(err, ": trust it first (corral host trust add)");
	return r;
}

static int join_locked(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "host", "links", NULL };
	__do_json json_t *ask = NULL, *reply = NULL;
	struct cluster_node links;
	struct cluster_def d;
	const char *host = NULL;
	struct peer *p = NULL;
	unsigned nlinks;
	int r;

	memset(&links, 0, sizeof(links));
	if (json_check_keys(body, "cluster join", keys, err) < 0 || json_get_str(body, "host", &host, err) < 0)
		return -EINVAL;
	if (!host) {
		buf_adds(err, "'host' (a trusted host in the cluster, by name or URL) is required");
		return -EINVAL;
	}
	if ((r = links_get(body, &links, &nlinks, err)) < 0 || (r = may_start("join", err)) < 0)
		return r;
	if ((r = svc_cluster_host_open(host, &p, err)) < 0)
		return r;
	json_t *arr = json_array();
	for (unsigned l = 0; l < nlinks; l++)
		json_array_append_new(arr, json_string(links.addr[l]));
	ask = json_pack("{s:s,s:o}", "name", svc_cfg.host_name, "links", arr);
	peer_set_timeout(p, 5000, 30000);
	r = peer_call(p, "POST", "/v1/cluster/peer/join", ask, &reply, NULL, err);
	__do_free char *member = xstrdup(peer_name(p));
	if (r < 0) {
		peer_close(p);
		return r;
	}
	json_t *key = json_object_get(reply, "authkey");
	if ((r = cluster_def_from_json(json_object_get(reply, "cluster"), &d, err)) < 0 ||
	    !cluster_def_node(&d, svc_cfg.host_name)) {
		if (r == 0)
			buf_printf(err, "%s answered with a cluster that lacks this host", member);
		r = r < 0 ? r : -EPROTO;
	} else if ((r = key_from_b64(json_string_value(key), err)) == 0 &&
		   (r = svc_cluster_def_apply(&d, svc_cfg.host_name, false, err)) == 0) {
		r = corosync_start(svc_cluster_dir(), err);
	}
	if (json_is_string(key))
		OPENSSL_cleanse((void *)json_string_value(key), json_string_length(key));
	if (r < 0) { /* undo: here, and on the member */
		struct buf why = BUF_INIT;
		svc_cluster_def_drop();
		if (peer_call(p, "POST", "/v1/cluster/peer/leave", NULL, NULL, NULL, &why) < 0)
			log_warn("cluster: could not undo the join on %s: %s", member, why.s);
		buf_release(&why);
		peer_close(p);
		return r;
	}
	peer_close(p);
	membership_supervise(true);
	const struct cluster_node *n = cluster_def_node(&d, svc_cfg.host_name);
	svc_cluster_event("joined cluster %s through %s as node %s (id %u)", d.name, member, n->name, n->id);
	membership_wait(START_WAIT_MS, is_connected, NULL);
	*out = svc_cluster_status();
	json_t *nu = json_object_get(reply, "not_updated");
	if (json_array_size(nu))
		json_object_set(*out, "not_updated", nu);
	return 0;
}

int svc_cluster_join(const json_t *body, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = join_locked(body, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

/* ---- leave, remove ---- */

static int leave_locked(json_t **out, struct buf *err)
{
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct buf why = BUF_INIT;
	const char *told = NULL;

	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	for (unsigned i = 0; i < d.nnodes && !told; i++) {
		struct peer *p = NULL;
		if (strcmp(d.nodes[i].name, me) == 0)
			continue;
		buf_reset(&why);
		int r = peer_open(d.nodes[i].name, &p, &why);
		if (r == 0) {
			peer_set_timeout(p, TELL_CONNECT_MS, 30000);
			r = peer_call(p, "POST", "/v1/cluster/peer/leave", NULL, NULL, NULL, &why);
			/* 404 from a member: it no longer counts this host (removed while
			 * it was down): nothing to undo there */
			if (r == -ENOENT) {
				log_info("cluster %s: node %s: %s: leaving", d.name, d.nodes[i].name, why.s);
				r = 0;
			}
		}
		peer_close(p);
		if (r == 0)
			told = d.nodes[i].name;
		else
			log_warn("cluster %s: node %s did not take this host's leave: %s", d.name, d.nodes[i].name,
				 why.s);
	}
	if (d.nnodes > 1 && !told) {
		buf_printf(err, "no other node of cluster %s removed this host (%s): nothing changed", d.name, why.s);
		buf_release(&why);
		return -EHOSTUNREACH;
	}
	buf_release(&why);
	svc_cluster_def_drop();
	svc_cluster_event("left cluster %s%s%s", d.name, told ? "; removed by node " : " (its last node)",
		      told ? told : "");
	*out = json_pack("{s:s,s:s?}", "left", d.name, "told", told);
	return 0;
}

int svc_cluster_leave(json_t **out, struct buf *err)
{
	/* leaving stops corosync, which the fence reads as a lost pool: it would kill them */
	__do_free char *armed = ha_fence_armed_names();
	if (armed) {
		buf_printf(err, "HA VMs run on this host (%s): leaving the pool would fence them; "
				"remove them from HA first (corral ha remove)", armed);
		return -EBUSY;
	}
	pthread_mutex_lock(&op_lock);
	int r = leave_locked(out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

static bool node_online(uint32_t id)
{
	struct membership_view v;
	membership_get(&v);
	return membership_has(&v, id);
}

/* Remove `name` from d here and tell the others (all but me and name). */
static int remove_and_tell(struct cluster_def *d, const char *me, const char *name, json_t **not_updated,
			   struct buf *err)
{
	int r;
	cluster_def_remove(d, name);
	d->config_version++;
	if (d->witness.set && d->nnodes != 2) { /* a witness is for two nodes only (conf.h) */
		d->witness.set = false;
		svc_cluster_event("cluster %s has %u node(s) now: its witness %s is dropped", d->name, d->nnodes,
				  d->witness.addr);
	}
	if ((r = svc_cluster_def_apply(d, me, true, err)) < 0)
		return r;
	*not_updated = svc_cluster_tell_members(d, me, name);
	return 0;
}

static int node_remove_locked(const char *name, bool force, json_t **out, struct buf *err)
{
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	json_t *nu = NULL;
	int r;

	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if ((r = cluster_node_name_check(name, err)) < 0)
		return r;
	const struct cluster_node *n = cluster_def_node(&d, name);
	if (!n) {
		buf_printf(err, "cluster %s has no node %s", d.name, name);
		return -ENOENT;
	}
	if (strcmp(name, me) == 0) {
		buf_printf(err, "%s is this host: to take it out of cluster %s, run corral cluster leave", name, d.name);
		return -EINVAL;
	}
	if (node_online(n->id)) {
		buf_printf(err, "node %s is online in cluster %s: run corral cluster leave on it (node remove is for "
				"a node that is down)",
			   name, d.name);
		return -EBUSY;
	}
	if ((!force && (r = svc_cluster_need_quorum(&d, err)) < 0) || (r = remove_and_tell(&d, me, name, &nu, err)) < 0)
		return r;
	svc_cluster_event("removed node %s from cluster %s (config_version %u%s)", name, d.name, d.config_version,
		      force ? ", forced without quorum" : "");
	*out = json_pack("{s:s,s:o}", "removed", name, "not_updated", nu);
	return 0;
}

int svc_cluster_node_remove(const char *name, bool force, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = node_remove_locked(name, force, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

/* ---- the peer side ---- */

static int peer_join_locked(const char *caller, const char *peer_addr, const json_t *body, json_t **out,
			    struct buf *err)
{
	static const char *const keys[] = { "name", "links", NULL };
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct cluster_node n;
	const char *name = NULL;
	unsigned nlinks;
	int r;

	memset(&n, 0, sizeof(n));
	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if (json_check_keys(body, "cluster join", keys, err) < 0 || json_get_str(body, "name", &name, err) < 0)
		return -EINVAL;
	if ((r = cluster_node_name_check(name, err)) < 0)
		return r;
	if (strcmp(name, caller) != 0) {
		buf_printf(err, "the host calling itself %s is trusted here as %s: a node is known by one name (trust it "
				"under its host_name)",
			   name, caller);
		return -EINVAL;
	}
	if (cluster_def_node(&d, name)) {
		buf_printf(err, "%s is already a node of cluster %s", name, d.name);
		return -EEXIST;
	}
	if (d.witness.set) {
		buf_printf(err, "cluster %s has a witness (%s), which is for two nodes only: a third node makes an odd "
				"count, where it adds nothing (corral cluster witness remove first)",
			   d.name, d.witness.addr);
		return -EBUSY;
	}
	if (d.nnodes >= CLUSTER_MAX_NODES) {
		buf_printf(err, "cluster %s has %d nodes, the most corral allows", d.name, CLUSTER_MAX_NODES);
		return -ENOSPC;
	}
	if ((r = links_get(body, &n, &nlinks, err)) < 0)
		return r;
	if (!nlinks && d.nlinks == 1) {
		if ((r = peer_link_addr(peer_addr, n.addr[0], err)) < 0)
			return r;
		nlinks = 1;
	}
	if (nlinks != d.nlinks) {
		buf_printf(err, "cluster %s has %u link(s): give one address for each (--link ADDR)", d.name, d.nlinks);
		return -EINVAL;
	}
	if ((r = svc_cluster_need_quorum(&d, err)) < 0)
		return r;
	n.id = cluster_def_next_id(&d);
	snprintf(n.name, sizeof(n.name), "%s", name);
	d.nodes[d.nnodes++] = n;
	d.config_version++;
	if ((r = cluster_def_check(&d, err)) < 0)
		return r;
	__do_free char *key = key_b64(err);
	if (!key)
		return -EIO;
	if ((r = svc_cluster_def_apply(&d, me, true, err)) < 0) {
		OPENSSL_cleanse(key, strlen(key));
		return r;
	}
	json_t *nu = svc_cluster_tell_members(&d, me, name);
	svc_cluster_event("added node %s (id %u, %s) to cluster %s (config_version %u)", name, n.id, n.addr[0], d.name,
		      d.config_version);
	*out = json_pack("{s:o,s:s,s:o}", "cluster", cluster_def_to_json(&d), "authkey", key, "not_updated", nu);
	OPENSSL_cleanse(key, strlen(key));
	return 0;
}

int svc_cluster_peer_join(const char *caller, const char *peer_addr, const json_t *body, json_t **out,
			  struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = peer_join_locked(caller, peer_addr, body, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

static int peer_leave_locked(const char *caller, json_t **out, struct buf *err)
{
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	json_t *nu = NULL;
	int r;

	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if (!cluster_def_node(&d, caller)) {
		buf_printf(err, "%s is not a node of cluster %s", caller, d.name);
		return -ENOENT;
	}
	if (strcmp(caller, me) == 0) {
		buf_adds(err, "a host does not remove itself through its peers");
		return -EINVAL;
	}
	if ((r = svc_cluster_need_quorum(&d, err)) < 0 || (r = remove_and_tell(&d, me, caller, &nu, err)) < 0)
		return r;
	svc_cluster_event("node %s left cluster %s (config_version %u)", caller, d.name, d.config_version);
	*out = json_pack("{s:o,s:o}", "cluster", cluster_def_to_json(&d), "not_updated", nu);
	return 0;
}

int svc_cluster_peer_leave(const char *caller, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = peer_leave_locked(caller, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}

static int peer_config_locked(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "cluster", NULL };
	struct cluster_def d, nd;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	int r;

	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if (json_check_keys(body, "cluster config", keys, err) < 0 ||
	    (r = cluster_def_from_json(json_object_get(body, "cluster"), &nd, err)) < 0)
		return -EINVAL;
	if (strcmp(nd.name, d.name) != 0 || !cluster_def_node(&d, caller)) {
		buf_printf(err, "%s is not a node of this host's cluster %s", caller, d.name);
		return -EACCES;
	}
	if (nd.config_version <= d.config_version) {
		*out = json_pack("{s:I,s:b}", "config_version", (json_int_t)d.config_version, "changed", 0);
		if (nd.config_version == d.config_version)
			return 0;
		buf_printf(err, "cluster %s: config_version %u is older than this host's %u", d.name, nd.config_version,
			   d.config_version);
		json_decref(*out);
		*out = NULL;
		return -ESTALE;
	}
	if (!cluster_def_node(&nd, me)) {
		svc_cluster_def_drop();
		svc_cluster_event("removed from cluster %s by node %s: corosync stopped", d.name, caller);
		*out = json_pack("{s:I,s:b}", "config_version", (json_int_t)nd.config_version, "changed", 1);
		return 0;
	}
	if ((r = svc_cluster_def_apply(&nd, me, true, err)) < 0)
		return r;
	svc_cluster_event("cluster %s: config_version %u from node %s (%u nodes)", nd.name, nd.config_version, caller,
		      nd.nnodes);
	*out = json_pack("{s:I,s:b}", "config_version", (json_int_t)nd.config_version, "changed", 1);
	return 0;
}

int svc_cluster_peer_config(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&op_lock);
	int r = peer_config_locked(caller, body, out, err);
	pthread_mutex_unlock(&op_lock);
	return r;
}
