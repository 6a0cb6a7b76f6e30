/*
 * ha_guard.h - corrald's side of corral-guard (ha_guard.c; docs/ha.md
 * "The guard"): start it (or re-adopt the one running, by the identity in
 * STATE/cluster/guard.pid), and hand it the pidfds of the armed HA QEMUs
 * and containers' inits.
 *
 * Threading: called from the fence thread only (ha_fence.c).  Errors are
 * logged; the fence in corrald does not depend on the guard.
 */
#ifndef CORRAL_SERVICE_HA_GUARD_H
#define CORRAL_SERVICE_HA_GUARD_H

#include <stdbool.h>
#include <stdint.h>

/* Start the guard if it does not run (in a session of its own; it outlives corrald). */
void ha_guard_ensure(void);
/* Send the armed set (uuids, names and pidfds of each one's QEMU or
 * container init, n of them; a pidfd < 0 leaves that one out; the caller
 * keeps the pidfds): it replaces the guard's,
 * and is its heartbeat.  fresh_ms (> 0) is the fence deadline L: the guard
 * kills the set when no message of its own has come through corosync in a
 * quorate ring for that long (a stalled corosync).  false when the guard
 * could not be told.  leases: the disk lease lines (ha_lease_collect,
 * each starting with a newline) and lease_fds their nlease fds. */
bool ha_guard_send(const char *const *uuids, const char *const *names, const int *pidfds, unsigned n,
		   int64_t fresh_ms, const char *leases, const int *lease_fds, unsigned nlease);
/* What the guard killed while corrald could not ("REASON\nUUID=NAME ...\n",
 * new string) or NULL; ha_guard_report_done() once recorded. */
char *ha_guard_report(void);
/* The guard's report not yet recorded names the VM uuid: its QEMU's death
 * was a fence, never a crash to restart. */
bool ha_guard_fenced(const char *uuid);
void ha_guard_report_done(void);
/* The guard's watchdog state, one line (docs/ha.md "The watchdog"), or why
 * it is unknown; a new string. */
char *ha_guard_watchdog(void);
/* corrald stops on purpose: the guard keeps the armed set (quorum loss
 * still kills) but does not count corrald's silence until it is back. */
void ha_guard_quiet(void);
/* Stop the guard (the host left its pool) and close the connection. */
void ha_guard_stop(void);
/* Whether the guard runs: its pid, or 0. */
int ha_guard_pid(void);

#endif
