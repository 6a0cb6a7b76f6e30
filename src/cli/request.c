/*
 * request.c - the requests several verbs make one way, and how their answers
 * print (see cli.h): call a path, GET something and show it, DELETE each argument, confirm
 * a change to a VM.  The cmd_*.c files keep what differs: the path, the text
 * of the answer, the confirmation line.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

/* Does the option with getopt value val take no argument? */
static bool is_flag(const struct option *longopts, int val)
{
	for (const struct option *o = longopts; o->name; o++)
		if (o->val == val)
			return o->has_arg == no_argument;
	return false;
}

bool cli_file_request_args(struct cli *cli, struct cli_args *a, const struct option *longopts,
			   const struct cli_body_member *members, const char *what, json_t **body)
{
	__do_json json_t *b = json_object();
	int opt;

	for (const struct cli_body_member *m = members; m->val; m++)
		if (is_flag(longopts, m->val))
			json_object_set_new(b, m->member, json_false());
	while ((opt = cli_getopt(cli, a, longopts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return false;
		for (const struct cli_body_member *m = members; m->val; m++)
			if (m->val == opt)
				json_object_set_new(b, m->member, is_flag(longopts, opt) ? json_true() : json_string(optarg));
	}
	if ((a->exit_code = cli_args_count(a, 1, 1, what)) != CLI_OK)
		return false;
	__do_free char *file = cli_abspath(a->pos[0]);
	json_object_set_new(b, "path", json_string(file));
	*body = move_ptr(b);
	return true;
}

int cli_get_print(struct cli *cli, const char *path, void (*text)(const json_t *answer))
{
	__do_reply struct reply r = REPLY_INIT;
	struct client *c;

	if (!(c = cli_client(cli)) || client_call(c, "GET", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		text(r.json);
	return CLI_OK;
}

int cli_show(struct cli *cli, const char *base, const char *item, void (*text)(const json_t *answer))
{
	__do_free char *path = NULL;
	struct client *c;

	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = client_path(c, base, item, NULL);
	return cli_get_print(cli, path, text);
}

int cli_call(struct cli *cli, const char *method, const char *base, const char *item, const char *suffix,
	     const json_t *body, struct reply *r)
{
	__do_free char *path = NULL;
	struct client *c;

	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = client_path(c, base, item, suffix);
	return client_call(c, method, path, body, r, false) < 0 ? CLI_FAIL : CLI_OK;
}

int cli_delete_each(struct cli *cli, const char *base, const char *suffix, char **items, int n, json_t *all,
		    void (*done)(struct cli *cli, const char *item, json_t *answer, json_t *all))
{
	struct client *c;
	int rc = CLI_OK;

	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	for (int i = 0; i < n; i++) {
		__do_free char *path = client_path(c, base, items[i], suffix);
		__do_reply struct reply r = REPLY_INIT;

		if (client_request(c, "DELETE", path, NULL, &r) < 0)
			return CLI_FAIL;
		if (!reply_ok(&r)) {
			client_print_error(&r, NULL);
			rc = CLI_FAIL;
			continue;
		}
		done(cli, items[i], r.json, all);
	}
	if (cli->json)
		out_json(all);
	return rc;
}

int cli_vm_changed(struct cli *cli, const json_t *vm, const char *sel, const char *fmt, ...)
{
	const char *name = out_str(vm, "name");
	va_list ap;

	if (cli->json) {
		out_json(vm);
		return CLI_OK;
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" vm %s\n", name ? name : sel);
	return CLI_OK;
}
