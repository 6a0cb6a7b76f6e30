/*
 * ha_admit.h - HA admission control, "failures to tolerate" (ha_admit.c;
 * docs/ha.md "Failures to tolerate", design memo 3.6): the pool's setting
 * `failures_to_tolerate` N (0: no admission control) and the check that
 * refuses `ha add`, `ha set --state started` and `host maintenance on`
 * when, for some set of up to N failed hosts, the protected VMs of those
 * hosts would not fit in the survivors' memory (cluster/haplan.h).
 *
 * Every number the check uses is replicated configuration, so every member
 * computes the same answer: the HA rows (each VM's memory and owner), the
 * hosts in maintenance, N (row "~pool"), and each host's memory capacity,
 * which each host's HA agent publishes itself once the pool has an HA
 * resource or failures to tolerate set (row "~hostmem:NAME",
 * svc_ha_capacity_publish: the host's memory as `host info` reports it).
 *
 * Threading: any thread.  Errors: -errno + one sentence in err (-EBUSY the
 * plan would not hold, -EINVAL bad value, -EOPNOTSUPP no pool, -EROFS no
 * quorum).
 */
#ifndef CORRAL_SERVICE_HA_ADMIT_H
#define CORRAL_SERVICE_HA_ADMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "util/buf.h"

/* The pool's failures to tolerate (0 when unset). */
/* The JSON object of HA settings row `key` of ha_resources (a VM's name,
 * or a setting row such as "~pool", "~group:G", "~repl:UUID"; caller
 * decrefs), or NULL when there is none or it is not an object. */
json_t *svc_ha_row_get(const char *key);

int svc_ha_ftt(void);
/* Set it (0..hosts - 1); refused with the failing set when the plan would not hold. *out: svc_ha_plan(). */
int svc_ha_ftt_set(const json_t *body, json_t **out, struct buf *err);
/* Would the plan hold with VM uuid's row replaced by def (NULL: unchanged)
 * and host maint (NULL: none) in maintenance as well?  0 or -EBUSY + err. */
int svc_ha_admit(const char *uuid, const json_t *def, const char *maint, struct buf *err);
/* {failures_to_tolerate, max_failures, capacities: {host: MiB or null}}. */
json_t *svc_ha_plan(void);
/* On this host's agent: publish this host's memory capacity when the
 * pool's copy is missing or differs (a replicated write then). */
void svc_ha_capacity_publish(const char *me);

#endif
