/*
 * config.h - corrald's settings: one table of keys (config.c) that serves
 * the configuration file /etc/corral/corrald.conf, the command-line flags,
 * `corrald --help` and docs/config.md.
 *
 * Every setting is a key `name` in the file and a flag `--name` (with '-'
 * for '_') on the command line.  The file is `key = value` lines; blank
 * lines and lines starting with '#' are ignored; a list key (allow_path)
 * may be repeated, every other key appears at most once.  Flags override
 * the file, except that list flags add to the file's list.  An unknown key,
 * a value that breaks its key's rule (type, range, absolute path) or a
 * repeated key is refused with "FILE:LINE: " and a sentence naming the key
 * and the rule; corrald then refuses to start.
 *
 * Ownership: struct corrald_config owns every string and list in it; free
 * with cfg_release().  Defaults that depend on other keys (run_dir,
 * storage_dir, image_helper) stay NULL here and are worked out by main.c.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_DAEMON_CONFIG_H
#define CORRAL_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CFG_DEFAULT_PATH "/etc/corral/corrald.conf"
#define CFG_MAX_FILE (1024 * 1024)

struct cfg_list {
	char **v;
	size_t n;
};

struct corrald_config {
	char *state_dir;
	char *socket;
	char *socket_group;	/* NULL: root only */
	char *run_dir;		/* NULL: /run/corral, or STATE_DIR/run when state_dir was set */
	char *storage_dir;	/* NULL: STATE_DIR/storage */
	char *qemu;
	char *qemu_user;
	char *cgroup_parent;	/* the group (in every controller) VMs' groups live under */
	char *image_helper;	/* NULL: corral-imgd next to corrald, else the installed one */
	char *image_user;
	int64_t image_timeout;
	char *log_file;		/* NULL: stderr */
	bool debug;
	int64_t http_workers, http_queue, http_max_connections;
	int64_t http_idle_timeout, http_header_timeout, http_body_timeout;
	struct cfg_list allow_path;
	bool allow_block_devices;
	bool tcg_live_migration;
	char *ha_watchdog;	/* "auto", "none" or a device path (corral-guard, docs/ha.md) */
	int64_t events_keep, jobs_keep, history_days;
	int64_t ct_base_days;	/* the debian template's base is rebuilt when older (ct_debian.c) */
	char *listen;		/* NULL: no TCP door */
	char *tls_cert, *tls_key; /* NULL: STATE_DIR/tls/host.crt, host.key (made at first start) */
	char *host_name;	/* NULL: gethostname() */
	int64_t auth_fail_limit, auth_fail_window;
	bool shutdown_guests;	/* SIGTERM stops every guest (default: they run on) */
	int64_t shutdown_timeout;
	int64_t metrics_interval;
	char *ui_dir;		/* NULL: `ui` next to corrald (the build tree), else the installed one */
	int64_t session_idle_timeout, session_max_age;
	bool state_dir_set;	/* state_dir came from the file or a flag (run_dir's default) */
};

enum cfg_type { CFG_UINT, CFG_BOOL, CFG_STR, CFG_PATH, CFG_PATH_LIST };

/* One row of the table. */
struct cfg_key {
	const char *name;	/* in the file; the flag is --name with '-' for '_' */
	enum cfg_type type;
	int64_t min, max;	/* CFG_UINT */
	const char *def;	/* the default as the file would write it; NULL: none or computed */
	const char *def_doc;	/* the default for people when def is NULL */
	const char *arg;	/* the value's name in --help: N, DIR, USER */
	const char *help;	/* one sentence */
	const char *applied;	/* where it takes effect */
	size_t offset;		/* of the field in struct corrald_config */
};

/* The table, in --help order. */
const struct cfg_key *cfg_keys(size_t *n);
const struct cfg_key *cfg_key_find(const char *name);

/* Every key at its default (computed defaults NULL). */
void cfg_init(struct corrald_config *c);
void cfg_release(struct corrald_config *c);

/*
 * Set key to value as text.  `shown` names the key in the error ("--qemu-user",
 * or "qemu_user" for the file).  from_cli: a relative path is made absolute
 * against the working directory (the file wants absolute paths).  A list
 * key appends.  -EINVAL + err if the value breaks the key's rule.
 */
int cfg_set(struct corrald_config *c, const struct cfg_key *k, const char *value, bool from_cli, const char *shown,
	    struct buf *err);

/*
 * Parse the text of a configuration file (len bytes; NUL bytes are an
 * error) named `file` in messages, on top of what c holds.  On error c may
 * hold some of the file's values; the caller refuses to start anyway.
 */
int cfg_parse(struct corrald_config *c, const char *file, const char *text, size_t len, struct buf *err);

/*
 * Read and parse the file at path.  A missing file is -ENOENT with a
 * message when must_exist, else 0 with c unchanged (the default file is
 * optional; one named with --config is not).
 */
int cfg_load(struct corrald_config *c, const char *path, bool must_exist, struct buf *err);

/* The command-line flag of key k without the leading "--" ("http-workers"); caller frees. */
char *cfg_flag_name(const struct cfg_key *k);

/* The options part of `corrald --help`, from the table. */
void cfg_usage(struct buf *out);
/* The key table of docs/config.md (markdown), from the table. */
void cfg_doc(struct buf *out);
/* A corrald.conf with every key commented out at its default and explained,
 * from the table (what `make install` puts in /etc/corral when it is absent). */
void cfg_example(struct buf *out);

#endif
