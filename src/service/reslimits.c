/*
 * reslimits.c - changing and showing a VM's resource limits (see reslimits.h):
 * merging a partial change into the definition, applying it to a running
 * VM through the runtime (cgroup) and QMP (disk throttling, balloon), and
 * undoing what was applied when a later step fails.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reslimits.h"
#include "service/internal.h"
#include "service/vm.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/reslimits.h"
#include "qemu/runtime.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

/* Set or (null) remove the members of `changes` in obj. */
static void merge(json_t *obj, const json_t *changes)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)changes, k, v) {
		if (json_is_null(v))
			json_object_del(obj, k);
		else
			json_object_set(obj, k, v);
	}
}

/* The definition with the change applied (validated), or NULL + err. */
static struct vm_def *changed_def(const struct vm_def *old, const json_t *ch, struct buf *err)
{
	static const char *const keys[] = { "cpu_weight", "cpu_limit", "cpuset", "memory_limit_mib",
					    "memory_target_mib", "disks", NULL };
	__do_json json_t *j = vmdef_to_json(old);
	json_t *limits = json_object_get(j, "limits"), *disks = json_object_get(j, "disks");
	json_t *cd = json_object_get(ch, "disks"), *v;
	const char *k;

	if (json_check_keys(ch, "the limits change", keys, err) < 0)
		return NULL;
	json_object_foreach((json_t *)ch, k, v) {
		if (strcmp(k, "disks") == 0)
			continue;
		if (json_is_null(v))
			json_object_del(limits, k);
		else
			json_object_set(limits, k, v);
	}
	if (cd && !json_is_object(cd)) {
		buf_adds(err, "disks must be an object of volume name to I/O limits");
		return NULL;
	}
	json_object_foreach(cd, k, v) {
		size_t i;
		json_t *disk, *found = NULL;
		json_array_foreach(disks, i, disk)
			if (strcmp(json_string_value(json_object_get(disk, "volume")), k) == 0)
				found = disk;
		if (!found) {
			buf_printf(err, "volume '%s' is not a disk of vm '%s'", k, old->name);
			return NULL;
		}
		if (!json_is_null(v) && !json_is_object(v)) {
			buf_printf(err, "the I/O limits of disk '%s' must be an object (or null for none)", k);
			return NULL;
		}
		json_t *io = json_object_get(found, "io");
		if (!io) {
			io = json_object();
			json_object_set_new(found, "io", io);
		}
		if (json_is_null(v))
			json_object_clear(io);
		else
			merge(io, v);
		if (!json_object_size(io))
			json_object_del(found, "io");
	}
	return vmdef_from_json(j, err);
}

static bool io_equal(const struct vm_disk_io *a, const struct vm_disk_io *b) { return memcmp(a, b, sizeof(*a)) == 0; }

static bool cgroup_part_equal(const struct vm_def *a, const struct vm_def *b)
{
	const struct vm_limits *x = &a->limits, *y = &b->limits;
	return x->cpu_weight == y->cpu_weight && x->cpu_limit_centi == y->cpu_limit_centi &&
	       x->memory_limit_mib == y->memory_limit_mib &&
	       ((!x->cpuset && !y->cpuset) || (x->cpuset && y->cpuset && strcmp(x->cpuset, y->cpuset) == 0));
}

static char *device_of(json_t *nodes, const char *volume)
{
	const char *dev = json_string_value(json_object_get(json_object_get(nodes, volume), "device"));
	return dev ? xstrdup(dev) : NULL;
}

/* Make the running VM follow `to`, where it differs from `from`.  Undo on failure (undo: false while undoing). */
static int apply_live(const char *uuid, const struct vm_def *from, const struct vm_def *to, bool undo, struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	__do_json json_t *nodes = NULL;
	int r = 0, done_disks = 0;
	bool cg = !cgroup_part_equal(from, to), cg_done = false;

	if (cg) {
		if ((r = rt_limits_apply(uuid, to, err)) < 0)
			return r;
		cg_done = true;
	}
	if (!(q = rt_qmp_acquire(uuid, &ref, err))) {
		r = -EBUSY;
		goto undo;
	}
	nodes = rt_disk_nodes(uuid);
	for (int i = 0; i < to->ndisks; i++, done_disks = i) {
		if (io_equal(&from->disks[i].io, &to->disks[i].io))
			continue;
		__do_free char *dev = device_of(nodes, to->disks[i].volume);
		if (!dev) {
			buf_printf(err, "disk '%s' is not plugged into the running VM", to->disks[i].volume);
			r = -ENOENT;
			goto undo;
		}
		if ((r = qemu_disk_io_set(q, dev, to->disks[i].bus, &to->disks[i].io, err)) < 0)
			goto undo;
	}
	done_disks = to->ndisks;
	if (from->limits.memory_target_mib != to->limits.memory_target_mib) {
		long long mib = to->limits.memory_target_mib ? to->limits.memory_target_mib : to->memory_mib;
		if (!to->balloon) {
			buf_adds(err, "this VM has no balloon device");
			r = -ENOTSUP;
			goto undo;
		}
		if ((r = qemu_balloon_set(q, mib, err)) < 0)
			goto undo;
	}
	rt_qmp_release(ref);
	return 0;
undo:
	if (undo) {
		struct buf e = BUF_INIT;
		if (cg_done && rt_limits_apply(uuid, from, &e) < 0)
			log_warn("vm %s: cannot restore its limits: %s", to->name, e.s);
		for (int i = 0; q && i < done_disks; i++) {
			__do_free char *dev = device_of(nodes, to->disks[i].volume);
			buf_reset(&e);
			if (dev && !io_equal(&from->disks[i].io, &to->disks[i].io) &&
			    qemu_disk_io_set(q, dev, from->disks[i].bus, &from->disks[i].io, &e) < 0)
				log_warn("vm %s: cannot restore disk limits: %s", to->name, e.s);
		}
		buf_release(&e);
	}
	rt_qmp_release(ref);
	return r;
}

int svc_vm_limits_set(const char *uuid, const json_t *changes, int64_t if_gen, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	struct vm_def *d = NULL;
	bool live = false;
	int r;

	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if ((r = job_hold_vm(uuid, rec.def->name, "set-limits", &h, err)) < 0)
		goto out;
	/* the definition as it is now, under the lock */
	vm_record_release(&rec);
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto out;
	}
	if (rec.state == VM_STARTING || rec.state == VM_STOPPING) {
		buf_printf(err, "%s: vm is %s; try again in a moment", rec.def->name, vmstate_name(rec.state));
		r = -EBUSY;
		goto out;
	}
	if (if_gen >= 0 && rec.generation != if_gen) {
		buf_printf(err, "vm %s was changed since (generation %lld, not %lld); read it again",
			   rec.def->name, (long long)rec.generation, (long long)if_gen);
		r = -ESTALE;
		goto out;
	}
	if (!(d = changed_def(rec.def, changes, err))) {
		r = -EINVAL;
		goto out;
	}
	if (d->limits.cpuset && (r = cpuset_host_check(d->limits.cpuset, NULL, err)) < 0)
		goto out;
	live = vmstate_is_active(rec.state) && rt_is_active(uuid);
	if (live && (r = apply_live(uuid, rec.def, d, true, err)) < 0)
		goto out;
	{
		struct store_batch *b = store_batch_new();
		pthread_mutex_lock(&svc_defs_lock);
		store_batch_vm_put(b, d, if_gen >= 0 ? if_gen : STORE_GEN_ANY);
		r = store_batch_commit(svc_cfg.store, b, err);
		pthread_mutex_unlock(&svc_defs_lock);
		store_batch_free(b);
	}
	if (r < 0) {
		struct buf e = BUF_INIT;
		if (live)
			apply_live(uuid, d, rec.def, false, &e);
		buf_release(&e);
		goto out;
	}
	{
		__do_json json_t *lj = vmlimits_to_json(&d->limits);
		__do_free char *s = json_to_string(lj);
		__do_free char *detail = xasprintf("limits %s%s", s, live ? " (applied live)" : "");
		svc_vm_event(uuid, "limits", detail);
	}
	*out = svc_vm_limits_show(uuid);
out:
	vmdef_free(d);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_disk_io_apply(const char *uuid, const char *volume, enum disk_bus bus, const struct vm_disk_io *io,
			 struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q = rt_qmp_acquire(uuid, &ref, err);
	__do_json json_t *nodes = NULL;
	int r = -EBUSY;
	if (q) {
		nodes = rt_disk_nodes(uuid);
		__do_free char *dev = device_of(nodes, volume);
		r = dev ? qemu_disk_io_set(q, dev, bus, io, err) : -ENOENT;
		if (!dev)
			buf_printf(err, "disk '%s' is not plugged into the running VM", volume);
	}
	rt_qmp_release(ref);
	return r;
}

void svc_vm_limits_status(const char *uuid, const struct vm_def *d, json_t *status)
{
	struct rt_ref *ref = NULL;
	struct buf err = BUF_INIT;
	struct qmp *q = d->balloon ? rt_qmp_acquire(uuid, &ref, &err) : NULL;
	json_t *b = q ? qemu_balloon_info(q) : NULL;
	rt_qmp_release(ref);
	if (b)
		json_object_set_new(b, "target_mib", json_integer(d->limits.memory_target_mib ? d->limits.memory_target_mib
											: d->memory_mib));
	json_object_set_new(status, "balloon", b ? b : json_null());
	json_t *eff = rt_limits_effective(uuid, d);
	json_object_set_new(status, "limits", eff ? eff : json_null());
	buf_release(&err);
}

json_t *svc_vm_limits_show(const char *uuid)
{
	struct vm_record rec = { 0 };
	struct rt_ref *ref = NULL;
	struct buf err = BUF_INIT;
	if (store_vm_get(svc_cfg.store, uuid, &rec) < 0)
		return NULL;
	const struct vm_def *d = rec.def;
	bool active = vmstate_is_active(rec.state);
	json_t *conf = vmlimits_to_json(&d->limits);
	json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:b,s:o}", "name", d->name, "uuid", d->uuid, "state",
			      vmstate_name(rec.state), "generation", (json_int_t)rec.generation, "balloon", d->balloon,
			      "configured", conf);
	json_t *eff = active ? rt_limits_effective(uuid, d) : NULL;
	json_object_set_new(j, "effective", eff ? eff : json_null());
	struct qmp *q = active ? rt_qmp_acquire(uuid, &ref, &err) : NULL;
	json_t *io_now = q ? qemu_disk_io_info(q) : NULL;
	json_t *bal = q && d->balloon ? qemu_balloon_info(q) : NULL;
	__do_json json_t *nodes = q ? rt_disk_nodes(uuid) : NULL;
	rt_qmp_release(ref);
	json_t *disks = json_array();
	for (int i = 0; i < d->ndisks; i++) {
		json_t *e = json_pack("{s:s,s:o}", "volume", d->disks[i].volume, "configured",
				      vmdisk_io_to_json(&d->disks[i].io));
		__do_free char *dev = device_of(nodes, d->disks[i].volume);
		json_t *now = dev ? json_object_get(io_now, dev) : NULL;
		json_object_set_new(e, "effective", now ? json_incref(now) : json_null());
		json_array_append_new(disks, e);
	}
	json_decref(io_now);
	json_object_set_new(j, "disks", disks);
	if (bal)
		json_object_set_new(bal, "target_mib", json_integer(d->limits.memory_target_mib ? d->limits.memory_target_mib
											  : d->memory_mib));
	json_object_set_new(j, "balloon_now", bal ? bal : json_null());
	vm_record_release(&rec);
	buf_release(&err);
	return j;
}
