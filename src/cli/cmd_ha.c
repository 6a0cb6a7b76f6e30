/*
 * cmd_ha.c - `corral ha ...`: the VMs and containers a pool keeps running
 * (the API's /v1/ha; docs/ha.md): protect one, change or drop its
 * settings, and show every HA resource with its kind, its host and this
 * host's self-fence.  The ranges
 * are checked by corrald, which refuses with the reason.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/jsonutil.h"
#include "util/common.h"

#define SETTINGS_HELP                                                                             \
	"  --priority N      0..1000 (default 0): higher restarts first\n"                           \
	"  --order N         0..1000 (default 0): within a priority, lower restarts first\n"         \
	"  --start-delay S   0..3600 s (default 0): wait after starting it before the next\n"        \
	"  --max-restart N   0..10 (default 1): restarts on its host before relocating\n"            \
	"  --max-relocate N  0..10 (default 1): other hosts tried before giving up\n"                \
	"  --state STATE     started (default), stopped, disabled or ignored\n"                      \
	"  --group G         its HA group (preferred hosts; '' for none): corral ha group\n"       \
	"  --json            print the API's answer\n"                                               \
	"  -h, --help        show this help\n"

static const char usage_add[] =
	"usage: corral ha add VM|CT [--priority N] [--order N] [--start-delay S]\n"
	"                           [--max-restart N] [--max-relocate N] [--state STATE] [--group G]\n"
	"\n"
	"Protect a VM or a container of this host with HA (the host must be in a pool:\n"
	"corral cluster create).  The setting is the pool's: it needs quorum and is the\n"
	"same on every member.  While it runs here and its state is started, this host\n"
	"kills it when the host loses quorum (docs/ha.md, \"Self-fencing\"); when this\n"
	"host leaves the pool, the pool's HA manager restarts it on another host.  A\n"
	"VM's disks must be in shared pools (or replicated); a container's root must be\n"
	"a directory volume of a shared pool, and its mount points' volumes too.  Its\n"
	"definition travels with the setting.  A container has no live migration: host\n"
	"maintenance stops it and starts it on another host (docs/ha.md, \"Containers\").\n"
	"\n"
	"Options:\n" SETTINGS_HELP;

static const char usage_set[] =
	"usage: corral ha set VM|CT [--priority N] [--order N] [--start-delay S]\n"
	"                           [--max-restart N] [--max-relocate N] [--state STATE] [--group G]\n"
	"\n"
	"Change an HA VM's or container's settings: the options given replace the\n"
	"stored values.\n"
	"\n"
	"Options:\n" SETTINGS_HELP;

static const char usage_remove[] =
	"usage: corral ha remove VM|CT...\n"
	"\n"
	"Stop protecting VMs or containers with HA (they stay as they are).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -h, --help   show this help\n";

static const char usage_status[] =
	"usage: corral ha status [--json]\n"
	"\n"
	"List the HA VMs and containers as NAME HOST STATE HA-STATE STATUS PRIORITY\n"
	"ORDER DELAY RESTART RELOCATE KIND (HOST: its owner in the pool; STATE: its\n"
	"state as this host knows it; STATUS: the manager's state, with the reason of\n"
	"its last decision below; KIND: vm or container),\n"
	"then which host is the pool's HA manager, and this host's self-fence: armed\n"
	"or not, its deadline, and the last fence.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_fence_ack[] =
	"usage: corral ha fence-ack HOST [--yes]\n"
	"\n"
	"Acknowledge that HOST, a pool member this host lost, is down (powered off,\n"
	"or cut off long enough that it killed its HA guests), so that this host,\n"
	"without quorum, may restart HOST's HA VMs and containers: corral lowers\n"
	"corosync's expected votes by HOST's vote.  For a two-host pool without a\n"
	"witness whose other host died, or a pool that lost its majority.  Refused\n"
	"while HOST is in this host's ring, when this host is quorate, and before\n"
	"this host has been without quorum for the pool's fence wait.  The expected\n"
	"votes go back by themselves when HOST returns.  If HOST still runs guests\n"
	"that are not HA-protected, they are not touched; if HOST's self-fence did\n"
	"not work, its HA guests run twice: acknowledge only a host you know is\n"
	"down (docs/ha.md, \"Acknowledging a lost host\").\n"
	"\n"
	"Options:\n"
	"  -y, --yes    do it without asking\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

enum { OPT_PRIORITY = CLI_OPT_FIRST, OPT_ORDER, OPT_DELAY, OPT_RESTART, OPT_RELOCATE, OPT_STATE, OPT_GROUP };

static const struct option settings_opts[] = {
	{ "priority", required_argument, NULL, OPT_PRIORITY },
	{ "order", required_argument, NULL, OPT_ORDER },
	{ "start-delay", required_argument, NULL, OPT_DELAY },
	{ "max-restart", required_argument, NULL, OPT_RESTART },
	{ "max-relocate", required_argument, NULL, OPT_RELOCATE },
	{ "state", required_argument, NULL, OPT_STATE },
	{ "group", required_argument, NULL, OPT_GROUP },
	CLI_COMMON_OPTIONS,
	{ 0 },
};

static const char *const members[] = { [OPT_PRIORITY - CLI_OPT_FIRST] = "priority",
				       [OPT_ORDER - CLI_OPT_FIRST] = "order",
				       [OPT_DELAY - CLI_OPT_FIRST] = "start_delay",
				       [OPT_RESTART - CLI_OPT_FIRST] = "max_restart",
				       [OPT_RELOCATE - CLI_OPT_FIRST] = "max_relocate" };

/* Parse the settings options into body; CLI_OK to go on, else the exit code. */
static int settings_parse(struct cli *cli, struct cli_args *a, json_t *body, bool *go)
{
	int opt;
	*go = false;
	while ((opt = cli_getopt(cli, a, settings_opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a->exit_code;
		if (opt == OPT_STATE || opt == OPT_GROUP) {
			json_object_set_new(body, opt == OPT_STATE ? "state" : "group", json_string(optarg));
			continue;
		}
		int64_t v;
		const char *m = members[opt - CLI_OPT_FIRST];
		if (cli_parse_int(optarg, INT32_MIN, INT32_MAX, &v) < 0)
			return cli_usage_error(a->cmd, "--%s: '%s' is not a whole number", settings_opts[opt - CLI_OPT_FIRST].name,
					       optarg);
		json_object_set_new(body, m, json_integer(v));
	}
	*go = true;
	return CLI_OK;
}

static void print_entry(struct cli *cli, const char *what, const json_t *e)
{
	if (cli->json)
		out_json(e);
	else
		printf("%s %s %s\n", what, out_str(e, "kind") ? out_str(e, "kind") : "vm", out_str(e, "vm"));
}

static int ha_add(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	bool go;
	int rc;

	cli_args_init(&a, "ha add", usage_add, argc, argv);
	if ((rc = settings_parse(cli, &a, body, &go)) != CLI_OK || !go)
		return rc;
	if ((rc = cli_args_count(&a, 1, 1, "VM|CT")) != CLI_OK)
		return rc;
	json_object_set_new(body, "vm", json_string(a.pos[0]));
	struct client *c = cli_client(cli);
	if (!c || client_call(c, "POST", "/v1/ha", body, &r, false) < 0)
		return CLI_FAIL;
	print_entry(cli, "HA-protected", r.json);
	return CLI_OK;
}

static int ha_set(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	bool go;
	int rc;

	cli_args_init(&a, "ha set", usage_set, argc, argv);
	if ((rc = settings_parse(cli, &a, body, &go)) != CLI_OK || !go)
		return rc;
	if ((rc = cli_args_count(&a, 1, 1, "VM|CT")) != CLI_OK)
		return rc;
	if (json_object_size(body) == 0)
		return cli_usage_error("ha set", "nothing to change: give at least one option");
	if (cli_call(cli, "PUT", "/v1/ha", a.pos[0], NULL, body, &r) != CLI_OK)
		return CLI_FAIL;
	print_entry(cli, "changed HA settings of", r.json);
	return CLI_OK;
}

static void ha_removed(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("%s is no longer HA-protected\n", item);
}

static int ha_remove(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;

	cli_args_init(&a, "ha remove", usage_remove, argc, argv);
	if (!cli_args_plain(cli, &a, 1, -1, "VM|CT"))
		return a.exit_code;
	return cli_delete_each(cli, "/v1/ha", NULL, a.pos, a.npos, all, ha_removed);
}

static int ha_fence_ack(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;
	cli_args_init(&a, "ha fence-ack", usage_fence_ack, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, 1, "HOST"))
		return a.exit_code;
	if ((rc = cli_confirm(&a, "declare host %s down and let this host restart its HA guests", a.pos[0])) != CLI_OK)
		return rc;
	if ((rc = cli_call(cli, "POST", "/v1/ha/fence-ack", a.pos[0], NULL, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("%s acknowledged lost: expected votes %" JSON_INTEGER_FORMAT " -> %" JSON_INTEGER_FORMAT "; %s\n",
		       a.pos[0], json_integer_value(json_object_get(r.json, "expected_votes_before")),
		       json_integer_value(json_object_get(r.json, "expected_votes")),
		       json_is_true(json_object_get(r.json, "quorate"))
			       ? "this host is quorate: the HA manager restarts its guests after its wait"
			       : "this host is still not quorate: acknowledge the other lost hosts too");
	return CLI_OK;
}

static void print_status(const json_t *answer)
{
	static const char *const headers[] = { "NAME",	   "HOST",  "STATE",   "HA-STATE", "STATUS", "PRIORITY",
					       "ORDER", "DELAY", "RESTART", "RELOCATE", "KIND" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	const json_t *e, *f = json_object_get(answer, "fence");
	size_t i;

	json_array_foreach(json_object_get(answer, "resources"), i, e) {
		char n[5][24];
		static const char *const keys[] = { "priority", "order", "start_delay", "max_restart", "max_relocate" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
			snprintf(n[k], sizeof(n[k]), "%" JSON_INTEGER_FORMAT "%s",
				 json_integer_value(json_object_get(e, keys[k])), k == 2 ? "s" : "");
		char vmname[160];
		snprintf(vmname, sizeof(vmname), "%s%s%s%s", out_str(e, "vm") ?: "?", out_str(e, "group") ? " (group " : "",
			 out_str(e, "group") ?: "", out_str(e, "group") ? ")" : "");
		table_add(t, vmname, out_str(e, "host") ? out_str(e, "host") : "-", out_str(e, "vm_state"),
			  out_str(e, "state"), out_str(e, "status") ? out_str(e, "status") : "-", n[0], n[1], n[2], n[3],
			  n[4], out_str(e, "kind") ? out_str(e, "kind") : "vm");
	}
	table_print(t, stdout);
	json_array_foreach(json_object_get(answer, "resources"), i, e) if (out_str(e, "status_reason"))
		printf("  %s: %s\n", out_str(e, "vm"), out_str(e, "status_reason"));
	json_array_foreach(json_object_get(answer, "resources"), i, e) if (json_object_get(e, "replica")) {
		const json_t *rp = json_object_get(e, "replica");
		printf("  %s: replica on %s: %s since %s\n", out_str(e, "vm"), out_str(rp, "host") ?: "?",
		       out_str(rp, "state") ?: "?", out_str(rp, "since") ?: "?");
	}
	json_array_foreach(json_object_get(answer, "resources"), i, e) if (json_is_object(json_object_get(e, "lease"))) {
		const json_t *l = json_object_get(e, "lease");
		char age[48] = "";
		if (out_str(l, "holder"))
			snprintf(age, sizeof(age), " %s (unchanged %" JSON_INTEGER_FORMAT " ms)", out_str(l, "holder"),
				 json_integer_value(json_object_get(l, "unchanged_ms")));
		printf("  %s: disk lease on pool %s: %s%s\n", out_str(e, "vm"), out_str(l, "pool") ?: "?",
		       out_str(l, "state") ?: "?", age);
	}
	json_array_foreach(json_object_get(answer, "maintenance"), i, e) {
		char since[40] = "?";
		json_t *sj = json_object_get(e, "since");
		if (json_is_integer(sj)) {
			time_t secs = (time_t)(json_integer_value(sj) / 1000);
			struct tm tm;
			gmtime_r(&secs, &tm);
			strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", &tm);
		}
		printf("%shost %s: maintenance since %s (its HA VMs move away; nothing is placed there)\n", i ? "" : "\n",
		       out_str(e, "host"), since);
	}
	const json_t *plan = json_object_get(answer, "plan");
	if (json_is_object(plan)) {
		json_t *mf = json_object_get(plan, "max_failures");
		printf("failures to tolerate: %lld; the pool tolerates %lld host failure(s) now%s\n",
		       (long long)json_integer_value(json_object_get(plan, "failures_to_tolerate")),
		       (long long)json_integer_value(mf),
		       json_integer_value(mf) < 0 ? " (the HA VMs of the hosts in maintenance do not fit)" : "");
	}
	const json_t *m = json_object_get(answer, "manager");
	if (out_str(m, "host"))
		printf("\nmanager: %s (node %" JSON_INTEGER_FORMAT ", ring %s)%s; a lost host's VMs restart %" JSON_INTEGER_FORMAT
		       " ms after the pool sees it gone\n",
		       out_str(m, "host"), json_integer_value(json_object_get(m, "node")), out_str(m, "ring"),
		       json_is_true(json_object_get(m, "self")) ? ", this host" : "",
		       json_integer_value(json_object_get(m, "wait_ms")));
	else
		printf("\nmanager: none (%s)\n", out_str(m, "reason") ? out_str(m, "reason") : "?");
	__do_free char *armed = out_join(json_object_get(f, "armed"), ", ");
	printf("fence here: %s (armed for: %s); deadline %" JSON_INTEGER_FORMAT " ms after the last quorate view\n"
	       "  (token %" JSON_INTEGER_FORMAT " + consensus %" JSON_INTEGER_FORMAT " + 1500 ms); guard: %s\n"
	       "watchdog: %s\n",
	       out_str(f, "state"), *armed ? armed : "none", json_integer_value(json_object_get(f, "deadline_ms")),
	       json_integer_value(json_object_get(f, "token_ms")), json_integer_value(json_object_get(f, "consensus_ms")),
	       out_str(f, "guard"), out_str(f, "watchdog"));
	const json_t *last = json_object_get(f, "last");
	if (json_is_object(last)) {
		__do_free char *k = out_join(json_object_get(last, "killed"), ", ");
		printf("last fence: %s; killed: %s\n", out_str(last, "reason"), *k ? k : "none");
	}
}

static int ha_status(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "ha status", usage_status, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/ha", print_status);
}

static const char usage_group[] =
	"usage: corral ha group add G --hosts HOST[:PRIO],... [--restricted] [--no-failback]\n"
	"       corral ha group list [--json]\n"
	"       corral ha group remove G\n"
	"\n"
	"HA groups: preferred hosts for HA VMs (corral ha add|set VM --group G).  The\n"
	"manager places a VM of G on G's online hosts of the highest priority PRIO\n"
	"(0..1000, default 0; higher first); --restricted: never on a host outside G.\n"
	"Unless --no-failback, a VM of G running on a host of a lower priority than an\n"
	"online host of G is live-migrated there.  The pool's setting: needs quorum.\n"
	"remove is refused while an HA VM uses the group.\n"
	"\n"
	"Options:\n"
	"  --hosts LIST     HOST[:PRIO],... hosts of the pool with their priorities\n"
	"  --restricted     never place its VMs outside these hosts\n"
	"  --no-failback    do not move its VMs back to a preferred host\n"
	"  --json           print the API's answer\n"
	"  -h, --help       show this help\n";

static void print_groups(const json_t *answer)
{
	static const char *const headers[] = { "GROUP", "HOSTS", "RESTRICTED", "FAILBACK" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	const json_t *g, *h;
	size_t i, k;
	json_array_foreach(json_object_get(answer, "groups"), i, g) {
		struct buf hosts = BUF_INIT;
		json_array_foreach(json_object_get(g, "hosts"), k, h)
			buf_printf(&hosts, "%s%s:%lld", k ? "," : "", out_str(h, "host"),
				   (long long)json_integer_value(json_object_get(h, "priority")));
		table_add(t, out_str(g, "name"), hosts.s ? hosts.s : "-",
			  json_is_true(json_object_get(g, "restricted")) ? "yes" : "no",
			  json_is_true(json_object_get(g, "nofailback")) ? "no" : "yes");
		buf_release(&hosts);
	}
	table_print(t, stdout);
}

static int ha_group(struct cli *cli, int argc, char **argv)
{
	enum { OPT_HOSTS = CLI_OPT_FIRST + 20, OPT_RESTRICTED, OPT_NOFAILBACK };
	static const struct option opts[] = {
		{ "hosts", required_argument, NULL, OPT_HOSTS },
		{ "restricted", no_argument, NULL, OPT_RESTRICTED },
		{ "no-failback", no_argument, NULL, OPT_NOFAILBACK },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *sub = argc > 1 ? argv[1] : "";
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc, opt;

	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_group, stdout);
		return CLI_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0)
		return cli_usage_error("ha group", "want add, list or remove");
	cli_args_init(&a, "ha group", usage_group, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0) {
		if (!cli_args_plain(cli, &a, 0, 0, ""))
			return a.exit_code;
		return cli_get_print(cli, "/v1/ha/groups", print_groups);
	}
	if (strcmp(sub, "remove") == 0) {
		if (!cli_args_plain(cli, &a, 1, 1, "G"))
			return a.exit_code;
		if ((rc = cli_call(cli, "DELETE", "/v1/ha/groups", a.pos[0], NULL, NULL, &r)) != CLI_OK)
			return rc;
		if (cli->json)
			out_json(r.json);
		else
			printf("removed HA group %s\n", a.pos[0]);
		return CLI_OK;
	}
	__do_json json_t *body = json_object();
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_HOSTS)
			json_object_set_new(body, "hosts", json_string(optarg));
		else if (opt == OPT_RESTRICTED)
			json_object_set_new(body, "restricted", json_true());
		else if (opt == OPT_NOFAILBACK)
			json_object_set_new(body, "nofailback", json_true());
	}
	if ((rc = cli_args_count(&a, 1, 1, "G")) != CLI_OK)
		return rc;
	if (!json_object_get(body, "hosts"))
		return cli_usage_error("ha group add", "give --hosts HOST[:PRIO],...");
	json_object_set_new(body, "name", json_string(a.pos[0]));
	struct client *c = cli_client(cli);
	if (!c || client_call(c, "POST", "/v1/ha/groups", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("added HA group %s\n", a.pos[0]);
	return CLI_OK;
}

static const struct cli_verb ha_verbs[] = {
	{ "add", "protect a VM or container with HA", ha_add },
	{ "set", "change the HA settings of a VM or container", ha_set },
	{ "remove", "stop protecting VMs or containers with HA", ha_remove },
	{ "status", "the HA VMs and containers, their hosts, and this host's self-fence", ha_status },
	{ "group", "add, list or remove HA groups (preferred hosts)", ha_group },
	{ "fence-ack", "acknowledge a lost host down, so that a pool without quorum restarts its HA guests",
	  ha_fence_ack },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_ha = {
	"ha", "High availability: the VMs and containers the pool keeps running, and fencing.", ha_verbs, NULL,
};
