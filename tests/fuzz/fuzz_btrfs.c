/*
 * fuzz_btrfs.c - fuzz target for the btrfs driver (src/image/btrfs.c).
 *
 * Input: a sparse btrfs image as records (offset le64, length le32, bytes),
 * served as a 256 MiB device whose other bytes read as zeros, so a seed is
 * only the superblock and the tree nodes (tests/fuzz/corpus/btrfs: mkfs.btrfs
 * -n 4096 --rootdir of a small tree).  The walk and its checks are
 * fswalk.h's (readdir, lookup, getattr, read, readlink from the root, with
 * limits); lookup is not held to what readdir listed: btrfs keeps names
 * twice, by hash (lookup) and by index (readdir), so a damaged image may make
 * them disagree, and only the error contract holds.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include "fswalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rd_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The input as records: offset (le64), length (le32), bytes; zeros elsewhere. */
static int rec_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct fswalk_input *m = priv;
	size_t pos = 0;

	memset(buf, 0, len);
	while (m->size - pos >= 12) {
		uint64_t roff = rd_le(m->data + pos, 8);
		size_t rlen = (size_t)rd_le(m->data + pos + 8, 4);
		pos += 12;
		if (rlen > m->size - pos)
			rlen = m->size - pos;
		/* the overlap of [roff, roff+rlen) and [off, off+len) */
		if (roff < off + len && off < roff + rlen && roff + rlen > roff) {
			uint64_t a = roff > off ? roff : off;
			uint64_t b = roff + rlen < off + len ? roff + rlen : off + len;
			memcpy((uint8_t *)buf + (a - off), m->data + pos + (a - roff), (size_t)(b - a));
		}
		pos += rlen;
	}
	return 0;
}

static const struct fswalk_target btrfs_target = {
	.name = "fuzz_btrfs", .driver = &img_btrfs_driver, .type = "btrfs", .dev_size = 256u << 20,
	.pread = rec_pread, .lookup_exact = false,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fswalk_run(&btrfs_target, data, size);
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_btrfs", argc, argv); }
#endif
