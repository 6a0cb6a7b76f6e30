/*
 * fuzz_lvm.c - fuzz target for LVM2 metadata and logical volume mapping
 * (src/image/lvm_meta.c, src/image/lvm.c).
 *
 * Input: the text metadata of a volume group.  It is parsed alone
 * (lvm_meta_parse), then served inside a synthetic 34 MiB disk with an MBR
 * and two 16 MiB LVM partitions at 1 and 17 MiB, each a PV: a label in
 * sector 1, a PV header whose UUID is FUZZPV-UUID-FUZZ-PVUU-IDFU-ZZPV-UUID0N
 * (N = 1, 2: the seeds' pv0 and pv1), one metadata area at 4 KiB whose first
 * raw location holds the input (the second PV's copy only when the input's
 * last byte is even; else it has a label but no usable metadata).  The target lists the
 * logical volumes (img_lvm_list), opens each readable one as a device
 * (img_lvm_open) and reads its first, middle and last 4 KiB, then lets
 * img_fs_open_volume probe it.  Checked besides "no crash, no leak, no hang":
 * failures carry a message, an LV listed readable opens, and its size is a
 * whole number of 512-byte sectors.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"
#include "util/buf.h"

#define DISK_SIZE (34u << 20)
#define PV_SIZE (16u << 20)
#define PV1_OFF (1u << 20)
#define PV2_OFF (17u << 20)
#define MDA_OFF 4096u
#define MDA_SIZE ((1u << 20) - MDA_OFF)
#define TEXT_OFF (MDA_OFF + 512u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct disk {
	uint8_t mbr[512];
	uint8_t head[2][TEXT_OFF];	/* per PV: label sector, PV header, metadata area header */
	const uint8_t *text;
	size_t len;
};

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_lvm: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int disk_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct disk *d = priv;

	memset(buf, 0, len);
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;
		if (o < 512) {
			((uint8_t *)buf)[i] = d->mbr[o];
			continue;
		}
		int pv = o >= PV2_OFF ? 1 : o >= PV1_OFF ? 0 : -1;
		if (pv < 0)
			continue;
		uint64_t r = o - (pv ? PV2_OFF : PV1_OFF);
		if (r < TEXT_OFF)
			((uint8_t *)buf)[i] = d->head[pv][r];
		else if (r - TEXT_OFF < d->len)
			((uint8_t *)buf)[i] = d->text[r - TEXT_OFF];
	}
	return 0;
}

static const struct img_dev_ops disk_ops = { .pread = disk_pread, .close = free };

static void pv_build(uint8_t *h, char n, size_t len)
{
	uint8_t *l = h + 512;

	memset(h, 0, TEXT_OFF);
	memcpy(l, "LABELONE", 8);
	put64(l + 8, 1);
	put32(l + 20, 32);
	memcpy(l + 24, "LVM2 001", 8);
	memcpy(l + 32, "FUZZPVUUIDFUZZPVUUIDFUZZPVUUID0", 31);
	l[63] = (uint8_t)n;
	put64(l + 64, PV_SIZE);
	put64(l + 72, 1u << 20);	/* data area, then the end of the list */
	put64(l + 104, MDA_OFF);	/* metadata area */
	put64(l + 112, MDA_SIZE);
	uint8_t *m = h + MDA_OFF;
	memcpy(m + 4, " LVM2 x[5A%r0N*>", 16);
	put32(m + 20, 1);
	put64(m + 24, MDA_OFF);
	put64(m + 32, MDA_SIZE);
	put64(m + 40, 512);
	put64(m + 48, len);
}

static void disk_build(struct disk *d, const uint8_t *text, size_t len)
{
	memset(d->mbr, 0, sizeof(d->mbr));
	for (int i = 0; i < 2; i++) {
		uint8_t *e = d->mbr + 446 + 16 * i;
		e[4] = 0x8e;
		put32(e + 8, (i ? PV2_OFF : PV1_OFF) / 512);
		put32(e + 12, PV_SIZE / 512);
	}
	d->mbr[510] = 0x55;
	d->mbr[511] = 0xaa;
	pv_build(d->head[0], '1', len);
	pv_build(d->head[1], '2', len && text[len - 1] % 2 == 0 ? len : 0);
	d->text = text;
	d->len = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct lvm_node *n = NULL;

	int rc = lvm_meta_parse((const char *)data, size, &n, &err);
	if (rc < 0 && (!err.len || n))
		die("lvm_meta_parse", "failed without a message, or left a tree");
	lvm_node_free(n);
	buf_reset(&err);
	if (size > MDA_SIZE - 512) {
		buf_release(&err);
		return 0;
	}

	struct disk *d = calloc(1, sizeof(*d));
	struct img_dev *dev;
	struct img_lvlist lvl;
	if (!d)
		abort();
	disk_build(d, data, size);
	if (img_dev_new(&disk_ops, d, DISK_SIZE, "fuzz", &dev, &err) != 0)
		die("img_dev_new", err.s);
	rc = img_lvm_list(dev, &lvl, &err);
	if (rc < 0 && !err.len)
		die("img_lvm_list", "failed without a message");
	for (size_t i = 0; rc == 0 && i < lvl.n; i++) {
		const struct img_lv *lv = &lvl.lvs[i];
		struct img_dev *ld;
		struct img_fs *fs;
		uint8_t buf[4096];
		buf_reset(&err);
		if (lv->error[0])
			continue;
		if (lv->size % 512)
			die("img_lvm_list", "size is not whole sectors");
		if (img_lvm_open(dev, lv->name, &ld, &err) != 0)
			die("img_lvm_open", err.s ? err.s : "a readable LV does not open");
		uint64_t sz = img_dev_size(ld), offs[3] = { 0, sz / 2 / 512 * 512, sz > sizeof(buf) ? sz - sizeof(buf) : 0 };
		for (int k = 0; k < 3; k++) {
			size_t want = sz - offs[k] < sizeof(buf) ? (size_t)(sz - offs[k]) : sizeof(buf);
			buf_reset(&err);
			if (img_dev_pread(ld, buf, want, offs[k], &err) < 0 && !err.len)
				die("pread", "failed without a message");
		}
		img_dev_free(ld);
		buf_reset(&err);
		if (img_fs_open_volume(dev, lv->name, &fs, &err) == 0)
			img_fs_free(fs);
		else if (!err.len)
			die("img_fs_open_volume", "failed without a message");
	}
	if (rc == 0)
		img_lvlist_release(&lvl);
	img_dev_free(dev);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_lvm", argc, argv); }
#endif
