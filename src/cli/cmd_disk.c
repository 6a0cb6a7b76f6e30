/*
 * cmd_disk.c - `corral disk ...`: volumes (the API's /v1/volumes) and
 * attaching them to VMs (/v1/vms/{vm}/disks).
 *
 * Sizes on the command line take units (K, M, G, T, powers of 1024); a
 * bare number means MiB, like --memory.  Imports run as a job on corrald;
 * job_wait (cmd_job.c) follows it and shows the progress.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "reslimits.h"
#include "output.h"
#include "util/buf.h"
#include "util/strutil.h"
#include "util/common.h"

#define MIB (1024u * 1024u)

static const char usage_create[] =
	"usage: corral disk create NAME SIZE [--format qcow2|raw] [--pool POOL]\n"
	"       corral disk create NAME --format dir [--pool POOL]\n"
	"\n"
	"Create an empty volume NAME of SIZE in corrald's storage.  SIZE takes the\n"
	"units K, M, G, T (powers of 1024, e.g. 10G); a bare number is MiB.  A\n"
	"directory volume (--format dir, no SIZE) is a directory in the pool that\n"
	"containers mount ('ct edit --mount VOLUME:/path', docs/containers.md).\n"
	"\n"
	"Options:\n"
	"  --format FMT   qcow2 (default), raw, or dir (a directory for containers)\n"
	"  --pool POOL    storage pool to create it in (default: the pool 'default')\n"
	"  --json         print the created volume as JSON\n"
	"  -h, --help     show this help\n";

static const char usage_list[] =
	"usage: corral disk list [--json]\n"
	"\n"
	"List volumes as NAME POOL FORMAT CAPACITY ALLOCATION USED-BY PATH.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"volumes\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral disk show VOLUME [--json]\n"
	"\n"
	"Show one volume: pool, format, capacity, allocation, path and the VM using it.\n"
	"\n"
	"Options:\n"
	"  --json       print the volume as the API returns it\n"
	"  -h, --help   show this help\n";

static const char usage_resize[] =
	"usage: corral disk resize VOLUME SIZE\n"
	"       corral disk resize VOLUME +SIZE\n"
	"\n"
	"Grow a volume to SIZE, or by +SIZE.  Volumes only grow; a volume whose VM\n"
	"runs is resized live.  SIZE takes units K, M, G, T; a bare number is MiB.\n"
	"\n"
	"Options:\n"
	"  --json       print the resized volume as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral disk delete VOLUME... [--yes]\n"
	"\n"
	"Delete volumes.  A volume a VM uses is refused; detach it first.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_import[] =
	"usage: corral disk import FILE [--name NAME] [--format qcow2|raw] [--pool POOL]\n"
	"                          [--source-format FMT]\n"
	"\n"
	"Copy an image file (its format is probed: qcow2, vmdk, vdi, vpc, vhdx,\n"
	"raw) into a new volume.  A file that is neither a known image format nor\n"
	"a raw disk with a partition table or filesystem (a text file, an OVA, an\n"
	"archive) is refused unless --source-format raw is given; an OVA or OVF\n"
	"appliance is imported with 'corral vm import'.  FILE must be inside a\n"
	"storage pool or an allow_path directory of corrald.conf; a relative path\n"
	"is made absolute against the current directory.  Progress is shown when\n"
	"stderr is a terminal.\n"
	"\n"
	"Options:\n"
	"  --name NAME    volume name (default: FILE's base name without extension)\n"
	"  --format FMT   format of the new volume: qcow2 (default) or raw\n"
	"  --pool POOL    storage pool to put it in (default: the pool 'default')\n"
	"  --source-format FMT  FILE's format, not probed: raw, qcow2, vmdk, vdi,\n"
	"                 vpc or vhdx (raw: import any file as a raw disk)\n"
	"  --json         print the finished job as JSON\n"
	"  -h, --help     show this help\n";

static const char usage_attach[] =
	"usage: corral disk attach VM VOLUME [--bus virtio|scsi|ide] [I/O LIMITS]\n"
	"\n"
	"Add VOLUME to VM's disks.  A running VM gets it hot-plugged (virtio and\n"
	"scsi only); the definition is changed either way.\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' matching one VM.\n"
	"\n"
	"The I/O limits are kept in the definition, set at every start before the\n"
	"guest runs and, on a running VM, right after the hot-plug; change them\n"
	"with 'corral vm set VM --disk VOLUME --iops N' (docs/limits.md).\n"
	"\n"
	"Options:\n"
	"  --bus BUS             virtio (default), scsi or ide\n"
	LIMITS_DISK_HELP
	"  --json                print the VM as JSON\n"
	"  -h, --help            show this help\n";

static const char usage_detach[] =
	"usage: corral disk detach VM VOLUME\n"
	"\n"
	"Remove VOLUME from VM's disks (hot-unplugged when the VM runs).  The\n"
	"volume itself is kept.\n"
	"\n"
	"Options:\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_move[] =
	"usage: corral disk move VOLUME --pool POOL\n"
	"\n"
	"Move a volume's image to another storage pool.  When its VM runs, QEMU\n"
	"mirrors the disk live while the guest keeps working; otherwise the image\n"
	"is copied.  Refused for volumes with snapshots (delete them first), a\n"
	"template's volumes, linked clones and the volumes linked clones are based\n"
	"on.  Progress is shown when stderr is a terminal.\n"
	"\n"
	"Options:\n"
	"  --pool POOL    the target pool (required)\n"
	"  --json         print the finished job as JSON\n"
	"  -h, --help     show this help\n";

enum { OPT_FORMAT = CLI_OPT_FIRST, OPT_NAME, OPT_BUS, OPT_POOL, OPT_SOURCE_FORMAT };

static uint64_t size_of(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static int disk_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "pool", required_argument, NULL, OPT_POOL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	const char *format = NULL, *pool = NULL;
	struct client *c;
	struct cli_args a;
	uint64_t size;
	char sz[16];
	int opt, rc;

	cli_args_init(&a, "disk create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_FORMAT)
			format = optarg;
		else if (opt == OPT_POOL)
			pool = optarg;
	}
	bool is_dir = format && strcmp(format, "dir") == 0;
	if ((rc = cli_args_count(&a, is_dir ? 1 : 2, is_dir ? 1 : 2,
				 is_dir ? "volume name (a directory volume has no size)" : "volume name and size")) != CLI_OK)
		return rc;
	if (is_dir)
		size = 0;
	else if (cli_parse_size(a.pos[1], MIB, &size) < 0 || size == 0 || size > INT64_MAX)
		return cli_usage_error(a.cmd, "invalid size '%s': want e.g. 512M or 10G (a bare number is MiB)", a.pos[1]);
	body = is_dir ? json_pack("{ss}", "name", a.pos[0]) : json_pack("{sssI}", "name", a.pos[0], "size", (json_int_t)size);
	if (format)
		json_object_set_new(body, "format", json_string(format));
	if (pool)
		json_object_set_new(body, "pool", json_string(pool));
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/volumes", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
	} else {
		const char *name = out_str(r.json, "name"), *fmt = out_str(r.json, "format");
		uint64_t cap = size_of(r.json, "capacity");
		if (is_dir)
			printf("created volume %s (a directory: %s)\n", name ? name : a.pos[0], out_str(r.json, "path") ?: "-");
		else
			printf("created volume %s (%s, %s)\n", name ? name : a.pos[0],
			       out_size(cap ? cap : size, sz, sizeof(sz)), fmt ? fmt : format ? format : "qcow2");
	}
	return CLI_OK;
}

static void print_volumes(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "POOL", "FORMAT", "CAPACITY", "ALLOCATION", "USED-BY", "PATH" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *vol;
	size_t i;

	json_array_foreach(json_object_get(answer, "volumes"), i, vol) {
		char cap[16], alloc[16];
		bool has_cap = json_is_integer(json_object_get(vol, "capacity"));
		bool has_alloc = json_is_integer(json_object_get(vol, "allocation"));
		/* a directory volume has no capacity; its use is measured in the background ("-" until then) */
		table_add(t, out_str(vol, "name"), out_str(vol, "pool"), out_str(vol, "format"),
			  has_cap ? out_size(size_of(vol, "capacity"), cap, sizeof(cap)) : "-",
			  has_alloc ? out_size(size_of(vol, "allocation"), alloc, sizeof(alloc)) : "-",
			  out_str(vol, "used_by"), out_str(vol, "path"));
	}
	table_print(t, stdout);
}

static int disk_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "disk list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/volumes", print_volumes);
}

static void show_volume(const json_t *vol)
{
	__do_table struct table *t = table_new_kv();
	uint64_t cap = size_of(vol, "capacity"), alloc = size_of(vol, "allocation");
	const char *s;
	char a[16], b[16];

	table_add_kv(t, "name", "%s", (s = out_str(vol, "name")) ? s : "-");
	table_add_kv(t, "pool", "%s", (s = out_str(vol, "pool")) ? s : "-");
	table_add_kv(t, "format", "%s", (s = out_str(vol, "format")) ? s : "-");
	if (json_is_integer(json_object_get(vol, "capacity")))
		table_add_kv(t, "capacity", "%s (%" PRIu64 " bytes)", out_size(cap, a, sizeof(a)), cap);
	else
		table_add_kv(t, "capacity", "- (a directory: its pool's free space)");
	if (json_is_integer(json_object_get(vol, "allocation")))
		table_add_kv(t, "allocation", "%s (%" PRIu64 " bytes)", out_size(alloc, b, sizeof(b)), alloc);
	else
		table_add_kv(t, "allocation", "- (being measured)");
	table_add_kv(t, "path", "%s", (s = out_str(vol, "path")) ? s : "-");
	const char *kind = out_str(vol, "used_by_kind");
	table_add_kv(t, "used by", "%s%s", (s = out_str(vol, "used_by")) ? s : "-",
		     kind && strcmp(kind, "container") == 0 ? " (container)" : "");
	if ((s = out_str(vol, "stale_of")))
		table_add_kv(t, "stale copy of", "vm %s (a replication of it here reuses this volume)", s);
	table_print(t, stdout);
}

static int disk_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "disk show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "volume name"))
		return a.exit_code;
	return cli_show(cli, "/v1/volumes", a.pos[0], show_volume);
}

static int disk_resize(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	struct client *c;
	struct cli_args a;
	const char *arg;
	bool grow_by;
	uint64_t size;
	char sz[16];

	cli_args_init(&a, "disk resize", usage_resize, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "volume name and size"))
		return a.exit_code;
	arg = a.pos[1];
	grow_by = arg[0] == '+';
	if (cli_parse_size(arg + grow_by, MIB, &size) < 0 || size == 0 || size > INT64_MAX)
		return cli_usage_error(a.cmd, "invalid size '%s': want e.g. 20G or +5G (a bare number is MiB)", arg);
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	if (grow_by) {
		__do_reply struct reply cur = REPLY_INIT;
		__do_free char *get = client_path(c, "/v1/volumes", a.pos[0], NULL);
		uint64_t cap;

		if (client_call(c, "GET", get, NULL, &cur, false) < 0)
			return CLI_FAIL;
		cap = size_of(cur.json, "capacity");
		if (size > INT64_MAX - cap)
			return cli_error("volume '%s' cannot grow by %s: too large", a.pos[0], arg + 1);
		size += cap;
	}
	body = json_pack("{sI}", "size", (json_int_t)size);
	path = client_path(c, "/v1/volumes", a.pos[0], "/resize");
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
	} else {
		uint64_t cap = size_of(r.json, "capacity");
		printf("resized volume %s to %s\n", a.pos[0], out_size(cap ? cap : size, sz, sizeof(sz)));
	}
	return CLI_OK;
}

static void volume_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	const char *name = json_string_value(json_array_get(json_object_get(answer, "deleted"), 0));

	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted volume %s\n", name ? name : item);
}

static int disk_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;

	cli_args_init(&a, "disk delete", usage_delete, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, -1, "volume name"))
		return a.exit_code;
	__do_free char *names = cli_args_joined(&a, 0);
	int rc = cli_confirm(&a, "delete volume%s %s and the data in %s", a.npos > 1 ? "s" : "", names,
			     a.npos > 1 ? "them" : "it");
	if (rc != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/volumes", NULL, a.pos, a.npos, all, volume_deleted);
}

/* Follow the job of a 202 answer {"job":...} to its end (job_wait); with --json print the finished job. */
static int follow_job(struct cli *cli, const json_t *answer, const char *label, json_t **final)
{
	int rc = job_wait(cli, json_object_get(answer, "job"), label, final);
	if (cli->json && *final)
		out_json(*final);
	return rc;
}

/* The new volume's name for the confirmation: --name, else the job's target
 * when it is a plain name, else corrald's default (api.md): the file's base
 * name without extension. */
static char *import_name(const char *name, const char *target, const char *file)
{
	const char *base = strrchr(file, '/');
	const char *dot;

	if (name)
		return xstrdup(name);
	if (target && !str_name_invalid(target))
		return xstrdup(target);
	base = base ? base + 1 : file;
	dot = strrchr(base, '.');
	return dot && dot > base ? xasprintf("%.*s", (int)(dot - base), base) : xstrdup(base);
}

static int disk_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "source-format", required_argument, NULL, OPT_SOURCE_FORMAT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	static const struct cli_body_member members[] = {
		{ OPT_NAME, "name" }, { OPT_FORMAT, "format" }, { OPT_POOL, "pool" },
		{ OPT_SOURCE_FORMAT, "source_format" }, { 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_json json_t *final = NULL;
	const char *target;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "disk import", usage_import, argc, argv);
	if (!cli_file_request_args(cli, &a, opts, members, "image file", &body))
		return a.exit_code;
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/volumes/import", body, &r, false) < 0)
		return CLI_FAIL;
	if (!json_is_object(json_object_get(r.json, "job"))) {
		/* Finished synchronously: the answer is the volume. */
		if (cli->json)
			out_json(r.json);
		else
			printf("imported volume %s\n", (target = out_str(r.json, "name")) ? target : "?");
		return CLI_OK;
	}
	rc = follow_job(cli, r.json, "importing", &final);
	if (rc == CLI_OK && !cli->json) {
		__do_free char *shown = import_name(out_str(body, "name"), out_str(final, "target"), out_str(body, "path"));
		printf("imported volume %s\n", shown);
	}
	return rc;
}

static int disk_move(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pool", required_argument, NULL, OPT_POOL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_json json_t *final = NULL;
	const char *pool = NULL;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "disk move", usage_move, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_POOL)
			pool = optarg;
	}
	if ((rc = cli_args_count(&a, 1, 1, "volume name")) != CLI_OK)
		return rc;
	if (!pool)
		return cli_usage_error(a.cmd, "missing --pool");
	body = json_pack("{ss}", "pool", pool);
	if (cli_call(cli, "POST", "/v1/volumes", a.pos[0], "/move", body, &r) != CLI_OK)
		return CLI_FAIL;
	rc = follow_job(cli, r.json, "moving", &final);
	if (rc == CLI_OK && !cli->json)
		printf("moved volume %s to pool %s\n", a.pos[0], pool);
	return rc;
}

static int disk_attach(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bus", required_argument, NULL, OPT_BUS },
		LIMITS_DISK_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_limits_flags struct limits_flags lf = LIMITS_FLAGS_INIT;
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	const char *bus = NULL;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "disk attach", usage_attach, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_BUS)
			bus = optarg;
		else if (limits_opt_is(opt) && (rc = limits_flags_parse(&lf, a.cmd, opt, optarg)) != CLI_OK)
			return rc;
	}
	if ((rc = cli_args_count(&a, 2, 2, "VM and volume")) != CLI_OK)
		return rc;
	body = json_pack("{ss}", "volume", a.pos[1]);
	if (bus)
		json_object_set_new(body, "bus", json_string(bus));
	json_t *io = lf.disks ? json_object_get(lf.disks, "") : NULL;
	if (json_is_object(io)) {
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(io, tmp, k, v)
			if (json_is_null(v))
				json_object_del(io, k);
		json_object_set(body, "io", io);
	}
	if (cli_call(cli, "POST", "/v1/vms", a.pos[0], "/disks", body, &r) != CLI_OK)
		return CLI_FAIL;
	return cli_vm_changed(cli, r.json, a.pos[0], "attached volume %s to", a.pos[1]);
}

static int disk_detach(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *vol_enc = NULL;
	__do_free char *suffix = NULL;
	__do_free char *path = NULL;
	struct client *c;
	struct cli_args a;

	cli_args_init(&a, "disk detach", usage_detach, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "VM and volume"))
		return a.exit_code;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	vol_enc = client_escape(c, a.pos[1]);
	suffix = xasprintf("/disks/%s", vol_enc);
	path = client_path(c, "/v1/vms", a.pos[0], suffix);
	if (client_call(c, "DELETE", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	return cli_vm_changed(cli, r.json, a.pos[0], "detached volume %s from", a.pos[1]);
}

static const struct cli_verb disk_verbs[] = {
	{ "create", "create an empty volume", disk_create },
	{ "list", "list volumes", disk_list },
	{ "show", "show a volume", disk_show },
	{ "resize", "grow a volume (to SIZE or by +SIZE)", disk_resize },
	{ "delete", "delete volumes", disk_delete },
	{ "import", "copy an image file into a new volume", disk_import },
	{ "move", "move a volume to another pool (live when its VM runs)", disk_move },
	{ "attach", "add a volume to a VM (hot-plugged when running)", disk_attach },
	{ "detach", "remove a volume from a VM", disk_detach },
	{ "files", "list a disk's partitions or a directory inside it", cli_disk_ls },
	{ "cat", "print a file from inside a disk", cli_disk_cat },
	{ "get", "copy a file out of a disk", cli_disk_get },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_disk = {
	"disk", "Create, import, resize and move volumes and attach them to VMs.", disk_verbs, NULL,
};
