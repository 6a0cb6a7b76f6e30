/*
 * cmd_remote.c - `corral remote ...`: the corrald hosts this user talks to
 * over TLS, kept in the remotes file (remotes.h; docs/remote.md, "Remotes").
 *
 * `remote add` learns the server's certificate from a bare TLS handshake
 * (nothing is sent), shows its SHA-256 fingerprint and asks whether to
 * trust it (or compares it with --accept-fingerprint when there is no one to
 * ask), then pins it: every later connection refuses any other certificate
 * (client.c).  The API token comes from a file, $CORRAL_TOKEN, or is made
 * with the user's password (asked, never in argv) through the API; it is
 * checked against the server before anything is written.  `remote trust`
 * pins a new certificate of a known remote the same way.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "remotes.h"
#include "auth/auth.h"
#include "util/fsutil.h"
#include "util/strutil.h"
#include "util/common.h"

static const char usage_remote_add[] =
	"usage: corral remote add NAME https://HOST:PORT [--token-file FILE | --user USER]\n"
	"                         [--accept-fingerprint SHA256] [--ttl DURATION]\n"
	"\n"
	"Add a remote corrald: connect, show the SHA-256 fingerprint of its TLS\n"
	"certificate and ask whether to trust it (compare it with 'corral host info'\n"
	"on the host).  Once trusted the certificate is pinned: a remote showing any\n"
	"other is refused.  Without a terminal to ask on, --accept-fingerprint must\n"
	"name the certificate the server shows.\n"
	"\n"
	"The API token USER!ID:SECRET is read from FILE (or $CORRAL_TOKEN), or, with\n"
	"--user, made now: corral asks for USER's password (terminal, or the first\n"
	"line of stdin) and creates a token with USER's rights through the API.\n"
	"The remote is kept in $XDG_CONFIG_HOME/corral/remotes.conf (default\n"
	"~/.config/corral/remotes.conf, mode 0600).\n"
	"\n"
	"Options:\n"
	"  --token-file FILE          the API token, as 'corral token add' printed it\n"
	"  --user USER                make a token for USER, logging in with her password\n"
	"  --ttl DURATION             with --user: the token expires after DURATION\n"
	"                             (seconds, or a number with s, m, h or d; default: never)\n"
	"  --accept-fingerprint SHA256\n"
	"                             trust the certificate only if it has this\n"
	"                             fingerprint (64 hex digits, colons optional)\n"
	"  --json                     print the remote as JSON (never the token)\n"
	"  -h, --help                 show this help\n";

static const char usage_remote_list[] =
	"usage: corral remote list [--json]\n"
	"\n"
	"List remotes as NAME URL USER FINGERPRINT, the default marked with '*'\n"
	"(never a token secret).\n"
	"\n"
	"Options:\n"
	"  --json       print [{\"name\",\"url\",\"fingerprint\",\"user\",\"default\"}]\n"
	"  -h, --help   show this help\n";

static const char usage_remote_remove[] =
	"usage: corral remote remove NAME...\n"
	"\n"
	"Forget remotes (their tokens stay valid on the host until 'corral token\n"
	"delete' there).\n"
	"\n"
	"Options:\n"
	"  --json       accepted for symmetry; prints nothing more\n"
	"  -h, --help   show this help\n";

static const char usage_remote_default[] =
	"usage: corral remote default [NAME]\n"
	"\n"
	"Make NAME the remote every command talks to when neither --remote, --url\n"
	"nor --socket (nor $CORRAL_REMOTE, $CORRAL_URL, $CORRAL_SOCKET) says\n"
	"otherwise; 'local' goes back to this host's socket.  Without NAME, print\n"
	"the default ('local' when there is none).\n"
	"\n"
	"Options:\n"
	"  --json       print {\"default\": NAME or null}\n"
	"  -h, --help   show this help\n";

static const char usage_remote_trust[] =
	"usage: corral remote trust NAME [--accept-fingerprint SHA256]\n"
	"\n"
	"Pin the certificate remote NAME shows now, after it changed (a new host\n"
	"certificate): shows the pinned and the offered fingerprints and asks, like\n"
	"'remote add'.  Check the new one with 'corral host info' on the host first.\n"
	"\n"
	"Options:\n"
	"  --accept-fingerprint SHA256\n"
	"                 trust only a certificate with this fingerprint (needed\n"
	"                 without a terminal)\n"
	"  --json         print the remote as JSON (never the token)\n"
	"  -h, --help     show this help\n";

enum { OPT_TOKEN_FILE = CLI_OPT_FIRST, OPT_USER, OPT_ACCEPT, OPT_TTL };

/* The remotes file's path and contents; CLI_OK or CLI_FAIL (printed). */
static int load(char **path, struct remotes *rs)
{
	struct buf err = BUF_INIT;
	int rc = CLI_OK;

	if (!(*path = remotes_path(&err)) || remotes_load(*path, rs, &err) < 0)
		rc = cli_error("%s", err.s);
	buf_release(&err);
	return rc;
}

static int save(const char *path, const struct remotes *rs)
{
	struct buf err = BUF_INIT;
	int rc = remotes_save(path, rs, &err) < 0 ? cli_error("%s", err.s) : CLI_OK;
	buf_release(&err);
	return rc;
}

/* The user part of a token "USER!ID:SECRET" as "USER!ID" (caller frees), or NULL. */
static char *token_subject(const char *token)
{
	return token ? xstrndup(token, strcspn(token, ":")) : NULL;
}

static json_t *remote_json(const struct remotes *rs, const struct remote *x)
{
	__do_free char *who = token_subject(x->token);
	return json_pack("{s:s,s:s,s:s,s:s?,s:b}", "name", x->name, "url", x->url, "fingerprint", x->fingerprint,
			 "user", who, "default", rs->def && strcmp(rs->def, x->name) == 0);
}

/*
 * Decide whether to trust the certificate with fingerprint `got` shown by
 * url: with `accept` it must be that one; else ask on the terminal.
 * `pinned` (or NULL) is the one trusted before.  CLI_OK to trust it.
 */
static int confirm_trust(const char *url, const char *got, const char *accept, const char *pinned)
{
	char want[96], line[16];

	if (accept) {
		if (auth_fingerprint_normalise(accept, want, sizeof(want)) < 0)
			return cli_usage_error("remote add", "--accept-fingerprint takes 64 hex digits, colons optional");
		if (strcmp(want, got) != 0)
			return cli_error("the certificate of %s has fingerprint %s, not the accepted %s; nothing was saved",
					 url, got, want);
		return CLI_OK;
	}
	if (!isatty(STDIN_FILENO))
		return cli_error("the certificate of %s has fingerprint %s; there is no terminal to ask whether to "
				 "trust it: check it on the host ('corral host info') and pass --accept-fingerprint",
				 url, got);
	if (pinned)
		fprintf(stderr, "The certificate of %s has changed.\n  pinned:  %s\n  offered: %s\n", url, pinned, got);
	else
		fprintf(stderr, "The certificate of %s has the SHA-256 fingerprint\n  %s\n", url, got);
	fputs("Compare it with 'corral host info' on the host (over a channel you trust).\nTrust it? [y/N] ", stderr);
	if (!fgets(line, sizeof(line), stdin))
		return cli_error("not trusted; nothing was saved");
	line[strcspn(line, "\r\n")] = '\0';
	if (strcasecmp(line, "y") != 0 && strcasecmp(line, "yes") != 0)
		return cli_error("not trusted; nothing was saved");
	return CLI_OK;
}

/* A client for url pinned to fp, sending token (USER!ID:SECRET, or NULL: none).  CLI_OK or printed. */
static int pinned_client(struct client *c, const char *url, const char *fp, const char *token)
{
	if (client_init(c, "/nonexistent") < 0 || client_remote(c, url, token, fp) < 0) {
		client_release(c);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Log in as user (password asked) and make a token with her rights; *token = USER!ID:SECRET. */
static int make_token(const char *url, const char *fp, const char *user, int64_t ttl_s, char **token)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *prompt = xasprintf("Password of %s at %s", user, url);
	struct client c = { 0 };
	char pw[300], host[64] = "", id[65];
	struct buf cred = BUF_INIT;
	unsigned char b64[450];
	int rc;
	struct buf err = BUF_INIT;

	if (auth_user_name_check(user, &err) < 0) {
		rc = cli_error("%s", err.s);
		buf_release(&err);
		return rc;
	}
	if ((rc = cli_read_secret(prompt, false, pw, sizeof(pw))) != CLI_OK)
		return rc;
	if ((rc = pinned_client(&c, url, fp, NULL)) != CLI_OK) {
		OPENSSL_cleanse(pw, sizeof(pw));
		return rc;
	}
	buf_printf(&cred, "%s:%s", user, pw);
	OPENSSL_cleanse(pw, sizeof(pw));
	EVP_EncodeBlock(b64, (const unsigned char *)cred.s, (int)cred.len);
	OPENSSL_cleanse(cred.s, cred.len);
	buf_release(&cred);
	c.auth = xasprintf("Authorization: Basic %s", (const char *)b64);
	OPENSSL_cleanse(b64, sizeof(b64));

	/* "cli-HOST-TIME": which machine holds it, and when it was made */
	gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-'))
			*p = '-';
	snprintf(id, sizeof(id), "cli-%.40s-%lld", host[0] ? host : "host", (long long)time(NULL));
	__do_free char *path = client_path(&c, "/v1/users", user, "/tokens");
	json_t *body = json_pack("{s:s,s:I,s:s,s:b}", "id", id, "ttl", (json_int_t)ttl_s, "comment",
				 "made by 'corral remote add'", "inherit", 1);
	rc = client_call(&c, "POST", path, body, &r, false) < 0 ? CLI_FAIL : CLI_OK;
	json_decref(body);
	client_release(&c);
	if (rc != CLI_OK)
		return rc;
	const char *secret = out_str(r.json, "secret");
	if (!secret)
		return cli_error("malformed answer from corrald: no token secret");
	*token = xasprintf("%s!%s:%s", user, id, secret);
	OPENSSL_cleanse(r.body.s, r.body.len);
	return CLI_OK;
}

/* The token works there: any answer but 401 (403 only means it may not read the host). */
static int check_token(const char *url, const char *fp, const char *token)
{
	__do_reply struct reply r = REPLY_INIT;
	struct client c = { 0 };
	int rc;

	if ((rc = pinned_client(&c, url, fp, token)) != CLI_OK)
		return rc;
	if (client_request(&c, "GET", "/v1/host", NULL, &r) < 0)
		rc = CLI_FAIL;
	else if (r.status == 401 || r.status == 429) {
		client_print_error(&r, "the remote refused the token");
		rc = CLI_FAIL;
	}
	client_release(&c);
	return rc;
}

static int read_token_file(const char *file, char **token)
{
	__do_buf struct buf t = BUF_INIT;
	int r = fs_read_file(file, 4096, &t);

	if (r < 0)
		return cli_error("cannot read the token file %s: %s", file, strerror(-r));
	while (t.len && strchr(" \t\r\n", t.s[t.len - 1]))
		t.s[--t.len] = '\0';
	const char *s = strncmp(t.s, "Bearer ", 7) == 0 ? t.s + 7 : t.s;
	*token = xstrdup(s);
	OPENSSL_cleanse(t.s, t.len);
	return CLI_OK;
}

static int print_remote(struct cli *cli, const struct remotes *rs, const char *name, const char *what)
{
	const struct remote *x = remotes_find(rs, name);
	if (cli->json) {
		__do_json json_t *j = remote_json(rs, x);
		out_json(j);
	} else {
		printf("%s remote %s (%s), certificate %s pinned\n", what, x->name, x->url, x->fingerprint);
	}
	return CLI_OK;
}

static int remote_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "user", required_argument, NULL, OPT_USER },
		{ "accept-fingerprint", required_argument, NULL, OPT_ACCEPT },
		{ "ttl", required_argument, NULL, OPT_TTL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *token_file = NULL, *user = NULL, *accept = NULL, *ttl = NULL;
	struct remotes rs = REMOTES_INIT;
	__do_free char *path = NULL, *url = NULL;
	char *token = NULL;
	char fp[96];
	struct buf err = BUF_INIT;
	int64_t ttl_s = 0;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "remote add", usage_remote_add, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT: return a.exit_code;
		case OPT_TOKEN_FILE: token_file = optarg; break;
		case OPT_USER: user = optarg; break;
		case OPT_ACCEPT: accept = optarg; break;
		case OPT_TTL: ttl = optarg; break;
		}
	}
	if ((rc = cli_args_count(&a, 2, 2, "name and URL")) != CLI_OK)
		return rc;
	if (token_file && user)
		return cli_usage_error("remote add", "--token-file and --user exclude each other");
	if (ttl && !user)
		return cli_usage_error("remote add", "--ttl goes with --user (a token from a file has its own expiry)");
	if (ttl) {
		uint64_t unit = 1, v;
		size_t n = strlen(ttl);
		char last = n ? ttl[n - 1] : '\0';
		__do_free char *num = xstrndup(ttl, strchr("smhd", last) && n > 1 ? n - 1 : n);
		unit = last == 'm' ? 60 : last == 'h' ? 3600 : last == 'd' ? 86400 : 1;
		if (str_parse_size(num, 1, &v) < 0 || v == 0 || v > 100ULL * 366 * 86400 / unit)
			return cli_usage_error("remote add", "--ttl takes seconds, or a number with s, m, h or d");
		ttl_s = (int64_t)(v * unit);
	}
	url = xstrndup(a.pos[1], strlen(a.pos[1]) - (strlen(a.pos[1]) > 8 && a.pos[1][strlen(a.pos[1]) - 1] == '/'));
	if (remote_name_check(a.pos[0], &err) < 0 || remote_url_check(url, &err) < 0) {
		rc = cli_usage_error("remote add", "%s", err.s);
		buf_release(&err);
		return rc;
	}
	if ((rc = load(&path, &rs)) != CLI_OK)
		goto out;
	if (remotes_find(&rs, a.pos[0])) {
		rc = cli_error("there is already a remote called '%s' ('corral remote remove %s' first; 'corral remote "
			       "trust %s' pins a new certificate)", a.pos[0], a.pos[0], a.pos[0]);
		goto out;
	}
	/* the token source before the network: a missing file fails early */
	if (token_file && (rc = read_token_file(token_file, &token)) != CLI_OK)
		goto out;
	if (!token_file && !user) {
		const char *env = getenv("CORRAL_TOKEN");
		if (!env || !*env) {
			rc = cli_usage_error("remote add", "give the API token with --token-file FILE (or $CORRAL_TOKEN), "
							 "or --user USER to make one");
			goto out;
		}
		token = xstrdup(strncmp(env, "Bearer ", 7) == 0 ? env + 7 : env);
	}
	if (token && remote_token_check(token, &err) < 0) {
		rc = cli_error("%s", err.s);
		goto out;
	}
	if (client_server_fingerprint(url, fp, sizeof(fp)) < 0) {
		rc = CLI_FAIL;
		goto out;
	}
	if ((rc = confirm_trust(url, fp, accept, NULL)) != CLI_OK)
		goto out;
	if (user && (rc = make_token(url, fp, user, ttl_s, &token)) != CLI_OK)
		goto out;
	if ((rc = check_token(url, fp, token)) != CLI_OK)
		goto out;
	if (remotes_set(&rs, a.pos[0], url, fp, token, false, &err) < 0) {
		rc = cli_error("%s", err.s);
		goto out;
	}
	if ((rc = save(path, &rs)) == CLI_OK)
		rc = print_remote(cli, &rs, a.pos[0], "added");
out:
	if (token) {
		OPENSSL_cleanse(token, strlen(token));
		free(token);
	}
	remotes_release(&rs);
	buf_release(&err);
	return rc;
}

static int remote_trust(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "accept-fingerprint", required_argument, NULL, OPT_ACCEPT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *accept = NULL;
	struct remotes rs = REMOTES_INIT;
	__do_free char *path = NULL;
	struct remote *x;
	struct buf err = BUF_INIT;
	char fp[96];
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "remote trust", usage_remote_trust, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_ACCEPT)
			accept = optarg;
	}
	if ((rc = cli_args_count(&a, 1, 1, "name")) != CLI_OK)
		return rc;
	if ((rc = load(&path, &rs)) != CLI_OK)
		goto out;
	if (!(x = remotes_find(&rs, a.pos[0]))) {
		rc = cli_error("there is no remote called '%s'", a.pos[0]);
		goto out;
	}
	if (client_server_fingerprint(x->url, fp, sizeof(fp)) < 0) {
		rc = CLI_FAIL;
		goto out;
	}
	if (strcmp(fp, x->fingerprint) == 0 && !accept) {
		printf("remote %s still shows the pinned certificate %s\n", x->name, fp);
		goto out;
	}
	if ((rc = confirm_trust(x->url, fp, accept, x->fingerprint)) != CLI_OK ||
	    (x->token && (rc = check_token(x->url, fp, x->token)) != CLI_OK))
		goto out;
	if (remotes_set(&rs, x->name, x->url, fp, x->token, true, &err) < 0) {
		rc = cli_error("%s", err.s);
		goto out;
	}
	if ((rc = save(path, &rs)) == CLI_OK)
		rc = print_remote(cli, &rs, a.pos[0], "trusted");
out:
	remotes_release(&rs);
	buf_release(&err);
	return rc;
}

static int remote_list(struct cli *cli, int argc, char **argv)
{
	static const char *const headers[] = { "NAME", "URL", "USER", "FINGERPRINT" };
	struct remotes rs = REMOTES_INIT;
	__do_free char *path = NULL;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "remote list", usage_remote_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	if ((rc = load(&path, &rs)) != CLI_OK)
		return rc;
	if (cli->json) {
		__do_json json_t *arr = json_array();
		for (size_t i = 0; i < rs.n; i++)
			json_array_append_new(arr, remote_json(&rs, &rs.list[i]));
		out_json(arr);
	} else {
		__do_table struct table *t = table_new(4, headers);
		for (size_t i = 0; i < rs.n; i++) {
			const struct remote *x = &rs.list[i];
			__do_free char *who = token_subject(x->token);
			__do_free char *name = xasprintf("%s%s", x->name, rs.def && !strcmp(rs.def, x->name) ? "*" : "");
			table_add(t, name, x->url, who, x->fingerprint);
		}
		table_print(t, stdout);
	}
	remotes_release(&rs);
	return CLI_OK;
}

static int remote_remove(struct cli *cli, int argc, char **argv)
{
	struct remotes rs = REMOTES_INIT;
	__do_free char *path = NULL;
	struct buf err = BUF_INIT;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "remote remove", usage_remote_remove, argc, argv);
	if (!cli_args_plain(cli, &a, 1, -1, "name"))
		return a.exit_code;
	if ((rc = load(&path, &rs)) != CLI_OK)
		return rc;
	for (int i = 0; i < a.npos && rc == CLI_OK; i++)
		if (remotes_remove(&rs, a.pos[i], &err) < 0)
			rc = cli_error("%s; nothing was removed", err.s);
	if (rc == CLI_OK && (rc = save(path, &rs)) == CLI_OK && !cli->json)
		for (int i = 0; i < a.npos; i++)
			printf("removed remote %s\n", a.pos[i]);
	remotes_release(&rs);
	buf_release(&err);
	return rc;
}

static int remote_default(struct cli *cli, int argc, char **argv)
{
	struct remotes rs = REMOTES_INIT;
	__do_free char *path = NULL;
	struct cli_args a;
	int rc;

	cli_args_init(&a, "remote default", usage_remote_default, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 1, "name"))
		return a.exit_code;
	if ((rc = load(&path, &rs)) != CLI_OK)
		return rc;
	if (a.npos == 1) {
		const char *name = a.pos[0];
		if (strcmp(name, REMOTE_LOCAL) != 0 && !remotes_find(&rs, name)) {
			rc = cli_error("there is no remote called '%s' ('corral remote list' shows them)", name);
			goto out;
		}
		free(rs.def);
		rs.def = strcmp(name, REMOTE_LOCAL) == 0 ? NULL : xstrdup(name);
		if ((rc = save(path, &rs)) != CLI_OK)
			goto out;
	}
	if (cli->json) {
		__do_json json_t *j = json_pack("{s:s?}", "default", rs.def);
		out_json(j);
	} else if (a.npos == 1) {
		printf("default remote: %s\n", rs.def ? rs.def : REMOTE_LOCAL " (this host's socket)");
	} else {
		printf("%s\n", rs.def ? rs.def : REMOTE_LOCAL);
	}
out:
	remotes_release(&rs);
	return rc;
}

static const struct cli_verb remote_verbs[] = {
	{ "add", "add a remote corrald, trusting and pinning its certificate", remote_add },
	{ "list", "list remotes", remote_list },
	{ "remove", "forget remotes", remote_remove },
	{ "default", "show or set the remote commands go to by default", remote_default },
	{ "trust", "pin the new certificate of a remote", remote_trust },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_remote = {
	"remote", "Remote corrald hosts reached over TLS (--remote NAME; docs/remote.md).", remote_verbs, NULL,
};
