/*
 * store_backup.c - backup repositories and policy definitions in the store
 * (see store.h, "backup repositories" and "backup policies"): reads, and
 * the repo.* and policy.* ops.  Repositories are keyed by their absolute
 * path; exactly one of them is the default once any exists.  A policy's
 * definition is configuration, its run times are this host's (policy_runs,
 * written in store_local.c) and are joined in when read.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/common.h"

/* ---- repositories ---- */

#define REPO_SELECT "SELECT path, repo_id, encrypted, keyfile, passfile, is_default, created FROM repos "

void repo_record_release(struct repo_record *r)
{
	free(r->path);
	free(r->repo_id);
	free(r->keyfile);
	free(r->passfile);
	memset(r, 0, sizeof(*r));
}

static void repo_record_release_v(void *r)
{
	repo_record_release(r);
}

static void row_to_repo(sqlite3_stmt *st, void *rec)
{
	struct repo_record *r = rec;
	r->path = store_col_dup(st, 0);
	r->repo_id = store_col_dup(st, 1);
	r->encrypted = sqlite3_column_int(st, 2) != 0;
	r->keyfile = store_col_dup(st, 3);
	r->passfile = store_col_dup(st, 4);
	r->is_default = sqlite3_column_int(st, 5) != 0;
	r->created_ms = sqlite3_column_int64(st, 6);
}

int store_repo_get(struct store *s, const char *path, struct repo_record *out)
{
	return store_get_row(&s->cfg, REPO_SELECT "WHERE path=?", "get repository", path, row_to_repo, out);
}

int store_repo_get_default(struct store *s, struct repo_record *out)
{
	return store_get_row(&s->cfg, REPO_SELECT "WHERE is_default=1 AND ?1 IS NULL", "get default repository", NULL,
			     row_to_repo, out);
}

int store_repo_list(struct store *s, struct repo_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, REPO_SELECT "ORDER BY path", "list repositories", sizeof(**out), row_to_repo,
				repo_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_repo_list_free(struct repo_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		repo_record_release(&list[i]);
	free(list);
}

/* -ENOENT and a sentence unless repository `path` exists. */
static int need_repo(struct store_apply *a, const char *path)
{
	int64_t one;
	int r = store_query_int(a->c, &one, "SELECT 1 FROM repos WHERE path=?", "s", path);
	if (r == -ENOENT)
		buf_printf(a->err, "repository %s is not recorded", path);
	else if (r < 0)
		return op_db_fail(a, r);
	return r;
}

int op_repo_add(struct store_apply *a, const json_t *op)
{
	const char *path, *repo_id, *keyfile, *passfile;
	bool encrypted;
	int64_t one;
	int r;

	if ((r = op_str(a, op, "path", true, &path)) < 0 || (r = op_str(a, op, "repo_id", true, &repo_id)) < 0 ||
	    (r = op_bool(a, op, "encrypted", &encrypted)) < 0 || (r = op_str(a, op, "keyfile", false, &keyfile)) < 0 ||
	    (r = op_str(a, op, "passfile", false, &passfile)) < 0)
		return r;
	if ((r = store_query_int(a->c, &one, "SELECT 1 FROM repos WHERE path=?", "s", path)) == 0) {
		buf_printf(a->err, "repository %s is already recorded", path);
		return -EEXIST;
	}
	if (r != -ENOENT ||
	    (r = store_exec(a->c,
			    "INSERT INTO repos(path, repo_id, encrypted, keyfile, passfile, is_default, created) "
			    "VALUES(?,?,?,?,?,NOT EXISTS (SELECT 1 FROM repos),?)",
			    "ssissi", path, repo_id, (int64_t)encrypted, keyfile, passfile, a->time)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_repo_default(struct store_apply *a, const json_t *op)
{
	const char *path;
	int r;
	if ((r = op_str(a, op, "path", true, &path)) < 0 || (r = need_repo(a, path)) < 0)
		return r;
	if ((r = store_exec(a->c, "UPDATE repos SET is_default=(path=?)", "s", path)) < 0)
		return op_db_fail(a, r);
	return 0;
}

int op_repo_delete(struct store_apply *a, const json_t *op)
{
	const char *path;
	int r;
	if ((r = op_str(a, op, "path", true, &path)) < 0 || (r = need_repo(a, path)) < 0)
		return r;
	if ((r = store_exec(a->c, "DELETE FROM repos WHERE path=?", "s", path)) < 0)
		return op_db_fail(a, r);
	/* Keep a default while any repository is left: the oldest. */
	r = store_exec(a->c,
		       "UPDATE repos SET is_default=1 WHERE path=(SELECT path FROM repos ORDER BY created, path LIMIT 1) "
		       "AND NOT EXISTS (SELECT 1 FROM repos WHERE is_default=1)",
		       "");
	return r < 0 && r != -ENOENT ? op_db_fail(a, r) : 0;
}

int store_repo_insert(struct store *s, const struct repo_record *r)
{
	struct store_batch *b = store_batch_new();
	store_batch_repo_add(b, r);
	return store_commit_one(s, b);
}

int store_repo_set_default(struct store *s, const char *path)
{
	struct store_batch *b = store_batch_new();
	store_batch_repo_default(b, path);
	return store_commit_one(s, b);
}

int store_repo_delete(struct store *s, const char *path)
{
	struct store_batch *b = store_batch_new();
	store_batch_repo_delete(b, path);
	return store_commit_one(s, b);
}

/* ---- policies ---- */

#define POLICY_SELECT                                                                                 \
	"SELECT p.name, p.def, COALESCE(r.last_run, 0), COALESCE(r.next_run, 0) FROM policies p " \
	"LEFT JOIN policy_runs r ON r.name = p.name "

void policy_record_release(struct policy_record *p)
{
	free(p->name);
	free(p->def);
	memset(p, 0, sizeof(*p));
}

static void policy_record_release_v(void *p)
{
	policy_record_release(p);
}

static void row_to_policy(sqlite3_stmt *st, void *rec)
{
	struct policy_record *p = rec;
	p->name = store_col_dup(st, 0);
	p->def = store_col_dup(st, 1);
	p->last_run = sqlite3_column_int64(st, 2);
	p->next_run = sqlite3_column_int64(st, 3);
}

int store_policy_get(struct store *s, const char *name, struct policy_record *out)
{
	return store_get_row(&s->cfg, POLICY_SELECT "WHERE p.name=?", "get policy", name, row_to_policy, out);
}

int store_policy_list(struct store *s, struct policy_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(&s->cfg, POLICY_SELECT "ORDER BY p.name", "list policies", sizeof(**out),
				row_to_policy, policy_record_release_v, &list, n);
	*out = list;
	return r;
}

void store_policy_list_free(struct policy_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		policy_record_release(&list[i]);
	free(list);
}

int op_policy_put(struct store_apply *a, const json_t *op) { return op_named_def_put(a, op, "policies"); }

int op_policy_delete(struct store_apply *a, const json_t *op) { return op_named_def_delete(a, op, "policies", "policy"); }

int store_policy_put(struct store *s, const char *name, const char *def, int64_t next_run)
{
	struct store_batch *b = store_batch_new();
	store_batch_policy_put(b, name, def);
	int r = store_commit_one(s, b);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->local.lock);
	r = store_exec(&s->local,
		       "INSERT INTO policy_runs(name, last_run, next_run) VALUES(?1, 0, ?2) "
		       "ON CONFLICT(name) DO UPDATE SET next_run=?2",
		       "si", name, next_run);
	pthread_mutex_unlock(&s->local.lock);
	return r;
}

int store_policy_delete(struct store *s, const char *name)
{
	struct store_batch *b = store_batch_new();
	store_batch_policy_delete(b, name);
	return store_commit_one(s, b);
}
