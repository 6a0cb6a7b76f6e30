/*
 * store_ha.c - the HA resources in the store (see store.h, "HA resources",
 * and docs/ha.md): one row per HA-protected VM, keyed by its uuid, with
 * the settings JSON of service/ha.h.  Written only through the ha.* ops,
 * which are replicated (store_replica.c), so every member of a pool holds
 * the same rows in the same order of changes.
 *
 * Rows whose name starts with '~' are not VMs but the pool's HA settings
 * (a host's maintenance mode: "~host:NAME"; docs/ha.md "Maintenance
 * mode"): they ride the same replicated table and ops, and
 * store_ha_list() leaves them out (store_ha_settings_list() has them).
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define HA_SELECT "SELECT name, def, created FROM ha_resources "

void ha_record_release(struct ha_record *h)
{
	if (!h)
		return;
	free(h->uuid);
	free(h->def);
	memset(h, 0, sizeof(*h));
}

static void ha_record_release_v(void *p) { ha_record_release(p); }

static void row_to_ha(sqlite3_stmt *st, void *rec)
{
	struct ha_record *h = rec;
	h->uuid = store_col_dup(st, 0);
	h->def = store_col_dup(st, 1);
	h->created = sqlite3_column_int64(st, 2);
}

int store_ha_get(struct store *s, const char *uuid, struct ha_record *out)
{
	return store_get_row(&s->cfg, HA_SELECT "WHERE name=?", "get HA resource", uuid, row_to_ha, out);
}

int store_ha_list(struct store *s, struct ha_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, HA_SELECT "WHERE substr(name, 1, 1) != '~' ORDER BY name", "list HA resources", sizeof(**out), row_to_ha,
				ha_record_release_v, &list, n);
	*out = list;
	return r;
}

int store_ha_settings_list(struct store *s, struct ha_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, HA_SELECT "WHERE substr(name, 1, 1) = '~' ORDER BY name", "list HA settings",
				sizeof(**out), row_to_ha, ha_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_ha_list_free(struct ha_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		ha_record_release(&list[i]);
	free(list);
}

/* The row's rev (0: no row, or none recorded), or -errno. */
static int64_t ha_rev(struct store_apply *a, const char *name)
{
	__do_free char *cur = NULL;
	int r = store_query_str(a->c, &cur, "SELECT def FROM ha_resources WHERE name=?", "s", name);
	if (r == -ENOENT || (r == 0 && !cur))
		return 0;
	if (r < 0)
		return op_db_fail(a, r);
	__do_json json_t *j = json_loads(cur, 0, NULL);
	json_t *rev = json_object_get(j, "rev");
	return json_is_integer(rev) ? json_integer_value(rev) : 0;
}

/* ha.put: compare-and-set on "base" when given; the stored rev is always the previous + 1. */
int op_ha_put(struct store_apply *a, const json_t *op)
{
	const char *name, *def;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0 || (r = op_str(a, op, "def", true, &def)) < 0)
		return r;
	int64_t rev = ha_rev(a, name);
	if (rev < 0)
		return (int)rev;
	json_t *base = json_object_get(op, "base");
	if (base && (!json_is_integer(base) || json_integer_value(base) != rev)) {
		buf_printf(a->err, "HA resource %s changed meanwhile (rev %lld, written from rev %lld): read it again",
			   name, (long long)rev, json_is_integer(base) ? (long long)json_integer_value(base) : -1LL);
		return -ESTALE;
	}
	__do_json json_t *j = json_loads(def, 0, NULL);
	if (!json_is_object(j)) {
		buf_printf(a->err, "store op %s: 'def' must be the text of a JSON object", a->op);
		return -EINVAL;
	}
	json_object_set_new(j, "rev", json_integer(rev + 1));
	__do_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	__do_json json_t *op2 = json_deep_copy(op);
	json_object_set_new(op2, "def", json_string(text));
	return op_named_def_put(a, op2, "ha_resources");
}

int op_ha_delete(struct store_apply *a, const json_t *op)
{
	return op_named_def_delete(a, op, "ha_resources", "HA resource");
}

int store_ha_put(struct store *s, const char *uuid, const char *def)
{
	struct store_batch *b = store_batch_new();
	store_batch_ha_put(b, uuid, def);
	return store_commit_one(s, b);
}

int store_ha_delete(struct store *s, const char *uuid)
{
	struct store_batch *b = store_batch_new();
	store_batch_ha_delete(b, uuid);
	return store_commit_one(s, b);
}
