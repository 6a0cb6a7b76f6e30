/*
 * cmd_clone.c - `corral vm template` and `corral vm clone`: the verbs of the
 * vm noun that make templates and copies (listed in cmd_vm.c's verb table).
 *
 * A linked clone is answered at once with the new VM; a full clone with a
 * job, followed to its end with job_wait (cmd_job.c) like `disk import`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_template[] =
	"usage: corral vm template VM [--yes]\n"
	"\n"
	"Turn a stopped VM into a read-only template: its volumes become read-only,\n"
	"it can no longer be started, have disks or the CD-ROM changed, or be edited\n"
	"(except its name, description and tags); it can be cloned, also as linked\n"
	"clones.  A template cannot be turned back into a VM: clone it instead.\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching one VM.\n"
	"\n"
	"Options:\n"
	"  --json       print the template as JSON\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_clone[] =
	"usage: corral vm clone SRC NEW [--linked] [--start] [--json]\n"
	"\n"
	"Make NEW, a copy of VM SRC with a new uuid and MAC address, autostart off.\n"
	"Its disks are new volumes NEW-disk0, NEW-disk1, ... next to SRC's.\n"
	"A full clone (the default) copies every disk (SRC must be stopped or a\n"
	"template); progress is shown when stderr is a terminal.  A linked clone\n"
	"(--linked) only records its own changes on top of SRC's volumes, so it is\n"
	"made at once and takes little space, but SRC must be a template ('corral\n"
	"vm template SRC') and cannot be deleted while linked clones exist.\n"
	"SRC is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching one VM.\n"
	"\n"
	"Options:\n"
	"  --linked     linked clone on SRC's volumes (SRC must be a template)\n"
	"  --start      start NEW once it is created\n"
	"  --json       print the new VM as JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_LINKED = CLI_OPT_FIRST, OPT_START };

int cli_vm_template(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { CLI_YES_OPTION, CLI_COMMON_OPTIONS, { 0 } };
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm template", usage_template, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1)
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if ((rc = cli_confirm(&a, "turn vm %s into a template (read-only for good: it can no longer start)", a.pos[0])) !=
	    CLI_OK)
		return rc;
	if (cli_call(cli, "POST", "/v1/vms", a.pos[0], "/template", NULL, &r) != CLI_OK)
		return CLI_FAIL;
	return cli_vm_changed(cli, r.json, a.pos[0], "made a template of");
}

/* GET the VM `uuid` (new reference, NULL with the error printed). */
static json_t *get_vm(struct client *c, const char *uuid)
{
	__do_free char *path = client_path(c, "/v1/vms", uuid, NULL);
	__do_reply struct reply r = REPLY_INIT;

	if (client_call(c, "GET", path, NULL, &r, false) < 0)
		return NULL;
	return json_incref(r.json);
}

/* Start the clone just made; prints "NAME: STATE" unless --json. */
static int start_clone(struct cli *cli, struct client *c, const char *name, const char *uuid)
{
	__do_free char *sel = xasprintf("uuid:%s", uuid);
	__do_free char *path = client_path(c, "/v1/vms", sel, "/start");
	__do_json json_t *final = NULL;
	const char *state;

	(void)c;
	if (job_request(cli, "POST", path, NULL, NULL, &final) != CLI_OK) {
		if (final)
			cli_error("%s", out_str(final, "error") ?: "start failed");
		return CLI_FAIL;
	}
	state = out_str(json_array_get(json_object_get(json_object_get(final, "result"), "vms"), 0), "state");
	if (!cli->json)
		printf("%s: %s\n", name, state ? state : "started");
	return CLI_OK;
}

int cli_vm_clone(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "linked", no_argument, NULL, OPT_LINKED },
		{ "start", no_argument, NULL, OPT_START },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_json json_t *final = NULL;
	__do_json json_t *vm = NULL;
	__do_free char *path = NULL;
	__do_free char *uuid = NULL;
	bool linked = false, start = false;
	struct client *c;
	struct cli_args a;
	json_t *job;
	int opt, rc;

	cli_args_init(&a, "vm clone", usage_clone, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_LINKED)
			linked = true;
		else if (opt == OPT_START)
			start = true;
	}
	if ((rc = cli_args_count(&a, 2, 2, "source VM and new name")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	body = json_pack("{s:s,s:b}", "name", a.pos[1], "linked", linked);
	path = client_path(c, "/v1/vms", a.pos[0], "/clone");
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	job = json_object_get(r.json, "job");
	if (json_is_object(job)) {
		if ((rc = job_wait(cli, job, "cloning", &final)) != CLI_OK)
			return rc;
		/* The job names the new VM; look it up by name (it was free when the job started). */
		if (!(vm = get_vm(c, a.pos[1])))
			return CLI_FAIL;
	} else {
		vm = json_incref(r.json);
	}
	uuid = xstrdup(out_str(vm, "uuid") ? out_str(vm, "uuid") : a.pos[1]);
	if (!cli->json)
		printf("cloned vm %s as %s (%s, uuid %s)\n", a.pos[0], a.pos[1], linked ? "linked" : "full copy", uuid);
	if (start && (rc = start_clone(cli, c, a.pos[1], uuid)) != CLI_OK)
		return rc;
	if (cli->json) {
		if (start) {
			json_decref(vm);
			if (!(vm = get_vm(c, uuid)))
				return CLI_FAIL;
		}
		out_json(vm);
	}
	return CLI_OK;
}
