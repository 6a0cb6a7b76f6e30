/*
 * test_volume.c - volumes against the real qemu-img and a real SQLite store.
 *
 * Each test gets a fresh temp directory holding state.db and storage/.  Source
 * images for imports are made with qemu-img and filled with known bytes with
 * qemu-io, and imports are checked with `qemu-img compare`.  The out-of-space
 * tests mount a small tmpfs and are skipped when that is not allowed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/volume.h"
#include "core/store.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

struct fix {
	char dir[64];
	char *storage; /* <dir>/storage */
	char *src;     /* <dir>/src: source images for imports */
	char *mnt;     /* a tmpfs mounted by the test, or NULL */
	struct store *st;
};

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fix *f = xcalloc(1, sizeof(*f));
	struct buf err = BUF_INIT;
	__do_free char *db = NULL;

	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-vol-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->storage = xasprintf("%s/storage", f->dir);
	f->src = xasprintf("%s/src", f->dir);
	assert_int_equal(mkdir(f->storage, 0700), 0);
	assert_int_equal(mkdir(f->src, 0700), 0);
	db = xasprintf("%s/state.db", f->dir);
	f->st = store_open(db, &err);
	if (!f->st)
		fail_msg("store_open: %s", err.s);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	store_close(f->st);
	if (f->mnt) {
		umount2(f->mnt, MNT_DETACH);
		free(f->mnt);
	}
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->storage);
	free(f->src);
	free(f);
	return 0;
}

/* Run a program (argv NULL-terminated) and return its exit status. */
static int run(const char *arg0, ...)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;
	va_list ap;
	int rc;

	cmd_add(&c, arg0);
	va_start(ap, arg0);
	for (const char *a; (a = va_arg(ap, const char *));)
		cmd_add(&c, a);
	va_end(ap);
	rc = cmd_run(&c, &out, &err);
	if (rc != 0) {
		__do_free char *line = cmd_to_string(&c);
		print_message("'%s' exited %d: %s%s\n", line, rc, out.s, err.s);
	}
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

/* Entries in a directory, "." and ".." excluded. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static size_t count_volumes(struct store *st)
{
	struct vol_record *list;
	size_t n;
	assert_int_equal(store_vol_list(st, &list, &n), 0);
	store_vol_list_free(list, n);
	return n;
}

static char *storage_file(const struct fix *f, const char *file) { return xasprintf("%s/%s", f->storage, file); }

static void assert_capacity(const char *path, const char *format, uint64_t want)
{
	struct buf err = BUF_INIT;
	struct vol_info info = { 0, 0 };
	int r = vol_info(path, format, &info, &err);
	if (r < 0)
		fail_msg("vol_info %s: %d %s", path, r, err.s);
	assert_int_equal(info.capacity, want);
	buf_release(&err);
}

/* Expect `r` to be `want` with a message in err containing `needle`; then reset err. */
static void expect_err(int r, int want, struct buf *err, const char *needle)
{
	if (r != want)
		fail_msg("expected %d (%s), got %d: '%s'", want, strerror(-want), r, err->s);
	if (!err->len)
		fail_msg("no error message for %s", strerror(-want));
	if (needle && !strstr(err->s, needle))
		fail_msg("error '%s' does not mention '%s'", err->s, needle);
	if (getenv("SHOW_ERRORS"))
		print_message("  err: %s\n", err->s);
	assert_null(strchr(err->s, '\n'));
	buf_reset(err);
}

/* A 64 MiB raw image with known bytes at 0, 5M and 40M, elsewhere holes. */
static char *make_source_raw(const struct fix *f)
{
	char *p = xasprintf("%s/disk.raw", f->src);
	assert_int_equal(run("qemu-img", "create", "-q", "-f", "raw", p, "64M", NULL), 0);
	assert_int_equal(run("qemu-io", "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "write -P 0x5c 5M 64k", "-c",
			     "write -P 0xcd 40M 3M", p, NULL),
			 0);
	return p;
}

static char *make_source(const struct fix *f, const char *raw, const char *fmt, const char *opts)
{
	char *p = xasprintf("%s/disk.%s", f->src, fmt);
	if (opts)
		assert_int_equal(run("qemu-img", "convert", "-f", "raw", "-O", fmt, "-o", opts, raw, p, NULL), 0);
	else
		assert_int_equal(run("qemu-img", "convert", "-f", "raw", "-O", fmt, raw, p, NULL), 0);
	return p;
}

/* Mount a tmpfs of `size` at <dir>/small; false (test skipped) if not allowed. */
static bool mount_small(struct fix *f, const char *size)
{
	__do_free char *opts = xasprintf("size=%s,mode=0700", size);
	char *p = xasprintf("%s/small", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	if (geteuid() != 0 || mount("tmpfs", p, "tmpfs", 0, opts) < 0) {
		free(p);
		return false;
	}
	f->mnt = p;
	return true;
}

static void fill_file(const char *path, size_t bytes)
{
	__do_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	char block[4096];
	memset(block, 0x55, sizeof(block));
	assert_true(fd >= 0);
	while (bytes) {
		size_t n = bytes < sizeof(block) ? bytes : sizeof(block);
		assert_int_equal(write(fd, block, n), (ssize_t)n);
		bytes -= n;
	}
}

/* ---- create ---- */

static void test_create_qcow2(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_free char *path = storage_file(f, "web.qcow2");
	struct stat sb;

	assert_int_equal(vol_create(f->st, f->storage, "web", GIB, "qcow2", &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(store_vol_get(f->st, "web", &rec), 0);
	assert_string_equal(rec.format, "qcow2");
	assert_string_equal(rec.path, path);
	vol_record_release(&rec);
	assert_capacity(path, "qcow2", GIB);
	assert_int_equal(run("qemu-img", "check", "-q", "-f", "qcow2", path, NULL), 0);
	assert_int_equal(count_entries(f->storage), 1);
	buf_release(&err);
}

static void test_create_raw(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_info info;
	__do_free char *path = storage_file(f, "db-1.raw");
	struct stat sb;

	assert_int_equal(vol_create(f->st, f->storage, "db-1", 64 * MIB, "raw", &err), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, 64 * MIB);
	assert_true((uint64_t)sb.st_blocks * 512 < MIB); /* thin */
	assert_int_equal(vol_info(path, "raw", &info, &err), 0);
	assert_int_equal(info.capacity, 64 * MIB);
	assert_true(info.allocation < MIB);
	buf_release(&err);
}

static void test_create_trailing_slash_dir(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_free char *dir = xasprintf("%s/", f->storage);
	__do_free char *path = storage_file(f, "a.raw");

	assert_int_equal(vol_create(f->st, dir, "a", MIB, "raw", &err), 0);
	assert_int_equal(store_vol_get(f->st, "a", &rec), 0);
	assert_string_equal(rec.path, path);
	vol_record_release(&rec);
	buf_release(&err);
}

static void test_create_duplicate(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;

	assert_int_equal(vol_create(f->st, f->storage, "dup", 8 * MIB, "qcow2", &err), 0);
	expect_err(vol_create(f->st, f->storage, "dup", 8 * MIB, "qcow2", &err), -EEXIST, &err, "already exists");
	expect_err(vol_create(f->st, f->storage, "dup", 8 * MIB, "raw", &err), -EEXIST, &err, "dup");
	assert_int_equal(count_entries(f->storage), 1);
	assert_int_equal(count_volumes(f->st), 1);
	buf_release(&err);
}

static void test_create_file_in_the_way(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *path = storage_file(f, "old.qcow2");
	struct stat sb;

	fill_file(path, 1000);
	expect_err(vol_create(f->st, f->storage, "old", 8 * MIB, "qcow2", &err), -EEXIST, &err, path);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 1000); /* untouched */
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_create_bad_names(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	char long_name[65];
	const char *bad[] = { "../x", "a/b", long_name, "tab\there", "nl\n", "\x1b[31mred", "", ".hidden",
			      "-rf", "..", "a b", "semi;colon" };

	int in_dir = count_entries(f->dir); /* state.db (+ -wal, -shm), storage, src */

	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		expect_err(vol_create(f->st, f->storage, bad[i], 8 * MIB, "qcow2", &err), -EINVAL, &err,
			   "invalid volume name");
		assert_int_equal(count_entries(f->storage), 0);
		assert_int_equal(count_entries(f->dir), in_dir); /* nothing escaped storage/ */
	}
	expect_err(vol_create(f->st, f->storage, NULL, 8 * MIB, "qcow2", &err), -EINVAL, &err, "invalid volume name");
	/* 63 characters is fine. */
	long_name[63] = '\0';
	assert_int_equal(vol_create(f->st, f->storage, long_name, 8 * MIB, "qcow2", &err), 0);
	assert_int_equal(count_volumes(f->st), 1);
	buf_release(&err);
}

static void test_create_bad_size_format_dir(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;

	expect_err(vol_create(f->st, f->storage, "s", 0, "qcow2", &err), -EINVAL, &err, "minimum");
	expect_err(vol_create(f->st, f->storage, "s", MIB - 512, "raw", &err), -EINVAL, &err, "minimum");
	expect_err(vol_create(f->st, f->storage, "s", VOL_MAX_SIZE + 512, "qcow2", &err), -EINVAL, &err, "maximum");
	expect_err(vol_create(f->st, f->storage, "s", UINT64_MAX, "raw", &err), -EINVAL, &err, "maximum");
	expect_err(vol_create(f->st, f->storage, "s", MIB + 1, "raw", &err), -EINVAL, &err, "512");
	expect_err(vol_create(f->st, f->storage, "s", MIB, "vmdk", &err), -EINVAL, &err, "qcow2 or raw");
	expect_err(vol_create(f->st, f->storage, "s", MIB, "", &err), -EINVAL, &err, "qcow2 or raw");
	expect_err(vol_create(f->st, f->storage, "s", MIB, NULL, &err), -EINVAL, &err, "qcow2 or raw");
	expect_err(vol_create(f->st, "relative/dir", "s", MIB, "raw", &err), -EINVAL, &err, "absolute");
	assert_int_equal(count_entries(f->storage), 0);
	assert_int_equal(count_volumes(f->st), 0);
	/* The limits themselves are accepted (thin, so 64T costs nothing). */
	assert_int_equal(vol_create(f->st, f->storage, "min", VOL_MIN_SIZE, "raw", &err), 0);
	assert_int_equal(vol_create(f->st, f->storage, "max", VOL_MAX_SIZE, "qcow2", &err), 0);
	buf_release(&err);
}

static void test_create_missing_dir(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *dir = xasprintf("%s/nope", f->dir);

	expect_err(vol_create(f->st, dir, "m", MIB, "raw", &err), -ENOENT, &err, dir);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_create_no_space(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *fill = NULL;

	if (!mount_small(f, "4m"))
		skip();
	fill = xasprintf("%s/fill", f->mnt);
	/* 1.0625 MiB free: above the 1 MiB floor, too little for a 64T qcow2's L1 table. */
	fill_file(fill, 4 * MIB - MIB - 64 * 1024);
	expect_err(vol_create(f->st, f->mnt, "huge", VOL_MAX_SIZE, "qcow2", &err), -ENOSPC, &err,
		   "No space left on device");
	assert_int_equal(count_entries(f->mnt), 1);
	assert_int_equal(count_volumes(f->st), 0);
	/* Below the floor nothing is attempted. */
	fill_file(fill, 4 * MIB - 512 * 1024);
	expect_err(vol_create(f->st, f->mnt, "thin", GIB, "raw", &err), -ENOSPC, &err, "not enough space");
	assert_int_equal(count_entries(f->mnt), 1);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

/* ---- info, resize, delete, json ---- */

static void test_info_errors(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_info info;
	__do_free char *path = storage_file(f, "nothing.qcow2");
	__do_free char *junk = storage_file(f, "junk.qcow2");

	expect_err(vol_info(path, "qcow2", &info, &err), -ENOENT, &err, path);
	expect_err(vol_info(path, "vdi", &info, &err), -EINVAL, &err, "qcow2 or raw");
	expect_err(vol_info("rel.qcow2", "qcow2", &info, &err), -EINVAL, &err, "absolute");
	fill_file(junk, 4096);
	expect_err(vol_info(junk, "qcow2", &info, &err), -EIO, &err, "qcow2");
	buf_release(&err);
}

/* vol_stat (listings) agrees with qemu-img info, and says the same when the file is wrong. */
static void test_stat_matches_info(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_info a, b;
	__do_free char *q = storage_file(f, "st.qcow2");
	__do_free char *r = storage_file(f, "st-raw.raw");
	__do_free char *junk = storage_file(f, "junk.qcow2");
	__do_free char *none = storage_file(f, "none.qcow2");

	assert_int_equal(vol_create(f->st, f->storage, "st", 3 * GIB, "qcow2", &err), 0);
	assert_int_equal(vol_create(f->st, f->storage, "st-raw", 96 * MIB, "raw", &err), 0);
	assert_int_equal(run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 5M", q, NULL), 0);
	assert_int_equal(vol_info(q, "qcow2", &a, &err), 0);
	assert_int_equal(vol_stat(q, "qcow2", &b, &err), 0);
	assert_int_equal(a.capacity, b.capacity);
	assert_int_equal(a.allocation, b.allocation);
	assert_int_equal(vol_info(r, "raw", &a, &err), 0);
	assert_int_equal(vol_stat(r, "raw", &b, &err), 0);
	assert_int_equal(a.capacity, b.capacity);
	assert_int_equal(a.allocation, b.allocation);
	fill_file(junk, 4096);
	expect_err(vol_stat(junk, "qcow2", &b, &err), -EIO, &err, "qcow2");
	expect_err(vol_stat(none, "qcow2", &b, &err), -ENOENT, &err, none);
	buf_release(&err);
}

static void test_resize(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *q = storage_file(f, "grow.qcow2");
	__do_free char *r = storage_file(f, "grow-raw.raw");

	assert_int_equal(vol_create(f->st, f->storage, "grow", GIB, "qcow2", &err), 0);
	assert_int_equal(vol_resize_offline(f->st, "grow", 2 * GIB, &err), 0);
	assert_capacity(q, "qcow2", 2 * GIB);
	expect_err(vol_resize_offline(f->st, "grow", GIB, &err), -EINVAL, &err,
		   "volume grow is 2G; shrinking is not supported");
	assert_capacity(q, "qcow2", 2 * GIB);
	assert_int_equal(vol_resize_offline(f->st, "grow", 2 * GIB, &err), 0); /* same size: nothing to do */
	expect_err(vol_resize_offline(f->st, "grow", VOL_MAX_SIZE * 2, &err), -EINVAL, &err, "maximum");
	expect_err(vol_resize_offline(f->st, "grow", 2 * GIB + 1, &err), -EINVAL, &err, "512");

	assert_int_equal(vol_create(f->st, f->storage, "grow-raw", 16 * MIB, "raw", &err), 0);
	assert_int_equal(vol_resize_offline(f->st, "grow-raw", 100 * MIB, &err), 0);
	assert_capacity(r, "raw", 100 * MIB);
	expect_err(vol_resize_offline(f->st, "grow-raw", 99 * MIB, &err), -EINVAL, &err, "shrinking");

	expect_err(vol_resize_offline(f->st, "absent", 2 * GIB, &err), -ENOENT, &err, "absent does not exist");
	expect_err(vol_resize_offline(f->st, "../grow", 2 * GIB, &err), -EINVAL, &err, "invalid volume name");
	buf_release(&err);
}

/* Start `qemu-io -f fmt path` holding the image open (as a running VM would) until *stdin_fd is closed. */
static pid_t hold_image(const char *path, const char *fmt, int *stdin_fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200 };
	__do_close int fd = -EBADF;
	int p[2];
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		dup2(p[0], 0);
		dup2(nul, 1);
		execlp("qemu-io", "qemu-io", "-f", fmt, path, (char *)NULL);
		_exit(127);
	}
	close(p[0]);
	*stdin_fd = p[1];
	/* Wait until QEMU's image locks (bytes 100..299) are taken. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	for (int i = 0; i < 500; i++) {
		fl.l_type = F_WRLCK;
		fl.l_pid = 0;
		assert_int_equal(fcntl(fd, F_OFD_GETLK, &fl), 0);
		if (fl.l_type != F_UNLCK)
			return pid;
		time_sleep_ms(10);
	}
	fail_msg("qemu-io did not lock %s", path);
	return -1;
}

static void test_resize_in_use(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *q = storage_file(f, "busy.qcow2");
	int in = -1, status;
	pid_t pid;

	assert_int_equal(vol_create(f->st, f->storage, "busy", GIB, "qcow2", &err), 0);
	pid = hold_image(q, "qcow2", &in);
	expect_err(vol_resize_offline(f->st, "busy", 2 * GIB, &err), -EIO, &err,
		   "Failed to get \"write\" lock (Is another process using the image");
	/* Inspecting works while the image is open. */
	assert_capacity(q, "qcow2", GIB);
	close(in);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(vol_resize_offline(f->st, "busy", 2 * GIB, &err), 0);
	assert_capacity(q, "qcow2", 2 * GIB);
	buf_release(&err);
}

static void test_delete(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_free char *path = storage_file(f, "gone.qcow2");
	__do_free char *path2 = storage_file(f, "gone2.raw");

	assert_int_equal(vol_create(f->st, f->storage, "gone", 8 * MIB, "qcow2", &err), 0);
	assert_int_equal(vol_create(f->st, f->storage, "keep", 8 * MIB, "qcow2", &err), 0);
	assert_int_equal(vol_delete(f->st, "gone", &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(store_vol_get(f->st, "gone", &rec), -ENOENT);
	assert_int_equal(count_volumes(f->st), 1);
	assert_int_equal(count_entries(f->storage), 1);
	expect_err(vol_delete(f->st, "gone", &err), -ENOENT, &err, "gone does not exist");
	expect_err(vol_delete(f->st, "../keep", &err), -EINVAL, &err, "invalid volume name");

	/* A row whose file already vanished is still removed. */
	assert_int_equal(vol_create(f->st, f->storage, "gone2", 8 * MIB, "raw", &err), 0);
	assert_int_equal(unlink(path2), 0);
	assert_int_equal(vol_delete(f->st, "gone2", &err), 0);
	assert_int_equal(store_vol_get(f->st, "gone2", &rec), -ENOENT);
	assert_int_equal(err.len, 0);
	buf_release(&err);
}

/* An image root's clone reserves its volume before copying: the row, no file; a delete takes a half copy. */
static void test_ext4_reserve(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_free char *path = NULL;
	__do_free char *want = storage_file(f, "c-root.ext4");
	__do_free char *inway = storage_file(f, "d-root.ext4");

	assert_int_equal(vol_ext4_reserve(f->st, f->storage, "c-root", &path, &err), 0);
	assert_string_equal(path, want);
	assert_int_equal(access(path, F_OK), -1); /* the caller copies into it */
	assert_int_equal(store_vol_get(f->st, "c-root", &rec), 0);
	assert_string_equal(rec.format, VOL_EXT4_FORMAT);
	assert_string_equal(rec.path, want);
	vol_record_release(&rec);
	expect_err(vol_ext4_reserve(f->st, f->storage, "c-root", NULL, &err), -EEXIST, &err, "already exists");
	expect_err(vol_ext4_reserve(f->st, f->storage, "../x", NULL, &err), -EINVAL, &err, "invalid volume name");
	fill_file(inway, 1000);
	expect_err(vol_ext4_reserve(f->st, f->storage, "d-root", NULL, &err), -EEXIST, &err, inway);
	assert_int_equal(store_vol_get(f->st, "d-root", &rec), -ENOENT);
	/* a copy that stopped half way goes with the row */
	fill_file(path, 4096);
	assert_int_equal(vol_delete(f->st, "c-root", &err), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(store_vol_get(f->st, "c-root", &rec), -ENOENT);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_to_json(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_json json_t *j = NULL;
	__do_json json_t *k = NULL;
	const char *key;
	json_t *v;
	int i = 0;
	static const char *const keys[] = { "name", "format", "capacity", "allocation", "path", "pool" };

	assert_int_equal(vol_create(f->st, f->storage, "js", 32 * MIB, "qcow2", &err), 0);
	assert_int_equal(store_vol_get(f->st, "js", &rec), 0);
	j = vol_to_json(&rec);
	assert_int_equal(json_object_size(j), 6);
	json_object_foreach(j, key, v) {
		(void)v;
		assert_string_equal(key, keys[i++]);
	}
	assert_string_equal(json_string_value(json_object_get(j, "name")), "js");
	assert_string_equal(json_string_value(json_object_get(j, "format")), "qcow2");
	assert_string_equal(json_string_value(json_object_get(j, "path")), rec.path);
	assert_string_equal(json_string_value(json_object_get(j, "pool")), "default");
	assert_int_equal(json_integer_value(json_object_get(j, "capacity")), 32 * MIB);
	assert_true(json_integer_value(json_object_get(j, "allocation")) > 0);

	assert_int_equal(unlink(rec.path), 0);
	k = vol_to_json(&rec);
	assert_true(json_is_null(json_object_get(k, "capacity")));
	assert_true(json_is_null(json_object_get(k, "allocation")));
	assert_string_equal(json_string_value(json_object_get(k, "name")), "js");
	vol_record_release(&rec);
	buf_release(&err);
}

/* ---- import ---- */

struct progress_log {
	int calls;
	double first, last, prev;
	int64_t last_eta;
	bool monotonic, in_range;
	int cancel_after; /* > 0: answer "cancel" once this many reports came */
};

static int on_progress(void *opaque, double percent, double rate, int64_t eta_s)
{
	struct progress_log *p = opaque;
	if (percent < 0)
		return p->cancel_after && p->calls >= p->cancel_after; /* a tick between reports */
	if (p->calls == 0)
		p->first = percent;
	if (percent < p->prev)
		p->monotonic = false;
	if (percent < 0 || percent > 100 || rate < 0 || eta_s < -1)
		p->in_range = false;
	p->prev = p->last = percent;
	p->last_eta = eta_s;
	p->calls++;
	return p->cancel_after && p->calls >= p->cancel_after;
}

static void import_and_compare(struct fix *f, const char *src, const char *src_fmt, const char *name,
			       const char *format)
{
	struct buf err = BUF_INIT;
	struct progress_log p = { .monotonic = true, .in_range = true };
	struct vol_record rec = { 0 };
	uint64_t vsize = 0;
	struct stat sb;
	int r;

	r = vol_import_check(f->st, src, name, format, &vsize, &err);
	if (r < 0)
		fail_msg("vol_import_check %s: %s", src, err.s);
	assert_int_equal(vsize, 64 * MIB);
	r = vol_import(f->st, f->storage, src, name, format, on_progress, &p, &err);
	if (r < 0)
		fail_msg("vol_import %s: %s", src, err.s);
	assert_true(p.calls >= 1);
	assert_true(p.calls <= 20); /* a 64M import takes well under 4 s */
	assert_true(p.monotonic);
	assert_true(p.in_range);
	assert_true(p.last == 100.0);
	assert_int_equal(p.last_eta, 0);

	assert_int_equal(store_vol_get(f->st, name, &rec), 0);
	assert_string_equal(rec.format, format);
	assert_int_equal(stat(rec.path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_capacity(rec.path, format, 64 * MIB);
	assert_int_equal(run("qemu-img", "compare", "-q", "-f", src_fmt, "-F", format, src, rec.path, NULL), 0);
	vol_record_release(&rec);
	buf_release(&err);
}

static void assert_no_temp_files(const struct fix *f)
{
	DIR *d = opendir(f->storage);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".import.tmp"))
			fail_msg("temp file %s left behind", e->d_name);
	closedir(d);
}

static void test_import_formats(void **state)
{
	struct fix *f = *state;
	__do_free char *raw = make_source_raw(f);
	__do_free char *vmdk = make_source(f, raw, "vmdk", NULL);
	__do_free char *vdi = make_source(f, raw, "vdi", NULL);
	__do_free char *vpc = make_source(f, raw, "vpc", "force_size=on");
	__do_free char *vhdx = make_source(f, raw, "vhdx", NULL);
	__do_free char *qcow2 = make_source(f, raw, "qcow2", NULL);

	import_and_compare(f, raw, "raw", "from-raw", "qcow2");
	import_and_compare(f, raw, "raw", "from-raw.r", "raw");
	import_and_compare(f, vmdk, "vmdk", "from-vmdk", "qcow2");
	import_and_compare(f, vmdk, "vmdk", "from-vmdk-raw", "raw");
	import_and_compare(f, vdi, "vdi", "from-vdi", "qcow2");
	import_and_compare(f, vdi, "vdi", "from-vdi-raw", "raw");
	import_and_compare(f, vpc, "vpc", "from-vpc", "qcow2");
	import_and_compare(f, vhdx, "vhdx", "from-vhdx", "raw");
	import_and_compare(f, qcow2, "qcow2", "from-qcow2", "qcow2");
	assert_int_equal(count_volumes(f->st), 9);
	assert_int_equal(count_entries(f->storage), 9);
	assert_no_temp_files(f);
}

static void test_import_no_callback(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = make_source_raw(f);

	assert_int_equal(vol_import(f->st, f->storage, raw, "quiet", "qcow2", NULL, NULL, &err), 0);
	assert_int_equal(count_volumes(f->st), 1);
	buf_release(&err);
}

static void test_import_text_file_is_raw(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *txt = xasprintf("%s/notes.txt", f->src);
	__do_free char *path = storage_file(f, "notes.raw");
	FILE *fp = fopen(txt, "w");
	uint64_t vsize = 0;

	assert_non_null(fp);
	fputs("not a disk image, just some text\n", fp);
	fclose(fp);
	assert_int_equal(vol_import_check(f->st, txt, "notes", "raw", &vsize, &err), 0);
	assert_int_equal(vsize, 512); /* qemu-img rounds a raw image up to a sector */
	assert_int_equal(vol_import(f->st, f->storage, txt, "notes", "raw", NULL, NULL, &err), 0);
	assert_capacity(path, "raw", 512);
	buf_release(&err);
}

/* With a descriptor, the file opened is what is imported: swapping the name afterwards changes nothing. */
static void test_import_reads_the_descriptor(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *txt = xasprintf("%s/first.txt", f->src);
	__do_free char *path = storage_file(f, "first.raw");
	uint64_t vsize = 0;
	char got[64] = { 0 };
	const char *want = "the file that was checked\n";

	assert_int_equal(fs_write_file_atomic(txt, want, strlen(want), 0600), 0);
	__do_close int fd = open(txt, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* the name now leads elsewhere: a 1 MiB qcow2 would import as something else */
	assert_int_equal(unlink(txt), 0);
	assert_int_equal(symlink("/etc/passwd", txt), 0);
	assert_int_equal(vol_import_check_fd(f->st, fd, txt, "first", "raw", &vsize, &err), 0);
	assert_int_equal(vsize, 512);
	assert_int_equal(vol_import_fd(f->st, f->storage, fd, txt, "first", "raw", NULL, NULL, &err), 0);
	__do_close int in = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	assert_int_equal(read(in, got, sizeof(got) - 1), (ssize_t)sizeof(got) - 1);
	assert_memory_equal(got, want, strlen(want));
	buf_release(&err);
}

static void test_import_bad_sources(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *missing = xasprintf("%s/missing.vmdk", f->src);
	__do_free char *empty = xasprintf("%s/empty.img", f->src);
	__do_free char *qed = xasprintf("%s/disk.qed", f->src);
	__do_free char *raw = make_source_raw(f);
	__do_free char *ctl = xasprintf("%s/a\nb", f->src);
	uint64_t vsize;

	fill_file(empty, 0);
	assert_int_equal(run("qemu-img", "create", "-q", "-f", "qed", qed, "16M", NULL), 0);

	expect_err(vol_import_check(f->st, missing, "v", "qcow2", &vsize, &err), -ENOENT, &err, "does not exist");
	expect_err(vol_import(f->st, f->storage, missing, "v", "qcow2", NULL, NULL, &err), -ENOENT, &err, missing);
	expect_err(vol_import(f->st, f->storage, f->src, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "not a regular file");
	expect_err(vol_import(f->st, f->storage, "disk.raw", "v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "not absolute");
	expect_err(vol_import(f->st, f->storage, ctl, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "control characters");
	expect_err(vol_import(f->st, f->storage, "", "v", "qcow2", NULL, NULL, &err), -EINVAL, &err, NULL);
	expect_err(vol_import(f->st, f->storage, NULL, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err, NULL);
	expect_err(vol_import(f->st, f->storage, empty, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err, "empty");
	expect_err(vol_import(f->st, f->storage, qed, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "is in qed format");
	expect_err(vol_import(f->st, f->storage, "/dev/null", "v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "not a regular file");
	/* Bad name or format on a good source. */
	expect_err(vol_import(f->st, f->storage, raw, "../v", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "invalid volume name");
	expect_err(vol_import(f->st, f->storage, raw, "", "qcow2", NULL, NULL, &err), -EINVAL, &err,
		   "invalid volume name");
	expect_err(vol_import(f->st, f->storage, raw, "v", "vmdk", NULL, NULL, &err), -EINVAL, &err, "qcow2 or raw");
	expect_err(vol_import(f->st, "storage", raw, "v", "qcow2", NULL, NULL, &err), -EINVAL, &err, "absolute");

	assert_int_equal(count_entries(f->storage), 0);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_import_unreadable(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = NULL;

	if (geteuid() == 0)
		skip(); /* root reads anything */
	raw = make_source_raw(f);
	assert_int_equal(chmod(raw, 0), 0);
	expect_err(vol_import(f->st, f->storage, raw, "v", "qcow2", NULL, NULL, &err), -EACCES, &err, raw);
	buf_release(&err);
}

static void test_import_existing_name(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = make_source_raw(f);
	__do_free char *stray = storage_file(f, "stray.raw");
	__do_free char *taken = storage_file(f, "taken.qcow2");
	uint64_t vsize;

	assert_int_equal(vol_create(f->st, f->storage, "taken", 8 * MIB, "qcow2", &err), 0);
	expect_err(vol_import_check(f->st, raw, "taken", "qcow2", &vsize, &err), -EEXIST, &err, "already exists");
	expect_err(vol_import(f->st, f->storage, raw, "taken", "qcow2", NULL, NULL, &err), -EEXIST, &err,
		   "already exists");
	expect_err(vol_import(f->st, f->storage, raw, "taken", "raw", NULL, NULL, &err), -EEXIST, &err,
		   "already exists");
	assert_capacity(taken, "qcow2", 8 * MIB);

	/* An unregistered file with the target name is not overwritten. */
	fill_file(stray, 1000);
	expect_err(vol_import(f->st, f->storage, raw, "stray", "raw", NULL, NULL, &err), -EEXIST, &err, stray);
	assert_int_equal(count_volumes(f->st), 1);
	assert_int_equal(count_entries(f->storage), 2);
	assert_no_temp_files(f);
	buf_release(&err);
}

/* A qcow2 whose header reads fine but whose first L1 entry is corrupt: convert fails midway. */
static char *make_corrupt_qcow2(const struct fix *f)
{
	char *p = xasprintf("%s/corrupt.qcow2", f->src);
	__do_close int fd = -EBADF;
	unsigned char be[8];
	uint64_t l1 = 0;

	assert_int_equal(run("qemu-img", "create", "-q", "-f", "qcow2", p, "64M", NULL), 0);
	assert_int_equal(run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", p, NULL), 0);
	fd = open(p, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, be, 8, 40), 8); /* l1_table_offset */
	for (int i = 0; i < 8; i++)
		l1 = (l1 << 8) | be[i];
	/* L2 offset 0x10200: not cluster aligned. */
	static const unsigned char entry[8] = { 0x80, 0, 0, 0, 0, 0x01, 0x02, 0x00 };
	assert_int_equal(pwrite(fd, entry, 8, (off_t)l1), 8);
	return p;
}

static void test_import_failure_cleans_up(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct progress_log p = { .monotonic = true, .in_range = true };
	__do_free char *bad = make_corrupt_qcow2(f);
	uint64_t vsize;

	/* The check cannot see the corruption; the conversion does. */
	assert_int_equal(vol_import_check(f->st, bad, "broken", "raw", &vsize, &err), 0);
	expect_err(vol_import(f->st, f->storage, bad, "broken", "raw", on_progress, &p, &err), -EIO, &err,
		   "Input/output error");
	assert_true(p.calls == 0 || p.last < 100);
	assert_int_equal(count_entries(f->storage), 0);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_import_stale_and_busy_temp(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = make_source_raw(f);
	__do_free char *tmp = storage_file(f, ".again.import.tmp");
	__do_free char *again = storage_file(f, "again.qcow2");
	__do_free char *racing = storage_file(f, ".racing.import.tmp");
	__do_close int fd = -EBADF;

	/* Left behind by a crashed import: reused. */
	fill_file(tmp, 12345);
	assert_int_equal(vol_import(f->st, f->storage, raw, "again", "qcow2", NULL, NULL, &err), 0);
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(run("qemu-img", "compare", "-q", "-f", "raw", "-F", "qcow2", raw, again, NULL), 0);

	/* Held by a running import: refused, and the other import's file is left alone. */
	fill_file(racing, 100);
	fd = open(racing, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	expect_err(vol_import(f->st, f->storage, raw, "racing", "qcow2", NULL, NULL, &err), -EBUSY, &err,
		   "already running");
	assert_int_equal(access(racing, F_OK), 0);
	assert_int_equal(count_volumes(f->st), 1);
	buf_release(&err);
}

static void test_import_source_in_use(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = make_source_raw(f);
	__do_free char *qcow2 = make_source(f, raw, "qcow2", NULL);
	uint64_t vsize;
	int in = -1, status;
	pid_t pid = hold_image(qcow2, "qcow2", &in);

	/* Probing works on an image a VM has open, copying a disk being written does not. */
	assert_int_equal(vol_import_check(f->st, qcow2, "live", "qcow2", &vsize, &err), 0);
	expect_err(vol_import(f->st, f->storage, qcow2, "live", "qcow2", NULL, NULL, &err), -EIO, &err,
		   "lock");
	close(in);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(count_entries(f->storage), 0);
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

static void test_import_no_space(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = NULL;

	if (!mount_small(f, "8m"))
		skip();
	raw = make_source_raw(f);
	/* Raw needs the whole 64M; qcow2 needs ~4.5M of data and fits. */
	expect_err(vol_import(f->st, f->mnt, raw, "big", "raw", NULL, NULL, &err), -ENOSPC, &err, "not enough space");
	assert_int_equal(count_entries(f->mnt), 0);
	assert_int_equal(vol_import(f->st, f->mnt, raw, "big", "qcow2", NULL, NULL, &err), 0);
	/* Now there is no room for a second copy. */
	expect_err(vol_import(f->st, f->mnt, raw, "big2", "qcow2", NULL, NULL, &err), -ENOSPC, &err,
		   "not enough space");
	assert_int_equal(count_entries(f->mnt), 1);
	assert_int_equal(count_volumes(f->st), 1);
	buf_release(&err);
}

static void test_import_progress_throttled(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct progress_log p = { .monotonic = true, .in_range = true };
	__do_free char *raw = xasprintf("%s/big.raw", f->src);
	int64_t t0, ms;

	/* 1 GiB of data so that qemu-img prints ~100 progress lines over a while. */
	assert_int_equal(run("qemu-img", "create", "-q", "-f", "raw", raw, "2G", NULL), 0);
	assert_int_equal(run("qemu-io", "-f", "raw", "-c", "write -P 0x77 0 512M", "-c", "write -P 0x78 1G 512M", raw,
			     NULL),
			 0);
	t0 = time_mono_ms();
	assert_int_equal(vol_import(f->st, f->storage, raw, "big", "qcow2", on_progress, &p, &err), 0);
	ms = time_mono_ms() - t0;
	print_message("import of 1G data: %d callbacks in %lld ms\n", p.calls, (long long)ms);
	assert_true(p.calls >= 2);
	assert_true(p.calls <= ms / 200 + 2);
	assert_true(p.monotonic);
	assert_true(p.in_range);
	assert_true(p.first < 100);
	assert_true(p.last == 100.0);
	buf_release(&err);
}

/* A cancel (the progress callback answering non-zero) stops qemu-img and keeps nothing. */
static void test_import_cancel(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct progress_log p = { .monotonic = true, .in_range = true, .cancel_after = 1 };
	__do_free char *raw = xasprintf("%s/big.raw", f->src);
	int64_t t0;

	assert_int_equal(run("qemu-img", "create", "-q", "-f", "raw", raw, "2G", NULL), 0);
	assert_int_equal(run("qemu-io", "-f", "raw", "-c", "write -P 0x77 0 1G", raw, NULL), 0);
	t0 = time_mono_ms();
	expect_err(vol_import(f->st, f->storage, raw, "big", "qcow2", on_progress, &p, &err), -ECANCELED, &err,
		   "cancelled");
	assert_true(time_mono_ms() - t0 < 5000);
	assert_int_equal(count_entries(f->storage), 0); /* no image, no temp file */
	assert_int_equal(count_volumes(f->st), 0);
	buf_release(&err);
}

/* A second pool directory <dir>/other, registered as pool "other". */
static char *make_other_pool(const struct fix *f)
{
	char *other = xasprintf("%s/other", f->dir);
	assert_int_equal(mkdir(other, 0700), 0);
	assert_int_equal(store_pool_insert(f->st, "other", other, false), 0);
	return other;
}

static void test_move_refusals(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 };
	__do_free char *other = make_other_pool(f);
	__do_free char *in_the_way = xasprintf("%s/m.qcow2", other);

	assert_int_equal(vol_create(f->st, f->storage, "m", 8 * MIB, "qcow2", &err), 0);
	assert_int_equal(store_vol_get(f->st, "m", &rec), 0);
	assert_string_equal(rec.pool, "default");

	rec.readonly = true;
	expect_err(vol_move_check(f->st, &rec, other, &err), -EBUSY, &err, "template");
	rec.readonly = false;
	rec.backing = xstrdup("base");
	expect_err(vol_move_check(f->st, &rec, other, &err), -EBUSY, &err, "linked clone of base");
	free(rec.backing);
	rec.backing = NULL;
	struct vol_record clone = { .name = "lc", .format = "qcow2", .path = "/nonexistent/lc.qcow2", .backing = "m" };
	assert_int_equal(store_vol_add(f->st, &clone), 0);
	expect_err(vol_move_check(f->st, &rec, other, &err), -EBUSY, &err, "linked clones (lc)");
	assert_int_equal(store_vol_delete(f->st, "lc"), 0);
	assert_int_equal(run("qemu-img", "snapshot", "-c", "s1", rec.path, NULL), 0);
	expect_err(vol_move_check(f->st, &rec, other, &err), -EBUSY, &err, "(s1)");
	assert_int_equal(run("qemu-img", "snapshot", "-d", "s1", rec.path, NULL), 0);
	fill_file(in_the_way, 10);
	expect_err(vol_move_check(f->st, &rec, other, &err), -EEXIST, &err, in_the_way);
	assert_int_equal(unlink(in_the_way), 0);
	expect_err(vol_move_check(f->st, &rec, "relative", &err), -EINVAL, &err, "absolute");
	assert_int_equal(vol_move_check(f->st, &rec, other, &err), 0);
	assert_int_equal(count_entries(other), 0);
	vol_record_release(&rec);
	buf_release(&err);
}

static void test_move_copy(void **state)
{
	struct fix *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record rec = { 0 }, moved = { 0 };
	__do_free char *other = make_other_pool(f);
	__do_free char *ref = xasprintf("%s/ref.qcow2", f->src);
	__do_free char *path = NULL;

	assert_int_equal(vol_create(f->st, f->storage, "m", 16 * MIB, "qcow2", &err), 0);
	assert_int_equal(store_vol_get(f->st, "m", &rec), 0);
	assert_int_equal(run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 2M", rec.path, NULL), 0);
	assert_int_equal(run("cp", rec.path, ref, NULL), 0);

	assert_int_equal(vol_move_copy(&rec, other, NULL, NULL, &path, &err), 0);
	assert_int_equal(count_entries(other), 1); /* no temp file left */
	assert_int_equal(vol_move_finish(f->st, &rec, path, &err), 0);
	assert_int_equal(store_vol_get(f->st, "m", &moved), 0);
	assert_string_equal(moved.path, path);
	assert_string_equal(moved.pool, "other");
	assert_int_equal(access(rec.path, F_OK), -1);
	assert_int_equal(run("qemu-img", "compare", "-q", "-f", "qcow2", "-F", "qcow2", ref, path, NULL), 0);
	assert_int_equal(run("qemu-img", "check", "-q", path, NULL), 0);
	/* Created in a pool's directory: recorded in that pool. */
	assert_int_equal(vol_create(f->st, other, "n", 8 * MIB, "raw", &err), 0);
	vol_record_release(&moved);
	assert_int_equal(store_vol_get(f->st, "n", &moved), 0);
	assert_string_equal(moved.pool, "other");
	vol_record_release(&moved);
	vol_record_release(&rec);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_qcow2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_trailing_slash_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_file_in_the_way, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_bad_size_format_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_no_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stat_matches_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resize_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ext4_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_to_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_no_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_text_file_is_raw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_reads_the_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_bad_sources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_existing_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_failure_cleans_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_stale_and_busy_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_source_in_use, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_no_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_progress_throttled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_copy, setup, teardown),
	};
	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("volume", tests, NULL, NULL);
}
