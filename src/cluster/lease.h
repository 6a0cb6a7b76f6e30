/*
 * lease.h - the disk lease of an HA VM or container on a shared pool
 * (docs/ha.md "Disk leases"; docs/state.md "Lease files"): a delta lease,
 * the idea of sanlock's, that needs no clock agreement between hosts.
 *
 * One file per protected resource, POOL/.corral-leases/UUID, holds one
 * LEASE_RECORD_SIZE-byte record written whole with pwrite + fdatasync.
 * Its holder's corral-guard rewrites it every LEASE_RENEW_MS with the
 * counter one higher.  An acquirer takes it only when it is absent,
 * released, already its own, or unchanged on the acquirer's own monotonic
 * clock for LEASE_EXPIRE_MS; it then writes its own record (a new random
 * incarnation), waits LEASE_SETTLE_MS and reads it back: whoever wrote last
 * holds it, and a holder's guard that reads a record not its own kills its
 * guest at once.  A holder's guard that could not renew for
 * LEASE_GUARD_KILL_MS kills its guest, before any acquirer may take it.
 *
 * Pure code (no allocation, libc only): corrald and corral-guard both
 * link it; tests/unit/test_lease.c and tests/fuzz/fuzz_lease.c test it.
 */
#ifndef CORRAL_CLUSTER_LEASE_H
#define CORRAL_CLUSTER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEASE_RECORD_SIZE 512 /* one sector: written in one piece */
#define LEASE_VERSION 1
#define LEASE_RENEW_MS 250      /* R: the guard renews this often */
#define LEASE_EXPIRE_MS 3000    /* E: unchanged this long on an acquirer's clock: free */
#define LEASE_GUARD_KILL_MS 2000 /* no renewal for E - 1 s: the holder's guard kills */
#define LEASE_HANDOVER_MS 2000 /* a renewed record may still turn released this long (its guest just stopped) */
#define LEASE_SETTLE_MS 750     /* after writing: 3 R, longer than an overwritten holder needs to notice and kill */
#define LEASE_HOST_MAX 80 /* a node name (CLUSTER_NODE_NAME_MAX 64) and its NUL fit */
#define LEASE_DIR ".corral-leases"

enum lease_state { LEASE_HELD = 1, LEASE_RELEASED = 2 };

struct lease_rec {
	enum lease_state state;
	uint32_t nodeid;          /* the holder's corosync node id */
	uint64_t incarnation;     /* random, new at each acquisition (never 0) */
	uint64_t counter;         /* one higher at each renewal */
	int64_t wall_ms;          /* the holder's wall clock at the write: for humans only */
	char host[LEASE_HOST_MAX]; /* the holder's node name */
	char uuid[40];            /* the resource's */
};

/* Encode r into out (LEASE_RECORD_SIZE bytes; little-endian, checksummed). */
void lease_encode(const struct lease_rec *r, unsigned char out[LEASE_RECORD_SIZE]);
/* Decode len bytes: 0, or -EINVAL (wrong size, magic, version, state or
 * checksum, a host or uuid not NUL-terminated) with *why a phrase. */
int lease_decode(const unsigned char *in, size_t len, struct lease_rec *r, const char **why);

/* What an acquirer saw of the lease file. */
enum lease_seen {
	LEASE_SEEN_NONE,    /* no file, or an empty one (never held) */
	LEASE_SEEN_INVALID, /* bytes that do not decode: a damaged file */
	LEASE_SEEN_RECORD,
};

struct lease_view {
	enum lease_seen seen;
	struct lease_rec rec;   /* with LEASE_SEEN_RECORD */
	int64_t unchanged_ms;   /* how long these exact bytes have been seen, on the observer's clock */
	bool moved;             /* the bytes changed since the acquirer began to watch */
};

enum lease_verdict {
	LEASE_TAKE,    /* absent, released, expired, or held by this very incarnation */
	LEASE_WAIT,    /* held elsewhere, not moved yet: watch on */
	LEASE_REFUSE,  /* held elsewhere and renewed meanwhile: its holder is alive */
};

/* The acquire decision for the host (me, my_nodeid) whose current
 * incarnation of this lease is mine (0: none).  A record of this host under
 * another incarnation (a corrald restarted, a guest started twice) is
 * treated as another holder's; bytes that do not decode (a damaged or
 * foreign file) as a holder that is not known: taken once unchanged for E. */
enum lease_verdict lease_decide(const struct lease_view *v, const char *me, uint32_t my_nodeid, uint64_t mine);

#endif
