/*
 * cmd_witness.c - `corral witness init|status|remove`: this host as the
 * witness of two-node pools, running corosync-qnetd (/v1/witness;
 * docs/cluster.md "Two nodes").
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "util/cleanup.h"
#include "util/common.h"

static const char usage_init[] =
	"usage: corral witness init [--port PORT]\n"
	"\n"
	"Make this host the witness (third vote) of two-node pools: corrald makes\n"
	"a certificate authority for corosync-qnetd in STATE/witness and runs\n"
	"corosync-qnetd, restarting it if it dies; it outlives corrald.  The host\n"
	"needs no VMs and no pool of its own, only a TLS listener, and the pools'\n"
	"nodes must trust it (corral host trust add).  Then, on a node of the\n"
	"pool: corral cluster witness add THIS-HOST.\n"
	"\n"
	"Options:\n"
	"  --port PORT   the TCP port qnetd listens on (default 5403)\n"
	"  --json        print the API's answer\n"
	"  -h, --help    show this help\n";

static const char usage_status[] =
	"usage: corral witness status [--json]\n"
	"\n"
	"Show whether this host is a witness: corosync-qnetd (running, pid), its\n"
	"port, the pools connected to it now, and the pools whose nodes it signed\n"
	"certificates for.\n";

static const char usage_remove[] =
	"usage: corral witness remove [--force] [--yes]\n"
	"\n"
	"Stop being a witness: corosync-qnetd stops and its certificate authority\n"
	"is removed.  Refused while pools are connected (they would lose their\n"
	"third vote: remove the witness from them first), unless --force.\n";

static void print_status(const json_t *s)
{
	json_t *c;
	const char *name;
	size_t i;
	if (!json_is_true(json_object_get(s, "witness"))) {
		printf("this host is no witness (corral witness init)\n");
		return;
	}
	json_t *q = json_object_get(s, "qnetd");
	__do_table struct table *kv = table_new_kv();
	table_add_kv(kv, "witness", "yes, port %lld", (long long)json_integer_value(json_object_get(s, "port")));
	if (json_is_true(json_object_get(q, "running")))
		table_add_kv(kv, "corosync-qnetd", "running (pid %lld)", (long long)json_integer_value(json_object_get(q, "pid")));
	else
		table_add_kv(kv, "corosync-qnetd", "not running");
	if (json_is_integer(json_object_get(s, "connected_clients")))
		table_add_kv(kv, "connected", "%lld node(s) of %lld pool(s)",
			     (long long)json_integer_value(json_object_get(s, "connected_clients")),
			     (long long)json_integer_value(json_object_get(s, "connected_clusters")));
	__do_free char *conn = out_join(json_object_get(s, "clusters_connected"), ",");
	table_add_kv(kv, "pools connected", "%s", conn && *conn ? conn : "-");
	json_object_foreach(json_object_get(s, "certificates"), name, c) {
		__do_free char *by = out_join(json_object_get(c, "requested_by"), ",");
		table_add_kv(kv, "signed for", "pool %s (asked by %s)", name, by ? by : "-");
	}
	json_array_foreach(json_object_get(s, "warnings"), i, c)
		table_add_kv(kv, "warning", "%s", json_string_value(c));
	table_print(kv, stdout);
}

static int witness_init(struct cli *cli, int argc, char **argv)
{
	enum { OPT_PORT = CLI_OPT_FIRST };
	static const struct option opts[] = {
		{ "port", required_argument, NULL, OPT_PORT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int64_t port;
	int c, rc;
	cli_args_init(&a, "witness init", usage_init, argc, argv);
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		if (c == OPT_PORT) {
			if (cli_parse_int(optarg, 1, 65535, &port) < 0)
				return cli_usage_error(a.cmd, "--port is 1 to 65535");
			json_object_set_new(body, "port", json_integer(port));
		}
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "POST", "/v1", "witness", NULL, body, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("this host is a witness: corosync-qnetd listens on port %lld\n",
		       (long long)json_integer_value(json_object_get(r.json, "port")));
	return CLI_OK;
}

static int witness_status(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "witness status", usage_status, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/witness", print_status);
}

static int witness_remove(struct cli *cli, int argc, char **argv)
{
	enum { OPT_FORCE = CLI_OPT_FIRST };
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_YES_OPTION,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	bool force = false;
	int c, rc;
	cli_args_init(&a, "witness remove", usage_remove, argc, argv);
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
		if (c == OPT_FORCE)
			force = true;
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if ((rc = cli_confirm(&a, "stop being a witness (corosync-qnetd stops, its CA is removed)")) != CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "DELETE", "/v1", "witness", force ? "?force=true" : NULL, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("this host is no longer a witness\n");
	return CLI_OK;
}

static const struct cli_verb witness_verbs[] = {
	{ "init", "make this host the witness of two-node pools (corosync-qnetd)", witness_init },
	{ "status", "corosync-qnetd and the pools it serves", witness_status },
	{ "remove", "stop being a witness", witness_remove },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_witness = {
	"witness", "This host as the witness (third vote) of two-node pools.", witness_verbs, NULL,
};
