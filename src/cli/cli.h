/*
 * cli.h - what the corral CLI's command files share.
 *
 * The CLI is nouns then verbs (`corral vm start web1`).  main.c parses the
 * global options and picks a noun from the tables the cmd_*.c files export;
 * the noun's verb table picks the function that parses the verb's own
 * options (getopt_long through cli_getopt) and talks to corrald through
 * client.h.  The CLI holds no business logic: it turns flags into the JSON
 * of docs/api.md and the answers into text.
 *
 * Exit status: CLI_OK (0) success, CLI_FAIL (1) an error reported on one
 * stderr line "corral: ...", CLI_USAGE (2) a usage error reported as
 * "corral: <what>; see 'corral <noun> <verb> --help'".  With --json those
 * lines are JSON instead (errout.h prints every one of them).
 */
#ifndef CORRAL_CLI_CLI_H
#define CORRAL_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "client.h"

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "unknown"
#endif

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* State of one CLI run; the client is connected lazily by cli_client(). */
struct cli {
	const char *socket_path;
	const char *url;         /* --url / $CORRAL_URL: the TLS API instead of the socket */
	const char *fingerprint; /* --fingerprint / $CORRAL_FINGERPRINT */
	const char *token_file;  /* --token-file (else $CORRAL_TOKEN) */
	const char *remote;      /* --remote NAME / $CORRAL_REMOTE (remotes.h; "local": the socket) */
	bool socket_set;         /* --socket or $CORRAL_SOCKET: the socket, not the default remote */
	bool json;		/* --json: print the API's JSON instead of text */
	bool client_ready;
	struct client client;
};

struct cli_verb {
	const char *name;
	const char *summary;	/* one line for 'corral NOUN --help' */
	int (*run)(struct cli *cli, int argc, char **argv);	/* argv[0] is the verb */
};

struct cli_noun {
	const char *name;
	const char *summary;
	const struct cli_verb *verbs;	/* terminated by an entry with name NULL */
	/* A noun without verbs (`corral events`) runs this with argv[0] the noun. */
	int (*run)(struct cli *cli, int argc, char **argv);
};

extern const struct cli_noun cli_noun_vm;
extern const struct cli_noun cli_noun_disk;
extern const struct cli_noun cli_noun_pool;
extern const struct cli_noun cli_noun_net;
extern const struct cli_noun cli_noun_nic;
extern const struct cli_noun cli_noun_cdrom;
extern const struct cli_noun cli_noun_host;
extern const struct cli_noun cli_noun_job;
extern const struct cli_noun cli_noun_snapshot;
extern const struct cli_noun cli_noun_repo;
extern const struct cli_noun cli_noun_backup;
extern const struct cli_noun cli_noun_policy;
extern const struct cli_noun cli_noun_alarm;
extern const struct cli_noun cli_noun_cluster;
extern const struct cli_noun cli_noun_witness;
extern const struct cli_noun cli_noun_ha;
extern const struct cli_noun cli_noun_events;
extern const struct cli_noun cli_noun_user;
extern const struct cli_noun cli_noun_token;
extern const struct cli_noun cli_noun_acl;
extern const struct cli_noun cli_noun_remote;
extern const struct cli_noun cli_noun_ct;
extern const struct cli_noun cli_noun_list;

/* Every noun, in help order (main.c), and the lookups dispatch uses. */
extern const struct cli_noun *const cli_nouns[];
extern const size_t cli_nouns_count;
const struct cli_noun *cli_noun_find(const char *name);
/* The verb `name` of n, aliases (ls, rm, remove) included; NULL if none. */
const struct cli_verb *cli_verb_find(const struct cli_noun *n, const char *name);
/* The global options main.c parses before the noun (terminated by a zero entry). */
extern const struct option cli_global_options[];

/* Print events as they happen (of VM vm, of the kinds listed; NULL: all)
 * until interrupted (cmd_events.c; also `vm events --follow`). */
int cli_events_follow(struct cli *cli, const char *vm, const char *kinds);

/*
 * The client, initialised on first use (main.c).  NULL after printing an
 * error.  Where it talks to: --url; else the remote --remote names; else
 * the socket when --socket or $CORRAL_SOCKET is given; else the default
 * remote of the remotes file (remotes.h), if any; else the default socket.
 */
struct client *cli_client(struct cli *cli);

/* --- option parsing (args.c) --- */

/* Long-only option values start above any character. */
enum {
	CLI_OPT_JSON = 256,
	CLI_OPT_YES = 257,
	CLI_OPT_FORMAT = 258,
	CLI_OPT_FIRST = 300,	/* first value free for verbs */
	CLI_OPT_EXIT = -2,	/* cli_getopt: stop, return a.exit_code */
};

/* Every verb's option table ends with these (then a zero entry). */
#define CLI_COMMON_OPTIONS                                   \
	{ "json", no_argument, NULL, CLI_OPT_JSON },         \
	{ "format", required_argument, NULL, CLI_OPT_FORMAT }, \
	{ "help", no_argument, NULL, 'h' }

/* Destructive verbs add this to their table (before CLI_COMMON_OPTIONS):
 * --yes/-y, consumed by cli_getopt into cli_args.yes (see cli_confirm). */
#define CLI_YES_OPTION { "yes", no_argument, NULL, CLI_OPT_YES }

struct cli_args {
	const char *cmd;	/* "vm create": named in usage errors */
	const char *usage;	/* full --help text, printed to stdout */
	int argc;
	char **argv;
	bool in_order;		/* stop at the first positional argument (global/noun level) */
	bool checked;		/* the long options were checked for abbreviations */
	bool yes_ok;		/* cli_args_plain: the verb takes --yes (set after cli_args_init) */
	bool yes;		/* --yes or -y was given */
	int exit_code;		/* set when cli_getopt returns CLI_OPT_EXIT */
	int npos;		/* positional arguments, set when cli_getopt returns -1 */
	char **pos;
};

/*
 * Completion (complete.h) asks a verb for its options by running it in this
 * mode: the verb's first cli_getopt records its option table (read it with
 * cli_args_listed) and returns CLI_OPT_EXIT; cli_client refuses to connect,
 * so nothing is ever sent.
 */
void cli_args_set_listing(bool on);
bool cli_args_listing(void);
const struct option *cli_args_listed(void);

/* Prepare for a cli_getopt loop over argv (argv[0] is the verb). */
void cli_args_init(struct cli_args *a, const char *cmd, const char *usage, int argc, char **argv);

/*
 * getopt_long with the shared handling: --json sets cli->json, --format
 * table|json|csv picks the output (json: as --json; csv: tables as CSV), --help
 * prints the usage (both consumed here), unknown options and missing
 * arguments become usage errors.  Options may come after positional
 * arguments.  Returns the next option's value, -1 when done (a->pos/npos
 * set), or CLI_OPT_EXIT when the verb must return a->exit_code.
 */
int cli_getopt(struct cli *cli, struct cli_args *a, const struct option *longopts);

/*
 * Check min <= npos <= max (max < 0: unlimited); else a usage error: "missing
 * <what>" or "unexpected argument '<arg>'".  `what` names the arguments in
 * order, joined by " and " ("VM and volume"); those already given are left
 * out of the message ("missing volume").  Returns CLI_OK or CLI_USAGE.
 */
int cli_args_count(const struct cli_args *a, int min, int max, const char *what);

/*
 * The whole parse of a verb whose only options are CLI_COMMON_OPTIONS: the
 * cli_getopt loop, then cli_args_count.  True to go on; false when the verb
 * must return a->exit_code (after --help or a usage error).
 */
bool cli_args_plain(struct cli *cli, struct cli_args *a, int min, int max, const char *what);

/*
 * Destructive or irreversible verbs call this before changing anything,
 * with what they are about to do ("delete vm web1 and its volumes").
 * With --yes: CLI_OK.  On a terminal (stdin and stderr are ttys): asks
 * "corral: <what>? [y/N] " and returns CLI_OK for y/yes, else CLI_FAIL
 * ("nothing was changed").  Without a terminal and without --yes: a usage
 * error naming --yes (CLI_USAGE).  Errors are printed.
 */
int cli_confirm(const struct cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The positional arguments from `from` on, joined with ", " (for cli_confirm).  Caller frees. */
char *cli_args_joined(const struct cli_args *a, int from);

/* Print "corral: <msg>; see 'corral <cmd> --help'" and return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "corral: <msg>" and return CLI_FAIL. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Read a secret line: from the terminal with echo off after `prompt`
 * (asked twice when `confirm`, the two must match), or the first line of
 * stdin when that is not a terminal.  No line end kept.  CLI_OK or CLI_FAIL
 * (printed); wipe out when done.
 */
int cli_read_secret(const char *prompt, bool confirm, char *out, size_t len);

/* Parse a decimal integer in [min, max].  0 or -1. */
int cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
/* Parse a size (str_parse_size) where a bare number means `default_unit`.  0 or -1. */
int cli_parse_size(const char *s, uint64_t default_unit, uint64_t *out);
/* Parse seconds, fractions allowed ("2", "0.5"), into milliseconds.  0 or -1. */
int cli_parse_seconds(const char *s, int64_t *ms);

/* `path` made absolute against the cwd ("." components and doubled slashes
 * dropped, symlinks and ".." left alone).  Caller frees. */
char *cli_abspath(const char *path);

/* --- requests and answers the verbs share (request.c) --- */

/*
 * GET `path` (already encoded) and print the answer: its JSON with --json,
 * else through text(answer).  CLI_OK, or CLI_FAIL with the error printed.
 */
int cli_get_print(struct cli *cli, const char *path, void (*text)(const json_t *answer));
/* cli_get_print of one object, <base>/<item> ("/v1/vms", "web1"). */
int cli_show(struct cli *cli, const char *base, const char *item, void (*text)(const json_t *answer));

/*
 * `method` <base>/<item><suffix> (item escaped; suffix NULL: none) with
 * `body` (NULL: none).  CLI_OK with the JSON answer in *r (the caller
 * releases it), else CLI_FAIL with the error printed.
 */
int cli_call(struct cli *cli, const char *method, const char *base, const char *item, const char *suffix,
	     const json_t *body, struct reply *r);

/* An option of a request verb that becomes a member of its JSON body. */
struct cli_body_member {
	int val;		/* the option's getopt value */
	const char *member;	/* "source_format" */
};
/*
 * The whole parse of a verb that sends one file to corrald (`disk import`,
 * `vm import`): the cli_getopt loop over `longopts` (the verb's static
 * table), in which each option listed in `members` (ended by a zero val)
 * becomes a member of *body: a string for an option with an argument,
 * true/false for a flag (false when not given); then exactly one positional
 * argument, the file (`what` in a usage error), made absolute as "path".
 * True with *body (caller decrefs) to go on; false when the verb must
 * return a->exit_code (after --help or a usage error).
 */
bool cli_file_request_args(struct cli *cli, struct cli_args *a, const struct option *longopts,
			   const struct cli_body_member *members, const char *what, json_t **body);

/*
 * DELETE <base>/<item><suffix> (suffix NULL: none) for each of the n items,
 * going on past a refusal (printed).  done() gets each answer (NULL when it
 * is not JSON), adds it to `all` and, unless --json, prints the
 * confirmation; with --json `all` is printed at the end.  CLI_OK when every
 * item was deleted, else CLI_FAIL (at once, printing nothing more, when
 * corrald cannot be reached).
 */
int cli_delete_each(struct cli *cli, const char *base, const char *suffix, char **items, int n, json_t *all,
		    void (*done)(struct cli *cli, const char *item, json_t *answer, json_t *all));

/*
 * Print an answer that is the VM a verb changed: its JSON with --json, else
 * the line "<fmt...> vm <name>" (the name `sel`, the VM argument, when the
 * answer has none).  Returns CLI_OK.
 */
int cli_vm_changed(struct cli *cli, const json_t *vm, const char *sel, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Download `url` (a content route) into DEST: a file, a directory to put
 * basename(src) in, or "-" for stdout.  The file is written next to DEST and
 * renamed into place when complete; an existing DEST needs `force`.  Prints
 * "copied SRC (SIZE) to DEST" (or JSON).  CLI_OK, else the error printed.
 */
int cli_download_to(struct cli *cli, const char *cmd, const char *url, const char *src, const char *dest_arg,
		    bool force);
/* Print a directory listing answer {"entries":[{name,type,mode,size,mtime,target}]}
 * as names, or with `lng` as MODE SIZE MTIME NAME. */
void cli_print_listing(const json_t *answer, bool lng);

/* --- jobs (cmd_job.c) --- */

/*
 * Poll GET /v1/jobs/{id} every 200 ms until `job` (an API job object) is no
 * longer running.  When stderr is a terminal shows
 * "\r<label>: 42% 120.3 MiB/s ETA 3s (<phase>)", or "<label>: cancelling at 42%".
 * On return *final holds the last job object (new reference) and the result
 * is CLI_OK if it succeeded, else CLI_FAIL with the job's error printed
 * ("TYPE job ID was cancelled: ..." for a cancelled one).  label NULL: quiet
 * (no progress, no error line: the caller reports).
 */
int job_wait(struct cli *cli, const json_t *job, const char *label, json_t **final);
/* Send a request answered 202 {"job": ...} and job_wait for that job
 * (*final: the finished job, or NULL when the request itself failed). */
int job_request(struct cli *cli, const char *method, const char *path, const json_t *body, const char *label,
		json_t **final);
/*
 * Follow the job an API answer {"job": job} started: with `detach` print it
 * (its id, or its JSON) and return; else job_wait, then print the final job
 * (--json) or its result for people: a backup run's per-VM table, else
 * its fields one per line.  CLI_OK when it succeeded.
 */
int job_follow(struct cli *cli, const json_t *answer, const char *label, bool detach);


/* --- templates and clones (cmd_clone.c): verbs of the vm noun --- */

int cli_vm_template(struct cli *cli, int argc, char **argv);
int cli_vm_clone(struct cli *cli, int argc, char **argv);

/* --- appliance import (cmd_import.c): a verb of the vm noun --- */

int cli_vm_import(struct cli *cli, int argc, char **argv);

/* --- metrics history (cmd_stats.c): verbs of the vm and host nouns --- */

int cli_vm_stats(struct cli *cli, int argc, char **argv);
int cli_host_stats(struct cli *cli, int argc, char **argv);

/* --- live migration (cmd_migrate.c): a verb of the vm noun --- */

int cli_vm_migrate(struct cli *cli, int argc, char **argv);
/* cmd_replicate.c: `vm replicate` (docs/ha.md) */
int cli_vm_replicate(struct cli *cli, int argc, char **argv);
int cli_host_evacuate(struct cli *cli, int argc, char **argv);

/* --- inside disks (cmd_image.c): verbs of the disk and vm nouns --- */

int cli_disk_ls(struct cli *cli, int argc, char **argv);
int cli_disk_cat(struct cli *cli, int argc, char **argv);
int cli_disk_get(struct cli *cli, int argc, char **argv);
int cli_vm_boot_entries(struct cli *cli, int argc, char **argv);

#endif
