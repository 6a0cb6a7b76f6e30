/*
 * ops.h - what corrald can do, independent of how it is asked.
 *
 * The API layer (src/api) parses HTTP and JSON and calls these; all rules
 * live here: a volume belongs to at most one VM, a running VM cannot be
 * edited or deleted, every change to a VM holds its job lock, nothing is
 * half-created on failure.  Definitions are changed under one mutex so two
 * requests cannot both claim a name or a volume.
 *
 * Errors: 0 or -errno with one sentence for the user appended to err.
 * The API maps -EINVAL to invalid_argument, -ENOENT not_found, -EEXIST and
 * -EBUSY conflict, -EAGAIN busy (another job holds the VM), -ENOTSUP
 * unsupported, -ENOSPC no_space, anything else internal.
 */
#ifndef CORRAL_DAEMON_OPS_H
#define CORRAL_DAEMON_OPS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/store.h"
#include "core/vmstate.h"
#include "qemu/accel.h"
#include "util/buf.h"

struct ops_config {
	struct store *store;
	const char *state_dir;
	const char *storage_dir;
	const char *run_dir;
	const char *qemu_binary;
	const struct accel_probe *accel;
};

int ops_init(const struct ops_config *cfg, struct buf *err);
void ops_shutdown(void);

/* VMs (vmops.c) */
typedef char ops_uuid[37];
/* Resolve a selector; `single` demands exactly one match.  *out is malloc'd. */
int ops_vm_select(const char *selector, bool single, ops_uuid **out, size_t *n, struct buf *err);
json_t *ops_vm_list(const char *selector, struct buf *err);
/* Definition + "status" (docs/api.md). */
json_t *ops_vm_show(const char *uuid);
int ops_vm_create(const json_t *def, json_t **out, struct buf *err);
int ops_vm_update(const char *uuid, const json_t *def, json_t **out, struct buf *err);
/* Appends the names of deleted volumes to vols_deleted (a JSON array). */
int ops_vm_delete(const char *uuid, bool with_disks, json_t *vols_deleted, struct buf *err);
struct ops_action_opts {
	int timeout_s; /* stop */
	bool force;    /* stop, reboot */
};
int ops_vm_action(const char *uuid, enum vm_action a, const struct ops_action_opts *o, struct buf *err);
const char *ops_vm_state(const char *uuid);
int ops_vm_disk_attach(const char *uuid, const char *volume, const char *bus, struct buf *err);
int ops_vm_disk_detach(const char *uuid, const char *volume, struct buf *err);
int ops_vm_cdrom(const char *uuid, const char *path, bool force, struct buf *err);
int ops_vm_log(const char *uuid, uint64_t tail, struct buf *out, struct buf *err);
json_t *ops_vm_events(const char *uuid, int limit);
/* Returns a connected fd for the serial console; release with ops_vm_console_close. */
int ops_vm_console_open(const char *uuid, struct buf *err);
void ops_vm_console_close(const char *uuid, int fd);
/* Start every VM flagged autostart that is not running. */
void ops_vm_autostart(void);
/* Name of the VM whose definition uses `volume`, or NULL (caller frees). */
char *ops_vm_using_volume(const char *volume);

/* Volumes (volops.c) */
json_t *ops_vol_list(void);
int ops_vol_get(const char *name, json_t **out, struct buf *err);
/* pool NULL: "default" (create and import). */
int ops_vol_create(const char *name, uint64_t size, const char *format, const char *pool, json_t **out,
		   struct buf *err);
int ops_vol_resize(const char *name, uint64_t size, json_t **out, struct buf *err);
int ops_vol_delete(const char *name, struct buf *err);
/* Starts a background import job; *job gets the job JSON. */
int ops_vol_import(const char *path, const char *name, const char *format, const char *pool, json_t **job,
		   struct buf *err);
/* Move a volume to another pool in a background job (live through a block mirror when its
 * VM runs, else by copy); *job gets the job JSON.  Refusals come back at once. */
int ops_vol_move(const char *name, const char *pool, json_t **job, struct buf *err);

/* Storage pools (poolops.c) */
/* Record the default pool at the storage directory (corrald start). */
int ops_pool_init(struct buf *err);
json_t *ops_pool_list(void);
int ops_pool_get(const char *name, json_t **out, struct buf *err);
int ops_pool_create(const char *name, const char *path, bool shared, json_t **out, struct buf *err);
/* Refused for the default pool and for pools that hold volumes (-EBUSY); the directory stays. */
int ops_pool_delete(const char *name, struct buf *err);
/* Hold pool `name` (NULL: "default") while a volume operation writes into it, so it
 * cannot be deleted meanwhile; *path gets its directory (caller frees).  Release with
 * ops_pool_put(name). */
int ops_pool_hold(const char *name, char **path, struct buf *err);
void ops_pool_put(const char *name);

/* Templates and clones (cloneops.c) */
/* Make a stopped VM a read-only template (volumes readonly, mode 0400); *out gets the VM. */
int ops_vm_template(const char *uuid, json_t **out, struct buf *err);
/*
 * Clone a VM as `name`: linked (src must be a template; qcow2 overlays on its
 * volumes, *vm gets the new VM) or full (src stopped or a template; every disk
 * copied in a background job, *job gets the job JSON).  Volumes are named
 * "<name>-disk<i>", next to the source's; nothing is left behind on failure.
 */
int ops_vm_clone(const char *src_uuid, const char *name, bool linked, json_t **vm, json_t **job,
		 struct buf *err);
/* Linked clones of any of `vols`: their VM names (or "volume V" when unattached)
 * appended to `names` ("a, b"); returns how many, or -errno. */
int ops_linked_clones(const char *const *vols, size_t nvols, struct buf *names);
/* -EBUSY + message when `d` is a template that linked clones depend on. */
int ops_template_delete_check(const struct vm_def *d, struct buf *err);
/* -EINVAL/-EBUSY + message when the edit old -> d sets or clears "template", or
 * changes a template beyond its name, description and tags. */
int ops_template_edit_check(const struct vm_def *old, const struct vm_def *d, struct buf *err);

/* Snapshots (snapops.c, docs/snapshots.md).  `name` is checked with
 * str_name_invalid; create/revert/delete hold the VM's job lock and are
 * recorded as jobs "snapshot-create|revert|delete". */
/* {"snapshots":[snapshot, oldest first],"current":name|null} */
json_t *ops_snapshot_list(const char *uuid, struct buf *err);
/* One snapshot, with its stored "definition". */
int ops_snapshot_get(const char *uuid, const char *name, json_t **out, struct buf *err);
int ops_snapshot_create(const char *uuid, const char *name, const char *description, bool memory, json_t **out,
			struct buf *err);
/* *out: the snapshot reverted to. */
int ops_snapshot_revert(const char *uuid, const char *name, json_t **out, struct buf *err);
int ops_snapshot_delete(const char *uuid, const char *name, struct buf *err);
/* At corrald start, after rt_attach_all: finish or roll back every snapshot
 * a crash left "creating" or "deleting". */
void ops_snapshot_recover(void);

/* Backup repositories (repoops.c, backup/repo.h).  A repository is named by
 * its absolute path; NULL means the host's default repository. */
struct repo;
/* Create and register; encrypt needs a passphrase (kept, with the key file, under
 * <state>/keys).  chunk_size 0 = default. */
int ops_repo_create(const char *path, bool encrypt, const char *passphrase, uint32_t chunk_size, json_t **out,
		    struct buf *err);
/* Register an existing repository (keyfile + passphrase when it is encrypted). */
int ops_repo_add(const char *path, const char *keyfile, const char *passphrase, json_t **out, struct buf *err);
json_t *ops_repo_list(void);
int ops_repo_get(const char *path, json_t **out, struct buf *err);
int ops_repo_set_default(const char *path, struct buf *err);
/* Forget a repository (its data and key file stay). */
int ops_repo_forget(const char *path, struct buf *err);
/* Open a registered repository; *resolved (optional) gets its path. */
int ops_repo_open(const char *path, struct repo **out, char **resolved, struct buf *err);
/* Jobs: verify backups (ids NULL = all: "check"), and prune (sweep unreferenced chunks,
 * after applying keep when given). */
int ops_repo_verify(const char *path, const char *const *ids, size_t n, json_t **job, struct buf *err);
int ops_repo_prune(const char *path, json_t **job, struct buf *err);

/* Backups (backupops.c, restoreops.c, backupinfo.c; docs/backup.md). */
struct ops_backup_opts {
	const char *vm;		/* a selector, or */
	const char *policy;	/* a policy name */
	const char *repo;	/* NULL: the policy's, else the default */
	bool os_disk_only;
	bool preview;		/* *out gets the plan instead of a job */
};
int ops_backup_run(const struct ops_backup_opts *o, json_t **out, struct buf *err);
struct ops_restore_opts {
	const char *repo, *id;
	const char *name;	/* new VM (or with disk >= 0: new volume) name; NULL: over the original */
	const char *pool;
	int disk;		/* -1: the whole VM */
	bool start;
};
int ops_backup_restore(const struct ops_restore_opts *o, json_t **job, struct buf *err);
/* [{id, vm, uuid, time, ...}] of the backups in repo, of VMs matching vm (a glob, NULL = all). */
int ops_backup_list(const char *repo, const char *vm, json_t **out, struct buf *err);
int ops_backup_show(const char *repo, const char *id, json_t **out, struct buf *err);
int ops_backup_forget(const char *repo, const char *id, struct buf *err);
/* Files inside a backup's disk (image library): listing, or a file streamed to cb. */
int ops_backup_ls(const char *repo, const char *id, int disk, int partition, const char *path, json_t **out,
		  struct buf *err);
/* Stream file `path` of a backup's disk: *fd is a pipe delivering its *size bytes
 * (see ops_fs_stream). */
int ops_backup_read(const char *repo, const char *id, int disk, int partition, const char *path, int *fd,
		    uint64_t *size, struct buf *err);
struct img_fs;
/* -EINVAL + err unless path is absolute, without control characters, at most PATH_MAX. */
int ops_fs_path_check(const char *path, struct buf *err);
/* {"path","fstype","type","entries":[entry],"truncated"} of `path` in fs
 * (fsview.c; docs/api.md "Inside disks"): a directory's entries sorted by
 * name, anything else as its one entry. */
int ops_fs_listing(struct img_fs *fs, const char *path, json_t **out, struct buf *err);
/* Stream regular file `path` of fs through a pipe (fsview.c): *fd is the read
 * end delivering *size bytes, filled by a thread that calls release(owner)
 * when done (the caller closes fd, early if it wants, which ends the thread).
 * On failure nothing is started and release is not called. */
int ops_fs_stream(struct img_fs *fs, const char *path, const char *label, void (*release)(void *owner), void *owner,
		  int *fd, uint64_t *size, struct buf *err);

/* Backup policies and the scheduler (policyops.c). */
/* def: policy JSON; text: VmBackup-style file (one of the two). */
int ops_policy_put(const json_t *def, const char *text, const char *name, json_t **out, struct buf *err);
json_t *ops_policy_list(void);
int ops_policy_get(const char *name, json_t **out, struct buf *err);
int ops_policy_delete(const char *name, struct buf *err);
/* Start the scheduler thread (runs policies whose schedule is due) and clean up
 * what a crashed corrald left of backups in running VMs. */
int ops_backup_init(struct buf *err);
void ops_backup_shutdown(void);

/* Looking inside disks, read-only (imageops.c).  A volume of a running VM is
 * refused (-EBUSY) unless `snapshot` names an internal snapshot; the job lock
 * of the VM owning the volume is held while reading (-EAGAIN when busy). */
struct ops_img_ref {
	const char *volume;	/* a volume name, or NULL and */
	const char *file;	/* an absolute path of an image file on the host */
	const char *snapshot;	/* qcow2 internal snapshot to read, or NULL */
	int partition;		/* 0: the only filesystem */
};
/* path NULL and partition 0: the partition table {"scheme","size","fstype","partitions":[...]};
 * else the listing of path (default "/") {"path","fstype","type","entries":[...],"truncated"}. */
int ops_img_inspect(const struct ops_img_ref *ref, const char *path, json_t **out, struct buf *err);
/* Stream regular file `path`: *fd is a pipe delivering its *size bytes (a thread
 * fills it; the caller closes fd, early if it wants, which ends the reading). */
int ops_img_read(const struct ops_img_ref *ref, const char *path, int *fd, uint64_t *size, struct buf *err);
/* {"vm","volume","format","config","partition","fstype","boot_entry","default","selected","entries":[...]}
 * read from the VM's first disk. */
int ops_vm_boot_entries(const char *uuid, json_t **out, struct buf *err);

/* Host and jobs (hostops.c) */
json_t *ops_host_info(void);
/* Every definition this host holds (VMs, volumes, pools, repositories without
 * secrets, policies): `corral host export-db`. */
json_t *ops_host_export(void);
json_t *ops_job_list(const char *vm_uuid);
/* Record job progress as `done` of `total` bytes since t0_ms (time_mono_ms):
 * percent (at most 99.9 while running), rate over the whole run, and ETA. */
void ops_job_bytes_progress(int64_t job, uint64_t done, uint64_t total, int64_t t0_ms);
json_t *ops_job_get(int64_t id);

/* Shared by the ops files: configuration, and the mutex under which VM
 * definitions (names, volume ownership) change. */
extern struct ops_config ops_cfg;
extern pthread_mutex_t ops_defs_lock;

#endif
