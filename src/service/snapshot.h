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
 * str_name_invalid; create/revert/delete hold the VM's job lock and are
 * recorded as jobs "snapshot-create|revert|delete". */
/* {"snapshots":[snapshot, oldest first],"current":name|null} */
json_t *svc_snapshot_list(const char *uuid, struct buf *err);
/* One snapshot, with its stored "definition". */
int svc_snapshot_get(const char *uuid, const char *name, json_t **out, struct buf *err);
int svc_snapshot_create(const char *uuid, const char *name, const char *description, bool memory, json_t **out,
			struct buf *err);
/* *out: the snapshot reverted to. */
int svc_snapshot_revert(const char *uuid, const char *name, json_t **out, struct buf *err);
int svc_snapshot_delete(const char *uuid, const char *name, struct buf *err);
/* At corrald start, after rt_attach_all: finish or roll back every snapshot
 * a crash left "creating" or "deleting". */
void svc_snapshot_recover(void);

#endif
