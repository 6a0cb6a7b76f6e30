/*
 * backup.h - backups: run, restore, list, inspect (backup.c, restore.c, backupinfo.c; docs/backup.md).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_BACKUP_H
#define CORRAL_SERVICE_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* Backups (backup.c, restore.c, backupinfo.c; docs/backup.md). */
struct svc_backup_opts {
	const char *vm;		/* a selector, or */
	const char *policy;	/* a policy name */
	const char *repo;	/* NULL: the policy's, else the default */
	bool os_disk_only;
	bool no_freeze;		/* do not freeze guest filesystems (crash-consistent) */
	bool preview;		/* *out gets the plan instead of a job */
};
int svc_backup_run(const struct svc_backup_opts *o, json_t **out, struct buf *err);
struct svc_restore_opts {
	const char *repo, *id;
	const char *name;	/* new VM (or with disk >= 0: new volume) name; NULL: over the original */
	const char *pool;
	int disk;		/* -1: the whole VM */
	bool start;
};
int svc_backup_restore(const struct svc_restore_opts *o, json_t **job, struct buf *err);
/* [{id, vm, uuid, time, ...}] of the backups in repo, of VMs matching vm (a glob, NULL = all). */
int svc_backup_list(const char *repo, const char *vm, json_t **out, struct buf *err);
int svc_backup_show(const char *repo, const char *id, json_t **out, struct buf *err);
/* *forgotten (caller frees): the id of the backup deleted. */
int svc_backup_forget(const char *repo, const char *id, char **forgotten, struct buf *err);
/*
 * Backup references (backupref.c).  A request names a backup by its id,
 * "VM/YYYYmmddTHHMMSSZ[-N]", or by "VM/latest", the newest backup of VM in
 * repository r.  *id (caller frees) is the id a reference names: VM/latest
 * resolved against r's manifests now, anything else copied unchanged (the
 * repository checks ids).  -ENOENT with a sentence in err when r holds no
 * backup of VM.  Every function below taking an id takes a reference.
 */
struct repo;
int svc_backup_ref_resolve(struct repo *r, const char *ref, char **id, struct buf *err);
/* Files inside a backup's disk (image library): listing, or a file streamed to cb. */
/* lv: an LVM2 logical volume "VG/LV" instead of a partition, or NULL. */
int svc_backup_ls(const char *repo, const char *id, int disk, int partition, const char *lv, const char *path,
		  json_t **out, struct buf *err);
/* Stream file `path` of a backup's disk: *fd is a pipe delivering its *size bytes
 * (see svc_fs_stream). */
int svc_backup_read(const char *repo, const char *id, int disk, int partition, const char *lv, const char *path,
		    int *fd, uint64_t *size, struct buf *err);

#endif
