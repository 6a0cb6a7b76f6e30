/*
 * test_lvmbtrfs.c - LVM2 logical volumes (src/image/lvm.c, lvm_meta.c) and
 * the btrfs driver (src/image/btrfs.c) against real images.
 *
 * tests/unit/mkimg-lvmbtrfs.py makes them (about 5 s; it needs root for loop
 * devices and a btrfs loop mount, and skips otherwise): a btrfs with Fedora's
 * `root` and `home` subvolumes, zstd, zlib and LZO compressed files, an
 * incompressible one, a sparse file, a preallocated tail, symlinks and a
 * 300-entry directory, once with the top level as default subvolume and once
 * with `root`; an MBR disk with an ext4 partition and two LVM2 PVs made by
 * pvcreate/vgcreate whose VG holds a linear LV in two segments and an LV
 * striped over both PVs, a copy whose metadata also names a thin LV and an
 * LV on a PV that is not on the disk, and a whole-disk PV.  Every file read
 * back is compared byte for byte with the source the script kept.  Hostile
 * variants patch fields through an overlay device and the metadata parser
 * gets broken text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/image_internal.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/common.h"

static char tmpdir[] = "/tmp/corral-test-lvmbtrfs-XXXXXX";
static bool have_images;

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static char *tpath(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static int group_setup(void **state)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	cmd_add(&c, "python3");
	cmd_add(&c, TEST_DATA_DIR "/../unit/mkimg-lvmbtrfs.py");
	cmd_add(&c, tmpdir);
	int rc = cmd_run(&c, &out, &err);
	if (rc == 0)
		have_images = true;
	else
		print_message("images not made (%d): %s%s\n", rc, out.s ? out.s : "", err.s ? err.s : "");
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
	return 0;
}

static int group_teardown(void **state)
{
	struct cmd c = CMD_INIT;

	(void)state;
	cmd_add(&c, "rm");
	cmd_add(&c, "-rf");
	cmd_add(&c, tmpdir);
	cmd_run(&c, NULL, NULL);
	cmd_release(&c);
	return 0;
}

static struct img_dev *open_image(const char *name)
{
	__do_free char *p = tpath(name);
	struct buf err = BUF_INIT;
	struct img_dev *dev;

	if (img_dev_open_file(p, "raw", NULL, &dev, &err) != 0)
		fail_msg("open %s: %s", p, err.s);
	buf_release(&err);
	return dev;
}

/* The file at path inside fs equals the host file src. */
static void assert_same(struct img_fs *fs, const char *path, const char *src)
{
	__do_free char *host = tpath(src);
	struct buf want = BUF_INIT, got = BUF_INIT, err = BUF_INIT;

	assert_int_equal(fs_read_file(host, 64u << 20, &want), 0);
	if (img_fs_slurp(fs, path, 64u << 20, &got, &err) != 0)
		fail_msg("read %s: %s", path, err.s);
	if (got.len != want.len || memcmp(got.s, want.s, got.len) != 0)
		fail_msg("%s: %zu bytes read, %zu expected, or the contents differ", path, got.len, want.len);
	buf_release(&want);
	buf_release(&got);
	buf_release(&err);
}

struct names {
	struct buf all;
	size_t n;
};

static int collect(const char *name, const struct img_stat *st, void *arg)
{
	struct names *nm = arg;

	(void)st;
	buf_printf(&nm->all, "%s,", name);
	nm->n++;
	return 0;
}

static void list(struct img_fs *fs, const char *path, struct names *nm)
{
	struct buf err = BUF_INIT;

	nm->all = (struct buf)BUF_INIT;
	nm->n = 0;
	if (img_fs_list(fs, path, collect, nm, &err) != 0)
		fail_msg("list %s: %s", path, err.s);
	buf_release(&err);
}

#define NEED_IMAGES()                   \
	do {                            \
		if (!have_images)       \
			skip();         \
	} while (0)

/* ---- btrfs ---- */

static void test_btrfs_top_level(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("btrfs.img");
	struct img_fs *fs;
	struct buf err = BUF_INIT;
	struct names nm;

	assert_string_equal(img_fs_probe(dev), "btrfs");
	if (img_fs_open_partition(dev, 0, &fs, &err) != 0)
		fail_msg("open: %s", err.s);
	assert_string_equal(img_fs_type(fs), "btrfs");
	list(fs, "/", &nm);
	assert_contains(nm.all.s, "readme.txt,");
	assert_contains(nm.all.s, "root,");
	assert_contains(nm.all.s, "home,");
	buf_release(&nm.all);

	assert_same(fs, "/readme.txt", "btrfs-src/readme.txt");
	assert_same(fs, "/root/etc/os-release", "btrfs-src/root/etc/os-release");
	assert_same(fs, "/root/var/big.log", "btrfs-src/root/var/big.log");		/* zstd */
	assert_same(fs, "/root/var/random.bin", "btrfs-src/root/var/random.bin");	/* not compressible */
	assert_same(fs, "/root/lzo/text.txt", "btrfs-src/root/lzo/text.txt");		/* lzo */
	assert_same(fs, "/home/user/notes.txt", "btrfs-src/home/user/notes.txt");	/* zlib, other subvolume */
	assert_same(fs, "/root/var/sparse.bin", "btrfs-src/root/var/sparse.bin");
	assert_same(fs, "/root/var/prealloc.bin", "btrfs-src/root/var/prealloc.bin");
	assert_same(fs, "/root/usr/bin-tool", "btrfs-src/root/usr/lib/x");		/* symlink followed */
	assert_same(fs, "/home/../root/many/file-299", "btrfs-src/root/many/file-299");

	struct buf target = BUF_INIT;
	assert_int_equal(img_fs_readlink(fs, "/root/usr/bin-tool", &target, &err), 0);
	assert_string_equal(target.s, "lib/x");
	buf_release(&target);

	struct img_stat st;
	assert_int_equal(img_fs_stat(fs, "/root/var/sparse.bin", &st, &err), 0);
	assert_true(S_ISREG(st.mode));
	assert_int_equal(st.size, 65536 + (2u << 20) + 65536);
	assert_int_equal(img_fs_stat(fs, "/home", &st, &err), 0);
	assert_true(S_ISDIR(st.mode));

	list(fs, "/root/many", &nm);
	assert_int_equal(nm.n, 300);
	assert_contains(nm.all.s, "file-000,");
	assert_contains(nm.all.s, "file-299,");
	buf_release(&nm.all);

	assert_int_equal(img_fs_stat(fs, "/root/nothing", &st, &err), -ENOENT);
	assert_contains(err.s, "no such file");
	buf_release(&err);
	img_fs_free(fs);
	img_dev_free(dev);
}

static void test_btrfs_default_subvolume(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("btrfs-default.img");
	struct img_fs *fs;
	struct buf err = BUF_INIT;
	struct img_stat st;

	if (img_fs_open_partition(dev, 0, &fs, &err) != 0)
		fail_msg("open: %s", err.s);
	assert_same(fs, "/etc/os-release", "btrfs-src/root/etc/os-release");
	assert_same(fs, "/var/big.log", "btrfs-src/root/var/big.log");
	assert_int_equal(img_fs_stat(fs, "/readme.txt", &st, &err), -ENOENT);
	buf_release(&err);
	img_fs_free(fs);
	img_dev_free(dev);
}

/* A device over an image file with a few bytes replaced. */
struct overlay {
	struct img_dev *base;
	uint64_t off[4];
	uint8_t val[4][8];
	size_t len[4], n;
};

static struct overlay *last_overlay;

static int overlay_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct overlay *o = priv;
	struct buf e = BUF_INIT;
	int rc = img_dev_pread(o->base, buf, len, off, &e);

	buf_release(&e);
	for (size_t i = 0; rc == 0 && i < o->n; i++)
		for (size_t k = 0; k < o->len[i]; k++)
			if (o->off[i] + k >= off && o->off[i] + k < off + len)
				((uint8_t *)buf)[o->off[i] + k - off] = o->val[i][k];
	return rc;
}

static void overlay_close(void *priv)
{
	struct overlay *o = priv;
	img_dev_free(o->base);
	free(o);
}

static const struct img_dev_ops overlay_ops = { .pread = overlay_pread, .close = overlay_close };

static struct img_dev *overlay_new(const char *image, uint64_t off, uint64_t v, size_t len)
{
	struct overlay *o = xcalloc(1, sizeof(*o));
	struct img_dev *dev;
	struct buf err = BUF_INIT;

	o->base = open_image(image);
	o->off[0] = off;
	o->len[0] = len;
	for (size_t k = 0; k < len; k++)
		o->val[0][k] = (uint8_t)(v >> (8 * k));
	o->n = 1;
	last_overlay = o;
	assert_int_equal(img_dev_new(&overlay_ops, o, img_dev_size(o->base), "overlay", &dev, &err), 0);
	return dev;
}

/* A second patch on the overlay device made last. */
static void overlay_add(uint64_t off, uint64_t v, size_t len)
{
	struct overlay *o = last_overlay;

	o->off[o->n] = off;
	o->len[o->n] = len;
	for (size_t k = 0; k < len; k++)
		o->val[o->n][k] = (uint8_t)(v >> (8 * k));
	o->n++;
}

static void expect_open_error(struct img_dev *dev, int want, const char *msg)
{
	struct img_fs *fs = NULL;
	struct buf err = BUF_INIT;
	int rc = img_fs_open(dev, &fs, &err);

	if (rc != want)
		fail_msg("open gave %d (%s), expected %d", rc, err.s ? err.s : "", want);
	assert_contains(err.s, msg);
	buf_release(&err);
	img_dev_free(dev);
}

static void test_btrfs_hostile(void **state)
{
	(void)state;
	NEED_IMAGES();
	const uint64_t sb = 65536;
	/* two devices */
	expect_open_error(overlay_new("btrfs.img", sb + 0x88, 2, 8), -ENOTSUP, "spans 2 devices");
	/* node size not a power of two */
	expect_open_error(overlay_new("btrfs.img", sb + 0x94, 12345, 4), -EIO, "node size");
	/* the bootstrap chunk claims RAID1 */
	expect_open_error(overlay_new("btrfs.img", sb + 0x32b + 17 + 24, 2 | 16, 8), -ENOTSUP, "RAID1 profile");
	/* sys_chunk_array larger than its room */
	expect_open_error(overlay_new("btrfs.img", sb + 0xa0, 100000, 4), -EIO, "sys_chunk_array");
	/* the root tree points nowhere, or is too deep */
	expect_open_error(overlay_new("btrfs.img", sb + 0x50, 0x7fffffff000ull, 8), -EIO, "in no chunk");
	expect_open_error(overlay_new("btrfs.img", sb + 0xc6, 9, 1), -EIO, "levels deep");
	/* the chunk tree root at another node: its header does not match */
	expect_open_error(overlay_new("btrfs.img", sb + 0x58, 0, 8), -EIO, "btrfs");
}

/* ---- LVM2 ---- */

static void test_lvm_list(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("lvm.img");
	struct img_partlist pl;
	struct img_lvlist lvl;
	struct buf err = BUF_INIT;

	assert_int_equal(img_partitions(dev, &pl, &err), 0);
	assert_int_equal(pl.n, 3);
	assert_string_equal(pl.parts[0].fstype, "ext4");
	assert_string_equal(pl.parts[1].fstype, "LVM2_member");
	assert_string_equal(pl.parts[2].fstype, "LVM2_member");
	img_partlist_release(&pl);

	if (img_lvm_list(dev, &lvl, &err) != 0)
		fail_msg("lvm list: %s", err.s);
	assert_int_equal(lvl.n, 2);
	for (size_t i = 0; i < lvl.n; i++) {
		const struct img_lv *l = &lvl.lvs[i];
		assert_string_equal(l->error, "");
		assert_string_equal(l->fstype, "ext4");
		if (strcmp(l->name, "vgtest/root") == 0)
			assert_int_equal(l->size, 12u << 20);
		else if (strcmp(l->name, "vgtest/data") == 0)
			assert_int_equal(l->size, 8u << 20);
		else
			fail_msg("unexpected LV %s", l->name);
	}
	img_lvlist_release(&lvl);
	img_dev_free(dev);
}

static void test_lvm_read(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("lvm.img");
	struct img_fs *fs;
	struct buf err = BUF_INIT;

	/* linear, two segments on two PVs */
	if (img_fs_open_volume(dev, "vgtest/root", &fs, &err) != 0)
		fail_msg("open root: %s", err.s);
	assert_string_equal(img_fs_type(fs), "ext4");
	assert_same(fs, "/etc/fstab", "lvm-src/root/etc/fstab");
	assert_same(fs, "/var/log/messages", "lvm-src/root/var/log/messages");
	img_fs_free(fs);
	/* striped over both PVs, named as device-mapper does */
	if (img_fs_open_volume(dev, "vgtest-data", &fs, &err) != 0)
		fail_msg("open data: %s", err.s);
	assert_same(fs, "/srv/db.bin", "lvm-src/data/srv/db.bin");
	img_fs_free(fs);
	/* partitions by number still work */
	if (img_fs_open_volume(dev, "1", &fs, &err) != 0)
		fail_msg("open 1: %s", err.s);
	assert_same(fs, "/boot/grub/grub.cfg", "lvm-src/p1/boot/grub/grub.cfg");
	img_fs_free(fs);
	/* without a name the choice is ambiguous and the error lists the LVs */
	assert_int_equal(img_fs_open_volume(dev, NULL, &fs, &err), -EINVAL);
	assert_contains(err.s, "vgtest/root (ext4)");
	assert_contains(err.s, "vgtest/data (ext4)");
	buf_reset(&err);
	assert_int_equal(img_fs_open_volume(dev, "vgtest/nope", &fs, &err), -ENOENT);
	assert_contains(err.s, "no logical volume vgtest/nope");
	buf_reset(&err);
	/* the PV itself is not a filesystem */
	assert_int_equal(img_fs_open_volume(dev, "2", &fs, &err), -ENOTSUP);
	assert_contains(err.s, "name one of its logical volumes");
	buf_release(&err);
	img_dev_free(dev);
}

static void test_lvm_unsupported(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("lvm-patched.img");
	struct img_lvlist lvl;
	struct img_fs *fs;
	struct buf err = BUF_INIT;
	bool pool = false, far = false;

	if (img_lvm_list(dev, &lvl, &err) != 0)
		fail_msg("lvm list: %s", err.s);
	assert_int_equal(lvl.n, 4);
	for (size_t i = 0; i < lvl.n; i++) {
		const struct img_lv *l = &lvl.lvs[i];
		if (strcmp(l->name, "vgtest/pool") == 0) {
			assert_contains(l->error, "thin segment: not supported");
			pool = true;
		} else if (strcmp(l->name, "vgtest/far") == 0) {
			assert_contains(l->error, "volume group vgtest needs a PV");
			assert_contains(l->error, "not on this disk");
			far = true;
		} else {
			assert_string_equal(l->error, "");
		}
	}
	assert_true(pool && far);
	img_lvlist_release(&lvl);
	assert_int_equal(img_fs_open_volume(dev, "vgtest/pool", &fs, &err), -ENOTSUP);
	assert_contains(err.s, "not supported");
	buf_reset(&err);
	assert_int_equal(img_fs_open_volume(dev, "vgtest/far", &fs, &err), -ENOTSUP);
	assert_contains(err.s, "not on this disk");
	buf_reset(&err);
	if (img_fs_open_volume(dev, "vgtest/root", &fs, &err) != 0)
		fail_msg("open root: %s", err.s);
	assert_same(fs, "/etc/hostname", "lvm-src/root/etc/hostname");
	img_fs_free(fs);
	buf_release(&err);
	img_dev_free(dev);
}

/* A PV on the whole disk: its only LV is "the" filesystem of the disk. */
static void test_lvm_whole_disk(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_dev *dev = open_image("lvm-whole.img");
	struct img_fs *fs;
	struct buf err = BUF_INIT;

	assert_string_equal(img_fs_probe(dev), "LVM2_member");
	if (img_fs_open_partition(dev, 0, &fs, &err) != 0)
		fail_msg("open: %s", err.s);
	assert_same(fs, "/etc/hostname", "lvm-src/whole/etc/hostname");
	img_fs_free(fs);
	if (img_fs_open_volume(dev, "vgw/root", &fs, &err) != 0)
		fail_msg("open vgw/root: %s", err.s);
	assert_same(fs, "/var/data.txt", "lvm-src/whole/var/data.txt");
	img_fs_free(fs);
	buf_release(&err);
	img_dev_free(dev);
}

static void test_lvm_hostile(void **state)
{
	(void)state;
	NEED_IMAGES();
	struct img_lvlist lvl;
	struct buf err = BUF_INIT;
	/* partitions 2 and 3 start at 9 and 25 MiB; labels in sector 1; metadata areas at 4 KiB */
	const uint64_t p2 = 9u << 20, p3 = 25u << 20;

	/* the metadata text of the first PV is too large: the second PV's copy serves */
	struct img_dev *dev = overlay_new("lvm.img", p2 + 4096 + 48, 1ull << 40, 8);
	assert_int_equal(img_lvm_list(dev, &lvl, &err), 0);
	assert_int_equal(lvl.n, 2);
	assert_string_equal(lvl.lvs[0].error, "");
	assert_string_equal(lvl.lvs[1].error, "");
	img_lvlist_release(&lvl);
	img_dev_free(dev);
	/* both copies broken: the first error is the answer */
	dev = overlay_new("lvm.img", p2 + 4096 + 48, 1ull << 40, 8);
	overlay_add(p3 + 4096 + 48, 1ull << 40, 8);
	assert_int_equal(img_lvm_list(dev, &lvl, &err), -EIO);
	assert_contains(err.s, "no usable metadata");
	buf_reset(&err);
	img_dev_free(dev);
	/* the first PV's label is corrupt: its UUID is unknown, so the LVs on it need a PV not on this disk */
	dev = overlay_new("lvm.img", p2 + 512 + 20, 600, 4);
	assert_int_equal(img_lvm_list(dev, &lvl, &err), 0);
	assert_int_equal(lvl.n, 2);
	assert_contains(lvl.lvs[0].error, "not on this disk");
	img_lvlist_release(&lvl);
	buf_release(&err);
	img_dev_free(dev);
}

static void test_lvm_meta_parser(void **state)
{
	(void)state;
	struct lvm_node *n;
	struct buf err = BUF_INIT;
	const char *good = "# comment\nvg0 {\n id = \"a\\\"b\"\n seqno = 3\n status = [\"READ\", \"WRITE\"]\n"
			   " sub { x = -1 y = 1.5 }\n}\ncontents = \"Text Format Volume Group\"\n";
	int64_t v;

	assert_int_equal(lvm_meta_parse(good, strlen(good), &n, &err), 0);
	const struct lvm_node *vg = lvm_node_find(n, "vg0");
	assert_non_null(vg);
	assert_string_equal(lvm_node_str(vg->child, "id"), "a\"b");
	assert_true(lvm_node_int(vg->child, "seqno", &v));
	assert_int_equal(v, 3);
	assert_true(lvm_node_has_flag(vg->child, "status", "WRITE"));
	assert_false(lvm_node_has_flag(vg->child, "status", "VISIBLE"));
	assert_true(lvm_node_int(lvm_node_find(vg->child, "sub")->child, "x", &v));
	assert_int_equal(v, -1);
	lvm_node_free(n);

	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "vg {", "not closed" },
		{ "}", "closes no section" },
		{ "a = \"unterminated", "not terminated" },
		{ "a = 99999999999999999999", "too large" },
		{ "a = [1, 2", "not terminated" },
		{ "a = [1 2]", "commas" },
		{ "a b", "'=' or '{'" },
		{ "= 1", "name was expected" },
		{ "a = {", "a value must be" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(lvm_meta_parse(bad[i].text, strlen(bad[i].text), &n, &err), -EIO);
		assert_null(n);
		assert_contains(err.s, bad[i].msg);
		buf_reset(&err);
	}
	/* nesting and size are bounded */
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 100; i++)
		buf_adds(&deep, "a {");
	assert_int_equal(lvm_meta_parse(deep.s, deep.len, &n, &err), -EIO);
	assert_contains(err.s, "nested too deep");
	buf_reset(&err);
	buf_reset(&deep);
	for (int i = 0; i < 210000; i++)
		buf_adds(&deep, "a=1\n");
	assert_int_equal(lvm_meta_parse(deep.s, deep.len, &n, &err), -EIO);
	assert_contains(err.s, "more than");
	buf_release(&deep);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lvm_meta_parser),
		cmocka_unit_test(test_btrfs_top_level),
		cmocka_unit_test(test_btrfs_default_subvolume),
		cmocka_unit_test(test_btrfs_hostile),
		cmocka_unit_test(test_lvm_list),
		cmocka_unit_test(test_lvm_read),
		cmocka_unit_test(test_lvm_unsupported),
		cmocka_unit_test(test_lvm_whole_disk),
		cmocka_unit_test(test_lvm_hostile),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
