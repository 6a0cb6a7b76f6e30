/*
 * fsview.c - what the API shows of a guest filesystem, wherever it comes
 * from (a volume, an image file, a backup): directory listings
 * (svc_fs_listing) and file contents (svc_fs_stream), read by the image
 * helper (imgclient.h) and checked here before anything reaches a client.
 *
 * A file is handed over as a pipe: a detached thread copies the helper's
 * "data" frames into the write end while the HTTP server sends what arrives
 * at the read end, so files of any size pass through without being held in
 * memory (at most one 1 MiB frame).  A client that goes away closes the read
 * end; the thread then sees EPIPE, stops the helper and releases whatever
 * the filesystem belongs to (an image session, a backup).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsview.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

#define LIST_MAX_ENTRIES 100000
#define NAME_MAX_BYTES 4096

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

/* A string member of at most NAME_MAX_BYTES, or NULL. */
static const char *short_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && strlen(s) <= NAME_MAX_BYTES ? s : NULL;
}

/* The API's entry for the helper's entry e, or NULL when e is malformed. */
static json_t *entry_json(const json_t *e)
{
	const char *name = short_str(e, "name");
	const json_t *target = json_object_get(e, "target");
	int64_t mode, size, mtime, uid, gid;
	struct buf ignore __do_buf = BUF_INIT;

	if (!name || json_get_int(e, "mode", 0, UINT32_MAX, &mode, &ignore) != 1 ||
	    json_get_int(e, "size", 0, INT64_MAX, &size, &ignore) != 1 ||
	    json_get_int(e, "mtime", INT64_MIN, INT64_MAX, &mtime, &ignore) != 1 ||
	    json_get_int(e, "uid", 0, UINT32_MAX, &uid, &ignore) != 1 ||
	    json_get_int(e, "gid", 0, UINT32_MAX, &gid, &ignore) != 1 || (target && !short_str(e, "target")))
		return NULL;
	return json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:I,s:O?}", "name", name, "type", type_name((uint32_t)mode), "mode",
			 (int)(mode & 07777), "size", (json_int_t)size, "mtime", (json_int_t)mtime, "uid",
			 (json_int_t)uid, "gid", (json_int_t)gid, "target", S_ISLNK(mode) ? target : NULL);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

int svc_fs_lv_check(const char *lv, struct buf *err)
{
	size_t n = strlen(lv), slash = 0;

	for (size_t i = 0; i < n; i++) {
		char c = lv[i];
		if (c == '/')
			slash++;
		else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			   c == '.' || c == '+' || c == '-'))
			slash = 2;
	}
	if (n == 0 || n > 255 || slash > 1 || lv[0] == '/' || lv[n - 1] == '/' || (!slash && !strchr(lv, '-'))) {
		buf_adds(err, "a logical volume is named VG/LV (or VG-LV) with the characters A-Z a-z 0-9 + _ . -");
		return -EINVAL;
	}
	return 0;
}

/* The helper's filesystem selection: "partition", and "volume" for a logical volume. */
static void fs_select(json_t *req, int partition, const char *lv)
{
	json_object_set_new(req, "partition", json_integer(partition));
	if (lv)
		json_object_set_new(req, "volume", json_string(lv));
}

int svc_fs_listing(const struct imgc_source *src, int partition, const char *lv, const char *path, json_t **out,
		   struct buf *err)
{
	__do_json json_t *req = NULL, *res = NULL;
	struct buf ignore __do_buf = BUF_INIT;
	const json_t *list, *e;
	const char *fstype;
	int64_t mode;
	size_t i, n;
	int r;

	*out = NULL;
	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	if (lv && (r = svc_fs_lv_check(lv, err)) < 0)
		return r;
	req = json_pack("{s:s,s:s,s:i}", "op", "list", "path", path, "max_entries", LIST_MAX_ENTRIES);
	fs_select(req, partition, lv);
	if ((r = imgc_call(src, req, NULL, 0, &res, err)) < 0)
		return r;
	list = json_object_get(res, "entries");
	n = json_array_size(list);
	fstype = short_str(res, "fstype");
	if (!fstype || json_get_int(res, "mode", 0, UINT32_MAX, &mode, &ignore) != 1 || !json_is_array(list) ||
	    n > LIST_MAX_ENTRIES || (S_ISDIR(mode) ? !json_is_boolean(json_object_get(res, "truncated")) : n != 1))
		goto bad;
	json_t **items = xcalloc(n ? n : 1, sizeof(*items));
	json_array_foreach(list, i, e) {
		if (!(items[i] = entry_json(e))) {
			while (i > 0)
				json_decref(items[--i]);
			free(items);
			goto bad;
		}
	}
	qsort(items, n, sizeof(*items), name_cmp);
	json_t *entries = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(entries, items[i]);
	free(items);
	*out = json_pack("{s:s,s:s,s:s,s:o}", "path", path, "fstype", fstype, "type", type_name((uint32_t)mode),
			 "entries", entries);
	if (S_ISDIR(mode))
		json_object_set(*out, "truncated", json_object_get(res, "truncated"));
	return 0;
bad:
	buf_printf(err, "cannot list %s in %s: the image helper sent a malformed listing", path, src->label);
	return -EIO;
}

/* ---- file contents ---- */

struct fs_stream {
	struct imgc *helper;
	char *path, *label;
	uint64_t size;
	void (*release)(void *owner);
	void *owner;
	int fd; /* write end */
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
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
	uint64_t sent = 0;
	int r;

	for (;;) {
		struct imgd_msg m;
		if ((r = imgc_next(st->helper, &m, &err)) < 0)
			break;
		bool data = strcmp(m.op, "data") == 0;
		if (data && m.data.len > st->size - sent) {
			buf_printf(&err, "the image helper sent more than the file's %" PRIu64 " bytes", st->size);
			r = -EIO;
		} else if (data) {
			r = write_all(st->fd, m.data.s, m.data.len);
			sent += m.data.len;
		} else if (strcmp(m.op, "result") != 0) {
			buf_printf(&err, "the image helper sent '%.40s' inside a file", m.op);
			r = -EIO;
		}
		imgd_msg_release(&m);
		if (r < 0 || !data)
			break;
	}
	if (r < 0 && r != -EPIPE)
		log_warn("reading %s from %s failed: %s", st->path, st->label, err.len ? err.s : strerror(-r));
	else if (r == 0 && sent != st->size)
		log_warn("reading %s from %s: the file ended after %" PRIu64 " of %" PRIu64 " bytes", st->path,
			 st->label, sent, st->size);
	close(st->fd);
	imgc_end(st->helper);
	st->release(st->owner);
	free(st->path);
	free(st->label);
	free(st);
	buf_release(&err);
	return NULL;
}

int svc_fs_stream(const struct imgc_source *src, int partition, const char *lv, const char *path,
		  void (*release)(void *owner),
		  void *owner, int *fd, uint64_t *size, struct buf *err)
{
	__do_json json_t *req = NULL;
	struct buf ignore __do_buf = BUF_INIT;
	struct imgd_msg m = IMGD_MSG_INIT;
	struct imgc *helper = NULL;
	struct fs_stream *st;
	int64_t fsize = 0, mode = 0;
	pthread_t t;
	int p[2], r;

	if ((r = svc_fs_path_check(path, err)) < 0)
		return r;
	if (lv && (r = svc_fs_lv_check(lv, err)) < 0)
		return r;
	req = json_pack("{s:s,s:s}", "op", "read-file", "path", path);
	fs_select(req, partition, lv);
	if ((r = imgc_start(src, req, NULL, 0, &helper, err)) < 0)
		return r;
	if ((r = imgc_next(helper, &m, err)) < 0)
		goto fail;
	if (strcmp(m.op, "file") != 0 || json_get_int(m.j, "size", 0, INT64_MAX, &fsize, &ignore) != 1 ||
	    json_get_int(m.j, "mode", 0, UINT32_MAX, &mode, &ignore) != 1) {
		buf_printf(err, "cannot read %s in %s: the image helper did not describe the file", path, src->label);
		r = -EIO;
		goto fail;
	}
	if (!S_ISREG(mode)) {
		buf_printf(err, "%s in %s is not a regular file", path, src->label);
		r = -EINVAL;
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = -errno;
		buf_printf(err, "cannot create a pipe: %s", strerror(-r));
		goto fail;
	}
	st = xcalloc(1, sizeof(*st));
	*st = (struct fs_stream){ .helper = helper, .path = xstrdup(path), .label = xstrdup(src->label),
				  .size = (uint64_t)fsize, .release = release, .owner = owner, .fd = p[1] };
	if ((r = pthread_create(&t, NULL, stream_thread, st)) != 0) {
		buf_printf(err, "cannot start a reader thread: %s", strerror(r));
		close(p[0]);
		close(p[1]);
		free(st->path);
		free(st->label);
		free(st);
		r = -r;
		goto fail;
	}
	pthread_detach(t);
	imgd_msg_release(&m);
	*fd = p[0];
	*size = (uint64_t)fsize;
	return 0;
fail:
	imgd_msg_release(&m);
	imgc_end(helper);
	return r;
}
