/*
 * fswalk.h - the harness the filesystem-driver fuzz targets share
 * (fuzz_xfs.c, fuzz_btrfs.c): the input is served as a device through
 * img_dev_new() by the target's own pread (how it maps the input to device
 * bytes differs), the target's driver opens it and the filesystem is walked
 * from the root through the driver table: readdir, lookup of each name,
 * getattr, reading regular files (at most 1 MiB each, in two pieces) and
 * symlinks, with limits on depth and entries (directory cycles are cut by
 * the depth limit).  Checked besides "no crash, no leak, no hang": every
 * failure carries a message, readdir names are plain names, a read never
 * returns more than asked, the driver's type is the target's, and (when the
 * target asks for it) lookup finds the inode readdir listed first under
 * that name.  Included by each target; fuzz targets are single-threaded.
 */
#ifndef CORRAL_FUZZ_FSWALK_H
#define CORRAL_FUZZ_FSWALK_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image_internal.h"
#include "util/buf.h"

#define FUZZ_MAX_DEPTH 6
#define FUZZ_MAX_ENTRIES 4000
#define FUZZ_MAX_READ (1u << 20)

/* The input, as the target's pread gets it (its priv). */
struct fswalk_input {
	const uint8_t *data;
	size_t size;
};

/* What a target walks with. */
struct fswalk_target {
	const char *name;	/* "fuzz_xfs", in messages */
	const struct img_fs_driver *driver;
	const char *type;	/* what driver->type must answer */
	uint64_t dev_size;
	int (*pread)(void *priv, void *buf, size_t len, uint64_t off); /* priv: struct fswalk_input */
	bool lookup_exact;	/* lookup must find what readdir listed */
};

struct fswalk {
	const struct fswalk_target *t;
	void *priv;
	size_t entries;
	uint8_t *rbuf;
};

struct fswalk_names {
	char **name;
	uint64_t *ino;
	size_t n;
};

static const char *fswalk_name = "fuzz";

static void fswalk_die(const char *what, const char *detail)
{
	fprintf(stderr, "%s: %s%s%s\n", fswalk_name, what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void fswalk_input_close(void *priv)
{
	free(priv);
}

static void fswalk_check_rc(int rc, const struct buf *err, const char *op)
{
	if (rc < 0 && err->len == 0 && rc != -ENOENT)
		fswalk_die(op, "failed without a message");
}

static int fswalk_collect(const char *name, const struct img_stat *st, void *arg)
{
	struct fswalk_names *n = arg;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		fswalk_die("readdir", "bad name");
	n->name = realloc(n->name, (n->n + 1) * sizeof(*n->name));
	n->ino = realloc(n->ino, (n->n + 1) * sizeof(*n->ino));
	if (!n->name || !n->ino)
		abort();
	n->name[n->n] = xstrdup(name);
	n->ino[n->n++] = st->ino;
	return n->n >= FUZZ_MAX_ENTRIES ? 1 : 0;
}

static void fswalk_file(struct fswalk *w, uint64_t ino, const struct img_stat *st)
{
	const struct img_fs_driver *d = w->t->driver;
	struct buf err = BUF_INIT, out = BUF_INIT;
	size_t got = 0, half = FUZZ_MAX_READ / 2;
	int rc;

	if (S_ISREG(st->mode)) {
		for (uint64_t off = 0; off < FUZZ_MAX_READ; off += half) {
			rc = d->read(w->priv, ino, off, w->rbuf, half, &got, &err);
			fswalk_check_rc(rc, &err, "read");
			if (rc == 0 && got > half)
				fswalk_die("read", "returned more than asked");
			if (rc < 0 || got < half)
				break;
		}
	} else if (S_ISLNK(st->mode)) {
		rc = d->readlink(w->priv, ino, &out, &err);
		fswalk_check_rc(rc, &err, "readlink");
	}
	buf_release(&out);
	buf_release(&err);
}

static void fswalk_dir(struct fswalk *w, uint64_t dir, int depth)
{
	const struct img_fs_driver *d = w->t->driver;
	struct fswalk_names n = { 0 };
	struct buf err = BUF_INIT;
	int rc = d->readdir(w->priv, dir, fswalk_collect, &n, &err);

	fswalk_check_rc(rc, &err, "readdir");
	for (size_t i = 0; i < n.n && w->entries < FUZZ_MAX_ENTRIES; i++, w->entries++) {
		struct img_stat st;
		uint64_t ino;
		buf_reset(&err);
		rc = d->lookup(w->priv, dir, n.name[i], &ino, &err);
		fswalk_check_rc(rc, &err, "lookup");
		if (w->t->lookup_exact) {
			/* lookup finds the first entry of that name readdir listed */
			size_t first = 0;
			while (strcmp(n.name[first], n.name[i]))
				first++;
			if (rc != 0 || ino != n.ino[first])
				fswalk_die("lookup", "does not find what readdir listed");
		}
		buf_reset(&err);
		rc = d->getattr(w->priv, n.ino[i], &st, &err);
		fswalk_check_rc(rc, &err, "getattr");
		if (rc < 0)
			continue;
		if (S_ISDIR(st.mode)) {
			if (depth < FUZZ_MAX_DEPTH)
				fswalk_dir(w, n.ino[i], depth + 1);
		} else {
			fswalk_file(w, n.ino[i], &st);
		}
	}
	for (size_t i = 0; i < n.n; i++)
		free(n.name[i]);
	free(n.name);
	free(n.ino);
	buf_release(&err);
}

/* One input through target t (LLVMFuzzerTestOneInput's body): always 0. */
static int fswalk_run(const struct fswalk_target *t, const uint8_t *data, size_t size)
{
	const struct img_dev_ops ops = { .pread = t->pread, .close = fswalk_input_close };
	struct fswalk_input *in = xmalloc(sizeof(*in));
	struct img_dev *dev;
	struct buf err = BUF_INIT;
	struct fswalk w = { .t = t };
	uint64_t root;

	fswalk_name = t->name;
	in->data = data;
	in->size = size;
	if (img_dev_new(&ops, in, t->dev_size, "fuzz", &dev, &err) != 0)
		fswalk_die("img_dev_new", err.s);
	if (t->driver->match(dev)) {
		int rc = t->driver->open(dev, &w.priv, &root, &err);
		fswalk_check_rc(rc, &err, "open");
		if (rc == 0) {
			struct img_stat st;
			w.rbuf = xmalloc(FUZZ_MAX_READ / 2);
			buf_reset(&err);
			rc = t->driver->getattr(w.priv, root, &st, &err);
			fswalk_check_rc(rc, &err, "getattr");
			fswalk_dir(&w, root, 0);
			if (strcmp(t->driver->type(w.priv), t->type))
				fswalk_die("type", t->driver->type(w.priv));
			free(w.rbuf);
			t->driver->close(w.priv);
		}
	}
	img_dev_free(dev);
	buf_release(&err);
	return 0;
}

#endif
