/*
 * corosync.h - corosync run by corrald (corosync.c): its files and the
 * process (docs/cluster.md "How corosync runs").
 *
 * Files, all in one corral-owned directory (STATE/cluster, 0700):
 *   corosync.conf  written atomically from the pool's definition (conf.h);
 *                  corosync is started with `-c` on it, and re-reads it on
 *                  a reload (membership_reload)
 *   authkey        the knet key: 256 random bytes from getrandom(), 0400,
 *                  written here (what `corosync-keygen` does); never logged,
 *                  never in argv
 *   corosync.pid   the running corosync's identity (util/proc.h), written by
 *                  corrald (corosync's own /run/corosync.pid is not ours)
 *   corosync.log   its log; corosync.out its stdout/stderr; lib/ its state_dir
 * corosync runs in the foreground (-f) as corrald's child in its own
 * session, so it outlives corrald like QEMU does: a corrald killed with -9
 * and started again finds it by the identity in corosync.pid and starts no
 * second one.
 *
 * Threading: any thread; start, stop and the supervisor's restart are
 * serialised by one mutex here, so two callers never start two corosyncs.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_CLUSTER_COROSYNC_H
#define CORRAL_CLUSTER_COROSYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/conf.h"
#include "util/buf.h"
#include "util/proc.h"

#define COROSYNC_KEY_BYTES 256

/* Write dir/corosync.conf for d (creating dir 0700 and dir/lib). */
int corosync_conf_write(const struct cluster_def *d, const char *dir, struct buf *err);
/* A new random key into dir/authkey (0400). */
int corosync_key_make(const char *dir, struct buf *err);
/* Write the given key (COROSYNC_KEY_BYTES, from a member) into dir/authkey (0400). */
int corosync_key_write(const char *dir, const unsigned char *key, size_t len, struct buf *err);
/* Read dir/authkey into key (size COROSYNC_KEY_BYTES): its length, or -errno. */
int corosync_key_read(const char *dir, unsigned char *key, size_t len, struct buf *err);

/* Is corrald's corosync (by dir/corosync.pid) running?  *id (may be NULL) gets its identity. */
bool corosync_running(const char *dir, struct proc_identity *id);
/*
 * Start `corosync -f -c dir/corosync.conf` unless it runs already (then 0).
 * Waits up to 2 s for it to fail early (a bad configuration, another
 * corosync holding /run/corosync.pid): then -EIO with the end of its log.
 */
int corosync_start(const char *dir, struct buf *err);
/* End it (TERM, KILL after 5 s) and forget its pid file; 0 also when none ran. */
int corosync_stop(const char *dir);
/* Remove corosync.conf, authkey, the pid file and lib/ from dir (after corosync_stop). */
void corosync_files_remove(const char *dir);

#endif
