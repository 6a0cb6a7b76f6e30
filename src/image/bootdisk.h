/*
 * bootdisk.h - `--boot disk-kernel`: boot the kernel a guest's own boot
 * loader would boot, pygrub style.
 *
 * At every start (and every reboot: qemu/runtime.c) corral reads the VM's first disk (an img_dev, image.h),
 * finds the filesystem holding a GRUB 2, BLS or legacy GRUB configuration
 * (every partition is tried, those flagged bootable first; a disk without a
 * partition table is tried whole), parses it (bootcfg.h), picks an entry
 * (bootcfg_select) and copies that entry's kernel and initrd out of the
 * image into files the caller opened (corrald: temp files in the VM's run
 * directory, renamed into place once complete), where QEMU's -kernel/-initrd
 * find them.  A guest that installs a new kernel and updates its grub.cfg
 * therefore boots it the next time it is started.  This runs in the image
 * helper (src/imgd), which can open nothing: hence devices and fds, not paths.
 *
 * Kernel and initrd paths are resolved on the filesystem holding the
 * configuration; a leading GRUB device "(hd0,msdos1)" is dropped, and a path
 * missing there is tried under /boot when the configuration lives in /boot
 * (BLS entries written for a separate /boot partition).  Several initrds
 * (microcode + initramfs) are concatenated, as GRUB loads them.
 *
 * Errors: 0 or -errno with one user-facing sentence appended to err:
 * -ENOENT no boot configuration (the sentence lists the partitions and their
 * filesystems), a missing kernel/initrd, or no such entry (the titles are
 * listed); -EINVAL an unparseable configuration ("FILE:LINE: what");
 * -EFBIG a kernel or initrd larger than IMG_BOOT_MAX_FILE.
 */
#ifndef CORRAL_IMAGE_BOOTDISK_H
#define CORRAL_IMAGE_BOOTDISK_H

#include <stdbool.h>
#include <stdint.h>

#include "image/bootcfg.h"
#include "image/image.h"
#include "util/buf.h"

#define IMG_BOOT_MAX_FILE (1024ull << 20)

/* Where a boot configuration was found on a disk, and what it says. */
struct img_boot_info {
	int partition;		/* partition number; 0 for a filesystem on the whole disk */
	char fstype[24];	/* of that filesystem */
	struct boot_config cfg;
	/* Per entry (cfg.n of them, or NULL): why it cannot boot (its kernel
	 * or an initrd missing, not a file, too large), NULL when it can. */
	char **problems;
};

/* Find and parse the boot configuration on dev (borrowed), and check each
 * entry's kernel and initrds on it (out->problems).  Release *out with
 * img_boot_info_release, also after a failure. */
int img_boot_inspect(struct img_dev *dev, struct img_boot_info *out, struct buf *err);
void img_boot_info_release(struct img_boot_info *bi);

/* The entry img_boot_resolve chose. */
struct img_boot_choice {
	int index;		/* in listing order */
	char *title;
	char *cmdline;		/* the entry's kernel arguments, "" when it has none */
	bool initrd;		/* an initrd was written (the entry names at least one) */
	char *entry_kernel;	/* the kernel's path as the configuration wrote it */
	char *config;		/* the configuration file read ("/boot/grub/grub.cfg") */
	int partition;		/* as in struct img_boot_info */
};

/*
 * Select the entry `want` (NULL/"": the configuration's default; else an
 * index, title, id or unique title prefix: bootcfg_select) on dev and write
 * its kernel to kernel_fd and its initrd(s), concatenated, to initrd_fd
 * (nothing when the entry has none).  Both fds stay the caller's; they
 * should be empty files open for writing.  Release *out with
 * img_boot_choice_release, also after a failure.
 */
int img_boot_resolve(struct img_dev *dev, const char *want, int kernel_fd, int initrd_fd,
		     struct img_boot_choice *out, struct buf *err);
void img_boot_choice_release(struct img_boot_choice *c);

#endif
