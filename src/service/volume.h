/*
 * volume.h - volumes: create, resize, delete, import and move (volume.c).
 *
 * Volumes live in storage pools (pool.h); import and move run as jobs.
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_VOLUME_H
#define CORRAL_SERVICE_VOLUME_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

json_t *svc_vol_list(void);
int svc_vol_get(const char *name, json_t **out, struct buf *err);
/* pool NULL: "default" (create and import). */
int svc_vol_create(const char *name, uint64_t size, const char *format, const char *pool, json_t **out,
		   struct buf *err);
int svc_vol_resize(const char *name, uint64_t size, json_t **out, struct buf *err);
int svc_vol_delete(const char *name, struct buf *err);
/*
 * Starts a background import job; *job gets the job JSON.  src_format: the
 * source's format as the admin states it (raw, qcow2, vmdk, vdi, vpc, vhdx),
 * or NULL to probe it; a probed "raw" file must look like a disk
 * (srcprobe.h), else the import is refused at once.
 */
int svc_vol_import(const char *path, const char *name, const char *format, const char *src_format, const char *pool,
		   json_t **job, struct buf *err);
/* Move a volume to another pool in a background job (live through a block mirror when its
 * VM runs, else by copy); *job gets the job JSON.  Refusals come back at once. */
int svc_vol_move(const char *name, const char *pool, json_t **job, struct buf *err);

#endif
