/*
 * repo.c - the backup repositories a host uses (see repo.h, "Backup
 * repositories"): create, register an existing one, list, show, forget,
 * choose the default, and open one for the backup operations.
 *
 * A repository is a directory (backup/repo.h) recorded in the store by its
 * absolute path.  For an encrypted repository corrald keeps the key file and
 * the passphrase that unlocks it under <state dir>/keys/ (0600, directory
 * 0700), so scheduled backups run unattended; the repository itself (often a
 * share or an off-site disk) only ever sees ciphertext.  The passphrase never
 * appears in logs, job records or API answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "repo.h"
#include "service/backup.h"
#include "service/internal.h"
#include "core/store_local.h"
#include "backup/repo.h"
#include "core/job.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

/* How often a job waiting for a repository's lock tries again. */
#define LOCK_POLL_MS 200

static void cleanup_repo_record(struct repo_record *r) { repo_record_release(r); }
#define __do_repo_record __attribute__((cleanup(cleanup_repo_record)))

/* Serialises registering and forgetting repositories. */
static pthread_mutex_t repos_lock = PTHREAD_MUTEX_INITIALIZER;

/* An absolute, normalised repository path, or -EINVAL with err. */
static int repo_path_check(const char *path, char **out, struct buf *err)
{
	if (!path || !*path) {
		buf_adds(err, "no repository path given");
		return -EINVAL;
	}
	if (path[0] != '/' || str_has_control(path) || strlen(path) > 1024 || strstr(path, "/../") ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0)) {
		buf_adds(err, "a repository path must be absolute, without '..' or control characters, and at most 1024 "
			      "characters");
		return -EINVAL;
	}
	*out = xstrdup(path);
	for (size_t n = strlen(*out); n > 1 && (*out)[n - 1] == '/'; n--)
		(*out)[n - 1] = '\0';
	return 0;
}

static int passphrase_check(const char *pass, struct buf *err)
{
	if (!pass || strlen(pass) < 8) {
		buf_adds(err, "an encrypted repository needs a passphrase of at least 8 characters");
		return -EINVAL;
	}
	if (strlen(pass) > 1024 || strchr(pass, '\n')) {
		buf_adds(err, "the passphrase must be one line of at most 1024 characters");
		return -EINVAL;
	}
	return 0;
}

/* <state>/keys/<stem>.key and .pass for a new registration. */
static int keys_paths(char **keyfile, char **passfile, struct buf *err)
{
	__do_free char *dir = xasprintf("%s/keys", svc_cfg.state_dir);
	uuid_t u;
	char stem[37];
	int r;

	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	uuid_generate_random(u);
	uuid_unparse_lower(u, stem);
	*keyfile = xasprintf("%s/%s.key", dir, stem);
	*passfile = xasprintf("%s/%s.pass", dir, stem);
	return 0;
}

/* Undo keys_paths' files after a failed registration. */
static void keys_remove(const struct repo_record *rr)
{
	if (rr->passfile)
		unlink(rr->passfile);
	if (rr->keyfile)
		unlink(rr->keyfile);
}

static int secret_read(const char *path, struct buf *out, struct buf *err)
{
	int r = fs_read_file(path, 4096, out);
	if (r < 0) {
		buf_printf(err, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	while (out->len && (out->s[out->len - 1] == '\n' || out->s[out->len - 1] == '\r'))
		out->s[--out->len] = '\0';
	return 0;
}

static json_t *repo_record_json(const struct repo_record *rr)
{
	char t[40];
	json_t *j = json_pack("{s:s,s:s,s:b,s:b,s:s}", "path", rr->path, "id", rr->repo_id, "encrypted", rr->encrypted,
			      "default", rr->is_default, "created", time_fmt_rfc3339(rr->created_ms, t, sizeof(t)));
	json_object_set_new(j, "keyfile", rr->keyfile ? json_string(rr->keyfile) : json_null());
	return j;
}

/* Record a repository that exists at rr->path (opening it proves the key). */
static int repo_register(struct repo_record *rr, const char *passphrase, json_t **out, struct buf *err)
{
	struct repo *r = NULL;
	int e;

	if ((e = repo_open(rr->path, rr->keyfile, passphrase, &r, err)) < 0)
		return e;
	rr->repo_id = xstrdup(repo_id(r));
	rr->encrypted = repo_encrypted(r);
	repo_close(r);
	if ((e = store_repo_insert(svc_cfg.store, rr)) < 0) {
		buf_printf(err, e == -EEXIST ? "repository %s is already registered" : "cannot record repository %s",
			   rr->path);
		return e;
	}
	log_info("backup repository %s registered%s", rr->path, rr->encrypted ? " (encrypted)" : "");
	return svc_repo_get(rr->path, out, err);
}

int svc_repo_create(const char *path, bool encrypt, const char *passphrase, uint32_t chunk_size, json_t **out,
		    struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	struct repo_create_opts o = { .chunk_size = chunk_size, .encrypt = encrypt };
	int r;

	if ((r = repo_path_check(path, &rr.path, err)) < 0)
		return r;
	if (encrypt && (r = passphrase_check(passphrase, err)) < 0)
		return r;
	if (!encrypt && passphrase) {
		buf_adds(err, "a passphrase only makes sense with encryption");
		return -EINVAL;
	}
	pthread_mutex_lock(&repos_lock);
	struct repo_record old = { 0 };
	if (store_repo_get(svc_cfg.store, rr.path, &old) == 0) {
		repo_record_release(&old);
		buf_printf(err, "repository %s is already registered", rr.path);
		r = -EEXIST;
		goto out;
	}
	if (encrypt) {
		if ((r = keys_paths(&rr.keyfile, &rr.passfile, err)) < 0)
			goto out;
		if ((r = fs_write_file_atomic(rr.passfile, passphrase, strlen(passphrase), 0600)) < 0) {
			buf_printf(err, "cannot write %s: %s", rr.passfile, strerror(-r));
			goto out;
		}
		o.keyfile = rr.keyfile;
		o.passphrase = passphrase;
	}
	if ((r = repo_create(rr.path, &o, err)) < 0)
		goto undo;
	if ((r = repo_register(&rr, passphrase, out, err)) < 0)
		goto undo;
	goto out;
undo:
	keys_remove(&rr);
out:
	pthread_mutex_unlock(&repos_lock);
	return r;
}

int svc_repo_add(const char *path, const char *keyfile, const char *passphrase, json_t **out, struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	struct buf key __do_buf = BUF_INIT;
	int r;

	if ((r = repo_path_check(path, &rr.path, err)) < 0)
		return r;
	if (keyfile) {
		if ((r = passphrase_check(passphrase, err)) < 0)
			return r;
		if (keyfile[0] != '/' || str_has_control(keyfile)) {
			buf_adds(err, "the key file path must be absolute");
			return -EINVAL;
		}
		if ((r = fs_read_file(keyfile, 1 << 16, &key)) < 0) {
			buf_printf(err, "cannot read key file %s: %s", keyfile, strerror(-r));
			return r;
		}
	}
	pthread_mutex_lock(&repos_lock);
	if (keyfile) {
		/* corrald keeps its own copy: the original may sit on removable media. */
		if ((r = keys_paths(&rr.keyfile, &rr.passfile, err)) < 0)
			goto out;
		if ((r = fs_write_file_atomic(rr.keyfile, key.s, key.len, 0600)) < 0 ||
		    (r = fs_write_file_atomic(rr.passfile, passphrase, strlen(passphrase), 0600)) < 0) {
			buf_printf(err, "cannot store the key of repository %s under %s/keys: %s", rr.path,
				   svc_cfg.state_dir, strerror(-r));
			goto undo;
		}
	}
	if ((r = repo_register(&rr, passphrase, out, err)) == 0)
		goto out;
undo:
	keys_remove(&rr);
out:
	pthread_mutex_unlock(&repos_lock);
	return r;
}

/* The record for path (NULL: the default repository). */
static int repo_lookup(const char *path, struct repo_record *rr, struct buf *err)
{
	__do_free char *clean = NULL;
	int r;

	if (!path) {
		if ((r = store_repo_get_default(svc_cfg.store, rr)) == -ENOENT)
			buf_adds(err, "no backup repository: create one with 'corral repo create PATH' or pass --repo PATH");
		else if (r < 0)
			buf_adds(err, "cannot read the repositories from the state database");
		return r;
	}
	if ((r = repo_path_check(path, &clean, err)) < 0)
		return r;
	if ((r = store_repo_get(svc_cfg.store, clean, rr)) == -ENOENT)
		buf_printf(err, "repository %s is not registered on this host (corral repo create|add %s)", clean, clean);
	else if (r < 0)
		buf_adds(err, "cannot read the repositories from the state database");
	return r;
}

int svc_repo_open(const char *path, struct repo **out, char **resolved, struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	struct buf pass __do_buf = BUF_INIT;
	int r;

	if ((r = repo_lookup(path, &rr, err)) < 0)
		return r;
	if (rr.encrypted && rr.passfile && (r = secret_read(rr.passfile, &pass, err)) < 0)
		return r;
	if ((r = repo_open(rr.path, rr.keyfile, rr.encrypted ? pass.s : NULL, out, err)) < 0)
		return r;
	if (strcmp(repo_id(*out), rr.repo_id) != 0) {
		buf_printf(err, "the repository at %s is not the one registered there (id %s, expected %s)", rr.path,
			   repo_id(*out), rr.repo_id);
		repo_close(*out);
		*out = NULL;
		return -EINVAL;
	}
	if (resolved)
		*resolved = xstrdup(rr.path);
	return 0;
}

json_t *svc_repo_list(void)
{
	struct repo_record *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (store_repo_list(svc_cfg.store, &list, &n) < 0)
		return arr;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, repo_record_json(&list[i]));
	store_repo_list_free(list, n);
	return arr;
}

int svc_repo_get(const char *path, json_t **out, struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	struct repo *r = NULL;
	char **ids = NULL;
	size_t n = 0;
	int e;

	if ((e = repo_lookup(path, &rr, err)) < 0)
		return e;
	*out = repo_record_json(&rr);
	/* What is inside: best effort, the record alone is still an answer. */
	struct buf why = BUF_INIT;
	if (svc_repo_open(rr.path, &r, NULL, &why) == 0 && repo_manifest_list(r, &ids, &n, &why) == 0) {
		json_object_set_new(*out, "backups", json_integer((json_int_t)n));
		json_object_set_new(*out, "chunk_size", json_integer(repo_chunk_size(r)));
		json_object_set_new(*out, "reachable", json_true());
	} else {
		json_object_set_new(*out, "reachable", json_false());
		json_object_set_new(*out, "problem", json_string(why.s ? why.s : ""));
	}
	repo_ids_free(ids, n);
	repo_close(r);
	buf_release(&why);
	return 0;
}

int svc_repo_set_default(const char *path, struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	int r;

	if ((r = repo_lookup(path, &rr, err)) < 0)
		return r;
	if ((r = store_repo_set_default(svc_cfg.store, rr.path)) < 0)
		buf_printf(err, "cannot make %s the default repository", rr.path);
	return r;
}

int svc_repo_forget(const char *path, struct buf *err)
{
	__do_repo_record struct repo_record rr = { 0 };
	int r;

	pthread_mutex_lock(&repos_lock);
	if ((r = repo_lookup(path, &rr, err)) < 0)
		goto out;
	if ((r = store_repo_delete(svc_cfg.store, rr.path)) < 0) {
		buf_printf(err, "cannot forget repository %s", rr.path);
		goto out;
	}
	/* The key stays on disk: forgetting a repository must never destroy the only key to it. */
	log_info("backup repository %s forgotten (its data and key file %s stay)", rr.path,
		 rr.keyfile ? rr.keyfile : "-");
out:
	pthread_mutex_unlock(&repos_lock);
	return r;
}

/* ---- maintenance jobs ----------------------------------------------------- */

void svc_cancel_flag_set(void *flag) { atomic_store((atomic_bool *)flag, true); }

int svc_repo_lock_job(struct job *j, struct repo *r, bool exclusive, struct buf *err)
{
	struct buf busy = BUF_INIT;
	int rc = repo_lock(r, exclusive, false, &busy);

	if (rc == -EAGAIN)
		job_set_phase(j, "waiting: %s", busy.s);
	while (rc == -EAGAIN) {
		if (job_sleep(j, LOCK_POLL_MS) < 0) {
			buf_printf(err, "stopped while waiting for backup repository %s (in use)", repo_path(r));
			rc = -ECANCELED;
			break;
		}
		buf_reset(&busy);
		rc = repo_lock(r, exclusive, false, &busy);
	}
	if (rc < 0 && rc != -ECANCELED)
		buf_add(err, busy.s, busy.len);
	buf_release(&busy);
	return rc;
}

struct rjob {
	struct repo *repo;
	char *path;
	char **ids;		/* verify: NULL = all */
	size_t n;
	bool prune;
	struct job *job;	/* while it runs */
	atomic_bool cancel;
};

static void rjob_free(void *arg)
{
	struct rjob *j = arg;
	for (size_t i = 0; i < j->n; i++)
		free(j->ids[i]);
	free(j->ids);
	repo_close(j->repo);
	free(j->path);
	free(j);
}

static void rjob_progress(uint64_t done, uint64_t total, void *arg)
{
	struct rjob *j = arg;
	job_progress(j->job, total ? 100.0 * (double)done / (double)total : 0, 0, -1);
}

static int prune_run(struct rjob *j, struct buf *err)
{
	uint64_t chunks = 0, bytes = 0;
	int r;

	if ((r = svc_repo_lock_job(j->job, j->repo, true, err)) < 0)
		return r;
	job_set_phase(j->job, "freeing unreferenced chunks");
	r = repo_sweep(j->repo, &j->cancel, &chunks, &bytes, err);
	repo_unlock(j->repo);
	/* Also when cancelled: what was freed is gone. */
	job_set_result(j->job, json_pack("{s:s,s:I,s:I}", "repo", j->path, "chunks_freed", (json_int_t)chunks,
					 "bytes_freed", (json_int_t)bytes));
	return r;
}

static int verify_run(struct rjob *j, struct buf *err)
{
	struct repo_check_result cr = { 0 };
	int r;

	if ((r = svc_repo_lock_job(j->job, j->repo, false, err)) < 0)
		return r;
	job_set_phase(j->job, "checking chunks");
	r = repo_verify(j->repo, j->ids, j->n, rjob_progress, j, &j->cancel, &cr, err);
	repo_unlock(j->repo);
	if (r == 0) {
		json_t *bad = json_array();
		for (size_t i = 0; i < cr.n_bad_backups; i++)
			json_array_append_new(bad, json_string(cr.bad_backups[i]));
		job_set_result(j->job, json_pack("{s:s,s:I,s:I,s:I,s:I,s:o}", "repo", j->path, "chunks_checked",
						 (json_int_t)cr.chunks_checked, "chunks_bad", (json_int_t)cr.chunks_bad,
						 "chunks_missing", (json_int_t)cr.chunks_missing, "bytes_checked",
						 (json_int_t)cr.bytes_checked, "damaged_backups", bad));
		if (cr.chunks_bad || cr.chunks_missing) {
			r = -EBADMSG;
			buf_printf(err, "%" PRIu64 " damaged and %" PRIu64 " missing chunks; damaged backups: ",
				   cr.chunks_bad, cr.chunks_missing);
			for (size_t i = 0; i < cr.n_bad_backups; i++)
				buf_printf(err, "%s%s", i ? ", " : "", cr.bad_backups[i]);
		}
	}
	repo_check_result_release(&cr);
	return r;
}

static int rjob_run(struct job *job, void *arg, struct buf *err)
{
	struct rjob *j = arg;
	j->job = job;
	job_on_cancel(job, svc_cancel_flag_set, &j->cancel);
	int r = j->prune ? prune_run(j, err) : verify_run(j, err);
	job_on_cancel(job, NULL, NULL);
	/* Not left to free_arg, which runs only once the engine reaps the job. */
	repo_close(j->repo);
	j->repo = NULL;
	return r;
}

static int rjob_start(struct rjob *j, const char *type, json_t **job, struct buf *err)
{
	struct job_spec spec = { .type = type, .target = j->path, .run = rjob_run, .arg = j, .free_arg = rjob_free };
	return job_start(&spec, job, err);
}

int svc_repo_verify(const char *path, const char *const *ids, size_t n, json_t **job, struct buf *err)
{
	struct rjob *j = xcalloc(1, sizeof(*j));
	int r;

	if ((r = svc_repo_open(path, &j->repo, &j->path, err)) < 0) {
		rjob_free(j);
		return r;
	}
	if (ids && n) {
		j->ids = xcalloc(n, sizeof(*j->ids));
		for (; j->n < n; j->n++) {
			json_t *m = NULL;
			if ((r = svc_backup_ref_resolve(j->repo, ids[j->n], &j->ids[j->n], err)) < 0) {
				rjob_free(j);
				return r;
			}
			/* An unknown id is an error now, not a "nothing to check" later. */
			if ((r = repo_manifest_read(j->repo, j->ids[j->n], &m, err)) < 0 && r == -ENOENT) {
				j->n++;
				rjob_free(j);
				return r;
			}
			json_decref(m);
		}
	}
	return rjob_start(j, "verify", job, err);
}

int svc_repo_prune(const char *path, json_t **job, struct buf *err)
{
	struct rjob *j = xcalloc(1, sizeof(*j));
	int r;

	if ((r = svc_repo_open(path, &j->repo, &j->path, err)) < 0) {
		rjob_free(j);
		return r;
	}
	j->prune = true;
	return rjob_start(j, "prune", job, err);
}
