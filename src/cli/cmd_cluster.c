/*
 * cmd_cluster.c - `corral cluster create|join|status|leave|node remove|witness`:
 * this host's pool of hosts on Corosync (/v1/cluster; docs/cluster.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "util/cleanup.h"
#include "util/common.h"

static const char usage_create[] =
	"usage: corral cluster create NAME [--link ADDR]... [--token MS]\n"
	"\n"
	"Make this host the first node of a new cluster NAME (1-32 of A-Z, a-z,\n"
	"0-9, '_' and '-').  corrald writes corosync.conf (knet, encrypted with a\n"
	"new key it makes) into STATE/cluster and runs corosync itself, restarting\n"
	"it if it dies; corosync outlives corrald.  Other hosts then join with\n"
	"`corral cluster join`.  The host needs a host_name (corrald.conf).\n"
	"\n"
	"Options:\n"
	"  --link ADDR   this host's address on a knet link (IPv4 or IPv6), once\n"
	"                per link, up to 8 (two on separate networks survive a\n"
	"                switch failure); default: the address of `listen`\n"
	"  --token MS    totem token timeout, 500-60000 ms (default 3000): how long\n"
	"                a silent node takes to be declared gone (docs/cluster.md)\n"
	"  --json        print the API's answer\n"
	"  -h, --help    show this help\n";

static const char usage_join[] =
	"usage: corral cluster join HOST|URL [--link ADDR]...\n"
	"\n"
	"Join the cluster of a trusted host (`corral host trust add` first), named\n"
	"as this host knows it or by its https URL.  That member adds this host to\n"
	"the node list, tells the other members (each reloads corosync), and hands\n"
	"this host the configuration and the cluster key over mutual TLS; this host\n"
	"then runs corosync.  The member needs quorum.\n"
	"\n"
	"Options:\n"
	"  --link ADDR   this host's address on each of the cluster's links, in\n"
	"                link order; default (one link): the address the member\n"
	"                sees this host's call come from\n"
	"  --json        print the API's answer\n"
	"  -h, --help    show this help\n";

static const char usage_status[] =
	"usage: corral cluster status [--json]\n"
	"\n"
	"Show this host's cluster as corosync sees it: quorate or not, votes, the\n"
	"ring id, and each node with its id, addresses, whether it is in this\n"
	"node's ring (online), and its knet links (connected, MTU).\n";

static const char usage_leave[] =
	"usage: corral cluster leave [--yes]\n"
	"\n"
	"Take this host out of its cluster: another node removes it from the node\n"
	"list and tells the rest, then corosync stops here and its files go.\n"
	"Refused (nothing changed) when no other node can be reached.\n";

static const char usage_resync[] =
	"usage: corral cluster resync --discard-local [--yes]\n"
	"\n"
	"For a host whose copy of the pool configuration has forked (cluster\n"
	"status says \"forked\"): forget this host's history of the replicated\n"
	"configuration (users, tokens, ACLs, policies, alarm rules) and take the\n"
	"pool's.  What this host changed alone is lost; nothing else is touched.\n";

static const char usage_node[] =
	"usage: corral cluster node remove NAME [--force] [--yes]\n"
	"\n"
	"Remove node NAME, which is down, from the cluster; every other node is\n"
	"told.  A node that is up leaves with `corral cluster leave` on it; this\n"
	"host leaves the same way.  Needs quorum, unless --force: for a node gone\n"
	"for good that took the majority with it (e.g. the second node of a pool\n"
	"whose join failed).  Forcing while the other half of a split pool may\n"
	"do the same leaves two pools that disagree.\n";

static const char usage_witness[] =
	"usage: corral cluster witness add HOST|URL [--address IP] [--heuristics-ping IP]\n"
	"       corral cluster witness remove [--yes]\n"
	"\n"
	"Give a two-node cluster a witness: a third machine running corosync-qnetd\n"
	"(a corral host after `corral witness init`, trusted by this host).  Each\n"
	"node makes its own key and certificate request, the witness signs it,\n"
	"corosync.conf gets a quorum device (model net, ffsplit, tie_breaker\n"
	"lowest) on both nodes and corrald runs corosync-qdevice on each.  Then\n"
	"the pool has three votes and quorum 2: when the link between the nodes\n"
	"breaks, the witness gives its vote to one side only; when one node dies\n"
	"the other keeps quorum.  Refused for pools of other sizes (votequorum(5):\n"
	"an odd number of nodes has a majority without one).  Needs quorum and\n"
	"both nodes up.  remove takes the device out on both nodes.\n"
	"\n"
	"Options:\n"
	"  --address IP          the witness's address for corosync-qdevice\n"
	"                        (default: the address its API was reached at)\n"
	"  --heuristics-ping IP  each node pings IP (e.g. the gateway) at every\n"
	"                        membership change and every few seconds; in a\n"
	"                        split, the side that reaches it wins the vote\n"
	"  --json                print the API's answer\n"
	"  -h, --help            show this help\n";

enum { OPT_LINK = CLI_OPT_FIRST, OPT_TOKEN };

/* The --link and --token options of create and join into body: true to go on;
 * false when the verb must return a->exit_code (after --help or a usage error). */
static bool link_opts(struct cli *cli, struct cli_args *a, bool token_ok, json_t *body)
{
	static const struct option opts[] = {
		{ "link", required_argument, NULL, OPT_LINK },
		{ "token", required_argument, NULL, OPT_TOKEN },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	static const struct option join_opts[] = {
		{ "link", required_argument, NULL, OPT_LINK },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	json_t *links = json_array();
	int64_t token;
	int c;
	json_object_set_new(body, "links", links);
	while ((c = cli_getopt(cli, a, token_ok ? opts : join_opts)) != -1) {
		switch (c) {
		case CLI_OPT_EXIT: return false;
		case OPT_LINK: json_array_append_new(links, json_string(optarg)); break;
		case OPT_TOKEN:
			if (cli_parse_int(optarg, 500, 60000, &token) < 0) {
				a->exit_code = cli_usage_error(a->cmd, "--token is 500 to 60000 (ms)");
				return false;
			}
			json_object_set_new(body, "token_ms", json_integer(token));
			break;
		}
	}
	if (!json_array_size(links))
		json_object_del(body, "links");
	return true;
}

static void print_status(const json_t *s)
{
	json_t *n, *l, *w;
	size_t i, k;
	if (!json_is_string(json_object_get(s, "cluster"))) {
		printf("this host is in no cluster\n");
		return;
	}
	__do_table struct table *kv = table_new_kv();
	json_t *votes = json_object_get(s, "votes");
	json_t *cs = json_object_get(s, "corosync");
	table_add_kv(kv, "cluster", "%s", out_str(s, "cluster"));
	table_add_kv(kv, "this node", "%s (id %lld)", out_str(s, "self"),
		     (long long)json_integer_value(json_object_get(s, "node_id")));
	table_add_kv(kv, "quorate", "%s", json_is_true(json_object_get(s, "quorate")) ? "yes" : "no");
	if (votes)
		table_add_kv(kv, "votes", "%lld of %lld expected, quorum %lld",
			     (long long)json_integer_value(json_object_get(votes, "total")),
			     (long long)json_integer_value(json_object_get(votes, "expected")),
			     (long long)json_integer_value(json_object_get(votes, "quorum")));
	table_add_kv(kv, "ring id", "%s", out_str(s, "ring_id") ?: "-");
	table_add_kv(kv, "config version", "%lld", (long long)json_integer_value(json_object_get(s, "config_version")));
	table_add_kv(kv, "token", "%lld ms (effective %lld ms)",
		     (long long)json_integer_value(json_object_get(s, "token_ms")),
		     (long long)json_integer_value(json_object_get(s, "effective_token_ms")));
	table_add_kv(kv, "corosync", "%s%s",
		     json_is_true(json_object_get(cs, "running")) ? "running (corral's)" : "not run by corral",
		     json_is_true(json_object_get(cs, "connected")) ? ", connected" : ", not connected");
	json_t *cfg = json_object_get(s, "config");
	if (cfg) {
		table_add_kv(kv, "pool configuration", "version %lld, %s", (long long)json_integer_value(json_object_get(cfg, "version")),
			     out_str(cfg, "state") ?: "?");
		if (out_str(cfg, "reason"))
			table_add_kv(kv, "configuration", "%s", out_str(cfg, "reason"));
	}
	json_t *wit = json_object_get(s, "witness");
	if (json_is_object(wit)) {
		json_t *qd = json_object_get(wit, "qdevice");
		table_add_kv(kv, "witness", "%s port %lld%s%s: %s, %s vote(s), %s", out_str(wit, "addr"),
			     (long long)json_integer_value(json_object_get(wit, "port")),
			     out_str(wit, "heuristics_ping") ? ", heuristics ping " : "", out_str(wit, "heuristics_ping") ?: "",
			     json_is_true(json_object_get(wit, "connected")) ? "connected" : "not connected",
			     json_is_integer(json_object_get(wit, "votes")) ? "1" : "?",
			     json_is_true(json_object_get(wit, "casts_vote")) ? "casts its vote for this node"
									       : "no vote for this node");
		if (!json_is_true(json_object_get(qd, "running")))
			table_add_kv(kv, "corosync-qdevice", "not running");
		else
			table_add_kv(kv, "corosync-qdevice", "running (pid %lld), %s",
				     (long long)json_integer_value(json_object_get(qd, "pid")), out_str(qd, "state") ?: "?");
		__do_free char *flags = out_join(json_object_get(votes, "flags"), ",");
		table_add_kv(kv, "quorum flags", "%s", flags && *flags ? flags : "-");
	} else {
		table_add_kv(kv, "witness", "none");
	}
	if (out_str(s, "error"))
		table_add_kv(kv, "error", "%s", out_str(s, "error"));
	json_array_foreach(json_object_get(s, "warnings"), i, w)
		table_add_kv(kv, "warning", "%s", json_string_value(w));
	table_print(kv, stdout);
	printf("\n");
	static const char *const headers[] = { "ID", "NAME", "ADDRESSES", "ONLINE", "LINKS", "CONFIG" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_array_foreach(json_object_get(s, "nodes"), i, n) {
		struct buf links = BUF_INIT;
		char id[16], conf[64];
		json_t *nc = json_object_get(n, "config");
		__do_free char *addrs = out_join(json_object_get(n, "addrs"), ",");
		json_array_foreach(json_object_get(n, "links"), k, l)
			buf_printf(&links, "%s%lld:%s", k ? " " : "",
				   (long long)json_integer_value(json_object_get(l, "link")),
				   json_is_true(json_object_get(l, "connected")) ? "up" : "down");
		snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(n, "id")));
		if (json_is_integer(json_object_get(nc, "version")))
			snprintf(conf, sizeof(conf), "v%lld %s", (long long)json_integer_value(json_object_get(nc, "version")),
				 out_str(nc, "state") ?: "?");
		else
			snprintf(conf, sizeof(conf), "-");
		char name[96];
		snprintf(name, sizeof(name), "%s%s", out_str(n, "name") ?: "?",
			 json_is_true(json_object_get(n, "maintenance")) ? " (maintenance)" : "");
		table_add(t, id, name, addrs,
			  json_is_true(json_object_get(n, "self")) ? "yes (this host)"
			  : json_is_true(json_object_get(n, "online")) ? "yes"
								      : "no",
			  links.len ? links.s : "-", conf);
		buf_release(&links);
	}
	table_print(t, stdout);
}

static int cluster_create(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int rc;
	cli_args_init(&a, "cluster create", usage_create, argc, argv);
	if (!link_opts(cli, &a, true, body))
		return a.exit_code;
	if ((rc = cli_args_count(&a, 1, 1, "cluster name")) != CLI_OK)
		return rc;
	json_object_set_new(body, "name", json_string(a.pos[0]));
	if ((rc = cli_call(cli, "POST", "/v1", "cluster", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("created cluster %s; this host is node %s (id 1)\n", a.pos[0], out_str(r.json, "self"));
	return CLI_OK;
}

static int cluster_join(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int rc;
	cli_args_init(&a, "cluster join", usage_join, argc, argv);
	if (!link_opts(cli, &a, false, body))
		return a.exit_code;
	if ((rc = cli_args_count(&a, 1, 1, "trusted host (name or URL)")) != CLI_OK)
		return rc;
	json_object_set_new(body, "host", json_string(a.pos[0]));
	if ((rc = cli_call(cli, "POST", "/v1/cluster", "join", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	printf("joined cluster %s as node %s (id %lld)\n", out_str(r.json, "cluster"), out_str(r.json, "self"),
	       (long long)json_integer_value(json_object_get(r.json, "node_id")));
	json_t *nu;
	size_t i;
	json_array_foreach(json_object_get(r.json, "not_updated"), i, nu)
		fprintf(stderr, "corral: warning: node %s was not told: %s\n", out_str(nu, "name"), out_str(nu, "error"));
	return CLI_OK;
}

static int cluster_status(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "cluster status", usage_status, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/cluster", print_status);
}

static int cluster_leave(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;
	cli_args_init(&a, "cluster leave", usage_leave, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	if ((rc = cli_confirm(&a, "take this host out of its cluster")) != CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "POST", "/v1/cluster", "leave", NULL, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else if (out_str(r.json, "told"))
		printf("left cluster %s (node %s removed this host)\n", out_str(r.json, "left"), out_str(r.json, "told"));
	else
		printf("left cluster %s (this host was its last node)\n", out_str(r.json, "left"));
	return CLI_OK;
}

enum { OPT_FORCE = CLI_OPT_FIRST + 10 };

static int cluster_node(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_YES_OPTION,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	bool force = false;
	int c, rc;
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_node, stdout);
		return CLI_OK;
	}
	if (strcmp(sub, "remove") != 0 && strcmp(sub, "rm") != 0 && !cli_args_listing())
		return cli_usage_error("cluster node", "want remove");
	cli_args_init(&a, "cluster node remove", usage_node, argc - 1, argv + 1);
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		if (c == OPT_FORCE)
			force = true;
	}
	if ((rc = cli_args_count(&a, 1, 1, "node name")) != CLI_OK)
		return rc;
	if ((rc = cli_confirm(&a, "remove node %s from the cluster%s", a.pos[0], force ? " without quorum" : "")) !=
	    CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "DELETE", "/v1/cluster/nodes", a.pos[0], force ? "?force=true" : NULL, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	printf("removed node %s from the cluster\n", a.pos[0]);
	json_t *nu;
	size_t i;
	json_array_foreach(json_object_get(r.json, "not_updated"), i, nu)
		fprintf(stderr, "corral: warning: node %s was not told: %s\n", out_str(nu, "name"), out_str(nu, "error"));
	return CLI_OK;
}

static int cluster_resync(struct cli *cli, int argc, char **argv)
{
	enum { OPT_DISCARD = CLI_OPT_FIRST + 11 };
	static const struct option opts[] = {
		{ "discard-local", no_argument, NULL, OPT_DISCARD },
		CLI_YES_OPTION,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct cli_args a;
	bool discard = false;
	int c, rc;
	cli_args_init(&a, "cluster resync", usage_resync, argc, argv);
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		if (c == OPT_DISCARD)
			discard = true;
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if (!discard)
		return cli_usage_error("cluster resync", "--discard-local is required (what this host changed alone is lost)");
	if ((rc = cli_confirm(&a, "discard this host's copy of the pool configuration and take the pool's")) != CLI_OK)
		return rc;
	body = json_pack("{s:b}", "discard_local", 1);
	if ((rc = cli_call(cli, "POST", "/v1/cluster", "resync", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("discarded this host's configuration history: taking the pool's (see corral cluster status)\n");
	return CLI_OK;
}

static const char usage_set[] =
	"usage: corral cluster set --failures-to-tolerate N [--json]\n"
	"\n"
	"Set the pool's HA admission control (replicated: needs quorum).  With N > 0,\n"
	"corral ha add, ha set --state started and host maintenance on are refused\n"
	"when, for some set of up to N failed hosts, the HA VMs of those hosts would\n"
	"not fit in the memory the other hosts have left (docs/ha.md, \"Failures to\n"
	"tolerate\").  0 (the default) turns it off.  Setting N is refused when the\n"
	"HA VMs protected now already break it.\n"
	"\n"
	"Options:\n"
	"  --failures-to-tolerate N   0..hosts-1\n"
	"  --json                     print the API's answer\n"
	"  -h, --help                 show this help\n";

static int cluster_set(struct cli *cli, int argc, char **argv)
{
	enum { OPT_FTT = CLI_OPT_FIRST + 12 };
	static const struct option opts[] = {
		{ "failures-to-tolerate", required_argument, NULL, OPT_FTT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int64_t n;
	int c, rc;
	cli_args_init(&a, "cluster set", usage_set, argc, argv);
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		if (c == OPT_FTT) {
			if (cli_parse_int(optarg, 0, 1000, &n) < 0)
				return cli_usage_error(a.cmd, "invalid --failures-to-tolerate '%s': want a whole number", optarg);
			json_object_set_new(body, "failures_to_tolerate", json_integer(n));
		}
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if (!json_object_size(body))
		return cli_usage_error(a.cmd, "nothing to set: give --failures-to-tolerate N");
	if ((rc = cli_call(cli, "PUT", "/v1/cluster", "ha", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("HA failures to tolerate: %lld (the pool tolerates %lld now)\n",
		       (long long)json_integer_value(json_object_get(r.json, "failures_to_tolerate")),
		       (long long)json_integer_value(json_object_get(r.json, "max_failures")));
	return CLI_OK;
}

static int cluster_witness(struct cli *cli, int argc, char **argv)
{
	enum { OPT_ADDRESS = CLI_OPT_FIRST + 20, OPT_PING };
	static const struct option add_opts[] = {
		{ "address", required_argument, NULL, OPT_ADDRESS },
		{ "heuristics-ping", required_argument, NULL, OPT_PING },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int c, rc;
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_witness, stdout);
		return CLI_OK;
	}
	if (strcmp(sub, "remove") == 0 || strcmp(sub, "rm") == 0) {
		cli_args_init(&a, "cluster witness remove", usage_witness, argc - 1, argv + 1);
		a.yes_ok = true;
		if (!cli_args_plain(cli, &a, 0, 0, ""))
			return a.exit_code;
		if ((rc = cli_confirm(&a, "remove the cluster's witness (a lost node then costs the other its quorum)")) !=
		    CLI_OK)
			return rc;
		if ((rc = cli_call(cli, "DELETE", "/v1/cluster", "witness", NULL, NULL, &r)) != CLI_OK)
			return rc;
		if (cli->json)
			out_json(r.json);
		else
			printf("removed the witness %s from the cluster\n", out_str(r.json, "removed"));
		return CLI_OK;
	}
	if (strcmp(sub, "add") != 0 && !cli_args_listing())
		return cli_usage_error("cluster witness", "want add or remove");
	cli_args_init(&a, "cluster witness add", usage_witness, argc - 1, argv + 1);
	while ((c = cli_getopt(cli, &a, add_opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		json_object_set_new(body, c == OPT_ADDRESS ? "address" : "heuristics_ping", json_string(optarg));
	}
	if ((rc = cli_args_count(&a, 1, 1, "witness (a trusted host, by name or URL)")) != CLI_OK)
		return rc;
	json_object_set_new(body, "host", json_string(a.pos[0]));
	if ((rc = cli_call(cli, "POST", "/v1/cluster", "witness", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	json_t *w = json_object_get(r.json, "witness"), *nu;
	size_t i;
	printf("cluster %s has a witness: %s port %lld\n", out_str(r.json, "cluster"), out_str(w, "addr"),
	       (long long)json_integer_value(json_object_get(w, "port")));
	json_array_foreach(json_object_get(r.json, "not_updated"), i, nu)
		fprintf(stderr, "corral: warning: node %s was not told: %s\n", out_str(nu, "name"), out_str(nu, "error"));
	return CLI_OK;
}

static const struct cli_verb cluster_verbs[] = {
	{ "create", "make this host the first node of a new cluster", cluster_create },
	{ "join", "join the cluster of a trusted host", cluster_join },
	{ "status", "show nodes, links, quorum and votes", cluster_status },
	{ "leave", "take this host out of its cluster", cluster_leave },
	{ "node", "remove a node that is down", cluster_node },
	{ "resync", "take the pool's configuration, discarding this host's (after a fork)", cluster_resync },
	{ "witness", "add or remove the witness of a two-node cluster", cluster_witness },
	{ "set", "set the pool's HA failures to tolerate (admission control)", cluster_set },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_cluster = {
	"cluster", "A pool of hosts on Corosync: membership and quorum.", cluster_verbs, NULL,
};
