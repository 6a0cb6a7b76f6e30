/*
 * hagroup.h - the host list of an HA group, "HOST[:PRIORITY],..."
 * (hagroup.c; docs/ha.md "Groups"), as `corral ha group add --hosts` and
 * POST /v1/ha/groups give it: untrusted text, so a pure parser with a unit
 * test (tests/unit/test_hagroup.c) and a fuzz target
 * (tests/fuzz/fuzz_hagroup.c).  Whether each host is a node of the pool is
 * the caller's check.
 *
 * Rules: 1..HAGROUP_MAX_HOSTS entries separated by ','; each a node name
 * (cluster/conf.h's rule) with an optional ':' and a decimal priority
 * 0..1000 (default 0); no empty entry, no host twice.
 *
 * Ownership: the names are copied into out.  Threading: none.  Errors:
 * -EINVAL + one sentence in err.
 */
#ifndef CORRAL_CLUSTER_HAGROUP_H
#define CORRAL_CLUSTER_HAGROUP_H

#include <stddef.h>

#include "cluster/conf.h"
#include "util/buf.h"

#define HAGROUP_MAX_HOSTS CLUSTER_MAX_NODES
#define HAGROUP_PRIO_MAX 1000

struct hagroup_host {
	char name[CLUSTER_NODE_NAME_MAX + 1];
	int priority;
};

int hagroup_hosts_parse(const char *text, struct hagroup_host *out, size_t *n, struct buf *err);

#endif
