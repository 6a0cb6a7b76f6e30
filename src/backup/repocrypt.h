/*
 * repocrypt.h - the cryptography of a backup repository: chunk ids
 * (SHA-256, or HMAC-SHA256 under the id key), AES-256-GCM sealing, and the
 * passphrase-wrapped key file (scrypt).  Internal to src/backup; the byte
 * layouts are documented in docs/backup-format.md.
 */
#ifndef CORRAL_BACKUP_REPOCRYPT_H
#define CORRAL_BACKUP_REPOCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define REPOCRYPT_KEY_LEN 32
#define REPOCRYPT_NONCE_LEN 12
#define REPOCRYPT_TAG_LEN 16
/* nonce before, tag after the ciphertext */
#define REPOCRYPT_OVERHEAD (REPOCRYPT_NONCE_LEN + REPOCRYPT_TAG_LEN)

/* The 64-byte master key: AES-256-GCM data key, then HMAC-SHA256 id key. */
struct repo_keys {
	uint8_t data[REPOCRYPT_KEY_LEN];
	uint8_t id[REPOCRYPT_KEY_LEN];
};

/* A parsed (still wrapped) key file. */
struct repo_keyfile {
	char repo_id[33];
	uint64_t scrypt_n;
	uint32_t scrypt_r, scrypt_p;
	uint8_t salt[32];
	uint8_t nonce[REPOCRYPT_NONCE_LEN];
	uint8_t wrapped[sizeof(struct repo_keys) + REPOCRYPT_TAG_LEN];
};

/* Fill buf with len cryptographically random bytes.  0 or -EIO. */
int repocrypt_random(void *buf, size_t len);

/* Chunk id: SHA-256 of data, or HMAC-SHA256 under keys->id when keys != NULL. */
void repocrypt_chunk_id(const struct repo_keys *keys, const void *data, size_t len, uint8_t out[32]);

/* AES-256-GCM.  seal writes nonce || ciphertext || tag (len + REPOCRYPT_OVERHEAD
 * bytes) to out; the plaintext may already sit at out + REPOCRYPT_NONCE_LEN
 * (in place).  open reverses it into out (inlen - REPOCRYPT_OVERHEAD bytes);
 * a wrong key, AAD or any flipped bit gives -EBADMSG. */
int repocrypt_seal(const uint8_t key[REPOCRYPT_KEY_LEN], const void *aad, size_t aadlen, const void *pt, size_t len,
		   uint8_t *out);
int repocrypt_open(const uint8_t key[REPOCRYPT_KEY_LEN], const void *aad, size_t aadlen, const uint8_t *in,
		   size_t inlen, uint8_t *out);

/* Parse key file text (strict JSON, bounded scrypt parameters).  0 or -EINVAL + err. */
int repocrypt_keyfile_parse(const char *data, size_t len, struct repo_keyfile *kf, struct buf *err);
/* Make new random keys for repository repo_id and write them, wrapped with
 * passphrase, to a new file at path (never replaces an existing file). */
int repocrypt_keyfile_create(const char *path, const char *passphrase, const char *repo_id, struct repo_keys *keys,
			     struct buf *err);
/* Unwrap a parsed key file.  -EACCES (no err) when the passphrase is wrong. */
int repocrypt_keyfile_unwrap(const struct repo_keyfile *kf, const char *passphrase, struct repo_keys *keys);
/* The value stored in the config to check that a key belongs to the repository (64 hex). */
void repocrypt_key_check(const struct repo_keys *keys, const char *repo_id, char hex[65]);


#endif
