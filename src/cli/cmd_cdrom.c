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
	"A relative ISO path is made absolute against the current directory.\n"
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

static void print_result(struct cli *cli, const struct reply *r, const char *what, const char *sel)
{
	const char *vm = out_str(r->json, "name");

	if (cli->json)
		out_json(r->json);
	else
		printf("%s vm %s\n", what, vm ? vm : sel);
}

static int cdrom_insert(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *iso = NULL;
	__do_free char *enc = NULL;
	__do_free char *path = NULL;
	__do_free char *what = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "cdrom insert", usage_insert, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1)
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
	if ((rc = cli_args_count(&a, 2, 2, a.npos == 0 ? "VM and ISO" : "ISO")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	iso = cli_abspath(a.pos[1]);
	body = json_pack("{ss}", "path", iso);
	enc = client_escape(c, a.pos[0]);
	path = xasprintf("/v1/vms/%s/cdrom", enc);
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	what = xasprintf("inserted %s into", iso);
	print_result(cli, &r, what, a.pos[0]);
	return CLI_OK;
}

static int cdrom_eject(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *enc = NULL;
	__do_free char *path = NULL;
	struct client *c;
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
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	enc = client_escape(c, a.pos[0]);
	path = xasprintf("/v1/vms/%s/cdrom%s", enc, force ? "?force=true" : "");
	if (client_call(c, "DELETE", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	print_result(cli, &r, "ejected the cdrom of", a.pos[0]);
	return CLI_OK;
}

static const struct cli_verb cdrom_verbs[] = {
	{ "insert", "put an ISO image in a VM's CD-ROM drive", cdrom_insert },
	{ "eject", "empty a VM's CD-ROM drive", cdrom_eject },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_cdrom = {
	"cdrom", "Change the medium in a VM's CD-ROM drive (live when running).", cdrom_verbs,
};
