/*
 * store_pool.c - the pools table (see store.h, "Storage pools").
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"

void pool_record_release(struct pool_record *p)
{
	free(p->name);
	free(p->path);
	p->name = p->path = NULL;
}

int store_pool_insert(struct store *s, const char *name, const char *path, bool shared)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "INSERT INTO pools(name,path,shared,created) VALUES(?,?,?,?)", "ssii", name, path,
			   (int64_t)shared, time_wall_ms());
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int row_to_pool(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct pool_record *p = rec;
	(void)s;
	p->name = xstrdup((const char *)sqlite3_column_text(st, 0));
	p->path = xstrdup((const char *)sqlite3_column_text(st, 1));
	p->shared = sqlite3_column_int(st, 2) != 0;
	p->created_ms = sqlite3_column_int64(st, 3);
	return 0;
}

int store_pool_get(struct store *s, const char *name, struct pool_record *out)
{
	return store_get_row(s, "SELECT name,path,shared,created FROM pools WHERE name=?", "get pool", name, row_to_pool,
			     out);
}

int store_pool_list(struct store *s, struct pool_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(s, "SELECT name,path,shared,created FROM pools ORDER BY name", "list pools",
				sizeof(struct pool_record), row_to_pool, &list, n);
	*out = list;
	if (r < 0) {
		store_pool_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

void store_pool_list_free(struct pool_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pool_record_release(&list[i]);
	free(list);
}

int store_pool_delete(struct store *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM pools WHERE name=?", "s", name);
	pthread_mutex_unlock(&s->lock);
	return r;
}
