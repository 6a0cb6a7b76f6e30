/*
 * test_service_job.c - VM actions as jobs (src/service/vmaction.c over
 * src/core/job.c) against a real store and tests/fake/fake-qemu.
 *
 * Checked: cancelling a stop leaves the VM running and usable; while a job
 * holds a VM every other change is refused as busy, naming that job; a
 * finished job is kept in the store with its end, progress and result; a
 * start that cannot work fails its job and leaves the VM stopped; cancel of
 * a finished or unknown job is refused; an action on a selector runs one
 * child job per VM under a parent whose result says how each fared.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "svc_fixture.h"
#include "core/job.h"
#include "core/store_local.h"
#include "qemu/runtime.h"
#include "service/host.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/common.h"

static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

static void run(const char *uuid, enum vm_action a, const char *want)
{
	json_t *job = fx_job_wait(fx_action(uuid, a, 0));
	if (strcmp(jstr(job, "state"), want) != 0)
		fail_msg("%s ended %s (%s), expected %s", vmaction_name(a), jstr(job, "state"), jstr(job, "error") ?: "",
			 want);
	json_decref(job);
}

static void test_cancel_of_stop_leaves_vm_running(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *cj = NULL;
	svc_uuid u;
	char reason_state[32];
	fx_vm_create("deaf-cancel", NULL, u);
	run(u, ACT_START, "succeeded");
	int64_t stop = fx_action(u, ACT_STOP, 60);
	assert_true(fx_vm_wait_state(u, VM_STOPPING));

	assert_int_equal(svc_job_cancel(stop, &cj, &err), 0);
	assert_non_null(cj);
	json_decref(cj);
	json_t *done = fx_job_wait(stop);
	assert_string_equal(jstr(done, "state"), "cancelled");
	json_decref(done);

	char *reason = NULL;
	assert_int_equal(fx_vm_state(u, &reason), VM_RUNNING);
	assert_non_null(strstr(reason, "stop cancelled"));
	free(reason);
	assert_true(rt_is_active(u));
	/* Still a working VM: the next action goes through. */
	run(u, ACT_PAUSE, "succeeded");
	assert_true(fx_vm_wait_state(u, VM_PAUSED));
	fx_job_state(stop, reason_state, sizeof(reason_state));
	assert_string_equal(reason_state, "cancelled");
	run(u, ACT_KILL, "succeeded");
	buf_release(&err);
}

static void test_vm_busy_while_a_job_holds_it(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct svc_action_opts o = { 0 };
	json_t *job = NULL, *out = NULL;
	svc_uuid u;
	fx_vm_create("deaf-busy", NULL, u);
	run(u, ACT_START, "succeeded");
	int64_t stop = fx_action(u, ACT_STOP, 60);
	assert_true(fx_vm_wait_state(u, VM_STOPPING));

	__do_free char *busy = xasprintf("busy: stop (job %lld) in progress", (long long)stop);
	assert_int_equal(svc_vm_action_job(u, ACT_PAUSE, &o, &job, &err), -EAGAIN);
	assert_null(job);
	assert_non_null(strstr(err.s, busy));
	buf_reset(&err);
	json_t *def = json_pack("{s:s,s:i,s:i}", "name", "deaf-busy", "cpus", 2, "memory_mib", 64);
	assert_int_equal(svc_vm_update(u, def, -1, &out, &err), -EAGAIN);
	assert_null(out);
	assert_non_null(strstr(err.s, "stop (job"));
	json_decref(def);
	json_t *shown = svc_vm_show(u);
	json_t *status = json_object_get(shown, "status");
	__do_free char *holder = xasprintf("stop (job %lld)", (long long)stop);
	assert_string_equal(jstr(status, "job"), holder);
	json_decref(shown);

	run(u, ACT_KILL, "succeeded");
	json_t *s = fx_job_wait(stop);
	assert_string_equal(jstr(s, "state"), "cancelled");
	json_decref(s);
	buf_release(&err);
}

static void test_finished_jobs_are_kept_in_the_store(void **state)
{
	struct svc_fixture *f = *state;
	svc_uuid u;
	fx_vm_create("rec-vm", NULL, u);
	int64_t start = fx_action(u, ACT_START, 0);
	json_decref(fx_job_wait(start));
	run(u, ACT_KILL, "succeeded");

	json_t *rec = store_job_get(f->store, start);
	assert_non_null(rec);
	assert_string_equal(jstr(rec, "type"), "start");
	assert_string_equal(jstr(rec, "state"), "succeeded");
	assert_string_equal(jstr(rec, "vm"), u);
	assert_true(json_number_value(json_object_get(rec, "progress")) == 100.0);
	json_t *vm0 = json_array_get(json_object_get(json_object_get(rec, "result"), "vms"), 0);
	assert_string_equal(jstr(vm0, "name"), "rec-vm");
	assert_string_equal(jstr(vm0, "state"), "running");
	assert_true(json_is_true(json_object_get(vm0, "ok")));
	json_decref(rec);

	/* The VM's job list: newest first, both actions. */
	json_t *list = svc_job_list(u);
	json_t *jobs = json_object_get(list, "jobs");
	assert_int_equal(json_array_size(jobs), 2);
	assert_string_equal(jstr(json_array_get(jobs, 0), "type"), "kill");
	assert_string_equal(jstr(json_array_get(jobs, 1), "type"), "start");
	json_decref(list);
	json_t *one = svc_job_get(start);
	assert_string_equal(jstr(one, "state"), "succeeded");
	json_decref(one);
}

static void test_failed_start_leaves_vm_stopped(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *vol = NULL;
	svc_uuid u;
	const char *vols[] = { "fs-disk", NULL };
	fx_vol_create("fs-disk");
	fx_vm_create("fs-vm", vols, u);
	assert_int_equal(svc_vol_get("fs-disk", &vol, &err), 0);
	/* The volume's file goes behind corrald's back. */
	assert_int_equal(unlink(jstr(vol, "path")), 0);
	json_decref(vol);

	json_t *job = fx_job_wait(fx_action(u, ACT_START, 0));
	assert_string_equal(jstr(job, "state"), "failed");
	assert_non_null(strstr(jstr(job, "error"), "fs-vm"));
	assert_non_null(strstr(jstr(job, "error"), "disk volume"));
	json_decref(job);
	assert_int_equal(fx_vm_state(u, NULL), VM_STOPPED);
	assert_false(rt_is_active(u));
	buf_release(&err);
}

static void test_cancel_of_finished_or_unknown_job_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *cj = NULL;
	svc_uuid u;
	fx_vm_create("cf-vm", NULL, u);
	int64_t start = fx_action(u, ACT_START, 0);
	json_decref(fx_job_wait(start));
	assert_int_equal(svc_job_cancel(start, &cj, &err), -EBUSY);
	assert_null(cj);
	buf_reset(&err);
	assert_int_equal(svc_job_cancel(999999, &cj, &err), -ENOENT);
	assert_null(cj);
	/* err may be NULL: a caller that only needs the outcome (a crash once, when a
	 * VM stopped between a check and the call) */
	assert_int_equal(job_cancel(999999, NULL), -ENOENT);
	assert_int_equal(job_cancel(start, NULL), -EALREADY);
	struct rt_ref *ref = NULL;
	assert_null(rt_qmp_acquire("00000000-0000-4000-8000-000000000000", &ref, NULL));
	/* The refused cancel changed nothing. */
	char st[32];
	fx_job_state(start, st, sizeof(st));
	assert_string_equal(st, "succeeded");
	assert_int_equal(fx_vm_state(u, NULL), VM_RUNNING);
	run(u, ACT_KILL, "succeeded");
	buf_release(&err);
}

static void test_selector_action_runs_a_job_per_vm(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct svc_action_opts o = { 0 };
	json_t *job = NULL, *out = NULL;
	svc_uuid a, b;
	for (int i = 0; i < 2; i++) {
		json_t *def = json_pack("{s:s,s:i,s:i,s:[s]}", "name", i ? "multi-b" : "multi-a", "cpus", 1, "memory_mib",
					64, "tags", "multi");
		if (svc_vm_create(def, &out, &err) < 0)
			fail_msg("create: %s", err.s);
		snprintf(i ? b : a, sizeof(svc_uuid), "%s", jstr(out, "uuid"));
		json_decref(out);
		json_decref(def);
	}
	assert_int_equal(svc_vm_action_job("tag:multi", ACT_START, &o, &job, &err), 0);
	int64_t parent = json_integer_value(json_object_get(job, "id"));
	json_decref(job);
	json_t *done = fx_job_wait(parent);
	assert_string_equal(jstr(done, "state"), "succeeded");
	json_t *vms = json_object_get(json_object_get(done, "result"), "vms");
	assert_int_equal(json_array_size(vms), 2);
	size_t i;
	json_t *v;
	json_array_foreach(vms, i, v) {
		assert_true(json_is_true(json_object_get(v, "ok")));
		assert_string_equal(jstr(v, "state"), "running");
		json_t *child = svc_job_get(json_integer_value(json_object_get(v, "job")));
		assert_non_null(child);
		assert_int_equal(json_integer_value(json_object_get(child, "parent")), parent);
		assert_string_equal(jstr(child, "type"), "start");
		json_decref(child);
	}
	json_decref(done);
	assert_int_equal(fx_vm_state(a, NULL), VM_RUNNING);
	assert_int_equal(fx_vm_state(b, NULL), VM_RUNNING);

	/* Start again: both refused, and the parent job says so for each. */
	assert_int_equal(svc_vm_action_job("tag:multi", ACT_START, &o, &job, &err), 0);
	parent = json_integer_value(json_object_get(job, "id"));
	json_decref(job);
	done = fx_job_wait(parent);
	assert_string_equal(jstr(done, "state"), "failed");
	assert_non_null(strstr(jstr(done, "error"), "2 of 2"));
	vms = json_object_get(json_object_get(done, "result"), "vms");
	json_array_foreach(vms, i, v)
		assert_false(json_is_true(json_object_get(v, "ok")));
	json_decref(done);

	assert_int_equal(svc_vm_action_job("tag:multi", ACT_KILL, &o, &job, &err), 0);
	done = fx_job_wait(json_integer_value(json_object_get(job, "id")));
	assert_string_equal(jstr(done, "state"), "succeeded");
	json_decref(done);
	json_decref(job);
	assert_int_equal(fx_vm_state(a, NULL), VM_STOPPED);
	assert_int_equal(fx_vm_state(b, NULL), VM_STOPPED);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cancel_of_stop_leaves_vm_running),
		cmocka_unit_test(test_vm_busy_while_a_job_holds_it),
		cmocka_unit_test(test_finished_jobs_are_kept_in_the_store),
		cmocka_unit_test(test_failed_start_leaves_vm_stopped),
		cmocka_unit_test(test_cancel_of_finished_or_unknown_job_refused),
		cmocka_unit_test(test_selector_action_runs_a_job_per_vm),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
