/*
 * job.c - see job.h.
 *
 * One engine mutex guards the job list, the VM lock table and every job's
 * fields; a condition variable on it wakes job_wait, job_sleep and
 * job_lock_wait.  Store writes, bus publications, job functions and cancel
 * hooks all run without it.  A job is freed once its thread has been joined
 * and nobody holds a reference (job_cancel takes one while it runs hooks).
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "job.h"
#include "core/events.h"
#include "core/store_local.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define PERSIST_EVERY_MS 1000
#define PUBLISH_EVERY_MS 250

enum job_state { JOB_RUNNING, JOB_SUCCEEDED, JOB_FAILED, JOB_CANCELLED };
static const char *const state_names[] = { "running", "succeeded", "failed", "cancelled" };

struct job {
	int64_t id;
	char type[32];
	char vm[37];
	char *target, *vm_name;
	char actor[EVENTS_ACTOR_MAX]; /* who started it (events_actor), or "" */
	int64_t parent;
	bool preempt;
	enum job_state state;
	bool cancel_requested;
	char *uncancellable;	/* why job_cancel is refused now, or NULL */
	double percent, rate;
	int64_t eta;
	char *phase, *error;
	json_t *result;
	int64_t started_ms, finished_ms, t0_mono;
	int64_t persisted_ms, published_ms;
	pthread_mutex_t hook_lock;
	void (*hook)(void *);
	void *hook_opaque;
	job_fn run;
	void *arg;
	void (*free_arg)(void *);
	pthread_t thread;
	bool thread_done;	/* the thread has finished its work; join it */
	int refs;		/* the list holds one; job_cancel one while it works */
	struct job *next;
};

struct job_hold {
	char vm[37];
};

/* A VM lock: owner is a struct job or struct job_hold; next a preempting job waiting for it. */
struct vmlock {
	char vm[37];
	const void *owner;
	char what[64];
	struct job *next;
	struct vmlock *link;
};

static pthread_mutex_t eng_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t eng_cond = PTHREAD_COND_INITIALIZER;
static struct store *eng_store;
static struct job *jobs;
static struct vmlock *locks;
static bool stopping;
static const char *cancel_reason; /* set by job_engine_shutdown */

/* ---- VM lock table (eng_lock held) ------------------------------------- */

static struct vmlock *lock_find(const char *vm)
{
	for (struct vmlock *l = locks; l; l = l->link)
		if (strcmp(l->vm, vm) == 0)
			return l;
	return NULL;
}

static int lock_try(const char *vm, const char *vm_name, const void *owner, const char *what, struct buf *err)
{
	struct vmlock *l = lock_find(vm);
	if (l) {
		if (vm_name)
			buf_printf(err, "%s: ", vm_name);
		buf_printf(err, "busy: %s in progress", l->next ? "kill" : l->what);
		return -EAGAIN;
	}
	l = xcalloc(1, sizeof(*l));
	snprintf(l->vm, sizeof(l->vm), "%s", vm);
	snprintf(l->what, sizeof(l->what), "%s", what);
	l->owner = owner;
	l->link = locks;
	locks = l;
	return 0;
}

static void what_of(const struct job *j, char *out, size_t len)
{
	snprintf(out, len, "%s (job %lld)", j->type, (long long)j->id);
}

/* Give the lock of `vm` up if `owner` holds it; hand it to a waiting preemptor. */
static void lock_release(const char *vm, const void *owner)
{
	for (struct vmlock **p = &locks; *p; p = &(*p)->link) {
		struct vmlock *l = *p;
		if (strcmp(l->vm, vm) != 0)
			continue;
		if (l->next == owner) {
			l->next = NULL; /* a preemptor that never took the lock over */
			return;
		}
		if (l->owner != owner) {
			log_warn("vm %s: lock released by a non-owner (held by %s); ignored", vm, l->what);
			return;
		}
		if (l->next) {
			l->owner = l->next;
			what_of(l->next, l->what, sizeof(l->what));
			l->next = NULL;
			pthread_cond_broadcast(&eng_cond);
			return;
		}
		*p = l->link;
		free(l);
		pthread_cond_broadcast(&eng_cond);
		return;
	}
}

/* Every lock a finished job owns or was promised. */
static void release_all(const struct job *j)
{
	struct vmlock *l = locks;
	while (l) {
		struct vmlock *next = l->link;
		if (l->owner == j || l->next == j)
			lock_release(l->vm, j); /* may free l; next was read before */
		l = next;
	}
}

/* ---- job records ------------------------------------------------------- */

static json_t *to_json(const struct job *j)
{
	char a[40], b[40];
	json_t *o = json_pack("{s:I,s:s,s:s,s:o,s:o,s:s,s:b,s:b,s:f,s:s}", "id", (json_int_t)j->id, "type", j->type,
			      "target", j->target, "vm", j->vm[0] ? json_string(j->vm) : json_null(), "parent",
			      j->parent ? json_integer(j->parent) : json_null(), "state", state_names[j->state],
			      "cancelling", j->state == JOB_RUNNING && j->cancel_requested, "cancellable",
			      j->state == JOB_RUNNING && !j->uncancellable, "progress", j->percent, "started",
			      time_fmt_rfc3339(j->started_ms, a, sizeof(a)));
	json_object_set_new(o, "actor", j->actor[0] ? json_string(j->actor) : json_null());
	json_object_set_new(o, "rate", j->rate > 0 ? json_real(j->rate) : json_null());
	json_object_set_new(o, "eta", j->eta >= 0 && j->state == JOB_RUNNING ? json_integer(j->eta) : json_null());
	json_object_set_new(o, "phase", j->phase ? json_string(j->phase) : json_null());
	json_object_set_new(o, "error", j->error ? json_string(j->error) : json_null());
	json_object_set_new(o, "finished",
			    j->finished_ms ? json_string(time_fmt_rfc3339(j->finished_ms, b, sizeof(b))) : json_null());
	if (j->result)
		json_object_set_new(o, "result", json_deep_copy(j->result));
	return o;
}

static struct job *find_locked(int64_t id)
{
	for (struct job *j = jobs; j; j = j->next)
		if (j->id == id)
			return j;
	return NULL;
}

static void job_free(struct job *j)
{
	if (j->free_arg)
		j->free_arg(j->arg);
	pthread_mutex_destroy(&j->hook_lock);
	json_decref(j->result);
	free(j->target);
	free(j->vm_name);
	free(j->uncancellable);
	free(j->phase);
	free(j->error);
	free(j);
}

/* Drop a reference (eng_lock held); returns the job if it must now be freed (outside the lock). */
static struct job *put_locked(struct job *j)
{
	return --j->refs == 0 ? j : NULL;
}

/* Join finished threads and unlink their jobs; frees what nobody holds. */
static void reap_finished(void)
{
	for (;;) {
		struct job *done = NULL;
		pthread_mutex_lock(&eng_lock);
		for (struct job **p = &jobs; *p; p = &(*p)->next) {
			if ((*p)->thread_done) {
				done = *p;
				*p = done->next;
				break;
			}
		}
		pthread_mutex_unlock(&eng_lock);
		if (!done)
			return;
		pthread_join(done->thread, NULL);
		pthread_mutex_lock(&eng_lock);
		struct job *f = put_locked(done);
		pthread_mutex_unlock(&eng_lock);
		if (f)
			job_free(f);
	}
}

/* Persist and/or publish the job's current state (job thread, or job_start). */
static void report(struct job *j, bool persist, bool publish)
{
	pthread_mutex_lock(&eng_lock);
	json_t *o = to_json(j);
	int64_t now = time_mono_ms();
	if (persist)
		j->persisted_ms = now;
	if (publish)
		j->published_ms = now;
	pthread_mutex_unlock(&eng_lock);
	if (persist)
		store_job_save(eng_store, j->id, o);
	if (publish)
		events_publish_vm("job", j->vm[0] ? j->vm : NULL, j->vm_name, json_pack("{s:O}", "job", o));
	json_decref(o);
}

static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct buf err = BUF_INIT;
	events_actor_set(j->actor); /* what the job does is done for whoever started it */
	int r = j->run(j, j->arg, &err);

	pthread_mutex_lock(&eng_lock);
	if (r == 0) {
		j->state = JOB_SUCCEEDED;
		j->percent = 100;
	} else {
		j->state = r == -ECANCELED || j->cancel_requested ? JOB_CANCELLED : JOB_FAILED;
		if (j->state == JOB_CANCELLED && cancel_reason)
			buf_printf(&err, "%s%s", err.len ? "; " : "", cancel_reason);
		else if (j->state == JOB_CANCELLED && !err.len)
			buf_adds(&err, "cancelled");
		else if (!err.len)
			buf_printf(&err, "%s failed: %s", j->type, strerror(-r));
		j->error = buf_detach(&err);
	}
	j->finished_ms = time_wall_ms();
	j->eta = -1;
	release_all(j);
	pthread_mutex_unlock(&eng_lock);
	log_info("job %lld (%s %s): %s%s%s", (long long)j->id, j->type, j->target, state_names[j->state],
		 j->error ? ": " : "", j->error ? j->error : "");
	report(j, true, true);
	/* What the job owns goes now, not when the thread is joined later. */
	if (j->free_arg)
		j->free_arg(j->arg);
	j->free_arg = NULL;
	j->arg = NULL;
	pthread_mutex_lock(&eng_lock);
	j->thread_done = true;
	pthread_cond_broadcast(&eng_cond);
	pthread_mutex_unlock(&eng_lock);
	buf_release(&err);
	return NULL;
}

void job_engine_init(struct store *s)
{
	eng_store = s;
	stopping = false;
	cancel_reason = NULL;
}

int job_start(const struct job_spec *spec, json_t **out, struct buf *err)
{
	struct job *j;
	int r;

	reap_finished();
	j = xcalloc(1, sizeof(*j));
	snprintf(j->type, sizeof(j->type), "%s", spec->type);
	j->target = xstrdup(spec->target ? spec->target : "");
	j->vm_name = spec->vm_name ? xstrdup(spec->vm_name) : NULL;
	if (spec->vm)
		snprintf(j->vm, sizeof(j->vm), "%s", spec->vm);
	j->parent = spec->parent;
	snprintf(j->actor, sizeof(j->actor), "%s", events_actor() ? events_actor() : "");
	j->preempt = spec->preempt;
	j->eta = -1;
	j->run = spec->run;
	j->arg = spec->arg;
	j->free_arg = spec->free_arg;
	j->refs = 1;
	j->started_ms = time_wall_ms();
	j->t0_mono = time_mono_ms();
	pthread_mutex_init(&j->hook_lock, NULL);

	pthread_mutex_lock(&eng_lock);
	if (stopping) {
		pthread_mutex_unlock(&eng_lock);
		buf_adds(err, "corrald is shutting down; try again when it is back");
		job_free(j);
		return -ESHUTDOWN;
	}
	char what[64];
	snprintf(what, sizeof(what), "%s", j->type);
	if (j->vm[0]) {
		struct vmlock *l = lock_find(j->vm);
		if (l && j->preempt && !l->next) {
			l->next = j; /* promised; job_lock_wait takes it over */
		} else if ((r = lock_try(j->vm, j->vm_name, j, what, err)) < 0) {
			pthread_mutex_unlock(&eng_lock);
			job_free(j);
			return r;
		}
	}
	pthread_mutex_unlock(&eng_lock);

	json_t *rec = to_json(j);
	j->id = store_job_insert(eng_store, rec);
	json_decref(rec);
	pthread_mutex_lock(&eng_lock);
	if (j->id < 0) {
		if (j->vm[0])
			lock_release(j->vm, j);
		pthread_mutex_unlock(&eng_lock);
		buf_printf(err, "cannot record the %s job", j->type);
		job_free(j);
		return -EIO;
	}
	struct vmlock *l = j->vm[0] ? lock_find(j->vm) : NULL;
	int64_t holder = 0; /* the job a preemptor must cancel */
	if (l && l->owner == j)
		what_of(j, l->what, sizeof(l->what));
	else if (l && l->next == j)
		for (struct job *o = jobs; o; o = o->next)
			if (o == l->owner && strcmp(o->vm, j->vm) == 0)
				holder = o->id; /* not one that only took the VM with job_lock_vm */
	j->next = jobs;
	jobs = j;
	pthread_mutex_unlock(&eng_lock);

	if (holder) {
		struct buf cerr = BUF_INIT;
		if (job_cancel(holder, &cerr) < 0)
			log_info("job %lld: %s pre-empts job %lld (%s)", (long long)j->id, j->type, (long long)holder,
				 cerr.s);
		buf_release(&cerr);
	}

	report(j, false, true);
	if (out) {
		pthread_mutex_lock(&eng_lock);
		*out = to_json(j);
		pthread_mutex_unlock(&eng_lock);
	}
	if ((r = pthread_create(&j->thread, NULL, job_thread, j)) != 0) {
		pthread_mutex_lock(&eng_lock);
		j->state = JOB_FAILED;
		j->error = xasprintf("cannot start a thread for the job: %s", strerror(r));
		j->finished_ms = time_wall_ms();
		if (j->vm[0])
			lock_release(j->vm, j);
		for (struct job **p = &jobs; *p; p = &(*p)->next)
			if (*p == j) {
				*p = j->next;
				break;
			}
		pthread_mutex_unlock(&eng_lock);
		report(j, true, true);
		buf_printf(err, "%s", j->error);
		if (out) {
			json_decref(*out);
			*out = NULL;
		}
		job_free(j);
		return -EAGAIN;
	}
	log_info("job %lld (%s %s) started", (long long)j->id, j->type, j->target);
	return 0;
}

int job_cancel(int64_t id, struct buf *err)
{
	__do_buf struct buf scratch = BUF_INIT;

	if (!err)
		err = &scratch;
	pthread_mutex_lock(&eng_lock);
	struct job *j = find_locked(id);
	if (!j || j->state != JOB_RUNNING) {
		pthread_mutex_unlock(&eng_lock);
		__do_json json_t *rec = j ? NULL : store_job_get(eng_store, id);
		if (!j && !rec) {
			buf_printf(err, "job %lld not found", (long long)id);
			return -ENOENT;
		}
		buf_printf(err, "job %lld is over (%s)", (long long)id,
			   j ? state_names[j->state] : json_string_value(json_object_get(rec, "state")));
		return -EALREADY;
	}
	if (j->uncancellable) {
		buf_printf(err, "job %lld (%s) cannot be cancelled now: %s", (long long)id, j->type, j->uncancellable);
		pthread_mutex_unlock(&eng_lock);
		return -EBUSY;
	}
	bool first = !j->cancel_requested;
	j->cancel_requested = true;
	j->refs++;
	pthread_cond_broadcast(&eng_cond);
	pthread_mutex_unlock(&eng_lock);

	if (first) {
		log_info("job %lld (%s %s): cancel requested", (long long)id, j->type, j->target);
		report(j, true, true);
	}
	pthread_mutex_lock(&j->hook_lock);
	if (j->hook)
		j->hook(j->hook_opaque);
	pthread_mutex_unlock(&j->hook_lock);

	/* Children first collected, then cancelled without the lock held. */
	int64_t kids[64];
	size_t nk = 0;
	pthread_mutex_lock(&eng_lock);
	for (struct job *c = jobs; c && nk < ARRAY_SIZE(kids); c = c->next)
		if (c->parent == id && c->state == JOB_RUNNING)
			kids[nk++] = c->id;
	struct job *f = put_locked(j);
	pthread_mutex_unlock(&eng_lock);
	if (f)
		job_free(f);
	for (size_t i = 0; i < nk; i++) {
		struct buf e = BUF_INIT;
		job_cancel(kids[i], &e);
		buf_release(&e);
	}
	return 0;
}

json_t *job_get(int64_t id)
{
	pthread_mutex_lock(&eng_lock);
	struct job *j = find_locked(id);
	json_t *o = j ? to_json(j) : NULL;
	pthread_mutex_unlock(&eng_lock);
	return o ? o : store_job_get(eng_store, id);
}

json_t *job_list(const char *vm, int limit)
{
	json_t *arr = store_job_list(eng_store, vm, limit);
	size_t i;
	json_t *row;
	/* Running jobs: their live progress rather than the last persisted one. */
	pthread_mutex_lock(&eng_lock);
	json_array_foreach(arr, i, row) {
		struct job *j = find_locked(json_integer_value(json_object_get(row, "id")));
		if (j)
			json_array_set_new(arr, i, to_json(j));
	}
	pthread_mutex_unlock(&eng_lock);
	return json_pack("{s:o}", "jobs", arr);
}

int job_wait(int64_t id, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? INT64_MAX : time_mono_ms() + timeout_ms;
	int r = 0;
	pthread_mutex_lock(&eng_lock);
	for (;;) {
		struct job *j = find_locked(id);
		if (!j || j->state != JOB_RUNNING)
			break;
		int64_t left = deadline - time_mono_ms();
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct timespec ts = time_realtime_in(left > 200 ? 200 : left);
		pthread_cond_timedwait(&eng_cond, &eng_lock, &ts);
	}
	pthread_mutex_unlock(&eng_lock);
	return r;
}

void job_engine_shutdown(void)
{
	int64_t ids[256];
	size_t n;

	pthread_mutex_lock(&eng_lock);
	stopping = true;
	cancel_reason = "corrald stopped while the job ran";
	pthread_mutex_unlock(&eng_lock);
	do {
		n = 0;
		pthread_mutex_lock(&eng_lock);
		for (struct job *j = jobs; j && n < ARRAY_SIZE(ids); j = j->next)
			if (j->state == JOB_RUNNING && !j->cancel_requested && !j->uncancellable)
				ids[n++] = j->id;
		pthread_mutex_unlock(&eng_lock);
		for (size_t i = 0; i < n; i++) {
			struct buf e = BUF_INIT;
			job_cancel(ids[i], &e);
			buf_release(&e);
		}
	} while (n == ARRAY_SIZE(ids));
	/* Wait for every thread; say what is still running now and then. */
	int64_t next_note = time_mono_ms() + 5000;
	for (;;) {
		reap_finished();
		pthread_mutex_lock(&eng_lock);
		struct job *left = jobs;
		if (left && time_mono_ms() >= next_note) {
			log_info("shutdown: waiting for job %lld (%s %s) to finish", (long long)left->id, left->type,
				 left->target);
			next_note = time_mono_ms() + 5000;
		}
		if (left) {
			struct timespec ts = time_realtime_in(200);
			pthread_cond_timedwait(&eng_cond, &eng_lock, &ts);
		}
		pthread_mutex_unlock(&eng_lock);
		if (!left)
			break;
	}
}

/* ---- for job functions ------------------------------------------------- */

int64_t job_id(const struct job *j) { return j->id; }
const char *job_vm(const struct job *j) { return j->vm[0] ? j->vm : NULL; }

bool job_cancelled(const struct job *j)
{
	pthread_mutex_lock(&eng_lock);
	bool c = j->cancel_requested;
	pthread_mutex_unlock(&eng_lock);
	return c;
}

void job_progress(struct job *j, double percent, double rate, int64_t eta_s)
{
	if (percent > 99.9)
		percent = 99.9;
	if (percent < 0)
		percent = 0;
	pthread_mutex_lock(&eng_lock);
	j->percent = percent;
	j->rate = rate;
	j->eta = eta_s;
	int64_t now = time_mono_ms();
	bool persist = now - j->persisted_ms >= PERSIST_EVERY_MS;
	bool publish = now - j->published_ms >= PUBLISH_EVERY_MS;
	pthread_mutex_unlock(&eng_lock);
	if (persist || publish)
		report(j, persist, publish);
}

void job_progress_bytes(struct job *j, uint64_t done, uint64_t total)
{
	double secs = (double)(time_mono_ms() - j->t0_mono) / 1000.0;
	double rate = secs > 0.2 ? (double)done / secs : 0;
	double pct = total ? 100.0 * (double)done / (double)total : 0;
	int64_t eta = rate > 0 && total > done ? (int64_t)((double)(total - done) / rate) : -1;
	job_progress(j, pct, rate, eta);
}

void job_set_phase(struct job *j, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&eng_lock);
	free(j->phase);
	j->phase = buf_detach(&b);
	pthread_mutex_unlock(&eng_lock);
	report(j, false, true);
}

void job_set_result(struct job *j, json_t *result)
{
	pthread_mutex_lock(&eng_lock);
	json_decref(j->result);
	j->result = result;
	pthread_mutex_unlock(&eng_lock);
}

void job_record_result(struct job *j, json_t *result)
{
	job_set_result(j, result);
	report(j, true, false);
}

void job_on_cancel(struct job *j, void (*fn)(void *opaque), void *opaque)
{
	pthread_mutex_lock(&j->hook_lock);
	j->hook = fn;
	j->hook_opaque = opaque;
	pthread_mutex_unlock(&j->hook_lock);
	/* A cancel that came before the hook was in place still reaches the step. */
	if (fn && job_cancelled(j))
		fn(opaque);
}

void job_set_uncancellable(struct job *j, const char *why)
{
	pthread_mutex_lock(&eng_lock);
	free(j->uncancellable);
	j->uncancellable = why ? xstrdup(why) : NULL;
	pthread_mutex_unlock(&eng_lock);
}

int job_sleep(struct job *j, int ms)
{
	int64_t deadline = time_mono_ms() + ms;
	int r = 0;
	pthread_mutex_lock(&eng_lock);
	while (!j->cancel_requested) {
		int64_t left = deadline - time_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts = time_realtime_in(left); /* eng_cond's clock */
		pthread_cond_timedwait(&eng_cond, &eng_lock, &ts);
	}
	if (j->cancel_requested)
		r = -ECANCELED;
	pthread_mutex_unlock(&eng_lock);
	return r;
}

int job_lock_wait(struct job *j, int timeout_ms)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	int r = -ETIMEDOUT;
	pthread_mutex_lock(&eng_lock);
	for (;;) {
		struct vmlock *l = j->vm[0] ? lock_find(j->vm) : NULL;
		if (!l) {
			/* The previous owner let go before we were promised it, or there was none. */
			if (j->vm[0] && (r = lock_try(j->vm, NULL, j, j->type, NULL)) == 0)
				what_of(j, locks->what, sizeof(locks->what)); /* lock_try put it first */
			else
				r = j->vm[0] ? r : 0;
			break;
		}
		if (l->owner == j) {
			r = 0;
			break;
		}
		int64_t left = deadline - time_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts = time_realtime_in(left > 200 ? 200 : left);
		pthread_cond_timedwait(&eng_cond, &eng_lock, &ts);
	}
	pthread_mutex_unlock(&eng_lock);
	return r;
}

int job_lock_vm(struct job *j, const char *vm, const char *vm_name, struct buf *err)
{
	char what[64];
	what_of(j, what, sizeof(what));
	pthread_mutex_lock(&eng_lock);
	int r = lock_try(vm, vm_name, j, what, err);
	pthread_mutex_unlock(&eng_lock);
	return r;
}

void job_unlock_vm(struct job *j, const char *vm)
{
	pthread_mutex_lock(&eng_lock);
	lock_release(vm, j);
	pthread_mutex_unlock(&eng_lock);
}

/* ---- holds ------------------------------------------------------------- */

int job_hold_vm(const char *vm, const char *vm_name, const char *what, struct job_hold **h, struct buf *err)
{
	struct job_hold *n = xcalloc(1, sizeof(*n));
	snprintf(n->vm, sizeof(n->vm), "%s", vm);
	pthread_mutex_lock(&eng_lock);
	int r = lock_try(vm, vm_name, n, what, err);
	pthread_mutex_unlock(&eng_lock);
	if (r < 0) {
		free(n);
		return r;
	}
	*h = n;
	return 0;
}

void job_release(struct job_hold *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&eng_lock);
	lock_release(h->vm, h);
	pthread_mutex_unlock(&eng_lock);
	free(h);
}

void job_vm_actor(const char *vm, char *out, size_t len)
{
	pthread_mutex_lock(&eng_lock);
	struct vmlock *l = lock_find(vm);
	out[0] = '\0';
	for (struct job *j = jobs; l && j; j = j->next)
		if (j == l->owner)
			snprintf(out, len, "%s", j->actor);
	pthread_mutex_unlock(&eng_lock);
}

void job_vm_current(const char *vm, char *out, size_t len)
{
	pthread_mutex_lock(&eng_lock);
	struct vmlock *l = lock_find(vm);
	snprintf(out, len, "%s", l ? l->what : "");
	pthread_mutex_unlock(&eng_lock);
}
