/*
 * fuzz_chunkfile.c - fuzz target for the decoder of stored chunk files and
 * encrypted manifests (src/backup/chunkfile.h), which reads whatever a
 * shared or damaged repository holds.
 *
 * The input is decoded as a chunk and as a manifest, unsealed and sealed
 * (a fixed key; real inputs rarely pass authentication, so the seeds include
 * files made with that key).  Checked besides "no crash, no leak": a failure
 * appends nothing and gives a reason; a success yields exactly the length
 * the header claims, never more than the limit; and whatever decodes
 * re-encodes and decodes to the same bytes.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/chunkfile.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t fuzz_key[32] = "corral-fuzz-key-0123456789abcdef";
static const uint8_t fuzz_id[32] = "corral-fuzz-chunk-id-0123456789";

static void die(const char *what)
{
	fprintf(stderr, "fuzz_chunkfile: %s\n", what);
	abort();
}

static void one(enum chunkfile_kind kind, const uint8_t *data, size_t size, const uint8_t *key)
{
	struct buf out = BUF_INIT, again = BUF_INIT, enc = BUF_INIT;
	const char *why = NULL;
	size_t max = 1u << 20;
	int rc;

	buf_add(&out, "x", 1);
	rc = chunkfile_decode(kind, data, size, max, key, fuzz_id, sizeof(fuzz_id), &out, &why);
	if (rc < 0) {
		if (out.len != 1 || !why || !*why)
			die("a failed decode appended data or gave no reason");
	} else {
		uint32_t claimed = (uint32_t)data[8] | (uint32_t)data[9] << 8 | (uint32_t)data[10] << 16 |
				   (uint32_t)data[11] << 24;
		if (out.len - 1 != claimed || claimed > max)
			die("decoded length differs from the header");
		if (chunkfile_encode(kind, out.s + 1, out.len - 1, 1, key, fuzz_id, sizeof(fuzz_id), &enc) < 0)
			die("re-encoding failed");
		if (chunkfile_decode(kind, (const uint8_t *)enc.s, enc.len, max, key, fuzz_id, sizeof(fuzz_id), &again,
				     &why) < 0 ||
		    again.len != out.len - 1 || memcmp(again.s, out.s + 1, again.len) != 0)
			die("round trip changed the data");
	}
	buf_release(&out);
	buf_release(&again);
	buf_release(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(CHUNKFILE_CHUNK, data, size, NULL);
	one(CHUNKFILE_CHUNK, data, size, fuzz_key);
	one(CHUNKFILE_MANIFEST, data, size, NULL);
	one(CHUNKFILE_MANIFEST, data, size, fuzz_key);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_chunkfile", argc, argv); }
#endif
