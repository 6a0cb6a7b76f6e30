/*
 * cgroup.h - one control group per VM, outside corrald's own group.
 *
 * A VM's QEMU must not live in corrald's cgroup: a service manager that
 * restarts corrald kills everything in its group, and per-VM accounting and
 * limits need a group of their own.  corral makes `<parent>/<name>` (e.g.
 * corral/vm-<uuid>) at the root of every hierarchy it uses, whatever group
 * corrald itself is in:
 *   - cgroup v2 (unified): the one cgroup2 mount; the controllers the host
 *     offers among cpu, io, memory and pids are enabled for <parent>'s
 *     children (cgroup.subtree_control of the root and of <parent>).
 *   - cgroup v1: every mount carrying cpu, cpuacct, memory, blkio or pids,
 *     and the name=systemd hierarchy (what systemd tracks a service by).
 *   - hybrid: both (v1 controllers plus a cgroup2 mount, often without
 *     controllers, systemd's "unified" tracking tree).
 * Each hierarchy is handled by a backend behind struct cgroup_ops (v1.c,
 * v2.c): what differs is preparing the parent and where accounting lives;
 * creating, entering, listing and removing groups is the same cgroupfs.
 *
 * Placing QEMU: cgroup_vm_create() opens each hierarchy's cgroup.procs of the
 * new group; cgroup_vm_enter() writes the caller itself into all of them and
 * is async-signal-safe, so the command runner's pre-exec hook calls it in
 * the child before exec: QEMU never runs an instruction in corrald's group.
 *
 * Limits: cgroup_vm_set_limits() writes a struct cgroup_limits through one
 * op per backend (v1: cpu.shares, cpu.cfs_quota_us/cfs_period_us,
 * cpuset.cpus, memory.limit_in_bytes; v2: cpu.weight, cpu.max, cpuset.cpus,
 * memory.max), the memory limit first (the one the kernel may refuse);
 * every field is written, so a field at its default undoes an earlier
 * limit.  The runtime calls it after cgroup_vm_create() and before QEMU is
 * started, so QEMU never runs unlimited; again on re-attach and for a live
 * change.  cgroup_vm_get_limits() reads back what the kernel holds.  A
 * limit asked for on a host without its controller is -ENOTSUP.
 * v1's cpuset controller starts a new group with no CPUs and no memory
 * nodes (it would refuse tasks): cgroup_vm_create() fills them from the
 * parent.  Stats include how often the kernel's OOM killer struck in the
 * group (v1 memory.oom_control, v2 memory.events "oom_kill").
 *
 * Errors: 0 or -errno with one sentence appended to err.
 * Threading: a struct cgroup_host is read-only after detection; calls for
 * different names may run concurrently, calls for one name are serialised
 * by the caller (the VM's job lock).
 */
#ifndef CORRAL_CGROUP_CGROUP_H
#define CORRAL_CGROUP_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define CGROUP_MAX_HIER 16

enum cgroup_layout {
	CGROUP_NONE,   /* no usable hierarchy: VMs run in corrald's group */
	CGROUP_V1,
	CGROUP_V2,
	CGROUP_HYBRID,
};

struct cgroup_stats {
	bool has_cpu, has_memory, has_oom;
	uint64_t cpu_ns;        /* CPU time used by the group */
	uint64_t memory_bytes;  /* memory charged to the group now */
	uint64_t oom_kills;     /* processes the OOM killer killed in the group */
};

#define CGROUP_CPU_PERIOD_US 100000
#define CGROUP_CPUSET_MAX 256

struct cgroup_limits {
	unsigned cpu_weight;            /* 1..10000 (v2 scale; v1 shares = weight * 1024 / 100); 0: default */
	uint64_t cpu_quota_us;          /* CPU time per period; 0: no limit */
	uint64_t cpu_period_us;         /* 0: CGROUP_CPU_PERIOD_US */
	char cpuset[CGROUP_CPUSET_MAX]; /* "": every CPU the parent has */
	uint64_t memory_max;            /* bytes; 0: no limit */
};

struct cgroup_ops; /* a backend (cgroup_internal.h) */

struct cgroup_hier {
	const struct cgroup_ops *ops;
	char mount[256];        /* where the hierarchy is mounted */
	char controllers[128];  /* v1: the mount's controllers ("cpu,cpuacct", "name=systemd");
				   v2: the root's cgroup.controllers, space-separated */
};

struct cgroup_host {
	enum cgroup_layout layout;
	char parent[64];        /* groups are <mount>/<parent>/<name> */
	struct cgroup_hier h[CGROUP_MAX_HIER];
	int n;
};

/* Read /proc/mounts and fill host; parent names the directory for VM groups. */
int cgroup_host_detect(struct cgroup_host *host, const char *parent, struct buf *err);
/* The same from a /proc/mounts text (tests); v2 controllers are read from the mount. */
int cgroup_host_parse(struct cgroup_host *host, const char *mounts, const char *parent, struct buf *err);
const char *cgroup_layout_name(enum cgroup_layout l);
/* "v1: cpu,cpuacct memory ...; v2: /sys/fs/cgroup/unified (no controllers)" for logs and host info. */
char *cgroup_host_describe(const struct cgroup_host *host);

/* Where `controller` ("memory", "cpu", "pids") is: 1 on a v1 hierarchy (also
 * on a hybrid host that has it there), 2 on the unified one, 0 nowhere.
 * liblxc makes the same choice for a container's limits. */
int cgroup_host_controller_version(const struct cgroup_host *host, const char *controller);

/* A VM's group, open for entering. */
struct cgroup_vm {
	int procs[CGROUP_MAX_HIER]; /* cgroup.procs of the group in each hierarchy, or -EBADF */
	int n;
};
#define CGROUP_VM_INIT { .n = 0 }

/* Create <parent>/<name> in every hierarchy (existing is fine) and open it for entering. */
int cgroup_vm_create(const struct cgroup_host *host, const char *name, struct cgroup_vm *out, struct buf *err);
/* Move the calling process into the group.  Async-signal-safe (pre-exec hooks).  0 or -errno. */
int cgroup_vm_enter(const struct cgroup_vm *g);
void cgroup_vm_release(struct cgroup_vm *g);

/* The pids in the group (first hierarchy), sorted; *pids is malloc'ed. */
int cgroup_vm_pids(const struct cgroup_host *host, const char *name, pid_t **pids, size_t *n, struct buf *err);
/* Remove the group everywhere: -EBUSY while a process is still in it; a missing group is fine. */
int cgroup_vm_remove(const struct cgroup_host *host, const char *name, struct buf *err);
/* Write every field of l to the group (which exists).  0, -ENOTSUP (a
 * controller missing), -EBUSY (memory in use above the new limit), -errno. */
int cgroup_vm_set_limits(const struct cgroup_host *host, const char *name, const struct cgroup_limits *l,
			 struct buf *err);
/* What the kernel holds for the group (fields of missing controllers stay 0). */
int cgroup_vm_get_limits(const struct cgroup_host *host, const char *name, struct cgroup_limits *out,
			 struct buf *err);
/* Accounting of the group (what the hierarchies offer). */
int cgroup_vm_stats(const struct cgroup_host *host, const char *name, struct cgroup_stats *out, struct buf *err);

#endif
