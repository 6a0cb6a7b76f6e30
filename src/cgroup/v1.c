/*
 * v1.c - cgroup v1 hierarchies: one mount per controller (or a few
 * comounted, "cpu,cpuacct"), plus named ones like name=systemd.
 *
 * A group needs no preparing (cpuset, whose new groups start with no CPUs
 * and refuse tasks, is not among the controllers used).  Accounting: CPU
 * time from cpuacct.usage (ns), memory from memory.usage_in_bytes (page
 * cache included, as v1 counts it).
 */
#include <string.h>

#include "cgroup/cgroup_internal.h"
#include "util/common.h"

static int v1_prepare(const struct cgroup_hier *h, const char *parent_dir, struct buf *err)
{
	(void)h;
	(void)parent_dir;
	(void)err;
	return 0;
}

static void v1_stats(const struct cgroup_hier *h, const char *dir, struct cgroup_stats *out)
{
	if (cgroup_list_has(h->controllers, "cpuacct") && cgroup_read_u64(dir, "cpuacct.usage", NULL, &out->cpu_ns) == 0)
		out->has_cpu = true;
	if (cgroup_list_has(h->controllers, "memory") &&
	    cgroup_read_u64(dir, "memory.usage_in_bytes", NULL, &out->memory_bytes) == 0)
		out->has_memory = true;
}

const struct cgroup_ops cgroup_v1_ops = { .name = "v1", .prepare = v1_prepare, .stats = v1_stats };
