/*
 * console.c - the interactive serial console; see console.h.
 *
 * libcurl has no client side for protocol upgrades, so the console speaks
 * the one request it needs by hand over a raw stream (client.h
 * client_stream: the unix socket, or a TLS connection libcurl made and
 * pinned): send the upgrade request (with the API token over TLS), read the
 * answer's head, and on 101 relay bytes with poll().  Sends and receives
 * never block and bytes for the guest wait in a buffer, so a guest that
 * talks while we type can never deadlock us; received bytes are read until
 * none are left, since TLS may hold decrypted bytes poll() cannot see.  A refusal (404, 409 ...) carries the API's JSON error,
 * whose message is printed like every other CLI error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "console.h"
#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"

#define HEAD_MAX (64u << 10)
#define ANSWER_TIMEOUT_MS 30000
#define PENDING_MAX (64u << 10)

/* --- terminal raw mode, restored on every exit path --- */

static struct termios saved_tio;
static volatile sig_atomic_t tio_saved;
static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE };

static void tty_restore(void)
{
	if (tio_saved) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_tio);
		tio_saved = 0;
	}
}

static void on_fatal_signal(int sig)
{
	tty_restore();		/* tcsetattr is async-signal-safe */
	signal(sig, SIG_DFL);
	raise(sig);
}

static int tty_raw(void)
{
	struct sigaction sa = { .sa_handler = on_fatal_signal };
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return -errno;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(fatal_signals); i++)
		sigaction(fatal_signals[i], &sa, NULL);
	raw = saved_tio;
	cfmakeraw(&raw);
	tio_saved = 1;
	atexit(tty_restore);
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		tio_saved = 0;
		return -errno;
	}
	return 0;
}

/* --- the upgrade request and its answer --- */

/* Read more of the answer into `in` (waiting until `deadline`).  >0 bytes
 * read, 0 at EOF, -ETIMEDOUT or -errno. */
static ssize_t read_more(struct client_stream *st, struct buf *in, int64_t deadline)
{
	char tmp[4096];

	for (;;) {
		int64_t left = deadline - time_mono_ms();
		struct pollfd p = { st->fd, POLLIN, 0 };
		ssize_t n = client_stream_recv(st, tmp, sizeof(tmp));
		int r;

		if (n >= 0) {
			buf_add(in, tmp, (size_t)n);
			return n;
		}
		if (n != -EAGAIN && n != -EINTR)
			return n;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

/* Send all of data, waiting for room up to 30 s.  0 or -errno. */
static int send_all(struct client_stream *st, const char *data, size_t len)
{
	int64_t deadline = time_mono_ms() + ANSWER_TIMEOUT_MS;

	while (len > 0) {
		ssize_t n = client_stream_send(st, data, len);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n != -EAGAIN && n != -EINTR)
			return (int)n;
		int64_t left = deadline - time_mono_ms();
		struct pollfd p = { st->fd, POLLOUT, 0 };
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

/* The value of header `name` in the answer head (up to `head_len`), or NULL.
 * *len receives its length. */
static const char *header_value(const char *head, size_t head_len, const char *name, size_t *len)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', head_len);
	const char *end = head + head_len;

	while (p && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			const char *v = p + nlen + 1;
			const char *ve = eol;
			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*len = (size_t)(ve - v);
			return v;
		}
		p = eol;
	}
	return NULL;
}

/* Decode a chunked body.  1 complete, 0 incomplete, -1 malformed. */
static int dechunk(const char *p, size_t len, struct buf *out)
{
	const char *end = p + len;

	buf_reset(out);
	for (;;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		char *numend;
		unsigned long size;

		if (!eol)
			return 0;
		size = strtoul(p, &numend, 16);
		if (numend == p)
			return -1;
		if (size == 0)
			return 1;
		p = eol + 2;
		if ((size_t)(end - p) < size + 2)
			return 0;
		buf_add(out, p, size);
		p += size + 2;
	}
}

/* Read the body of a refusal and print its error message. */
static int report_refusal(struct client_stream *fd, struct buf *in, size_t head_len, int status)
{
	int64_t deadline = time_mono_ms() + 5000;
	__do_buf struct buf body = BUF_INIT;
	const char *v;
	size_t vlen;
	__do_json json_t *j = NULL;
	const char *msg;

	if ((v = header_value(in->s, head_len, "Transfer-Encoding", &vlen)) &&
	    vlen == 7 && strncasecmp(v, "chunked", 7) == 0) {
		while (dechunk(in->s + head_len, in->len - head_len, &body) == 0)
			if (read_more(fd, in, deadline) <= 0)
				break;
	} else {
		size_t want = SIZE_MAX;
		if ((v = header_value(in->s, head_len, "Content-Length", &vlen)))
			want = strtoul(v, NULL, 10);
		while (in->len - head_len < want && in->len < HEAD_MAX * 4)
			if (read_more(fd, in, deadline) <= 0)
				break;
		buf_add(&body, in->s + head_len,
			in->len - head_len < want ? in->len - head_len : want);
	}
	j = json_loadb(body.s, body.len, 0, NULL);
	msg = j ? client_error_message(j) : NULL;
	if (msg)
		return cli_error("%s", msg);
	return cli_error("corrald refused the console (HTTP %d)", status);
}

/* Send the upgrade request; on 101 leave any early guest bytes in `early`. */
static int handshake(struct client *c, struct client_stream *fd, const char *base, const char *selector,
		     bool force, struct buf *early)
{
	__do_free char *enc = client_escape(c, selector);
	const char *auth = client_auth_header(c);
	__do_buf struct buf req = BUF_INIT;
	int64_t deadline = time_mono_ms() + ANSWER_TIMEOUT_MS;
	__do_buf struct buf in = BUF_INIT;
	const char *end;
	size_t head_len;
	int status = 0, r;

	buf_printf(&req,
		   "GET %s/%s/console%s HTTP/1.1\r\n"
		   "Host: corral\r\n"
		   "User-Agent: corral/" CORRAL_VERSION "\r\n"
		   "Connection: Upgrade\r\n"
		   "Upgrade: corral-console\r\n"
		   "%s%s"
		   "\r\n",
		   base, enc, force ? "?force=true" : "", auth ? auth : "", auth ? "\r\n" : "");
	r = send_all(fd, req.s, req.len);
	OPENSSL_cleanse(req.s, req.len); /* it carries the token */
	if (r < 0)
		return cli_error("cannot send the console request to corrald: %s", strerror(-r));
	while (!(end = memmem(in.s, in.len, "\r\n\r\n", 4))) {
		ssize_t n;
		if (in.len > HEAD_MAX)
			return cli_error("corrald's answer to the console request is too long");
		n = read_more(fd, &in, deadline);
		if (n == 0)
			return cli_error("corrald closed the connection without answering the console request");
		if (n < 0)
			return cli_error("no answer from corrald to the console request: %s", strerror((int)-n));
	}
	head_len = (size_t)(end - in.s) + 4;
	if (sscanf(in.s, "HTTP/%*d.%*d %d", &status) != 1)
		return cli_error("malformed answer from corrald to the console request");
	if (status != 101)
		return report_refusal(fd, &in, head_len, status);
	buf_add(early, in.s + head_len, in.len - head_len);
	return CLI_OK;
}

/* --- the relay --- */

struct relay {
	struct client_stream *sock;
	bool tty;
	bool stdin_open;
	bool detached;
	bool closed;		/* corrald closed the connection */
	struct buf pending;	/* bytes for the guest not yet sent */
	size_t sent;
};

/* Send what we can of pending without blocking.  0 or -errno. */
static int flush_pending(struct relay *rl)
{
	while (rl->sent < rl->pending.len) {
		ssize_t n = client_stream_send(rl->sock, rl->pending.s + rl->sent, rl->pending.len - rl->sent);
		if (n < 0) {
			if (n == -EINTR)
				continue;
			if (n == -EAGAIN)
				return 0;
			return (int)n;
		}
		rl->sent += (size_t)n;
	}
	buf_reset(&rl->pending);
	rl->sent = 0;
	return 0;
}

static void on_stdin(struct relay *rl)
{
	char tmp[4096];
	ssize_t n = read(STDIN_FILENO, tmp, sizeof(tmp));
	char *esc;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		rl->stdin_open = false;
		return;
	}
	if (rl->tty && (esc = memchr(tmp, CONSOLE_ESCAPE, (size_t)n))) {
		n = esc - tmp;
		rl->detached = true;
	}
	buf_add(&rl->pending, tmp, (size_t)n);
}

/* 0 to go on, 1 when the guest side is gone, -1 when stdout failed.  Reads
 * until nothing is left: a TLS engine may hold bytes poll() cannot see. */
static int on_socket(struct relay *rl)
{
	char tmp[8192];

	for (;;) {
		ssize_t n = client_stream_recv(rl->sock, tmp, sizeof(tmp));

		if (n == -EINTR)
			continue;
		if (n == -EAGAIN)
			return 0;
		if (n <= 0) {
			rl->closed = true;
			return 1;
		}
		if (out_write_all(STDOUT_FILENO, tmp, (size_t)n, false) < 0)
			return -1;
	}
}

static int relay(struct relay *rl, int64_t linger_ms)
{
	int64_t deadline = -1;

	for (;;) {
		struct pollfd p[2] = {
			{ rl->stdin_open && rl->pending.len < PENDING_MAX ? STDIN_FILENO : -1, POLLIN, 0 },
			{ rl->sock->fd, POLLIN | (rl->pending.len ? POLLOUT : 0), 0 },
		};
		int timeout = -1, r;

		if (!rl->stdin_open && !rl->pending.len && deadline < 0)
			deadline = time_mono_ms() + linger_ms;
		if (deadline >= 0) {
			int64_t left = deadline - time_mono_ms();
			if (left <= 0)
				return CLI_OK;
			timeout = (int)(left > 60000 ? 60000 : left);
		}
		r = poll(p, 2, timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return cli_error("poll: %s", strerror(errno));
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
			r = on_socket(rl);
			if (r > 0)
				return CLI_OK;
			if (r < 0)
				return CLI_FAIL;	/* stdout is gone: nobody to tell */
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			on_stdin(rl);
		if (flush_pending(rl) < 0) {
			rl->closed = true;
			return CLI_OK;
		}
		if (rl->detached) {
			/* Deliver what was typed before ^], then go. */
			send_all(rl->sock, rl->pending.s + rl->sent, rl->pending.len - rl->sent);
			return CLI_OK;
		}
	}
}

/* The VM's name for the banner: asked of corrald (the selector may be a
 * uuid or a glob), else the selector itself.  Caller frees. */
static char *vm_name(struct client *c, const char *base, const char *selector)
{
	__do_free char *path = client_path(c, base, selector, NULL);
	__do_reply struct reply r = REPLY_INIT;
	const char *name;

	if (client_request(c, "GET", path, NULL, &r) == 0 && reply_ok(&r) &&
	    (name = json_string_value(json_object_get(r.json, "name"))))
		return xstrdup(name);
	return xstrdup(selector);
}

int console_run(struct cli *cli, const char *selector, bool force, int64_t linger_ms)
{
	return console_run_at(cli, "/v1/vms", selector, force, linger_ms);
}

int console_run_at(struct cli *cli, const char *base, const char *selector, bool force, int64_t linger_ms)
{
	struct client *c = cli_client(cli);
	struct client_stream st = CLIENT_STREAM_INIT;
	struct relay rl = { .sock = &st, .stdin_open = true, .pending = BUF_INIT };
	int rc;

	if (!c)
		return CLI_FAIL;
	/* The banner's name is asked before the stream opens: the stream takes
	 * over the client's connection (over TLS a request meanwhile would
	 * replace it and leak the stream's). */
	rl.tty = isatty(STDIN_FILENO);
	__do_free char *name = rl.tty ? vm_name(c, base, selector) : NULL;
	if (client_stream_open(c, &st) < 0)
		return CLI_FAIL;
	rc = handshake(c, &st, base, selector, force, &rl.pending);
	if (rc != CLI_OK)
		goto out;
	/* handshake left early guest output in `pending`: show it first. */
	if (rl.pending.len && out_write_all(STDOUT_FILENO, rl.pending.s, rl.pending.len, false) < 0) {
		rc = CLI_FAIL;
		goto out;
	}
	buf_reset(&rl.pending);
	if (!st.tls)
		fcntl(st.fd, F_SETFL, fcntl(st.fd, F_GETFL) | O_NONBLOCK);
	if (rl.tty) {
		fprintf(stderr, "Connected to VM %s (escape character is ^])\n", name);
		int r = tty_raw();
		if (r < 0) {
			rc = cli_error("cannot put the terminal in raw mode: %s", strerror(-r));
			goto out;
		}
	}
	rc = relay(&rl, linger_ms);
	tty_restore();
	if (rl.detached)
		fputs("\nDetached from VM\n", stderr);
	else if (rl.closed)
		fprintf(stderr, "%sConnection to VM closed\n", rl.tty ? "\n" : "");
out:
	buf_release(&rl.pending);
	client_stream_close(&st);
	return rc;
}
