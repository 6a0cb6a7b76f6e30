/*
 * routes_migrate.c - the handlers of live migration (service/migrate.h):
 * POST /v1/vms/{vm}/migrate for users, and /v1/migrations/incoming... for
 * the source host's corrald only (Host.Peer: a trusted host's pinned client
 * certificate), which prepares, finishes or aborts an incoming VM here, ends
 * the export of its replica here (release, a move onto the replica), or
 * asks where one stands (status, for the source's recovery).
 */
#include <errno.h>
#include <string.h>

#include "routes_internal.h"
#include "service/migrate.h"
#include "service/migrate_offline.h"
#include "service/evacuate.h"
#include "util/jsonutil.h"
#include "util/common.h"

void h_vm_migrate(struct route_ctx *c)
{
	static const char *const keys[] = { "to",     "with_local_disks", "max_downtime_ms", "bandwidth",
					    "offline", "quick",		   NULL };
	__do_json json_t *b = body_json(c, keys);
	struct svc_migrate_opts o = { 0 };
	struct buf err = BUF_INIT;
	int64_t downtime = 0, bw = 0;
	bool offline = false, quick = false;
	json_t *job = NULL;
	svc_uuid uuid;
	int r;

	if (!b)
		return;
	if (json_get_str(b, "to", &o.to, &err) < 0 || json_get_bool(b, "with_local_disks", &o.with_local_disks, &err) < 0 ||
	    json_get_int(b, "max_downtime_ms", 1, 60000, &downtime, &err) < 0 ||
	    json_get_int(b, "bandwidth", 1, INT64_MAX, &bw, &err) < 0 || json_get_bool(b, "offline", &offline, &err) < 0 ||
	    json_get_bool(b, "quick", &quick, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	if (offline && quick) {
		fail(c, -EINVAL, "quick and offline exclude each other: a quick migration moves a running VM");
		buf_release(&err);
		return;
	}
	if (one_vm(c, c->seg[2], uuid) < 0) {
		buf_release(&err);
		return;
	}
	o.max_downtime_ms = downtime;
	o.bandwidth = (uint64_t)bw;
	o.quick = quick;
	r = offline ? svc_vm_migrate_offline(uuid, &o, &job, &err) : svc_vm_migrate(uuid, &o, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}

void h_migrate_prepare(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_migrate_prepare checks the keys */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_migrate_prepare(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_migrate_step(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r;

	if (!strcmp(c->seg[4], "finish")) {
		static const char *const keys[] = { "resume", NULL };
		bool resume = true; /* no body: resume */
		if (c->req->body_len) {
			__do_json json_t *b = body_json(c, keys);
			if (!b || json_get_bool(b, "resume", &resume, &err) < 0) {
				if (b)
					fail(c, -EINVAL, err.s);
				buf_release(&err);
				return;
			}
		}
		r = svc_migrate_finish(c->seg[3], resume, &out, &err);
	} else if (!strcmp(c->seg[4], "abort")) {
		r = svc_migrate_abort(c->seg[3], &err);
		if (r == 0)
			out = json_pack("{s:b}", "aborted", 1);
	} else if (!strcmp(c->seg[4], "status")) {
		r = svc_migrate_status(c->seg[3], &out, &err);
	} else if (!strcmp(c->seg[4], "release")) {
		r = svc_migrate_release(c->seg[3], &err);
		if (r == 0)
			out = json_pack("{s:b}", "released", 1);
	} else {
		fail(c, -ENOENT, "no such route");
		return;
	}
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_migrate_offline_prepare(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_migrate_offline_prepare checks the keys */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_migrate_offline_prepare(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_migrate_offline_step(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_migrate_offline_step(c->seg[3], c->seg[4], &out, &err);

	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_host_evacuate(struct route_ctx *c)
{
	static const char *const keys[] = { "host", "to", "parallel", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct svc_evacuate_opts o = { 0 };
	struct buf err = BUF_INIT;
	int64_t parallel = 0;
	json_t *job = NULL;

	if (!b)
		return;
	if (json_get_str(b, "host", &o.host, &err) < 0 || json_get_str(b, "to", &o.to, &err) < 0 ||
	    json_get_int(b, "parallel", 1, EVAC_MAX_PARALLEL, &parallel, &err) < 0) {
		fail(c, -EINVAL, err.s);
		buf_release(&err);
		return;
	}
	o.parallel = (int)parallel;
	int r = svc_host_evacuate(&o, &job, &err);
	reply_job(c, r, job, &err);
	buf_release(&err);
}
