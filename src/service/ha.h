/*
 * ha.h - HA resources: which VMs and containers the pool keeps running,
 * with their priority, order, start delay, restart and relocation limits
 * and requested state (ha.c; docs/ha.md "HA resources", "Containers").
 * A container's row has "kind": "container" and its definition in
 * "ctdef" (svc_ct_ha_capture, service/ct.h); what differs per kind is in
 * ha_kind.h.
 *
 * The settings are replicated configuration (the ha_resources table, ha.*
 * ops): a change needs the pool's quorum and is the same on every member.
 * A host must be in a pool to protect VMs ("HA needs a pool").  The row
 * also carries the VM's definition and disks (svc_ha_capture), its owner
 * host and the manager's state (ha_manager.h), so another host can take
 * the VM over; the local self-fence (ha_fence.h) arms for the HA VMs
 * running here.
 *
 * Settings (JSON members, with their ranges and defaults):
 *   priority 0..1000 (0): higher restarts first
 *   order 0..1000 (0): within one priority, lower restarts first
 *   start_delay 0..3600 s (0): wait after starting before the next wave
 *   max_restart 0..10 (1): restarts on the same host before relocating
 *   max_relocate 0..10 (1): other hosts tried before "error"
 *   state started|stopped|disabled|ignored ("started")
 * plus "vm" (its name) and "host" (the host it was on when protected).
 *
 * Threading: any thread.  Errors: -errno + one sentence in err (-ENOENT
 * unknown VM or not protected, -EINVAL bad value, -EEXIST already
 * protected, -EOPNOTSUPP no pool, -EAGAIN no quorum).
 */
#ifndef CORRAL_SERVICE_HA_H
#define CORRAL_SERVICE_HA_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

/* {vm, priority, order, start_delay, max_restart, max_relocate, state}: protect vm (a VM's or a
 * container's name or uuid).  *out: its entry. */
int svc_ha_add(const json_t *body, json_t **out, struct buf *err);
/* Change the members given of vm's settings.  *out: its entry. */
int svc_ha_set(const char *vm, const json_t *body, json_t **out, struct buf *err);
/* Stop protecting vm (by name or uuid; a uuid also when the VM is not known here). */
int svc_ha_remove(const char *vm, struct buf *err);
/* GET /v1/ha: {manager, fence, resources: [...]}. */
json_t *svc_ha_status(void);
/* Whether VM or container uuid is HA-protected at all (a row, whatever its state). */
bool svc_ha_protected(const char *uuid);
/* Whether VM uuid is HA-protected with state "started" (the fence arms for it). */
bool svc_ha_armed(const char *uuid);

struct vm_def;
/* Put vd's definition into an HA row's def: "vm", "vmdef", "disks"
 * ([{volume, pool, format, file (relative to the pool)}]) and
 * "memory_mib".  -EINVAL when a disk is in a pool that is not shared (HA
 * could not restart the VM on another host), -ENOENT for a missing volume. */
int svc_ha_capture(const struct vm_def *vd, json_t *def, struct buf *err);
/* May this host start VM uuid?  0, or -EBUSY with a sentence naming the
 * owner when HA moved it to another host, or HA is fencing, recovering or
 * relocating it, or it is in error. */
int svc_ha_start_check(const char *uuid, const char *name, struct buf *err);
/* A requested start or stop (vm start/stop/kill) of an HA VM: its HA state
 * becomes "started" / "stopped" (a requested stop is not a crash).  Logged
 * when the pool refuses (no quorum). */
void svc_ha_requested(const char *uuid, bool started);
/* VM uuid migrated to host `to` (on the source, once it runs there): the
 * row's owner becomes `to`. */
void svc_ha_moved(const char *uuid, const char *to);
/* The same after a switchover onto its replica on `to` (migrate.c): the
 * row also names `from` as "replicate_back", the host holding the VM's old
 * volumes; the new owner's HA agent replicates the VM there again
 * (ha_manager.c agent_reprotect). */
void svc_ha_moved_onto_replica(const char *uuid, const char *to, const char *from);

#endif
