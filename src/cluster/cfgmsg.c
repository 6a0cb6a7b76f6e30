/*
 * cfgmsg.c - framing of the replicated configuration's messages (see
 * cfgmsg.h): a fixed little-endian header with a crc32 of the body, and
 * the check that a body is the JSON object its type says, before the pool
 * code reads a single member.  Every byte here came from another host.
 */
#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "cluster/cfgmsg.h"
#include "util/jsonutil.h"
#include "util/common.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint32_t body_crc(const void *body, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), body, (uInt)len);
}

const char *cfgmsg_type_name(unsigned type)
{
	switch (type) {
	case CFGMSG_BATCH: return "batch";
	case CFGMSG_STATE: return "state";
	case CFGMSG_SNAPSHOT: return "snapshot";
	case CFGMSG_VERDICT: return "verdict";
	default: return "unknown";
	}
}

int cfgmsg_encode(struct buf *out, enum cfgmsg_type type, uint64_t seq, const void *body, size_t len,
		  struct buf *err)
{
	uint8_t h[CFGMSG_HDR_LEN] = { 0 };
	if (len > CFGMSG_BODY_MAX) {
		buf_printf(err, "a configuration message of %zu bytes is too long (at most %u)", len, CFGMSG_BODY_MAX);
		return -EBADMSG;
	}
	put32(h, CFGMSG_MAGIC);
	put16(h + 4, CFGMSG_PROTO);
	put16(h + 6, (uint16_t)type);
	put64(h + 8, seq);
	put32(h + 24, (uint32_t)len);
	put32(h + 28, body_crc(body, len));
	buf_add(out, h, sizeof(h));
	buf_add(out, body, len);
	return 0;
}

bool cfgmsg_hash_ok(const char *s)
{
	if (!s || strlen(s) != CFGMSG_HASH_HEX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static int bad(struct buf *err, const char *what, unsigned type)
{
	buf_printf(err, "configuration message (%s): %s", cfgmsg_type_name(type), what);
	return -EBADMSG;
}

static bool is_uint(const json_t *v) { return json_is_integer(v) && json_integer_value(v) >= 0; }

static bool is_id_array(const json_t *a)
{
	const json_t *v;
	size_t i;
	if (!json_is_array(a) || json_array_size(a) > 64)
		return false;
	json_array_foreach(a, i, v) if (!is_uint(v) || json_integer_value(v) > UINT32_MAX) return false;
	return true;
}

static int check_body(unsigned type, const json_t *j, struct buf *err)
{
	static const char *const state_keys[] = { "round", "version", "chain", "digest", NULL };
	static const char *const snap_keys[] = { "round", "version", "part", "last", "data", NULL };
	static const char *const verdict_keys[] = { "round", "states", "leader", "version", "chain", "behind", "forked",
						    NULL };
	const char *what = cfgmsg_type_name(type);

	switch (type) {
	case CFGMSG_BATCH: /* the store checks the batch itself (store_apply) */
		return 0;
	case CFGMSG_STATE:
		if (json_check_keys(j, what, state_keys, err) < 0)
			return -EBADMSG;
		if (!json_is_string(json_object_get(j, "round")) || !is_uint(json_object_get(j, "version")) ||
		    !cfgmsg_hash_ok(json_string_value(json_object_get(j, "chain"))) ||
		    !cfgmsg_hash_ok(json_string_value(json_object_get(j, "digest"))))
			return bad(err, "needs a string round, a version and two 64-digit hex hashes", type);
		return 0;
	case CFGMSG_SNAPSHOT:
		if (json_check_keys(j, what, snap_keys, err) < 0)
			return -EBADMSG;
		if (!json_is_string(json_object_get(j, "round")) || !is_uint(json_object_get(j, "version")) ||
		    !is_uint(json_object_get(j, "part")) || !json_is_boolean(json_object_get(j, "last")) ||
		    !json_is_string(json_object_get(j, "data")))
			return bad(err, "needs a string round, a version, a part number, last and string data", type);
		return 0;
	case CFGMSG_VERDICT:
		if (json_check_keys(j, what, verdict_keys, err) < 0)
			return -EBADMSG;
		if (!json_is_string(json_object_get(j, "round")) ||
		    !cfgmsg_hash_ok(json_string_value(json_object_get(j, "states"))) ||
		    !is_uint(json_object_get(j, "leader")) ||
		    json_integer_value(json_object_get(j, "leader")) > UINT32_MAX ||
		    !is_uint(json_object_get(j, "version")) ||
		    !cfgmsg_hash_ok(json_string_value(json_object_get(j, "chain"))) ||
		    !is_id_array(json_object_get(j, "behind")) || !is_id_array(json_object_get(j, "forked")))
			return bad(err, "needs round, states, leader, version, chain and the behind and forked node ids", type);
		return 0;
	default:
		buf_printf(err, "configuration message of unknown type %u", type);
		return -EBADMSG;
	}
}

int cfgmsg_decode(const void *msg, size_t len, struct cfgmsg_hdr *h, json_t **json, struct buf *err)
{
	const uint8_t *p = msg;
	*json = NULL;
	memset(h, 0, sizeof(*h));
	if (len < CFGMSG_HDR_LEN || get32(p) != CFGMSG_MAGIC) {
		buf_adds(err, "not a corral configuration message");
		return -EPROTO;
	}
	h->proto = get16(p + 4);
	h->type = get16(p + 6);
	h->seq = get64(p + 8);
	h->body_len = get32(p + 24);
	h->body_crc = get32(p + 28);
	if (h->proto != CFGMSG_PROTO) {
		buf_printf(err, "configuration message of protocol %u (this corrald speaks %u)", h->proto, CFGMSG_PROTO);
		return -EPROTO;
	}
	if (get32(p + 16) || get32(p + 20))
		return bad(err, "reserved header fields are not zero", h->type);
	if (h->body_len > CFGMSG_BODY_MAX || h->body_len != len - CFGMSG_HDR_LEN)
		return bad(err, "the body length does not match the message", h->type);
	if (body_crc(p + CFGMSG_HDR_LEN, h->body_len) != h->body_crc)
		return bad(err, "the body's crc32 does not match (corrupt)", h->type);
	if (memchr(p + CFGMSG_HDR_LEN, '\0', h->body_len))
		return bad(err, "the body holds a NUL byte", h->type);
	json_error_t je;
	json_t *j = json_loadb((const char *)p + CFGMSG_HDR_LEN, h->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(j)) {
		json_decref(j);
		return bad(err, "the body is not a JSON object", h->type);
	}
	int r = check_body(h->type, j, err);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*json = j;
	return 0;
}
