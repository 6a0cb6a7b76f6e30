/*
 * ha_maint.c - HA maintenance mode of a pool member (see ha_maint.h;
 * docs/ha.md "Maintenance mode"): records the mode in the pool's
 * replicated HA settings and answers which hosts are in it.  The moves
 * themselves are the HA manager's (ha_manager.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "core/store.h"
#include "service/cluster_internal.h"
#include "service/ha_admit.h"
#include "service/ha_maint.h"
#include "service/internal.h"
#include "service/peer.h"
#include "service/vm.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

static char *row_name(const char *host) { return xasprintf("~host:%s", host); }

bool svc_ha_in_maintenance(const char *host)
{
	struct ha_record rec = { 0 };
	__do_free char *key = row_name(host);
	if (store_ha_get(svc_cfg.store, key, &rec) < 0)
		return false;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	return json_is_true(json_object_get(d, "maintenance"));
}

json_t *svc_ha_maintenance_list(void)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	json_t *out = json_array();
	if (store_ha_settings_list(svc_cfg.store, &list, &n) < 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(list[i].uuid, "~host:", 6) != 0)
			continue;
		__do_json json_t *d = json_loads(list[i].def, 0, NULL);
		if (json_is_true(json_object_get(d, "maintenance")))
			json_array_append_new(out, json_pack("{s:s,s:O?}", "host", list[i].uuid + 6, "since",
							     json_object_get(d, "since")));
	}
	store_ha_list_free(list, n);
	return out;
}

static bool vm_active(const char *state) { return state && (!strcmp(state, "running") || !strcmp(state, "paused")); }

/* The VMs running on host that are not HA-protected (an HA VM of host has a
 * row naming it), from host's own VM list; -1 when it cannot be asked (why
 * in err).  A busy host gets 10 s to answer: the count is what the
 * administrator reads next (CI measured 3 s too short at a load of 9). */
static int non_ha_running(const char *host, const char *me, struct buf *err)
{
	__do_json json_t *vms = NULL;
	if (strcmp(host, me) == 0) {
		vms = svc_vm_list(NULL, err);
	} else {
		struct peer *p = NULL;
		if (peer_open(host, &p, err) < 0)
			return -1;
		peer_set_timeout(p, 2000, 10000);
		if (peer_call(p, "GET", "/v1/vms", NULL, &vms, NULL, err) < 0)
			vms = NULL;
		peer_close(p);
	}
	if (!vms)
		return -1;
	int count = 0;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(vms, "vms"), i, v)
	{
		const char *uuid = json_string_value(json_object_get(v, "uuid"));
		struct ha_record rec = { 0 };
		if (!uuid || !vm_active(json_string_value(json_object_get(v, "state"))))
			continue;
		if (store_ha_get(svc_cfg.store, uuid, &rec) == 0) {
			ha_record_release(&rec);
			continue;
		}
		count++;
	}
	return count;
}

/* The HA VMs (state started) that host owns: the ones maintenance moves. */
static json_t *ha_vms_of(const char *host)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	json_t *out = json_array();
	if (store_ha_list(svc_cfg.store, &list, &n) < 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		__do_json json_t *d = json_loads(list[i].def, 0, NULL);
		const char *h = json_string_value(json_object_get(d, "host")),
			   *st = json_string_value(json_object_get(d, "state"));
		if (h && strcmp(h, host) == 0 && (!st || strcmp(st, "started") == 0))
			json_array_append_new(out, json_string(json_string_value(json_object_get(d, "vm")) ?: list[i].uuid));
	}
	store_ha_list_free(list, n);
	return out;
}

int svc_ha_maintenance(const char *host, bool on, json_t **out, struct buf *err)
{
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	int r;
	if (!svc_cluster_def_get(&d, me)) {
		buf_adds(err, "maintenance mode is the pool's HA setting: this host is in no pool (corral cluster create)");
		return -EOPNOTSUPP;
	}
	if (!cluster_def_node(&d, host)) {
		buf_printf(err, "no host '%.64s' in pool %s", host, d.name);
		return -ENOENT;
	}
	__do_free char *key = row_name(host);
	bool was = svc_ha_in_maintenance(host);
	if (on && !was && (r = svc_ha_admit(NULL, NULL, host, err)) < 0)
		return r; /* failures to tolerate: the plan must hold without host */
	int64_t since = time_wall_ms();
	struct store_batch *b = store_batch_new();
	if (on) {
		__do_json json_t *def = json_pack("{s:s,s:b,s:I}", "host", host, "maintenance", 1, "since",
						  (json_int_t)since);
		__do_free char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		if (!was)
			store_batch_ha_put(b, key, text);
	} else if (was) {
		store_batch_ha_delete(b, key);
	}
	r = (on != was) ? store_batch_commit(svc_cfg.store, b, err) : 0;
	store_batch_free(b);
	if (r < 0) {
		if (!err->len && store_commit_refusal(r))
			buf_adds(err, store_commit_refusal(r));
		if (!err->len)
			buf_adds(err, "cannot record the maintenance mode");
		return r;
	}
	if (on != was)
		svc_cluster_event("host %s: HA maintenance %s", host,
				  on ? "on: its HA VMs are moved away, one at a time, and nothing is placed there"
				     : "off: its HA VMs stay where they are");
	json_t *o = json_pack("{s:s,s:b,s:b}", "host", host, "maintenance", on, "changed", on != was);
	if (on) {
		__do_buf struct buf why = BUF_INIT;
		int nh = non_ha_running(host, me, &why);
		json_object_set_new(o, "ha_vms", ha_vms_of(host));
		json_object_set_new(o, "non_ha_running", nh < 0 ? json_null() : json_integer(nh));
		if (nh > 0)
			json_object_set_new(o, "note", json_sprintf("%d VM(s) not protected by HA still run on %s: HA does "
								    "not move them (corral host evacuate, or vm migrate)",
								    nh, host));
		else if (nh < 0)
			json_object_set_new(o, "note", json_sprintf("%s could not be asked for its other VMs: %s", host,
								    why.len ? why.s : "no answer"));
	}
	*out = o;
	return 0;
}
