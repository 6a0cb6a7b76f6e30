/*
 * store_auth.c - users, API tokens and ACL entries in the configuration
 * half of the store (see store.h, "users, API tokens and ACL entries"):
 * reads, the user.* / token.* / acl.* ops, and their one-op batches.
 *
 * The ops carry hashes, never secrets, so a batch can be logged, replayed
 * or (later) sent to the other hosts of a pool as it is.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

void user_record_release(struct user_record *u)
{
	free(u->name);
	free(u->hash);
	free(u->comment);
	u->name = u->hash = u->comment = NULL;
}

void token_record_release(struct token_record *t)
{
	free(t->user);
	free(t->id);
	free(t->hash);
	free(t->comment);
	t->user = t->id = t->hash = t->comment = NULL;
}

static void acl_record_release(struct acl_record *a)
{
	free(a->subject);
	free(a->role);
	free(a->path);
	a->subject = a->role = a->path = NULL;
}

static void user_release_v(void *p) { user_record_release(p); }
static void token_release_v(void *p) { token_record_release(p); }
static void acl_release_v(void *p) { acl_record_release(p); }

static void row_to_user(sqlite3_stmt *st, void *rec)
{
	struct user_record *u = rec;
	u->name = store_col_dup(st, 0);
	u->hash = store_col_dup(st, 1);
	u->comment = store_col_dup(st, 2);
	u->created_ms = sqlite3_column_int64(st, 3);
}

static void row_to_token(sqlite3_stmt *st, void *rec)
{
	struct token_record *t = rec;
	t->user = store_col_dup(st, 0);
	t->id = store_col_dup(st, 1);
	t->hash = store_col_dup(st, 2);
	t->expires_ms = sqlite3_column_int64(st, 3);
	t->comment = store_col_dup(st, 4);
	t->created_ms = sqlite3_column_int64(st, 5);
}

static void row_to_acl(sqlite3_stmt *st, void *rec)
{
	struct acl_record *a = rec;
	a->subject = store_col_dup(st, 0);
	a->role = store_col_dup(st, 1);
	a->path = store_col_dup(st, 2);
	a->created_ms = sqlite3_column_int64(st, 3);
}

#define USER_SELECT "SELECT name, hash, comment, created FROM users "
#define TOKEN_SELECT "SELECT user, id, hash, expires, comment, created FROM tokens "

int store_user_get(struct store *s, const char *name, struct user_record *out)
{
	return store_get_row(&s->cfg, USER_SELECT "WHERE name=?", "get user", name, row_to_user, out);
}

int store_user_list(struct store *s, struct user_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, USER_SELECT "ORDER BY name", "list users", sizeof(**out), row_to_user,
				user_release_v, &list, n);
	*out = list;
	return r;
}

void store_user_list_free(struct user_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		user_record_release(&list[i]);
	free(list);
}

int store_token_get(struct store *s, const char *user, const char *id, struct token_record *out)
{
	/* store_get_row binds one key: look the pair up as "user!id", which no two
	 * valid pairs share ('!' is allowed in neither name, service/auth.c). */
	__do_free char *key = xasprintf("%s!%s", user, id);
	return store_get_row(&s->cfg, TOKEN_SELECT "WHERE user || '!' || id = ?", "get token", key, row_to_token,
			     out);
}

int store_token_list(struct store *s, const char *user, struct token_record **out, size_t *n)
{
	void *list;
	size_t all = 0;
	int r = store_list_rows(&s->cfg, TOKEN_SELECT "ORDER BY user, id", "list tokens", sizeof(**out), row_to_token,
				token_release_v, &list, &all);
	struct token_record *t = list;
	*n = 0;
	for (size_t i = 0; r == 0 && i < all; i++) {
		if (user && strcmp(t[i].user, user) != 0)
			token_record_release(&t[i]);
		else
			t[(*n)++] = t[i];
	}
	*out = t;
	return r;
}

void store_token_list_free(struct token_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		token_record_release(&list[i]);
	free(list);
}

int store_acl_list(struct store *s, struct acl_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, "SELECT subject, role, path, created FROM acls ORDER BY path, subject",
				"list acls", sizeof(**out), row_to_acl, acl_release_v, &list, n);
	*out = list;
	return r;
}

void store_acl_list_free(struct acl_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		acl_record_release(&list[i]);
	free(list);
}

/* ---- ops ---- */

int op_user_put(struct store_apply *a, const json_t *op)
{
	const char *name, *hash, *comment;
	bool create;
	int r;

	if ((r = op_str(a, op, "name", true, &name)) < 0 || (r = op_str(a, op, "hash", true, &hash)) < 0 ||
	    (r = op_str(a, op, "comment", false, &comment)) < 0 || (r = op_bool(a, op, "create", &create)) < 0)
		return r;
	if (create) {
		r = store_exec(a->c, "INSERT INTO users(name, hash, comment, created) VALUES(?,?,?,?)", "sssi", name,
			       hash, comment ? comment : "", a->time);
		if (r == -EEXIST)
			buf_printf(a->err, "user '%s' already exists", name);
		else if (r < 0)
			return op_db_fail(a, r);
		return r;
	}
	r = comment ? store_exec(a->c, "UPDATE users SET hash=?, comment=? WHERE name=?", "sss", hash, comment, name)
		    : store_exec(a->c, "UPDATE users SET hash=? WHERE name=?", "ss", hash, name);
	if (r == -ENOENT)
		buf_printf(a->err, "user '%s' does not exist", name);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

int op_user_delete(struct store_apply *a, const json_t *op)
{
	const char *name;
	int r;

	if ((r = op_str(a, op, "name", true, &name)) < 0)
		return r;
	r = store_exec(a->c, "DELETE FROM users WHERE name=?", "s", name);
	if (r == -ENOENT) {
		buf_printf(a->err, "user '%s' does not exist", name);
		return r;
	}
	if (r < 0)
		return op_db_fail(a, r);
	/* her tokens go by the foreign key; her and their ACL entries here */
	__do_free char *prefix = xasprintf("%s!", name);
	r = store_exec(a->c, "DELETE FROM acls WHERE subject=?1 OR substr(subject, 1, length(?2))=?2", "ss", name,
		       prefix);
	return r == -ENOENT ? 0 : r < 0 ? op_db_fail(a, r) : 0;
}

int op_token_add(struct store_apply *a, const json_t *op)
{
	const char *user, *id, *hash, *comment;
	int64_t expires = 0;
	bool has_exp;
	int64_t one;
	int r;

	if ((r = op_str(a, op, "user", true, &user)) < 0 || (r = op_str(a, op, "id", true, &id)) < 0 ||
	    (r = op_str(a, op, "hash", true, &hash)) < 0 || (r = op_str(a, op, "comment", false, &comment)) < 0 ||
	    (r = op_int(a, op, "expires", &expires, &has_exp)) < 0)
		return r;
	r = store_query_int(a->c, &one, "SELECT 1 FROM users WHERE name=?", "s", user);
	if (r == -ENOENT) {
		buf_printf(a->err, "user '%s' does not exist", user);
		return r;
	}
	if (r < 0)
		return op_db_fail(a, r);
	r = store_exec(a->c, "INSERT INTO tokens(user, id, hash, expires, comment, created) VALUES(?,?,?,?,?,?)",
		       "sssisi", user, id, hash, has_exp ? expires : 0, comment ? comment : "", a->time);
	if (r == -EEXIST)
		buf_printf(a->err, "user '%s' already has a token '%s'", user, id);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

int op_token_delete(struct store_apply *a, const json_t *op)
{
	const char *user, *id;
	int r;

	if ((r = op_str(a, op, "user", true, &user)) < 0 || (r = op_str(a, op, "id", true, &id)) < 0)
		return r;
	r = store_exec(a->c, "DELETE FROM tokens WHERE user=? AND id=?", "ss", user, id);
	if (r == -ENOENT) {
		buf_printf(a->err, "user '%s' has no token '%s'", user, id);
		return r;
	}
	if (r < 0)
		return op_db_fail(a, r);
	__do_free char *subject = xasprintf("%s!%s", user, id);
	r = store_exec(a->c, "DELETE FROM acls WHERE subject=?", "s", subject);
	return r == -ENOENT ? 0 : r < 0 ? op_db_fail(a, r) : 0;
}

int op_acl_put(struct store_apply *a, const json_t *op)
{
	const char *subject, *role, *path;
	int64_t one;
	int r;

	if ((r = op_str(a, op, "subject", true, &subject)) < 0 || (r = op_str(a, op, "role", true, &role)) < 0 ||
	    (r = op_str(a, op, "path", true, &path)) < 0)
		return r;
	r = store_query_int(a->c, &one,
			    "SELECT 1 FROM users WHERE name=?1 UNION ALL SELECT 1 FROM tokens WHERE user || '!' || id = ?1",
			    "s", subject);
	if (r == -ENOENT) {
		buf_printf(a->err, "no user or token '%s'", subject);
		return r;
	}
	if (r < 0)
		return op_db_fail(a, r);
	r = store_exec(a->c,
		       "INSERT INTO acls(subject, role, path, created) VALUES(?1,?2,?3,?4)"
		       " ON CONFLICT(subject, path) DO UPDATE SET role=?2",
		       "sssi", subject, role, path, a->time);
	return r < 0 ? op_db_fail(a, r) : 0;
}

int op_acl_delete(struct store_apply *a, const json_t *op)
{
	const char *subject, *path;
	int r;

	if ((r = op_str(a, op, "subject", true, &subject)) < 0 || (r = op_str(a, op, "path", true, &path)) < 0)
		return r;
	r = store_exec(a->c, "DELETE FROM acls WHERE subject=? AND path=?", "ss", subject, path);
	if (r == -ENOENT)
		buf_printf(a->err, "'%s' has no ACL entry on %s", subject, path);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

/* ---- one-op batches ---- */

static int commit(struct store *s, json_t *op)
{
	struct store_batch *b = store_batch_new();
	store_batch_add(b, op);
	return store_commit_one(s, b);
}

int store_user_put(struct store *s, const char *name, const char *hash, const char *comment, bool create)
{
	return commit(s, json_pack("{s:s,s:s,s:s,s:s?,s:b}", "op", "user.put", "name", name, "hash", hash, "comment",
				   comment, "create", create));
}

int store_user_delete(struct store *s, const char *name)
{
	return commit(s, json_pack("{s:s,s:s}", "op", "user.delete", "name", name));
}

int store_token_add(struct store *s, const struct token_record *t)
{
	return commit(s, json_pack("{s:s,s:s,s:s,s:s,s:I,s:s?}", "op", "token.add", "user", t->user, "id", t->id,
				   "hash", t->hash, "expires", (json_int_t)t->expires_ms, "comment", t->comment));
}

int store_token_delete(struct store *s, const char *user, const char *id)
{
	return commit(s, json_pack("{s:s,s:s,s:s}", "op", "token.delete", "user", user, "id", id));
}

int store_acl_put(struct store *s, const char *subject, const char *role, const char *path)
{
	return commit(s, json_pack("{s:s,s:s,s:s,s:s}", "op", "acl.put", "subject", subject, "role", role, "path",
				   path));
}

int store_acl_delete(struct store *s, const char *subject, const char *path)
{
	return commit(s, json_pack("{s:s,s:s,s:s}", "op", "acl.delete", "subject", subject, "path", path));
}
