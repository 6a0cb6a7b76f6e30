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

/* Host and jobs (hostops.c) */
json_t *ops_host_info(void);
json_t *ops_job_list(const char *vm_uuid);
json_t *ops_job_get(int64_t id);

/* Shared by the ops files: configuration, and the mutex under which VM
 * definitions (names, volume ownership) change. */
extern struct ops_config ops_cfg;
extern pthread_mutex_t ops_defs_lock;

#endif
