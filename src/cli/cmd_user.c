/*
 * cmd_user.c - `corral user ...`, `corral token ...` and `corral acl ...`:
 * who may use corrald's TLS API and what they may do there (the API's
 * /v1/users and /v1/acl; docs/remote.md).  Passwords are read from the
 * terminal (echo off) or from stdin, never from the command line; a token's
 * secret is printed once, when it is made.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/common.h"

static const char usage_user_add[] =
	"usage: corral user add NAME [--comment TEXT]\n"
	"\n"
	"Add a user of the TLS API.  The password (8 to 255 bytes) is asked on the\n"
	"terminal, or read as the first line of stdin when that is not a terminal;\n"
	"it is never taken from the command line.  A new user may do nothing until\n"
	"'corral acl add' gives her a role.\n"
	"\n"
	"Options:\n"
	"  --comment TEXT  who this is (up to 200 bytes)\n"
	"  --json          print the API's answer\n"
	"  -h, --help      show this help\n";

static const char usage_user_passwd[] =
	"usage: corral user passwd NAME\n"
	"\n"
	"Set a user's password, read as for 'corral user add'.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_user_list[] =
	"usage: corral user list [--json]\n"
	"\n"
	"List users as NAME TOKENS COMMENT (never a password or a secret).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"users\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_user_delete[] =
	"usage: corral user delete NAME... [--yes]\n"
	"\n"
	"Delete users with their API tokens and every ACL entry naming them.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_token_add[] =
	"usage: corral token add USER ID [--ttl DURATION] [--comment TEXT]\n"
	"\n"
	"Make an API token USER!ID and print its secret: it is shown this once and\n"
	"stored only hashed.  Clients send 'Authorization: Bearer USER!ID:SECRET'\n"
	"('corral --url ... ' reads USER!ID:SECRET from $CORRAL_TOKEN or --token-file).\n"
	"A token may do what both its own ACL entries and its user's allow.\n"
	"\n"
	"Options:\n"
	"  --ttl DURATION  expire after DURATION: seconds, or a number with s, m, h\n"
	"                  or d (default: never)\n"
	"  --comment TEXT  what the token is for\n"
	"  --json          print the API's answer (with the secret)\n"
	"  -h, --help      show this help\n";

static const char usage_token_list[] =
	"usage: corral token list USER [--json]\n"
	"\n"
	"List a user's tokens as ID EXPIRES EXPIRED COMMENT (never a secret).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"tokens\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_token_delete[] =
	"usage: corral token delete USER ID\n"
	"\n"
	"Delete an API token and its ACL entries; requests carrying it fail at once.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_acl_add[] =
	"usage: corral acl add SUBJECT ROLE [SCOPE]\n"
	"\n"
	"Give SUBJECT (a user, or a token USER!ID) ROLE on SCOPE (default '/': all).\n"
	"Roles: Administrator (everything), Operator (start, stop, console,\n"
	"snapshots, backups; read everything), Auditor (read only).  Scopes: '/',\n"
	"'/vms/NAME', '/pools/NAME' (its volumes too), or a collection such as '/vms'.\n"
	"An entry covers its scope and everything below it; a subject's entries add up.\n"
	"docs/remote.md lists what each role may do.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_acl_list[] =
	"usage: corral acl list [--json]\n"
	"\n"
	"List ACL entries as SCOPE SUBJECT ROLE.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"acl\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_acl_delete[] =
	"usage: corral acl delete SUBJECT [SCOPE]\n"
	"\n"
	"Remove SUBJECT's entry on SCOPE (default '/').\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

enum { OPT_COMMENT = CLI_OPT_FIRST, OPT_TTL };

/* A password from the terminal (asked twice, echo off) or stdin's first line; 0 or CLI_FAIL. */
static int read_password(char *out, size_t len) { return cli_read_secret("Password", true, out, len); }

static int user_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "comment", required_argument, NULL, OPT_COMMENT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	const char *comment = NULL;
	char pw[300];
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "user add", usage_user_add, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_COMMENT)
			comment = optarg;
	}
	if ((rc = cli_args_count(&a, 1, 1, "user name")) != CLI_OK || (rc = read_password(pw, sizeof(pw))) != CLI_OK)
		return rc;
	json_t *body = json_pack("{s:s,s:s,s:s?}", "name", a.pos[0], "password", pw, "comment", comment);
	OPENSSL_cleanse(pw, sizeof(pw));
	rc = !(c = cli_client(cli)) || client_call(c, "POST", "/v1/users", body, &r, false) < 0 ? CLI_FAIL : CLI_OK;
	json_decref(body); /* jansson's copy of the password goes with it */
	if (rc == CLI_OK) {
		if (cli->json)
			out_json(r.json);
		else
			printf("added user %s\n", a.pos[0]);
	}
	return rc;
}

static int user_passwd(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	char pw[300];
	struct client *c;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "user passwd", usage_user_passwd, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "user name"))
		return a.exit_code;
	if ((rc = read_password(pw, sizeof(pw))) != CLI_OK)
		return rc;
	json_t *body = json_pack("{s:s}", "password", pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (!(c = cli_client(cli))) {
		json_decref(body);
		return CLI_FAIL;
	}
	__do_free char *path = client_path(c, "/v1/users", a.pos[0], "/password");
	rc = client_call(c, "POST", path, body, &r, false) < 0 ? CLI_FAIL : CLI_OK;
	json_decref(body);
	if (rc == CLI_OK) {
		if (cli->json)
			out_json(r.json);
		else
			printf("password of %s changed\n", a.pos[0]);
	}
	return rc;
}

static void print_users(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "TOKENS", "COMMENT" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(answer, "users"), i, u) {
		__do_free char *tokens = out_join(json_object_get(u, "tokens"), ",");
		table_add(t, out_str(u, "name"), tokens && *tokens ? tokens : "-", out_str(u, "comment"));
	}
	table_print(t, stdout);
}

static int user_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "user list", usage_user_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/users", print_users);
}

static void user_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted user %s\n", item);
}

static int user_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;
	cli_args_init(&a, "user delete", usage_user_delete, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, -1, "user name"))
		return a.exit_code;
	__do_free char *names = cli_args_joined(&a, 0);
	int rc = cli_confirm(&a, "delete user%s %s with their tokens and ACL entries", a.npos > 1 ? "s" : "", names);
	if (rc != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/users", NULL, a.pos, a.npos, all, user_deleted);
}

/* "90", "90s", "15m", "12h", "30d" -> seconds; -1 if not that. */
static int parse_ttl(const char *s, int64_t *out)
{
	static const struct { char unit; int64_t mult; } units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 } };
	size_t n = strlen(s);
	int64_t mult = 1, v;
	char num[32];

	for (size_t i = 0; n && i < ARRAY_SIZE(units); i++)
		if (s[n - 1] == units[i].unit) {
			mult = units[i].mult;
			n--;
		}
	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	if (cli_parse_int(num, 1, 100LL * 366 * 86400 / mult, &v) < 0)
		return -1;
	*out = v * mult;
	return 0;
}

static int token_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "comment", required_argument, NULL, OPT_COMMENT },
		{ "ttl", required_argument, NULL, OPT_TTL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	const char *comment = NULL;
	int64_t ttl = 0;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "token add", usage_token_add, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_COMMENT)
			comment = optarg;
		else if (opt == OPT_TTL && parse_ttl(optarg, &ttl) < 0)
			return cli_usage_error("token add", "--ttl takes seconds or N with s, m, h or d, not '%s'", optarg);
	}
	if ((rc = cli_args_count(&a, 2, 2, "user and token id")) != CLI_OK)
		return rc;
	body = json_pack("{s:s,s:I,s:s?}", "id", a.pos[1], "ttl", (json_int_t)ttl, "comment", comment);
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/users", a.pos[0], "/tokens");
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
	} else {
		const char *exp = out_str(r.json, "expires");
		char when[32];
		printf("token %s!%s made (expires: %s); its secret is shown only now:\n%s!%s:%s\n", a.pos[0], a.pos[1],
		       exp ? out_time(exp, when, sizeof(when)) : "never", a.pos[0], a.pos[1], out_str(r.json, "secret"));
	}
	return CLI_OK;
}

static void print_tokens(const json_t *answer)
{
	static const char *const headers[] = { "ID", "EXPIRES", "EXPIRED", "COMMENT" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(answer, "tokens"), i, k) {
		const char *exp = out_str(k, "expires");
		char when[32];
		table_add(t, out_str(k, "id"), exp ? out_time(exp, when, sizeof(when)) : "never",
			  json_is_true(json_object_get(k, "expired")) ? "yes" : "no", out_str(k, "comment"));
	}
	table_print(t, stdout);
}

static int token_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	struct client *c;
	cli_args_init(&a, "token list", usage_token_list, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "user"))
		return a.exit_code;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/users", a.pos[0], "/tokens");
	return cli_get_print(cli, path, print_tokens);
}

static int token_delete(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	struct client *c;
	cli_args_init(&a, "token delete", usage_token_delete, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "user and token id"))
		return a.exit_code;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	__do_free char *base = client_path(c, "/v1/users", a.pos[0], "/tokens");
	__do_free char *path = client_path(c, base, a.pos[1], NULL);
	if (client_call(c, "DELETE", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("deleted token %s!%s\n", a.pos[0], a.pos[1]);
	return CLI_OK;
}

static int acl_add(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct cli_args a;
	struct client *c;
	cli_args_init(&a, "acl add", usage_acl_add, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 3, "subject and role"))
		return a.exit_code;
	body = json_pack("{s:s,s:s,s:s}", "subject", a.pos[0], "role", a.pos[1], "path", a.npos > 2 ? a.pos[2] : "/");
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/acl", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("%s is %s on %s\n", a.pos[0], a.pos[1], a.npos > 2 ? a.pos[2] : "/");
	return CLI_OK;
}

static void print_acl(const json_t *answer)
{
	static const char *const headers[] = { "SCOPE", "SUBJECT", "ROLE" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(answer, "acl"), i, e)
		table_add(t, out_str(e, "path"), out_str(e, "subject"), out_str(e, "role"));
	table_print(t, stdout);
}

static int acl_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "acl list", usage_acl_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/acl", print_acl);
}

static int acl_delete(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct buf path = BUF_INIT;
	struct cli_args a;
	struct client *c;
	int rc = CLI_OK;
	cli_args_init(&a, "acl delete", usage_acl_delete, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 2, "subject"))
		return a.exit_code;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	buf_adds(&path, "/v1/acl");
	client_query_add(c, &path, "subject", a.pos[0]);
	client_query_add(c, &path, "path", a.npos > 1 ? a.pos[1] : "/");
	if (client_call(c, "DELETE", path.s, NULL, &r, false) < 0)
		rc = CLI_FAIL;
	else if (cli->json)
		out_json(r.json);
	else
		printf("removed the entry of %s on %s\n", a.pos[0], a.npos > 1 ? a.pos[1] : "/");
	buf_release(&path);
	return rc;
}

static const struct cli_verb user_verbs[] = {
	{ "add", "add a user of the TLS API", user_add },
	{ "list", "list users", user_list },
	{ "passwd", "set a user's password", user_passwd },
	{ "delete", "delete users with their tokens and ACL entries", user_delete },
	{ NULL, NULL, NULL },
};

static const struct cli_verb token_verbs[] = {
	{ "add", "make an API token (its secret is shown once)", token_add },
	{ "list", "list a user's tokens", token_list },
	{ "delete", "delete an API token", token_delete },
	{ NULL, NULL, NULL },
};

static const struct cli_verb acl_verbs[] = {
	{ "add", "give a user or token a role on a scope", acl_add },
	{ "list", "list ACL entries", acl_list },
	{ "delete", "remove an ACL entry", acl_delete },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_user = {
	"user", "Users of the TLS API (docs/remote.md).", user_verbs, NULL,
};

const struct cli_noun cli_noun_token = {
	"token", "API tokens: USER!ID with a secret shown once, optionally expiring.", token_verbs, NULL,
};

const struct cli_noun cli_noun_acl = {
	"acl", "Who has which role (Administrator, Operator, Auditor) on which scope.", acl_verbs, NULL,
};
