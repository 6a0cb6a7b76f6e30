/*
 * image.c - looking inside disks without running the guest: partition
 * tables, directory listings and file contents of a volume or of any image
 * file on the host (`corral disk ls|cat|get`), and the boot entries a
 * `--boot disk-kernel` VM can start (`corral vm boot-entries`); see image.h.
 *
 * Everything is read-only, through the image library (src/image).  A disk
 * must not change while it is read: a volume of a running VM is refused
 * unless an internal snapshot is read (a point-in-time view QEMU does not
 * write), and the job lock of the VM owning the volume is held for the whole
 * read, so nobody starts the VM, reverts or deletes the snapshot meanwhile.
 * A file given by path that is a volume's image counts as that volume.
 * File contents are streamed: a reader thread pushes them into a pipe that
 * the HTTP server drains, so no file is ever held in memory whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "service/fsview.h"
#include "service/internal.h"
#include "core/job.h"
#include "image/bootdisk.h"
#include "image/image.h"
#include "qemu/runtime.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

/* Directory listings stop here: a hostile image may claim millions of entries. */

/* One open image: the disk, maybe a filesystem on it, the VM lock held. */
struct img_session {
	svc_uuid vm;		/* VM held, "" for none */
	struct job_hold *hold;
	char *label;		/* "volume web1-root" / "file /srv/x.img", for messages */
	struct img_dev *dev;
	struct img_fs *fs;
};

static void session_close(struct img_session *s)
{
	img_fs_free(s->fs);
	img_dev_free(s->dev);
	job_release(s->hold);
	free(s->label);
	memset(s, 0, sizeof(*s));
}

/* The volume whose image is `path` (resolved), or NULL. */
static struct vol_record *volume_of_file(const char *path)
{
	struct vol_record *list = NULL, *found = NULL;
	size_t n = 0;
	__do_free char *real = realpath(path, NULL);

	if (!real || store_vol_list(svc_cfg.store, &list, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		__do_free char *vreal = realpath(list[i].path, NULL);
		if (vreal && strcmp(vreal, real) == 0) {
			found = xcalloc(1, sizeof(*found));
			*found = list[i];
			memset(&list[i], 0, sizeof(list[i]));
		}
	}
	store_vol_list_free(list, n);
	return found;
}

/* The VM whose definition uses volume `name`: uuid into vm ("" if none), name returned (caller frees). */
static char *owner_of(const char *volume, svc_uuid vm)
{
	struct vm_record *list;
	size_t n;
	char *name = NULL;

	vm[0] = '\0';
	if (store_vm_list(svc_cfg.store, &list, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !name; i++) {
		if (vmdef_disk_index(list[i].def, volume) >= 0) {
			snprintf(vm, sizeof(svc_uuid), "%s", list[i].def->uuid);
			name = xstrdup(list[i].def->name);
		}
	}
	store_vm_list_free(list, n);
	return name;
}

static int check_file_arg(const char *file, struct buf *err)
{
	struct stat st;

	if (file[0] != '/' || strlen(file) > PATH_MAX || str_has_control(file)) {
		buf_adds(err, "file must be an absolute path of an image file on corrald's host");
		return -EINVAL;
	}
	if (stat(file, &st) < 0) {
		buf_printf(err, "cannot open image file %s: %s", file, strerror(errno));
		return errno == ENOENT ? -ENOENT : -EINVAL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		buf_printf(err, "%s is not an image file (a regular file or block device)", file);
		return -EINVAL;
	}
	return 0;
}

/*
 * Open ref's disk (and with want_fs the filesystem of ref->partition),
 * taking the lock of the VM that owns it.  `job` names the lock holder.
 */
static int session_open(const struct svc_img_ref *ref, bool want_fs, const char *job, struct img_session *s,
			struct buf *err)
{
	struct vol_record *vol = NULL;
	struct vol_record rec = { 0 };
	__do_free char *owner = NULL;
	const char *path, *format = NULL, *bad;
	int r;

	memset(s, 0, sizeof(*s));
	if (ref->snapshot && (bad = str_name_invalid(ref->snapshot))) {
		buf_printf(err, "invalid snapshot name: %s", bad);
		return -EINVAL;
	}
	if (ref->partition < 0 || ref->partition > 256) {
		buf_adds(err, "partition must be a number between 1 and 256");
		return -EINVAL;
	}
	if (ref->volume) {
		if ((bad = str_name_invalid(ref->volume))) {
			buf_printf(err, "invalid volume name: %s", bad);
			return -EINVAL;
		}
		if (store_vol_get(svc_cfg.store, ref->volume, &rec) < 0) {
			buf_printf(err, "volume '%s' not found", ref->volume);
			return -ENOENT;
		}
		vol = &rec;
		s->label = xasprintf("volume %s", ref->volume);
	} else {
		if ((r = check_file_arg(ref->file, err)) < 0)
			return r;
		vol = volume_of_file(ref->file);
		s->label = vol ? xasprintf("volume %s (%s)", vol->name, ref->file) : xasprintf("file %s", ref->file);
	}
	path = vol ? vol->path : ref->file;
	format = vol ? vol->format : NULL;
	if (vol && (owner = owner_of(vol->name, s->vm))) {
		if ((r = job_hold_vm(s->vm, owner, job, &s->hold, err)) < 0)
			goto out;
		if (rt_is_active(s->vm) && !ref->snapshot) {
			buf_printf(err, "volume %s is in use by running VM %s; stop it or read a snapshot: --snapshot NAME",
				   vol->name, owner);
			r = -EBUSY;
			goto out;
		}
	}
	if ((r = img_dev_open_file(path, format, ref->snapshot, &s->dev, err)) < 0)
		goto out;
	if (want_fs && (r = img_fs_open_partition(s->dev, ref->partition, &s->fs, err)) < 0)
		goto out;
	r = 0;
out:
	if (vol == &rec) {
		vol_record_release(&rec);
	} else if (vol) {
		vol_record_release(vol);
		free(vol);
	}
	if (r < 0)
		session_close(s);
	return r;
}

/* API errors for the image library's: a corrupt or foreign image is the caller's input. */
static int api_err(int r)
{
	return r == -EIO || r == -EFBIG || r == -ELOOP || r == -ENOTDIR || r == -EISDIR || r == -ENAMETOOLONG ? -EINVAL
														      : r;
}

static json_t *partitions_json(struct img_dev *dev, struct buf *err)
{
	struct img_partlist pl = { 0 };
	const char *whole;

	if (img_partitions(dev, &pl, err) < 0)
		return NULL;
	json_t *parts = json_array();
	for (size_t i = 0; i < pl.n; i++) {
		const struct img_part *p = &pl.parts[i];
		json_array_append_new(parts, json_pack("{s:i,s:I,s:I,s:s,s:o,s:s,s:b}", "number", p->number, "start",
						       (json_int_t)p->start, "size", (json_int_t)p->size, "type", p->type,
						       "fstype", p->fstype[0] ? json_string(p->fstype) : json_null(),
						       "name", p->name, "bootable", p->bootable));
	}
	whole = pl.n ? NULL : img_fs_probe(dev);
	json_t *j = json_pack("{s:s,s:I,s:o,s:o}", "scheme", pl.scheme, "size", (json_int_t)img_dev_size(dev),
			      "fstype", whole ? json_string(whole) : json_null(), "partitions", parts);
	img_partlist_release(&pl);
	return j;
}

int svc_img_inspect(const struct svc_img_ref *ref, const char *path, json_t **out, struct buf *err)
{
	struct img_session s;
	int r;

	*out = NULL;
	if (!path && !ref->partition) {
		if ((r = session_open(ref, false, "disk-read", &s, err)) < 0)
			return api_err(r);
		*out = partitions_json(s.dev, err);
		r = *out ? 0 : -EINVAL;
		/* An empty volume is normal; a host file without either is no disk image. */
		if (*out && !ref->volume && !json_array_size(json_object_get(*out, "partitions")) &&
		    json_is_null(json_object_get(*out, "fstype"))) {
			buf_printf(err, "%s is not a disk image: no partition table and no filesystem found", s.label);
			json_decref(*out);
			*out = NULL;
			r = -EINVAL;
		}
		session_close(&s);
		return r;
	}
	if (!path)
		path = "/";
	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	if ((r = session_open(ref, true, "disk-read", &s, err)) < 0)
		return api_err(r);
	r = svc_fs_listing(s.fs, path, out, err);
	session_close(&s);
	return api_err(r);
}

/* ---- streaming file contents ---- */

static void session_release(void *owner)
{
	session_close(owner);
	free(owner);
}

int svc_img_read(const struct svc_img_ref *ref, const char *path, int *fd, uint64_t *size, struct buf *err)
{
	struct img_session *s;
	int r;

	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	s = xcalloc(1, sizeof(*s));
	if ((r = session_open(ref, true, "disk-read", s, err)) < 0) {
		free(s);
		return api_err(r);
	}
	if ((r = svc_fs_stream(s->fs, path, s->label, session_release, s, fd, size, err)) < 0)
		session_release(s);
	return api_err(r);
}

/* ---- boot entries ---- */

int svc_vm_boot_entries(const char *uuid, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct vol_record vol = { 0 };
	struct img_boot_info bi;
	struct buf serr = BUF_INIT;
	int r, selected = -1;

	*out = NULL;
	memset(&bi, 0, sizeof(bi));
	if (store_vm_get(svc_cfg.store, uuid, &rec) < 0) {
		buf_adds(err, "vm not found");
		return -ENOENT;
	}
	if (rec.def->ndisks == 0) {
		buf_printf(err, "vm %s has no disk to read boot entries from", rec.def->name);
		r = -EINVAL;
		goto out;
	}
	if (store_vol_get(svc_cfg.store, rec.def->disks[0].volume, &vol) < 0) {
		buf_printf(err, "disk volume '%s' of vm %s does not exist", rec.def->disks[0].volume, rec.def->name);
		r = -ENOENT;
		goto out;
	}
	/* A running guest's disk is read as it is (the boot files rarely move
	 * while it runs); a stopped VM's is read under its job lock. */
	bool running = rt_is_active(uuid);
	struct job_hold *h = NULL;
	if (!running && (r = job_hold_vm(uuid, rec.def->name, "boot-entries", &h, err)) < 0)
		goto out;
	struct buf e = BUF_INIT;
	r = img_boot_inspect(vol.path, vol.format, &bi, &e);
	job_release(h);
	if (r < 0) {
		buf_printf(err, "cannot read the boot entries of vm %s from volume %s: %s", rec.def->name, vol.name, e.s);
		buf_release(&e);
		r = api_err(r);
		goto out;
	}
	buf_release(&e);
	if (rec.def->boot_mode == BOOT_DISK_KERNEL || bi.cfg.default_index >= 0)
		selected = bootcfg_select(&bi.cfg, rec.def->boot_mode == BOOT_DISK_KERNEL ? rec.def->boot_entry : NULL,
					  &serr);
	json_t *entries = json_array();
	for (size_t i = 0; i < bi.cfg.n; i++) {
		const struct boot_entry *be = &bi.cfg.entries[i];
		json_t *initrds = json_array();
		for (size_t k = 0; k < be->n_initrds; k++)
			json_array_append_new(initrds, json_string(be->initrds[k]));
		json_array_append_new(
			entries, json_pack("{s:i,s:s,s:o,s:o,s:o,s:s,s:o,s:b,s:b}", "index", (int)i, "title", be->title,
					   "id", be->id ? json_string(be->id) : json_null(), "kernel",
					   be->kernel ? json_string(be->kernel) : json_null(), "initrds", initrds,
					   "cmdline", be->cmdline ? be->cmdline : "", "origin",
					   be->origin ? json_string(be->origin) : json_null(), "default",
					   (int)i == bi.cfg.default_index, "selected", (int)i == selected));
	}
	*out = json_pack("{s:s,s:s,s:s,s:s,s:i,s:s,s:o,s:o,s:o,s:o}", "vm", rec.def->name, "volume", vol.name,
			 "format", bi.cfg.format ? bi.cfg.format : "", "config", bi.cfg.path ? bi.cfg.path : "",
			 "partition", bi.partition, "fstype", bi.fstype, "boot_entry",
			 rec.def->boot_entry ? json_string(rec.def->boot_entry) : json_null(), "default",
			 bi.cfg.default_index >= 0 ? json_integer(bi.cfg.default_index) : json_null(), "selected",
			 selected >= 0 ? json_integer(selected) : json_null(), "entries", entries);
	if (selected < 0 && serr.len)
		json_object_set_new(*out, "selection_error", json_string(serr.s));
	r = 0;
out:
	buf_release(&serr);
	img_boot_info_release(&bi);
	vol_record_release(&vol);
	vm_record_release(&rec);
	return r;
}
