/*
 * cmd_repo.c - `corral repo ...`: the backup repositories this host uses
 * (the API's /v1/repos).  A repository is named by its path; the first one
 * created or added becomes the default that every backup command uses
 * without --repo.
 *
 * Passphrases for encrypted repositories come from --passphrase-file, the
 * CORRAL_PASSPHRASE environment variable, or a prompt on the terminal
 * (asked twice on create); they are never taken from the command line,
 * where every user of the host could read them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

static const char usage_create[] =
	"usage: corral repo create PATH [--encrypt [--passphrase-file FILE]] [--chunk-size SIZE]\n"
	"\n"
	"Create a backup repository in directory PATH (created if missing, or an\n"
	"empty existing directory, e.g. a mounted share) and register it on this\n"
	"host.  The first repository becomes the default.\n"
	"\n"
	"With --encrypt every chunk and manifest is encrypted with AES-256-GCM\n"
	"before it is written.  The key is kept by corrald under its state\n"
	"directory, wrapped with your passphrase ('corral repo show' prints where).\n"
	"LOSE THE KEY FILE OR THE PASSPHRASE AND THE BACKUPS ARE GONE: nobody can\n"
	"recover them.  Copy the key file somewhere safe, away from the repository.\n"
	"\n"
	"Options:\n"
	"  --encrypt               encrypt the repository\n"
	"  --passphrase-file FILE  read the passphrase from FILE (first line); else\n"
	"                          $CORRAL_PASSPHRASE, else a prompt on the terminal\n"
	"  --chunk-size SIZE       chunk size, a power of two from 64K to 16M\n"
	"                          (default 1M)\n"
	"  --json                  print the registered repository as JSON\n"
	"  -h, --help              show this help\n";

static const char usage_add[] =
	"usage: corral repo add PATH [--keyfile FILE [--passphrase-file FILE]]\n"
	"\n"
	"Register an existing repository (made by another host, or before a\n"
	"reinstall).  An encrypted one needs its key file and passphrase; corrald\n"
	"keeps its own copy of the key.\n"
	"\n"
	"Options:\n"
	"  --keyfile FILE          the repository's key file\n"
	"  --passphrase-file FILE  as for 'repo create'\n"
	"  --json                  print the registered repository as JSON\n"
	"  -h, --help              show this help\n";

static const char usage_list[] =
	"usage: corral repo list [--json]\n"
	"\n"
	"List registered repositories as PATH DEFAULT ENCRYPTED ID.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral repo show [PATH] [--json]\n"
	"\n"
	"Show a repository (default: the default one): id, encryption, key file,\n"
	"chunk size, number of backups, and whether it can be reached now.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_default[] =
	"usage: corral repo default PATH\n"
	"\n"
	"Make PATH the repository backup commands use without --repo.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_forget[] =
	"usage: corral repo forget PATH [--yes]\n"
	"\n"
	"Unregister a repository from this host.  Its data and its key file stay\n"
	"where they are; 'corral repo add' registers it again.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_check[] =
	"usage: corral repo check [PATH] [--detach]\n"
	"\n"
	"Read back every chunk every backup in the repository references,\n"
	"decrypt and decompress it and compare it with its id.  Damaged or\n"
	"missing chunks are reported with the backups they affect; the command\n"
	"then fails.  Same as 'corral backup verify --all'.\n"
	"\n"
	"Options:\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_prune[] =
	"usage: corral repo prune [PATH] [--detach]\n"
	"\n"
	"Free the space of chunks no backup references any more (left by forgotten\n"
	"or retention-pruned backups and by interrupted runs).  Waits for running\n"
	"backups of every host using the repository to finish.\n"
	"\n"
	"Options:\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_ENCRYPT = CLI_OPT_FIRST, OPT_PASSFILE, OPT_CHUNK, OPT_KEYFILE, OPT_DETACH };

/* One line from the terminal without echo. */
static int prompt_secret(const char *prompt, struct buf *out)
{
	struct termios old, quiet;
	char line[1100];
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	FILE *f;

	if (fd < 0)
		return -1;
	if (!(f = fdopen(fd, "r+"))) {
		close(fd);
		return -1;
	}
	fputs(prompt, f);
	fflush(f);
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	char *got = fgets(line, sizeof(line), f);
	tcsetattr(fd, TCSAFLUSH, &old);
	fputs("\n", f);
	fclose(f);
	if (!got)
		return -1;
	line[strcspn(line, "\r\n")] = '\0';
	buf_adds(out, line);
	explicit_bzero(line, sizeof(line));
	return 0;
}

/* The passphrase: --passphrase-file, $CORRAL_PASSPHRASE, or the terminal (twice if confirm). */
static int read_passphrase(const char *file, bool confirm, struct buf *out)
{
	const char *env = getenv("CORRAL_PASSPHRASE");
	int r;

	if (file) {
		if ((r = fs_read_file(file, 4096, out)) < 0)
			return cli_error("cannot read passphrase file %s: %s", file, strerror(-r));
		out->len = strcspn(out->s ? out->s : "", "\r\n");
		if (out->s)
			out->s[out->len] = '\0';
		return CLI_OK;
	}
	if (env) {
		buf_adds(out, env);
		return CLI_OK;
	}
	if (prompt_secret("Passphrase: ", out) < 0)
		return cli_error("no passphrase: use --passphrase-file FILE, set CORRAL_PASSPHRASE, or run on a terminal");
	if (confirm) {
		struct buf again = BUF_INIT;
		bool same = prompt_secret("Passphrase again: ", &again) == 0 && strcmp(again.s ? again.s : "",
										  out->s ? out->s : "") == 0;
		if (again.s)
			explicit_bzero(again.s, again.len);
		buf_release(&again);
		if (!same)
			return cli_error("the passphrases differ");
	}
	return CLI_OK;
}

static void scrub(struct buf *b)
{
	if (b->s)
		explicit_bzero(b->s, b->len);
	buf_release(b);
}

static void print_repo_line(const json_t *r)
{
	printf("registered repository %s%s%s\n", out_str(r, "path"),
	       json_is_true(json_object_get(r, "encrypted")) ? " (encrypted)" : "",
	       json_is_true(json_object_get(r, "default")) ? " as the default" : "");
	if (out_str(r, "keyfile"))
		printf("key file: %s -- back it up somewhere safe: without it and the passphrase the backups are "
		       "lost\n",
		       out_str(r, "keyfile"));
}

static int repo_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	struct buf pass = BUF_INIT;
	const char *passfile = NULL;
	bool encrypt = false;
	uint64_t chunk = 0;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "repo create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_ENCRYPT)
			encrypt = true;
		else if (opt == OPT_PASSFILE)
			passfile = optarg;
		else if (opt == OPT_CHUNK && cli_parse_size(optarg, 1, &chunk) < 0)
			return cli_usage_error(a.cmd, "invalid chunk size '%s'", optarg);
	}
	if ((rc = cli_args_count(&a, 1, 1, "repository path")) != CLI_OK)
		return rc;
	if (passfile && !encrypt)
		return cli_usage_error(a.cmd, "--passphrase-file only goes with --encrypt");
	if (encrypt && (rc = read_passphrase(passfile, true, &pass)) != CLI_OK) {
		scrub(&pass);
		return rc;
	}
	path = cli_abspath(a.pos[0]);
	body = json_pack("{s:s,s:b,s:I}", "path", path, "encrypt", encrypt, "chunk_size", (json_int_t)chunk);
	if (encrypt)
		json_object_set_new(body, "passphrase", json_string(pass.s ? pass.s : ""));
	scrub(&pass);
	rc = (c = cli_client(cli)) && client_call(c, "POST", "/v1/repos", body, &r, false) == 0 ? CLI_OK : CLI_FAIL;
	if (rc == CLI_OK) {
		if (cli->json)
			out_json(r.json);
		else
			print_repo_line(r.json);
	}
	return rc;
}

static int repo_add(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keyfile", required_argument, NULL, OPT_KEYFILE },
		{ "passphrase-file", required_argument, NULL, OPT_PASSFILE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	__do_free char *path = NULL;
	__do_free char *keyfile = NULL;
	struct buf pass = BUF_INIT;
	const char *passfile = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "repo add", usage_add, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_KEYFILE) {
			free(keyfile);
			keyfile = cli_abspath(optarg);
		} else if (opt == OPT_PASSFILE) {
			passfile = optarg;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "repository path")) != CLI_OK)
		return rc;
	if (passfile && !keyfile)
		return cli_usage_error(a.cmd, "--passphrase-file only goes with --keyfile");
	if (keyfile && (rc = read_passphrase(passfile, false, &pass)) != CLI_OK) {
		scrub(&pass);
		return rc;
	}
	path = cli_abspath(a.pos[0]);
	body = json_pack("{s:s}", "path", path);
	if (keyfile) {
		json_object_set_new(body, "keyfile", json_string(keyfile));
		json_object_set_new(body, "passphrase", json_string(pass.s ? pass.s : ""));
	}
	scrub(&pass);
	rc = (c = cli_client(cli)) && client_call(c, "POST", "/v1/repos/add", body, &r, false) == 0 ? CLI_OK : CLI_FAIL;
	if (rc == CLI_OK) {
		if (cli->json)
			out_json(r.json);
		else
			print_repo_line(r.json);
	}
	return rc;
}

static void print_repos(const json_t *answer)
{
	static const char *const headers[] = { "PATH", "DEFAULT", "ENCRYPTED", "ID" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *r;
	size_t i;

	json_array_foreach(json_object_get(answer, "repos"), i, r)
		table_add(t, out_str(r, "path"), json_is_true(json_object_get(r, "default")) ? "*" : "",
			  json_is_true(json_object_get(r, "encrypted")) ? "yes" : "no", out_str(r, "id"));
	table_print(t, stdout);
}

static int repo_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "repo list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/repos", print_repos);
}

static void show_repo(const json_t *r)
{
	static const char *const keys[] = { "path", "id", "default", "encrypted", "keyfile", "chunk_size",
					    "backups", "created", "reachable", "problem" };
	__do_table struct table *t = table_new_kv();

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = json_object_get(r, keys[i]);
		if (!v || json_is_null(v))
			continue;
		__do_free char *s = out_scalar(v);
		char when[32];
		table_add_kv(t, keys[i], "%s",
			     strcmp(keys[i], "created") == 0 && json_is_string(v) ? out_time(s, when, sizeof(when)) : s);
	}
	table_print(t, stdout);
}

static int repo_show(struct cli *cli, int argc, char **argv)
{
	__do_free char *url = NULL;
	__do_free char *path = NULL;
	struct client *c;
	struct cli_args a;

	cli_args_init(&a, "repo show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 1, "repository path"))
		return a.exit_code;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = a.npos ? cli_abspath(a.pos[0]) : NULL;
	url = client_path_query(c, "/v1/repos/show", "path", path);
	return cli_get_print(cli, url, show_repo);
}

/* POST /v1/repos/<act> {"path"} and print `done`, or follow the job it starts. */
static int repo_post(struct cli *cli, const char *act, const char *usage, int argc, char **argv, bool job,
		     int min)
{
	static const struct option opts[] = {
		{ "detach", no_argument, NULL, OPT_DETACH },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	__do_free char *url = xasprintf("/v1/repos/%s", act);
	__do_free char *cmd = xasprintf("repo %s", act);
	bool detach = false;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, cmd, usage, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_DETACH) {
			if (!job)
				return cli_usage_error(a.cmd, "unknown option '--detach'");
			detach = true;
		}
	}
	if ((rc = cli_args_count(&a, min, 1, "repository path")) != CLI_OK)
		return rc;
	if (a.npos) {
		__do_free char *path = cli_abspath(a.pos[0]);
		json_object_set_new(body, "path", json_string(path));
	}
	if (!(c = cli_client(cli)) || client_call(c, "POST", url, body, &r, false) < 0)
		return CLI_FAIL;
	if (!job) {
		if (cli->json)
			out_json(r.json);
		else
			printf("%s: %s\n", act, a.pos[0]);
		return CLI_OK;
	}
	return job_follow(cli, r.json, act, detach);
}

static int repo_default(struct cli *cli, int argc, char **argv)
{
	return repo_post(cli, "default", usage_default, argc, argv, false, 1);
}

static int repo_forget(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *path = NULL, *url = NULL;
	struct client *c;
	struct cli_args a;

	cli_args_init(&a, "repo forget", usage_forget, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, 1, "repository path"))
		return a.exit_code;
	{
		int rc = cli_confirm(&a, "forget repository %s (its backups are no longer listed or restorable "
					 "until it is added again)", a.pos[0]);
		if (rc != CLI_OK)
			return rc;
	}
	path = cli_abspath(a.pos[0]);
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	url = client_path(c, "/v1/repos", path, NULL);
	if (client_call(c, "DELETE", url, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("forget: %s\n", a.pos[0]);
	return CLI_OK;
}

static int repo_check(struct cli *cli, int argc, char **argv)
{
	return repo_post(cli, "check", usage_check, argc, argv, true, 0);
}

static int repo_prune(struct cli *cli, int argc, char **argv)
{
	return repo_post(cli, "prune", usage_prune, argc, argv, true, 0);
}

static const struct cli_verb repo_verbs[] = {
	{ "create", "create and register a backup repository", repo_create },
	{ "add", "register an existing repository", repo_add },
	{ "list", "list registered repositories", repo_list },
	{ "show", "show a repository", repo_show },
	{ "default", "choose the default repository", repo_default },
	{ "forget", "unregister a repository (its data stays)", repo_forget },
	{ "check", "verify every chunk of every backup", repo_check },
	{ "prune", "free chunks no backup references", repo_prune },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_repo = {
	"repo", "Backup repositories: where backups are stored, deduplicated and compressed.", repo_verbs, NULL,
};
