/*
 * chunkfile.c - encode and decode the stored form of chunks and encrypted
 * manifests (layout in chunkfile.h): optional zstd, then optional
 * AES-256-GCM with the header and the object's name as AAD.
 *
 * This is the hot path of a backup, so each thread keeps its own zstd
 * compression and decompression contexts and scratch buffer (pthread key,
 * freed when the thread ends) and nothing here takes a lock.  Decoding
 * treats the file as hostile: every length is checked before use and the
 * plaintext must come out exactly as long as the header says.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <zstd.h>

#include "chunkfile.h"
#include "repocrypt.h"
#include "util/common.h"

struct cf_tls {
	ZSTD_CCtx *cctx;
	ZSTD_DCtx *dctx;
	struct buf scratch;
	struct buf io;
};

static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static void tls_free(void *p)
{
	struct cf_tls *t = p;

	ZSTD_freeCCtx(t->cctx);
	ZSTD_freeDCtx(t->dctx);
	buf_release(&t->scratch);
	buf_release(&t->io);
	free(t);
}

static void tls_init(void)
{
	if (pthread_key_create(&tls_key, tls_free) != 0)
		abort();
}

static struct cf_tls *tls_get(void)
{
	struct cf_tls *t;

	pthread_once(&tls_once, tls_init);
	t = pthread_getspecific(tls_key);
	if (!t) {
		t = xcalloc(1, sizeof(*t));
		t->scratch = (struct buf)BUF_INIT;
		t->io = (struct buf)BUF_INIT;
		t->cctx = ZSTD_createCCtx();
		t->dctx = ZSTD_createDCtx();
		if (!t->cctx || !t->dctx)
			abort();
		pthread_setspecific(tls_key, t);
	}
	return t;
}

struct buf *chunkfile_thread_buf(void)
{
	return &tls_get()->io;
}

static const char *kind_magic(enum chunkfile_kind kind)
{
	return kind == CHUNKFILE_CHUNK ? "CRCH" : "CRMF";
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* AAD = header || name, in the thread's scratch buffer. */
static const uint8_t *make_aad(struct cf_tls *t, const uint8_t *hdr, const void *name, size_t namelen)
{
	buf_reset(&t->scratch);
	buf_add(&t->scratch, hdr, CHUNKFILE_HDR_LEN);
	buf_add(&t->scratch, name, namelen);
	return (const uint8_t *)t->scratch.s;
}

int chunkfile_encode(enum chunkfile_kind kind, const void *data, size_t len, int level, const uint8_t *key,
		     const void *name, size_t namelen, struct buf *out)
{
	struct cf_tls *t = tls_get();
	size_t bound = ZSTD_compressBound(len), body_off, body_len = len, need;
	uint8_t flags = 0, *hdr, *body;

	if (len > UINT32_MAX - REPOCRYPT_OVERHEAD - CHUNKFILE_HDR_LEN || bound > UINT32_MAX)
		return -EFBIG;
	body_off = CHUNKFILE_HDR_LEN + (key ? REPOCRYPT_NONCE_LEN : 0);
	need = body_off + (bound > len ? bound : len) + REPOCRYPT_TAG_LEN;
	buf_reset(out);
	buf_grow(out, need);
	hdr = (uint8_t *)out->s;
	body = hdr + body_off;
	if (level > 0 && len > 0) {
		size_t z = ZSTD_compressCCtx(t->cctx, body, bound, data, len, level);
		if (ZSTD_isError(z))
			return -EIO;
		if (z < len) {
			flags |= CHUNKFILE_F_ZSTD;
			body_len = z;
		}
	}
	if (!(flags & CHUNKFILE_F_ZSTD) && len > 0)
		memcpy(body, data, len);
	if (key)
		flags |= CHUNKFILE_F_SEALED;
	memcpy(hdr, kind_magic(kind), 4);
	hdr[4] = CHUNKFILE_VERSION;
	hdr[5] = flags;
	hdr[6] = hdr[7] = 0;
	put_le32(hdr + 8, (uint32_t)len);
	put_le32(hdr + 12, (uint32_t)(body_len + (key ? REPOCRYPT_OVERHEAD : 0)));
	if (key) {
		const uint8_t *aad = make_aad(t, hdr, name, namelen);
		if (repocrypt_seal(key, aad, CHUNKFILE_HDR_LEN + namelen, body, body_len, hdr + CHUNKFILE_HDR_LEN) < 0)
			return -EIO;
		body_len += REPOCRYPT_OVERHEAD;
	}
	out->len = CHUNKFILE_HDR_LEN + body_len;
	out->s[out->len] = '\0';
	return 0;
}

int chunkfile_decode(enum chunkfile_kind kind, const uint8_t *file, size_t flen, size_t max_plain,
		     const uint8_t *key, const void *name, size_t namelen, struct buf *out, const char **why)
{
	struct cf_tls *t;
	const uint8_t *body;
	size_t plain, body_len;
	uint8_t flags;

	if (flen < CHUNKFILE_HDR_LEN || memcmp(file, kind_magic(kind), 4) != 0) {
		*why = "it does not start with the right magic bytes";
		return -EBADMSG;
	}
	if (file[4] > CHUNKFILE_VERSION) {
		*why = "it was written by a newer corral";
		return -EPROTONOSUPPORT;
	}
	flags = file[5];
	plain = get_le32(file + 8);
	body_len = get_le32(file + 12);
	if (file[4] != CHUNKFILE_VERSION || (flags & ~(CHUNKFILE_F_ZSTD | CHUNKFILE_F_SEALED)) || file[6] || file[7]) {
		*why = "its header is invalid";
		return -EBADMSG;
	}
	if (body_len != flen - CHUNKFILE_HDR_LEN) {
		*why = "it is truncated or has trailing bytes";
		return -EBADMSG;
	}
	if (plain > max_plain) {
		*why = "its header claims an impossible length";
		return -EBADMSG;
	}
	if (!!key != !!(flags & CHUNKFILE_F_SEALED)) {
		*why = key ? "it is not encrypted in an encrypted repository" : "it is encrypted in a plain repository";
		return -EBADMSG;
	}
	t = tls_get();
	body = file + CHUNKFILE_HDR_LEN;
	if (key) {
		const uint8_t *aad = make_aad(t, file, name, namelen);
		struct buf *dst = (flags & CHUNKFILE_F_ZSTD) ? &t->scratch : out;
		size_t at, inner = body_len;
		uint8_t *pt;

		if (inner < REPOCRYPT_OVERHEAD) {
			*why = "it is truncated";
			return -EBADMSG;
		}
		inner -= REPOCRYPT_OVERHEAD;
		if (!(flags & CHUNKFILE_F_ZSTD) && inner != plain) {
			*why = "its length does not match its header";
			return -EBADMSG;
		}
		/* the AAD sits at the start of scratch; decrypt after it */
		at = dst == &t->scratch ? t->scratch.len : out->len;
		buf_grow(dst, inner + 1);
		aad = dst == &t->scratch ? (const uint8_t *)t->scratch.s : aad;
		pt = (uint8_t *)dst->s + at;
		if (repocrypt_open(key, aad, CHUNKFILE_HDR_LEN + namelen, body, body_len, pt) < 0) {
			*why = "it fails authentication (damaged, or moved from another name)";
			return -EBADMSG;
		}
		if (!(flags & CHUNKFILE_F_ZSTD)) {
			out->len += inner;
			out->s[out->len] = '\0';
			return 0;
		}
		body = pt;
		body_len = inner;
	} else if (!(flags & CHUNKFILE_F_ZSTD)) {
		if (body_len != plain) {
			*why = "its length does not match its header";
			return -EBADMSG;
		}
		buf_add(out, body, body_len);
		return 0;
	}
	buf_grow(out, plain + 1);
	size_t n = ZSTD_decompressDCtx(t->dctx, out->s + out->len, plain, body, body_len);
	if (ZSTD_isError(n) || n != plain) {
		*why = "its compressed data is damaged";
		return -EBADMSG;
	}
	out->len += plain;
	out->s[out->len] = '\0';
	return 0;
}
