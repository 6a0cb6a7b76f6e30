/*
 * cmd_snapshot.c - `corral snapshot ...`: take, list (as a tree), show,
 * revert to and delete a VM's snapshots (docs/snapshots.md).
 *
 * Each verb is one request under /v1/vms/{vm}/snapshots (docs/api.md);
 * the only work done here is drawing the tree from the parent links.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

#define SNAP_VM_HELP                                                              \
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching exactly one VM.\n"

static const char usage_create[] =
	"usage: corral snapshot create VM NAME [--memory] [--no-freeze] [--description TEXT]\n"
	"\n"
	"Take a snapshot of every disk of VM at once (qcow2 internal snapshots),\n"
	"running or stopped.  The VM's definition is saved with it.  The new\n"
	"snapshot is a child of the VM's current snapshot.  Of a running VM without\n"
	"--memory, the guest agent (when it answers) freezes the filesystems for\n"
	"the moment the snapshot is taken (consistency: filesystem-frozen), else the\n"
	"snapshot is crash-consistent (consistency: crash).  A UEFI VM's NVRAM vars\n"
	"(boot entries, Secure Boot keys) are kept with it, copied at the same\n"
	"point (a running VM is paused for that instant).\n"
	SNAP_VM_HELP
	"NAME: 1-63 of [A-Za-z0-9._-], not starting with '.' or '-'.\n"
	"\n"
	"Options:\n"
	"  --memory            also save the RAM and device state of the running\n"
	"                      VM (the VM is paused while it is written); a revert\n"
	"                      then resumes it exactly there\n"
	"  --no-freeze         do not freeze guest filesystems (crash-consistent)\n"
	"  --description TEXT  free text, up to 1024 characters\n"
	"  --json              print the snapshot as JSON\n"
	"  -h, --help          show this help\n";

static const char usage_list[] =
	"usage: corral snapshot list VM [--json]\n"
	"\n"
	"List VM's snapshots as a tree: children are indented under their parent,\n"
	"the current snapshot (the one the VM's state descends from) is marked\n"
	"'*'.  RAM says whether the running state was saved, SIZE is the size of\n"
	"that saved state, NVRAM whether a UEFI VM's vars were kept with it.\n"
	SNAP_VM_HELP
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"snapshots\":[...],\"current\":...}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral snapshot show VM NAME [--json]\n"
	"\n"
	"Show one snapshot: parent, time, description, RAM state and its size,\n"
	"NVRAM vars, state, volumes, and (with --json) the VM definition saved\n"
	"with it.\n"
	SNAP_VM_HELP
	"\n"
	"Options:\n"
	"  --json       print the snapshot as the API returns it\n"
	"  -h, --help   show this help\n";

static const char usage_revert[] =
	"usage: corral snapshot revert VM NAME [--yes]\n"
	"\n"
	"Bring every disk of VM, its definition and (UEFI) its NVRAM vars back to\n"
	"snapshot NAME.\n"
	"With saved RAM the VM ends running (or paused) exactly where the snapshot\n"
	"was taken.  Without, a running VM is powered off, its disks reverted, and\n"
	"booted again if it was running when the snapshot was taken; a stopped VM\n"
	"stays stopped.  The next snapshot becomes a child of NAME.\n"
	SNAP_VM_HELP
	"\n"
	"Options:\n"
	"  --json       print the snapshot reverted to as JSON\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral snapshot delete VM NAME... [--yes]\n"
	"\n"
	"Delete snapshots of VM, from every disk.  Any snapshot can go, also one\n"
	"in the middle of the tree: its children move up to its parent.\n"
	SNAP_VM_HELP
	"\n"
	"Options:\n"
	"  --json       print the answers as an array\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

enum { OPT_MEMORY = CLI_OPT_FIRST, OPT_DESCRIPTION, OPT_NO_FREEZE };

/* "/v1/vms/<vm>/snapshots" (caller frees), or NULL with the error printed. */
static char *snap_base(struct cli *cli, const char *vm)
{
	struct client *c = cli_client(cli);
	return c ? client_path(c, "/v1/vms", vm, "/snapshots") : NULL;
}

static int snap_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "memory", no_argument, NULL, OPT_MEMORY },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ "no-freeze", no_argument, NULL, OPT_NO_FREEZE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_json json_t *final = NULL;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	const char *desc = NULL;
	bool memory = false, no_freeze = false;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "snapshot create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_MEMORY)
			memory = true;
		else if (opt == OPT_DESCRIPTION)
			desc = optarg;
		else if (opt == OPT_NO_FREEZE)
			no_freeze = true;
	}
	if ((rc = cli_args_count(&a, 2, 2, "VM and snapshot name")) != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:b}", "name", a.pos[1], "memory", memory);
	if (no_freeze)
		json_object_set_new(body, "no_freeze", json_true());
	if (desc)
		json_object_set_new(body, "description", json_string(desc));
	if (!(path = snap_base(cli, a.pos[0])) ||
	    (rc = job_request(cli, "POST", path, body, "snapshot", &final)) != CLI_OK)
		return CLI_FAIL;
	if (cli->json)
		out_json(json_object_get(json_object_get(final, "result"), "snapshot"));
	else {
		const char *note = out_str(json_object_get(json_object_get(final, "result"), "snapshot"), "consistency_note");
		printf("created snapshot %s of vm %s%s%s%s\n", a.pos[1], a.pos[0], memory ? " (with RAM)" : "",
		       note ? "; consistency: " : "", note ? note : "");
	}
	return CLI_OK;
}

/* "2026-11-22 01:45:12" from an RFC 3339 time, into buf. */
static const char *short_time(const char *t, char *buf, size_t len)
{
	return out_time(t, buf, len);
}

static void add_subtree(struct table *t, json_t *snaps, const char *parent, int depth)
{
	json_t *s;
	size_t i;

	json_array_foreach(snaps, i, s) {
		const char *p = out_str(s, "parent");
		const char *name = out_str(s, "name");
		if (depth < 0) {
			/* Roots: no parent, or a parent that is not in the list. */
			bool found = false;
			size_t k;
			json_t *o;
			json_array_foreach(snaps, k, o)
				if (p && out_str(o, "name") && strcmp(out_str(o, "name"), p) == 0)
					found = true;
			if (found)
				continue;
		} else if (!p || strcmp(p, parent) != 0) {
			continue;
		}
		int d = depth < 0 ? 0 : depth;
		char when[32], sz[16];
		json_t *size = json_object_get(s, "size");
		bool mem = json_is_true(json_object_get(s, "memory"));
		__do_free char *cell = xasprintf("%*s%s%s", 2 * d, "", name,
						 json_is_true(json_object_get(s, "current")) ? " *" : "");
		table_add(t, cell, short_time(out_str(s, "created"), when, sizeof(when)), mem ? "yes" : "no",
			  mem && json_is_integer(size) ? out_size((uint64_t)json_integer_value(size), sz, sizeof(sz)) : "-",
			  json_is_true(json_object_get(s, "nvram")) ? "yes" : "no", out_str(s, "state"),
			  out_str(s, "description"));
		add_subtree(t, snaps, name, d + 1);
	}
}

static void print_tree(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "CREATED", "RAM", "SIZE", "NVRAM", "STATE", "DESCRIPTION" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	add_subtree(t, json_object_get(answer, "snapshots"), NULL, -1);
	table_print(t, stdout);
}

static int snap_list(struct cli *cli, int argc, char **argv)
{
	__do_free char *path = NULL;
	struct cli_args a;

	cli_args_init(&a, "snapshot list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "VM"))
		return a.exit_code;
	if (!(path = snap_base(cli, a.pos[0])))
		return CLI_FAIL;
	return cli_get_print(cli, path, print_tree);
}

static void show_snap(const json_t *s)
{
	__do_table struct table *t = table_new_kv();
	json_t *size = json_object_get(s, "size");
	char when[32], sz[16];
	const char *v;
	__do_free char *vols = out_join(json_object_get(s, "volumes"), ", ");

	table_add_kv(t, "name", "%s", (v = out_str(s, "name")) ? v : "-");
	table_add_kv(t, "parent", "%s", (v = out_str(s, "parent")) ? v : "-");
	table_add_kv(t, "created", "%s", short_time(out_str(s, "created"), when, sizeof(when)));
	table_add_kv(t, "description", "%s", (v = out_str(s, "description")) ? v : "");
	table_add_kv(t, "ram", "%s", json_is_true(json_object_get(s, "memory")) ? "yes" : "no");
	if (json_is_integer(size) && json_is_true(json_object_get(s, "memory")))
		table_add_kv(t, "ram size", "%s (%" PRIu64 " bytes)", out_size((uint64_t)json_integer_value(size), sz, sizeof(sz)),
			     (uint64_t)json_integer_value(size));
	table_add_kv(t, "nvram", "%s", json_is_true(json_object_get(s, "nvram")) ? "yes (the UEFI vars of that moment)" : "no");
	table_add_kv(t, "vm was", "%s", json_is_true(json_object_get(s, "was_running")) ? "running" : "not running");
	table_add_kv(t, "state", "%s", (v = out_str(s, "state")) ? v : "-");
	table_add_kv(t, "current", "%s", json_is_true(json_object_get(s, "current")) ? "yes" : "no");
	table_add_kv(t, "volumes", "%s", vols);
	table_print(t, stdout);
}

static int snap_show(struct cli *cli, int argc, char **argv)
{
	__do_free char *base = NULL;
	struct cli_args a;

	cli_args_init(&a, "snapshot show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "VM and snapshot name"))
		return a.exit_code;
	if (!(base = snap_base(cli, a.pos[0])))
		return CLI_FAIL;
	return cli_show(cli, base, a.pos[1], show_snap);
}

static int snap_revert(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *final = NULL;
	__do_free char *base = NULL;
	__do_free char *path = NULL;
	struct cli_args a;

	cli_args_init(&a, "snapshot revert", usage_revert, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 2, 2, "VM and snapshot name"))
		return a.exit_code;
	{
		int rc = cli_confirm(&a, "revert vm %s to snapshot %s (what changed since is lost)", a.pos[0], a.pos[1]);
		if (rc != CLI_OK)
			return rc;
	}
	if (!(base = snap_base(cli, a.pos[0])))
		return CLI_FAIL;
	path = client_path(&cli->client, base, a.pos[1], "/revert");
	if (job_request(cli, "POST", path, NULL, "reverting", &final) != CLI_OK)
		return CLI_FAIL;
	if (cli->json)
		out_json(json_object_get(json_object_get(final, "result"), "snapshot"));
	else
		printf("reverted vm %s to snapshot %s\n", a.pos[0], a.pos[1]);
	return CLI_OK;
}

static int snap_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	__do_free char *base = NULL;
	struct cli_args a;
	int rc = CLI_OK;

	cli_args_init(&a, "snapshot delete", usage_delete, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 2, -1, "VM and snapshot name"))
		return a.exit_code;
	{
		__do_free char *names = cli_args_joined(&a, 1);
		if ((rc = cli_confirm(&a, "delete snapshot%s %s of vm %s", a.npos > 2 ? "s" : "", names, a.pos[0])) != CLI_OK)
			return rc;
	}
	if (!(base = snap_base(cli, a.pos[0])))
		return CLI_FAIL;
	for (int i = 1; i < a.npos; i++) {
		__do_free char *path = client_path(&cli->client, base, a.pos[i], NULL);
		__do_json json_t *final = NULL;
		if (job_request(cli, "DELETE", path, NULL, "deleting", &final) != CLI_OK) {
			rc = CLI_FAIL;
			continue;
		}
		json_array_append_new(all, json_pack("{s:s}", "deleted", a.pos[i]));
		if (!cli->json)
			printf("deleted snapshot %s\n", a.pos[i]);
	}
	if (cli->json)
		out_json(all);
	return rc;
}

static const struct cli_verb snapshot_verbs[] = {
	{ "create", "take a snapshot of a VM (disks, optionally RAM)", snap_create },
	{ "list", "list a VM's snapshots as a tree", snap_list },
	{ "show", "show one snapshot", snap_show },
	{ "revert", "bring a VM back to a snapshot", snap_revert },
	{ "delete", "delete snapshots", snap_delete },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_snapshot = {
	"snapshot", "Snapshots of a VM's disks (and RAM): a tree you can revert to anywhere.", snapshot_verbs, NULL,
};
