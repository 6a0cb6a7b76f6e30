/*
 * events.c - GET /v1/events: the event bus (core/events.h) as server-sent
 * events, and recent history as JSON.
 *
 * With follow=true the answer is a text/event-stream that lasts until the
 * client goes away (or, with job=ID, until that job ends): each event is one
 * frame "id: SEQ\nevent: KIND\ndata: JSON\n\n", and a ": keepalive" comment
 * goes out with every bus heartbeat.  The bus calls our subscriber on the
 * publisher's thread, so it only formats the frame and writes it into a
 * non-blocking pipe whose other end the HTTP layer streams to the client.
 * A reader that falls so far behind that the pipe is full is dropped (its
 * stream ends; it reconnects and reads what it missed from the history);
 * a reader that left is noticed by EPIPE.  Filters: vm (a selector naming
 * one VM), kind (comma-separated), job (its events and its children's).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "routes_internal.h"
#include "core/events.h"
#include "core/job.h"
#include "service/auth.h"
#include "service/events.h"
#include "service/vm.h"
#include "util/jsonutil.h"
#include "util/common.h"

#define SSE_PIPE_SIZE (1 << 20)
#define SSE_MAX_KINDS 16

struct sse {
	pthread_mutex_t lock;	/* one writer at a time: the bus, or the handler's first frame */
	atomic_int refs;	/* the bus's and, while it sets the stream up, the handler's */
	int fd;			/* write end, non-blocking; -1 once the bus let go */
	bool done;		/* the stream is over: answer false to the bus */
	svc_uuid vm;		/* "" = every VM */
	char *kinds[SSE_MAX_KINDS];
	int nkinds;
	int64_t job;		/* 0 = any */
	struct svc_acl *acl;	/* over TCP without Sys.Audit on /events: only events of VMs */
	struct svc_identity who; /* the caller may read (a copy of the ACL: no store in the bus) */
};

static void sse_put(struct sse *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->fd >= 0)
		close(s->fd);
	svc_acl_free(s->acl);
	for (int i = 0; i < s->nkinds; i++)
		free(s->kinds[i]);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* The bus let go (the stream ended, or corrald stops): close the write end,
 * so the reply ends once the client has read what is in the pipe.  The
 * handler may still hold s: the bus can release it as soon as
 * events_subscribe() returns (the followed job ending at that moment). */
static void sse_release(void *opaque)
{
	struct sse *s = opaque;
	pthread_mutex_lock(&s->lock);
	s->done = true;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	pthread_mutex_unlock(&s->lock);
	sse_put(s);
}

/* Write all of data, or fail (pipe full: the reader lags; EPIPE: it left). */
static bool write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

static bool wanted(const struct sse *s, const json_t *ev)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	const char *vm = json_string_value(json_object_get(ev, "vm"));
	if (s->vm[0] && (!vm || strcmp(vm, s->vm) != 0))
		return false;
	if (s->acl) {
		const char *name = json_string_value(json_object_get(ev, "name"));
		char obj[300];
		snprintf(obj, sizeof(obj), "/vms/%s", name ? name : "");
		if (!vm || !name || !svc_acl_allows(s->acl, &s->who, AUTH_VM_AUDIT, obj))
			return false;
	}
	if (s->nkinds) {
		bool hit = false;
		for (int i = 0; i < s->nkinds && !hit; i++)
			hit = kind && strcmp(kind, s->kinds[i]) == 0;
		if (!hit)
			return false;
	}
	if (s->job) {
		json_t *job = json_object_get(ev, "job");
		if (!kind || strcmp(kind, "job") != 0)
			return false;
		if (json_integer_value(json_object_get(job, "id")) != s->job &&
		    json_integer_value(json_object_get(job, "parent")) != s->job)
			return false;
	}
	return true;
}

/* The job=ID stream ends with that job. */
static bool ends_stream(const struct sse *s, const json_t *ev)
{
	json_t *job = json_object_get(ev, "job");
	const char *state = json_string_value(json_object_get(job, "state"));
	return s->job && json_integer_value(json_object_get(job, "id")) == s->job && state &&
	       strcmp(state, "running") != 0;
}

static bool send_frame(struct sse *s, const json_t *ev)
{
	__do_free char *data = json_dumps(ev, JSON_COMPACT);
	struct buf f = BUF_INIT;
	buf_printf(&f, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)json_integer_value(json_object_get(ev, "seq")),
		   json_string_value(json_object_get(ev, "kind")) ?: "event", data ? data : "{}");
	bool ok = write_all(s->fd, f.s, f.len);
	buf_release(&f);
	return ok;
}

static bool sse_cb(const json_t *ev, void *opaque)
{
	struct sse *s = opaque;
	bool keep;
	pthread_mutex_lock(&s->lock);
	if (s->done)
		keep = false;
	else if (!ev)
		keep = write_all(s->fd, ": keepalive\n\n", 13);
	else if (!wanted(s, ev))
		keep = true;
	else
		keep = send_frame(s, ev) && !ends_stream(s, ev);
	if (!keep)
		s->done = true;
	pthread_mutex_unlock(&s->lock);
	return keep;
}

static int parse_kinds(struct sse *s, const char *list, struct buf *err)
{
	if (list && !*list) {
		buf_adds(err, "kind must name at least one event kind");
		return -EINVAL;
	}
	while (list && *list) {
		size_t n = strcspn(list, ",");
		if (n == 0 || n > 32 || s->nkinds == SSE_MAX_KINDS) {
			buf_printf(err, "kind must be a comma-separated list of at most %d event kinds", SSE_MAX_KINDS);
			return -EINVAL;
		}
		s->kinds[s->nkinds] = xmalloc(n + 1);
		memcpy(s->kinds[s->nkinds], list, n);
		s->kinds[s->nkinds++][n] = '\0';
		list += n + (list[n] == ',');
	}
	return 0;
}

static void follow(struct route_ctx *c, const char *vmsel, const char *kinds, int64_t jobid)
{
	struct buf err = BUF_INIT;
	__do_json json_t *job = NULL;
	int p[2];
	struct sse *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	atomic_init(&s->refs, 1);
	s->fd = -1;
	s->job = jobid;
	if (c->req->remote) {
		s->acl = svc_acl_load();
		s->who = *c->who;
		if (svc_acl_allows(s->acl, &s->who, AUTH_SYS_AUDIT, "/events")) {
			svc_acl_free(s->acl);
			s->acl = NULL;
		}
	}
	if (vmsel && one_vm(c, vmsel, s->vm) < 0)
		goto fail_quiet;
	if (parse_kinds(s, kinds, &err) < 0) {
		fail(c, -EINVAL, err.s);
		goto fail_quiet;
	}
	if (jobid && !(job = job_get(jobid))) {
		fail(c, -ENOENT, "job not found");
		goto fail_quiet;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		fail(c, -EIO, "cannot create the event stream");
		goto fail_quiet;
	}
	fcntl(p[0], F_SETPIPE_SZ, SSE_PIPE_SIZE);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	s->fd = p[1];
	atomic_fetch_add(&s->refs, 1); /* the bus's */
	int id = events_subscribe(sse_cb, sse_release, s);
	if (!id) { /* corrald is stopping; the bus has let go already */
		close(p[0]);
		fail(c, -ESHUTDOWN, "corrald is shutting down");
		goto fail_quiet;
	}
	if (jobid) {
		/* The job as it is now, then its changes; a finished one ends the stream at once.
		 * Its JSON is re-read after subscribing, so no change can fall in between. */
		json_decref(job);
		job = job_get(jobid);
		json_t *ev = json_pack("{s:i,s:s,s:O,s:O}", "seq", 0, "kind", "job", "vm",
				       json_object_get(job, "vm") ?: json_null(), "job", job);
		pthread_mutex_lock(&s->lock);
		bool keep = !s->done && send_frame(s, ev) && !ends_stream(s, ev);
		if (!keep)
			s->done = true;
		pthread_mutex_unlock(&s->lock);
		json_decref(ev);
		if (!keep)
			events_unsubscribe(id); /* closes the write end: the stream ends after the frame */
	}
	http_reply_stream(c->rep, p[0], HTTP_SIZE_UNKNOWN);
	http_reply_header(c->rep, "Content-Type", "text/event-stream");
	http_reply_header(c->rep, "Cache-Control", "no-cache");
fail_quiet:
	buf_release(&err);
	sse_put(s);
}

void h_events(struct route_ctx *c)
{
	const char *vm = http_query(c->req, "vm");
	const char *kinds = http_query(c->req, "kind");
	long job = 0, limit = 50;
	struct buf err = BUF_INIT;

	if (query_int(c, "job", 1, LONG_MAX, &job) < 0 || query_int(c, "limit", 1, 10000, &limit) < 0)
		return;
	if (route_stream_elsewhere(c, vm, query_bool(c, "follow") ? "event streams are" : "events are"))
		return; /* another member's VM: its events are there (docs/cluster.md "Pool-wide answers") */
	if (query_bool(c, "follow")) {
		follow(c, vm, kinds, job);
		return;
	}
	svc_uuid u;
	if (vm && one_vm(c, vm, u) < 0)
		return;
	json_t *list = svc_events_recent(vm ? u : NULL, kinds, (int)limit, &err), *e;
	if (vm) { /* one VM's events name it: the filter below needs that */
		__do_json json_t *show = svc_vm_show(u);
		size_t i;
		json_array_foreach(list, i, e) {
			json_object_set_new(e, "vm", json_string(u));
			json_object_set(e, "name", json_object_get(show, "name"));
		}
	}
	route_filter(c, list, "events");
	if (list)
		http_reply_json(c->rep, 200, json_pack("{s:o}", "events", list));
	else
		fail(c, -EINVAL, err.s);
	buf_release(&err);
}
