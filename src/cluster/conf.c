/*
 * conf.c - checking a pool's membership definition, its JSON form, and the
 * corosync.conf text derived from it (see conf.h).  Pure functions: the
 * files are written by corosync.c, the definition is kept by the service.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "util/jsonutil.h"
#include "util/common.h"

static bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

int cluster_name_check(const char *name, struct buf *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= CLUSTER_NAME_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = is_alnum(name[i]) || name[i] == '_' || name[i] == '-';
	if (ok)
		return 0;
	buf_printf(err, "a cluster name is 1-%d of A-Z, a-z, 0-9, '_' and '-'", CLUSTER_NAME_MAX);
	return -EINVAL;
}

int cluster_node_name_check(const char *name, struct buf *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= CLUSTER_NODE_NAME_MAX && is_alnum(name[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = is_alnum(name[i]) || name[i] == '_' || name[i] == '-' || name[i] == '.';
	if (ok)
		return 0;
	buf_printf(err, "a node name is 1-%d of A-Z, a-z, 0-9, '.', '_' and '-', starting with a letter or digit",
		   CLUSTER_NODE_NAME_MAX);
	return -EINVAL;
}

int cluster_addr_check(const char *addr, char *out, struct buf *err)
{
	unsigned char bin[16];
	if (addr && strlen(addr) < CLUSTER_ADDR_MAX) {
		if (inet_pton(AF_INET, addr, bin) == 1 && inet_ntop(AF_INET, bin, out, CLUSTER_ADDR_MAX))
			return 0;
		if (inet_pton(AF_INET6, addr, bin) == 1 && inet_ntop(AF_INET6, bin, out, CLUSTER_ADDR_MAX))
			return 0;
	}
	buf_printf(err, "a link address is an IPv4 or IPv6 address (no host name), not '%.64s'", addr ? addr : "");
	return -EINVAL;
}

static int witness_check(const struct cluster_def *d, struct buf *err)
{
	const struct cluster_witness *w = &d->witness;
	char canon[CLUSTER_ADDR_MAX];
	if (!w->set)
		return 0;
	if (d->nnodes != 2) {
		buf_printf(err, "a witness is for a pool of two nodes (this one has %u): with an odd number of nodes "
				"it adds nothing, and ffsplit gives its one vote only to an even split (corosync-qdevice(8))",
			   d->nnodes);
		return -EINVAL;
	}
	struct buf e = BUF_INIT;
	int r = cluster_addr_check(w->addr, canon, &e);
	buf_release(&e);
	if (r < 0 || strcmp(canon, w->addr) != 0) {
		buf_printf(err, "the witness address is an IPv4 or IPv6 address written canonically, not '%.64s'", w->addr);
		return -EINVAL;
	}
	if (w->port < 1 || w->port > 65535) {
		buf_adds(err, "the witness port is 1 to 65535");
		return -EINVAL;
	}
	if (w->ping[0]) {
		e = (struct buf)BUF_INIT;
		r = cluster_addr_check(w->ping, canon, &e);
		buf_release(&e);
		if (r < 0 || strcmp(canon, w->ping) != 0) {
			buf_printf(err, "the heuristics ping address is an IPv4 or IPv6 address written canonically, not "
					"'%.64s'", w->ping);
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < d->nnodes; i++)
		for (unsigned l = 0; l < d->nlinks; l++)
			if (strcmp(d->nodes[i].addr[l], w->addr) == 0) {
				buf_printf(err, "the witness %s is node %s's own address: a witness is a third machine",
					   w->addr, d->nodes[i].name);
				return -EINVAL;
			}
	return 0;
}

int cluster_def_check(const struct cluster_def *d, struct buf *err)
{
	int r;
	if ((r = cluster_name_check(d->name, err)) < 0)
		return r;
	if (d->token_ms < CLUSTER_TOKEN_MIN || d->token_ms > CLUSTER_TOKEN_MAX) {
		buf_printf(err, "the token timeout is %d to %d ms", CLUSTER_TOKEN_MIN, CLUSTER_TOKEN_MAX);
		return -EINVAL;
	}
	if (d->nnodes < 1 || d->nnodes > CLUSTER_MAX_NODES) {
		buf_printf(err, "a cluster has 1 to %d nodes", CLUSTER_MAX_NODES);
		return -EINVAL;
	}
	if (d->nlinks < 1 || d->nlinks > CLUSTER_MAX_LINKS) {
		buf_printf(err, "a node has 1 to %d link addresses", CLUSTER_MAX_LINKS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < d->nnodes; i++) {
		const struct cluster_node *a = &d->nodes[i];
		char canon[CLUSTER_ADDR_MAX];
		if ((r = cluster_node_name_check(a->name, err)) < 0)
			return r;
		if (a->id < 1 || a->id > 0x7fffffffu) {
			buf_printf(err, "node %s: a node id is 1 to 2147483647", a->name);
			return -EINVAL;
		}
		for (unsigned l = 0; l < d->nlinks; l++) {
			if ((r = cluster_addr_check(a->addr[l], canon, err)) < 0)
				return r;
			if (strcmp(canon, a->addr[l]) != 0) {
				buf_printf(err, "node %s: write the address %s as %s", a->name, a->addr[l], canon);
				return -EINVAL;
			}
		}
		for (unsigned l = d->nlinks; l < CLUSTER_MAX_LINKS; l++)
			if (a->addr[l][0]) {
				buf_printf(err, "node %s has more link addresses than the cluster's %u", a->name, d->nlinks);
				return -EINVAL;
			}
		for (unsigned j = 0; j < i; j++) {
			const struct cluster_node *b = &d->nodes[j];
			for (unsigned l = 0; l < d->nlinks; l++)
				if (!strchr(a->addr[l], ':') != !strchr(b->addr[l], ':')) {
					buf_printf(err, "link %u: nodes %s and %s mix IPv4 and IPv6 (one family per link)",
						   l, b->name, a->name);
					return -EINVAL;
				}
			if (strcmp(a->name, b->name) == 0 || a->id == b->id) {
				buf_printf(err, "node %s (id %u) and node %s (id %u): names and ids are unique", b->name,
					   b->id, a->name, a->id);
				return -EEXIST;
			}
			for (unsigned l = 0; l < d->nlinks; l++)
				for (unsigned m = 0; m < d->nlinks; m++)
					if (strcmp(a->addr[l], b->addr[m]) == 0) {
						buf_printf(err, "nodes %s and %s both have the address %s", b->name,
							   a->name, a->addr[l]);
						return -EEXIST;
					}
		}
		for (unsigned l = 0; l < d->nlinks; l++)
			for (unsigned m = 0; m < l; m++)
				if (strcmp(a->addr[l], a->addr[m]) == 0) {
					buf_printf(err, "node %s has the address %s on two links", a->name, a->addr[l]);
					return -EINVAL;
				}
	}
	return witness_check(d, err);
}

const struct cluster_node *cluster_def_node(const struct cluster_def *d, const char *name)
{
	for (unsigned i = 0; name && i < d->nnodes; i++)
		if (strcmp(d->nodes[i].name, name) == 0)
			return &d->nodes[i];
	return NULL;
}

const struct cluster_node *cluster_def_node_id(const struct cluster_def *d, uint32_t id)
{
	for (unsigned i = 0; i < d->nnodes; i++)
		if (d->nodes[i].id == id)
			return &d->nodes[i];
	return NULL;
}

uint32_t cluster_def_next_id(const struct cluster_def *d)
{
	uint32_t max = 0;
	for (unsigned i = 0; i < d->nnodes; i++)
		if (d->nodes[i].id > max)
			max = d->nodes[i].id;
	return max + 1;
}

int cluster_def_remove(struct cluster_def *d, const char *name)
{
	for (unsigned i = 0; i < d->nnodes; i++)
		if (strcmp(d->nodes[i].name, name) == 0) {
			memmove(&d->nodes[i], &d->nodes[i + 1], (d->nnodes - i - 1) * sizeof(d->nodes[0]));
			d->nnodes--;
			memset(&d->nodes[d->nnodes], 0, sizeof(d->nodes[0]));
			return 0;
		}
	return -ENOENT;
}

json_t *cluster_def_to_json(const struct cluster_def *d)
{
	json_t *nodes = json_array();
	for (unsigned i = 0; i < d->nnodes; i++) {
		json_t *addrs = json_array();
		for (unsigned l = 0; l < d->nlinks; l++)
			json_array_append_new(addrs, json_string(d->nodes[i].addr[l]));
		json_array_append_new(nodes, json_pack("{s:I,s:s,s:o}", "id", (json_int_t)d->nodes[i].id, "name",
						       d->nodes[i].name, "addrs", addrs));
	}
	json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:o}", "name", d->name, "config_version", (json_int_t)d->config_version,
			      "token_ms", (json_int_t)d->token_ms, "links", (json_int_t)d->nlinks, "nodes", nodes);
	if (d->witness.set) {
		json_t *w = json_pack("{s:s,s:I}", "addr", d->witness.addr, "port", (json_int_t)d->witness.port);
		if (d->witness.ping[0])
			json_object_set_new(w, "ping", json_string(d->witness.ping));
		json_object_set_new(j, "witness", w);
	}
	return j;
}

static int witness_from_json(const json_t *w, struct cluster_witness *out, struct buf *err)
{
	static const char *const keys[] = { "addr", "port", "ping", NULL };
	const char *addr = NULL, *ping = NULL;
	int64_t port = CLUSTER_WITNESS_PORT;
	if (!w || json_is_null(w))
		return 0;
	if (json_check_keys(w, "cluster witness", keys, err) < 0 || json_get_str(w, "addr", &addr, err) < 0 ||
	    json_get_str(w, "ping", &ping, err) < 0 || json_get_int(w, "port", 1, 65535, &port, err) < 0)
		return -EINVAL;
	if (!addr || strlen(addr) >= CLUSTER_ADDR_MAX || (ping && strlen(ping) >= CLUSTER_ADDR_MAX)) {
		buf_adds(err, "cluster witness: 'addr' (an IP address) is required");
		return -EINVAL;
	}
	out->set = true;
	memcpy(out->addr, addr, strlen(addr) + 1);
	out->port = (unsigned)port;
	if (ping)
		memcpy(out->ping, ping, strlen(ping) + 1);
	return 0;
}

/* A string member copied into out (size len), required. */
static int get_copy(const json_t *o, const char *key, const char *what, char *out, size_t len, struct buf *err)
{
	const char *s = NULL;
	int r = json_get_str(o, key, &s, err);
	if (r < 0)
		return -EINVAL;
	if (r == 0 || strlen(s) >= len) {
		buf_printf(err, "%s: '%s' is %s", what, key, r == 0 ? "required" : "too long");
		return -EINVAL;
	}
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int cluster_def_from_json(const json_t *j, struct cluster_def *out, struct buf *err)
{
	static const char *const keys[] = { "name", "config_version", "token_ms", "links", "nodes", "witness", NULL };
	static const char *const node_keys[] = { "id", "name", "addrs", NULL };
	int64_t v;
	json_t *nodes, *n;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (json_check_keys(j, "cluster", keys, err) < 0 ||
	    get_copy(j, "name", "cluster", out->name, sizeof(out->name), err) < 0)
		return -EINVAL;
	if (json_get_int(j, "config_version", 1, UINT32_MAX, &v, err) != 1)
		goto missing;
	out->config_version = (uint32_t)v;
	if (json_get_int(j, "token_ms", CLUSTER_TOKEN_MIN, CLUSTER_TOKEN_MAX, &v, err) != 1)
		goto missing;
	out->token_ms = (uint32_t)v;
	if (json_get_int(j, "links", 1, CLUSTER_MAX_LINKS, &v, err) != 1)
		goto missing;
	out->nlinks = (unsigned)v;
	nodes = json_object_get(j, "nodes");
	if (!json_is_array(nodes) || json_array_size(nodes) < 1 || json_array_size(nodes) > CLUSTER_MAX_NODES) {
		buf_printf(err, "cluster: 'nodes' is an array of 1 to %d nodes", CLUSTER_MAX_NODES);
		return -EINVAL;
	}
	json_array_foreach(nodes, i, n) {
		struct cluster_node *node = &out->nodes[i];
		json_t *addrs = json_object_get(n, "addrs"), *a;
		size_t k;
		if (json_check_keys(n, "cluster node", node_keys, err) < 0 ||
		    get_copy(n, "name", "cluster node", node->name, sizeof(node->name), err) < 0)
			return -EINVAL;
		if (json_get_int(n, "id", 1, 0x7fffffff, &v, err) != 1)
			goto missing;
		node->id = (uint32_t)v;
		if (!json_is_array(addrs) || json_array_size(addrs) != out->nlinks) {
			buf_printf(err, "node %s: 'addrs' is an array of the cluster's %u link addresses", node->name,
				   out->nlinks);
			return -EINVAL;
		}
		json_array_foreach(addrs, k, a) {
			const char *s = json_string_value(a);
			if (!s || strlen(s) >= CLUSTER_ADDR_MAX) {
				buf_printf(err, "node %s: a link address is a string", node->name);
				return -EINVAL;
			}
			memcpy(node->addr[k], s, strlen(s) + 1);
		}
		out->nnodes++;
	}
	if (witness_from_json(json_object_get(j, "witness"), &out->witness, err) < 0)
		return -EINVAL;
	return cluster_def_check(out, err);
missing:
	if (!err->len)
		buf_adds(err, "cluster: 'config_version', 'token_ms', 'links' and every node's 'id' are required");
	return -EINVAL;
}

static int dir_check(const char *dir, struct buf *err)
{
	size_t n = dir ? strlen(dir) : 0;
	bool ok = n > 1 && dir[0] == '/' && dir[n - 1] != ' ' && dir[n - 1] != '\t';
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)dir[i] >= 0x20 && dir[i] != 0x7f && dir[i] != '{' && dir[i] != '}' && dir[i] != '#';
	if (ok)
		return 0;
	buf_printf(err, "the directory for corosync's files must be absolute, without control characters, braces "
			"or '#' (corosync.conf cannot quote them)");
	return -EINVAL;
}

unsigned cluster_qdevice_timeout(unsigned token_ms) { return token_ms * 3 > 3000 ? token_ms * 3 : 3000; }
unsigned cluster_qdevice_sync_timeout(unsigned token_ms) { return 2 * cluster_qdevice_timeout(token_ms); }

/*
 * quorum.device: ffsplit gives its one vote to one half of an even split
 * (the larger, else the better heuristics score, else the partition that
 * was quorate, else the lowest node id).  The timeouts follow the token
 * (qdevice's defaults, 10 and 30 s, hold a reforming ring that long); the
 * heuristics ping once, 1 s, at every membership change and every interval.
 */
static void witness_text(const struct cluster_def *d, struct buf *out)
{
	unsigned t = cluster_qdevice_timeout(d->token_ms), st = cluster_qdevice_sync_timeout(d->token_ms);
	buf_printf(out,
		   "  device {\n"
		   "    model: net\n"
		   "    votes: 1\n"
		   "    timeout: %u\n"
		   "    sync_timeout: %u\n"
		   "    net {\n"
		   "      host: %s\n"
		   "      port: %u\n"
		   "      algorithm: ffsplit\n"
		   "      tie_breaker: lowest\n"
		   "    }\n",
		   t, st, d->witness.addr, d->witness.port);
	if (d->witness.ping[0])
		buf_printf(out,
			   "    heuristics {\n"
			   "      mode: on\n"
			   "      timeout: 2000\n"
			   "      sync_timeout: 2000\n"
			   "      interval: %u\n"
			   "      exec_ping: /usr/bin/ping -q -n -c 1 -W 1 %s\n"
			   "    }\n",
			   2 * t, d->witness.ping);
	buf_adds(out, "  }\n");
}

int cluster_conf_text(const struct cluster_def *d, const char *dir, struct buf *out, struct buf *err)
{
	int r;
	if ((r = cluster_def_check(d, err)) < 0 || (r = dir_check(dir, err)) < 0)
		return r;
	buf_printf(out,
		   "# corosync.conf of cluster %s, written by corrald from its state database:\n"
		   "# changes made here are overwritten (docs/cluster.md).\n"
		   "totem {\n"
		   "  version: 2\n"
		   "  cluster_name: %s\n"
		   "  config_version: %u\n"
		   "  transport: knet\n"
		   "  token: %u\n"
		   "  crypto_cipher: aes256\n"
		   "  crypto_hash: sha256\n"
		   "  keyfile: %s/authkey\n",
		   d->name, d->name, d->config_version, d->token_ms, dir);
	/* With several links, knet must declare a dead link (and fail over to
	 * the next) well within the token, or a cut link costs a membership
	 * change: its default (timeout token / 2) was measured too slow here. */
	for (unsigned l = 0; l < d->nlinks; l++) {
		buf_printf(out, "  interface {\n    linknumber: %u\n", l);
		if (d->nlinks > 1)
			buf_printf(out, "    knet_ping_interval: %u\n    knet_ping_timeout: %u\n", d->token_ms / 8,
				   d->token_ms / 4);
		buf_adds(out, "  }\n");
	}
	buf_printf(out,
		   "}\n"
		   "system {\n"
		   "  state_dir: %s/lib\n"
		   "}\n"
		   "logging {\n"
		   "  to_stderr: no\n"
		   "  to_syslog: no\n"
		   "  to_logfile: yes\n"
		   "  logfile: %s/corosync.log\n"
		   "  timestamp: hires\n"
		   "}\n"
		   "nodelist {\n",
		   dir, dir);
	for (unsigned i = 0; i < d->nnodes; i++) {
		buf_printf(out, "  node {\n    nodeid: %u\n    name: %s\n", d->nodes[i].id, d->nodes[i].name);
		for (unsigned l = 0; l < d->nlinks; l++)
			buf_printf(out, "    ring%u_addr: %s\n", l, d->nodes[i].addr[l]);
		buf_adds(out, "  }\n");
	}
	buf_adds(out, "}\n"
		      "quorum {\n"
		      "  provider: corosync_votequorum\n");
	if (d->witness.set)
		witness_text(d, out);
	buf_adds(out, "}\n");
	return 0;
}
