/*
 * test_config.c - corrald.conf as administrators write it: defaults equal
 * to what the daemon used before the file existed, a full file with
 * comments, blanks and repeated allow_path, and every way a file is refused
 * (unknown key, bad number, out of range, relative path, bad yes/no, a key
 * set twice, a line without '=', NUL bytes) with the file, line and key in
 * the message; flags on top of the file; and docs/config.md carrying exactly
 * the table corrald --print-config-doc prints.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/http.h"
#include "core/store_local.h"
#include "daemon/config.h"
#include "util/fsutil.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static int parse(struct corrald_config *c, const char *text, struct buf *err)
{
	return cfg_parse(c, "/etc/corral/corrald.conf", text, strlen(text), err);
}

static void test_defaults_match_the_daemon(void **state)
{
	(void)state;
	struct corrald_config c;
	struct http_config h = HTTP_CONFIG_INIT;
	struct store_retention r = STORE_RETENTION_INIT;

	cfg_init(&c);
	assert_string_equal(c.state_dir, "/var/lib/corral");
	assert_string_equal(c.socket, "/run/corral/corral.sock");
	assert_null(c.run_dir);
	assert_null(c.storage_dir);
	assert_string_equal(c.qemu_user, "corral-qemu");
	assert_string_equal(c.image_user, "corral-imgd");
	assert_int_equal(c.image_timeout, 30);
	assert_false(c.debug);
	assert_false(c.state_dir_set);
	assert_int_equal(c.http_workers, h.workers);
	assert_int_equal(c.http_queue, h.queue_len);
	assert_int_equal(c.http_max_connections, h.max_connections);
	assert_int_equal(c.http_idle_timeout, h.idle_timeout_s);
	assert_int_equal(c.http_header_timeout, h.header_timeout_s);
	assert_int_equal(c.http_body_timeout, h.body_timeout_s);
	assert_int_equal(c.events_keep, r.events);
	assert_int_equal(c.jobs_keep, r.jobs);
	assert_int_equal(c.history_days, r.days);
	assert_int_equal(c.allow_path.n, 0);
	assert_false(c.allow_block_devices);
	cfg_release(&c);
}

static void test_full_file(void **state)
{
	(void)state;
	struct corrald_config c;
	struct buf err = BUF_INIT;
	const char *text = "# corrald.conf\n"
			   "\n"
			   "state_dir = /srv/corral\n"
			   "   http_workers=16   \n"
			   "\tqemu_user = qemu\t\r\n"
			   "allow_path = /srv/iso\n"
			   "allow_path = /srv/kernels\n"
			   "  # indented comment\n"
			   "allow_block_devices = yes\n"
			   "jobs_keep = 0\n"
			   "history_days = 7\n"
			   "debug = on\n"
			   "image_timeout = 3600"; /* no newline at the end */

	cfg_init(&c);
	assert_int_equal(parse(&c, text, &err), 0);
	assert_int_equal(err.len, 0);
	assert_string_equal(c.state_dir, "/srv/corral");
	assert_true(c.state_dir_set);
	assert_int_equal(c.http_workers, 16);
	assert_string_equal(c.qemu_user, "qemu");
	assert_int_equal(c.allow_path.n, 2);
	assert_string_equal(c.allow_path.v[0], "/srv/iso");
	assert_string_equal(c.allow_path.v[1], "/srv/kernels");
	assert_true(c.allow_block_devices);
	assert_int_equal(c.jobs_keep, 0);
	assert_int_equal(c.history_days, 7);
	assert_int_equal(c.events_keep, 1000);
	assert_true(c.debug);
	assert_int_equal(c.image_timeout, 3600);
	cfg_release(&c);
	buf_release(&err);
}

/* Each bad file, and what its message must say. */
static void test_bad_files(void **state)
{
	(void)state;
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{ "jobs_keep = 5\nfrobnicate = 1\n", "/etc/corral/corrald.conf:2: unknown key 'frobnicate'" },
		{ "http_workers = 0\n", "corrald.conf:1: http_workers must be a whole number from 1 to 256, not '0'" },
		{ "\n\nhttp_workers = 257\n", "corrald.conf:3: http_workers must be a whole number from 1 to 256" },
		{ "history_days = -1\n", "corrald.conf:1: history_days must be a whole number from 0 to 36500" },
		{ "jobs_keep = 10k\n", "corrald.conf:1: jobs_keep must be a whole number" },
		{ "image_timeout =\n", "corrald.conf:1: image_timeout must be a whole number from 1 to 3600, not ''" },
		{ "http_queue = 99999999999999999999999\n", "corrald.conf:1: http_queue must be a whole number" },
		{ "allow_path = srv/iso\n", "corrald.conf:1: allow_path must be an absolute path, not 'srv/iso'" },
		{ "state_dir = \n", "corrald.conf:1: state_dir must be an absolute path, not ''" },
		{ "qemu_user =\n", "corrald.conf:1: qemu_user must not be empty" },
		{ "debug = maybe\n", "corrald.conf:1: debug must be yes or no, not 'maybe'" },
		{ "qemu_user = a\n# x\nqemu_user = b\n", "corrald.conf:3: qemu_user is set twice (first on line 1)" },
		{ "http_workers 8\n", "corrald.conf:1: expected 'key = value'" },
		{ " = 8\n", "corrald.conf:1: expected 'key = value', found no key" },
		{ "qemu = a\x01b\n", "corrald.conf:1: qemu must not contain control characters" },
		{ "Jobs_Keep = 5\n", "unknown key 'Jobs_Keep'" },
		{ "jobs-keep = 5\n", "unknown key 'jobs-keep'" },
		{ "bad\x1bkey = 1\n", "unknown key 'bad?key'" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct corrald_config c;
		struct buf err = BUF_INIT;
		cfg_init(&c);
		if (parse(&c, cases[i].text, &err) != -EINVAL)
			fail_msg("accepted: %s", cases[i].text);
		assert_contains(err.s, cases[i].msg);
		assert_null(strchr(err.s, '\n'));
		cfg_release(&c);
		buf_release(&err);
	}
	/* a NUL byte: not a text file */
	struct corrald_config c;
	struct buf err = BUF_INIT;
	cfg_init(&c);
	assert_int_equal(cfg_parse(&c, "x.conf", "debug = no\n\0", 12, &err), -EINVAL);
	assert_contains(err.s, "x.conf: contains a NUL byte");
	cfg_release(&c);
	buf_release(&err);
}

static void test_load_and_flags(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_config.XXXXXX";
	struct corrald_config c;
	struct buf err = BUF_INIT;

	assert_non_null(mkdtemp(dir));
	__do_free char *path = xasprintf("%s/corrald.conf", dir);
	__do_free char *missing = xasprintf("%s/none.conf", dir);
	const char *text = "http_workers = 4\nallow_path = /srv/iso\n";
	assert_int_equal(fs_write_file_atomic(path, text, strlen(text), 0600), 0);

	cfg_init(&c);
	/* the default file may be missing; a file named with --config may not */
	assert_int_equal(cfg_load(&c, missing, false, &err), 0);
	assert_int_equal(err.len, 0);
	assert_int_equal(cfg_load(&c, missing, true, &err), -ENOENT);
	assert_contains(err.s, "none.conf");
	buf_reset(&err);
	assert_int_equal(cfg_load(&c, path, true, &err), 0);
	assert_int_equal(c.http_workers, 4);

	/* flags after the file: a value replaces, a list entry adds */
	assert_int_equal(cfg_set(&c, cfg_key_find("http_workers"), "12", true, "--http-workers", &err), 0);
	assert_int_equal(c.http_workers, 12);
	assert_int_equal(cfg_set(&c, cfg_key_find("allow_path"), "rel/dir", true, "--allow-path", &err), 0);
	assert_int_equal(c.allow_path.n, 2);
	assert_string_equal(c.allow_path.v[0], "/srv/iso");
	assert_true(c.allow_path.v[1][0] == '/');
	assert_non_null(strstr(c.allow_path.v[1], "/rel/dir"));
	assert_int_equal(cfg_set(&c, cfg_key_find("http_workers"), "0", true, "--http-workers", &err), -EINVAL);
	assert_string_equal(err.s, "--http-workers must be a whole number from 1 to 256, not '0'");
	assert_int_equal(c.http_workers, 12);
	cfg_release(&c);
	unlink(path);
	rmdir(dir);
	buf_release(&err);
}

/* The table's own defaults parse, and flags and keys name the same settings. */
static void test_table(void **state)
{
	(void)state;
	size_t n;
	const struct cfg_key *k = cfg_keys(&n);
	struct buf usage = BUF_INIT;

	cfg_usage(&usage);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(cfg_key_find(k[i].name), &k[i]);
		assert_non_null(k[i].help);
		assert_non_null(k[i].applied);
		assert_true(k[i].def || k[i].def_doc);
		__do_free char *flag = xasprintf("--%s", k[i].name);
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		assert_contains(usage.s, flag);
	}
	for (const char *line = usage.s; *line;) {
		size_t len = strcspn(line, "\n");
		if (len > 79)
			fail_msg("--help line longer than 79 columns: %.*s", (int)len, line);
		line += len + (line[len] == '\n');
	}
	buf_release(&usage);
}

/* docs/config.md holds the table cfg_doc prints, verbatim (regenerate with corrald --print-config-doc). */
static void test_doc_matches_table(void **state)
{
	(void)state;
	struct buf doc = BUF_INIT, table = BUF_INIT;

	assert_int_equal(fs_read_file(TEST_DATA_DIR "/../../docs/config.md", 1 << 20, &doc), 0);
	cfg_doc(&table);
	if (!strstr(doc.s, table.s))
		fail_msg("docs/config.md does not hold the key table of `corrald --print-config-doc`; "
			 "paste its output between the markers:\n%s",
			 table.s);
	buf_release(&doc);
	buf_release(&table);
}

/* The example corrald.conf: every key, commented out; uncommented it parses. */
static void test_example(void **state)
{
	(void)state;
	size_t n;
	const struct cfg_key *k = cfg_keys(&n);
	struct buf ex = BUF_INIT, live = BUF_INIT, err = BUF_INIT;
	struct corrald_config c;

	cfg_example(&ex);
	for (size_t i = 0; i < n; i++) {
		__do_free char *line = xasprintf("\n#%s =", k[i].name);
		assert_contains(ex.s, line);
	}
	for (const char *line = ex.s; *line;) {
		size_t len = strcspn(line, "\n");
		if (len && line[0] != '#')
			fail_msg("an example line that is not a comment: %.*s", (int)len, line);
		/* keys with a default become live lines */
		if (len > 1 && line[1] >= 'a' && line[1] <= 'z' && line[len - 1] != '=')
			buf_printf(&live, "%.*s\n", (int)len - 1, line + 1);
		line += len + (line[len] == '\n');
	}
	cfg_init(&c);
	if (cfg_parse(&c, "example", live.s, live.len, &err) < 0)
		fail_msg("the example, uncommented, does not parse: %s", err.s);
	cfg_release(&c);
	buf_release(&ex);
	buf_release(&live);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match_the_daemon),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_load_and_flags),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_doc_matches_table),
		cmocka_unit_test(test_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
