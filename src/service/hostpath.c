/*
 * hostpath.c - confining the host files API callers name to the storage
 * pools and the admin's allow_path entries (see hostpath.h for the rule).
 *
 * The allowed roots are worked out per call: the allow list given at
 * start plus the pools the store holds now, so a pool created a second ago
 * counts.  A path is matched against the roots lexically (after folding
 * "//" and "/./"), the root is opened with O_PATH, and the remainder is
 * resolved beneath it by the kernel (openat2), which is what makes `..`,
 * symlinks and /proc links unable to lead out.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hostpath.h"
#include "service/internal.h"
#include "util/cleanup.h"
#include "util/strutil.h"

static struct {
	char **allow;
	size_t nallow;
	bool block_devices;
} hp;

/* `path` with "//" and "/./" folded and no trailing '/' (but "/" itself); ".." is kept. */
static char *normalize(const char *path)
{
	char *out = xmalloc(strlen(path) + 2);
	size_t o = 0;

	for (const char *p = path; *p;) {
		if (*p == '/') {
			while (*p == '/')
				p++;
			if (p[0] == '.' && (p[1] == '/' || p[1] == '\0')) {
				p++;
				continue;
			}
			out[o++] = '/';
			continue;
		}
		out[o++] = *p++;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

void hostpath_init(const char *const *allow, size_t n, bool allow_block_devices)
{
	hostpath_shutdown();
	hp.allow = xcalloc(n ? n : 1, sizeof(*hp.allow));
	for (size_t i = 0; i < n; i++)
		hp.allow[i] = normalize(allow[i]);
	hp.nallow = n;
	hp.block_devices = allow_block_devices;
}

void hostpath_shutdown(void)
{
	for (size_t i = 0; i < hp.nallow; i++)
		free(hp.allow[i]);
	free(hp.allow);
	memset(&hp, 0, sizeof(hp));
}

/* The roots: allow_path entries, then the pools' directories (normalized; the caller frees). */
static char **roots_get(size_t *n)
{
	struct pool_record *pools = NULL;
	size_t np = 0;

	if (svc_cfg.store && store_pool_list(svc_cfg.store, &pools, &np) < 0)
		np = 0;
	char **roots = xcalloc(hp.nallow + np + 1, sizeof(*roots));
	for (size_t i = 0; i < hp.nallow; i++)
		roots[i] = xstrdup(hp.allow[i]);
	for (size_t i = 0; i < np; i++)
		roots[hp.nallow + i] = normalize(pools[i].path);
	store_pool_list_free(pools, np);
	*n = hp.nallow + np;
	return roots;
}

static void roots_free(char **roots, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(roots[i]);
	free(roots);
}

/* What is below `root` in `path` ("" for the root itself), or NULL if path is not under it. */
static const char *beneath(const char *root, const char *path)
{
	size_t len = strlen(root);

	if (strcmp(root, "/") == 0)
		return path + 1;
	if (strncmp(path, root, len) != 0 || (path[len] != '/' && path[len] != '\0'))
		return NULL;
	return path[len] ? path + len + 1 : path + len;
}

static bool in_special_tree(const char *p)
{
	static const char *const trees[] = { "/proc", "/sys", "/dev" };
	for (size_t i = 0; i < ARRAY_SIZE(trees); i++) {
		size_t len = strlen(trees[i]);
		if (strncmp(p, trees[i], len) == 0 && (p[len] == '/' || p[len] == '\0'))
			return true;
	}
	return false;
}

static bool on_special_fs(int fd)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return true;
	switch ((unsigned long)sf.f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case SECURITYFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
	case TRACEFS_MAGIC:
	case BPF_FS_MAGIC:
		return true;
	default:
		return false;
	}
}

static const char *type_name(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket" : S_ISCHR(m) ? "a character device" : "not a regular file";
}

static void list_roots(struct buf *err, char **roots, size_t n)
{
	buf_adds(err, " (allowed: ");
	for (size_t i = 0; i < n && i < 8; i++)
		buf_printf(err, "%s%s", i ? ", " : "", roots[i]);
	if (n > 8)
		buf_printf(err, ", and %zu more", n - 8);
	if (n == 0)
		buf_adds(err, "none");
	buf_adds(err, ")");
}

/*
 * Open `path` (normalized) found under `root` with O_PATH.  exact: the
 * root is the path itself (an allow_path entry naming a file).
 */
static int open_under(const char *what, const char *shown, const char *root, const char *rel, struct buf *err)
{
	__do_close int rootfd = -EBADF;
	int fd;

	if (!*rel) {
		/* the entry names this very file (or is the directory itself) */
		if ((fd = open(root, O_PATH | O_CLOEXEC)) < 0) {
			int r = -errno;
			buf_printf(err, "%s %s: %s", what, shown, strerror(-r));
			return r;
		}
		return fd;
	}
	if ((rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
		int r = -errno;
		buf_printf(err, "%s %s: cannot open the allowed directory %s: %s", what, shown, root, strerror(-r));
		return r == -ENOTDIR ? -ENOENT : r;
	}
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };
	fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	if (fd >= 0)
		return fd;
	int r = -errno;
	if (r == -EXDEV || r == -ELOOP) {
		buf_printf(err,
			   "%s %s: leads out of %s (through '..', a symlink or a /proc link); only files inside a "
			   "storage pool or an allow_path directory of corrald.conf are allowed",
			   what, shown, root);
		return -EACCES;
	}
	if (r == -ENOSYS) {
		buf_printf(err, "%s %s: this kernel lacks openat2(2) (Linux 5.6), which corrald needs to confine host files",
			   what, shown);
		return -ENOTSUP;
	}
	if (r == -ENOENT)
		buf_printf(err, "%s %s does not exist", what, shown);
	else
		buf_printf(err, "%s %s: %s", what, shown, strerror(-r));
	return r;
}

static int open_checked(const char *what, const char *path, struct stat *st, bool want_dir, struct buf *err)
{
	struct stat sb;
	size_t nroots = 0;
	char **roots = NULL;
	__do_free char *norm = NULL;
	struct buf shown = BUF_INIT;
	int fd = -ENOENT, r;
	size_t i;

	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX || str_has_control(path)) {
		buf_printf(err, "%s must be an absolute path on corrald's host", what);
		return -EINVAL;
	}
	buf_adds(&shown, path);
	norm = normalize(path);
	roots = roots_get(&nroots);
	for (i = 0; i < nroots; i++) {
		const char *rel = beneath(roots[i], norm);
		if (rel && (fd = open_under(what, shown.s, roots[i], rel, err)) >= 0)
			break;
		if (rel)
			break; /* the first root holding the path decides, and has said why */
	}
	if (i == nroots) {
		buf_printf(err, "%s %s: not inside a storage pool or an allow_path directory of corrald.conf", what,
			   shown.s);
		list_roots(err, roots, nroots);
		r = -EACCES;
		goto out;
	}
	if (fd < 0) {
		r = fd;
		goto out;
	}
	const char *rel = beneath(roots[i], norm);
	bool exact = !*rel, special_root = in_special_tree(roots[i]);
	if (fstat(fd, &sb) < 0) {
		r = -errno;
		buf_printf(err, "%s %s: %s", what, shown.s, strerror(-r));
		goto out;
	}
	if (!special_root && (in_special_tree(norm) || on_special_fs(fd))) {
		buf_printf(err,
			   "%s %s: files under /proc, /sys and /dev are allowed only when an allow_path entry of "
			   "corrald.conf names them",
			   what, shown.s);
		r = -EACCES;
	} else if (S_ISBLK(sb.st_mode) && !exact && !hp.block_devices) {
		buf_printf(err,
			   "%s %s: a block device, allowed only with allow_block_devices = yes in corrald.conf or an "
			   "allow_path entry naming it",
			   what, shown.s);
		r = -EACCES;
	} else if (want_dir) {
		/* a directory (a container's root): checked, nothing opened for reading */
		if (S_ISDIR(sb.st_mode)) {
			r = 0;
			if (st)
				*st = sb;
		} else {
			buf_printf(err, "%s %s: %s, not a directory", what, shown.s, type_name(sb.st_mode));
			r = -EINVAL;
		}
	} else if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
		buf_printf(err, "%s %s: %s; only regular files (and block devices an admin allows) can be used", what,
			   shown.s, type_name(sb.st_mode));
		r = -EACCES;
	} else {
		/* reopen the very inode that was checked, for reading */
		char self[64];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		int rd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (rd < 0) {
			r = -errno;
			buf_printf(err, "cannot read %s %s: %s", what, shown.s, strerror(-r));
		} else {
			r = rd;
			if (st)
				*st = sb;
		}
	}
	close(fd);
out:
	roots_free(roots, nroots);
	buf_release(&shown);
	return r;
}

int hostpath_open(const char *what, const char *path, struct stat *st, struct buf *err)
{
	return open_checked(what, path, st, false, err);
}

int hostpath_dir_check(const char *what, const char *path, struct buf *err)
{
	return open_checked(what, path, NULL, true, err);
}

int hostpath_check(const char *what, const char *path, struct buf *err)
{
	int fd = hostpath_open(what, path, NULL, err);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}
