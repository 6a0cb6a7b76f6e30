/*
 * volops.c - volumes and import jobs (see ops.h).
 */
#include <errno.h>
#include <libgen.h>
#include <string.h>

#include "ops.h"
#include "core/joblock.h"
#include "qemu/runtime.h"
#include "storage/volume.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static json_t *vol_json(const struct vol_record *v)
{
	json_t *j = vol_to_json(v);
	char *user = ops_vm_using_volume(v->name);
	json_object_set_new(j, "used_by", user ? json_string(user) : json_null());
	free(user);
	return j;
}

json_t *ops_vol_list(void)
{
	struct vol_record *list;
	size_t n;
	json_t *arr = json_array();
	if (store_vol_list(ops_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, vol_json(&list[i]));
		store_vol_list_free(list, n);
	}
	return json_pack("{s:o}", "volumes", arr);
}

static int get_vol(const char *name, struct vol_record *v, struct buf *err)
{
	const char *bad = str_name_invalid(name);
	if (bad) {
		buf_printf(err, "invalid volume name: %s", bad);
		return -EINVAL;
	}
	if (store_vol_get(ops_cfg.store, name, v) < 0) {
		buf_printf(err, "volume '%s' not found", name);
		return -ENOENT;
	}
	return 0;
}

int ops_vol_get(const char *name, json_t **out, struct buf *err)
{
	struct vol_record v = { 0 };
	int r = get_vol(name, &v, err);
	if (r == 0)
		*out = vol_json(&v);
	vol_record_release(&v);
	return r;
}

int ops_vol_create(const char *name, uint64_t size, const char *format, json_t **out, struct buf *err)
{
	int r = vol_create(ops_cfg.store, ops_cfg.storage_dir, name, size, format ? format : "qcow2", err);
	if (r == 0)
		r = ops_vol_get(name, out, err);
	return r;
}

/* uuid of the VM whose definition uses `volume`, or "" */
static void vm_of_volume(const char *volume, ops_uuid out)
{
	struct vm_record *list;
	size_t cnt;
	out[0] = '\0';
	if (store_vm_list(ops_cfg.store, &list, &cnt) < 0)
		return;
	for (size_t i = 0; i < cnt; i++)
		if (vmdef_disk_index(list[i].def, volume) >= 0)
			snprintf(out, sizeof(ops_uuid), "%s", list[i].def->uuid);
	store_vm_list_free(list, cnt);
}

int ops_vol_resize(const char *name, uint64_t size, json_t **out, struct buf *err)
{
	struct vol_record v = { 0 };
	struct vol_info info;
	ops_uuid vm;
	int r;

	if ((r = get_vol(name, &v, err)) < 0)
		return r;
	vm_of_volume(name, vm);
	if (vm[0] && (r = joblock_begin(vm, "disk-resize", err)) < 0)
		goto out;
	if ((r = vol_info(v.path, v.format, &info, err)) < 0)
		goto unlock;
	if (size < info.capacity) {
		char a[16], b[16];
		buf_printf(err, "volume '%s' is %s; shrinking to %s is not supported (it destroys data)", name,
			   str_fmt_size(info.capacity, a, sizeof(a)), str_fmt_size(size, b, sizeof(b)));
		r = -EINVAL;
		goto unlock;
	}
	if (size > VOL_MAX_SIZE) {
		buf_adds(err, "size is larger than 64 TiB");
		r = -EINVAL;
		goto unlock;
	}
	if (vm[0] && rt_is_active(vm))
		r = rt_disk_resize(vm, name, size, err);
	else
		r = vol_resize_offline(ops_cfg.store, name, size, err);
	if (r == 0 && vm[0]) {
		char a[16];
		__do_free char *d = xasprintf("disk %s resized to %s", name, str_fmt_size(size, a, sizeof(a)));
		store_event_add(ops_cfg.store, vm, "disk", d);
	}
unlock:
	if (vm[0])
		joblock_end(vm);
out:
	vol_record_release(&v);
	if (r == 0)
		r = ops_vol_get(name, out, err);
	return r;
}

int ops_vol_delete(const char *name, struct buf *err)
{
	struct vol_record v = { 0 };
	int r;
	if ((r = get_vol(name, &v, err)) < 0)
		return r;
	vol_record_release(&v);
	pthread_mutex_lock(&ops_defs_lock);
	__do_free char *user = ops_vm_using_volume(name);
	if (user) {
		buf_printf(err, "volume '%s' is used by vm '%s'; detach it first", name, user);
		r = -EBUSY;
	} else {
		r = vol_delete(ops_cfg.store, name, err);
	}
	pthread_mutex_unlock(&ops_defs_lock);
	return r;
}

/* ---- import jobs -------------------------------------------------------- */

struct import_job {
	int64_t id;
	char *src, *name, *format;
	int64_t last_ms;
};

static pthread_mutex_t importing_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *importing; /* names being imported right now */

static void import_progress(void *opaque, double percent, double rate, int64_t eta_s)
{
	struct import_job *j = opaque;
	store_job_progress(ops_cfg.store, j->id, percent, rate, eta_s);
}

static void *import_thread(void *arg)
{
	struct import_job *j = arg;
	struct buf err = BUF_INIT;
	int r = vol_import(ops_cfg.store, ops_cfg.storage_dir, j->src, j->name, j->format, import_progress, j, &err);
	store_job_finish(ops_cfg.store, j->id, r == 0 ? "succeeded" : "failed", r == 0 ? NULL : err.s);
	log_info("import of %s as volume %s: %s", j->src, j->name, r == 0 ? "done" : err.s);
	pthread_mutex_lock(&importing_lock);
	json_object_del(importing, j->name);
	pthread_mutex_unlock(&importing_lock);
	buf_release(&err);
	free(j->src);
	free(j->name);
	free(j->format);
	free(j);
	return NULL;
}

/* Default volume name: file name without directory and extension. */
static char *default_name(const char *path)
{
	__do_free char *copy = xstrdup(path);
	char *base = xstrdup(basename(copy));
	char *dot = strrchr(base, '.');
	if (dot && dot != base)
		*dot = '\0';
	return base;
}

int ops_vol_import(const char *path, const char *name, const char *format, json_t **job, struct buf *err)
{
	__do_free char *nm = name ? xstrdup(name) : default_name(path);
	uint64_t vsize;
	pthread_t t;
	int r;

	if (!format)
		format = "qcow2";
	pthread_mutex_lock(&importing_lock);
	if (!importing)
		importing = json_object();
	if (json_object_get(importing, nm)) {
		pthread_mutex_unlock(&importing_lock);
		buf_printf(err, "volume '%s' is being imported already", nm);
		return -EEXIST;
	}
	json_object_set_new(importing, nm, json_true());
	pthread_mutex_unlock(&importing_lock);

	if ((r = vol_import_check(ops_cfg.store, path, nm, format, &vsize, err)) < 0)
		goto fail;
	struct import_job *j = xcalloc(1, sizeof(*j));
	j->src = xstrdup(path);
	j->name = xstrdup(nm);
	j->format = xstrdup(format);
	j->id = store_job_create(ops_cfg.store, "import", nm, NULL);
	if (j->id < 0 || pthread_create(&t, NULL, import_thread, j) != 0) {
		if (j->id >= 0)
			store_job_finish(ops_cfg.store, j->id, "failed", "cannot start the import thread");
		free(j->src);
		free(j->name);
		free(j->format);
		free(j);
		buf_adds(err, "cannot start the import job");
		r = -EIO;
		goto fail;
	}
	pthread_detach(t);
	*job = store_job_get(ops_cfg.store, j->id);
	return 0;
fail:
	pthread_mutex_lock(&importing_lock);
	json_object_del(importing, nm);
	pthread_mutex_unlock(&importing_lock);
	return r;
}
