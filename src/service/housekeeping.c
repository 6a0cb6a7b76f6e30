/*
 * housekeeping.c - corrald's periodic chores, on one thread.
 *
 * Every HEARTBEAT_S the event bus gets a heartbeat (event streams notice
 * readers that went away while nothing happened); every LEASES_S the
 * networks' DHCP leases are looked at (svc_net_leases_poll) and incoming
 * migrations whose QEMU died are removed (svc_migrate_reap); at start and every
 * PRUNE_S the host-local history is pruned to the retention the
 * configuration sets (store_prune).  Started by svc_init, stopped and
 * joined by svc_shutdown.
 */
#include <pthread.h>
#include <string.h>
#include <stdbool.h>
#include <time.h>

#include "service/service.h"
#include "service/internal.h"
#include "service/ct.h"
#include "service/migrate_offline.h"
#include "service/network.h"
#include "core/events.h"
#include "core/store_local.h"
#include "util/timeutil.h"
#include "util/log.h"
#include "util/common.h"

#define HEARTBEAT_S 15
#define LEASES_S 1 /* a new lease opens the guest's traffic filter (net/hygiene.h): soon */
#define PRUNE_S 3600

static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond = PTHREAD_COND_INITIALIZER;
static bool hk_stop, hk_running;
static pthread_t hk_thread;

static void prune(void)
{
	int n = store_prune(svc_cfg.store, &svc_cfg.retention, time_wall_ms());
	if (n > 0)
		log_info("history: %d old event and job records removed (keeping %lld events per VM, %lld jobs, %lld days)",
			 n, (long long)svc_cfg.retention.events, (long long)svc_cfg.retention.jobs,
			 (long long)svc_cfg.retention.days);
	else if (n < 0)
		log_warn("history: pruning old events and jobs failed: %s", strerror(-n));
}

static void *hk_main(void *arg)
{
	int64_t next_prune = 0, next_beat = time_mono_ms() + HEARTBEAT_S * 1000;
	(void)arg;
	pthread_mutex_lock(&hk_lock);
	while (!hk_stop) {
		if (time_mono_ms() >= next_prune) {
			pthread_mutex_unlock(&hk_lock);
			prune();
			pthread_mutex_lock(&hk_lock);
			next_prune = time_mono_ms() + PRUNE_S * 1000;
		}
		struct timespec ts = time_realtime_in(LEASES_S * 1000);
		pthread_cond_timedwait(&hk_cond, &hk_lock, &ts);
		if (hk_stop)
			break;
		pthread_mutex_unlock(&hk_lock);
		svc_net_leases_poll();
		svc_migrate_reap();
		svc_migrate_offline_reap(false);
		svc_ct_migrate_reap(false);
		if (time_mono_ms() >= next_beat) {
			events_tick();
			next_beat = time_mono_ms() + HEARTBEAT_S * 1000;
		}
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
