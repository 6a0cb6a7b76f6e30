/*
 * routes_internal.h - what the route files share (not for other modules):
 * the request context, and the helpers that parse bodies and send answers
 * the same way everywhere.  routes.c holds the table and the VM, volume,
 * pool and job handlers; routes_backup.c those of repositories, backups,
 * policies and the host export; routes_auth.c the login and rights check
 * of requests over TCP and the handlers of users, tokens and ACL entries;
 * routes_net.c those of networks; routes_trust.c those of trusted hosts;
 * routes_migrate.c those of live migration; routes_alarm.c those of alarm rules; routes_ha.c those of HA;
 * routes_ui.c the web UI's files, login and session checks.
 * routes_cluster.c those of the pool of hosts on Corosync; routes_pool.c the
 * pool-wide VM list and the forwarding of requests to the member that owns the object.
 */
#ifndef CORRAL_API_ROUTES_INTERNAL_H
#define CORRAL_API_ROUTES_INTERNAL_H

#include <jansson.h>

#include "api/http.h"
#include "auth/auth.h"
#include "service/service.h"

#include "util/buf.h"

#define MAX_SEGS 8

struct svc_identity;

struct route_ctx {
	const struct http_request *req;
	const struct svc_identity *who; /* the caller ("root@unix" on the socket) */
	enum auth_priv priv;             /* the route's privilege, while route_allowed checks it */
	struct http_reply *rep;
	char *seg[MAX_SEGS];
	int nseg;
	const char *caller_host; /* the trusted host calling (over TCP, by its certificate), or NULL */
	const char *forwarded_by; /* the pool member that forwarded this request for the caller, or NULL */
};

/* Reply with the error for -errno err (api_errno_status) and msg. */
void fail(struct route_ctx *c, int err, const char *msg);
/* The request body as a JSON object whose keys are all in allowed (NULL: any); NULL + reply sent. */
json_t *body_json(struct route_ctx *c, const char *const *allowed);
/* Query parameter `key` is true/1/yes (absent or anything else: false). */
bool query_bool(struct route_ctx *c, const char *key);
/* Optional integer query parameter in [min, max] into *out (left alone when absent); 0 or reply sent. */
int query_int(struct route_ctx *c, const char *key, long min, long max, long *out);
/* Exactly one VM for sel; 0 + uuid or reply sent. */
int one_vm(struct route_ctx *c, const char *sel, svc_uuid uuid);
/* r < 0: the error; else status with out (taken). */
void reply_result(struct route_ctx *c, int r, int status, json_t *out, const struct buf *err);
/* reply_result for an operation that started a job: 202 {"job": job}. */
void reply_job(struct route_ctx *c, int r, json_t *job, const struct buf *err);

/* routes_auth.c: a request over TCP is first logged in (false: 401 or 429 sent), then
 * its route's privilege checked on the objects its path names (false: 403 sent). */
bool route_login(struct route_ctx *c, struct svc_identity *who);
bool route_allowed(struct route_ctx *c, const struct svc_identity *who, enum auth_priv priv);
/* A user logged in with her password makes a token of her own (POST
 * /v1/users/HER/tokens): allowed without User.Modify (docs/remote.md). */
bool route_self(const struct route_ctx *c, const struct svc_identity *who);
/* routes_ui.c: a request over TCP without Authorization that carries the web
 * UI's session cookie: 1 and *who (the Origin and, but for GET, the CSRF
 * token checked), 0 when it has no cookie, -1 when a 401 or 403 was sent. */
int route_session_login(struct route_ctx *c, struct svc_identity *who);
/* A console's WebSocket handshake (Origin, version, key): 0 and the
 * Sec-WebSocket-Accept value into accept (>= WS_ACCEPT_LEN + 1), or -1 and the reply sent. */
int route_ws_accept(struct route_ctx *c, char *accept, size_t len);
/* Over TCP, drop from `list` (an array of the collection `kind`: "vms",
 * "volumes", "pools", "jobs", "events", "containers") what the caller may not read. */
void route_filter(struct route_ctx *c, json_t *list, const char *kind);
void h_user_list(struct route_ctx *c);
void h_user_add(struct route_ctx *c);
void h_user_delete(struct route_ctx *c);
void h_user_passwd(struct route_ctx *c);
void h_token_list(struct route_ctx *c);
void h_token_add(struct route_ctx *c);
void h_token_delete(struct route_ctx *c);
void h_acl_list(struct route_ctx *c);
void h_acl_add(struct route_ctx *c);
void h_acl_delete(struct route_ctx *c);

/* routes_pool.c: answering for the pool (docs/cluster.md "Pool-wide answers").
 * A query's scope is absent, local or pool (false: 400 sent). */
bool route_scope_valid(struct route_ctx *c);
/* GET /v1/vms: local (this host's list, filtered; taken) with every member's VMs
 * when the request is answered for the pool; else local as it is. */
json_t *route_pool_vm_list(struct route_ctx *c, json_t *local);
/* A request on /v1/vms/{vm}... or /v1/jobs/{job}... whose object is another
 * member's (or that names host=): handed on to it and its answer sent, or
 * refused (stream: the console, not forwarded); true when answered. */
bool route_forward(struct route_ctx *c, bool stream);
/* A stream of one VM (events ?vm=SEL) whose VM is another member's: refused
 * naming that member (`what`: "event streams are"), or not found; true when answered. */
bool route_stream_elsewhere(struct route_ctx *c, const char *sel, const char *what);

/* routes_migrate.c */
void h_vm_migrate(struct route_ctx *c);
void h_migrate_prepare(struct route_ctx *c);
void h_vm_replicate(struct route_ctx *c);
void h_vm_replicate_show(struct route_ctx *c);
void h_vm_replicate_stop(struct route_ctx *c);
void h_vm_replicate_resume(struct route_ctx *c);
void h_replica_create(struct route_ctx *c);
void h_replica_export(struct route_ctx *c);
void h_replica_delete(struct route_ctx *c);
void h_replica_hashes(struct route_ctx *c);
void h_migrate_step(struct route_ctx *c);
void h_migrate_offline_prepare(struct route_ctx *c);
void h_migrate_offline_step(struct route_ctx *c);
void h_host_evacuate(struct route_ctx *c);
/* routes_trust.c */
void h_trust_list(struct route_ctx *c);
void h_trust_probe(struct route_ctx *c);
void h_trust_add(struct route_ctx *c);
void h_trust_join(struct route_ctx *c);
void h_trust_ping(struct route_ctx *c);
void h_trust_leave(struct route_ctx *c);
void h_trust_remove(struct route_ctx *c);
void h_hosts(struct route_ctx *c);

/* routes_cluster.c */
void h_cluster_status(struct route_ctx *c);
void h_cluster_create(struct route_ctx *c);
void h_cluster_join(struct route_ctx *c);
void h_cluster_leave(struct route_ctx *c);
void h_cluster_node_remove(struct route_ctx *c);
void h_cluster_resync(struct route_ctx *c);
void h_cluster_peer(struct route_ctx *c);
void h_cluster_witness_add(struct route_ctx *c);
void h_cluster_witness_remove(struct route_ctx *c);
void h_witness_status(struct route_ctx *c);
void h_witness_create(struct route_ctx *c);
void h_witness_remove(struct route_ctx *c);
void h_witness_peer_sign(struct route_ctx *c);

/* routes_ha.c */
void h_ha_status(struct route_ctx *c);
void h_ha_add(struct route_ctx *c);
void h_ha_set(struct route_ctx *c);
void h_ha_remove(struct route_ctx *c);
void h_ha_maintenance(struct route_ctx *c);
void h_ha_fence_ack(struct route_ctx *c);
void h_ha_pool_set(struct route_ctx *c);
void h_ha_group_list(struct route_ctx *c);
void h_ha_group_add(struct route_ctx *c);
void h_ha_group_remove(struct route_ctx *c);

/* routes_alarm.c */
void h_alarm_list(struct route_ctx *c);
void h_alarm_create(struct route_ctx *c);
void h_alarm_show(struct route_ctx *c);
void h_alarm_update(struct route_ctx *c);
void h_alarm_delete(struct route_ctx *c);
void h_alarm_test(struct route_ctx *c);
void h_alarm_history(struct route_ctx *c);

void h_host_export(struct route_ctx *c);
void h_events(struct route_ctx *c);
void h_repo_list(struct route_ctx *c);
void h_repo_create(struct route_ctx *c);
void h_repo_show(struct route_ctx *c);
void h_repo_action(struct route_ctx *c);
void h_repo_forget(struct route_ctx *c);
void h_backup_list(struct route_ctx *c);
void h_backup_run(struct route_ctx *c);
void h_backup_show(struct route_ctx *c);
void h_backup_files(struct route_ctx *c);
void h_backup_content(struct route_ctx *c);
void h_backup_restore(struct route_ctx *c);
void h_backup_verify(struct route_ctx *c);
void h_backup_forget(struct route_ctx *c);
void h_policy_list(struct route_ctx *c);
void h_policy_put(struct route_ctx *c);
void h_policy_show(struct route_ctx *c);
void h_policy_delete(struct route_ctx *c);
void h_net_list(struct route_ctx *c);
void h_net_create(struct route_ctx *c);
void h_net_show(struct route_ctx *c);
void h_net_delete(struct route_ctx *c);
void h_net_leases(struct route_ctx *c);
void h_net_forward_add(struct route_ctx *c);
void h_net_forward_delete(struct route_ctx *c);

/* routes_ct.c */
void h_ct_list(struct route_ctx *c);
void h_ct_migrate(struct route_ctx *c);
void h_ct_move(struct route_ctx *c);
void h_ct_events(struct route_ctx *c);
void h_ct_update(struct route_ctx *c);
void h_ct_migrate_prepare(struct route_ctx *c);
void h_ct_migrate_step(struct route_ctx *c);
void h_ct_migrate_root(struct route_ctx *c);
void h_ct_create(struct route_ctx *c);
void h_ct_show(struct route_ctx *c);
void h_ct_delete(struct route_ctx *c);
void h_ct_action(struct route_ctx *c);
void h_ct_exec(struct route_ctx *c);
void h_ct_console(struct route_ctx *c);
void h_ct_limits(struct route_ctx *c);
void h_ct_nic_attach(struct route_ctx *c);
void h_ct_nic_detach(struct route_ctx *c);
void h_ct_snap_list(struct route_ctx *c);
void h_ct_snap_create(struct route_ctx *c);
void h_ct_snap_delete(struct route_ctx *c);
void h_ct_snap_revert(struct route_ctx *c);
void h_ct_clone(struct route_ctx *c);

#endif
