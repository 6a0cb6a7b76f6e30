/*
 * test_service_vm.c - the VM rules of the service layer (src/service/vm.c,
 * vmaction.c) against a real store and tests/fake/fake-qemu, which replays
 * what QEMU 7.2 answered in tests/data/qmp/lifecycle.replies.
 *
 * What is checked is what a user relies on: a definition is validated and
 * stored, names and volumes are not shared, a stale edit is refused, start
 * of a running VM is refused, stop ends "stopped" with the reason, a guest
 * deaf to the power button is killed after the timeout, kill pre-empts a
 * stop, a running VM cannot be deleted and delete --disks removes its
 * volumes; a guest's own power-off ends "stopped", a QEMU that dies ends
 * "crashed", a reboot resets the same QEMU, and a corrald restart
 * re-attaches to the QEMU that ran on and marks the one that died.  That real guests behave as the transcript says is proven in
 * tests/integration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <cmocka.h>

#include "svc_fixture.h"
#include "core/job.h"
#include "qemu/runtime.h"
#include "service/migrate_common.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static void assert_job_state(json_t *job, const char *want)
{
	const char *st = json_string_value(json_object_get(job, "state"));
	if (!st || strcmp(st, want) != 0)
		fail_msg("job %lld is %s (error: %s), expected %s", (long long)json_integer_value(json_object_get(job, "id")),
			 st ? st : "?", json_string_value(json_object_get(job, "error")) ?: "none", want);
}

/* Run action a on uuid to its end and check how the job ended. */
static void act(const char *uuid, enum vm_action a, int timeout_s, const char *want)
{
	json_t *job = fx_job_wait(fx_action(uuid, a, timeout_s));
	assert_job_state(job, want);
	json_decref(job);
}

static void assert_state(const char *uuid, enum vm_state want, const char *reason_part)
{
	char *reason = NULL;
	enum vm_state st = fx_vm_state(uuid, &reason);
	if (st != want || (reason_part && !strstr(reason, reason_part)))
		fail_msg("vm is %s (%s), expected %s (%s)", vmstate_name(st), reason, vmstate_name(want),
			 reason_part ? reason_part : "any reason");
	free(reason);
}

static void test_create_validates_and_stores(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	json_t *bad = json_pack("{s:s,s:i,s:i}", "name", "c-bad", "cpus", 0, "memory_mib", 64);
	assert_int_equal(svc_vm_create(bad, &out, &err), -EINVAL);
	assert_non_null(strstr(err.s, "cpus"));
	assert_null(out);
	buf_reset(&err);
	svc_uuid *found = NULL;
	size_t n = 0;
	assert_int_equal(svc_vm_select("c-bad", true, &found, &n, &err), -ENOENT);
	buf_reset(&err);

	svc_uuid u;
	fx_vm_create("c-good", NULL, u);
	json_t *shown = svc_vm_show(u);
	assert_non_null(shown);
	assert_string_equal(json_string_value(json_object_get(shown, "name")), "c-good");
	assert_int_equal(json_integer_value(json_object_get(shown, "memory_mib")), 64);
	assert_string_equal(json_string_value(json_object_get(json_object_get(shown, "status"), "state")), "stopped");
	/* the guest agent channel is on by default; a stopped VM has no agent to ask */
	assert_true(json_is_true(json_object_get(shown, "agent")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(shown, "status"), "agent"),
								 "state")),
			    "not running");
	json_decref(shown);

	/* A taken name is refused, and the first VM is left as it was. */
	json_t *dup = json_pack("{s:s,s:i,s:i}", "name", "c-good", "cpus", 2, "memory_mib", 128);
	assert_int_equal(svc_vm_create(dup, &out, &err), -EEXIST);
	assert_non_null(strstr(err.s, "c-good"));
	shown = svc_vm_show(u);
	assert_int_equal(json_integer_value(json_object_get(shown, "cpus")), 1);
	json_decref(shown);
	json_decref(dup);
	json_decref(bad);
	buf_release(&err);
}

static void test_volume_of_another_vm_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	svc_uuid a;
	const char *vols[] = { "o-shared", NULL };
	fx_vol_create("o-shared");
	fx_vm_create("o-first", vols, a);
	__do_free char *owner = svc_vm_using_volume("o-shared");
	assert_non_null(owner);
	assert_string_equal(owner, "o-first");

	json_t *def = json_pack("{s:s,s:i,s:i,s:[{s:s}]}", "name", "o-second", "cpus", 1, "memory_mib", 64, "disks",
				"volume", "o-shared");
	int r = svc_vm_create(def, &out, &err);
	assert_true(r == -EBUSY || r == -EEXIST);
	assert_non_null(strstr(err.s, "o-shared"));
	svc_uuid *found = NULL;
	size_t n = 0;
	buf_reset(&err);
	assert_int_equal(svc_vm_select("o-second", true, &found, &n, &err), -ENOENT);
	json_decref(def);
	buf_release(&err);
}

static void test_update_against_stale_generation_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	fx_vm_create("g-vm", NULL, u);
	json_t *shown = svc_vm_show(u);
	int64_t gen = json_integer_value(json_object_get(json_object_get(shown, "status"), "generation"));
	json_decref(shown);
	assert_true(gen > 0);

	json_t *def = json_pack("{s:s,s:i,s:i}", "name", "g-vm", "cpus", 2, "memory_mib", 64), *out = NULL;
	assert_int_equal(svc_vm_update(u, def, gen, &out, &err), 0);
	int64_t gen2 = json_integer_value(json_object_get(json_object_get(out, "status"), "generation"));
	assert_true(gen2 > gen);
	json_decref(out);
	out = NULL;

	/* Made against the generation before that edit: refused, nothing changes. */
	json_object_set_new(def, "cpus", json_integer(4));
	assert_int_equal(svc_vm_update(u, def, gen, &out, &err), -ESTALE);
	assert_null(out);
	shown = svc_vm_show(u);
	assert_int_equal(json_integer_value(json_object_get(shown, "cpus")), 2);
	json_decref(shown);
	json_decref(def);
	buf_release(&err);
}

static void test_start_of_running_vm_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct svc_action_opts o = { 0 };
	json_t *job = NULL;
	svc_uuid u;
	fx_vm_create("s-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	assert_state(u, VM_RUNNING, "started");
	int64_t t0 = time_mono_ms();
	json_t *shown = svc_vm_show(u);
	assert_true(json_integer_value(json_object_get(json_object_get(shown, "status"), "pid")) > 0);
	/* fake-qemu has no agent socket: answered at once, "not responding" */
	assert_string_equal(json_string_value(json_object_get(json_object_get(json_object_get(shown, "status"), "agent"),
								 "state")),
			    "not responding");
	assert_true(time_mono_ms() - t0 < 2000);
	json_decref(shown);

	assert_int_equal(svc_vm_action_job(u, ACT_START, &o, &job, &err), -EBUSY);
	assert_null(job);
	assert_non_null(strstr(err.s, "s-vm"));
	assert_state(u, VM_RUNNING, NULL);

	act(u, ACT_KILL, 0, "succeeded");
	assert_state(u, VM_STOPPED, "killed by user");
	buf_release(&err);
}

static void test_pause_resume(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("p-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	act(u, ACT_PAUSE, 0, "succeeded");
	assert_true(fx_vm_wait_state(u, VM_PAUSED));
	act(u, ACT_RESUME, 0, "succeeded");
	assert_true(fx_vm_wait_state(u, VM_RUNNING));
	act(u, ACT_KILL, 0, "succeeded");
}

static void test_stop_honoured_by_guest(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("h-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int64_t t0 = time_mono_ms();
	act(u, ACT_STOP, 10, "succeeded");
	/* The guest powered off at once: no waiting for the timeout, no kill. */
	assert_true(time_mono_ms() - t0 < 5000);
	assert_state(u, VM_STOPPED, "stopped by user");
	char *reason = NULL;
	fx_vm_state(u, &reason);
	assert_null(strstr(reason, "killed"));
	free(reason);
}

/* A stop never kills unless asked: it fails and the guest runs on; --kill kills after the timeout. */
static void test_stop_of_deaf_guest_times_out_and_kills(void **state)
{
	struct svc_fixture *f = *state;
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	svc_uuid u;
	fx_vm_create("deaf-stop", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int64_t t0 = time_mono_ms();
	act(u, ACT_STOP, 1, "failed");
	assert_true(time_mono_ms() - t0 >= 1000);
	assert_state(u, VM_RUNNING, "stop timed out: the guest ignored the power button for 1 s; not killed");

	struct svc_action_opts o = { .timeout_s = 1, .kill = true };
	assert_int_equal(svc_vm_action_job(u, ACT_STOP, &o, &job, &err), 0);
	json_t *done = fx_job_wait(json_integer_value(json_object_get(job, "id")));
	assert_job_state(done, "succeeded");
	json_t *vm = json_array_get(json_object_get(json_object_get(done, "result"), "vms"), 0);
	assert_true(json_is_true(json_object_get(vm, "killed")));
	json_decref(done);
	json_decref(job);
	buf_release(&err);
	assert_state(u, VM_STOPPED, "ignored the power button for 1 s; killed");
	/* QEMU is gone, and so is its monitor socket. */
	__do_free char *sock = xasprintf("%s/run/%s/qmp.sock", f->dir, u);
	assert_false(fs_exists(sock));
}

static void test_kill_preempts_stop(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("deaf-kill", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int64_t stop = fx_action(u, ACT_STOP, 60);
	assert_true(fx_vm_wait_state(u, VM_STOPPING));
	int64_t t0 = time_mono_ms();
	int64_t kill = fx_action(u, ACT_KILL, 0);
	json_t *k = fx_job_wait(kill), *s = fx_job_wait(stop);
	assert_job_state(k, "succeeded");
	assert_job_state(s, "cancelled");
	/* Well before the stop's 60 s. */
	assert_true(time_mono_ms() - t0 < 10000);
	assert_state(u, VM_STOPPED, "killed by user");
	json_decref(k);
	json_decref(s);
}

static void test_delete_running_refused_then_delete_with_disks(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *deleted = json_array(), *out = NULL;
	svc_uuid u;
	const char *vols[] = { "d-disk", NULL };
	fx_vol_create("d-disk");
	fx_vm_create("d-vm", vols, u);
	act(u, ACT_START, 0, "succeeded");
	assert_int_equal(svc_vm_delete(u, true, deleted, &err), -EBUSY);
	assert_non_null(strstr(err.s, "d-vm"));
	assert_int_equal(json_array_size(deleted), 0);
	assert_state(u, VM_RUNNING, NULL);
	assert_int_equal(svc_vol_get("d-disk", &out, &err), 0);
	__do_free char *path = xstrdup(json_string_value(json_object_get(out, "path")));
	json_decref(out);
	assert_true(fs_exists(path));

	act(u, ACT_KILL, 0, "succeeded");
	buf_reset(&err);
	assert_int_equal(svc_vm_delete(u, true, deleted, &err), 0);
	assert_int_equal(json_array_size(deleted), 1);
	assert_string_equal(json_string_value(json_array_get(deleted, 0)), "d-disk");
	assert_null(svc_vm_show(u));
	out = NULL;
	assert_int_equal(svc_vol_get("d-disk", &out, &err), -ENOENT);
	assert_false(fs_exists(path));
	json_decref(deleted);
	buf_release(&err);
}

static void test_guest_poweroff_ends_stopped(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("po-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int pid = fx_vm_pid(u);
	assert_true(pid > 0);
	/* The guest powers itself off (fake-qemu: SIGUSR1). */
	assert_int_equal(kill(pid, SIGUSR1), 0);
	assert_true(fx_vm_wait_state(u, VM_STOPPED));
	assert_state(u, VM_STOPPED, "guest shut down");
	assert_true(fx_vm_wait_event(u, "shutdown", "guest-shutdown"));
	assert_false(rt_is_active(u));
}

static void test_qemu_crash_ends_crashed(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("cr-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int pid = fx_vm_pid(u);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_true(fx_vm_wait_state(u, VM_CRASHED));
	assert_state(u, VM_CRASHED, "qemu exited unexpectedly");
	/* A crashed VM starts again. */
	act(u, ACT_START, 0, "succeeded");
	assert_state(u, VM_RUNNING, "started");
	act(u, ACT_KILL, 0, "succeeded");
}

static void test_reboot_resets_the_same_qemu(void **state)
{
	(void)state;
	svc_uuid u;
	fx_vm_create("rb-vm", NULL, u);
	act(u, ACT_START, 0, "succeeded");
	int pid = fx_vm_pid(u);
	act(u, ACT_REBOOT, 0, "succeeded");
	/* The guest's power-off became a reset: QEMU stays, the VM runs on. */
	assert_true(fx_vm_wait_event(u, "reboot", "resetting"));
	assert_true(fx_vm_wait_event(u, "reset", "host-qmp-system-reset"));
	assert_state(u, VM_RUNNING, NULL);
	assert_int_equal(fx_vm_pid(u), pid);
	act(u, ACT_KILL, 0, "succeeded");
}

static void test_corrald_restart_reattaches(void **state)
{
	(void)state;
	svc_uuid u, gone;
	fx_vm_create("ra-vm", NULL, u);
	fx_vm_create("ra-gone", NULL, gone);
	act(u, ACT_START, 0, "succeeded");
	act(gone, ACT_START, 0, "succeeded");
	int pid = fx_vm_pid(u), gone_pid = fx_vm_pid(gone);

	fx_stop();
	/* While corrald is down one QEMU runs on, the other dies. */
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(kill(gone_pid, SIGKILL), 0);
	time_sleep_ms(100);
	fx_start();

	assert_true(fx_vm_wait_event(u, "attach", "re-attached"));
	assert_state(u, VM_RUNNING, NULL);
	assert_int_equal(fx_vm_pid(u), pid);
	assert_state(gone, VM_CRASHED, "qemu exited while corrald was not running");
	/* The re-attached VM is driven as before. */
	act(u, ACT_STOP, 10, "succeeded");
	assert_state(u, VM_STOPPED, "stopped by user");
}

/* Migration carries a UEFI VM's NVRAM vars: the source's bytes arrive as the
 * destination's file; bad "nvram" values are refused and write nothing. */
static void test_migration_carries_nvram(void **state)
{
	(void)state;
	struct vm_def src = { .name = "efi", .uuid = "00000000-0000-4000-8000-00000000e0f1", .firmware = FIRMWARE_UEFI };
	struct vm_def dst = { .name = "efi", .uuid = "00000000-0000-4000-8000-00000000e0f2", .firmware = FIRMWARE_UEFI };
	struct vm_def bios = { .name = "old", .uuid = "00000000-0000-4000-8000-00000000e0f3" };
	__do_buf struct buf err = BUF_INIT, got = BUF_INIT;
	__do_free char *dst_path = rt_nvram_path(dst.uuid);
	char vars[1001];
	json_t *req = json_object();

	for (size_t i = 0; i < sizeof(vars); i++)
		vars[i] = (char)(i * 7 + 1);
	assert_int_equal(mig_nvram_add(&src, req, &err), 0); /* never started: nothing to carry */
	assert_null(json_object_get(req, "nvram"));
	assert_int_equal(rt_nvram_write(src.uuid, vars, sizeof(vars)), 0);
	assert_int_equal(mig_nvram_add(&bios, req, &err), 0);
	assert_null(json_object_get(req, "nvram"));
	assert_int_equal(mig_nvram_add(&src, req, &err), 0);
	assert_non_null(json_object_get(req, "nvram"));

	assert_int_equal(mig_nvram_accept(&bios, req, &err), -EINVAL); /* vars for a BIOS VM */
	static const char *const bad[] = { "", "AAA", "AA*A", "====" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		__do_json json_t *b = json_pack("{s:s}", "nvram", bad[i]);
		buf_reset(&err);
		assert_int_equal(mig_nvram_accept(&dst, b, &err), -EINVAL);
		assert_non_null(strstr(err.s, "nvram"));
	}
	__do_free char *huge = xmalloc(1u << 20);
	memset(huge, 'A', (1u << 20) - 1);
	huge[(1u << 20) - 1] = '\0';
	__do_json json_t *big = json_pack("{s:s}", "nvram", huge);
	assert_int_equal(mig_nvram_accept(&dst, big, &err), -EINVAL);
	assert_false(fs_exists(dst_path));

	assert_int_equal(mig_nvram_accept(&dst, req, &err), 0);
	assert_int_equal(fs_read_file(dst_path, 1u << 20, &got), 0);
	assert_int_equal(got.len, sizeof(vars));
	assert_memory_equal(got.s, vars, sizeof(vars));
	rt_forget(src.uuid);
	rt_forget(dst.uuid);
	assert_false(fs_exists(dst_path));
	json_decref(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_validates_and_stores),
		cmocka_unit_test(test_volume_of_another_vm_refused),
		cmocka_unit_test(test_update_against_stale_generation_refused),
		cmocka_unit_test(test_start_of_running_vm_refused),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_stop_honoured_by_guest),
		cmocka_unit_test(test_stop_of_deaf_guest_times_out_and_kills),
		cmocka_unit_test(test_kill_preempts_stop),
		cmocka_unit_test(test_delete_running_refused_then_delete_with_disks),
		cmocka_unit_test(test_guest_poweroff_ends_stopped),
		cmocka_unit_test(test_qemu_crash_ends_crashed),
		cmocka_unit_test(test_reboot_resets_the_same_qemu),
		cmocka_unit_test(test_corrald_restart_reattaches),
		cmocka_unit_test(test_migration_carries_nvram),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
