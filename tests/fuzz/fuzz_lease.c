/*
 * fuzz_lease.c - fuzz target for a disk lease record as read from a shared
 * pool (POOL/.corral-leases/UUID, any bytes another host or a damaged disk
 * left there: lease_decode).
 *
 * Checked besides "no crash, no read past the input": a refusal has a
 * reason; an accepted record has a known state, NUL-terminated host and
 * uuid, and what it encodes to decodes to the same record again.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/lease.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_lease: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lease_rec r;
	const char *why = NULL;
	unsigned char back[LEASE_RECORD_SIZE];
	struct lease_rec again;
	if (lease_decode(data, size, &r, &why) < 0) {
		if (!why || !*why)
			die("a refusal without a reason");
		return 0;
	}
	if (r.state != LEASE_HELD && r.state != LEASE_RELEASED)
		die("an accepted record with an unknown state");
	if (!memchr(r.host, 0, sizeof(r.host)) || !memchr(r.uuid, 0, sizeof(r.uuid)))
		die("an accepted host or uuid without its end");
	lease_encode(&r, back);
	if (lease_decode(back, sizeof(back), &again, &why) < 0)
		die("an accepted record does not decode once encoded again");
	if (again.state != r.state || again.nodeid != r.nodeid || again.incarnation != r.incarnation ||
	    again.counter != r.counter || again.wall_ms != r.wall_ms || strcmp(again.host, r.host) ||
	    strcmp(again.uuid, r.uuid))
		die("an accepted record changes when encoded again");
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_lease", argc, argv); }
#endif
