/*
 * replicate.c - the VM's host's half of synchronous disk replication
 * (replicate.h; docs/ha.md): starting, resuming and stopping the mirrors
 * onto the replica host's export, and the monitor thread that follows them
 * (in sync, degraded, the retry timer, the rotating dirty bitmaps).
 *
 * The record of a VM (STATE/replication/<uuid>.json) is the state shown to
 * users and what a restarted corrald follows again:
 *   {"uuid","name","peer","address","port","state","since","percent",
 *    "error","resync_bytes","gen","bitmaps":[names],"disks":[{"volume",
 *    "node","slot"}],"retry", and for a replica onto stale copies (resync.h)
 *    "compare" (the compare pass is still to be made: the replica is not a
 *    copy of the disk until it is), "cmp_started" (QEMU's NBD server of the
 *    pass may be up), "reused":[volumes], "rate" (MiB/s, 0 no limit),
 *    "compared_bytes", "copied_bytes", "compare_total", "compare_ms"}
 * Bitmaps: "repl-<gen>" on every replicated disk's format node.  While in
 * sync, every SVC_REPL_ROTATE_S a new one is added and the oldest of the
 * then three removed, so the older live one always covers every write made
 * since a moment the replica was known in sync (a write still in flight
 * after a whole rotation period is the exception: docs/ha.md).  On a
 * failure the older one is kept and the resync copies what it marks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>

#include "service/replicate.h"
#include "core/store.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "qemu/replicate.h"
#include "qemu/runtime.h"
#include "service/internal.h"
#include "service/migrate_common.h"
#include "service/migrate_recover.h"
#include "service/peer.h"
#include "service/replrow.h"
#include "service/resync.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define REPL_STUCK_POLLS 3          /* ready, behind and not advancing this many polls in a row: the target hangs */
#define REPL_RESYNC_MS (10 * 60 * 1000)
#define REPL_QMP_FINISH_MS 60000 /* a ready, caught-up mirror ends at once; its last writes at most */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *g_recs;              /* uuid -> record; under g_lock */
/* uuid -> what the API shows (rec_json), updated at every rec_save: readers
 * never wait for g_lock, which a resync or a call to the peer may hold long.
 * A leaf lock. */
static pthread_mutex_t show_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *g_show;
static pthread_t mon_thread;
static bool mon_running, mon_stop;
static pthread_mutex_t mon_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mon_cond = PTHREAD_COND_INITIALIZER;
/* The VM whose compare pass runs (under g_lock), and a request to end it
 * (`--stop` must not wait for a pass of hours).  A leaf lock. */
static pthread_mutex_t cmp_lock = PTHREAD_MUTEX_INITIALIZER;
static char cmp_uuid[40];
static bool cmp_cancel;

/* ---- records ---- */

static json_t *rec_json(const json_t *rec);
static void switch_undo_locked(json_t *rec, const char *why);

static char *rec_path(const char *uuid) { return xasprintf("%s/replication/%s.json", svc_cfg.state_dir, uuid); }
static char *key_dir(const char *uuid) { return xasprintf("%s/%s/repl", svc_cfg.run_dir, uuid); }
static const char *rs(const json_t *rec, const char *k) { return json_string_value(json_object_get(rec, k)) ?: ""; }
static int64_t ri(const json_t *rec, const char *k) { return json_integer_value(json_object_get(rec, k)); }

static void rec_save(const json_t *rec)
{
	__do_free char *dir = xasprintf("%s/replication", svc_cfg.state_dir);
	__do_free char *path = rec_path(rs(rec, "uuid"));
	__do_free char *text = json_dumps(rec, JSON_COMPACT);
	int r;
	if ((r = fs_mkdir_p(dir, 0700)) < 0 || (r = fs_write_file_atomic(path, text, strlen(text), 0600)) < 0)
		log_warn("vm %s: cannot record its replication in %s: %s", rs(rec, "name"), path, strerror(-r));
	json_t *shown = rec_json(rec);
	pthread_mutex_lock(&show_lock);
	if (!g_show)
		g_show = json_object();
	json_object_set_new(g_show, rs(rec, "uuid"), shown);
	pthread_mutex_unlock(&show_lock);
}

static void rec_drop(const char *uuid)
{
	__do_free char *path = rec_path(uuid);
	unlink(path);
	pthread_mutex_lock(&show_lock);
	json_object_del(g_show, uuid);
	pthread_mutex_unlock(&show_lock);
	json_object_del(g_recs, uuid);
}

/* Set state (and since, when it changes), error; event on a change. */
static void rec_state(json_t *rec, const char *state, const char *error)
{
	bool changed = strcmp(rs(rec, "state"), state) != 0;
	if (changed) {
		json_object_set_new(rec, "state", json_string(state));
		json_object_set_new(rec, "since", json_integer(time_wall_ms()));
		__do_free char *d = error && *error ? xasprintf("%s with %s: %s", state, rs(rec, "peer"), error)
						    : xasprintf("%s with %s", state, rs(rec, "peer"));
		svc_vm_event(rs(rec, "uuid"), "replicate", d);
		log_info("vm %s: replication to %s %s%s%s", rs(rec, "name"), rs(rec, "peer"), state,
			 error && *error ? ": " : "", error ? error : "");
	}
	json_object_set_new(rec, "error", json_string(error ? error : ""));
	rec_save(rec);
}

static void bitmaps_remove_all(struct qmp *q, const json_t *rec)
{
	size_t i, k;
	json_t *d, *b;
	json_array_foreach(json_object_get(rec, "bitmaps"), k, b)
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			repl_bitmap_remove(q, rs(d, "node"), json_string_value(b));
}

/* Add bitmap repl-<gen+1> on every disk; keep at most two (the oldest goes). */
static int bitmap_rotate(struct qmp *q, json_t *rec, struct buf *err)
{
	int64_t gen = ri(rec, "gen") + 1;
	__do_free char *name = xasprintf("repl-%lld", (long long)gen);
	json_t *bms = json_object_get(rec, "bitmaps");
	size_t i;
	json_t *d;
	int r;

	json_array_foreach(json_object_get(rec, "disks"), i, d)
		if ((r = repl_bitmap_add(q, rs(d, "node"), name, err)) < 0)
			return r;
	json_object_set_new(rec, "gen", json_integer(gen));
	json_array_append_new(bms, json_string(name));
	while (json_array_size(bms) > 2) {
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			repl_bitmap_remove(q, rs(d, "node"), json_string_value(json_array_get(bms, 0)));
		json_array_remove(bms, 0);
	}
	json_object_set_new(rec, "rotated", json_integer(time_mono_ms()));
	return 0;
}

/* ---- the steps ---- */

/* Load a fresh key into the VM's QEMU as REPL_TLS_ID (the file goes at once:
 * a TLS client reads its key when the object is made). */
static int tls_load(struct qmp *q, const char *uuid, const char *psk, struct buf *err)
{
	__do_free char *kdir = key_dir(uuid);
	int r;
	mig_tls_del_id(q, REPL_TLS_ID);
	if ((r = mig_psk_write(kdir, psk, err)) < 0)
		return r;
	r = mig_tls_add_id(q, REPL_TLS_ID, kdir, false, err);
	mig_psk_remove(kdir);
	return r;
}

static void targets_drop(struct qmp *q, const json_t *rec)
{
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		repl_drop(q, (int)ri(d, "slot"));
}

static int targets_add(struct qmp *q, const json_t *rec, int port, struct buf *err)
{
	size_t i;
	json_t *d;
	int r;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		if ((r = repl_target_add(q, (int)ri(d, "slot"), rs(d, "volume"), rs(rec, "address"), port, err)) < 0)
			return r;
	return 0;
}

static int mirrors_start(struct qmp *q, const json_t *rec, bool full, struct buf *err)
{
	size_t i;
	json_t *d;
	int r;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		if ((r = repl_mirror_start(q, (int)ri(d, "slot"), rs(d, "node"), full, err)) < 0)
			return r;
	return 0;
}

/* One incremental round on every disk from the older live bitmap: the bytes copied. */
static int resync_round(struct qmp *q, const json_t *rec, uint64_t *bytes, struct buf *err)
{
	const char *bm = json_string_value(json_array_get(json_object_get(rec, "bitmaps"), 0));
	size_t i;
	json_t *d;
	int r;
	json_array_foreach(json_object_get(rec, "disks"), i, d) {
		uint64_t b = 0;
		if ((r = repl_resync(q, (int)ri(d, "slot"), rs(d, "node"), bm, REPL_RESYNC_MS, &b, err)) < 0)
			return r;
		*bytes += b;
	}
	return 0;
}

/* In a pool, the replica recorded outdated in the pool's configuration
 * (replrow.h) before anything lets a held guest write complete on this host
 * alone: true once applied (or outside a pool).  When it cannot be applied
 * (no quorum: this host is being cut off and its HA QEMUs fenced) the
 * mirrors are left as they are, so the held writes are never acknowledged;
 * the next poll tries again. */
static bool outdated_first(json_t *rec, const char *why)
{
	__do_buf struct buf e = BUF_INIT;
	if (replrow_put(rs(rec, "uuid"), rs(rec, "name"), rs(rec, "peer"), "outdated", time_wall_ms(), false, &e) == 0)
		return true;
	__do_free char *held = xasprintf("%s; guest writes held until the pool records the replica outdated: %s", why,
					 e.s);
	if (strcmp(rs(rec, "error"), held) != 0) {
		log_warn("vm %s: replication to %s: %s", rs(rec, "name"), rs(rec, "peer"), held);
		json_object_set_new(rec, "error", json_string(held));
		rec_save(rec);
	}
	return false;
}

/* A mirror failed: the pool told first, then drop them all, keep the older
 * bitmap, degraded.  false: not told, nothing dropped. */
static bool degrade(struct qmp *q, json_t *rec, const char *why)
{
	json_t *bms = json_object_get(rec, "bitmaps");
	size_t i;
	json_t *d;

	if (!outdated_first(rec, why))
		return false;
	targets_drop(q, rec);
	while (json_array_size(bms) > 1) {
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			repl_bitmap_remove(q, rs(d, "node"), json_string_value(json_array_get(bms, 1)));
		json_array_remove(bms, 1);
	}
	json_object_set_new(rec, "retry", json_integer(time_mono_ms()));
	json_object_set_new(rec, "stuck", json_integer(0));
	rec_state(rec, "degraded", why);
	return true;
}

/* The peer's call, with its name in errors. */
static int peer_do(const char *host, const char *method, const char *path, json_t *body, json_t **reply,
		   struct buf *err)
{
	struct peer *p = NULL;
	int r;
	if ((r = peer_open(host, &p, err)) < 0) {
		json_decref(body);
		return r;
	}
	r = peer_call(p, method, path, body, reply, NULL, err);
	json_decref(body);
	peer_close(p);
	return r;
}

/* ---- the compare pass (resync.h) ---- */

#define CMP_PEER_MS (5 * 60 * 1000)

static char *cmp_socket(const char *uuid) { return xasprintf("%s/%s/repl-cmp.sock", svc_cfg.run_dir, uuid); }

struct cmp {
	json_t *rec;
	struct peer *peer;
	uint64_t total, compared, copied;
	int64_t start_ms, saved_ms;
	int64_t wait_ms; /* spent waiting for the peer's hashes after this host's */
	unsigned rate_mib;
};

static void cmp_progress(struct cmp *c, bool force)
{
	int64_t now = time_mono_ms();
	if (!force && now - c->saved_ms < 500)
		return;
	c->saved_ms = now;
	json_object_set_new(c->rec, "compared_bytes", json_integer((json_int_t)c->compared));
	json_object_set_new(c->rec, "copied_bytes", json_integer((json_int_t)c->copied));
	json_object_set_new(c->rec, "compare_total", json_integer((json_int_t)c->total));
	json_object_set_new(c->rec, "percent", json_integer(c->total ? (json_int_t)(c->compared * 100 / c->total) : 0));
	rec_save(c->rec);
}

/* Hold the pass to rate_mib MiB/s of compared bytes. */
static void cmp_throttle(const struct cmp *c)
{
	if (!c->rate_mib)
		return;
	int64_t due = c->start_ms + (int64_t)(c->compared * 1000 / ((uint64_t)c->rate_mib << 20));
	int64_t now = time_mono_ms();
	if (due > now)
		usleep((useconds_t)((due - now) * 1000));
}

/* The peer's hashes of one page, fetched by a thread of their own while
 * this host hashes the same page: both sides read at once. */
struct cmp_fetch {
	struct peer *peer;
	const char *path, *vol;
	uint64_t size, off;
	struct resync_hashes hs;
	struct buf err;
	int r;
};

static void *cmp_fetch_main(void *arg)
{
	struct cmp_fetch *f = arg;
	__do_json json_t *reply = NULL;
	json_t *req = json_pack("{s:s, s:I, s:i, s:i}", "volume", f->vol, "offset", (json_int_t)f->off, "count",
				(int)RESYNC_PAGE_MAX, "chunk", (int)RESYNC_CHUNK);
	f->r = peer_call(f->peer, "POST", f->path, req, &reply, NULL, &f->err);
	json_decref(req);
	if (f->r == 0)
		f->r = resync_hashes_parse(reply, f->vol, f->size, RESYNC_CHUNK, f->off, RESYNC_PAGE_MAX, &f->hs, &f->err);
	return NULL;
}

/* One disk: local (the VM's export) against the peer's hashes; what differs
 * is written into dst (the replica's export). */
static int cmp_disk(struct cmp *c, const char *vol, struct nbd_handle *local, uint64_t size, struct nbd_handle *dst,
		    struct buf *err)
{
	__do_free char *path = xasprintf("/v1/replicas/%s/hashes", rs(c->rec, "uuid"));
	__do_free unsigned char *data = xmalloc(RESYNC_CHUNK);
	__do_free bool *zero = xcalloc(RESYNC_PAGE_MAX, sizeof(bool));
	__do_free uint8_t (*digest)[RESYNC_HASH_LEN] = xcalloc(RESYNC_PAGE_MAX, RESYNC_HASH_LEN);
	uint64_t off = 0;
	int r = 0;

	while (off < size) {
		struct cmp_fetch f = { .peer = c->peer, .path = path, .vol = vol, .size = size, .off = off,
				       .err = BUF_INIT };
		pthread_t t;
		size_t n = (size_t)((size - off + RESYNC_CHUNK - 1) / RESYNC_CHUNK);
		if (n > RESYNC_PAGE_MAX)
			n = RESYNC_PAGE_MAX;
		int tr = pthread_create(&t, NULL, cmp_fetch_main, &f);
		if (tr) {
			buf_printf(err, "cannot start a thread for the peer's hashes: %s", strerror(tr));
			return -tr;
		}
		/* this host's hashes of the page meanwhile */
		r = resync_zero_map(local, size, off, RESYNC_CHUNK, n, zero, err);
		for (size_t i = 0; r == 0 && i < n; i++) {
			uint64_t o = off + (uint64_t)i * RESYNC_CHUNK;
			size_t len = size - o < RESYNC_CHUNK ? (size_t)(size - o) : RESYNC_CHUNK;
			if (!zero[i] && (r = resync_nbd_pread(local, data, len, o, err)) == 0)
				resync_chunk_hash(data, len, digest[i], &zero[i]);
			c->compared += len;
			cmp_progress(c, false);
			cmp_throttle(c);
			pthread_mutex_lock(&cmp_lock);
			if (cmp_cancel && r == 0) {
				buf_adds(err, "the compare pass was cancelled: the replication is being stopped");
				r = -ECANCELED;
			}
			pthread_mutex_unlock(&cmp_lock);
		}
		int64_t w0 = time_mono_ms();
		pthread_join(t, NULL);
		c->wait_ms += time_mono_ms() - w0;
		if (r == 0 && f.r < 0) {
			buf_adds(err, f.err.s ?: "the peer's hashes failed");
			r = f.r;
		} else if (r == 0 && f.hs.n != n) {
			buf_printf(err, "the replica host's hash list of %s holds %zu chunks, not %zu", vol, f.hs.n, n);
			r = -EPROTO;
		}
		buf_release(&f.err);
		/* what differs: read again (a guest write since is in the bitmap anyway) and written there */
		for (size_t i = 0; r == 0 && i < n; i++) {
			uint64_t o = off + (uint64_t)i * RESYNC_CHUNK;
			size_t len = size - o < RESYNC_CHUNK ? (size_t)(size - o) : RESYNC_CHUNK;
			bool same = zero[i] ? f.hs.zero[i]
					    : !f.hs.zero[i] && !memcmp(digest[i], f.hs.digest[i], RESYNC_HASH_LEN);
			if (same)
				continue;
			if (!zero[i] && (r = resync_nbd_pread(local, data, len, o, err)) < 0)
				break;
			if ((r = resync_chunk_put(dst, data, zero[i], o, len, err)) < 0)
				break;
			c->copied += len;
		}
		resync_hashes_release(&f.hs);
		if (r < 0)
			return r;
		cmp_progress(c, false);
		off += (uint64_t)n * RESYNC_CHUNK;
	}
	return resync_nbd_flush(dst, err);
}

/* The compare pass of every disk: QEMU's read-only exports of the running
 * disks, the replica's export (key psk) at port; *copied: what it wrote. */
static int compare_pass(struct qmp *q, json_t *rec, const char *psk, int port, uint64_t *copied, struct buf *err)
{
	const char *uuid = rs(rec, "uuid");
	json_t *disks = json_object_get(rec, "disks");
	size_t n = json_array_size(disks), i;
	__do_free char *sock = cmp_socket(uuid);
	__do_free char *kdir = key_dir(uuid);
	__do_free int *slots = xcalloc(n ? n : 1, sizeof(int));
	__do_free const char **nodes = xcalloc(n ? n : 1, sizeof(char *));
	__do_free struct nbd_handle **local = xcalloc(n ? n : 1, sizeof(*local));
	__do_free uint64_t *sizes = xcalloc(n ? n : 1, sizeof(uint64_t));
	struct cmp c = { .rec = rec, .start_ms = time_mono_ms(), .rate_mib = (unsigned)ri(rec, "rate") };
	json_t *d;
	int r;

	if (strlen(sock) >= 100) {
		buf_printf(err, "the compare pass's socket path %s is too long", sock);
		return -ENAMETOOLONG;
	}
	json_array_foreach(disks, i, d) {
		slots[i] = (int)ri(d, "slot");
		nodes[i] = rs(d, "node");
	}
	unlink(sock);
	/* recorded first: a corrald killed during the pass stops this server at its next start */
	json_object_set_new(rec, "cmp_started", json_true());
	rec_save(rec);
	if ((r = repl_cmp_export_start(q, sock, slots, nodes, n, err)) < 0) {
		json_object_set_new(rec, "cmp_started", json_false());
		return r;
	}
	if ((r = mig_psk_write(kdir, psk, err)) < 0 || (r = peer_open(rs(rec, "peer"), &c.peer, err)) < 0)
		goto out;
	peer_set_timeout(c.peer, 5000, CMP_PEER_MS);
	json_array_foreach(disks, i, d) {
		char exp[32];
		snprintf(exp, sizeof(exp), "repl-cmp%d", slots[i]);
		if ((r = resync_nbd_connect_unix(sock, exp, &local[i], err)) < 0 ||
		    (r = resync_nbd_size(local[i], &sizes[i], err)) < 0)
			goto out;
		c.total += sizes[i];
	}
	cmp_progress(&c, true);
	pthread_mutex_lock(&cmp_lock);
	snprintf(cmp_uuid, sizeof(cmp_uuid), "%s", uuid);
	cmp_cancel = false;
	pthread_mutex_unlock(&cmp_lock);
	json_array_foreach(disks, i, d) {
		struct nbd_handle *dst = NULL;
		uint64_t dsize = 0;
		if ((r = resync_nbd_connect_tcp(rs(rec, "address"), port, rs(d, "volume"), kdir, true, &dst, err)) < 0)
			goto out;
		if ((r = resync_nbd_size(dst, &dsize, err)) == 0 && dsize != sizes[i]) {
			buf_printf(err, "the replica of disk %s is %llu bytes, the disk %llu", rs(d, "volume"),
				   (unsigned long long)dsize, (unsigned long long)sizes[i]);
			r = -EINVAL;
		}
		if (r == 0)
			r = cmp_disk(&c, rs(d, "volume"), local[i], sizes[i], dst, err);
		resync_nbd_close(dst);
		if (r < 0)
			goto out;
	}
	cmp_progress(&c, true);
	json_object_set_new(rec, "compare_ms", json_integer(time_mono_ms() - c.start_ms));
	*copied = c.copied;
	log_info("vm %s: compare pass with %s: %llu bytes compared, %llu copied in %lld ms (%lld ms of it waiting "
		 "for the peer's hashes)",
		 rs(rec, "name"), rs(rec, "peer"), (unsigned long long)c.compared, (unsigned long long)c.copied,
		 (long long)(time_mono_ms() - c.start_ms), (long long)c.wait_ms);
out:
	pthread_mutex_lock(&cmp_lock);
	cmp_uuid[0] = 0;
	cmp_cancel = false;
	pthread_mutex_unlock(&cmp_lock);
	for (i = 0; i < n; i++)
		resync_nbd_close(local[i]);
	peer_close(c.peer);
	mig_psk_remove(kdir);
	repl_cmp_export_stop(q);
	unlink(sock);
	json_object_set_new(rec, "cmp_started", json_false());
	rec_save(rec);
	return r;
}

/* Resume under g_lock: a fresh export on the peer, then either the changes
 * (degraded: incremental rounds, the last with the guest paused) or
 * everything (stopped) copied, and the mirrors started again. */
static int resume_locked(json_t *rec, struct buf *err)
{
	const char *uuid = rs(rec, "uuid");
	bool compare = json_is_true(json_object_get(rec, "compare"));
	bool full = !compare &&
		    (strcmp(rs(rec, "state"), "degraded") != 0 || json_array_size(json_object_get(rec, "bitmaps")) == 0);
	char psk[MIG_PSK_HEX_LEN + 1];
	__do_free char *path = xasprintf("/v1/replicas/%s/export", uuid);
	__do_json json_t *reply = NULL;
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	bool paused = false;
	uint64_t bytes = 0;
	int r, port;

	json_object_set_new(rec, "retry", json_integer(time_mono_ms()));
	if (!rt_is_active(uuid)) {
		buf_printf(err, "%s is not running: replication resumes on a running VM", rs(rec, "name"));
		return -EINVAL;
	}
	/* the pool hears "syncing" before anything is copied onto the replica */
	if ((r = replrow_put(uuid, rs(rec, "name"), rs(rec, "peer"), "syncing", time_wall_ms(), true, err)) < 0)
		return r;
	if ((r = mig_psk_generate(psk, err)) < 0)
		return r;
	r = peer_do(rs(rec, "peer"), "POST", path, json_pack("{s:s}", "psk", psk), &reply, err);
	if (r < 0)
		goto out;
	port = (int)json_integer_value(json_object_get(reply, "port"));
	if (port <= 0 || port > 65535) {
		buf_printf(err, "%s answered no port for the replica", rs(rec, "peer"));
		r = -EREMOTEIO;
		goto out;
	}
	json_object_set_new(rec, "port", json_integer(port));
	if (!(q = rt_qmp_acquire(uuid, &ref, err))) {
		r = -ESRCH;
		goto out;
	}
	targets_drop(q, rec);
	if (json_is_true(json_object_get(rec, "cmp_started"))) {
		/* a pass cut short by a corrald killed mid-way left QEMU's NBD server up */
		repl_cmp_export_stop(q);
		json_object_set_new(rec, "cmp_started", json_false());
	}
	if ((r = tls_load(q, uuid, psk, err)) < 0 || (r = targets_add(q, rec, port, err)) < 0)
		goto fail;
	if (compare) {
		/* Bitmap first: it marks what the guest writes during the pass,
		 * which the rounds below copy; then every chunk that differs. */
		uint64_t copied = 0;
		bitmaps_remove_all(q, rec);
		json_object_set_new(rec, "bitmaps", json_array());
		json_object_set_new(rec, "phase", json_string("compare"));
		json_object_set_new(rec, "percent", json_integer(0));
		rec_save(rec);
		if ((r = bitmap_rotate(q, rec, err)) < 0 || (r = compare_pass(q, rec, psk, port, &copied, err)) < 0)
			goto fail;
		bytes += copied;
		json_object_set_new(rec, "phase", json_string("rounds"));
		rec_save(rec);
	}
	if (full) {
		bitmaps_remove_all(q, rec);
		json_object_set_new(rec, "bitmaps", json_array());
		if ((r = bitmap_rotate(q, rec, err)) < 0 || (r = mirrors_start(q, rec, true, err)) < 0)
			goto fail;
	} else {
		/* Round 1 with the guest running; on success the bitmap holds what it wrote meanwhile. */
		if ((r = resync_round(q, rec, &bytes, err)) < 0)
			goto fail;
		struct vm_record vr = { 0 };
		bool running = store_vm_get(svc_cfg.store, uuid, &vr) == 0 && vr.state == VM_RUNNING;
		vm_record_release(&vr);
		if (running) {
			/* recorded first: a corrald killed now resumes it at its next start */
			json_object_set_new(rec, "paused", json_true());
			rec_save(rec);
			if ((r = rt_pause_reason(uuid, "paused for the last step of a replica resync", err)) < 0)
				goto fail;
			paused = true;
		}
		/* Round 2, nothing writes: then the replica equals the disk; a new
		 * bitmap from here, and mirrors that need not copy anything. */
		if ((r = resync_round(q, rec, &bytes, err)) < 0)
			goto fail;
		json_t *old = json_deep_copy(json_object_get(rec, "bitmaps"));
		json_object_set_new(rec, "bitmaps", json_array());
		if ((r = bitmap_rotate(q, rec, err)) < 0) {
			json_object_set_new(rec, "bitmaps", old);
			goto fail;
		}
		json_t *now = json_object_get(rec, "bitmaps");
		json_incref(now);
		json_object_set_new(rec, "bitmaps", old);
		bitmaps_remove_all(q, rec);
		json_object_set_new(rec, "bitmaps", now);
		if ((r = mirrors_start(q, rec, false, err)) < 0)
			goto fail;
		if (paused) {
			paused = false;
			json_object_set_new(rec, "paused", json_false());
			if ((r = rt_resume_reason(uuid, "replica resync done", err)) < 0)
				goto fail;
		}
	}
	json_object_set_new(rec, "resync_bytes", json_integer((json_int_t)bytes));
	json_object_set_new(rec, "percent", json_integer(full ? 0 : 100));
	json_object_set_new(rec, "compare", json_false()); /* a full copy or the pass made the replica a copy */
	json_object_del(rec, "phase");
	json_object_set_new(rec, "stuck", json_integer(0));
	rec_state(rec, "syncing", NULL);
	log_info("vm %s: replication to %s resumed (%s, %llu bytes copied before the mirror)", rs(rec, "name"),
		 rs(rec, "peer"), full ? "full copy" : compare ? "compare pass" : "changed blocks",
		 (unsigned long long)bytes);
	rt_qmp_release(ref);
	return 0;
fail:
	targets_drop(q, rec);
	json_object_del(rec, "phase");
	json_object_set_new(rec, "paused", json_false());
	if (paused) {
		__do_buf struct buf e = BUF_INIT;
		if (rt_resume_reason(uuid, "replica resync failed", &e) < 0)
			log_warn("vm %s: cannot resume after a failed resync: %s", rs(rec, "name"), e.s);
	}
	rt_qmp_release(ref);
out:
	explicit_bzero(psk, sizeof(psk));
	json_object_set_new(rec, "error", json_string(err->s ? err->s : ""));
	rec_save(rec);
	return r;
}

/* ---- the monitor ---- */

static void monitor_one(json_t *rec)
{
	const char *uuid = rs(rec, "uuid"), *state = rs(rec, "state");
	uint64_t len = 0, off = 0;
	bool ready = true;
	struct rt_ref *ref = NULL;
	struct qmp *q;
	size_t i;
	json_t *d;

	if (json_object_get(rec, "handover"))
		return; /* a switchover holds it (migrate.c): it ends it or gives it back */
	if (!rt_is_active(uuid)) {
		if (!strcmp(state, "stopped"))
			return;
		/* a QEMU started again would write here alone: outdated (vm start checks it too,
		 * svc_replicate_start_check); without quorum nothing is written, and the replica
		 * keeps every write the ended QEMU saw acknowledged */
		__do_buf struct buf e = BUF_INIT;
		if (replrow_put(uuid, rs(rec, "name"), rs(rec, "peer"), "outdated", time_wall_ms(), false, &e) < 0)
			log_info("vm %s: %s", rs(rec, "name"), e.s);
		json_object_set_new(rec, "bitmaps", json_array());
		rec_state(rec, "stopped", "the VM's QEMU ended; 'vm replicate --resume' on the running VM copies it again");
		return;
	}
	if (!strcmp(state, "syncing") && json_is_true(json_object_get(rec, "compare"))) {
		/* a new replication onto stale copies: the compare pass, then the rounds */
		__do_buf struct buf e = BUF_INIT;
		if (resume_locked(rec, &e) < 0) {
			json_object_set_new(rec, "retry", json_integer(time_mono_ms()));
			rec_state(rec, "degraded", e.s);
		}
		return;
	}
	if (!strcmp(state, "degraded") || !strcmp(state, "stopped")) {
		if (time_mono_ms() - ri(rec, "retry") >= SVC_REPL_RETRY_S * 1000) {
			__do_buf struct buf e = BUF_INIT;
			if (resume_locked(rec, &e) < 0)
				log_info("vm %s: replication to %s still degraded: %s", rs(rec, "name"), rs(rec, "peer"), e.s);
		}
		return;
	}
	if (!(q = rt_qmp_acquire(uuid, &ref, NULL)))
		return;
	json_array_foreach(json_object_get(rec, "disks"), i, d) {
		struct mig_disk_progress p;
		__do_buf struct buf e = BUF_INIT;
		char job[32];
		repl_job_name((int)ri(d, "slot"), job, sizeof(job));
		int r = mig_job_progress(q, job, "the replication mirror", &p, &e);
		if (r < 0 || p.failed) {
			__do_free char *why = r < 0 ? xasprintf("disk %s: %s", rs(d, "volume"), e.s)
						    : xasprintf("disk %s: the mirror failed: %s", rs(d, "volume"), p.error);
			degrade(q, rec, why);
			rt_qmp_release(ref);
			return;
		}
		len += p.len;
		off += p.offset;
		ready &= p.ready;
	}
	if (ready && off < len && (uint64_t)ri(rec, "last_off") == off) {
		json_object_set_new(rec, "stuck", json_integer(ri(rec, "stuck") + 1));
		if (ri(rec, "stuck") >= REPL_STUCK_POLLS) {
			degrade(q, rec, "the replica stopped taking writes");
			rt_qmp_release(ref);
			return;
		}
	} else {
		json_object_set_new(rec, "stuck", json_integer(0));
	}
	json_object_set_new(rec, "last_off", json_integer((json_int_t)off));
	bool told = true;
	if (ready && off >= len) {
		/* the pool hears "in-sync" (and has it again, e.g. after this host joined a pool) */
		__do_buf struct buf e = BUF_INIT;
		if (replrow_put(uuid, rs(rec, "name"), rs(rec, "peer"), "in-sync",
				strcmp(state, "in-sync") ? time_wall_ms() : ri(rec, "since"), true, &e) < 0) {
			if (strcmp(state, "in-sync"))
				log_info("vm %s: in sync with %s, not recorded in the pool yet: %s", rs(rec, "name"),
					 rs(rec, "peer"), e.s);
			told = false; /* in-sync only once the pool says so */
		}
	}
	if (ready && told) {
		json_object_set_new(rec, "percent", json_integer(100));
		if (strcmp(state, "in-sync") && off >= len) {
			json_object_set_new(rec, "rotated", json_integer(time_mono_ms()));
			rec_state(rec, "in-sync", NULL);
		} else if (!strcmp(state, "in-sync") && off >= len &&
			   time_mono_ms() - ri(rec, "rotated") >= SVC_REPL_ROTATE_S * 1000) {
			__do_buf struct buf e = BUF_INIT;
			if (bitmap_rotate(q, rec, &e) < 0)
				log_warn("vm %s: replication: %s", rs(rec, "name"), e.s);
			rec_save(rec);
		}
	} else if (!ready) {
		int pct = len ? (int)(off * 100 / len) : 0;
		if (pct != ri(rec, "percent")) {
			json_object_set_new(rec, "percent", json_integer(pct));
			rec_save(rec);
		}
	}
	rt_qmp_release(ref);
}

static void *mon_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mon_lock);
	while (!mon_stop) {
		pthread_mutex_unlock(&mon_lock);
		pthread_mutex_lock(&g_lock);
		const char *k;
		json_t *rec;
		void *tmp;
		json_object_foreach_safe(g_recs, tmp, k, rec) monitor_one(rec);
		pthread_mutex_unlock(&g_lock);
		pthread_mutex_lock(&mon_lock);
		struct timespec ts = time_realtime_in(1000);
		if (!mon_stop)
			pthread_cond_timedwait(&mon_cond, &mon_lock, &ts);
	}
	pthread_mutex_unlock(&mon_lock);
	return NULL;
}

void svc_replicate_recover(void)
{
	__do_free char *dir = xasprintf("%s/replication", svc_cfg.state_dir);
	DIR *dp = opendir(dir);
	struct dirent *e;

	pthread_mutex_lock(&g_lock);
	if (!g_recs)
		g_recs = json_object();
	while (dp && (e = readdir(dp))) {
		size_t n = strlen(e->d_name);
		if (n != 41 || strcmp(e->d_name + 36, ".json"))
			continue;
		__do_free char *path = xasprintf("%s/%s", dir, e->d_name);
		json_t *rec = json_load_file(path, 0, NULL);
		if (!rec || strncmp(rs(rec, "uuid"), e->d_name, 36)) {
			json_decref(rec);
			continue;
		}
		json_object_set_new(rec, "retry", json_integer(time_mono_ms()));
		json_object_set_new(rec, "rotated", json_integer(time_mono_ms()));
		if (json_is_true(json_object_get(rec, "compare")) && !strcmp(rs(rec, "state"), "syncing")) {
			/* corrald died during the compare pass (or before it): the replica
			 * is no copy yet; the retry (or --resume) compares again */
			__do_free char *kdir = key_dir(rs(rec, "uuid"));
			mig_psk_remove(kdir);
			json_object_del(rec, "phase");
			rec_state(rec, "degraded",
				  "corrald stopped during the compare pass; it is made again (retry, or 'vm replicate "
				  "--resume')");
		}
		if (json_is_true(json_object_get(rec, "paused"))) {
			/* corrald died in the last step of a resync, with the guest paused by it */
			__do_buf struct buf why = BUF_INIT;
			if (rt_is_active(rs(rec, "uuid")) &&
			    rt_resume_reason(rs(rec, "uuid"), "resumed: corrald stopped during a replica resync", &why) < 0)
				log_warn("vm %s: cannot resume it after an interrupted resync: %s", rs(rec, "name"), why.s);
			json_object_set_new(rec, "paused", json_false());
			rec_save(rec);
		}
		json_object_set_new(g_recs, rs(rec, "uuid"), rec);
		if (json_object_get(rec, "handover")) {
			/* corrald died during a switchover: the migration's record settles it
			 * (migrate_recover.c); without one, it never reached the destination */
			__do_json json_t *mrec = mig_rec_load(rs(rec, "uuid"));
			if (!mrec || strcmp(json_string_value(json_object_get(mrec, "role")) ?: "", "out") != 0)
				switch_undo_locked(rec, "corrald stopped before the migration began");
		}
		pthread_mutex_lock(&show_lock);
		if (!g_show)
			g_show = json_object();
		json_object_set_new(g_show, rs(rec, "uuid"), rec_json(rec));
		pthread_mutex_unlock(&show_lock);
		log_info("vm %s: replication to %s (%s) followed again after a restart", rs(rec, "name"),
			 rs(rec, "peer"), rs(rec, "state"));
	}
	if (dp)
		closedir(dp);
	pthread_mutex_unlock(&g_lock);
	mon_stop = false;
	int r = pthread_create(&mon_thread, NULL, mon_main, NULL);
	mon_running = r == 0;
	if (r)
		log_warn("cannot start the replication monitor: %s", strerror(r));
}

void svc_replicate_shutdown(void)
{
	if (mon_running) {
		pthread_mutex_lock(&mon_lock);
		mon_stop = true;
		pthread_cond_signal(&mon_cond);
		pthread_mutex_unlock(&mon_lock);
		pthread_join(mon_thread, NULL);
		mon_running = false;
	}
	pthread_mutex_lock(&g_lock);
	json_decref(g_recs);
	g_recs = NULL;
	pthread_mutex_unlock(&g_lock);
	pthread_mutex_lock(&show_lock);
	json_decref(g_show);
	g_show = NULL;
	pthread_mutex_unlock(&show_lock);
}

/* ---- the API ---- */

static json_t *rec_json(const json_t *rec)
{
	json_t *vols = json_array();
	char when[40];
	size_t i;
	json_t *d;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		json_array_append_new(vols, json_string(rs(d, "volume")));
	json_t *out = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I, s:o}", "peer", rs(rec, "peer"), "state",
				rs(rec, "state"), "percent", (json_int_t)ri(rec, "percent"), "since",
				time_fmt_rfc3339(ri(rec, "since"), when, sizeof(when)), "error",
				*rs(rec, "error") ? rs(rec, "error") : NULL, "resync_bytes",
				(json_int_t)ri(rec, "resync_bytes"), "disks", vols);
	if (json_array_size(json_object_get(rec, "reused"))) {
		json_object_set(out, "reused", json_object_get(rec, "reused"));
		json_object_set_new(out, "compare",
				    json_pack("{s:s, s:I, s:I, s:I, s:I}", "phase",
					      *rs(rec, "phase") ? rs(rec, "phase")
						: json_is_true(json_object_get(rec, "compare")) ? "pending" : "done",
					      "total_bytes", (json_int_t)ri(rec, "compare_total"), "compared_bytes",
					      (json_int_t)ri(rec, "compared_bytes"), "copied_bytes",
					      (json_int_t)ri(rec, "copied_bytes"), "ms", (json_int_t)ri(rec, "compare_ms")));
	}
	return out;
}

json_t *svc_vm_replication(const char *uuid)
{
	pthread_mutex_lock(&show_lock);
	json_t *out = g_show ? json_deep_copy(json_object_get(g_show, uuid)) : NULL;
	pthread_mutex_unlock(&show_lock);
	return out;
}

bool svc_vm_replicated(const char *uuid)
{
	pthread_mutex_lock(&show_lock);
	bool r = g_show && json_object_get(g_show, uuid);
	pthread_mutex_unlock(&show_lock);
	return r;
}

int svc_vm_replicate(const char *uuid, const char *to, bool reuse, unsigned rate_mib, json_t **out, struct buf *err)
{
	struct vm_record vr = { 0 };
	__do_json json_t *nodes = NULL;
	__do_json json_t *reply = NULL;
	__do_json json_t *rec = NULL;
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	struct peer *p = NULL;
	char psk[MIG_PSK_HEX_LEN + 1] = "";
	bool asked = false, rec_made = false;
	int r, port;

	if (!to || !*to) {
		buf_adds(err, "replicate needs the host to replicate to (to)");
		return -EINVAL;
	}
	pthread_mutex_lock(&g_lock);
	if (!g_recs)
		g_recs = json_object();
	if ((rec = json_incref(json_object_get(g_recs, uuid)))) {
		buf_printf(err, "%s is replicated to %s already (%s); 'vm replicate --stop' first", rs(rec, "name"),
			   rs(rec, "peer"), rs(rec, "state"));
		pthread_mutex_unlock(&g_lock);
		return -EEXIST;
	}
	if ((r = store_vm_get(svc_cfg.store, uuid, &vr)) < 0) {
		buf_adds(err, "vm not found");
		goto out;
	}
	if (vr.invalid || !rt_is_active(uuid) || (vr.state != VM_RUNNING && vr.state != VM_PAUSED)) {
		buf_printf(err, "%s: vm is %s; replication mirrors a running VM's disks", vr.def->name,
			   vmstate_name(vr.state));
		r = -EINVAL;
		goto out;
	}
	if ((r = mig_target_check(to, err)) < 0)
		goto out;
	nodes = rt_disk_nodes(uuid);
	rec = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:i, s:s, s:i, s:i, s:[], s:[], s:I, s:I, s:i}", "uuid",
			uuid, "name", vr.def->name, "peer", to, "address", "", "port", 0, "state", "", "since",
			(json_int_t)time_wall_ms(), "percent", 0, "error", "", "resync_bytes", 0, "gen", 0, "bitmaps",
			"disks", "retry", (json_int_t)time_mono_ms(), "rotated", (json_int_t)time_mono_ms(), "stuck", 0);
	json_t *describe = json_array();
	for (int i = 0; i < vr.def->ndisks; i++) {
		const char *vol = vr.def->disks[i].volume;
		json_t *nj = json_object_get(nodes, vol);
		const char *node = json_string_value(json_object_get(nj, "node"));
		const char *dev = json_string_value(json_object_get(nj, "device"));
		__do_free char *pool = NULL;
		bool copy = false;
		if ((r = mig_disk_copied(vol, &copy, &pool, err)) < 0) {
			json_decref(describe);
			goto out;
		}
		if (!copy)
			continue; /* a shared pool's disk is on the other host already */
		if (!node) {
			buf_printf(err, "disk %s is not attached to the running VM", vol);
			json_decref(describe);
			r = -EIO;
			goto out;
		}
		json_t *dj = mig_disk_describe(vol, true, NULL, err);
		if (!dj) {
			json_decref(describe);
			r = -ENOENT;
			goto out;
		}
		json_array_append_new(describe, dj);
		json_array_append_new(json_object_get(rec, "disks"),
				      json_pack("{s:s, s:s, s:i}", "volume", vol, "node", node, "slot",
						dev && !strncmp(dev, "disk", 4) ? atoi(dev + 4) : i));
	}
	if (json_array_size(describe) == 0) {
		json_decref(describe);
		buf_printf(err, "%s has no disk in a local (not shared) pool: there is nothing to replicate",
			   vr.def->name);
		r = -EINVAL;
		goto out;
	}
	if ((r = mig_psk_generate(psk, err)) < 0 || (r = peer_open(to, &p, err)) < 0) {
		json_decref(describe);
		goto out;
	}
	json_object_set_new(rec, "address", json_string(peer_address(p)));
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "vm", uuid, "name", vr.def->name, "source",
				mig_self_name(), "address", peer_address(p), "psk", psk, "disks", describe);
	if (reuse)
		json_object_set_new(req, "reuse", json_true());
	r = peer_call(p, "POST", "/v1/replicas", req, &reply, NULL, err);
	json_decref(req);
	if (r < 0)
		goto out;
	asked = true;
	port = (int)json_integer_value(json_object_get(reply, "port"));
	if (port <= 0 || port > 65535) {
		buf_printf(err, "%s answered no port for the replica", to);
		r = -EREMOTEIO;
		goto fail;
	}
	json_object_set_new(rec, "port", json_integer(port));
	/* the pool hears "syncing" before anything is copied (replrow.h) */
	if ((r = replrow_put(uuid, vr.def->name, to, "syncing", time_wall_ms(), true, err)) < 0)
		goto fail;
	rec_made = true;
	json_t *reused = json_object_get(reply, "reused");
	if (json_array_size(reused)) {
		/* stale copies on the peer: only names of our disks, at most one each */
		size_t k, m;
		json_t *v, *d;
		json_array_foreach(reused, k, v) {
			bool ours = false;
			json_array_foreach(json_object_get(rec, "disks"), m, d)
				ours |= json_is_string(v) && !strcmp(json_string_value(v), rs(d, "volume"));
			if (!ours || k >= json_array_size(json_object_get(rec, "disks"))) {
				buf_printf(err, "%s answered that it reuses a volume that is not a disk of %s", to, vr.def->name);
				r = -EREMOTEIO;
				goto fail;
			}
		}
		json_object_set(rec, "reused", reused);
		json_object_set_new(rec, "compare", json_true());
		json_object_set_new(rec, "rate", json_integer(rate_mib));
		json_object_set_new(g_recs, uuid, json_incref(rec));
		/* the monitor thread makes the pass (it may take long): recorded first */
		rec_state(rec, "syncing", NULL);
		*out = rec_json(rec);
		log_info("vm %s: replication to %s onto %zu stale cop%s: compare pass next", vr.def->name, to,
			 json_array_size(reused), json_array_size(reused) == 1 ? "y" : "ies");
		pthread_mutex_lock(&mon_lock);
		pthread_cond_signal(&mon_cond);
		pthread_mutex_unlock(&mon_lock);
		r = 0;
		goto out;
	}
	json_object_set_new(g_recs, uuid, json_incref(rec));
	rec_state(rec, "syncing", NULL); /* recorded before QEMU is touched: a restart follows it */
	if (!(q = rt_qmp_acquire(uuid, &ref, err))) {
		r = -ESRCH;
		goto fail;
	}
	if ((r = tls_load(q, uuid, psk, err)) < 0 || (r = targets_add(q, rec, port, err)) < 0 ||
	    (r = bitmap_rotate(q, rec, err)) < 0 || (r = mirrors_start(q, rec, true, err)) < 0)
		goto fail;
	rec_save(rec);
	rt_qmp_release(ref);
	*out = rec_json(rec);
	r = 0;
	goto out;
fail:
	if (q) {
		targets_drop(q, rec);
		bitmaps_remove_all(q, rec);
		mig_tls_del_id(q, REPL_TLS_ID);
		rt_qmp_release(ref);
	}
	if (asked) {
		/* volumes it reused stay there, stale copies again */
		__do_free char *path = xasprintf("/v1/replicas/%s%s", uuid,
						 json_array_size(json_object_get(reply, "reused")) ? "?keep=true" : "");
		__do_buf struct buf e = BUF_INIT;
		if (peer_call(p, "DELETE", path, NULL, NULL, NULL, &e) < 0)
			log_warn("vm %s: cannot remove the replica on %s: %s", vr.def->name, to, e.s);
	}
	if (rec_made) { /* the pool's row of a replication that did not start */
		__do_buf struct buf e = BUF_INIT;
		if (replrow_delete(uuid, &e) < 0)
			log_warn("vm %s: %s", vr.def->name, e.s);
	}
	rec_drop(uuid);
out:
	explicit_bzero(psk, sizeof(psk));
	peer_close(p);
	vm_record_release(&vr);
	pthread_mutex_unlock(&g_lock);
	return r;
}

int svc_vm_replicate_resume(const char *uuid, json_t **out, struct buf *err)
{
	int r;
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (!rec) {
		buf_adds(err, "the VM is not replicated ('vm replicate VM --to HOST' starts it)");
		r = -ENOENT;
	} else if (json_object_get(rec, "handover")) {
		buf_printf(err, "%s is being switched over to its replica on %s (a migration)", rs(rec, "name"),
			   rs(rec, "peer"));
		r = -EBUSY;
	} else if (!strcmp(rs(rec, "state"), "syncing") || !strcmp(rs(rec, "state"), "in-sync")) {
		buf_printf(err, "the replication of %s is %s: nothing to resume", rs(rec, "name"), rs(rec, "state"));
		r = -EEXIST;
	} else if ((r = resume_locked(rec, err)) == 0) {
		*out = rec_json(rec);
	}
	pthread_mutex_unlock(&g_lock);
	return r;
}

int svc_vm_replicate_stop(const char *uuid, bool keep, json_t **out, struct buf *err)
{
	struct rt_ref *ref = NULL;
	struct qmp *q;
	int r = 0;

	/* a compare pass of this VM running (it holds g_lock) ends at its next chunk */
	pthread_mutex_lock(&cmp_lock);
	if (!strcmp(cmp_uuid, uuid))
		cmp_cancel = true;
	pthread_mutex_unlock(&cmp_lock);
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (!rec) {
		buf_adds(err, "the VM is not replicated");
		pthread_mutex_unlock(&g_lock);
		return -ENOENT;
	}
	if (json_object_get(rec, "handover")) {
		buf_printf(err, "%s is being switched over to its replica on %s (a migration); cancel that job first",
			   rs(rec, "name"), rs(rec, "peer"));
		pthread_mutex_unlock(&g_lock);
		return -EBUSY;
	}
	/* the pool forgets the replica before it goes (HA must never restart the VM on it) */
	if ((r = replrow_delete(uuid, err)) < 0) {
		pthread_mutex_unlock(&g_lock);
		return r;
	}
	if (rt_is_active(uuid) && (q = rt_qmp_acquire(uuid, &ref, NULL))) {
		if (json_is_true(json_object_get(rec, "cmp_started")))
			repl_cmp_export_stop(q); /* left by a corrald killed during a compare pass */
		targets_drop(q, rec);
		bitmaps_remove_all(q, rec);
		mig_tls_del_id(q, REPL_TLS_ID);
		rt_qmp_release(ref);
	}
	__do_free char *path = xasprintf("/v1/replicas/%s%s", uuid, keep ? "?keep=true" : "");
	__do_buf struct buf e = BUF_INIT;
	if (peer_do(rs(rec, "peer"), "DELETE", path, NULL, NULL, &e) < 0 && !strstr(e.s ?: "", "holds no replica")) {
		__do_free char *d = xasprintf("stopped; the replica on %s could not be %s: %s", rs(rec, "peer"),
					      keep ? "kept as a stale copy" : "removed", e.s);
		svc_vm_event(uuid, "replicate", d);
		log_warn("vm %s: replication %s", rs(rec, "name"), d);
	} else {
		svc_vm_event(uuid, "replicate", keep ? "stopped; the replica is kept as a stale copy" : "stopped");
	}
	log_info("vm %s: replication to %s stopped", rs(rec, "name"), rs(rec, "peer"));
	size_t i;
	json_t *d;
	*out = json_pack("{s:[]}", keep ? "kept" : "deleted");
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		json_array_append(json_object_get(*out, keep ? "kept" : "deleted"), json_object_get(d, "volume"));
	rec_drop(uuid);
	pthread_mutex_unlock(&g_lock);
	return r;
}

void svc_replicate_forget(const char *uuid)
{
	__do_free char *kdir = key_dir(uuid);
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (rec) {
		log_info("vm %s: its replication record dropped (the VM runs on its replica's host now)",
			 rs(rec, "name"));
		rec_drop(uuid);
	}
	mig_psk_remove(kdir);
	pthread_mutex_unlock(&g_lock);
}

int svc_replicate_start_check(const char *uuid, const char *name, struct buf *err)
{
	__do_json json_t *shown = svc_vm_replication(uuid);
	const char *peer = json_string_value(json_object_get(shown, "peer"));
	__do_buf struct buf e = BUF_INIT;
	if (!peer)
		return 0;
	if (replrow_put(uuid, name, peer, "outdated", time_wall_ms(), false, &e) < 0) {
		buf_printf(err, "%s is replicated to %s and its writes here would be on this host alone: %s; not started "
				"(docs/ha.md, RPO 0)", name, peer, e.s);
		return -EBUSY;
	}
	return 0;
}

/* ---- the switchover onto the replica (migrate.c; docs/migration.md) ---- */

/* Can rec (NULL: not replicated) switch over to `to`?  Its replication's peer, state, compare pass. */
static int switch_check(const json_t *rec, const char *name, const char *to, struct buf *err)
{
	const char *state = rs(rec, "state");
	bool pending = json_is_true(json_object_get(rec, "compare")) ||
		       !strcmp(rs(json_object_get(rec, "compare"), "phase"), "pending");

	if (!rec) {
		buf_printf(err, "%s is not replicated", name);
		return -ENOENT;
	}
	if (strcmp(rs(rec, "peer"), to ?: "") != 0) {
		buf_printf(err, "%s is replicated (docs/ha.md); stop it first with 'corral vm replicate %s --stop'", name,
			   name);
		return -EBUSY;
	}
	if (json_object_get(rec, "handover")) {
		buf_printf(err, "%s is being switched over to %s already", name, to);
		return -EBUSY;
	}
	if (strcmp(state, "in-sync") != 0 || pending) {
		buf_printf(err,
			   "the replication of %s to %s is %s%s, not in-sync: only an in-sync replica takes the VM over "
			   "without a copy; wait until 'corral vm show %s' says in-sync, or stop the replication "
			   "('corral vm replicate %s --stop') and migrate with --with-local-disks",
			   name, to, state, pending ? " (its compare pass is pending)" : "", name, name);
		return -EBUSY;
	}
	return 0;
}

int svc_replicate_switch_check(const char *uuid, const char *name, const char *to, json_t **volumes, struct buf *err)
{
	/* what the API shows: never waits for g_lock, which a long resync of another VM may hold */
	__do_json json_t *shown = svc_vm_replication(uuid);
	int r = switch_check(shown, name, to, err);
	if (r == 0 && volumes)
		*volumes = json_deep_copy(json_object_get(shown, "disks"));
	return r;
}

int svc_replicate_switch_begin(const char *uuid, const char *name, const char *to, struct buf *err)
{
	int r;
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if ((r = switch_check(rec, name, to, err)) == 0 && (r = replrow_delete(uuid, err)) == 0) {
		/* the pool forgot the replica first: HA never restarts the VM on it meanwhile */
		json_object_set_new(rec, "handover", json_string("holding"));
		rec_save(rec);
		log_info("vm %s: switchover to its replica on %s begins", name, to);
	}
	pthread_mutex_unlock(&g_lock);
	return r;
}

int svc_replicate_switch_cut(const char *uuid, struct qmp *q, struct buf *err)
{
	size_t i;
	json_t *d;
	int r = 0;

	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (!rec || strcmp(rs(rec, "handover"), "holding") != 0) {
		buf_adds(err, "the replication is not held for a switchover");
		pthread_mutex_unlock(&g_lock);
		return -ENOENT;
	}
	/* every mirror ready and caught up: every write the guest saw acknowledged is on the replica */
	json_array_foreach(json_object_get(rec, "disks"), i, d) {
		struct mig_disk_progress p;
		char job[32];
		repl_job_name((int)ri(d, "slot"), job, sizeof(job));
		if ((r = mig_job_progress(q, job, "the replication mirror", &p, err)) < 0)
			break;
		if (p.failed || !p.ready || p.offset < p.len) {
			buf_printf(err, "the replica of disk %s is not in sync (%s)", rs(d, "volume"),
				   p.failed ? p.error : "the mirror is behind");
			r = -EIO;
			break;
		}
	}
	if (r == 0) {
		/* recorded first: a restart knows the mirrors may be gone */
		json_object_set_new(rec, "handover", json_string("cut"));
		rec_save(rec);
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			if ((r = repl_finish(q, (int)ri(d, "slot"), REPL_QMP_FINISH_MS, err)) < 0)
				break;
		if (r == 0)
			mig_tls_del_id(q, REPL_TLS_ID);
	}
	pthread_mutex_unlock(&g_lock);
	return r;
}

/* Under g_lock: the switchover of rec did not happen (why); see replicate.h. */
static void switch_undo_locked(json_t *rec, const char *why)
{
	const char *uuid = rs(rec, "uuid");

	if (!strcmp(rs(rec, "handover"), "cut")) {
		/* the mirrors are ended (or some): the replica is a copy up to the cut, the older
		 * bitmap holds every write since; the monitor resumes at its next round */
		struct rt_ref *ref = NULL;
		struct qmp *q = rt_is_active(uuid) ? rt_qmp_acquire(uuid, &ref, NULL) : NULL;
		json_t *bms = json_object_get(rec, "bitmaps");
		size_t i;
		json_t *d;
		if (q) {
			targets_drop(q, rec);
			while (json_array_size(bms) > 1) {
				json_array_foreach(json_object_get(rec, "disks"), i, d)
					repl_bitmap_remove(q, rs(d, "node"), json_string_value(json_array_get(bms, 1)));
				json_array_remove(bms, 1);
			}
		}
		rt_qmp_release(ref);
		json_object_del(rec, "handover");
		json_object_set_new(rec, "retry", json_integer(time_mono_ms() - SVC_REPL_RETRY_S * 1000));
		json_object_set_new(rec, "stuck", json_integer(0));
		__do_free char *e = xasprintf("the switchover to %s did not happen (%s); the replica is brought up to date",
					      rs(rec, "peer"), why);
		rec_state(rec, "degraded", e);
	} else {
		/* the mirrors ran on: the monitor follows them again (and writes the pool's row) */
		json_object_del(rec, "handover");
		rec_save(rec);
	}
	log_info("vm %s: switchover to %s undone: %s", rs(rec, "name"), rs(rec, "peer"), why);
	pthread_mutex_lock(&mon_lock);
	pthread_cond_signal(&mon_cond);
	pthread_mutex_unlock(&mon_lock);
}

void svc_replicate_switch_undo(const char *uuid, const char *why)
{
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (rec && json_object_get(rec, "handover"))
		switch_undo_locked(rec, why);
	pthread_mutex_unlock(&g_lock);
}

void svc_replicate_switch_done(const char *uuid, const char *to)
{
	__do_free char *kdir = key_dir(uuid);
	pthread_mutex_lock(&g_lock);
	json_t *rec = g_recs ? json_object_get(g_recs, uuid) : NULL;
	if (rec) {
		log_info("vm %s: replication to %s ended: the VM runs there on its replica now", rs(rec, "name"), to);
		rec_drop(uuid);
	}
	mig_psk_remove(kdir);
	pthread_mutex_unlock(&g_lock);
}
