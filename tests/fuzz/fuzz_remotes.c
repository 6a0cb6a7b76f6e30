/*
 * fuzz_remotes.c - fuzz target for the CLI's remotes file parser
 * (src/cli/remotes.c): a file the user may edit by hand, and whose
 * contents must never crash the CLI or leak a token into a message.
 *
 * Checked besides "no crash, no leak, no read past the input":
 *   - a refusal leaves no remotes behind and names a line;
 *   - an accepted file formats to text that parses back to the same
 *     remotes, and formatting that again gives the same text;
 *   - every accepted remote has a valid name, URL and fingerprint, and its
 *     token (if any) passes the token check; the default names a remote.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/remotes.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_remotes: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct remotes r = REMOTES_INIT, back = REMOTES_INIT;
	struct buf err = BUF_INIT, text = BUF_INIT, again = BUF_INIT;

	if (remotes_parse((const char *)data, size, &r, &err) < 0) {
		if (r.n || r.list || r.def)
			die("a refusal left remotes behind");
		if (strncmp(err.s, "line ", 5) != 0 && !strstr(err.s, "larger than"))
			die("a refusal without a line number");
		buf_release(&err);
		return 0;
	}
	for (size_t i = 0; i < r.n; i++) {
		struct buf e = BUF_INIT;
		if (remote_name_check(r.list[i].name, &e) < 0 || remote_url_check(r.list[i].url, &e) < 0 ||
		    strlen(r.list[i].fingerprint) != 95 || (r.list[i].token && remote_token_check(r.list[i].token, &e) < 0))
			die("accepted a malformed remote");
		buf_release(&e);
	}
	if (r.def && !remotes_find(&r, r.def))
		die("the default names no remote");
	remotes_format(&r, &text);
	if (remotes_parse(text.s, text.len, &back, &err) < 0)
		die("formatted text does not parse");
	remotes_format(&back, &again);
	if (strcmp(text.s, again.s) != 0 || back.n != r.n)
		die("formatting does not round-trip");
	remotes_release(&r);
	remotes_release(&back);
	buf_release(&err);
	buf_release(&text);
	buf_release(&again);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_remotes", argc, argv); }
#endif
