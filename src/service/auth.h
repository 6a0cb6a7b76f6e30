/*
 * auth.h - users, API tokens, ACL entries, and the check every request
 * over TCP goes through (auth.c).  The rules: names and passwords are
 * checked here, passwords kept only as yescrypt hashes and token secrets
 * only as SHA-256 (the secret is in the answer of svc_token_add, once);
 * a role must be one of auth_role_names(), a scope a path auth_scope_check
 * accepts; ACL subjects must exist.  The unix socket is not checked at all:
 * whoever can open it is root on the host anyway.
 *
 * Threading: any thread.  Errors: see service.h; a refused login is
 * -EACCES (401 in the API), a rate-limited one -EAGAIN with *retry_s.
 */
#ifndef CORRAL_SERVICE_AUTH_H
#define CORRAL_SERVICE_AUTH_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "auth/auth.h"
#include "service/service.h"

/* Called by svc_init / svc_shutdown (the limits come from svc_config). */
void svc_auth_init(void);
void svc_auth_shutdown(void);

/* Who made a request over TCP. */
struct svc_identity {
	char user[AUTH_NAME_MAX + 6];  /* a user, or "host:NAME" for a trusted host (svc_auth_host_login) */
	char token[AUTH_NAME_MAX + 1]; /* "" when she logged in with her password */
	char via[AUTH_NAME_MAX + 1];   /* the pool member that forwarded the request for her, or "" */
};

/*
 * Check the Authorization header of a request from `peer` (an address,
 * for rate limiting and the log): 0 and *who; -EACCES + err when there is
 * none or it is wrong, expired or malformed (the same words for a wrong
 * user, a wrong token and a wrong secret); -EAGAIN + err and *retry_s when
 * the user or the address failed too often lately (nothing is checked
 * then).  Failures are logged without the secret.
 */
int svc_auth_login(const char *header, const char *peer, struct svc_identity *who, int64_t *retry_s,
		   struct buf *err);
/*
 * The same check for a user name and password given apart (the web UI's
 * login form, session.h): the same rate limits, log lines and answers.
 */
int svc_auth_password_login(const char *user, const char *password, const char *peer, struct svc_identity *who,
			    int64_t *retry_s, struct buf *err);
/*
 * A request over TCP without an Authorization header whose client presented
 * a certificate with fingerprint `client_fp`: 0 and *who = "host:NAME" when
 * it is a trusted host's (trust.h); -EACCES + err (and a logged, rate-limited
 * failure of the address) when it is not; -EAGAIN + *retry_s when the
 * address failed too often lately.
 */
int svc_auth_host_login(const char *client_fp, const char *peer, struct svc_identity *who, int64_t *retry_s,
			struct buf *err);
/*
 * A trusted host (who is "host:NAME") that forwards a request names the
 * caller it acts for (poolview.h, POOLVIEW_USER_HEADER): "USER",
 * "USER!TOKEN", or "@host" (POOLVIEW_USER_HOST: root on its unix socket;
 * no user name starts with '@').  Only a node of
 * this host's pool may: then 0 and who becomes USER (with TOKEN) via NAME,
 * whose rights the replicated ACL gives here; "@host" leaves who the host
 * "host:NAME" (a member's root holds its host key anyway).  -EACCES + err
 * for a host that is not a pool member, -EINVAL + err for a malformed value.
 */
int svc_auth_assert(struct svc_identity *who, const char *value, struct buf *err);
/* The trusted host's name if who is one ("host:NAME"), else NULL. */
const char *svc_identity_host(const struct svc_identity *who);
/* May who exercise priv on object (auth_acl_allows over the stored ACL)?  A trusted
 * host may do anything (AUTH_PRIV_HOST), and only a trusted host holds Host.Peer. */
bool svc_auth_allowed(const struct svc_identity *who, enum auth_priv priv, const char *object);
/*
 * A copy of the ACL for many checks in a row (filtering a list, an event
 * stream): no store access after svc_acl_load, so a copy may be used where
 * the store must not be touched (an event bus callback).  Changes to the
 * ACL made later do not reach a copy.
 */
struct svc_acl;
struct svc_acl *svc_acl_load(void);
void svc_acl_free(struct svc_acl *a);
bool svc_acl_allows(const struct svc_acl *a, const struct svc_identity *who, enum auth_priv priv,
		    const char *object);
/* May who exercise priv on `prefix` or on anything below it ("/vms": some VM)? */
bool svc_acl_allows_within(const struct svc_acl *a, const struct svc_identity *who, enum auth_priv priv,
			   const char *prefix);

/* Record a change (a request other than GET, through either door) in the
 * host's events and the log: who ("root@unix" on the socket), from where
 * (not said for the socket), what, the status. */
void svc_auth_audit(const struct svc_identity *who, const char *peer, const char *method, const char *path,
		    int status);

/* [{"name","comment","created","tokens":[ids]}], never a hash. */
json_t *svc_user_list(void);
int svc_user_add(const char *name, const char *password, const char *comment, json_t **out, struct buf *err);
int svc_user_passwd(const char *name, const char *password, struct buf *err);
/* Her tokens and ACL entries go with her. */
int svc_user_delete(const char *name, struct buf *err);
/* user NULL: every user's.  [{"user","id","comment","created","expires"|null,"expired"}]. */
json_t *svc_token_list(const char *user);
/* ttl_s 0: never expires.  With `inherit` the token gets a copy of its user's
 * ACL entries now (so it may do what she may; taking rights from her later
 * still narrows it).  *out = {"user","id","expires","secret","authorization"}
 * (the only place the secret ever appears). */
int svc_token_add(const char *user, const char *id, int64_t ttl_s, const char *comment, bool inherit, json_t **out,
		  struct buf *err);
int svc_token_delete(const char *user, const char *id, struct buf *err);
/* [{"subject","role","path"}] */
json_t *svc_acl_list(void);
/*
 * The entries naming `user` herself (not her tokens), each with the
 * privileges of its role: [{"path","role","privileges":["VM.Audit",...]}].
 * What a session may do, for the web UI to leave out buttons that would be
 * refused (the server checks every request all the same).  Caller owns it.
 */
json_t *svc_acl_rights(const char *user);
/* The names of the privileges in the set privs (enum auth_priv bits), as a new array. */
json_t *svc_priv_names(unsigned privs);
int svc_acl_add(const char *subject, const char *role, const char *path, struct buf *err);
int svc_acl_delete(const char *subject, const char *path, struct buf *err);

#endif
