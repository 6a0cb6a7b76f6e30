/*
 * store_cluster.c - this host's pool membership (see store_local.h): one
 * row in the host-local half, written directly through the host-local
 * connection.  The definition is JSON the cluster module checked; the
 * store only keeps it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "store.h"
#include "store_local.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"

struct cluster_row {
	char *def, *self;
};

static void row_to_cluster(sqlite3_stmt *st, void *rec)
{
	struct cluster_row *r = rec;
	r->def = store_col_dup(st, 0);
	r->self = store_col_dup(st, 1);
}

int store_cluster_get(struct store *s, char **def, char **self)
{
	struct cluster_row row = { NULL, NULL };
	int r = store_get_row(&s->local, "SELECT def, self FROM cluster WHERE id=?1", "get cluster", "1",
			      row_to_cluster, &row);
	if (r < 0)
		return r;
	*def = row.def;
	*self = row.self;
	return 0;
}

int store_cluster_put(struct store *s, const char *name, const char *self, const char *def)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "INSERT OR REPLACE INTO cluster(id, name, self, def, updated) VALUES(1,?,?,?,?)",
			   "sssi", name, self, def, time_wall_ms());
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_cluster_delete(struct store *s)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "DELETE FROM cluster", "");
	pthread_mutex_unlock(&s->local.lock);
	return r == -ENOENT ? 0 : r;
}
