/*
 * config.c - corrald's settings table and the parser of corrald.conf
 * (see config.h).
 *
 * The table below is the only place a setting is described: its name,
 * type, bounds, default, help text and where it takes effect.  The file
 * parser, the command-line flags (main.c builds its getopt options from
 * it), `corrald --help` and the key table of docs/config.md all read it, so
 * none of them can know a key the others do not (test_config checks the
 * document against cfg_doc()).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/strutil.h"

#define F(field) offsetof(struct corrald_config, field)
#define AT_START "at start"

static const struct cfg_key keys[] = {
	{ "state_dir", CFG_PATH, 0, 0, "/var/lib/corral", NULL, "DIR", "state database and default storage", AT_START,
	  F(state_dir) },
	{ "socket", CFG_PATH, 0, 0, "/run/corral/corral.sock", NULL, "PATH", "the API's unix socket",
	  AT_START, F(socket) },
	{ "socket_group", CFG_STR, 0, 0, NULL, "none: root only", "GROUP",
	  "the group the API socket belongs to (mode 0660): its members may use corral with root's rights over it, "
	  "as libvirt's unix_sock_group",
	  AT_START, F(socket_group) },
	{ "run_dir", CFG_PATH, 0, 0, NULL, "/run/corral, or STATE_DIR/run when state_dir is set", "DIR",
	  "per-VM sockets, pid files, console logs", AT_START, F(run_dir) },
	{ "storage_dir", CFG_PATH, 0, 0, NULL, "STATE_DIR/storage", "DIR", "the default pool: where volumes live",
	  AT_START, F(storage_dir) },
	{ "qemu", CFG_STR, 0, 0, "qemu-system-x86_64", NULL, "PATH", "the QEMU system emulator",
	  "when a VM starts", F(qemu) },
	{ "qemu_user", CFG_STR, 0, 0, "corral-qemu", NULL, "USER",
	  "the account QEMU runs as (made by scripts/setup-user.sh; root only when named here)", "when a VM starts",
	  F(qemu_user) },
	{ "cgroup_parent", CFG_STR, 0, 0, "corral", NULL, "NAME",
	  "the cgroup (in every controller hierarchy) under which each VM gets its own group vm-UUID", AT_START,
	  F(cgroup_parent) },
	{ "image_helper", CFG_PATH, 0, 0, NULL, "corral-imgd next to corrald, else the installed one", "PATH",
	  "the sandboxed program that reads inside disks", "per disk inspection", F(image_helper) },
	{ "image_user", CFG_STR, 0, 0, "corral-imgd", NULL, "USER",
	  "the account the image helper runs as (never root, never QEMU's)", "per disk inspection", F(image_user) },
	{ "image_timeout", CFG_UINT, 1, 3600, "30", NULL, "S", "stop the image helper after S seconds without progress",
	  "per disk inspection", F(image_timeout) },
	{ "log_file", CFG_PATH, 0, 0, NULL, "stderr", "PATH", "log there (appended) instead of stderr", AT_START,
	  F(log_file) },
	{ "debug", CFG_BOOL, 0, 0, "no", NULL, NULL, "verbose logging", AT_START, F(debug) },
	{ "http_workers", CFG_UINT, 1, 256, "8", NULL, "N", "threads running API requests", AT_START,
	  F(http_workers) },
	{ "http_queue", CFG_UINT, 1, 65536, "64", NULL, "N", "requests waiting for a worker before 503", AT_START,
	  F(http_queue) },
	{ "http_max_connections", CFG_UINT, 2, 1000000, "512", NULL, "N",
	  "open API connections (lowered to fit the open-files limit)", AT_START, F(http_max_connections) },
	{ "http_idle_timeout", CFG_UINT, 1, 86400, "30", NULL, "S", "close a connection silent for S seconds",
	  AT_START, F(http_idle_timeout) },
	{ "http_header_timeout", CFG_UINT, 1, 86400, "10", NULL, "S",
	  "request line and headers must arrive within S seconds", AT_START, F(http_header_timeout) },
	{ "http_body_timeout", CFG_UINT, 1, 86400, "30", NULL, "S", "a request body must arrive within S seconds",
	  AT_START, F(http_body_timeout) },
	{ "listen", CFG_STR, 0, 0, NULL, "none (the unix socket only)", "ADDR:PORT",
	  "also serve the API over TCP with TLS there (e.g. 0.0.0.0:8006, [::]:8006); callers need a user or an "
	  "API token (docs/remote.md)",
	  AT_START, F(listen) },
	{ "tls_cert", CFG_PATH, 0, 0, NULL, "STATE_DIR/tls/host.crt, made at first start", "PATH",
	  "the TLS certificate (PEM) of the TCP API", AT_START, F(tls_cert) },
	{ "tls_key", CFG_PATH, 0, 0, NULL, "STATE_DIR/tls/host.key, made at first start", "PATH",
	  "the private key (PEM, unencrypted, readable by root only) of tls_cert", AT_START, F(tls_key) },
	{ "host_name", CFG_STR, 0, 0, NULL, "the system's host name", "NAME",
	  "this host's name as trusted hosts know it (1-64 of letters, digits, '.', '_', '-'; docs/remote.md)",
	  AT_START, F(host_name) },
	{ "auth_fail_limit", CFG_UINT, 0, 64, "5", NULL, "N",
	  "failed logins allowed per user and per source address within auth_fail_window (0: no limit)", AT_START,
	  F(auth_fail_limit) },
	{ "auth_fail_window", CFG_UINT, 1, 86400, "60", NULL, "S", "the window of auth_fail_limit, in seconds",
	  AT_START, F(auth_fail_window) },
	{ "shutdown_guests", CFG_BOOL, 0, 0, "no", NULL, NULL,
	  "on SIGTERM (host shutdown) stop every guest before exiting: ACPI power button in reverse start order, all "
	  "at once, killing those still running after shutdown_timeout (default: guests run on, so that a corrald "
	  "restart never stops them)",
	  "at SIGTERM", F(shutdown_guests) },
	{ "shutdown_timeout", CFG_UINT, 1, 3600, "300", NULL, "S",
	  "how long shutdown_guests waits for the guests to power off before killing them", "at SIGTERM",
	  F(shutdown_timeout) },
	{ "metrics_interval", CFG_UINT, 1, 3600, "10", NULL, "S",
	  "sample every running VM and the host every S seconds (docs/metrics.md); the history files keep the "
	  "interval they were made with",
	  AT_START, F(metrics_interval) },
	{ "ui_dir", CFG_PATH, 0, 0, NULL, "ui next to corrald (the build tree), else the installed DATADIR/corral/ui",
	  "DIR", "the web UI's files, served at /ui/ (docs/webui.md)", AT_START, F(ui_dir) },
	{ "session_idle_timeout", CFG_UINT, 60, 86400, "1800", NULL, "S",
	  "a web UI session ends after S seconds without a request (docs/webui.md)", AT_START,
	  F(session_idle_timeout) },
	{ "session_max_age", CFG_UINT, 60, 2592000, "43200", NULL, "S",
	  "a web UI session ends S seconds after its login, used or not", AT_START, F(session_max_age) },
	{ "allow_path", CFG_PATH_LIST, 0, 0, NULL, "none", "DIR",
	  "a directory (or one file or device) API callers may name host files in, besides the storage pools; "
	  "repeat for more",
	  "per request", F(allow_path) },
	{ "tcg_live_migration", CFG_BOOL, 0, 0, "no", NULL, NULL,
	  "a guest emulated by TCG (no KVM) migrates live; else its memory moves with it paused (quick), since "
	  "QEMU 7.2 under TCG can lose guest writes made while memory is copied (docs/migration.md)",
	  "per migration", F(tcg_live_migration) },
	{ "ha_watchdog", CFG_STR, 0, 0, "auto", NULL, "auto|none|DEVICE",
	  "the watchdog device corral-guard arms while HA guests run here, so that a hung guard or a fence that "
	  "cannot kill resets the host (auto: /dev/watchdog0 or /dev/watchdog when present; docs/ha.md)",
	  "when corral-guard starts", F(ha_watchdog) },
	{ "ct_base_days", CFG_UINT, 0, 3650, "30", NULL, "DAYS",
	  "the debian template's cached base (STATE_DIR/cache) is built again by the next create once it is older "
	  "than this; when that build fails the old base serves (0: built once, kept)",
	  "per create", F(ct_base_days) },
	{ "allow_block_devices", CFG_BOOL, 0, 0, "no", NULL, NULL,
	  "block devices inside allowed directories may be used (else only those named by allow_path)", "per request",
	  F(allow_block_devices) },
	{ "events_keep", CFG_UINT, 0, 100000000, "1000", NULL, "N",
	  "newest events kept per VM and for the host (0: no count limit)", "hourly pruning", F(events_keep) },
	{ "jobs_keep", CFG_UINT, 0, 100000000, "1000", NULL, "N", "newest finished jobs kept (0: no count limit)",
	  "hourly pruning", F(jobs_keep) },
	{ "history_days", CFG_UINT, 0, 36500, "90", NULL, "DAYS",
	  "events and finished jobs older than this are deleted (0: no age limit)", "hourly pruning",
	  F(history_days) },
};

const struct cfg_key *cfg_keys(size_t *n)
{
	*n = ARRAY_SIZE(keys);
	return keys;
}

const struct cfg_key *cfg_key_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static void *field(struct corrald_config *c, const struct cfg_key *k) { return (char *)c + k->offset; }

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

int cfg_set(struct corrald_config *c, const struct cfg_key *k, const char *value, bool from_cli, const char *shown,
	    struct buf *err)
{
	int64_t n;
	bool b;

	if (str_has_control(value)) {
		buf_printf(err, "%s must not contain control characters", shown);
		return -EINVAL;
	}
	switch (k->type) {
	case CFG_UINT:
		if (str_parse_int(value, k->min, k->max, &n) < 0) {
			buf_printf(err, "%s must be a whole number from %lld to %lld, not '%s'", shown, (long long)k->min,
				   (long long)k->max, value);
			return -EINVAL;
		}
		*(int64_t *)field(c, k) = n;
		return 0;
	case CFG_BOOL:
		if (parse_bool(value, &b) < 0) {
			buf_printf(err, "%s must be yes or no, not '%s'", shown, value);
			return -EINVAL;
		}
		*(bool *)field(c, k) = b;
		return 0;
	case CFG_STR:
		if (!*value) {
			buf_printf(err, "%s must not be empty", shown);
			return -EINVAL;
		}
		free(*(char **)field(c, k));
		*(char **)field(c, k) = xstrdup(value);
		return 0;
	case CFG_PATH:
	case CFG_PATH_LIST:
		break;
	}
	if (value[0] != '/' && !(from_cli && *value)) {
		buf_printf(err, "%s must be an absolute path, not '%s'", shown, value);
		return -EINVAL;
	}
	char *abs = value[0] == '/' ? xstrdup(value) : fs_absolute(value);
	if (k->type == CFG_PATH) {
		free(*(char **)field(c, k));
		*(char **)field(c, k) = abs;
	} else {
		struct cfg_list *l = field(c, k);
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = abs;
	}
	if (k->offset == F(state_dir))
		c->state_dir_set = true;
	return 0;
}

void cfg_init(struct corrald_config *c)
{
	struct buf ignored = BUF_INIT;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (keys[i].def && cfg_set(c, &keys[i], keys[i].def, false, keys[i].name, &ignored) < 0)
			abort(); /* a broken default in the table: test_config catches it */
	c->state_dir_set = false;
	buf_release(&ignored);
}

void cfg_release(struct corrald_config *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].type == CFG_STR || keys[i].type == CFG_PATH) {
			free(*(char **)field(c, &keys[i]));
		} else if (keys[i].type == CFG_PATH_LIST) {
			struct cfg_list *l = field(c, &keys[i]);
			for (size_t j = 0; j < l->n; j++)
				free(l->v[j]);
			free(l->v);
		}
	}
	memset(c, 0, sizeof(*c));
}

static bool is_space(char ch) { return ch == ' ' || ch == '\t' || ch == '\r'; }

/* One line (no '\n', NUL-terminated, modified in place). */
static int parse_line(struct corrald_config *c, const char *file, unsigned lineno, char *line, unsigned *seen,
		      struct buf *err)
{
	char *eq, *key, *value, *end;

	while (is_space(*line))
		line++;
	if (!*line || *line == '#')
		return 0;
	if (!(eq = strchr(line, '='))) {
		buf_printf(err, "%s:%u: expected 'key = value'", file, lineno);
		return -EINVAL;
	}
	key = line;
	for (end = eq; end > key && is_space(end[-1]); end--)
		;
	*end = '\0';
	value = eq + 1;
	while (is_space(*value))
		value++;
	for (end = value + strlen(value); end > value && is_space(end[-1]); end--)
		;
	*end = '\0';
	if (!*key) {
		buf_printf(err, "%s:%u: expected 'key = value', found no key before '='", file, lineno);
		return -EINVAL;
	}
	const struct cfg_key *k = cfg_key_find(key);
	if (!k) {
		struct buf shown = BUF_INIT;
		buf_add_printable(&shown, key, strlen(key));
		buf_printf(err, "%s:%u: unknown key '%s' (the keys are in corrald --help and docs/config.md)", file,
			   lineno, shown.s);
		buf_release(&shown);
		return -EINVAL;
	}
	size_t i = (size_t)(k - keys);
	if (seen[i] && k->type != CFG_PATH_LIST) {
		buf_printf(err, "%s:%u: %s is set twice (first on line %u); only allow_path may repeat", file, lineno,
			   k->name, seen[i]);
		return -EINVAL;
	}
	seen[i] = lineno;
	buf_printf(err, "%s:%u: ", file, lineno);
	if (cfg_set(c, k, value, false, k->name, err) < 0)
		return -EINVAL;
	buf_reset(err);
	return 0;
}

int cfg_parse(struct corrald_config *c, const char *file, const char *text, size_t len, struct buf *err)
{
	unsigned seen[ARRAY_SIZE(keys)] = { 0 };
	unsigned lineno = 0;
	size_t pos = 0;
	struct buf line = BUF_INIT;
	int r = 0;

	if (memchr(text, '\0', len)) {
		buf_printf(err, "%s: contains a NUL byte; a configuration file is text", file);
		return -EINVAL;
	}
	while (pos < len && r == 0) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct buf msg = BUF_INIT;
		lineno++;
		buf_reset(&line);
		buf_add(&line, text + pos, n);
		if ((r = parse_line(c, file, lineno, line.s, seen, &msg)) < 0)
			buf_add(err, msg.s, msg.len);
		buf_release(&msg);
		pos += n + 1;
	}
	buf_release(&line);
	return r;
}

int cfg_load(struct corrald_config *c, const char *path, bool must_exist, struct buf *err)
{
	struct buf text = BUF_INIT;
	int r = fs_read_file(path, CFG_MAX_FILE, &text);

	if (r == -ENOENT && !must_exist)
		r = 0;
	else if (r == -EFBIG)
		buf_printf(err, "%s: larger than %d bytes; not a configuration file", path, CFG_MAX_FILE);
	else if (r < 0)
		buf_printf(err, "cannot read %s: %s", path, strerror(-r));
	else
		r = cfg_parse(c, path, text.s, text.len, err);
	buf_release(&text);
	return r;
}

char *cfg_flag_name(const struct cfg_key *k)
{
	char *f = xstrdup(k->name);
	for (char *p = f; *p; p++)
		if (*p == '_')
			*p = '-';
	return f;
}

static const char *def_text(const struct cfg_key *k) { return k->def ? k->def : k->def_doc ? k->def_doc : ""; }

/* Append text to out, wrapped at 79 columns, continuation lines indented by `indent`. */
static void add_wrapped(struct buf *out, size_t col, size_t indent, const char *text)
{
	while (*text) {
		size_t word = strcspn(text, " ");
		if (col > indent && col + 1 + word > 79) {
			buf_printf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > indent) {
			buf_addch(out, ' ');
			col++;
		}
		buf_add(out, text, word);
		col += word;
		text += word;
		while (*text == ' ')
			text++;
	}
	buf_addch(out, '\n');
}

void cfg_usage(struct buf *out)
{
	enum { INDENT = 29 };

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		__do_free char *flag = cfg_flag_name(k);
		struct buf left = BUF_INIT, text = BUF_INIT;
		buf_printf(&left, "  --%s%s%s", flag, k->arg ? " " : "", k->arg ? k->arg : "");
		if (left.len < INDENT)
			buf_printf(out, "%-*s", INDENT, left.s);
		else
			buf_printf(out, "%s\n%*s", left.s, INDENT, "");
		buf_adds(&text, k->help);
		if (k->type == CFG_UINT)
			buf_printf(&text, " (%lld..%lld, default %s)", (long long)k->min, (long long)k->max, def_text(k));
		else
			buf_printf(&text, " (default %s)", def_text(k));
		add_wrapped(out, INDENT, INDENT, text.s);
		buf_release(&left);
		buf_release(&text);
	}
}

static const char *type_doc(const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_UINT: return "number";
	case CFG_BOOL: return "yes/no";
	case CFG_STR: return "text";
	case CFG_PATH: return "absolute path";
	case CFG_PATH_LIST: return "absolute path, repeatable";
	}
	return "";
}

void cfg_doc(struct buf *out)
{
	buf_adds(out, "| key | flag | value | default | takes effect | meaning |\n"
		      "|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		__do_free char *flag = cfg_flag_name(k);
		buf_printf(out, "| `%s` | `--%s` | %s", k->name, flag, type_doc(k));
		if (k->type == CFG_UINT)
			buf_printf(out, " %lld..%lld", (long long)k->min, (long long)k->max);
		buf_printf(out, " | %s%s%s | %s | %s |\n", k->def ? "`" : "", def_text(k), k->def ? "`" : "", k->applied,
			   k->help);
	}
}

void cfg_example(struct buf *out)
{
	buf_adds(out, "# " CFG_DEFAULT_PATH ": corrald's settings (docs/config.md).\n"
		      "#\n"
		      "# Every key below is commented out at its default; uncomment and change\n"
		      "# what this host needs, then restart corrald (guests keep running across\n"
		      "# the restart).  `corrald --check-config` checks the file without\n"
		      "# starting.  One `key = value` per line; allow_path may repeat.\n"
		      "# `make install` writes this file only when there is none: it never\n"
		      "# overwrites yours (the current template is corrald.conf.example).\n");
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const struct cfg_key *k = &keys[i];
		struct buf text = BUF_INIT;
		buf_printf(&text, "%s (%s", k->help, type_doc(k));
		if (k->type == CFG_UINT)
			buf_printf(&text, " %lld..%lld", (long long)k->min, (long long)k->max);
		buf_printf(&text, "; takes effect %s)", k->applied);
		/* wrapped a little narrower, then every line made a comment */
		struct buf lines = BUF_INIT;
		add_wrapped(&lines, 2, 0, text.s);
		buf_addch(out, '\n');
		for (const char *p = lines.s + (lines.s[0] == ' '); *p;) {
			size_t n = strcspn(p, "\n");
			buf_printf(out, "# %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
		buf_release(&lines);
		buf_release(&text);
		if (k->def)
			buf_printf(out, "#%s = %s\n", k->name, k->def);
		else
			buf_printf(out, "# (default: %s)\n#%s =\n", def_text(k), k->name);
	}
}
