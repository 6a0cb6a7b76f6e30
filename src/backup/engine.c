/*
 * engine.c - backup_vm(): one VM's disks into the repository (backup.h).
 *
 * A run: pick an id, find the newest earlier manifest of the same VM (uuid)
 * and decide per disk whether its chain can be trusted (incremental) or the
 * disk must be read whole (and why); take the point-in-time view (fleece.c
 * for a running VM, qemu-nbd on the image for a stopped one); map every
 * chunk-size piece with NBD block status (all zero? touched since the base
 * bitmap?); then two workers, each on its own NBD connection, take pieces in
 * turn: untouched pieces copy the previous manifest's entry, zero pieces
 * become null, the rest are read, checked for zeros and handed to
 * repo_chunk_put (hash, compress, encrypt, store) - one worker's NBD read
 * overlaps the other's compression.  Only when every chunk is durable
 * (repo_flush) is the manifest written; the bitmaps are settled after that
 * (fleece_end), so a failure anywhere leaves no manifest and a correct chain.
 * A cancel is such a failure: the steps and the workers look at the flag
 * (check_cancel, worker_run) and the run unwinds through the same path.
 *
 * Bitmap names are "corral-" + the time part of the backup id, so a manifest
 * names the bitmap that has recorded every write since it was taken.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#include "backup/backup.h"
#include "backup/fleece.h"
#include "backup/nbdsrc.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define WORKERS 2

struct disk_run {
	const struct backup_disk_req *req;
	struct backup_disk_stats *st;
	uint64_t n_chunks;
	const json_t *prev_chunks;	/* previous manifest's list (incremental only) */
	const char *prev_id;
	char *base_bitmap;		/* previous backup's bitmap (incremental only) */
	char *new_bitmap;		/* recorded in the manifest, NULL for none */
	char **hex;			/* per chunk: id or NULL for zeros */
};

struct reader {
	struct repo *repo;
	struct disk_run *d;
	uint32_t chunk;
	struct nbd_handle *h[WORKERS];
	uint8_t *map;
	pthread_mutex_t lock;
	uint64_t next, done;
	int error;
	struct buf err;
	/* progress (worker 0 reports) */
	uint64_t base_done, total;
	backup_progress_cb cb;
	void *arg;
	const atomic_bool *cancel;
};

struct worker {
	struct reader *rd;
	int idx;
};

/* -ECANCELED once the run's cancel flag is set (backup_vm says so in err). */
static int check_cancel(const struct backup_req *req)
{
	return repo_cancel_requested(req->cancel) ? -ECANCELED : 0;
}

static bool all_zero(const unsigned char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

/* One piece: its id (malloc'ed) or NULL for zeros in *hex. */
static int piece_do(struct reader *rd, int idx, uint64_t c, unsigned char *buf, char **hex, uint64_t *read,
		    uint64_t *stored, bool *is_new, struct buf *err)
{
	struct disk_run *d = rd->d;
	uint64_t off = c * rd->chunk;
	size_t len = (size_t)(d->req->size - off < rd->chunk ? d->req->size - off : rd->chunk);
	*hex = NULL;
	if (d->prev_chunks && !(rd->map[c] & NBDSRC_CHUNK_DIRTY)) {
		const char *prev = json_string_value(json_array_get(d->prev_chunks, c));
		*hex = prev ? xstrdup(prev) : NULL;
		return 0;
	}
	if (rd->map[c] & NBDSRC_CHUNK_ZERO)
		return 0;
	int r = nbdsrc_pread(rd->h[idx], buf, len, off, err);
	if (r < 0)
		return r;
	*read = len;
	if (all_zero(buf, len))
		return 0;
	uint8_t dg[REPO_DIGEST_LEN];
	r = repo_chunk_put(rd->repo, buf, len, dg, is_new, stored, err);
	if (r < 0)
		return r;
	char h[2 * REPO_DIGEST_LEN + 1];
	repo_digest_hex(dg, h);
	*hex = xstrdup(h);
	return 0;
}

static void *worker_run(void *opaque)
{
	struct worker *w = opaque;
	struct reader *rd = w->rd;
	struct disk_run *d = rd->d;
	unsigned char *buf = xmalloc(rd->chunk);
	for (;;) {
		pthread_mutex_lock(&rd->lock);
		if (!rd->error && rd->next < d->n_chunks && repo_cancel_requested(rd->cancel))
			rd->error = -ECANCELED;
		if (rd->error || rd->next >= d->n_chunks) {
			pthread_mutex_unlock(&rd->lock);
			break;
		}
		uint64_t c = rd->next++;
		pthread_mutex_unlock(&rd->lock);
		struct buf err = BUF_INIT;
		char *hex = NULL;
		uint64_t read = 0, stored = 0;
		bool is_new = false;
		int r = piece_do(rd, w->idx, c, buf, &hex, &read, &stored, &is_new, &err);
		uint64_t off = c * rd->chunk;
		uint64_t len = d->req->size - off < rd->chunk ? d->req->size - off : rd->chunk;
		pthread_mutex_lock(&rd->lock);
		if (r < 0 && !rd->error) {
			rd->error = r;
			buf_add(&rd->err, err.s, err.len);
		}
		d->hex[c] = hex;
		d->st->bytes_read += read;
		if (is_new) {
			d->st->chunks_new++;
			d->st->bytes_new += stored;
		}
		rd->done += len;
		uint64_t done = rd->done;
		pthread_mutex_unlock(&rd->lock);
		buf_release(&err);
		if (w->idx == 0 && rd->cb)
			rd->cb(rd->base_done + done, rd->total, "read", rd->arg);
	}
	free(buf);
	return NULL;
}

/* Read one disk from an NBD export (socket, name) into d->hex. */
static int disk_read(struct repo *repo, const struct backup_req *req, struct disk_run *d, const char *socket,
		     const char *name, uint64_t base_done, uint64_t total, backup_progress_cb cb, void *arg,
		     struct buf *err)
{
	struct reader rd = { .repo = repo, .d = d, .chunk = repo_chunk_size(repo), .err = BUF_INIT,
			     .base_done = base_done, .total = total, .cb = cb, .arg = arg, .cancel = req->cancel };
	int r = 0;
	for (int i = 0; i < WORKERS && r == 0; i++)
		r = nbdsrc_connect(socket, name, d->base_bitmap, &rd.h[i], err);
	if (r == 0) {
		int64_t sz = nbd_get_size(rd.h[0]);
		if (sz < 0 || (uint64_t)sz != d->req->size) {
			buf_printf(err, "The backup view of volume %s has %" PRId64 " bytes, expected %" PRIu64 ".",
				   d->req->volume, sz, d->req->size);
			r = -EIO;
		}
	}
	if (r == 0) {
		rd.map = xcalloc(d->n_chunks ? d->n_chunks : 1, 1);
		r = nbdsrc_chunk_map(rd.h[0], d->req->size, rd.chunk, d->base_bitmap, rd.map, err);
	}
	if (r == 0) {
		/* The disk's start is reported before any worker runs: worker 0
		 * alone reports afterwards, and the others may take every chunk
		 * that needs a read before it gets one. */
		if (cb)
			cb(base_done, total, "read", arg);
		pthread_mutex_init(&rd.lock, NULL);
		struct worker w[WORKERS];
		pthread_t th[WORKERS];
		bool started[WORKERS] = { false };
		for (int i = 1; i < WORKERS; i++) {
			w[i] = (struct worker){ &rd, i };
			started[i] = pthread_create(&th[i], NULL, worker_run, &w[i]) == 0;
		}
		w[0] = (struct worker){ &rd, 0 };
		worker_run(&w[0]);
		for (int i = 1; i < WORKERS; i++)
			if (started[i])
				pthread_join(th[i], NULL);
		pthread_mutex_destroy(&rd.lock);
		if (rd.error) {
			buf_add(err, rd.err.s, rd.err.len);
			r = rd.error;
		}
	}
	for (int i = 0; i < WORKERS; i++)
		nbdsrc_close(rd.h[i]);
	free(rd.map);
	buf_release(&rd.err);
	return r;
}

/* ---- previous backup and chain checks ---- */

static int img_bitmap_usable(const char *path, const char *name, const char **why, struct buf *err);

static json_t *prev_manifest_find(struct repo *repo, const struct backup_req *req, char **prev_id)
{
	char **ids = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT;
	json_t *found = NULL;
	if (repo_manifest_list(repo, &ids, &n, &err) == 0) {
		size_t pl = strlen(req->vm_name);
		for (size_t i = n; i-- > 0 && !found;) {
			if (strncmp(ids[i], req->vm_name, pl) != 0 || ids[i][pl] != '/')
				continue;
			json_t *m = NULL;
			buf_reset(&err);
			if (repo_manifest_read(repo, ids[i], &m, &err) < 0)
				continue;
			const char *uuid = json_string_value(json_object_get(json_object_get(m, "vm"), "uuid"));
			if (uuid && strcmp(uuid, req->vm_uuid) == 0) {
				found = m;
				*prev_id = xstrdup(ids[i]);
			} else {
				json_decref(m);
			}
		}
		repo_ids_free(ids, n);
	}
	if (err.len)
		log_debug("looking for the previous backup of %s: %s", req->vm_name, err.s);
	buf_release(&err);
	return found;
}

static const json_t *prev_disk_find(const json_t *prev, const struct backup_disk_req *dr)
{
	size_t i;
	json_t *pd;
	json_array_foreach(json_object_get(prev, "disks"), i, pd) {
		const char *vol = json_string_value(json_object_get(pd, "volume"));
		const char *slot = json_string_value(json_object_get(pd, "slot"));
		if (vol && slot && strcmp(vol, dr->volume) == 0 && strcmp(slot, dr->slot) == 0)
			return pd;
	}
	return NULL;
}

/* Decide incremental or full for d; sets d->prev_chunks/base_bitmap or st->full_reason. */
static int chain_check(struct repo *repo, const struct backup_req *req, const json_t *prev, const char *prev_id,
		       struct disk_run *d, struct buf *err)
{
	const struct backup_disk_req *dr = d->req;
	const char *why = NULL;
	const json_t *pd = prev ? prev_disk_find(prev, dr) : NULL;
	const json_t *chunks = json_object_get(pd, "chunks");
	const char *bitmap = json_string_value(json_object_get(pd, "bitmap"));
	const char *ppath = json_string_value(json_object_get(pd, "path"));
	if (strcmp(dr->format, "qcow2") != 0)
		why = "raw images carry no dirty bitmap";
	else if (!prev)
		why = "no earlier backup of this VM is in the repository";
	else if (!pd)
		why = "the disk is not in the previous backup";
	else if (!ppath || strcmp(ppath, dr->path) != 0 ||
		 json_integer_value(json_object_get(pd, "size")) != (json_int_t)dr->size ||
		 json_integer_value(json_object_get(pd, "chunk_size")) != (json_int_t)repo_chunk_size(repo) ||
		 json_array_size(chunks) != d->n_chunks)
		why = "the disk's image, size or chunk size changed since the previous backup";
	else if (!bitmap)
		why = "the previous backup left no dirty bitmap on this disk";
	if (!why) {
		int r = req->qmp ? fleece_bitmap_usable(req->qmp, dr->node, bitmap, &why, err)
				 : img_bitmap_usable(dr->path, bitmap, &why, err);
		if (r < 0)
			return r;
	}
	if (why) {
		d->st->full_reason = xstrdup(why);
		return 0;
	}
	d->st->incremental = true;
	d->prev_chunks = chunks;
	d->prev_id = prev_id;
	d->base_bitmap = xstrdup(bitmap);
	return 0;
}

/* ---- stopped VMs: qemu-img bitmaps ---- */

static int img_bitmap(const char *path, const char *op, const char *name, struct buf *err)
{
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	c.helper = true;
	cmd_add(&c, "bitmap");
	cmd_add(&c, op);
	cmd_add(&c, "-f");
	cmd_add(&c, "qcow2");
	cmd_add(&c, "--");
	cmd_add(&c, path);
	cmd_add(&c, name);
	struct buf e = BUF_INIT;
	int r = cmd_run(&c, NULL, &e);
	cmd_release(&c);
	if (r != 0) {
		buf_printf(err, "qemu-img bitmap %s %s on %s failed: ", op, name, path);
		nbdsrc_err_add_output(err, &e);
	}
	buf_release(&e);
	return r == 0 ? 0 : (r < 0 ? r : -EIO);
}

/* The persistent bitmaps of a qcow2 image (qemu-img info), or NULL with err. */
static json_t *img_bitmaps(const char *path, struct buf *err)
{
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	c.helper = true;
	cmd_add(&c, "info");
	cmd_add(&c, "--output=json");
	cmd_add(&c, "-f");
	cmd_add(&c, "qcow2");
	cmd_add(&c, "--");
	cmd_add(&c, path);
	struct buf out = BUF_INIT, e = BUF_INIT;
	int r = cmd_run(&c, &out, &e);
	cmd_release(&c);
	buf_release(&e);
	json_t *info = r == 0 ? json_loads(out.s, 0, NULL) : NULL;
	buf_release(&out);
	if (!info) {
		buf_printf(err, "Listing the dirty bitmaps of %s failed.", path);
		return NULL;
	}
	json_t *bms = json_object_get(json_object_get(json_object_get(info, "format-specific"), "data"), "bitmaps");
	bms = json_is_array(bms) ? json_incref(bms) : json_array();
	json_decref(info);
	return bms;
}

/* Can a stopped image's bitmap `name` be trusted (present, recording, not left
 * "in-use" by a QEMU that did not close the image)?  *why says why not. */
static int img_bitmap_usable(const char *path, const char *name, const char **why, struct buf *err)
{
	__do_json json_t *bms = img_bitmaps(path, err);
	size_t i;
	json_t *b, *f;

	if (!bms)
		return -EIO;
	*why = "the previous backup's dirty bitmap is missing from the image";
	json_array_foreach(bms, i, b) {
		if (strcmp(json_string_value(json_object_get(b, "name")) ?: "", name) != 0)
			continue;
		bool enabled = false, in_use = false;
		size_t k;
		json_array_foreach(json_object_get(b, "flags"), k, f) {
			enabled |= strcmp(json_string_value(f) ?: "", "auto") == 0;
			in_use |= strcmp(json_string_value(f) ?: "", "in-use") == 0;
		}
		*why = in_use ? "the dirty bitmap is inconsistent (the image was not closed cleanly)"
		       : !enabled ? "the dirty bitmap stopped recording"
				  : NULL;
	}
	return 0;
}

/* Every corral-* bitmap of a qcow2 image except keep (NULL: none) goes. */
static int img_bitmaps_prune(const char *path, const char *keep, struct buf *err)
{
	__do_json json_t *bms = img_bitmaps(path, err);
	int r;
	if (!bms)
		return -EIO;
	size_t i;
	json_t *b;
	json_array_foreach(bms, i, b) {
		const char *n = json_string_value(json_object_get(b, "name"));
		if (n && strncmp(n, FLEECE_BITMAP_PREFIX, strlen(FLEECE_BITMAP_PREFIX)) == 0 && (!keep || strcmp(n, keep) != 0)) {
			r = img_bitmap(path, "--remove", n, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int stopped_read(struct repo *repo, const struct backup_req *req, struct disk_run *runs, uint64_t total,
			backup_progress_cb cb, void *arg, struct buf *err)
{
	uint64_t base = 0;
	for (size_t i = 0; i < req->n_disks; i++) {
		struct disk_run *d = &runs[i];
		__do_free char *sock = xasprintf("%s/corral-nbd-%zu.sock", req->run_dir, i);
		struct proc server = PROC_INIT;
		int r = check_cancel(req);
		if (r == 0)
			r = nbdsrc_server_start(d->req->path, d->req->format, sock, true, WORKERS, d->base_bitmap, &server,
						err);
		if (r < 0)
			return r;
		r = disk_read(repo, req, d, sock, "", base, total, cb, arg, err);
		struct buf e = BUF_INIT;
		int rs = nbdsrc_server_stop(&server, sock, &e);
		if (r == 0 && rs < 0) {
			buf_add(err, e.s, e.len);
			r = rs;
		}
		buf_release(&e);
		if (r < 0)
			return r;
		base += d->req->size;
	}
	return 0;
}

/* After a good read of a stopped VM: the next backup's bitmap on each qcow2
 * (the image is not in use, so it is exactly the state just read).  A disk
 * where that fails is recorded without a bitmap (its next run is full). */
static void stopped_bitmaps(struct disk_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct disk_run *d = &runs[i];
		if (!d->new_bitmap)
			continue;
		struct buf e = BUF_INIT;
		if (img_bitmap(d->req->path, "--add", d->new_bitmap, &e) < 0 ||
		    img_bitmaps_prune(d->req->path, d->new_bitmap, &e) < 0) {
			log_warn("backup of volume %s: %s", d->req->volume, e.s);
			struct buf ignored = BUF_INIT;
			img_bitmap(d->req->path, "--remove", d->new_bitmap, &ignored);
			buf_release(&ignored);
			free(d->new_bitmap);
			d->new_bitmap = NULL;
		}
		buf_release(&e);
	}
}

static void stopped_bitmaps_undo(struct disk_run *runs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!runs[i].new_bitmap)
			continue;
		struct buf ignored = BUF_INIT;
		img_bitmap(runs[i].req->path, "--remove", runs[i].new_bitmap, &ignored);
		buf_release(&ignored);
	}
}

/* ---- NVRAM ---- */

/* The vars file into chunks: *out = {"size", "chunks": [id or null]}. */
static int nvram_store(struct repo *r, const char *path, json_t **out, struct buf *err)
{
	__do_buf struct buf data = BUF_INIT;
	uint32_t chunk = repo_chunk_size(r);
	/* the qemu user's file, in its directory: no symlink or hard link followed */
	int rc = fs_read_file_regular(path, BACKUP_NVRAM_MAX, &data);

	if (rc < 0) {
		buf_printf(err, "cannot read the NVRAM vars %s: %s", path, strerror(-rc));
		return rc;
	}
	json_t *chunks = json_array();
	for (size_t off = 0; off < data.len; off += chunk) {
		size_t len = data.len - off < chunk ? data.len - off : chunk;
		uint8_t dg[REPO_DIGEST_LEN];
		char h[2 * REPO_DIGEST_LEN + 1];
		bool is_new;
		uint64_t stored;
		if (all_zero((const unsigned char *)data.s + off, len)) {
			json_array_append_new(chunks, json_null());
			continue;
		}
		if ((rc = repo_chunk_put(r, data.s + off, len, dg, &is_new, &stored, err)) < 0) {
			json_decref(chunks);
			return rc;
		}
		repo_digest_hex(dg, h);
		json_array_append_new(chunks, json_string(h));
	}
	*out = json_pack("{s:I,s:I,s:o}", "size", (json_int_t)data.len, "chunk_size", (json_int_t)chunk, "chunks",
			 chunks);
	return 0;
}

/* ---- manifest ---- */

static json_t *manifest_build(const struct backup_req *req, const char *id, struct disk_run *runs, uint32_t chunk,
			      int64_t duration_ms, json_t *nvram)
{
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char when[64];
	time_fmt_rfc3339(req->now * 1000, when, sizeof(when));
	json_t *disks = json_array();
	for (size_t i = 0; i < req->n_disks; i++) {
		struct disk_run *d = &runs[i];
		json_t *chunks = json_array();
		for (uint64_t c = 0; c < d->n_chunks; c++)
			json_array_append_new(chunks, d->hex[c] ? json_string(d->hex[c]) : json_null());
		json_array_append_new(
			disks,
			json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:b,s:o,s:o,s:I,s:I,s:o}", "volume", d->req->volume, "slot",
				  d->req->slot, "path", d->req->path, "format", d->req->format, "size",
				  (json_int_t)d->req->size, "chunk_size", (json_int_t)chunk, "bitmap",
				  d->new_bitmap ? json_string(d->new_bitmap) : json_null(), "incremental",
				  d->st->incremental, "full_reason",
				  d->st->full_reason ? json_string(d->st->full_reason) : json_null(), "previous",
				  d->prev_id ? json_string(d->prev_id) : json_null(), "bytes_read",
				  (json_int_t)d->st->bytes_read, "bytes_new", (json_int_t)d->st->bytes_new, "chunks",
				  chunks));
	}
	json_t *m = json_pack("{s:i,s:s,s:{s:s,s:s},s:O,s:I,s:s,s:I,s:s,s:o,s:o}", "version", BACKUP_MANIFEST_VERSION,
			      "id", id, "vm", "name", req->vm_name, "uuid", req->vm_uuid, "definition",
			      req->definition ? req->definition : json_null(), "created", (json_int_t)req->now,
			      "created_rfc3339", when, "duration_ms", (json_int_t)duration_ms, "host", host, "policy",
			      req->policy ? json_string(req->policy) : json_null(), "disks", disks);
	if (nvram)
		json_object_set(m, "nvram", nvram);
	return m;
}

/* ---- the run ---- */

static int req_check(const struct backup_req *req, struct buf *err)
{
	if (!req->vm_name || !req->vm_uuid || !req->run_dir || (req->n_disks && !req->disks)) {
		buf_printf(err, "The backup request is incomplete (VM name, uuid and run directory are required).");
		return -EINVAL;
	}
	for (size_t i = 0; i < req->n_disks; i++) {
		const struct backup_disk_req *d = &req->disks[i];
		if (!d->volume || !d->path || !d->slot || !d->format ||
		    (strcmp(d->format, "qcow2") != 0 && strcmp(d->format, "raw") != 0) || (req->qmp && !d->node)) {
			buf_printf(err, "Disk %zu of VM %s cannot be backed up: it needs a volume, slot, image path, "
					"format (qcow2 or raw) and, while the VM runs, its block node.",
				   i, req->vm_name);
			return -EINVAL;
		}
	}
	return 0;
}

static void runs_free(struct disk_run *runs, size_t n)
{
	for (size_t i = 0; runs && i < n; i++) {
		for (uint64_t c = 0; runs[i].hex && c < runs[i].n_chunks; c++)
			free(runs[i].hex[c]);
		free(runs[i].hex);
		free(runs[i].base_bitmap);
		free(runs[i].new_bitmap);
	}
	free(runs);
}

static int run_read(struct repo *repo, const struct backup_req *req, struct disk_run *runs, uint64_t total,
		    backup_progress_cb cb, void *arg, struct fleece **fl, struct buf *err)
{
	if (!req->qmp)
		return stopped_read(repo, req, runs, total, cb, arg, err);
	struct fleece_disk_spec *spec = xcalloc(req->n_disks ? req->n_disks : 1, sizeof(*spec));
	for (size_t i = 0; i < req->n_disks; i++)
		spec[i] = (struct fleece_disk_spec){ req->disks[i].node, req->disks[i].size, runs[i].base_bitmap,
						     runs[i].new_bitmap };
	if (req->point_hook)
		req->point_hook(req->point_arg, true);
	int r = fleece_take(req->qmp, req->run_dir, spec, req->n_disks, fl, err);
	if (req->point_hook)
		req->point_hook(req->point_arg, false);
	free(spec);
	uint64_t base = 0;
	for (size_t i = 0; r == 0 && i < req->n_disks; i++) {
		if ((r = check_cancel(req)) == 0)
			r = disk_read(repo, req, &runs[i], fleece_socket(*fl), fleece_export(*fl, i), base, total, cb,
				      arg, err);
		base += req->disks[i].size;
	}
	return r;
}

int backup_vm(struct repo *r, const struct backup_req *req, backup_progress_cb cb, void *arg,
	      struct backup_result *res, struct buf *err)
{
	int64_t t0 = time_mono_ms();
	memset(res, 0, sizeof(*res));
	int rc = req_check(req, err);
	if (rc < 0)
		return rc;
	__do_free char *id = NULL;
	rc = repo_manifest_new_id(r, req->vm_name, req->now, &id, err);
	if (rc < 0)
		return rc;
	const char *stamp = strchr(id, '/') ? strchr(id, '/') + 1 : id;
	uint32_t chunk = repo_chunk_size(r);
	char *prev_id = NULL;
	json_t *prev = prev_manifest_find(r, req, &prev_id);
	struct disk_run *runs = xcalloc(req->n_disks ? req->n_disks : 1, sizeof(*runs));
	res->disks = xcalloc(req->n_disks ? req->n_disks : 1, sizeof(*res->disks));
	res->n_disks = req->n_disks;
	uint64_t total = 0;
	for (size_t i = 0; i < req->n_disks && rc == 0; i++) {
		struct disk_run *d = &runs[i];
		d->req = &req->disks[i];
		d->st = &res->disks[i];
		d->st->volume = xstrdup(d->req->volume);
		d->st->size = d->req->size;
		d->n_chunks = (d->req->size + chunk - 1) / chunk;
		d->hex = xcalloc(d->n_chunks ? d->n_chunks : 1, sizeof(char *));
		total += d->req->size;
		rc = chain_check(r, req, prev, prev_id, d, err);
		bool bitmaps = strcmp(d->req->format, "qcow2") == 0;
		if (rc == 0 && bitmaps && req->qmp)
			rc = fleece_node_bitmaps_supported(req->qmp, d->req->node, &bitmaps, err);
		if (rc == 0 && bitmaps)
			d->new_bitmap = xasprintf(FLEECE_BITMAP_PREFIX "%s", stamp);
	}
	if (cb && rc == 0)
		cb(0, total, "snapshot", arg);
	/* A crashed earlier run may have left its fleecing point behind. */
	if (rc == 0 && req->qmp)
		rc = backup_cleanup_vm(req->qmp, req->run_dir, err);
	struct fleece *fl = NULL;
	if (rc == 0 && (rc = check_cancel(req)) == 0)
		rc = run_read(r, req, runs, total, cb, arg, &fl, err);
	__do_json json_t *nvram = NULL;
	if (rc == 0 && req->nvram_path)
		rc = nvram_store(r, req->nvram_path, &nvram, err);
	if (cb && rc == 0)
		cb(total, total, "finish", arg);
	if (rc == 0)
		rc = repo_flush(r, err);
	/* The last moment a cancel still means "no backup": nothing of the VM has changed yet. */
	if (rc == 0)
		rc = check_cancel(req);
	if (rc == 0 && !req->qmp)
		stopped_bitmaps(runs, req->n_disks);
	if (rc == 0) {
		json_t *m = manifest_build(req, id, runs, chunk, time_mono_ms() - t0, nvram);
		rc = repo_manifest_write(r, id, m, err);
		json_decref(m);
	}
	if (rc < 0 && !req->qmp)
		stopped_bitmaps_undo(runs, req->n_disks);
	if (fl) {
		struct buf e = BUF_INIT;
		int re = fleece_end(fl, rc == 0, &e);
		if (re < 0)
			log_warn("backup %s: removing its point-in-time view failed: %s", id, e.s);
		buf_release(&e);
	}
	for (size_t i = 0; i < req->n_disks; i++) {
		res->bytes_read += res->disks[i].bytes_read;
		res->bytes_new += res->disks[i].bytes_new;
		res->size += res->disks[i].size;
		res->disks[i].chunks = runs[i].n_chunks;
	}
	runs_free(runs, req->n_disks);
	json_decref(prev);
	free(prev_id);
	if (rc == -ECANCELED)
		buf_printf(err, "The backup of VM %s was cancelled; no backup was made.", req->vm_name);
	if (rc < 0) {
		backup_result_release(res);
		return rc;
	}
	res->id = move_ptr(id);
	res->duration_ms = time_mono_ms() - t0;
	return 0;
}

void backup_result_release(struct backup_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_disks; i++) {
		free(res->disks[i].volume);
		free(res->disks[i].full_reason);
	}
	free(res->disks);
	free(res->id);
	memset(res, 0, sizeof(*res));
}

json_t *backup_result_json(const struct backup_result *res)
{
	json_t *disks = json_array();
	for (size_t i = 0; i < res->n_disks; i++) {
		const struct backup_disk_stats *d = &res->disks[i];
		json_array_append_new(disks, json_pack("{s:s,s:b,s:o,s:I,s:I,s:I,s:I,s:I}", "volume", d->volume,
						       "incremental", d->incremental, "full_reason",
						       d->full_reason ? json_string(d->full_reason) : json_null(), "size",
						       (json_int_t)d->size, "bytes_read", (json_int_t)d->bytes_read,
						       "bytes_new", (json_int_t)d->bytes_new, "chunks",
						       (json_int_t)d->chunks, "chunks_new", (json_int_t)d->chunks_new));
	}
	return json_pack("{s:s?,s:I,s:I,s:I,s:I,s:o}", "id", res->id, "duration_ms", (json_int_t)res->duration_ms, "size",
			 (json_int_t)res->size, "bytes_read", (json_int_t)res->bytes_read, "bytes_new",
			 (json_int_t)res->bytes_new, "disks", disks);
}

int backup_bitmaps_drop(struct qmp *qmp, const char *node, const char *path, struct buf *err)
{
	return qmp ? fleece_bitmaps_drop(qmp, node, err) : img_bitmaps_prune(path, NULL, err);
}
