/*
 * test_image.c - the image library against images made by the real tools:
 * mke2fs -d fills ext2/ext3/ext4 filesystems (placed with -E offset= inside
 * MBR and GPT disks whose tables the test writes and sfdisk --json checks),
 * qemu-img makes qcow2 images (plain, compressed, with backing files, with
 * an internal snapshot) and qemu-io changes them.  Then the library reads
 * everything back: partition lists, directory listings, file contents,
 * symlinks and their errors, and refuses hostile or broken images without
 * crashing.  All images are built once per run in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include <jansson.h>

#include "image/image.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/common.h"

#define MIB (1ULL << 20)
#define BIG_SIZE (5 * MIB + 123)
#define SPARSE_SIZE (6 * MIB)

static char dir[64];
static bool have_tools;
static uint8_t *big;		/* expected content of /big.bin */

static char *path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* Run argv (NULL-terminated); fail the test on a non-zero exit. */
static void run(const char *arg0, ...)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;
	va_list ap;

	cmd_add(&c, arg0);
	va_start(ap, arg0);
	for (const char *a; (a = va_arg(ap, const char *));)
		cmd_add(&c, a);
	va_end(ap);
	int rc = cmd_run(&c, &out, &err);
	if (rc != 0)
		fail_msg("%s failed (%d): %s", cmd_to_string(&c), rc, err.s);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
}

static bool tool_exists(const char *name)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT;
	cmd_add(&c, "which");
	cmd_add(&c, name);
	int rc = cmd_run(&c, &out, NULL);
	cmd_release(&c);
	buf_release(&out);
	return rc == 0;
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void pwrite_file(const char *path, const void *data, size_t len, uint64_t off)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void make_sized(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static void mbr_entry(uint8_t *sec, int i, uint8_t boot, uint8_t type, uint32_t start, uint32_t count)
{
	uint8_t *e = sec + 446 + 16 * i;
	e[0] = boot;
	e[4] = type;
	put32(e + 8, start);
	put32(e + 12, count);
	sec[510] = 0x55;
	sec[511] = 0xaa;
}

/* The tree every filesystem gets (mke2fs -d). */
static void make_content(const char *root)
{
	__do_free char *p = NULL;
	uint32_t x = 2463534242u;

	big = xmalloc(BIG_SIZE);
	for (size_t i = 0; i < BIG_SIZE; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		big[i] = (uint8_t)x;
	}
	assert_int_equal(mkdir(root, 0755), 0);
#define IN(name) (free(p), p = xasprintf("%s/%s", root, name))
	write_file(IN("hello.txt"), "hello, world\n", 13);
	write_file(IN("big.bin"), big, BIG_SIZE);
	make_sized(IN("sparse.bin"), SPARSE_SIZE);
	pwrite_file(p, "middle", 6, 3 * MIB);
	pwrite_file(p, "end", 3, SPARSE_SIZE - 3);
	assert_int_equal(mkdir(IN("sub"), 0755), 0);
	assert_int_equal(mkdir(IN("sub/deeper"), 0700), 0);
	write_file(IN("sub/deeper/file.txt"), "deep\n", 5);
	assert_int_equal(symlink("../hello.txt", IN("sub/rel")), 0);
	assert_int_equal(symlink("/sub/deeper/file.txt", IN("sub/abs")), 0);
	assert_int_equal(symlink("loop2", IN("loop1")), 0);
	assert_int_equal(symlink("loop1", IN("loop2")), 0);
	assert_int_equal(symlink("sub/deeper", IN("dirlink")), 0);
	assert_int_equal(symlink("sub/./deeper/../deeper/./././././././././././././././././././file.txt",
				 IN("longlink")), 0);
#undef IN
}

static void mkfs(const char *type, const char *image, uint64_t offset, const char *size, const char *extra)
{
	__do_free char *content = path_in("content");
	__do_free char *off = xasprintf("offset=%llu", (unsigned long long)offset);
	if (extra)
		run("mke2fs", "-q", "-F", "-t", type, "-O", extra, "-d", content, "-E", off, image, size, NULL);
	else
		run("mke2fs", "-q", "-F", "-t", type, "-d", content, "-E", off, image, size, NULL);
}

/* MBR disk: 1 = ext4 (bootable), 2 = extended with 5 = ext3 and 6 = ext2, 3 = swap type, no fs. */
static void make_mbr(void)
{
	__do_free char *img = path_in("mbr.raw");
	uint8_t s[512];

	make_sized(img, 72 * MIB);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0x80, 0x83, 2048, 32768);
	mbr_entry(s, 1, 0, 0x05, 36864, 81920);
	mbr_entry(s, 2, 0, 0x82, 122880, 16384);
	pwrite_file(img, s, 512, 0);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0, 0x83, 2048, 32768);
	mbr_entry(s, 1, 0, 0x05, 34816, 34816);
	pwrite_file(img, s, 512, 36864 * 512ULL);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0, 0x83, 2048, 32768);
	pwrite_file(img, s, 512, 71680 * 512ULL);
	mkfs("ext4", img, 2048 * 512ULL, "16M", NULL);
	mkfs("ext3", img, 38912 * 512ULL, "16M", NULL);
	mkfs("ext2", img, 73728 * 512ULL, "16M", NULL);
}

static void utf16(uint8_t *dst, const char *s)
{
	for (size_t i = 0; s[i]; i++)
		dst[2 * i] = (uint8_t)s[i];
}

static void gpt_header(uint8_t *h, uint64_t my, uint64_t alt, uint64_t entries, uint64_t last_usable,
		       uint32_t array_crc)
{
	memset(h, 0, 512);
	memcpy(h, "EFI PART", 8);
	put32(h + 8, 0x00010000);
	put32(h + 12, 92);
	put64(h + 24, my);
	put64(h + 32, alt);
	put64(h + 40, 34);
	put64(h + 48, last_usable);
	memset(h + 56, 0x42, 16);
	put64(h + 72, entries);
	put32(h + 80, 128);
	put32(h + 84, 128);
	put32(h + 88, array_crc);
	put32(h + 16, (uint32_t)crc32(0, h, 92));
}

/* GPT disk (primary and backup): 1 "root" ext4 with inline data, 2 "data 2" ext4. */
static void make_gpt(void)
{
	static const uint8_t linux_fs[16] = { 0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47,
					      0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4 };
	__do_free char *img = path_in("gpt.raw");
	uint64_t sectors = 40 * MIB / 512;
	uint8_t arr[128 * 128], h[512], s[512];

	make_sized(img, 40 * MIB);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0, 0xee, 1, (uint32_t)(sectors - 1));
	pwrite_file(img, s, 512, 0);
	memset(arr, 0, sizeof(arr));
	memcpy(arr, linux_fs, 16);
	memset(arr + 16, 0x11, 16);
	put64(arr + 32, 2048);
	put64(arr + 40, 2048 + 32768 - 1);
	put64(arr + 48, 4);	/* legacy BIOS bootable */
	utf16(arr + 56, "root");
	memcpy(arr + 128, linux_fs, 16);
	memset(arr + 128 + 16, 0x22, 16);
	put64(arr + 128 + 32, 34816);
	put64(arr + 128 + 40, 34816 + 16384 - 1);
	utf16(arr + 128 + 56, "data 2");
	uint32_t acrc = (uint32_t)crc32(0, arr, sizeof(arr));
	pwrite_file(img, arr, sizeof(arr), 2 * 512);
	pwrite_file(img, arr, sizeof(arr), (sectors - 33) * 512);
	gpt_header(h, 1, sectors - 1, 2, sectors - 34, acrc);
	pwrite_file(img, h, 512, 512);
	gpt_header(h, sectors - 1, 1, sectors - 33, sectors - 34, acrc);
	pwrite_file(img, h, 512, (sectors - 1) * 512);
	mkfs("ext4", img, 2048 * 512ULL, "16M", "inline_data");
	mkfs("ext4", img, 34816 * 512ULL, "8M", NULL);
}

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb, (void)type, (void)ftw;
	return remove(path);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/corral-img-XXXXXX");
	assert_non_null(mkdtemp(dir));
	have_tools = tool_exists("mke2fs") && tool_exists("qemu-img") && tool_exists("qemu-io") &&
		     tool_exists("sfdisk");
	if (!have_tools)
		return 0;
	__do_free char *content = path_in("content");
	make_content(content);
	make_mbr();
	make_gpt();
	__do_free char *whole = path_in("whole.raw");
	make_sized(whole, 16 * MIB);
	mkfs("ext2", whole, 0, "16M", NULL);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(big);
	return 0;
}

#define NEED_TOOLS()                 \
	do {                         \
		if (!have_tools)     \
			skip();      \
	} while (0)

static struct img_dev *open_dev(const char *name, const char *snapshot)
{
	__do_free char *p = path_in(name);
	struct buf err = BUF_INIT;
	struct img_dev *d = NULL;
	int rc = img_dev_open_file(p, NULL, snapshot, &d, &err);
	if (rc < 0)
		fail_msg("img_dev_open_file %s: %s", p, err.s);
	buf_release(&err);
	return d;
}

static struct img_fs *open_fs(struct img_dev *d, int partno)
{
	struct buf err = BUF_INIT;
	struct img_fs *fs = NULL;
	if (img_fs_open_partition(d, partno, &fs, &err) < 0)
		fail_msg("img_fs_open_partition %d: %s", partno, err.s);
	buf_release(&err);
	return fs;
}

static void check_slurp(struct img_fs *fs, const char *path, const void *want, size_t len)
{
	struct buf out = BUF_INIT, err = BUF_INIT;
	int rc = img_fs_slurp(fs, path, 64 * MIB, &out, &err);
	if (rc < 0)
		fail_msg("slurp %s: %s", path, err.s);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.s, want, len);
	buf_release(&out);
	buf_release(&err);
}

struct names {
	struct buf all;
	int n;
};

static int collect(const char *name, const struct img_stat *st, void *arg)
{
	struct names *n = arg;
	buf_printf(&n->all, "%s:%o,", name, (unsigned)(st->mode & S_IFMT) >> 12);
	n->n++;
	return 0;
}

/* Everything make_content put in, read back from fs. */
static void check_tree(struct img_fs *fs)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct img_stat st;

	check_slurp(fs, "/hello.txt", "hello, world\n", 13);
	check_slurp(fs, "/big.bin", big, BIG_SIZE);
	uint8_t *sparse = xcalloc(1, SPARSE_SIZE);
	memcpy(sparse + 3 * MIB, "middle", 6);
	memcpy(sparse + SPARSE_SIZE - 3, "end", 3);
	check_slurp(fs, "/sparse.bin", sparse, SPARSE_SIZE);
	free(sparse);
	check_slurp(fs, "/sub/deeper/file.txt", "deep\n", 5);
	check_slurp(fs, "/sub/rel", "hello, world\n", 13);
	check_slurp(fs, "/sub/abs", "deep\n", 5);
	check_slurp(fs, "/dirlink/file.txt", "deep\n", 5);
	check_slurp(fs, "/dirlink/../deeper/file.txt", "deep\n", 5);
	check_slurp(fs, "/longlink", "deep\n", 5);
	check_slurp(fs, "/../../sub/../hello.txt", "hello, world\n", 13);
	check_slurp(fs, "//sub//deeper/./file.txt", "deep\n", 5);

	struct names n = { BUF_INIT, 0 };
	assert_int_equal(img_fs_list(fs, "/", collect, &n, &err), 0);
	for (const char *want = "hello.txt:10,big.bin:10,sparse.bin:10,sub:4,loop1:12,loop2:12,dirlink:12,"
				"longlink:12,"; *want;) {
		const char *comma = strchr(want, ',');
		__do_free char *one = xasprintf(",%.*s,", (int)(comma - want + 1) - 1, want);
		__do_free char *hay = xasprintf(",%s", n.all.s);
		if (!strstr(hay, one))
			fail_msg("listing %s lacks %s", n.all.s, one);
		want = comma + 1;
	}
	assert_int_equal(n.n, 8 + 1);	/* + lost+found */
	buf_release(&n.all);

	assert_int_equal(img_fs_stat(fs, "/sub/rel", &st, &err), 0);
	assert_true(S_ISREG(st.mode));
	assert_int_equal(st.size, 13);
	assert_int_equal(img_fs_lstat(fs, "/sub/rel", &st, &err), 0);
	assert_true(S_ISLNK(st.mode));
	assert_int_equal(img_fs_stat(fs, "/sub/deeper", &st, &err), 0);
	assert_int_equal(st.mode, S_IFDIR | 0700);
	assert_int_equal(st.uid, getuid());
	assert_true(st.mtime > 1600000000);
	assert_int_equal(img_fs_readlink(fs, "/sub/abs", &out, &err), 0);
	assert_string_equal(out.s, "/sub/deeper/file.txt");
	buf_reset(&out);

	assert_int_equal(img_fs_stat(fs, "/nope/file", &st, &err), -ENOENT);
	assert_non_null(strstr(err.s, "/nope/file"));
	assert_non_null(strstr(err.s, "no such file"));
	buf_reset(&err);
	assert_int_equal(img_fs_slurp(fs, "/loop1", 100, &out, &err), -ELOOP);
	assert_non_null(strstr(err.s, "symbolic links"));
	buf_reset(&err);
	assert_int_equal(img_fs_lstat(fs, "/loop1", &st, &err), 0);
	assert_int_equal(img_fs_stat(fs, "/hello.txt/x", &st, &err), -ENOTDIR);
	buf_reset(&err);
	assert_int_equal(img_fs_slurp(fs, "/big.bin", 1000, &out, &err), -EFBIG);
	buf_reset(&err);
	assert_int_equal(img_fs_slurp(fs, "/sub", 1000, &out, &err), -EISDIR);
	buf_release(&err);
	buf_release(&out);
}

/* Our partition list against `sfdisk --json`. */
static void check_against_sfdisk(const char *image, const struct img_partlist *pl)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;
	cmd_add(&c, "sfdisk");
	cmd_add(&c, "--json");
	cmd_add(&c, image);
	assert_int_equal(cmd_run(&c, &out, &err), 0);
	json_error_t je;
	json_t *j = json_loads(out.s, 0, &je);
	assert_non_null(j);
	json_t *parts = json_object_get(json_object_get(j, "partitiontable"), "partitions");
	assert_int_equal(json_array_size(parts), pl->n);
	for (size_t i = 0; i < pl->n; i++) {
		json_t *p = json_array_get(parts, i);
		const char *node = json_string_value(json_object_get(p, "node"));
		size_t nl = strlen(image);
		assert_int_equal(strncmp(node, image, nl), 0);
		assert_int_equal(atoi(node + nl), pl->parts[i].number);
		assert_int_equal(json_integer_value(json_object_get(p, "start")) * 512, pl->parts[i].start);
		assert_int_equal(json_integer_value(json_object_get(p, "size")) * 512, pl->parts[i].size);
		const char *type = json_string_value(json_object_get(p, "type"));
		if (strcmp(pl->scheme, "mbr") == 0)
			assert_int_equal(strtoul(type, NULL, 16), strtoul(pl->parts[i].type, NULL, 16));
		else
			assert_int_equal(strcasecmp(type, pl->parts[i].type), 0);
		json_t *name = json_object_get(p, "name");
		assert_string_equal(name ? json_string_value(name) : "", pl->parts[i].name);
		const char *attrs = json_string_value(json_object_get(p, "attrs"));
		bool boot = json_is_true(json_object_get(p, "bootable")) ||
			    (attrs && strstr(attrs, "LegacyBIOSBootable"));
		assert_int_equal(boot, pl->parts[i].bootable);
	}
	json_decref(j);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
}

static void test_mbr(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("mbr.raw");
	struct img_dev *d = open_dev("mbr.raw", NULL);
	struct img_partlist pl;
	struct buf err = BUF_INIT;

	assert_int_equal(img_partitions(d, &pl, &err), 0);
	assert_string_equal(pl.scheme, "mbr");
	assert_int_equal(pl.n, 5);
	static const int nums[] = { 1, 2, 3, 5, 6 };
	static const char *const fst[] = { "ext4", "", "", "ext3", "ext2" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(pl.parts[i].number, nums[i]);
		assert_string_equal(pl.parts[i].fstype, fst[i]);
	}
	check_against_sfdisk(img, &pl);
	img_partlist_release(&pl);

	static const int readable[] = { 1, 5, 6 };
	static const char *const types[] = { "ext4", "ext3", "ext2" };
	for (size_t i = 0; i < 3; i++) {
		struct img_fs *fs = open_fs(d, readable[i]);
		assert_string_equal(img_fs_type(fs), types[i]);
		check_tree(fs);
		img_fs_free(fs);
	}
	struct img_fs *fs = NULL;
	assert_int_equal(img_fs_open_partition(d, 0, &fs, &err), -EINVAL);
	assert_non_null(strstr(err.s, "1 (ext4), 2 (unknown), 3 (unknown), 5 (ext3), 6 (ext2)"));
	buf_reset(&err);
	assert_int_equal(img_fs_open_partition(d, 3, &fs, &err), -ENODEV);
	buf_reset(&err);
	assert_int_equal(img_fs_open_partition(d, 9, &fs, &err), -ENOENT);
	buf_release(&err);
	img_dev_free(d);
}

static void test_gpt(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("gpt.raw");
	struct img_dev *d = open_dev("gpt.raw", NULL);
	struct img_partlist pl;
	struct buf err = BUF_INIT;

	assert_int_equal(img_partitions(d, &pl, &err), 0);
	assert_string_equal(pl.scheme, "gpt");
	assert_int_equal(pl.n, 2);
	assert_string_equal(pl.parts[0].type, "0fc63daf-8483-4772-8e79-3d69d8477de4");
	assert_string_equal(pl.parts[0].name, "root");
	assert_true(pl.parts[0].bootable);
	assert_string_equal(pl.parts[1].name, "data 2");
	assert_string_equal(pl.parts[1].fstype, "ext4");
	check_against_sfdisk(img, &pl);
	img_partlist_release(&pl);
	for (int i = 1; i <= 2; i++) {
		struct img_fs *fs = open_fs(d, i);
		check_tree(fs);
		img_fs_free(fs);
	}
	img_dev_free(d);

	/* a damaged primary header: the backup at the end of the disk is used */
	__do_free char *copy = path_in("gpt-bad.raw");
	run("cp", "--sparse=always", img, copy, NULL);
	pwrite_file(copy, "XX", 2, 512 + 40);
	d = open_dev("gpt-bad.raw", NULL);
	assert_int_equal(img_partitions(d, &pl, &err), 0);
	assert_string_equal(pl.scheme, "gpt");
	assert_int_equal(pl.n, 2);
	assert_int_equal(pl.parts[1].start, 34816 * 512ULL);
	img_partlist_release(&pl);
	img_dev_free(d);
	buf_release(&err);
}

static void test_whole_disk(void **state)
{
	(void)state;
	NEED_TOOLS();
	struct img_dev *d = open_dev("whole.raw", NULL);
	struct img_partlist pl;
	struct buf err = BUF_INIT;

	assert_int_equal(img_partitions(d, &pl, &err), 0);
	assert_string_equal(pl.scheme, "none");
	assert_int_equal(pl.n, 0);
	img_partlist_release(&pl);
	assert_string_equal(img_fs_probe(d), "ext2");
	struct img_fs *fs = open_fs(d, 0);
	assert_string_equal(img_fs_type(fs), "ext2");
	check_tree(fs);
	img_fs_free(fs);
	img_dev_free(d);
	buf_release(&err);
}

static void test_qcow2_convert(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *raw = path_in("gpt.raw");
	__do_free char *q = path_in("gpt.qcow2");
	__do_free char *qc = path_in("gpt-c.qcow2");
	__do_free char *qz = path_in("gpt-z.qcow2");
	run("qemu-img", "convert", "-O", "qcow2", raw, q, NULL);
	run("qemu-img", "convert", "-c", "-O", "qcow2", raw, qc, NULL);
	__do_free char *q2 = path_in("gpt-v2.qcow2");
	run("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd,cluster_size=4096", raw, qz,
	    NULL);
	run("qemu-img", "convert", "-O", "qcow2", "-o", "compat=0.10,cluster_size=2097152", raw, q2, NULL);
	static const char *const names[] = { "gpt.qcow2", "gpt-c.qcow2", "gpt-z.qcow2", "gpt-v2.qcow2" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct img_dev *d = open_dev(names[i], NULL);
		assert_int_equal(img_dev_size(d), 40 * MIB);
		for (int p = 1; p <= 2; p++) {
			struct img_fs *fs = open_fs(d, p);
			check_tree(fs);
			img_fs_free(fs);
		}
		img_dev_free(d);
	}
}

static void check_bytes(struct img_dev *d, uint64_t off, size_t len, int value)
{
	struct buf err = BUF_INIT;
	uint8_t *b = xmalloc(len);
	assert_int_equal(img_dev_pread(d, b, len, off, &err), 0);
	for (size_t i = 0; i < len; i++)
		if (b[i] != value)
			fail_msg("byte %zu at %llu is 0x%x, want 0x%x", i, (unsigned long long)off, b[i], value);
	free(b);
	buf_release(&err);
}

static void test_qcow2_backing(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *base = path_in("base.raw");
	__do_free char *ov = path_in("overlay.qcow2");
	uint8_t *pat = xmalloc(4 * MIB);
	memset(pat, 0x5a, 4 * MIB);
	write_file(base, pat, 4 * MIB);
	free(pat);
	/* relative backing name: resolved against the overlay's directory */
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.raw", "-F", "raw", ov, "8M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0xab 65536 4096", ov, NULL);
	struct img_dev *d = open_dev("overlay.qcow2", NULL);
	assert_int_equal(img_dev_size(d), 8 * MIB);
	check_bytes(d, 0, 65536, 0x5a);
	check_bytes(d, 65536, 4096, 0xab);
	check_bytes(d, 65536 + 4096, 4 * MIB - 65536 - 4096, 0x5a);
	check_bytes(d, 4 * MIB, 4 * MIB, 0);	/* past the end of the backing file */
	img_dev_free(d);
}

/* img_dev_open_fds: the chain as files opened by the caller, which must match the headers. */
static void test_qcow2_chain_fds(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *base = path_in("fdbase.raw");
	__do_free char *mid = path_in("fdmid.qcow2");
	__do_free char *top = path_in("fdtop.qcow2");
	struct buf err = BUF_INIT;
	struct img_dev *d = NULL;
	uint8_t *pat = xmalloc(MIB);

	memset(pat, 0x3c, MIB);
	write_file(base, pat, MIB);
	free(pat);
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "fdbase.raw", "-F", "raw", mid, "2M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x4d 4096 4096", mid, NULL);
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "fdmid.qcow2", "-F", "qcow2", top, "2M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x7e 0 512", top, NULL);
	const char *names[] = { top, mid, base };
	int fds[3];
	for (int i = 0; i < 3; i++)
		assert_true((fds[i] = open(names[i], O_RDONLY | O_CLOEXEC)) >= 0);
	assert_int_equal(img_dev_open_fds(fds, names, 3, NULL, NULL, &d, &err), 0);
	check_bytes(d, 0, 512, 0x7e);
	check_bytes(d, 4096, 4096, 0x4d);
	check_bytes(d, 8192, MIB - 8192, 0x3c);
	check_bytes(d, MIB, MIB, 0);
	img_dev_free(d);
	/* Every fd was taken: closing them again fails. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(close(fds[i]), -1);

	/* A backing file the header names but the caller did not give. */
	for (int i = 0; i < 2; i++)
		fds[i] = open(names[i], O_RDONLY | O_CLOEXEC);
	assert_int_equal(img_dev_open_fds(fds, names, 2, "qcow2", NULL, &d, &err), -ENOENT);
	assert_non_null(strstr(err.s, "fdbase.raw"));
	assert_null(d);
	for (int i = 0; i < 2; i++)
		assert_int_equal(close(fds[i]), -1);
	buf_reset(&err);

	/* A file given that the chain does not use: a raw image has no backing. */
	const char *raw_names[] = { base, mid };
	fds[0] = open(base, O_RDONLY | O_CLOEXEC);
	fds[1] = open(mid, O_RDONLY | O_CLOEXEC);
	assert_int_equal(img_dev_open_fds(fds, raw_names, 2, "raw", NULL, &d, &err), -EINVAL);
	assert_non_null(strstr(err.s, "chain ends"));
	assert_int_equal(close(fds[0]), -1);
	assert_int_equal(close(fds[1]), -1);
	buf_release(&err);
}

static void test_qcow2_chain_limits(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *a = path_in("loopA.qcow2");
	__do_free char *b = path_in("loopB.qcow2");
	struct buf err = BUF_INIT;
	struct img_dev *d = NULL;

	run("qemu-img", "create", "-q", "-f", "qcow2", b, "1M", NULL);
	run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "loopB.qcow2", "-F", "qcow2", a, "1M", NULL);
	run("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "loopA.qcow2", "-F", "qcow2", b, NULL);
	assert_int_equal(img_dev_open_file(a, NULL, NULL, &d, &err), -ELOOP);
	assert_non_null(strstr(err.s, "loops"));
	buf_reset(&err);

	__do_free char *c0 = path_in("chain0.qcow2");
	run("qemu-img", "create", "-q", "-f", "qcow2", c0, "1M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 512", c0, NULL);
	for (int i = 1; i <= 17; i++) {
		__do_free char *back = xasprintf("chain%d.qcow2", i - 1);
		__do_free char *name = xasprintf("%s/chain%d.qcow2", dir, i);
		run("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", back, "-F", "qcow2", name, "1M", NULL);
	}
	__do_free char *c16 = path_in("chain16.qcow2");
	__do_free char *c17 = path_in("chain17.qcow2");
	assert_int_equal(img_dev_open_file(c16, "qcow2", NULL, &d, &err), 0);
	check_bytes(d, 0, 512, 0x77);
	img_dev_free(d);
	assert_int_equal(img_dev_open_file(c17, NULL, NULL, &d, &err), -ELOOP);
	assert_non_null(strstr(err.s, "deeper than 16"));
	buf_release(&err);
}

static void test_qcow2_snapshot(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *q = path_in("snap.qcow2");
	struct buf err = BUF_INIT;
	struct img_dev *d = NULL;

	run("qemu-img", "create", "-q", "-f", "qcow2", q, "4M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 1M", q, NULL);
	run("qemu-img", "snapshot", "-c", "before", q, NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 0 64k", "-c", "write -P 0x33 2M 64k", q, NULL);
	d = open_dev("snap.qcow2", NULL);
	check_bytes(d, 0, 65536, 0x22);
	check_bytes(d, 65536, MIB - 65536, 0x11);
	check_bytes(d, 2 * MIB, 65536, 0x33);
	img_dev_free(d);
	static const char *const ids[] = { "before", "1" };
	for (size_t i = 0; i < 2; i++) {
		d = open_dev("snap.qcow2", ids[i]);
		check_bytes(d, 0, MIB, 0x11);
		check_bytes(d, 2 * MIB, 65536, 0);
		img_dev_free(d);
	}
	assert_int_equal(img_dev_open_file(q, NULL, "after", &d, &err), -ENOENT);
	assert_non_null(strstr(err.s, "after"));
	buf_release(&err);

	/* A snapshot table that ends the file, its last entry unpadded (what a fresh
	 * image gets from `qemu-img snapshot -c`), is read too. */
	__do_free char *last = path_in("snaplast.qcow2");
	run("qemu-img", "create", "-q", "-f", "qcow2", last, "4M", NULL);
	run("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 0 64k", last, NULL);
	run("qemu-img", "snapshot", "-c", "s1", last, NULL);
	d = open_dev("snaplast.qcow2", "s1");
	check_bytes(d, 0, 65536, 0x44);
	img_dev_free(d);
}

/* Open, list partitions, open each filesystem and read a file: any outcome but a crash. */
static void poke(const char *path)
{
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct img_dev *d = NULL;
	struct img_partlist pl;

	if (img_dev_open_file(path, NULL, NULL, &d, &err) < 0) {
		assert_true(err.len > 0);
		buf_release(&err);
		return;
	}
	if (img_partitions(d, &pl, &err) == 0) {
		for (size_t i = 0; i < pl.n; i++) {
			struct img_fs *fs = NULL;
			if (img_fs_open_partition(d, pl.parts[i].number, &fs, &err) == 0) {
				struct names n = { BUF_INIT, 0 };
				img_fs_list(fs, "/", collect, &n, &err);
				img_fs_slurp(fs, "/big.bin", 64 * MIB, &out, &err);
				buf_release(&n.all);
				img_fs_free(fs);
			}
			buf_reset(&out);
		}
		img_partlist_release(&pl);
	}
	img_dev_free(d);
	buf_release(&err);
	buf_release(&out);
}

static void test_qcow2_hostile(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *q = path_in("gpt.qcow2");
	__do_free char *bad = path_in("bad.qcow2");
	struct buf err = BUF_INIT;
	struct img_dev *d = NULL;
	struct stat st;

	if (stat(q, &st) < 0) {
		__do_free char *raw = path_in("gpt.raw");
		run("qemu-img", "convert", "-O", "qcow2", raw, q, NULL);
		assert_int_equal(stat(q, &st), 0);
	}
	/* truncated to half */
	run("cp", q, bad, NULL);
	assert_int_equal(truncate(bad, st.st_size / 2), 0);
	poke(bad);

	/* single bad fields, each with its own message */
	static const struct {
		size_t off;
		uint8_t val[8];
		size_t len;
		const char *msg;
	} cases[] = {
		{ 20, { 0, 0, 0, 30 }, 4, "cluster size" },
		{ 24, { 0, 0, 0x80, 0, 0, 0, 0, 0 }, 8, "64 TiB" },
		{ 36, { 0x7f, 0xff, 0xff, 0xff }, 4, "L1 table" },
		{ 32, { 0, 0, 0, 1 }, 4, "encrypted" },
		{ 72, { 0, 0, 0, 0, 0, 0, 0, 4 }, 8, "external data file" },
		{ 72, { 0, 0, 0, 0, 0, 0, 1, 0 }, 8, "unknown incompatible" },
		{ 4, { 0, 0, 0, 9 }, 4, "version 9" },
		{ 100, { 0xff, 0xff, 0, 0 }, 4, "header length" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		run("cp", q, bad, NULL);
		pwrite_file(bad, cases[i].val, cases[i].len, cases[i].off);
		buf_reset(&err);
		assert_true(img_dev_open_file(bad, NULL, NULL, &d, &err) < 0);
		if (!strstr(err.s, cases[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.s, cases[i].msg);
	}

	/* random bytes over the header and over the tables */
	srand(1234);
	for (int i = 0; i < 60; i++) {
		run("cp", q, bad, NULL);
		uint8_t junk[64];
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)rand();
		uint64_t off = i < 20 ? 4 + (uint64_t)rand() % 100 : (uint64_t)rand() % (uint64_t)(st.st_size / 4);
		pwrite_file(bad, junk, (size_t)(1 + rand() % 63), off);
		poke(bad);
	}
	buf_release(&err);
}

static void test_hostile_partitions(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("ebr-loop.raw");
	uint8_t s[512];
	struct buf err = BUF_INIT;
	struct img_partlist pl;

	/* an EBR that points at itself, and a primary past the end of the disk */
	make_sized(img, 4 * MIB);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0, 0x05, 2048, 4096);
	mbr_entry(s, 1, 0, 0x83, 100000, 100);
	pwrite_file(img, s, 512, 0);
	memset(s, 0, sizeof(s));
	mbr_entry(s, 0, 0, 0x83, 1, 100);
	mbr_entry(s, 1, 0, 0x05, 0, 4096);
	pwrite_file(img, s, 512, 2048 * 512ULL);
	struct img_dev *d = open_dev("ebr-loop.raw", NULL);
	assert_int_equal(img_partitions(d, &pl, &err), 0);
	assert_int_equal(pl.n, 2);	/* extended 1 and logical 5 */
	assert_int_equal(pl.parts[1].number, 5);
	img_partlist_release(&pl);
	img_dev_free(d);

	/* GPT with both headers broken */
	__do_free char *gpt = path_in("gpt.raw");
	__do_free char *bad = path_in("gpt-dead.raw");
	run("cp", "--sparse=always", gpt, bad, NULL);
	pwrite_file(bad, "XX", 2, 512 + 40);
	pwrite_file(bad, "XX", 2, 40 * MIB - 512 + 40);
	d = open_dev("gpt-dead.raw", NULL);
	assert_int_equal(img_partitions(d, &pl, &err), -EINVAL);
	assert_non_null(strstr(err.s, "GPT"));
	img_dev_free(d);
	buf_release(&err);
}

struct mem {
	uint8_t *data;
};

static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	memcpy(buf, ((struct mem *)priv)->data + off, len);
	return 0;
}

static void test_dev_ops(void **state)
{
	(void)state;
	static const struct img_dev_ops ops = { .pread = mem_pread };
	struct mem m = { xcalloc(1, 4096) };
	struct img_dev *d = NULL, *w = NULL;
	struct buf err = BUF_INIT;
	uint8_t b[16];

	memcpy(m.data + 1000, "window", 6);
	assert_int_equal(img_dev_new(&ops, &m, 4096, "memory", &d, &err), 0);
	assert_int_equal(img_dev_window(d, 1000, 100, &w, &err), 0);
	assert_int_equal(img_dev_pread(w, b, 6, 0, &err), 0);
	assert_memory_equal(b, "window", 6);
	assert_int_equal(img_dev_pread(w, b, 16, 90, &err), -EINVAL);
	assert_non_null(strstr(err.s, "past the end"));
	buf_reset(&err);
	img_dev_free(w);
	assert_int_equal(img_dev_window(d, 4000, 100, &w, &err), -EINVAL);
	assert_null(w);
	assert_null(img_fs_probe(d));
	img_dev_free(d);
	free(m.data);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dev_ops),
		cmocka_unit_test(test_mbr),
		cmocka_unit_test(test_gpt),
		cmocka_unit_test(test_whole_disk),
		cmocka_unit_test(test_qcow2_convert),
		cmocka_unit_test(test_qcow2_backing),
		cmocka_unit_test(test_qcow2_chain_limits),
		cmocka_unit_test(test_qcow2_chain_fds),
		cmocka_unit_test(test_qcow2_snapshot),
		cmocka_unit_test(test_qcow2_hostile),
		cmocka_unit_test(test_hostile_partitions),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
