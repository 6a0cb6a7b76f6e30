/*
 * cmd_import.c - `corral vm import`: an OVA or OVF appliance becomes a new
 * VM (a verb of the vm noun, listed in cmd_vm.c's verb table).  The daemon
 * does the work as a "vm-import" job (docs/import.md); this follows it with
 * progress like `disk import` and then prints the new VM and every warning
 * the job recorded (what the appliance asked for that corral does not make).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_import[] =
	"usage: corral vm import FILE.ova|FILE.ovf [--name NAME] [--pool POOL]\n"
	"                        [--network NET] [--start] [--json]\n"
	"\n"
	"Import an appliance (an OVA archive, or an OVF descriptor with its disk\n"
	"files next to it) as a new VM: its CPUs, memory, disks and NICs are read\n"
	"from the OVF descriptor, the manifest (.mf) is checked when there is one,\n"
	"and each disk (VMDK, VDI, ...) is converted into a qcow2 volume NAME-diskN\n"
	"of the pool.  Progress is shown when stderr is a terminal.  What corral\n"
	"cannot make (EFI firmware, USB, sound, vApp properties, ...) is printed\n"
	"as a warning.  A malformed or hostile archive is refused and nothing is\n"
	"left behind.  FILE must be inside a storage pool or an allow_path\n"
	"directory of corrald.conf.\n"
	"\n"
	"Options:\n"
	"  --name NAME    name of the new VM (default: the descriptor's, made a\n"
	"                 valid name)\n"
	"  --pool POOL    storage pool for its volumes (default: 'default')\n"
	"  --network NET  put every NIC on corral network NET (default: the network\n"
	"                 of the descriptor's name if corral has one, else user mode)\n"
	"  --start        start the VM once it is imported\n"
	"  --json         print the finished job as JSON\n"
	"  -h, --help     show this help\n";

enum { OPT_NAME = CLI_OPT_FIRST, OPT_POOL, OPT_NETWORK, OPT_START };

int cli_vm_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "network", required_argument, NULL, OPT_NETWORK },
		{ "start", no_argument, NULL, OPT_START },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	static const struct cli_body_member members[] = {
		{ OPT_NAME, "name" }, { OPT_POOL, "pool" }, { OPT_NETWORK, "network" }, { OPT_START, "start" }, { 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_json json_t *final = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "vm import", usage_import, argc, argv);
	if (!cli_file_request_args(cli, &a, opts, members, "appliance file", &body))
		return a.exit_code;
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/vms/import", body, &r, false) < 0)
		return CLI_FAIL;
	rc = job_wait(cli, json_object_get(r.json, "job"), "importing", &final);
	if (cli->json) {
		if (final)
			out_json(final);
		return rc;
	}
	if (rc != CLI_OK)
		return rc;
	const json_t *res = json_object_get(final, "result"), *w;
	size_t i;
	json_array_foreach(json_object_get(res, "warnings"), i, w)
		fprintf(stderr, "warning: %s\n", json_string_value(w) ? json_string_value(w) : "?");
	printf("imported vm %s (volumes:", out_str(res, "vm") ? out_str(res, "vm") : "?");
	json_array_foreach(json_object_get(res, "volumes"), i, w)
		printf(" %s", json_string_value(w) ? json_string_value(w) : "?");
	printf(")%s\n", json_is_true(json_object_get(res, "started")) ? ", started" : "");
	return CLI_OK;
}
