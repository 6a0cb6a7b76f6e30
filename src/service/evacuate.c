/*
 * evacuate.c - `corral host evacuate` (evacuate.h): empty a host of running
 * VMs by live migration, a few at a time, each VM's outcome reported.  This
 * module only schedules: every move is an ordinary migrate job
 * (service/migrate.h) with its own checks, progress and rollback.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "service/evacuate.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/runtime.h"
#include "service/internal.h"
#include "service/migrate.h"
#include "service/peer.h"
#include "service/trust.h"
#include "util/cleanup.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define EVAC_POLL_MS 300

static const char *self_name(void) { return svc_cfg.host_name ? svc_cfg.host_name : "localhost"; }

struct evac {
	char host[128]; /* "" for this host */
	char to[128];
	int parallel;
};

struct target {
	char name[128];
	long long free_mib;
};

/* Trusted hosts with their free memory (memory less what their VMs commit); unreachable ones left out. */
static json_t *targets_load(struct target **out, size_t *n)
{
	__do_json json_t *list = svc_trust_list();
	json_t *h, *skipped = json_array();
	size_t i;

	*out = xcalloc(json_array_size(json_object_get(list, "hosts")) + 1, sizeof(**out));
	*n = 0;
	json_array_foreach(json_object_get(list, "hosts"), i, h) {
		const char *name = json_string_value(json_object_get(h, "name"));
		__do_json json_t *info = NULL;
		__do_buf struct buf e = BUF_INIT;
		struct peer *p = NULL;
		if (!name)
			continue;
		if (peer_open(name, &p, &e) < 0 || peer_call(p, "GET", "/v1/host", NULL, &info, NULL, &e) < 0) {
			json_array_append_new(skipped, json_pack("{s:s, s:s}", "host", name, "error", e.s));
			peer_close(p);
			continue;
		}
		peer_close(p);
		const json_t *cap = json_object_get(info, "capacity");
		struct target *t = &(*out)[(*n)++];
		snprintf(t->name, sizeof(t->name), "%s", name);
		t->free_mib = json_integer_value(json_object_get(cap, "memory_mib")) -
			      json_integer_value(json_object_get(cap, "committed_memory_mib"));
	}
	return skipped;
}

struct move {
	char uuid[37];
	char name[128];
	long long memory_mib;
	char to[128];
	int64_t job;  /* 0: not started */
	bool done;
	json_t *outcome;
};

static void move_end(struct move *m, const char *state, const char *error)
{
	m->done = true;
	m->outcome = json_pack("{s:s, s:s, s:s}", "name", m->name, "to", m->to, "state", state);
	if (m->job)
		json_object_set_new(m->outcome, "job", json_integer(m->job));
	if (error && *error)
		json_object_set_new(m->outcome, "error", json_string(error));
}

/* Start the migration of m to the host with the most room (or e->to). */
static void move_start(struct evac *e, struct move *m, struct target *t, size_t nt)
{
	struct svc_migrate_opts o = { .with_local_disks = true };
	__do_json json_t *job = NULL;
	__do_buf struct buf err = BUF_INIT;
	struct target *best = NULL;

	if (e->to[0]) {
		snprintf(m->to, sizeof(m->to), "%s", e->to);
	} else {
		for (size_t i = 0; i < nt; i++)
			if (!best || t[i].free_mib > best->free_mib)
				best = &t[i];
		if (!best) {
			move_end(m, "failed", "no trusted host answers");
			return;
		}
		snprintf(m->to, sizeof(m->to), "%s", best->name);
		best->free_mib -= m->memory_mib;
	}
	o.to = m->to;
	if (svc_vm_migrate(m->uuid, &o, &job, &err) < 0) {
		move_end(m, "failed", err.s);
		return;
	}
	m->job = json_integer_value(json_object_get(job, "id"));
}

/* Poll m's job; true once it ended. */
static bool move_poll(struct move *m)
{
	__do_json json_t *j = job_get(m->job);
	const char *st = j ? json_string_value(json_object_get(j, "state")) : "failed";

	if (st && (!strcmp(st, "running") || !strcmp(st, "queued")))
		return false;
	move_end(m, st ? st : "failed", j ? json_string_value(json_object_get(j, "error")) : "the job vanished");
	return true;
}

static int evac_local(struct job *j, struct evac *e, struct buf *err)
{
	struct vm_record *list = NULL;
	struct target *t = NULL;
	size_t n = 0, nt = 0, nm = 0, done = 0;
	int active = 0, failed = 0;
	bool stop = false;

	if (store_vm_list(svc_cfg.store, &list, &n) < 0) {
		buf_adds(err, "cannot list the VMs");
		return -EIO;
	}
	struct move *m = xcalloc(n + 1, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		if (!rt_is_active(list[i].def->uuid) || (list[i].state != VM_RUNNING && list[i].state != VM_PAUSED))
			continue;
		snprintf(m[nm].uuid, sizeof(m[nm].uuid), "%s", list[i].def->uuid);
		snprintf(m[nm].name, sizeof(m[nm].name), "%s", list[i].def->name);
		m[nm].memory_mib = list[i].def->memory_mib;
		nm++;
	}
	store_vm_list_free(list, n);
	__do_json json_t *skipped = e->to[0] ? json_array() : targets_load(&t, &nt);
	job_set_phase(j, "moving %zu VM%s off %s", nm, nm == 1 ? "" : "s", self_name());
	while (done < nm) {
		if (!stop && job_cancelled(j)) {
			stop = true;
			for (size_t i = 0; i < nm; i++)
				if (m[i].job && !m[i].done)
					job_cancel(m[i].job, NULL);
		}
		for (size_t i = 0; i < nm && active < e->parallel; i++) {
			if (m[i].job || m[i].done)
				continue;
			if (stop) {
				move_end(&m[i], "not started", "the evacuation was cancelled");
				done++;
				continue;
			}
			move_start(e, &m[i], t, nt);
			if (m[i].done)
				done++;
			else
				active++;
		}
		if (stop)
			for (size_t i = 0; i < nm; i++)
				if (!m[i].job && !m[i].done) {
					move_end(&m[i], "not started", "the evacuation was cancelled");
					done++;
				}
		for (size_t i = 0; i < nm; i++)
			if (m[i].job && !m[i].done && move_poll(&m[i])) {
				active--;
				done++;
			}
		job_progress(j, nm ? 100.0 * (double)done / (double)nm : 100, 0, -1);
		if (done < nm)
			time_sleep_ms(EVAC_POLL_MS);
	}
	json_t *vms = json_array();
	for (size_t i = 0; i < nm; i++) {
		failed += strcmp(json_string_value(json_object_get(m[i].outcome, "state")), "succeeded") != 0;
		json_array_append_new(vms, m[i].outcome);
	}
	free(m);
	free(t);
	job_set_result(j, json_pack("{s:s, s:o, s:i, s:i, s:O}", "host", self_name(), "evacuated", vms, "migrated",
				    (int)nm - failed, "failed", failed, "unreachable", skipped));
	if (stop) {
		buf_printf(err, "evacuation of %s cancelled; %d VM%s stay here", self_name(), failed, failed == 1 ? "" : "s");
		return -ECANCELED;
	}
	if (failed) {
		buf_printf(err, "%d of %zu VMs could not be moved off %s (see the result)", failed, nm, self_name());
		return -EIO;
	}
	return 0;
}

/* Ask e->host to evacuate itself and follow its job. */
static int evac_remote(struct job *j, struct evac *e, struct buf *err)
{
	__do_json json_t *body = json_pack("{s:i}", "parallel", e->parallel);
	__do_json json_t *reply = NULL;
	__do_free char *path = NULL, *cpath = NULL;
	struct peer *p = NULL;
	bool cancel_sent = false;
	int r;

	if (e->to[0])
		json_object_set_new(body, "to", json_string(e->to));
	if ((r = peer_open(e->host, &p, err)) < 0)
		return r;
	if ((r = peer_call(p, "POST", "/v1/host/evacuate", body, &reply, NULL, err)) < 0)
		goto out;
	/* the API wraps the new job: {"job": {...}} */
	const json_t *rj = json_object_get(reply, "job") ? json_object_get(reply, "job") : reply;
	int64_t id = json_integer_value(json_object_get(rj, "id"));
	path = xasprintf("/v1/jobs/%lld", (long long)id);
	cpath = xasprintf("/v1/jobs/%lld/cancel", (long long)id);
	job_set_phase(j, "%s evacuates itself (its job %lld)", e->host, (long long)id);
	for (;;) {
		__do_json json_t *st = NULL;
		__do_buf struct buf pe = BUF_INIT;
		if (peer_call(p, "GET", path, NULL, &st, NULL, &pe) < 0) {
			buf_printf(err, "lost track of the evacuation on %s: %s", e->host, pe.s);
			r = -EHOSTUNREACH;
			goto out;
		}
		const char *s = json_string_value(json_object_get(st, "state")) ?: "";
		job_progress(j, json_number_value(json_object_get(st, "progress")), 0, -1);
		if (strcmp(s, "running") && strcmp(s, "queued")) {
			json_t *res = json_object_get(st, "result");
			if (res)
				job_set_result(j, json_incref(res));
			if (!strcmp(s, "succeeded"))
				r = 0;
			else {
				buf_printf(err, "%s: %s", e->host, json_string_value(json_object_get(st, "error")) ?: s);
				r = !strcmp(s, "cancelled") ? -ECANCELED : -EIO;
			}
			goto out;
		}
		if (job_cancelled(j) && !cancel_sent) {
			peer_call(p, "POST", cpath, NULL, NULL, NULL, NULL);
			cancel_sent = true;
		}
		time_sleep_ms(EVAC_POLL_MS * 2);
	}
out:
	peer_close(p);
	return r;
}

static int evac_job(struct job *j, void *arg, struct buf *err)
{
	struct evac *e = arg;

	return e->host[0] ? evac_remote(j, e, err) : evac_local(j, e, err);
}

int svc_host_evacuate(const struct svc_evacuate_opts *o, json_t **job, struct buf *err)
{
	struct evac *e;
	struct peer *p = NULL;
	int parallel = o->parallel ? o->parallel : EVAC_DEFAULT_PARALLEL;
	int r;

	if (parallel < 1 || parallel > EVAC_MAX_PARALLEL) {
		buf_printf(err, "parallel must be between 1 and %d", EVAC_MAX_PARALLEL);
		return -EINVAL;
	}
	if (o->to && !strcmp(o->to, self_name()) && (!o->host || !strcmp(o->host, self_name()))) {
		buf_printf(err, "%s is the host being evacuated; choose another target", o->to);
		return -EINVAL;
	}
	/* unknown hosts: answered now, not by the job */
	if (o->host && strcmp(o->host, self_name()) != 0) {
		if ((r = peer_open(o->host, &p, err)) < 0)
			return r;
		peer_close(p);
		p = NULL;
	}
	if (o->to && strcmp(o->to, self_name()) != 0 && (!o->host || !strcmp(o->host, self_name()))) {
		if ((r = peer_open(o->to, &p, err)) < 0)
			return r;
		peer_close(p);
	}
	e = xcalloc(1, sizeof(*e));
	if (o->host && strcmp(o->host, self_name()) != 0)
		snprintf(e->host, sizeof(e->host), "%s", o->host);
	snprintf(e->to, sizeof(e->to), "%s", o->to ? o->to : "");
	e->parallel = parallel;
	__do_free char *target = xasprintf("%s", e->host[0] ? e->host : self_name());
	struct job_spec spec = { .type = "evacuate", .target = target, .run = evac_job, .arg = e, .free_arg = free };
	return job_start(&spec, job, err);
}
