/*
 * ws.c - see ws.h: the WebSocket handshake key and frames, without I/O.
 *
 * The decoder appends what arrives to one buffer and takes whole frames
 * off its front; since a frame longer than max_payload is refused from its
 * header alone, the buffer never holds more than one frame plus what one
 * read brought.
 */
#include <errno.h>
#include <string.h>
#include <openssl/evp.h>

#include "web/ws.h"
#include "util/common.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int ws_accept_key(const char *client_key, char *out, size_t len, struct buf *err)
{
	uint8_t raw[20], dec[24];
	unsigned int n = 0;
	struct buf b = BUF_INIT;

	/* 16 bytes in base64: 22 characters and "==" */
	if (!client_key || strlen(client_key) != 24 || strcmp(client_key + 22, "==") != 0 ||
	    EVP_DecodeBlock(dec, (const unsigned char *)client_key, 24) != 18 ||
	    strspn(client_key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != 22) {
		buf_printf(err, "Sec-WebSocket-Key must be the base64 of 16 bytes");
		return -EINVAL;
	}
	if (len < WS_ACCEPT_LEN + 1) {
		buf_printf(err, "no room for the WebSocket accept key");
		return -EINVAL;
	}
	buf_adds(&b, client_key);
	buf_adds(&b, ws_guid);
	if (!EVP_Digest(b.s, b.len, raw, &n, EVP_sha1(), NULL) || n != sizeof(raw)) {
		buf_release(&b);
		buf_printf(err, "cannot compute the WebSocket accept key (SHA-1)");
		return -EIO;
	}
	buf_release(&b);
	EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
	return 0;
}

int ws_frame_parse(const uint8_t *buf, size_t n, bool need_mask, uint64_t max_payload, struct ws_frame *f,
		   int *close_code)
{
	size_t pos = 2;
	uint64_t len;

	*close_code = 0;
	if (n < 2)
		return 0;
	f->fin = buf[0] & 0x80;
	f->opcode = (enum ws_opcode)(buf[0] & 0x0f);
	f->masked = buf[1] & 0x80;
	len = buf[1] & 0x7f;
	*close_code = WS_CLOSE_PROTOCOL;
	if (buf[0] & 0x70)
		return -EPROTO; /* RSV1-3: no extension was negotiated */
	switch (f->opcode) {
	case WS_OP_CONT:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!f->fin || len > 125)
			return -EPROTO;
		break;
	default:
		return -EPROTO;
	}
	if (need_mask && !f->masked)
		return -EPROTO;
	if (len == 126) {
		if (n < 4) {
			*close_code = 0;
			return 0;
		}
		len = (uint64_t)buf[2] << 8 | buf[3];
		if (len < 126)
			return -EPROTO;
		pos = 4;
	} else if (len == 127) {
		if (n < 10) {
			*close_code = 0;
			return 0;
		}
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		if (len >> 63 || len <= 0xffff)
			return -EPROTO;
		pos = 10;
	}
	if (len > max_payload) {
		*close_code = WS_CLOSE_TOO_BIG;
		return -EMSGSIZE;
	}
	if (f->masked) {
		if (n < pos + 4) {
			*close_code = 0;
			return 0;
		}
		memcpy(f->mask, buf + pos, 4);
		pos += 4;
	} else {
		memset(f->mask, 0, sizeof(f->mask));
	}
	f->len = len;
	f->header_len = pos;
	*close_code = 0;
	return 1;
}

void ws_unmask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		data[i] ^= mask[(offset + i) & 3];
}

size_t ws_frame_header(uint8_t *out, enum ws_opcode opcode, uint64_t len)
{
	out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

size_t ws_close_payload(uint8_t *out, int code, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;
	if (n > 123)
		n = 123;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)code;
	if (n)
		memcpy(out + 2, reason, n);
	return 2 + n;
}

/* One complete frame f at p: the fragmentation rules, then cb.  0, -EPROTO, -ECANCELED. */
static int frame_take(struct ws_decoder *d, const struct ws_frame *f, uint8_t *p, ws_frame_cb cb, void *opaque)
{
	enum ws_opcode op = f->opcode;

	if (op == WS_OP_CONT) {
		if (!d->in_message)
			goto proto;
		op = d->message;
		d->in_message = !f->fin;
	} else if (op == WS_OP_TEXT || op == WS_OP_BINARY) {
		if (d->in_message)
			goto proto;
		d->in_message = !f->fin;
		d->message = op;
	}
	if (f->masked)
		ws_unmask(p, (size_t)f->len, f->mask, 0);
	return cb(op, p, (size_t)f->len, f->fin, opaque) ? 0 : -ECANCELED;
proto:
	d->close_code = WS_CLOSE_PROTOCOL;
	return -EPROTO;
}

int ws_decoder_feed(struct ws_decoder *d, const uint8_t *data, size_t len, ws_frame_cb cb, void *opaque)
{
	size_t off = 0;
	int r = 0;

	if (d->close_code)
		return -EPROTO;
	buf_add(&d->pending, data, len);
	for (;;) {
		struct ws_frame f;
		uint8_t *p = (uint8_t *)d->pending.s + off;
		size_t avail = d->pending.len - off;
		int code;

		r = ws_frame_parse(p, avail, true, d->max_payload, &f, &code);
		if (r < 0) {
			d->close_code = code;
			break;
		}
		if (r == 0 || avail - f.header_len < f.len) {
			r = 0;
			break;
		}
		r = frame_take(d, &f, p + f.header_len, cb, opaque);
		off += f.header_len + (size_t)f.len;
		if (r < 0)
			break;
	}
	if (off) {
		memmove(d->pending.s, d->pending.s + off, d->pending.len - off);
		d->pending.len -= off;
		d->pending.s[d->pending.len] = '\0';
	}
	return r;
}

void ws_decoder_release(struct ws_decoder *d)
{
	buf_release(&d->pending);
	d->in_message = false;
}
