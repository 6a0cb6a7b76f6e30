/*
 * test_web.c - the web UI's protocol pieces: the WebSocket accept key
 * (RFC 6455's own example), frame headers and the decoder (masking,
 * fragmentation, control frames, every refusal a server must make, frames
 * split across reads), UI paths to files (nothing outside the UI can be
 * named), the session cookie and Origin checks, and the session table
 * (expiry, logout, users dropped, the table's bound, the CSRF compare).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "auth/auth.h"
#include "web/assets.h"
#include "web/ws.h"
#include "util/buf.h"
#include "util/common.h"

static void test_accept_key(void **state)
{
	(void)state;
	char out[WS_ACCEPT_LEN + 1];
	struct buf err = BUF_INIT;
	/* RFC 6455 section 1.3 */
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, sizeof(out), &err), 0);
	assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	assert_int_equal(ws_accept_key("short==", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=x", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBs*SBub25jZQ==", out, sizeof(out), &err), -EINVAL);
	assert_int_equal(ws_accept_key(NULL, out, sizeof(out), &err), -EINVAL);
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out, 10, &err), -EINVAL);
	buf_release(&err);
}

/* A masked client frame of payload p into out; its length. */
static size_t client_frame(uint8_t *out, int fin_op, const char *p, size_t len)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	size_t h = ws_frame_header(out, (enum ws_opcode)(fin_op & 0x0f), len);
	out[0] = (uint8_t)fin_op;
	out[1] |= 0x80;
	memcpy(out + h, mask, 4);
	memcpy(out + h + 4, p, len);
	ws_unmask(out + h + 4, len, mask, 0);
	return h + 4 + len;
}

struct got {
	struct buf data;
	int ops[16];
	int n;
	bool stop_on_close;
};

static bool on_frame(enum ws_opcode op, const uint8_t *p, size_t len, bool fin, void *opaque)
{
	struct got *g = opaque;
	(void)fin;
	if (g->n < 16)
		g->ops[g->n++] = op;
	buf_add(&g->data, p, len);
	return !(g->stop_on_close && op == WS_OP_CLOSE);
}

static void test_frame_header(void **state)
{
	(void)state;
	uint8_t h[WS_MAX_HEADER];
	struct ws_frame f;
	int code;
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 5), 2);
	assert_int_equal(h[0], 0x82);
	assert_int_equal(h[1], 5);
	assert_int_equal(ws_frame_header(h, WS_OP_TEXT, 300), 4);
	assert_int_equal(h[1], 126);
	assert_int_equal(h[2] << 8 | h[3], 300);
	assert_int_equal(ws_frame_header(h, WS_OP_BINARY, 70000), 10);
	assert_int_equal(h[1], 127);
	/* the server's own frames parse back (unmasked allowed when need_mask is false) */
	assert_int_equal(ws_frame_parse(h, 10, false, UINT64_MAX, &f, &code), 1);
	assert_int_equal(f.len, 70000);
	assert_int_equal(f.header_len, 10);
	/* need_mask: an unmasked frame is refused */
	assert_int_equal(ws_frame_parse(h, 10, true, UINT64_MAX, &f, &code), -EPROTO);
	assert_int_equal(code, WS_CLOSE_PROTOCOL);
	/* incomplete headers ask for more */
	assert_int_equal(ws_frame_parse(h, 1, false, UINT64_MAX, &f, &code), 0);
	assert_int_equal(ws_frame_parse(h, 5, false, UINT64_MAX, &f, &code), 0);
	/* a length not in its shortest form */
	uint8_t bad[] = { 0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(bad, sizeof(bad), true, UINT64_MAX, &f, &code), -EPROTO);
	uint8_t top[] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(top, sizeof(top), true, UINT64_MAX, &f, &code), -EPROTO);
	/* too big for the decoder: 1009 */
	uint8_t big[] = { 0x82, 0xfe, 0xff, 0xff, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(big, sizeof(big), true, 65535, &f, &code), 1);
	assert_int_equal(ws_frame_parse(big, sizeof(big), true, 1000, &f, &code), -EMSGSIZE);
	assert_int_equal(code, WS_CLOSE_TOO_BIG);
	/* reserved bits, unknown opcodes, long or fragmented control frames */
	uint8_t rsv[] = { 0xc2, 0x80, 1, 2, 3, 4 };
	uint8_t op3[] = { 0x83, 0x80, 1, 2, 3, 4 };
	uint8_t ping_long[] = { 0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4 };
	uint8_t ping_frag[] = { 0x09, 0x80, 1, 2, 3, 4 };
	assert_int_equal(ws_frame_parse(rsv, sizeof(rsv), true, 100, &f, &code), -EPROTO);
	assert_int_equal(ws_frame_parse(op3, sizeof(op3), true, 100, &f, &code), -EPROTO);
	assert_int_equal(ws_frame_parse(ping_long, sizeof(ping_long), true, 1000, &f, &code), -EPROTO);
	assert_int_equal(ws_frame_parse(ping_frag, sizeof(ping_frag), true, 100, &f, &code), -EPROTO);
}

static void test_decoder(void **state)
{
	(void)state;
	uint8_t wire[512];
	size_t n = 0;
	struct ws_decoder d = WS_DECODER_INIT(1024);
	struct got g = { .data = BUF_INIT };

	n += client_frame(wire + n, 0x01, "ec", 2);     /* text, not final */
	n += client_frame(wire + n, 0x89, "pi", 2);     /* a ping between fragments */
	n += client_frame(wire + n, 0x80, "ho\n", 3);   /* the final continuation */
	n += client_frame(wire + n, 0x82, "\x03", 1);   /* binary */
	/* fed one byte at a time: frames split across reads */
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ws_decoder_feed(&d, wire + i, 1, on_frame, &g), 0);
	assert_int_equal(g.n, 4);
	assert_int_equal(g.ops[0], WS_OP_TEXT);
	assert_int_equal(g.ops[1], WS_OP_PING);
	assert_int_equal(g.ops[2], WS_OP_TEXT); /* a continuation reports its message's opcode */
	assert_int_equal(g.ops[3], WS_OP_BINARY);
	assert_int_equal(g.data.len, 8);
	assert_memory_equal(g.data.s, "ecpiho\n\x03", 8);
	assert_int_equal(d.pending.len, 0);

	/* a callback that stops: -ECANCELED */
	g.stop_on_close = true;
	n = client_frame(wire, 0x88, "\x03\xe8", 2);
	assert_int_equal(ws_decoder_feed(&d, wire, n, on_frame, &g), -ECANCELED);
	ws_decoder_release(&d);
	buf_release(&g.data);
}

static void test_decoder_refusals(void **state)
{
	(void)state;
	uint8_t wire[256];
	size_t n;
	struct got g = { .data = BUF_INIT };
	struct ws_decoder d = WS_DECODER_INIT(16);

	/* a continuation outside a message */
	n = client_frame(wire, 0x80, "x", 1);
	assert_int_equal(ws_decoder_feed(&d, wire, n, on_frame, &g), -EPROTO);
	assert_int_equal(d.close_code, WS_CLOSE_PROTOCOL);
	/* once failed, it stays failed */
	assert_int_equal(ws_decoder_feed(&d, wire, 0, on_frame, &g), -EPROTO);
	ws_decoder_release(&d);

	/* a new data frame inside a fragmented message */
	struct ws_decoder d2 = WS_DECODER_INIT(16);
	n = client_frame(wire, 0x01, "a", 1);
	n += client_frame(wire + n, 0x82, "b", 1);
	assert_int_equal(ws_decoder_feed(&d2, wire, n, on_frame, &g), -EPROTO);
	ws_decoder_release(&d2);

	/* over max_payload: 1009, refused from the header alone */
	struct ws_decoder d3 = WS_DECODER_INIT(16);
	uint8_t head[] = { 0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0 };
	assert_int_equal(ws_decoder_feed(&d3, head, sizeof(head), on_frame, &g), -EMSGSIZE);
	assert_int_equal(d3.close_code, WS_CLOSE_TOO_BIG);
	ws_decoder_release(&d3);

	/* unmasked */
	struct ws_decoder d4 = WS_DECODER_INIT(16);
	uint8_t plain[] = { 0x82, 0x01, 'x' };
	assert_int_equal(ws_decoder_feed(&d4, plain, sizeof(plain), on_frame, &g), -EPROTO);
	ws_decoder_release(&d4);
	buf_release(&g.data);

	uint8_t p[125];
	size_t len = ws_close_payload(p, 1000, "bye");
	assert_int_equal(len, 5);
	assert_int_equal(p[0] << 8 | p[1], 1000);
	char reason[300];
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	assert_int_equal(ws_close_payload(p, 1001, reason), 125);
}

static void test_assets(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	char *file = NULL;
	const char *ct = NULL;

	assert_int_equal(web_asset_file("/ui/", "/d", NULL, &file, &ct, &err), 0);
	assert_string_equal(file, "/d/index.html");
	assert_string_equal(ct, "text/html; charset=utf-8");
	free(file);
	assert_int_equal(web_asset_file("/ui/vendor/xterm/xterm.js", "/d", NULL, &file, &ct, &err), 0);
	assert_string_equal(file, "/d/vendor/xterm/xterm.js");
	assert_string_equal(ct, "text/javascript; charset=utf-8");
	free(file);
	assert_int_equal(web_asset_file("/ui/novnc/core/rfb.js", "/d", "/usr/share/novnc", &file, &ct, &err), 0);
	assert_string_equal(file, "/usr/share/novnc/core/rfb.js");
	free(file);
	static const char *const refused[] = {
		"/ui/novnc/core/rfb.js", /* without noVNC */
		"/ui/../etc/passwd", "/ui/a/../../x.js", "/ui/.hidden.js", "/ui/a/.x/b.js", "/ui/a//b.js", "/ui/a/",
		"/ui/secret.key", "/ui/noext", "/ui/a.js/", "/ui/a%2e%2e/b.js", "/ui/a b.js", "/v1/x.js", "/uix.js",
		"/ui/1/2/3/4/5/6/7/8/9.js",
	};
	for (size_t i = 0; i < ARRAY_SIZE(refused); i++) {
		file = (char *)"unchanged";
		assert_int_equal(web_asset_file(refused[i], "/d", NULL, &file, &ct, &err), -ENOENT);
		assert_null(file);
	}
	buf_release(&err);
}

static void test_cookie_origin(void **state)
{
	(void)state;
	char v[65];
	assert_true(web_cookie_get("a=1; corral_session=abc; b=2", "corral_session", v, sizeof(v)));
	assert_string_equal(v, "abc");
	assert_true(web_cookie_get("corral_session=xyz", "corral_session", v, sizeof(v)));
	assert_string_equal(v, "xyz");
	assert_false(web_cookie_get("xcorral_session=1", "corral_session", v, sizeof(v)));
	assert_false(web_cookie_get("corral_session=", "corral_session", v, sizeof(v)));
	assert_false(web_cookie_get(NULL, "corral_session", v, sizeof(v)));
	assert_false(web_cookie_get("corral_session=0123456789", "corral_session", v, 5));

	assert_true(web_origin_same("https://h.example:8443", "h.example:8443", true));
	assert_true(web_origin_same("https://H.example:8443", "h.EXAMPLE:8443", true));
	assert_false(web_origin_same("http://h.example:8443", "h.example:8443", true));
	assert_false(web_origin_same("https://evil.example", "h.example:8443", true));
	assert_false(web_origin_same("https://h.example:8443.evil", "h.example:8443", true));
	assert_false(web_origin_same("null", "h", true));
	assert_false(web_origin_same(NULL, "h", true));
	assert_false(web_origin_same("https://h", NULL, true));
	assert_true(web_origin_same("http://localhost", "localhost", false));
}

static void test_sessions(void **state)
{
	(void)state;
	struct auth_sessions *t = auth_sessions_new(2, 1000, 5000);
	char id1[65], id2[65], id3[65], csrf[65], got[65], user[65];
	struct buf err = BUF_INIT;

	assert_int_equal(auth_session_create(t, "alice", 0, id1, csrf, &err), 0);
	assert_int_equal(strlen(id1), 64);
	assert_int_equal(strlen(csrf), 64);
	assert_string_not_equal(id1, csrf);
	assert_int_equal(auth_session_get(t, id1, 500, user, sizeof(user), got, sizeof(got)), 0);
	assert_string_equal(user, "alice");
	assert_string_equal(got, csrf);
	assert_true(auth_csrf_equal(csrf, got));
	assert_false(auth_csrf_equal(csrf, ""));
	assert_false(auth_csrf_equal(csrf, NULL));
	got[0] = got[0] == 'a' ? 'b' : 'a';
	assert_false(auth_csrf_equal(csrf, got));
	/* use keeps it alive past the idle time, not past the absolute one */
	assert_int_equal(auth_session_get(t, id1, 1400, user, sizeof(user), NULL, 0), 0);
	assert_int_equal(auth_session_get(t, id1, 2300, user, sizeof(user), NULL, 0), 0);
	assert_int_equal(auth_session_get(t, id1, 3200, user, sizeof(user), NULL, 0), 0);
	assert_int_equal(auth_session_get(t, id1, 4100, user, sizeof(user), NULL, 0), 0);
	assert_int_equal(auth_session_get(t, id1, 5000, user, sizeof(user), NULL, 0), -ENOENT);
	/* idle */
	assert_int_equal(auth_session_create(t, "bob", 6000, id2, csrf, &err), 0);
	assert_int_equal(auth_session_get(t, id2, 7000, user, sizeof(user), NULL, 0), -ENOENT);
	/* malformed or unknown ids */
	assert_int_equal(auth_session_get(t, "nope", 7000, user, sizeof(user), NULL, 0), -ENOENT);
	assert_int_equal(auth_session_get(t, NULL, 7000, user, sizeof(user), NULL, 0), -ENOENT);
	/* bounded: a third login ends the least recently used */
	assert_int_equal(auth_session_create(t, "a", 8000, id1, csrf, &err), 0);
	assert_int_equal(auth_session_create(t, "b", 8100, id2, csrf, &err), 0);
	assert_int_equal(auth_session_get(t, id1, 8200, user, sizeof(user), NULL, 0), 0);
	assert_int_equal(auth_session_create(t, "c", 8300, id3, csrf, &err), 0);
	assert_int_equal(auth_session_get(t, id2, 8400, user, sizeof(user), NULL, 0), -ENOENT);
	assert_int_equal(auth_session_get(t, id1, 8400, user, sizeof(user), NULL, 0), 0);
	/* logout, and users dropped */
	assert_true(auth_session_delete(t, id1));
	assert_false(auth_session_delete(t, id1));
	assert_int_equal(auth_session_get(t, id1, 8500, user, sizeof(user), NULL, 0), -ENOENT);
	assert_int_equal(auth_sessions_drop_user(t, "c"), 1);
	assert_int_equal(auth_session_get(t, id3, 8500, user, sizeof(user), NULL, 0), -ENOENT);
	auth_sessions_free(t);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),     cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_decoder),        cmocka_unit_test(test_decoder_refusals),
		cmocka_unit_test(test_assets),         cmocka_unit_test(test_cookie_origin),
		cmocka_unit_test(test_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
