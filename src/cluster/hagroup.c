/*
 * hagroup.c - parse an HA group's host list (see hagroup.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cluster/hagroup.h"

int hagroup_hosts_parse(const char *text, struct hagroup_host *out, size_t *n, struct buf *err)
{
	*n = 0;
	if (!text || !*text) {
		buf_adds(err, "a group needs hosts: HOST[:PRIORITY],... (e.g. h1:2,h2:1)");
		return -EINVAL;
	}
	for (const char *p = text;;) {
		size_t len = strcspn(p, ","), nlen = strcspn(p, ":,");
		if (*n == HAGROUP_MAX_HOSTS) {
			buf_printf(err, "a group has at most %d hosts", HAGROUP_MAX_HOSTS);
			return -EINVAL;
		}
		if (nlen == 0 || nlen > CLUSTER_NODE_NAME_MAX) {
			buf_adds(err, "hosts: each entry is HOST[:PRIORITY] (an empty or too long name)");
			return -EINVAL;
		}
		struct hagroup_host *h = &out[*n];
		memcpy(h->name, p, nlen);
		h->name[nlen] = '\0';
		struct buf e = BUF_INIT;
		int r = cluster_node_name_check(h->name, &e);
		buf_release(&e);
		if (r < 0) {
			buf_adds(err, "hosts: a host is a node name of the pool (A-Z a-z 0-9 _ - .)");
			return -EINVAL;
		}
		h->priority = 0;
		if (nlen < len) { /* ":PRIORITY" */
			const char *d = p + nlen + 1;
			size_t dl = len - nlen - 1;
			int v = 0;
			if (dl == 0 || dl > 4) {
				buf_printf(err, "host %s: a priority is 0..%d", h->name, HAGROUP_PRIO_MAX);
				return -EINVAL;
			}
			for (size_t i = 0; i < dl; i++) {
				if (d[i] < '0' || d[i] > '9') {
					buf_printf(err, "host %s: a priority is 0..%d", h->name, HAGROUP_PRIO_MAX);
					return -EINVAL;
				}
				v = v * 10 + (d[i] - '0');
			}
			if (v > HAGROUP_PRIO_MAX) {
				buf_printf(err, "host %s: a priority is 0..%d", h->name, HAGROUP_PRIO_MAX);
				return -EINVAL;
			}
			h->priority = v;
		}
		for (size_t i = 0; i < *n; i++)
			if (strcmp(out[i].name, h->name) == 0) {
				buf_printf(err, "host %s is named twice", h->name);
				return -EINVAL;
			}
		(*n)++;
		if (!p[len])
			return 0;
		p += len + 1;
	}
}
