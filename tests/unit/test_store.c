/*
 * test_store.c - corrald's SQLite state (src/core/store*.c) on a real
 * database file in a fresh temporary directory per test: schema creation
 * and versioning, VMs (and rows whose definition no longer validates),
 * volumes, events and jobs, persistence across reopening, strings that
 * would break naive SQL stored verbatim, pruning the history, and 1,000
 * VMs and volumes (timings printed, not asserted).  The batch rules are in
 * test_store_batch.c, migrations in test_store_migrate.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <cmocka.h>

#include "core/store.h"
#include "core/store_local.h"
#include "core/vmdef.h"
#include "util/buf.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

struct fixture {
	char dir[64];
	char *path;
	struct store *s;
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

	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state.db", f->dir);
	f->s = store_open(f->path, &err);
	if (!f->s) {
		fprintf(stderr, "store_open: %s\n", err.s);
		return -1;
	}
	buf_release(&err);
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

static void reopen(struct fixture *f)
{
	struct buf err = BUF_INIT;
	store_close(f->s);
	f->s = store_open(f->path, &err);
	if (!f->s)
		fail_msg("reopen: %s", err.s);
	buf_release(&err);
}

static struct vm_def *def_from(const char *text)
{
	struct buf err = BUF_INIT;
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	struct vm_def *d = vmdef_from_json(j, &err);
	json_decref(j);
	if (!d)
		fail_msg("bad test definition: %s", err.s);
	buf_release(&err);
	return d;
}

static struct vm_def *simple_def(const char *name, const char *uuid)
{
	char text[256];
	snprintf(text, sizeof(text), "{\"name\":\"%s\",\"uuid\":\"%s\",\"nic\":{\"mac\":\"52:54:00:00:00:01\"}}", name,
		 uuid);
	return def_from(text);
}

static void assert_def_equal(const struct vm_def *a, const struct vm_def *b)
{
	__do_json json_t *ja = vmdef_to_json(a);
	__do_json json_t *jb = vmdef_to_json(b);
	if (!json_equal(ja, jb)) {
		__do_free char *sa = json_to_string(ja);
		__do_free char *sb = json_to_string(jb);
		fail_msg("definitions differ:\n  %s\n  %s", sa, sb);
	}
}

static int sql_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#define U1 "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a"
#define U2 "11111111-2222-4333-8444-555555555555"
#define U3 "22222222-2222-4333-8444-555555555555"

/* ---- open ---- */

static void test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(access(f->path, F_OK), 0);
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
					  "('vms','volumes','pools','snapshots','repos','policies',"
					  "'vm_runtime','events','jobs','policy_runs')"),
			 10);
	/* WAL is persistent: a fresh connection sees it */
	assert_int_equal(sql_int(f->path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

	/* reopening an existing database keeps it (no re-creation, no error) */
	struct vm_def *d = simple_def("keep", U1);
	assert_int_equal(store_vm_insert(f->s, d), 0);
	assert_int_equal(store_vol_insert(f->s, "vol1", "qcow2", "/var/lib/corral/storage/vol1.qcow2"), 0);
	assert_int_equal(store_event_add(f->s, U1, "created", "by test"), 0);
	int64_t job = store_job_create(f->s, "import", "vol1", U1);
	assert_true(job > 0);
	reopen(f);
	reopen(f);

	struct vm_record r = { 0 };
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_def_equal(d, r.def);
	vm_record_release(&r);
	struct vol_record v = { 0 };
	assert_int_equal(store_vol_get(f->s, "vol1", &v), 0);
	vol_record_release(&v);
	__do_json json_t *ev = store_event_list(f->s, U1, 10);
	assert_int_equal(json_array_size(ev), 1);
	__do_json json_t *jb = store_job_get(f->s, job);
	assert_non_null(jb);
	/* ids keep growing after a reopen */
	assert_true(store_job_create(f->s, "import", "vol2", NULL) > job);
	vmdef_free(d);
}

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;

	/* directory missing */
	__do_free char *missing = xasprintf("%s/no/such/dir/state.db", f->dir);
	assert_null(store_open(missing, &err));
	assert_contains(err.s, missing);

	/* a file that is not a database */
	__do_free char *junk = xasprintf("%s/junk.db", f->dir);
	FILE *fp = fopen(junk, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database at all\n", fp);
	fclose(fp);
	buf_reset(&err);
	assert_null(store_open(junk, &err));
	assert_contains(err.s, junk);
	buf_release(&err);
}

static void test_open_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	__do_free char *p = xasprintf("%s/future.db", f->dir);
	sqlite3 *db;

	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE vms(x); PRAGMA user_version=99;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	struct store *s = store_open(p, &err);
	if (s) {
		store_close(s);
		fail_msg("a database with schema version 99 was opened");
	}
	/* says which file, which version, and that this corrald is too old */
	assert_contains(err.s, p);
	assert_contains(err.s, "99");
	assert_contains(err.s, "newer");
	/* and leaves it alone */
	assert_int_equal(sql_int(p, "PRAGMA user_version"), 99);
	buf_release(&err);
}

/* ---- VMs ---- */

static void test_vm_crud(void **state)
{
	struct fixture *f = *state;
	struct vm_def *a = def_from("{\"name\":\"alpha\",\"uuid\":\"" U1 "\",\"cpus\":2,\"memory_mib\":512,"
				    "\"tags\":[\"prod\"],\"disks\":[{\"volume\":\"alpha-root\"}],"
				    "\"vnc\":{\"listen\":\"127.0.0.1\",\"display\":2},\"nic\":{\"mac\":\"52:54:00:aa:bb:cc\"}}");
	struct vm_def *c = simple_def("charlie", U2);
	struct vm_def *b = simple_def("bravo", U3);
	struct vm_record r = { 0 };

	/* a definition may only use volumes that exist */
	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_vm_insert(f->s, a), -ENOENT);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(store_vol_insert(f->s, "alpha-root", "qcow2", "/p/alpha-root.qcow2"), 0);

	int64_t before = time_wall_ms();
	assert_int_equal(store_vm_insert(f->s, c), 0);
	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_insert(f->s, b), 0);
	int64_t after = time_wall_ms();

	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_def_equal(a, r.def);
	assert_int_equal(r.state, VM_STOPPED);
	assert_non_null(r.reason);
	assert_true(r.since_ms >= before && r.since_ms <= after);
	assert_int_equal(r.generation, 1);
	assert_null(r.host);
	assert_null(r.invalid);
	vm_record_release(&r);
	assert_null(r.def);

	assert_int_equal(store_vm_get(f->s, "99999999-2222-4333-8444-555555555555", &r), -ENOENT);
	/* lookups are by uuid, not name */
	assert_int_equal(store_vm_get(f->s, "alpha", &r), -ENOENT);

	/* list: ordered by name */
	struct vm_record *list = NULL;
	size_t n = 99;
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].def->name, "alpha");
	assert_string_equal(list[1].def->name, "bravo");
	assert_string_equal(list[2].def->name, "charlie");
	assert_def_equal(a, list[0].def);
	assert_int_equal(list[2].state, VM_STOPPED);
	store_vm_list_free(list, n);

	/* update: new definition under the same uuid, rename allowed */
	struct vm_def *a2 = def_from("{\"name\":\"zulu\",\"uuid\":\"" U1 "\",\"cpus\":8,\"nic\":null}");
	assert_int_equal(store_vm_update_def(f->s, a2), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_def_equal(a2, r.def);
	assert_string_equal(r.def->name, "zulu");
	assert_int_equal(r.generation, 2);
	vm_record_release(&r);
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(list[2].def->name, "zulu");
	store_vm_list_free(list, n);

	/* update of a VM that does not exist */
	struct vm_def *ghost = simple_def("ghost", "99999999-2222-4333-8444-555555555555");
	assert_int_equal(store_vm_update_def(f->s, ghost), -ENOENT);
	assert_int_equal(store_vm_set_state(f->s, ghost->uuid, VM_RUNNING, "x"), -ENOENT);

	/* delete */
	assert_int_equal(store_vm_delete(f->s, U2), 0);
	assert_int_equal(store_vm_get(f->s, U2, &r), -ENOENT);
	assert_int_equal(store_vm_delete(f->s, U2), -ENOENT);
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 2);
	store_vm_list_free(list, n);

	/* the name of a deleted VM can be reused */
	struct vm_def *c2 = simple_def("charlie", "44444444-2222-4333-8444-555555555555");
	assert_int_equal(store_vm_insert(f->s, c2), 0);

	/* an empty store lists nothing */
	assert_int_equal(store_vm_delete(f->s, U1), 0);
	assert_int_equal(store_vm_delete(f->s, U3), 0);
	assert_int_equal(store_vm_delete(f->s, c2->uuid), 0);
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 0);
	store_vm_list_free(list, n);

	vmdef_free(a);
	vmdef_free(a2);
	vmdef_free(b);
	vmdef_free(c);
	vmdef_free(c2);
	vmdef_free(ghost);
}

static void test_vm_list_many(void **state)
{
	struct fixture *f = *state;
	/* more rows than the list's first allocation */
	for (int i = 0; i < 40; i++) {
		char name[16], uuid[40];
		snprintf(name, sizeof(name), "vm%02d", 39 - i);
		snprintf(uuid, sizeof(uuid), "%08x-2222-4333-8444-555555555555", i);
		struct vm_def *d = simple_def(name, uuid);
		assert_int_equal(store_vm_insert(f->s, d), 0);
		vmdef_free(d);
	}
	struct vm_record *list = NULL;
	size_t n = 0;
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 40);
	for (size_t i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "vm%02zu", i);
		assert_string_equal(list[i].def->name, name);
	}
	store_vm_list_free(list, n);
}

static void test_vm_duplicates(void **state)
{
	struct fixture *f = *state;
	struct vm_def *a = simple_def("alpha", U1);
	struct vm_def *same_name = simple_def("alpha", U2);
	struct vm_def *same_uuid = simple_def("beta", U1);
	struct vm_def *b = simple_def("beta", U3);
	struct vm_record r = { 0 };

	log_set_level(LOG_LVL_ERROR + 1); /* the clashes are logged by the store */
	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_insert(f->s, same_name), -EEXIST);
	assert_int_equal(store_vm_insert(f->s, same_uuid), -EEXIST);
	assert_int_equal(store_vm_insert(f->s, a), -EEXIST);
	/* the failed inserts left nothing behind */
	assert_int_equal(store_vm_get(f->s, U2, &r), -ENOENT);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_string_equal(r.def->name, "alpha");
	vm_record_release(&r);

	/* renaming onto a taken name */
	assert_int_equal(store_vm_insert(f->s, b), 0);
	struct vm_def *b_renamed = simple_def("alpha", U3);
	assert_int_equal(store_vm_update_def(f->s, b_renamed), -EEXIST);
	assert_int_equal(store_vm_get(f->s, U3, &r), 0);
	assert_string_equal(r.def->name, "beta");
	vm_record_release(&r);
	log_set_level(LOG_LVL_INFO);

	vmdef_free(a);
	vmdef_free(same_name);
	vmdef_free(same_uuid);
	vmdef_free(b);
	vmdef_free(b_renamed);
}

static void test_vm_state(void **state)
{
	struct fixture *f = *state;
	struct vm_def *a = simple_def("alpha", U1);
	struct vm_def *b = simple_def("beta", U2);
	struct vm_record r = { 0 };

	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_insert(f->s, b), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	int64_t created = r.since_ms;
	vm_record_release(&r);

	time_sleep_ms(5);
	assert_int_equal(store_vm_set_state(f->s, U1, VM_RUNNING, "started by user"), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.state, VM_RUNNING);
	assert_string_equal(r.reason, "started by user");
	assert_true(r.since_ms > created);
	vm_record_release(&r);

	assert_int_equal(store_vm_set_state(f->s, U1, VM_CRASHED, "qemu exited: signal 9 (Killed)"), 0);
	/* the other VM is untouched */
	assert_int_equal(store_vm_get(f->s, U2, &r), 0);
	assert_int_equal(r.state, VM_STOPPED);
	vm_record_release(&r);

	/* persisted */
	reopen(f);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.state, VM_CRASHED);
	assert_string_equal(r.reason, "qemu exited: signal 9 (Killed)");
	vm_record_release(&r);

	/* a definition update keeps the state */
	struct vm_def *a2 = def_from("{\"name\":\"alpha\",\"uuid\":\"" U1 "\",\"cpus\":3}");
	assert_int_equal(store_vm_update_def(f->s, a2), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.state, VM_CRASHED);
	assert_int_equal(r.def->cpus, 3);
	vm_record_release(&r);

	/* NULL reason is stored as empty */
	assert_int_equal(store_vm_set_state(f->s, U1, VM_PAUSED, NULL), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_int_equal(r.state, VM_PAUSED);
	assert_string_equal(r.reason, "");
	vm_record_release(&r);

	/* every state survives the trip */
	for (int s = VM_STOPPED; s <= VM_CRASHED; s++) {
		assert_int_equal(store_vm_set_state(f->s, U2, (enum vm_state)s, vmstate_name((enum vm_state)s)), 0);
		assert_int_equal(store_vm_get(f->s, U2, &r), 0);
		assert_int_equal(r.state, s);
		assert_string_equal(r.reason, vmstate_name((enum vm_state)s));
		vm_record_release(&r);
	}
	vmdef_free(a);
	vmdef_free(a2);
	vmdef_free(b);
}

/* A row an older corrald or a hand edit broke is listed and got, flagged, never dropped. */
static void test_vm_invalid_row(void **state)
{
	struct fixture *f = *state;
	struct vm_def *a = simple_def("alpha", U1);
	struct vm_def *b = simple_def("beta", U2);
	struct vm_def *c = simple_def("gamma", U3);
	assert_int_equal(store_vm_insert(f->s, a), 0);
	assert_int_equal(store_vm_insert(f->s, b), 0);
	assert_int_equal(store_vm_insert(f->s, c), 0);
	assert_int_equal(store_vm_set_state(f->s, U1, VM_RUNNING, "started by user"), 0);

	/* someone edits the database by hand: a definition that no longer validates, one that is not JSON */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE vms SET def='{\"name\":\"../x\"}' WHERE uuid='" U1 "';"
					  "UPDATE vms SET def='not json' WHERE uuid='" U3 "'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	struct vm_record *list = NULL;
	size_t n = 0;
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, 3);
	/* from the row's columns: name, uuid, and the runtime state (its QEMU may run) */
	assert_string_equal(list[0].def->name, "alpha");
	assert_string_equal(list[0].def->uuid, U1);
	assert_int_equal(list[0].state, VM_RUNNING);
	assert_contains(list[0].invalid, "invalid VM name");
	assert_null(list[1].invalid);
	assert_string_equal(list[1].def->name, "beta");
	assert_string_equal(list[2].def->name, "gamma");
	assert_contains(list[2].invalid, "not JSON");
	store_vm_list_free(list, n);

	struct vm_record r = { 0 };
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_contains(r.invalid, "invalid VM name");
	assert_string_equal(r.def->name, "alpha");
	assert_int_equal(r.def->ndisks, 0);
	assert_int_equal(r.generation, 1);
	/* the placeholder cannot be written back over the stored text */
	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_vm_update_def(f->s, r.def), -EINVAL);
	log_set_level(LOG_LVL_INFO);
	vm_record_release(&r);
	assert_int_equal(sql_int(f->path, "SELECT def = '{\"name\":\"../x\"}' FROM vms WHERE uuid='" U1 "'"), 1);

	/* a full definition repairs it */
	assert_int_equal(store_vm_update_def(f->s, a), 0);
	assert_int_equal(store_vm_get(f->s, U1, &r), 0);
	assert_null(r.invalid);
	assert_def_equal(a, r.def);
	assert_int_equal(r.generation, 2);
	vm_record_release(&r);
	vmdef_free(a);
	vmdef_free(b);
	vmdef_free(c);
}

/* ---- events ---- */

static void test_events(void **state)
{
	struct fixture *f = *state;
	char type[16], detail[32];

	int64_t before = time_wall_ms();
	for (int i = 0; i < 30; i++) {
		snprintf(type, sizeof(type), "t%02d", i);
		snprintf(detail, sizeof(detail), "detail %d", i);
		assert_int_equal(store_event_add(f->s, U1, type, detail), 0);
		if (i % 10 == 0)
			assert_int_equal(store_event_add(f->s, U2, "other", NULL), 0);
	}

	/* oldest first */
	__do_json json_t *all = store_event_list(f->s, U1, 100);
	assert_int_equal(json_array_size(all), 30);
	for (int i = 0; i < 30; i++) {
		json_t *e = json_array_get(all, (size_t)i);
		snprintf(type, sizeof(type), "t%02d", i);
		snprintf(detail, sizeof(detail), "detail %d", i);
		assert_string_equal(json_string_value(json_object_get(e, "type")), type);
		assert_string_equal(json_string_value(json_object_get(e, "detail")), detail);
		assert_int_equal(json_object_size(e), 4); /* time, type, detail, actor */
		assert_true(json_is_null(json_object_get(e, "actor")));
	}

	/* the limit keeps the newest, still oldest first */
	__do_json json_t *last = store_event_list(f->s, U1, 20);
	assert_int_equal(json_array_size(last), 20);
	assert_string_equal(json_string_value(json_object_get(json_array_get(last, 0), "type")), "t10");
	assert_string_equal(json_string_value(json_object_get(json_array_get(last, 19), "type")), "t29");
	__do_json json_t *one = store_event_list(f->s, U1, 1);
	assert_int_equal(json_array_size(one), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(one, 0), "type")), "t29");

	/* per VM; NULL detail becomes "" */
	__do_json json_t *other = store_event_list(f->s, U2, 100);
	assert_int_equal(json_array_size(other), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(other, 0), "detail")), "");
	__do_json json_t *none = store_event_list(f->s, U3, 100);
	assert_non_null(none);
	assert_int_equal(json_array_size(none), 0);

	/* time is RFC 3339 UTC with milliseconds, and recent */
	const char *t = json_string_value(json_object_get(json_array_get(all, 0), "time"));
	assert_non_null(t);
	assert_int_equal(strlen(t), 24);
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[23], 'Z');
	char want_prefix[40];
	time_fmt_rfc3339(before, want_prefix, sizeof(want_prefix));
	assert_memory_equal(t, want_prefix, 10); /* same day (or the test straddled midnight) */

	/* events outlive a reopen */
	reopen(f);
	__do_json json_t *again = store_event_list(f->s, U1, 100);
	assert_true(json_equal(all, again));
}

/* ---- volumes ---- */

static void test_volumes(void **state)
{
	struct fixture *f = *state;
	struct vol_record v = { 0 };

	int64_t before = time_wall_ms();
	assert_int_equal(store_vol_insert(f->s, "web1-root", "qcow2", "/var/lib/corral/storage/web1-root.qcow2"), 0);
	assert_int_equal(store_vol_insert(f->s, "a-data", "raw", "/var/lib/corral/storage/a-data.raw"), 0);
	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_vol_insert(f->s, "web1-root", "raw", "/elsewhere"), -EEXIST);
	log_set_level(LOG_LVL_INFO);

	assert_int_equal(store_vol_get(f->s, "web1-root", &v), 0);
	assert_string_equal(v.name, "web1-root");
	assert_string_equal(v.format, "qcow2");
	assert_string_equal(v.path, "/var/lib/corral/storage/web1-root.qcow2");
	assert_true(v.created_ms >= before && v.created_ms <= time_wall_ms());
	vol_record_release(&v);
	assert_null(v.name);
	assert_int_equal(store_vol_get(f->s, "nope", &v), -ENOENT);

	struct vol_record *list = NULL;
	size_t n = 0;
	assert_int_equal(store_vol_list(f->s, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "a-data");
	assert_string_equal(list[1].name, "web1-root");
	store_vol_list_free(list, n);

	assert_int_equal(store_vol_delete(f->s, "a-data"), 0);
	assert_int_equal(store_vol_delete(f->s, "a-data"), -ENOENT);
	assert_int_equal(store_vol_get(f->s, "a-data", &v), -ENOENT);

	/* many volumes */
	for (int i = 0; i < 20; i++) {
		char name[16];
		snprintf(name, sizeof(name), "v%02d", i);
		assert_int_equal(store_vol_insert(f->s, name, "qcow2", "/p"), 0);
	}
	reopen(f);
	assert_int_equal(store_vol_list(f->s, &list, &n), 0);
	assert_int_equal(n, 21);
	assert_string_equal(list[0].name, "v00");
	assert_string_equal(list[20].name, "web1-root");
	store_vol_list_free(list, n);
}

/* ---- jobs ---- */

static void test_jobs(void **state)
{
	struct fixture *f = *state;

	int64_t j1 = store_job_create(f->s, "import", "debian.qcow2", U1);
	int64_t j2 = store_job_create(f->s, "resize", "web1-root", U2);
	int64_t j3 = store_job_create(f->s, "import", "host-wide", NULL);
	assert_true(j1 > 0);
	assert_true(j2 > j1);
	assert_true(j3 > j2);

	__do_json json_t *g = store_job_get(f->s, j1);
	assert_non_null(g);
	assert_int_equal(json_integer_value(json_object_get(g, "id")), j1);
	assert_string_equal(json_string_value(json_object_get(g, "type")), "import");
	assert_string_equal(json_string_value(json_object_get(g, "target")), "debian.qcow2");
	assert_string_equal(json_string_value(json_object_get(g, "state")), "running");
	assert_true(json_number_value(json_object_get(g, "progress")) == 0.0);
	assert_true(json_is_null(json_object_get(g, "rate")));
	assert_true(json_is_null(json_object_get(g, "eta")));
	assert_true(json_is_null(json_object_get(g, "error")));
	assert_true(json_is_null(json_object_get(g, "finished")));
	assert_true(json_is_string(json_object_get(g, "started")));
	/* exactly the fields docs/api.md lists for a job */
	static const char *const fields[] = { "id",	"type",	  "target", "state",	  "progress",
					      "rate",	"eta",	  "error",  "started",	  "finished",
					      "vm",	"parent", "phase",  "cancelling", "cancellable", "actor" };
	assert_int_equal(json_object_size(g), ARRAY_SIZE(fields));
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
		if (!json_object_get(g, fields[i]))
			fail_msg("job lacks '%s'", fields[i]);

	/* progress */
	assert_int_equal(store_job_progress(f->s, j1, 42.5, 1048576.0, 30), 0);
	__do_json json_t *p = store_job_get(f->s, j1);
	assert_true(json_number_value(json_object_get(p, "progress")) == 42.5);
	assert_true(json_number_value(json_object_get(p, "rate")) == 1048576.0);
	assert_int_equal(json_integer_value(json_object_get(p, "eta")), 30);
	/* unknown eta */
	assert_int_equal(store_job_progress(f->s, j1, 50.0, 1.0, -1), 0);
	__do_json json_t *p2 = store_job_get(f->s, j1);
	assert_true(json_is_null(json_object_get(p2, "eta")));

	/* success: 100 %, finished set, eta cleared */
	assert_int_equal(store_job_finish(f->s, j1, "succeeded", NULL), 0);
	__do_json json_t *done = store_job_get(f->s, j1);
	assert_string_equal(json_string_value(json_object_get(done, "state")), "succeeded");
	assert_true(json_number_value(json_object_get(done, "progress")) == 100.0);
	assert_true(json_is_string(json_object_get(done, "finished")));
	assert_true(json_is_null(json_object_get(done, "eta")));
	assert_true(json_is_null(json_object_get(done, "error")));

	/* failure keeps its progress and carries the error */
	assert_int_equal(store_job_progress(f->s, j2, 12.0, 0.0, 99), 0);
	assert_int_equal(store_job_finish(f->s, j2, "failed", "qemu-img: No space left on device"), 0);
	__do_json json_t *bad = store_job_get(f->s, j2);
	assert_string_equal(json_string_value(json_object_get(bad, "state")), "failed");
	assert_true(json_number_value(json_object_get(bad, "progress")) == 12.0);
	assert_string_equal(json_string_value(json_object_get(bad, "error")), "qemu-img: No space left on device");

	/* missing jobs */
	assert_null(store_job_get(f->s, 9999));
	assert_int_equal(store_job_progress(f->s, 9999, 1, 1, 1), -ENOENT);
	assert_int_equal(store_job_finish(f->s, 9999, "failed", "x"), -ENOENT);

	/* list: newest first; by VM or all; limited */
	__do_json json_t *all = store_job_list(f->s, NULL, 50);
	assert_int_equal(json_array_size(all), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 0), "id")), j3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(all, 2), "id")), j1);
	__do_json json_t *mine = store_job_list(f->s, U2, 50);
	assert_int_equal(json_array_size(mine), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(mine, 0), "id")), j2);
	__do_json json_t *lim = store_job_list(f->s, NULL, 2);
	assert_int_equal(json_array_size(lim), 2);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(lim, 1), "id")), j2);
	__do_json json_t *nobody = store_job_list(f->s, U3, 50);
	assert_int_equal(json_array_size(nobody), 0);

	/* a result summary is kept with the job and shows up as "result" */
	__do_json json_t *sum = json_pack("{s:i,s:[{s:s}]}", "bytes_new", 4096, "vms", "name", "web1");
	assert_int_equal(store_job_set_result(f->s, j3, sum), 0);
	__do_json json_t *withres = store_job_get(f->s, j3);
	assert_true(json_equal(json_object_get(withres, "result"), sum));
	assert_int_equal(store_job_set_result(f->s, 9999, sum), -ENOENT);
}

/* Repositories: the first is the default; deleting the default promotes another. */
static void test_repos(void **state)
{
	struct fixture *f = *state;
	struct repo_record a = { .path = (char *)"/srv/a", .repo_id = (char *)"id-a" };
	struct repo_record b = { .path = (char *)"/srv/b", .repo_id = (char *)"id-b", .encrypted = true,
				 .keyfile = (char *)"/k/b.key", .passfile = (char *)"/k/b.pass" };
	struct repo_record g = { 0 };
	struct repo_record *list;
	size_t n;

	assert_int_equal(store_repo_get_default(f->s, &g), -ENOENT);
	assert_int_equal(store_repo_insert(f->s, &a), 0);
	assert_int_equal(store_repo_insert(f->s, &b), 0);
	assert_int_equal(store_repo_insert(f->s, &a), -EEXIST);
	assert_int_equal(store_repo_get_default(f->s, &g), 0);
	assert_string_equal(g.path, "/srv/a");
	repo_record_release(&g);
	assert_int_equal(store_repo_get(f->s, "/srv/b", &g), 0);
	assert_true(g.encrypted);
	assert_false(g.is_default);
	assert_string_equal(g.keyfile, "/k/b.key");
	assert_string_equal(g.passfile, "/k/b.pass");
	repo_record_release(&g);
	assert_int_equal(store_repo_set_default(f->s, "/srv/b"), 0);
	assert_int_equal(store_repo_set_default(f->s, "/srv/none"), -ENOENT);
	assert_int_equal(store_repo_list(f->s, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_false(list[0].is_default);
	assert_true(list[1].is_default);
	store_repo_list_free(list, n);
	assert_int_equal(store_repo_delete(f->s, "/srv/b"), 0);
	assert_int_equal(store_repo_get_default(f->s, &g), 0);
	assert_string_equal(g.path, "/srv/a");
	repo_record_release(&g);
	assert_int_equal(store_repo_delete(f->s, "/srv/b"), -ENOENT);
}

static void test_policies(void **state)
{
	struct fixture *f = *state;
	struct policy_record p = { 0 };
	struct policy_record *list;
	size_t n;

	assert_int_equal(store_policy_put(f->s, "nightly", "{\"select\":[\"*\"]}", 100), 0);
	assert_int_equal(store_policy_set_runs(f->s, "nightly", 50, 200), 0);
	/* a new definition keeps last_run and takes the new next_run */
	assert_int_equal(store_policy_put(f->s, "nightly", "{\"select\":[\"web*\"]}", 300), 0);
	assert_int_equal(store_policy_put(f->s, "hourly", "{}", 0), 0);
	assert_int_equal(store_policy_get(f->s, "nightly", &p), 0);
	assert_string_equal(p.def, "{\"select\":[\"web*\"]}");
	assert_int_equal(p.last_run, 50);
	assert_int_equal(p.next_run, 300);
	policy_record_release(&p);
	assert_int_equal(store_policy_list(f->s, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "hourly");
	store_policy_list_free(list, n);
	assert_int_equal(store_policy_delete(f->s, "hourly"), 0);
	assert_int_equal(store_policy_get(f->s, "hourly", &p), -ENOENT);
	assert_int_equal(store_policy_set_runs(f->s, "hourly", 1, 2), -ENOENT);
}

/* One-op net batches, as the service layer commits them. */
static int net_op(struct store *s, bool del, const char *name, const char *def, bool create, struct buf *err)
{
	struct store_batch *b = store_batch_new();
	if (del)
		store_batch_net_delete(b, name);
	else
		store_batch_net_put(b, name, def, create);
	int r = store_batch_commit(s, b, err);
	store_batch_free(b);
	return r;
}

static void test_networks(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	struct net_record n = { 0 };
	struct net_record *list;
	size_t cnt;
	char *users;

	assert_int_equal(net_op(f->s, false, "lan", "{\"name\":\"lan\"}", true, &err), 0);
	assert_int_equal(net_op(f->s, false, "lan", "{\"name\":\"lan\"}", true, &err), -EEXIST);
	assert_non_null(strstr(err.s, "already exists"));
	buf_reset(&err);
	assert_int_equal(net_op(f->s, false, "dmz", "{}", false, &err), -ENOENT);
	buf_reset(&err);
	assert_int_equal(net_op(f->s, false, "dmz", "[1]", true, &err), -EINVAL);
	buf_reset(&err);
	assert_int_equal(net_op(f->s, false, "lan", "{\"name\":\"lan\",\"x\":1}", false, &err), 0);
	assert_int_equal(store_net_get(f->s, "lan", &n), 0);
	assert_string_equal(n.def, "{\"name\":\"lan\",\"x\":1}");
	net_record_release(&n);

	/* a VM with a NIC on it holds the network; an older "nic" (user mode) does not */
	struct vm_def *d = def_from("{\"name\":\"web\",\"uuid\":\"" U1 "\",\"nics\":[{\"mode\":\"user\"},"
				    "{\"mode\":\"network\",\"network\":\"lan\"}]}");
	assert_int_equal(store_vm_insert(f->s, d), 0);
	vmdef_free(d);
	assert_int_equal(store_net_users(f->s, "lan", &users), 0);
	assert_string_equal(users, "web");
	free(users);
	assert_int_equal(store_net_users(f->s, "dmz", &users), 0);
	assert_null(users);
	assert_int_equal(net_op(f->s, true, "lan", NULL, false, &err), -EBUSY);
	assert_non_null(strstr(err.s, "used by VM web"));
	buf_reset(&err);
	assert_int_equal(store_vm_delete(f->s, U1), 0);
	assert_int_equal(net_op(f->s, true, "lan", NULL, false, &err), 0);
	assert_int_equal(net_op(f->s, true, "lan", NULL, false, &err), -ENOENT);
	assert_int_equal(store_net_list(f->s, &list, &cnt), 0);
	assert_int_equal(cnt, 0);
	store_net_list_free(list, cnt);
	buf_release(&err);
}

/* Trusted hosts (host-local): unique by name and by fingerprint, found by either. */
static void test_trusted_hosts(void **state)
{
	struct fixture *f = *state;
	struct trusted_host a = { "b1", "https://10.0.0.2:8006", "AA:BB", "PEM-B1", 0 };
	struct trusted_host got = { 0 };
	struct trusted_host *list;
	size_t cnt;

	assert_int_equal(store_trust_get(f->s, "b1", &got), -ENOENT);
	assert_int_equal(store_trust_add(f->s, &a), 0);
	assert_int_equal(store_trust_add(f->s, &a), -EEXIST); /* same name */
	struct trusted_host same_fp = { "b2", "https://10.0.0.3:8006", "AA:BB", "PEM", 0 };
	assert_int_equal(store_trust_add(f->s, &same_fp), -EEXIST);
	struct trusted_host other = { "a0", "https://[::1]:8006", "CC:DD", "PEM-A0", 0 };
	assert_int_equal(store_trust_add(f->s, &other), 0);
	assert_int_equal(store_trust_get(f->s, "b1", &got), 0);
	assert_string_equal(got.url, "https://10.0.0.2:8006");
	assert_string_equal(got.cert, "PEM-B1");
	assert_true(got.added_ms > 0);
	trusted_host_release(&got);
	assert_int_equal(store_trust_find(f->s, "CC:DD", &got), 0);
	assert_string_equal(got.name, "a0");
	trusted_host_release(&got);
	assert_int_equal(store_trust_find(f->s, "EE:FF", &got), -ENOENT);
	assert_int_equal(store_trust_list(f->s, &list, &cnt), 0);
	assert_int_equal(cnt, 2);
	assert_string_equal(list[0].name, "a0"); /* by name */
	store_trust_list_free(list, cnt);
	assert_int_equal(store_trust_delete(f->s, "b1"), 0);
	assert_int_equal(store_trust_delete(f->s, "b1"), -ENOENT);
	assert_int_equal(store_trust_find(f->s, "AA:BB", &got), -ENOENT);
	trusted_host_release(NULL);
}

static void test_jobs_fail_stale(void **state)
{
	struct fixture *f = *state;
	int64_t a = store_job_create(f->s, "import", "a", U1);
	int64_t b = store_job_create(f->s, "import", "b", U1);
	int64_t c = store_job_create(f->s, "import", "c", NULL);
	assert_int_equal(store_job_progress(f->s, b, 70.0, 5.0, 10), 0);
	assert_int_equal(store_job_finish(f->s, a, "succeeded", NULL), 0);
	__do_json json_t *a_before = store_job_get(f->s, a);

	/* the daemon dies and comes back */
	reopen(f);
	assert_int_equal(store_job_fail_stale(f->s, "corrald restarted while the job ran"), 0);

	__do_json json_t *ja = store_job_get(f->s, a);
	__do_json json_t *jb = store_job_get(f->s, b);
	__do_json json_t *jc = store_job_get(f->s, c);
	assert_true(json_equal(a_before, ja)); /* finished jobs untouched */
	assert_string_equal(json_string_value(json_object_get(jb, "state")), "failed");
	assert_string_equal(json_string_value(json_object_get(jb, "error")), "corrald restarted while the job ran");
	assert_true(json_is_string(json_object_get(jb, "finished")));
	assert_true(json_number_value(json_object_get(jb, "progress")) == 70.0);
	assert_string_equal(json_string_value(json_object_get(jc, "state")), "failed");

	/* nothing left running: still success */
	assert_int_equal(store_job_fail_stale(f->s, "again"), 0);
	__do_json json_t *jb2 = store_job_get(f->s, b);
	assert_string_equal(json_string_value(json_object_get(jb2, "error")), "corrald restarted while the job ran");
}

/* ---- hostile strings ---- */

static void test_hostile_strings(void **state)
{
	struct fixture *f = *state;
	static const char *const evil[] = {
		"'); DROP TABLE vms; --",
		"\" OR \"1\"=\"1",
		"Robert'); DELETE FROM jobs WHERE ('1'='1",
		"\xe2\x98\x83 snow, \xf0\x9f\x90\xb3 whale, \xc3\xa9t\xc3\xa9",
		"back\\slash and %s %n %d",
		"tab\tnewline\nnul-free",
		"",
	};
	struct vm_record r = { 0 };

	for (size_t i = 0; i < ARRAY_SIZE(evil); i++) {
		char uuid[64], name[32];
		snprintf(uuid, sizeof(uuid), "%08zx-2222-4333-8444-555555555555", i);
		snprintf(name, sizeof(name), "vm%zu", i);
		struct vm_def *d = simple_def(name, uuid);
		/* a description may not hold control characters; everything else goes */
		if (!strchr(evil[i], '\t')) {
			free(d->description);
			d->description = xstrdup(evil[i]);
		}
		assert_int_equal(store_vm_insert(f->s, d), 0);
		assert_int_equal(store_vm_set_state(f->s, uuid, VM_CRASHED, evil[i]), 0);
		assert_int_equal(store_event_add(f->s, uuid, evil[i], evil[i]), 0);
		assert_int_equal(store_vol_insert(f->s, evil[i], evil[i], evil[i]), 0);
		int64_t job = store_job_create(f->s, evil[i], evil[i], uuid);
		assert_true(job > 0);
		assert_int_equal(store_job_finish(f->s, job, "failed", evil[i]), 0);

		assert_int_equal(store_vm_get(f->s, uuid, &r), 0);
		assert_def_equal(d, r.def);
		assert_string_equal(r.reason, evil[i]);
		vm_record_release(&r);

		__do_json json_t *ev = store_event_list(f->s, uuid, 10);
		assert_int_equal(json_array_size(ev), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "type")), evil[i]);
		assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "detail")), evil[i]);

		struct vol_record v = { 0 };
		assert_int_equal(store_vol_get(f->s, evil[i], &v), 0);
		assert_string_equal(v.name, evil[i]);
		assert_string_equal(v.format, evil[i]);
		assert_string_equal(v.path, evil[i]);
		vol_record_release(&v);

		__do_json json_t *jb = store_job_get(f->s, job);
		assert_string_equal(json_string_value(json_object_get(jb, "type")), evil[i]);
		assert_string_equal(json_string_value(json_object_get(jb, "target")), evil[i]);
		assert_string_equal(json_string_value(json_object_get(jb, "error")), evil[i]);
		vmdef_free(d);
	}
	/* the tables are all still there */
	struct vm_record *list = NULL;
	size_t n = 0;
	assert_int_equal(store_vm_list(f->s, &list, &n), 0);
	assert_int_equal(n, ARRAY_SIZE(evil));
	store_vm_list_free(list, n);
	__do_json json_t *jobs = store_job_list(f->s, NULL, 100);
	assert_int_equal(json_array_size(jobs), ARRAY_SIZE(evil));
}

/* ---- threads ---- */

struct worker {
	struct store *s;
	int id;
};

static void *worker_main(void *opaque)
{
	struct worker *w = opaque;
	char detail[32];
	for (int i = 0; i < 50; i++) {
		snprintf(detail, sizeof(detail), "w%d-%d", w->id, i);
		if (store_event_add(w->s, U1, "tick", detail) != 0)
			return (void *)1;
		if (i % 10 == 0) {
			int64_t job = store_job_create(w->s, "t", detail, U1);
			if (job <= 0 || store_job_finish(w->s, job, "succeeded", NULL) != 0)
				return (void *)1;
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ f->s, i };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *ret;
		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	__do_json json_t *ev = store_event_list(f->s, U1, 1000);
	assert_int_equal(json_array_size(ev), 200);
	__do_json json_t *jobs = store_job_list(f->s, U1, 1000);
	assert_int_equal(json_array_size(jobs), 20);
}

/* ---- retention ---- */

/* Run `sql` on the database at path (a second connection, as another process would). */
static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void test_prune(void **state)
{
	struct fixture *f = *state;
	int64_t now = time_wall_ms(), old = now - 100LL * 86400 * 1000;
	__do_free char *fill = xasprintf(
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
		/* 5 events of a VM from 100 days ago, then 1500 of U1, 10 of U2, 1200 of the host */
		"INSERT INTO events(time, vm, type, detail) SELECT %" PRId64 ", '" U3 "', 'old', i FROM n WHERE i <= 5;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
		"INSERT INTO events(time, vm, type, detail) SELECT %" PRId64 ", '" U1 "', 'tick', i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) "
		"INSERT INTO events(time, vm, type, detail) SELECT %" PRId64 ", '" U2 "', 'tick', i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
		"INSERT INTO events(time, vm, type, detail) SELECT %" PRId64 ", NULL, 'host', i FROM n;"
		/* 3 jobs still running since long ago, 5 finished long ago, 1500 finished lately */
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
		"INSERT INTO jobs(type, target, state, started) SELECT 'backup', i, 'running', %" PRId64 " FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) "
		"INSERT INTO jobs(type, target, state, started, finished) SELECT 'old', i, 'succeeded', %" PRId64
		", %" PRId64 " FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
		"INSERT INTO jobs(type, target, state, started, finished) SELECT 'start', i, 'succeeded', %" PRId64
		", %" PRId64 " FROM n;",
		old, now, now, now, old, old, old, now, now);
	sql_exec(f->path, fill);

	struct store_retention keep_all = { 0, 0, 0 };
	assert_int_equal(store_prune(f->s, &keep_all, now), 0);

	struct store_retention r = STORE_RETENTION_INIT;
	assert_int_equal(r.events, 1000);
	assert_int_equal(r.jobs, 1000);
	assert_int_equal(r.days, 90);
	assert_int_equal(store_prune(f->s, &r, now), 5 + 500 + 200 + 5 + 500);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM events WHERE vm='" U1 "'"), 1000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM events WHERE vm='" U2 "'"), 10);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM events WHERE vm IS NULL"), 1000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM events WHERE vm='" U3 "'"), 0);
	/* the newest are the ones kept */
	__do_json json_t *last = store_event_list(f->s, U1, 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(last, 0), "detail")), "1500");
	__do_json json_t *first = store_event_list(f->s, U1, 1000);
	assert_string_equal(json_string_value(json_object_get(json_array_get(first, 0), "detail")), "501");
	/* running jobs stay, however old */
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs WHERE state='running'"), 3);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs WHERE finished IS NOT NULL"), 1000);
	assert_int_equal(sql_int(f->path, "SELECT min(CAST(target AS INTEGER)) FROM jobs WHERE type='start'"), 501);

	/* nothing more to do the second time */
	assert_int_equal(store_prune(f->s, &r, now), 0);
	/* a stricter age limit */
	struct store_retention day = { 0, 0, 1 };
	assert_int_equal(store_prune(f->s, &day, now + 2LL * 86400 * 1000), 1000 + 10 + 1000 + 1000);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM jobs"), 3);
}

/* ---- scale ---- */

static double ms_since(int64_t t0_us)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 - t0_us) / 1000.0;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * 1,000 VMs each using one of 1,000 volumes: listing VMs and volumes (with
 * owners) stays one query each.  The timings are printed for the record
 * (docs/state.md), never asserted: the machine is shared.
 */
static void test_scale_1000(void **state)
{
	struct fixture *f = *state;
	enum { N = 1000, ROUNDS = 5 };
	struct store_batch *b = store_batch_new();
	struct buf err = BUF_INIT;
	double best_vm = 1e9, best_vol = 1e9, t;

	for (int i = 0; i < N; i++) {
		char name[32], vol[32], uuid[40];
		snprintf(name, sizeof(name), "vm%04d", i);
		snprintf(vol, sizeof(vol), "vm%04d-root", i);
		snprintf(uuid, sizeof(uuid), "%08x-2222-4333-8444-555555555555", i);
		__do_free char *path = xasprintf("/var/lib/corral/storage/%s.qcow2", vol);
		struct vol_record v = { .name = vol, .format = "qcow2", .path = path };
		store_batch_vol_add(b, &v);
		__do_free char *text = xasprintf("{\"name\":\"%s\",\"uuid\":\"%s\",\"cpus\":2,\"memory_mib\":1024,"
						 "\"tags\":[\"web\",\"prod\"],\"disks\":[{\"volume\":\"%s\"}],"
						 "\"nic\":{\"mac\":\"52:54:00:00:%02x:%02x\"}}",
						 name, uuid, vol, i / 256, i % 256);
		struct vm_def *d = def_from(text);
		store_batch_vm_put(b, d, STORE_GEN_NEW);
		vmdef_free(d);
	}
	int64_t t0 = now_us();
	assert_int_equal(store_batch_commit(f->s, b, &err), 0);
	double commit = ms_since(t0);
	store_batch_free(b);

	for (int round = 0; round < ROUNDS; round++) {
		struct vm_record *vms;
		struct vol_record *vols;
		size_t n;
		t0 = now_us();
		assert_int_equal(store_vm_list(f->s, &vms, &n), 0);
		t = ms_since(t0);
		best_vm = t < best_vm ? t : best_vm;
		assert_int_equal(n, N);
		assert_null(vms[N - 1].invalid);
		store_vm_list_free(vms, n);
		t0 = now_us();
		assert_int_equal(store_vol_list(f->s, &vols, &n), 0);
		t = ms_since(t0);
		best_vol = t < best_vol ? t : best_vol;
		assert_int_equal(n, N);
		assert_string_equal(vols[N - 1].vm_name, "vm0999");
		store_vol_list_free(vols, n);
	}
	t0 = now_us();
	for (int i = 0; i < N; i++) {
		char vol[32], *owner;
		snprintf(vol, sizeof(vol), "vm%04d-root", i);
		assert_int_equal(store_vol_owner(f->s, vol, NULL, &owner), 0);
		free(owner);
	}
	double owners = ms_since(t0);
	/* one more VM: the rules are checked against 1,000 others and their volumes */
	struct vm_def *extra = simple_def("extra", U1);
	t0 = now_us();
	assert_int_equal(store_vm_insert(f->s, extra), 0);
	double one = ms_since(t0);
	vmdef_free(extra);
	print_message("1000 VMs + 1000 volumes: one batch of 2000 ops %.1f ms; vm_list %.1f ms; vol_list (owners "
		      "joined) %.1f ms; 1000 x vol_owner %.1f ms; one vm insert %.1f ms\n",
		      commit, best_vm, best_vol, owners, one);

	/* 200 events per VM and 20,000 finished jobs: the hourly prune, with work to do and without */
	sql_exec(f->path, "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999) "
			  "INSERT INTO events(time, vm, type, detail) SELECT 1, printf('%08x-2222-4333-8444-555555555555', "
			  "i % 1000), 'tick', '' FROM n;"
			  "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19999) "
			  "INSERT INTO jobs(type, target, state, started, finished) SELECT 'start', i, 'succeeded', 1, 2 FROM n;");
	struct store_retention keep = { 100, 1000, 0 };
	t0 = now_us();
	assert_int_equal(store_prune(f->s, &keep, time_wall_ms()), 100000 + 19000);
	double prune = ms_since(t0);
	t0 = now_us();
	assert_int_equal(store_prune(f->s, &keep, time_wall_ms()), 0);
	print_message("prune: 200,000 events and 20,000 jobs down to 100 per VM and 1000 jobs %.1f ms; "
		      "again with nothing to delete %.1f ms\n",
		      prune, ms_since(t0));
	buf_release(&err);
}

/* This host's cluster membership: one row, replaced, deleted (store_cluster.c). */
static void test_cluster_row(void **state)
{
	struct fixture *f = *state;
	char *def = NULL, *self = NULL;

	assert_int_equal(store_cluster_get(f->s, &def, &self), -ENOENT);
	assert_int_equal(store_cluster_delete(f->s), 0); /* none: fine */
	assert_int_equal(store_cluster_put(f->s, "lab", "h1", "{\"name\":\"lab\",\"config_version\":1}"), 0);
	assert_int_equal(store_cluster_put(f->s, "lab", "h1", "{\"name\":\"lab\",\"config_version\":2}"), 0);
	assert_int_equal(store_cluster_get(f->s, &def, &self), 0);
	assert_string_equal(self, "h1");
	assert_non_null(strstr(def, "\"config_version\":2"));
	free(def);
	free(self);
	assert_int_equal(store_cluster_delete(f->s), 0);
	assert_int_equal(store_cluster_get(f->s, &def, &self), -ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates_schema),
		T(test_open_errors),
		T(test_open_newer_schema),
		T(test_vm_crud),
		T(test_vm_list_many),
		T(test_vm_duplicates),
		T(test_vm_state),
		T(test_vm_invalid_row),
		T(test_events),
		T(test_volumes),
		T(test_jobs),
		T(test_jobs_fail_stale),
		T(test_repos),
		T(test_policies),
		T(test_networks),
		T(test_trusted_hosts),
		T(test_cluster_row),
		T(test_hostile_strings),
		T(test_threads),
		T(test_prune),
		T(test_scale_1000),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
