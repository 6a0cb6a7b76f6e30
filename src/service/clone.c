/*
 * clone.c - templates and clones (see clone.h).
 *
 * `vm template` turns a stopped VM into a read-only template: the definition
 * is flagged, its volumes are marked readonly in the store and their files
 * made 0400, and vm.c refuses to start it or change its devices.  A
 * clone copies a VM's definition under a new name, uuid and MAC, with new
 * volumes "<NEW>-disk<i>" next to the source volumes (same directory and
 * pool).  A full clone copies every disk with qemu-img convert through
 * vol_import() in a background job with progress; a linked clone only
 * creates qcow2 overlays whose backing file is the template's volume, which
 * is why only templates (never changing again) can be linked from.
 *
 * Nothing is half-created: every name is checked and the free space
 * measured before anything is written, and a failure removes every volume
 * made so far and defines no VM.  The source VM's job lock ("clone") is held
 * from the first check to the end of the job; the new VM name is claimed in
 * memory for that time, and the definition itself is added by
 * svc_vm_create(), which checks the host again under svc_defs_lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "clone.h"
#include "service/vm.h"
#include "service/poolview.h"
#include "service/internal.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "storage/qemuimg.h"
#include "storage/volume.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/runas.h"
#include "util/common.h"

/* A linked clone's overlays need next to nothing; refuse below this. */
#define CLONE_MIN_FREE (1ULL << 20)


/* ---- dependencies ------------------------------------------------------- */

int svc_linked_clones(const char *const *vols, size_t nvols, struct buf *names)
{
	struct vol_record *list;
	size_t n;
	__do_json json_t *seen = json_object();

	if (store_vol_list(svc_cfg.store, &list, &n) < 0)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		bool dep = false;
		for (size_t k = 0; k < nvols && !dep; k++)
			dep = list[i].backing && strcmp(list[i].backing, vols[k]) == 0;
		if (!dep)
			continue;
		__do_free char *user = svc_vm_using_volume(list[i].name);
		__do_free char *label = user ? xstrdup(user) : xasprintf("volume %s", list[i].name);
		if (json_object_get(seen, label))
			continue;
		json_object_set_new(seen, label, json_true());
		buf_printf(names, "%s%s", names->len ? ", " : "", label);
	}
	store_vol_list_free(list, n);
	return (int)json_object_size(seen);
}

int svc_template_delete_check(const struct vm_def *d, struct buf *err)
{
	const char *vols[VM_MAX_DISKS];
	struct buf names __do_buf = BUF_INIT;
	int r;

	for (int i = 0; i < d->ndisks; i++)
		vols[i] = d->disks[i].volume;
	r = svc_linked_clones(vols, (size_t)d->ndisks, &names);
	if (r < 0) {
		buf_adds(err, "cannot read the volume list");
		return r;
	}
	if (r > 0) {
		buf_printf(err, "template %s has linked clones: %s; delete them first", d->name, names.s);
		return -EBUSY;
	}
	return 0;
}

int svc_template_edit_check(const struct vm_def *old, const struct vm_def *d, struct buf *err)
{
	static const char *const free_keys[] = { "name", "description", "tags" };
	__do_json json_t *a = NULL;
	__do_json json_t *b = NULL;

	if (d->is_template && !old->is_template) {
		buf_printf(err, "vm %s is not a template; make it one with 'corral vm template %s'", old->name,
			   old->name);
		return -EINVAL;
	}
	if (!d->is_template && old->is_template) {
		buf_printf(err, "template %s cannot be turned back into a vm; clone it (corral vm clone %s NEW)",
			   old->name, old->name);
		return -EINVAL;
	}
	if (!old->is_template)
		return 0;
	a = vmdef_to_json(old);
	b = vmdef_to_json(d);
	for (size_t i = 0; i < ARRAY_SIZE(free_keys); i++) {
		json_object_del(a, free_keys[i]);
		json_object_del(b, free_keys[i]);
	}
	if (!json_equal(a, b)) {
		buf_printf(err,
			   "vm %s is a template: only its name, description and tags can change; clone it to change "
			   "the rest (corral vm clone %s NEW)",
			   old->name, old->name);
		return -EBUSY;
	}
	return 0;
}

/* ---- template ----------------------------------------------------------- */

/* Mark volume `name` read-only (or writable again), file mode and store row. */
static int vol_set_readonly(const char *name, bool ro, struct buf *err)
{
	struct vol_record v = { 0 };
	int r;

	if ((r = store_vol_get(svc_cfg.store, name, &v)) < 0) {
		buf_printf(err, "volume '%s' not found", name);
		return r;
	}
	if (chmod(v.path, ro ? 0400 : 0600) < 0) {
		r = -errno;
		buf_printf(err, "cannot change the mode of %s (volume %s): %s", v.path, name, strerror(-r));
		goto out;
	}
	v.readonly = ro;
	if ((r = store_vol_update(svc_cfg.store, &v)) < 0) {
		buf_printf(err, "cannot record volume %s in the state database", name);
		chmod(v.path, ro ? 0600 : 0400);
	}
out:
	vol_record_release(&v);
	return r;
}

int svc_vm_template(const char *uuid, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct snap_record *snaps = NULL;
	size_t nsnaps = 0;
	struct job_hold *h = NULL;
	int r, done = 0;

	if ((r = job_hold_vm(uuid, NULL, "template", &h, err)) < 0)
		return r;
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto out;
	}
	if (rec.def->is_template) {
		buf_printf(err, "vm %s is already a template", rec.def->name);
		r = -EBUSY;
		goto out;
	}
	if (vmstate_is_active(rec.state) || rt_is_active(uuid)) {
		buf_printf(err, "vm %s is %s; stop it first", rec.def->name, vmstate_name(rec.state));
		r = -EBUSY;
		goto out;
	}
	if (store_snap_list(svc_cfg.store, uuid, &snaps, &nsnaps) == 0 && nsnaps > 0) {
		buf_printf(err, "vm %s has %zu snapshot%s; delete them before making it a template", rec.def->name,
			   nsnaps, nsnaps == 1 ? "" : "s");
		r = -EBUSY;
		goto out;
	}
	for (done = 0; done < rec.def->ndisks && r == 0; done++)
		r = vol_set_readonly(rec.def->disks[done].volume, true, err);
	if (r == 0) {
		rec.def->is_template = true;
		rec.def->autostart = false;
		pthread_mutex_lock(&svc_defs_lock);
		r = store_vm_update_def(svc_cfg.store, rec.def);
		pthread_mutex_unlock(&svc_defs_lock);
		if (r < 0)
			buf_adds(err, "cannot store the definition");
	} else {
		done--; /* the failed one changed nothing */
	}
	if (r < 0) {
		while (done-- > 0) {
			struct buf ignore __do_buf = BUF_INIT;
			vol_set_readonly(rec.def->disks[done].volume, false, &ignore);
		}
		goto out;
	}
	svc_vm_event(uuid, "template", "made a read-only template");
	log_info("vm %s: made a template", rec.def->name);
	*out = svc_vm_show(uuid);
out:
	store_snap_list_free(snaps, nsnaps);
	vm_record_release(&rec);
	job_release(h);
	return r;
}

/* ---- clone -------------------------------------------------------------- */

struct clone_disk {
	struct vol_record src;
	char *name;     /* the new volume */
	char *dir;      /* where it goes: the source volume's directory */
	char *path;     /* linked: <dir>/<name>.qcow2 */
	uint64_t need;  /* full: bytes qemu-img measure says the copy needs */
};

struct clone {
	char src_uuid[37];
	char *src_name;
	char *name;
	bool linked;
	json_t *def; /* the new VM's definition (JSON) */
	struct clone_disk disks[VM_MAX_DISKS];
	int ndisks;
	int created; /* volumes made so far (disks[0..created)) */
	struct job *job; /* full clones */
	uint64_t total, copied; /* full: progress across the disks */
	int cur;
};

static void clone_free(void *arg)
{
	struct clone *c = arg;
	if (!c)
		return;
	for (int i = 0; i < c->ndisks; i++) {
		vol_record_release(&c->disks[i].src);
		free(c->disks[i].name);
		free(c->disks[i].dir);
		free(c->disks[i].path);
	}
	json_decref(c->def);
	free(c->src_name);
	free(c->name);
	free(c);
}

/* Bytes a qcow2 copy of the volume needs (qemu-img measure). */
static int img_measure_qcow2(const struct vol_record *v, uint64_t *need, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;

	if (qemu_img_measure(v->path, -1, v->format, "qcow2", false, need, &why) < 0) {
		buf_printf(err, "cannot measure volume %s: %s", v->name, why.s);
		return -EIO;
	}
	return 0;
}

/* Every target directory has room for what goes there. */
static int check_space(struct clone *c, struct buf *err)
{
	for (int i = 0; i < c->ndisks; i++) {
		uint64_t need = 0, avail;
		struct statvfs vfs;
		char a[16], b[16];
		bool first = true;

		for (int k = 0; k < c->ndisks; k++) {
			if (strcmp(c->disks[k].dir, c->disks[i].dir) != 0)
				continue;
			if (k < i)
				first = false;
			need += c->linked ? 0 : c->disks[k].need;
		}
		if (!first)
			continue;
		if (statvfs(c->disks[i].dir, &vfs) < 0) {
			int e = errno;
			buf_printf(err, "cannot use directory %s: %s", c->disks[i].dir, strerror(e));
			return -e;
		}
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		if (need < CLONE_MIN_FREE)
			need = CLONE_MIN_FREE;
		if (avail < need) {
			buf_printf(err, "not enough space in %s for clone %s: %s needed, %s free", c->disks[i].dir, c->name,
				   str_fmt_size(need, a, sizeof(a)), str_fmt_size(avail, b, sizeof(b)));
			return -ENOSPC;
		}
	}
	return 0;
}

/*
 * Check everything before writing anything: the source's state, the new VM
 * and volume names, the files, the space.  Fills c.
 */
static int clone_prepare(struct clone *c, const struct vm_record *rec, struct buf *err)
{
	const struct vm_def *s = rec->def;
	struct vm_def *check;
	struct vm_record *list;
	size_t cnt;
	int r = 0;

	c->src_name = xstrdup(s->name);
	if (c->linked && !s->is_template) {
		buf_printf(err,
			   "vm %s is not a template; a linked clone needs one (corral vm template %s), since a running "
			   "or changing base image would corrupt the clone",
			   s->name, s->name);
		return -EBUSY;
	}
	if (!s->is_template && (vmstate_is_active(rec->state) || rt_is_active(c->src_uuid))) {
		buf_printf(err, "vm %s is %s; stop it before cloning (or make it a template)", s->name,
			   vmstate_name(rec->state));
		return -EBUSY;
	}

	/* The new definition: everything from the source but identity, disks and autostart. */
	c->def = vmdef_to_json(s);
	json_object_set_new(c->def, "name", json_string(c->name));
	json_object_del(c->def, "uuid");
	json_object_set_new(c->def, "template", json_false());
	json_object_set_new(c->def, "autostart", json_false());
	vmdef_json_renew_macs(c->def);
	/* A fixed VNC display would clash with the source's: let corrald choose. */
	if (json_is_object(json_object_get(c->def, "vnc")))
		json_object_del(json_object_get(c->def, "vnc"), "display");
	json_t *disks = json_object_get(c->def, "disks");
	for (int i = 0; i < s->ndisks; i++) {
		struct clone_disk *d = &c->disks[i];
		const char *bad;

		c->ndisks = i + 1;
		d->name = xasprintf("%s-disk%d", c->name, i);
		if ((bad = str_name_invalid(d->name))) {
			buf_printf(err, "cannot name the clone's volume %s-disk%d: %s", c->name, i, bad);
			return -EINVAL;
		}
		if (store_vol_get(svc_cfg.store, s->disks[i].volume, &d->src) < 0) {
			buf_printf(err, "volume '%s' of vm %s does not exist", s->disks[i].volume, s->name);
			return -ENOENT;
		}
		struct vol_record taken = { 0 };
		r = store_vol_get(svc_cfg.store, d->name, &taken);
		vol_record_release(&taken);
		if (r == 0) {
			buf_printf(err, "volume %s already exists; choose another name for the clone", d->name);
			return -EEXIST;
		}
		{
			__do_free char *copy = xstrdup(d->src.path);
			d->dir = xstrdup(dirname(copy));
		}
		d->path = xasprintf("%s/%s.qcow2", d->dir, d->name);
		struct stat sb;
		if (lstat(d->path, &sb) == 0) {
			buf_printf(err, "cannot clone into volume %s: file %s already exists", d->name, d->path);
			return -EEXIST;
		}
		if (!c->linked && d->src.backing) {
			buf_printf(err,
				   "volume %s is a linked clone of %s; a full clone of a linked clone is not supported "
				   "(clone the template instead)",
				   d->src.name, d->src.backing);
			return -ENOTSUP;
		}
		if (!c->linked && (r = img_measure_qcow2(&d->src, &d->need, err)) < 0)
			return r;
		c->total += d->need;
		json_object_set_new(json_array_get(disks, (size_t)i), "volume", json_string(d->name));
	}

	/* The definition must be valid and its name free (svc_vm_create checks again at the end). */
	if (!(check = vmdef_from_json(c->def, err)))
		return -EINVAL;
	vmdef_free(check);
	if ((r = store_vm_list(svc_cfg.store, &list, &cnt)) < 0) {
		buf_adds(err, "cannot read the VM list");
		return r;
	}
	for (size_t i = 0; i < cnt && r == 0; i++) {
		if (strcmp(list[i].def->name, c->name) == 0) {
			buf_printf(err, "a vm named '%s' already exists", c->name);
			r = -EEXIST;
		}
	}
	store_vm_list_free(list, cnt);
	if (r < 0)
		return r;
	return check_space(c, err);
}

/* Remove the volumes made so far. */
static void clone_undo(struct clone *c)
{
	while (c->created > 0) {
		struct buf e __do_buf = BUF_INIT;
		struct clone_disk *d = &c->disks[--c->created];
		if (vol_delete(svc_cfg.store, d->name, &e) < 0)
			log_warn("clone %s: cannot remove volume %s: %s", c->name, d->name, e.s);
	}
}

/* A qcow2 overlay on the template's volume, registered with its backing. */
static int overlay_create(struct clone_disk *d, struct buf *err)
{
	struct cmd cm = CMD_INIT;
	struct buf why __do_buf = BUF_INIT;
	__do_close int fd = -EBADF;
	struct vol_record v = { 0 };
	int r;

	fd = open(d->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		buf_printf(err, "cannot create volume %s: cannot create %s: %s", d->name, d->path, strerror(-r));
		return r;
	}
	qemu_img_cmd(&cm, "create", "-q", "-f", "qcow2", "-b", d->src.path, "-F", d->src.format, d->path, NULL);
	if ((r = qemu_img_run(&cm, NULL, &why)) < 0) {
		buf_printf(err, "cannot create volume %s on %s: %s", d->name, d->src.name, why.s);
		goto fail;
	}
	if ((r = runas_own(d->path, err)) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		buf_printf(err, "cannot create volume %s: cannot sync %s: %s", d->name, d->path, strerror(-r));
		goto fail;
	}
	v.name = d->name;
	v.format = (char *)"qcow2";
	v.path = d->path;
	v.pool = d->src.pool;
	v.backing = d->src.name;
	if ((r = store_vol_add(svc_cfg.store, &v)) < 0) {
		buf_printf(err, r == -EEXIST ? "volume %s already exists" : "cannot record volume %s in the state database",
			   d->name);
		goto fail;
	}
	return 0;
fail:
	unlink(d->path);
	return r;
}

static int copy_progress(void *opaque, double percent, double rate, int64_t eta_s)
{
	struct clone *c = opaque;
	if (percent < 0)
		return job_cancelled(c->job);
	double whole = c->total ? ((double)c->copied + (double)c->disks[c->cur].need * percent / 100.0) * 100.0 /
					  (double)c->total
				: 100.0 * (c->cur + percent / 100.0) / c->ndisks;
	(void)eta_s;
	job_progress(c->job, whole, rate, -1);
	return job_cancelled(c->job);
}

/* A full copy of disk i (qemu-img convert via vol_import), in the source's pool. */
static int copy_disk(struct clone *c, int i, struct buf *err)
{
	struct clone_disk *d = &c->disks[i];
	struct vol_record v = { 0 };
	int r;

	c->cur = i;
	r = vol_import(svc_cfg.store, d->dir, d->src.path, d->name, "qcow2", copy_progress, c, err);
	if (r < 0)
		return r;
	c->created = i + 1;
	c->copied += d->need;
	if (d->src.pool && store_vol_get(svc_cfg.store, d->name, &v) == 0) {
		free(v.pool);
		v.pool = xstrdup(d->src.pool);
		if ((r = store_vol_update(svc_cfg.store, &v)) < 0)
			buf_printf(err, "cannot record volume %s in the state database", d->name);
	}
	vol_record_release(&v);
	return r;
}

/* A UEFI VM's clone starts with a copy of the source's NVRAM vars (its boot
 * entries: a clone of an installed guest boots like it); without them (never
 * started) it gets OVMF's pristine vars at its first start. */
static void clone_nvram(const char *src_uuid, const char *uuid)
{
	__do_free char *from = rt_nvram_path(src_uuid);
	__do_free char *to = rt_nvram_path(uuid);
	__do_buf struct buf data = BUF_INIT;
	/* the qemu user's file, in its directory: no symlink or hard link followed */
	int r = fs_read_file_regular(from, 64u << 20, &data);
	if (r == 0)
		r = rt_nvram_write(uuid, data.s, data.len);
	if (r < 0 && r != -ENOENT)
		log_warn("cannot copy the NVRAM vars %s to %s: %s; the clone starts with fresh ones", from, to,
			 strerror(-r));
}

/* Add the new VM (svc_vm_create checks names and volumes again under svc_defs_lock). */
static int clone_define(struct clone *c, json_t **vm, struct buf *err)
{
	json_t *out = NULL;
	int r = svc_vm_create(c->def, &out, err);
	if (r < 0)
		return r;
	const char *uuid = json_string_value(json_object_get(out, "uuid"));
	__do_free char *detail = xasprintf("%s clone %s", c->linked ? "linked" : "full", c->name);
	svc_vm_event(c->src_uuid, "clone", detail);
	if (uuid) {
		__do_free char *from = xasprintf("cloned from %s (%s)", c->src_name, c->linked ? "linked" : "full");
		svc_vm_event(uuid, "clone", from);
		clone_nvram(c->src_uuid, uuid);
	}
	log_info("vm %s: %s clone %s created", c->src_name, c->linked ? "linked" : "full", c->name);
	if (vm)
		*vm = out;
	else
		json_decref(out);
	return 0;
}

/* End of a clone, success or not: undo on failure, give the name back. */
static void clone_end(struct clone *c, int r)
{
	if (r < 0)
		clone_undo(c);
	svc_vm_name_release(c->name);
}

static int clone_run(struct job *j, void *arg, struct buf *err)
{
	struct clone *c = arg;
	int r = 0;

	c->job = j;
	if (rt_is_active(c->src_uuid)) {
		/* Started between the request and this job taking its lock. */
		buf_printf(err, "vm %s was started meanwhile; stop it to clone it", c->src_name);
		r = -EBUSY;
	}
	{
		/* The volumes it will make, for start-up recovery to remove if corrald dies meanwhile. */
		json_t *vols = json_array();
		for (int i = 0; i < c->ndisks; i++) {
			__do_free char *tmp = vol_tmp_path(c->disks[i].dir, c->disks[i].name, "import");
			json_array_append_new(vols, json_pack("{s:s,s:s,s:s}", "name", c->disks[i].name, "path",
							      c->disks[i].path, "tmp", tmp));
		}
		job_record_result(j, json_pack("{s:o}", "volumes", vols));
	}
	for (int i = 0; i < c->ndisks && r == 0; i++) {
		job_set_phase(j, "copying disk %d of %d", i + 1, c->ndisks);
		r = copy_disk(c, i, err);
	}
	if (r == 0 && job_cancelled(j))
		r = -ECANCELED;
	if (r == 0) {
		job_set_uncancellable(j, "the clone is being defined");
		r = clone_define(c, NULL, err);
	}
	if (r < 0 && r != -ECANCELED)
		log_warn("clone %s of vm %s failed: %s", c->name, c->src_name, err->s);
	clone_end(c, r);
	{
		json_t *vols = json_array();
		for (int i = 0; i < c->ndisks && r == 0; i++)
			json_array_append_new(vols, json_string(c->disks[i].name));
		job_set_result(j, r == 0 ? json_pack("{s:s,s:o}", "vm", c->name, "volumes", vols) : NULL);
		if (r < 0)
			json_decref(vols);
	}
	if (r == -ECANCELED) {
		buf_reset(err);
		buf_printf(err, "clone %s cancelled; no volume of it was kept", c->name);
	}
	return r;
}

int svc_vm_clone(const char *src_uuid, const char *name, bool linked, json_t **vm, json_t **job,
		 struct buf *err)
{
	struct vm_record rec = { 0 };
	struct job_hold *h = NULL;
	__do_free char *nm = NULL;
	struct clone *c;
	const char *bad;
	int r;

	if (!name || (bad = str_name_invalid(name))) {
		buf_printf(err, "invalid vm name: %s", name ? bad : "no name given");
		return -EINVAL;
	}
	if ((r = svc_poolview_name_free(name, err)) < 0)
		return r;
	/* Checked under a hold of the source; a full clone's job then locks it until done. */
	if ((r = job_hold_vm(src_uuid, NULL, "clone", &h, err)) < 0)
		return r;
	if (!svc_vm_name_claim(name)) {
		job_release(h);
		buf_printf(err, "a VM named '%s' is being made already (a clone or an import)", name);
		return -EEXIST;
	}
	c = xcalloc(1, sizeof(*c));
	snprintf(c->src_uuid, sizeof(c->src_uuid), "%s", src_uuid);
	c->name = xstrdup(name);
	c->linked = linked;
	if ((r = store_vm_get(svc_cfg.store, src_uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto fail;
	}
	if ((r = clone_prepare(c, &rec, err)) < 0)
		goto fail;
	vm_record_release(&rec);

	if (linked) {
		for (int i = 0; i < c->ndisks && r == 0; i++)
			if ((r = overlay_create(&c->disks[i], err)) == 0)
				c->created = i + 1;
		if (r == 0)
			r = clone_define(c, vm, err);
		clone_end(c, r);
		clone_free(c);
		job_release(h);
		return r;
	}
	job_release(h);
	struct job_spec spec = { .type = "clone", .target = name, .vm = src_uuid, .vm_name = c->src_name,
				 .run = clone_run, .arg = c, .free_arg = clone_free };
	nm = xstrdup(name);
	if ((r = job_start(&spec, job, err)) < 0)
		svc_vm_name_release(nm); /* c is freed by job_start */
	return r;
fail:
	vm_record_release(&rec);
	clone_end(c, r);
	clone_free(c);
	job_release(h);
	return r;
}
