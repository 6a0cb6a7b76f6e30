/*
 * cmd_evacuate.c - `corral host evacuate`: move every running VM off a host
 * by live migration (docs/migration.md "Evacuate"), a verb of the host noun
 * listed in cmd_host.c's table.  The daemon runs it as a job; the CLI
 * follows it with job_follow unless --detach, then prints each VM's outcome.
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

static const char usage_evacuate[] =
	"usage: corral host evacuate HOST|--local [--to HOST] [--parallel N] [--detach] [--json]\n"
	"\n"
	"Live-migrate every running (or paused) VM off HOST, a trusted host, or off\n"
	"this host with --local, for maintenance.  Each VM goes to --to HOST, or to\n"
	"the trusted host with the most free memory; disks in shared pools stay,\n"
	"local disks are copied.  N migrations run at once (default 2).  Each VM's\n"
	"outcome is reported; a VM that cannot move keeps running where it was.\n"
	"Cancel with 'corral job cancel ID': migrations under way are cancelled\n"
	"(those VMs stay), no more start.  See docs/migration.md.\n"
	"\n"
	"Options:\n"
	"  --local              evacuate this host\n"
	"  --to HOST            move every VM to this trusted host\n"
	"  --parallel N         migrations at once, 1 to 16 (default 2)\n"
	"  --detach             print the job and return at once\n"
	"  --json               print the finished job as JSON\n"
	"  -h, --help           show this help\n";

enum { OPT_LOCAL = CLI_OPT_FIRST, OPT_TO, OPT_PARALLEL, OPT_DETACH };

int cli_host_evacuate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "local", no_argument, NULL, OPT_LOCAL },
		{ "to", required_argument, NULL, OPT_TO },
		{ "parallel", required_argument, NULL, OPT_PARALLEL },
		{ "detach", no_argument, NULL, OPT_DETACH },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	const char *to = NULL;
	bool local = false, detach = false;
	int64_t parallel = 0;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "host evacuate", usage_evacuate, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_LOCAL:
			local = true;
			break;
		case OPT_TO:
			to = optarg;
			break;
		case OPT_PARALLEL:
			if (cli_parse_int(optarg, 1, 16, &parallel) < 0)
				return cli_usage_error(a.cmd, "invalid --parallel '%s': want 1 to 16", optarg);
			break;
		case OPT_DETACH:
			detach = true;
			break;
		}
	}
	if ((rc = cli_args_count(&a, local ? 0 : 1, local ? 0 : 1, local ? "" : "HOST")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	if (!local)
		json_object_set_new(body, "host", json_string(a.pos[0]));
	if (to)
		json_object_set_new(body, "to", json_string(to));
	if (parallel)
		json_object_set_new(body, "parallel", json_integer(parallel));
	if (client_call(c, "POST", "/v1/host/evacuate", body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "evacuating", detach);
}
