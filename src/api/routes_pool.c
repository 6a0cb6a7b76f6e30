/*
 * routes_pool.c - the API's side of answering for the whole pool
 * (docs/cluster.md "Pool-wide answers", service/poolview.h): GET /v1/vms
 * with every member's VMs, and a request naming a VM (or a job) that lives
 * on another member handed on to it, its answer passed back as it came.
 *
 * What is never handed on: a request a trusted host made (as itself or for
 * a user it names): members ask each other for their own objects only, so
 * nothing goes round; a request with scope=local; selectors of several VMs
 * (name:GLOB, tag:TAG), which act on this host's VMs; and the streams (the
 * serial console, VNC), answered with the member to connect to instead.
 */
#include <errno.h>
#include <string.h>

#include "routes_internal.h"
#include "cluster/conf.h"
#include "core/select.h"
#include "service/auth.h"
#include "service/poolview.h"
#include "service/vm.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

/* "USER" or "USER!TOKEN" of the caller, or "@host" for root on the unix socket, for the member that answers. */
static void caller_name(const struct route_ctx *c, char *out, size_t len)
{
	if (!c->req->remote)
		snprintf(out, len, "%s", POOLVIEW_USER_HOST);
	else
		snprintf(out, len, "%s%s%s", c->who->user, c->who->token[0] ? "!" : "", c->who->token);
}

/* May this request be answered for the pool (not a host's own call, not scope=local)? */
static bool pool_wide(const struct route_ctx *c)
{
	const char *scope = http_query(c->req, "scope");
	return !c->caller_host && !c->forwarded_by && !(scope && strcmp(scope, "local") == 0);
}

bool route_scope_valid(struct route_ctx *c)
{
	const char *scope = http_query(c->req, "scope");
	if (scope && strcmp(scope, "local") != 0 && strcmp(scope, "pool") != 0) {
		fail(c, -EINVAL, "scope must be local (this host only) or pool (the default: every member of its pool)");
		return false;
	}
	return true;
}

json_t *route_pool_vm_list(struct route_ctx *c, json_t *local)
{
	char who[2 * AUTH_NAME_MAX + 8];

	if (!local || !pool_wide(c))
		return local;
	caller_name(c, who, sizeof(who));
	return svc_poolview_vm_list(local, http_query(c->req, "select"), who);
}

/* Is the VM sel answered here: it is on this host, or sel selects by pattern (always this host's VMs)? */
static bool vm_here(const char *sel)
{
	struct selector s = { 0 };
	struct buf err = BUF_INIT;
	svc_uuid *list = NULL;
	size_t n = 0;
	bool here;

	if (selector_parse(sel, &s, &err) < 0) {
		buf_release(&err);
		return false; /* the owner lookup refuses it */
	}
	here = !selector_is_single(&s) || svc_vm_select(sel, false, &list, &n, &err) == 0;
	selector_release(&s);
	free(list);
	buf_release(&err);
	return here;
}

/* "/v1/SEG/SEG...?k=v..." with each segment and value encoded again, without host and scope. */
static char *forward_path(const struct route_ctx *c)
{
	struct buf b = BUF_INIT;
	const char *key;
	bool first = true;

	for (int i = 0; i < c->nseg; i++) {
		__do_free char *e = str_url_encode(c->seg[i]);
		buf_printf(&b, "/%s", e);
	}
	for (size_t i = 0; (key = http_query_key(c->req, i)); i++) {
		if (strcmp(key, "host") == 0 || strcmp(key, "scope") == 0)
			continue;
		__do_free char *k = str_url_encode(key);
		__do_free char *v = str_url_encode(http_query(c->req, key) ?: "");
		buf_printf(&b, "%c%s=%s", first ? '?' : '&', k, v);
		first = false;
	}
	return buf_detach(&b);
}

/* Pass the member's answer back: status, body, Retry-After, ETag; a job in it is marked with its host. */
static void forward_reply(struct route_ctx *c, const char *host, struct peer_raw_reply *a)
{
	bool json = strncmp(a->content_type, "application/json", 16) == 0;
	json_t *j = json && a->body.len ? json_loadb(a->body.s, a->body.len, 0, NULL) : NULL;

	if (j) {
		json_t *job = json_object_get(j, "job");
		if (json_is_object(job))
			json_object_set_new(job, "host", json_string(host));
		else if (strcmp(c->seg[1], "jobs") == 0 && json_is_integer(json_object_get(j, "id")))
			json_object_set_new(j, "host", json_string(host));
		http_reply_json(c->rep, (int)a->status, j);
	} else {
		c->rep->status = (int)a->status;
		buf_add(&c->rep->text, a->body.s, a->body.len);
		if (a->content_type[0])
			http_reply_header(c->rep, "Content-Type", a->content_type);
	}
	if (a->retry_after[0])
		http_reply_header(c->rep, "Retry-After", a->retry_after);
	if (a->etag[0])
		http_reply_header(c->rep, "ETag", a->etag);
	http_reply_header(c->rep, POOLVIEW_HOST_HEADER, host);
}

/* Refuse a stream of VM sel, which member owner has: it is not handed on (422 naming the member). */
static void stream_refused(struct route_ctx *c, const char *sel, const char *owner, const char *what)
{
	struct buf err = BUF_INIT;
	buf_adds(&err, "vm '");
	buf_add_printable(&err, sel, strlen(sel));
	buf_printf(&err, "' is on host %s: %s not forwarded between hosts; connect to %s itself "
			 "(corral --remote, docs/remote.md)", owner, what, owner);
	fail(c, -ENOTSUP, err.s);
	buf_release(&err);
}

bool route_stream_elsewhere(struct route_ctx *c, const char *sel, const char *what)
{
	char owner[CLUSTER_NODE_NAME_MAX + 1];
	struct buf err = BUF_INIT;
	int r;

	if (!sel || !pool_wide(c) || !svc_poolview_in_pool(NULL) || vm_here(sel))
		return false;
	if ((r = svc_poolview_vm_owner(sel, owner, sizeof(owner), &err)) < 0)
		fail(c, r, err.s);
	else
		stream_refused(c, sel, owner, what);
	buf_release(&err);
	return true;
}

bool route_forward(struct route_ctx *c, bool stream)
{
	const char *host = http_query(c->req, "host");
	bool vm = strcmp(c->seg[1], "vms") == 0;
	char me[CLUSTER_NODE_NAME_MAX + 1], owner[CLUSTER_NODE_NAME_MAX + 1], who[2 * AUTH_NAME_MAX + 8];
	struct buf err = BUF_INIT;
	struct peer_raw_reply a;
	int r;

	if (!pool_wide(c))
		return false;
	if (!svc_poolview_in_pool(me)) {
		if (!host)
			return false;
		buf_printf(&err, "this host is in no pool: there is no host '%.64s' to hand the request to", host);
		fail(c, -ENOENT, err.s);
		buf_release(&err);
		return true;
	}
	if (host) {
		if (strcmp(host, me) == 0)
			return false;
		if (!svc_poolview_is_member(host)) {
			buf_adds(&err, "there is no host '");
			buf_add_printable(&err, host, strlen(host) > 64 ? 64 : strlen(host));
			buf_adds(&err, "' in this host's pool (corral cluster status)");
			fail(c, -ENOENT, err.s);
			buf_release(&err);
			return true;
		}
		snprintf(owner, sizeof(owner), "%s", host);
	} else if (!vm || vm_here(c->seg[2])) {
		return false; /* a job without host= is this host's */
	} else if ((r = svc_poolview_vm_owner(c->seg[2], owner, sizeof(owner), &err)) < 0) {
		fail(c, r, err.s);
		buf_release(&err);
		return true;
	}
	if (stream) {
		stream_refused(c, c->seg[2], owner, "consoles are");
		return true;
	}
	__do_free char *path = forward_path(c);
	const char *ctype = http_header(c->req, "Content-Type");
	caller_name(c, who, sizeof(who));
	r = svc_poolview_forward(owner, c->req->method, path, c->req->body_len ? c->req->body : NULL, c->req->body_len,
				 ctype ? ctype : "application/json", who, http_header(c->req, "If-Match"), &a, &err);
	if (r < 0) {
		struct buf msg = BUF_INIT;
		buf_printf(&msg, "the request is for host %s, which did not answer: %s", owner, err.s);
		fail(c, r, msg.s);
		buf_release(&msg);
	} else {
		forward_reply(c, owner, &a);
	}
	peer_raw_reply_release(&a);
	buf_release(&err);
	return true;
}
