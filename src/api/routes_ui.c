/*
 * routes_ui.c - the web UI's side of the HTTP front end (docs/webui.md):
 * its files under /ui/, its login, logout and session routes, the session
 * cookie as a credential for the API with its CSRF and Origin checks, and
 * the WebSocket handshake of the consoles.
 *
 * Files are answered to anyone (the login page must load before a login):
 * they are the same for every host and hold no data.  Every answer under
 * /ui/ forbids framing, MIME sniffing and any script or connection not
 * from this origin (Content-Security-Policy default-src 'self'), so that
 * text the API returns can only ever be shown, never run.  Styles may be
 * inline ('unsafe-inline' for style-src only): xterm.js writes <style>
 * elements for its theme and cursor; the UI itself never does.
 *
 * A request over TLS without an Authorization header but with the session
 * cookie is the session's user (with her rights, as a password login);
 * if it carries an Origin, that must be this host; a WebSocket upgrade
 * must carry one; and anything but GET must carry the session's CSRF token
 * in X-CSRF-Token (the page reads it from GET /ui/session).  Requests with
 * an Authorization header (API clients) are not affected by the cookie.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "routes.h"
#include "routes_internal.h"
#include "core/events.h"
#include "service/session.h"
#include "web/assets.h"
#include "web/ws.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

static const char *ui_dir, *novnc_dir;

void api_ui_init(const char *dir, const char *novnc)
{
	ui_dir = dir;
	novnc_dir = novnc;
}

/* What every answer under /ui/ carries. */
static void ui_headers(struct http_reply *rep)
{
	http_reply_header(rep, "Content-Security-Policy",
			  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
			  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	http_reply_header(rep, "X-Frame-Options", "DENY");
	http_reply_header(rep, "X-Content-Type-Options", "nosniff");
	http_reply_header(rep, "Referrer-Policy", "no-referrer");
	http_reply_header(rep, "Cache-Control", "no-cache");
}

static void ui_error(struct http_reply *rep, int status, const char *code, const char *msg)
{
	http_reply_error(rep, status, code, msg);
	ui_headers(rep);
}

/* The cookie that ends the session in the browser too. */
static void cookie_set(struct http_reply *rep, const char *id, unsigned max_age)
{
	__do_free char *v = xasprintf("%s=%s; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=%u", WEB_COOKIE_NAME,
				      id, max_age);
	http_reply_header(rep, "Set-Cookie", v);
}

/* The request's session id into id (>= AUTH_SECRET_HEX + 1); false if it has none. */
static bool cookie_of(const struct http_request *req, char *id, size_t len)
{
	return web_cookie_get(http_header(req, "Cookie"), WEB_COOKIE_NAME, id, len);
}

static bool origin_ok(const struct http_request *req)
{
	return web_origin_same(http_header(req, "Origin"), http_header(req, "Host"), req->remote);
}

static bool is_websocket(const struct http_request *req)
{
	return req->upgrade && strcasecmp(req->upgrade, "websocket") == 0;
}

int route_session_login(struct route_ctx *c, struct svc_identity *who)
{
	char id[AUTH_SECRET_HEX + 1], csrf[AUTH_SECRET_HEX + 1];
	struct buf err = BUF_INIT;
	const char *m = c->req->method;

	if (!cookie_of(c->req, id, sizeof(id)))
		return 0;
	if (svc_session_check(id, who, csrf, sizeof(csrf), &err) < 0) {
		http_reply_error(c->rep, 401, "unauthorized", err.s);
		buf_release(&err);
		return -1;
	}
	if ((http_header(c->req, "Origin") || is_websocket(c->req)) && !origin_ok(c->req)) {
		http_reply_error(c->rep, 403, "forbidden", "forbidden: the request's Origin is not this host");
		return -1;
	}
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
	    !auth_csrf_equal(csrf, http_header(c->req, "X-CSRF-Token"))) {
		http_reply_error(c->rep, 403, "forbidden",
				 "forbidden: a change made with a session needs its CSRF token in X-CSRF-Token");
		return -1;
	}
	return 1;
}

int route_ws_accept(struct route_ctx *c, char *accept, size_t len)
{
	struct buf err = BUF_INIT;
	const char *ver = http_header(c->req, "Sec-WebSocket-Version");

	if (http_header(c->req, "Origin") && !origin_ok(c->req)) {
		http_reply_error(c->rep, 403, "forbidden", "forbidden: the WebSocket's Origin is not this host");
		return -1;
	}
	if (!ver || strcmp(ver, "13") != 0) {
		http_reply_header(c->rep, "Sec-WebSocket-Version", "13");
		fail(c, -EINVAL, "the console's WebSocket needs Sec-WebSocket-Version: 13");
		return -1;
	}
	if (ws_accept_key(http_header(c->req, "Sec-WebSocket-Key"), accept, len, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return -1;
	}
	return 0;
}

/* GET /ui/...: a file of the UI. */
static void ui_file(const struct http_request *req, struct http_reply *rep)
{
	struct buf err = BUF_INIT;
	__do_free char *file = NULL;
	const char *ctype = NULL;
	struct stat st;
	int fd;

	if (web_asset_file(req->path, ui_dir, novnc_dir, &file, &ctype, &err) < 0 ||
	    (fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
		ui_error(rep, 404, "not_found", "no such file of the web UI");
		buf_release(&err);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		ui_error(rep, 404, "not_found", "no such file of the web UI");
		return;
	}
	http_reply_stream(rep, fd, (uint64_t)st.st_size);
	http_reply_header(rep, "Content-Type", ctype);
	ui_headers(rep);
}

/* POST /ui/login {"user","password"}: a session, its cookie and its CSRF token. */
static void ui_login(const struct http_request *req, struct http_reply *rep)
{
	char id[AUTH_SECRET_HEX + 1], csrf[AUTH_SECRET_HEX + 1];
	struct buf err = BUF_INIT;
	int64_t retry = 0;
	__do_json json_t *b = NULL;
	const char *user, *password;
	int r;

	if (!req->remote) {
		ui_error(rep, 400, "invalid_argument",
			 "the unix socket needs no login (it is root's door): log in to the UI over TLS");
		return;
	}
	if (http_header(req, "Origin") && !origin_ok(req)) {
		ui_error(rep, 403, "forbidden", "forbidden: the login's Origin is not this host");
		return;
	}
	b = json_parse_object(req->body, req->body_len, &err);
	static const char *const keys[] = { "user", "password", NULL };
	if (!b || json_check_keys(b, "the login", keys, &err) < 0) {
		ui_error(rep, 400, "invalid_argument", err.s);
		buf_release(&err);
		return;
	}
	user = json_string_value(json_object_get(b, "user"));
	password = json_string_value(json_object_get(b, "password"));
	r = svc_session_login(user, password, req->peer, id, csrf, &retry, &err);
	if (r == -EAGAIN) {
		char n[24];
		snprintf(n, sizeof(n), "%lld", (long long)retry);
		ui_error(rep, 429, "too_many_requests", err.s);
		http_reply_header(rep, "Retry-After", n);
	} else if (r < 0) {
		ui_error(rep, r == -EACCES ? 401 : 500, r == -EACCES ? "unauthorized" : "internal", err.s);
	} else {
		struct svc_identity who = { "", "", "" };
		snprintf(who.user, sizeof(who.user), "%s", user);
		http_reply_json(rep, 200, json_pack("{s:s,s:s,s:i,s:o}", "user", user, "csrf", csrf, "idle_timeout",
						    (int)svc_session_idle_s(), "rights", svc_acl_rights(user)));
		cookie_set(rep, id, svc_session_max_age_s());
		ui_headers(rep);
		events_actor_set(who.user);
		svc_auth_audit(&who, req->peer, "POST", "/ui/login", 200);
		events_actor_set(NULL);
	}
	buf_release(&err);
}

/* GET /ui/session: who the cookie is, and the CSRF token for the page. */
static void ui_session(const struct http_request *req, struct http_reply *rep)
{
	char id[AUTH_SECRET_HEX + 1], csrf[AUTH_SECRET_HEX + 1];
	struct svc_identity who = { "", "", "" };
	struct buf err = BUF_INIT;

	if (!req->remote) {
		http_reply_json(rep, 200, json_pack("{s:s,s:s,s:b,s:[{s:s,s:s,s:o}]}", "user", "root@unix", "csrf", "",
						    "local", 1, "rights", "path", "/", "role", "Administrator",
						    "privileges", svc_priv_names(AUTH_PRIV_ALL)));
		ui_headers(rep);
		return;
	}
	if (!cookie_of(req, id, sizeof(id))) {
		ui_error(rep, 401, "unauthorized", "not logged in");
		return;
	}
	if (svc_session_check(id, &who, csrf, sizeof(csrf), &err) < 0) {
		ui_error(rep, 401, "unauthorized", err.s);
		cookie_set(rep, "", 0);
		buf_release(&err);
		return;
	}
	http_reply_json(rep, 200, json_pack("{s:s,s:s,s:i,s:o}", "user", who.user, "csrf", csrf, "idle_timeout",
					    (int)svc_session_idle_s(), "rights", svc_acl_rights(who.user)));
	ui_headers(rep);
}

/* POST /ui/logout: end the session (needs its CSRF token: a foreign page cannot log one out). */
static void ui_logout(const struct http_request *req, struct http_reply *rep)
{
	char id[AUTH_SECRET_HEX + 1], csrf[AUTH_SECRET_HEX + 1];
	struct svc_identity who = { "", "", "" };
	struct buf err = BUF_INIT;

	if (!req->remote || !cookie_of(req, id, sizeof(id)) ||
	    svc_session_check(id, &who, csrf, sizeof(csrf), &err) < 0) {
		http_reply_json(rep, 200, json_pack("{s:b}", "logged_out", 1));
		cookie_set(rep, "", 0);
		ui_headers(rep);
		buf_release(&err);
		return;
	}
	if (!auth_csrf_equal(csrf, http_header(req, "X-CSRF-Token"))) {
		ui_error(rep, 403, "forbidden", "forbidden: logging out needs the session's CSRF token in X-CSRF-Token");
		return;
	}
	svc_session_logout(id);
	http_reply_json(rep, 200, json_pack("{s:b}", "logged_out", 1));
	cookie_set(rep, "", 0);
	ui_headers(rep);
	events_actor_set(who.user);
	svc_auth_audit(&who, req->peer, "POST", "/ui/logout", 200);
	events_actor_set(NULL);
}

bool api_ui_route(const struct http_request *req, struct http_reply *rep)
{
	const char *p = req->path, *m = req->method;

	if (strncmp(p, "/ui", 3) != 0 || (p[3] && p[3] != '/'))
		return false;
	if (strcmp(p, "/ui") == 0) {
		rep->status = 301;
		http_reply_header(rep, "Location", "/ui/");
		ui_headers(rep);
	} else if (strcmp(p, "/ui/login") == 0) {
		if (strcmp(m, "POST") == 0)
			ui_login(req, rep);
		else
			ui_error(rep, 405, "invalid_argument", "method not allowed on this path");
	} else if (strcmp(p, "/ui/logout") == 0) {
		if (strcmp(m, "POST") == 0)
			ui_logout(req, rep);
		else
			ui_error(rep, 405, "invalid_argument", "method not allowed on this path");
	} else if (strcmp(p, "/ui/session") == 0) {
		if (strcmp(m, "GET") == 0)
			ui_session(req, rep);
		else
			ui_error(rep, 405, "invalid_argument", "method not allowed on this path");
	} else if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) {
		ui_file(req, rep);
	} else {
		ui_error(rep, 405, "invalid_argument", "method not allowed on this path");
	}
	return true;
}
