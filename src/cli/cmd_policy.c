/*
 * cmd_policy.c - `corral policy ...`: backup policies (the API's
 * /v1/policies): which VMs to back up, into which repository, when, and
 * how many backups to keep.  A policy comes from a file, either a JSON
 * object or a VmBackup-style `key=value` file (docs/backup-policies.md);
 * `corral backup run POLICY [--preview]` runs one by hand, corrald runs
 * those with a schedule by themselves.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static const char usage_set[] =
	"usage: corral policy set FILE [--name NAME]\n"
	"\n"
	"Create or replace a backup policy from FILE ('-' for stdin): a JSON object,\n"
	"or VmBackup-style lines such as\n"
	"\n"
	"    name=nightly\n"
	"    repo=/backup/repo\n"
	"    schedule=daily 02:00\n"
	"    select=PROD*\n"
	"    select=DEV-RH*:3\n"
	"    exclude=*-test\n"
	"    max_backups=4\n"
	"    keep_daily=7\n"
	"\n"
	"(docs/backup-policies.md lists every key).  Check what it selects with\n"
	"'corral backup run NAME --preview'.\n"
	"\n"
	"Options:\n"
	"  --name NAME  the policy's name when FILE has no name= line (default:\n"
	"               FILE's name up to its first dot: nightly.conf is nightly)\n"
	"  --json       print the stored policy as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_list[] =
	"usage: corral policy list [--json]\n"
	"\n"
	"List policies as NAME SELECT REPO SCHEDULE KEEP NEXT-RUN.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral policy show NAME [--json]\n"
	"\n"
	"Show a policy with its last and next scheduled run.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral policy delete NAME...\n"
	"\n"
	"Delete policies.  Backups made by them stay in their repositories.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -h, --help   show this help\n";

enum { OPT_NAME = CLI_OPT_FIRST };

static int policy_set(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct buf text __do_buf = BUF_INIT;
	struct buf err __do_buf = BUF_INIT;
	const char *name = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "policy set", usage_set, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_NAME)
			name = optarg;
	}
	if ((rc = cli_args_count(&a, 1, 1, "policy file")) != CLI_OK)
		return rc;
	/* Without a name= line or --name, the file names the policy: nightly.conf is "nightly". */
	__do_free char *stem = NULL;
	if (strcmp(a.pos[0], "-") != 0) {
		const char *base = strrchr(a.pos[0], '/') ? strrchr(a.pos[0], '/') + 1 : a.pos[0];
		stem = xstrndup(base, strcspn(base, "."));
	}
	if ((rc = fs_read_file(strcmp(a.pos[0], "-") == 0 ? "/dev/stdin" : a.pos[0], 1 << 20, &text)) < 0)
		return cli_error("cannot read %s: %s", a.pos[0], strerror(-rc));
	size_t skip = text.s ? strspn(text.s, " \t\r\n") : 0;
	if (text.s && text.s[skip] == '{') {
		if (!(body = json_parse_object(text.s, text.len, &err)))
			return cli_error("%s: %s", a.pos[0], err.s);
		if (name || (stem && *stem && !json_object_get(body, "name")))
			json_object_set_new(body, "name", json_string(name ? name : stem));
	} else {
		body = json_pack("{s:s,s:s*}", "text", text.s ? text.s : "", "name",
				 name ? name : stem && *stem ? stem : NULL);
	}
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/policies", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("saved policy %s\n", out_str(r.json, "name"));
	return CLI_OK;
}

static char *keep_text(const json_t *keep)
{
	struct buf b = BUF_INIT;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)keep, key, v)
		if (json_integer_value(v) > 0)
			buf_printf(&b, "%s%s %" JSON_INTEGER_FORMAT, b.len ? ", " : "", key, json_integer_value(v));
	if (!b.len)
		buf_adds(&b, "everything");
	return buf_detach(&b);
}

static void print_policies(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "SELECT", "REPO", "SCHEDULE", "KEEP", "NEXT-RUN" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(answer, "policies"), i, p) {
		__do_free char *sel = out_join(json_object_get(p, "select"), ",");
		__do_free char *keep = keep_text(json_object_get(p, "keep"));
		const char *sched = out_str(p, "schedule"), *next = out_str(p, "next_run"), *repo = out_str(p, "repo");
		char when[32];
		if (out_str(p, "error"))
			table_add(t, out_str(p, "name"), "UNREADABLE", "-", "-", "-", "-");
		else
			table_add(t, out_str(p, "name"), sel, repo ? repo : "(default)", sched ? sched : "on demand", keep,
				  out_time(next, when, sizeof(when)));
	}
	table_print(t, stdout);
}

static int policy_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "policy list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/policies", print_policies);
}

static void show_policy(const json_t *p)
{
	__do_table struct table *t = table_new_kv();
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)p, key, v) {
		__do_free char *s = strcmp(key, "keep") == 0 ? keep_text(v)
				    : json_is_array(v)	   ? out_join(v, ", ")
							   : out_scalar(v);
		char when[32];
		/* last_run, next_run: times in the one readable form */
		bool is_time = json_is_string(v) && strstr(key, "_run") && time_parse_rfc3339(s);
		table_add_kv(t, key, "%s", is_time ? out_time(s, when, sizeof(when)) : s);
	}
	table_print(t, stdout);
}

static int policy_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "policy show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "policy name"))
		return a.exit_code;
	return cli_show(cli, "/v1/policies", a.pos[0], show_policy);
}

static void policy_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted policy %s\n", item);
}

static int policy_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;

	cli_args_init(&a, "policy delete", usage_delete, argc, argv);
	if (!cli_args_plain(cli, &a, 1, -1, "policy name"))
		return a.exit_code;
	return cli_delete_each(cli, "/v1/policies", NULL, a.pos, a.npos, all, policy_deleted);
}

static const struct cli_verb policy_verbs[] = {
	{ "set", "create or replace a backup policy from a file", policy_set },
	{ "list", "list backup policies", policy_list },
	{ "show", "show a backup policy", policy_show },
	{ "delete", "delete backup policies", policy_delete },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_policy = {
	"policy", "Backup policies: what to back up, where, when, how many to keep.", policy_verbs, NULL,
};
