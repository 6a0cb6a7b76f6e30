/*
 * store.c - opening the state database with its two connections, and the
 * small query helpers every store_*.c file uses (see store_internal.h).
 *
 * The configuration connection opens the file, checks its schema version
 * before changing anything, and migrates it (store_schema.c); the host-local
 * connection opens the same file afterwards.  Both run in WAL mode, where
 * readers never wait for the (one) writer, with synchronous=FULL and foreign
 * keys on.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/log.h"
#include "util/common.h"

#define BUSY_TIMEOUT_MS 5000

int store_db_fail(struct store_conn *c, const char *what)
{
	log_msg(LOG_LVL_ERROR, 0, "store: %s: %s", what, sqlite3_errmsg(c->db));
	int ext = sqlite3_extended_errcode(c->db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	if ((ext & 0xff) == SQLITE_FULL)
		return -ENOSPC;
	if ((ext & 0xff) == SQLITE_BUSY || (ext & 0xff) == SQLITE_LOCKED)
		return -EAGAIN; /* the other connection (or process) held the write lock past the timeout */
	return -EIO;
}

static int read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	*version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return 0;
}

/* Open one connection to `path` with its mutex; only `create` may create the file. */
static int conn_open(struct store_conn *c, const char *path, bool create, struct buf *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
	pthread_mutex_init(&c->lock, NULL);
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		buf_printf(err, "cannot open state database %s: %s", path,
			   c->db ? sqlite3_errmsg(c->db) : "out of memory");
		return -EIO;
	}
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	return 0;
}

static void conn_close(struct store_conn *c)
{
	if (c->db)
		sqlite3_close(c->db);
	c->db = NULL;
	pthread_mutex_destroy(&c->lock);
}

static const char conn_pragmas[] = "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;";

struct store *store_open(const char *path, struct buf *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int version = 0;

	if (conn_open(&s->cfg, path, true, err) < 0)
		goto fail;
	if (read_version(s->cfg.db, &version) < 0)
		goto sqlfail;
	if (version > STORE_SCHEMA_VERSION) {
		buf_printf(err, "state database %s has schema version %d, newer than this corrald (%d)", path, version,
			   STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* Only now that the version is known to be ours may the file be changed. */
	if (sqlite3_exec(s->cfg.db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
	    store_schema_migrate(s->cfg.db, version) < 0 ||
	    sqlite3_exec(s->cfg.db, conn_pragmas, NULL, NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	if (conn_open(&s->local, path, false, err) < 0)
		goto fail;
	if (sqlite3_exec(s->local.db, conn_pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		buf_printf(err, "state database %s: %s", path, sqlite3_errmsg(s->local.db));
		goto fail;
	}
	return s;
sqlfail:
	buf_printf(err, "state database %s: %s", path, sqlite3_errmsg(s->cfg.db));
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->local.db)
		conn_close(&s->local);
	if (s->cfg.db)
		conn_close(&s->cfg);
	free(s);
}

/* Prepare `sql` and bind the arguments by `fmt`; NULL (error logged) on failure. */
static sqlite3_stmt *prepare_bind(struct store_conn *c, const char *sql, const char *fmt, va_list ap)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(c, sql);
		return NULL;
	}
	for (int i = 0; fmt[i]; i++) {
		if (fmt[i] == 's') {
			const char *v = va_arg(ap, const char *);
			if (v)
				sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
			else
				sqlite3_bind_null(st, i + 1);
		} else if (fmt[i] == 'i') {
			sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
		} else {
			sqlite3_bind_double(st, i + 1, va_arg(ap, double));
		}
	}
	return st;
}

int store_exec(struct store_conn *c, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = prepare_bind(c, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return -EIO;
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int r = store_db_fail(c, sql);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	return sqlite3_changes(c->db) > 0 ? 0 : -ENOENT;
}

/* Step a query once: 0 with the row ready, -ENOENT if none, <0 on error (st finalized then). */
static int step_first(struct store_conn *c, sqlite3_stmt *st, const char *sql)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 0;
	int r = rc == SQLITE_DONE ? -ENOENT : store_db_fail(c, sql);
	sqlite3_finalize(st);
	return r;
}

int store_query_int(struct store_conn *c, int64_t *out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sqlite3_stmt *st = prepare_bind(c, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return -EIO;
	int r = step_first(c, st, sql);
	if (r < 0)
		return r;
	*out = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int store_query_str(struct store_conn *c, char **out, const char *sql, const char *fmt, ...)
{
	va_list ap;
	*out = NULL;
	va_start(ap, fmt);
	sqlite3_stmt *st = prepare_bind(c, sql, fmt, ap);
	va_end(ap);
	if (!st)
		return -EIO;
	int r = step_first(c, st, sql);
	if (r < 0)
		return r;
	*out = store_col_dup(st, 0);
	sqlite3_finalize(st);
	return 0;
}

char *store_col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, i));
}

int store_get_row(struct store_conn *c, const char *sql, const char *what, const char *key, row_fn *row, void *out)
{
	sqlite3_stmt *st;
	int r = -ENOENT;
	pthread_mutex_lock(&c->lock);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = store_db_fail(c, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row(st, out);
		r = 0;
	} else if (rc != SQLITE_DONE) {
		r = store_db_fail(c, what);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

int store_list_rows(struct store_conn *c, const char *sql, const char *what, size_t size, row_fn *row,
		    void (*release)(void *), void **list, size_t *n)
{
	sqlite3_stmt *st;
	size_t cnt = 0, alloc = 16;
	char *arr = xcalloc(alloc, size);
	int r = 0, rc;

	pthread_mutex_lock(&c->lock);
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = store_db_fail(c, what);
		goto out;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == alloc) {
			alloc *= 2;
			arr = xrealloc(arr, alloc * size);
		}
		memset(arr + cnt * size, 0, size);
		row(st, arr + cnt++ * size);
	}
	if (rc != SQLITE_DONE)
		r = store_db_fail(c, what);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		for (size_t i = 0; i < cnt; i++)
			release(arr + i * size);
		free(arr);
		arr = NULL;
		cnt = 0;
	}
	*list = arr;
	*n = cnt;
	return r;
}
