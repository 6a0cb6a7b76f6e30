/*
 * v2.c - the cgroup v2 unified hierarchy.
 *
 * Controllers are enabled top-down: a group can only use a controller its
 * parent lists in cgroup.subtree_control.  So the root's and <parent>'s
 * subtree_control get "+cpu +io +memory +pids" (those the root offers).
 * <parent> itself never holds a process (the "no internal processes" rule).
 * A cgroup2 mount without controllers (the hybrid layout's tracking tree)
 * still holds groups: then nothing is enabled.  Accounting: CPU time from
 * cpu.stat usage_usec (present without the cpu controller), memory from
 * memory.current (only with the memory controller), OOM kills from
 * memory.events' oom_kill.  Limits: cpu.weight (default 100), cpu.max
 * ("QUOTA PERIOD" or "max PERIOD"), cpuset.cpus (empty: the parent's),
 * memory.max (bytes or "max"; above usage the kernel reclaims, and kills
 * when it cannot).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup_internal.h"
#include "util/common.h"

static const char *const v2_wanted[] = { "cpu", "cpuset", "io", "memory", "pids" };

static int v2_prepare(const struct cgroup_hier *h, const char *parent_dir, struct buf *err)
{
	struct buf want = BUF_INIT;
	int r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(v2_wanted); i++) {
		if (!cgroup_list_has(h->controllers, v2_wanted[i]))
			continue;
		buf_printf(&want, "%s+%s", want.len ? " " : "", v2_wanted[i]);
	}
	if (want.len) {
		const char *dirs[] = { h->mount, parent_dir };
		for (size_t i = 0; i < ARRAY_SIZE(dirs) && r == 0; i++) {
			if ((r = cgroup_write(dirs[i], "cgroup.subtree_control", want.s)) < 0)
				buf_printf(err, "cannot enable cgroup controllers (%s) in %s: %s", want.s, dirs[i],
					   r == -EBUSY ? "processes live in that group" : strerror(-r));
		}
	}
	buf_release(&want);
	return r;
}

static void v2_stats(const struct cgroup_hier *h, const char *dir, struct cgroup_stats *out)
{
	uint64_t usec;
	(void)h;
	if (cgroup_read_u64(dir, "cpu.stat", "usage_usec", &usec) == 0) {
		out->cpu_ns = usec * 1000;
		out->has_cpu = true;
	}
	if (cgroup_read_u64(dir, "memory.current", NULL, &out->memory_bytes) == 0)
		out->has_memory = true;
	if (cgroup_read_u64(dir, "memory.events", "oom_kill", &out->oom_kills) == 0)
		out->has_oom = true;
}

static int v2_set_limits(const struct cgroup_hier *h, const char *dir, const char *pdir, const struct cgroup_limits *l,
			 unsigned *did, struct buf *err)
{
	char v[64];
	int r;
	(void)pdir;
	if (cgroup_list_has(h->controllers, "memory") && !(*did & CGROUP_DID_MEMORY)) {
		if (l->memory_max)
			snprintf(v, sizeof(v), "%" PRIu64, l->memory_max);
		else
			snprintf(v, sizeof(v), "max");
		if ((r = cgroup_write_err(dir, "memory.max", v, err)) < 0)
			return r;
		*did |= CGROUP_DID_MEMORY;
	}
	if (cgroup_list_has(h->controllers, "cpu") && !(*did & CGROUP_DID_CPU)) {
		uint64_t period = l->cpu_period_us ? l->cpu_period_us : CGROUP_CPU_PERIOD_US;
		snprintf(v, sizeof(v), "%u", l->cpu_weight ? l->cpu_weight : 100);
		if ((r = cgroup_write_err(dir, "cpu.weight", v, err)) < 0)
			return r;
		if (l->cpu_quota_us)
			snprintf(v, sizeof(v), "%" PRIu64 " %" PRIu64, l->cpu_quota_us, period);
		else
			snprintf(v, sizeof(v), "max %" PRIu64, period);
		if ((r = cgroup_write_err(dir, "cpu.max", v, err)) < 0)
			return r;
		*did |= CGROUP_DID_CPU;
	}
	if (cgroup_list_has(h->controllers, "cpuset") && !(*did & CGROUP_DID_CPUSET)) {
		/* "\n" empties the list (a zero-length write would not reach the kernel) */
		if ((r = cgroup_write_err(dir, "cpuset.cpus", l->cpuset[0] ? l->cpuset : "\n", err)) < 0)
			return r;
		*did |= CGROUP_DID_CPUSET;
	}
	return 0;
}

static void v2_get_limits(const struct cgroup_hier *h, const char *dir, struct cgroup_limits *out)
{
	char s[128];
	uint64_t v;
	if (cgroup_list_has(h->controllers, "memory") && cgroup_read_line(dir, "memory.max", s, sizeof(s)) == 0 &&
	    strcmp(s, "max") != 0 && cgroup_read_u64(dir, "memory.max", NULL, &v) == 0)
		out->memory_max = v;
	if (cgroup_list_has(h->controllers, "cpu")) {
		unsigned long long q, p;
		if (cgroup_read_u64(dir, "cpu.weight", NULL, &v) == 0)
			out->cpu_weight = (unsigned)v;
		if (cgroup_read_line(dir, "cpu.max", s, sizeof(s)) == 0) {
			if (sscanf(s, "%llu %llu", &q, &p) == 2) {
				out->cpu_quota_us = q;
				out->cpu_period_us = p;
			} else if (sscanf(s, "max %llu", &p) == 1) {
				out->cpu_period_us = p;
			}
		}
	}
	/* what the group really runs on: its own list or, when empty, the parent's */
	if (cgroup_list_has(h->controllers, "cpuset"))
		cgroup_read_line(dir, "cpuset.cpus.effective", out->cpuset, sizeof(out->cpuset));
}

const struct cgroup_ops cgroup_v2_ops = {
	.name = "v2",
	.prepare = v2_prepare,
	.stats = v2_stats,
	.set_limits = v2_set_limits,
	.get_limits = v2_get_limits,
};
