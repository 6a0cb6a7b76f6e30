/*
 * test_remotes.c - the CLI's remotes file (src/cli/remotes.c): what the
 * parser accepts and refuses (with the line named, never a token quoted),
 * that formatting parses back to the same remotes, the checks of names,
 * URLs and tokens, and loading and saving (mode 0600, a file others may
 * read refused, a missing file empty, $XDG_CONFIG_HOME honoured).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/remotes.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

#define FP "35:45:EC:C4:1D:A0:50:2A:E2:39:D4:77:91:F2:E2:8F:C4:2F:BF:04:43:DE:AE:AE:61:F4:85:0F:82:62:C9:D2"
#define SECRET "5b0b08015b0b08015b0b08015b0b08015b0b08015b0b08015b0b08015b0b0801"

static const char good[] =
	"# my remotes\n"
	"default = h1\n"
	"\n"
	"[h1]\n"
	"url = https://192.0.2.10:8006\n"
	"fingerprint = " FP "\n"
	"token = alice!ci:" SECRET "\n"
	"\n"
	"  [ h2 ]  \r\n"
	"\turl=https://[2001:db8::1]:8006\r\n"
	"fingerprint = 3545ecc41da0502ae239d47791f2e28fc42fbf0443deaeae61f4850f8262c9d2\n";

static void test_parse_good(void **state)
{
	(void)state;
	struct remotes r = REMOTES_INIT;
	struct buf err = BUF_INIT;

	assert_int_equal(remotes_parse(good, strlen(good), &r, &err), 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.def, "h1");
	assert_string_equal(r.list[0].name, "h1");
	assert_string_equal(r.list[0].url, "https://192.0.2.10:8006");
	assert_string_equal(r.list[0].fingerprint, FP);
	assert_string_equal(r.list[0].token, "alice!ci:" SECRET);
	assert_string_equal(r.list[1].name, "h2");
	assert_string_equal(r.list[1].url, "https://[2001:db8::1]:8006");
	assert_string_equal(r.list[1].fingerprint, FP); /* normalised */
	assert_null(r.list[1].token);
	assert_non_null(remotes_find(&r, "h2"));
	assert_null(remotes_find(&r, "h3"));
	remotes_release(&r);
	buf_release(&err);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	struct remotes r = REMOTES_INIT, back = REMOTES_INIT;
	struct buf err = BUF_INIT, text = BUF_INIT, again = BUF_INIT;

	assert_int_equal(remotes_parse(good, strlen(good), &r, &err), 0);
	remotes_format(&r, &text);
	assert_int_equal(remotes_parse(text.s, text.len, &back, &err), 0);
	remotes_format(&back, &again);
	assert_string_equal(text.s, again.s);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.def, "h1");
	assert_string_equal(back.list[0].token, r.list[0].token);
	remotes_release(&r);
	remotes_release(&back);
	buf_release(&err);
	buf_release(&text);
	buf_release(&again);
}

/* Each refused with a message naming the line (and never the secret). */
static void test_parse_bad(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "[h1]\nurl = https://h:1\n", "line 1: remote 'h1' needs a fingerprint" },
		{ "[h1]\nfingerprint = " FP "\n", "needs a url" },
		{ "[h1]\nurl = http://h:1\nfingerprint = " FP "\n", "line 1: remote 'h1': a remote's URL is https://" },
		{ "[h1]\nurl = https://h\nfingerprint = " FP "\n", "port of 1 to 65535" },
		{ "[h1]\nurl = https://h:70000\nfingerprint = " FP "\n", "port of 1 to 65535" },
		{ "[h1]\nurl = https://u@h:1\nfingerprint = " FP "\n", "no path, no user" },
		{ "[h1]\nurl = https://h:1/x\nfingerprint = " FP "\n", "no path, no user" },
		{ "[h1]\nurl = https://h:1\nfingerprint = 12:34\n", "64 hex digits" },
		{ "[h1]\nurl = https://h:1\nfingerprint = " FP "\ntoken = alice:" SECRET "\n", "USER!TOKENID:SECRET" },
		{ "[h1]\nurl = https://h:1\nurl = https://h:2\n", "line 3: 'url' given twice" },
		{ "[h1]\nurl = https://h:1\nfingerprint = " FP "\nport = 1\n", "line 4: unknown key 'port'" },
		{ "url = https://h:1\n", "line 1: unknown key 'url' before the first [remote]" },
		{ "[h1]\nurl = https://h:1\nfingerprint = " FP "\n[h1]\n", "line 4: remote 'h1' given twice" },
		{ "[-x]\n", "line 1: a remote's name" },
		{ "[local]\n", "reserved" },
		{ "[]\n", "line 1: a section is [NAME]" },
		{ "[h1\n", "line 1: a section is [NAME]" },
		{ "just words\n", "line 1: expected KEY = VALUE" },
		{ "[h1]\nurl =\n", "line 2: 'url' has no value" },
		{ "default = nope\n", "line 1: the default remote 'nope' is not in the file" },
		{ "# a\n[h1]\nurl = https://h:1\x01\n", "line 3: control characters" },
		{ "[h1]\nurl = https://h:1\nfingerprint = " FP "\ntoken = a!b:" SECRET "\x7f\n", "line 4: control" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct remotes r = REMOTES_INIT;
		struct buf err = BUF_INIT;
		int rc = remotes_parse(cases[i].text, strlen(cases[i].text), &r, &err);
		if (rc != -EINVAL || !strstr(err.s, cases[i].want))
			fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, err.s, cases[i].want);
		assert_null(strstr(err.s, SECRET));
		assert_int_equal(r.n, 0);
		assert_null(r.list);
		assert_null(r.def);
		buf_release(&err);
	}
	/* a NUL byte inside a line */
	static const char nul[] = "[h1]\nurl = https://h:1\0x\nfingerprint = " FP "\n";
	struct remotes r = REMOTES_INIT;
	struct buf err = BUF_INIT;
	assert_int_equal(remotes_parse(nul, sizeof(nul) - 1, &r, &err), -EINVAL);
	assert_non_null(strstr(err.s, "line 2: control characters or NUL"));
	buf_release(&err);
}

static void test_set_remove(void **state)
{
	(void)state;
	struct remotes r = REMOTES_INIT;
	struct buf err = BUF_INIT;

	assert_int_equal(remotes_set(&r, "a", "https://h:1", FP, NULL, false, &err), 0);
	assert_int_equal(remotes_set(&r, "b", "https://h:2", FP, "u!t:" SECRET, false, &err), 0);
	assert_int_equal(remotes_set(&r, "a", "https://h:3", FP, NULL, false, &err), -EEXIST);
	assert_int_equal(remotes_set(&r, "a", "https://h:3", FP, NULL, true, &err), 0);
	assert_string_equal(remotes_find(&r, "a")->url, "https://h:3");
	/* replacing with the remote's own strings (remote trust pins a new fingerprint) */
	struct remote *b = remotes_find(&r, "b");
	assert_int_equal(remotes_set(&r, "b", b->url, FP, b->token, true, &err), 0);
	assert_string_equal(remotes_find(&r, "b")->url, "https://h:2");
	assert_string_equal(remotes_find(&r, "b")->token, "u!t:" SECRET);
	assert_int_equal(remotes_set(&r, "c d", "https://h:3", FP, NULL, false, &err), -EINVAL);
	assert_int_equal(remotes_set(&r, "c", "https://h:3", "nope", NULL, false, &err), -EINVAL);
	assert_int_equal(remotes_set(&r, "c", "https://h:3", FP, "secret-only", false, &err), -EINVAL);
	assert_int_equal(remotes_set(&r, REMOTE_LOCAL, "https://h:3", FP, NULL, false, &err), -EINVAL);
	r.def = xstrdup("b");
	assert_int_equal(remotes_remove(&r, "b", &err), 0);
	assert_null(r.def);
	assert_int_equal(remotes_remove(&r, "b", &err), -ENOENT);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.list[0].name, "a");
	remotes_release(&r);
	buf_release(&err);
}

static void test_checks(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	assert_int_equal(remote_url_check("https://host.example:8006", &err), 0);
	assert_int_equal(remote_url_check("https://127.0.0.1:1", &err), 0);
	assert_int_equal(remote_url_check("https://[::1]:8006", &err), 0);
	assert_int_equal(remote_url_check("https://::1:8006", &err), -EINVAL);
	assert_int_equal(remote_url_check("https://[::1]", &err), -EINVAL);
	assert_int_equal(remote_url_check("https://h:0", &err), -EINVAL);
	assert_int_equal(remote_url_check("https://h:8006?x", &err), -EINVAL);
	assert_int_equal(remote_url_check("https://:8006", &err), -EINVAL);
	assert_int_equal(remote_name_check("web-1.prod_a", &err), 0);
	assert_int_equal(remote_name_check("", &err), -EINVAL);
	assert_int_equal(remote_name_check(".hidden", &err), -EINVAL);
	assert_int_equal(remote_token_check("alice!ci:" SECRET, &err), 0);
	assert_int_equal(remote_token_check("alice:password", &err), -EINVAL);
	buf_release(&err);
}

static void test_load_save(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-remotes.XXXXXX";
	struct remotes r = REMOTES_INIT, back = REMOTES_INIT;
	struct buf err = BUF_INIT;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	setenv("XDG_CONFIG_HOME", dir, 1);
	__do_free char *path = remotes_path(&err);
	__do_free char *want = xasprintf("%s/corral/remotes.conf", dir);
	assert_string_equal(path, want);
	assert_int_equal(remotes_load(path, &back, &err), 0); /* none yet */
	assert_int_equal(back.n, 0);
	assert_int_equal(remotes_set(&r, "a", "https://h:1", FP, "u!t:" SECRET, false, &err), 0);
	r.def = xstrdup("a");
	assert_int_equal(remotes_save(path, &r, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	__do_free char *sub = xasprintf("%s/corral", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(remotes_load(path, &back, &err), 0);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.def, "a");
	remotes_release(&back);
	chmod(path, 0644);
	assert_int_equal(remotes_load(path, &back, &err), -EPERM);
	assert_non_null(strstr(err.s, "chmod 600"));
	unsetenv("XDG_CONFIG_HOME");
	setenv("HOME", dir, 1);
	__do_free char *home = remotes_path(&err);
	__do_free char *want2 = xasprintf("%s/.config/corral/remotes.conf", dir);
	assert_string_equal(home, want2);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	remotes_release(&r);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),  cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_parse_bad),   cmocka_unit_test(test_set_remove),
		cmocka_unit_test(test_checks),      cmocka_unit_test(test_load_save),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
