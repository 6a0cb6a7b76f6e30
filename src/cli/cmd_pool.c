/*
 * cmd_pool.c - `corral pool ...`: storage pools (the API's /v1/pools), the
 * directories volumes live in.  `corral disk create|import --pool` puts a
 * volume into one, `corral disk move` moves it to another.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/common.h"

static const char usage_create[] =
	"usage: corral pool create NAME PATH [--shared]\n"
	"\n"
	"Make the directory PATH a storage pool called NAME.  PATH is created if its\n"
	"parent exists; a relative PATH is made absolute against the current\n"
	"directory.  Pools cannot nest: PATH must not be, contain or lie inside\n"
	"another pool's directory.\n"
	"\n"
	"Options:\n"
	"  --shared     the directory is a filesystem mounted on every host\n"
	"               (recorded for migration and HA)\n"
	"  --json       print the created pool as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_list[] =
	"usage: corral pool list [--json]\n"
	"\n"
	"List pools as NAME PATH SHARED CAPACITY USED FREE VOLUMES (capacity, used and\n"
	"free are those of the filesystem holding the pool).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"pools\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral pool show NAME [--json]\n"
	"\n"
	"Show one pool: path, shared flag, capacity, used and free space, number of\n"
	"volumes, creation time.\n"
	"\n"
	"Options:\n"
	"  --json       print the pool as the API returns it\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral pool delete NAME... [--yes]\n"
	"\n"
	"Forget pools.  The default pool and pools holding volumes are refused\n"
	"(move or delete the volumes first).  The directory itself is left in place.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

enum { OPT_SHARED = CLI_OPT_FIRST };

static const char *size_text(const json_t *obj, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? out_size((uint64_t)json_integer_value(v), buf, len) : NULL;
}

static int pool_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shared", no_argument, NULL, OPT_SHARED },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	bool shared = false;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "pool create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_SHARED)
			shared = true;
	}
	if ((rc = cli_args_count(&a, 2, 2, "pool name and path")) != CLI_OK)
		return rc;
	path = cli_abspath(a.pos[1]);
	body = json_pack("{s:s,s:s,s:b}", "name", a.pos[0], "path", path, "shared", shared);
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/pools", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("created pool %s at %s\n", a.pos[0], out_str(r.json, "path") ? out_str(r.json, "path") : path);
	return CLI_OK;
}

static void print_pools(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "PATH", "SHARED", "CAPACITY", "USED", "FREE", "VOLUMES" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(answer, "pools"), i, p) {
		char cap[16], used[16], avail[16];
		__do_free char *shared = out_scalar(json_object_get(p, "shared"));
		__do_free char *vols = out_scalar(json_object_get(p, "volumes"));
		table_add(t, out_str(p, "name"), out_str(p, "path"), shared, size_text(p, "capacity", cap, sizeof(cap)),
			  size_text(p, "used", used, sizeof(used)), size_text(p, "free", avail, sizeof(avail)), vols);
	}
	table_print(t, stdout);
}

static int pool_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "pool list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/pools", print_pools);
}

static void show_pool(const json_t *p)
{
	static const char *const sizes[] = { "capacity", "used", "free" };
	__do_table struct table *t = table_new_kv();
	static const char *const keys[] = { "name", "path", "shared" };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		__do_free char *s = out_scalar(json_object_get(p, keys[i]));
		table_add_kv(t, keys[i], "%s", s);
	}
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		json_t *v = json_object_get(p, sizes[i]);
		char h[16];
		if (json_is_integer(v))
			table_add_kv(t, sizes[i], "%s (%" PRIu64 " bytes)", size_text(p, sizes[i], h, sizeof(h)),
				     (uint64_t)json_integer_value(v));
		else
			table_add_kv(t, sizes[i], "-");
	}
	{
		__do_free char *vols = out_scalar(json_object_get(p, "volumes"));
		char created[32];
		table_add_kv(t, "volumes", "%s", vols);
		table_add_kv(t, "created", "%s", out_time(out_str(p, "created"), created, sizeof(created)));
	}
	table_print(t, stdout);
}

static int pool_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "pool show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "pool name"))
		return a.exit_code;
	return cli_show(cli, "/v1/pools", a.pos[0], show_pool);
}

static void pool_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	const char *name = json_string_value(json_array_get(json_object_get(answer, "deleted"), 0));

	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted pool %s\n", name ? name : item);
}

static int pool_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;

	cli_args_init(&a, "pool delete", usage_delete, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, -1, "pool name"))
		return a.exit_code;
	__do_free char *names = cli_args_joined(&a, 0);
	int rc = cli_confirm(&a, "forget pool%s %s", a.npos > 1 ? "s" : "", names);
	if (rc != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/pools", NULL, a.pos, a.npos, all, pool_deleted);
}

static const struct cli_verb pool_verbs[] = {
	{ "create", "make a directory a storage pool", pool_create },
	{ "list", "list pools with their space", pool_list },
	{ "show", "show a pool", pool_show },
	{ "delete", "forget empty pools", pool_delete },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_pool = {
	"pool", "Storage pools: the directories volumes live in.", pool_verbs, NULL,
};
