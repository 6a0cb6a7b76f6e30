/*
 * xfs.c - read-only XFS driver behind img_fs (see image_internal.h).
 *
 * Our own reader of the on-disk format, for v4 and v5 (CRC) filesystems: the
 * superblock, inodes (core v1-v3, big timestamps, 64-bit extent counters),
 * data forks in local, extents and btree (bmbt) format, directories in
 * shortform, block, leaf and node format (entries are found by a linear scan
 * of the data blocks, the hash leaves are not needed), regular files (holes
 * and unwritten extents read as zeros) and local or remote symlinks.  The
 * journal is not replayed and checksums are not verified: we read what is on
 * disk, as of the last metadata write-back.
 *
 * Everything read from the image is bounds-checked before use: inode numbers
 * and block numbers against the AG geometry, extent counts against the fork
 * size, btree levels (at most 10) and record counts against the block size,
 * directory entries against their block.  A hostile image gets -EIO and one
 * sentence naming the structure, never a crash or an unbounded loop.  Open
 * caches the extent map of the last file read, so sequential reads of a big
 * fragmented file parse its btree once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image_internal.h"
#include "util/common.h"

#define XFS_SB_MAGIC 0x58465342u	/* "XFSB" */
#define XFS_DINODE_MAGIC 0x494eu	/* "IN" */
#define XFS_BMAP_MAGIC 0x424d4150u	/* "BMAP" */
#define XFS_BMAP_CRC_MAGIC 0x424d4133u	/* "BMA3" */
#define XFS_DIR2_BLOCK_MAGIC 0x58443242u	/* "XD2B" */
#define XFS_DIR2_DATA_MAGIC 0x58443244u	/* "XD2D" */
#define XFS_DIR3_BLOCK_MAGIC 0x58444233u	/* "XDB3" */
#define XFS_DIR3_DATA_MAGIC 0x58444433u	/* "XDD3" */
#define XFS_SYMLINK_MAGIC 0x58534c4du	/* "XSLM" */

/* v4 sb_versionnum bits and sb_features2 */
#define XFS_SB_VERSION_NUMBITS 0x000f
#define XFS_SB_VERSION_DIRV2BIT 0x2000
#define XFS_SB_VERSION_MOREBITSBIT 0x8000
#define XFS_SB_VERSION2_FTYPE 0x0200

/* v5 incompatible features */
#define XFS_SB_FEAT_INCOMPAT_FTYPE 0x01
#define XFS_SB_FEAT_INCOMPAT_SPINODES 0x02
#define XFS_SB_FEAT_INCOMPAT_META_UUID 0x04
#define XFS_SB_FEAT_INCOMPAT_BIGTIME 0x08
#define XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR 0x10
#define XFS_SB_FEAT_INCOMPAT_NREXT64 0x20
#define XFS_SB_FEAT_INCOMPAT_EXCHRANGE 0x40
#define XFS_SB_FEAT_INCOMPAT_PARENT 0x80
/* What changes nothing for a reader of directories, files and symlinks. */
#define XFS_INCOMPAT_SUPPORTED                                                              \
	(XFS_SB_FEAT_INCOMPAT_FTYPE | XFS_SB_FEAT_INCOMPAT_SPINODES |                       \
	 XFS_SB_FEAT_INCOMPAT_META_UUID | XFS_SB_FEAT_INCOMPAT_BIGTIME |                    \
	 XFS_SB_FEAT_INCOMPAT_NREXT64 | XFS_SB_FEAT_INCOMPAT_EXCHRANGE |                    \
	 XFS_SB_FEAT_INCOMPAT_PARENT)

/* inode */
#define XFS_DINODE_FMT_LOCAL 1
#define XFS_DINODE_FMT_EXTENTS 2
#define XFS_DINODE_FMT_BTREE 3
#define XFS_DIFLAG_REALTIME 0x0001
#define XFS_DIFLAG2_BIGTIME 0x0008
#define XFS_DIFLAG2_NREXT64 0x0010
#define XFS_DINODE_V2_CORE 100
#define XFS_DINODE_V3_CORE 176

#define XFS_BMBT_MAXLEVELS 10
#define XFS_BMDR_HDR 4
#define XFS_BTREE_LBLOCK_HDR 24
#define XFS_BTREE_LBLOCK_CRC_HDR 72
#define XFS_DIR2_DATA_HDR 16
#define XFS_DIR3_DATA_HDR 64
#define XFS_SYMLINK_CRC_HDR 56
#define XFS_SYMLINK_MAXLEN 1024
#define XFS_DIR2_LEAF_OFFSET (32ull << 30)	/* data blocks live below this */
#define XFS_MAX_EXTENTS (1u << 22)		/* per file, in memory */
#define XFS_BIGTIME_EPOCH_OFFSET 2147483648ll	/* -(INT32_MIN) */

struct xfs_ext {
	uint64_t off;		/* file block */
	uint64_t blk;		/* filesystem block (agno << agblklog | agbno) */
	uint32_t len;		/* blocks, 1..2^21-1 */
	bool unwritten;
};

struct xfs_inode {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	int64_t mtime;
	uint8_t format;
	bool realtime;
	uint64_t nextents;
	uint8_t *fork;		/* data fork literal area */
	size_t forklen;
	struct xfs_ext *ext;	/* extent map (extents and btree formats) */
	size_t next;
};

struct xfs {
	struct img_dev *dev;
	bool crc;		/* v5 */
	bool ftype;		/* dir entries carry a file type */
	uint32_t blocksize, agblocks, agcount;
	uint32_t blocklog, agblklog, inopblog, inodelog;
	uint32_t inodesize, dirblksize, dirblklog;
	uint64_t dblocks, rootino;
	struct xfs_inode cache;	/* last inode read(), with its extent map */
	bool cached;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static int ilog2_exact(uint64_t v)
{
	if (v == 0 || (v & (v - 1)))
		return -1;
	return __builtin_ctzll(v);
}

/* ---- superblock ---- */

static bool xfs_match(struct img_dev *dev)
{
	uint8_t magic[4];
	struct buf err = BUF_INIT;
	bool ok = img_dev_size(dev) >= 512 && img_dev_pread(dev, magic, 4, 0, &err) == 0 &&
		  be32(magic) == XFS_SB_MAGIC;

	buf_release(&err);
	return ok;
}

static const char *const xfs_incompat_names[] = {
	"ftype", "sparse inodes", "meta_uuid", "bigtime", "needsrepair", "nrext64",
	"exchange-range", "parent pointers", "metadir", "zoned",
};

static int xfs_sb_incompat_check(uint32_t incompat, struct buf *err)
{
	uint32_t bad = incompat & ~(uint32_t)XFS_INCOMPAT_SUPPORTED;

	if (!bad)
		return 0;
	if (bad == XFS_SB_FEAT_INCOMPAT_NEEDSREPAIR) {
		buf_printf(err, "XFS filesystem is marked as needing repair (run xfs_repair), refusing to read it");
		return -EIO;
	}
	buf_printf(err, "XFS filesystem uses unsupported incompatible features:");
	for (unsigned i = 0; i < 32; i++) {
		if (!(bad & (1u << i)))
			continue;
		if (i < ARRAY_SIZE(xfs_incompat_names))
			buf_printf(err, " %s", xfs_incompat_names[i]);
		else
			buf_printf(err, " unknown(0x%x)", 1u << i);
	}
	return -ENOTSUP;
}

static int xfs_sb_parse(struct xfs *x, const uint8_t *sb, struct buf *err)
{
	uint32_t blocksize = be32(sb + 4);
	uint16_t versionnum = be16(sb + 100);
	uint16_t sectsize = be16(sb + 102), inodesize = be16(sb + 104), inopblock = be16(sb + 106);
	unsigned version = versionnum & XFS_SB_VERSION_NUMBITS;
	int blocklog = ilog2_exact(blocksize), sectlog = ilog2_exact(sectsize);
	int inodelog = ilog2_exact(inodesize);

	if (be32(sb) != XFS_SB_MAGIC) {
		buf_printf(err, "no XFS superblock (bad magic)");
		return -EINVAL;
	}
	if (version != 4 && version != 5) {
		buf_printf(err, "XFS superblock version %u is not supported (only 4 and 5)", version);
		return -ENOTSUP;
	}
	x->crc = version == 5;
	if (blocklog < 9 || blocklog > 16 || sb[120] != blocklog) {
		buf_printf(err, "XFS superblock has an invalid block size %" PRIu32, blocksize);
		return -EIO;
	}
	if (sectlog < 9 || sectlog > 15 || sb[121] != sectlog || sectsize > blocksize) {
		buf_printf(err, "XFS superblock has an invalid sector size %u", sectsize);
		return -EIO;
	}
	if (inodelog < (x->crc ? 9 : 8) || inodelog > 11 || sb[122] != inodelog || inodesize > blocksize ||
	    inopblock != blocksize / inodesize || sb[123] != blocklog - inodelog) {
		buf_printf(err, "XFS superblock has an invalid inode size %u (%u per block)", inodesize, inopblock);
		return -EIO;
	}
	x->blocksize = blocksize;
	x->blocklog = (uint32_t)blocklog;
	x->inodesize = inodesize;
	x->inodelog = (uint32_t)inodelog;
	x->inopblog = (uint32_t)(blocklog - inodelog);
	x->dblocks = be64(sb + 8);
	x->agblocks = be32(sb + 84);
	x->agcount = be32(sb + 88);
	x->agblklog = sb[124];
	x->rootino = be64(sb + 56);
	if (x->agcount == 0 || x->agblocks < 64 || x->agblklog > 31 || x->agblklog + x->inopblog > 32 ||
	    (1ull << x->agblklog) < x->agblocks || (x->agblklog > 0 && (1ull << (x->agblklog - 1)) >= x->agblocks)) {
		buf_printf(err, "XFS superblock has an invalid allocation group geometry (%" PRIu32
			   " groups of %" PRIu32 " blocks)", x->agcount, x->agblocks);
		return -EIO;
	}
	if (x->dblocks == 0 || x->dblocks > (uint64_t)x->agcount * x->agblocks ||
	    x->dblocks <= (uint64_t)(x->agcount - 1) * x->agblocks) {
		buf_printf(err, "XFS superblock block count %" PRIu64 " does not match %" PRIu32
			   " allocation groups of %" PRIu32 " blocks", x->dblocks, x->agcount, x->agblocks);
		return -EIO;
	}
	if (x->dblocks > img_dev_size(x->dev) >> x->blocklog) {
		buf_printf(err, "XFS filesystem (%" PRIu64 " bytes) is larger than its device (%" PRIu64 " bytes)",
			   x->dblocks << x->blocklog, img_dev_size(x->dev));
		return -EIO;
	}
	x->dirblklog = sb[192];
	if (x->blocklog + x->dirblklog > 16) {
		buf_printf(err, "XFS superblock has an invalid directory block size (2^%u blocks)", x->dirblklog);
		return -EIO;
	}
	x->dirblksize = x->blocksize << x->dirblklog;
	if (x->crc) {
		int rc = xfs_sb_incompat_check(be32(sb + 216), err);
		if (rc < 0)
			return rc;
		x->ftype = be32(sb + 216) & XFS_SB_FEAT_INCOMPAT_FTYPE;
	} else {
		if (!(versionnum & XFS_SB_VERSION_DIRV2BIT)) {
			buf_printf(err, "XFS filesystem uses version 1 directories, which are not supported");
			return -ENOTSUP;
		}
		uint32_t features2 = (versionnum & XFS_SB_VERSION_MOREBITSBIT) ? be32(sb + 200) | be32(sb + 204) : 0;
		x->ftype = features2 & XFS_SB_VERSION2_FTYPE;
	}
	return 0;
}

/* ---- inode and block addressing ---- */

static bool xfs_ino_valid(const struct xfs *x, uint64_t ino)
{
	uint32_t shift = x->agblklog + x->inopblog;
	uint64_t agno = ino >> shift;
	uint64_t agbno = (ino >> x->inopblog) & ((1ull << x->agblklog) - 1);

	return ino != 0 && agno < x->agcount && agbno < x->agblocks &&
	       agno * x->agblocks + agbno < x->dblocks;
}

/* Byte offset of filesystem block fsb, or false if fsb..fsb+len is not inside one AG of the fs. */
static bool xfs_fsb_pos(const struct xfs *x, uint64_t fsb, uint64_t len, uint64_t *pos)
{
	uint64_t agno = fsb >> x->agblklog, agbno = fsb & ((1ull << x->agblklog) - 1);
	uint64_t daddr = agno * x->agblocks + agbno;

	if (agno >= x->agcount || len > x->agblocks || agbno > x->agblocks - len || daddr + len > x->dblocks)
		return false;
	*pos = daddr << x->blocklog;
	return true;
}

static int xfs_read_fsb(struct xfs *x, uint64_t fsb, void *buf, size_t nblocks, uint64_t ino, const char *what,
			struct buf *err)
{
	uint64_t pos;

	if (!xfs_fsb_pos(x, fsb, nblocks, &pos)) {
		buf_printf(err, "XFS inode %" PRIu64 ": %s block %" PRIu64 " lies outside the filesystem", ino, what,
			   fsb);
		return -EIO;
	}
	return img_dev_pread(x->dev, buf, nblocks << x->blocklog, pos, err);
}

static void xfs_inode_release(struct xfs_inode *ip)
{
	free(ip->fork);
	free(ip->ext);
	memset(ip, 0, sizeof(*ip));
}

static int64_t xfs_ts_decode(const uint8_t *p, bool bigtime)
{
	if (bigtime)
		return (int64_t)(be64(p) / 1000000000u) - XFS_BIGTIME_EPOCH_OFFSET;
	return (int32_t)be32(p);
}

/* ---- extent maps ---- */

static int xfs_ext_add(struct xfs *x, struct xfs_inode *ip, const uint8_t *rec, size_t *cap, struct buf *err)
{
	uint64_t l0 = be64(rec), l1 = be64(rec + 8);
	struct xfs_ext e = {
		.unwritten = l0 >> 63,
		.off = (l0 & ((1ull << 63) - 1)) >> 9,
		.blk = ((l0 & 0x1ff) << 43) | (l1 >> 21),
		.len = (uint32_t)(l1 & ((1u << 21) - 1)),
	};
	uint64_t pos;

	if (ip->next >= ip->nextents || ip->next >= XFS_MAX_EXTENTS) {
		buf_printf(err, "XFS inode %" PRIu64 " has more extents than the %" PRIu64 " it declares", ip->ino,
			   ip->nextents);
		return -EIO;
	}
	if (e.len == 0 || !xfs_fsb_pos(x, e.blk, e.len, &pos) ||
	    (ip->next > 0 && e.off < ip->ext[ip->next - 1].off + ip->ext[ip->next - 1].len)) {
		buf_printf(err, "XFS inode %" PRIu64 " has a corrupt extent record (file block %" PRIu64
			   ", disk block %" PRIu64 ", %" PRIu32 " blocks)", ip->ino, e.off, e.blk, e.len);
		return -EIO;
	}
	if (ip->next == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		ip->ext = xrealloc(ip->ext, *cap * sizeof(*ip->ext));
	}
	ip->ext[ip->next++] = e;
	return 0;
}

/* Walk one bmbt block (long format) at fsb, expecting level `level`. */
static int xfs_bmbt_walk(struct xfs *x, struct xfs_inode *ip, uint64_t fsb, unsigned level, uint8_t *blk,
			 size_t *cap, struct buf *err)
{
	size_t hdr = x->crc ? XFS_BTREE_LBLOCK_CRC_HDR : XFS_BTREE_LBLOCK_HDR;
	uint32_t magic = x->crc ? XFS_BMAP_CRC_MAGIC : XFS_BMAP_MAGIC;
	size_t maxrecs = (x->blocksize - hdr) / 16;
	int rc = xfs_read_fsb(x, fsb, blk, 1, ip->ino, "extent btree", err);

	if (rc < 0)
		return rc;
	uint16_t blevel = be16(blk + 4), numrecs = be16(blk + 6);
	if (be32(blk) != magic || blevel != level || numrecs == 0 || numrecs > maxrecs ||
	    (x->crc && be64(blk + 56) != ip->ino)) {
		buf_printf(err, "XFS inode %" PRIu64 ": extent btree block %" PRIu64 " is corrupt", ip->ino, fsb);
		return -EIO;
	}
	if (level == 0) {
		for (size_t i = 0; i < numrecs; i++) {
			rc = xfs_ext_add(x, ip, blk + hdr + i * 16, cap, err);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	/* children reuse blk: copy the pointers out first */
	__do_free uint64_t *ptrs = xmalloc(numrecs * sizeof(*ptrs));
	for (size_t i = 0; i < numrecs; i++)
		ptrs[i] = be64(blk + hdr + maxrecs * 8 + i * 8);
	for (size_t i = 0; i < numrecs; i++) {
		rc = xfs_bmbt_walk(x, ip, ptrs[i], level - 1, blk, cap, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int xfs_bmap_load(struct xfs *x, struct xfs_inode *ip, struct buf *err)
{
	size_t cap = 0;
	int rc;

	if (ip->nextents > XFS_MAX_EXTENTS || ip->nextents > x->dblocks) {
		buf_printf(err, "XFS inode %" PRIu64 " declares %" PRIu64 " extents, too many to read", ip->ino,
			   ip->nextents);
		return -EIO;
	}
	if (ip->format == XFS_DINODE_FMT_EXTENTS) {
		if (ip->nextents > ip->forklen / 16) {
			buf_printf(err, "XFS inode %" PRIu64 " declares %" PRIu64 " extents, more than its fork holds",
				   ip->ino, ip->nextents);
			return -EIO;
		}
		for (size_t i = 0; i < ip->nextents; i++) {
			rc = xfs_ext_add(x, ip, ip->fork + i * 16, &cap, err);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	/* btree root in the inode: level, numrecs, keys[maxrecs], ptrs[maxrecs] */
	if (ip->forklen < XFS_BMDR_HDR + 16) {
		buf_printf(err, "XFS inode %" PRIu64 ": extent btree root does not fit its fork", ip->ino);
		return -EIO;
	}
	size_t maxrecs = (ip->forklen - XFS_BMDR_HDR) / 16;
	uint16_t level = be16(ip->fork), numrecs = be16(ip->fork + 2);
	if (level == 0 || level > XFS_BMBT_MAXLEVELS || numrecs == 0 || numrecs > maxrecs) {
		buf_printf(err, "XFS inode %" PRIu64 " has a corrupt extent btree root (level %u, %u records)",
			   ip->ino, level, numrecs);
		return -EIO;
	}
	__do_free uint8_t *blk = xmalloc(x->blocksize);
	for (size_t i = 0; i < numrecs; i++) {
		uint64_t ptr = be64(ip->fork + XFS_BMDR_HDR + maxrecs * 8 + i * 8);
		rc = xfs_bmbt_walk(x, ip, ptr, level - 1u, blk, &cap, err);
		if (rc < 0)
			return rc;
	}
	if (ip->next != ip->nextents) {
		buf_printf(err, "XFS inode %" PRIu64 " declares %" PRIu64 " extents but its btree holds %zu", ip->ino,
			   ip->nextents, ip->next);
		return -EIO;
	}
	return 0;
}

/* Index of the first extent ending after file block fb (ip->next if none). */
static size_t xfs_ext_find(const struct xfs_inode *ip, uint64_t fb)
{
	size_t lo = 0, hi = ip->next;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ip->ext[mid].off + ip->ext[mid].len <= fb)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Read an inode's core and data fork; with map, also its extent map unless
 * the fork is local. */
static int xfs_inode_load(struct xfs *x, uint64_t ino, bool map, struct xfs_inode *ip, struct buf *err)
{
	uint64_t agno, agbno, pos;
	int rc;

	memset(ip, 0, sizeof(*ip));
	ip->ino = ino;
	if (!xfs_ino_valid(x, ino)) {
		buf_printf(err, "XFS inode number %" PRIu64 " is outside the filesystem", ino);
		return -EIO;
	}
	agno = ino >> (x->agblklog + x->inopblog);
	agbno = (ino >> x->inopblog) & ((1ull << x->agblklog) - 1);
	pos = ((agno * x->agblocks + agbno) << x->blocklog) + ((ino & ((1ull << x->inopblog) - 1)) << x->inodelog);
	__do_free uint8_t *d = xmalloc(x->inodesize);
	rc = img_dev_pread(x->dev, d, x->inodesize, pos, err);
	if (rc < 0)
		return rc;

	uint8_t version = d[4];
	size_t core = version == 3 ? XFS_DINODE_V3_CORE : XFS_DINODE_V2_CORE;
	if (be16(d) != XFS_DINODE_MAGIC || version < 1 || version > 3 || (x->crc && version != 3) ||
	    (version == 3 && be64(d + 152) != ino)) {
		buf_printf(err, "XFS inode %" PRIu64 " is corrupt (bad magic, version or number)", ino);
		return -EIO;
	}
	uint64_t flags2 = version == 3 ? be64(d + 120) : 0;
	ip->mode = be16(d + 2);
	ip->format = d[5];
	ip->uid = be32(d + 8);
	ip->gid = be32(d + 12);
	ip->nlink = version == 1 ? be16(d + 6) : be32(d + 16);
	ip->mtime = xfs_ts_decode(d + 40, flags2 & XFS_DIFLAG2_BIGTIME);
	ip->size = be64(d + 56);
	ip->realtime = be16(d + 90) & XFS_DIFLAG_REALTIME;
	ip->nextents = (flags2 & XFS_DIFLAG2_NREXT64) ? be64(d + 24) : be32(d + 76);
	if (ip->size > INT64_MAX) {
		buf_printf(err, "XFS inode %" PRIu64 " has an invalid size", ino);
		return -EIO;
	}
	size_t forkoff = (size_t)d[82] * 8;
	size_t lit = x->inodesize - core;
	if (forkoff > lit) {
		buf_printf(err, "XFS inode %" PRIu64 " has an invalid fork offset", ino);
		return -EIO;
	}
	ip->forklen = forkoff ? forkoff : lit;
	ip->fork = xmalloc(ip->forklen);
	memcpy(ip->fork, d + core, ip->forklen);

	switch (ip->mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
		if (ip->format == XFS_DINODE_FMT_EXTENTS || ip->format == XFS_DINODE_FMT_BTREE) {
			if (!map || (ip->realtime && S_ISREG(ip->mode)))
				return 0;	/* extents on the realtime device: read refuses */
			return xfs_bmap_load(x, ip, err);
		}
		if (ip->format == XFS_DINODE_FMT_LOCAL && !S_ISREG(ip->mode)) {
			if (ip->size > ip->forklen) {
				buf_printf(err, "XFS inode %" PRIu64 " has more inline data than its fork holds", ino);
				return -EIO;
			}
			return 0;
		}
		buf_printf(err, "XFS inode %" PRIu64 " has an invalid data fork format %u", ino, ip->format);
		return -EIO;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 0;
	default:
		buf_printf(err, "XFS inode %" PRIu64 " has an invalid file type (mode 0%o)", ino, ip->mode);
		return -EIO;
	}
}

/* ---- directories ---- */

typedef int (*xfs_dirent_fn)(struct xfs *x, const char *name, uint64_t ino, uint8_t ftype, void *arg,
			     struct buf *err);

static int xfs_dirent_emit(struct xfs *x, const struct xfs_inode *dp, const uint8_t *name, size_t namelen,
			   uint64_t ino, uint8_t ftype, xfs_dirent_fn fn, void *arg, struct buf *err)
{
	char tmp[256];

	if (namelen == 0 || namelen > 255 || memchr(name, '/', namelen) || memchr(name, 0, namelen) ||
	    !xfs_ino_valid(x, ino)) {
		buf_printf(err, "XFS directory inode %" PRIu64 " has a corrupt entry", dp->ino);
		return -EIO;
	}
	memcpy(tmp, name, namelen);
	tmp[namelen] = 0;
	if (!strcmp(tmp, ".") || !strcmp(tmp, ".."))
		return 0;
	return fn(x, tmp, ino, ftype, arg, err);
}

static int xfs_dir_sf_iter(struct xfs *x, const struct xfs_inode *dp, xfs_dirent_fn fn, void *arg,
			   struct buf *err)
{
	const uint8_t *p = dp->fork, *end = dp->fork + dp->size;

	if (dp->size < 2)
		goto corrupt;
	unsigned count = p[0], inolen = p[1] ? 8 : 4;
	if (dp->size < 2 + inolen)
		goto corrupt;
	p += 2 + inolen;
	for (unsigned i = 0; i < count; i++) {
		if (end - p < 3)
			goto corrupt;
		size_t namelen = p[0];
		const uint8_t *name = p + 3;
		size_t need = 3 + namelen + (x->ftype ? 1 : 0) + inolen;
		if ((size_t)(end - p) < need)
			goto corrupt;
		uint8_t ftype = x->ftype ? name[namelen] : 0;
		const uint8_t *ip = name + namelen + (x->ftype ? 1 : 0);
		uint64_t ino = inolen == 8 ? be64(ip) : be32(ip);
		int rc = xfs_dirent_emit(x, dp, name, namelen, ino, ftype, fn, arg, err);
		if (rc != 0)
			return rc;
		p += need;
	}
	return 0;
corrupt:
	buf_printf(err, "XFS directory inode %" PRIu64 " has a corrupt short-form directory", dp->ino);
	return -EIO;
}

/* Read directory block at file block fb (dirblksize bytes, all mapped). */
static int xfs_dir_block_read(struct xfs *x, const struct xfs_inode *dp, uint64_t fb, uint8_t *blk,
			      struct buf *err)
{
	uint64_t nblk = 1ull << x->dirblklog;

	for (uint64_t i = 0; i < nblk;) {
		size_t k = xfs_ext_find(dp, fb + i);
		if (k == dp->next || dp->ext[k].off > fb + i || dp->ext[k].unwritten) {
			buf_printf(err, "XFS directory inode %" PRIu64 " has a hole in directory block %" PRIu64,
				   dp->ino, fb);
			return -EIO;
		}
		const struct xfs_ext *e = &dp->ext[k];
		uint64_t n = e->off + e->len - (fb + i);
		if (n > nblk - i)
			n = nblk - i;
		int rc = xfs_read_fsb(x, e->blk + (fb + i - e->off), blk + (i << x->blocklog), n, dp->ino,
				      "directory", err);
		if (rc < 0)
			return rc;
		i += n;
	}
	return 0;
}

static int xfs_dir_data_iter(struct xfs *x, const struct xfs_inode *dp, const uint8_t *blk, uint64_t fb,
			     xfs_dirent_fn fn, void *arg, struct buf *err)
{
	uint32_t magic = be32(blk);
	bool block_fmt = magic == (x->crc ? XFS_DIR3_BLOCK_MAGIC : XFS_DIR2_BLOCK_MAGIC);
	size_t pos = x->crc ? XFS_DIR3_DATA_HDR : XFS_DIR2_DATA_HDR, end = x->dirblksize;

	if (!block_fmt && magic != (x->crc ? XFS_DIR3_DATA_MAGIC : XFS_DIR2_DATA_MAGIC))
		goto corrupt;
	if (x->crc && be64(blk + 40) != dp->ino)
		goto corrupt;
	if (block_fmt) {
		/* leaf entries (8 bytes each) and a tail {count, stale} end the block */
		uint64_t count = be32(blk + end - 8);
		if (count > (end - pos - 8) / 8)
			goto corrupt;
		end -= 8 + count * 8;
	}
	while (pos < end) {
		if (end - pos < 8)
			goto corrupt;
		if (be16(blk + pos) == 0xffff) {
			size_t len = be16(blk + pos + 2);
			if (len < 8 || len % 8 || len > end - pos)
				goto corrupt;
			pos += len;
			continue;
		}
		uint64_t ino = be64(blk + pos);
		size_t namelen = blk[pos + 8];
		size_t entsize = (8 + 1 + namelen + (x->ftype ? 1 : 0) + 2 + 7) & ~(size_t)7;
		if (entsize > end - pos)
			goto corrupt;
		uint8_t ftype = x->ftype ? blk[pos + 9 + namelen] : 0;
		int rc = xfs_dirent_emit(x, dp, blk + pos + 9, namelen, ino, ftype, fn, arg, err);
		if (rc != 0)
			return rc;
		pos += entsize;
	}
	return 0;
corrupt:
	buf_printf(err, "XFS directory inode %" PRIu64 " has a corrupt data block at file block %" PRIu64, dp->ino,
		   fb);
	return -EIO;
}

static int xfs_dir_iter(struct xfs *x, const struct xfs_inode *dp, xfs_dirent_fn fn, void *arg, struct buf *err)
{
	if (!S_ISDIR(dp->mode)) {
		buf_printf(err, "XFS inode %" PRIu64 " is not a directory", dp->ino);
		return -ENOTDIR;
	}
	if (dp->format == XFS_DINODE_FMT_LOCAL)
		return xfs_dir_sf_iter(x, dp, fn, arg, err);

	uint64_t leaf_fb = XFS_DIR2_LEAF_OFFSET >> x->blocklog, nblk = 1ull << x->dirblklog;
	uint64_t next_fb = 0, seen = 0;
	__do_free uint8_t *blk = xmalloc(x->dirblksize);
	for (size_t k = 0; k < dp->next && dp->ext[k].off < leaf_fb; k++) {
		const struct xfs_ext *e = &dp->ext[k];
		uint64_t fb = e->off & ~(nblk - 1);
		if (fb < next_fb)
			fb = next_fb;
		for (; fb < e->off + e->len && fb < leaf_fb; fb += nblk) {
			if (++seen > x->dblocks) {
				buf_printf(err, "XFS directory inode %" PRIu64 " maps more blocks than the filesystem has",
					   dp->ino);
				return -EIO;
			}
			int rc = xfs_dir_block_read(x, dp, fb, blk, err);
			if (rc == 0)
				rc = xfs_dir_data_iter(x, dp, blk, fb, fn, arg, err);
			if (rc != 0)
				return rc;
			next_fb = fb + nblk;
		}
	}
	return 0;
}

/* ---- driver ops ---- */

static int xfs_open(struct img_dev *dev, void **priv, uint64_t *root_ino, struct buf *err)
{
	uint8_t sb[512];
	int rc;

	if (img_dev_size(dev) < sizeof(sb)) {
		buf_printf(err, "device is too small to hold an XFS filesystem");
		return -EINVAL;
	}
	rc = img_dev_pread(dev, sb, sizeof(sb), 0, err);
	if (rc < 0)
		return rc;
	__do_free struct xfs *x = xcalloc(1, sizeof(*x));
	x->dev = dev;
	rc = xfs_sb_parse(x, sb, err);
	if (rc < 0)
		return rc;
	if (!xfs_ino_valid(x, x->rootino)) {
		buf_printf(err, "XFS superblock has an invalid root inode number %" PRIu64, x->rootino);
		return -EIO;
	}
	*root_ino = x->rootino;
	*priv = move_ptr(x);
	return 0;
}

static void xfs_close(void *priv)
{
	struct xfs *x = priv;

	if (!x)
		return;
	xfs_inode_release(&x->cache);
	free(x);
}

static void xfs_stat_fill(const struct xfs_inode *ip, struct img_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = ip->ino;
	st->mode = ip->mode;
	st->uid = ip->uid;
	st->gid = ip->gid;
	st->nlink = ip->nlink;
	st->size = ip->size;
	st->mtime = ip->mtime;
}

/* The inode, from the cache when it is the one last read. */
static int xfs_inode_get(struct xfs *x, uint64_t ino, struct xfs_inode **out, struct buf *err)
{
	if (!x->cached || x->cache.ino != ino) {
		xfs_inode_release(&x->cache);
		x->cached = false;
		int rc = xfs_inode_load(x, ino, true, &x->cache, err);
		if (rc < 0) {
			xfs_inode_release(&x->cache);
			return rc;
		}
		x->cached = true;
	}
	*out = &x->cache;
	return 0;
}

static int xfs_getattr(void *priv, uint64_t ino, struct img_stat *st, struct buf *err)
{
	struct xfs_inode *ip;
	int rc = xfs_inode_get(priv, ino, &ip, err);

	if (rc == 0)
		xfs_stat_fill(ip, st);
	return rc;
}

struct xfs_lookup_arg {
	const char *name;
	uint64_t ino;
};

static int xfs_lookup_fn(struct xfs *x, const char *name, uint64_t ino, uint8_t ftype, void *arg, struct buf *err)
{
	struct xfs_lookup_arg *la = arg;

	(void)x;
	(void)ftype;
	(void)err;
	if (strcmp(name, la->name))
		return 0;
	la->ino = ino;
	return 1;
}

static int xfs_lookup(void *priv, uint64_t dir_ino, const char *name, uint64_t *ino, struct buf *err)
{
	struct xfs *x = priv;
	struct xfs_inode *dp;
	struct xfs_lookup_arg la = { .name = name };
	int rc = xfs_inode_get(x, dir_ino, &dp, err);

	if (rc < 0)
		return rc;
	rc = xfs_dir_iter(x, dp, xfs_lookup_fn, &la, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	*ino = la.ino;
	return 0;
}

struct xfs_readdir_arg {
	img_dir_cb cb;
	void *arg;
};

static const uint32_t xfs_ftype_mode[] = { 0, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, S_IFLNK };

static int xfs_readdir_fn(struct xfs *x, const char *name, uint64_t ino, uint8_t ftype, void *arg, struct buf *err)
{
	struct xfs_readdir_arg *ra = arg;
	struct img_stat st = { .ino = ino };

	if (ftype < ARRAY_SIZE(xfs_ftype_mode) && xfs_ftype_mode[ftype]) {
		st.mode = xfs_ftype_mode[ftype];
	} else {
		/* no file type in the entry: read the inode (not through the
		 * cache, which holds the directory being walked) */
		struct xfs_inode ip;
		int rc = xfs_inode_load(x, ino, false, &ip, err);
		uint32_t mode = ip.mode;
		xfs_inode_release(&ip);
		if (rc < 0)
			return rc;
		st.mode = mode & S_IFMT;
	}
	return ra->cb(name, &st, ra->arg);
}

static int xfs_readdir(void *priv, uint64_t dir_ino, img_dir_cb cb, void *arg, struct buf *err)
{
	struct xfs *x = priv;
	struct xfs_inode dp;
	struct xfs_readdir_arg ra = { .cb = cb, .arg = arg };
	/* a private copy: cb may call getattr, which replaces the cache */
	int rc = xfs_inode_load(x, dir_ino, true, &dp, err);

	if (rc == 0)
		rc = xfs_dir_iter(x, &dp, xfs_readdir_fn, &ra, err);
	xfs_inode_release(&dp);
	return rc;
}

/* min(n, bytes from inblk in the first of nblocks blocks to their end) */
static size_t xfs_span_clamp(const struct xfs *x, uint64_t nblocks, uint64_t inblk, size_t n)
{
	if (nblocks > ((uint64_t)n >> x->blocklog) + 1)
		return n;
	uint64_t avail = (nblocks << x->blocklog) - inblk;
	return avail < n ? (size_t)avail : n;
}

static int xfs_read(void *priv, uint64_t ino, uint64_t off, void *buf, size_t len, size_t *got, struct buf *err)
{
	struct xfs *x = priv;
	struct xfs_inode *ip;
	uint8_t *out = buf;
	int rc = xfs_inode_get(x, ino, &ip, err);

	*got = 0;
	if (rc < 0)
		return rc;
	if (!S_ISREG(ip->mode)) {
		buf_printf(err, "XFS inode %" PRIu64 " is not a regular file", ino);
		return -EINVAL;
	}
	if (ip->realtime) {
		buf_printf(err, "XFS inode %" PRIu64 " lives on the realtime device, which is not supported", ino);
		return -ENOTSUP;
	}
	if (off >= ip->size)
		return 0;
	if (len > ip->size - off)
		len = (size_t)(ip->size - off);
	for (size_t done = 0; done < len;) {
		uint64_t pos = off + done, fb = pos >> x->blocklog;
		uint64_t inblk = pos & (x->blocksize - 1);
		size_t k = xfs_ext_find(ip, fb), n = len - done;
		const struct xfs_ext *e = k < ip->next ? &ip->ext[k] : NULL;

		if (!e || e->off > fb || e->unwritten) {
			/* hole or unwritten: zeros up to the next extent */
			if (e) {
				uint64_t stop = e->off > fb ? e->off : e->off + e->len;
				n = xfs_span_clamp(x, stop - fb, inblk, n);
			}
			memset(out + done, 0, n);
		} else {
			uint64_t bpos;
			n = xfs_span_clamp(x, e->off + e->len - fb, inblk, n);
			if (!xfs_fsb_pos(x, e->blk + (fb - e->off), 1, &bpos)) {
				buf_printf(err, "XFS inode %" PRIu64 ": data block lies outside the filesystem", ino);
				return -EIO;
			}
			rc = img_dev_pread(x->dev, out + done, n, bpos + inblk, err);
			if (rc < 0)
				return rc;
		}
		done += n;
		*got = done;
	}
	return 0;
}

static int xfs_readlink(void *priv, uint64_t ino, struct buf *out, struct buf *err)
{
	struct xfs *x = priv;
	struct xfs_inode *ip;
	__do_free char *target = NULL;
	int rc = xfs_inode_get(x, ino, &ip, err);

	if (rc < 0)
		return rc;
	if (!S_ISLNK(ip->mode)) {
		buf_printf(err, "XFS inode %" PRIu64 " is not a symbolic link", ino);
		return -EINVAL;
	}
	if (ip->size == 0 || ip->size > XFS_SYMLINK_MAXLEN)
		goto corrupt;
	size_t size = (size_t)ip->size;
	target = xmalloc(size);
	if (ip->format == XFS_DINODE_FMT_LOCAL) {
		memcpy(target, ip->fork, size);
	} else {
		size_t hdr = x->crc ? XFS_SYMLINK_CRC_HDR : 0, per = x->blocksize - hdr, done = 0;
		__do_free uint8_t *blk = xmalloc(x->blocksize);
		for (uint64_t fb = 0; done < size; fb++) {
			size_t k = xfs_ext_find(ip, fb), n = size - done;
			if (k == ip->next || ip->ext[k].off > fb || ip->ext[k].unwritten)
				goto corrupt;
			rc = xfs_read_fsb(x, ip->ext[k].blk + (fb - ip->ext[k].off), blk, 1, ino, "symlink", err);
			if (rc < 0)
				return rc;
			if (n > per)
				n = per;
			if (x->crc && (be32(blk) != XFS_SYMLINK_MAGIC || be32(blk + 4) != done ||
				       be32(blk + 8) != n || be64(blk + 32) != ino))
				goto corrupt;
			memcpy(target + done, blk + hdr, n);
			done += n;
		}
	}
	if (memchr(target, 0, size))
		goto corrupt;
	buf_add(out, target, size);
	return 0;
corrupt:
	buf_printf(err, "XFS symbolic link inode %" PRIu64 " is corrupt", ino);
	return -EIO;
}

static const char *xfs_type(void *priv)
{
	(void)priv;
	return "xfs";
}

const struct img_fs_driver img_xfs_driver = {
	.name = "xfs",
	.match = xfs_match,
	.open = xfs_open,
	.close = xfs_close,
	.getattr = xfs_getattr,
	.lookup = xfs_lookup,
	.readdir = xfs_readdir,
	.read = xfs_read,
	.readlink = xfs_readlink,
	.type = xfs_type,
};
