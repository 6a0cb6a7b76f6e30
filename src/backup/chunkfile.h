/*
 * chunkfile.h - the byte layout of one stored object of a backup
 * repository: a chunk file under chunks/, or an encrypted manifest.
 *
 *   0  4  magic "CRCH" (chunk) or "CRMF" (manifest)
 *   4  1  format version (1)
 *   5  1  flags: 1 = body is a zstd frame, 2 = body is AES-256-GCM sealed
 *   6  2  zero
 *   8  4  plaintext length, little endian
 *  12  4  payload length (bytes after this header), little endian
 *  16     payload: body, or nonce(12) || encrypted body || tag(16)
 *
 * The AAD of the seal is the 16 header bytes followed by the object's name
 * (the 32-byte chunk id, or the manifest id string), so a sealed object
 * cannot be moved to another name or have its header edited.  Internal to
 * src/backup; documented in docs/backup-format.md.
 */
#ifndef CORRAL_BACKUP_CHUNKFILE_H
#define CORRAL_BACKUP_CHUNKFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CHUNKFILE_HDR_LEN 16
#define CHUNKFILE_VERSION 1
#define CHUNKFILE_F_ZSTD 1u
#define CHUNKFILE_F_SEALED 2u

enum chunkfile_kind { CHUNKFILE_CHUNK, CHUNKFILE_MANIFEST };

/*
 * Encode data (len < 4 GiB) into out, which is reset first.  level 0 stores
 * the body uncompressed; so does a body zstd cannot shrink.  key NULL leaves
 * it unsealed.  Compression contexts are per thread and reused.  0 or -errno.
 */
int chunkfile_encode(enum chunkfile_kind kind, const void *data, size_t len, int level, const uint8_t *key,
		     const void *name, size_t namelen, struct buf *out);

/*
 * A buffer owned by the calling thread (freed when it ends), for the encoded
 * form on its way to or from disk; reused by the thread's next caller, so
 * it must not be passed back into chunkfile_encode/decode as the input and
 * output at once.
 */
struct buf *chunkfile_thread_buf(void);

/*
 * Decode a whole stored object and append the plaintext to out.  Rejects a
 * plaintext longer than max_plain, an unsealed object when key is set and a
 * sealed one when it is not.  0, -EBADMSG (damaged: *why says how, static
 * text), or -EPROTONOSUPPORT (a newer format version).
 */
int chunkfile_decode(enum chunkfile_kind kind, const uint8_t *file, size_t flen, size_t max_plain,
		     const uint8_t *key, const void *name, size_t namelen, struct buf *out, const char **why);

#endif
