/*
 * remotedev.c - an img_dev whose bytes corrald serves over the helper's
 * socket: a backup's disk lives in the repository, which the helper must not
 * open, so each read becomes {"op":"read","off","len"} and corrald answers
 * {"op":"data"} with exactly len bytes (or {"op":"error"}).
 *
 * Reads larger than a frame's payload are split.  The filesystem drivers
 * above cache their metadata blocks, and corrald's backup device caches
 * decompressed chunks, so a round trip per read is affordable.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imgd/serve.h"
#include "util/log.h"
#include "util/common.h"

struct remote {
	int sock;
};

static int remote_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	struct remote *rd = priv;
	char *p = buf;

	while (len > 0) {
		size_t n = len < IMGD_MAX_DATA ? len : IMGD_MAX_DATA;
		struct imgd_msg m = IMGD_MSG_INIT;
		struct buf err = BUF_INIT;
		int r = imgd_sendf(rd->sock, 0, &err, "{s:s,s:I,s:I}", "op", "read", "off", (json_int_t)off, "len",
				   (json_int_t)n);
		if (r == 0)
			r = imgd_recv(rd->sock, 0, &m, &err);
		if (r == 0 && strcmp(m.op, "error") == 0) {
			r = imgd_msg_error(&m, &err);
		} else if (r == 0 && (strcmp(m.op, "data") != 0 || m.data.len != n || m.nfds)) {
			buf_printf(&err, "corrald answered a read of %zu bytes with '%s' and %zu bytes", n, m.op,
				   m.data.len);
			r = -EPROTO;
		}
		if (r == 0)
			memcpy(p, m.data.s, n);
		else
			log_warn("reading %zu bytes at %" PRIu64 " from corrald: %s", n, off, err.s);
		imgd_msg_release(&m);
		buf_release(&err);
		if (r < 0)
			return r == -EPROTO || r == -EPIPE ? -EIO : r;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static const struct img_dev_ops remote_ops = { .pread = remote_pread, .close = free };

int imgd_remote_dev_open(int sock, uint64_t size, const char *desc, struct img_dev **out, struct buf *err)
{
	struct remote *rd = xmalloc(sizeof(*rd));
	rd->sock = sock;
	return img_dev_new(&remote_ops, rd, size, desc, out, err);
}
