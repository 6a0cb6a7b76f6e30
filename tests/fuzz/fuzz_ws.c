/*
 * fuzz_ws.c - fuzz target for what a browser sends the web console: the
 * WebSocket frames (web/ws.h), and the UI's cookie and asset-path parsers.
 *
 * Input: bytes fed to a decoder in two pieces (split at the first byte's
 * value), as a client's frames.  Checked besides "no crash, no leak, no
 * read past the input":
 *   - every payload handed on is at most max_payload bytes, and a data
 *     opcode is text or binary (continuations report their message's);
 *   - an error leaves a close code of 1002 or 1009;
 *   - the decoder never holds more than one frame plus the last piece.
 * The same bytes (up to the first NUL) are also tried as a Cookie header
 * and as a /ui/ path: a path accepted never holds "..", "//" or a '.' at a
 * segment's start.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/assets.h"
#include "web/ws.h"
#include "util/buf.h"
#include "util/common.h"

#define MAX_PAYLOAD 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_ws: %s\n", what);
	abort();
}

static bool on_frame(enum ws_opcode op, const uint8_t *p, size_t len, bool fin, void *opaque)
{
	size_t *total = opaque;
	(void)fin;
	if (len > MAX_PAYLOAD)
		die("a payload over max_payload");
	if (op == WS_OP_CONT)
		die("a continuation handed on as such");
	for (size_t i = 0; i < len; i++)
		*total += p[i] != 0; /* touch every byte */
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_decoder d = WS_DECODER_INIT(MAX_PAYLOAD);
	size_t total = 0, cut = size ? data[0] % (size + 1) : 0;
	int r = ws_decoder_feed(&d, data, cut, on_frame, &total);

	if (r == 0)
		r = ws_decoder_feed(&d, data + cut, size - cut, on_frame, &total);
	if (r < 0 && d.close_code != WS_CLOSE_PROTOCOL && d.close_code != WS_CLOSE_TOO_BIG)
		die("an error without a close code");
	if (r == 0 && d.pending.len > WS_MAX_HEADER + MAX_PAYLOAD + size)
		die("the decoder holds too much");
	ws_decoder_release(&d);

	char *s = xstrndup((const char *)data, size);
	char v[65], *file = NULL;
	const char *ct;
	struct buf err = BUF_INIT;
	if (web_cookie_get(s, WEB_COOKIE_NAME, v, sizeof(v)) && (!v[0] || strlen(v) >= sizeof(v)))
		die("a cookie value empty or too long");
	if (web_asset_file(s, "/d", "/n", &file, &ct, &err) == 0) {
		if (strstr(file, "..") || strstr(file, "//") || strstr(file, "/."))
			die("an asset path escapes");
		free(file);
	}
	(void)web_origin_same(s, "h:1", true);
	buf_release(&err);
	free(s);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_ws", argc, argv); }
#endif
