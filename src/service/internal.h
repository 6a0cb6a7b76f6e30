/*
 * internal.h - what the service files share; not for other modules:
 * the configuration, and the mutex under which VM definitions (names,
 * volume ownership) change.
 */
#ifndef CORRAL_SERVICE_INTERNAL_H
#define CORRAL_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "service/service.h"

extern struct svc_config svc_cfg;
extern pthread_mutex_t svc_defs_lock;

/* The periodic chores' thread (housekeeping.c), run by svc_init/svc_shutdown. */
int svc_housekeeping_start(void);
void svc_housekeeping_stop(void);

/* Record event `type` ("disk", "snapshot", ...) with `detail` in VM uuid's
 * history and publish it on the event bus (events.c). */
void svc_vm_event(const char *uuid, const char *type, const char *detail);

/* A vol_progress_cb (storage/volume.h) reporting into the job `job` (a
 * struct job *) and answering its cancel (events.c). */
int svc_job_vol_progress(void *job, double percent, double rate, int64_t eta_s);

#endif
