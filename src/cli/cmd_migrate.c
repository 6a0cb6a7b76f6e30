/*
 * cmd_migrate.c - `corral vm migrate`: live migration of a running VM to a
 * trusted host (docs/migration.md), a verb of the vm noun listed in
 * cmd_vm.c's table.  The daemon runs it as a job; the CLI follows it with
 * job_follow (progress when stderr is a terminal) unless --detach.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_migrate[] =
	"usage: corral vm migrate VM --to HOST [--offline|--quick] [--with-local-disks]\n"
	"                         [--max-downtime MS] [--bandwidth RATE] [--detach] [--json]\n"
	"\n"
	"Move a running VM to HOST, a trusted host ('corral host trust list'), while\n"
	"the guest keeps running; it pauses only at the switch (--max-downtime).\n"
	"Disks in a pool marked shared on both hosts stay where they are; other disks\n"
	"need --with-local-disks: they are copied into the pool of the same name on\n"
	"HOST while the guest runs, then the memory follows.  The streams between the\n"
	"hosts are encrypted (TLS with a key made for this migration).  On any\n"
	"failure or cancel ('corral job cancel ID') the VM keeps running here and\n"
	"nothing is left on HOST.  A VM replicated in sync to HOST ('corral vm\n"
	"replicate') moves onto its replica there: its memory only, no disk copied;\n"
	"it is no longer replicated afterwards.  VM is a name, a uuid, 'name:GLOB'\n"
	"or 'uuid:UUID' matching one VM.  See docs/migration.md.\n"
	"\n"
	"Options:\n"
	"  --to HOST            the trusted host to move the VM to (required)\n"
	"  --offline            move a stopped VM: its definition and disks (local disks\n"
	"                       are copied into the pool of the same name on HOST)\n"
	"  --quick              pause the guest, move it, resume it on HOST (local disks\n"
	"                       are copied first, while it runs): the guest stands still\n"
	"                       while its memory moves, but even a very busy guest moves\n"
	"  --with-local-disks   copy disks that are not in a shared pool\n"
	"  --max-downtime MS    longest pause of the guest at the switch (default 300)\n"
	"  --bandwidth RATE     cap the memory stream and each disk copy, bytes/s\n"
	"                       with a K/M/G suffix (MiB/s: '100M'); default: unlimited\n"
	"  --detach             print the job and return at once\n"
	"  --json               print the finished job as JSON\n"
	"  -h, --help           show this help\n";

enum { OPT_TO = CLI_OPT_FIRST, OPT_LOCAL, OPT_DOWNTIME, OPT_BW, OPT_DETACH, OPT_OFFLINE, OPT_QUICK };

int cli_vm_migrate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_TO },
		{ "with-local-disks", no_argument, NULL, OPT_LOCAL },
		{ "max-downtime", required_argument, NULL, OPT_DOWNTIME },
		{ "bandwidth", required_argument, NULL, OPT_BW },
		{ "detach", no_argument, NULL, OPT_DETACH },
		{ "offline", no_argument, NULL, OPT_OFFLINE },
		{ "quick", no_argument, NULL, OPT_QUICK },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	const char *to = NULL;
	bool local = false, detach = false, offline = false, quick = false;
	long long downtime = 0;
	uint64_t bw = 0;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm migrate", usage_migrate, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		char *end = NULL;
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_LOCAL:
			local = true;
			break;
		case OPT_OFFLINE:
			offline = true;
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case OPT_DETACH:
			detach = true;
			break;
		case OPT_DOWNTIME:
			downtime = strtoll(optarg, &end, 10);
			if (!*optarg || *end || downtime < 1 || downtime > 60000)
				return cli_usage_error(a.cmd, "invalid --max-downtime '%s': want 1 to 60000 ms", optarg);
			break;
		case OPT_BW:
			if (cli_parse_size(optarg, 1, &bw) < 0 || bw == 0)
				return cli_usage_error(a.cmd, "invalid --bandwidth '%s': want bytes/s, e.g. 100M", optarg);
			break;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if (!to)
		return cli_usage_error(a.cmd, "--to HOST is required");
	if (offline && quick)
		return cli_usage_error(a.cmd, "--offline and --quick exclude each other");
	if (quick && downtime)
		return cli_usage_error(a.cmd, "--max-downtime is for a live migration; --quick pauses the guest first");
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	body = json_pack("{s:s, s:b}", "to", to, "with_local_disks", local);
	if (downtime)
		json_object_set_new(body, "max_downtime_ms", json_integer(downtime));
	if (offline)
		json_object_set_new(body, "offline", json_true());
	if (quick)
		json_object_set_new(body, "quick", json_true());
	if (bw)
		json_object_set_new(body, "bandwidth", json_integer((json_int_t)bw));
	path = client_path(c, "/v1/vms", a.pos[0], "/migrate");
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "migrating", detach);
}
