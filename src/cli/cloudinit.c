/*
 * cloudinit.c - `vm create` / `vm edit` cloud-init flags to the
 * definition's "cloud_init" object, and its lines in `vm show`; see
 * cloudinit.h.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "cloudinit.h"
#include "output.h"
#include "auth/auth.h"
#include "util/buf.h"
#include "util/common.h"
#include "util/fsutil.h"

#define CI_TEXT_MAX (64 * 1024)
#define CI_KEYS_FILE_MAX (256 * 1024)

int ci_flags_parse(struct ci_flags *f, const char *cmd, int opt, const char *arg)
{
	(void)cmd;
	if (opt == CI_OPT_NO_CLOUD_INIT) {
		f->off = true;
		return CLI_OK;
	}
	f->any = true;
	switch (opt) {
	case CI_OPT_CLOUD_INIT:
		f->on = true;
		break;
	case CI_OPT_USER:
		f->user = arg;
		break;
	case CI_OPT_PASSWORD_FILE:
		f->password_file = arg;
		break;
	case CI_OPT_SSH_KEY:
		f->keys = xrealloc(f->keys, (f->nkeys + 1) * sizeof(*f->keys));
		f->keys[f->nkeys++] = arg;
		break;
	case CI_OPT_USER_DATA:
		f->user_data = arg;
		break;
	case CI_OPT_NETWORK_CONFIG:
		f->network_config = arg;
		break;
	case CI_OPT_HOSTNAME:
		f->hostname = arg;
		break;
	default:
		return cli_usage_error(cmd, "internal error: unhandled option %d", opt);
	}
	return CLI_OK;
}

int ci_flags_check(const struct ci_flags *f, const char *cmd)
{
	if (f->off && f->any)
		return cli_usage_error(cmd, "--no-cloud-init cannot be combined with --cloud-init or --ci-* options");
	return CLI_OK;
}

void ci_flags_release(struct ci_flags *f)
{
	free(f->keys);
	f->keys = NULL;
	f->nkeys = 0;
}

/* A whole file as text (no NUL byte, valid UTF-8 checked by jansson). */
static int read_text(const char *opt, const char *path, size_t max, json_t **out)
{
	struct buf b = BUF_INIT;
	int r = fs_read_file(path, max, &b);
	if (r == -EFBIG) {
		buf_release(&b);
		return cli_error("%s %s: larger than %zu KiB", opt, path, max / 1024);
	}
	if (r < 0) {
		buf_release(&b);
		return cli_error("%s %s: %s", opt, path, strerror(-r));
	}
	*out = memchr(b.s, '\0', b.len) ? NULL : json_stringn(b.s, b.len);
	buf_release(&b);
	if (!*out)
		return cli_error("%s %s: not UTF-8 text", opt, path);
	return CLI_OK;
}

/* Every key line of the --ci-ssh-key files (blank and '#' lines skipped). */
static int read_keys(const struct ci_flags *f, json_t *keys)
{
	for (size_t i = 0; i < f->nkeys; i++) {
		json_t *text;
		if (!*f->keys[i])
			continue; /* '': no keys */
		if (read_text("--ci-ssh-key", f->keys[i], CI_KEYS_FILE_MAX, &text) != CLI_OK)
			return CLI_FAIL;
		const char *p = json_string_value(text);
		size_t before = json_array_size(keys);
		while (*p) {
			size_t n = strcspn(p, "\n");
			size_t m = n;
			while (m && (p[m - 1] == '\r' || p[m - 1] == ' ' || p[m - 1] == '\t'))
				m--;
			size_t lead = strspn(p, " \t");
			if (m > lead && p[lead] != '#')
				json_array_append_new(keys, json_stringn(p + lead, m - lead));
			p += n + (p[n] == '\n');
		}
		json_decref(text);
		if (json_array_size(keys) == before)
			return cli_error("--ci-ssh-key %s: no key in the file", f->keys[i]);
	}
	return CLI_OK;
}

/* The password's yescrypt hash: FILE's first line, or asked ('-'). */
static int password_hash(const char *file, char **hash)
{
	char pw[300];
	struct buf err = BUF_INIT;
	int rc = CLI_OK;

	if (strcmp(file, "-") == 0) {
		if (cli_read_secret("Password", true, pw, sizeof(pw)) != CLI_OK)
			return CLI_FAIL;
	} else {
		struct buf b = BUF_INIT;
		int r = fs_read_file(file, 4096, &b);
		if (r < 0) {
			buf_release(&b);
			return cli_error("--ci-password-file %s: %s", file, r == -EFBIG ? "larger than 4 KiB" : strerror(-r));
		}
		size_t n = strcspn(b.s, "\r\n");
		snprintf(pw, sizeof(pw), "%.*s", (int)(n < sizeof(pw) - 1 ? n : sizeof(pw) - 1), b.s);
		if (n >= sizeof(pw) - 1)
			pw[0] = '\x01'; /* too long: fails the check below */
		OPENSSL_cleanse(b.s, b.len);
		buf_release(&b);
	}
	if (auth_password_check(pw, &err) < 0 || auth_password_hash(pw, hash, &err) < 0)
		rc = cli_error("--ci-password-file: %s", err.s);
	OPENSSL_cleanse(pw, sizeof(pw));
	buf_release(&err);
	return rc;
}

/* Set (non-empty value) or remove ('') member key of ci. */
static void set_or_del(json_t *ci, const char *key, const char *value)
{
	if (!value)
		return;
	if (*value)
		json_object_set_new(ci, key, json_string(value));
	else
		json_object_del(ci, key);
}

static int set_file(json_t *ci, const char *key, const char *opt, const char *path)
{
	json_t *text;
	if (!path)
		return CLI_OK;
	if (!*path) {
		json_object_del(ci, key);
		return CLI_OK;
	}
	if (read_text(opt, path, CI_TEXT_MAX, &text) != CLI_OK)
		return CLI_FAIL;
	json_object_set_new(ci, key, text);
	return CLI_OK;
}

int ci_flags_apply(const struct ci_flags *f, json_t *def)
{
	json_t *ci = json_object_get(def, "cloud_init");

	if (f->off) {
		json_object_set_new(def, "cloud_init", json_null());
		return CLI_OK;
	}
	if (!f->any)
		return CLI_OK;
	if (!json_is_object(ci)) {
		ci = json_object();
		json_object_set_new(def, "cloud_init", ci);
	}
	set_or_del(ci, "user", f->user);
	set_or_del(ci, "hostname", f->hostname);
	if (set_file(ci, "user_data", "--ci-user-data", f->user_data) != CLI_OK ||
	    set_file(ci, "network_config", "--ci-network-config", f->network_config) != CLI_OK)
		return CLI_FAIL;
	if (f->nkeys) {
		json_t *keys = json_array();
		if (read_keys(f, keys) != CLI_OK) {
			json_decref(keys);
			return CLI_FAIL;
		}
		if (json_array_size(keys))
			json_object_set_new(ci, "ssh_keys", keys);
		else {
			json_object_del(ci, "ssh_keys");
			json_decref(keys);
		}
	}
	if (f->password_file && !*f->password_file) {
		json_object_del(ci, "password_hash");
	} else if (f->password_file) {
		char *hash = NULL;
		if (password_hash(f->password_file, &hash) != CLI_OK)
			return CLI_FAIL;
		json_object_set_new(ci, "password_hash", json_string(hash));
		free(hash);
	}
	return CLI_OK;
}

void ci_show_lines(struct table *t, const json_t *vm)
{
	const json_t *ci = json_object_get(vm, "cloud_init");
	const char *s, *iid = out_str(json_object_get(vm, "status"), "cloud_init_instance_id");
	size_t n;

	if (!json_is_object(ci)) {
		table_add_kv(t, "cloud-init", "off");
		return;
	}
	table_add_kv(t, "cloud-init", "on%s%s", iid ? ", instance-id " : "", iid ? iid : "");
	if ((s = out_str(ci, "user")))
		table_add_kv(t, "  user", "%s%s", s, json_object_get(ci, "password_hash") ? " (password set)" : "");
	if ((n = json_array_size(json_object_get(ci, "ssh_keys"))))
		table_add_kv(t, "  ssh keys", "%zu", n);
	if ((s = out_str(ci, "hostname")))
		table_add_kv(t, "  hostname", "%s", s);
	else
		table_add_kv(t, "  hostname", "%s (the VM's name)", (s = out_str(vm, "name")) ? s : "?");
	if ((s = out_str(ci, "user_data")))
		table_add_kv(t, "  user-data", "yours, %zu bytes", strlen(s));
	if ((s = out_str(ci, "network_config")))
		table_add_kv(t, "  network-config", "yours, %zu bytes", strlen(s));
	else
		table_add_kv(t, "  network-config", "DHCP on every NIC");
}
