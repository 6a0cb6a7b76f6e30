/*
 * routes_replicate.c - the handlers of synchronous disk replication
 * (service/replicate.h, docs/ha.md): /v1/vms/{vm}/replicate for users
 * (start, show, resume, stop), and /v1/replicas... for the VM's host's
 * corrald only (Host.Peer), which makes, re-keys or removes the replica
 * volumes and their NBD export on this host.
 */
#include <errno.h>
#include <string.h>

#include "routes_internal.h"
#include "service/replicate.h"
#include "util/jsonutil.h"
#include "util/common.h"

void h_vm_replicate(struct route_ctx *c)
{
	static const char *const keys[] = { "to", "reuse", "compare_rate", NULL };
	__do_json json_t *b = body_json(c, keys);
	struct buf err = BUF_INIT;
	const char *to = NULL;
	bool reuse = false;
	int64_t rate = 0;
	json_t *out = NULL;
	svc_uuid uuid;

	if (!b)
		return;
	if (json_get_str(b, "to", &to, &err) < 0 || !to || json_get_bool(b, "reuse", &reuse, &err) < 0 ||
	    json_get_int(b, "compare_rate", 0, 1 << 20, &rate, &err) < 0) {
		fail(c, -EINVAL, err.len ? err.s : "replicate needs the host to replicate to (to)");
		buf_release(&err);
		return;
	}
	if (one_vm(c, c->seg[2], uuid) < 0) {
		buf_release(&err);
		return;
	}
	int r = svc_vm_replicate(uuid, to, reuse, (unsigned)rate, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_vm_replicate_show(struct route_ctx *c)
{
	svc_uuid uuid;
	if (one_vm(c, c->seg[2], uuid) < 0)
		return;
	json_t *out = svc_vm_replication(uuid);
	if (out)
		http_reply_json(c->rep, 200, out);
	else
		fail(c, -ENOENT, "the VM is not replicated");
}

void h_vm_replicate_stop(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	svc_uuid uuid;
	if (one_vm(c, c->seg[2], uuid) < 0)
		return;
	json_t *out = NULL;
	int r = svc_vm_replicate_stop(uuid, query_bool(c, "keep_replica"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_vm_replicate_resume(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	svc_uuid uuid;
	if (one_vm(c, c->seg[2], uuid) < 0)
		return;
	int r = svc_vm_replicate_resume(uuid, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_replica_create(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_replica_create checks the keys */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	const char *source = json_string_value(json_object_get(b, "source"));
	if (c->caller_host && (!source || strcmp(source, c->caller_host))) {
		fail(c, -EACCES, "a replica is asked for by the VM's own host only");
		return;
	}
	int r = svc_replica_create(b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_replica_export(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL);
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_replica_export(c->seg[2], c->caller_host, b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_replica_delete(struct route_ctx *c)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = svc_replica_delete(c->seg[2], c->caller_host, query_bool(c, "keep"), &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}

void h_replica_hashes(struct route_ctx *c)
{
	__do_json json_t *b = body_json(c, NULL); /* svc_replica_hashes checks the keys */
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	if (!b)
		return;
	int r = svc_replica_hashes(c->seg[2], c->caller_host, b, &out, &err);
	reply_result(c, r, 200, out, &err);
	buf_release(&err);
}
