/*
 * test_untar.c - container roots unpacked from tarballs (src/lxc/untar.c):
 * small archives written here with libarchive, one good (owners shifted,
 * a symlink, a hard link, a device node under dev/ skipped, parents it
 * does not list owned by the container's root) and hostile
 * ones (absolute names, `..`, writing through a symlink, hard links out of
 * the root or to a symlink, a device node outside dev/, owners beyond the
 * id range, more data than the room, not a tar, a cancel): each refused,
 * nothing written outside the root and the root removed again.
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
#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "lxc/lxc.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"

static char base[64];

/* One entry of a test archive: type 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device. */
struct ent {
	char type;
	const char *name;
	const char *data; /* file: contents; l/h: target */
	int64_t uid;
};

static char *make_tar(const char *file, const struct ent *ents, size_t n, bool gz)
{
	__do_free char *path = xasprintf("%s/%s", base, file);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_uid(e, ents[i].uid);
		archive_entry_set_gid(e, ents[i].uid);
		switch (ents[i].type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(ents[i].data));
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, ents[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, ents[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, makedev(1, 3));
			break;
		}
		if (ents[i].type == 'f' && strcmp(ents[i].data, "caps") == 0) {
			archive_entry_xattr_add_entry(e, "user.note", "kept", 4);
			archive_entry_xattr_add_entry(e, "security.capability", "\x01\x00\x00\x02", 4);
			archive_entry_xattr_add_entry(e, "trusted.x", "dropped", 7);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (ents[i].type == 'f')
			assert_int_equal(archive_write_data(a, ents[i].data, strlen(ents[i].data)),
					 (la_ssize_t)strlen(ents[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	return move_ptr(path);
}

static int unpack(const char *tar, const char *dir, struct ctrt_untar *u, struct buf *err)
{
	int fd = open(tar, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = ctrt_untar(fd, dir, u, err);
	close(fd);
	return r;
}

static struct ctrt_untar unpriv(void) { return (struct ctrt_untar){ .uid_base = 100000, .gid_base = 100000, .id_count = 65536 }; }

static void test_good_archive(void **state)
{
	(void)state;
	const struct ent ents[] = {
		{ 'd', "./", NULL, 0 },
		{ 'd', "./etc", NULL, 0 },
		{ 'f', "./etc/hostname", "box\n", 0 },
		{ 'f', "./etc/owned", "x", 1000 },
		{ 'l', "./etc/link", "/etc/hostname", 0 },
		{ 'h', "./etc/hard", "./etc/hostname", 0 },
		{ 'f', "./etc/caps", "caps", 0 },
		{ 'd', "dev", NULL, 0 },
		{ 'c', "dev/null", NULL, 0 },
		{ 'f', "./home/u/file", "x", 1000 }, /* its parents unlisted */
	};
	__do_free char *tar = make_tar("good.tar.gz", ents, ARRAY_SIZE(ents), true);
	__do_free char *dir = xasprintf("%s/good", base);
	struct buf err = BUF_INIT;
	struct ctrt_untar u = unpriv();
	struct stat a, b;
	char target[64];

	assert_int_equal(unpack(tar, dir, &u, &err), 0);
	assert_int_equal(u.skipped_devices, 1);
	__do_free char *h = xasprintf("%s/etc/hostname", dir), *o = xasprintf("%s/etc/owned", dir);
	__do_free char *l = xasprintf("%s/etc/link", dir), *hl = xasprintf("%s/etc/hard", dir);
	__do_free char *null = xasprintf("%s/dev/null", dir);
	assert_int_equal(lstat(h, &a), 0);
	assert_int_equal(a.st_uid, 100000);
	assert_int_equal(lstat(o, &b), 0);
	assert_int_equal(b.st_uid, 101000);
	assert_int_equal(b.st_gid, 101000);
	assert_int_equal(lstat(hl, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	ssize_t n = readlink(l, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/etc/hostname");
	assert_int_equal(lstat(null, &a), -1);
	/* parents the archive does not list belong to the container's root, not the host's */
	__do_free char *home = xasprintf("%s/home", dir), *hu = xasprintf("%s/home/u", dir);
	assert_int_equal(lstat(home, &a), 0);
	assert_int_equal(a.st_uid, 100000);
	assert_int_equal(a.st_gid, 100000);
	assert_int_equal(lstat(hu, &a), 0);
	assert_int_equal(a.st_uid, 100000);
	/* unprivileged: only user.* xattrs */
	__do_free char *caps = xasprintf("%s/etc/caps", dir);
	char xv[16];
	assert_int_equal(lgetxattr(caps, "user.note", xv, sizeof(xv)), 4);
	assert_int_equal(lgetxattr(caps, "trusted.x", xv, sizeof(xv)), -1);
	assert_int_equal(lgetxattr(caps, "security.capability", xv, sizeof(xv)), -1);
	assert_int_equal(lstat(dir, &a), 0);
	assert_int_equal(a.st_uid, 100000);
	assert_int_equal(ctrt_tree_remove(dir, &err), 0);

	/* privileged: owners as they are, the device node made */
	struct ctrt_untar p = { .privileged = true };
	assert_int_equal(unpack(tar, dir, &p, &err), 0);
	assert_int_equal(lstat(o, &b), 0);
	assert_int_equal(b.st_uid, 1000);
	assert_int_equal(lstat(null, &a), 0);
	assert_true(S_ISCHR(a.st_mode));
	assert_int_equal(lgetxattr(caps, "trusted.x", xv, sizeof(xv)), 7);
	assert_int_equal(ctrt_tree_remove(dir, &err), 0);
	buf_release(&err);
}

/* A hostile archive: refused with a sentence containing `want`, the root gone, nothing at base/outside. */
static void refused(const char *file, const struct ent *ents, size_t n, struct ctrt_untar u, int code, const char *want)
{
	__do_free char *tar = make_tar(file, ents, n, false);
	__do_free char *dir = xasprintf("%s/root", base), *outside = xasprintf("%s/outside", base);
	struct buf err = BUF_INIT;
	struct stat st;
	assert_int_equal(unpack(tar, dir, &u, &err), code);
	if (!strstr(err.s, want))
		fail_msg("%s: error '%s' lacks '%s'", file, err.s, want);
	assert_int_equal(lstat(dir, &st), -1);
	assert_int_equal(lstat(outside, &st), -1);
	__do_free char *victim = xasprintf("%s/victim", base);
	__do_buf struct buf v = BUF_INIT;
	assert_int_equal(fs_read_file(victim, 1024, &v), 0);
	assert_string_equal(v.s, "untouched\n");
	buf_release(&err);
}

static void test_hostile_names(void **state)
{
	(void)state;
	__do_free char *abs = xasprintf("%s/outside", base);
	const struct ent a[] = { { 'f', "etc", "x", 0 }, { 'f', abs, "owned\n", 0 } };
	refused("abs.tar", a, ARRAY_SIZE(a), unpriv(), -EINVAL, "an absolute name");
	const struct ent b[] = { { 'f', "../outside", "owned\n", 0 } };
	refused("dotdot.tar", b, ARRAY_SIZE(b), unpriv(), -EINVAL, "a '..' component");
	const struct ent c[] = { { 'd', "a", NULL, 0 }, { 'f', "a/../../outside", "owned\n", 0 } };
	refused("dotdot2.tar", c, ARRAY_SIZE(c), unpriv(), -EINVAL, "a '..' component");
	const struct ent d[] = { { 'f', "./../outside", "owned\n", 0 } };
	refused("dotdot3.tar", d, ARRAY_SIZE(d), unpriv(), -EINVAL, "a '..' component");
}

static void test_hostile_links(void **state)
{
	(void)state;
	/* a symlink to the outside, then a file written through it */
	const struct ent a[] = { { 'l', "evil", base, 0 }, { 'f', "evil/outside", "owned\n", 0 } };
	refused("through.tar", a, ARRAY_SIZE(a), unpriv(), -EINVAL, "cannot be unpacked");
	/* a symlink to a host file, then a file of the same name: the host file stays */
	__do_free char *victim = xasprintf("%s/victim", base);
	const struct ent b[] = { { 'l', "v", victim, 0 }, { 'f', "v", "owned\n", 0 }, { 'd', "x", NULL, 70000 } };
	refused("replace.tar", b, ARRAY_SIZE(b), unpriv(), -EINVAL, "beyond the 65536 ids");
	/* hard links: out of the root, to a symlink, to a file reached through a symlink */
	const struct ent c[] = { { 'h', "h", "../victim", 0 } };
	refused("hardout.tar", c, ARRAY_SIZE(c), unpriv(), -EINVAL, "a '..' component");
	const struct ent d[] = { { 'l', "s", victim, 0 }, { 'h', "h", "s", 0 } };
	refused("hardsym.tar", d, ARRAY_SIZE(d), unpriv(), -EINVAL, "not a regular file");
	const struct ent e[] = { { 'l', "s", base, 0 }, { 'h', "h", "s/victim", 0 } };
	refused("hardvia.tar", e, ARRAY_SIZE(e), unpriv(), -EINVAL, "not a regular file");
	__do_free char *abs = xasprintf("%s/victim", base);
	const struct ent f[] = { { 'h', "h", abs, 0 } };
	refused("hardabs.tar", f, ARRAY_SIZE(f), unpriv(), -EINVAL, "an absolute name");
}

static void test_hostile_other(void **state)
{
	(void)state;
	const struct ent a[] = { { 'c', "mem", NULL, 0 } };
	refused("dev.tar", a, ARRAY_SIZE(a), unpriv(), -EINVAL, "device node outside dev/");
	const struct ent b[] = { { 'f', "f", "x", 65536 } };
	refused("uid.tar", b, ARRAY_SIZE(b), unpriv(), -EINVAL, "beyond the 65536 ids");
	const struct ent c[] = { { 'f', "a", "0123456789", 0 }, { 'f', "b", "0123456789", 0 } };
	struct ctrt_untar small = unpriv();
	small.max_bytes = 15;
	refused("big.tar", c, ARRAY_SIZE(c), small, -ENOSPC, "more than");
	/* not a tar at all */
	__do_free char *junk = xasprintf("%s/junk.tar", base), *dir = xasprintf("%s/root", base);
	assert_int_equal(fs_write_file_atomic(junk, "this is no archive, just text\n", 30, 0644), 0);
	struct buf err = BUF_INIT;
	struct ctrt_untar u = unpriv();
	struct stat st;
	assert_int_equal(unpack(junk, dir, &u, &err), -EINVAL);
	assert_non_null(strstr(err.s, "cannot read the archive"));
	assert_int_equal(lstat(dir, &st), -1);
	buf_release(&err);
}

static int stop_now(void *opaque, uint64_t read, uint64_t total)
{
	(void)read;
	(void)total;
	return ++*(int *)opaque >= 2;
}

static void test_cancel(void **state)
{
	(void)state;
	const struct ent a[] = { { 'f', "a", "x", 0 }, { 'f', "b", "y", 0 }, { 'f', "c", "z", 0 } };
	__do_free char *tar = make_tar("cancel.tar", a, ARRAY_SIZE(a), false);
	__do_free char *dir = xasprintf("%s/root", base);
	struct buf err = BUF_INIT;
	struct ctrt_untar u = unpriv();
	struct stat st;
	int calls = 0;
	u.tick = stop_now;
	u.opaque = &calls;
	assert_int_equal(unpack(tar, dir, &u, &err), -ECANCELED);
	assert_int_equal(lstat(dir, &st), -1);
	buf_release(&err);
}

static void test_names(void **state)
{
	(void)state;
	const char *rel;
	assert_null(ctrt_untar_name_invalid("./etc/x", &rel));
	assert_string_equal(rel, "etc/x");
	assert_null(ctrt_untar_name_invalid(".//./a..b/..c", &rel));
	assert_string_equal(rel, "a..b/..c");
	assert_null(ctrt_untar_name_invalid("./", &rel));
	assert_string_equal(rel, "");
	assert_non_null(ctrt_untar_name_invalid("/etc", &rel));
	assert_non_null(ctrt_untar_name_invalid("a/..", &rel));
	assert_non_null(ctrt_untar_name_invalid("..", &rel));
	assert_non_null(ctrt_untar_name_invalid("", &rel));
}

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/test_untar.XXXXXX");
	if (!mkdtemp(base))
		return -1;
	__do_free char *victim = xasprintf("%s/victim", base);
	return fs_write_file_atomic(victim, "untouched\n", 10, 0644);
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
	if (geteuid() != 0) {
		printf("test_untar: needs root (owners, device nodes): skipped\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_good_archive),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_hostile_links),
		cmocka_unit_test(test_hostile_other),
		cmocka_unit_test(test_cancel),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
