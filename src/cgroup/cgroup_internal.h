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
	/* Make a new group dir (below pdir) able to take processes (may be NULL). */
	int (*init_group)(const struct cgroup_hier *h, const char *dir, const char *pdir, struct buf *err);
	/* Fill in what this hierarchy accounts for of the group in dir. */
	void (*stats)(const struct cgroup_hier *h, const char *dir, struct cgroup_stats *out);
	/* Write the limits this hierarchy's controllers carry; OR CGROUP_DID_* into *did. */
	int (*set_limits)(const struct cgroup_hier *h, const char *dir, const char *pdir, const struct cgroup_limits *l,
			  unsigned *did, struct buf *err);
	/* Read them back. */
	void (*get_limits)(const struct cgroup_hier *h, const char *dir, struct cgroup_limits *out);
};

#define CGROUP_DID_CPU 1u
#define CGROUP_DID_CPUSET 2u
#define CGROUP_DID_MEMORY 4u

extern const struct cgroup_ops cgroup_v1_ops, cgroup_v2_ops;

/* A number from dir/file: the whole file, or the value after "key " on its line.  0 or -errno. */
int cgroup_read_u64(const char *dir, const char *file, const char *key, uint64_t *out);
/* Write value to dir/file.  0 or -errno. */
int cgroup_write(const char *dir, const char *file, const char *value);
/* The first line of dir/file into out (size bytes).  0 or -errno. */
int cgroup_read_line(const char *dir, const char *file, char *out, size_t size);
/* Write, and on failure append "cannot set FILE of DIR to VALUE: why" to err.  0 or -errno. */
int cgroup_write_err(const char *dir, const char *file, const char *value, struct buf *err);
/* true if the space- or comma-separated list has the word. */
bool cgroup_list_has(const char *list, const char *word);

#endif
