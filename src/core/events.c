/*
 * events.c - see events.h.  A list of subscribers under one mutex; the
 * sequence counter lives under the same mutex so seq order is delivery order.
 */
#include <pthread.h>
#include <stdlib.h>

#include "events.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"

struct sub {
	int id;
	events_cb cb;
	void *opaque;
	struct sub *next;
};

static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sub *subs;
static int next_id = 1;
static int64_t next_seq = 1;

int64_t events_publish(json_t *event)
{
	char stamp[40];
	if (!json_object_get(event, "time"))
		json_object_set_new(event, "time", json_string(time_fmt_rfc3339(time_wall_ms(), stamp, sizeof(stamp))));
	pthread_mutex_lock(&bus_lock);
	int64_t seq = next_seq++;
	json_object_set_new(event, "seq", json_integer(seq));
	for (struct sub *s = subs; s; s = s->next)
		s->cb(event, s->opaque);
	pthread_mutex_unlock(&bus_lock);
	json_decref(event);
	return seq;
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

int events_subscribe(events_cb cb, void *opaque)
{
	struct sub *s = xcalloc(1, sizeof(*s));
	s->cb = cb;
	s->opaque = opaque;
	pthread_mutex_lock(&bus_lock);
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
	free(gone);
}

int64_t events_next_seq(void)
{
	pthread_mutex_lock(&bus_lock);
	int64_t s = next_seq;
	pthread_mutex_unlock(&bus_lock);
	return s;
}
