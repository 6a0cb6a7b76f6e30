/*
 * v1.c - cgroup v1 hierarchies: one mount per controller (or a few
 * comounted, "cpu,cpuacct"), plus named ones like name=systemd.
 *
 * Preparing: only cpuset needs it.  Its new groups start with empty
 * cpuset.cpus and cpuset.mems and refuse tasks, so <parent> and each VM
 * group get their parent's.  Accounting: CPU time from cpuacct.usage (ns),
 * memory from memory.usage_in_bytes (page cache included, as v1 counts it),
 * OOM kills from memory.oom_control's oom_kill.  Limits: cpu.shares
 * (weight * 1024 / 100: v1's default 1024 is v2's 100), cpu.cfs_period_us
 * and cpu.cfs_quota_us (-1: none), cpuset.cpus, memory.limit_in_bytes (-1:
 * none; the kernel answers EBUSY when usage cannot be pushed below it).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/cgroup_internal.h"
#include "util/common.h"

#define V1_SHARES_DEFAULT 1024
#define V1_UNLIMITED (INT64_MAX / 4096 * 4096) /* what memory.limit_in_bytes reads as "none" (page-rounded) */

/* Give dir the parent's CPUs and memory nodes where it has none. */
static int cpuset_inherit(const char *dir, const char *from, struct buf *err)
{
	static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char cur[CGROUP_CPUSET_MAX], up[CGROUP_CPUSET_MAX];
		int r;
		if (cgroup_read_line(dir, files[i], cur, sizeof(cur)) == 0 && cur[0])
			continue;
		if ((r = cgroup_read_line(from, files[i], up, sizeof(up))) < 0) {
			buf_printf(err, "cannot read %s/%s: %s", from, files[i], strerror(-r));
			return r;
		}
		if ((r = cgroup_write_err(dir, files[i], up, err)) < 0)
			return r;
	}
	return 0;
}

static int v1_prepare(const struct cgroup_hier *h, const char *parent_dir, struct buf *err)
{
	if (cgroup_list_has(h->controllers, "cpuset"))
		return cpuset_inherit(parent_dir, h->mount, err);
	return 0;
}

static int v1_init_group(const struct cgroup_hier *h, const char *dir, const char *pdir, struct buf *err)
{
	if (cgroup_list_has(h->controllers, "cpuset"))
		return cpuset_inherit(dir, pdir, err);
	return 0;
}

static void v1_stats(const struct cgroup_hier *h, const char *dir, struct cgroup_stats *out)
{
	if (cgroup_list_has(h->controllers, "cpuacct") && cgroup_read_u64(dir, "cpuacct.usage", NULL, &out->cpu_ns) == 0)
		out->has_cpu = true;
	if (cgroup_list_has(h->controllers, "memory") &&
	    cgroup_read_u64(dir, "memory.usage_in_bytes", NULL, &out->memory_bytes) == 0)
		out->has_memory = true;
	if (cgroup_list_has(h->controllers, "memory") &&
	    cgroup_read_u64(dir, "memory.oom_control", "oom_kill", &out->oom_kills) == 0)
		out->has_oom = true;
}

static int v1_set_limits(const struct cgroup_hier *h, const char *dir, const char *pdir, const struct cgroup_limits *l,
			 unsigned *did, struct buf *err)
{
	char v[64];
	int r;
	if (cgroup_list_has(h->controllers, "memory") && !(*did & CGROUP_DID_MEMORY)) {
		if (l->memory_max)
			snprintf(v, sizeof(v), "%" PRIu64, l->memory_max);
		else
			snprintf(v, sizeof(v), "-1");
		if ((r = cgroup_write(dir, "memory.limit_in_bytes", v)) < 0) {
			uint64_t used = 0;
			cgroup_read_u64(dir, "memory.usage_in_bytes", NULL, &used);
			if (r == -EBUSY)
				buf_printf(err, "the memory limit (%" PRIu64 " MiB) is below what the VM's QEMU uses now "
					   "(%" PRIu64 " MiB) and the kernel cannot reclaim enough",
					   l->memory_max >> 20, used >> 20);
			else
				buf_printf(err, "cannot set memory.limit_in_bytes of %s: %s", dir, strerror(-r));
			return r;
		}
		*did |= CGROUP_DID_MEMORY;
	}
	if (cgroup_list_has(h->controllers, "cpu") && !(*did & CGROUP_DID_CPU)) {
		uint64_t shares = l->cpu_weight ? (uint64_t)l->cpu_weight * V1_SHARES_DEFAULT / 100 : V1_SHARES_DEFAULT;
		uint64_t period = l->cpu_period_us ? l->cpu_period_us : CGROUP_CPU_PERIOD_US;
		snprintf(v, sizeof(v), "%" PRIu64, shares < 2 ? 2 : shares);
		if ((r = cgroup_write_err(dir, "cpu.shares", v, err)) < 0)
			return r;
		/* Lift the quota before changing the period: a quota is checked against it. */
		if ((r = cgroup_write_err(dir, "cpu.cfs_quota_us", "-1", err)) < 0)
			return r;
		snprintf(v, sizeof(v), "%" PRIu64, period);
		if ((r = cgroup_write_err(dir, "cpu.cfs_period_us", v, err)) < 0)
			return r;
		if (l->cpu_quota_us) {
			snprintf(v, sizeof(v), "%" PRIu64, l->cpu_quota_us);
			if ((r = cgroup_write_err(dir, "cpu.cfs_quota_us", v, err)) < 0)
				return r;
		}
		*did |= CGROUP_DID_CPU;
	}
	if (cgroup_list_has(h->controllers, "cpuset") && !(*did & CGROUP_DID_CPUSET)) {
		char up[CGROUP_CPUSET_MAX];
		const char *cpus = l->cpuset;
		if (!cpus[0]) {
			if ((r = cgroup_read_line(pdir, "cpuset.cpus", up, sizeof(up))) < 0) {
				buf_printf(err, "cannot read %s/cpuset.cpus: %s", pdir, strerror(-r));
				return r;
			}
			cpus = up;
		}
		if ((r = cgroup_write_err(dir, "cpuset.cpus", cpus, err)) < 0)
			return r;
		*did |= CGROUP_DID_CPUSET;
	}
	return 0;
}

static void v1_get_limits(const struct cgroup_hier *h, const char *dir, struct cgroup_limits *out)
{
	uint64_t v;
	char s[64];
	if (cgroup_list_has(h->controllers, "memory") && cgroup_read_u64(dir, "memory.limit_in_bytes", NULL, &v) == 0)
		out->memory_max = v >= (uint64_t)V1_UNLIMITED ? 0 : v;
	if (cgroup_list_has(h->controllers, "cpu")) {
		if (cgroup_read_u64(dir, "cpu.shares", NULL, &v) == 0)
			out->cpu_weight = (unsigned)((v * 100 + V1_SHARES_DEFAULT / 2) / V1_SHARES_DEFAULT);
		if (cgroup_read_u64(dir, "cpu.cfs_period_us", NULL, &v) == 0)
			out->cpu_period_us = v;
		/* "-1" does not parse as unsigned: no quota */
		if (cgroup_read_line(dir, "cpu.cfs_quota_us", s, sizeof(s)) == 0 && s[0] != '-' &&
		    cgroup_read_u64(dir, "cpu.cfs_quota_us", NULL, &v) == 0)
			out->cpu_quota_us = v;
	}
	if (cgroup_list_has(h->controllers, "cpuset"))
		cgroup_read_line(dir, "cpuset.cpus", out->cpuset, sizeof(out->cpuset));
}

const struct cgroup_ops cgroup_v1_ops = {
	.name = "v1",
	.prepare = v1_prepare,
	.init_group = v1_init_group,
	.stats = v1_stats,
	.set_limits = v1_set_limits,
	.get_limits = v1_get_limits,
};
