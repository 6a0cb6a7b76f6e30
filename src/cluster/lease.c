/*
 * lease.c - the lease record's encoding and the acquire decision (see
 * lease.h).  Layout, little-endian (docs/state.md "Lease files"):
 *   0  magic "CRLEASE\0"      8  version u32     12 state u32
 *   16 node id u32           20 reserved u32    24 incarnation u64
 *   32 counter u64           40 wall ms i64     48 host[80]
 *   128 uuid[40]             168 .. 507 zero    508 checksum u32 (FNV-1a of 0..507)
 */
#include <errno.h>
#include <string.h>

#include "cluster/lease.h"

static const unsigned char magic[8] = { 'C', 'R', 'L', 'E', 'A', 'S', 'E', 0 };

#define OFF_VERSION 8
#define OFF_STATE 12
#define OFF_NODE 16
#define OFF_INC 24
#define OFF_COUNTER 32
#define OFF_WALL 40
#define OFF_HOST 48
#define OFF_UUID 128
#define OFF_SUM (LEASE_RECORD_SIZE - 4)

static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void lease_encode(const struct lease_rec *r, unsigned char out[LEASE_RECORD_SIZE])
{
	memset(out, 0, LEASE_RECORD_SIZE);
	memcpy(out, magic, sizeof(magic));
	put_le(out + OFF_VERSION, LEASE_VERSION, 4);
	put_le(out + OFF_STATE, (uint32_t)r->state, 4);
	put_le(out + OFF_NODE, r->nodeid, 4);
	put_le(out + OFF_INC, r->incarnation, 8);
	put_le(out + OFF_COUNTER, r->counter, 8);
	put_le(out + OFF_WALL, (uint64_t)r->wall_ms, 8);
	memcpy(out + OFF_HOST, r->host, strnlen(r->host, LEASE_HOST_MAX - 1));
	memcpy(out + OFF_UUID, r->uuid, strnlen(r->uuid, sizeof(r->uuid) - 1));
	put_le(out + OFF_SUM, fnv1a(out, OFF_SUM), 4);
}

int lease_decode(const unsigned char *in, size_t len, struct lease_rec *r, const char **why)
{
	memset(r, 0, sizeof(*r));
	if (len != LEASE_RECORD_SIZE) {
		*why = "not one record long";
		return -EINVAL;
	}
	if (memcmp(in, magic, sizeof(magic)) != 0) {
		*why = "not a corral lease record";
		return -EINVAL;
	}
	if (get_le(in + OFF_SUM, 4) != fnv1a(in, OFF_SUM)) {
		*why = "its checksum does not match (a torn or damaged write)";
		return -EINVAL;
	}
	if (get_le(in + OFF_VERSION, 4) != LEASE_VERSION) {
		*why = "a lease record version this corral does not know";
		return -EINVAL;
	}
	uint64_t st = get_le(in + OFF_STATE, 4);
	if (st != LEASE_HELD && st != LEASE_RELEASED) {
		*why = "an unknown lease state";
		return -EINVAL;
	}
	if (!memchr(in + OFF_HOST, 0, LEASE_HOST_MAX) || !memchr(in + OFF_UUID, 0, sizeof(r->uuid))) {
		*why = "a host name or uuid without its end";
		return -EINVAL;
	}
	r->state = (enum lease_state)st;
	r->nodeid = (uint32_t)get_le(in + OFF_NODE, 4);
	r->incarnation = get_le(in + OFF_INC, 8);
	r->counter = get_le(in + OFF_COUNTER, 8);
	r->wall_ms = (int64_t)get_le(in + OFF_WALL, 8);
	memcpy(r->host, in + OFF_HOST, LEASE_HOST_MAX);
	memcpy(r->uuid, in + OFF_UUID, sizeof(r->uuid));
	return 0;
}

enum lease_verdict lease_decide(const struct lease_view *v, const char *me, uint32_t my_nodeid, uint64_t mine)
{
	if (v->seen == LEASE_SEEN_NONE)
		return LEASE_TAKE;
	if (v->seen == LEASE_SEEN_RECORD) {
		const struct lease_rec *r = &v->rec;
		if (r->state == LEASE_RELEASED)
			return LEASE_TAKE;
		if (mine && r->incarnation == mine && r->nodeid == my_nodeid && !strcmp(r->host, me))
			return LEASE_TAKE;
	}
	if (v->moved)
		return LEASE_REFUSE;
	return v->unchanged_ms >= LEASE_EXPIRE_MS ? LEASE_TAKE : LEASE_WAIT;
}
