/*
 * routes_net.c - the network handlers: /v1/networks, one network, its
 * DHCP leases and its port forwards (service/network.h).  The table entries
 * are in routes.c.
 */
#include <errno.h>

#include "routes_internal.h"
#include "service/network.h"
#include "util/jsonutil.h"
#include "util/common.h"

void h_net_list(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_net_list()); }

void h_net_create(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err __do_buf = BUF_INIT;
	__do_json json_t *body = body_json(c, NULL); /* netdef_from_json names unknown fields */
	if (!body)
		return;
	int r = svc_net_create(body, &out, &err);
	reply_result(c, r, 201, out, &err);
}

void h_net_show(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err __do_buf = BUF_INIT;
	int r = svc_net_get(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
}

void h_net_delete(struct route_ctx *c)
{
	struct buf err __do_buf = BUF_INIT;
	int r = svc_net_delete(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
}

void h_net_leases(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err __do_buf = BUF_INIT;
	int r = svc_net_leases(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
}

void h_net_forward_add(struct route_ctx *c)
{
	static const char *const keys[] = { "host", "guest", NULL };
	const char *host = NULL, *guest = NULL;
	json_t *out = NULL;
	struct buf err __do_buf = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	if (json_get_str(body, "host", &host, &err) < 0 || json_get_str(body, "guest", &guest, &err) < 0 || !host ||
	    !guest) {
		fail(c, -EINVAL, err.len ? err.s : "fields 'host' (tcp:PORT) and 'guest' (VM:PORT) are required");
		return;
	}
	int r = svc_net_forward_add(c->seg[2], host, guest, &out, &err);
	reply_result(c, r, 201, out, &err);
}

void h_net_forward_delete(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err __do_buf = BUF_INIT;
	int r = svc_net_forward_delete(c->seg[2], c->seg[4], &out, &err);
	json_decref(out);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[4]), &err);
}
