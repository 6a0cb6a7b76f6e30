/*
 * events.h - what happens to VMs: recorded in their history and published
 * on the event bus (events.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_EVENTS_H
#define CORRAL_SERVICE_EVENTS_H

#include <jansson.h>

#include "service/service.h"
#include "core/vmstate.h"

/* What the QEMU runtime reports (qemu/runtime.h rt_config callbacks): a VM's
 * state changed, or something happened to it; recorded and published. */
void svc_on_vm_state(const char *uuid, const char *name, enum vm_state st, const char *reason);
void svc_on_vm_event(const char *uuid, const char *name, const char *type, const char *detail);
/* A `--boot disk-kernel` VM rebooted and its QEMU ended (rt_config.on_reboot):
 * start it again in a "reboot" job, which waits for the VM's lock and
 * re-reads the boot configuration (vmaction.c). */
void svc_vm_on_reboot(const char *uuid, const char *name);

/* The newest `limit` recorded events, oldest first, of VM uuid (NULL: the
 * host and every VM), only those whose type is in `kinds` (a comma-separated
 * list; NULL: all): [{"time","kind","type","detail"[,"vm","name"]}]. */
json_t *svc_events_recent(const char *uuid, const char *kinds, int limit, struct buf *err);

#endif
