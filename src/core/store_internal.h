/*
 * store_internal.h - what the store_*.c files share; not for other modules.
 *
 * store.c owns the connection and the schema (all migrations live there);
 * store_pool.c, store_snap.c, ... add the queries of one concern each using
 * these helpers.  Every helper except store_get_row/store_list_rows expects
 * the caller to hold s->lock.
 */
#ifndef CORRAL_CORE_STORE_INTERNAL_H
#define CORRAL_CORE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "store.h"

struct store {
	sqlite3 *db;
	pthread_mutex_t lock;
};

/* Log the SQLite error of `what` and map it: -EEXIST (unique), -ENOSPC, else -EIO. */
int store_db_fail(struct store *s, const char *what);
/*
 * Prepare `sql`, bind arguments by `fmt` ("s" text or NULL, "i" int64_t,
 * "d" double), step once.  0 if a row changed, -ENOENT if none, <0 on error.
 */
int store_exec(struct store *s, const char *sql, const char *fmt, ...);

/* Fill the record `out` points to from the current row of `st`: 0, or <0 to leave the row out. */
typedef int row_fn(struct store *s, sqlite3_stmt *st, void *out);
/* The one row `sql` selects with `key` bound to ?1 (takes the lock); -ENOENT if none. */
int store_get_row(struct store *s, const char *sql, const char *what, const char *key, row_fn *row, void *out);
/* Every row `sql` selects into a malloc'd array of `size`-byte records (takes the lock). */
int store_list_rows(struct store *s, const char *sql, const char *what, size_t size, row_fn *row, void **list,
		    size_t *n);

#endif
