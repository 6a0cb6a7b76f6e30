/*
 * haplan.c - HA admission control (see haplan.h): every set of up to N
 * failed hosts enumerated in order, and first-fit decreasing of the failed
 * hosts' VMs into the survivors' free memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/haplan.h"

struct item {
	const char *name;
	int64_t need;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->need != y->need)
		return x->need > y->need ? -1 : 1;
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* Whether the set (failed[i] true) is survivable; fills why when not. */
static bool survivable(const struct haplan_host *hosts, size_t nh, const struct haplan_vm *vms, size_t nv,
		       const bool *failed, struct item *items, struct haplan_fail *why)
{
	int64_t free_mib[HAPLAN_MAX_HOSTS];
	size_t ni = 0;
	for (size_t h = 0; h < nh; h++)
		free_mib[h] = hosts[h].capacity_mib < 0 ? 0 : hosts[h].capacity_mib;
	for (size_t i = 0; i < nv; i++) {
		if (vms[i].host < 0 || (size_t)vms[i].host >= nh)
			continue;
		int64_t need = vms[i].memory_mib + HAPLAN_OVERHEAD_MIB;
		if (failed[vms[i].host])
			items[ni++] = (struct item){ vms[i].name, need };
		else
			free_mib[vms[i].host] -= need;
	}
	qsort(items, ni, sizeof(items[0]), item_cmp);
	for (size_t i = 0; i < ni; i++) {
		int64_t best = -1;
		size_t h;
		for (h = 0; h < nh; h++) {
			if (failed[h])
				continue;
			if (free_mib[h] > best)
				best = free_mib[h];
			if (free_mib[h] >= items[i].need)
				break;
		}
		if (h == nh) {
			if (why) {
				why->vm = items[i].name;
				why->need_mib = items[i].need;
				why->largest_free_mib = best;
			}
			return false;
		}
		free_mib[h] -= items[i].need;
	}
	return true;
}

/* C(n, k), saturating at limit + 1. */
static uint64_t choose(unsigned n, unsigned k, uint64_t limit)
{
	uint64_t r = 1;
	for (unsigned i = 1; i <= k; i++) {
		r = r * (n - k + i) / i;
		if (r > limit)
			return limit + 1;
	}
	return r;
}

int haplan_check(const struct haplan_host *hosts, size_t nh, const struct haplan_vm *vms, size_t nv, unsigned n,
		 struct haplan_fail *why)
{
	if (nh > HAPLAN_MAX_HOSTS)
		return -EINVAL;
	int up[HAPLAN_MAX_HOSTS];
	unsigned nup = 0;
	for (size_t h = 0; h < nh; h++)
		if (!hosts[h].down)
			up[nup++] = (int)h;
	if (n > nup)
		n = nup;
	uint64_t sets = 0;
	for (unsigned k = 0; k <= n; k++) {
		sets += choose(nup, k, HAPLAN_MAX_SETS);
		if (sets > HAPLAN_MAX_SETS)
			return -E2BIG;
	}
	struct item *items = calloc(nv ? nv : 1, sizeof(*items));
	if (!items)
		return -ENOMEM;
	int rc = 0;
	for (unsigned k = 0; k <= n && rc == 0; k++) {
		unsigned idx[HAPLAN_MAX_HOSTS];
		for (unsigned i = 0; i < k; i++)
			idx[i] = i;
		for (;;) {
			bool failed[HAPLAN_MAX_HOSTS] = { 0 };
			for (size_t h = 0; h < nh; h++)
				failed[h] = hosts[h].down;
			for (unsigned i = 0; i < k; i++)
				failed[up[idx[i]]] = true;
			if (!survivable(hosts, nh, vms, nv, failed, items, why)) {
				if (why) {
					why->nfailed = 0;
					for (size_t h = 0; h < nh; h++)
						if (failed[h])
							why->failed[why->nfailed++] = (int)h;
				}
				rc = -ENOSPC;
				break;
			}
			/* the next combination of k among nup */
			int i = (int)k - 1;
			while (i >= 0 && idx[i] == nup - k + (unsigned)i)
				i--;
			if (i < 0)
				break;
			idx[i]++;
			for (unsigned j = (unsigned)i + 1; j < k; j++)
				idx[j] = idx[j - 1] + 1;
		}
	}
	free(items);
	return rc;
}

int haplan_max_failures(const struct haplan_host *hosts, size_t nh, const struct haplan_vm *vms, size_t nv)
{
	unsigned nup = 0;
	for (size_t h = 0; h < nh; h++)
		nup += !hosts[h].down;
	int best = -1;
	for (unsigned n = 0; n < nup || (n == 0 && nup == 0); n++) {
		if (haplan_check(hosts, nh, vms, nv, n, NULL) != 0)
			break;
		best = (int)n;
		if (nup == 0)
			break;
	}
	return best;
}
