/*
 * store_internal.h - what the store_*.c files share; not for other modules.
 *
 * store.c owns the two connections and opening; store_schema.c the schema
 * and every migration; store_apply.c the batch format, the submit hook and
 * the apply engine with its table of op handlers; store_vm.c, store_vol.c,
 * store_pool.c, store_snap.c and store_backup.c the reads and op handlers
 * of one concern each; store_local.c the host-local half.
 *
 * Locking: each connection has its own mutex; every helper below that takes
 * a `struct store_conn *` expects the caller to hold that connection's lock,
 * except store_get_row/store_list_rows, which take it.  No code path holds
 * both locks at once.
 */
#ifndef CORRAL_CORE_STORE_INTERNAL_H
#define CORRAL_CORE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

struct store_conn {
	sqlite3 *db;
	pthread_mutex_t lock;
};

struct store {
	struct store_conn cfg;   /* configuration: its reads, and store_apply */
	struct store_conn local; /* host-local: runtime, jobs, events, policy runs */
	store_submit_fn *submit; /* NULL: store_apply here */
	void *submit_opaque;
};

/* Create or migrate the schema of a freshly opened connection (store_schema.c).
 * `version` is the file's PRAGMA user_version, known to be <= STORE_SCHEMA_VERSION. */
int store_schema_migrate(sqlite3 *db, int version);

/* Log the SQLite error of `what` and map it: -EEXIST (unique), -ENOSPC, -EAGAIN (still locked), else -EIO. */
int store_db_fail(struct store_conn *c, const char *what);
/*
 * Prepare `sql`, bind arguments by `fmt` ("s" text or NULL, "i" int64_t,
 * "d" double), step once.  0 if a row changed, -ENOENT if none, <0 on error.
 */
int store_exec(struct store_conn *c, const char *sql, const char *fmt, ...);
/* Like store_exec for a query: the first column of its first row as int64 in *out; -ENOENT if no row. */
int store_query_int(struct store_conn *c, int64_t *out, const char *sql, const char *fmt, ...);
/* The first column of the first row as a new string (NULL for SQL NULL) in *out; -ENOENT if no row. */
int store_query_str(struct store_conn *c, char **out, const char *sql, const char *fmt, ...);
/* Column i as a new string, or NULL for SQL NULL. */
char *store_col_dup(sqlite3_stmt *st, int i);

/* Fill the record `out` points to from the current row of `st`. */
typedef void row_fn(sqlite3_stmt *st, void *out);
/* The one row `sql` selects with `key` bound to ?1 (takes the lock); -ENOENT if none. */
int store_get_row(struct store_conn *c, const char *sql, const char *what, const char *key, row_fn *row,
		  void *out);
/* Every row `sql` selects into a malloc'd array of `size`-byte records (takes the lock).
 * On failure *list is NULL and *n 0. */
int store_list_rows(struct store_conn *c, const char *sql, const char *what, size_t size, row_fn *row,
		    void (*release)(void *), void **list, size_t *n);

/* store_apply, and then(c, arg) inside the same transaction once every op
 * applied (its failure rolls the batch back): store_replica.c's chain. */
int store_apply_then(struct store *s, const json_t *batch, struct buf *err, int (*then)(struct store_conn *c, void *arg),
		     void *arg);
/* Submit a one-op batch built by `add` (the one-change wrappers); the reason of a
 * refusal is logged, the caller gets the -errno. */
int store_commit_one(struct store *s, struct store_batch *b);

/* ---- the apply: op handlers (store_apply.c runs them) ---- */

/* One batch being applied: inside a transaction on s->cfg, its lock held. */
struct store_apply {
	struct store_conn *c;
	int64_t time;     /* the batch's time (ms since the epoch): every stored time comes from it */
	const char *op;   /* the op's name, for messages */
	struct buf *err;  /* one sentence for the user on failure */
};

typedef int store_op_fn(struct store_apply *a, const json_t *op);

/*
 * Reading an op's members; each appends a sentence naming the op and the
 * member and returns -EINVAL on a wrong type.  op_str: a string, or (unless
 * required) absent/null -> *out NULL.  op_bool: absent -> false.  op_int:
 * absent -> *present false (when present is non-NULL; else required).
 */
int op_str(struct store_apply *a, const json_t *op, const char *key, bool required, const char **out);
int op_bool(struct store_apply *a, const json_t *op, const char *key, bool *out);
int op_int(struct store_apply *a, const json_t *op, const char *key, int64_t *out, bool *present);
/* Log an SQLite failure and say in a->err that the database failed. */
int op_db_fail(struct store_apply *a, int r);
/*
 * Ops of a table of named JSON definitions (name PRIMARY KEY, def, created:
 * policies, alarms): put {"name","def"} inserts or replaces the definition
 * (def must be the text of a JSON object), delete {"name"} removes it ("NOUN
 * 'NAME' does not exist" when absent).  `table` is a fixed table name.
 */
int op_named_def_put(struct store_apply *a, const json_t *op, const char *table);
int op_named_def_delete(struct store_apply *a, const json_t *op, const char *table, const char *noun);
/* The name of VM `uuid` for messages (caller frees), or a copy of the uuid. */
char *op_vm_name(struct store_apply *a, const char *uuid);

store_op_fn op_vm_put, op_vm_host, op_vm_delete;
store_op_fn op_vol_add, op_vol_update, op_vol_delete;
store_op_fn op_pool_add, op_pool_delete;
store_op_fn op_net_put, op_net_delete;
store_op_fn op_ct_put, op_ct_delete;
store_op_fn op_repo_add, op_repo_default, op_repo_delete;
store_op_fn op_policy_put, op_policy_delete;
store_op_fn op_alarm_put, op_alarm_delete;
store_op_fn op_ha_put, op_ha_delete;
store_op_fn op_user_put, op_user_delete, op_token_add, op_token_delete, op_acl_put, op_acl_delete;
store_op_fn op_snap_add, op_snap_state, op_snap_delete, op_snap_current, op_snap_clear;

#endif
