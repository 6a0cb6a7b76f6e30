/*
 * test_store_migrate.c - state.db files written by older corrald versions
 * open in this one and keep every row (src/core/store_schema.c).
 *
 * The old layouts are written here from the schema SQL those versions
 * shipped (copied, not shared with the code under test: they are what sits
 * on disk), filled with the rows a real host holds: VMs with their state,
 * a definition that no longer validates, volumes (two VMs naming the same
 * one), pools, a snapshot tree and an orphaned snapshot, repositories,
 * policies with run times, jobs and events.
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
#include "util/buf.h"
#include "util/log.h"
#include "util/common.h"

#define UWEB "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a"
#define UDB "11111111-2222-4333-8444-555555555555"
#define UBAD "22222222-2222-4333-8444-555555555555"
#define UGONE "33333333-2222-4333-8444-555555555555"

/* The schema of each version as it was shipped (v1: corral 0.1). */
static const char old_v1[] =
	"CREATE TABLE vms (uuid TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, def TEXT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'stopped', reason TEXT NOT NULL DEFAULT '', since INTEGER NOT NULL);"
	"CREATE TABLE volumes (name TEXT PRIMARY KEY, format TEXT NOT NULL, path TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL, vm TEXT, type TEXT NOT NULL,"
	" detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_vm ON events(vm, id);"
	"CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, target TEXT NOT NULL, vm TEXT,"
	" state TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, rate REAL, eta INTEGER, error TEXT,"
	" started INTEGER NOT NULL, finished INTEGER);";
static const char old_v2[] =
	"CREATE TABLE pools (name TEXT PRIMARY KEY, path TEXT NOT NULL UNIQUE, shared INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL);"
	"ALTER TABLE volumes ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';"
	"ALTER TABLE volumes ADD COLUMN backing TEXT;"
	"ALTER TABLE volumes ADD COLUMN readonly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN current_snapshot TEXT;"
	"CREATE TABLE snapshots (vm TEXT NOT NULL, name TEXT NOT NULL, parent TEXT, created INTEGER NOT NULL,"
	" description TEXT NOT NULL DEFAULT '', memory INTEGER NOT NULL, was_running INTEGER NOT NULL,"
	" def TEXT NOT NULL, state TEXT NOT NULL, PRIMARY KEY (vm, name));";
static const char old_v3[] =
	"ALTER TABLE jobs ADD COLUMN result TEXT;"
	"CREATE TABLE repos (path TEXT PRIMARY KEY, repo_id TEXT NOT NULL, encrypted INTEGER NOT NULL DEFAULT 0,"
	" keyfile TEXT, passfile TEXT, is_default INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
	"CREATE TABLE policies (name TEXT PRIMARY KEY, def TEXT NOT NULL, last_run INTEGER, next_run INTEGER,"
	" created INTEGER NOT NULL);";
static const char old_v4[] =
	"ALTER TABLE jobs ADD COLUMN parent INTEGER;"
	"ALTER TABLE jobs ADD COLUMN phase TEXT;"
	"CREATE INDEX jobs_vm ON jobs(vm, id);";

#define DEF(name, uuid, disks)                                                                               \
	"'{\"name\":\"" name "\",\"uuid\":\"" uuid "\",\"disks\":" disks ",\"nic\":{\"mac\":\"52:54:00:00:00:01\"}}'"

/* Rows every version had. */
static const char rows_v1[] =
	"INSERT INTO vms(uuid, name, def, state, reason, since) VALUES"
	" ('" UWEB "', 'web', " DEF("web", UWEB, "[{\"volume\":\"web-root\"},{\"volume\":\"shared\"}]")
	", 'running', 'started by user', 111),"
	" ('" UDB "', 'db', " DEF("db", UDB, "[{\"volume\":\"db-root\"},{\"volume\":\"shared\"}]")
	", 'stopped', 'guest shut down', 222),"
	" ('" UBAD "', 'broken', '{\"name\":\"broken\",\"uuid\":\"" UBAD "\",\"cpus\":9999,\"disks\":[{\"volume\":\"bad-root\"}]}',"
	" 'crashed', 'qemu exited', 333);"
	"INSERT INTO volumes(name, format, path, created) VALUES ('web-root', 'qcow2', '/s/web-root.qcow2', 1),"
	" ('db-root', 'raw', '/s/db-root.raw', 2), ('shared', 'qcow2', '/s/shared.qcow2', 3),"
	" ('bad-root', 'qcow2', '/s/bad-root.qcow2', 4), ('free', 'qcow2', '/s/free.qcow2', 5);"
	"INSERT INTO events(time, vm, type, detail) VALUES (10, '" UWEB "', 'created', 'web'),"
	" (11, '" UWEB "', 'state', 'running'), (12, NULL, 'host', 'started'), (13, '" UGONE "', 'created', 'gone');"
	"INSERT INTO jobs(type, target, vm, state, progress, started, finished) VALUES"
	" ('import', 'debian.qcow2', NULL, 'succeeded', 100, 20, 21), ('start', 'web', '" UWEB "', 'failed', 0, 22, 23);";
/* Rows of the tables v2 added. */
static const char rows_v2[] =
	"INSERT INTO pools VALUES ('default', '/s', 0, 1), ('fast', '/fast', 1, 2);"
	"UPDATE volumes SET pool='fast', backing='web-root' WHERE name='free';"
	"UPDATE volumes SET readonly=1 WHERE name='db-root';"
	"INSERT INTO snapshots VALUES ('" UWEB "', 's1', NULL, 30, 'first', 1, 1, '{}', 'ready'),"
	" ('" UWEB "', 's2', 's1', 31, '', 0, 0, '{}', 'ready'),"
	" ('" UGONE "', 'orphan', NULL, 32, '', 0, 0, '{}', 'ready');"
	"UPDATE vms SET current_snapshot='s2' WHERE uuid='" UWEB "';";
/* Rows of the tables and columns v3 added. */
static const char rows_v3[] =
	"UPDATE jobs SET result='{\"bytes\":42}' WHERE type='import';"
	"INSERT INTO repos VALUES ('/r1', 'id1', 0, NULL, NULL, 1, 40), ('/r2', 'id2', 1, '/k/2.key', '/k/2.pass', 0, 41);"
	"INSERT INTO policies VALUES ('nightly', '{\"select\":[\"*\"]}', 1000, 2000, 50),"
	" ('hourly', '{\"select\":[\"web\"]}', NULL, NULL, 51);";
static const char rows_v4[] = "UPDATE jobs SET parent=1, phase='starting' WHERE type='start';";

struct fixture {
	char dir[64];
	char *path;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-migrate-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->path = xasprintf("%s/state.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char *rm = xasprintf("rm -rf '%s'", f->dir);
	int r = system(rm);
	free(rm);
	free(f->path);
	free(f);
	return r == 0 ? 0 : -1;
}

/* Write a database of schema `version` (1..4) the way that corrald left it, with its rows. */
static void write_old(const char *path, int version)
{
	const char *const schema[] = { old_v1, old_v2, old_v3, old_v4 };
	const char *const rows[] = { rows_v1, rows_v2, rows_v3, rows_v4 };
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (int v = 0; v < version; v++)
		if (sqlite3_exec(db, schema[v], NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("old schema v%d: %s", v + 1, msg);
	for (int v = 0; v < version; v++)
		if (sqlite3_exec(db, rows[v], NULL, NULL, &msg) != SQLITE_OK)
			fail_msg("old rows v%d: %s", v + 1, msg);
	char set[40];
	snprintf(set, sizeof(set), "PRAGMA user_version=%d", version);
	assert_int_equal(sqlite3_exec(db, set, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
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

static void assert_owner(struct store *s, const char *vol, const char *want_name)
{
	char *name = NULL;
	assert_int_equal(store_vol_owner(s, vol, NULL, &name), 0);
	if (!want_name)
		assert_null(name);
	else
		assert_string_equal(name ? name : "(free)", want_name);
	free(name);
}

/* What every version's database keeps: VMs with their state, volumes with owners, events, jobs. */
static void check_v1_rows(struct store *s)
{
	struct vm_record *vms;
	size_t n;
	assert_int_equal(store_vm_list(s, &vms, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(vms[0].def->name, "broken");
	assert_non_null(vms[0].invalid); /* cpus 9999: kept, listed, flagged */
	assert_int_equal(vms[0].state, VM_CRASHED);
	assert_string_equal(vms[0].reason, "qemu exited");
	assert_string_equal(vms[1].def->name, "db");
	assert_null(vms[1].invalid);
	assert_int_equal(vms[1].state, VM_STOPPED);
	assert_string_equal(vms[1].reason, "guest shut down");
	assert_int_equal(vms[1].since_ms, 222);
	assert_string_equal(vms[2].def->name, "web");
	assert_int_equal(vms[2].state, VM_RUNNING);
	assert_int_equal(vms[2].since_ms, 111);
	assert_int_equal(vms[2].generation, 1);
	assert_null(vms[2].host);
	assert_int_equal(vms[2].def->ndisks, 2);
	store_vm_list_free(vms, n);

	/* owners from the definitions; "shared" was named by two VMs: the first by name keeps it */
	assert_owner(s, "web-root", "web");
	assert_owner(s, "db-root", "db");
	assert_owner(s, "shared", "db");
	assert_owner(s, "bad-root", "broken"); /* an invalid definition still holds its disks */
	assert_owner(s, "free", NULL);
	struct vol_record *vols;
	assert_int_equal(store_vol_list(s, &vols, &n), 0);
	assert_int_equal(n, 5);
	store_vol_list_free(vols, n);

	__do_json json_t *ev = store_event_list(s, UWEB, 10);
	assert_int_equal(json_array_size(ev), 2);
	__do_json json_t *host_ev = store_event_list(s, NULL, 10);
	assert_int_equal(json_array_size(host_ev), 1);
	__do_json json_t *all = store_event_recent(s, 10);
	assert_int_equal(json_array_size(all), 4); /* a deleted VM's history stays */
	__do_json json_t *jobs = store_job_list(s, NULL, 10);
	assert_int_equal(json_array_size(jobs), 2);
	__do_json json_t *j1 = store_job_get(s, 1);
	assert_string_equal(json_string_value(json_object_get(j1, "target")), "debian.qcow2");
	assert_string_equal(json_string_value(json_object_get(j1, "state")), "succeeded");
}

static void check_v2_rows(struct store *s)
{
	struct pool_record *pools;
	struct snap_record *snaps;
	size_t n;
	assert_int_equal(store_pool_list(s, &pools, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(pools[1].path, "/fast");
	assert_true(pools[1].shared);
	store_pool_list_free(pools, n);

	struct vol_record v = { 0 };
	assert_int_equal(store_vol_get(s, "free", &v), 0);
	assert_string_equal(v.pool, "fast");
	assert_string_equal(v.backing, "web-root");
	vol_record_release(&v);
	assert_int_equal(store_vol_get(s, "db-root", &v), 0);
	assert_true(v.readonly);
	vol_record_release(&v);

	assert_int_equal(store_snap_list(s, UWEB, &snaps, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(snaps[0].description, "first");
	assert_true(snaps[0].memory);
	assert_string_equal(snaps[1].parent, "s1");
	store_snap_list_free(snaps, n);
	/* the orphan of a VM deleted long ago could not follow (its VM is gone) */
	assert_int_equal(store_snap_list(s, NULL, &snaps, &n), 0);
	assert_int_equal(n, 2);
	store_snap_list_free(snaps, n);
	char *cur;
	assert_int_equal(store_snap_current_get(s, UWEB, &cur), 0);
	assert_string_equal(cur, "s2");
	free(cur);
}

static void check_v3_rows(struct store *s)
{
	struct repo_record r = { 0 };
	assert_int_equal(store_repo_get_default(s, &r), 0);
	assert_string_equal(r.path, "/r1");
	repo_record_release(&r);
	assert_int_equal(store_repo_get(s, "/r2", &r), 0);
	assert_true(r.encrypted);
	assert_string_equal(r.passfile, "/k/2.pass");
	assert_int_equal(r.created_ms, 41);
	repo_record_release(&r);

	struct policy_record p = { 0 };
	assert_int_equal(store_policy_get(s, "nightly", &p), 0);
	assert_string_equal(p.def, "{\"select\":[\"*\"]}");
	assert_int_equal(p.last_run, 1000);
	assert_int_equal(p.next_run, 2000);
	policy_record_release(&p);
	assert_int_equal(store_policy_get(s, "hourly", &p), 0);
	assert_int_equal(p.last_run, 0);
	assert_int_equal(p.next_run, 0);
	policy_record_release(&p);

	__do_json json_t *j1 = store_job_get(s, 1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j1, "result"), "bytes")), 42);
}

static int ct_put(struct store *s, const char *uuid, const char *name, const char *def, bool create)
{
	struct buf err = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_ct_put(b, uuid, name, def, create);
	log_set_level(LOG_LVL_ERROR + 1);
	int r = store_batch_commit(s, b, &err);
	log_set_level(LOG_LVL_INFO);
	store_batch_free(b);
	buf_release(&err);
	return r;
}

/* v16: ct.put keeps volumes.ct in step with a container's "volume" and "mounts". */
static void check_ct_volumes(struct store *s)
{
	static const char U2[] = "22222222-2222-3333-4444-555555555555", U3[] = "33333333-2222-3333-4444-555555555555";
	struct vol_record v = { 0 };
	assert_int_equal(store_vol_insert(s, "c2-root", "dir", "/p/c2-root"), 0);
	assert_int_equal(store_vol_insert(s, "data", "dir", "/p/data"), 0);
	/* a volume that does not exist */
	assert_int_equal(ct_put(s, U2, "c2", "{\"volume\":\"nosuch\"}", true), -ENOENT);
	assert_int_equal(ct_put(s, U2, "c2", "{\"volume\":\"c2-root\",\"mounts\":[{\"volume\":\"data\"}]}", true), 0);
	assert_int_equal(store_vol_get(s, "c2-root", &v), 0);
	assert_string_equal(v.ct, U2);
	assert_string_equal(v.ct_name, "c2");
	assert_null(v.vm);
	vol_record_release(&v);
	assert_int_equal(store_vol_get(s, "data", &v), 0);
	assert_string_equal(v.ct_name, "c2");
	vol_record_release(&v);
	/* used: not deleted, not another container's */
	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_vol_delete(s, "data"), -EBUSY);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(ct_put(s, U3, "c3", "{\"mounts\":[{\"volume\":\"data\"}]}", true), -EBUSY);
	assert_int_equal(ct_put(s, U3, "c3", "{\"mounts\":[{\"volume\":\"c2-root\"}]}", true), -EBUSY);
	/* the mount removed from the definition: its volume is free again, the root stays c2's */
	assert_int_equal(ct_put(s, U2, "c2", "{\"volume\":\"c2-root\"}", false), 0);
	assert_int_equal(store_vol_get(s, "data", &v), 0);
	assert_null(v.ct);
	vol_record_release(&v);
	assert_int_equal(ct_put(s, U3, "c3", "{\"mounts\":[{\"volume\":\"data\"}]}", true), 0);
	/* the container deleted with its root volume in one batch; c3's mount is its own */
	struct buf err = BUF_INIT;
	struct store_batch *b = store_batch_new();
	store_batch_ct_delete(b, U2);
	store_batch_vol_delete(b, "c2-root");
	assert_int_equal(store_batch_commit(s, b, &err), 0);
	store_batch_free(b);
	buf_release(&err);
	assert_int_equal(store_vol_get(s, "c2-root", &v), -ENOENT);
	assert_int_equal(store_vol_get(s, "data", &v), 0);
	assert_string_equal(v.ct_name, "c3");
	vol_record_release(&v);
}

/* After the migration the rules hold: ownership, cascades, runtime writes. */
static void check_works(struct store *s)
{
	assert_int_equal(store_vm_set_state(s, UDB, VM_RUNNING, "started"), 0);
	log_set_level(LOG_LVL_ERROR + 1);
	assert_int_equal(store_vol_delete(s, "shared"), -EBUSY);
	log_set_level(LOG_LVL_INFO);
	assert_int_equal(store_vm_delete(s, UWEB), 0);
	assert_owner(s, "web-root", NULL);
	struct snap_record *snaps;
	size_t n;
	assert_int_equal(store_snap_list(s, UWEB, &snaps, &n), 0);
	assert_int_equal(n, 0);
	store_snap_list_free(snaps, n);
	assert_int_equal(store_vol_delete(s, "web-root"), 0);
	/* v7: networks */
	struct store_batch *b = store_batch_new();
	struct buf err = BUF_INIT;
	struct net_record *nets;
	store_batch_net_put(b, "lan", "{\"name\":\"lan\"}", true);
	assert_int_equal(store_batch_commit(s, b, &err), 0);
	store_batch_free(b);
	buf_release(&err);
	assert_int_equal(store_net_list(s, &nets, &n), 0);
	assert_int_equal(n, 1);
	store_net_list_free(nets, n);
	/* v10: containers, names unique */
	struct ct_record *cts;
	b = store_batch_new();
	store_batch_ct_put(b, "11111111-2222-3333-4444-555555555555", "c1", "{\"name\":\"c1\"}", true);
	assert_int_equal(store_batch_commit(s, b, &err), 0);
	store_batch_free(b);
	b = store_batch_new();
	store_batch_ct_put(b, "11111111-2222-3333-4444-666666666666", "c1", "{\"name\":\"c1\"}", true);
	assert_int_equal(store_batch_commit(s, b, &err), -EEXIST);
	store_batch_free(b);
	buf_release(&err);
	assert_int_equal(store_ct_list(s, &cts, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(cts[0].name, "c1");
	store_ct_list_free(cts, n);
	check_ct_volumes(s);
}

static struct store *open_ok(const char *path)
{
	struct buf err = BUF_INIT;
	log_set_level(LOG_LVL_ERROR); /* the migration warns about "shared" */
	struct store *s = store_open(path, &err);
	log_set_level(LOG_LVL_INFO);
	if (!s)
		fail_msg("store_open: %s", err.s);
	buf_release(&err);
	return s;
}

/* The database a corral with backups (schema v3) left behind. */
static void test_from_v3(void **state)
{
	struct fixture *f = *state;
	write_old(f->path, 3);
	struct store *s = open_ok(f->path);
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'v4_%'"), 0);
	check_v1_rows(s);
	check_v2_rows(s);
	check_v3_rows(s);
	/* reopening does not migrate again or lose anything */
	store_close(s);
	s = open_ok(f->path);
	check_v1_rows(s);
	check_v3_rows(s);
	check_works(s);
	store_close(s);
}

#define UNDO_V8 "ALTER TABLE events DROP COLUMN actor; ALTER TABLE jobs DROP COLUMN actor; "
#define UNDO_V9 "DROP TABLE trusted_hosts; "
/* v10 added the containers table. */
#define UNDO_V10 "DROP TABLE containers; "
/* v11 added the alarm tables. */
#define UNDO_V11 "DROP TABLE alarm_history; DROP TABLE alarm_states; DROP TABLE alarms; "
/* v12 added the alarm notification outbox (dropped first: it refers to alarms). */
#define UNDO_V12 "DROP TABLE alarm_outbox; "
/* v13 added the cluster table. */
#define UNDO_V13 "DROP TABLE cluster; "
/* v14 added the replicated tables' version and chain. */
#define UNDO_V14 "DROP TABLE replica_log; DROP TABLE replica_meta; "
/* v15 added the HA resources. */
#define UNDO_V15 "DROP TABLE ha_resources; "
/* v16 added the containers' volume owner column. */
#define UNDO_V16 "DROP INDEX volumes_ct; ALTER TABLE volumes DROP COLUMN ct; "

/* Every older version, from the first. */
static void test_from_each_version(void **state)
{
	struct fixture *f = *state;
	/* What each version after v4 added, undone to make that version from a v4
	 * database migrated to the current one (write_old() knows v1 to v4). */
	static const char *const undo[] = {
		[5] = "DROP TABLE acls; DROP TABLE tokens; DROP TABLE users; DROP TABLE networks; " UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V8 UNDO_V9 UNDO_V10 UNDO_V11
		      "PRAGMA user_version=5",
		[6] = "DROP TABLE networks; " UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V8 UNDO_V9 UNDO_V10 UNDO_V11 "PRAGMA user_version=6",
		[7] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V8 UNDO_V9 UNDO_V10 UNDO_V11 "PRAGMA user_version=7",
		[8] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V9 UNDO_V10 UNDO_V11 "PRAGMA user_version=8",
		[9] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V10 UNDO_V11 "PRAGMA user_version=9",
		[10] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 UNDO_V11 "PRAGMA user_version=10",
		[11] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 UNDO_V12 "PRAGMA user_version=11",
		[12] = UNDO_V16 UNDO_V15 UNDO_V14 UNDO_V13 "PRAGMA user_version=12",
		[13] = UNDO_V16 UNDO_V15 UNDO_V14 "PRAGMA user_version=13",
		[14] = UNDO_V16 UNDO_V15 "PRAGMA user_version=14",
		[15] = UNDO_V16 "PRAGMA user_version=15",
	};
	for (int v = 1; v < STORE_SCHEMA_VERSION; v++) {
		__do_free char *p = xasprintf("%s/v%d.db", f->dir, v);
		if (v >= 5) {
			assert_true(v < (int)(sizeof(undo) / sizeof(undo[0])) && undo[v]);
			write_old(p, 4);
			store_close(open_ok(p));
			sqlite3 *db;
			assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
			assert_int_equal(sqlite3_exec(db, undo[v], NULL, NULL, NULL), SQLITE_OK);
			sqlite3_close(db);
		} else {
			write_old(p, v);
		}
		struct store *s = open_ok(p);
		assert_int_equal(sql_int(p, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
		check_v1_rows(s);
		if (v >= 2)
			check_v2_rows(s);
		if (v >= 3)
			check_v3_rows(s);
		if (v >= 4) {
			__do_json json_t *j2 = store_job_get(s, 2);
			assert_int_equal(json_integer_value(json_object_get(j2, "parent")), 1);
			assert_string_equal(json_string_value(json_object_get(j2, "phase")), "starting");
		}
		check_works(s);
		store_close(s);
	}
}

/* A migration that cannot finish leaves the file at its old version, untouched. */
static void test_failed_migration_rolls_back(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT;
	write_old(f->path, 4);
	/* a table in the way of the migration */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE vm_runtime(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	log_set_level(LOG_LVL_ERROR + 1);
	assert_null(store_open(f->path, &err));
	log_set_level(LOG_LVL_INFO);
	assert_true(err.len > 0);
	assert_int_equal(sql_int(f->path, "PRAGMA user_version"), 4);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM vms"), 3);
	assert_int_equal(sql_int(f->path, "SELECT count(*) FROM sqlite_master WHERE name='v4_vms'"), 0);
	buf_release(&err);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_from_v3),
		T(test_from_each_version),
		T(test_failed_migration_rolls_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
