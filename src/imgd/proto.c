/*
 * proto.c - frames between corrald and corral-imgd (see proto.h): the
 * 16-byte header, JSON and payload over a stream socket, descriptors as
 * SCM_RIGHTS on a frame's first byte.
 *
 * Both sides treat the other as untrusted: every length is checked against
 * its bound before anything is allocated, descriptors that arrive anywhere
 * but with a header, or more or fewer than announced, are closed and the
 * frame refused.  Waits are bounded by a deadline through poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "imgd/proto.h"
#include "util/timeutil.h"
#include "util/common.h"

static const uint8_t magic[4] = { 'C', 'I', 'M', 'G' };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void imgd_hdr_encode(const struct imgd_hdr *h, uint8_t out[IMGD_HDR_SIZE])
{
	memcpy(out, magic, 4);
	put16(out + 4, h->version);
	put16(out + 6, h->nfds);
	put32(out + 8, h->json_len);
	put32(out + 12, h->data_len);
}

int imgd_hdr_decode(const uint8_t in[IMGD_HDR_SIZE], struct imgd_hdr *h, struct buf *err)
{
	if (memcmp(in, magic, 4) != 0) {
		buf_adds(err, "image helper protocol error: a frame does not start with the magic bytes");
		return -EPROTO;
	}
	h->version = get16(in + 4);
	h->nfds = get16(in + 6);
	h->json_len = get32(in + 8);
	h->data_len = get32(in + 12);
	if (h->version != IMGD_PROTO_VERSION) {
		buf_printf(err, "image helper protocol error: version %u, this side speaks %u", h->version,
			   IMGD_PROTO_VERSION);
		return -EPROTO;
	}
	if (h->nfds > IMGD_MAX_FDS || h->json_len < 2 || h->json_len > IMGD_MAX_JSON || h->data_len > IMGD_MAX_DATA) {
		buf_printf(err, "image helper protocol error: a frame announces %u fds, %u bytes of JSON and %u of data",
			   h->nfds, h->json_len, h->data_len);
		return -EMSGSIZE;
	}
	return 0;
}

void imgd_msg_release(struct imgd_msg *m)
{
	for (size_t i = 0; i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	json_decref(m->j);
	buf_release(&m->data);
	*m = (struct imgd_msg)IMGD_MSG_INIT;
}

int imgd_msg_take_fd(struct imgd_msg *m, size_t i)
{
	if (i >= m->nfds || m->fds[i] < 0)
		return -EBADF;
	return move_fd(m->fds[i]);
}

/* Wait until fd is ready for `events` or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline_ms, struct buf *err)
{
	for (;;) {
		int timeout = -1;
		if (deadline_ms > 0) {
			int64_t left = deadline_ms - time_mono_ms();
			if (left <= 0) {
				buf_adds(err, "the image helper did not answer in time");
				return -ETIMEDOUT;
			}
			timeout = left > 60000 ? 60000 : (int)left;
		}
		struct pollfd p = { fd, events, 0 };
		int n = poll(&p, 1, timeout);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			int r = -errno;
			buf_printf(err, "cannot wait for the image helper: %s", strerror(-r));
			return r;
		}
	}
}

int imgd_send(int sock, int64_t deadline_ms, const json_t *j, const void *data, size_t len, const int *fds,
	      size_t nfds, struct buf *err)
{
	__do_free char *text = json_dumps(j, JSON_COMPACT);
	uint8_t hdr[IMGD_HDR_SIZE];
	size_t tlen = text ? strlen(text) : 0;

	if (!text || tlen < 2 || tlen > IMGD_MAX_JSON || len > IMGD_MAX_DATA || nfds > IMGD_MAX_FDS) {
		buf_printf(err, "cannot send a frame of %zu bytes of JSON, %zu of data and %zu fds to the image helper",
			   tlen, len, nfds);
		return -EMSGSIZE;
	}
	imgd_hdr_encode(&(struct imgd_hdr){ IMGD_PROTO_VERSION, (uint16_t)nfds, (uint32_t)tlen, (uint32_t)len }, hdr);

	struct iovec iov[3] = { { hdr, sizeof(hdr) }, { text, tlen }, { (void *)data, len } };
	size_t niov = len ? 3 : 2, first = 0;
	union {
		char b[CMSG_SPACE(IMGD_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	bool fds_sent = nfds == 0;

	while (first < niov) {
		struct msghdr mh = { .msg_iov = iov + first, .msg_iovlen = niov - first };
		if (!fds_sent) {
			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
			memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
		}
		int r = wait_fd(sock, POLLOUT, deadline_ms, err);
		if (r < 0)
			return r;
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			if (r == -EPIPE || r == -ECONNRESET) {
				buf_adds(err, "the image helper went away");
				return -EPIPE;
			}
			buf_printf(err, "cannot write to the image helper: %s", strerror(-r));
			return r;
		}
		fds_sent = true;
		/* drop what was written from the front of the vector */
		size_t left = (size_t)n;
		while (first < niov && left >= iov[first].iov_len) {
			left -= iov[first].iov_len;
			first++;
		}
		if (first < niov) {
			iov[first].iov_base = (char *)iov[first].iov_base + left;
			iov[first].iov_len -= left;
		}
	}
	return 0;
}

int imgd_sendf(int sock, int64_t deadline_ms, struct buf *err, const char *fmt, ...)
{
	json_error_t je;
	va_list ap;

	va_start(ap, fmt);
	__do_json json_t *j = json_vpack_ex(&je, 0, fmt, ap);
	va_end(ap);
	if (!j) {
		buf_printf(err, "cannot build a message for the image helper: %s", je.text);
		return -EINVAL;
	}
	return imgd_send(sock, deadline_ms, j, NULL, 0, NULL, 0, err);
}

/* Close the descriptors of every SCM_RIGHTS message in mh. */
static void fds_drop(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/*
 * Read exactly len bytes into p.  With m (a header), descriptors that come
 * along are collected into m->fds; without, any descriptor is a protocol
 * error.  The end of the stream before the first byte is -EPIPE when m is
 * given (between frames), -EPROTO anywhere else.
 */
static int read_exact(int sock, void *p, size_t len, int64_t deadline_ms, struct imgd_msg *m, struct buf *err)
{
	union {
		char b[CMSG_SPACE(IMGD_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	size_t got = 0;

	while (got < len) {
		int r = wait_fd(sock, POLLIN, deadline_ms, err);
		if (r < 0)
			return r;
		struct iovec iov = { (char *)p + got, len - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			if (r == -ECONNRESET) {
				buf_adds(err, "the image helper went away");
				return -EPIPE;
			}
			buf_printf(err, "cannot read from the image helper: %s", strerror(-r));
			return r;
		}
		if (mh.msg_controllen > 0) {
			bool truncated = mh.msg_flags & MSG_CTRUNC;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c && m && !truncated; c = CMSG_NXTHDR(&mh, c)) {
				if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
					continue;
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < k; i++) {
					int fd;
					memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					if (m->nfds < IMGD_MAX_FDS)
						m->fds[m->nfds++] = fd;
					else
						close(fd);
				}
			}
			if (!m || truncated) {
				fds_drop(&mh);
				buf_adds(err, "image helper protocol error: file descriptors arrived outside a header");
				return -EPROTO;
			}
		}
		if (n == 0) {
			if (got == 0 && m) {
				buf_adds(err, "the image helper closed the connection");
				return -EPIPE;
			}
			buf_adds(err, "image helper protocol error: the connection ended inside a frame");
			return -EPROTO;
		}
		got += (size_t)n;
	}
	return 0;
}

int imgd_recv(int sock, int64_t deadline_ms, struct imgd_msg *m, struct buf *err)
{
	uint8_t hdr[IMGD_HDR_SIZE];
	struct imgd_hdr h;
	json_error_t je;
	__do_free char *text = NULL;
	int r;

	*m = (struct imgd_msg)IMGD_MSG_INIT;
	if ((r = read_exact(sock, hdr, sizeof(hdr), deadline_ms, m, err)) < 0 ||
	    (r = imgd_hdr_decode(hdr, &h, err)) < 0)
		goto fail;
	if (m->nfds != h.nfds) {
		buf_printf(err, "image helper protocol error: a frame announced %u file descriptors and brought %zu",
			   h.nfds, m->nfds);
		r = -EPROTO;
		goto fail;
	}
	text = xmalloc(h.json_len);
	if ((r = read_exact(sock, text, h.json_len, deadline_ms, NULL, err)) < 0)
		goto fail;
	buf_grow(&m->data, h.data_len);
	if ((r = read_exact(sock, m->data.s, h.data_len, deadline_ms, NULL, err)) < 0)
		goto fail;
	m->data.len = h.data_len;
	m->data.s[h.data_len] = '\0';
	m->j = json_loadb(text, h.json_len, JSON_REJECT_DUPLICATES, &je);
	const json_t *op = json_object_get(m->j, "op");
	if (!json_is_object(m->j) || !json_is_string(op)) {
		buf_adds(err, "image helper protocol error: a frame's JSON is not an object with an \"op\"");
		r = -EPROTO;
		goto fail;
	}
	m->op = json_string_value(op);
	return 0;
fail:
	imgd_msg_release(m);
	return r;
}

int imgd_msg_error(const struct imgd_msg *m, struct buf *err)
{
	const json_t *e = json_object_get(m->j, "errno");
	const char *msg = json_string_value(json_object_get(m->j, "message"));
	json_int_t n = json_is_integer(e) ? json_integer_value(e) : 0;

	if (msg && *msg)
		buf_add_printable(err, msg, strnlen(msg, 2000));
	else
		buf_adds(err, "the image helper failed without saying why");
	return n >= 1 && n <= 4095 ? -(int)n : -EIO;
}

int imgd_send_error(int sock, int64_t deadline_ms, int r, const char *msg, struct buf *err)
{
	int e = r < 0 && r >= -4095 ? -r : EIO;
	__do_json json_t *j = json_pack("{s:s,s:i,s:o}", "op", "error", "errno", e, "message",
					imgd_json_text(msg && *msg ? msg : strerror(e)));
	return imgd_send(sock, deadline_ms, j, NULL, 0, NULL, 0, err);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if there is none (RFC 3629). */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = p[0] >= 0xc2 && p[0] <= 0xdf ? 2 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
						    : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) || (p[0] == 0xf0 && p[1] < 0x90) ||
	    (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;	/* overlong, surrogate, or past U+10FFFF */
	return len;
}

json_t *imgd_json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct buf b = BUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n > 0) {
		size_t k = utf8_seq(p, n);
		if (k == 0) {
			buf_addch(&b, '?');
			k = 1;
		} else {
			buf_add(&b, p, k);
		}
		p += k;
		n -= k;
	}
	j = json_string(b.s);
	buf_release(&b);
	return j;
}
