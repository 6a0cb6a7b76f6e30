/*
 * fuzz_cttree.c - fuzz target for the parser of a container backup's file
 * tree (src/backup/cttree.h, cttree_from_json), which reads the "files"
 * array of a manifest from a repository that may be shared, damaged or
 * hostile.
 *
 * The input is parsed as JSON and, if it is, as a tree (chunk size 64 KiB).
 * Checked besides "no crash, no leak": a refused tree gives a reason and
 * leaves the tree empty; an accepted one has every path passing
 * cttree_path_check, the root first, every hardlink naming a regular file,
 * and it re-serialises to JSON that parses to an equal tree.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backup/cttree.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_cttree: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	struct cttree t, t2;
	struct buf err = BUF_INIT;

	if (!j)
		return 0;
	if (cttree_from_json(j, 64u << 10, &t, &err) < 0) {
		if (!err.len || t.n != 0)
			die("a refused tree gave no reason or kept entries");
	} else {
		if (t.n == 0 || t.e[0].path[0] || t.e[0].type != CTT_DIR)
			die("an accepted tree does not start with its root");
		for (size_t i = 0; i < t.n; i++) {
			struct buf why = BUF_INIT;
			if (cttree_path_check(t.e[i].path, &why) < 0)
				die("an accepted tree holds a bad path");
			if (t.e[i].type == CTT_HARDLINK) {
				ssize_t k = cttree_find(&t, t.e[i].target);
				if (k < 0 || t.e[k].type != CTT_FILE)
					die("an accepted hardlink names no regular file");
			}
			buf_release(&why);
		}
		json_t *back = cttree_to_json(&t);
		if (cttree_from_json(back, 64u << 10, &t2, &err) < 0)
			die("a re-serialised tree is refused");
		json_t *again = cttree_to_json(&t2);
		if (!json_equal(back, again))
			die("a tree does not survive a round trip");
		json_decref(back);
		json_decref(again);
		cttree_release(&t2);
		cttree_release(&t);
	}
	json_decref(j);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"
int main(int argc, char **argv) { return fuzz_replay_main("fuzz_cttree", argc, argv); }
#endif
