/*
 * routes_ha.c - the handlers of /v1/ha (docs/api.md "HA"): parse the
 * request, call service/ha.h, answer.
 */
#include <errno.h>
#include <string.h>

#include "service/ha.h"
#include "service/ha_ack.h"
#include "service/ha_admit.h"
#include "service/ha_group.h"
#include "service/ha_maint.h"
#include "util/jsonutil.h"
#include "util/common.h"

#include "routes_internal.h"

static const char *const add_keys[] = { "vm", "priority", "order", "start_delay", "max_restart", "max_relocate",
					"state", "group", NULL };

void h_ha_status(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_ha_status()); }

void h_ha_add(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, add_keys);
	if (!body)
		return;
	int r = svc_ha_add(body, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_ha_set(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, add_keys + 1);
	if (!body)
		return;
	int r = svc_ha_set(c->seg[2], body, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ha_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_ha_remove(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}

void h_ha_maintenance(struct route_ctx *c)
{
	static const char *const keys[] = { "maintenance", NULL };
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	json_t *m = json_object_get(body, "maintenance");
	if (!json_is_boolean(m)) {
		fail(c, -EINVAL, "give 'maintenance': true or false");
		return;
	}
	int r = svc_ha_maintenance(c->seg[3], json_is_true(m), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ha_fence_ack(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_ha_fence_ack(c->seg[3], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ha_pool_set(struct route_ctx *c)
{
	static const char *const keys[] = { "failures_to_tolerate", NULL };
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	int r = svc_ha_ftt_set(body, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_ha_group_list(struct route_ctx *c) { http_reply_json(c->rep, 200, svc_ha_group_list()); }

void h_ha_group_add(struct route_ctx *c)
{
	static const char *const keys[] = { "name", "hosts", "restricted", "nofailback", NULL };
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, keys);
	if (!body)
		return;
	int r = svc_ha_group_add(body, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_ha_group_remove(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_ha_group_remove(c->seg[3], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[3]), &err);
	buf_release(&err);
}
