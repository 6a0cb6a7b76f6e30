/*
 * housekeeping.c - corrald's periodic chores, on one thread.
 *
 * Every HEARTBEAT_S the event bus gets a heartbeat (event streams notice
 * readers that went away while nothing happened).  Started by svc_init,
 * stopped and joined by svc_shutdown.
 */
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "service/service.h"
#include "service/internal.h"
#include "core/events.h"
#include "util/log.h"
#include "util/common.h"

#define HEARTBEAT_S 15

static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond = PTHREAD_COND_INITIALIZER;
static bool hk_stop, hk_running;
static pthread_t hk_thread;

static void *hk_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&hk_lock);
	while (!hk_stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += HEARTBEAT_S;
		pthread_cond_timedwait(&hk_cond, &hk_lock, &ts);
		if (hk_stop)
			break;
		pthread_mutex_unlock(&hk_lock);
		events_tick();
		pthread_mutex_lock(&hk_lock);
	}
	pthread_mutex_unlock(&hk_lock);
	return NULL;
}

int svc_housekeeping_start(void)
{
	hk_stop = false;
	int r = pthread_create(&hk_thread, NULL, hk_main, NULL);
	hk_running = r == 0;
	if (r)
		log_warn("cannot start the housekeeping thread: %d", r);
	return -r;
}

void svc_housekeeping_stop(void)
{
	if (!hk_running)
		return;
	pthread_mutex_lock(&hk_lock);
	hk_stop = true;
	pthread_cond_signal(&hk_cond);
	pthread_mutex_unlock(&hk_lock);
	pthread_join(hk_thread, NULL);
	hk_running = false;
}
