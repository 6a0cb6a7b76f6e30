/*
 * events.c - what the service layer records of what happens to VMs.
 *
 * Lower layers report (the QEMU runtime calls svc_on_vm_state and
 * svc_on_vm_event through its config); here it is decided what is kept:
 * state changes go to the VM's runtime row and, like every VM event, to its
 * history in the store, and everything is published on the event bus
 * (core/events.h) for `corral events --follow` and the API's event stream.
 */
#include <string.h>

#include "events.h"
#include "service/image.h"
#include "service/network.h"
#include "service/internal.h"
#include "core/store_local.h"
#include "core/events.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

/* The VM's name for events, or NULL when it is unknown (caller frees). */
static char *vm_name(const char *uuid)
{
	struct vm_record rec = { 0 };
	char *name = NULL;
	if (uuid && store_vm_get(svc_cfg.store, uuid, &rec) == 0)
		name = xstrdup(rec.def->name);
	vm_record_release(&rec);
	return name;
}

void svc_vm_event(const char *uuid, const char *type, const char *detail)
{
	__do_free char *name = vm_name(uuid);
	store_event_add(svc_cfg.store, uuid, type, detail);
	events_publish_vm(type, uuid, name, json_pack("{s:s,s:s}", "type", type, "detail", detail ? detail : ""));
}

void svc_on_vm_event(const char *uuid, const char *name, const char *type, const char *detail)
{
	store_event_add(svc_cfg.store, uuid, type, detail);
	events_publish_vm(type, uuid, name, json_pack("{s:s,s:s}", "type", type, "detail", detail ? detail : ""));
}

void svc_on_vm_state(const char *uuid, const char *name, enum vm_state st, const char *reason)
{
	__do_free char *detail = xasprintf("%s: %s", vmstate_name(st), reason ? reason : "");
	char actor[EVENTS_ACTOR_MAX] = "";
	/* reported from QEMU's event thread: the change is the doing of whoever
	 * runs the VM's job (a stop, a reboot), if one does */
	if (!events_actor()) {
		job_vm_actor(uuid, actor, sizeof(actor));
		if (actor[0])
			events_actor_set(actor);
	}
	store_vm_set_state(svc_cfg.store, uuid, st, reason);
	if (st == VM_STOPPED || st == VM_CRASHED)
		svc_net_vm_stopped(uuid); /* QEMU is gone, so are its taps */
	store_event_add(svc_cfg.store, uuid, "state", detail);
	events_publish_vm("state", uuid, name,
			  json_pack("{s:s,s:s,s:s,s:s}", "type", "state", "detail", detail, "state", vmstate_name(st),
				    "reason", reason ? reason : ""));
	if (actor[0])
		events_actor_set(NULL);
}

/* rt_config.nic_open: a VM start opens its NICs in order and gives up at the
 * first failure, so the filters of the NICs opened before it go too. */
static int rt_nic_open(const struct vm_def *d, int index, struct buf *err)
{
	int fd = svc_net_nic_open(d, index, err);
	for (int i = 0; fd < 0 && i < index; i++)
		svc_net_nic_closed(d, i);
	return fd;
}

void svc_rt_hooks(struct rt_config *rc)
{
	rc->on_state = svc_on_vm_state;
	rc->on_event = svc_on_vm_event;
	rc->boot_extract = svc_boot_extract;
	rc->nic_open = rt_nic_open;
	rc->on_reboot = svc_vm_on_reboot;
}

int svc_job_vol_progress(void *job, double percent, double rate, int64_t eta_s)
{
	if (percent >= 0)
		job_progress(job, percent, rate, eta_s);
	return job_cancelled(job);
}

json_t *svc_events_recent(const char *uuid, const char *kinds, int limit, struct buf *err)
{
	(void)err;
	json_t *all = uuid ? store_event_list(svc_cfg.store, uuid, limit) : store_event_recent(svc_cfg.store, limit);
	json_t *out = json_array(), *e;
	size_t i;
	json_array_foreach(all, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		if (kinds && !str_list_has(kinds, type))
			continue;
		json_object_set(e, "kind", json_object_get(e, "type"));
		json_array_append(out, e);
	}
	json_decref(all);
	return out;
}
