/*
 * vmaction.c - VM lifecycle actions as jobs (see vm.h, "Actions").
 *
 * start, stop, kill, reboot, pause and resume each run as a job holding the
 * VM's lock (core/job.h), so their progress, end and errors are seen the same
 * way as a backup's, and a kill pre-empts whatever else holds the VM: it
 * cancels that job, kills QEMU at once and only then takes the lock over.
 * An action on several VMs (a selector such as tag:prod) is one job that
 * starts a job per VM, all at once, and waits for them; its result lists how
 * each VM fared.  What can be refused at once (no such VM, a state that does
 * not allow the action, a busy VM) is answered before any job starts when
 * the request names a single VM.
 */
#include <errno.h>
#include <string.h>

#include "vm.h"
#include "service/agent.h"
#include "service/ha.h"
#include "service/ha_lease.h"
#include "service/replicate.h"
#include "service/internal.h"
#include "service/events.h"
#include "service/migrate_recover.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "util/log.h"
#include "util/common.h"

/* How long a kill waits to take over the lock of the job it pre-empted. */
#define KILL_TAKEOVER_MS 10000

struct act {
	svc_uuid uuid;
	char *name;
	enum vm_action a;
	struct svc_action_opts o;
};

struct multi {
	enum vm_action a;
	struct svc_action_opts o;
	svc_uuid *vms;
	size_t n;
};

static void act_free(void *p)
{
	struct act *x = p;
	if (x)
		free(x->name);
	free(x);
}

static void multi_free(void *p)
{
	struct multi *m = p;
	if (m)
		free(m->vms);
	free(m);
}

/* The VM, and whether action a is allowed on it now: 0, or -errno + err naming the VM. */
static int act_check(const char *uuid, enum vm_action a, struct vm_record *rec, struct buf *err)
{
	const char *why;
	int r;
	if ((r = store_vm_get(svc_cfg.store, uuid, rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	/* Busy first: "stopping" because a stop job runs is better said as that job. */
	char holder[64];
	job_vm_current(uuid, holder, sizeof(holder));
	if (a != ACT_KILL && holder[0]) {
		buf_printf(err, "%s: busy: %s in progress", rec->def->name, holder);
		return -EAGAIN;
	}
	/* The store hands out a placeholder for a definition it cannot read: nothing to boot. */
	if (a == ACT_START && rec->invalid) {
		buf_printf(err, "vm %s cannot start: its stored definition is invalid (%s); replace it with 'corral vm edit'",
			   rec->def->name, rec->invalid);
		return -EINVAL;
	}
	if (a == ACT_START && rec->def->is_template) {
		buf_printf(err, "vm %s is a template; clone it (corral vm clone %s NEW)", rec->def->name,
			   rec->def->name);
		return -EBUSY;
	}
	if ((why = vmstate_action_refusal(rec->state, a))) {
		buf_printf(err, "%s: %s", rec->def->name, why);
		return -EBUSY;
	}
	if (a == ACT_START && (r = svc_ha_start_check(uuid, rec->def->name, err)) < 0)
		return r;
	if (a == ACT_START && (r = svc_replicate_start_check(uuid, rec->def->name, err)) < 0)
		return r;
	char peer[128];
	if ((a == ACT_START || a == ACT_RESUME) && mig_rec_unsettled(uuid, peer, sizeof(peer))) {
		buf_printf(err, "%s: its migration to %s is not settled yet (corrald asks %s every few seconds); it must "
				"not run on two hosts",
			   rec->def->name, peer, peer);
		return -EBUSY;
	}
	return 0;
}

/* On the job's thread, holding the lock: the state may have changed since the request. */
static int act_recheck(const char *uuid, enum vm_action a, struct buf *err)
{
	struct vm_record rec = { 0 };
	const char *why;
	int r = store_vm_get(svc_cfg.store, uuid, &rec);
	if (r < 0)
		buf_adds(err, "vm not found");
	else if ((why = vmstate_action_refusal(rec.state, a))) {
		buf_printf(err, "%s: %s", rec.def->name, why);
		r = -EBUSY;
	}
	vm_record_release(&rec);
	return r;
}

static bool cancelled(const void *j) { return job_cancelled(j); }

static json_t *vm_outcome(const char *uuid, const char *name, int r, const char *msg)
{
	struct vm_record rec = { 0 };
	const char *state = store_vm_get(svc_cfg.store, uuid, &rec) == 0 ? vmstate_name(rec.state) : "unknown";
	json_t *o = json_pack("{s:s,s:s,s:b,s:s,s:s?}", "name", name, "uuid", uuid, "ok", r == 0, "state", state,
			      "reason", rec.reason);
	json_object_set_new(o, "error", r == 0 ? json_null() : json_string(msg && *msg ? msg : "failed"));
	vm_record_release(&rec);
	return o;
}

/* rt_stop_nudge.fn: ask the guest agent (if the VM has its channel) to power off. */
static int agent_nudge(void *arg)
{
	struct act *x = arg;
	struct vm_record rec = { 0 };
	if (store_vm_get(svc_cfg.store, x->uuid, &rec) < 0)
		return -ENOENT;
	bool on = rec.def->agent;
	vm_record_release(&rec);
	if (!on)
		return -ENOTSUP;
	__do_buf struct buf e = BUF_INIT;
	int r = svc_agent_shutdown(x->uuid, &e);
	if (r < 0)
		log_info("vm %s: guest-shutdown through the agent: %s", x->name, e.s);
	return r;
}

static int act_run(struct job *j, void *arg, struct buf *err)
{
	struct act *x = arg;
	struct buf e = BUF_INIT;
	bool killed = false;
	int r;

	if (x->a == ACT_KILL) {
		/* First kill, then take over the lock of whatever we pre-empted. */
		r = rt_kill(x->uuid, &e);
		if (r == -EBUSY && !rt_is_active(x->uuid))
			r = 0; /* it died on its own or through the job we cancelled */
		if (job_lock_wait(j, KILL_TAKEOVER_MS) < 0)
			log_warn("vm %s: killed, but the job it pre-empted still holds it", x->name);
	} else if ((r = act_recheck(x->uuid, x->a, &e)) == 0) {
		switch (x->a) {
		case ACT_START:
			if ((r = ha_lease_acquire(x->uuid, x->name, &e)) < 0)
				break;
			if ((r = svc_vm_machine_pin(x->uuid, &e)) == 0)
				r = rt_start(x->uuid, &e);
			ha_lease_start_done(x->uuid, r == 0);
			break;
		case ACT_STOP:
			if (!x->o.force)
				job_set_phase(j, "waiting up to %d s for the guest to power off%s", x->o.timeout_s,
					      x->o.kill ? " (then killing it)" : "");
			{
				/* A guest deaf to the power button but with an agent: guest-shutdown, a
				 * quarter into the wait (3..15 s). */
				int after = x->o.timeout_s / 4;
				struct rt_stop_nudge nudge = { .after_s = after < 3 ? 3 : after > 15 ? 15 : after,
							       .fn = agent_nudge, .arg = x,
							       .what = "its guest agent (guest-shutdown)" };
				r = rt_stop_nudged(x->uuid, x->o.timeout_s,
						   x->o.force ? RT_STOP_FORCE
						   : x->o.kill ? RT_STOP_KILL_AFTER
								: RT_STOP_WAIT,
						   x->o.host ? "host shutdown" : "user", cancelled, j, &nudge, &e);
			}
			killed = r == 1;
			if (r > 0)
				r = 0;
			if (r == 0 && job_cancelled(j)) {
				/* It went down, but through the kill that pre-empted us. */
				buf_adds(&e, "stop cancelled (a kill pre-empted it)");
				r = -ECANCELED;
			}
			break;
		case ACT_REBOOT: r = rt_reboot(x->uuid, x->o.force, &e); break;
		case ACT_PAUSE: r = rt_pause(x->uuid, &e); break;
		case ACT_RESUME: r = rt_resume(x->uuid, &e); break;
		default: r = -EINVAL; buf_adds(&e, "not an action"); break;
		}
		if (r < 0 && r != -ECANCELED) {
			__do_free char *m = buf_detach(&e);
			buf_printf(&e, "%s: %s", x->name, m);
		}
	}
	/* HA follows a requested start or stop (docs/ha.md "Requested stops") */
	if (r == 0 && x->a == ACT_START)
		svc_ha_requested(x->uuid, true);
	else if (r == 0 && (x->a == ACT_KILL || (x->a == ACT_STOP && !x->o.host)))
		svc_ha_requested(x->uuid, false);
	json_t *vms = json_array();
	json_t *o = vm_outcome(x->uuid, x->name, r, e.s);
	if (x->a == ACT_STOP)
		json_object_set_new(o, "killed", json_boolean(killed));
	json_array_append_new(vms, o);
	job_set_result(j, json_pack("{s:o}", "vms", vms));
	if (r < 0)
		buf_add(err, e.s, e.len);
	buf_release(&e);
	return r;
}

/* The job of action a on one VM (already checked by the caller when it wants). */
static int act_start(const char *uuid, const char *name, enum vm_action a, const struct svc_action_opts *o,
		     int64_t parent, json_t **job, struct buf *err)
{
	struct act *x = xcalloc(1, sizeof(*x));
	snprintf(x->uuid, sizeof(x->uuid), "%s", uuid);
	x->name = xstrdup(name);
	x->a = a;
	x->o = *o;
	struct job_spec spec = { .type = vmaction_name(a), .target = name, .vm = uuid, .vm_name = name,
				 .parent = parent, .preempt = a == ACT_KILL, .run = act_run, .arg = x,
				 .free_arg = act_free };
	return job_start(&spec, job, err);
}

static int multi_run(struct job *j, void *arg, struct buf *err)
{
	struct multi *m = arg;
	int64_t *ids = xcalloc(m->n, sizeof(*ids));
	json_t *vms = json_array();
	size_t failed = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct vm_record rec = { 0 };
		struct buf e = BUF_INIT;
		json_t *cj = NULL;
		int r = job_cancelled(j) ? -ECANCELED : 0;
		if (r == 0)
			r = act_check(m->vms[i], m->a, &rec, &e);
		if (r == 0)
			r = act_start(m->vms[i], rec.def->name, m->a, &m->o, job_id(j), &cj, &e);
		if (r == 0)
			ids[i] = json_integer_value(json_object_get(cj, "id"));
		else
			json_array_append_new(vms, vm_outcome(m->vms[i], rec.def ? rec.def->name : m->vms[i], r,
							      r == -ECANCELED ? "cancelled" : e.s));
		failed += r < 0;
		json_decref(cj);
		vm_record_release(&rec);
		buf_release(&e);
	}
	for (size_t i = 0; i < m->n; i++) {
		if (!ids[i])
			continue;
		job_wait(ids[i], -1);
		__do_json json_t *cj = job_get(ids[i]);
		json_t *res = json_array_get(json_object_get(json_object_get(cj, "result"), "vms"), 0);
		const char *state = json_string_value(json_object_get(cj, "state"));
		bool ok = state && strcmp(state, "succeeded") == 0;
		failed += !ok;
		if (res) {
			json_object_set_new(res, "job", json_integer(ids[i]));
			json_array_append(vms, res);
		}
	}
	free(ids);
	job_set_result(j, json_pack("{s:o}", "vms", vms));
	if (failed) {
		buf_printf(err, "%zu of %zu vms failed", failed, m->n);
		return job_cancelled(j) ? -ECANCELED : -EIO;
	}
	return 0;
}

int svc_vm_action_job(const char *selector, enum vm_action a, const struct svc_action_opts *o, json_t **job,
		      struct buf *err)
{
	svc_uuid *list = NULL;
	size_t n;
	int r;

	if ((r = svc_vm_select(selector, false, &list, &n, err)) < 0)
		return r;
	if (n == 1) {
		struct vm_record rec = { 0 };
		r = act_check(list[0], a, &rec, err);
		if (r == 0)
			r = act_start(list[0], rec.def->name, a, o, 0, job, err);
		vm_record_release(&rec);
		free(list);
		return r;
	}
	struct multi *m = xcalloc(1, sizeof(*m));
	m->a = a;
	m->o = *o;
	m->vms = list;
	m->n = n;
	struct job_spec spec = { .type = vmaction_name(a), .target = selector, .run = multi_run, .arg = m,
				 .free_arg = multi_free };
	return job_start(&spec, job, err);
}

int svc_vm_action_list_job(const char *type, const char *target, svc_uuid *list, size_t n, enum vm_action a,
			   const struct svc_action_opts *o, json_t **job, struct buf *err)
{
	struct multi *m = xcalloc(1, sizeof(*m));
	m->a = a;
	m->o = *o;
	m->vms = list;
	m->n = n;
	struct job_spec spec = { .type = type, .target = target, .run = multi_run, .arg = m, .free_arg = multi_free };
	return job_start(&spec, job, err);
}

int svc_vm_action(const char *uuid, enum vm_action a, const struct svc_action_opts *o, struct buf *err)
{
	struct vm_record rec = { 0 };
	__do_json json_t *job = NULL;
	int r = act_check(uuid, a, &rec, err);
	if (r == 0)
		r = act_start(uuid, rec.def->name, a, o, 0, &job, err);
	vm_record_release(&rec);
	if (r < 0)
		return r;
	int64_t id = json_integer_value(json_object_get(job, "id"));
	job_wait(id, -1);
	__do_json json_t *done = job_get(id);
	const char *state = json_string_value(json_object_get(done, "state"));
	if (state && strcmp(state, "succeeded") == 0)
		return 0;
	buf_adds(err, json_string_value(json_object_get(done, "error")) ?: "failed");
	return state && strcmp(state, "cancelled") == 0 ? -ECANCELED : -EIO;
}

/* ---- disk-kernel reboots (rt_config.on_reboot) --------------------------- */

/* How long the second half of a reboot waits for the VM's lock (a `vm
 * reboot` job may still hold it when the guest goes down). */
#define REBOOT_LOCK_WAIT_MS 30000

static int reboot_run(struct job *j, void *arg, struct buf *err)
{
	struct act *x = arg;
	struct vm_record rec = { 0 };
	struct buf e = BUF_INIT;
	int r;

	for (int waited = 0;; waited += 100) {
		buf_reset(&e);
		if ((r = job_lock_vm(j, x->uuid, x->name, &e)) == 0 || waited >= REBOOT_LOCK_WAIT_MS)
			break;
		if ((r = job_sleep(j, 100)) < 0)
			break;
	}
	if (r < 0) {
		buf_printf(err, "%s: not started again after its reboot: %s", x->name, e.len ? e.s : "cancelled");
		svc_vm_event(x->uuid, "boot-failed", err->s);
		buf_release(&e);
		return r;
	}
	/* Only if nobody started, edited or deleted it meanwhile. */
	if (store_vm_get(svc_cfg.store, x->uuid, &rec) < 0 || rec.state != VM_STOPPED || !rec.reason ||
	    strcmp(rec.reason, RT_REBOOT_REASON) != 0) {
		job_set_result(j, json_pack("{s:s}", "skipped", "the VM changed while it rebooted"));
		vm_record_release(&rec);
		buf_release(&e);
		return 0;
	}
	vm_record_release(&rec);
	buf_reset(&e);
	job_set_phase(j, "starting again with the boot configuration as it is now");
	if ((r = ha_lease_acquire(x->uuid, x->name, &e)) == 0) {
		r = rt_start(x->uuid, &e);
		ha_lease_start_done(x->uuid, r == 0);
	}
	if (r < 0) {
		buf_printf(err, "%s: not started again after its reboot: %s", x->name, e.s);
		svc_vm_event(x->uuid, "boot-failed", err->s);
	}
	json_t *vms = json_array();
	json_array_append_new(vms, vm_outcome(x->uuid, x->name, r, e.s));
	job_set_result(j, json_pack("{s:o}", "vms", vms));
	buf_release(&e);
	return r;
}

void svc_vm_on_reboot(const char *uuid, const char *name)
{
	struct act *x = xcalloc(1, sizeof(*x));
	struct buf err = BUF_INIT;
	snprintf(x->uuid, sizeof(x->uuid), "%s", uuid);
	x->name = xstrdup(name);
	x->a = ACT_REBOOT;
	/* No lock in the spec: the job waits for it (reboot_run) instead of failing busy. */
	struct job_spec spec = { .type = "reboot", .target = name, .run = reboot_run, .arg = x, .free_arg = act_free };
	if (job_start(&spec, NULL, &err) < 0) {
		log_warn("vm %s: cannot start it again after its reboot: %s", name, err.s);
		__do_free char *d = xasprintf("not started again after its reboot: %s", err.s);
		svc_vm_event(uuid, "boot-failed", d);
	}
	buf_release(&err);
}
