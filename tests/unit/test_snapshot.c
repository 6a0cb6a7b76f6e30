/*
 * test_snapshot.c - the qemu-img side of src/qemu/snapshot.c: the argv it
 * builds (dry run: the format is forced with --image-opts, commas in paths
 * escaped) and, against the real qemu-img on a scratch image, create / list /
 * apply / delete of internal snapshots and the errors that come back.
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

#include "qemu/snapshot.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/common.h"

struct fixture {
	char dir[64];
	char *img;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-snap-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	/* A comma in the path: QemuOpts must see it escaped. */
	f->img = xasprintf("%s/a,b.qcow2", f->dir);
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	cmd_add(&c, "create");
	cmd_add(&c, "-q");
	cmd_add(&c, "-f");
	cmd_add(&c, "qcow2");
	cmd_add(&c, f->img);
	cmd_add(&c, "16M");
	int r = cmd_run(&c, NULL, NULL);
	cmd_release(&c);
	*state = f;
	return r == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	int r = system(rm);
	free(rm);
	free(f->img);
	free(f);
	return r == 0 ? 0 : -1;
}

static void test_argv(void **state)
{
	(void)state;
	struct buf rec = BUF_INIT, err = BUF_INIT;
	cmd_set_dry_run(&rec, 0);
	assert_int_equal(snap_img_create("/s/x,y.qcow2", "s1", &err), 0);
	assert_int_equal(snap_img_apply("/s/v.qcow2", "s1", &err), 0);
	assert_int_equal(snap_img_delete("/s/v.qcow2", "s1", &err), 0);
	cmd_set_dry_run(NULL, 0);
	assert_string_equal(rec.s,
			    "qemu-img snapshot --image-opts -c s1 driver=qcow2,file.driver=file,file.filename=/s/x,,y.qcow2\n"
			    "qemu-img snapshot --image-opts -a s1 driver=qcow2,file.driver=file,file.filename=/s/v.qcow2\n"
			    "qemu-img snapshot --image-opts -d s1 driver=qcow2,file.driver=file,file.filename=/s/v.qcow2\n");
	buf_release(&rec);
	buf_release(&err);
}

static void test_real_image(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	json_t *list = NULL;

	assert_int_equal(snap_img_list(f->img, &list, &err), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	assert_int_equal(snap_img_create(f->img, "s1", &err), 0);
	assert_int_equal(snap_img_create(f->img, "s2", &err), 0);
	assert_int_equal(snap_img_list(f->img, &list, &err), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_non_null(snap_list_find(list, "s1"));
	assert_non_null(snap_list_find(list, "s2"));
	assert_null(snap_list_find(list, "s3"));
	assert_true(json_is_integer(json_object_get(snap_list_find(list, "s1"), "vm-state-size")));
	json_decref(list);

	assert_int_equal(snap_img_apply(f->img, "s1", &err), 0);
	assert_int_equal(snap_img_delete(f->img, "s1", &err), 0);
	assert_int_equal(snap_img_list(f->img, &list, &err), 0);
	assert_int_equal(json_array_size(list), 1);
	assert_null(snap_list_find(list, "s1"));
	json_decref(list);
	assert_int_equal(err.len, 0);

	/* Errors carry what was done, on which image, and qemu-img's reason. */
	assert_int_equal(snap_img_apply(f->img, "nosuch", &err), -EIO);
	assert_non_null(strstr(err.s, "cannot revert"));
	assert_non_null(strstr(err.s, "nosuch"));
	assert_null(strchr(err.s, '\n'));
	buf_reset(&err);
	assert_int_equal(snap_img_list("/nonexistent/x.qcow2", &list, &err), -EIO);
	assert_non_null(strstr(err.s, "/nonexistent/x.qcow2"));
	buf_release(&err);
}

/* A raw file is never treated as qcow2 (the format is forced, not probed). */
static void test_raw_refused(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *raw = xasprintf("%s/raw.img", f->dir);
	FILE *fp = fopen(raw, "w");
	assert_non_null(fp);
	fputs("not an image", fp);
	fclose(fp);
	assert_int_equal(snap_img_create(raw, "s1", &err), -EIO);
	assert_non_null(strstr(err.s, "cannot create snapshot 's1'"));
	buf_release(&err);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_argv),
		T(test_real_image),
		T(test_raw_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
