/*
 * nbdsrc.c - libnbd connections and qemu-nbd daemons for the backup engine
 * and restore (see nbdsrc.h).
 *
 * Block status is walked once per disk before reading: QEMU answers per
 * context with extents of its own choosing, so each round advances to the
 * smallest end both contexts covered.  qemu-nbd runs as our direct child
 * (no --fork: its intermediate would be one more process to reap), ready
 * once it wrote its pid file (it does so after the socket listens), without
 * --persistent, so it exits by itself when the engine's connections close;
 * stop waits for that, with SIGTERM and then SIGKILL as fallbacks.  Its
 * output goes to <socket>.log, read when it fails to start.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libnbd.h>

#include "backup/nbdsrc.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MAP_STEP (1ull << 30)
#define SERVER_START_MS 30000
#define SERVER_STOP_MS 1000

static int nbd_fail(struct buf *err, const char *what)
{
	int e = nbd_get_errno();
	const char *msg = nbd_get_error();
	buf_printf(err, "%s failed: %s.", what, msg ? msg : "unknown NBD error");
	return e > 0 ? -e : -EIO;
}

int nbdsrc_connect(const char *socket, const char *name, const char *bitmap, struct nbd_handle **out,
		   struct buf *err)
{
	struct nbd_handle *h = nbd_create();
	if (!h)
		return nbd_fail(err, "Creating an NBD handle");
	__do_free char *ctx = bitmap ? xasprintf("qemu:dirty-bitmap:%s", bitmap) : NULL;
	if (nbd_set_export_name(h, name) < 0 || nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0 ||
	    (ctx && nbd_add_meta_context(h, ctx) < 0)) {
		int r = nbd_fail(err, "Setting up the NBD connection");
		nbd_close(h);
		return r;
	}
	if (nbd_connect_unix(h, socket) < 0) {
		struct buf what = BUF_INIT;
		buf_printf(&what, "Connecting to NBD export '%s' on %s", name, socket);
		int r = nbd_fail(err, what.s);
		buf_release(&what);
		nbd_close(h);
		return r;
	}
	if (ctx && nbd_can_meta_context(h, ctx) != 1) {
		buf_printf(err, "NBD export '%s' on %s does not offer dirty bitmap '%s'.", name, socket, bitmap);
		nbd_close(h);
		return -ENOENT;
	}
	*out = h;
	return 0;
}

void nbdsrc_close(struct nbd_handle *h)
{
	if (!h)
		return;
	nbd_shutdown(h, 0);
	nbd_close(h);
}

struct map_walk {
	uint64_t size, ends[2];
	uint32_t chunk;
	uint8_t *map;
	const char *dirty_ctx;
};

static void map_mark(struct map_walk *w, uint64_t start, uint64_t end, bool dirty)
{
	if (end > w->size)
		end = w->size;
	if (start >= end)
		return;
	for (uint64_t c = start / w->chunk; c <= (end - 1) / w->chunk; c++) {
		if (dirty)
			w->map[c] |= NBDSRC_CHUNK_DIRTY;
		else
			w->map[c] &= (uint8_t)~NBDSRC_CHUNK_ZERO;
	}
}

static int map_extent(void *opaque, const char *ctx, uint64_t off, uint32_t *entries, size_t n, int *error)
{
	struct map_walk *w = opaque;
	bool alloc = strcmp(ctx, LIBNBD_CONTEXT_BASE_ALLOCATION) == 0;
	if (!alloc && !(w->dirty_ctx && strcmp(ctx, w->dirty_ctx) == 0))
		return 0;
	(void)error;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint64_t len = entries[i];
		uint32_t flags = entries[i + 1];
		if (alloc && !(flags & LIBNBD_STATE_ZERO))
			map_mark(w, off, off + len, false);
		else if (!alloc && (flags & 1u))
			map_mark(w, off, off + len, true);
		off += len;
	}
	w->ends[alloc ? 0 : 1] = off;
	return 0;
}

int nbdsrc_chunk_map(struct nbd_handle *h, uint64_t size, uint32_t chunk, const char *bitmap, uint8_t *map,
		     struct buf *err)
{
	__do_free char *ctx = bitmap ? xasprintf("qemu:dirty-bitmap:%s", bitmap) : NULL;
	struct map_walk w = { .size = size, .chunk = chunk, .map = map, .dirty_ctx = ctx };
	memset(map, NBDSRC_CHUNK_ZERO, (size + chunk - 1) / chunk);
	uint64_t off = 0;
	while (off < size) {
		uint64_t count = size - off < MAP_STEP ? size - off : MAP_STEP;
		w.ends[0] = w.ends[1] = off;
		nbd_extent_callback cb = { .callback = map_extent, .user_data = &w };
		if (nbd_block_status(h, count, off, cb, 0) < 0)
			return nbd_fail(err, "Querying block status of the backup source");
		uint64_t next = w.ends[0];
		if (ctx && w.ends[1] < next)
			next = w.ends[1];
		if (next <= off) {
			buf_printf(err, "The NBD server answered block status at offset %llu without progress.",
				   (unsigned long long)off);
			return -EPROTO;
		}
		off = next;
	}
	return 0;
}

int nbdsrc_pread(struct nbd_handle *h, void *buf, size_t len, uint64_t off, struct buf *err)
{
	if (nbd_pread(h, buf, len, off, 0) < 0) {
		struct buf what = BUF_INIT;
		buf_printf(&what, "Reading %zu bytes at offset %llu over NBD", len, (unsigned long long)off);
		int r = nbd_fail(err, what.s);
		buf_release(&what);
		return r;
	}
	return 0;
}

int nbdsrc_pwrite(struct nbd_handle *h, const void *buf, size_t len, uint64_t off, struct buf *err)
{
	if (nbd_pwrite(h, buf, len, off, 0) < 0) {
		struct buf what = BUF_INIT;
		buf_printf(&what, "Writing %zu bytes at offset %llu over NBD", len, (unsigned long long)off);
		int r = nbd_fail(err, what.s);
		buf_release(&what);
		return r;
	}
	return 0;
}

int nbdsrc_flush(struct nbd_handle *h, struct buf *err)
{
	if (nbd_flush(h, 0) < 0)
		return nbd_fail(err, "Flushing the NBD export");
	return 0;
}

void nbdsrc_err_add_output(struct buf *err, const struct buf *out)
{
	size_t len = out->len;
	while (len && (out->s[len - 1] == '\n' || out->s[len - 1] == '\r' || out->s[len - 1] == ' '))
		len--;
	buf_add_printable(err, out->s, len);
	if (!len || out->s[len - 1] != '.')
		buf_addch(err, '.');
}

int nbdsrc_server_start(const char *image, const char *format, const char *socket, bool readonly, int clients,
			const char *bitmap, struct proc *server, struct buf *err)
{
	__do_free char *pidfile = xasprintf("%s.pid", socket);
	__do_free char *log = xasprintf("%s.log", socket);
	struct buf out = BUF_INIT, why = BUF_INIT;
	struct cmd c = CMD_INIT;
	int r;

	unlink(pidfile);
	unlink(socket);
	unlink(log);
	cmd_add(&c, "qemu-nbd");
	c.helper = true;
	if (readonly)
		cmd_add(&c, "--read-only");
	cmd_addf(&c, "--format=%s", format);
	cmd_addf(&c, "--socket=%s", socket);
	cmd_addf(&c, "--pid-file=%s", pidfile);
	cmd_addf(&c, "--shared=%d", clients);
	if (bitmap)
		cmd_addf(&c, "--bitmap=%s", bitmap);
	cmd_add(&c, "--");
	cmd_add(&c, image);
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	r = cmd_start(&c, server, &why);
	cmd_release(&c);
	if (r < 0) {
		buf_printf(err, "Starting qemu-nbd on %s failed: %s.", image, why.s);
		goto out;
	}
	/* qemu-nbd writes its pid file once the socket listens. */
	for (int64_t t0 = time_mono_ms(); !fs_exists(pidfile); time_sleep_ms(5)) {
		r = proc_wait_timeout(server, 0);
		if (r == -ETIMEDOUT && time_mono_ms() - t0 < SERVER_START_MS)
			continue;
		buf_printf(err, "Starting qemu-nbd on %s failed: ", image);
		if (r == -ETIMEDOUT) {
			buf_printf(err, "no socket after %d s.", SERVER_START_MS / 1000);
			proc_signal(server, SIGKILL);
			proc_wait(server);
		} else if (fs_read_file(log, 64 << 10, &out) == 0 && out.len) {
			nbdsrc_err_add_output(err, &out);
		} else {
			buf_printf(err, "it exited with status %d.", r);
		}
		proc_release(server);
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	unlink(pidfile);
	buf_release(&out);
	buf_release(&why);
	return r;
}

int nbdsrc_server_stop(struct proc *server, const char *socket, struct buf *err)
{
	__do_free char *log = xasprintf("%s.log", socket);
	int r = proc_wait_timeout(server, SERVER_STOP_MS);
	if (r == -ETIMEDOUT) {
		proc_signal(server, SIGTERM);
		r = proc_wait_timeout(server, SERVER_STOP_MS);
	}
	if (r == -ETIMEDOUT) {
		proc_signal(server, SIGKILL);
		r = proc_wait_timeout(server, SERVER_STOP_MS);
	}
	if (r == -ETIMEDOUT)
		buf_printf(err, "qemu-nbd (pid %d) did not exit.", (int)server->pid);
	proc_release(server);
	unlink(socket);
	unlink(log);
	return r == -ETIMEDOUT ? r : 0;
}
