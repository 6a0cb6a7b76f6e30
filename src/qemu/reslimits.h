/*
 * reslimits.h - a VM definition's resource limits in the terms the host and
 * QEMU take them (docs/limits.md):
 *   - CPU and memory become a struct cgroup_limits for the VM's cgroup
 *     (cgroup.h), written before QEMU starts and on every change;
 *   - a disk's I/O limits become QMP `block_set_io_throttle` on the guest
 *     device ("disk<slot>"): QEMU's throttling of that device's
 *     BlockBackend, in a throttle group of its own named after the device.
 *     It can be changed while the guest runs, is set right after a hot-plug,
 *     and stays with the device whatever block jobs do to the nodes below
 *     it (snapshots, mirrors, backups), which a throttle filter node in the
 *     graph would not;
 *   - the balloon target becomes QMP `balloon`; its statistics come from
 *     the balloon device's guest-stats QOM property, polled every
 *     QEMU_BALLOON_POLL_S seconds once enabled.
 * The builders are pure (unit-tested); the qemu_*_set/_info calls talk to
 * a running QEMU through a QMP handle the caller holds (the VM's job lock
 * held for changes).  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_QEMU_RESLIMITS_H
#define CORRAL_QEMU_RESLIMITS_H

#include <jansson.h>

#include "cgroup/cgroup.h"
#include "core/vmdef.h"
#include "util/buf.h"

#define QEMU_BALLOON_POLL_S 2

struct qmp;

/* The cgroup limits of d when run with accel (the memory default: guest RAM + qemu_memory_overhead_mib). */
void qemu_limits_cgroup(const struct vm_def *d, enum accel_mode accel, struct cgroup_limits *out);
/* The memory limit in MiB that applies to d (0: none). */
long long qemu_limits_memory_mib(const struct vm_def *d, enum accel_mode accel);
/* Arguments of `block_set_io_throttle` for guest device `device` ("disk<slot>") on bus (new
 * reference).  A virtio-blk-pci device holds no block backend itself: its
 * virtio-backend child does ("/machine/peripheral/disk<slot>/virtio-backend"). */
json_t *qemu_io_throttle_args(const char *device, enum disk_bus bus, const struct vm_disk_io *io);

int qemu_disk_io_set(struct qmp *q, const char *device, enum disk_bus bus, const struct vm_disk_io *io,
		     struct buf *err);
/* {"<device>": {"iops": .., "bps": .., ...}} as QEMU holds them (query-block), or NULL. */
json_t *qemu_disk_io_info(struct qmp *q);
/* Balloon target: the guest sees mib MiB (its whole RAM undoes the balloon). */
int qemu_balloon_set(struct qmp *q, long long mib, struct buf *err);
/* Ask the balloon driver for statistics every QEMU_BALLOON_POLL_S seconds. */
int qemu_balloon_stats_enable(struct qmp *q, struct buf *err);
/* {"actual_mib": N, "stats": {...}|null, "stats_age_s": N|null}, or NULL without a balloon. */
json_t *qemu_balloon_info(struct qmp *q);

#endif
