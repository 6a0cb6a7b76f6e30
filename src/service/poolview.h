/*
 * poolview.h - answering for the whole pool (poolview.c; docs/cluster.md
 * "Pool-wide answers"): the VMs of every member in one list, and the
 * member that owns a VM found so that a request naming it can be handed
 * on to that member.
 *
 * VMs are host-local (docs/cluster.md "Replicated configuration"): each
 * member keeps its own.  A member that is asked for the pool asks the other
 * members of its pool (the cluster definition's nodes that are online in
 * its corosync ring) over the peer channel (peer.h: mutual TLS between
 * trusted hosts; pool members trust each other, `cluster join` goes through
 * host trust), in parallel, each with a short deadline (POOLVIEW_TIMEOUT_MS
 * for a list, POOLVIEW_OWNER_TIMEOUT_MS to find an owner),
 * for their own VMs only (GET /v1/vms?scope=local): a member's answer never
 * asks further, so nothing recurses.  A member that is offline, not
 * trusted, or does not answer in time is reported, never waited for longer.
 *
 * Who asks: a call on behalf of a user carries the user (and token) in the
 * header POOLVIEW_USER_HEADER; the member answering applies that user's
 * rights from its own copy of the replicated ACL (routes_auth.c checks the
 * caller is a pool member before taking the header).  NULL: the call is
 * the host's own (root on its unix socket, or owner discovery, which reads
 * names only).
 *
 * Threading: any thread; one call starts a thread per member and joins
 * them all before it returns.  Errors: 0 or -errno with one sentence
 * appended to err (service.h).
 */
#ifndef CORRAL_SERVICE_POOLVIEW_H
#define CORRAL_SERVICE_POOLVIEW_H

#include <jansson.h>
#include <stdbool.h>

#include "service/peer.h"
#include "service/service.h"

/* Per member, for a list: TCP + TLS, and the whole call. */
#define POOLVIEW_TIMEOUT_MS 2000L
/* Per member, to find a VM's owner before a verb is handed on: an action is
 * worth a longer wait than a list (a loaded member still answers). */
#define POOLVIEW_OWNER_TIMEOUT_MS 5000L
/* A forwarded request: TCP + TLS, and the whole call. */
#define POOLVIEW_FORWARD_CONNECT_MS 2000L
#define POOLVIEW_FORWARD_TIMEOUT_MS 30000L
/* The header a forwarding member names its caller in: "USER", "USER!TOKEN",
 * or POOLVIEW_USER_HOST for root on its unix socket (the member itself). */
#define POOLVIEW_USER_HEADER "X-Corral-User"
#define POOLVIEW_USER_HOST "@host"
/* The header every forwarded answer carries: the member that answered. */
#define POOLVIEW_HOST_HEADER "X-Corral-Host"

/*
 * Is this host in a pool?  true and its own node name into me (>= 65
 * bytes; may be NULL).
 */
bool svc_poolview_in_pool(char *me);
/* Is `name` a node of this host's pool (online or not)? */
bool svc_poolview_is_member(const char *name);

/*
 * The pool-wide VM list: `local` ({"vms":[...]}, this host's VMs as the
 * caller may see them; taken) gets "host" on each VM, then every other
 * member's VMs (GET /v1/vms?scope=local&select=SELECT, on behalf of
 * `user`), each with its "host", and "unreachable": [names] with
 * "host_errors": [{"host","error"}] for the members that did not answer.
 * Outside a pool: local unchanged.  Never fails: a member that fails is
 * reported.
 */
json_t *svc_poolview_vm_list(json_t *local, const char *select, const char *user);

/*
 * The member that owns the VM `sel` (a name, a uuid or "uuid:UUID"; not
 * on this host): 0 and its name into host (>= 65 bytes).  -EINVAL: sel is
 * not a VM name or uuid (nothing asked); -ENOENT: no online member has it
 * (err says which members did not answer); -EEXIST: several members have
 * it (err names them and each one's uuid).
 */
int svc_poolview_vm_owner(const char *sel, char *host, size_t len, struct buf *err);

/*
 * A new VM may take `name` (vm create, clone, import, restore under a new
 * name): 0 when this host is in no pool, or no online member that answered
 * has a VM of that name; -EEXIST with err naming the member(s) that do
 * (VM names are unique in a pool, as instance names are in an Incus
 * cluster: a name then names one VM wherever it is asked).  A member that
 * is offline or does not answer within POOLVIEW_OWNER_TIMEOUT_MS is not
 * counted (logged): the check cannot see across a partition, and a
 * duplicate made there is refused as ambiguous when named (svc_poolview_vm_owner).
 */
int svc_poolview_name_free(const char *name, struct buf *err);

/*
 * Hand METHOD PATH (with its query, already encoded) and body (len bytes
 * of content_type, may be NULL) to pool member `host` on behalf of `user`
 * (NULL: the host's own root) with the request's If-Match (may be NULL):
 * 0 and its answer in *out (peer_raw_reply_release), or -errno + err when
 * no answer came (-ENOENT: not a member of the pool, -EHOSTUNREACH...).
 */
int svc_poolview_forward(const char *host, const char *method, const char *path, const char *body, size_t len,
			 const char *content_type, const char *user, const char *if_match, struct peer_raw_reply *out,
			 struct buf *err);

#endif
