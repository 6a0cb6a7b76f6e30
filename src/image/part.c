/*
 * part.c - partition tables: MBR (primary, extended and logical partitions,
 * the logicals numbered from 5 as Linux does) and GPT (behind a protective
 * MBR; header and entry array checked by CRC32, the backup GPT at the end of
 * the disk used when the primary is damaged).  A device with a filesystem
 * signature on the whole disk, or with no table, is scheme "none".
 *
 * Sectors are 512 bytes for MBR; GPT is also looked for with 4096-byte
 * sectors.  Every partition must lie inside the device; the EBR chain is cut
 * after 128 logical partitions (which also ends loops), GPT entry arrays are
 * bounded to 1 MiB.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "image/image_internal.h"
#include "util/common.h"

#define MAX_LOGICAL 128
#define MAX_GPT_ARRAY (1u << 20)

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static struct img_part *part_add(struct img_partlist *pl)
{
	pl->parts = xrealloc(pl->parts, (pl->n + 1) * sizeof(*pl->parts));
	struct img_part *p = &pl->parts[pl->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static bool is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

/* Partition entry e (16 bytes) relative to base (in sectors); false if outside the device. */
static bool mbr_entry(const uint8_t *e, uint64_t base, uint64_t dev_sectors, uint64_t *start, uint64_t *count)
{
	*start = base + le32(e + 8);
	*count = le32(e + 12);
	return *count > 0 && *start < dev_sectors && *count <= dev_sectors - *start;
}

static void fill_mbr_part(struct img_part *p, int number, const uint8_t *e, uint64_t start, uint64_t count)
{
	p->number = number;
	p->start = start * 512;
	p->size = count * 512;
	snprintf(p->type, sizeof(p->type), "0x%x", e[4]);
	p->bootable = e[0] == 0x80;
}

static int read_logicals(struct img_dev *dev, uint64_t ext_start, uint64_t ext_count, struct img_partlist *pl,
			 struct buf *err)
{
	uint64_t dev_sectors = img_dev_size(dev) / 512;
	uint64_t ebr = ext_start;
	uint8_t s[512];

	for (int number = 5; number < 5 + MAX_LOGICAL; number++) {
		int rc = img_dev_pread(dev, s, sizeof(s), ebr * 512, err);
		if (rc < 0)
			return rc;
		if (s[510] != 0x55 || s[511] != 0xaa)
			return 0;
		uint64_t start, count;
		if (s[446 + 4] != 0 && mbr_entry(s + 446, ebr, dev_sectors, &start, &count))
			fill_mbr_part(part_add(pl), number, s + 446, start, count);
		const uint8_t *next = s + 446 + 16;
		if (!is_extended(next[4]) || !mbr_entry(next, ext_start, dev_sectors, &start, &count))
			return 0;
		if (start <= ebr || start >= ext_start + ext_count)	/* chains only go forward */
			return 0;
		ebr = start;
	}
	return 0;
}

static void guid_format(const uint8_t *g, char *out, size_t size)
{
	snprintf(out, size, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", le32(g),
		 (unsigned)(g[4] | g[5] << 8), (unsigned)(g[6] | g[7] << 8), g[8], g[9], g[10], g[11], g[12], g[13],
		 g[14], g[15]);
}

/* UTF-16LE (36 code units) to UTF-8. */
static void gpt_name(const uint8_t *src, char *out, size_t size)
{
	size_t o = 0;

	for (int i = 0; i < 36; i++) {
		uint32_t c = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8);
		if (c == 0)
			break;
		if (c >= 0xd800 && c <= 0xdfff) {
			if (c < 0xdc00 && i + 1 < 36) {
				uint32_t lo = (uint32_t)(src[2 * i + 2] | src[2 * i + 3] << 8);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
					i++;
				} else {
					c = '?';
				}
			} else {
				c = '?';
			}
		}
		uint8_t u[4];
		size_t n;
		if (c < 0x80) {
			u[0] = (uint8_t)(c < 0x20 || c == 0x7f ? '?' : c);
			n = 1;
		} else if (c < 0x800) {
			u[0] = (uint8_t)(0xc0 | c >> 6);
			u[1] = (uint8_t)(0x80 | (c & 0x3f));
			n = 2;
		} else if (c < 0x10000) {
			u[0] = (uint8_t)(0xe0 | c >> 12);
			u[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			u[2] = (uint8_t)(0x80 | (c & 0x3f));
			n = 3;
		} else {
			u[0] = (uint8_t)(0xf0 | c >> 18);
			u[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
			u[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
			u[3] = (uint8_t)(0x80 | (c & 0x3f));
			n = 4;
		}
		if (o + n >= size)
			break;
		memcpy(out + o, u, n);
		o += n;
	}
	out[o] = '\0';
}

/* Read and check the GPT header at lba; 1 = valid table loaded, 0 = none. */
static int gpt_try(struct img_dev *dev, uint64_t sector, uint64_t lba, struct img_partlist *pl, struct buf *err)
{
	uint64_t dev_size = img_dev_size(dev);
	uint64_t dev_sectors = dev_size / sector;
	uint8_t hdr[4096];
	struct buf e = BUF_INIT;

	if (lba >= dev_sectors)
		return 0;
	int rc = img_dev_pread(dev, hdr, sector, lba * sector, &e);
	buf_release(&e);
	if (rc < 0 || memcmp(hdr, "EFI PART", 8) != 0)
		return 0;
	uint32_t hsize = le32(hdr + 12);
	if (hsize < 92 || hsize > sector)
		return 0;
	uint32_t hcrc = le32(hdr + 16);
	memset(hdr + 16, 0, 4);
	if (crc32(0, hdr, hsize) != hcrc || le64(hdr + 24) != lba)
		return 0;
	uint64_t entries_lba = le64(hdr + 72);
	uint32_t nent = le32(hdr + 80), esize = le32(hdr + 84), ecrc = le32(hdr + 88);
	if (esize < 128 || esize > 4096 || (esize & (esize - 1)) || nent == 0 ||
	    (uint64_t)nent * esize > MAX_GPT_ARRAY || entries_lba >= dev_sectors ||
	    (uint64_t)nent * esize > dev_size - entries_lba * sector)
		return 0;
	size_t alen = (size_t)nent * esize;
	__do_free uint8_t *arr = xmalloc(alen);
	rc = img_dev_pread(dev, arr, alen, entries_lba * sector, &e);
	buf_release(&e);
	if (rc < 0 || crc32(0, arr, (uInt)alen) != ecrc)
		return 0;

	static const uint8_t zero[16];
	pl->n = 0;
	for (uint32_t i = 0; i < nent; i++) {
		const uint8_t *ent = arr + (size_t)i * esize;
		if (memcmp(ent, zero, 16) == 0)
			continue;
		uint64_t first = le64(ent + 32), last = le64(ent + 40);
		if (last < first || last >= dev_sectors) {
			buf_printf(err, "cannot read the GPT of %s: partition %u lies outside the disk", img_dev_desc(dev),
				   i + 1);
			return -EINVAL;
		}
		struct img_part *p = part_add(pl);
		p->number = (int)i + 1;
		p->start = first * sector;
		p->size = (last - first + 1) * sector;
		guid_format(ent, p->type, sizeof(p->type));
		gpt_name(ent + 56, p->name, sizeof(p->name));
		p->bootable = (le64(ent + 48) & 4) != 0;
	}
	snprintf(pl->scheme, sizeof(pl->scheme), "gpt");
	return 1;
}

static int read_gpt(struct img_dev *dev, struct img_partlist *pl, struct buf *err)
{
	static const uint64_t sectors[] = { 512, 4096 };

	for (size_t i = 0; i < ARRAY_SIZE(sectors); i++) {
		int rc = gpt_try(dev, sectors[i], 1, pl, err);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sectors); i++) {
		uint64_t n = img_dev_size(dev) / sectors[i];
		if (n < 2)
			continue;
		int rc = gpt_try(dev, sectors[i], n - 1, pl, err);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	buf_printf(err, "cannot read the GPT of %s: neither the primary nor the backup table is valid",
		   img_dev_desc(dev));
	return -EINVAL;
}

static int part_cmp(const void *a, const void *b)
{
	const struct img_part *x = a, *y = b;

	return (x->number > y->number) - (x->number < y->number);
}

static void set_fstypes(struct img_dev *dev, struct img_partlist *pl)
{
	if (pl->n > 1)
		qsort(pl->parts, pl->n, sizeof(*pl->parts), part_cmp);
	for (size_t i = 0; i < pl->n; i++) {
		struct img_part *p = &pl->parts[i];
		struct img_dev *w;
		struct buf e = BUF_INIT;
		if (img_dev_window(dev, p->start, p->size, &w, &e) == 0) {
			const char *t = img_fs_probe(w);
			snprintf(p->fstype, sizeof(p->fstype), "%s", t ? t : "");
			img_dev_free(w);
		}
		buf_release(&e);
	}
}

int img_partitions(struct img_dev *dev, struct img_partlist *out, struct buf *err)
{
	uint8_t mbr[512];
	uint64_t dev_sectors = img_dev_size(dev) / 512;
	int rc;

	memset(out, 0, sizeof(*out));
	snprintf(out->scheme, sizeof(out->scheme), "none");
	if (img_fs_probe(dev) || img_dev_size(dev) < 512)
		return 0;
	rc = img_dev_pread(dev, mbr, sizeof(mbr), 0, err);
	if (rc < 0)
		return rc;
	if (mbr[510] != 0x55 || mbr[511] != 0xaa)
		return 0;
	for (int i = 0; i < 4; i++) {
		if (mbr[446 + 16 * i + 4] == 0xee) {
			rc = read_gpt(dev, out, err);
			if (rc < 0) {
				img_partlist_release(out);
				return rc;
			}
			set_fstypes(dev, out);
			return 0;
		}
	}
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		if (e[0] != 0 && e[0] != 0x80) {	/* not a partition table (boot code or garbage) */
			img_partlist_release(out);
			return 0;
		}
	}
	snprintf(out->scheme, sizeof(out->scheme), "mbr");
	bool had_extended = false;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = mbr + 446 + 16 * i;
		uint64_t start, count;
		if (e[4] == 0 || !mbr_entry(e, 0, dev_sectors, &start, &count))
			continue;
		fill_mbr_part(part_add(out), i + 1, e, start, count);
		if (is_extended(e[4]) && !had_extended) {
			had_extended = true;
			rc = read_logicals(dev, start, count, out, err);
			if (rc < 0) {
				img_partlist_release(out);
				return rc;
			}
		}
	}
	set_fstypes(dev, out);
	return 0;
}

void img_partlist_release(struct img_partlist *pl)
{
	if (!pl)
		return;
	free(pl->parts);
	pl->parts = NULL;
	pl->n = 0;
}
