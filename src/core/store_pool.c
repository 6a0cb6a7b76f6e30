/*
 * store_pool.c - storage pools in the store (see store.h, "storage
 * pools"): reads, and the pool.add / pool.delete ops.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define POOL_SELECT "SELECT name, path, shared, created FROM pools "

void pool_record_release(struct pool_record *p)
{
	free(p->name);
	free(p->path);
	p->name = p->path = NULL;
}

static void pool_record_release_v(void *p)
{
	pool_record_release(p);
}

static void row_to_pool(sqlite3_stmt *st, void *rec)
{
	struct pool_record *p = rec;
	p->name = store_col_dup(st, 0);
	p->path = store_col_dup(st, 1);
	p->shared = sqlite3_column_int(st, 2) != 0;
	p->created_ms = sqlite3_column_int64(st, 3);
}

int store_pool_get(struct store *s, const char *name, struct pool_record *out)
{
	return store_get_row(&s->cfg, POOL_SELECT "WHERE name=?", "get pool", name, row_to_pool, out);
}

int store_pool_list(struct store *s, struct pool_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, POOL_SELECT "ORDER BY name", "list pools", sizeof(**out), row_to_pool,
				pool_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_pool_list_free(struct pool_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		pool_record_release(&list[i]);
	free(list);
}

/* ---- ops ---- */

int op_pool_add(struct store_apply *a, const json_t *op)
{
	const char *name, *path;
	char *found = NULL;
	bool shared;
	int r;

	if ((r = op_str(a, op, "name", true, &name)) < 0 || (r = op_str(a, op, "path", true, &path)) < 0 ||
	    (r = op_bool(a, op, "shared", &shared)) < 0)
		return r;
	r = store_query_str(a->c, &found, "SELECT name FROM pools WHERE name=?1 OR path=?2", "ss", name, path);
	__do_free char *other = found;
	if (r == 0) {
		if (strcmp(other, name) == 0)
			buf_printf(a->err, "pool '%s' already exists", name);
		else
			buf_printf(a->err, "pool '%s' already has the directory %s", other, path);
		return -EEXIST;
	}
	if (r != -ENOENT ||
	    (r = store_exec(a->c, "INSERT INTO pools(name, path, shared, created) VALUES(?,?,?,?)", "ssii", name, path,
			    (int64_t)shared, a->time)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_pool_delete(struct store_apply *a, const json_t *op)
{
	const char *name;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0)
		return r;
	r = store_exec(a->c, "DELETE FROM pools WHERE name=?", "s", name);
	if (r == -ENOENT)
		buf_printf(a->err, "pool '%s' does not exist", name);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

/* ---- one-op batches ---- */

int store_pool_insert(struct store *s, const char *name, const char *path, bool shared)
{
	struct store_batch *b = store_batch_new();
	store_batch_pool_add(b, name, path, shared);
	return store_commit_one(s, b);
}

int store_pool_delete(struct store *s, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_pool_delete(b, name);
	return store_commit_one(s, b);
}
