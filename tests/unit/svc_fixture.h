/*
 * svc_fixture.h - the service layer as corrald runs it, for unit tests.
 *
 * svc_fixture_setup() builds what src/daemon/main.c builds, in a fresh
 * temporary directory: a real SQLite store, the job engine, the QEMU runtime
 * (with the service layer's hooks, svc_rt_hooks) starting tests/fake/fake-qemu
 * instead of QEMU, the service layer and its default pool, and the process
 * reaper.  No API server, no cgroups; QEMU "runs" as the user running the test.
 * svc_fixture_teardown() kills what still runs, shuts it all down in
 * main.c's order and removes the directory.  One fixture per process (the
 * layers below are process-wide): use them as a cmocka group setup/teardown.
 *
 * The helpers fail the calling test (cmocka assertions) when a step that is
 * not under test fails.
 */
#ifndef CORRAL_TESTS_SVC_FIXTURE_H
#define CORRAL_TESTS_SVC_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/vmstate.h"
#include "service/service.h"

struct svc_fixture {
	char dir[64];  /* the temporary root: state.db, storage/, run/ */
	struct store *store;
};

int svc_fixture_setup(void **state);
int svc_fixture_teardown(void **state);
/* Stop and start the layers as a corrald restart does (store closed and
 * reopened, runtime re-attaching to the QEMUs that run on); fx_stop and
 * fx_start are its halves, for what happens while corrald is down. */
void fx_restart(void);
void fx_stop(void);
void fx_start(void);
/* Wait up to 5 s for an event of `type` whose detail contains `part` in the VM's history. */
bool fx_vm_wait_event(const char *uuid, const char *type, const char *part);
/* The pid of the VM's QEMU (its fake), from svc_vm_show; 0 if none. */
int fx_vm_pid(const char *uuid);

/* A volume of 1 MiB (qcow2) in the default pool. */
void fx_vol_create(const char *name);
/* Create VM `name` with the given volumes (NULL-terminated list, may be empty); its uuid in out. */
void fx_vm_create(const char *name, const char *const *volumes, svc_uuid out);
/* Run action a on the VM and return its job id (refusals fail the test). */
int64_t fx_action(const char *uuid, enum vm_action a, int timeout_s);
/* Wait for job id to end; its final JSON (caller decrefs). */
json_t *fx_job_wait(int64_t id);
/* Wait up to 5 s for the VM to reach state st; true if it did. */
bool fx_vm_wait_state(const char *uuid, enum vm_state st);
/* The VM's stored state and reason (reason: caller frees). */
enum vm_state fx_vm_state(const char *uuid, char **reason);
/* The state of job id ("running", "succeeded", "failed", "cancelled"), copied into out. */
void fx_job_state(int64_t id, char *out, size_t len);

#endif
