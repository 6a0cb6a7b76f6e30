/*
 * resync.h - the compare pass of a replication onto a stale copy
 * (resync.c; service/replicate.c drives it, docs/ha.md "Resync onto a
 * stale copy").
 *
 * Both hosts cut a disk into RESYNC_CHUNK pieces and describe each by its
 * SHA-256, or as "zero" when it reads as zeros (NBD block status says so,
 * which costs no read, or its bytes are all zero): the replica host hashes
 * its volume through its own NBD export (POST /v1/replicas/{vm}/hashes, a
 * page of at most RESYNC_PAGE_MAX chunks per call), the VM's host hashes
 * its running disk through a read-only NBD export of the VM's QEMU, and
 * writes only the chunks that differ into the replica's export (libnbd over
 * TCP with the replication's TLS-PSK key).
 *
 * A hash list on the wire (JSON, the peer's answer; untrusted on the VM's
 * host, so resync_hashes_parse checks every member):
 *   {"volume": NAME, "size": BYTES, "chunk": BYTES, "offset": BYTES,
 *    "hashes": ["z" | 64 lowercase hex digits, ...]}
 * offset is a multiple of chunk; the list covers [offset, offset + n*chunk)
 * cut at size, n = 1..RESYNC_PAGE_MAX.
 *
 * Ownership: a struct resync_hashes owns its arrays (resync_hashes_release,
 * NULL-safe members).  Threading: no shared state; an nbd_handle is used by
 * one thread at a time.  Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_RESYNC_H
#define CORRAL_SERVICE_RESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

struct nbd_handle;

#define RESYNC_CHUNK (256u * 1024u)
#define RESYNC_PAGE_MAX 1024u
#define RESYNC_HASH_LEN 32

struct resync_hashes {
	uint64_t size;   /* the disk's virtual size */
	uint32_t chunk;
	uint64_t offset; /* of the first chunk */
	size_t n;
	uint8_t (*digest)[RESYNC_HASH_LEN];
	bool *zero;      /* chunk i reads as zeros (digest[i] unset) */
};

void resync_hashes_release(struct resync_hashes *hs);

/* Chunks [offset, offset + n*chunk) of export h (its size `size`), at most
 * RESYNC_PAGE_MAX, hashed into *out. */
int resync_hash_range(struct nbd_handle *h, uint64_t size, uint64_t offset, uint32_t chunk, size_t n,
		      struct resync_hashes *out, struct buf *err);

/* Which of chunks [offset, offset + n*chunk) read as zeros by block status
 * alone (zero[i]; a chunk partly data is false). */
int resync_zero_map(struct nbd_handle *h, uint64_t size, uint64_t offset, uint32_t chunk, size_t n, bool *zero,
		    struct buf *err);
/* SHA-256 of buf[0..len) into digest, or *zero when it is all zeros. */
void resync_chunk_hash(const void *buf, size_t len, uint8_t digest[RESYNC_HASH_LEN], bool *zero);

/* The wire form of hs (new reference). */
json_t *resync_hashes_json(const struct resync_hashes *hs, const char *volume);

/* Parse and check a peer's hash list: it must be of `volume`, `size`,
 * `chunk` and `offset` and hold exactly the chunks asked for (n, cut at
 * size).  -EPROTO with a sentence for anything else. */
int resync_hashes_parse(const json_t *j, const char *volume, uint64_t size, uint32_t chunk, uint64_t offset, size_t n,
			struct resync_hashes *out, struct buf *err);

/* Connect to export `name` at host:port with TLS-PSK: the key file
 * (keys.psk, "corral:HEX") in key_dir.  writable: the export must allow
 * writes.  The "base:allocation" context is asked for. */
int resync_nbd_connect_tcp(const char *host, int port, const char *name, const char *key_dir, bool writable,
			   struct nbd_handle **out, struct buf *err);
/* Connect to export `name` on a unix socket (the VM's QEMU). */
int resync_nbd_connect_unix(const char *socket, const char *name, struct nbd_handle **out, struct buf *err);
/* Shut down and close (NULL-safe). */
void resync_nbd_close(struct nbd_handle *h);
/* The export's size. */
int resync_nbd_size(struct nbd_handle *h, uint64_t *size, struct buf *err);

/* Make chunk [off, off+len) of `dst` equal to `src`'s: written from buf
 * (len bytes already read from src), or zeroed when zero. */
int resync_chunk_put(struct nbd_handle *dst, const void *buf, bool zero, uint64_t off, size_t len, struct buf *err);
/* Read [off, off+len) of h into buf. */
int resync_nbd_pread(struct nbd_handle *h, void *buf, size_t len, uint64_t off, struct buf *err);
int resync_nbd_flush(struct nbd_handle *h, struct buf *err);

#endif
