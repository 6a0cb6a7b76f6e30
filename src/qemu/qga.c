/*
 * qga.c - see qga.h: the guest agent's wire protocol (newline-delimited JSON
 * on a unix socket, resynchronised with guest-sync-delimited), every step
 * bounded by one deadline, and the parsers that turn what a guest says into
 * bounded, printable values.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qga.h"
#include "util/cleanup.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

struct qga {
	pthread_mutex_t lock;	/* one caller at a time */
	char *path;
	int fd;			/* -1: not connected */
	bool synced;		/* the stream is at a reply boundary */
	struct buf rx;		/* received, not yet consumed */
};

struct qga *qga_new(const char *path)
{
	struct qga *g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	g->path = xstrdup(path);
	g->fd = -1;
	g->rx = (struct buf)BUF_INIT;
	return g;
}

static void drop_conn(struct qga *g)
{
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	g->synced = false;
	buf_reset(&g->rx);
}

void qga_free(struct qga *g)
{
	if (!g)
		return;
	drop_conn(g);
	buf_release(&g->rx);
	free(g->path);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

bool qga_is_synced(struct qga *g)
{
	pthread_mutex_lock(&g->lock);
	bool s = g->synced;
	pthread_mutex_unlock(&g->lock);
	return s;
}

/* One sentence into err, which may be NULL (callers that only want the code). */
__attribute__((format(printf, 2, 3))) static void qerr(struct buf *err, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return;
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
}

/* ---- parsing ------------------------------------------------------------ */

/* A guest string worth keeping: a bounded copy without control characters. */
static char *clean_str(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || !*s || str_has_control(s))
		return NULL;
	size_t n = strlen(s);
	return xstrndup(s, n > QGA_MAX_STR ? QGA_MAX_STR : n);
}

int qga_reply_parse(const char *line, size_t len, json_t **ret, struct buf *err)
{
	json_error_t je;
	json_t *v;

	if (ret)
		*ret = NULL;
	if (len > QGA_MSG_MAX) {
		qerr(err, "the guest agent sent a reply too large to accept");
		return -EPROTO;
	}
	__do_json json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		qerr(err, "the guest agent sent something that is not a reply");
		return -EPROTO;
	}
	if ((v = json_object_get(j, "return"))) {
		if (ret)
			*ret = json_incref(v);
		return 0;
	}
	if (json_is_object(v = json_object_get(j, "error"))) {
		__do_free char *desc = clean_str(json_object_get(v, "desc"));
		qerr(err, "the guest agent answered: %s", desc ? desc : "an error without a description");
		return -EIO;
	}
	qerr(err, "the guest agent sent a reply without return or error");
	return -EPROTO;
}

size_t qga_sync_scan(const char *rx, size_t len, int64_t id, bool *seen_delim, bool *done)
{
	size_t pos = 0;

	*done = false;
	if (!*seen_delim) {
		const char *d = memrchr(rx, 0xff, len);
		if (!d)
			return len; /* all of it is before the delimiter */
		*seen_delim = true;
		pos = (size_t)(d - rx) + 1;
	}
	while (pos < len) {
		const char *nl = memchr(rx + pos, '\n', len - pos);
		if (!nl) {
			if (len - pos > QGA_MSG_MAX)
				return len; /* garbage without end */
			return pos;
		}
		size_t n = (size_t)(nl - (rx + pos));
		/* A later delimiter (an earlier sync answered late, then ours): start after it. */
		const char *d = memrchr(rx + pos, 0xff, n);
		size_t skip = d ? (size_t)(d - (rx + pos)) + 1 : 0;
		json_t *r = NULL;
		if (qga_reply_parse(rx + pos + skip, n - skip, &r, NULL) == 0 && json_is_integer(r) &&
		    json_integer_value(r) == id)
			*done = true;
		json_decref(r);
		pos += n + 1;
		if (*done)
			break;
	}
	return pos;
}

json_t *qga_osinfo_parse(const json_t *ret)
{
	static const char *const keys[][2] = {
		{ "name", "name" }, { "pretty-name", "pretty_name" }, { "version-id", "version" },
		{ "id", "id" }, { "kernel-release", "kernel_release" },
	};
	if (!json_is_object(ret))
		return NULL;
	json_t *o = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char *s = clean_str(json_object_get(ret, keys[i][0]));
		if (s)
			json_object_set_new(o, keys[i][1], json_string(s));
		free(s);
	}
	if (!json_object_size(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *qga_hostname_parse(const json_t *ret)
{
	return json_is_object(ret) ? clean_str(json_object_get(ret, "host-name")) : NULL;
}

/* "ADDR/PREFIX" of one ip-addresses element, or NULL; *useful: neither
 * loopback nor IPv6 link-local. */
static char *addr_parse(const json_t *a, char **bare, bool *useful)
{
	const char *type = json_string_value(json_object_get(a, "ip-address-type"));
	const char *addr = json_string_value(json_object_get(a, "ip-address"));
	json_t *p = json_object_get(a, "prefix");
	unsigned char bin[16];
	char text[INET6_ADDRSTRLEN];
	int af;

	if (!type || !addr || !json_is_integer(p))
		return NULL;
	if (strcmp(type, "ipv4") == 0)
		af = AF_INET;
	else if (strcmp(type, "ipv6") == 0)
		af = AF_INET6;
	else
		return NULL;
	json_int_t prefix = json_integer_value(p);
	if (prefix < 0 || prefix > (af == AF_INET ? 32 : 128) || inet_pton(af, addr, bin) != 1 ||
	    !inet_ntop(af, bin, text, sizeof(text)))
		return NULL;
	if (af == AF_INET)
		*useful = bin[0] != 127;
	else
		*useful = !(bin[0] == 0xfe && (bin[1] & 0xc0) == 0x80) && !IN6_IS_ADDR_LOOPBACK((struct in6_addr *)bin);
	*bare = xstrdup(text);
	return xasprintf("%s/%lld", text, (long long)prefix);
}

/* A MAC as the agent writes it (xx:xx:xx:xx:xx:xx), lower case, or NULL. */
static char *mac_parse(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) != 17)
		return NULL;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
			return NULL;
	}
	char *m = xstrdup(s);
	for (char *c = m; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	return m;
}

json_t *qga_interfaces_parse(const json_t *ret, json_t **ips)
{
	size_t i, k;
	json_t *ifc, *a;

	if (ips)
		*ips = NULL;
	if (!json_is_array(ret))
		return NULL;
	json_t *out = json_array();
	json_t *flat = json_array();
	json_array_foreach(ret, i, ifc) {
		if (json_array_size(out) >= QGA_MAX_IFACES)
			break;
		__do_free char *name = clean_str(json_object_get(ifc, "name"));
		if (!name)
			continue;
		__do_free char *mac = mac_parse(json_object_get(ifc, "hardware-address"));
		json_t *addrs = json_array();
		json_array_foreach(json_object_get(ifc, "ip-addresses"), k, a) {
			if (json_array_size(addrs) >= QGA_MAX_ADDRS)
				break;
			char *bare = NULL;
			bool useful = false;
			char *s = addr_parse(a, &bare, &useful);
			if (!s)
				continue;
			json_array_append_new(addrs, json_string(s));
			if (useful && json_array_size(flat) < QGA_MAX_ADDRS)
				json_array_append_new(flat, json_string(bare));
			free(s);
			free(bare);
		}
		json_t *o = json_pack("{s:s,s:o}", "name", name, "addresses", addrs);
		if (mac)
			json_object_set_new(o, "mac", json_string(mac));
		json_array_append_new(out, o);
	}
	if (ips)
		*ips = flat;
	else
		json_decref(flat);
	return out;
}

/* ---- the connection ----------------------------------------------------- */

static int remaining(int64_t deadline)
{
	int64_t left = deadline - time_mono_ms();
	return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

static int conn_open(struct qga *g, struct buf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(g->path) >= sizeof(sa.sun_path)) {
		qerr(err, "the guest agent socket path %s is too long", g->path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, g->path, strlen(g->path) + 1);
	__do_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		int e = errno;
		qerr(err, "cannot create a socket for the guest agent: %s", strerror(e));
		return -e;
	}
	/* A unix stream connect completes or fails at once (or EAGAIN on a full backlog). */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno == EAGAIN ? ETIMEDOUT : errno;
		qerr(err, "cannot connect to the guest agent socket %s: %s", g->path, strerror(e));
		return -e;
	}
	g->fd = move_fd(fd);
	g->synced = false;
	buf_reset(&g->rx);
	return 0;
}

static int conn_write(struct qga *g, const char *data, size_t len, int64_t deadline, struct buf *err)
{
	while (len) {
		ssize_t n = send(g->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = g->fd, .events = POLLOUT };
			int left = remaining(deadline);
			if (left == 0 || poll(&p, 1, left) == 0) {
				qerr(err, "the guest agent is not responding (its channel is full)");
				return -ETIMEDOUT;
			}
			continue;
		}
		qerr(err, "the connection to the guest agent was lost");
		return -EPIPE;
	}
	return 0;
}

/* Read what is available into g->rx, waiting until deadline for something. */
static int conn_read(struct qga *g, int64_t deadline, struct buf *err)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = recv(g->fd, chunk, sizeof(chunk), 0);
		if (n > 0) {
			if (g->rx.len + (size_t)n > 2 * QGA_MSG_MAX) {
				qerr(err, "the guest agent sent more than a reply can hold");
				return -EPROTO;
			}
			buf_add(&g->rx, chunk, (size_t)n);
			return 0;
		}
		if (n == 0) {
			qerr(err, "the guest agent's channel was closed (QEMU stopped?)");
			return -EPIPE;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			qerr(err, "the connection to the guest agent was lost");
			return -EPIPE;
		}
		struct pollfd p = { .fd = g->fd, .events = POLLIN };
		int left = remaining(deadline);
		if (left == 0 || poll(&p, 1, left) == 0) {
			qerr(err, "the guest agent is not responding");
			return -ETIMEDOUT;
		}
	}
}

static void rx_consume(struct buf *rx, size_t n)
{
	if (!n)
		return;
	memmove(rx->s, rx->s + n, rx->len - n);
	rx->len -= n;
	rx->s[rx->len] = '\0';
}

static int send_json(struct qga *g, json_t *msg, int64_t deadline, struct buf *err)
{
	__do_free char *s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (!s) {
		qerr(err, "cannot encode a guest agent command");
		return -ENOMEM;
	}
	int r = conn_write(g, s, strlen(s), deadline, err);
	return r < 0 ? r : conn_write(g, "\n", 1, deadline, err);
}

static int do_sync(struct qga *g, int64_t deadline, struct buf *err)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint64_t)time_wall_ms() ^ (uint64_t)(uintptr_t)g;
	/* The agent's ids are int64; keep it positive and within 2^53 (JSON numbers). */
	int64_t id = (int64_t)(rnd & ((1ULL << 53) - 1)) | 1;
	bool delim = false, done = false;
	int r;

	/* The delimiter makes the agent's parser drop a half-received request, too. */
	if ((r = conn_write(g, "\xff", 1, deadline, err)) < 0 ||
	    (r = send_json(g, json_pack("{s:s,s:{s:I}}", "execute", "guest-sync-delimited", "arguments", "id",
					(json_int_t)id),
			   deadline, err)) < 0)
		return r;
	for (;;) {
		size_t used = qga_sync_scan(g->rx.s, g->rx.len, id, &delim, &done);
		rx_consume(&g->rx, used);
		if (done)
			break;
		if ((r = conn_read(g, deadline, err)) < 0)
			return r;
	}
	g->synced = true;
	return 0;
}

/* The next whole line of g->rx (read until there is one), as a reply. */
static int read_reply(struct qga *g, json_t **ret, int64_t deadline, struct buf *err)
{
	for (;;) {
		char *nl = g->rx.len ? memchr(g->rx.s, '\n', g->rx.len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - g->rx.s);
			int r = qga_reply_parse(g->rx.s, n, ret, err);
			rx_consume(&g->rx, n + 1);
			return r;
		}
		if (g->rx.len > QGA_MSG_MAX) {
			qerr(err, "the guest agent sent a reply too large to accept");
			return -EPROTO;
		}
		int r = conn_read(g, deadline, err);
		if (r < 0)
			return r;
	}
}

static int lock_until(struct qga *g, int64_t deadline, struct buf *err)
{
	int64_t left = deadline - time_mono_ms();
	struct timespec ts = time_realtime_in(left < 0 ? 0 : left); /* timedlock's clock */
	if (pthread_mutex_timedlock(&g->lock, &ts) != 0) {
		qerr(err, "the guest agent is busy with another request");
		return -EBUSY;
	}
	return 0;
}

static int execute(struct qga *g, const char *cmd, json_t *args, bool no_reply, json_t **ret, int timeout_ms,
		   struct buf *err)
{
	int64_t deadline = time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1000);
	int r;

	if (ret)
		*ret = NULL;
	if ((r = lock_until(g, deadline, err)) < 0) {
		json_decref(args);
		return r;
	}
	json_t *msg = json_pack("{s:s}", "execute", cmd);
	if (args)
		json_object_set_new(msg, "arguments", args);
	if (g->fd < 0 && (r = conn_open(g, err)) < 0)
		goto out;
	if (!g->synced && (r = do_sync(g, deadline, err)) < 0)
		goto out;
	g->synced = false; /* until the reply to this command is read */
	r = send_json(g, msg, deadline, err);
	msg = NULL;
	if (r == 0 && no_reply) {
		g->synced = true;
	} else if (r == 0) {
		r = read_reply(g, ret, deadline, err);
		/* An error reply still ends on a line boundary. */
		g->synced = r == 0 || r == -EIO;
	}
out:
	json_decref(msg);
	/* A timeout keeps the connection (the next call resyncs past the late
	 * reply); a lost or garbled one is reopened by the next call. */
	if (r < 0 && r != -EIO && r != -ETIMEDOUT)
		drop_conn(g);
	pthread_mutex_unlock(&g->lock);
	return r;
}

int qga_execute(struct qga *g, const char *cmd, json_t *args, json_t **ret, int timeout_ms, struct buf *err)
{
	return execute(g, cmd, args, false, ret, timeout_ms, err);
}

int qga_execute_noreply(struct qga *g, const char *cmd, json_t *args, int timeout_ms, struct buf *err)
{
	return execute(g, cmd, args, true, NULL, timeout_ms, err);
}
