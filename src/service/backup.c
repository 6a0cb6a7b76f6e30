/*
 * backup.c - backup runs (see backup.h, "Backups"): one job (core/job.h)
 * that backs up a list of VMs into one repository, one after the other, then
 * applies the retention of the policy that asked for it.
 *
 * Per VM the run holds the VM's lock for the whole backup, so nothing
 * starts, stops, edits or snapshots it meanwhile: a run of one VM is started
 * with that VM's lock (a busy VM is refused at once), a run of several takes
 * each VM's lock as it gets to it (job_lock_vm; a busy VM fails alone).  It
 * reads the disks through backup_vm() (backup/backup.h): through the running
 * QEMU's monitor, or from the images when it is stopped.  The repository is
 * locked shared for the run (prune and sweep take it exclusively).  A VM
 * that fails is reported in the run's summary and the run goes on with the
 * next; pruning of a VM happens only after that VM's backup succeeded in this
 * run, so a failing VM never loses its good backups.  The job carries
 * percent, rate and ETA over all selected disks, a phase ("vm web1: disk 2
 * of 3") and, when done, a summary per VM (bytes read, new bytes stored,
 * dedup ratio, duration) in its "result".
 *
 * Cancel: the job's hook sets the flag backup_vm() watches, so the VM being
 * backed up stops within a chunk and is rolled back by the engine (no
 * manifest, view torn down, bitmaps kept exact); VMs finished before keep
 * their backups; pruning stops between two deletions.  The run then ends
 * "cancelled" with the summary so far as its result.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "service/agent.h"
#include "service/ctbackup.h"
#include "service/host.h"
#include "service/repo.h"
#include "service/vm.h"
#include "service/internal.h"
#include "core/store_local.h"
#include "backup/backup.h"
#include "backup/policy.h"
#include "backup/repo.h"
#include "core/job.h"
#include "core/ctdef.h"
#include "qemu/runtime.h"
#include "storage/volume.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct brun_vm {
	char uuid[37];
	char *name;
	uint64_t size;		/* sum of the disks to read (progress weight) */
	struct keep_opts keep;	/* retention after a good backup (all zero: keep everything) */
	bool ct;		/* a container (a file-level backup, ctbackup.c) */
};

struct brun {
	struct job *job;	/* while it runs */
	atomic_bool cancel;	/* set by the job's cancel hook */
	struct repo *repo;
	char *repo_path;
	char *policy;		/* NULL: an ad-hoc run */
	bool os_disk_only;
	bool no_freeze;		/* --no-freeze: never ask the guest agent */
	int compression;
	struct brun_vm *vms;
	size_t n;
	uint64_t total, done_before; /* bytes over all VMs; bytes of finished VMs */
	int64_t t0_ms;
	/* the VM being backed up: for the phase text */
	const struct brun_vm *cur;
	const struct backup_disk_req *disks;
	size_t ndisks;
	char phase[16];		/* the engine's phase word and disk the job's phase shows */
	size_t phase_disk;
};

static void brun_free(void *arg)
{
	struct brun *b = arg;
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->vms[i].name);
	free(b->vms);
	repo_close(b->repo);
	free(b->repo_path);
	free(b->policy);
	free(b);
}

/* Progress of the VM being backed up: bytes over the run, and the phase when it changes. */
static void brun_progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct brun *b = arg;
	size_t disk = 0; /* the disk being read (1-based), 0 in the other phases */

	(void)total;
	if (strcmp(phase, "read") == 0) {
		/* The engine reads the disks in order, `done` counting over all of them. */
		uint64_t end = 0;
		while (disk + 1 < b->ndisks && done >= (end += b->disks[disk].size))
			disk++;
		disk++;
	}
	if (disk != b->phase_disk || strcmp(phase, b->phase) != 0) {
		if (disk)
			job_set_phase(b->job, "vm %s: disk %zu of %zu", b->cur->name, disk, b->ndisks);
		else if (strcmp(phase, "snapshot") == 0)
			job_set_phase(b->job, "vm %s: taking the point-in-time view", b->cur->name);
		else
			job_set_phase(b->job, "vm %s: making the backup durable", b->cur->name);
		b->phase_disk = disk;
		snprintf(b->phase, sizeof(b->phase), "%s", phase);
	}
	job_progress_bytes(b->job, b->done_before + done, b->total);
}

static void disk_reqs_release(struct backup_disk_req *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)d[i].volume);
		free((char *)d[i].path);
		free((char *)d[i].format);
		free((char *)d[i].slot);
		free((char *)d[i].node);
	}
	free(d);
}

/* The disks of def to back up, with paths, formats, sizes and (running) nodes. */
static int disk_reqs(const struct vm_def *def, bool os_disk_only, const json_t *nodes, struct backup_disk_req **out,
		     size_t *n, uint64_t *bytes, struct buf *err)
{
	int count = os_disk_only && def->ndisks > 1 ? 1 : def->ndisks;
	struct backup_disk_req *d = xcalloc((size_t)(count ? count : 1), sizeof(*d));
	int r = 0;

	*bytes = 0;
	for (int i = 0; i < count && r == 0; i++) {
		struct vol_record v = { 0 };
		struct vol_info vi = { 0 };
		if ((r = store_vol_get(svc_cfg.store, def->disks[i].volume, &v)) < 0) {
			buf_printf(err, "volume %s of vm %s does not exist", def->disks[i].volume, def->name);
			break;
		}
		if ((r = vol_info(v.path, v.format, &vi, err)) == 0) {
			d[i].volume = xstrdup(v.name);
			d[i].path = xstrdup(v.path);
			d[i].format = xstrdup(v.format);
			d[i].size = vi.capacity;
			d[i].slot = xasprintf("disk%d", i);
			const char *node = json_string_value(json_object_get(json_object_get(nodes, v.name), "node"));
			d[i].node = node ? xstrdup(node) : NULL;
			*bytes += vi.capacity;
		}
		vol_record_release(&v);
	}
	*out = d;
	*n = (size_t)count;
	return r;
}

/* The guest agent's freeze and thaw around the point in time (backup_req.point_hook). */
struct brun_point {
	const char *uuid;
	const struct vm_def *def;
	bool no_freeze;
	struct svc_freeze f;
	bool begun;
};

static void brun_point(void *arg, bool before)
{
	struct brun_point *p = arg;
	if (before) {
		svc_agent_point_begin(p->uuid, p->def, p->no_freeze, &p->f);
		p->begun = true;
	} else {
		svc_agent_point_end(p->uuid, &p->f);
	}
}

/* Progress of a container being backed up (its size is known once walked). */
static void brun_ct_progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct brun *b = arg;
	struct brun_vm *bv = (struct brun_vm *)b->cur;
	(void)phase;
	if (total != bv->size) {
		b->total = b->total - bv->size + total;
		bv->size = total;
	}
	job_progress_bytes(b->job, b->done_before + done, b->total);
}

/* One container of a policy's run (ctbackup.c does the work). */
static int backup_one_ct(struct brun *b, struct brun_vm *bv, json_t *entry)
{
	struct buf err = BUF_INIT;
	bool lock = b->n > 1;
	int r = 0;

	json_object_set_new(entry, "kind", json_string("container"));
	if (lock && (r = job_lock_vm(b->job, bv->uuid, bv->name, &err)) < 0)
		lock = false;
	b->cur = bv;
	if (r == 0)
		r = svc_ctb_backup_one(b->job, b->repo, b->repo_path, bv->uuid, b->policy, &b->cancel, brun_ct_progress,
				       b, entry, &err);
	if (lock)
		job_unlock_vm(b->job, bv->uuid);
	if (r < 0)
		json_object_set_new(entry, "error", json_string(err.len ? err.s : "failed"));
	b->done_before += bv->size;
	buf_release(&err);
	return r;
}

/* One VM: lock, gather, back up.  Appends its entry to the run's summary. */
static int backup_one(struct brun *b, struct brun_vm *bv, json_t *entry)
{
	struct vm_record rec = { 0 };
	struct backup_disk_req *disks = NULL;
	size_t ndisks = 0;
	struct backup_result res = { 0 };
	struct rt_ref *ref = NULL;
	__do_json json_t *nodes = NULL;
	__do_json json_t *def = NULL;
	__do_free char *scratch = NULL, *nvram = NULL;
	struct buf err = BUF_INIT;
	uint64_t bytes = 0;
	bool req_running = false;
	/* A run of one VM was started with its lock. */
	bool lock = b->n > 1;
	int r;

	if (bv->ct)
		return backup_one_ct(b, bv, entry);
	if (lock && (r = job_lock_vm(b->job, bv->uuid, bv->name, &err)) < 0) {
		lock = false;
		goto report;
	}
	if ((r = store_vm_get(svc_cfg.store, bv->uuid, &rec)) < 0) {
		buf_printf(&err, "vm %s no longer exists", bv->name);
		goto unlock;
	}
	def = vmdef_to_json(rec.def);
	struct backup_req req = {
		.vm_name = rec.def->name,
		.vm_uuid = rec.def->uuid,
		.definition = def,
		.policy = b->policy,
		.now = (int64_t)time(NULL),
		.cancel = &b->cancel,
	};
	req_running = rt_is_active(bv->uuid);
	if (req_running) {
		if (!(req.qmp = rt_qmp_acquire(bv->uuid, &ref, &err))) {
			r = -EIO;
			goto unlock;
		}
		nodes = rt_disk_nodes(bv->uuid);
		scratch = xasprintf("%s/%s", svc_cfg.run_dir, bv->uuid);
	} else {
		/* Short: qemu-nbd's unix socket goes in here (sun_path holds 107 bytes). */
		scratch = xasprintf("%s/bk%" PRId64 "-%zu", svc_cfg.run_dir, job_id(b->job), (size_t)(bv - b->vms));
		if ((r = fs_mkdir_p(scratch, 0700)) < 0) {
			buf_printf(&err, "cannot create %s: %s", scratch, strerror(-r));
			goto unlock;
		}
	}
	req.run_dir = scratch;
	nvram = rec.def->firmware == FIRMWARE_UEFI ? rt_nvram_path(bv->uuid) : NULL;
	if (nvram && fs_exists(nvram)) /* never started: no vars yet, OVMF's pristine ones at the first start */
		req.nvram_path = nvram;
	struct brun_point point = { .uuid = bv->uuid, .def = rec.def, .no_freeze = b->no_freeze };
	if (req_running) {
		req.point_hook = brun_point;
		req.point_arg = &point;
	}
	if ((r = disk_reqs(rec.def, b->os_disk_only, nodes, &disks, &ndisks, &bytes, &err)) < 0)
		goto unlock;
	req.disks = disks;
	req.n_disks = ndisks;
	/* The estimate made at selection time is replaced by the real sizes. */
	b->total = b->total - bv->size + bytes;
	bv->size = bytes;
	b->cur = bv;
	b->disks = disks;
	b->ndisks = ndisks;
	b->phase[0] = '\0';
	r = backup_vm(b->repo, &req, brun_progress, b, &res, &err);
	svc_agent_point_end(bv->uuid, &point.f); /* no-op unless a freeze is still outstanding */
	b->disks = NULL;
	/* How consistent the point is: a stopped VM's images are as consistent as its shutdown left them. */
	const char *consistency = !req_running ? "stopped" : point.begun ? svc_freeze_consistency(&point.f) : "crash";
	json_object_set_new(entry, "consistency", json_string(consistency));
	if (point.begun)
		json_object_set_new(entry, "consistency_note", json_string(point.f.note));
	if (r == 0) {
		json_t *rj = backup_result_json(&res);
		json_object_update(entry, rj);
		json_decref(rj);
		__do_free char *detail = xasprintf("backup %s to %s: %" PRIu64 " bytes read, %" PRIu64
						  " new; consistency: %s", res.id, b->repo_path, res.bytes_read,
						  res.bytes_new, point.begun ? point.f.note : consistency);
		store_event_add(svc_cfg.store, bv->uuid, "backup", detail);
		log_info("vm %s: %s", bv->name, detail);
	}
unlock:
	if (ref)
		rt_qmp_release(ref);
	if (!req_running && scratch && rmdir(scratch) < 0)
		log_warn("vm %s: cannot remove scratch directory %s: %s", bv->name, scratch, strerror(errno));
	vm_record_release(&rec);
	if (lock)
		job_unlock_vm(b->job, bv->uuid);
report:
	if (r < 0) {
		const char *why = err.len ? err.s : "failed";
		json_object_set_new(entry, "error", json_string(why));
		__do_free char *detail = xasprintf("backup to %s %s: %s", b->repo_path,
						  r == -ECANCELED ? "cancelled" : "failed", why);
		store_event_add(svc_cfg.store, bv->uuid, "backup", detail);
		log_warn("vm %s: %s", bv->name, detail);
	}
	b->done_before += bv->size;
	disk_reqs_release(disks, ndisks);
	backup_result_release(&res);
	buf_release(&err);
	return r;
}

/* ---- retention ---------------------------------------------------------- */

/* Unix time of a backup id "<vm>/<YYYYmmddTHHMMSSZ>[-N]", or -1. */
static int64_t id_time(const char *id)
{
	const char *slash = strrchr(id, '/');
	struct tm tm = { 0 };
	const char *end;

	if (!slash || !(end = strptime(slash + 1, "%Y%m%dT%H%M%SZ", &tm)) || (*end && *end != '-'))
		return -1;
	return (int64_t)timegm(&tm);
}

/* The backup ids of VM `name` in r (caller frees with repo_ids_free). */
static int vm_backup_ids(struct repo *r, const char *name, char ***out, size_t *n, struct buf *err)
{
	char **ids = NULL;
	size_t nids = 0, k = 0;
	size_t len = strlen(name);
	int e;

	if ((e = repo_manifest_list(r, &ids, &nids, err)) < 0)
		return e;
	for (size_t i = 0; i < nids; i++) {
		if (strncmp(ids[i], name, len) == 0 && ids[i][len] == '/')
			ids[k++] = ids[i];
		else
			free(ids[i]);
	}
	*out = ids;
	*n = k;
	return 0;
}

/*
 * Decide what `keep` keeps of VM `name`'s backups (plus, for a preview, one
 * more made now: extra_now > 0).  Fills items (caller frees with
 * retention_items_free).
 */
static int retention_plan(struct repo *r, const char *name, const struct keep_opts *keep, int64_t extra_now,
			  struct retention_item **items, size_t *n, char ***ids, size_t *nids, struct buf *err)
{
	int e;

	*items = NULL;
	*n = 0;
	if ((e = vm_backup_ids(r, name, ids, nids, err)) < 0)
		return e;
	*items = xcalloc(*nids + 1, sizeof(**items));
	for (size_t i = 0; i < *nids; i++) {
		(*items)[i].id = (*ids)[i];
		(*items)[i].time = id_time((*ids)[i]);
		(*items)[i].complete = (*items)[i].time >= 0;
	}
	*n = *nids;
	if (extra_now > 0) {
		(*items)[*n].id = "(new backup)";
		(*items)[*n].time = extra_now;
		(*items)[*n].complete = true;
		(*n)++;
	}
	return retention_apply(*items, *n, keep, 0, err);
}

/* Prune VM `name` after its good backup (keep says something); appends what
 * went to `pruned`.  Stops between two deletions once *cancel is set (-ECANCELED). */
static int prune_vm(struct repo *r, const char *name, const struct keep_opts *keep, const atomic_bool *cancel,
		    json_t *pruned, struct buf *err)
{
	struct retention_item *items = NULL;
	char **ids = NULL;
	size_t n = 0, nids = 0;
	int e;

	if ((e = retention_plan(r, name, keep, 0, &items, &n, &ids, &nids, err)) == 0) {
		for (size_t i = 0; i < n && e == 0; i++) {
			if (items[i].keep)
				continue;
			if (repo_cancel_requested(cancel)) {
				buf_printf(err, "pruning the backups of vm %s was cancelled", name);
				e = -ECANCELED;
			} else if ((e = repo_manifest_delete(r, items[i].id, err)) == 0)
				json_array_append_new(pruned, json_pack("{s:s,s:s}", "id", items[i].id, "reason",
									items[i].reason));
		}
	}
	free(items);
	repo_ids_free(ids, nids);
	return e;
}

/* ---- the run ------------------------------------------------------------ */

static const char *out_error(const json_t *entry)
{
	const char *e = json_string_value(json_object_get(entry, "error"));
	return e ? e : "failed";
}

static int brun_run(struct job *j, void *arg, struct buf *err)
{
	struct brun *b = arg;
	size_t failed = 0;
	uint64_t read = 0, stored = 0;
	struct buf first_error = BUF_INIT;
	json_t *vms = json_array();
	json_t *pruned = json_array();
	int r;

	b->job = j;
	b->t0_ms = time_mono_ms();
	{
		/* For start-up recovery: which VMs this run backs up, into which repository. */
		json_t *names = json_array();
		for (size_t i = 0; i < b->n; i++)
			json_array_append_new(names, json_string(b->vms[i].name));
		job_record_result(j, json_pack("{s:s,s:o}", "repo", b->repo_path, "backing_up", names));
	}
	job_on_cancel(j, svc_cancel_flag_set, &b->cancel);
	if ((r = svc_repo_lock_job(j, b->repo, false, err)) < 0)
		goto out;
	repo_set_compression(b->repo, b->compression);
	for (size_t i = 0; i < b->n && r == 0; i++) {
		struct brun_vm *bv = &b->vms[i];
		json_t *entry = json_pack("{s:s}", "vm", bv->name);
		json_array_append_new(vms, entry);
		if ((r = backup_one(b, bv, entry)) < 0) {
			/* A failed VM does not stop the run; a cancel does. */
			if (r == -ECANCELED || repo_cancel_requested(&b->cancel)) {
				buf_printf(err, "the backup of vm %s was stopped: no backup of it was made (the chunks "
						"it stored stay in the repository until the next prune)",
					   bv->name);
				r = -ECANCELED;
				break;
			}
			if (!failed++)
				buf_printf(&first_error, "%s: %s", bv->name, out_error(entry));
			r = 0;
			continue;
		}
		read += (uint64_t)json_integer_value(json_object_get(entry, "bytes_read"));
		stored += (uint64_t)json_integer_value(json_object_get(entry, "bytes_new"));
		if (!keep_opts_any(&bv->keep))
			continue;
		struct buf why = BUF_INIT;
		job_set_phase(j, "vm %s: pruning old backups", bv->name);
		if ((r = prune_vm(b->repo, bv->name, &bv->keep, &b->cancel, pruned, &why)) == -ECANCELED) {
			buf_printf(err, "stopped while pruning the old backups of vm %s, after its new backup was "
					"made (the job result lists what was pruned)",
				   bv->name);
		} else if (r < 0) {
			json_object_set_new(entry, "prune_error", json_string(why.s));
			log_warn("vm %s: prune after backup failed: %s", bv->name, why.s);
			r = 0;
		}
		buf_release(&why);
	}
	repo_unlock(b->repo);
	/* Free what pruning released, unless another writer is busy (then the next prune does it). */
	if (r == 0 && json_array_size(pruned) > 0) {
		struct buf why = BUF_INIT;
		uint64_t chunks = 0, bytes = 0;
		job_set_phase(j, "freeing unreferenced chunks");
		if (repo_lock(b->repo, true, false, &why) == 0) {
			buf_reset(&why);
			if ((r = repo_sweep(b->repo, &b->cancel, &chunks, &bytes, &why)) == -ECANCELED) {
				buf_adds(err, "stopped while freeing the chunks pruning released (the next prune frees "
					      "the rest)");
			} else if (r < 0) {
				log_warn("repository %s: sweep after prune failed: %s", b->repo_path, why.s);
				r = 0;
			}
			repo_unlock(b->repo);
		}
		buf_release(&why);
	}
	job_set_result(j, json_pack("{s:s,s:s?,s:o,s:o,s:I,s:I,s:I}", "repo", b->repo_path, "policy", b->policy, "vms",
				    vms, "pruned", pruned, "bytes_read", (json_int_t)read, "bytes_new", (json_int_t)stored,
				    "duration_ms", (json_int_t)(time_mono_ms() - b->t0_ms)));
	vms = pruned = NULL;
	/* r < 0: cancelled, and err says where. */
	if (r == 0 && failed == 1 && b->n == 1) {
		r = -EIO;
		buf_adds(err, first_error.s);
	} else if (r == 0 && failed) {
		r = -EIO;
		buf_printf(err, "%zu of %zu vms failed to back up (see the job result); first: %s", failed, b->n,
			   first_error.s);
	}
out:
	job_on_cancel(j, NULL, NULL);
	/* Not left to free_arg, which runs only once the engine reaps the job. */
	repo_close(b->repo);
	b->repo = NULL;
	json_decref(vms);
	json_decref(pruned);
	buf_release(&first_error);
	return r;
}

/* Start the run as a job; takes b. */
static int brun_start(struct brun *b, json_t **job, struct buf *err)
{
	const char *target = b->policy ? b->policy : b->n == 1 ? b->vms[0].name : "vms";
	struct job_spec spec = {
		.type = "backup",
		.target = target,
		/* One VM: its lock from the start, so a busy VM is refused now. */
		.vm = b->n == 1 ? b->vms[0].uuid : NULL,
		.vm_name = b->n == 1 ? b->vms[0].name : NULL,
		.run = brun_run,
		.arg = b,
		.free_arg = brun_free,
	};
	return job_start(&spec, job, err);
}

/* ---- starting a run ----------------------------------------------------- */

static void cleanup_policy(struct policy *p) { policy_release(p); }
#define __do_policy __attribute__((cleanup(cleanup_policy)))

/* Load policy `name` from the store. */
static int policy_load(const char *name, struct policy *p, struct buf *err)
{
	struct policy_record pr = { 0 };
	__do_json json_t *j = NULL;
	int r;

	if ((r = store_policy_get(svc_cfg.store, name, &pr)) < 0) {
		buf_printf(err, r == -ENOENT ? "backup policy '%s' not found" : "cannot read backup policy '%s'", name);
		return r;
	}
	if (!(j = json_loads(pr.def, 0, NULL))) {
		buf_printf(err, "backup policy '%s' is unreadable in the state database", name);
		r = -EIO;
	} else {
		r = policy_from_json(j, p, err);
	}
	policy_record_release(&pr);
	return r;
}

static void brun_add(struct brun *b, const struct vm_def *d, const struct keep_opts *keep)
{
	struct brun_vm *bv;
	b->vms = xrealloc(b->vms, (b->n + 1) * sizeof(*b->vms));
	bv = &b->vms[b->n++];
	memset(bv, 0, sizeof(*bv));
	snprintf(bv->uuid, sizeof(bv->uuid), "%s", d->uuid);
	bv->name = xstrdup(d->name);
	if (keep)
		bv->keep = *keep;
	/* Until the run measures them: the sum of the volumes' sizes as recorded. */
	for (int i = 0; i < d->ndisks && !(b->os_disk_only && i > 0); i++) {
		struct vol_record v = { 0 };
		struct vol_info vi = { 0 };
		struct buf ignore = BUF_INIT;
		if (store_vol_get(svc_cfg.store, d->disks[i].volume, &v) == 0 && vol_info(v.path, v.format, &vi, &ignore) == 0)
			bv->size += vi.capacity;
		vol_record_release(&v);
		buf_release(&ignore);
	}
	b->total += bv->size;
}

static void brun_add_ct(struct brun *b, const struct ct_record *c, const struct keep_opts *keep)
{
	struct brun_vm *bv;
	b->vms = xrealloc(b->vms, (b->n + 1) * sizeof(*b->vms));
	bv = &b->vms[b->n++];
	memset(bv, 0, sizeof(*bv));
	snprintf(bv->uuid, sizeof(bv->uuid), "%s", c->uuid);
	bv->name = xstrdup(c->name);
	bv->ct = true;
	if (keep)
		bv->keep = *keep;
}

static void preview_prune(struct brun *b, const char *name, const struct keep_opts *keep, json_t *e);

/* What a preview reports for VM d: pattern verdict, disks, and the prune plan. */
static json_t *preview_vm(struct brun *b, const struct vm_def *d, const char *why, const struct keep_opts *keep)
{
	json_t *e = json_pack("{s:s,s:s,s:[]}", "vm", d->name, "reason", why, "disks");
	for (int i = 0; i < d->ndisks && !(b->os_disk_only && i > 0); i++)
		json_array_append_new(json_object_get(e, "disks"), json_string(d->disks[i].volume));
	if (b->os_disk_only && d->ndisks > 1)
		json_object_set_new(e, "skipped_disks", json_integer(d->ndisks - 1));
	preview_prune(b, d->name, keep, e);
	return e;
}

/* The prune plan of `name`'s backups under keep, into preview entry e. */
static void preview_prune(struct brun *b, const char *name, const struct keep_opts *keep, json_t *e)
{
	if (keep_opts_any(keep)) {
		struct retention_item *items = NULL;
		char **ids = NULL;
		size_t n = 0, nids = 0;
		struct buf err = BUF_INIT;
		json_t *plan = json_array();
		if (retention_plan(b->repo, name, keep, (int64_t)time(NULL), &items, &n, &ids, &nids, &err) == 0) {
			for (size_t i = 0; i < n; i++)
				json_array_append_new(plan, json_pack("{s:s,s:b,s:s}", "id", items[i].id, "keep",
								      items[i].keep, "reason", items[i].reason));
		} else {
			json_object_set_new(e, "prune_error", json_string(err.s));
		}
		json_object_set_new(e, "prune", plan);
		free(items);
		repo_ids_free(ids, nids);
		buf_release(&err);
	}
}

int svc_backup_run(const struct svc_backup_opts *o, json_t **out, struct buf *err)
{
	__do_policy struct policy pol = { 0 };
	struct brun *b = xcalloc(1, sizeof(*b));
	struct vm_record *list = NULL;
	size_t n = 0;
	json_t *preview = NULL;
	const char *repo_path = o->repo;
	int r;

	if (!!o->policy == !!o->vm) {
		buf_adds(err, "name either a policy or a vm selector to back up");
		r = -EINVAL;
		goto fail;
	}
	if (o->vm && svc_ctb_is_container(o->vm)) { /* a container: a file-level backup (ctbackup.c) */
		if (o->preview || o->os_disk_only || o->no_freeze) {
			buf_adds(err, "--preview, --os-disk-only and --no-freeze are for vms, not containers");
			r = -EINVAL;
			goto fail;
		}
		brun_free(b);
		return svc_ctb_run(o->vm, o->repo, out, err);
	}
	b->os_disk_only = o->os_disk_only;
	b->no_freeze = o->no_freeze;
	b->compression = 3;
	if (o->policy) {
		if ((r = policy_load(o->policy, &pol, err)) < 0)
			goto fail;
		b->policy = xstrdup(pol.name);
		b->os_disk_only = b->os_disk_only || pol.os_disk_only;
		b->compression = pol.compression;
		if (!repo_path)
			repo_path = pol.repo;
	}
	if ((r = svc_repo_open(repo_path, &b->repo, &b->repo_path, err)) < 0)
		goto fail;
	if (o->preview)
		preview = json_pack("{s:s,s:s?,s:[],s:[]}", "repo", b->repo_path, "policy", b->policy, "backup", "skip");

	if (o->vm) {
		svc_uuid *uuids = NULL;
		size_t nu = 0;
		if ((r = svc_vm_select(o->vm, false, &uuids, &nu, err)) < 0) {
			if (r == -ENOENT && !strchr(o->vm, ':')) { /* a plain name: a container's, too */
				buf_reset(err);
				buf_printf(err, "no vm or container named '%s'", o->vm);
			}
			goto fail;
		}
		for (size_t i = 0; i < nu; i++) {
			struct vm_record rec = { 0 };
			if (store_vm_get(svc_cfg.store, uuids[i], &rec) < 0)
				continue;
			if (preview)
				json_array_append_new(json_object_get(preview, "backup"),
						      preview_vm(b, rec.def, "named on the command line",
								 &(struct keep_opts){ 0 }));
			else
				brun_add(b, rec.def, NULL);
			vm_record_release(&rec);
		}
		free(uuids);
	} else {
		if ((r = store_vm_list(svc_cfg.store, &list, &n)) < 0) {
			buf_adds(err, "cannot read the VM list");
			goto fail;
		}
		/* Containers are selected by the same patterns (names and tags). */
		struct ct_record *cts = NULL;
		size_t ncts = 0;
		if (store_ct_list(svc_cfg.store, &cts, &ncts) < 0)
			ncts = 0;
		struct policy_vm *pv = xcalloc(n + ncts ? n + ncts : 1, sizeof(*pv));
		struct policy_choice *pc = xcalloc(n + ncts ? n + ncts : 1, sizeof(*pc));
		for (size_t i = 0; i < n; i++) {
			pv[i].name = list[i].def->name;
			pv[i].tags = (const char *const *)list[i].def->tags;
			pv[i].ntags = (size_t)list[i].def->ntags;
		}
		struct ct_def **cdefs = xcalloc(ncts ? ncts : 1, sizeof(*cdefs));
		for (size_t i = 0; i < ncts; i++) {
			__do_json json_t *cj = json_loads(cts[i].def, 0, NULL);
			struct buf ce = BUF_INIT;
			pv[n + i].name = cts[i].name;
			if ((cdefs[i] = ctdef_from_json(cj, CTDEF_FROM_STORE, &ce))) {
				pv[n + i].tags = (const char *const *)cdefs[i]->tags;
				pv[n + i].ntags = (size_t)cdefs[i]->ntags;
			}
			buf_release(&ce);
		}
		policy_select(&pol, pv, n + ncts, pc);
		for (size_t i = n; i < n + ncts; i++) {
			struct buf why = BUF_INIT;
			policy_choice_describe(&pv[i], &pc[i], &why);
			if (preview && pc[i].verdict == POLICY_SELECTED) {
				json_t *e = json_pack("{s:s,s:s,s:s,s:[]}", "vm", cts[i - n].name, "kind", "container",
						      "reason", why.s, "disks");
				preview_prune(b, cts[i - n].name, &pc[i].keep, e);
				json_array_append_new(json_object_get(preview, "backup"), e);
			}
			else if (preview)
				json_array_append_new(json_object_get(preview, "skip"),
						      json_pack("{s:s,s:s}", "vm", cts[i - n].name, "reason", why.s));
			else if (pc[i].verdict == POLICY_SELECTED)
				brun_add_ct(b, &cts[i - n], &pc[i].keep);
			buf_release(&why);
		}
		for (size_t i = 0; i < ncts; i++)
			ctdef_free(cdefs[i]);
		free(cdefs);
		store_ct_list_free(cts, ncts);
		for (size_t i = 0; i < n; i++) {
			struct buf why = BUF_INIT;
			policy_choice_describe(&pv[i], &pc[i], &why);
			if (pc[i].verdict == POLICY_SELECTED && list[i].def->is_template) {
				buf_reset(&why);
				buf_printf(&why, "%s: skipped: a template (back up its clones)", list[i].def->name);
				pc[i].verdict = POLICY_EXCLUDED;
			}
			if (preview && pc[i].verdict == POLICY_SELECTED)
				json_array_append_new(json_object_get(preview, "backup"),
						      preview_vm(b, list[i].def, why.s, &pc[i].keep));
			else if (preview)
				json_array_append_new(json_object_get(preview, "skip"),
						      json_pack("{s:s,s:s}", "vm", list[i].def->name, "reason", why.s));
			else if (pc[i].verdict == POLICY_SELECTED)
				brun_add(b, list[i].def, &pc[i].keep);
			buf_release(&why);
		}
		free(pv);
		free(pc);
	}
	if (preview) {
		*out = preview;
		preview = NULL;
		r = 0;
		goto fail; /* nothing to run: release everything */
	}
	if (b->n == 0) {
		buf_printf(err, "%s selects no vm", o->policy ? "the policy" : "the selector");
		r = -ENOENT;
		goto fail;
	}
	store_vm_list_free(list, n);
	return brun_start(b, out, err);
fail:
	json_decref(preview);
	store_vm_list_free(list, n);
	brun_free(b);
	return r;
}
