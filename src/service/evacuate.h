/*
 * evacuate.h - `corral host evacuate`: every running VM of a host live-
 * migrated to trusted hosts, a few at a time (evacuate.c,
 * docs/migration.md "Evacuate").
 *
 * svc_host_evacuate() starts an "evacuate" job.  For this host the job
 * lists the running (or paused) VMs, picks a target for each (o->to, or the
 * trusted host with the most free memory: its memory less what its VMs
 * commit, less what this evacuation already sent there) and runs up to
 * o->parallel live migrations (svc_vm_migrate, local disks copied) at once,
 * each its own "migrate" job.  For another host (o->host) it asks that host
 * to evacuate itself (POST /v1/host/evacuate over the peer API) and follows
 * its job.  The result: {"host","evacuated":[{"name","to","state","job","error"?}],
 * "migrated","failed","unreachable"}; the job fails if any VM stayed.  Cancelling it
 * cancels the migrations under way and starts no more (VMs not moved stay).
 *
 * Threading: the job's own thread; migrations run on theirs.
 * Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_SERVICE_EVACUATE_H
#define CORRAL_SERVICE_EVACUATE_H

#include <jansson.h>

#include "util/buf.h"

#define EVAC_DEFAULT_PARALLEL 2
#define EVAC_MAX_PARALLEL 16

struct svc_evacuate_opts {
	const char *host; /* the host to empty: NULL or this host's name for this one */
	const char *to;	  /* the only target, or NULL: chosen per VM */
	int parallel;	  /* migrations at once, 1..EVAC_MAX_PARALLEL (0: the default) */
};

int svc_host_evacuate(const struct svc_evacuate_opts *o, json_t **job, struct buf *err);

#endif
