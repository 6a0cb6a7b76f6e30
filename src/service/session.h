/*
 * session.h - the web UI's login sessions (docs/webui.md, "Sessions"):
 * a user logs in once with her password and the browser then carries a
 * session id in a cookie instead of credentials on every request.
 *
 * A session has exactly its user's rights (the ACL entries of the user,
 * as a password login over TLS; never a token's), a CSRF token the page
 * must send back in X-CSRF-Token with every request that changes
 * something, and ends after svc_config.session_idle_s without use,
 * session_max_age_s after login, at logout, or when its user is deleted or
 * her password changed.  Sessions live in corrald's memory (auth/session.c):
 * a restart logs everyone out.
 *
 * Threading: any thread.  Errors: as service.h; a refused login is -EACCES,
 * a rate-limited one -EAGAIN with *retry_s (the same limits as every
 * other login: svc_auth_password_login).
 */
#ifndef CORRAL_SERVICE_SESSION_H
#define CORRAL_SERVICE_SESSION_H

#include <stdint.h>

#include "auth/auth.h"
#include "service/auth.h"

#define SVC_SESSION_DEFAULT_IDLE_S 1800
#define SVC_SESSION_DEFAULT_MAX_AGE_S 43200
#define SVC_SESSION_MAX 4096

/* Called by svc_init / svc_shutdown. */
void svc_session_init(void);
void svc_session_shutdown(void);

/*
 * Log user in with password from peer: 0 and a new session's id and CSRF
 * token (AUTH_SECRET_HEX + 1 bytes each).  The login is recorded as a host
 * event like any change made over TLS.
 */
int svc_session_login(const char *user, const char *password, const char *peer, char *id, char *csrf,
		      int64_t *retry_s, struct buf *err);
/* The caller of session id: 0, *who and its CSRF token (csrf may be NULL);
 * -EACCES + err when the session is unknown or over. */
int svc_session_check(const char *id, struct svc_identity *who, char *csrf, size_t csrf_len, struct buf *err);
/* End session id (logout); no error when it had already ended. */
void svc_session_logout(const char *id);
/* End every session of user (deleted, or a new password). */
void svc_session_drop_user(const char *user);
/* The session lifetimes in force, in seconds. */
unsigned svc_session_idle_s(void);
unsigned svc_session_max_age_s(void);

#endif
