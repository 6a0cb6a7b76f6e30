/*
 * test_haplace.c - the HA manager's recovery order and placement
 * (src/cluster/haplace.c): priority first, then order, then name, one wave
 * per (priority, order); each VM on the host with the most free memory
 * after what the same recovery already put there (a spread, ties to the
 * lowest node id); excluded hosts, missing shared pools and too little
 * memory each keep a host out, with a reason when no host is left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/haplace.h"

static const char *const shared[] = { "shared" };
static const char *const lost[] = { "h3" };

static void test_order_and_waves(void **state)
{
	(void)state;
	struct haplace_vm v[] = {
		{ .name = "c", .priority = 0, .order = 0, .memory_mib = 256 },
		{ .name = "b", .priority = 10, .order = 1, .memory_mib = 256 },
		{ .name = "a", .priority = 10, .order = 1, .memory_mib = 256 },
		{ .name = "d", .priority = 10, .order = 0, .memory_mib = 256 },
	};
	struct haplace_host h[] = { { .name = "h1", .nodeid = 1, .free_mib = 100000 } };
	assert_int_equal(haplace_run(v, 4, h, 1), 4);
	assert_string_equal(v[0].name, "d");
	assert_string_equal(v[1].name, "a");
	assert_string_equal(v[2].name, "b");
	assert_string_equal(v[3].name, "c");
	assert_int_equal(v[0].wave, 0);
	assert_int_equal(v[1].wave, 1);
	assert_int_equal(v[2].wave, 1);
	assert_int_equal(v[3].wave, 2);
}

static void test_spread(void **state)
{
	(void)state;
	struct haplace_vm v[3];
	memset(v, 0, sizeof(v));
	v[0] = (struct haplace_vm){ .name = "a", .priority = 3, .memory_mib = 1000, .exclude = lost, .nexclude = 1 };
	v[1] = (struct haplace_vm){ .name = "b", .priority = 2, .memory_mib = 1000, .exclude = lost, .nexclude = 1 };
	v[2] = (struct haplace_vm){ .name = "c", .priority = 1, .memory_mib = 1000, .exclude = lost, .nexclude = 1 };
	/* equal hosts: a on the lowest node id, b on the other, c back on h1 */
	struct haplace_host h[] = { { .name = "h2", .nodeid = 2, .free_mib = 4000 },
				    { .name = "h1", .nodeid = 1, .free_mib = 4000 },
				    { .name = "h3", .nodeid = 3, .free_mib = 90000 } };
	assert_int_equal(haplace_run(v, 3, h, 3), 3);
	assert_string_equal(h[v[0].host].name, "h1");
	assert_string_equal(h[v[1].host].name, "h2");
	assert_string_equal(h[v[2].host].name, "h1");
	/* one host much emptier: it takes both until it is the fuller one */
	h[0].free_mib = 10000;
	assert_int_equal(haplace_run(v, 3, h, 3), 3);
	assert_string_equal(h[v[0].host].name, "h2");
	assert_string_equal(h[v[1].host].name, "h2");
	assert_string_equal(h[v[2].host].name, "h2");
}

static void test_pools_memory_exclusion(void **state)
{
	(void)state;
	struct haplace_vm v = { .name = "web", .memory_mib = 2000, .pools = shared, .npools = 1 };
	struct haplace_host h[] = { { .name = "h1", .nodeid = 1, .free_mib = 90000 },
				    { .name = "h2", .nodeid = 2, .free_mib = 3000, .pools = shared, .npools = 1 } };
	assert_int_equal(haplace_run(&v, 1, h, 2), 1);
	assert_int_equal(v.host, 1); /* h1 lacks the pool */
	h[1].free_mib = 2000;        /* 2000 + overhead does not fit */
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_int_equal(v.host, -1);
	assert_non_null(strstr(v.reason, "memory"));
	h[1].free_mib = -1; /* unknown: taken */
	assert_int_equal(haplace_run(&v, 1, h, 2), 1);
	assert_int_equal(v.host, 1);
	const char *const both[] = { "h2", "h1" };
	v.exclude = both;
	v.nexclude = 2;
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_non_null(strstr(v.reason, "no other host"));
	v.nexclude = 1;
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_non_null(strstr(v.reason, "shared pools"));
	assert_int_equal(haplace_run(&v, 1, h, 0), 0);
}

/* A group: its highest-priority host first, whatever the memory; restricted never outside. */
static void test_groups(void **state)
{
	(void)state;
	struct haplace_host h[] = { { .name = "h1", .nodeid = 1, .free_mib = 8000 },
				    { .name = "h2", .nodeid = 2, .free_mib = 1000 },
				    { .name = "h3", .nodeid = 3, .free_mib = 4000 } };
	const char *const gh[] = { "h2", "h3" };
	const int gp[] = { 2, 1 };
	struct haplace_vm v = { .name = "web", .memory_mib = 256, .group_hosts = gh, .group_prio = gp, .ngroup = 2 };
	assert_int_equal(haplace_run(&v, 1, h, 3), 1);
	assert_int_equal(v.host, 1); /* h2: priority 2, though h1 has the most memory */
	const char *const no2[] = { "h2" };
	v.exclude = no2;
	v.nexclude = 1;
	assert_int_equal(haplace_run(&v, 1, h, 3), 1);
	assert_int_equal(v.host, 2); /* then h3 (priority 1) */
	const char *const no23[] = { "h2", "h3" };
	v.exclude = no23;
	v.nexclude = 2;
	assert_int_equal(haplace_run(&v, 1, h, 3), 1);
	assert_int_equal(v.host, 0); /* not restricted: outside the group last */
	v.restricted = 1;
	assert_int_equal(haplace_run(&v, 1, h, 3), 0);
	assert_int_equal(v.host, -1);
	assert_non_null(strstr(v.reason, "restricted group"));
}

/* A VM on replicated local disks: its replica's host only, and only in sync (RPO 0). */
static void test_replica(void **state)
{
	(void)state;
	static const char *const h1lost[] = { "h1" };
	struct haplace_host h[] = { { .name = "h2", .nodeid = 2, .free_mib = 4000 },
				    { .name = "h3", .nodeid = 3, .free_mib = 90000 } };
	struct haplace_vm v = { .name = "r", .memory_mib = 256, .exclude = h1lost, .nexclude = 1,
				.replica_host = "h2", .replica_state = "in-sync", .replica_since_ms = 1796619662000 };
	char why[160];
	/* in sync: h2 although h3 is emptier */
	assert_int_equal(haplace_replica_usable(&v, why, sizeof(why)), 1);
	assert_int_equal(haplace_run(&v, 1, h, 2), 1);
	assert_string_equal(h[v.host].name, "h2");
	/* outdated, syncing: nowhere, with the state and since */
	v.replica_state = "outdated";
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_int_equal(v.host, -1);
	assert_string_equal(v.reason, "the replica on h2 is outdated since 2026-12-07 05:01:02 UTC: not restarted there (RPO 0)");
	v.replica_state = "syncing";
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_non_null(strstr(v.reason, "the replica on h2 is syncing since"));
	v.replica_state = "bogus";
	assert_int_equal(haplace_replica_usable(&v, why, sizeof(why)), 0);
	assert_non_null(strstr(why, "is not in sync since"));
	/* no record (replication ended) */
	v.replica_state = NULL;
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_non_null(strstr(v.reason, "no replica any more (replication to h2 ended)"));
	/* in sync but its host is not a candidate (gone, or failed there) */
	v.replica_state = "in-sync";
	struct haplace_host only3[] = { { .name = "h3", .nodeid = 3, .free_mib = 90000 } };
	assert_int_equal(haplace_run(&v, 1, only3, 1), 0);
	assert_non_null(strstr(v.reason, "its replica is on h2, which cannot take it"));
	static const char *const both[] = { "h1", "h2" };
	v.exclude = both;
	v.nexclude = 2;
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_non_null(strstr(v.reason, "its replica is on h2"));
	/* not enough memory there: the memory reason, never another host */
	v.exclude = h1lost;
	v.nexclude = 1;
	h[0].free_mib = 100;
	assert_int_equal(haplace_run(&v, 1, h, 2), 0);
	assert_string_equal(v.reason, "no host has enough free memory");
	/* its own host back (not excluded): there, whatever the replica says; never a third host */
	h[0].free_mib = 4000;
	struct haplace_host back[] = { { .name = "h3", .nodeid = 3, .free_mib = 90000 },
				       { .name = "h1", .nodeid = 1, .free_mib = 4000 },
				       { .name = "h2", .nodeid = 2, .free_mib = 8000 } };
	v.exclude = NULL;
	v.nexclude = 0;
	v.disk_host = "h1";
	v.replica_state = "outdated";
	assert_int_equal(haplace_run(&v, 1, back, 3), 1);
	assert_string_equal(back[v.host].name, "h1");
	v.replica_state = "in-sync"; /* both may: the most free memory (h2) */
	assert_int_equal(haplace_run(&v, 1, back, 3), 1);
	assert_string_equal(back[v.host].name, "h2");
	/* a VM without replica is untouched by the fields */
	struct haplace_vm plain = { .name = "p", .memory_mib = 256, .exclude = h1lost, .nexclude = 1 };
	assert_int_equal(haplace_replica_usable(&plain, why, sizeof(why)), 1);
	assert_int_equal(haplace_run(&plain, 1, h, 2), 1);
	assert_string_equal(h[plain.host].name, "h3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_waves),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_pools_memory_exclusion),
		cmocka_unit_test(test_groups),
		cmocka_unit_test(test_replica),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
