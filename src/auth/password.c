/*
 * password.c - user passwords as yescrypt hashes through libcrypt (see
 * auth.h).  The hash string carries its own method, cost and salt, so an
 * old hash keeps verifying after the default cost changes.
 */
#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "auth.h"
#include "util/common.h"

int auth_password_check(const char *password, struct buf *err)
{
	size_t n = password ? strlen(password) : 0;
	bool ok = n >= 8 && n <= 255;
	for (size_t i = 0; ok && i < n; i++)
		ok = (unsigned char)password[i] >= 0x20 && password[i] != 0x7f;
	if (!ok) {
		buf_printf(err, "a password is 8 to 255 bytes without control characters");
		return -EINVAL;
	}
	return 0;
}

int auth_password_hash(const char *password, char **out, struct buf *err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	int r = 0;

	/* count 0: libcrypt's default cost for yescrypt; NULL rbytes: it reads the kernel's random bytes. */
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))) {
		r = errno ? -errno : -EIO;
		buf_printf(err, "cannot make a yescrypt salt: %s", strerror(-r));
		goto out;
	}
	const char *h = crypt_r(password, salt, cd);
	if (!h || h[0] == '*') {
		r = errno ? -errno : -EIO;
		buf_printf(err, "cannot hash the password with yescrypt");
		goto out;
	}
	*out = xstrdup(h);
out:
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return r;
}

bool auth_password_verify(const char *password, const char *hash)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	bool ok = false;

	if (hash && hash[0] == '$') {
		const char *h = crypt_r(password, hash, cd);
		size_t n = strlen(hash);
		ok = h && h[0] != '*' && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
	}
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}
