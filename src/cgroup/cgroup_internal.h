/*
 * cgroup_internal.h - the backend interface of src/cgroup: one struct
 * cgroup_ops per kind of hierarchy (v1.c, v2.c) and the cgroupfs helpers
 * they share (cgroup.c).  Not for use outside src/cgroup.
 */
#ifndef CORRAL_CGROUP_INTERNAL_H
#define CORRAL_CGROUP_INTERNAL_H

#include "cgroup/cgroup.h"

struct cgroup_ops {
	const char *name; /* "v1", "v2" */
	/* Make <mount>/<parent> (it exists) able to hold VM groups. */
	int (*prepare)(const struct cgroup_hier *h, const char *parent_dir, struct buf *err);
	/* Fill in what this hierarchy accounts for of the group in dir. */
	void (*stats)(const struct cgroup_hier *h, const char *dir, struct cgroup_stats *out);
};

extern const struct cgroup_ops cgroup_v1_ops, cgroup_v2_ops;

/* A number from dir/file: the whole file, or the value after "key " on its line.  0 or -errno. */
int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *out);
/* Write value to dir/file.  0 or -errno. */
int cgroup_write(const char *dir, const char *file, const char *value);
/* true if the space- or comma-separated list has the word. */
bool cgroup_list_has(const char *list, const char *word);

#endif
