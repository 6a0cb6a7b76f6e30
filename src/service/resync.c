/*
 * resync.c - the pieces of the compare pass (resync.h): chunk hashes over
 * an NBD connection (block status first, so holes and zero extents cost no
 * read), their wire form and its strict parser (the peer's answer is
 * untrusted: tests/fuzz/fuzz_resync.c), and libnbd connections to the
 * replica's TLS-PSK export and to the VM's QEMU.
 *
 * Why SHA-256: it is collision resistant (a guest chooses the bytes of its
 * disk, so a weak checksum would let it hide a difference), and with the
 * CPU's SHA extensions OpenSSL hashes ~1.8 GB/s here against ~1.0 GB/s for
 * BLAKE2b-512 (`openssl speed`, 256 KiB blocks): reading the disk, not
 * hashing, is the cost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libnbd.h>
#include <openssl/evp.h>

#include "service/resync.h"
#include "qemu/migrate.h"
#include "util/cleanup.h"
#include "util/strutil.h"
#include "util/common.h"

/* The size of one NBD request: over QEMU's TLS channel a 256 KiB read ran at
 * 43-73 MB/s here and four 64 KiB reads of it at 79-114 MB/s (64 KiB chunks
 * 141-160 MB/s; without TLS 650-800 MB/s whatever the size): chunks stay
 * 256 KiB (shorter hash lists), requests are 64 KiB. */
#define RESYNC_IO (64u * 1024u)

static int nbd_fail(struct buf *err, const char *what)
{
	int e = nbd_get_errno();
	const char *msg = nbd_get_error();
	buf_printf(err, "%s: %s", what, msg ? msg : "unknown NBD error");
	return e > 0 ? -e : -EIO;
}

void resync_hashes_release(struct resync_hashes *hs)
{
	free(hs->digest);
	free(hs->zero);
	hs->digest = NULL;
	hs->zero = NULL;
	hs->n = 0;
}

static void hashes_alloc(struct resync_hashes *hs, uint64_t size, uint32_t chunk, uint64_t offset, size_t n)
{
	hs->size = size;
	hs->chunk = chunk;
	hs->offset = offset;
	hs->n = n;
	hs->digest = xcalloc(n ? n : 1, sizeof(*hs->digest));
	hs->zero = xcalloc(n ? n : 1, sizeof(*hs->zero));
}

/* Chunks of [offset, size) in a page of at most n. */
static size_t page_len(uint64_t size, uint32_t chunk, uint64_t offset, size_t n)
{
	uint64_t left = offset < size ? (size - offset + chunk - 1) / chunk : 0;
	return left < n ? (size_t)left : n;
}

struct zwalk {
	uint64_t offset, end, last;
	uint32_t chunk;
	bool *zero;
};

static int zwalk_extent(void *opaque, const char *ctx, uint64_t off, uint32_t *entries, size_t n, int *error)
{
	struct zwalk *w = opaque;
	(void)error;
	if (strcmp(ctx, LIBNBD_CONTEXT_BASE_ALLOCATION))
		return 0;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint64_t s = off > w->offset ? off : w->offset, e = off + entries[i];
		if (e > w->end)
			e = w->end;
		if (!(entries[i + 1] & LIBNBD_STATE_ZERO) && s < e)
			for (uint64_t c = (s - w->offset) / w->chunk; c <= (e - 1 - w->offset) / w->chunk; c++)
				w->zero[c] = false;
		off += entries[i];
	}
	if (off > w->last)
		w->last = off;
	return 0;
}

int resync_zero_map(struct nbd_handle *h, uint64_t size, uint64_t offset, uint32_t chunk, size_t n, bool *zero,
		    struct buf *err)
{
	uint64_t end = offset + (uint64_t)n * chunk;
	if (end > size)
		end = size;
	struct zwalk w = { .offset = offset, .end = end, .last = offset, .chunk = chunk, .zero = zero };
	for (size_t i = 0; i < n; i++)
		zero[i] = true;
	uint64_t off = offset;
	while (off < end) {
		uint64_t count = end - off > (1u << 30) ? (1u << 30) : end - off;
		nbd_extent_callback cb = { .callback = zwalk_extent, .user_data = &w };
		w.last = off;
		if (nbd_block_status(h, count, off, cb, 0) < 0)
			return nbd_fail(err, "cannot query the block status of the NBD export");
		if (w.last <= off) {
			buf_printf(err, "the NBD server answered block status at offset %llu without progress",
				   (unsigned long long)off);
			return -EPROTO;
		}
		off = w.last;
	}
	return 0;
}

void resync_chunk_hash(const void *buf, size_t len, uint8_t digest[RESYNC_HASH_LEN], bool *zero)
{
	const unsigned char *p = buf;
	size_t i = 0;
	/* all zeros?  word by word, then the tail */
	while (i + sizeof(uint64_t) <= len) {
		uint64_t w;
		memcpy(&w, p + i, sizeof(w));
		if (w)
			break;
		i += sizeof(w);
	}
	while (i < len && !p[i])
		i++;
	*zero = i == len;
	if (*zero)
		return;
	unsigned int dl = 0;
	EVP_Digest(buf, len, digest, &dl, EVP_sha256(), NULL);
}

int resync_hash_range(struct nbd_handle *h, uint64_t size, uint64_t offset, uint32_t chunk, size_t n,
		      struct resync_hashes *out, struct buf *err)
{
	if (chunk == 0 || offset % chunk || n == 0 || n > RESYNC_PAGE_MAX || offset >= size) {
		buf_adds(err, "a hash page is chunk-aligned, 1-1024 chunks long and inside the disk");
		return -EINVAL;
	}
	n = page_len(size, chunk, offset, n);
	hashes_alloc(out, size, chunk, offset, n);
	__do_free unsigned char *data = xmalloc(chunk);
	int r;
	if ((r = resync_zero_map(h, size, offset, chunk, n, out->zero, err)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = offset + (uint64_t)i * chunk;
		size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
		if (out->zero[i])
			continue;
		if ((r = resync_nbd_pread(h, data, len, off, err)) < 0)
			goto fail;
		resync_chunk_hash(data, len, out->digest[i], &out->zero[i]);
	}
	return 0;
fail:
	resync_hashes_release(out);
	return r;
}

json_t *resync_hashes_json(const struct resync_hashes *hs, const char *volume)
{
	json_t *list = json_array();
	for (size_t i = 0; i < hs->n; i++) {
		char s[2 * RESYNC_HASH_LEN + 1];
		if (hs->zero[i]) {
			json_array_append_new(list, json_string("z"));
			continue;
		}
		str_hex(hs->digest[i], RESYNC_HASH_LEN, s);
		json_array_append_new(list, json_string(s));
	}
	return json_pack("{s:s, s:I, s:I, s:I, s:o}", "volume", volume, "size", (json_int_t)hs->size, "chunk",
			 (json_int_t)hs->chunk, "offset", (json_int_t)hs->offset, "hashes", list);
}

static bool int_is(const json_t *j, const char *key, uint64_t want)
{
	const json_t *v = json_object_get(j, key);
	return json_is_integer(v) && json_integer_value(v) >= 0 && (uint64_t)json_integer_value(v) == want;
}

int resync_hashes_parse(const json_t *j, const char *volume, uint64_t size, uint32_t chunk, uint64_t offset, size_t n,
			struct resync_hashes *out, struct buf *err)
{
	static const char *const keys[] = { "volume", "size", "chunk", "offset", "hashes", NULL };
	const json_t *list = json_object_get(j, "hashes");
	const char *vol = json_string_value(json_object_get(j, "volume"));
	const char *k;
	json_t *v;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j) || chunk == 0 || offset % chunk || offset >= size || n == 0 || n > RESYNC_PAGE_MAX) {
		buf_adds(err, "the replica host's hash list is not an object (or was asked for badly)");
		return -EPROTO;
	}
	json_object_foreach((json_t *)j, k, v) {
		bool known = false;
		for (int i = 0; keys[i]; i++)
			known |= !strcmp(k, keys[i]);
		if (!known) {
			buf_adds(err, "the replica host's hash list has an unknown member");
			return -EPROTO;
		}
	}
	n = page_len(size, chunk, offset, n);
	if (!vol || strcmp(vol, volume) || !int_is(j, "size", size) || !int_is(j, "chunk", chunk) ||
	    !int_is(j, "offset", offset)) {
		buf_printf(err, "the replica host's hash list is not of volume %s (its size %llu, chunk %u, offset %llu)",
			   volume, (unsigned long long)size, chunk, (unsigned long long)offset);
		return -EPROTO;
	}
	if (!json_is_array(list) || json_array_size(list) != n) {
		buf_printf(err, "the replica host's hash list of %s does not hold the %zu chunks asked for", volume, n);
		return -EPROTO;
	}
	hashes_alloc(out, size, chunk, offset, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(list, i);
		const char *s = json_string_value(e);
		size_t len = s ? json_string_length(e) : 0;
		if (s && len == 1 && s[0] == 'z') {
			out->zero[i] = true;
			continue;
		}
		if (!s || len != 2 * RESYNC_HASH_LEN || str_unhex(s, out->digest[i], RESYNC_HASH_LEN) < 0) {
			buf_printf(err, "the replica host's hash list of %s has a bad entry at chunk %zu", volume, i);
			resync_hashes_release(out);
			return -EPROTO;
		}
	}
	return 0;
}

static struct nbd_handle *handle_new(const char *name, struct buf *err)
{
	struct nbd_handle *h = nbd_create();
	if (!h) {
		nbd_fail(err, "cannot create an NBD handle");
		return NULL;
	}
	if (nbd_set_export_name(h, name) < 0 || nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) < 0) {
		nbd_fail(err, "cannot set up an NBD connection");
		nbd_close(h);
		return NULL;
	}
	return h;
}

int resync_nbd_connect_tcp(const char *host, int port, const char *name, const char *key_dir, bool writable,
			   struct nbd_handle **out, struct buf *err)
{
	struct nbd_handle *h = handle_new(name, err);
	__do_free char *psk = xasprintf("%s/keys.psk", key_dir);
	char p[16];
	int r;
	if (!h)
		return -EIO;
	snprintf(p, sizeof(p), "%d", port);
	if (nbd_set_tls(h, LIBNBD_TLS_REQUIRE) < 0 || nbd_set_tls_username(h, MIG_PSK_USER) < 0 ||
	    nbd_set_tls_psk_file(h, psk) < 0) {
		r = nbd_fail(err, "cannot set up TLS for the replica's export");
		nbd_close(h);
		return r;
	}
	if (nbd_connect_tcp(h, host, p) < 0) {
		__do_free char *what = xasprintf("cannot connect to the replica's export %s on %s port %d", name, host, port);
		r = nbd_fail(err, what);
		nbd_close(h);
		return r;
	}
	if (writable && nbd_is_read_only(h) != 0) {
		buf_printf(err, "the replica's export %s is read-only", name);
		resync_nbd_close(h);
		return -EROFS;
	}
	if (nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) != 1) {
		buf_printf(err, "the export %s offers no block status", name);
		resync_nbd_close(h);
		return -ENOTSUP;
	}
	*out = h;
	return 0;
}

int resync_nbd_connect_unix(const char *socket, const char *name, struct nbd_handle **out, struct buf *err)
{
	struct nbd_handle *h = handle_new(name, err);
	int r;
	if (!h)
		return -EIO;
	if (nbd_connect_unix(h, socket) < 0) {
		__do_free char *what = xasprintf("cannot connect to the VM's export %s on %s", name, socket);
		r = nbd_fail(err, what);
		nbd_close(h);
		return r;
	}
	if (nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) != 1) {
		buf_printf(err, "the export %s offers no block status", name);
		resync_nbd_close(h);
		return -ENOTSUP;
	}
	*out = h;
	return 0;
}

void resync_nbd_close(struct nbd_handle *h)
{
	if (!h)
		return;
	nbd_shutdown(h, 0);
	nbd_close(h);
}

int resync_nbd_size(struct nbd_handle *h, uint64_t *size, struct buf *err)
{
	int64_t s = nbd_get_size(h);
	if (s < 0)
		return nbd_fail(err, "cannot read the size of the NBD export");
	*size = (uint64_t)s;
	return 0;
}

int resync_nbd_pread(struct nbd_handle *h, void *buf, size_t len, uint64_t off, struct buf *err)
{
	for (size_t done = 0; done < len; done += RESYNC_IO) {
		size_t n = len - done < RESYNC_IO ? len - done : RESYNC_IO;
		if (nbd_pread(h, (char *)buf + done, n, off + done, 0) < 0) {
			__do_free char *what = xasprintf("cannot read %zu bytes at %llu over NBD", n,
							 (unsigned long long)(off + done));
			return nbd_fail(err, what);
		}
	}
	return 0;
}

int resync_chunk_put(struct nbd_handle *dst, const void *buf, bool zero, uint64_t off, size_t len, struct buf *err)
{
	int rc;
	if (zero && nbd_can_zero(dst) != 1) {
		__do_free void *zeros = xcalloc(1, len ? len : 1);
		rc = nbd_pwrite(dst, zeros, len, off, 0);
	} else if (zero) {
		rc = nbd_zero(dst, len, off, 0);
	} else {
		rc = 0;
		for (size_t done = 0; rc == 0 && done < len; done += RESYNC_IO)
			rc = nbd_pwrite(dst, (const char *)buf + done, len - done < RESYNC_IO ? len - done : RESYNC_IO,
					off + done, 0);
	}
	if (rc < 0) {
		__do_free char *what = xasprintf("cannot write %zu bytes at %llu into the replica", len, (unsigned long long)off);
		return nbd_fail(err, what);
	}
	return 0;
}

int resync_nbd_flush(struct nbd_handle *h, struct buf *err)
{
	if (nbd_flush(h, 0) < 0)
		return nbd_fail(err, "cannot flush the replica's export");
	return 0;
}
