/*
 * repo.h - the backup repository: a directory of content-addressed,
 * zstd-compressed, optionally AES-256-GCM-encrypted chunks plus one manifest
 * per backup.  The on-disk format is versioned and documented in
 * docs/backup-format.md; this header is its only writer and reader.
 *
 * Layout (PATH is a local directory or a mounted share):
 *   PATH/corral-repo.json      format name, version, repo id, chunk size, encryption
 *   PATH/chunks/ab/<64 hex>    one chunk file per distinct chunk content
 *   PATH/backups/<vm>/<time>.json   one manifest per complete backup
 *   PATH/tmp/                  files being written (never read as data)
 *   PATH/lock                  flock: shared for writers/readers, exclusive for prune/sweep
 *
 * Chunk ids are SHA-256 of the plaintext (HMAC-SHA256 under the repo's id key
 * when encrypted, so the store does not reveal which known content it holds).
 * A chunk is written to tmp/, then renamed into place: concurrent writers of
 * the same content are harmless.  Chunk files are made durable in bulk
 * (syncfs) by repo_flush() before a manifest that references them is renamed
 * into place; a manifest is therefore never visible before its chunks are.
 *
 * Encryption: a random 64-byte master key (32 bytes AES-256-GCM data key, 32
 * bytes HMAC id key) lives in a key file, wrapped with a key derived from a
 * passphrase (scrypt).  Lose the key file or the passphrase and the backups
 * are unreadable: nobody can recover them.
 *
 * Manifests are JSON objects written by the backup engine; the repository
 * relies on one convention only: "disks" is an array of objects whose
 * "chunks" array holds, per chunk-size piece of the disk, the chunk id as 64
 * hex chars or null for an all-zero piece.  verify and sweep walk those,
 * and, in a container backup ("kind": "container", backup/cttree.h), the
 * "chunks" of every entry of its "files" array instead (it has no "disks",
 * so a corral that predates container backups finds it unreadable: its
 * sweep then deletes nothing, its verify reports it).
 *
 * Cancelling: the long operations of this library (repo_verify, repo_sweep,
 * and backup_vm / backup_restore_disk in backup.h) take a `cancel` flag
 * (NULL: never cancelled) that any thread may set.  They look at it between
 * chunks and steps, so they notice it within a chunk's work (well under a
 * second), undo what they must, and return -ECANCELED with err set.  The
 * library knows nothing of corrald's jobs: the job's cancel hook sets the flag.
 *
 * Thread safety: repo_chunk_put/get/exists may be called from several threads
 * on one struct repo.  Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_BACKUP_REPO_H
#define CORRAL_BACKUP_REPO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"

#define REPO_FORMAT_VERSION 1
#define REPO_DIGEST_LEN 32
#define REPO_DEFAULT_CHUNK_SIZE (1u << 20)
#define REPO_MAX_CHUNK_SIZE (16u << 20)

struct repo;

struct repo_create_opts {
	uint32_t chunk_size;		/* 0 = REPO_DEFAULT_CHUNK_SIZE; power of two, 64 KiB..16 MiB */
	bool encrypt;
	const char *keyfile;		/* where to write the key file (required with encrypt) */
	const char *passphrase;		/* wraps the key file (required with encrypt, never logged) */
};

/* Create a repository in PATH (created if missing; must be empty if it exists). */
int repo_create(const char *path, const struct repo_create_opts *o, struct buf *err);

/* Open.  keyfile/passphrase are needed for encrypted repositories (a wrong
 * passphrase or a key of another repository is a clear error). */
int repo_open(const char *path, const char *keyfile, const char *passphrase, struct repo **out, struct buf *err);
void repo_close(struct repo *r);

const char *repo_path(const struct repo *r);
const char *repo_id(const struct repo *r);
uint32_t repo_chunk_size(const struct repo *r);
bool repo_encrypted(const struct repo *r);
/* zstd level for new chunks (default 3; 1..19). */
void repo_set_compression(struct repo *r, int level);

/* flock on PATH/lock.  Backups, restores and verify take it shared; prune and
 * sweep exclusive.  wait=false gives -EAGAIN with err when held. */
int repo_lock(struct repo *r, bool exclusive, bool wait, struct buf *err);
void repo_unlock(struct repo *r);

/* Store one chunk (len <= chunk size).  digest receives its id; *is_new tells
 * whether it was written now (false: deduplicated), *stored the bytes written
 * to disk (0 when deduplicated).  -ENOSPC etc. are reported with err. */
int repo_chunk_put(struct repo *r, const void *data, size_t len, uint8_t digest[REPO_DIGEST_LEN], bool *is_new,
		   uint64_t *stored, struct buf *err);
/* Read, decrypt, decompress and check one chunk into out (appended).  A chunk
 * whose content does not match its id is -EBADMSG with err. */
int repo_chunk_get(struct repo *r, const uint8_t digest[REPO_DIGEST_LEN], struct buf *out, struct buf *err);
bool repo_chunk_exists(struct repo *r, const uint8_t digest[REPO_DIGEST_LEN]);

/* Make every chunk written so far durable (syncfs on the repository). */
int repo_flush(struct repo *r, struct buf *err);

/* Manifests.  id is "<vm>/<YYYYmmddTHHMMSSZ>[-N]"; repo_manifest_new_id picks
 * a free one for vm at time t (unix seconds).  Write is atomic (tmp, fsync,
 * rename, fsync dir) and encrypted with the data key in encrypted repos. */
int repo_manifest_new_id(struct repo *r, const char *vm, int64_t t, char **id, struct buf *err);
int repo_manifest_write(struct repo *r, const char *id, const json_t *manifest, struct buf *err);
int repo_manifest_read(struct repo *r, const char *id, json_t **out, struct buf *err);
int repo_manifest_delete(struct repo *r, const char *id, struct buf *err);
/* All manifest ids, sorted (vm, then time).  Unreadable manifests are still
 * listed; reading them reports the error. */
int repo_manifest_list(struct repo *r, char ***ids, size_t *n, struct buf *err);
void repo_ids_free(char **ids, size_t n);

/* Hex helpers for digests in manifests ("" + 64 lower-case hex chars). */
void repo_digest_hex(const uint8_t digest[REPO_DIGEST_LEN], char hex[2 * REPO_DIGEST_LEN + 1]);
int repo_digest_parse(const char *hex, uint8_t digest[REPO_DIGEST_LEN]);

/* Whether a cancel flag (NULL: none) has been set. */
static inline bool repo_cancel_requested(const atomic_bool *cancel)
{
	return cancel && atomic_load(cancel);
}

/* Maintenance (callers hold the right lock). */
typedef void (*repo_progress_cb)(uint64_t done, uint64_t total, void *arg);
struct repo_check_result {
	uint64_t chunks_checked, chunks_bad, chunks_missing, bytes_checked;
	char **bad_backups;		/* ids of manifests referencing a bad or missing chunk */
	size_t n_bad_backups;
};
/* Re-read and check every chunk referenced by the given manifests (ids NULL =
 * all).  Reads only: a cancelled verify (-ECANCELED) changed nothing. */
int repo_verify(struct repo *r, char *const *ids, size_t n_ids, repo_progress_cb cb, void *arg,
		const atomic_bool *cancel, struct repo_check_result *res, struct buf *err);
void repo_check_result_release(struct repo_check_result *res);
/* Remove chunks no manifest references and stale tmp/ files (exclusive lock).
 * Reports how many chunks and bytes were freed, also when it fails or is
 * cancelled: it stops between two deletions, and every chunk deleted by then
 * was referenced by no manifest (the exclusive lock keeps new ones out). */
int repo_sweep(struct repo *r, const atomic_bool *cancel, uint64_t *chunks_freed, uint64_t *bytes_freed,
	       struct buf *err);

#endif
