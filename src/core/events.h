/*
 * events.h - corrald's in-process event bus.
 *
 * Whatever happens on the host that a user may want to watch is published
 * here once: VM state changes, job starts, progress and ends, hot-plug,
 * CD-ROM changes, backup results.  Subscribers (the API's server-sent
 * event streams, tests) receive every event in publication order with a
 * sequence number that only grows.  The bus does not persist anything: the
 * service layer decides which events also go to the store (events flow up:
 * the QEMU runtime reports, the service layer records and publishes).
 *
 * An event is {"seq", "time", "kind", "vm", "name", ...kind-specific...}:
 * kind is "state", "job", or one of the VM event types of docs/api.md
 * ("disk", "cdrom", "snapshot", "backup", ...); vm/name are the VM's uuid
 * and name or null; "job" events carry the job JSON under "job".
 *
 * Threading: events_publish may be called from any thread, also with
 * other locks held: it takes only the bus lock.  Callbacks run on the
 * publisher's thread with the bus lock held, so they are serialised and see
 * events in seq order; they must be quick and must not block nor call back
 * into the bus (an SSE subscriber writes to a non-blocking pipe and drops
 * itself when the reader lags).  After events_unsubscribe() returns, the
 * callback is not running and will not be called again.
 * Lock order: every other lock may be held when publishing; the bus lock is
 * the last one taken.
 */
#ifndef CORRAL_CORE_EVENTS_H
#define CORRAL_CORE_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

/* The event (borrowed for the call; json_incref to keep it), or NULL for a
 * heartbeat (events_tick).  Return false to be unsubscribed (a subscriber
 * whose reader went away); release(opaque) follows. */
typedef bool (*events_cb)(const json_t *event, void *opaque);

/*
 * Publish `event` (a JSON object; the reference is stolen): the bus adds
 * "seq" and, if missing, "time" (RFC 3339, ms) and hands it to every
 * subscriber.  Returns the event's seq.
 */
int64_t events_publish(json_t *event);

/* Convenience: publish {"kind": kind, "vm": vm|null, "name": name|null} merged with
 * the members of `data` (an object or NULL; stolen). */
int64_t events_publish_vm(const char *kind, const char *vm_uuid, const char *vm_name, json_t *data);

/* Subscribe; returns an id > 0 for events_unsubscribe.  release (may be
 * NULL) is called with opaque once the subscription ends, either way.
 * After events_unsubscribe_all: 0, and release(opaque) has been called. */
int events_subscribe(events_cb cb, void (*release)(void *opaque), void *opaque);
void events_unsubscribe(int id);
/* Call every subscriber with a NULL event (a heartbeat: streams use it to
 * notice readers that went away while nothing happened). */
void events_tick(void);

/* End every subscription (corrald stops: event streams end, so their
 * connections close). */
void events_unsubscribe_all(void);

/*
 * Who the calling thread acts for: "root@unix" (the unix socket), a user
 * "alice" or a token "alice!ci" (the TLS API), set by the API front end for
 * a request and by the job engine for a job's thread (the actor who started
 * it).  Events published and recorded (store_event_add) while it is set
 * carry it as "actor"; NULL clears it.  Copied into thread-local storage.
 */
#define EVENTS_ACTOR_MAX 160
void events_actor_set(const char *actor);
/* The calling thread's actor, or NULL. */
const char *events_actor(void);

/* The seq the next event will get (events with a smaller seq have been delivered). */
int64_t events_next_seq(void);

#endif
