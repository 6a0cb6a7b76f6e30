/*
 * vmlimits.h - the resource limits part of a VM definition: CPU weight,
 * CPU limit, CPU pinning, the memory hard limit and balloon target
 * ("limits" in the definition's JSON) and each disk's I/O limits ("io" in
 * a disk).  docs/limits.md says how each maps onto cgroups and QEMU.
 *
 * Parsing validates everything that does not need the host (ranges, the
 * cpuset's syntax, bursts above their rates); whether a cpuset names CPUs
 * the host has is checked where it is applied (cpuset_host_check).  A
 * field left out keeps the host's default; the structs below are plain
 * values apart from vm_limits.cpuset, owned by the struct
 * (vmlimits_release).  No I/O except cpuset_host_check.
 */
#ifndef CORRAL_CORE_VMLIMITS_H
#define CORRAL_CORE_VMLIMITS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define VM_MAX_CPU_WEIGHT 10000
#define VM_MAX_CPUSET_CPU 1023
#define VM_MIN_IOPS 1
#define VM_MAX_IOPS 10000000LL
#define VM_MIN_BPS 4096
#define VM_MAX_BPS (1LL << 40)
#define VM_MAX_BURST_S 3600

struct vm_limits {
	int cpu_weight;            /* 1..10000, 0: the host's default (cgroup v2 100 = v1 1024 shares) */
	int cpu_limit_centi;       /* hundredths of a CPU (150 = 1.5 CPUs), 0: no limit */
	char *cpuset;              /* normalised CPU list ("0-1,3"), NULL: any CPU */
	int64_t memory_limit_mib;  /* -1: default (guest RAM + QEMU overhead), 0: none, else MiB */
	int64_t memory_target_mib; /* balloon target, 0: none (all of the guest's RAM) */
};
#define VM_LIMITS_INIT { .memory_limit_mib = -1 }

/* I/O limits of one disk, per second; 0 is "no limit" everywhere. */
struct vm_disk_io {
	int64_t iops, iops_rd, iops_wr;
	int64_t bps, bps_rd, bps_wr;
	int64_t iops_max, iops_rd_max, iops_wr_max; /* bursts: rates allowed for burst_s */
	int64_t bps_max, bps_rd_max, bps_wr_max;
	int burst_s;                                /* 0: QEMU's default (1 s) */
};

/* Parse the "limits" object into l (started as VM_LIMITS_INIT); memory_mib is the guest's RAM. */
int vmlimits_parse(struct vm_limits *l, const json_t *j, int64_t memory_mib, struct buf *err);
/* The fields set, as the "limits" object (new reference, {} when none). */
json_t *vmlimits_to_json(const struct vm_limits *l);
void vmlimits_release(struct vm_limits *l);

/* A disk's "io" object (what: "disk 'VOL'" for messages). */
int vmdisk_io_parse(struct vm_disk_io *io, const json_t *j, const char *what, struct buf *err);
json_t *vmdisk_io_to_json(const struct vm_disk_io *io);
bool vmdisk_io_any(const struct vm_disk_io *io);

/*
 * A CPU list "0-3,6,8-9" into a bitmap of VM_MAX_CPUSET_CPU + 1 bits; *norm
 * (if not NULL) gets the normalised text (malloc'ed).  0 or -EINVAL + err.
 */
#define CPUSET_WORDS ((VM_MAX_CPUSET_CPU + 64) / 64)
int cpuset_parse(const char *s, uint64_t mask[CPUSET_WORDS], char **norm, struct buf *err);
/* 0 if every CPU of list is online on this host (list_path: NULL for
 * /sys/devices/system/cpu/online; tests pass a file); else -EINVAL + err. */
int cpuset_host_check(const char *list, const char *online_path, struct buf *err);
/* How many CPUs the list names. */
int cpuset_count(const uint64_t mask[CPUSET_WORDS]);

#endif
