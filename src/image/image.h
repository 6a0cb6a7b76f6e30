/*
 * image.h - looking inside guest disk images, read-only.
 *
 * A struct img_dev is a readable linear block device: an image file (raw, or
 * qcow2 with backing chains and compressed clusters, read by our own reader in
 * qcow2.c; an internal snapshot of a qcow2 can be chosen for a point-in-time
 * view), or anything a caller provides through struct img_dev_ops (the backup
 * module serves its chunk store this way).  On a device we find partitions
 * (MBR, GPT: part.c) and LVM2 logical volumes (lvm.c), identify filesystems by
 * their superblocks (probe.c) and read ext2/3/4 (libext2fs, ext4.c), XFS
 * (xfs.c) and btrfs (btrfs.c, single device) through one inode-level
 * driver table (image_internal.h); path walking and symlinks are done once, in
 * fs.c.  Nothing here ever writes to an image.
 *
 * Hostile images are expected: every size, offset and count read from an image
 * is bounds-checked; loops (backing chains, symlinks, directory cycles) are cut
 * by depth limits.  Errors: 0 or -errno, with one user-facing sentence appended
 * to `err` (which image, which structure, what is wrong).
 *
 * corrald itself does not link this library: it runs in corral-imgd
 * (src/imgd), a sandboxed helper that gets the image as file descriptors
 * (img_dev_open_fds) or as a device served over its socket (img_dev_new),
 * so a parser bug reached by a hostile image never runs as root.
 */
#ifndef CORRAL_IMAGE_IMAGE_H
#define CORRAL_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct img_dev;
struct img_fs;

/* ---- devices ---- */

struct img_dev_ops {
	/* Read exactly len bytes at off (off + len <= size is guaranteed by the
	 * caller).  Returns 0 or -errno (-EIO for corrupt data). */
	int (*pread)(void *priv, void *buf, size_t len, uint64_t off);
	/* Release priv.  May be NULL. */
	void (*close)(void *priv);
};

/* A device over caller-provided ops.  Takes ownership of priv (close is called
 * by img_dev_free, also when this fails). */
int img_dev_new(const struct img_dev_ops *ops, void *priv, uint64_t size, const char *desc,
		struct img_dev **out, struct buf *err);

/* Open an image file read-only.  format: NULL (probe: qcow2 magic, else raw),
 * "raw" or "qcow2".  snapshot: NULL for the current state, or the name/id of a
 * qcow2 internal snapshot (read from that snapshot's L1 table: a consistent
 * point-in-time view even while QEMU writes the active state).  Backing files
 * are opened read-only, relative to the image's directory; chains deeper than
 * 16 or looping are refused. */
int img_dev_open_file(const char *path, const char *format, const char *snapshot, struct img_dev **out,
		      struct buf *err);
/* The same over files the caller opened (read-only): fds[0] the image,
 * fds[1..n-1] its backing chain in order, each the backing file of the one
 * before; names[i] the file's path, for messages only (nothing is opened by
 * name).  The chain must match the headers: a backing file named by a qcow2
 * header but not given, or a file given but not used, is an error.  Takes
 * ownership of every fd (closed by img_dev_free, or at once on failure). */
int img_dev_open_fds(const int *fds, const char *const *names, size_t n, const char *format, const char *snapshot,
		     struct img_dev **out, struct buf *err);

uint64_t img_dev_size(const struct img_dev *dev);
/* Bounds-checked read; -EINVAL (with err) past the end. */
int img_dev_pread(struct img_dev *dev, void *buf, size_t len, uint64_t off, struct buf *err);
/* A window [off, off+len) of dev as a device of its own (a partition).  The
 * window device borrows dev, which must outlive it. */
int img_dev_window(struct img_dev *dev, uint64_t off, uint64_t len, struct img_dev **out, struct buf *err);
void img_dev_free(struct img_dev *dev);

/* ---- partitions ---- */

struct img_part {
	int number;		/* 1-based, as Linux numbers them (sda1...; MBR logicals from 5) */
	uint64_t start, size;	/* bytes */
	char type[40];		/* MBR: "0x83"; GPT: type GUID, lower case */
	char name[72];		/* GPT partition name (UTF-8), "" for MBR */
	char fstype[24];	/* from img_fs_probe, "" if unknown */
	bool bootable;		/* MBR active flag / GPT legacy BIOS bootable */
};

struct img_partlist {
	char scheme[8];		/* "mbr", "gpt" or "none" (filesystem on the whole disk or empty) */
	size_t n;
	struct img_part *parts;
};

int img_partitions(struct img_dev *dev, struct img_partlist *out, struct buf *err);
void img_partlist_release(struct img_partlist *pl);

/* ---- LVM2 logical volumes (lvm.c) ---- */

/* LVM2 physical volumes are looked for on dev's partitions (fstype
 * "LVM2_member") and on the whole disk; each PV's newest text metadata
 * describes its volume group.  A logical volume of linear or striped
 * segments is readable as a device; others (thin, raid, snapshots, cache,
 * a PV missing from this disk) are listed with the reason. */
struct img_lv {
	char name[256];		/* "VG/LV" */
	uint64_t size;		/* bytes (0 when unknown) */
	char fstype[24];	/* from img_fs_probe, "" if unknown or unreadable */
	char error[256];	/* why the LV cannot be read, "" when it can */
};

struct img_lvlist {
	size_t n;
	struct img_lv *lvs;
};

/* The visible logical volumes of every volume group with a PV on dev.  A
 * disk without PVs gives an empty list. */
int img_lvm_list(struct img_dev *dev, struct img_lvlist *out, struct buf *err);
void img_lvlist_release(struct img_lvlist *l);
/* Logical volume "VG/LV" (also "VG-LV" when unambiguous) of dev as a device
 * (borrows dev, which must outlive it). */
int img_lvm_open(struct img_dev *dev, const char *name, struct img_dev **out, struct buf *err);

/* ---- filesystems ---- */

/* Filesystem type on dev by its signature: "ext2", "ext3", "ext4", "xfs",
 * "btrfs", "vfat", "ntfs", "swap", "LVM2_member", "crypto_LUKS", "iso9660",
 * or NULL. */
const char *img_fs_probe(struct img_dev *dev);

/* Open the filesystem on dev (borrowed: must outlive the fs).  Identified but
 * unreadable types give -ENOTSUP naming the type. */
int img_fs_open(struct img_dev *dev, struct img_fs **out, struct buf *err);
/* Convenience: partno > 0 opens that partition; partno == 0 the only
 * filesystem (whole disk, or the single partition with a readable filesystem;
 * ambiguous choices are an error listing the partitions).  Owns what it opens
 * besides dev. */
int img_fs_open_partition(struct img_dev *dev, int partno, struct img_fs **out, struct buf *err);
/* The same with a volume name: NULL or "" as partno 0 (logical volumes
 * count as candidates too), "N" partition N, "VG/LV" (or "VG-LV") an LVM2
 * logical volume. */
int img_fs_open_volume(struct img_dev *dev, const char *volume, struct img_fs **out, struct buf *err);
const char *img_fs_type(const struct img_fs *fs);
void img_fs_free(struct img_fs *fs);

struct img_stat {
	uint64_t ino;
	uint32_t mode;		/* S_IFMT bits + permissions */
	uint32_t uid, gid, nlink;
	uint64_t size;
	int64_t mtime;		/* seconds since the epoch */
};

/* Paths are absolute inside the filesystem ("/boot/grub/grub.cfg"); ".." and
 * symlinks (absolute ones relative to the fs root) are resolved, at most 40
 * links.  img_fs_stat follows a final symlink, img_fs_lstat does not. */
int img_fs_stat(struct img_fs *fs, const char *path, struct img_stat *st, struct buf *err);
int img_fs_lstat(struct img_fs *fs, const char *path, struct img_stat *st, struct buf *err);
/* Symlink target into out (appended). */
int img_fs_readlink(struct img_fs *fs, const char *path, struct buf *out, struct buf *err);

/* Directory entries other than "." and "..", in on-disk order; a non-zero
 * return from cb stops the walk and is returned. */
typedef int (*img_dir_cb)(const char *name, const struct img_stat *st, void *arg);
int img_fs_list(struct img_fs *fs, const char *path, img_dir_cb cb, void *arg, struct buf *err);

/* Stream a regular file's contents to cb in pieces (holes as zeros); a
 * non-zero return from cb stops and is returned. */
typedef int (*img_data_cb)(const void *data, size_t len, void *arg);
int img_fs_read_file(struct img_fs *fs, const char *path, img_data_cb cb, void *arg, struct buf *err);
/* A whole regular file into out; -EFBIG (with err) if larger than max. */
int img_fs_slurp(struct img_fs *fs, const char *path, size_t max, struct buf *out, struct buf *err);

#endif
