/*
 * peer.h - corrald's client for the API of a trusted host (peer.c).
 *
 * A peer is a host in the trusted-hosts table (trust.h, store_local.h):
 * calls go to its URL over TLS 1.2+, with mutual TLS: this host presents its
 * own host certificate (svc_config.tls_cert_path/tls_key_path) as a client
 * certificate, and the peer's certificate must be exactly the pinned one
 * (SHA-256 of the leaf; a CA's word is not asked).  The peer maps the call
 * to the identity "host:THIS_HOST_NAME", which holds every privilege and
 * Host.Peer (routes used only between hosts need it).  No token is sent.
 *
 * Timeouts: 5 s to connect (TCP + TLS handshake), 30 s for a whole call by
 * default (peer_set_timeout changes both).  A call that may change
 * something (any method but GET) goes on a fresh connection: on a
 * reused keep-alive connection libcurl silently sends the request again when
 * the connection turns out closed before any answer, and the peer may have
 * carried out the first one (a migration's finish, a forwarded `vm start`).
 * Such a call with no answer fails with status 0, and the caller asks what
 * happened.  Nothing secret is logged: the
 * log line of a call is "peer NAME: METHOD PATH -> STATUS (N ms)"; bodies
 * are never logged.
 *
 * Ownership: peer_open gives a new struct peer, freed with peer_close
 * (NULL-safe).  Strings returned by peer_host/peer_name/... live as long
 * as the peer.  Threading: a peer is used by one thread at a time;
 * different peers may be used in parallel from any threads.
 *
 * Errors: 0 or -errno with one sentence appended to err: -ENOENT (no such
 * trusted host), -ENOTSUP (this host has no TLS listener, so no host
 * certificate to present), -EHOSTUNREACH (cannot connect, or no answer
 * within the timeout), -EKEYREJECTED (the peer's certificate is not the
 * pinned one), -EREMOTEIO (a TLS or HTTP failure, or an answer that is not
 * JSON); for an HTTP error answer the remote's own message, prefixed with
 * the peer's name, and its status mapped back like the API maps errors
 * (400 -EINVAL, 401/403 -EACCES, 404 -ENOENT, 409 -EEXIST, 412 -ESTALE,
 * 422/501 -ENOTSUP, 429/503 -EAGAIN, 502 -EREMOTEIO, 507 -ENOSPC, else -EIO).
 * The API answers -EHOSTUNREACH, -EKEYREJECTED and -EREMOTEIO with 502
 * peer_error.
 */
#ifndef CORRAL_SERVICE_PEER_H
#define CORRAL_SERVICE_PEER_H

#include <jansson.h>

#include "util/buf.h"

struct peer;

/* A trusted host by name. */
int peer_open(const char *host_name, struct peer **out, struct buf *err);
/*
 * Call METHOD PATH ("/v1/...") with body (may be NULL; not taken) on the
 * peer.  *http_status (if non-NULL) gets the status (0 when no answer came).
 * 0 for a 2xx answer, with *reply (if non-NULL) the JSON body (NULL if it
 * had none); on an error answer *reply is NULL and err (may be NULL) gets
 * the remote's error text.
 */
int peer_call(struct peer *p, const char *method, const char *path, json_t *body, json_t **reply,
	      long *http_status, struct buf *err);
/*
 * As peer_call, but a 2xx answer's body is handed to sink as it arrives
 * (never buffered whole: a stream such as a container's root tree, service/
 * ct_migrate.c), in pieces of any size; sink returns 0, or < 0 to stop the
 * transfer (then -EIO, "could not be taken in").  An error answer is read
 * and reported as by peer_call.  The whole call is bounded by the peer's
 * total timeout (peer_set_timeout).
 */
typedef int (*peer_sink_fn)(const char *data, size_t len, void *opaque);
int peer_call_sink(struct peer *p, const char *method, const char *path, json_t *body, peer_sink_fn sink,
		   void *opaque, long *http_status, struct buf *err);
/*
 * An answer taken as it came (peer_call_raw), to hand on unchanged: the
 * status, the body's bytes (up to 16 MiB), and the headers a forwarded
 * answer keeps (printable text only, cut at their size; "" when absent).
 */
struct peer_raw_reply {
	long status;
	struct buf body;
	char content_type[128];
	char retry_after[32];
	char etag[64];
};
/*
 * Call METHOD PATH with `body` (len bytes of content_type; NULL: none) and
 * keep the answer whatever its status: 0 once an answer came (release it
 * with peer_raw_reply_release), else -errno + err as peer_call for the
 * transport (-EHOSTUNREACH, -EKEYREJECTED, -EREMOTEIO).
 */
int peer_call_raw(struct peer *p, const char *method, const char *path, const char *body, size_t len,
		  const char *content_type, struct peer_raw_reply *out, struct buf *err);
void peer_raw_reply_release(struct peer_raw_reply *r);
/* The host of the peer's URL: an IP address (IPv6 without brackets) or a name. */
const char *peer_host(const struct peer *p);
/*
 * The peer's IP address as text (IPv6 without brackets), for QEMU streams
 * and for the peer to listen on: the address a call connected to, or before
 * any call the first address of its URL's host (resolved here: the peer may
 * resolve its own name otherwise, e.g. to 127.0.1.1) that accepts a TCP
 * connection on its API port (up to 5 s each).  Fixed once given, so that
 * every stream of one migration goes to one address.  Unreachable: the
 * URL's host as it is (the next call says why).
 */
const char *peer_address(struct peer *p);
const char *peer_name(const struct peer *p);
void peer_close(struct peer *p);

/* ---- beyond the stable interface: trust set-up and tuning ---- */

/*
 * A peer by URL ("https://ADDR:PORT"), not (yet) in the table: for `host
 * trust add`.  With `fingerprint` the server must present that certificate;
 * with NULL any certificate is accepted and recorded (peer_fingerprint),
 * only to show it to an administrator: send nothing that matters then (no
 * client certificate is presented either).
 * `name` labels messages.
 */
int peer_open_url(const char *name, const char *url, const char *fingerprint, struct peer **out,
		  struct buf *err);
/* connect_ms: TCP + TLS handshake; total_ms: a whole call. */
void peer_set_timeout(struct peer *p, long connect_ms, long total_ms);
/* Send this Authorization header value with every call (copied; wiped at close). */
void peer_set_authorization(struct peer *p, const char *value);
/* Send the header "name: value" with every call from now on (copied; the
 * caller makes sure neither holds a line break). */
void peer_add_header(struct peer *p, const char *name, const char *value);
/* The fingerprint and PEM of the certificate the peer presented in the last
 * handshake, or NULL before one. */
const char *peer_fingerprint(const struct peer *p);
const char *peer_cert_pem(const struct peer *p);
/* The URL the peer is reached at. */
const char *peer_url(const struct peer *p);
/* Split an https URL into its host (no brackets) and port; -EINVAL + err for
 * anything but "https://HOST[:PORT][/]" (port default 8006).  host >= 256 bytes. */
int peer_url_parse(const char *url, char *host, size_t hostlen, unsigned *port, struct buf *err);

#endif
