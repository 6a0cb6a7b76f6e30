/*
 * autostart.c - guests with the host (see autostart.h): the ordered
 * autostart when corrald starts, and the parallel shutdown of every guest
 * when the host goes down (corral host shutdown-guests, or corrald's
 * SIGTERM with shutdown_guests = yes).
 *
 * Both build an ordered list of VMs from the store and hand it to the VM
 * actions (vmaction.c); the autostart list also holds the autostart
 * containers, ordered with the VMs by the same start_order (ct.h
 * svc_ct_start_now starts one): autostart one start at a time (it must wait for
 * each, and for the delays), shutdown as one job whose per-VM stop jobs
 * start in the reverse start order and then run at once with kill-after-
 * timeout, so N deaf guests cost one timeout, not N.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "autostart.h"
#include "vm.h"
#include "ct.h"
#include "service/internal.h"
#include "core/ctdef.h"
#include "core/store.h"
#include "core/job.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

static pthread_t autostart_thread;
static bool autostart_running;
static atomic_bool autostart_stop;

/* Ascending start_order, then name. */
static int by_order(const void *a, const void *b)
{
	const struct vm_record *x = a, *y = b;
	if (x->def->start_order != y->def->start_order)
		return x->def->start_order < y->def->start_order ? -1 : 1;
	return strcmp(x->def->name, y->def->name);
}

/* One guest of the autostart order: a VM or a container (borrowed strings). */
struct as_entry {
	bool ct;
	const char *name, *uuid;
	int order, delay;
};

/* Ascending order, then name: VMs and containers in one list. */
static int entry_by_order(const void *a, const void *b)
{
	const struct as_entry *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The autostart containers (stopped or not: a start of a running one is a no-op), parsed into *defs. */
static size_t ct_entries(struct ct_def ***defs)
{
	struct ct_record *list = NULL;
	size_t cnt = 0, n = 0;

	*defs = NULL;
	if (store_ct_list(svc_cfg.store, &list, &cnt) < 0)
		return 0;
	*defs = xcalloc(cnt ? cnt : 1, sizeof(**defs));
	for (size_t i = 0; i < cnt; i++) {
		__do_json json_t *j = json_loads(list[i].def, 0, NULL);
		struct buf e = BUF_INIT;
		struct ct_def *d = ctdef_from_json(j, CTDEF_FROM_STORE, &e);
		if (!d)
			log_msg(LOG_LVL_ERROR, 0, "container %s: not autostarted: its stored definition is invalid: %s",
				list[i].name, e.s);
		if (d && d->autostart)
			(*defs)[n++] = d;
		else
			ctdef_free(d);
		buf_release(&e);
	}
	store_ct_list_free(list, cnt);
	return n;
}

static void *autostart_main(void *unused)
{
	struct vm_record *list;
	struct ct_def **cts = NULL;
	size_t cnt, ncts, n = 0, done = 0;
	(void)unused;

	if (store_vm_list(svc_cfg.store, &list, &cnt) < 0)
		return NULL;
	ncts = ct_entries(&cts);
	struct as_entry *all = xcalloc(cnt + ncts + 1, sizeof(*all));
	for (size_t i = 0; i < cnt; i++) {
		const struct vm_def *d = list[i].def;
		if (!d->autostart || vmstate_is_active(list[i].state))
			continue;
		if (list[i].invalid) {
			log_msg(LOG_LVL_ERROR, 0, "vm %s: not autostarted: its stored definition is invalid", d->name);
			continue;
		}
		all[n++] = (struct as_entry){ false, d->name, d->uuid, d->start_order, d->start_delay };
	}
	for (size_t i = 0; i < ncts; i++)
		all[n++] = (struct as_entry){ true, cts[i]->name, cts[i]->uuid, cts[i]->start_order, cts[i]->start_delay };
	qsort(all, n, sizeof(*all), entry_by_order);
	for (size_t i = 0; i < n && !atomic_load(&autostart_stop); i++) {
		const struct as_entry *e = &all[i];
		const char *kind = e->ct ? "container" : "vm";
		struct buf err = BUF_INIT;
		struct svc_action_opts o = { 0 };
		done++;
		log_info("%s %s: autostart %zu of %zu (order %d)", kind, e->name, done, n, e->order);
		if ((e->ct ? svc_ct_start_now(e->uuid, &err) : svc_vm_action(e->uuid, ACT_START, &o, &err)) < 0) {
			log_msg(LOG_LVL_ERROR, 0, "autostart of %s %s failed: %s", kind, e->name, err.s);
		} else {
			__do_free char *what = xasprintf("started at corrald start (%zu of %zu, order %d)", done, n,
							 e->order);
			svc_vm_event(e->uuid, "autostart", what);
		}
		buf_release(&err);
		if (e->delay > 0 && done < n) {
			log_info("%s %s: waiting %d s before the next autostart", kind, e->name, e->delay);
			int64_t until = time_mono_ms() + (int64_t)e->delay * 1000;
			while (!atomic_load(&autostart_stop) && time_mono_ms() < until)
				time_sleep_ms(100);
		}
	}
	free(all);
	for (size_t i = 0; i < ncts; i++)
		ctdef_free(cts[i]);
	free(cts);
	store_vm_list_free(list, cnt);
	return NULL;
}

void svc_autostart_begin(void)
{
	atomic_store(&autostart_stop, false);
	if (pthread_create(&autostart_thread, NULL, autostart_main, NULL) == 0)
		autostart_running = true;
	else
		log_msg(LOG_LVL_ERROR, 0, "cannot start the autostart thread; no VM is autostarted");
}

void svc_autostart_end(void)
{
	if (!autostart_running)
		return;
	atomic_store(&autostart_stop, true);
	pthread_join(autostart_thread, NULL);
	autostart_running = false;
}

int svc_guests_shutdown_job(int timeout_s, json_t **job, struct buf *err)
{
	struct vm_record *list;
	size_t cnt, n = 0;
	int r;

	if ((r = store_vm_list(svc_cfg.store, &list, &cnt)) < 0) {
		buf_adds(err, "cannot read the VM list");
		return r;
	}
	qsort(list, cnt, sizeof(*list), by_order);
	svc_uuid *vms = xcalloc(cnt + 1, sizeof(*vms));
	/* reverse start order: the last started is the first told to go */
	for (size_t i = cnt; i-- > 0;)
		if (vmstate_is_active(list[i].state))
			snprintf(vms[n++], sizeof(vms[0]), "%s", list[i].def->uuid);
	store_vm_list_free(list, cnt);
	struct svc_action_opts o = { .timeout_s = timeout_s, .kill = true, .host = true };
	return svc_vm_action_list_job("shutdown-guests", "host", vms, n, ACT_STOP, &o, job, err);
}

void svc_guests_shutdown(int timeout_s)
{
	__do_json json_t *job = NULL;
	struct buf err = BUF_INIT;
	size_t i;
	json_t *vm;

	log_info("stopping every guest: ACPI power button in reverse start order, killing those still running after %d s",
		 timeout_s);
	if (svc_guests_shutdown_job(timeout_s, &job, &err) < 0) {
		log_msg(LOG_LVL_ERROR, 0, "cannot stop the guests: %s", err.s);
		buf_release(&err);
		return;
	}
	int64_t id = json_integer_value(json_object_get(job, "id"));
	job_wait(id, -1);
	__do_json json_t *done = job_get(id);
	json_t *vms = json_object_get(json_object_get(done, "result"), "vms");
	size_t killed = 0;
	json_array_foreach(vms, i, vm) {
		const char *name = json_string_value(json_object_get(vm, "name"));
		const char *reason = json_string_value(json_object_get(vm, "reason"));
		const char *e = json_string_value(json_object_get(vm, "error"));
		killed += json_is_true(json_object_get(vm, "killed"));
		if (json_is_true(json_object_get(vm, "ok")))
			log_info("vm %s: %s", name, reason ? reason : "stopped");
		else
			log_msg(LOG_LVL_ERROR, 0, "vm %s: not stopped: %s", name, e ? e : "failed");
	}
	log_info("guests stopped: %zu, of which %zu had to be killed (they ignored the power button for %d s)",
		 json_array_size(vms), killed, timeout_s);
	buf_release(&err);
}
