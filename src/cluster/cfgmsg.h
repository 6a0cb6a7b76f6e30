/*
 * cfgmsg.h - the wire format of the replicated configuration's CPG group
 * "corral_cfg_v1" (cfgmsg.c; docs/cluster.md "Replicated configuration").
 *
 * Every message is a 32-byte header, all fields little-endian, then a body:
 *
 *	u32 magic     CFGMSG_MAGIC ("CRLC")
 *	u16 proto     CFGMSG_PROTO; a message of another protocol is refused
 *	u16 type      enum cfgmsg_type
 *	u64 seq       the sender's counter (wakes the sender's waiting writer)
 *	u32 reserved  zero
 *	u32 reserved  zero
 *	u32 body_len  bytes after the header (at most CFGMSG_BODY_MAX)
 *	u32 body_crc  zlib crc32 of the body
 *
 * Bodies are JSON objects (UTF-8 text, no NUL):
 *	BATCH     a store batch as docs/state.md defines it
 *	STATE     {"round":S,"version":N,"chain":HEX64,"digest":HEX64}
 *	SNAPSHOT  {"round":S,"version":N,"part":I,"last":B,"data":TEXT}: one chunk of the
 *	          leader's replicated tables (store_replica_export) at version N, in order
 *	VERDICT   {"round":S,"states":HEX64,"leader":ID,"version":N,"chain":HEX64,"behind":[ID...],
 *	          "forked":[ID...]}: states is the fingerprint of the STATEs judged (cfgsync.h)
 * Once released, a type's meaning never changes: a new meaning is a new
 * type or a new proto.
 *
 * Pure functions, no state: any thread.  Errors: -EPROTO (not ours, or
 * another protocol), -EBADMSG (truncated, oversized, corrupt, or a body
 * that is not what its type says), with one sentence in err.
 */
#ifndef CORRAL_CLUSTER_CFGMSG_H
#define CORRAL_CLUSTER_CFGMSG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define CFGMSG_MAGIC 0x434c5243u /* "CRLC" as little-endian bytes */
#define CFGMSG_PROTO 2 /* 2: VERDICT carries "states", SNAPSHOT "version" */
#define CFGMSG_HDR_LEN 32
/* Batches are small; snapshots are sent in chunks below this. */
#define CFGMSG_BODY_MAX (512u * 1024u)
#define CFGMSG_CHUNK (192u * 1024u)
#define CFGMSG_HASH_HEX 64

enum cfgmsg_type {
	CFGMSG_BATCH = 1,
	CFGMSG_STATE = 2,
	CFGMSG_SNAPSHOT = 3,
	CFGMSG_VERDICT = 4,
};

struct cfgmsg_hdr {
	uint16_t proto;
	uint16_t type;
	uint64_t seq;
	uint32_t body_len;
	uint32_t body_crc;
};

/* Header and body into out (appended).  -EBADMSG if the body is too long. */
int cfgmsg_encode(struct buf *out, enum cfgmsg_type type, uint64_t seq, const void *body, size_t len,
		  struct buf *err);

/*
 * Check a received message: header, length, crc, type.  On success *body
 * points into msg (body_len bytes, not NUL-terminated) and *json is the
 * parsed body (a new reference: an object, checked for its type's
 * members).
 */
int cfgmsg_decode(const void *msg, size_t len, struct cfgmsg_hdr *h, json_t **json, struct buf *err);

/* The name of a type for messages ("batch"), or "unknown". */
const char *cfgmsg_type_name(unsigned type);

/* true when s is 64 lowercase hex digits. */
bool cfgmsg_hash_ok(const char *s);

#endif
