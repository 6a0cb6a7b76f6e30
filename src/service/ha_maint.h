/*
 * ha_maint.h - a pool member's HA maintenance mode (ha_maint.c; docs/ha.md
 * "Maintenance mode"): `corral host maintenance HOST on|off`.
 *
 * The mode is replicated configuration: a row "~host:NAME" of the
 * ha_resources table (store.h: rows starting with '~' are the pool's HA
 * settings, not VMs), written with ha.put / ha.delete, so it needs quorum
 * and every member agrees.  While a host is in maintenance the HA manager
 * (ha_manager.h) live-migrates its HA VMs away one at a time and places
 * nothing there; turning it off moves nothing back.
 *
 * Threading: any thread.  Errors: -errno + one sentence in err
 * (-EOPNOTSUPP no pool, -ENOENT no such member, -EROFS/-EAGAIN no quorum).
 */
#ifndef CORRAL_SERVICE_HA_MAINT_H
#define CORRAL_SERVICE_HA_MAINT_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

/* Turn host's maintenance mode on or off.  *out: {host, maintenance,
 * since, ha_vms: [names HA will move], non_ha_running: N (or null when the
 * host could not be asked), note}. */
int svc_ha_maintenance(const char *host, bool on, json_t **out, struct buf *err);
/* Whether host is in maintenance (this member's copy of the pool's setting). */
bool svc_ha_in_maintenance(const char *host);
/* [{host, since}] of the hosts in maintenance. */
json_t *svc_ha_maintenance_list(void);

#endif
