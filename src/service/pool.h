/*
 * pool.h - storage pools: directories volumes live in (pool.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_POOL_H
#define CORRAL_SERVICE_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* Record the default pool at the storage directory (corrald start). */
int svc_pool_init(struct buf *err);
json_t *svc_pool_list(void);
int svc_pool_get(const char *name, json_t **out, struct buf *err);
int svc_pool_create(const char *name, const char *path, bool shared, json_t **out, struct buf *err);
/* Refused for the default pool and for pools that hold volumes (-EBUSY); the directory stays. */
int svc_pool_delete(const char *name, struct buf *err);
/* Hold pool `name` (NULL: "default") while a volume operation writes into it, so it
 * cannot be deleted meanwhile; *path gets its directory (caller frees).  Release with
 * svc_pool_put(name). */
int svc_pool_hold(const char *name, char **path, struct buf *err);
void svc_pool_put(const char *name);

#endif
