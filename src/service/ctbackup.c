/*
 * ctbackup.c - container backups (ctbackup.h): the jobs around the backup
 * library's file-level engine (backup/cttree.h).  A run loads the
 * container, asks liblxc whether it runs, freezes it if so, walks its root
 * into the repository, and thaws it whatever happened; a restore checks the
 * tree and the new name first, then has ct.c create the container with the
 * restored root (svc_ct_create_filled), so a failure leaves nothing.
 * `backup files` and `backup get` read the manifest's tree; a file's bytes
 * reach the API through a pipe filled by a detached thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctbackup.h"
#include "cluster/membership.h"
#include "service/backup.h"
#include "service/ha.h"
#include "service/ct.h"
#include "service/ct_internal.h"
#include "service/repo.h"
#include "service/internal.h"
#include "backup/cttree.h"
#include "backup/repo.h"
#include "core/ctdef.h"
#include "core/job.h"
#include "core/store_local.h"
#include "lxc/lxc.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

static char *ctb_lxcpath(void) { return xasprintf("%s/lxc", svc_cfg.state_dir); }

bool svc_ctb_is_container(const char *name)
{
	struct ct_record rec = { 0 };
	if (!name || store_ct_get(svc_cfg.store, name, &rec) < 0)
		return false;
	ct_record_release(&rec);
	return true;
}

/* ---- backup run ---- */

void svc_ctb_recover(const char *name)
{
	__do_free char *lp = ctb_lxcpath();
	struct buf e = BUF_INIT;

	if (!svc_ctb_is_container(name) || strcmp(ctrt_state(lp, name, NULL), "FROZEN") != 0)
		return;
	if (ctrt_unfreeze(lp, name, &e) == 0)
		log_warn("container %s: thawed; corrald stopped while backing it up frozen", name);
	else
		log_error("container %s is frozen from a backup corrald did not finish, and thawing failed: %s", name, e.s);
	buf_release(&e);
}

int svc_ctb_backup_one(struct job *j, struct repo *repo, const char *repo_path, const char *key, const char *policy,
		       const atomic_bool *cancel, backup_progress_cb cb, void *arg, json_t *entry, struct buf *err)
{
	__do_free char *lp = ctb_lxcpath();
	__do_free char *rootfs = NULL;
	__do_json json_t *def = NULL;
	struct ct_record rec = { 0 };
	struct backup_ct_result res = { 0 };
	struct ct_def *d = NULL;
	bool frozen = false, mounted = false;
	int64_t t_freeze = 0, frozen_ms = 0;
	int r;

	if ((r = store_ct_get(svc_cfg.store, key, &rec)) < 0) {
		buf_printf(err, "container '%s' not found", key);
		return r;
	}
	def = json_loads(rec.def, 0, NULL);
	ct_record_release(&rec);
	if (!(d = ctdef_from_json(def, CTDEF_FROM_STORE, err)))
		return -EIO;
	rootfs = ct_rootfs_of(d);
	const char *state = ctrt_state(lp, d->name, NULL);
	if (strcmp(state, "RUNNING") == 0) {
		job_set_phase(j, "container %s: freezing", d->name);
		if ((r = ctrt_freeze(lp, d->name, err)) < 0)
			goto out;
		frozen = true;
		t_freeze = time_mono_ms();
	} else if (strcmp(state, "STOPPED") != 0) {
		buf_printf(err, "container %s is %s: back it up stopped or running", d->name, state);
		r = -EBUSY;
		goto out;
	} else if (ct_root_is_image(d)) {
		/* a stopped image root is read mounted, and unmounted again after */
		if ((r = ct_root_mount(d, err)) < 0)
			goto out;
		mounted = true;
	}
	job_set_phase(j, "container %s: reading its root%s", d->name, frozen ? " (frozen)" : "");
	struct backup_ct_req req = {
		.name = d->name,
		.uuid = d->uuid,
		.definition = def,
		.rootfs = rootfs,
		.policy = policy,
		.consistency = frozen ? "frozen" : "stopped",
		.now = (int64_t)time(NULL),
		.cancel = cancel,
	};
	r = backup_ct(repo, &req, cb, arg, &res, err);
	if (mounted)
		ct_root_umount(d);
	if (frozen) {
		struct buf e = BUF_INIT;
		frozen_ms = time_mono_ms() - t_freeze;
		/* an HA container of a host that lost quorum meanwhile may run elsewhere by now:
		 * it is killed before the thaw, never run on here (docs/ha.md "Containers") */
		bool fenced = svc_ha_armed(d->uuid) && !membership_quorate();
		if (fenced) {
			log_warn("container %s: this host lost quorum during its backup: killed, then thawed so the kill "
				 "lands", d->name);
			svc_ct_fence(d->uuid, -1, "fenced: host lost quorum (during a backup's freeze)", &e);
			buf_reset(&e);
		}
		if (!fenced && ctrt_unfreeze(lp, d->name, &e) < 0) {
			log_error("container %s: thawing after its backup failed: %s", d->name, e.s);
			if (r == 0) {
				buf_printf(err, "the backup %s was made, but thawing container %s failed: %s", res.id,
					   d->name, e.s);
				r = -EIO;
			}
		}
		buf_release(&e);
	}
	json_object_set_new(entry, "container", json_string(d->name));
	json_object_set_new(entry, "consistency", json_string(frozen ? "frozen" : "stopped"));
	if (frozen)
		json_object_set_new(entry, "frozen_ms", json_integer(frozen_ms));
	if (res.id) {
		json_t *rj = backup_ct_result_json(&res);
		json_object_update(entry, rj);
		json_decref(rj);
		__do_free char *how = frozen ? xasprintf("frozen for %" PRId64 " ms", frozen_ms) : xstrdup("stopped");
		__do_free char *detail = xasprintf("backup %s to %s: %" PRIu64 " bytes read, %" PRIu64 " new; %s",
						  res.id, repo_path, res.size, res.bytes_new, how);
		store_event_add(svc_cfg.store, d->uuid, "backup", detail);
		log_info("container %s: %s", d->name, detail);
	} else {
		__do_free char *detail = xasprintf("backup to %s %s: %s", repo_path,
						  r == -ECANCELED ? "cancelled" : "failed", err->s);
		store_event_add(svc_cfg.store, d->uuid, "backup", detail);
		log_warn("container %s: %s", d->name, detail);
	}
out:
	backup_ct_result_release(&res);
	ctdef_free(d);
	return r;
}

struct ctb_run {
	struct job *job;
	atomic_bool cancel;
	struct repo *repo;
	char *repo_path;
	char uuid[37];
	char *name;
};

static void ctb_run_free(void *arg)
{
	struct ctb_run *b = arg;
	if (!b)
		return;
	repo_close(b->repo);
	free(b->repo_path);
	free(b->name);
	free(b);
}

static void ctb_progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct ctb_run *b = arg;
	(void)phase;
	job_progress_bytes(b->job, done, total);
}

static int ctb_run_job(struct job *j, void *arg, struct buf *err)
{
	struct ctb_run *b = arg;
	int r;

	b->job = j;
	/* For start-up recovery (recover.c): what it backs up, so a corrald
	 * killed meanwhile thaws the container it may have left frozen. */
	job_record_result(j, json_pack("{s:s,s:[s]}", "repo", b->repo_path, "backing_up", b->name));
	job_on_cancel(j, svc_cancel_flag_set, &b->cancel);
	if ((r = svc_repo_lock_job(j, b->repo, false, err)) == 0) {
		json_t *entry = json_pack("{s:s}", "repo", b->repo_path);
		r = svc_ctb_backup_one(j, b->repo, b->repo_path, b->uuid, NULL, &b->cancel, ctb_progress, b, entry, err);
		job_set_result(j, entry);
		repo_unlock(b->repo);
	}
	job_on_cancel(j, NULL, NULL);
	repo_close(b->repo);
	b->repo = NULL;
	return r;
}

int svc_ctb_run(const char *name, const char *repo, json_t **job, struct buf *err)
{
	struct ct_record rec = { 0 };
	struct ctb_run *b = xcalloc(1, sizeof(*b));
	int r;

	if ((r = store_ct_get(svc_cfg.store, name, &rec)) < 0) {
		buf_printf(err, "container '%s' not found", name);
		goto fail;
	}
	snprintf(b->uuid, sizeof(b->uuid), "%s", rec.uuid);
	b->name = xstrdup(rec.name);
	if ((r = svc_repo_open(repo, &b->repo, &b->repo_path, err)) < 0)
		goto fail;
	ct_record_release(&rec);
	struct job_spec spec = {
		.type = "backup",
		.target = b->name,
		.vm = b->uuid,
		.vm_name = b->name,
		.run = ctb_run_job,
		.arg = b,
		.free_arg = ctb_run_free,
	};
	return job_start(&spec, job, err);
fail:
	ct_record_release(&rec);
	ctb_run_free(b);
	return r;
}

/* ---- restore ---- */

struct ctb_restore {
	struct job *job;
	atomic_bool cancel;
	struct repo *repo;
	char *id, *name;
	json_t *def;		/* the new container's definition */
	struct cttree tree;
	struct cttree_idshift shift; /* the backed-up id range to this host's */
};

static void ctb_restore_free(void *arg)
{
	struct ctb_restore *rs = arg;
	if (!rs)
		return;
	repo_close(rs->repo);
	free(rs->id);
	free(rs->name);
	json_decref(rs->def);
	cttree_release(&rs->tree);
	free(rs);
}

static void ctb_restore_progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct ctb_restore *rs = arg;
	(void)phase;
	job_progress_bytes(rs->job, done, total);
}

/* Where a restore writes the root before the container exists: in the
 * lxcpath, hidden, so the final step is a rename (ct.c holds the lock on
 * definitions only for that). */
static char *ctb_staging(const char *name)
{
	__do_free char *lp = ctb_lxcpath();
	return xasprintf("%s/.restore-%s", lp, name);
}

/* Write the tree into a new staging directory (one left by a killed corrald
 * was removed at start-up: one that exists now is another restore's). */
static int ctb_stage(struct ctb_restore *rs, const char *dir, bool *made, struct buf *err)
{
	__do_free char *lp = ctb_lxcpath();
	int r;

	if ((r = fs_mkdir_p(lp, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", lp, strerror(-r));
		return r;
	}
	if (mkdir(dir, 0700) < 0) {
		int e = errno;
		if (e == EEXIST)
			buf_printf(err, "another restore to container %s is running (%s exists)", rs->name, dir);
		else
			buf_printf(err, "cannot create %s: %s", dir, strerror(e));
		return -e;
	}
	*made = true;
	__do_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		buf_printf(err, "cannot open %s: %s", dir, strerror(errno));
		return -errno;
	}
	return backup_ct_restore(rs->repo, &rs->tree, fd, &rs->shift, &rs->cancel, ctb_restore_progress, rs, err);
}

static int ctb_fill(const char *rootfs, void *arg, struct buf *err)
{
	struct ctb_restore *rs = arg;
	__do_free char *dir = ctb_staging(rs->name);
	if (rename(dir, rootfs) < 0) {
		buf_printf(err, "cannot move the restored root %s to %s: %s", dir, rootfs, strerror(errno));
		return -errno;
	}
	return 0;
}

void svc_ctb_restore_recover(const char *name)
{
	__do_free char *lp = ctb_lxcpath(), *dir = ctb_staging(name), *entry = xasprintf("%s/%s", lp, name);
	struct buf e = BUF_INIT;

	if (ctdef_name_invalid(name))
		return;
	if (fs_exists(dir) > 0 && ctrt_remove_tree(dir, &e) < 0)
		log_warn("cannot remove %s, left by an unfinished restore: %s", dir, e.s);
	/* killed between liblxc's config and the store row: only files, ours */
	if (!svc_ctb_is_container(name) && fs_exists(entry) > 0 && ctrt_undefine(lp, name, &e) < 0)
		log_warn("cannot remove %s, left by an unfinished restore: %s", entry, e.s);
	buf_release(&e);
}

static int ctb_restore_job(struct job *j, void *arg, struct buf *err)
{
	struct ctb_restore *rs = arg;
	__do_free char *dir = NULL;
	bool staged = false;
	json_t *out = NULL;
	int r;

	rs->job = j;
	/* For start-up recovery (recover.c): what a killed corrald leaves is removed. */
	job_record_result(j, json_pack("{s:s,s:s}", "backup", rs->id, "container", rs->name));
	job_on_cancel(j, svc_cancel_flag_set, &rs->cancel);
	if ((r = svc_repo_lock_job(j, rs->repo, false, err)) < 0)
		goto out;
	job_set_phase(j, "restoring container %s from %s", rs->name, rs->id);
	dir = ctb_staging(rs->name);
	r = ctb_stage(rs, dir, &staged, err);
	repo_unlock(rs->repo);
	if (r == 0) {
		job_set_uncancellable(j, "the restored container is being created");
		r = svc_ct_create_filled(rs->def, ctb_fill, rs, &out, err);
	}
	if (r < 0 && staged && fs_exists(dir) > 0) {
		struct buf e = BUF_INIT;
		if (ctrt_remove_tree(dir, &e) < 0)
			log_warn("cannot remove %s after a failed restore: %s", dir, e.s);
		buf_release(&e);
	}
	if (r == 0) {
		json_t *res = json_pack("{s:s,s:s,s:O?}", "backup", rs->id, "container", rs->name, "uuid",
					json_object_get(out, "uuid"));
		job_set_result(j, res);
		log_info("container %s restored from backup %s", rs->name, rs->id);
	}
	json_decref(out);
out:
	job_on_cancel(j, NULL, NULL);
	return r;
}

int svc_ctb_restore(struct repo *r, const char *id, const json_t *m, const char *name, bool start, json_t **job,
		    struct buf *err)
{
	struct ctb_restore *rs = xcalloc(1, sizeof(*rs));
	__do_free char *lp = ctb_lxcpath();
	const json_t *def = json_object_get(m, "container");
	const char *bad;
	char vm[37];
	int e;

	rs->repo = r;
	rs->id = xstrdup(id);
	if (!name)
		name = json_string_value(json_object_get(json_object_get(m, "vm"), "name"));
	if (start) {
		buf_adds(err, "--start is for vms; start a restored container with 'corral ct start'");
		e = -EINVAL;
		goto fail;
	}
	if (!name || (bad = ctdef_name_invalid(name))) {
		buf_printf(err, "cannot restore under that name: %s", name ? bad : "the backup names no container");
		e = -EINVAL;
		goto fail;
	}
	rs->name = xstrdup(name);
	if (svc_ctb_is_container(name) || store_vm_lookup(svc_cfg.store, name, vm) == 0) {
		buf_printf(err, "a container or vm named '%s' already exists; restore under another name with --name",
			   name);
		e = -EEXIST;
		goto fail;
	}
	if (!json_is_object(def)) {
		buf_printf(err, "backup %s holds no container definition", id);
		e = -EINVAL;
		goto fail;
	}
	if ((e = backup_ct_tree(m, &rs->tree, err)) < 0)
		goto fail;
	if (json_integer_value(json_object_get(m, "chunk_size")) != (json_int_t)repo_chunk_size(r)) {
		buf_printf(err, "backup %s was cut into chunks of another size than its repository's", id);
		e = -EINVAL;
		goto fail;
	}
	/* Unprivileged: owners move from the backed-up range to this host's (the same on the same host). */
	const json_t *idmap = json_object_get(def, "idmap");
	if (!json_is_true(json_object_get(def, "privileged")) && json_is_object(idmap)) {
		uint32_t ub, gb, cnt;
		json_int_t oub = json_integer_value(json_object_get(idmap, "uid_base")),
			   ogb = json_integer_value(json_object_get(idmap, "gid_base")),
			   ocnt = json_integer_value(json_object_get(idmap, "count"));
		if ((e = svc_ct_idmap_host(&ub, &gb, &cnt, err)) < 0)
			goto fail;
		if (oub <= 0 || ogb <= 0 || ocnt <= 0 || oub > UINT32_MAX || ogb > UINT32_MAX || ocnt > UINT32_MAX) {
			buf_printf(err, "backup %s has a bad id range in its container definition", id);
			e = -EINVAL;
			goto fail;
		}
		if ((uint32_t)oub != ub || (uint32_t)ogb != gb)
			rs->shift = (struct cttree_idshift){ (uint32_t)oub, (uint32_t)ogb, ub, gb,
							     (uint32_t)ocnt < cnt ? (uint32_t)ocnt : cnt };
	}
	/* A new container: new uuid and MACs, corrald's own id range, its root in the lxcpath. */
	rs->def = json_deep_copy(def);
	json_object_set_new(rs->def, "name", json_string(name));
	json_object_del(rs->def, "uuid");
	json_object_del(rs->def, "idmap");
	json_object_del(rs->def, "created");
	json_object_del(rs->def, "autostart");
	json_object_del(rs->def, "tags");
	/* the root comes back in the lxcpath; volumes (root, mount points) are the original's */
	json_object_del(rs->def, "volume");
	json_object_del(rs->def, "mounts");
	if (json_object_get(rs->def, "rootfs"))
		json_object_set_new(rs->def, "rootfs", json_sprintf("%s/%s/rootfs", lp, name));
	const json_t *nic;
	size_t i;
	json_array_foreach(json_object_get(rs->def, "nics"), i, nic)
		json_object_del((json_t *)nic, "mac");
	struct ct_def *check = ctdef_from_json(rs->def, CTDEF_FROM_USER, err);
	if (!check) {
		e = -EINVAL;
		goto fail;
	}
	ctdef_free(check);
	struct job_spec spec = {
		.type = "restore",
		.target = rs->id,
		.run = ctb_restore_job,
		.arg = rs,
		.free_arg = ctb_restore_free,
	};
	return job_start(&spec, job, err);
fail:
	ctb_restore_free(rs);
	return e;
}

/* ---- files and get ---- */

/* Open repo, resolve ref, read its manifest: -ENOTSUP when it is a VM's. */
static int ctb_open(const char *repo, const char *ref, struct repo **r, char **id, struct cttree *t, json_t **m,
		    struct buf *err)
{
	int e;

	*r = NULL;
	*id = NULL;
	*m = NULL;
	if ((e = svc_repo_open(repo, r, NULL, err)) < 0)
		return e;
	if ((e = repo_lock(*r, false, true, err)) < 0 || (e = svc_backup_ref_resolve(*r, ref, id, err)) < 0 ||
	    (e = repo_manifest_read(*r, *id, m, err)) < 0)
		goto fail;
	if (!backup_manifest_is_ct(*m)) {
		e = -ENOTSUP;
		goto fail;
	}
	if ((e = backup_ct_tree(*m, t, err)) < 0)
		goto fail;
	return 0;
fail:
	repo_close(*r);
	*r = NULL;
	free(*id);
	*id = NULL;
	json_decref(*m);
	*m = NULL;
	return e;
}

/* The tree path of an API path ("/etc/hosts", "etc/hosts", "/" = the root). */
static int ctb_path(const char *path, const char **rel, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	if (!path || !*path)
		path = "/";
	if (path[0] != '/') {
		buf_printf(err, "path '%.200s' inside the backup must start with '/'", path);
		return -EINVAL;
	}
	while (*path == '/')
		path++;
	if (cttree_path_check(path, &why) < 0) {
		buf_printf(err, "bad path inside the backup: %s", why.s);
		return -EINVAL;
	}
	*rel = path;
	return 0;
}

static json_t *entry_json(const struct cttree *t, const struct cttree_entry *e, const char *name)
{
	ssize_t k = e->type == CTT_HARDLINK ? cttree_find(t, e->target) : -1;
	if (k >= 0) /* the size of the file it is a link to */
		return json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:s}", "name", name, "type", "hardlink", "mode",
				 (int)e->mode, "size", (json_int_t)t->e[k].size, "mtime", (json_int_t)e->mtime, "uid",
				 (json_int_t)e->uid, "gid", (json_int_t)e->gid, "target", e->target);
	return json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:s?}", "name", name, "type", cttree_type_name(e->type), "mode",
			 (int)e->mode, "size", (json_int_t)e->size, "mtime", (json_int_t)e->mtime, "uid",
			 (json_int_t)e->uid, "gid", (json_int_t)e->gid, "target",
			 e->type == CTT_SYMLINK || e->type == CTT_HARDLINK ? e->target : NULL);
}

int svc_ctb_files(const char *repo, const char *ref, const char *path, json_t **out, struct buf *err)
{
	struct repo *r;
	__do_free char *id = NULL;
	__do_json json_t *m = NULL;
	struct cttree t = { 0 };
	const char *rel;
	int e;

	if ((e = ctb_open(repo, ref, &r, &id, &t, &m, err)) < 0)
		return e;
	if ((e = ctb_path(path, &rel, err)) < 0)
		goto out;
	ssize_t at = cttree_find(&t, rel);
	if (at < 0) {
		buf_printf(err, "/%s is not in backup %s", rel, id);
		e = -ENOENT;
		goto out;
	}
	const struct cttree_entry *d = &t.e[at];
	if (d->type != CTT_DIR) {
		const char *slash = strrchr(d->path, '/');
		*out = json_pack("{s:s,s:s,s:s,s:[o]}", "path", path, "fstype", "container", "type",
				 cttree_type_name(d->type), "entries", entry_json(&t, d, slash ? slash + 1 : d->path));
		goto out;
	}
	json_t *entries = json_array();
	size_t plen = strlen(rel);
	for (size_t i = (size_t)at + 1; i < t.n; i++) {
		const char *p = t.e[i].path;
		if (plen && (strncmp(p, rel, plen) != 0 || p[plen] != '/'))
			continue;
		const char *name = plen ? p + plen + 1 : p;
		if (strchr(name, '/'))
			continue;
		json_array_append_new(entries, entry_json(&t, &t.e[i], name));
	}
	*out = json_pack("{s:s,s:s,s:s,s:o,s:b}", "path", path ? path : "/", "fstype", "container", "type",
			 "directory", "entries", entries, "truncated", 0);
out:
	cttree_release(&t);
	repo_close(r);
	return e;
}

struct ctb_stream {
	struct repo *r;
	struct cttree t;
	size_t entry;
	int fd;
};

static void *ctb_stream_thread(void *arg)
{
	struct ctb_stream *s = arg;
	struct buf err = BUF_INIT;

	if (backup_ct_file_write(s->r, &s->t.e[s->entry], s->fd, &err) < 0 && err.len)
		log_warn("backup get /%s: %s", s->t.e[s->entry].path, err.s);
	close(s->fd);
	buf_release(&err);
	cttree_release(&s->t);
	repo_close(s->r);
	free(s);
	return NULL;
}

int svc_ctb_read(const char *repo, const char *ref, const char *path, int *fd, uint64_t *size, struct buf *err)
{
	struct ctb_stream *s = xcalloc(1, sizeof(*s));
	__do_free char *id = NULL;
	__do_json json_t *m = NULL;
	const char *rel;
	int p[2], e;
	pthread_t th;

	if ((e = ctb_open(repo, ref, &s->r, &id, &s->t, &m, err)) < 0) {
		free(s);
		return e;
	}
	if ((e = ctb_path(path, &rel, err)) < 0)
		goto fail;
	ssize_t at = cttree_find(&s->t, rel);
	if (at >= 0 && s->t.e[at].type == CTT_HARDLINK)
		at = cttree_find(&s->t, s->t.e[at].target);
	if (at < 0 || s->t.e[at].type != CTT_FILE) {
		buf_printf(err, at < 0 ? "%s is not in backup %s" : "%s in backup %s is not a regular file (a %s)", path,
			   id, at < 0 ? "" : cttree_type_name(s->t.e[at].type));
		e = at < 0 ? -ENOENT : -EINVAL;
		goto fail;
	}
	s->entry = (size_t)at;
	if (pipe2(p, O_CLOEXEC) < 0) {
		e = -errno;
		buf_printf(err, "cannot create a pipe: %s", strerror(errno));
		goto fail;
	}
	s->fd = p[1];
	*size = s->t.e[at].size;
	if ((e = pthread_create(&th, NULL, ctb_stream_thread, s)) != 0) {
		close(p[0]);
		close(p[1]);
		buf_printf(err, "cannot start a reader thread: %s", strerror(e));
		e = -e;
		goto fail;
	}
	pthread_detach(th);
	*fd = p[0];
	return 0;
fail:
	cttree_release(&s->t);
	repo_close(s->r);
	free(s);
	return e;
}

/* ---- list and show ---- */

json_t *svc_ctb_summary(const char *id, const json_t *m)
{
	const json_t *vm = json_object_get(m, "vm");
	return json_pack("{s:s,s:O?,s:O?,s:O?,s:s,s:s,s:i,s:O?,s:O?,s:O?,s:O?,s:O?,s:I}", "id", id, "vm",
			 json_object_get(vm, "name"), "uuid", json_object_get(vm, "uuid"), "time",
			 json_object_get(m, "created_rfc3339"), "kind", "container", "guest", "container", "disks", 0,
			 "size", json_object_get(m, "size"), "bytes_read", json_object_get(m, "bytes_read"), "bytes_new",
			 json_object_get(m, "bytes_new"), "policy", json_object_get(m, "policy"), "consistency",
			 json_object_get(m, "consistency"), "entries",
			 (json_int_t)json_array_size(json_object_get(m, "files")));
}
