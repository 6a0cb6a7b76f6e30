/*
 * ha.c - HA resources (see ha.h; docs/ha.md "HA resources"): checks a
 * request's settings, keeps them as one JSON definition per VM in the
 * replicated ha_resources table, and reports them with what this host
 * knows of each VM.  Every change is an "ha" event of the VM.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/membership.h"
#include "service/ha.h"
#include "service/ha_admit.h"
#include "service/ha_group.h"
#include "service/ha_kind.h"
#include "service/ct.h"
#include "service/ha_fence.h"
#include "service/ha_lease.h"
#include "service/ha_maint.h"
#include "service/ha_manager.h"
#include "service/cluster_internal.h"
#include "service/replicate.h"
#include "service/replrow.h"
#include "util/timeutil.h"
#include "util/log.h"
#include "service/internal.h"
#include "core/store.h"
#include "core/store_local.h"
#include "core/vmdef.h"
#include "util/jsonutil.h"
#include "util/common.h"

struct ha_num {
	const char *key;
	int64_t min, max, def;
};

static const struct ha_num nums[] = {
	{ "priority", 0, 1000, 0 },    { "order", 0, 1000, 0 },	       { "start_delay", 0, 3600, 0 },
	{ "max_restart", 0, 10, 1 },   { "max_relocate", 0, 10, 1 },
};

static const char *const states[] = { "started", "stopped", "disabled", "ignored" };

static const char *const set_keys[] = { "priority", "order", "start_delay", "max_restart", "max_relocate", "state",
					"group", NULL };
static const char *const add_keys[] = { "vm", "priority", "order", "start_delay", "max_restart", "max_relocate",
					"state", "group", NULL };

/* Copy the settings of `body` onto def, checking each. */
static int settings_merge(json_t *def, const json_t *body, struct buf *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++) {
		int64_t v = nums[i].def;
		json_t *have = json_object_get(def, nums[i].key);
		if (json_is_integer(have))
			v = json_integer_value(have);
		if (json_get_int(body, nums[i].key, nums[i].min, nums[i].max, &v, err) < 0)
			return -EINVAL;
		json_object_set_new(def, nums[i].key, json_integer(v));
	}
	const char *st = json_string_value(json_object_get(def, "state"));
	if (json_get_str(body, "state", &st, err) < 0)
		return -EINVAL;
	if (!st)
		st = "started";
	bool ok = false;
	for (size_t i = 0; i < ARRAY_SIZE(states); i++)
		ok |= strcmp(st, states[i]) == 0;
	if (!ok) {
		buf_printf(err, "HA state '%.40s' is not one of started, stopped, disabled, ignored", st);
		return -EINVAL;
	}
	json_object_set_new(def, "state", json_string(st));
	const char *group = NULL;
	if (json_get_str(body, "group", &group, err) < 0)
		return -EINVAL;
	if (group && !*group) {
		json_object_del(def, "group"); /* "": no group */
	} else if (group) {
		__do_json json_t *g = svc_ha_group_get(group);
		if (!g) {
			buf_printf(err, "no HA group '%.64s' (corral ha group add)", group);
			return -ENOENT;
		}
		json_object_set_new(def, "group", json_string(group));
	}
	return 0;
}

/* This host's node name in its pool (new string), or -EOPNOTSUPP + err. */
static int pool_self(char **self, struct buf *err)
{
	__do_free char *def = NULL;
	int r = store_cluster_get(svc_cfg.store, &def, self);
	if (r == -ENOENT) {
		buf_adds(err, "HA needs a pool: corral cluster create");
		return -EOPNOTSUPP;
	}
	if (r < 0)
		buf_adds(err, "cannot read this host's pool membership");
	return r;
}

static int commit_fail(int r, const char *what, struct buf *err)
{
	if (!err->len && store_commit_refusal(r))
		buf_adds(err, store_commit_refusal(r));
	if (!err->len)
		buf_printf(err, "cannot %s the HA resource", what);
	return r;
}

/* The host VM uuid's disk vol is replicated to (NULL: not replicated); from replication's record. */
static const char *replica_of(const json_t *repl, const char *vol)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(repl, "disks"), i, v) if (json_is_string(v) &&
								   strcmp(json_string_value(v), vol) == 0)
		return json_string_value(json_object_get(repl, "peer"));
	return NULL;
}

int svc_ha_capture(const struct vm_def *vd, json_t *def, struct buf *err)
{
	json_t *disks = json_array();
	__do_json json_t *repl = svc_vm_replication(vd->uuid);
	int r = 0;
	for (int i = 0; i < vd->ndisks && r == 0; i++) {
		struct vol_record v = { 0 };
		struct pool_record pr = { 0 };
		const char *pool = NULL, *replica = NULL;
		size_t plen;
		bool have_pool = false;
		if (store_vol_get(svc_cfg.store, vd->disks[i].volume, &v) < 0) {
			buf_printf(err, "disk %s of %s: no such volume here", vd->disks[i].volume, vd->name);
			r = -ENOENT;
		} else if (!(have_pool = store_pool_get(svc_cfg.store, (pool = v.pool ? v.pool : "default"), &pr) == 0) ||
			   (!pr.shared && !(replica = replica_of(repl, v.name)))) {
			buf_printf(err,
				   "disk %s of %s is in pool '%s', which is not shared, and is not replicated: HA could not "
				   "restart %s on another host (put its disks in a shared pool, or replicate them to a "
				   "member of the pool: corral vm replicate %s --to HOST; docs/ha.md)",
				   vd->disks[i].volume, vd->name, pool, vd->name, vd->name);
			r = -EINVAL;
		} else if ((plen = strlen(pr.path)) >= strlen(v.path) || strncmp(v.path, pr.path, plen) != 0 ||
			   v.path[plen] != '/') {
			buf_printf(err, "disk %s of %s is not inside its pool's directory (%s)", vd->disks[i].volume,
				   vd->name, pr.path);
			r = -EINVAL;
		} else {
			json_array_append_new(disks, json_pack("{s:s,s:s,s:s,s:s,s:s?}", "volume", v.name, "pool", pool,
							       "format", v.format, "file", v.path + plen + 1, "replica",
							       replica));
		}
		pool_record_release(&pr);
		vol_record_release(&v);
	}
	if (r < 0) {
		json_decref(disks);
		return r;
	}
	json_object_set_new(def, "vm", json_string(vd->name));
	json_object_set_new(def, "vmdef", vmdef_to_json(vd));
	json_object_set_new(def, "disks", disks);
	json_object_set_new(def, "memory_mib", json_integer((json_int_t)vd->memory_mib));
	return 0;
}

/* The API's view of an HA resource: the settings and the manager's state,
 * not the definition it carries (vmdef, disks). */
static json_t *entry(const char *uuid, json_t *def)
{
	json_t *e = json_deep_copy(def);
	json_object_set_new(e, "uuid", json_string(uuid));
	json_object_del(e, "vmdef");
	json_object_del(e, "ctdef");
	json_object_del(e, "disks");
	json_object_set_new(e, "kind", json_string(ha_kind_of(def) == HA_CT ? "container" : "vm"));
	return e;
}

/* A VM on replicated disks: its replica on a member of the pool, and in
 * sync as the pool records it (docs/ha.md "Failover onto the replica"). */
static int replica_check(const char *uuid, const json_t *def, struct buf *err)
{
	const char *peer = NULL, *name = json_string_value(json_object_get(def, "vm"));
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(def, "disks"), i, d) if (json_string_value(json_object_get(d, "replica")))
		peer = json_string_value(json_object_get(d, "replica"));
	if (!peer)
		return 0;
	struct cluster_def cd;
	if (!svc_cluster_def_get(&cd, NULL) || !cluster_def_node(&cd, peer)) {
		buf_printf(err, "%s is replicated to %s, which is not a member of the pool: HA restarts it only on its "
				"replica's host (replicate it to a member)",
			   name, peer);
		return -EINVAL;
	}
	__do_json json_t *row = replrow_get(uuid);
	const char *st = json_string_value(json_object_get(row, "state"));
	if (!st || strcmp(st, "in-sync") != 0) {
		char when[40] = "";
		json_t *since = json_object_get(row, "since");
		if (json_is_integer(since))
			time_fmt_rfc3339(json_integer_value(since), when, sizeof(when));
		buf_printf(err, "the replica of %s on %s is %s%s%s: HA accepts a replicated VM once the pool records its "
				"replica in sync (corral vm replicate %s)",
			   name, peer, st ? st : "not recorded in the pool", *when ? " since " : "", when, name);
		return -EBUSY;
	}
	return 0;
}

/* The last steps of svc_ha_add for either kind: failures to tolerate, the pool's row, the event. */
static int add_commit(const char *uuid, json_t *def, json_t **out, struct buf *err)
{
	int r;
	if ((r = svc_ha_admit(uuid, def, NULL, err)) < 0) /* failures to tolerate */
		return r;
	if ((r = ha_lease_create(uuid, def, err)) < 0) /* a missing one later is a lost one */
		return r;
	__do_free char *text = json_to_string(def);
	if ((r = store_ha_put(svc_cfg.store, uuid, text)) < 0)
		return commit_fail(r, "add", err);
	svc_vm_event(uuid, "ha", "HA-protected");
	ha_fence_refresh();
	*out = entry(uuid, def);
	return 0;
}

/* svc_ha_add of container key: its root and mount volumes on shared pools (svc_ct_ha_capture). */
static int ha_add_ct(const char *key, const char *self, const json_t *body, json_t **out, struct buf *err)
{
	char uuid[37];
	int r;
	__do_json json_t *def = json_pack("{s:s,s:s}", "host", self, "status", "started");
	if ((r = svc_ct_ha_capture(key, def, uuid, err)) < 0)
		return r;
	struct ha_record old = { 0 };
	if (store_ha_get(svc_cfg.store, uuid, &old) == 0) {
		ha_record_release(&old);
		buf_printf(err, "container '%.64s' is already HA-protected: change it with corral ha set", key);
		return -EEXIST;
	}
	if ((r = settings_merge(def, body, err)) < 0)
		return r;
	return add_commit(uuid, def, out, err);
}

int svc_ha_add(const json_t *body, json_t **out, struct buf *err)
{
	const char *key = NULL;
	svc_uuid uuid;
	__do_free char *self = NULL;
	int r;
	if (json_check_keys(body, "HA resource", add_keys, err) < 0 || json_get_str(body, "vm", &key, err) < 0)
		return -EINVAL;
	if (!key) {
		buf_adds(err, "which VM? give 'vm' (a name or uuid)");
		return -EINVAL;
	}
	if ((r = pool_self(&self, err)) < 0)
		return r;
	if (store_vm_lookup(svc_cfg.store, key, uuid) < 0) {
		if (svc_ct_exists(key))
			return ha_add_ct(key, self, body, out, err);
		buf_printf(err, "no VM '%.64s' on this host (nor a container of that name)", key);
		return -ENOENT;
	}
	struct ha_record old = { 0 };
	if (store_ha_get(svc_cfg.store, uuid, &old) == 0) {
		ha_record_release(&old);
		buf_printf(err, "VM '%.64s' is already HA-protected: change it with corral ha set", key);
		return -EEXIST;
	}
	struct vm_record vm = { 0 };
	if ((r = store_vm_get(svc_cfg.store, uuid, &vm)) < 0) {
		buf_printf(err, "no VM '%.64s' on this host", key);
		return -ENOENT;
	}
	if (vm.invalid) {
		buf_printf(err, "VM '%.64s' has an invalid stored definition; fix it first (corral vm edit)", key);
		vm_record_release(&vm);
		return -EINVAL;
	}
	__do_json json_t *def = json_pack("{s:s,s:s,s:s}", "vm", vm.def->name, "host", vm.host ? vm.host : self,
					  "status", "started");
	r = svc_ha_capture(vm.def, def, err);
	vm_record_release(&vm);
	if (r < 0 || (r = replica_check(uuid, def, err)) < 0 || (r = settings_merge(def, body, err)) < 0)
		return r;
	return add_commit(uuid, def, out, err);
}

/* The uuid of the protected VM `key` (name or uuid; a uuid also when the VM is not on this host). */
static int ha_find(const char *key, svc_uuid uuid, struct ha_record *rec, struct buf *err)
{
	if (store_vm_lookup(svc_cfg.store, key, uuid) < 0)
		snprintf(uuid, sizeof(svc_uuid), "%s", key);
	if (uuid[0] != '~' && store_ha_get(svc_cfg.store, uuid, rec) == 0) /* '~': the pool's settings rows */
		return 0;
	/* a VM on another host: match the name recorded in the definition */
	struct ha_record *list = NULL;
	size_t n = 0;
	if (store_ha_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			__do_json json_t *d = json_loads(list[i].def, 0, NULL);
			const char *name = json_string_value(json_object_get(d, "vm"));
			if (name && strcmp(name, key) == 0) {
				snprintf(uuid, sizeof(svc_uuid), "%s", list[i].uuid);
				*rec = list[i];
				memset(&list[i], 0, sizeof(list[i]));
				store_ha_list_free(list, n);
				return 0;
			}
		}
		store_ha_list_free(list, n);
	}
	buf_printf(err, "'%.64s' (a VM or container) is not HA-protected", key);
	return -ENOENT;
}

int svc_ha_set(const char *vm, const json_t *body, json_t **out, struct buf *err)
{
	svc_uuid uuid;
	struct ha_record rec = { 0 };
	__do_free char *self = NULL;
	int r;
	if (json_check_keys(body, "HA settings", set_keys, err) < 0)
		return -EINVAL;
	if ((r = pool_self(&self, err)) < 0 || (r = ha_find(vm, uuid, &rec, err)) < 0)
		return r;
	__do_json json_t *def = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	if (!json_is_object(def)) {
		buf_adds(err, "the stored HA settings are not JSON");
		return -EIO;
	}
	if ((r = settings_merge(def, body, err)) < 0)
		return r;
	/* an administrator's state clears an error: placed again from scratch (started), or left alone */
	const char *status = json_string_value(json_object_get(def, "status"));
	if (json_object_get(body, "state") && status && strcmp(status, "error") == 0) {
		bool start = strcmp(json_string_value(json_object_get(def, "state")), "started") == 0;
		json_object_set_new(def, "status", json_string(start ? "relocate" : "started"));
		json_object_set_new(def, "status_reason",
				    json_string(start ? "error cleared (ha set --state started): to be placed again"
						      : "error cleared by ha set --state"));
		json_object_del(def, "failed");
	}
	const char *want = json_string_value(json_object_get(body, "state"));
	if (want && strcmp(want, "started") == 0 && (r = svc_ha_admit(uuid, def, NULL, err)) < 0)
		return r; /* failures to tolerate */
	__do_free char *text = json_to_string(def);
	if ((r = store_ha_put(svc_cfg.store, uuid, text)) < 0)
		return commit_fail(r, "change", err);
	svc_vm_event(uuid, "ha", "HA settings changed");
	ha_fence_refresh();
	*out = entry(uuid, def);
	return 0;
}

int svc_ha_remove(const char *vm, struct buf *err)
{
	svc_uuid uuid;
	struct ha_record rec = { 0 };
	__do_free char *self = NULL;
	int r;
	if ((r = pool_self(&self, err)) < 0 || (r = ha_find(vm, uuid, &rec, err)) < 0)
		return r;
	ha_record_release(&rec);
	if ((r = store_ha_delete(svc_cfg.store, uuid)) < 0)
		return commit_fail(r, "remove", err);
	svc_vm_event(uuid, "ha", "no longer HA-protected");
	ha_fence_refresh();
	return 0;
}

/* This host's node name into me (CLUSTER_NODE_NAME_MAX + 1), false when in no pool. */
static bool self_name(char *me, size_t len)
{
	__do_free char *self = NULL, *cdef = NULL;
	if (store_cluster_get(svc_cfg.store, &cdef, &self) < 0 || !self)
		return false;
	snprintf(me, len, "%s", self);
	return true;
}

int svc_ha_start_check(const char *uuid, const char *name, struct buf *err)
{
	struct ha_record rec = { 0 };
	char me[80];
	if (!self_name(me, sizeof(me)) || store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return 0;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	const char *host = json_string_value(json_object_get(d, "host"));
	const char *st = json_string_value(json_object_get(d, "status"));
	const char *state = json_string_value(json_object_get(d, "state"));
	if (!state || strcmp(state, "started") != 0)
		return 0;
	if (host && strcmp(host, me) != 0) {
		buf_printf(err, "%s is HA-protected and HA moved it to %s: it runs there, never here (corral ha status)",
			   name, host);
		return -EBUSY;
	}
	if (!membership_quorate()) {
		buf_printf(err, "%s is HA-protected and this host has no quorum: the pool may be restarting it on "
				"another host, so it is not started here",
			   name);
		return -EBUSY;
	}
	if (st && (!strcmp(st, "fence") || !strcmp(st, "recovery") || !strcmp(st, "relocate") || !strcmp(st, "error"))) {
		buf_printf(err, "%s is HA-protected and HA has it in state '%s' (%s): not started here", name, st,
			   json_string_value(json_object_get(d, "status_reason")) ?: "see corral ha status");
		return -EBUSY;
	}
	return 0;
}

/* Rewrite uuid's row through fn (on a copy); nothing when not protected. */
static void ha_update(const char *uuid, void (*fn)(json_t *d, const void *arg), const void *arg, const char *what)
{
	struct ha_record rec = { 0 };
	struct buf err __do_buf = BUF_INIT;
	if (store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	if (!json_is_object(d))
		return;
	__do_free char *before = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	fn(d, arg);
	__do_free char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	if (strcmp(before, text) == 0)
		return;
	struct store_batch *b = store_batch_new();
	store_batch_ha_put(b, uuid, text);
	int r = store_batch_commit(svc_cfg.store, b, &err);
	store_batch_free(b);
	if (r < 0) {
		log_warn("ha: VM %s: %s not recorded in the pool: %s", uuid, what, err.s ? err.s : "");
		return;
	}
	svc_vm_event(uuid, "ha", what);
}

static void set_requested(json_t *d, const void *arg)
{
	const char *want = arg;
	const char *st = json_string_value(json_object_get(d, "state"));
	if (!st || (strcmp(st, "started") != 0 && strcmp(st, "stopped") != 0))
		return; /* disabled, ignored: HA leaves it alone */
	if (strcmp(st, want) == 0)
		return; /* already so: the HA agent's own starts land here too */
	json_object_set_new(d, "state", json_string(want));
	if (!strcmp(want, "started")) {
		json_object_set_new(d, "status", json_string("started"));
		json_object_del(d, "failed");
	}
}

void svc_ha_requested(const char *uuid, bool started)
{
	struct ha_record rec = { 0 };
	if (store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	__do_free char *what = xasprintf(started ? "HA state started: the %s was started by request"
						 : "HA state stopped: the %s was stopped by request (a requested stop is "
						   "not a crash)",
					 ha_kind_word(ha_kind_of(d)));
	ha_update(uuid, set_requested, started ? "started" : "stopped", what);
	if (started)
		ha_fence_refresh(); /* armed, and corral-guard told, now rather than within the second */
}

static void set_owner(json_t *d, const void *arg)
{
	const char *st = json_string_value(json_object_get(d, "status"));
	if (st && strcmp(st, "migrate") == 0) { /* the manager's move (maintenance, failback) is done */
		const char *cause = json_string_value(json_object_get(d, "move_cause"));
		json_object_set_new(d, "status", json_string("started"));
		json_object_set_new(d, "status_reason", json_sprintf("moved to %s by live migration (%s)",
								     (const char *)arg, cause ? cause : "the manager's decision"));
	}
	json_object_del(d, "target");
	json_object_del(d, "move_cause");
	json_object_set_new(d, "host", json_string(arg));
	json_object_del(d, "from");
	json_object_del(d, "failed");
	json_object_del(d, "replicate_back");
}

void svc_ha_moved(const char *uuid, const char *to)
{
	__do_free char *what = xasprintf("HA owner is now %s (migrated)", to);
	ha_update(uuid, set_owner, to, what);
}

struct switched {
	const char *to, *from;
};

static void set_owner_switched(json_t *d, const void *arg)
{
	const struct switched *s = arg;
	set_owner(d, s->to);
	json_object_set_new(d, "replicate_back", json_string(s->from));
}

void svc_ha_moved_onto_replica(const char *uuid, const char *to, const char *from)
{
	struct switched s = { .to = to, .from = from };
	__do_free char *what = xasprintf("HA owner is now %s (switched over onto its replica); it is replicated "
					 "back to %s once %s is online and not in maintenance",
					 to, from, from);
	ha_update(uuid, set_owner_switched, &s, what);
}

bool svc_ha_protected(const char *uuid)
{
	struct ha_record rec = { 0 };
	if (uuid[0] == '~' || store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return false;
	ha_record_release(&rec);
	return true;
}

bool svc_ha_armed(const char *uuid)
{
	struct ha_record rec = { 0 };
	if (store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return false;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	const char *st = json_string_value(json_object_get(d, "state"));
	return st && strcmp(st, "started") == 0;
}

json_t *svc_ha_status(void)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	__do_free char *self = NULL, *cdef = NULL;
	json_t *res = json_array();
	if (store_cluster_get(svc_cfg.store, &cdef, &self) < 0)
		self = NULL;
	if (store_ha_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			json_t *d = json_loads(list[i].def, 0, NULL);
			if (!json_is_object(d)) {
				json_decref(d);
				continue;
			}
			json_t *e = entry(list[i].uuid, d);
			json_decref(d);
			json_t *row = replrow_get(list[i].uuid);
			if (row) { /* its replica as the pool records it (docs/ha.md "Failover onto the replica") */
				char when[40];
				json_t *since = json_object_get(row, "since");
				json_object_set_new(e, "replica",
						    json_pack("{s:O,s:O,s:s}", "host", json_object_get(row, "peer"), "state",
							      json_object_get(row, "state"), "since",
							      time_fmt_rfc3339(json_is_integer(since) ? json_integer_value(since) : 0,
									       when, sizeof(when))));
				json_decref(row);
			}
			struct vm_record vm = { 0 };
			const char *cst = NULL;
			if (!json_object_get(e, "status"))
				json_object_set_new(e, "status", json_string("started"));
			if (strcmp(json_string_value(json_object_get(e, "kind")), "container") == 0) {
				/* liblxc's state here, lower case as ct list shows it */
				svc_ct_running(list[i].uuid, &cst);
				__do_free char *lower = xstrdup(cst);
				for (char *p = lower; *p; p++)
					*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
				json_object_set_new(e, "vm_state", json_string(lower));
			} else if (store_vm_get(svc_cfg.store, list[i].uuid, &vm) == 0) {
				json_object_set_new(e, "vm", json_string(vm.def->name));
				if (!json_object_get(e, "host"))
					json_object_set_new(e, "host", json_string(vm.host ? vm.host : self ? self : "this host"));
				json_object_set_new(e, "vm_state", json_string(vmstate_name(vm.state)));
				if (vm.reason)
					json_object_set_new(e, "reason", json_string(vm.reason));
				vm_record_release(&vm);
			} else {
				json_object_set_new(e, "vm_state", json_string("unknown here"));
			}
			json_t *lease = ha_lease_status(list[i].uuid); /* docs/ha.md "Disk leases" */
			json_object_set_new(e, "lease", lease ? lease : json_null());
			json_array_append_new(res, e);
		}
		store_ha_list_free(list, n);
	}
	return json_pack("{s:b,s:o,s:o,s:o,s:o,s:o}", "pool", self != NULL, "manager", ha_manager_status(), "fence",
			 ha_fence_status(), "resources", res, "maintenance", svc_ha_maintenance_list(), "plan",
			 self ? svc_ha_plan() : json_null());
}
