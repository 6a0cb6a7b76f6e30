/*
 * fuzz_ctdef.c - fuzz target for container definitions: bytes -> JSON ->
 * ctdef (src/core/ctdef.c), as POST /v1/containers and the store hand them.
 *
 * Checked besides "no crash, no leak": a rejection always carries a
 * message; an accepted name is a safe directory and host name (no '/', no
 * leading '.', '-'); an accepted rootfs is absolute without '..' or ':';
 * an accepted snapshot name (store only) is a safe directory name too;
 * and an accepted definition is a fixed point through the store's form
 * (to_json -> from_json as the store reads it -> to_json).
 *
 * Build with libFuzzer (clang -DFUZZING -fsanitize=fuzzer,address,...), or
 * without FUZZING as a program replaying a corpus: fuzz_ctdef DIR_OR_FILE...
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctdef.h"
#include "util/buf.h"
#include "util/jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_ctdef: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	json_t *j = json_parse_object((const char *)data, size, &err);
	if (!j) {
		buf_release(&err);
		return 0;
	}
	for (int origin = CTDEF_FROM_USER; origin <= CTDEF_FROM_STORE; origin++) {
		buf_reset(&err);
		struct ct_def *d = ctdef_from_json(j, (enum ctdef_origin)origin, &err);
		if (!d) {
			if (!err.len)
				die("rejected without a message", NULL);
			continue;
		}
		if (strchr(d->name, '/') || d->name[0] == '.' || d->name[0] == '-' || strlen(d->name) > 63)
			die("unsafe name accepted", d->name);
		for (int i = 0; i < d->nsnaps; i++)
			if (strchr(d->snaps[i].name, '/') || d->snaps[i].name[0] == '.' || !d->snaps[i].name[0])
				die("unsafe snapshot name accepted", d->snaps[i].name);
		if (d->rootfs && (d->rootfs[0] != '/' || strstr(d->rootfs, "..") || strchr(d->rootfs, ':')))
			die("unsafe rootfs accepted", d->rootfs);
		/* the store's form: what create writes (with an id range) reads back the same */
		if (!d->privileged && !d->idmap.count)
			d->idmap = (struct ct_idmap){ 100000, 100000, 65536 };
		json_t *out = ctdef_to_json(d);
		struct buf e2 = BUF_INIT;
		struct ct_def *d2 = ctdef_from_json(out, CTDEF_FROM_STORE, &e2);
		if (!d2)
			die("its own JSON is refused", e2.s);
		json_t *out2 = ctdef_to_json(d2);
		if (!json_equal(out, out2)) {
			char *a = json_dumps(out, JSON_SORT_KEYS), *b = json_dumps(out2, JSON_SORT_KEYS);
			fprintf(stderr, "%s\n%s\n", a, b);
			die("not a fixed point", NULL);
		}
		json_decref(out);
		json_decref(out2);
		ctdef_free(d2);
		ctdef_free(d);
		buf_release(&e2);
	}
	json_decref(j);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_ctdef", argc, argv); }
#endif
