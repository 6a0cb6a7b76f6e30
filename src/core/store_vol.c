/*
 * store_vol.c - volumes in the store (see store.h, "volumes"): reads with
 * their owner in the same query, and the vol.add / vol.update / vol.delete
 * ops.  The owner column (volumes.vm) is vm.put's to maintain
 * (store_vm.c); here it is only read, and guards deletion.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define VOL_SELECT                                                                                     \
	"SELECT o.name, o.format, o.path, o.created, o.pool, o.backing, o.readonly, o.vm, v.name, o.ct, c.name " \
	"FROM volumes o LEFT JOIN vms v ON v.uuid = o.vm LEFT JOIN containers c ON c.uuid = o.ct "

void vol_record_release(struct vol_record *v)
{
	free(v->name);
	free(v->format);
	free(v->path);
	free(v->pool);
	free(v->backing);
	free(v->vm);
	free(v->vm_name);
	free(v->ct);
	free(v->ct_name);
	v->name = v->format = v->path = v->pool = v->backing = v->vm = v->vm_name = v->ct = v->ct_name = NULL;
}

static void vol_record_release_v(void *v)
{
	vol_record_release(v);
}

static void row_to_vol(sqlite3_stmt *st, void *rec)
{
	struct vol_record *v = rec;
	v->name = store_col_dup(st, 0);
	v->format = store_col_dup(st, 1);
	v->path = store_col_dup(st, 2);
	v->created_ms = sqlite3_column_int64(st, 3);
	v->pool = store_col_dup(st, 4);
	v->backing = store_col_dup(st, 5);
	v->readonly = sqlite3_column_int(st, 6) != 0;
	v->vm = store_col_dup(st, 7);
	v->vm_name = store_col_dup(st, 8);
	v->ct = store_col_dup(st, 9);
	v->ct_name = store_col_dup(st, 10);
}

int store_vol_get(struct store *s, const char *name, struct vol_record *out)
{
	return store_get_row(&s->cfg, VOL_SELECT "WHERE o.name = ?", "get volume", name, row_to_vol, out);
}

int store_vol_list(struct store *s, struct vol_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, VOL_SELECT "ORDER BY o.name", "list volumes", sizeof(**out), row_to_vol,
				vol_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_vol_list_free(struct vol_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		vol_record_release(&list[i]);
	free(list);
}

int store_vol_owner(struct store *s, const char *name, char **uuid, char **vm_name)
{
	struct vol_record v = { 0 };
	int r = store_vol_get(s, name, &v);
	if (uuid)
		*uuid = r == 0 ? move_ptr(v.vm) : NULL;
	if (vm_name)
		*vm_name = r == 0 ? move_ptr(v.vm_name) : NULL;
	vol_record_release(&v);
	return r;
}

/* ---- ops ---- */

/* The members every vol.add and vol.update carry. */
struct vol_op {
	const char *name, *format, *path, *pool, *backing;
	bool readonly;
};

static int vol_op_read(struct store_apply *a, const json_t *op, struct vol_op *v)
{
	int r;
	if ((r = op_str(a, op, "name", true, &v->name)) < 0 || (r = op_str(a, op, "format", true, &v->format)) < 0 ||
	    (r = op_str(a, op, "path", true, &v->path)) < 0 || (r = op_str(a, op, "pool", false, &v->pool)) < 0 ||
	    (r = op_str(a, op, "backing", false, &v->backing)) < 0 || (r = op_bool(a, op, "readonly", &v->readonly)) < 0)
		return r;
	if (!v->pool)
		v->pool = "default";
	return 0;
}

int op_vol_add(struct store_apply *a, const json_t *op)
{
	struct vol_op v;
	int64_t one;
	int r;
	if ((r = vol_op_read(a, op, &v)) < 0)
		return r;
	if ((r = store_query_int(a->c, &one, "SELECT 1 FROM volumes WHERE name=?", "s", v.name)) == 0) {
		buf_printf(a->err, "volume '%s' already exists", v.name);
		return -EEXIST;
	}
	if (r != -ENOENT ||
	    (r = store_exec(a->c,
			    "INSERT INTO volumes(name, format, path, created, pool, backing, readonly) VALUES(?,?,?,?,?,?,?)",
			    "sssissi", v.name, v.format, v.path, a->time, v.pool, v.backing, (int64_t)v.readonly)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_vol_update(struct store_apply *a, const json_t *op)
{
	struct vol_op v;
	int r;
	if ((r = vol_op_read(a, op, &v)) < 0)
		return r;
	r = store_exec(a->c, "UPDATE volumes SET format=?, path=?, pool=?, backing=?, readonly=? WHERE name=?",
		       "ssssis", v.format, v.path, v.pool, v.backing, (int64_t)v.readonly, v.name);
	if (r == -ENOENT)
		buf_printf(a->err, "volume '%s' does not exist", v.name);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

int op_vol_delete(struct store_apply *a, const json_t *op)
{
	const char *name;
	char *owner = NULL;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0)
		return r;
	r = store_query_str(a->c, &owner, "SELECT vm FROM volumes WHERE name=?", "s", name);
	__do_free char *user = owner;
	if (r == -ENOENT) {
		buf_printf(a->err, "volume '%s' does not exist", name);
		return r;
	}
	if (r < 0)
		return op_db_fail(a, r);
	if (user) {
		__do_free char *vm = op_vm_name(a, user);
		buf_printf(a->err, "volume '%s' is used by vm '%s'", name, vm);
		return -EBUSY;
	}
	char *ctname = NULL;
	if (store_query_str(a->c, &ctname,
			    "SELECT c.name FROM volumes o JOIN containers c ON c.uuid = o.ct WHERE o.name=?", "s",
			    name) == 0 && ctname) {
		buf_printf(a->err, "volume '%s' is used by container '%s'", name, ctname);
		free(ctname);
		return -EBUSY;
	}
	if ((r = store_exec(a->c, "DELETE FROM volumes WHERE name=?", "s", name)) < 0)
		return op_db_fail(a, r);
	return 0;
}

/* ---- one-op batches ---- */

int store_vol_insert(struct store *s, const char *name, const char *format, const char *path)
{
	struct vol_record v = { .name = (char *)name, .format = (char *)format, .path = (char *)path };
	return store_vol_add(s, &v);
}

int store_vol_add(struct store *s, const struct vol_record *v)
{
	struct store_batch *b = store_batch_new();
	store_batch_vol_add(b, v);
	return store_commit_one(s, b);
}

int store_vol_update(struct store *s, const struct vol_record *v)
{
	struct store_batch *b = store_batch_new();
	store_batch_vol_update(b, v);
	return store_commit_one(s, b);
}

int store_vol_delete(struct store *s, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_vol_delete(b, name);
	return store_commit_one(s, b);
}
