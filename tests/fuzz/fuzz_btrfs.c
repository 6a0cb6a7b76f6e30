/*
 * fuzz_btrfs.c - fuzz target for the btrfs driver (src/image/btrfs.c).
 *
 * Input: a sparse btrfs image as records (offset le64, length le32, bytes),
 * served as a 256 MiB device whose other bytes read as zeros, so a seed is
 * only the superblock and the tree nodes (tests/fuzz/corpus/btrfs: mkfs.btrfs
 * -n 4096 --rootdir of a small tree).  The target opens the filesystem and
 * walks it from the root through the driver table: readdir, lookup of each
 * name (btrfs keeps names twice, by hash and by index, so a damaged image
 * may make them disagree: not checked), getattr, reading regular files (at most 1 MiB each, in two pieces) and
 * symlinks, with limits on depth and entries.  Checked besides "no crash, no
 * leak, no hang": every failure carries a message, and a read never returns
 * more than asked.
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

#define FUZZ_DEV_SIZE (256u << 20)
#define FUZZ_MAX_DEPTH 6
#define FUZZ_MAX_ENTRIES 4000
#define FUZZ_MAX_READ (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as records: offset (le64), length (le32), bytes. */
struct mem {
	const uint8_t *data;
	size_t size;
};

static uint64_t rd_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

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
	fprintf(stderr, "fuzz_btrfs: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct mem *m = priv;
	size_t pos = 0;

	memset(buf, 0, len);
	while (m->size - pos >= 12) {
		uint64_t roff = rd_le(m->data + pos, 8);
		size_t rlen = (size_t)rd_le(m->data + pos + 8, 4);
		pos += 12;
		if (rlen > m->size - pos)
			rlen = m->size - pos;
		/* the overlap of [roff, roff+rlen) and [off, off+len) */
		if (roff < off + len && off < roff + rlen && roff + rlen > roff) {
			uint64_t a = roff > off ? roff : off;
			uint64_t b = roff + rlen < off + len ? roff + rlen : off + len;
			memcpy((uint8_t *)buf + (a - off), m->data + pos + (a - roff), (size_t)(b - a));
		}
		pos += rlen;
	}
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
		/* lookup reads the name-hash items, readdir the index: a damaged
		 * image may make them disagree, so only the error contract holds */
		(void)ino;
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
	struct walk w = { .d = &img_btrfs_driver };
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
			if (strcmp(w.d->type(w.priv), "btrfs"))
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

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_btrfs", argc, argv); }
#endif
