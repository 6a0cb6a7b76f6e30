/*
 * image.c - looking inside disks without running the guest: partition
 * tables, directory listings and file contents of a volume or of any image
 * file on the host (`corral disk files|cat|get`), and the boot entries a
 * `--boot disk-kernel` VM can start (`corral vm boot-entries`); see image.h.
 *
 * Everything is read-only.  corrald opens the image and its backing chain
 * (a volume's chain as the store records it, a host file's as qemu-img
 * reports it) and the image helper (imgclient.h) reads them: no byte of an
 * image is parsed in corrald.  A disk
 * must not change while it is read: a volume of a running VM is refused
 * unless an internal snapshot is read (a point-in-time view QEMU does not
 * write), and the job lock of the VM owning the volume is held for the whole
 * read, so nobody starts the VM, reverts or deletes the snapshot meanwhile.
 * A file given by path that is a volume's image counts as that volume.
 * File contents are streamed: a reader thread pushes them into a pipe that
 * the HTTP server drains, so no file is ever held in memory whole.
 * `--boot disk-kernel` gets its kernel and initrd through here too
 * (svc_boot_extract, the runtime's rt_config.boot_extract).
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
#include "service/hostpath.h"
#include "service/imgclient.h"
#include "service/internal.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "storage/qemuimg.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

/* One open image: its files, the VM lock held. */
struct img_session {
	svc_uuid vm;		/* VM held, "" for none */
	struct job_hold *hold;
	struct imgc_source src;	/* its label: "volume web1-root" / "file /srv/x.img", for messages */
};

static void session_close(struct img_session *s)
{
	imgc_source_release(&s->src);
	job_release(s->hold);
	memset(s, 0, sizeof(*s));
}

/* Volume vol's image and the volumes it is a linked clone of, as the store records them. */
static int source_volume(const struct vol_record *vol, const char *label, const char *snapshot,
			 struct imgc_source *src, struct buf *err)
{
	struct vol_record chain[IMGD_MAX_CHAIN] = { 0 };
	const char *paths[IMGD_MAX_CHAIN] = { vol->path };
	const char *backing = vol->backing;
	size_t n = 1;
	int r = 0;

	for (; backing && r == 0; n++) {
		if (n == IMGD_MAX_CHAIN) {
			buf_printf(err, "cannot read %s: its chain of backing volumes is deeper than %d", label,
				   IMGD_MAX_CHAIN - 1);
			r = -ELOOP;
		} else if (store_vol_get(svc_cfg.store, backing, &chain[n]) < 0) {
			buf_printf(err, "cannot read %s: its backing volume '%s' does not exist", label, backing);
			r = -ENOENT;
		} else {
			paths[n] = chain[n].path;
			backing = chain[n].backing;
		}
	}
	if (r == 0)
		r = imgc_source_files(src, label, paths, n, vol->format, snapshot, err);
	for (size_t i = 1; i < n && i < IMGD_MAX_CHAIN; i++)
		vol_record_release(&chain[i]);
	return r;
}

/*
 * A host image file that is no volume: its format from its first bytes (the
 * qcow2 magic, else raw) and, when its header's backing-file offset (bytes
 * 8..15) is set, its backing chain as qemu-img resolves it.  Those fixed
 * fields are all corrald looks at itself; the header proper is the helper's
 * to parse.  The file and every backing file must be where API callers may
 * name host files (hostpath.h); the helper reads the descriptors opened
 * by that check.
 */
static int source_file(const char *path, const char *label, const char *snapshot, struct imgc_source *src,
		       struct buf *err)
{
	static const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };
	unsigned char hdr[16] = { 0 };
	const char *paths[IMGD_MAX_CHAIN] = { path };
	int fds[IMGD_MAX_CHAIN];
	char **backing = NULL;
	size_t nb = 0, nfd = 0;
	struct buf why = BUF_INIT;
	int r = 0;

	int fd = hostpath_open("image file", path, NULL, err);
	if (fd < 0)
		return fd;
	fds[nfd++] = fd;
	bool qcow2 = pread(fd, hdr, sizeof(hdr), 0) == (ssize_t)sizeof(hdr) &&
		     memcmp(hdr, qcow2_magic, sizeof(qcow2_magic)) == 0;
	bool has_backing = qcow2 && memcmp(hdr + 8, "\0\0\0\0\0\0\0\0", 8) != 0;
	if (has_backing && (r = qemu_img_backing_chain(path, "qcow2", &backing, &nb, &why)) < 0)
		buf_printf(err, "cannot read the backing chain of %s: %s", label, why.s);
	if (r == 0 && nb >= IMGD_MAX_CHAIN) {
		buf_printf(err, "cannot read %s: its backing chain is deeper than %d files", label, IMGD_MAX_CHAIN - 1);
		r = -ELOOP;
	}
	for (size_t i = 0; r == 0 && i < nb; i++) {
		paths[i + 1] = backing[i];
		if ((fd = hostpath_open("backing file", backing[i], NULL, err)) < 0)
			r = fd;
		else
			fds[nfd++] = fd;
	}
	if (r == 0) {
		imgc_source_fds(src, label, fds, paths, nfd, qcow2 ? "qcow2" : "raw", snapshot);
		nfd = 0;
	}
	for (size_t i = 0; i < nfd; i++)
		close(fds[i]);
	for (size_t i = 0; i < nb; i++)
		free(backing[i]);
	free(backing);
	buf_release(&why);
	return r;
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

/* The file argument's form; where it may be is source_file's (hostpath) to say. */
static int check_file_arg(const char *file, struct buf *err)
{
	if (file[0] != '/' || strlen(file) > PATH_MAX || str_has_control(file)) {
		buf_adds(err, "file must be an absolute path of an image file on corrald's host");
		return -EINVAL;
	}
	return 0;
}

/*
 * Open ref's disk (its files, for the image helper), taking the lock of the
 * VM that owns it.  `job` names the lock holder.
 */
static int session_open(const struct svc_img_ref *ref, const char *job, struct img_session *s, struct buf *err)
{
	struct vol_record *vol = NULL;
	struct vol_record rec = { 0 };
	__do_free char *owner = NULL;
	__do_free char *label = NULL;
	const char *bad;
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
		label = xasprintf("volume %s", ref->volume);
	} else {
		if ((r = check_file_arg(ref->file, err)) < 0)
			return r;
		vol = volume_of_file(ref->file);
		label = vol ? xasprintf("volume %s (%s)", vol->name, ref->file) : xasprintf("file %s", ref->file);
	}
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
	r = vol ? source_volume(vol, label, ref->snapshot, &s->src, err)
		: source_file(ref->file, label, ref->snapshot, &s->src, err);
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

/* The API's partition table from the helper's answer (checked), or NULL. */
static json_t *partitions_json(const json_t *res)
{
	struct buf ignore __do_buf = BUF_INIT;
	const char *scheme = json_string_value(json_object_get(res, "scheme"));
	const json_t *fstype = json_object_get(res, "fstype"), *list = json_object_get(res, "partitions"), *p;
	int64_t size, number, start, psize;
	size_t i;

	if (!scheme || (strcmp(scheme, "mbr") && strcmp(scheme, "gpt") && strcmp(scheme, "none")) ||
	    json_get_int(res, "size", 0, INT64_MAX, &size, &ignore) != 1 || !(json_is_null(fstype) || json_is_string(fstype)) ||
	    !json_is_array(list) || json_array_size(list) > 1024)
		return NULL;
	json_t *parts = json_array();
	json_array_foreach(list, i, p) {
		const char *type = json_string_value(json_object_get(p, "type"));
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *pfs = json_string_value(json_object_get(p, "fstype"));
		const json_t *boot = json_object_get(p, "bootable");
		if (json_get_int(p, "number", 1, 1024, &number, &ignore) != 1 ||
		    json_get_int(p, "start", 0, size, &start, &ignore) != 1 ||
		    json_get_int(p, "size", 0, size - start, &psize, &ignore) != 1 || !type || strlen(type) > 64 ||
		    !name || strlen(name) > 256 || !pfs || strlen(pfs) > 32 || !json_is_boolean(boot)) {
			json_decref(parts);
			return NULL;
		}
		json_array_append_new(parts, json_pack("{s:I,s:I,s:I,s:s,s:o,s:s,s:O}", "number", (json_int_t)number,
						       "start", (json_int_t)start, "size", (json_int_t)psize, "type",
						       type, "fstype", *pfs ? json_string(pfs) : json_null(), "name",
						       name, "bootable", boot));
	}
	/* LVM2 logical volumes (an older helper sends none) */
	const json_t *vlist = json_object_get(res, "volumes");
	json_t *vols = json_array();
	if (vlist && (!json_is_array(vlist) || json_array_size(vlist) > 4096)) {
		json_decref(parts);
		json_decref(vols);
		return NULL;
	}
	json_array_foreach(vlist, i, p) {
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *vfs = json_string_value(json_object_get(p, "fstype"));
		const char *verr = json_string_value(json_object_get(p, "error"));
		if (!name || svc_fs_lv_check(name, &ignore) < 0 || !vfs || strlen(vfs) > 32 || !verr ||
		    strlen(verr) > 512 || json_get_int(p, "size", 0, INT64_MAX, &psize, &ignore) != 1) {
			json_decref(parts);
			json_decref(vols);
			return NULL;
		}
		json_array_append_new(vols, json_pack("{s:s,s:I,s:o,s:o}", "name", name, "size", (json_int_t)psize,
						      "fstype", *vfs ? json_string(vfs) : json_null(), "error",
						      *verr ? json_string(verr) : json_null()));
	}
	return json_pack("{s:s,s:I,s:O,s:o,s:o}", "scheme", scheme, "size", (json_int_t)size, "fstype", fstype,
			 "partitions", parts, "volumes", vols);
}

int svc_img_inspect(const struct svc_img_ref *ref, const char *path, json_t **out, struct buf *err)
{
	struct img_session s;
	int r;

	*out = NULL;
	if (!path && !ref->partition && !ref->lv) {
		__do_json json_t *req = json_pack("{s:s}", "op", "partitions"), *res = NULL;
		if ((r = session_open(ref, "disk-read", &s, err)) < 0)
			return api_err(r);
		if ((r = imgc_call(&s.src, req, NULL, 0, &res, err)) == 0 && !(*out = partitions_json(res))) {
			buf_printf(err, "cannot read the partitions of %s: the image helper sent a malformed table",
				   s.src.label);
			r = -EIO;
		}
		/* An empty volume is normal; a host file without either is no disk image. */
		if (*out && !ref->volume && !json_array_size(json_object_get(*out, "partitions")) &&
		    json_is_null(json_object_get(*out, "fstype"))) {
			buf_printf(err, "%s is not a disk image: no partition table and no filesystem found", s.src.label);
			json_decref(*out);
			*out = NULL;
			r = -EINVAL;
		}
		session_close(&s);
		return api_err(r);
	}
	if (!path)
		path = "/";
	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	if ((r = session_open(ref, "disk-read", &s, err)) < 0)
		return api_err(r);
	r = svc_fs_listing(&s.src, ref->partition, ref->lv, path, out, err);
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
	if ((r = session_open(ref, "disk-read", s, err)) < 0) {
		free(s);
		return api_err(r);
	}
	if ((r = svc_fs_stream(&s->src, ref->partition, ref->lv, path, session_release, s, fd, size, err)) < 0)
		session_release(s);
	return api_err(r);
}

/* ---- boot entries ---- */

/* An optional string member (at most max bytes) or NULL; *ok false when it is something else. */
static const char *opt_str(const json_t *o, const char *key, size_t max, bool *ok)
{
	const json_t *v = json_object_get(o, key);
	if (json_is_string(v) && strlen(json_string_value(v)) <= max)
		return json_string_value(v);
	if (v && !json_is_null(v))
		*ok = false;
	return NULL;
}

/* The API's entries from the helper's (checked), or NULL. */
static json_t *entries_json(const json_t *list, int default_index, int selected)
{
	const json_t *e, *initrds, *ird;
	size_t i, k;
	bool ok = json_is_array(list) && json_array_size(list) <= 4096;
	json_t *out = json_array();

	json_array_foreach(list, i, e) {
		if (!ok)
			break;
		const char *title = opt_str(e, "title", 4096, &ok), *id = opt_str(e, "id", 4096, &ok);
		const char *kernel = opt_str(e, "kernel", 4096, &ok), *cmdline = opt_str(e, "cmdline", 65536, &ok);
		const char *origin = opt_str(e, "origin", 4096, &ok), *problem = opt_str(e, "problem", 8192, &ok);
		initrds = json_object_get(e, "initrds");
		if (!title || !cmdline || !json_is_array(initrds) || json_array_size(initrds) > 64) {
			ok = false;
			break;
		}
		json_t *ilist = json_array();
		json_array_foreach(initrds, k, ird) {
			if (!json_is_string(ird) || strlen(json_string_value(ird)) > 4096)
				ok = false;
			else
				json_array_append(ilist, (json_t *)ird);
		}
		json_array_append_new(out, json_pack("{s:i,s:s,s:s?,s:s?,s:o,s:s,s:s?,s:b,s:b}", "index", (int)i, "title",
						     title, "id", id, "kernel", kernel, "initrds", ilist, "cmdline",
						     cmdline, "origin", origin, "default", (int)i == default_index,
						     "selected", (int)i == selected));
		/* the entry's kernel or an initrd is not on the disk: it cannot boot */
		json_object_set_new(json_array_get(out, json_array_size(out) - 1), "problem",
				    problem ? json_string(problem) : json_null());
	}
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

int svc_vm_boot_entries(const char *uuid, json_t **out, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct vol_record vol = { 0 };
	struct imgc_source src = IMGC_SOURCE_INIT;
	struct buf e = BUF_INIT, ignore = BUF_INIT;
	__do_json json_t *req = NULL, *res = NULL;
	__do_free char *label = NULL;
	int64_t def = -1, selected = -1, part = 0;
	int r;

	*out = NULL;
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
	bool dk = rec.def->boot_mode == BOOT_DISK_KERNEL;
	struct job_hold *h = NULL;
	if (!running && (r = job_hold_vm(uuid, rec.def->name, "boot-entries", &h, err)) < 0)
		goto out;
	label = xasprintf("volume %s", vol.name);
	req = json_pack("{s:s,s:s?}", "op", "boot-entries", "want", dk ? rec.def->boot_entry : NULL);
	if ((r = source_volume(&vol, label, NULL, &src, &e)) == 0)
		r = imgc_call(&src, req, NULL, 0, &res, &e);
	job_release(h);
	if (r < 0) {
		buf_printf(err, "cannot read the boot entries of vm %s from volume %s: %s", rec.def->name, vol.name, e.s);
		r = api_err(r);
		goto out;
	}
	bool ok = true;
	const char *format = opt_str(res, "format", 32, &ok), *config = opt_str(res, "config", 4096, &ok);
	const char *fstype = opt_str(res, "fstype", 32, &ok), *serr = opt_str(res, "selection_error", 65536, &ok);
	size_t n = json_array_size(json_object_get(res, "entries"));
	ok = ok && format && config && fstype && json_get_int(res, "partition", 0, 1024, &part, &ignore) == 1 &&
	     json_get_int(res, "default", -1, (int64_t)n - 1, &def, &ignore) == 1 &&
	     json_get_int(res, "selected", -1, (int64_t)n - 1, &selected, &ignore) == 1;
	/* The selection is shown for a disk-kernel VM, or when the configuration has a default. */
	if (!dk && def < 0) {
		selected = -1;
		serr = NULL;
	}
	json_t *entries = ok ? entries_json(json_object_get(res, "entries"), (int)def, (int)selected) : NULL;
	if (!entries) {
		buf_printf(err, "cannot read the boot entries of vm %s from volume %s: the image helper sent malformed "
				"entries", rec.def->name, vol.name);
		r = -EIO;
		goto out;
	}
	*out = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:o,s:o,s:o,s:o}", "vm", rec.def->name, "volume", vol.name,
			 "format", format, "config", config, "partition", (json_int_t)part, "fstype", fstype,
			 "boot_entry", rec.def->boot_entry ? json_string(rec.def->boot_entry) : json_null(), "default",
			 def >= 0 ? json_integer(def) : json_null(), "selected",
			 selected >= 0 ? json_integer(selected) : json_null(), "entries", entries);
	if (selected < 0 && serr)
		json_object_set_new(*out, "selection_error", json_string(serr));
	r = 0;
out:
	imgc_source_release(&src);
	buf_release(&e);
	buf_release(&ignore);
	vol_record_release(&vol);
	vm_record_release(&rec);
	return r;
}

/* ---- the kernel of a disk-kernel VM ---- */

/* A new temp file next to dest, open for writing; its name into *tmp. */
static int temp_next_to(const char *dest, char **tmp, struct buf *err)
{
	*tmp = xasprintf("%s.XXXXXX", dest);
	int fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		buf_printf(err, "cannot create a file next to %s: %s", dest, strerror(-r));
		free(*tmp);
		*tmp = NULL;
		return r;
	}
	return fd;
}

int svc_boot_extract(const struct vol_record *vol, const char *want, const char *dir, struct rt_boot_choice *out,
		     struct buf *err)
{
	struct imgc_source src = IMGC_SOURCE_INIT;
	struct buf ignore = BUF_INIT;
	__do_json json_t *req = NULL, *res = NULL;
	__do_free char *label = xasprintf("volume %s", vol->name);
	__do_free char *kernel = xasprintf("%s/vmlinuz", dir), *initrd = xasprintf("%s/initrd", dir);
	__do_free char *ktmp = NULL, *itmp = NULL;
	__do_close int kfd = -EBADF, ifd = -EBADF;
	int64_t index = 0, part = 0;
	bool has_initrd = false;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if ((r = kfd = temp_next_to(kernel, &ktmp, err)) < 0 || (r = ifd = temp_next_to(initrd, &itmp, err)) < 0)
		goto out;
	req = json_pack("{s:s,s:s?}", "op", "boot-extract", "want", want && *want ? want : NULL);
	if ((r = source_volume(vol, label, NULL, &src, err)) < 0 ||
	    (r = imgc_call(&src, req, (int[]){ kfd, ifd }, 2, &res, err)) < 0)
		goto out;
	bool ok = true;
	const char *title = opt_str(res, "title", 4096, &ok), *cmdline = opt_str(res, "cmdline", 65536, &ok);
	const char *ekernel = opt_str(res, "entry_kernel", 4096, &ok), *config = opt_str(res, "config", 4096, &ok);
	const json_t *jinitrd = json_object_get(res, "initrd");
	has_initrd = json_is_true(jinitrd);
	if (!ok || !title || !cmdline || !ekernel || !config || !json_is_boolean(jinitrd) ||
	    json_get_int(res, "index", 0, INT32_MAX, &index, &ignore) != 1 ||
	    json_get_int(res, "partition", 0, 1024, &part, &ignore) != 1) {
		buf_printf(err, "cannot boot from %s: the image helper sent a malformed answer", label);
		r = -EIO;
		goto out;
	}
	/* The files are complete: into place, a stale initrd out of the way. */
	if (close(move_fd(kfd)) < 0 || close(move_fd(ifd)) < 0 || rename(ktmp, kernel) < 0) {
		r = -errno;
		buf_printf(err, "cannot write %s: %s", kernel, strerror(-r));
		goto out;
	}
	free(move_ptr(ktmp));
	if (has_initrd ? rename(itmp, initrd) < 0 : unlink(initrd) < 0 && errno != ENOENT) {
		r = -errno;
		buf_printf(err, "cannot %s %s: %s", has_initrd ? "write" : "remove the old", initrd, strerror(-r));
		goto out;
	}
	if (has_initrd)
		free(move_ptr(itmp));
	out->index = (int)index;
	out->title = xstrdup(title);
	out->cmdline = xstrdup(cmdline);
	out->entry_kernel = xstrdup(ekernel);
	out->config = xstrdup(config);
	out->partition = (int)part;
	out->initrd = has_initrd;
	r = 0;
out:
	if (ktmp)
		unlink(ktmp);
	if (itmp)
		unlink(itmp);
	imgc_source_release(&src);
	buf_release(&ignore);
	return r;
}
