/*
 * ext4.c - img_ext4_driver: ext2, ext3 and ext4 through libext2fs.
 *
 * libext2fs reads through an io_manager of ours (imgio) that turns block
 * reads into img_dev_pread() calls, so the filesystem may sit in a qcow2
 * image, a partition window or a backup chunk store.  The device pointer
 * travels to the io_manager's open() inside the "name" string.  The
 * io_manager refuses every write; the filesystem is opened without
 * EXT2_FLAG_RW.  Single-block reads (metadata) go through a small cache.
 *
 * File data is not read block by block through ext2fs_file_read(): extents
 * are looked up once and each extent (or physically contiguous run of
 * blocks, for block-mapped files) becomes one device read.  Inline data and
 * fast symlinks come from the inode.  libext2fs error codes become -EIO with
 * error_message()'s text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "image/image_internal.h"
#include "util/common.h"

#define NAME_PREFIX "corral-img:"
#define CACHE_SLOTS 64
#define MAX_LINK 4095

/* ---- the io_manager ---- */

struct imgio {
	struct img_dev *dev;
	char *cache;			/* CACHE_SLOTS blocks of block_size */
	unsigned long long tag[CACHE_SLOTS];	/* block number + 1, 0 = empty */
};

static errcode_t imgio_open(const char *name, int flags, io_channel *channel);

static errcode_t imgio_close(io_channel ch)
{
	if (--ch->refcount > 0)
		return 0;
	struct imgio *io = ch->private_data;
	free(io->cache);
	free(io);
	free(ch->name);
	free(ch);
	return 0;
}

static errcode_t imgio_set_blksize(io_channel ch, int blksize)
{
	struct imgio *io = ch->private_data;

	if (blksize <= 0 || blksize > 65536)
		return EXT2_ET_INVALID_ARGUMENT;
	if (blksize != ch->block_size) {
		ch->block_size = blksize;
		free(io->cache);
		io->cache = NULL;
		memset(io->tag, 0, sizeof(io->tag));
	}
	return 0;
}

static errcode_t imgio_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
	struct imgio *io = ch->private_data;
	uint64_t bs = (uint64_t)ch->block_size;
	uint64_t len = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * bs;
	uint64_t size = img_dev_size(io->dev);

	if (block > size / bs || len > size - block * bs)
		return EXT2_ET_SHORT_READ;
	bool cacheable = count == 1;
	size_t slot = (size_t)(block % CACHE_SLOTS);
	if (cacheable && io->cache && io->tag[slot] == block + 1) {
		memcpy(data, io->cache + slot * bs, bs);
		return 0;
	}
	struct buf e = BUF_INIT;
	int rc = img_dev_pread(io->dev, data, (size_t)len, block * bs, &e);
	buf_release(&e);
	if (rc < 0)
		return EXT2_ET_SHORT_READ;
	if (cacheable) {
		if (!io->cache)
			io->cache = xmalloc(CACHE_SLOTS * bs);
		memcpy(io->cache + slot * bs, data, bs);
		io->tag[slot] = block + 1;
	}
	return 0;
}

static errcode_t imgio_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
	return imgio_read_blk64(ch, block, count, data);
}

static errcode_t imgio_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
	(void)ch, (void)block, (void)count, (void)data;
	return EXT2_ET_RO_UNSUPP_FEATURE;
}

static errcode_t imgio_write_blk64(io_channel ch, unsigned long long block, int count, const void *data)
{
	(void)ch, (void)block, (void)count, (void)data;
	return EXT2_ET_RO_UNSUPP_FEATURE;
}

static errcode_t imgio_write_byte(io_channel ch, unsigned long offset, int count, const void *data)
{
	(void)ch, (void)offset, (void)count, (void)data;
	return EXT2_ET_RO_UNSUPP_FEATURE;
}

static errcode_t imgio_flush(io_channel ch)
{
	(void)ch;
	return 0;
}

static errcode_t imgio_set_option(io_channel ch, const char *option, const char *arg)
{
	(void)ch, (void)option, (void)arg;
	return EXT2_ET_INVALID_ARGUMENT;
}

static struct struct_io_manager imgio_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "corral image I/O manager",
	.open = imgio_open,
	.close = imgio_close,
	.set_blksize = imgio_set_blksize,
	.read_blk = imgio_read_blk,
	.write_blk = imgio_write_blk,
	.flush = imgio_flush,
	.write_byte = imgio_write_byte,
	.set_option = imgio_set_option,
	.read_blk64 = imgio_read_blk64,
	.write_blk64 = imgio_write_blk64,
};

static errcode_t imgio_open(const char *name, int flags, io_channel *channel)
{
	size_t plen = strlen(NAME_PREFIX);

	if (flags & IO_FLAG_RW)
		return EXT2_ET_RO_UNSUPP_FEATURE;
	if (!name || strncmp(name, NAME_PREFIX, plen) != 0)
		return EXT2_ET_BAD_DEVICE_NAME;
	char *end;
	errno = 0;
	uintptr_t p = (uintptr_t)strtoull(name + plen, &end, 16);
	if (errno || *end || p == 0)
		return EXT2_ET_BAD_DEVICE_NAME;
	struct imgio *io = xcalloc(1, sizeof(*io));
	io->dev = (struct img_dev *)p;
	io_channel ch = xcalloc(1, sizeof(*ch));
	ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	ch->manager = &imgio_manager;
	ch->name = xstrdup(name);
	ch->block_size = 1024;
	ch->refcount = 1;
	ch->private_data = io;
	*channel = ch;
	return 0;
}

/* ---- the driver ---- */

struct ext4 {
	ext2_filsys fs;
	struct img_dev *dev;
	const char *type;
	char *bmap_buf;		/* scratch for ext2fs_bmap2: 3 blocks */
};

static int ext_fail(struct ext4 *x, errcode_t code, const char *what, uint64_t ino, struct buf *err)
{
	buf_printf(err, "cannot %s inode %" PRIu64 " of the %s filesystem on %s: %s", what, ino, x->type,
		   img_dev_desc(x->dev), error_message(code));
	return -EIO;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool read_super(struct img_dev *dev, unsigned char *sb)
{
	struct buf e = BUF_INIT;

	if (img_dev_size(dev) < 2048)
		return false;
	int rc = img_dev_pread(dev, sb, 1024, 1024, &e);
	buf_release(&e);
	return rc == 0 && sb[56] == 0x53 && sb[57] == 0xef;
}

static bool ext4_match(struct img_dev *dev)
{
	unsigned char sb[1024];

	return read_super(dev, sb) && !(sb[96] & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV);
}

static const char *type_of(const struct ext2_super_block *s)
{
	if ((s->s_feature_incompat & ~(uint32_t)(EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER |
						 EXT2_FEATURE_INCOMPAT_META_BG)) ||
	    (s->s_feature_ro_compat & ~(uint32_t)(EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
						  EXT2_FEATURE_RO_COMPAT_LARGE_FILE | 0x0004u)))
		return "ext4";
	return (s->s_feature_compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL) ? "ext3" : "ext2";
}

static void ext4_close(void *priv)
{
	struct ext4 *x = priv;

	if (!x)
		return;
	if (x->fs)
		ext2fs_close_free(&x->fs);
	free(x->bmap_buf);
	free(x);
}

static int ext4_open(struct img_dev *dev, void **priv, uint64_t *root_ino, struct buf *err)
{
	char name[64];
	ext2_filsys fs = NULL;

	/* bound what libext2fs will allocate for group descriptors by the device size */
	unsigned char sb[1024];
	if (!read_super(dev, sb)) {
		buf_printf(err, "cannot open the ext2/3/4 filesystem on %s: no superblock", img_dev_desc(dev));
		return -EINVAL;
	}
	uint32_t log_bs = le32(sb + 24);
	uint64_t blocks = le32(sb + 4);
	if (le32(sb + 96) & EXT4_FEATURE_INCOMPAT_64BIT)
		blocks |= (uint64_t)le32(sb + 0x150) << 32;
	if (log_bs > 6 || blocks > (img_dev_size(dev) >> (10 + log_bs))) {
		buf_printf(err, "cannot open the ext2/3/4 filesystem on %s: its superblock claims more blocks than "
			   "the device holds", img_dev_desc(dev));
		return -EINVAL;
	}
	snprintf(name, sizeof(name), NAME_PREFIX "%" PRIxPTR, (uintptr_t)dev);
	errcode_t code = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_SKIP_MMP, 0, 0, &imgio_manager, &fs);
	if (code) {
		buf_printf(err, "cannot open the ext2/3/4 filesystem on %s: %s", img_dev_desc(dev), error_message(code));
		return -EIO;
	}
	struct ext4 *x = xcalloc(1, sizeof(*x));
	x->fs = fs;
	x->dev = dev;
	x->type = type_of(fs->super);
	x->bmap_buf = xmalloc((size_t)fs->blocksize * 3);
	*priv = x;
	*root_ino = EXT2_ROOT_INO;
	return 0;
}

static int read_inode(struct ext4 *x, uint64_t ino, struct ext2_inode_large *inode, struct buf *err)
{
	if (ino == 0 || ino > x->fs->super->s_inodes_count) {
		buf_printf(err, "cannot read inode %" PRIu64 " of the %s filesystem on %s: no such inode", ino,
			   x->type, img_dev_desc(x->dev));
		return -EIO;
	}
	memset(inode, 0, sizeof(*inode));
	errcode_t code = ext2fs_read_inode_full(x->fs, (ext2_ino_t)ino, (struct ext2_inode *)inode, sizeof(*inode));
	if (code)
		return ext_fail(x, code, "read", ino, err);
	return 0;
}

static int ext4_getattr(void *priv, uint64_t ino, struct img_stat *st, struct buf *err)
{
	struct ext4 *x = priv;
	struct ext2_inode_large in;
	int rc = read_inode(x, ino, &in, err);

	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->ino = ino;
	st->mode = in.i_mode;
	st->uid = inode_uid(in);
	st->gid = inode_gid(in);
	st->nlink = in.i_links_count;
	st->size = EXT2_I_SIZE(&in);
	st->mtime = (int32_t)in.i_mtime;
	if (EXT2_INODE_SIZE(x->fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
	    in.i_extra_isize >= offsetof(struct ext2_inode_large, i_mtime_extra) + 4 - EXT2_GOOD_OLD_INODE_SIZE)
		st->mtime += (int64_t)(in.i_mtime_extra & 3) << 32;
	return 0;
}

static int ext4_lookup(void *priv, uint64_t dir_ino, const char *name, uint64_t *ino, struct buf *err)
{
	struct ext4 *x = priv;
	ext2_ino_t found = 0;

	if (dir_ino == 0 || dir_ino > x->fs->super->s_inodes_count)
		return ext_fail(x, EXT2_ET_BAD_INODE_NUM, "look up a name in", dir_ino, err);
	errcode_t code = ext2fs_lookup(x->fs, (ext2_ino_t)dir_ino, name, (int)strlen(name), NULL, &found);
	if (code == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	if (code)
		return ext_fail(x, code, "look up a name in directory", dir_ino, err);
	*ino = found;
	return 0;
}

struct readdir_ctx {
	img_dir_cb cb;
	void *arg;
	int rc;
};

static int readdir_one(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int offset, int blocksize, char *buf,
		       void *priv)
{
	static const uint32_t ft_mode[] = { 0, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, S_IFLNK };
	struct readdir_ctx *c = priv;
	char name[256];
	int len = ext2fs_dirent_name_len(d);

	(void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
	memcpy(name, d->name, (size_t)len);
	name[len] = '\0';
	/* "." and "..", and names no path could reach (empty, with NUL or '/') */
	if (len == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strlen(name) != (size_t)len ||
	    strchr(name, '/'))
		return 0;
	int ft = ext2fs_dirent_file_type(d);
	struct img_stat st = { .ino = d->inode, .mode = ft < (int)ARRAY_SIZE(ft_mode) ? ft_mode[ft] : 0 };
	c->rc = c->cb(name, &st, c->arg);
	return c->rc ? DIRENT_ABORT : 0;
}

static int ext4_readdir(void *priv, uint64_t dir_ino, img_dir_cb cb, void *arg, struct buf *err)
{
	struct ext4 *x = priv;
	struct readdir_ctx c = { .cb = cb, .arg = arg };

	if (dir_ino == 0 || dir_ino > x->fs->super->s_inodes_count)
		return ext_fail(x, EXT2_ET_BAD_INODE_NUM, "list directory", dir_ino, err);
	errcode_t code = ext2fs_dir_iterate2(x->fs, (ext2_ino_t)dir_ino, 0, NULL, readdir_one, &c);
	if (c.rc)
		return c.rc;
	if (code)
		return ext_fail(x, code, "list directory", dir_ino, err);
	return 0;
}

/* The mapping of logical block lblk: *phys (0 = hole) for *count blocks (<= max). */
static errcode_t map_extent(ext2_extent_handle_t h, blk64_t lblk, blk64_t max, blk64_t *phys, blk64_t *count)
{
	struct ext2fs_extent ext;
	errcode_t code = ext2fs_extent_goto(h, lblk);

	*phys = 0;
	*count = 1;
	if (code == 0) {
		code = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext);
		if (code)
			return code;
		if (lblk < ext.e_lblk || lblk - ext.e_lblk >= ext.e_len)
			return EXT2_ET_EXTENT_NOT_FOUND;
		*count = ext.e_lblk + ext.e_len - lblk;
		if (!(ext.e_flags & EXT2_EXTENT_FLAGS_UNINIT))
			*phys = ext.e_pblk + (lblk - ext.e_lblk);
	} else if (code == EXT2_ET_EXTENT_NOT_FOUND) {
		/* a hole: it lasts until the next extent */
		*count = max;
		if (ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ext) == 0 && ext.e_lblk > lblk)
			*count = ext.e_lblk - lblk;
		else if (ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &ext) == 0)
			*count = ext.e_lblk > lblk ? ext.e_lblk - lblk : 1;
	} else {
		return code;
	}
	if (*count > max)
		*count = max;
	if (*count == 0)
		*count = 1;
	return 0;
}

static errcode_t map_blockmap(struct ext4 *x, uint64_t ino, struct ext2_inode_large *in, blk64_t lblk,
			      blk64_t max, blk64_t *phys, blk64_t *count)
{
	blk64_t p;
	int flags = 0;
	errcode_t code = ext2fs_bmap2(x->fs, (ext2_ino_t)ino, (struct ext2_inode *)in, x->bmap_buf, 0, lblk, &flags,
				      &p);
	if (code)
		return code;
	*phys = p;
	*count = 1;
	while (*count < max) {
		blk64_t q;
		code = ext2fs_bmap2(x->fs, (ext2_ino_t)ino, (struct ext2_inode *)in, x->bmap_buf, 0, lblk + *count,
				    &flags, &q);
		if (code || (p == 0 ? q != 0 : q != p + *count))
			break;
		(*count)++;
	}
	return 0;
}

/* Bytes [off, off+len) of the inode's data (off + len <= size). */
static int read_data(struct ext4 *x, uint64_t ino, struct ext2_inode_large *in, uint64_t off, char *buf,
		     size_t len, struct buf *err)
{
	uint64_t bs = x->fs->blocksize;
	ext2_extent_handle_t h = NULL;
	errcode_t code = 0;
	int rc = 0;

	if (in->i_flags & EXT4_INLINE_DATA_FL) {
		size_t isize = 0;
		code = ext2fs_inline_data_size(x->fs, (ext2_ino_t)ino, &isize);
		if (code)
			return ext_fail(x, code, "read inline data of", ino, err);
		__do_free char *tmp = xcalloc(1, isize + 1);
		code = ext2fs_inline_data_get(x->fs, (ext2_ino_t)ino, (struct ext2_inode *)in, tmp, &isize);
		if (code)
			return ext_fail(x, code, "read inline data of", ino, err);
		for (size_t i = 0; i < len; i++)
			buf[i] = off + i < isize ? tmp[off + i] : 0;
		return 0;
	}
	if (in->i_flags & EXT4_EXTENTS_FL) {
		code = ext2fs_extent_open2(x->fs, (ext2_ino_t)ino, (struct ext2_inode *)in, &h);
		if (code)
			return ext_fail(x, code, "read the extent tree of", ino, err);
	}
	uint64_t pos = off, end = off + len;
	blk64_t nblocks = ext2fs_blocks_count(x->fs->super);
	while (pos < end) {
		blk64_t lblk = pos / bs, phys = 0, count = 1;
		uint64_t within = pos % bs;
		blk64_t max = (end - pos + within + bs - 1) / bs;
		code = h ? map_extent(h, lblk, max, &phys, &count) : map_blockmap(x, ino, in, lblk, max, &phys, &count);
		if (code) {
			rc = ext_fail(x, code, "map blocks of", ino, err);
			break;
		}
		uint64_t n = count * bs - within;
		if (n > end - pos)
			n = end - pos;
		char *dst = buf + (pos - off);
		if (phys == 0) {
			memset(dst, 0, n);
		} else if (phys >= nblocks || count > nblocks - phys) {
			rc = ext_fail(x, EXT2_ET_BAD_BLOCK_NUM, "read data of", ino, err);
			break;
		} else {
			rc = img_dev_pread(x->dev, dst, n, phys * bs + within, err);
			if (rc < 0)
				break;
		}
		pos += n;
	}
	if (h)
		ext2fs_extent_free(h);
	return rc;
}

static int ext4_read(void *priv, uint64_t ino, uint64_t off, void *buf, size_t len, size_t *got, struct buf *err)
{
	struct ext4 *x = priv;
	struct ext2_inode_large in;
	int rc = read_inode(x, ino, &in, err);

	*got = 0;
	if (rc < 0)
		return rc;
	uint64_t size = EXT2_I_SIZE(&in);
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	rc = read_data(x, ino, &in, off, buf, len, err);
	if (rc < 0)
		return rc;
	*got = len;
	return 0;
}

static int ext4_readlink(void *priv, uint64_t ino, struct buf *out, struct buf *err)
{
	struct ext4 *x = priv;
	struct ext2_inode_large in;
	int rc = read_inode(x, ino, &in, err);

	if (rc < 0)
		return rc;
	uint64_t size = EXT2_I_SIZE(&in);
	if (!LINUX_S_ISLNK(in.i_mode) || size > MAX_LINK) {
		buf_printf(err, "cannot read symbolic link inode %" PRIu64 " of the %s filesystem on %s: %s", ino,
			   x->type, img_dev_desc(x->dev), LINUX_S_ISLNK(in.i_mode) ? "target too long" : "not a link");
		return -EINVAL;
	}
	char target[MAX_LINK + 1];
	if (!(in.i_flags & EXT4_INLINE_DATA_FL) && !ext2fs_inode_has_valid_blocks2(x->fs, (struct ext2_inode *)&in)) {
		if (size >= sizeof(in.i_block)) {
			buf_printf(err, "cannot read symbolic link inode %" PRIu64 " of the %s filesystem on %s: "
				   "the fast link is too long", ino, x->type, img_dev_desc(x->dev));
			return -EIO;
		}
		memcpy(target, in.i_block, size);
	} else {
		rc = read_data(x, ino, &in, 0, target, size, err);
		if (rc < 0)
			return rc;
	}
	buf_add(out, target, strnlen(target, size));
	return 0;
}

static const char *ext4_type(void *priv)
{
	return ((struct ext4 *)priv)->type;
}

const struct img_fs_driver img_ext4_driver = {
	.name = "ext4",
	.match = ext4_match,
	.open = ext4_open,
	.close = ext4_close,
	.getattr = ext4_getattr,
	.lookup = ext4_lookup,
	.readdir = ext4_readdir,
	.read = ext4_read,
	.readlink = ext4_readlink,
	.type = ext4_type,
};
