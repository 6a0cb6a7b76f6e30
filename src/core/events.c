/*
 * events.c - see events.h.  A list of subscribers under one mutex; the
 * sequence counter lives under the same mutex so seq order is delivery order.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "events.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"

struct sub {
	int id;
	events_cb cb;
	void (*release)(void *);
	void *opaque;
	struct sub *next;
};

static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sub *subs;
static int next_id = 1;
static int64_t next_seq = 1;
static bool closed; /* events_unsubscribe_all ran: no new subscriptions */
static _Thread_local char actor[EVENTS_ACTOR_MAX];

void events_actor_set(const char *who) { snprintf(actor, sizeof(actor), "%s", who ? who : ""); }

const char *events_actor(void) { return actor[0] ? actor : NULL; }

/* Hand event to every subscriber (bus_lock held); unlink those that answer
 * false and return them for release_all (called without the lock). */
static struct sub *deliver(const json_t *event)
{
	struct sub *gone = NULL;
	for (struct sub **p = &subs; *p;) {
		struct sub *s = *p;
		if (s->cb(event, s->opaque)) {
			p = &s->next;
			continue;
		}
		*p = s->next;
		s->next = gone;
		gone = s;
	}
	return gone;
}

static void release_all(struct sub *list)
{
	while (list) {
		struct sub *n = list->next;
		if (list->release)
			list->release(list->opaque);
		free(list);
		list = n;
	}
}

int64_t events_publish(json_t *event)
{
	char stamp[40];
	if (actor[0] && !json_object_get(event, "actor"))
		json_object_set_new(event, "actor", json_string(actor));
	if (!json_object_get(event, "time"))
		json_object_set_new(event, "time", json_string(time_fmt_rfc3339(time_wall_ms(), stamp, sizeof(stamp))));
	pthread_mutex_lock(&bus_lock);
	int64_t seq = next_seq++;
	json_object_set_new(event, "seq", json_integer(seq));
	struct sub *gone = deliver(event);
	pthread_mutex_unlock(&bus_lock);
	json_decref(event);
	release_all(gone);
	return seq;
}

void events_tick(void)
{
	pthread_mutex_lock(&bus_lock);
	struct sub *gone = deliver(NULL);
	pthread_mutex_unlock(&bus_lock);
	release_all(gone);
}

int64_t events_publish_vm(const char *kind, const char *vm_uuid, const char *vm_name, json_t *data)
{
	json_t *e = json_pack("{s:s,s:o,s:o}", "kind", kind, "vm", vm_uuid ? json_string(vm_uuid) : json_null(), "name",
			      vm_name ? json_string(vm_name) : json_null());
	if (data)
		json_object_update_missing(e, data);
	json_decref(data);
	return events_publish(e);
}

int events_subscribe(events_cb cb, void (*release)(void *opaque), void *opaque)
{
	struct sub *s = xcalloc(1, sizeof(*s));
	s->cb = cb;
	s->release = release;
	s->opaque = opaque;
	pthread_mutex_lock(&bus_lock);
	if (closed) {
		pthread_mutex_unlock(&bus_lock);
		release_all(s);
		return 0;
	}
	s->id = next_id++;
	s->next = subs;
	subs = s;
	pthread_mutex_unlock(&bus_lock);
	return s->id;
}

void events_unsubscribe(int id)
{
	struct sub *gone = NULL;
	pthread_mutex_lock(&bus_lock);
	for (struct sub **p = &subs; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			gone = *p;
			*p = gone->next;
			break;
		}
	}
	pthread_mutex_unlock(&bus_lock);
	if (gone)
		gone->next = NULL;
	release_all(gone);
}

void events_unsubscribe_all(void)
{
	pthread_mutex_lock(&bus_lock);
	struct sub *gone = subs;
	subs = NULL;
	closed = true;
	pthread_mutex_unlock(&bus_lock);
	release_all(gone);
}

int64_t events_next_seq(void)
{
	pthread_mutex_lock(&bus_lock);
	int64_t s = next_seq;
	pthread_mutex_unlock(&bus_lock);
	return s;
}
