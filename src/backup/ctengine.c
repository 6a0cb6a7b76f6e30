/*
 * ctengine.c - backing up a container's root into a repository (cttree.h,
 * backup_ct).  The root is walked twice through directory fds opened with
 * O_NOFOLLOW: once to count the bytes (for progress), once to record each
 * entry and cut each regular file into the repository's chunks from its own
 * start (all-zero pieces are not stored).  No mount is crossed (an entry on
 * another device is recorded as an empty directory or skipped), no symlink
 * followed, and hardlinks are recognised by (device, inode).  Names that are
 * not valid UTF-8 cannot be written into the JSON manifest: they are
 * skipped and counted ("skipped" in the manifest and the result).  Extended
 * attributes are kept raw, as hex (docs/backup-format.md).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backup/cttree.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/timeutil.h"

struct link_seen {
	dev_t dev;
	ino_t ino;
	size_t entry;
};

struct walk {
	struct repo *r;
	const struct backup_ct_req *req;
	struct cttree t;
	bool count_only;
	dev_t root_dev;
	uint64_t total, done, bytes_new, chunks, chunks_new, files, skipped;
	struct link_seen *links;
	size_t nlinks, alink;
	uint8_t *piece;
	backup_progress_cb cb;
	void *arg;
	struct buf *err;
};

static bool utf8_ok(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;
	json_decref(j);
	return ok;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory fd (sorted; caller frees). */
static int dir_names(int fd, char ***out, size_t *n, struct buf *err, const char *path)
{
	int dup_fd = dup(fd);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	size_t alloc = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		int e = errno;
		if (dup_fd >= 0)
			close(dup_fd);
		buf_printf(err, "cannot read directory /%s: %s", path, strerror(e));
		return -e;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == alloc) {
			alloc = alloc ? 2 * alloc : 32;
			*out = xrealloc(*out, alloc * sizeof(**out));
		}
		(*out)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), name_cmp);
	return 0;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Store the content of regular file fd into e's chunks. */
static int file_store(struct walk *w, int fd, struct cttree_entry *e, const char *path)
{
	uint32_t cs = repo_chunk_size(w->r);
	uint64_t size = 0;
	size_t alloc = 0;

	for (;;) {
		size_t got = 0;
		ssize_t k;
		if (repo_cancel_requested(w->req->cancel)) {
			buf_adds(w->err, "the container backup was cancelled");
			return -ECANCELED;
		}
		while (got < cs && (k = read(fd, w->piece + got, cs - got)) != 0) {
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				buf_printf(w->err, "cannot read /%s: %s", path, strerror(errno));
				return -errno;
			}
			got += (size_t)k;
		}
		if (got == 0)
			break;
		if (e->nchunks == alloc) {
			alloc = alloc ? 2 * alloc : 4;
			e->chunks = xrealloc(e->chunks, alloc * sizeof(*e->chunks));
			e->zero = xrealloc(e->zero, alloc * sizeof(*e->zero));
		}
		size_t k2 = e->nchunks++;
		bool zero = true;
		for (size_t i = 0; i < got && zero; i++)
			zero = w->piece[i] == 0;
		e->zero[k2] = zero;
		if (!zero) {
			bool is_new = false;
			uint64_t stored = 0;
			int r = repo_chunk_put(w->r, w->piece, got, e->chunks[k2], &is_new, &stored, w->err);
			if (r < 0)
				return r;
			w->chunks++;
			w->chunks_new += is_new;
			w->bytes_new += stored;
		}
		size += got;
		w->done += got;
		if (w->cb)
			w->cb(w->done, w->total > w->done ? w->total : w->done, "read", w->arg);
		if (got < cs)
			break;
	}
	if (!e->chunks) {
		e->chunks = xcalloc(1, sizeof(*e->chunks));
		e->zero = xcalloc(1, sizeof(*e->zero));
	}
	e->size = size;
	return 0;
}

/* The extended attributes of fd (>= 0), else of dfd/name (a symlink is not
 * followed), into e->xattrs as {name: hex}; none: NULL.  A file system
 * without them is no error; an attribute name that is not UTF-8 is skipped. */
static int xattrs_read(struct walk *w, int fd, int dfd, const char *name, struct cttree_entry *e)
{
	__do_free char *proc = fd < 0 ? xasprintf("/proc/self/fd/%d/%s", dfd, name) : NULL;
	__do_free char *list = NULL;
	ssize_t n = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(proc, NULL, 0);

	if (n < 0 && (errno == ENOTSUP || errno == EPERM))
		return 0;
	if (n == 0)
		return 0;
	if (n > 0) {
		list = xmalloc((size_t)n);
		n = fd >= 0 ? flistxattr(fd, list, (size_t)n) : llistxattr(proc, list, (size_t)n);
	}
	for (char *k = list; n > 0 && k < list + n; k += strlen(k) + 1) {
		ssize_t v = fd >= 0 ? fgetxattr(fd, k, NULL, 0) : lgetxattr(proc, k, NULL, 0);
		if (v < 0 && errno == ENODATA)
			continue;
		if (v > CTTREE_MAX_XATTR_VALUE) {
			w->skipped++;
			continue;
		}
		__do_free uint8_t *val = v >= 0 ? xmalloc((size_t)v + 1) : NULL;
		if (v >= 0)
			v = fd >= 0 ? fgetxattr(fd, k, val, (size_t)v) : lgetxattr(proc, k, val, (size_t)v);
		if (v < 0) {
			n = -1;
			break;
		}
		__do_free char *hex = xmalloc(2 * (size_t)v + 1);
		for (ssize_t i = 0; i < v; i++) {
			hex[2 * i] = "0123456789abcdef"[val[i] >> 4];
			hex[2 * i + 1] = "0123456789abcdef"[val[i] & 15];
		}
		hex[2 * v] = '\0';
		if (!e->xattrs)
			e->xattrs = json_object();
		if (json_object_size(e->xattrs) >= CTTREE_MAX_XATTRS || !utf8_ok(k) || !strchr(k, '.')) {
			w->skipped++;
			continue;
		}
		json_object_set_new(e->xattrs, k, json_string(hex));
	}
	if (n < 0) {
		int er = errno;
		buf_printf(w->err, "cannot read the extended attributes of /%s: %s", e->path, strerror(er));
		return -er;
	}
	if (e->xattrs && json_object_size(e->xattrs) == 0) {
		json_decref(e->xattrs);
		e->xattrs = NULL;
	}
	return 0;
}

static void meta_of(struct cttree_entry *e, const struct stat *st)
{
	e->mode = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime = (int64_t)st->st_mtim.tv_sec;
	e->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
}

static int walk_dir(struct walk *w, int dfd, const char *path, int depth);

/* One entry `name` of directory dfd (whose path is dir). */
static int walk_one(struct walk *w, int dfd, const char *dir, const char *name, int depth)
{
	__do_free char *path = *dir ? xasprintf("%s/%s", dir, name) : xstrdup(name);
	struct stat st;
	int r = 0;

	if (!utf8_ok(name)) {
		w->skipped++;
		return 0;
	}
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile (a running, frozen container cannot do that; a tmp file of ours) */
		buf_printf(w->err, "cannot stat /%s: %s", path, strerror(errno));
		return -errno;
	}
	if (w->count_only) {
		if (S_ISREG(st.st_mode))
			w->total += (uint64_t)st.st_size;
		if (S_ISDIR(st.st_mode) && st.st_dev == w->root_dev) {
			__do_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd >= 0)
				r = walk_dir(w, fd, path, depth + 1);
		}
		return r;
	}
	struct cttree_entry *e;
	if (S_ISDIR(st.st_mode)) {
		e = cttree_add(&w->t, path, CTT_DIR);
		meta_of(e, &st);
		if (st.st_dev != w->root_dev)
			return 0; /* a mount point: the directory, not what is mounted on it */
		__do_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			buf_printf(w->err, "cannot open directory /%s: %s", path, strerror(errno));
			return -errno;
		}
		if ((r = xattrs_read(w, fd, -1, NULL, e)) < 0)
			return r;
		return walk_dir(w, fd, path, depth + 1);
	}
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		for (size_t i = 0; i < w->nlinks; i++)
			if (w->links[i].dev == st.st_dev && w->links[i].ino == st.st_ino) {
				e = cttree_add(&w->t, path, CTT_HARDLINK);
				meta_of(e, &st);
				e->target = xstrdup(w->t.e[w->links[i].entry].path);
				return 0;
			}
		if (w->nlinks == w->alink) {
			w->alink = w->alink ? 2 * w->alink : 64;
			w->links = xrealloc(w->links, w->alink * sizeof(*w->links));
		}
		w->links[w->nlinks++] = (struct link_seen){ st.st_dev, st.st_ino, w->t.n };
	}
	if (S_ISREG(st.st_mode)) {
		e = cttree_add(&w->t, path, CTT_FILE);
		meta_of(e, &st);
		/* O_NONBLOCK: never hang on a fifo swapped in since the stat */
		__do_close int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		struct stat again;
		if (fd < 0) {
			buf_printf(w->err, "cannot open /%s: %s", path, strerror(errno));
			return -errno;
		}
		if (fstat(fd, &again) < 0 || again.st_ino != st.st_ino || again.st_dev != st.st_dev) {
			buf_printf(w->err, "/%s changed while it was being backed up", path);
			return -EAGAIN;
		}
		w->files++;
		if ((r = xattrs_read(w, fd, -1, NULL, e)) < 0)
			return r;
		return file_store(w, fd, e, path);
	}
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n <= 0) {
			buf_printf(w->err, "cannot read symlink /%s: %s", path, n < 0 ? strerror(errno) : "empty");
			return n < 0 ? -errno : -EIO;
		}
		target[n] = '\0';
		if (!utf8_ok(target)) {
			w->skipped++;
			return 0;
		}
		e = cttree_add(&w->t, path, CTT_SYMLINK);
		meta_of(e, &st);
		e->target = xstrdup(target);
		return xattrs_read(w, -1, dfd, name, e);
	}
	enum cttree_type ty = S_ISCHR(st.st_mode) ? CTT_CHR : S_ISBLK(st.st_mode) ? CTT_BLK : S_ISFIFO(st.st_mode) ? CTT_FIFO
											     : CTT_SOCK;
	e = cttree_add(&w->t, path, ty);
	meta_of(e, &st);
	if (ty == CTT_CHR || ty == CTT_BLK)
		e->rdev = (uint64_t)st.st_rdev;
	return xattrs_read(w, -1, dfd, name, e);
}

static int walk_dir(struct walk *w, int dfd, const char *path, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (depth >= CTTREE_MAX_DEPTH) {
		buf_printf(w->err, "directory /%s is nested deeper than %d levels", path, CTTREE_MAX_DEPTH);
		return -ELOOP;
	}
	if ((r = dir_names(dfd, &names, &n, w->err, path)) < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = walk_one(w, dfd, path, names[i], depth);
	names_free(names, n);
	return r;
}

static void walk_release(struct walk *w)
{
	cttree_release(&w->t);
	free(w->links);
	free(w->piece);
}

int backup_ct(struct repo *r, const struct backup_ct_req *req, backup_progress_cb cb, void *arg,
	      struct backup_ct_result *res, struct buf *err)
{
	int64_t t0 = time_mono_ms();
	struct walk w = { .r = r, .req = req, .cb = cb, .arg = arg, .err = err };
	__do_close int root = open(req->rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char when[32];
	struct tm tm;
	time_t now = (time_t)req->now;
	__do_free char *id = NULL;
	__do_json json_t *m = NULL;
	char host[256] = "";
	int rc;

	memset(res, 0, sizeof(*res));
	if (root < 0 || fstat(root, &st) < 0) {
		buf_printf(err, "cannot open the root of container %s at %s: %s", req->name, req->rootfs, strerror(errno));
		return -errno;
	}
	w.root_dev = st.st_dev;
	w.count_only = true;
	if ((rc = walk_dir(&w, root, "", 0)) < 0)
		goto out;
	w.count_only = false;
	w.piece = xmalloc(repo_chunk_size(r));
	meta_of(cttree_add(&w.t, "", CTT_DIR), &st);
	if ((rc = xattrs_read(&w, root, -1, NULL, &w.t.e[0])) < 0)
		goto out;
	if ((rc = walk_dir(&w, root, "", 0)) < 0)
		goto out;
	if (repo_cancel_requested(req->cancel)) {
		buf_adds(err, "the container backup was cancelled");
		rc = -ECANCELED;
		goto out;
	}
	if (cb)
		cb(w.done, w.done, "finish", arg);
	if ((rc = repo_flush(r, err)) < 0 || (rc = repo_manifest_new_id(r, req->name, req->now, &id, err)) < 0)
		goto out;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	gethostname(host, sizeof(host) - 1);
	int64_t duration = time_mono_ms() - t0;
	m = json_pack(
		"{s:i,s:s,s:s,s:{s:s,s:s},s:O,s:I,s:s,s:I,s:s,s:s?,s:s,s:i,s:I,s:I,s:I,s:I,s:o}", "version",
		CTTREE_MANIFEST_VERSION, "kind", "container", "id", id, "vm", "name", req->name, "uuid", req->uuid,
		"container", req->definition, "created", (json_int_t)req->now, "created_rfc3339", when, "duration_ms",
		(json_int_t)duration, "host", host, "policy", req->policy, "consistency", req->consistency, "chunk_size",
		(int)repo_chunk_size(r), "size", (json_int_t)w.done, "bytes_read", (json_int_t)w.done, "bytes_new",
		(json_int_t)w.bytes_new, "skipped", (json_int_t)w.skipped, "files", cttree_to_json(&w.t));
	if (!m) {
		buf_adds(err, "cannot build the container backup's manifest");
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = repo_manifest_write(r, id, m, err)) < 0)
		goto out;
	res->id = move_ptr(id);
	res->duration_ms = duration;
	res->entries = w.t.n;
	res->files = w.files;
	res->size = w.done;
	res->bytes_new = w.bytes_new;
	res->chunks = w.chunks;
	res->chunks_new = w.chunks_new;
	res->skipped = w.skipped;
out:
	walk_release(&w);
	return rc;
}

void backup_ct_result_release(struct backup_ct_result *res)
{
	free(res->id);
	memset(res, 0, sizeof(*res));
}

json_t *backup_ct_result_json(const struct backup_ct_result *res)
{
	return json_pack("{s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id", res->id, "duration_ms",
			 (json_int_t)res->duration_ms, "entries", (json_int_t)res->entries, "files",
			 (json_int_t)res->files, "size", (json_int_t)res->size, "bytes_read", (json_int_t)res->size,
			 "bytes_new", (json_int_t)res->bytes_new, "chunks", (json_int_t)res->chunks, "chunks_new",
			 (json_int_t)res->chunks_new, "skipped", (json_int_t)res->skipped);
}
