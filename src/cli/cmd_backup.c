/*
 * cmd_backup.c - `corral backup ...`: run backups (of VMs or by policy),
 * preview them, list and show them, restore a whole VM, one disk or single
 * files, verify and forget them (the API's /v1/backups).  Every verb takes
 * --repo PATH, else the host's default repository is used.
 *
 * Runs, restores and verifies are jobs: the CLI follows them with progress
 * (percent, rate, ETA) and exits non-zero when they fail, so cron can call
 * `corral backup run nightly` and mail the output; --detach returns at once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_run[] =
	"usage: corral backup run POLICY|VM|CONTAINER [--repo PATH] [--os-disk-only] [--no-freeze]\n"
	"                         [--preview] [--detach]\n"
	"\n"
	"Back up the VMs and containers a policy selects ('corral policy show'), the\n"
	"VMs a selector names (NAME, UUID, name:GLOB, tag:T), or one container by\n"
	"name, into a repository.  A container's backup is a file-level archive of\n"
	"its root; a running container is frozen while it is read.\n"
	"Running VMs are backed up live from a consistent point in time (the\n"
	"guest pauses for milliseconds); stopped VMs from their images.  After\n"
	"the first backup of a disk only the blocks changed since the previous\n"
	"backup are read, yet every backup is complete and restorable alone.\n"
	"When a running VM's guest agent answers, its filesystems are frozen for\n"
	"that point in time and thawed right after (consistency: filesystem-frozen);\n"
	"without one the backup is crash-consistent (consistency: crash).\n"
	"A policy's retention prunes a VM's old backups only after a good new one;\n"
	"a VM whose backup fails keeps all of its backups.\n"
	"\n"
	"Options:\n"
	"  --repo PATH      repository (default: the policy's, else the host's default)\n"
	"  --os-disk-only   back up only each VM's first disk\n"
	"  --no-freeze      do not freeze guest filesystems (crash-consistent)\n"
	"  --preview        print what would be backed up and pruned, and why; do nothing\n"
	"  --detach         print the job and return at once\n"
	"  --json           print the finished job (or the preview) as JSON\n"
	"  -h, --help       show this help\n";

static const char usage_list[] =
	"usage: corral backup list [VM-GLOB] [--repo PATH] [--json]\n"
	"\n"
	"List the backups in the repository as ID VM TIME KIND SIZE READ NEW, oldest\n"
	"first per VM.  IDs look like web1/20261122T020000Z.\n"
	"\n"
	"Options:\n"
	"  --repo PATH  repository (default: the host's default)\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral backup show ID [--repo PATH] [--json]\n"
	"\n"
	"Show one backup: VM, time, kind, per-disk sizes and whether each disk was\n"
	"read incrementally (or why not), and the VM definition saved with it.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --repo PATH  repository (default: the host's default)\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_restore[] =
	"usage: corral backup restore ID [--name NEW] [--pool POOL] [--disk N] [--start] [--repo PATH] [--yes]\n"
	"\n"
	"Restore a backup.  With --name, as a new VM NEW (new uuid and MAC\n"
	"address, volumes NEW-disk<i> in POOL).  Without --name, over the original\n"
	"VM, which must be stopped and have no snapshots (or, if it was deleted,\n"
	"as a new VM with its old name).  With --disk N, only disk N as a new\n"
	"volume (named NEW, default <vm>-restore-disk<N>), attached to nothing.\n"
	"A container's backup restores as a new stopped container (--name NEW, or\n"
	"its old name if no container or VM has it now).\n"
	"Nothing changes until every disk is written.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --name NEW   name of the new VM (or volume with --disk)\n"
	"  --pool POOL  storage pool for new volumes (default: the default pool)\n"
	"  --disk N     restore only disk N (0 is the first)\n"
	"  --start      start the restored VM\n"
	"  --repo PATH  repository (default: the host's default)\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -y, --yes    do not ask before restoring over the original (needed when\n"
	"               there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_verify[] =
	"usage: corral backup verify ID...|--all [--repo PATH] [--detach]\n"
	"\n"
	"Re-read every chunk the backups reference, decrypt, decompress and check\n"
	"it against its id.  Damaged or missing chunks are reported together with\n"
	"the backups they affect, and the command fails.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --all        every backup in the repository\n"
	"  --repo PATH  repository (default: the host's default)\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_ls[] =
	"usage: corral backup files ID [PATH] [--disk N] [--partition N] [--long] [--repo PATH]\n"
	"\n"
	"List a directory inside a backed-up disk without restoring anything\n"
	"(ext2/3/4, XFS and btrfs, also on LVM2; default: the root directory),\n"
	"or inside a container's backup.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --disk N       disk of the backup (default 0, the first)\n"
	"  --partition N  partition, or LVM2 logical volume VG/LV (default: the\n"
	"                 only filesystem on the disk)\n"
	"  -l, --long     mode, size and time of each entry\n"
	"  --repo PATH    repository (default: the host's default)\n"
	"  --json         print the API's answer\n"
	"  -h, --help     show this help\n";

static const char usage_get[] =
	"usage: corral backup get ID PATH DEST [--disk N] [--partition N] [--force] [--repo PATH]\n"
	"\n"
	"Copy one file out of a backed-up disk or a container's backup to DEST\n"
	"(a file, or a directory to put it in) without restoring anything.  DEST\n"
	"is written completely before it appears; an existing DEST needs --force.\n"
	"DEST '-' writes to stdout.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --disk N       disk of the backup (default 0, the first)\n"
	"  --partition N  partition, or LVM2 logical volume VG/LV (default: the\n"
	"                 only filesystem on the disk)\n"
	"  --force        replace an existing DEST\n"
	"  --repo PATH    repository (default: the host's default)\n"
	"  --json         print what was copied as JSON\n"
	"  -h, --help     show this help\n";

static const char usage_forget[] =
	"usage: corral backup forget ID... [--repo PATH] [--yes]\n"
	"\n"
	"Delete backups from the repository.  Their chunks are freed by the next\n"
	"'corral repo prune' (or policy run), unless other backups share them.\n"
	"ID: a backup id ('corral backup list'), or VM/latest for VM's newest.\n"
	"\n"
	"Options:\n"
	"  --repo PATH  repository (default: the host's default)\n"
	"  --json       print the API's answers\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

enum {
	OPT_REPO = CLI_OPT_FIRST,
	OPT_OS_DISK,
	OPT_PREVIEW,
	OPT_DETACH,
	OPT_NAME,
	OPT_POOL,
	OPT_DISK,
	OPT_START,
	OPT_ALL,
	OPT_PARTITION,
	OPT_LONG,
	OPT_FORCE,
	OPT_NO_FREEZE,
};

struct bopts {
	char *repo;
	bool os_disk_only, no_freeze, preview, detach, start, all, lng, force;
	const char *name, *pool;
	int64_t disk, partition;
	const char *lv;		/* --partition VG/LV */
};

static void bopts_release(struct bopts *o) { free(o->repo); }

/* The options every verb shares plus those in `extra`; -1 when done, else the exit code. */
static int parse(struct cli *cli, struct cli_args *a, const struct option *opts, struct bopts *o)
{
	int opt;

	o->disk = -1;
	while ((opt = cli_getopt(cli, a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT: return a->exit_code;
		case OPT_REPO: free(o->repo); o->repo = cli_abspath(optarg); break;
		case OPT_OS_DISK: o->os_disk_only = true; break;
		case OPT_NO_FREEZE: o->no_freeze = true; break;
		case OPT_PREVIEW: o->preview = true; break;
		case OPT_DETACH: o->detach = true; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_POOL: o->pool = optarg; break;
		case OPT_START: o->start = true; break;
		case OPT_ALL: o->all = true; break;
		case 'l':
		case OPT_LONG: o->lng = true; break;
		case OPT_FORCE: o->force = true; break;
		case OPT_DISK:
			if (cli_parse_int(optarg, 0, 63, &o->disk) < 0)
				return cli_usage_error(a->cmd, "--disk needs a number from 0 to 63");
			break;
		case OPT_PARTITION:
			if (cli_parse_int(optarg, 1, 256, &o->partition) == 0)
				break;
			if (!strchr(optarg, '/') && !strchr(optarg, '-'))
				return cli_usage_error(a->cmd, "--partition needs a number from 1 to 256 or a logical volume VG/LV");
			o->lv = optarg;	/* checked by corrald */
			break;
		}
	}
	return -1;
}

#define OPT(name, has, val) { name, has, NULL, val }

static void print_preview(const json_t *p)
{
	json_t *e, *x;
	size_t i, k;

	printf("repository %s%s%s\n", out_str(p, "repo"), out_str(p, "policy") ? ", policy " : "",
	       out_str(p, "policy") ? out_str(p, "policy") : "");
	json_array_foreach(json_object_get(p, "backup"), i, e) {
		__do_free char *disks = out_join(json_object_get(e, "disks"), ", ");
		const char *kind = out_str(e, "kind");
		printf("back up %s (%s): %s\n", out_str(e, "vm"),
		       kind && strcmp(kind, "container") == 0 ? "container, file-level" : *disks ? disks : "no disks",
		       out_str(e, "reason"));
		json_array_foreach(json_object_get(e, "prune"), k, x)
			printf("    %-6s %s: %s\n", json_is_true(json_object_get(x, "keep")) ? "keep" : "PRUNE",
			       out_str(x, "id"), out_str(x, "reason"));
		if (out_str(e, "prune_error"))
			printf("    cannot plan pruning: %s\n", out_str(e, "prune_error"));
	}
	json_array_foreach(json_object_get(p, "skip"), i, e)
		printf("skip %s\n", out_str(e, "reason"));
	if (!json_array_size(json_object_get(p, "backup")))
		printf("nothing would be backed up\n");
}

static int backup_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		OPT("repo", required_argument, OPT_REPO), OPT("os-disk-only", no_argument, OPT_OS_DISK),
		OPT("no-freeze", no_argument, OPT_NO_FREEZE),
		OPT("preview", no_argument, OPT_PREVIEW), OPT("detach", no_argument, OPT_DETACH),
		CLI_COMMON_OPTIONS, { 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_reply struct reply probe = REPLY_INIT;
	__do_json json_t *body = NULL;
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup run", usage_run, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, 1, "policy or vm")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	/* A policy of that name wins; else it is a VM selector. */
	__do_free char *ppath = client_path(c, "/v1/policies", a.pos[0], NULL);
	bool is_policy = client_request(c, "GET", ppath, NULL, &probe) == 0 && reply_ok(&probe);
	body = json_pack("{s:s,s:s*,s:b,s:b}", is_policy ? "policy" : "vm", a.pos[0], "repo", o.repo, "os_disk_only",
			 o.os_disk_only, "preview", o.preview);
	if (o.no_freeze)
		json_object_set_new(body, "no_freeze", json_true());
	if (client_call(c, "POST", "/v1/backups", body, &r, false) < 0)
		return CLI_FAIL;
	if (o.preview) {
		if (cli->json)
			out_json(r.json);
		else
			print_preview(r.json);
		return CLI_OK;
	}
	return job_follow(cli, r.json, "backing up", o.detach);
}

static const char *size_of(const json_t *obj, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? out_size((uint64_t)json_integer_value(v), buf, len) : "-";
}

static void print_backups(const json_t *answer)
{
	static const char *const headers[] = { "ID", "VM", "TIME", "KIND", "SIZE", "READ", "NEW" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(answer, "backups"), i, b) {
		char s1[16], s2[16], s3[16];
		if (out_str(b, "error")) {
			table_add(t, out_str(b, "id"), out_str(b, "vm"), "-", "UNREADABLE", "-", "-", "-");
			continue;
		}
		char when[32];
		table_add(t, out_str(b, "id"), out_str(b, "vm"), out_time(out_str(b, "time"), when, sizeof(when)),
			  out_str(b, "kind"), size_of(b, "size", s1, sizeof(s1)), size_of(b, "bytes_read", s2, sizeof(s2)),
			  size_of(b, "bytes_new", s3, sizeof(s3)));
	}
	table_print(t, stdout);
}

/* "/v1/backups<suffix>?repo=..&<key>=<value>" */
static char *backups_url(struct client *c, const char *suffix, const struct bopts *o, const char *key,
			 const char *value)
{
	struct buf url = BUF_INIT;
	buf_printf(&url, "/v1/backups%s", suffix);
	client_query_add(c, &url, "repo", o->repo);
	client_query_add(c, &url, key, value);
	return buf_detach(&url);
}

/* "/v1/backups<suffix>?repo=..&id=..&path=..&disk=..&partition=.." for files inside a backup. */
static char *file_url(struct client *c, const char *suffix, const struct bopts *o, const char *id, const char *path)
{
	struct buf url = BUF_INIT;
	char n[24];

	buf_printf(&url, "/v1/backups%s", suffix);
	client_query_add(c, &url, "repo", o->repo);
	client_query_add(c, &url, "id", id);
	client_query_add(c, &url, "path", path);
	if (o->disk >= 0) {
		snprintf(n, sizeof(n), "%" PRId64, o->disk);
		client_query_add(c, &url, "disk", n);
	}
	if (o->partition > 0) {
		snprintf(n, sizeof(n), "%" PRId64, o->partition);
		client_query_add(c, &url, "partition", n);
	}
	if (o->lv)
		client_query_add(c, &url, "lv", o->lv);
	return buf_detach(&url);
}

static int backup_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { OPT("repo", required_argument, OPT_REPO), CLI_COMMON_OPTIONS, { 0 } };
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_free char *url = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup list", usage_list, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 0, 1, "vm glob")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = backups_url(c, "", &o, "vm", a.npos ? a.pos[0] : NULL);
	return cli_get_print(cli, url, print_backups);
}

static void show_backup(const json_t *b)
{
	__do_table struct table *t = table_new_kv();
	static const char *const keys[] = { "id", "vm", "uuid", "time", "kind", "policy", "consistency", "entries" };
	json_t *d;
	size_t i;
	char s1[16], s2[16], s3[16];

	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		json_t *v = json_object_get(b, keys[k]);
		if (v && !json_is_null(v)) {
			__do_free char *s = out_scalar(v);
			char when[32];
			table_add_kv(t, keys[k], "%s",
				     strcmp(keys[k], "time") == 0 && json_is_string(v) ? out_time(s, when, sizeof(when)) : s);
		}
	}
	table_add_kv(t, "size", "%s (read %s, new %s)", size_of(b, "size", s1, sizeof(s1)),
		     size_of(b, "bytes_read", s2, sizeof(s2)), size_of(b, "bytes_new", s3, sizeof(s3)));
	json_array_foreach(json_object_get(b, "disk_list"), i, d) {
		__do_free char *key = xasprintf("disk %zu", i);
		const char *why = out_str(d, "full_reason");
		table_add_kv(t, key, "%s %s %s, %s%s%s", out_str(d, "volume"), out_str(d, "format"),
			     size_of(d, "size", s1, sizeof(s1)),
			     json_is_true(json_object_get(d, "incremental")) ? "incremental" : "full",
			     why ? ": " : "", why ? why : "");
	}
	table_print(t, stdout);
}

static int backup_show(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { OPT("repo", required_argument, OPT_REPO), CLI_COMMON_OPTIONS, { 0 } };
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_free char *url = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup show", usage_show, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, 1, "backup id")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = backups_url(c, "/show", &o, "id", a.pos[0]);
	return cli_get_print(cli, url, show_backup);
}

static int backup_restore(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		OPT("repo", required_argument, OPT_REPO), OPT("name", required_argument, OPT_NAME),
		OPT("pool", required_argument, OPT_POOL), OPT("disk", required_argument, OPT_DISK),
		OPT("start", no_argument, OPT_START),	  OPT("detach", no_argument, OPT_DETACH),
		CLI_YES_OPTION,				  CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup restore", usage_restore, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, 1, "backup id")) != CLI_OK)
		return rc;
	if (!o.name && o.disk < 0 &&
	    (rc = cli_confirm(&a, "restore backup %s over its original vm (its disks and definition are replaced)",
			      a.pos[0])) != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:s*,s:s*,s:s*,s:I,s:b}", "id", a.pos[0], "repo", o.repo, "name", o.name, "pool", o.pool,
			 "disk", (json_int_t)o.disk, "start", o.start);
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/backups/restore", body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "restoring", o.detach);
}

static int backup_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		OPT("repo", required_argument, OPT_REPO), OPT("all", no_argument, OPT_ALL),
		OPT("detach", no_argument, OPT_DETACH), CLI_COMMON_OPTIONS, { 0 },
	};
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup verify", usage_verify, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if (!o.all == !a.npos)
		return cli_usage_error(a.cmd, "name backup ids or --all");
	body = json_pack("{s:s*}", "repo", o.repo);
	if (o.all) {
		json_object_set_new(body, "all", json_true());
	} else {
		json_t *ids = json_array();
		for (int i = 0; i < a.npos; i++)
			json_array_append_new(ids, json_string(a.pos[i]));
		json_object_set_new(body, "ids", ids);
	}
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/backups/verify", body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "verifying", o.detach);
}

static int backup_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		OPT("repo", required_argument, OPT_REPO), OPT("disk", required_argument, OPT_DISK),
		OPT("partition", required_argument, OPT_PARTITION), OPT("long", no_argument, OPT_LONG),
		CLI_COMMON_OPTIONS, { 0 },
	};
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *url = NULL;
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup files", usage_ls, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, 2, "backup id and path")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = file_url(c, "/files", &o, a.pos[0], a.npos > 1 ? a.pos[1] : NULL);
	if (client_call(c, "GET", url, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		cli_print_listing(r.json, o.lng);
	return CLI_OK;
}

static int backup_get(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		OPT("repo", required_argument, OPT_REPO), OPT("disk", required_argument, OPT_DISK),
		OPT("partition", required_argument, OPT_PARTITION), OPT("force", no_argument, OPT_FORCE),
		CLI_COMMON_OPTIONS, { 0 },
	};
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "backup get", usage_get, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 3, 3, "backup id, path and destination")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	__do_free char *url = file_url(c, "/content", &o, a.pos[0], a.pos[1]);
	return cli_download_to(cli, a.cmd, url, a.pos[1], a.pos[2], o.force);
}

static void backup_forgotten(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("forgot backup %s\n", item);
}

static int backup_forget(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { OPT("repo", required_argument, OPT_REPO), CLI_YES_OPTION,
					      CLI_COMMON_OPTIONS, { 0 } };
	__attribute__((cleanup(bopts_release))) struct bopts o = { 0 };
	__do_json json_t *all = json_array();
	struct client *c;
	struct cli_args a;
	int rc = CLI_OK;

	cli_args_init(&a, "backup forget", usage_forget, argc, argv);
	if ((rc = parse(cli, &a, opts, &o)) != -1)
		return rc;
	if ((rc = cli_args_count(&a, 1, -1, "backup id")) != CLI_OK)
		return rc;
	{
		__do_free char *ids = cli_args_joined(&a, 0);
		if ((rc = cli_confirm(&a, "delete backup%s %s", a.npos > 1 ? "s" : "", ids)) != CLI_OK)
			return rc;
	}
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	for (int i = 0; i < a.npos; i++) {
		__do_reply struct reply r = REPLY_INIT;
		__do_free char *base = client_path(c, "/v1/backups", a.pos[i], NULL);
		struct buf path = BUF_INIT;
		buf_adds(&path, base);
		client_query_add(c, &path, "repo", o.repo);
		int cr = client_call(c, "DELETE", path.s, NULL, &r, false);
		buf_release(&path);
		if (cr < 0) {
			rc = CLI_FAIL;
			continue;
		}
		backup_forgotten(cli, a.pos[i], r.json, all);
	}
	if (cli->json)
		out_json(all);
	return rc;
}

static const struct cli_verb backup_verbs[] = {
	{ "run", "back up a policy's vms and containers, or the named ones", backup_run },
	{ "list", "list backups", backup_list },
	{ "show", "show one backup", backup_show },
	{ "restore", "restore a vm, one disk, or a container from a backup", backup_restore },
	{ "verify", "check backups' chunks", backup_verify },
	{ "files", "list files inside a backup", backup_ls },
	{ "get", "copy one file out of a backup", backup_get },
	{ "forget", "delete backups", backup_forget },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_backup = {
	"backup", "Backups of VMs and containers: run, list, restore, verify, single files.", backup_verbs, NULL,
};
