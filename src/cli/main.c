/*
 * main.c - entry of the `corral` CLI: global options, then the noun table,
 * then the noun's verb table (each cmd_*.c exports one noun).
 *
 *     corral [--socket PATH] [--json] NOUN VERB [ARGS] [OPTIONS]
 *
 * The help texts for the top and noun levels are generated from the same
 * tables the dispatch uses, so a verb cannot exist without being listed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "client.h"
#include "complete.h"
#include "errout.h"
#include "remotes.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define DEFAULT_SOCKET "/run/corral/corral.sock"
#define WRAP 78

enum { OPT_SOCKET = CLI_OPT_FIRST, OPT_VERSION, OPT_URL, OPT_FINGERPRINT, OPT_TOKEN_FILE, OPT_REMOTE };

/* The number of nouns (sizes the "did you mean" list). */
#define NOUNS 23
const struct cli_noun *const cli_nouns[NOUNS] = {
	&cli_noun_list, &cli_noun_vm, &cli_noun_ct, &cli_noun_disk, &cli_noun_pool, &cli_noun_net, &cli_noun_nic, &cli_noun_cdrom, &cli_noun_snapshot,
	&cli_noun_repo, &cli_noun_backup, &cli_noun_policy, &cli_noun_alarm, &cli_noun_host, &cli_noun_cluster, &cli_noun_witness, &cli_noun_ha, &cli_noun_job, &cli_noun_events,
	&cli_noun_user, &cli_noun_token, &cli_noun_acl, &cli_noun_remote,
};
const size_t cli_nouns_count = ARRAY_SIZE(cli_nouns);

static bool curl_ready;

/*
 * The remote to talk to, if any (see cli_client in cli.h): *rs holds the
 * remotes file when one was read.  0 (*out NULL: the socket), or -1 printed.
 */
static int pick_remote(struct cli *cli, struct remotes *rs, const struct remote **out)
{
	__do_free char *path = NULL;
	struct buf err = BUF_INIT;
	const char *name = cli->remote;

	*out = NULL;
	if (cli->url || (name && strcmp(name, REMOTE_LOCAL) == 0) || (!name && cli->socket_set))
		return 0;
	if (!(path = remotes_path(&err)) && !name) {
		buf_release(&err); /* no home: no default remote either */
		return 0;
	}
	if (!path || remotes_load(path, rs, &err) < 0) {
		cli_error("%s", err.s);
		buf_release(&err);
		return -1;
	}
	buf_release(&err);
	if (!name)
		name = rs->def; /* the default remote, or the socket */
	if (!name)
		return 0;
	if (!(*out = remotes_find(rs, name))) {
		cli_error("there is no remote called '%s' ('corral remote list' shows them)", name);
		return -1;
	}
	return 0;
}

struct client *cli_client(struct cli *cli)
{
	struct remotes rs = REMOTES_INIT;
	const struct remote *rem = NULL;

	if (cli->client_ready)
		return &cli->client;
	if (cli_args_listing())
		return NULL; /* completion asks verbs for their options: nothing is sent */
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			cli_error("cannot initialise libcurl");
			return NULL;
		}
		curl_ready = true;
	}
	if (pick_remote(cli, &rs, &rem) < 0) {
		remotes_release(&rs);
		return NULL;
	}
	if (client_init(&cli->client, cli->socket_path) < 0) {
		client_release(&cli->client);
		remotes_release(&rs);
		return NULL;
	}
	if (cli->url || rem) {
		/* The token comes from a file or the environment, never from argv (ps shows argv). */
		__do_buf struct buf tok = BUF_INIT;
		const char *token = getenv("CORRAL_TOKEN");
		if (rem && (!token || !*token))
			token = rem->token;
		if (cli->token_file) {
			int r = fs_read_file(cli->token_file, 4096, &tok);
			if (r < 0) {
				cli_error("cannot read the token file %s: %s", cli->token_file, strerror(-r));
				client_release(&cli->client);
				remotes_release(&rs);
				return NULL;
			}
			while (tok.len && strchr(" \t\r\n", tok.s[tok.len - 1]))
				tok.s[--tok.len] = '\0';
			token = tok.s;
		}
		if (token && strncmp(token, "Bearer ", 7) == 0)
			token += 7;
		int r = client_remote(&cli->client, rem ? rem->url : cli->url, token && *token ? token : NULL,
				      rem ? rem->fingerprint : cli->fingerprint);
		if (rem)
			client_set_remote_name(&cli->client, rem->name);
		if (tok.s)
			OPENSSL_cleanse(tok.s, tok.len);
		if (r < 0) {
			client_release(&cli->client);
			remotes_release(&rs);
			return NULL;
		}
	}
	remotes_release(&rs);
	cli->client_ready = true;
	return &cli->client;
}

/* "  vm      create, list, ..." wrapped under its own indentation. */
static void add_noun_line(struct buf *b, const struct cli_noun *n)
{
	size_t col = 0, indent = 11;

	buf_printf(b, "  %-9s", n->name);
	col = indent;
	if (!n->verbs) {
		buf_printf(b, "%s\n", n->summary);
		return;
	}
	for (const struct cli_verb *v = n->verbs; v->name; v++) {
		size_t w = strlen(v->name) + (v[1].name ? 1 : 0);
		if (col + w + 1 > WRAP && col > indent) {
			buf_printf(b, "\n%*s", (int)indent, "");
			col = indent;
		}
		buf_printf(b, "%s%s%s", col > indent ? " " : "", v->name, v[1].name ? "," : "");
		col += w + (col > indent ? 1 : 0);
	}
	buf_addch(b, '\n');
}

static void main_usage(struct buf *b)
{
	buf_adds(b,
		 "usage: corral [--socket PATH | --remote NAME | --url URL] [--json] NOUN VERB [ARGUMENTS] [OPTIONS]\n"
		 "\n"
		 "Manage the virtual machines and disks of a corrald host.\n"
		 "\n"
		 "Nouns and their verbs:\n");
	for (size_t i = 0; i < cli_nouns_count; i++)
		add_noun_line(b, cli_nouns[i]);
	buf_adds(b,
		 "\n"
		 "Global options (before the noun):\n"
		 "  --socket PATH  corrald's API socket (default: $CORRAL_SOCKET, else the\n"
		 "                 default remote if one is set, else " DEFAULT_SOCKET ")\n"
		 "  --remote NAME  talk to the remote NAME ('corral remote add'; default:\n"
		 "                 $CORRAL_REMOTE, else 'corral remote default'); 'local'\n"
		 "                 is this host's socket\n"
		 "  --url https://HOST:PORT\n"
		 "                 talk to corrald's TLS API there instead of the socket\n"
		 "                 (default: $CORRAL_URL); the API token USER!ID:SECRET\n"
		 "                 comes from $CORRAL_TOKEN or --token-file\n"
		 "  --token-file FILE\n"
		 "                 read the API token from FILE\n"
		 "  --fingerprint SHA256\n"
		 "                 trust exactly the certificate with this fingerprint\n"
		 "                 ('corral host info' on the host prints it; default:\n"
		 "                 $CORRAL_FINGERPRINT, else the system's CAs)\n"
		 "  --json         print the API's JSON instead of text (also accepted\n"
		 "                 anywhere after the verb); errors become JSON lines\n"
		 "                 {\"error\":{\"code\",\"message\"}} on stderr\n"
		 "  --format table|json|csv\n"
		 "                 tables as text (default), the API's JSON (as --json)\n"
		 "                 or CSV\n"
		 "  -h, --help     show this help; 'corral NOUN --help' and\n"
		 "                 'corral NOUN VERB --help' show the rest\n"
		 "  --version      print corral's version\n"
		 "\n"
		 "A VM is named by its name, its uuid, 'name:GLOB' (e.g. 'name:web*') or\n"
		 "'uuid:UUID'.  Sizes take the units K, M, G, T (powers of 1024).\n"
		 "\n"
		 "Exit status: 0 on success, 1 on an error (one line on stderr),\n"
		 "2 on a usage error.  See docs/cli.md for the full reference.\n");
}

/* Verbs people type from habit: each stands for its verb where the noun
 * has that verb and no verb of the alias's own name. */
static const struct {
	const char *alias, *verb;
} verb_aliases[] = { { "ls", "list" }, { "rm", "delete" }, { "remove", "delete" } };

const struct cli_verb *cli_verb_find(const struct cli_noun *n, const char *name)
{
	if (!n->verbs)
		return NULL;
	for (const struct cli_verb *v = n->verbs; v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	for (size_t i = 0; i < ARRAY_SIZE(verb_aliases); i++)
		if (strcmp(verb_aliases[i].alias, name) == 0)
			return cli_verb_find(n, verb_aliases[i].verb);
	return NULL;
}

static void noun_usage(struct buf *b, const struct cli_noun *n)
{
	size_t w = 0;

	for (const struct cli_verb *v = n->verbs; v->name; v++)
		if (strlen(v->name) > w)
			w = strlen(v->name);
	buf_printf(b, "usage: corral %s VERB [ARGUMENTS] [OPTIONS]\n\n%s\n\nVerbs:\n", n->name,
		   n->summary);
	for (const struct cli_verb *v = n->verbs; v->name; v++)
		buf_printf(b, "  %-*s  %s\n", (int)w, v->name, v->summary);
	for (size_t i = 0, k = 0; i < ARRAY_SIZE(verb_aliases); i++) {
		const struct cli_verb *v = cli_verb_find(n, verb_aliases[i].alias);
		if (v && strcmp(v->name, verb_aliases[i].alias) != 0)
			buf_printf(b, "%s%s = %s", k++ ? ", " : "\nAliases: ", verb_aliases[i].alias, v->name);
		if (i + 1 == ARRAY_SIZE(verb_aliases) && k)
			buf_addch(b, '\n');
	}
	buf_printf(b,
		   "\n"
		   "Every verb takes --json (print the API's JSON), --format table|json|csv\n"
		   "and -h/--help.\n"
		   "Run 'corral %s VERB --help' for a verb's arguments and options.\n",
		   n->name);
}

const struct cli_noun *cli_noun_find(const char *name)
{
	for (size_t i = 0; i < cli_nouns_count; i++)
		if (strcmp(cli_nouns[i]->name, name) == 0)
			return cli_nouns[i];
	return NULL;
}

/* " (did you mean 'X'?)" for the closest of names (NULL-terminated, stride
 * bytes apart), or "" when none is close. */
static void suggest(struct buf *out, const char *typed, const char *const *names, size_t stride)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (const char *const *p = names; *p; p = (const char *const *)((const char *)p + stride)) {
		size_t d = str_distance(typed, *p);
		if (d < best_d) {
			best_d = d;
			best = *p;
		}
	}
	/* close: a slip of one or two keys, fewer than half the word */
	if (best && best_d <= 2 && best_d * 2 < strlen(best))
		buf_printf(out, " (did you mean '%s'?)", best);
}

static int run_noun(struct cli *cli, const struct cli_noun *n, int argc, char **argv)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	__do_buf struct buf usage = BUF_INIT;
	struct cli_args a;
	int c;

	if (n->run)
		return n->run(cli, argc, argv);
	noun_usage(&usage, n);
	cli_args_init(&a, n->name, usage.s, argc, argv);
	a.in_order = true;
	while ((c = cli_getopt(cli, &a, opts)) != -1)
		if (c == CLI_OPT_EXIT)
			return a.exit_code;
	if (a.npos == 0)
		return cli_usage_error(n->name, "missing verb");
	const struct cli_verb *v = cli_verb_find(n, a.pos[0]);
	if (v)
		return v->run(cli, a.npos, a.pos);
	__do_buf struct buf hint = BUF_INIT;
	suggest(&hint, a.pos[0], &n->verbs[0].name, sizeof(n->verbs[0]));
	return cli_usage_error(n->name, "unknown verb '%s %s'%s", n->name, a.pos[0], hint.s ? hint.s : "");
}

const struct option cli_global_options[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "url", required_argument, NULL, OPT_URL },
	{ "fingerprint", required_argument, NULL, OPT_FINGERPRINT },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "remote", required_argument, NULL, OPT_REMOTE },
	CLI_COMMON_OPTIONS,
	{ 0 },
};

static int run(struct cli *cli, int argc, char **argv)
{
	const struct option *opts = cli_global_options;
	__do_buf struct buf usage = BUF_INIT;
	const struct cli_noun *n;
	struct cli_args a;
	int c;

	/* Arguments end up in JSON strings, which must be UTF-8. */
	for (int i = 1; i < argc; i++) {
		json_t *probe = json_string(argv[i]);
		if (!probe)
			return cli_usage_error("", "argument %d is not valid UTF-8", i);
		json_decref(probe);
	}
	main_usage(&usage);
	cli_args_init(&a, "", usage.s, argc, argv);
	a.in_order = true;
	while ((c = cli_getopt(cli, &a, opts)) != -1) {
		switch (c) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_SOCKET:
			if (!*optarg)
				return cli_usage_error("", "--socket needs a path");
			cli->socket_path = optarg;
			cli->socket_set = true;
			break;
		case OPT_REMOTE:
			if (!*optarg)
				return cli_usage_error("", "--remote needs a name");
			cli->remote = optarg;
			break;
		case OPT_VERSION:
			printf("corral %s\n", CORRAL_VERSION);
			return CLI_OK;
		case OPT_URL:
			cli->url = optarg;
			break;
		case OPT_FINGERPRINT:
			cli->fingerprint = optarg;
			break;
		case OPT_TOKEN_FILE:
			cli->token_file = optarg;
			break;
		}
	}
	if (cli->url && cli->remote)
		return cli_usage_error("", "--url and --remote exclude each other (so do $CORRAL_URL and $CORRAL_REMOTE)");
	if (a.npos == 0)
		return cli_usage_error("", "missing command");
	/* Hidden: shell completion (complete.h), never listed in the help. */
	if (strcmp(a.pos[0], "__complete") == 0)
		return cli_complete(cli, a.npos, a.pos);
	n = cli_noun_find(a.pos[0]);
	if (!n) {
		const char *names[NOUNS + 1];
		__do_buf struct buf hint = BUF_INIT;
		for (size_t i = 0; i < cli_nouns_count; i++)
			names[i] = cli_nouns[i]->name;
		names[NOUNS] = NULL;
		suggest(&hint, a.pos[0], names, sizeof(names[0]));
		return cli_usage_error("", "unknown command '%s'%s", a.pos[0], hint.s ? hint.s : "");
	}
	return run_noun(cli, n, a.npos, a.pos);
}

/* A closed stdin/stdout/stderr would be reused by the first socket we open
 * (the console would then read its own connection): park /dev/null there. */
static void sanitize_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int nul = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (nul >= 0 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
}

int main(int argc, char **argv)
{
	const char *env = getenv("CORRAL_SOCKET");
	struct cli cli = { .socket_path = env && *env ? env : DEFAULT_SOCKET, .socket_set = env && *env };
	const char *url = getenv("CORRAL_URL"), *fp = getenv("CORRAL_FINGERPRINT"), *rem = getenv("CORRAL_REMOTE");

	cli.url = url && *url ? url : NULL;
	cli.remote = rem && *rem ? rem : NULL;
	cli.fingerprint = fp && *fp ? fp : NULL;
	int rc;

	sanitize_std_fds();
	/* --json anywhere turns error lines into JSON too, even those found
	 * before the parser reaches it (errout.h). */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--format=json") == 0 ||
		    (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "json") == 0))
			errout_set_json(true);
	rc = run(&cli, argc, argv);

	if (cli.client_ready)
		client_release(&cli.client);
	if (curl_ready)
		curl_global_cleanup();
	if ((fflush(stdout) == EOF || ferror(stdout)) && errno != EPIPE) {
		errout_print("failed", "cannot write output: %s", strerror(errno));
		rc = CLI_FAIL;
	}
	return rc;
}
