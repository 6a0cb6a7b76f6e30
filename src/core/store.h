/*
 * store.h - corrald's persistent state, and its configuration half.
 *
 * One SQLite database file (WAL, synchronous=FULL, foreign keys) in two
 * halves (docs/state.md):
 *
 *  - configuration: what a pool of hosts shares and every host must hold
 *    identically: VM definitions, volumes (and which VM owns each), storage
 *    pools, snapshot trees, backup repositories and policy definitions.
 *    Declared here.
 *  - host-local: what is only this host's: VM runtime state, jobs, events,
 *    the policy scheduler's run times.  Declared in core/store_local.h.
 *
 * Each half has its own connection and mutex, so a host-local write (job
 * progress, an event) never makes a configuration read wait, nor the
 * reverse.  Every call is safe from any thread.
 *
 * Every configuration change is a batch of ops (JSON, docs/state.md "Batch
 * format", versioned: STORE_BATCH_VERSION) applied atomically by
 * store_apply() in one transaction, by a table of op handlers.  The apply is
 * deterministic: given the same prior state, every host reaches the same
 * state and the same refusal (times come from the batch, never the clock).
 * store_batch_commit() hands a batch to the submit hook, by default
 * store_apply() on this host; the pool code replaces the hook to deliver
 * batches in one order to every host, each of which calls store_apply().
 *
 * The rules the apply enforces (vm names unique, a volume used by at most
 * one VM and existing, generations, no deleting a used volume) hold however
 * the batch was built.  Calls return 0 or -errno: -ENOENT (no such row),
 * -EEXIST (unique clash), -EBUSY (in use), -ESTALE (generation mismatch),
 * -EINVAL (malformed op), -EAGAIN (the database stayed locked for 5 s),
 * -EIO (SQLite failed; its message is logged).
 *
 * Records returned are owned by the caller (the *_release / *_list_free
 * functions, NULL-safe); JSON returned is a new reference.
 */
#ifndef CORRAL_CORE_STORE_H
#define CORRAL_CORE_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/vmdef.h"
#include "core/vmstate.h"
#include "util/buf.h"

/* PRAGMA user_version of the layout this corrald writes (docs/state.md). */
#define STORE_SCHEMA_VERSION 16
/* The "v" of a batch (docs/state.md "Batch format"); a batch of another version is refused. */
#define STORE_BATCH_VERSION 1

struct store;

/*
 * Open (creating or migrating) the database at `path`.  A database of a
 * newer schema is refused before anything in the file changes.  NULL and
 * one sentence in err on failure.
 */
struct store *store_open(const char *path, struct buf *err);
void store_close(struct store *s);

/* ---- VMs ---- */

struct vm_record {
	/* Never NULL.  When `invalid` is set, a placeholder carrying only the
	 * row's name and uuid (0 cpus and memory: no vm.put accepts it back). */
	struct vm_def *def;
	char *invalid;      /* NULL, or why the stored definition does not parse or validate */
	int64_t generation; /* bumped by every change of the row; the API's ETag */
	char *host;         /* the host owning the VM; NULL = this host (no pool) */
	/* host-local (vm_runtime); a VM this host never ran: stopped, "created", its creation time */
	enum vm_state state;
	char *reason;       /* why the VM is in this state ("guest shutdown", "qemu exited: ...") */
	int64_t since_ms;   /* wall clock of the last state change */
};
void vm_record_release(struct vm_record *r);

/* Look up by uuid; -ENOENT if none.  A row whose definition is unusable is returned flagged `invalid`. */
int store_vm_get(struct store *s, const char *uuid, struct vm_record *out);
/* All VMs ordered by name (invalid ones included, flagged); *out is a malloc'd array of *n records. */
int store_vm_list(struct store *s, struct vm_record **out, size_t *n);
/* The uuid of the VM named `key`, else of the VM whose uuid is `key` (any
 * case): one indexed query, no definition parsed.  0 or -ENOENT. */
int store_vm_lookup(struct store *s, const char *key, char uuid[37]);
void store_vm_list_free(struct vm_record *list, size_t n);

/* One-op batches.  Insert: -EEXIST if the name or uuid is taken, -ENOENT/-EBUSY for its volumes. */
int store_vm_insert(struct store *s, const struct vm_def *d);
/* Replace the definition of the VM with d->uuid (name may change), at any generation. */
int store_vm_update_def(struct store *s, const struct vm_def *d);
/* Delete the VM; its volumes become free, its snapshot rows and runtime state go with it. */
int store_vm_delete(struct store *s, const char *uuid);

/* ---- volumes ---- */

struct vol_record {
	char *name;
	char *format;
	char *path;
	int64_t created_ms;
	char *pool;     /* pool name ("default" when NULL on insert) */
	char *backing;  /* name of the volume this one is a linked clone of, or NULL */
	bool readonly;  /* a template's volume */
	/* Read-only here (vm.put maintains them): the VM whose definition uses
	 * the volume, uuid and name, NULL when free.  add/update ignore them. */
	char *vm;
	char *vm_name;
	/* The same for a system container using it (its root or a mount
	 * point; ct.put maintains them, schema v16): uuid and name, or NULL. */
	char *ct;
	char *ct_name;
};
void vol_record_release(struct vol_record *v);
int store_vol_get(struct store *s, const char *name, struct vol_record *out);
/* Ordered by name, each with its owner (one query). */
int store_vol_list(struct store *s, struct vol_record **out, size_t *n);
void store_vol_list_free(struct vol_record *list, size_t n);
/* The VM using volume `name`: *uuid and *vm_name (caller frees; both NULL when
 * free; either pointer may be NULL if not wanted).  -ENOENT if no such volume. */
int store_vol_owner(struct store *s, const char *name, char **uuid, char **vm_name);

/* Insert into the default pool (a shorthand for store_vol_add). */
int store_vol_insert(struct store *s, const char *name, const char *format, const char *path);
int store_vol_add(struct store *s, const struct vol_record *v);
/* Rewrite format, path, pool, backing and readonly of the volume named v->name. */
int store_vol_update(struct store *s, const struct vol_record *v);
/* -EBUSY if a VM or a container uses it. */
int store_vol_delete(struct store *s, const char *name);

/* ---- storage pools (store_pool.c): a directory volumes live in ---- */

struct pool_record {
	char *name;
	char *path;   /* absolute */
	bool shared;  /* a filesystem mounted on every host (for migration/HA later) */
	int64_t created_ms;
};
void pool_record_release(struct pool_record *p);
int store_pool_get(struct store *s, const char *name, struct pool_record *out);
/* Ordered by name. */
int store_pool_list(struct store *s, struct pool_record **out, size_t *n);
void store_pool_list_free(struct pool_record *list, size_t n);
/* -EEXIST if the name or the path is taken. */
int store_pool_insert(struct store *s, const char *name, const char *path, bool shared);
int store_pool_delete(struct store *s, const char *name);

/* ---- networks (store_net.c): definitions (net/netdef.h JSON) by name ---- */

struct net_record {
	char *name;
	char *def;          /* JSON text */
	int64_t created_ms;
};
void net_record_release(struct net_record *n);
int store_net_get(struct store *s, const char *name, struct net_record *out);
/* Ordered by name. */
int store_net_list(struct store *s, struct net_record **out, size_t *n);
void store_net_list_free(struct net_record *list, size_t n);
/* The names of the VMs whose definitions have a NIC on network `name`, comma-separated
 * (NULL when none; caller frees).  0 or -errno. */
int store_net_users(struct store *s, const char *name, char **vms);

/* ---- system containers (store_ct.c): definitions (core/ctdef.h JSON) by uuid ---- */

struct ct_record {
	char *uuid;
	char *name;
	char *def;          /* JSON text */
	int64_t created_ms;
};
void ct_record_release(struct ct_record *r);
/* By name, else by uuid (any case); -ENOENT if none. */
int store_ct_get(struct store *s, const char *key, struct ct_record *out);
/* Ordered by name. */
int store_ct_list(struct store *s, struct ct_record **out, size_t *n);
void store_ct_list_free(struct ct_record *list, size_t n);

/* ---- backup repositories (store_backup.c), by absolute path ----
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
int store_repo_get(struct store *s, const char *path, struct repo_record *out);
/* The default repository; -ENOENT if there is none. */
int store_repo_get_default(struct store *s, struct repo_record *out);
int store_repo_list(struct store *s, struct repo_record **out, size_t *n);
void store_repo_list_free(struct repo_record *list, size_t n);
/* The first repository recorded becomes the default. */
int store_repo_insert(struct store *s, const struct repo_record *r);
int store_repo_set_default(struct store *s, const char *path);
/* Deleting the default makes the oldest remaining repository the default. */
int store_repo_delete(struct store *s, const char *path);

/* ---- backup policies (store_backup.c) ----
 * The policy JSON (backup/policy.h), stored verbatim, by name; with this
 * host's times of the last and next scheduled run (unix seconds, 0 = none). */
struct policy_record {
	char *name;
	char *def;
	int64_t last_run, next_run; /* host-local (policy_runs) */
};
void policy_record_release(struct policy_record *p);
int store_policy_get(struct store *s, const char *name, struct policy_record *out);
int store_policy_list(struct store *s, struct policy_record **out, size_t *n);
void store_policy_list_free(struct policy_record *list, size_t n);
/* Insert or replace the definition (a one-op batch), then set this host's
 * next_run, keeping last_run.  -EINVAL if def is not a JSON object. */
int store_policy_put(struct store *s, const char *name, const char *def, int64_t next_run);
int store_policy_delete(struct store *s, const char *name);

/* ---- alarm rules (store_alarm.c) ----
 * The rule JSON (service/alarms.h), stored verbatim, by name.  Deleting a
 * rule drops its states (alarm_states) too; its history stays. */
struct alarm_record {
	char *name;
	char *def;
	int64_t created; /* ms since the epoch */
};
void alarm_record_release(struct alarm_record *a);
int store_alarm_get(struct store *s, const char *name, struct alarm_record *out);
int store_alarm_list(struct store *s, struct alarm_record **out, size_t *n);
void store_alarm_list_free(struct alarm_record *list, size_t n);
/* Insert or replace (a one-op batch); -EINVAL if def is not a JSON object. */
int store_alarm_put(struct store *s, const char *name, const char *def);
int store_alarm_delete(struct store *s, const char *name);

/* ---- HA resources (store_ha.c; docs/ha.md "HA resources") ----
 * One row per HA-protected VM, replicated pool-wide: key the VM's uuid,
 * def the settings JSON (service/ha.h), stored verbatim. */
struct ha_record {
	char *uuid;
	char *def;
	int64_t created; /* ms since the epoch */
};
void ha_record_release(struct ha_record *h);
/* 0, or -ENOENT when uuid is not HA-protected. */
int store_ha_get(struct store *s, const char *uuid, struct ha_record *out);
int store_ha_list(struct store *s, struct ha_record **out, size_t *n);
void store_ha_list_free(struct ha_record *list, size_t n);
/* The pool's HA settings rows (names starting with '~', e.g. "~host:h3"),
 * which store_ha_list() leaves out; free with store_ha_list_free(). */
int store_ha_settings_list(struct store *s, struct ha_record **out, size_t *n);
/* Insert or replace (a one-op batch, replicated); -EINVAL if def is not a JSON object. */
int store_ha_put(struct store *s, const char *uuid, const char *def);
/* -ENOENT if uuid was not protected. */
int store_ha_delete(struct store *s, const char *uuid);

/* ---- snapshots (store_snap.c): the tree of a VM's snapshots ---- */

struct snap_record {
	char *vm;          /* uuid */
	char *name;
	char *parent;      /* NULL for a root */
	int64_t created_ms;
	char *description;
	bool memory;       /* RAM state saved */
	bool was_running;  /* the VM ran when it was taken */
	char *def;         /* the VM definition (JSON text, stored verbatim) at that moment */
	char *state;       /* "creating", "ready", "deleting" or "reverting" */
};
void snap_record_release(struct snap_record *r);
int store_snap_get(struct store *s, const char *vm, const char *name, struct snap_record *out);
/* A VM's snapshots, oldest first; vm NULL: every VM's. */
int store_snap_list(struct store *s, const char *vm, struct snap_record **out, size_t *n);
void store_snap_list_free(struct snap_record *list, size_t n);
/* The snapshot the VM's present state descends from (parent of the next one), or NULL; -ENOENT: no VM. */
int store_snap_current_get(struct store *s, const char *vm, char **name);

/* The VM and the parent (if any) must exist; created_ms 0 means the batch's time. */
int store_snap_insert(struct store *s, const struct snap_record *r);
int store_snap_set_state(struct store *s, const char *vm, const char *name, const char *state);
/* Remove a snapshot and give its children its parent; if it was the VM's
 * current snapshot its parent becomes current. */
int store_snap_delete(struct store *s, const char *vm, const char *name);
/* name NULL: none; otherwise a snapshot of that VM. */
int store_snap_current_set(struct store *s, const char *vm, const char *name);
/* Forget every snapshot row of a VM (0 also when there were none). */
int store_snap_delete_vm(struct store *s, const char *vm);

/* ---- users, API tokens and ACL entries (store_auth.c) ----
 * Hashes only: a password as its yescrypt string, a token secret as
 * "sha256:<hex>"; no secret is ever stored.  Deleting a user deletes her
 * tokens and every ACL entry naming her or one of her tokens; deleting a
 * token deletes its entries. */
struct user_record {
	char *name, *hash, *comment;
	int64_t created_ms;
};
struct token_record {
	char *user, *id, *hash, *comment;
	int64_t expires_ms; /* 0: never */
	int64_t created_ms;
};
struct acl_record {
	char *subject, *role, *path; /* subject: "user" or "user!tokenid" */
	int64_t created_ms;
};
void user_record_release(struct user_record *u);
void token_record_release(struct token_record *t);
/* -ENOENT if none. */
int store_user_get(struct store *s, const char *name, struct user_record *out);
int store_user_list(struct store *s, struct user_record **out, size_t *n);
void store_user_list_free(struct user_record *list, size_t n);
/* create: -EEXIST if the name is taken; else replace the hash (-ENOENT if no such user). */
int store_user_put(struct store *s, const char *name, const char *hash, const char *comment, bool create);
int store_user_delete(struct store *s, const char *name);
int store_token_get(struct store *s, const char *user, const char *id, struct token_record *out);
/* user NULL: every token. */
int store_token_list(struct store *s, const char *user, struct token_record **out, size_t *n);
void store_token_list_free(struct token_record *list, size_t n);
/* -EEXIST if the user has a token with that id, -ENOENT if no such user. */
int store_token_add(struct store *s, const struct token_record *t);
int store_token_delete(struct store *s, const char *user, const char *id);
int store_acl_list(struct store *s, struct acl_record **out, size_t *n);
void store_acl_list_free(struct acl_record *list, size_t n);
/* Insert or replace the role of subject on path; -ENOENT if the subject's user or token does not exist. */
int store_acl_put(struct store *s, const char *subject, const char *role, const char *path);
/* -ENOENT if there is no such entry. */
int store_acl_delete(struct store *s, const char *subject, const char *path);

/* ---- batches: several configuration changes, all or nothing ----
 *
 *	struct store_batch *b = store_batch_new();
 *	store_batch_vol_add(b, &vol);
 *	store_batch_vm_put(b, def, STORE_GEN_NEW);
 *	r = store_batch_commit(s, b, err);
 *	store_batch_free(b);
 *
 * The builders only record the op; every check happens in the apply, in
 * order, each op seeing the effect of the ones before it.
 */
struct store_batch;

/* vm.put generations: a new VM, or any generation of an existing one; N > 0: exactly N (else -ESTALE). */
#define STORE_GEN_NEW 0
#define STORE_GEN_ANY (-1)

struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
/* Append an op given as JSON (docs/state.md); steals the reference. */
void store_batch_add(struct store_batch *b, json_t *op);
/* The number of ops recorded. */
size_t store_batch_size(const struct store_batch *b);

void store_batch_vm_put(struct store_batch *b, const struct vm_def *d, int64_t gen);
/* Hand the VM to another host (NULL: this host); gen as for vm_put. */
void store_batch_vm_host(struct store_batch *b, const char *uuid, const char *host, int64_t gen);
void store_batch_vm_delete(struct store_batch *b, const char *uuid, int64_t gen);
void store_batch_vol_add(struct store_batch *b, const struct vol_record *v);
void store_batch_vol_update(struct store_batch *b, const struct vol_record *v);
void store_batch_vol_delete(struct store_batch *b, const char *name);
void store_batch_pool_add(struct store_batch *b, const char *name, const char *path, bool shared);
void store_batch_pool_delete(struct store_batch *b, const char *name);
/* create: -EEXIST if the name is taken; else the definition is replaced (-ENOENT if none). */
void store_batch_net_put(struct store_batch *b, const char *name, const char *def, bool create);
/* -EBUSY while a VM definition has a NIC on it. */
/* ct.put: create (uuid new, name free) or replace container uuid's name and definition. */
void store_batch_ct_put(struct store_batch *b, const char *uuid, const char *name, const char *def, bool create);
void store_batch_ct_delete(struct store_batch *b, const char *uuid);
void store_batch_net_delete(struct store_batch *b, const char *name);
void store_batch_repo_add(struct store_batch *b, const struct repo_record *r);
void store_batch_repo_default(struct store_batch *b, const char *path);
void store_batch_repo_delete(struct store_batch *b, const char *path);
void store_batch_policy_put(struct store_batch *b, const char *name, const char *def);
void store_batch_policy_delete(struct store_batch *b, const char *name);
void store_batch_alarm_put(struct store_batch *b, const char *name, const char *def);
void store_batch_alarm_delete(struct store_batch *b, const char *name);
void store_batch_ha_put(struct store_batch *b, const char *uuid, const char *def);
/* ha.put carrying "ring" (NULL: none): an HA manager's decision, applied in a
 * pool only when delivered in that ring and sent by its manager
 * (service/cluster_store.c); and "base", the row's "rev" the writer read
 * (compare-and-set: refused with -ESTALE when the row changed since, so a
 * write made from a stale copy never overwrites a newer decision).  Every
 * ha.put sets the stored definition's "rev" to the row's previous rev + 1. */
void store_batch_ha_decide(struct store_batch *b, const char *uuid, const char *def, const char *ring, int64_t base);
void store_batch_ha_delete(struct store_batch *b, const char *uuid);
void store_batch_snap_add(struct store_batch *b, const struct snap_record *r);
void store_batch_snap_state(struct store_batch *b, const char *vm, const char *name, const char *state);
void store_batch_snap_delete(struct store_batch *b, const char *vm, const char *name);
void store_batch_snap_current(struct store_batch *b, const char *vm, const char *name);
void store_batch_snap_clear(struct store_batch *b, const char *vm);

/*
 * Stamp the batch with the wall clock and hand it to the submit hook; 0 once
 * it is applied here, else -errno and one sentence in err (nothing of it
 * applied).  The batch may be committed again (a new time) or freed.
 */
int store_batch_commit(struct store *s, struct store_batch *b, struct buf *err);

/*
 * Apply one batch ({"v":1,"time":MS,"ops":[...]}) in one transaction: every
 * op, or (on the first refusal or a malformed op) none.  0, or -errno and one
 * sentence in err.  The pool code calls this on every host in delivery order.
 */
int store_apply(struct store *s, const json_t *batch, struct buf *err);

/*
 * Where store_batch_commit sends a batch.  fn must return only once the
 * batch is applied on this host (or refused), with store_apply's result;
 * it is called without any store lock held.  NULL restores the default
 * (store_apply here).  Set it before other threads use the store.
 */
/*
 * The one-change calls (store_user_put, store_policy_put, ...) return only
 * an -errno; when the pool refused the change (-EROFS: no quorum, syncing,
 * forked; -ETIMEDOUT: outcome unknown) this is the sentence saying why,
 * for the call just made on this thread; else NULL.
 */
const char *store_commit_refusal(int r);
typedef int store_submit_fn(struct store *s, const json_t *batch, struct buf *err, void *opaque);
void store_set_submit(struct store *s, store_submit_fn *fn, void *opaque);

#endif
