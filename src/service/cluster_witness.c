/*
 * cluster_witness.c - a two-node pool's witness, the nodes' side (see
 * cluster.h "witness"; docs/cluster.md "Two nodes"): `cluster witness add`
 * makes each node's qdevice certificate (a key and a request made on the
 * node, signed by the witness through the trusted-host API), puts the
 * witness into the pool's definition (config_version + 1: corosync.conf's
 * quorum.device on every node, reloaded), and keeps corosync-qdevice
 * running on each node while the definition has a witness.
 *
 * Files: STATE/cluster/qdevice/ (0700): nssdb/ (the node's key, its
 * certificate "Cluster Cert" and the witness's CA), qdevice.pid (its
 * identity), qdevice.out, qdevice.lock and qdevice.sock (corosync-qdevice's
 * own, named with -S so that nothing of it is under /run or /etc).
 */
#include <corosync/votequorum.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/conf.h"
#include "cluster/membership.h"
#include "cluster/nssdb.h"
#include "cluster/sdaemon.h"
#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/internal.h"
#include "service/peer.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

#define CALL_CONNECT_MS 3000L
#define CALL_TOTAL_MS 30000L

/* qd_lock (a leaf below op_lock and def_lock's callers): qdevice, qd_set */
static pthread_mutex_t qd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sdaemon qdevice;
static bool qd_set;

static char *qd_path(const char *name) { return xasprintf("%s/qdevice/%s", svc_cluster_dir(), name); }

/* With qd_lock: qdevice's daemon description. */
static void qd_setup(void)
{
	if (qd_set)
		return;
	__do_free char *dir = qd_path("");
	__do_free char *db = qd_path("nssdb");
	__do_free char *lock = qd_path("qdevice.lock");
	__do_free char *sock = qd_path("qdevice.sock");
	__do_free char *opts = xasprintf("lock_file=%s,local_socket_file=%s,net_nss_db_dir=%s", lock, sock, db);
	dir[strlen(dir) - 1] = '\0';
	sdaemon_init(&qdevice, dir, "qdevice", (const char *const[]){ "corosync-qdevice", "-f", "-S", opts, NULL });
	qd_set = true;
}

void svc_cluster_qdevice_sync(const struct cluster_def *d, bool before)
{
	if (!svc_cluster_dir())
		return;
	__do_free char *db = qd_path("nssdb");
	pthread_mutex_lock(&qd_lock);
	qd_setup();
	bool want = d && d->witness.set;
	if (!want && before) {
		/* stop it before corosync loses the device section under it */
		sdaemon_want(&qdevice, false);
		sdaemon_stop(&qdevice);
	} else if (!want) {
		sdaemon_want(&qdevice, false);
		sdaemon_stop(&qdevice);
		nssdb_remove(db);
		__do_free char *dir = qd_path("");
		dir[strlen(dir) - 1] = '\0';
		static const char *const files[] = { "qdevice.lock", "qdevice.sock", "qdevice.out", "qdevice.pid" };
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			__do_free char *p = qd_path(files[i]);
			unlink(p);
		}
		rmdir(dir);
	} else if (!before) {
		struct buf err __do_buf = BUF_INIT;
		struct proc_identity id;
		if (!nssdb_exists(db)) {
			log_msg(LOG_LVL_ERROR, 0, "cluster %s has a witness, but this node has no qdevice certificate (%s): "
						  "corral cluster witness remove, then add it again",
				d->name, db);
		} else if (sdaemon_running(&qdevice, &id)) {
			sdaemon_want(&qdevice, true);
		} else {
			if (sdaemon_start(&qdevice, &err) < 0)
				log_warn("cluster %s: %s (the supervisor tries again)", d->name, err.s);
			sdaemon_want(&qdevice, true);
		}
	}
	pthread_mutex_unlock(&qd_lock);
}

/* ---- the status ---- */

/* corosync-qdevice-tool -s: the "State:" line's value, or NULL. */
static char *qdevice_state(void)
{
	__do_free char *sock = qd_path("qdevice.sock");
	struct buf out __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	cmd_add(&c, "corosync-qdevice-tool");
	cmd_add(&c, "-s");
	cmd_add(&c, "-p");
	cmd_add(&c, sock);
	int r = cmd_run(&c, &out, NULL);
	cmd_release(&c);
	const char *p = r == 0 && out.s ? strstr(out.s, "State:") : NULL;
	if (!p)
		return NULL;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = strcspn(p, "\n");
	return n ? xasprintf("%.*s", (int)(n < 64 ? n : 64), p) : NULL;
}

json_t *svc_cluster_witness_status(const struct cluster_def *d, const struct membership_votes *votes, bool have_votes)
{
	if (!d->witness.set)
		return json_null();
	struct proc_identity id;
	pthread_mutex_lock(&qd_lock);
	qd_setup();
	bool running = sdaemon_running(&qdevice, &id);
	pthread_mutex_unlock(&qd_lock);
	__do_free char *state = running ? qdevice_state() : NULL;
	json_t *w = json_pack("{s:s,s:I,s:s?,s:{s:b,s:o,s:s?}}", "addr", d->witness.addr, "port",
			      (json_int_t)d->witness.port, "heuristics_ping", d->witness.ping[0] ? d->witness.ping : NULL,
			      "qdevice", "running", running, "pid", running ? json_integer(id.pid) : json_null(), "state",
			      state);
	/* connected: qdevice holds a connection to qnetd ("Connected" in its
	 * own status); the vote: whether the device casts it for this node's
	 * partition now (votequorum) */
	json_object_set_new(w, "connected", json_boolean(state && strcmp(state, "Connected") == 0));
	if (have_votes) {
		json_object_set_new(w, "registered", json_boolean(votes->flags & VOTEQUORUM_INFO_QDEVICE_REGISTERED));
		json_object_set_new(w, "alive", json_boolean(votes->flags & VOTEQUORUM_INFO_QDEVICE_ALIVE));
		json_object_set_new(w, "casts_vote", json_boolean(votes->flags & VOTEQUORUM_INFO_QDEVICE_CAST_VOTE));
		json_object_set_new(w, "votes", json_integer(votes->qdevice_votes));
		json_object_set_new(w, "name", json_string(votes->qdevice_name));
	}
	return w;
}

unsigned svc_cluster_qdevice_timeout_ms(void)
{
	struct cluster_def d;
	if (!svc_cluster_def_get(&d, NULL) || !d.witness.set)
		return 0;
	return cluster_qdevice_timeout(d.token_ms);
}

void svc_cluster_qdevice_forget(void)
{
	pthread_mutex_lock(&qd_lock);
	if (qd_set) {
		sdaemon_want(&qdevice, false);
		sdaemon_release(&qdevice);
		qd_set = false;
	}
	pthread_mutex_unlock(&qd_lock);
}

/* ---- add and remove ---- */

/* The witness's answer {ca, cert, port} for this host's request. */
static int sign_here(struct peer *w, const char *cluster, json_t **reply, struct buf *err)
{
	struct buf csr __do_buf = BUF_INIT;
	__do_free char *db = qd_path("nssdb");
	__do_free char *dir = qd_path("");
	int r;
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if ((r = nssdb_client_init(db, cluster, &csr, err)) < 0)
		return r;
	__do_json json_t *ask = json_pack("{s:s,s:s}", "cluster", cluster, "csr", csr.s);
	if ((r = peer_call(w, "POST", "/v1/witness/peer/sign", ask, reply, NULL, err)) < 0)
		return r;
	return nssdb_client_finish(db, json_string_value(json_object_get(*reply, "ca")),
				   json_string_value(json_object_get(*reply, "cert")), err);
}

/* The other node's certificate: its request (peer qdevice-request), signed by w, sent back. */
static int sign_there(struct peer *node, struct peer *w, const char *cluster, struct buf *err)
{
	__do_json json_t *ask = json_pack("{s:s}", "cluster", cluster), *req = NULL, *signed_ = NULL;
	int r;
	if ((r = peer_call(node, "POST", "/v1/cluster/peer/qdevice-request", ask, &req, NULL, err)) < 0)
		return r;
	const char *csr = json_string_value(json_object_get(req, "csr"));
	if (!csr) {
		buf_printf(err, "%s sent no certificate request", peer_name(node));
		return -EPROTO;
	}
	__do_json json_t *sign = json_pack("{s:s,s:s}", "cluster", cluster, "csr", csr);
	if ((r = peer_call(w, "POST", "/v1/witness/peer/sign", sign, &signed_, NULL, err)) < 0)
		return r;
	__do_json json_t *give = json_pack("{s:s,s:O,s:O}", "cluster", cluster, "ca", json_object_get(signed_, "ca"),
					   "cert", json_object_get(signed_, "cert"));
	return peer_call(node, "POST", "/v1/cluster/peer/qdevice-cert", give, NULL, NULL, err);
}

static int add_locked(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "host", "address", "heuristics_ping", NULL };
	const char *host = NULL, *address = NULL, *ping = NULL;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct cluster_def d, nd;
	struct peer *w = NULL, *other = NULL;
	__do_json json_t *reply = NULL;
	int r;

	if (json_check_keys(body, "cluster witness", keys, err) < 0 || json_get_str(body, "host", &host, err) < 0 ||
	    json_get_str(body, "address", &address, err) < 0 || json_get_str(body, "heuristics_ping", &ping, err) < 0)
		return -EINVAL;
	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if (!host) {
		buf_adds(err, "'host' (the witness: a trusted host running corral witness init, by name or URL) is required");
		return -EINVAL;
	}
	nd = d;
	nd.witness = (struct cluster_witness){ .set = true, .port = CLUSTER_WITNESS_PORT };
	snprintf(nd.witness.addr, sizeof(nd.witness.addr), "192.0.2.1"); /* checked below with the real one */
	if (address && cluster_addr_check(address, nd.witness.addr, err) < 0)
		return -EINVAL;
	if (ping && cluster_addr_check(ping, nd.witness.ping, err) < 0)
		return -EINVAL;
	if (d.witness.set) {
		buf_printf(err, "cluster %s already has a witness (%s): corral cluster witness remove first", d.name,
			   d.witness.addr);
		return -EEXIST;
	}
	if (d.nnodes != 2) {
		buf_printf(err, "cluster %s has %u node(s): a witness is for a pool of exactly two (votequorum(5): with "
				"two nodes quorum is 2 of 2, so either host alone stops; a witness adds the third vote; with "
				"an odd number of nodes a majority exists without one, and the ffsplit algorithm gives its "
				"one vote only to an even split, corosync-qdevice(8))",
			   d.name, d.nnodes);
		return -EINVAL;
	}
	if ((r = cluster_def_check(&nd, err)) < 0)
		return r;
	if (strpbrk(svc_cluster_dir(), ",= \t\n")) {
		buf_printf(err, "the state directory %s holds a ',', '=' or blank, which corosync-qdevice's -S cannot take",
			   svc_cluster_dir());
		return -EINVAL;
	}
	if ((r = svc_cluster_need_quorum(&d, err)) < 0)
		return r;
	const struct cluster_node *peer_node = strcmp(d.nodes[0].name, me) == 0 ? &d.nodes[1] : &d.nodes[0];
	if ((r = svc_cluster_host_open(host, &w, err)) < 0)
		return r;
	if (strcmp(peer_name(w), peer_node->name) == 0 || strcmp(peer_name(w), me) == 0) {
		buf_printf(err, "%s is a node of cluster %s: the witness is a third machine", peer_name(w), d.name);
		peer_close(w);
		return -EINVAL;
	}
	peer_set_timeout(w, CALL_CONNECT_MS, CALL_TOTAL_MS);
	if ((r = peer_open(peer_node->name, &other, err)) < 0) {
		peer_close(w);
		return r;
	}
	peer_set_timeout(other, CALL_CONNECT_MS, CALL_TOTAL_MS);
	r = sign_here(w, d.name, &reply, err);
	if (r == 0)
		r = sign_there(other, w, d.name, err);
	if (r == 0 && !address) {
		struct buf e __do_buf = BUF_INIT;
		const char *a = peer_address(w);
		if (a && strncmp(a, "::ffff:", 7) == 0 && strchr(a + 7, '.'))
			a += 7;
		if (cluster_addr_check(a, nd.witness.addr, &e) < 0) {
			buf_printf(err, "the witness %s has no IP address to give corosync-qdevice (%s): give one with "
					"--address",
				   peer_name(w), e.s);
			r = -EINVAL;
		}
	}
	json_int_t port = json_integer_value(json_object_get(reply, "port"));
	nd.witness.port = port >= 1 && port <= 65535 ? (unsigned)port : CLUSTER_WITNESS_PORT;
	__do_free char *wname = xstrdup(peer_name(w));
	if (r == 0 && (r = cluster_def_check(&nd, err)) == 0) {
		nd.config_version++;
		r = svc_cluster_def_apply(&nd, me, true, err);
	}
	if (r < 0) { /* undo: the certificates here and there */
		__do_free char *db = qd_path("nssdb");
		nssdb_remove(db);
		struct buf why __do_buf = BUF_INIT;
		__do_json json_t *drop = json_pack("{s:s,s:b}", "cluster", d.name, "drop", 1);
		peer_call(other, "POST", "/v1/cluster/peer/qdevice-cert", drop, NULL, NULL, &why);
		peer_close(w);
		peer_close(other);
		return r;
	}
	peer_close(w);
	peer_close(other);
	json_t *nu = svc_cluster_tell_members(&nd, me, NULL);
	svc_cluster_event("cluster %s: witness %s (%s port %u%s%s) added (config_version %u)", nd.name, wname,
			  nd.witness.addr, nd.witness.port, nd.witness.ping[0] ? ", heuristics ping " : "",
			  nd.witness.ping, nd.config_version);
	*out = svc_cluster_status();
	json_object_set_new(*out, "not_updated", nu);
	return 0;
}

int svc_cluster_witness_add(const json_t *body, json_t **out, struct buf *err)
{
	svc_cluster_op_lock();
	int r = add_locked(body, out, err);
	svc_cluster_op_unlock();
	return r;
}

static int remove_locked(json_t **out, struct buf *err)
{
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct cluster_def d;
	int r;
	if (!svc_cluster_def_get(&d, me))
		return svc_cluster_not_in(err);
	if (!d.witness.set) {
		buf_printf(err, "cluster %s has no witness", d.name);
		return -ENOENT;
	}
	if ((r = svc_cluster_need_quorum(&d, err)) < 0)
		return r;
	char addr[CLUSTER_ADDR_MAX];
	snprintf(addr, sizeof(addr), "%s", d.witness.addr);
	memset(&d.witness, 0, sizeof(d.witness));
	d.config_version++;
	if ((r = svc_cluster_def_apply(&d, me, true, err)) < 0)
		return r;
	json_t *nu = svc_cluster_tell_members(&d, me, NULL);
	svc_cluster_event("cluster %s: witness %s removed (config_version %u)", d.name, addr, d.config_version);
	*out = json_pack("{s:s,s:o}", "removed", addr, "not_updated", nu);
	return 0;
}

int svc_cluster_witness_remove(json_t **out, struct buf *err)
{
	svc_cluster_op_lock();
	int r = remove_locked(out, err);
	svc_cluster_op_unlock();
	return r;
}

/* ---- the peer side: the other node asks for this node's request, then hands the certificate ---- */

static int peer_check(const char *caller, const json_t *body, const char *const *keys, struct cluster_def *d,
		      struct buf *err)
{
	const char *cluster = NULL;
	if (!svc_cluster_def_get(d, NULL))
		return svc_cluster_not_in(err);
	if (json_check_keys(body, "cluster qdevice", keys, err) < 0 || json_get_str(body, "cluster", &cluster, err) < 0)
		return -EINVAL;
	if (!cluster || strcmp(cluster, d->name) != 0 || !cluster_def_node(d, caller)) {
		buf_printf(err, "%s is not a node of this host's cluster %s", caller, d->name);
		return -EACCES;
	}
	return 0;
}

int svc_cluster_peer_qdevice_request(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "cluster", NULL };
	struct cluster_def d;
	struct buf csr __do_buf = BUF_INIT;
	__do_free char *dir = qd_path("");
	__do_free char *db = qd_path("nssdb");
	int r;
	if ((r = peer_check(caller, body, keys, &d, err)) < 0)
		return r;
	if (d.witness.set) {
		buf_printf(err, "cluster %s already has a witness here", d.name);
		return -EEXIST;
	}
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	pthread_mutex_lock(&qd_lock);
	r = nssdb_client_init(db, d.name, &csr, err);
	pthread_mutex_unlock(&qd_lock);
	if (r < 0)
		return r;
	*out = json_pack("{s:s}", "csr", csr.s);
	return 0;
}

int svc_cluster_peer_qdevice_cert(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "cluster", "ca", "cert", "drop", NULL };
	struct cluster_def d;
	const char *ca = NULL, *crt = NULL;
	bool drop = false;
	__do_free char *db = qd_path("nssdb");
	int r;
	if ((r = peer_check(caller, body, keys, &d, err)) < 0)
		return r;
	if (json_get_str(body, "ca", &ca, err) < 0 || json_get_str(body, "cert", &crt, err) < 0 ||
	    json_get_bool(body, "drop", &drop, err) < 0)
		return -EINVAL;
	if (drop) { /* the adding node undoes a failed add */
		if (!d.witness.set)
			nssdb_remove(db);
		*out = json_pack("{s:b}", "dropped", !d.witness.set);
		return 0;
	}
	pthread_mutex_lock(&qd_lock);
	r = nssdb_client_finish(db, ca, crt, err);
	pthread_mutex_unlock(&qd_lock);
	if (r < 0)
		return r;
	svc_cluster_event("cluster %s: qdevice certificate signed by the witness installed (through node %s)", d.name,
			  caller);
	*out = json_pack("{s:b}", "installed", 1);
	return 0;
}
