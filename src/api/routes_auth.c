/*
 * routes_auth.c - the API's side of identity and rights: the check every
 * request over TCP goes through before its handler (who is calling, and may
 * they do this to that object), and the handlers of /v1/users and /v1/acl.
 *
 * The privilege comes from the route table (routes.c), the object from the
 * path: a VM route names "/vms/NAME" (every VM its selector matches), a
 * pool route "/pools/NAME", a volume route "/pools/POOL/volumes/NAME", and
 * anything else the collection ("/host", "/vms", "/backups", "/users").
 * The decision itself is the service's (svc_auth_allowed).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "routes_internal.h"
#include "service/auth.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/jsonutil.h"
#include "util/common.h"

bool route_login(struct route_ctx *c, struct svc_identity *who)
{
	struct buf err = BUF_INIT;
	int64_t retry = 0;
	int r = svc_auth_login(http_header(c->req, "Authorization"), c->req->peer, who, &retry, &err);

	if (r == -EAGAIN) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)retry);
		http_reply_error(c->rep, 429, "too_many_requests", err.s);
		http_reply_header(c->rep, "Retry-After", n);
	} else if (r < 0) {
		http_reply_error(c->rep, 401, "unauthorized", err.s);
		http_reply_header(c->rep, "WWW-Authenticate", "Bearer realm=\"corral\"");
	}
	buf_release(&err);
	return r == 0;
}

/* The objects the path names: a NULL-terminated array of strings (caller frees each and it). */
static char **route_objects(struct route_ctx *c)
{
	char **out = xcalloc(2, sizeof(*out));
	const char *kind = c->nseg > 1 ? c->seg[1] : "";

	if (strcmp(kind, "vms") == 0 && c->nseg > 2) {
		struct buf err = BUF_INIT;
		json_t *list = svc_vm_list(c->seg[2], &err), *vm;
		size_t i, n = 0;
		buf_release(&err);
		json_array_foreach(json_object_get(list, "vms"), i, vm) {
			const char *name = json_string_value(json_object_get(vm, "name"));
			if (!name)
				continue;
			out = xrealloc(out, (n + 2) * sizeof(*out));
			out[n++] = xasprintf("/vms/%s", name);
			out[n] = NULL;
		}
		json_decref(list);
		if (n)
			return out;
	} else if (strcmp(kind, "pools") == 0 && c->nseg > 2) {
		out[0] = xasprintf("/pools/%s", c->seg[2]);
		return out;
	} else if (strcmp(kind, "volumes") == 0 && c->nseg > 2 && strcmp(c->seg[2], "import") != 0) {
		struct buf err = BUF_INIT;
		json_t *vol = NULL;
		if (svc_vol_get(c->seg[2], &vol, &err) == 0) {
			const char *pool = json_string_value(json_object_get(vol, "pool"));
			out[0] = xasprintf("/pools/%s/volumes/%s", pool ? pool : "default", c->seg[2]);
		}
		json_decref(vol);
		buf_release(&err);
		if (out[0])
			return out;
	}
	/* a collection, or an object that does not exist: its collection (the handler says 404) */
	out[0] = xasprintf("/%s", kind);
	return out;
}

bool route_allowed(struct route_ctx *c, const struct svc_identity *who, enum auth_priv priv)
{
	char **objs = route_objects(c);
	const char *denied = NULL;
	bool ok = true;

	for (size_t i = 0; objs[i] && ok; i++)
		if (!svc_auth_allowed(who, priv, objs[i])) {
			ok = false;
			denied = objs[i];
		}
	if (!ok) {
		__do_free char *msg = xasprintf("forbidden: %s%s%s lacks %s on %s", who->user, who->token[0] ? "!" : "",
						 who->token, auth_priv_name(priv) ? auth_priv_name(priv) : "a privilege",
						 denied);
		http_reply_error(c->rep, 403, "forbidden", msg);
	}
	for (size_t i = 0; objs[i]; i++)
		free(objs[i]);
	free(objs);
	return ok;
}

bool route_self(const struct route_ctx *c, const struct svc_identity *who)
{
	return c->req->remote && strcmp(c->req->method, "POST") == 0 && c->nseg == 4 && strcmp(c->seg[1], "users") == 0 &&
	       strcmp(c->seg[3], "tokens") == 0 && who->user[0] && !who->token[0] && strcmp(c->seg[2], who->user) == 0;
}

/* ---- /v1/users, /v1/acl ---- */

void h_user_list(struct route_ctx *c) { http_reply_json(c->rep, 200, json_pack("{s:o}", "users", svc_user_list())); }

void h_user_add(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "password", "comment", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_user_add(json_string_value(json_object_get(b, "name")),
			     json_string_value(json_object_get(b, "password")),
			     json_string_value(json_object_get(b, "comment")), &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_user_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_user_delete(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}

void h_user_passwd(struct route_ctx *c)
{
	static const char *const keys[] = { "password", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	if (!b)
		return;
	int r = svc_user_passwd(c->seg[2], json_string_value(json_object_get(b, "password")), &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:s}", "name", c->seg[2]), &err);
	buf_release(&err);
}

void h_token_list(struct route_ctx *c)
{
	http_reply_json(c->rep, 200, json_pack("{s:o}", "tokens", svc_token_list(c->seg[2])));
}

void h_token_add(struct route_ctx *c)
{
	static const char *const keys[] = { "id", "ttl", "comment", "inherit", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	json_t *out = NULL, *ttl, *inherit;
	if (!b)
		return;
	ttl = json_object_get(b, "ttl");
	inherit = json_object_get(b, "inherit");
	if (ttl && !json_is_integer(ttl)) {
		fail(c, -EINVAL, "ttl is a whole number of seconds (0: the token never expires)");
		return;
	}
	if (inherit && !json_is_boolean(inherit)) {
		fail(c, -EINVAL, "inherit is true or false");
		return;
	}
	int r = svc_token_add(c->seg[2], json_string_value(json_object_get(b, "id")),
			      ttl ? (int64_t)json_integer_value(ttl) : 0, json_string_value(json_object_get(b, "comment")),
			      json_is_true(inherit), &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_token_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_token_delete(c->seg[2], c->seg[4], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:s,s:s}", "user", c->seg[2], "deleted", c->seg[4]), &err);
	buf_release(&err);
}

void h_acl_list(struct route_ctx *c) { http_reply_json(c->rep, 200, json_pack("{s:o}", "acl", svc_acl_list())); }

void h_acl_add(struct route_ctx *c)
{
	static const char *const keys[] = { "subject", "role", "path", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	if (!b)
		return;
	const char *subject = json_string_value(json_object_get(b, "subject")),
		   *role = json_string_value(json_object_get(b, "role")),
		   *path = json_string_value(json_object_get(b, "path"));
	int r = svc_acl_add(subject, role, path ? path : "/", &err);
	reply_result(c, r, 200,
		     r < 0 ? NULL : json_pack("{s:s,s:s,s:s}", "subject", subject, "role", role, "path", path ? path : "/"),
		     &err);
	buf_release(&err);
}

void h_acl_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	const char *subject = http_query(c->req, "subject"), *path = http_query(c->req, "path");
	int r = svc_acl_delete(subject, path ? path : "/", &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:s,s:s}", "subject", subject, "path", path ? path : "/"),
		     &err);
	buf_release(&err);
}
