/*
 * pool.c - storage pool directories: checking a path before it becomes a
 * pool, and the space a pool has (see pool.h).
 *
 * A path is resolved with realpath() (of the directory, or of its parent
 * when the directory does not exist yet), so that the nesting rule of
 * pool.h holds however the user spells the path.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "pool.h"
#include "util/strutil.h"
#include "util/common.h"

static int resolve_missing(const char *path, char **canon, struct buf *err)
{
	__do_free char *parent = xstrdup(path);
	__do_free char *real = NULL;
	char *slash = strrchr(parent, '/');
	__do_free char *base = xstrdup(slash + 1);
	struct stat sb;

	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		buf_printf(err, "pool path %s is not a directory name", path);
		return -EINVAL;
	}
	/* "/x": the parent is "/" itself. */
	slash[slash == parent ? 1 : 0] = '\0';
	if (stat(parent, &sb) < 0 || !S_ISDIR(sb.st_mode) || !(real = realpath(parent, NULL))) {
		buf_printf(err, "cannot create pool directory %s: its parent directory %s does not exist", path,
			   parent);
		return -ENOENT;
	}
	*canon = xasprintf("%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
	return 0;
}

int pool_path_resolve(const char *path, char **canon, bool *exists, struct buf *err)
{
	__do_free char *p = NULL;
	struct stat sb;
	size_t n;

	if (!path || !*path) {
		buf_adds(err, "a pool needs a directory path");
		return -EINVAL;
	}
	if (str_has_control(path)) {
		buf_adds(err, "pool path contains control characters");
		return -EINVAL;
	}
	if (path[0] != '/') {
		buf_printf(err, "pool path %s is not absolute", path);
		return -EINVAL;
	}
	if (strlen(path) >= PATH_MAX - NAME_MAX - 16) {
		buf_adds(err, "pool path is too long");
		return -EINVAL;
	}
	p = xstrdup(path);
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
	if (strcmp(p, "/") == 0) {
		buf_adds(err, "the root directory cannot be a pool");
		return -EINVAL;
	}
	if (stat(p, &sb) < 0) {
		int e = errno;
		if (e != ENOENT) {
			buf_printf(err, "cannot use %s as a pool: %s", p, strerror(e));
			return -e;
		}
		*exists = false;
		return resolve_missing(p, canon, err);
	}
	if (!S_ISDIR(sb.st_mode)) {
		buf_printf(err, "cannot use %s as a pool: it is not a directory", p);
		return -ENOTDIR;
	}
	if (!(*canon = realpath(p, NULL))) {
		int e = errno;
		buf_printf(err, "cannot use %s as a pool: %s", p, strerror(e));
		return -e;
	}
	if (strcmp(*canon, "/") == 0) {
		free(*canon);
		*canon = NULL;
		buf_adds(err, "the root directory cannot be a pool");
		return -EINVAL;
	}
	*exists = true;
	return 0;
}

bool pool_path_within(const char *inner, const char *outer)
{
	if (strcmp(outer, "/") == 0)
		return inner[0] == '/';
	size_t n = strlen(outer);
	return strncmp(inner, outer, n) == 0 && (inner[n] == '\0' || inner[n] == '/');
}

bool pool_paths_overlap(const char *a, const char *b) { return pool_path_within(a, b) || pool_path_within(b, a); }

int pool_usage_get(const char *path, struct pool_usage *out, struct buf *err)
{
	struct statvfs vfs;

	if (statvfs(path, &vfs) < 0) {
		int e = errno;
		buf_printf(err, "cannot read the space of pool directory %s: %s", path, strerror(e));
		return -e;
	}
	out->capacity = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	out->used = (uint64_t)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
	out->free = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return 0;
}
