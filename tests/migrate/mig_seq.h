/*
 * mig_seq.h - one whole live migration between two QEMUs that this process
 * reaches both of, in the order service/migrate.c runs the same steps on two
 * hosts (see qemu/migrate.h).  Used by the unit test (two fake QEMUs
 * replaying recorded transcripts) and by tests/migrate/mig-drive.c (two real
 * QEMUs, for recording those transcripts and for the QEMU-level end-to-end
 * test).  Tests only.
 */
#ifndef CORRAL_TESTS_MIG_SEQ_H
#define CORRAL_TESTS_MIG_SEQ_H

#include <stdbool.h>
#include <stdio.h>

#include "qemu/migrate.h"
#include "util/buf.h"

struct qmp;

struct mig_seq {
	struct qmp *src, *dst;
	const char *host;		/* the destination's address */
	int port, nbd_port;
	int ndisks;			/* disk slots 0..ndisks-1 copied over NBD (0: shared storage) */
	const char *src_dir, *dst_dir;	/* where each QEMU reads keys.psk (NULL: no TLS) */
	struct mig_params params;
	int poll_ms;			/* between progress polls (0 in replays) */
	/* Cancel after this many progress polls of the RAM phase (-1: never). */
	int cancel_after_polls;
	FILE *log;			/* progress lines, or NULL */
	/* out */
	struct mig_progress last;	/* the source's last query-migrate */
	int polls;			/* RAM-phase polls made */
	int disk_polls;			/* mirror polls until every disk was ready */
};

/* 0: the guest runs on the destination.  <0: it runs on the source again
 * (the destination QEMU was told to quit), err says why. */
int mig_seq_run(struct mig_seq *s, struct buf *err);

#endif
