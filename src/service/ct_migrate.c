/*
 * ct_migrate.c - offline migration of a stopped container to a trusted
 * host (ct.h "Offline migration"; docs/containers.md, "Migration").  The
 * source's job and the destination's prepare, pull, finish and abort, on
 * the same trusted-host channel (peer.h: mutual TLS, pinned certificates)
 * and the same durable records and reconciler (migrate_recover.h, roles
 * "ct-out" and "ct-in") as VM offline migration (migrate_offline.c).
 *
 * The root travels as one GNU tar stream of <lxcpath>/<name>/{rootfs,
 * snapshots} (numeric owners, so the unprivileged id map's host ids stay
 * as they are; modes, times, xattrs, POSIX ACLs, hard links, device nodes,
 * symlinks, sparse files); an image root's tree is read from its image,
 * mounted by the job until the stream ends, and arrives as a directory
 * root in the destination's lxcpath like any other (the size limit of the
 * source's image stays behind).  The destination pulls it: during its pull step
 * it GETs /v1/migrations/ct/<uuid>/root?token=T from the source with the
 * one-time token the source gave in prepare, and feeds the body to `tar -x` in the
 * container's new directory.  On the source a pump thread reads `tar -c`
 * into the reply's pipe, counting bytes for the job's progress (percent,
 * rate, ETA) and stopping when the job is cancelled.
 *
 * Ownership: the source owns the container until the destination answers
 * finish; the destination has it held (its job lock, no store row) until
 * then, so nobody can start or see it there.  Either side killed: the
 * destination's "ct-in" record makes its next start remove the directory;
 * the source's "ct-out" record makes the reconciler abort the destination
 * (or, after an unanswered finish, ask it whether it took the container).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ftw.h>

#include <openssl/crypto.h>

#include "ct.h"
#include "ct_internal.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/migrate.h"
#include "service/ha.h"
#include "service/internal.h"
#include "service/migrate_common.h"
#include "service/migrate_offline.h"
#include "service/migrate_recover.h"
#include "service/network.h"
#include "service/peer.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/common.h"

#define CTM_MAX 16
#define CTM_PUMP_BLOCK (64 * 1024)
#define CTM_PULL_TIMEOUT_MS (24LL * 3600 * 1000)

/* The tar options both ends use: the tree exactly, owners as numbers. */
static void tar_common(struct cmd *c)
{
	cmd_add(c, "tar");
	cmd_add(c, "--numeric-owner");
	cmd_add(c, "--xattrs");
	cmd_add(c, "--xattrs-include=*");
	cmd_add(c, "--acls");
}

/* The last line tar wrote to its log file, or a default. */
static void tar_error(const char *log, const char *what, struct buf *err)
{
	__do_buf struct buf t = BUF_INIT;
	if (fs_read_file(log, 64 * 1024, &t) == 0 && t.len) {
		while (t.len && t.s[t.len - 1] == '\n')
			t.s[--t.len] = '\0';
		const char *nl = strrchr(t.s, '\n');
		buf_printf(err, "%s: %s", what, nl ? nl + 1 : t.s);
	} else {
		buf_printf(err, "%s: tar failed", what);
	}
}

/* ======================= destination side ======================= */

struct incoming {
	char uuid[37];
	char name[64];
	char source[128]; /* the trusted host that sent prepare */
	char token[MIG_PSK_HEX_LEN + 1];
	int64_t since_ms;
	bool busy; /* a pull runs */
	struct ct_def *def;
	struct job_hold *hold;
};

static pthread_mutex_t in_lock = PTHREAD_MUTEX_INITIALIZER;
static struct incoming *in_table[CTM_MAX];

static struct incoming *in_take(const char *uuid, int64_t older_than_ms)
{
	struct incoming *m = NULL;

	pthread_mutex_lock(&in_lock);
	for (int i = 0; i < CTM_MAX && !m; i++)
		if (in_table[i] && !in_table[i]->busy && (!uuid || !strcmp(in_table[i]->uuid, uuid)) &&
		    (older_than_ms < 0 || in_table[i]->since_ms < older_than_ms)) {
			m = in_table[i];
			in_table[i] = NULL;
		}
	pthread_mutex_unlock(&in_lock);
	return m;
}

static void in_free(struct incoming *m)
{
	if (!m)
		return;
	job_release(m->hold);
	ctdef_free(m->def);
	explicit_bzero(m->token, sizeof(m->token));
	free(m);
}

static void in_record(const struct incoming *m)
{
	__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", "ct-in", "uuid", m->uuid, "name",
					  m->name, "peer", m->source, "phase", "prepared");
	mig_rec_save(m->uuid, rec);
}

/* Remove <lxcpath>/<name> that prepare made (only then is there a record), and the record. */
static void in_cleanup(const char *uuid, const char *name, const char *source, const char *why)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = xasprintf("%s/%s", lp, name);
	__do_free char *log = xasprintf("%s/.migrate-%s.log", lp, uuid);
	__do_buf struct buf e = BUF_INIT;
	struct ct_record rec = { 0 };

	unlink(log);
	if (store_ct_get(svc_cfg.store, uuid, &rec) == 0) {
		/* finished here after all: it is ours, keep it */
		ct_record_release(&rec);
	} else if (fs_exists(dir) > 0 && ctrt_undefine(lp, name, &e) < 0) {
		log_warn("container %s: cannot remove the half-received %s: %s", name, dir, e.s);
	}
	mig_rec_drop(uuid);
	log_info("container %s: offline migration from %s undone: %s", name, source, why);
}

void ct_migrate_in_recover(const json_t *rec)
{
	const char *uuid = json_string_value(json_object_get(rec, "uuid"));
	const char *name = json_string_value(json_object_get(rec, "name"));

	/* a hostile record must not name a path outside the lxcpath */
	if (!uuid || !name || ctdef_name_invalid(name)) {
		if (uuid)
			mig_rec_drop(uuid);
		return;
	}
	in_cleanup(uuid, name, json_string_value(json_object_get(rec, "peer")) ?: "?",
		   "corrald stopped before the migration finished");
}

/* Every network of d that this host lacks, as "a, b" (empty: none). */
static void missing_networks(const struct ct_def *d, struct buf *out)
{
	for (int i = 0; i < d->nnics; i++) {
		struct net_record rec = { 0 };
		bool dup = false;
		for (int k = 0; k < i; k++)
			dup = dup || !strcmp(d->nics[k].network, d->nics[i].network);
		if (!dup && store_net_get(svc_cfg.store, d->nics[i].network, &rec) < 0)
			buf_printf(out, "%s%s", out->len ? ", " : "", d->nics[i].network);
		net_record_release(&rec);
	}
}

/* What only this host can say about d: name free, networks, MACs, id map, space. */
static int in_check(const struct ct_def *d, uint64_t bytes, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = xasprintf("%s/%s", lp, d->name);
	__do_buf struct buf miss = BUF_INIT;
	struct ct_record old = { 0 };
	char vm[37];
	int r;

	if (d->rootfs) {
		buf_printf(err, "container '%s' runs on a host directory (%s): only roots corral built migrate", d->name,
			   d->rootfs);
		return -EINVAL;
	}
	if (store_ct_get(svc_cfg.store, d->name, &old) == 0 || store_ct_get(svc_cfg.store, d->uuid, &old) == 0 ||
	    store_vm_lookup(svc_cfg.store, d->name, vm) == 0 || store_vm_lookup(svc_cfg.store, d->uuid, vm) == 0) {
		buf_printf(err, "a %s named '%s' (or with its uuid) exists on %s already", old.uuid ? "container" : "VM",
			   d->name, mig_self_name());
		ct_record_release(&old);
		return -EEXIST;
	}
	missing_networks(d, &miss);
	if (miss.len) {
		buf_printf(err, "container '%s' has NICs on networks %s does not have: %s (create them there first)",
			   d->name, mig_self_name(), miss.s);
		return -ENOENT;
	}
	if ((r = svc_net_check_ct(d, err)) < 0)
		return r;
	if ((r = ct_idmap_same_here(d, mig_self_name(), err)) < 0)
		return r;
	if (fs_exists(dir) > 0) {
		buf_printf(err, "%s exists on %s already (left from another tool?): not touching it", dir,
			   mig_self_name());
		return -EEXIST;
	}
	if (fs_mkdir_p(lp, 0711) < 0) {
		buf_printf(err, "cannot make %s", lp);
		return -EIO;
	}
	return ctrt_space_check(lp, bytes + bytes / 20, err);
}

int svc_ct_migrate_prepare(const json_t *req, const char *caller, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "container", "source", "token", "bytes", NULL };
	const char *token = json_string_value(json_object_get(req, "token"));
	const char *source = caller ? caller : json_string_value(json_object_get(req, "source"));
	json_t *bj = json_object_get(req, "bytes");
	__do_free char *lp = ct_lxcpath();
	struct incoming *m = NULL;
	struct ct_def *d = NULL;
	int r;

	if ((r = json_check_keys(req, "container migration request", keys, err)) < 0)
		return r;
	if (!source || !token || strlen(token) != MIG_PSK_HEX_LEN || !json_is_integer(bj) || json_integer_value(bj) < 0) {
		buf_adds(err, "the container migration request needs container, source, token and bytes");
		return -EINVAL;
	}
	if (!(d = ctdef_from_json(json_object_get(req, "container"), CTDEF_FROM_STORE, err)))
		return -EINVAL;
	if (d->nmounts) {
		buf_printf(err, "container '%s' has mount points of the source's volumes: remove them there first", d->name);
		ctdef_free(d);
		return -EINVAL;
	}
	/* the root lands in this host's lxcpath (a source's root volume is the source's) */
	free(d->volume);
	d->volume = NULL;
	m = xcalloc(1, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "%s", d->uuid);
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	snprintf(m->source, sizeof(m->source), "%s", source);
	snprintf(m->token, sizeof(m->token), "%s", token);
	m->since_ms = time_mono_ms();
	m->def = d;
	pthread_mutex_lock(&svc_defs_lock);
	r = in_check(d, (uint64_t)json_integer_value(bj), err);
	if (r == 0)
		r = job_hold_vm(d->uuid, d->name, "migrate-in", &m->hold, err);
	if (r == 0) {
		__do_free char *rootfs = ct_rootfs_of(d);
		struct ctrt_config cfg;
		ct_cfg_of(d, rootfs, &cfg);
		in_record(m); /* before anything a restart would have to remove */
		if ((r = ctrt_define(lp, &cfg, err)) < 0)
			mig_rec_drop(m->uuid);
	}
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto fail;
	pthread_mutex_lock(&in_lock);
	r = -EAGAIN;
	for (int i = 0; i < CTM_MAX && r < 0; i++)
		if (!in_table[i]) {
			in_table[i] = m;
			r = 0;
		}
	pthread_mutex_unlock(&in_lock);
	if (r < 0) {
		buf_printf(err, "%d incoming container migrations are in progress already; try again later", CTM_MAX);
		in_cleanup(m->uuid, m->name, m->source, err->s);
		goto fail;
	}
	log_info("container %s: incoming offline migration from %s", m->name, m->source);
	*out = json_pack("{s:s}", "state", "prepared");
	return 0;
fail:
	in_free(m);
	return r;
}

struct pull {
	struct proc tar;
	uint64_t bytes;
};

static int pull_sink(const char *data, size_t len, void *opaque)
{
	struct pull *p = opaque;

	for (size_t off = 0; off < len;) {
		ssize_t n = write(p->tar.in, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		off += (size_t)n;
	}
	p->bytes += len;
	return 0;
}

/* Fetch the root from the source into <lxcpath>/<name>. */
static int in_pull(struct incoming *m, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = xasprintf("%s/%s", lp, m->name);
	__do_free char *log = xasprintf("%s/.migrate-%s.log", lp, m->uuid);
	/* the token in the URL: a one-time secret, sent over the pinned mutual-TLS channel only */
	__do_free char *path = xasprintf("/v1/migrations/ct/%s/root?token=%s", m->uuid, m->token);
	struct pull p = { .tar = PROC_INIT };
	struct cmd c = CMD_INIT;
	struct peer *peer = NULL;
	__do_buf struct buf e = BUF_INIT;
	long status = 0;
	int r, st;

	if ((r = peer_open(m->source, &peer, err)) < 0)
		return r;
	peer_set_timeout(peer, 5000, CTM_PULL_TIMEOUT_MS);
	tar_common(&c);
	cmd_add(&c, "-x");
	cmd_add(&c, "--same-permissions");
	cmd_add(&c, "--same-owner");
	cmd_add(&c, "-f");
	cmd_add(&c, "-");
	cmd_add(&c, "-C");
	cmd_add(&c, dir);
	cmd_set_io(&c, 0, CMD_IO_PIPE, NULL);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.helper = true; /* dies with corrald; the record removes what it wrote */
	unlink(log);
	r = cmd_start(&c, &p.tar, err);
	cmd_release(&c);
	if (r < 0) {
		peer_close(peer);
		return r;
	}
	r = peer_call_sink(peer, "GET", path, NULL, pull_sink, &p, &status, &e);
	peer_close(peer);
	close(p.tar.in);
	p.tar.in = -EBADF;
	if (r < 0)
		proc_signal(&p.tar, SIGKILL);
	st = proc_wait(&p.tar);
	proc_release(&p.tar);
	if (r < 0) {
		buf_printf(err, "receiving the root of %s from %s failed: %s", m->name, m->source, e.s);
	} else if (st != 0) {
		tar_error(log, "unpacking the root failed", err);
		r = -EIO;
	}
	unlink(log);
	if (r == 0)
		*out = json_pack("{s:I}", "bytes", (json_int_t)p.bytes);
	return r;
}

/* "prepared", "finished" (defined here, ours), or -ENOENT. */
static int in_status(const char *uuid, json_t **out, struct buf *err)
{
	__do_json json_t *rec = mig_rec_load(uuid);
	struct ct_record cr = { 0 };

	if (rec) {
		*out = json_pack("{s:s}", "state", "prepared");
		return 0;
	}
	if (store_ct_get(svc_cfg.store, uuid, &cr) == 0) {
		ct_record_release(&cr);
		*out = json_pack("{s:s}", "state", "finished");
		return 0;
	}
	buf_adds(err, "no container migration of this uuid here");
	return -ENOENT;
}

static int in_finish(struct incoming *m, json_t **out, struct buf *err)
{
	int r;

	pthread_mutex_lock(&svc_defs_lock);
	r = ct_store_def(m->def, true, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		return r;
	mig_rec_drop(m->uuid); /* the container is this host's now */
	svc_net_ct_hosts_refresh(m->def);
	__do_free char *d = xasprintf("migrated in (offline) from %s", m->source);
	svc_vm_event(m->uuid, "migrate", d);
	log_info("container %s: %s", m->name, d);
	*out = json_pack("{s:s}", "state", "stopped");
	return 0;
}

int svc_ct_migrate_step(const char *uuid, const char *step, const char *caller, json_t **out, struct buf *err)
{
	struct incoming *m = NULL;
	int r;

	if (!strcmp(step, "status"))
		return in_status(uuid, out, err);
	if (strcmp(step, "pull") && strcmp(step, "finish") && strcmp(step, "abort")) {
		buf_printf(err, "unknown step '%s': want pull, finish, abort or status", step);
		return -EINVAL;
	}
	if (!strcmp(step, "pull")) {
		pthread_mutex_lock(&in_lock);
		for (int i = 0; i < CTM_MAX && !m; i++)
			if (in_table[i] && !strcmp(in_table[i]->uuid, uuid) && !in_table[i]->busy)
				m = in_table[i];
		if (m)
			m->busy = true;
		pthread_mutex_unlock(&in_lock);
		if (!m) {
			buf_adds(err, "no incoming container migration of this uuid waits for its root");
			return -ENOENT;
		}
		r = caller && strcmp(caller, m->source) ? -EACCES : 0;
		if (r < 0)
			buf_printf(err, "the container migration was prepared by %s, not %s", m->source, caller);
		else
			r = in_pull(m, out, err);
		pthread_mutex_lock(&in_lock);
		m->busy = false;
		pthread_mutex_unlock(&in_lock);
		return r;
	}
	if (!(m = in_take(uuid, -1))) {
		bool busy = false;
		pthread_mutex_lock(&in_lock);
		for (int i = 0; i < CTM_MAX; i++)
			busy = busy || (in_table[i] && !strcmp(in_table[i]->uuid, uuid));
		pthread_mutex_unlock(&in_lock);
		if (busy) { /* its pull still runs (the source died and came back): ask again */
			buf_adds(err, "the root of this container is still being received; try again");
			return -EAGAIN;
		}
		buf_adds(err, "no incoming container migration of this uuid");
		return -ENOENT;
	}
	if (caller && strcmp(caller, m->source)) {
		buf_printf(err, "the container migration was prepared by %s, not %s", m->source, caller);
		r = -EACCES;
	} else if (!strcmp(step, "finish")) {
		if ((r = in_finish(m, out, err)) == 0) {
			in_free(m);
			return 0;
		}
	} else {
		in_cleanup(m->uuid, m->name, m->source, "migration aborted by the source");
		in_free(m);
		*out = json_pack("{s:b}", "aborted", 1);
		return 0;
	}
	/* put it back: the source decides */
	pthread_mutex_lock(&in_lock);
	for (int i = 0; i < CTM_MAX && m; i++)
		if (!in_table[i]) {
			in_table[i] = m;
			m = NULL;
		}
	pthread_mutex_unlock(&in_lock);
	if (m) {
		in_cleanup(m->uuid, m->name, m->source, err->s);
		in_free(m);
	}
	return r;
}

void svc_ct_migrate_reap(bool all)
{
	int64_t before = all ? INT64_MAX : time_mono_ms() - (int64_t)MIG_OFFLINE_EXPIRE_S * 1000;
	struct incoming *m;

	while ((m = in_take(NULL, before))) {
		in_cleanup(m->uuid, m->name, m->source,
			   all ? "corrald stops" : "the source never finished the container migration");
		in_free(m);
	}
}

/* ======================= source side ======================= */

struct outgoing {
	char uuid[37];
	char name[64];
	char to[128];
	char token[MIG_PSK_HEX_LEN + 1];
	struct ct_def *def;
	struct peer *peer;
	struct job *job;
	uint64_t bandwidth; /* bytes/s of the stream, 0: unlimited */
	uint64_t total;
	_Atomic uint64_t sent;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool streamed; /* the root was asked for (once only) */
	bool pumping;
	bool stop;
	int tar_status; /* of tar -c: 0 only when the whole tree went out */
};

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static struct outgoing *out_table[CTM_MAX];

static void out_register(struct outgoing *o, bool on)
{
	pthread_mutex_lock(&out_lock);
	for (int i = 0; i < CTM_MAX; i++)
		if (on ? !out_table[i] : out_table[i] == o) {
			out_table[i] = on ? o : NULL;
			break;
		}
	pthread_mutex_unlock(&out_lock);
}

static void outgoing_free(void *arg)
{
	struct outgoing *o = arg;

	if (!o)
		return;
	peer_close(o->peer);
	ctdef_free(o->def);
	explicit_bzero(o->token, sizeof(o->token));
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	free(o);
}

struct pump {
	struct outgoing *o;
	struct proc tar;
	int wfd;
	char *log;
};

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	struct outgoing *o = p->o;
	__do_free char *blk = xmalloc(CTM_PUMP_BLOCK);
	size_t want = CTM_PUMP_BLOCK;
	int64_t t0 = time_mono_ms();
	bool failed = false;

	if (o->bandwidth && o->bandwidth / 4 < want)
		want = o->bandwidth / 4 ? (size_t)(o->bandwidth / 4) : 1; /* about four pieces a second */

	for (;;) {
		struct pollfd pf = { .fd = p->tar.out, .events = POLLIN };
		pthread_mutex_lock(&o->lock);
		bool stop = o->stop;
		pthread_mutex_unlock(&o->lock);
		if (stop || (o->job && job_cancelled(o->job))) {
			failed = true;
			break;
		}
		if (poll(&pf, 1, 250) <= 0)
			continue;
		ssize_t n = read(p->tar.out, blk, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			failed = n < 0;
			break;
		}
		for (ssize_t off = 0; off < n && !failed;) {
			ssize_t w = write(p->wfd, blk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				failed = true; /* the destination went away */
			else
				off += w;
		}
		if (failed)
			break;
		uint64_t sent = atomic_fetch_add(&o->sent, (uint64_t)n) + (uint64_t)n;
		if (o->job)
			job_progress_bytes(o->job, sent < o->total ? sent : o->total, o->total);
		if (o->bandwidth) { /* ahead of the rate: wait (at most 250 ms, then look at stop again) */
			int64_t due = t0 + (int64_t)(sent * 1000 / o->bandwidth), now = time_mono_ms();
			if (due > now)
				time_sleep_ms(due - now < 250 ? due - now : 250);
		}
	}
	if (failed)
		proc_signal(&p->tar, SIGKILL);
	int st = proc_wait(&p->tar);
	if (st != 0 && !failed) {
		__do_buf struct buf e = BUF_INIT;
		tar_error(p->log, "packing the root failed", &e);
		log_warn("container %s: %s", o->name, e.s);
	}
	close(p->wfd); /* the end of the reply */
	proc_release(&p->tar);
	unlink(p->log);
	free(p->log);
	pthread_mutex_lock(&o->lock);
	o->tar_status = failed ? -EIO : st;
	o->pumping = false;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
	free(p);
	return NULL;
}

int svc_ct_migrate_root(const char *uuid, const char *token, const char *caller, int *fd, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct outgoing *o = NULL;
	struct cmd c = CMD_INIT;
	struct pump *p;
	pthread_t t;
	int pfd[2];
	int r;

	pthread_mutex_lock(&out_lock);
	for (int i = 0; i < CTM_MAX && !o; i++)
		if (out_table[i] && !strcmp(out_table[i]->uuid, uuid))
			o = out_table[i];
	if (o && (!token || strlen(token) != MIG_PSK_HEX_LEN || CRYPTO_memcmp(token, o->token, MIG_PSK_HEX_LEN) != 0 ||
		  (caller && strcmp(caller, o->to)))) {
		o = NULL;
	}
	if (o) {
		pthread_mutex_lock(&o->lock);
		if (o->streamed)
			o = (pthread_mutex_unlock(&o->lock), NULL);
	}
	if (!o) {
		pthread_mutex_unlock(&out_lock);
		buf_adds(err, "no container migration of this uuid is sending its root with this token");
		return -ENOENT;
	}
	/* o->lock held: nobody else starts a pump */
	o->streamed = true;
	p = xcalloc(1, sizeof(*p));
	p->o = o;
	p->tar = (struct proc)PROC_INIT;
	p->log = xasprintf("%s/.migrate-%s.log", lp, uuid);
	tar_common(&c);
	cmd_add(&c, "-c");
	cmd_add(&c, "--sparse");
	cmd_add(&c, "--one-file-system");
	cmd_add(&c, "-f");
	cmd_add(&c, "-");
	__do_free char *rootdir = ct_rootdir_of(o->def);
	cmd_add(&c, "-C");
	cmd_add(&c, rootdir);
	cmd_add(&c, "--");
	cmd_add(&c, "rootfs");
	{
		__do_free char *snaps = xasprintf("%s/snapshots", rootdir);
		if (fs_exists(snaps) > 0)
			cmd_add(&c, "snapshots");
	}
	cmd_set_io(&c, 1, CMD_IO_PIPE, NULL);
	cmd_set_io(&c, 2, CMD_IO_FILE, p->log);
	c.helper = true;
	unlink(p->log);
	r = cmd_start(&c, &p->tar, err);
	cmd_release(&c);
	if (r == 0 && pipe2(pfd, O_CLOEXEC) < 0) {
		r = -errno;
		buf_printf(err, "cannot make a pipe: %s", strerror(errno));
		proc_signal(&p->tar, SIGKILL);
		proc_wait(&p->tar);
	}
	if (r == 0) {
		p->wfd = pfd[1];
		o->pumping = true;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if ((r = -pthread_create(&t, &a, pump_main, p)) < 0) {
			o->pumping = false;
			close(pfd[0]);
			close(pfd[1]);
			proc_signal(&p->tar, SIGKILL);
			proc_wait(&p->tar);
			buf_adds(err, "cannot start the thread that sends the root");
		}
		pthread_attr_destroy(&a);
	}
	if (r < 0) {
		o->tar_status = -EIO;
		proc_release(&p->tar);
		free(p->log);
		free(p);
	}
	pthread_mutex_unlock(&o->lock);
	pthread_mutex_unlock(&out_lock);
	if (r == 0)
		*fd = pfd[0];
	return r;
}

/* POST to the destination; *status 0 when no answer came (it may have acted anyway). */
static int out_call(struct outgoing *o, const char *what, json_t *body, json_t **reply, long *status,
		    struct buf *err)
{
	__do_free char *path = what ? xasprintf("/v1/migrations/ct/%s/%s", o->uuid, what)
				    : xstrdup("/v1/migrations/ct");
	long st = 0;
	int r = peer_call(o->peer, "POST", path, body, reply, &st, err);

	if (status)
		*status = st;
	return r;
}

void svc_ct_migrate_forget(const char *uuid, const char *name, const char *to)
{
	__do_free char *lp = ct_lxcpath();
	__do_buf struct buf e = BUF_INIT;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;

	if (ct_load(uuid, &rec, &d, &e) < 0) {
		log_warn("container %s: migrated to %s, but its definition here cannot be read: %s", name, to, e.s);
		return;
	}
	__do_free char *rootdir = ct_rootdir_of(d);
	__do_free char *image = ct_root_image_of(d);
	struct store_batch *b = store_batch_new();
	store_batch_ct_delete(b, d->uuid);
	ct_batch_root_delete(b, d);
	int r = store_batch_commit(svc_cfg.store, b, &e);
	store_batch_free(b);
	if (r < 0) {
		log_warn("container %s: migrated to %s, but its row stays here: %s", name, to, e.s);
	} else if (ct_root_files_remove(lp, d, rootdir, image, &e) < 0) {
		log_warn("container %s: migrated to %s, but its files stay here: %s", name, to, e.s);
	}
	svc_net_ct_hosts_refresh(d);
	ctdef_free(d);
	ct_record_release(&rec);
	log_info("container %s: migrated (offline) to %s", name, to);
}

/* Wait for the pump (if one ran) to end, stopping it first when stop. */
static int out_pump_wait(struct outgoing *o, bool stop)
{
	int st;

	pthread_mutex_lock(&o->lock);
	if (stop)
		o->stop = true;
	while (o->pumping)
		pthread_cond_wait(&o->cond, &o->lock);
	st = o->streamed ? o->tar_status : -ENODATA;
	pthread_mutex_unlock(&o->lock);
	return st;
}

static int out_job_run(struct job *j, void *arg, struct buf *err)
{
	struct outgoing *o = arg;
	__do_json json_t *req = NULL, *reply = NULL;
	bool prepared = false, registered = false;
	long status = 0;
	int r;

	o->job = j;
	job_set_phase(j, "preparing %s", o->to);
	if ((r = peer_open(o->to, &o->peer, err)) < 0 || (r = mig_psk_generate(o->token, err)) < 0)
		return r;
	/* an image root is sent as its tree: mounted until the job ends (no image root: nothing) */
	if ((r = ct_root_mount(o->def, err)) < 0)
		return r;
	{
		__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "role", "ct-out", "uuid", o->uuid,
						  "name", o->name, "peer", o->to, "phase", "preparing");
		if ((r = mig_rec_claim(o->uuid, rec, err)) < 0) { /* another migration's record is never touched */
			ct_root_umount(o->def);
			return r;
		}
	}
	json_t *def = ctdef_to_json(o->def);
	/* the root arrives in HOST's lxcpath, not in a pool volume of ours */
	json_object_del(def, "volume");
	req = json_pack("{s:o, s:s, s:s, s:I}", "container", def, "source", mig_self_name(), "token", o->token,
			"bytes", (json_int_t)o->total);
	out_register(o, true);
	registered = true;
	r = out_call(o, NULL, req, NULL, &status, err);
	json_decref(req);
	req = NULL;
	if (r < 0) {
		prepared = status == 0; /* no answer: it may have prepared; abort it (now or later) */
		goto fail;
	}
	prepared = true;
	job_progress_bytes(j, 0, o->total);
	job_set_phase(j, "copying the root of %s to %s", o->name, o->to);
	peer_set_timeout(o->peer, 5000, CTM_PULL_TIMEOUT_MS);
	r = out_call(o, "pull", NULL, &reply, &status, err);
	peer_set_timeout(o->peer, 5000, 30000);
	int st = out_pump_wait(o, r < 0);
	out_register(o, false);
	registered = false;
	if (r == 0 && st != 0) {
		buf_printf(err, "packing the root of %s failed (see corrald's log)", o->name);
		r = -EIO;
	}
	if (job_cancelled(j))
		r = -ECANCELED;
	if (r < 0)
		goto fail;
	job_progress_bytes(j, o->total, o->total);
	job_set_uncancellable(j, "handing the container over to the destination");
	job_set_phase(j, "handing %s over to %s", o->name, o->to);
	json_decref(reply);
	reply = NULL;
	mig_rec_phase(o->uuid, "finishing"); /* from now on the destination may own it */
	if ((r = out_call(o, "finish", NULL, &reply, &status, err)) < 0) {
		__do_free char *base = xasprintf("/v1/migrations/ct/%s", o->uuid);
		int took = mig_handover_taken(o->peer, base);
		if (took < 0) {
			ct_root_umount(o->def);
			mig_unknown(o->uuid, err,
				    "no answer from %s at the hand-over (%s): the container stays here and cannot be "
				    "started until %s says whether it took it (corrald asks again every few seconds)",
				    o->to, err->s, o->to);
			return -EHOSTUNREACH; /* the record stays: the reconciler settles it */
		}
		if (!took) {
			mig_rec_phase(o->uuid, "aborting");
			goto fail;
		}
		buf_reset(err); /* it did take it */
	}
	{
		__do_free char *d = xasprintf("migrated (offline) to %s", o->to);
		svc_vm_event(o->uuid, "migrate", d);
	}
	svc_ct_migrate_forget(o->uuid, o->name, o->to);
	mig_rec_drop(o->uuid);
	job_set_result(j, json_pack("{s:s, s:s, s:s, s:I}", "kind", "container", "container", o->name, "to", o->to,
				    "bytes", (json_int_t)atomic_load(&o->sent)));
	job_progress(j, 100, 0, 0);
	return 0;
fail:
	if (registered) {
		out_pump_wait(o, true);
		out_register(o, false);
	}
	ct_root_umount(o->def);
	{
		__do_free char *abort_path = xasprintf("/v1/migrations/ct/%s/abort", o->uuid);
		return mig_out_failed(o->peer, abort_path, prepared, o->uuid, "container", o->name, o->to, j, r, err);
	}
}

static int out_job(struct job *j, void *arg, struct buf *err)
{
	return mig_job_own(((struct outgoing *)arg)->uuid, out_job_run, j, arg, err);
}

/* nftw has no opaque argument: the bytes of one walk's files, per thread */
static __thread uint64_t walk_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)path, (void)flag, (void)f;
	walk_bytes += S_ISREG(st->st_mode) ? (uint64_t)st->st_size + 512 : 512;
	return 0;
}

int svc_ct_migrate(const char *key, const char *to, uint64_t bandwidth, json_t **job, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = NULL, *image = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct outgoing *o = NULL;
	char peer[128];
	int r;

	if ((r = mig_target_check(to, err)) < 0)
		return r;
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	if (svc_ha_protected(d->uuid)) {
		buf_printf(err, "container '%s' is HA-protected: the pool moves it (corral host maintenance HOST on); "
			   "to migrate it by hand, corral ha remove %s first", d->name, d->name);
		r = -EBUSY;
		goto fail;
	}
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' is running: stop it first (containers migrate stopped only)", d->name);
		r = -EBUSY;
		goto fail;
	}
	if (d->rootfs) {
		buf_printf(err, "container '%s' runs on a host directory (%s): only roots corral built migrate", d->name,
			   d->rootfs);
		r = -EINVAL;
		goto fail;
	}
	if (d->nmounts) {
		buf_printf(err, "container '%s' has mount points (volume '%s' at %s...): volumes stay on this host, so "
			   "remove its mounts ('ct edit --no-mounts') before migrating it", d->name, d->mounts[0].volume,
			   d->mounts[0].path);
		r = -EINVAL;
		goto fail;
	}
	if (mig_rec_unsettled(d->uuid, peer, sizeof(peer))) {
		buf_printf(err, "container '%s': an earlier migration to %s is not settled yet", d->name, peer);
		r = -EBUSY;
		goto fail;
	}
	o = xcalloc(1, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	snprintf(o->uuid, sizeof(o->uuid), "%s", d->uuid);
	snprintf(o->name, sizeof(o->name), "%s", d->name);
	snprintf(o->to, sizeof(o->to), "%s", to);
	o->bandwidth = bandwidth;
	dir = ct_rootdir_of(d);
	walk_bytes = 0;
	if ((image = ct_root_image_of(d))) {
		/* mounted by the job: what the file holds is at most what it takes */
		struct stat st;
		if (stat(image, &st) == 0)
			walk_bytes = (uint64_t)st.st_blocks * 512;
	} else {
		nftw(dir, add_size, 32, FTW_PHYS | FTW_MOUNT);
	}
	o->total = walk_bytes ? walk_bytes : 1;
	o->def = d;
	d = NULL;
	ct_record_release(&rec);
	{
		__do_free char *target = xasprintf("container %s to %s (offline)", o->name, o->to);
		struct job_spec spec = { .type = "ct-migrate", .target = target, .vm = o->uuid, .vm_name = o->name,
					 .run = out_job, .arg = o, .free_arg = outgoing_free };
		return job_start(&spec, job, err);
	}
fail:
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}
