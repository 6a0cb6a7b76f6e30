/*
 * test_cfgsync.c - the pure decisions of the replicated configuration
 * (src/cluster/cfgsync.c, membership_ring_quorum in membership.c): the
 * sync round's leader is the highest version, ties the lowest node id;
 * the fingerprint of a round's STATEs changes with any member's version,
 * chain, pid or order, so a verdict judged from other STATEs (a round of the
 * same members in another ring) is told apart; a delivery is judged by the
 * quorum notification of its own ring, also once the view has moved on,
 * and never by the quorate value of an older or newer ring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/cfgsync.h"
#include "cluster/membership.h"
#include "util/common.h"


/* A STATE whose chain is 64 times the hex digit c. */
static struct cfgsync_state st(uint32_t node, uint32_t pid, uint64_t version, char c)
{
	struct cfgsync_state s = { .nodeid = node, .pid = pid, .version = version };
	memset(s.chain, c, CFGMSG_HASH_HEX);
	s.chain[CFGMSG_HASH_HEX] = '\0';
	return s;
}

static void test_leader(void **state)
{
	(void)state;
	struct cfgsync_state s[3] = { st(1, 10, 5, 'a'), st(2, 20, 7, 'b'), st(3, 30, 7, 'c') };
	assert_int_equal(cfgsync_leader(s, 3), 1); /* highest version, then the lowest node id */
	s[0].version = 7;
	assert_int_equal(cfgsync_leader(s, 3), 0);
	s[0].version = 6;
	s[2].version = 8;
	assert_int_equal(cfgsync_leader(s, 3), 2);
	assert_int_equal(cfgsync_leader(s, 1), 0);
	/* every member computes it from the same STATEs in the same order: the order of equal ones does not matter */
	struct cfgsync_state t[2] = { st(4, 1, 3, 'a'), st(2, 9, 3, 'a') };
	assert_int_equal(cfgsync_leader(t, 2), 1);
	struct cfgsync_state u[2] = { st(2, 9, 3, 'a'), st(2, 4, 3, 'a') }; /* one node, two corralds */
	assert_int_equal(cfgsync_leader(u, 2), 1);
}

static void test_states_hash(void **state)
{
	(void)state;
	struct cfgsync_state s[2] = { st(1, 10, 5, 'a'), st(2, 20, 5, 'a') };
	char a[CFGMSG_HASH_HEX + 1], b[CFGMSG_HASH_HEX + 1];
	cfgsync_states_hash(s, 2, a);
	assert_int_equal(strlen(a), CFGMSG_HASH_HEX);
	assert_true(cfgmsg_hash_ok(a));
	cfgsync_states_hash(s, 2, b);
	assert_string_equal(a, b);
	/* the same members in another round, one of them further on: another fingerprint */
	s[1].version = 6;
	cfgsync_states_hash(s, 2, b);
	assert_string_not_equal(a, b);
	s[1].version = 5;
	memset(s[1].chain, 'b', CFGMSG_HASH_HEX);
	cfgsync_states_hash(s, 2, b);
	assert_string_not_equal(a, b);
	memset(s[1].chain, 'a', CFGMSG_HASH_HEX);
	s[1].pid = 21; /* a restarted corrald */
	cfgsync_states_hash(s, 2, b);
	assert_string_not_equal(a, b);
	s[1].pid = 20;
	cfgsync_states_hash(s, 1, b); /* a member less */
	assert_string_not_equal(a, b);
	struct cfgsync_state r[2] = { s[1], s[0] };
	cfgsync_states_hash(r, 2, b);
	assert_string_not_equal(a, b);
}

static void push(struct membership_view *v, uint32_t node, uint64_t seq, bool q)
{
	v->qrings[v->nqrings++] = (struct membership_qring){ node, seq, q };
	v->ring_nodeid = node;
	v->ring_seq = seq;
	v->quorate = q;
}

static void test_ring_quorum(void **state)
{
	(void)state;
	struct membership_view v;
	memset(&v, 0, sizeof(v));
	v.connected = true;
	assert_int_equal(membership_ring_quorum(&v, 1, 4), MEMBERSHIP_RING_PENDING);
	push(&v, 1, 0x2d, false); /* alone in 1.2d */
	/* the node list of ring 2.31 is in (ring_* moved), its quorum is not: the delivery waits */
	v.ring_nodeid = 2;
	v.ring_seq = 0x31;
	assert_int_equal(membership_ring_quorum(&v, 2, 0x31), MEMBERSHIP_RING_PENDING);
	assert_int_equal(membership_ring_quorum(&v, 1, 0x2d), MEMBERSHIP_RING_NOT_QUORATE);
	push(&v, 2, 0x31, true);
	assert_int_equal(membership_ring_quorum(&v, 2, 0x31), MEMBERSHIP_RING_QUORATE);
	/* the pool thread moved on to a ring without quorum: a late delivery of 2.31 is still 2.31's */
	push(&v, 1, 0x35, false);
	assert_int_equal(membership_ring_quorum(&v, 2, 0x31), MEMBERSHIP_RING_QUORATE);
	assert_int_equal(membership_ring_quorum(&v, 1, 0x35), MEMBERSHIP_RING_NOT_QUORATE);
	/* a ring id this node was never told of, or older than the history: nobody here can tell */
	assert_int_equal(membership_ring_quorum(&v, 3, 0x31), MEMBERSHIP_RING_UNKNOWN);
	assert_int_equal(membership_ring_quorum(&v, 1, 0x29), MEMBERSHIP_RING_UNKNOWN);
	/* corosync gone: a newer ring will never be told */
	v.connected = false;
	assert_int_equal(membership_ring_quorum(&v, 1, 0x39), MEMBERSHIP_RING_UNKNOWN);
	assert_int_equal(membership_ring_quorum(&v, 2, 0x31), MEMBERSHIP_RING_QUORATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leader),
		cmocka_unit_test(test_states_hash),
		cmocka_unit_test(test_ring_quorum),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
