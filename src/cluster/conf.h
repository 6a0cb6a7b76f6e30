/*
 * conf.h - a pool's membership definition and the corosync.conf made from it
 * (conf.c; docs/cluster.md).
 *
 * A struct cluster_def is what corrald knows of its pool: the cluster name,
 * a config_version bumped by every node added or removed, the totem token,
 * and the node list (node id, host name, one address per knet link).  It
 * travels between hosts as JSON (cluster_def_to_json/_from_json) and is
 * kept in the state database; corosync.conf is only ever derived from it
 * (cluster_conf_text), never parsed back.
 *
 * Names reach corosync.conf, whose parser takes a value up to the end of
 * the line and knows no quoting, so nothing that could end a line or a
 * section gets in: a cluster name is 1-32 of [A-Za-z0-9_-]; a node name
 * (a host name, as trusted hosts know it) 1-64 of [A-Za-z0-9._-] starting
 * with a letter or digit; an address is an IPv4 or IPv6 literal (no names:
 * corosync would resolve them through DNS at every start); the directory
 * holds no control character, brace, '#' or leading/trailing blank.
 *
 * Errors: 0 or -EINVAL with one sentence appended to err.  No global state;
 * any thread.
 */
#ifndef CORRAL_CLUSTER_CONF_H
#define CORRAL_CLUSTER_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define CLUSTER_NAME_MAX 32
#define CLUSTER_NODE_NAME_MAX 64
#define CLUSTER_MAX_NODES 32   /* corral's limit; corosync's knet allows more */
#define CLUSTER_MAX_LINKS 8    /* knet links per node (corosync's CFG_MAX_LINKS) */
#define CLUSTER_ADDR_MAX 46    /* INET6_ADDRSTRLEN */

/* The totem token (ms): the default, and the bounds an administrator may set. */
#define CLUSTER_TOKEN_DEFAULT 3000
#define CLUSTER_TOKEN_MIN 500
#define CLUSTER_TOKEN_MAX 60000

struct cluster_node {
	uint32_t id;                                   /* corosync nodeid, >= 1 */
	char name[CLUSTER_NODE_NAME_MAX + 1];
	char addr[CLUSTER_MAX_LINKS][CLUSTER_ADDR_MAX]; /* addr[i]: ringi_addr */
};

/*
 * The pool's witness (docs/cluster.md "Two nodes"): corosync-qnetd at
 * addr:port, asked by corosync-qdevice on each node (model net, ffsplit,
 * one vote, tie_breaker lowest).  ping: an address the heuristics ping
 * (the side that reaches it wins a tie; "" none).  Only in two-node pools.
 */
#define CLUSTER_WITNESS_PORT 5403
struct cluster_witness {
	bool set;
	char addr[CLUSTER_ADDR_MAX];
	unsigned port;
	char ping[CLUSTER_ADDR_MAX];
};

struct cluster_def {
	char name[CLUSTER_NAME_MAX + 1];
	uint32_t config_version;
	uint32_t token_ms;
	unsigned nlinks;                               /* every node has this many addresses */
	unsigned nnodes;
	struct cluster_node nodes[CLUSTER_MAX_NODES];
	struct cluster_witness witness;
};

int cluster_name_check(const char *name, struct buf *err);
int cluster_node_name_check(const char *name, struct buf *err);
/* An IPv4 or IPv6 literal; IPv6 is written back in its canonical form into out (>= CLUSTER_ADDR_MAX). */
int cluster_addr_check(const char *addr, char *out, struct buf *err);

/*
 * Everything a def must hold: a valid name, token in bounds, 1..2^31 node ids,
 * 1..CLUSTER_MAX_NODES nodes, 1..CLUSTER_MAX_LINKS links, every name, id and
 * address unique across the pool; a witness only with exactly two nodes, at
 * a canonical IP literal that is no node's, port 1-65535.
 */
int cluster_def_check(const struct cluster_def *d, struct buf *err);

/* The node named name, or by id; NULL if none. */
const struct cluster_node *cluster_def_node(const struct cluster_def *d, const char *name);
const struct cluster_node *cluster_def_node_id(const struct cluster_def *d, uint32_t id);
/* A free node id: one more than the highest. */
uint32_t cluster_def_next_id(const struct cluster_def *d);
/* Remove the node named name: 0, or -ENOENT. */
int cluster_def_remove(struct cluster_def *d, const char *name);

/* {"name","config_version","token_ms","links","nodes":[{"id","name","addrs":[...]}],
 *  "witness"?: {"addr","port","ping"?}} */
json_t *cluster_def_to_json(const struct cluster_def *d);
/* The reverse, refusing unknown members and anything cluster_def_check refuses. */
int cluster_def_from_json(const json_t *j, struct cluster_def *out, struct buf *err);

/*
 * The corosync.conf text for d, with its key, state and log files in dir
 * (dir/authkey, dir/lib, dir/corosync.log): knet with one interface per
 * link (with several, knet pings every token/8 and declares a link dead
 * after token/4, so it fails over before the token expires), aes256/sha256
 * with the key, votequorum without two_node (a two-node pool then needs
 * both hosts, docs/cluster.md says why); with a witness, a quorum.device
 * section for corosync-qdevice (model net, ffsplit, tie_breaker lowest,
 * timeouts from the token, heuristics pinging witness.ping if set).
 */
/* The qdevice timeouts (ms) written for token t: the device's timeout and sync_timeout. */
unsigned cluster_qdevice_timeout(unsigned token_ms);
unsigned cluster_qdevice_sync_timeout(unsigned token_ms);

int cluster_conf_text(const struct cluster_def *d, const char *dir, struct buf *out, struct buf *err);

#endif
