/*
 * image_internal.h - the driver table behind img_fs (not for other modules).
 *
 * A filesystem driver (ext4.c, xfs.c) is inode-level: it looks up one name in
 * one directory, reads attributes, lists a directory, reads a file's bytes and
 * a symlink's target.  fs.c walks paths, follows symlinks and enforces limits
 * on top, so drivers never parse paths.  Drivers read the device only through
 * img_dev_pread() and must bounds-check everything they read from it.
 */
#ifndef CORRAL_IMAGE_INTERNAL_H
#define CORRAL_IMAGE_INTERNAL_H

#include "image/image.h"

struct img_fs_driver {
	const char *name;				/* "ext4", "xfs" */
	/* Return true if dev carries this filesystem (cheap superblock check). */
	bool (*match)(struct img_dev *dev);
	int (*open)(struct img_dev *dev, void **priv, uint64_t *root_ino, struct buf *err);
	void (*close)(void *priv);
	int (*getattr)(void *priv, uint64_t ino, struct img_stat *st, struct buf *err);
	/* -ENOENT (err untouched) when name is not in dir. */
	int (*lookup)(void *priv, uint64_t dir_ino, const char *name, uint64_t *ino, struct buf *err);
	/* cb gets each entry except "." and ".."; st may be filled only with
	 * ino and the S_IFMT bits of mode (fs.c calls getattr when it needs more). */
	int (*readdir)(void *priv, uint64_t dir_ino, img_dir_cb cb, void *arg, struct buf *err);
	/* Read up to len bytes at off of a regular file into buf; *got < len only at EOF. */
	int (*read)(void *priv, uint64_t ino, uint64_t off, void *buf, size_t len, size_t *got, struct buf *err);
	int (*readlink)(void *priv, uint64_t ino, struct buf *out, struct buf *err);
	/* Type name as reported to users for this instance ("ext2"/"ext3"/"ext4"). */
	const char *(*type)(void *priv);
};

/* A raw device over an open file descriptor (owned: closed by img_dev_free,
 * also when this fails); used for raw images and raw backing files. */
int img_dev_open_raw_fd(int fd, const char *desc, struct img_dev **out, struct buf *err);
/* The device's description (the image path, or "partition N of ..."), for messages. */
const char *img_dev_desc(const struct img_dev *dev);

extern const struct img_fs_driver img_ext4_driver;
extern const struct img_fs_driver img_xfs_driver;
extern const struct img_fs_driver img_btrfs_driver;

/* ---- LVM2 text metadata (lvm_meta.c; lvm.c uses it) ---- */

#define LVM_META_MAX (4u << 20)	/* bytes of metadata text we accept */

enum lvm_kind { LVM_SECTION, LVM_INT, LVM_STR, LVM_ARRAY };

/* One entry: a section (children in child), key = int/string, or key = [list]
 * (elements in child, without keys).  Siblings are chained by next. */
struct lvm_node {
	enum lvm_kind kind;
	char *key;
	int64_t num;
	char *str;
	struct lvm_node *child, *next;
};

/* Parse untrusted metadata text (bounded: see lvm_meta.c) into a list of
 * top-level entries.  -EIO with the line in err. */
int lvm_meta_parse(const char *text, size_t len, struct lvm_node **out, struct buf *err);
void lvm_node_free(struct lvm_node *n);
const struct lvm_node *lvm_node_find(const struct lvm_node *list, const char *key);
bool lvm_node_int(const struct lvm_node *list, const char *key, int64_t *v);
const char *lvm_node_str(const struct lvm_node *list, const char *key);
/* Whether list's key is a list holding the string flag (status = ["READ", ...]). */
bool lvm_node_has_flag(const struct lvm_node *list, const char *key, const char *flag);

#endif
