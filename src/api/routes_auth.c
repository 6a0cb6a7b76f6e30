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
#include <stdlib.h>
#include <string.h>

#include "routes_internal.h"
#include "service/auth.h"
#include "service/backup.h"
#include "service/ct.h"
#include "service/host.h"
#include "service/poolview.h"
#include "service/vm.h"
#include "service/volume.h"
#include "util/jsonutil.h"
#include "util/common.h"

bool route_login(struct route_ctx *c, struct svc_identity *who)
{
	struct buf err = BUF_INIT;
	int64_t retry = 0;
	const char *authz = http_header(c->req, "Authorization");
	/* The web UI's session cookie, when no Authorization is sent */
	int s = authz ? 0 : route_session_login(c, who);
	if (s)
		return s > 0;
	/* A trusted host calls with its pinned certificate and no Authorization;
	 * with one, the caller is whoever that names (the client certificate is
	 * then only what `host trust` join pins). */
	int r = !authz && c->req->client_fp ? svc_auth_host_login(c->req->client_fp, c->req->peer, who, &retry, &err)
					    : svc_auth_login(authz, c->req->peer, who, &retry, &err);

	/* A pool member forwarding a request names whom it acts for (docs/remote.md "Forwarding in a pool") */
	const char *assert = r == 0 ? http_header(c->req, POOLVIEW_USER_HEADER) : NULL;
	if (assert && svc_identity_host(who) && (r = svc_auth_assert(who, assert, &err)) < 0) {
		http_reply_error(c->rep, r == -EACCES ? 403 : 400, r == -EACCES ? "forbidden" : "invalid_argument", err.s);
		buf_release(&err);
		return false;
	}
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

/* Append "/vms/NAME" for every VM `sel` matches to the NULL-terminated out; the count added. */
static size_t vm_objects(const char *sel, char ***out, size_t n)
{
	struct buf err = BUF_INIT;
	json_t *list = svc_vm_list(sel, &err), *vm;
	size_t i, added = 0;

	buf_release(&err);
	json_array_foreach(json_object_get(list, "vms"), i, vm) {
		const char *name = json_string_value(json_object_get(vm, "name"));
		if (!name)
			continue;
		*out = xrealloc(*out, (n + added + 2) * sizeof(**out));
		(*out)[n + added++] = xasprintf("/vms/%s", name);
		(*out)[n + added] = NULL;
	}
	json_decref(list);
	return added;
}

/* A container `key` (name or uuid) as its ACL object /containers/NAME
 * (appended to *out); 0 when no container has that key. */
static size_t ct_object(const char *key, char ***out)
{
	struct buf err = BUF_INIT;
	__do_json json_t *ct = NULL;
	const char *name;
	size_t n = 0;

	if (strncmp(key, "uuid:", 5) == 0)
		key += 5;
	if (svc_ct_show(key, &ct, &err) == 0 && (name = json_string_value(json_object_get(ct, "name")))) {
		while ((*out)[n])
			n++;
		*out = xrealloc(*out, (n + 2) * sizeof(**out));
		(*out)[n] = xasprintf("/containers/%s", name);
		(*out)[n + 1] = NULL;
		n = 1;
	}
	buf_release(&err);
	return n;
}

/*
 * A VM's backups are also that VM's, for whoever lacks the right on all
 * backups: running a backup of named VMs (not of a policy) needs it on
 * each of them; reading one backup (show, files, content) on the VM it was
 * taken of, if that VM still exists (by uuid, whatever its name now).
 * 0: not a backup route of one VM (the collection applies).
 */
static size_t backup_objects(struct route_ctx *c, char ***out)
{
	if (c->nseg == 2 && !strcmp(c->req->method, "POST")) {
		struct buf err = BUF_INIT;
		__do_json json_t *b = json_parse_object(c->req->body, c->req->body_len, &err);
		const char *sel = json_string_value(json_object_get(b, "vm"));
		buf_release(&err);
		if (!sel || !*sel || json_object_get(b, "policy"))
			return 0;
		size_t n = vm_objects(sel, out, 0);
		return n ? n : ct_object(sel, out); /* a container's backups are that container's */
	}
	if (c->nseg == 3 && !strcmp(c->req->method, "GET") &&
	    (!strcmp(c->seg[2], "show") || !strcmp(c->seg[2], "files") || !strcmp(c->seg[2], "content"))) {
		struct buf err = BUF_INIT;
		__do_json json_t *bk = NULL;
		const char *id = http_query(c->req, "id");
		int r = id ? svc_backup_show(http_query(c->req, "repo"), id, &bk, &err) : -EINVAL;
		const char *uuid = json_string_value(json_object_get(bk, "uuid"));
		buf_release(&err);
		if (r == 0 && uuid) {
			__do_free char *sel = xasprintf("uuid:%s", uuid);
			size_t n = vm_objects(sel, out, 0);
			return n ? n : ct_object(sel, out);
		}
	}
	return 0;
}

/* The objects the path names: a NULL-terminated array of strings (caller frees each and it). */
static char **route_objects(struct route_ctx *c)
{
	char **out = xcalloc(2, sizeof(*out));
	const char *kind = c->nseg > 1 ? c->seg[1] : "";

	if (strcmp(kind, "backups") == 0 && c->who && !svc_auth_allowed(c->who, c->priv, "/backups") &&
	    backup_objects(c, &out))
		return out;

	if (strcmp(kind, "vms") == 0 && c->nseg > 2 && !(c->nseg == 3 && strcmp(c->seg[2], "import") == 0)) {
		if (vm_objects(c->seg[2], &out, 0))
			return out;
	} else if (strcmp(kind, "containers") == 0 && c->nseg > 2) {
		/* a container's ACL object: /containers/NAME (a role on /containers covers all) */
		out[0] = xasprintf("/containers/%s", c->seg[2]);
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
	} else if (strcmp(kind, "jobs") == 0 && c->nseg > 2 && c->who) {
		/* a VM's job is also that VM's: whoever may act on the VM may follow and cancel it */
		char *end;
		long long id = strtoll(c->seg[2], &end, 10);
		__do_json json_t *job = !*end && id > 0 ? svc_job_get(id) : NULL;
		const char *vm = json_string_value(json_object_get(job, "vm"));
		__do_json json_t *show = vm ? svc_vm_show(vm) : NULL;
		const char *name = json_string_value(json_object_get(show, "name"));
		if (name && !svc_auth_allowed(c->who, c->priv, "/jobs")) {
			out[0] = xasprintf("/vms/%s", name);
			return out;
		}
		/* a container's job (a backup of it): that container's */
		if (!name && vm && !svc_auth_allowed(c->who, c->priv, "/jobs") && ct_object(vm, &out))
			return out;
	}
	/* a collection, or an object that does not exist: its collection (the handler says 404) */
	out[0] = xasprintf("/%s", kind);
	return out;
}

/*
 * The lists answered with only what the caller may read (route_filter):
 * the collection's privilege on the collection shows everything; else an
 * item needs item_priv on its own object, and the list may be asked for by
 * whoever has within_priv on something below `within`.
 */
struct list_rule {
	const char *kind;
	enum auth_priv coll_priv, item_priv, within_priv;
	const char *within;
};

static const struct list_rule list_rules[] = {
	{ "vms", AUTH_VM_AUDIT, AUTH_VM_AUDIT, AUTH_VM_AUDIT, "/vms" },
	{ "volumes", AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, "/pools" },
	{ "pools", AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, "/pools" },
	{ "jobs", AUTH_SYS_AUDIT, AUTH_VM_AUDIT, AUTH_VM_AUDIT, "/vms" },
	{ "events", AUTH_SYS_AUDIT, AUTH_VM_AUDIT, AUTH_VM_AUDIT, "/vms" },
	{ "backups", AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, AUTH_STORE_AUDIT, "/vms" },
	{ "containers", AUTH_VM_AUDIT, AUTH_VM_AUDIT, AUTH_VM_AUDIT, "/containers" },
};

static const struct list_rule *list_rule(const char *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(list_rules); i++)
		if (strcmp(list_rules[i].kind, kind) == 0)
			return &list_rules[i];
	return NULL;
}

/* GET of a filtered collection by someone who may read part of it. */
static bool list_allowed(struct route_ctx *c, const struct svc_identity *who)
{
	const struct list_rule *rule;
	if (strcmp(c->req->method, "GET") != 0 || c->nseg != 2 || !(rule = list_rule(c->seg[1])))
		return false;
	struct svc_acl *acl = svc_acl_load();
	__do_free char *coll = xasprintf("/%s", rule->kind);
	bool ok = svc_acl_allows(acl, who, rule->coll_priv, coll) ||
		  svc_acl_allows_within(acl, who, rule->within_priv, rule->within) ||
		  /* a container's backups and jobs are that container's, too */
		  ((strcmp(rule->kind, "backups") == 0 || strcmp(rule->kind, "jobs") == 0) &&
		   svc_acl_allows_within(acl, who, rule->within_priv, "/containers"));
	svc_acl_free(acl);
	return ok;
}

/* The name of the item with `uuid` in list[key] (a VM or container list answer), or NULL. */
static const char *name_of(json_t *list, const char *key, const char *uuid)
{
	json_t *o;
	size_t i;
	json_array_foreach(json_object_get(list, key), i, o)
		if (uuid && strcmp(json_string_value(json_object_get(o, "uuid")) ?: "", uuid) == 0)
			return json_string_value(json_object_get(o, "name"));
	return NULL;
}

void route_filter(struct route_ctx *c, json_t *list, const char *kind)
{
	const struct list_rule *rule = list_rule(kind);
	__do_free char *coll = xasprintf("/%s", kind);
	__do_json json_t *vms = NULL, *cts = NULL;
	struct svc_acl *acl;

	if (!c->req->remote || !rule || !json_is_array(list))
		return;
	acl = svc_acl_load();
	if (svc_acl_allows(acl, c->who, rule->coll_priv, coll)) {
		svc_acl_free(acl);
		return;
	}
	if (strcmp(kind, "jobs") == 0 || strcmp(kind, "backups") == 0) {
		struct buf err = BUF_INIT;
		vms = svc_vm_list(NULL, &err);
		buf_reset(&err);
		cts = svc_ct_list(NULL, &err);
		buf_release(&err);
	}
	for (size_t i = json_array_size(list); i-- > 0;) {
		json_t *item = json_array_get(list, i);
		const char *name = json_string_value(json_object_get(item, "name"));
		__do_free char *obj = NULL;
		if (strcmp(kind, "volumes") == 0) {
			const char *pool = json_string_value(json_object_get(item, "pool"));
			obj = xasprintf("/pools/%s/volumes/%s", pool ? pool : "default", name ? name : "");
		} else if (strcmp(kind, "pools") == 0) {
			obj = xasprintf("/pools/%s", name ? name : "");
		} else if (strcmp(kind, "containers") == 0) {
			obj = name ? xasprintf("/containers/%s", name) : NULL;
		} else {
			if (strcmp(kind, "jobs") == 0)
				name = name_of(vms, "vms", json_string_value(json_object_get(item, "vm")));
			else if (strcmp(kind, "backups") == 0) /* by uuid: the VM's name now, not at the backup */
				name = name_of(vms, "vms", json_string_value(json_object_get(item, "uuid")));
			else if (strcmp(kind, "events") == 0 && json_is_null(json_object_get(item, "vm")))
				name = NULL; /* a host event */
			obj = name ? xasprintf("/vms/%s", name) : NULL;
			const char *ct = NULL;
			if (!name && strcmp(kind, "jobs") == 0)
				ct = name_of(cts, "containers", json_string_value(json_object_get(item, "vm")));
			else if (!name && strcmp(kind, "backups") == 0)
				ct = name_of(cts, "containers", json_string_value(json_object_get(item, "uuid")));
			if (ct) { /* a container's job or backup */
				name = ct;
				obj = xasprintf("/containers/%s", ct);
			}
		}
		if (!obj || !name || !svc_acl_allows(acl, c->who, rule->item_priv, obj))
			json_array_remove(list, i);
	}
	svc_acl_free(acl);
}

bool route_allowed(struct route_ctx *c, const struct svc_identity *who, enum auth_priv priv)
{
	c->priv = priv;
	char **objs = route_objects(c);
	const char *denied = NULL;
	bool ok = true;

	if (list_allowed(c, who)) {
		for (size_t i = 0; objs[i]; i++)
			free(objs[i]);
		free(objs);
		return true;
	}
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
