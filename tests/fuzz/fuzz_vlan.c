/*
 * fuzz_vlan.c - fuzz target for a NIC's `vlan=` setting (src/net/vlan.c),
 * text users type on the command line and send through the API.
 *
 * Input: the setting (bytes up to the first NUL).  Checked besides "no
 * crash, no leak":
 *   - a rejection carries a message and leaves an empty spec behind;
 *   - an accepted spec has VIDs in 1..4094, sorted and unique, a native VLAN
 *     that is not also tagged, and at least one VLAN;
 *   - its plan has at most one pvid entry and every VID of the spec once.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/vlan.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *input)
{
	fprintf(stderr, "fuzz_vlan: %s (input \"%s\")\n", what, input);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct vlan_spec spec = VLAN_SPEC_INIT;
	struct buf err = BUF_INIT;
	struct vlan_entry *e = NULL;
	size_t n = 0, pvids = 0, adds = 0;

	if (vlan_spec_parse(s, &spec, &err) < 0) {
		if (!err.len)
			die("rejected without a message", s);
		if (spec.vids || spec.nvids)
			die("a rejection left VIDs behind", s);
		goto out;
	}
	if (!spec.trunk && (spec.pvid < 1 || spec.pvid > 4094 || spec.nvids))
		die("bad access VLAN", s);
	if (spec.trunk && !spec.pvid && !spec.nvids)
		die("a trunk without VLANs", s);
	for (size_t i = 0; i < spec.nvids; i++) {
		if (spec.vids[i] < 1 || spec.vids[i] > 4094 || (i && spec.vids[i] <= spec.vids[i - 1]))
			die("VIDs out of range or order", s);
		if (spec.vids[i] == spec.pvid)
			die("native VLAN also tagged", s);
	}
	if (vlan_plan(&spec, &e, &n, &err) < 0)
		die("an accepted spec has no plan", s);
	for (size_t i = 0; i < n; i++) {
		pvids += e[i].pvid;
		adds += !e[i].del;
	}
	if (pvids > 1 || adds != spec.nvids + (spec.pvid ? 1 : 0))
		die("plan does not match the spec", s);
out:
	free(e);
	vlan_spec_release(&spec);
	buf_release(&err);
	free(s);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_vlan", argc, argv); }
#endif
