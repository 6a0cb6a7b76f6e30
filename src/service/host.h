/*
 * host.h - the host and its jobs (host.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_HOST_H
#define CORRAL_SERVICE_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

json_t *svc_host_info(void);
/* Every definition this host holds (VMs, volumes, pools, repositories without
 * secrets, policies): `corral host export-db`. */
json_t *svc_host_export(void);
/* Jobs (core/job.h): the newest 50 (of one VM when vm_uuid is set) as
 * {"jobs":[...]}, and one job, with running ones' live progress. */
json_t *svc_job_list(const char *vm_uuid);
json_t *svc_job_get(int64_t id);
/* Ask job `id` to stop (core/job.h job_cancel): 0 and *job as it is now (still
 * running, "cancelling": true, until it has rolled back), -ENOENT unknown,
 * -EBUSY already over or in a step that cannot be interrupted (err says which). */
int svc_job_cancel(int64_t id, json_t **job, struct buf *err);

#endif
