/*
 * restore.c - backup_restore_disk(): one disk of a backup into a new image,
 * and the checked chunk-list loader shared with backupdev.c.
 *
 * The destination is created with qemu-img at the backed-up virtual size, so
 * it reads as zeros everywhere; only non-zero chunks are written.  Raw
 * images are written with pwrite directly; qcow2 through a writable qemu-nbd
 * (QEMU's own qcow2 driver allocates clusters), flushed before it exits.
 * Two threads fetch and write chunks (chunks_write); each looks at the cancel
 * flag before taking the next one.
 * Manifests are checked before use: a manifest is input from a repository
 * that may be damaged, so sizes and ids are validated, never trusted.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <libnbd.h>

#include "backup/backup.h"
#include "backup/nbdsrc.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/runas.h"
#include "util/common.h"

void backup_chunks_release(struct backup_chunks *c)
{
	free(c->digest);
	free(c->present);
	memset(c, 0, sizeof(*c));
}

int backup_chunks_load(struct repo *r, const char *id, size_t index, struct backup_chunks *out, struct buf *err)
{
	__do_json json_t *m = NULL;
	memset(out, 0, sizeof(*out));
	int rc = repo_manifest_read(r, id, &m, err);
	if (rc < 0)
		return rc;
	json_t *disks = json_object_get(m, "disks");
	if (index >= json_array_size(disks)) {
		buf_printf(err, "Backup %s has no disk %zu (it has %zu).", id, index, json_array_size(disks));
		return -ENOENT;
	}
	json_t *d = json_array_get(disks, index);
	json_t *chunks = json_object_get(d, "chunks");
	json_int_t size = json_integer_value(json_object_get(d, "size"));
	json_int_t chunk = json_integer_value(json_object_get(d, "chunk_size"));
	if (size <= 0 || chunk < 4096 || chunk > REPO_MAX_CHUNK_SIZE || (chunk & (chunk - 1)) ||
	    !json_is_array(chunks) || json_array_size(chunks) != (size_t)((size + chunk - 1) / chunk)) {
		buf_printf(err, "Disk %zu of backup %s has an invalid size, chunk size or chunk list.", index, id);
		return -EBADMSG;
	}
	out->size = (uint64_t)size;
	out->chunk = (uint32_t)chunk;
	out->n = json_array_size(chunks);
	out->digest = xcalloc(out->n, REPO_DIGEST_LEN);
	out->present = xcalloc(out->n, sizeof(bool));
	for (size_t i = 0; i < out->n; i++) {
		json_t *c = json_array_get(chunks, i);
		if (json_is_null(c))
			continue;
		if (!json_is_string(c) || repo_digest_parse(json_string_value(c), out->digest[i]) < 0) {
			buf_printf(err, "Disk %zu of backup %s has an invalid chunk id at piece %zu.", index, id, i);
			backup_chunks_release(out);
			return -EBADMSG;
		}
		out->present[i] = true;
	}
	return 0;
}

static int img_create(const char *dest, const char *format, uint64_t size, struct buf *err)
{
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	c.helper = true;
	cmd_add(&c, "create");
	cmd_add(&c, "-q");
	cmd_add(&c, "-f");
	cmd_add(&c, format);
	cmd_add(&c, "--");
	cmd_add(&c, dest);
	cmd_addf(&c, "%llu", (unsigned long long)size);
	struct buf e = BUF_INIT;
	int r = cmd_run(&c, NULL, &e);
	cmd_release(&c);
	if (r != 0) {
		buf_printf(err, "Creating %s failed: ", dest);
		nbdsrc_err_add_output(err, &e);
	}
	buf_release(&e);
	if (r == 0)
		r = runas_own(dest, err); /* a volume: QEMU opens it as the qemu user */
	return r == 0 ? 0 : (r < 0 ? r : -EIO);
}

struct sink {
	int fd;			/* raw */
	struct nbd_handle *h;	/* qcow2 through qemu-nbd */
	const char *dest;
};

static int sink_write(struct sink *s, const void *data, size_t len, uint64_t off, struct buf *err)
{
	if (s->h)
		return nbdsrc_pwrite(s->h, data, len, off, err);
	for (size_t done = 0; done < len;) {
		ssize_t n = pwrite(s->fd, (const char *)data + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			buf_printf(err, "Writing to %s failed: %s.", s->dest, strerror(e));
			return -e;
		}
		done += (size_t)n;
	}
	return 0;
}

/* Two writers share the chunks: fetching one (read, decrypt, decompress, check
 * its id) overlaps writing another.  The sink is safe to share (pwrite, or a
 * libnbd handle, which serialises its own commands). */
#define WRITERS 2

struct writers {
	struct repo *r;
	const char *id;
	const struct backup_chunks *bc;
	struct sink *s;
	backup_progress_cb cb;
	void *arg;
	const atomic_bool *cancel;
	pthread_mutex_t lock;
	size_t next;		/* next chunk to take */
	uint64_t done;		/* bytes written or skipped */
	int rc;			/* first error */
	struct buf err;
};

struct writer {
	struct writers *w;
	bool reports;		/* the caller's thread: calls cb */
};

static void *writer_run(void *opaque)
{
	struct writer *me = opaque;
	struct writers *w = me->w;
	const struct backup_chunks *bc = w->bc;
	struct buf data = BUF_INIT, err = BUF_INIT;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		size_t i = w->next++;
		if (w->rc == 0 && i < bc->n && repo_cancel_requested(w->cancel))
			w->rc = -ECANCELED;
		bool stop = w->rc != 0 || i >= bc->n;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
		uint64_t off = (uint64_t)i * bc->chunk;
		size_t len = (size_t)(bc->size - off < bc->chunk ? bc->size - off : bc->chunk);
		int rc = 0;
		if (bc->present[i]) {
			buf_reset(&data);
			rc = repo_chunk_get(w->r, bc->digest[i], &data, &err);
			if (rc == 0 && data.len != len) {
				buf_printf(&err, "Chunk %zu of backup %s has %zu bytes, expected %zu.", i, w->id, data.len,
					   len);
				rc = -EBADMSG;
			}
			if (rc == 0)
				rc = sink_write(w->s, data.s, len, off, &err);
		}
		pthread_mutex_lock(&w->lock);
		if (rc < 0 && w->rc == 0) {
			w->rc = rc;
			buf_add(&w->err, err.s, err.len);
		}
		w->done += len;
		uint64_t done = w->done;
		pthread_mutex_unlock(&w->lock);
		buf_reset(&err);
		if (me->reports && w->cb && rc == 0)
			w->cb(done, bc->size, "write", w->arg);
	}
	buf_release(&data);
	buf_release(&err);
	return NULL;
}

/* What a restore writes into and reports to. */
struct restore_ctl {
	const atomic_bool *cancel;
	backup_progress_cb cb;
	void *arg;
};

static int chunks_write(struct repo *r, const char *id, const struct backup_chunks *bc, struct sink *s,
			const struct restore_ctl *ctl, struct buf *err)
{
	struct writers w = { .r = r, .id = id, .bc = bc, .s = s, .cb = ctl->cb, .arg = ctl->arg,
			     .cancel = ctl->cancel, .err = BUF_INIT };
	struct writer me[WRITERS];
	pthread_t th[WRITERS];
	bool started[WRITERS] = { false };

	pthread_mutex_init(&w.lock, NULL);
	for (int i = 1; i < WRITERS; i++) {
		me[i] = (struct writer){ &w, false };
		started[i] = pthread_create(&th[i], NULL, writer_run, &me[i]) == 0;
	}
	me[0] = (struct writer){ &w, true };
	writer_run(&me[0]);
	for (int i = 1; i < WRITERS; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.rc < 0)
		buf_add(err, w.err.s, w.err.len);
	buf_release(&w.err);
	return w.rc;
}

static int restore_qcow2(struct repo *r, const char *id, const struct backup_chunks *bc, const char *dest,
			 const struct restore_ctl *ctl, struct buf *err)
{
	const char *tmp = getenv("TMPDIR");
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/corral-restore-XXXXXX", tmp && *tmp && strlen(tmp) < 80 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		int e = errno;
		buf_printf(err, "Creating a scratch directory for restoring %s failed: %s.", dest, strerror(e));
		return -e;
	}
	__do_free char *sock = xasprintf("%s/nbd.sock", dir);
	struct proc server = PROC_INIT;
	int rc = nbdsrc_server_start(dest, "qcow2", sock, false, 1, NULL, &server, err);
	if (rc == 0) {
		struct sink s = { .fd = -1, .dest = dest };
		rc = nbdsrc_connect(sock, "", NULL, &s.h, err);
		if (rc == 0)
			rc = chunks_write(r, id, bc, &s, ctl, err);
		if (rc == 0)
			rc = nbdsrc_flush(s.h, err);
		nbdsrc_close(s.h);
		struct buf e = BUF_INIT;
		int rs = nbdsrc_server_stop(&server, sock, &e);
		if (rc == 0 && rs < 0) {
			buf_add(err, e.s, e.len);
			rc = rs;
		}
		buf_release(&e);
	}
	rmdir(dir);
	return rc;
}

static int restore_raw(struct repo *r, const char *id, const struct backup_chunks *bc, const char *dest,
		       const struct restore_ctl *ctl, struct buf *err)
{
	__do_close int fd = open(dest, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		buf_printf(err, "Opening %s failed: %s.", dest, strerror(e));
		return -e;
	}
	struct sink s = { .fd = fd, .dest = dest };
	int rc = chunks_write(r, id, bc, &s, ctl, err);
	if (rc == 0 && fsync(fd) < 0) {
		rc = -errno;
		buf_printf(err, "Flushing %s failed: %s.", dest, strerror(-rc));
	}
	return rc;
}

int backup_nvram_read(struct repo *r, const char *id, struct buf *out, struct buf *err)
{
	json_t *m = NULL;
	int rc = repo_manifest_read(r, id, &m, err);
	if (rc < 0)
		return rc;
	const json_t *nv = json_object_get(m, "nvram"), *chunks = json_object_get(nv, "chunks"), *c;
	json_int_t size = json_integer_value(json_object_get(nv, "size"));
	json_int_t chunk = json_integer_value(json_object_get(nv, "chunk_size"));
	size_t i;

	if (!nv) {
		buf_printf(err, "Backup %s keeps no NVRAM vars.", id);
		rc = -ENOENT;
	} else if (size <= 0 || size > BACKUP_NVRAM_MAX || chunk < 4096 || chunk > REPO_MAX_CHUNK_SIZE ||
		   !json_is_array(chunks) || json_array_size(chunks) != (size_t)((size + chunk - 1) / chunk)) {
		buf_printf(err, "The NVRAM vars of backup %s have an invalid size, chunk size or chunk list.", id);
		rc = -EBADMSG;
	}
	json_array_foreach(chunks, i, c) {
		if (rc < 0)
			break;
		size_t len = (size_t)(size - (json_int_t)i * chunk < chunk ? size - (json_int_t)i * chunk : chunk);
		uint8_t dg[REPO_DIGEST_LEN];
		struct buf piece = BUF_INIT;
		if (json_is_null(c)) {
			size_t at = out->len;
			buf_grow(out, len);
			memset(out->s + at, 0, len);
			out->len = at + len;
			out->s[out->len] = '\0';
			continue;
		}
		if (!json_is_string(c) || repo_digest_parse(json_string_value(c), dg) < 0) {
			buf_printf(err, "The NVRAM vars of backup %s have an invalid chunk id.", id);
			rc = -EBADMSG;
		} else if ((rc = repo_chunk_get(r, dg, &piece, err)) == 0 && piece.len != len) {
			buf_printf(err, "A chunk of the NVRAM vars of backup %s has %zu bytes, not %zu.", id, piece.len, len);
			rc = -EBADMSG;
		}
		if (rc == 0)
			buf_add(out, piece.s, piece.len);
		buf_release(&piece);
	}
	json_decref(m);
	return rc;
}

int backup_restore_disk(struct repo *r, const char *id, size_t index, const char *dest, const char *format,
			const atomic_bool *cancel, backup_progress_cb cb, void *arg, struct buf *err)
{
	const struct restore_ctl ctl = { cancel, cb, arg };
	if (!format || (strcmp(format, "qcow2") != 0 && strcmp(format, "raw") != 0)) {
		buf_printf(err, "Cannot restore into %s: the format must be qcow2 or raw.", dest);
		return -EINVAL;
	}
	if (fs_exists(dest)) {
		buf_printf(err, "Cannot restore into %s: it already exists.", dest);
		return -EEXIST;
	}
	struct backup_chunks bc;
	int rc = backup_chunks_load(r, id, index, &bc, err);
	if (rc < 0)
		return rc;
	rc = img_create(dest, format, bc.size, err);
	if (rc == 0)
		rc = strcmp(format, "raw") == 0 ? restore_raw(r, id, &bc, dest, &ctl, err)
						: restore_qcow2(r, id, &bc, dest, &ctl, err);
	backup_chunks_release(&bc);
	if (rc == -ECANCELED)
		buf_printf(err, "Restoring disk %zu of backup %s was cancelled; %s was removed.", index, id, dest);
	if (rc < 0)
		unlink(dest);
	return rc;
}
