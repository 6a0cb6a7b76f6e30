/*
 * ha_lease.c - corrald's side of the disk leases (see ha_lease.h): the
 * table of leases this host holds (each with its open fd, handed to
 * corral-guard with every armed set), the acquire before a start, and the
 * lease thread that adopts, releases and watches.
 *
 * Lock order: lock is a leaf; no file I/O under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/lease.h"
#include "core/store.h"
#include "service/cluster_internal.h"
#include "service/ha_fence.h"
#include "service/ha_guard.h"
#include "service/ha_kind.h"
#include "service/ha_lease.h"
#include "service/internal.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define LEASE_MAX 256
#define WATCH_EVERY_MS 250
#define RELEASE_FOR_MS 3000 /* a release is sent to the guard this long (it may miss one set) */

struct held {
	svc_uuid uuid;
	enum ha_kind kind;
	int fd;
	uint64_t inc;
	int64_t written;       /* mono ms of corrald's write (0: adopted, time unknown) */
	bool pending;          /* a start is under way: not released for not running */
	int64_t release_until; /* 0: held; else released by the guard, sent until then */
	bool foreign_said;
};

struct watched {
	svc_uuid uuid;
	char path[PATH_MAX];
	unsigned char bytes[LEASE_RECORD_SIZE];
	ssize_t len;   /* -1: no file; -2: unreadable */
	int64_t since; /* mono ms these bytes were first seen */
	bool seen;     /* the file existed once */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static bool running, stopping, ready;
static int64_t started_ms; /* the thread's start: ready at the latest READY_MAX_MS after it */
#define READY_MAX_MS 5000 /* a first pass stuck on a hung pool must not silence corrald towards the guard */
static struct held held[LEASE_MAX];
static unsigned nheld;
static struct watched watch[LEASE_MAX];
static unsigned nwatch;
static uint64_t gen_put;  /* bumped by each lease taken */
static uint64_t gen_sent; /* the newest gen_put a set sent to the guard carried */
static uint64_t gen_collected;

/* ---- the lease file of a resource ---- */

/* The lease file of the HA row def (its first disk on a shared pool of
 * this host), and that pool's name; false when none applies. */
static bool lease_path(const char *uuid, const json_t *def, char *path, size_t len, char *pool, size_t plen)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(def, "disks"), i, d)
	{
		const char *p = json_string_value(json_object_get(d, "pool"));
		struct pool_record pr = { 0 };
		if (!p || json_string_value(json_object_get(d, "replica")) || store_pool_get(svc_cfg.store, p, &pr) < 0)
			continue;
		bool ok = pr.shared && (size_t)snprintf(path, len, "%s/%s/%s", pr.path, LEASE_DIR, uuid) < len;
		pool_record_release(&pr);
		if (ok) {
			snprintf(pool, plen, "%s", p);
			return true;
		}
	}
	return false;
}

static bool row_lease_path(const char *uuid, char *path, size_t len, char *pool, size_t plen, enum ha_kind *kind)
{
	struct ha_record rec = { 0 };
	if (store_ha_get(svc_cfg.store, uuid, &rec) < 0)
		return false;
	__do_json json_t *d = json_loads(rec.def, 0, NULL);
	ha_record_release(&rec);
	if (kind)
		*kind = ha_kind_of(d);
	return d && lease_path(uuid, d, path, len, pool, plen);
}

/* Read the record: its length (0: empty), -ENOENT no file, other -errno. */
static ssize_t read_bytes(const char *path, int fd, unsigned char *b)
{
	int own = -1;
	if (fd < 0 && (fd = own = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	ssize_t n = pread(fd, b, LEASE_RECORD_SIZE, 0);
	int e = errno;
	if (own >= 0)
		close(own);
	return n < 0 ? -e : n;
}

static int write_rec(int fd, const struct lease_rec *r)
{
	unsigned char b[LEASE_RECORD_SIZE];
	lease_encode(r, b);
	if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return errno ? -errno : -EIO;
	return fdatasync(fd) < 0 ? -errno : 0;
}

static int held_find(const char *uuid)
{
	for (unsigned i = 0; i < nheld; i++)
		if (!strcmp(held[i].uuid, uuid))
			return (int)i;
	return -1;
}

static void held_drop(unsigned i)
{
	close(held[i].fd);
	held[i] = held[--nheld];
}

/* Forget every lease held and watched (under lock): out of a pool, or stopping. */
static void forget_all(bool now_ready)
{
	while (nheld)
		held_drop(nheld - 1);
	nwatch = 0;
	ready = now_ready;
}

static int watch_find(const char *uuid)
{
	for (unsigned i = 0; i < nwatch; i++)
		if (!strcmp(watch[i].uuid, uuid))
			return (int)i;
	return -1;
}

/* This host's name and node id; false in no pool. */
static bool self_id(char *me, uint32_t *nodeid)
{
	struct cluster_def d;
	char name[CLUSTER_NODE_NAME_MAX + 1];
	if (!svc_cluster_def_get(&d, name))
		return false;
	const struct cluster_node *n = cluster_def_node(&d, name);
	if (!n)
		return false;
	snprintf(me, LEASE_HOST_MAX, "%s", name);
	*nodeid = n->id;
	return true;
}

static uint64_t new_incarnation(void)
{
	uint64_t v = 0;
	while (!v)
		if (getrandom(&v, sizeof(v), 0) != sizeof(v))
			v = (uint64_t)time_wall_ms() ^ ((uint64_t)getpid() << 40);
	return v;
}

static void describe(const unsigned char *b, ssize_t n, char *out, size_t len)
{
	struct lease_rec r;
	const char *why;
	if (n <= 0)
		snprintf(out, len, "no holder");
	else if (lease_decode(b, (size_t)n, &r, &why) < 0)
		snprintf(out, len, "an unreadable record (%s)", why);
	else
		snprintf(out, len, "%s (node %u)", r.host, r.nodeid);
}

/* ---- acquire ---- */

static uint64_t put_gen(void)
{
	pthread_mutex_lock(&lock);
	uint64_t g = gen_put;
	pthread_mutex_unlock(&lock);
	return g;
}

static uint64_t sent_gen(void)
{
	pthread_mutex_lock(&lock);
	uint64_t g = gen_sent;
	pthread_mutex_unlock(&lock);
	return g;
}

void ha_lease_sent(void)
{
	pthread_mutex_lock(&lock);
	gen_sent = gen_collected;
	pthread_mutex_unlock(&lock);
}

/* Add (or replace) uuid's entry; the caller then tells the guard. */
static void held_put(const char *uuid, enum ha_kind kind, int fd, uint64_t inc, int64_t written, bool pending)
{
	pthread_mutex_lock(&lock);
	int i = held_find(uuid);
	if (i >= 0)
		held_drop((unsigned)i); /* an older incarnation: no longer renewed */
	if (nheld < LEASE_MAX) {
		struct held *h = &held[nheld++];
		memset(h, 0, sizeof(*h));
		snprintf(h->uuid, sizeof(h->uuid), "%s", uuid);
		h->kind = kind;
		h->fd = fd;
		h->inc = inc;
		h->written = written;
		h->pending = pending;
		gen_put++;
	} else {
		close(fd);
	}
	pthread_mutex_unlock(&lock);
}

int ha_lease_create(const char *uuid, const json_t *def, struct buf *err)
{
	char path[PATH_MAX], pool[128], me[LEASE_HOST_MAX];
	uint32_t nodeid;
	if (!self_id(me, &nodeid) || !lease_path(uuid, def, path, sizeof(path), pool, sizeof(pool)))
		return 0;
	*strrchr(path, '/') = '\0';
	int r = fs_mkdir_p(path, 0700);
	if (r < 0) {
		buf_printf(err, "cannot create the disk lease directory %s on pool %s: %s", path, pool, strerror(-r));
		return r;
	}
	path[strlen(path)] = '/';
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		buf_printf(err, "cannot create the disk lease file %s on pool %s: %s", path, pool, strerror(errno));
		return r;
	}
	close(fd);
	return 0;
}

int ha_lease_acquire(const char *uuid, const char *name, struct buf *err)
{
	char path[PATH_MAX], pool[128], me[LEASE_HOST_MAX], who[128];
	uint32_t nodeid;
	enum ha_kind kind = HA_VM;
	unsigned char first[LEASE_RECORD_SIZE], now_b[LEASE_RECORD_SIZE];
	if (!self_id(me, &nodeid) || !row_lease_path(uuid, path, sizeof(path), pool, sizeof(pool), &kind))
		return 0;
	if (!ha_guard_pid()) {
		buf_printf(err, "%s has a disk lease on pool %s, and corral-guard, which renews it, does not run on this "
				"host: not started (corrald starts the guard within 2 s in a pool)",
			   name, pool);
		return -EAGAIN;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			buf_printf(err, "the disk lease file %s of %s is missing (lost, or pool %s is not mounted here): not "
					"started; if no host runs %s, create it empty (touch %s) and start it again",
				   path, name, pool, name, path);
		else
			buf_printf(err, "cannot open the disk lease file %s of %s: %s: not started", path, name,
				   strerror(e));
		return -e;
	}
	/* an incarnation this host holds or is releasing counts as its own */
	uint64_t mine = 0;
	int64_t since = time_mono_ms();
	pthread_mutex_lock(&lock);
	int hi = held_find(uuid), wi = watch_find(uuid);
	if (hi >= 0)
		mine = held[hi].inc;
	ssize_t n0 = read_bytes(path, fd, first);
	if (wi >= 0 && n0 >= 0 && watch[wi].len == n0 && !memcmp(watch[wi].bytes, first, (size_t)n0))
		since = watch[wi].since; /* the thread has watched these very bytes since then */
	pthread_mutex_unlock(&lock);
	int64_t start = time_mono_ms(), changed = since;
	ssize_t n = n0;
	memcpy(now_b, first, sizeof(first));
	for (;;) {
		if (n < 0) {
			buf_printf(err, "cannot read the disk lease %s of %s: %s: not started", path, name,
				   strerror((int)-n));
			close(fd);
			return (int)n;
		}
		struct lease_view v = { .seen = n == 0 ? LEASE_SEEN_NONE : LEASE_SEEN_INVALID };
		const char *why;
		if (n > 0 && lease_decode(now_b, (size_t)n, &v.rec, &why) == 0)
			v.seen = LEASE_SEEN_RECORD;
		v.moved = n != n0 || memcmp(now_b, first, (size_t)n) != 0;
		v.unchanged_ms = time_mono_ms() - changed;
		enum lease_verdict verdict = lease_decide(&v, me, nodeid, mine);
		if (verdict == LEASE_TAKE)
			break;
		/* A holder whose guest just stopped (a maintenance move of a container,
		 * stopped there and started here) renews until its guard sees the guest
		 * gone, then releases: give it LEASE_HANDOVER_MS before refusing. */
		if (verdict == LEASE_REFUSE && time_mono_ms() - start < LEASE_HANDOVER_MS)
			verdict = LEASE_WAIT;
		if (verdict == LEASE_REFUSE) {
			describe(now_b, n, who, sizeof(who));
			buf_printf(err, "disk lease of %s on pool %s is held by %s (renewed %lld ms ago): %s still runs it, "
					"so it is not started here",
				   name, pool, who, (long long)(time_mono_ms() - changed), v.seen == LEASE_SEEN_RECORD
				   ? v.rec.host : "its holder");
			close(fd);
			return -EBUSY;
		}
		if (time_mono_ms() - start > LEASE_EXPIRE_MS * 3) { /* cannot be: a still record expires */
			buf_printf(err, "disk lease of %s on pool %s: no decision after %d ms", name, pool,
				   LEASE_EXPIRE_MS * 3);
			close(fd);
			return -ETIMEDOUT;
		}
		usleep(100 * 1000);
		unsigned char prev[LEASE_RECORD_SIZE];
		ssize_t pn = n;
		memcpy(prev, now_b, sizeof(prev));
		n = read_bytes(path, fd, now_b);
		if (n != pn || (n > 0 && memcmp(prev, now_b, (size_t)n)))
			changed = time_mono_ms();
	}
	struct lease_rec r = { .state = LEASE_HELD, .nodeid = nodeid, .incarnation = new_incarnation(),
			       .wall_ms = time_wall_ms() };
	snprintf(r.host, sizeof(r.host), "%s", me);
	snprintf(r.uuid, sizeof(r.uuid), "%s", uuid);
	int64_t written = time_mono_ms();
	int e = write_rec(fd, &r);
	if (e < 0) {
		buf_printf(err, "cannot write the disk lease %s of %s: %s: not started", path, name, strerror(-e));
		close(fd);
		return e;
	}
	/* the guard renews it from the next set on (during the settle time: its
	 * read-back then sees an overwrite too) */
	held_put(uuid, kind, fd, r.incarnation, written, true);
	uint64_t want = put_gen();
	ha_fence_refresh();
	while (sent_gen() < want && time_mono_ms() - written < 2000)
		usleep(20 * 1000);
	if (sent_gen() < want) {
		buf_printf(err, "corral-guard was not handed the disk lease of %s within 2 s (no quorum, or the guard "
				"does not answer): not started",
			   name);
		ha_lease_start_done(uuid, false);
		return -EAGAIN;
	}
	/* another acquirer that wrote after us wins; one that wrote before us reads ours */
	int64_t left = LEASE_SETTLE_MS - (time_mono_ms() - written);
	if (left > 0)
		usleep((useconds_t)left * 1000);
	struct lease_rec back;
	const char *why;
	n = read_bytes(path, -1, now_b);
	if (n != LEASE_RECORD_SIZE || lease_decode(now_b, (size_t)n, &back, &why) < 0 ||
	    back.incarnation != r.incarnation) {
		describe(now_b, n, who, sizeof(who));
		buf_printf(err, "disk lease of %s on pool %s was taken by %s while this host took it: not started here",
			   name, pool, who);
		ha_lease_start_done(uuid, false);
		return -EBUSY;
	}
	log_info("ha: disk lease of %s on pool %s taken (incarnation %016" PRIx64 ")", name, pool, r.incarnation);
	return 0;
}

void ha_lease_start_done(const char *uuid, bool ok)
{
	pthread_mutex_lock(&lock);
	int i = held_find(uuid);
	if (i >= 0) {
		held[i].pending = false;
		if (!ok)
			held[i].release_until = time_mono_ms() + RELEASE_FOR_MS;
	}
	pthread_mutex_unlock(&lock);
	if (i >= 0 && !ok)
		ha_fence_refresh();
}

unsigned ha_lease_collect(struct buf *text, int *fds, unsigned max)
{
	static struct held copy[LEASE_MAX]; /* the fence thread's alone */
	unsigned n = 0, k = 0;
	pthread_mutex_lock(&lock);
	gen_collected = gen_put;
	for (unsigned i = 0; i < nheld; i++) {
		copy[n] = held[i];
		if ((copy[n].fd = fcntl(held[i].fd, F_DUPFD_CLOEXEC, 0)) >= 0)
			n++;
	}
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < n; i++) {
		/* with the pidfd of its guest when it runs here: the guard renews while that lives */
		int pidfd = copy[i].release_until ? -1 : ha_res_pidfd(copy[i].kind, copy[i].uuid);
		if (k + 1 + (pidfd >= 0) > max) {
			close(copy[i].fd);
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		fds[k++] = copy[i].fd;
		if (copy[i].release_until) {
			buf_printf(text, "\nrelease %s %" PRIx64, copy[i].uuid, copy[i].inc);
			continue;
		}
		buf_printf(text, "\nlease %s %" PRIx64 " %lld %d", copy[i].uuid, copy[i].inc, (long long)copy[i].written,
			   pidfd >= 0);
		if (pidfd >= 0)
			fds[k++] = pidfd;
	}
	return k;
}

bool ha_lease_ready(void)
{
	pthread_mutex_lock(&lock);
	bool r = ready || time_mono_ms() - started_ms > READY_MAX_MS;
	pthread_mutex_unlock(&lock);
	return r;
}

json_t *ha_lease_status(const char *uuid)
{
	char path[PATH_MAX], pool[128];
	if (!row_lease_path(uuid, path, sizeof(path), pool, sizeof(pool), NULL))
		return NULL;
	json_t *o = json_pack("{s:s,s:s}", "path", path, "pool", pool);
	pthread_mutex_lock(&lock);
	int hi = held_find(uuid), wi = watch_find(uuid);
	if (hi >= 0 && !held[hi].release_until) {
		json_object_set_new(o, "state", json_string("held here"));
	} else if (wi >= 0) {
		struct watched *w = &watch[wi];
		struct lease_rec r;
		const char *why;
		if (w->len == -1)
			json_object_set_new(o, "state", json_string(w->seen ? "missing (lost)" : "missing"));
		else if (w->len == 0)
			json_object_set_new(o, "state", json_string("none"));
		else if (w->len < 0 || lease_decode(w->bytes, (size_t)w->len, &r, &why) < 0)
			json_object_set_new(o, "state", json_string("unreadable"));
		else if (r.state == LEASE_RELEASED)
			json_object_set_new(o, "state", json_string("released"));
		else {
			json_object_set_new(o, "state", json_string("held by"));
			json_object_set_new(o, "holder", json_string(r.host));
			json_object_set_new(o, "unchanged_ms", json_integer((json_int_t)(time_mono_ms() - w->since)));
		}
	} else {
		json_object_set_new(o, "state", json_string("unknown"));
	}
	pthread_mutex_unlock(&lock);
	return o;
}

/* ---- the thread ---- */

/* A resource runs here without a lease entry: adopt the record this host
 * holds (a corrald restarted), take a free or released one (created by
 * `ha add` while it ran, or released by a migration's source). */
static void adopt(const char *uuid, enum ha_kind kind, const char *name, const char *path, const char *me,
		  uint32_t nodeid)
{
	unsigned char b[LEASE_RECORD_SIZE];
	struct lease_rec r;
	const char *why;
	int fd = open(path, O_RDWR | O_CLOEXEC | (fs_exists(path) ? 0 : O_CREAT), 0600);
	if (fd < 0)
		return;
	ssize_t n = read_bytes(path, fd, b);
	bool rec = n == LEASE_RECORD_SIZE && lease_decode(b, (size_t)n, &r, &why) == 0;
	if (rec && r.state == LEASE_HELD && r.nodeid == nodeid && !strcmp(r.host, me)) {
		held_put(uuid, kind, fd, r.incarnation, 0, false);
		log_info("ha: disk lease of %s held by this host adopted (incarnation %016" PRIx64 ")", name, r.incarnation);
		return;
	}
	if (n == 0 || (rec && r.state == LEASE_RELEASED)) {
		struct lease_rec mine = { .state = LEASE_HELD, .nodeid = nodeid, .incarnation = new_incarnation(),
					  .wall_ms = time_wall_ms() };
		snprintf(mine.host, sizeof(mine.host), "%s", me);
		snprintf(mine.uuid, sizeof(mine.uuid), "%s", uuid);
		int64_t t = time_mono_ms();
		if (write_rec(fd, &mine) == 0) {
			held_put(uuid, kind, fd, mine.incarnation, t, false);
			log_info("ha: %s runs here: its free disk lease taken", name);
			return;
		}
	}
	close(fd); /* held by another host: a migration's source has not released it yet */
}

static void pass_rows(const char *me, uint32_t nodeid)
{
	struct ha_record *list = NULL;
	size_t n = 0;
	int64_t now = time_mono_ms();
	if (store_ha_list(svc_cfg.store, &list, &n) < 0)
		return;
	static struct watched next[LEASE_MAX]; /* the lease thread's alone */
	unsigned k = 0;
	for (size_t i = 0; i < n && k < LEASE_MAX; i++) {
		__do_json json_t *d = json_loads(list[i].def, 0, NULL);
		char path[PATH_MAX], pool[128];
		if (!d || !lease_path(list[i].uuid, d, path, sizeof(path), pool, sizeof(pool)))
			continue;
		const char *name = json_string_value(json_object_get(d, "vm")) ?: list[i].uuid;
		enum ha_kind kind = ha_kind_of(d);
		bool active = ha_res_active(kind, list[i].uuid);
		pthread_mutex_lock(&lock);
		int hi = held_find(list[i].uuid), wi = watch_find(list[i].uuid);
		bool have = hi >= 0 && !held[hi].release_until;
		if (hi >= 0 && !active && !held[hi].pending && !held[hi].release_until)
			held[hi].release_until = now + RELEASE_FOR_MS; /* it ended here: the guard releases it */
		if (wi >= 0)
			next[k] = watch[wi];
		else {
			memset(&next[k], 0, sizeof(next[k]));
			next[k].len = -2;
			next[k].since = now;
		}
		pthread_mutex_unlock(&lock);
		snprintf(next[k].uuid, sizeof(next[k].uuid), "%s", list[i].uuid);
		snprintf(next[k].path, sizeof(next[k].path), "%s", path);
		k++;
		if (active && !have)
			adopt(list[i].uuid, kind, name, path, me, nodeid);
	}
	store_ha_list_free(list, n);
	pthread_mutex_lock(&lock);
	memcpy(watch, next, k * sizeof(next[0]));
	nwatch = k;
	/* leases released long enough, or of resources no longer HA: dropped */
	for (unsigned i = 0; i < nheld;) {
		bool listed = watch_find(held[i].uuid) >= 0;
		if (!listed && !held[i].release_until)
			held[i].release_until = now + RELEASE_FOR_MS;
		if (held[i].release_until && now > held[i].release_until)
			held_drop(i);
		else
			i++;
	}
	pthread_mutex_unlock(&lock);
}

/* Sample every watched file (without the lock) and note when its bytes changed. */
static void pass_watch(void)
{
	static svc_uuid uuids[LEASE_MAX]; /* the lease thread's alone */
	static char paths[LEASE_MAX][PATH_MAX];
	unsigned k;
	pthread_mutex_lock(&lock);
	k = nwatch;
	for (unsigned i = 0; i < k; i++) {
		memcpy(uuids[i], watch[i].uuid, sizeof(svc_uuid));
		memcpy(paths[i], watch[i].path, PATH_MAX);
	}
	pthread_mutex_unlock(&lock);
	for (unsigned i = 0; i < k; i++) {
		unsigned char b[LEASE_RECORD_SIZE];
		ssize_t n = read_bytes(paths[i], -1, b);
		if (n < 0)
			n = n == -ENOENT ? -1 : -2;
		int64_t now = time_mono_ms();
		pthread_mutex_lock(&lock);
		int wi = watch_find(uuids[i]);
		if (wi >= 0) {
			struct watched *w = &watch[wi];
			if (n != w->len || (n > 0 && memcmp(b, w->bytes, (size_t)n))) {
				w->since = now;
				w->len = n;
				if (n > 0)
					memcpy(w->bytes, b, (size_t)n);
			}
			w->seen |= n >= 0;
		}
		pthread_mutex_unlock(&lock);
	}
}

static void *lease_main(void *arg)
{
	(void)arg;
	int64_t last_rows = 0;
	for (;;) {
		pthread_mutex_lock(&lock);
		bool stop = stopping;
		pthread_mutex_unlock(&lock);
		if (stop)
			break;
		char me[LEASE_HOST_MAX];
		uint32_t nodeid;
		int64_t now = time_mono_ms();
		if (!self_id(me, &nodeid)) {
			pthread_mutex_lock(&lock);
			forget_all(true);
			pthread_mutex_unlock(&lock);
		} else {
			if (now - last_rows >= 1000) {
				pass_rows(me, nodeid);
				last_rows = now;
				pthread_mutex_lock(&lock);
				ready = true;
				pthread_mutex_unlock(&lock);
			}
			pass_watch();
		}
		usleep(WATCH_EVERY_MS * 1000);
	}
	return NULL;
}

int ha_lease_start(void)
{
	stopping = false;
	started_ms = time_mono_ms();
	int r = pthread_create(&thread, NULL, lease_main, NULL);
	if (r)
		return -r;
	running = true;
	return 0;
}

void ha_lease_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	pthread_mutex_lock(&lock);
	forget_all(false);
	pthread_mutex_unlock(&lock);
	running = false;
}
