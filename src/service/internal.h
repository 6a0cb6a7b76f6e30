/*
 * internal.h - what the service files share; not for other modules:
 * the configuration, the mutex under which VM definitions (names,
 * volume ownership) change, and what the backup jobs share (repo.c).
 */
#ifndef CORRAL_SERVICE_INTERNAL_H
#define CORRAL_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "service/service.h"

extern struct svc_config svc_cfg;
extern pthread_mutex_t svc_defs_lock;

struct job;
struct repo;
/* A job_on_cancel hook (core/job.h) that sets `flag`, an atomic_bool a
 * backup-library call watches (backup/repo.h, "Cancelling"). */
void svc_cancel_flag_set(void *flag);
/* Lock repository r for job j, shared or exclusive.  While another job holds
 * it the job waits, says so in its phase, and stops with -ECANCELED (err
 * set) when it is cancelled meanwhile. */
int svc_repo_lock_job(struct job *j, struct repo *r, bool exclusive, struct buf *err);

#endif
