/*
 * runas.c - see runas.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runas.h"
#include "common.h"

static pthread_mutex_t owner_lock = PTHREAD_MUTEX_INITIALIZER;
static struct runas owner;
static bool owner_set;

bool runas_owner(struct runas *out)
{
	pthread_mutex_lock(&owner_lock);
	bool set = owner_set;
	if (set)
		*out = owner;
	pthread_mutex_unlock(&owner_lock);
	return set;
}

int runas_lookup(const char *user, struct runas *out, struct buf *err)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	int r = getpwnam_r(user, &pw, tmp, sizeof(tmp), &res);
	if (r != 0 || !res) {
		buf_printf(err,
			   "user '%s' (qemu_user, the account QEMU runs as) does not exist: create it with "
			   "scripts/setup-user.sh, or start corrald with --qemu-user NAME",
			   user);
		return r ? -r : -ENOENT;
	}
	snprintf(out->name, sizeof(out->name), "%s", user);
	out->uid = pw.pw_uid;
	out->gid = pw.pw_gid;
	return 0;
}

int runas_drop(const struct runas *r, const char **what)
{
	/* root, or the user we already are (an unprivileged corrald, the tests) */
	if (r->uid == 0 || (r->uid == getuid() && r->gid == getgid()))
		return 0;
	if (setgroups(1, &r->gid) < 0) {
		*what = "setgroups";
		return -errno;
	}
	if (setgid(r->gid) < 0) {
		*what = "setgid";
		return -errno;
	}
	if (setuid(r->uid) < 0) {
		*what = "setuid";
		return -errno;
	}
	return 0;
}

void runas_set_owner(const struct runas *r)
{
	pthread_mutex_lock(&owner_lock);
	owner_set = r && r->uid != 0;
	if (owner_set)
		owner = *r;
	pthread_mutex_unlock(&owner_lock);
}

bool runas_active(void)
{
	struct runas o;
	return runas_owner(&o);
}

static int set(const struct runas *o, const char *path, uid_t uid, gid_t gid, mode_t file_mode, struct buf *err)
{
	__do_close int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char proc[64];
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		buf_printf(err, "cannot hand %s to user %s: %s", path, o->name, strerror(errno));
		return -errno;
	}
	mode_t mode = S_ISDIR(st.st_mode) ? (file_mode | ((file_mode & 0444) >> 2)) : file_mode;
	if (st.st_uid == uid && st.st_gid == gid && (st.st_mode & 07777) == mode)
		return 0;
	/* Through /proc/self/fd: the file checked is the file changed. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chown(proc, uid, gid) < 0 || chmod(proc, mode) < 0) {
		int e = errno;
		buf_printf(err, "cannot hand %s to user %s: %s", path, o->name, strerror(e));
		return -e;
	}
	return 0;
}

int runas_own(const char *path, struct buf *err)
{
	struct runas o;
	return runas_owner(&o) ? set(&o, path, o.uid, o.gid, 0600, err) : 0;
}

int runas_share_readonly(const char *path, struct buf *err)
{
	struct runas o;
	return runas_owner(&o) ? set(&o, path, 0, o.gid, 0640, err) : 0;
}

int runas_traversable(const char *dir, struct buf *err)
{
	struct runas o;
	struct stat st;
	if (!runas_owner(&o))
		return 0;
	if (stat(dir, &st) < 0 || ((st.st_mode & 0011) != 0011 && chmod(dir, (st.st_mode & 07777) | 0011) < 0)) {
		int e = errno;
		buf_printf(err, "cannot make %s searchable for user %s: %s", dir, o.name, strerror(e));
		return -e;
	}
	return 0;
}
