/*
 * auth.c - see auth.h: users, tokens and ACL entries over the store, and
 * the login check with its rate limiting and audit trail.
 *
 * A login costs one store read and, for a password, one yescrypt run
 * (tens of milliseconds, on a worker thread); a token one SHA-256.  The
 * rate limiter is asked before anything is verified, so a locked-out user
 * or address cannot even make corrald spend the yescrypt time.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "service/auth.h"
#include "service/internal.h"
#include "service/poolview.h"
#include "service/session.h"
#include "core/events.h"
#include "core/store_local.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static struct auth_ratelimit *fail_users, *fail_addrs;

void svc_auth_init(void)
{
	fail_users = auth_ratelimit_new(svc_cfg.auth_fail_limit, svc_cfg.auth_fail_window_s);
	fail_addrs = auth_ratelimit_new(svc_cfg.auth_fail_limit, svc_cfg.auth_fail_window_s);
}

void svc_auth_shutdown(void)
{
	auth_ratelimit_free(fail_users);
	auth_ratelimit_free(fail_addrs);
	fail_users = fail_addrs = NULL;
}

static const char *const refused = "authentication failed: unknown user or token, wrong secret, or expired token";

static int login_fail(const struct auth_cred *c, const char *peer, const char *why, struct buf *err)
{
	int64_t now = time_mono_ms();
	auth_ratelimit_fail(fail_users, c->user, now);
	auth_ratelimit_fail(fail_addrs, peer, now);
	log_warn("login refused for %s%s%s from %s: %s", c->user, c->kind == AUTH_TOKEN ? "!" : "",
		 c->kind == AUTH_TOKEN ? c->token : "", peer, why);
	buf_printf(err, "%s", refused);
	return -EACCES;
}

/* The rest of a login once the credentials are parsed (c is released by the caller). */
static int cred_login(struct auth_cred *c, const char *peer, struct svc_identity *who, int64_t *retry_s,
		      struct buf *err)
{
	int64_t now = time_mono_ms(), wait;
	int r;

	if ((wait = auth_ratelimit_check(fail_users, c->user, now)) > 0) {
		*retry_s = wait;
		buf_printf(err, "too many failed logins for user '%s'; retry in %lld s", c->user, (long long)wait);
		return -EAGAIN;
	}
	if (c->kind == AUTH_TOKEN) {
		struct token_record t = { 0 };
		r = store_token_get(svc_cfg.store, c->user, c->token, &t);
		if (r < 0)
			r = login_fail(c, peer, "no such token", err);
		else if (!auth_secret_verify(c->secret, t.hash))
			r = login_fail(c, peer, "wrong secret", err);
		else if (t.expires_ms && time_wall_ms() >= t.expires_ms)
			r = login_fail(c, peer, "token expired", err);
		token_record_release(&t);
	} else {
		struct user_record u = { 0 };
		r = store_user_get(svc_cfg.store, c->user, &u);
		if (r < 0)
			r = login_fail(c, peer, "no such user", err);
		else if (!auth_password_verify(c->secret, u.hash))
			r = login_fail(c, peer, "wrong password", err);
		user_record_release(&u);
	}
	if (r == 0) {
		snprintf(who->user, sizeof(who->user), "%s", c->user);
		snprintf(who->token, sizeof(who->token), "%s", c->kind == AUTH_TOKEN ? c->token : "");
	}
	return r;
}

/* The address may try now: 0, else -EAGAIN + err and *retry_s. */
static int addr_check(const char *peer, int64_t *retry_s, struct buf *err)
{
	int64_t wait;

	*retry_s = 0;
	if ((wait = auth_ratelimit_check(fail_addrs, peer, time_mono_ms())) > 0) {
		*retry_s = wait;
		buf_printf(err, "too many failed logins from %s; retry in %lld s", peer, (long long)wait);
		return -EAGAIN;
	}
	return 0;
}

int svc_auth_login(const char *header, const char *peer, struct svc_identity *who, int64_t *retry_s,
		   struct buf *err)
{
	struct auth_cred c;
	int r;

	if ((r = addr_check(peer, retry_s, err)) < 0)
		return r;
	if (!header) {
		buf_printf(err, "authentication required: send 'Authorization: Bearer USER!TOKENID:SECRET'");
		return -EACCES;
	}
	if (auth_cred_parse(header, &c, err) < 0) {
		auth_ratelimit_fail(fail_addrs, peer, time_mono_ms());
		log_warn("login refused from %s: malformed Authorization header", peer);
		return -EACCES;
	}
	r = cred_login(&c, peer, who, retry_s, err);
	auth_cred_release(&c);
	return r;
}

int svc_auth_password_login(const char *user, const char *password, const char *peer, struct svc_identity *who,
			    int64_t *retry_s, struct buf *err)
{
	struct auth_cred c = { .kind = AUTH_PASSWORD };
	int r;

	if ((r = addr_check(peer, retry_s, err)) < 0)
		return r;
	if (!user || !password || auth_user_name_check(user, err) < 0 ||
	    strlen(password) >= sizeof(c.secret) || strpbrk(password, "\r\n")) {
		buf_reset(err);
		auth_ratelimit_fail(fail_addrs, peer, time_mono_ms());
		log_warn("login refused from %s: malformed user name or password", peer);
		buf_printf(err, "%s", refused);
		return -EACCES;
	}
	snprintf(c.user, sizeof(c.user), "%s", user);
	snprintf(c.secret, sizeof(c.secret), "%s", password);
	r = cred_login(&c, peer, who, retry_s, err);
	auth_cred_release(&c);
	return r;
}

int svc_auth_host_login(const char *client_fp, const char *peer, struct svc_identity *who, int64_t *retry_s,
			struct buf *err)
{
	struct trusted_host h = { 0 };
	int64_t now = time_mono_ms(), wait;
	int r;

	*retry_s = 0;
	if ((wait = auth_ratelimit_check(fail_addrs, peer, now)) > 0) {
		*retry_s = wait;
		buf_printf(err, "too many failed logins from %s; retry in %lld s", peer, (long long)wait);
		return -EAGAIN;
	}
	if ((r = store_trust_find(svc_cfg.store, client_fp, &h)) < 0) {
		auth_ratelimit_fail(fail_addrs, peer, now);
		log_warn("login refused for the client certificate %s from %s: not a trusted host's", client_fp, peer);
		buf_printf(err, "the client certificate is not a trusted host's, and no Authorization was sent");
		return -EACCES;
	}
	snprintf(who->user, sizeof(who->user), "host:%s", h.name);
	who->token[0] = '\0';
	trusted_host_release(&h);
	return 0;
}

int svc_auth_assert(struct svc_identity *who, const char *value, struct buf *err)
{
	const char *host = svc_identity_host(who);
	char user[AUTH_NAME_MAX + 1], token[AUTH_NAME_MAX + 1];

	if (!host || !svc_poolview_is_member(host)) {
		buf_printf(err, "only a host of this host's pool may act for a user (%s is not one)",
			   host ? host : who->user);
		return -EACCES;
	}
	if (strcmp(value, POOLVIEW_USER_HOST) == 0)
		return 0; /* the host itself (root on its socket): recorded as host:NAME */
	if (auth_caller_parse(value, user, token, err) < 0)
		return -EINVAL;
	snprintf(who->via, sizeof(who->via), "%s", host);
	snprintf(who->user, sizeof(who->user), "%s", user);
	snprintf(who->token, sizeof(who->token), "%s", token);
	return 0;
}

const char *svc_identity_host(const struct svc_identity *who)
{
	return strncmp(who->user, "host:", 5) == 0 ? who->user + 5 : NULL;
}

struct svc_acl {
	struct acl_record *list;
	struct auth_acl *acl;
	size_t n;
};

struct svc_acl *svc_acl_load(void)
{
	struct svc_acl *a = xcalloc(1, sizeof(*a));

	if (store_acl_list(svc_cfg.store, &a->list, &a->n) < 0) {
		a->list = NULL;
		a->n = 0;
	}
	a->acl = xcalloc(a->n ? a->n : 1, sizeof(*a->acl));
	for (size_t i = 0; i < a->n; i++)
		a->acl[i] = (struct auth_acl){ a->list[i].subject, a->list[i].role, a->list[i].path };
	return a;
}

void svc_acl_free(struct svc_acl *a)
{
	if (!a)
		return;
	free(a->acl);
	store_acl_list_free(a->list, a->n);
	free(a);
}

bool svc_acl_allows(const struct svc_acl *a, const struct svc_identity *who, enum auth_priv priv,
		    const char *object)
{
	if (svc_identity_host(who))
		return ((unsigned)priv & AUTH_PRIV_HOST) == (unsigned)priv && priv != AUTH_PRIV_NONE;
	return auth_acl_allows(a->acl, a->n, who->user, who->token[0] ? who->token : NULL, priv, object);
}

bool svc_acl_allows_within(const struct svc_acl *a, const struct svc_identity *who, enum auth_priv priv,
			   const char *prefix)
{
	if (svc_identity_host(who))
		return ((unsigned)priv & AUTH_PRIV_HOST) == (unsigned)priv && priv != AUTH_PRIV_NONE;
	return auth_acl_allows_within(a->acl, a->n, who->user, who->token[0] ? who->token : NULL, priv, prefix);
}

bool svc_auth_allowed(const struct svc_identity *who, enum auth_priv priv, const char *object)
{
	struct acl_record *list = NULL;
	size_t n = 0;
	bool ok = false;

	if (svc_identity_host(who))
		return ((unsigned)priv & AUTH_PRIV_HOST) == (unsigned)priv && priv != AUTH_PRIV_NONE;

	if (store_acl_list(svc_cfg.store, &list, &n) < 0)
		return false;
	struct auth_acl *acl = xcalloc(n ? n : 1, sizeof(*acl));
	for (size_t i = 0; i < n; i++)
		acl[i] = (struct auth_acl){ list[i].subject, list[i].role, list[i].path };
	ok = auth_acl_allows(acl, n, who->user, who->token[0] ? who->token : NULL, priv, object);
	free(acl);
	store_acl_list_free(list, n);
	return ok;
}

void svc_auth_audit(const struct svc_identity *who, const char *peer, const char *method, const char *path,
		    int status)
{
	struct buf d = BUF_INIT;
	buf_printf(&d, "%s%s%s", who->user, who->token[0] ? "!" : "", who->token);
	if (who->via[0])
		buf_printf(&d, " via %s", who->via);
	if (strcmp(peer, "unix") != 0)
		buf_printf(&d, " from %s", peer);
	buf_printf(&d, ": %s ", method);
	buf_add_printable(&d, path, strlen(path));
	buf_printf(&d, " -> %d", status);
	store_event_add(svc_cfg.store, NULL, "api", d.s);
	/* with the stored event's type and detail: `events --follow` prints the detail */
	events_publish_vm("api", NULL, NULL,
			  json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s,s:s,s:i}", "type", "api", "detail", d.s, "user", who->user,
				    "token", who->token[0] ? who->token : NULL, "peer", peer, "method", method, "path",
				    path, "status", status));
	log_info("api: %s", d.s);
	buf_release(&d);
}

/* ---- users ---- */

json_t *svc_user_list(void)
{
	struct user_record *u = NULL;
	struct token_record *t = NULL;
	size_t nu = 0, nt = 0;
	json_t *out = json_array();
	char stamp[40];

	if (store_user_list(svc_cfg.store, &u, &nu) < 0)
		return out;
	store_token_list(svc_cfg.store, NULL, &t, &nt);
	for (size_t i = 0; i < nu; i++) {
		json_t *ids = json_array();
		for (size_t k = 0; k < nt; k++)
			if (strcmp(t[k].user, u[i].name) == 0)
				json_array_append_new(ids, json_string(t[k].id));
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:o}", "name", u[i].name, "comment", u[i].comment,
						     "created",
						     time_fmt_rfc3339(u[i].created_ms, stamp, sizeof(stamp)), "tokens",
						     ids));
	}
	store_token_list_free(t, nt);
	store_user_list_free(u, nu);
	return out;
}

static int comment_check(const char *comment, struct buf *err)
{
	if (comment && (strlen(comment) > 200 || str_has_control(comment))) {
		buf_printf(err, "a comment is at most 200 bytes without control characters");
		return -EINVAL;
	}
	return 0;
}

static int store_fail(int r, struct buf *err, const char *what)
{
	/* the store's refusal was logged with its reason; say it in words the user knows
	 * (the pool's refusal is already in such words) */
	if (!err->len && store_commit_refusal(r))
		buf_adds(err, store_commit_refusal(r));
	else if (!err->len)
		buf_printf(err, "%s", what);
	return r;
}

int svc_user_add(const char *name, const char *password, const char *comment, json_t **out, struct buf *err)
{
	__do_free char *hash = NULL;
	int r;

	if ((r = auth_user_name_check(name, err)) < 0 || (r = auth_password_check(password, err)) < 0 ||
	    (r = comment_check(comment, err)) < 0)
		return r;
	if ((r = auth_password_hash(password, &hash, err)) < 0)
		return r;
	r = store_user_put(svc_cfg.store, name, hash, comment, true);
	if (r == -EEXIST)
		return store_fail(r, err, "a user with this name already exists");
	if (r < 0)
		return store_fail(r, err, "cannot record the user");
	*out = json_pack("{s:s,s:s}", "name", name, "comment", comment ? comment : "");
	return 0;
}

int svc_user_passwd(const char *name, const char *password, struct buf *err)
{
	__do_free char *hash = NULL;
	int r;

	if ((r = auth_user_name_check(name, err)) < 0 || (r = auth_password_check(password, err)) < 0)
		return r;
	if ((r = auth_password_hash(password, &hash, err)) < 0)
		return r;
	r = store_user_put(svc_cfg.store, name, hash, NULL, false);
	if (r == -ENOENT)
		buf_printf(err, "no user '%s'", name);
	if (r == 0)
		svc_session_drop_user(name); /* a new password logs her web sessions out */
	return r < 0 ? store_fail(r, err, "cannot change the password") : 0;
}

int svc_user_delete(const char *name, struct buf *err)
{
	int r = auth_user_name_check(name, err);
	if (r < 0)
		return r;
	r = store_user_delete(svc_cfg.store, name);
	if (r == -ENOENT)
		buf_printf(err, "no user '%s'", name);
	if (r == 0)
		svc_session_drop_user(name);
	return r < 0 ? store_fail(r, err, "cannot delete the user") : 0;
}

/* ---- tokens ---- */

json_t *svc_token_list(const char *user)
{
	struct token_record *t = NULL;
	size_t n = 0;
	json_t *out = json_array();
	char a[40], b[40];
	int64_t now = time_wall_ms();

	if (store_token_list(svc_cfg.store, user, &t, &n) < 0)
		return out;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:s?,s:b}", "user", t[i].user, "id", t[i].id,
						     "comment", t[i].comment, "created",
						     time_fmt_rfc3339(t[i].created_ms, a, sizeof(a)), "expires",
						     t[i].expires_ms ? time_fmt_rfc3339(t[i].expires_ms, b, sizeof(b))
								     : NULL,
						     "expired", t[i].expires_ms && now >= t[i].expires_ms));
	store_token_list_free(t, n);
	return out;
}

/* Copy user's ACL entries to her token id.  0 or -errno + err. */
static int token_inherit(const char *user, const char *id, struct buf *err)
{
	struct acl_record *list = NULL;
	size_t n = 0;
	int r = store_acl_list(svc_cfg.store, &list, &n);
	__do_free char *subject = xasprintf("%s!%s", user, id);

	for (size_t i = 0; r == 0 && i < n; i++)
		if (strcmp(list[i].subject, user) == 0)
			r = store_acl_put(svc_cfg.store, subject, list[i].role, list[i].path);
	store_acl_list_free(list, n);
	return r < 0 ? store_fail(r, err, "cannot give the token its user's ACL entries") : 0;
}

int svc_token_add(const char *user, const char *id, int64_t ttl_s, const char *comment, bool inherit, json_t **out,
		  struct buf *err)
{
	char secret[AUTH_SECRET_HEX + 1], stamp[40];
	int r;

	if ((r = auth_user_name_check(user, err)) < 0 || (r = auth_token_id_check(id, err)) < 0 ||
	    (r = comment_check(comment, err)) < 0)
		return r;
	if (ttl_s < 0 || ttl_s > 100LL * 366 * 24 * 3600) {
		buf_printf(err, "a token's lifetime is 0 (never expires) to 100 years, in seconds");
		return -EINVAL;
	}
	if ((r = auth_secret_new(secret, sizeof(secret), err)) < 0)
		return r;
	__do_free char *hash = auth_secret_hash(secret);
	struct token_record t = { .user = (char *)user, .id = (char *)id, .hash = hash, .comment = (char *)comment,
				  .expires_ms = ttl_s ? time_wall_ms() + ttl_s * 1000 : 0 };
	r = store_token_add(svc_cfg.store, &t);
	if (r == -ENOENT)
		buf_printf(err, "no user '%s'", user);
	else if (r == -EEXIST)
		buf_printf(err, "user '%s' already has a token '%s'", user, id);
	if (r < 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return store_fail(r, err, "cannot record the token");
	}
	if (inherit && (r = token_inherit(user, id, err)) < 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		struct buf ignored = BUF_INIT;
		svc_token_delete(user, id, &ignored);
		buf_release(&ignored);
		return r;
	}
	__do_free char *authz = xasprintf("Bearer %s!%s:%s", user, id, secret);
	*out = json_pack("{s:s,s:s,s:s?,s:s,s:s}", "user", user, "id", id, "expires",
			 t.expires_ms ? time_fmt_rfc3339(t.expires_ms, stamp, sizeof(stamp)) : NULL, "secret", secret,
			 "authorization", authz);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(authz, strlen(authz));
	return 0;
}

int svc_token_delete(const char *user, const char *id, struct buf *err)
{
	int r;
	if ((r = auth_user_name_check(user, err)) < 0 || (r = auth_token_id_check(id, err)) < 0)
		return r;
	r = store_token_delete(svc_cfg.store, user, id);
	if (r == -ENOENT)
		buf_printf(err, "user '%s' has no token '%s'", user, id);
	return r < 0 ? store_fail(r, err, "cannot delete the token") : 0;
}

/* ---- ACL entries ---- */

json_t *svc_acl_list(void)
{
	struct acl_record *a = NULL;
	size_t n = 0;
	json_t *out = json_array();

	if (store_acl_list(svc_cfg.store, &a, &n) < 0)
		return out;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "subject", a[i].subject, "role", a[i].role,
						     "path", a[i].path));
	store_acl_list_free(a, n);
	return out;
}

json_t *svc_priv_names(unsigned privs)
{
	json_t *names = json_array();

	for (unsigned bit = 1; bit & AUTH_PRIV_ALL; bit <<= 1)
		if ((privs & bit) && auth_priv_name((enum auth_priv)bit))
			json_array_append_new(names, json_string(auth_priv_name((enum auth_priv)bit)));
	return names;
}

json_t *svc_acl_rights(const char *user)
{
	struct acl_record *a = NULL;
	size_t n = 0;
	json_t *out = json_array();

	if (!user || store_acl_list(svc_cfg.store, &a, &n) < 0)
		return out;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(a[i].subject, user) != 0)
			continue;
		json_array_append_new(out, json_pack("{s:s,s:s,s:o}", "path", a[i].path, "role", a[i].role,
						     "privileges", svc_priv_names(auth_role_privs(a[i].role))));
	}
	store_acl_list_free(a, n);
	return out;
}

/* "user" or "user!tokenid", each part valid. */
static int subject_check(const char *subject, struct buf *err)
{
	const char *bang = subject ? strchr(subject, '!') : NULL;
	char user[AUTH_NAME_MAX + 1];

	if (!subject) {
		buf_printf(err, "an ACL entry needs a subject: a user or USER!TOKENID");
		return -EINVAL;
	}
	if (!bang)
		return auth_user_name_check(subject, err);
	if ((size_t)(bang - subject) > AUTH_NAME_MAX) {
		buf_printf(err, "a user name is at most %d bytes", AUTH_NAME_MAX);
		return -EINVAL;
	}
	snprintf(user, sizeof(user), "%.*s", (int)(bang - subject), subject);
	int r = auth_user_name_check(user, err);
	return r < 0 ? r : auth_token_id_check(bang + 1, err);
}

int svc_acl_add(const char *subject, const char *role, const char *path, struct buf *err)
{
	int r;

	if ((r = subject_check(subject, err)) < 0 || (r = auth_scope_check(path, err)) < 0)
		return r;
	if (!auth_role_privs(role)) {
		buf_printf(err, "unknown role '%.64s': use Administrator, Operator or Auditor", role ? role : "");
		return -EINVAL;
	}
	r = store_acl_put(svc_cfg.store, subject, role, path);
	if (r == -ENOENT)
		buf_printf(err, "no user or token '%s'", subject);
	return r < 0 ? store_fail(r, err, "cannot record the ACL entry") : 0;
}

int svc_acl_delete(const char *subject, const char *path, struct buf *err)
{
	int r;
	if ((r = subject_check(subject, err)) < 0 || (r = auth_scope_check(path, err)) < 0)
		return r;
	r = store_acl_delete(svc_cfg.store, subject, path);
	if (r == -ENOENT)
		buf_printf(err, "'%s' has no ACL entry on %s", subject, path);
	return r < 0 ? store_fail(r, err, "cannot delete the ACL entry") : 0;
}
