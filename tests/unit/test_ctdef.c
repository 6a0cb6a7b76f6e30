/*
 * test_ctdef.c - container definitions (src/core/ctdef.c): what a caller
 * may send, what the store reads back, and the refusal, with a sentence
 * naming the problem, of hostile names, unknown fields, bad roots and ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/ctdef.h"
#include "util/buf.h"
#include "util/common.h"

static struct ct_def *parse(const char *text, enum ctdef_origin o, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	struct ct_def *d = ctdef_from_json(j, o, err);
	json_decref(j);
	return d;
}

/* text is refused from a user, with `want` in the message. */
static void refused(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct ct_def *d = parse(text, CTDEF_FROM_USER, &err);
	if (d || !err.s || !strstr(err.s, want))
		fail_msg("%s: expected a refusal containing \"%s\", got %s", text, want, d ? "accepted" : err.s);
	ctdef_free(d);
	buf_release(&err);
}

static void test_accepts(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"web-1\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->name, "web-1");
	assert_int_equal(d->tmpl, CT_TEMPLATE_BUSYBOX);
	assert_false(d->privileged);
	assert_int_equal(strlen(d->uuid), 36);
	ctdef_free(d);
	d = parse("{\"name\":\"db\",\"rootfs\":\"/srv/ct/db\",\"privileged\":true,\"description\":\"x\","
		  "\"uuid\":\"0B6C7B4E-1111-2222-3333-444455556666\"}",
		  CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->rootfs, "/srv/ct/db");
	assert_true(d->privileged);
	assert_string_equal(d->uuid, "0b6c7b4e-1111-2222-3333-444455556666");
	ctdef_free(d);
	buf_release(&err);
}

static void test_roundtrip_store(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	d->idmap = (struct ct_idmap){ 100000, 200000, 65536 };
	d->created_ms = 42;
	json_t *j = ctdef_to_json(d);
	struct ct_def *e = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(e);
	assert_string_equal(e->uuid, d->uuid);
	assert_int_equal(e->idmap.uid_base, 100000);
	assert_int_equal(e->idmap.gid_base, 200000);
	assert_int_equal(e->idmap.count, 65536);
	assert_int_equal(e->created_ms, 42);
	/* the same JSON from a caller: idmap and created are not theirs to give */
	assert_null(ctdef_from_json(j, CTDEF_FROM_USER, &err));
	assert_non_null(strstr(err.s, "unknown field"));
	json_decref(j);
	ctdef_free(d);
	ctdef_free(e);
	buf_release(&err);
}

static void test_hostile_names(void **state)
{
	(void)state;
	refused("{\"name\":\"../etc\",\"template\":\"busybox\"}", "invalid container name");
	refused("{\"name\":\"a/b\",\"template\":\"busybox\"}", "invalid container name");
	refused("{\"name\":\"-x\",\"template\":\"busybox\"}", "must not start or end");
	refused("{\"name\":\"x-\",\"template\":\"busybox\"}", "must not start or end");
	refused("{\"name\":\"\",\"template\":\"busybox\"}", "name is empty");
	refused("{\"name\":\"a b\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"a.b\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"a\\nb\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"$(reboot)\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"template\":\"busybox\"}",
		"longer than 63");
	refused("{\"template\":\"busybox\"}", "'name' is required");
	refused("{\"name\":7,\"template\":\"busybox\"}", "name");
}

static void test_bad_fields(void **state)
{
	(void)state;
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"net\":\"x\"}", "net");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":0,\"gid_base\":0,\"count\":1}}",
		"idmap");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"created\":1}", "created");
	refused("{\"name\":\"a\"}", "exactly one of");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"rootfs\":\"/srv/a\"}", "exactly one of");
	refused("{\"name\":\"a\",\"template\":\"debian\"}", "unknown container template");
	refused("{\"name\":\"a\",\"rootfs\":\"srv/a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/../etc\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv//a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a/\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/./a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a:b\"}", "absolute");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"privileged\":\"yes\"}", "privileged");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"uuid\":\"nope\"}", "invalid uuid");
	struct buf err = BUF_INIT;
	json_t *arr = json_array();
	assert_null(ctdef_from_json(arr, CTDEF_FROM_USER, &err));
	assert_non_null(strstr(err.s, "JSON object"));
	json_decref(arr);
	buf_release(&err);
}

static void test_store_checks(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	/* an unprivileged definition without its id range is not usable */
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\"}", CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "needs an idmap"));
	buf_reset(&err);
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":4294967000,"
			  "\"gid_base\":1,\"count\":65536}}",
			  CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "past the largest id"));
	buf_reset(&err);
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":1,\"gid_base\":1}}",
			  CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "count"));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_roundtrip_store),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_store_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
