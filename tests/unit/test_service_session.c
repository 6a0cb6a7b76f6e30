/*
 * test_service_session.c - the web UI's sessions in the service layer
 * (service/session.h) over a real store: a login with the password makes a
 * session that is its user (never a token), a wrong or malformed login
 * makes none, and a session ends at logout, when its user gets a new
 * password, and when she is deleted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "svc_fixture.h"
#include "service/auth.h"
#include "service/session.h"
#include "util/buf.h"
#include "util/common.h"

static void login_ok(const char *user, const char *pw, char *id, char *csrf)
{
	struct buf err = BUF_INIT;
	int64_t retry = 0;
	int r = svc_session_login(user, pw, "192.0.2.1", id, csrf, &retry, &err);
	if (r < 0)
		fail_msg("login %s: %s", user, err.s);
	assert_int_equal(strlen(id), AUTH_SECRET_HEX);
	assert_int_equal(strlen(csrf), AUTH_SECRET_HEX);
	buf_release(&err);
}

static bool alive(const char *id, const char *user, const char *csrf)
{
	struct svc_identity who = { "", "x", "" };
	char got[AUTH_SECRET_HEX + 1];
	struct buf err = BUF_INIT;
	int r = svc_session_check(id, &who, got, sizeof(got), &err);
	if (r == 0) {
		assert_string_equal(who.user, user);
		assert_string_equal(who.token, ""); /* the user's own rights, never a token's */
		assert_string_equal(got, csrf);
	} else {
		assert_int_equal(r, -EACCES);
		assert_non_null(strstr(err.s, "log in again"));
	}
	buf_release(&err);
	return r == 0;
}

static void test_login_and_end(void **state)
{
	(void)state;
	char id[AUTH_SECRET_HEX + 1], csrf[AUTH_SECRET_HEX + 1], id2[AUTH_SECRET_HEX + 1], csrf2[AUTH_SECRET_HEX + 1];
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int64_t retry = 0;

	assert_int_equal(svc_user_add("alice", "alice-password", NULL, &out, &err), 0);
	json_decref(out);
	out = NULL;

	/* refused logins make no session and say nothing of which part was wrong */
	assert_int_equal(svc_session_login("alice", "wrong-password", "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	assert_non_null(strstr(err.s, "authentication failed"));
	buf_reset(&err);
	assert_int_equal(svc_session_login("nobody", "alice-password", "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	buf_reset(&err);
	assert_int_equal(svc_session_login("bad!name", "alice-password", "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	buf_reset(&err);
	assert_int_equal(svc_session_login(NULL, NULL, "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	buf_reset(&err);
	assert_int_equal(svc_session_login("alice", "pass\nword", "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	buf_reset(&err);

	/* a session is its user; two sessions are two */
	login_ok("alice", "alice-password", id, csrf);
	login_ok("alice", "alice-password", id2, csrf2);
	assert_string_not_equal(id, id2);
	assert_string_not_equal(csrf, csrf2);
	assert_true(alive(id, "alice", csrf));
	assert_true(alive(id2, "alice", csrf2));
	assert_false(alive("0000000000000000000000000000000000000000000000000000000000000000", "", ""));
	assert_false(alive("not-an-id", "", ""));
	assert_false(alive(NULL, "", ""));

	/* logout ends one */
	svc_session_logout(id);
	assert_false(alive(id, "alice", csrf));
	assert_true(alive(id2, "alice", csrf2));
	svc_session_logout(id); /* twice: no harm */

	/* a new password ends all of hers */
	assert_int_equal(svc_user_passwd("alice", "new-password-1", &err), 0);
	assert_false(alive(id2, "alice", csrf2));
	assert_int_equal(svc_session_login("alice", "alice-password", "192.0.2.1", id, csrf, &retry, &err), -EACCES);
	buf_reset(&err);

	/* and so does deleting her */
	login_ok("alice", "new-password-1", id, csrf);
	assert_true(alive(id, "alice", csrf));
	assert_int_equal(svc_user_delete("alice", &err), 0);
	assert_false(alive(id, "alice", csrf));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_and_end),
	};
	return cmocka_run_group_tests(tests, svc_fixture_setup, svc_fixture_teardown);
}
