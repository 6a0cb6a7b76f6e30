/*
 * membership.c - the pool thread (see membership.h): libquorum
 * notifications into a membership view, votes and links on demand,
 * reloads, and the corosync supervisor with its back-off.
 */
#include <corosync/cfg.h>
#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster/corosync.h"
#include "cluster/membership.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define RETRY_MS 500
#define IDLE_RETRY_MS 2000
#define BACKOFF_MAX_S 30
#define BACKOFF_RESET_S 60

struct pending {
	enum membership_event ev;
	uint32_t nodeid;
};

static struct {
	struct membership_config cfg;
	char *dir;
	pthread_t thread;
	bool running;
	int stop_fd;

	/* the library lock: the handles below */
	pthread_mutex_t lib_lock;
	quorum_handle_t q;
	votequorum_handle_t vq;
	corosync_cfg_handle_t cfg_h;
	bool have_q, have_vq, have_cfg;

	/* the supervisor lock: supervise, and held across a supervisor's start,
	 * so that once membership_supervise(false) returns no start is under way */
	pthread_mutex_t sup_lock;
	bool supervise;

	/* the view lock: view, pending */
	pthread_mutex_t view_lock;
	pthread_cond_t view_cond;
	struct membership_view view;
	struct pending pending[2 * MEMBERSHIP_MAX_MEMBERS + 8];
	unsigned npending;
} M = {
	.stop_fd = -1,
	.lib_lock = PTHREAD_MUTEX_INITIALIZER,
	.sup_lock = PTHREAD_MUTEX_INITIALIZER,
	.view_lock = PTHREAD_MUTEX_INITIALIZER,
	.view_cond = PTHREAD_COND_INITIALIZER,
};

/* With the view lock held. */
static void pend(enum membership_event ev, uint32_t nodeid)
{
	if (M.npending < ARRAY_SIZE(M.pending))
		M.pending[M.npending++] = (struct pending){ ev, nodeid };
}

/* With the view lock held: the view changed. */
static void changed(void)
{
	M.view.changes++;
	pthread_cond_broadcast(&M.view_cond);
}

static void set_quorate(bool q)
{
	if (q == M.view.quorate)
		return;
	M.view.quorate = q;
	M.view.quorate_since_ms = time_wall_ms();
	pend(q ? MEMBERSHIP_QUORUM_REGAINED : MEMBERSHIP_QUORUM_LOST, 0);
}

static void on_quorum(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring, uint32_t n,
		      const uint32_t *members)
{
	(void)h;
	(void)n;
	(void)members;
	pthread_mutex_lock(&M.view_lock);
	M.view.ring_nodeid = ring.nodeid;
	M.view.ring_seq = ring.seq;
	set_quorate(quorate != 0);
	struct membership_qring *last = M.view.nqrings ? &M.view.qrings[M.view.nqrings - 1] : NULL;
	if (!last || last->nodeid != ring.nodeid || last->seq != ring.seq) {
		if (M.view.nqrings == MEMBERSHIP_RING_HISTORY)
			memmove(M.view.qrings, M.view.qrings + 1, (MEMBERSHIP_RING_HISTORY - 1) * sizeof(M.view.qrings[0]));
		else
			M.view.nqrings++;
		last = &M.view.qrings[M.view.nqrings - 1];
	}
	*last = (struct membership_qring){ ring.nodeid, ring.seq, quorate != 0 };
	changed();
	pthread_mutex_unlock(&M.view_lock);
}

static void on_nodelist(quorum_handle_t h, struct quorum_ring_id ring, uint32_t n, const uint32_t *members,
			uint32_t njoined, const uint32_t *joined, uint32_t nleft, const uint32_t *left)
{
	(void)h;
	pthread_mutex_lock(&M.view_lock);
	M.view.ring_nodeid = ring.nodeid;
	M.view.ring_seq = ring.seq;
	M.view.nmembers = n < MEMBERSHIP_MAX_MEMBERS ? n : MEMBERSHIP_MAX_MEMBERS;
	memcpy(M.view.members, members, M.view.nmembers * sizeof(uint32_t));
	for (uint32_t i = 0; i < njoined; i++)
		if (joined[i] != M.view.local_id)
			pend(MEMBERSHIP_NODE_JOINED, joined[i]);
	for (uint32_t i = 0; i < nleft; i++)
		pend(MEMBERSHIP_NODE_LEFT, left[i]);
	changed();
	pthread_mutex_unlock(&M.view_lock);
}

/* With the library lock held. */
static void disconnect_locked(void)
{
	if (M.have_q)
		quorum_finalize(M.q);
	if (M.have_vq)
		votequorum_finalize(M.vq);
	if (M.have_cfg)
		corosync_cfg_finalize(M.cfg_h);
	M.have_q = M.have_vq = M.have_cfg = false;
	pthread_mutex_lock(&M.view_lock);
	if (M.view.connected) {
		M.view.connected = false;
		set_quorate(false);
		M.view.nmembers = 0;
		M.view.nqrings = 0; /* the next corosync's rings may reuse ids (a state_dir lost) */
		pend(MEMBERSHIP_DISCONNECTED, 0);
		changed();
	}
	pthread_mutex_unlock(&M.view_lock);
}

/* With the library lock held: 0 when connected to a corosync. */
static int connect_locked(void)
{
	quorum_model_v1_data_t qd = {
		.model = QUORUM_MODEL_V1, .quorum_notify_fn = on_quorum, .nodelist_notify_fn = on_nodelist
	};
	uint32_t type = 0, local = 0;
	cs_error_t e;

	if ((e = quorum_model_initialize(&M.q, QUORUM_MODEL_V1, (quorum_model_data_t *)&qd, &type, NULL)) != CS_OK)
		return -ENOTCONN;
	M.have_q = true;
	if ((e = votequorum_initialize(&M.vq, NULL)) == CS_OK)
		M.have_vq = true;
	if ((e = corosync_cfg_initialize(&M.cfg_h, NULL)) == CS_OK)
		M.have_cfg = true;
	if (!M.have_cfg || corosync_cfg_local_get(M.cfg_h, &local) != CS_OK ||
	    quorum_trackstart(M.q, CS_TRACK_CURRENT | CS_TRACK_CHANGES) != CS_OK) {
		disconnect_locked();
		return -ENOTCONN;
	}
	pthread_mutex_lock(&M.view_lock);
	M.view.connected = true;
	M.view.local_id = local;
	pend(MEMBERSHIP_CONNECTED, local);
	changed();
	pthread_mutex_unlock(&M.view_lock);
	return 0;
}

static void emit_pending(void)
{
	struct pending ev[ARRAY_SIZE(M.pending)];
	struct membership_view v;
	unsigned n;
	pthread_mutex_lock(&M.view_lock);
	n = M.npending;
	memcpy(ev, M.pending, n * sizeof(ev[0]));
	M.npending = 0;
	v = M.view;
	pthread_mutex_unlock(&M.view_lock);
	for (unsigned i = 0; i < n && M.cfg.on_event; i++)
		M.cfg.on_event(ev[i].ev, ev[i].nodeid, &v, M.cfg.opaque);
}

/* The supervisor's state (pool thread only). */
static struct {
	int attempt;         /* restarts since corosync last ran a minute */
	int64_t next_try;    /* monotonic ms */
	int64_t seen_up;     /* monotonic ms since it is seen running, 0: not */
} S;

/* With the supervisor lock held. */
static void supervise_locked(void)
{
	int64_t now = time_mono_ms();
	if (!M.supervise) {
		S.attempt = 0;
		S.seen_up = 0;
		return;
	}
	if (corosync_running(M.dir, NULL)) {
		if (!S.seen_up)
			S.seen_up = now;
		if (S.attempt && now - S.seen_up > BACKOFF_RESET_S * 1000)
			S.attempt = 0;
		return;
	}
	if (S.seen_up) { /* it was running: it exited */
		S.seen_up = 0;
		int delay = 1 << (S.attempt < 5 ? S.attempt : 5);
		delay = delay < BACKOFF_MAX_S ? delay : BACKOFF_MAX_S;
		S.next_try = now + 1000LL * delay;
		log_warn("cluster: corosync exited; starting it again in %d s", delay);
		return;
	}
	if (now < S.next_try)
		return;
	struct buf err = BUF_INIT;
	S.attempt++;
	int r = corosync_start(M.dir, &err);
	pthread_mutex_lock(&M.view_lock);
	pend(r < 0 ? MEMBERSHIP_COROSYNC_FAILED : MEMBERSHIP_COROSYNC_RESTARTED, (uint32_t)S.attempt);
	pthread_mutex_unlock(&M.view_lock);
	if (r < 0) {
		int delay = 1 << (S.attempt < 5 ? S.attempt : 5);
		S.next_try = now + 1000LL * (delay < BACKOFF_MAX_S ? delay : BACKOFF_MAX_S);
		log_warn("cluster: %s (attempt %d)", err.s, S.attempt);
	} else {
		S.seen_up = time_mono_ms();
	}
	buf_release(&err);
}

static void supervise_tick(void)
{
	pthread_mutex_lock(&M.sup_lock);
	supervise_locked();
	pthread_mutex_unlock(&M.sup_lock);
}

static void *pool_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = M.stop_fd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
		int fd = -1;

		supervise_tick();
		pthread_mutex_lock(&M.lib_lock);
		if (!M.have_q)
			connect_locked();
		if (M.have_q && quorum_fd_get(M.q, &fd) != CS_OK) {
			disconnect_locked();
			fd = -1;
		}
		pthread_mutex_unlock(&M.lib_lock);
		emit_pending();

		pfd[1].fd = fd;
		/* not connected: try again soon while corosync is ours to run, else
		 * every IDLE_RETRY_MS (an init system's corosync may appear) */
		pthread_mutex_lock(&M.sup_lock);
		int retry = M.supervise ? RETRY_MS : IDLE_RETRY_MS;
		pthread_mutex_unlock(&M.sup_lock);
		int n = poll(pfd, 2, fd >= 0 ? 1000 : retry);
		if (n > 0 && (pfd[0].revents & POLLIN))
			break;
		if (n > 0 && fd >= 0 && pfd[1].revents) {
			pthread_mutex_lock(&M.lib_lock);
			cs_error_t e = M.have_q ? quorum_dispatch(M.q, CS_DISPATCH_ALL) : CS_OK;
			if (e != CS_OK && e != CS_ERR_TRY_AGAIN) {
				log_warn("cluster: lost the connection to corosync (error %d)", (int)e);
				disconnect_locked();
			}
			pthread_mutex_unlock(&M.lib_lock);
			emit_pending();
		}
	}
	pthread_mutex_lock(&M.lib_lock);
	disconnect_locked();
	pthread_mutex_unlock(&M.lib_lock);
	pthread_mutex_lock(&M.view_lock);
	M.npending = 0;
	pthread_mutex_unlock(&M.view_lock);
	return NULL;
}

int membership_start(const struct membership_config *cfg)
{
	if (M.running)
		return -EALREADY;
	M.cfg = *cfg;
	M.dir = xstrdup(cfg->dir);
	M.cfg.dir = M.dir;
	M.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (M.stop_fd < 0)
		return -errno;
	int r = pthread_create(&M.thread, NULL, pool_thread, NULL);
	if (r) {
		close(M.stop_fd);
		M.stop_fd = -1;
		return -r;
	}
	M.running = true;
	return 0;
}

void membership_stop(void)
{
	if (!M.running)
		return;
	uint64_t one = 1;
	if (write(M.stop_fd, &one, sizeof(one)) < 0)
		log_warn("cluster: cannot wake the pool thread");
	pthread_join(M.thread, NULL);
	close(M.stop_fd);
	M.stop_fd = -1;
	M.running = false;
	free(M.dir);
	M.dir = NULL;
	memset(&M.view, 0, sizeof(M.view));
	memset(&S, 0, sizeof(S));
}

void membership_supervise(bool on)
{
	pthread_mutex_lock(&M.sup_lock);
	M.supervise = on;
	pthread_mutex_unlock(&M.sup_lock);
}

void membership_get(struct membership_view *out)
{
	pthread_mutex_lock(&M.view_lock);
	*out = M.view;
	pthread_mutex_unlock(&M.view_lock);
}

bool membership_quorate(void)
{
	pthread_mutex_lock(&M.view_lock);
	bool q = M.view.quorate;
	pthread_mutex_unlock(&M.view_lock);
	return q;
}

bool membership_has(const struct membership_view *v, uint32_t id)
{
	for (unsigned i = 0; i < v->nmembers; i++)
		if (v->members[i] == id)
			return true;
	return false;
}

enum membership_ring_quorum membership_ring_quorum(const struct membership_view *v, uint32_t nodeid, uint64_t seq)
{
	if (!v->nqrings || v->qrings[v->nqrings - 1].seq < seq)
		return v->connected ? MEMBERSHIP_RING_PENDING : MEMBERSHIP_RING_UNKNOWN;
	for (unsigned i = v->nqrings; i-- > 0;)
		if (v->qrings[i].seq == seq && v->qrings[i].nodeid == nodeid)
			return v->qrings[i].quorate ? MEMBERSHIP_RING_QUORATE : MEMBERSHIP_RING_NOT_QUORATE;
	return MEMBERSHIP_RING_UNKNOWN;
}

int membership_wait(int64_t timeout_ms, bool (*pred)(const struct membership_view *v, void *arg), void *arg)
{
	struct timespec until = time_realtime_in(timeout_ms);
	int r = 0;
	pthread_mutex_lock(&M.view_lock);
	while (!pred(&M.view, arg)) {
		if (pthread_cond_timedwait(&M.view_cond, &M.view_lock, &until) == ETIMEDOUT) {
			r = pred(&M.view, arg) ? 0 : -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&M.view_lock);
	return r;
}

static int not_connected(struct buf *err)
{
	buf_adds(err, "corosync is not running on this host (or does not answer)");
	return -ENOTCONN;
}

/* cmap runtime.config.totem.* (a short connection of its own). */
static void effective_timeouts(struct membership_votes *out)
{
	cmap_handle_t h;
	uint32_t v;
	if (cmap_initialize(&h) != CS_OK)
		return;
	if (cmap_get_uint32(h, "runtime.config.totem.token", &v) == CS_OK)
		out->token_ms = v;
	if (cmap_get_uint32(h, "runtime.config.totem.consensus", &v) == CS_OK)
		out->consensus_ms = v;
	cmap_finalize(h);
}

int membership_votes(struct membership_votes *out, struct buf *err)
{
	struct votequorum_info info;
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&M.lib_lock);
	if (!M.have_vq) {
		pthread_mutex_unlock(&M.lib_lock);
		return not_connected(err);
	}
	cs_error_t e = votequorum_getinfo(M.vq, 0, &info);
	pthread_mutex_unlock(&M.lib_lock);
	if (e != CS_OK) {
		buf_printf(err, "corosync did not give its votes (error %d)", (int)e);
		return -EIO;
	}
	out->node_votes = info.node_votes;
	out->expected_votes = info.node_expected_votes;
	out->highest_expected = info.highest_expected;
	out->total_votes = info.total_votes;
	out->quorum = info.quorum;
	out->flags = info.flags;
	if (info.flags & VOTEQUORUM_INFO_QDEVICE_REGISTERED) {
		out->qdevice_votes = info.qdevice_votes;
		snprintf(out->qdevice_name, sizeof(out->qdevice_name), "%.*s", (int)sizeof(out->qdevice_name) - 1,
			 info.qdevice_name);
	}
	effective_timeouts(out);
	return 0;
}

int membership_links(uint32_t nodeid, bool *reachable, struct membership_link *out, unsigned max, struct buf *err)
{
	struct corosync_cfg_node_status_v1 st;
	memset(&st, 0, sizeof(st));
	pthread_mutex_lock(&M.lib_lock);
	if (!M.have_cfg) {
		pthread_mutex_unlock(&M.lib_lock);
		return not_connected(err);
	}
	cs_error_t e = corosync_cfg_node_status_get(M.cfg_h, nodeid, CFG_NODE_STATUS_V1, &st);
	pthread_mutex_unlock(&M.lib_lock);
	if (e != CS_OK) {
		buf_printf(err, "corosync knows no node %u (error %d)", nodeid, (int)e);
		return -ENOENT;
	}
	*reachable = st.reachable != 0;
	unsigned n = 0;
	for (unsigned l = 0; l < CFG_MAX_LINKS && n < max; l++) {
		if (!st.link_status[l].enabled)
			continue;
		out[n++] = (struct membership_link){ .link = l,
						     .enabled = st.link_status[l].enabled != 0,
						     .connected = st.link_status[l].connected != 0,
						     .mtu = st.link_status[l].mtu };
	}
	return (int)n;
}

int membership_reload(struct buf *err)
{
	pthread_mutex_lock(&M.lib_lock);
	if (!M.have_cfg) {
		pthread_mutex_unlock(&M.lib_lock);
		return not_connected(err);
	}
	cs_error_t e = corosync_cfg_reload_config(M.cfg_h);
	pthread_mutex_unlock(&M.lib_lock);
	if (e != CS_OK) {
		buf_printf(err, "corosync refused to reload its configuration (error %d; see its log)", (int)e);
		return -EIO;
	}
	return 0;
}

int membership_set_expected(unsigned expected, struct buf *err)
{
	pthread_mutex_lock(&M.lib_lock);
	if (!M.have_vq) {
		pthread_mutex_unlock(&M.lib_lock);
		return not_connected(err);
	}
	cs_error_t e = votequorum_setexpected(M.vq, expected);
	pthread_mutex_unlock(&M.lib_lock);
	if (e != CS_OK) {
		buf_printf(err, "corosync refused expected votes %u (error %d)", expected, (int)e);
		return -EIO;
	}
	return 0;
}

bool membership_probe(char *name)
{
	cmap_handle_t h;
	char *s = NULL;
	if (cmap_initialize(&h) != CS_OK)
		return false;
	if (name) {
		name[0] = '\0';
		if (cmap_get_string(h, "totem.cluster_name", &s) == CS_OK && s) {
			size_t n = strlen(s) < CLUSTER_NAME_MAX ? strlen(s) : CLUSTER_NAME_MAX;
			memcpy(name, s, n);
			name[n] = '\0';
		}
		free(s);
	}
	cmap_finalize(h);
	return true;
}
