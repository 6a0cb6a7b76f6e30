/*
 * fuzz_alarm.c - fuzz target for the alarm expression parser
 * (src/metrics/alarm_expr.c): the text of `corral alarm add --when` and of
 * the API's "when", straight from users.
 *
 * Input: bytes up to the first NUL, as an expression.  Checked besides "no
 * crash, no leak":
 *   - a refusal says where ("at column N" within the input, or the length
 *     rule) and is one line;
 *   - an accepted expression prints a canonical text that parses again to
 *     the same rule, and prints the same text again (a fixed point).
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/alarm.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_alarm: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct alarm_expr e, e2;
	struct buf err = BUF_INIT;
	memcpy(text, data, size);
	text[size] = '\0';

	if (alarm_expr_parse(text, &e, &err) < 0) {
		if (!err.s || strchr(err.s, '\n'))
			die("a refusal without a message, or of more than one line");
		const char *col = strstr(err.s, "at column ");
		if (col) {
			long c = strtol(col + 10, NULL, 10);
			if (c < 1 || (size_t)c > strlen(text) + 1)
				die("a column outside the input");
		} else if (!strstr(err.s, "characters")) {
			die("a refusal that does not say where");
		}
	} else {
		char *f = alarm_expr_format(&e);
		struct buf err2 = BUF_INIT;
		if (alarm_expr_parse(f, &e2, &err2) < 0)
			die("the canonical text does not parse");
		char *f2 = alarm_expr_format(&e2);
		if (strcmp(f, f2) != 0 || e.kind != e2.kind || e.for_s != e2.for_s || e.scope != e2.scope)
			die("the canonical text is not a fixed point");
		free(f);
		free(f2);
		buf_release(&err2);
	}
	buf_release(&err);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_alarm", argc, argv); }
#endif
