/*
 * session.c - see session.h: the web UI's sessions over the table of
 * auth/session.c, with the logins of service/auth.c.
 */
#include <errno.h>
#include <stddef.h>

#include "service/session.h"
#include "service/internal.h"
#include "util/log.h"
#include "util/timeutil.h"

static struct auth_sessions *sessions;
static unsigned idle_s, max_age_s;

void svc_session_init(void)
{
	idle_s = svc_cfg.session_idle_s ? svc_cfg.session_idle_s : SVC_SESSION_DEFAULT_IDLE_S;
	max_age_s = svc_cfg.session_max_age_s ? svc_cfg.session_max_age_s : SVC_SESSION_DEFAULT_MAX_AGE_S;
	sessions = auth_sessions_new(SVC_SESSION_MAX, (int64_t)idle_s * 1000, (int64_t)max_age_s * 1000);
}

void svc_session_shutdown(void)
{
	auth_sessions_free(sessions);
	sessions = NULL;
}

unsigned svc_session_idle_s(void) { return idle_s; }
unsigned svc_session_max_age_s(void) { return max_age_s; }

int svc_session_login(const char *user, const char *password, const char *peer, char *id, char *csrf,
		      int64_t *retry_s, struct buf *err)
{
	struct svc_identity who = { "", "", "" };
	int r = svc_auth_password_login(user, password, peer, &who, retry_s, err);

	if (r < 0)
		return r;
	if ((r = auth_session_create(sessions, who.user, time_mono_ms(), id, csrf, err)) < 0)
		return r;
	log_info("web session opened for %s from %s", who.user, peer);
	return 0;
}

int svc_session_check(const char *id, struct svc_identity *who, char *csrf, size_t csrf_len, struct buf *err)
{
	if (!sessions ||
	    auth_session_get(sessions, id, time_mono_ms(), who->user, sizeof(who->user), csrf, csrf_len) < 0) {
		buf_printf(err, "the session has ended (logged out, expired, or corrald restarted): log in again");
		return -EACCES;
	}
	who->token[0] = '\0';
	return 0;
}

void svc_session_logout(const char *id)
{
	if (sessions)
		auth_session_delete(sessions, id);
}

void svc_session_drop_user(const char *user)
{
	size_t n = sessions ? auth_sessions_drop_user(sessions, user) : 0;
	if (n)
		log_info("%zu web session%s of %s ended", n, n == 1 ? "" : "s", user);
}
