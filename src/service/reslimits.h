/*
 * reslimits.h - a VM's resource limits: changing them (persisted, and live on
 * a running VM without a restart) and showing what is configured next to
 * what the kernel and QEMU hold (limits.c; docs/limits.md).
 *
 * A change is a partial update of the definition's "limits" and of disks'
 * "io" (docs/api.md, POST /v1/vms/{vm}/limits): a field given sets it, a
 * field given as null returns it to the default, a field left out stays.
 * The new definition is validated as a whole first (vmdef_from_json) and
 * cpuset against the host's CPUs; a refused change touches nothing.  On a
 * running VM the cgroup is written, each changed disk gets
 * block_set_io_throttle and a changed balloon target `balloon`; if one of
 * them fails the ones done are undone and nothing is stored.  The VM's job
 * lock is held throughout, like every change of a VM; if_gen is the ETag of
 * `vm edit` (-1: any), so a set cannot overwrite an edit it never saw.
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_RESLIMITS_H
#define CORRAL_SERVICE_RESLIMITS_H

#include <stdint.h>
#include <jansson.h>

#include "service/service.h"
#include "core/vmdef.h"

int svc_vm_limits_set(const char *uuid, const json_t *changes, int64_t if_gen, json_t **out, struct buf *err);
/* {"name", "state", "configured": {...}, "effective": {...}|null, "disks": [...], "balloon": {...}|null}, or NULL. */
json_t *svc_vm_limits_show(const char *uuid);
/* Add "balloon" (and the effective CPU/memory limits as "limits") of a running VM to its status. */
void svc_vm_limits_status(const char *uuid, const struct vm_def *d, json_t *status);
/* Set one hot-plugged disk's I/O limits on the running VM (disk attach). */
int svc_vm_disk_io_apply(const char *uuid, const char *volume, enum disk_bus bus, const struct vm_disk_io *io,
			 struct buf *err);

#endif
