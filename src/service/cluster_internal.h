/*
 * cluster_internal.h - what cluster.c and cluster_change.c share; not for
 * other modules.  cluster.c keeps this host's cluster definition (the state
 * database row, corosync.conf, a copy in memory under a leaf lock);
 * cluster_change.c changes it.
 */
#ifndef CORRAL_SERVICE_CLUSTER_INTERNAL_H
#define CORRAL_SERVICE_CLUSTER_INTERNAL_H

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

#endif
