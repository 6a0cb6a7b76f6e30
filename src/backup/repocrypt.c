/*
 * repocrypt.c - cryptography of the backup repository, all through OpenSSL
 * EVP (which picks SHA-NI and AES-NI where the CPU has them).
 *
 * Chunk ids are SHA-256 of the plaintext in plain repositories and
 * HMAC-SHA256 under the 32-byte id key in encrypted ones, so the stored
 * names do not tell which known content a repository holds.  Data (chunks,
 * manifests) is sealed with AES-256-GCM under the 32-byte data key with a
 * fresh random 96-bit nonce per seal; callers pass AAD that binds the
 * ciphertext to its name.  Both keys are random and live in a key file,
 * sealed with a key derived from the passphrase by scrypt, the AAD naming
 * the repository id so a key file cannot be passed off as another's.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "repocrypt.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define KEYFILE_FORMAT "corral-repo-key"
#define KEYFILE_VERSION 1
#define KEYFILE_MAX 8192
/* scrypt: N=2^15, r=8, p=1 costs 32 MiB and ~0.1 s; hostile files are bounded. */
#define SCRYPT_N_DEFAULT 32768
#define SCRYPT_R_DEFAULT 8
#define SCRYPT_P_DEFAULT 1
#define SCRYPT_MAX_MEM (256ULL << 20)

int repocrypt_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

void repocrypt_chunk_id(const struct repo_keys *keys, const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	if (keys)
		HMAC(EVP_sha256(), keys->id, sizeof(keys->id), data, len, out, &n);
	else
		EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static int gcm_run(bool enc, const uint8_t *key, const uint8_t *nonce, const void *aad, size_t aadlen,
		   const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	if (!c || len > INT32_MAX || aadlen > INT32_MAX) {
		EVP_CIPHER_CTX_free(c);
		return -ENOMEM;
	}
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc ? 1 : 0) == 1 &&
	     (aadlen == 0 || EVP_CipherUpdate(c, NULL, &n, aad, (int)aadlen) == 1) &&
	     (len == 0 || EVP_CipherUpdate(c, out, &n, in, (int)len) == 1);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, REPOCRYPT_TAG_LEN, tag) == 1;
	if (ok)
		ok = EVP_CipherFinal_ex(c, out + len, &n) == 1;
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, REPOCRYPT_TAG_LEN, tag) == 1;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

int repocrypt_seal(const uint8_t key[REPOCRYPT_KEY_LEN], const void *aad, size_t aadlen, const void *pt, size_t len,
		   uint8_t *out)
{
	uint8_t *ct = out + REPOCRYPT_NONCE_LEN;

	if (repocrypt_random(out, REPOCRYPT_NONCE_LEN) < 0)
		return -EIO;
	return gcm_run(true, key, out, aad, aadlen, pt, len, ct, ct + len);
}

int repocrypt_open(const uint8_t key[REPOCRYPT_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *in,
		   size_t inlen, uint8_t *out)
{
	uint8_t tag[REPOCRYPT_TAG_LEN];
	size_t len;

	if (inlen < REPOCRYPT_OVERHEAD)
		return -EBADMSG;
	len = inlen - REPOCRYPT_OVERHEAD;
	memcpy(tag, in + REPOCRYPT_NONCE_LEN + len, sizeof(tag));
	return gcm_run(false, key, in, aad, aadlen, in + REPOCRYPT_NONCE_LEN, len, out, tag);
}

/* The AAD of the wrapped key: format, version and the repository id. */
static char *wrap_aad(const char *repo_id)
{
	return xasprintf("%s/%d/%s", KEYFILE_FORMAT, KEYFILE_VERSION, repo_id);
}

static int derive_kek(const char *passphrase, const struct repo_keyfile *kf, uint8_t kek[REPOCRYPT_KEY_LEN])
{
	if (EVP_PBE_scrypt(passphrase, strlen(passphrase), kf->salt, sizeof(kf->salt), kf->scrypt_n, kf->scrypt_r,
			   kf->scrypt_p, SCRYPT_MAX_MEM + (1ULL << 20), kek, REPOCRYPT_KEY_LEN) != 1)
		return -ENOMEM;
	return 0;
}

static int get_hex_field(const json_t *o, const char *key, uint8_t *out, size_t n, struct buf *err)
{
	const char *s = NULL;

	if (json_get_str(o, key, &s, err) < 0)
		return -EINVAL;
	if (!s || str_unhex(s, out, n) < 0) {
		buf_printf(err, "key file field '%s' must be %zu lower-case hex characters", key, 2 * n);
		return -EINVAL;
	}
	return 0;
}

int repocrypt_keyfile_parse(const char *data, size_t len, struct repo_keyfile *kf, struct buf *err)
{
	static const char *const keys[] = { "format", "version", "repo_id", "kdf", "scrypt_n", "scrypt_r",
					    "scrypt_p", "salt", "cipher", "nonce", "wrapped_key", NULL };
	__do_json json_t *o = NULL;
	json_error_t jerr;
	const char *format = NULL, *kdf = NULL, *cipher = NULL, *id = NULL;
	int64_t version = 0, n = 0, r = 0, p = 0;

	memset(kf, 0, sizeof(*kf));
	o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o || !json_is_object(o)) {
		buf_adds(err, "the key file is not a JSON object");
		return -EINVAL;
	}
	if (json_get_str(o, "format", &format, err) < 0)
		return -EINVAL;
	if (!format || strcmp(format, KEYFILE_FORMAT) != 0) {
		buf_adds(err, "the file is not a corral repository key file");
		return -EINVAL;
	}
	if (json_get_int(o, "version", 1, INT32_MAX, &version, err) < 0)
		return -EINVAL;
	if (version > KEYFILE_VERSION) {
		buf_printf(err, "the key file has version %" PRId64 ", made by a newer corral (this one reads %d)",
			   version, KEYFILE_VERSION);
		return -EINVAL;
	}
	if (version != KEYFILE_VERSION) {
		buf_adds(err, "the key file has no 'version' field");
		return -EINVAL;
	}
	if (json_check_keys(o, "key file", keys, err) < 0)
		return -EINVAL;
	if (json_get_str(o, "repo_id", &id, err) < 0 || json_get_str(o, "kdf", &kdf, err) < 0 ||
	    json_get_str(o, "cipher", &cipher, err) < 0)
		return -EINVAL;
	if (!id || strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32) {
		buf_adds(err, "key file field 'repo_id' must be 32 lower-case hex characters");
		return -EINVAL;
	}
	if (!kdf || strcmp(kdf, "scrypt") != 0 || !cipher || strcmp(cipher, "aes-256-gcm") != 0) {
		buf_adds(err, "the key file must use kdf scrypt and cipher aes-256-gcm");
		return -EINVAL;
	}
	if (json_get_int(o, "scrypt_n", 1024, 1 << 20, &n, err) < 0 ||
	    json_get_int(o, "scrypt_r", 1, 32, &r, err) < 0 || json_get_int(o, "scrypt_p", 1, 16, &p, err) < 0)
		return -EINVAL;
	if ((n & (n - 1)) != 0 || n == 0 || r == 0 || p == 0 || 128ULL * (uint64_t)n * (uint64_t)r > SCRYPT_MAX_MEM) {
		buf_adds(err, "the key file's scrypt parameters are missing or out of range");
		return -EINVAL;
	}
	if (get_hex_field(o, "salt", kf->salt, sizeof(kf->salt), err) < 0 ||
	    get_hex_field(o, "nonce", kf->nonce, sizeof(kf->nonce), err) < 0 ||
	    get_hex_field(o, "wrapped_key", kf->wrapped, sizeof(kf->wrapped), err) < 0)
		return -EINVAL;
	snprintf(kf->repo_id, sizeof(kf->repo_id), "%s", id);
	kf->scrypt_n = (uint64_t)n;
	kf->scrypt_r = (uint32_t)r;
	kf->scrypt_p = (uint32_t)p;
	return 0;
}

int repocrypt_keyfile_unwrap(const struct repo_keyfile *kf, const char *passphrase, struct repo_keys *keys)
{
	uint8_t kek[REPOCRYPT_KEY_LEN], sealed[REPOCRYPT_NONCE_LEN + sizeof(kf->wrapped)];
	__do_free char *aad = wrap_aad(kf->repo_id);
	int rc;

	rc = derive_kek(passphrase, kf, kek);
	if (rc < 0)
		return rc;
	memcpy(sealed, kf->nonce, REPOCRYPT_NONCE_LEN);
	memcpy(sealed + REPOCRYPT_NONCE_LEN, kf->wrapped, sizeof(kf->wrapped));
	rc = repocrypt_open(kek, aad, strlen(aad), sealed, sizeof(sealed), (uint8_t *)keys);
	OPENSSL_cleanse(kek, sizeof(kek));
	if (rc < 0) {
		OPENSSL_cleanse(keys, sizeof(*keys));
		return -EACCES;
	}
	return 0;
}

int repocrypt_keyfile_create(const char *path, const char *passphrase, const char *repo_id, struct repo_keys *keys,
			     struct buf *err)
{
	struct repo_keyfile kf = { .scrypt_n = SCRYPT_N_DEFAULT, .scrypt_r = SCRYPT_R_DEFAULT,
				   .scrypt_p = SCRYPT_P_DEFAULT };
	uint8_t kek[REPOCRYPT_KEY_LEN], sealed[REPOCRYPT_NONCE_LEN + sizeof(kf.wrapped)];
	char salt[65], nonce[2 * REPOCRYPT_NONCE_LEN + 1], wrapped[2 * sizeof(kf.wrapped) + 1];
	__do_free char *aad = wrap_aad(repo_id), *text = NULL;
	__do_close int fd = -EBADF;
	size_t len, off = 0;
	int rc;

	snprintf(kf.repo_id, sizeof(kf.repo_id), "%s", repo_id);
	if (repocrypt_random(keys, sizeof(*keys)) < 0 || repocrypt_random(kf.salt, sizeof(kf.salt)) < 0) {
		buf_adds(err, "cannot create a repository key: no random numbers from OpenSSL");
		return -EIO;
	}
	if (derive_kek(passphrase, &kf, kek) < 0) {
		buf_adds(err, "cannot create a repository key: scrypt failed (out of memory?)");
		return -ENOMEM;
	}
	rc = repocrypt_seal(kek, aad, strlen(aad), keys, sizeof(*keys), sealed);
	OPENSSL_cleanse(kek, sizeof(kek));
	if (rc < 0) {
		buf_adds(err, "cannot create a repository key: encryption failed");
		return -EIO;
	}
	str_hex(kf.salt, sizeof(kf.salt), salt);
	str_hex(sealed, REPOCRYPT_NONCE_LEN, nonce);
	str_hex(sealed + REPOCRYPT_NONCE_LEN, sizeof(kf.wrapped), wrapped);
	text = xasprintf("{\n  \"format\": \"%s\",\n  \"version\": %d,\n  \"repo_id\": \"%s\",\n"
			 "  \"kdf\": \"scrypt\",\n  \"scrypt_n\": %" PRIu64 ",\n  \"scrypt_r\": %u,\n"
			 "  \"scrypt_p\": %u,\n  \"salt\": \"%s\",\n  \"cipher\": \"aes-256-gcm\",\n"
			 "  \"nonce\": \"%s\",\n  \"wrapped_key\": \"%s\"\n}\n",
			 KEYFILE_FORMAT, KEYFILE_VERSION, repo_id, kf.scrypt_n, kf.scrypt_r, kf.scrypt_p, salt,
			 nonce, wrapped);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			buf_printf(err, "key file %s already exists; not replacing it (it may be the only key of another repository)",
				   path);
		else
			buf_printf(err, "cannot create key file %s: %s", path, strerror(-rc));
		return rc;
	}
	len = strlen(text);
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			unlink(path);
			buf_printf(err, "cannot write key file %s: %s", path, strerror(-rc));
			return rc;
		}
		off += (size_t)w;
	}
	/* the key is the only way into the data: make the file and its name durable */
	__do_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir ? 1 : 0] = '\0';
	__do_close int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fsync(fd) < 0 || dfd < 0 || fsync(dfd) < 0) {
		rc = -errno;
		unlink(path);
		buf_printf(err, "cannot write key file %s: %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

void repocrypt_key_check(const struct repo_keys *keys, const char *repo_id, char hex[65])
{
	__do_free char *msg = xasprintf("corral-repo-key-check/%s", repo_id);
	uint8_t mac[32];
	unsigned int n = sizeof(mac);

	HMAC(EVP_sha256(), keys->id, sizeof(keys->id), (const uint8_t *)msg, strlen(msg), mac, &n);
	str_hex(mac, sizeof(mac), hex);
}
