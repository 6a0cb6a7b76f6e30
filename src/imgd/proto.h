/*
 * proto.h - the wire protocol between corrald and corral-imgd, the
 * sandboxed helper that parses guest-controlled image bytes (docs/image.md,
 * "The image helper").
 *
 * One stream socket (a socketpair; the helper finds its end as fd 3) carries
 * frames in both directions.  A frame is a 16-byte header, a JSON object
 * and an optional binary payload:
 *
 *     bytes 0..3    magic "CIMG"
 *     bytes 4..5    protocol version, big endian (IMGD_PROTO_VERSION)
 *     bytes 6..7    number of file descriptors sent with the frame (SCM_RIGHTS
 *                   on the header's first byte), 0..IMGD_MAX_FDS
 *     bytes 8..11   JSON length, 2..IMGD_MAX_JSON
 *     bytes 12..15  payload length, 0..IMGD_MAX_DATA
 *
 * The JSON is an object with a string "op" naming the message.  A frame
 * that breaks any of these rules (bad magic or version, a length out of
 * range, fewer or more fds than announced, JSON that is not such an object)
 * is a protocol error: the receiver stops talking to the peer.  Once
 * released, a message's meaning never changes; a new meaning is a new op or
 * a new version.  The messages themselves are listed in docs/image.md.
 *
 * Threading: none; a socket is used by one thread at a time.  Errors: 0 or
 * -errno with one sentence appended to err: -EPIPE the peer closed the
 * socket (between frames: *m is then empty; inside one: a protocol error),
 * -ETIMEDOUT the deadline passed, -EPROTO a malformed frame, -EMSGSIZE a
 * frame out of bounds, other -errno from the socket.
 */
#ifndef CORRAL_IMGD_PROTO_H
#define CORRAL_IMGD_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define IMGD_PROTO_VERSION 1
#define IMGD_HDR_SIZE 16
#define IMGD_MAX_FDS 20
#define IMGD_MAX_JSON (64u << 20)
#define IMGD_MAX_DATA (1u << 20)
/* The helper's end of the socketpair, in the helper. */
#define IMGD_SOCK_FD 3
/* Files of one image: the image and up to 16 backing files (image.h). */
#define IMGD_MAX_CHAIN 17

struct imgd_hdr {
	uint16_t version;
	uint16_t nfds;
	uint32_t json_len;
	uint32_t data_len;
};

/* The header's 16 bytes (magic included). */
void imgd_hdr_encode(const struct imgd_hdr *h, uint8_t out[IMGD_HDR_SIZE]);
/* Check and decode a header: -EPROTO (bad magic or version) or -EMSGSIZE (lengths, fd count) + err. */
int imgd_hdr_decode(const uint8_t in[IMGD_HDR_SIZE], struct imgd_hdr *h, struct buf *err);

/* A received frame.  Owns j, data and every fd still in fds (-1 once taken). */
struct imgd_msg {
	json_t *j;
	const char *op;		/* j's "op", valid while j is */
	struct buf data;
	int fds[IMGD_MAX_FDS];
	size_t nfds;
};

#define IMGD_MSG_INIT { .j = NULL, .op = NULL, .data = BUF_INIT, .nfds = 0 }

/* Free everything; closes the fds not taken.  *m is IMGD_MSG_INIT afterwards. */
void imgd_msg_release(struct imgd_msg *m);
/* Hand fds[i] to the caller (-EBADF when there is no such fd or it was taken). */
int imgd_msg_take_fd(struct imgd_msg *m, size_t i);

/*
 * Send one frame: j (an object with "op"), then len bytes of data, with
 * nfds descriptors (they stay the caller's).  deadline_ms as for imgd_recv:
 * a peer that stops reading cannot block the sender for ever.  -EPIPE when
 * the peer is gone (no SIGPIPE is raised), -EMSGSIZE out of bounds.
 */
int imgd_send(int sock, int64_t deadline_ms, const json_t *j, const void *data, size_t len, const int *fds,
	      size_t nfds, struct buf *err);
/* A frame without payload or fds whose JSON is json_pack(fmt, ...) (ASCII
 * values: guest text goes through imgd_json_text and "o"). */
int imgd_sendf(int sock, int64_t deadline_ms, struct buf *err, const char *fmt, ...);

/*
 * Receive one frame into m (which must be IMGD_MSG_INIT).  deadline_ms: an
 * absolute time_mono_ms() after which -ETIMEDOUT is returned, or 0 to wait
 * for ever.  A timeout inside a frame leaves the stream unusable.
 */
int imgd_recv(int sock, int64_t deadline_ms, struct imgd_msg *m, struct buf *err);

/* An "error" frame's -errno (1..4095 as sent) and its message appended to err
 * (control characters shown as '?', at most 2000 bytes): text from the peer. */
int imgd_msg_error(const struct imgd_msg *m, struct buf *err);
/* Send an "error" frame {"op":"error","errno":-r,"message":msg}. */
int imgd_send_error(int sock, int64_t deadline_ms, int r, const char *msg, struct buf *err);

/* A JSON string of s, which may come from a guest: bytes that are not
 * valid UTF-8 (which JSON cannot carry) become '?'.  Never NULL for a
 * NUL-terminated s. */
json_t *imgd_json_text(const char *s);

#endif
