/*
 * test_hagroup.c - an HA group's host list "HOST[:PRIORITY],..."
 * (src/cluster/hagroup.c): priorities default to 0, at most 1000; empty
 * entries, bad names, bad or huge priorities and a host named twice are
 * refused with a sentence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/hagroup.h"

static void test_good(void **state)
{
	(void)state;
	struct hagroup_host h[HAGROUP_MAX_HOSTS];
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(hagroup_hosts_parse("h2:2,h1:1,h3", h, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(h[0].name, "h2");
	assert_int_equal(h[0].priority, 2);
	assert_string_equal(h[1].name, "h1");
	assert_int_equal(h[1].priority, 1);
	assert_string_equal(h[2].name, "h3");
	assert_int_equal(h[2].priority, 0);
	assert_int_equal(hagroup_hosts_parse("node-1.lab:1000", h, &n, &err), 0);
	assert_int_equal(h[0].priority, 1000);
	buf_release(&err);
}

static void bad(const char *text, const char *want)
{
	struct hagroup_host h[HAGROUP_MAX_HOSTS];
	size_t n;
	struct buf err = BUF_INIT;
	assert_int_equal(hagroup_hosts_parse(text, h, &n, &err), -22);
	assert_non_null(err.s);
	if (!strstr(err.s, want))
		fail_msg("'%s': got '%s', want '%s'", text, err.s, want);
	buf_release(&err);
}

static void test_bad(void **state)
{
	(void)state;
	bad("", "needs hosts");
	bad(",h1", "empty");
	bad("h1,", "empty");
	bad("h1,,h2", "empty");
	bad(":3", "empty");
	bad("h1:", "a priority is 0..1000");
	bad("h1:1001", "a priority is 0..1000");
	bad("h1:99999", "a priority is 0..1000");
	bad("h1:-1", "a priority is 0..1000");
	bad("h1:2x", "a priority is 0..1000");
	bad("h1:1:2", "a priority is 0..1000");
	bad("h 1", "node name");
	bad("-h1", "node name");
	bad("h1:1,h2,h1:3", "h1 is named twice");
}

static void test_too_many(void **state)
{
	(void)state;
	struct buf text = BUF_INIT;
	for (int i = 0; i <= HAGROUP_MAX_HOSTS; i++)
		buf_printf(&text, "%sh%d", i ? "," : "", i);
	bad(text.s, "at most");
	buf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
