/*
 * token.c - credentials as they arrive (see auth.h): the Authorization
 * header, user and token names, and API token secrets.
 *
 * The header is untrusted text from the network: it is parsed here into
 * fixed-size fields, every length checked before a byte is copied, and no
 * error message quotes the secret part.  Token secrets are 32 bytes from
 * getrandom(2), shown once in hex; the store keeps only "sha256:<hex>" of
 * them (a secret with 256 random bits needs no slow hash, and checking a
 * token then costs microseconds, not a yescrypt run per request).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "auth.h"
#include "util/common.h"

static bool name_char(char c, bool at)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || (at && c == '@');
}

static int name_check(const char *name, bool at, const char *what, struct buf *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= AUTH_NAME_MAX && name_char(name[0], false) && name[0] != '.' && name[0] != '_' &&
		  name[0] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = name_char(name[i], at);
	if (!ok) {
		buf_printf(err, "a %s is 1 to %d of letters, digits, '.', '_', '-'%s, starting with a letter or digit",
			   what, AUTH_NAME_MAX, at ? ", '@'" : "");
		return -EINVAL;
	}
	return 0;
}

int auth_user_name_check(const char *name, struct buf *err) { return name_check(name, true, "user name", err); }

int auth_token_id_check(const char *id, struct buf *err) { return name_check(id, false, "token id", err); }

int auth_caller_parse(const char *value, char *user, char *token, struct buf *err)
{
	const char *bang = value ? strchr(value, '!') : NULL;
	size_t n = value ? (bang ? (size_t)(bang - value) : strlen(value)) : 0;

	user[0] = token[0] = '\0';
	if (!value || n > AUTH_NAME_MAX || (bang && strlen(bang + 1) > AUTH_NAME_MAX)) {
		buf_adds(err, "the caller a forwarded request names is missing or too long");
		return -EINVAL;
	}
	memcpy(user, value, n);
	user[n] = '\0';
	if (bang)
		memcpy(token, bang + 1, strlen(bang + 1) + 1);
	if (auth_user_name_check(user, err) < 0 || (bang && auth_token_id_check(token, err) < 0)) {
		user[0] = token[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

void auth_cred_release(struct auth_cred *c) { OPENSSL_cleanse(c->secret, sizeof(c->secret)); }

/* Copy n bytes of s into out (size len, NUL-terminated); false if they do not fit. */
static bool field_copy(char *out, size_t len, const char *s, size_t n)
{
	if (n >= len)
		return false;
	memcpy(out, s, n);
	out[n] = '\0';
	return true;
}

static bool secret_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int parse_bearer(const char *v, struct auth_cred *out, struct buf *err)
{
	const char *bang = strchr(v, '!'), *colon = bang ? strchr(bang, ':') : NULL;

	if (!bang || !colon || !field_copy(out->user, sizeof(out->user), v, (size_t)(bang - v)) ||
	    !field_copy(out->token, sizeof(out->token), bang + 1, (size_t)(colon - bang - 1)) ||
	    !field_copy(out->secret, sizeof(out->secret), colon + 1, strlen(colon + 1))) {
		buf_printf(err, "an API token is sent as 'Authorization: Bearer USER!TOKENID:SECRET'");
		return -EINVAL;
	}
	if (auth_user_name_check(out->user, err) < 0 || auth_token_id_check(out->token, err) < 0)
		return -EINVAL;
	if (!*out->secret || !secret_ok(out->secret)) {
		buf_printf(err, "the token secret is empty or holds control characters");
		return -EINVAL;
	}
	out->kind = AUTH_TOKEN;
	return 0;
}

static int parse_basic(const char *v, struct auth_cred *out, struct buf *err)
{
	unsigned char dec[400];
	size_t n = strlen(v);
	int len;

	/* 4 base64 characters make 3 bytes: 256 of them hold more than any user:password we take. */
	if (n == 0 || n % 4 != 0 || n > 4 * 128 || (len = EVP_DecodeBlock(dec, (const unsigned char *)v, (int)n)) < 0) {
		buf_printf(err, "a password is sent as 'Authorization: Basic base64(USER:PASSWORD)'");
		return -EINVAL;
	}
	/* EVP_DecodeBlock counts the '=' padding as zero bytes. */
	while (n && v[n - 1] == '=' && len > 0) {
		n--;
		len--;
	}
	dec[len] = '\0';
	unsigned char *colon = memchr(dec, ':', (size_t)len);
	bool ok = colon && memchr(dec, '\0', (size_t)len) == NULL &&
		  field_copy(out->user, sizeof(out->user), (char *)dec, (size_t)(colon - dec)) &&
		  field_copy(out->secret, sizeof(out->secret), (char *)colon + 1, (size_t)(dec + len - colon - 1));
	OPENSSL_cleanse(dec, sizeof(dec));
	if (!ok) {
		buf_printf(err, "a password is sent as 'Authorization: Basic base64(USER:PASSWORD)'");
		return -EINVAL;
	}
	if (auth_user_name_check(out->user, err) < 0)
		return -EINVAL;
	if (!*out->secret || !secret_ok(out->secret)) {
		buf_printf(err, "the password is empty or holds control characters");
		return -EINVAL;
	}
	out->kind = AUTH_PASSWORD;
	return 0;
}

int auth_cred_parse(const char *header, struct auth_cred *out, struct buf *err)
{
	int r;

	memset(out, 0, sizeof(*out));
	if (!header)
		return 0;
	while (*header == ' ' || *header == '\t')
		header++;
	if (strncasecmp(header, "Bearer ", 7) == 0) {
		r = parse_bearer(header + 7, out, err);
	} else if (strncasecmp(header, "Basic ", 6) == 0) {
		r = parse_basic(header + 6, out, err);
	} else {
		buf_printf(err, "unknown authorization scheme: use 'Bearer USER!TOKENID:SECRET' or 'Basic'");
		r = -EINVAL;
	}
	if (r < 0) {
		auth_cred_release(out);
		memset(out, 0, sizeof(*out));
	}
	return r;
}

int auth_secret_new(char *out, size_t len, struct buf *err)
{
	unsigned char raw[AUTH_SECRET_HEX / 2];
	size_t got = 0;

	if (len < AUTH_SECRET_HEX + 1) {
		buf_printf(err, "no room for a token secret");
		return -EINVAL;
	}
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0 && errno != EINTR) {
			int e = errno;
			buf_printf(err, "cannot read random bytes: %s", strerror(e));
			return -e;
		}
		if (n > 0)
			got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

char *auth_secret_hash(const char *secret)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	struct buf b = BUF_INIT;

	SHA256((const unsigned char *)secret, strlen(secret), md);
	buf_adds(&b, "sha256:");
	for (size_t i = 0; i < sizeof(md); i++)
		buf_printf(&b, "%02x", md[i]);
	return buf_detach(&b);
}

bool auth_secret_verify(const char *secret, const char *hash)
{
	__do_free char *mine = auth_secret_hash(secret);
	size_t n = strlen(mine);
	return hash && strlen(hash) == n && CRYPTO_memcmp(mine, hash, n) == 0;
}
