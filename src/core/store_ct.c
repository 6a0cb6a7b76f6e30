/*
 * store_ct.c - system containers in the store (see store.h, "containers"):
 * reads, and the ct.put / ct.delete ops.
 *
 * A container's definition is kept as the JSON text core/ctdef.h writes,
 * by uuid with its name unique.  Its running state is not stored: liblxc's
 * monitor is the truth about it (src/lxc), so nothing here can disagree
 * with a container that kept running while corrald was down.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define CT_SELECT "SELECT uuid, name, def, created FROM containers "

void ct_record_release(struct ct_record *r)
{
	free(r->uuid);
	free(r->name);
	free(r->def);
	r->uuid = r->name = r->def = NULL;
}

static void ct_record_release_v(void *p) { ct_record_release(p); }

static void row_to_ct(sqlite3_stmt *st, void *rec)
{
	struct ct_record *r = rec;
	r->uuid = store_col_dup(st, 0);
	r->name = store_col_dup(st, 1);
	r->def = store_col_dup(st, 2);
	r->created_ms = sqlite3_column_int64(st, 3);
}

int store_ct_get(struct store *s, const char *key, struct ct_record *out)
{
	/* by name, else by uuid in any case */
	return store_get_row(&s->cfg, CT_SELECT "WHERE name = ?1 UNION ALL " CT_SELECT
			     "WHERE uuid = lower(?1) AND name <> ?1 LIMIT 1",
			     "get container", key, row_to_ct, out);
}

int store_ct_list(struct store *s, struct ct_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, CT_SELECT "ORDER BY name", "list containers", sizeof(**out), row_to_ct,
				ct_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_ct_list_free(struct ct_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		ct_record_release(&list[i]);
	free(list);
}

/* ---- ops ---- */

/* The volumes a definition uses: its root ("volume") and its mount points
 * ("mounts"[].volume), in j's order (borrowed strings; at most max). */
static size_t def_volumes(const json_t *j, const char **out, size_t max)
{
	size_t n = 0, i;
	json_t *m;
	const char *root = json_string_value(json_object_get(j, "volume"));
	if (root && n < max)
		out[n++] = root;
	json_array_foreach(json_object_get(j, "mounts"), i, m) {
		const char *v = json_string_value(json_object_get(m, "volume"));
		if (v && n < max)
			out[n++] = v;
	}
	return n;
}

/* Every volume of the definition exists and is no VM's nor another container's. */
static int check_volumes(struct store_apply *a, const char *uuid, const char **vols, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *vm = NULL, *ct = NULL;
		int r = store_query_str(a->c, &vm, "SELECT vm FROM volumes WHERE name=?", "s", vols[i]);
		__do_free char *vmu = vm;
		if (r == -ENOENT) {
			buf_printf(a->err, "volume '%s' does not exist", vols[i]);
			return r;
		}
		if (r < 0)
			return op_db_fail(a, r);
		if (vmu) {
			__do_free char *name = op_vm_name(a, vmu);
			buf_printf(a->err, "volume '%s' is used by vm '%s'", vols[i], name);
			return -EBUSY;
		}
		r = store_query_str(a->c, &ct,
				    "SELECT c.name FROM volumes o JOIN containers c ON c.uuid = o.ct WHERE o.name=? AND "
				    "o.ct <> ?",
				    "ss", vols[i], uuid);
		__do_free char *other = ct;
		if (r == 0) {
			buf_printf(a->err, "volume '%s' is used by container '%s'", vols[i], other ? other : "?");
			return -EBUSY;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(vols[k], vols[i]) == 0) {
				buf_printf(a->err, "volume '%s' is used twice by one container", vols[i]);
				return -EBUSY;
			}
	}
	return 0;
}

int op_ct_put(struct store_apply *a, const json_t *op)
{
	const char *uuid, *name, *def;
	bool create;
	int64_t exists = 0;
	int r;

	if ((r = op_str(a, op, "uuid", true, &uuid)) < 0 || (r = op_str(a, op, "name", true, &name)) < 0 ||
	    (r = op_str(a, op, "def", true, &def)) < 0 || (r = op_bool(a, op, "create", &create)) < 0)
		return r;
	__do_json json_t *j = json_loads(def, 0, NULL);
	if (!json_is_object(j)) {
		buf_printf(a->err, "store op %s: 'def' must be the text of a JSON object", a->op);
		return -EINVAL;
	}
	if ((r = store_query_int(a->c, &exists, "SELECT count(*) FROM containers WHERE uuid=?", "s", uuid)) < 0)
		return op_db_fail(a, r);
	if (create && exists) {
		buf_printf(a->err, "container %s already exists", uuid);
		return -EEXIST;
	}
	if (!create && !exists) {
		buf_printf(a->err, "container %s does not exist", uuid);
		return -ENOENT;
	}
	if ((r = store_query_int(a->c, &exists, "SELECT count(*) FROM containers WHERE name=? AND uuid<>?", "ss", name,
				 uuid)) < 0)
		return op_db_fail(a, r);
	if (exists) {
		buf_printf(a->err, "container '%s' already exists", name);
		return -EEXIST;
	}
	const char *vols[40];
	size_t nvols = def_volumes(j, vols, ARRAY_SIZE(vols));
	if ((r = check_volumes(a, uuid, vols, nvols)) < 0)
		return r;
	r = create ? store_exec(a->c, "INSERT INTO containers(uuid, name, def, created) VALUES(?,?,?,?)", "sssi", uuid,
				name, def, a->time)
		   : store_exec(a->c, "UPDATE containers SET name=?2, def=?3 WHERE uuid=?1", "sss", uuid, name, def);
	if (r < 0)
		return op_db_fail(a, r);
	/* volumes.ct: the definition's volumes are this container's, nothing else is */
	r = store_exec(a->c, "UPDATE volumes SET ct=NULL WHERE ct=?", "s", uuid);
	if (r < 0 && r != -ENOENT)
		return op_db_fail(a, r);
	for (size_t i = 0; i < nvols; i++)
		if ((r = store_exec(a->c, "UPDATE volumes SET ct=? WHERE name=?", "ss", uuid, vols[i])) < 0)
			return op_db_fail(a, r);
	return 0;
}

int op_ct_delete(struct store_apply *a, const json_t *op)
{
	const char *uuid;
	int r;
	if ((r = op_str(a, op, "uuid", true, &uuid)) < 0)
		return r;
	r = store_exec(a->c, "DELETE FROM containers WHERE uuid=?", "s", uuid);
	if (r == -ENOENT)
		buf_printf(a->err, "container %s does not exist", uuid);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}
