/*
 * test_cfgmsg.c - the replicated configuration's wire format
 * (src/cluster/cfgmsg.c): what is encoded decodes to the same header and
 * body; a message of another magic or protocol, a truncated or padded one,
 * a flipped body byte (crc), non-zero reserved fields, a body with a NUL,
 * duplicate keys or not an object, and bodies missing their type's members
 * are each refused with a sentence, never half-read.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/cfgmsg.h"
#include "util/cleanup.h"
#include "util/common.h"

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int decode(const struct buf *m, struct cfgmsg_hdr *h, json_t **j, struct buf *err)
{
	buf_reset(err);
	return cfgmsg_decode(m->s, m->len, h, j, err);
}

static void encode(struct buf *m, unsigned type, uint64_t seq, const char *body)
{
	struct buf err __do_buf = BUF_INIT;
	buf_reset(m);
	assert_int_equal(cfgmsg_encode(m, type, seq, body, strlen(body), &err), 0);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct buf m __do_buf = BUF_INIT, err __do_buf = BUF_INIT;
	struct cfgmsg_hdr h;
	json_t *j;
	const char *batch = "{\"v\":1,\"time\":5,\"ops\":[{\"op\":\"user.delete\",\"name\":\"a\"}]}";
	encode(&m, CFGMSG_BATCH, 0x1122334455667788ULL, batch);
	assert_int_equal(m.len, CFGMSG_HDR_LEN + strlen(batch));
	assert_memory_equal(m.s, "CRLC", 4); /* little-endian magic */
	assert_int_equal(decode(&m, &h, &j, &err), 0);
	assert_int_equal(h.type, CFGMSG_BATCH);
	assert_int_equal(h.proto, CFGMSG_PROTO);
	assert_true(h.seq == 0x1122334455667788ULL);
	assert_int_equal(h.body_len, strlen(batch));
	assert_memory_equal(m.s + CFGMSG_HDR_LEN, batch, strlen(batch));
	assert_int_equal(json_integer_value(json_object_get(j, "time")), 5);
	json_decref(j);

	encode(&m, CFGMSG_STATE, 1, "{\"round\":\"1/2,2/3\",\"version\":4,\"chain\":\"" H64 "\",\"digest\":\"" H64 "\"}");
	assert_int_equal(decode(&m, &h, &j, &err), 0);
	json_decref(j);
	encode(&m, CFGMSG_VERDICT, 1, "{\"round\":\"r\",\"states\":\"" H64 "\",\"leader\":1,\"version\":4,\"chain\":\"" H64 "\",\"behind\":[2],\"forked\":[]}");
	assert_int_equal(decode(&m, &h, &j, &err), 0);
	json_decref(j);
	encode(&m, CFGMSG_SNAPSHOT, 1, "{\"round\":\"r\",\"version\":4,\"part\":0,\"last\":true,\"data\":\"{}\"}");
	assert_int_equal(decode(&m, &h, &j, &err), 0);
	json_decref(j);
	assert_string_equal(cfgmsg_type_name(CFGMSG_VERDICT), "verdict");
	assert_string_equal(cfgmsg_type_name(99), "unknown");
}

static void test_header_refusals(void **state)
{
	(void)state;
	struct buf m __do_buf = BUF_INIT, err __do_buf = BUF_INIT;
	struct cfgmsg_hdr h;
	json_t *j = (json_t *)1;

	encode(&m, CFGMSG_BATCH, 1, "{}");
	m.s[0] ^= 1; /* magic */
	assert_int_equal(decode(&m, &h, &j, &err), -EPROTO);
	assert_null(j);
	assert_non_null(strstr(err.s, "not a corral configuration message"));

	encode(&m, CFGMSG_BATCH, 1, "{}");
	m.s[4] = 1; /* protocol 1 (before verdicts carried the fingerprint of their STATEs) */
	assert_int_equal(decode(&m, &h, &j, &err), -EPROTO);
	assert_non_null(strstr(err.s, "protocol 1"));

	encode(&m, CFGMSG_BATCH, 1, "{}");
	m.s[16] = 1; /* reserved */
	assert_int_equal(decode(&m, &h, &j, &err), -EBADMSG);
	assert_non_null(strstr(err.s, "reserved"));

	encode(&m, CFGMSG_BATCH, 1, "{\"a\":1}");
	m.s[m.len - 2] ^= 0x20; /* a body byte: the crc catches it */
	assert_int_equal(decode(&m, &h, &j, &err), -EBADMSG);
	assert_non_null(strstr(err.s, "crc32"));

	encode(&m, CFGMSG_BATCH, 1, "{\"a\":1}");
	assert_int_equal(cfgmsg_decode(m.s, m.len - 1, &h, &j, &err), -EBADMSG); /* truncated */
	buf_addch(&m, ' ');
	assert_int_equal(decode(&m, &h, &j, &err), -EBADMSG); /* padded */
	assert_int_equal(cfgmsg_decode(m.s, 10, &h, &j, &err), -EPROTO); /* shorter than a header */

	char big[16] = "{}";
	buf_reset(&err);
	assert_int_equal(cfgmsg_encode(&m, CFGMSG_BATCH, 1, big, CFGMSG_BODY_MAX + 1, &err), -EBADMSG);
	assert_non_null(strstr(err.s, "too long"));
}

static void test_body_refusals(void **state)
{
	(void)state;
	struct buf m __do_buf = BUF_INIT, err __do_buf = BUF_INIT;
	struct cfgmsg_hdr h;
	json_t *j;
	static const struct {
		unsigned type;
		const char *body;
	} bad[] = {
		{ CFGMSG_BATCH, "[1]" },
		{ CFGMSG_BATCH, "{\"a\":1,\"a\":2}" },
		{ CFGMSG_BATCH, "not json" },
		{ CFGMSG_STATE, "{\"round\":\"r\",\"version\":1,\"chain\":\"" H64 "\"}" },
		{ CFGMSG_STATE, "{\"round\":\"r\",\"version\":-1,\"chain\":\"" H64 "\",\"digest\":\"" H64 "\"}" },
		{ CFGMSG_STATE, "{\"round\":\"r\",\"version\":1,\"chain\":\"" H64 "0\",\"digest\":\"" H64 "\"}" },
		{ CFGMSG_STATE, "{\"round\":\"r\",\"version\":1,\"chain\":\"" H64 "\",\"digest\":\"" H64 "\",\"x\":1}" },
		{ CFGMSG_VERDICT, "{\"round\":\"r\",\"leader\":1,\"version\":4,\"chain\":\"" H64 "\",\"behind\":[-2],\"forked\":[]}" },
		{ CFGMSG_VERDICT, "{\"round\":\"r\",\"leader\":4294967296,\"version\":4,\"chain\":\"" H64 "\",\"behind\":[],\"forked\":[]}" },
		{ CFGMSG_SNAPSHOT, "{\"round\":\"r\",\"part\":0,\"last\":1,\"data\":\"\"}" },
		/* protocol 1's forms: a verdict without the fingerprint of its STATEs, a snapshot without its version */
		{ CFGMSG_VERDICT, "{\"round\":\"r\",\"leader\":1,\"version\":4,\"chain\":\"" H64 "\",\"behind\":[],\"forked\":[]}" },
		{ CFGMSG_VERDICT, "{\"round\":\"r\",\"states\":\"x\",\"leader\":1,\"version\":4,\"chain\":\"" H64 "\",\"behind\":[],\"forked\":[]}" },
		{ CFGMSG_SNAPSHOT, "{\"round\":\"r\",\"part\":0,\"last\":true,\"data\":\"\"}" },
		{ 77, "{}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		encode(&m, bad[i].type, 1, bad[i].body);
		int r = decode(&m, &h, &j, &err);
		if (r != -EBADMSG)
			fail_msg("case %zu (%s): %d", i, bad[i].body, r);
		assert_null(j);
		assert_true(err.len > 0);
	}
	/* a NUL inside the body */
	buf_reset(&m);
	buf_reset(&err);
	assert_int_equal(cfgmsg_encode(&m, CFGMSG_BATCH, 1, "{}\0", 3, &err), 0);
	assert_int_equal(decode(&m, &h, &j, &err), -EBADMSG);
	assert_non_null(strstr(err.s, "NUL"));
	assert_true(cfgmsg_hash_ok(H64));
	assert_false(cfgmsg_hash_ok("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"));
	assert_false(cfgmsg_hash_ok(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_header_refusals),
		cmocka_unit_test(test_body_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
