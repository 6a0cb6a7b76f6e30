/*
 * cmd_image.c - looking inside disks: `corral disk files|cat|get` (the API's
 * /v1/volumes/{name}/fs|content and /v1/images/fs|content?file=) and
 * `corral vm boot-entries` (/v1/vms/{vm}/boot-entries).
 *
 * The disk is a volume name or, when the argument holds a '/', an image file
 * on corrald's host (made absolute against the current directory).  File
 * contents are streamed straight from the socket to stdout or the
 * destination file (files.c: cli_download_to writes a temp file next to
 * the destination and renames it into place, so DEST is never left
 * half-written; cli_print_listing prints directory listings).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

#define DISK_ARG_HELP                                                           \
	"DISK is a volume name, or an image file on corrald's host when it holds\n" \
	"a '/' (./disk.img for one in the current directory): raw or qcow2.\n"     \
	"A volume of a running VM is refused; read one of its internal\n"          \
	"snapshots instead (corral snapshot create VM NAME; --snapshot NAME).\n"

#define DISK_OPTS_HELP                                                          \
	"  --partition N         read partition N, or the LVM2 logical volume N =\n"  \
	"                        VG/LV (default: the only filesystem)\n"            \
	"  --snapshot NAME       read the qcow2 internal snapshot NAME: the disk as\n" \
	"                        it was when the snapshot was taken\n"

static const char usage_ls[] =
	"usage: corral disk files DISK [PATH] [--partition N] [--snapshot NAME] [--long]\n"
	"\n"
	"Without PATH (and --partition), list DISK's partition table: NUMBER START\n"
	"SIZE TYPE FSTYPE NAME.  With PATH (absolute, inside the filesystem), list\n"
	"that directory, or show that file.\n" DISK_ARG_HELP
	"\n"
	"Options:\n" DISK_OPTS_HELP
	"  -l, --long            MODE SIZE MTIME NAME (-> TARGET for symlinks)\n"
	"  --json                print the API's answer\n"
	"  -h, --help            show this help\n";

static const char usage_cat[] =
	"usage: corral disk cat DISK PATH [--partition N] [--snapshot NAME]\n"
	"\n"
	"Write the file PATH of DISK's filesystem to stdout.\n" DISK_ARG_HELP
	"\n"
	"Options:\n" DISK_OPTS_HELP
	"  -h, --help            show this help\n";

static const char usage_get[] =
	"usage: corral disk get DISK PATH DEST [--partition N] [--snapshot NAME] [--force]\n"
	"\n"
	"Copy the file PATH of DISK's filesystem to DEST, a file or an existing\n"
	"directory (then DEST/<name of PATH>), or '-' for stdout.  An existing file\n"
	"is replaced only with --force; the copy is written to a temp file next to\n"
	"DEST and renamed into place.\n"
	DISK_ARG_HELP
	"\n"
	"Options:\n" DISK_OPTS_HELP
	"  --force               replace DEST if it exists\n"
	"  --json                print {\"path\",\"dest\",\"size\"} when done\n"
	"  -h, --help            show this help\n";

static const char usage_boot_entries[] =
	"usage: corral vm boot-entries VM [--json]\n"
	"\n"
	"List the boot entries of the GRUB or BLS configuration on VM's first disk:\n"
	"what '--boot disk-kernel' can start.  '*' marks the configuration's\n"
	"default, '>' the entry the VM boots (its --boot-entry, else the default),\n"
	"'!' an entry that cannot boot (its kernel or initrd is not on the disk).\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching one VM.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

enum { OPT_PARTITION = CLI_OPT_FIRST, OPT_SNAPSHOT, OPT_FORCE, OPT_LONG };

struct disk_opts {
	const char *partition;
	const char *lv;		/* --partition VG/LV */
	const char *snapshot;
	bool force, lng;
};

/* Parse the options of files/cat/get; -1 when done, else the verb's return code. */
static int parse_opts(struct cli *cli, struct cli_args *a, bool get, bool ls, struct disk_opts *o)
{
	static const struct option opts_ls[] = {
		{ "partition", required_argument, NULL, OPT_PARTITION },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "long", no_argument, NULL, OPT_LONG },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	static const struct option opts_get[] = {
		{ "partition", required_argument, NULL, OPT_PARTITION },
		{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	int opt;
	int64_t n;

	while ((opt = cli_getopt(cli, a, ls ? opts_ls : opts_get)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a->exit_code;
		case OPT_PARTITION:
			if (cli_parse_int(optarg, 1, 256, &n) == 0)
				o->partition = optarg;
			else if (strchr(optarg, '/') || strchr(optarg, '-'))
				o->lv = optarg;	/* checked by corrald */
			else
				return cli_usage_error(a->cmd,
						       "invalid --partition '%s': want a partition number or a logical volume VG/LV",
						       optarg);
			break;
		case OPT_SNAPSHOT:
			o->snapshot = optarg;
			break;
		case OPT_FORCE:
			if (!get)
				return cli_usage_error(a->cmd, "unknown option --force");
			o->force = true;
			break;
		case OPT_LONG:
			o->lng = true;
			break;
		}
	}
	return -1;
}

static void query_add(struct client *c, struct buf *url, const char *key, const char *value)
{
	if (!value)
		return;
	__do_free char *enc = client_escape(c, value);
	buf_printf(url, "%s%s=%s", strchr(url->s, '?') ? "&" : "?", key, enc);
}

/* The request path for DISK (`what`: "fs" or "content"). */
static char *disk_url(struct client *c, const char *disk, const char *what, const char *path,
		      const struct disk_opts *o)
{
	struct buf url = BUF_INIT;

	if (strchr(disk, '/')) {
		__do_free char *abs = cli_abspath(disk);
		buf_printf(&url, "/v1/images/%s", what);
		query_add(c, &url, "file", abs);
	} else {
		__do_free char *enc = client_escape(c, disk);
		buf_printf(&url, "/v1/volumes/%s/%s", enc, what);
	}
	query_add(c, &url, "path", path);
	query_add(c, &url, "partition", o->partition);
	query_add(c, &url, "lv", o->lv);
	query_add(c, &url, "snapshot", o->snapshot);
	return buf_detach(&url);
}

static int64_t int_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* LVM2 logical volumes after the table: VOLUME SIZE FSTYPE, or the reason one cannot be read. */
static void print_volumes(const json_t *answer)
{
	static const char *const headers[] = { "VOLUME", "SIZE", "FSTYPE" };
	json_t *vols = json_object_get(answer, "volumes"), *v;
	size_t i;

	if (!json_array_size(vols))
		return;
	printf("\nLVM2 logical volumes (--partition VG/LV):\n");
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_array_foreach(vols, i, v) {
		char size[16];
		const char *fs = out_str(v, "fstype"), *e = out_str(v, "error");
		table_add(t, out_str(v, "name"), out_size((uint64_t)int_of(v, "size"), size, sizeof(size)),
			  e ? "unreadable" : fs ? fs : "-");
	}
	table_print(t, stdout);
	json_array_foreach(vols, i, v) {
		const char *e = out_str(v, "error");
		if (e)
			printf("%s: %s\n", out_str(v, "name"), e);
	}
}

static void print_partitions(const json_t *answer)
{
	static const char *const headers[] = { "NUMBER", "START", "SIZE", "TYPE", "FSTYPE", "NAME", "BOOT" };
	json_t *parts = json_object_get(answer, "partitions");
	const char *scheme = out_str(answer, "scheme");
	char sz[16];
	json_t *p;
	size_t i;

	if (!json_array_size(parts)) {
		const char *fs = out_str(answer, "fstype");
		printf("no partition table (%s); filesystem on the whole disk: %s\n",
		       out_size((uint64_t)int_of(answer, "size"), sz, sizeof(sz)), fs ? fs : "none found");
		print_volumes(answer);
		return;
	}
	printf("partition table: %s, disk size %s\n", scheme ? scheme : "?",
	       out_size((uint64_t)int_of(answer, "size"), sz, sizeof(sz)));
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_array_foreach(parts, i, p) {
		char num[24], start[24], size[16];
		snprintf(num, sizeof(num), "%" PRId64, int_of(p, "number"));
		snprintf(start, sizeof(start), "%" PRId64, int_of(p, "start"));
		const char *name = out_str(p, "name"), *fs = out_str(p, "fstype");
		table_add(t, num, start, out_size((uint64_t)int_of(p, "size"), size, sizeof(size)), out_str(p, "type"),
			  fs ? fs : "-", name && *name ? name : "-",
			  json_is_true(json_object_get(p, "bootable")) ? "*" : "");
	}
	table_print(t, stdout);
	print_volumes(answer);
}

int cli_disk_ls(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *url = NULL;
	struct disk_opts o = { 0 };
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "disk files", usage_ls, argc, argv);
	if ((rc = parse_opts(cli, &a, false, true, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, 2, "disk")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = disk_url(c, a.pos[0], "fs", a.npos > 1 ? a.pos[1] : NULL, &o);
	if (client_call(c, "GET", url, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else if (json_object_get(r.json, "partitions"))
		print_partitions(r.json);
	else
		cli_print_listing(r.json, o.lng);
	return CLI_OK;
}

int cli_disk_cat(struct cli *cli, int argc, char **argv)
{
	__do_free char *url = NULL;
	struct disk_opts o = { 0 };
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "disk cat", usage_cat, argc, argv);
	if ((rc = parse_opts(cli, &a, false, false, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 2, 2, "disk and path")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = disk_url(c, a.pos[0], "content", a.pos[1], &o);
	return cli_download_to(cli, a.cmd, url, a.pos[1], "-", false);
}

int cli_disk_get(struct cli *cli, int argc, char **argv)
{
	__do_free char *url = NULL;
	struct disk_opts o = { 0 };
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "disk get", usage_get, argc, argv);
	if ((rc = parse_opts(cli, &a, true, false, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 3, 3, "disk, path and destination")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = disk_url(c, a.pos[0], "content", a.pos[1], &o);
	return cli_download_to(cli, a.cmd, url, a.pos[1], a.pos[2], o.force);
}

static void print_boot_entries(const json_t *answer)
{
	json_t *entries = json_object_get(answer, "entries"), *e;
	const char *fstype = out_str(answer, "fstype"), *sel_err = out_str(answer, "selection_error");
	int64_t part = int_of(answer, "partition");
	size_t i;

	__do_free char *where = part ? xasprintf("partition %" PRId64, part) : xstrdup("the whole disk");
	printf("%s (%s) on %s (%s) of volume %s\n", out_str(answer, "config"), out_str(answer, "format"), where,
	       fstype ? fstype : "?", out_str(answer, "volume"));
	json_array_foreach(entries, i, e) {
		bool def = json_is_true(json_object_get(e, "default")), sel = json_is_true(json_object_get(e, "selected"));
		const char *kernel = out_str(e, "kernel"), *cmdline = out_str(e, "cmdline");
		__do_free char *initrds = out_join(json_object_get(e, "initrds"), " ");
		const char *problem = out_str(e, "problem");
		printf("%c%c%c%3" PRId64 "  %s\n", def ? '*' : ' ', sel ? '>' : ' ', problem ? '!' : ' ', int_of(e, "index"),
		       out_str(e, "title"));
		if (problem)
			printf("         cannot boot: %s\n", problem);
		printf("         kernel  %s\n", kernel ? kernel : "-");
		if (*initrds)
			printf("         initrd  %s\n", initrds);
		printf("         cmdline %s\n", cmdline && *cmdline ? cmdline : "-");
	}
	if (sel_err)
		printf("no entry selected: %s\n", sel_err);
}

int cli_vm_boot_entries(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;

	cli_args_init(&a, "vm boot-entries", usage_boot_entries, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "VM"))
		return a.exit_code;
	if (cli_call(cli, "GET", "/v1/vms", a.pos[0], "/boot-entries", NULL, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		print_boot_entries(r.json);
	return CLI_OK;
}
