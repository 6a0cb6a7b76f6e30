/*
 * args.c - the CLI's option parsing and value parsers (see cli.h).
 *
 * Every verb runs its own getopt_long loop through cli_getopt, which owns
 * the behaviour all verbs share: --json and --help anywhere, options after
 * positional arguments, and one precise line for every usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "cli.h"
#include "errout.h"
#include "output.h"
#include "util/buf.h"
#include "util/strutil.h"
#include "util/common.h"

int cli_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errout_vprint("failed", fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	errout_print("usage", "%s; see 'corral%s%s --help'", msg.s ? msg.s : "", cmd && *cmd ? " " : "",
		     cmd ? cmd : "");
	buf_release(&msg);
	return CLI_USAGE;
}

void cli_args_init(struct cli_args *a, const char *cmd, const char *usage, int argc, char **argv)
{
	a->cmd = cmd;
	a->usage = usage;
	a->argc = argc;
	a->argv = argv;
	a->in_order = false;
	a->checked = false;
	a->yes_ok = false;
	a->yes = false;
	a->exit_code = CLI_OK;
	a->npos = 0;
	a->pos = NULL;
	optind = 0;	/* glibc: full re-initialisation for the new vector */
	opterr = 0;
}

/* Count the long options `name` (without "--" and "=...") is a prefix of;
 * *exact set when one matches exactly. */
static int count_matches(const struct option *longopts, const char *name, size_t n, bool *exact)
{
	int count = 0;

	*exact = false;
	for (const struct option *o = longopts; o->name; o++) {
		if (strncmp(o->name, name, n) != 0)
			continue;
		count++;
		if (o->name[n] == '\0')
			*exact = true;
	}
	return count;
}

static int bad_option(const struct cli_args *a, const struct option *longopts)
{
	const char *arg = optind > 0 && optind <= a->argc ? a->argv[optind - 1] : "";
	bool exact;
	size_t n;

	if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
		if (optopt > 0 && optopt < 256)
			return cli_usage_error(a->cmd, "unknown option '-%c'", optopt);
		return cli_usage_error(a->cmd, "unknown option '%s'", arg);
	}
	n = strcspn(arg + 2, "=");
	if (count_matches(longopts, arg + 2, n, &exact) > 1 && !exact)
		return cli_usage_error(a->cmd, "ambiguous option '%.*s'", (int)n + 2, arg);
	if (arg[2 + n] == '=' && count_matches(longopts, arg + 2, n, &exact) >= 1)
		return cli_usage_error(a->cmd, "option '%.*s' takes no argument", (int)n + 2, arg);
	return cli_usage_error(a->cmd, "unknown option '%.*s'", (int)n + 2, arg);
}

/* getopt_long takes any unique prefix of a long option ("--d" for
 * "--disks"): one slip then deletes disks.  Every long option must be
 * spelled out; a prefix gets an error naming what it could have meant. */
static int check_unabbreviated(const struct cli_args *a, const struct option *longopts)
{
	for (int i = 1; i < a->argc; i++) {
		const char *arg = a->argv[i];
		const struct option *hit = NULL;
		size_t n;

		if (strcmp(arg, "--") == 0)
			break;
		if (arg[0] != '-') {
			if (a->in_order)
				break;
			continue;
		}
		if (arg[1] != '-')
			continue;
		n = strcspn(arg + 2, "=");
		for (const struct option *o = longopts; o->name && !hit; o++)
			if (strlen(o->name) == n && strncmp(o->name, arg + 2, n) == 0)
				hit = o;
		if (hit) {
			if (hit->has_arg == required_argument && arg[2 + n] != '=')
				i++; /* its value, whatever it looks like */
			continue;
		}
		struct buf alts = BUF_INIT;
		int k = 0;
		for (const struct option *o = longopts; o->name; o++)
			if (n > 0 && strncmp(o->name, arg + 2, n) == 0 && k++ < 4)
				buf_printf(&alts, "%s--%s", alts.len ? ", " : "", o->name);
		int rc = k ? cli_usage_error(a->cmd, "unknown option '%.*s' (options are never abbreviated: %s?)",
					     (int)n + 2, arg, alts.s)
			   : cli_usage_error(a->cmd, "unknown option '%.*s'", (int)n + 2, arg);
		buf_release(&alts);
		return rc;
	}
	return CLI_OK;
}

/* Short forms every verb gets for the long options it has. */
static const struct {
	char c;
	const char *name;
} short_forms[] = { { 'l', "long" }, { 'y', "yes" } };

/* getopt's option string: -h, and the short forms of the verb's options. */
static void short_options(const struct cli_args *a, const struct option *longopts, char *out, size_t size)
{
	size_t n = 0;

	out[n++] = a->in_order ? '+' : ':';
	if (a->in_order)
		out[n++] = ':';
	out[n++] = 'h';
	for (size_t i = 0; i < ARRAY_SIZE(short_forms) && n + 1 < size; i++)
		for (const struct option *o = longopts; o->name; o++)
			if (strcmp(o->name, short_forms[i].name) == 0 && o->has_arg == no_argument && !o->flag)
				out[n++] = short_forms[i].c;
	out[n] = '\0';
}

/* The long option a short form stands for: its getopt value, or 0. */
static int short_form_value(int c, const struct option *longopts)
{
	for (size_t i = 0; i < ARRAY_SIZE(short_forms); i++)
		for (const struct option *o = longopts; c == short_forms[i].c && o->name; o++)
			if (strcmp(o->name, short_forms[i].name) == 0)
				return o->val;
	return 0;
}

static bool listing;
static const struct option *listed;

void cli_args_set_listing(bool on)
{
	listing = on;
	listed = NULL;
}

bool cli_args_listing(void)
{
	return listing;
}

const struct option *cli_args_listed(void)
{
	return listed;
}

int cli_getopt(struct cli *cli, struct cli_args *a, const struct option *longopts)
{
	char shorts[8 + ARRAY_SIZE(short_forms)];

	if (listing) {
		listed = longopts;
		a->exit_code = CLI_OK;
		return CLI_OPT_EXIT;
	}
	short_options(a, longopts, shorts, sizeof(shorts));
	if (!a->checked) {
		a->checked = true;
		if ((a->exit_code = check_unabbreviated(a, longopts)) != CLI_OK)
			return CLI_OPT_EXIT;
	}
	for (;;) {
		int c = getopt_long(a->argc, a->argv, shorts, longopts, NULL);
		int v = c > 0 && c < 256 && c != 'h' ? short_form_value(c, longopts) : 0;

		if (v)
			c = v;
		switch (c) {
		case CLI_OPT_JSON:
			cli->json = true;
			continue;
		case CLI_OPT_YES:
			a->yes = true;
			continue;
		case CLI_OPT_FORMAT:
			if (strcmp(optarg, "json") == 0) {
				cli->json = true;
			} else if (strcmp(optarg, "csv") == 0) {
				out_set_csv(true);
			} else if (strcmp(optarg, "table") != 0) {
				a->exit_code = cli_usage_error(a->cmd, "--format takes table, json or csv, not '%s'", optarg);
				return CLI_OPT_EXIT;
			}
			continue;
		case 'h':
			fputs(a->usage, stdout);
			a->exit_code = CLI_OK;
			return CLI_OPT_EXIT;
		case '?':
			a->exit_code = bad_option(a, longopts);
			return CLI_OPT_EXIT;
		case ':': {
			const char *arg = a->argv[optind - 1];
			a->exit_code = cli_usage_error(a->cmd, "option '%.*s' needs a value",
						       (int)strcspn(arg, "="), arg);
			return CLI_OPT_EXIT;
		}
		case -1:
			a->pos = a->argv + optind;
			a->npos = a->argc - optind;
			return -1;
		default:
			return c;
		}
	}
}

int cli_args_count(const struct cli_args *a, int min, int max, const char *what)
{
	if (a->npos < min) {
		/* Drop the names of the arguments given: "VM and volume" -> "volume". */
		for (int i = 0; i < a->npos && strstr(what, " and "); i++)
			what = strstr(what, " and ") + strlen(" and ");
		return cli_usage_error(a->cmd, "missing %s", what);
	}
	if (max >= 0 && a->npos > max)
		return cli_usage_error(a->cmd, "unexpected argument '%s'", a->pos[max]);
	return CLI_OK;
}

bool cli_args_plain(struct cli *cli, struct cli_args *a, int min, int max, const char *what)
{
	static const struct option opts[] = { CLI_COMMON_OPTIONS, { 0 } };
	static const struct option opts_yes[] = { CLI_YES_OPTION, CLI_COMMON_OPTIONS, { 0 } };

	/* With only the common options, CLI_OPT_EXIT is all that can come back. */
	if (cli_getopt(cli, a, a->yes_ok ? opts_yes : opts) != -1)
		return false;
	a->exit_code = cli_args_count(a, min, max, what);
	return a->exit_code == CLI_OK;
}

int cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	return str_parse_int(s, min, max, out) == 0 ? 0 : -1;
}

int cli_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	return str_parse_size(s, default_unit, out) == 0 ? 0 : -1;
}

int cli_parse_seconds(const char *s, int64_t *ms)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 86400.0 * 365)
		return -1;
	*ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

char *cli_abspath(const char *path)
{
	struct buf out = BUF_INIT;
	__do_free char *cwd = NULL;
	const char *p = path;

	if (path[0] != '/') {
		cwd = getcwd(NULL, 0);
		if (!cwd)
			return xstrdup(path);	/* the daemon will say it is not absolute */
		buf_adds(&out, strcmp(cwd, "/") == 0 ? "" : cwd);
	}
	while (*p) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (!(n == 1 && p[0] == '.')) {
			buf_addch(&out, '/');
			buf_add(&out, p, n);
		}
		p += n;
	}
	if (out.len == 0)
		buf_addch(&out, '/');
	return buf_detach(&out);
}

int cli_read_secret(const char *prompt, bool confirm, char *out, size_t len)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, quiet;
	char again[300];
	int rc = CLI_OK;

	for (int round = 0; round < (tty && confirm ? 2 : 1); round++) {
		char *dst = round ? again : out;
		size_t dlen = round ? sizeof(again) : len;
		if (tty) {
			fprintf(stderr, "%s%s: ", prompt, round ? " again" : "");
			tcgetattr(STDIN_FILENO, &old);
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
		bool got = fgets(dst, (int)dlen, stdin) != NULL;
		if (tty) {
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
			fputc('\n', stderr);
		}
		if (!got) {
			rc = cli_error("no %c%s given (on the terminal or the first line of stdin)", tolower((unsigned char)prompt[0]), prompt + 1);
			break;
		}
		dst[strcspn(dst, "\r\n")] = '\0';
	}
	if (rc == CLI_OK && tty && confirm && strcmp(out, again) != 0)
		rc = cli_error("the %c%ss differ", tolower((unsigned char)prompt[0]), prompt + 1);
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

char *cli_args_joined(const struct cli_args *a, int from)
{
	struct buf b = BUF_INIT;

	for (int i = from; i < a->npos; i++)
		buf_printf(&b, "%s%s", i > from ? ", " : "", a->pos[i]);
	if (!b.s)
		buf_adds(&b, "");
	return buf_detach(&b);
}

int cli_confirm(const struct cli_args *a, const char *fmt, ...)
{
	__do_buf struct buf what = BUF_INIT;
	char line[64];
	va_list ap;

	if (a->yes)
		return CLI_OK;
	va_start(ap, fmt);
	buf_vprintf(&what, fmt, ap);
	va_end(ap);
	if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO))
		return cli_usage_error(a->cmd, "refusing to %s without --yes (no terminal to ask on)", what.s);
	fflush(stdout);
	fprintf(stderr, "corral: %s? [y/N] ", what.s);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin)) {
		fputc('\n', stderr);
		line[0] = '\0';
	}
	line[strcspn(line, "\r\n")] = '\0';
	if (strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0)
		return CLI_OK;
	errout_print("refused", "not confirmed: nothing was changed");
	return CLI_FAIL;
}
