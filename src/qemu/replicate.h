/*
 * replicate.h - the QMP steps of synchronous disk replication on the VM's
 * own host (replicate.c; the policy is service/replicate.c, the daemon on
 * the replica host qemu/qsd.h; docs/ha.md).
 *
 * Per disk slot i of a running VM:
 *   repl_target_add     blockdev-add an NBD client node "repl-tgt<i>" for the
 *                       replica host's export (TLS object REPL_TLS_ID, added
 *                       with mig_tls_add_id from a key directory;
 *                       reconnect-delay REPL_HOLD_S)
 *   repl_mirror_start   blockdev-mirror of the disk's format node onto it,
 *                       job "repl<i>": sync full (the first copy) or none
 *                       (after a resync), copy-mode write-blocking (a guest
 *                       write completes only once the target has it),
 *                       on-target-error report (a dead replica ends the job;
 *                       the guest's writes go on on the local disk),
 *                       never completed: the ready job *is* the replication
 *   repl_bitmap_add/_remove  dirty bitmaps "repl-<k>" on the format node,
 *                       the writes since a moment the replica was in sync
 *   repl_resync         blockdev-backup sync incremental of a bitmap onto the
 *                       target node (job "repl-resync<i>", bitmap-mode
 *                       on-success: afterwards the bitmap holds the writes
 *                       made while it ran), waited for; the bytes it copied
 *   repl_finish         a ready mirror ended in sync (block-job-cancel, not
 *                       forced: QEMU completes it without a pivot once the
 *                       target has every write), the node deleted: the
 *                       switchover onto the replica (service/migrate.c)
 *   repl_drop           the NBD connection yanked (in-flight requests fail at
 *                       once), the mirror cancelled (forced), the node deleted
 *   repl_cmp_export_start/_stop  the compare pass (service/resync.h) reads
 *                       the running disks through QEMU's NBD server on a
 *                       unix socket, read-only exports "repl-cmp<i>"; stop
 *                       ends the server (it must be the one start made)
 * Following a job: mig_job_progress (qemu/migrate.h) on repl_job_name.
 *
 * Threading: every function runs QMP commands synchronously on the given
 * connection (qmp.h rules); no state between calls.  Errors: 0 or -errno
 * with one sentence naming the step appended to err.
 */
#ifndef CORRAL_QEMU_REPLICATE_H
#define CORRAL_QEMU_REPLICATE_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

struct qmp;

#define REPL_TLS_ID "repl-tls"
/* The target nodes' NBD reconnect-delay: when the replica's daemon closes
 * the connection (killed, restarted), a guest write waits this long for a
 * new connection instead of completing on the local disk alone, so corrald
 * can record the replica outdated first (docs/ha.md "RPO 0").  Measured on
 * QEMU 7.2: the request is held exactly this long, goes through when the
 * daemon is back within it, and the mirror's job-cancel (repl_drop)
 * releases it at once; yank alone does not. */
#define REPL_HOLD_S 30

/* "repl<slot>" into out (size >= 32). */
void repl_job_name(int slot, char *out, size_t len);
int repl_target_add(struct qmp *q, int slot, const char *export, const char *host, int port, struct buf *err);
int repl_mirror_start(struct qmp *q, int slot, const char *node, bool full, struct buf *err);
int repl_bitmap_add(struct qmp *q, const char *node, const char *name, struct buf *err);
/* Errors ignored (the bitmap may be gone with its QEMU). */
void repl_bitmap_remove(struct qmp *q, const char *node, const char *name);
/* Copy what bitmap `name` marks onto "repl-tgt<slot>"; *bytes: what the job copied. */
int repl_resync(struct qmp *q, int slot, const char *node, const char *name, int timeout_ms, uint64_t *bytes,
		struct buf *err);
/* NBD server on unix socket `socket` and a read-only export "repl-cmp<slot>"
 * of each node (nodes[i] for slots[i]). */
int repl_cmp_export_start(struct qmp *q, const char *socket, const int *slots, const char *const *nodes, size_t n,
			  struct buf *err);
/* Errors ignored (the server may be gone with its QEMU). */
void repl_cmp_export_stop(struct qmp *q);
/* End the ready mirror of slot in sync and delete its target node; a job
 * that did not end cleanly is -EIO + err. */
int repl_finish(struct qmp *q, int slot, int timeout_ms, struct buf *err);
/* Cancel the mirror of slot and delete its target node; errors ignored. */
void repl_drop(struct qmp *q, int slot);

#endif
