/*
 * test_rootcopy.c - copies of container roots (src/lxc/rootcopy.c) on the
 * build machine's own filesystem: what a copy keeps (owners of mapped ids,
 * modes, a sticky bit, hard links, symlinks, a FIFO, a device node, an
 * xattr), the method it reports, the atomic swap of two trees, the space
 * check's refusal, and removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <cmocka.h>

#include "lxc/lxc.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"

static char base[64];

static void put(const char *rel, const char *text, mode_t mode, uid_t uid)
{
	__do_free char *p = xasprintf("%s/%s", base, rel);
	assert_int_equal(fs_write_file_atomic(p, text, strlen(text), mode), 0);
	assert_int_equal(chmod(p, mode), 0);
	if (geteuid() == 0)
		assert_int_equal(lchown(p, uid, uid), 0);
}

static void test_copy_keeps_everything(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct stat a, b;
	enum ctrt_copy_method how = CTRT_COPY_BTRFS;
	char target[64];

	__do_free char *src = xasprintf("%s/src", base), *dst = xasprintf("%s/dst", base);
	__do_free char *tmp = xasprintf("%s/src/tmp", base), *etc = xasprintf("%s/src/etc", base);
	assert_int_equal(mkdir(src, 0755), 0);
	assert_int_equal(mkdir(etc, 0755), 0);
	assert_int_equal(mkdir(tmp, 01777), 0);
	assert_int_equal(chmod(tmp, 01777), 0);
	put("src/etc/shadow", "root:*:1\n", 0640, 100000);
	put("src/etc/hosts", "127.0.0.1 localhost\n", 0644, 100042);
	__do_free char *sh = xasprintf("%s/src/etc/shadow", base), *hl = xasprintf("%s/src/etc/shadow-link", base);
	__do_free char *sl = xasprintf("%s/src/etc/sym", base), *ff = xasprintf("%s/src/fifo", base);
	__do_free char *nd = xasprintf("%s/src/null", base);
	assert_int_equal(link(sh, hl), 0);
	assert_int_equal(symlink("/etc/hosts", sl), 0);
	assert_int_equal(mkfifo(ff, 0600), 0);
	bool dev = geteuid() == 0 && mknod(nd, S_IFCHR | 0666, makedev(1, 3)) == 0;
	bool xattr = setxattr(sh, "user.corral", "yes", 3, 0) == 0;

	assert_int_equal(ctrt_tree_copy(src, dst, &how, NULL, NULL, &err), 0);
	assert_true(how == CTRT_COPY_PLAIN || how == CTRT_COPY_REFLINK);

	__do_free char *dsh = xasprintf("%s/etc/shadow", dst), *dhl = xasprintf("%s/etc/shadow-link", dst);
	__do_free char *dsl = xasprintf("%s/etc/sym", dst), *dff = xasprintf("%s/fifo", dst);
	__do_free char *dnd = xasprintf("%s/null", dst), *dtmp = xasprintf("%s/tmp", dst);
	assert_int_equal(lstat(dsh, &a), 0);
	assert_int_equal(a.st_mode & 07777, 0640);
	if (geteuid() == 0)
		assert_int_equal(a.st_uid, 100000);
	assert_int_equal(lstat(dhl, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino); /* the hard link stays one file */
	assert_int_equal(a.st_nlink, 2);
	ssize_t n = readlink(dsl, target, sizeof(target) - 1);
	assert_int_equal(n, (ssize_t)strlen("/etc/hosts"));
	target[n] = 0;
	assert_string_equal(target, "/etc/hosts"); /* not followed */
	assert_int_equal(lstat(dff, &a), 0);
	assert_true(S_ISFIFO(a.st_mode));
	assert_int_equal(lstat(dtmp, &a), 0);
	assert_int_equal(a.st_mode & 07777, 01777);
	if (dev) {
		assert_int_equal(lstat(dnd, &a), 0);
		assert_true(S_ISCHR(a.st_mode));
		assert_int_equal(a.st_rdev, makedev(1, 3));
	}
	if (xattr) {
		char v[8] = "";
		assert_int_equal(getxattr(dsh, "user.corral", v, sizeof(v)), 3);
		assert_memory_equal(v, "yes", 3);
	}
	/* a copy never overwrites */
	assert_int_equal(ctrt_tree_copy(src, dst, NULL, NULL, NULL, &err), -EEXIST);

	/* the swap: each name holds the other tree, at once */
	__do_free char *marker = xasprintf("%s/only-in-dst", dst), *smarker = xasprintf("%s/only-in-dst", src);
	assert_int_equal(fs_write_file_atomic(marker, "x", 1, 0600), 0);
	assert_int_equal(ctrt_tree_exchange(dst, src, &err), 0);
	assert_int_equal(fs_exists(smarker), 1);
	assert_int_equal(fs_exists(marker), 0);

	uint64_t size = 0;
	assert_int_equal(ctrt_tree_size(src, &size), 0);
	assert_true(size > 0);
	assert_int_equal(ctrt_tree_remove(dst, &err), 0);
	assert_int_equal(ctrt_tree_remove(src, &err), 0);
	assert_int_equal(fs_exists(src), 0);
	assert_int_equal(ctrt_tree_remove(src, &err), 0); /* absent: fine */
	buf_release(&err);
}

/* An image root's file (a clone's or move's copy): the same bytes, its holes kept. */
static void test_copy_sparse_file(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct stat a, b;
	enum ctrt_copy_method how = CTRT_COPY_BTRFS;
	char blk[4096], back[4096];
	__do_free char *src = xasprintf("%s/img.ext4", base), *dst = xasprintf("%s/copy.ext4", base);
	int fd = open(src, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	memset(blk, 0x5a, sizeof(blk));
	assert_int_equal(ftruncate(fd, 256 << 20), 0);
	assert_int_equal(pwrite(fd, blk, sizeof(blk), 0), (ssize_t)sizeof(blk));
	assert_int_equal(pwrite(fd, blk, sizeof(blk), 200 << 20), (ssize_t)sizeof(blk));
	close(fd);
	assert_int_equal(ctrt_copy_method_for(src, dst) == CTRT_COPY_BTRFS, 0); /* a file is never a subvolume */
	assert_int_equal(ctrt_tree_copy(src, dst, &how, NULL, NULL, &err), 0);
	assert_true(how == CTRT_COPY_PLAIN || how == CTRT_COPY_REFLINK);
	assert_int_equal(stat(src, &a), 0);
	assert_int_equal(stat(dst, &b), 0);
	assert_int_equal(b.st_size, a.st_size);
	assert_int_equal(b.st_mode & 07777, 0600);
	assert_true((uint64_t)b.st_blocks * 512 < (4u << 20)); /* 256 MiB apparent, two blocks written */
	fd = open(dst, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, sizeof(back), 200 << 20), (ssize_t)sizeof(back));
	assert_memory_equal(back, blk, sizeof(blk));
	assert_int_equal(pread(fd, back, sizeof(back), 100 << 20), (ssize_t)sizeof(back));
	memset(blk, 0, sizeof(blk));
	assert_memory_equal(back, blk, sizeof(blk));
	close(fd);
	uint64_t used = 0;
	assert_int_equal(ctrt_tree_size(dst, &used), 0); /* what a clone's progress measures */
	assert_int_equal(used, (uint64_t)b.st_blocks * 512);
	assert_int_equal(ctrt_tree_copy(src, dst, NULL, NULL, NULL, &err), -EEXIST);
	assert_int_equal(ctrt_tree_remove(dst, &err), 0);
	assert_int_equal(ctrt_tree_remove(src, &err), 0);
	assert_int_equal(fs_exists(dst), 0);
	buf_release(&err);
}

static void test_space_and_errors(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	assert_int_equal(ctrt_space_check(base, 4096, &err), 0);
	assert_int_equal(ctrt_space_check(base, UINT64_MAX / 2, &err), -ENOSPC);
	assert_non_null(strstr(err.s, "not enough space in"));
	buf_reset(&err);
	__do_free char *none = xasprintf("%s/none", base), *dst = xasprintf("%s/none-copy", base);
	assert_true(ctrt_tree_copy(none, dst, NULL, NULL, NULL, &err) < 0);
	assert_non_null(strstr(err.s, "copying"));
	assert_int_equal(fs_exists(dst), 0);
	buf_reset(&err);
	assert_true(ctrt_tree_exchange(none, dst, &err) < 0);
	assert_non_null(strstr(err.s, "cannot swap"));
	assert_string_equal(ctrt_copy_method_name(CTRT_COPY_BTRFS), "btrfs-snapshot");
	assert_string_equal(ctrt_copy_method_name(CTRT_COPY_REFLINK), "reflink");
	assert_string_equal(ctrt_copy_method_name(CTRT_COPY_PLAIN), "copy");
	buf_release(&err);
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/corral-rootcopy.XXXXXX");
	return mkdtemp(base) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	ctrt_remove_tree(base, &err);
	buf_release(&err);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_keeps_everything),
		cmocka_unit_test(test_copy_sparse_file),
		cmocka_unit_test(test_space_and_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
