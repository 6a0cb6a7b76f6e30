/*
 * routes_alarm.c - the handlers of /v1/alarms and /v1/alarm-history
 * (docs/api.md "Alarms"): parse the request, call service/alarms.h, answer.
 */
#include <errno.h>
#include <string.h>

#include "service/alarms.h"
#include "util/jsonutil.h"
#include "util/common.h"

#include "routes_internal.h"

static const char *const rule_keys[] = { "name", "when", "on", "notify", "smtp", NULL };

void h_alarm_list(struct route_ctx *c) { http_reply_json(c->rep, 200, json_pack("{s:o}", "alarms", svc_alarm_list())); }

void h_alarm_create(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, rule_keys);
	if (!body)
		return;
	const char *name = json_string_value(json_object_get(body, "name"));
	int r = svc_alarm_put(name, body, true, &out, &err);
	reply_result(c, r, 201, out, &err);
	buf_release(&err);
}

void h_alarm_show(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_alarm_get(c->seg[2], &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_alarm_update(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	__do_json json_t *body = body_json(c, rule_keys);
	if (!body)
		return;
	int r = svc_alarm_put(c->seg[2], body, false, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_alarm_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	int r = svc_alarm_delete(c->seg[2], &err);
	reply_result(c, r, 200, r < 0 ? NULL : json_pack("{s:[s]}", "deleted", c->seg[2]), &err);
	buf_release(&err);
}

void h_alarm_test(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	int r = svc_alarm_test(c->seg[2], &out, &err);
	json_decref(r < 0 ? out : NULL);
	reply_result(c, r, 200, r < 0 ? NULL : out, &err);
	buf_release(&err);
}

void h_alarm_history(struct route_ctx *c)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;
	long limit = 100;
	if (query_int(c, "limit", 1, 10000, &limit) < 0)
		return;
	int r = svc_alarm_history(http_query(c->req, "alarm"), (int)limit, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}
