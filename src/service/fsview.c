/*
 * fsview.c - what the API shows of a guest filesystem, wherever it comes
 * from (a volume, an image file, a backup): directory listings
 * (svc_fs_listing) and file contents (svc_fs_stream).
 *
 * A file is handed over as a pipe: a detached thread copies it with
 * img_fs_read_file() into the write end while the HTTP server sends what
 * arrives at the read end, so files of any size pass through without being
 * held in memory.  A client that goes away closes the read end; the thread
 * then sees EPIPE and stops.  Whatever the filesystem belongs to (an image
 * session, a backup) is released by the thread when it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsview.h"
#include "image/image.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

#define LIST_MAX_ENTRIES 100000

/* ---- listings ---- */

int svc_fs_path_check(const char *path, struct buf *err)
{
	if (!path || path[0] != '/' || strlen(path) > PATH_MAX || str_has_control(path)) {
		buf_adds(err, "path must be an absolute path inside the image, like /etc/hostname");
		return -EINVAL;
	}
	return 0;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "unknown";
	}
}

struct list_item {
	char *name;
	json_t *j;
};

struct list_ctx {
	struct img_fs *fs;
	const char *dir;
	struct list_item *items;
	size_t n, cap;
	bool truncated;
};

static json_t *entry_json(struct img_fs *fs, const char *name, const char *path, const struct img_stat *st)
{
	json_t *j = json_pack("{s:s,s:s,s:i,s:I,s:I,s:i,s:i,s:o}", "name", name, "type", type_name(st->mode), "mode",
			      (int)(st->mode & 07777), "size", (json_int_t)st->size, "mtime", (json_int_t)st->mtime,
			      "uid", (int)st->uid, "gid", (int)st->gid, "target", json_null());
	if (S_ISLNK(st->mode)) {
		struct buf t = BUF_INIT, e = BUF_INIT;
		if (img_fs_readlink(fs, path, &t, &e) == 0)
			json_object_set_new(j, "target", json_string(t.s));
		buf_release(&t);
		buf_release(&e);
	}
	return j;
}

static int list_one(const char *name, const struct img_stat *st0, void *arg)
{
	struct list_ctx *c = arg;
	struct img_stat st = *st0;
	struct buf e = BUF_INIT;
	__do_free char *path = xasprintf("%s%s%s", c->dir, strcmp(c->dir, "/") == 0 ? "" : "/", name);

	if (c->n == LIST_MAX_ENTRIES) {
		c->truncated = true;
		return 1;
	}
	/* The driver may have filled only the type: ask for the rest. */
	if (img_fs_lstat(c->fs, path, &st, &e) < 0)
		st = *st0;
	buf_release(&e);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->items = xrealloc(c->items, c->cap * sizeof(*c->items));
	}
	c->items[c->n].name = xstrdup(name);
	c->items[c->n].j = entry_json(c->fs, name, path, &st);
	c->n++;
	return 0;
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct list_item *)a)->name, ((const struct list_item *)b)->name);
}

int svc_fs_listing(struct img_fs *fs, const char *path, json_t **out, struct buf *err)
{
	struct img_stat st;
	int r;

	*out = NULL;
	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	if ((r = img_fs_lstat(fs, path, &st, err)) < 0)
		return r;
	/* A symlink to a directory is listed like `ls` does: as the directory. */
	if (S_ISLNK(st.mode)) {
		struct img_stat t;
		struct buf e = BUF_INIT;
		if (img_fs_stat(fs, path, &t, &e) == 0 && S_ISDIR(t.mode) && path[strlen(path) - 1] == '/')
			st = t;
		buf_release(&e);
	}
	json_t *entries = json_array();
	*out = json_pack("{s:s,s:s,s:s,s:o}", "path", path, "fstype", img_fs_type(fs), "type", type_name(st.mode),
			 "entries", entries);
	if (!S_ISDIR(st.mode)) {
		const char *base = strrchr(path, '/') + 1;
		json_array_append_new(entries, entry_json(fs, *base ? base : path, path, &st));
		return 0;
	}
	struct list_ctx c = { .fs = fs, .dir = path };
	r = img_fs_list(fs, path, list_one, &c, err);
	if (r == 1)
		r = 0;
	if (c.n > 1)
		qsort(c.items, c.n, sizeof(*c.items), item_cmp);
	for (size_t i = 0; i < c.n; i++) {
		json_array_append_new(entries, c.items[i].j);
		free(c.items[i].name);
	}
	free(c.items);
	json_object_set_new(*out, "truncated", json_boolean(c.truncated));
	if (r < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

/* ---- file contents ---- */

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

int svc_fs_stream(struct img_fs *fs, const char *path, const char *label, void (*release)(void *owner), void *owner,
		  int *fd, uint64_t *size, struct buf *err)
{
	struct fs_stream *st;
	struct img_stat sb;
	pthread_t t;
	int p[2], r;

	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
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
