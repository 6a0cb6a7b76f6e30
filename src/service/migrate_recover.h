/*
 * migrate_recover.h - what survives a kill -9 of corrald or a cut link in
 * the middle of a live migration (migrate_recover.c; docs/migration.md,
 * "How failures resolve").
 *
 * Each side writes a durable record of the migration before every step it
 * could not undo from memory alone: <state_dir>/migrations/<uuid>.json,
 * {"role": "out"|"in", "uuid", "name", "peer", "phase", ...}.  Source
 * phases: "preparing" (the finish call was never sent, so the destination
 * cannot be running the guest), "switching" (finish may have been sent) and
 * "aborting" (rolled back here, the destination not told yet).  Destination
 * phases: "prepared" and "finishing".  Offline migrations (migrate_offline.h)
 * write records with roles "off-out" ("preparing", "finishing", "aborting")
 * and "off-in" ("prepared"); container migrations (service/ct_migrate.c)
 * "ct-out" (as "off-out", the reconciler treats both alike) and "ct-in"
 * (removed with its directory at start).  A record is removed when the migration ended
 * either way on that side.
 *
 * The reconciler (one thread, started by svc_migrate_recover at corrald's
 * start) ends the source's records no live job owns: a record from before
 * the restart, a switch that got no answer, an abort that did not reach the
 * destination.  It retries every MIG_RECONCILE_S while the destination is
 * unreachable; the VM stays paused here meanwhile, with the reason as an
 * event.  The destination's records are adopted at start (its incoming
 * migration table rebuilt), so the source can still finish or abort.
 *
 * Threading: all functions are thread-safe.  Errors: records are
 * best-effort (a failed write is logged), the reconciler logs.
 */
#ifndef CORRAL_SERVICE_MIGRATE_RECOVER_H
#define CORRAL_SERVICE_MIGRATE_RECOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "util/buf.h"

/* Write (replace) the record of uuid; rec is not taken. */
int mig_rec_save(const char *uuid, const json_t *rec);
/* Write the record of a migration out of this host that begins (rec is not
 * taken), only if uuid has none: a record left by an earlier migration (a
 * job killed with corrald, which the reconciler settles) or one coming in
 * is never replaced, which would lose what it must settle.  -EBUSY and one
 * sentence naming it in err; -errno when it cannot be written. */
int mig_rec_claim(const char *uuid, const json_t *rec, struct buf *err);
/* The record of uuid, or NULL. */
json_t *mig_rec_load(const char *uuid);
/* Remove the record of uuid (no record: nothing). */
void mig_rec_drop(const char *uuid);
/* Set "phase" in uuid's record (if there is one). */
void mig_rec_phase(const char *uuid, const char *phase);

/* A migration of uuid is past its switch or hand-over and its outcome unknown
 * (the destination did not answer): the VM must not run here until the
 * reconciler settles it.  peer: the destination's name. */
bool mig_rec_unsettled(const char *uuid, char *peer, size_t len);

/* A source job: run(j, arg, err) owns uuid's record (the reconciler leaves it alone) while it runs;
 * returns what run returned. */
struct job;
int mig_job_own(const char *uuid, int (*run)(struct job *, void *, struct buf *), struct job *j, void *arg,
		struct buf *err);

/* At start (after svc_recover): adopt the destination's records, start the reconciler. */
void svc_migrate_recover(void);
/* Stop and join the reconciler (corrald stopping). */
void mig_reconcile_stop(void);

/* migrate.c: rebuild an incoming migration from its record after a restart (0, or it was cleaned). */
void mig_in_adopt(const json_t *rec);

#endif
