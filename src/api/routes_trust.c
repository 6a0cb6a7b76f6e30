/*
 * routes_trust.c - the handlers of /v1/host/trust (trusted hosts, mutual
 * TLS between hosts: service/trust.h) and /v1/hosts (this host and every
 * trusted one: service/hosts.h).
 *
 * join is called by another host's corrald with one of this host's API
 * tokens and that host's certificate as TLS client certificate; ping and
 * leave only by a trusted host (Host.Peer), which they act on.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "routes_internal.h"
#include "service/hosts.h"
#include "service/trust.h"
#include "util/jsonutil.h"
#include "util/common.h"

void h_trust_list(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_trust_list()); }

void h_trust_probe(struct route_ctx *c)
{
	static const char *const keys[] = { "url", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_trust_probe(json_string_value(json_object_get(b, "url")), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_trust_add(struct route_ctx *c)
{
	static const char *const keys[] = { "url", "name", "fingerprint", "token", "self_url", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	const char *url = json_string_value(json_object_get(b, "url"));
	if (!url) {
		fail(c, -EINVAL, "'url' (the other host's API, https://HOST:PORT) is required");
		return;
	}
	int r = svc_trust_add(url, json_string_value(json_object_get(b, "name")),
			      json_string_value(json_object_get(b, "fingerprint")),
			      json_string_value(json_object_get(b, "token")),
			      json_string_value(json_object_get(b, "self_url")), &out, &err);
	json_t *tok = json_object_get(b, "token");
	if (json_is_string(tok)) /* wipe the secret before the body goes */
		OPENSSL_cleanse((void *)json_string_value(tok), json_string_length(tok));
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_trust_join(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	__do_free char *pem = NULL;
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	if (!c->req->remote) {
		fail(c, -EINVAL, "a trust join comes from another host over TLS, not through the unix socket");
		return;
	}
	pem = http_client_cert_pem(c->req);
	int r = svc_trust_join(c->req->client_fp, pem, c->req->peer, b, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

/* The calling trusted host, or NULL with 403 sent. */
static const char *caller_host(struct route_ctx *c)
{
	if (!c->caller_host)
		fail(c, -EACCES, "only a trusted host calls this (with its certificate)");
	return c->caller_host;
}

void h_trust_ping(struct route_ctx *c)
{
	const char *caller = caller_host(c);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!caller)
		return;
	int r = svc_trust_ping(caller, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_trust_leave(struct route_ctx *c)
{
	const char *caller = caller_host(c);
	struct buf err = BUF_INIT;
	if (!caller)
		return;
	int r = svc_trust_leave(caller, &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:s}", "name", caller), &err);
	buf_release(&err);
}

void h_trust_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_trust_remove(c->seg[3], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_hosts(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_hosts_list()); }
