/*
 * store_schema.c - the database layout and every migration to it (see
 * docs/state.md, "Schema").
 *
 * A new database goes through the same steps as an old one (v1, then each
 * change), so the path every existing state.db takes is the one every test
 * runs.  Each step is one transaction that also sets PRAGMA user_version:
 * a crash leaves the file at the previous version, never between two.
 * Foreign keys are off while migrating (tables are rebuilt) and checked
 * before the last step commits.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/log.h"
#include "util/common.h"

/* v1: corral 0.1. */
static const char schema_v1[] =
	"CREATE TABLE vms ("
	"  uuid TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  def TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'stopped',"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL);"
	"CREATE TABLE volumes ("
	"  name TEXT PRIMARY KEY,"
	"  format TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  vm TEXT,"
	"  type TEXT NOT NULL,"
	"  detail TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX events_vm ON events(vm, id);"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  type TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  vm TEXT,"
	"  state TEXT NOT NULL,"
	"  progress REAL NOT NULL DEFAULT 0,"
	"  rate REAL,"
	"  eta INTEGER,"
	"  error TEXT,"
	"  started INTEGER NOT NULL,"
	"  finished INTEGER);";

/* v2: storage pools, linked clones and templates, snapshots. */
static const char schema_v2[] =
	"CREATE TABLE pools ("
	"  name TEXT PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE,"
	"  shared INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"ALTER TABLE volumes ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';"
	"ALTER TABLE volumes ADD COLUMN backing TEXT;"
	"ALTER TABLE volumes ADD COLUMN readonly INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN current_snapshot TEXT;"
	"CREATE TABLE snapshots ("
	"  vm TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  parent TEXT,"
	"  created INTEGER NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  memory INTEGER NOT NULL,"
	"  was_running INTEGER NOT NULL,"
	"  def TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  PRIMARY KEY (vm, name));";

/* v3: backup repositories and policies, job results (backup summaries). */
static const char schema_v3[] =
	"ALTER TABLE jobs ADD COLUMN result TEXT;"
	"CREATE TABLE repos ("
	"  path TEXT PRIMARY KEY,"
	"  repo_id TEXT NOT NULL,"
	"  encrypted INTEGER NOT NULL DEFAULT 0,"
	"  keyfile TEXT,"
	"  passfile TEXT,"
	"  is_default INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE policies ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  last_run INTEGER,"
	"  next_run INTEGER,"
	"  created INTEGER NOT NULL);";

/* v4: jobs started by other jobs, and what a job is doing now. */
static const char schema_v4[] =
	"ALTER TABLE jobs ADD COLUMN parent INTEGER;"
	"ALTER TABLE jobs ADD COLUMN phase TEXT;"
	"CREATE INDEX jobs_vm ON jobs(vm, id);";

/*
 * v5: configuration and host-local state apart.  vms loses its runtime
 * columns to vm_runtime and gains generation, host and created; volumes
 * gain their owner `vm`; policies lose their run times to policy_runs;
 * snapshots, vm_runtime and policy_runs hang off their parents by foreign
 * keys; events and jobs get the indexes retention needs.  The owners are
 * filled in by fill_owners() below, from the definitions.
 */
static const char schema_v5[] =
	"ALTER TABLE vms RENAME TO v4_vms;"
	"ALTER TABLE volumes RENAME TO v4_volumes;"
	"ALTER TABLE snapshots RENAME TO v4_snapshots;"
	"ALTER TABLE policies RENAME TO v4_policies;"
	/* configuration */
	"CREATE TABLE vms ("
	"  uuid TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  def TEXT NOT NULL,"
	"  generation INTEGER NOT NULL DEFAULT 1,"
	"  host TEXT,"
	"  created INTEGER NOT NULL,"
	"  current_snapshot TEXT);"
	"CREATE TABLE volumes ("
	"  name TEXT PRIMARY KEY,"
	"  format TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  pool TEXT NOT NULL DEFAULT 'default',"
	"  backing TEXT,"
	"  readonly INTEGER NOT NULL DEFAULT 0,"
	"  vm TEXT REFERENCES vms(uuid) ON DELETE SET NULL);"
	"CREATE INDEX volumes_vm ON volumes(vm);"
	"CREATE TABLE snapshots ("
	"  vm TEXT NOT NULL REFERENCES vms(uuid) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  parent TEXT,"
	"  created INTEGER NOT NULL,"
	"  description TEXT NOT NULL DEFAULT '',"
	"  memory INTEGER NOT NULL,"
	"  was_running INTEGER NOT NULL,"
	"  def TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  PRIMARY KEY (vm, name));"
	"CREATE TABLE policies ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	/* host-local */
	"CREATE TABLE vm_runtime ("
	"  uuid TEXT PRIMARY KEY REFERENCES vms(uuid) ON DELETE CASCADE,"
	"  state TEXT NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  since INTEGER NOT NULL);"
	"CREATE TABLE policy_runs ("
	"  name TEXT PRIMARY KEY REFERENCES policies(name) ON DELETE CASCADE,"
	"  last_run INTEGER NOT NULL DEFAULT 0,"
	"  next_run INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX events_time ON events(time);"
	"CREATE INDEX jobs_finished ON jobs(finished) WHERE finished IS NOT NULL;"
	/* the rows */
	"INSERT INTO vms(uuid, name, def, generation, host, created, current_snapshot)"
	"  SELECT uuid, name, def, 1, NULL, since, current_snapshot FROM v4_vms;"
	"INSERT INTO vm_runtime(uuid, state, reason, since) SELECT uuid, state, reason, since FROM v4_vms;"
	"INSERT INTO volumes(name, format, path, created, pool, backing, readonly)"
	"  SELECT name, format, path, created, pool, backing, readonly FROM v4_volumes;"
	/* snapshots of VMs deleted long ago (corrald removed them at start anyway) cannot follow */
	"INSERT INTO snapshots SELECT * FROM v4_snapshots WHERE vm IN (SELECT uuid FROM vms);"
	"INSERT INTO policies(name, def, created) SELECT name, def, created FROM v4_policies;"
	"INSERT INTO policy_runs(name, last_run, next_run)"
	"  SELECT name, COALESCE(last_run, 0), COALESCE(next_run, 0) FROM v4_policies;"
	"DROP TABLE v4_vms;"
	"DROP TABLE v4_volumes;"
	"DROP TABLE v4_snapshots;"
	"DROP TABLE v4_policies;";

/*
 * v6: who may call corrald over the network (store_auth.c): users with
 * their yescrypt password hashes, API tokens with the SHA-256 of their
 * secret and an expiry (0: never), and ACL entries giving a user or a
 * token ("user!id") a role on a scope path.  Configuration: replicated with
 * the rest of it once hosts form a pool.
 */
static const char schema_v6[] =
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY,"
	"  hash TEXT NOT NULL,"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE tokens ("
	"  user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
	"  id TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  comment TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (user, id));"
	"CREATE TABLE acls ("
	"  subject TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  path TEXT NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  PRIMARY KEY (subject, path));";

/*
 * volumes.vm from the definitions, the way corrald found owners before v5:
 * a disk's "volume" names it.  Read as plain JSON so a definition that no
 * longer validates still holds on to its disks.  Should two VMs name one
 * volume (older versions did not always prevent it), the first by name
 * keeps it and the other is logged.
 */
static int fill_owners(sqlite3 *db)
{
	sqlite3_stmt *vms, *set;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT uuid, name, def FROM vms ORDER BY name", -1, &vms, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(db, "UPDATE volumes SET vm = ?1 WHERE name = ?2 AND vm IS NULL", -1, &set, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(vms);
		return -1;
	}
	while ((rc = sqlite3_step(vms)) == SQLITE_ROW) {
		const char *uuid = (const char *)sqlite3_column_text(vms, 0);
		const char *name = (const char *)sqlite3_column_text(vms, 1);
		__do_json json_t *def = json_loads((const char *)sqlite3_column_text(vms, 2), 0, NULL);
		json_t *disk;
		size_t i;
		json_array_foreach(json_object_get(def, "disks"), i, disk) {
			const char *vol = json_string_value(json_object_get(disk, "volume"));
			if (!vol)
				continue;
			sqlite3_reset(set);
			sqlite3_bind_text(set, 1, uuid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(set, 2, vol, -1, SQLITE_TRANSIENT);
			if (sqlite3_step(set) != SQLITE_DONE)
				goto fail;
			if (sqlite3_changes(db) == 0)
				log_warn("store migration: volume '%s' of vm '%s' is missing or already used by another vm",
					 vol, name);
		}
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(vms);
	sqlite3_finalize(set);
	return 0;
fail:
	sqlite3_finalize(vms);
	sqlite3_finalize(set);
	return -1;
}

/* 0 if no row breaks a foreign key. */
static int check_keys(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return -1;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		log_msg(LOG_LVL_ERROR, 0, "store migration: a row of %s breaks a foreign key",
			(const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* v7: networks (net/netdef.h), their definitions as JSON by name. */
static const char schema_v7[] =
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  created INTEGER NOT NULL);";

/* v8: who did it: the actor (core/events.h events_actor) of each event and job. */
static const char schema_v8[] =
	"ALTER TABLE events ADD COLUMN actor TEXT;"
	"ALTER TABLE jobs ADD COLUMN actor TEXT;";

/* v9: hosts this host trusts (docs/remote.md "Trusted hosts"): their API
 * address and the certificate they present, pinned by its SHA-256. */
static const char schema_v9[] =
	"CREATE TABLE trusted_hosts ("
	"  name TEXT PRIMARY KEY,"
	"  url TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  cert TEXT NOT NULL,"
	"  added INTEGER NOT NULL);";

/* v10: system containers (core/ctdef.h JSON) by uuid, names unique. */
static const char schema_v10[] =
	"CREATE TABLE containers ("
	"  uuid TEXT PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  def TEXT NOT NULL,"
	"  created INTEGER NOT NULL);";

/* v11: alarm rules (docs/alarms.md): their definitions are configuration
 * (alarms); the state of each (rule, object) pair and the history of its
 * transitions are this host's (alarm_states, alarm_history). */
static const char schema_v11[] =
	"CREATE TABLE alarms ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE alarm_states ("
	"  rule TEXT NOT NULL REFERENCES alarms(name) ON DELETE CASCADE,"
	"  object TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  since INTEGER NOT NULL,"
	"  cond_since INTEGER NOT NULL DEFAULT 0,"
	"  clear_since INTEGER NOT NULL DEFAULT 0,"
	"  value REAL,"
	"  PRIMARY KEY (rule, object));"
	"CREATE TABLE alarm_history ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  rule TEXT NOT NULL,"
	"  object TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  from_state TEXT NOT NULL,"
	"  to_state TEXT NOT NULL,"
	"  value REAL);"
	"CREATE INDEX alarm_history_rule ON alarm_history(rule, id);"
	"CREATE INDEX alarm_history_time ON alarm_history(time);";

/* v12: alarm notifications not sent yet (docs/alarms.md, "Notifications"),
 * written with the transition they announce and removed once delivered or
 * given up, so a kill -9 loses none. */
static const char schema_v12[] =
	"CREATE TABLE alarm_outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  rule TEXT NOT NULL REFERENCES alarms(name) ON DELETE CASCADE,"
	"  target TEXT NOT NULL,"
	"  smtp TEXT,"
	"  payload TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);";

/* v13: this host's pool membership (docs/cluster.md): the cluster's
 * definition (cluster/conf.h JSON: name, config_version, token, nodes with
 * their ids and link addresses) and this host's node name in it.  At most
 * one row: a host is in one cluster or none.  Host-local until the pool's
 * configuration is replicated (issue 13 part 2). */
static const char schema_v13[] =
	"CREATE TABLE cluster ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  name TEXT NOT NULL,"
	"  self TEXT NOT NULL,"
	"  def TEXT NOT NULL,"
	"  updated INTEGER NOT NULL);";

/* v14: the replicated tables' version and hash chain (core/store_replica.h,
 * docs/cluster.md "Replicated configuration"): one meta row, and the chain
 * of the last versions for the fork check.  A database from before starts
 * at version 0 (nothing replicated yet). */
static const char schema_v14[] =
	"CREATE TABLE replica_meta ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  version INTEGER NOT NULL,"
	"  chain TEXT NOT NULL);"
	"INSERT INTO replica_meta(id, version, chain) VALUES(1, 0, "
	"'0000000000000000000000000000000000000000000000000000000000000000');"
	"CREATE TABLE replica_log ("
	"  version INTEGER PRIMARY KEY,"
	"  chain TEXT NOT NULL,"
	"  time INTEGER NOT NULL);";

/* v15: the HA resources (docs/ha.md "HA resources"), replicated pool-wide
 * (core/store_replica.c): one row per protected VM, keyed by the VM's uuid
 * (the column is "name" so the named-definition ops apply), with its HA
 * settings as JSON (service/ha.h: vm name, priority, order, start_delay,
 * max_restart, max_relocate, state). */
static const char schema_v15[] =
	"CREATE TABLE ha_resources ("
	"  name TEXT PRIMARY KEY,"
	"  def TEXT NOT NULL,"
	"  created INTEGER NOT NULL);";

/* v16: a volume used by a system container (its root, or a mount point):
 * volumes.ct, as volumes.vm is for VMs; ct.put keeps it in step with the
 * container's definition (docs/containers.md, "Storage"). */
static const char schema_v16[] =
	"ALTER TABLE volumes ADD COLUMN ct TEXT REFERENCES containers(uuid) ON DELETE SET NULL;"
	"CREATE INDEX volumes_ct ON volumes(ct);";

struct step {
	const char *sql;
	int (*fill)(sqlite3 *db); /* after sql, in the same transaction; or NULL */
};

static const struct step steps[STORE_SCHEMA_VERSION] = {
	{ schema_v1, NULL }, { schema_v2, NULL }, { schema_v3, NULL }, { schema_v4, NULL }, { schema_v5, fill_owners },
	{ schema_v6, NULL }, { schema_v7, NULL }, { schema_v8, NULL }, { schema_v9, NULL }, { schema_v10, NULL },
	{ schema_v11, NULL }, { schema_v12, NULL }, { schema_v13, NULL }, { schema_v14, NULL },
	{ schema_v15, NULL }, { schema_v16, NULL },
};

int store_schema_migrate(sqlite3 *db, int from)
{
	if (sqlite3_exec(db, "PRAGMA foreign_keys=OFF", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (int v = from; v < STORE_SCHEMA_VERSION; v++) {
		char set[64];
		snprintf(set, sizeof(set), "PRAGMA user_version=%d", v + 1);
		if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
			return -1;
		if (sqlite3_exec(db, steps[v].sql, NULL, NULL, NULL) != SQLITE_OK ||
		    (steps[v].fill && steps[v].fill(db) < 0) || check_keys(db) < 0 ||
		    sqlite3_exec(db, set, NULL, NULL, NULL) != SQLITE_OK) {
			log_msg(LOG_LVL_ERROR, 0, "store: migrating to schema version %d failed: %s", v + 1,
				sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	}
	return 0;
}
