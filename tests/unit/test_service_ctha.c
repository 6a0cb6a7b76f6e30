/*
 * test_service_ctha.c - what HA takes of a container (src/service/ct_ha.c,
 * docs/ha.md "Containers") against a real store: the pool's copy of a
 * container whose root is a directory volume of a shared pool names the
 * volume relative to its pool, with its kind and memory; a root or a mount
 * point in a pool that is not shared, and a --rootfs root, are refused
 * with the reason, the definition untouched; on a host that sees the same
 * shared pool the copy defines the container again (same uuid, its volume
 * recorded there), and dropping that record leaves the root's tree alone.
 * liblxc is only asked for states here: nothing is started.
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
#include "service/ct.h"
#include "service/pool.h"
#include "service/volume.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

static const char *fx_dir(void **state) { return ((struct svc_fixture *)*state)->dir; }

static void pool(void **state, const char *name, bool shared)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	char *dir = xasprintf("%s/%s", fx_dir(state), name);
	assert_int_equal(fs_mkdir_p(dir, 0755), 0);
	if (svc_pool_create(name, dir, shared, &out, &err) < 0)
		fail_msg("pool %s: %s", name, err.s);
	json_decref(out);
	free(dir);
	buf_release(&err);
}

static void dirvol(const char *name, const char *in)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (svc_vol_create(name, 0, "dir", in, &out, &err) < 0)
		fail_msg("volume %s: %s", name, err.s);
	json_decref(out);
	buf_release(&err);
}

/* A stored container definition (privileged: no id map needed). */
static void ct_put(void **state, const char *uuid, const char *name, const char *volume, const char *mount)
{
	struct buf err = BUF_INIT;
	json_t *d = json_pack("{s:s,s:s,s:b,s:s,s:s,s:{s:i}}", "name", name, "uuid", uuid, "privileged", 1, "template",
			      "busybox", "volume", volume, "limits", "memory_limit_mib", 96);
	if (mount)
		json_object_set_new(d, "mounts", json_pack("[{s:s,s:s,s:b}]", "volume", mount, "path", "/data",
							   "readonly", 0));
	char *text = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_batch *b = store_batch_new();
	store_batch_ct_put(b, uuid, name, text, true);
	if (store_batch_commit(((struct svc_fixture *)*state)->store, b, &err) < 0)
		fail_msg("container %s: %s", name, err.s);
	store_batch_free(b);
	free(text);
	json_decref(d);
	buf_release(&err);
}

static void test_capture_shared_root(void **state)
{
	struct buf err = BUF_INIT;
	char uuid[37] = "";
	pool(state, "sh", true);
	dirvol("web-root", "sh");
	dirvol("web-data", "sh");
	ct_put(state, "11111111-2222-3333-4444-555555555555", "web", "web-root", "web-data");
	json_t *def = json_object();
	assert_int_equal(svc_ct_ha_capture("web", def, uuid, &err), 0);
	assert_string_equal(uuid, "11111111-2222-3333-4444-555555555555");
	assert_string_equal(json_string_value(json_object_get(def, "kind")), "container");
	assert_string_equal(json_string_value(json_object_get(def, "vm")), "web");
	assert_int_equal(json_integer_value(json_object_get(def, "memory_mib")), 96);
	json_t *disks = json_object_get(def, "disks");
	assert_int_equal(json_array_size(disks), 2);
	json_t *root = json_array_get(disks, 0);
	assert_string_equal(json_string_value(json_object_get(root, "volume")), "web-root");
	assert_string_equal(json_string_value(json_object_get(root, "pool")), "sh");
	assert_string_equal(json_string_value(json_object_get(root, "file")), "web-root");
	assert_string_equal(json_string_value(json_object_get(json_array_get(disks, 1), "volume")), "web-data");
	assert_string_equal(json_string_value(json_object_get(json_object_get(def, "ctdef"), "volume")), "web-root");

	/* the same host seeing the same pool: "adopting" its own container is a no-op */
	assert_int_equal(svc_ct_ha_adopt(uuid, def, &err), 0);

	/* dropped here: the rows go, the tree stays; adopted again from the pool's copy */
	assert_int_equal(svc_ct_ha_forget(uuid, &err), 0);
	assert_false(svc_ct_exists(uuid));
	char *tree = xasprintf("%s/sh/web-root", fx_dir(state));
	assert_true(fs_exists(tree) > 0);
	json_t *v = NULL;
	assert_int_equal(svc_vol_get("web-root", &v, &err), -ENOENT);
	buf_reset(&err);
	if (svc_ct_ha_adopt(uuid, def, &err) < 0)
		fail_msg("adopt: %s", err.s);
	assert_true(svc_ct_exists(uuid));
	assert_int_equal(svc_vol_get("web-root", &v, &err), 0);
	assert_string_equal(json_string_value(json_object_get(v, "path")), tree);
	assert_string_equal(json_string_value(json_object_get(v, "pool")), "sh");
	json_decref(v);
	assert_false(svc_ct_running(uuid, NULL));
	assert_int_equal(svc_ct_pidfd(uuid), -ESRCH);
	free(tree);
	json_decref(def);
	buf_release(&err);
}

static void test_capture_refusals(void **state)
{
	struct buf err = BUF_INIT;
	char uuid[37] = "";
	pool(state, "lp", false);
	dirvol("loc-root", "lp");
	ct_put(state, "21111111-2222-3333-4444-555555555555", "loc", "loc-root", NULL);
	json_t *def = json_object();
	assert_int_equal(svc_ct_ha_capture("loc", def, uuid, &err), -EINVAL);
	assert_non_null(strstr(err.s, "root volume loc-root of container loc is in pool 'lp', which is not shared: HA "
				      "could not restart loc on another host"));
	assert_non_null(strstr(err.s, "corral ct move loc --pool POOL"));
	assert_int_equal(json_object_size(def), 0);

	buf_reset(&err);
	dirvol("mix-root", "sh");
	dirvol("mix-data", "lp");
	ct_put(state, "31111111-2222-3333-4444-555555555555", "mix", "mix-root", "mix-data");
	assert_int_equal(svc_ct_ha_capture("mix", def, uuid, &err), -EINVAL);
	assert_non_null(strstr(err.s, "mount point volume mix-data of container mix is in pool 'lp', which is not "
				      "shared"));
	assert_int_equal(json_object_size(def), 0);

	buf_reset(&err);
	assert_int_equal(svc_ct_ha_capture("nosuch", def, uuid, &err), -ENOENT);
	json_decref(def);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_shared_root),
		cmocka_unit_test(test_capture_refusals),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
