/*
 * http_conn.c - the HTTP front end's table of open connections: the header
 * and body deadlines that MHD does not know, and room for new connections
 * when the table is full.
 *
 * MHD's connection timeout only measures silence, so a client trickling one
 * byte a second would hold a connection forever.  Each connection here
 * carries a phase and, in the HEAD and BODY phases, a deadline; the sweeper
 * thread sleeps until the earliest deadline and shuts down (shutdown(2),
 * both ways) the socket of every connection past its own.  MHD then reads
 * EOF and closes the connection itself, so no MHD state is touched from
 * here.  A record lives from MHD's "started" to its "closed" notification,
 * which MHD sends before closing the socket: under the table lock the fd of
 * a record is always still open.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http_internal.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct http_conns {
	pthread_mutex_t lock;
	pthread_cond_t wake;        /* CLOCK_MONOTONIC */
	struct http_conn *head, *tail; /* oldest first */
	unsigned live;              /* records not closing */
	unsigned max;
	int64_t header_ms, body_ms;
	int64_t next_wake_ms;       /* when the sweeper wakes next, INT64_MAX: never */
	bool stop;
	bool started;
	pthread_t sweeper;
};

/* Shut c's socket down so MHD closes it; the table lock is held. */
static void conn_shut(struct http_conns *t, struct http_conn *c, const char *why)
{
	if (c->closing)
		return;
	c->closing = true;
	t->live--;
	log_debug("closing HTTP connection (fd %d): %s", c->fd, why);
	shutdown(c->fd, SHUT_RDWR);
}

/*
 * The sweeper woke this much later than it meant to: the whole process was
 * stopped (SIGSTOP, a suspended machine), so requests that came in meanwhile
 * still wait in the sockets, unread by MHD.  Deadlines passed during the
 * stop get SWEEP_GRACE_MS more, for MHD to read what is there; a request it
 * had read and handed to a worker must not lose its answer to a shutdown.
 */
#define SWEEP_LATE_MS 1000
#define SWEEP_GRACE_MS 1000

static void *sweeper_main(void *arg)
{
	struct http_conns *t = arg;
	int64_t meant = INT64_MAX; /* when the last sleep was to end */

	pthread_mutex_lock(&t->lock);
	while (!t->stop) {
		int64_t now = time_mono_ms(), next = INT64_MAX;
		bool late = meant != INT64_MAX && now - meant > SWEEP_LATE_MS;
		if (late)
			log_debug("HTTP deadlines: woke %lld ms late (the process was stopped?); passed ones get %d ms more",
				  (long long)(now - meant), SWEEP_GRACE_MS);
		for (struct http_conn *c = t->head; c; c = c->next) {
			if (!c->deadline_ms || c->closing)
				continue;
			if (late && c->deadline_ms <= now)
				c->deadline_ms = now + SWEEP_GRACE_MS;
			if (c->deadline_ms <= now)
				conn_shut(t, c, c->phase == HTTP_CONN_HEAD ? "request head not complete in time"
									   : "request body not complete in time");
			else if (c->deadline_ms < next)
				next = c->deadline_ms;
		}
		t->next_wake_ms = next;
		meant = next;
		if (next == INT64_MAX) {
			pthread_cond_wait(&t->wake, &t->lock);
		} else {
			struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000 };
			pthread_cond_timedwait(&t->wake, &t->lock, &ts);
		}
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

int http_conns_start(const struct http_config *cfg, struct http_conns **out, struct buf *err)
{
	struct http_conns *t = xcalloc(1, sizeof(*t));
	pthread_condattr_t ca;
	int r;

	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->wake, &ca);
	pthread_condattr_destroy(&ca);
	t->max = cfg->max_connections;
	t->header_ms = (int64_t)cfg->header_timeout_s * 1000;
	t->body_ms = (int64_t)cfg->body_timeout_s * 1000;
	t->next_wake_ms = INT64_MAX;
	if ((r = pthread_create(&t->sweeper, NULL, sweeper_main, t)) != 0) {
		buf_printf(err, "cannot start the HTTP deadline thread: %s", strerror(r));
		http_conns_free(t);
		return -r;
	}
	t->started = true;
	*out = t;
	return 0;
}

/* Set c's deadline for its phase and wake the sweeper if it is now the earliest. */
static void conn_arm(struct http_conns *t, struct http_conn *c)
{
	int64_t span = c->phase == HTTP_CONN_HEAD ? t->header_ms : c->phase == HTTP_CONN_BODY ? t->body_ms : 0;

	c->deadline_ms = span ? time_mono_ms() + span : 0;
	if (c->deadline_ms && c->deadline_ms < t->next_wake_ms) {
		t->next_wake_ms = c->deadline_ms;
		pthread_cond_signal(&t->wake);
	}
}

struct http_conn *http_conns_open(struct http_conns *t, int fd)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));

	c->fd = fd;
	c->phase = HTTP_CONN_HEAD;
	pthread_mutex_lock(&t->lock);
	c->prev = t->tail;
	if (t->tail)
		t->tail->next = c;
	else
		t->head = c;
	t->tail = c;
	t->live++;
	/* Full: MHD accepts nothing more, so make room now for whoever comes
	 * next, at the cost of the longest wait for a request head. */
	if (t->live >= t->max) {
		struct http_conn *victim = NULL;
		for (struct http_conn *o = t->head; o != c; o = o->next)
			if (o->phase == HTTP_CONN_HEAD && !o->closing &&
			    (!victim || o->deadline_ms < victim->deadline_ms))
				victim = o;
		if (victim)
			conn_shut(t, victim, "connection table full, it waited longest for a request");
		else
			log_debug("HTTP connection table full (%u) and every connection busy", t->max);
	}
	conn_arm(t, c);
	pthread_mutex_unlock(&t->lock);
	return c;
}

void http_conns_close(struct http_conns *t, struct http_conn *c)
{
	pthread_mutex_lock(&t->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	if (!c->closing)
		t->live--;
	pthread_mutex_unlock(&t->lock);
	free(c);
}

void http_conns_phase(struct http_conns *t, struct http_conn *c, enum http_conn_phase phase)
{
	pthread_mutex_lock(&t->lock);
	if (c->phase != HTTP_CONN_UPGRADED) { /* MHD ends an upgraded connection with "request completed" */
		c->phase = phase;
		conn_arm(t, c);
	}
	pthread_mutex_unlock(&t->lock);
}

void http_conns_stop(struct http_conns *t)
{
	if (!t->started)
		return;
	pthread_mutex_lock(&t->lock);
	t->stop = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->sweeper, NULL);
	t->started = false;
}

void http_conns_free(struct http_conns *t)
{
	if (!t)
		return;
	http_conns_stop(t);
	/* MHD reported every connection closed before this; nothing is left. */
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}
