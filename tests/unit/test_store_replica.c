/*
 * test_store_replica.c - the replicated tables' version, chain and
 * snapshots (src/core/store_replica.c) on real database files: the scope of
 * a batch (replicated, local, or mixed and refused); the same batches on two
 * stores give the same version, chain and digest, a refused batch changes
 * neither; a different batch at the same version gives a different chain
 * (what the fork check relies on) and the chain of every version is kept; a
 * snapshot imported into a third store reproduces the tables exactly (rows
 * it lacks go, rows it has are replaced) and a corrupt one changes nothing;
 * forget goes back to version 0.
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

#include "core/store.h"
#include "core/store_replica.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/common.h"

struct fixture {
	char dir[64];
	struct store *s[3];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf err = BUF_INIT;
	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-replica-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	for (int i = 0; i < 3; i++) {
		char *p = xasprintf("%s/s%d.db", f->dir, i);
		f->s[i] = store_open(p, &err);
		free(p);
		if (!f->s[i]) {
			fprintf(stderr, "store_open: %s\n", err.s);
			return -1;
		}
	}
	buf_release(&err);
	log_set_level(LOG_LVL_ERROR + 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	log_set_level(LOG_LVL_INFO);
	for (int i = 0; i < 3; i++)
		store_close(f->s[i]);
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	int r = system(rm);
	free(rm);
	free(f);
	return r == 0 ? 0 : -1;
}

/* Apply batch text on s as a delivery would: the result. */
static int deliver(struct store *s, const char *text, struct buf *err)
{
	json_error_t je;
	json_t *b = json_loads(text, 0, &je);
	assert_non_null(b);
	buf_reset(err);
	int r = store_replica_apply(s, b, text, strlen(text), err);
	json_decref(b);
	return r;
}

static void state_of(struct store *s, struct store_replica_state *st) { assert_int_equal(store_replica_state(s, st), 0); }

#define B_USER "{\"v\":1,\"time\":1000,\"ops\":[{\"op\":\"user.put\",\"name\":\"alice\",\"hash\":\"$y$x\",\"create\":true}]}"
#define B_ACL "{\"v\":1,\"time\":1001,\"ops\":[{\"op\":\"acl.put\",\"subject\":\"alice\",\"role\":\"Operator\",\"path\":\"/\"}]}"
#define B_ALARM "{\"v\":1,\"time\":1002,\"ops\":[{\"op\":\"alarm.put\",\"name\":\"q\",\"def\":\"{\\\"when\\\":\\\"x\\\"}\"}]}"
#define B_BOB "{\"v\":1,\"time\":1003,\"ops\":[{\"op\":\"user.put\",\"name\":\"bob\",\"hash\":\"$y$b\",\"create\":true}]}"

static void test_scope(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *b = json_loads(B_USER, 0, NULL);
	assert_int_equal(store_batch_scope(b, &err), STORE_SCOPE_REPLICATED);
	json_decref(b);
	b = json_loads("{\"v\":1,\"time\":1,\"ops\":[{\"op\":\"net.delete\",\"name\":\"n\"}]}", 0, NULL);
	assert_int_equal(store_batch_scope(b, &err), STORE_SCOPE_LOCAL);
	json_decref(b);
	b = json_loads("{\"v\":1,\"time\":1,\"ops\":[{\"op\":\"policy.delete\",\"name\":\"p\"},{\"op\":\"vm.delete\",\"uuid\":\"u\"}]}",
		       0, NULL);
	assert_int_equal(store_batch_scope(b, &err), -EINVAL);
	assert_non_null(strstr(err.s, "may not mix"));
	json_decref(b);
	assert_true(store_op_replicated("token.add"));
	assert_true(store_op_replicated("policy.put"));
	assert_false(store_op_replicated("pool.add"));
	assert_false(store_op_replicated("repo.add"));
	assert_false(store_op_replicated(NULL));
	assert_true(store_op_replicated("ha.put"));
	assert_true(store_op_replicated("ha.delete"));
	b = json_loads("{\"v\":1,\"time\":1,\"ops\":[{\"op\":\"ha.delete\",\"name\":\"u\"},{\"op\":\"vm.delete\",\"uuid\":\"u\"}]}",
		       0, NULL);
	buf_reset(&err);
	assert_int_equal(store_batch_scope(b, &err), -EINVAL);
	assert_non_null(strstr(err.s, "HA resources"));
	json_decref(b);
	buf_release(&err);
}

#define B_HA "{\"v\":1,\"time\":1004,\"ops\":[{\"op\":\"ha.put\",\"name\":\"0e5b2a3c-1111-4222-8333-944455556666\",\"def\":\"{\\\"vm\\\":\\\"web\\\",\\\"priority\\\":10}\"}]}"

/* HA resources (schema v15) travel like the other replicated tables: the
 * same batches give the same rows and digest, a snapshot carries them, a
 * delete of one not there is refused alike everywhere. */
static void test_ha_resources(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct store_replica_state a, c;
	assert_int_equal(deliver(f->s[0], B_HA, &err), 0);
	assert_int_equal(deliver(f->s[1], B_HA, &err), 0);
	state_of(f->s[0], &a);
	state_of(f->s[1], &c);
	assert_string_equal(a.digest, c.digest);
	struct ha_record h;
	assert_int_equal(store_ha_get(f->s[1], "0e5b2a3c-1111-4222-8333-944455556666", &h), 0);
	assert_non_null(strstr(h.def, "\"priority\":10"));
	ha_record_release(&h);
	char *snap = store_replica_export(f->s[0]);
	assert_non_null(snap);
	assert_non_null(strstr(snap, "ha_resources"));
	assert_int_equal(store_replica_import(f->s[2], snap, &err), 0);
	free(snap);
	struct ha_record *list;
	size_t n;
	assert_int_equal(store_ha_list(f->s[2], &list, &n), 0);
	assert_int_equal(n, 1);
	store_ha_list_free(list, n);
	/* the pool's HA settings rows ('~': maintenance, groups, ...) ride the same ops and
	 * replicate alike, but are not HA VMs: store_ha_list leaves them out */
	buf_reset(&err);
	assert_int_equal(deliver(f->s[0], "{\"v\":1,\"time\":1004,\"ops\":[{\"op\":\"ha.put\",\"name\":\"~host:h3\",\"def\":\"{\\\"maintenance\\\":true}\"}]}", &err), 0);
	assert_int_equal(deliver(f->s[1], "{\"v\":1,\"time\":1004,\"ops\":[{\"op\":\"ha.put\",\"name\":\"~host:h3\",\"def\":\"{\\\"maintenance\\\":true}\"}]}", &err), 0);
	state_of(f->s[0], &a);
	state_of(f->s[1], &c);
	assert_string_equal(a.digest, c.digest);
	assert_int_equal(store_ha_list(f->s[0], &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].uuid, "0e5b2a3c-1111-4222-8333-944455556666");
	store_ha_list_free(list, n);
	assert_int_equal(store_ha_settings_list(f->s[0], &list, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(list[0].uuid, "~host:h3");
	store_ha_list_free(list, n);
	buf_reset(&err);
	assert_int_equal(deliver(f->s[0], "{\"v\":1,\"time\":1005,\"ops\":[{\"op\":\"ha.delete\",\"name\":\"nope\"}]}", &err),
			 -ENOENT);
	assert_non_null(strstr(err.s, "HA resource 'nope' does not exist"));
	assert_int_equal(deliver(f->s[0], "{\"v\":1,\"time\":1006,\"ops\":[{\"op\":\"ha.delete\",\"name\":\"0e5b2a3c-1111-4222-8333-944455556666\"}]}", &err), 0);
	assert_int_equal(store_ha_get(f->s[0], "0e5b2a3c-1111-4222-8333-944455556666", &h), -ENOENT);
	buf_release(&err);
}

/* ha.put with "base" is a compare-and-set on the row's rev, which every ha.put bumps:
 * a write made from a stale copy is refused on every store alike and changes nothing. */
#define HA_PUT(t, def, base) \
	"{\"v\":1,\"time\":" #t ",\"ops\":[{\"op\":\"ha.put\",\"name\":\"u1\",\"def\":\"" def "\"" base "}]}"
static void test_ha_compare_and_set(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct ha_record h;
	struct store_replica_state a, c;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(deliver(f->s[i], HA_PUT(2000, "{\\\"host\\\":\\\"h1\\\"}", ""), &err), 0);
		assert_int_equal(deliver(f->s[i], HA_PUT(2001, "{\\\"host\\\":\\\"h2\\\"}", ",\"base\":1"), &err), 0);
		/* written from rev 1, but the row is at rev 2 now */
		assert_int_equal(deliver(f->s[i], HA_PUT(2002, "{\\\"host\\\":\\\"h3\\\"}", ",\"base\":1"), &err), -ESTALE);
		assert_non_null(strstr(err.s, "HA resource u1 changed meanwhile (rev 2, written from rev 1)"));
	}
	assert_int_equal(store_ha_get(f->s[1], "u1", &h), 0);
	assert_non_null(strstr(h.def, "\"host\":\"h2\""));
	assert_non_null(strstr(h.def, "\"rev\":2"));
	ha_record_release(&h);
	state_of(f->s[0], &a);
	state_of(f->s[1], &c);
	assert_string_equal(a.digest, c.digest);
	assert_int_equal(a.version, 2);
	buf_release(&err);
}

static void test_same_batches_same_state(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct store_replica_state a, b;
	state_of(f->s[0], &a);
	assert_true(a.version == 0);
	assert_string_equal(a.chain, "0000000000000000000000000000000000000000000000000000000000000000");
	for (int i = 0; i < 2; i++) {
		assert_int_equal(deliver(f->s[i], B_USER, &err), 0);
		assert_int_equal(deliver(f->s[i], B_ACL, &err), 0);
		assert_int_equal(deliver(f->s[i], B_ALARM, &err), 0);
		/* refused everywhere alike: no version */
		assert_int_equal(deliver(f->s[i], B_USER, &err), -EEXIST);
	}
	state_of(f->s[0], &a);
	state_of(f->s[1], &b);
	assert_true(a.version == 3);
	assert_string_equal(a.chain, b.chain);
	assert_string_equal(a.digest, b.digest);
	char at[65];
	assert_int_equal(store_replica_chain_at(f->s[0], 3, at), 0);
	assert_string_equal(at, a.chain);
	assert_int_equal(store_replica_chain_at(f->s[0], 1, at), 0);
	assert_string_not_equal(at, a.chain);
	assert_int_equal(store_replica_chain_at(f->s[0], 4, at), -ENOENT);

	/* a different batch at the same version: another chain (a fork) */
	assert_int_equal(deliver(f->s[0], B_BOB, &err), 0);
	assert_int_equal(deliver(f->s[1], "{\"v\":1,\"time\":1003,\"ops\":[{\"op\":\"user.delete\",\"name\":\"alice\"}]}", &err), 0);
	state_of(f->s[0], &a);
	state_of(f->s[1], &b);
	assert_true(a.version == 4 && b.version == 4);
	assert_string_not_equal(a.chain, b.chain);
	assert_string_not_equal(a.digest, b.digest);
	buf_release(&err);
}

static void test_snapshot(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct store_replica_state a, c;
	assert_int_equal(deliver(f->s[0], B_USER, &err), 0);
	assert_int_equal(deliver(f->s[0], B_ACL, &err), 0);
	assert_int_equal(deliver(f->s[0], B_ALARM, &err), 0);
	/* s2 has rows of its own, some the snapshot lacks */
	assert_int_equal(deliver(f->s[2], B_BOB, &err), 0);
	assert_int_equal(deliver(f->s[2], "{\"v\":1,\"time\":9,\"ops\":[{\"op\":\"alarm.put\",\"name\":\"q\",\"def\":\"{}\"}]}", &err), 0);
	char *snap = store_replica_export(f->s[0]);
	assert_non_null(snap);
	buf_reset(&err);
	assert_int_equal(store_replica_import(f->s[2], snap, &err), 0);
	state_of(f->s[0], &a);
	state_of(f->s[2], &c);
	assert_true(c.version == 3);
	assert_string_equal(a.chain, c.chain);
	assert_string_equal(a.digest, c.digest);
	struct user_record u;
	assert_int_equal(store_user_get(f->s[2], "bob", &u), -ENOENT);
	/* after the import the next batch chains on identically */
	assert_int_equal(deliver(f->s[0], B_BOB, &err), 0);
	assert_int_equal(deliver(f->s[2], B_BOB, &err), 0);
	state_of(f->s[0], &a);
	state_of(f->s[2], &c);
	assert_string_equal(a.chain, c.chain);

	/* a snapshot that does not add up changes nothing */
	char *bad = xstrdup(snap);
	char *d = strstr(bad, "\"digest\":\"");
	assert_non_null(d);
	d[10] = d[10] == 'a' ? 'b' : 'a';
	buf_reset(&err);
	assert_int_equal(store_replica_import(f->s[2], bad, &err), -EBADMSG);
	assert_non_null(strstr(err.s, "digest"));
	state_of(f->s[2], &c);
	assert_true(c.version == 4);
	buf_reset(&err);
	assert_int_equal(store_replica_import(f->s[2], "{\"tables\":{}}", &err), -EBADMSG);
	free(bad);
	free(snap);

	assert_int_equal(store_replica_forget(f->s[2]), 0);
	state_of(f->s[2], &c);
	assert_true(c.version == 0);
	assert_int_equal(store_user_get(f->s[2], "bob", &u), 0); /* the rows stay */
	user_record_release(&u);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scope),
		cmocka_unit_test_setup_teardown(test_same_batches_same_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ha_resources, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ha_compare_and_set, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
