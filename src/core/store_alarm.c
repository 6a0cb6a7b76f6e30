/*
 * store_alarm.c - alarm rules in the store (see store.h, "alarm rules",
 * and store_local.h, "alarms"): the rule definitions are configuration,
 * written through the alarm.* ops like every other definition; the state
 * of each (rule, object) pair and the history of its transitions are this
 * host's, written directly through the host-local connection.  A
 * transition and the state it leads to are one transaction, so corrald
 * killed at any moment restarts with a state its history agrees with.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "store.h"
#include "store_local.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"

/* ---- the rules (configuration) ---- */

#define ALARM_SELECT "SELECT name, def, created FROM alarms "

void alarm_record_release(struct alarm_record *a)
{
	if (!a)
		return;
	free(a->name);
	free(a->def);
	memset(a, 0, sizeof(*a));
}

static void alarm_record_release_v(void *p) { alarm_record_release(p); }

static void row_to_alarm(sqlite3_stmt *st, void *rec)
{
	struct alarm_record *a = rec;
	a->name = store_col_dup(st, 0);
	a->def = store_col_dup(st, 1);
	a->created = sqlite3_column_int64(st, 2);
}

int store_alarm_get(struct store *s, const char *name, struct alarm_record *out)
{
	return store_get_row(&s->cfg, ALARM_SELECT "WHERE name=?", "get alarm", name, row_to_alarm, out);
}

int store_alarm_list(struct store *s, struct alarm_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, ALARM_SELECT "ORDER BY name", "list alarms", sizeof(**out), row_to_alarm,
				alarm_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_alarm_list_free(struct alarm_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		alarm_record_release(&list[i]);
	free(list);
}

int op_alarm_put(struct store_apply *a, const json_t *op) { return op_named_def_put(a, op, "alarms"); }

int op_alarm_delete(struct store_apply *a, const json_t *op) { return op_named_def_delete(a, op, "alarms", "alarm"); }

int store_alarm_put(struct store *s, const char *name, const char *def)
{
	struct store_batch *b = store_batch_new();
	store_batch_alarm_put(b, name, def);
	return store_commit_one(s, b);
}

int store_alarm_delete(struct store *s, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_alarm_delete(b, name);
	return store_commit_one(s, b);
}

/* ---- states and history (host-local) ---- */

void alarm_state_row_release(struct alarm_state_row *r)
{
	if (!r)
		return;
	free(r->rule);
	free(r->object);
	free(r->name);
	free(r->state);
	memset(r, 0, sizeof(*r));
}

static void alarm_state_row_release_v(void *p) { alarm_state_row_release(p); }

static void row_to_state(sqlite3_stmt *st, void *rec)
{
	struct alarm_state_row *r = rec;
	r->rule = store_col_dup(st, 0);
	r->object = store_col_dup(st, 1);
	r->name = store_col_dup(st, 2);
	r->state = store_col_dup(st, 3);
	r->since = sqlite3_column_int64(st, 4);
	r->cond_since = sqlite3_column_int64(st, 5);
	r->clear_since = sqlite3_column_int64(st, 6);
	r->value = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
}

int store_alarm_state_list(struct store *s, struct alarm_state_row **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->local,
				"SELECT rule, object, name, state, since, cond_since, clear_since, value FROM alarm_states "
				"ORDER BY rule, name",
				"list alarm states", sizeof(**out), row_to_state, alarm_state_row_release_v, &list, n);
	*out = list;
	return r;
}

void store_alarm_state_list_free(struct alarm_state_row *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		alarm_state_row_release(&list[i]);
	free(list);
}

/* Under the local lock. */
static int state_put_locked(struct store *s, const struct alarm_state_row *r)
{
	int rc;
	if (strcmp(r->state, "ok") == 0) {
		rc = store_exec(&s->local, "DELETE FROM alarm_states WHERE rule=? AND object=?", "ss", r->rule, r->object);
		return rc == -ENOENT ? 0 : rc;
	}
	rc = store_exec(&s->local,
			"INSERT INTO alarm_states(rule, object, name, state, since, cond_since, clear_since, value) "
			"VALUES(?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(rule, object) DO UPDATE SET name=?3, state=?4, "
			"since=?5, cond_since=?6, clear_since=?7, value=?8",
			"ssssiiid", r->rule, r->object, r->name, r->state, r->since, r->cond_since, r->clear_since,
			r->value);
	return rc;
}

int store_alarm_state_put(struct store *s, const struct alarm_state_row *r)
{
	pthread_mutex_lock(&s->local.lock);
	int rc = state_put_locked(s, r);
	pthread_mutex_unlock(&s->local.lock);
	return rc;
}

/* Under the local lock, in the transition's transaction: one alarm_outbox row per item, its id into it. */
static int outbox_add_locked(struct store *s, int64_t time_ms, const char *rule, json_t *outbox)
{
	json_t *o;
	size_t i;
	json_array_foreach(outbox, i, o) {
		__do_free char *payload = json_dumps(json_object_get(o, "payload"), JSON_COMPACT);
		json_t *smtp = json_object_get(o, "smtp");
		__do_free char *smtp_s = json_is_object(smtp) ? json_dumps(smtp, JSON_COMPACT) : NULL;
		int rc = store_exec(&s->local,
				    "INSERT INTO alarm_outbox(rule, target, smtp, payload, created) VALUES(?,?,?,?,?)",
				    "ssssi", rule, json_string_value(json_object_get(o, "target")), smtp_s, payload,
				    time_ms);
		if (rc < 0)
			return rc;
		json_object_set_new(o, "id", json_integer(sqlite3_last_insert_rowid(s->local.db)));
	}
	return 0;
}

int store_alarm_transition(struct store *s, int64_t time_ms, const char *rule, const char *object, const char *name,
			   const char *from, const char *to, double value, const struct alarm_state_row *state,
			   json_t *outbox)
{
	int rc;
	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_exec(s->local.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = store_db_fail(&s->local, "begin alarm transition");
		goto out;
	}
	rc = store_exec(&s->local,
			"INSERT INTO alarm_history(time, rule, object, name, from_state, to_state, value) "
			"VALUES(?,?,?,?,?,?,?)",
			"isssssd", time_ms, rule, object, name, from, to, value);
	if (rc == 0 && state)
		rc = state_put_locked(s, state);
	if (rc == 0 && outbox)
		rc = outbox_add_locked(s, time_ms, rule, outbox);
	if (rc == 0 && sqlite3_exec(s->local.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		rc = store_db_fail(&s->local, "commit alarm transition");
	if (rc < 0)
		sqlite3_exec(s->local.db, "ROLLBACK", NULL, NULL, NULL);
out:
	pthread_mutex_unlock(&s->local.lock);
	return rc;
}

json_t *store_alarm_history(struct store *s, const char *rule, int limit)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();
	char stamp[40];
	const char *sql = "SELECT time, rule, object, name, from_state, to_state, value FROM (SELECT * FROM "
			  "alarm_history WHERE ?1 IS NULL OR rule = ?1 ORDER BY id DESC LIMIT ?2) ORDER BY id";

	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_prepare_v2(s->local.db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_db_fail(&s->local, "list alarm history");
		goto out;
	}
	if (rule)
		sqlite3_bind_text(st, 1, rule, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 1);
	sqlite3_bind_int(st, 2, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *e = json_pack(
			"{s:s,s:s,s:s,s:s,s:s,s:s}", "time",
			time_fmt_rfc3339(sqlite3_column_int64(st, 0), stamp, sizeof(stamp)), "alarm",
			(const char *)sqlite3_column_text(st, 1), "object", (const char *)sqlite3_column_text(st, 2), "name",
			(const char *)sqlite3_column_text(st, 3), "from", (const char *)sqlite3_column_text(st, 4), "to",
			(const char *)sqlite3_column_text(st, 5));
		if (sqlite3_column_type(st, 6) != SQLITE_NULL)
			json_object_set_new(e, "value", json_real(sqlite3_column_double(st, 6)));
		json_array_append_new(arr, e);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->local.lock);
	return arr;
}

/* ---- notifications not sent yet ---- */

json_t *store_alarm_outbox_list(struct store *s)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();

	pthread_mutex_lock(&s->local.lock);
	if (sqlite3_prepare_v2(s->local.db,
			       "SELECT id, rule, target, smtp, payload, attempt FROM alarm_outbox ORDER BY id", -1, &st,
			       NULL) != SQLITE_OK) {
		store_db_fail(&s->local, "list alarm notifications");
		goto out;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *smtp = (const char *)sqlite3_column_text(st, 3);
		json_t *payload = json_loads((const char *)sqlite3_column_text(st, 4), 0, NULL);
		if (!payload)
			continue; /* cannot be: written by json_dumps */
		json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:o,s:o,s:i}", "id",
						     (json_int_t)sqlite3_column_int64(st, 0), "rule",
						     (const char *)sqlite3_column_text(st, 1), "target",
						     (const char *)sqlite3_column_text(st, 2), "smtp",
						     smtp ? json_loads(smtp, 0, NULL) ?: json_null() : json_null(), "payload",
						     payload, "attempt", sqlite3_column_int(st, 5)));
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&s->local.lock);
	return arr;
}

int store_alarm_outbox_retry(struct store *s, int64_t id, int attempt)
{
	pthread_mutex_lock(&s->local.lock);
	int rc = store_exec(&s->local, "UPDATE alarm_outbox SET attempt=? WHERE id=?", "ii", (int64_t)attempt, id);
	pthread_mutex_unlock(&s->local.lock);
	return rc;
}

int store_alarm_outbox_done(struct store *s, int64_t id)
{
	pthread_mutex_lock(&s->local.lock);
	int rc = store_exec(&s->local, "DELETE FROM alarm_outbox WHERE id=?", "i", id);
	pthread_mutex_unlock(&s->local.lock);
	return rc;
}
