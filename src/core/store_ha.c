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

int op_ha_put(struct store_apply *a, const json_t *op) { return op_named_def_put(a, op, "ha_resources"); }

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
