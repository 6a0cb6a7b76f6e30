/*
 * untar.c - a container root unpacked from a tarball (`ct create
 * --from-tarball`, and the Debian template's cached base), with libarchive
 * (Debian's libarchive13), never by running tar.
 *
 * The archive is the caller's and may be hostile.  Each entry's name is
 * checked before libarchive sees it: no absolute name, no `..` component
 * (a hard link's target likewise), and only then prefixed with the root's
 * real path.  libarchive writes with ARCHIVE_EXTRACT_SECURE_SYMLINKS, so an
 * entry whose path passes through a symlink already on disk (one an
 * earlier entry made, pointing anywhere) is refused rather than followed;
 * a hard link must name a regular file the archive already put inside the
 * root (never a symlink or a directory) and carry no data of its own.
 * Device nodes: as they are for a privileged container; for an unprivileged
 * one those under dev/ are skipped (liblxc mounts its own /dev, lxc.autodev,
 * as Incus skips dev/ in a user namespace) and any other is refused.  An
 * unprivileged container's owners are shifted into its id range (ids
 * beyond it are refused), only its user.* xattrs are kept (a
 * security.capability written by host root would be the host's) and no
 * POSIX ACL (its entries would name host users).  The data
 * is counted as it is written, so an archive that unpacks to more than the
 * room given is stopped.  Any refusal or failure removes what was unpacked.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc.h"
#include "util/cleanup.h"
#include "util/common.h"

#define READ_BLOCK (64u << 10)

/* Why `name` (an entry's name, or a hard link's target) is refused, or NULL;
 * *rel: the name without leading "./" (empty: the root itself). */
const char *ctrt_untar_name_invalid(const char *name, const char **rel)
{
	if (!name || !*name)
		return "an empty name";
	if (name[0] == '/')
		return "an absolute name";
	while (name[0] == '.' && name[1] == '/')
		for (name += 2; *name == '/'; name++)
			;
	if (strcmp(name, ".") == 0)
		name += 1;
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "a '..' component";
		p += n;
		while (*p == '/')
			p++;
	}
	*rel = name;
	return NULL;
}

static bool under_dev(const char *rel) { return strncmp(rel, "dev/", 4) == 0; }

/* Is rel (under root) reached without passing a symlink, its last component a regular file? */
static bool plain_file_beneath(const char *root, const char *rel)
{
	__do_free char *p = xasprintf("%s/%s", root, rel);
	struct stat st;
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		bool dir = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
		*s = '/';
		if (!dir)
			return false;
	}
	return lstat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The directories above rel that the archive does not list (a tarball made
 * by hand may name ./home/u/f alone): made here, owned by the container's
 * root, as libarchive would make them owned by the host's.  A component
 * that exists is left to libarchive's checks (a symlink there is refused).
 */
static int parents_make(const char *root, const char *rel, const struct ctrt_untar *u, struct buf *err)
{
	__do_free char *p = xasprintf("%s/%s", root, rel);
	struct stat st;

	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		if (lstat(p, &st) < 0) {
			if (errno != ENOENT || mkdir(p, 0755) < 0 || lchown(p, u->uid_base, u->gid_base) < 0) {
				int e = errno;
				buf_printf(err, "cannot make the directory %s: %s", p, strerror(e));
				return e == ENOSPC ? -ENOSPC : -EIO;
			}
		} else if (!S_ISDIR(st.st_mode)) {
			return 0;
		}
		*s = '/';
	}
	return 0;
}

/* Only the user.* xattrs of an unprivileged container's entry stay. */
static void keep_user_xattrs(struct archive_entry *e)
{
	const char *names[64];
	const void *values[64];
	size_t sizes[64];
	int n = 0;
	const char *name;
	const void *value;
	size_t size;

	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK && n < 64)
		if (strncmp(name, "user.", 5) == 0) {
			names[n] = strdup(name);
			values[n] = size ? memcpy(xmalloc(size), value, size) : NULL;
			sizes[n++] = size;
		}
	archive_entry_xattr_clear(e);
	for (int i = 0; i < n; i++) {
		archive_entry_xattr_add_entry(e, names[i], values[i], sizes[i]);
		free((void *)names[i]);
		free((void *)values[i]);
	}
}

/*
 * One entry's checks and rewrites before it is written: 1 to write it, 0
 * to skip it, -errno + err to refuse the archive.
 */
static int entry_prepare(struct archive_entry *e, const char *root, const struct ctrt_untar *u, struct buf *err)
{
	const char *name = archive_entry_pathname(e), *rel, *why;
	const char *link = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);

	if ((why = ctrt_untar_name_invalid(name, &rel))) {
		buf_printf(err, "the archive's entry '%.200s' has %s: refused", name ? name : "", why);
		return -EINVAL;
	}
	if (!*rel)
		return 0; /* "./" itself: the root is corral's */
	if (type == AE_IFSOCK)
		return 0;
	if ((type == AE_IFCHR || type == AE_IFBLK) && !u->privileged) {
		if (under_dev(rel))
			return 0;
		buf_printf(err, "the archive's entry '%.200s' is a device node outside dev/, which an unprivileged "
			   "container may not have: refused", name);
		return -EINVAL;
	}
	if (!u->privileged) {
		la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
		if (uid < 0 || gid < 0 || uid >= u->id_count || gid >= u->id_count) {
			buf_printf(err, "the archive's entry '%.200s' is owned by %lld:%lld, beyond the %u ids of an "
				   "unprivileged container: refused", name, (long long)uid, (long long)gid, u->id_count);
			return -EINVAL;
		}
		archive_entry_set_uid(e, uid + u->uid_base);
		archive_entry_set_gid(e, gid + u->gid_base);
		keep_user_xattrs(e);
		/* an ACL's user and group entries name unshifted ids: host users, not the container's */
		archive_entry_acl_clear(e);
	}
	archive_entry_set_uname(e, NULL);
	archive_entry_set_gname(e, NULL);
	if (link) {
		const char *lrel;
		if ((why = ctrt_untar_name_invalid(link, &lrel)) || !*lrel) {
			buf_printf(err, "the archive's hard link '%.200s' names '%.200s', %s: refused", name, link,
				   why ? why : "the root itself");
			return -EINVAL;
		}
		__do_free char *target = xasprintf("%s/%s", root, lrel);
		if (!plain_file_beneath(root, lrel) || archive_entry_size(e) > 0) {
			buf_printf(err, "the archive's hard link '%.200s' names '%.200s', which is not a regular file "
				   "unpacked before it%s: refused", name, link,
				   archive_entry_size(e) > 0 ? " (or carries data)" : "");
			return -EINVAL;
		}
		archive_entry_set_hardlink(e, target);
	}
	if (!u->privileged) {
		int r = parents_make(root, rel, u, err);
		if (r < 0)
			return r;
	}
	__do_free char *path = xasprintf("%s/%s", root, rel);
	archive_entry_set_pathname(e, path);
	return 1;
}

static int copy_data(struct archive *in, struct archive *out, const char *name, struct ctrt_untar *u,
		     int64_t total, struct buf *err)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(in, &buf, &len, &off)) == ARCHIVE_OK) {
		u->bytes += len;
		if (u->max_bytes && u->bytes > u->max_bytes) {
			buf_printf(err, "the archive unpacks to more than the %llu MiB free for the root: refused",
				   (unsigned long long)(u->max_bytes >> 20));
			return -ENOSPC;
		}
		if (archive_write_data_block(out, buf, len, off) < ARCHIVE_OK) {
			buf_printf(err, "cannot write '%.200s': %s", name, archive_error_string(out));
			return archive_errno(out) == ENOSPC ? -ENOSPC : -EIO;
		}
		if (u->tick && u->tick(u->opaque, (uint64_t)archive_filter_bytes(in, -1), (uint64_t)total)) {
			buf_adds(err, "cancelled");
			return -ECANCELED;
		}
	}
	if (r != ARCHIVE_EOF) {
		buf_printf(err, "cannot read '%.200s' from the archive: %s", name, archive_error_string(in));
		return -EINVAL;
	}
	return 0;
}

static int untar(int fd, const char *root, struct ctrt_untar *u, struct buf *err)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	struct stat st;
	int64_t total = fstat(fd, &st) == 0 ? st.st_size : 0;
	int r = 0, h;

	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
						    ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_ACL |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_fd(in, fd, READ_BLOCK) != ARCHIVE_OK) {
		buf_printf(err, "cannot read the archive: %s", archive_error_string(in));
		r = -EINVAL;
		goto out;
	}
	while ((h = archive_read_next_header(in, &e)) != ARCHIVE_EOF) {
		if (h < ARCHIVE_WARN) {
			buf_printf(err, "cannot read the archive (a tar, plain or compressed with gzip, xz, zstd or "
				   "bzip2): %s", archive_error_string(in));
			r = -EINVAL;
			goto out;
		}
		__do_free char *name = xstrdup(archive_entry_pathname(e) ? archive_entry_pathname(e) : "");
		if ((r = entry_prepare(e, root, u, err)) < 0)
			goto out;
		if (r == 0) {
			if (archive_entry_filetype(e) == AE_IFCHR || archive_entry_filetype(e) == AE_IFBLK)
				u->skipped_devices++;
			r = archive_read_data_skip(in) == ARCHIVE_OK ? 0 : -EINVAL;
			if (r < 0) {
				buf_printf(err, "cannot read the archive: %s", archive_error_string(in));
				goto out;
			}
			continue;
		}
		if (archive_write_header(out, e) < ARCHIVE_WARN) {
			buf_printf(err, "the archive's entry '%.200s' cannot be unpacked: %s", name,
				   archive_error_string(out));
			r = archive_errno(out) == ENOSPC ? -ENOSPC : -EINVAL;
			goto out;
		}
		if (archive_entry_size(e) > 0 && (r = copy_data(in, out, name, u, total, err)) < 0)
			goto out;
		if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
			buf_printf(err, "cannot finish '%.200s': %s", name, archive_error_string(out));
			r = -EIO;
			goto out;
		}
		u->entries++;
		if (u->tick && u->tick(u->opaque, (uint64_t)archive_filter_bytes(in, -1), (uint64_t)total)) {
			buf_adds(err, "cancelled");
			r = -ECANCELED;
			goto out;
		}
	}
	if (u->entries == 0) {
		buf_adds(err, "the archive holds no files");
		r = -EINVAL;
		goto out;
	}
	/* the directories' modes and times, set last */
	if (archive_write_close(out) != ARCHIVE_OK) {
		buf_printf(err, "cannot finish the unpacked tree: %s", archive_error_string(out));
		r = -EIO;
	}
out:
	archive_read_free(in);
	archive_write_free(out);
	return r < 0 ? r : 0;
}

int ctrt_untar(int fd, const char *dir, struct ctrt_untar *u, struct buf *err)
{
	char root[PATH_MAX];
	int r;

	u->bytes = u->entries = u->skipped_devices = 0;
	if (!u->privileged && !u->id_count) {
		buf_adds(err, "an unprivileged container's root needs its id range");
		return -EINVAL;
	}
	if ((r = ctrt_root_mkdir(dir, err)) < 0)
		return r;
	/* libarchive checks every component it writes through for symlinks: give it the real path */
	if (!realpath(dir, root)) {
		r = -errno;
		buf_printf(err, "cannot resolve %s: %s", dir, strerror(errno));
	} else if ((r = untar(fd, root, u, err)) == 0 && !u->privileged && lchown(root, u->uid_base, u->gid_base) < 0) {
		r = -errno;
		buf_printf(err, "cannot give %s to the container's ids: %s", root, strerror(errno));
	}
	if (r < 0) {
		struct buf e = BUF_INIT;
		ctrt_tree_remove(dir, &e);
		buf_release(&e);
	}
	return r;
}
