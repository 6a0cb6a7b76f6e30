/*
 * dev.c - struct img_dev: a readable linear device behind a small ops table.
 *
 * Three kinds of device share it: raw image files (pread on a file
 * descriptor), windows onto another device (partitions), and whatever a
 * caller serves through struct img_dev_ops (qcow2.c for qcow2 images, the
 * backup module for its chunk store).  Every read is bounds-checked here once,
 * so the ops never see a request past the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image_internal.h"
#include "util/common.h"

struct img_dev {
	const struct img_dev_ops *ops;
	void *priv;
	uint64_t size;
	char *desc;
};

int img_dev_new(const struct img_dev_ops *ops, void *priv, uint64_t size, const char *desc,
		struct img_dev **out, struct buf *err)
{
	*out = NULL;
	if (!ops || !ops->pread) {
		if (ops && ops->close)
			ops->close(priv);
		buf_printf(err, "cannot create a device for %s: no read operation given", desc ? desc : "an image");
		return -EINVAL;
	}
	struct img_dev *d = xcalloc(1, sizeof(*d));
	d->ops = ops;
	d->priv = priv;
	d->size = size;
	d->desc = xstrdup(desc ? desc : "image");
	*out = d;
	return 0;
}

uint64_t img_dev_size(const struct img_dev *dev)
{
	return dev->size;
}

const char *img_dev_desc(const struct img_dev *dev)
{
	return dev->desc;
}

int img_dev_pread(struct img_dev *dev, void *buf, size_t len, uint64_t off, struct buf *err)
{
	if (off > dev->size || len > dev->size - off) {
		buf_printf(err, "cannot read %zu bytes at offset %" PRIu64 " of %s: past the end of the %" PRIu64
			   "-byte device", len, off, dev->desc, dev->size);
		return -EINVAL;
	}
	if (len == 0)
		return 0;
	int rc = dev->ops->pread(dev->priv, buf, len, off);
	if (rc < 0)
		buf_printf(err, "cannot read %zu bytes at offset %" PRIu64 " of %s: %s", len, off, dev->desc,
			   strerror(-rc));
	return rc;
}

void img_dev_free(struct img_dev *dev)
{
	if (!dev)
		return;
	if (dev->ops->close)
		dev->ops->close(dev->priv);
	free(dev->desc);
	free(dev);
}

/* ---- raw files ---- */

struct raw_file {
	int fd;
};

static int raw_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct raw_file *r = priv;
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(r->fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)	/* the file shrank under us */
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void raw_close(void *priv)
{
	struct raw_file *r = priv;

	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

static const struct img_dev_ops raw_ops = { .pread = raw_pread, .close = raw_close };

int img_dev_open_raw_fd(int fd, const char *desc, struct img_dev **out, struct buf *err)
{
	struct stat st;
	uint64_t size;

	*out = NULL;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		buf_printf(err, "cannot inspect image %s: %s", desc, strerror(-rc));
		close(fd);
		return rc;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		if (end < 0) {
			int rc = -errno;
			buf_printf(err, "cannot find the size of block device %s: %s", desc, strerror(-rc));
			close(fd);
			return rc;
		}
		size = (uint64_t)end;
	} else {
		buf_printf(err, "cannot open image %s: not a regular file or block device", desc);
		close(fd);
		return -EINVAL;
	}
	struct raw_file *r = xmalloc(sizeof(*r));
	r->fd = fd;
	return img_dev_new(&raw_ops, r, size, desc, out, err);
}

/* ---- windows (partitions) ---- */

struct window {
	struct img_dev *parent;
	uint64_t off;
};

static int window_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct window *w = priv;

	return w->parent->ops->pread(w->parent->priv, buf, len, w->off + off);
}

static const struct img_dev_ops window_ops = { .pread = window_pread, .close = free };

int img_dev_window(struct img_dev *dev, uint64_t off, uint64_t len, struct img_dev **out, struct buf *err)
{
	*out = NULL;
	if (off > dev->size || len > dev->size - off) {
		buf_printf(err, "cannot use bytes %" PRIu64 "..%" PRIu64 " of %s: the device has only %" PRIu64
			   " bytes", off, off + len, dev->desc, dev->size);
		return -EINVAL;
	}
	struct window *w = xmalloc(sizeof(*w));
	w->parent = dev;
	w->off = off;
	__do_free char *desc = xasprintf("bytes %" PRIu64 "+%" PRIu64 " of %s", off, len, dev->desc);
	return img_dev_new(&window_ops, w, len, desc, out, err);
}
