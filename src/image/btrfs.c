/*
 * btrfs.c - read-only btrfs driver behind img_fs (see image_internal.h).
 *
 * Our own reader of the on-disk format for single-device filesystems: the
 * superblock, the bootstrap chunks in sys_chunk_array and the chunk tree
 * (logical -> physical for the single and DUP profiles; RAID profiles and
 * multi-device filesystems are refused with a clear error), the root tree
 * (subvolume roots, the default subvolume), and in each subvolume's tree the
 * inode items, directory items (lookup by name hash) and indexes (listing),
 * and file extents: inline, regular, holes, prealloc (zeros) and compressed
 * with zlib, LZO or zstd.  We open the default subvolume (the top level, id 5,
 * unless `btrfs subvolume set-default` chose another); subvolumes inside it
 * are directories that lead into their own trees, so Fedora's `root` and
 * `home` appear as /root and /home of the top level.  Checksums are not
 * verified and the log tree is not replayed: we read the last committed
 * transaction.
 *
 * Inode numbers given to fs.c combine a subvolume slot (the index of the
 * tree in struct btrfs, bits 40..63) with the objectid inside that tree.
 * Every node read is checked (its bytenr and level are those the parent
 * promised, item counts and offsets lie inside the node), tree depth is
 * bounded by BT_MAX_LEVEL, sizes read from the image are capped before any
 * allocation.  A hostile image gets -EIO and one sentence, never a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <lzo/lzo1x.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "image/image_internal.h"
#include "util/common.h"

#define BT_SB_OFF 65536
#define BT_SB_SIZE 4096
#define BT_MAGIC "_BHRfS_M"
#define BT_HDR 101		/* node header */
#define BT_ITEM 25		/* leaf item: key + offset + size */
#define BT_KEYPTR 33		/* node pointer: key + blockptr + generation */
#define BT_MAX_LEVEL 8
#define BT_SYS_ARRAY_MAX 2048
#define BT_MAX_CHUNKS 100000
#define BT_MAX_SLOTS 4096	/* subvolumes visited in one open */
#define BT_OBJ_BITS 40
#define BT_CACHE 256		/* nodes */
#define BT_MAX_RAM (1u << 20)	/* decompressed extent / inline data */
#define BT_MAX_EXTENT (128ull << 20)

/* item types */
#define BT_INODE_ITEM 1
#define BT_DIR_ITEM 84
#define BT_DIR_INDEX 96
#define BT_EXTENT_DATA 108
#define BT_ROOT_ITEM 132
#define BT_CHUNK_ITEM 228

#define BT_ROOT_TREE_DIR 6
#define BT_FS_TREE 5
#define BT_FIRST_CHUNK_TREE 256
#define BT_EMPTY_SUBVOL_DIR 2

/* block group profiles */
#define BT_BG_RAID0 (1ull << 3)
#define BT_BG_RAID1 (1ull << 4)
#define BT_BG_DUP (1ull << 5)
#define BT_BG_RAID10 (1ull << 6)
#define BT_BG_RAID5 (1ull << 7)
#define BT_BG_RAID6 (1ull << 8)
#define BT_BG_RAID1C3 (1ull << 9)
#define BT_BG_RAID1C4 (1ull << 10)
#define BT_BG_RAID (BT_BG_RAID0 | BT_BG_RAID1 | BT_BG_RAID10 | BT_BG_RAID5 | BT_BG_RAID6 | BT_BG_RAID1C3 | BT_BG_RAID1C4)

/* incompat features we cannot read */
#define BT_INCOMPAT_EXTENT_TREE_V2 (1ull << 13)
#define BT_INCOMPAT_RAID_STRIPE_TREE (1ull << 14)

struct bt_key {
	uint64_t objectid;
	uint8_t type;
	uint64_t offset;
};

struct bt_chunk {
	uint64_t logical, length, physical, type;
};

struct bt_tree {
	uint64_t id, bytenr, dirid;
	uint8_t level;
};

struct bt_cached {
	uint64_t logical;
	uint8_t *node;		/* NULL: empty slot */
};

struct btrfs {
	struct img_dev *dev;
	uint32_t nodesize, sectorsize;
	struct bt_chunk *chunks;	/* sorted by logical */
	size_t nchunks;
	struct bt_tree root;		/* the root tree */
	struct bt_tree *trees;		/* subvolume trees by slot */
	size_t ntrees;
	struct bt_cached cache[BT_CACHE];
	uint64_t zkey;			/* disk_bytenr of the extent in zdata (0: none) */
	uint8_t *zdata;
	size_t zlen;
};

/* A position in a tree: one node per level, from the root (top) to a leaf (0). */
struct bt_path {
	uint8_t *nodes[BT_MAX_LEVEL];
	uint32_t slots[BT_MAX_LEVEL];
	int top;
	struct bt_key last;	/* the key of the current item: the next must be greater */
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void key_decode(const uint8_t *p, struct bt_key *k)
{
	k->objectid = le64(p);
	k->type = p[8];
	k->offset = le64(p + 9);
}

static int key_cmp(const struct bt_key *a, const struct bt_key *b)
{
	if (a->objectid != b->objectid)
		return a->objectid < b->objectid ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

/* crc32c as btrfs hashes directory names: seed ~1, no final inversion. */
static uint32_t bt_name_hash(const char *name, size_t len)
{
	uint32_t crc = ~1u;

	for (size_t i = 0; i < len; i++) {
		crc ^= (uint8_t)name[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
	}
	return crc;
}

static bool pow2_between(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

static bool btrfs_match(struct img_dev *dev)
{
	uint8_t m[8];
	struct buf e = BUF_INIT;

	if (img_dev_size(dev) < BT_SB_OFF + BT_SB_SIZE)
		return false;
	int rc = img_dev_pread(dev, m, sizeof(m), BT_SB_OFF + 64, &e);
	buf_release(&e);
	return rc == 0 && memcmp(m, BT_MAGIC, 8) == 0;
}

/* ---- chunks: logical -> physical ---- */

static const char *bt_profile(uint64_t type)
{
	if (type & BT_BG_RAID0)
		return "RAID0";
	if (type & BT_BG_RAID1)
		return "RAID1";
	if (type & BT_BG_RAID10)
		return "RAID10";
	if (type & BT_BG_RAID5)
		return "RAID5";
	if (type & BT_BG_RAID6)
		return "RAID6";
	if (type & BT_BG_RAID1C3)
		return "RAID1C3";
	if (type & BT_BG_RAID1C4)
		return "RAID1C4";
	return (type & BT_BG_DUP) ? "DUP" : "single";
}

/* Add the chunk item at p (len bytes) starting at logical. */
static int bt_chunk_add(struct btrfs *b, uint64_t logical, const uint8_t *p, size_t len, size_t *used,
			struct buf *err)
{
	if (len < 48 + 32) {
		buf_printf(err, "btrfs chunk item at logical %" PRIu64 " is truncated", logical);
		return -EIO;
	}
	uint64_t length = le64(p), type = le64(p + 24);
	uint16_t nstripes = le16(p + 44);
	if (nstripes == 0 || len < 48 + 32 * (size_t)nstripes || length == 0 || logical + length < logical) {
		buf_printf(err, "btrfs chunk item at logical %" PRIu64 " is corrupt", logical);
		return -EIO;
	}
	*used = 48 + 32 * (size_t)nstripes;
	if (type & BT_BG_RAID) {
		buf_printf(err, "this btrfs uses the %s profile (chunk at logical %" PRIu64
			   "): only single and DUP (one device) are read", bt_profile(type), logical);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < b->nchunks; i++)
		if (b->chunks[i].logical == logical)
			return 0;	/* bootstrap chunk seen again in the chunk tree */
	if (b->nchunks >= BT_MAX_CHUNKS) {
		buf_printf(err, "btrfs has more than %d chunks", BT_MAX_CHUNKS);
		return -EIO;
	}
	uint64_t phys = le64(p + 48 + 8);
	if (phys > img_dev_size(b->dev) || length > img_dev_size(b->dev) - phys) {
		buf_printf(err, "btrfs chunk at logical %" PRIu64 " lies outside the %" PRIu64 "-byte device", logical,
			   img_dev_size(b->dev));
		return -EIO;
	}
	b->chunks = xrealloc(b->chunks, (b->nchunks + 1) * sizeof(*b->chunks));
	size_t at = b->nchunks;
	while (at > 0 && b->chunks[at - 1].logical > logical) {
		b->chunks[at] = b->chunks[at - 1];
		at--;
	}
	b->chunks[at] = (struct bt_chunk){ logical, length, phys, type };
	b->nchunks++;
	return 0;
}

/* Physical offset of [logical, logical+len), which must lie in one chunk. */
static int bt_map(struct btrfs *b, uint64_t logical, uint64_t len, uint64_t *phys, struct buf *err)
{
	size_t lo = 0, hi = b->nchunks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->chunks[mid].logical <= logical)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0) {
		const struct bt_chunk *c = &b->chunks[lo - 1];
		uint64_t rel = logical - c->logical;
		if (rel < c->length && len <= c->length - rel) {
			*phys = c->physical + rel;
			return 0;
		}
	}
	buf_printf(err, "btrfs logical address %" PRIu64 " (+%" PRIu64 ") is in no chunk", logical, len);
	return -EIO;
}

static int bt_read_logical(struct btrfs *b, uint64_t logical, void *buf, size_t len, struct buf *err)
{
	uint64_t phys;
	int rc = bt_map(b, logical, len, &phys, err);

	return rc < 0 ? rc : img_dev_pread(b->dev, buf, len, phys, err);
}

/* ---- tree nodes ---- */

/* The node at logical (checked against the level its parent promised), from the cache. */
static int bt_node(struct btrfs *b, uint64_t logical, int level, const uint8_t **out, struct buf *err)
{
	struct bt_cached *c = &b->cache[(logical / b->nodesize) % BT_CACHE];

	if (!c->node || c->logical != logical) {
		if (!c->node)
			c->node = xmalloc(b->nodesize);
		c->logical = UINT64_MAX;
		int rc = bt_read_logical(b, logical, c->node, b->nodesize, err);
		if (rc < 0)
			return rc;
		const uint8_t *n = c->node;
		uint32_t nritems = le32(n + 96);
		uint32_t per = n[100] ? BT_KEYPTR : BT_ITEM;
		if (le64(n + 48) != logical || nritems > (b->nodesize - BT_HDR) / per) {
			buf_printf(err, "btrfs tree node at %" PRIu64 " is corrupt (bad header)", logical);
			return -EIO;
		}
		if (n[100] == 0) {
			for (uint32_t i = 0; i < nritems; i++) {
				const uint8_t *it = n + BT_HDR + (size_t)i * BT_ITEM;
				uint64_t end = (uint64_t)le32(it + 17) + le32(it + 21);
				if (end > b->nodesize - BT_HDR) {
					buf_printf(err, "btrfs leaf at %" PRIu64 " has an item outside the node", logical);
					return -EIO;
				}
			}
		}
		c->logical = logical;
	}
	if (level >= 0 && c->node[100] != level) {
		buf_printf(err, "btrfs tree node at %" PRIu64 " has level %u, expected %d", logical, c->node[100], level);
		return -EIO;
	}
	*out = c->node;
	return 0;
}

static void bt_path_release(struct bt_path *p)
{
	for (int i = 0; i < BT_MAX_LEVEL; i++) {
		free(p->nodes[i]);
		p->nodes[i] = NULL;
	}
}

/* Load the node at logical into path level `level` (a private copy). */
static int bt_path_load(struct btrfs *b, struct bt_path *p, int level, uint64_t logical, struct buf *err)
{
	const uint8_t *n;
	int rc = bt_node(b, logical, level, &n, err);

	if (rc < 0)
		return rc;
	if (!p->nodes[level])
		p->nodes[level] = xmalloc(b->nodesize);
	memcpy(p->nodes[level], n, b->nodesize);
	p->slots[level] = 0;
	return 0;
}

static uint32_t nritems(const uint8_t *n)
{
	return le32(n + 96);
}

/* Descend from level (whose slot is set) to the leftmost leaf below it. */
static int bt_descend_left(struct btrfs *b, struct bt_path *p, int level, struct buf *err)
{
	for (; level > 0; level--) {
		const uint8_t *kp = p->nodes[level] + BT_HDR + (size_t)p->slots[level] * BT_KEYPTR;
		int rc = bt_path_load(b, p, level - 1, le64(kp + 17), err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void leaf_key(const struct bt_path *p, struct bt_key *k)
{
	key_decode(p->nodes[0] + BT_HDR + (size_t)p->slots[0] * BT_ITEM, k);
}

/* Move to the next item; 1 at the end of the tree.  Keys must grow: a tree
 * whose nodes point back (or at one leaf twice) is cut here. */
static int bt_next(struct btrfs *b, struct bt_path *p, struct buf *err)
{
	int level = 0, rc;
	struct bt_key k;

	p->slots[0]++;
	while (p->slots[level] >= nritems(p->nodes[level])) {
		if (++level > p->top)
			return 1;
		p->slots[level]++;
	}
	if ((rc = bt_descend_left(b, p, level, err)) < 0)
		return rc;
	/* only a tree's root may be empty: a DAG of empty leaves would take for ever */
	if (nritems(p->nodes[0]) == 0) {
		buf_printf(err, "btrfs tree node at %" PRIu64 " is an empty leaf below the root", le64(p->nodes[0] + 48));
		return -EIO;
	}
	leaf_key(p, &k);
	if (key_cmp(&k, &p->last) <= 0) {
		buf_printf(err, "btrfs tree node at %" PRIu64 " is out of order", le64(p->nodes[0] + 48));
		return -EIO;
	}
	p->last = k;
	return 0;
}

/*
 * Position p at the first item >= key in the tree t.  Returns 0, 1 when no
 * item >= key exists, or -errno.
 */
static int bt_search(struct btrfs *b, const struct bt_tree *t, const struct bt_key *key, struct bt_path *p,
		     struct buf *err)
{
	if (t->level >= BT_MAX_LEVEL) {
		buf_printf(err, "btrfs tree %" PRIu64 " is %u levels deep, more than %d", t->id, t->level, BT_MAX_LEVEL);
		return -EIO;
	}
	p->top = t->level;
	int rc = bt_path_load(b, p, t->level, t->bytenr, err);
	if (rc < 0)
		return rc;
	for (int level = t->level; level > 0; level--) {
		const uint8_t *n = p->nodes[level];
		uint32_t cnt = nritems(n), slot = 0;
		if (cnt == 0) {
			buf_printf(err, "btrfs tree %" PRIu64 " has an empty internal node", t->id);
			return -EIO;
		}
		for (uint32_t i = 1; i < cnt; i++) {
			struct bt_key k;
			key_decode(n + BT_HDR + (size_t)i * BT_KEYPTR, &k);
			if (key_cmp(&k, key) > 0)
				break;
			slot = i;
		}
		p->slots[level] = slot;
		rc = bt_path_load(b, p, level - 1, le64(n + BT_HDR + (size_t)slot * BT_KEYPTR + 17), err);
		if (rc < 0)
			return rc;
	}
	const uint8_t *leaf = p->nodes[0];
	uint32_t cnt = nritems(leaf), slot = 0;
	while (slot < cnt) {
		struct bt_key k;
		key_decode(leaf + BT_HDR + (size_t)slot * BT_ITEM, &k);
		if (key_cmp(&k, key) >= 0)
			break;
		slot++;
	}
	p->slots[0] = slot;
	if (cnt == 0 && p->top > 0) {
		buf_printf(err, "btrfs tree %" PRIu64 " has an empty leaf below its root", t->id);
		return -EIO;
	}
	if (cnt == 0)
		return 1;	/* an empty leaf is only valid as the whole (empty) tree */
	if (slot >= cnt) {
		p->slots[0] = cnt - 1;
		leaf_key(p, &p->last);
		return bt_next(b, p, err);
	}
	leaf_key(p, &p->last);
	return 0;
}

/* The current item's key and data. */
static void bt_item(const struct bt_path *p, struct bt_key *k, const uint8_t **data, uint32_t *size)
{
	const uint8_t *leaf = p->nodes[0];
	const uint8_t *it = leaf + BT_HDR + (size_t)p->slots[0] * BT_ITEM;

	key_decode(it, k);
	*data = leaf + BT_HDR + le32(it + 17);
	*size = le32(it + 21);
}

/* Exact lookup of (objectid, type, offset); -ENOENT (err untouched) if absent. The data is copied to out. */
static int bt_lookup(struct btrfs *b, const struct bt_tree *t, const struct bt_key *key, struct buf *out,
		     struct buf *err)
{
	struct bt_path p = { 0 };
	int rc = bt_search(b, t, key, &p, err);

	if (rc == 0) {
		struct bt_key k;
		const uint8_t *d;
		uint32_t sz;
		bt_item(&p, &k, &d, &sz);
		if (key_cmp(&k, key) == 0)
			buf_add(out, d, sz);
		else
			rc = -ENOENT;
	} else if (rc == 1) {
		rc = -ENOENT;
	}
	bt_path_release(&p);
	return rc;
}

/* ---- subvolume trees ---- */

/* The slot of subvolume tree id, loading its root item from the root tree. */
static int bt_tree_slot(struct btrfs *b, uint64_t id, size_t *slot, struct buf *err)
{
	for (size_t i = 0; i < b->ntrees; i++) {
		if (b->trees[i].id == id) {
			*slot = i;
			return 0;
		}
	}
	if (b->ntrees >= BT_MAX_SLOTS) {
		buf_printf(err, "btrfs: more than %d subvolumes visited", BT_MAX_SLOTS);
		return -EIO;
	}
	struct bt_key key = { id, BT_ROOT_ITEM, 0 };
	struct bt_path p = { 0 };
	int rc = bt_search(b, &b->root, &key, &p, err);
	if (rc == 0) {
		struct bt_key k;
		const uint8_t *d;
		uint32_t sz;
		bt_item(&p, &k, &d, &sz);
		if (k.objectid != id || k.type != BT_ROOT_ITEM) {
			rc = 1;
		} else if (sz < 239 || d[238] >= BT_MAX_LEVEL || le64(d + 168) >= (1ull << BT_OBJ_BITS)) {
			buf_printf(err, "btrfs root item of subvolume %" PRIu64 " is corrupt", id);
			rc = -EIO;
		} else {
			b->trees = xrealloc(b->trees, (b->ntrees + 1) * sizeof(*b->trees));
			b->trees[b->ntrees] = (struct bt_tree){ id, le64(d + 176), le64(d + 168), d[238] };
			*slot = b->ntrees++;
		}
	}
	bt_path_release(&p);
	if (rc == 1) {
		buf_printf(err, "btrfs subvolume %" PRIu64 " has no root item", id);
		rc = -ENOENT;
	}
	return rc;
}

static int bt_ino_split(struct btrfs *b, uint64_t ino, const struct bt_tree **t, uint64_t *obj, struct buf *err)
{
	uint64_t slot = ino >> BT_OBJ_BITS;

	if (slot >= b->ntrees) {
		buf_printf(err, "btrfs: inode %" PRIu64 " names no open subvolume", ino);
		return -EIO;
	}
	*t = &b->trees[slot];
	*obj = ino & ((1ull << BT_OBJ_BITS) - 1);
	return 0;
}

static uint64_t bt_ino_make(size_t slot, uint64_t obj)
{
	return (uint64_t)slot << BT_OBJ_BITS | obj;
}

/* ---- open / close ---- */

static int bt_sys_chunks(struct btrfs *b, const uint8_t *sb, struct buf *err)
{
	uint32_t n = le32(sb + 0xa0);
	const uint8_t *a = sb + 0x32b;
	size_t pos = 0;

	if (n > BT_SYS_ARRAY_MAX) {
		buf_printf(err, "btrfs superblock has a %u-byte sys_chunk_array (at most %d)", n, BT_SYS_ARRAY_MAX);
		return -EIO;
	}
	while (pos < n) {
		struct bt_key k;
		size_t used;
		if (n - pos < 17) {
			buf_adds(err, "btrfs sys_chunk_array is truncated");
			return -EIO;
		}
		key_decode(a + pos, &k);
		pos += 17;
		if (k.type != BT_CHUNK_ITEM) {
			buf_printf(err, "btrfs sys_chunk_array holds an item of type %u, not a chunk", k.type);
			return -EIO;
		}
		int rc = bt_chunk_add(b, k.offset, a + pos, n - pos, &used, err);
		if (rc < 0)
			return rc;
		pos += used;
	}
	return 0;
}

static int bt_chunk_tree(struct btrfs *b, const struct bt_tree *t, struct buf *err)
{
	struct bt_key key = { BT_FIRST_CHUNK_TREE, BT_CHUNK_ITEM, 0 };
	struct bt_path p = { 0 };
	int rc = bt_search(b, t, &key, &p, err);

	for (size_t n = 0; rc == 0; n++) {
		struct bt_key k;
		const uint8_t *d;
		uint32_t sz;
		size_t used;
		bt_item(&p, &k, &d, &sz);
		if (k.objectid != BT_FIRST_CHUNK_TREE || k.type != BT_CHUNK_ITEM)
			break;
		if (n > BT_MAX_CHUNKS) {
			buf_printf(err, "btrfs chunk tree has more than %d chunks", BT_MAX_CHUNKS);
			rc = -EIO;
			break;
		}
		rc = bt_chunk_add(b, k.offset, d, sz, &used, err);
		if (rc == 0)
			rc = bt_next(b, &p, err);
	}
	bt_path_release(&p);
	return rc < 0 ? rc : 0;
}

/* The default subvolume: the "default" entry of the root tree's directory, else the top level. */
static int bt_default_subvol(struct btrfs *b, uint64_t *id, struct buf *err)
{
	struct bt_key key = { BT_ROOT_TREE_DIR, BT_DIR_ITEM, bt_name_hash("default", 7) };
	__do_buf struct buf d = BUF_INIT;
	int rc = bt_lookup(b, &b->root, &key, &d, err);

	*id = BT_FS_TREE;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	for (size_t pos = 0; d.len - pos >= 30;) {
		const uint8_t *e = (const uint8_t *)d.s + pos;
		size_t dl = le16(e + 25), nl = le16(e + 27);
		if (30 + nl + dl > d.len - pos)
			break;
		if (nl == 7 && memcmp(e + 30, "default", 7) == 0) {
			*id = le64(e);
			return 0;
		}
		pos += 30 + nl + dl;
	}
	return 0;
}

static void btrfs_close(void *priv)
{
	struct btrfs *b = priv;

	if (!b)
		return;
	for (size_t i = 0; i < BT_CACHE; i++)
		free(b->cache[i].node);
	free(b->chunks);
	free(b->trees);
	free(b->zdata);
	free(b);
}

static int btrfs_open(struct img_dev *dev, void **priv, uint64_t *root_ino, struct buf *err)
{
	uint8_t sb[BT_SB_SIZE];
	int rc;

	if (img_dev_size(dev) < BT_SB_OFF + BT_SB_SIZE) {
		buf_adds(err, "device is too small to hold a btrfs filesystem");
		return -EINVAL;
	}
	rc = img_dev_pread(dev, sb, sizeof(sb), BT_SB_OFF, err);
	if (rc < 0)
		return rc;
	if (memcmp(sb + 64, BT_MAGIC, 8) != 0) {
		buf_adds(err, "no btrfs superblock");
		return -EINVAL;
	}
	uint64_t ndev = le64(sb + 0x88), incompat = le64(sb + 0xbc);
	if (ndev != 1) {
		buf_printf(err, "this btrfs spans %" PRIu64 " devices: only single-device btrfs is read", ndev);
		return -ENOTSUP;
	}
	if (incompat & (BT_INCOMPAT_EXTENT_TREE_V2 | BT_INCOMPAT_RAID_STRIPE_TREE)) {
		buf_printf(err, "this btrfs uses incompatible features (0x%" PRIx64 ") we cannot read", incompat);
		return -ENOTSUP;
	}
	struct btrfs *b = xcalloc(1, sizeof(*b));
	b->dev = dev;
	b->sectorsize = le32(sb + 0x90);
	b->nodesize = le32(sb + 0x94);
	if (!pow2_between(b->sectorsize, 4096, 65536) || !pow2_between(b->nodesize, 4096, 65536) ||
	    b->nodesize < b->sectorsize) {
		buf_printf(err, "btrfs superblock has a bad sector size %u or node size %u", b->sectorsize, b->nodesize);
		rc = -EIO;
		goto fail;
	}
	if ((rc = bt_sys_chunks(b, sb, err)) < 0)
		goto fail;
	struct bt_tree chunk = { 3, le64(sb + 0x58), 0, sb[0xc7] };
	if ((rc = bt_chunk_tree(b, &chunk, err)) < 0)
		goto fail;
	b->root = (struct bt_tree){ 1, le64(sb + 0x50), 0, sb[0xc6] };
	uint64_t def;
	size_t slot;
	if ((rc = bt_default_subvol(b, &def, err)) < 0 || (rc = bt_tree_slot(b, def, &slot, err)) < 0)
		goto fail;
	*root_ino = bt_ino_make(slot, b->trees[slot].dirid);
	*priv = b;
	return 0;
fail:
	btrfs_close(b);
	return rc;
}

/* ---- inodes ---- */

struct bt_inode {
	uint64_t size;
	uint32_t nlink, uid, gid, mode;
	int64_t mtime;
};

static int bt_inode_load(struct btrfs *b, uint64_t ino, struct bt_inode *in, struct buf *err)
{
	const struct bt_tree *t;
	uint64_t obj;
	int rc = bt_ino_split(b, ino, &t, &obj, err);

	if (rc < 0)
		return rc;
	if (obj == BT_EMPTY_SUBVOL_DIR) {	/* placeholder for a subvolume not snapshotted along */
		*in = (struct bt_inode){ .nlink = 1, .mode = S_IFDIR | 0755 };
		return 0;
	}
	struct bt_key key = { obj, BT_INODE_ITEM, 0 };
	__do_buf struct buf d = BUF_INIT;
	rc = bt_lookup(b, t, &key, &d, err);
	if (rc == -ENOENT) {
		buf_printf(err, "btrfs inode %" PRIu64 " of subvolume %" PRIu64 " is missing", obj, t->id);
		return -EIO;
	}
	if (rc < 0)
		return rc;
	if (d.len < 160) {
		buf_printf(err, "btrfs inode %" PRIu64 " of subvolume %" PRIu64 " is truncated", obj, t->id);
		return -EIO;
	}
	const uint8_t *p = (const uint8_t *)d.s;
	in->size = le64(p + 16);
	in->nlink = le32(p + 40);
	in->uid = le32(p + 44);
	in->gid = le32(p + 48);
	in->mode = le32(p + 52);
	in->mtime = (int64_t)le64(p + 136);
	return 0;
}

static int btrfs_getattr(void *priv, uint64_t ino, struct img_stat *st, struct buf *err)
{
	struct bt_inode in;
	int rc = bt_inode_load(priv, ino, &in, err);

	if (rc < 0)
		return rc;
	*st = (struct img_stat){ .ino = ino, .mode = in.mode, .uid = in.uid, .gid = in.gid, .nlink = in.nlink,
				 .size = in.size, .mtime = in.mtime };
	return 0;
}

/* ---- directories ---- */

static uint32_t bt_ftype_mode(uint8_t t)
{
	static const uint32_t m[] = { 0, S_IFREG, S_IFDIR, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, S_IFLNK };
	return t < ARRAY_SIZE(m) ? m[t] : 0;
}

/* The inode a directory entry's location key names, in our numbering. */
static int bt_dirent_ino(struct btrfs *b, size_t slot, const uint8_t *e, uint64_t *ino, struct buf *err)
{
	struct bt_key loc;

	key_decode(e, &loc);
	if (loc.type == BT_ROOT_ITEM) {
		size_t s;
		int rc = bt_tree_slot(b, loc.objectid, &s, err);
		if (rc < 0)
			return rc;
		*ino = bt_ino_make(s, b->trees[s].dirid);
		return 0;
	}
	if (loc.type != BT_INODE_ITEM || loc.objectid >= (1ull << BT_OBJ_BITS)) {
		buf_printf(err, "btrfs directory entry points to an unusable key (%" PRIu64 ", %u)", loc.objectid,
			   loc.type);
		return -EIO;
	}
	*ino = bt_ino_make(slot, loc.objectid);
	return 0;
}

static int btrfs_lookup(void *priv, uint64_t dir_ino, const char *name, uint64_t *ino, struct buf *err)
{
	struct btrfs *b = priv;
	const struct bt_tree *t;
	uint64_t obj;
	size_t nlen = strlen(name);
	int rc = bt_ino_split(b, dir_ino, &t, &obj, err);

	if (rc < 0)
		return rc;
	size_t slot = (size_t)(dir_ino >> BT_OBJ_BITS);
	struct bt_key key = { obj, BT_DIR_ITEM, bt_name_hash(name, nlen) };
	__do_buf struct buf d = BUF_INIT;
	if ((rc = bt_lookup(b, t, &key, &d, err)) < 0)
		return rc;
	for (size_t pos = 0; d.len - pos >= 30;) {
		const uint8_t *e = (const uint8_t *)d.s + pos;
		size_t dl = le16(e + 25), nl = le16(e + 27);
		if (30 + nl + dl > d.len - pos) {
			buf_printf(err, "btrfs directory item in directory %" PRIu64 " is corrupt", obj);
			return -EIO;
		}
		if (nl == nlen && memcmp(e + 30, name, nl) == 0)
			return bt_dirent_ino(b, slot, e, ino, err);
		pos += 30 + nl + dl;
	}
	return -ENOENT;
}

static int btrfs_readdir(void *priv, uint64_t dir_ino, img_dir_cb cb, void *arg, struct buf *err)
{
	struct btrfs *b = priv;
	const struct bt_tree *t;
	uint64_t obj;
	int rc = bt_ino_split(b, dir_ino, &t, &obj, err);

	if (rc < 0 || obj == BT_EMPTY_SUBVOL_DIR)
		return rc;
	size_t slot = (size_t)(dir_ino >> BT_OBJ_BITS);
	struct bt_tree tree = *t;	/* b->trees may move as subvolumes are met */
	struct bt_key key = { obj, BT_DIR_INDEX, 0 };
	struct bt_path p = { 0 };
	rc = bt_search(b, &tree, &key, &p, err);
	while (rc == 0) {
		struct bt_key k;
		const uint8_t *d;
		uint32_t sz;
		bt_item(&p, &k, &d, &sz);
		if (k.objectid != obj || k.type != BT_DIR_INDEX)
			break;
		size_t nl = sz >= 30 ? le16(d + 27) : 0;
		if (sz < 30 || nl == 0 || nl > 255 || 30 + nl > sz || memchr(d + 30, '/', nl) || memchr(d + 30, 0, nl)) {
			buf_printf(err, "btrfs directory index in directory %" PRIu64 " is corrupt", obj);
			rc = -EIO;
			break;
		}
		char name[256];
		memcpy(name, d + 30, nl);
		name[nl] = 0;
		struct img_stat st = { .mode = bt_ftype_mode(d[29]) };
		uint8_t ent[17];
		memcpy(ent, d, sizeof(ent));
		struct buf e = BUF_INIT;
		int r = bt_dirent_ino(b, slot, ent, &st.ino, &e);
		buf_release(&e);
		/* a deleted subvolume's leftover entry is skipped, so are "." and ".." */
		if (r == 0 && strcmp(name, ".") && strcmp(name, "..") && (r = cb(name, &st, arg)) != 0) {
			rc = r;
			break;
		}
		rc = bt_next(b, &p, err);
	}
	bt_path_release(&p);
	return rc == 1 ? 0 : rc;
}

/* ---- file data ---- */

static int bt_lzo(struct btrfs *b, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen, size_t *got)
{
	if (inlen < 4 || lzo_init() != LZO_E_OK)
		return -EIO;
	size_t total = le32(in), pos = 4, o = 0;
	if (total > inlen)
		return -EIO;
	while (pos < total && o < outlen) {
		size_t left = b->sectorsize - pos % b->sectorsize;
		if (left < 4)
			pos += left;	/* segment headers never straddle a sector */
		if (total - pos < 4)
			break;
		size_t seg = le32(in + pos);
		pos += 4;
		if (seg > total - pos)
			return -EIO;
		lzo_uint n = outlen - o;
		if (lzo1x_decompress_safe(in + pos, seg, out + o, &n, NULL) != LZO_E_OK)
			return -EIO;
		o += n;
		pos += seg;
	}
	*got = o;
	return 0;
}

/* Decompress in (compression type c) into out (outlen bytes; a short result is zero-filled). */
static int bt_decompress(struct btrfs *b, uint8_t c, const uint8_t *in, size_t inlen, uint8_t *out, size_t outlen,
			 struct buf *err)
{
	size_t got = 0;
	int rc = -EIO;

	if (c == 1) {
		z_stream s = { 0 };
		if (inflateInit(&s) == Z_OK) {
			s.next_in = (Bytef *)in;
			s.avail_in = (uInt)inlen;
			s.next_out = out;
			s.avail_out = (uInt)outlen;
			int z = inflate(&s, Z_FINISH);
			if (z == Z_STREAM_END || z == Z_BUF_ERROR || (z == Z_OK && s.avail_out == 0)) {
				got = outlen - s.avail_out;
				rc = 0;
			}
			inflateEnd(&s);
		}
	} else if (c == 2) {
		rc = bt_lzo(b, in, inlen, out, outlen, &got);
	} else if (c == 3) {
		ZSTD_DCtx *z = ZSTD_createDCtx();
		ZSTD_inBuffer zi = { in, inlen, 0 };
		ZSTD_outBuffer zo = { out, outlen, 0 };
		rc = 0;
		while (zo.pos < zo.size && zi.pos < zi.size) {
			size_t r = ZSTD_decompressStream(z, &zo, &zi);
			if (ZSTD_isError(r)) {
				rc = -EIO;
				break;
			}
			if (r == 0)
				break;
		}
		got = zo.pos;
		ZSTD_freeDCtx(z);
	} else {
		buf_printf(err, "btrfs extent uses unknown compression type %u", c);
		return -ENOTSUP;
	}
	if (rc < 0) {
		buf_printf(err, "btrfs %s-compressed extent is corrupt", c == 1 ? "zlib" : c == 2 ? "lzo" : "zstd");
		return rc;
	}
	memset(out + got, 0, outlen - got);
	return 0;
}

/* Copy bytes [from, from+n) of the extent item d (file offset ks) into out. */
static int bt_extent_copy(struct btrfs *b, uint64_t obj, const uint8_t *d, uint32_t sz, uint64_t ks, uint64_t from,
			  uint8_t *out, size_t n, struct buf *err)
{
	uint8_t comp = d[16], type = d[20];
	uint64_t ram = le64(d + 8);
	int rc;

	if (d[17] || le16(d + 18)) {
		buf_printf(err, "btrfs inode %" PRIu64 " has an encrypted or encoded extent", obj);
		return -ENOTSUP;
	}
	if (type == 0) {	/* inline */
		const uint8_t *data = d + 21;
		size_t dlen = sz - 21;
		if (comp) {
			if (ram > BT_MAX_RAM) {
				buf_printf(err, "btrfs inode %" PRIu64 " has a corrupt inline extent", obj);
				return -EIO;
			}
			__do_free uint8_t *tmp = xmalloc(ram ? ram : 1);
			if ((rc = bt_decompress(b, comp, data, dlen, tmp, ram, err)) < 0)
				return rc;
			memcpy(out, tmp + (from - ks), n);
			return 0;
		}
		uint64_t rel = from - ks;
		if (rel < dlen)
			memcpy(out, data + rel, rel + n <= dlen ? n : dlen - rel);
		return 0;
	}
	uint64_t dbytenr = le64(d + 21), dnum = le64(d + 29), eoff = le64(d + 37);
	if (type == 2 || dbytenr == 0)	/* prealloc or hole */
		return 0;
	if (!comp)
		return bt_read_logical(b, dbytenr + eoff + (from - ks), out, n, err);
	if (ram > BT_MAX_RAM || dnum > BT_MAX_RAM || eoff > ram || from - ks > ram - eoff || n > ram - eoff - (from - ks)) {
		buf_printf(err, "btrfs inode %" PRIu64 " has a corrupt compressed extent", obj);
		return -EIO;
	}
	if (b->zkey != dbytenr || b->zlen != ram) {
		__do_free uint8_t *in = xmalloc(dnum ? dnum : 1);
		b->zkey = 0;
		if ((rc = bt_read_logical(b, dbytenr, in, dnum, err)) < 0)
			return rc;
		b->zdata = xrealloc(b->zdata, ram ? ram : 1);
		if ((rc = bt_decompress(b, comp, in, dnum, b->zdata, ram, err)) < 0)
			return rc;
		b->zkey = dbytenr;
		b->zlen = ram;
	}
	memcpy(out, b->zdata + eoff + (from - ks), n);
	return 0;
}

static int btrfs_read(void *priv, uint64_t ino, uint64_t off, void *buf, size_t len, size_t *got, struct buf *err)
{
	struct btrfs *b = priv;
	const struct bt_tree *t;
	struct bt_inode in;
	uint64_t obj;
	int rc;

	*got = 0;
	if ((rc = bt_inode_load(b, ino, &in, err)) < 0 || (rc = bt_ino_split(b, ino, &t, &obj, err)) < 0)
		return rc;
	if (off >= in.size)
		return 0;
	uint64_t end = in.size - off < len ? in.size : off + len;
	memset(buf, 0, (size_t)(end - off));	/* holes (and no-holes gaps) read as zeros */
	struct bt_key key = { obj, BT_EXTENT_DATA, off > BT_MAX_EXTENT ? off - BT_MAX_EXTENT : 0 };
	struct bt_path p = { 0 };
	rc = bt_search(b, t, &key, &p, err);
	while (rc == 0) {
		struct bt_key k;
		const uint8_t *d;
		uint32_t sz;
		bt_item(&p, &k, &d, &sz);
		if (k.objectid != obj || k.type != BT_EXTENT_DATA || k.offset >= end)
			break;
		if (sz < 21 || (d[20] != 0 && sz < 53) || d[20] > 2) {
			buf_printf(err, "btrfs inode %" PRIu64 " has a corrupt extent item", obj);
			rc = -EIO;
			break;
		}
		uint64_t elen = d[20] == 0 ? le64(d + 8) : le64(d + 45);
		if (elen > BT_MAX_EXTENT || (d[20] == 0 && elen > BT_MAX_RAM)) {
			buf_printf(err, "btrfs inode %" PRIu64 " has an extent of %" PRIu64 " bytes", obj, elen);
			rc = -EIO;
			break;
		}
		uint64_t ke = k.offset + elen;
		if (ke > off && ke >= k.offset) {
			uint64_t from = k.offset > off ? k.offset : off, to = ke < end ? ke : end;
			if ((rc = bt_extent_copy(b, obj, d, sz, k.offset, from, (uint8_t *)buf + (from - off),
						 (size_t)(to - from), err)) < 0)
				break;
		}
		rc = bt_next(b, &p, err);
	}
	bt_path_release(&p);
	if (rc < 0)
		return rc;
	*got = (size_t)(end - off);
	return 0;
}

static int btrfs_readlink(void *priv, uint64_t ino, struct buf *out, struct buf *err)
{
	struct bt_inode in;
	int rc = bt_inode_load(priv, ino, &in, err);

	if (rc < 0)
		return rc;
	if (in.size > 4096) {
		buf_printf(err, "btrfs symbolic link %" PRIu64 " is %" PRIu64 " bytes long", ino, in.size);
		return -EIO;
	}
	char target[4096];
	size_t got;
	if ((rc = btrfs_read(priv, ino, 0, target, (size_t)in.size, &got, err)) < 0)
		return rc;
	if (memchr(target, 0, got)) {
		buf_printf(err, "btrfs symbolic link %" PRIu64 " is corrupt", ino);
		return -EIO;
	}
	buf_add(out, target, got);
	return 0;
}

static const char *btrfs_type(void *priv)
{
	(void)priv;
	return "btrfs";
}

const struct img_fs_driver img_btrfs_driver = {
	.name = "btrfs",
	.match = btrfs_match,
	.open = btrfs_open,
	.close = btrfs_close,
	.getattr = btrfs_getattr,
	.lookup = btrfs_lookup,
	.readdir = btrfs_readdir,
	.read = btrfs_read,
	.readlink = btrfs_readlink,
	.type = btrfs_type,
};
