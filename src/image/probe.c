/*
 * probe.c - which filesystem (or other content) is on a device, by the
 * signatures blkid looks for: ext2/3/4 superblock magic and features, XFS,
 * btrfs, FAT, NTFS, Linux swap, LVM2 physical volumes, LUKS and ISO 9660.
 * Only a few small reads at fixed offsets; read errors mean "not this type".
 */
#include <string.h>

#include "image/image_internal.h"
#include "util/common.h"

static bool has_bytes(struct img_dev *dev, uint64_t off, const void *want, size_t len)
{
	unsigned char got[16];
	struct buf e = BUF_INIT;

	if (len > sizeof(got) || off > img_dev_size(dev) || len > img_dev_size(dev) - off)
		return false;
	int rc = img_dev_pread(dev, got, len, off, &e);
	buf_release(&e);
	return rc == 0 && memcmp(got, want, len) == 0;
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const char *probe_ext(struct img_dev *dev)
{
	unsigned char sb[1024];
	struct buf e = BUF_INIT;

	if (img_dev_size(dev) < 2048)
		return NULL;
	int rc = img_dev_pread(dev, sb, sizeof(sb), 1024, &e);
	buf_release(&e);
	if (rc < 0 || sb[56] != 0x53 || sb[57] != 0xef)
		return NULL;
	uint32_t compat = le32(sb + 92), incompat = le32(sb + 96), ro_compat = le32(sb + 100);
	if (incompat & 0x0008)	/* external journal device */
		return NULL;
	/* ext3 knows FILETYPE, RECOVER, META_BG and SPARSE_SUPER, LARGE_FILE, BTREE_DIR */
	if ((incompat & ~0x0016u) || (ro_compat & ~0x0007u))
		return "ext4";
	return (compat & 0x0004) ? "ext3" : "ext2";
}

const char *img_fs_probe(struct img_dev *dev)
{
	const char *ext = probe_ext(dev);
	if (ext)
		return ext;
	if (has_bytes(dev, 0, "XFSB", 4))
		return "xfs";
	if (has_bytes(dev, 65536 + 64, "_BHRfS_M", 8))
		return "btrfs";
	if (has_bytes(dev, 0, "LUKS\xba\xbe", 6))
		return "crypto_LUKS";
	for (uint64_t s = 0; s < 4; s++)
		if (has_bytes(dev, s * 512, "LABELONE", 8) && has_bytes(dev, s * 512 + 24, "LVM2 001", 8))
			return "LVM2_member";
	static const uint64_t pages[] = { 4096, 8192, 16384, 65536 };
	for (size_t i = 0; i < ARRAY_SIZE(pages); i++)
		if (has_bytes(dev, pages[i] - 10, "SWAPSPACE2", 10) || has_bytes(dev, pages[i] - 10, "SWAP-SPACE", 10))
			return "swap";
	if (has_bytes(dev, 3, "NTFS    ", 8))
		return "ntfs";
	if (has_bytes(dev, 510, "\x55\xaa", 2) &&
	    (has_bytes(dev, 54, "FAT12   ", 8) || has_bytes(dev, 54, "FAT16   ", 8) ||
	     has_bytes(dev, 54, "FAT     ", 8) || has_bytes(dev, 82, "FAT32   ", 8)))
		return "vfat";
	if (has_bytes(dev, 32769, "CD001", 5))
		return "iso9660";
	return NULL;
}
