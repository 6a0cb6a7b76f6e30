/*
 * routes_backup.c - the API of backups (docs/api.md, "Backups"):
 * repositories, backup runs and previews, listings, restores, verify,
 * single files out of a backup, policies, and the host export.
 *
 * Repositories and backups are named by query parameters or body fields
 * (`path`, `repo`, `id`) rather than path segments, since both contain
 * slashes.  Handlers only parse and answer; the service layer (src/service) does the work.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routes_internal.h"
#include "service/backup.h"
#include "service/host.h"
#include "service/policy.h"
#include "service/repo.h"
#include "util/jsonutil.h"
#include "util/common.h"

void h_host_export(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_host_export()); }

/* ---- repositories ---- */

void h_repo_list(struct route_ctx *c) { http_reply_json(c->rep, 200, json_pack("{s:o}", "repos", svc_repo_list())); }

void h_repo_create(struct route_ctx *c)
{
	static const char *const keys[] = { "path", "encrypt", "passphrase", "chunk_size", NULL };
	const char *path = NULL, *pass = NULL;
	bool encrypt = false;
	int64_t chunk = 0;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);

	if (!body)
		return;
	if (json_get_str(body, "path", &path, &err) < 0 || json_get_bool(body, "encrypt", &encrypt, &err) < 0 ||
	    json_get_str(body, "passphrase", &pass, &err) < 0 ||
	    json_get_int(body, "chunk_size", 0, 16 << 20, &chunk, &err) < 0 || !path) {
		fail(c, -EINVAL, err.len ? err.s : "field 'path' is required");
	} else {
		int r = svc_repo_create(path, encrypt, pass, (uint32_t)chunk, &out, &err);
		reply_result(c, r, 201, out, &err);
	}
	buf_release(&err);
}

void h_repo_show(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_repo_get(http_query(c->req, "path"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* POST /v1/repos/{add|default|forget|check|prune} {"path": ...} */
void h_repo_action(struct route_ctx *c)
{
	static const char *const keys[] = { "path", "keyfile", "passphrase", NULL };
	const char *act = c->seg[2], *path = NULL, *keyfile = NULL, *pass = NULL;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r;
	__do_json json_t *body = body_json(c, keys);

	if (!body)
		return;
	if (json_get_str(body, "path", &path, &err) < 0 || json_get_str(body, "keyfile", &keyfile, &err) < 0 ||
	    json_get_str(body, "passphrase", &pass, &err) < 0) {
		fail(c, -EINVAL, err.s);
	} else if ((keyfile || pass) && strcmp(act, "add") != 0) {
		fail(c, -EINVAL, "keyfile and passphrase only go with 'add'");
	} else if (strcmp(act, "add") == 0) {
		if (!path)
			fail(c, -EINVAL, "field 'path' is required");
		else {
			r = svc_repo_add(path, keyfile, pass, &out, &err);
			reply_result(c, r, 201, out, &err);
		}
	} else if (strcmp(act, "default") == 0 && !path) {
		fail(c, -EINVAL, "field 'path' is required");
	} else if (strcmp(act, "default") == 0) {
		r = svc_repo_set_default(path, &err);
		reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:s,s:s?}", "done", act, "path", path), &err);
	} else if (strcmp(act, "check") == 0) {
		r = svc_repo_verify(path, NULL, 0, &out, &err);
		reply_job(c, r, out, &err);
	} else if (strcmp(act, "prune") == 0) {
		r = svc_repo_prune(path, &out, &err);
		reply_job(c, r, out, &err);
	} else {
		fail(c, -ENOENT, "no such repository action (add, default, check, prune)");
	}
	buf_release(&err);
}

/* ---- backups ---- */

/* DELETE /v1/repos/{path}: forget a repository (its data and key stay). */
void h_repo_forget(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_repo_forget(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}

void h_backup_list(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_backup_list(http_query(c->req, "repo"), http_query(c->req, "vm"), &out, &err);
	if (r == 0)
		route_filter(c, out, "backups"); /* over TCP: only the backups of VMs the caller may read */
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:o}", "backups", out), &err);
	buf_release(&err);
}

void h_backup_run(struct route_ctx *c)
{
	static const char *const keys[] = { "vm", "policy", "repo", "os_disk_only", "no_freeze", "preview", NULL };
	struct svc_backup_opts o = { 0 };
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);

	if (!body)
		return;
	if (json_get_str(body, "vm", &o.vm, &err) < 0 || json_get_str(body, "policy", &o.policy, &err) < 0 ||
	    json_get_str(body, "repo", &o.repo, &err) < 0 || json_get_bool(body, "os_disk_only", &o.os_disk_only, &err) < 0 ||
	    json_get_bool(body, "no_freeze", &o.no_freeze, &err) < 0 || json_get_bool(body, "preview", &o.preview, &err) < 0) {
		fail(c, -EINVAL, err.s);
	} else {
		int r = svc_backup_run(&o, &out, &err);
		if (o.preview)
			reply_result(c, r, 200, out, &err);
		else
			reply_job(c, r, out, &err);
	}
	buf_release(&err);
}

void h_backup_show(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	const char *id = http_query(c->req, "id");

	if (!id) {
		fail(c, -EINVAL, "query parameter 'id' (a backup id) is required");
		return;
	}
	int r = svc_backup_show(http_query(c->req, "repo"), id, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* id, disk, partition of a files/content request; 0 or reply sent. */
static int file_ref(struct route_ctx *c, const char **id, long *disk, long *part)
{
	*disk = 0;
	*part = 0;
	if (!(*id = http_query(c->req, "id"))) {
		fail(c, -EINVAL, "query parameter 'id' (a backup id) is required");
		return -1;
	}
	if (query_int(c, "disk", 0, 63, disk) < 0 || query_int(c, "partition", 0, 256, part) < 0)
		return -1;
	return 0;
}

void h_backup_files(struct route_ctx *c)
{
	const char *id;
	long disk, part;
	json_t *out = NULL;
	struct buf err = BUF_INIT;

	if (file_ref(c, &id, &disk, &part) < 0)
		return;
	int r = svc_backup_ls(http_query(c->req, "repo"), id, (int)disk, (int)part, http_query(c->req, "lv"),
			      http_query(c->req, "path"), &out,
			      &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_backup_content(struct route_ctx *c)
{
	const char *id;
	long disk, part;
	struct buf err = BUF_INIT;
	uint64_t size;
	int fd;

	if (file_ref(c, &id, &disk, &part) < 0)
		return;
	int r = svc_backup_read(http_query(c->req, "repo"), id, (int)disk, (int)part, http_query(c->req, "lv"),
				http_query(c->req, "path"), &fd,
				&size, &err);
	if (r < 0)
		fail(c, r, err.s);
	else
		http_reply_stream(c->rep, fd, size);
	buf_release(&err);
}

void h_backup_restore(struct route_ctx *c)
{
	static const char *const keys[] = { "repo", "id", "name", "pool", "disk", "start", NULL };
	struct svc_restore_opts o = { .disk = -1 };
	int64_t disk = -1;
	json_t *job = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);

	if (!body)
		return;
	if (json_get_str(body, "repo", &o.repo, &err) < 0 || json_get_str(body, "id", &o.id, &err) < 0 ||
	    json_get_str(body, "name", &o.name, &err) < 0 || json_get_str(body, "pool", &o.pool, &err) < 0 ||
	    json_get_int(body, "disk", -1, 63, &disk, &err) < 0 || json_get_bool(body, "start", &o.start, &err) < 0) {
		fail(c, -EINVAL, err.s);
	} else if (!o.id) {
		fail(c, -EINVAL, "field 'id' is required");
	} else {
		o.disk = (int)disk;
		int r = svc_backup_restore(&o, &job, &err);
		reply_job(c, r, job, &err);
	}
	buf_release(&err);
}

void h_backup_verify(struct route_ctx *c)
{
	static const char *const keys[] = { "repo", "ids", "all", NULL };
	const char *repo = NULL;
	const char *ids[256];
	size_t n = 0, i;
	bool all = false;
	json_t *job = NULL, *v;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);

	if (!body)
		return;
	json_t *arr = json_object_get(body, "ids");
	if (json_get_str(body, "repo", &repo, &err) < 0 || json_get_bool(body, "all", &all, &err) < 0) {
		fail(c, -EINVAL, err.s);
		goto out;
	}
	if ((arr && (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > ARRAY_SIZE(ids))) ||
	    (!arr && !all) || (arr && all)) {
		fail(c, -EINVAL, "give either 'ids' (1 to 256 backup ids) or 'all': true");
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			fail(c, -EINVAL, "'ids' must hold strings");
			goto out;
		}
		ids[n++] = json_string_value(v);
	}
	int r = svc_repo_verify(repo, all ? NULL : ids, all ? 0 : n, &job, &err);
	reply_job(c, r, job, &err);
out:
	buf_release(&err);
}

/* DELETE /v1/backups/{id}[?repo=PATH] */
void h_backup_forget(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	__do_free char *id = NULL;
	int r = svc_backup_forget(http_query(c->req, "repo"), c->seg[2], &id, &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", id), &err);
	buf_release(&err);
}

/* ---- policies ---- */

void h_policy_list(struct route_ctx *c)
{
	http_reply_json(c->rep, 200, json_pack("{s:o}", "policies", svc_policy_list()));
}

/* POST /v1/policies: a policy object, or {"text": "<VmBackup-style file>", "name": optional}. */
void h_policy_put(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, NULL);
	int r;

	if (!body)
		return;
	const json_t *text = json_object_get(body, "text");
	if (text) {
		static const char *const keys[] = { "text", "name", NULL };
		const char *name = NULL;
		if (json_check_keys(body, "the request", keys, &err) < 0 || !json_is_string(text) ||
		    json_get_str(body, "name", &name, &err) < 0) {
			fail(c, -EINVAL, err.len ? err.s : "'text' must be a string");
			goto out;
		}
		r = svc_policy_put(NULL, json_string_value(text), name, &out, &err);
	} else {
		r = svc_policy_put(body, NULL, NULL, &out, &err);
	}
	reply_result(c, r, 201, out, &err);
out:
	buf_release(&err);
}

void h_policy_show(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_policy_get(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_policy_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_policy_delete(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}
