/*
 * ha_kind.c - the calls that differ between an HA VM and an HA container
 * (see ha_kind.h): each a switch on the kind, to the QEMU runtime or to
 * the container service.
 */
#include <errno.h>
#include <string.h>

#include "qemu/runtime.h"
#include "service/ct.h"
#include "service/ha_kind.h"

enum ha_kind ha_kind_of(const json_t *def)
{
	const char *k = json_string_value(json_object_get(def, "kind"));
	return k && strcmp(k, "container") == 0 ? HA_CT : HA_VM;
}

const char *ha_kind_word(enum ha_kind k) { return k == HA_CT ? "container" : "VM"; }

const char *ha_kind_process(enum ha_kind k) { return k == HA_CT ? "the container's init" : "QEMU"; }

bool ha_res_active(enum ha_kind k, const char *uuid)
{
	return k == HA_CT ? svc_ct_running(uuid, NULL) : rt_is_active(uuid);
}

int ha_res_pidfd(enum ha_kind k, const char *uuid) { return k == HA_CT ? svc_ct_pidfd(uuid) : rt_pidfd(uuid); }

int ha_res_fence(enum ha_kind k, const char *uuid, int pidfd, const char *reason, struct buf *err)
{
	return k == HA_CT ? svc_ct_fence(uuid, pidfd, reason, err) : rt_fence(uuid, reason, err);
}
