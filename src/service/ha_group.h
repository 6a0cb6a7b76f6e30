/*
 * ha_group.h - HA groups (ha_group.c; docs/ha.md "Groups"): named sets of
 * hosts with priorities that an HA VM may belong to (`ha add|set VM
 * --group G`).  Placement prefers the group's online hosts of the highest
 * priority; a restricted group never places outside its hosts; unless the
 * group says no-failback, the manager live-migrates a VM back when a host
 * of a higher priority than its current one is online (ha_manager.c).
 *
 * Replicated configuration: a row "~group:NAME" of the ha_resources table
 * (store.h: '~' rows are the pool's HA settings), {name, hosts:[{host,
 * priority}], restricted, nofailback}, so a change needs quorum.
 *
 * Threading: any thread.  Errors: -errno + one sentence in err (-EINVAL
 * bad input, -EEXIST exists, -ENOENT unknown, -EBUSY in use, -EOPNOTSUPP no
 * pool, -EROFS no quorum).
 */
#ifndef CORRAL_SERVICE_HA_GROUP_H
#define CORRAL_SERVICE_HA_GROUP_H

#include <jansson.h>

#include "util/buf.h"

/* {name, hosts: "h1:2,h2:1" or [{host, priority}], restricted?, nofailback?}.  *out: the group. */
int svc_ha_group_add(const json_t *body, json_t **out, struct buf *err);
/* Remove a group no HA VM uses. */
int svc_ha_group_remove(const char *name, struct buf *err);
/* {groups: [...]} */
json_t *svc_ha_group_list(void);
/* The group's definition (new reference), or NULL when there is none of that name. */
json_t *svc_ha_group_get(const char *name);

#endif
