/*
 * test_bootdisk.c - `--boot disk-kernel`'s disk side (src/image/bootdisk.c)
 * against disks made by the real tools: mke2fs -d fills an ext4 /boot
 * (inside an MBR partition written by sfdisk, or on the whole disk) with a
 * grub.cfg and small fake kernels and initrds; qemu-img turns one into a
 * qcow2.  Checked: the default and chosen entries, files copied out byte
 * for byte into the caller's fds (initrds concatenated, nothing written for
 * an entry without one), BLS-style paths found under /boot, and the errors users see:
 * no configuration (partitions listed), a parse error (file:line), an
 * unknown entry (titles listed), a missing kernel (also flagged by
 * img_boot_inspect for `vm boot-entries`).
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

#include <sys/mman.h>

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

/* What fd holds, from its start. */
static void check_fd(int fd, const char *want)
{
	char got[256];
	ssize_t n = pread(fd, got, sizeof(got) - 1, 0);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, want);
}

/* The kernel and initrd of entry `want` of image img (format NULL: probe),
 * written into two memfds the caller checks and closes. */
static int resolve(const char *img, const char *format, const char *want, struct img_boot_choice *c, int *kfd,
		   int *ifd, struct buf *err)
{
	struct img_dev *dev = NULL;
	int r;

	*kfd = memfd_create("kernel", MFD_CLOEXEC);
	*ifd = memfd_create("initrd", MFD_CLOEXEC);
	assert_true(*kfd >= 0 && *ifd >= 0);
	memset(c, 0, sizeof(*c));
	if ((r = img_dev_open_file(img, format, NULL, &dev, err)) < 0)
		return r;
	r = img_boot_resolve(dev, want, *kfd, *ifd, c, err);
	img_dev_free(dev);
	return r;
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
	struct img_boot_choice c;
	struct buf err = BUF_INIT;
	__do_close int kfd = -EBADF, ifd = -EBADF;

	assert_int_equal(resolve(img, "qcow2", NULL, &c, &kfd, &ifd, &err), 0);
	assert_int_equal(c.index, 1);
	assert_string_equal(c.title, "Linux old");
	assert_string_equal(c.cmdline, "root=/dev/vda2 ro");
	assert_string_equal(c.config, "/grub/grub.cfg");
	assert_string_equal(c.entry_kernel, "(hd0,msdos1)/vmlinuz-old");
	assert_int_equal(c.partition, 1);
	assert_false(c.initrd);
	check_fd(kfd, "KERNEL-OLD");
	check_fd(ifd, "");
	img_boot_choice_release(&c);
	buf_release(&err);
}

static void test_chosen_entry(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("mbr.img");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;
	int kfd, ifd;

	/* By id: initrds concatenated in order. */
	assert_int_equal(resolve(img, NULL, "new", &c, &kfd, &ifd, &err), 0);
	assert_int_equal(c.index, 0);
	assert_string_equal(c.cmdline, "root=/dev/vda2 ro quiet");
	check_fd(kfd, "KERNEL-NEW");
	assert_true(c.initrd);
	check_fd(ifd, "UCODE+INITRD-NEW");
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	/* By title. */
	assert_int_equal(resolve(img, "raw", "Linux old", &c, &kfd, &ifd, &err), 0);
	check_fd(kfd, "KERNEL-OLD");
	assert_false(c.initrd);
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	/* By index. */
	assert_int_equal(resolve(img, NULL, "0", &c, &kfd, &ifd, &err), 0);
	assert_string_equal(c.title, "Linux new");
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	buf_release(&err);
}

static void test_bls_under_boot(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("whole.img");
	struct img_boot_choice c;
	struct img_boot_info bi;
	struct img_dev *dev = NULL;
	struct buf err = BUF_INIT;
	__do_close int kfd = -EBADF, ifd = -EBADF;

	assert_int_equal(img_dev_open_file(img, NULL, NULL, &dev, &err), 0);
	assert_int_equal(img_boot_inspect(dev, &bi, &err), 0);
	assert_int_equal(bi.partition, 0);
	assert_string_equal(bi.cfg.format, "bls");
	assert_int_equal((int)bi.cfg.n, 1);
	img_boot_info_release(&bi);
	img_dev_free(dev);
	assert_int_equal(resolve(img, NULL, "Fedora 6.1", &c, &kfd, &ifd, &err), 0);
	check_fd(kfd, "KERNEL-BLS");
	check_fd(ifd, "INITRD-BLS");
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
	struct img_boot_choice c;
	struct buf err = BUF_INIT;
	int kfd, ifd;

	assert_int_equal(resolve(nocfg, NULL, NULL, &c, &kfd, &ifd, &err), -ENOENT);
	assert_non_null(strstr(err.s, "no GRUB or BLS boot configuration"));
	assert_non_null(strstr(err.s, "ext4"));
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	buf_reset(&err);

	assert_int_equal(resolve(img, NULL, "Windows", &c, &kfd, &ifd, &err), -ENOENT);
	assert_non_null(strstr(err.s, "'Windows'"));
	assert_non_null(strstr(err.s, "'Linux new'"));
	assert_non_null(strstr(err.s, "'Linux gone'"));
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	buf_reset(&err);

	assert_int_equal(resolve(img, NULL, "Linux gone", &c, &kfd, &ifd, &err), -ENOENT);
	assert_non_null(strstr(err.s, "/vmlinuz-gone"));
	check_fd(kfd, ""); /* nothing copied */
	img_boot_choice_release(&c);
	close(kfd);
	close(ifd);
	buf_release(&err);
	/* `vm boot-entries` flags the entry that cannot boot, and only that one */
	struct img_boot_info bi;
	struct img_dev *dev = NULL;
	assert_int_equal(img_dev_open_file(img, NULL, NULL, &dev, &err), 0);
	assert_int_equal(img_boot_inspect(dev, &bi, &err), 0);
	assert_non_null(bi.problems);
	for (size_t i = 0; i < bi.cfg.n; i++) {
		if (strcmp(bi.cfg.entries[i].title, "Linux gone") == 0) {
			assert_non_null(bi.problems[i]);
			assert_non_null(strstr(bi.problems[i], "the kernel /vmlinuz-gone of boot entry 'Linux gone'"));
			assert_non_null(strstr(bi.problems[i], "does not exist on the disk"));
		} else {
			assert_null(bi.problems[i]);
		}
	}
	img_boot_info_release(&bi);
	img_dev_free(dev);
	buf_release(&err);
}

static void test_parse_error(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *bad = path_in("bad");
	__do_free char *img = path_in("bad.img");
	__do_free char *grubd = path_in("bad/grub");
	struct img_boot_choice c;
	struct buf err = BUF_INIT;
	__do_close int kfd = -EBADF, ifd = -EBADF;

	fs_mkdir_p(grubd, 0755);
	put("bad/grub/grub.cfg", "set default=0\nmenuentry 'x' {\n\tlinux \"/vmlinuz\n}\n");
	assert_int_equal(run("mke2fs", "-q", "-F", "-t", "ext4", "-d", bad, img, "8M", NULL), 0);
	assert_int_equal(resolve(img, NULL, NULL, &c, &kfd, &ifd, &err), -EINVAL);
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
