/*
 * cmd_alarm.c - `corral alarm ...`: alarm rules (the API's /v1/alarms,
 * docs/alarms.md): a condition on metrics or an event, the VMs or pools it
 * watches, and where notifications go (webhooks, mail).  The SMTP password
 * is read from a file (--smtp-password-file), never from the command line,
 * and is never printed back.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/common.h"

#define RULE_HELP                                                                                 \
	"WHEN is a condition such as\n"                                                               \
	"\n"                                                                                          \
	"    cpu > 90% for 5m            a VM's CPU (percent of one CPU)\n"                            \
	"    memory > 1G for 1m          a VM's resident memory\n"                                     \
	"    disk_write > 50M/s for 30s  disk_read, disk_write, net_receive, net_transmit\n"           \
	"    pool_used > 85%             a pool's filesystem (bytes or percent)\n"                     \
	"    host_load > 4 for 2m        host_cpu, host_memory, host_load\n"                           \
	"    vm crashed                  events: vm crashed, backup failed, ha restarted,\n"          \
	"                                host lost quorum\n"                                          \
	"\n"                                                                                          \
	"A threshold must hold for its duration to fire and be false as long to\n"                   \
	"resolve (docs/alarms.md).  TARGET is an http:// or https:// URL (a JSON POST)\n"             \
	"or mailto:ADDR[,ADDR...] (mail through --smtp).\n"

static const char usage_add[] =
	"usage: corral alarm add NAME --when WHEN [--on SELECTOR] [--notify TARGET]...\n"
	"                        [--smtp URL --mail-from ADDR [--smtp-user USER]\n"
	"                         [--smtp-password-file FILE]]\n"
	"\n"
	"Add an alarm rule.  " RULE_HELP "\n"
	"Options:\n"
	"  --when WHEN                 the condition (quote it)\n"
	"  --on SELECTOR               which VMs (NAME, name:GLOB, tag:TAG, uuid:UUID)\n"
	"                              or pools (NAME, name:GLOB); default: all\n"
	"  --notify TARGET             where to send notifications (repeat)\n"
	"  --smtp URL                  smtp://HOST[:PORT] or smtps://HOST[:PORT]\n"
	"  --mail-from ADDR            the mails' sender\n"
	"  --smtp-user USER            log in to the SMTP server (over TLS only)\n"
	"  --smtp-password-file FILE   its password: the first line of FILE ('-': stdin)\n"
	"  --json                      print the API's answer\n"
	"  -h, --help                  show this help\n";

static const char usage_set[] =
	"usage: corral alarm set NAME [--when WHEN] [--on SELECTOR | --all]\n"
	"                        [--notify TARGET]... [--no-notify]\n"
	"                        [--smtp URL] [--mail-from ADDR] [--smtp-user USER]\n"
	"                        [--smtp-password-file FILE] [--no-smtp]\n"
	"\n"
	"Change an alarm rule: what is given replaces what it had (--notify replaces\n"
	"the whole list).  " RULE_HELP "\n"
	"Options:\n"
	"  --when WHEN                 the condition\n"
	"  --on SELECTOR               which VMs or pools\n"
	"  --all                       every VM or pool (drop --on)\n"
	"  --notify TARGET             the notification targets (repeat)\n"
	"  --no-notify                 no targets (the alarm is only recorded)\n"
	"  --smtp URL, --mail-from ADDR, --smtp-user USER, --smtp-password-file FILE\n"
	"                              the mail settings, as for 'alarm add'\n"
	"  --no-smtp                   drop the mail settings and the password\n"
	"  --json                      print the API's answer\n"
	"  -h, --help                  show this help\n";

static const char usage_list[] =
	"usage: corral alarm list [--json]\n"
	"\n"
	"List alarm rules as NAME WHEN ON STATE OBJECTS (the objects pending or firing).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral alarm show NAME [--json]\n"
	"\n"
	"Show an alarm rule, its targets and each object that is pending or firing.\n"
	"The SMTP password is never shown (password_set says whether there is one).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral alarm delete NAME...\n"
	"\n"
	"Remove alarm rules (also 'alarm remove').  Their history stays.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -h, --help   show this help\n";

static const char usage_test[] =
	"usage: corral alarm test NAME [--json]\n"
	"\n"
	"Send a test notification (status \"test\") through every target of the rule\n"
	"now and say how each went.  Exits 1 if one failed.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_history[] =
	"usage: corral alarm history [NAME] [--limit N] [--json]\n"
	"\n"
	"The alarms' transitions (ok, pending, firing, resolved), oldest first: of\n"
	"the rule NAME, or of every rule.\n"
	"\n"
	"Options:\n"
	"  --limit N    the newest N transitions (default 100, at most 10000)\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

enum {
	OPT_WHEN = CLI_OPT_FIRST,
	OPT_ON,
	OPT_ALL,
	OPT_NOTIFY,
	OPT_NO_NOTIFY,
	OPT_SMTP,
	OPT_FROM,
	OPT_USER,
	OPT_PWFILE,
	OPT_NO_SMTP,
	OPT_LIMIT,
};

/* add and set: the rule's members from the options into body.  CLI_OPT_EXIT:
 * stop with a->exit_code (--help, completion's listing); else CLI_OK or a failure. */
static int rule_body(struct cli *cli, struct cli_args *a, const struct option *opts, bool set, json_t *body)
{
	json_t *notify = NULL, *smtp = NULL;
	const char *pwfile = NULL;
	int opt;

	while ((opt = cli_getopt(cli, a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT: json_decref(notify); json_decref(smtp); return CLI_OPT_EXIT;
		case OPT_WHEN: json_object_set_new(body, "when", json_string(optarg)); break;
		case OPT_ON: json_object_set_new(body, "on", json_string(optarg)); break;
		case OPT_ALL: json_object_set_new(body, "on", json_null()); break;
		case OPT_NOTIFY:
			if (!notify)
				notify = json_array();
			json_array_append_new(notify, json_string(optarg));
			break;
		case OPT_NO_NOTIFY:
			json_decref(notify);
			notify = json_array();
			break;
		case OPT_SMTP:
		case OPT_FROM:
		case OPT_USER:
			if (!smtp || json_is_null(smtp)) {
				json_decref(smtp);
				smtp = json_object();
			}
			json_object_set_new(smtp, opt == OPT_SMTP ? "url" : opt == OPT_FROM ? "from" : "user", json_string(optarg));
			break;
		case OPT_PWFILE: pwfile = optarg; break;
		case OPT_NO_SMTP:
			json_decref(smtp);
			smtp = json_null();
			break;
		}
	}
	if (notify)
		json_object_set_new(body, "notify", notify);
	if (pwfile) {
		struct buf pw = BUF_INIT;
		int r = fs_read_file(strcmp(pwfile, "-") == 0 ? "/dev/stdin" : pwfile, 4096, &pw);
		if (r < 0) {
			json_decref(smtp);
			return cli_error("cannot read %s: %s", pwfile, strerror(-r));
		}
		if (pw.s)
			pw.s[strcspn(pw.s, "\r\n")] = '\0';
		if (!smtp || json_is_null(smtp)) {
			json_decref(smtp);
			smtp = json_object();
		}
		json_object_set_new(smtp, "password", json_string(pw.s ? pw.s : ""));
		if (pw.s)
			explicit_bzero(pw.s, pw.len);
		buf_release(&pw);
	}
	if (smtp && set && json_is_object(smtp)) {
		/* set: the settings not given stay as they are */
		struct reply r = REPLY_INIT;
		json_t *old;
		if (a->npos != 1) {
			json_decref(smtp);
			return cli_args_count(a, 1, 1, "alarm name");
		}
		if (cli_call(cli, "GET", "/v1/alarms", a->pos[0], NULL, NULL, &r) != CLI_OK) {
			json_decref(smtp);
			return CLI_FAIL;
		}
		if ((old = json_object_get(r.json, "smtp")) && json_is_object(old)) {
			const char *k;
			json_t *v;
			json_object_foreach(old, k, v)
				if (!json_object_get(smtp, k) && strcmp(k, "password_set") != 0)
					json_object_set(smtp, k, v);
		}
		reply_release(&r);
	}
	if (smtp)
		json_object_set_new(body, "smtp", smtp);
	return CLI_OK;
}

static int rule_send(struct cli *cli, const char *method, const char *name, json_t *body, const char *done)
{
	__do_reply struct reply r = REPLY_INIT;
	struct client *c;
	if (strcmp(method, "POST") == 0) {
		if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/alarms", body, &r, false) < 0)
			return CLI_FAIL;
	} else if (cli_call(cli, method, "/v1/alarms", name, NULL, body, &r) != CLI_OK) {
		return CLI_FAIL;
	}
	if (cli->json)
		out_json(r.json);
	else
		printf("%s alarm %s: %s\n", done, name, out_str(r.json, "when"));
	return CLI_OK;
}

#define RULE_OPTIONS                                                                      \
	{ "when", required_argument, NULL, OPT_WHEN }, { "on", required_argument, NULL, OPT_ON }, \
		{ "notify", required_argument, NULL, OPT_NOTIFY },                                \
		{ "smtp", required_argument, NULL, OPT_SMTP },                                    \
		{ "mail-from", required_argument, NULL, OPT_FROM },                               \
		{ "smtp-user", required_argument, NULL, OPT_USER },                               \
		{ "smtp-password-file", required_argument, NULL, OPT_PWFILE }

static int alarm_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { RULE_OPTIONS, CLI_COMMON_OPTIONS, { 0 } };
	__do_json json_t *body = json_object();
	struct cli_args a;
	int rc;

	cli_args_init(&a, "alarm add", usage_add, argc, argv);
	if ((rc = rule_body(cli, &a, opts, false, body)) != CLI_OK)
		return rc == CLI_OPT_EXIT ? a.exit_code : rc;
	if ((rc = cli_args_count(&a, 1, 1, "alarm name")) != CLI_OK)
		return rc;
	if (!json_object_get(body, "when"))
		return cli_usage_error("alarm add", "--when is required");
	json_object_set_new(body, "name", json_string(a.pos[0]));
	return rule_send(cli, "POST", a.pos[0], body, "added");
}

static int alarm_set(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		RULE_OPTIONS,
		{ "all", no_argument, NULL, OPT_ALL },
		{ "no-notify", no_argument, NULL, OPT_NO_NOTIFY },
		{ "no-smtp", no_argument, NULL, OPT_NO_SMTP },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_json json_t *body = json_object();
	struct cli_args a;
	int rc;

	cli_args_init(&a, "alarm set", usage_set, argc, argv);
	if ((rc = rule_body(cli, &a, opts, true, body)) != CLI_OK)
		return rc == CLI_OPT_EXIT ? a.exit_code : rc;
	if ((rc = cli_args_count(&a, 1, 1, "alarm name")) != CLI_OK)
		return rc;
	json_object_set_new(body, "name", json_string(a.pos[0]));
	if (json_object_size(body) == 1)
		return cli_usage_error("alarm set", "nothing to change");
	return rule_send(cli, "PUT", a.pos[0], body, "changed");
}

static const char *rule_on_text(const json_t *r)
{
	const char *on = out_str(r, "on");
	return on ? on : strcmp(out_str(r, "scope") ? out_str(r, "scope") : "", "host") == 0 ? "(host)" : "(all)";
}

static void print_rules(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "WHEN", "ON", "STATE", "OBJECTS" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *r, *o;
	size_t i, k;

	json_array_foreach(json_object_get(answer, "alarms"), i, r) {
		struct buf objs = BUF_INIT;
		json_array_foreach(json_object_get(r, "objects"), k, o)
			buf_printf(&objs, "%s%s %s", k ? ", " : "", out_str(o, "name"), out_str(o, "state"));
		table_add(t, out_str(r, "name"), out_str(r, "when") ? out_str(r, "when") : "?", rule_on_text(r),
			  out_str(r, "state"), objs.len ? objs.s : "-");
		buf_release(&objs);
	}
	table_print(t, stdout);
}

static int alarm_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "alarm list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/alarms", print_rules);
}

static void show_rule(const json_t *r)
{
	__do_table struct table *t = table_new_kv();
	const json_t *smtp = json_object_get(r, "smtp"), *o;
	char when[32];
	size_t i;
	__do_free char *targets = out_join(json_object_get(r, "notify"), ", ");

	table_add_kv(t, "name", "%s", out_str(r, "name"));
	table_add_kv(t, "when", "%s", out_str(r, "when") ? out_str(r, "when") : "?");
	if (out_str(r, "error"))
		table_add_kv(t, "error", "%s", out_str(r, "error"));
	table_add_kv(t, "kind", "%s %s", out_str(r, "scope") ? out_str(r, "scope") : "?",
		     out_str(r, "kind") ? out_str(r, "kind") : "");
	table_add_kv(t, "on", "%s", rule_on_text(r));
	table_add_kv(t, "notify", "%s", targets && *targets ? targets : "(none)");
	if (json_is_object(smtp)) {
		table_add_kv(t, "smtp", "%s from %s%s%s%s", out_str(smtp, "url"), out_str(smtp, "from"),
			     out_str(smtp, "user") ? " as " : "", out_str(smtp, "user") ? out_str(smtp, "user") : "",
			     json_is_true(json_object_get(smtp, "password_set")) ? " (password set)" : "");
	}
	table_add_kv(t, "state", "%s", out_str(r, "state"));
	json_array_foreach(json_object_get(r, "objects"), i, o) {
		__do_free char *v = json_object_get(o, "value") ? out_scalar(json_object_get(o, "value")) : NULL;
		table_add_kv(t, "object", "%s %s %s since %s%s%s", out_str(o, "kind"), out_str(o, "name"), out_str(o, "state"),
			     out_time(out_str(o, "since"), when, sizeof(when)), v ? ", value " : "", v ? v : "");
	}
	table_add_kv(t, "created", "%s", out_time(out_str(r, "created"), when, sizeof(when)));
	table_print(t, stdout);
}

static int alarm_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "alarm show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "alarm name"))
		return a.exit_code;
	return cli_show(cli, "/v1/alarms", a.pos[0], show_rule);
}

static void alarm_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted alarm %s\n", item);
}

static int alarm_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;
	cli_args_init(&a, "alarm delete", usage_delete, argc, argv);
	if (!cli_args_plain(cli, &a, 1, -1, "alarm name"))
		return a.exit_code;
	return cli_delete_each(cli, "/v1/alarms", NULL, a.pos, a.npos, all, alarm_deleted);
}

static int alarm_test(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	json_t *res;
	size_t i;
	cli_args_init(&a, "alarm test", usage_test, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "alarm name"))
		return a.exit_code;
	if (cli_call(cli, "POST", "/v1/alarms", a.pos[0], "/test", NULL, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	json_array_foreach(json_object_get(r.json, "results"), i, res)
		printf("%s: %s\n", out_str(res, "target"), json_is_true(json_object_get(res, "ok")) ? "sent" : "failed");
	return CLI_OK;
}

static void print_history(const json_t *answer)
{
	static const char *const headers[] = { "TIME", "ALARM", "OBJECT", "FROM", "TO", "VALUE" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(answer, "history"), i, h) {
		char when[32];
		__do_free char *v = json_object_get(h, "value") ? out_scalar(json_object_get(h, "value")) : xstrdup("-");
		table_add(t, out_time(out_str(h, "time"), when, sizeof(when)), out_str(h, "alarm"), out_str(h, "name"),
			  out_str(h, "from"), out_str(h, "to"), v);
	}
	table_print(t, stdout);
}

static int alarm_history(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct cli_args a;
	const char *limit = NULL;
	int64_t n;
	int opt, rc;
	struct client *c;

	cli_args_init(&a, "alarm history", usage_history, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_LIMIT)
			limit = optarg;
	}
	if ((rc = cli_args_count(&a, 0, 1, "alarm name")) != CLI_OK)
		return rc;
	if (limit && cli_parse_int(limit, 1, 10000, &n) < 0)
		return cli_usage_error("alarm history", "--limit wants 1 to 10000");
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/v1/alarm-history");
	if (a.npos) {
		__do_free char *e = client_escape(c, a.pos[0]);
		buf_printf(&path, "?alarm=%s", e);
	}
	if (limit)
		buf_printf(&path, "%slimit=%s", a.npos ? "&" : "?", limit);
	rc = cli_get_print(cli, path.s, print_history);
	buf_release(&path);
	return rc;
}

static const struct cli_verb alarm_verbs[] = {
	{ "add", "add an alarm rule", alarm_add },
	{ "list", "list alarm rules and what is firing", alarm_list },
	{ "show", "show an alarm rule and its objects' states", alarm_show },
	{ "set", "change an alarm rule", alarm_set },
	{ "delete", "remove alarm rules", alarm_delete },
	{ "test", "send a test notification through a rule's targets", alarm_test },
	{ "history", "the alarms' transitions", alarm_history },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_alarm = {
	"alarm", "Alarm rules on metrics and events, with webhook and mail notifications.", alarm_verbs, NULL,
};
