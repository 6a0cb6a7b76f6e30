/*
 * fsutil.c - see fsutil.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "common.h"

int fs_mkdir_p(const char *path, mode_t mode)
{
	__do_free char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0) {
		struct stat st;
		if (errno != EEXIST)
			return -errno;
		if (stat(p, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
	}
	return 0;
}

static int read_all(int fd, size_t max, struct buf *out)
{
	char tmp[8192];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (out->len + (size_t)n > max)
			return -EFBIG;
		buf_add(out, tmp, (size_t)n);
	}
	return 0;
}

int fs_read_file(const char *path, size_t max, struct buf *out)
{
	__do_close int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return read_all(fd, max, out);
}

/* A regular file, not a symlink (nor a FIFO to hang on), with one link (a
 * hard link to someone else's file is refused) and, when `mine`, owned by
 * this process's effective user. */
static int read_checked(const char *path, size_t max, bool mine, struct buf *out)
{
	__do_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || (mine && st.st_uid != geteuid()))
		return -EPERM;
	return read_all(fd, max, out);
}

int fs_read_file_mine(const char *path, size_t max, struct buf *out)
{
	return read_checked(path, max, true, out);
}

int fs_read_file_regular(const char *path, size_t max, struct buf *out)
{
	return read_checked(path, max, false, out);
}

int fs_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	__do_free char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	__do_close int fd = -EBADF;
	const char *p = data;

	/* O_EXCL | O_NOFOLLOW: the directory may be writable by someone else
	 * (an unprivileged QEMU's run dir), who must not redirect the write. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			unlink(tmp);
			return -e;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

int fs_copy_file(const char *src, const char *dest, mode_t mode)
{
	__do_close int in = open(src, O_RDONLY | O_CLOEXEC);

	if (in < 0)
		return -errno;
	return fs_copy_fd(in, dest, mode);
}

int fs_copy_fd(int in, const char *dest, mode_t mode)
{
	__do_free char *tmp = xasprintf("%s.XXXXXX", dest);
	__do_close int out = -EBADF;
	char chunk[1 << 16];
	ssize_t n;
	int r = 0;

	if ((out = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -errno;
	while ((n = read(in, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, chunk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = -errno;
				break;
			}
			off += w;
		}
		if (r < 0)
			break;
	}
	if (r == 0 && (fchmod(out, mode) < 0 || close(move_fd(out)) < 0 || rename(tmp, dest) < 0))
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int fs_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

char *fs_absolute(const char *path)
{
	char cwd[PATH_MAX];
	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return xstrdup(path);
	return xasprintf("%s/%s", cwd, path);
}

int fs_nofile_raise(unsigned long *limit)
{
	struct rlimit rl;

	*limit = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*limit = (unsigned long)rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max)
		return 0;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*limit = (unsigned long)rl.rlim_cur;
	return 0;
}

char *fs_tail_text(const char *path, size_t from)
{
	struct buf b __do_buf = BUF_INIT;
	if (fs_read_file(path, 1 << 20, &b) < 0 || b.len <= from)
		return xstrdup("no message");
	while (b.len > from && (b.s[b.len - 1] == '\n' || b.s[b.len - 1] == ' '))
		b.s[--b.len] = '\0';
	char *s = b.s + b.len;
	for (int lines = 0; s > b.s + from && lines < 3; lines += *s == '\n')
		s--;
	if (*s == '\n')
		s++;
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return xstrdup(s);
}
