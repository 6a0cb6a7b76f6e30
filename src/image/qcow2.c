/*
 * qcow2.c - our own read-only qcow2 reader, and img_dev_open_file().
 *
 * Reads qcow2 v2 and v3 images in-process: the L1/L2 tables of the active
 * state or of an internal snapshot (a point-in-time view while QEMU keeps
 * writing the active state), zero clusters, deflate- and zstd-compressed
 * clusters, and backing chains (raw or qcow2, at most 16 deep, loops cut
 * by device/inode).  A chain is either opened here by path (backing names
 * relative to the image's directory: img_dev_open_file) or handed over as
 * file descriptors the caller opened, one per file in chain order
 * (img_dev_open_fds: the sandboxed image helper, which can open nothing);
 * then the header's backing name is only checked against the chain given.
 * Features that change the data layout and that we do not implement
 * (encryption, external data files, extended L2 entries, unknown
 * incompatible bits) are refused by name rather than misread.
 *
 * Every number taken from the file is bounded before use: header length,
 * cluster size (512 B .. 2 MiB), virtual size (64 TiB), L1 size against the
 * virtual size and the file, table offsets against the file size, snapshot
 * table size.  A small cache keeps up to 4 MiB of recently used L2 tables
 * and the last decompressed cluster; sequential reads of contiguous clusters
 * are merged into one pread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "image/image_internal.h"
#include "util/common.h"

#define QCOW2_MAGIC 0x514649fbu
#define MAX_CHAIN 16
#define MAX_VIRTUAL_SIZE (64ULL << 40)
#define MAX_L1_BYTES (32u << 20)
#define MAX_SNAPSHOTS 65536u
#define MAX_SNAPSHOT_TABLE (64u << 20)
#define L2_CACHE_SLOTS 8
#define L2_CACHE_BYTES (4u << 20)	/* fewer slots for big clusters */

#define INCOMPAT_DIRTY (1ULL << 0)
#define INCOMPAT_CORRUPT (1ULL << 1)
#define INCOMPAT_DATA_FILE (1ULL << 2)
#define INCOMPAT_COMPRESSION (1ULL << 3)
#define INCOMPAT_EXTL2 (1ULL << 4)

#define L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW_OFLAG_ZERO 1ULL

#define EXT_END 0
#define EXT_BACKING_FORMAT 0xe2792acau

struct l2_slot {
	uint64_t offset;	/* host offset of the cached table, 0 = empty */
	uint64_t *table;	/* host byte order */
	uint64_t used;		/* LRU clock */
};

struct qcow2 {
	int fd;
	char *path;
	uint64_t file_size;
	unsigned cluster_bits;
	uint64_t cluster_size;
	uint64_t l2_entries;
	uint64_t *l1;
	uint64_t l1_size;
	bool zstd;
	struct img_dev *backing;	/* NULL: unallocated reads as zeros */
	struct l2_slot l2[L2_CACHE_SLOTS];
	int l2_slots;			/* slots in use: L2_CACHE_BYTES / cluster size, 2..8 */
	uint64_t clock;
	uint8_t *zbuf;			/* last decompressed cluster */
	uint64_t zbuf_entry;		/* its L2 entry (compressed bit set), 0 = none */
	uint8_t *cbuf;			/* compressed input */
};

struct chain {
	dev_t dev[MAX_CHAIN + 1];
	ino_t ino[MAX_CHAIN + 1];
	int depth;
	/* img_dev_open_fds: the files of the chain, taken (set to -1) as they are used */
	int *fds;
	const char *const *names;
	size_t nfds;
};

static int open_chain(const char *path, const char *format, const char *snapshot, struct chain *ch,
		      struct img_dev **out, struct buf *err);

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Read exactly len bytes at off of the image file; -EIO when the file ends first. */
static int file_read(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static bool in_file(const struct qcow2 *q, uint64_t off, uint64_t len)
{
	return off <= q->file_size && len <= q->file_size - off;
}

static void qcow2_close(void *priv)
{
	struct qcow2 *q = priv;

	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	img_dev_free(q->backing);
	for (int i = 0; i < L2_CACHE_SLOTS; i++)
		free(q->l2[i].table);
	free(q->l1);
	free(q->zbuf);
	free(q->cbuf);
	free(q->path);
	free(q);
}

static int l2_get(struct qcow2 *q, uint64_t l2_off, const uint64_t **table)
{
	struct l2_slot *victim = &q->l2[0];

	for (int i = 0; i < q->l2_slots; i++) {
		if (q->l2[i].offset == l2_off && q->l2[i].table) {
			q->l2[i].used = ++q->clock;
			*table = q->l2[i].table;
			return 0;
		}
		if (q->l2[i].used < victim->used)
			victim = &q->l2[i];
	}
	if (!in_file(q, l2_off, q->cluster_size))
		return -EIO;
	if (!victim->table)
		victim->table = xmalloc(q->cluster_size);
	victim->offset = 0;
	int rc = file_read(q->fd, victim->table, q->cluster_size, l2_off);
	if (rc < 0)
		return rc;
	uint8_t *raw = (uint8_t *)victim->table;
	for (uint64_t i = 0; i < q->l2_entries; i++)
		victim->table[i] = be64(raw + i * 8);
	victim->offset = l2_off;
	victim->used = ++q->clock;
	*table = victim->table;
	return 0;
}

static int decompress_deflate(struct qcow2 *q, size_t in_len)
{
	z_stream s;

	memset(&s, 0, sizeof(s));
	if (inflateInit2(&s, -12) != Z_OK)
		return -ENOMEM;
	s.next_in = q->cbuf;
	s.avail_in = (uInt)in_len;
	s.next_out = q->zbuf;
	s.avail_out = (uInt)q->cluster_size;
	int zrc = inflate(&s, Z_FINISH);
	/* QEMU may store a few bytes past the stream's end: a full cluster is what counts */
	bool ok = (zrc == Z_STREAM_END || zrc == Z_BUF_ERROR || zrc == Z_OK) && s.avail_out == 0;
	inflateEnd(&s);
	return ok ? 0 : -EIO;
}

static int decompress_zstd(struct qcow2 *q, size_t in_len)
{
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	if (!dctx)
		return -ENOMEM;
	ZSTD_inBuffer in = { q->cbuf, in_len, 0 };
	ZSTD_outBuffer outb = { q->zbuf, q->cluster_size, 0 };
	int rc = 0;
	while (outb.pos < outb.size) {
		size_t in_pos = in.pos, out_pos = outb.pos;
		size_t zr = ZSTD_decompressStream(dctx, &outb, &in);
		if (ZSTD_isError(zr)) {
			rc = -EIO;
			break;
		}
		/* frame done, input exhausted or no progress: the cluster must be full by now */
		if (zr == 0 || in.pos == in.size || (in.pos == in_pos && outb.pos == out_pos)) {
			if (outb.pos < outb.size)
				rc = -EIO;
			break;
		}
	}
	ZSTD_freeDCtx(dctx);
	return rc;
}

static int read_compressed(struct qcow2 *q, uint64_t entry)
{
	if (q->zbuf_entry == entry)
		return 0;
	unsigned csize_shift = 62 - (q->cluster_bits - 8);
	uint64_t csize_mask = (1ULL << (q->cluster_bits - 8)) - 1;
	uint64_t host = entry & ((1ULL << csize_shift) - 1);
	uint64_t nb_sectors = ((entry >> csize_shift) & csize_mask) + 1;
	uint64_t len = nb_sectors * 512 - (host & 511);

	if (host >= q->file_size)
		return -EIO;
	if (len > q->file_size - host)	/* QEMU may point past the end of the file */
		len = q->file_size - host;
	if (!q->zbuf) {
		q->zbuf = xmalloc(q->cluster_size);
		q->cbuf = xmalloc(q->cluster_size * 2);
	}
	if (len > q->cluster_size * 2)
		return -EIO;
	int rc = file_read(q->fd, q->cbuf, len, host);
	if (rc < 0)
		return rc;
	q->zbuf_entry = 0;
	rc = q->zstd ? decompress_zstd(q, len) : decompress_deflate(q, len);
	if (rc < 0)
		return rc;
	q->zbuf_entry = entry;
	return 0;
}

static int backing_read(struct qcow2 *q, void *buf, size_t len, uint64_t off)
{
	if (!q->backing) {
		memset(buf, 0, len);
		return 0;
	}
	uint64_t bsize = img_dev_size(q->backing);
	size_t in = 0;
	if (off < bsize)
		in = bsize - off < len ? (size_t)(bsize - off) : len;
	if (in > 0) {
		struct buf e = BUF_INIT;
		int rc = img_dev_pread(q->backing, buf, in, off, &e);
		buf_release(&e);
		if (rc < 0)
			return rc;
	}
	memset((char *)buf + in, 0, len - in);
	return 0;
}

/* Where guest offset off lives.  kind: 0 = host data at *host, 1 = zeros,
 * 2 = backing file, 3 = compressed (the L2 entry in *host). */
static int qcow2_map(struct qcow2 *q, uint64_t off, int *kind, uint64_t *host)
{
	uint64_t cluster = off >> q->cluster_bits;
	uint64_t l1_idx = cluster / q->l2_entries;
	uint64_t l2_idx = cluster % q->l2_entries;

	if (l1_idx >= q->l1_size || (q->l1[l1_idx] & L1E_OFFSET_MASK) == 0) {
		*kind = 2;
		return 0;
	}
	uint64_t l2_off = q->l1[l1_idx] & L1E_OFFSET_MASK;
	if (l2_off & (q->cluster_size - 1))
		return -EIO;
	const uint64_t *table;
	int rc = l2_get(q, l2_off, &table);
	if (rc < 0)
		return rc;
	uint64_t e = table[l2_idx];
	if (e & QCOW_OFLAG_COMPRESSED) {
		*kind = 3;
		*host = e;	/* the whole entry: bit 62 keeps it non-zero for the cache tag */
		return 0;
	}
	if (e & QCOW_OFLAG_ZERO) {
		*kind = 1;
		return 0;
	}
	uint64_t h = e & L2E_OFFSET_MASK;
	if (h == 0) {
		*kind = 2;
		return 0;
	}
	/* (the last cluster may be cut short by the end of the file) */
	if ((h & (q->cluster_size - 1)) || h >= q->file_size)
		return -EIO;
	*kind = 0;
	*host = h + (off & (q->cluster_size - 1));
	return 0;
}

static int qcow2_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct qcow2 *q = priv;
	char *p = buf;
	/* a pending run of contiguous host data */
	uint64_t run_host = 0;
	size_t run_len = 0;
	char *run_dst = NULL;

	while (len > 0) {
		uint64_t in_cluster = off & (q->cluster_size - 1);
		size_t n = q->cluster_size - in_cluster < len ? (size_t)(q->cluster_size - in_cluster) : len;
		int kind;
		uint64_t host = 0;
		int rc = qcow2_map(q, off, &kind, &host);
		if (rc < 0)
			return rc;
		if (kind == 0 && run_len > 0 && run_host + run_len == host) {
			run_len += n;
		} else {
			if (run_len > 0) {
				rc = file_read(q->fd, run_dst, run_len, run_host);
				if (rc < 0)
					return rc;
				run_len = 0;
			}
			if (kind == 0) {
				run_host = host;
				run_len = n;
				run_dst = p;
			} else if (kind == 1) {
				memset(p, 0, n);
			} else if (kind == 2) {
				rc = backing_read(q, p, n, off);
			} else {
				rc = read_compressed(q, host);
				if (rc == 0)
					memcpy(p, q->zbuf + in_cluster, n);
			}
			if (rc < 0)
				return rc;
		}
		p += n;
		off += n;
		len -= n;
	}
	if (run_len > 0)
		return file_read(q->fd, run_dst, run_len, run_host);
	return 0;
}

static const struct img_dev_ops qcow2_ops = { .pread = qcow2_pread, .close = qcow2_close };

/* Walk the snapshot table t for the entry whose id (or name) is want:
 * 1 = found (*entry, *extra), 0 = none, -1 = the table is corrupt. */
static int snapshot_scan(const uint8_t *t, size_t tlen, uint32_t count, const char *want, bool by_name,
			 const uint8_t **entry, uint32_t *extra_out)
{
	size_t pos = 0, wlen = strlen(want);

	for (uint32_t i = 0; i < count; i++) {
		/* The padding after the last entry may lie past the end of the file. */
		if (pos > tlen || tlen - pos < 40)
			return -1;
		const uint8_t *e = t + pos;
		uint16_t id_len = be16(e + 12), name_len = be16(e + 14);
		uint32_t extra = be32(e + 36);
		if (extra > 1024 || tlen - pos - 40 < (uint64_t)extra + id_len + name_len)
			return -1;
		const char *id = (const char *)e + 40 + extra;
		const char *s = by_name ? id + id_len : id;
		size_t len = by_name ? name_len : id_len;
		if (len == wlen && memcmp(s, want, len) == 0) {
			*entry = e;
			*extra_out = extra;
			return 1;
		}
		pos += 40 + (size_t)extra + id_len + name_len;
		pos = (pos + 7) & ~(size_t)7;
	}
	return 0;
}

/* Find the snapshot with id or name `want` (ids first, like QEMU); fills
 * *l1_off, *l1_size and, when the entry records it, *vsize. */
static int find_snapshot(struct qcow2 *q, uint64_t table_off, uint32_t count, const char *want,
			 uint64_t *l1_off, uint32_t *l1_size, uint64_t *vsize, struct buf *err)
{
	if (count == 0) {
		buf_printf(err, "cannot open snapshot '%s' of %s: the image has no internal snapshots", want, q->path);
		return -ENOENT;
	}
	if (count > MAX_SNAPSHOTS || (table_off & 7) || table_off >= q->file_size) {
		buf_printf(err, "cannot read the snapshot table of %s: bad table offset or count", q->path);
		return -EINVAL;
	}
	uint64_t avail = q->file_size - table_off;
	size_t tlen = avail < MAX_SNAPSHOT_TABLE ? (size_t)avail : MAX_SNAPSHOT_TABLE;
	__do_free uint8_t *t = xmalloc(tlen);
	if (file_read(q->fd, t, tlen, table_off) < 0) {
		buf_printf(err, "cannot read the snapshot table of %s", q->path);
		return -EIO;
	}
	for (int by_name = 0; by_name < 2; by_name++) {
		const uint8_t *e;
		uint32_t extra;
		int found = snapshot_scan(t, tlen, count, want, by_name, &e, &extra);
		if (found < 0) {
			buf_printf(err, "cannot read the snapshot table of %s: the table is corrupt", q->path);
			return -EINVAL;
		}
		if (found) {
			*l1_off = be64(e);
			*l1_size = be32(e + 8);
			if (extra >= 16)
				*vsize = be64(e + 48);
			return 0;
		}
	}
	buf_printf(err, "cannot open snapshot '%s' of %s: no internal snapshot with that name or id", want,
		   q->path);
	return -ENOENT;
}

static int load_l1(struct qcow2 *q, uint64_t off, uint64_t count, uint64_t vsize, struct buf *err)
{
	uint64_t clusters = (vsize + q->cluster_size - 1) >> q->cluster_bits;
	uint64_t needed = (clusters + q->l2_entries - 1) / q->l2_entries;

	if (count > MAX_L1_BYTES / 8 || count * 8 > q->file_size) {
		buf_printf(err, "cannot open qcow2 image %s: its L1 table (%" PRIu64 " entries) is larger than allowed",
			   q->path, count);
		return -EINVAL;
	}
	if (count < needed) {
		buf_printf(err, "cannot open qcow2 image %s: its L1 table is too small for its virtual size", q->path);
		return -EINVAL;
	}
	if (count == 0)
		return 0;
	if ((off & 7) || !in_file(q, off, count * 8)) {
		buf_printf(err, "cannot open qcow2 image %s: its L1 table lies outside the file", q->path);
		return -EINVAL;
	}
	q->l1 = xmalloc(count * 8);
	if (file_read(q->fd, q->l1, count * 8, off) < 0) {
		buf_printf(err, "cannot read the L1 table of qcow2 image %s", q->path);
		return -EIO;
	}
	for (uint64_t i = 0; i < count; i++)
		q->l1[i] = be64((uint8_t *)&q->l1[i]);
	q->l1_size = count;
	return 0;
}

/* Header extensions after the header: only the backing format matters to us. */
static int read_extensions(struct qcow2 *q, const uint8_t *hdr, size_t hdr_len, uint32_t start, char *bfmt,
			   size_t bfmt_size, struct buf *err)
{
	size_t pos = start;

	while (pos + 8 <= hdr_len) {
		uint32_t type = be32(hdr + pos), len = be32(hdr + pos + 4);
		pos += 8;
		if (type == EXT_END)
			return 0;
		if (len > hdr_len - pos) {
			buf_printf(err, "cannot open qcow2 image %s: a header extension runs past the first cluster",
				   q->path);
			return -EINVAL;
		}
		if (type == EXT_BACKING_FORMAT) {
			if (len == 0 || len >= bfmt_size) {
				buf_printf(err, "cannot open qcow2 image %s: bad backing format extension", q->path);
				return -EINVAL;
			}
			memcpy(bfmt, hdr + pos, len);
			bfmt[len] = '\0';
		}
		pos += ((size_t)len + 7) & ~(size_t)7;
	}
	return 0;
}

static int open_backing(struct qcow2 *q, const uint8_t *hdr, size_t hdr_len, uint64_t boff, uint32_t blen,
			const char *bfmt, struct chain *ch, struct buf *err)
{
	if (blen == 0 || blen > 1023 || boff > hdr_len || blen > hdr_len - boff) {
		buf_printf(err, "cannot open qcow2 image %s: bad backing file name", q->path);
		return -EINVAL;
	}
	__do_free char *name = xmalloc(blen + 1);
	memcpy(name, hdr + boff, blen);
	name[blen] = '\0';
	if (strlen(name) != blen || strncmp(name, "json:", 5) == 0 || strstr(name, "://")) {
		buf_printf(err, "cannot open qcow2 image %s: backing file '%s' is not a plain file name", q->path,
			   name);
		return -EINVAL;
	}
	if (bfmt[0] && strcmp(bfmt, "raw") != 0 && strcmp(bfmt, "qcow2") != 0) {
		buf_printf(err, "cannot open backing file '%s' of %s: format '%s' is not supported (raw, qcow2)", name,
			   q->path, bfmt);
		return -ENOTSUP;
	}
	__do_free char *full = NULL;
	if (ch->fds) {
		if ((size_t)ch->depth >= ch->nfds) {
			buf_printf(err, "cannot open qcow2 image %s: its backing file '%s' was not provided with it", q->path,
				   name);
			return -ENOENT;
		}
		return open_chain(ch->names[ch->depth], bfmt[0] ? bfmt : NULL, NULL, ch, &q->backing, err);
	}
	if (name[0] == '/') {
		full = xstrdup(name);
	} else {
		const char *slash = strrchr(q->path, '/');
		if (slash)
			full = xasprintf("%.*s/%s", (int)(slash - q->path), q->path, name);
		else
			full = xstrdup(name);
	}
	return open_chain(full, bfmt[0] ? bfmt : NULL, NULL, ch, &q->backing, err);
}

static int qcow2_open_fd(int fd, const char *path, uint64_t file_size, const char *snapshot, struct chain *ch,
			 struct img_dev **out, struct buf *err)
{
	struct qcow2 *q = xcalloc(1, sizeof(*q));
	__do_free uint8_t *hdr = NULL;
	__do_free char *desc = NULL;
	uint8_t h[112];
	int rc;

	q->fd = fd;
	q->path = xstrdup(path);
	q->file_size = file_size;
	memset(h, 0, sizeof(h));
	if (file_size < 72 || file_read(fd, h, file_size < sizeof(h) ? (size_t)file_size : sizeof(h), 0) < 0 ||
	    be32(h) != QCOW2_MAGIC) {
		buf_printf(err, "cannot open %s: not a qcow2 image (header missing or truncated)", path);
		rc = -EINVAL;
		goto fail;
	}
	uint32_t version = be32(h + 4);
	uint64_t boff = be64(h + 8);
	uint32_t blen = be32(h + 16);
	q->cluster_bits = be32(h + 20);
	uint64_t vsize = be64(h + 24);
	uint32_t crypt = be32(h + 32);
	uint32_t l1_size = be32(h + 36);
	uint64_t l1_off = be64(h + 40);
	uint32_t nb_snap = be32(h + 60);
	uint64_t snap_off = be64(h + 64);
	uint64_t incompat = 0;
	uint32_t hdr_len = 72;

	if (version != 2 && version != 3) {
		buf_printf(err, "cannot open qcow2 image %s: version %u is not supported (2, 3)", path, version);
		rc = -ENOTSUP;
		goto fail;
	}
	if (q->cluster_bits < 9 || q->cluster_bits > 21) {
		buf_printf(err, "cannot open qcow2 image %s: cluster size 2^%u is out of range", path, q->cluster_bits);
		rc = -EINVAL;
		goto fail;
	}
	q->cluster_size = 1ULL << q->cluster_bits;
	q->l2_entries = q->cluster_size / 8;
	q->l2_slots = L2_CACHE_BYTES / q->cluster_size;
	if (q->l2_slots > L2_CACHE_SLOTS)
		q->l2_slots = L2_CACHE_SLOTS;
	if (q->l2_slots < 2)
		q->l2_slots = 2;
	if (version == 3) {
		incompat = be64(h + 72);
		hdr_len = be32(h + 100);
		if (hdr_len < 104 || hdr_len > q->cluster_size || (hdr_len & 7)) {
			buf_printf(err, "cannot open qcow2 image %s: header length %u is invalid", path, hdr_len);
			rc = -EINVAL;
			goto fail;
		}
		uint32_t refcount_order = be32(h + 96);
		if (refcount_order > 6) {
			buf_printf(err, "cannot open qcow2 image %s: refcount order %u is invalid", path,
				   refcount_order);
			rc = -EINVAL;
			goto fail;
		}
	}
	if (crypt != 0) {
		buf_printf(err, "cannot open qcow2 image %s: encrypted images are not supported", path);
		rc = -ENOTSUP;
		goto fail;
	}
	if (incompat & INCOMPAT_DATA_FILE) {
		buf_printf(err, "cannot open qcow2 image %s: images with an external data file are not supported", path);
		rc = -ENOTSUP;
		goto fail;
	}
	if (incompat & INCOMPAT_EXTL2) {
		buf_printf(err, "cannot open qcow2 image %s: extended L2 entries (subclusters) are not supported", path);
		rc = -ENOTSUP;
		goto fail;
	}
	uint64_t unknown = incompat & ~(INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION);
	if (unknown) {
		buf_printf(err, "cannot open qcow2 image %s: unknown incompatible features 0x%" PRIx64, path, unknown);
		rc = -ENOTSUP;
		goto fail;
	}
	if (incompat & INCOMPAT_COMPRESSION) {
		uint8_t ctype = hdr_len > 104 ? h[104] : 0;
		if (ctype > 1) {
			buf_printf(err, "cannot open qcow2 image %s: compression type %u is not supported", path, ctype);
			rc = -ENOTSUP;
			goto fail;
		}
		q->zstd = ctype == 1;
	}
	if (vsize > MAX_VIRTUAL_SIZE) {
		buf_printf(err, "cannot open qcow2 image %s: virtual size %" PRIu64 " exceeds the 64 TiB limit", path,
			   vsize);
		rc = -EINVAL;
		goto fail;
	}

	/* the header cluster: extensions and the backing file name live here */
	size_t c0 = file_size < q->cluster_size ? (size_t)file_size : (size_t)q->cluster_size;
	hdr = xmalloc(c0);
	if (file_read(fd, hdr, c0, 0) < 0) {
		buf_printf(err, "cannot read the header of qcow2 image %s", path);
		rc = -EIO;
		goto fail;
	}
	char bfmt[32] = "";
	rc = read_extensions(q, hdr, c0, hdr_len, bfmt, sizeof(bfmt), err);
	if (rc < 0)
		goto fail;

	if (snapshot) {
		uint32_t sl1_size = 0;
		uint64_t sl1_off = 0;
		rc = find_snapshot(q, snap_off, nb_snap, snapshot, &sl1_off, &sl1_size, &vsize, err);
		if (rc < 0)
			goto fail;
		if (vsize > MAX_VIRTUAL_SIZE) {
			buf_printf(err, "cannot open snapshot '%s' of %s: its virtual size is out of range", snapshot,
				   path);
			rc = -EINVAL;
			goto fail;
		}
		l1_off = sl1_off;
		l1_size = sl1_size;
	}
	rc = load_l1(q, l1_off, l1_size, vsize, err);
	if (rc < 0)
		goto fail;
	if (boff != 0) {
		rc = open_backing(q, hdr, c0, boff, blen, bfmt, ch, err);
		if (rc < 0)
			goto fail;
	}
	desc = snapshot ? xasprintf("%s (snapshot %s)", path, snapshot) : xstrdup(path);
	return img_dev_new(&qcow2_ops, q, vsize, desc, out, err);
fail:
	qcow2_close(q);
	return rc;
}

static int open_chain(const char *path, const char *format, const char *snapshot, struct chain *ch,
		      struct img_dev **out, struct buf *err)
{
	struct stat st;
	uint8_t magic[4] = { 0 };

	*out = NULL;
	if (format && strcmp(format, "raw") != 0 && strcmp(format, "qcow2") != 0) {
		buf_printf(err, "cannot open image %s: unknown format '%s' (use raw or qcow2)", path, format);
		return -EINVAL;
	}
	if (ch->depth > MAX_CHAIN) {
		buf_printf(err, "cannot open image %s: the backing chain is deeper than %d images", path, MAX_CHAIN);
		return -ELOOP;
	}
	__do_close int fd = -EBADF;
	if (ch->fds) {
		fd = ch->fds[ch->depth];
		ch->fds[ch->depth] = -1;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	}
	if (fd < 0) {
		int rc = -errno;
		buf_printf(err, "cannot open image %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		buf_printf(err, "cannot inspect image %s: %s", path, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < ch->depth; i++) {
		if (ch->dev[i] == st.st_dev && ch->ino[i] == st.st_ino) {
			buf_printf(err, "cannot open image %s: its backing chain loops back to itself", path);
			return -ELOOP;
		}
	}
	ch->dev[ch->depth] = st.st_dev;
	ch->ino[ch->depth] = st.st_ino;
	ch->depth++;

	bool qcow2 = format && strcmp(format, "qcow2") == 0;
	if (!format && S_ISREG(st.st_mode) && st.st_size >= 4 && file_read(fd, magic, 4, 0) == 0)
		qcow2 = be32(magic) == QCOW2_MAGIC;
	if (!qcow2) {
		if (snapshot) {
			buf_printf(err, "cannot open snapshot '%s' of %s: raw images have no internal snapshots",
				   snapshot, path);
			return -EINVAL;
		}
		return img_dev_open_raw_fd(move_fd(fd), path, out, err);
	}
	if (!S_ISREG(st.st_mode)) {
		buf_printf(err, "cannot open qcow2 image %s: not a regular file", path);
		return -EINVAL;
	}
	return qcow2_open_fd(move_fd(fd), path, (uint64_t)st.st_size, snapshot, ch, out, err);
}

int img_dev_open_file(const char *path, const char *format, const char *snapshot, struct img_dev **out,
		      struct buf *err)
{
	struct chain ch = { .depth = 0 };

	return open_chain(path, format, snapshot, &ch, out, err);
}

int img_dev_open_fds(const int *fds, const char *const *names, size_t n, const char *format, const char *snapshot,
		     struct img_dev **out, struct buf *err)
{
	struct chain ch = { .depth = 0, .names = names, .nfds = n };
	int r;

	*out = NULL;
	if (n == 0 || n > MAX_CHAIN + 1) {
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		buf_printf(err, "cannot open an image from %zu files: a chain has 1 to %d", n, MAX_CHAIN + 1);
		return -EINVAL;
	}
	ch.fds = xmalloc(n * sizeof(int));
	memcpy(ch.fds, fds, n * sizeof(int));
	r = open_chain(names[0], format, snapshot, &ch, out, err);
	if (r == 0 && (size_t)ch.depth < n) {
		buf_printf(err, "cannot open image %s: %s was given as a backing file, but the chain ends at %s",
			   names[0], names[ch.depth], names[ch.depth - 1]);
		img_dev_free(*out);
		*out = NULL;
		r = -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		if (ch.fds[i] >= 0)
			close(ch.fds[i]);
	free(ch.fds);
	return r;
}
