/*
 * ha_group.c - HA groups (see ha_group.h; docs/ha.md "Groups"): checks a
 * group's definition and keeps it as a replicated HA settings row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/conf.h"
#include "cluster/hagroup.h"
#include "core/store.h"
#include "service/cluster_internal.h"
#include "service/ha_admit.h"
#include "service/ha_group.h"
#include "service/internal.h"
#include "util/jsonutil.h"
#include "util/common.h"

#define GROUP_NAME_MAX 32

static int name_check(const char *name, struct buf *err)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > GROUP_NAME_MAX) {
		buf_printf(err, "a group name is 1-%d characters of A-Z a-z 0-9 _ -", GROUP_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			buf_printf(err, "a group name is 1-%d characters of A-Z a-z 0-9 _ -", GROUP_NAME_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *svc_ha_group_get(const char *name)
{
	struct buf err __do_buf = BUF_INIT;
	if (!name || name_check(name, &err) < 0)
		return NULL;
	__do_free char *key = xasprintf("~group:%s", name);
	return svc_ha_row_get(key);
}

/* One "HOST:PRIORITY" (priority 0..1000, default 0) into hosts, checked against the pool. */
static int host_add(json_t *hosts, const struct cluster_def *d, const char *host, int64_t prio, struct buf *err)
{
	size_t i;
	json_t *h;
	if (!cluster_def_node(d, host)) {
		buf_printf(err, "no host '%.64s' in pool %s", host, d->name);
		return -EINVAL;
	}
	if (prio < 0 || prio > 1000) {
		buf_printf(err, "host %s: a priority is 0..1000", host);
		return -EINVAL;
	}
	json_array_foreach(hosts, i, h) if (strcmp(json_string_value(json_object_get(h, "host")), host) == 0)
	{
		buf_printf(err, "host %s is named twice", host);
		return -EINVAL;
	}
	json_array_append_new(hosts, json_pack("{s:s,s:I}", "host", host, "priority", (json_int_t)prio));
	return 0;
}

static int hosts_parse(const json_t *in, const struct cluster_def *d, json_t *hosts, struct buf *err)
{
	int r;
	if (json_is_string(in)) {
		struct hagroup_host list[HAGROUP_MAX_HOSTS];
		size_t n = 0;
		if ((r = hagroup_hosts_parse(json_string_value(in), list, &n, err)) < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if ((r = host_add(hosts, d, list[i].name, list[i].priority, err)) < 0)
				return r;
	} else if (json_is_array(in)) {
		size_t i;
		json_t *h;
		json_array_foreach(in, i, h)
		{
			json_t *p = json_object_get(h, "priority");
			const char *name = json_string_value(json_object_get(h, "host"));
			if (!name || (p && !json_is_integer(p))) {
				buf_adds(err, "hosts: each is {\"host\": NAME, \"priority\": 0..1000}");
				return -EINVAL;
			}
			if ((r = host_add(hosts, d, name, p ? json_integer_value(p) : 0, err)) < 0)
				return r;
		}
	}
	if (json_array_size(hosts) == 0) {
		buf_adds(err, "a group needs hosts: HOST[:PRIORITY],... (e.g. h1:2,h2:1)");
		return -EINVAL;
	}
	return 0;
}

static int commit(struct store_batch *b, const char *what, struct buf *err)
{
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	if (r < 0 && !err->len)
		buf_adds(err, store_commit_refusal(r) ? store_commit_refusal(r) : what);
	return r;
}

int svc_ha_group_add(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "name", "hosts", "restricted", "nofailback", NULL };
	struct cluster_def d;
	const char *name = NULL;
	int r;
	if (json_check_keys(body, "HA group", keys, err) < 0 || json_get_str(body, "name", &name, err) < 0)
		return -EINVAL;
	if ((r = name_check(name, err)) < 0)
		return r;
	if (!svc_cluster_def_get(&d, NULL)) {
		buf_adds(err, "HA needs a pool: corral cluster create");
		return -EOPNOTSUPP;
	}
	json_t *rj = json_object_get(body, "restricted"), *nj = json_object_get(body, "nofailback");
	if ((rj && !json_is_boolean(rj)) || (nj && !json_is_boolean(nj))) {
		buf_adds(err, "restricted and nofailback are true or false");
		return -EINVAL;
	}
	__do_json json_t *old = svc_ha_group_get(name);
	if (old) {
		buf_printf(err, "HA group '%s' exists", name);
		return -EEXIST;
	}
	json_t *hosts = json_array();
	__do_json json_t *def = json_pack("{s:s,s:o,s:b,s:b}", "name", name, "hosts", hosts, "restricted",
					  json_is_true(rj), "nofailback", json_is_true(nj));
	if ((r = hosts_parse(json_object_get(body, "hosts"), &d, hosts, err)) < 0)
		return r;
	__do_free char *key = xasprintf("~group:%s", name);
	__do_free char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_batch *b = store_batch_new();
	store_batch_ha_put(b, key, text);
	if ((r = commit(b, "cannot record the HA group", err)) < 0)
		return r;
	svc_cluster_event("HA group %s added", name);
	*out = json_incref(def);
	return 0;
}

int svc_ha_group_remove(const char *name, struct buf *err)
{
	__do_json json_t *g = svc_ha_group_get(name);
	if (!g) {
		buf_printf(err, "no HA group '%.64s'", name);
		return -ENOENT;
	}
	struct ha_record *list = NULL;
	size_t n = 0;
	struct buf users = BUF_INIT;
	if (store_ha_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			__do_json json_t *d = json_loads(list[i].def, 0, NULL);
			const char *gr = json_string_value(json_object_get(d, "group"));
			if (gr && strcmp(gr, name) == 0)
				buf_printf(&users, "%s%s", users.len ? ", " : "",
					   json_string_value(json_object_get(d, "vm")) ?: list[i].uuid);
		}
		store_ha_list_free(list, n);
	}
	if (users.len) {
		buf_printf(err, "HA group '%s' is used by %s: take them out first (corral ha set VM --group '')", name, users.s);
		buf_release(&users);
		return -EBUSY;
	}
	__do_free char *key = xasprintf("~group:%s", name);
	struct store_batch *b = store_batch_new();
	store_batch_ha_delete(b, key);
	int r = commit(b, "cannot remove the HA group", err);
	if (r == 0)
		svc_cluster_event("HA group %s removed", name);
	return r;
}

json_t *svc_ha_group_list(void)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	json_t *out = json_array();
	if (store_ha_settings_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (strncmp(list[i].uuid, "~group:", 7) != 0)
				continue;
			json_t *d = json_loads(list[i].def, 0, NULL);
			if (json_is_object(d))
				json_array_append_new(out, d);
			else
				json_decref(d);
		}
		store_ha_list_free(list, n);
	}
	return json_pack("{s:o}", "groups", out);
}
