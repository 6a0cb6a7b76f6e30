/*
 * http_pool.c - the HTTP front end's worker threads and their bounded
 * queue.
 *
 * A fixed number of threads take items from a ring of queue_len slots.
 * Submitting never blocks and never grows the ring: a full ring refuses
 * the item and the caller answers 503 at once, so an overload shows up as
 * quick refusals instead of an unbounded backlog of suspended clients.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct http_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;  /* an item was queued, or stop */
	pthread_cond_t idle;  /* a worker finished an item (CLOCK_MONOTONIC) */
	void **ring;
	unsigned cap, head, len;
	unsigned running;     /* items being run */
	bool stop;
	http_pool_fn run;
	void *arg;
	pthread_t *threads;
	unsigned nthreads;
};

static void *worker_main(void *arg)
{
	struct http_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->len && !p->stop)
			pthread_cond_wait(&p->work, &p->lock);
		if (!p->len)
			break; /* stopping and nothing left */
		void *item = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		p->running++;
		pthread_mutex_unlock(&p->lock);
		p->run(item, p->arg);
		pthread_mutex_lock(&p->lock);
		p->running--;
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void pool_free(struct http_pool *p)
{
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->idle);
	pthread_mutex_destroy(&p->lock);
	free(p->ring);
	free(p->threads);
	free(p);
}

/* Tell the workers to leave once the ring is empty and join them. */
static void pool_join(struct http_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
}

int http_pool_start(unsigned workers, unsigned queue_len, http_pool_fn run, void *arg, struct http_pool **out,
		    struct buf *err)
{
	struct http_pool *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int r;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->idle, &ca);
	pthread_condattr_destroy(&ca);
	p->cap = queue_len ? queue_len : 1;
	p->ring = xcalloc(p->cap, sizeof(*p->ring));
	p->run = run;
	p->arg = arg;
	p->threads = xcalloc(workers, sizeof(*p->threads));
	for (; p->nthreads < workers; p->nthreads++) {
		if ((r = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p)) != 0) {
			buf_printf(err, "cannot start HTTP worker thread %u: %s", p->nthreads + 1, strerror(r));
			pool_join(p);
			pool_free(p);
			return -r;
		}
	}
	*out = p;
	return 0;
}

bool http_pool_submit(struct http_pool *p, void *item)
{
	bool ok = false;

	pthread_mutex_lock(&p->lock);
	if (!p->stop && p->len < p->cap) {
		p->ring[(p->head + p->len) % p->cap] = item;
		p->len++;
		pthread_cond_signal(&p->work);
		ok = true;
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int http_pool_stop(struct http_pool *p, int64_t timeout_ms, http_pool_fn reject)
{
	int64_t end = time_mono_ms() + timeout_ms;
	struct timespec ts = { .tv_sec = end / 1000, .tv_nsec = (end % 1000) * 1000000 };

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	/* Take the queue: workers finish what they run and then leave. */
	while (p->len) {
		void *item = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->len--;
		pthread_mutex_unlock(&p->lock);
		reject(item, p->arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_cond_broadcast(&p->work);
	while (p->running && pthread_cond_timedwait(&p->idle, &p->lock, &ts) != ETIMEDOUT)
		;
	unsigned left = p->running;
	pthread_mutex_unlock(&p->lock);
	if (left) {
		log_warn("%u HTTP handler%s still running after %lld ms", left, left == 1 ? "" : "s",
			 (long long)timeout_ms);
		return -ETIMEDOUT;
	}
	pool_join(p);
	pool_free(p);
	return 0;
}
