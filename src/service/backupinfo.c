/*
 * backupinfo.c - looking at backups without restoring them (see backup.h,
 * "Backups"): list, show, forget, and files inside a backed-up disk.
 *
 * Listing reads every manifest of the repository (they are small) so sizes
 * and kinds are exact; a manifest that cannot be read is listed with its
 * error rather than hidden.  Single files come out of a backup through the
 * image helper (imgclient.h), whose device reads corrald answers from the
 * backup's chunks (backup_dev_open): the helper never sees the repository,
 * and nothing is restored to disk.
 */
#include <errno.h>
#include <string.h>

#include "service/backup.h"
#include "service/ctbackup.h"
#include "backup/cttree.h"
#include "service/fsview.h"
#include "service/repo.h"
#include "backup/backup.h"
#include "backup/repo.h"
#include "util/strutil.h"
#include "util/common.h"

/* The summary of one manifest for listings. */
static json_t *backup_summary(const char *id, const json_t *m)
{
	const json_t *vm = json_object_get(m, "vm");
	const json_t *disks = json_object_get(m, "disks");
	const json_t *d;
	size_t i;
	json_int_t size = 0, read = 0, fresh = 0;
	bool incremental = json_array_size(disks) > 0;

	if (backup_manifest_is_ct(m))
		return svc_ctb_summary(id, m);

	json_array_foreach(disks, i, d) {
		size += json_integer_value(json_object_get(d, "size"));
		read += json_integer_value(json_object_get(d, "bytes_read"));
		fresh += json_integer_value(json_object_get(d, "bytes_new"));
		incremental = incremental && json_is_true(json_object_get(d, "incremental"));
	}
	json_t *s = json_pack("{s:s,s:O?,s:O?,s:O?,s:s,s:I,s:I,s:I,s:I,s:O?}", "id", id, "vm",
			      json_object_get(vm, "name"), "uuid", json_object_get(vm, "uuid"), "time",
			      json_object_get(m, "created_rfc3339"), "kind", incremental ? "incremental" : "full", "disks",
			      (json_int_t)json_array_size(disks), "size", size, "bytes_read", read, "bytes_new", fresh,
			      "policy", json_object_get(m, "policy"));
	return s;
}

int svc_backup_list(const char *repo, const char *vm, json_t **out, struct buf *err)
{
	struct repo *r = NULL;
	char **ids = NULL;
	size_t n = 0;
	int e;

	if ((e = svc_repo_open(repo, &r, NULL, err)) < 0)
		return e;
	if ((e = repo_lock(r, false, true, err)) < 0 || (e = repo_manifest_list(r, &ids, &n, err)) < 0)
		goto out;
	*out = json_array();
	for (size_t i = 0; i < n; i++) {
		__do_free char *owner = xstrdup(ids[i]);
		char *slash = strrchr(owner, '/');
		json_t *m = NULL;
		struct buf why = BUF_INIT;

		if (slash)
			*slash = '\0';
		if (vm && !str_glob_match(vm, owner))
			continue;
		if (repo_manifest_read(r, ids[i], &m, &why) < 0)
			json_array_append_new(*out, json_pack("{s:s,s:s,s:s}", "id", ids[i], "vm", owner, "error", why.s));
		else
			json_array_append_new(*out, backup_summary(ids[i], m));
		json_decref(m);
		buf_release(&why);
	}
out:
	repo_ids_free(ids, n);
	repo_close(r);
	return e;
}

int svc_backup_show(const char *repo, const char *ref, json_t **out, struct buf *err)
{
	struct repo *r = NULL;
	__do_json json_t *m = NULL;
	__do_free char *id = NULL;
	int e;

	if ((e = svc_repo_open(repo, &r, NULL, err)) < 0)
		return e;
	if ((e = repo_lock(r, false, true, err)) == 0 && (e = svc_backup_ref_resolve(r, ref, &id, err)) == 0 &&
	    (e = repo_manifest_read(r, id, &m, err)) == 0) {
		*out = backup_summary(id, m);
		json_object_set(*out, "definition", json_object_get(m, backup_manifest_is_ct(m) ? "container" : "definition"));
		json_t *disks = json_array();
		const json_t *d;
		size_t i;
		json_array_foreach(json_object_get(m, "disks"), i, d) {
			json_t *c = json_deep_copy(d);
			json_object_del(c, "chunks"); /* thousands of ids: not for people */
			json_array_append_new(disks, c);
		}
		json_object_set_new(*out, "disk_list", disks);
	}
	repo_close(r);
	return e;
}

int svc_backup_forget(const char *repo, const char *ref, char **forgotten, struct buf *err)
{
	struct repo *r = NULL;
	char *id = NULL;
	int e;

	*forgotten = NULL;
	if ((e = svc_repo_open(repo, &r, NULL, err)) < 0)
		return e;
	if ((e = repo_lock(r, false, true, err)) == 0 && (e = svc_backup_ref_resolve(r, ref, &id, err)) == 0 &&
	    (e = repo_manifest_delete(r, id, err)) == 0)
		*forgotten = move_ptr(id);
	free(id);
	repo_close(r);
	return e;
}

/* Disk `disk` of backup id, served to the image helper. */
struct bfs {
	struct repo *repo;
	struct backup_dev *dev;
	struct imgc_source src;
};

static void bfs_close(struct bfs *b)
{
	imgc_source_release(&b->src);
	backup_dev_close(b->dev);
	repo_close(b->repo);
}

static int bfs_pread(void *arg, void *buf, size_t len, uint64_t off)
{
	return backup_dev_pread(arg, buf, len, off);
}

static int bfs_open(const char *repo, const char *ref, int disk, int partition, struct bfs *b, struct buf *err)
{
	__do_free char *id = NULL;
	int e;

	memset(b, 0, sizeof(*b));
	if (disk < 0 || partition < 0) {
		buf_adds(err, "disk and partition numbers cannot be negative");
		return -EINVAL;
	}
	if ((e = svc_repo_open(repo, &b->repo, NULL, err)) < 0)
		return e;
	if ((e = repo_lock(b->repo, false, true, err)) < 0 || (e = svc_backup_ref_resolve(b->repo, ref, &id, err)) < 0 ||
	    (e = backup_dev_open(b->repo, id, (size_t)disk, &b->dev, err)) < 0) {
		bfs_close(b);
		return e;
	}
	__do_free char *label = xasprintf("disk %d of backup %s", disk, id);
	imgc_source_served(&b->src, label, backup_dev_size(b->dev), bfs_pread, b->dev);
	return 0;
}

int svc_backup_ls(const char *repo, const char *id, int disk, int partition, const char *lv, const char *path,
		  json_t **out, struct buf *err)
{
	struct bfs b;
	int e;

	if ((e = svc_ctb_files(repo, id, path, out, err)) != -ENOTSUP)
		return e;
	if ((e = bfs_open(repo, id, disk, partition, &b, err)) < 0)
		return e;
	e = svc_fs_listing(&b.src, partition, lv, path && *path ? path : "/", out, err);
	bfs_close(&b);
	return e;
}

static void bfs_release(void *owner)
{
	bfs_close(owner);
	free(owner);
}

int svc_backup_read(const char *repo, const char *id, int disk, int partition, const char *lv, const char *path,
		    int *fd, uint64_t *size, struct buf *err)
{
	struct bfs *b;
	int e;

	if ((e = svc_ctb_read(repo, id, path, fd, size, err)) != -ENOTSUP)
		return e;
	b = xcalloc(1, sizeof(*b));
	if ((e = bfs_open(repo, id, disk, partition, b, err)) < 0) {
		free(b);
		return e;
	}
	if ((e = svc_fs_stream(&b->src, partition, lv, path, bfs_release, b, fd, size, err)) < 0)
		bfs_release(b);
	return e;
}
