/*
 * http.h - corrald's HTTP plumbing over libmicrohttpd.
 *
 * Listens on a unix socket (created with mode 0660, stale sockets from a
 * dead daemon replaced, a live one refused), one thread per connection so
 * handlers may block (a graceful stop waits for the guest).  Bodies are
 * collected up to HTTP_MAX_BODY and handed to the router as a whole.
 * The router fills a struct http_reply; the server sends it.  A reply may
 * instead ask to upgrade the connection (the serial console): the server
 * answers 101 and hands the raw socket to `upgrade_cb` on its own thread.
 */
#ifndef CORRAL_API_HTTP_H
#define CORRAL_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define HTTP_MAX_BODY (1u << 20)
/* http_reply_stream's size for a body that ends when the fd does (chunked). */
#define HTTP_SIZE_UNKNOWN UINT64_MAX

struct http_request {
	const char *method;
	const char *path;        /* without query string, not decoded */
	const char *upgrade;     /* value of the Upgrade header or NULL */
	const char *body;
	size_t body_len;
	void *conn;              /* for http_query() */
};

typedef void (*http_upgrade_cb)(int fd, void *opaque);

struct http_reply {
	int status;
	json_t *json;            /* sent as application/json if set (reference owned) */
	struct buf text;         /* else sent as text/plain */
	http_upgrade_cb upgrade_cb;  /* called with fd -1 if the upgrade never happens, to clean up */
	void *upgrade_opaque;
	bool stream;             /* else the body is stream_size bytes read from stream_fd (http_reply_stream) */
	int stream_fd;
	uint64_t stream_size;
	const char *content_type; /* of a stream (NULL: application/octet-stream); a static string */
};

typedef void (*http_router)(const struct http_request *req, struct http_reply *rep);

/* Value of query argument `key` (decoded) or NULL. */
const char *http_query(const struct http_request *req, const char *key);

/* Start serving on `socket_path`.  0 or -errno with err set. */
int http_start(const char *socket_path, http_router router, struct buf *err);
void http_stop(void);

/* Helpers for routers. */
void http_reply_json(struct http_reply *rep, int status, json_t *j);
void http_reply_error(struct http_reply *rep, int status, const char *code, const char *msg);
/* Answer 200 application/octet-stream with `size` bytes read from fd as the
 * client takes them (never buffered whole); the server owns and closes fd.
 * A short read ends the connection, so the client sees a truncated body. */
void http_reply_stream(struct http_reply *rep, int fd, uint64_t size);

#endif
