/*
 * store.h - corrald's persistent state in one SQLite database (WAL mode).
 *
 * Tables: vms (definition JSON + last known state), volumes, events, jobs.
 * The schema carries a version (PRAGMA user_version) and is migrated forward
 * on open; docs/state.md describes it.  One connection serialised by a
 * mutex: every call is safe from any thread.  Calls return 0 or -errno
 * (-ENOENT when the row does not exist, -EEXIST on a unique clash, -EIO when
 * SQLite fails; the SQLite message is logged).
 *
 * JSON returned by listing calls is a new reference owned by the caller.
 */
#ifndef CORRAL_CORE_STORE_H
#define CORRAL_CORE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/vmdef.h"
#include "core/vmstate.h"
#include "util/buf.h"

struct store;

struct vm_record {
	struct vm_def *def;
	enum vm_state state;
	char *reason;      /* why the VM is in this state ("guest shutdown", "qemu exited: ...") */
	int64_t since_ms;  /* wall clock of the last state change */
};

void vm_record_release(struct vm_record *r);

struct store *store_open(const char *path, struct buf *err);
void store_close(struct store *s);

/* VMs.  store_vm_insert fails with -EEXIST if the name or uuid is taken. */
int store_vm_insert(struct store *s, const struct vm_def *d);
/* Replace the definition of the VM with d->uuid (name may change). */
int store_vm_update_def(struct store *s, const struct vm_def *d);
int store_vm_set_state(struct store *s, const char *uuid, enum vm_state st, const char *reason);
int store_vm_delete(struct store *s, const char *uuid);
int store_vm_get(struct store *s, const char *uuid, struct vm_record *out);
/* All VMs ordered by name; *out is a malloc'd array of *n records. */
int store_vm_list(struct store *s, struct vm_record **out, size_t *n);
void store_vm_list_free(struct vm_record *list, size_t n);

/* Volumes. */
struct vol_record {
	char *name;
	char *format;
	char *path;
	int64_t created_ms;
	char *pool;     /* pool name ("default" when NULL on insert) */
	char *backing;  /* name of the volume this one is a linked clone of, or NULL */
	bool readonly;  /* a template's volume */
};
void vol_record_release(struct vol_record *v);
/* Insert into the default pool (a shorthand for store_vol_add). */
int store_vol_insert(struct store *s, const char *name, const char *format, const char *path);
int store_vol_add(struct store *s, const struct vol_record *v);
/* Rewrite format, path, pool, backing and readonly of the volume named v->name. */
int store_vol_update(struct store *s, const struct vol_record *v);
int store_vol_get(struct store *s, const char *name, struct vol_record *out);
int store_vol_list(struct store *s, struct vol_record **out, size_t *n);
void store_vol_list_free(struct vol_record *list, size_t n);
int store_vol_delete(struct store *s, const char *name);

/* Events: appended, never changed.  List returns [{"time","type","detail"}], oldest first. */
int store_event_add(struct store *s, const char *vm_uuid, const char *type, const char *detail);
json_t *store_event_list(struct store *s, const char *vm_uuid, int limit);
/* The newest `limit` events of the host and every VM, oldest first:
 * [{"time","vm","name","type","detail"}] (vm/name null for host events). */
json_t *store_event_recent(struct store *s, int limit);

/* Jobs (records of core/job.h's engine, in its JSON shape; docs/api.md "Jobs"). */
/* A new row from the job's type, target, vm, parent and started; its id or -1. */
int64_t store_job_insert(struct store *s, const json_t *job);
/* Rewrite state, progress, rate, eta, phase, error, result and finished from the job JSON. */
int store_job_save(struct store *s, int64_t id, const json_t *job);
int64_t store_job_create(struct store *s, const char *type, const char *target, const char *vm_uuid);
int store_job_progress(struct store *s, int64_t id, double percent, double rate, int64_t eta_s);
/* state: "succeeded" or "failed" (with error). */
int store_job_finish(struct store *s, int64_t id, const char *state, const char *error);
/* A JSON summary kept with the job ("result" in job JSON), e.g. a backup run's statistics. */
int store_job_set_result(struct store *s, int64_t id, const json_t *result);
/* Jobs left "running" by a previous daemon become failed with this reason. */
int store_job_fail_stale(struct store *s, const char *reason);
json_t *store_job_get(struct store *s, int64_t id);
json_t *store_job_list(struct store *s, const char *vm_uuid, int limit);

/* Storage pools (store_pool.c): a directory volumes live in. */
struct pool_record {
	char *name;
	char *path;   /* absolute */
	bool shared;  /* a filesystem mounted on every host (for migration/HA later) */
	int64_t created_ms;
};
void pool_record_release(struct pool_record *p);
int store_pool_insert(struct store *s, const char *name, const char *path, bool shared);
int store_pool_get(struct store *s, const char *name, struct pool_record *out);
/* Ordered by name. */
int store_pool_list(struct store *s, struct pool_record **out, size_t *n);
void store_pool_list_free(struct pool_record *list, size_t n);
int store_pool_delete(struct store *s, const char *name);

/* Backup repositories this host uses (store_backup.c), by absolute path.
 * keyfile/passfile: where the repository's key and the passphrase that
 * unlocks it for unattended runs are kept (encrypted repositories). */
struct repo_record {
	char *path;
	char *repo_id;
	bool encrypted;
	char *keyfile, *passfile; /* NULL when not encrypted */
	bool is_default;
	int64_t created_ms;
};
void repo_record_release(struct repo_record *r);
/* The first repository recorded becomes the default. */
int store_repo_insert(struct store *s, const struct repo_record *r);
int store_repo_get(struct store *s, const char *path, struct repo_record *out);
/* The default repository; -ENOENT if there is none. */
int store_repo_get_default(struct store *s, struct repo_record *out);
int store_repo_list(struct store *s, struct repo_record **out, size_t *n);
void store_repo_list_free(struct repo_record *list, size_t n);
int store_repo_set_default(struct store *s, const char *path);
int store_repo_delete(struct store *s, const char *path);

/* Backup policies (store_backup.c): the policy JSON (backup/policy.h) by name,
 * with the times of the last and next scheduled run (unix seconds, 0 = none). */
struct policy_record {
	char *name;
	char *def;
	int64_t last_run, next_run;
};
void policy_record_release(struct policy_record *p);
/* Insert or replace the definition; keeps last_run. */
int store_policy_put(struct store *s, const char *name, const char *def, int64_t next_run);
int store_policy_get(struct store *s, const char *name, struct policy_record *out);
int store_policy_list(struct store *s, struct policy_record **out, size_t *n);
void store_policy_list_free(struct policy_record *list, size_t n);
int store_policy_set_runs(struct store *s, const char *name, int64_t last_run, int64_t next_run);
int store_policy_delete(struct store *s, const char *name);

/* Snapshots (store_snap.c): the tree of a VM's snapshots. */
struct snap_record {
	char *vm;          /* uuid */
	char *name;
	char *parent;      /* NULL for a root */
	int64_t created_ms;
	char *description;
	bool memory;       /* RAM state saved */
	bool was_running;  /* the VM ran when it was taken */
	char *def;         /* the VM definition (JSON) at that moment */
	char *state;       /* "creating", "ready", "deleting" or "reverting" */
};
void snap_record_release(struct snap_record *r);
int store_snap_insert(struct store *s, const struct snap_record *r);
int store_snap_get(struct store *s, const char *vm, const char *name, struct snap_record *out);
/* A VM's snapshots, oldest first; vm NULL: every VM's. */
int store_snap_list(struct store *s, const char *vm, struct snap_record **out, size_t *n);
void store_snap_list_free(struct snap_record *list, size_t n);
int store_snap_set_state(struct store *s, const char *vm, const char *name, const char *state);
/* Remove a snapshot and give its children its parent, in one transaction;
 * if it was the VM's current snapshot its parent becomes current. */
int store_snap_delete(struct store *s, const char *vm, const char *name);
/* The snapshot the VM's present state descends from (parent of the next one), or NULL. */
int store_snap_current_get(struct store *s, const char *vm, char **name);
int store_snap_current_set(struct store *s, const char *vm, const char *name);
/* Forget every snapshot row of a VM (the VM is being deleted). */
int store_snap_delete_vm(struct store *s, const char *vm);

#endif
