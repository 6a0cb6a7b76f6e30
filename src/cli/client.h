/*
 * client.h - the CLI's HTTP client for corrald's REST API (docs/api.md).
 *
 * Requests go through libcurl over corrald's unix socket to
 * http://corral/v1/..., or with client_remote over TLS to a remote corrald
 * whose certificate is pinned; JSON bodies in, JSON (or text) answers out.
 * A certificate other than the pinned one is refused before anything is
 * sent, with a warning that says how to trust it again when the URL came
 * from a remote (client_set_remote_name).  Every
 * failure is reported here, once, on one stderr line "corral: ...":
 * a socket nobody listens on gives "cannot connect to corrald at PATH:
 * <errno text> (is corrald running?)", an API error object gives its
 * `message` verbatim.  Callers just return CLI_FAIL.
 */
#ifndef CORRAL_CLI_CLIENT_H
#define CORRAL_CLI_CLIENT_H

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>
#include <curl/curl.h>
#include <jansson.h>

#include "util/buf.h"

struct client {
	CURL *curl;
	char *socket_path;
	char *base_url;        /* "https://HOST:PORT" with client_remote, else NULL (the socket) */
	char *auth;            /* "Authorization: Bearer ..." or NULL; wiped on release */
	char fingerprint[96];  /* pinned "AB:CD:..." or "" (then the system's CAs decide) */
	char *remote_name;     /* the remote (remotes.h) base_url came from, for messages; or NULL */
	bool pin_failed;       /* the last handshake met another certificate (reported already) */
	char errbuf[CURL_ERROR_SIZE];
};

/* One answer.  `json` is the parsed body when it parsed as JSON, else NULL. */
struct reply {
	long status;
	struct buf body;
	json_t *json;
};

#define REPLY_INIT { 0, BUF_INIT, NULL }

/* The answer has a 2xx status. */
static inline bool reply_ok(const struct reply *r) { return r->status >= 200 && r->status <= 299; }

void reply_release(struct reply *r);
static inline void cleanup_reply(struct reply *r) { reply_release(r); }
#define __do_reply __attribute__((cleanup(cleanup_reply)))

/* 0, or -1 with the error printed.  client_release is safe after a failed init. */
int client_init(struct client *c, const char *socket_path);
void client_release(struct client *c);
/* Talk to corrald at `url` (https://HOST:PORT) instead of the socket, with the
 * API token "USER!TOKENID:SECRET" (or NULL), trusting exactly the certificate
 * with SHA-256 `fingerprint` (or NULL: the system's CAs).  0, or -1 printed. */
int client_remote(struct client *c, const char *url, const char *token, const char *fingerprint);

/* Name the remote the URL came from: a certificate that is not the pinned
 * one is then refused with a warning saying how to trust it again. */
void client_set_remote_name(struct client *c, const char *name);

/*
 * Connect to `url` (https://HOST:PORT) and complete a TLS handshake without
 * sending a byte of HTTP, accepting whatever certificate the server shows,
 * to learn its SHA-256 fingerprint ("AB:CD:...", into out, >= 96 bytes).
 * For `corral remote add`: nothing is trusted yet.  0, or -1 printed.
 */
int client_server_fingerprint(const char *url, char *out, size_t len);

/* Percent-encode one path segment or query value (curl_easy_escape).  Caller frees. */
char *client_escape(struct client *c, const char *s);
/* "<base>/<item><suffix>" with `item` percent-encoded (suffix NULL: none),
 * e.g. ("/v1/vms", "web 1", "/start") -> "/v1/vms/web%201/start".  Caller frees. */
char *client_path(struct client *c, const char *base, const char *item, const char *suffix);
/* `base`, with "?<key>=<value>" (value percent-encoded) when `value` is not
 * NULL.  Caller frees. */
char *client_path_query(struct client *c, const char *base, const char *key, const char *value);

/* Append "?key=value" or "&key=value" (value percent-encoded) to url; nothing
 * when value is NULL. */
void client_query_add(struct client *c, struct buf *url, const char *key, const char *value);

/*
 * Send `method` `path` ("/v1/vms?select=x", already encoded) with `body`
 * (NULL: none; POST and PUT then send an empty body).  Fills *r (which must
 * be REPLY_INIT) whatever the HTTP status.  0 when an answer arrived, -1 when
 * none did (error printed).
 */
int client_request(struct client *c, const char *method, const char *path, const json_t *body,
		   struct reply *r);
/* The same with more request headers ("Name: value", NULL-terminated). */
int client_request_with(struct client *c, const char *method, const char *path, const json_t *body,
			const char *const *headers, struct reply *r);

/*
 * client_request, then insist on success: 0 for a 2xx answer whose body is
 * a JSON object (or any 2xx body when `raw`); else -1 with the API's error
 * message printed.
 */
int client_call(struct client *c, const char *method, const char *path, const json_t *body,
		struct reply *r, bool raw);

/*
 * GET `path` and write a 2xx answer's body to fd as it arrives (never held
 * in memory; r->body stays empty); any other answer is collected in *r as
 * client_request does.  0 when the whole answer arrived (check
 * reply_ok(r)), -1 when none or only part of it did, or writing to fd
 * failed (error printed; the errno of a failed write is in *write_err).
 */
int client_download(struct client *c, const char *path, int fd, struct reply *r, int *write_err);

/*
 * Follow the server-sent event stream at `path` (GET /v1/events?follow=...):
 * cb gets each event's JSON (borrowed) and returns false to stop.  0 when
 * the stream ended (cb stopped it, or corrald closed it: check
 * reply_ok(r); a refused request's answer is in *r), -1 when it broke
 * (error printed).
 */
typedef bool (*client_event_cb)(const json_t *event, void *opaque);
int client_events(struct client *c, const char *path, client_event_cb cb, void *opaque, struct reply *r);

/* Print the error carried by a failed answer: "corral: [prefix: ]message". */
void client_print_error(const struct reply *r, const char *prefix);

/* The message of an API error object {"error":{"code","message"}} or of its
 * inner object; NULL when there is none. */
const char *client_error_message(const json_t *obj);

/*
 * A raw byte stream to corrald, for protocol upgrades (the console): the
 * unix socket, or with client_remote a TLS connection libcurl makes
 * (CONNECT_ONLY) with the same certificate pinning as every request.  `fd`
 * is the socket to poll() for readiness.  Sends and receives never block:
 * -EAGAIN when nothing can move now.  With TLS, bytes may wait decrypted
 * inside the TLS engine after poll() said the socket was readable once:
 * read until -EAGAIN before polling again.
 */
struct client_stream {
	int fd;
	CURL *tls; /* NULL for the unix socket */
};

#define CLIENT_STREAM_INIT { -EBADF, NULL }

/* 0, or -1 with the "cannot connect" line (or the TLS failure) printed. */
int client_stream_open(struct client *c, struct client_stream *s);
/* Bytes sent (> 0), or -EAGAIN or -errno. */
ssize_t client_stream_send(struct client_stream *s, const void *data, size_t len);
/* Bytes received (> 0), 0 at EOF, or -EAGAIN or -errno. */
ssize_t client_stream_recv(struct client_stream *s, void *data, size_t len);
void client_stream_close(struct client_stream *s);
/* The "Authorization: ..." request header line, or NULL on the unix socket. */
const char *client_auth_header(const struct client *c);

#endif
