/*
 * qsd.h - qemu-storage-daemon serving replica volumes over NBD (qsd.c), for
 * synchronous disk replication (docs/ha.md): the host that holds a
 * replica runs one daemon per replicated VM, exporting each replica volume
 * writable with writethrough=on, so that a write is acknowledged to the
 * primary's mirror only once it is on this host's storage (without
 * writethrough, a kill -9 of the daemon lost the last writes: the qcow2
 * metadata was still in its cache).
 *
 * Files, all in one directory the caller names (STATE/replicas/<uuid>):
 *   key/keys.psk   the TLS pre-shared key (qemu/migrate.h mig_psk_write):
 *                  the daemon reads it at every handshake, so it stays
 *                  while the daemon runs; never in argv, never logged
 *   qsd.pid        the daemon's identity (util/proc.h)
 *   qsd.log        its stdout and stderr
 * The daemon runs as QEMU's user (util/runas.h), in its own session, as
 * corrald's child: it outlives corrald like QEMU does, and a corrald
 * started again finds it by the identity in qsd.pid.
 *
 * Threading: any thread; a caller serialises start and stop of one
 * directory.  Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_QEMU_QSD_H
#define CORRAL_QEMU_QSD_H

#include <stdbool.h>

#include "util/buf.h"
#include "util/proc.h"

#define QSD_TLS_ID "tls0"

struct qsd_disk {
	const char *path;	/* the replica volume's file */
	const char *format;	/* "qcow2" or "raw" */
	const char *export;	/* the NBD export name */
};

struct qsd_spec {
	const char *dir;	/* see above; key/keys.psk must exist */
	const char *addr;	/* IP address to listen on */
	int port;
	const struct qsd_disk *disks;
	int ndisks;
};

/* The daemon's argv (for tests and the log): cmd_add()s into c. */
struct cmd;
void qsd_argv(const struct qsd_spec *s, struct cmd *c);
/* Start it; 0 once it accepts connections on addr:port (up to 5 s), else
 * -EIO with the end of its log. */
int qsd_start(const struct qsd_spec *s, struct buf *err);
/* Does the daemon of dir run?  *id (may be NULL) gets its identity. */
bool qsd_running(const char *dir, struct proc_identity *id);
/* End it (TERM, KILL after 3 s) and forget its pid file; 0 also when none ran. */
int qsd_stop(const char *dir);

#endif
