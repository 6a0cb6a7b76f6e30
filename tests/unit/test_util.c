/*
 * test_util.c - the small utilities every other module leans on: the
 * growable buffer, name and size parsing, strict JSON getters, the command
 * runner (dry-run recording and real runs of /bin programs), filesystem
 * helpers and timestamps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* ---- buf ---- */

static void test_buf_basics(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;

	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	buf_adds(&b, "abc");
	buf_addch(&b, '-');
	buf_add(&b, "xyz", 2);
	buf_printf(&b, "/%d/%s", 42, "q");
	assert_string_equal(b.s, "abc-xy/42/q");
	assert_int_equal(b.len, strlen("abc-xy/42/q"));

	buf_reset(&b);
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	buf_adds(&b, "again");
	assert_string_equal(b.s, "again");

	char *s = buf_detach(&b);
	assert_string_equal(s, "again");
	assert_string_equal(b.s, "");
	assert_int_equal(b.len, 0);
	free(s);

	/* detach of an untouched buf still gives a heap string */
	s = buf_detach(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	buf_release(&b);
	buf_release(&b); /* idempotent */
	assert_string_equal(b.s, "");
}

static void test_buf_grows_and_embeds_nul(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;

	for (int i = 0; i < 10000; i++)
		buf_addch(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 10000);
	assert_int_equal(strlen(b.s), 10000);
	assert_int_equal(b.s[9999], 'a' + 9999 % 26);

	buf_reset(&b);
	buf_add(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.s, "a\0b", 4);

	/* a long printf goes through the grow path */
	buf_reset(&b);
	buf_printf(&b, "%5000d|", 7);
	assert_int_equal(b.len, 5001);
	assert_int_equal(b.s[5000], '|');
	buf_release(&b);

	char *x = xasprintf("%s-%03d", "vm", 7);
	assert_string_equal(x, "vm-007");
	free(x);
}

/* ---- strutil: names ---- */

static void test_name_valid(void **state)
{
	(void)state;
	char n63[64];
	memset(n63, 'a', 63);
	n63[63] = '\0';

	assert_null(str_name_invalid("a"));
	assert_null(str_name_invalid("web-1.example_2"));
	assert_null(str_name_invalid("A9"));
	assert_null(str_name_invalid("x.."));
	assert_null(str_name_invalid(n63));
}

static void test_name_invalid(void **state)
{
	(void)state;
	char n64[65];
	memset(n64, 'a', 64);
	n64[64] = '\0';
	const char *bad[] = {
		"", "../x", "..", ".", ".hidden", "-rf", "a/b", "/abs", "a b", "a,b", "a:b", "a\\b",
		"\x01", "a\x01", "a\n", "a\x7f", "a*", "a?", "caf\xc3\xa9", n64,
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const char *why = str_name_invalid(bad[i]);
		if (!why)
			fail_msg("name \"%s\" (#%zu) was accepted", bad[i], i);
		assert_true(strlen(why) > 0);
	}
	assert_non_null(str_name_invalid(NULL));
	assert_contains(str_name_invalid(n64), "63");
	assert_contains(str_name_invalid(""), "empty");
}

/* ---- strutil: sizes ---- */

static void test_parse_size_ok(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t unit;
		uint64_t want;
	} cases[] = {
		{ "0", 1, 0 },
		{ "512", 1, 512 },
		{ "256", 1024 * 1024, 256ULL << 20 },
		{ "1K", 1, 1024 },
		{ "1k", 1, 1024 },
		{ "1KiB", 1, 1024 },
		{ "1KB", 1, 1024 },
		{ "1kb", 1, 1024 },
		{ "10M", 1, 10ULL << 20 },
		{ "10MiB", 1024, 10ULL << 20 },
		{ "2G", 1, 2ULL << 30 },
		{ "2g", 1, 2ULL << 30 },
		{ "3T", 1, 3ULL << 40 },
		{ "100B", 1024 * 1024, 100 },
		{ "16777215T", 1, 16777215ULL << 40 },
		{ "18446744073709551615", 1, UINT64_MAX },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t out = 12345;
		int r = str_parse_size(cases[i].in, cases[i].unit, &out);
		if (r != 0)
			fail_msg("\"%s\" rejected (%d)", cases[i].in, r);
		if (out != cases[i].want)
			fail_msg("\"%s\" -> %llu, want %llu", cases[i].in, (unsigned long long)out,
				 (unsigned long long)cases[i].want);
	}
}

/* Network rates: bits per second, SI units (str_parse_rate). */
static void test_parse_rate(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t want;
	} ok[] = {
		{ "0", 0 },          { "8000", 8000 },        { "10k", 10000 },
		{ "10K", 10000 },    { "10M", 10000000 },     { "10m", 10000000 },
		{ "10Mbit", 10000000 }, { "10Mbit/s", 10000000 }, { "2Gbps", 2000000000 },
		{ "1T", 1000000000000ULL }, { "500bit", 500 },
		{ "18446744073709551615", UINT64_MAX },
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		uint64_t out = 12345;
		int r = str_parse_rate(ok[i].in, &out);
		if (r != 0 || out != ok[i].want)
			fail_msg("\"%s\" -> %d %llu, want %llu", ok[i].in, r, (unsigned long long)out,
				 (unsigned long long)ok[i].want);
	}
	static const char *const inval[] = { "", "M", "-1", "+1", " 1", "1 M", "1.5M", "1MB", "1MiB", "1Mx",
					     "1bits", "0x10", "1e3", "abc", "10Mbit/", "10X" };
	for (size_t i = 0; i < ARRAY_SIZE(inval); i++) {
		uint64_t out = 777;
		if (str_parse_rate(inval[i], &out) != -EINVAL)
			fail_msg("\"%s\" accepted", inval[i]);
		assert_int_equal(out, 777);
	}
	uint64_t out = 777;
	assert_int_equal(str_parse_rate("18446744073709552T", &out), -ERANGE);
	assert_int_equal(str_parse_rate("99999999999999999999999", &out), -ERANGE);
	assert_int_equal(str_parse_rate(NULL, &out), -EINVAL);
	assert_int_equal(out, 777);
}

static void test_parse_size_bad(void **state)
{
	(void)state;
	static const char *const inval[] = {
		"", "12X", "1.5G", "G", "-1", "+1", " 1", "1 G", "1G ", "1GG", "1Gx", "1iB", "1Bi", "0x10", "1e3", "abc",
	};
	for (size_t i = 0; i < ARRAY_SIZE(inval); i++) {
		uint64_t out = 777;
		int r = str_parse_size(inval[i], 1, &out);
		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d, want -EINVAL", inval[i], r);
		assert_int_equal(out, 777);
	}
	static const char *const range[] = {
		"99999999999T", "16777216T", "18446744073709551616", "99999999999999999999999", "17179869184G",
	};
	for (size_t i = 0; i < ARRAY_SIZE(range); i++) {
		uint64_t out = 777;
		int r = str_parse_size(range[i], 1, &out);
		if (r != -ERANGE)
			fail_msg("\"%s\" gave %d, want -ERANGE", range[i], r);
		assert_int_equal(out, 777);
	}
	uint64_t out = 777;
	assert_int_equal(str_parse_size(NULL, 1, &out), -EINVAL);
	/* a bare number overflowing through the default unit */
	assert_int_equal(str_parse_size("18446744073709551615", 1024, &out), -ERANGE);
	assert_int_equal(out, 777);
}

static void test_fmt_size(void **state)
{
	(void)state;
	char b[32];
	assert_string_equal(str_fmt_size(0, b, sizeof(b)), "0B");
	assert_string_equal(str_fmt_size(1023, b, sizeof(b)), "1023B");
	assert_string_equal(str_fmt_size(1024, b, sizeof(b)), "1K");
	assert_string_equal(str_fmt_size(1536, b, sizeof(b)), "1.5K");
	assert_string_equal(str_fmt_size(256ULL << 20, b, sizeof(b)), "256M");
	assert_string_equal(str_fmt_size(3ULL << 29, b, sizeof(b)), "1.5G");
	assert_string_equal(str_fmt_size(10ULL << 30, b, sizeof(b)), "10G");
	assert_string_equal(str_fmt_size(2ULL << 40, b, sizeof(b)), "2T");
	assert_string_equal(str_fmt_size(5ULL << 50, b, sizeof(b)), "5P");
	/* PiB is the largest unit */
	assert_string_equal(str_fmt_size(2048ULL << 50, b, sizeof(b)), "2048P");
	/* the result parses back to the same size when it is a whole number of units */
	uint64_t v;
	assert_int_equal(str_parse_size(str_fmt_size(256ULL << 20, b, sizeof(b)), 1, &v), 0);
	assert_int_equal(v, 256ULL << 20);
}

static void test_glob_and_control(void **state)
{
	(void)state;
	assert_true(str_glob_match("web*", "web1"));
	assert_true(str_glob_match("web*", "web"));
	assert_true(str_glob_match("w?b[0-9]", "wab7"));
	assert_false(str_glob_match("web*", "db1"));
	assert_false(str_glob_match("web", "web1"));
	assert_true(str_glob_match("*", "anything"));

	assert_false(str_has_control(""));
	assert_false(str_has_control("plain text, ünïcode"));
	assert_true(str_has_control("a\tb"));
	assert_true(str_has_control("\x1f"));
	assert_true(str_has_control("x\x7f"));
	assert_true(str_has_control("line\n"));
}

/* ---- jsonutil ---- */

static void test_distance(void **state)
{
	(void)state;
	assert_int_equal(str_distance("", ""), 0);
	assert_int_equal(str_distance("list", "list"), 0);
	assert_int_equal(str_distance("lsit", "list"), 1);	/* a swap */
	assert_int_equal(str_distance("delte", "delete"), 1);
	assert_int_equal(str_distance("stat", "start"), 1);
	assert_int_equal(str_distance("snapshto", "snapshot"), 1);
	assert_int_equal(str_distance("kitten", "sitting"), 3);
	assert_int_equal(str_distance("", "abc"), 3);
	char long_word[80];
	memset(long_word, 'a', sizeof(long_word) - 1);
	long_word[sizeof(long_word) - 1] = '\0';
	assert_true(str_distance(long_word, "a") == SIZE_MAX);
}

static void test_json_array_has_string(void **state)
{
	(void)state;
	json_t *a = json_pack("[s, i, s]", "vm-d", 3, "vm-e");
	assert_true(json_array_has_string(a, "vm-e"));
	assert_false(json_array_has_string(a, "vm"));
	assert_false(json_array_has_string(a, NULL));
	assert_false(json_array_has_string(NULL, "vm-d"));
	assert_false(json_array_has_string(json_object_get(a, "x"), "vm-d"));
	json_decref(a);
}

static void test_json_check_keys(void **state)
{
	(void)state;
	static const char *const allowed[] = { "a", "b", NULL };
	struct buf err = BUF_INIT;
	json_t *ok = json_pack("{s:i,s:i}", "a", 1, "b", 2);
	json_t *empty = json_object();
	json_t *extra = json_pack("{s:i,s:i}", "a", 1, "zzz", 2);
	json_t *arr = json_array();

	assert_int_equal(json_check_keys(ok, "the thing", allowed, &err), 0);
	assert_int_equal(json_check_keys(empty, "the thing", allowed, &err), 0);
	assert_int_equal(err.len, 0);

	assert_int_equal(json_check_keys(extra, "the thing", allowed, &err), -1);
	assert_contains(err.s, "zzz");
	assert_contains(err.s, "the thing");

	buf_reset(&err);
	assert_int_equal(json_check_keys(arr, "the thing", allowed, &err), -1);
	assert_contains(err.s, "the thing must be a JSON object");
	buf_reset(&err);
	assert_int_equal(json_check_keys(NULL, "the thing", allowed, &err), -1);
	assert_contains(err.s, "object");

	json_decref(ok);
	json_decref(empty);
	json_decref(extra);
	json_decref(arr);
	buf_release(&err);
}

static void test_json_getters(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_error_t je;
	json_t *o = json_loads("{\"s\":\"str\",\"nul\":\"a\\u0000b\",\"t\":true,\"f\":false,\"i\":42,"
			       "\"neg\":-5,\"r\":2.0,\"n\":null,\"si\":\"7\",\"big\":9223372036854775807}",
			       JSON_ALLOW_NUL, &je);
	assert_non_null(o);

	const char *s = "untouched";
	assert_int_equal(json_get_str(o, "missing", &s, &err), 0);
	assert_string_equal(s, "untouched");
	assert_int_equal(json_get_str(o, "s", &s, &err), 1);
	assert_string_equal(s, "str");
	assert_int_equal(err.len, 0);
	assert_int_equal(json_get_str(o, "i", &s, &err), -1);
	assert_contains(err.s, "'i'");
	buf_reset(&err);
	assert_int_equal(json_get_str(o, "n", &s, &err), -1);
	assert_contains(err.s, "'n'");
	buf_reset(&err);
	assert_int_equal(json_get_str(o, "nul", &s, &err), -1);
	assert_contains(err.s, "'nul'");
	buf_reset(&err);

	bool b = true;
	assert_int_equal(json_get_bool(o, "missing", &b, &err), 0);
	assert_true(b);
	assert_int_equal(json_get_bool(o, "f", &b, &err), 1);
	assert_false(b);
	assert_int_equal(json_get_bool(o, "t", &b, &err), 1);
	assert_true(b);
	assert_int_equal(json_get_bool(o, "i", &b, &err), -1);
	assert_contains(err.s, "'i'");
	buf_reset(&err);
	assert_int_equal(json_get_bool(o, "s", &b, &err), -1);
	buf_reset(&err);

	int64_t v = 99;
	assert_int_equal(json_get_int(o, "missing", 0, 100, &v, &err), 0);
	assert_int_equal(v, 99);
	assert_int_equal(json_get_int(o, "i", 0, 100, &v, &err), 1);
	assert_int_equal(v, 42);
	assert_int_equal(json_get_int(o, "i", 42, 42, &v, &err), 1);
	assert_int_equal(json_get_int(o, "i", 43, 100, &v, &err), -1);
	assert_contains(err.s, "'i'");
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "i", 0, 41, &v, &err), -1);
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "neg", 0, 100, &v, &err), -1);
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "r", 0, 100, &v, &err), -1);
	assert_contains(err.s, "'r'");
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "si", 0, 100, &v, &err), -1);
	assert_contains(err.s, "'si'");
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "big", 0, INT32_MAX, &v, &err), -1);
	buf_reset(&err);
	assert_int_equal(json_get_int(o, "big", INT64_MIN, INT64_MAX, &v, &err), 1);
	assert_true(v == INT64_MAX);

	json_decref(o);
	buf_release(&err);
}

static void test_json_parse_object(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *j;

	j = json_parse_object("", 0, &err);
	assert_non_null(j);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), 0);
	json_decref(j);

	j = json_parse_object("{\"a\":1}", 7, &err);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
	/* length is honoured: trailing bytes beyond len are not read */
	j = json_parse_object("{\"a\":1}garbage", 7, &err);
	assert_non_null(j);
	json_decref(j);

	static const char *const bad[] = { "[1,2]", "\"str\"", "42", "null", "{", "{\"a\":1,\"a\":2}", "{\"a\":}",
					   "{} {}" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		j = json_parse_object(bad[i], strlen(bad[i]), &err);
		if (j)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(err.len > 0);
	}
	buf_reset(&err);
	assert_null(json_parse_object("{\"a\":1,\"a\":2}", 13, &err));
	assert_contains(err.s, "duplicate");
	buf_reset(&err);
	assert_null(json_parse_object("[]", 2, &err));
	assert_contains(err.s, "object");

	j = json_pack("{s:s}", "k", "v\"q");
	char *s = json_to_string(j);
	assert_string_equal(s, "{\"k\":\"v\\\"q\"}");
	free(s);
	json_decref(j);
	buf_release(&err);
}

/* ---- cmd ---- */

static void test_cmd_build(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	cmd_add(&c, "qemu-img");
	cmd_add(&c, "create");
	cmd_addf(&c, "%lluM", 512ULL);
	cmd_add(&c, "a b");
	assert_int_equal(c.argc, 4);
	assert_null(c.argv[4]);
	assert_string_equal(c.argv[2], "512M");
	char *s = cmd_to_string(&c);
	assert_string_equal(s, "qemu-img create 512M a b");
	free(s);

	/* enough arguments to force several reallocations */
	for (int i = 0; i < 100; i++)
		cmd_addf(&c, "%d", i);
	assert_int_equal(c.argc, 104);
	assert_string_equal(c.argv[103], "99");
	assert_null(c.argv[104]);
	cmd_release(&c);
	assert_int_equal(c.argc, 0);
	assert_null(c.argv);
	cmd_release(&c);
}

static void test_cmd_dry_run(void **state)
{
	(void)state;
	struct buf rec = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	struct cmd a = CMD_INIT, b = CMD_INIT;

	cmd_add(&a, "/nonexistent/program");
	cmd_add(&a, "--flag");
	cmd_add(&b, "qemu-img");
	cmd_add(&b, "info");

	cmd_set_dry_run(&rec, 0);
	assert_int_equal(cmd_run(&a, &out, &err), 0);
	assert_int_equal(cmd_run(&b, NULL, NULL), 0);
	cmd_set_dry_run(&rec, 3);
	assert_int_equal(cmd_run(&b, &out, &err), 3);
	cmd_set_dry_run(NULL, 0);

	assert_string_equal(rec.s, "/nonexistent/program --flag\nqemu-img info\nqemu-img info\n");
	assert_int_equal(out.len, 0);
	assert_int_equal(err.len, 0);

	/* disabled again: the missing program really is missing */
	assert_int_equal(cmd_run(&a, &out, &err), -ENOENT);
	assert_string_equal(rec.s, "/nonexistent/program --flag\nqemu-img info\nqemu-img info\n");

	cmd_release(&a);
	cmd_release(&b);
	buf_release(&rec);
	buf_release(&out);
	buf_release(&err);
}

static void test_cmd_run_status(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;

	cmd_add(&c, "true");
	assert_int_equal(cmd_run(&c, &out, &err), 0);
	cmd_release(&c);

	cmd_add(&c, "false");
	assert_int_equal(cmd_run(&c, &out, &err), 1);
	cmd_release(&c);

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "exit 42");
	assert_int_equal(cmd_run(&c, NULL, NULL), 42);
	cmd_release(&c);

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "kill -TERM $$");
	assert_int_equal(cmd_run(&c, NULL, NULL), 128 + 15);
	cmd_release(&c);

	struct cmd empty = CMD_INIT;
	assert_true(cmd_run(&empty, NULL, NULL) < 0);

	buf_release(&out);
	buf_release(&err);
}

static void test_cmd_run_missing(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;

	cmd_add(&c, "corral-no-such-program-xyz");
	assert_int_equal(cmd_run(&c, &out, &err), -ENOENT);
	cmd_release(&c);

	cmd_add(&c, "/nonexistent/dir/prog");
	cmd_add(&c, "arg");
	assert_int_equal(cmd_run(&c, &out, &err), -ENOENT);
	/* the contract does not depend on the caller capturing stderr */
	assert_int_equal(cmd_run(&c, NULL, NULL), -ENOENT);
	cmd_release(&c);

	buf_release(&out);
	buf_release(&err);
}

static void test_cmd_run_not_executable(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/corral-test-noexec-XXXXXX";
	int fd = mkstemp(tmpl);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 18), 18);
	close(fd);
	assert_int_equal(chmod(tmpl, 0644), 0);

	struct cmd c = CMD_INIT;
	struct buf err = BUF_INIT;
	cmd_add(&c, tmpl);
	/* "-errno when the program could not be started": not -ENOENT, the file exists */
	int r = cmd_run(&c, NULL, &err);
	unlink(tmpl);
	assert_int_equal(r, -EACCES);
	cmd_release(&c);
	buf_release(&err);
}

static void test_cmd_run_capture(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "printf 'to out\\n'; printf 'to err' >&2; printf 'more out'; exit 3");
	assert_int_equal(cmd_run(&c, &out, &err), 3);
	assert_string_equal(out.s, "to out\nmore out");
	assert_string_equal(err.s, "to err");
	cmd_release(&c);

	/* stdin is /dev/null: cat ends at once with nothing */
	buf_reset(&out);
	buf_reset(&err);
	cmd_add(&c, "cat");
	assert_int_equal(cmd_run(&c, &out, &err), 0);
	assert_int_equal(out.len, 0);
	cmd_release(&c);

	/* no shell in between: metacharacters reach the program verbatim */
	cmd_add(&c, "printf");
	cmd_add(&c, "%s|");
	cmd_add(&c, "$HOME; rm -rf /");
	cmd_add(&c, "a b");
	assert_int_equal(cmd_run(&c, &out, NULL), 0);
	assert_string_equal(out.s, "$HOME; rm -rf /|a b|");
	cmd_release(&c);

	/* large output on both pipes at once does not deadlock */
	buf_reset(&out);
	buf_reset(&err);
	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "head -c 300000 /dev/zero; head -c 200000 /dev/zero >&2; head -c 300000 /dev/zero");
	assert_int_equal(cmd_run(&c, &out, &err), 0);
	assert_int_equal(out.len, 600000);
	assert_int_equal(err.len, 200000);
	cmd_release(&c);

	/* more than 1 MiB: capture is capped, the program still finishes */
	buf_reset(&out);
	cmd_add(&c, "head");
	cmd_add(&c, "-c");
	cmd_add(&c, "3000000");
	cmd_add(&c, "/dev/zero");
	assert_int_equal(cmd_run(&c, &out, NULL), 0);
	assert_true(out.len >= (1u << 20));
	assert_true(out.len <= (1u << 20) + 4096); /* read granularity */
	cmd_release(&c);

	buf_release(&out);
	buf_release(&err);
}

struct stream_seen {
	struct buf data;
	int calls;
};

static int on_chunk(const char *data, size_t len, void *opaque)
{
	struct stream_seen *s = opaque;
	if (data) {
		buf_add(&s->data, data, len);
		s->calls++;
	}
	return 0;
}

/* Asks to stop at the first quiet tick. */
static int stop_on_tick(const char *data, size_t len, void *opaque)
{
	(void)len;
	int *ticks = opaque;
	return !data && ++*ticks >= 1;
}

static void test_cmd_run_stream(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct buf err = BUF_INIT;
	struct stream_seen seen = { BUF_INIT, 0 };

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "printf '10%%\\n'; sleep 0.1; printf '100%%\\n'; printf oops >&2");
	assert_int_equal(cmd_run_stream(&c, on_chunk, &seen, &err), 0);
	assert_string_equal(seen.data.s, "10%\n100%\n");
	assert_true(seen.calls >= 1);
	assert_string_equal(err.s, "oops");
	cmd_release(&c);
	buf_release(&seen.data);
	buf_release(&err);
}

/* A stream callback that answers non-zero stops the program at once (a job's cancel). */
static void test_cmd_run_stream_stop(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct buf err = BUF_INIT;
	int ticks = 0;
	int64_t t0 = time_mono_ms();

	cmd_add(&c, "sleep");
	cmd_add(&c, "30");
	assert_int_equal(cmd_run_stream(&c, stop_on_tick, &ticks, &err), -ECANCELED);
	assert_true(time_mono_ms() - t0 < 5000);
	assert_int_equal(ticks, 1);
	cmd_release(&c);
	buf_release(&err);
}

/* ---- fsutil ---- */

/* A fresh temporary directory per test, removed even when the test fails. */
static int tmpdir_setup(void **state)
{
	char *dir = xstrdup("/tmp/corral-test-util-XXXXXX");
	if (!mkdtemp(dir)) {
		free(dir);
		return -1;
	}
	*state = dir;
	return 0;
}

static int tmpdir_teardown(void **state)
{
	char *dir = *state;
	char *rm = xasprintf("rm -rf '%s'", dir);
	int r = system(rm);
	free(rm);
	free(dir);
	return r == 0 ? 0 : -1;
}

static void test_fsutil(void **state)
{
	const char *dir = *state;
	struct buf b = BUF_INIT;

	__do_free char *deep = xasprintf("%s/a/b/c", dir);
	assert_int_equal(fs_mkdir_p(deep, 0755), 0);
	assert_true(fs_exists(deep));
	assert_int_equal(fs_mkdir_p(deep, 0755), 0); /* already there */

	__do_free char *f = xasprintf("%s/a/file", dir);
	assert_false(fs_exists(f));
	assert_int_equal(fs_write_file_atomic(f, "hello\0x", 7, 0600), 0);
	assert_true(fs_exists(f));
	struct stat st;
	assert_int_equal(stat(f, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fs_read_file(f, 100, &b), 0);
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.s, "hello\0x", 7);

	/* replace */
	assert_int_equal(fs_write_file_atomic(f, "bye", 3, 0600), 0);
	buf_reset(&b);
	assert_int_equal(fs_read_file(f, 100, &b), 0);
	assert_string_equal(b.s, "bye");

	/* too big */
	buf_reset(&b);
	assert_int_equal(fs_read_file(f, 2, &b), -EFBIG);
	buf_reset(&b);
	assert_int_equal(fs_read_file(f, 3, &b), 0);

	__do_free char *missing = xasprintf("%s/nope", dir);
	assert_int_equal(fs_read_file(missing, 100, &b), -ENOENT);
	__do_free char *under_missing = xasprintf("%s/nope/x", dir);
	assert_int_equal(fs_write_file_atomic(under_missing, "x", 1, 0600), -ENOENT);

	/* a component that is a regular file */
	__do_free char *through_file = xasprintf("%s/x/y", f);
	assert_int_equal(fs_mkdir_p(through_file, 0755), -ENOTDIR);

	__do_free char *abs1 = fs_absolute("/x/y");
	assert_string_equal(abs1, "/x/y");
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	__do_free char *abs2 = fs_absolute("rel/p");
	__do_free char *want = xasprintf("%s/rel/p", cwd);
	assert_string_equal(abs2, want);

	buf_release(&b);
}

static void test_fsutil_mkdir_p_over_file(void **state)
{
	const char *dir = *state;
	__do_free char *f = xasprintf("%s/file", dir);
	assert_int_equal(fs_write_file_atomic(f, "x", 1, 0600), 0);
	/* mkdir -p of a path that exists as a regular file fails, like mkdir -p(1) */
	assert_true(fs_mkdir_p(f, 0755) < 0);
}

/* ---- URL decoding ---- */

static void test_url_encode(void **state)
{
	(void)state;
	char *out = str_url_encode("../x y\x01/\xc3\xa9~A-z_0.");
	assert_string_equal(out, "..%2Fx%20y%01%2F%C3%A9~A-z_0.");
	char *back = NULL;
	assert_int_equal(str_url_decode(out, strlen(out), false, &back), 0);
	assert_string_equal(back, "../x y\x01/\xc3\xa9~A-z_0.");
	free(back);
	free(out);
	out = str_url_encode("");
	assert_string_equal(out, "");
	free(out);
}

static void test_uuid_valid(void **state)
{
	(void)state;
	assert_true(str_uuid_valid("0a1b2c3d-4e5f-6789-abcd-EF0123456789"));
	assert_false(str_uuid_valid(NULL));
	assert_false(str_uuid_valid(""));
	assert_false(str_uuid_valid("0a1b2c3d-4e5f-6789-abcd-EF012345678"));   /* short */
	assert_false(str_uuid_valid("0a1b2c3d-4e5f-6789-abcd-EF01234567890")); /* long */
	assert_false(str_uuid_valid("0a1b2c3d04e5f-6789-abcd-EF0123456789"));  /* a dash missing */
	assert_false(str_uuid_valid("0a1b2c3d-4e5f-6789-abcd-EF012345678g"));  /* not hex */
	assert_false(str_uuid_valid("../../../../../../../../../../etc/x"));
}

static void test_url_decode(void **state)
{
	(void)state;
	char *out = NULL;
	assert_int_equal(str_url_decode("a%20b+c%2Fd%c3%a9", 17, true, &out), 0);
	assert_string_equal(out, "a b c/d\xc3\xa9");
	free(out);
	assert_int_equal(str_url_decode("a+b", 3, false, &out), 0);
	assert_string_equal(out, "a+b");
	free(out);
	assert_int_equal(str_url_decode("x%41yz", 5, false, &out), 0); /* only len bytes */
	assert_string_equal(out, "xAy");
	free(out);
	assert_int_equal(str_url_decode("", 0, true, &out), 0);
	assert_string_equal(out, "");
	free(out);
	out = NULL;
	static const char *const bad[] = { "%", "%4", "a%zz", "%g1", "%00", "x%2" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(str_url_decode(bad[i], strlen(bad[i]), true, &out), -EINVAL);
	assert_null(out);
}

/* ---- the open-files limit ---- */

static void test_nofile_raise(void **state)
{
	(void)state;
	struct rlimit rl;
	unsigned long limit;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max > 64) { /* start below the hard limit to see it raised */
		struct rlimit low = { .rlim_cur = 64, .rlim_max = rl.rlim_max };
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	}
	assert_int_equal(fs_nofile_raise(&limit), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true(rl.rlim_cur == rl.rlim_max);
	assert_true(limit == (unsigned long)rl.rlim_cur);
}

/* ---- timeutil ---- */

static void test_time(void **state)
{
	(void)state;
	char b[40];
	assert_string_equal(time_fmt_rfc3339(0, b, sizeof(b)), "1970-01-01T00:00:00.000Z");
	assert_string_equal(time_fmt_rfc3339(1795307726123LL, b, sizeof(b)), "2026-11-22T00:35:26.123Z");
	assert_string_equal(time_fmt_rfc3339(1000000000007LL, b, sizeof(b)), "2001-09-09T01:46:40.007Z");

	int64_t w = time_wall_ms();
	assert_true(w > 1700000000000LL);
	int64_t m0 = time_mono_ms();
	time_sleep_ms(20);
	int64_t m1 = time_mono_ms();
	assert_true(m1 - m0 >= 20);
	assert_true(m1 - m0 < 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_basics),
		cmocka_unit_test(test_buf_grows_and_embeds_nul),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_name_invalid),
		cmocka_unit_test(test_parse_size_ok),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_parse_rate),
		cmocka_unit_test(test_fmt_size),
		cmocka_unit_test(test_glob_and_control),
		cmocka_unit_test(test_distance),
		cmocka_unit_test(test_json_array_has_string),
		cmocka_unit_test(test_json_check_keys),
		cmocka_unit_test(test_json_getters),
		cmocka_unit_test(test_json_parse_object),
		cmocka_unit_test(test_cmd_build),
		cmocka_unit_test(test_cmd_dry_run),
		cmocka_unit_test(test_cmd_run_status),
		cmocka_unit_test(test_cmd_run_missing),
		cmocka_unit_test(test_cmd_run_not_executable),
		cmocka_unit_test(test_cmd_run_capture),
		cmocka_unit_test(test_cmd_run_stream),
		cmocka_unit_test(test_cmd_run_stream_stop),
		cmocka_unit_test_setup_teardown(test_fsutil, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_fsutil_mkdir_p_over_file, tmpdir_setup, tmpdir_teardown),
		cmocka_unit_test(test_url_decode),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_uuid_valid),
		cmocka_unit_test(test_nofile_raise),
		cmocka_unit_test(test_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
