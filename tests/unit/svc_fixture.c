/*
 * svc_fixture.c - the service layer over a real store and a fake QEMU
 * (see svc_fixture.h).  The wiring follows src/daemon/main.c: process
 * reaper, store, job engine, runtime (hooks from svc_rt_hooks), svc_init,
 * default pool, re-attach; and the reverse on teardown.  FAKE_QEMU (tests/meson.build) is the fake's path.
 */
#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "svc_fixture.h"
#include "core/job.h"
#include "core/store.h"
#include "core/store_local.h"
#include "qemu/accel.h"
#include "qemu/runtime.h"
#include "service/pool.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/common.h"

#ifndef FAKE_QEMU
#error "FAKE_QEMU must name tests/fake/fake-qemu (tests/meson.build)"
#endif

static struct svc_fixture fx;
static struct accel_probe accel = { .kvm_usable = false, .reason = "tcg (service tests: fake QEMU)" };
static char state_dir[96], storage_dir[96], run_dir[96], nvram_dir[112], user[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* corrald starting: store, job engine, runtime, service layer (main.c's order). */
void fx_start(void)
{
	struct buf err = BUF_INIT;
	__do_free char *db = xasprintf("%s/state.db", state_dir);
	fx.store = store_open(db, &err);
	if (!fx.store)
		fail_msg("open %s: %s", db, err.s);
	job_engine_init(fx.store);
	store_job_fail_stale(fx.store, "corrald stopped while the job ran");

	struct rt_config rc = { .store = fx.store, .run_dir = run_dir, .qemu_binary = FAKE_QEMU, .accel = &accel,
				.qemu_user = user, .nvram_dir = nvram_dir };
	svc_rt_hooks(&rc);
	struct svc_config sc = { .store = fx.store, .retention = STORE_RETENTION_INIT, .state_dir = state_dir,
				 .storage_dir = storage_dir, .run_dir = run_dir, .qemu_binary = FAKE_QEMU,
				 .accel = &accel, .image_helper = "/nonexistent/corral-imgd", .image_user = user,
				 .image_timeout_s = 5 };
	if (rt_init(&rc, &err) < 0 || svc_init(&sc, &err) < 0 || svc_pool_init(&err) < 0)
		fail_msg("service layer init: %s", err.s);
	rt_attach_all();
	buf_release(&err);
}

/* corrald stopping (main.c's order); the guests run on. */
void fx_stop(void)
{
	job_engine_shutdown();
	rt_shutdown();
	svc_shutdown();
	store_close(fx.store);
	fx.store = NULL;
}

void fx_restart(void)
{
	fx_stop();
	fx_start();
}

int svc_fixture_setup(void **state)
{
	struct passwd *pw = getpwuid(getuid());

	log_set_level(getenv("CORRAL_TEST_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/corral-svct.XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	snprintf(state_dir, sizeof(state_dir), "%s/state", fx.dir);
	snprintf(storage_dir, sizeof(storage_dir), "%s/storage", fx.dir);
	snprintf(run_dir, sizeof(run_dir), "%s/run", fx.dir);
	snprintf(nvram_dir, sizeof(nvram_dir), "%s/nvram", state_dir); /* as main.c */
	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "root");
	assert_int_equal(fs_mkdir_p(state_dir, 0700), 0);
	assert_int_equal(fs_mkdir_p(storage_dir, 0700), 0);
	/* Children nobody waits for (a QEMU re-attached to) are reaped, as in corrald. */
	assert_int_equal(proc_reaper_start(), 0);
	fx_start();
	*state = &fx;
	return 0;
}

int svc_fixture_teardown(void **state)
{
	struct vm_record *list;
	size_t n;
	(void)state;
	/* Whatever a failed test left running goes first. */
	if (store_vm_list(fx.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct buf err = BUF_INIT;
			if (rt_is_active(list[i].def->uuid))
				rt_kill(list[i].def->uuid, &err);
			buf_release(&err);
		}
		store_vm_list_free(list, n);
	}
	fx_stop();
	proc_reaper_stop();
	if (!getenv("CORRAL_TEST_KEEP"))
		nftw(fx.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

void fx_vol_create(const char *name)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (svc_vol_create(name, 1 << 20, "qcow2", NULL, &out, &err) < 0)
		fail_msg("create volume %s: %s", name, err.s);
	json_decref(out);
	buf_release(&err);
}

void fx_vm_create(const char *name, const char *const *volumes, svc_uuid out)
{
	struct buf err = BUF_INIT;
	json_t *def = json_pack("{s:s,s:i,s:i,s:[]}", "name", name, "cpus", 1, "memory_mib", 64, "disks");
	json_t *shown = NULL;
	for (size_t i = 0; volumes && volumes[i]; i++)
		json_array_append_new(json_object_get(def, "disks"), json_pack("{s:s}", "volume", volumes[i]));
	if (svc_vm_create(def, &shown, &err) < 0)
		fail_msg("create vm %s: %s", name, err.s);
	snprintf(out, sizeof(svc_uuid), "%s", json_string_value(json_object_get(shown, "uuid")));
	json_decref(shown);
	json_decref(def);
	buf_release(&err);
}

int64_t fx_action(const char *uuid, enum vm_action a, int timeout_s)
{
	struct svc_action_opts o = { .timeout_s = timeout_s };
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	if (svc_vm_action_job(uuid, a, &o, &job, &err) < 0)
		fail_msg("%s %s: %s", vmaction_name(a), uuid, err.s);
	int64_t id = json_integer_value(json_object_get(job, "id"));
	json_decref(job);
	buf_release(&err);
	assert_true(id > 0);
	return id;
}

json_t *fx_job_wait(int64_t id)
{
	if (job_wait(id, 20000) < 0)
		fail_msg("job %lld did not end within 20 s", (long long)id);
	json_t *j = job_get(id);
	assert_non_null(j);
	return j;
}

void fx_job_state(int64_t id, char *out, size_t len)
{
	json_t *j = job_get(id);
	snprintf(out, len, "%s", j ? json_string_value(json_object_get(j, "state")) : "unknown");
	json_decref(j);
}

enum vm_state fx_vm_state(const char *uuid, char **reason)
{
	struct vm_record rec = { 0 };
	assert_int_equal(store_vm_get(fx.store, uuid, &rec), 0);
	enum vm_state st = rec.state;
	if (reason)
		*reason = xstrdup(rec.reason ? rec.reason : "");
	vm_record_release(&rec);
	return st;
}

bool fx_vm_wait_state(const char *uuid, enum vm_state st)
{
	for (int64_t end = time_mono_ms() + 5000; time_mono_ms() < end; time_sleep_ms(10))
		if (fx_vm_state(uuid, NULL) == st)
			return true;
	return fx_vm_state(uuid, NULL) == st;
}

bool fx_vm_wait_event(const char *uuid, const char *type, const char *part)
{
	for (int64_t end = time_mono_ms() + 5000; time_mono_ms() < end; time_sleep_ms(10)) {
		json_t *evs = svc_vm_events(uuid, 100), *e;
		size_t i;
		bool found = false;
		json_array_foreach(evs, i, e) {
			const char *t = json_string_value(json_object_get(e, "type"));
			const char *d = json_string_value(json_object_get(e, "detail"));
			if (t && d && strcmp(t, type) == 0 && strstr(d, part))
				found = true;
		}
		json_decref(evs);
		if (found)
			return true;
	}
	return false;
}

int fx_vm_pid(const char *uuid)
{
	json_t *shown = svc_vm_show(uuid);
	int pid = (int)json_integer_value(json_object_get(json_object_get(shown, "status"), "pid"));
	json_decref(shown);
	return pid;
}
