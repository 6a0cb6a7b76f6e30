/*
 * fuzz_resync.c - fuzz target for what the replica host answers in the
 * compare pass of a replication onto a stale copy: a page of chunk hashes
 * (POST /v1/replicas/{vm}/hashes, service/resync.h), parsed by
 * resync_hashes_parse on the VM's host, which trusts nothing in it.
 *
 * Input: one byte choosing what was asked (which page of which disk size),
 * then the answer's bytes (JSON).  Checked besides "no crash, no leak, no
 * read past the input":
 *   - an accepted list holds exactly the chunks asked for (cut at the disk's
 *     end), and printed again it parses to the same digests;
 *   - a refusal is -EPROTO with a sentence and leaves nothing allocated.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/resync.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_resync: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint32_t chunk = RESYNC_CHUNK;
	/* low bits: the disk's size in chunks (+ a short tail), high bits: the page */
	uint64_t disk = (uint64_t)((data[0] & 7) + 1) * chunk + ((data[0] & 8) ? 4096 : 0);
	uint64_t offset = (uint64_t)((data[0] >> 4) & 3) * chunk;
	size_t n = (size_t)((data[0] >> 6) + 1);
	if (offset >= disk)
		offset = 0;
	json_t *j = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
	struct resync_hashes hs;
	struct buf err = BUF_INIT;
	int r = resync_hashes_parse(j, "web-d0", disk, chunk, offset, n, &hs, &err);
	if (r == 0) {
		size_t left = (size_t)((disk - offset + chunk - 1) / chunk);
		if (hs.n != (left < n ? left : n) || hs.offset != offset || hs.size != disk || hs.chunk != chunk)
			die("accepted a list that is not the page asked for");
		json_t *again = resync_hashes_json(&hs, "web-d0");
		struct resync_hashes hs2;
		if (resync_hashes_parse(again, "web-d0", disk, chunk, offset, n, &hs2, &err) != 0 || hs2.n != hs.n)
			die("a printed list does not parse again");
		for (size_t i = 0; i < hs.n; i++)
			if (hs.zero[i] != hs2.zero[i] || (!hs.zero[i] && memcmp(hs.digest[i], hs2.digest[i], RESYNC_HASH_LEN)))
				die("a printed list parses to other hashes");
		resync_hashes_release(&hs2);
		json_decref(again);
		resync_hashes_release(&hs);
	} else if (r != -EPROTO || !err.len || hs.digest || hs.zero) {
		die("a refusal without -EPROTO and a sentence, or with something left allocated");
	}
	json_decref(j);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_resync", argc, argv); }
#endif
