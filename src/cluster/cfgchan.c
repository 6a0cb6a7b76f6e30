/*
 * cfgchan.c - the CPG channel of the replicated configuration (see
 * cfgchan.h): connect, join, dispatch, reconnect, and an agreed-order send
 * that rides out corosync's flow control.  What CPG's callbacks report is
 * queued while the channel lock is held and handed to the ops after it is
 * released, so an op may send.
 */
#include <corosync/cpg.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cluster/cfgchan.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define RETRY_MS 500
#define SEND_TRY_MS 5000

enum item_kind { ITEM_RING, ITEM_CONFCHG, ITEM_DELIVER };

struct item {
	struct item *next;
	enum item_kind kind;
	uint32_t nodeid, pid;
	uint64_t seq;
	size_t n; /* members, or message bytes */
	struct cfgchan_member members[CFGCHAN_MAX_MEMBERS];
	unsigned char *msg;
};

static struct {
	struct cfgchan_ops ops;
	pthread_t thread;
	bool running;
	int stop_fd;
	/* the channel lock: the handle, joined, self, and the queue */
	pthread_mutex_t lock;
	cpg_handle_t h;
	bool have_h, joined, rejoin, stopping;
	struct cfgchan_member self;
	struct item *head, **tail;
} C = { .stop_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* With the channel lock held. */
static void push(struct item *it)
{
	it->next = NULL;
	*C.tail = it;
	C.tail = &it->next;
}

static int member_cmp(const void *a, const void *b)
{
	const struct cfgchan_member *x = a, *y = b;
	if (x->nodeid != y->nodeid)
		return x->nodeid < y->nodeid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void on_deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *msg, size_t len)
{
	(void)h;
	(void)g;
	struct item *it = xcalloc(1, sizeof(*it));
	it->kind = ITEM_DELIVER;
	it->nodeid = nodeid;
	it->pid = pid;
	it->n = len;
	it->msg = xmalloc(len ? len : 1);
	memcpy(it->msg, msg, len);
	push(it);
}

static void on_confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *members, size_t n,
		       const struct cpg_address *left, size_t nleft, const struct cpg_address *joined, size_t njoined)
{
	(void)h;
	(void)g;
	(void)left;
	(void)nleft;
	(void)joined;
	(void)njoined;
	struct item *it = xcalloc(1, sizeof(*it));
	it->kind = ITEM_CONFCHG;
	it->n = n < CFGCHAN_MAX_MEMBERS ? n : CFGCHAN_MAX_MEMBERS;
	for (size_t i = 0; i < it->n; i++)
		it->members[i] = (struct cfgchan_member){ members[i].nodeid, members[i].pid };
	qsort(it->members, it->n, sizeof(it->members[0]), member_cmp);
	push(it);
}

static void on_totem(cpg_handle_t h, struct cpg_ring_id ring, uint32_t n, const uint32_t *members)
{
	(void)h;
	(void)n;
	(void)members;
	struct item *it = xcalloc(1, sizeof(*it));
	it->kind = ITEM_RING;
	it->nodeid = ring.nodeid;
	it->seq = ring.seq;
	push(it);
}

static struct cpg_name group_name(void)
{
	struct cpg_name g;
	memset(&g, 0, sizeof(g));
	g.length = (uint32_t)strlen(CFGCHAN_GROUP);
	memcpy(g.value, CFGCHAN_GROUP, g.length);
	return g;
}

/* With the channel lock held. */
static void disconnect_locked(void)
{
	if (!C.have_h)
		return;
	if (C.joined) {
		struct cpg_name g = group_name();
		cpg_leave(C.h, &g);
	}
	cpg_finalize(C.h);
	bool was = C.joined;
	C.have_h = C.joined = false;
	memset(&C.self, 0, sizeof(C.self));
	if (was) { /* the members this host sees: none */
		struct item *it = xcalloc(1, sizeof(*it));
		it->kind = ITEM_CONFCHG;
		push(it);
	}
}

/* With the channel lock held: 0 when joined. */
static int connect_locked(void)
{
	cpg_model_v1_data_t md = { .model = CPG_MODEL_V1,
				   .cpg_deliver_fn = on_deliver,
				   .cpg_confchg_fn = on_confchg,
				   .cpg_totem_confchg_fn = on_totem,
				   .flags = CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF };
	struct cpg_name g = group_name();
	unsigned int local = 0;
	cs_error_t e;
	if (cpg_model_initialize(&C.h, CPG_MODEL_V1, (cpg_model_data_t *)&md, NULL) != CS_OK)
		return -ENOTCONN;
	C.have_h = true;
	for (int i = 0; i < 20 && (e = cpg_join(C.h, &g)) == CS_ERR_TRY_AGAIN; i++)
		usleep(50 * 1000);
	if (e != CS_OK || cpg_local_get(C.h, &local) != CS_OK) {
		log_warn("cluster: cannot join the configuration group %s (error %d)", CFGCHAN_GROUP, (int)e);
		disconnect_locked();
		return -ENOTCONN;
	}
	C.joined = true;
	C.self = (struct cfgchan_member){ local, (uint32_t)getpid() };
	return 0;
}

static void drain(void)
{
	pthread_mutex_lock(&C.lock);
	struct item *list = C.head;
	C.head = NULL;
	C.tail = &C.head;
	pthread_mutex_unlock(&C.lock);
	while (list) {
		struct item *it = list;
		list = it->next;
		switch (it->kind) {
		case ITEM_RING:
			if (C.ops.ring)
				C.ops.ring(it->nodeid, it->seq, C.ops.opaque);
			break;
		case ITEM_CONFCHG:
			if (C.ops.confchg)
				C.ops.confchg(it->members, it->n, C.ops.opaque);
			break;
		case ITEM_DELIVER:
			if (C.ops.deliver)
				C.ops.deliver(it->nodeid, it->pid, it->msg, it->n, C.ops.opaque);
			break;
		}
		free(it->msg);
		free(it);
	}
}

static void *chan_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd[2] = { { .fd = C.stop_fd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
		int fd = -1;
		pthread_mutex_lock(&C.lock);
		if (!C.have_h)
			connect_locked();
		if (C.have_h && cpg_fd_get(C.h, &fd) != CS_OK) {
			disconnect_locked();
			fd = -1;
		}
		pthread_mutex_unlock(&C.lock);
		drain();
		pfd[1].fd = fd;
		int n = poll(pfd, 2, fd >= 0 ? 1000 : RETRY_MS);
		if (n > 0 && (pfd[0].revents & POLLIN)) {
			uint64_t v;
			if (read(C.stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			pthread_mutex_lock(&C.lock);
			bool stop = C.stopping, again = C.rejoin;
			C.rejoin = false;
			if (again && !stop)
				disconnect_locked();
			pthread_mutex_unlock(&C.lock);
			if (stop)
				break;
			continue;
		}
		if (n > 0 && fd >= 0 && pfd[1].revents) {
			pthread_mutex_lock(&C.lock);
			cs_error_t e = C.have_h ? cpg_dispatch(C.h, CS_DISPATCH_ALL) : CS_OK;
			if (e != CS_OK && e != CS_ERR_TRY_AGAIN) {
				log_warn("cluster: lost the configuration group's connection to corosync (error %d)", (int)e);
				disconnect_locked();
			}
			pthread_mutex_unlock(&C.lock);
			drain();
		}
	}
	pthread_mutex_lock(&C.lock);
	disconnect_locked();
	pthread_mutex_unlock(&C.lock);
	drain();
	return NULL;
}

int cfgchan_start(const struct cfgchan_ops *ops)
{
	if (C.running)
		return -EALREADY;
	C.ops = *ops;
	C.head = NULL;
	C.tail = &C.head;
	C.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (C.stop_fd < 0)
		return -errno;
	int r = pthread_create(&C.thread, NULL, chan_thread, NULL);
	if (r) {
		close(C.stop_fd);
		C.stop_fd = -1;
		return -r;
	}
	C.running = true;
	return 0;
}

void cfgchan_stop(void)
{
	if (!C.running)
		return;
	uint64_t one = 1;
	pthread_mutex_lock(&C.lock);
	C.stopping = true;
	pthread_mutex_unlock(&C.lock);
	if (write(C.stop_fd, &one, sizeof(one)) < 0)
		log_warn("cluster: cannot wake the configuration channel's thread");
	pthread_join(C.thread, NULL);
	close(C.stop_fd);
	C.stop_fd = -1;
	C.running = false;
	C.stopping = false;
}

void cfgchan_rejoin(void)
{
	uint64_t one = 1;
	pthread_mutex_lock(&C.lock);
	C.rejoin = true;
	pthread_mutex_unlock(&C.lock);
	if (C.running && write(C.stop_fd, &one, sizeof(one)) < 0)
		log_warn("cluster: cannot wake the configuration channel's thread");
}

int cfgchan_send(const void *msg, size_t len, struct buf *err)
{
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	int64_t until = time_mono_ms() + SEND_TRY_MS;
	cs_error_t e;
	for (;;) {
		pthread_mutex_lock(&C.lock);
		if (!C.joined) {
			pthread_mutex_unlock(&C.lock);
			buf_adds(err, "this host is not in the pool's configuration group (is corosync running?)");
			return -ENOTCONN;
		}
		e = cpg_mcast_joined(C.h, CPG_TYPE_AGREED, &iov, 1);
		pthread_mutex_unlock(&C.lock);
		if (e != CS_ERR_TRY_AGAIN || time_mono_ms() > until)
			break;
		usleep(20 * 1000);
	}
	if (e == CS_OK)
		return 0;
	if (e == CS_ERR_TRY_AGAIN) {
		buf_adds(err, "corosync kept asking to try again (flow control) for 5 s: nothing was sent");
		return -EAGAIN;
	}
	buf_printf(err, "corosync refused to send the configuration message (error %d)", (int)e);
	return -EIO;
}

bool cfgchan_self(struct cfgchan_member *out)
{
	pthread_mutex_lock(&C.lock);
	bool j = C.joined;
	*out = C.self;
	pthread_mutex_unlock(&C.lock);
	return j;
}
