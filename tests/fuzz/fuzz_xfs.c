/*
 * fuzz_xfs.c - fuzz target for the XFS driver (src/image/xfs.c).
 *
 * Input: the start of an XFS filesystem image.  It is served as a 32 MiB
 * device through img_dev_new(), reads past the input returning zeros (a
 * sparse image), so seeds stay small: mkfs.xfs with an external log and one
 * allocation group keeps all metadata of a small tree in the first few
 * hundred KiB.  The walk and its checks are fswalk.h's (readdir, lookup,
 * getattr, read, readlink from the root, with limits); here lookup must
 * find the inode readdir reported first under that name.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include "fswalk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input from offset 0, zeros after it. */
static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct fswalk_input *m = priv;
	size_t have = off < m->size ? m->size - (size_t)off : 0;

	if (have > len)
		have = len;
	if (have)
		memcpy(buf, m->data + off, have);
	memset((uint8_t *)buf + have, 0, len - have);
	return 0;
}

static const struct fswalk_target xfs_target = {
	.name = "fuzz_xfs", .driver = &img_xfs_driver, .type = "xfs", .dev_size = 32u << 20,
	.pread = mem_pread, .lookup_exact = true,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fswalk_run(&xfs_target, data, size);
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_xfs", argc, argv); }
#endif
