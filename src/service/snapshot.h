/*
 * snapshot.h - snapshots of VMs (snapshot.c, docs/snapshots.md).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_SNAPSHOT_H
#define CORRAL_SERVICE_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* Snapshots (snapshot.c, docs/snapshots.md).  `name` is checked with
 * str_name_invalid; create, revert and delete run as jobs
 * "snapshot-create|revert|delete" holding the VM's lock (*job: the job's
 * JSON; its result {"snapshot": ...} once done), after the checks that can
 * refuse at once were done.  The QEMU/qemu-img step of each cannot be
 * interrupted: a cancel is refused with the reason once it started. */
/* {"snapshots":[snapshot, oldest first],"current":name|null} */
json_t *svc_snapshot_list(const char *uuid, struct buf *err);
/* One snapshot, with its stored "definition". */
int svc_snapshot_get(const char *uuid, const char *name, json_t **out, struct buf *err);
/* svc_snapshot_create_ex: no_freeze: a live disk-only snapshot does not ask
 * the guest agent to freeze the filesystems (service/agent.h); the job's
 * result says how consistent the snapshot is ("consistency": memory,
 * filesystem-frozen, crash or stopped, and "consistency_note"). */
int svc_snapshot_create_ex(const char *uuid, const char *name, const char *description, bool memory, bool no_freeze,
			   json_t **job, struct buf *err);
int svc_snapshot_create(const char *uuid, const char *name, const char *description, bool memory, json_t **job,
			struct buf *err);
int svc_snapshot_revert(const char *uuid, const char *name, json_t **job, struct buf *err);
int svc_snapshot_delete(const char *uuid, const char *name, json_t **job, struct buf *err);
/* At corrald start, after rt_attach_all: finish or roll back every snapshot
 * a crash left "creating", "deleting" or "reverting", and remove NVRAM
 * copies no snapshot names (snapnvram.h). */
void svc_snapshot_recover(void);

#endif
