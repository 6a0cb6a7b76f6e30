/*
 * store_local.c - the host-local half of the store (see store_local.h):
 * VM runtime state, events, jobs, the policy scheduler's run times, and
 * pruning the history.  Everything here goes through the host-local
 * connection (s->local) and its lock, never through a batch.
 */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <sqlite3.h>
#include <string.h>

#include "store.h"
#include "store_local.h"
#include "store_internal.h"
#include "core/events.h"
#include "util/timeutil.h"
#include "util/common.h"

int store_vm_set_state(struct store *s, const char *uuid, enum vm_state st, const char *reason)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local,
			   "INSERT INTO vm_runtime(uuid, state, reason, since) SELECT ?1, ?2, ?3, ?4 "
			   "WHERE EXISTS (SELECT 1 FROM vms WHERE uuid=?1) "
			   "ON CONFLICT(uuid) DO UPDATE SET state=?2, reason=?3, since=?4",
			   "sssi", uuid, vmstate_name(st), reason ? reason : "", time_wall_ms());
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_event_add(struct store *s, const char *vm_uuid, const char *type, const char *detail)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "INSERT INTO events(time,vm,type,detail,actor) VALUES(?,?,?,?,?)", "issss",
			   time_wall_ms(), vm_uuid, type, detail ? detail : "", events_actor());
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

/* Events as a JSON array, oldest first: `sql` selects time, vm, vm name, type,
 * detail and actor, with ?1 the VM filter (may be unused) and ?2 the limit; vm and
 * name are included only `with_vm`. */
static json_t *event_query(struct store *s, const char *what, const char *sql, const char *vm_uuid, int limit,
			   bool with_vm)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	char stamp[40];

	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_prepare_v2(s->local.db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(&s->local, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *e = json_object();
		json_object_set_new(e, "time", json_string(time_fmt_rfc3339(sqlite3_column_int64(st, 0), stamp,
									      sizeof(stamp))));
		if (with_vm) {
			const char *vm = (const char *)sqlite3_column_text(st, 1);
			const char *name = (const char *)sqlite3_column_text(st, 2);
			json_object_set_new(e, "vm", vm ? json_string(vm) : json_null());
			json_object_set_new(e, "name", name ? json_string(name) : json_null());
		}
		json_object_set_new(e, "type", json_string((const char *)sqlite3_column_text(st, 3)));
		json_object_set_new(e, "detail", json_string((const char *)sqlite3_column_text(st, 4)));
		json_object_set_new(e, "actor", sqlite3_column_type(st, 5) == SQLITE_NULL
							 ? json_null()
							 : json_string((const char *)sqlite3_column_text(st, 5)));
		json_array_append_new(arr, e);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->local.lock);
	return arr;
}

json_t *store_event_list(struct store *s, const char *vm_uuid, int limit)
{
	return event_query(s, "list events",
			   "SELECT time, vm, NULL, type, detail, actor FROM (SELECT * FROM events WHERE vm IS ?1 "
			   "ORDER BY id DESC LIMIT ?2) ORDER BY id",
			   vm_uuid, limit, false);
}

json_t *store_event_recent(struct store *s, int limit)
{
	return event_query(s, "list recent events",
			   "SELECT e.time, e.vm, COALESCE(v.name, c.name), e.type, e.detail, e.actor FROM (SELECT * FROM "
			   "events ORDER BY id DESC LIMIT ?2) e LEFT JOIN vms v ON v.uuid = e.vm "
			   "LEFT JOIN containers c ON c.uuid = e.vm ORDER BY e.id",
			   NULL, limit, true);
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
	pthread_mutex_lock(&s->local.lock);
	if (store_exec(&s->local,
		       "INSERT INTO jobs(type,target,vm,parent,state,started,actor) VALUES(?,?,?,?,'running',?,?)", "sssiis",
		       json_string_value(json_object_get(job, "type")), json_string_value(json_object_get(job, "target")),
		       json_string_value(vm), json_is_integer(parent) ? (int64_t)json_integer_value(parent) : (int64_t)0,
		       job_ms(job, "started"), json_string_value(json_object_get(job, "actor"))) == 0)
		id = sqlite3_last_insert_rowid(s->local.db);
	pthread_mutex_unlock(&s->local.lock);
	return id;
}

int store_job_save(struct store *s, int64_t id, const json_t *job)
{
	json_t *eta = json_object_get(job, "eta"), *result = json_object_get(job, "result");
	__do_free char *res = result ? json_dumps(result, JSON_COMPACT) : NULL;
	int64_t finished = job_ms(job, "finished");
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local,
			   "UPDATE jobs SET state=?, progress=?, rate=?, eta=?, phase=?, error=?, result=?,"
			   " finished=NULLIF(?,0) WHERE id=?",
			   "sddisssii", json_string_value(json_object_get(job, "state")),
			   json_number_value(json_object_get(job, "progress")),
			   json_number_value(json_object_get(job, "rate")),
			   json_is_integer(eta) ? (int64_t)json_integer_value(eta) : (int64_t)-1,
			   json_string_value(json_object_get(job, "phase")), json_string_value(json_object_get(job, "error")),
			   res, finished, id);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

/* Transitional: the calls of the ad-hoc job threads, until every job runs on core/job.h. */
int64_t store_job_create(struct store *s, const char *type, const char *target, const char *vm_uuid)
{
	int64_t id = -1;
	pthread_mutex_lock(&s->local.lock);
	if (store_exec(&s->local, "INSERT INTO jobs(type,target,vm,state,started) VALUES(?,?,?,'running',?)", "sssi", type,
		      target, vm_uuid, time_wall_ms()) == 0)
		id = sqlite3_last_insert_rowid(s->local.db);
	pthread_mutex_unlock(&s->local.lock);
	return id;
}

int store_job_progress(struct store *s, int64_t id, double percent, double rate, int64_t eta_s)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "UPDATE jobs SET progress=?, rate=?, eta=? WHERE id=?", "ddii", percent, rate, eta_s, id);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_job_finish(struct store *s, int64_t id, const char *state, const char *error)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local,
			  "UPDATE jobs SET state=?, error=?, finished=?, eta=NULL,"
			  " progress=CASE WHEN ?='succeeded' THEN 100 ELSE progress END WHERE id=?",
			  "ssisi", state, error, time_wall_ms(), state, id);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_job_set_result(struct store *s, int64_t id, const json_t *result)
{
	__do_free char *text = json_dumps(result, JSON_COMPACT);
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "UPDATE jobs SET result=? WHERE id=?", "si", text, id);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_job_fail_stale(struct store *s, const char *reason)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "UPDATE jobs SET state='failed', error=?, finished=? WHERE state='running'", "si", reason,
			  time_wall_ms());
	pthread_mutex_unlock(&s->local.lock);
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
	json_object_set_new(j, "actor", sqlite3_column_type(st, 14) == SQLITE_NULL
						? json_null()
						: json_string((const char *)sqlite3_column_text(st, 14)));
	json_object_set_new(j, "cancelling", json_false());
	json_object_set_new(j, "cancellable", json_false());
	return j;
}

#define JOB_COLS "id,type,target,state,progress,rate,eta,error,started,finished,result,vm,parent,phase,actor"

json_t *store_job_get(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	json_t *j = NULL;
	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_prepare_v2(s->local.db, "SELECT " JOB_COLS " FROM jobs WHERE id=?", -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(&s->local, "get job");
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		j = row_to_job(st);
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->local.lock);
	return j;
}

/* Jobs as a JSON array: `sql` selects JOB_COLS with ?1 the VM filter (may be
 * unused or NULL) and ?2 the limit. */
static json_t *job_query(struct store *s, const char *what, const char *sql, const char *vm_uuid, int limit)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_prepare_v2(s->local.db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(&s->local, what);
		goto out;
	}
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, limit);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, row_to_job(st));
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->local.lock);
	return arr;
}

json_t *store_job_running(struct store *s)
{
	return job_query(s, "list running jobs", "SELECT " JOB_COLS " FROM jobs WHERE state='running' ORDER BY id",
			 NULL, 0);
}

json_t *store_job_list(struct store *s, const char *vm_uuid, int limit)
{
	return job_query(s, "list jobs",
			 vm_uuid ? "SELECT " JOB_COLS " FROM jobs WHERE vm=?1 ORDER BY id DESC LIMIT ?2"
				 : "SELECT " JOB_COLS " FROM jobs WHERE ?1 IS NULL ORDER BY id DESC LIMIT ?2",
			 vm_uuid, limit);
}

int store_policy_set_runs(struct store *s, const char *name, int64_t last_run, int64_t next_run)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local,
			   "INSERT INTO policy_runs(name, last_run, next_run) SELECT ?1, ?2, ?3 "
			   "WHERE EXISTS (SELECT 1 FROM policies WHERE name=?1) "
			   "ON CONFLICT(name) DO UPDATE SET last_run=?2, next_run=?3",
			   "sii", name, last_run, next_run);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

/* ---- retention ---- */

/* The newest `keep` events of each VM and of the host: delete below each one's keep-th newest id. */
static int prune_event_counts(struct store_conn *c, int64_t keep, int64_t *deleted)
{
	sqlite3_stmt *over;
	json_t *vms = json_array(); /* the VMs (null: the host) over the limit, read before deleting */
	size_t i;
	json_t *vm;
	int rc, r = 0;

	if (sqlite3_prepare_v2(c->db, "SELECT vm FROM events GROUP BY vm HAVING count(*) > ?", -1, &over, NULL) !=
	    SQLITE_OK) {
		json_decref(vms);
		return store_db_fail(c, "find VMs with many events");
	}
	sqlite3_bind_int64(over, 1, keep);
	while ((rc = sqlite3_step(over)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(over, 0);
		json_array_append_new(vms, id ? json_string(id) : json_null());
	}
	if (rc != SQLITE_DONE)
		r = store_db_fail(c, "find VMs with many events");
	sqlite3_finalize(over);
	json_array_foreach(vms, i, vm) {
		if (r < 0)
			break;
		r = store_exec(c,
			       "DELETE FROM events WHERE vm IS ?1 AND id < (SELECT id FROM events WHERE vm IS ?1 "
			       "ORDER BY id DESC LIMIT 1 OFFSET ?2)",
			       "si", json_string_value(vm), keep - 1);
		if (r == 0 || r == -ENOENT) {
			*deleted += r == 0 ? sqlite3_changes(c->db) : 0;
			r = 0;
		}
	}
	json_decref(vms);
	return r;
}

/* Run one pruning DELETE, adding what it removed to *deleted. */
static int prune_exec(struct store_conn *c, int64_t *deleted, const char *sql, int64_t arg)
{
	int r = store_exec(c, sql, "i", arg);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		*deleted += sqlite3_changes(c->db);
	return r;
}

int store_prune(struct store *s, const struct store_retention *ret, int64_t now_ms)
{
	struct store_conn *c = &s->local;
	int64_t deleted = 0, cutoff = now_ms - ret->days * 86400 * 1000;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_db_fail(c, "begin pruning");
		goto out;
	}
	if (ret->days > 0 &&
	    ((r = prune_exec(c, &deleted, "DELETE FROM events WHERE time < ?", cutoff)) < 0 ||
	     (r = prune_exec(c, &deleted, "DELETE FROM jobs WHERE finished IS NOT NULL AND finished < ?", cutoff)) < 0 ||
	     (r = prune_exec(c, &deleted, "DELETE FROM alarm_history WHERE time < ?", cutoff)) < 0))
		goto rollback;
	/* the alarms' history: as many transitions as events of one VM are kept */
	if (ret->events > 0 &&
	    (r = prune_exec(c, &deleted,
			    "DELETE FROM alarm_history WHERE id < (SELECT id FROM alarm_history ORDER BY id DESC LIMIT 1 OFFSET ?)",
			    ret->events - 1)) < 0)
		goto rollback;
	if (ret->events > 0 && (r = prune_event_counts(c, ret->events, &deleted)) < 0)
		goto rollback;
	if (ret->jobs > 0 &&
	    (r = prune_exec(c, &deleted,
			    "DELETE FROM jobs WHERE finished IS NOT NULL AND id < (SELECT id FROM jobs "
			    "WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1 OFFSET ?)",
			    ret->jobs - 1)) < 0)
		goto rollback;
	if (sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
		goto out;
	r = store_db_fail(c, "commit pruning");
rollback:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&c->lock);
	return r < 0 ? r : (int)(deleted > INT32_MAX ? INT32_MAX : deleted);
}
