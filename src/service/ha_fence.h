/*
 * ha_fence.h - the HA self-fence in corrald (ha_fence.c; docs/ha.md
 * "Self-fencing"): the first of the design's three lines of defence.
 *
 * While this host is in a pool, a fence thread watches the membership
 * view (cluster/membership.h) and keeps the list of *armed* VMs: those
 * whose HA state is "started" and whose QEMU runs here.  When the view
 * goes from quorate to not quorate, or the corosync connection is lost,
 * it SIGKILLs every armed QEMU at once (rt_fence: a pidfd of the recorded
 * process, never a recycled pid); their state becomes stopped with the
 * reason "fenced: host lost quorum" (or "... lost its corosync
 * connection"), and each gets an "ha" event.  A host that has not been
 * quorate for the deadline L since corrald started (a corrald restarted in
 * a cut-off host) fences the same way.
 *
 * L = token_eff + consensus + 1500 ms (docs/ha.md), from corosync's
 * runtime configuration, or from the pool's token when corosync does not
 * answer.  Since corosync reports the loss at token_eff + consensus after
 * a cut, the kill lands before L; survivors may restart a lost host's HA
 * VMs only after L (+1 s to confirm): the HA manager (ha_manager.h) waits
 * ha_fence_wait_ms() after it sees the host gone.
 *
 * corral-guard (ha_guard.h) gets the same armed set every 500 ms, so the
 * host still fences when this thread cannot run.
 *
 * Threading: one thread of its own; the functions below from any thread.
 */
#ifndef CORRAL_SERVICE_HA_FENCE_H
#define CORRAL_SERVICE_HA_FENCE_H

#include <jansson.h>

/* Start/stop the fence thread (svc_cluster_init / svc_cluster_shutdown). */
int ha_fence_start(void);
void ha_fence_stop(void);
/* Re-read the armed VMs now (an HA resource or a VM's state changed). */
void ha_fence_refresh(void);
/*
 * W, the wait of a surviving manager between seeing a host leave the
 * quorate ring and restarting its HA VMs elsewhere (design memo 4.3-4.4):
 * W = L + K + 500 ms - (token_eff + consensus), K = 1000 ms.  The survivors
 * see the new ring token_eff + consensus after the cut, the lost host has
 * killed its HA QEMUs by L + K after it: W after the survivors' view is
 * past that with 500 ms to spare.  From this host's own L (the pool shares
 * one token, so the lost host's L is the same).  3000 ms today.
 */
int64_t ha_fence_wait_ms(void);
/* How long this host has been in a pool without quorum, in ms (0: quorate,
 * or in no pool): since the last quorate view, or since the fence thread
 * started when it never saw one. */
int64_t ha_fence_unquorate_ms(void);
/* The armed VMs' names, comma-separated (new string), or NULL when none. */
char *ha_fence_armed_names(void);
/* {state: idle|active|fencing|off, armed: [names], deadline_ms, token_ms,
 *  consensus_ms, watchdog, guard, last: {time, reason, killed}} */
json_t *ha_fence_status(void);

#endif
