/*
 * migrate.h - QEMU-level live migration primitives: the QMP steps a
 * source and a destination QEMU go through, one function each, with no
 * policy.  The service layer (service/migrate.c) decides the order, talks
 * to the other host and rolls back; this module only knows QEMU.
 *
 * The sequence the service layer runs (libvirt's begin/prepare/perform/
 * finish/confirm, Proxmox's phase2/phase3):
 *   destination  QEMU started paused with `-incoming defer` (argv.h
 *                qemu_launch.incoming); mig_tls_add(server);
 *                mig_caps_set(dest); mig_params_set; for local disks
 *                mig_nbd_start + mig_nbd_export per disk; mig_incoming_start.
 *   source       mig_tls_add(client); for local disks mig_mirror_start per
 *                disk, then mig_mirror_query until every job is ready;
 *                mig_caps_set(source); mig_params_set; mig_start;
 *                with copied disks, mig_query until "pre-switchover" (the
 *                guest is paused, its images still active here), then
 *                mig_mirror_finish per disk (the final sync: the
 *                destination's disks now equal the source's) and
 *                mig_continue; mig_query until "completed" (the source is
 *                paused, state "postmigrate").
 *   destination  mig_query until "completed"; mig_nbd_stop; `cont`.
 *   source       only then is QEMU stopped.  On any failure before that:
 *                mig_cancel / mig_mirror_abort on the source (its guest runs
 *                on, or gets `cont` if it was already paused), and the
 *                destination QEMU is killed.
 *
 * Encryption: a pre-shared key (mig_psk_generate, 32 random bytes as hex)
 * written to <dir>/keys.psk (mig_psk_write: mode 0600, owned by the QEMU
 * user) on both sides, next to the standard Diffie-Hellman group ffdhe2048 as
 * dh-params.pem (else a QEMU TLS server generates parameters, 0.3-1 s), and
 * loaded as the `tls-creds-psk` object MIG_TLS_ID;
 * the migration stream and the NBD disk stream both use it.  The key file is
 * removed by mig_psk_remove once the migration is over.
 *
 * Node and job names: the NBD client node for disk slot i on the source is
 * "mig-tgt<i>", its mirror job "mig-mirror<i>"; the export of slot i on the
 * destination is named "disk<i>" (the slot's device id, argv.h).
 *
 * Threading: every function runs QMP commands synchronously on the given
 * connection (qmp.h rules apply); nothing here keeps state between calls.
 *
 * Errors: 0 or -errno (what qmp_execute returned: -EIO QEMU refused,
 * -EPIPE QEMU gone, -ETIMEDOUT) with one sentence naming the step appended
 * to err (which may be NULL when only the outcome matters).
 */
#ifndef CORRAL_QEMU_MIGRATE_H
#define CORRAL_QEMU_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

struct qmp;

#define MIG_TLS_ID "mig-tls"
#define MIG_PSK_USER "corral"
#define MIG_PSK_HEX_LEN 64
/* Default guest pause allowed at the switch (QEMU's own default is 300 ms). */
#define MIG_DEFAULT_DOWNTIME_MS 300
/* "Unlimited" bandwidth: QEMU needs a number; 7.2's default is only 128 MiB/s. */
#define MIG_UNLIMITED_BANDWIDTH (16ull << 30)

/* ---- the pre-shared key ------------------------------------------------ */

/* 32 random bytes as 64 lowercase hex digits + NUL into out.  0 or -errno. */
int mig_psk_generate(char out[MIG_PSK_HEX_LEN + 1], struct buf *err);
/* true if psk is 64 hex digits (a key received from the other host). */
bool mig_psk_valid(const char *psk);
/* Create dir (0700) and dir/keys.psk ("corral:<psk>\n", 0600), both handed to
 * the QEMU user (util/runas.h).  0 or -errno + err. */
int mig_psk_write(const char *dir, const char *psk, struct buf *err);
/* Remove dir/keys.psk and dir (if empty).  Never fails. */
void mig_psk_remove(const char *dir);

/* ---- both sides --------------------------------------------------------- */

/* object-add tls-creds-psk MIG_TLS_ID reading dir, as TLS server or client. */
int mig_tls_add(struct qmp *q, const char *dir, bool server, struct buf *err);
/* object-del MIG_TLS_ID; errors ignored (it may not exist). */
void mig_tls_del(struct qmp *q);
/* The same two with another object id (replication's, qemu/replicate.h). */
int mig_tls_add_id(struct qmp *q, const char *id, const char *dir, bool server, struct buf *err);
void mig_tls_del_id(struct qmp *q, const char *id);

struct mig_params {
	uint64_t max_bandwidth;	/* bytes/s; 0: unlimited (MIG_UNLIMITED_BANDWIDTH) */
	int64_t downtime_ms;	/* 0: MIG_DEFAULT_DOWNTIME_MS */
	bool tls;		/* encrypt with MIG_TLS_ID */
};

/* migrate-set-capabilities: events on, and what `hold` says:
 * - on the destination, late-block-activate when hold: the images are
 *   activated by `cont`, after the mirror's last write, and never while the
 *   source may still take the guest back (QEMU 7.2 cannot migrate a guest
 *   whose images were never activated, so one that stays paused needs it
 *   off);
 * - on the source, auto-converge, and pause-before-switchover when hold
 *   (local disks are copied): the migration stops in "pre-switchover" with
 *   the guest paused and its images still active, so the disk copies end
 *   (mig_mirror_finish) before QEMU hands the images over.  Ending them
 *   after that, with the images inactive, left QEMU 7.2 unable to
 *   re-activate them through a broken NBD target when the switch failed; it
 *   resumed the guest anyway, which then aborted on its first write. */
int mig_caps_set(struct qmp *q, bool destination, bool hold, struct buf *err);
/* migrate-set-parameters: max-bandwidth, downtime-limit, tls-creds ("" = none). */
int mig_params_set(struct qmp *q, const struct mig_params *p, struct buf *err);

/* What query-migrate says. */
struct mig_progress {
	char status[24];	/* "none", "setup", "active", "completed", "failed", "cancelled", ... */
	uint64_t ram_total, ram_remaining, ram_transferred;
	uint64_t dirty_rate;	/* bytes/s the guest dirties (dirty-pages-rate x page size) */
	uint64_t mbps;		/* throughput, megabits/s */
	int64_t expected_downtime_ms; /* -1 unknown */
	int64_t total_time_ms;	/* -1 unknown; at the end: the whole migration */
	int64_t downtime_ms;	/* -1 unknown; at the end: the guest's pause */
	uint64_t dirty_sync_count;
	char error[256];	/* error-desc of a failed migration, "" */
};
/* true once status is final: completed, failed or cancelled. */
bool mig_progress_done(const struct mig_progress *p);
/* query-migrate into *p. */
int mig_query(struct qmp *q, struct mig_progress *p, struct buf *err);
/* The progress as JSON for job results and API answers (new reference). */
json_t *mig_progress_json(const struct mig_progress *p);

/* ---- destination -------------------------------------------------------- */

/* migrate-incoming on tcp:addr:port (QEMU started with -incoming defer). */
int mig_incoming_start(struct qmp *q, const char *addr, int port, struct buf *err);
/* nbd-server-start on addr:port, with TLS MIG_TLS_ID when tls. */
int mig_nbd_start(struct qmp *q, const char *addr, int port, bool tls, struct buf *err);
/* block-export-add: node `node` writable as export `name` (id "mig-exp-<name>"). */
int mig_nbd_export(struct qmp *q, const char *node, const char *name, struct buf *err);
/* nbd-server-stop (removes the exports); errors ignored when the server is gone. */
int mig_nbd_stop(struct qmp *q, struct buf *err);

/* ---- source ------------------------------------------------------------- */

/* blockdev-add an NBD client node "mig-tgt<slot>" for export `export` at
 * host:port (TLS when tls) and blockdev-mirror node `node` onto it (job
 * "mig-mirror<slot>", sync full, not auto-dismissed, at most speed bytes/s;
 * 0: unlimited). */
int mig_mirror_start(struct qmp *q, int slot, const char *node, const char *export, const char *host, int port,
		     bool tls, uint64_t speed, struct buf *err);

/* blockdev-add an NBD client node `node` for export `export` at host:port
 * (TLS object tls_id; NULL: plain).  reconnect_s > 0: the node's
 * reconnect-delay (a request over a connection the server closed waits that
 * long for a new connection instead of failing at once).  what: the
 * sentence of a failure. */
int mig_nbd_node_add(struct qmp *q, const char *node, const char *export, const char *host, int port,
		     const char *tls_id, int reconnect_s, const char *what, struct buf *err);

struct mig_disk_progress {
	uint64_t len, offset;	/* bytes to copy so far / copied */
	bool ready;		/* in sync: guest writes are mirrored as they happen */
	bool concluded;		/* the job ended (with or without an error) */
	bool failed;		/* the job ended or paused with an error */
	char error[256];
};
/* query-jobs for job "mig-mirror<slot>".  -ENOENT if QEMU has no such job.
 * err may be NULL, as for every call here that says why with `run`. */
int mig_mirror_query(struct qmp *q, int slot, struct mig_disk_progress *p, struct buf *err);
/* The same for any block job `job` (what: the sentence of a failure). */
int mig_job_progress(struct qmp *q, const char *job, const char *what, struct mig_disk_progress *p, struct buf *err);
/* After the RAM migration completed (guest paused): block-job-cancel of the
 * ready job "mig-mirror<slot>", which completes it without a pivot once the
 * target is in sync; wait for it to conclude, dismiss it, blockdev-del
 * "mig-tgt<slot>".  A job that did not end cleanly is -EIO. */
int mig_mirror_finish(struct qmp *q, int slot, int timeout_ms, struct buf *err);
/* The same for any ready mirror job `job` onto node `tgt` (what: the sentence of a failure). */
int mig_job_finish(struct qmp *q, const char *job, const char *tgt, int timeout_ms, const char *what, struct buf *err);
/* Abandon the mirror of slot: its NBD target's connection yanked (requests
 * in flight on a cut link fail at once), the job cancelled (forced),
 * dismissed, its target node deleted; every step's error is ignored (some
 * may never have been made). */
void mig_mirror_abort(struct qmp *q, int slot, int timeout_ms);
/* The same for any block job `job` and its target node `tgt` (NULL: none). */
void mig_job_abort(struct qmp *q, const char *job, const char *tgt, int timeout_ms);
/* migrate to tcp:host:port. */
int mig_start(struct qmp *q, const char *host, int port, struct buf *err);
/* migrate_cancel.  In "pre-switchover" too: QEMU cancels and resumes a
 * guest that ran. */
int mig_cancel(struct qmp *q, struct buf *err);
/* migrate-continue from "pre-switchover": the switch goes on. */
int mig_continue(struct qmp *q, struct buf *err);

#endif
