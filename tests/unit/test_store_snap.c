/*
 * test_store_snap.c - the snapshot tree in the store (src/core/store_snap.c)
 * on a real database file: insert and read back, duplicates, listing per VM
 * and for all, states, the VM's current snapshot, and deleting leaves,
 * middles and roots (children re-parented, current moved up, one
 * transaction), persistence across reopening, hostile strings.
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

#include "core/store.h"
#include "core/vmdef.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/common.h"

#define U1 "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a"
#define U2 "11111111-2222-4333-8444-555555555555"

struct fixture {
	char dir[64];
	char *path;
	struct store *s;
};

static void add_vm(struct store *s, const char *name, const char *uuid)
{
	struct buf err = BUF_INIT;
	char text[256];
	snprintf(text, sizeof(text), "{\"name\":\"%s\",\"uuid\":\"%s\",\"nic\":{\"mac\":\"52:54:00:00:00:01\"}}", name,
		 uuid);
	json_t *j = json_loads(text, 0, NULL);
	struct vm_def *d = vmdef_from_json(j, &err);
	assert_non_null(d);
	assert_int_equal(store_vm_insert(s, d), 0);
	vmdef_free(d);
	json_decref(j);
	buf_release(&err);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf err = BUF_INIT;
	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-snap-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state.db", f->dir);
	if (!(f->s = store_open(f->path, &err)))
		return -1;
	buf_release(&err);
	add_vm(f->s, "vm1", U1);
	add_vm(f->s, "vm2", U2);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	int r = system(rm);
	free(rm);
	free(f->path);
	free(f);
	return r == 0 ? 0 : -1;
}

static void add_snap(struct store *s, const char *vm, const char *name, const char *parent, int64_t t)
{
	struct snap_record r = { .vm = (char *)vm, .name = (char *)name, .parent = (char *)parent, .created_ms = t,
				 .description = "d", .memory = t % 2, .was_running = true, .def = "{\"x\":1}",
				 .state = "ready" };
	assert_int_equal(store_snap_insert(s, &r), 0);
}

static char *parent_of(struct store *s, const char *vm, const char *name)
{
	struct snap_record r = { 0 };
	assert_int_equal(store_snap_get(s, vm, name, &r), 0);
	char *p = r.parent ? xstrdup(r.parent) : xstrdup("-");
	snap_record_release(&r);
	return p;
}

static void assert_parent(struct store *s, const char *name, const char *want)
{
	__do_free char *p = parent_of(s, U1, name);
	assert_string_equal(p, want);
}

static void assert_current(struct store *s, const char *vm, const char *want)
{
	__do_free char *cur = NULL;
	assert_int_equal(store_snap_current_get(s, vm, &cur), 0);
	assert_string_equal(cur ? cur : "-", want);
}

static void test_insert_get(void **state)
{
	struct fixture *f = *state;
	struct snap_record r = { 0 };

	struct snap_record in = { .vm = U1, .name = "s1", .parent = NULL, .created_ms = 1234, .description = "before upgrade",
				  .memory = true, .was_running = true, .def = "{\"name\":\"vm1\"}", .state = "creating" };
	assert_int_equal(store_snap_insert(f->s, &in), 0);
	assert_int_equal(store_snap_insert(f->s, &in), -EEXIST);
	assert_int_equal(store_snap_get(f->s, U1, "s1", &r), 0);
	assert_string_equal(r.vm, U1);
	assert_string_equal(r.name, "s1");
	assert_null(r.parent);
	assert_int_equal(r.created_ms, 1234);
	assert_string_equal(r.description, "before upgrade");
	assert_true(r.memory);
	assert_true(r.was_running);
	assert_string_equal(r.def, "{\"name\":\"vm1\"}");
	assert_string_equal(r.state, "creating");
	snap_record_release(&r);
	snap_record_release(&r); /* NULL-safe twice */

	assert_int_equal(store_snap_get(f->s, U2, "s1", &r), -ENOENT);
	assert_int_equal(store_snap_get(f->s, U1, "nope", &r), -ENOENT);
	/* The same name on another VM is another snapshot. */
	in.vm = U2;
	assert_int_equal(store_snap_insert(f->s, &in), 0);

	assert_int_equal(store_snap_set_state(f->s, U1, "s1", "ready"), 0);
	assert_int_equal(store_snap_set_state(f->s, U1, "nope", "ready"), -ENOENT);
	assert_int_equal(store_snap_get(f->s, U1, "s1", &r), 0);
	assert_string_equal(r.state, "ready");
	snap_record_release(&r);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	struct snap_record *list;
	size_t n;

	assert_int_equal(store_snap_list(f->s, U1, &list, &n), 0);
	assert_int_equal(n, 0);
	store_snap_list_free(list, n);

	add_snap(f->s, U1, "b", NULL, 20);
	add_snap(f->s, U1, "a", "b", 30);
	add_snap(f->s, U1, "c", NULL, 10);
	add_snap(f->s, U2, "z", NULL, 5);
	assert_int_equal(store_snap_list(f->s, U1, &list, &n), 0);
	assert_int_equal(n, 3);
	/* Oldest first. */
	assert_string_equal(list[0].name, "c");
	assert_string_equal(list[1].name, "b");
	assert_string_equal(list[2].name, "a");
	assert_string_equal(list[2].parent, "b");
	store_snap_list_free(list, n);

	assert_int_equal(store_snap_list(f->s, NULL, &list, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].name, "z");
	store_snap_list_free(list, n);
}

static void test_current(void **state)
{
	struct fixture *f = *state;
	__do_free char *cur = NULL;

	assert_current(f->s, U1, "-");
	add_snap(f->s, U1, "s1", NULL, 1);
	assert_int_equal(store_snap_current_set(f->s, U1, "s1"), 0);
	assert_current(f->s, U1, "s1");
	assert_current(f->s, U2, "-");
	assert_int_equal(store_snap_current_set(f->s, U1, NULL), 0);
	assert_current(f->s, U1, "-");
	assert_int_equal(store_snap_current_get(f->s, "00000000-0000-4000-8000-000000000000", &cur), -ENOENT);
	assert_null(cur);
	assert_int_equal(store_snap_current_set(f->s, "00000000-0000-4000-8000-000000000000", "x"), -ENOENT);
}

/*
 *   r -> m -> c1
 *         \-> c2 -> g
 *   r -> o
 */
static void build_tree(struct store *s)
{
	add_snap(s, U1, "r", NULL, 1);
	add_snap(s, U1, "m", "r", 2);
	add_snap(s, U1, "c1", "m", 3);
	add_snap(s, U1, "c2", "m", 4);
	add_snap(s, U1, "g", "c2", 5);
	add_snap(s, U1, "o", "r", 6);
	/* Same names on another VM must not be touched. */
	add_snap(s, U2, "m", NULL, 1);
	add_snap(s, U2, "c1", "m", 2);
}

static void test_delete_middle(void **state)
{
	struct fixture *f = *state;
	struct snap_record r = { 0 };

	build_tree(f->s);
	assert_int_equal(store_snap_current_set(f->s, U1, "c1"), 0);
	assert_int_equal(store_snap_delete(f->s, U1, "m"), 0);
	assert_int_equal(store_snap_get(f->s, U1, "m", &r), -ENOENT);
	assert_parent(f->s, "c1", "r");
	assert_parent(f->s, "c2", "r");
	assert_parent(f->s, "g", "c2");
	assert_parent(f->s, "o", "r");
	assert_current(f->s, U1, "c1");
	/* The other VM's tree is intact. */
	__do_free char *p = parent_of(f->s, U2, "c1");
	assert_string_equal(p, "m");
	assert_int_equal(store_snap_delete(f->s, U1, "m"), -ENOENT);
}

static void test_delete_current_and_root(void **state)
{
	struct fixture *f = *state;

	build_tree(f->s);
	assert_int_equal(store_snap_current_set(f->s, U1, "g"), 0);
	assert_int_equal(store_snap_current_set(f->s, U2, "c1"), 0);
	assert_int_equal(store_snap_delete(f->s, U1, "g"), 0);
	assert_current(f->s, U1, "c2");
	assert_current(f->s, U2, "c1");
	assert_int_equal(store_snap_delete(f->s, U1, "r"), 0);
	assert_parent(f->s, "m", "-");
	assert_parent(f->s, "o", "-");
	assert_int_equal(store_snap_current_set(f->s, U1, "m"), 0);
	assert_int_equal(store_snap_delete(f->s, U1, "m"), 0);
	assert_current(f->s, U1, "-");
	assert_parent(f->s, "c1", "-");
	assert_parent(f->s, "c2", "-");
}

static void test_persist_and_hostile(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct snap_record r = { 0 };
	static const char evil[] = "x'); DROP TABLE snapshots; --\"\\";

	struct snap_record in = { .vm = U1, .name = "s1", .description = (char *)evil, .def = (char *)evil,
				  .state = "ready" };
	assert_int_equal(store_snap_insert(f->s, &in), 0);
	assert_int_equal(store_snap_current_set(f->s, U1, "s1"), 0);
	store_close(f->s);
	f->s = store_open(f->path, &err);
	assert_non_null(f->s);
	buf_release(&err);
	assert_int_equal(store_snap_get(f->s, U1, "s1", &r), 0);
	assert_string_equal(r.description, evil);
	assert_string_equal(r.def, evil);
	assert_true(r.created_ms > 0); /* 0 means "now" */
	snap_record_release(&r);
	assert_current(f->s, U1, "s1");
	assert_int_equal(store_snap_get(f->s, U1, evil, &r), -ENOENT);
}

/* The tree stays whole: no snapshot of a VM that does not exist, no dangling parent or current. */
static void test_tree_rules(void **state)
{
	struct fixture *f = *state;
	struct snap_record orphan = { .vm = "00000000-0000-4000-8000-000000000000", .name = "s", .def = "{}",
				      .state = "ready" };
	struct snap_record dangling = { .vm = U1, .name = "s", .parent = "nope", .def = "{}", .state = "ready" };
	struct snap_record *list;
	size_t n;

	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_snap_insert(f->s, &orphan), -ENOENT);
	assert_int_equal(store_snap_insert(f->s, &dangling), -ENOENT);
	assert_int_equal(store_snap_current_set(f->s, U1, "nope"), -ENOENT);
	assert_int_equal(store_snap_set_state(f->s, U1, "nope", "ready"), -ENOENT);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(store_snap_list(f->s, NULL, &list, &n), 0);
	assert_int_equal(n, 0);
	store_snap_list_free(list, n);

	/* forgetting a VM's snapshots clears its current one too */
	add_snap(f->s, U1, "a", NULL, 1);
	add_snap(f->s, U1, "b", "a", 2);
	add_snap(f->s, U2, "a", NULL, 1);
	assert_int_equal(store_snap_current_set(f->s, U1, "b"), 0);
	assert_int_equal(store_snap_delete_vm(f->s, U1), 0);
	assert_int_equal(store_snap_delete_vm(f->s, U1), 0);
	assert_current(f->s, U1, "-");
	assert_int_equal(store_snap_list(f->s, NULL, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].vm, U2);
	store_snap_list_free(list, n);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_insert_get),	  T(test_list),
		T(test_current),	  T(test_delete_middle),
		T(test_delete_current_and_root), T(test_persist_and_hostile), T(test_tree_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
