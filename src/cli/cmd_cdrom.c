/*
 * cmd_cdrom.c - `corral cdrom insert|eject`: change the medium in a VM's
 * CD-ROM drive (/v1/vms/{vm}/cdrom), live when the VM runs.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_insert[] =
	"usage: corral cdrom insert VM ISO\n"
	"\n"
	"Put ISO in VM's CD-ROM drive; a running VM sees the medium change at once.\n"
	"ISO must be inside a storage pool or an allow_path directory of corrald.conf;\n"
	"a relative path is made absolute against the current directory.\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching one VM.\n"
	"\n"
	"Options:\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_eject[] =
	"usage: corral cdrom eject VM [--force]\n"
	"\n"
	"Empty VM's CD-ROM drive.\n"
	"\n"
	"Options:\n"
	"  --force      eject even if the guest has locked the tray\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_FORCE = CLI_OPT_FIRST };

static int cdrom_insert(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *iso = NULL;
	struct cli_args a;

	cli_args_init(&a, "cdrom insert", usage_insert, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "VM and ISO"))
		return a.exit_code;
	iso = cli_abspath(a.pos[1]);
	body = json_pack("{ss}", "path", iso);
	if (cli_call(cli, "POST", "/v1/vms", a.pos[0], "/cdrom", body, &r) != CLI_OK)
		return CLI_FAIL;
	return cli_vm_changed(cli, r.json, a.pos[0], "inserted %s into", iso);
}

static int cdrom_eject(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	bool force = false;
	int opt, rc;

	cli_args_init(&a, "cdrom eject", usage_eject, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_FORCE)
			force = true;
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if (cli_call(cli, "DELETE", "/v1/vms", a.pos[0], force ? "/cdrom?force=true" : "/cdrom", NULL, &r) != CLI_OK)
		return CLI_FAIL;
	return cli_vm_changed(cli, r.json, a.pos[0], "ejected the cdrom of");
}

static const struct cli_verb cdrom_verbs[] = {
	{ "insert", "put an ISO image in a VM's CD-ROM drive", cdrom_insert },
	{ "eject", "empty a VM's CD-ROM drive", cdrom_eject },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_cdrom = {
	"cdrom", "Change the medium in a VM's CD-ROM drive (live when running).", cdrom_verbs, NULL,
};
