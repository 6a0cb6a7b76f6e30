/*
 * agent.c - see agent.h: one guest agent client per running VM, the cache of
 * what the guest reported (refreshed on demand by `vm show`, in the
 * background for `vm list`), and the freeze/thaw bracket around points in
 * time.
 *
 * The registry is a list of entries under agent_lock, each reference
 * counted: a caller takes a reference, works on the entry's client without
 * the registry lock (the client serialises calls), and drops it; a
 * forgotten entry is unlinked at once and freed by its last user.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "agent.h"
#include "service/internal.h"
#include "qemu/argv.h"
#include "qemu/qga.h"
#include "qemu/runtime.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

/* Whether an agent answers at all, before a freeze is sent. */
#define AGENT_PING_MS 1000

struct agent_vm {
	struct agent_vm *next;
	char uuid[37];
	int refs;
	struct qga *g;
	/* the cache, under agent_lock */
	const char *state;	/* "connected", "not responding"; NULL: never asked */
	json_t *info;		/* {"hostname","os","interfaces","ips"} members, or NULL */
	int64_t checked_mono, checked_wall;
	bool refreshing;
};

/* Background refreshes at once (vm list of many VMs: the others wait for a later list). */
#define AGENT_MAX_REFRESHERS 4

static pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t agent_idle = PTHREAD_COND_INITIALIZER; /* refreshers reached 0 */
static struct agent_vm *agents;
static int refreshers;		/* background refresh threads running */
static bool stopping;		/* svc_agent_forget_all: no new background work */
static pthread_t recover_tid;	/* svc_agent_recover's thread, joined at shutdown */
static bool recover_running;

static void entry_free(struct agent_vm *v)
{
	qga_free(v->g);
	json_decref(v->info);
	free(v);
}

/* A reference to uuid's entry, made if absent. */
static struct agent_vm *agent_get(const char *uuid)
{
	struct agent_vm *v;
	pthread_mutex_lock(&agent_lock);
	for (v = agents; v; v = v->next)
		if (strcmp(v->uuid, uuid) == 0)
			break;
	if (!v) {
		__do_free char *sock = xasprintf("%s/%s/%s", svc_cfg.run_dir, uuid, QEMU_AGENT_SOCKET);
		v = xcalloc(1, sizeof(*v));
		snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
		v->g = qga_new(sock);
		v->refs = 1; /* the registry's */
		v->next = agents;
		agents = v;
	}
	v->refs++;
	pthread_mutex_unlock(&agent_lock);
	return v;
}

static void agent_put(struct agent_vm *v)
{
	pthread_mutex_lock(&agent_lock);
	bool last = --v->refs == 0;
	pthread_mutex_unlock(&agent_lock);
	if (last)
		entry_free(v);
}

/* Unlink v (under agent_lock); returns whether the caller must free it. */
static bool unlink_locked(struct agent_vm *v)
{
	for (struct agent_vm **p = &agents; *p; p = &(*p)->next) {
		if (*p == v) {
			*p = v->next;
			return --v->refs == 0;
		}
	}
	return false;
}

void svc_agent_forget(const char *uuid)
{
	struct agent_vm *v, *dead = NULL;
	pthread_mutex_lock(&agent_lock);
	for (v = agents; v; v = v->next) {
		if (strcmp(v->uuid, uuid) == 0) {
			if (unlink_locked(v))
				dead = v;
			break;
		}
	}
	pthread_mutex_unlock(&agent_lock);
	if (dead)
		entry_free(dead);
}

void svc_agent_forget_all(void)
{
	pthread_mutex_lock(&agent_lock);
	stopping = true;
	while (refreshers > 0) /* each is bounded by its agent call's deadline */
		pthread_cond_wait(&agent_idle, &agent_lock);
	bool join = recover_running;
	recover_running = false;
	pthread_mutex_unlock(&agent_lock);
	if (join)
		pthread_join(recover_tid, NULL);
	pthread_mutex_lock(&agent_lock);
	while (agents) {
		struct agent_vm *v = agents;
		agents = v->next;
		if (--v->refs == 0)
			entry_free(v);
	}
	stopping = false; /* the API is closed by now (corrald); a service started again may refresh */
	pthread_mutex_unlock(&agent_lock);
}

/* ---- information -------------------------------------------------------- */

static int remaining(int64_t deadline)
{
	int64_t left = deadline - time_mono_ms();
	return left < 1 ? 1 : (int)left;
}

/* Ask the agent for the hostname, OS and interfaces within SVC_AGENT_INFO_MS. */
static void refresh(struct agent_vm *v)
{
	int64_t deadline = time_mono_ms() + SVC_AGENT_INFO_MS;
	__do_buf struct buf err = BUF_INIT;
	json_t *ret = NULL, *info = NULL;
	int r = qga_execute(v->g, "guest-get-host-name", NULL, &ret, remaining(deadline), &err);

	if (r == -EBUSY) /* a freeze or another refresh holds it: keep what we know */
		return;
	if (r == 0 || r == -EIO) {
		info = json_object();
		char *h = qga_hostname_parse(ret);
		if (h)
			json_object_set_new(info, "hostname", json_string(h));
		free(h);
		json_decref(ret);
		ret = NULL;
		if (qga_execute(v->g, "guest-get-osinfo", NULL, &ret, remaining(deadline), NULL) == 0) {
			json_t *os = qga_osinfo_parse(ret);
			if (os)
				json_object_set_new(info, "os", os);
		}
		json_decref(ret);
		ret = NULL;
		if (qga_execute(v->g, "guest-network-get-interfaces", NULL, &ret, remaining(deadline), NULL) == 0) {
			json_t *ips = NULL, *ifs = qga_interfaces_parse(ret, &ips);
			if (ifs) {
				json_object_set_new(info, "interfaces", ifs);
				json_object_set_new(info, "ips", ips);
			}
		}
		json_decref(ret);
	}
	pthread_mutex_lock(&agent_lock);
	json_decref(v->info);
	v->info = info;
	v->state = info ? "connected" : "not responding";
	v->checked_mono = time_mono_ms();
	v->checked_wall = time_wall_ms();
	pthread_mutex_unlock(&agent_lock);
}

static void *refresh_thread(void *arg)
{
	struct agent_vm *v = arg;
	refresh(v);
	pthread_mutex_lock(&agent_lock);
	v->refreshing = false;
	if (--refreshers == 0)
		pthread_cond_broadcast(&agent_idle);
	pthread_mutex_unlock(&agent_lock);
	agent_put(v);
	return NULL;
}

/* Start a background refresh of v unless one runs (takes its own reference). */
static void refresh_async(struct agent_vm *v)
{
	pthread_mutex_lock(&agent_lock);
	bool start = !v->refreshing && !stopping && refreshers < AGENT_MAX_REFRESHERS;
	if (start) {
		v->refreshing = true;
		v->refs++;
		refreshers++;
	}
	pthread_mutex_unlock(&agent_lock);
	if (!start)
		return;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, refresh_thread, v) != 0) {
		pthread_mutex_lock(&agent_lock);
		v->refreshing = false;
		if (--refreshers == 0)
			pthread_cond_broadcast(&agent_idle);
		pthread_mutex_unlock(&agent_lock);
		agent_put(v);
	}
	pthread_attr_destroy(&a);
}

json_t *svc_agent_status(const char *uuid, const struct vm_def *d, bool running, bool refresh_now)
{
	if (!d->agent)
		return json_pack("{s:s}", "state", "off");
	if (!running) {
		svc_agent_forget(uuid);
		return json_pack("{s:s}", "state", "not running");
	}
	struct agent_vm *v = agent_get(uuid);
	pthread_mutex_lock(&agent_lock);
	bool stale = !v->state || time_mono_ms() - v->checked_mono > SVC_AGENT_FRESH_MS;
	pthread_mutex_unlock(&agent_lock);
	if (stale && refresh_now)
		refresh(v);
	else if (stale)
		refresh_async(v);

	json_t *s;
	char when[40];
	pthread_mutex_lock(&agent_lock);
	if (!v->state) {
		s = json_pack("{s:s}", "state", "unknown");
	} else {
		s = json_pack("{s:s,s:s}", "state", v->state, "checked",
			      time_fmt_rfc3339(v->checked_wall, when, sizeof(when)));
		if (v->info)
			json_object_update(s, v->info);
	}
	pthread_mutex_unlock(&agent_lock);
	agent_put(v);
	return s;
}

/* ---- freeze and thaw ---------------------------------------------------- */

const char *svc_freeze_consistency(const struct svc_freeze *f)
{
	return f->frozen ? "filesystem-frozen" : "crash";
}

void svc_agent_point_begin(const char *uuid, const struct vm_def *d, bool no_freeze, struct svc_freeze *f)
{
	memset(f, 0, sizeof(*f));
	if (no_freeze) {
		snprintf(f->note, sizeof(f->note), "crash (--no-freeze)");
		return;
	}
	if (!d->agent) {
		snprintf(f->note, sizeof(f->note), "crash (the VM has no guest agent channel: agent off)");
		return;
	}
	struct agent_vm *v = agent_get(uuid);
	__do_buf struct buf err = BUF_INIT;
	json_t *ret = NULL;
	int r = qga_execute(v->g, "guest-ping", NULL, NULL, AGENT_PING_MS, &err);
	if (r == -EBUSY) { /* a refresh of the guest's information holds it: wait for that, once */
		buf_reset(&err);
		r = qga_execute(v->g, "guest-ping", NULL, NULL, SVC_AGENT_INFO_MS + AGENT_PING_MS, &err);
	}
	if (r < 0) {
		snprintf(f->note, sizeof(f->note), "crash (no guest agent answered: %s)", err.s);
		agent_put(v);
		return;
	}
	f->sent = true;
	buf_reset(&err);
	r = qga_execute(v->g, "guest-fsfreeze-freeze", NULL, &ret, SVC_AGENT_FREEZE_MS, &err);
	if (r == 0 && json_is_integer(ret) && json_integer_value(ret) == 0) {
		snprintf(f->note, sizeof(f->note), "crash (the guest agent found no filesystem it could freeze)");
	} else if (r == 0 && json_is_integer(ret)) {
		f->frozen = true;
		f->count = (int)json_integer_value(ret);
		snprintf(f->note, sizeof(f->note), "filesystem-frozen (%d filesystem%s)", f->count,
			 f->count == 1 ? "" : "s");
	} else {
		snprintf(f->note, sizeof(f->note), "crash (the guest agent could not freeze the filesystems: %s)",
			 r < 0 ? err.s : "an unexpected answer");
	}
	json_decref(ret);
	agent_put(v);
}

void svc_agent_point_end(const char *uuid, struct svc_freeze *f)
{
	if (!f->sent)
		return;
	f->sent = false;
	__do_buf struct buf err = BUF_INIT;
	if (svc_agent_thaw(uuid, &err) < 0) {
		__do_free char *detail = xasprintf("the guest's filesystems may still be frozen: %s", err.s);
		svc_vm_event(uuid, "agent", detail);
		log_warn("vm %s: %s", uuid, detail);
	}
}

int svc_agent_thaw(const char *uuid, struct buf *err)
{
	struct agent_vm *v = agent_get(uuid);
	int64_t deadline = time_mono_ms() + SVC_AGENT_THAW_MS;
	__do_buf struct buf e = BUF_INIT;
	int r;
	/* A freeze that timed out is still queued in the agent: the thaw runs after it. */
	do {
		buf_reset(&e);
		r = qga_execute(v->g, "guest-fsfreeze-thaw", NULL, NULL, remaining(deadline), &e);
	} while (r < 0 && r != -EIO && time_mono_ms() < deadline && (time_sleep_ms(100), true));
	if (r < 0)
		buf_printf(err, "thaw failed: %s", e.s);
	agent_put(v);
	return r;
}

int svc_agent_shutdown(const char *uuid, struct buf *err)
{
	struct agent_vm *v = agent_get(uuid);
	json_t *args = json_pack("{s:s}", "mode", "powerdown");
	int r = qga_execute_noreply(v->g, "guest-shutdown", args, SVC_AGENT_SHUTDOWN_MS, err);
	agent_put(v);
	return r;
}

/* ---- recovery ----------------------------------------------------------- */

static void *recover_thread(void *arg)
{
	json_t *uuids = arg;
	json_t *u;
	size_t i;
	json_array_foreach(uuids, i, u) {
		const char *uuid = json_string_value(u);
		pthread_mutex_lock(&agent_lock);
		bool stop = stopping;
		pthread_mutex_unlock(&agent_lock);
		if (stop)
			break;
		struct agent_vm *v = agent_get(uuid);
		json_t *ret = NULL;
		int r = qga_execute(v->g, "guest-fsfreeze-status", NULL, &ret, AGENT_PING_MS, NULL);
		bool frozen = r == 0 && json_is_string(ret) && strcmp(json_string_value(ret), "frozen") == 0;
		json_decref(ret);
		agent_put(v);
		if (!frozen)
			continue;
		__do_buf struct buf err = BUF_INIT;
		if (svc_agent_thaw(uuid, &err) == 0) {
			svc_vm_event(uuid, "agent", "thawed the guest's filesystems, which a stopped corrald had left frozen");
		} else {
			__do_free char *d = xasprintf("the guest's filesystems are frozen and could not be thawed: %s", err.s);
			svc_vm_event(uuid, "agent", d);
		}
	}
	json_decref(uuids);
	return NULL;
}

void svc_agent_recover(void)
{
	struct vm_record *list;
	size_t n;
	json_t *uuids = json_array();
	if (store_vm_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (list[i].def->agent && rt_is_active(list[i].def->uuid))
				json_array_append_new(uuids, json_string(list[i].def->uuid));
		store_vm_list_free(list, n);
	}
	if (!json_array_size(uuids) || pthread_create(&recover_tid, NULL, recover_thread, uuids) != 0) {
		json_decref(uuids);
		return;
	}
	pthread_mutex_lock(&agent_lock);
	recover_running = true; /* joined by svc_agent_forget_all */
	pthread_mutex_unlock(&agent_lock);
}
