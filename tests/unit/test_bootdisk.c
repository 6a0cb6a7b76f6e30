/*
 * test_bootdisk.c - `--boot disk-kernel`'s disk side (src/image/bootdisk.c)
 * against disks made by the real tools: mke2fs -d fills an ext4 /boot
 * (inside an MBR partition written by sfdisk, or on the whole disk) with a
 * grub.cfg and small fake kernels and initrds; qemu-img turns one into a
 * qcow2.  Checked: the default and chosen entries, files copied out byte
 * for byte (initrds concatenated, old files replaced, a stale initrd
 * removed), BLS-style paths found under /boot, and the errors users see:
 * no configuration (partitions listed), a parse error (file:line), an
 * unknown entry (titles listed), a missing kernel.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "image/bootdisk.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/common.h"

static char dir[64];
static bool have_tools;

static const char grub_cfg[] =
	"set default=\"1\"\n"
	"menuentry 'Linux new' --id new {\n"
	"\tlinux /vmlinuz-new root=/dev/vda2 ro quiet\n"
	"\tinitrd /ucode.img /initrd-new\n"
	"}\n"
	"menuentry 'Linux old' --id old {\n"
	"\tlinux (hd0,msdos1)/vmlinuz-old root=/dev/vda2 ro\n"
	"}\n"
	"menuentry 'Linux gone' {\n"
	"\tlinux /vmlinuz-gone root=/dev/vda2\n"
	"}\n";

static char *path_in(const char *name) { return xasprintf("%s/%s", dir, name); }

static int run(const char *arg0, ...)
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
		print_error("%s failed (%d): %s\n", arg0, rc, err.s);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static void put(const char *rel, const char *text)
{
	__do_free char *p = path_in(rel);
	assert_int_equal(fs_write_file_atomic(p, text, strlen(text), 0644), 0);
}

static void check_file(const char *path, const char *want)
{
	struct buf got = BUF_INIT;
	assert_int_equal(fs_read_file(path, 1 << 20, &got), 0);
	assert_string_equal(got.s, want);
	buf_release(&got);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/corral-bootdisk.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	have_tools = access("/sbin/mke2fs", X_OK) == 0 || access("/usr/sbin/mke2fs", X_OK) == 0;
	if (!have_tools)
		return 0;
	__do_free char *bootd = path_in("boot");
	__do_free char *grubd = path_in("boot/grub");
	__do_free char *blsd = path_in("root/boot/loader/entries");
	__do_free char *rootd = path_in("root");
	__do_free char *emptyd = path_in("empty");
	fs_mkdir_p(grubd, 0755);
	fs_mkdir_p(blsd, 0755);
	fs_mkdir_p(emptyd, 0755);
	put("boot/grub/grub.cfg", grub_cfg);
	put("boot/vmlinuz-new", "KERNEL-NEW");
	put("boot/vmlinuz-old", "KERNEL-OLD");
	put("boot/ucode.img", "UCODE+");
	put("boot/initrd-new", "INITRD-NEW");
	/* A root filesystem with BLS entries whose paths are relative to /boot. */
	put("root/boot/loader/entries/a-6.1.conf", "title Fedora 6.1\nversion 6.1\nlinux /vmlinuz-6.1\n"
						   "initrd /initramfs-6.1.img\noptions root=/dev/vda1 ro\n");
	put("root/boot/vmlinuz-6.1", "KERNEL-BLS");
	put("root/boot/initramfs-6.1.img", "INITRD-BLS");
	__do_free char *mbr = path_in("mbr.img");
	__do_free char *whole = path_in("whole.img");
	__do_free char *nocfg = path_in("nocfg.img");
	__do_free char *qcow = path_in("mbr.qcow2");
	/* MBR: p1 (1 MiB .. 9 MiB) ext4 /boot, bootable; p2 ext4 without a config. */
	if (run("truncate", "-s", "20M", mbr, NULL) ||
	    run("sh", "-c", "printf 'label: dos\\nstart=2048, size=16384, type=83, bootable\\nstart=18432, type=83\\n' | "
			    "sfdisk -q \"$0\"", mbr, NULL) ||
	    run("mke2fs", "-q", "-F", "-t", "ext4", "-d", bootd, "-E", "offset=1048576", mbr, "8M", NULL) ||
	    run("mke2fs", "-q", "-F", "-t", "ext4", "-d", emptyd, "-E", "offset=9437184", mbr, "10M", NULL) ||
	    run("mke2fs", "-q", "-F", "-t", "ext4", "-d", rootd, whole, "8M", NULL) ||
	    run("mke2fs", "-q", "-F", "-t", "ext4", "-d", emptyd, nocfg, "8M", NULL) ||
	    run("qemu-img", "convert", "-q", "-O", "qcow2", mbr, qcow, NULL))
		have_tools = false;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	run("rm", "-rf", dir, NULL);
	return 0;
}

#define NEED_TOOLS()                                                   \
	do {                                                           \
		if (!have_tools)                                       \
			skip();                                        \
	} while (0)

static void test_default_entry(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("mbr.qcow2");
	__do_free char *out = path_in("out1");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;

	assert_int_equal(img_boot_resolve(img, "qcow2", NULL, out, &c, &err), 0);
	assert_int_equal(c.index, 1);
	assert_string_equal(c.title, "Linux old");
	assert_string_equal(c.cmdline, "root=/dev/vda2 ro");
	assert_string_equal(c.config, "/grub/grub.cfg");
	assert_int_equal(c.partition, 1);
	assert_null(c.initrd);
	check_file(c.kernel, "KERNEL-OLD");
	img_boot_choice_release(&c);
	buf_release(&err);
}

static void test_chosen_entry(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("mbr.img");
	__do_free char *out = path_in("out2");
	__do_free char *stale = path_in("out2/initrd");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;

	/* By id: initrds concatenated in order. */
	assert_int_equal(img_boot_resolve(img, NULL, "new", out, &c, &err), 0);
	assert_int_equal(c.index, 0);
	assert_string_equal(c.cmdline, "root=/dev/vda2 ro quiet");
	check_file(c.kernel, "KERNEL-NEW");
	assert_non_null(c.initrd);
	check_file(c.initrd, "UCODE+INITRD-NEW");
	img_boot_choice_release(&c);
	/* By title, into the same directory: replaced, the old initrd removed. */
	assert_int_equal(img_boot_resolve(img, "raw", "Linux old", out, &c, &err), 0);
	check_file(c.kernel, "KERNEL-OLD");
	assert_int_equal(access(stale, F_OK), -1);
	img_boot_choice_release(&c);
	/* By index. */
	assert_int_equal(img_boot_resolve(img, NULL, "0", out, &c, &err), 0);
	assert_string_equal(c.title, "Linux new");
	img_boot_choice_release(&c);
	buf_release(&err);
}

static void test_bls_under_boot(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("whole.img");
	__do_free char *out = path_in("out3");
	struct img_boot_choice c;
	struct img_boot_info bi;
	struct buf err = BUF_INIT;

	assert_int_equal(img_boot_inspect(img, NULL, &bi, &err), 0);
	assert_int_equal(bi.partition, 0);
	assert_string_equal(bi.cfg.format, "bls");
	assert_int_equal((int)bi.cfg.n, 1);
	img_boot_info_release(&bi);
	assert_int_equal(img_boot_resolve(img, NULL, "Fedora 6.1", out, &c, &err), 0);
	check_file(c.kernel, "KERNEL-BLS");
	check_file(c.initrd, "INITRD-BLS");
	assert_string_equal(c.cmdline, "root=/dev/vda1 ro");
	img_boot_choice_release(&c);
	buf_release(&err);
}

static void test_errors(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("mbr.img");
	__do_free char *nocfg = path_in("nocfg.img");
	__do_free char *out = path_in("out4");
	__do_free char *kernel = path_in("out4/vmlinuz");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;

	assert_int_equal(img_boot_resolve(nocfg, NULL, NULL, out, &c, &err), -ENOENT);
	assert_non_null(strstr(err.s, "no GRUB or BLS boot configuration"));
	assert_non_null(strstr(err.s, "ext4"));
	img_boot_choice_release(&c);
	buf_reset(&err);

	assert_int_equal(img_boot_resolve(img, NULL, "Windows", out, &c, &err), -ENOENT);
	assert_non_null(strstr(err.s, "'Windows'"));
	assert_non_null(strstr(err.s, "'Linux new'"));
	assert_non_null(strstr(err.s, "'Linux gone'"));
	img_boot_choice_release(&c);
	buf_reset(&err);

	assert_int_equal(img_boot_resolve(img, NULL, "Linux gone", out, &c, &err), -ENOENT);
	assert_non_null(strstr(err.s, "/vmlinuz-gone"));
	assert_int_equal(access(kernel, F_OK), -1); /* nothing copied */
	img_boot_choice_release(&c);
	buf_reset(&err);

	__do_free char *missing = path_in("missing.img");
	assert_true(img_boot_resolve(missing, NULL, NULL, out, &c, &err) < 0);
	assert_true(err.len > 0);
	img_boot_choice_release(&c);
	buf_release(&err);
}

static void test_parse_error(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *bad = path_in("bad");
	__do_free char *img = path_in("bad.img");
	__do_free char *out = path_in("out5");
	__do_free char *grubd = path_in("bad/grub");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;

	fs_mkdir_p(grubd, 0755);
	put("bad/grub/grub.cfg", "set default=0\nmenuentry 'x' {\n\tlinux \"/vmlinuz\n}\n");
	assert_int_equal(run("mke2fs", "-q", "-F", "-t", "ext4", "-d", bad, img, "8M", NULL), 0);
	assert_int_equal(img_boot_resolve(img, NULL, NULL, out, &c, &err), -EINVAL);
	assert_non_null(strstr(err.s, "/grub/grub.cfg:"));
	img_boot_choice_release(&c);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_entry), cmocka_unit_test(test_chosen_entry),
		cmocka_unit_test(test_bls_under_boot), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_parse_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
