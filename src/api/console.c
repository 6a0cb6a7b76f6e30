/*
 * console.c - see console.h: the raw relay of `corral vm console`, and the
 * WebSocket one of the web UI (frames decoded and made by web/ws.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console.h"
#include "service/vm.h"
#include "web/ws.h"
#include "util/log.h"
#include "util/common.h"

struct console_session {
	char uuid[37];
	int serial_fd;
	int hold_fd; /* a container's: liblxc's fd holding the console slot; -1 for a VM */
	bool plain;  /* a socket of its own (VNC): closed at the end, no slot to give back */
};

void *console_session_new(const char *vm_uuid, int serial_fd)
{
	struct console_session *s = xcalloc(1, sizeof(*s));
	snprintf(s->uuid, sizeof(s->uuid), "%s", vm_uuid);
	s->serial_fd = serial_fd;
	s->hold_fd = -1;
	return s;
}

void *console_session_new_fd(const char *vm_uuid, int fd)
{
	struct console_session *s = console_session_new(vm_uuid, fd);
	s->plain = true;
	return s;
}

void *console_session_new_ct(const char *ct_uuid, int pty_fd, int hold_fd)
{
	struct console_session *s = console_session_new(ct_uuid, pty_fd);
	s->hold_fd = hold_fd;
	return s;
}

/* Write all of buf; false when the peer is gone. */
static bool write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { fd, POLLOUT, 0 };
				poll(&p, 1, 1000);
				continue;
			}
			return false;
		}
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* write_all for a pty (not a socket). */
static bool write_fd_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Give the console slot back (and the container's fds). */
static void session_end(struct console_session *s)
{
	if (s->plain) {
		close(s->serial_fd);
	} else if (s->hold_fd >= 0) {
		close(s->serial_fd);
		close(s->hold_fd);
	} else {
		svc_vm_console_close(s->uuid, s->serial_fd);
	}
	free(s);
}

/* The guest's input: s's serial socket (a VM) or pty (a container). */
static bool guest_write(struct console_session *s, const char *buf, size_t len)
{
	return s->hold_fd >= 0 ? write_fd_all(s->serial_fd, buf, len) : write_all(s->serial_fd, buf, len);
}

/* One server frame to the browser. */
static bool ws_send(int fd, enum ws_opcode op, const void *payload, size_t len)
{
	uint8_t h[WS_MAX_HEADER];
	size_t hl = ws_frame_header(h, op, len);
	return write_all(fd, (const char *)h, hl) && (len == 0 || write_all(fd, payload, len));
}

static bool ws_close(int fd, int code, const char *reason)
{
	uint8_t p[125];
	return ws_send(fd, WS_OP_CLOSE, p, ws_close_payload(p, code, reason));
}

struct ws_relay {
	struct console_session *s;
	int client_fd;
	bool closed; /* the browser sent a close frame (answered) */
};

/* A frame from the browser: data to the guest, ping answered, close ends. */
static bool ws_on_frame(enum ws_opcode op, const uint8_t *payload, size_t len, bool fin, void *opaque)
{
	struct ws_relay *w = opaque;
	(void)fin;
	switch (op) {
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		return len == 0 || guest_write(w->s, (const char *)payload, len);
	case WS_OP_PING:
		return ws_send(w->client_fd, WS_OP_PONG, payload, len);
	case WS_OP_CLOSE:
		/* echo the code (RFC 6455 5.5.1), then stop */
		ws_send(w->client_fd, WS_OP_CLOSE, payload, len >= 2 ? 2 : 0);
		w->closed = true;
		return false;
	default:
		return true; /* pong */
	}
}

/*
 * The relay both doors share: bytes from the client go to from_client,
 * bytes from the guest (its serial socket, a container's pty, a VNC
 * display) to to_client; each returns false to end.  guest_gone is called
 * when the guest's side ends first.
 */
struct relay_ops {
	bool (*from_client)(void *ctx, const char *buf, size_t n);
	bool (*to_client)(void *ctx, const char *buf, size_t n);
	void (*guest_gone)(void *ctx);
};

static void relay(struct console_session *s, int client_fd, const struct relay_ops *ops, void *ctx)
{
	char buf[16384];

	for (;;) {
		struct pollfd p[2] = { { client_fd, POLLIN, 0 }, { s->serial_fd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = recv(client_fd, buf, sizeof(buf), 0);
			if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN)))
				break;
			if (n > 0 && !ops->from_client(ctx, buf, (size_t)n))
				break;
		}
		if (p[1].revents) {
			ssize_t n = read(s->serial_fd, buf, sizeof(buf));
			if (n <= 0 && !(n < 0 && (errno == EINTR || errno == EAGAIN))) {
				if (ops->guest_gone)
					ops->guest_gone(ctx);
				break;
			}
			if (n > 0 && !ops->to_client(ctx, buf, (size_t)n))
				break;
		}
	}
}

struct ws_ctx {
	struct ws_decoder d;
	struct ws_relay w;
};

static bool ws_from_client(void *ctx, const char *buf, size_t n)
{
	struct ws_ctx *c = ctx;
	int r = ws_decoder_feed(&c->d, (const uint8_t *)buf, n, ws_on_frame, &c->w);
	if (r == -EPROTO || r == -EMSGSIZE)
		ws_close(c->w.client_fd, c->d.close_code, r == -EMSGSIZE ? "frame too big" : "protocol error");
	return r >= 0;
}

static bool ws_to_client(void *ctx, const char *buf, size_t n)
{
	struct ws_ctx *c = ctx;
	return ws_send(c->w.client_fd, WS_OP_BINARY, buf, n);
}

static void ws_guest_gone(void *ctx)
{
	struct ws_ctx *c = ctx;
	ws_close(c->w.client_fd, WS_CLOSE_GOING_AWAY, c->w.s->plain ? "the display ended" : "the console ended");
}

void console_relay_ws(int client_fd, void *session)
{
	static const struct relay_ops ops = { ws_from_client, ws_to_client, ws_guest_gone };
	struct console_session *s = session;
	struct ws_ctx c = { WS_DECODER_INIT(CONSOLE_WS_MAX_FRAME), { s, client_fd, false } };

	if (client_fd >= 0) {
		log_info("web %s attached to %s", s->plain ? "VNC display" : "console", s->uuid);
		relay(s, client_fd, &ops, &c);
		log_info("web %s detached from %s", s->plain ? "VNC display" : "console", s->uuid);
	}
	ws_decoder_release(&c.d);
	session_end(s);
}

struct raw_ctx {
	struct console_session *s;
	int client_fd;
};

static bool raw_from_client(void *ctx, const char *buf, size_t n)
{
	struct raw_ctx *c = ctx;
	return guest_write(c->s, buf, n);
}

static bool raw_to_client(void *ctx, const char *buf, size_t n)
{
	struct raw_ctx *c = ctx;
	return write_all(c->client_fd, buf, n);
}

void console_relay(int client_fd, void *session)
{
	static const struct relay_ops ops = { raw_from_client, raw_to_client, NULL };
	struct console_session *s = session;
	struct raw_ctx c = { s, client_fd };

	if (client_fd >= 0) {
		log_info("console attached to vm %s", s->uuid);
		relay(s, client_fd, &ops, &c);
		log_info("console detached from vm %s", s->uuid);
	}
	session_end(s);
}
