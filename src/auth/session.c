/*
 * session.c - the web UI's login sessions (see auth.h): an in-memory table
 * from a session id to its user, its CSRF token and its deadlines.
 *
 * The id (what the browser's cookie carries) and the CSRF token are 32
 * random bytes each in hex (auth_secret_new).  The table keeps only the
 * SHA-256 of the id, so a memory dump shows no usable cookie, and finds a
 * session by comparing hashes.  A session ends idle_ms after its last use,
 * max_age_ms after its login, at logout, or when its user is deleted or
 * gets a new password; the table holds at most `max` sessions and a login
 * beyond that ends the least recently used one.  A restart of corrald
 * forgets every session (users log in again).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "auth.h"
#include "util/common.h"

struct session {
	char *id_hash;                 /* auth_secret_hash of the id */
	char user[AUTH_NAME_MAX + 1];
	char csrf[AUTH_SECRET_HEX + 1];
	int64_t created_ms, used_ms;
};

struct auth_sessions {
	pthread_mutex_t lock;
	unsigned max;
	int64_t idle_ms, max_age_ms;
	struct session *s;
	size_t n;
};

struct auth_sessions *auth_sessions_new(unsigned max, int64_t idle_ms, int64_t max_age_ms)
{
	struct auth_sessions *t = xcalloc(1, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->max = max ? max : 1;
	t->idle_ms = idle_ms;
	t->max_age_ms = max_age_ms;
	return t;
}

static void session_remove(struct auth_sessions *t, size_t i)
{
	free(t->s[i].id_hash);
	OPENSSL_cleanse(t->s[i].csrf, sizeof(t->s[i].csrf));
	t->s[i] = t->s[--t->n];
}

void auth_sessions_free(struct auth_sessions *t)
{
	if (!t)
		return;
	while (t->n)
		session_remove(t, 0);
	free(t->s);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static bool expired(const struct auth_sessions *t, const struct session *s, int64_t now_ms)
{
	return now_ms - s->used_ms >= t->idle_ms || now_ms - s->created_ms >= t->max_age_ms;
}

int auth_session_create(struct auth_sessions *t, const char *user, int64_t now_ms, char *id, char *csrf,
			struct buf *err)
{
	int r;

	if (strlen(user) > AUTH_NAME_MAX) {
		buf_printf(err, "user name too long for a session");
		return -EINVAL;
	}
	if ((r = auth_secret_new(id, AUTH_SECRET_HEX + 1, err)) < 0 ||
	    (r = auth_secret_new(csrf, AUTH_SECRET_HEX + 1, err)) < 0)
		return r;
	pthread_mutex_lock(&t->lock);
	for (size_t i = t->n; i-- > 0;)
		if (expired(t, &t->s[i], now_ms))
			session_remove(t, i);
	if (t->n >= t->max) {
		size_t lru = 0;
		for (size_t i = 1; i < t->n; i++)
			if (t->s[i].used_ms < t->s[lru].used_ms)
				lru = i;
		session_remove(t, lru);
	}
	t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
	struct session *s = &t->s[t->n++];
	memset(s, 0, sizeof(*s));
	s->id_hash = auth_secret_hash(id);
	snprintf(s->user, sizeof(s->user), "%s", user);
	snprintf(s->csrf, sizeof(s->csrf), "%s", csrf);
	s->created_ms = s->used_ms = now_ms;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* The index of the session with id, or -1. */
static ssize_t find(struct auth_sessions *t, const char *id)
{
	if (!id || strlen(id) != AUTH_SECRET_HEX || strspn(id, "0123456789abcdef") != AUTH_SECRET_HEX)
		return -1;
	__do_free char *h = auth_secret_hash(id);
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->s[i].id_hash, h) == 0)
			return (ssize_t)i;
	return -1;
}

int auth_session_get(struct auth_sessions *t, const char *id, int64_t now_ms, char *user, size_t user_len,
		     char *csrf, size_t csrf_len)
{
	int r = -ENOENT;

	pthread_mutex_lock(&t->lock);
	ssize_t i = find(t, id);
	if (i >= 0 && expired(t, &t->s[i], now_ms)) {
		session_remove(t, (size_t)i);
	} else if (i >= 0) {
		t->s[i].used_ms = now_ms;
		snprintf(user, user_len, "%s", t->s[i].user);
		if (csrf)
			snprintf(csrf, csrf_len, "%s", t->s[i].csrf);
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

bool auth_session_delete(struct auth_sessions *t, const char *id)
{
	pthread_mutex_lock(&t->lock);
	ssize_t i = find(t, id);
	if (i >= 0)
		session_remove(t, (size_t)i);
	pthread_mutex_unlock(&t->lock);
	return i >= 0;
}

size_t auth_sessions_drop_user(struct auth_sessions *t, const char *user)
{
	size_t n = 0;
	pthread_mutex_lock(&t->lock);
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->s[i].user, user) == 0) {
			session_remove(t, i);
			n++;
		}
	pthread_mutex_unlock(&t->lock);
	return n;
}

bool auth_csrf_equal(const char *expected, const char *got)
{
	size_t n = strlen(expected);
	return got && n && strlen(got) == n && CRYPTO_memcmp(expected, got, n) == 0;
}
