/*
 * vm.c - VM definitions and lifecycle (see vm.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm.h"
#include "service/metrics.h"
#include "service/poolview.h"
#include "service/agent.h"
#include "service/network.h"
#include "service/hostpath.h"
#include "service/clone.h"
#include "service/internal.h"
#include "service/replicate.h"
#include "service/reslimits.h"
#include "core/store_local.h"
#include "core/job.h"
#include "core/select.h"
#include "qemu/runtime.h"
#include "storage/volume.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define SHOW_EVENTS 20

int svc_vm_select(const char *selector, bool single, svc_uuid **out, size_t *n, struct buf *err)
{
	struct selector sel = { 0 };
	struct vm_record *list;
	size_t cnt, found = 0;
	int r;

	if (selector_parse(selector, &sel, err) < 0)
		return -EINVAL;
	if (selector_is_single(&sel)) {
		/* A name or uuid: one indexed lookup, not a parse of every definition. */
		*out = xcalloc(1, sizeof(svc_uuid));
		r = store_vm_lookup(svc_cfg.store, sel.value, (*out)[0]);
		*n = r == 0;
		if (r < 0) {
			free(*out);
			*out = NULL;
			if (r == -ENOENT)
				buf_printf(err, "vm '%s' not found", sel.value);
			else
				buf_adds(err, "cannot read the VM list");
		}
		selector_release(&sel);
		return r;
	}
	if ((r = store_vm_list(svc_cfg.store, &list, &cnt)) < 0) {
		selector_release(&sel);
		buf_adds(err, "cannot read the VM list");
		return r;
	}
	*out = xcalloc(cnt + 1, sizeof(svc_uuid));
	for (size_t i = 0; i < cnt; i++)
		if (selector_match(&sel, list[i].def))
			snprintf((*out)[found++], sizeof(svc_uuid), "%s", list[i].def->uuid);
	store_vm_list_free(list, cnt);
	*n = found;
	r = 0;
	if (found == 0) {
		buf_printf(err, "no vm matches '%s'", selector);
		r = -ENOENT;
	} else if (single && found > 1) {
		buf_printf(err, "'%s' matches %zu vms; this command takes exactly one", selector, found);
		r = -EINVAL;
	}
	if (r < 0) {
		free(*out);
		*out = NULL;
	}
	selector_release(&sel);
	return r;
}

/* The "status" members list and show share: state, reason, since, job. */
static json_t *vm_status(const struct vm_record *rec, bool agent_refresh)
{
	char since[40], job[64];
	job_vm_current(rec->def->uuid, job, sizeof(job));
	json_t *s = json_pack("{s:s,s:s,s:s,s:o}", "state", vmstate_name(rec->state), "reason",
			      rec->reason ? rec->reason : "", "since", time_fmt_rfc3339(rec->since_ms, since, sizeof(since)),
			      "job", job[0] ? json_string(job) : json_null());
	/* A stored definition that no longer validates is shown, with why, never hidden. */
	if (rec->invalid)
		json_object_set_new(s, "invalid", json_string(rec->invalid));
	/* each NIC: its tap and its address from its network's DHCP leases */
	json_object_set_new(s, "nics", svc_net_nic_status(rec->def));
	/* the guest agent: show asks it (bounded), list reads the cache */
	json_object_set_new(s, "agent", svc_agent_status(rec->def->uuid, rec->def, rec->state == VM_RUNNING,
							 agent_refresh));
	return s;
}

json_t *svc_vm_list(const char *selector, struct buf *err)
{
	struct selector sel = { 0 };
	struct vm_record *list;
	size_t cnt;
	json_t *arr;

	if (selector && selector_parse(selector, &sel, err) < 0)
		return NULL;
	if (store_vm_list(svc_cfg.store, &list, &cnt) < 0) {
		selector_release(&sel);
		buf_adds(err, "cannot read the VM list");
		return NULL;
	}
	arr = json_array();
	for (size_t i = 0; i < cnt; i++) {
		struct vm_def *d = list[i].def;
		if (selector && !selector_match(&sel, d))
			continue;
		json_t *tags = json_array();
		for (int t = 0; t < d->ntags; t++)
			json_array_append_new(tags, json_string(d->tags[t]));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i,s:I,s:b,s:o,s:b,s:o}", "name", d->name, "uuid",
						     d->uuid, "state", vmstate_name(list[i].state), "cpus", d->cpus,
						     "memory_mib", (json_int_t)d->memory_mib, "autostart", d->autostart,
						     "tags", tags, "template", d->is_template, "status",
						     vm_status(&list[i], false)));
	}
	store_vm_list_free(list, cnt);
	selector_release(&sel);
	return json_pack("{s:o}", "vms", arr);
}

json_t *svc_vm_show(const char *uuid)
{
	struct vm_record rec = { 0 };
	json_t *j, *status, *info;

	if (store_vm_get(svc_cfg.store, uuid, &rec) < 0)
		return NULL;
	j = vmdef_to_json(rec.def);
	status = vm_status(&rec, true);
	json_object_set_new(status, "generation", json_integer(rec.generation));
	info = vmstate_is_active(rec.state) ? rt_info(uuid) : NULL;
	json_object_set_new(status, "pid", info ? json_incref(json_object_get(info, "pid")) : json_null());
	json_object_set_new(status, "vnc", info ? json_incref(json_object_get(info, "vnc")) : json_null());
	json_object_set_new(status, "accel", info ? json_incref(json_object_get(info, "accel")) : json_null());
	/* The CPU model QEMU runs with: the definition's, else host under KVM, max under TCG. */
	{
		const char *acc = info ? json_string_value(json_object_get(info, "accel")) : NULL;
		const char *cpu = rec.def->cpu ? rec.def->cpu : !acc ? NULL : strcmp(acc, "kvm") == 0 ? "host" : "max";
		json_object_set_new(status, "cpu", cpu && info ? json_string(cpu) : json_null());
	}
	if (info)
		svc_vm_limits_status(uuid, rec.def, status);
	json_decref(info);
	json_object_set_new(status, "events", store_event_list(svc_cfg.store, uuid, SHOW_EVENTS));
	json_object_set_new(status, "replication", svc_vm_replication(uuid) ?: json_null());
	if (rec.def->cloudinit) {
		/* what the seed's meta-data will say at the next start (docs/cloud-init.md) */
		struct cloudinit_seed seed;
		struct buf e = BUF_INIT;
		if (cloudinit_seed_make(rec.def, &seed, &e) == 0)
			json_object_set_new(status, "cloud_init_instance_id", json_string(seed.instance_id));
		cloudinit_seed_release(&seed);
		buf_release(&e);
	}
	json_object_set_new(j, "status", status);
	vm_record_release(&rec);
	return j;
}

char *svc_vm_using_volume(const char *volume)
{
	char *name = NULL;
	store_vol_owner(svc_cfg.store, volume, NULL, &name);
	return name;
}

/* Checks against the host: volumes exist and belong to no other VM, files exist, name free. */
/* What the store cannot check: files on this host; and a friendlier word for a missing volume. */
static int check_host(const struct vm_def *d, struct buf *err)
{
	int r = 0;

	for (int i = 0; i < d->ndisks && r == 0; i++) {
		struct vol_record v = { 0 };
		if (store_vol_get(svc_cfg.store, d->disks[i].volume, &v) < 0) {
			buf_printf(err, "volume '%s' does not exist (create it with 'corral disk create')",
				   d->disks[i].volume);
			r = -ENOENT;
		}
		vol_record_release(&v);
	}
	/* host files: inside a pool or an allow_path directory (hostpath.h), opened
	 * once here; the runtime opens them the same way again at every start */
	if (r == 0 && d->cdrom)
		r = hostpath_check("cdrom image", d->cdrom, err);
	if (r == 0 && d->kernel)
		r = hostpath_check("kernel", d->kernel, err);
	if (r == 0 && d->initrd)
		r = hostpath_check("initrd", d->initrd, err);
	if (r == 0)
		r = svc_net_check_vm(d, err);
	if (r == 0)
		r = svc_cpu_check(d, err);
	if (r == 0)
		r = svc_firmware_check(d, err);
	return r;
}

/* Store definition d (gen: STORE_GEN_NEW to create, else the generation the
 * change was made against, or STORE_GEN_ANY).  The store refuses, in the same
 * transaction, a taken name or uuid, volumes of other VMs, a stale generation. */
static int store_def(const struct vm_def *d, int64_t gen, struct buf *err)
{
	struct store_batch *b = store_batch_new();
	store_batch_vm_put(b, d, gen);
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	return r;
}

int svc_vm_create(const json_t *j, json_t **out, struct buf *err)
{
	struct vm_def *d = vmdef_from_json(j, err);
	int r;
	if (!d)
		return -EINVAL;
	if (d->is_template) {
		buf_printf(err, "a vm cannot be created as a template; create it, then run 'corral vm template %s'",
			   d->name);
		vmdef_free(d);
		return -EINVAL;
	}
	if ((r = svc_machine_pin(d, err)) < 0 || (r = svc_poolview_name_free(d->name, err)) < 0) {
		vmdef_free(d);
		return r;
	}
	pthread_mutex_lock(&svc_defs_lock);
	r = check_host(d, err);
	if (r == 0) {
		/* one namespace for guests: `corral list` shows VMs and containers together */
		struct ct_record ct = { 0 };
		if (store_ct_get(svc_cfg.store, d->name, &ct) == 0 && strcmp(ct.name, d->name) == 0) {
			buf_printf(err, "a container named '%s' already exists", d->name);
			r = -EEXIST;
		}
		ct_record_release(&ct);
	}
	if (r == 0)
		r = store_def(d, STORE_GEN_NEW, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r == 0) {
		svc_vm_event(d->uuid, "created", d->name);
		log_info("vm %s: created (%s)", d->name, d->uuid);
		*out = svc_vm_show(d->uuid);
	}
	vmdef_free(d);
	return r;
}

int svc_vm_machine_pin(const char *uuid, struct buf *err)
{
	struct vm_record rec = { 0 };
	__do_free char *had = NULL;
	int r;

	pthread_mutex_lock(&svc_defs_lock);
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto out;
	}
	if (rec.invalid)
		goto out; /* the start refuses it with the reason */
	had = rec.def->machine ? xstrdup(rec.def->machine) : NULL;
	if ((r = svc_machine_pin(rec.def, err)) < 0) {
		buf_printf(err, "; vm %s cannot start here", rec.def->name);
		goto out;
	}
	/* not pinned yet, or an alias ("q35") an edit put back */
	if (rec.def->machine && (!had || strcmp(had, rec.def->machine) != 0)) {
		if ((r = store_def(rec.def, rec.generation, err)) == 0)
			log_info("vm %s: machine type pinned to %s", rec.def->name, rec.def->machine);
	}
out:
	pthread_mutex_unlock(&svc_defs_lock);
	vm_record_release(&rec);
	return r;
}

/* Hold the VM for a change of its definition and check action a against its state. */
static int begin(const char *uuid, enum vm_action a, struct vm_record *rec, struct job_hold **h, struct buf *err)
{
	const char *why;
	int r;
	if ((r = store_vm_get(svc_cfg.store, uuid, rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if ((r = job_hold_vm(uuid, rec->def->name, vmaction_name(a), h, err)) < 0) {
		vm_record_release(rec);
		return r;
	}
	if ((why = vmstate_action_refusal(rec->state, a))) {
		buf_printf(err, "%s: %s", rec->def->name, why);
		vm_record_release(rec);
		job_release(*h);
		*h = NULL;
		return -EBUSY;
	}
	return 0;
}

int svc_vm_update(const char *uuid, const json_t *j, int64_t if_gen, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct vm_def *d = NULL;
	struct job_hold *h = NULL;
	int r;

	if ((r = begin(uuid, ACT_EDIT, &rec, &h, err)) < 0)
		return r;
	const char *given = json_string_value(json_object_get(j, "uuid"));
	if (given && strcasecmp(given, uuid) != 0) {
		buf_adds(err, "the uuid of a vm cannot be changed");
		r = -EINVAL;
		goto out;
	}
	if (!(d = vmdef_from_json(j, err))) {
		r = -EINVAL;
		goto out;
	}
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	/* Keep the MAC address unless the user set one: guests bind config to it. */
	{
		json_t *nics[VM_MAX_NICS];
		int nn = vmdef_json_nics(j, nics);
		for (int i = 0; i < nn && i < d->nnics && i < rec.def->nnics; i++)
			if (!json_object_get(nics[i], "mac") && vmdef_nic_index(d, rec.def->nics[i].mac) < 0)
				snprintf(d->nics[i].mac, sizeof(d->nics[i].mac), "%s", rec.def->nics[i].mac);
	}
	if ((r = svc_template_edit_check(rec.def, d, err)) < 0)
		goto out;
	if (strcmp(d->name, rec.def->name) != 0 && (r = svc_poolview_name_free(d->name, err)) < 0)
		goto out; /* a rename: to a name free in the pool too */
	pthread_mutex_lock(&svc_defs_lock);
	r = check_host(d, err);
	if (r == 0)
		r = store_def(d, if_gen >= 0 ? if_gen : STORE_GEN_ANY, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r == 0) {
		/* Another firmware (or Secure Boot's keys): the next start makes fresh NVRAM vars of that kind. */
		if (d->firmware != rec.def->firmware || d->secure_boot != rec.def->secure_boot) {
			__do_free char *nvram = rt_nvram_path(uuid);
			unlink(nvram);
		}
		svc_vm_event(uuid, "edited", "definition changed");
		/* names and MACs in the networks' DNS/DHCP hosts files follow the edit */
		svc_net_hosts_refresh(rec.def);
		svc_net_hosts_refresh(d);
		*out = svc_vm_show(uuid);
	}
out:
	vmdef_free(d);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_delete(const char *uuid, bool with_disks, json_t *vols_deleted, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	int r;

	if ((r = begin(uuid, ACT_DELETE, &rec, &h, err)) < 0)
		return r;
	if (rt_is_active(uuid)) {
		buf_printf(err, "%s: vm is running; stop it first", rec.def->name);
		r = -EBUSY;
		goto out;
	}
	if (svc_vm_replicated(uuid)) {
		buf_printf(err, "%s is replicated (docs/ha.md); stop it first with 'corral vm replicate %s --stop'",
			   rec.def->name, rec.def->name);
		r = -EBUSY;
		goto out;
	}
	if ((r = svc_template_delete_check(rec.def, err)) < 0)
		goto out;
	pthread_mutex_lock(&svc_defs_lock);
	r = store_vm_delete(svc_cfg.store, uuid); /* its snapshot rows and runtime go with it */
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0) {
		buf_adds(err, "cannot delete the vm from the store");
		goto out;
	}
	rt_forget(uuid);
	svc_metrics_forget(uuid); /* its history goes with it */
	svc_net_hosts_refresh(rec.def); /* its names and MACs leave the networks' hosts files */
	log_info("vm %s: deleted", rec.def->name);
	if (with_disks) {
		for (int i = 0; i < rec.def->ndisks; i++) {
			struct buf verr = BUF_INIT;
			if (vol_delete(svc_cfg.store, rec.def->disks[i].volume, &verr) == 0) {
				json_array_append_new(vols_deleted, json_string(rec.def->disks[i].volume));
			} else {
				buf_printf(err, "%svm deleted, but volume '%s' was not: %s", err->len ? "; " : "",
					   rec.def->disks[i].volume, verr.s);
				r = -EIO;
			}
			buf_release(&verr);
		}
	}
out:
	vm_record_release(&rec);
	job_release(h);
	return r;
}

/* Hold a VM for a device change (allowed in every state but transitional ones). */
static int begin_device(const char *uuid, const char *job, struct vm_record *rec, struct job_hold **h,
			struct buf *err)
{
	int r;
	if ((r = store_vm_get(svc_cfg.store, uuid, rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if ((r = job_hold_vm(uuid, rec->def->name, job, h, err)) < 0) {
		vm_record_release(rec);
		return r;
	}
	if (rec->state == VM_STARTING || rec->state == VM_STOPPING) {
		buf_printf(err, "%s: vm is %s; try again in a moment", rec->def->name, vmstate_name(rec->state));
		r = -EBUSY;
	} else if (rec->def->is_template) {
		buf_printf(err, "vm %s is a template; its disks and cdrom cannot change (clone it: corral vm clone %s NEW)",
			   rec->def->name, rec->def->name);
		r = -EBUSY;
	}
	if (r < 0) {
		vm_record_release(rec);
		job_release(*h);
		*h = NULL;
	}
	return r;
}

int svc_vm_disk_attach(const char *uuid, const char *volume, const char *busname, struct buf *err)
{
	return svc_vm_disk_attach_io(uuid, volume, busname, NULL, err);
}

int svc_vm_disk_attach_io(const char *uuid, const char *volume, const char *busname, const json_t *ioj,
			  struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	struct vol_record vol = { 0 };
	struct vm_disk_io io = { 0 };
	enum disk_bus bus = DISK_BUS_VIRTIO;
	const char *bad;
	int r;

	if ((bad = str_name_invalid(volume))) {
		buf_printf(err, "invalid volume name: %s", bad);
		return -EINVAL;
	}
	if (busname && disk_bus_parse(busname, &bus) < 0) {
		buf_adds(err, "bus must be virtio, scsi or ide");
		return -EINVAL;
	}
	if (ioj) {
		__do_free char *what = xasprintf("disk '%s'", volume);
		if (vmdisk_io_parse(&io, ioj, what, err) < 0)
			return -EINVAL;
	}
	if ((r = begin_device(uuid, "disk-attach", &rec, &h, err)) < 0)
		return r;
	pthread_mutex_lock(&svc_defs_lock);
	__do_free char *user = svc_vm_using_volume(volume);
	if (store_vol_get(svc_cfg.store, volume, &vol) < 0) {
		buf_printf(err, "volume '%s' does not exist", volume);
		r = -ENOENT;
	} else if (user) {
		buf_printf(err, "volume '%s' is already used by vm '%s'", volume, user);
		r = -EBUSY;
	} else if (rec.def->ndisks >= VM_MAX_DISKS) {
		buf_printf(err, "a vm has at most %d disks", VM_MAX_DISKS);
		r = -EINVAL;
	}
	if (r == 0 && vmstate_is_active(rec.state)) {
		r = rt_disk_attach(uuid, volume, vol.path, vol.format, bus, err);
		/* limited right after the plug; a disk that cannot be limited is unplugged again */
		if (r == 0 && vmdisk_io_any(&io) && (r = svc_vm_disk_io_apply(uuid, volume, bus, &io, err)) < 0) {
			struct buf e = BUF_INIT;
			rt_disk_detach(uuid, volume, &e);
			buf_release(&e);
		}
	}
	if (r == 0) {
		rec.def->disks[rec.def->ndisks].volume = xstrdup(volume);
		rec.def->disks[rec.def->ndisks].io = io;
		rec.def->disks[rec.def->ndisks++].bus = bus;
		if ((r = store_vm_update_def(svc_cfg.store, rec.def)) < 0)
			buf_adds(err, "cannot store the definition");
	}
	pthread_mutex_unlock(&svc_defs_lock);
	if (r == 0) {
		__do_free char *d = xasprintf("disk %s attached (%s)", volume, disk_bus_name(bus));
		svc_vm_event(uuid, "disk", d);
	}
	vol_record_release(&vol);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_disk_detach(const char *uuid, const char *volume, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	int r, idx;

	if ((r = begin_device(uuid, "disk-detach", &rec, &h, err)) < 0)
		return r;
	if ((idx = vmdef_disk_index(rec.def, volume)) < 0) {
		buf_printf(err, "volume '%s' is not attached to vm '%s'", volume, rec.def->name);
		r = -ENOENT;
		goto out;
	}
	if (vmstate_is_active(rec.state) && (r = rt_disk_detach(uuid, volume, err)) < 0)
		goto out;
	pthread_mutex_lock(&svc_defs_lock);
	free(rec.def->disks[idx].volume);
	memmove(&rec.def->disks[idx], &rec.def->disks[idx + 1], sizeof(rec.def->disks[0]) * (size_t)(rec.def->ndisks - idx - 1));
	rec.def->ndisks--;
	if ((r = store_vm_update_def(svc_cfg.store, rec.def)) < 0)
		buf_adds(err, "cannot store the definition");
	pthread_mutex_unlock(&svc_defs_lock);
	if (r == 0) {
		__do_free char *d = xasprintf("disk %s detached", volume);
		svc_vm_event(uuid, "disk", d);
	}
out:
	vm_record_release(&rec);
	job_release(h);
	return r;
}

/* Store d, the changed definition of a VM whose job lock this thread holds. */
static int def_update(const struct vm_def *d, struct buf *err)
{
	pthread_mutex_lock(&svc_defs_lock);
	int r = store_vm_update_def(svc_cfg.store, d);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		buf_adds(err, "cannot store the definition");
	return r;
}

int svc_vm_nic_attach(const char *uuid, const json_t *nic, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	struct vm_def *d = NULL;
	__do_close int fd = -EBADF;
	int r;

	if (!json_is_object(nic)) {
		buf_adds(err, "the NIC must be an object {mode, network, model, mac}");
		return -EINVAL;
	}
	if ((r = begin_device(uuid, "nic-attach", &rec, &h, err)) < 0)
		return r;
	{
		__do_json json_t *j = vmdef_to_json(rec.def);
		json_array_append(json_object_get(j, "nics"), (json_t *)nic);
		if (!(d = vmdef_from_json(j, err))) {
			r = -EINVAL;
			goto out;
		}
	}
	int idx = d->nnics - 1;
	const struct vm_nic *n = &d->nics[idx];
	pthread_mutex_lock(&svc_defs_lock);
	r = svc_net_check_vm(d, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto out;
	if (vmstate_is_active(rec.state)) {
		if (n->mode != NIC_NETWORK) {
			buf_adds(err, "a user-mode NIC can only be added while the VM is stopped");
			r = -ENOTSUP;
			goto out;
		}
		if ((fd = svc_net_nic_open(d, idx, err)) < 0 || (r = rt_nic_attach(uuid, fd, n->mac, n->model, err)) < 0) {
			if (fd >= 0)
				svc_net_nic_closed(d, idx);
			r = fd < 0 ? fd : r;
			goto out;
		}
	}
	/* the store refuses a stale generation: nothing else changed the VM meanwhile (its job lock) */
	r = def_update(d, err);
	if (r == 0) {
		__do_free char *ev = xasprintf("NIC %s added (%s%s)", n->mac, n->network ? "network " : "user",
					       n->network ? n->network : "");
		svc_vm_event(uuid, "nic", ev);
		svc_net_hosts_refresh(d); /* now that it is recorded: its name for DHCP and DNS */
	}
out:
	vmdef_free(d);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_nic_detach(const char *uuid, const char *mac, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	struct vm_def *old = NULL;
	int r, idx;

	if ((r = begin_device(uuid, "nic-detach", &rec, &h, err)) < 0)
		return r;
	if ((idx = vmdef_nic_index(rec.def, mac)) < 0) {
		buf_printf(err, "vm '%s' has no NIC with MAC %s", rec.def->name, mac);
		r = -ENOENT;
		goto out;
	}
	if (vmstate_is_active(rec.state) && (r = rt_nic_detach(uuid, rec.def->nics[idx].mac, err)) < 0)
		goto out;
	svc_net_nic_closed(rec.def, idx);
	old = vmdef_dup(rec.def);
	pthread_mutex_lock(&svc_defs_lock);
	vmdef_nic_remove(rec.def, idx);
	if ((r = store_vm_update_def(svc_cfg.store, rec.def)) < 0)
		buf_adds(err, "cannot store the definition");
	pthread_mutex_unlock(&svc_defs_lock);
	if (r == 0) {
		__do_free char *ev = xasprintf("NIC %s removed", mac);
		svc_vm_event(uuid, "nic", ev);
	}
	if (old)
		svc_net_hosts_refresh(old); /* the removed NIC's network too */
out:
	vmdef_free(old);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_nic_link(const char *uuid, const char *mac, bool up, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	int r;

	if ((r = begin_device(uuid, "nic-link", &rec, &h, err)) < 0)
		return r;
	if (vmdef_nic_index(rec.def, mac) < 0) {
		buf_printf(err, "vm '%s' has no NIC with MAC %s", rec.def->name, mac);
		r = -ENOENT;
	} else if (!vmstate_is_active(rec.state)) {
		buf_printf(err, "vm '%s' is not running (links come up at every start)", rec.def->name);
		r = -EBUSY;
	} else {
		r = rt_nic_link(uuid, mac, up, err);
	}
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_nic_set(const char *uuid, const char *mac, const json_t *changes, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	struct vm_def *d = NULL;
	int r, idx;

	if (!json_is_object(changes) || !json_object_get(changes, "bw")) {
		buf_adds(err, "give the NIC's new settings: {\"bw\": bits per second, 0 for no limit}");
		return -EINVAL;
	}
	if ((r = begin_device(uuid, "nic-set", &rec, &h, err)) < 0)
		return r;
	if ((idx = vmdef_nic_index(rec.def, mac)) < 0) {
		buf_printf(err, "vm '%s' has no NIC with MAC %s", rec.def->name, mac);
		r = -ENOENT;
		goto out;
	}
	{
		/* the changed definition goes through the one validation of definitions */
		__do_json json_t *j = vmdef_to_json(rec.def);
		json_t *nic = json_array_get(json_object_get(j, "nics"), (size_t)idx);
		json_object_set(nic, "bw", json_object_get(changes, "bw"));
		if (!(d = vmdef_from_json(j, err))) {
			r = -EINVAL;
			goto out;
		}
	}
	/* live first: a failure leaves the stored definition as it was (and the old settings back) */
	if (vmstate_is_active(rec.state) && (r = svc_net_nic_update(d, idx, err)) < 0) {
		struct buf e2 __do_buf = BUF_INIT;
		svc_net_nic_update(rec.def, idx, &e2);
		goto out;
	}
	if ((r = def_update(d, err)) == 0) {
		__do_free char *ev = d->nics[idx].bw ? xasprintf("NIC %s: bandwidth limit %llu bit/s", d->nics[idx].mac,
								 (unsigned long long)d->nics[idx].bw)
						     : xasprintf("NIC %s: no bandwidth limit", d->nics[idx].mac);
		svc_vm_event(uuid, "nic", ev);
	} else if (vmstate_is_active(rec.state)) {
		struct buf e2 __do_buf = BUF_INIT;
		svc_net_nic_update(rec.def, idx, &e2);
	}
out:
	vmdef_free(d);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_cdrom(const char *uuid, const char *path, bool force, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	int r;

	if (path && (path[0] != '/' || str_has_control(path) || strlen(path) > 4096)) {
		buf_adds(err, "the cdrom image must be given as an absolute path");
		return -EINVAL;
	}
	if (path && (r = hostpath_check("cdrom image", path, err)) < 0)
		return r;
	if ((r = begin_device(uuid, path ? "cdrom-insert" : "cdrom-eject", &rec, &h, err)) < 0)
		return r;
	if (!path && !rec.def->cdrom && !vmstate_is_active(rec.state)) {
		buf_printf(err, "vm '%s' has no cdrom medium", rec.def->name);
		r = -ENOENT;
		goto out;
	}
	if (vmstate_is_active(rec.state) && (r = rt_cdrom_change(uuid, path, force, err)) < 0)
		goto out;
	free(rec.def->cdrom);
	rec.def->cdrom = path ? xstrdup(path) : NULL;
	if ((r = store_vm_update_def(svc_cfg.store, rec.def)) < 0)
		buf_adds(err, "cannot store the definition");
	else
		svc_vm_event(uuid, "cdrom", path ? path : "ejected");
out:
	vm_record_release(&rec);
	job_release(h);
	return r;
}

int svc_vm_log(const char *uuid, uint64_t tail, struct buf *out, struct buf *err)
{
	__do_free char *path = rt_console_log_path(uuid);
	__do_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char tmp[8192];
	ssize_t n;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* never started: empty history */
		buf_printf(err, "cannot read console log: %s", strerror(errno));
		return -EIO;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size > tail)
		lseek(fd, st.st_size - (off_t)tail, SEEK_SET);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0 && out->len < tail)
		buf_add(out, tmp, (size_t)n);
	return 0;
}

json_t *svc_vm_events(const char *uuid, int limit) { return store_event_list(svc_cfg.store, uuid, limit); }

int svc_vm_console_open(const char *uuid, bool force, struct buf *err) { return rt_console_open(uuid, force, err); }

int svc_vm_vnc_open(const char *uuid, struct buf *err)
{
	__do_json json_t *info = rt_info(uuid);
	const char *vnc = json_string_value(json_object_get(info, "vnc"));
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	const char *colon;
	int fd, r;

	if (!info) {
		buf_printf(err, "the VM is not running");
		return -ENOENT;
	}
	if (!vnc || !(colon = strrchr(vnc, ':'))) {
		buf_printf(err, "the VM has no VNC display (create or edit it with --vnc)");
		return -ENOTSUP;
	}
	__do_free char *host = xstrndup(vnc, (size_t)(colon - vnc));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (strcmp(host, "0.0.0.0") == 0)
		snprintf(host, strlen(host) + 1, "127.0.0.1");
	else if (strcmp(host, "::") == 0)
		snprintf(host, strlen(host) + 1, "::1");
	if ((r = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		buf_printf(err, "the VM's VNC address %s cannot be used: %s", vnc, gai_strerror(r));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		r = -errno;
		buf_printf(err, "cannot connect to the VM's VNC display at %s: %s", vnc, strerror(-r));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return r;
	}
	freeaddrinfo(ai);
	return fd;
}

void svc_vm_console_close(const char *uuid, int fd) { rt_console_close(uuid, fd); }

static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *claimed; /* VM names being made by a clone or an import right now */

bool svc_vm_name_claim(const char *name)
{
	bool ok;
	pthread_mutex_lock(&claims_lock);
	if (!claimed)
		claimed = json_object();
	ok = !json_object_get(claimed, name);
	if (ok)
		json_object_set_new(claimed, name, json_true());
	pthread_mutex_unlock(&claims_lock);
	return ok;
}

void svc_vm_name_release(const char *name)
{
	pthread_mutex_lock(&claims_lock);
	json_object_del(claimed, name);
	pthread_mutex_unlock(&claims_lock);
}
