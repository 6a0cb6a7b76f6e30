/*
 * test_cli_output.c - the CLI's one form for times, ages, sizes and rates
 * (src/cli/output.c), tables as CSV (--format csv) with RFC 4180 quoting,
 * and error lines as JSON with --json (src/cli/errout.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <unistd.h>

#include "cli/errout.h"
#include "cli/output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static void test_time(void **state)
{
	char b[32];
	(void)state;
	assert_string_equal(out_time("2026-12-06T10:36:12.123Z", b, sizeof(b)), "2026-12-06 10:36:12Z");
	assert_string_equal(out_time("2026-12-06T10:36:12Z", b, sizeof(b)), "2026-12-06 10:36:12Z");
	assert_string_equal(out_time(NULL, b, sizeof(b)), "-");
	/* not RFC 3339: shown as it is, never invented */
	assert_string_equal(out_time("tomorrow", b, sizeof(b)), "tomorrow");
	assert_string_equal(out_time_epoch(0, b, sizeof(b)), "1970-01-01 00:00:00Z");
}

static void test_age(void **state)
{
	char t[40], b[32];
	(void)state;
	time_fmt_rfc3339(time_wall_ms() - 125 * 1000, t, sizeof(t));
	out_age(t, b, sizeof(b));
	assert_true(strcmp(b, "2m05s") == 0 || strcmp(b, "2m06s") == 0);
	time_fmt_rfc3339(time_wall_ms() - (2 * 86400 + 4 * 3600 + 60) * 1000LL, t, sizeof(t));
	assert_string_equal(out_age(t, b, sizeof(b)), "2d04h");
	assert_string_equal(out_age("junk", b, sizeof(b)), "-");
	assert_string_equal(out_age(NULL, b, sizeof(b)), "-");
}

static void test_sizes(void **state)
{
	char b[32];
	(void)state;
	assert_string_equal(out_size(256u << 20, b, sizeof(b)), "256M");
	assert_string_equal(out_size(3u << 29, b, sizeof(b)), "1.5G");
	assert_string_equal(out_rate(1.5 * 1024 * 1024, b, sizeof(b)), "1.5M/s");
	assert_string_equal(out_rate(12, b, sizeof(b)), "12B/s");
}

/* Run table_print (CSV mode when csv) into a string. */
static char *printed(const struct table *t, bool csv)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	out_set_csv(csv);
	table_print(t, f);
	out_set_csv(false);
	fclose(f);
	return s;
}

static void test_csv(void **state)
{
	static const char *const h[] = { "NAME", "TAGS", "NOTE" };
	struct table *t = table_new(3, h);
	struct table *kv = table_new_kv();
	char *s;
	(void)state;
	table_add(t, "web1", "prod,web", "say \"hi\"");
	table_add(t, "db", NULL, "two\nlines");
	s = printed(t, true);
	assert_string_equal(s, "NAME,TAGS,NOTE\nweb1,\"prod,web\",\"say \"\"hi\"\"\"\ndb,-,\"two\nlines\"\n");
	free(s);
	s = printed(t, false);
	assert_string_equal(s, "NAME  TAGS      NOTE\nweb1  prod,web  say \"hi\"\ndb    -         two\nlines\n");
	free(s);
	table_add_kv(kv, "state", "%s", "running");
	s = printed(kv, true);
	assert_string_equal(s, "key,value\nstate,running\n");
	free(s);
	table_free(t);
	table_free(kv);
}

/* What errout_print writes to stderr. */
static char *stderr_of(const char *code, const char *msg)
{
	char path[] = "/tmp/test_cli_output.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	struct buf b = BUF_INIT;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	errout_print(code, "%s", msg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	assert_int_equal(fs_read_file(path, 4096, &b), 0);
	unlink(path);
	return buf_detach(&b);
}

static void test_errors(void **state)
{
	char *s;
	json_t *j;
	(void)state;
	s = stderr_of("not_found", "vm 'x' not found");
	assert_string_equal(s, "corral: vm 'x' not found\n");
	free(s);
	errout_set_json(true);
	s = stderr_of("not_found", "vm \"x\"\nnot found");
	assert_true(strchr(s, '\n') == s + strlen(s) - 1); /* exactly one line */
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "not_found");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
			    "vm \"x\"\nnot found");
	json_decref(j);
	free(s);
	errout_set_quiet(true);
	s = stderr_of("failed", "hidden");
	assert_string_equal(s, "");
	free(s);
	errout_set_quiet(false);
	errout_set_json(false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time),	cmocka_unit_test(test_age),    cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_csv),	cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
