/*
 * test_hostpath.c - the rule for host files API callers name
 * (service/hostpath.h), without a daemon: files inside an allow_path
 * directory open, and the descriptor is that file; everything that leaves
 * the directory (absolute or relative symlinks, '..'), FIFOs, character
 * devices, block devices without the switch, and /proc, /sys, /dev under a
 * broad root are -EACCES with the rule in the message; explicit entries for
 * those trees and for one device work.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "service/hostpath.h"
#include "util/fsutil.h"
#include "util/common.h"

static char dir[] = "/tmp/test_hostpath.XXXXXX";

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* hostpath_open(path) must fail with want and a message containing msg. */
static void refused(const char *path, int want, const char *msg)
{
	struct buf err = BUF_INIT;
	int fd = hostpath_open("kernel", path, NULL, &err);
	if (fd >= 0)
		fail_msg("%s was opened", path);
	if (fd != want)
		fail_msg("%s: %d (%s), want %d", path, fd, err.s, want);
	assert_contains(err.s, msg);
	buf_release(&err);
}

static char *in_dir(const char *name) { return xasprintf("%s/%s", dir, name); }

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	__do_free char *sub = in_dir("iso");
	__do_free char *file = in_dir("iso/vmlinuz");
	__do_free char *abs_link = in_dir("iso/abs-link");
	__do_free char *rel_in = in_dir("iso/rel-in");
	__do_free char *rel_out = in_dir("iso/rel-out");
	__do_free char *fifo = in_dir("iso/fifo");
	__do_free char *outside = in_dir("secret");
	mkdir(sub, 0700);
	fs_write_file_atomic(file, "KERNEL", 6, 0600);
	fs_write_file_atomic(outside, "SECRET", 6, 0600);
	if (symlink("/etc/passwd", abs_link) < 0 || symlink("vmlinuz", rel_in) < 0 ||
	    symlink("../secret", rel_out) < 0 || mkfifo(fifo, 0600) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	static const char *const names[] = { "iso/vmlinuz", "iso/abs-link", "iso/rel-in", "iso/rel-out",
					     "iso/fifo",    "iso/blk",	    "secret",	  "iso" };
	hostpath_shutdown();
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		__do_free char *p = in_dir(names[i]);
		if (unlink(p) < 0)
			rmdir(p);
	}
	return rmdir(dir);
}

static void allow(const char *const *paths, size_t n, bool blockdev) { hostpath_init(paths, n, blockdev); }

static void test_inside_opens_the_file(void **state)
{
	(void)state;
	__do_free char *root = in_dir("iso");
	const char *roots[] = { root };
	struct buf err = BUF_INIT;
	struct stat st;
	char got[8] = { 0 };

	allow(roots, 1, false);
	static const char *const names[] = { "%s/iso/vmlinuz", "%s//iso/./vmlinuz", "%s/iso/rel-in" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		__do_free char *p = xasprintf(names[i], dir);
		__do_close int fd = hostpath_open("kernel", p, &st, &err);
		if (fd < 0)
			fail_msg("%s: %s", p, err.s);
		assert_true(S_ISREG(st.st_mode));
		assert_int_equal(pread(fd, got, 6, 0), 6);
		assert_string_equal(got, "KERNEL");
		/* read-only */
		assert_int_equal(write(fd, "x", 1), -1);
	}
	buf_release(&err);
}

static void test_outside_and_escapes_are_forbidden(void **state)
{
	(void)state;
	__do_free char *root = in_dir("iso");
	const char *roots[] = { root };
	allow(roots, 1, false);

	__do_free char *rule = xasprintf("not inside a storage pool or an allow_path directory of corrald.conf "
					 "(allowed: %s)",
					 root);
	refused("/etc/passwd", -EACCES, rule);
	__do_free char *secret = in_dir("secret");
	refused(secret, -EACCES, "not inside");
	__do_free char *prefix = xasprintf("%s/isox/vmlinuz", dir); /* a sibling sharing the prefix */
	refused(prefix, -EACCES, "not inside");
	__do_free char *leaves = xasprintf("leads out of %s", root);
	__do_free char *abs_link = in_dir("iso/abs-link");
	refused(abs_link, -EACCES, leaves);
	__do_free char *rel_out = in_dir("iso/rel-out");
	refused(rel_out, -EACCES, leaves);
	__do_free char *dots = in_dir("iso/../secret");
	refused(dots, -EACCES, leaves);
	__do_free char *fifo = in_dir("iso/fifo");
	refused(fifo, -EACCES, "a FIFO; only regular files");
	refused(root, -EACCES, "a directory");
	__do_free char *missing = in_dir("iso/none");
	refused(missing, -ENOENT, "does not exist");
	refused("iso/vmlinuz", -EINVAL, "must be an absolute path");
}

static void test_special_trees(void **state)
{
	(void)state;
	const char *everything[] = { "/" };
	allow(everything, 1, false);
	refused("/proc/self/status", -EACCES, "files under /proc, /sys and /dev are allowed only when");
	refused("/sys/kernel/uevent_seqnum", -EACCES, "files under /proc");
	refused("/dev/null", -EACCES, "files under /proc");

	/* listed explicitly: the tree is allowed, the kind of file still checked */
	const char *procself[] = { "/proc/self", "/dev/null" };
	allow(procself, 2, false);
	struct buf err = BUF_INIT;
	int fd = hostpath_open("kernel", "/proc/self/status", NULL, &err);
	if (fd < 0)
		fail_msg("/proc/self/status with /proc/self listed: %s", err.s);
	close(fd);
	refused("/dev/null", -EACCES, "a character device");
	buf_release(&err);
}

static void test_block_devices(void **state)
{
	(void)state;
	__do_free char *root = in_dir("iso");
	__do_free char *blk = in_dir("iso/blk");
	const char *roots[] = { root };
	struct buf err = BUF_INIT;

	if (mknod(blk, S_IFBLK | 0600, makedev(7, 0)) < 0)
		skip();
	allow(roots, 1, false);
	refused(blk, -EACCES, "a block device, allowed only with allow_block_devices = yes");
	/* with the switch, or when an entry names the device, it is no longer forbidden */
	allow(roots, 1, true);
	int fd = hostpath_open("cdrom image", blk, NULL, &err);
	assert_true(fd >= 0 || fd == -ENXIO);
	if (fd >= 0)
		close(fd);
	buf_reset(&err);
	const char *exact[] = { blk };
	allow(exact, 1, false);
	fd = hostpath_open("cdrom image", blk, NULL, &err);
	assert_true(fd >= 0 || fd == -ENXIO);
	if (fd >= 0)
		close(fd);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inside_opens_the_file),
		cmocka_unit_test(test_outside_and_escapes_are_forbidden),
		cmocka_unit_test(test_special_trees),
		cmocka_unit_test(test_block_devices),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
