/*
 * limits.c - a container's cgroup limits (see lxc.h, "limits.c"): which
 * cgroup files carry corral's CPU weight, CPU limit, memory limit and pid
 * limit on a v1 or v2 hierarchy, and writing and reading them on a running
 * container through liblxc (set_cgroup_item / get_cgroup_item, which ask
 * the container's monitor where its cgroup is: nothing for corrald to
 * remember, so they work the same after a corrald restart).  A start gets
 * the same files as lxc.cgroup.* / lxc.cgroup2.* config items (lxc.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lxc.h"
#include "lxc_internal.h"

#define CPU_PERIOD_US 100000u
/* v1 reports "no memory limit" as a huge page-rounded number */
#define V1_UNLIMITED (1ULL << 62)

static void add(struct ctrt_item *out, int *n, bool v2, const char *key, const char *fmt, uint64_t v)
{
	struct ctrt_item *it = &out[(*n)++];
	it->v2 = v2;
	snprintf(it->key, sizeof(it->key), "%s", key);
	snprintf(it->value, sizeof(it->value), fmt, v);
}

int ctrt_limit_items(const struct ctrt_limits *l, bool all, struct ctrt_item out[CTRT_MAX_ITEMS])
{
	int n = 0;
	if (l->memory_bytes || all) {
		if (l->v2_memory)
			add(out, &n, true, "memory.max", l->memory_bytes ? "%" PRIu64 : "max", l->memory_bytes);
		else
			add(out, &n, false, "memory.limit_in_bytes", l->memory_bytes ? "%" PRIu64 : "-1", l->memory_bytes);
	}
	if (l->cpu_weight || all) {
		unsigned w = l->cpu_weight ? l->cpu_weight : 100;
		if (l->v2_cpu)
			add(out, &n, true, "cpu.weight", "%" PRIu64, w);
		else
			add(out, &n, false, "cpu.shares", "%" PRIu64, (uint64_t)w * 1024 / 100 < 2 ? 2 : (uint64_t)w * 1024 / 100);
	}
	if (l->cpu_limit_centi || all) {
		uint64_t quota = (uint64_t)l->cpu_limit_centi * CPU_PERIOD_US / 100;
		if (l->v2_cpu) {
			if (l->cpu_limit_centi)
				add(out, &n, true, "cpu.max", "%" PRIu64 " 100000", quota);
			else
				add(out, &n, true, "cpu.max", "max 100000", 0);
		} else {
			add(out, &n, false, "cpu.cfs_period_us", "%" PRIu64, CPU_PERIOD_US);
			add(out, &n, false, "cpu.cfs_quota_us", l->cpu_limit_centi ? "%" PRIu64 : "-1", quota);
		}
	}
	if (l->pids || all)
		add(out, &n, l->v2_pids, "pids.max", l->pids ? "%" PRIu64 : "max", l->pids);
	return n;
}

int ctrt_limits_set(const char *lxcpath, const char *name, const struct ctrt_limits *l, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	struct ctrt_item it[CTRT_MAX_ITEMS];
	int n = ctrt_limit_items(l, true, it);
	if (!c)
		return -EIO;
	if (!c->is_running(c)) {
		buf_printf(err, "container '%s' is not running", name);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (c->set_cgroup_item(c, it[i].key, it[i].value))
			continue;
		bool mem = strncmp(it[i].key, "memory.", 7) == 0;
		buf_printf(err, "container '%s': the kernel refused %s = %s%s", name, it[i].key, it[i].value,
			   mem ? " (is the container using more memory than that?)" : "");
		return mem ? -EBUSY : -EIO;
	}
	return 0;
}

/* One cgroup file of the running container as a number; "max"/"-1"/huge: 0 (none). */
static bool get_u64(struct lxc_container *c, const char *key, uint64_t *out)
{
	char b[128];
	int n = c->get_cgroup_item(c, key, b, sizeof(b));
	if (n <= 0 || (size_t)n >= sizeof(b))
		return false;
	b[n] = '\0';
	if (strncmp(b, "max", 3) == 0 || strncmp(b, "-1", 2) == 0) {
		*out = 0;
		return true;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(b, &end, 10);
	if (errno || end == b)
		return false;
	*out = v >= V1_UNLIMITED ? 0 : v;
	return true;
}

int ctrt_limits_get(const char *lxcpath, const char *name, struct ctrt_limits *l, struct ctrt_usage *u,
		    struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	uint64_t v = 0, q = 0;
	char b[128];
	if (!c)
		return -EIO;
	if (!c->is_running(c)) {
		buf_printf(err, "container '%s' is not running", name);
		return -EINVAL;
	}
	*u = (struct ctrt_usage){ 0 };
	l->memory_bytes = l->pids = 0;
	l->cpu_weight = l->cpu_limit_centi = 0;
	get_u64(c, l->v2_memory ? "memory.max" : "memory.limit_in_bytes", &l->memory_bytes);
	u->has_memory_used = get_u64(c, l->v2_memory ? "memory.current" : "memory.usage_in_bytes", &u->memory_used);
	get_u64(c, "pids.max", &l->pids);
	u->has_pids_current = get_u64(c, "pids.current", &u->pids_current);
	if (l->v2_cpu) {
		if (get_u64(c, "cpu.weight", &v))
			l->cpu_weight = (unsigned)v;
		int n = c->get_cgroup_item(c, "cpu.max", b, sizeof(b));
		if (n > 0 && (size_t)n < sizeof(b)) {
			unsigned long long quota, period;
			b[n] = '\0';
			if (sscanf(b, "%llu %llu", &quota, &period) == 2 && period)
				l->cpu_limit_centi = (unsigned)(quota * 100 / period);
		}
	} else {
		if (get_u64(c, "cpu.shares", &v))
			l->cpu_weight = (unsigned)((v * 100 + 512) / 1024);
		if (get_u64(c, "cpu.cfs_quota_us", &q) && q && get_u64(c, "cpu.cfs_period_us", &v) && v)
			l->cpu_limit_centi = (unsigned)(q * 100 / v);
	}
	return 0;
}
