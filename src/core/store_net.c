/*
 * store_net.c - networks in the store (see store.h, "networks"): reads,
 * and the net.put / net.delete ops.
 *
 * A network's definition is kept as the JSON text net/netdef.h writes; the
 * store checks only what needs the other rows: a name is created once, and
 * a network is not deleted while a VM definition has a NIC on it (its
 * "nics" elements of mode "network", read with SQLite's JSON functions, so
 * every host applying the batch decides the same).
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

#define NET_SELECT "SELECT name, def, created FROM networks "

/* VMs with a NIC on network ?1 (the def's "nics" list). */
#define NET_USERS_SQL                                                                                  \
	"SELECT group_concat(name, ', ') FROM (SELECT DISTINCT v.name AS name FROM vms v, "              \
	"json_each(v.def, '$.nics') n WHERE json_valid(v.def) AND json_extract(n.value, '$.mode') = 'network' " \
	"AND json_extract(n.value, '$.network') = ?1 ORDER BY v.name)"

void net_record_release(struct net_record *n)
{
	free(n->name);
	free(n->def);
	n->name = n->def = NULL;
}

static void net_record_release_v(void *p) { net_record_release(p); }

static void row_to_net(sqlite3_stmt *st, void *rec)
{
	struct net_record *n = rec;
	n->name = store_col_dup(st, 0);
	n->def = store_col_dup(st, 1);
	n->created_ms = sqlite3_column_int64(st, 2);
}

int store_net_get(struct store *s, const char *name, struct net_record *out)
{
	return store_get_row(&s->cfg, NET_SELECT "WHERE name=?", "get network", name, row_to_net, out);
}

int store_net_list(struct store *s, struct net_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, NET_SELECT "ORDER BY name", "list networks", sizeof(**out), row_to_net,
				net_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_net_list_free(struct net_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		net_record_release(&list[i]);
	free(list);
}

int store_net_users(struct store *s, const char *name, char **vms)
{
	char *found = NULL;
	pthread_mutex_lock(&s->cfg.lock);
	int r = store_query_str(&s->cfg, &found, NET_USERS_SQL, "s", name);
	pthread_mutex_unlock(&s->cfg.lock);
	*vms = r == 0 && found && *found ? found : (free(found), NULL);
	return r == -ENOENT ? 0 : r;
}

/* ---- ops ---- */

int op_net_put(struct store_apply *a, const json_t *op)
{
	const char *name, *def;
	bool create;
	int64_t exists = 0;
	int r;

	if ((r = op_str(a, op, "name", true, &name)) < 0 || (r = op_str(a, op, "def", true, &def)) < 0 ||
	    (r = op_bool(a, op, "create", &create)) < 0)
		return r;
	__do_json json_t *j = json_loads(def, 0, NULL);
	if (!json_is_object(j)) {
		buf_printf(a->err, "store op %s: 'def' must be the text of a JSON object", a->op);
		return -EINVAL;
	}
	if ((r = store_query_int(a->c, &exists, "SELECT count(*) FROM networks WHERE name=?", "s", name)) < 0)
		return op_db_fail(a, r);
	if (create && exists) {
		buf_printf(a->err, "network '%s' already exists", name);
		return -EEXIST;
	}
	if (!create && !exists) {
		buf_printf(a->err, "network '%s' does not exist", name);
		return -ENOENT;
	}
	r = create ? store_exec(a->c, "INSERT INTO networks(name, def, created) VALUES(?,?,?)", "ssi", name, def, a->time)
		   : store_exec(a->c, "UPDATE networks SET def=?2 WHERE name=?1", "ss", name, def);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_net_delete(struct store_apply *a, const json_t *op)
{
	const char *name;
	char *users = NULL;
	int r;
	if ((r = op_str(a, op, "name", true, &name)) < 0)
		return r;
	r = store_query_str(a->c, &users, NET_USERS_SQL, "s", name);
	__do_free char *u = users;
	if (r < 0 && r != -ENOENT)
		return op_db_fail(a, r);
	if (u && *u) {
		buf_printf(a->err, "network '%s' is used by VM %s: remove their NICs on it first", name, u);
		return -EBUSY;
	}
	r = store_exec(a->c, "DELETE FROM networks WHERE name=?", "s", name);
	if (r == -ENOENT)
		buf_printf(a->err, "network '%s' does not exist", name);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}
