/*
 * volume.c - disk volumes: image files in the storage directory, made and
 * inspected with qemu-img.
 *
 * Every image operation runs qemu-img through qemuimg.h (argv, no shell)
 * and turns its failure into one sentence carrying qemu-img's own message.
 * The store row and the file are kept in step: a file is created first and
 * removed again if the row cannot be added, so a failed call leaves neither.
 * Creation claims the final file name with O_EXCL before qemu-img writes to
 * it; imports convert into a hidden temp file, <dir>/.<name>.import.tmp, held
 * under flock() so that two imports of one name cannot share it and a temp
 * file left by a crashed daemon is simply reused, then fsync it and rename it
 * into place without replacing anything.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "volume.h"
#include "dirvol.h"
#include "loopmount.h"
#include "util/fsutil.h"
#include "qemuimg.h"
#include "util/cmd.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/runas.h"
#include "util/common.h"

/* Below this much free space nothing is created, not even a thin image. */
#define VOL_MIN_FREE (1ULL << 20)
/* Progress callbacks at most every 200 ms (5 per second). */
#define PROGRESS_INTERVAL_MS 200

/* Formats qemu-img may detect in a source image that we agree to import. */
static const char *const import_formats[] = { "raw", "qcow2", "vmdk", "vdi", "vpc", "vhdx" };

static void cleanup_vol_record(struct vol_record *v) { vol_record_release(v); }
#define __do_vol_record __attribute__((cleanup(cleanup_vol_record)))

static bool format_valid(const char *format)
{
	return format && (strcmp(format, "qcow2") == 0 || strcmp(format, "raw") == 0);
}

static int check_format(const char *format, struct buf *err)
{
	if (format_valid(format))
		return 0;
	if (!format || str_has_control(format))
		buf_adds(err, "volume format must be qcow2 or raw");
	else
		buf_printf(err, "unknown volume format '%s' (use qcow2 or raw)", format);
	return -EINVAL;
}

static int check_name(const char *name, struct buf *err)
{
	const char *why = str_name_invalid(name);
	if (!why)
		return 0;
	/* The name is not echoed: it may hold control characters. */
	buf_printf(err, "invalid volume name: %s", why);
	return -EINVAL;
}

/* A size for messages: "2G" when that is exact, else the byte count ("64.0T" would hide what is wrong). */
static const char *fmt_size_exact(uint64_t bytes, char *buf, size_t len)
{
	uint64_t back;
	str_fmt_size(bytes, buf, len);
	if (str_parse_size(buf, 1, &back) < 0 || back != bytes)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	return buf;
}

static int check_size(uint64_t size, struct buf *err)
{
	char a[32], b[32];
	if (size < VOL_MIN_SIZE) {
		buf_printf(err, "volume size %s is below the minimum of %s", fmt_size_exact(size, a, sizeof(a)),
			   fmt_size_exact(VOL_MIN_SIZE, b, sizeof(b)));
		return -EINVAL;
	}
	if (size > VOL_MAX_SIZE) {
		buf_printf(err, "volume size %s is above the maximum of %s", fmt_size_exact(size, a, sizeof(a)),
			   fmt_size_exact(VOL_MAX_SIZE, b, sizeof(b)));
		return -EINVAL;
	}
	if (size % 512) {
		buf_printf(err, "volume size %" PRIu64 " bytes is not a multiple of 512", size);
		return -EINVAL;
	}
	return 0;
}

static int check_dir(const char *dir, struct buf *err)
{
	if (!dir || dir[0] != '/' || str_has_control(dir)) {
		buf_adds(err, "the storage directory must be an absolute path");
		return -EINVAL;
	}
	return 0;
}

/* 0 if no volume called `name` is registered, else -EEXIST (or the store's error) + err. */
static int check_name_free(struct store *st, const char *name, struct buf *err)
{
	__do_vol_record struct vol_record rec = { 0 };
	int r = store_vol_get(st, name, &rec);
	if (r == -ENOENT)
		return 0;
	if (r == 0) {
		buf_printf(err, "volume %s already exists", name);
		return -EEXIST;
	}
	buf_printf(err, "cannot look up volume %s in the state database", name);
	return r;
}

static int lookup(struct store *st, const char *name, struct vol_record *rec, struct buf *err)
{
	int r = check_name(name, err);
	if (r < 0)
		return r;
	r = store_vol_get(st, name, rec);
	if (r == -ENOENT)
		buf_printf(err, "volume %s does not exist", name);
	else if (r < 0)
		buf_printf(err, "cannot look up volume %s in the state database", name);
	return r;
}

/* Name of the pool whose directory is `dir` (caller frees); "default" when none is. */
static char *pool_of_dir(struct store *st, const char *dir)
{
	__do_free char *real = realpath(dir, NULL);
	struct pool_record *list;
	char *name = NULL;
	size_t n;

	if (store_pool_list(st, &list, &n) < 0)
		return xstrdup("default");
	for (size_t i = 0; i < n && !name; i++)
		if (strcmp(list[i].path, dir) == 0 || (real && strcmp(list[i].path, real) == 0))
			name = xstrdup(list[i].name);
	store_pool_list_free(list, n);
	return name ? name : xstrdup("default");
}

/* Add the volume's row to the store, in the pool of its directory; on failure say why in `err`. */
static int record_volume(struct store *st, const char *name, const char *format, const char *path,
			 struct buf *err)
{
	__do_free char *dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	__do_free char *pool = pool_of_dir(st, dir[0] ? dir : "/");
	struct vol_record v = { .name = (char *)name, .format = (char *)format, .path = (char *)path, .pool = pool };
	int r = store_vol_add(st, &v);
	if (r == -EEXIST)
		buf_printf(err, "volume %s already exists", name);
	else if (r < 0)
		buf_printf(err, "cannot record volume %s in the state database", name);
	return r;
}

static char *dir_join(const char *dir, const char *file)
{
	size_t n = strlen(dir);
	return xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", file);
}

static char *vol_path(const char *dir, const char *name, const char *format)
{
	__do_free char *file = xasprintf("%s.%s", name, format);
	return dir_join(dir, file);
}

char *vol_file_path(const char *dir, const char *name, const char *format)
{
	return vol_path(dir, name, format);
}

char *vol_tmp_path(const char *dir, const char *name, const char *verb)
{
	__do_free char *file = xasprintf(".%s.%s.tmp", name, verb);
	return dir_join(dir, file);
}

/* Free bytes for an unprivileged writer in `dir`. */
static int dir_free(const char *dir, uint64_t *out, struct buf *err)
{
	struct statvfs vfs;
	if (statvfs(dir, &vfs) < 0) {
		int e = errno;
		buf_printf(err, "cannot use storage directory %s: %s", dir, strerror(e));
		return -e;
	}
	*out = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return 0;
}

/* stat() `path`, named `what` ("source image") in the error. */
static int stat_file(const char *what, const char *path, struct stat *sb, struct buf *err)
{
	int r;

	if (stat(path, sb) == 0)
		return 0;
	r = -errno;
	if (r == -ENOENT)
		buf_printf(err, "%s %s does not exist", what, path);
	else
		buf_printf(err, "cannot access %s %s: %s", what, path, strerror(-r));
	return r;
}

static int fsync_dir(const char *dir)
{
	__do_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return fsync(fd) < 0 ? -errno : 0;
}

static int json_get_u64(const json_t *obj, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* `qemu-img info` as JSON; format NULL lets qemu-img probe.  Errors: -EIO/-ENOSPC + why. */
/* qemu-img info of path, or (fd >= 0) of descriptor fd as QEMU_IMG_SRC_PATH. */
static int img_info_json(const char *path, int fd, const char *format, json_t **out, struct buf *why)
{
	struct cmd c = CMD_INIT;
	struct buf res __do_buf = BUF_INIT;
	json_error_t je;
	int r;

	qemu_img_cmd(&c, "info", "--output=json", "--force-share", NULL);
	if (format) {
		cmd_add(&c, "-f");
		cmd_add(&c, format);
	}
	cmd_add(&c, fd >= 0 ? QEMU_IMG_SRC_PATH : path);
	if (fd >= 0)
		cmd_keep_fd(&c, fd, QEMU_IMG_SRC_FD);
	r = qemu_img_run(&c, &res, why);
	if (r < 0)
		return r;
	*out = json_loadb(res.s, res.len, 0, &je);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		buf_printf(why, "unreadable output from qemu-img info: %s", je.text);
		return -EIO;
	}
	return 0;
}

static int check_room(const char *dir, const char *name, uint64_t need, struct buf *err)
{
	char a[16], b[16];
	uint64_t avail = 0;
	int r = dir_free(dir, &avail, err);
	if (r < 0)
		return r;
	if (avail < need || avail < VOL_MIN_FREE) {
		buf_printf(err, "not enough space in %s for volume %s: %s needed, %s free", dir, name,
			   str_fmt_size(need > VOL_MIN_FREE ? need : VOL_MIN_FREE, a, sizeof(a)),
			   str_fmt_size(avail, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}

/*
 * Create the empty image `path` (format, virtual size) for volume `name`:
 * the file name is claimed with O_EXCL (nothing is ever overwritten), then
 * qemu-img writes into it, keeping its mode 0600; synced.  Removed on failure.
 */
static int image_create(const char *dir, const char *path, const char *name, const char *format, uint64_t size,
			struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	__do_close int fd = -EBADF;
	int r;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		if (r == -EEXIST)
			buf_printf(err, "cannot create volume %s: file %s already exists", name, path);
		else
			buf_printf(err, "cannot create volume %s: cannot create %s: %s", name, path, strerror(-r));
		return r;
	}
	qemu_img_cmd(&c, "create", "-q", "-f", format, path, NULL);
	cmd_addf(&c, "%" PRIu64, size);
	r = qemu_img_run(&c, NULL, &why);
	if (r < 0) {
		buf_printf(err, "cannot create volume %s: %s", name, why.s);
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		buf_printf(err, "cannot create volume %s: cannot sync %s: %s", name, path, strerror(-r));
		goto fail;
	}
	/* QEMU opens it as the qemu user. */
	if ((r = runas_own(path, err)) < 0)
		goto fail;
	if (fsync_dir(dir) < 0)
		log_warn("creating volume %s: cannot sync directory %s", name, dir);
	return 0;
fail:
	unlink(path);
	return r;
}

int vol_dir_create(struct store *st, const char *storage_dir, const char *name, uid_t uid, gid_t gid, char **path,
		   struct buf *err)
{
	__do_free char *p = NULL;
	int r;
	if ((r = check_name(name, err)) < 0 || (r = check_name_free(st, name, err)) < 0)
		return r;
	if ((r = vol_dir_make(storage_dir, name, uid, gid, &p, err)) < 0)
		return r;
	if ((r = record_volume(st, name, VOL_DIR_FORMAT, p, err)) < 0) {
		rmdir(p);
		return r;
	}
	log_info("created directory volume %s at %s", name, p);
	if (path)
		*path = move_ptr(p);
	return 0;
}

/* The file of a new ext4 volume `name` in storage_dir (*p): the name valid and free, no such file there. */
static int ext4_place(struct store *st, const char *storage_dir, const char *name, char **p, struct buf *err)
{
	__do_free char *path = NULL;
	int r;
	if ((r = check_name(name, err)) < 0 || (r = check_name_free(st, name, err)) < 0)
		return r;
	path = vol_path(storage_dir, name, VOL_EXT4_FORMAT);
	if (fs_exists(path) > 0) {
		buf_printf(err, "%s exists already in the pool (not a volume corral knows): not touching it", path);
		return -EEXIST;
	}
	*p = move_ptr(path);
	return 0;
}

int vol_ext4_create(struct store *st, const char *storage_dir, const char *name, uint64_t size, char **path,
		    struct buf *err)
{
	__do_free char *p = NULL;
	int r;
	if (size < VOL_EXT4_MIN_SIZE || size > VOL_MAX_SIZE) {
		buf_printf(err, "an image root's size must be 64 MiB to 64 TiB");
		return -EINVAL;
	}
	if ((r = ext4_place(st, storage_dir, name, &p, err)) < 0)
		return r;
	if ((r = loop_ext4_make(p, size, err)) < 0)
		return r;
	if ((r = record_volume(st, name, VOL_EXT4_FORMAT, p, err)) < 0) {
		unlink(p);
		return r;
	}
	log_info("created ext4 image volume %s (%" PRIu64 " bytes) at %s", name, size, p);
	if (path)
		*path = move_ptr(p);
	return 0;
}

int vol_ext4_reserve(struct store *st, const char *storage_dir, const char *name, char **path, struct buf *err)
{
	__do_free char *p = NULL;
	int r;
	if ((r = ext4_place(st, storage_dir, name, &p, err)) < 0 || (r = record_volume(st, name, VOL_EXT4_FORMAT, p, err)) < 0)
		return r;
	log_info("reserved ext4 image volume %s at %s for a copy", name, p);
	if (path)
		*path = move_ptr(p);
	return 0;
}

int vol_create(struct store *st, const char *storage_dir, const char *name, uint64_t size, const char *format,
	       struct buf *err)
{
	__do_free char *path = NULL;
	int r;

	if ((r = check_name(name, err)) < 0 || (r = check_format(format, err)) < 0 ||
	    (r = check_size(size, err)) < 0 || (r = check_dir(storage_dir, err)) < 0)
		return r;
	if ((r = check_name_free(st, name, err)) < 0)
		return r;
	/* Thin images need no room up front, only some to start with. */
	if ((r = check_room(storage_dir, name, 0, err)) < 0)
		return r;

	path = vol_path(storage_dir, name, format);
	if ((r = image_create(storage_dir, path, name, format, size, err)) < 0)
		return r;
	if ((r = record_volume(st, name, format, path, err)) < 0) {
		unlink(path);
		return r;
	}
	log_info("created volume %s (%s, %" PRIu64 " bytes) at %s", name, format, size, path);
	return 0;
}

/* qemu-img's error names a file in /dev/fd/ other than the source it was given. */
static bool refers_to_other_files(const char *why)
{
	static const char prefix[] = "'" "/dev/fd/";
	for (const char *p = strstr(why, prefix); p; p = strstr(p + 1, prefix))
		if (strncmp(p + sizeof(prefix) - 1, "3'", 2) != 0)
			return true;
	return false;
}

/*
 * vol_import_check, also handing back the format qemu-img detected (caller
 * frees).  src_fd >= 0: the caller's descriptor of src is what is read
 * (src only names it); else src is opened here.
 */
static int import_check(struct store *st, const char *src, int src_fd, const char *name, const char *format,
			const char *given_format, uint64_t *virtual_size, char **src_format, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	__do_json json_t *info = NULL;
	__do_close int fd = -EBADF;
	const char *qsrc = src_fd >= 0 ? QEMU_IMG_SRC_PATH : src; /* the name qemu-img opens */
	const char *detected;
	struct stat sb;
	char a[32], b[32];
	size_t i;
	int r;

	if ((r = check_name(name, err)) < 0 || (r = check_format(format, err)) < 0)
		return r;
	if (!src || !*src) {
		buf_adds(err, "no source image given");
		return -EINVAL;
	}
	if (str_has_control(src)) {
		buf_adds(err, "source image path contains control characters");
		return -EINVAL;
	}
	if (src[0] != '/') {
		buf_printf(err, "source image path %s is not absolute", src);
		return -EINVAL;
	}
	if (given_format) {
		for (i = 0; i < ARRAY_SIZE(import_formats) && strcmp(given_format, import_formats[i]) != 0; i++)
			;
		if (i == ARRAY_SIZE(import_formats)) {
			buf_adds(err, "unknown source format (use raw, qcow2, vmdk, vdi, vpc or vhdx)");
			return -EINVAL;
		}
	}
	if (src_fd >= 0 && fstat(src_fd, &sb) < 0) {
		r = -errno;
		buf_printf(err, "cannot read source image %s: %s", src, strerror(-r));
		return r;
	}
	if (src_fd < 0 && (r = stat_file("source image", src, &sb, err)) < 0)
		return r;
	if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
		buf_printf(err, "source image %s is not a regular file or block device", src);
		return -EINVAL;
	}
	fd = src_fd >= 0 ? -EBADF : open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (src_fd < 0 && fd < 0) {
		r = -errno;
		buf_printf(err, "cannot read source image %s: %s", src, strerror(-r));
		return r;
	}
	if ((r = check_name_free(st, name, err)) < 0)
		return r;

	r = img_info_json(src, src_fd, given_format, &info, &why);
	if (r < 0 && src_fd >= 0 && refers_to_other_files(why.s)) {
		/* read as /dev/fd/3, a split VMDK looks for its extents in /dev/fd/ */
		buf_printf(err,
			   "source image %s refers to other files (extent files or a backing file); convert it to a "
			   "single file first (qemu-img convert -O vmdk -o subformat=monolithicSparse SRC ONE.vmdk)",
			   src);
		return -EINVAL;
	}
	if (r < 0) {
		buf_printf(err, "cannot read source image %s: %s", src, why.s);
		return r;
	}
	detected = json_string_value(json_object_get(info, "format"));
	if (!detected || json_get_u64(info, "virtual-size", virtual_size) < 0) {
		buf_printf(err, "cannot read source image %s: qemu-img info did not report its format and size", src);
		return -EIO;
	}
	for (i = 0; i < ARRAY_SIZE(import_formats); i++)
		if (strcmp(detected, import_formats[i]) == 0)
			break;
	if (i == ARRAY_SIZE(import_formats)) {
		buf_printf(err,
			   "source image %s is in %s format; only raw, qcow2, vmdk, vdi, vpc (vhd) and vhdx images can be "
			   "imported",
			   src, str_has_control(detected) ? "an unknown" : detected);
		return -EINVAL;
	}
	/* An image that pulls in other files (a backing chain, VMDK extents, a
	 * qcow2 external data file) would copy host files chosen by whoever made
	 * the image into the volume: refuse, and say how to proceed. */
	const char *backing = json_string_value(json_object_get(info, "backing-filename"));
	if (backing) {
		buf_printf(err,
			   "source image %s has a backing file; flatten it first (qemu-img convert -O qcow2 SRC FLAT) "
			   "and import the result",
			   src);
		return -EINVAL;
	}
	json_t *spec = json_object_get(json_object_get(info, "format-specific"), "data");
	if (json_string_value(json_object_get(spec, "data-file"))) {
		buf_printf(err, "source image %s keeps its data in an external file; flatten it first", src);
		return -EINVAL;
	}
	json_t *ext;
	size_t k;
	json_array_foreach(json_object_get(spec, "extents"), k, ext) {
		const char *f = json_string_value(json_object_get(ext, "filename"));
		if (f && strcmp(f, qsrc) != 0) {
			buf_printf(err,
				   "source image %s is split into extent files; convert it to a single file first "
				   "(qemu-img convert -O vmdk -o subformat=monolithicSparse)",
				   src);
			return -EINVAL;
		}
	}
	if (*virtual_size == 0) {
		buf_printf(err, "source image %s is empty", src);
		return -EINVAL;
	}
	if (*virtual_size > VOL_MAX_SIZE) {
		buf_printf(err, "source image %s is %s, above the maximum volume size of %s", src,
			   fmt_size_exact(*virtual_size, a, sizeof(a)), fmt_size_exact(VOL_MAX_SIZE, b, sizeof(b)));
		return -EINVAL;
	}
	*src_format = xstrdup(detected);
	return 0;
}

int vol_import_check(struct store *st, const char *src, const char *name, const char *format,
		     uint64_t *virtual_size, struct buf *err)
{
	return vol_import_check_fd(st, -1, src, name, format, virtual_size, err);
}

int vol_import_check_fd(struct store *st, int src_fd, const char *src, const char *name, const char *format,
			uint64_t *virtual_size, struct buf *err)
{
	__do_free char *src_format = NULL;
	return import_check(st, src, src_fd, name, format, NULL, virtual_size, &src_format, err);
}

int vol_import_probe_fd(struct store *st, int src_fd, const char *src, const char *name, const char *format,
			const char *given_format, uint64_t *virtual_size, char **detected, struct buf *err)
{
	*detected = NULL;
	return import_check(st, src, src_fd, name, format, given_format, virtual_size, detected, err);
}

/* Progress parsing of `qemu-img convert -p` output: "    (12.34/100%)\r". */
struct import_progress {
	vol_progress_cb cb;
	void *opaque;
	uint64_t size;
	int64_t start_ms;
	int64_t last_cb_ms; /* -1: never called */
	char line[64];
	size_t len;
};

static void progress_rate(const struct import_progress *p, double percent, int64_t now, double *rate,
			  int64_t *eta)
{
	double secs = (double)(now - p->start_ms) / 1000.0;
	*rate = 0;
	*eta = -1;
	if (secs <= 0 || percent <= 0)
		return;
	*rate = (double)p->size * percent / 100.0 / secs;
	*eta = (int64_t)((100.0 - percent) * secs / percent + 0.5);
	if (*eta < 0)
		*eta = 0;
}

/* One progress line to the callback (rate-limited); its verdict (non-zero: cancel). */
static int progress_line(struct import_progress *p)
{
	const char *open_ = strchr(p->line, '(');
	double percent, rate;
	int64_t now, eta;

	if (!open_ || sscanf(open_, "(%lf/100%%)", &percent) != 1)
		return 0;
	/* 100 is reported once, after the volume is in place. */
	if (!(percent >= 0) || percent >= 100)
		return 0;
	now = time_mono_ms();
	if (p->last_cb_ms >= 0 && now - p->last_cb_ms < PROGRESS_INTERVAL_MS)
		return p->cb(p->opaque, -1, 0, -1);
	p->last_cb_ms = now;
	progress_rate(p, percent, now, &rate, &eta);
	return p->cb(p->opaque, percent, rate, eta);
}

static int progress_out(const char *data, size_t len, void *opaque)
{
	struct import_progress *p = opaque;
	int verdict = 0;
	if (!data)
		return p->cb ? p->cb(p->opaque, -1, 0, -1) : 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' || data[i] == '\n') {
			p->line[p->len] = '\0';
			if (p->cb)
				verdict |= progress_line(p);
			p->len = 0;
		} else if (p->len < sizeof(p->line) - 1) {
			p->line[p->len++] = data[i];
		}
	}
	return verdict;
}

/*
 * Open and lock the import temp file.  A file that is still there but not
 * locked was left by a dead import and is reused; if it was replaced while
 * we waited for the lock, try again.  -EBUSY: another import holds it.
 */
static int tmp_lock(const char *path, int *out)
{
	for (int tries = 0; tries < 5; tries++) {
		__do_close int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
		struct stat a, b;

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0)
			return errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (fstat(fd, &a) < 0)
			return -errno;
		if (stat(path, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			continue;
		if (fchmod(fd, 0600) < 0)
			return -errno;
		*out = move_fd(fd);
		return 0;
	}
	return -EBUSY;
}

int vol_tmp_remove_stale(const char *path)
{
	__do_close int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	/* Held under the lock: no import can be reusing it meanwhile. */
	return unlink(path) < 0 ? -errno : 0;
}

/* rename() that never replaces `to`; link+unlink where RENAME_NOREPLACE is unsupported. */
static int rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(from, to) < 0)
		return -errno;
	unlink(from);
	return 0;
}

/*
 * Convert into `path` through the hidden temp file <dir>/.<name>.<verb>.tmp
 * (`verb` "import" or "move" names the work in messages): `c` is a qemu-img
 * convert -p command complete but for its output file, which is added here;
 * `prog` reports its progress.  The temp file is held under flock, synced,
 * and renamed into place without replacing anything; on failure it is removed.
 */
static int convert_into(struct cmd *c, const char *dir, const char *name, const char *verb, const char *path,
			struct import_progress *prog, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	struct buf errout __do_buf = BUF_INIT;
	__do_free char *tmp = vol_tmp_path(dir, name, verb);
	__do_close int fd = -EBADF;
	int r;

	r = tmp_lock(tmp, &fd);
	if (r == -EBUSY) {
		buf_printf(err, "an %s into volume %s is already running", verb, name);
		cmd_release(c);
		return r;
	}
	if (r < 0) {
		buf_printf(err, "cannot %s volume %s: cannot create %s: %s", verb, name, tmp, strerror(-r));
		cmd_release(c);
		return r;
	}
	cmd_add(c, tmp);
	prog->start_ms = time_mono_ms();
	r = cmd_run_stream(c, progress_out, prog, &errout);
	r = r == -ECANCELED ? r : qemu_img_result(r, &errout, &why);
	cmd_release(c);
	if (r == -ECANCELED) {
		buf_printf(err, "%s of volume %s cancelled; nothing was kept", verb, name);
		goto fail_tmp;
	}
	if (r < 0) {
		buf_printf(err, "cannot %s volume %s: %s", verb, name, why.s);
		goto fail_tmp;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		buf_printf(err, "cannot %s volume %s: cannot sync %s: %s", verb, name, tmp, strerror(-r));
		goto fail_tmp;
	}
	/* QEMU opens it as the qemu user. */
	if ((r = runas_own(tmp, err)) < 0)
		goto fail_tmp;
	r = rename_noreplace(tmp, path);
	if (r < 0) {
		if (r == -EEXIST)
			buf_printf(err, "cannot %s volume %s: file %s already exists", verb, name, path);
		else
			buf_printf(err, "cannot %s volume %s: cannot rename %s to %s: %s", verb, name, tmp, path,
				   strerror(-r));
		goto fail_tmp;
	}
	if (fsync_dir(dir) < 0)
		log_warn("%s of volume %s: cannot sync directory %s", verb, name, dir);
	return 0;

fail_tmp:
	/* Still holding the lock: nobody else can be using this file. */
	unlink(tmp);
	return r;
}

/* The last progress report: 100%, once the volume is in place. */
static void progress_done(struct import_progress *p)
{
	double rate;
	int64_t eta;

	progress_rate(p, 100, time_mono_ms(), &rate, &eta);
	if (p->cb)
		p->cb(p->opaque, 100, rate, 0);
}

int vol_import(struct store *st, const char *storage_dir, const char *src, const char *name, const char *format,
	       vol_progress_cb cb, void *opaque, struct buf *err)
{
	return vol_import_fd(st, storage_dir, -1, src, name, format, cb, opaque, err);
}

int vol_import_fd(struct store *st, const char *storage_dir, int src_fd, const char *src, const char *name,
		  const char *format, vol_progress_cb cb, void *opaque, struct buf *err)
{
	return vol_import_fmt_fd(st, storage_dir, src_fd, src, name, format, NULL, cb, opaque, err);
}

int vol_import_fmt_fd(struct store *st, const char *storage_dir, int src_fd, const char *src, const char *name,
		      const char *format, const char *given_format, vol_progress_cb cb, void *opaque, struct buf *err)
{
	struct import_progress prog = { .cb = cb, .opaque = opaque, .last_cb_ms = -1 };
	struct buf why __do_buf = BUF_INIT;
	__do_free char *src_format = NULL, *path = NULL;
	struct cmd c = CMD_INIT;
	uint64_t size, need;
	struct stat sb;
	int r;

	if ((r = check_dir(storage_dir, err)) < 0)
		return r;
	if ((r = import_check(st, src, src_fd, name, format, given_format, &size, &src_format, err)) < 0)
		return r;
	path = vol_path(storage_dir, name, format);
	if (lstat(path, &sb) == 0) {
		buf_printf(err, "cannot import volume %s: file %s already exists", name, path);
		return -EEXIST;
	}
	r = qemu_img_measure(src_fd >= 0 ? QEMU_IMG_SRC_PATH : src, src_fd, src_format, format, false, &need, &why);
	if (r < 0) {
		buf_printf(err, "cannot import %s: %s", src, why.s);
		return r;
	}
	if ((r = check_room(storage_dir, name, need, err)) < 0)
		return r;

	qemu_img_cmd(&c, "convert", "-p", "-f", src_format, "-O", format, src_fd >= 0 ? QEMU_IMG_SRC_PATH : src, NULL);
	if (src_fd >= 0)
		cmd_keep_fd(&c, src_fd, QEMU_IMG_SRC_FD);
	log_info("importing %s (%s, %" PRIu64 " bytes) as volume %s", src, src_format, size, name);
	prog.size = size;
	if ((r = convert_into(&c, storage_dir, name, "import", path, &prog, err)) < 0)
		return r;
	if ((r = record_volume(st, name, format, path, err)) < 0) {
		unlink(path);
		return r;
	}
	progress_done(&prog);
	log_info("imported %s as volume %s at %s", src, name, path);
	return 0;
}

int vol_resize_offline(struct store *st, const char *name, uint64_t new_size, struct buf *err)
{
	__do_vol_record struct vol_record rec = { 0 };
	struct buf why __do_buf = BUF_INIT;
	struct vol_info info;
	struct cmd c = CMD_INIT;
	char a[32], b[32];
	int r;

	if ((r = lookup(st, name, &rec, err)) < 0)
		return r;
	if ((r = check_size(new_size, err)) < 0)
		return r;
	if ((r = vol_info(rec.path, rec.format, &info, err)) < 0)
		return r;
	if (new_size < info.capacity) {
		buf_printf(err, "volume %s is %s; shrinking is not supported (asked for %s)", name,
			   fmt_size_exact(info.capacity, a, sizeof(a)), fmt_size_exact(new_size, b, sizeof(b)));
		return -EINVAL;
	}
	if (new_size == info.capacity)
		return 0;

	qemu_img_cmd(&c, "resize", "-q", "-f", rec.format, rec.path, NULL);
	cmd_addf(&c, "%" PRIu64, new_size);
	r = qemu_img_run(&c, NULL, &why);
	if (r < 0) {
		buf_printf(err, "cannot resize volume %s: %s", name, why.s);
		return r;
	}
	log_info("resized volume %s from %" PRIu64 " to %" PRIu64 " bytes", name, info.capacity, new_size);
	return 0;
}

int vol_delete(struct store *st, const char *name, struct buf *err)
{
	__do_vol_record struct vol_record rec = { 0 };
	struct store_batch *b;
	int r;

	if ((r = lookup(st, name, &rec, err)) < 0)
		return r;
	/* The row first: the store refuses a volume a VM uses, and a crash
	 * between the two steps leaves a stray file, never a row without one. */
	b = store_batch_new();
	store_batch_vol_delete(b, name);
	struct buf why = BUF_INIT;
	r = store_batch_commit(st, b, &why);
	store_batch_free(b);
	if (r < 0 && r != -ENOENT) {
		buf_printf(err, "cannot delete volume %s: %s", name, why.s);
		buf_release(&why);
		return r;
	}
	buf_release(&why);
	if (strcmp(rec.format, VOL_DIR_FORMAT) == 0) {
		struct buf e __do_buf = BUF_INIT;
		if (vol_dir_remove(rec.path, &e) < 0)
			log_warn("deleted volume %s, but its directory stays: %s", name, e.s);
	} else if (unlink(rec.path) < 0) {
		if (errno != ENOENT)
			log_warn("deleted volume %s, but its file %s could not be removed: %s", name, rec.path,
				 strerror(errno));
		else
			log_warn("deleting volume %s: its file %s was already gone", name, rec.path);
	}
	log_info("deleted volume %s (%s)", name, rec.path);
	return 0;
}

/* ---- moving a volume to another pool ---------------------------------- */

/* Names of the volumes whose backing volume is `name`, as "a, b" in `out`. */
static void linked_clones_of(struct store *st, const char *name, struct buf *out)
{
	struct vol_record *list;
	size_t n;

	if (store_vol_list(st, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (list[i].backing && strcmp(list[i].backing, name) == 0)
			buf_printf(out, "%s%s", out->len ? ", " : "", list[i].name);
	store_vol_list_free(list, n);
}

/* Names of the image's internal snapshots, as "s1, s2" in `out`. */
static int internal_snapshots(const struct vol_record *v, struct buf *out, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	__do_json json_t *info = NULL;
	json_t *snap;
	size_t i;
	int r;

	if (strcmp(v->format, "qcow2") != 0)
		return 0;
	if ((r = img_info_json(v->path, -1, v->format, &info, &why)) < 0) {
		buf_printf(err, "cannot inspect volume %s: %s", v->name, why.s);
		return r;
	}
	json_array_foreach(json_object_get(info, "snapshots"), i, snap) {
		const char *s = json_string_value(json_object_get(snap, "name"));
		if (out->len)
			buf_adds(out, ", ");
		buf_add_printable(out, s ? s : "?", s ? strlen(s) : 1);
	}
	return 0;
}

int vol_move_check(struct store *st, const struct vol_record *v, const char *dir, struct buf *err)
{
	struct buf names __do_buf = BUF_INIT;
	struct buf why __do_buf = BUF_INIT;
	__do_free char *path = NULL;
	struct stat sb;
	uint64_t need;
	int r;

	if ((r = check_dir(dir, err)) < 0)
		return r;
	if (strcmp(v->format, VOL_DIR_FORMAT) == 0 || strcmp(v->format, VOL_EXT4_FORMAT) == 0) {
		buf_printf(err, "volume %s is a container's %s volume%s%s: move a container's root with 'corral ct move "
				"CONTAINER --pool POOL'; a mount point's volume moves with its container stopped by "
				"copying it into a new volume",
			   v->name, v->format, v->ct_name ? " of container " : "", v->ct_name ? v->ct_name : "");
		return -EBUSY;
	}
	if (v->readonly) {
		buf_printf(err, "volume %s belongs to a template (read-only): linked clones refer to its file by "
				"path, so it cannot be moved",
			   v->name);
		return -EBUSY;
	}
	if (v->backing) {
		buf_printf(err, "volume %s is a linked clone of %s: its image refers to that volume's file, and "
				"moving it would flatten it; make a full clone instead",
			   v->name, v->backing);
		return -EBUSY;
	}
	linked_clones_of(st, v->name, &names);
	if (names.len) {
		buf_printf(err, "volume %s is the backing file of linked clones (%s): they refer to its file by path, "
				"so it cannot be moved",
			   v->name, names.s);
		return -EBUSY;
	}
	if ((r = internal_snapshots(v, &names, err)) < 0)
		return r;
	if (names.len) {
		buf_printf(err, "volume %s has snapshots (%s) that a move would not keep; delete its snapshots first",
			   v->name, names.s);
		return -EBUSY;
	}
	path = vol_path(dir, v->name, v->format);
	if (lstat(path, &sb) == 0) {
		buf_printf(err, "cannot move volume %s: file %s already exists", v->name, path);
		return -EEXIST;
	}
	if ((r = qemu_img_measure(v->path, -1, v->format, v->format, true, &need, &why)) < 0) {
		buf_printf(err, "cannot move volume %s: %s", v->name, why.s);
		return r;
	}
	return check_room(dir, v->name, need, err);
}

int vol_move_target_create(const struct vol_record *v, const char *dir, char **path, struct buf *err)
{
	__do_free char *p = vol_path(dir, v->name, v->format);
	struct vol_info info;
	int r;

	if ((r = vol_info(v->path, v->format, &info, err)) < 0)
		return r;
	if ((r = image_create(dir, p, v->name, v->format, info.capacity, err)) < 0)
		return r;
	*path = move_ptr(p);
	return 0;
}

int vol_move_finish(struct store *st, const struct vol_record *v, const char *new_path, struct buf *err)
{
	__do_free char *new_dir = xstrdup(new_path);
	__do_free char *old_dir = xstrdup(v->path);
	__do_free char *pool = NULL;
	__do_close int fd = open(new_path, O_RDONLY | O_CLOEXEC);
	struct vol_record nv = *v;
	int r;

	/* The data may have been written by QEMU: make sure it is on disk before the old copy goes. */
	if (fd < 0 || fsync(fd) < 0) {
		r = -errno;
		buf_printf(err, "cannot move volume %s: cannot sync %s: %s", v->name, new_path, strerror(-r));
		return r;
	}
	*strrchr(new_dir, '/') = '\0';
	*strrchr(old_dir, '/') = '\0';
	pool = pool_of_dir(st, new_dir[0] ? new_dir : "/");
	nv.path = (char *)new_path;
	nv.pool = pool;
	if ((r = store_vol_update(st, &nv)) < 0) {
		buf_printf(err, "cannot record the new place of volume %s in the state database", v->name);
		return r;
	}
	if (unlink(v->path) < 0)
		log_warn("moved volume %s: cannot remove its old file %s: %s", v->name, v->path, strerror(errno));
	else if (fsync_dir(old_dir[0] ? old_dir : "/") < 0)
		log_warn("moved volume %s: cannot sync directory %s", v->name, old_dir);
	log_info("moved volume %s from %s to %s (pool %s)", v->name, v->path, new_path, pool);
	return 0;
}

int vol_move_copy(const struct vol_record *v, const char *dir, vol_progress_cb cb, void *opaque, char **path,
		  struct buf *err)
{
	struct import_progress prog = { .cb = cb, .opaque = opaque, .last_cb_ms = -1 };
	__do_free char *p = vol_path(dir, v->name, v->format);
	struct cmd c = CMD_INIT;
	struct vol_info info;
	struct stat before, after;
	int r;

	if ((r = vol_info(v->path, v->format, &info, err)) < 0 ||
	    (r = stat_file("volume file", v->path, &before, err)) < 0)
		return r;
	qemu_img_cmd(&c, "convert", "-p", "-f", v->format, "-O", v->format, v->path, NULL);
	prog.size = info.capacity;
	if ((r = convert_into(&c, dir, v->name, "move", p, &prog, err)) < 0)
		return r;
	/* qemu-img's lock keeps QEMU out while it copies, not before or after. */
	if (stat(v->path, &after) < 0 || after.st_size != before.st_size ||
	    after.st_mtim.tv_sec != before.st_mtim.tv_sec || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
		buf_printf(err, "cannot move volume %s: it was written to while being copied", v->name);
		unlink(p);
		return -EBUSY;
	}
	progress_done(&prog);
	*path = move_ptr(p);
	return 0;
}

int vol_info(const char *path, const char *format, struct vol_info *out, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	__do_json json_t *info = NULL;
	struct stat sb;
	int r;

	if ((r = check_format(format, err)) < 0)
		return r;
	if (!path || path[0] != '/' || str_has_control(path)) {
		buf_adds(err, "volume path must be absolute");
		return -EINVAL;
	}
	if ((r = stat_file("volume file", path, &sb, err)) < 0)
		return r;
	r = img_info_json(path, -1, format, &info, &why);
	if (r < 0) {
		buf_printf(err, "cannot inspect volume file %s: %s", path, why.s);
		return r;
	}
	if (json_get_u64(info, "virtual-size", &out->capacity) < 0) {
		buf_printf(err, "cannot inspect volume file %s: qemu-img info did not report its size", path);
		return -EIO;
	}
	if (json_get_u64(info, "actual-size", &out->allocation) < 0)
		out->allocation = 0;
	return 0;
}

int vol_stat(const char *path, const char *format, struct vol_info *out, struct buf *err)
{
	__do_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	unsigned char h[32];
	struct stat sb;

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return vol_info(path, format, out, err); /* its error says what is wrong */
	out->allocation = (uint64_t)sb.st_blocks * 512;
	if (strcmp(format, "raw") == 0) {
		out->capacity = (uint64_t)sb.st_size;
		return 0;
	}
	/* qcow2: magic "QFI\xfb", then the virtual size (big-endian) at byte 24. */
	if (pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) && memcmp(h, "QFI\xfb", 4) == 0) {
		uint64_t size = 0;
		for (int i = 24; i < 32; i++)
			size = size << 8 | h[i];
		if (size > 0 && size <= VOL_MAX_SIZE) {
			out->capacity = size;
			return 0;
		}
	}
	return vol_info(path, format, out, err);
}

json_t *vol_to_json(const struct vol_record *v)
{
	struct buf err __do_buf = BUF_INIT;
	struct vol_info info;
	json_t *j = json_object();
	int r;

	json_object_set_new(j, "name", json_string(v->name));
	json_object_set_new(j, "format", json_string(v->format));
	if (strcmp(v->format, VOL_DIR_FORMAT) == 0) {
		/* a directory has no size of its own: what its tree uses, measured in the background */
		uint64_t used;
		json_object_set_new(j, "capacity", json_null());
		json_object_set_new(j, "allocation", vol_dir_usage(v->path, &used) == 0 ? json_integer((json_int_t)used)
											  : json_null());
		json_object_set_new(j, "path", json_string(v->path));
		json_object_set_new(j, "pool", json_string(v->pool ? v->pool : "default"));
		return j;
	}
	/* an ext4 image (a container's root) is a raw file */
	r = vol_stat(v->path, strcmp(v->format, VOL_EXT4_FORMAT) == 0 ? "raw" : v->format, &info, &err);
	if (r < 0)
		log_warn("volume %s: %s", v->name, err.s);
	json_object_set_new(j, "capacity", r < 0 ? json_null() : json_integer((json_int_t)info.capacity));
	json_object_set_new(j, "allocation", r < 0 ? json_null() : json_integer((json_int_t)info.allocation));
	json_object_set_new(j, "path", json_string(v->path));
	json_object_set_new(j, "pool", json_string(v->pool ? v->pool : "default"));
	return j;
}
