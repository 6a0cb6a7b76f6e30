/*
 * bootdisk.h - `--boot disk-kernel`: boot the kernel a guest's own boot
 * loader would boot, pygrub style.
 *
 * At every start corral opens the VM's first disk read-only (image.h), finds
 * the filesystem holding a GRUB 2, BLS or legacy GRUB configuration (every
 * partition is tried, those flagged bootable first; a disk without a
 * partition table is tried whole), parses it (bootcfg.h), picks an entry
 * (bootcfg_select) and copies that entry's kernel and initrd out of the image
 * into a directory of the caller's (the VM's run directory), where QEMU's
 * -kernel/-initrd find them.  A guest that installs a new kernel and updates
 * its grub.cfg therefore boots it the next time it is started.
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

#include <stdint.h>

#include "image/bootcfg.h"
#include "util/buf.h"

#define IMG_BOOT_MAX_FILE (1024ull << 20)

/* Where a boot configuration was found on a disk, and what it says. */
struct img_boot_info {
	int partition;		/* partition number; 0 for a filesystem on the whole disk */
	char fstype[24];	/* of that filesystem */
	struct boot_config cfg;
};

/* Find and parse the boot configuration of the image at disk_path (format
 * NULL probes, else "raw"/"qcow2").  Release *out with img_boot_info_release,
 * also after a failure. */
int img_boot_inspect(const char *disk_path, const char *format, struct img_boot_info *out, struct buf *err);
void img_boot_info_release(struct img_boot_info *bi);

/* The entry img_boot_resolve chose, and where its files went. */
struct img_boot_choice {
	int index;		/* in listing order */
	char *title;
	char *cmdline;		/* the entry's kernel arguments, "" when it has none */
	char *kernel;		/* <out_dir>/vmlinuz */
	char *initrd;		/* <out_dir>/initrd, NULL when the entry has none */
	char *entry_kernel;	/* the kernel's path as the configuration wrote it */
	char *config;		/* the configuration file read ("/boot/grub/grub.cfg") */
	int partition;		/* as in struct img_boot_info */
};

/*
 * Select the entry `want` (NULL/"": the configuration's default; else an
 * index, title, id or unique title prefix: bootcfg_select) on the image at
 * disk_path and copy its kernel to <out_dir>/vmlinuz and its initrd(s) to
 * <out_dir>/initrd (out_dir is created, mode 0700; each file is written to a
 * temp file and renamed over the old one; a stale initrd is removed when the
 * entry has none).  Release *out with img_boot_choice_release, also after a
 * failure.
 */
int img_boot_resolve(const char *disk_path, const char *format, const char *want, const char *out_dir,
		     struct img_boot_choice *out, struct buf *err);
void img_boot_choice_release(struct img_boot_choice *c);

#endif
