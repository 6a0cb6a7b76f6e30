/*
 * routes_ct.c - the handlers of /v1/containers (service/ct.h): list,
 * create, show, edit (PUT), delete, start/stop/kill (jobs), exec, the
 * console, limits and NICs, snapshots and clones, events, moving the
 * root to another pool, and offline
 * migration (the user's POST .../migrate, and /v1/migrations/ct... between
 * trusted hosts).
 * The route table is in routes.c.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "routes_internal.h"
#include "web/ws.h"
#include "api/console.h"
#include "service/ct.h"
#include "service/vm.h"
#include "util/jsonutil.h"
#include "util/cleanup.h"
#include "util/common.h"

void h_ct_list(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *j = svc_ct_list(http_query(c->req, "select"), &err);
	/* over TCP: only the containers the caller may read */
	route_filter(c, json_object_get(j, "containers"), "containers");
	reply_result(c, j ? 0 : -EINVAL, 200, j, &err);
	buf_release(&err);
}

void h_ct_create(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	__do_json json_t *body = body_json(c, NULL);
	if (!body)
		return;
	bool is_job = false;
	int r = svc_ct_create(body, &out, &is_job, &err);
	if (is_job)
		reply_job(c, r, out, &err);
	else
		reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_ct_show(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_show(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_delete(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_action(struct route_ctx *c)
{
	static const char *const keys[] = { "timeout", "force", NULL };
	struct ct_action_opts o = { .timeout_s = SVC_STOP_TIMEOUT_DEFAULT };
	struct buf err = BUF_INIT;
	int64_t timeout = -1;
	json_t *job = NULL;
	int a = ct_action_parse(c->seg[3]);
	if (a < 0) {
		fail(c, -ENOENT, "no such container action (start, stop, kill, reboot, exec, console, clone)");
		return;
	}
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_int(body, "timeout", 0, 3600, &timeout, &err) < 0 ||
	    json_get_bool(body, "force", &o.force, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	if (timeout >= 0)
		o.timeout_s = (int)timeout;
	int r = svc_ct_action_job(c->seg[2], (enum ct_action)a, &o, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

void h_ct_exec(struct route_ctx *c)
{
	static const char *const keys[] = { "command", "timeout", NULL };
	struct buf err = BUF_INIT;
	int64_t timeout = 60;
	json_t *out = NULL;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_int(body, "timeout", 1, 3600, &timeout, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	int r = svc_ct_exec(c->seg[2], json_object_get(body, "command"), (int)timeout, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_console(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int hold = -1;
	char accept[WS_ACCEPT_LEN + 1];
	bool ws = c->req->upgrade && strcasecmp(c->req->upgrade, "websocket") == 0;
	if (!ws && (!c->req->upgrade || strcmp(c->req->upgrade, "corral-console") != 0)) {
		fail(c, -EINVAL, "the console needs 'Connection: Upgrade' and 'Upgrade: corral-console' (or websocket)");
		return;
	}
	if (ws && route_ws_accept(c, accept, sizeof(accept)) < 0)
		return;
	int fd = svc_ct_console_open(c->seg[2], &hold, &err);
	if (fd < 0) {
		fail(c, fd, err.s);
	} else {
		if (ws)
			http_reply_header(c->rep, "Sec-WebSocket-Accept", accept);
		c->rep->upgrade_cb = ws ? console_relay_ws : console_relay;
		c->rep->upgrade_opaque = console_session_new_ct(c->seg[2], fd, hold);
	}
	buf_release(&err);
}

void h_ct_limits(struct route_ctx *c)
{
	static const char *const keys[] = { "cpu_weight", "cpu_limit", "memory_limit_mib", "pids_limit", NULL };
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	int r = svc_ct_limits_set(c->seg[2], body, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_nic_attach(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	__do_json json_t *body = body_json(c, NULL); /* the definition parser names unknown fields */
	if (!body)
		return;
	int r = svc_ct_nic_attach(c->seg[2], body, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_nic_detach(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_nic_detach(c->seg[2], c->seg[4], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_snap_list(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_snapshot_list(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* A {name} body: a snapshot's, or a clone's new name (NULL after a reply). */
static json_t *name_body(struct route_ctx *c, const char **name)
{
	static const char *const keys[] = { "name", NULL };
	struct buf err = BUF_INIT;
	json_t *body = body_json(c, keys);
	if (!body)
		return NULL;
	if (json_get_str(body, "name", name, &err) < 0 || !*name) {
		fail(c, -EINVAL, err.len ? err.s : "field 'name' is required");
		buf_release(&err);
		json_decref(body);
		return NULL;
	}
	return body;
}

void h_ct_snap_create(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	const char *name = NULL;
	json_t *job = NULL;
	__do_json json_t *body = name_body(c, &name);
	if (!body)
		return;
	int r = svc_ct_snapshot_create(c->seg[2], name, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

void h_ct_snap_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_snapshot_delete(c->seg[2], c->seg[4], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_snap_revert(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *job = NULL;
	int r = svc_ct_snapshot_revert(c->seg[2], c->seg[4], &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

void h_ct_clone(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	const char *name = NULL;
	json_t *job = NULL;
	__do_json json_t *body = name_body(c, &name);
	if (!body)
		return;
	int r = svc_ct_clone(c->seg[2], name, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

/* ---- offline migration (service/ct.h; docs/containers.md "Migration") ---- */

void h_ct_migrate(struct route_ctx *c)
{
	static const char *const keys[] = { "to", "bandwidth", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	const char *to = NULL;
	int64_t bw = 0;
	json_t *job = NULL;

	if (!b)
		return;
	if (json_get_str(b, "to", &to, &err) < 0 || json_get_int(b, "bandwidth", 1, INT64_MAX, &bw, &err) < 0 || !to) {
		fail(c, -EINVAL, err.len ? err.s : "give the host to migrate to: {\"to\": HOST}");
		buf_release(&err);
		return;
	}
	int r = svc_ct_migrate(c->seg[2], to, (uint64_t)bw, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

/* ---- storage (service/ct.h: svc_ct_move) ---- */

void h_ct_move(struct route_ctx *c)
{
	static const char *const keys[] = { "pool", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	const char *pool = NULL;
	json_t *job = NULL;

	if (!b)
		return;
	if (json_get_str(b, "pool", &pool, &err) < 0 || !pool) {
		fail(c, -EINVAL, err.len ? err.s : "give the pool to move the root to: {\"pool\": POOL}");
		buf_release(&err);
		return;
	}
	int r = svc_ct_move(c->seg[2], pool, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

void h_ct_migrate_prepare(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_ct_migrate_prepare checks the keys */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_ct_migrate_prepare(b, c->caller_host, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_migrate_step(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_ct_migrate_step(c->seg[3], c->seg[4], c->caller_host, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/*
 * The root stream of an outgoing container migration.  A GET (reads only,
 * so the route's privilege is a read one), but answered only to a trusted
 * host (its pinned client certificate) holding the one-time token of the
 * migration prepared for it: service/ct.h svc_ct_migrate_root.
 */
void h_ct_migrate_root(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int fd = -1;
	int r;

	if (!c->caller_host) {
		fail(c, -EACCES, "only the trusted host a container migration was prepared for may fetch its root");
		return;
	}
	r = svc_ct_migrate_root(c->seg[3], http_query(c->req, "token"), c->caller_host, &fd, &err);
	if (r < 0)
		fail(c, r, err.s);
	else
		http_reply_stream(c->rep, fd, HTTP_SIZE_UNKNOWN);
	buf_release(&err);
}

void h_ct_events(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	long limit = 100;

	if (query_int(c, "limit", 1, 10000, &limit) < 0)
		return;
	int r = svc_ct_events(c->seg[2], (int)limit, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ct_update(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_ct_update checks the definition */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_ct_update(c->seg[2], b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}
