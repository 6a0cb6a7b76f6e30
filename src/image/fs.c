/*
 * fs.c - struct img_fs: one filesystem on a device, read through an
 * inode-level driver (image_internal.h), with path walking done here once.
 *
 * Paths are resolved component by component from the root: "." and ".."
 * (never above the root), symlinks (absolute targets restart at the fs
 * root) with at most 40 links per lookup, components up to 255 bytes.
 * Drivers only look up one name in one directory.  img_fs_open_partition
 * picks a partition for callers that just want "the" filesystem of a disk;
 * img_fs_open_volume also takes an LVM2 logical volume by name, and counts
 * logical volumes among the candidates when none is named.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image_internal.h"
#include "util/common.h"

#define MAX_LINKS 40
#define MAX_NAME 255
#define READ_CHUNK (1u << 20)

struct img_fs {
	const struct img_fs_driver *drv;
	void *priv;
	uint64_t root;
	struct img_dev *dev;
	struct img_dev *owned;	/* partition window or LV opened by img_fs_open_partition/_volume */
};

static const struct img_fs_driver *const drivers[] = { &img_ext4_driver, &img_xfs_driver, &img_btrfs_driver };

static const struct img_fs_driver *driver_for(struct img_dev *dev)
{
	for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
		const struct img_fs_driver *d = drivers[i];
		if (d->match(dev))
			return d;
	}
	return NULL;
}

int img_fs_open(struct img_dev *dev, struct img_fs **out, struct buf *err)
{
	*out = NULL;
	const struct img_fs_driver *d = driver_for(dev);
	if (!d) {
		const char *t = img_fs_probe(dev);
		if (t) {
			buf_printf(err, "cannot open the filesystem on %s: %s is not a supported type (ext2/3/4, xfs, btrfs%s)",
				   img_dev_desc(dev), t,
				   strcmp(t, "LVM2_member") == 0 ? "; an LVM2 PV: name one of its logical volumes" : "");
			return -ENOTSUP;
		}
		buf_printf(err, "cannot open a filesystem on %s: no known filesystem signature found", img_dev_desc(dev));
		return -ENODEV;
	}
	struct img_fs *fs = xcalloc(1, sizeof(*fs));
	fs->drv = d;
	fs->dev = dev;
	int rc = d->open(dev, &fs->priv, &fs->root, err);
	if (rc < 0) {
		free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

static void list_parts(const struct img_partlist *pl, struct buf *err)
{
	for (size_t i = 0; i < pl->n; i++)
		buf_printf(err, "%s%d (%s)", i ? ", " : "", pl->parts[i].number,
			   pl->parts[i].fstype[0] ? pl->parts[i].fstype : "unknown");
}

static int open_part(struct img_dev *dev, const struct img_part *p, struct img_fs **out, struct buf *err)
{
	struct img_dev *w;
	int rc = img_dev_window(dev, p->start, p->size, &w, err);
	if (rc < 0)
		return rc;
	rc = img_fs_open(w, out, err);
	if (rc < 0) {
		img_dev_free(w);
		return rc;
	}
	(*out)->owned = w;
	return 0;
}

static bool fstype_readable(const char *t)
{
	return strncmp(t, "ext", 3) == 0 || strcmp(t, "xfs") == 0 || strcmp(t, "btrfs") == 0;
}

static int open_lv(struct img_dev *dev, const char *name, struct img_fs **out, struct buf *err)
{
	struct img_dev *lv;
	int rc = img_lvm_open(dev, name, &lv, err);
	if (rc < 0)
		return rc;
	rc = img_fs_open(lv, out, err);
	if (rc < 0) {
		img_dev_free(lv);
		return rc;
	}
	(*out)->owned = lv;
	return 0;
}

int img_fs_open_partition(struct img_dev *dev, int partno, struct img_fs **out, struct buf *err)
{
	struct img_partlist pl;
	int rc;

	*out = NULL;
	if (partno < 0) {
		buf_printf(err, "cannot open partition %d of %s: partition numbers start at 1", partno,
			   img_dev_desc(dev));
		return -EINVAL;
	}
	rc = img_partitions(dev, &pl, err);
	if (rc < 0)
		return rc;
	if (partno > 0) {
		for (size_t i = 0; i < pl.n; i++) {
			if (pl.parts[i].number == partno) {
				rc = open_part(dev, &pl.parts[i], out, err);
				img_partlist_release(&pl);
				return rc;
			}
		}
		buf_printf(err, "cannot open partition %d of %s: no such partition (", partno, img_dev_desc(dev));
		if (pl.n == 0)
			buf_adds(err, "the disk has no partition table");
		list_parts(&pl, err);
		buf_adds(err, ")");
		img_partlist_release(&pl);
		return -ENOENT;
	}
	const char *whole = strcmp(pl.scheme, "none") == 0 ? img_fs_probe(dev) : NULL;
	if (strcmp(pl.scheme, "none") == 0 && !(whole && strcmp(whole, "LVM2_member") == 0)) {
		img_partlist_release(&pl);
		return img_fs_open(dev, out, err);
	}
	/* partitions, or a whole-disk PV: the one readable filesystem among them and the LVs */
	const struct img_part *pick = NULL;
	const struct img_lv *pick_lv = NULL;
	struct img_lvlist lvl = { 0 };
	size_t readable = 0;
	struct buf lerr = BUF_INIT;
	if (img_lvm_list(dev, &lvl, &lerr) == 0) {
		for (size_t i = 0; i < lvl.n; i++) {
			if (lvl.lvs[i].error[0] || !lvl.lvs[i].fstype[0] || !fstype_readable(lvl.lvs[i].fstype))
				continue;
			readable++;
			pick_lv = &lvl.lvs[i];
		}
	}
	buf_release(&lerr);
	for (size_t i = 0; i < pl.n; i++) {
		struct img_dev *w;
		struct buf e = BUF_INIT;
		if (img_dev_window(dev, pl.parts[i].start, pl.parts[i].size, &w, &e) == 0) {
			if (driver_for(w)) {
				readable++;
				pick = &pl.parts[i];
			}
			img_dev_free(w);
		}
		buf_release(&e);
	}
	if (readable == 1 && pick) {
		rc = open_part(dev, pick, out, err);
	} else if (readable == 1) {
		rc = open_lv(dev, pick_lv->name, out, err);
	} else {
		buf_printf(err, "cannot choose a filesystem on %s: %s; partitions: ", img_dev_desc(dev),
			   readable ? "more than one partition or logical volume has a readable filesystem, name one"
				    : "no partition has a readable filesystem");
		if (pl.n == 0)
			buf_adds(err, "none");
		list_parts(&pl, err);
		for (size_t i = 0; i < lvl.n; i++)
			buf_printf(err, "%s%s (%s)", i ? ", " : "; logical volumes: ", lvl.lvs[i].name,
				   lvl.lvs[i].error[0] ? "unreadable" : lvl.lvs[i].fstype[0] ? lvl.lvs[i].fstype : "unknown");
		rc = readable ? -EINVAL : -ENODEV;
	}
	img_lvlist_release(&lvl);
	img_partlist_release(&pl);
	return rc;
}

int img_fs_open_volume(struct img_dev *dev, const char *volume, struct img_fs **out, struct buf *err)
{
	*out = NULL;
	if (!volume || !*volume)
		return img_fs_open_partition(dev, 0, out, err);
	if (volume[strspn(volume, "0123456789")] == 0) {
		if (strlen(volume) > 4 || atoi(volume) < 1) {
			buf_printf(err, "cannot open partition %s of %s: partition numbers are 1..9999", volume,
				   img_dev_desc(dev));
			return -EINVAL;
		}
		return img_fs_open_partition(dev, atoi(volume), out, err);
	}
	return open_lv(dev, volume, out, err);
}

const char *img_fs_type(const struct img_fs *fs)
{
	return fs->drv->type(fs->priv);
}

void img_fs_free(struct img_fs *fs)
{
	if (!fs)
		return;
	fs->drv->close(fs->priv);
	img_dev_free(fs->owned);
	free(fs);
}

static void path_error(struct img_fs *fs, const char *path, const char *what, struct buf *err)
{
	buf_printf(err, "cannot find %s in the %s filesystem on %s: ", path, img_fs_type(fs), img_dev_desc(fs->dev));
	buf_adds(err, what);
}

/* Walk path to an inode; follow says whether a final symlink is followed. */
static int resolve(struct img_fs *fs, const char *path, bool follow, uint64_t *ino_out, struct img_stat *st,
		   struct buf *err)
{
	__do_buf struct buf rem = BUF_INIT;
	__do_buf struct buf name = BUF_INIT;
	__do_free uint64_t *stack = NULL;
	size_t n = 1, alloc = 16, pos = 0;
	int links = 0, rc;

	stack = xmalloc(alloc * sizeof(*stack));
	stack[0] = fs->root;
	buf_adds(&rem, path);
	for (;;) {
		while (pos < rem.len && rem.s[pos] == '/')
			pos++;
		if (pos >= rem.len)
			break;
		size_t end = pos;
		while (end < rem.len && rem.s[end] != '/')
			end++;
		size_t len = end - pos;
		buf_reset(&name);
		buf_add(&name, rem.s + pos, len);
		size_t next = end;
		while (next < rem.len && rem.s[next] == '/')
			next++;
		bool last = next >= rem.len;
		pos = end;
		if (len > MAX_NAME) {
			path_error(fs, path, "a path component is longer than 255 bytes", err);
			return -ENAMETOOLONG;
		}
		if (strcmp(name.s, ".") == 0)
			continue;
		if (strcmp(name.s, "..") == 0) {
			if (n > 1)
				n--;
			continue;
		}
		struct img_stat dst;
		rc = fs->drv->getattr(fs->priv, stack[n - 1], &dst, err);
		if (rc < 0)
			return rc;
		if (!S_ISDIR(dst.mode)) {
			path_error(fs, path, "a path component is not a directory", err);
			return -ENOTDIR;
		}
		uint64_t ino;
		rc = fs->drv->lookup(fs->priv, stack[n - 1], name.s, &ino, err);
		if (rc == -ENOENT) {
			path_error(fs, path, "no such file or directory", err);
			return rc;
		}
		if (rc < 0)
			return rc;
		struct img_stat est;
		rc = fs->drv->getattr(fs->priv, ino, &est, err);
		if (rc < 0)
			return rc;
		if (S_ISLNK(est.mode) && (!last || follow)) {
			if (++links > MAX_LINKS) {
				path_error(fs, path, "too many levels of symbolic links", err);
				return -ELOOP;
			}
			__do_buf struct buf target = BUF_INIT;
			rc = fs->drv->readlink(fs->priv, ino, &target, err);
			if (rc < 0)
				return rc;
			if (target.len == 0) {
				path_error(fs, path, "a symbolic link on the way is empty", err);
				return -ENOENT;
			}
			if (target.s[0] == '/')
				n = 1;
			buf_addch(&target, '/');
			buf_add(&target, rem.s + pos, rem.len - pos);
			buf_reset(&rem);
			buf_add(&rem, target.s, target.len);
			pos = 0;
			continue;
		}
		if (n == alloc) {
			alloc *= 2;
			stack = xrealloc(stack, alloc * sizeof(*stack));
		}
		stack[n++] = ino;
	}
	*ino_out = stack[n - 1];
	return fs->drv->getattr(fs->priv, stack[n - 1], st, err);
}

int img_fs_stat(struct img_fs *fs, const char *path, struct img_stat *st, struct buf *err)
{
	uint64_t ino;

	return resolve(fs, path, true, &ino, st, err);
}

int img_fs_lstat(struct img_fs *fs, const char *path, struct img_stat *st, struct buf *err)
{
	uint64_t ino;

	return resolve(fs, path, false, &ino, st, err);
}

int img_fs_readlink(struct img_fs *fs, const char *path, struct buf *out, struct buf *err)
{
	struct img_stat st;
	uint64_t ino;
	int rc = resolve(fs, path, false, &ino, &st, err);

	if (rc < 0)
		return rc;
	if (!S_ISLNK(st.mode)) {
		buf_printf(err, "cannot read link %s in the %s filesystem on %s: not a symbolic link", path,
			   img_fs_type(fs), img_dev_desc(fs->dev));
		return -EINVAL;
	}
	return fs->drv->readlink(fs->priv, ino, out, err);
}

struct list_ctx {
	struct img_fs *fs;
	img_dir_cb cb;
	void *arg;
	int rc;
	bool stopped;
};

static int list_one(const char *name, const struct img_stat *st, void *arg)
{
	struct list_ctx *c = arg;
	struct img_stat full;
	struct buf e = BUF_INIT;

	/* a damaged inode still shows up, with what the directory entry says */
	if (c->fs->drv->getattr(c->fs->priv, st->ino, &full, &e) < 0)
		full = *st;
	buf_release(&e);
	c->rc = c->cb(name, &full, c->arg);
	if (c->rc != 0)
		c->stopped = true;
	return c->rc;
}

int img_fs_list(struct img_fs *fs, const char *path, img_dir_cb cb, void *arg, struct buf *err)
{
	struct img_stat st;
	uint64_t ino;
	int rc = resolve(fs, path, true, &ino, &st, err);

	if (rc < 0)
		return rc;
	if (!S_ISDIR(st.mode)) {
		buf_printf(err, "cannot list %s in the %s filesystem on %s: not a directory", path, img_fs_type(fs),
			   img_dev_desc(fs->dev));
		return -ENOTDIR;
	}
	struct list_ctx c = { .fs = fs, .cb = cb, .arg = arg };
	rc = fs->drv->readdir(fs->priv, ino, list_one, &c, err);
	return c.stopped ? c.rc : rc;
}

int img_fs_read_file(struct img_fs *fs, const char *path, img_data_cb cb, void *arg, struct buf *err)
{
	struct img_stat st;
	uint64_t ino;
	int rc = resolve(fs, path, true, &ino, &st, err);

	if (rc < 0)
		return rc;
	if (!S_ISREG(st.mode)) {
		buf_printf(err, "cannot read %s in the %s filesystem on %s: not a regular file", path, img_fs_type(fs),
			   img_dev_desc(fs->dev));
		return S_ISDIR(st.mode) ? -EISDIR : -EINVAL;
	}
	size_t chunk = st.size < READ_CHUNK ? (size_t)st.size : READ_CHUNK;
	__do_free char *data = xmalloc(chunk ? chunk : 1);
	uint64_t off = 0;
	while (off < st.size) {
		size_t want = st.size - off < chunk ? (size_t)(st.size - off) : chunk;
		size_t got = 0;
		rc = fs->drv->read(fs->priv, ino, off, data, want, &got, err);
		if (rc < 0)
			return rc;
		if (got == 0)
			break;
		rc = cb(data, got, arg);
		if (rc != 0)
			return rc;
		off += got;
		if (got < want)
			break;
	}
	return 0;
}

struct slurp_ctx {
	struct buf *out;
	size_t left;
};

static int slurp_one(const void *data, size_t len, void *arg)
{
	struct slurp_ctx *c = arg;

	if (len > c->left)
		return -EFBIG;
	buf_add(c->out, data, len);
	c->left -= len;
	return 0;
}

int img_fs_slurp(struct img_fs *fs, const char *path, size_t max, struct buf *out, struct buf *err)
{
	struct img_stat st;
	int rc = img_fs_stat(fs, path, &st, err);

	if (rc < 0)
		return rc;
	if (S_ISREG(st.mode) && st.size > max) {
		buf_printf(err, "cannot read %s in the %s filesystem on %s: it has %" PRIu64
			   " bytes, more than the %zu allowed", path, img_fs_type(fs), img_dev_desc(fs->dev), st.size,
			   max);
		return -EFBIG;
	}
	struct slurp_ctx c = { .out = out, .left = max };
	rc = img_fs_read_file(fs, path, slurp_one, &c, err);
	if (rc == -EFBIG)
		buf_printf(err, "cannot read %s in the %s filesystem on %s: it is larger than the %zu bytes allowed",
			   path, img_fs_type(fs), img_dev_desc(fs->dev), max);
	return rc;
}
