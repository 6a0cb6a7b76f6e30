/*
 * store_backup.c - the repos and policies tables (see store.h, "Backup
 * repositories" and "Backup policies").  Repositories are keyed by their
 * absolute path; exactly one of them is the default once any exists.
 */
#include <errno.h>
#include <string.h>

#include "store.h"
#include "store_internal.h"
#include "util/timeutil.h"
#include "util/common.h"

static char *col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, i));
}

void repo_record_release(struct repo_record *r)
{
	free(r->path);
	free(r->repo_id);
	free(r->keyfile);
	free(r->passfile);
	memset(r, 0, sizeof(*r));
}

int store_repo_insert(struct store *s, const struct repo_record *r)
{
	pthread_mutex_lock(&s->lock);
	int e = store_exec(s,
			   "INSERT INTO repos(path,repo_id,encrypted,keyfile,passfile,is_default,created) "
			   "VALUES(?,?,?,?,?,NOT EXISTS (SELECT 1 FROM repos),?)",
			   "ssissi", r->path, r->repo_id, (int64_t)r->encrypted, r->keyfile, r->passfile, time_wall_ms());
	pthread_mutex_unlock(&s->lock);
	return e;
}

#define REPO_COLS "path,repo_id,encrypted,keyfile,passfile,is_default,created"

static int row_to_repo(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct repo_record *r = rec;
	(void)s;
	r->path = col_dup(st, 0);
	r->repo_id = col_dup(st, 1);
	r->encrypted = sqlite3_column_int(st, 2) != 0;
	r->keyfile = col_dup(st, 3);
	r->passfile = col_dup(st, 4);
	r->is_default = sqlite3_column_int(st, 5) != 0;
	r->created_ms = sqlite3_column_int64(st, 6);
	return 0;
}

int store_repo_get(struct store *s, const char *path, struct repo_record *out)
{
	return store_get_row(s, "SELECT " REPO_COLS " FROM repos WHERE path=?", "get repository", path, row_to_repo,
			     out);
}

int store_repo_get_default(struct store *s, struct repo_record *out)
{
	return store_get_row(s, "SELECT " REPO_COLS " FROM repos WHERE is_default=1 AND ?1 IS NULL",
			     "get default repository", NULL, row_to_repo, out);
}

int store_repo_list(struct store *s, struct repo_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(s, "SELECT " REPO_COLS " FROM repos ORDER BY path", "list repositories",
				sizeof(struct repo_record), row_to_repo, &list, n);
	*out = list;
	if (r < 0) {
		store_repo_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

void store_repo_list_free(struct repo_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		repo_record_release(&list[i]);
	free(list);
}

int store_repo_set_default(struct store *s, const char *path)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE repos SET is_default=(path=?1) WHERE EXISTS (SELECT 1 FROM repos WHERE path=?1)",
			   "s", path);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_repo_delete(struct store *s, const char *path)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM repos WHERE path=?", "s", path);
	/* Keep a default while any repository is left. */
	if (r == 0)
		store_exec(s,
			   "UPDATE repos SET is_default=1 WHERE path=(SELECT path FROM repos ORDER BY created LIMIT 1) "
			   "AND NOT EXISTS (SELECT 1 FROM repos WHERE is_default=1)",
			   "");
	pthread_mutex_unlock(&s->lock);
	return r;
}

void policy_record_release(struct policy_record *p)
{
	free(p->name);
	free(p->def);
	memset(p, 0, sizeof(*p));
}

int store_policy_put(struct store *s, const char *name, const char *def, int64_t next_run)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s,
			   "INSERT INTO policies(name,def,last_run,next_run,created) VALUES(?1,?2,0,?3,?4) "
			   "ON CONFLICT(name) DO UPDATE SET def=?2, next_run=?3",
			   "ssii", name, def, next_run, time_wall_ms());
	pthread_mutex_unlock(&s->lock);
	return r;
}

#define POLICY_COLS "name,def,last_run,next_run"

static int row_to_policy(struct store *s, sqlite3_stmt *st, void *rec)
{
	struct policy_record *p = rec;
	(void)s;
	p->name = col_dup(st, 0);
	p->def = col_dup(st, 1);
	p->last_run = sqlite3_column_int64(st, 2);
	p->next_run = sqlite3_column_int64(st, 3);
	return 0;
}

int store_policy_get(struct store *s, const char *name, struct policy_record *out)
{
	return store_get_row(s, "SELECT " POLICY_COLS " FROM policies WHERE name=?", "get policy", name,
			     row_to_policy, out);
}

int store_policy_list(struct store *s, struct policy_record **out, size_t *n)
{
	void *list;
	int r = store_list_rows(s, "SELECT " POLICY_COLS " FROM policies ORDER BY name", "list policies",
				sizeof(struct policy_record), row_to_policy, &list, n);
	*out = list;
	if (r < 0) {
		store_policy_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

void store_policy_list_free(struct policy_record *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		policy_record_release(&list[i]);
	free(list);
}

int store_policy_set_runs(struct store *s, const char *name, int64_t last_run, int64_t next_run)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "UPDATE policies SET last_run=?, next_run=? WHERE name=?", "iis", last_run, next_run,
			   name);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int store_policy_delete(struct store *s, const char *name)
{
	pthread_mutex_lock(&s->lock);
	int r = store_exec(s, "DELETE FROM policies WHERE name=?", "s", name);
	pthread_mutex_unlock(&s->lock);
	return r;
}
