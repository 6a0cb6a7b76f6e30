/*
 * ctbackup.h - container backups in the service layer (ctbackup.c): the
 * container side of `backup run`, `restore`, `files` and `get`, which
 * backup.c, restore.c and backupinfo.c hand over to when the name or the
 * manifest is a container's (docs/backup.md, "Containers").
 *
 * A run is a job holding the container's lock (its uuid, as a VM's) and a
 * shared lock on the repository; a running container is frozen (freezer
 * cgroup, through liblxc) for the walk and thawed on every path, and the
 * job's result says how long it was frozen.  Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_CTBACKUP_H
#define CORRAL_SERVICE_CTBACKUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

struct job;
struct repo;

/* Start-up recovery of a backup job corrald did not finish: container
 * `name` (a VM's name: nothing), if it is left FROZEN, is thawed.  corral
 * freezes containers only for backups. */
void svc_ctb_recover(const char *name);
/* Whether `name` names a container (by name or uuid). */
bool svc_ctb_is_container(const char *name);
/* Back container `name` up into repo (NULL: the host's default) as a job. */
int svc_ctb_run(const char *name, const char *repo, json_t **job, struct buf *err);
/*
 * Back container `key` (name or uuid) up into repo, whose shared lock the
 * caller holds, from inside job j (which holds the container's lock):
 * freeze if running, walk, thaw.  Fills entry with the result (id, bytes,
 * consistency, frozen_ms).  A backup policy's run calls it per container.
 */
int svc_ctb_backup_one(struct job *j, struct repo *repo, const char *repo_path, const char *key, const char *policy,
		       const atomic_bool *cancel, void (*cb)(uint64_t done, uint64_t total, const char *phase, void *arg),
		       void *arg, json_t *entry, struct buf *err);
/*
 * Restore container backup `id` (manifest m, read from r) as a new stopped
 * container `name` (NULL: the backed-up name): a job.  Takes r (closes it
 * on every path).  An existing container or VM of that name is refused.
 */
int svc_ctb_restore(struct repo *r, const char *id, const json_t *m, const char *name, bool start, json_t **job,
		    struct buf *err);
/* Start-up recovery of such a restore job corrald did not finish: removes
 * its staging directory and an lxcpath entry of `name` that has no
 * container (made by the killed restore). */
void svc_ctb_restore_recover(const char *name);
/* `backup files` / `backup get` of a container backup; -ENOTSUP (err
 * untouched) when ref names a VM backup. */
int svc_ctb_files(const char *repo, const char *ref, const char *path, json_t **out, struct buf *err);
int svc_ctb_read(const char *repo, const char *ref, const char *path, int *fd, uint64_t *size, struct buf *err);
/* The summary fields of a container manifest for list and show. */
json_t *svc_ctb_summary(const char *id, const json_t *m);

#endif
