/*
 * cttree.c - the file tree of a container backup (cttree.h): paths and
 * their checks, and the manifest's "files" array in both directions.  The
 * parser treats the array as hostile (a repository on a share may hold
 * anything): it refuses bad paths, orphans, links to nothing and chunk
 * lists that do not fit the size, so the restore and `backup get` above
 * it see only trees that make sense.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backup/cttree.h"
#include "util/common.h"
#include "util/jsonutil.h"

static const char *const type_names[] = {
	[CTT_DIR] = "directory",  [CTT_FILE] = "file",   [CTT_SYMLINK] = "symlink", [CTT_HARDLINK] = "hardlink",
	[CTT_CHR] = "chardev", [CTT_BLK] = "blockdev", [CTT_FIFO] = "fifo",	      [CTT_SOCK] = "socket",
};

const char *cttree_type_name(enum cttree_type t)
{
	return (unsigned)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

static int type_parse(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
		if (strcmp(s, type_names[i]) == 0)
			return (int)i;
	return -1;
}

int cttree_path_check(const char *p, struct buf *err)
{
	size_t n = strlen(p), depth = 0;
	const char *c = p;

	if (n == 0)
		return 0;
	if (n > 4095) {
		buf_adds(err, "path is longer than 4095 bytes");
		return -EINVAL;
	}
	if (p[0] == '/') {
		buf_printf(err, "path '%.200s' is absolute", p);
		return -EINVAL;
	}
	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t len = (size_t)(end - c);
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.')) {
			buf_printf(err, "path '%.200s' has an empty, '.' or '..' component", p);
			return -EINVAL;
		}
		if (len > 255) {
			buf_adds(err, "a path component is longer than 255 bytes");
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f) {
				buf_adds(err, "a path holds a control character");
				return -EINVAL;
			}
		if (++depth > CTTREE_MAX_DEPTH) {
			buf_printf(err, "path is deeper than %d components", CTTREE_MAX_DEPTH);
			return -EINVAL;
		}
		c = *end ? end + 1 : end;
		if (*end && !*c) {
			buf_printf(err, "path '%.200s' ends with '/'", p);
			return -EINVAL;
		}
	}
	return 0;
}

struct cttree_entry *cttree_add(struct cttree *t, const char *path, enum cttree_type type)
{
	if (t->n == t->alloc) {
		t->alloc = t->alloc ? 2 * t->alloc : 256;
		t->e = xrealloc(t->e, t->alloc * sizeof(*t->e));
	}
	struct cttree_entry *e = &t->e[t->n++];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->type = type;
	return e;
}

void cttree_release(struct cttree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].target);
		free(t->e[i].chunks);
		free(t->e[i].zero);
		json_decref(t->e[i].xattrs);
	}
	free(t->e);
	memset(t, 0, sizeof(*t));
}

json_t *cttree_to_json(const struct cttree *t)
{
	json_t *a = json_array();
	char hex[2 * REPO_DIGEST_LEN + 1];

	for (size_t i = 0; i < t->n; i++) {
		const struct cttree_entry *e = &t->e[i];
		json_t *o = json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:i}", "path", e->path, "type", cttree_type_name(e->type),
				      "mode", (int)e->mode, "uid", (json_int_t)e->uid, "gid", (json_int_t)e->gid, "mtime",
				      (json_int_t)e->mtime, "mtime_ns", (int)e->mtime_ns);
		if (e->type == CTT_FILE) {
			json_t *c = json_array();
			for (size_t k = 0; k < e->nchunks; k++) {
				if (e->zero[k]) {
					json_array_append_new(c, json_null());
				} else {
					repo_digest_hex(e->chunks[k], hex);
					json_array_append_new(c, json_string(hex));
				}
			}
			json_object_set_new(o, "size", json_integer((json_int_t)e->size));
			json_object_set_new(o, "chunks", c);
		}
		if (e->type == CTT_SYMLINK || e->type == CTT_HARDLINK)
			json_object_set_new(o, "target", json_string(e->target));
		if (e->type == CTT_CHR || e->type == CTT_BLK)
			json_object_set_new(o, "rdev", json_integer((json_int_t)e->rdev));
		if (e->xattrs)
			json_object_set(o, "xattrs", e->xattrs);
		json_array_append_new(a, o);
	}
	return a;
}

/* Sorted index of paths for lookups while parsing and after. */
struct pidx {
	const char *path;
	size_t i;
};

static int pidx_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pidx *)a)->path, ((const struct pidx *)b)->path);
}

ssize_t cttree_find(const struct cttree *t, const char *path)
{
	while (*path == '/')
		path++;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->e[i].path, path) == 0)
			return (ssize_t)i;
	return -1;
}

/* {"name": "hex", ...}: names 1..255 bytes without control characters,
 * values even-length lower-case hex of at most CTTREE_MAX_XATTR_VALUE bytes. */
static int xattrs_check(const json_t *x, struct buf *err)
{
	const char *k;
	const json_t *v;

	if (!json_is_object(x) || json_object_size(x) == 0 || json_object_size(x) > CTTREE_MAX_XATTRS) {
		buf_printf(err, "\"xattrs\" is not an object of 1 to %d attributes", CTTREE_MAX_XATTRS);
		return -EINVAL;
	}
	json_object_foreach((json_t *)x, k, v) {
		size_t n = strlen(k), len;
		const char *h = json_string_value(v);
		bool ok = n > 0 && n <= 255 && strchr(k, '.') && h && (len = strlen(h)) % 2 == 0 &&
			  len <= 2 * CTTREE_MAX_XATTR_VALUE;
		for (size_t i = 0; ok && i < n; i++)
			ok = (unsigned char)k[i] >= 0x20 && k[i] != 0x7f;
		for (const char *c = h; ok && *c; c++)
			ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
		if (!ok) {
			buf_adds(err, "an extended attribute has a bad name or a value that is not hex");
			return -EINVAL;
		}
	}
	return 0;
}

static int entry_parse(const json_t *o, size_t i, uint32_t chunk_size, struct cttree *t, struct buf *err)
{
	static const char *const keys[] = { "path", "type", "mode", "uid", "gid", "mtime", "mtime_ns", "size",
					    "chunks", "target", "rdev", "xattrs", NULL };
	const char *path = NULL, *type = NULL, *target = NULL;
	int64_t mode = 0, uid = 0, gid = 0, mtime = 0, ns = 0, size = 0, rdev = 0;
	__do_buf struct buf why = BUF_INIT;
	int ty;

	if (json_check_keys(o, "entry", keys, &why) < 0 || json_get_str(o, "path", &path, &why) != 1 ||
	    json_get_str(o, "type", &type, &why) != 1 || json_get_int(o, "mode", 0, 07777, &mode, &why) != 1 ||
	    json_get_int(o, "uid", 0, UINT32_MAX, &uid, &why) != 1 ||
	    json_get_int(o, "gid", 0, UINT32_MAX, &gid, &why) != 1 ||
	    json_get_int(o, "mtime", INT64_MIN / 2, INT64_MAX / 2, &mtime, &why) != 1 ||
	    json_get_int(o, "mtime_ns", 0, 999999999, &ns, &why) < 0 ||
	    json_get_int(o, "size", 0, INT64_MAX / 2, &size, &why) < 0 ||
	    json_get_int(o, "rdev", 0, INT64_MAX, &rdev, &why) < 0 || json_get_str(o, "target", &target, &why) < 0) {
		buf_printf(err, "file entry %zu: %s", i, why.len ? why.s : "missing fields");
		return -EINVAL;
	}
	if (cttree_path_check(path, &why) < 0) {
		buf_printf(err, "file entry %zu: %s", i, why.s);
		return -EINVAL;
	}
	if ((ty = type_parse(type)) < 0) {
		buf_printf(err, "file entry %zu: unknown type '%.40s'", i, type);
		return -EINVAL;
	}
	if ((i == 0) != (path[0] == '\0') || (i == 0 && ty != CTT_DIR)) {
		buf_adds(err, "the first file entry must be the root directory \"\", and only it");
		return -EINVAL;
	}
	bool linky = ty == CTT_SYMLINK || ty == CTT_HARDLINK;
	if (linky != !!target || (linky && (!*target || strlen(target) > 4095))) {
		buf_printf(err, "file entry %zu: a symlink or hardlink needs a target, nothing else has one", i);
		return -EINVAL;
	}
	if (ty == CTT_HARDLINK && cttree_path_check(target, &why) < 0) {
		buf_printf(err, "file entry %zu: hardlink target: %s", i, why.s);
		return -EINVAL;
	}
	const json_t *chunks = json_object_get(o, "chunks");
	if ((ty == CTT_FILE) != json_is_array(chunks) || (ty != CTT_FILE && (chunks || size))) {
		buf_printf(err, "file entry %zu: only regular files have a size and chunks", i);
		return -EINVAL;
	}
	const json_t *xattrs = json_object_get(o, "xattrs");
	if (xattrs && xattrs_check(xattrs, &why) < 0) {
		buf_printf(err, "file entry %zu: %s", i, why.s);
		return -EINVAL;
	}
	struct cttree_entry *e = cttree_add(t, path, (enum cttree_type)ty);
	e->xattrs = xattrs ? json_deep_copy(xattrs) : NULL;
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->mtime = mtime;
	e->mtime_ns = (uint32_t)ns;
	e->size = (uint64_t)size;
	e->rdev = (uint64_t)rdev;
	e->target = target ? xstrdup(target) : NULL;
	if (ty == CTT_FILE) {
		size_t want = (size_t)((e->size + chunk_size - 1) / chunk_size), k;
		const json_t *c;
		if (json_array_size(chunks) != want) {
			buf_printf(err, "file entry %zu: %zu chunks for %" PRIu64 " bytes, expected %zu", i,
				   json_array_size(chunks), e->size, want);
			return -EINVAL;
		}
		e->nchunks = want;
		e->chunks = xcalloc(want ? want : 1, sizeof(*e->chunks));
		e->zero = xcalloc(want ? want : 1, sizeof(*e->zero));
		json_array_foreach(chunks, k, c) {
			if (json_is_null(c))
				e->zero[k] = true;
			else if (!json_is_string(c) || repo_digest_parse(json_string_value(c), e->chunks[k]) < 0) {
				buf_printf(err, "file entry %zu: chunk %zu is neither null nor 64 hex characters", i, k);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Every parent an earlier directory, every path once, every hardlink to an earlier file. */
static int tree_links_check(const struct cttree *t, struct buf *err)
{
	struct pidx *ix = xcalloc(t->n ? t->n : 1, sizeof(*ix));
	int r = 0;

	for (size_t i = 0; i < t->n; i++)
		ix[i] = (struct pidx){ t->e[i].path, i };
	qsort(ix, t->n, sizeof(*ix), pidx_cmp);
	for (size_t i = 1; i < t->n && r == 0; i++)
		if (strcmp(ix[i - 1].path, ix[i].path) == 0) {
			buf_printf(err, "path '%.200s' appears twice in the tree", ix[i].path);
			r = -EINVAL;
		}
	for (size_t i = 1; i < t->n && r == 0; i++) {
		const struct cttree_entry *e = &t->e[i];
		const char *slash = strrchr(e->path, '/');
		__do_free char *parent = slash ? xstrndup(e->path, (size_t)(slash - e->path)) : xstrdup("");
		struct pidx key = { parent, 0 }, *p = bsearch(&key, ix, t->n, sizeof(*ix), pidx_cmp);
		if (!p || p->i >= i || t->e[p->i].type != CTT_DIR) {
			buf_printf(err, "the parent of '%.200s' is not an earlier directory of the tree", e->path);
			r = -EINVAL;
			break;
		}
		if (e->type != CTT_HARDLINK)
			continue;
		key.path = e->target;
		p = bsearch(&key, ix, t->n, sizeof(*ix), pidx_cmp);
		if (!p || p->i >= i || t->e[p->i].type != CTT_FILE) {
			buf_printf(err, "hardlink '%.200s' names no earlier regular file", e->path);
			r = -EINVAL;
		}
	}
	free(ix);
	return r;
}

int cttree_from_json(const json_t *files, uint32_t chunk_size, struct cttree *t, struct buf *err)
{
	const json_t *o;
	size_t i;
	int r = 0;

	memset(t, 0, sizeof(*t));
	if (chunk_size < 4096 || chunk_size > REPO_MAX_CHUNK_SIZE || (chunk_size & (chunk_size - 1))) {
		buf_adds(err, "the manifest's chunk size is not a power of two up to 16 MiB");
		return -EINVAL;
	}
	if (!json_is_array(files) || json_array_size(files) == 0 || json_array_size(files) > CTTREE_MAX_ENTRIES) {
		buf_adds(err, "the manifest's \"files\" is not a non-empty array of at most 4000000 entries");
		return -EINVAL;
	}
	json_array_foreach(files, i, o) {
		if (!json_is_object(o)) {
			buf_printf(err, "file entry %zu is not an object", i);
			r = -EINVAL;
		} else {
			r = entry_parse(o, i, chunk_size, t, err);
		}
		if (r < 0)
			break;
	}
	if (r == 0)
		r = tree_links_check(t, err);
	if (r < 0)
		cttree_release(t);
	return r;
}
