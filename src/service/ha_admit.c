/*
 * ha_admit.c - HA admission control (see ha_admit.h; docs/ha.md "Failures
 * to tolerate"): reads the replicated rows into cluster/haplan.h's numbers,
 * runs the check, and words a refusal with the failing set and the
 * numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/conf.h"
#include "cluster/haplan.h"
#include "core/store.h"
#include "service/cluster_internal.h"
#include "service/ha_admit.h"
#include "service/ha_maint.h"
#include "service/host.h"
#include "service/internal.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define POOL_ROW "~pool"

json_t *svc_ha_row_get(const char *key)
{
	struct ha_record rec = { 0 };
	if (store_ha_get(svc_cfg.store, key, &rec) < 0)
		return NULL;
	json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	if (!json_is_object(d)) {
		json_decref(d);
		return NULL;
	}
	return d;
}

int svc_ha_ftt(void)
{
	__do_json json_t *d = svc_ha_row_get(POOL_ROW);
	json_t *v = json_object_get(d, "failures_to_tolerate");
	return json_is_integer(v) ? (int)json_integer_value(v) : 0;
}

static int64_t capacity_of(const char *host)
{
	__do_free char *key = xasprintf("~hostmem:%s", host);
	__do_json json_t *d = svc_ha_row_get(key);
	json_t *v = json_object_get(d, "memory_mib");
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* The plan's numbers: hosts in the pool's order, the HA VMs with state started. */
struct plan {
	struct cluster_def d;
	struct haplan_host hosts[CLUSTER_MAX_NODES];
	struct haplan_vm *vms;
	json_t **defs; /* owned, one per VM (names point into them) */
	size_t nv;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->nv; i++)
		json_decref(p->defs[i]);
	free(p->defs);
	free(p->vms);
}

static int host_index(const struct plan *p, const char *name)
{
	for (unsigned i = 0; name && i < p->d.nnodes; i++)
		if (strcmp(p->d.nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int plan_load(struct plan *p, const char *uuid, const json_t *def, const char *maint, struct buf *err)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	memset(p, 0, sizeof(*p));
	if (!svc_cluster_def_get(&p->d, NULL)) {
		buf_adds(err, "HA needs a pool: corral cluster create");
		return -EOPNOTSUPP;
	}
	for (unsigned i = 0; i < p->d.nnodes; i++) {
		const char *h = p->d.nodes[i].name;
		p->hosts[i] = (struct haplan_host){ .name = h, .capacity_mib = capacity_of(h),
						    .down = svc_ha_in_maintenance(h) || (maint && strcmp(maint, h) == 0) };
	}
	if (store_ha_list(svc_cfg.store, &list, &n) < 0) {
		buf_adds(err, "cannot read the HA resources");
		return -EIO;
	}
	p->vms = xcalloc(n + 1, sizeof(*p->vms));
	p->defs = xcalloc(n + 1, sizeof(*p->defs));
	bool seen = false;
	for (size_t i = 0; i <= n; i++) {
		json_t *d;
		if (i < n) {
			bool is = uuid && strcmp(list[i].uuid, uuid) == 0;
			seen |= is;
			d = is && def ? json_deep_copy(def) : json_loads(list[i].def, 0, NULL);
		} else {
			if (seen || !uuid || !def)
				break;
			d = json_deep_copy(def); /* a VM being protected */
		}
		const char *st = json_string_value(json_object_get(d, "state"));
		if (!json_is_object(d) || (st && strcmp(st, "started") != 0)) {
			json_decref(d);
			continue;
		}
		p->defs[p->nv] = d;
		p->vms[p->nv] = (struct haplan_vm){ .name = json_string_value(json_object_get(d, "vm")) ?: "?",
						    .memory_mib = json_integer_value(json_object_get(d, "memory_mib")),
						    .host = host_index(p, json_string_value(json_object_get(d, "host"))) };
		p->nv++;
	}
	store_ha_list_free(list, n);
	return 0;
}

/* The refusal: the set, the VM, the numbers. */
static void plan_explain(const struct plan *p, int ftt, const struct haplan_fail *f, struct buf *err)
{
	struct buf set = BUF_INIT, down = BUF_INIT, caps = BUF_INIT;
	for (size_t i = 0; i < f->nfailed; i++) {
		const struct haplan_host *h = &p->hosts[f->failed[i]];
		if (h->down)
			buf_printf(&down, "%s%s", down.len ? ", " : "", h->name);
		else
			buf_printf(&set, "%s%s", set.len ? " and " : "", h->name);
	}
	for (unsigned i = 0; i < p->d.nnodes; i++) {
		if (p->hosts[i].capacity_mib < 0)
			buf_printf(&caps, "%s%s unknown (not published yet)", caps.len ? ", " : "", p->hosts[i].name);
		else
			buf_printf(&caps, "%s%s %lld MiB", caps.len ? ", " : "", p->hosts[i].name,
				   (long long)p->hosts[i].capacity_mib);
	}
	buf_printf(err, "refused: with %d host failure(s) to tolerate, %s (%lld MiB with overhead) could not be restarted ",
		   ftt, f->vm ? f->vm : "?", (long long)f->need_mib);
	if (set.len)
		buf_printf(err, "if %s failed", set.s);
	else
		buf_adds(err, "even with no host failed");
	if (down.len)
		buf_printf(err, " (in maintenance, counted as failed: %s)", down.s);
	if (f->largest_free_mib < 0)
		buf_adds(err, ": no host would be left");
	else
		buf_printf(err, ": the most memory left on a survivor would be %lld MiB", (long long)f->largest_free_mib);
	buf_printf(err, "; capacities: %s (docs/ha.md, \"Failures to tolerate\")", caps.s ? caps.s : "none");
	buf_release(&set);
	buf_release(&down);
	buf_release(&caps);
}

static int plan_check(const struct plan *p, int ftt, struct buf *err)
{
	struct haplan_fail f = { 0 };
	int r = haplan_check(p->hosts, p->d.nnodes, p->vms, p->nv, (unsigned)ftt, &f);
	if (r == -ENOSPC) {
		plan_explain(p, ftt, &f, err);
		return -EBUSY;
	}
	if (r == -E2BIG) {
		buf_printf(err, "refused: %d host failures to tolerate in a pool of %u hosts is more sets of hosts than corral "
				"checks (%d)", ftt, p->d.nnodes, HAPLAN_MAX_SETS);
		return -EBUSY;
	}
	if (r < 0) {
		buf_adds(err, "the failures-to-tolerate plan cannot be computed");
		return r;
	}
	return 0;
}

int svc_ha_admit(const char *uuid, const json_t *def, const char *maint, struct buf *err)
{
	int ftt = svc_ha_ftt();
	if (ftt <= 0)
		return 0;
	struct plan p;
	int r = plan_load(&p, uuid, def, maint, err);
	if (r == 0)
		r = plan_check(&p, ftt, err);
	plan_free(&p);
	return r;
}

json_t *svc_ha_plan(void)
{
	struct plan p;
	struct buf err __do_buf = BUF_INIT;
	json_t *caps = json_object();
	int max = -1;
	if (plan_load(&p, NULL, NULL, NULL, &err) == 0) {
		for (unsigned i = 0; i < p.d.nnodes; i++)
			json_object_set_new(caps, p.hosts[i].name,
					    p.hosts[i].capacity_mib < 0 ? json_null() : json_integer(p.hosts[i].capacity_mib));
		max = haplan_max_failures(p.hosts, p.d.nnodes, p.vms, p.nv);
	}
	plan_free(&p);
	return json_pack("{s:i,s:i,s:o}", "failures_to_tolerate", svc_ha_ftt(), "max_failures", max, "capacities", caps);
}

int svc_ha_ftt_set(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "failures_to_tolerate", NULL };
	int64_t n = -1;
	if (json_check_keys(body, "HA pool settings", keys, err) < 0 ||
	    json_get_int(body, "failures_to_tolerate", 0, CLUSTER_MAX_NODES - 1, &n, err) < 0)
		return -EINVAL;
	if (n < 0) {
		buf_adds(err, "give failures_to_tolerate (0 turns admission control off)");
		return -EINVAL;
	}
	struct plan p;
	int r = plan_load(&p, NULL, NULL, NULL, err);
	if (r == 0 && n >= (int64_t)p.d.nnodes) {
		buf_printf(err, "a pool of %u host(s) tolerates at most %u failure(s): failures_to_tolerate %lld is too many",
			   p.d.nnodes, p.d.nnodes ? p.d.nnodes - 1 : 0, (long long)n);
		r = -EINVAL;
	}
	if (r == 0 && n > 0)
		r = plan_check(&p, (int)n, err);
	plan_free(&p);
	if (r < 0)
		return r;
	__do_json json_t *def = json_pack("{s:I}", "failures_to_tolerate", (json_int_t)n);
	__do_free char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	if ((r = store_ha_put(svc_cfg.store, POOL_ROW, text)) < 0) {
		if (store_commit_refusal(r))
			buf_adds(err, store_commit_refusal(r));
		else
			buf_adds(err, "cannot record the failures to tolerate");
		return r;
	}
	svc_cluster_event("HA failures to tolerate: %lld%s", (long long)n, n ? "" : " (admission control off)");
	*out = svc_ha_plan();
	return 0;
}

/* Something in the pool uses the plan: an HA resource, or failures to tolerate set. */
static bool plan_in_use(void)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	if (svc_ha_ftt() > 0)
		return true;
	if (store_ha_list(svc_cfg.store, &list, &n) < 0)
		return false;
	store_ha_list_free(list, n);
	return n > 0;
}

void svc_ha_capacity_publish(const char *me)
{
	static int64_t last_ms;
	int64_t now = time_mono_ms();
	if (last_ms && now - last_ms < 30000)
		return;
	/* a pool that uses no HA gets no writes from it (each one is a configuration
	 * version); looked at every 2 s */
	static int64_t idle_ms;
	if (idle_ms && now - idle_ms < 2000)
		return;
	if (!plan_in_use()) {
		idle_ms = now;
		return;
	}
	idle_ms = 0;
	last_ms = now;
	__do_json json_t *h = svc_host_info();
	json_t *m = json_object_get(json_object_get(h, "capacity"), "memory_mib");
	if (!json_is_integer(m))
		m = json_object_get(h, "memory_mib");
	if (!json_is_integer(m) || json_integer_value(m) <= 0)
		return;
	if (capacity_of(me) == json_integer_value(m))
		return;
	__do_free char *key = xasprintf("~hostmem:%s", me);
	__do_json json_t *def = json_pack("{s:s,s:I}", "host", me, "memory_mib", json_integer_value(m));
	__do_free char *text = json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
	struct buf err __do_buf = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_ha_put(b, key, text);
	if (store_batch_commit(svc_cfg.store, b, &err) == 0)
		log_info("ha: published this host's memory capacity (%lld MiB) to the pool",
			 (long long)json_integer_value(m));
	else
		last_ms = now - 25000; /* try again in 5 s */
	store_batch_free(b);
}
