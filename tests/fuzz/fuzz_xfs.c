/*
 * fuzz_xfs.c - fuzz target for the XFS driver (src/image/xfs.c).
 *
 * Input: the start of an XFS filesystem image.  It is served as a 32 MiB
 * device through img_dev_new(), reads past the input returning zeros (a
 * sparse image), so seeds stay small: mkfs.xfs with an external log and one
 * allocation group keeps all metadata of a small tree in the first few
 * hundred KiB.  The target opens the filesystem and walks it from the root
 * through the driver table: readdir, lookup of each name (which must find
 * the inode readdir reported first under that name), getattr, reading
 * regular files (at most 1 MiB each, in two pieces) and symlinks, with
 * limits on depth and entries
 * (directory cycles are cut by the depth limit).  Checked besides "no
 * crash, no leak, no hang": every failure carries a message, and a read
 * never returns more than asked.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image_internal.h"
#include "util/buf.h"

#define FUZZ_DEV_SIZE (32u << 20)
#define FUZZ_MAX_DEPTH 6
#define FUZZ_MAX_ENTRIES 4000
#define FUZZ_MAX_READ (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct mem {
	const uint8_t *data;
	size_t size;
};

struct walk {
	const struct img_fs_driver *d;
	void *priv;
	size_t entries;
	uint8_t *rbuf;
};

struct names {
	char **name;
	uint64_t *ino;
	size_t n;
};

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_xfs: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = priv;
	size_t have = off < m->size ? m->size - (size_t)off : 0;

	if (have > len)
		have = len;
	if (have)
		memcpy(buf, m->data + off, have);
	memset((uint8_t *)buf + have, 0, len - have);
	return 0;
}

static void mem_close(void *priv)
{
	free(priv);
}

static const struct img_dev_ops mem_ops = { .pread = mem_pread, .close = mem_close };

static void check_rc(int rc, const struct buf *err, const char *op)
{
	if (rc < 0 && err->len == 0 && rc != -ENOENT)
		die(op, "failed without a message");
}

static int collect(const char *name, const struct img_stat *st, void *arg)
{
	struct names *n = arg;

	if (!name[0] || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		die("readdir", "bad name");
	n->name = realloc(n->name, (n->n + 1) * sizeof(*n->name));
	n->ino = realloc(n->ino, (n->n + 1) * sizeof(*n->ino));
	if (!n->name || !n->ino)
		abort();
	n->name[n->n] = xstrdup(name);
	n->ino[n->n++] = st->ino;
	return n->n >= FUZZ_MAX_ENTRIES ? 1 : 0;
}

static void walk_file(struct walk *w, uint64_t ino, const struct img_stat *st)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	size_t got = 0, half = FUZZ_MAX_READ / 2;
	int rc;

	if (S_ISREG(st->mode)) {
		for (uint64_t off = 0; off < FUZZ_MAX_READ; off += half) {
			rc = w->d->read(w->priv, ino, off, w->rbuf, half, &got, &err);
			check_rc(rc, &err, "read");
			if (rc == 0 && got > half)
				die("read", "returned more than asked");
			if (rc < 0 || got < half)
				break;
		}
	} else if (S_ISLNK(st->mode)) {
		rc = w->d->readlink(w->priv, ino, &out, &err);
		check_rc(rc, &err, "readlink");
	}
	buf_release(&out);
	buf_release(&err);
}

static void walk_dir(struct walk *w, uint64_t dir, int depth)
{
	struct names n = { 0 };
	struct buf err = BUF_INIT;
	int rc = w->d->readdir(w->priv, dir, collect, &n, &err);

	check_rc(rc, &err, "readdir");
	for (size_t i = 0; i < n.n && w->entries < FUZZ_MAX_ENTRIES; i++, w->entries++) {
		struct img_stat st;
		uint64_t ino;
		buf_reset(&err);
		rc = w->d->lookup(w->priv, dir, n.name[i], &ino, &err);
		check_rc(rc, &err, "lookup");
		/* lookup finds the first entry of that name readdir listed */
		size_t first = 0;
		while (strcmp(n.name[first], n.name[i]))
			first++;
		if (rc != 0 || ino != n.ino[first])
			die("lookup", "does not find what readdir listed");
		buf_reset(&err);
		rc = w->d->getattr(w->priv, n.ino[i], &st, &err);
		check_rc(rc, &err, "getattr");
		if (rc < 0)
			continue;
		if (S_ISDIR(st.mode)) {
			if (depth < FUZZ_MAX_DEPTH)
				walk_dir(w, n.ino[i], depth + 1);
		} else {
			walk_file(w, n.ino[i], &st);
		}
	}
	for (size_t i = 0; i < n.n; i++)
		free(n.name[i]);
	free(n.name);
	free(n.ino);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mem *m = xmalloc(sizeof(*m));
	struct img_dev *dev;
	struct buf err = BUF_INIT;
	struct walk w = { .d = &img_xfs_driver };
	uint64_t root;

	m->data = data;
	m->size = size;
	if (img_dev_new(&mem_ops, m, FUZZ_DEV_SIZE, "fuzz", &dev, &err) != 0)
		die("img_dev_new", err.s);
	if (w.d->match(dev)) {
		int rc = w.d->open(dev, &w.priv, &root, &err);
		check_rc(rc, &err, "open");
		if (rc == 0) {
			struct img_stat st;
			w.rbuf = xmalloc(FUZZ_MAX_READ / 2);
			buf_reset(&err);
			rc = w.d->getattr(w.priv, root, &st, &err);
			check_rc(rc, &err, "getattr");
			walk_dir(&w, root, 0);
			if (strcmp(w.d->type(w.priv), "xfs"))
				die("type", w.d->type(w.priv));
			free(w.rbuf);
			w.d->close(w.priv);
		}
	}
	img_dev_free(dev);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_xfs", argc, argv); }
#endif
