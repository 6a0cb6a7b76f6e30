/*
 * store_apply.c - the one way the configuration changes: batches of ops,
 * the submit hook, and store_apply() with its table of op handlers (see
 * store.h and docs/state.md "Batch format").
 *
 * A batch is {"v":1,"time":MS,"ops":[{"op":NAME,...},...]}.  store_apply
 * checks the envelope, then runs each op's handler in order inside one
 * IMMEDIATE transaction on the configuration connection: the first refusal
 * rolls everything back.  Handlers read only the op, the batch time and the
 * database, so every host applying the same batches in the same order ends
 * in the same state.  An op with an unknown name or member is refused: a
 * message's meaning never changes, a new meaning is a new op or version.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct store_batch {
	json_t *ops; /* array */
};

/* ---- the op table ---- */

struct op_handler {
	const char *name;
	const char *const *members; /* every member the op may carry, "op" included; NULL-terminated */
	store_op_fn *apply;
};

#define MEMBERS(...) ((const char *const[]){ "op", __VA_ARGS__, NULL })

static const struct op_handler op_handlers[] = {
	{ "vm.put", MEMBERS("def", "gen", "host"), op_vm_put },
	{ "vm.host", MEMBERS("uuid", "host", "gen"), op_vm_host },
	{ "vm.delete", MEMBERS("uuid", "gen"), op_vm_delete },
	{ "vol.add", MEMBERS("name", "format", "path", "pool", "backing", "readonly"), op_vol_add },
	{ "vol.update", MEMBERS("name", "format", "path", "pool", "backing", "readonly"), op_vol_update },
	{ "vol.delete", MEMBERS("name"), op_vol_delete },
	{ "pool.add", MEMBERS("name", "path", "shared"), op_pool_add },
	{ "pool.delete", MEMBERS("name"), op_pool_delete },
	{ "net.put", MEMBERS("name", "def", "create"), op_net_put },
	{ "net.delete", MEMBERS("name"), op_net_delete },
	{ "ct.put", MEMBERS("uuid", "name", "def", "create"), op_ct_put },
	{ "ct.delete", MEMBERS("uuid"), op_ct_delete },
	{ "repo.add", MEMBERS("path", "repo_id", "encrypted", "keyfile", "passfile"), op_repo_add },
	{ "repo.default", MEMBERS("path"), op_repo_default },
	{ "repo.delete", MEMBERS("path"), op_repo_delete },
	{ "policy.put", MEMBERS("name", "def"), op_policy_put },
	{ "policy.delete", MEMBERS("name"), op_policy_delete },
	{ "alarm.put", MEMBERS("name", "def"), op_alarm_put },
	{ "alarm.delete", MEMBERS("name"), op_alarm_delete },
	{ "ha.put", MEMBERS("name", "def", "ring", "base"), op_ha_put },
	{ "ha.delete", MEMBERS("name"), op_ha_delete },
	{ "snap.add", MEMBERS("vm", "name", "parent", "created", "description", "memory", "was_running", "def", "state"),
	  op_snap_add },
	{ "snap.state", MEMBERS("vm", "name", "state"), op_snap_state },
	{ "snap.delete", MEMBERS("vm", "name"), op_snap_delete },
	{ "snap.current", MEMBERS("vm", "name"), op_snap_current },
	{ "snap.clear", MEMBERS("vm"), op_snap_clear },
	{ "user.put", MEMBERS("name", "hash", "comment", "create"), op_user_put },
	{ "user.delete", MEMBERS("name"), op_user_delete },
	{ "token.add", MEMBERS("user", "id", "hash", "expires", "comment"), op_token_add },
	{ "token.delete", MEMBERS("user", "id"), op_token_delete },
	{ "acl.put", MEMBERS("subject", "role", "path"), op_acl_put },
	{ "acl.delete", MEMBERS("subject", "path"), op_acl_delete },
};

static const struct op_handler *op_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(op_handlers); i++)
		if (strcmp(op_handlers[i].name, name) == 0)
			return &op_handlers[i];
	return NULL;
}

/* ---- reading an op ---- */

int op_str(struct store_apply *a, const json_t *op, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(op, key);
	*out = NULL;
	if (!required && (!v || json_is_null(v)))
		return 0;
	if (!v) {
		buf_printf(a->err, "store op %s: '%s' is missing", a->op, key);
		return -EINVAL;
	}
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		buf_printf(a->err, "store op %s: '%s' must be a string%s", a->op, key, required ? "" : " or null");
		return -EINVAL;
	}
	*out = json_string_value(v);
	return 0;
}

int op_bool(struct store_apply *a, const json_t *op, const char *key, bool *out)
{
	json_t *v = json_object_get(op, key);
	*out = false;
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		buf_printf(a->err, "store op %s: '%s' must be true or false", a->op, key);
		return -EINVAL;
	}
	*out = json_is_true(v);
	return 0;
}

int op_int(struct store_apply *a, const json_t *op, const char *key, int64_t *out, bool *present)
{
	json_t *v = json_object_get(op, key);
	if (present)
		*present = v != NULL;
	if (!v && present)
		return 0;
	if (!v) {
		buf_printf(a->err, "store op %s: '%s' is missing", a->op, key);
		return -EINVAL;
	}
	if (!json_is_integer(v)) {
		buf_printf(a->err, "store op %s: '%s' must be an integer", a->op, key);
		return -EINVAL;
	}
	*out = json_integer_value(v);
	return 0;
}

int op_db_fail(struct store_apply *a, int r)
{
	buf_printf(a->err, "cannot write the state database (%s)", a->op);
	return r == -ENOENT ? -EIO : r;
}

int op_named_def_put(struct store_apply *a, const json_t *op, const char *table)
{
	const char *name, *def;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0 || (r = op_str(a, op, "def", true, &def)) < 0)
		return r;
	__do_json json_t *j = json_loads(def, 0, NULL);
	if (!json_is_object(j)) {
		buf_printf(a->err, "store op %s: 'def' must be the text of a JSON object", a->op);
		return -EINVAL;
	}
	__do_free char *sql = xasprintf("INSERT INTO %s(name, def, created) VALUES(?1, ?2, ?3) "
					"ON CONFLICT(name) DO UPDATE SET def=?2",
					table);
	r = store_exec(a->c, sql, "ssi", name, def, a->time);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_named_def_delete(struct store_apply *a, const json_t *op, const char *table, const char *noun)
{
	const char *name;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0)
		return r;
	__do_free char *sql = xasprintf("DELETE FROM %s WHERE name=?", table);
	r = store_exec(a->c, sql, "s", name);
	if (r == -ENOENT)
		buf_printf(a->err, "%s '%s' does not exist", noun, name);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

char *op_vm_name(struct store_apply *a, const char *uuid)
{
	char *name = NULL;
	if (store_query_str(a->c, &name, "SELECT name FROM vms WHERE uuid=?", "s", uuid) < 0 || !name)
		return xstrdup(uuid);
	return name;
}

/* ---- applying a batch ---- */

static int apply_ops(struct store_apply *a, const json_t *ops)
{
	const json_t *op;
	size_t i;
	json_array_foreach(ops, i, op) {
		const char *name = json_string_value(json_object_get(op, "op"));
		const struct op_handler *h = name ? op_find(name) : NULL;
		if (!json_is_object(op) || !name) {
			buf_printf(a->err, "store batch: op %zu is not an object with a string 'op'", i);
			return -EINVAL;
		}
		if (!h) {
			buf_printf(a->err, "store batch: unknown op '%.64s'", name);
			return -EINVAL;
		}
		a->op = h->name;
		struct buf what = BUF_INIT;
		buf_printf(&what, "store op %s", h->name);
		int r = json_check_keys(op, what.s, h->members, a->err) < 0 ? -EINVAL : 0;
		buf_release(&what);
		if (r == 0)
			r = h->apply(a, op);
		if (r < 0)
			return r;
	}
	return 0;
}

int store_apply(struct store *s, const json_t *batch, struct buf *err)
{
	return store_apply_then(s, batch, err, NULL, NULL);
}

int store_apply_then(struct store *s, const json_t *batch, struct buf *err, int (*then)(struct store_conn *c, void *arg),
		     void *arg)
{
	struct store_apply a = { .c = &s->cfg, .err = err, .op = "batch" };
	const json_t *ops = json_object_get(batch, "ops");
	json_t *v = json_object_get(batch, "v"), *t = json_object_get(batch, "time");
	size_t before = err->len;
	int r;

	if (!json_is_object(batch) || !json_is_integer(v) || !json_is_integer(t) || !json_is_array(ops)) {
		buf_adds(err, "store batch: not an object with integer 'v' and 'time' and an array 'ops'");
		return -EINVAL;
	}
	if (json_integer_value(v) != STORE_BATCH_VERSION) {
		buf_printf(err, "store batch: version %" JSON_INTEGER_FORMAT " is not supported (this corrald reads %d)",
			   json_integer_value(v), STORE_BATCH_VERSION);
		return -EPROTO;
	}
	a.time = json_integer_value(t);

	pthread_mutex_lock(&s->cfg.lock);
	if (sqlite3_exec(s->cfg.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_db_fail(&s->cfg, "begin a batch");
		buf_adds(err, "cannot write the state database");
		goto out;
	}
	if ((r = apply_ops(&a, ops)) == 0 && then && (r = then(&s->cfg, arg)) < 0)
		r = op_db_fail(&a, r);
	if (r == 0 && sqlite3_exec(s->cfg.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_db_fail(&s->cfg, "commit a batch");
		buf_adds(err, "cannot write the state database");
	}
	if (r < 0) {
		if (err->len == before)
			buf_printf(err, "cannot write the state database (%s)", a.op);
		sqlite3_exec(s->cfg.db, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	pthread_mutex_unlock(&s->cfg.lock);
	return r;
}

/* ---- submitting ---- */

void store_set_submit(struct store *s, store_submit_fn *fn, void *opaque)
{
	s->submit = fn;
	s->submit_opaque = opaque;
}

int store_batch_commit(struct store *s, struct store_batch *b, struct buf *err)
{
	__do_json json_t *msg = json_pack("{s:i,s:I,s:O}", "v", STORE_BATCH_VERSION, "time", (json_int_t)time_wall_ms(),
					  "ops", b->ops);
	if (s->submit)
		return s->submit(s, msg, err, s->submit_opaque);
	return store_apply(s, msg, err);
}

/* The last pool refusal of a one-op commit on this thread (store_commit_refusal). */
static _Thread_local char refusal[320];

const char *store_commit_refusal(int r)
{
	return (r == -EROFS || r == -ETIMEDOUT) && refusal[0] ? refusal : NULL;
}

int store_commit_one(struct store *s, struct store_batch *b)
{
	struct buf err = BUF_INIT;
	int r = store_batch_commit(s, b, &err);
	snprintf(refusal, sizeof(refusal), "%s", r == -EROFS || r == -ETIMEDOUT ? err.s : "");
	if (r < 0)
		log_msg(r == -ENOENT ? LOG_LVL_DEBUG : LOG_LVL_WARN, 0, "store: %s refused: %s",
			json_string_value(json_object_get(json_array_get(b->ops, 0), "op")), err.s);
	buf_release(&err);
	store_batch_free(b);
	return r;
}

/* ---- building ---- */

struct store_batch *store_batch_new(void)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));
	b->ops = json_array();
	return b;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	json_decref(b->ops);
	free(b);
}

void store_batch_add(struct store_batch *b, json_t *op)
{
	/* An op jansson could not build (a string that is not UTF-8) stays as a null the apply refuses. */
	json_array_append_new(b->ops, op ? op : json_null());
}

size_t store_batch_size(const struct store_batch *b)
{
	return json_array_size(b->ops);
}

/* `gen` goes into an op unless it is STORE_GEN_ANY. */
static void op_set_gen(json_t *op, int64_t gen)
{
	if (op && gen != STORE_GEN_ANY)
		json_object_set_new(op, "gen", json_integer(gen));
}

void store_batch_vm_put(struct store_batch *b, const struct vm_def *d, int64_t gen)
{
	json_t *op = json_pack("{s:s,s:o}", "op", "vm.put", "def", vmdef_to_json(d));
	op_set_gen(op, gen);
	store_batch_add(b, op);
}

void store_batch_vm_host(struct store_batch *b, const char *uuid, const char *host, int64_t gen)
{
	json_t *op = json_pack("{s:s,s:s?,s:s?}", "op", "vm.host", "uuid", uuid, "host", host);
	op_set_gen(op, gen);
	store_batch_add(b, op);
}

void store_batch_vm_delete(struct store_batch *b, const char *uuid, int64_t gen)
{
	json_t *op = json_pack("{s:s,s:s?}", "op", "vm.delete", "uuid", uuid);
	op_set_gen(op, gen);
	store_batch_add(b, op);
}

static json_t *vol_op(const char *name, const struct vol_record *v)
{
	return json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:b}", "op", name, "name", v->name, "format", v->format, "path",
			 v->path, "pool", v->pool ? v->pool : "default", "backing", v->backing, "readonly",
			 v->readonly);
}

void store_batch_vol_add(struct store_batch *b, const struct vol_record *v)
{
	store_batch_add(b, vol_op("vol.add", v));
}

void store_batch_vol_update(struct store_batch *b, const struct vol_record *v)
{
	store_batch_add(b, vol_op("vol.update", v));
}

void store_batch_vol_delete(struct store_batch *b, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "vol.delete", "name", name));
}

void store_batch_pool_add(struct store_batch *b, const char *name, const char *path, bool shared)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:b}", "op", "pool.add", "name", name, "path", path, "shared",
				     shared));
}

void store_batch_net_put(struct store_batch *b, const char *name, const char *def, bool create)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:b}", "op", "net.put", "name", name, "def", def, "create", create));
}

void store_batch_net_delete(struct store_batch *b, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "net.delete", "name", name));
}

void store_batch_ct_put(struct store_batch *b, const char *uuid, const char *name, const char *def, bool create)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:s?,s:b}", "op", "ct.put", "uuid", uuid, "name", name, "def", def,
				     "create", create));
}

void store_batch_ct_delete(struct store_batch *b, const char *uuid)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "ct.delete", "uuid", uuid));
}

void store_batch_pool_delete(struct store_batch *b, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "pool.delete", "name", name));
}

void store_batch_repo_add(struct store_batch *b, const struct repo_record *r)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:b,s:s?,s:s?}", "op", "repo.add", "path", r->path, "repo_id",
				     r->repo_id, "encrypted", r->encrypted, "keyfile", r->keyfile,
				     "passfile", r->passfile));
}

void store_batch_repo_default(struct store_batch *b, const char *path)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "repo.default", "path", path));
}

void store_batch_repo_delete(struct store_batch *b, const char *path)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "repo.delete", "path", path));
}

void store_batch_policy_put(struct store_batch *b, const char *name, const char *def)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?}", "op", "policy.put", "name", name, "def", def));
}

void store_batch_alarm_put(struct store_batch *b, const char *name, const char *def)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?}", "op", "alarm.put", "name", name, "def", def));
}

void store_batch_ha_put(struct store_batch *b, const char *uuid, const char *def)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?}", "op", "ha.put", "name", uuid, "def", def));
}

void store_batch_ha_decide(struct store_batch *b, const char *uuid, const char *def, const char *ring, int64_t base)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:s?,s:I}", "op", "ha.put", "name", uuid, "def", def, "ring", ring,
				     "base", (json_int_t)base));
}

void store_batch_ha_delete(struct store_batch *b, const char *uuid)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "ha.delete", "name", uuid));
}

void store_batch_alarm_delete(struct store_batch *b, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "alarm.delete", "name", name));
}

void store_batch_policy_delete(struct store_batch *b, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "policy.delete", "name", name));
}

void store_batch_snap_add(struct store_batch *b, const struct snap_record *r)
{
	json_t *op = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:b,s:b,s:s?,s:s?}", "op", "snap.add", "vm", r->vm, "name", r->name,
			       "parent", r->parent, "description", r->description ? r->description : "",
			       "memory", r->memory, "was_running", r->was_running, "def", r->def ? r->def : "{}",
			       "state", r->state ? r->state : "creating");
	if (r->created_ms)
		json_object_set_new(op, "created", json_integer(r->created_ms));
	store_batch_add(b, op);
}

void store_batch_snap_state(struct store_batch *b, const char *vm, const char *name, const char *state)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?,s:s?}", "op", "snap.state", "vm", vm, "name", name, "state", state));
}

void store_batch_snap_delete(struct store_batch *b, const char *vm, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?}", "op", "snap.delete", "vm", vm, "name", name));
}

void store_batch_snap_current(struct store_batch *b, const char *vm, const char *name)
{
	store_batch_add(b, json_pack("{s:s,s:s?,s:s?}", "op", "snap.current", "vm", vm, "name", name));
}

void store_batch_snap_clear(struct store_batch *b, const char *vm)
{
	store_batch_add(b, json_pack("{s:s,s:s?}", "op", "snap.clear", "vm", vm));
}
