/*
 * restore.c - restoring backups (see backup.h, "Backups"): a whole VM under
 * a new name, a whole VM over the original, or one disk as a new volume.
 * Each restore is a job (core/job.h).
 *
 * Every disk is written by backup_restore_disk() into a file that did not
 * exist before; only when all of them are complete does anything become
 * visible: new volumes and the new VM are recorded, or, over the original,
 * each restored file is renamed over the VM's image.  A failure removes
 * what was written and leaves the host as it was.  Restoring over the
 * original needs the VM stopped (the job holds its lock throughout) and
 * without snapshots (they live inside the images and would be lost), and its
 * disks must be the backed-up ones; otherwise restore under a new name.
 *
 * Cancel: while disks are written, a cancel stops the writers within a chunk
 * and rolls back like a failure: the files written so far are removed and
 * nothing was recorded, so no volume or VM is left and an original VM keeps
 * its images.  From the commit on (recording the volumes and the VM, or the
 * renames over the original, then --start) the job is uncancellable: those
 * steps are short, and stopping between two renames would leave a VM with
 * disks from two points in time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/backup.h"
#include "service/poolview.h"
#include "service/ctbackup.h"
#include "backup/cttree.h"
#include "service/host.h"
#include "service/pool.h"
#include "service/repo.h"
#include "service/vm.h"
#include "service/internal.h"
#include "core/store_local.h"
#include "backup/backup.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

struct rdisk {
	size_t index;		/* in the manifest */
	char *volume;		/* volume the restored image becomes (or replaces) */
	char *format;
	char *dest;		/* file written */
	char *final;		/* over the original: the image to replace */
	uint64_t size;
	bool written;
};

struct restore {
	struct job *job;	/* while it runs */
	atomic_bool cancel;	/* set by the job's cancel hook */
	struct repo *repo;
	char *id;
	json_t *def;		/* the definition to create (new VM), NULL otherwise */
	char *pool;		/* pool held for new volumes, NULL over the original */
	char over_uuid[37];	/* over the original: that VM (the job holds its lock) */
	char *over_name;
	bool start;
	struct rdisk *disks;
	size_t n;
	uint64_t total, done_before;
	struct buf nvram;	/* a UEFI VM's vars kept with the backup (has_nvram), read under the repository lock */
	bool has_nvram;
};

/* Let go of the pool and the repository (at the end of the job: free_arg runs
 * only once the engine reaps it). */
static void restore_release(struct restore *rs)
{
	if (rs->pool)
		svc_pool_put(strcmp(rs->pool, "default") == 0 ? NULL : rs->pool);
	free(rs->pool);
	rs->pool = NULL;
	repo_close(rs->repo);
	rs->repo = NULL;
}

static void restore_free(void *arg)
{
	struct restore *rs = arg;
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->disks[i].volume);
		free(rs->disks[i].format);
		free(rs->disks[i].dest);
		free(rs->disks[i].final);
	}
	free(rs->disks);
	restore_release(rs);
	free(rs->over_name);
	buf_release(&rs->nvram);
	json_decref(rs->def);
	free(rs->id);
	free(rs);
}

static void restore_progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct restore *rs = arg;
	(void)total;
	(void)phase;
	job_progress_bytes(rs->job, rs->done_before + done, rs->total);
}

/* The NVRAM vars kept with the backup become VM uuid's (its boot entries); a
 * failure leaves it OVMF's pristine vars at its next start, and says so. */
static void restore_nvram(struct restore *rs, const char *uuid)
{
	int r = rt_nvram_write(uuid, rs->nvram.s, rs->nvram.len);

	if (r < 0) {
		__do_free char *d = xasprintf("the NVRAM vars of backup %s were not restored (%s): the VM starts with "
					      "fresh ones",
					      rs->id, strerror(-r));
		store_event_add(svc_cfg.store, uuid, "restore", d);
		log_warn("%s", d);
	}
}

/* Record the restored images: new volumes (+ the VM), or renames over the originals. */
static int restore_commit(struct restore *rs, json_t **vm, struct buf *err)
{
	int r = 0;
	size_t added = 0;

	if (rs->over_uuid[0]) {
		for (size_t i = 0; i < rs->n; i++) {
			if (rename(rs->disks[i].dest, rs->disks[i].final) < 0) {
				r = -errno;
				buf_printf(err, "cannot replace %s with the restored image: %s", rs->disks[i].final,
					   strerror(-r));
				return r; /* earlier disks are restored already; the error says which one is not */
			}
			rs->disks[i].written = false;
		}
		if (rs->has_nvram)
			restore_nvram(rs, rs->over_uuid);
		store_event_add(svc_cfg.store, rs->over_uuid, "restore", rs->id);
		return 0;
	}
	for (; added < rs->n; added++) {
		struct vol_record v = { .name = rs->disks[added].volume, .format = rs->disks[added].format,
					.path = rs->disks[added].dest, .pool = rs->pool };
		if ((r = store_vol_add(svc_cfg.store, &v)) < 0) {
			buf_printf(err, r == -EEXIST ? "volume %s was created meanwhile" : "cannot record volume %s",
				   rs->disks[added].volume);
			break;
		}
	}
	if (r == 0 && rs->def) {
		json_t *out = NULL;
		if ((r = svc_vm_create(rs->def, &out, err)) == 0) {
			const char *uuid = json_string_value(json_object_get(out, "uuid"));
			__do_free char *detail = xasprintf("restored from backup %s", rs->id);
			if (uuid && rs->has_nvram)
				restore_nvram(rs, uuid);
			if (uuid)
				store_event_add(svc_cfg.store, uuid, "restore", detail);
			*vm = out;
		}
	}
	if (r < 0) {
		while (added-- > 0)
			store_vol_delete(svc_cfg.store, rs->disks[added].volume);
		return r;
	}
	for (size_t i = 0; i < rs->n; i++)
		rs->disks[i].written = false; /* they belong to the volumes now */
	return 0;
}

/* Write every disk into its new file. */
static int restore_write(struct restore *rs, struct buf *err)
{
	struct buf why = BUF_INIT;
	int r = svc_repo_lock_job(rs->job, rs->repo, false, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < rs->n && r == 0; i++) {
		job_set_phase(rs->job, "disk %zu of %zu", i + 1, rs->n);
		/* Over the original: a crashed restore's leftover, never a live image
		 * (only now, under the VM's lock, no other restore can be writing it). */
		if (rs->over_uuid[0])
			unlink(rs->disks[i].dest);
		r = backup_restore_disk(rs->repo, rs->id, rs->disks[i].index, rs->disks[i].dest, rs->disks[i].format,
					&rs->cancel, restore_progress, rs, &why);
		rs->disks[i].written = r == 0;
		rs->done_before += rs->disks[i].size;
	}
	if (r == 0 && (rs->def || rs->over_uuid[0])) { /* a whole VM: its NVRAM vars too, if kept */
		int rn = backup_nvram_read(rs->repo, rs->id, &rs->nvram, &why);
		rs->has_nvram = rn == 0;
		if (rn == -ENOENT)
			buf_reset(&why);
		else if (rn < 0)
			r = rn;
	}
	repo_unlock(rs->repo);
	/* Past this point nothing is undone, so a cancel must come before it. */
	if (r == 0) {
		job_set_uncancellable(rs->job, rs->over_uuid[0] ? "the vm's images are being replaced with the restored ones"
							       : "the restored volumes and vm are being recorded");
		if (job_cancelled(rs->job))
			r = -ECANCELED;
	}
	if (r == -ECANCELED && rs->over_uuid[0])
		buf_printf(err, "vm %s keeps its images; the files written were removed", rs->over_name);
	else if (r == -ECANCELED)
		buf_adds(err, "no volume or vm was created; the files written were removed");
	else if (r < 0)
		buf_add(err, why.s, why.len);
	buf_release(&why);
	return r;
}

static int restore_run(struct job *j, void *arg, struct buf *err)
{
	struct restore *rs = arg;
	json_t *vm = NULL;
	int r = 0;

	rs->job = j;
	{
		/* What it writes, for start-up recovery to remove if corrald dies meanwhile. */
		json_t *vols = json_array();
		for (size_t i = 0; i < rs->n; i++)
			json_array_append_new(vols, json_pack("{s:s,s:s}", "name", rs->disks[i].volume, "path",
							      rs->disks[i].dest));
		json_t *rec = json_pack("{s:s,s:o,s:b}", "backup", rs->id, "volumes", vols, "over", rs->over_uuid[0] != 0);
		if (rs->def)
			json_object_set(rec, "vm", json_object_get(rs->def, "name"));
		job_record_result(j, rec);
	}
	job_on_cancel(j, svc_cancel_flag_set, &rs->cancel);
	/* Checked when the restore was asked for; from now on the job's lock keeps it so. */
	if (rs->over_uuid[0] && rt_is_active(rs->over_uuid)) {
		buf_printf(err, "vm %s was started meanwhile; stop it to restore over it", rs->over_name);
		r = -EBUSY;
	}
	if (r == 0)
		r = restore_write(rs, err);
	if (r == 0) {
		if (rs->over_uuid[0])
			job_set_phase(j, "replacing the images of vm %s", rs->over_name);
		else
			job_set_phase(j, "recording the restored %s", rs->def ? "vm" : "volume");
		r = restore_commit(rs, &vm, err);
	}
	if (r == 0 && rs->start && vm) {
		const char *uuid = json_string_value(json_object_get(vm, "uuid"));
		struct svc_action_opts o = { 0 };
		job_set_phase(j, "starting vm %s", json_string_value(json_object_get(vm, "name")));
		if (uuid && svc_vm_action(uuid, ACT_START, &o, err) < 0) {
			r = -EIO;
			buf_printf(err, " (the vm was restored but did not start)");
		}
	}
	job_on_cancel(j, NULL, NULL);
	for (size_t i = 0; i < rs->n; i++)
		if (rs->disks[i].written)
			unlink(rs->disks[i].dest);
	if (r == 0) {
		json_t *vols = json_array();
		for (size_t i = 0; i < rs->n; i++)
			json_array_append_new(vols, json_string(rs->disks[i].volume));
		json_t *res = json_pack("{s:s,s:o}", "backup", rs->id, "volumes", vols);
		if (vm)
			json_object_set(res, "vm", json_object_get(vm, "name"));
		job_set_result(j, res);
	} else {
		job_set_result(j, NULL); /* what it was about to make is gone */
	}
	json_decref(vm);
	restore_release(rs);
	return r;
}

/* ---- planning ----------------------------------------------------------- */

static int rdisk_new_volume(struct restore *rs, struct rdisk *d, const char *name, const char *pool_path,
			    struct buf *err)
{
	struct vol_record taken = { 0 };
	const char *bad;

	if ((bad = str_name_invalid(name))) {
		buf_printf(err, "invalid volume name '%s': %s", name, bad);
		return -EINVAL;
	}
	if (store_vol_get(svc_cfg.store, name, &taken) == 0) {
		vol_record_release(&taken);
		buf_printf(err, "volume %s already exists; restore under another name", name);
		return -EEXIST;
	}
	d->volume = xstrdup(name);
	d->dest = xasprintf("%s/%s.%s", pool_path, name, d->format);
	if (access(d->dest, F_OK) == 0) {
		buf_printf(err, "file %s already exists; restore under another name", d->dest);
		return -EEXIST;
	}
	(void)rs;
	return 0;
}

/* The manifest's disk i: format and size. */
static int manifest_disk(const json_t *m, size_t i, struct rdisk *d, struct buf *err)
{
	const json_t *disk = json_array_get(json_object_get(m, "disks"), i);
	const char *fmt = json_string_value(json_object_get(disk, "format"));
	json_int_t size = json_integer_value(json_object_get(disk, "size"));

	if (!disk || !fmt || (strcmp(fmt, "qcow2") != 0 && strcmp(fmt, "raw") != 0) || size <= 0) {
		buf_printf(err, "the backup's manifest describes disk %zu badly", i);
		return -EINVAL;
	}
	d->index = i;
	d->format = xstrdup(fmt);
	d->size = (uint64_t)size;
	return 0;
}

/* Over VM uuid (exists): stopped, no snapshots, same volumes. */
static int plan_over(struct restore *rs, const char *uuid, const json_t *m, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct snap_record *snaps = NULL;
	size_t nsnaps = 0, nd = json_array_size(json_object_get(m, "disks"));
	int r;

	snprintf(rs->over_uuid, sizeof(rs->over_uuid), "%s", uuid);
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	rs->over_name = xstrdup(rec.def->name);
	if (vmstate_is_active(rec.state) || rt_is_active(uuid)) {
		buf_printf(err, "vm %s is %s; stop it to restore over it, or restore a copy with --name NEW", rec.def->name,
			   vmstate_name(rec.state));
		r = -EBUSY;
		goto out;
	}
	if (store_snap_list(svc_cfg.store, uuid, &snaps, &nsnaps) == 0 && nsnaps > 0) {
		buf_printf(err, "vm %s has snapshots, which restoring its images would destroy; delete them or restore "
				"a copy with --name NEW",
			   rec.def->name);
		r = -EBUSY;
		goto out;
	}
	rs->disks = xcalloc(nd ? nd : 1, sizeof(*rs->disks));
	for (size_t i = 0; i < nd && r == 0; i++) {
		struct rdisk *d = &rs->disks[rs->n++];
		const char *vol = json_string_value(json_object_get(json_array_get(json_object_get(m, "disks"), i), "volume"));
		struct vol_record v = { 0 };
		if ((r = manifest_disk(m, i, d, err)) < 0)
			break;
		if ((int)i >= rec.def->ndisks || !vol || strcmp(rec.def->disks[i].volume, vol) != 0 ||
		    store_vol_get(svc_cfg.store, vol, &v) < 0) {
			buf_printf(err, "vm %s's disks are not the backed-up ones any more; restore a copy with --name NEW",
				   rec.def->name);
			r = -EINVAL;
			break;
		}
		if (v.readonly || v.backing) {
			buf_printf(err, "volume %s is a template's or a linked clone's; restore a copy with --name NEW", vol);
			r = -EBUSY;
		}
		free(d->format);
		d->format = xstrdup(v.format);
		d->volume = xstrdup(vol);
		d->final = xstrdup(v.path);
		d->dest = xasprintf("%s.restore", v.path);
		vol_record_release(&v);
	}
out:
	store_snap_list_free(snaps, nsnaps);
	vm_record_release(&rec);
	return r;
}

/* A new VM `name` from the manifest's definition, with new identity and volumes. */
static int plan_new_vm(struct restore *rs, const char *name, const json_t *m, const char *pool_path,
		       struct buf *err)
{
	const json_t *def = json_object_get(m, "definition");
	size_t nd = json_array_size(json_object_get(m, "disks"));
	json_t *disks;
	struct vm_def *check;
	int r = 0;

	if (!json_is_object(def)) {
		buf_adds(err, "the backup holds no vm definition");
		return -EINVAL;
	}
	rs->def = json_deep_copy(def);
	json_object_set_new(rs->def, "name", json_string(name));
	json_object_del(rs->def, "uuid");
	json_object_set_new(rs->def, "template", json_false());
	json_object_set_new(rs->def, "autostart", json_false());
	/* A copy is not the original: tags would make the original's backup
	 * policies (select=tag:db) back the copy up too. */
	json_object_del(rs->def, "tags");
	vmdef_json_renew_macs(rs->def);
	if (json_is_object(json_object_get(rs->def, "vnc")))
		json_object_del(json_object_get(rs->def, "vnc"), "display");
	disks = json_object_get(rs->def, "disks");
	/* A backup made with --os-disk-only restores a VM with that disk only. */
	while (json_array_size(disks) > nd)
		json_array_remove(disks, json_array_size(disks) - 1);
	rs->disks = xcalloc(nd ? nd : 1, sizeof(*rs->disks));
	for (size_t i = 0; i < nd && r == 0; i++) {
		struct rdisk *d = &rs->disks[rs->n++];
		__do_free char *vname = xasprintf("%s-disk%zu", name, i);
		if ((r = manifest_disk(m, i, d, err)) == 0 && (r = rdisk_new_volume(rs, d, vname, pool_path, err)) == 0)
			json_object_set_new(json_array_get(disks, i), "volume", json_string(vname));
	}
	if (r < 0)
		return r;
	if (!(check = vmdef_from_json(rs->def, err)))
		return -EINVAL;
	vmdef_free(check);
	svc_uuid *u = NULL;
	size_t nu = 0;
	struct buf ignore = BUF_INIT;
	if (svc_vm_select(name, false, &u, &nu, &ignore) == 0 && nu > 0) {
		buf_printf(err, "a vm named '%s' already exists; restore under another name with --name", name);
		r = -EEXIST;
	}
	free(u);
	buf_release(&ignore);
	if (r == 0 && (r = svc_poolview_name_free(name, err)) < 0)
		buf_adds(err, "; restore under another name with --name");
	return r;
}

int svc_backup_restore(const struct svc_restore_opts *o, json_t **job, struct buf *err)
{
	struct restore *rs = xcalloc(1, sizeof(*rs));
	rs->nvram = (struct buf)BUF_INIT;
	__do_json json_t *m = NULL;
	__do_free char *pool_path = NULL;
	int r;

	rs->start = o->start;
	if (!o->id || !*o->id) {
		buf_adds(err, "no backup id given");
		r = -EINVAL;
		goto fail;
	}
	if ((r = svc_repo_open(o->repo, &rs->repo, NULL, err)) < 0 ||
	    (r = svc_backup_ref_resolve(rs->repo, o->id, &rs->id, err)) < 0)
		goto fail;
	const char *id = rs->id;
	if ((r = repo_manifest_read(rs->repo, id, &m, err)) < 0)
		goto fail;
	if (backup_manifest_is_ct(m)) { /* a container's backup (ctbackup.c) */
		if (o->disk >= 0 || o->pool) {
			buf_adds(err, "--disk and --pool are for vm backups; a container is restored whole into corral's lxcpath");
			r = -EINVAL;
			goto fail;
		}
		struct repo *repo = rs->repo;
		rs->repo = NULL;
		r = svc_ctb_restore(repo, id, m, o->name, o->start, job, err);
		restore_free(rs);
		return r;
	}
	const char *vm_name = json_string_value(json_object_get(json_object_get(m, "vm"), "name"));
	const char *vm_uuid = json_string_value(json_object_get(json_object_get(m, "vm"), "uuid"));
	if (!vm_name || !vm_uuid) {
		buf_printf(err, "backup %s has no vm name or uuid in its manifest", id);
		r = -EINVAL;
		goto fail;
	}
	bool over = o->disk < 0 && !o->name;
	struct vm_record exists = { 0 };
	if (over && store_vm_get(svc_cfg.store, vm_uuid, &exists) == 0) {
		vm_record_release(&exists);
		if (o->pool) {
			buf_adds(err, "--pool only applies to a restore under a new name (--name)");
			r = -EINVAL;
			goto fail;
		}
		if ((r = plan_over(rs, vm_uuid, m, err)) < 0)
			goto fail;
	} else {
		if ((r = svc_pool_hold(o->pool, &pool_path, err)) < 0)
			goto fail;
		rs->pool = xstrdup(o->pool ? o->pool : "default");
		if (o->disk >= 0) {
			size_t nd = json_array_size(json_object_get(m, "disks"));
			if ((size_t)o->disk >= nd) {
				buf_printf(err, "backup %s has %zu disk%s (0..%zu); there is no disk %d", id, nd,
					   nd == 1 ? "" : "s", nd ? nd - 1 : 0, o->disk);
				r = -EINVAL;
				goto fail;
			}
			if (o->start) {
				buf_adds(err, "--start needs a whole-vm restore, not --disk");
				r = -EINVAL;
				goto fail;
			}
			__do_free char *vname = o->name ? xstrdup(o->name) : xasprintf("%s-restore-disk%d", vm_name, o->disk);
			rs->disks = xcalloc(1, sizeof(*rs->disks));
			rs->n = 1;
			if ((r = manifest_disk(m, (size_t)o->disk, &rs->disks[0], err)) < 0 ||
			    (r = rdisk_new_volume(rs, &rs->disks[0], vname, pool_path, err)) < 0)
				goto fail;
		} else if ((r = plan_new_vm(rs, o->name ? o->name : vm_name, m, pool_path, err)) < 0) {
			goto fail;
		}
	}
	for (size_t i = 0; i < rs->n; i++)
		rs->total += rs->disks[i].size;
	struct job_spec spec = {
		.type = "restore",
		.target = id,
		/* Over the original: that VM's lock, for the whole restore (busy: refused now). */
		.vm = rs->over_uuid[0] ? rs->over_uuid : NULL,
		.vm_name = rs->over_name,
		.run = restore_run,
		.arg = rs,
		.free_arg = restore_free,
	};
	return job_start(&spec, job, err);
fail:
	restore_free(rs);
	return r;
}
