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
 * memory.current (only with the memory controller).
 */
#include <errno.h>
#include <string.h>

#include "cgroup/cgroup_internal.h"
#include "util/common.h"

static const char *const v2_wanted[] = { "cpu", "io", "memory", "pids" };

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
}

const struct cgroup_ops cgroup_v2_ops = { .name = "v2", .prepare = v2_prepare, .stats = v2_stats };
