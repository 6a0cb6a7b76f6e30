/*
 * test_haplan.c - HA admission control (src/cluster/haplan.c): for every
 * set of up to N failed hosts the failed hosts' protected VMs must fit,
 * first-fit decreasing, into what the survivors have left; the first set
 * that does not is named with the VM and the numbers; hosts in
 * maintenance count as failed in every set; the maximum tolerable
 * failures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/haplan.h"

#define GIB 1024

/* three hosts of 4 GiB; big VMs of 2.5 GiB */
static struct haplan_host three[] = { { "h1", 4 * GIB, false }, { "h2", 4 * GIB, false }, { "h3", 4 * GIB, false } };

static void test_empty_pool_tolerates_all(void **state)
{
	(void)state;
	assert_int_equal(haplan_check(three, 3, NULL, 0, 2, NULL), 0);
	assert_int_equal(haplan_max_failures(three, 3, NULL, 0), 2);
}

static void test_one_failure(void **state)
{
	(void)state;
	struct haplan_vm v[] = { { "a", 2560, 0 }, { "b", 2560, 1 } };
	struct haplan_fail why;
	/* h1 fails: a -> h3 (4096 free); h2 fails: b -> h1? no (4096-2624 = 1472), h3 yes */
	assert_int_equal(haplan_check(three, 3, v, 2, 1, &why), 0);
	/* two fail: {h1,h2}: a and b into h3 (4096): 2624 fits, then 1472 < 2624 */
	assert_int_equal(haplan_check(three, 3, v, 2, 2, &why), -ENOSPC);
	assert_int_equal(why.nfailed, 2);
	assert_int_equal(why.failed[0], 0);
	assert_int_equal(why.failed[1], 1);
	assert_string_equal(why.vm, "b"); /* equal sizes: by name, a first */
	assert_int_equal(why.need_mib, 2560 + HAPLAN_OVERHEAD_MIB);
	assert_int_equal(why.largest_free_mib, 4096 - 2624);
	assert_int_equal(haplan_max_failures(three, 3, v, 2), 1);
}

static void test_third_vm_breaks_the_plan(void **state)
{
	(void)state;
	struct haplan_vm v[] = { { "a", 2560, 0 }, { "b", 2560, 1 }, { "c", 2560, 2 } };
	struct haplan_fail why;
	assert_int_equal(haplan_check(three, 3, v, 3, 0, &why), 0);
	assert_int_equal(haplan_check(three, 3, v, 3, 1, &why), -ENOSPC);
	assert_int_equal(why.nfailed, 1);
	assert_int_equal(why.failed[0], 0); /* the first set tried: {h1} */
	assert_string_equal(why.vm, "a");
	assert_int_equal(why.largest_free_mib, 4096 - 2624);
	assert_int_equal(haplan_max_failures(three, 3, v, 3), 0);
}

static void test_first_fit_decreasing(void **state)
{
	(void)state;
	/* h1 fails with a 3000 and a 1000 VM; h2 has 3200 free, h3 1200: biggest first fits both */
	struct haplan_host h[] = { { "h1", 8000, false }, { "h2", 3200, false }, { "h3", 1200, false } };
	struct haplan_vm v[] = { { "small", 1000 - HAPLAN_OVERHEAD_MIB, 0 }, { "big", 3000 - HAPLAN_OVERHEAD_MIB, 0 } };
	assert_int_equal(haplan_check(h, 3, v, 2, 1, NULL), 0);
}

static void test_maintenance_and_unknown(void **state)
{
	(void)state;
	struct haplan_vm v[] = { { "a", 2560, 0 }, { "b", 2560, 1 } };
	struct haplan_host h[3];
	struct haplan_fail why;
	memcpy(h, three, sizeof(h));
	h[2].down = true; /* h3 in maintenance: a failure of h1 leaves only h2 (1472 free) */
	assert_int_equal(haplan_check(h, 3, v, 2, 0, NULL), 0);
	assert_int_equal(haplan_check(h, 3, v, 2, 1, &why), -ENOSPC);
	assert_int_equal(why.nfailed, 2);
	assert_int_equal(why.failed[0], 0);
	assert_int_equal(why.failed[1], 2);
	assert_int_equal(haplan_max_failures(h, 3, v, 2), 0);
	/* a down host's own VMs must fit now */
	struct haplan_vm w[] = { { "c", 5000, 2 } };
	assert_int_equal(haplan_check(h, 3, w, 1, 0, &why), -ENOSPC);
	assert_int_equal(why.largest_free_mib, 4096);
	assert_int_equal(haplan_max_failures(h, 3, w, 1), -1);
	/* unknown capacity: nothing fits there */
	memcpy(h, three, sizeof(h));
	h[1].capacity_mib = -1;
	h[2].capacity_mib = -1;
	assert_int_equal(haplan_check(h, 3, v, 1, 1, &why), -ENOSPC);
	assert_int_equal(why.largest_free_mib, 0);
}

static void test_limits(void **state)
{
	(void)state;
	struct haplan_host h[HAPLAN_MAX_HOSTS + 1];
	for (size_t i = 0; i < HAPLAN_MAX_HOSTS + 1; i++)
		h[i] = (struct haplan_host){ "h", 1024, false };
	assert_int_equal(haplan_check(h, HAPLAN_MAX_HOSTS + 1, NULL, 0, 1, NULL), -EINVAL);
	/* 32 hosts: up to 4 failures is 41449 sets, 6 is too many */
	assert_int_equal(haplan_check(h, HAPLAN_MAX_HOSTS, NULL, 0, 4, NULL), 0);
	assert_int_equal(haplan_check(h, HAPLAN_MAX_HOSTS, NULL, 0, 6, NULL), -E2BIG);
	/* more failures than hosts: every host */
	assert_int_equal(haplan_check(three, 3, NULL, 0, 7, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_pool_tolerates_all), cmocka_unit_test(test_one_failure),
		cmocka_unit_test(test_third_vm_breaks_the_plan), cmocka_unit_test(test_first_fit_decreasing),
		cmocka_unit_test(test_maintenance_and_unknown),	 cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
