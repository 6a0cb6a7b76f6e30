/*
 * test_select.c - VM selectors (src/core/select.c): what each form matches
 * against a small fleet, and which selectors are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/select.h"
#include "core/vmdef.h"
#include "util/buf.h"
#include "util/common.h"

#define NFLEET 5

static const char *const fleet_json[NFLEET] = {
	"{\"name\":\"web1\",\"uuid\":\"0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a\",\"tags\":[\"prod\",\"web\"]}",
	"{\"name\":\"web2\",\"uuid\":\"11111111-2222-4333-8444-555555555555\",\"tags\":[\"prod\"]}",
	"{\"name\":\"webster\",\"uuid\":\"22222222-2222-4333-8444-555555555555\",\"tags\":[\"staging\"]}",
	"{\"name\":\"db1\",\"uuid\":\"33333333-2222-4333-8444-555555555555\",\"tags\":[\"prod\",\"db\"]}",
	/* a VM whose name looks like another VM's uuid prefix, and no tags */
	"{\"name\":\"Web3\",\"uuid\":\"44444444-2222-4333-8444-555555555555\"}",
};

static int setup(void **state)
{
	struct vm_def **fleet = calloc(NFLEET, sizeof(*fleet));
	for (int i = 0; i < NFLEET; i++) {
		struct buf err = BUF_INIT;
		json_t *j = json_loads(fleet_json[i], 0, NULL);
		fleet[i] = j ? vmdef_from_json(j, &err) : NULL;
		json_decref(j);
		if (!fleet[i]) {
			fprintf(stderr, "fleet[%d]: %s\n", i, err.s);
			return -1;
		}
		buf_release(&err);
	}
	*state = fleet;
	return 0;
}

static int teardown(void **state)
{
	struct vm_def **fleet = *state;
	for (int i = 0; i < NFLEET; i++)
		vmdef_free(fleet[i]);
	free(fleet);
	return 0;
}

/* Comma-separated names of the fleet members `s` matches, in fleet order. */
static char *matches(struct vm_def **fleet, const char *s)
{
	struct selector sel = { 0 };
	struct buf err = BUF_INIT, out = BUF_INIT;
	if (selector_parse(s, &sel, &err) < 0)
		fail_msg("selector '%s' rejected: %s", s, err.s);
	for (int i = 0; i < NFLEET; i++)
		if (selector_match(&sel, fleet[i]))
			buf_printf(&out, "%s%s", out.len ? "," : "", fleet[i]->name);
	selector_release(&sel);
	buf_release(&err);
	return buf_detach(&out);
}

static void expect_matches(struct vm_def **fleet, const char *s, const char *want)
{
	__do_free char *got = matches(fleet, s);
	if (strcmp(got, want) != 0)
		fail_msg("selector '%s' matched [%s], want [%s]", s, got, want);
}

static void test_plain(void **state)
{
	struct vm_def **fleet = *state;
	expect_matches(fleet, "web1", "web1");
	expect_matches(fleet, "db1", "db1");
	/* names are case-sensitive */
	expect_matches(fleet, "web3", "");
	expect_matches(fleet, "Web3", "Web3");
	/* no implicit glob or prefix match */
	expect_matches(fleet, "web", "");
	expect_matches(fleet, "web*", "");
	/* a plain uuid, in either case */
	expect_matches(fleet, "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a", "web1");
	expect_matches(fleet, "0B6C5A2E-1F3D-4C5B-9A7E-8D6F5E4C3B2A", "web1");
	/* a uuid prefix is not a uuid */
	expect_matches(fleet, "0b6c5a2e", "");

	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(selector_parse("web1", &sel, &err), 0);
	assert_int_equal(sel.kind, SEL_PLAIN);
	assert_string_equal(sel.value, "web1");
	assert_true(selector_is_single(&sel));
	selector_release(&sel);
	assert_null(sel.value);
	selector_release(&sel); /* twice is harmless */
	buf_release(&err);
}

static void test_name_glob(void **state)
{
	struct vm_def **fleet = *state;
	expect_matches(fleet, "name:web*", "web1,web2,webster");
	expect_matches(fleet, "name:web?", "web1,web2");
	expect_matches(fleet, "name:*1", "web1,db1");
	expect_matches(fleet, "name:[Ww]eb3", "Web3");
	expect_matches(fleet, "name:*", "web1,web2,webster,db1,Web3");
	expect_matches(fleet, "name:web1", "web1");
	expect_matches(fleet, "name:nothing*", "");
	/* globs apply to names, never to uuids */
	expect_matches(fleet, "name:0b6c*", "");

	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(selector_parse("name:web*", &sel, &err), 0);
	assert_int_equal(sel.kind, SEL_NAME_GLOB);
	assert_string_equal(sel.value, "web*");
	assert_false(selector_is_single(&sel));
	selector_release(&sel);
	buf_release(&err);
}

static void test_uuid(void **state)
{
	struct vm_def **fleet = *state;
	expect_matches(fleet, "uuid:0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a", "web1");
	expect_matches(fleet, "uuid:0B6C5A2E-1F3D-4C5B-9A7E-8D6F5E4C3B2A", "web1");
	expect_matches(fleet, "uuid:11111111-2222-4333-8444-555555555555", "web2");
	/* uuid: never matches names, nor globs */
	expect_matches(fleet, "uuid:web1", "");
	expect_matches(fleet, "uuid:*", "");
	expect_matches(fleet, "uuid:0b6c5a2e", "");

	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(selector_parse("uuid:11111111-2222-4333-8444-555555555555", &sel, &err), 0);
	assert_int_equal(sel.kind, SEL_UUID);
	assert_true(selector_is_single(&sel));
	selector_release(&sel);
	buf_release(&err);
}

static void test_tag(void **state)
{
	struct vm_def **fleet = *state;
	expect_matches(fleet, "tag:prod", "web1,web2,db1");
	expect_matches(fleet, "tag:web", "web1");
	expect_matches(fleet, "tag:staging", "webster");
	expect_matches(fleet, "tag:db", "db1");
	/* exact, case-sensitive, no globbing */
	expect_matches(fleet, "tag:Prod", "");
	expect_matches(fleet, "tag:pro", "");
	expect_matches(fleet, "tag:p*", "");
	expect_matches(fleet, "tag:none", "");

	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(selector_parse("tag:prod", &sel, &err), 0);
	assert_int_equal(sel.kind, SEL_TAG);
	assert_string_equal(sel.value, "prod");
	assert_false(selector_is_single(&sel));
	selector_release(&sel);
	buf_release(&err);
}

static void expect_bad(const char *s, const char *needle)
{
	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	if (selector_parse(s, &sel, &err) == 0) {
		selector_release(&sel);
		fail_msg("selector '%s' accepted", s ? s : "(null)");
	}
	if (!strstr(err.s, needle))
		fail_msg("error for '%s' is \"%s\", missing \"%s\"", s ? s : "(null)", err.s, needle);
	assert_null(sel.value);
	buf_release(&err);
}

static void test_bad_selectors(void **state)
{
	(void)state;
	expect_bad("", "selector");
	expect_bad(NULL, "selector");
	expect_bad("foo:bar", "foo:bar");
	expect_bad("foo:bar", "prefix");
	expect_bad("Name:web", "prefix");
	expect_bad("tags:prod", "prefix");
	expect_bad(":web", "prefix");
	expect_bad("name:", "name:");
	expect_bad("uuid:", "uuid:");
	expect_bad("tag:", "tag:");
	expect_bad("web\x01", "selector");
	expect_bad("name:web\n", "selector");
	expect_bad("tag:\x7f", "selector");
	expect_bad("\t", "selector");

	char big[300];
	memset(big, 'a', 256);
	big[256] = '\0';
	expect_bad(big, "selector");
	/* 255 is still fine */
	big[255] = '\0';
	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	assert_int_equal(selector_parse(big, &sel, &err), 0);
	selector_release(&sel);
	buf_release(&err);

	/* the error for a long unknown prefix stays short */
	memset(big, 'x', 250);
	memcpy(big + 100, ":y", 2);
	big[250] = '\0';
	err = (struct buf)BUF_INIT;
	assert_int_equal(selector_parse(big, &sel, &err), -1);
	assert_true(err.len < 200);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_name_glob),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_tag),
		cmocka_unit_test(test_bad_selectors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
