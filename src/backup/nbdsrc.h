/*
 * nbdsrc.h - NBD plumbing of the backup engine (internal to src/backup).
 *
 * Reading: one libnbd connection per worker thread to a unix-socket export
 * (QEMU's own NBD server for a fleecing point, or qemu-nbd for an image),
 * with the "base:allocation" context and, for incrementals, the
 * "qemu:dirty-bitmap:NAME" context.  nbdsrc_chunk_map turns block status into
 * one byte of flags per chunk so the engine decides per chunk what to read.
 * The restore side also shares its manifest chunk-list loader here.
 * Serving: qemu-nbd, a child process (util/proc.h) on a unix socket, for
 * stopped images (read-only) and for restores (writable).
 *
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_BACKUP_NBDSRC_H
#define CORRAL_BACKUP_NBDSRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backup/repo.h"
#include "util/buf.h"
#include "util/proc.h"

struct nbd_handle;

/* Per-chunk flags from nbdsrc_chunk_map. */
#define NBDSRC_CHUNK_ZERO 1u	/* the whole chunk reads as zeros (hole or zero extent) */
#define NBDSRC_CHUNK_DIRTY 2u	/* some byte of the chunk is set in the bitmap */

/* Connect to export `name` on the unix socket.  bitmap: also request its
 * dirty-bitmap context (the export must offer it, else -ENOENT). */
int nbdsrc_connect(const char *socket, const char *name, const char *bitmap, struct nbd_handle **out,
		   struct buf *err);
/* Close (NULL-safe); shuts the connection down cleanly first. */
void nbdsrc_close(struct nbd_handle *h);

/* Fill map[0 .. ceil(size/chunk)) with NBDSRC_CHUNK_* flags.  bitmap must be
 * the one given to nbdsrc_connect (or NULL: no DIRTY flags). */
int nbdsrc_chunk_map(struct nbd_handle *h, uint64_t size, uint32_t chunk, const char *bitmap, uint8_t *map,
		     struct buf *err);

int nbdsrc_pread(struct nbd_handle *h, void *buf, size_t len, uint64_t off, struct buf *err);
int nbdsrc_pwrite(struct nbd_handle *h, const void *buf, size_t len, uint64_t off, struct buf *err);
int nbdsrc_flush(struct nbd_handle *h, struct buf *err);

/* Start qemu-nbd on image (format "qcow2"/"raw") serving the default export
 * "" on the unix socket, for up to `clients` simultaneous connections; it
 * exits once they have all disconnected.  bitmap (or NULL): a persistent
 * dirty bitmap of the image exported as qemu:dirty-bitmap:NAME.  `server`
 * (PROC_INIT) receives the process, a child of ours; returns once the socket
 * accepts connections. */
int nbdsrc_server_start(const char *image, const char *format, const char *socket, bool readonly, int clients,
			const char *bitmap, struct proc *server, struct buf *err);
/* Wait (up to a few seconds) for the server to exit after its clients left,
 * terminating it if needed, release `server` and remove its socket.  Returns
 * 0 once it is gone (the image is then closed), -ETIMEDOUT otherwise. */
int nbdsrc_server_stop(struct proc *server, const char *socket, struct buf *err);

/* Append a tool's stderr to err as the end of a sentence: trailing
 * whitespace dropped, control characters shown as '?', a final period. */
void nbdsrc_err_add_output(struct buf *err, const struct buf *out);

/* The chunk list of disk `index` of backup `id`, checked (restore.c, used by
 * restore and backupdev.c): size, chunk size, and per piece its digest or
 * "zero" (present[i] false). */
struct backup_chunks {
	uint64_t size;
	uint32_t chunk;
	size_t n;
	uint8_t (*digest)[REPO_DIGEST_LEN];
	bool *present;
};
int backup_chunks_load(struct repo *r, const char *id, size_t index, struct backup_chunks *out, struct buf *err);
void backup_chunks_release(struct backup_chunks *c);

#endif
