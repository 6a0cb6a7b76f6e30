/*
 * fsstream.c - hand a file inside a guest filesystem to the API as a pipe
 * (see ops.h, ops_fs_stream): a detached thread copies it with
 * img_fs_read_file() into the write end while the HTTP server sends what
 * arrives at the read end, so files of any size pass through without being
 * held in memory.  A client that goes away closes the read end; the thread
 * then sees EPIPE and stops.  Whatever the filesystem belongs to (an image
 * session, a backup) is released by the thread when it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops.h"
#include "image/image.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

struct fs_stream {
	struct img_fs *fs;
	char *path, *label;
	void (*release)(void *owner);
	void *owner;
	int fd; /* write end */
};

static int stream_write(const void *data, size_t len, void *arg)
{
	struct fs_stream *st = arg;
	const char *p = data;

	while (len) {
		ssize_t n = write(st->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno; /* EPIPE: the client went away */
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *stream_thread(void *arg)
{
	struct fs_stream *st = arg;
	struct buf err = BUF_INIT;
	int r = img_fs_read_file(st->fs, st->path, stream_write, st, &err);

	if (r < 0 && r != -EPIPE)
		log_warn("reading %s from %s failed: %s", st->path, st->label, err.len ? err.s : strerror(-r));
	close(st->fd);
	st->release(st->owner);
	free(st->path);
	free(st->label);
	free(st);
	buf_release(&err);
	return NULL;
}

int ops_fs_stream(struct img_fs *fs, const char *path, const char *label, void (*release)(void *owner), void *owner,
		  int *fd, uint64_t *size, struct buf *err)
{
	struct fs_stream *st;
	struct img_stat sb;
	pthread_t t;
	int p[2], r;

	if (!path || path[0] != '/' || strlen(path) > 4096 || str_has_control(path)) {
		buf_adds(err, "path must be an absolute path inside the image, like /etc/hostname");
		return -EINVAL;
	}
	if ((r = img_fs_stat(fs, path, &sb, err)) < 0)
		return r;
	if (!S_ISREG(sb.mode)) {
		buf_printf(err, "%s in %s is not a regular file", path, label);
		return -EINVAL;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		buf_printf(err, "cannot create a pipe: %s", strerror(-r));
		return r;
	}
	st = xcalloc(1, sizeof(*st));
	*st = (struct fs_stream){ .fs = fs, .path = xstrdup(path), .label = xstrdup(label), .release = release,
				  .owner = owner, .fd = p[1] };
	if ((r = pthread_create(&t, NULL, stream_thread, st)) != 0) {
		buf_printf(err, "cannot start a reader thread: %s", strerror(r));
		close(p[0]);
		close(p[1]);
		free(st->path);
		free(st->label);
		free(st);
		return -r;
	}
	pthread_detach(t);
	*fd = p[0];
	*size = sb.size;
	return 0;
}
