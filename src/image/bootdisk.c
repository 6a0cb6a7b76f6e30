/*
 * bootdisk.c - the kernel a guest's boot loader would boot, copied out of its
 * disk for `--boot disk-kernel`; see bootdisk.h.
 *
 * The disk is only ever read.  The boot configuration parser reads files
 * through a struct bootcfg_io backed by the img_fs being tried, so it never
 * sees the device.  Output goes to fds the caller opened: no path is ever
 * opened here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/bootdisk.h"
#include "image/image.h"
#include "util/common.h"

/* grub.cfg files are small; a generous cap keeps a hostile image from
 * making us read gigabytes as text. */
#define BOOTCFG_MAX_TEXT (8u << 20)

/* A disk (borrowed) and the filesystem that holds its boot configuration. */
struct boot_disk {
	struct img_dev *dev;
	struct img_dev *win;	/* partition window, NULL for the whole disk */
	struct img_fs *fs;
};

static void boot_disk_close(struct boot_disk *d)
{
	img_fs_free(d->fs);
	img_dev_free(d->win);
	memset(d, 0, sizeof(*d));
}

static int io_read(void *arg, const char *path, struct buf *out)
{
	struct buf e = BUF_INIT;
	int r = img_fs_slurp(arg, path, BOOTCFG_MAX_TEXT, out, &e);
	buf_release(&e);
	return r;
}

struct list_adapter {
	void (*cb)(const char *name, void *cbarg);
	void *cbarg;
};

static int list_one(const char *name, const struct img_stat *st, void *arg)
{
	struct list_adapter *a = arg;
	(void)st;
	a->cb(name, a->cbarg);
	return 0;
}

static int io_list(void *arg, const char *dir, void (*cb)(const char *name, void *cbarg), void *cbarg)
{
	struct list_adapter a = { cb, cbarg };
	struct buf e = BUF_INIT;
	int r = img_fs_list(arg, dir, list_one, &a, &e);
	buf_release(&e);
	return r;
}

/*
 * Look for a boot configuration on `dev`.  1 when found (d->fs and bi->cfg
 * kept), 0 when there is none, or the parse error's -errno when one exists
 * but does not parse (the first such message goes to perr).
 */
static int try_fs(struct img_dev *dev, struct img_fs **fsp, struct img_boot_info *bi, struct buf *perr)
{
	struct img_fs *fs = NULL;
	struct buf e = BUF_INIT;
	int r;

	if (img_fs_open(dev, &fs, &e) < 0) {
		buf_release(&e);
		return 0;
	}
	struct bootcfg_io io = { io_read, io_list, fs };
	r = bootcfg_load(&io, &bi->cfg, &e);
	if (r == 0) {
		snprintf(bi->fstype, sizeof(bi->fstype), "%s", img_fs_type(fs));
		*fsp = fs;
		buf_release(&e);
		return 1;
	}
	boot_config_release(&bi->cfg);
	memset(&bi->cfg, 0, sizeof(bi->cfg));
	if (r != -ENOENT && !perr->len)
		buf_adds(perr, e.s);
	img_fs_free(fs);
	buf_release(&e);
	return r == -ENOENT ? 0 : r;
}

static int boot_find(struct img_dev *dev, struct boot_disk *d, struct img_boot_info *bi, struct buf *err)
{
	struct img_partlist pl = { 0 };
	struct buf seen = BUF_INIT, perr = BUF_INIT;
	int r, parse_r = 0;

	memset(bi, 0, sizeof(*bi));
	d->dev = dev;
	if ((r = img_partitions(d->dev, &pl, err)) < 0)
		return r;
	if (pl.n == 0) {
		const char *t = img_fs_probe(d->dev);
		buf_printf(&seen, "no partition table, filesystem %s", t ? t : "unknown");
		r = try_fs(d->dev, &d->fs, bi, &perr);
		if (r < 0)
			parse_r = r;
		else if (r == 1)
			goto found;
	}
	for (size_t i = 0; i < pl.n; i++)
		buf_printf(&seen, "%s%d %s", i ? ", " : "partitions: ", pl.parts[i].number,
			   pl.parts[i].fstype[0] ? pl.parts[i].fstype : "unknown");
	/* Pass 0: partitions flagged bootable; pass 1: the others. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < pl.n; i++) {
			const struct img_part *p = &pl.parts[i];
			if (p->bootable != (pass == 0))
				continue;
			if (!p->fstype[0])
				continue;
			struct buf e = BUF_INIT;
			if (img_dev_window(d->dev, p->start, p->size, &d->win, &e) < 0) {
				buf_release(&e);
				continue;
			}
			buf_release(&e);
			r = try_fs(d->win, &d->fs, bi, &perr);
			if (r == 1) {
				bi->partition = p->number;
				goto found;
			}
			if (r < 0 && !parse_r)
				parse_r = r;
			img_dev_free(d->win);
			d->win = NULL;
		}
	}
	if (parse_r) {
		buf_adds(err, perr.s);
		r = parse_r;
	} else {
		buf_printf(err, "no GRUB or BLS boot configuration found on the disk (%s)", seen.s);
		r = -ENOENT;
	}
	goto out;
found:
	r = 0;
out:
	img_partlist_release(&pl);
	buf_release(&seen);
	buf_release(&perr);
	return r;
}

static int resolve_file(struct img_fs *fs, const struct boot_config *cfg, const struct boot_entry *e,
			const char *what, const char *p, char **out, struct img_stat *st, struct buf *err);

/* Why entry e cannot boot from fs (its kernel or an initrd), or NULL. */
static char *entry_problem(struct img_fs *fs, const struct boot_config *cfg, const struct boot_entry *e)
{
	struct buf why = BUF_INIT;
	struct img_stat st;
	char *path = NULL;

	if (!e->kernel)
		buf_printf(&why, "boot entry '%s' names no kernel", e->title);
	else if (resolve_file(fs, cfg, e, "kernel", e->kernel, &path, &st, &why) == 0)
		for (size_t k = 0; k < e->n_initrds && !why.len; k++) {
			free(path);
			path = NULL;
			resolve_file(fs, cfg, e, "initrd", e->initrds[k], &path, &st, &why);
		}
	free(path);
	if (!why.len) {
		buf_release(&why);
		return NULL;
	}
	return buf_detach(&why);
}

int img_boot_inspect(struct img_dev *dev, struct img_boot_info *out, struct buf *err)
{
	struct boot_disk d = { 0 };
	int r = boot_find(dev, &d, out, err);
	if (r == 0 && out->cfg.n) {
		out->problems = xcalloc(out->cfg.n, sizeof(*out->problems));
		for (size_t i = 0; i < out->cfg.n; i++)
			out->problems[i] = entry_problem(d.fs, &out->cfg, &out->cfg.entries[i]);
	}
	boot_disk_close(&d);
	return r;
}

void img_boot_info_release(struct img_boot_info *bi)
{
	for (size_t i = 0; bi->problems && i < bi->cfg.n; i++)
		free(bi->problems[i]);
	free(bi->problems);
	boot_config_release(&bi->cfg);
	memset(bi, 0, sizeof(*bi));
}

void img_boot_choice_release(struct img_boot_choice *c)
{
	free(c->title);
	free(c->cmdline);
	free(c->entry_kernel);
	free(c->config);
	memset(c, 0, sizeof(*c));
}

/* Where the file the config calls `p` is on fs; *st gets its attributes. */
static int resolve_file(struct img_fs *fs, const struct boot_config *cfg, const struct boot_entry *e,
			const char *what, const char *p, char **out, struct img_stat *st, struct buf *err)
{
	__do_free char *path = NULL;
	struct buf e1 = BUF_INIT;
	int r;

	if (p[0] == '(' && strchr(p, ')'))
		p = strchr(p, ')') + 1;
	path = p[0] == '/' ? xstrdup(p) : xasprintf("/%s", p);
	r = img_fs_stat(fs, path, st, &e1);
	if (r == -ENOENT && cfg->path && strncmp(cfg->path, "/boot/", 6) == 0 && strncmp(path, "/boot/", 6) != 0) {
		__do_free char *alt = xasprintf("/boot%s", path);
		buf_reset(&e1);
		if ((r = img_fs_stat(fs, alt, st, &e1)) == 0) {
			free(path);
			path = move_ptr(alt);
		}
	}
	if (r < 0) {
		if (r == -ENOENT)
			buf_printf(err, "the %s %s of boot entry '%s' (%s) does not exist on the disk", what, p, e->title,
				   e->origin ? e->origin : cfg->path);
		else
			buf_adds(err, e1.s);
		buf_release(&e1);
		return r;
	}
	buf_release(&e1);
	if (!S_ISREG(st->mode)) {
		buf_printf(err, "the %s %s of boot entry '%s' is not a regular file", what, p, e->title);
		return -EINVAL;
	}
	if (st->size > IMG_BOOT_MAX_FILE) {
		buf_printf(err, "the %s %s of boot entry '%s' is larger than %llu MiB", what, p, e->title,
			   IMG_BOOT_MAX_FILE >> 20);
		return -EFBIG;
	}
	*out = move_ptr(path);
	return 0;
}

struct copy_ctx {
	int fd;
	int werr;
};

static int copy_chunk(const void *data, size_t len, void *arg)
{
	struct copy_ctx *c = arg;
	const char *p = data;
	while (len) {
		ssize_t n = write(c->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			c->werr = errno;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Concatenate the files `paths` of fs into fd; `what` names it in messages. */
static int copy_out(struct img_fs *fs, char *const *paths, size_t n, int fd, const char *what, struct buf *err)
{
	struct copy_ctx c = { .fd = fd };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		r = img_fs_read_file(fs, paths[i], copy_chunk, &c, err);
		if (r < 0 && c.werr)
			buf_printf(err, "cannot write the %s: %s", what, strerror(c.werr));
	}
	return r;
}

/* -ENOENT for no match gets a message listing the entries. */
static int select_entry(const struct boot_config *cfg, const char *want, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = bootcfg_select(cfg, want, &e);

	if (r == -ENOENT && want && *want) {
		buf_printf(err, "no boot entry '%s' in %s; the entries are:", want, cfg->path);
		for (size_t i = 0; i < cfg->n; i++)
			buf_printf(err, "%s %zu '%s'", i ? "," : "", i, cfg->entries[i].title);
		if (!cfg->n)
			buf_adds(err, " none");
	} else if (r < 0) {
		buf_adds(err, e.len ? e.s : "the boot configuration names no default entry");
	}
	buf_release(&e);
	return r;
}

int img_boot_resolve(struct img_dev *dev, const char *want, int kernel_fd, int initrd_fd,
		     struct img_boot_choice *out, struct buf *err)
{
	struct boot_disk d = { 0 };
	struct img_boot_info bi;
	char **initrds = NULL;
	size_t ninit = 0;
	uint64_t total = 0;
	const struct boot_entry *e;
	struct img_stat st;
	__do_free char *kpath = NULL;
	int r, idx;

	memset(out, 0, sizeof(*out));
	if ((r = boot_find(dev, &d, &bi, err)) < 0)
		goto out;
	if ((r = idx = select_entry(&bi.cfg, want, err)) < 0)
		goto out;
	e = &bi.cfg.entries[idx];
	if (!e->kernel || !*e->kernel) {
		buf_printf(err, "boot entry '%s' (%s) loads no Linux kernel", e->title, e->origin ? e->origin : bi.cfg.path);
		r = -ENOTSUP;
		goto out;
	}
	if ((r = resolve_file(d.fs, &bi.cfg, e, "kernel", e->kernel, &kpath, &st, err)) < 0)
		goto out;
	initrds = xcalloc(e->n_initrds + 1, sizeof(char *));
	for (; ninit < e->n_initrds; ninit++) {
		if ((r = resolve_file(d.fs, &bi.cfg, e, "initrd", e->initrds[ninit], &initrds[ninit], &st, err)) < 0)
			goto out;
		total += st.size;
	}
	if (total > IMG_BOOT_MAX_FILE) {
		buf_printf(err, "the initrds of boot entry '%s' are larger than %llu MiB together", e->title,
			   IMG_BOOT_MAX_FILE >> 20);
		r = -EFBIG;
		goto out;
	}
	if ((r = copy_out(d.fs, &kpath, 1, kernel_fd, "kernel", err)) < 0)
		goto out;
	if (ninit && (r = copy_out(d.fs, initrds, ninit, initrd_fd, "initrd", err)) < 0)
		goto out;
	out->initrd = ninit > 0;
	out->index = idx;
	out->title = xstrdup(e->title);
	out->cmdline = xstrdup(e->cmdline ? e->cmdline : "");
	out->entry_kernel = xstrdup(e->kernel);
	out->config = xstrdup(bi.cfg.path ? bi.cfg.path : "");
	out->partition = bi.partition;
	r = 0;
out:
	for (size_t i = 0; i < ninit; i++)
		free(initrds[i]);
	free(initrds);
	img_boot_info_release(&bi);
	boot_disk_close(&d);
	return r;
}
