/*
 * serve.c - corral-imgd's request handlers (see serve.h): the image
 * library's answers as protocol frames.
 *
 * The helper reports what the image says (stat fields, partition entries,
 * boot entries) and corrald shapes the API's JSON from it, so the API
 * format lives in one place (src/service) and every value that comes back is
 * checked there.  Text from the image (names, link targets, titles) is made
 * valid UTF-8 (imgd_json_text).  A listing is cut at the entry count corrald
 * asks for and at LIST_BUDGET bytes, whichever comes first ("truncated").
 *
 * Built with IMGD_TEST_HOOKS (the corral-imgd-test binary of the tests, never
 * installed), a request for a path under /corral-test/ misbehaves on purpose
 * - crash, spin for ever, try to escape the sandbox - so the tests can prove
 * that corrald survives a parser that does.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgd/serve.h"
#include "image/appliance.h"
#include "image/bootdisk.h"
#include "util/common.h"

#define LIST_BUDGET (48u << 20)

/* One request being answered. */
struct req {
	int sock;
	bool broken;		/* sending failed: the socket is unusable */
	struct imgd_msg *m;
	struct img_dev *dev;
	struct img_fs *fs;
	size_t dev_fds;		/* request fds used by the device */
};

static int send_json(struct req *q, json_t *j, const void *data, size_t len, struct buf *err)
{
	int r = imgd_send(q->sock, 0, j, data, len, NULL, 0, err);
	json_decref(j);
	if (r < 0)
		q->broken = true;
	return r;
}

static int send_result(struct req *q, json_t *j, struct buf *err)
{
	json_object_set_new(j, "op", json_string("result"));
	return send_json(q, j, NULL, 0, err);
}

static const char *arg_str(const struct req *q, const char *key)
{
	return json_string_value(json_object_get(q->m->j, key));
}

static int open_file_dev(struct req *q, const json_t *d, struct buf *err)
{
	const json_t *names = json_object_get(d, "names");
	const char *format = json_string_value(json_object_get(d, "format"));
	const char *snapshot = json_string_value(json_object_get(d, "snapshot"));
	const char *list[IMGD_MAX_CHAIN];
	int fds[IMGD_MAX_CHAIN];
	size_t n = json_array_size(names);

	if (n == 0 || n > IMGD_MAX_CHAIN || n > q->m->nfds) {
		buf_printf(err, "bad request: %zu image files named, %zu descriptors given", n, q->m->nfds);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		list[i] = json_string_value(json_array_get(names, i));
		if (!list[i]) {
			buf_adds(err, "bad request: image file names must be strings");
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < n; i++)
		fds[i] = imgd_msg_take_fd(q->m, i);
	q->dev_fds = n;
	return img_dev_open_fds(fds, list, n, format, snapshot, &q->dev, err);
}

static int open_dev(struct req *q, struct buf *err)
{
	const json_t *d = json_object_get(q->m->j, "dev");
	const char *kind = json_string_value(json_object_get(d, "kind"));

	if (kind && strcmp(kind, "file") == 0)
		return open_file_dev(q, d, err);
	if (kind && strcmp(kind, "remote") == 0) {
		const json_t *size = json_object_get(d, "size");
		const char *desc = json_string_value(json_object_get(d, "desc"));
		if (!json_is_integer(size) || json_integer_value(size) < 0 || !desc) {
			buf_adds(err, "bad request: a remote device needs a size and a description");
			return -EINVAL;
		}
		return imgd_remote_dev_open(q->sock, (uint64_t)json_integer_value(size), desc, &q->dev, err);
	}
	buf_adds(err, "bad request: no device (\"dev\") given");
	return -EINVAL;
}

static int open_fs(struct req *q, struct buf *err)
{
	const json_t *p = json_object_get(q->m->j, "partition");
	json_int_t part = json_is_integer(p) ? json_integer_value(p) : 0;
	const char *volume = arg_str(q, "volume");

	if (part < 0 || part > 256) {
		buf_adds(err, "bad request: partition must be 0..256");
		return -EINVAL;
	}
	/* an LVM2 logical volume "VG/LV" (image.h img_fs_open_volume) */
	if (volume) {
		if (part || !*volume || strspn(volume, "0123456789") == strlen(volume)) {
			buf_adds(err, "bad request: volume names a logical volume, without a partition");
			return -EINVAL;
		}
		return img_fs_open_volume(q->dev, volume, &q->fs, err);
	}
	return img_fs_open_partition(q->dev, (int)part, &q->fs, err);
}

/* ---- test hooks ---- */

#ifdef IMGD_TEST_HOOKS
/* 1 if path asked for a test misbehaviour that returned (escape: what it could do). */
static int test_hook(struct req *q, const char *path, struct buf *err)
{
	if (strcmp(path, "/corral-test/crash") == 0) {
		raise(SIGSEGV);
	} else if (strcmp(path, "/corral-test/hang") == 0) {
		for (volatile unsigned long i = 0;; i++)
			;
	} else if (strcmp(path, "/corral-test/escape") == 0) {
		/* A compromised parser: read a host file, then reach the network or corrald's socket. */
		int fd = open("/etc/passwd", O_RDONLY);
		if (fd >= 0) {
			buf_adds(err, "escaped: /etc/passwd could be opened");
			close(fd);
			return 1;
		}
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		buf_printf(err, "escaped: socket() returned %d", s);
		return 1;
	}
	(void)q;
	return 0;
}
#endif

/* ---- partitions ---- */

static int op_partitions(struct req *q, struct buf *err)
{
	struct img_partlist pl = { 0 };
	const char *whole;
	int r;

	if ((r = img_partitions(q->dev, &pl, err)) < 0)
		return r;
	json_t *parts = json_array();
	for (size_t i = 0; i < pl.n; i++) {
		const struct img_part *p = &pl.parts[i];
		json_array_append_new(parts, json_pack("{s:i,s:I,s:I,s:o,s:o,s:o,s:b}", "number", p->number, "start",
						       (json_int_t)p->start, "size", (json_int_t)p->size, "type",
						       imgd_json_text(p->type), "fstype", json_string(p->fstype), "name",
						       imgd_json_text(p->name), "bootable", p->bootable));
	}
	whole = pl.n ? NULL : img_fs_probe(q->dev);
	/* LVM2 logical volumes; a damaged PV is reported as one unreadable entry, the table still comes */
	struct img_lvlist lvl = { 0 };
	struct buf lerr = BUF_INIT;
	json_t *vols = json_array();
	if (img_lvm_list(q->dev, &lvl, &lerr) < 0) {
		char msg[256];	/* corrald takes at most 512 bytes */
		snprintf(msg, sizeof(msg), "%s", lerr.s ? lerr.s : "unreadable");
		json_array_append_new(vols, json_pack("{s:s,s:i,s:s,s:o}", "name", "unknown/unknown", "size", 0,
						      "fstype", "", "error", imgd_json_text(msg)));
	}
	for (size_t i = 0; i < lvl.n; i++)
		json_array_append_new(vols, json_pack("{s:o,s:I,s:s,s:o}", "name", imgd_json_text(lvl.lvs[i].name),
						      "size", (json_int_t)lvl.lvs[i].size, "fstype", lvl.lvs[i].fstype,
						      "error", imgd_json_text(lvl.lvs[i].error)));
	img_lvlist_release(&lvl);
	buf_release(&lerr);
	json_t *j = json_pack("{s:s,s:I,s:o,s:o,s:o}", "scheme", pl.scheme, "size", (json_int_t)img_dev_size(q->dev),
			      "fstype", whole ? json_string(whole) : json_null(), "partitions", parts, "volumes", vols);
	img_partlist_release(&pl);
	return send_result(q, j, err);
}

/* ---- listings ---- */

struct list_ctx {
	struct img_fs *fs;
	const char *dir;
	json_t *entries;
	size_t max, bytes;
	bool truncated;
};

static json_t *entry_json(struct img_fs *fs, const char *name, const char *path, const struct img_stat *st,
			  size_t *bytes)
{
	json_t *j = json_pack("{s:o,s:i,s:I,s:I,s:i,s:i}", "name", imgd_json_text(name), "mode", (int)st->mode,
			      "size", (json_int_t)st->size, "mtime", (json_int_t)st->mtime, "uid", (int)st->uid, "gid",
			      (int)st->gid);
	*bytes += strlen(name) + 100;
	if (S_ISLNK(st->mode)) {
		struct buf t = BUF_INIT, e = BUF_INIT;
		if (img_fs_readlink(fs, path, &t, &e) == 0) {
			json_object_set_new(j, "target", imgd_json_text(t.s));
			*bytes += t.len;
		}
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

	if (json_array_size(c->entries) >= c->max || c->bytes >= LIST_BUDGET) {
		c->truncated = true;
		return 1;
	}
	/* The driver may have filled only the type: ask for the rest. */
	if (img_fs_lstat(c->fs, path, &st, &e) < 0)
		st = *st0;
	buf_release(&e);
	json_array_append_new(c->entries, entry_json(c->fs, name, path, &st, &c->bytes));
	return 0;
}

static int op_list(struct req *q, struct buf *err)
{
	const char *path = arg_str(q, "path");
	const json_t *jmax = json_object_get(q->m->j, "max_entries");
	struct img_stat st;
	int r;

	if (!path || path[0] != '/' || !json_is_integer(jmax) || json_integer_value(jmax) < 1) {
		buf_adds(err, "bad request: list needs an absolute path and max_entries");
		return -EINVAL;
	}
#ifdef IMGD_TEST_HOOKS
	if (test_hook(q, path, err))
		return -EPERM;
#endif
	if ((r = img_fs_lstat(q->fs, path, &st, err)) < 0)
		return r;
	/* A symlink to a directory is listed like `ls` does with a trailing slash: as the directory. */
	if (S_ISLNK(st.mode) && path[strlen(path) - 1] == '/') {
		struct img_stat t;
		struct buf e = BUF_INIT;
		if (img_fs_stat(q->fs, path, &t, &e) == 0 && S_ISDIR(t.mode))
			st = t;
		buf_release(&e);
	}
	struct list_ctx c = { .fs = q->fs, .dir = path, .entries = json_array(),
			      .max = (size_t)json_integer_value(jmax) };
	if (!S_ISDIR(st.mode)) {
		const char *base = strrchr(path, '/') + 1;
		json_array_append_new(c.entries, entry_json(q->fs, *base ? base : path, path, &st, &c.bytes));
	} else if ((r = img_fs_list(q->fs, path, list_one, &c, err)) < 0) {
		json_decref(c.entries);
		return r;
	}
	return send_result(q, json_pack("{s:s,s:i,s:o,s:b}", "fstype", img_fs_type(q->fs), "mode", (int)st.mode,
					"entries", c.entries, "truncated", c.truncated),
			   err);
}

/* ---- file contents ---- */

struct send_ctx {
	struct req *q;
	struct buf *err;
};

static int send_chunk(const void *data, size_t len, void *arg)
{
	struct send_ctx *c = arg;
	return send_json(c->q, json_pack("{s:s}", "op", "data"), data, len, c->err);
}

static int op_read_file(struct req *q, struct buf *err)
{
	const char *path = arg_str(q, "path");
	struct img_stat st;
	int r;

	if (!path || path[0] != '/') {
		buf_adds(err, "bad request: read-file needs an absolute path");
		return -EINVAL;
	}
#ifdef IMGD_TEST_HOOKS
	if (test_hook(q, path, err))
		return -EPERM;
#endif
	if ((r = img_fs_stat(q->fs, path, &st, err)) < 0)
		return r;
	r = send_json(q, json_pack("{s:s,s:I,s:i}", "op", "file", "size", (json_int_t)st.size, "mode", (int)st.mode),
		      NULL, 0, err);
	/* corrald refuses anything but a regular file and reads no further */
	if (r < 0 || !S_ISREG(st.mode))
		return r;
	struct send_ctx c = { q, err };
	if ((r = img_fs_read_file(q->fs, path, send_chunk, &c, err)) < 0)
		return r;
	return send_result(q, json_object(), err);
}

/* ---- boot entries ---- */

static json_t *opt_text(const char *s)
{
	return s ? imgd_json_text(s) : json_null();
}

static int op_boot_entries(struct req *q, struct buf *err)
{
	struct img_boot_info bi;
	struct buf serr = BUF_INIT;
	int r;

	if ((r = img_boot_inspect(q->dev, &bi, err)) < 0) {
		img_boot_info_release(&bi);
		return r;
	}
	int selected = bootcfg_select(&bi.cfg, arg_str(q, "want"), &serr);
	json_t *entries = json_array();
	for (size_t i = 0; i < bi.cfg.n; i++) {
		const struct boot_entry *be = &bi.cfg.entries[i];
		json_t *initrds = json_array();
		for (size_t k = 0; k < be->n_initrds; k++)
			json_array_append_new(initrds, imgd_json_text(be->initrds[k]));
		json_array_append_new(entries, json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "title", imgd_json_text(be->title),
							 "id", opt_text(be->id), "kernel", opt_text(be->kernel),
							 "initrds", initrds, "cmdline",
							 imgd_json_text(be->cmdline ? be->cmdline : ""), "origin",
							 opt_text(be->origin), "problem",
							 opt_text(bi.problems ? bi.problems[i] : NULL)));
	}
	json_t *j = json_pack("{s:o,s:o,s:i,s:s,s:i,s:i,s:o,s:o}", "format", imgd_json_text(bi.cfg.format ? bi.cfg.format : ""),
			      "config", imgd_json_text(bi.cfg.path ? bi.cfg.path : ""), "partition", bi.partition,
			      "fstype", bi.fstype, "default", bi.cfg.default_index, "selected", selected < 0 ? -1 : selected,
			      "selection_error", selected < 0 && serr.len ? imgd_json_text(serr.s) : json_null(),
			      "entries", entries);
	buf_release(&serr);
	img_boot_info_release(&bi);
	return send_result(q, j, err);
}

static int op_boot_extract(struct req *q, struct buf *err)
{
	struct img_boot_choice c;
	__do_close int kfd = imgd_msg_take_fd(q->m, q->dev_fds);
	__do_close int ifd = imgd_msg_take_fd(q->m, q->dev_fds + 1);
	int r;

	if (kfd < 0 || ifd < 0) {
		buf_adds(err, "bad request: boot-extract needs a kernel and an initrd descriptor after the image's");
		return -EINVAL;
	}
	if ((r = img_boot_resolve(q->dev, arg_str(q, "want"), kfd, ifd, &c, err)) == 0)
		r = send_result(q, json_pack("{s:i,s:o,s:o,s:b,s:o,s:o,s:i}", "index", c.index, "title",
					     imgd_json_text(c.title), "cmdline", imgd_json_text(c.cmdline), "initrd",
					     c.initrd, "entry_kernel", imgd_json_text(c.entry_kernel), "config",
					     imgd_json_text(c.config), "partition", c.partition),
				err);
	img_boot_choice_release(&c);
	return r;
}

/* ---- appliances and disk import probes ---- */

#define SNIFF_BYTES (64u << 10)

/* What a file offered for `disk import` is: partition scheme, whole-disk filesystem, and a look at its first bytes. */
static int op_sniff(struct req *q, struct buf *err)
{
	struct img_partlist pl = { 0 };
	uint64_t size = img_dev_size(q->dev);
	size_t n = size < SNIFF_BYTES ? (size_t)size : SNIFF_BYTES;
	__do_free uint8_t *head = xmalloc(n ? n : 1);
	const char *whole;
	int r;

	if ((r = img_dev_pread(q->dev, head, n, 0, err)) < 0)
		return r;
	if (img_partitions(q->dev, &pl, err) < 0) {
		/* a damaged table is no evidence of a disk */
		buf_reset(err);
		snprintf(pl.scheme, sizeof(pl.scheme), "none");
	}
	whole = strcmp(pl.scheme, "none") == 0 ? img_fs_probe(q->dev) : NULL;
	json_t *j = json_pack("{s:s,s:o,s:s,s:I}", "scheme", pl.scheme, "fstype", whole ? json_string(whole) : json_null(),
			      "kind", img_sniff(head, n), "size", (json_int_t)size);
	img_partlist_release(&pl);
	return send_result(q, j, err);
}

/* dev[off, off+len) into out, at most max bytes (what: names it in the error). */
static int read_region(struct req *q, uint64_t off, uint64_t len, size_t max, const char *what, struct buf *out,
		       struct buf *err)
{
	if (len > max) {
		buf_printf(err, "the %s is %llu bytes, more than the %zu it may have", what, (unsigned long long)len, max);
		return -EFBIG;
	}
	buf_grow(out, (size_t)len + 1);
	int r = img_dev_pread(q->dev, out->s, (size_t)len, off, err);
	if (r < 0)
		return r;
	out->len = (size_t)len;
	out->s[out->len] = '\0';
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcasecmp(s + a - b, suffix) == 0;
}

static int appliance_ova(struct req *q, struct buf *err)
{
	__do_json json_t *members = NULL, *desc = NULL, *mf = NULL;
	struct buf text __do_buf = BUF_INIT;
	const json_t *ovf = NULL, *man = NULL, *m;
	size_t i;
	int r;

	if ((r = ova_tar_index(q->dev, &members, err)) < 0)
		return r;
	json_array_foreach(members, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		if (ends_with(name, ".ovf")) {
			if (ovf) {
				buf_adds(err, "the archive holds more than one .ovf descriptor");
				return -EINVAL;
			}
			ovf = m;
		} else if (ends_with(name, ".mf")) {
			if (man) {
				buf_adds(err, "the archive holds more than one .mf manifest");
				return -EINVAL;
			}
			man = m;
		}
	}
	if (!ovf) {
		buf_adds(err, "the archive holds no .ovf descriptor: not an OVA");
		return -EINVAL;
	}
	if ((r = read_region(q, (uint64_t)json_integer_value(json_object_get(ovf, "offset")),
			     (uint64_t)json_integer_value(json_object_get(ovf, "size")), OVF_MAX_SIZE, "descriptor", &text,
			     err)) < 0 ||
	    (r = ovf_parse(text.s, text.len, &desc, err)) < 0)
		return r;
	if (man) {
		buf_reset(&text);
		if ((r = read_region(q, (uint64_t)json_integer_value(json_object_get(man, "offset")),
				     (uint64_t)json_integer_value(json_object_get(man, "size")), OVF_MAX_MF_SIZE, "manifest",
				     &text, err)) < 0 ||
		    (r = ovf_mf_parse(text.s, text.len, &mf, err)) < 0)
			return r;
	}
	return send_result(q, json_pack("{s:O,s:O,s:O,s:O,s:O}", "members", members, "ovf", json_object_get(ovf, "name"),
					"descriptor", desc, "mf", man ? json_object_get(man, "name") : json_null(),
					"manifest", mf ? mf : json_null()),
			   err);
}

/* "kind": "ova" (the tar index, its descriptor and manifest), "ovf" or "mf" (the whole device is one). */
static int op_appliance(struct req *q, struct buf *err)
{
	const char *kind = arg_str(q, "kind");
	struct buf text __do_buf = BUF_INIT;
	__do_json json_t *j = NULL;
	int r;

	if (kind && strcmp(kind, "ova") == 0)
		return appliance_ova(q, err);
	if (!kind || (strcmp(kind, "ovf") != 0 && strcmp(kind, "mf") != 0)) {
		buf_adds(err, "bad request: appliance needs a kind: ova, ovf or mf");
		return -EINVAL;
	}
	bool is_ovf = strcmp(kind, "ovf") == 0;
	if ((r = read_region(q, 0, img_dev_size(q->dev), is_ovf ? OVF_MAX_SIZE : OVF_MAX_MF_SIZE,
			     is_ovf ? "descriptor" : "manifest", &text, err)) < 0)
		return r;
	r = is_ovf ? ovf_parse(text.s, text.len, &j, err) : ovf_mf_parse(text.s, text.len, &j, err);
	if (r < 0)
		return r;
	return send_result(q, json_pack("{s:O}", is_ovf ? "descriptor" : "manifest", j), err);
}

/* ---- dispatch ---- */

static const struct {
	const char *op;
	bool fs;			/* needs the filesystem of "partition" */
	int (*fn)(struct req *q, struct buf *err);
} ops[] = {
	{ "partitions", false, op_partitions },
	{ "list", true, op_list },
	{ "read-file", true, op_read_file },
	{ "boot-entries", false, op_boot_entries },
	{ "boot-extract", false, op_boot_extract },
	{ "sniff", false, op_sniff },
	{ "appliance", false, op_appliance },
};

int imgd_serve(int sock, struct imgd_msg *req)
{
	struct req q = { .sock = sock, .m = req };
	struct buf err = BUF_INIT;
	int r = -ENOTSUP;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops) && strcmp(ops[i].op, req->op) != 0; i++)
		;
	if (i == ARRAY_SIZE(ops))
		buf_printf(&err, "unknown request '%s'", req->op);
	else if ((r = open_dev(&q, &err)) == 0 && (!ops[i].fs || (r = open_fs(&q, &err)) == 0))
		r = ops[i].fn(&q, &err);
	if (r < 0 && !q.broken && imgd_send_error(sock, 0, r, err.s, &err) < 0)
		q.broken = true;
	img_fs_free(q.fs);
	img_dev_free(q.dev);
	imgd_msg_release(req);
	buf_release(&err);
	return q.broken ? -EPIPE : 0;
}
