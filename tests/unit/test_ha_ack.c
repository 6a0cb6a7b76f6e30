/*
 * test_ha_ack.c - the expected votes `ha fence-ack` sets (service/ha_ack.h
 * ha_ack_votes): one vote less per acknowledged host, never below the votes
 * present, never above what corosync has now (a repeat changes nothing).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "service/ha_ack.h"

static void test_votes(void **state)
{
	(void)state;
	/* two hosts, no witness, one lost: 2 -> 1, and the same again */
	assert_int_equal(ha_ack_votes(2, 1, 1, 2), 1);
	assert_int_equal(ha_ack_votes(2, 1, 1, 1), 1);
	/* three hosts, two lost: the first ack leaves 2 (not quorate), the second 1 */
	assert_int_equal(ha_ack_votes(3, 1, 1, 3), 2);
	assert_int_equal(ha_ack_votes(3, 2, 1, 2), 1);
	/* never below the votes present (votequorum refuses that) */
	assert_int_equal(ha_ack_votes(5, 4, 2, 5), 2);
	/* never raised: corosync has fewer already (set by hand with corosync-quorumtool -e) */
	assert_int_equal(ha_ack_votes(3, 1, 1, 1), 1);
	/* everything acknowledged: one vote at least */
	assert_int_equal(ha_ack_votes(2, 5, 0, 2), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_votes) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
