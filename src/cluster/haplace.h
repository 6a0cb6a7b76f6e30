/*
 * haplace.h - where and in which order the HA manager restarts a lost
 * host's VMs (haplace.c; docs/ha.md "Recovery"): a pure function over the
 * VMs to recover and the hosts that may take them, no daemon, no store, so
 * it is unit-tested on its own (tests/unit/test_haplace.c).
 *
 * Order: priority descending, then order ascending, then name.  Each
 * distinct (priority, order) pair is one *wave*, numbered from 0 in that
 * order: the manager starts a wave only once every VM of the previous one
 * runs and the previous wave's largest start_delay has passed.
 *
 * Placement, VM by VM in that order: the candidate hosts are those not
 * excluded for the VM (the lost host, the hosts it already failed on) that
 * have every shared pool its disks are in (and, for a VM of a restricted
 * group, are in the group); among them those of the highest group priority
 * (a host outside the VM's group ranks below every host in it), and among
 * those the one with the most free memory after what this same call already assigned to it (a
 * VM counts its memory + HAPLACE_OVERHEAD_MIB), ties by lowest node id.
 * A VM with replicated local disks has two candidates at most: the host of
 * its replica, only while the replica is in sync (haplace_replica_usable),
 * and the host its own disks are on (disk_host), unless excluded.  A
 * host whose free memory is unknown (free_mib < 0) counts as 0 free and is
 * never refused for memory; a host whose free memory is known and smaller
 * than the VM's need is not a candidate.  A VM no host can take gets
 * host = -1 and a reason.
 *
 * Ownership: every string is the caller's and is only read.  Threading:
 * none (reentrant).
 */
#ifndef CORRAL_CLUSTER_HAPLACE_H
#define CORRAL_CLUSTER_HAPLACE_H

#include <stddef.h>
#include <stdint.h>

#define HAPLACE_OVERHEAD_MIB 64
#define HAPLACE_MAX_HOSTS 64 /* hosts beyond it are not considered */

struct haplace_host {
	const char *name;
	uint32_t nodeid;
	int64_t free_mib;           /* < 0: unknown */
	const char *const *pools;   /* the shared pools this host has */
	size_t npools;
};

struct haplace_vm {
	const char *name;
	int priority, order;
	int64_t memory_mib;
	const char *const *pools;   /* the shared pools its disks are in */
	size_t npools;
	const char *const *exclude; /* host names it may not go to */
	size_t nexclude;
	/* its HA group (none: ngroup 0): the hosts with their priorities; a
	 * restricted group never places outside them */
	const char *const *group_hosts;
	const int *group_prio;
	size_t ngroup;
	int restricted;
	/* a VM whose local disks are replicated (docs/ha.md "Failover onto the
	 * replica"): replica_host names the host holding the replica (NULL: not
	 * replicated), replica_state the pool's record of it ("in-sync",
	 * "syncing", "outdated"; NULL: no record, replication ended) since
	 * replica_since_ms (wall).  Such a VM is placed on replica_host only,
	 * and only when the record says in-sync: anything else could lose
	 * writes the guest saw acknowledged (RPO 0); or on disk_host, where its
	 * own disks are (a host back after a failure, unless excluded). */
	const char *replica_host;
	const char *replica_state;
	int64_t replica_since_ms;
	const char *disk_host;      /* the host its local disks are on (its owner): always a candidate */
	/* results */
	int host;                   /* index into the hosts, or -1 */
	int wave;
	char reason[160];           /* when host is -1: why */
};

/* May a replicated VM restart on its replica (v's replica_* fields)?  true
 * when in sync; else false and why into reason (len bytes): "the replica on
 * h2 is outdated since 2026-12-07 05:01:02 UTC: not restarted there (RPO 0)". */
int haplace_replica_usable(const struct haplace_vm *v, char *reason, size_t len);

/* Sort vms[0..n) into recovery order (in place) and place each: the number placed. */
size_t haplace_run(struct haplace_vm *vms, size_t n, const struct haplace_host *hosts, size_t nh);

#endif
