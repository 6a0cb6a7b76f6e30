/*
 * ha_fence.c - corrald's HA self-fence (see ha_fence.h): a thread that
 * follows quorum and kills this host's armed HA QEMUs when it is lost.
 *
 * The armed list is read from the store once a second (and at once on
 * ha_fence_refresh) while the host is quorate, and kept in memory, so the
 * kill itself needs no database: it walks the cached uuids and calls
 * rt_fence for each.  The events and state changes follow the kill.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/conf.h"
#include "cluster/membership.h"
#include "core/store.h"
#include "core/store_local.h"
#include "qemu/runtime.h"
#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/ha.h"
#include "service/ha_ack.h"
#include "service/ha_fence.h"
#include "service/ha_guard.h"
#include "service/ha_kind.h"
#include "service/ha_lease.h"
#include "service/ct.h"
#include "service/internal.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define FENCE_MAX 256
#define FENCE_SLACK_MS 1500
#define FENCE_CONFIRM_MS 1000 /* K: kill and confirm (design memo 4.3) */
#define FENCE_MARGIN_MS 500

struct armed {
	svc_uuid uuid;
	char name[64];
	enum ha_kind kind;
	int pidfd; /* a container: its init's, opened when armed (the fence needs no liblxc call); else -1 */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static bool running, stopping, refresh;
/* guarded by lock */
static struct armed armed[FENCE_MAX];
static unsigned narmed;
static const char *state = "off";
static int64_t token_ms, consensus_ms, deadline_ms;
static int64_t unquorate_since; /* mono ms of the last quorate view while without quorum (0: quorate) */
static json_t *last; /* the last fence, or NULL */

/* Close the armed set's pidfds (under lock; the fence thread alone opens and closes them). */
static void armed_close(void)
{
	for (unsigned i = 0; i < narmed; i++)
		if (armed[i].pidfd >= 0)
			close(armed[i].pidfd);
	narmed = 0;
}

/* The armed VMs and containers: HA state "started", running here. */
static void armed_read(void)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	struct armed tmp[FENCE_MAX];
	unsigned k = 0;
	if (store_ha_list(svc_cfg.store, &list, &n) < 0)
		return;
	for (size_t i = 0; i < n && k < FENCE_MAX; i++) {
		__do_json json_t *d = json_loads(list[i].def, 0, NULL);
		const char *st = json_string_value(json_object_get(d, "state"));
		enum ha_kind kind = ha_kind_of(d);
		if (!st || strcmp(st, "started") != 0 || !ha_res_active(kind, list[i].uuid))
			continue;
		tmp[k].kind = kind;
		tmp[k].pidfd = kind == HA_CT ? ha_res_pidfd(kind, list[i].uuid) : -1;
		if (kind == HA_CT && tmp[k].pidfd < 0)
			continue; /* stopped since */
		snprintf(tmp[k].uuid, sizeof(tmp[k].uuid), "%s", list[i].uuid);
		snprintf(tmp[k].name, sizeof(tmp[k].name), "%s",
			 json_string_value(json_object_get(d, "vm")) ? json_string_value(json_object_get(d, "vm"))
								      : list[i].uuid);
		k++;
	}
	store_ha_list_free(list, n);
	pthread_mutex_lock(&lock);
	armed_close();
	memcpy(armed, tmp, k * sizeof(tmp[0]));
	narmed = k;
	pthread_mutex_unlock(&lock);
}

/* token_eff and consensus from corosync, else from the pool's token. */
static void timeouts_read(const struct cluster_def *d)
{
	struct membership_votes v;
	struct buf err __do_buf = BUF_INIT;
	int64_t t = d->token_ms, c = d->token_ms * 12 / 10;
	if (membership_votes(&v, &err) == 0 && v.token_ms && v.consensus_ms) {
		t = v.token_ms;
		c = v.consensus_ms;
	}
	pthread_mutex_lock(&lock);
	token_ms = t;
	consensus_ms = c;
	deadline_ms = t + c + FENCE_SLACK_MS;
	pthread_mutex_unlock(&lock);
}

static void fence_all(const char *why, const struct membership_view *v)
{
	struct armed list[FENCE_MAX];
	unsigned n;
	char reason[128];
	pthread_mutex_lock(&lock);
	n = narmed;
	memcpy(list, armed, n * sizeof(list[0]));
	state = "fencing";
	pthread_mutex_unlock(&lock);
	snprintf(reason, sizeof(reason), "fenced: %s", why);
	int64_t t0 = time_mono_ms();
	json_t *killed = json_array();
	int res[FENCE_MAX];
	for (unsigned i = 0; i < n; i++) {
		struct buf err __do_buf = BUF_INIT;
		res[i] = ha_res_fence(list[i].kind, list[i].uuid, list[i].pidfd, reason, &err);
		if (res[i] == 0 || res[i] == 1) /* by this thread, or corral-guard was first (both act on the same news) */
			json_array_append_new(killed, json_string(list[i].name));
		else if (res[i] < 0 && res[i] != -ESRCH)
			log_warn("ha: cannot fence %s %s: %s", ha_kind_word(list[i].kind), list[i].name,
				 err.s ? err.s : "");
	}
	int64_t took = time_mono_ms() - t0;
	for (unsigned i = 0; i < n; i++) {
		char detail[256];
		const char *proc = ha_kind_process(list[i].kind);
		if (res[i] == 0) {
			snprintf(detail, sizeof(detail), "%s (ring %x.%llx): %s killed (SIGKILL) in %lld ms", reason,
				 v->ring_nodeid, (unsigned long long)v->ring_seq, proc, (long long)took);
			svc_vm_event(list[i].uuid, "ha", detail);
		} else if (res[i] == 1) { /* corral-guard was first: corrald was late or stopped */
			snprintf(detail, sizeof(detail), "%s (ring %x.%llx): %s killed by corral-guard", reason,
				 v->ring_nodeid, (unsigned long long)v->ring_seq, proc);
			svc_vm_event(list[i].uuid, "ha", detail);
		}
	}
	log_warn("ha: %s: %zu HA VM(s) and container(s) dead in %lld ms", reason, json_array_size(killed),
		 (long long)took);
	pthread_mutex_lock(&lock);
	json_decref(last);
	last = json_pack("{s:I,s:s,s:o}", "time", (json_int_t)time_wall_ms(), "reason", reason, "killed", killed);
	armed_close();
	pthread_mutex_unlock(&lock);
}

/* Record what corral-guard killed while this thread could not (its report
 * file): each VM stopped with the fence's reason and an "ha" event.  Waits
 * until corrald has seen each QEMU gone, so the runtime's own "crashed" is
 * not written after ours. */
static void guard_report_take(void)
{
	__do_free char *text = ha_guard_report();
	if (!text)
		return;
	char *names = strchr(text, '\n');
	if (!names)
		return ha_guard_report_done();
	*names++ = '\0';
	char reason[160], *save = NULL;
	snprintf(reason, sizeof(reason), "fenced: %s", text);
	__do_free char *copy = xstrdup(names);
	for (char *tok = strtok_r(copy, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		if (rt_is_active(tok) || svc_ct_running(tok, NULL))
			return; /* not seen gone yet: next round */
	}
	save = NULL;
	for (char *tok = strtok_r(names, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		char *eq = strchr(tok, '=');
		if (eq)
			*eq = '\0';
		struct vm_record rec = { 0 };
		if (svc_ct_exists(tok)) {
			/* a container keeps no state in the store: "fenced here" in memory, for the HA agent */
			char detail[256];
			if (!svc_ct_fenced(tok, NULL, 0)) {
				svc_ct_fenced_note(tok, reason);
				snprintf(detail, sizeof(detail), "%s: the container's init killed by corral-guard", reason);
				svc_vm_event(tok, "ha", detail);
				log_warn("ha: corral-guard fenced container %s while corrald could not: %s",
					 eq ? eq + 1 : tok, reason);
			}
			continue;
		}
		/* crashed: the guard's kill, not corrald's (which records its own reason and event) */
		if (store_vm_get(svc_cfg.store, tok, &rec) == 0 && rec.state == VM_CRASHED) {
			char detail[256];
			store_vm_set_state(svc_cfg.store, tok, VM_STOPPED, reason);
			snprintf(detail, sizeof(detail), "%s: QEMU killed by corral-guard", reason);
			svc_vm_event(tok, "ha", detail);
			log_warn("ha: corral-guard fenced VM %s while corrald could not: %s", eq ? eq + 1 : tok, reason);
		}
		vm_record_release(&rec);
	}
	ha_guard_report_done();
}

static bool view_changed(const struct membership_view *v, void *arg)
{
	return v->changes != *(uint64_t *)arg;
}

/* Hand the armed set to corral-guard (its heartbeat too). */
static void guard_tell(void)
{
	struct armed list[FENCE_MAX];
	const char *uuids[FENCE_MAX], *names[FENCE_MAX];
	int fds[FENCE_MAX], lfds[FENCE_MAX];
	struct buf leases __do_buf = BUF_INIT;
	if (!ha_lease_ready())
		return; /* a restarted corrald: never a set without the leases the guard renews */
	pthread_mutex_lock(&lock);
	unsigned n = narmed;
	memcpy(list, armed, n * sizeof(list[0]));
	int64_t L = deadline_ms;
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < n; i++) {
		uuids[i] = list[i].uuid;
		names[i] = list[i].name;
		/* a QEMU's pidfd fresh from the runtime; a container's the one armed (this thread's) */
		fds[i] = list[i].pidfd >= 0 ? list[i].pidfd : ha_res_pidfd(list[i].kind, list[i].uuid);
	}
	unsigned nl = ha_lease_collect(&leases, lfds, FENCE_MAX);
	bool sent = ha_guard_send(uuids, names, fds, n, L, leases.s, lfds, nl);
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0 && fds[i] != list[i].pidfd)
			close(fds[i]);
	for (unsigned i = 0; i < nl; i++)
		close(lfds[i]);
	if (sent)
		ha_lease_sent();
}

static void *fence_main(void *arg)
{
	(void)arg;
	struct membership_view v;
	struct cluster_def d;
	bool was_quorate = false, fenced = false, guard_on = true;
	int64_t start = time_mono_ms(), last_read = 0, last_ok = start, last_guard = 0, last_tell = 0;
	int64_t last_timeouts = 0;
	uint64_t seen = 0;
	for (;;) {
		pthread_mutex_lock(&lock);
		bool stop = stopping, now_refresh = refresh;
		refresh = false;
		pthread_mutex_unlock(&lock);
		if (stop)
			break;
		membership_wait(100, view_changed, &seen);
		membership_get(&v);
		seen = v.changes;
		int64_t now = time_mono_ms();
		if (!svc_cluster_def_get(&d, NULL)) {
			pthread_mutex_lock(&lock);
			state = "off";
			armed_close();
			pthread_mutex_unlock(&lock);
			was_quorate = fenced = false;
			last_ok = now;
			unquorate_since = 0;
			if (guard_on)
				ha_guard_stop();
			guard_on = false;
			continue;
		}
		guard_report_take();
		ha_ack_follow(&d, &v);
		if (now - last_guard >= 2000) {
			ha_guard_ensure();
			guard_on = true;
			last_guard = now;
		}
		pthread_mutex_lock(&lock);
		unquorate_since = v.connected && v.quorate ? 0 : last_ok;
		pthread_mutex_unlock(&lock);
		if (v.connected && v.quorate) {
			last_ok = now;
			was_quorate = true;
			fenced = false;
			if (now_refresh || now - last_read >= 1000) {
				if (now - last_timeouts >= 5000 || !deadline_ms) {
					timeouts_read(&d); /* token_eff grows as nodes join */
					last_timeouts = now;
				}
				armed_read();
				last_read = now;
			}
			pthread_mutex_lock(&lock);
			state = narmed ? "active" : "idle";
			pthread_mutex_unlock(&lock);
			if (now - last_tell >= 500 || now_refresh) {
				guard_tell();
				last_tell = now;
			}
			continue;
		}
		if (!deadline_ms)
			timeouts_read(&d);
		if (fenced) {
			/* still without quorum: an HA QEMU that runs here now (started in the
			 * moment the loss was being learnt) is killed too, within a second */
			if (now - last_read >= 1000) {
				armed_read();
				last_read = now;
				pthread_mutex_lock(&lock);
				unsigned again = narmed;
				pthread_mutex_unlock(&lock);
				if (again)
					fence_all(!v.connected ? "host lost its corosync connection" : "host lost quorum", &v);
			}
			continue;
		}
		/* never quorate since start: arm from the store, fence after L */
		if (!was_quorate && now - last_read >= 1000) {
			armed_read();
			last_read = now;
		}
		pthread_mutex_lock(&lock);
		int64_t L = deadline_ms;
		pthread_mutex_unlock(&lock);
		if (was_quorate || now - last_ok > L) {
			fence_all(!v.connected ? "host lost its corosync connection" : "host lost quorum", &v);
			fenced = true;
		}
	}
	return NULL;
}

int ha_fence_start(void)
{
	stopping = false;
	int r = pthread_create(&thread, NULL, fence_main, NULL);
	if (r)
		return -r;
	running = true;
	return 0;
}

void ha_fence_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	ha_guard_quiet();
	pthread_mutex_lock(&lock);
	armed_close();
	pthread_mutex_unlock(&lock);
	running = false;
	json_decref(last);
	last = NULL;
}

void ha_fence_refresh(void)
{
	pthread_mutex_lock(&lock);
	refresh = true;
	pthread_mutex_unlock(&lock);
}

json_t *ha_fence_status(void)
{
	__do_free char *watchdog = ha_guard_watchdog(); /* a file read: before the lock */
	pthread_mutex_lock(&lock);
	json_t *names = json_array();
	for (unsigned i = 0; i < narmed; i++)
		json_array_append_new(names, json_string(armed[i].name));
	json_t *out = json_pack("{s:s,s:o,s:I,s:I,s:I,s:s,s:s,s:O?}", "state", state, "armed", names, "deadline_ms",
				(json_int_t)deadline_ms, "token_ms", (json_int_t)token_ms, "consensus_ms",
				(json_int_t)consensus_ms, "watchdog", watchdog, "guard",
				ha_guard_pid() ? "running" : "not running", "last", last);
	if (ha_guard_pid())
		json_object_set_new(out, "guard_pid", json_integer(ha_guard_pid()));
	pthread_mutex_unlock(&lock);
	return out;
}

int64_t ha_fence_unquorate_ms(void)
{
	pthread_mutex_lock(&lock);
	int64_t since = unquorate_since;
	pthread_mutex_unlock(&lock);
	return since ? time_mono_ms() - since : 0;
}

int64_t ha_fence_wait_ms(void)
{
	pthread_mutex_lock(&lock);
	int64_t L = deadline_ms, detect = token_ms + consensus_ms;
	pthread_mutex_unlock(&lock);
	/* With a witness the cut-off host keeps the witness's vote until its
	 * qdevice gives up on qnetd (measured 0.5-2 s after the survivors see the
	 * ring change, bounded by qdevice's timeout): it learns of its loss, and
	 * fences, that much later. */
	int64_t qd = svc_cluster_qdevice_timeout_ms();
	if (!L) /* not known yet: the slack the deadline would have, as if detection took no time */
		return FENCE_SLACK_MS + FENCE_CONFIRM_MS + FENCE_MARGIN_MS + qd;
	return L + FENCE_CONFIRM_MS + FENCE_MARGIN_MS - detect + qd;
}

char *ha_fence_armed_names(void)
{
	struct buf b = BUF_INIT;
	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < narmed; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", armed[i].name);
	pthread_mutex_unlock(&lock);
	if (!b.len) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}
