/*
 * haplan.h - HA admission control, "failures to tolerate" (haplan.c;
 * docs/ha.md "Failures to tolerate", design memo 3.6, XenServer's
 * plan_always_possible): whether, for every set of up to N failed hosts,
 * the protected VMs of the failed hosts fit into the memory the surviving
 * hosts have left.  A pure function over numbers the caller takes from the
 * pool's replicated configuration, so every member computes the same
 * answer; unit-tested in tests/unit/test_haplan.c.
 *
 * Model: a host's free memory is its capacity less what the protected VMs
 * it owns need (need = configured memory + HAPLAN_OVERHEAD_MIB).  For one
 * set of failed hosts, the failed hosts' VMs are taken biggest first (ties
 * by name) and each goes to the first surviving host (in the caller's
 * order) with enough free memory left (first-fit decreasing); the set is
 * survivable when every VM found a host.  Hosts flagged `down` (in
 * maintenance: they take nothing and their VMs must move) count as failed
 * in every set, on top of the N.  A host with unknown capacity (< 0) has
 * none.  Sets are tried by size, then in the order of the hosts
 * (lexicographic over their indices); the first set that is not survivable
 * is reported.
 *
 * Ownership: every string is the caller's.  Threading: none (reentrant).
 */
#ifndef CORRAL_CLUSTER_HAPLAN_H
#define CORRAL_CLUSTER_HAPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HAPLAN_OVERHEAD_MIB 64
#define HAPLAN_MAX_HOSTS 32
#define HAPLAN_MAX_SETS 1000000 /* sets to try at most: beyond it the check refuses (-E2BIG) */

struct haplan_host {
	const char *name;
	int64_t capacity_mib; /* < 0: unknown (none) */
	bool down;            /* in maintenance: failed in every set */
};

struct haplan_vm {
	const char *name;
	int64_t memory_mib; /* configured; the plan adds HAPLAN_OVERHEAD_MIB */
	int host;           /* index of its owner among the hosts; < 0: none (not counted) */
};

/* Why a plan does not hold: the first failed set and the VM that found no host. */
struct haplan_fail {
	int failed[HAPLAN_MAX_HOSTS]; /* host indices of the set, down hosts included */
	size_t nfailed;
	const char *vm;          /* the VM that did not fit */
	int64_t need_mib;        /* its need (memory + overhead) */
	int64_t largest_free_mib; /* the most free memory a survivor had left when it was tried (-1: no survivor) */
};

/* 0 when every set of up to n failed hosts (plus the down ones) is
 * survivable; -ENOSPC with *why for the first set that is not; -E2BIG when
 * that is more than HAPLAN_MAX_SETS sets to try; -EINVAL for more than
 * HAPLAN_MAX_HOSTS hosts. */
int haplan_check(const struct haplan_host *hosts, size_t nh, const struct haplan_vm *vms, size_t nv, unsigned n,
		 struct haplan_fail *why);
/* The largest n (0..number of hosts not down, less one) for which haplan_check holds; -1 when even 0 does not
 * (the down hosts' VMs do not fit now). */
int haplan_max_failures(const struct haplan_host *hosts, size_t nh, const struct haplan_vm *vms, size_t nv);

#endif
