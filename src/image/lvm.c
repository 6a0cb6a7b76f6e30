/*
 * lvm.c - LVM2 logical volumes on a disk image, as devices (image.h).
 *
 * Physical volumes are found on the disk's partitions (probed LVM2_member)
 * and on the whole disk.  For each PV we read the label (one of the first four
 * sectors), the PV header (its UUID and metadata areas), the first metadata
 * area's header and, through its first raw location, the newest copy of the
 * volume group's text metadata (which may wrap around the end of the circular
 * buffer).  lvm_meta.c parses that text; when several PVs of one VG are on the
 * disk, the copy with the highest seqno wins, and a PV without (readable)
 * metadata still serves the VG described on the others.  A visible logical volume whose
 * segments are all "striped" (linear is one stripe) becomes a device that
 * maps each read onto windows of its PVs.  Thin, raid, mirror, snapshot,
 * cache, VDO and the like are listed with "not supported", and an LV that
 * needs a PV not on this disk says so; the other LVs stay readable.
 *
 * Everything from the image is bounds-checked: label and header offsets,
 * metadata size (LVM_META_MAX), extent size and counts (no overflow, every
 * stripe inside its PV's extents and the PV inside its partition), at most
 * LVM_MAX_SEGS segments of at most LVM_MAX_STRIPES stripes per LV.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "util/common.h"

#define LVM_MAGIC " LVM2 x[5A%r0N*>"
#define LVM_MDA_HEADER 512
#define LVM_MAX_PVS 64
#define LVM_MAX_SEGS 10000
#define LVM_MAX_STRIPES 64
#define LVM_MAX_NAME 127

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A PV found on the disk. */
struct lvm_pvdev {
	uint64_t off, size;	/* where on the disk */
	char uuid[33];		/* without dashes */
	char *vg;		/* the VG its metadata names; NULL: no readable metadata on it */
	int64_t seqno;
	struct lvm_node *meta;	/* parsed metadata (owned) */
};

struct lvm_scan {
	struct lvm_pvdev pvs[LVM_MAX_PVS];
	size_t n;
};

static void lvm_scan_release(struct lvm_scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->pvs[i].vg);
		lvm_node_free(s->pvs[i].meta);
	}
	s->n = 0;
}

static bool lvm_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > LVM_MAX_NAME || s[0] == '-' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '.' || c == '+' || c == '-'))
			return false;
	}
	return true;
}

static void uuid_strip(const char *in, char out[33])
{
	size_t o = 0;

	for (; *in && o < 32; in++)
		if (*in != '-')
			out[o++] = *in;
	out[o] = 0;
}

/* Read the metadata text of the PV at [off, off+size) of dev; 1 when there is no PV label. */
static int lvm_pv_read(struct img_dev *dev, uint64_t off, uint64_t size, struct lvm_pvdev *pv, struct buf *err)
{
	uint8_t sec[512];
	int rc;
	int label = -1;

	for (int s = 0; s < 4 && label < 0; s++) {
		if ((uint64_t)(s + 1) * 512 > size)
			break;
		if ((rc = img_dev_pread(dev, sec, sizeof(sec), off + (uint64_t)s * 512, err)) < 0)
			return rc;
		if (memcmp(sec, "LABELONE", 8) == 0 && memcmp(sec + 24, "LVM2 001", 8) == 0)
			label = s;
	}
	if (label < 0)
		return 1;
	uint32_t hoff = le32(sec + 20);
	/* pv_header: uuid[32], device size, then {offset,size} lists of data and metadata areas */
	if (hoff < 32 || hoff > 512 - 32 - 8 - 16) {
		buf_printf(err, "LVM2 PV label at byte %" PRIu64 " of %s is corrupt", off, img_dev_desc(dev));
		return -EIO;
	}
	const uint8_t *ph = sec + hoff;
	char uuid[33];
	memcpy(uuid, ph, 32);
	uuid[32] = 0;
	uuid_strip(uuid, pv->uuid);
	size_t pos = hoff + 40;
	int list = 0;
	uint64_t mda_off = 0, mda_size = 0;
	while (pos + 16 <= 512 && list < 2) {
		uint64_t o = le64(sec + pos), sz = le64(sec + pos + 8);
		pos += 16;
		if (o == 0 && sz == 0) {
			list++;
			continue;
		}
		if (list == 1 && mda_size == 0) {
			mda_off = o;
			mda_size = sz;
		}
	}
	if (mda_size == 0) {
		buf_printf(err, "the LVM2 PV at byte %" PRIu64 " of %s has no metadata area on it", off,
			   img_dev_desc(dev));
		return -ENOTSUP;
	}
	if (mda_size < 2 * LVM_MDA_HEADER || mda_off > size || mda_size > size - mda_off) {
		buf_printf(err, "the LVM2 PV at byte %" PRIu64 " of %s has a metadata area outside the PV", off,
			   img_dev_desc(dev));
		return -EIO;
	}
	uint8_t mh[LVM_MDA_HEADER];
	if ((rc = img_dev_pread(dev, mh, sizeof(mh), off + mda_off, err)) < 0)
		return rc;
	if (memcmp(mh + 4, LVM_MAGIC, 16) != 0) {
		buf_printf(err, "the LVM2 metadata area of the PV at byte %" PRIu64 " of %s has a bad magic", off,
			   img_dev_desc(dev));
		return -EIO;
	}
	/* raw_locn[0]: offset (from the area's start), size, checksum, flags */
	uint64_t toff = le64(mh + 40), tsize = le64(mh + 48);
	if (tsize == 0 || tsize > LVM_META_MAX || toff < LVM_MDA_HEADER || toff >= mda_size) {
		buf_printf(err, "the LVM2 metadata area of the PV at byte %" PRIu64 " of %s holds no usable metadata "
			   "(offset %" PRIu64 ", %" PRIu64 " bytes)", off, img_dev_desc(dev), toff, tsize);
		return -EIO;
	}
	__do_free char *text = xmalloc(tsize + 1);
	uint64_t first = mda_size - toff < tsize ? mda_size - toff : tsize;
	if ((rc = img_dev_pread(dev, text, first, off + mda_off + toff, err)) < 0)
		return rc;
	if (first < tsize) {	/* wrapped around the circular buffer */
		if (tsize - first > mda_size - LVM_MDA_HEADER) {
			buf_printf(err, "the LVM2 metadata of the PV at byte %" PRIu64 " of %s is larger than its area",
				   off, img_dev_desc(dev));
			return -EIO;
		}
		if ((rc = img_dev_pread(dev, text + first, tsize - first, off + mda_off + LVM_MDA_HEADER, err)) < 0)
			return rc;
	}
	size_t tlen = strnlen(text, tsize);
	if ((rc = lvm_meta_parse(text, tlen, &pv->meta, err)) < 0)
		return rc;
	const struct lvm_node *vg = NULL;
	for (const struct lvm_node *n = pv->meta; n; n = n->next)
		if (n->kind == LVM_SECTION && !vg)
			vg = n;
	if (!vg || !lvm_name_ok(vg->key) || !lvm_node_int(vg->child, "seqno", &pv->seqno)) {
		buf_printf(err, "the LVM2 metadata of the PV at byte %" PRIu64 " of %s names no volume group", off,
			   img_dev_desc(dev));
		return -EIO;
	}
	pv->vg = xstrdup(vg->key);
	pv->off = off;
	pv->size = size;
	return 0;
}

/* Every PV on dev: its partitions, else the whole disk. */
static int lvm_scan(struct img_dev *dev, struct lvm_scan *s, struct buf *err)
{
	struct img_partlist pl;
	int rc = img_partitions(dev, &pl, err);

	s->n = 0;
	if (rc < 0)
		return rc;
	struct span {
		uint64_t off, size;
	} cand[LVM_MAX_PVS];
	size_t nc = 0;
	if (pl.n == 0) {
		if (img_fs_probe(dev) && strcmp(img_fs_probe(dev), "LVM2_member") == 0)
			cand[nc++] = (struct span){ 0, img_dev_size(dev) };
	}
	for (size_t i = 0; i < pl.n && nc < LVM_MAX_PVS; i++)
		if (strcmp(pl.parts[i].fstype, "LVM2_member") == 0)
			cand[nc++] = (struct span){ pl.parts[i].start, pl.parts[i].size };
	img_partlist_release(&pl);
	/* A PV whose metadata cannot be read still counts (by its UUID) for the
	 * VGs described on other PVs; its error matters only if no PV has any. */
	__do_buf struct buf first = BUF_INIT;
	int first_rc = 0;
	bool any = false;
	for (size_t i = 0; i < nc; i++) {
		struct lvm_pvdev *pv = &s->pvs[s->n];
		memset(pv, 0, sizeof(*pv));
		struct buf e = BUF_INIT;
		rc = lvm_pv_read(dev, cand[i].off, cand[i].size, pv, &e);
		if (rc < 0) {
			lvm_node_free(pv->meta);
			free(pv->vg);
			pv->meta = NULL;
			pv->vg = NULL;
			if (!first_rc) {
				first_rc = rc;
				buf_add(&first, e.s ? e.s : "", e.len);
			}
		}
		buf_release(&e);
		if (rc == 0)
			any = true;
		if (rc == 0 || (rc < 0 && pv->uuid[0])) {
			pv->off = cand[i].off;
			pv->size = cand[i].size;
			s->n++;
		}
	}
	if (!any && first_rc) {
		buf_add(err, first.s, first.len);
		lvm_scan_release(s);
		return first_rc;
	}
	return 0;
}

/* The metadata of vg with the highest seqno among the disk's PVs. */
static const struct lvm_node *lvm_vg_meta(const struct lvm_scan *s, const char *vg)
{
	const struct lvm_pvdev *best = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (s->pvs[i].vg && strcmp(s->pvs[i].vg, vg) == 0 && (!best || s->pvs[i].seqno > best->seqno))
			best = &s->pvs[i];
	if (!best)
		return NULL;
	return lvm_node_find(best->meta, vg);
}

/* ---- LV devices ---- */

struct lvm_stripe {
	struct img_dev *pv;	/* window onto the PV (owned by the map) */
	uint64_t off;		/* byte offset in the PV of the stripe's first extent */
};

struct lvm_seg {
	uint64_t start, len;	/* bytes in the LV */
	uint64_t stripe_size;	/* bytes (striped, count > 1) */
	uint32_t count;
	struct lvm_stripe *stripes;
};

struct lvm_map {
	struct lvm_seg *segs;
	size_t nsegs;
	struct img_dev *pvs[LVM_MAX_PVS];	/* windows onto the disk */
	char pvuuid[LVM_MAX_PVS][33];
	size_t npvs;
};

static void lvm_map_free(void *priv)
{
	struct lvm_map *m = priv;

	if (!m)
		return;
	for (size_t i = 0; i < m->nsegs; i++)
		free(m->segs[i].stripes);
	free(m->segs);
	for (size_t i = 0; i < m->npvs; i++)
		img_dev_free(m->pvs[i]);
	free(m);
}

static int lvm_map_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct lvm_map *m = priv;
	uint8_t *p = buf;
	size_t si = 0;

	while (len > 0) {
		while (si < m->nsegs && off >= m->segs[si].start + m->segs[si].len)
			si++;
		if (si == m->nsegs || off < m->segs[si].start)
			return -EIO;
		const struct lvm_seg *sg = &m->segs[si];
		uint64_t rel = off - sg->start, n = sg->start + sg->len - off, poff;
		const struct lvm_stripe *st;
		if (sg->count == 1) {
			st = &sg->stripes[0];
			poff = st->off + rel;
		} else {
			uint64_t chunk = rel / sg->stripe_size, in = rel % sg->stripe_size;
			st = &sg->stripes[chunk % sg->count];
			poff = st->off + chunk / sg->count * sg->stripe_size + in;
			if (n > sg->stripe_size - in)
				n = sg->stripe_size - in;
		}
		if (n > len)
			n = len;
		struct buf e = BUF_INIT;
		int rc = img_dev_pread(st->pv, p, (size_t)n, poff, &e);
		buf_release(&e);
		if (rc < 0)
			return rc;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static const struct img_dev_ops lvm_map_ops = { .pread = lvm_map_pread, .close = lvm_map_free };

/* The PV window for the PV named pvname in vg's metadata, opened once per map. */
static int lvm_stripe_pv(struct img_dev *dev, const struct lvm_scan *s, const char *vgname, const struct lvm_node *vg,
			 const char *pvname, struct lvm_map *m, struct img_dev **pvdev, uint64_t *pe_start,
			 uint64_t *pe_count, struct buf *err)
{
	const struct lvm_node *pvs = lvm_node_find(vg->child, "physical_volumes");
	const struct lvm_node *pv = pvs ? lvm_node_find(pvs->child, pvname) : NULL;
	const char *id = pv ? lvm_node_str(pv->child, "id") : NULL;
	int64_t start, count;

	if (!pv || pv->kind != LVM_SECTION || !id || !lvm_node_int(pv->child, "pe_start", &start) ||
	    !lvm_node_int(pv->child, "pe_count", &count) || start < 0 || count < 0 || start > (INT64_MAX >> 9)) {
		buf_printf(err, "volume group %s: PV %s is not described properly in the metadata", vgname, pvname);
		return -EIO;
	}
	char uuid[33];
	uuid_strip(id, uuid);
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->pvs[i].uuid, uuid) != 0)
			continue;
		for (size_t k = 0; k < m->npvs; k++) {
			if (strcmp(m->pvuuid[k], uuid) == 0) {
				*pvdev = m->pvs[k];
				goto found;
			}
		}
		if (m->npvs >= LVM_MAX_PVS) {
			buf_printf(err, "volume group %s uses too many PVs", vgname);
			return -EIO;
		}
		int rc = img_dev_window(dev, s->pvs[i].off, s->pvs[i].size, pvdev, err);
		if (rc < 0)
			return rc;
		memcpy(m->pvuuid[m->npvs], uuid, sizeof(uuid));
		m->pvs[m->npvs++] = *pvdev;
	found:
		*pe_start = (uint64_t)start * 512;
		*pe_count = (uint64_t)count;
		return 0;
	}
	buf_printf(err, "volume group %s needs a PV (%s, uuid %s) that is not on this disk", vgname, pvname, id);
	return -ENOTSUP;
}

/* Build the map of LV lv of VG vgname; -ENOTSUP with the reason for LVs we cannot read. */
static int lvm_lv_map(struct img_dev *dev, const struct lvm_scan *s, const char *vgname, const struct lvm_node *lv,
		      struct lvm_map **out, uint64_t *size, struct buf *err)
{
	const struct lvm_node *vg = lvm_vg_meta(s, vgname);
	int64_t esz;

	*out = NULL;
	if (!vg || !lvm_node_int(vg->child, "extent_size", &esz) || esz <= 0 || esz > (1ll << 32)) {
		buf_printf(err, "volume group %s has no valid extent_size", vgname);
		return -EIO;
	}
	uint64_t ext = (uint64_t)esz * 512;
	int64_t nsegs = 0;
	if (!lvm_node_int(lv->child, "segment_count", &nsegs) || nsegs < 1 || nsegs > LVM_MAX_SEGS) {
		buf_printf(err, "logical volume %s/%s has no valid segment_count", vgname, lv->key);
		return -EIO;
	}
	__do_free struct lvm_map *m = xcalloc(1, sizeof(*m));
	m->segs = xcalloc((size_t)nsegs, sizeof(*m->segs));
	int rc = 0;
	uint64_t next_ext = 0;
	for (int64_t i = 1; i <= nsegs && rc == 0; i++) {
		char key[32];
		snprintf(key, sizeof(key), "segment%" PRId64, i);
		const struct lvm_node *sg = lvm_node_find(lv->child, key);
		const char *type = sg ? lvm_node_str(sg->child, "type") : NULL;
		int64_t start, count, scount = 1, ssize = 0;
		if (!sg || !type || !lvm_node_int(sg->child, "start_extent", &start) ||
		    !lvm_node_int(sg->child, "extent_count", &count) || (uint64_t)start != next_ext || count <= 0 ||
		    (uint64_t)count > (UINT64_MAX / ext - next_ext) / 2) {
			buf_printf(err, "logical volume %s/%s: %s is missing or inconsistent", vgname, lv->key, key);
			rc = -EIO;
			break;
		}
		if (strcmp(type, "striped") != 0) {
			buf_printf(err, "logical volume %s/%s has a %s segment: not supported (only linear and striped)",
				   vgname, lv->key, type);
			rc = -ENOTSUP;
			break;
		}
		lvm_node_int(sg->child, "stripe_count", &scount);
		lvm_node_int(sg->child, "stripe_size", &ssize);
		const struct lvm_node *stripes = lvm_node_find(sg->child, "stripes");
		if (scount < 1 || scount > LVM_MAX_STRIPES || count % scount != 0 ||
		    (scount > 1 && (ssize <= 0 || ssize > (1 << 22) || (ssize & (ssize - 1)) != 0)) || !stripes ||
		    stripes->kind != LVM_ARRAY) {
			buf_printf(err, "logical volume %s/%s: %s has bad stripes", vgname, lv->key, key);
			rc = -EIO;
			break;
		}
		struct lvm_seg *seg = &m->segs[m->nsegs++];
		seg->start = next_ext * ext;
		seg->len = (uint64_t)count * ext;
		seg->count = (uint32_t)scount;
		seg->stripe_size = (uint64_t)ssize * 512;
		seg->stripes = xcalloc((size_t)scount, sizeof(*seg->stripes));
		uint64_t per = (uint64_t)count / (uint64_t)scount;
		const struct lvm_node *e = stripes->child;
		for (int64_t k = 0; k < scount && rc == 0; k++) {
			if (!e || e->kind != LVM_STR || !e->next || e->next->kind != LVM_INT || e->next->num < 0) {
				buf_printf(err, "logical volume %s/%s: %s has bad stripes", vgname, lv->key, key);
				rc = -EIO;
				break;
			}
			uint64_t pe = (uint64_t)e->next->num, pe_start, pe_count;
			struct img_dev *pvd;
			rc = lvm_stripe_pv(dev, s, vgname, vg, e->str, m, &pvd, &pe_start, &pe_count, err);
			if (rc < 0)
				break;
			if (pe > pe_count || per > pe_count - pe || pe_count > (img_dev_size(pvd) / ext) ||
			    pe_start > img_dev_size(pvd) - pe_count * ext) {
				buf_printf(err, "logical volume %s/%s: %s lies outside its PV %s", vgname, lv->key, key,
					   e->str);
				rc = -EIO;
				break;
			}
			seg->stripes[k] = (struct lvm_stripe){ pvd, pe_start + pe * ext };
			e = e->next->next;
		}
		next_ext += (uint64_t)count;
	}
	if (rc < 0) {
		lvm_map_free(move_ptr(m));
		return rc;
	}
	*size = next_ext * ext;
	*out = move_ptr(m);
	return 0;
}

/* Find "VG/LV" or "VG-LV" (dashes in names doubled as dm does, or unambiguous). */
static const struct lvm_node *lvm_find_lv(const struct lvm_scan *s, const char *name, const char **vgname)
{
	for (size_t i = 0; i < s->n; i++) {
		const char *vg = s->pvs[i].vg;
		if (!vg)
			continue;
		size_t vl = strlen(vg);
		if (strncmp(name, vg, vl) != 0 || (name[vl] != '/' && name[vl] != '-'))
			continue;
		const struct lvm_node *meta = lvm_vg_meta(s, vg);
		const struct lvm_node *lvs = meta ? lvm_node_find(meta->child, "logical_volumes") : NULL;
		const struct lvm_node *lv = lvs ? lvm_node_find(lvs->child, name + vl + 1) : NULL;
		if (lv && lv->kind == LVM_SECTION) {
			*vgname = vg;
			return lv;
		}
	}
	return NULL;
}

int img_lvm_open(struct img_dev *dev, const char *name, struct img_dev **out, struct buf *err)
{
	struct lvm_scan s;
	const char *vgname;
	int rc;

	*out = NULL;
	if ((rc = lvm_scan(dev, &s, err)) < 0)
		return rc;
	const struct lvm_node *lv = lvm_find_lv(&s, name, &vgname);
	if (!lv) {
		buf_printf(err, "no logical volume %s on %s (%s)", name, img_dev_desc(dev),
			   s.n ? "see the list of volumes" : "the disk has no LVM2 physical volume");
		lvm_scan_release(&s);
		return -ENOENT;
	}
	struct lvm_map *m;
	uint64_t size;
	if ((rc = lvm_lv_map(dev, &s, vgname, lv, &m, &size, err)) == 0) {
		__do_free char *desc = xasprintf("logical volume %s/%s of %s", vgname, lv->key, img_dev_desc(dev));
		rc = img_dev_new(&lvm_map_ops, m, size, desc, out, err);
	}
	lvm_scan_release(&s);
	return rc;
}

int img_lvm_list(struct img_dev *dev, struct img_lvlist *out, struct buf *err)
{
	struct lvm_scan s;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = lvm_scan(dev, &s, err)) < 0)
		return rc;
	for (size_t i = 0; i < s.n; i++) {
		const char *vg = s.pvs[i].vg;
		bool seen = !vg;
		for (size_t k = 0; vg && k < i; k++)
			seen |= s.pvs[k].vg && strcmp(s.pvs[k].vg, vg) == 0;
		const struct lvm_node *meta = seen ? NULL : lvm_vg_meta(&s, vg);
		const struct lvm_node *lvs = meta ? lvm_node_find(meta->child, "logical_volumes") : NULL;
		if (seen || !lvs)
			continue;
		for (const struct lvm_node *lv = lvs->child; lv; lv = lv->next) {
			/* a name given twice means its first section, as img_lvm_open finds it */
			if (lv->kind != LVM_SECTION || !lvm_name_ok(lv->key) ||
			    !lvm_node_has_flag(lv->child, "status", "VISIBLE") || lvm_node_find(lvs->child, lv->key) != lv)
				continue;
			if (out->n >= 4096)
				break;
			out->lvs = xrealloc(out->lvs, (out->n + 1) * sizeof(*out->lvs));
			struct img_lv *l = &out->lvs[out->n++];
			memset(l, 0, sizeof(*l));
			snprintf(l->name, sizeof(l->name), "%s/%s", vg, lv->key);
			struct lvm_map *m;
			struct buf e = BUF_INIT;
			uint64_t size = 0;
			if (lvm_lv_map(dev, &s, vg, lv, &m, &size, &e) < 0) {
				snprintf(l->error, sizeof(l->error), "%s", e.s ? e.s : "unreadable");
			} else {
				struct img_dev *d;
				l->size = size;
				if (img_dev_new(&lvm_map_ops, m, size, l->name, &d, &e) == 0) {
					const char *t = img_fs_probe(d);
					snprintf(l->fstype, sizeof(l->fstype), "%s", t ? t : "");
					img_dev_free(d);
				}
			}
			buf_release(&e);
		}
	}
	lvm_scan_release(&s);
	return 0;
}

void img_lvlist_release(struct img_lvlist *l)
{
	free(l->lvs);
	l->lvs = NULL;
	l->n = 0;
}
