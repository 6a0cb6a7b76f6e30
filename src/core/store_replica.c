/*
 * store_replica.c - the replicated tables' version, hash chain and
 * snapshots (see store_replica.h).  The rows travel as SQLite's own JSON
 * (json_group_array in key order, json_each on the way in), so export and
 * import are a few statements per table and the digest is of the exact
 * text every member produces from the same rows.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "store_replica.h"
#include "util/log.h"
#include "util/common.h"

static const char zero_chain[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* A replicated table: its columns (the key ones first) and key column count. */
struct rtable {
	const char *name;
	const char *const cols[7];
	unsigned ncols, nkey;
};

static const struct rtable rtables[] = {
	{ "users", { "name", "hash", "comment", "created" }, 4, 1 },
	{ "tokens", { "user", "id", "hash", "expires", "comment", "created" }, 6, 2 },
	{ "acls", { "subject", "path", "role", "created" }, 4, 2 },
	{ "policies", { "name", "def", "created" }, 3, 1 },
	{ "alarms", { "name", "def", "created" }, 3, 1 },
	{ "ha_resources", { "name", "def", "created" }, 3, 1 },
};

static const char *const replicated_prefixes[] = { "user.", "token.", "acl.", "policy.", "alarm.", "ha." };

bool store_op_replicated(const char *op)
{
	for (size_t i = 0; op && i < ARRAY_SIZE(replicated_prefixes); i++)
		if (strncmp(op, replicated_prefixes[i], strlen(replicated_prefixes[i])) == 0)
			return true;
	return false;
}

int store_batch_scope(const json_t *batch, struct buf *err)
{
	const json_t *op;
	size_t i, nrep = 0, nloc = 0;
	json_array_foreach(json_object_get(batch, "ops"), i, op) {
		if (store_op_replicated(json_string_value(json_object_get(op, "op"))))
			nrep++;
		else
			nloc++;
	}
	if (nrep && nloc) {
		buf_adds(err, "a configuration change may not mix pool-wide settings (users, tokens, acls, policies, "
			      "alarm rules, HA resources) with this host's own objects: make two changes");
		return -EINVAL;
	}
	return nrep ? STORE_SCOPE_REPLICATED : STORE_SCOPE_LOCAL;
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* SHA-256 of a || b as hex into out. */
static int sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[STORE_REPLICA_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, a, alen) &&
		 EVP_DigestUpdate(ctx, b, blen) && EVP_DigestFinal_ex(ctx, md, &n) && n == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return -EIO;
	hex(md, n, out);
	return 0;
}

/* ---- reading: with the cfg lock held ---- */

static int meta_locked(struct store_conn *c, uint64_t *version, char chain[STORE_REPLICA_HASH_HEX + 1])
{
	int64_t v;
	__do_free char *ch = NULL;
	int r;
	if ((r = store_query_int(c, &v, "SELECT version FROM replica_meta WHERE id=1", "")) < 0 ||
	    (r = store_query_str(c, &ch, "SELECT chain FROM replica_meta WHERE id=1", "")) < 0)
		return r == -ENOENT ? -EIO : r;
	if (!ch || strlen(ch) != STORE_REPLICA_HASH_HEX || v < 0)
		return -EIO;
	*version = (uint64_t)v;
	memcpy(chain, ch, STORE_REPLICA_HASH_HEX + 1);
	return 0;
}

/* The rows of table t as a JSON array of arrays, in key order (new string). */
static char *table_json_locked(struct store_conn *c, const struct rtable *t)
{
	struct buf sql __do_buf = BUF_INIT, cols __do_buf = BUF_INIT, key __do_buf = BUF_INIT;
	char *out = NULL;
	for (unsigned i = 0; i < t->ncols; i++)
		buf_printf(&cols, "%s%s", i ? "," : "", t->cols[i]);
	for (unsigned i = 0; i < t->nkey; i++)
		buf_printf(&key, "%s%s", i ? "," : "", t->cols[i]);
	buf_printf(&sql, "SELECT coalesce(json_group_array(json_array(%s)), '[]') FROM (SELECT * FROM %s ORDER BY %s)",
		   cols.s, t->name, key.s);
	if (store_query_str(c, &out, sql.s, "") < 0 || !out) {
		free(out);
		return NULL;
	}
	return out;
}

/* {"users":[...],...} of every replicated table in a fixed order, and its digest. */
static int tables_locked(struct store_conn *c, struct buf *out, char digest[STORE_REPLICA_HASH_HEX + 1])
{
	buf_addch(out, '{');
	for (size_t i = 0; i < ARRAY_SIZE(rtables); i++) {
		__do_free char *rows = table_json_locked(c, &rtables[i]);
		if (!rows)
			return -EIO;
		buf_printf(out, "%s\"%s\":%s", i ? "," : "", rtables[i].name, rows);
	}
	buf_addch(out, '}');
	return sha256_hex(out->s, out->len, "", 0, digest);
}

int store_replica_state(struct store *s, struct store_replica_state *out)
{
	struct buf t __do_buf = BUF_INIT;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->cfg.lock);
	int r = meta_locked(&s->cfg, &out->version, out->chain);
	if (r == 0)
		r = tables_locked(&s->cfg, &t, out->digest);
	pthread_mutex_unlock(&s->cfg.lock);
	return r;
}

int store_replica_chain_at(struct store *s, uint64_t v, char out[STORE_REPLICA_HASH_HEX + 1])
{
	__do_free char *ch = NULL;
	if (v == 0) {
		memcpy(out, zero_chain, sizeof(zero_chain));
		return 0;
	}
	pthread_mutex_lock(&s->cfg.lock);
	int r = store_query_str(&s->cfg, &ch, "SELECT chain FROM replica_log WHERE version=?", "i", (int64_t)v);
	pthread_mutex_unlock(&s->cfg.lock);
	if (r < 0)
		return r;
	if (!ch || strlen(ch) != STORE_REPLICA_HASH_HEX)
		return -ENOENT;
	memcpy(out, ch, STORE_REPLICA_HASH_HEX + 1);
	return 0;
}

/* ---- applying ---- */

struct chain_arg {
	const char *body;
	size_t len;
	int64_t time;
};

/* In store_apply's transaction, after the ops applied: the next version and chain. */
static int chain_advance(struct store_conn *c, void *arg)
{
	struct chain_arg *a = arg;
	uint64_t v;
	char prev[STORE_REPLICA_HASH_HEX + 1], next[STORE_REPLICA_HASH_HEX + 1];
	int r;
	if ((r = meta_locked(c, &v, prev)) < 0 || (r = sha256_hex(prev, STORE_REPLICA_HASH_HEX, a->body, a->len, next)) < 0)
		return r;
	v++;
	if ((r = store_exec(c, "UPDATE replica_meta SET version=?, chain=? WHERE id=1", "is", (int64_t)v, next)) < 0 ||
	    (r = store_exec(c, "INSERT OR REPLACE INTO replica_log(version, chain, time) VALUES(?,?,?)", "isi",
			    (int64_t)v, next, a->time)) < 0)
		return r;
	r = store_exec(c, "DELETE FROM replica_log WHERE version <= ?", "i", (int64_t)v - STORE_REPLICA_LOG_KEEP);
	return r == -ENOENT ? 0 : r;
}

int store_replica_apply(struct store *s, const json_t *batch, const char *body, size_t len, struct buf *err)
{
	struct chain_arg a = { body, len, json_integer_value(json_object_get(batch, "time")) };
	return store_apply_then(s, batch, err, chain_advance, &a);
}

/* ---- snapshots ---- */

char *store_replica_export(struct store *s)
{
	struct buf t __do_buf = BUF_INIT;
	char chain[STORE_REPLICA_HASH_HEX + 1], digest[STORE_REPLICA_HASH_HEX + 1];
	uint64_t v;
	pthread_mutex_lock(&s->cfg.lock);
	int r = meta_locked(&s->cfg, &v, chain);
	if (r == 0)
		r = tables_locked(&s->cfg, &t, digest);
	pthread_mutex_unlock(&s->cfg.lock);
	if (r < 0) {
		log_warn("store: cannot export the replicated tables");
		return NULL;
	}
	return xasprintf("{\"version\":%llu,\"chain\":\"%s\",\"digest\":\"%s\",\"tables\":%s}", (unsigned long long)v,
			 chain, digest, t.s);
}

/* Replace table t's rows by `rows` (a JSON array of arrays), with the cfg lock held, in a transaction. */
static int table_import_locked(struct store_conn *c, const struct rtable *t, const char *rows)
{
	struct buf del __do_buf = BUF_INIT, ins __do_buf = BUF_INIT;
	buf_printf(&del, "DELETE FROM %s WHERE NOT EXISTS (SELECT 1 FROM json_each(?1) WHERE ", t->name);
	for (unsigned i = 0; i < t->nkey; i++)
		buf_printf(&del, "%sjson_extract(value, '$[%u]') = %s.%s", i ? " AND " : "", i, t->name, t->cols[i]);
	buf_addch(&del, ')');
	buf_printf(&ins, "INSERT INTO %s(", t->name);
	for (unsigned i = 0; i < t->ncols; i++)
		buf_printf(&ins, "%s%s", i ? "," : "", t->cols[i]);
	buf_adds(&ins, ") SELECT ");
	for (unsigned i = 0; i < t->ncols; i++)
		buf_printf(&ins, "%sjson_extract(value, '$[%u]')", i ? "," : "", i);
	buf_adds(&ins, " FROM json_each(?1) WHERE true ON CONFLICT(");
	for (unsigned i = 0; i < t->nkey; i++)
		buf_printf(&ins, "%s%s", i ? "," : "", t->cols[i]);
	buf_adds(&ins, ") DO UPDATE SET ");
	for (unsigned i = t->nkey; i < t->ncols; i++)
		buf_printf(&ins, "%s%s=excluded.%s", i > t->nkey ? "," : "", t->cols[i], t->cols[i]);
	int r = store_exec(c, del.s, "s", rows);
	if (r < 0 && r != -ENOENT)
		return r;
	r = store_exec(c, ins.s, "s", rows);
	return r == -ENOENT ? 0 : r;
}

int store_replica_import(struct store *s, const char *text, struct buf *err)
{
	json_error_t je;
	__do_json json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	json_t *tables = json_object_get(j, "tables"), *v = json_object_get(j, "version");
	const char *chain = json_string_value(json_object_get(j, "chain"));
	const char *digest = json_string_value(json_object_get(j, "digest"));
	char got[STORE_REPLICA_HASH_HEX + 1];
	struct buf t __do_buf = BUF_INIT;
	int r = 0;

	if (!json_is_object(tables) || !json_is_integer(v) || json_integer_value(v) < 0 || !chain ||
	    strlen(chain) != STORE_REPLICA_HASH_HEX || !digest) {
		buf_adds(err, "the pool's configuration snapshot is malformed");
		return -EBADMSG;
	}
	for (size_t i = 0; i < ARRAY_SIZE(rtables); i++)
		if (!json_is_array(json_object_get(tables, rtables[i].name))) {
			buf_printf(err, "the pool's configuration snapshot has no table %s", rtables[i].name);
			return -EBADMSG;
		}
	pthread_mutex_lock(&s->cfg.lock);
	if (sqlite3_exec(s->cfg.db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		r = store_db_fail(&s->cfg, "begin a snapshot import");
		buf_adds(err, "cannot write the state database");
		goto out;
	}
	/* in table order: users before the tokens that refer to them */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(rtables); i++) {
		__do_free char *rows = json_dumps(json_object_get(tables, rtables[i].name), JSON_COMPACT);
		r = rows ? table_import_locked(&s->cfg, &rtables[i], rows) : -ENOMEM;
	}
	if (r == 0)
		r = store_exec(&s->cfg, "UPDATE replica_meta SET version=?, chain=? WHERE id=1", "is",
			       (int64_t)json_integer_value(v), chain);
	if (r == 0) {
		/* the history before the snapshot is not this host's: keep only the snapshot's point */
		r = store_exec(&s->cfg, "DELETE FROM replica_log", "");
		if (r == -ENOENT)
			r = 0;
		if (r == 0 && json_integer_value(v) > 0)
			r = store_exec(&s->cfg, "INSERT INTO replica_log(version, chain, time) VALUES(?,?,0)", "is",
				       (int64_t)json_integer_value(v), chain);
	}
	if (r == 0 && (r = tables_locked(&s->cfg, &t, got)) == 0 && strcmp(got, digest) != 0) {
		buf_adds(err, "the pool's configuration snapshot did not import to the same tables (digest mismatch)");
		r = -EBADMSG;
	}
	if (r == 0 && sqlite3_exec(s->cfg.db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		r = store_db_fail(&s->cfg, "commit a snapshot import");
	if (r < 0) {
		if (!err->len)
			buf_adds(err, "cannot import the pool's configuration snapshot into the state database");
		sqlite3_exec(s->cfg.db, "ROLLBACK", NULL, NULL, NULL);
	}
out:
	pthread_mutex_unlock(&s->cfg.lock);
	return r;
}

int store_replica_forget(struct store *s)
{
	pthread_mutex_lock(&s->cfg.lock);
	int r = store_exec(&s->cfg, "UPDATE replica_meta SET version=0, chain=? WHERE id=1", "s", zero_chain);
	if (r == 0) {
		r = store_exec(&s->cfg, "DELETE FROM replica_log", "");
		r = r == -ENOENT ? 0 : r;
	}
	pthread_mutex_unlock(&s->cfg.lock);
	return r;
}
