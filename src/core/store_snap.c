/*
 * store_snap.c - the snapshots table and vms.current_snapshot (see store.h,
 * "Snapshots").
 *
 * A VM's snapshots form a tree through `parent`; the tree is pure metadata
 * (the images only hold one independent tag per snapshot, docs/snapshots.md).
 * Rows are keyed by (vm uuid, name).  Deleting a snapshot hands its children
 * to its parent and, if it was the VM's current one, makes the parent
 * current, in one transaction so the tree is never seen half-changed.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/timeutil.h"
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

static char *col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, i));
}

static int row_to_snap(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct snap_record *r = rec;
	(void)s;
	r->vm = col_dup(st, 0);
	r->name = col_dup(st, 1);
	r->parent = col_dup(st, 2);
	r->created_ms = sqlite3_column_int64(st, 3);
	r->description = col_dup(st, 4);
	r->memory = sqlite3_column_int(st, 5) != 0;
	r->was_running = sqlite3_column_int(st, 6) != 0;
	r->def = col_dup(st, 7);
	r->state = col_dup(st, 8);
	if (!r->description)
		r->description = xstrdup("");
	return 0;
}

int store_snap_insert(struct store *s, const struct snap_record *r)
{
	pthread_mutex_lock(&s->lock);
	int rc = store_exec(s,
			    "INSERT INTO snapshots(" SNAP_COLS ") VALUES(?,?,?,?,?,?,?,?,?)", "sssisiiss", r->vm,
			    r->name, r->parent, r->created_ms ? r->created_ms : time_wall_ms(),
			    r->description ? r->description : "", (int64_t)r->memory, (int64_t)r->was_running,
			    r->def ? r->def : "{}", r->state ? r->state : "creating");
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Prepare `sql` and bind a (and b, unless NULL) as ?1, ?2; the caller holds s->lock. */
static sqlite3_stmt *prepare2(struct store *s, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(s, sql);
		return NULL;
	}
	sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (b)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	return st;
}

int store_snap_get(struct store *s, const char *vm, const char *name, struct snap_record *out)
{
	int r = -ENOENT;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = prepare2(s, "SELECT " SNAP_COLS " FROM snapshots WHERE vm=? AND name=?", vm, name);
	if (!st) {
		r = -EIO;
		goto out;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row_to_snap(s, st, out);
	else if (rc != SQLITE_DONE)
		r = store_db_fail(s, "get snapshot");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_snap_list(struct store *s, const char *vm, struct snap_record **out, size_t *n)
{
	size_t cnt = 0, alloc = 8;
	struct snap_record *arr = xcalloc(alloc, sizeof(*arr));
	int r = 0, rc;

	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = prepare2(s,
				    "SELECT " SNAP_COLS " FROM snapshots WHERE ?1 IS NULL OR vm=?1 "
				    "ORDER BY created, rowid",
				    vm, NULL);
	if (!st) {
		r = -EIO;
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == alloc) {
			alloc *= 2;
			arr = xrealloc(arr, alloc * sizeof(*arr));
		}
		memset(&arr[cnt], 0, sizeof(arr[cnt]));
		row_to_snap(s, st, &arr[cnt++]);
	}
	if (rc != SQLITE_DONE)
		r = store_db_fail(s, "list snapshots");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		store_snap_list_free(arr, cnt);
		arr = NULL;
		cnt = 0;
	}
	*out = arr;
	*n = cnt;
	return r;
}

void store_snap_list_free(struct snap_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snap_record_release(&list[i]);
	free(list);
}

int store_snap_set_state(struct store *s, const char *vm, const char *name, const char *state)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE snapshots SET state=? WHERE vm=? AND name=?", "sss", state, vm, name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* The statements of store_snap_delete; the caller holds the lock and a transaction. */
static int reparent_and_delete(struct store *s, const char *vm, const char *name)
{
	int r;
	/* The children and the VM's "current" move up to the deleted one's parent. */
	if ((r = store_exec(s,
			    "UPDATE snapshots SET parent=(SELECT parent FROM snapshots WHERE vm=?1 AND name=?2) "
			    "WHERE vm=?1 AND parent=?2",
			    "ss", vm, name)) < 0 && r != -ENOENT)
		return r;
	if ((r = store_exec(s,
			    "UPDATE vms SET current_snapshot=(SELECT parent FROM snapshots WHERE vm=?1 AND name=?2) "
			    "WHERE uuid=?1 AND current_snapshot=?2",
			    "ss", vm, name)) < 0 && r != -ENOENT)
		return r;
	return store_exec(s, "DELETE FROM snapshots WHERE vm=? AND name=?", "ss", vm, name);
}

int store_snap_delete(struct store *s, const char *vm, const char *name)
{
	int r;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		r = store_db_fail(s, "begin snapshot delete");
	else if ((r = reparent_and_delete(s, vm, name)) < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	else if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_db_fail(s, "commit snapshot delete");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_snap_current_get(struct store *s, const char *vm, char **name)
{
	int r = -ENOENT;
	*name = NULL;
	pthread_mutex_lock(&s->lock);
	sqlite3_stmt *st = prepare2(s, "SELECT current_snapshot FROM vms WHERE uuid=?", vm, NULL);
	if (!st) {
		r = -EIO;
		goto out;
	}
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*name = col_dup(st, 0);
		r = 0;
	} else if (rc != SQLITE_DONE) {
		r = store_db_fail(s, "get current snapshot");
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_snap_current_set(struct store *s, const char *vm, const char *name)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE vms SET current_snapshot=? WHERE uuid=?", "ss", name, vm);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_snap_delete_vm(struct store *s, const char *vm)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM snapshots WHERE vm=?", "s", vm);
	pthread_mutex_unlock(&s->lock);
	return r == -ENOENT ? 0 : r;
}
