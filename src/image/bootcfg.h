/*
 * bootcfg.h - what a guest's boot loader would boot: GRUB 2 grub.cfg, BLS
 * entries (the .conf files in /boot/loader/entries) and legacy GRUB menu.lst, parsed the
 * way the loaders read them, so `--boot disk-kernel` can start the guest's own
 * kernel directly (pygrub style, without running firmware or GRUB).
 *
 * The parser never touches a disk: files come through struct bootcfg_io
 * (the caller reads them from an img_fs).  Paths in entries are as the config
 * wrote them, relative to the filesystem the config lives on ("/vmlinuz-6.1"
 * on a separate /boot partition, "/boot/vmlinuz-6.1" on a root filesystem).
 *
 * GRUB 2 support: menuentry, submenu (entries titled "Sub>Entry", ids
 * "subid>entryid" as GRUB's default= uses them), set/unset/export, variables
 * ($x, ${x}, in double quotes), single/double quotes and escapes, comments,
 * line continuation, if/elif/else/fi and [ ... ] / test with -n -z = != -f -e,
 * load_env (grubenv: saved_entry, next_entry), `set default` by index, title
 * or id, "saved", `${next_entry}`/`${saved_entry}` semantics as
 * grub-mkconfig writes them, linux/linux16/linuxefi, initrd/initrd16/initrdefi
 * (several images), search/root/set root (recorded, not needed to boot),
 * blscfg (inserts BLS entries), source/configfile of another file on the same
 * filesystem; functions are defined and skipped, unknown commands ignored.
 * Errors name the file and line.
 */
#ifndef CORRAL_IMAGE_BOOTCFG_H
#define CORRAL_IMAGE_BOOTCFG_H

#include <stddef.h>

#include "util/buf.h"

struct bootcfg_io {
	/* Append the file at path to out: 0, -ENOENT when missing, other -errno. */
	int (*read)(void *arg, const char *path, struct buf *out);
	/* Call cb for each name in dir (for BLS); -ENOENT when missing. */
	int (*list)(void *arg, const char *dir, void (*cb)(const char *name, void *cbarg), void *cbarg);
	void *arg;
};

struct boot_entry {
	char *title;		/* "Debian GNU/Linux, with Linux 6.1.0-18-amd64"; submenu entries "Advanced options>..." */
	char *id;		/* menuentry --id / $menuentry_id_option value / BLS file stem; may be NULL */
	char *kernel;		/* path as written in the config */
	char **initrds;		/* n_initrds paths */
	size_t n_initrds;
	char *cmdline;		/* kernel arguments, variables expanded */
	char *origin;		/* "/boot/grub/grub.cfg:123" where the entry was defined */
};

struct boot_config {
	char *format;		/* "grub2", "bls", "grub-legacy" */
	char *path;		/* config file that was read */
	struct boot_entry *entries;
	size_t n;
	int default_index;	/* entry GRUB would boot with no user input; -1 if none */
};

/* Find and parse the boot configuration on one filesystem.  Tries, in order:
 * /boot/grub/grub.cfg, /grub/grub.cfg, /boot/grub2/grub.cfg, /grub2/grub.cfg,
 * BLS /boot/loader/entries, /loader/entries, then /boot/grub/menu.lst,
 * /grub/menu.lst, /boot/grub/grub.conf, /grub/grub.conf.  -ENOENT (with err)
 * if none exists; -EINVAL with "FILE:LINE: what" when unparseable. */
int bootcfg_load(const struct bootcfg_io *io, struct boot_config *out, struct buf *err);

/* Parsers on text already read, for tests and fuzzing.  io is used for
 * load_env/source/blscfg and may have NULL members. */
int bootcfg_parse_grub2(const char *text, size_t len, const char *path, const struct bootcfg_io *io,
			struct boot_config *out, struct buf *err);
int bootcfg_parse_legacy(const char *text, size_t len, const char *path, struct boot_config *out, struct buf *err);
int bootcfg_parse_bls(const struct bootcfg_io *io, const char *dir, struct boot_config *out, struct buf *err);

/* Choose an entry: want NULL/"" = the default; a decimal index (0-based, in
 * listing order); else an exact title, an id, or a title's unique prefix.
 * Returns the index or -ENOENT/-EINVAL with err. */
int bootcfg_select(const struct boot_config *c, const char *want, struct buf *err);

void boot_config_release(struct boot_config *c);

#endif
