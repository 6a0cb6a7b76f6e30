/*
 * cluster_internal.h - what cluster.c and cluster_change.c share; not for
 * other modules.  cluster.c keeps this host's cluster definition (the state
 * database row, corosync.conf, a copy in memory under a leaf lock);
 * cluster_change.c changes it.
 */
#ifndef CORRAL_SERVICE_CLUSTER_INTERNAL_H
#define CORRAL_SERVICE_CLUSTER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>

#include "cluster/conf.h"
#include "util/buf.h"

/* STATE/cluster: corosync's files (cluster/corosync.h). */
const char *svc_cluster_dir(void);
/* A host event of kind "cluster" (and a log line). */
void svc_cluster_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A copy of the definition and this host's node name (me: CLUSTER_NODE_NAME_MAX + 1
 * bytes, may be NULL): false when in no cluster. */
bool svc_cluster_def_get(struct cluster_def *out, char *me);
/* Write d as this host's definition (corosync.conf, then the row) and, with
 * reload, have a running corosync re-read it. */
int svc_cluster_def_apply(const struct cluster_def *d, const char *me, bool reload, struct buf *err);
/* Forget the cluster here: supervision off, corosync stopped, its files and the row removed. */
void svc_cluster_def_drop(void);

/* cluster_change.c's: the mutex serialising membership changes (held across calls to other hosts). */
void svc_cluster_op_lock(void);
void svc_cluster_op_unlock(void);
/* Send d to every node but this host and skip: [{"name","error"}] of those not told (new reference). */
json_t *svc_cluster_tell_members(const struct cluster_def *d, const char *me, const char *skip);
/* 0 when this host is quorate, else -EAGAIN and why. */
int svc_cluster_need_quorum(const struct cluster_def *d, struct buf *err);
/* -ENOENT: "this host is in no cluster". */
int svc_cluster_not_in(struct buf *err);
/* The trusted host named, or whose URL is, host, opened (service/peer.h). */
struct peer;
int svc_cluster_host_open(const char *host, struct peer **p, struct buf *err);

/* cluster_witness.c's: make corosync-qdevice match d (started and supervised
 * with a witness, stopped and its database removed without; d NULL: no
 * cluster).  Called by svc_cluster_def_apply (before == true: before the
 * new corosync.conf is written) and at start. */
void svc_cluster_qdevice_sync(const struct cluster_def *d, bool before);
/* At shutdown: stop supervising qdevice (it keeps running) and free its description. */
void svc_cluster_qdevice_forget(void);
/* The status's "witness" member (null without one); votes valid when have_votes. */
struct membership_votes;
json_t *svc_cluster_witness_status(const struct cluster_def *d, const struct membership_votes *votes, bool have_votes);

#endif
