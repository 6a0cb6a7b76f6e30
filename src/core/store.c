/*
 * store.c - SQLite-backed persistent state (see store.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define SCHEMA_VERSION 4


static const char schema_v1[] =
	"CREATE TABLE vms ("
	"  uuid TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  def TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'stopped',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL);"
	"CREATE TABLE volumes ("
	"  name TEXT PRIMARY KEY,"
	"  format TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  vm TEXT,"
	"  type TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_vm ON events(vm, id);"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  vm TEXT,"
	"  state TEXT NOT NULL,"
	"  progress REAL NOT NULL DEFAULT 0,"
	"  rate REAL,"
	"  eta INTEGER,"
	"  error TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER);";

/* v2: storage pools, linked clones and templates, snapshots. */
static const char schema_v2[] =
	"CREATE TABLE pools ("
	"  name TEXT PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE,"
	"  shared INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"ALTER TABLE volumes ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';"
	"ALTER TABLE volumes ADD COLUMN backing TEXT;"
	"ALTER TABLE volumes ADD COLUMN readonly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN current_snapshot TEXT;"
	"CREATE TABLE snapshots ("
	"  vm TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  parent TEXT,"
	"  created INTEGER NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  memory INTEGER NOT NULL,"
	"  was_running INTEGER NOT NULL,"
	"  def TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  PRIMARY KEY (vm, name));";

/* v3: backup repositories and policies, job results (backup summaries). */
static const char schema_v3[] =
	"ALTER TABLE jobs ADD COLUMN result TEXT;"
	"CREATE TABLE repos ("
	"  path TEXT PRIMARY KEY,"
	"  repo_id TEXT NOT NULL,"
	"  encrypted INTEGER NOT NULL DEFAULT 0,"
	"  keyfile TEXT,"
	"  passfile TEXT,"
	"  is_default INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE policies ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  last_run INTEGER,"
	"  next_run INTEGER,"
	"  created INTEGER NOT NULL);";

/* v4: jobs started by other jobs, and what a job is doing now. */
static const char schema_v4[] =
	"ALTER TABLE jobs ADD COLUMN parent INTEGER;"
	"ALTER TABLE jobs ADD COLUMN phase TEXT;"
	"CREATE INDEX jobs_vm ON jobs(vm, id);";

static int migrate(sqlite3 *db, int from)
{
	static const char *const steps[] = { schema_v1, schema_v2, schema_v3, schema_v4 };
	for (int v = from; v < SCHEMA_VERSION; v++) {
		char set[64];
		snprintf(set, sizeof(set), "PRAGMA user_version=%d; COMMIT", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return -1;
		if (sqlite3_exec(db, steps[v], NULL, NULL, NULL) != SQLITE_OK ||
		    sqlite3_exec(db, set, NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

int store_db_fail(struct store *s, const char *what)
{
	log_msg(LOG_LVL_ERROR, 0, "store: %s: %s", what, sqlite3_errmsg(s->db));
	int ext = sqlite3_extended_errcode(s->db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return -EEXIST;
	if ((ext & 0xff) == SQLITE_FULL)
		return -ENOSPC;
	return -EIO;
}

struct store *store_open(const char *path, struct buf *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	int version = 0;
	sqlite3_stmt *st = NULL;

	pthread_mutex_init(&s->lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) !=
	    SQLITE_OK) {
		buf_printf(err, "cannot open state database %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		goto sqlfail;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > SCHEMA_VERSION) {
		buf_printf(err, "state database %s has schema version %d, newer than this corrald (%d)", path, version,
			   SCHEMA_VERSION);
		goto fail;
	}
	/* Only now that the version is known to be ours may the file be changed. */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL,
			 NULL, NULL) != SQLITE_OK)
		goto sqlfail;
	if (migrate(s->db, version) < 0)
		goto sqlfail;
	return s;
sqlfail:
	buf_printf(err, "state database %s: %s", path, sqlite3_errmsg(s->db));
fail:
	store_close(s);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Prepare, bind text/int args by a tiny format ("s" text or NULL, "i" int64, "d" double), step once. */
int store_exec(struct store *s, const char *sql, const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_db_fail(s, sql);
	va_start(ap, fmt);
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
	va_end(ap);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		int r = store_db_fail(s, sql);
		sqlite3_finalize(st);
		return r;
	}
	sqlite3_finalize(st);
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

void vm_record_release(struct vm_record *r)
{
	vmdef_free(r->def);
	free(r->reason);
	r->def = NULL;
	r->reason = NULL;
}

int store_vm_insert(struct store *s, const struct vm_def *d)
{
	__do_json json_t *j = vmdef_to_json(d);
	__do_free char *def = json_to_string(j);
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "INSERT INTO vms(uuid,name,def,state,reason,since) VALUES(?,?,?,'stopped','created',?)",
			  "sssi", d->uuid, d->name, def, time_wall_ms());
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vm_update_def(struct store *s, const struct vm_def *d)
{
	__do_json json_t *j = vmdef_to_json(d);
	__do_free char *def = json_to_string(j);
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE vms SET name=?, def=? WHERE uuid=?", "sss", d->name, def, d->uuid);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vm_set_state(struct store *s, const char *uuid, enum vm_state st, const char *reason)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE vms SET state=?, reason=?, since=? WHERE uuid=?", "ssis", vmstate_name(st),
			  reason ? reason : "", time_wall_ms(), uuid);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vm_delete(struct store *s, const char *uuid)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM vms WHERE uuid=?", "s", uuid);
	pthread_mutex_unlock(&s->lock);
	return r;
}


/*
 * The one row `sql` selects with `key` bound to its parameter, through row()
 * into `out`.  -ENOENT when there is none; `what` names the query in the log.
 * Takes the lock.
 */
int store_get_row(struct store *s, const char *sql, const char *what, const char *key, row_fn *row, void *out)
{
	sqlite3_stmt *st;
	int r = -ENOENT;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = store_db_fail(s, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = row(s, st, out);
	else if (rc != SQLITE_DONE)
		r = store_db_fail(s, what);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

/*
 * Every row `sql` selects, through row() into a malloc'd array of `size`-byte
 * records (each zeroed first; a row row() refuses is left out).  On failure
 * *list and *n still hold the records filled so far, for the caller's list
 * free function.  Takes the lock.
 */
int store_list_rows(struct store *s, const char *sql, const char *what, size_t size, row_fn *row, void **list,
		     size_t *n)
{
	sqlite3_stmt *st;
	size_t cnt = 0, alloc = 8;
	char *arr = xcalloc(alloc, size);
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		r = store_db_fail(s, what);
		goto out;
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == alloc) {
			alloc *= 2;
			arr = xrealloc(arr, alloc * size);
		}
		memset(arr + cnt * size, 0, size);
		if (row(s, st, arr + cnt * size) == 0)
			cnt++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		r = store_db_fail(s, what);
out:
	pthread_mutex_unlock(&s->lock);
	*list = arr;
	*n = cnt;
	return r;
}

static int row_to_record(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct vm_record *out = rec;
	struct buf err = BUF_INIT;
	const char *def = (const char *)sqlite3_column_text(st, 0);
	json_error_t je;
	__do_json json_t *j = json_loads(def ? def : "", 0, &je);
	(void)s;
	out->def = j ? vmdef_from_json(j, &err) : NULL;
	if (!out->def) {
		log_msg(LOG_LVL_ERROR, 0, "store: unreadable VM definition: %s", err.s);
		buf_release(&err);
		return -EIO;
	}
	if (vmstate_parse((const char *)sqlite3_column_text(st, 1), &out->state) < 0)
		out->state = VM_STOPPED;
	out->reason = xstrdup((const char *)sqlite3_column_text(st, 2));
	out->since_ms = sqlite3_column_int64(st, 3);
	return 0;
}

int store_vm_get(struct store *s, const char *uuid, struct vm_record *out)
{
	return store_get_row(s, "SELECT def,state,reason,since FROM vms WHERE uuid=?", "get vm", uuid, row_to_record, out);
}

int store_vm_list(struct store *s, struct vm_record **out, size_t *n)
{
	void *list;
	size_t cnt;
	int r = store_list_rows(s, "SELECT def,state,reason,since FROM vms ORDER BY name", "list vms", sizeof(**out),
			  row_to_record, &list, &cnt);
	if (r < 0) {
		store_vm_list_free(list, cnt);
		return r;
	}
	*out = list;
	*n = cnt;
	return 0;
}

void store_vm_list_free(struct vm_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vm_record_release(&list[i]);
	free(list);
}

void vol_record_release(struct vol_record *v)
{
	free(v->name);
	free(v->format);
	free(v->path);
	free(v->pool);
	free(v->backing);
	v->name = v->format = v->path = v->pool = v->backing = NULL;
}

int store_vol_insert(struct store *s, const char *name, const char *format, const char *path)
{
	struct vol_record v = { .name = (char *)name, .format = (char *)format, .path = (char *)path };
	return store_vol_add(s, &v);
}

int store_vol_add(struct store *s, const struct vol_record *v)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "INSERT INTO volumes(name,format,path,created,pool,backing,readonly) VALUES(?,?,?,?,?,?,?)",
			   "sssissi", v->name, v->format, v->path, time_wall_ms(), v->pool ? v->pool : "default",
			   v->backing, (int64_t)v->readonly);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_vol_update(struct store *s, const struct vol_record *v)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE volumes SET format=?, path=?, pool=?, backing=?, readonly=? WHERE name=?", "ssssis",
			   v->format, v->path, v->pool ? v->pool : "default", v->backing, (int64_t)v->readonly, v->name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

static int row_to_vol(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct vol_record *v = rec;
	(void)s;
	v->name = xstrdup((const char *)sqlite3_column_text(st, 0));
	v->format = xstrdup((const char *)sqlite3_column_text(st, 1));
	v->path = xstrdup((const char *)sqlite3_column_text(st, 2));
	v->created_ms = sqlite3_column_int64(st, 3);
	v->pool = xstrdup((const char *)sqlite3_column_text(st, 4));
	v->backing = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, 5));
	v->readonly = sqlite3_column_int(st, 6) != 0;
	return 0;
}

int store_vol_get(struct store *s, const char *name, struct vol_record *out)
{
	return store_get_row(s, "SELECT name,format,path,created,pool,backing,readonly FROM volumes WHERE name=?", "get volume", name, row_to_vol,
		       out);
}

int store_vol_list(struct store *s, struct vol_record **out, size_t *n)
{
	void *list;
	size_t cnt;
	int r = store_list_rows(s, "SELECT name,format,path,created,pool,backing,readonly FROM volumes ORDER BY name", "list volumes",
			  sizeof(**out), row_to_vol, &list, &cnt);
	if (r < 0) {
		store_vol_list_free(list, cnt);
		return r;
	}
	*out = list;
	*n = cnt;
	return 0;
}

void store_vol_list_free(struct vol_record *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		vol_record_release(&list[i]);
	free(list);
}

int store_vol_delete(struct store *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM volumes WHERE name=?", "s", name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_event_add(struct store *s, const char *vm_uuid, const char *type, const char *detail)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "INSERT INTO events(time,vm,type,detail) VALUES(?,?,?,?)", "isss", time_wall_ms(), vm_uuid,
			  type, detail ? detail : "");
	pthread_mutex_unlock(&s->lock);
	return r;
}

json_t *store_event_list(struct store *s, const char *vm_uuid, int limit)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	char stamp[40];

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT time,type,detail FROM (SELECT id,time,type,detail FROM events WHERE vm IS ? "
			       "ORDER BY id DESC LIMIT ?) ORDER BY id",
			       -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(s, "list events");
		goto out;
	}
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s}", "time",
						     time_fmt_rfc3339(sqlite3_column_int64(st, 0), stamp, sizeof(stamp)),
						     "type", (const char *)sqlite3_column_text(st, 1), "detail",
						     (const char *)sqlite3_column_text(st, 2)));
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return arr;
}

/* The job columns a save rewrites, bound from the job JSON (core/job.h). */
static int64_t job_ms(const json_t *job, const char *key)
{
	const char *v = json_string_value(json_object_get(job, key));
	return v ? time_parse_rfc3339(v) : 0;
}

int64_t store_job_insert(struct store *s, const json_t *job)
{
	int64_t id = -1;
	json_t *vm = json_object_get(job, "vm"), *parent = json_object_get(job, "parent");
	pthread_mutex_lock(&s->lock);
	if (store_exec(s, "INSERT INTO jobs(type,target,vm,parent,state,started) VALUES(?,?,?,?,'running',?)", "sssii",
		       json_string_value(json_object_get(job, "type")), json_string_value(json_object_get(job, "target")),
		       json_string_value(vm), json_is_integer(parent) ? (int64_t)json_integer_value(parent) : (int64_t)0,
		       job_ms(job, "started")) == 0)
		id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return id;
}

int store_job_save(struct store *s, int64_t id, const json_t *job)
{
	json_t *eta = json_object_get(job, "eta"), *result = json_object_get(job, "result");
	__do_free char *res = result ? json_dumps(result, JSON_COMPACT) : NULL;
	int64_t finished = job_ms(job, "finished");
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s,
			   "UPDATE jobs SET state=?, progress=?, rate=?, eta=?, phase=?, error=?, result=?,"
			   " finished=NULLIF(?,0) WHERE id=?",
			   "sddisssii", json_string_value(json_object_get(job, "state")),
			   json_number_value(json_object_get(job, "progress")),
			   json_number_value(json_object_get(job, "rate")),
			   json_is_integer(eta) ? (int64_t)json_integer_value(eta) : (int64_t)-1,
			   json_string_value(json_object_get(job, "phase")), json_string_value(json_object_get(job, "error")),
			   res, finished, id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Transitional: the calls of the ad-hoc job threads, until every job runs on core/job.h. */
json_t *store_event_recent(struct store *s, int limit)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	char stamp[40];

	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       "SELECT e.time, e.vm, v.name, e.type, e.detail FROM (SELECT * FROM events ORDER BY id DESC "
			       "LIMIT ?) e LEFT JOIN vms v ON v.uuid = e.vm ORDER BY e.id",
			       -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(s, "list recent events");
		goto out;
	}
	sqlite3_bind_int(st, 1, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *vm = (const char *)sqlite3_column_text(st, 1);
		const char *name = (const char *)sqlite3_column_text(st, 2);
		json_array_append_new(
			arr, json_pack("{s:s,s:o,s:o,s:s,s:s}", "time",
				       time_fmt_rfc3339(sqlite3_column_int64(st, 0), stamp, sizeof(stamp)), "vm",
				       vm ? json_string(vm) : json_null(), "name", name ? json_string(name) : json_null(),
				       "type", (const char *)sqlite3_column_text(st, 3), "detail",
				       (const char *)sqlite3_column_text(st, 4)));
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return arr;
}

int64_t store_job_create(struct store *s, const char *type, const char *target, const char *vm_uuid)
{
	int64_t id = -1;
	pthread_mutex_lock(&s->lock);
	if (store_exec(s, "INSERT INTO jobs(type,target,vm,state,started) VALUES(?,?,?,'running',?)", "sssi", type,
		      target, vm_uuid, time_wall_ms()) == 0)
		id = sqlite3_last_insert_rowid(s->db);
	pthread_mutex_unlock(&s->lock);
	return id;
}

int store_job_progress(struct store *s, int64_t id, double percent, double rate, int64_t eta_s)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE jobs SET progress=?, rate=?, eta=? WHERE id=?", "ddii", percent, rate, eta_s, id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_job_finish(struct store *s, int64_t id, const char *state, const char *error)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s,
			  "UPDATE jobs SET state=?, error=?, finished=?, eta=NULL,"
			  " progress=CASE WHEN ?='succeeded' THEN 100 ELSE progress END WHERE id=?",
			  "ssisi", state, error, time_wall_ms(), state, id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_job_set_result(struct store *s, int64_t id, const json_t *result)
{
	__do_free char *text = json_dumps(result, JSON_COMPACT);
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE jobs SET result=? WHERE id=?", "si", text, id);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_job_fail_stale(struct store *s, const char *reason)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE jobs SET state='failed', error=?, finished=? WHERE state='running'", "si", reason,
			  time_wall_ms());
	pthread_mutex_unlock(&s->lock);
	return r == -ENOENT ? 0 : r;
}

static json_t *row_to_job(sqlite3_stmt *st)
{
	char a[40], b[40];
	json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:f,s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "type",
			      (const char *)sqlite3_column_text(st, 1), "target", (const char *)sqlite3_column_text(st, 2),
			      "state", (const char *)sqlite3_column_text(st, 3), "progress", sqlite3_column_double(st, 4),
			      "started", time_fmt_rfc3339(sqlite3_column_int64(st, 8), a, sizeof(a)));
	json_object_set_new(j, "rate", sqlite3_column_type(st, 5) == SQLITE_NULL ? json_null()
										  : json_real(sqlite3_column_double(st, 5)));
	json_object_set_new(j, "eta", sqlite3_column_type(st, 6) == SQLITE_NULL || sqlite3_column_int64(st, 6) < 0
					      ? json_null()
					      : json_integer(sqlite3_column_int64(st, 6)));
	json_object_set_new(j, "error", sqlite3_column_type(st, 7) == SQLITE_NULL
						? json_null()
						: json_string((const char *)sqlite3_column_text(st, 7)));
	json_object_set_new(j, "finished", sqlite3_column_type(st, 9) == SQLITE_NULL
						   ? json_null()
						   : json_string(time_fmt_rfc3339(sqlite3_column_int64(st, 9), b, sizeof(b))));
	if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
		json_t *res = json_loads((const char *)sqlite3_column_text(st, 10), 0, NULL);
		if (res)
			json_object_set_new(j, "result", res);
	}
	json_object_set_new(j, "vm", sqlite3_column_type(st, 11) == SQLITE_NULL
					     ? json_null()
					     : json_string((const char *)sqlite3_column_text(st, 11)));
	json_object_set_new(j, "parent", sqlite3_column_int64(st, 12) > 0 ? json_integer(sqlite3_column_int64(st, 12))
									  : json_null());
	json_object_set_new(j, "phase", sqlite3_column_type(st, 13) == SQLITE_NULL
						? json_null()
						: json_string((const char *)sqlite3_column_text(st, 13)));
	json_object_set_new(j, "cancelling", json_false());
	json_object_set_new(j, "cancellable", json_false());
	return j;
}

#define JOB_COLS "id,type,target,state,progress,rate,eta,error,started,finished,result,vm,parent,phase"

json_t *store_job_get(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	json_t *j = NULL;
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db, "SELECT " JOB_COLS " FROM jobs WHERE id=?", -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(s, "get job");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = row_to_job(st);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return j;
}

json_t *store_job_list(struct store *s, const char *vm_uuid, int limit)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	pthread_mutex_lock(&s->lock);
	if (sqlite3_prepare_v2(s->db,
			       vm_uuid ? "SELECT " JOB_COLS " FROM jobs WHERE vm=? ORDER BY id DESC LIMIT ?"
				       : "SELECT " JOB_COLS " FROM jobs WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(s, "list jobs");
		goto out;
	}
	if (vm_uuid)
		sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, row_to_job(st));
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->lock);
	return arr;
}
