/*
 * rootcopy.c - copying, swapping and removing a container's root tree for
 * snapshots, reverts and clones (see lxc.h, "rootcopy.c").  The fastest
 * safe method the filesystem offers is detected per copy: a btrfs
 * subvolume is snapshotted (`btrfs subvolume snapshot`), anything else is
 * copied by `cp -a --reflink=auto` (sharing extents where the filesystem
 * can reflink: btrfs, XFS with reflink; a plain copy elsewhere), which keeps
 * owners (the mapped ids of an unprivileged container), modes, timestamps,
 * xattrs, device nodes, hard links and symlinks.  Which of the two cp did
 * is probed beforehand with one FICLONE between two scratch files.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lxc.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/common.h"

#define BTRFS "/usr/bin/btrfs"
#define BTRFS_FIRST_FREE_OBJECTID 256 /* the inode number of a subvolume's root directory */

const char *ctrt_copy_method_name(enum ctrt_copy_method m)
{
	switch (m) {
	case CTRT_COPY_BTRFS: return "btrfs-snapshot";
	case CTRT_COPY_REFLINK: return "reflink";
	default: return "copy";
	}
}

bool ctrt_is_subvolume_fs(const char *dir)
{
	struct statfs fs;
	return statfs(dir, &fs) == 0 && fs.f_type == BTRFS_SUPER_MAGIC;
}

bool ctrt_is_subvolume(const char *dir)
{
	struct statfs fs;
	struct stat st;
	return statfs(dir, &fs) == 0 && fs.f_type == BTRFS_SUPER_MAGIC && lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	       st.st_ino == BTRFS_FIRST_FREE_OBJECTID;
}

/* nftw has no opaque argument: the first non-empty regular file of a walk, per thread */
static __thread char *first_file;

static int find_file(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)flag, (void)f;
	if (S_ISREG(st->st_mode) && st->st_size > 0) {
		first_file = xstrdup(path);
		return 1; /* stop the walk */
	}
	return 0;
}

/*
 * Can a file of tree src be reflinked (FICLONE) into directory dir?  One
 * of src's files is cloned into a scratch file there (src is only read);
 * this is also what tells two btrfs subvolumes of one filesystem (which
 * can share extents) from two filesystems (which cannot).
 */
static bool reflink_works(const char *src, const char *dir)
{
	__do_free char *scratch = xasprintf("%s/.corral-reflink-probe", dir);
	bool ok = false;
	first_file = NULL;
	nftw(src, find_file, 16, FTW_PHYS | FTW_MOUNT);
	__do_free char *from = first_file;
	first_file = NULL;
	if (!from)
		return false; /* nothing to share: a copy it is */
	int fs = open(from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int fd = open(scratch, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fs >= 0 && fd >= 0)
		ok = ioctl(fd, FICLONE, fs) == 0;
	if (fs >= 0)
		close(fs);
	if (fd >= 0) {
		close(fd);
		unlink(scratch);
	}
	return ok;
}

/* The directory part of path (a new string). */
static char *parent_of(const char *path)
{
	char *p = xstrdup(path), *s = strrchr(p, '/');
	if (s && s != p)
		*s = '\0';
	else if (s)
		s[1] = '\0';
	return p;
}

enum ctrt_copy_method ctrt_copy_method_for(const char *src, const char *dst)
{
	__do_free char *dparent = parent_of(dst);
	/* a snapshot needs the subvolume and its destination on one btrfs: the reflink probe tells */
	bool shares = reflink_works(src, dparent);
	if (shares && ctrt_is_subvolume(src) && access(BTRFS, X_OK) == 0 && ctrt_is_subvolume_fs(dparent))
		return CTRT_COPY_BTRFS;
	return shares ? CTRT_COPY_REFLINK : CTRT_COPY_PLAIN;
}

struct tick_arg {
	int (*tick)(void *opaque);
	void *opaque;
};

/* cmd_run_stream's callback (cp prints nothing; called every quarter second) */
static int on_tick(const char *data, size_t len, void *opaque)
{
	struct tick_arg *t = opaque;
	(void)data, (void)len;
	return t->tick(t->opaque);
}

int ctrt_tree_copy(const char *src, const char *dst, enum ctrt_copy_method *how, int (*tick)(void *opaque),
		   void *opaque, struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf e = BUF_INIT;
	enum ctrt_copy_method m = ctrt_copy_method_for(src, dst);
	struct tick_arg t = { tick, opaque };
	struct stat st;
	int r;

	if (lstat(dst, &st) == 0) {
		buf_printf(err, "%s exists already", dst);
		return -EEXIST;
	}
	/* a copy must not run on after corrald dies: the next one sweeps it, then removes its half */
	c.helper = true;
	if (m == CTRT_COPY_BTRFS) {
		cmd_add(&c, BTRFS);
		cmd_add(&c, "-q");
		cmd_add(&c, "subvolume");
		cmd_add(&c, "snapshot");
		cmd_add(&c, src);
		cmd_add(&c, dst);
		r = cmd_run(&c, NULL, &e);
	} else {
		/* -a: -dR --preserve=all (owners, modes, times, links, xattrs); -T: dst is the copy itself */
		cmd_add(&c, "cp");
		cmd_add(&c, "-aT");
		cmd_add(&c, "--reflink=auto");
		cmd_add(&c, "--");
		cmd_add(&c, src);
		cmd_add(&c, dst);
		r = tick ? cmd_run_stream(&c, on_tick, &t, &e) : cmd_run(&c, NULL, &e);
	}
	cmd_release(&c);
	if (r != 0) {
		if (r == -ECANCELED)
			buf_printf(err, "copying %s was cancelled", src);
		else
			buf_printf(err, "copying %s to %s (%s) failed: %s", src, dst, ctrt_copy_method_name(m),
				   e.len ? e.s : r < 0 ? strerror(-r) : "non-zero exit");
		buf_release(&e);
		struct buf e2 = BUF_INIT;
		ctrt_tree_remove(dst, &e2);
		buf_release(&e2);
		return r < 0 ? r : -EIO;
	}
	buf_release(&e);
	if (how)
		*how = m;
	return 0;
}

int ctrt_tree_remove(const char *dir, struct buf *err)
{
	if (ctrt_is_subvolume(dir) && access(BTRFS, X_OK) == 0) {
		struct cmd c = CMD_INIT;
		struct buf e = BUF_INIT;
		cmd_add(&c, BTRFS);
		cmd_add(&c, "-q");
		cmd_add(&c, "subvolume");
		cmd_add(&c, "delete");
		cmd_add(&c, dir);
		int r = cmd_run(&c, NULL, &e);
		cmd_release(&c);
		if (r != 0) {
			buf_printf(err, "cannot delete subvolume %s: %s", dir, e.len ? e.s : "btrfs failed");
			buf_release(&e);
			return -EIO;
		}
		buf_release(&e);
		return 0;
	}
	return ctrt_remove_tree(dir, err);
}

int ctrt_root_mkdir(const char *dir, struct buf *err)
{
	__do_free char *parent = parent_of(dir);
	if (ctrt_is_subvolume_fs(parent) && access(BTRFS, X_OK) == 0) {
		struct cmd c = CMD_INIT;
		struct buf e = BUF_INIT;
		cmd_add(&c, BTRFS);
		cmd_add(&c, "-q");
		cmd_add(&c, "subvolume");
		cmd_add(&c, "create");
		cmd_add(&c, dir);
		int r = cmd_run(&c, NULL, &e);
		cmd_release(&c);
		if (r != 0) {
			buf_printf(err, "cannot make subvolume %s: %s", dir, e.len ? e.s : "btrfs failed");
			buf_release(&e);
			return -EIO;
		}
		buf_release(&e);
		return chmod(dir, 0755) < 0 ? -errno : 0;
	}
	if (mkdir(dir, 0755) < 0) {
		buf_printf(err, "cannot make %s: %s", dir, strerror(errno));
		return -errno;
	}
	return 0;
}

/* nftw has no opaque argument: the sum of one walk, per thread */
static __thread uint64_t walk_bytes;

static int add_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path, (void)flag, (void)f;
	walk_bytes += (uint64_t)st->st_blocks * 512u;
	return 0;
}

int ctrt_tree_size(const char *dir, uint64_t *bytes)
{
	walk_bytes = 0;
	if (nftw(dir, add_one, 32, FTW_PHYS) < 0)
		return -errno;
	*bytes = walk_bytes;
	return 0;
}

int ctrt_space_check(const char *dir, uint64_t need, struct buf *err)
{
	struct statvfs v;
	if (statvfs(dir, &v) < 0) {
		buf_printf(err, "cannot read the free space of %s: %s", dir, strerror(errno));
		return -errno;
	}
	uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
	if (avail < need) {
		buf_printf(err, "not enough space in %s: the copy needs %llu MiB, %llu MiB are free", dir,
			   (unsigned long long)(need >> 20) + 1, (unsigned long long)(avail >> 20));
		return -ENOSPC;
	}
	return 0;
}

int ctrt_tree_exchange(const char *a, const char *b, struct buf *err)
{
	if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) < 0) {
		buf_printf(err, "cannot swap %s and %s: %s", a, b, strerror(errno));
		return -errno;
	}
	/* the swap is one directory entry change: make it durable */
	__do_free char *dir = parent_of(a);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}
