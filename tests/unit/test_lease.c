/*
 * test_lease.c - the disk lease record and the acquire decision
 * (src/cluster/lease.c): a record round-trips byte for byte; a torn,
 * foreign or truncated record is refused with a reason; the decision takes
 * an absent, released, own or expired lease, waits on a still one younger
 * than E, and refuses one that moved while watched (its holder renews).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/lease.h"

static struct lease_rec sample(void)
{
	struct lease_rec r = { .state = LEASE_HELD, .nodeid = 3, .incarnation = 0x1122334455667788ull,
			       .counter = 42, .wall_ms = 1796650000123 };
	strcpy(r.host, "h3");
	strcpy(r.uuid, "0b7c5f9e-1d2a-4c8e-9a55-2f7b1c3d4e5f");
	return r;
}

static void test_round_trip(void **state)
{
	(void)state;
	unsigned char b[LEASE_RECORD_SIZE], again[LEASE_RECORD_SIZE];
	struct lease_rec r = sample(), back;
	const char *why = NULL;
	lease_encode(&r, b);
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), 0);
	assert_int_equal(back.state, LEASE_HELD);
	assert_int_equal(back.nodeid, 3);
	assert_true(back.incarnation == r.incarnation);
	assert_true(back.counter == 42);
	assert_true(back.wall_ms == r.wall_ms);
	assert_string_equal(back.host, "h3");
	assert_string_equal(back.uuid, r.uuid);
	lease_encode(&back, again);
	assert_memory_equal(b, again, sizeof(b));
	/* little-endian at fixed places (docs/state.md) */
	assert_memory_equal(b, "CRLEASE", 8);
	assert_int_equal(b[32], 42);
	/* a host name of the longest kind fits with its end */
	memset(r.host, 'n', 64);
	r.host[64] = '\0';
	lease_encode(&r, b);
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), 0);
	assert_int_equal(strlen(back.host), 64);
}

static void test_refusals(void **state)
{
	(void)state;
	unsigned char b[LEASE_RECORD_SIZE];
	struct lease_rec r = sample(), back;
	const char *why = NULL;
	lease_encode(&r, b);
	assert_int_equal(lease_decode(b, sizeof(b) - 1, &back, &why), -EINVAL);
	assert_string_equal(why, "not one record long");
	b[33] ^= 1; /* a torn write */
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), -EINVAL);
	assert_non_null(strstr(why, "checksum"));
	lease_encode(&r, b);
	b[0] = 'X';
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), -EINVAL);
	assert_string_equal(why, "not a corral lease record");
	r.state = (enum lease_state)7;
	lease_encode(&r, b);
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), -EINVAL);
	assert_string_equal(why, "an unknown lease state");
	memset(b, 0, sizeof(b));
	assert_int_equal(lease_decode(b, sizeof(b), &back, &why), -EINVAL);
}

static struct lease_view held_by(const char *host, uint32_t node, uint64_t inc, int64_t unchanged, bool moved)
{
	struct lease_view v = { .seen = LEASE_SEEN_RECORD, .unchanged_ms = unchanged, .moved = moved };
	v.rec = sample();
	strcpy(v.rec.host, host);
	v.rec.nodeid = node;
	v.rec.incarnation = inc;
	return v;
}

static void test_decide(void **state)
{
	(void)state;
	struct lease_view none = { .seen = LEASE_SEEN_NONE };
	assert_int_equal(lease_decide(&none, "h1", 1, 0), LEASE_TAKE);
	/* released: free at once, even if it moved (the release was the move) */
	struct lease_view rel = held_by("h2", 2, 9, 0, true);
	rel.rec.state = LEASE_RELEASED;
	assert_int_equal(lease_decide(&rel, "h1", 1, 0), LEASE_TAKE);
	/* another host's, still for less than E: wait; for E: take */
	struct lease_view v = held_by("h2", 2, 9, LEASE_EXPIRE_MS - 1, false);
	assert_int_equal(lease_decide(&v, "h1", 1, 0), LEASE_WAIT);
	v.unchanged_ms = LEASE_EXPIRE_MS;
	assert_int_equal(lease_decide(&v, "h1", 1, 0), LEASE_TAKE);
	/* it moved while watched: its holder renews, whatever the age */
	v = held_by("h2", 2, 9, LEASE_EXPIRE_MS * 10, true);
	assert_int_equal(lease_decide(&v, "h1", 1, 0), LEASE_REFUSE);
	/* this host's own incarnation: take; this host under another one: another holder */
	v = held_by("h1", 1, 9, 0, true);
	assert_int_equal(lease_decide(&v, "h1", 1, 9), LEASE_TAKE);
	assert_int_equal(lease_decide(&v, "h1", 1, 8), LEASE_REFUSE);
	v.moved = false;
	assert_int_equal(lease_decide(&v, "h1", 1, 0), LEASE_WAIT);
	/* the same name under another node id (a host rebuilt): not ours */
	v = held_by("h1", 5, 9, 0, false);
	assert_int_equal(lease_decide(&v, "h1", 1, 9), LEASE_WAIT);
	/* bytes that do not decode: a holder not known, watched like one */
	struct lease_view bad = { .seen = LEASE_SEEN_INVALID, .unchanged_ms = 100 };
	assert_int_equal(lease_decide(&bad, "h1", 1, 0), LEASE_WAIT);
	bad.moved = true;
	assert_int_equal(lease_decide(&bad, "h1", 1, 0), LEASE_REFUSE);
	bad.moved = false;
	bad.unchanged_ms = LEASE_EXPIRE_MS;
	assert_int_equal(lease_decide(&bad, "h1", 1, 0), LEASE_TAKE);
}

/* The timing rule the protocol rests on: the holder's guard kills (plus
 * its 400 ms confirm) before an acquirer may take, and the settle time
 * covers a renewal round and the kill of an overwritten holder. */
static void test_timings(void **state)
{
	(void)state;
	assert_true(LEASE_GUARD_KILL_MS + 400 + 100 < LEASE_EXPIRE_MS);
	assert_true(LEASE_SETTLE_MS > LEASE_RENEW_MS + 100);
	assert_true(LEASE_RENEW_MS * 2 < LEASE_GUARD_KILL_MS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_timings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
