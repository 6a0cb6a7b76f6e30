/*
 * test_resync.c - the pieces of the compare pass (src/service/resync.c):
 * chunk hashing with zero detection, the hash list's wire form and its
 * parser (the peer's answer is untrusted: every mismatch is refused), and
 * hashing a page through a real NBD export (qemu-nbd on a sparse raw file:
 * a hole, zeros written as data, data, a short last chunk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "backup/nbdsrc.h"
#include "service/resync.h"
#include "util/cleanup.h"
#include "util/proc.h"

#define C RESYNC_CHUNK

static void test_chunk_hash(void **state)
{
	(void)state;
	unsigned char *b = calloc(1, C);
	uint8_t d1[RESYNC_HASH_LEN], d2[RESYNC_HASH_LEN];
	bool z;

	resync_chunk_hash(b, C, d1, &z);
	assert_true(z);
	b[C - 1] = 1; /* the very last byte counts */
	resync_chunk_hash(b, C, d1, &z);
	assert_false(z);
	b[C - 1] = 2;
	resync_chunk_hash(b, C, d2, &z);
	assert_false(z);
	assert_memory_not_equal(d1, d2, RESYNC_HASH_LEN);
	resync_chunk_hash(b, 3, d2, &z); /* a tail shorter than a word */
	assert_true(z);
	free(b);
}

static json_t *sample(uint64_t size, uint64_t offset, size_t n)
{
	struct resync_hashes hs = { .size = size, .chunk = C, .offset = offset, .n = n };
	hs.digest = calloc(n, sizeof(*hs.digest));
	hs.zero = calloc(n, sizeof(bool));
	for (size_t i = 0; i < n; i++) {
		hs.zero[i] = i % 2;
		memset(hs.digest[i], (int)(0xa0 + i), RESYNC_HASH_LEN);
	}
	json_t *j = resync_hashes_json(&hs, "web-d0");
	resync_hashes_release(&hs);
	return j;
}

static void test_roundtrip(void **state)
{
	(void)state;
	uint64_t size = 3 * C + 100; /* 4 chunks, the last short */
	json_t *j = sample(size, 0, 4);
	struct resync_hashes hs;
	__do_buf struct buf err = BUF_INIT;

	assert_int_equal(resync_hashes_parse(j, "web-d0", size, C, 0, RESYNC_PAGE_MAX, &hs, &err), 0);
	assert_int_equal(hs.n, 4);
	assert_false(hs.zero[0]);
	assert_true(hs.zero[1]);
	assert_int_equal(hs.digest[2][5], 0xa2);
	resync_hashes_release(&hs);
	json_decref(j);
	/* a page in the middle: exactly the chunks asked for */
	j = sample(10 * C, 4 * C, 3);
	assert_int_equal(resync_hashes_parse(j, "web-d0", 10 * C, C, 4 * C, 3, &hs, &err), 0);
	resync_hashes_release(&hs);
	json_decref(j);
}

/* Each hostile change of a good answer is refused with -EPROTO and nothing allocated. */
static void test_parse_refuses(void **state)
{
	(void)state;
	uint64_t size = 4 * C;
	static const char *const bad[] = {
		"{\"volume\":\"other\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048577,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":65536,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":262144,\"hashes\":[\"z\",\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",\"z\",\"z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",\"Z\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\",1]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\","
		"\"AAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\","
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":\"zzzz\"}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":-0,\"hashes\":[\"z\",\"z\",\"z\",\"z\"],\"x\":1}",
		"{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":\"0\",\"hashes\":[\"z\",\"z\",\"z\",\"z\"]}",
		"[]",
	};
	const char *good = "{\"volume\":\"web-d0\",\"size\":1048576,\"chunk\":262144,\"offset\":0,\"hashes\":[\"z\",\"z\",\"z\","
			   "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"]}";
	struct resync_hashes hs;
	json_t *j = json_loads(good, 0, NULL);
	__do_buf struct buf err = BUF_INIT;

	assert_int_equal(resync_hashes_parse(j, "web-d0", size, C, 0, 4, &hs, &err), 0);
	assert_int_equal(hs.digest[3][1], 0x11);
	resync_hashes_release(&hs);
	json_decref(j);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = json_loads(bad[i], 0, NULL);
		assert_non_null(j);
		buf_reset(&err);
		assert_int_equal(resync_hashes_parse(j, "web-d0", size, C, 0, 4, &hs, &err), -EPROTO);
		assert_null(hs.digest);
		assert_true(err.len > 0);
		json_decref(j);
	}
	/* asked badly: a misaligned offset, none asked */
	j = json_loads(good, 0, NULL);
	assert_int_equal(resync_hashes_parse(j, "web-d0", size, C, 100, 4, &hs, &err), -EPROTO);
	assert_int_equal(resync_hashes_parse(j, "web-d0", size, C, 0, 0, &hs, &err), -EPROTO);
	json_decref(j);
}

static void test_hash_range_nbd(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-resync.XXXXXX";
	assert_non_null(mkdtemp(dir));
	__do_free char *img = xasprintf("%s/d.raw", dir);
	__do_free char *sock = xasprintf("%s/s", dir);
	uint64_t size = 3 * C + 4096;
	FILE *f = fopen(img, "w");
	unsigned char *b = calloc(1, C);
	assert_non_null(f);
	/* chunk 0 a hole; chunk 1 zeros written; chunk 2 data; chunk 3 (short) data */
	assert_int_equal(fseek(f, C, SEEK_SET), 0);
	assert_int_equal(fwrite(b, 1, C, f), C);
	memset(b, 0x5a, C);
	assert_int_equal(fwrite(b, 1, C, f), C);
	assert_int_equal(fwrite(b, 1, 4096, f), 4096);
	fclose(f);

	struct proc server = PROC_INIT;
	struct nbd_handle *h = NULL;
	struct resync_hashes hs = { 0 };
	uint8_t want[RESYNC_HASH_LEN];
	bool z;
	uint64_t got = 0;
	__do_buf struct buf err = BUF_INIT;
	if (nbdsrc_server_start(img, "raw", sock, true, 1, NULL, &server, &err) < 0) {
		print_message("qemu-nbd unavailable, skipped: %s\n", err.s);
		free(b);
		skip();
	}
	assert_int_equal(resync_nbd_connect_unix(sock, "", &h, &err), 0);
	assert_int_equal(resync_nbd_size(h, &got, &err), 0);
	assert_int_equal(got, size);
	assert_int_equal(resync_hash_range(h, size, 0, C, RESYNC_PAGE_MAX, &hs, &err), 0);
	assert_int_equal(hs.n, 4);
	assert_true(hs.zero[0]);
	assert_true(hs.zero[1]);
	assert_false(hs.zero[2]);
	resync_chunk_hash(b, C, want, &z);
	assert_memory_equal(hs.digest[2], want, RESYNC_HASH_LEN);
	resync_chunk_hash(b, 4096, want, &z);
	assert_memory_equal(hs.digest[3], want, RESYNC_HASH_LEN);
	resync_hashes_release(&hs);
	/* the second page alone, and out-of-range pages refused */
	assert_int_equal(resync_hash_range(h, size, 2 * C, C, 1, &hs, &err), 0);
	assert_int_equal(hs.n, 1);
	resync_hashes_release(&hs);
	assert_int_equal(resync_hash_range(h, size, 4 * C, C, 1, &hs, &err), -EINVAL);
	assert_int_equal(resync_hash_range(h, size, 100, C, 1, &hs, &err), -EINVAL);
	resync_nbd_close(h);
	nbdsrc_server_stop(&server, sock, &err);
	unlink(img);
	rmdir(dir);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_hash),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_hash_range_nbd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
