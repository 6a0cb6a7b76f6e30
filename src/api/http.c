/*
 * http.c - see http.h: the server itself.  MHD setup and stop, requests
 * from the first byte to the worker pool, replies from struct http_reply to
 * MHD responses, and upgraded connections.
 *
 * A request's life: MHD reads the request line and calls on_uri(), which
 * allocates the struct http_req (MHD's per-request pointer) and splits the
 * raw request-target into path and decoded query arguments.  The first
 * on_request() call (head complete) refuses what is bad before any body
 * arrives (query encoding 400, Content-Length over HTTP_MAX_BODY 413) and
 * starts the body deadline; later calls collect the body; the last one
 * suspends the connection and submits the request to the pool.  A worker
 * runs the router, queues the reply on the suspended connection and
 * resumes it; MHD sends it from its I/O thread.  on_completed() frees the
 * request and, on a kept-alive connection, starts the next head deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_internal.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

/* File descriptors kept free for the rest of corrald (database, QMP
 * sockets, image files); each connection may hold two (socket, stream). */
#define HTTP_FD_RESERVE 256
#define HTTP_LISTEN_BACKLOG 128
#define STOP_FLUSH_MS 2000	/* at stop, how long queued replies get to be written */

/* An upgrade between the 101 being queued and its handler's end. */
struct upgrade_job {
	struct http_server *srv;
	http_upgrade_cb cb;
	void *opaque;
	int fd;
	int hup_fd; /* over TLS: the TCP socket, watched for the client hanging up; else -1 */
	struct MHD_UpgradeResponseHandle *urh;
	struct upgrade_job *prev, *next; /* in srv->relays while the fd is ours */
};

struct http_server {
	struct http_config cfg;
	http_router router;
	char *sock_path;
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *mhd_tls; /* the TCP door, or NULL */
	bool listening;
	struct http_conns *conns;
	struct http_pool *pool;
	struct http_watcher *watcher;
	pthread_mutex_t relay_lock;
	pthread_cond_t relay_done; /* CLOCK_MONOTONIC */
	struct upgrade_job *relays; /* handlers whose socket is still open */
	unsigned nrelays;           /* handler threads not yet finished */
	bool relays_stop;
	atomic_uint sending;        /* replies queued, not yet completed (written, or their connection gone) */
};

struct http_arg {
	char *key, *value;
};

struct http_req {
	struct http_request pub;
	struct http_server *srv;
	struct MHD_Connection *mc;
	struct http_conn *conn;
	char peer[INET6_ADDRSTRLEN + 8];
	char client_fp[96];       /* pub.client_fp points here when set */
	gnutls_datum_t client_cert; /* DER copy, or size 0 */
	char *target;             /* raw request-target, cut at '?': pub.path */
	struct http_arg *args;
	size_t nargs;
	const char *bad;          /* answer 400 with this before routing */
	struct buf body;
	bool started, too_big, dispatched;
	bool sending;             /* its reply is queued: counted in srv->sending */
	struct upgrade_job *upgrade; /* 101 queued, handler not started yet */
};

/* ---- router helpers ----------------------------------------------------- */

const char *http_query(const struct http_request *req, const char *key)
{
	const struct http_req *r = req->priv;
	for (size_t i = 0; i < r->nargs; i++)
		if (strcmp(r->args[i].key, key) == 0)
			return r->args[i].value;
	return NULL;
}

const char *http_query_key(const struct http_request *req, size_t i)
{
	const struct http_req *r = req->priv;
	return i < r->nargs ? r->args[i].key : NULL;
}

char *http_client_cert_pem(const struct http_request *req)
{
	const struct http_req *r = req->priv;
	gnutls_datum_t pem = { NULL, 0 };
	char *out;

	if (!r->client_cert.size || gnutls_pem_base64_encode2("CERTIFICATE", &r->client_cert, &pem) < 0)
		return NULL;
	out = xstrndup((const char *)pem.data, pem.size);
	gnutls_free(pem.data);
	return out;
}

const char *http_header(const struct http_request *req, const char *name)
{
	/* The connection is suspended while a router runs: its headers stay put. */
	return MHD_lookup_connection_value(req->priv->mc, MHD_HEADER_KIND, name);
}

void http_reply_json(struct http_reply *rep, int status, json_t *j)
{
	rep->status = status;
	json_decref(rep->json);
	rep->json = j;
}

void http_reply_error(struct http_reply *rep, int status, const char *code, const char *msg)
{
	http_reply_json(rep, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void http_reply_header(struct http_reply *rep, const char *name, const char *value)
{
	buf_add(&rep->headers, name, strlen(name) + 1);
	buf_add(&rep->headers, value, strlen(value) + 1);
}

void http_reply_stream(struct http_reply *rep, int fd, uint64_t size)
{
	json_decref(rep->json);
	rep->json = NULL;
	if (rep->stream)
		close(rep->stream_fd);
	rep->status = 200;
	rep->stream = true;
	rep->stream_fd = fd;
	rep->stream_size = size;
}

#define HTTP_REPLY_INIT { .status = 200, .text = BUF_INIT, .headers = BUF_INIT, .stream_fd = -1 }

/* Free what the reply still owns; an upgrade never handed over is told so. */
static void reply_release(struct http_reply *rep)
{
	json_decref(rep->json);
	buf_release(&rep->text);
	buf_release(&rep->headers);
	if (rep->upgrade_cb && rep->upgrade_opaque)
		rep->upgrade_cb(-1, rep->upgrade_opaque);
	if (rep->stream)
		close(rep->stream_fd);
}

/* ---- upgraded connections ------------------------------------------------ */

/*
 * Over TLS, libmicrohttpd (0.9.75, epoll) relays an upgraded connection's
 * bytes through a socket pair but does not pass the client's hang-up on to
 * it: the handler would wait for ever (and a console slot stay taken).  So
 * a thread watches the TCP socket for the peer's hang-up (POLLRDHUP only,
 * never reading it: its bytes are the TLS engine's) and then shuts the
 * handler's socket down, as http_stop does.
 */
struct hup_watch {
	int tcp_fd, app_fd;
	int stop[2]; /* a byte here: the handler returned, stop watching */
};

static void *hup_main(void *arg)
{
	struct hup_watch *w = arg;

	for (;;) {
		struct pollfd p[2] = { { w->tcp_fd, POLLRDHUP, 0 }, { w->stop[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) {
			shutdown(w->app_fd, SHUT_RDWR);
			break;
		}
	}
	return NULL;
}

static void *relay_main(void *arg)
{
	struct upgrade_job *job = arg;
	struct http_server *srv = job->srv;
	struct hup_watch w = { job->hup_fd, job->fd, { -1, -1 } };
	pthread_t watcher;
	bool watching = false;

	if (job->hup_fd >= 0 && pipe2(w.stop, O_CLOEXEC) == 0) {
		watching = pthread_create(&watcher, NULL, hup_main, &w) == 0;
		if (!watching) {
			log_warn("cannot watch an upgraded TLS connection for its client hanging up");
			close(w.stop[0]);
			close(w.stop[1]);
		}
	}
	job->cb(job->fd, job->opaque);
	if (watching) {
		ssize_t n;
		do
			n = write(w.stop[1], "x", 1);
		while (n < 0 && errno == EINTR);
		pthread_join(watcher, NULL);
		close(w.stop[0]);
		close(w.stop[1]);
	}
	/* Leave the list before MHD may close (and the kernel reuse) the fd. */
	pthread_mutex_lock(&srv->relay_lock);
	if (job->prev)
		job->prev->next = job->next;
	else
		srv->relays = job->next;
	if (job->next)
		job->next->prev = job->prev;
	pthread_mutex_unlock(&srv->relay_lock);
	MHD_upgrade_action(job->urh, MHD_UPGRADE_ACTION_CLOSE);
	free(job);
	pthread_mutex_lock(&srv->relay_lock);
	srv->nrelays--;
	pthread_cond_broadcast(&srv->relay_done);
	pthread_mutex_unlock(&srv->relay_lock);
	return NULL;
}

/* MHD sent the 101: on an I/O thread, hand the socket to a thread of its own. */
static void on_upgrade(void *cls, struct MHD_Connection *mc, void *req_cls, const char *extra_in,
		       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct http_server *srv = cls;
	struct http_req *r = req_cls;
	struct upgrade_job *job = r ? r->upgrade : NULL;
	pthread_attr_t attr;
	pthread_t t;
	int fl, e;
	(void)extra_in;
	(void)extra_in_size; /* clients wait for the 101 before sending */

	if (!job) {
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
		return;
	}
	r->upgrade = NULL;
	job->fd = sock;
	job->urh = urh;
	if (r->pub.remote) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		job->hup_fd = ci ? ci->connect_fd : -1;
	}
	MHD_set_connection_option(mc, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	if (r->conn)
		http_conns_phase(srv->conns, r->conn, HTTP_CONN_UPGRADED);
	/* MHD sockets are non-blocking; handlers want blocking I/O with poll. */
	if ((fl = fcntl(sock, F_GETFL)) >= 0)
		fcntl(sock, F_SETFL, fl & ~O_NONBLOCK);

	pthread_mutex_lock(&srv->relay_lock);
	if (srv->relays_stop) {
		pthread_mutex_unlock(&srv->relay_lock);
		e = ESHUTDOWN;
		goto refuse;
	}
	job->next = srv->relays;
	if (srv->relays)
		srv->relays->prev = job;
	srv->relays = job;
	srv->nrelays++;
	pthread_mutex_unlock(&srv->relay_lock);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	e = pthread_create(&t, &attr, relay_main, job);
	pthread_attr_destroy(&attr);
	if (e == 0)
		return;
	log_msg(LOG_LVL_ERROR, e, "cannot start a thread for an upgraded connection");
	pthread_mutex_lock(&srv->relay_lock);
	if (job->prev)
		job->prev->next = job->next;
	else
		srv->relays = job->next;
	if (job->next)
		job->next->prev = job->prev;
	srv->nrelays--;
	pthread_mutex_unlock(&srv->relay_lock);
refuse:
	job->cb(-1, job->opaque);
	MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	free(job);
}

/* Shut the upgraded sockets down so their handlers return; wait until `end`. 0 or -ETIMEDOUT. */
static int relays_stop(struct http_server *srv, int64_t end)
{
	struct timespec ts = { .tv_sec = end / 1000, .tv_nsec = (end % 1000) * 1000000 };
	int r = 0;

	pthread_mutex_lock(&srv->relay_lock);
	srv->relays_stop = true;
	for (struct upgrade_job *j = srv->relays; j; j = j->next)
		shutdown(j->fd, SHUT_RDWR);
	while (srv->nrelays && pthread_cond_timedwait(&srv->relay_done, &srv->relay_lock, &ts) != ETIMEDOUT)
		;
	if (srv->nrelays) {
		log_warn("%u upgraded connection handler%s still running", srv->nrelays, srv->nrelays == 1 ? "" : "s");
		r = -ETIMEDOUT;
	}
	pthread_mutex_unlock(&srv->relay_lock);
	return r;
}

/* ---- replies ------------------------------------------------------------- */

static bool headers_have(const struct buf *h, const char *name)
{
	for (size_t i = 0; i < h->len;) {
		const char *n = h->s + i, *v = n + strlen(n) + 1;
		if (strcasecmp(n, name) == 0)
			return true;
		i = (size_t)(v - h->s) + strlen(v) + 1;
	}
	return false;
}

/* MHD response for rep (taking what it needs from it) and its status; NULL on failure. */
static struct MHD_Response *reply_build(struct http_req *r, struct http_reply *rep, unsigned *status)
{
	struct http_server *srv = r->srv;
	struct MHD_Response *resp;
	const char *ctype;

	*status = (unsigned)rep->status;
	if (rep->upgrade_cb) {
		struct upgrade_job *job = xcalloc(1, sizeof(*job));
		job->srv = srv;
		job->hup_fd = -1;
		resp = MHD_create_response_for_upgrade(on_upgrade, srv);
		if (!resp) {
			free(job);
			return NULL;
		}
		job->cb = rep->upgrade_cb;
		job->opaque = rep->upgrade_opaque;
		rep->upgrade_opaque = NULL;
		r->upgrade = job;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, r->pub.upgrade ? r->pub.upgrade : "");
		for (size_t i = 0; i < rep->headers.len;) { /* e.g. Sec-WebSocket-Accept */
			const char *n = rep->headers.s + i, *v = n + strlen(n) + 1;
			MHD_add_response_header(resp, n, v);
			i = (size_t)(v - rep->headers.s) + strlen(v) + 1;
		}
		*status = MHD_HTTP_SWITCHING_PROTOCOLS;
		return resp;
	}
	if (rep->stream) {
		rep->stream = false; /* the response owns the fd now, even on failure */
		resp = http_stream_response(srv->watcher, r->mc, r->conn ? r->conn->fd : -1, rep->stream_fd,
					    rep->stream_size);
		ctype = "application/octet-stream";
	} else if (rep->json) {
		char *s = json_dumps(rep->json, JSON_COMPACT);
		struct buf b = BUF_INIT;
		buf_adds(&b, s ? s : "{}");
		buf_addch(&b, '\n');
		free(s);
		size_t n = b.len;
		resp = MHD_create_response_from_buffer(n, buf_detach(&b), MHD_RESPMEM_MUST_FREE);
		ctype = "application/json";
	} else {
		size_t n = rep->text.len;
		resp = MHD_create_response_from_buffer(n, buf_detach(&rep->text), MHD_RESPMEM_MUST_FREE);
		ctype = "text/plain; charset=utf-8";
	}
	if (!resp)
		return NULL;
	for (size_t i = 0; i < rep->headers.len;) {
		const char *n = rep->headers.s + i, *v = n + strlen(n) + 1;
		if (MHD_add_response_header(resp, n, v) != MHD_YES)
			log_warn("HTTP reply header %s refused (empty or with a line break)", n);
		i = (size_t)(v - rep->headers.s) + strlen(v) + 1;
	}
	if (!headers_have(&rep->headers, MHD_HTTP_HEADER_CONTENT_TYPE))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	return resp;
}

/* Queue rep on r's connection (the I/O thread in on_request, or a suspended
 * connection from any thread).  On failure the connection ends. */
static void reply_send(struct http_req *r, struct http_reply *rep)
{
	unsigned status;
	struct MHD_Response *resp = reply_build(r, rep, &status);

	if (resp && MHD_queue_response(r->mc, status, resp) == MHD_YES) {
		MHD_destroy_response(resp);
		if (!r->sending) { /* before the connection is resumed: on_completed sees it */
			r->sending = true;
			atomic_fetch_add(&r->srv->sending, 1);
		}
		return;
	}
	log_warn("cannot queue the HTTP %u reply to %s %s", status, r->pub.method, r->pub.path);
	if (resp)
		MHD_destroy_response(resp);
	if (r->upgrade) {
		r->upgrade->cb(-1, r->upgrade->opaque);
		free(r->upgrade);
		r->upgrade = NULL;
	}
}

/* Answer r with an error now; Retry-After when retry_s > 0. */
static void req_answer(struct http_req *r, int status, const char *code, const char *msg, int retry_s)
{
	struct http_reply rep = HTTP_REPLY_INIT;
	char n[16];

	http_reply_error(&rep, status, code, msg);
	/* Refused before routing: the client may still be sending; do not read on. */
	http_reply_header(&rep, MHD_HTTP_HEADER_CONNECTION, "close");
	if (retry_s > 0) {
		snprintf(n, sizeof(n), "%d", retry_s);
		http_reply_header(&rep, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	reply_send(r, &rep);
	reply_release(&rep);
}

/* ---- requests ------------------------------------------------------------ */

static struct http_conn *conn_of(struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void req_free(struct http_req *r)
{
	for (size_t i = 0; i < r->nargs; i++) {
		free(r->args[i].key);
		free(r->args[i].value);
	}
	free(r->args);
	free(r->target);
	free(r->client_cert.data);
	buf_release(&r->body);
	free(r);
}

/* Split "a=1&b=x%20y" into decoded arguments; false on bad percent-encoding. */
static bool req_parse_query(struct http_req *r, const char *q)
{
	while (*q) {
		size_t n = strcspn(q, "&"), k = strcspn(q, "=");
		if (n) {
			struct http_arg a = { NULL, NULL };
			if (k > n)
				k = n;
			if (str_url_decode(q, k, true, &a.key) < 0)
				return false;
			if (str_url_decode(q + k + (k < n), n - k - (k < n), true, &a.value) < 0) {
				free(a.key);
				return false;
			}
			r->args = xrealloc(r->args, (r->nargs + 1) * sizeof(*r->args));
			r->args[r->nargs++] = a;
		}
		q += n + (q[n] == '&');
	}
	return true;
}

/* Which door: the unix socket's clients have an AF_UNIX address. */
static void req_peer(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(r->peer, sizeof(r->peer), "unix");
	if (sa && sa->sa_family == AF_INET) {
		r->pub.remote = true;
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer, sizeof(r->peer));
	} else if (sa && sa->sa_family == AF_INET6) {
		r->pub.remote = true;
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer, sizeof(r->peer));
	} else if (!sa || sa->sa_family != AF_UNIX) {
		r->pub.remote = true; /* unknown: treat as the network */
		snprintf(r->peer, sizeof(r->peer), "unknown");
	}
	r->pub.peer = r->peer;
}

/* The certificate a TLS client presented (the handshake is over by now, and
 * GnuTLS checked its CertificateVerify: the client holds the key). */
static void req_client_cert(struct http_req *r)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	const gnutls_datum_t *certs;
	unsigned n = 0;
	unsigned char md[32];
	size_t mdlen = sizeof(md);

	if (!s || !(certs = gnutls_certificate_get_peers(s, &n)) || n == 0 || !certs[0].size)
		return;
	if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &certs[0], md, &mdlen) < 0 || mdlen != sizeof(md))
		return;
	for (size_t i = 0; i < mdlen; i++)
		snprintf(r->client_fp + 3 * i, 4, "%02X%s", md[i], i + 1 < mdlen ? ":" : "");
	r->client_cert.data = xmalloc(certs[0].size);
	memcpy(r->client_cert.data, certs[0].data, certs[0].size);
	r->client_cert.size = certs[0].size;
	r->pub.client_fp = r->client_fp;
}

/* MHD has the request line: the raw target, before MHD decodes anything. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct http_req *r = xcalloc(1, sizeof(*r));
	char *q;

	r->srv = cls;
	r->mc = mc;
	r->conn = conn_of(mc);
	r->body = (struct buf)BUF_INIT;
	r->target = xstrdup(uri ? uri : "");
	if ((q = strchr(r->target, '?'))) {
		*q++ = '\0';
		if (!req_parse_query(r, q))
			r->bad = "malformed percent-encoding in the query string";
	}
	r->pub.path = r->target;
	r->pub.priv = r;
	req_peer(r);
	if (r->pub.remote)
		req_client_cert(r);
	return r;
}

/* A Content-Length value over HTTP_MAX_BODY (MHD itself refuses malformed ones). */
static bool length_too_big(const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = v ? strtoull(v, &end, 10) : 0;
	return v && (errno == ERANGE || n > HTTP_MAX_BODY);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct http_server *srv = cls;
	struct http_req *r = *req_cls;
	(void)url; /* the raw path from on_uri is what routers get */
	(void)version;

	if (!r)
		return MHD_NO;
	if (!r->started) { /* head complete, no body read yet */
		r->started = true;
		r->pub.method = method;
		if (r->bad) {
			req_answer(r, 400, "invalid_argument", r->bad, 0);
			return MHD_YES;
		}
		if (length_too_big(MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH))) {
			req_answer(r, 413, "invalid_argument", "request body larger than 1 MiB", 0);
			return MHD_YES;
		}
		if (r->conn)
			http_conns_phase(srv->conns, r->conn, HTTP_CONN_BODY);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (r->too_big || r->body.len + *upload_data_size > HTTP_MAX_BODY) {
			r->too_big = true; /* chunked: keep reading (the body deadline bounds it), answer 413 */
			buf_release(&r->body);
		} else {
			buf_add(&r->body, upload_data, *upload_data_size);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->dispatched) /* resumed without a reply: the reply could not be queued */
		return MHD_NO;
	r->dispatched = true;
	if (r->conn)
		http_conns_phase(srv->conns, r->conn, HTTP_CONN_BUSY);
	if (r->too_big) {
		req_answer(r, 413, "invalid_argument", "request body larger than 1 MiB", 0);
		return MHD_YES;
	}
	r->pub.upgrade = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
	r->pub.body = r->body.s;
	r->pub.body_len = r->body.len;
	/* Suspend before a worker can see it: its resume must follow. */
	MHD_suspend_connection(mc);
	if (!http_pool_submit(srv->pool, r)) {
		req_answer(r, 503, "unavailable", "corrald is overloaded or stopping; retry later", 1);
		MHD_resume_connection(mc);
	}
	return MHD_YES;
}

/* A worker: route, queue the reply, resume the connection (r may be gone after). */
static void req_run(void *item, void *arg)
{
	struct http_server *srv = arg;
	struct http_req *r = item;
	struct MHD_Connection *mc = r->mc;
	struct http_reply rep = HTTP_REPLY_INIT;

	srv->router(&r->pub, &rep);
	reply_send(r, &rep);
	reply_release(&rep);
	MHD_resume_connection(mc);
}

/* http_stop: a request still queued gets 503. */
static void req_reject(void *item, void *arg)
{
	struct http_req *r = item;
	struct MHD_Connection *mc = r->mc;
	(void)arg;
	req_answer(r, 503, "unavailable", "corrald is stopping", 1);
	MHD_resume_connection(mc);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct http_req *r = *req_cls;
	struct http_conn *c = conn_of(mc);
	(void)toe;

	if (r) {
		if (r->sending)
			atomic_fetch_sub(&srv->sending, 1);
		if (r->upgrade) { /* the 101 was never sent */
			r->upgrade->cb(-1, r->upgrade->opaque);
			free(r->upgrade);
		}
		req_free(r);
		*req_cls = NULL;
	}
	if (c) /* a kept-alive connection waits for its next head */
		http_conns_phase(srv->conns, c, HTTP_CONN_HEAD);
}

static void on_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *srv = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			*socket_context = http_conns_open(srv->conns, ci->connect_fd);
	} else if (*socket_context) {
		http_conns_close(srv->conns, *socket_context);
		*socket_context = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct buf b = BUF_INIT;
	(void)cls;
	buf_vprintf(&b, fmt, ap);
	while (b.len && b.s[b.len - 1] == '\n')
		b.s[--b.len] = '\0';
	log_debug("libmicrohttpd: %s", b.s);
	buf_release(&b);
}

/* ---- start and stop ------------------------------------------------------ */

static int bind_unix(const char *path, struct buf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		buf_printf(err, "socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket that answers belongs to a live corrald: refuse to steal it. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		buf_printf(err, "another corrald is already listening on %s", path);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	mode_t old = umask(0117);
	int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (r < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		buf_printf(err, "cannot listen on %s: %s", path, strerror(e));
		return -e;
	}
	return fd;
}

/* Bind "ADDR:PORT" or "[V6]:PORT" (numeric address) and listen; fd or -errno + err. */
static int bind_tcp(const char *spec, struct buf *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	__do_free char *host = NULL;
	const char *port;
	int fd, one = 1, e;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (!end || end[1] != ':')
			goto bad;
		host = xstrndup(spec + 1, (size_t)(end - spec - 1));
		port = end + 2;
	} else {
		const char *colon = strrchr(spec, ':');
		if (!colon || strchr(spec, ':') != colon)
			goto bad;
		host = xstrndup(spec, (size_t)(colon - spec));
		port = colon + 1;
	}
	if (!*host || !*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) || atoi(port) < 1 ||
	    atoi(port) > 65535 || getaddrinfo(host, port, &hints, &ai) != 0)
		goto bad;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		e = errno;
		freeaddrinfo(ai);
		buf_printf(err, "cannot listen on %s: %s", spec, strerror(e));
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0) {
		e = errno;
		close(fd);
		freeaddrinfo(ai);
		buf_printf(err, "cannot listen on %s: %s", spec, strerror(e));
		return -e;
	}
	freeaddrinfo(ai);
	return fd;
bad:
	buf_printf(err, "listen address '%s' is not ADDR:PORT or [IPV6]:PORT with a numeric address and a port of 1-65535",
		   spec);
	return -EINVAL;
}

/* Clamp the configuration to sane bounds and to the fds this process may open. */
static void config_fit(struct http_config *c)
{
	struct rlimit rl;

	c->io_threads = c->io_threads < 1 ? 1 : c->io_threads > 4 ? 4 : c->io_threads;
	c->workers = c->workers < 1 ? 1 : c->workers > 256 ? 256 : c->workers;
	c->queue_len = c->queue_len < 1 ? 1 : c->queue_len;
	c->max_connections = c->max_connections < 2 ? 2 : c->max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t fit = rl.rlim_cur > HTTP_FD_RESERVE + 32 ? (rl.rlim_cur - HTTP_FD_RESERVE) / 2 : 16;
		if (c->max_connections > fit) {
			log_warn("HTTP connection limit lowered from %u to %llu to fit RLIMIT_NOFILE %llu",
				 c->max_connections, (unsigned long long)fit, (unsigned long long)rl.rlim_cur);
			c->max_connections = (unsigned)fit;
		}
	}
	if (c->max_connections < c->io_threads)
		c->io_threads = c->max_connections; /* MHD splits the limit between its threads */
}

static void server_free(struct http_server *srv)
{
	http_watcher_free(srv->watcher);
	http_conns_free(srv->conns);
	pthread_cond_destroy(&srv->relay_done);
	pthread_mutex_destroy(&srv->relay_lock);
	free(srv->sock_path);
	free(srv);
}

int http_start(const struct http_config *cfg, http_router router, struct http_server **out, struct buf *err)
{
	struct http_server *srv = xcalloc(1, sizeof(*srv));
	pthread_condattr_t ca;
	int fd, r;

	srv->cfg = *cfg;
	config_fit(&srv->cfg);
	srv->router = router;
	srv->sock_path = xstrdup(cfg->socket_path);
	srv->cfg.socket_path = srv->sock_path;
	pthread_mutex_init(&srv->relay_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->relay_done, &ca);
	pthread_condattr_destroy(&ca);

	if ((r = http_conns_start(&srv->cfg, &srv->conns, err)) < 0 || (r = http_watcher_start(&srv->watcher, err)) < 0 ||
	    (r = http_pool_start(srv->cfg.workers, srv->cfg.queue_len, req_run, srv, &srv->pool, err)) < 0) {
		server_free(srv);
		return r;
	}
	if ((fd = bind_unix(srv->sock_path, err)) < 0) {
		http_pool_stop(srv->pool, 0, req_reject);
		server_free(srv);
		return fd;
	}
	struct MHD_OptionItem opts[] = {
		{ MHD_OPTION_LISTEN_SOCKET, fd, NULL },
		{ MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.idle_timeout_s, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv },
		{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv },
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv },
		/* Last, so that one I/O thread means no pool at all. */
		{ srv->cfg.io_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->cfg.io_threads, NULL },
		{ MHD_OPTION_END, 0, NULL },
	};
	srv->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
					    MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG,
				    0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!srv->mhd) {
		buf_printf(err, "cannot start the HTTP server on %s", srv->sock_path);
		close(fd);
		unlink(srv->sock_path);
		http_pool_stop(srv->pool, 0, req_reject);
		server_free(srv);
		return -EIO;
	}
	if (srv->cfg.listen) {
		int tfd = bind_tcp(srv->cfg.listen, err);
		if (tfd < 0) {
			srv->listening = true;
			http_stop(srv);
			return tfd;
		}
		struct MHD_OptionItem topts[] = {
			{ MHD_OPTION_LISTEN_SOCKET, tfd, NULL },
			{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)srv->cfg.tls_cert_pem },
			{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)srv->cfg.tls_key_pem },
			{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2" },
			/* Any trust list makes MHD ask clients for a certificate (optional);
			 * the router pins what it accepts, so our own certificate will do. */
			{ MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)srv->cfg.tls_cert_pem },
			{ MHD_OPTION_CONNECTION_LIMIT, srv->cfg.max_connections, NULL },
			{ MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg.idle_timeout_s, NULL },
			{ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, srv },
			{ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv },
			{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)on_uri, srv },
			{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, srv },
			{ srv->cfg.io_threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, srv->cfg.io_threads, NULL },
			{ MHD_OPTION_END, 0, NULL },
		};
		srv->mhd_tls = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
							MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_TLS,
						0, NULL, NULL, on_request, srv, MHD_OPTION_ARRAY, topts, MHD_OPTION_END);
		if (!srv->mhd_tls) {
			close(tfd);
			buf_printf(err, "cannot start the TLS API on %s (certificate or key refused by the TLS engine?)",
				   srv->cfg.listen);
			srv->listening = true;
			http_stop(srv);
			return -EIO;
		}
		log_info("HTTPS API on %s (TLS 1.2/1.3)", srv->cfg.listen);
	}
	srv->listening = true;
	log_info("HTTP: %u I/O thread%s, %u workers, queue %u, %u connections, timeouts idle %us head %us body %us",
		 srv->cfg.io_threads, srv->cfg.io_threads == 1 ? "" : "s", srv->cfg.workers, srv->cfg.queue_len,
		 srv->cfg.max_connections, srv->cfg.idle_timeout_s, srv->cfg.header_timeout_s,
		 srv->cfg.body_timeout_s);
	*out = srv;
	return 0;
}

int http_stop(struct http_server *srv)
{
	int64_t start = time_mono_ms(), end;
	int r;

	if (!srv)
		return 0;
	if (srv->listening) {
		/* No new connections: MHD gives the listening socket back. */
		MHD_socket l = MHD_quiesce_daemon(srv->mhd);
		if (l != MHD_INVALID_SOCKET)
			close(l);
		if (srv->mhd_tls && (l = MHD_quiesce_daemon(srv->mhd_tls)) != MHD_INVALID_SOCKET)
			close(l);
		unlink(srv->sock_path);
		srv->listening = false;
	}
	end = start + (int64_t)srv->cfg.stop_timeout_s * 1000;
	http_watcher_stop(srv->watcher);
	r = relays_stop(srv, end);
	if (srv->pool) {
		int64_t left = end - time_mono_ms();
		int pr = http_pool_stop(srv->pool, left > 0 ? left : 0, req_reject);
		if (pr == 0)
			srv->pool = NULL;
		else
			r = pr;
	}
	if (r < 0) {
		log_warn("HTTP server not stopped cleanly: handlers still run after %u s", srv->cfg.stop_timeout_s);
		return r;
	}
	/* The last handlers' replies are queued; let MHD write them before it
	 * closes every connection (a client that does not read gets 2 s). */
	int64_t flush_end = time_mono_ms() + STOP_FLUSH_MS;
	while (atomic_load(&srv->sending) && time_mono_ms() < (flush_end < end ? flush_end : end))
		time_sleep_ms(5);
	http_conns_stop(srv->conns);
	/* Every suspended connection has been resumed: MHD may close them all. */
	MHD_stop_daemon(srv->mhd);
	if (srv->mhd_tls)
		MHD_stop_daemon(srv->mhd_tls);
	server_free(srv);
	log_info("HTTP server stopped in %lld ms", (long long)(time_mono_ms() - start));
	return 0;
}
