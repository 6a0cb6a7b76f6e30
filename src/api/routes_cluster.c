/*
 * routes_cluster.c - the handlers of /v1/cluster (this host's pool on
 * Corosync: service/cluster.h; docs/cluster.md).
 *
 * create, join, leave and node removal are an administrator's (Sys.Modify);
 * the peer routes are called by another member's corrald as a trusted host
 * (Host.Peer), which they act for.  /v1/witness is this host as the witness
 * of two-node pools (service/witness.h); its peer route signs a node's
 * qdevice certificate for a trusted host.
 */
#include <errno.h>
#include <string.h>

#include "routes_internal.h"
#include "service/cluster.h"
#include "service/witness.h"
#include "util/common.h"

void h_cluster_status(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_cluster_status()); }

void h_cluster_create(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_cluster_create(b, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_cluster_join(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_cluster_join(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_cluster_leave(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, (const char *const[]){ NULL });
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_cluster_leave(&out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_cluster_resync(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, (const char *const[]){ "discard_local", NULL });
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_cluster_resync(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_cluster_node_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_cluster_node_remove(c->seg[3], query_bool(c, "force"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

/* The calling trusted host, or NULL with 403 sent. */
static const char *caller_host(struct route_ctx *c)
{
	if (!c->caller_host)
		fail(c, -EACCES, "only a trusted host calls this (with its certificate)");
	return c->caller_host;
}

void h_cluster_peer(struct route_ctx *c)
{
	const char *caller = caller_host(c);
	const char *what = c->seg[3];
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r;
	if (!caller)
		return;
	__do_json json_t *b = body_json(c, NULL);
	if (!b)
		return;
	if (strcmp(c->req->method, "POST") == 0 && strcmp(what, "join") == 0)
		r = svc_cluster_peer_join(caller, c->req->peer, b, &out, &err);
	else if (strcmp(c->req->method, "POST") == 0 && strcmp(what, "leave") == 0)
		r = svc_cluster_peer_leave(caller, &out, &err);
	else if (strcmp(c->req->method, "PUT") == 0 && strcmp(what, "config") == 0)
		r = svc_cluster_peer_config(caller, b, &out, &err);
	else if (strcmp(c->req->method, "POST") == 0 && strcmp(what, "qdevice-request") == 0)
		r = svc_cluster_peer_qdevice_request(caller, b, &out, &err);
	else if (strcmp(c->req->method, "POST") == 0 && strcmp(what, "qdevice-cert") == 0)
		r = svc_cluster_peer_qdevice_cert(caller, b, &out, &err);
	else {
		fail(c, -ENOENT, "no such cluster peer request");
		return;
	}
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_cluster_witness_add(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_cluster_witness_add(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_cluster_witness_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_cluster_witness_remove(&out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_witness_status(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_witness_status()); }

void h_witness_create(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!b)
		return;
	int r = svc_witness_create(b, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_witness_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_witness_remove(query_bool(c, "force"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_witness_peer_sign(struct route_ctx *c)
{
	const char *caller = caller_host(c);
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	if (!caller)
		return;
	__do_json json_t *b = body_json(c, NULL);
	if (!b)
		return;
	int r = svc_witness_peer_sign(caller, b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}
