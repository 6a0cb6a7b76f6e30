/*
 * routes.c - see routes.h.
 *
 * Paths are split on '/', each segment percent-decoded; then a table of
 * (method, pattern) picks the handler.  "{vm}" segments are selectors.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "routes.h"
#include "auth/auth.h"
#include "api/console.h"
#include "core/events.h"
#include "core/job.h"
#include "service/auth.h"
#include "service/appliance.h"
#include "service/autostart.h"
#include "service/clone.h"
#include "service/host.h"
#include "service/image.h"
#include "service/metrics.h"
#include "metrics/expo.h"
#include "service/reslimits.h"
#include "service/pool.h"
#include "service/snapshot.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"
#include "web/ws.h"

#include "routes_internal.h"

int api_errno_status(int err, const char **code)
{
	switch (err) {
	case -EINVAL: *code = "invalid_argument"; return 400;
	case -ENOENT: *code = "not_found"; return 404;
	case -EEXIST:
	case -EBUSY: *code = "conflict"; return 409;
	case -EAGAIN: *code = "busy"; return 409;
	case -ENOTSUP: *code = "unsupported"; return 422;
	case -ENOSPC: *code = "no_space"; return 507;
	case -ESHUTDOWN: *code = "unavailable"; return 503;
	case -ESTALE: *code = "precondition_failed"; return 412;
	case -EACCES: *code = "forbidden"; return 403;
	case -EROFS: *code = "read_only"; return 503; /* the pool's configuration cannot change now (docs/cluster.md) */
	case -ETIMEDOUT: *code = "timeout"; return 504;
	case -EHOSTUNREACH: /* another host (service/peer.h) could not be reached or answered wrongly */
	case -EREMOTEIO:
	case -EKEYREJECTED: *code = "peer_error"; return 502;
	default: *code = "internal"; return 500;
	}
}

void fail(struct route_ctx *c, int err, const char *msg)
{
	const char *code;
	int status = api_errno_status(err, &code);
	http_reply_error(c->rep, status, code, msg && *msg ? msg : "request failed");
}

static int percent_decode(const char *in, size_t len, char **out)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '%') {
			char hex[3] = { 0 };
			if (i + 2 >= len) {
				buf_release(&b);
				return -1;
			}
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			char *end;
			long v = strtol(hex, &end, 16);
			if (*end || v <= 0) {
				buf_release(&b);
				return -1;
			}
			buf_addch(&b, (char)v);
			i += 2;
		} else {
			buf_addch(&b, in[i]);
		}
	}
	*out = buf_detach(&b);
	return 0;
}

static int split_path(struct route_ctx *c, const char *path)
{
	const char *p = path;
	if (*p != '/')
		return -1;
	while (*p) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, "/");
		if (c->nseg == MAX_SEGS || percent_decode(p, n, &c->seg[c->nseg]) < 0)
			return -1;
		c->nseg++;
		p += n;
	}
	return 0;
}

json_t *body_json(struct route_ctx *c, const char *const *allowed)
{
	struct buf err = BUF_INIT;
	json_t *j = json_parse_object(c->req->body, c->req->body_len, &err);
	if (j && allowed && json_check_keys(j, "the request", allowed, &err) < 0) {
		json_decref(j);
		j = NULL;
	}
	if (!j)
		fail(c, -EINVAL, err.s);
	buf_release(&err);
	return j;
}

/* Exactly one VM for `sel`; 0 + uuid or reply sent. */
int one_vm(struct route_ctx *c, const char *sel, svc_uuid uuid)
{
	svc_uuid *list = NULL;
	size_t n;
	struct buf err = BUF_INIT;
	int r = svc_vm_select(sel, true, &list, &n, &err);
	if (r < 0)
		fail(c, r, err.s);
	else
		snprintf(uuid, sizeof(svc_uuid), "%s", list[0]);
	free(list);
	buf_release(&err);
	return r;
}

bool query_bool(struct route_ctx *c, const char *key)
{
	const char *v = http_query(c->req, key);
	return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

int query_int(struct route_ctx *c, const char *key, long min, long max, long *out)
{
	const char *v = http_query(c->req, key);
	int64_t n;

	if (!v)
		return 0;
	if (str_parse_int(v, min, max, &n) < 0) {
		struct buf msg = BUF_INIT;
		buf_printf(&msg, "%s must be a number between %ld and %ld", key, min, max);
		fail(c, -EINVAL, msg.s);
		buf_release(&msg);
		return -1;
	}
	*out = (long)n;
	return 0;
}

/* The VM of /v1/vms/{vm}/... into u and the request body (only `keys`); NULL: reply sent. */
static json_t *vm_body(struct route_ctx *c, svc_uuid u, const char *const *keys)
{
	return one_vm(c, c->seg[2], u) < 0 ? NULL : body_json(c, keys);
}

/* Answer an operation's result: its error when r < 0, else `out` (owned) with `status`. */
void reply_result(struct route_ctx *c, int r, int status, json_t *out, const struct buf *err)
{
	if (r < 0)
		fail(c, r, err->s);
	else
		http_reply_json(c->rep, status, out);
}

/* How long an answer waits for the job it started: a quick one (a container
 * start, a pause) is answered over, which spares the client following it. */
#define JOB_REPLY_GRACE_MS 100

/* reply_result for an operation that started a job: 202 {"job": job}, the
 * job as it is after at most JOB_REPLY_GRACE_MS. */
void reply_job(struct route_ctx *c, int r, json_t *job, const struct buf *err)
{
	if (r >= 0 && json_is_integer(json_object_get(job, "id"))) {
		int64_t id = json_integer_value(json_object_get(job, "id"));
		json_t *now;
		if (job_wait(id, JOB_REPLY_GRACE_MS) == 0 && (now = job_get(id))) {
			json_decref(job);
			job = now;
		}
	}
	reply_result(c, r, 202, r < 0 ? NULL : json_pack("{s:o}", "job", job), err);
}

/* reply_result for an operation that changed VM u: 200 and the VM as it is now. */
static void reply_vm(struct route_ctx *c, int r, const char *u, const struct buf *err)
{
	reply_result(c, r, 200, r < 0 ? NULL : svc_vm_show(u), err);
}

/* ---- handlers ----------------------------------------------------------- */

static void h_host(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_host_info()); }

static void h_vm_list(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	if (!route_scope_valid(c))
		return;
	json_t *j = svc_vm_list(http_query(c->req, "select"), &err);
	route_filter(c, json_object_get(j, "vms"), "vms");
	j = route_pool_vm_list(c, j);
	if (j)
		http_reply_json(c->rep, 200, j);
	else
		fail(c, -EINVAL, err.s);
	buf_release(&err);
}

static void h_vm_create(struct route_ctx *c)
{
	__do_json json_t *body = body_json(c, NULL);
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (!body)
		return;
	int r = svc_vm_create(body, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

/* ETag: the definition's generation, so a PUT with If-Match cannot overwrite a change it never saw. */
static void vm_etag(struct route_ctx *c, const json_t *vm)
{
	json_t *gen = json_object_get(json_object_get(vm, "status"), "generation");
	if (json_is_integer(gen)) {
		char tag[32];
		snprintf(tag, sizeof(tag), "\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(gen));
		http_reply_header(c->rep, "ETag", tag);
	}
}

static void h_vm_show(struct route_ctx *c)
{
	svc_uuid u;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	json_t *j = svc_vm_show(u);
	if (j) {
		vm_etag(c, j);
		http_reply_json(c->rep, 200, j);
	} else {
		fail(c, -ENOENT, "vm not found");
	}
}

/* If-Match: "N" (or W/"N") is generation N; absent or *: any (-1); else 400 sent and -2. */
static int64_t if_match(struct route_ctx *c)
{
	const char *v = http_header(c->req, "If-Match");
	int64_t gen;
	if (!v || strcmp(v, "*") == 0)
		return -1;
	if (strncmp(v, "W/", 2) == 0)
		v += 2;
	size_t n = strlen(v);
	__do_free char *inner = n >= 2 && v[0] == '"' && v[n - 1] == '"' ? xstrndup(v + 1, n - 2) : NULL;
	if (!inner || str_parse_int(inner, 0, INT64_MAX, &gen) < 0) {
		fail(c, -EINVAL, "If-Match must be the VM's ETag (a quoted generation number, as GET answered it)");
		return -2;
	}
	return gen;
}

static void h_vm_update(struct route_ctx *c)
{
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, NULL);
	int64_t gen;
	if (!body || (gen = if_match(c)) < -1)
		return;
	int r = svc_vm_update(u, body, gen, &out, &err);
	if (r == 0)
		vm_etag(c, out);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void h_vm_delete(struct route_ctx *c)
{
	svc_uuid *list = NULL;
	size_t n;
	struct buf err = BUF_INIT;
	int r = svc_vm_select(c->seg[2], false, &list, &n, &err);
	if (r < 0) {
		fail(c, r, err.s);
		buf_release(&err);
		return;
	}
	json_t *names = json_array(), *vols = json_array();
	int first_err = 0;
	struct buf errs = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		json_t *show = svc_vm_show(list[i]);
		const char *name = json_string_value(json_object_get(show, "name"));
		buf_reset(&err);
		r = svc_vm_delete(list[i], query_bool(c, "disks"), vols, &err);
		if (r == 0 || r == -EIO)
			json_array_append_new(names, json_string(name ? name : list[i]));
		if (r < 0) {
			if (!first_err)
				first_err = r;
			buf_printf(&errs, "%s%s", errs.len ? "; " : "", err.s);
		}
		json_decref(show);
	}
	if (first_err) {
		fail(c, first_err, errs.s);
		json_decref(names);
		json_decref(vols);
	} else {
		http_reply_json(c->rep, 200, json_pack("{s:o,s:o}", "deleted", names, "volumes_deleted", vols));
	}
	free(list);
	buf_release(&err);
	buf_release(&errs);
}

static void h_vm_action(struct route_ctx *c)
{
	static const struct {
		const char *name;
		enum vm_action a;
	} actions[] = { { "start", ACT_START }, { "stop", ACT_STOP },	  { "kill", ACT_KILL },
			{ "reboot", ACT_REBOOT }, { "pause", ACT_PAUSE }, { "resume", ACT_RESUME } };
	static const char *const stop_keys[] = { "timeout", "force", "kill", NULL };
	static const char *const reboot_keys[] = { "force", NULL };
	static const char *const no_keys[] = { NULL };
	struct svc_action_opts o = { .timeout_s = SVC_STOP_TIMEOUT_DEFAULT };
	enum vm_action a = ACT_START;
	bool found = false;
	struct buf err = BUF_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(actions); i++) {
		if (strcmp(c->seg[3], actions[i].name) == 0) {
			a = actions[i].a;
			found = true;
		}
	}
	if (!found) {
		fail(c, -ENOENT, "no such route");
		return;
	}
	__do_json json_t *body = body_json(c, a == ACT_STOP ? stop_keys : a == ACT_REBOOT ? reboot_keys : no_keys);
	if (!body)
		return;
	int64_t timeout = SVC_STOP_TIMEOUT_DEFAULT;
	if (json_get_int(body, "timeout", 0, 3600, &timeout, &err) < 0 || json_get_bool(body, "force", &o.force, &err) < 0 ||
	    json_get_bool(body, "kill", &o.kill, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	/* A stop kills only when asked in so many words (docs/api.md). */
	if (o.kill && o.force) {
		fail(c, -EINVAL, "\"force\" kills at once and \"kill\" kills after the timeout: give one of them");
		return;
	}
	if (o.kill && !json_object_get(body, "timeout")) {
		fail(c, -EINVAL, "\"kill\" needs an explicit \"timeout\" (seconds to wait before killing)");
		return;
	}
	o.timeout_s = (int)timeout;

	json_t *job = NULL;
	int r = svc_vm_action_job(c->seg[2], a, &o, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

/* Stop every guest of this host (service/autostart.h): what corrald does on
 * SIGTERM with shutdown_guests, on demand (a host's own shutdown script). */
static void h_host_shutdown_guests(struct route_ctx *c)
{
	static const char *const keys[] = { "timeout", NULL };
	int64_t timeout = SVC_STOP_TIMEOUT_DEFAULT;
	struct buf err = BUF_INIT;
	json_t *job = NULL;

	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_int(body, "timeout", 1, 3600, &timeout, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	int r = svc_guests_shutdown_job((int)timeout, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

static void h_vm_template(struct route_ctx *c)
{
	static const char *const no_keys[] = { NULL };
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, no_keys);
	if (!body)
		return;
	int r = svc_vm_template(u, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void h_vm_clone(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "linked", NULL };
	svc_uuid u;
	const char *name = NULL;
	bool linked = false;
	json_t *vm = NULL, *job = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, keys);
	if (!body)
		return;
	if (json_get_str(body, "name", &name, &err) < 0 || json_get_bool(body, "linked", &linked, &err) < 0 || !name) {
		fail(c, -EINVAL, err.len ? err.s : "field 'name' is required");
	} else {
		int r = svc_vm_clone(u, name, linked, &vm, &job, &err);
		if (r < 0)
			fail(c, r, err.s);
		else if (job)
			http_reply_json(c->rep, 202, json_pack("{s:o}", "job", job));
		else
			http_reply_json(c->rep, 201, vm);
	}
	buf_release(&err);
}

static void h_vm_import(struct route_ctx *c)
{
	static const char *const keys[] = { "path", "name", "pool", "network", "start", NULL };
	struct svc_import_opts o = { 0 };
	const char *path = NULL;
	json_t *job = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "path", &path, &err) < 0 || json_get_str(body, "name", &o.name, &err) < 0 ||
	    json_get_str(body, "pool", &o.pool, &err) < 0 || json_get_str(body, "network", &o.network, &err) < 0 ||
	    json_get_bool(body, "start", &o.start, &err) < 0 || !path) {
		fail(c, -EINVAL, err.len ? err.s : "field 'path' is required");
	} else {
		int r = svc_vm_import(path, &o, &job, &err);
		reply_job(c, r, job, &err);
	}
	buf_release(&err);
}

static void h_vm_events(struct route_ctx *c)
{
	svc_uuid u;
	long limit = 100;
	if (query_int(c, "limit", 1, 10000, &limit) < 0 || one_vm(c, c->seg[2], u) < 0)
		return;
	http_reply_json(c->rep, 200, json_pack("{s:o}", "events", svc_vm_events(u, (int)limit)));
}

static void h_vm_log(struct route_ctx *c)
{
	svc_uuid u;
	uint64_t tail = 64 * 1024;
	struct buf err = BUF_INIT;
	const char *t = http_query(c->req, "tail");
	if (t && (str_parse_size(t, 1, &tail) < 0 || tail == 0 || tail > (64u << 20))) {
		fail(c, -EINVAL, "tail must be a byte count between 1 and 64M");
		return;
	}
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_vm_log(u, tail, &c->rep->text, &err);
	if (r < 0)
		fail(c, r, err.s);
	else
		c->rep->status = 200;
	buf_release(&err);
}

static void h_vm_console(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	char accept[WS_ACCEPT_LEN + 1];
	bool ws = c->req->upgrade && strcasecmp(c->req->upgrade, "websocket") == 0;
	if (!ws && (!c->req->upgrade || strcmp(c->req->upgrade, "corral-console") != 0)) {
		fail(c, -EINVAL, "the console needs 'Connection: Upgrade' and 'Upgrade: corral-console' (or websocket)");
		return;
	}
	if ((ws && route_ws_accept(c, accept, sizeof(accept)) < 0) || one_vm(c, c->seg[2], u) < 0)
		return;
	int fd = svc_vm_console_open(u, query_bool(c, "force"), &err);
	if (fd < 0) {
		fail(c, fd == -EBUSY ? -EBUSY : fd, err.s);
	} else {
		if (ws)
			http_reply_header(c->rep, "Sec-WebSocket-Accept", accept);
		c->rep->upgrade_cb = ws ? console_relay_ws : console_relay;
		c->rep->upgrade_opaque = console_session_new(u, fd);
	}
	buf_release(&err);
}

/* GET /v1/vms/{vm}/vnc: the VNC display as a WebSocket (noVNC in the web UI). */
static void h_vm_vnc(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	char accept[WS_ACCEPT_LEN + 1];
	if (!c->req->upgrade || strcasecmp(c->req->upgrade, "websocket") != 0) {
		fail(c, -EINVAL, "the VNC display needs 'Connection: Upgrade' and 'Upgrade: websocket'");
		return;
	}
	if (route_ws_accept(c, accept, sizeof(accept)) < 0 || one_vm(c, c->seg[2], u) < 0)
		return;
	int fd = svc_vm_vnc_open(u, &err);
	if (fd < 0) {
		fail(c, fd == -ENOENT ? -EBUSY : fd, err.s);
	} else {
		const char *proto = http_header(c->req, "Sec-WebSocket-Protocol");
		http_reply_header(c->rep, "Sec-WebSocket-Accept", accept);
		if (proto && strstr(proto, "binary"))
			http_reply_header(c->rep, "Sec-WebSocket-Protocol", "binary");
		c->rep->upgrade_cb = console_relay_ws;
		c->rep->upgrade_opaque = console_session_new_fd(u, fd);
	}
	buf_release(&err);
}

static void h_vm_disk_attach(struct route_ctx *c)
{
	static const char *const keys[] = { "volume", "bus", "io", NULL };
	svc_uuid u;
	const char *vol = NULL, *bus = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, keys);
	if (!body)
		return;
	if (json_get_str(body, "volume", &vol, &err) < 0 || json_get_str(body, "bus", &bus, &err) < 0 || !vol) {
		fail(c, -EINVAL, err.len ? err.s : "field 'volume' is required");
	} else {
		int r = svc_vm_disk_attach_io(u, vol, bus, json_object_get(body, "io"), &err);
		reply_vm(c, r, u, &err);
	}
	buf_release(&err);
}

static void h_vm_limits(struct route_ctx *c)
{
	svc_uuid u;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	json_t *j = svc_vm_limits_show(u);
	if (j)
		http_reply_json(c->rep, 200, j);
	else
		fail(c, -ENOENT, "vm not found");
}

static void h_vm_limits_set(struct route_ctx *c)
{
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, NULL);
	int64_t gen;
	if (!body || (gen = if_match(c)) < -1)
		return;
	int r = svc_vm_limits_set(u, body, gen, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void h_vm_nic_attach(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, NULL); /* the definition parser names unknown fields */
	if (!body)
		return;
	int r = svc_vm_nic_attach(u, body, &err);
	reply_vm(c, r, u, &err);
	buf_release(&err);
}

static void h_vm_nic_detach(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_vm_nic_detach(u, c->seg[4], &err);
	reply_vm(c, r, u, &err);
	buf_release(&err);
}

static void h_vm_nic_link(struct route_ctx *c)
{
	static const char *const keys[] = { "up", NULL };
	svc_uuid u;
	bool up = true;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, keys);
	if (!body)
		return;
	if (!json_is_boolean(json_object_get(body, "up")) || json_get_bool(body, "up", &up, &err) < 0) {
		fail(c, -EINVAL, err.len ? err.s : "field 'up' (true or false) is required");
	} else {
		int r = svc_vm_nic_link(u, c->seg[4], up, &err);
		reply_vm(c, r, u, &err);
	}
	buf_release(&err);
}

static void h_vm_nic_set(struct route_ctx *c)
{
	static const char *const keys[] = { "bw", NULL };
	svc_uuid u;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, keys);
	if (!body)
		return;
	int r = svc_vm_nic_set(u, c->seg[4], body, &err);
	reply_vm(c, r, u, &err);
	buf_release(&err);
}

static void h_vm_disk_detach(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_vm_disk_detach(u, c->seg[4], &err);
	reply_vm(c, r, u, &err);
	buf_release(&err);
}

static void h_vm_cdrom(struct route_ctx *c, bool insert)
{
	static const char *const keys[] = { "path", NULL };
	svc_uuid u;
	const char *path = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = NULL;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	if (insert) {
		if (!(body = body_json(c, keys)))
			return;
		if (json_get_str(body, "path", &path, &err) < 0 || !path) {
			fail(c, -EINVAL, err.len ? err.s : "field 'path' is required");
			buf_release(&err);
			return;
		}
	}
	int r = svc_vm_cdrom(u, path, query_bool(c, "force"), &err);
	reply_vm(c, r, u, &err);
	buf_release(&err);
}

static void h_vm_cdrom_insert(struct route_ctx *c) { h_vm_cdrom(c, true); }
static void h_vm_cdrom_eject(struct route_ctx *c) { h_vm_cdrom(c, false); }

static void h_vol_list(struct route_ctx *c)
{
	json_t *j = svc_vol_list();
	route_filter(c, json_object_get(j, "volumes"), "volumes");
	http_reply_json(c->rep, 200, j);
}

static int body_size(struct route_ctx *c, json_t *body, uint64_t *size, struct buf *err)
{
	int64_t v = 0;
	int r = json_get_int(body, "size", 1, INT64_MAX, &v, err);
	if (r == 0)
		buf_adds(err, "field 'size' (bytes) is required");
	if (r <= 0) {
		fail(c, -EINVAL, err->s);
		return -1;
	}
	*size = (uint64_t)v;
	return 0;
}

static void h_vol_create(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "size", "format", "pool", NULL };
	const char *name = NULL, *format = NULL, *pool = NULL;
	uint64_t size;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "name", &name, &err) < 0 || json_get_str(body, "format", &format, &err) < 0 ||
	    json_get_str(body, "pool", &pool, &err) < 0 || !name) {
		fail(c, -EINVAL, err.len ? err.s : "field 'name' is required");
	} else if ((format && strcmp(format, "dir") == 0 && !json_object_get(body, "size") && (size = 0) == 0) ||
		   body_size(c, body, &size, &err) == 0) {
		int r = svc_vol_create(name, size, format, pool, &out, &err);
		reply_result(c, r, 201, out, &err);
	}
	buf_release(&err);
}

static void h_vol_import(struct route_ctx *c)
{
	static const char *const keys[] = { "path", "name", "format", "source_format", "pool", NULL };
	const char *path = NULL, *name = NULL, *format = NULL, *src_format = NULL, *pool = NULL;
	json_t *job = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "path", &path, &err) < 0 || json_get_str(body, "name", &name, &err) < 0 ||
	    json_get_str(body, "format", &format, &err) < 0 || json_get_str(body, "source_format", &src_format, &err) < 0 ||
	    json_get_str(body, "pool", &pool, &err) < 0 || !path) {
		fail(c, -EINVAL, err.len ? err.s : "field 'path' is required");
	} else {
		int r = svc_vol_import(path, name, format, src_format, pool, &job, &err);
		reply_job(c, r, job, &err);
	}
	buf_release(&err);
}

/* GET /v1/<things>/{name}: the object get() finds. */
static void show_named(struct route_ctx *c, int (*get)(const char *name, json_t **out, struct buf *err))
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = get(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* DELETE /v1/<things>/{name}: {"deleted": [name]} (every DELETE answers {"deleted": [...]}). */
static void delete_named(struct route_ctx *c, int (*del)(const char *name, struct buf *err))
{
	struct buf err = BUF_INIT;
	int r = del(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}

static void h_vol_show(struct route_ctx *c) { show_named(c, svc_vol_get); }
static void h_vol_delete(struct route_ctx *c) { delete_named(c, svc_vol_delete); }

static void h_vol_resize(struct route_ctx *c)
{
	static const char *const keys[] = { "size", NULL };
	uint64_t size;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (body_size(c, body, &size, &err) == 0) {
		int r = svc_vol_resize(c->seg[2], size, &out, &err);
		reply_result(c, r, 200, out, &err);
	}
	buf_release(&err);
}

/* ---- snapshots: /v1/vms/{vm}/snapshots[/{name}[/revert]] ---------------- */

static void h_snap_list(struct route_ctx *c)
{
	svc_uuid u;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	json_t *j = svc_snapshot_list(u, &err);
	reply_result(c, j ? 0 : -EIO, 200, j, &err);
	buf_release(&err);
}

static void h_snap_create(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "description", "memory", "no_freeze", NULL };
	const char *name = NULL, *desc = NULL;
	bool memory = false, no_freeze = false;
	json_t *out = NULL;
	svc_uuid u;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, keys);
	if (!body)
		return;
	if (json_get_str(body, "name", &name, &err) < 0 || json_get_str(body, "description", &desc, &err) < 0 ||
	    json_get_bool(body, "memory", &memory, &err) < 0 || json_get_bool(body, "no_freeze", &no_freeze, &err) < 0 ||
	    !name) {
		fail(c, -EINVAL, err.len ? err.s : "field 'name' is required");
	} else {
		int r = svc_snapshot_create_ex(u, name, desc, memory, no_freeze, &out, &err);
		reply_job(c, r, out, &err);
	}
	buf_release(&err);
}

static void h_snap_show(struct route_ctx *c)
{
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_snapshot_get(u, c->seg[4], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void h_snap_revert(struct route_ctx *c)
{
	static const char *const no_keys[] = { NULL };
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = vm_body(c, u, no_keys);
	if (!body)
		return;
	int r = svc_snapshot_revert(u, c->seg[4], &out, &err);
	reply_job(c, r, out, &err);
	buf_release(&err);
}

static void h_snap_delete(struct route_ctx *c)
{
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_snapshot_delete(u, c->seg[4], &out, &err);
	reply_job(c, r, out, &err);
	buf_release(&err);
}

static void h_job_list(struct route_ctx *c)
{
	const char *sel = http_query(c->req, "vm");
	svc_uuid u;
	if (sel && one_vm(c, sel, u) < 0)
		return;
	json_t *j = svc_job_list(sel ? u : NULL);
	route_filter(c, json_object_get(j, "jobs"), "jobs");
	http_reply_json(c->rep, 200, j);
}

/* The {id} of /v1/jobs/{id}[/...], or 0 when it is not a job id. */
static int64_t job_id_seg(const struct route_ctx *c)
{
	char *end;
	long long id = strtoll(c->seg[2], &end, 10);
	return *end || id <= 0 ? 0 : id;
}

static void h_job_show(struct route_ctx *c)
{
	int64_t id = job_id_seg(c);
	json_t *j = id ? svc_job_get(id) : NULL;
	if (!j)
		fail(c, -ENOENT, "job not found");
	else
		http_reply_json(c->rep, 200, j);
}

static void h_job_cancel(struct route_ctx *c)
{
	int64_t id = job_id_seg(c);
	json_t *job = NULL;
	struct buf err = BUF_INIT;
	if (!id) {
		fail(c, -ENOENT, "job not found");
		return;
	}
	int r = svc_job_cancel(id, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

static void h_vol_move(struct route_ctx *c)
{
	static const char *const keys[] = { "pool", NULL };
	const char *pool = NULL;
	json_t *job = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "pool", &pool, &err) < 0 || !pool) {
		fail(c, -EINVAL, err.len ? err.s : "field 'pool' is required");
	} else {
		int r = svc_vol_move(c->seg[2], pool, &job, &err);
		reply_job(c, r, job, &err);
	}
	buf_release(&err);
}

static void h_pool_list(struct route_ctx *c)
{
	json_t *j = svc_pool_list();
	route_filter(c, json_object_get(j, "pools"), "pools");
	http_reply_json(c->rep, 200, j);
}

static void h_pool_create(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "path", "shared", NULL };
	const char *name = NULL, *path = NULL;
	bool shared = false;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "name", &name, &err) < 0 || json_get_str(body, "path", &path, &err) < 0 ||
	    json_get_bool(body, "shared", &shared, &err) < 0 || !name || !path) {
		fail(c, -EINVAL, err.len ? err.s : "fields 'name' and 'path' are required");
	} else {
		int r = svc_pool_create(name, path, shared, &out, &err);
		reply_result(c, r, 201, out, &err);
	}
	buf_release(&err);
}

static void h_pool_show(struct route_ctx *c) { show_named(c, svc_pool_get); }
static void h_pool_delete(struct route_ctx *c) { delete_named(c, svc_pool_delete); }

/* ---- inside images: /v1/volumes/{name}/fs|content, /v1/images/fs|content?file= ---- */

/* The image of the request: volume {name} (segment 2 of /v1/volumes/...) or ?file=. 0 or reply sent. */
static int img_ref(struct route_ctx *c, bool volume, struct svc_img_ref *ref)
{
	const char *part = http_query(c->req, "partition");
	memset(ref, 0, sizeof(*ref));
	if (volume) {
		ref->volume = c->seg[2];
	} else if (!(ref->file = http_query(c->req, "file"))) {
		fail(c, -EINVAL, "query parameter 'file' (an absolute path of an image file) is required");
		return -1;
	}
	ref->snapshot = http_query(c->req, "snapshot");
	ref->lv = http_query(c->req, "lv");
	if (part && ref->lv) {
		fail(c, -EINVAL, "give either a partition or a logical volume (lv), not both");
		return -1;
	}
	if (part) {
		char *end;
		long n = strtol(part, &end, 10);
		if (*end || end == part || n < 1 || n > 256) {
			fail(c, -EINVAL, "partition must be a number between 1 and 256");
			return -1;
		}
		ref->partition = (int)n;
	}
	return 0;
}

static void img_inspect(struct route_ctx *c, bool volume)
{
	struct svc_img_ref ref;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (img_ref(c, volume, &ref) < 0)
		return;
	int r = svc_img_inspect(&ref, http_query(c->req, "path"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void img_content(struct route_ctx *c, bool volume)
{
	struct svc_img_ref ref;
	struct buf err = BUF_INIT;
	uint64_t size;
	int fd;
	if (img_ref(c, volume, &ref) < 0)
		return;
	int r = svc_img_read(&ref, http_query(c->req, "path"), &fd, &size, &err);
	if (r < 0)
		fail(c, r, err.s);
	else
		http_reply_stream(c->rep, fd, size);
	buf_release(&err);
}

static void h_vol_fs(struct route_ctx *c) { img_inspect(c, true); }
static void h_vol_content(struct route_ctx *c) { img_content(c, true); }
static void h_file_fs(struct route_ctx *c) { img_inspect(c, false); }
static void h_file_content(struct route_ctx *c) { img_content(c, false); }

static void h_vm_boot_entries(struct route_ctx *c)
{
	svc_uuid u;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0)
		return;
	int r = svc_vm_boot_entries(u, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* ?since= as seconds (default 1 h); 0 or reply sent. */
static int stats_since(struct route_ctx *c, int64_t *since)
{
	const char *v = http_query(c->req, "since");
	struct buf err = BUF_INIT;
	int r = 0;
	*since = 3600;
	if (v && (r = svc_metrics_since_parse(v, since, &err)) < 0)
		fail(c, r, err.s);
	buf_release(&err);
	return r;
}

static void h_vm_stats(struct route_ctx *c)
{
	svc_uuid u;
	int64_t since;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (one_vm(c, c->seg[2], u) < 0 || stats_since(c, &since) < 0)
		return;
	int r = svc_metrics_vm(u, since, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

static void h_host_stats(struct route_ctx *c)
{
	int64_t since;
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	if (stats_since(c, &since) < 0)
		return;
	int r = svc_metrics_host(since, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* GET /metrics: the newest sample as Prometheus text (docs/metrics.md). */
static void h_metrics(struct route_ctx *c)
{
	c->rep->status = 200;
	svc_metrics_prometheus(&c->rep->text);
	http_reply_header(c->rep, "Content-Type", EXPO_CONTENT_TYPE);
}

/* ---- table -------------------------------------------------------------- */

struct route {
	const char *method;
	const char *pattern[MAX_SEGS]; /* "{name}" matches any one segment */
	void (*fn)(struct route_ctx *);
	const char *query;	/* "name:type,..." it accepts, or NULL */
	const char *body;	/* what the body holds, for the description, or NULL */
	int ok;			/* status of success */
	const char *summary;
	enum auth_priv priv;	/* what a caller over TCP needs on the object the path names (routes_auth.c) */
};

static void h_openapi(struct route_ctx *c);

/*
 * The API: one table serves the router, query validation and
 * GET /v1/openapi.json.  `query` lists the parameters a route takes as
 * "name:type" (type str, int or bool), comma-separated; anything else in the
 * query string is refused with 400.  `ok` is the status of success: 200, 201
 * (created), 202 (a job was started: {"job": ...}); `body` names what the
 * request body is (NULL: none).  `priv` is the privilege a caller over
 * TCP needs on the object the path names (routes_auth.c, docs/remote.md):
 * a GET needs a read privilege (*.Audit), anything else one that changes;
 * test_auth fails for a route without one.
 */
static const struct route routes[] = {
	{ "GET", { "v1", "host" }, h_host, NULL, NULL, 200, "the host: QEMU, accelerator, capacity, VM counts",
	  AUTH_SYS_AUDIT },
	{ "GET", { "v1", "host", "stats" }, h_host_stats, "since:str", NULL, 200,
	  "the host's CPU, memory, load and pool usage over time (since: 1h, 30m, 2d...)", AUTH_SYS_AUDIT },
	{ "GET", { "metrics" }, h_metrics, NULL, NULL, 200,
	  "the newest sample of the host and its running VMs in the Prometheus text format 0.0.4", AUTH_SYS_AUDIT },
	{ "GET", { "v1", "host", "export" }, h_host_export, NULL, NULL, 200,
	  "every definition this host holds (no secrets)", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "host", "shutdown-guests" }, h_host_shutdown_guests, NULL, "{timeout}", 202,
	  "stop every guest at once (ACPI, reverse start order), killing those still running after timeout",
	  AUTH_SYS_MODIFY },
	{ "GET", { "v1", "host", "trust" }, h_trust_list, NULL, NULL, 200, "the hosts this host trusts (mutual TLS)",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "host", "trust" }, h_trust_add, NULL, "{url, fingerprint, token, name, self_url}", 201,
	  "trust another host both ways (its API token is its administrator's consent)", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "host", "trust", "probe" }, h_trust_probe, NULL, "{url}", 200,
	  "connect to a host and show its certificate's fingerprint, trusting nothing", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "host", "trust", "join" }, h_trust_join, NULL, "{name, url | port}", 201,
	  "another host asks to be trusted, with its certificate as TLS client certificate", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "host", "trust", "ping" }, h_trust_ping, NULL, NULL, 200,
	  "a trusted host asks to be called back (proves trust both ways)", AUTH_HOST_PEER },
	{ "POST", { "v1", "host", "trust", "leave" }, h_trust_leave, NULL, NULL, 200,
	  "a trusted host asks to be forgotten (it stopped trusting this host)", AUTH_HOST_PEER },
	{ "DELETE", { "v1", "host", "trust", "{host}" }, h_trust_remove, NULL, NULL, 200,
	  "stop trusting a host (it is told to forget this host too)", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "host", "evacuate" }, h_host_evacuate, NULL, "{host, to, parallel}", 202,
	  "live-migrate every running VM off this host (or host) to trusted hosts, parallel at a time (a job)",
	  AUTH_SYS_MODIFY },
	{ "GET", { "v1", "hosts" }, h_hosts, NULL, NULL, 200,
	  "this host and every trusted host: reachable or not, their VMs and pools", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "migrations", "incoming" }, h_migrate_prepare, NULL,
	  "{vm, source, address, psk, disks, cpu}", 200,
	  "a trusted host prepares to send a VM here: define it, make its volumes, start QEMU listening", AUTH_HOST_PEER },
	{ "POST", { "v1", "migrations", "incoming", "{vm}", "{step}" }, h_migrate_step, NULL, "{resume}", 200,
	  "a trusted host ends an incoming migration: finish (resume the VM here), abort (remove it), release (end the "
	  "export of its replica here), or asks its status",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "replicas" }, h_replica_create, NULL, "{vm, name, source, address, psk, disks}", 200,
	  "the VM's host asks this host to hold a replica of its local disks: volumes made, served over NBD (docs/ha.md)",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "replicas", "{vm}", "export" }, h_replica_export, NULL, "{psk}", 200,
	  "the VM's host asks for the replica's NBD export again, with a new key (a resume)", AUTH_HOST_PEER },
	{ "DELETE", { "v1", "replicas", "{vm}" }, h_replica_delete, "keep:bool", NULL, 200,
	  "the VM's host stopped replicating: the replica's export and volumes removed (keep: the volumes stay, "
	  "marked as a stale copy of the VM)", AUTH_HOST_PEER },
	{ "POST", { "v1", "replicas", "{vm}", "hashes" }, h_replica_hashes, NULL, "{volume, offset, count, chunk}", 200,
	  "the VM's host asks for the SHA-256 of a page of chunks of a replica volume (the compare pass onto a stale "
	  "copy, docs/ha.md)", AUTH_HOST_PEER },
	{ "POST", { "v1", "migrations", "offline" }, h_migrate_offline_prepare, NULL, "{vm, source, address, psk, disks}",
	  200, "a trusted host prepares to send a stopped VM here: define it held, make its volumes, serve them over NBD",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "migrations", "offline", "{vm}", "{step}" }, h_migrate_offline_step, NULL, NULL, 200,
	  "a trusted host ends an incoming offline migration: finish (keep the VM here), abort (remove it), or asks its "
	  "status",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "migrations", "ct" }, h_ct_migrate_prepare, NULL, "{container, source, token, bytes}", 200,
	  "a trusted host prepares to send a stopped container here: its directory made, held, no row yet",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "migrations", "ct", "{uuid}", "{step}" }, h_ct_migrate_step, NULL, NULL, 200,
	  "a trusted host moves an incoming container on: pull (fetch its root from the source), finish (keep it "
	  "here), abort (remove it), or asks its status",
	  AUTH_HOST_PEER },
	{ "GET", { "v1", "migrations", "ct", "{uuid}", "root" }, h_ct_migrate_root, "token:str", NULL, 200,
	  "the destination of a container migration fetches its root (a tar stream; only the trusted host it was "
	  "prepared for, with the token from prepare)",
	  AUTH_SYS_AUDIT },
	{ "GET", { "v1", "openapi.json" }, h_openapi, NULL, NULL, 200, "this API described as OpenAPI 3.0",
	  AUTH_SYS_AUDIT },
	{ "GET", { "v1", "vms" }, h_vm_list, "select:str,scope:str", NULL, 200,
	  "list VMs (a selector narrows it); in a pool every member's, each with its host (scope=local: this host's)",
	  AUTH_VM_AUDIT },
	{ "POST", { "v1", "vms" }, h_vm_create, NULL, "VM definition", 201, "define a VM", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "import" }, h_vm_import, NULL, "{path, name, pool, network, start}", 202,
	  "import an OVA or OVF appliance as a new VM (a job)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "vms", "{vm}" }, h_vm_show, NULL, NULL, 200, "a VM's definition and status", AUTH_VM_AUDIT },
	{ "PUT", { "v1", "vms", "{vm}" }, h_vm_update, NULL, "VM definition", 200,
	  "replace a stopped VM's definition (If-Match: the ETag GET gave: 412 if it changed since)", AUTH_VM_CONFIG },
	{ "DELETE", { "v1", "vms", "{vm}" }, h_vm_delete, "disks:bool", NULL, 200,
	  "delete VMs (with disks=true their volumes too)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "vms", "{vm}", "events" }, h_vm_events, "limit:int", NULL, 200, "a VM's recorded events",
	  AUTH_VM_AUDIT },
	{ "GET", { "v1", "vms", "{vm}", "log" }, h_vm_log, "tail:int", NULL, 200, "a VM's serial console history",
	  AUTH_VM_AUDIT },
	{ "GET", { "v1", "vms", "{vm}", "console" }, h_vm_console, "force:bool", NULL, 101,
	  "the serial console (Upgrade: corral-console, or websocket for browsers)", AUTH_VM_CONSOLE },
	{ "GET", { "v1", "vms", "{vm}", "vnc" }, h_vm_vnc, NULL, NULL, 101,
	  "the VNC display as a WebSocket (Upgrade: websocket; for noVNC)", AUTH_VM_CONSOLE },
	{ "GET", { "v1", "vms", "{vm}", "stats" }, h_vm_stats, "since:str", NULL, 200,
	  "a VM's CPU, memory, disk and network use over time (since: 1h, 30m, 2d...)", AUTH_VM_AUDIT },
	{ "GET", { "v1", "vms", "{vm}", "limits" }, h_vm_limits, NULL, NULL, 200,
	  "a VM's resource limits: configured, and in effect while it runs", AUTH_VM_AUDIT },
	{ "POST", { "v1", "vms", "{vm}", "limits" }, h_vm_limits_set, NULL,
	  "{cpu_weight, cpu_limit, cpuset, memory_limit_mib, memory_target_mib, disks}", 200,
	  "change a VM's resource limits (live when running; If-Match: the ETag)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "disks" }, h_vm_disk_attach, NULL, "{volume, bus, io}", 200,
	  "attach a volume (hot-plug when running)", AUTH_VM_CONFIG },
	{ "DELETE", { "v1", "vms", "{vm}", "disks", "{volume}" }, h_vm_disk_detach, NULL, NULL, 200,
	  "detach a volume (hot-unplug when running)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "nics" }, h_vm_nic_attach, NULL, "NIC {mode, network, model, mac}", 200,
	  "add a NIC (hot-plug when running: network NICs)", AUTH_VM_CONFIG },
	{ "DELETE", { "v1", "vms", "{vm}", "nics", "{mac}" }, h_vm_nic_detach, NULL, NULL, 200,
	  "remove a NIC (hot-unplug when running: NICs hot-plugged before)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "nics", "{mac}" }, h_vm_nic_set, NULL, "{bw}", 200,
	  "change a NIC's bandwidth limit (live when running)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "nics", "{mac}", "link" }, h_vm_nic_link, NULL, "{up}", 200,
	  "set a running VM's NIC link up or down", AUTH_VM_POWER },
	{ "POST", { "v1", "vms", "{vm}", "cdrom" }, h_vm_cdrom_insert, NULL, "{path, force}", 200,
	  "insert a CD-ROM medium", AUTH_VM_CONFIG },
	{ "DELETE", { "v1", "vms", "{vm}", "cdrom" }, h_vm_cdrom_eject, "force:bool", NULL, 200,
	  "eject the CD-ROM medium", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "template" }, h_vm_template, NULL, NULL, 200,
	  "make a stopped VM a read-only template", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "clone" }, h_vm_clone, NULL, "{name, linked}", 202,
	  "clone a VM (linked: 201 with the VM; full: a job)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "vms", "{vm}", "snapshots" }, h_snap_list, NULL, NULL, 200, "a VM's snapshot tree",
	  AUTH_VM_AUDIT },
	{ "POST", { "v1", "vms", "{vm}", "snapshots" }, h_snap_create, NULL, "{name, description, memory, no_freeze}", 202,
	  "take a snapshot (a job)", AUTH_VM_SNAPSHOT },
	{ "GET", { "v1", "vms", "{vm}", "snapshots", "{snapshot}" }, h_snap_show, NULL, NULL, 200, "one snapshot",
	  AUTH_VM_AUDIT },
	{ "DELETE", { "v1", "vms", "{vm}", "snapshots", "{snapshot}" }, h_snap_delete, NULL, NULL, 202,
	  "delete a snapshot (a job)", AUTH_VM_SNAPSHOT },
	{ "POST", { "v1", "vms", "{vm}", "snapshots", "{snapshot}", "revert" }, h_snap_revert, NULL, NULL, 202,
	  "revert to a snapshot (a job)", AUTH_VM_SNAPSHOT },
	{ "GET", { "v1", "vms", "{vm}", "boot-entries" }, h_vm_boot_entries, NULL, NULL, 200,
	  "the boot entries of the VM's first disk", AUTH_VM_AUDIT },
	{ "POST", { "v1", "vms", "{vm}", "migrate" }, h_vm_migrate, NULL,
	  "{to, with_local_disks, max_downtime_ms, bandwidth, offline, quick}", 202,
	  "migrate a VM to a trusted host: live, quick, or a stopped one with offline (a job; docs/migration.md)",
	  AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "replicate" }, h_vm_replicate, NULL, "{to, reuse, compare_rate}", 200,
	  "replicate a running VM's local disks synchronously to a trusted host (docs/ha.md)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "vms", "{vm}", "replicate" }, h_vm_replicate_show, NULL, NULL, 200,
	  "the VM's replication: peer, state, percent, since", AUTH_VM_AUDIT },
	{ "DELETE", { "v1", "vms", "{vm}", "replicate" }, h_vm_replicate_stop, "keep_replica:bool", NULL, 200,
	  "stop replicating the VM (its replica is removed on the peer; keep_replica: kept there as a stale copy)",
	  AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "replicate", "resume" }, h_vm_replicate_resume, NULL, NULL, 200,
	  "copy what changed to the replica again after a failure (degraded) or a restart (stopped)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "vms", "{vm}", "{action}" }, h_vm_action, NULL, "{timeout, force, kill}", 202,
	  "start, stop, kill, reboot, pause or resume (a job)", AUTH_VM_POWER },
	{ "GET", { "v1", "containers" }, h_ct_list, "select:str", NULL, 200,
	  "list system containers (a selector narrows it)", AUTH_VM_AUDIT },
	{ "POST", { "v1", "containers" }, h_ct_create, NULL,
	  "{name, template [release] | tarball | rootfs, privileged, description, nics, limits}", 201,
	  "define a system container (liblxc; docs/containers.md); 202 and a job for a tarball or the debian template",
	  AUTH_VM_CONFIG },
	{ "GET", { "v1", "containers", "{container}" }, h_ct_show, NULL, NULL, 200,
	  "a container's definition and status", AUTH_VM_AUDIT },
	{ "DELETE", { "v1", "containers", "{container}" }, h_ct_delete, NULL, NULL, 200,
	  "delete a stopped container and everything corral made for it", AUTH_VM_CONFIG },
	{ "GET", { "v1", "containers", "{container}", "console" }, h_ct_console, NULL, NULL, 101,
	  "the container's console (Upgrade: corral-console, or websocket)", AUTH_VM_CONSOLE },
	{ "POST", { "v1", "containers", "{container}", "exec" }, h_ct_exec, NULL, "{command, timeout}", 200,
	  "run a command in a running container: its exit status and output", AUTH_VM_CONSOLE },
	{ "POST", { "v1", "containers", "{container}", "nics" }, h_ct_nic_attach, NULL, "NIC {network, mac}", 200,
	  "add a NIC to a stopped container", AUTH_VM_CONFIG },
	{ "DELETE", { "v1", "containers", "{container}", "nics", "{mac}" }, h_ct_nic_detach, NULL, NULL, 200,
	  "remove a stopped container's NIC", AUTH_VM_CONFIG },
	{ "POST", { "v1", "containers", "{container}", "limits" }, h_ct_limits, NULL,
	  "{cpu_weight, cpu_limit, memory_limit_mib, pids_limit}", 200,
	  "change a container's cgroup limits (live when running; null: no limit)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "containers", "{container}", "snapshots" }, h_ct_snap_list, NULL, NULL, 200,
	  "a container's snapshots (name, created, method, size)", AUTH_VM_AUDIT },
	{ "POST", { "v1", "containers", "{container}", "snapshots" }, h_ct_snap_create, NULL, "{name}", 202,
	  "snapshot a stopped container's root (a job)", AUTH_VM_SNAPSHOT },
	{ "DELETE", { "v1", "containers", "{container}", "snapshots", "{snapshot}" }, h_ct_snap_delete, NULL, NULL,
	  200, "delete a container's snapshot", AUTH_VM_SNAPSHOT },
	{ "POST", { "v1", "containers", "{container}", "snapshots", "{snapshot}", "revert" }, h_ct_snap_revert, NULL,
	  NULL, 202, "put a stopped container's root back to a snapshot (a job)", AUTH_VM_SNAPSHOT },
	{ "POST", { "v1", "containers", "{container}", "clone" }, h_ct_clone, NULL, "{name}", 202,
	  "clone a stopped container under a new name (a job)", AUTH_VM_CONFIG },
	{ "PUT", { "v1", "containers", "{container}" }, h_ct_update, NULL, "container definition", 200,
	  "replace a stopped container's definition (not its name, uuid, root or privileged)", AUTH_VM_CONFIG },
	{ "GET", { "v1", "containers", "{container}", "events" }, h_ct_events, "limit:int", NULL, 200,
	  "a container's recorded events, oldest first", AUTH_VM_AUDIT },
	{ "POST", { "v1", "containers", "{container}", "move" }, h_ct_move, NULL, "{pool}", 202,
	  "move a stopped container's root (and its snapshots) to another storage pool (a job; docs/containers.md, Storage)",
	  AUTH_VM_CONFIG },
	{ "POST", { "v1", "containers", "{container}", "migrate" }, h_ct_migrate, NULL, "{to, bandwidth}", 202,
	  "move a stopped container to a trusted host (a job; docs/containers.md, Migration)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "containers", "{container}", "{action}" }, h_ct_action, NULL, "{timeout, force}", 202,
	  "start, stop (halt signal, then kill with force), kill or reboot (stop, then start) containers (a job)", AUTH_VM_POWER },
	{ "GET", { "v1", "cluster" }, h_cluster_status, NULL, NULL, 200,
	  "this host's cluster: nodes, their links, quorum, votes, ring id (from corosync)", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "cluster" }, h_cluster_create, NULL, "{name, links, token_ms}", 201,
	  "make this host the first node of a new cluster (corrald writes corosync.conf and runs corosync)",
	  AUTH_SYS_MODIFY },
	{ "POST", { "v1", "cluster", "join" }, h_cluster_join, NULL, "{host, links}", 200,
	  "join the cluster of a trusted host (by name or URL)", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "cluster", "leave" }, h_cluster_leave, NULL, NULL, 200,
	  "leave the cluster: the other nodes remove this host, then corosync stops here", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "cluster", "resync" }, h_cluster_resync, NULL, "{discard_local}", 200,
	  "a host whose copy of the pool configuration forked takes the pool's, discarding its own",
	  AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "cluster", "nodes", "{node}" }, h_cluster_node_remove, "force:bool", NULL, 200,
	  "remove a node that is down from the cluster (the other nodes are told; force: without quorum)",
	  AUTH_SYS_MODIFY },
	{ "POST", { "v1", "cluster", "peer", "join" }, h_cluster_peer, NULL, "{name, links}", 200,
	  "a trusted host asks to be added to this host's cluster: the definition and key in the answer",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "cluster", "peer", "leave" }, h_cluster_peer, NULL, NULL, 200,
	  "a node of this host's cluster asks to be removed from it", AUTH_HOST_PEER },
	{ "PUT", { "v1", "cluster", "peer", "config" }, h_cluster_peer, NULL, "{cluster}", 200,
	  "a node sends the cluster's new definition (a node added or removed): written and reloaded here",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "cluster", "peer", "qdevice-request" }, h_cluster_peer, NULL, "{cluster}", 200,
	  "a node of this host's two-node cluster asks for this node's qdevice certificate request (a key made here)",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "cluster", "peer", "qdevice-cert" }, h_cluster_peer, NULL, "{cluster, ca, cert, drop}", 200,
	  "a node hands this node its qdevice certificate signed by the witness (drop: undo a failed add)",
	  AUTH_HOST_PEER },
	{ "POST", { "v1", "cluster", "witness" }, h_cluster_witness_add, NULL, "{host, address, heuristics_ping}", 200,
	  "give a two-node cluster a witness (a trusted host running corral witness init): qdevice on both nodes",
	  AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "cluster", "witness" }, h_cluster_witness_remove, NULL, NULL, 200,
	  "remove the cluster's witness (corosync-qdevice stops on every node)", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "witness" }, h_witness_status, NULL, NULL, 200,
	  "this host as a witness: corosync-qnetd, its port, the pools connected and signed for", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "witness" }, h_witness_create, NULL, "{port}", 201,
	  "make this host a witness of two-node pools: a CA, and corosync-qnetd run and supervised by corrald",
	  AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "witness" }, h_witness_remove, "force:bool", NULL, 200,
	  "stop being a witness: corosync-qnetd stops, its CA is removed (force: while pools are connected)",
	  AUTH_SYS_MODIFY },
	{ "POST", { "v1", "witness", "peer", "sign" }, h_witness_peer_sign, NULL, "{cluster, csr}", 200,
	  "a node of a pool (a trusted host) has its qdevice certificate request signed by this witness's CA",
	  AUTH_HOST_PEER },
	{ "GET", { "v1", "volumes" }, h_vol_list, NULL, NULL, 200, "list volumes", AUTH_STORE_AUDIT },
	{ "POST", { "v1", "volumes" }, h_vol_create, NULL, "{name, size, format, pool}", 201, "create a volume",
	  AUTH_STORE_ALLOCATE },
	{ "POST", { "v1", "volumes", "import" }, h_vol_import, NULL, "{path, name, format, source_format, pool}", 202,
	  "import an image file as a volume (a job)", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "volumes", "{volume}" }, h_vol_show, NULL, NULL, 200, "one volume", AUTH_STORE_AUDIT },
	{ "DELETE", { "v1", "volumes", "{volume}" }, h_vol_delete, NULL, NULL, 200, "delete a volume",
	  AUTH_STORE_ALLOCATE },
	{ "POST", { "v1", "volumes", "{volume}", "resize" }, h_vol_resize, NULL, "{size}", 200, "grow a volume",
	  AUTH_STORE_ALLOCATE },
	{ "POST", { "v1", "volumes", "{volume}", "move" }, h_vol_move, NULL, "{pool}", 202,
	  "move a volume to another pool (a job; live when its VM runs)", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "volumes", "{volume}", "fs" }, h_vol_fs, "path:str,partition:int,lv:str,snapshot:str", NULL, 200,
	  "partitions, or a directory listing, inside a volume", AUTH_STORE_AUDIT },
	{ "GET", { "v1", "volumes", "{volume}", "content" }, h_vol_content, "path:str,partition:int,lv:str,snapshot:str",
	  NULL, 200, "a file inside a volume (streamed)", AUTH_STORE_AUDIT },
	{ "GET", { "v1", "images", "fs" }, h_file_fs, "file:str,path:str,partition:int,lv:str,snapshot:str", NULL, 200,
	  "partitions, or a directory listing, inside an image file", AUTH_STORE_AUDIT },
	{ "GET", { "v1", "images", "content" }, h_file_content, "file:str,path:str,partition:int,lv:str,snapshot:str", NULL,
	  200, "a file inside an image file (streamed)", AUTH_STORE_AUDIT },
	{ "GET", { "v1", "pools" }, h_pool_list, NULL, NULL, 200, "list storage pools", AUTH_STORE_AUDIT },
	{ "POST", { "v1", "pools" }, h_pool_create, NULL, "{name, path, shared}", 201, "create a storage pool",
	  AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "pools", "{pool}" }, h_pool_show, NULL, NULL, 200, "one storage pool", AUTH_STORE_AUDIT },
	{ "DELETE", { "v1", "pools", "{pool}" }, h_pool_delete, NULL, NULL, 200, "forget an empty storage pool",
	  AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "networks" }, h_net_list, NULL, NULL, 200, "list networks with their state on this host",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "networks" }, h_net_create, NULL, "network definition", 201,
	  "create a network (bridge, dnsmasq, firewall table) or attach to a host bridge", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "networks", "{network}" }, h_net_show, NULL, NULL, 200, "a network's definition and state",
	  AUTH_SYS_AUDIT },
	{ "DELETE", { "v1", "networks", "{network}" }, h_net_delete, NULL, NULL, 200,
	  "delete an unused network and everything corral made for it", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "networks", "{network}", "leases" }, h_net_leases, NULL, NULL, 200,
	  "the network's DHCP leases, with the VM of each", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "networks", "{network}", "forwards" }, h_net_forward_add, NULL, "{host, guest}", 201,
	  "forward a host port to a VM (host tcp:PORT or udp:PORT, guest VM:PORT)", AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "networks", "{network}", "forwards", "{forward}" }, h_net_forward_delete, NULL, NULL, 200,
	  "remove a port forward (tcp:PORT or udp:PORT)", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "repos" }, h_repo_list, NULL, NULL, 200, "list backup repositories", AUTH_STORE_AUDIT },
	{ "POST", { "v1", "repos" }, h_repo_create, NULL, "{path, encrypt, passphrase, chunk_size}", 201,
	  "create a backup repository", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "repos", "show" }, h_repo_show, "path:str", NULL, 200, "one backup repository",
	  AUTH_STORE_AUDIT },
	{ "DELETE", { "v1", "repos", "{path}" }, h_repo_forget, NULL, NULL, 200,
	  "forget a repository (its data stays)", AUTH_STORE_ALLOCATE },
	{ "POST", { "v1", "repos", "{action}" }, h_repo_action, NULL, "{path, keyfile, passphrase}", 200,
	  "add, default, check (a job) or prune (a job)", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "backups" }, h_backup_list, "repo:str,vm:str", NULL, 200, "list backups", AUTH_STORE_AUDIT },
	{ "POST", { "v1", "backups" }, h_backup_run, NULL, "{vm | policy, repo, os_disk_only, no_freeze, preview}", 202,
	  "back up VMs (or one container: vm names it) now (a job)", AUTH_VM_BACKUP },
	{ "GET", { "v1", "backups", "show" }, h_backup_show, "repo:str,id:str", NULL, 200, "one backup",
	  AUTH_STORE_AUDIT },
	{ "GET", { "v1", "backups", "files" }, h_backup_files, "repo:str,id:str,disk:int,partition:int,lv:str,path:str",
	  NULL, 200, "partitions, or a directory listing, inside a backup's disk or a container's backup", AUTH_STORE_AUDIT },
	{ "GET", { "v1", "backups", "content" }, h_backup_content,
	  "repo:str,id:str,disk:int,partition:int,lv:str,path:str", NULL, 200, "a file inside a backup (streamed)",
	  AUTH_STORE_AUDIT },
	{ "POST", { "v1", "backups", "restore" }, h_backup_restore, NULL, "{repo, id, name, pool, disk, start}", 202,
	  "restore a backup: a VM, a disk or a container (a job)", AUTH_VM_CONFIG },
	{ "POST", { "v1", "backups", "verify" }, h_backup_verify, NULL, "{repo, ids, all}", 202,
	  "verify backups (a job)", AUTH_VM_BACKUP },
	{ "DELETE", { "v1", "backups", "{backup}" }, h_backup_forget, "repo:str", NULL, 200,
	  "forget a backup (prune frees its data)", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "policies" }, h_policy_list, NULL, NULL, 200, "list backup policies", AUTH_STORE_AUDIT },
	{ "POST", { "v1", "policies" }, h_policy_put, NULL, "policy, or {text, name}", 201,
	  "create or replace a backup policy", AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "policies", "{policy}" }, h_policy_show, NULL, NULL, 200, "one backup policy",
	  AUTH_STORE_AUDIT },
	{ "DELETE", { "v1", "policies", "{policy}" }, h_policy_delete, NULL, NULL, 200, "delete a backup policy",
	  AUTH_STORE_ALLOCATE },
	{ "GET", { "v1", "alarms" }, h_alarm_list, NULL, NULL, 200, "alarm rules with the state of their objects",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "alarms" }, h_alarm_create, NULL, "{name, when, on, notify, smtp}", 201, "add an alarm rule",
	  AUTH_SYS_MODIFY },
	{ "GET", { "v1", "alarms", "{alarm}" }, h_alarm_show, NULL, NULL, 200, "one alarm rule and its objects' states",
	  AUTH_SYS_AUDIT },
	{ "PUT", { "v1", "alarms", "{alarm}" }, h_alarm_update, NULL, "{when, on, notify, smtp}", 200,
	  "change an alarm rule (the members given)", AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "alarms", "{alarm}" }, h_alarm_delete, NULL, NULL, 200, "remove an alarm rule",
	  AUTH_SYS_MODIFY },
	{ "POST", { "v1", "alarms", "{alarm}", "test" }, h_alarm_test, NULL, NULL, 200,
	  "send a test notification through every target of a rule", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "alarm-history" }, h_alarm_history, "alarm:str,limit:int", NULL, 200,
	  "the alarms' transitions, oldest first", AUTH_SYS_AUDIT },
	{ "GET", { "v1", "ha" }, h_ha_status, NULL, NULL, 200, "the HA resources and this host's self-fence",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "ha" }, h_ha_add, NULL, "{vm, priority, order, start_delay, max_restart, max_relocate, state, group}", 201,
	  "protect a VM with HA", AUTH_SYS_MODIFY },
	{ "PUT", { "v1", "ha", "{vm}" }, h_ha_set, NULL, "{priority, order, start_delay, max_restart, max_relocate, state, group}",
	  200, "change a VM's HA settings (the members given)", AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "ha", "{vm}" }, h_ha_remove, NULL, NULL, 200, "stop protecting a VM with HA",
	  AUTH_SYS_MODIFY },
	{ "PUT", { "v1", "cluster", "ha" }, h_ha_pool_set, NULL, "{failures_to_tolerate}", 200,
	  "set the pool's HA failures to tolerate (admission control)", AUTH_SYS_MODIFY },
	{ "GET", { "v1", "ha", "groups" }, h_ha_group_list, NULL, NULL, 200, "the pool's HA groups", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "ha", "groups" }, h_ha_group_add, NULL, "{name, hosts, restricted, nofailback}", 201,
	  "add an HA group (preferred hosts)", AUTH_SYS_MODIFY },
	{ "DELETE", { "v1", "ha", "groups", "{group}" }, h_ha_group_remove, NULL, NULL, 200,
	  "remove an HA group no HA VM uses", AUTH_SYS_MODIFY },
	{ "PUT", { "v1", "ha", "maintenance", "{host}" }, h_ha_maintenance, NULL, "{maintenance}", 200,
	  "turn a pool member's HA maintenance mode on or off", AUTH_SYS_MODIFY },
	{ "POST", { "v1", "ha", "fence-ack", "{host}" }, h_ha_fence_ack, NULL, NULL, 200,
	  "acknowledge a lost pool member down, so that a partition without quorum may restart its HA VMs",
	  AUTH_SYS_MODIFY },
	{ "GET", { "v1", "events" }, h_events, "follow:bool,vm:str,kind:str,job:int,limit:int", NULL, 200,
	  "recent events, or with follow=true a server-sent event stream", AUTH_SYS_AUDIT },
	{ "GET", { "v1", "jobs" }, h_job_list, "vm:str", NULL, 200, "recent jobs", AUTH_SYS_AUDIT },
	{ "GET", { "v1", "jobs", "{job}" }, h_job_show, NULL, NULL, 200, "one job", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "jobs", "{job}", "cancel" }, h_job_cancel, NULL, NULL, 202, "cancel a job", AUTH_VM_POWER },
	{ "GET", { "v1", "users" }, h_user_list, NULL, NULL, 200, "users and their token ids (never a secret)",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "users" }, h_user_add, NULL, "{name, password, comment}", 201, "add a user",
	  AUTH_USER_MODIFY },
	{ "DELETE", { "v1", "users", "{user}" }, h_user_delete, NULL, NULL, 200,
	  "delete a user, her tokens and their ACL entries", AUTH_USER_MODIFY },
	{ "POST", { "v1", "users", "{user}", "password" }, h_user_passwd, NULL, "{password}", 200,
	  "set a user's password", AUTH_USER_MODIFY },
	{ "GET", { "v1", "users", "{user}", "tokens" }, h_token_list, NULL, NULL, 200, "a user's API tokens",
	  AUTH_SYS_AUDIT },
	{ "POST", { "v1", "users", "{user}", "tokens" }, h_token_add, NULL, "{id, ttl, comment}", 201,
	  "make an API token (its secret is in this answer only)", AUTH_USER_MODIFY },
	{ "DELETE", { "v1", "users", "{user}", "tokens", "{token}" }, h_token_delete, NULL, NULL, 200,
	  "delete an API token and its ACL entries", AUTH_USER_MODIFY },
	{ "GET", { "v1", "acl" }, h_acl_list, NULL, NULL, 200, "the ACL entries", AUTH_SYS_AUDIT },
	{ "POST", { "v1", "acl" }, h_acl_add, NULL, "{subject, role, path}", 200,
	  "give a user or a token a role on a scope", AUTH_USER_MODIFY },
	{ "DELETE", { "v1", "acl" }, h_acl_delete, "subject:str,path:str", NULL, 200, "remove an ACL entry",
	  AUTH_USER_MODIFY },
};


/*
 * Routes a pool member answers for the member that owns the object
 * (routes_pool.c): those of one VM (/v1/vms/{vm}...) and of one job
 * (/v1/jobs/{job}...).  They take two more query parameters than the table
 * says: host (the member to ask) and scope (local: never hand on).
 */
static bool forwardable(const struct route *r)
{
	return r->pattern[1] && r->pattern[2] &&
	       ((strcmp(r->pattern[1], "vms") == 0 && strcmp(r->pattern[2], "{vm}") == 0) ||
		(strcmp(r->pattern[1], "jobs") == 0 && strcmp(r->pattern[2], "{job}") == 0));
}

/* The console's and VNC's routes upgrade the connection: never forwarded. */
static bool streamed(const struct route *r)
{
	return r->ok == 101;
}

#define FORWARD_QUERY "host:str,scope:str"

static bool match(const struct route *r, const struct route_ctx *c)
{
	int n = 0;
	while (n < MAX_SEGS && r->pattern[n])
		n++;
	if (n != c->nseg)
		return false;
	for (int i = 0; i < n; i++)
		if (r->pattern[i][0] != '{' && strcmp(r->pattern[i], c->seg[i]) != 0)
			return false;
	return true;
}

/* The type of query parameter `key` in spec ("name:type,..."), NULL if it takes none such. */
static const char *query_type(const char *spec, const char *key, char *type, size_t len)
{
	size_t klen = strlen(key);
	while (spec && *spec) {
		size_t n = strcspn(spec, ","), name = strcspn(spec, ":");
		if (name < n && name == klen && strncmp(spec, key, klen) == 0) {
			snprintf(type, len, "%.*s", (int)(n - name - 1), spec + name + 1);
			return type;
		}
		spec += n + (spec[n] == ',');
	}
	return NULL;
}

/* Every query parameter is one the route takes, with a value of its type; else 400 sent. */
static bool query_valid(struct route_ctx *c, const struct route *r)
{
	const char *spec = r->query, *key;
	char type[8];
	int64_t n;
	for (size_t i = 0; (key = http_query_key(c->req, i)); i++) {
		const char *v = http_query(c->req, key);
		struct buf msg = BUF_INIT;
		if (forwardable(r) && query_type(FORWARD_QUERY, key, type, sizeof(type)))
			continue;
		if (!query_type(spec, key, type, sizeof(type)))
			buf_printf(&msg, "unknown query parameter '%.64s'%s%s", key, spec ? "; this route takes: " : "",
				   spec ? spec : " (this route takes none)");
		else if (strcmp(type, "bool") == 0 && !str_list_has("true,false,1,0,yes,no", v))
			buf_printf(&msg, "query parameter '%s' must be true or false", key);
		else if (strcmp(type, "int") == 0 && str_parse_int(v, INT64_MIN, INT64_MAX, &n) < 0)
			buf_printf(&msg, "query parameter '%s' must be a whole number", key);
		if (msg.len) {
			fail(c, -EINVAL, msg.s);
			buf_release(&msg);
			return false;
		}
	}
	return true;
}

/* ---- GET /v1/openapi.json: the table above as OpenAPI 3.0 ---- */

static json_t *openapi_error(void)
{
	return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "an error: {\"error\": {\"code\", \"message\"}}",
			 "content", "application/json", "schema", "$ref", "#/components/schemas/Error");
}

static json_t *openapi_operation(const struct route *r)
{
	static const char *const types[][2] = { { "str", "string" }, { "int", "integer" }, { "bool", "boolean" } };
	json_t *params = json_array(), *responses = json_object();
	char ok[8];
	for (int i = 0; i < MAX_SEGS && r->pattern[i]; i++) {
		if (r->pattern[i][0] != '{')
			continue;
		__do_free char *name = xstrndup(r->pattern[i] + 1, strlen(r->pattern[i]) - 2);
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", "path", "required",
							1, "schema", "type", "string"));
	}
	__do_free char *query = forwardable(r) ? xasprintf("%s%s" FORWARD_QUERY, r->query ? r->query : "",
							  r->query ? "," : "")
					       : xstrdup(r->query ? r->query : "");
	for (const char *q = query; *q;) {
		size_t n = strcspn(q, ","), name = strcspn(q, ":");
		const char *type = "string";
		for (size_t t = 0; t < ARRAY_SIZE(types); t++)
			if (n - name - 1 == strlen(types[t][0]) && strncmp(q + name + 1, types[t][0], n - name - 1) == 0)
				type = types[t][1];
		__do_free char *pname = xstrndup(q, name);
		json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", pname, "in", "query", "required",
							0, "schema", "type", type));
		q += n + (q[n] == ',');
	}
	snprintf(ok, sizeof(ok), "%d", r->ok);
	json_object_set_new(responses, ok, json_pack("{s:s}", "description", r->ok == 202 ? "a job was started: {\"job\": job}" : "success"));
	json_object_set_new(responses, "default", openapi_error());
	json_t *op = json_pack("{s:s,s:o,s:o,s:s?}", "summary", r->summary, "parameters", params, "responses", responses,
			       "x-corral-privilege", auth_priv_name(r->priv));
	if (r->body)
		json_object_set_new(op, "requestBody",
				    json_pack("{s:b,s:s,s:{s:{s:{s:s}}}}", "required", 1, "description", r->body, "content",
					      "application/json", "schema", "type", "object"));
	return op;
}

json_t *api_openapi(void)
{
	json_t *paths = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		struct buf path = BUF_INIT;
		for (int s = 0; s < MAX_SEGS && routes[i].pattern[s]; s++)
			buf_printf(&path, "/%s", routes[i].pattern[s]);
		json_t *item = json_object_get(paths, path.s);
		if (!item)
			json_object_set_new(paths, path.s, item = json_object());
		__do_free char *method = xstrdup(routes[i].method);
		for (char *m = method; *m; m++)
			*m = (char)(*m - 'A' + 'a');
		json_object_set_new(item, method, openapi_operation(&routes[i]));
		buf_release(&path);
	}
	return json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}}}}}", "openapi",
			 "3.0.3", "info", "title", "corral API", "version", CORRAL_VERSION, "description",
			 "corrald's REST API; docs/api.md has the prose", "paths", paths, "components", "schemas",
			 "Error", "type", "object", "properties", "error", "type", "object", "properties", "code",
			 "type", "string", "message", "type", "string");
}

static void h_openapi(struct route_ctx *c) { http_reply_json(c->rep, 200, api_openapi()); }

bool api_route_info(size_t i, const char **method, char *path, size_t len, enum auth_priv *priv)
{
	struct buf b = BUF_INIT;
	if (i >= ARRAY_SIZE(routes))
		return false;
	for (int s = 0; s < MAX_SEGS && routes[i].pattern[s]; s++)
		buf_printf(&b, "/%s", routes[i].pattern[s]);
	snprintf(path, len, "%s", b.s);
	buf_release(&b);
	*method = routes[i].method;
	*priv = routes[i].priv;
	return true;
}

void api_route(const struct http_request *req, struct http_reply *rep)
{
	struct route_ctx c = { .req = req, .rep = rep };
	struct buf allow = BUF_INIT; /* methods of the routes matching the path: "GET, POST" */
	struct svc_identity who = { "root@unix", "", "" };
	char actor[EVENTS_ACTOR_MAX];

	/* The web UI's files and login (routes_ui.c) come before any login. */
	if (api_ui_route(req, rep))
		return;
	/* Over TCP nothing is answered before the caller is known; the unix
	 * socket is root's door (docs/security.md). */
	if (req->remote && !route_login(&c, &who))
		return;
	/* what this request changes is recorded as done by the caller */
	snprintf(actor, sizeof(actor), "%s%s%s", who.user, who.token[0] ? "!" : "", who.token);
	events_actor_set(actor);
	c.who = &who;
	c.caller_host = svc_identity_host(&who);
	c.forwarded_by = who.via[0] ? who.via : NULL;
	if (split_path(&c, req->path) < 0) {
		fail(&c, -EINVAL, "malformed request path");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
		if (!match(&routes[i], &c))
			continue;
		if (strcmp(routes[i].method, req->method) == 0) {
			if (!query_valid(&c, &routes[i]))
				; /* answered */
			else if (forwardable(&routes[i]) && (!route_scope_valid(&c) || route_forward(&c, streamed(&routes[i]))))
				; /* answered by (or for) the member that owns the object, or refused */
			else if (!req->remote || route_self(&c, &who) || route_allowed(&c, &who, routes[i].priv))
				routes[i].fn(&c);
			if (strcmp(req->method, "GET") != 0)
				svc_auth_audit(&who, req->peer, req->method, req->path, rep->status);
			goto out;
		}
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			if (strcmp(routes[j].method, routes[i].method) == 0 && match(&routes[j], &c))
				seen = true;
		if (!seen)
			buf_printf(&allow, "%s%s", allow.len ? ", " : "", routes[i].method);
	}
	if (allow.len) {
		http_reply_error(rep, 405, "invalid_argument", "method not allowed on this path");
		http_reply_header(rep, "Allow", allow.s);
	} else {
		http_reply_error(rep, 404, "not_found", "no such route");
	}
out:
	events_actor_set(NULL);
	buf_release(&allow);
	for (int i = 0; i < c.nseg; i++)
		free(c.seg[i]);
}
