/*
 * cloudinit.h - the cloud-init flags of `vm create` and `vm edit`
 * (--cloud-init, --ci-*) and the cloud-init lines of `vm show`.
 *
 * The flags become the definition's "cloud_init" object (docs/api.md,
 * docs/cloud-init.md).  Files named by the flags are read here, on the
 * CLI's side: the user-data and network-config verbatim (at most 64 KiB of
 * text), SSH public keys one per line, and the password, which is hashed
 * here with yescrypt (auth/password.c) so that only the hash ever leaves
 * the CLI: it is never in argv, in a request's clear text or in a log.
 * Any --ci-* flag turns cloud-init on; an empty value ('') removes that
 * setting; --no-cloud-init removes the whole object.  Values are checked
 * by corrald, whose message the user sees.
 */
#ifndef CORRAL_CLI_CLOUDINIT_H
#define CORRAL_CLI_CLOUDINIT_H

#include <stdbool.h>
#include <jansson.h>

#include "cli.h"

enum ci_opt {
	CI_OPT_CLOUD_INIT = CLI_OPT_FIRST + 300,
	CI_OPT_NO_CLOUD_INIT,
	CI_OPT_USER,
	CI_OPT_PASSWORD_FILE,
	CI_OPT_SSH_KEY,
	CI_OPT_USER_DATA,
	CI_OPT_NETWORK_CONFIG,
	CI_OPT_HOSTNAME,
	CI_OPT_END,
};

#define CI_OPTIONS                                                                   \
	{ "cloud-init", no_argument, NULL, CI_OPT_CLOUD_INIT },                      \
	{ "no-cloud-init", no_argument, NULL, CI_OPT_NO_CLOUD_INIT },                \
	{ "ci-user", required_argument, NULL, CI_OPT_USER },                         \
	{ "ci-password-file", required_argument, NULL, CI_OPT_PASSWORD_FILE },       \
	{ "ci-ssh-key", required_argument, NULL, CI_OPT_SSH_KEY },                   \
	{ "ci-user-data", required_argument, NULL, CI_OPT_USER_DATA },               \
	{ "ci-network-config", required_argument, NULL, CI_OPT_NETWORK_CONFIG },     \
	{ "ci-hostname", required_argument, NULL, CI_OPT_HOSTNAME }

#define CI_HELP                                                                     \
	"  --cloud-init          give the VM a cloud-init NoCloud seed (a read-only\n" \
	"                        CD-ROM labelled cidata, rebuilt at every start;\n"   \
	"                        docs/cloud-init.md); any --ci-* option implies it\n" \
	"  --no-cloud-init       remove the seed and its settings\n"                  \
	"  --ci-user NAME        create user NAME (sudo without password)\n"          \
	"  --ci-password-file FILE\n"                                                 \
	"                        the user's password: FILE's first line ('-': asked\n" \
	"                        on the terminal); hashed (yescrypt) before it\n"     \
	"                        leaves the CLI, only the hash is stored\n"           \
	"  --ci-ssh-key FILE     authorized SSH public keys, one per line; repeat\n"  \
	"                        for more files (the keys given replace the VM's)\n"  \
	"  --ci-user-data FILE   your own user-data (e.g. #cloud-config), verbatim,\n" \
	"                        at most 64 KiB; not with --ci-user, --ci-ssh-key\n"  \
	"                        or --ci-password-file\n"                             \
	"  --ci-network-config FILE\n"                                                \
	"                        your own network-config (default: DHCP on every\n"   \
	"                        NIC, matched by MAC)\n"                              \
	"  --ci-hostname NAME    the guest's host name (default: the VM's name)\n"   \
	"                        (for every --ci-* option an empty value '' removes\n" \
	"                        that setting)\n"

struct ci_flags {
	bool any, on, off;
	const char *user, *password_file, *user_data, *network_config, *hostname;
	const char **keys; /* --ci-ssh-key files */
	size_t nkeys;
};

#define CI_FLAGS_INIT { .any = false }

static inline bool ci_opt_is(int opt) { return opt >= CI_OPT_CLOUD_INIT && opt < CI_OPT_END; }

/* Record one CI_OPT_* option.  CLI_OK or CLI_USAGE (printed). */
int ci_flags_parse(struct ci_flags *f, const char *cmd, int opt, const char *arg);
/* Contradictions (--no-cloud-init with others).  CLI_OK or CLI_USAGE. */
int ci_flags_check(const struct ci_flags *f, const char *cmd);
/* Read the files and set the definition's "cloud_init".  CLI_OK or CLI_FAIL (printed). */
int ci_flags_apply(const struct ci_flags *f, json_t *def);
void ci_flags_release(struct ci_flags *f);

struct table;
/* `vm show`'s cloud-init lines (never the password hash). */
void ci_show_lines(struct table *t, const json_t *vm);

#endif
