/*
 * http_internal.h - what the HTTP front end's files share (not for other
 * modules).  http.c holds the server (MHD setup, requests, replies,
 * upgrades, stop); http_conn.c the connection table with its deadlines and
 * sweeper thread; http_pool.c the bounded worker pool; http_stream.c
 * streamed replies and their watcher thread.  http.h says which thread
 * runs what.
 *
 * Lock order: a module's lock is never held while calling MHD or another
 * module, except that MHD calls into these modules from its own threads
 * (never with an MHD lock held: checked in MHD 0.9.75's daemon.c).
 */
#ifndef CORRAL_API_HTTP_INTERNAL_H
#define CORRAL_API_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "util/buf.h"

struct MHD_Connection;
struct MHD_Response;

/* ---- connection table (http_conn.c) ----------------------------------- */

enum http_conn_phase {
	HTTP_CONN_HEAD,     /* waiting for a request line + headers: header deadline */
	HTTP_CONN_BODY,     /* head done, body arriving: body deadline */
	HTTP_CONN_BUSY,     /* in a worker or sending the reply: MHD's idle timeout only */
	HTTP_CONN_UPGRADED, /* handed to an upgrade handler: nothing */
};

/* One open connection; allocated when MHD accepts it, freed when MHD closes it. */
struct http_conn {
	int fd;                     /* the client socket, open while this exists */
	enum http_conn_phase phase;
	int64_t deadline_ms;        /* time_mono_ms() when to close, 0 for none */
	bool closing;               /* shut down by the sweeper or an eviction */
	struct http_conn *prev, *next;
};

struct http_conns;

int http_conns_start(const struct http_config *cfg, struct http_conns **out, struct buf *err);
/* A new connection on socket fd.  If it fills the table, the connection that
 * has waited longest for its request head (never fd itself) is shut down, so
 * that MHD keeps accepting. */
struct http_conn *http_conns_open(struct http_conns *t, int fd);
/* MHD is about to close c's socket: forget it (frees c). */
void http_conns_close(struct http_conns *t, struct http_conn *c);
/* c enters phase; HEAD and BODY start their deadline now.  An upgraded
 * connection stays upgraded. */
void http_conns_phase(struct http_conns *t, struct http_conn *c, enum http_conn_phase phase);
/* Join the sweeper (deadlines stop); open/close/phase keep working. */
void http_conns_stop(struct http_conns *t);
/* After MHD closed every connection.  NULL is a no-op. */
void http_conns_free(struct http_conns *t);

/* ---- worker pool (http_pool.c) ---------------------------------------- */

struct http_pool;
typedef void (*http_pool_fn)(void *item, void *arg);

/* `workers` threads calling run(item, arg) for submitted items, at most
 * queue_len waiting. */
int http_pool_start(unsigned workers, unsigned queue_len, http_pool_fn run, void *arg, struct http_pool **out,
		    struct buf *err);
/* Queue item; false (item not taken) when the queue is full or stopping. */
bool http_pool_submit(struct http_pool *p, void *item);
/*
 * Refuse new items, call reject(item, arg) for every queued one (on this
 * thread), wait up to timeout_ms for running ones, then join and free p.
 * -ETIMEDOUT if some still ran: p is then left alone.
 */
int http_pool_stop(struct http_pool *p, int64_t timeout_ms, http_pool_fn reject);

/* ---- streamed replies (http_stream.c) --------------------------------- */

struct http_watcher;

int http_watcher_start(struct http_watcher **out, struct buf *err);
/*
 * A response streaming fd (taken: made non-blocking, closed with the
 * response) on connection mc, whose client socket is client_fd.  When fd has
 * nothing to read the connection is suspended until it has, or until the
 * client hangs up (the reply then ends with an error).  NULL (fd closed) if
 * MHD cannot allocate it.
 */
struct MHD_Response *http_stream_response(struct http_watcher *w, struct MHD_Connection *mc, int client_fd, int fd,
					  uint64_t size);
/* End every waiting stream (its connection resumed and closed) and join the
 * watcher; streams that run dry later end at once. */
void http_watcher_stop(struct http_watcher *w);
/* After MHD destroyed every response.  NULL is a no-op. */
void http_watcher_free(struct http_watcher *w);

#endif
