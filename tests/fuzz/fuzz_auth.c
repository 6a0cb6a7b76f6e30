/*
 * fuzz_auth.c - fuzz target for what a network client controls before it
 * is known: the Authorization header (auth_cred_parse), ACL scopes
 * (auth_scope_check, typed by administrators), and the caller a pool
 * member names in a forwarded request (auth_caller_parse).
 *
 * Input: the header value; the same bytes are also checked as a scope and
 * as an object path against a small fixed ACL.  Checked besides "no crash,
 * no leak, no read past the input":
 *   - a refusal leaves kind AUTH_NONE, empty fields, and a message that does
 *     not contain the secret part of the input;
 *   - an accepted header gives a valid user name (and token id), a
 *     non-empty secret without control bytes, and parsing it again from its
 *     own fields ("Bearer USER!ID:SECRET") gives the same;
 *   - a scope the checker accepts starts with '/' and never holds "//";
 *   - a forwarded caller is accepted only as valid names that join back
 *     to the input ("USER" or "USER!TOKEN"), refused with both fields empty.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_auth: %s\n", what);
	abort();
}

static const struct auth_acl acl[] = {
	{ "op", "Operator", "/" }, { "op!ci", "Operator", "/vms/web" }, { "aud", "Auditor", "/pools/fast" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size); /* stops at the first NUL, like a header would */
	struct buf err = BUF_INIT;
	struct auth_cred c;
	int r = auth_cred_parse(s, &c, &err);

	if (r < 0) {
		if (c.kind != AUTH_NONE || c.user[0] || c.token[0] || c.secret[0])
			die("a refusal left credentials behind");
		if (!err.len)
			die("a refusal without a message");
		/* the secret follows the last ':' of a Bearer header */
		const char *colon = strrchr(s, ':');
		if (strncmp(s, "Bearer ", 7) == 0 && colon && strlen(colon + 1) >= 8 && strstr(err.s, colon + 1))
			die("the error message quotes the secret");
	} else if (c.kind != AUTH_NONE) {
		struct buf e2 = BUF_INIT;
		if (auth_user_name_check(c.user, &e2) < 0)
			die("accepted an invalid user name");
		if (c.kind == AUTH_TOKEN && auth_token_id_check(c.token, &e2) < 0)
			die("accepted an invalid token id");
		if (!c.secret[0])
			die("accepted an empty secret");
		for (const char *p = c.secret; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				die("accepted a secret with control bytes");
		if (c.kind == AUTH_TOKEN) {
			struct auth_cred again;
			char *h = xasprintf("Bearer %s!%s:%s", c.user, c.token, c.secret);
			if (auth_cred_parse(h, &again, &e2) < 0 || strcmp(again.user, c.user) ||
			    strcmp(again.token, c.token) || strcmp(again.secret, c.secret))
				die("a token header does not parse back to itself");
			auth_cred_release(&again);
			free(h);
		}
		buf_release(&e2);
	}
	auth_cred_release(&c);

	buf_reset(&err);
	if (auth_scope_check(s, &err) == 0 && (s[0] != '/' || strstr(s, "//")))
		die("accepted a malformed scope");
	{
		char user[AUTH_NAME_MAX + 1], token[AUTH_NAME_MAX + 1];
		buf_reset(&err);
		if (auth_caller_parse(s, user, token, &err) == 0) {
			char *back = xasprintf("%s%s%s", user, token[0] ? "!" : "", token);
			struct buf e2 = BUF_INIT;
			if (strcmp(back, s) != 0 || auth_user_name_check(user, &e2) < 0 ||
			    (token[0] && auth_token_id_check(token, &e2) < 0))
				die("accepted a forwarded caller that is not USER[!TOKEN] of valid names");
			buf_release(&e2);
			free(back);
		} else if (user[0] || token[0] || !err.len) {
			die("a refused forwarded caller left a name behind or no message");
		}
	}
	/* the decision never crashes on any object or subject */
	(void)auth_acl_allows(acl, 3, s, NULL, AUTH_VM_POWER, s);
	(void)auth_acl_allows(acl, 3, "op", s, AUTH_VM_POWER, "/vms/web");
	(void)auth_acl_allows(acl, 3, "op", "ci", AUTH_VM_POWER, s);
	(void)auth_acl_allows_within(acl, 3, "op", s, AUTH_VM_AUDIT, s);
	(void)auth_acl_allows_within(acl, 3, s, "ci", AUTH_VM_AUDIT, "/vms");
	buf_release(&err);
	free(s);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_auth", argc, argv); }
#endif
