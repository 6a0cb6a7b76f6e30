/*
 * test_auth.c - identity and rights (src/auth, and the route table of
 * src/api/routes.c): the ACL decision, the Authorization header parser,
 * names, token secrets, yescrypt passwords, the failed-login limiter,
 * fingerprints, and that every route of the API names the privilege a
 * caller over TCP needs, read-only ones only for GET.
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

#include "api/routes.h"
#include "core/store.h"
#include "auth/auth.h"
#include "util/buf.h"
#include "util/common.h"

static const struct auth_acl acl[] = {
	{ "op", "Operator", "/" },
	{ "op!ci", "Operator", "/" },
	{ "op!narrow", "Operator", "/vms/web" },
	{ "aud", "Auditor", "/" },
	{ "web", "Administrator", "/vms/web" },
	{ "web", "Operator", "/pools/fast" },
	{ "admin", "Administrator", "/" },
	{ "admin!ro", "Auditor", "/" },
};

static bool allows(const char *user, const char *token, enum auth_priv p, const char *obj)
{
	return auth_acl_allows(acl, ARRAY_SIZE(acl), user, token, p, obj);
}

static void test_roles(void **state)
{
	(void)state;
	/* Operator: lifecycle yes, definitions no */
	assert_true(allows("op", NULL, AUTH_VM_POWER, "/vms/web"));
	assert_true(allows("op", NULL, AUTH_VM_CONSOLE, "/vms/web"));
	assert_true(allows("op", NULL, AUTH_VM_SNAPSHOT, "/vms/web"));
	assert_true(allows("op", NULL, AUTH_VM_BACKUP, "/vms/web"));
	assert_true(allows("op", NULL, AUTH_VM_AUDIT, "/vms"));
	assert_false(allows("op", NULL, AUTH_VM_CONFIG, "/vms/web"));
	assert_false(allows("op", NULL, AUTH_STORE_ALLOCATE, "/pools/default"));
	assert_false(allows("op", NULL, AUTH_USER_MODIFY, "/users"));
	/* Auditor: reads only */
	assert_true(allows("aud", NULL, AUTH_SYS_AUDIT, "/host"));
	assert_true(allows("aud", NULL, AUTH_VM_AUDIT, "/vms/web"));
	assert_true(allows("aud", NULL, AUTH_STORE_AUDIT, "/pools/x/volumes/y"));
	assert_false(allows("aud", NULL, AUTH_VM_POWER, "/vms/web"));
	assert_false(allows("aud", NULL, AUTH_VM_CONSOLE, "/vms/web"));
	/* Administrator: everything */
	for (unsigned p = 1; p < AUTH_PRIV_ALL; p <<= 1)
		assert_true(allows("admin", NULL, (enum auth_priv)p, "/anything/at/all"));
	/* Host.Peer: no role has it, not even Administrator (only trusted hosts: svc_auth_allowed) */
	assert_false(allows("admin", NULL, AUTH_HOST_PEER, "/host"));
	assert_string_equal(auth_priv_name(AUTH_HOST_PEER), "Host.Peer");
	assert_int_equal(auth_role_privs("Administrator") & AUTH_HOST_PEER, 0);
	/* nobody, and no privilege */
	assert_false(allows("stranger", NULL, AUTH_SYS_AUDIT, "/host"));
	assert_false(allows("admin", NULL, AUTH_PRIV_NONE, "/host"));
	assert_false(allows("admin", NULL, AUTH_SYS_AUDIT, "host"));
	assert_int_equal(auth_role_privs("operator"), 0); /* exact names */
	assert_int_equal(auth_role_privs(NULL), 0);
	assert_string_equal(auth_priv_name(AUTH_VM_CONFIG), "VM.Config");
	assert_null(auth_priv_name(AUTH_VM_CONFIG | AUTH_VM_POWER));
}

static void test_scopes(void **state)
{
	(void)state;
	assert_true(allows("web", NULL, AUTH_VM_CONFIG, "/vms/web"));
	assert_true(allows("web", NULL, AUTH_VM_CONFIG, "/vms/web/anything"));
	/* a prefix must end at a segment boundary */
	assert_false(allows("web", NULL, AUTH_VM_CONFIG, "/vms/webster"));
	assert_false(allows("web", NULL, AUTH_VM_CONFIG, "/vms/db"));
	assert_false(allows("web", NULL, AUTH_VM_AUDIT, "/vms")); /* the collection is above the scope */
	/* rights add up across entries */
	assert_true(allows("web", NULL, AUTH_VM_POWER, "/pools/fast/volumes/d1"));
	assert_false(allows("web", NULL, AUTH_STORE_ALLOCATE, "/pools/fast/volumes/d1"));
	assert_false(allows("web", NULL, AUTH_VM_POWER, "/pools/slow"));
}

static void test_tokens_never_exceed_user(void **state)
{
	(void)state;
	assert_true(allows("op", "ci", AUTH_VM_POWER, "/vms/web"));
	assert_false(allows("op", "ci", AUTH_VM_CONFIG, "/vms/web"));
	/* a token with no entries of its own may do nothing */
	assert_false(allows("op", "other", AUTH_VM_AUDIT, "/vms/web"));
	/* narrow token */
	assert_true(allows("op", "narrow", AUTH_VM_POWER, "/vms/web"));
	assert_false(allows("op", "narrow", AUTH_VM_POWER, "/vms/db"));
	/* an Auditor token of an Administrator only reads */
	assert_true(allows("admin", "ro", AUTH_VM_AUDIT, "/vms/web"));
	assert_false(allows("admin", "ro", AUTH_VM_POWER, "/vms/web"));
	/* "op!ci" as a user name is not the token */
	assert_false(allows("op!ci", NULL, AUTH_VM_POWER, "/vms/web"));
}

/* Lists are open to whoever may read something in them. */
static void test_allows_within(void **state)
{
	(void)state;
	const struct auth_acl *a = acl;
	size_t n = ARRAY_SIZE(acl);
	assert_true(auth_acl_allows_within(a, n, "web", NULL, AUTH_VM_AUDIT, "/vms"));
	assert_false(auth_acl_allows(a, n, "web", NULL, AUTH_VM_AUDIT, "/vms"));
	assert_true(auth_acl_allows_within(a, n, "web", NULL, AUTH_STORE_AUDIT, "/pools"));
	assert_false(auth_acl_allows_within(a, n, "web", NULL, AUTH_STORE_AUDIT, "/vm")); /* a prefix of a name is not a scope */
	assert_false(auth_acl_allows_within(a, n, "web", NULL, AUTH_USER_MODIFY, "/vms/db"));
	/* a narrow token: within its own entries, and only what its user may too */
	assert_true(auth_acl_allows_within(a, n, "op", "narrow", AUTH_VM_POWER, "/vms"));
	assert_false(auth_acl_allows_within(a, n, "op", "narrow", AUTH_VM_CONFIG, "/vms"));
	assert_false(auth_acl_allows_within(a, n, "op", "narrow", AUTH_VM_AUDIT, "/pools"));
	assert_true(auth_acl_allows_within(a, n, "op", NULL, AUTH_VM_AUDIT, "/pools"));
	assert_false(auth_acl_allows_within(a, n, "nobody", NULL, AUTH_VM_AUDIT, "/vms"));
	assert_false(auth_acl_allows_within(a, n, "op", "other", AUTH_VM_AUDIT, "/vms"));
}

static void test_scope_check(void **state)
{
	struct buf err = BUF_INIT;
	(void)state;
	const char *good[] = { "/", "/vms", "/vms/web-1", "/pools/fast/volumes/d1.qcow2", "/vms/a@b:c" };
	const char *bad[] = { "", "vms", "//", "/vms/", "/vms//x", "/vms/a b", "/vms/../x/\n", "/vms/ü", "/vms/..", "/./vms", "/vms/../x" };
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(auth_scope_check(good[i], &err), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		assert_int_equal(auth_scope_check(bad[i], &err), -EINVAL);
		assert_true(err.len > 0);
	}
	char longp[300];
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(auth_scope_check(longp, &err), -EINVAL);
	buf_release(&err);
}

static void test_cred_parse(void **state)
{
	struct auth_cred c;
	struct buf err = BUF_INIT;
	(void)state;

	assert_int_equal(auth_cred_parse(NULL, &c, &err), 0);
	assert_int_equal(c.kind, AUTH_NONE);
	assert_int_equal(auth_cred_parse("Bearer alice!ci:s3cr3t", &c, &err), 0);
	assert_int_equal(c.kind, AUTH_TOKEN);
	assert_string_equal(c.user, "alice");
	assert_string_equal(c.token, "ci");
	assert_string_equal(c.secret, "s3cr3t");
	auth_cred_release(&c);
	/* the secret may hold ':' and '!' */
	assert_int_equal(auth_cred_parse("bearer a@realm!t-1:x:y!z", &c, &err), 0);
	assert_string_equal(c.user, "a@realm");
	assert_string_equal(c.secret, "x:y!z");
	/* Basic: "alice:pass word" */
	assert_int_equal(auth_cred_parse("Basic YWxpY2U6cGFzcyB3b3Jk", &c, &err), 0);
	assert_int_equal(c.kind, AUTH_PASSWORD);
	assert_string_equal(c.user, "alice");
	assert_string_equal(c.secret, "pass word");
	/* "bob:p" with padding */
	assert_int_equal(auth_cred_parse("Basic Ym9iOnA=", &c, &err), 0);
	assert_string_equal(c.user, "bob");
	assert_string_equal(c.secret, "p");
	auth_cred_release(&c);

	const char *bad[] = {
		"Bearer", "Bearer ", "Bearer alice", "Bearer alice!ci", "Bearer alice!ci:", "Bearer !ci:x",
		"Bearer alice!:x", "Bearer al ice!ci:x", "Bearer alice!c/i:x", "Bearer alice!ci:a\tb", "Token x",
		"Basic", "Basic !!!!", "Basic YWxpY2U=" /* no colon */, "Basic OnBhc3M=" /* empty user */,
		"Basic YWxpY2U6" /* empty password */, "Basic YWxpY2UAOng=" /* NUL inside */,
		"Bearer aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!ci:x", /* 65-byte user */
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		assert_int_equal(auth_cred_parse(bad[i], &c, &err), -EINVAL);
		assert_int_equal(c.kind, AUTH_NONE);
		assert_true(err.len > 0);
		/* no error message quotes the secret part */
		assert_null(strstr(err.s, "a\tb"));
	}
	/* a secret longer than the buffer is refused, not cut */
	struct buf big = BUF_INIT;
	buf_adds(&big, "Bearer a!b:");
	for (int i = 0; i < 300; i++)
		buf_addch(&big, 'x');
	assert_int_equal(auth_cred_parse(big.s, &c, &err), -EINVAL);
	buf_release(&big);
	buf_release(&err);
}

static void test_names(void **state)
{
	struct buf err = BUF_INIT;
	(void)state;
	assert_int_equal(auth_user_name_check("alice", &err), 0);
	assert_int_equal(auth_user_name_check("alice@pam", &err), 0);
	assert_int_equal(auth_user_name_check("-x", &err), -EINVAL);
	assert_int_equal(auth_user_name_check("a!b", &err), -EINVAL);
	assert_int_equal(auth_user_name_check("a:b", &err), -EINVAL);
	assert_int_equal(auth_user_name_check("", &err), -EINVAL);
	assert_int_equal(auth_token_id_check("ci-1", &err), 0);
	assert_int_equal(auth_token_id_check("a@b", &err), -EINVAL);
	buf_release(&err);
}

static void test_caller_parse(void **state)
{
	char user[AUTH_NAME_MAX + 1], token[AUTH_NAME_MAX + 1], big[200];
	struct buf err = BUF_INIT;
	(void)state;

	assert_int_equal(auth_caller_parse("alice", user, token, &err), 0);
	assert_string_equal(user, "alice");
	assert_string_equal(token, "");
	assert_int_equal(auth_caller_parse("alice!ci-1", user, token, &err), 0);
	assert_string_equal(user, "alice");
	assert_string_equal(token, "ci-1");
	static const char *const bad[] = { "", "!ci", "alice!", "a b", "alice!c!i", "../x", "a\nb", "alice!c\x01",
					   "-alice", "root@unix!x:y", "@host" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		assert_int_equal(auth_caller_parse(bad[i], user, token, &err), -EINVAL);
		assert_true(err.len > 0);
		assert_string_equal(user, "");
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(auth_caller_parse(big, user, token, &err), -EINVAL);
	big[10] = '!';
	assert_int_equal(auth_caller_parse(big, user, token, &err), -EINVAL);
	assert_int_equal(auth_caller_parse(NULL, user, token, &err), -EINVAL);
	buf_release(&err);
}

static void test_secrets(void **state)
{
	char a[AUTH_SECRET_HEX + 1], b[AUTH_SECRET_HEX + 1];
	struct buf err = BUF_INIT;
	(void)state;
	assert_int_equal(auth_secret_new(a, sizeof(a), &err), 0);
	assert_int_equal(auth_secret_new(b, sizeof(b), &err), 0);
	assert_int_equal(strlen(a), AUTH_SECRET_HEX);
	assert_string_not_equal(a, b);
	__do_free char *h = auth_secret_hash(a);
	assert_true(strncmp(h, "sha256:", 7) == 0);
	assert_null(strstr(h, a));
	assert_true(auth_secret_verify(a, h));
	assert_false(auth_secret_verify(b, h));
	assert_false(auth_secret_verify(a, NULL));
	assert_false(auth_secret_verify(a, "sha256:00"));
	buf_release(&err);
}

static void test_passwords(void **state)
{
	struct buf err = BUF_INIT;
	char *h = NULL, *h2 = NULL;
	(void)state;
	assert_int_equal(auth_password_check("short", &err), -EINVAL);
	assert_int_equal(auth_password_check("long enough", &err), 0);
	assert_int_equal(auth_password_hash("correct horse", &h, &err), 0);
	assert_true(strncmp(h, "$y$", 3) == 0);
	assert_null(strstr(h, "correct"));
	assert_true(auth_password_verify("correct horse", h));
	assert_false(auth_password_verify("correct horsf", h));
	assert_false(auth_password_verify("correct horse", "*"));
	assert_false(auth_password_verify("correct horse", NULL));
	/* salted: the same password hashes differently */
	assert_int_equal(auth_password_hash("correct horse", &h2, &err), 0);
	assert_string_not_equal(h, h2);
	free(h);
	free(h2);
	buf_release(&err);
}

static void test_ratelimit(void **state)
{
	(void)state;
	struct auth_ratelimit *rl = auth_ratelimit_new(3, 60);
	int64_t t = 1000000;
	assert_int_equal(auth_ratelimit_check(rl, "alice", t), 0);
	auth_ratelimit_fail(rl, "alice", t);
	auth_ratelimit_fail(rl, "alice", t + 1000);
	assert_int_equal(auth_ratelimit_check(rl, "alice", t + 1000), 0);
	auth_ratelimit_fail(rl, "alice", t + 2000);
	/* third failure: locked until the first is 60 s old */
	assert_int_equal(auth_ratelimit_check(rl, "alice", t + 2000), 58);
	assert_int_equal(auth_ratelimit_check(rl, "bob", t + 2000), 0);
	assert_int_equal(auth_ratelimit_check(rl, "alice", t + 60000), 0);
	/* a new failure then counts with the two still in the window */
	auth_ratelimit_fail(rl, "alice", t + 60000);
	assert_true(auth_ratelimit_check(rl, "alice", t + 60001) > 0);
	/* many keys stay bounded */
	char k[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		auth_ratelimit_fail(rl, k, t + 70000 + i);
	}
	auth_ratelimit_free(rl);
	/* limit 0: never limited */
	rl = auth_ratelimit_new(0, 60);
	for (int i = 0; i < 10; i++)
		auth_ratelimit_fail(rl, "x", t);
	assert_int_equal(auth_ratelimit_check(rl, "x", t), 0);
	auth_ratelimit_free(rl);
}

static void test_fingerprint(void **state)
{
	char out[96];
	(void)state;
	const char *want = "35:45:EC:C4:1D:A0:50:2A:E2:39:D4:77:91:F2:E2:8F:C4:2F:BF:04:43:DE:AE:AE:61:F4:85:0F:82:62:C9:D2";
	assert_int_equal(auth_fingerprint_normalise(want, out, sizeof(out)), 0);
	assert_string_equal(out, want);
	assert_int_equal(auth_fingerprint_normalise("3545ecc41da0502ae239d47791f2e28fc42fbf0443deaeae61f4850f8262c9d2", out,
						    sizeof(out)),
			 0);
	assert_string_equal(out, want);
	assert_int_equal(auth_fingerprint_normalise("3545", out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_fingerprint_normalise("zz45ecc41da0502ae239d47791f2e28fc42fbf0443deaeae61f4850f8262c9d2", out,
						    sizeof(out)),
			 -EINVAL);
	assert_int_equal(auth_fingerprint_normalise("3545ecc41da0502ae239d47791f2e28fc42fbf0443deaeae61f4850f8262c9d2aa",
						    out, sizeof(out)),
			 -EINVAL);
}

static void test_cert(void **state)
{
	char dir[] = "/tmp/corral-test-cert-XXXXXX";
	struct buf err = BUF_INIT, pem = BUF_INIT;
	char *fp = NULL, *fp2 = NULL;
	(void)state;
	assert_non_null(mkdtemp(dir));
	__do_free char *crt = xasprintf("%s/host.crt", dir), *key = xasprintf("%s/host.key", dir);
	assert_int_equal(auth_cert_ensure(crt, key, "test-host", &err), 0);
	FILE *f = fopen(crt, "r");
	char chunk[4096];
	size_t n = fread(chunk, 1, sizeof(chunk), f);
	fclose(f);
	buf_add(&pem, chunk, n);
	assert_int_equal(auth_cert_fingerprint(pem.s, pem.len, &fp, &err), 0);
	assert_int_equal(strlen(fp), 95);
	/* a second start keeps the same certificate */
	assert_int_equal(auth_cert_ensure(crt, key, "test-host", &err), 0);
	assert_int_equal(auth_cert_fingerprint(pem.s, pem.len, &fp2, &err), 0);
	assert_string_equal(fp, fp2);
	/* the key is root's alone */
	struct stat st;
	assert_int_equal(stat(key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a certificate without its key is refused */
	unlink(key);
	buf_reset(&err);
	assert_int_equal(auth_cert_ensure(crt, key, "test-host", &err), -ENOENT);
	assert_int_equal(auth_cert_fingerprint("junk", 4, &fp2, &err), -EINVAL);
	unlink(crt);
	rmdir(dir);
	free(fp);
	free(fp2);
	buf_release(&pem);
	buf_release(&err);
}

static size_t acl_count(struct store *st)
{
	struct acl_record *a = NULL;
	size_t n = 0;
	assert_int_equal(store_acl_list(st, &a, &n), 0);
	store_acl_list_free(a, n);
	return n;
}

/* The store's user, token and ACL ops: what goes with what, what is refused. */
static void test_store_ops(void **state)
{
	char dir[] = "/tmp/corral-test-authdb-XXXXXX";
	struct buf err = BUF_INIT;
	(void)state;
	assert_non_null(mkdtemp(dir));
	__do_free char *db = xasprintf("%s/state.db", dir);
	struct store *st = store_open(db, &err);
	assert_non_null(st);

	assert_int_equal(store_user_put(st, "alice", "$y$h1", "ops", true), 0);
	assert_int_equal(store_user_put(st, "alice", "$y$h2", NULL, true), -EEXIST);
	assert_int_equal(store_user_put(st, "bob", "$y$h", NULL, false), -ENOENT);
	assert_int_equal(store_user_put(st, "alice", "$y$h3", NULL, false), 0);
	struct user_record u = { 0 };
	assert_int_equal(store_user_get(st, "alice", &u), 0);
	assert_string_equal(u.hash, "$y$h3");
	assert_string_equal(u.comment, "ops"); /* kept when not given */
	user_record_release(&u);

	struct token_record t = { .user = "alice", .id = "ci", .hash = "sha256:aa", .expires_ms = 5 };
	assert_int_equal(store_token_add(st, &t), 0);
	assert_int_equal(store_token_add(st, &t), -EEXIST);
	t.user = "nobody";
	assert_int_equal(store_token_add(st, &t), -ENOENT);
	struct token_record got = { 0 };
	assert_int_equal(store_token_get(st, "alice", "ci", &got), 0);
	assert_int_equal(got.expires_ms, 5);
	token_record_release(&got);
	/* "user!id" lookups cannot be faked by names with '!' (none are valid, but the store must not care) */
	assert_int_equal(store_token_get(st, "alice!ci", "", &got), -ENOENT);

	assert_int_equal(store_acl_put(st, "alice", "Operator", "/"), 0);
	assert_int_equal(store_acl_put(st, "alice!ci", "Operator", "/vms/web"), 0);
	assert_int_equal(store_acl_put(st, "alice!ci", "Auditor", "/vms/web"), 0); /* replaces */
	assert_int_equal(store_acl_put(st, "alice!nope", "Auditor", "/"), -ENOENT);
	assert_int_equal(store_acl_put(st, "carol", "Auditor", "/"), -ENOENT);
	assert_int_equal(acl_count(st), 2);
	assert_int_equal(store_acl_delete(st, "alice", "/vms"), -ENOENT);

	/* a token's entries go with it; a user's tokens and all entries go with her */
	assert_int_equal(store_token_delete(st, "alice", "ci"), 0);
	assert_int_equal(acl_count(st), 1);
	assert_int_equal(store_token_add(st, &(struct token_record){ .user = "alice", .id = "ci2", .hash = "h" }), 0);
	assert_int_equal(store_acl_put(st, "alice!ci2", "Operator", "/"), 0);
	assert_int_equal(store_user_put(st, "alicex", "$y$h", NULL, true), 0);
	assert_int_equal(store_acl_put(st, "alicex", "Operator", "/"), 0);
	assert_int_equal(store_user_delete(st, "alice"), 0);
	assert_int_equal(store_token_get(st, "alice", "ci2", &got), -ENOENT);
	assert_int_equal(acl_count(st), 1); /* alicex's stays: "alice" is not a prefix of her name */
	assert_int_equal(store_user_delete(st, "alice"), -ENOENT);

	store_close(st);
	__do_free char *rm = xasprintf("rm -rf '%s'", dir);
	assert_int_equal(system(rm), 0);
	buf_release(&err);
}

/* Every route names a privilege; GET routes need only read privileges, except the consoles (VMs', containers'). */
static void test_every_route_has_a_privilege(void **state)
{
	const unsigned readonly = AUTH_SYS_AUDIT | AUTH_VM_AUDIT | AUTH_STORE_AUDIT;
	const char *method;
	char path[256];
	enum auth_priv p;
	size_t i;
	(void)state;

	for (i = 0; api_route_info(i, &method, path, sizeof(path), &p); i++) {
		if (!auth_priv_name(p))
			fail_msg("%s %s names no single privilege", method, path);
		bool get = strcmp(method, "GET") == 0;
		if (strcmp(path, "/v1/vms/{vm}/console") == 0 || strcmp(path, "/v1/containers/{container}/console") == 0 ||
		    strcmp(path, "/v1/vms/{vm}/vnc") == 0)
			assert_int_equal(p, AUTH_VM_CONSOLE);
		else if (get && !((unsigned)p & readonly))
			fail_msg("GET %s needs %s, a privilege that is not read-only", path, auth_priv_name(p));
		else if (!get && ((unsigned)p & readonly))
			fail_msg("%s %s changes something but needs only %s", method, path, auth_priv_name(p));
	}
	assert_true(i > 40);
	/* the Auditor may every GET but the consoles (serial, VNC), the Operator no definition change */
	for (i = 0; api_route_info(i, &method, path, sizeof(path), &p); i++) {
		if (strcmp(method, "GET") == 0 && p != AUTH_VM_CONSOLE)
			assert_true(auth_role_privs("Auditor") & (unsigned)p);
		if (strcmp(method, "DELETE") == 0 && strcmp(path, "/v1/vms/{vm}") == 0)
			assert_false(auth_role_privs("Operator") & (unsigned)p);
		if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/vms/{vm}/{action}") == 0)
			assert_true(auth_role_privs("Operator") & (unsigned)p);
		/* containers: the same split as VMs */
		if (strcmp(method, "DELETE") == 0 && strcmp(path, "/v1/containers/{container}") == 0)
			assert_false(auth_role_privs("Operator") & (unsigned)p);
		if (strcmp(method, "POST") == 0 && strcmp(path, "/v1/containers/{container}/{action}") == 0)
			assert_true(auth_role_privs("Operator") & (unsigned)p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_tokens_never_exceed_user),
		cmocka_unit_test(test_allows_within),
		cmocka_unit_test(test_scope_check),
		cmocka_unit_test(test_cred_parse),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_caller_parse),
		cmocka_unit_test(test_secrets),
		cmocka_unit_test(test_passwords),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_cert),
		cmocka_unit_test(test_store_ops),
		cmocka_unit_test(test_every_route_has_a_privilege),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
