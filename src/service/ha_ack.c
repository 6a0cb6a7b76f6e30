/*
 * ha_ack.c - acknowledging a lost pool member (see ha_ack.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "service/cluster.h"
#include "service/cluster_internal.h"
#include "service/ha_ack.h"
#include "service/ha_fence.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/common.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char acked[CLUSTER_MAX_NODES][CLUSTER_NODE_NAME_MAX + 1]; /* guarded by lock */
static unsigned nacked;
static bool loaded;

static bool in_ring(const struct cluster_def *d, const struct membership_view *v, const char *name)
{
	const struct cluster_node *n = cluster_def_node(d, name);
	return n && membership_has(v, n->id);
}

/* The configured expected votes: a vote per node, the witness's one. */
static unsigned configured_votes(const struct cluster_def *d) { return d->nnodes + (d->witness.set ? 1 : 0); }

/* STATE/cluster/acked, read once (lock held). */
static void load_locked(void)
{
	struct buf b = BUF_INIT, bad __do_buf = BUF_INIT;
	if (loaded || !svc_cluster_dir())
		return;
	loaded = true;
	__do_free char *path = xasprintf("%s/acked", svc_cluster_dir());
	if (fs_read_file(path, 1 << 14, &b) == 0 && b.len)
		for (char *save = NULL, *l = strtok_r(b.s, "\n", &save); l && nacked < CLUSTER_MAX_NODES;
		     l = strtok_r(NULL, "\n", &save))
			if (cluster_node_name_check(l, &bad) == 0)
				snprintf(acked[nacked++], sizeof(acked[0]), "%s", l);
	buf_release(&b);
}

/* Write the list (lock held); a missing list is an empty one. */
static int save_locked(void)
{
	struct buf b = BUF_INIT;
	for (unsigned i = 0; i < nacked; i++)
		buf_printf(&b, "%s\n", acked[i]);
	__do_free char *path = xasprintf("%s/acked", svc_cluster_dir());
	int r = fs_write_file_atomic(path, b.s ? b.s : "", b.len, 0600);
	buf_release(&b);
	return r;
}

static bool acked_locked(const char *host)
{
	for (unsigned i = 0; i < nacked; i++)
		if (!strcmp(acked[i], host))
			return true;
	return false;
}

unsigned ha_ack_votes(unsigned configured, unsigned nlost, unsigned present, unsigned current)
{
	unsigned want = configured > nlost ? configured - nlost : 1;
	if (want < present)
		want = present; /* votequorum takes no fewer than the votes present */
	if (want > current)
		want = current; /* never raised here (only ha_ack_follow puts them back) */
	return want;
}

static bool now_quorate(const struct membership_view *v, void *arg)
{
	(void)arg;
	return v->quorate;
}

int svc_ha_fence_ack(const char *host, json_t **out, struct buf *err)
{
	struct cluster_def d;
	struct membership_view v;
	struct membership_votes vt;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	int r;

	if (!svc_cluster_def_get(&d, me)) {
		buf_adds(err, "HA needs a pool: corral cluster create");
		return -EOPNOTSUPP;
	}
	if (!cluster_def_node(&d, host)) {
		buf_printf(err, "no host '%.64s' in pool %s", host, d.name);
		return -ENOENT;
	}
	if (!strcmp(host, me)) {
		buf_printf(err, "%s is this host: acknowledge a lost host on a host that lost it", host);
		return -EINVAL;
	}
	membership_get(&v);
	if (!v.connected) {
		buf_adds(err, "corosync does not answer on this host: nothing can be acknowledged");
		return -EAGAIN;
	}
	if (in_ring(&d, &v, host)) {
		buf_printf(err, "%s is in this host's ring (online): it is not lost", host);
		return -EBUSY;
	}
	if (v.quorate) {
		buf_printf(err, "this host is quorate: the pool restarts %s's HA VMs by itself ('corral ha status')", host);
		return -EBUSY;
	}
	int64_t gone = ha_fence_unquorate_ms(), W = ha_fence_wait_ms();
	if (gone < W) {
		buf_printf(err,
			   "%s may still be fencing itself: this host lost quorum %lld ms ago and the pool waits %lld ms "
			   "for a lost host's self-fence; ask again in %lld ms",
			   host, (long long)gone, (long long)W, (long long)(W - gone));
		return -EAGAIN;
	}
	if ((r = membership_votes(&vt, err)) < 0)
		return r;

	pthread_mutex_lock(&lock);
	load_locked();
	bool again = acked_locked(host);
	if (!again)
		snprintf(acked[nacked++], sizeof(acked[0]), "%s", host);
	unsigned want = ha_ack_votes(configured_votes(&d), nacked, vt.total_votes, vt.expected_votes);
	if ((r = save_locked()) < 0) {
		if (!again)
			nacked--;
		pthread_mutex_unlock(&lock);
		buf_printf(err, "cannot record the acknowledgment in %s/acked: %s", svc_cluster_dir(), strerror(-r));
		return r;
	}
	json_t *names = json_array();
	for (unsigned i = 0; i < nacked; i++)
		json_array_append_new(names, json_string(acked[i]));
	pthread_mutex_unlock(&lock);

	if (want != vt.expected_votes && (r = membership_set_expected(want, err)) < 0) {
		json_decref(names);
		return r;
	}
	bool quorate = membership_wait(3000, now_quorate, NULL) == 0;
	svc_cluster_event("%s acknowledged lost (ha fence-ack): expected votes %u -> %u; this host is %s", host,
			  vt.expected_votes, want,
			  quorate ? "quorate: the HA manager restarts its HA VMs after its wait"
				  : "still not quorate (acknowledge the other lost hosts too)");
	*out = json_pack("{s:s,s:o,s:I,s:I,s:b}", "host", host, "acknowledged", names, "expected_votes_before",
			 (json_int_t)vt.expected_votes, "expected_votes", (json_int_t)want, "quorate", quorate);
	return 0;
}

void ha_ack_follow(const struct cluster_def *d, const struct membership_view *v)
{
	struct buf err __do_buf = BUF_INIT;
	char back[CLUSTER_MAX_NODES][CLUSTER_NODE_NAME_MAX + 1], kept[CLUSTER_MAX_NODES][CLUSTER_NODE_NAME_MAX + 1];
	unsigned nback = 0, nkept = 0;

	if (!v->connected)
		return;
	pthread_mutex_lock(&lock);
	load_locked();
	for (unsigned i = 0; i < nacked; i++) {
		if (in_ring(d, v, acked[i]) || !cluster_def_node(d, acked[i]))
			memcpy(back[nback++], acked[i], sizeof(back[0]));
		else
			memcpy(kept[nkept++], acked[i], sizeof(kept[0]));
	}
	if (!nback) {
		pthread_mutex_unlock(&lock);
		return;
	}
	/* a host back (or gone from the pool): its vote counts again, so a majority is needed again */
	unsigned want = configured_votes(d) > nkept ? configured_votes(d) - nkept : 1;
	if (membership_set_expected(want, &err) < 0) {
		pthread_mutex_unlock(&lock);
		log_warn("ha: cannot put the expected votes back to %u: %s (trying again)", want, err.s);
		return;
	}
	memcpy(acked, kept, sizeof(kept[0]) * nkept);
	nacked = nkept;
	if (save_locked() < 0)
		log_warn("ha: cannot rewrite %s/acked", svc_cluster_dir());
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < nback; i++)
		svc_cluster_event("%s is back after its fence-ack: expected votes back to %u", back[i], want);
}
