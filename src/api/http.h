/*
 * http.h - corrald's HTTP front end over libmicrohttpd (MHD).
 *
 * Listens on a unix socket (created with mode 0660, a stale socket from a
 * dead daemon replaced, a live one refused) and, when http_config.listen is
 * set, on a TCP address with TLS 1.2 or 1.3 only (libmicrohttpd's GnuTLS
 * engine, the host certificate and key given as PEM).  Both doors share the
 * threads, the worker pool and the connection table below; the router
 * learns which door a request came through (http_request.remote) and
 * decides what that means.  The TLS door asks clients for a certificate
 * (optional; any issuer): a client that sends one proves it holds the key,
 * and the router learns its fingerprint (http_request.client_fp) to match
 * it against the certificates it pins (trusted hosts: mutual TLS).  A TLS handshake runs on the I/O threads,
 * non-blocking, inside the header deadline: a client that stalls it is
 * closed like one that stalls its request head.  Threads and what runs where:
 *
 *   - I/O threads (http_config.io_threads, MHD's epoll thread pool) accept,
 *     parse requests, collect bodies (up to HTTP_MAX_BODY) and send replies.
 *     They never run a router and never block: a complete request is
 *     suspended and queued for a worker; a streamed reply whose producer has
 *     nothing to give is suspended and watched (see below).
 *   - Workers (http_config.workers) run the router, one request each, build
 *     the reply, queue it on the connection and resume it.  At most
 *     http_config.queue_len requests wait for a worker; beyond that the
 *     client gets 503 with Retry-After at once.
 *   - One sweeper thread enforces the header and body deadlines (MHD itself
 *     only knows an idle timeout) and, when the connection table is full,
 *     closes the connection that has waited longest for its request head.
 *   - One watcher thread polls the pipes of streamed replies that had
 *     nothing to read and resumes their connection when bytes (or EOF)
 *     arrive, or aborts it when the client hangs up.
 *   - Each upgraded connection (the serial console) gets a thread of its own
 *     for its upgrade_cb; over TLS a second one watches the TCP socket for
 *     the client hanging up, which libmicrohttpd does not pass on to the
 *     upgraded socket, and then shuts that socket down (the handler sees EOF).
 *
 * Limits: requests whose head (request line + headers) has not fully
 * arrived header_timeout_s after the connection opened (or after the
 * previous reply on a kept-alive connection) are closed, so are bodies not
 * complete body_timeout_s after the head, and connections with no traffic
 * for idle_timeout_s.  A connection waiting for a worker, or for a streamed
 * reply's producer, has no deadline; a client that stops reading a reply
 * is closed after idle_timeout_s.  Upgraded connections have no timeout.
 *
 * Errors found before routing never reach the router: MHD answers 400 to a
 * malformed request line or header (it closes without an answer a line it
 * cannot split at all, e.g. "GET" alone), 431 to a head over ~32 KiB, 505
 * to an unknown HTTP version; the front end answers 400 to malformed
 * percent-encoding in the query string, 413 to a body over HTTP_MAX_BODY
 * (from Content-Length before reading it, or from the bytes received).
 */
#ifndef CORRAL_API_HTTP_H
#define CORRAL_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define HTTP_MAX_BODY (1u << 20)
/* http_reply_stream size for "until EOF" (sent chunked). */
#define HTTP_SIZE_UNKNOWN UINT64_MAX

/* Limits and timeouts; HTTP_CONFIG_INIT holds the defaults. */
struct http_config {
	const char *socket_path;
	const char *listen;        /* "ADDR:PORT" ("[V6]:PORT") for TCP with TLS, or NULL */
	const char *tls_cert_pem;  /* the certificate (chain) and its key as PEM text, with listen */
	const char *tls_key_pem;
	unsigned io_threads;       /* MHD I/O threads, 1..4 */
	unsigned workers;          /* router threads, 1..256 */
	unsigned queue_len;        /* complete requests waiting for a worker before 503 */
	unsigned max_connections;  /* open connections, lowered to fit RLIMIT_NOFILE */
	unsigned idle_timeout_s;   /* no bytes either way for this long: close */
	unsigned header_timeout_s; /* request line + headers must arrive within this */
	unsigned body_timeout_s;   /* the body must arrive within this after the head */
	unsigned stop_timeout_s;   /* http_stop waits this long for running handlers */
};

#define HTTP_CONFIG_INIT                                                                                      \
	{ .socket_path = NULL, .io_threads = 2, .workers = 8, .queue_len = 64, .max_connections = 512,        \
	  .idle_timeout_s = 30, .header_timeout_s = 10, .body_timeout_s = 30, .stop_timeout_s = 30 }

struct http_req; /* the front end's request state, opaque to routers */

/* What the router gets; valid until it returns.  Strings are NUL-terminated. */
struct http_request {
	const char *method;
	const char *path;        /* without query string, not percent-decoded */
	const char *upgrade;     /* value of the Upgrade header or NULL */
	const char *body;
	size_t body_len;
	bool remote;             /* came over TCP (TLS), not the unix socket */
	const char *peer;        /* the client's address ("unix" for the socket) */
	const char *client_fp;   /* SHA-256 fingerprint ("AB:CD:...") of the certificate the client
				  * presented over TLS (it proved it holds the key), or NULL: none.
				  * The front end checks nothing else about it: the router decides. */
	struct http_req *priv;   /* for http_query() / http_header() */
};

/* Run on its own thread with the upgraded socket (blocking, owned by the
 * server: do not close it); fd -1 when the upgrade never happened, to clean up. */
typedef void (*http_upgrade_cb)(int fd, void *opaque);

/* Filled by the router through the helpers below; the server owns it. */
struct http_reply {
	int status;
	json_t *json;                /* sent as application/json if set (reference owned) */
	struct buf text;             /* else sent as text/plain */
	struct buf headers;          /* "name\0value\0" pairs (http_reply_header) */
	http_upgrade_cb upgrade_cb;  /* upgrade to this protocol handler (answer 101) */
	void *upgrade_opaque;
	bool stream;                 /* else the body is read from stream_fd (http_reply_stream) */
	int stream_fd;
	uint64_t stream_size;
	const char *content_type; /* of a stream (NULL: application/octet-stream); a static string */
};

/* The router runs on a worker thread; it may block, but every worker it holds is
 * one fewer for other clients: long work belongs in jobs. */
typedef void (*http_router)(const struct http_request *req, struct http_reply *rep);

/* Value of query argument `key` (percent-decoded, '+' as space; the first
 * if repeated) or NULL. */
const char *http_query(const struct http_request *req, const char *key);
/* The key of the i-th query argument (in request order), NULL past the last. */
const char *http_query_key(const struct http_request *req, size_t i);
/* The client's TLS certificate (see client_fp) as PEM; caller frees.  NULL if none. */
char *http_client_cert_pem(const struct http_request *req);
/* Value of request header `name` (case-insensitive) or NULL. */
const char *http_header(const struct http_request *req, const char *name);

struct http_server;

/*
 * Start serving cfg->socket_path (and cfg->listen) with `router`.  Threads
 * are started before the sockets accept.  0 and *out, or -errno with err set
 * (a listen address that does not parse or bind, a certificate or key that
 * the TLS engine refuses).
 */
int http_start(const struct http_config *cfg, http_router router, struct http_server **out, struct buf *err);
/*
 * Stop: stop accepting (the socket file is removed), answer 503 to queued
 * requests, end streamed replies and upgraded connections, wait up to
 * stop_timeout_s for running handlers, close every connection, join every
 * thread and free srv.  -ETIMEDOUT if a handler or console relay was still
 * running then: srv is left allocated with those threads and the caller
 * must exit without releasing what they use.  NULL is a no-op.
 */
int http_stop(struct http_server *srv);

/* Helpers for routers. */
void http_reply_json(struct http_reply *rep, int status, json_t *j);
void http_reply_error(struct http_reply *rep, int status, const char *code, const char *msg);
/* Add a reply header (copied).  Content-Type replaces the default. */
void http_reply_header(struct http_reply *rep, const char *name, const char *value);
/*
 * Answer 200 with the bytes read from fd as the client takes them (never
 * buffered whole; Content-Type application/octet-stream unless set).  The
 * server owns fd from now on, makes it non-blocking and closes it when the
 * reply ends or the client goes away, so a producer writing into a pipe
 * sees EPIPE.  With a size, EOF before `size` bytes ends the connection (the
 * client sees a truncated body); with HTTP_SIZE_UNKNOWN the body is sent
 * chunked until EOF (server-sent events: write whole frames into a pipe).
 */
void http_reply_stream(struct http_reply *rep, int fd, uint64_t size);

#endif
