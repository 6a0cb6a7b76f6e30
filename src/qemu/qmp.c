/*
 * qmp.c - QMP client: handshake, a reader thread that routes replies by id
 * and delivers events, synchronous commands with timeouts (see qmp.h).
 *
 * Each qmp_execute() puts a struct qmp_call on its own stack, links it into
 * q->calls under q->lock, sends the command and sleeps on q->cond.  The reader
 * thread parses one newline-terminated JSON object at a time from q->in,
 * stores a reply in the call with the same id and broadcasts q->cond.  The
 * same condition variable announces concluded jobs and the loss of the
 * connection; every sleeper re-checks its own predicate and its deadline.
 * A writer sets q->writing for the time one message goes out, so that
 * messages from different threads never interleave on the wire.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qemu/qmp.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define QMP_READ_CHUNK 65536
#define QMP_CONNECT_RETRY_MS 20
#define QMP_JOB_POLL_MS 1000
#define QMP_DISMISS_MIN_MS 1000

struct qmp_call {
	struct qmp_call *next;
	char id[32];
	json_t *reply; /* the whole reply message, set by the reader */
};

struct qmp {
	int fd;
	pthread_t reader;
	pthread_mutex_t lock; /* guards the fields up to lost_reason */
	pthread_cond_t cond;  /* replies, concluded jobs, loss, writer done */
	bool writing;         /* a thread is sending a message */
	struct qmp_call *calls;
	uint64_t next_id;
	uint64_t job_gen; /* counts JOB_STATUS_CHANGE to concluded/null */
	uint64_t ev_gen;  /* counts every event */
	bool open;        /* false once the reader saw EOF or a protocol error */
	bool closing;     /* qmp_close() is running: no on_eof */
	char *lost_reason;
	qmp_event_cb on_event;
	qmp_eof_cb on_eof;
	void *opaque;
	/* Input: used by the handshake, then by the reader thread only. */
	struct buf in;
	size_t start;   /* first unconsumed byte of in */
	size_t scanned; /* in.s[start..scanned) holds no newline */
};

static void set_err(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	buf_reset(err);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
}

static int64_t deadline_after(int timeout_ms)
{
	return time_mono_ms() + (timeout_ms > 0 ? timeout_ms : QMP_DEFAULT_TIMEOUT_MS);
}

/* Milliseconds left until deadline, at least 1; -1 (forever) if deadline < 0. */
static int left_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - time_mono_ms();
	return left < 1 ? 1 : left > INT_MAX ? INT_MAX : (int)left;
}

/* Sleep on q->cond until woken or the CLOCK_MONOTONIC deadline; q->lock held. */
static void cond_wait_until(struct qmp *q, int64_t deadline)
{
	struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000 };

	pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/*
 * QEMU writes uint64 values beyond int64 (the balloon's guest-stats use
 * UINT64_MAX for "not reported"), which jansson refuses as a whole message.
 * A copy of the message with every such integer literal outside strings
 * made -1, or NULL when there is none.
 */
static char *qmp_clamp_u64(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	bool in_str = false, changed = false;
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (in_str) {
			buf_addch(&b, c);
			if (c == '\\' && i + 1 < len)
				buf_addch(&b, s[++i]);
			else if (c == '"')
				in_str = false;
			i++;
			continue;
		}
		if (c == '"')
			in_str = true;
		if (c >= '0' && c <= '9' && (i == 0 || !(s[i - 1] >= '0' && s[i - 1] <= '9'))) {
			size_t j = i;
			while (j < len && s[j] >= '0' && s[j] <= '9')
				j++;
			/* more than 19 digits, or 19 above INT64_MAX's; not a fraction or exponent */
			bool big = j - i > 19 || (j - i == 19 && memcmp(s + i, "9223372036854775807", 19) > 0);
			bool frac = j < len && (s[j] == '.' || s[j] == 'e' || s[j] == 'E');
			if (big && !frac && (i == 0 || s[i - 1] != '-')) {
				buf_adds(&b, "-1");
				changed = true;
				i = j;
				continue;
			}
			buf_add(&b, s + i, j - i);
			i = j;
			continue;
		}
		buf_addch(&b, c);
		i++;
	}
	if (!changed) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

/*
 * Next message into *msg (new reference), waiting until deadline (-1: no
 * limit).  0, or -ETIMEDOUT, -EPIPE (EOF, read error), -EPROTO (not a JSON
 * object, too long) with the reason in err.
 */
static int qmp_read_msg(struct qmp *q, int64_t deadline, json_t **msg, struct buf *err)
{
	for (;;) {
		char *base = q->in.s + q->start;
		char *nl = memchr(q->in.s + q->scanned, '\n', q->in.len - q->scanned);

		if (nl) {
			size_t len = (size_t)(nl - base);
			json_error_t jerr;
			json_t *j = NULL;

			if (len > QMP_MSG_MAX)
				break;
			if (!is_blank(base, len)) {
				j = json_loadb(base, len, 0, &jerr);
				if (!j) {
					__do_free char *fixed = qmp_clamp_u64(base, len);
					if (fixed)
						j = json_loads(fixed, 0, &jerr);
				}
				if (!json_is_object(j)) {
					set_err(err, "invalid QMP message from QEMU: %s",
						j ? "not a JSON object" : jerr.text);
					json_decref(j);
					return -EPROTO;
				}
			}
			q->start = q->scanned = q->start + len + 1;
			if (j) {
				*msg = j;
				return 0;
			}
			continue;
		}
		q->scanned = q->in.len;
		if (q->in.len - q->start > QMP_MSG_MAX)
			break;

		/* Out of complete lines: compact, then read more. */
		if (q->start) {
			memmove(q->in.s, q->in.s + q->start, q->in.len - q->start);
			q->in.len -= q->start;
			q->scanned -= q->start;
			q->start = 0;
		}
		struct pollfd pfd = { .fd = q->fd, .events = POLLIN };
		int r = poll(&pfd, 1, left_ms(deadline));
		if (r < 0 && errno != EINTR) {
			set_err(err, "poll on QMP socket: %s", strerror(errno));
			return -EPIPE;
		}
		if (r == 0 && deadline >= 0 && time_mono_ms() >= deadline) {
			set_err(err, "timed out waiting for QEMU");
			return -ETIMEDOUT;
		}
		if (r <= 0)
			continue;
		buf_grow(&q->in, QMP_READ_CHUNK);
		ssize_t n = recv(q->fd, q->in.s + q->in.len, QMP_READ_CHUNK, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			set_err(err, "QEMU closed the QMP connection");
			return -EPIPE;
		}
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			set_err(err, "read from QMP socket: %s", strerror(errno));
			return -EPIPE;
		}
		q->in.len += (size_t)n;
		q->in.s[q->in.len] = '\0';
	}
	set_err(err, "QMP message from QEMU exceeds %u bytes", QMP_MSG_MAX);
	return -EPROTO;
}

/*
 * Write all of b before deadline, as the only writer.  -ETIMEDOUT, or -EPIPE
 * if the socket is gone.  A write error or a message cut short leaves the
 * stream unusable, so then the socket is shut down (the reader reports the
 * loss to everyone).
 */
static int qmp_send(struct qmp *q, const struct buf *b, int fd, int64_t deadline, struct buf *err)
{
	size_t off = 0;
	int r = 0;

	pthread_mutex_lock(&q->lock);
	while (q->writing && time_mono_ms() < deadline)
		cond_wait_until(q, deadline);
	if (q->writing) {
		pthread_mutex_unlock(&q->lock);
		set_err(err, "timed out waiting to send to QEMU");
		return -ETIMEDOUT;
	}
	q->writing = true;
	pthread_mutex_unlock(&q->lock);
	while (off < b->len) {
		ssize_t n;
		if (fd >= 0) {
			/* The fd rides along with the message's first bytes (SCM_RIGHTS). */
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} ctl;
			struct iovec iov = { .iov_base = b->s + off, .iov_len = b->len - off };
			struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
					      .msg_controllen = sizeof(ctl.buf) };
			memset(ctl.buf, 0, sizeof(ctl.buf));
			struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
			n = sendmsg(q->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0)
				fd = -1;
		} else {
			n = send(q->fd, b->s + off, b->len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			set_err(err, "write to QMP socket: %s", strerror(errno));
			r = -EPIPE;
			break;
		}
		struct pollfd pfd = { .fd = q->fd, .events = POLLOUT };
		if (poll(&pfd, 1, left_ms(deadline)) == 0 && time_mono_ms() >= deadline) {
			set_err(err, "timed out sending to QEMU");
			r = -ETIMEDOUT;
			break;
		}
	}
	if (r == -EPIPE || (r < 0 && off > 0))
		shutdown(q->fd, SHUT_RDWR);
	pthread_mutex_lock(&q->lock);
	q->writing = false;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return r;
}

static int dump_to_buf(const char *s, size_t n, void *b)
{
	buf_add(b, s, n);
	return 0;
}

/* Serialise {"execute": cmd, "id": id, "arguments": args} plus a newline. */
static int qmp_format(struct buf *out, const char *cmd, const char *id, json_t *args)
{
	__do_json json_t *msg = json_pack("{s:s, s:s}", "execute", cmd, "id", id);

	if (!msg || (args && json_object_set(msg, "arguments", args) < 0))
		return -EINVAL;
	if (json_dump_callback(msg, dump_to_buf, out, JSON_COMPACT) < 0)
		return -EINVAL;
	buf_addch(out, '\n');
	return 0;
}

static void qmp_deliver_event(struct qmp *q, const char *name, json_t *msg)
{
	json_t *ts = json_object_get(msg, "timestamp");
	json_t *sec = json_object_get(ts, "seconds");
	json_t *usec = json_object_get(ts, "microseconds");
	int64_t ts_ms = time_wall_ms();

	if (json_is_integer(sec) && json_is_integer(usec))
		ts_ms = json_integer_value(sec) * 1000 + json_integer_value(usec) / 1000;
	const char *st = strcmp(name, "JOB_STATUS_CHANGE") == 0
				 ? json_string_value(json_object_get(json_object_get(msg, "data"), "status"))
				 : NULL;
	pthread_mutex_lock(&q->lock);
	q->ev_gen++;
	if (st && (strcmp(st, "concluded") == 0 || strcmp(st, "null") == 0))
		q->job_gen++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (q->on_event)
		q->on_event(q->opaque, name, json_object_get(msg, "data"), ts_ms);
}

/* Route one message; takes msg (a reply goes whole to its waiter). */
static void qmp_dispatch(struct qmp *q, json_t *msg)
{
	const char *event = json_string_value(json_object_get(msg, "event"));
	const char *id = json_string_value(json_object_get(msg, "id"));
	struct qmp_call *c;

	if (event) {
		qmp_deliver_event(q, event, msg);
	} else if (!id || !(json_object_get(msg, "return") || json_object_get(msg, "error"))) {
		log_debug("qmp: dropping message that is neither event nor reply");
	} else {
		pthread_mutex_lock(&q->lock);
		for (c = q->calls; c && (c->reply || strcmp(c->id, id) != 0); c = c->next)
			;
		if (c) {
			c->reply = move_ptr(msg);
			pthread_cond_broadcast(&q->cond);
		}
		pthread_mutex_unlock(&q->lock);
		if (!c)
			log_debug("qmp: dropping reply with unknown id %s", id);
	}
	json_decref(msg);
}

static void *qmp_reader(void *arg)
{
	struct qmp *q = arg;
	__do_buf struct buf why = BUF_INIT;
	json_t *msg;
	bool closing;
	int r;

	while ((r = qmp_read_msg(q, -1, &msg, &why)) == 0)
		qmp_dispatch(q, msg);
	shutdown(q->fd, SHUT_RDWR);
	pthread_mutex_lock(&q->lock);
	closing = q->closing;
	q->open = false;
	q->lost_reason = buf_detach(&why);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (closing)
		return NULL;
	if (r == -EPROTO)
		log_warn("qmp: %s; closing the connection", q->lost_reason);
	if (q->on_eof)
		q->on_eof(q->opaque);
	return NULL;
}

static int qmp_reply_result(json_t *reply, json_t **ret, struct buf *err)
{
	json_t *rv = json_object_get(reply, "return");
	json_t *e = json_object_get(reply, "error");
	const char *cls = json_string_value(json_object_get(e, "class"));
	const char *desc = json_string_value(json_object_get(e, "desc"));

	if (rv) {
		if (ret)
			*ret = json_incref(rv);
		return 0;
	}
	set_err(err, "%s: %s", cls ? cls : "GenericError", desc ? desc : "(no description)");
	return -EIO;
}

static int execute(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret, int timeout_ms,
		   struct buf *err)
{
	__do_json json_t *owned_args = args;
	__do_json json_t *reply = NULL;
	__do_buf struct buf out = BUF_INIT;
	struct qmp_call call = { 0 }, **pp;
	int64_t deadline = deadline_after(timeout_ms);
	bool open;
	int r;

	if (args && !json_is_object(args)) {
		set_err(err, "arguments of QMP command %s are not an object", cmd);
		return -EINVAL;
	}
	pthread_mutex_lock(&q->lock);
	snprintf(call.id, sizeof(call.id), "corral-%" PRIu64, ++q->next_id);
	pthread_mutex_unlock(&q->lock);
	if (qmp_format(&out, cmd, call.id, args) < 0) {
		set_err(err, "cannot encode QMP command %s", cmd);
		return -EINVAL;
	}

	pthread_mutex_lock(&q->lock);
	if (!q->open) {
		set_err(err, "QMP connection lost: %s", q->lost_reason);
		pthread_mutex_unlock(&q->lock);
		return -EPIPE;
	}
	call.next = q->calls;
	q->calls = &call;
	pthread_mutex_unlock(&q->lock);

	r = qmp_send(q, &out, fd, deadline, err);

	pthread_mutex_lock(&q->lock);
	while (r == 0 && !call.reply && q->open && time_mono_ms() < deadline)
		cond_wait_until(q, deadline);
	for (pp = &q->calls; *pp != &call; pp = &(*pp)->next)
		;
	*pp = call.next;
	reply = call.reply;
	open = q->open;
	if (r == 0 && !reply && !open)
		set_err(err, "QMP connection lost: %s", q->lost_reason);
	pthread_mutex_unlock(&q->lock);

	if (r < 0)
		return r;
	if (!reply) {
		if (!open)
			return -EPIPE;
		set_err(err, "timed out after %d ms waiting for QEMU to answer %s",
			timeout_ms > 0 ? timeout_ms : QMP_DEFAULT_TIMEOUT_MS, cmd);
		return -ETIMEDOUT;
	}
	return qmp_reply_result(reply, ret, err);
}

int qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
		struct buf *err)
{
	return execute(q, cmd, args, -1, ret, timeout_ms, err);
}

int qmp_execute_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret, int timeout_ms,
		   struct buf *err)
{
	if (fd < 0) {
		json_decref(args);
		set_err(err, "no file descriptor to pass with QMP command %s", cmd);
		return -EBADF;
	}
	return execute(q, cmd, args, fd, ret, timeout_ms, err);
}

static int qmp_job_finish(struct qmp *q, const char *job_id, json_t *job, int64_t deadline,
			  struct buf *err)
{
	const char *job_err = json_string_value(json_object_get(job, "error"));
	int left = left_ms(deadline);
	int r;

	r = qmp_execute(q, "job-dismiss", json_pack("{s:s}", "id", job_id), NULL,
			left < QMP_DISMISS_MIN_MS ? QMP_DISMISS_MIN_MS : left, err);
	if (job_err) {
		set_err(err, "%s", job_err);
		return -EIO;
	}
	return r;
}

int qmp_job_query(struct qmp *q, const char *job_id, json_t **job, int timeout_ms, struct buf *err)
{
	__do_json json_t *jobs = NULL;
	json_t *it;
	size_t i;
	int r = qmp_execute(q, "query-jobs", NULL, &jobs, timeout_ms, err);

	*job = NULL;
	if (r < 0)
		return r;
	json_array_foreach(jobs, i, it) {
		const char *id = json_string_value(json_object_get(it, "id"));
		if (id && strcmp(id, job_id) == 0) {
			*job = json_incref(it);
			return 0;
		}
	}
	set_err(err, "QEMU has no job %s", job_id);
	return -ENOENT;
}

int qmp_job_wait(struct qmp *q, const char *job_id, int timeout_ms, struct buf *err)
{
	int64_t deadline = deadline_after(timeout_ms);

	for (;;) {
		__do_json json_t *job = NULL;
		const char *status;
		uint64_t gen;
		int r;

		pthread_mutex_lock(&q->lock);
		gen = q->job_gen;
		pthread_mutex_unlock(&q->lock);

		if ((r = qmp_job_query(q, job_id, &job, left_ms(deadline), err)) < 0)
			return r;
		status = json_string_value(json_object_get(job, "status"));
		if (status && strcmp(status, "concluded") == 0)
			return qmp_job_finish(q, job_id, job, deadline, err);
		if (time_mono_ms() >= deadline) {
			set_err(err, "timed out waiting for job %s (status %s)", job_id,
				status ? status : "unknown");
			return -ETIMEDOUT;
		}

		int64_t until = time_mono_ms() + QMP_JOB_POLL_MS;
		if (until > deadline)
			until = deadline;
		pthread_mutex_lock(&q->lock);
		while (gen == q->job_gen && q->open && time_mono_ms() < until)
			cond_wait_until(q, until);
		pthread_mutex_unlock(&q->lock);
	}
}

uint64_t qmp_events_seen(struct qmp *q)
{
	pthread_mutex_lock(&q->lock);
	uint64_t gen = q->ev_gen;
	pthread_mutex_unlock(&q->lock);
	return gen;
}

void qmp_events_wait(struct qmp *q, uint64_t seen, int timeout_ms)
{
	int64_t until = deadline_after(timeout_ms);

	pthread_mutex_lock(&q->lock);
	while (seen == q->ev_gen && q->open && time_mono_ms() < until)
		cond_wait_until(q, until);
	pthread_mutex_unlock(&q->lock);
}

static void qmp_free(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	buf_release(&q->in);
	free(q->lost_reason);
	free(q);
}

/* Greeting, then qmp_capabilities; no reader thread runs yet. */
static int qmp_handshake(struct qmp *q, int64_t deadline, struct buf *err)
{
	__do_json json_t *greeting = NULL;
	__do_buf struct buf out = BUF_INIT;
	__do_buf struct buf why = BUF_INIT;
	char id[32];
	int r;

	r = qmp_read_msg(q, deadline, &greeting, &why);
	if (r < 0) {
		set_err(err, "reading the QMP greeting: %s", why.s);
		return r;
	}
	if (!json_is_object(json_object_get(greeting, "QMP"))) {
		set_err(err, "QMP greeting expected, QEMU sent something else");
		return -EPROTO;
	}
	snprintf(id, sizeof(id), "corral-%" PRIu64, ++q->next_id);
	qmp_format(&out, "qmp_capabilities", id, NULL);
	r = qmp_send(q, &out, -1, deadline, &why);
	while (r == 0) {
		__do_json json_t *msg = NULL;
		const char *msg_id;

		r = qmp_read_msg(q, deadline, &msg, &why);
		msg_id = r == 0 ? json_string_value(json_object_get(msg, "id")) : NULL;
		if (msg_id && strcmp(msg_id, id) == 0) {
			r = qmp_reply_result(msg, NULL, &why);
			break;
		}
	}
	if (r < 0)
		set_err(err, "qmp_capabilities: %s", why.s);
	return r;
}

struct qmp *qmp_connect_fd(int fd, int timeout_ms, qmp_event_cb on_event, qmp_eof_cb on_eof,
			   void *opaque, struct buf *err)
{
	int64_t deadline = deadline_after(timeout_ms);
	pthread_condattr_t ca;
	sigset_t all, old;
	struct qmp *q;
	int r;

	if (fd < 0) {
		set_err(err, "no QMP socket");
		return NULL;
	}
	q = xcalloc(1, sizeof(*q));
	q->fd = fd;
	q->open = true;
	q->on_event = on_event;
	q->on_eof = on_eof;
	q->opaque = opaque;
	q->in = (struct buf)BUF_INIT;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);

	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		set_err(err, "QMP socket: %s", strerror(errno));
		qmp_free(q);
		return NULL;
	}
	if (qmp_handshake(q, deadline, err) < 0) {
		qmp_free(q);
		return NULL;
	}
	/* Signals belong to the daemon's other threads, never to the reader. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&q->reader, NULL, qmp_reader, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		set_err(err, "cannot start the QMP reader thread: %s", strerror(r));
		qmp_free(q);
		return NULL;
	}
	return q;
}

struct qmp *qmp_connect(const char *path, int timeout_ms, qmp_event_cb on_event,
			qmp_eof_cb on_eof, void *opaque, struct buf *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t deadline = deadline_after(timeout_ms);
	size_t len = strlen(path);

	if (len >= sizeof(sa.sun_path)) {
		set_err(err, "QMP socket path too long: %s", path);
		return NULL;
	}
	memcpy(sa.sun_path, path, len + 1);
	for (;;) {
		__do_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			set_err(err, "socket: %s", strerror(errno));
			return NULL;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return qmp_connect_fd(move_fd(fd), left_ms(deadline), on_event, on_eof,
					      opaque, err);
		int e = errno;
		if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN && e != EINTR) ||
		    time_mono_ms() >= deadline) {
			set_err(err, "connect to QMP socket %s: %s", path, strerror(e));
			return NULL;
		}
		time_sleep_ms(QMP_CONNECT_RETRY_MS);
	}
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->closing = true;
	pthread_mutex_unlock(&q->lock);
	shutdown(q->fd, SHUT_RDWR);
	pthread_join(q->reader, NULL);
	qmp_free(q);
}

bool qmp_is_open(struct qmp *q)
{
	bool open;

	if (!q)
		return false;
	pthread_mutex_lock(&q->lock);
	open = q->open;
	pthread_mutex_unlock(&q->lock);
	return open;
}
