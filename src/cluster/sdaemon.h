/*
 * sdaemon.h - helper daemons corrald runs and keeps running, which outlive
 * corrald as corosync does: corosync-qnetd on a witness, corosync-qdevice
 * on the nodes of a pool with a witness (sdaemon.c; docs/cluster.md "Two
 * nodes").
 *
 * A daemon runs in the foreground as corrald's child in its own session,
 * its stdout and stderr appended to a file; its identity (pid, start time,
 * boot id: util/proc.h) is saved in a pid file of corrald's, so a corrald
 * restarted after kill -9 finds it again and starts no second one.  While
 * a daemon is wanted (sdaemon_want), one supervisor thread
 * (sdaemon_supervise_start) checks it every second and starts it again
 * after 1, 2, 4 ... 30 s when it exited (the back-off resets after a
 * minute of running), reporting each restart through the callback.
 * Secrets never reach argv: the daemons read their keys from their NSS
 * databases.
 *
 * Ownership: a struct sdaemon is the caller's, set up by sdaemon_init and
 * kept (not moved) while wanted; sdaemon_release after sdaemon_want(false).
 * Threading: every call from any thread; one mutex here serialises start,
 * stop and the supervisor, so two callers never start two copies.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_CLUSTER_SDAEMON_H
#define CORRAL_CLUSTER_SDAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/proc.h"

#define SDAEMON_MAX 4

struct sdaemon {
	char *name;     /* the program, for logs and errors */
	char *pidfile;  /* its identity (written by corrald) */
	char *outfile;  /* its stdout and stderr */
	char **argv;    /* NULL-terminated, argv[0] the program (looked up in PATH) */
	/* the supervisor's (under the module's lock) */
	bool wanted;
	int attempt;
	int64_t next_try, seen_up;
};

/* What the supervisor did (the callback's ev). */
enum sdaemon_event { SDAEMON_RESTARTED, SDAEMON_RESTART_FAILED };
typedef void sdaemon_event_fn(const struct sdaemon *d, enum sdaemon_event ev, int attempt, const char *why);

/* d for program argv[0] with its files dir/<base>.pid and dir/<base>.out; argv copied. */
void sdaemon_init(struct sdaemon *d, const char *dir, const char *base, const char *const *argv);
void sdaemon_release(struct sdaemon *d);

/* Does it run (by its pid file)?  *id (may be NULL) gets its identity. */
bool sdaemon_running(const struct sdaemon *d, struct proc_identity *id);
/* Start it unless it runs; waits 1.5 s for an early exit (then -EIO with the end of its output). */
int sdaemon_start(struct sdaemon *d, struct buf *err);
/* End it (TERM, KILL after 5 s) and remove its pid file; 0 also when none ran. */
int sdaemon_stop(struct sdaemon *d);

/* Keep d running (on: from now on the supervisor restarts it), or stop doing so. */
void sdaemon_want(struct sdaemon *d, bool on);
/* The supervisor thread; on_event is called from it with no lock held. */
int sdaemon_supervise_start(sdaemon_event_fn *on_event);
void sdaemon_supervise_stop(void);

#endif
