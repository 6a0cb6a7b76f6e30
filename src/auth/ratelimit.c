/*
 * ratelimit.c - failed logins counted per key (a user name, a source
 * address) in a sliding window (see auth.h).
 *
 * Each key keeps the times of its last `limit` failures in a ring; the key
 * may try again once the oldest of them is older than the window.  The
 * table is bounded: past AUTH_RL_KEYS keys the entry whose newest failure
 * is oldest is reused, so a flood of made-up names costs memory once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "util/common.h"

#define AUTH_RL_KEYS 4096
#define AUTH_RL_MAX_LIMIT 64

struct rl_entry {
	char *key;
	int64_t fails[AUTH_RL_MAX_LIMIT]; /* ring of failure times (ms) */
	unsigned n, next;
	int64_t newest;
};

struct auth_ratelimit {
	pthread_mutex_t lock;
	unsigned limit;
	int64_t window_ms;
	struct rl_entry *e;
	size_t n;
};

struct auth_ratelimit *auth_ratelimit_new(unsigned limit, unsigned window_s)
{
	struct auth_ratelimit *rl = xcalloc(1, sizeof(*rl));
	pthread_mutex_init(&rl->lock, NULL);
	rl->limit = limit > AUTH_RL_MAX_LIMIT ? AUTH_RL_MAX_LIMIT : limit;
	rl->window_ms = (int64_t)window_s * 1000;
	return rl;
}

void auth_ratelimit_free(struct auth_ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < rl->n; i++)
		free(rl->e[i].key);
	free(rl->e);
	pthread_mutex_destroy(&rl->lock);
	free(rl);
}

static struct rl_entry *find(struct auth_ratelimit *rl, const char *key)
{
	for (size_t i = 0; i < rl->n; i++)
		if (strcmp(rl->e[i].key, key) == 0)
			return &rl->e[i];
	return NULL;
}

int64_t auth_ratelimit_check(struct auth_ratelimit *rl, const char *key, int64_t now_ms)
{
	int64_t wait = 0;

	if (!rl || !rl->limit)
		return 0;
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = find(rl, key);
	if (e && e->n >= rl->limit) {
		/* the oldest of the last `limit` failures */
		int64_t oldest = e->fails[e->next % rl->limit];
		if (now_ms - oldest < rl->window_ms)
			wait = (oldest + rl->window_ms - now_ms + 999) / 1000;
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}

void auth_ratelimit_fail(struct auth_ratelimit *rl, const char *key, int64_t now_ms)
{
	if (!rl || !rl->limit)
		return;
	pthread_mutex_lock(&rl->lock);
	struct rl_entry *e = find(rl, key);
	if (!e) {
		if (rl->n < AUTH_RL_KEYS) {
			rl->e = xrealloc(rl->e, (rl->n + 1) * sizeof(*rl->e));
			e = &rl->e[rl->n++];
		} else {
			e = &rl->e[0];
			for (size_t i = 1; i < rl->n; i++)
				if (rl->e[i].newest < e->newest)
					e = &rl->e[i];
			free(e->key);
		}
		memset(e, 0, sizeof(*e));
		e->key = xstrdup(key);
	}
	e->fails[e->next] = now_ms;
	e->next = (e->next + 1) % rl->limit;
	if (e->n < rl->limit)
		e->n++;
	e->newest = now_ms;
	pthread_mutex_unlock(&rl->lock);
}
