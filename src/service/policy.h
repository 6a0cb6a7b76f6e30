/*
 * policy.h - backup policies and the scheduler that runs them (policy.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_POLICY_H
#define CORRAL_SERVICE_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* Backup policies and the scheduler (policy.c). */
/* def: policy JSON; text: VmBackup-style file (one of the two). */
int svc_policy_put(const json_t *def, const char *text, const char *name, json_t **out, struct buf *err);
json_t *svc_policy_list(void);
int svc_policy_get(const char *name, json_t **out, struct buf *err);
int svc_policy_delete(const char *name, struct buf *err);
/* Start the scheduler thread (runs policies whose schedule is due) and clean up
 * what a crashed corrald left of backups in running VMs. */
int svc_backup_init(struct buf *err);
void svc_backup_shutdown(void);

#endif
