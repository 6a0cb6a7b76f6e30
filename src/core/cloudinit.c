/*
 * cloudinit.c - the "cloud_init" object of a VM definition and the text of
 * its NoCloud seed (meta-data, user-data, network-config); see cloudinit.h.
 *
 * Validation is about what corral itself writes: names, hashes and keys
 * must be one line of printable text (they become quoted YAML scalars);
 * the admin's own user-data and network-config are passed through as
 * they are, bounded in size.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "cloudinit.h"
#include "vmdef.h"
#include "util/common.h"
#include "util/jsonutil.h"

void cloudinit_free(struct vm_cloudinit *c)
{
	if (!c)
		return;
	free(c->user);
	free(c->password_hash);
	for (int i = 0; i < c->nkeys; i++)
		free(c->ssh_keys[i]);
	free(c->ssh_keys);
	free(c->user_data);
	free(c->network_config);
	free(c->hostname);
	free(c);
}

/*
 * Characters no value corral writes into YAML may hold: C0 controls (a
 * newline among them) and DEL, and what YAML also reads as a line break
 * or does not allow in a stream: C1 controls (U+0080..U+009F, NEL among
 * them), U+2028, U+2029 and a byte order mark U+FEFF (strings are UTF-8).
 */
static bool yaml_unsafe(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return true;
		if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
			return true;
		if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
			return true;
	}
	return false;
}

/* A login name: letters, digits, '.', '_', '-', not starting with a digit, '.' or '-'. */
static bool user_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CLOUDINIT_MAX_USER || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* A crypt(3) hash: "$id$..." in crypt's alphabet (plus '=' and ',' of the rounds= parameters). */
static bool hash_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 4 || n > CLOUDINIT_MAX_HASH || s[0] != '$' || !strchr(s + 1, '$'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || strchr("./$=,", s[i])))
			return false;
	return true;
}

/* RFC 1123: dot-separated labels of letters, digits and '-' (not at a label's ends), 1..63 each. */
static bool hostname_valid(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > CLOUDINIT_MAX_HOSTNAME)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-'))
			return false;
		label++;
	}
	return true;
}

/* A string member of at most max bytes, one line of printable text unless multiline. */
static int get_text(const json_t *j, const char *key, size_t max, bool multiline, char **out, struct buf *err)
{
	const char *s = NULL;
	int r = json_get_str(j, key, &s, err);
	if (r <= 0)
		return r;
	if (strlen(s) > max) {
		buf_printf(err, "cloud_init.%s is longer than %zu bytes", key, max);
		return -1;
	}
	if (!multiline && yaml_unsafe(s)) {
		buf_printf(err, "cloud_init.%s must not contain control characters (a newline included)", key);
		return -1;
	}
	*out = xstrdup(s);
	return 1;
}

int cloudinit_parse(const json_t *j, struct vm_cloudinit **out, struct buf *err)
{
	static const char *const keys[] = { "user", "password_hash", "ssh_keys", "user_data", "network_config",
					    "hostname", NULL };
	struct vm_cloudinit *c = xcalloc(1, sizeof(*c));
	json_t *keys_j, *k;
	size_t i;

	if (json_check_keys(j, "cloud_init", keys, err) < 0)
		goto fail;
	if (get_text(j, "user", CLOUDINIT_MAX_USER, false, &c->user, err) < 0 ||
	    get_text(j, "password_hash", CLOUDINIT_MAX_HASH, false, &c->password_hash, err) < 0 ||
	    get_text(j, "hostname", CLOUDINIT_MAX_HOSTNAME, false, &c->hostname, err) < 0 ||
	    get_text(j, "user_data", CLOUDINIT_MAX_TEXT, true, &c->user_data, err) < 0 ||
	    get_text(j, "network_config", CLOUDINIT_MAX_TEXT, true, &c->network_config, err) < 0)
		goto fail;
	if (c->user && !user_valid(c->user)) {
		buf_printf(err, "cloud_init.user must be a login name: up to %d letters, digits, '.', '_' or '-', "
			   "starting with a letter or '_'", CLOUDINIT_MAX_USER);
		goto fail;
	}
	if (c->password_hash && !hash_valid(c->password_hash)) {
		buf_adds(err, "cloud_init.password_hash must be a crypt(3) hash such as '$y$...' (corral vm create "
			      "--ci-password-file makes one; mkpasswd does too), never the password itself");
		goto fail;
	}
	if (c->password_hash && !c->user) {
		buf_adds(err, "cloud_init.password_hash needs cloud_init.user (the account it is for)");
		goto fail;
	}
	if (c->hostname && !hostname_valid(c->hostname)) {
		buf_adds(err, "cloud_init.hostname must be a host name: labels of letters, digits and '-', "
			      "separated by dots");
		goto fail;
	}
	if ((keys_j = json_object_get(j, "ssh_keys")) && !json_is_null(keys_j)) {
		if (!json_is_array(keys_j)) {
			buf_adds(err, "cloud_init.ssh_keys must be an array of strings");
			goto fail;
		}
		if (json_array_size(keys_j) > CLOUDINIT_MAX_KEYS) {
			buf_printf(err, "cloud_init.ssh_keys holds more than %d keys", CLOUDINIT_MAX_KEYS);
			goto fail;
		}
		c->ssh_keys = xcalloc(json_array_size(keys_j) + 1, sizeof(char *));
		json_array_foreach(keys_j, i, k) {
			const char *s = json_string_value(k);
			if (!s || !*s || strlen(s) > CLOUDINIT_MAX_KEY || yaml_unsafe(s)) {
				buf_printf(err, "cloud_init.ssh_keys[%zu] must be one line of text (an authorized key), "
					   "at most %d bytes", i, CLOUDINIT_MAX_KEY);
				goto fail;
			}
			c->ssh_keys[c->nkeys++] = xstrdup(s);
		}
	}
	if (c->user_data && (c->user || c->password_hash || c->nkeys)) {
		buf_adds(err, "cloud_init.user_data is used as it is: put the user, password and SSH keys into it "
			      "instead of cloud_init.user, password_hash and ssh_keys");
		goto fail;
	}
	*out = c;
	return 0;
fail:
	cloudinit_free(c);
	return -EINVAL;
}

json_t *cloudinit_to_json(const struct vm_cloudinit *c)
{
	json_t *j = json_object();
	if (c->user)
		json_object_set_new(j, "user", json_string(c->user));
	if (c->password_hash)
		json_object_set_new(j, "password_hash", json_string(c->password_hash));
	if (c->nkeys) {
		json_t *keys = json_array();
		for (int i = 0; i < c->nkeys; i++)
			json_array_append_new(keys, json_string(c->ssh_keys[i]));
		json_object_set_new(j, "ssh_keys", keys);
	}
	if (c->user_data)
		json_object_set_new(j, "user_data", json_string(c->user_data));
	if (c->network_config)
		json_object_set_new(j, "network_config", json_string(c->network_config));
	if (c->hostname)
		json_object_set_new(j, "hostname", json_string(c->hostname));
	return j;
}

int cloudinit_yaml_quote(struct buf *b, const char *s)
{
	if (yaml_unsafe(s))
		return -EINVAL;
	buf_addch(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addch(b, '\\');
		buf_addch(b, *s);
	}
	buf_addch(b, '"');
	return 0;
}

/* key: "value"\n at indent; values were validated, so quoting cannot fail. */
static int put(struct buf *b, const char *indent, const char *key, const char *value)
{
	buf_printf(b, "%s%s: ", indent, key);
	if (cloudinit_yaml_quote(b, value) < 0)
		return -EINVAL;
	buf_addch(b, '\n');
	return 0;
}

static int put_item(struct buf *b, const char *indent, const char *value)
{
	buf_printf(b, "%s- ", indent);
	if (cloudinit_yaml_quote(b, value) < 0)
		return -EINVAL;
	buf_addch(b, '\n');
	return 0;
}

/* The cloud-config corral writes when the admin gave no user-data. */
static int user_data_make(const struct vm_cloudinit *c, struct buf *b)
{
	int r = 0;
	buf_adds(b, "#cloud-config\n# written by corral from the VM's definition (docs/cloud-init.md)\n");
	if (c->user) {
		buf_adds(b, "users:\n");
		buf_adds(b, "  - name: ");
		r |= cloudinit_yaml_quote(b, c->user);
		buf_addch(b, '\n');
		r |= put(b, "    ", "sudo", "ALL=(ALL) NOPASSWD:ALL");
		r |= put(b, "    ", "shell", "/bin/bash");
		if (c->password_hash) {
			buf_adds(b, "    lock_passwd: false\n");
			r |= put(b, "    ", "hashed_passwd", c->password_hash);
		}
		if (c->nkeys) {
			buf_adds(b, "    ssh_authorized_keys:\n");
			for (int i = 0; i < c->nkeys; i++)
				r |= put_item(b, "      ", c->ssh_keys[i]);
		}
		if (c->password_hash)
			buf_adds(b, "ssh_pwauth: true\n");
	} else if (c->nkeys) {
		/* no user: the keys are the image's default user's */
		buf_adds(b, "ssh_authorized_keys:\n");
		for (int i = 0; i < c->nkeys; i++)
			r |= put_item(b, "  ", c->ssh_keys[i]);
	}
	return r ? -EINVAL : 0;
}

/* network-config v2: DHCP on every NIC, each matched by its MAC. */
static int network_config_make(const struct vm_def *d, struct buf *b)
{
	int r = 0;
	buf_adds(b, "# written by corral: DHCP on every NIC (docs/cloud-init.md)\nversion: 2\nethernets:\n");
	for (int i = 0; i < d->nnics; i++) {
		buf_printf(b, "  nic%d:\n    match:\n", i);
		r |= put(b, "      ", "macaddress", d->nics[i].mac);
		buf_adds(b, "    dhcp4: true\n");
	}
	return r ? -EINVAL : 0;
}

void cloudinit_seed_release(struct cloudinit_seed *s)
{
	free(s->meta_data);
	free(s->user_data);
	free(s->network_config);
	s->meta_data = s->user_data = s->network_config = NULL;
}

int cloudinit_seed_make(const struct vm_def *d, struct cloudinit_seed *out, struct buf *err)
{
	const struct vm_cloudinit *c = d->cloudinit;
	struct buf meta = BUF_INIT, user = BUF_INIT, net = BUF_INIT, rest = BUF_INIT;
	__do_free char *host = NULL;
	unsigned char md[SHA256_DIGEST_LENGTH];
	int r = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (c->hostname) {
		host = xstrdup(c->hostname);
	} else {
		host = xstrdup(d->name);
		for (char *p = host; *p; p++)
			if (*p == '_')
				*p = '-';
		if (!hostname_valid(host)) {
			buf_printf(err, "the VM's name '%s' does not make a host name; set one with --ci-hostname",
				   d->name);
			goto out;
		}
	}
	if (put(&rest, "", "local-hostname", host) < 0)
		goto bad;
	if (c->user_data)
		buf_adds(&user, c->user_data); /* the admin's, verbatim */
	else if (user_data_make(c, &user) < 0)
		goto bad;
	if (c->network_config)
		buf_adds(&net, c->network_config);
	else if (d->nnics && network_config_make(d, &net) < 0)
		goto bad;

	/* The instance-id: the uuid, and a hash of everything else the seed says. */
	{
		struct buf all = BUF_INIT;
		buf_add(&all, rest.s, rest.len + 1);
		buf_add(&all, user.s, user.len + 1);
		buf_add(&all, net.s, net.len + 1);
		SHA256((const unsigned char *)all.s, all.len, md);
		buf_release(&all);
	}
	snprintf(out->instance_id, sizeof(out->instance_id), "iid-%s-%02x%02x%02x%02x%02x%02x%02x%02x", d->uuid, md[0],
		 md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
	buf_printf(&meta, "instance-id: \"%s\"\n%s", out->instance_id, rest.s);
	out->meta_data = buf_detach(&meta);
	out->user_data = buf_detach(&user);
	out->network_config = (c->network_config || d->nnics) ? buf_detach(&net) : NULL;
	r = 0;
	goto out;
bad:
	buf_adds(err, "a cloud-init value holds a control character");
out:
	buf_release(&meta);
	buf_release(&user);
	buf_release(&net);
	buf_release(&rest);
	return r;
}
