/*
 * test_service_ctmove.c - what start-up recovery keeps of a `ct move` of an
 * image root that a killed corrald left (svc_ct_move_recover,
 * src/service/ct_vol.c) against a real store: the one file the root
 * volume's row names stays, the half copy and the other file go, and the
 * job's outcome says which; a record with paths that are not absolute, or
 * a hostile name, touches nothing.  Files only: no container runs.
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
#include "util/fsutil.h"
#include "util/common.h"

struct paths {
	char *from, *part, *final;
};

/* Files p1/VOL.ext4 (the root before the move), p2/.VOL.ext4.move (the half copy), p2/VOL.ext4 (the
 * renamed copy), each if asked, and VOL's row naming the new file (switched) or the old one. */
static struct paths setup_move(void **state, const char *vol, bool from, bool part, bool final, bool switched)
{
	struct svc_fixture *fx = *state;
	struct paths p = { xasprintf("%s/p1/%s.ext4", fx->dir, vol), xasprintf("%s/p2/.%s.ext4.move", fx->dir, vol),
			   xasprintf("%s/p2/%s.ext4", fx->dir, vol) };
	__do_free char *d1 = xasprintf("%s/p1", fx->dir), *d2 = xasprintf("%s/p2", fx->dir);
	assert_int_equal(fs_mkdir_p(d1, 0755), 0);
	assert_int_equal(fs_mkdir_p(d2, 0755), 0);
	if (from)
		assert_int_equal(fs_write_file_atomic(p.from, "old", 3, 0600), 0);
	if (part)
		assert_int_equal(fs_write_file_atomic(p.part, "half", 4, 0600), 0);
	if (final)
		assert_int_equal(fs_write_file_atomic(p.final, "new", 3, 0600), 0);
	struct vol_record v = { .name = (char *)vol, .format = "ext4", .path = switched ? p.final : p.from,
				.pool = switched ? "p2" : "p1" };
	assert_int_equal(store_vol_add(fx->store, &v), 0);
	return p;
}

static json_t *record(const char *vol, const struct paths *p)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:b}", "uuid", "6a1f0c57-1111-4222-8333-944445555666", "name",
			 "x", "volume", vol, "part", p->part, "final", p->final, "from", p->from, "fresh", 0, "image", 1);
}

static void paths_free(struct paths *p)
{
	free(p->from);
	free(p->part);
	free(p->final);
}

/* Killed while copying (or after the rename, before the store): the old file is the root. */
static void test_not_switched(void **state)
{
	struct paths p = setup_move(state, "a-root", true, true, true, false);
	json_t *r = record("a-root", &p);
	assert_false(svc_ct_move_recover(r));
	assert_int_equal(fs_exists(p.from), 1);
	assert_int_equal(fs_exists(p.part), 0);
	assert_int_equal(fs_exists(p.final), 0);
	/* again (a second restart): nothing more goes */
	assert_false(svc_ct_move_recover(r));
	assert_int_equal(fs_exists(p.from), 1);
	json_decref(r);
	paths_free(&p);
}

/* Killed after the store named the new file, before the old one went. */
static void test_switched(void **state)
{
	struct paths p = setup_move(state, "b-root", true, false, true, true);
	json_t *r = record("b-root", &p);
	assert_true(svc_ct_move_recover(r));
	assert_int_equal(fs_exists(p.final), 1);
	assert_int_equal(fs_exists(p.from), 0);
	json_decref(r);
	paths_free(&p);
}

static void test_hostile_record(void **state)
{
	struct paths p = setup_move(state, "c-root", true, true, false, false);
	json_t *r = record("c-root", &p);
	json_object_set_new(r, "part", json_string("relative/.c-root.ext4.move"));
	assert_false(svc_ct_move_recover(r));
	json_object_set_new(r, "part", json_string(p.part));
	json_object_set_new(r, "name", json_string("../x"));
	assert_false(svc_ct_move_recover(r));
	assert_int_equal(fs_exists(p.part), 1);
	assert_int_equal(fs_exists(p.from), 1);
	json_decref(r);
	paths_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_switched),
		cmocka_unit_test(test_switched),
		cmocka_unit_test(test_hostile_record),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
