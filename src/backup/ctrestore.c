/*
 * ctrestore.c - container backups back out of a repository (cttree.h):
 * recreating a whole root under a new directory, or writing one file's
 * content to an fd (`backup get`).
 *
 * The tree was checked by cttree_from_json; the restore still trusts
 * nothing on disk: each entry's parent is reached from the new root's
 * directory fd one component at a time with O_NOFOLLOW | O_DIRECTORY, and
 * every object is made with *at() calls relative to that parent (O_EXCL,
 * O_NOFOLLOW, AT_SYMLINK_NOFOLLOW), so a symlink in the tree, even one the
 * restore made itself a moment ago, is never followed.  Owners, modes and
 * mtimes are set after the content; directories' mtimes last, deepest
 * first, since creating entries in them changes theirs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "backup/cttree.h"
#include "util/cleanup.h"
#include "util/common.h"

bool backup_manifest_is_ct(const json_t *m)
{
	const char *k = json_string_value(json_object_get(m, "kind"));
	return k && strcmp(k, "container") == 0;
}

int backup_ct_tree(const json_t *m, struct cttree *t, struct buf *err)
{
	json_int_t cs = json_integer_value(json_object_get(m, "chunk_size"));
	__do_buf struct buf why = BUF_INIT;

	if (!backup_manifest_is_ct(m) || json_integer_value(json_object_get(m, "version")) != CTTREE_MANIFEST_VERSION) {
		buf_adds(err, "the backup is not a container backup of a version this corral reads");
		return -EINVAL;
	}
	if (cs <= 0 || cs > REPO_MAX_CHUNK_SIZE || cttree_from_json(json_object_get(m, "files"), (uint32_t)cs, t, &why) < 0) {
		buf_printf(err, "the container backup's file tree is invalid: %s", why.len ? why.s : "bad chunk size");
		return -EINVAL;
	}
	return 0;
}

int backup_ct_file_write(struct repo *r, const struct cttree_entry *e, int fd, struct buf *err)
{
	uint32_t cs = repo_chunk_size(r);
	__do_buf struct buf piece = BUF_INIT;
	__do_free uint8_t *zeros = NULL;

	for (size_t k = 0; k < e->nchunks; k++) {
		uint64_t want = e->size - (uint64_t)k * cs;
		size_t len = want < cs ? (size_t)want : cs;
		const void *data;
		buf_reset(&piece);
		if (e->zero[k]) {
			if (!zeros)
				zeros = xcalloc(1, cs);
			data = zeros;
		} else {
			int rc = repo_chunk_get(r, e->chunks[k], &piece, err);
			if (rc < 0)
				return rc;
			if (piece.len != len) {
				buf_printf(err, "chunk %zu of /%s holds %zu bytes, the tree says %zu", k, e->path, piece.len,
					   len);
				return -EBADMSG;
			}
			data = piece.s;
		}
		for (size_t off = 0; off < len;) {
			ssize_t n = write(fd, (const char *)data + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				int e2 = errno;
				if (e2 != EPIPE)
					buf_printf(err, "cannot write /%s: %s", e->path, strerror(e2));
				else
					buf_adds(err, "the reader went away");
				return -e2;
			}
			off += (size_t)n;
		}
	}
	return 0;
}

uint32_t cttree_shift_uid(const struct cttree_idshift *s, uint32_t uid)
{
	return s && s->count && uid >= s->from_uid && uid - s->from_uid < s->count ? s->to_uid + (uid - s->from_uid)
										    : uid;
}

uint32_t cttree_shift_gid(const struct cttree_idshift *s, uint32_t gid)
{
	return s && s->count && gid >= s->from_gid && gid - s->from_gid < s->count ? s->to_gid + (gid - s->from_gid)
										    : gid;
}

/* The directory holding path (a checked tree path), reached from root with
 * O_NOFOLLOW at every step; *base points at the last component. */
static int parent_open(int root, const char *path, const char **base, struct buf *err)
{
	const char *slash = strrchr(path, '/');
	__do_free char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : NULL;
	int fd = dup(root);

	*base = slash ? slash + 1 : path;
	if (fd < 0)
		return -errno;
	for (char *c = dir, *next; c && *c; c = next) {
		next = strchr(c, '/');
		if (next)
			*next++ = '\0';
		int nfd = openat(fd, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (nfd < 0) {
			buf_printf(err, "cannot reach the directory of /%s (component '%s'): %s", path, c, strerror(e));
			return -e;
		}
		fd = nfd;
	}
	return fd;
}

/* e's extended attributes onto fd (>= 0), else onto pfd/base (not followed).
 * After the owner: a chown drops security.capability. */
static int xattrs_apply(const struct cttree_entry *e, int fd, int pfd, const char *base, struct buf *err)
{
	const char *k;
	const json_t *v;
	__do_free char *proc = fd < 0 ? xasprintf("/proc/self/fd/%d/%s", pfd, base) : NULL;

	json_object_foreach((json_t *)e->xattrs, k, v) {
		const char *h = json_string_value(v);
		size_t len = strlen(h) / 2;
		__do_free uint8_t *val = xmalloc(len + 1);
		for (size_t i = 0; i < len; i++) {
			unsigned hi = (unsigned)(h[2 * i] <= '9' ? h[2 * i] - '0' : h[2 * i] - 'a' + 10);
			unsigned lo = (unsigned)(h[2 * i + 1] <= '9' ? h[2 * i + 1] - '0' : h[2 * i + 1] - 'a' + 10);
			val[i] = (uint8_t)(hi << 4 | lo);
		}
		if ((fd >= 0 ? fsetxattr(fd, k, val, len, 0) : lsetxattr(proc, k, val, len, 0)) < 0) {
			int er = errno;
			buf_printf(err, "cannot set extended attribute %s of /%s: %s", k, e->path, strerror(er));
			return -er;
		}
	}
	return 0;
}

static int fail(struct buf *err, const char *what, const char *path)
{
	int e = errno;
	buf_printf(err, "cannot %s /%s: %s", what, path, strerror(e));
	return -e;
}

static int one(struct repo *r, const struct cttree_entry *e, int root, const struct cttree_idshift *sh,
	       struct buf *err)
{
	uid_t uid = cttree_shift_uid(sh, e->uid);
	gid_t gid = cttree_shift_gid(sh, e->gid);
	const char *base;
	__do_close int pfd = -EBADF;
	struct timespec ts[2] = { { e->mtime, e->mtime_ns }, { e->mtime, e->mtime_ns } };

	if (!*e->path) /* the root: metadata at the end */
		return 0;
	if ((pfd = parent_open(root, e->path, &base, err)) < 0)
		return pfd;
	switch (e->type) {
	case CTT_DIR:
		if (mkdirat(pfd, base, 0700) < 0)
			return fail(err, "create directory", e->path);
		return 0; /* owner and mode now, time at the end */
	case CTT_FILE: {
		__do_close int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		int rc;
		if (fd < 0)
			return fail(err, "create", e->path);
		if ((rc = backup_ct_file_write(r, e, fd, err)) < 0)
			return rc;
		if (fchown(fd, uid, gid) < 0 || fchmod(fd, e->mode) < 0)
			return fail(err, "set owner or mode of", e->path);
		if (e->xattrs && (rc = xattrs_apply(e, fd, -1, NULL, err)) < 0)
			return rc;
		if (futimens(fd, ts) < 0)
			return fail(err, "set the time of", e->path);
		return 0;
	}
	case CTT_HARDLINK: {
		const char *tbase;
		__do_close int tfd = parent_open(root, e->target, &tbase, err);
		if (tfd < 0)
			return tfd;
		if (linkat(tfd, tbase, pfd, base, 0) < 0)
			return fail(err, "create hardlink", e->path);
		return 0;
	}
	case CTT_SYMLINK:
		if (symlinkat(e->target, pfd, base) < 0)
			return fail(err, "create symlink", e->path);
		break;
	case CTT_CHR:
	case CTT_BLK:
	case CTT_FIFO:
	case CTT_SOCK: {
		mode_t m = e->type == CTT_CHR ? S_IFCHR : e->type == CTT_BLK ? S_IFBLK : e->type == CTT_FIFO ? S_IFIFO
											    : S_IFSOCK;
		if (mknodat(pfd, base, m | 0600, (dev_t)e->rdev) < 0)
			return fail(err, "create node", e->path);
		if (fchmodat(pfd, base, e->mode, 0) < 0)
			return fail(err, "set the mode of", e->path);
		break;
	}
	}
	if (fchownat(pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(err, "set the owner of", e->path);
	if (e->xattrs) {
		int rc = xattrs_apply(e, -1, pfd, base, err);
		if (rc < 0)
			return rc;
	}
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return fail(err, "set the time of", e->path);
	return 0;
}

/* A directory's owner, mode and time (after everything in it is made). */
static int dir_meta(const struct cttree_entry *e, int root, const struct cttree_idshift *sh, struct buf *err)
{
	const char *base;
	struct timespec ts[2] = { { e->mtime, e->mtime_ns }, { e->mtime, e->mtime_ns } };
	__do_close int pfd = -EBADF, fd = -EBADF;

	if (!*e->path) {
		fd = dup(root);
	} else {
		if ((pfd = parent_open(root, e->path, &base, err)) < 0)
			return pfd;
		fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0 || fchown(fd, cttree_shift_uid(sh, e->uid), cttree_shift_gid(sh, e->gid)) < 0 ||
	    fchmod(fd, e->mode) < 0)
		return fail(err, "set owner or mode of directory", e->path);
	if (e->xattrs) {
		int rc = xattrs_apply(e, fd, -1, NULL, err);
		if (rc < 0)
			return rc;
	}
	if (futimens(fd, ts) < 0)
		return fail(err, "set the time of directory", e->path);
	return 0;
}

int backup_ct_restore(struct repo *r, const struct cttree *t, int rootfd, const struct cttree_idshift *shift,
		      const atomic_bool *cancel, backup_progress_cb cb, void *arg, struct buf *err)
{
	uint64_t total = 0, done = 0;
	int rc = 0;

	for (size_t i = 0; i < t->n; i++)
		total += t->e[i].type == CTT_FILE ? t->e[i].size : 0;
	for (size_t i = 0; i < t->n && rc == 0; i++) {
		if (repo_cancel_requested(cancel)) {
			buf_adds(err, "the restore was cancelled");
			return -ECANCELED;
		}
		rc = one(r, &t->e[i], rootfd, shift, err);
		if (t->e[i].type == CTT_FILE) {
			done += t->e[i].size;
			if (cb)
				cb(done, total, "write", arg);
		}
	}
	for (size_t i = t->n; i-- > 0 && rc == 0;)
		if (t->e[i].type == CTT_DIR)
			rc = dir_meta(&t->e[i], rootfd, shift, err);
	return rc;
}
