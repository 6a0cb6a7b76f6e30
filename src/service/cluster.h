/*
 * cluster.h - this host's pool of hosts on Corosync: create, join, leave,
 * remove a node, status (cluster.c; docs/cluster.md).
 *
 * A pool is a corosync cluster whose corosync.conf corrald writes from the
 * cluster definition it keeps in its state database (cluster/conf.h), and
 * whose corosync it starts and supervises (cluster/corosync.h); the pool
 * thread (cluster/membership.h) follows membership and quorum.
 *
 * Changing the membership goes through trusted hosts (trust.h, peer.h):
 *   join   host C asks a member A (POST /v1/cluster/peer/join, as a trusted
 *          host); A adds C to the node list (next node id, config_version
 *          + 1), writes and reloads its own corosync.conf, sends the new
 *          definition to every other member it trusts (PUT
 *          /v1/cluster/peer/config; each writes and reloads), and answers C
 *          with the definition and the key; C writes both and starts
 *          corosync.
 *   leave  C asks a member (POST /v1/cluster/peer/leave) to remove it, the
 *          member updates the others as above, then C stops corosync and
 *          removes its files and row.
 *   node remove  a member removes a node that is down, and updates the
 *          others.
 * Adding or removing needs quorum on the member that does it.  A member
 * that cannot be told (not trusted, unreachable) is listed in the answer
 * ("not_updated"); it catches up at the next change it is told of.
 *
 * Threading: any thread; membership changes are serialised by one mutex
 * (cluster_change.c); the definition is kept by cluster.c.
 * Errors: see service.h; -EAGAIN when quorum is needed and missing.
 */
#ifndef CORRAL_SERVICE_CLUSTER_H
#define CORRAL_SERVICE_CLUSTER_H

#include <jansson.h>

#include "service/service.h"

/* At corrald start (svc_init): the pool thread; corosync started, or re-adopted when it runs. */
int svc_cluster_init(struct buf *err);
void svc_cluster_shutdown(void);

/* {name, links: [ADDR...], token_ms}: this host becomes node 1 of a new cluster.  *out: the status. */
int svc_cluster_create(const json_t *body, json_t **out, struct buf *err);
/* {host: NAME | URL, links: [ADDR...]}: join the cluster of a trusted host.  *out: the status. */
int svc_cluster_join(const json_t *body, json_t **out, struct buf *err);
/* Leave the cluster: *out = {"left", "told"}. */
int svc_cluster_leave(json_t **out, struct buf *err);
/* Remove a node that is down: *out = {"removed", "not_updated"}.  force: also
 * without quorum (a node gone for good took the majority with it). */
int svc_cluster_node_remove(const char *name, bool force, json_t **out, struct buf *err);
/* {discard_local: true}: forget this host's replicated configuration
 * history and take the pool's at the next sync round (cluster_store.c). */
int svc_cluster_resync(const json_t *body, json_t **out, struct buf *err);
/*
 * The witness of a two-node pool (cluster_witness.c; docs/cluster.md "Two
 * nodes"): {host: trusted host NAME | URL running `corral witness init`,
 * address: its IP for corosync-qdevice (default: the address its API was
 * reached at), heuristics_ping: IP}.  Needs quorum, exactly two nodes,
 * both reachable; every node gets its own certificate signed by the
 * witness's CA.  *out: the status.  Remove: *out = {"removed", "not_updated"}.
 */
int svc_cluster_witness_add(const json_t *body, json_t **out, struct buf *err);
int svc_cluster_witness_remove(json_t **out, struct buf *err);
/*
 * With a witness, how long (ms) a node cut off from everything may still
 * count the device's vote after its ring changed (qdevice's timeout, the
 * window docs/cluster.md "Two nodes" measures); 0 without a witness.  For
 * fencing deadlines (L, W in docs/ha.md).  Any thread.
 */
unsigned svc_cluster_qdevice_timeout_ms(void);

/* GET /v1/cluster (docs/api.md "Cluster"). */
json_t *svc_cluster_status(void);

/* The peer side: `caller` is the trusted host calling (its name here), peer_addr its address. */
int svc_cluster_peer_join(const char *caller, const char *peer_addr, const json_t *body, json_t **out,
			  struct buf *err);
int svc_cluster_peer_leave(const char *caller, json_t **out, struct buf *err);
int svc_cluster_peer_config(const char *caller, const json_t *body, json_t **out, struct buf *err);
/* {cluster}: make this node's qdevice key and request: *out = {csr}. */
int svc_cluster_peer_qdevice_request(const char *caller, const json_t *body, json_t **out, struct buf *err);
/* {cluster, ca, cert} (or {cluster, drop: true}): install (or drop) this node's qdevice certificate. */
int svc_cluster_peer_qdevice_cert(const char *caller, const json_t *body, json_t **out, struct buf *err);

#endif
