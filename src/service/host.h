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
/* Record job progress as `done` of `total` bytes since t0_ms (time_mono_ms):
 * percent (at most 99.9 while running), rate over the whole run, and ETA. */
void svc_job_bytes_progress(int64_t job, uint64_t done, uint64_t total, int64_t t0_ms);

#endif
