/*
 * test_service_snapshot.c - the snapshot rules of the service layer
 * (src/service/snapshot.c, docs/snapshots.md) on stopped VMs, against a
 * real store and real qemu-img on small qcow2 volumes.
 *
 * Checked: a snapshot is taken on every disk under one tag and becomes
 * current, the next one's parent; a taken name, a raw disk and a RAM
 * snapshot of a stopped VM are refused at once; revert restores the
 * definition of the snapshot's moment and leaves the VM stopped; revert is
 * refused when a volume of the snapshot now belongs to another VM; delete
 * hands a snapshot's children its parent and removes the tag from the disks.
 * On a running VM (tests/fake/fake-qemu) a disk-only snapshot is one QMP
 * transaction over the VM's disk nodes, recorded as taken while running.
 * RAM snapshots (snapshot-save jobs) and what QEMU writes into the images
 * are proven in tests/integration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svc_fixture.h"
#include "qemu/snapshot.h"
#include "service/snapshot.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/common.h"

static const char *jstr(const json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

/* The job of a snapshot operation that returned r (and *job), run to its end: its final JSON. */
static json_t *snap_wait(int r, json_t *job, const struct buf *err)
{
	if (r < 0)
		fail_msg("refused: %s", err->s);
	json_t *done = fx_job_wait(json_integer_value(json_object_get(job, "id")));
	json_decref(job);
	return done;
}

static void snap_create(const char *uuid, const char *name)
{
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	int r = svc_snapshot_create(uuid, name, NULL, false, &job, &err);
	json_t *done = snap_wait(r, job, &err);
	if (strcmp(jstr(done, "state"), "succeeded") != 0)
		fail_msg("snapshot %s: %s", name, jstr(done, "error"));
	assert_string_equal(jstr(json_object_get(json_object_get(done, "result"), "snapshot"), "name"), name);
	json_decref(done);
	buf_release(&err);
}

/* The tags qemu-img finds in volume `vol`, as "a,b," (caller frees). */
static char *disk_tags(const char *vol)
{
	struct buf err = BUF_INIT, tags = BUF_INIT;
	json_t *v = NULL, *list = NULL, *it;
	size_t i;
	assert_int_equal(svc_vol_get(vol, &v, &err), 0);
	if (snap_img_list(jstr(v, "path"), &list, &err) < 0)
		fail_msg("qemu-img info %s: %s", vol, err.s);
	json_array_foreach(list, i, it)
		buf_printf(&tags, "%s,", jstr(it, "name"));
	json_decref(list);
	json_decref(v);
	buf_release(&err);
	return tags.s ? buf_detach(&tags) : xstrdup("");
}

static json_t *snap_find(json_t *list, const char *name)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(list, "snapshots"), i, it)
		if (strcmp(jstr(it, "name"), name) == 0)
			return it;
	return NULL;
}

static void test_snapshots_form_a_tree_on_every_disk(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	const char *vols[] = { "t-d0", "t-d1", NULL };
	fx_vol_create("t-d0");
	fx_vol_create("t-d1");
	fx_vm_create("t-vm", vols, u);
	snap_create(u, "s1");
	snap_create(u, "s2");

	json_t *list = svc_snapshot_list(u, &err);
	assert_non_null(list);
	assert_string_equal(jstr(list, "current"), "s2");
	assert_true(json_is_null(json_object_get(snap_find(list, "s1"), "parent")));
	assert_string_equal(jstr(snap_find(list, "s2"), "parent"), "s1");
	assert_string_equal(jstr(snap_find(list, "s2"), "state"), "ready");
	json_decref(list);
	__do_free char *t0 = disk_tags("t-d0");
	__do_free char *t1 = disk_tags("t-d1");
	assert_string_equal(t0, "s1,s2,");
	assert_string_equal(t1, "s1,s2,");

	/* Delete the middle: s2's parent is now s1's (none), the tag leaves both disks. */
	json_t *job = NULL;
	int r = svc_snapshot_delete(u, "s1", &job, &err);
	json_t *done = snap_wait(r, job, &err);
	assert_string_equal(jstr(done, "state"), "succeeded");
	json_decref(done);
	list = svc_snapshot_list(u, &err);
	assert_null(snap_find(list, "s1"));
	assert_true(json_is_null(json_object_get(snap_find(list, "s2"), "parent")));
	assert_string_equal(jstr(list, "current"), "s2");
	json_decref(list);
	__do_free char *t0b = disk_tags("t-d0");
	__do_free char *t1b = disk_tags("t-d1");
	assert_string_equal(t0b, "s2,");
	assert_string_equal(t1b, "s2,");
	buf_release(&err);
}

static void test_refusals_come_at_once(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *job = NULL, *out = NULL;
	svc_uuid u, r;
	const char *vols[] = { "r-d0", NULL };
	fx_vol_create("r-d0");
	fx_vm_create("r-vm", vols, u);
	snap_create(u, "s1");

	assert_int_equal(svc_snapshot_create(u, "s1", NULL, false, &job, &err), -EEXIST);
	assert_null(job);
	assert_non_null(strstr(err.s, "already has a snapshot named 's1'"));
	buf_reset(&err);
	assert_int_equal(svc_snapshot_create(u, "s2", NULL, true, &job, &err), -EBUSY);
	assert_null(job);
	assert_non_null(strstr(err.s, "not running"));
	buf_reset(&err);
	assert_int_equal(svc_snapshot_create(u, "bad/name", NULL, false, &job, &err), -EINVAL);
	assert_null(job);

	/* A raw disk cannot hold an internal snapshot: refused naming it. */
	buf_reset(&err);
	assert_int_equal(svc_vol_create("r-raw", 1 << 20, "raw", NULL, &out, &err), 0);
	json_decref(out);
	const char *raw[] = { "r-raw", NULL };
	fx_vm_create("r-rawvm", raw, r);
	assert_true(svc_snapshot_create(r, "s1", NULL, false, &job, &err) < 0);
	assert_null(job);
	assert_non_null(strstr(err.s, "r-raw"));
	json_t *list = svc_snapshot_list(r, &err);
	assert_int_equal(json_array_size(json_object_get(list, "snapshots")), 0);
	json_decref(list);
	buf_release(&err);
}

static void test_revert_restores_the_definition(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *job = NULL, *out = NULL;
	svc_uuid u;
	const char *vols[] = { "v-d0", NULL };
	fx_vol_create("v-d0");
	fx_vm_create("v-vm", vols, u);
	snap_create(u, "before");
	json_t *def = json_pack("{s:s,s:i,s:i,s:[{s:s}]}", "name", "v-vm", "cpus", 3, "memory_mib", 96, "disks",
				"volume", "v-d0");
	assert_int_equal(svc_vm_update(u, def, -1, &out, &err), 0);
	json_decref(out);
	json_decref(def);
	snap_create(u, "after");

	int r = svc_snapshot_revert(u, "before", &job, &err);
	json_t *done = snap_wait(r, job, &err);
	assert_string_equal(jstr(done, "state"), "succeeded");
	json_decref(done);
	json_t *shown = svc_vm_show(u);
	assert_int_equal(json_integer_value(json_object_get(shown, "cpus")), 1);
	assert_int_equal(json_integer_value(json_object_get(shown, "memory_mib")), 64);
	assert_string_equal(jstr(json_object_get(shown, "status"), "state"), "stopped");
	json_decref(shown);
	json_t *list = svc_snapshot_list(u, &err);
	assert_string_equal(jstr(list, "current"), "before");
	json_decref(list);
	buf_release(&err);
}

static void test_revert_refused_when_a_volume_moved_to_another_vm(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	svc_uuid u, other;
	const char *vols[] = { "m-d0", NULL };
	fx_vol_create("m-d0");
	fx_vm_create("m-vm", vols, u);
	snap_create(u, "s1");
	assert_int_equal(svc_vm_disk_detach(u, "m-d0", &err), 0);
	fx_vm_create("m-other", NULL, other);
	assert_int_equal(svc_vm_disk_attach(other, "m-d0", NULL, &err), 0);

	assert_int_equal(svc_snapshot_revert(u, "s1", &job, &err), -EBUSY);
	assert_null(job);
	assert_non_null(strstr(err.s, "m-d0"));
	assert_non_null(strstr(err.s, "m-other"));
	/* Nothing moved back. */
	__do_free char *owner = svc_vm_using_volume("m-d0");
	assert_string_equal(owner, "m-other");
	json_t *shown = svc_vm_show(u);
	assert_int_equal(json_array_size(json_object_get(shown, "disks")), 0);
	json_decref(shown);
	buf_release(&err);
}

static void test_snapshot_of_a_running_vm(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	const char *vols[] = { "rs-d0", NULL };
	fx_vol_create("rs-d0");
	fx_vm_create("rs-vm", vols, u);
	json_t *job = fx_job_wait(fx_action(u, ACT_START, 0));
	assert_string_equal(jstr(job, "state"), "succeeded");
	json_decref(job);

	/* lifecycle.replies: a transaction of blockdev-snapshot-internal-sync on disk0, tag s1. */
	snap_create(u, "s1");
	json_t *list = svc_snapshot_list(u, &err);
	json_t *s1 = snap_find(list, "s1");
	assert_non_null(s1);
	assert_string_equal(jstr(s1, "state"), "ready");
	assert_true(json_is_true(json_object_get(s1, "was_running")));
	assert_false(json_is_true(json_object_get(s1, "memory")));
	assert_string_equal(jstr(list, "current"), "s1");
	json_decref(list);
	/* The VM ran on through it. */
	assert_int_equal(fx_vm_state(u, NULL), VM_RUNNING);
	job = fx_job_wait(fx_action(u, ACT_KILL, 0));
	json_decref(job);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshots_form_a_tree_on_every_disk),
		cmocka_unit_test(test_refusals_come_at_once),
		cmocka_unit_test(test_revert_restores_the_definition),
		cmocka_unit_test(test_revert_refused_when_a_volume_moved_to_another_vm),
		cmocka_unit_test(test_snapshot_of_a_running_vm),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
