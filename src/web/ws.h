/*
 * ws.h - the WebSocket protocol (RFC 6455) as far as corrald's consoles
 * need it: the opening handshake's accept key, and a frame decoder and
 * encoder.  No I/O here: console.c reads and writes the sockets and uses
 * these on the bytes, so the parser of what a browser sends is unit-tested
 * (test_ws) and fuzzed (fuzz_ws) on its own.
 *
 * What the decoder accepts, as a server must (RFC 6455 section 5): masked
 * frames only, no reserved bits (no extension is negotiated), the opcodes
 * continuation, text, binary, close, ping and pong, control frames of at
 * most 125 bytes and never fragmented, a continuation only inside a
 * fragmented message and a new data frame only outside one, 64-bit lengths
 * with the top bit clear and in their shortest form, and a payload of at
 * most the decoder's `max_payload` per frame.  Anything else is an error
 * with the close code to send (1002 protocol error, 1009 too big).  Text
 * payloads are passed on as bytes (the console is a byte stream): their
 * UTF-8 is not checked.
 *
 * Ownership: a struct ws_decoder holds the bytes of at most one frame
 * (header + max_payload) and is released with ws_decoder_release.
 * Threading: none; one decoder per connection.
 */
#ifndef CORRAL_WEB_WS_H
#define CORRAL_WEB_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 section 7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_TOO_BIG 1009

#define WS_MAX_HEADER 14 /* 2 + 8 (length) + 4 (mask) */
#define WS_ACCEPT_LEN 28 /* base64 of a SHA-1 */

/*
 * The Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key: into out
 * (>= WS_ACCEPT_LEN + 1 bytes).  -EINVAL + a sentence unless the key is the
 * base64 of 16 bytes (24 characters ending in "==").
 */
int ws_accept_key(const char *client_key, char *out, size_t len, struct buf *err);

/* One frame's header. */
struct ws_frame {
	bool fin;
	enum ws_opcode opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t len;        /* payload bytes */
	size_t header_len;   /* bytes before the payload */
};

/*
 * Parse the frame header at buf[0..n): 1 and *f when it is complete, 0 when
 * more bytes are needed, -EPROTO (a reserved bit, an unknown opcode, a
 * control frame that is fragmented or over 125 bytes, a length not in its
 * shortest form or with the top bit set, an unmasked frame when
 * need_mask) and *close_code.  A length over max_payload is -EMSGSIZE with
 * close code 1009.
 */
int ws_frame_parse(const uint8_t *buf, size_t n, bool need_mask, uint64_t max_payload, struct ws_frame *f,
		   int *close_code);

/* XOR data[0..len) with the mask, `offset` bytes into the payload. */
void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* A server frame's header (FIN set, not masked) for a payload of len bytes into
 * out (>= WS_MAX_HEADER bytes); its length. */
size_t ws_frame_header(uint8_t *out, enum ws_opcode opcode, uint64_t len);

/* A close frame's payload: the code in network order and a reason (cut to
 * fit 125 bytes) into out (>= 125 bytes); its length. */
size_t ws_close_payload(uint8_t *out, int code, const char *reason);

/*
 * What the decoder hands on: each frame's unmasked payload, with its
 * opcode (a continuation frame reports the message's opcode, text or
 * binary).  Return false to stop decoding (ws_decoder_feed then returns
 * -ECANCELED).
 */
typedef bool (*ws_frame_cb)(enum ws_opcode opcode, const uint8_t *payload, size_t len, bool fin, void *opaque);

struct ws_decoder {
	uint64_t max_payload;
	struct buf pending;          /* bytes of an incomplete frame */
	enum ws_opcode message;      /* the opcode of the fragmented message in progress */
	bool in_message;
	int close_code;              /* after an error: the code to close with */
};

#define WS_DECODER_INIT(max) { .max_payload = (max), .pending = BUF_INIT, .message = WS_OP_CONT }

/*
 * Decode len bytes that arrived, calling cb for each complete frame (its
 * whole payload at once; incomplete ones are kept for the next call).
 * 0, -EPROTO or -EMSGSIZE (d->close_code says what to close with; decoding
 * cannot go on), or -ECANCELED when cb returned false.
 */
int ws_decoder_feed(struct ws_decoder *d, const uint8_t *data, size_t len, ws_frame_cb cb, void *opaque);
void ws_decoder_release(struct ws_decoder *d);

#endif
