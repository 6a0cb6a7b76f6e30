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
 * A UEFI VM's snapshots carry its NVRAM vars (service/snapnvram.h): the
 * copy is the vars file of the snapshot's moment (an empty one for a VM
 * never started), a revert puts it back (or removes the vars), delete drops
 * it; a running VM is paused for the copy and runs on; at start the copies
 * of snapshots a crash cut off, copies no snapshot names and temp files go,
 * and deleting the VM removes all of them.
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
#include "core/store.h"
#include "qemu/runtime.h"
#include "qemu/snapshot.h"
#include "service/snapnvram.h"
#include "service/snapshot.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/fsutil.h"
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

/* ---- NVRAM vars of UEFI VMs ------------------------------------------- */

/* Run a revert or delete of snapshot `name` to its end; it must succeed. */
static void snap_run(int (*op)(const char *, const char *, json_t **, struct buf *), const char *uuid,
		     const char *name)
{
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	int r = op(uuid, name, &job, &err);
	json_t *done = snap_wait(r, job, &err);
	if (strcmp(jstr(done, "state"), "succeeded") != 0)
		fail_msg("%s %s: %s", jstr(done, "type"), name, jstr(done, "error"));
	json_decref(done);
	buf_release(&err);
}

static void snap_revert(const char *uuid, const char *name) { snap_run(svc_snapshot_revert, uuid, name); }
static void snap_delete(const char *uuid, const char *name) { snap_run(svc_snapshot_delete, uuid, name); }

/* Make VM uuid (one disk, `vol`) boot with UEFI. */
static void make_uefi(const char *uuid, const char *name, const char *vol)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	json_t *def = json_pack("{s:s,s:s,s:[{s:s}]}", "name", name, "firmware", "uefi", "disks", "volume", vol);
	if (svc_vm_update(uuid, def, -1, &out, &err) < 0)
		fail_msg("firmware uefi: %s", err.s);
	json_decref(out);
	json_decref(def);
	buf_release(&err);
}

/* The bytes of `path` ("<none>" when it does not exist; caller frees). */
static char *file_text(const char *path)
{
	struct buf b = BUF_INIT;
	int r = fs_read_file(path, 1 << 24, &b);
	if (r == -ENOENT)
		return xstrdup("<none>");
	assert_int_equal(r, 0);
	return b.s ? buf_detach(&b) : xstrdup("");
}

static char *vars_text(const char *uuid)
{
	__do_free char *p = rt_nvram_path(uuid);
	return file_text(p);
}

static char *copy_text(const char *uuid, const char *name)
{
	__do_free char *p = rt_nvram_snapshot_path(uuid, name);
	return file_text(p);
}

static void vars_set(const char *uuid, const char *text)
{
	assert_int_equal(rt_nvram_write(uuid, text, strlen(text)), 0);
}

static bool listed_nvram(const char *uuid, const char *name)
{
	struct buf err = BUF_INIT;
	json_t *list = svc_snapshot_list(uuid, &err);
	bool yes = json_is_true(json_object_get(snap_find(list, name), "nvram"));
	json_decref(list);
	buf_release(&err);
	return yes;
}

static void test_uefi_snapshots_carry_the_nvram_vars(void **state)
{
	(void)state;
	svc_uuid u, b;
	const char *vols[] = { "n-d0", NULL };
	fx_vol_create("n-d0");
	fx_vm_create("n-vm", vols, u);
	make_uefi(u, "n-vm", "n-d0");

	/* Never started: no vars yet; the snapshot says so with an empty copy. */
	snap_create(u, "fresh");
	__do_free char *c0 = copy_text(u, "fresh");
	assert_string_equal(c0, "");
	assert_true(listed_nvram(u, "fresh"));

	vars_set(u, "vars: boot entry A");
	snap_create(u, "a");
	__do_free char *c1 = copy_text(u, "a");
	assert_string_equal(c1, "vars: boot entry A");
	assert_true(listed_nvram(u, "a"));

	/* The guest changes its vars; the revert brings the snapshot's back. */
	vars_set(u, "vars: boot entry B, new key");
	snap_revert(u, "a");
	__do_free char *v1 = vars_text(u);
	assert_string_equal(v1, "vars: boot entry A");
	/* ... and a revert to before the first start: fresh vars at the next start. */
	snap_revert(u, "fresh");
	__do_free char *v2 = vars_text(u);
	assert_string_equal(v2, "<none>");
	snap_revert(u, "a");
	__do_free char *v3 = vars_text(u);
	assert_string_equal(v3, "vars: boot entry A");

	/* Delete drops the copy, and only that one. */
	snap_delete(u, "a");
	__do_free char *c2 = copy_text(u, "a");
	assert_string_equal(c2, "<none>");
	__do_free char *c3 = copy_text(u, "fresh");
	assert_string_equal(c3, "");
	__do_free char *v4 = vars_text(u);
	assert_string_equal(v4, "vars: boot entry A");

	/* A BIOS VM's snapshot carries none, and its revert leaves vars alone. */
	const char *bvols[] = { "n-b0", NULL };
	fx_vol_create("n-b0");
	fx_vm_create("n-bios", bvols, b);
	snap_create(b, "s");
	assert_false(listed_nvram(b, "s"));
	__do_free char *c4 = copy_text(b, "s");
	assert_string_equal(c4, "<none>");
}

static void test_snapshot_nvram_helpers(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	bool restored = true;
	const char *u = "0b0e5e1e-0000-4000-8000-00000000ab01";

	/* No copy: nothing restored, nothing changed. */
	vars_set(u, "today");
	assert_int_equal(svc_snap_nvram_restore(u, "none", &restored, &err), 0);
	assert_false(restored);
	__do_free char *v0 = vars_text(u);
	assert_string_equal(v0, "today");
	assert_false(svc_snap_nvram_has(u, "none"));

	assert_int_equal(svc_snap_nvram_save(u, "x", &err), 0);
	assert_true(svc_snap_nvram_has(u, "x"));
	vars_set(u, "tomorrow");
	assert_int_equal(svc_snap_nvram_restore(u, "x", &restored, &err), 0);
	assert_true(restored);
	__do_free char *v1 = vars_text(u);
	assert_string_equal(v1, "today");

	/* A copy that is a symlink (the directory is the qemu user's) is not followed. */
	__do_free char *evil = rt_nvram_snapshot_path(u, "evil");
	assert_int_equal(symlink("/etc/passwd", evil), 0);
	assert_int_equal(svc_snap_nvram_restore(u, "evil", &restored, &err), -EPERM);
	assert_non_null(strstr(err.s, "snapshot 'evil'"));
	__do_free char *v2 = vars_text(u);
	assert_string_equal(v2, "today");
	/* Nor is a vars file that is one. */
	__do_free char *vars = rt_nvram_path(u);
	unlink(vars);
	assert_int_equal(symlink("/etc/passwd", vars), 0);
	buf_reset(&err);
	assert_int_equal(svc_snap_nvram_save(u, "y", &err), -EPERM);
	assert_false(svc_snap_nvram_has(u, "y"));

	assert_int_equal(svc_snap_nvram_drop(u, "x", &err), 0);
	assert_false(svc_snap_nvram_has(u, "x"));
	assert_int_equal(svc_snap_nvram_drop(u, "x", &err), 0); /* gone already: fine */
	unlink(evil);
	unlink(vars);
	buf_release(&err);
}

static void test_nvram_copies_after_a_crash_and_a_delete(void **state)
{
	struct svc_fixture *f = *state;
	struct buf err = BUF_INIT;
	struct vm_record rec = { 0 };
	svc_uuid u;
	const char *vols[] = { "c-d0", NULL };
	fx_vol_create("c-d0");
	fx_vm_create("c-vm", vols, u);
	make_uefi(u, "c-vm", "c-d0");
	vars_set(u, "vars of c");
	snap_create(u, "keep");

	/* What crashes leave: a row "creating" whose copy was written but no tag,
	 * a copy no row names, temp files of a copy. */
	assert_int_equal(store_vm_get(f->store, u, &rec), 0);
	json_t *dj = vmdef_to_json(rec.def);
	char *def = json_dumps(dj, JSON_COMPACT);
	struct snap_record row = { .vm = u, .name = "half", .description = "", .def = def, .state = "creating" };
	assert_int_equal(store_snap_insert(f->store, &row), 0);
	free(def);
	json_decref(dj);
	vm_record_release(&rec);
	assert_int_equal(svc_snap_nvram_save(u, "half", &err), 0);
	assert_int_equal(svc_snap_nvram_save(u, "ghost", &err), 0);
	__do_free char *keep = rt_nvram_snapshot_path(u, "keep");
	__do_free char *tmp = xasprintf("%s.tmp.4242", keep);
	assert_int_equal(fs_write_file_atomic(tmp, "x", 1, 0600), 0);
	const char *other = "0b0e5e1e-0000-4000-8000-00000000ab02"; /* a VM deleted meanwhile */
	assert_int_equal(svc_snap_nvram_save(other, "old", &err), 0);

	fx_restart();
	svc_snapshot_recover();
	assert_false(svc_snap_nvram_has(u, "half"));
	assert_false(svc_snap_nvram_has(u, "ghost"));
	assert_false(fs_exists(tmp));
	assert_false(svc_snap_nvram_has(other, "old"));
	__do_free char *k = copy_text(u, "keep");
	assert_string_equal(k, "vars of c");
	json_t *list = svc_snapshot_list(u, &err);
	assert_null(snap_find(list, "half"));
	json_decref(list);

	/* Deleting the VM removes its vars and every copy. */
	json_t *gone = json_array();
	assert_int_equal(svc_vm_delete(u, false, gone, &err), 0);
	json_decref(gone);
	assert_false(fs_exists(keep));
	__do_free char *v = vars_text(u);
	assert_string_equal(v, "<none>");
	buf_release(&err);
}

static void test_uefi_snapshot_of_a_running_vm(void **state)
{
	(void)state;
	svc_uuid u;
	const char *vols[] = { "ur-d0", NULL };
	fx_vol_create("ur-d0");
	fx_vm_create("ur-vm", vols, u);
	make_uefi(u, "ur-vm", "ur-d0");
	json_t *job = fx_job_wait(fx_action(u, ACT_START, 0));
	assert_string_equal(jstr(job, "state"), "succeeded");
	json_decref(job);
	/* The start made the vars from OVMF's template; what the guest wrote since: */
	vars_set(u, "vars the running guest wrote");

	/* lifecycle.replies: stop, the transaction on disk0 (tag s1), cont. */
	snap_create(u, "s1");
	__do_free char *c = copy_text(u, "s1");
	assert_string_equal(c, "vars the running guest wrote");
	assert_true(fx_vm_wait_event(u, "state", "paused while snapshot 's1' is taken"));
	assert_true(fx_vm_wait_event(u, "state", "resumed: snapshot 's1' taken"));
	assert_int_equal(fx_vm_state(u, NULL), VM_RUNNING);
	job = fx_job_wait(fx_action(u, ACT_KILL, 0));
	json_decref(job);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshots_form_a_tree_on_every_disk),
		cmocka_unit_test(test_refusals_come_at_once),
		cmocka_unit_test(test_revert_restores_the_definition),
		cmocka_unit_test(test_revert_refused_when_a_volume_moved_to_another_vm),
		cmocka_unit_test(test_snapshot_of_a_running_vm),
		cmocka_unit_test(test_uefi_snapshots_carry_the_nvram_vars),
		cmocka_unit_test(test_snapshot_nvram_helpers),
		cmocka_unit_test(test_nvram_copies_after_a_crash_and_a_delete),
		cmocka_unit_test(test_uefi_snapshot_of_a_running_vm),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
