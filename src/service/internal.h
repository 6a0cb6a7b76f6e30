/*
 * internal.h - what the service files share; not for other modules:
 * the configuration, and the mutex under which VM definitions (names,
 * volume ownership) change.
 */
#ifndef CORRAL_SERVICE_INTERNAL_H
#define CORRAL_SERVICE_INTERNAL_H

#include <pthread.h>

#include "service/service.h"

extern struct svc_config svc_cfg;
extern pthread_mutex_t svc_defs_lock;

#endif
