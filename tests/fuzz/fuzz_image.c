/*
 * fuzz_image.c - fuzz target for the image library: partition tables,
 * filesystem probing, the ext2/3/4 and XFS drivers, path walking, and the
 * qcow2 reader.
 *
 * Input: a whole disk image.  If it starts with the qcow2 magic it is written
 * to a memfd and opened with img_dev_open_file (the qcow2 reader, its
 * tables, snapshots and backing-file handling) and with img_dev_open_fds
 * (as the image helper opens it: alone, and with a copy of itself given as
 * its backing file); otherwise it is served from memory through img_dev_new.  Either way every partition (or the whole
 * disk) is opened, the root directory listed and a few files read.
 * Checked besides "no crash, no leak, no hang": every failure carries a
 * message, and no read returns more than it was asked for.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FILES 8
#define MAX_READ (1u << 20)

static void die(const char *what)
{
	fprintf(stderr, "fuzz_image: %s\n", what);
	abort();
}

static void check_err(int rc, const struct buf *err, const char *what)
{
	if (rc < 0 && err->len == 0)
		die(what);
}

struct mem {
	const uint8_t *data;
};

static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	memcpy(buf, ((struct mem *)priv)->data + off, len);
	return 0;
}

static const struct img_dev_ops mem_ops = { .pread = mem_pread, .close = free };

struct walk {
	char names[MAX_FILES][256];
	int n;
};

static int on_entry(const char *name, const struct img_stat *st, void *arg)
{
	struct walk *w = arg;

	if (!name[0] || strlen(name) > 255)
		die("bad entry name");
	if (w->n < MAX_FILES && (S_ISREG(st->mode) || S_ISLNK(st->mode) || S_ISDIR(st->mode)))
		snprintf(w->names[w->n++], sizeof(w->names[0]), "/%s", name);
	return 0;
}

static void read_fs(struct img_fs *fs)
{
	struct walk w = { .n = 0 };
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct img_stat st;

	int rc = img_fs_list(fs, "/", on_entry, &w, &err);
	check_err(rc, &err, "list failed without a message");
	for (int i = 0; i < w.n; i++) {
		buf_reset(&err);
		buf_reset(&out);
		rc = img_fs_slurp(fs, w.names[i], MAX_READ, &out, &err);
		check_err(rc, &err, "slurp failed without a message");
		if (rc == 0 && out.len > MAX_READ)
			die("slurp returned more than allowed");
		buf_reset(&err);
		if (img_fs_lstat(fs, w.names[i], &st, &err) == 0 && S_ISLNK(st.mode)) {
			buf_reset(&out);
			img_fs_readlink(fs, w.names[i], &out, &err);
		}
		buf_reset(&err);
		img_fs_list(fs, w.names[i], on_entry, &(struct walk){ .n = 0 }, &err);
	}
	buf_release(&err);
	buf_release(&out);
}

static void walk_dev(struct img_dev *dev)
{
	struct img_partlist pl;
	struct buf err = BUF_INIT;
	struct img_fs *fs = NULL;

	img_fs_probe(dev);
	int rc = img_partitions(dev, &pl, &err);
	check_err(rc, &err, "partitions failed without a message");
	if (rc == 0) {
		if (pl.n == 0) {
			buf_reset(&err);
			rc = img_fs_open_partition(dev, 0, &fs, &err);
			check_err(rc, &err, "open failed without a message");
			if (rc == 0) {
				read_fs(fs);
				img_fs_free(fs);
			}
		}
		for (size_t i = 0; i < pl.n; i++) {
			if (pl.parts[i].start + pl.parts[i].size > img_dev_size(dev))
				die("partition outside the device");
			buf_reset(&err);
			rc = img_fs_open_partition(dev, pl.parts[i].number, &fs, &err);
			check_err(rc, &err, "open partition failed without a message");
			if (rc == 0) {
				read_fs(fs);
				img_fs_free(fs);
			}
		}
		img_partlist_release(&pl);
	}
	buf_release(&err);
}

static int memfd_of(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_image", MFD_CLOEXEC);

	if (fd < 0)
		die("memfd_create failed");
	if (write(fd, data, size) != (ssize_t)size)
		die("memfd write failed");
	return fd;
}

/* The chain as descriptors: the image alone, then with a copy as its backing file. */
static void run_qcow2_fds(const uint8_t *data, size_t size, int fd)
{
	static const char *const names[] = { "fuzz image", "fuzz backing" };
	struct buf err = BUF_INIT;
	struct img_dev *dev = NULL;

	for (size_t n = 1; n <= 2; n++) {
		int fds[2] = { dup(fd), n == 2 ? memfd_of(data, size) : -1 };
		if (fds[0] < 0)
			die("dup failed");
		buf_reset(&err);
		int rc = img_dev_open_fds(fds, names, n, NULL, NULL, &dev, &err);
		check_err(rc, &err, "qcow2 open from fds failed without a message");
		if (rc == 0) {
			walk_dev(dev);
			img_dev_free(dev);
		}
	}
	buf_release(&err);
}

static void run_qcow2(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct img_dev *dev = NULL;
	int fd = memfd_of(data, size);

	char *path = xasprintf("/proc/self/fd/%d", fd);
	int rc = img_dev_open_file(path, NULL, NULL, &dev, &err);
	check_err(rc, &err, "qcow2 open failed without a message");
	if (rc == 0) {
		walk_dev(dev);
		img_dev_free(dev);
	}
	/* the first snapshot, if any, by id */
	buf_reset(&err);
	if (img_dev_open_file(path, "qcow2", "1", &dev, &err) == 0) {
		walk_dev(dev);
		img_dev_free(dev);
	}
	free(path);
	run_qcow2_fds(data, size, fd);
	close(fd);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4 && memcmp(data, "QFI\xfb", 4) == 0) {
		run_qcow2(data, size);
		return 0;
	}
	struct mem *m = xmalloc(sizeof(*m));
	struct img_dev *dev = NULL;
	struct buf err = BUF_INIT;
	m->data = data;
	if (img_dev_new(&mem_ops, m, size, "fuzz input", &dev, &err) < 0)
		die("img_dev_new failed");
	walk_dev(dev);
	img_dev_free(dev);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_image", argc, argv); }
#endif
