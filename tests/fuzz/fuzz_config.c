/*
 * fuzz_config.c - fuzz target for corrald.conf (src/daemon/config.c).
 *
 * The input is parsed as a configuration file on top of the defaults.
 * Checked besides "no crash, no leak":
 *   - a refusal carries one line naming the file and a line number
 *     ("fuzz.conf:N: ..." or the NUL-byte message), never an empty message;
 *   - an accepted file leaves every number inside its key's bounds, every
 *     path absolute and every text value non-empty and free of control
 *     characters;
 *   - parsing the same bytes again gives the same verdict.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "util/buf.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void check_accepted(struct corrald_config *c)
{
	size_t n;
	const struct cfg_key *k = cfg_keys(&n);

	for (size_t i = 0; i < n; i++) {
		void *f = (char *)c + k[i].offset;
		switch (k[i].type) {
		case CFG_UINT: {
			int64_t v = *(int64_t *)f;
			if (v < k[i].min || v > k[i].max)
				die("accepted a number out of bounds", k[i].name);
			break;
		}
		case CFG_BOOL: break;
		case CFG_STR: {
			const char *s = *(char **)f;
			if (s && (!*s || str_has_control(s)))
				die("accepted an empty or control-character value", k[i].name);
			break;
		}
		case CFG_PATH: {
			const char *s = *(char **)f;
			if (s && (s[0] != '/' || str_has_control(s)))
				die("accepted a path that is not absolute", k[i].name);
			break;
		}
		case CFG_PATH_LIST: {
			struct cfg_list *l = f;
			for (size_t j = 0; j < l->n; j++)
				if (l->v[j][0] != '/' || str_has_control(l->v[j]))
					die("accepted a list path that is not absolute", k[i].name);
			break;
		}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct corrald_config c;
	struct buf err = BUF_INIT, err2 = BUF_INIT;

	cfg_init(&c);
	int r = cfg_parse(&c, "fuzz.conf", (const char *)data, size, &err);
	if (r < 0) {
		if (err.len == 0 || strncmp(err.s, "fuzz.conf:", 10) != 0 || strchr(err.s, '\n'))
			die("refusal without a one-line 'fuzz.conf:LINE: ' message", err.s);
	} else {
		if (err.len)
			die("accepted with a message", err.s);
		check_accepted(&c);
	}
	cfg_release(&c);
	cfg_init(&c);
	if (cfg_parse(&c, "fuzz.conf", (const char *)data, size, &err2) != r || strcmp(err.s, err2.s) != 0)
		die("a second parse of the same bytes disagrees", err2.s);
	cfg_release(&c);
	buf_release(&err);
	buf_release(&err2);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_config", argc, argv); }
#endif
