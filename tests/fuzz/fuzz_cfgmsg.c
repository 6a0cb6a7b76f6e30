/*
 * fuzz_cfgmsg.c - fuzz target for a message of the replicated
 * configuration's CPG group as another host sends it (cfgmsg_decode,
 * src/cluster/cfgmsg.c): every byte is the sender's.
 *
 * Checked besides "no crash, no leak, no read past the input":
 *   - an accepted message re-encodes (type, seq, body) to exactly the input
 *     bytes: nothing in the header was ignored;
 *   - an accepted body is an object; a refusal always says why and hands
 *     back no JSON.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/cfgmsg.h"
#include "util/buf.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_cfgmsg: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT, again = BUF_INIT;
	struct cfgmsg_hdr h;
	json_t *j = NULL;
	int r = cfgmsg_decode(data, size, &h, &j, &err);
	if (r == 0) {
		if (!json_is_object(j))
			die("an accepted body is not an object");
		if (h.body_len != size - CFGMSG_HDR_LEN)
			die("the body length is not the message's");
		if (cfgmsg_encode(&again, h.type, h.seq, data + CFGMSG_HDR_LEN, h.body_len, &err) != 0 ||
		    again.len != size || memcmp(again.s, data, size) != 0)
			die("an accepted message does not re-encode to itself");
	} else if (!err.len || j) {
		die("a refusal without a reason, or with JSON");
	}
	json_decref(j);
	buf_release(&err);
	buf_release(&again);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_cfgmsg", argc, argv); }
#endif
