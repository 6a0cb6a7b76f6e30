/*
 * test_store_batch.c - the configuration's one choke point (src/core/
 * store_apply.c and the op handlers) on real database files: the rules the
 * apply enforces (vm names, volume existence and ownership, generations,
 * used volumes), batches that are all or nothing, malformed ops refused
 * without a trace, the same batches giving the same state on two stores
 * (what pool replication relies on), times taken from the batch, and the
 * submit hook.
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
#include <sqlite3.h>
#include <cmocka.h>

#include "core/store.h"
#include "core/store_local.h"
#include "core/vmdef.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/common.h"

#define U1 "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a"
#define U2 "11111111-2222-4333-8444-555555555555"
#define U3 "22222222-2222-4333-8444-555555555555"

struct fixture {
	char dir[64];
	char *path, *path2;
	struct store *s, *s2; /* s2: a second "host" for the replication tests */
};

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct buf err = BUF_INIT;

	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-batch-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state.db", f->dir);
	f->path2 = xasprintf("%s/other.db", f->dir);
	if (!(f->s = store_open(f->path, &err)) || !(f->s2 = store_open(f->path2, &err))) {
		fprintf(stderr, "store_open: %s\n", err.s);
		return -1;
	}
	buf_release(&err);
	log_set_level(LOG_LVL_ERROR + 1); /* refusals are the point here; keep the output clean */
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	log_set_level(LOG_LVL_INFO);
	store_close(f->s);
	store_close(f->s2);
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	int r = system(rm);
	free(rm);
	free(f->path);
	free(f->path2);
	free(f);
	return r == 0 ? 0 : -1;
}

/* A definition; disks is a JSON array text like "[{\"volume\":\"a\"}]". */
static struct vm_def *mkdef(const char *name, const char *uuid, const char *disks)
{
	struct buf err = BUF_INIT;
	__do_free char *text = xasprintf("{\"name\":\"%s\",\"uuid\":\"%s\",\"disks\":%s,"
					 "\"nic\":{\"mac\":\"52:54:00:00:00:01\"}}",
					 name, uuid, disks ? disks : "[]");
	__do_json json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	struct vm_def *d = vmdef_from_json(j, &err);
	if (!d)
		fail_msg("bad test definition: %s", err.s);
	buf_release(&err);
	return d;
}

static void add_vol(struct store *s, const char *name)
{
	__do_free char *path = xasprintf("/pool/%s.qcow2", name);
	assert_int_equal(store_vol_insert(s, name, "qcow2", path), 0);
}

/* Commit one vm.put and return its result, the sentence in *msg (caller frees). */
static int put(struct store *s, const struct vm_def *d, int64_t gen, char **msg)
{
	struct buf err = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_vm_put(b, d, gen);
	int r = store_batch_commit(s, b, &err);
	store_batch_free(b);
	*msg = buf_detach(&err);
	return r;
}

/* Every configuration row of the database at `path`, as text, in a fixed order. */
static char *config_dump(const char *path)
{
	static const char *const queries[] = {
		"SELECT uuid, name, def, generation, host, created, current_snapshot FROM vms ORDER BY uuid",
		"SELECT * FROM volumes ORDER BY name",
		"SELECT * FROM pools ORDER BY name",
		"SELECT * FROM snapshots ORDER BY vm, name",
		"SELECT * FROM repos ORDER BY path",
		"SELECT * FROM policies ORDER BY name",
	};
	struct buf out = BUF_INIT;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (size_t q = 0; q < ARRAY_SIZE(queries); q++) {
		sqlite3_stmt *st;
		assert_int_equal(sqlite3_prepare_v2(db, queries[q], -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const char *v = (const char *)sqlite3_column_text(st, i);
				buf_printf(&out, "%s|", v ? v : "NULL");
			}
			buf_addch(&out, '\n');
		}
		sqlite3_finalize(st);
		buf_adds(&out, "--\n");
	}
	sqlite3_close(db);
	return buf_detach(&out);
}

/* ---- vm.put rules ---- */

static void test_vm_put_rules(void **state)
{
	struct fixture *f = *state;
	char *msg;
	add_vol(f->s, "a-root");
	add_vol(f->s, "shared");
	struct vm_def *a = mkdef("alpha", U1, "[{\"volume\":\"a-root\"},{\"volume\":\"shared\"}]");
	struct vm_def *b = mkdef("bravo", U2, "[{\"volume\":\"shared\"}]");
	struct vm_def *b_missing = mkdef("bravo", U2, "[{\"volume\":\"nowhere\"}]");
	struct vm_def *b_as_alpha = mkdef("alpha", U2, "[]");

	assert_int_equal(put(f->s, a, STORE_GEN_NEW, &msg), 0);
	free(msg);
	/* a volume used by another VM */
	assert_int_equal(put(f->s, b, STORE_GEN_NEW, &msg), -EBUSY);
	assert_string_equal(msg, "volume 'shared' is already used by vm 'alpha'");
	free(msg);
	/* a volume that does not exist */
	assert_int_equal(put(f->s, b_missing, STORE_GEN_NEW, &msg), -ENOENT);
	assert_contains(msg, "volume 'nowhere' does not exist");
	free(msg);
	/* a name another VM has */
	assert_int_equal(put(f->s, b_as_alpha, STORE_GEN_NEW, &msg), -EEXIST);
	assert_string_equal(msg, "a vm named 'alpha' already exists");
	free(msg);
	/* a uuid another VM has, when creating */
	assert_int_equal(put(f->s, a, STORE_GEN_NEW, &msg), -EEXIST);
	assert_contains(msg, U1);
	free(msg);
	/* replacing a VM that does not exist */
	assert_int_equal(put(f->s, b, STORE_GEN_ANY, &msg), -ENOENT);
	free(msg);
	struct vm_record *list;
	size_t n;
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 1);
	store_vm_list_free(list, n);

	/* once alpha lets go of the volume, bravo may take it */
	struct vm_def *a2 = mkdef("alpha", U1, "[{\"volume\":\"a-root\"}]");
	assert_int_equal(put(f->s, a2, STORE_GEN_ANY, &msg), 0);
	free(msg);
	char *owner = NULL, *owner_name = NULL;
	assert_int_equal(store_vol_owner(f->s, "shared", &owner, &owner_name), 0);
	assert_null(owner);
	assert_null(owner_name);
	assert_int_equal(put(f->s, b, STORE_GEN_NEW, &msg), 0);
	free(msg);
	assert_int_equal(store_vol_owner(f->s, "shared", &owner, &owner_name), 0);
	assert_string_equal(owner, U2);
	assert_string_equal(owner_name, "bravo");
	free(owner);
	free(owner_name);
	assert_int_equal(store_vol_owner(f->s, "nowhere", &owner, NULL), -ENOENT);

	/* a rename shows in the owner's name at once (a join, not a copy) */
	struct vm_def *b2 = mkdef("bravo2", U2, "[{\"volume\":\"shared\"}]");
	assert_int_equal(put(f->s, b2, STORE_GEN_ANY, &msg), 0);
	free(msg);
	struct vol_record *vols;
	assert_int_equal(store_vol_list(f->s, &vols, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(vols[0].name, "a-root");
	assert_string_equal(vols[0].vm, U1);
	assert_string_equal(vols[0].vm_name, "alpha");
	assert_string_equal(vols[1].vm_name, "bravo2");
	store_vol_list_free(vols, n);

	vmdef_free(a);
	vmdef_free(a2);
	vmdef_free(b);
	vmdef_free(b2);
	vmdef_free(b_missing);
	vmdef_free(b_as_alpha);
}

static void test_generations(void **state)
{
	struct fixture *f = *state;
	struct vm_record r = { 0 };
	char *msg;
	struct vm_def *a = mkdef("alpha", U1, NULL);

	assert_int_equal(put(f->s, a, STORE_GEN_NEW, &msg), 0);
	free(msg);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.generation, 1);
	vm_record_release(&r);

	/* an edit based on generation 1 goes through and makes it 2 */
	a->cpus = 2;
	assert_int_equal(put(f->s, a, 1, &msg), 0);
	free(msg);
	/* a second edit still based on generation 1 is stale: nothing changes */
	a->cpus = 3;
	assert_int_equal(put(f->s, a, 1, &msg), -ESTALE);
	assert_contains(msg, "vm 'alpha' changed since it was read");
	free(msg);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.generation, 2);
	assert_int_equal(r.def->cpus, 2);
	vm_record_release(&r);

	/* moving to another host is a change too */
	struct buf err = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_vm_host(b, U1, "host-b", 2);
	assert_int_equal(store_batch_commit(f->s, b, &err), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_string_equal(r.host, "host-b");
	assert_int_equal(r.generation, 3);
	vm_record_release(&r);
	/* a vm.put keeps the host */
	assert_int_equal(put(f->s, a, STORE_GEN_ANY, &msg), 0);
	free(msg);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_string_equal(r.host, "host-b");
	assert_int_equal(r.generation, 4);
	vm_record_release(&r);

	/* deleting at a stale generation is refused too */
	store_batch_free(b);
	b = store_batch_new();
	store_batch_vm_delete(b, U1, 3);
	assert_int_equal(store_batch_commit(f->s, b, &err), -ESTALE);
	store_batch_free(b);
	b = store_batch_new();
	store_batch_vm_delete(b, U1, 4);
	assert_int_equal(store_batch_commit(f->s, b, &err), 0);
	store_batch_free(b);
	assert_int_equal(store_vm_get(f->s, U1, &r), -ENOENT);
	buf_release(&err);
	vmdef_free(a);
}

/* Deleting a VM frees its volumes and takes its snapshots and runtime state along. */
static void test_vm_delete_cascade(void **state)
{
	struct fixture *f = *state;
	add_vol(f->s, "a-root");
	struct vm_def *a = mkdef("alpha", U1, "[{\"volume\":\"a-root\"}]");
	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_set_state(f->s, U1, VM_CRASHED, "boom"), 0);
	struct snap_record sr = { .vm = U1, .name = "s1", .def = "{}", .state = "ready" };
	assert_int_equal(store_snap_insert(f->s, &sr), 0);
	assert_int_equal(store_snap_current_set(f->s, U1, "s1"), 0);

	/* a used volume cannot go */
	struct buf err = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_vol_delete(b, "a-root");
	assert_int_equal(store_batch_commit(f->s, b, &err), -EBUSY);
	assert_string_equal(err.s, "volume 'a-root' is used by vm 'alpha'");
	store_batch_free(b);
	assert_int_equal(store_vol_delete(f->s, "a-root"), -EBUSY);

	assert_int_equal(store_vm_delete(f->s, U1), 0);
	char *owner = (char *)"x";
	assert_int_equal(store_vol_owner(f->s, "a-root", &owner, NULL), 0);
	assert_null(owner);
	struct snap_record *snaps;
	size_t n;
	assert_int_equal(store_snap_list(f->s, U1, &snaps, &n), 0);
	assert_int_equal(n, 0);
	store_snap_list_free(snaps, n);
	/* a VM by the same uuid starts afresh: no state, no snapshots */
	assert_int_equal(store_vm_insert(f->s, a), 0);
	struct vm_record r = { 0 };
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.state, VM_STOPPED);
	assert_string_equal(r.reason, "created");
	vm_record_release(&r);
	/* and only now is the volume free to delete */
	assert_int_equal(store_vm_delete(f->s, U1), 0);
	assert_int_equal(store_vol_delete(f->s, "a-root"), 0);
	buf_release(&err);
	vmdef_free(a);
}

/* ---- batches ---- */

/* A failing op in the middle undoes the ones before it. */
static void test_batch_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct vol_record v1 = { .name = "web-root", .format = "qcow2", .path = "/pool/web-root.qcow2" };
	struct vol_record v2 = { .name = "web-data", .format = "raw", .path = "/pool/web-data.raw" };
	struct vm_def *d = mkdef("web", U1, "[{\"volume\":\"web-root\"},{\"volume\":\"web-data\"}]");
	struct vm_def *clash = mkdef("web", U2, "[]");
	__do_free char *before = config_dump(f->path);

	struct store_batch *b = store_batch_new();
	store_batch_vol_add(b, &v1);
	store_batch_vol_add(b, &v2);
	store_batch_vm_put(b, d, STORE_GEN_NEW);
	store_batch_pool_add(b, "fast", "/srv/fast", false);
	store_batch_vm_put(b, clash, STORE_GEN_NEW); /* refused: the name was taken two ops ago */
	store_batch_snap_add(b, &(struct snap_record){ .vm = U1, .name = "s", .def = "{}", .state = "ready" });
	assert_int_equal(store_batch_size(b), 6);
	assert_int_equal(store_batch_commit(f->s, b, &err), -EEXIST);
	assert_string_equal(err.s, "a vm named 'web' already exists");
	__do_free char *after = config_dump(f->path);
	assert_string_equal(before, after);

	/* without the clash the same batch applies whole, each op seeing the ones before */
	store_batch_free(b);
	b = store_batch_new();
	store_batch_vol_add(b, &v1);
	store_batch_vol_add(b, &v2);
	store_batch_vm_put(b, d, STORE_GEN_NEW);
	store_batch_pool_add(b, "fast", "/srv/fast", false);
	store_batch_snap_add(b, &(struct snap_record){ .vm = U1, .name = "s", .def = "{}", .state = "ready" });
	store_batch_snap_current(b, U1, "s");
	buf_reset(&err);
	assert_int_equal(store_batch_commit(f->s, b, &err), 0);
	store_batch_free(b);
	char *owner;
	assert_int_equal(store_vol_owner(f->s, "web-data", &owner, NULL), 0);
	assert_string_equal(owner, U1);
	free(owner);
	assert_int_equal(store_snap_current_get(f->s, U1, &owner), 0);
	assert_string_equal(owner, "s");
	free(owner);

	/* an empty batch changes nothing and succeeds */
	b = store_batch_new();
	assert_int_equal(store_batch_commit(f->s, b, &err), 0);
	store_batch_free(b);
	buf_release(&err);
	vmdef_free(d);
	vmdef_free(clash);
}

/* Every malformed batch or op is refused with a sentence, and leaves no trace. */
static void test_malformed(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		/* envelopes */
		"[]",
		"{}",
		"{\"v\":1,\"time\":5}",
		"{\"v\":2,\"time\":5,\"ops\":[]}",
		"{\"v\":\"1\",\"time\":5,\"ops\":[]}",
		"{\"v\":1,\"time\":\"now\",\"ops\":[]}",
		"{\"v\":1,\"time\":5,\"ops\":{}}",
		/* ops */
		"{\"v\":1,\"time\":5,\"ops\":[null]}",
		"{\"v\":1,\"time\":5,\"ops\":[42]}",
		"{\"v\":1,\"time\":5,\"ops\":[{}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":7}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.explode\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"def\":\"x\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"def\":{\"name\":\"../x\",\"uuid\":\"" U1 "\"}}]}",
		/* a definition without its uuid or MAC would be completed differently on each host */
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"gen\":0,\"def\":{\"name\":\"a\",\"nic\":null}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"gen\":0,\"def\":{\"name\":\"a\",\"uuid\":\"" U1 "\"}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"gen\":\"1\",\"def\":{\"name\":\"a\",\"uuid\":\"" U1
		"\",\"nic\":null}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"gen\":-3,\"def\":{\"name\":\"a\",\"uuid\":\"" U1
		"\",\"nic\":null}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.put\",\"gen\":0,\"host\":5,\"def\":{\"name\":\"a\",\"uuid\":\"" U1
		"\",\"nic\":null}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.host\",\"uuid\":\"" U1 "\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vm.delete\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.add\",\"format\":\"raw\",\"path\":\"/p\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.add\",\"name\":1,\"format\":\"raw\",\"path\":\"/p\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.add\",\"name\":\"v\",\"format\":\"raw\",\"path\":\"/p\","
		"\"readonly\":\"yes\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.add\",\"name\":\"v\",\"format\":\"raw\",\"path\":\"/p\","
		"\"colour\":\"red\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.add\",\"name\":\"v\\u0000x\",\"format\":\"raw\",\"path\":\"/p\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"vol.delete\",\"name\":null}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"pool.add\",\"name\":\"p\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"repo.add\",\"path\":\"/r\",\"repo_id\":[]}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"policy.put\",\"name\":\"p\",\"def\":\"not json\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"policy.put\",\"name\":\"p\",\"def\":{}}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"snap.add\",\"name\":\"s\",\"def\":\"{}\",\"state\":\"ready\"}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"snap.add\",\"vm\":\"" U1 "\",\"name\":\"s\",\"def\":\"{}\","
		"\"state\":\"ready\",\"created\":1.5}]}",
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"snap.current\",\"vm\":\"" U1 "\"}]}",
		/* a good op first, then a malformed one: the good one is undone */
		"{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"pool.add\",\"name\":\"p\",\"path\":\"/srv/p\"},{\"op\":\"pool.add\"}]}",
	};
	struct vm_def *d = mkdef("alpha", U1, NULL);
	assert_int_equal(store_vm_insert(f->s, d), 0);
	__do_free char *before = config_dump(f->path);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct buf err = BUF_INIT;
		json_error_t je;
		__do_json json_t *batch = json_loads(bad[i], JSON_ALLOW_NUL, &je);
		if (!batch)
			fail_msg("test batch %zu is not JSON: %s", i, je.text);
		int r = store_apply(f->s, batch, &err);
		if (r != -EINVAL && r != -EPROTO)
			fail_msg("batch %zu: %s: got %d (%s)", i, bad[i], r, err.s);
		if (err.len == 0)
			fail_msg("batch %zu was refused without a sentence", i);
		buf_release(&err);
	}
	__do_free char *after = config_dump(f->path);
	assert_string_equal(before, after);
	vmdef_free(d);
}

/* ---- replication: the same batches, the same state ---- */

struct recorder {
	struct store *other; /* the second host, applying what the first applies */
	json_t *seen;        /* every batch submitted */
	bool refuse;
};

static int replicate(struct store *s, const json_t *batch, struct buf *err, void *opaque)
{
	struct recorder *rec = opaque;
	json_array_append(rec->seen, (json_t *)batch);
	if (rec->refuse) {
		buf_adds(err, "the pool has no quorum");
		return -EAGAIN;
	}
	/* delivery in one order: every host applies it, the submitter included */
	struct buf other_err = BUF_INIT;
	int r2 = store_apply(rec->other, batch, &other_err);
	int r = store_apply(s, batch, err);
	assert_int_equal(r, r2); /* and they agree on refusals too */
	buf_release(&other_err);
	return r;
}

static void test_replicated_apply(void **state)
{
	struct fixture *f = *state;
	struct recorder rec = { .other = f->s2, .seen = json_array() };
	store_set_submit(f->s, replicate, &rec);

	/* the usual one-change calls go through the hook as well */
	add_vol(f->s, "a-root");
	add_vol(f->s, "b-root");
	struct vm_def *a = mkdef("alpha", U1, "[{\"volume\":\"a-root\"}]");
	struct vm_def *b = mkdef("bravo", U2, "[{\"volume\":\"a-root\"}]");
	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_insert(f->s, b), -EBUSY);
	assert_int_equal(store_pool_insert(f->s, "fast", "/srv/fast", true), 0);
	struct repo_record repo = { .path = "/srv/backup", .repo_id = "r1" };
	assert_int_equal(store_repo_insert(f->s, &repo), 0);
	assert_int_equal(store_policy_put(f->s, "nightly", "{\"select\":[\"*\"]}", 100), 0);
	struct snap_record sr = { .vm = U1, .name = "s1", .def = "{}", .state = "creating" };
	assert_int_equal(store_snap_insert(f->s, &sr), 0);
	assert_int_equal(store_snap_set_state(f->s, U1, "s1", "ready"), 0);
	assert_int_equal(store_snap_current_set(f->s, U1, "s1"), 0);
	struct vol_record ro = { .name = "b-root", .format = "qcow2", .path = "/pool/b-root.qcow2", .readonly = true };
	assert_int_equal(store_vol_update(f->s, &ro), 0);
	assert_true(json_array_size(rec.seen) >= 10);

	__do_free char *one = config_dump(f->path);
	__do_free char *two = config_dump(f->path2);
	assert_string_equal(one, two);

	/* host-local state does not travel: the policy's next run is this host's */
	struct policy_record p = { 0 };
	assert_int_equal(store_policy_get(f->s, "nightly", &p), 0);
	assert_int_equal(p.next_run, 100);
	policy_record_release(&p);
	assert_int_equal(store_policy_get(f->s2, "nightly", &p), 0);
	assert_int_equal(p.next_run, 0);
	policy_record_release(&p);

	/* a hook that refuses: the error comes back and nothing is applied */
	rec.refuse = true;
	struct buf err = BUF_INIT;
	struct store_batch *bt = store_batch_new();
	store_batch_pool_delete(bt, "fast");
	assert_int_equal(store_batch_commit(f->s, bt, &err), -EAGAIN);
	assert_string_equal(err.s, "the pool has no quorum");
	store_batch_free(bt);
	struct pool_record pr = { 0 };
	assert_int_equal(store_pool_get(f->s, "fast", &pr), 0);
	pool_record_release(&pr);

	/* back to applying here only */
	store_set_submit(f->s, NULL, NULL);
	assert_int_equal(store_pool_delete(f->s, "fast"), 0);
	assert_int_equal(store_pool_get(f->s2, "fast", &pr), 0);
	pool_record_release(&pr);

	/* the recorded batches replayed on a third store give the same state again */
	__do_free char *p3 = xasprintf("%s/third.db", f->dir);
	struct store *s3 = store_open(p3, &err);
	assert_non_null(s3);
	json_t *batch;
	size_t i;
	json_array_foreach(rec.seen, i, batch) {
		if (i + 1 < json_array_size(rec.seen)) /* the last one was refused by the hook */
			store_apply(s3, batch, &err);
	}
	store_close(s3);
	__do_free char *three = config_dump(p3);
	assert_string_equal(two, three);

	buf_release(&err);
	json_decref(rec.seen);
	vmdef_free(a);
	vmdef_free(b);
}

/* Stored times are the batch's, never the applying host's clock. */
static void test_times_from_batch(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	__do_json json_t *batch = json_pack(
		"{s:i,s:I,s:[{s:s,s:s,s:s,s:s},{s:s,s:{s:s,s:s,s:n,s:[{s:s}]},s:i},{s:s,s:s,s:s},{s:s,s:s,s:s,s:s,s:s}]}",
		"v", 1, "time", (json_int_t)1234567, "ops",
		"op", "vol.add", "name", "v", "format", "raw", "path", "/p/v.raw",
		"op", "vm.put", "def", "name", "alpha", "uuid", U1, "nic", "disks", "volume", "v", "gen", 0,
		"op", "pool.add", "name", "p", "path", "/p",
		"op", "snap.add", "vm", U1, "name", "s", "def", "{}", "state", "ready");
	assert_non_null(batch);
	assert_int_equal(store_apply(f->s, batch, &err), 0);
	struct vol_record v = { 0 };
	assert_int_equal(store_vol_get(f->s, "v", &v), 0);
	assert_int_equal(v.created_ms, 1234567);
	assert_string_equal(v.vm_name, "alpha");
	vol_record_release(&v);
	struct vm_record r = { 0 };
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.since_ms, 1234567); /* never ran here: since its creation */
	vm_record_release(&r);
	struct pool_record p = { 0 };
	assert_int_equal(store_pool_get(f->s, "p", &p), 0);
	assert_int_equal(p.created_ms, 1234567);
	pool_record_release(&p);
	struct snap_record s = { 0 };
	assert_int_equal(store_snap_get(f->s, U1, "s", &s), 0);
	assert_int_equal(s.created_ms, 1234567);
	snap_record_release(&s);
	buf_release(&err);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_vm_put_rules),	    T(test_generations),	  T(test_vm_delete_cascade),
		T(test_batch_all_or_nothing), T(test_malformed),		  T(test_replicated_apply),
		T(test_times_from_batch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
