/*
 * remotes.c - the remotes file: parse, format, load and save it; see
 * remotes.h for the format.
 *
 * The parser goes line by line over text it does not trust (a hand-edited
 * file, or anything a fuzzer makes up): no line may hold a NUL or a
 * control character, keys are a fixed set, every value is checked the way
 * the command line's would be, and an error names the line but never
 * quotes a token.  What it accepts, remotes_format writes back in a
 * canonical form.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "remotes.h"
#include "auth/auth.h"
#include "util/fsutil.h"
#include "util/strutil.h"
#include "util/common.h"

static void wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void remote_release(struct remote *r)
{
	free(r->name);
	free(r->url);
	free(r->fingerprint);
	wipe_free(r->token);
	memset(r, 0, sizeof(*r));
}

void remotes_release(struct remotes *r)
{
	for (size_t i = 0; i < r->n; i++)
		remote_release(&r->list[i]);
	free(r->list);
	free(r->def);
	r->list = NULL;
	r->n = 0;
	r->def = NULL;
}

struct remote *remotes_find(const struct remotes *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->list[i].name, name) == 0)
			return &r->list[i];
	return NULL;
}

int remote_name_check(const char *name, struct buf *err)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64) {
		buf_printf(err, "a remote's name is 1 to 64 characters");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._-", c))) {
			buf_printf(err, "a remote's name is letters, digits, '.', '_' and '-', starting with a letter or digit");
			return -EINVAL;
		}
	}
	if (strcmp(name, REMOTE_LOCAL) == 0) {
		buf_printf(err, "the remote name '%s' is reserved for this host's unix socket", REMOTE_LOCAL);
		return -EINVAL;
	}
	return 0;
}

int remote_url_check(const char *url, struct buf *err)
{
	const char *host = url + 8, *port;
	size_t n = strlen(url);

	if (strncmp(url, "https://", 8) != 0 || n > 512 || str_has_control(url) || strpbrk(host, "/?#@ \\")) {
		buf_printf(err, "a remote's URL is https://HOST:PORT (no path, no user)");
		return -EINVAL;
	}
	if (*host == '[') {
		const char *close = strchr(host, ']');
		port = close && close[1] == ':' ? close + 2 : NULL;
		if (!close || close == host + 1)
			port = NULL;
	} else {
		const char *colon = strrchr(host, ':');
		port = colon && colon != host && !memchr(host, ':', (size_t)(colon - host)) ? colon + 1 : NULL;
	}
	int64_t p;
	if (!port || str_parse_int(port, 1, 65535, &p) < 0) {
		buf_printf(err, "a remote's URL is https://HOST:PORT with a port of 1 to 65535");
		return -EINVAL;
	}
	return 0;
}

int remote_token_check(const char *token, struct buf *err)
{
	__do_free char *hdr = xasprintf("Bearer %s", token);
	struct auth_cred c;
	struct buf ignored = BUF_INIT;
	int r = auth_cred_parse(hdr, &c, &ignored);
	bool ok = r == 0 && c.kind == AUTH_TOKEN;

	buf_release(&ignored); /* it may describe the secret: not for err */
	auth_cred_release(&c);
	OPENSSL_cleanse(hdr, strlen(hdr));
	if (!ok) {
		buf_printf(err, "an API token is USER!TOKENID:SECRET (as 'corral token add' prints it)");
		return -EINVAL;
	}
	return 0;
}

int remotes_set(struct remotes *r, const char *name, const char *url, const char *fingerprint, const char *token,
		bool replace, struct buf *err)
{
	char fp[96];
	struct remote *old;
	int rc;

	if ((rc = remote_name_check(name, err)) < 0 || (rc = remote_url_check(url, err)) < 0 ||
	    (token && (rc = remote_token_check(token, err)) < 0))
		return rc;
	if (auth_fingerprint_normalise(fingerprint, fp, sizeof(fp)) < 0) {
		buf_printf(err, "a fingerprint is the SHA-256 of the certificate: 64 hex digits, colons optional");
		return -EINVAL;
	}
	old = remotes_find(r, name);
	if (old && !replace) {
		buf_printf(err, "there is already a remote called '%s'", name);
		return -EEXIST;
	}
	if (!old) {
		r->list = xrealloc(r->list, (r->n + 1) * sizeof(*r->list));
		old = &r->list[r->n++];
		memset(old, 0, sizeof(*old));
		old->name = xstrdup(name);
	}
	/* copies first: url and token may be old's own strings (remote trust) */
	char *nurl = xstrdup(url), *ntoken = token ? xstrdup(token) : NULL;
	free(old->url);
	free(old->fingerprint);
	wipe_free(old->token);
	old->url = nurl;
	old->fingerprint = xstrdup(fp);
	old->token = ntoken;
	return 0;
}

int remotes_remove(struct remotes *r, const char *name, struct buf *err)
{
	struct remote *x = remotes_find(r, name);

	if (!x) {
		buf_printf(err, "there is no remote called '%.64s'", name);
		return -ENOENT;
	}
	if (r->def && strcmp(r->def, name) == 0) {
		free(r->def);
		r->def = NULL;
	}
	remote_release(x);
	size_t i = (size_t)(x - r->list);
	memmove(&r->list[i], &r->list[i + 1], (r->n - i - 1) * sizeof(*r->list));
	r->n--;
	return 0;
}

/* ---- the parser ---- */

static char *trim(char *s)
{
	char *e = s + strlen(s);
	while (*s == ' ' || *s == '\t')
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

struct section {
	char *name, *url, *fingerprint, *token;
	size_t line;
};

static void section_release(struct section *s)
{
	free(s->name);
	free(s->url);
	free(s->fingerprint);
	wipe_free(s->token);
	memset(s, 0, sizeof(*s));
}

/* The section ends: its remote goes into out.  0 or -EINVAL + err. */
static int section_end(struct section *s, struct remotes *out, struct buf *err)
{
	int r = 0;

	if (!s->name)
		return 0;
	if (!s->url || !s->fingerprint) {
		buf_printf(err, "line %zu: remote '%s' needs %s", s->line, s->name, s->url ? "a fingerprint" : "a url");
		r = -EINVAL;
	} else {
		struct buf e = BUF_INIT;
		r = remotes_set(out, s->name, s->url, s->fingerprint, s->token, false, &e);
		if (r < 0)
			buf_printf(err, "line %zu: remote '%s': %s", s->line, s->name, e.s);
		buf_release(&e);
		r = r < 0 ? -EINVAL : 0;
	}
	section_release(s);
	return r;
}

/* Set *slot to value unless it is set already.  0 or -EINVAL + err. */
static int set_once(char **slot, const char *key, const char *value, size_t line, struct buf *err)
{
	if (*slot) {
		buf_printf(err, "line %zu: '%s' given twice", line, key);
		return -EINVAL;
	}
	*slot = xstrdup(value);
	return 0;
}

static int parse_line(char *line, size_t no, struct section *sec, char **def, size_t *def_line, struct remotes *out,
		      struct buf *err)
{
	char *s = trim(line), *eq, *key, *value;
	struct buf e = BUF_INIT;
	int r = 0;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		size_t n = strlen(s);
		if ((r = section_end(sec, out, err)) < 0)
			return r;
		if (n < 3 || s[n - 1] != ']') {
			buf_printf(err, "line %zu: a section is [NAME]", no);
			return -EINVAL;
		}
		s[n - 1] = '\0';
		char *name = trim(s + 1);
		if (remote_name_check(name, &e) < 0) {
			buf_printf(err, "line %zu: %s", no, e.s);
			buf_release(&e);
			return -EINVAL;
		}
		if (remotes_find(out, name)) {
			buf_printf(err, "line %zu: remote '%s' given twice", no, name);
			return -EINVAL;
		}
		sec->name = xstrdup(name);
		sec->line = no;
		return 0;
	}
	if (!(eq = strchr(s, '='))) {
		buf_printf(err, "line %zu: expected KEY = VALUE, [NAME] or a # comment", no);
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!sec->name) {
		if (strcmp(key, "default") != 0) {
			buf_printf(err, "line %zu: unknown key '%.32s' before the first [remote] (only 'default')", no, key);
			return -EINVAL;
		}
		*def_line = no;
		return set_once(def, key, value, no, err);
	}
	if (!*value) {
		buf_printf(err, "line %zu: '%.32s' has no value", no, key);
		return -EINVAL;
	}
	if (strcmp(key, "url") == 0)
		return set_once(&sec->url, key, value, no, err);
	if (strcmp(key, "fingerprint") == 0)
		return set_once(&sec->fingerprint, key, value, no, err);
	if (strcmp(key, "token") == 0)
		return set_once(&sec->token, key, value, no, err);
	buf_printf(err, "line %zu: unknown key '%.32s' (a remote has url, fingerprint and token)", no, key);
	return -EINVAL;
}

/* Control characters other than tabs (which count as blanks). */
static bool line_has_control(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

int remotes_parse(const char *text, size_t len, struct remotes *out, struct buf *err)
{
	struct section sec = { 0 };
	__do_free char *def = NULL;
	size_t no = 0, def_line = 0;
	const char *p = text, *end = text + len;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (len > REMOTES_FILE_MAX) {
		buf_printf(err, "the remotes file is larger than %u bytes", REMOTES_FILE_MAX);
		return -EINVAL;
	}
	while (p < end && r == 0) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		__do_free char *line = xstrndup(p, n);

		no++;
		bool nul = memchr(p, '\0', n) != NULL; /* then line is shorter than n */
		if (!nul && n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		if (nul || line_has_control(line)) {
			buf_printf(err, "line %zu: control characters or NUL bytes", no);
			r = -EINVAL;
		} else {
			r = parse_line(line, no, &sec, &def, &def_line, out, err);
		}
		OPENSSL_cleanse(line, strlen(line));
		p = eol ? eol + 1 : end;
	}
	if (r == 0)
		r = section_end(&sec, out, err);
	if (r == 0 && def && *def) {
		if (!remotes_find(out, def)) {
			buf_printf(err, "line %zu: the default remote '%.64s' is not in the file", def_line, def);
			r = -EINVAL;
		} else {
			out->def = move_ptr(def);
		}
	}
	section_release(&sec);
	if (r < 0)
		remotes_release(out);
	return r;
}

void remotes_format(const struct remotes *r, struct buf *out)
{
	buf_adds(out, "# corral remotes, written by 'corral remote' (docs/remote.md).\n"
		      "# It holds API tokens: keep it mode 0600.\n");
	if (r->def)
		buf_printf(out, "default = %s\n", r->def);
	for (size_t i = 0; i < r->n; i++) {
		const struct remote *x = &r->list[i];
		buf_printf(out, "\n[%s]\nurl = %s\nfingerprint = %s\n", x->name, x->url, x->fingerprint);
		if (x->token)
			buf_printf(out, "token = %s\n", x->token);
	}
}

/* ---- the file ---- */

char *remotes_path(struct buf *err)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return xasprintf("%s/corral/remotes.conf", xdg);
	if (home && home[0] == '/')
		return xasprintf("%s/.config/corral/remotes.conf", home);
	buf_printf(err, "neither XDG_CONFIG_HOME nor HOME names a directory for the remotes file");
	return NULL;
}

int remotes_load(const char *path, struct remotes *out, struct buf *err)
{
	__do_buf struct buf text = BUF_INIT;
	struct stat st;
	struct buf e = BUF_INIT;
	int r;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		buf_printf(err, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	if (st.st_mode & 077) {
		buf_printf(err, "%s may be read by others (mode %04o) and holds API tokens; run 'chmod 600 %s'", path,
			   (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	if ((r = fs_read_file(path, REMOTES_FILE_MAX, &text)) < 0) {
		buf_printf(err, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	r = remotes_parse(text.s, text.len, out, &e);
	if (r < 0)
		buf_printf(err, "%s: %s", path, e.s);
	buf_release(&e);
	OPENSSL_cleanse(text.s, text.len);
	return r;
}

int remotes_save(const char *path, const struct remotes *r, struct buf *err)
{
	__do_buf struct buf text = BUF_INIT;
	__do_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int rc;

	if (slash && slash != dir) {
		*slash = '\0';
		if ((rc = fs_mkdir_p(dir, 0700)) < 0) {
			buf_printf(err, "cannot create %s: %s", dir, strerror(-rc));
			return rc;
		}
	}
	remotes_format(r, &text);
	rc = fs_write_file_atomic(path, text.s, text.len, 0600);
	OPENSSL_cleanse(text.s, text.len);
	if (rc < 0) {
		buf_printf(err, "cannot write %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}
