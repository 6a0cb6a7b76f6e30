/*
 * store_trust.c - the hosts this host trusts (see store_local.h, "trusted
 * hosts"): a small table in the host-local half, written directly through
 * the host-local connection.  Trust is not replicated: each host decides
 * for itself whom it accepts, and `corral host trust add` writes a row on
 * both hosts, each through its own API.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "store.h"
#include "store_local.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"

#define TRUST_SELECT "SELECT name, url, fingerprint, cert, added FROM trusted_hosts "

void trusted_host_release(struct trusted_host *h)
{
	if (!h)
		return;
	free(h->name);
	free(h->url);
	free(h->fingerprint);
	free(h->cert);
	h->name = h->url = h->fingerprint = h->cert = NULL;
}

static void trusted_host_release_v(void *p) { trusted_host_release(p); }

static void row_to_trust(sqlite3_stmt *st, void *rec)
{
	struct trusted_host *h = rec;
	h->name = store_col_dup(st, 0);
	h->url = store_col_dup(st, 1);
	h->fingerprint = store_col_dup(st, 2);
	h->cert = store_col_dup(st, 3);
	h->added_ms = sqlite3_column_int64(st, 4);
}

int store_trust_get(struct store *s, const char *name, struct trusted_host *out)
{
	return store_get_row(&s->local, TRUST_SELECT "WHERE name=?", "get trusted host", name, row_to_trust, out);
}

int store_trust_find(struct store *s, const char *fp, struct trusted_host *out)
{
	return store_get_row(&s->local, TRUST_SELECT "WHERE fingerprint=?", "find trusted host", fp, row_to_trust,
			     out);
}

int store_trust_list(struct store *s, struct trusted_host **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->local, TRUST_SELECT "ORDER BY name", "list trusted hosts", sizeof(**out),
				row_to_trust, trusted_host_release_v, &list, n);
	*out = list;
	return r;
}

void store_trust_list_free(struct trusted_host *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		trusted_host_release(&list[i]);
	free(list);
}

int store_trust_add(struct store *s, const struct trusted_host *h)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local,
			   "INSERT INTO trusted_hosts(name, url, fingerprint, cert, added) VALUES(?,?,?,?,?)", "ssssi",
			   h->name, h->url, h->fingerprint, h->cert, time_wall_ms());
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_trust_delete(struct store *s, const char *name)
{
	pthread_mutex_lock(&s->local.lock);
	int r = store_exec(&s->local, "DELETE FROM trusted_hosts WHERE name=?", "s", name);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}
