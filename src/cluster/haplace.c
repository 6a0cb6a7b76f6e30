/*
 * haplace.c - the HA manager's recovery order and placement (see
 * haplace.h): a sort and a greedy spread over the hosts' free memory,
 * charged with each VM as it is assigned so one recovery does not pile
 * every VM onto the host that looked emptiest at the start.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/haplace.h"

static int vm_cmp(const void *a, const void *b)
{
	const struct haplace_vm *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static bool in(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] && s && strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* The VM's group priority of host name: its priority in the group, -1 when
 * not in it (or the VM has no group: 0 for every host). */
static int group_prio(const struct haplace_vm *v, const char *name)
{
	if (!v->ngroup)
		return 0;
	for (size_t i = 0; i < v->ngroup; i++)
		if (v->group_hosts[i] && name && strcmp(v->group_hosts[i], name) == 0)
			return v->group_prio[i];
	return -1;
}

int haplace_replica_usable(const struct haplace_vm *v, char *reason, size_t len)
{
	const char *st = v->replica_state;
	if (!v->replica_host)
		return 1;
	if (st && strcmp(st, "in-sync") == 0)
		return 1;
	if (!st) {
		snprintf(reason, len, "its local disks have no replica any more (replication to %s ended): not restarted (RPO 0)",
			 v->replica_host);
		return 0;
	}
	char when[40] = "?";
	if (v->replica_since_ms > 0) {
		time_t t = (time_t)(v->replica_since_ms / 1000);
		struct tm tm;
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	}
	snprintf(reason, len, "the replica on %s is %s since %s: not restarted there (RPO 0)", v->replica_host,
		 strcmp(st, "syncing") == 0 || strcmp(st, "outdated") == 0 ? st : "not in sync", when);
	return 0;
}

size_t haplace_run(struct haplace_vm *vms, size_t n, const struct haplace_host *hosts, size_t nh)
{
	int64_t used[HAPLACE_MAX_HOSTS] = { 0 };
	size_t placed = 0;
	int wave = -1;
	if (nh > HAPLACE_MAX_HOSTS)
		nh = HAPLACE_MAX_HOSTS;
	if (n > 1)
		qsort(vms, n, sizeof(*vms), vm_cmp);
	for (size_t i = 0; i < n; i++) {
		struct haplace_vm *v = &vms[i];
		if (i == 0 || v->priority != vms[i - 1].priority || v->order != vms[i - 1].order)
			wave++;
		v->wave = wave;
		v->host = -1;
		v->reason[0] = '\0';
		int64_t need = v->memory_mib + HAPLACE_OVERHEAD_MIB;
		int best = -1;
		int64_t best_free = 0;
		int best_prio = -2;
		bool excluded_all = true, pool_missing = false, too_small = false, outside = false;
		char why_not[160] = "";
		bool usable = haplace_replica_usable(v, why_not, sizeof(why_not)), replica_here = false;
		for (size_t h = 0; h < nh; h++) {
			if (in(v->exclude, v->nexclude, hosts[h].name))
				continue;
			if (v->replica_host) { /* its disks are only on its own host and its replica's */
				const char *hn = hosts[h].name ? hosts[h].name : "";
				bool own = v->disk_host && strcmp(v->disk_host, hn) == 0;
				if (!own && (!usable || strcmp(v->replica_host, hn) != 0))
					continue;
			}
			replica_here = true;
			int gp = group_prio(v, hosts[h].name);
			if (v->restricted && gp < 0) {
				outside = true;
				continue;
			}
			excluded_all = false;
			bool pools_ok = true;
			for (size_t p = 0; p < v->npools; p++)
				pools_ok &= in(hosts[h].pools, hosts[h].npools, v->pools[p]);
			if (!pools_ok) {
				pool_missing = true;
				continue;
			}
			int64_t left = (hosts[h].free_mib < 0 ? 0 : hosts[h].free_mib) - used[h];
			if (hosts[h].free_mib >= 0 && left < need) {
				too_small = true;
				continue;
			}
			if (best < 0 || gp > best_prio ||
			    (gp == best_prio &&
			     (left > best_free || (left == best_free && hosts[h].nodeid < hosts[best].nodeid)))) {
				best = (int)h;
				best_free = left;
				best_prio = gp;
			}
		}
		if (best < 0 && v->replica_host && !replica_here) {
			if (!usable)
				snprintf(v->reason, sizeof(v->reason), "%s", why_not);
			else
				snprintf(v->reason, sizeof(v->reason),
					 "its replica is on %s, which cannot take it (not online, in maintenance, or it failed "
					 "there)",
					 v->replica_host);
			continue;
		}
		if (best < 0) {
			snprintf(v->reason, sizeof(v->reason), "%s",
				 excluded_all && outside ? "no host of its restricted group is online (or it failed on every one)"
				 : excluded_all ? "no other host is online in the pool (or it failed on every one)"
				 : too_small    ? "no host has enough free memory"
				 : pool_missing ? "no host has its shared pools"
						: "no host can take it");
			continue;
		}
		used[best] += need;
		v->host = best;
		placed++;
	}
	return placed;
}
