/*
 * http_stream.c - replies streamed from a file descriptor (a pipe a
 * producer thread fills: file contents, server-sent events) without ever
 * blocking an MHD I/O thread.
 *
 * MHD pulls the body through stream_read() on its I/O thread.  The fd is
 * non-blocking: bytes are returned at once; when there are none the
 * connection is suspended (returning 0 without suspending would make MHD
 * call again in a busy loop) and handed to the watcher thread, which polls
 * the fd for input and the client socket for a hang-up (MHD does not watch
 * suspended connections).  Input or EOF resumes the connection and MHD
 * calls stream_read() again; a hang-up, or the watcher stopping, marks the
 * stream aborted first, so that call ends the reply with an error and MHD
 * closes the connection.  Closing the response closes the fd, so the
 * producer's next write fails with EPIPE.
 *
 * A stream in the watcher's list belongs to a suspended connection, which
 * MHD neither frees nor touches until it is resumed; only the watcher
 * removes streams from the list, and resumes their connection after that.
 */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "http_internal.h"
#include "util/log.h"
#include "util/common.h"

#define STREAM_BLOCK (64 * 1024)

struct http_stream {
	struct http_watcher *w;
	struct MHD_Connection *mc;
	int fd;          /* what we stream, non-blocking */
	int client_fd;   /* the connection's socket, watched for a hang-up */
	uint64_t size;   /* HTTP_SIZE_UNKNOWN: chunked until EOF */
	atomic_bool aborted;
	struct http_stream *prev, *next; /* in the watcher's list while waiting */
};

struct http_watcher {
	pthread_mutex_t lock;
	int wake_fd;      /* eventfd: the list changed, or stop */
	struct http_stream *head;
	unsigned count;
	bool stop;
	bool started;
	pthread_t thread;
};

static void watcher_wake(struct http_watcher *w)
{
	uint64_t one = 1;
	ssize_t n = write(w->wake_fd, &one, sizeof(one));
	(void)n; /* a full counter already means "wake up" */
}

static void list_remove(struct http_watcher *w, struct http_stream *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		w->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	w->count--;
}

/* Watch s (its connection is suspended); false when the watcher is stopping. */
static bool watcher_add(struct http_watcher *w, struct http_stream *s)
{
	pthread_mutex_lock(&w->lock);
	if (w->stop) {
		pthread_mutex_unlock(&w->lock);
		return false;
	}
	s->next = w->head;
	if (w->head)
		w->head->prev = s;
	w->head = s;
	w->count++;
	pthread_mutex_unlock(&w->lock);
	watcher_wake(w);
	return true;
}

static void *watcher_main(void *arg)
{
	struct http_watcher *w = arg;
	struct pollfd *pfd = NULL;
	struct http_stream **who = NULL, **ready = NULL;
	size_t cap = 0;

	for (;;) {
		size_t n = 1, nready = 0;
		bool stop;

		pthread_mutex_lock(&w->lock);
		stop = w->stop;
		if (cap < 2 * (size_t)w->count + 1) {
			cap = 2 * (size_t)w->count + 16;
			pfd = xrealloc(pfd, cap * sizeof(*pfd));
			who = xrealloc(who, cap * sizeof(*who));
			ready = xrealloc(ready, cap * sizeof(*ready));
		}
		if (stop) {
			/* Abort everything waiting; later streams are refused by watcher_add. */
			while (w->head) {
				struct http_stream *s = w->head;
				list_remove(w, s);
				atomic_store(&s->aborted, true);
				ready[nready++] = s;
			}
		} else {
			pfd[0] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };
			for (struct http_stream *s = w->head; s; s = s->next) {
				who[n] = s;
				pfd[n++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
				who[n] = s;
				pfd[n++] = (struct pollfd){ .fd = s->client_fd, .events = POLLRDHUP };
			}
		}
		pthread_mutex_unlock(&w->lock);
		if (stop) {
			for (size_t i = 0; i < nready; i++)
				MHD_resume_connection(ready[i]->mc);
			break;
		}

		if (poll(pfd, n, -1) < 0 && errno != EINTR) {
			log_msg(LOG_LVL_ERROR, errno, "HTTP stream watcher: poll");
			continue;
		}
		if (pfd[0].revents) {
			uint64_t v;
			ssize_t r = read(w->wake_fd, &v, sizeof(v));
			(void)r;
		}
		pthread_mutex_lock(&w->lock);
		for (size_t i = 1; i + 1 < n; i += 2) { /* pairs: the stream's fd, then its client */
			struct http_stream *s = who[i];
			if (!pfd[i].revents && !pfd[i + 1].revents)
				continue;
			if (pfd[i + 1].revents) /* the client hung up: nobody to send to */
				atomic_store(&s->aborted, true);
			list_remove(w, s);
			ready[nready++] = s;
		}
		pthread_mutex_unlock(&w->lock);
		for (size_t i = 0; i < nready; i++)
			MHD_resume_connection(ready[i]->mc);
	}
	free(pfd);
	free(who);
	free(ready);
	return NULL;
}

int http_watcher_start(struct http_watcher **out, struct buf *err)
{
	struct http_watcher *w = xcalloc(1, sizeof(*w));
	int r;

	pthread_mutex_init(&w->lock, NULL);
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0) {
		r = -errno;
		buf_printf(err, "cannot create an eventfd for the HTTP stream watcher: %s", strerror(-r));
		http_watcher_free(w);
		return r;
	}
	if ((r = pthread_create(&w->thread, NULL, watcher_main, w)) != 0) {
		buf_printf(err, "cannot start the HTTP stream watcher thread: %s", strerror(r));
		http_watcher_free(w);
		return -r;
	}
	w->started = true;
	*out = w;
	return 0;
}

void http_watcher_stop(struct http_watcher *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
	watcher_wake(w);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void http_watcher_free(struct http_watcher *w)
{
	if (!w)
		return;
	http_watcher_stop(w);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* MHD's content reader, on an I/O thread. */
static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct http_stream *s = cls;
	(void)pos;

	if (atomic_load(&s->aborted))
		return MHD_CONTENT_READER_END_WITH_ERROR;
	for (;;) {
		ssize_t n = read(s->fd, out, max);
		if (n > 0)
			return n;
		if (n == 0) /* EOF: the end, or a truncated body if a size was promised */
			return s->size == HTTP_SIZE_UNKNOWN ? MHD_CONTENT_READER_END_OF_STREAM
							    : MHD_CONTENT_READER_END_WITH_ERROR;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		break;
	}
	/* Nothing yet: suspend first, so the watcher's resume always follows it. */
	MHD_suspend_connection(s->mc);
	if (!watcher_add(s->w, s)) {
		atomic_store(&s->aborted, true);
		MHD_resume_connection(s->mc);
	}
	return 0;
}

static void stream_free(void *cls)
{
	struct http_stream *s = cls;
	close(s->fd);
	free(s);
}

struct MHD_Response *http_stream_response(struct http_watcher *w, struct MHD_Connection *mc, int client_fd, int fd,
					  uint64_t size)
{
	struct http_stream *s = xcalloc(1, sizeof(*s));
	struct MHD_Response *resp;
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	s->w = w;
	s->mc = mc;
	s->fd = fd;
	s->client_fd = client_fd;
	s->size = size;
	atomic_init(&s->aborted, false);
	/* MHD_SIZE_UNKNOWN and HTTP_SIZE_UNKNOWN are both UINT64_MAX. */
	resp = MHD_create_response_from_callback(size, STREAM_BLOCK, stream_read, s, stream_free);
	if (!resp)
		stream_free(s);
	return resp;
}
