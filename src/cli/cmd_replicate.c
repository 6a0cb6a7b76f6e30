/*
 * cmd_replicate.c - `corral vm replicate`: synchronous disk replication of
 * a running VM to a trusted host (docs/ha.md), a verb of the vm noun listed
 * in cmd_vm.c's table.  Start (--to), resume (--resume), stop (--stop) or,
 * with none of them, show the replication's state.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/strutil.h"
#include "util/common.h"

static const char usage_replicate[] =
	"usage: corral vm replicate VM --to HOST [--reuse] [--compare-rate MIB] [--json]\n"
	"       corral vm replicate VM --resume | --stop [--keep-replica] | [--json]\n"
	"\n"
	"Replicate the local disks of a running VM synchronously to HOST, a trusted\n"
	"host ('corral host trust list'): HOST makes a replica volume of the same name,\n"
	"size and format for each disk in a local (not shared) pool and serves it over\n"
	"encrypted NBD; QEMU mirrors each disk onto it, first copying it whole\n"
	"(state syncing), then, in-sync, every guest write completes only once it is\n"
	"on both hosts.  If HOST or the link fails the VM runs on (state degraded)\n"
	"and the changed blocks are tracked; --resume (or the retry every 15 s)\n"
	"copies only those.  With no option: the replication's state.\n"
	"A volume of a disk's name already on HOST is refused, unless it is a stale\n"
	"copy of this VM there (kept by --stop --keep-replica, or the old primary's\n"
	"disk after a failover) or --reuse says it is an older copy of this disk:\n"
	"then it is reused and a compare pass copies only the chunks that differ.\n"
	"Failover onto the replica is not built yet.  See docs/ha.md.\n"
	"\n"
	"Options:\n"
	"  --to HOST    start replicating to HOST\n"
	"  --resume     copy what changed since a failure and mirror again\n"
	"  --reuse      reuse volumes of the disks' names on HOST (same size and\n"
	"               format, unused): compare and copy only what differs\n"
	"  --compare-rate MIB  read at most MIB MiB/s in the compare pass\n"
	"  --stop       stop replicating; the replica on HOST is removed\n"
	"  --keep-replica  with --stop: keep it on HOST as a stale copy of the VM\n"
	"  --json       print the API's JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_TO = CLI_OPT_FIRST, OPT_RESUME, OPT_STOP, OPT_REUSE, OPT_RATE, OPT_KEEP };

static void print_repl(const json_t *j)
{
	const char *err = json_string_value(json_object_get(j, "error"));
	printf("peer:          %s\n", json_string_value(json_object_get(j, "peer")) ?: "");
	printf("state:         %s", json_string_value(json_object_get(j, "state")) ?: "");
	if (!strcmp(json_string_value(json_object_get(j, "state")) ?: "", "syncing"))
		printf(" (%lld%%)", (long long)json_integer_value(json_object_get(j, "percent")));
	printf("\nsince:         %s\n", json_string_value(json_object_get(j, "since")) ?: "");
	if (json_integer_value(json_object_get(j, "resync_bytes")))
		printf("last resync:   %lld bytes\n", (long long)json_integer_value(json_object_get(j, "resync_bytes")));
	const json_t *cmp = json_object_get(j, "compare");
	if (cmp) {
		printf("compare pass:  %s, %lld of %lld bytes compared, %lld copied", json_string_value(json_object_get(cmp, "phase")) ?: "",
		       (long long)json_integer_value(json_object_get(cmp, "compared_bytes")),
		       (long long)json_integer_value(json_object_get(cmp, "total_bytes")),
		       (long long)json_integer_value(json_object_get(cmp, "copied_bytes")));
		if (json_integer_value(json_object_get(cmp, "ms")))
			printf(" in %lld ms", (long long)json_integer_value(json_object_get(cmp, "ms")));
		printf("\n");
	}
	if (err && *err)
		printf("error:         %s\n", err);
}

int cli_vm_replicate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "resume", no_argument, NULL, OPT_RESUME },
		{ "stop", no_argument, NULL, OPT_STOP },
		{ "reuse", no_argument, NULL, OPT_REUSE },
		{ "compare-rate", required_argument, NULL, OPT_RATE },
		{ "keep-replica", no_argument, NULL, OPT_KEEP },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	const char *to = NULL;
	bool resume = false, stop = false, reuse = false, keep = false;
	const char *rate = NULL;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm replicate", usage_replicate, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_RESUME:
			resume = true;
			break;
		case OPT_STOP:
			stop = true;
			break;
		case OPT_REUSE:
			reuse = true;
			break;
		case OPT_RATE:
			rate = optarg;
			break;
		case OPT_KEEP:
			keep = true;
			break;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if ((to != NULL) + resume + stop > 1)
		return cli_usage_error(a.cmd, "--to, --resume and --stop exclude each other");
	if ((reuse || rate) && !to)
		return cli_usage_error(a.cmd, "--reuse and --compare-rate go with --to");
	if (keep && !stop)
		return cli_usage_error(a.cmd, "--keep-replica goes with --stop");
	int64_t rate_mib = 0;
	if (rate && str_parse_int(rate, 0, 1 << 20, &rate_mib) < 0)
		return cli_usage_error(a.cmd, "--compare-rate takes MiB/s, 0-1048576");
	if (stop) {
		if (cli_call(cli, "DELETE", "/v1/vms", a.pos[0], keep ? "/replicate?keep_replica=true" : "/replicate", NULL,
			     &r) != CLI_OK)
			return CLI_FAIL;
		if (!cli->json)
			printf("replication of %s stopped%s\n", a.pos[0],
			       keep ? "; the replica is kept on the peer as a stale copy" : "");
		else
			out_json(r.json);
		return CLI_OK;
	}
	if (to) {
		body = json_pack("{s:s}", "to", to);
		if (reuse)
			json_object_set_new(body, "reuse", json_true());
		if (rate)
			json_object_set_new(body, "compare_rate", json_integer((json_int_t)rate_mib));
		rc = cli_call(cli, "POST", "/v1/vms", a.pos[0], "/replicate", body, &r);
	} else if (resume) {
		rc = cli_call(cli, "POST", "/v1/vms", a.pos[0], "/replicate/resume", NULL, &r);
	} else {
		rc = cli_call(cli, "GET", "/v1/vms", a.pos[0], "/replicate", NULL, &r);
	}
	if (rc != CLI_OK)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		print_repl(r.json);
	return CLI_OK;
}
