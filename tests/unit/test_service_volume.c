/*
 * test_service_volume.c - the volume rules of the service layer
 * (src/service/volume.c, the disk attach/detach of vm.c) against a real
 * store and tests/fake/fake-qemu.
 *
 * Checked: a volume belongs to at most one VM, and its owner is what the
 * volumes table says (attach and detach move it); a volume a VM uses cannot
 * be deleted, stopped or running, until it is detached; a taken volume name
 * is refused; on a running VM a disk is hot-plugged and unplugged (once the
 * guest released it) with the definition and owner following, and a
 * hot-plug refused leaves both as they were.
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
#include "service/vm.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

static char *vol_path(const char *name)
{
	struct buf err = BUF_INIT;
	json_t *v = NULL;
	if (svc_vol_get(name, &v, &err) < 0)
		fail_msg("volume %s: %s", name, err.s);
	char *p = xstrdup(json_string_value(json_object_get(v, "path")));
	json_decref(v);
	buf_release(&err);
	return p;
}

static int vm_ndisks(const char *uuid)
{
	json_t *shown = svc_vm_show(uuid);
	int n = (int)json_array_size(json_object_get(shown, "disks"));
	json_decref(shown);
	return n;
}

static void run(const char *uuid, enum vm_action a)
{
	json_t *job = fx_job_wait(fx_action(uuid, a, 0));
	assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
	json_decref(job);
}

static void test_delete_of_attached_volume_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	const char *vols[] = { "a-disk", NULL };
	fx_vol_create("a-disk");
	fx_vm_create("a-vm", vols, u);
	__do_free char *path = vol_path("a-disk");

	/* Stopped or running, the VM's volume stays. */
	assert_int_equal(svc_vol_delete("a-disk", &err), -EBUSY);
	assert_non_null(strstr(err.s, "used by vm 'a-vm'"));
	run(u, ACT_START);
	buf_reset(&err);
	assert_int_equal(svc_vol_delete("a-disk", &err), -EBUSY);
	assert_true(fs_exists(path));
	run(u, ACT_KILL);

	buf_reset(&err);
	assert_int_equal(svc_vm_disk_detach(u, "a-disk", &err), 0);
	assert_int_equal(vm_ndisks(u), 0);
	assert_null(svc_vm_using_volume("a-disk"));
	assert_int_equal(svc_vol_delete("a-disk", &err), 0);
	assert_false(fs_exists(path));
	buf_reset(&err);
	json_t *gone = NULL;
	assert_int_equal(svc_vol_get("a-disk", &gone, &err), -ENOENT);
	buf_release(&err);
}

static void test_owner_follows_attach_and_detach(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid a, b;
	fx_vol_create("w-disk");
	fx_vm_create("w-first", NULL, a);
	fx_vm_create("w-second", NULL, b);
	assert_null(svc_vm_using_volume("w-disk"));

	assert_int_equal(svc_vm_disk_attach(a, "w-disk", "virtio", &err), 0);
	__do_free char *owner = svc_vm_using_volume("w-disk");
	assert_non_null(owner);
	assert_string_equal(owner, "w-first");

	/* Taken: the second VM cannot have it, and its definition is unchanged. */
	assert_int_equal(svc_vm_disk_attach(b, "w-disk", NULL, &err), -EBUSY);
	assert_non_null(strstr(err.s, "already used by vm 'w-first'"));
	assert_int_equal(vm_ndisks(b), 0);

	buf_reset(&err);
	assert_int_equal(svc_vm_disk_detach(a, "w-disk", &err), 0);
	assert_int_equal(svc_vm_disk_attach(b, "w-disk", "scsi", &err), 0);
	__do_free char *owner2 = svc_vm_using_volume("w-disk");
	assert_string_equal(owner2, "w-second");
	json_t *vol = NULL;
	assert_int_equal(svc_vol_get("w-disk", &vol, &err), 0);
	assert_string_equal(json_string_value(json_object_get(vol, "used_by")), "w-second");
	json_decref(vol);
	json_t *shown = svc_vm_show(b);
	json_t *d0 = json_array_get(json_object_get(shown, "disks"), 0);
	assert_string_equal(json_string_value(json_object_get(d0, "volume")), "w-disk");
	assert_string_equal(json_string_value(json_object_get(d0, "bus")), "scsi");
	json_decref(shown);

	/* Detaching what is not attached says so. */
	buf_reset(&err);
	assert_int_equal(svc_vm_disk_detach(a, "w-disk", &err), -ENOENT);
	assert_non_null(strstr(err.s, "not attached to vm 'w-first'"));
	buf_release(&err);
}

static void test_taken_volume_name_refused(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	fx_vol_create("t-disk");
	__do_free char *path = vol_path("t-disk");
	assert_int_equal(svc_vol_create("t-disk", 2 << 20, "qcow2", NULL, &out, &err), -EEXIST);
	assert_null(out);
	assert_non_null(strstr(err.s, "t-disk"));
	/* The first one is left as it was. */
	assert_int_equal(svc_vol_get("t-disk", &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "path")), path);
	assert_int_equal(json_integer_value(json_object_get(out, "capacity")), 1 << 20);
	json_decref(out);
	buf_release(&err);
}

static void test_hotplug_on_a_running_vm(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	fx_vol_create("hp-disk");
	fx_vm_create("hp-vm", NULL, u);
	run(u, ACT_START);

	assert_int_equal(svc_vm_disk_attach(u, "hp-disk", "virtio", &err), 0);
	assert_int_equal(vm_ndisks(u), 1);
	__do_free char *owner = svc_vm_using_volume("hp-disk");
	assert_string_equal(owner, "hp-vm");
	assert_true(fx_vm_wait_event(u, "disk", "hp-disk hot-plugged (virtio, slot 0)"));
	assert_int_equal(svc_vol_delete("hp-disk", &err), -EBUSY);

	/* Unplug: done once the guest released it (DEVICE_DELETED). */
	buf_reset(&err);
	assert_int_equal(svc_vm_disk_detach(u, "hp-disk", &err), 0);
	assert_true(fx_vm_wait_event(u, "disk", "hp-disk hot-unplugged"));
	assert_int_equal(vm_ndisks(u), 0);
	assert_null(svc_vm_using_volume("hp-disk"));
	assert_int_equal(fx_vm_state(u, NULL), VM_RUNNING);
	run(u, ACT_KILL);
	buf_release(&err);
}

static void test_refused_hotplug_changes_nothing(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	svc_uuid u;
	fx_vol_create("hr-disk");
	fx_vm_create("hr-vm", NULL, u);
	run(u, ACT_START);
	assert_int_equal(svc_vm_disk_attach(u, "hr-disk", "ide", &err), -ENOTSUP);
	assert_non_null(strstr(err.s, "IDE disks cannot be hot-plugged"));
	buf_reset(&err);
	/* No SCSI controller: the VM was started without a SCSI disk. */
	assert_int_equal(svc_vm_disk_attach(u, "hr-disk", "scsi", &err), -ENOTSUP);
	assert_non_null(strstr(err.s, "no SCSI controller"));
	assert_int_equal(vm_ndisks(u), 0);
	assert_null(svc_vm_using_volume("hr-disk"));
	assert_int_equal(fx_vm_state(u, NULL), VM_RUNNING);
	run(u, ACT_KILL);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delete_of_attached_volume_refused),
		cmocka_unit_test(test_owner_follows_attach_and_detach),
		cmocka_unit_test(test_taken_volume_name_refused),
		cmocka_unit_test(test_hotplug_on_a_running_vm),
		cmocka_unit_test(test_refused_hotplug_changes_nothing),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
