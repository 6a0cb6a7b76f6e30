/*
 * snapshot.c - VM snapshots: create, list, show, revert, delete, and the
 * recovery of snapshots a crashed corrald left half done (see snapshot.h and
 * docs/snapshots.md).
 *
 * A snapshot is one qcow2 internal snapshot tag, the snapshot's name, on
 * every disk of the VM, plus a row in the store holding the tree (parent),
 * the VM definition of the moment and whether RAM was saved, plus for a UEFI
 * VM a copy of its NVRAM vars (snapnvram.h).  The row is written
 * ("creating"/"deleting") before any image or copy changes, so that
 * svc_snapshot_recover() can finish or roll back what a crash cut off.
 * Every operation holds the VM's job lock and is recorded as a job; the
 * mechanics (qemu-img, QMP jobs) are in src/qemu/snapshot.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include "snapshot.h"
#include "snapnvram.h"
#include "service/vm.h"
#include "service/agent.h"
#include "service/internal.h"
#include "backup/backup.h"
#include "core/job.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "qemu/snapshot.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define SNAP_JOB_PREFIX "corral-snap-"
#define SNAP_JOB_TIMEOUT_MS (30 * 60 * 1000)
#define SNAP_MIN_FREE (64ULL << 20)

/* One disk of a snapshot operation. */
struct snap_disk {
	char *volume;
	char *path;
	char *node; /* format node of the running VM, NULL when not running */
};

/* What an operation works on: the VM, its hold or job, its disks. */
struct snap_ctx {
	const char *uuid;
	struct vm_record rec;
	struct job *job;	/* on a job's thread (the job holds the VM), else NULL */
	struct job_hold *hold;	/* checks and recovery outside a job */
	struct snap_disk disks[VM_MAX_DISKS];
	int ndisks;
	const char *nodes[VM_MAX_DISKS];
};

static void ctx_drop_disks(struct snap_ctx *c)
{
	for (int i = 0; i < c->ndisks; i++) {
		free(c->disks[i].volume);
		free(c->disks[i].path);
		free(c->disks[i].node);
		c->nodes[i] = NULL;
	}
	c->ndisks = 0;
}

static void ctx_release(struct snap_ctx *c)
{
	ctx_drop_disks(c);
	vm_record_release(&c->rec);
	job_release(c->hold);
	c->hold = NULL;
}

static int check_snap_name(const char *name, struct buf *err)
{
	const char *bad = str_name_invalid(name);
	if (bad) {
		buf_printf(err, "invalid snapshot name: %s", bad);
		return -EINVAL;
	}
	return 0;
}

/* Hold the VM for `job` (unless c->job already holds it) and read it; refuse transitional states. */
static int ctx_begin(struct snap_ctx *c, const char *uuid, const char *job, struct buf *err)
{
	int r;
	c->uuid = uuid;
	if (!c->job && (r = job_hold_vm(uuid, NULL, job, &c->hold, err)) < 0)
		return r;
	if ((r = store_vm_get(svc_cfg.store, uuid, &c->rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if (c->rec.state == VM_STARTING || c->rec.state == VM_STOPPING) {
		buf_printf(err, "%s: vm is %s; try again in a moment", c->rec.def->name, vmstate_name(c->rec.state));
		return -EBUSY;
	}
	return 0;
}

/*
 * Fill c->disks from the disks of `def`: each volume must exist, be qcow2
 * and writable.  When the VM runs, each attached disk's format node too.
 */
static int ctx_disks(struct snap_ctx *c, const struct vm_def *def, struct buf *err)
{
	__do_json json_t *nodes = rt_is_active(c->uuid) ? rt_disk_nodes(c->uuid) : NULL;

	if (def->ndisks == 0) {
		buf_printf(err, "vm '%s' has no disks: nothing to snapshot", c->rec.def->name);
		return -ENOTSUP;
	}
	for (int i = 0; i < def->ndisks; i++) {
		struct vol_record v = { 0 };
		const char *vol = def->disks[i].volume;
		int r = 0;
		if (store_vol_get(svc_cfg.store, vol, &v) < 0) {
			buf_printf(err, "volume '%s' of vm '%s' no longer exists", vol, c->rec.def->name);
			r = -ENOENT;
		} else if (strcmp(v.format, "qcow2") != 0) {
			buf_printf(err, "volume '%s' is %s: only qcow2 volumes can hold snapshots "
					"(convert it with 'qemu-img convert -O qcow2' and import it)", vol, v.format);
			r = -ENOTSUP;
		} else if (v.readonly) {
			buf_printf(err, "volume '%s' is read-only (a template's); clone the template instead", vol);
			r = -ENOTSUP;
		}
		if (r == 0) {
			struct snap_disk *d = &c->disks[c->ndisks++];
			d->volume = xstrdup(vol);
			d->path = xstrdup(v.path);
			const char *node = json_string_value(json_object_get(json_object_get(nodes, vol), "node"));
			d->node = node ? xstrdup(node) : NULL;
			c->nodes[i] = d->node; /* NULL when not attached (a snapshot's disk detached since) */
		}
		vol_record_release(&v);
		if (r < 0)
			return r;
	}
	return 0;
}

static void progress(void *opaque, double percent)
{
	struct snap_ctx *c = opaque;
	if (c->job)
		job_progress(c->job, percent, 0, -1);
}

/* Room for the snapshot in every directory holding a disk. */
static int check_space(struct snap_ctx *c, const char *name, bool memory, struct buf *err)
{
	for (int i = 0; i < c->ndisks; i++) {
		__do_free char *dir = xstrdup(c->disks[i].path);
		char *slash = strrchr(dir, '/');
		struct statvfs vfs;
		char a[16], b[16];
		if (slash)
			*(slash == dir ? slash + 1 : slash) = '\0';
		if (statvfs(dir, &vfs) < 0) {
			buf_printf(err, "cannot check the free space in %s: %s", dir, strerror(errno));
			return -EIO;
		}
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		uint64_t need = SNAP_MIN_FREE + (memory && i == 0 ? (uint64_t)c->rec.def->memory_mib << 20 : 0);
		if (avail < need) {
			buf_printf(err, "not enough space in %s for snapshot '%s': %s needed, %s free", dir, name,
				   str_fmt_size(need, a, sizeof(a)), str_fmt_size(avail, b, sizeof(b)));
			return -ENOSPC;
		}
	}
	return 0;
}

/* Which disks hold tag `name` right now (QEMU's view when running). */
static int tags_present(struct snap_ctx *c, const char *name, bool present[], struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	int r = 0;
	for (int i = 0; i < c->ndisks && r == 0; i++) {
		__do_json json_t *list = NULL;
		if (c->disks[i].node && !q && !(q = rt_qmp_acquire(c->uuid, &ref, err)))
			r = -EIO;
		else if (c->disks[i].node)
			r = snap_qmp_list(q, c->disks[i].node, &list, err);
		else
			r = snap_img_list(c->disks[i].path, &list, err);
		present[i] = r == 0 && snap_list_find(list, name);
	}
	if (ref)
		rt_qmp_release(ref);
	return r;
}

/* Remove tag `name` from every disk that has it (rolling back, or deleting). */
static int remove_tags(struct snap_ctx *c, const char *name, struct buf *err)
{
	bool present[VM_MAX_DISKS] = { 0 };
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	int r;

	if ((r = tags_present(c, name, present, err)) < 0)
		return r;
	for (int i = 0; i < c->ndisks && r == 0; i++) {
		if (!present[i])
			continue;
		if (!c->disks[i].node)
			r = snap_img_delete(c->disks[i].path, name, err);
		else if (!q && !(q = rt_qmp_acquire(c->uuid, &ref, err)))
			r = -EIO;
		else
			r = snap_qmp_delete_disk(q, c->disks[i].node, name, err);
	}
	if (ref)
		rt_qmp_release(ref);
	return r;
}

/* ---- answers ------------------------------------------------------------ */

/*
 * Bytes of saved RAM of snapshot `name`: the vm-state-size qemu-img reports
 * on its disks.  `cache` maps volume -> snapshot list, so listing a tree
 * reads each image once.
 */
static json_t *state_size(const struct vm_def *def, const char *name, json_t *cache)
{
	json_int_t total = 0;
	if (!def)
		return json_null();
	for (int i = 0; i < def->ndisks; i++) {
		const char *vol = def->disks[i].volume;
		json_t *list = json_object_get(cache, vol);
		if (!list) {
			struct vol_record v = { 0 };
			__do_buf struct buf e = BUF_INIT;
			if (store_vol_get(svc_cfg.store, vol, &v) < 0 || strcmp(v.format, "qcow2") != 0 ||
			    snap_img_list(v.path, &list, &e) < 0)
				list = json_array();
			json_object_set_new(cache, vol, list);
			vol_record_release(&v);
		}
		json_t *it = snap_list_find(list, name);
		if (!it)
			return json_null();
		total += json_integer_value(json_object_get(it, "vm-state-size"));
	}
	return json_integer(total);
}

static struct vm_def *snap_def(const struct snap_record *s, struct buf *err)
{
	json_error_t je;
	__do_json json_t *j = json_loads(s->def ? s->def : "", 0, &je);
	struct vm_def *d = j ? vmdef_from_json(j, err) : NULL;
	if (!j)
		buf_printf(err, "the definition stored with snapshot '%s' is unreadable", s->name);
	return d;
}

static json_t *snap_json(const struct snap_record *s, const char *current, bool full, json_t *cache)
{
	char t[40];
	__do_buf struct buf e = BUF_INIT;
	struct vm_def *def = snap_def(s, &e);
	json_t *j = json_pack("{s:s,s:o,s:s,s:s,s:b,s:b,s:s,s:b}", "name", s->name, "parent",
			      s->parent ? json_string(s->parent) : json_null(), "created",
			      time_fmt_rfc3339(s->created_ms, t, sizeof(t)), "description", s->description, "memory",
			      s->memory, "was_running", s->was_running, "state", s->state, "current",
			      current && strcmp(current, s->name) == 0);
	json_object_set_new(j, "size", strcmp(s->state, "ready") == 0 ? state_size(def, s->name, cache) : json_null());
	json_object_set_new(j, "nvram", json_boolean(svc_snap_nvram_has(s->vm, s->name)));
	json_t *vols = json_array();
	for (int i = 0; def && i < def->ndisks; i++)
		json_array_append_new(vols, json_string(def->disks[i].volume));
	json_object_set_new(j, "volumes", vols);
	if (full)
		json_object_set_new(j, "definition", def ? vmdef_to_json(def) : json_null());
	vmdef_free(def);
	return j;
}

static int get_snap(const char *uuid, const char *vmname, const char *name, struct snap_record *s, struct buf *err)
{
	int r;
	if ((r = check_snap_name(name, err)) < 0)
		return r;
	if ((r = store_snap_get(svc_cfg.store, uuid, name, s)) < 0) {
		if (r == -ENOENT)
			buf_printf(err, "vm '%s' has no snapshot '%s'", vmname, name);
		else
			buf_printf(err, "cannot read snapshot '%s'", name);
	}
	return r;
}

json_t *svc_snapshot_list(const char *uuid, struct buf *err)
{
	struct snap_record *list;
	size_t n;
	__do_free char *current = NULL;
	if (store_snap_list(svc_cfg.store, uuid, &list, &n) < 0) {
		buf_adds(err, "cannot read the snapshot list");
		return NULL;
	}
	store_snap_current_get(svc_cfg.store, uuid, &current);
	__do_json json_t *cache = json_object();
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, snap_json(&list[i], current, false, cache));
	store_snap_list_free(list, n);
	return json_pack("{s:o,s:o}", "snapshots", arr, "current", current ? json_string(current) : json_null());
}

int svc_snapshot_get(const char *uuid, const char *name, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct snap_record s = { 0 };
	__do_free char *current = NULL;
	int r;
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if ((r = get_snap(uuid, rec.def->name, name, &s, err)) == 0) {
		store_snap_current_get(svc_cfg.store, uuid, &current);
		__do_json json_t *cache = json_object();
		*out = snap_json(&s, current, true, cache);
	}
	snap_record_release(&s);
	vm_record_release(&rec);
	return r;
}

/* ---- create ------------------------------------------------------------- */

/* How consistent a snapshot's disks are: "memory" (RAM saved with them),
 * "filesystem-frozen" or "crash" (running, disks only: service/agent.h),
 * "stopped"; with the agent's note. */
struct snap_consistency {
	bool no_freeze;
	const char *kind;
	char note[256];
};

/*
 * A UEFI VM's snapshot keeps its NVRAM vars as they are at the point its
 * disks (and RAM) are taken: a running VM is paused for it (QEMU writes the
 * guest's flash through to the file, so a paused VM's file is its flash)
 * until nvram_point_end; *paused: whether it was.  A crash in between leaves
 * the VM paused and its snapshot "creating": recovery resumes it.
 */
static int nvram_point_begin(struct snap_ctx *c, const char *name, bool *paused, struct buf *err)
{
	int r;
	*paused = false;
	if (c->rec.def->firmware != FIRMWARE_UEFI)
		return 0;
	if (rt_is_active(c->uuid) && c->rec.state == VM_RUNNING) {
		__do_free char *why = xasprintf("paused while snapshot '%s' is taken", name);
		if ((r = rt_pause_reason(c->uuid, why, err)) < 0)
			return r;
		*paused = true;
	}
	return svc_snap_nvram_save(c->uuid, name, err);
}

static void nvram_point_end(struct snap_ctx *c, const char *name, bool paused)
{
	__do_buf struct buf e = BUF_INIT;
	__do_free char *why = xasprintf("resumed: snapshot '%s' taken", name);
	if (paused && rt_resume_reason(c->uuid, why, &e) < 0)
		log_warn("vm %s: cannot resume it after snapshot %s: %s", c->rec.def->name, name, e.s);
}

static int create_running(struct snap_ctx *c, const char *name, bool memory, struct snap_consistency *sc,
			  struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q;
	bool paused;
	int r;
	for (int i = 0; i < c->ndisks; i++) {
		if (!c->nodes[i]) {
			buf_printf(err, "volume '%s' is not attached to the running vm", c->disks[i].volume);
			return -EIO;
		}
	}
	if (!(q = rt_qmp_acquire(c->uuid, &ref, err)))
		return -EIO;
	if (memory) {
		/* The RAM goes with the disks: consistent without a freeze (and a frozen
		 * guest saved in RAM would wake up frozen after a revert). */
		__do_free char *job_id = xasprintf(SNAP_JOB_PREFIX "save-%s", name);
		if ((r = nvram_point_begin(c, name, &paused, err)) == 0)
			r = snap_qmp_save(q, job_id, name, c->nodes, c->ndisks, progress, c, SNAP_JOB_TIMEOUT_MS, err);
		nvram_point_end(c, name, paused);
		sc->kind = "memory";
		snprintf(sc->note, sizeof(sc->note), "memory (the RAM state is saved with the disks)");
	} else {
		struct svc_freeze f;
		svc_agent_point_begin(c->uuid, c->rec.def, sc->no_freeze, &f);
		if ((r = nvram_point_begin(c, name, &paused, err)) == 0)
			r = snap_qmp_create_disks(q, c->nodes, c->ndisks, name, err);
		nvram_point_end(c, name, paused);
		svc_agent_point_end(c->uuid, &f);
		sc->kind = svc_freeze_consistency(&f);
		snprintf(sc->note, sizeof(sc->note), "%s", f.note);
	}
	rt_qmp_release(ref);
	return r;
}

static int create_stopped(struct snap_ctx *c, const char *name, struct buf *err)
{
	if (c->rec.def->firmware == FIRMWARE_UEFI) {
		int r = svc_snap_nvram_save(c->uuid, name, err);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < c->ndisks; i++) {
		int r = snap_img_create(c->disks[i].path, name, err);
		if (r < 0)
			return r;
		progress(c, 100.0 * (i + 1) / c->ndisks);
	}
	return 0;
}

/* Record the row, take the snapshot, make it current; on failure leave nothing behind. */
static int take_snapshot(struct snap_ctx *c, const char *name, const char *description, bool memory,
			 struct snap_consistency *sc, struct buf *e)
{
	bool active = rt_is_active(c->uuid);
	__do_free char *current = NULL;
	__do_json json_t *dj = vmdef_to_json(c->rec.def);
	__do_free char *def = json_to_string(dj);
	int r;

	store_snap_current_get(svc_cfg.store, c->uuid, &current);
	struct snap_record row = {
		.vm = (char *)c->uuid, .name = (char *)name, .parent = current, .created_ms = time_wall_ms(),
		.description = (char *)(description ? description : ""), .memory = memory,
		.was_running = active && c->rec.state == VM_RUNNING, .def = def, .state = "creating",
	};
	if ((r = store_snap_insert(svc_cfg.store, &row)) < 0) {
		buf_printf(e, "cannot record snapshot '%s'", name);
		return r;
	}
	sc->kind = "stopped";
	snprintf(sc->note, sizeof(sc->note), "stopped (the disks as the VM left them)");
	r = active ? create_running(c, name, memory, sc, e) : create_stopped(c, name, e);
	if (r < 0) {
		/* No partial tag, copy or row stays behind (else the next start cleans up); the VM keeps running. */
		__do_buf struct buf e2 = BUF_INIT;
		if (remove_tags(c, name, &e2) < 0 || svc_snap_nvram_drop(c->uuid, name, &e2) < 0)
			log_warn("vm %s: rolling back snapshot %s: %s", c->rec.def->name, name, e2.s);
		else
			store_snap_delete(svc_cfg.store, c->uuid, name);
		return r;
	}
	if ((r = store_snap_set_state(svc_cfg.store, c->uuid, name, "ready")) < 0 ||
	    (r = store_snap_current_set(svc_cfg.store, c->uuid, name)) < 0) {
		buf_printf(e, "snapshot '%s' was taken but cannot be recorded", name);
		return r;
	}
	__do_free char *ev = xasprintf("snapshot '%s' created%s; consistency: %s", name, memory ? " (with RAM)" : "",
				       sc->note);
	svc_vm_event(c->uuid, "snapshot", ev);
	log_info("vm %s: %s", c->rec.def->name, ev);
	return 0;
}

/* A snapshot operation's request, owned by its job. */
struct snap_op {
	svc_uuid uuid;
	char *name, *description;
	bool memory;
	bool no_freeze;
};

static void snap_op_free(void *arg)
{
	struct snap_op *o = arg;
	if (!o)
		return;
	free(o->name);
	free(o->description);
	free(o);
}

static struct snap_op *snap_op_new(const char *uuid, const char *name, const char *description, bool memory)
{
	struct snap_op *o = xcalloc(1, sizeof(*o));
	snprintf(o->uuid, sizeof(o->uuid), "%s", uuid);
	o->name = xstrdup(name);
	o->description = description ? xstrdup(description) : NULL;
	o->memory = memory;
	return o;
}

/*
 * Run `run` as job `type` on the VM of o after `check` passed under a hold of
 * the VM (so refusals come back at once).  o is owned from here on.
 */
static int snap_job(const char *type, struct snap_op *o, int (*check)(struct snap_ctx *c, struct snap_op *o, struct buf *err),
		    job_fn run, json_t **job, struct buf *err)
{
	struct snap_ctx c = { 0 };
	int r = ctx_begin(&c, o->uuid, type, err);
	if (r == 0)
		r = check(&c, o, err);
	__do_free char *vm = c.rec.def ? xstrdup(c.rec.def->name) : NULL;
	ctx_release(&c);
	if (r < 0) {
		snap_op_free(o);
		return r;
	}
	__do_free char *target = xasprintf("%s/%s", vm, o->name);
	struct job_spec spec = { .type = type, .target = target, .vm = o->uuid, .vm_name = vm, .run = run,
				 .arg = o, .free_arg = snap_op_free };
	return job_start(&spec, job, err);
}

/* The answer of a snapshot job: the snapshot as it is now (and, when just
 * taken, how consistent it is). */
static void snap_result(struct job *j, const char *uuid, const char *name, const struct snap_consistency *sc)
{
	json_t *out = NULL;
	__do_buf struct buf e = BUF_INIT;
	if (svc_snapshot_get(uuid, name, &out, &e) == 0) {
		if (sc && sc->kind) {
			json_object_set_new(out, "consistency", json_string(sc->kind));
			json_object_set_new(out, "consistency_note", json_string(sc->note));
		}
		job_set_result(j, json_pack("{s:o}", "snapshot", out));
	}
}

static int create_check(struct snap_ctx *c, struct snap_op *o, struct buf *err)
{
	struct snap_record s = { 0 };
	const char *vm = c->rec.def->name;
	int r = 0;

	if (store_snap_get(svc_cfg.store, o->uuid, o->name, &s) == 0) {
		buf_printf(err, "vm '%s' already has a snapshot named '%s'", vm, o->name);
		r = -EEXIST;
	} else if (o->memory && !rt_is_active(o->uuid)) {
		buf_printf(err, "vm '%s' is not running: there is no RAM state to save (omit --memory)", vm);
		r = -EBUSY;
	} else if ((r = ctx_disks(c, c->rec.def, err)) == 0) {
		r = check_space(c, o->name, o->memory, err);
	}
	snap_record_release(&s);
	return r;
}

static int create_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	struct snap_ctx c = { .job = j };
	__do_buf struct buf e = BUF_INIT;
	int r;

	if ((r = ctx_begin(&c, o->uuid, "snapshot-create", err)) == 0 && (r = create_check(&c, o, err)) == 0) {
		/* QEMU's snapshot jobs and qemu-img cannot stop half way; rollback needs the tags settled. */
		job_set_uncancellable(j, "the snapshot is being written; it takes seconds");
		struct snap_consistency sc = { .no_freeze = o->no_freeze };
		r = take_snapshot(&c, o->name, o->description, o->memory, &sc, &e);
		if (r < 0)
			buf_printf(err, "%s: %s", c.rec.def->name, e.s);
		else
			snap_result(j, o->uuid, o->name, &sc);
	}
	ctx_release(&c);
	return r;
}

int svc_snapshot_create(const char *uuid, const char *name, const char *description, bool memory, json_t **job,
			struct buf *err)
{
	return svc_snapshot_create_ex(uuid, name, description, memory, false, job, err);
}

int svc_snapshot_create_ex(const char *uuid, const char *name, const char *description, bool memory, bool no_freeze,
			   json_t **job, struct buf *err)
{
	int r;
	if ((r = check_snap_name(name, err)) < 0)
		return r;
	if (description && (strlen(description) > VM_MAX_DESCRIPTION || str_has_control(description))) {
		buf_printf(err, "description must be at most %d characters without control characters",
			   VM_MAX_DESCRIPTION);
		return -EINVAL;
	}
	struct snap_op *o = snap_op_new(uuid, name, description, memory);
	o->no_freeze = no_freeze;
	return snap_job("snapshot-create", o, create_check, create_run, job, err);
}

/* ---- revert ------------------------------------------------------------- */

/* Load the RAM state of `name` into the running (or paused) VM, then leave it as it was taken. */
static int load_state(struct snap_ctx *c, const struct snap_record *s, struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q = rt_qmp_acquire(c->uuid, &ref, err);
	__do_free char *job_id = xasprintf(SNAP_JOB_PREFIX "load-%s", s->name);
	int r;
	if (!q)
		return -EIO;
	r = snap_qmp_load(q, job_id, s->name, c->nodes, c->ndisks, progress, c, SNAP_JOB_TIMEOUT_MS, err);
	rt_qmp_release(ref);
	if (r < 0)
		return r;
	return s->was_running ? rt_resume(c->uuid, err) : rt_pause(c->uuid, err);
}

/* The volumes of `def` belong to no VM but this one.  Call under svc_defs_lock, or as a pre-check. */
static int check_owners(struct snap_ctx *c, const struct vm_def *def, struct buf *err)
{
	for (int i = 0; i < def->ndisks; i++) {
		__do_free char *user = svc_vm_using_volume(def->disks[i].volume);
		if (user && strcmp(user, c->rec.def->name) != 0) {
			buf_printf(err, "volume '%s' of the snapshot is now used by vm '%s'", def->disks[i].volume, user);
			return -EBUSY;
		}
	}
	return 0;
}

/* Make `def` (the snapshot's, under the VM's present name) the VM's definition. */
static int restore_def(struct snap_ctx *c, struct vm_def *def, struct buf *err)
{
	int r;
	free(def->name);
	def->name = xstrdup(c->rec.def->name);
	def->is_template = c->rec.def->is_template;
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = check_owners(c, def, err)) == 0 && (r = store_vm_update_def(svc_cfg.store, def)) < 0)
		buf_adds(err, "cannot store the definition");
	pthread_mutex_unlock(&svc_defs_lock);
	return r;
}

static bool same_def(const struct vm_def *a, const struct vm_def *b)
{
	__do_json json_t *ja = vmdef_to_json(a);
	__do_json json_t *jb = vmdef_to_json(b);
	json_object_del(ja, "name");
	json_object_del(jb, "name");
	return json_equal(ja, jb);
}

/* Point c's disk nodes at the running VM's (after a start). */
static int refresh_nodes(struct snap_ctx *c, struct buf *err)
{
	__do_json json_t *nodes = rt_disk_nodes(c->uuid);
	for (int i = 0; i < c->ndisks; i++) {
		const char *node = json_string_value(json_object_get(json_object_get(nodes, c->disks[i].volume), "node"));
		if (!node) {
			buf_printf(err, "volume '%s' is not attached to the started vm", c->disks[i].volume);
			return -EIO;
		}
		free(c->disks[i].node);
		c->disks[i].node = xstrdup(node);
		c->nodes[i] = c->disks[i].node;
	}
	return 0;
}

/* Backups' dirty bitmaps go first: QEMU refuses to revert an image that carries any. */
static int drop_backup_bitmaps(struct snap_ctx *c, bool active, struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	int r = 0;

	if (active && !(q = rt_qmp_acquire(c->uuid, &ref, err)))
		return -EIO;
	for (int i = 0; i < c->ndisks && r == 0; i++) {
		if ((r = backup_bitmaps_drop(c->disks[i].node ? q : NULL, c->disks[i].node, c->disks[i].path, err)) < 0)
			buf_printf(err, " (volume %s)", c->disks[i].volume);
	}
	if (ref)
		rt_qmp_release(ref);
	return r;
}

/*
 * The NVRAM vars of snapshot s come back, with no QEMU of the VM running:
 * its copy; without one (a BIOS snapshot), fresh vars at the next start if
 * the revert changes the firmware (as `vm edit` does), else they stay.
 */
static int revert_nvram(struct snap_ctx *c, const struct snap_record *s, const struct vm_def *def, struct buf *err)
{
	bool restored;
	int r = svc_snap_nvram_restore(c->uuid, s->name, &restored, err);
	if (r == 0 && !restored && (def->firmware != c->rec.def->firmware || def->secure_boot != c->rec.def->secure_boot)) {
		__do_free char *vars = rt_nvram_path(c->uuid);
		unlink(vars);
	}
	return r;
}

/*
 * Can a RAM revert load into the running QEMU?  Only with the same devices;
 * and for a UEFI snapshot only if the VM will run afterwards or runs now:
 * QEMU loads the guest's flash with the RAM and writes it back to the vars
 * file at its next run-state change, so a VM paused before and after would
 * keep today's vars on disk until resumed (it is restarted instead).
 */
static bool load_in_place(struct snap_ctx *c, const struct snap_record *s, const struct vm_def *def)
{
	if (!same_def(c->rec.def, def))
		return false;
	return s->was_running || c->rec.state == VM_RUNNING || !svc_snap_nvram_has(c->uuid, s->name);
}

static int revert(struct snap_ctx *c, const struct snap_record *s, struct vm_def *def, struct buf *err)
{
	bool active = rt_is_active(c->uuid);
	int r;

	if ((r = drop_backup_bitmaps(c, active, err)) < 0)
		return r;
	if (s->memory && active && load_in_place(c, s, def))
		return load_state(c, s, err);
	if (active && (r = rt_kill(c->uuid, err)) < 0)
		return r;
	for (int i = 0; i < c->ndisks; i++) {
		free(c->disks[i].node);
		c->disks[i].node = NULL;
		c->nodes[i] = NULL;
	}
	if ((r = revert_nvram(c, s, def, err)) < 0 || (r = restore_def(c, def, err)) < 0)
		return r;
	if (!s->memory) {
		for (int i = 0; i < c->ndisks; i++) {
			if ((r = snap_img_apply(c->disks[i].path, s->name, err)) < 0)
				return r;
			progress(c, 100.0 * (i + 1) / c->ndisks);
		}
		return active && s->was_running ? rt_start(c->uuid, err) : 0;
	}
	/* RAM state: a fresh QEMU, paused before its first instruction, loads it. */
	if ((r = rt_start_paused(c->uuid, err)) < 0 || (r = refresh_nodes(c, err)) < 0)
		return r;
	if ((r = load_state(c, s, err)) < 0) {
		__do_buf struct buf e2 = BUF_INIT;
		rt_kill(c->uuid, &e2);
	}
	return r;
}

/* Checks of a revert; with def (not NULL) the snapshot's definition is left there. */
static int revert_prepare(struct snap_ctx *c, struct snap_op *o, struct snap_record *s, struct vm_def **def,
			  struct buf *err)
{
	const char *vm = c->rec.def->name;
	int r;

	if ((r = get_snap(o->uuid, vm, o->name, s, err)) < 0)
		return r;
	if (strcmp(s->state, "ready") != 0) {
		buf_printf(err, "snapshot '%s' of vm '%s' is %s; it cannot be reverted to", o->name, vm, s->state);
		return -EBUSY;
	}
	if (!(*def = snap_def(s, err)))
		return -EIO;
	if ((r = ctx_disks(c, *def, err)) < 0 || (r = check_owners(c, *def, err)) < 0)
		return r;
	bool present[VM_MAX_DISKS] = { 0 };
	if ((r = tags_present(c, o->name, present, err)) < 0)
		return r;
	for (int i = 0; i < c->ndisks; i++) {
		if (!present[i]) {
			buf_printf(err, "snapshot '%s' is missing from volume '%s'; it cannot be reverted to", o->name,
				   c->disks[i].volume);
			return -EIO;
		}
	}
	return 0;
}

static int revert_check(struct snap_ctx *c, struct snap_op *o, struct buf *err)
{
	struct snap_record s = { 0 };
	struct vm_def *def = NULL;
	int r = revert_prepare(c, o, &s, &def, err);
	vmdef_free(def);
	snap_record_release(&s);
	return r;
}

static int revert_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	struct snap_ctx c = { .job = j };
	struct snap_record s = { 0 };
	struct vm_def *def = NULL;
	__do_buf struct buf e = BUF_INIT;
	int r;

	job_set_uncancellable(j, "a revert cannot stop half way");
	if ((r = ctx_begin(&c, o->uuid, "snapshot-revert", err)) < 0 ||
	    (r = revert_prepare(&c, o, &s, &def, err)) < 0)
		goto out;
	const char *vm = c.rec.def->name;
	/* "reverting" tells a restarted corrald to finish the job (svc_snapshot_recover). */
	store_snap_set_state(svc_cfg.store, o->uuid, o->name, "reverting");
	r = revert(&c, &s, def, &e);
	store_snap_set_state(svc_cfg.store, o->uuid, o->name, "ready");
	if (r < 0) {
		buf_printf(err, "%s: cannot revert to snapshot '%s': %s", vm, o->name, e.s);
		goto out;
	}
	store_snap_current_set(svc_cfg.store, o->uuid, o->name);
	{
		__do_free char *ev = xasprintf("reverted to snapshot '%s'", o->name);
		svc_vm_event(o->uuid, "snapshot", ev);
		log_info("vm %s: %s", vm, ev);
	}
	snap_result(j, o->uuid, o->name, NULL);
out:
	vmdef_free(def);
	snap_record_release(&s);
	ctx_release(&c);
	return r;
}

int svc_snapshot_revert(const char *uuid, const char *name, json_t **job, struct buf *err)
{
	int r;
	if ((r = check_snap_name(name, err)) < 0)
		return r;
	return snap_job("snapshot-revert", snap_op_new(uuid, name, NULL, false), revert_check, revert_run, job, err);
}

/* ---- delete ------------------------------------------------------------- */

/* Delete the tag from every disk that has it: one snapshot-delete job for a running VM's disks. */
static int delete_tags(struct snap_ctx *c, const char *name, struct buf *err)
{
	bool present[VM_MAX_DISKS] = { 0 };
	const char *nodes[VM_MAX_DISKS];
	int n = 0, r;

	if ((r = tags_present(c, name, present, err)) < 0)
		return r;
	for (int i = 0; i < c->ndisks; i++) {
		if (!present[i])
			continue;
		if (c->disks[i].node)
			nodes[n++] = c->disks[i].node;
		else if ((r = snap_img_delete(c->disks[i].path, name, err)) < 0)
			return r;
	}
	if (n > 0) {
		struct rt_ref *ref = NULL;
		struct qmp *q = rt_qmp_acquire(c->uuid, &ref, err);
		__do_free char *job_id = xasprintf(SNAP_JOB_PREFIX "delete-%s", name);
		if (!q)
			return -EIO;
		r = snap_qmp_delete(q, job_id, name, nodes, n, progress, c, SNAP_JOB_TIMEOUT_MS, err);
		rt_qmp_release(ref);
	}
	return r;
}

/* The disks of a snapshot that still exist, for deleting its tags (volumes deleted since are skipped). */
static void ctx_existing_disks(struct snap_ctx *c, const struct vm_def *def)
{
	__do_json json_t *nodes = rt_is_active(c->uuid) ? rt_disk_nodes(c->uuid) : NULL;
	for (int i = 0; def && i < def->ndisks; i++) {
		struct vol_record v = { 0 };
		const char *vol = def->disks[i].volume;
		if (store_vol_get(svc_cfg.store, vol, &v) == 0 && strcmp(v.format, "qcow2") == 0) {
			__do_free char *user = svc_vm_using_volume(vol);
			/* A volume now in another VM's hands is left alone. */
			if (!user || strcmp(user, c->rec.def->name) == 0) {
				struct snap_disk *d = &c->disks[c->ndisks];
				const char *node = json_string_value(json_object_get(json_object_get(nodes, vol), "node"));
				d->volume = xstrdup(vol);
				d->path = xstrdup(v.path);
				d->node = node ? xstrdup(node) : NULL;
				c->nodes[c->ndisks++] = d->node;
			}
		}
		vol_record_release(&v);
	}
}

/* Mark the snapshot "deleting", remove its tags, then its row (children re-parented). */
static int drop_snapshot(struct snap_ctx *c, const char *name, struct buf *e)
{
	int r;
	if ((r = store_snap_set_state(svc_cfg.store, c->uuid, name, "deleting")) < 0) {
		buf_printf(e, "cannot record the deletion of snapshot '%s'", name);
		return r;
	}
	if ((r = delete_tags(c, name, e)) < 0 || (r = svc_snap_nvram_drop(c->uuid, name, e)) < 0)
		return r;
	if ((r = store_snap_delete(svc_cfg.store, c->uuid, name)) < 0) {
		buf_printf(e, "snapshot '%s' was deleted from the disks but not from the store", name);
		return r;
	}
	__do_free char *ev = xasprintf("snapshot '%s' deleted", name);
	svc_vm_event(c->uuid, "snapshot", ev);
	log_info("vm %s: %s", c->rec.def->name, ev);
	return 0;
}

static int delete_check(struct snap_ctx *c, struct snap_op *o, struct buf *err)
{
	struct snap_record s = { 0 };
	int r = get_snap(o->uuid, c->rec.def->name, o->name, &s, err);
	if (r == 0 && strcmp(s.state, "creating") == 0) {
		buf_printf(err, "snapshot '%s' of vm '%s' is still being created", o->name, c->rec.def->name);
		r = -EBUSY;
	}
	snap_record_release(&s);
	return r;
}

static int delete_run(struct job *j, void *arg, struct buf *err)
{
	struct snap_op *o = arg;
	struct snap_ctx c = { .job = j };
	struct snap_record s = { 0 };
	struct vm_def *def = NULL;
	__do_buf struct buf e = BUF_INIT;
	int r;

	job_set_uncancellable(j, "a snapshot's deletion cannot be undone half way");
	if ((r = ctx_begin(&c, o->uuid, "snapshot-delete", err)) < 0 || (r = delete_check(&c, o, err)) < 0 ||
	    (r = get_snap(o->uuid, c.rec.def->name, o->name, &s, err)) < 0)
		goto out;
	def = snap_def(&s, &e);
	buf_reset(&e); /* an unreadable definition only means: delete from the VM's disks that exist */
	ctx_existing_disks(&c, def ? def : c.rec.def);
	if ((r = drop_snapshot(&c, o->name, &e)) < 0)
		buf_printf(err, "%s: cannot delete snapshot '%s' (run the delete again): %s", c.rec.def->name, o->name,
			   e.s);
out:
	vmdef_free(def);
	snap_record_release(&s);
	ctx_release(&c);
	return r;
}

int svc_snapshot_delete(const char *uuid, const char *name, json_t **job, struct buf *err)
{
	int r;
	if ((r = check_snap_name(name, err)) < 0)
		return r;
	return snap_job("snapshot-delete", snap_op_new(uuid, name, NULL, false), delete_check, delete_run, job, err);
}

/* ---- crash recovery ----------------------------------------------------- */

/* Finish or roll back the operation a crash cut off on snapshot `s` (see docs/snapshots.md). */
static int recover_work(struct snap_ctx *c, const struct snap_record *s, struct vm_def *def, struct buf *e)
{
	const char *vm = c->rec.def->name;
	int r;

	if (strcmp(s->state, "creating") == 0) {
		bool present[VM_MAX_DISKS] = { 0 }, all = c->ndisks > 0 && def && c->ndisks == def->ndisks;
		if ((r = tags_present(c, s->name, present, e)) < 0)
			return r;
		for (int i = 0; i < c->ndisks; i++)
			all = all && present[i];
		if (all) {
			store_snap_set_state(svc_cfg.store, s->vm, s->name, "ready");
			store_snap_current_set(svc_cfg.store, s->vm, s->name);
			log_info("vm %s: snapshot %s completed before the crash; kept", vm, s->name);
			svc_vm_event(s->vm, "snapshot", "snapshot creation finished across a corrald restart");
			return 0;
		}
		if ((r = remove_tags(c, s->name, e)) < 0 || (r = svc_snap_nvram_drop(s->vm, s->name, e)) < 0)
			return r;
		store_snap_delete(svc_cfg.store, s->vm, s->name);
		log_info("vm %s: snapshot %s was cut off by a crash; rolled back", vm, s->name);
		svc_vm_event(s->vm, "snapshot", "unfinished snapshot rolled back after a corrald restart");
	} else if (strcmp(s->state, "deleting") == 0) {
		if ((r = remove_tags(c, s->name, e)) < 0 || (r = svc_snap_nvram_drop(s->vm, s->name, e)) < 0)
			return r;
		store_snap_delete(svc_cfg.store, s->vm, s->name);
		log_info("vm %s: deletion of snapshot %s finished after a crash", vm, s->name);
	} else if (strcmp(s->state, "reverting") == 0) {
		/*
		 * A running VM got past the point where QEMU does the work (its job
		 * has settled).  A stopped one may have only some disks reverted:
		 * `qemu-img snapshot -a` again on every disk (idempotent) and the
		 * snapshot's definition; the VM stays stopped.
		 */
		if (!rt_is_active(s->vm)) {
			ctx_drop_disks(c);
			if (!def) {
				buf_printf(e, "the definition stored with snapshot '%s' is unreadable", s->name);
				return -EIO;
			}
			if ((r = ctx_disks(c, def, e)) < 0)
				return r;
			for (int i = 0; i < c->ndisks; i++)
				if ((r = snap_img_apply(c->disks[i].path, s->name, e)) < 0)
					return r;
			if ((r = revert_nvram(c, s, def, e)) < 0 || (r = restore_def(c, def, e)) < 0)
				return r;
		}
		store_snap_set_state(svc_cfg.store, s->vm, s->name, "ready");
		store_snap_current_set(svc_cfg.store, s->vm, s->name);
		log_info("vm %s: revert to snapshot %s finished after a crash", vm, s->name);
		svc_vm_event(s->vm, "snapshot", "revert finished after a corrald restart");
	}
	return 0;
}

/* A UEFI VM paused for its snapshot's NVRAM copy (nvram_point_begin) when the crash came runs on. */
static void resume_after_crash(struct snap_ctx *c, const struct snap_record *s)
{
	struct vm_record now = { 0 };
	__do_buf struct buf e = BUF_INIT;
	if (strcmp(s->state, "creating") == 0 && s->was_running && c->rec.def->firmware == FIRMWARE_UEFI &&
	    store_vm_get(svc_cfg.store, s->vm, &now) == 0 && now.state == VM_PAUSED) {
		if (rt_resume_reason(s->vm, "resumed: a snapshot cut off by a corrald restart had paused it", &e) < 0)
			log_warn("vm %s: cannot resume it: %s", c->rec.def->name, e.s);
	}
	vm_record_release(&now);
}

static void recover_one(const struct snap_record *s)
{
	struct snap_ctx c = { 0 };
	__do_buf struct buf e = BUF_INIT;

	if (ctx_begin(&c, s->vm, "snapshot-recover", &e) < 0) {
		log_warn("snapshot %s: cannot recover: %s", s->name, e.s);
		ctx_release(&c);
		return;
	}
	if (rt_is_active(s->vm)) {
		/* QEMU may still be running the job the crash interrupted: let it end. */
		struct rt_ref *ref = NULL;
		struct qmp *q = rt_qmp_acquire(s->vm, &ref, &e);
		if (q) {
			snap_qmp_settle(q, SNAP_JOB_PREFIX, SNAP_JOB_TIMEOUT_MS, &e);
			rt_qmp_release(ref);
		}
		buf_reset(&e);
		resume_after_crash(&c, s);
	}
	struct vm_def *def = snap_def(s, &e);
	buf_reset(&e);
	ctx_existing_disks(&c, def ? def : c.rec.def);
	if (recover_work(&c, s, def, &e) < 0)
		log_warn("vm %s: cannot recover snapshot %s: %s", c.rec.def->name, s->name, e.s);
	vmdef_free(def);
	ctx_release(&c);
}

/* Also drops the rows of VMs deleted since (their images went with them or keep harmless tags). */
void svc_snapshot_recover(void)
{
	struct snap_record *list;
	size_t n;
	if (store_snap_list(svc_cfg.store, NULL, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct vm_record rec = { 0 };
		if (store_vm_get(svc_cfg.store, list[i].vm, &rec) == -ENOENT)
			store_snap_delete(svc_cfg.store, list[i].vm, list[i].name); /* its VM was deleted */
		else if (strcmp(list[i].state, "ready") != 0)
			recover_one(&list[i]);
		vm_record_release(&rec);
	}
	store_snap_list_free(list, n);
	svc_snap_nvram_sweep(); /* copies no row names: a crash between a copy and its row's end */
}
