/*
 * store_snap.c - the snapshots table and vms.current_snapshot (see store.h,
 * "snapshots"): reads, and the snap.* ops.
 *
 * A VM's snapshots form a tree through `parent`; the tree is pure metadata
 * (the images only hold one independent tag per snapshot, docs/snapshots.md).
 * Rows are keyed by (vm uuid, name) and go with their VM (foreign key).
 * The ops keep the tree whole: a parent and a current snapshot always exist;
 * deleting a snapshot hands its children to its parent and, if it was the
 * VM's current one, makes the parent current.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define SNAP_COLS "vm,name,parent,created,description,memory,was_running,def,state"

void snap_record_release(struct snap_record *r)
{
	free(r->vm);
	free(r->name);
	free(r->parent);
	free(r->description);
	free(r->def);
	free(r->state);
	r->vm = r->name = r->parent = r->description = r->def = r->state = NULL;
}

static void snap_record_release_v(void *r)
{
	snap_record_release(r);
}

static void row_to_snap(sqlite3_stmt *st, void *rec)
{
	struct snap_record *r = rec;
	r->vm = store_col_dup(st, 0);
	r->name = store_col_dup(st, 1);
	r->parent = store_col_dup(st, 2);
	r->created_ms = sqlite3_column_int64(st, 3);
	r->description = store_col_dup(st, 4);
	r->memory = sqlite3_column_int(st, 5) != 0;
	r->was_running = sqlite3_column_int(st, 6) != 0;
	r->def = store_col_dup(st, 7);
	r->state = store_col_dup(st, 8);
	if (!r->description)
		r->description = xstrdup("");
}

/* The one row of `sql` with ?1 = a and ?2 = b (b may be NULL: then ?2 is NULL). */
static int get_row2(struct store_conn *c, const char *sql, const char *a, const char *b, row_fn *row, void *out)
{
	sqlite3_stmt *st;
	int r = -ENOENT;
	pthread_mutex_lock(&c->lock);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = store_db_fail(c, sql);
		goto out;
	}
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row(st, out);
		r = 0;
	} else if (rc != SQLITE_DONE) {
		r = store_db_fail(c, sql);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int store_snap_get(struct store *s, const char *vm, const char *name, struct snap_record *out)
{
	return get_row2(&s->cfg, "SELECT " SNAP_COLS " FROM snapshots WHERE vm=?1 AND name=?2", vm, name, row_to_snap,
			out);
}

int store_snap_list(struct store *s, const char *vm, struct snap_record **out, size_t *n)
{
	size_t cnt = 0, alloc = 8;
	struct snap_record *arr = xcalloc(alloc, sizeof(*arr));
	sqlite3_stmt *st;
	int r = 0, rc;

	pthread_mutex_lock(&s->cfg.lock);
	if (sqlite3_prepare_v2(s->cfg.db,
			       "SELECT " SNAP_COLS " FROM snapshots WHERE ?1 IS NULL OR vm=?1 ORDER BY created, rowid", -1,
			       &st, NULL) != SQLITE_OK) {
		r = store_db_fail(&s->cfg, "list snapshots");
		goto out;
	}
	sqlite3_bind_text(st, 1, vm, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == alloc) {
			alloc *= 2;
			arr = xrealloc(arr, alloc * sizeof(*arr));
		}
		memset(&arr[cnt], 0, sizeof(arr[cnt]));
		row_to_snap(st, &arr[cnt++]);
	}
	if (rc != SQLITE_DONE)
		r = store_db_fail(&s->cfg, "list snapshots");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->cfg.lock);
	if (r < 0) {
		for (size_t i = 0; i < cnt; i++)
			snap_record_release_v(&arr[i]);
		free(arr);
		arr = NULL;
		cnt = 0;
	}
	*out = arr;
	*n = cnt;
	return r;
}

void store_snap_list_free(struct snap_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		snap_record_release(&list[i]);
	free(list);
}

static void row_to_current(sqlite3_stmt *st, void *out)
{
	*(char **)out = store_col_dup(st, 0);
}

int store_snap_current_get(struct store *s, const char *vm, char **name)
{
	*name = NULL;
	return store_get_row(&s->cfg, "SELECT current_snapshot FROM vms WHERE uuid=?", "get current snapshot", vm,
			     row_to_current, name);
}

/* ---- ops ---- */

/* VM `vm` exists (else -ENOENT and a sentence). */
static int need_vm(struct store_apply *a, const char *vm)
{
	int64_t one;
	int r = store_query_int(a->c, &one, "SELECT 1 FROM vms WHERE uuid=?", "s", vm);
	if (r == -ENOENT)
		buf_printf(a->err, "vm %s does not exist", vm);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

/* 1 if snapshot (vm, name) exists, 0 if not, <0 for a database error (sentence in a->err). */
static int snap_exists(struct store_apply *a, const char *vm, const char *name)
{
	int64_t one;
	int r = store_query_int(a->c, &one, "SELECT 1 FROM snapshots WHERE vm=? AND name=?", "ss", vm, name);
	if (r < 0 && r != -ENOENT)
		return op_db_fail(a, r);
	return r == 0;
}

/* Snapshot (vm, name) exists (else -ENOENT and a sentence). */
static int need_snap(struct store_apply *a, const char *vm, const char *name)
{
	int r = snap_exists(a, vm, name);
	if (r == 0) {
		__do_free char *vmname = op_vm_name(a, vm);
		buf_printf(a->err, "vm '%s' has no snapshot '%s'", vmname, name);
		return -ENOENT;
	}
	return r < 0 ? r : 0;
}

int op_snap_add(struct store_apply *a, const json_t *op)
{
	const char *vm, *name, *parent, *desc, *def, *state;
	bool memory, was_running, has_created;
	int64_t created = 0;
	int r;

	if ((r = op_str(a, op, "vm", true, &vm)) < 0 || (r = op_str(a, op, "name", true, &name)) < 0 ||
	    (r = op_str(a, op, "parent", false, &parent)) < 0 || (r = op_str(a, op, "description", false, &desc)) < 0 ||
	    (r = op_str(a, op, "def", true, &def)) < 0 || (r = op_str(a, op, "state", true, &state)) < 0 ||
	    (r = op_bool(a, op, "memory", &memory)) < 0 || (r = op_bool(a, op, "was_running", &was_running)) < 0 ||
	    (r = op_int(a, op, "created", &created, &has_created)) < 0)
		return r;
	if ((r = need_vm(a, vm)) < 0 || (parent && (r = need_snap(a, vm, parent)) < 0))
		return r;
	if ((r = snap_exists(a, vm, name)) != 0) {
		if (r < 0)
			return r;
		__do_free char *vmname = op_vm_name(a, vm);
		buf_printf(a->err, "vm '%s' already has a snapshot '%s'", vmname, name);
		return -EEXIST;
	}
	r = store_exec(a->c, "INSERT INTO snapshots(" SNAP_COLS ") VALUES(?,?,?,?,?,?,?,?,?)", "sssisiiss", vm, name,
		       parent, has_created ? created : a->time, desc ? desc : "", (int64_t)memory, (int64_t)was_running,
		       def, state);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_snap_state(struct store_apply *a, const json_t *op)
{
	const char *vm, *name, *state;
	int r;
	if ((r = op_str(a, op, "vm", true, &vm)) < 0 || (r = op_str(a, op, "name", true, &name)) < 0 ||
	    (r = op_str(a, op, "state", true, &state)) < 0 || (r = need_snap(a, vm, name)) < 0)
		return r;
	r = store_exec(a->c, "UPDATE snapshots SET state=? WHERE vm=? AND name=?", "sss", state, vm, name);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_snap_delete(struct store_apply *a, const json_t *op)
{
	const char *vm, *name;
	int r;
	if ((r = op_str(a, op, "vm", true, &vm)) < 0 || (r = op_str(a, op, "name", true, &name)) < 0 ||
	    (r = need_snap(a, vm, name)) < 0)
		return r;
	/* The children and the VM's "current" move up to the deleted one's parent. */
	if (((r = store_exec(a->c,
			     "UPDATE snapshots SET parent=(SELECT parent FROM snapshots WHERE vm=?1 AND name=?2) "
			     "WHERE vm=?1 AND parent=?2",
			     "ss", vm, name)) < 0 && r != -ENOENT) ||
	    ((r = store_exec(a->c,
			     "UPDATE vms SET current_snapshot=(SELECT parent FROM snapshots WHERE vm=?1 AND name=?2) "
			     "WHERE uuid=?1 AND current_snapshot=?2",
			     "ss", vm, name)) < 0 && r != -ENOENT) ||
	    (r = store_exec(a->c, "DELETE FROM snapshots WHERE vm=? AND name=?", "ss", vm, name)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_snap_current(struct store_apply *a, const json_t *op)
{
	const char *vm, *name;
	int r;
	if ((r = op_str(a, op, "vm", true, &vm)) < 0 || (r = op_str(a, op, "name", false, &name)) < 0)
		return r;
	if (!json_object_get(op, "name")) {
		buf_printf(a->err, "store op %s: 'name' is missing", a->op);
		return -EINVAL;
	}
	if ((r = need_vm(a, vm)) < 0 || (name && (r = need_snap(a, vm, name)) < 0))
		return r;
	r = store_exec(a->c, "UPDATE vms SET current_snapshot=? WHERE uuid=?", "ss", name, vm);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_snap_clear(struct store_apply *a, const json_t *op)
{
	const char *vm;
	int r;
	if ((r = op_str(a, op, "vm", true, &vm)) < 0)
		return r;
	if (((r = store_exec(a->c, "DELETE FROM snapshots WHERE vm=?", "s", vm)) < 0 && r != -ENOENT) ||
	    ((r = store_exec(a->c, "UPDATE vms SET current_snapshot=NULL WHERE uuid=?", "s", vm)) < 0 && r != -ENOENT))
		return op_db_fail(a, r);
	return 0;
}

/* ---- one-op batches ---- */

int store_snap_insert(struct store *s, const struct snap_record *r)
{
	struct store_batch *b = store_batch_new();
	store_batch_snap_add(b, r);
	return store_commit_one(s, b);
}

int store_snap_set_state(struct store *s, const char *vm, const char *name, const char *state)
{
	struct store_batch *b = store_batch_new();
	store_batch_snap_state(b, vm, name, state);
	return store_commit_one(s, b);
}

int store_snap_delete(struct store *s, const char *vm, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_snap_delete(b, vm, name);
	return store_commit_one(s, b);
}

int store_snap_current_set(struct store *s, const char *vm, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_snap_current(b, vm, name);
	return store_commit_one(s, b);
}

int store_snap_delete_vm(struct store *s, const char *vm)
{
	struct store_batch *b = store_batch_new();
	store_batch_snap_clear(b, vm);
	return store_commit_one(s, b);
}
