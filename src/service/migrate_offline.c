/*
 * migrate_offline.c - offline migration (migrate_offline.h,
 * docs/migration.md "Offline"): a stopped VM's definition and disks move to
 * a trusted host.  The source's job and the destination's prepare, finish
 * and abort.  Disks in a pool shared by both hosts stay where they are (the
 * destination records them); other disks are copied with qemu-img convert
 * from here onto a qemu-nbd the destination runs on the new volume, over
 * TLS with a pre-shared key made for this migration and handed over inside
 * the authenticated prepare call (qemu/migrate.h mig_psk_*).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "service/migrate_offline.h"
#include "service/ha.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/migrate.h"
#include "qemu/runtime.h"
#include "service/internal.h"
#include "service/migrate_common.h"
#include "service/migrate_recover.h"
#include "service/network.h"
#include "service/peer.h"
#include "service/pool.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define OFF_MAX 16
#define OFF_MAX_DISKS 16
#define OFF_NBD_READY_MS 10000


/* <run_dir>/<uuid>/mig-offline: where qemu-nbd / qemu-img read keys.psk. */
static char *key_dir(const char *uuid) { return xasprintf("%s/%s/mig-offline", svc_cfg.run_dir, uuid); }

/* The key and its directory gone, and <run_dir>/<uuid> too when that is empty (a stopped VM has no run files). */
static void key_remove(const char *uuid)
{
	__do_free char *kdir = key_dir(uuid);
	__do_free char *vdir = xasprintf("%s/%s", svc_cfg.run_dir, uuid);

	mig_psk_remove(kdir);
	rmdir(vdir); /* fails harmlessly when not empty or absent */
}

static char *tls_object(const char *dir, bool server)
{
	return server ? xasprintf("tls-creds-psk,id=%s,dir=%s,endpoint=server", MIG_TLS_ID, dir)
		      : xasprintf("tls-creds-psk,id=%s,dir=%s,endpoint=client,username=%s", MIG_TLS_ID, dir,
				  MIG_PSK_USER);
}


/* true once something accepts TCP connections on addr:port. */
static bool port_open(const char *addr, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	char ps[16];
	bool ok;

	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &ai) != 0 || !ai)
		return false;
	__do_close int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ok = fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
	freeaddrinfo(ai);
	return ok;
}

/* ======================= destination side ======================= */

struct prepared {
	char uuid[37];
	char name[128];
	char source[128];
	int64_t since_ms;
	struct job_hold *hold;
	json_t *created;  /* volume names made here (deleted on abort) */
	json_t *recorded; /* shared volumes only recorded here */
	struct proc nbd[OFF_MAX_DISKS];
	int nnbd;
};

static pthread_mutex_t off_lock = PTHREAD_MUTEX_INITIALIZER;
static struct prepared *off_table[OFF_MAX];

static struct prepared *off_take(const char *uuid, int64_t older_than_ms)
{
	struct prepared *m = NULL;

	pthread_mutex_lock(&off_lock);
	for (int i = 0; i < OFF_MAX && !m; i++)
		if (off_table[i] && (!uuid || !strcmp(off_table[i]->uuid, uuid)) &&
		    (older_than_ms < 0 || off_table[i]->since_ms < older_than_ms)) {
			m = off_table[i];
			off_table[i] = NULL;
		}
	pthread_mutex_unlock(&off_lock);
	return m;
}

static int off_put(struct prepared *m, struct buf *err)
{
	int r = -EAGAIN;

	pthread_mutex_lock(&off_lock);
	for (int i = 0; i < OFF_MAX && r < 0; i++)
		if (!off_table[i]) {
			off_table[i] = m;
			r = 0;
		}
	pthread_mutex_unlock(&off_lock);
	if (r < 0)
		buf_printf(err, "%d incoming offline migrations are in progress already; try again later", OFF_MAX);
	return r;
}

/* Stop every qemu-nbd of m. */
static void off_nbd_stop(struct prepared *m)
{
	for (int i = 0; i < m->nnbd; i++) {
		proc_signal(&m->nbd[i], SIGTERM);
		if (proc_wait_timeout(&m->nbd[i], 3000) == -ETIMEDOUT) {
			proc_signal(&m->nbd[i], SIGKILL);
			proc_wait(&m->nbd[i]);
		}
		proc_release(&m->nbd[i]);
	}
	m->nnbd = 0;
}

static void off_free(struct prepared *m)
{
	if (!m)
		return;
	off_nbd_stop(m);
	job_release(m->hold);
	json_decref(m->created);
	json_decref(m->recorded);
	free(m);
}

/* The destination's durable record (migrate_recover.h, role "off-in"): what a restart must remove. */
static void off_record(const struct prepared *m)
{
	__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O}", "role", "off-in", "uuid", m->uuid,
					  "name", m->name, "peer", m->source, "phase", "prepared", "created",
					  m->created, "recorded", m->recorded);
	mig_rec_save(m->uuid, rec);
}

/* Remove everything prepare made: servers, key, definition, volumes, records. */
static void off_cleanup(struct prepared *m, const char *why)
{
	__do_buf struct buf e = BUF_INIT;
	size_t i;
	json_t *v;

	off_nbd_stop(m);
	key_remove(m->uuid);
	pthread_mutex_lock(&svc_defs_lock);
	store_vm_delete(svc_cfg.store, m->uuid);
	pthread_mutex_unlock(&svc_defs_lock);
	json_array_foreach(m->created, i, v) {
		buf_reset(&e);
		if (vol_delete(svc_cfg.store, json_string_value(v), &e) < 0)
			log_warn("offline migration of %s: volume %s: %s", m->name, json_string_value(v), e.s);
	}
	json_array_foreach(m->recorded, i, v)
		store_vol_delete(svc_cfg.store, json_string_value(v));
	rt_forget(m->uuid); /* the NVRAM vars a UEFI VM's request brought */
	mig_rec_drop(m->uuid);
	log_info("vm %s: offline migration from %s undone: %s", m->name, m->source, why);
}

void mig_off_in_recover(const json_t *rec)
{
	struct prepared m = { .created = json_deep_copy(json_object_get(rec, "created")),
			      .recorded = json_deep_copy(json_object_get(rec, "recorded")) };

	snprintf(m.uuid, sizeof(m.uuid), "%s", json_string_value(json_object_get(rec, "uuid")) ?: "");
	snprintf(m.name, sizeof(m.name), "%s", json_string_value(json_object_get(rec, "name")) ?: "");
	snprintf(m.source, sizeof(m.source), "%s", json_string_value(json_object_get(rec, "peer")) ?: "");
	if (!json_is_array(m.created))
		m.created = json_array();
	if (!json_is_array(m.recorded))
		m.recorded = json_array();
	/* its qemu-nbd servers died with corrald (helpers, swept at start); the source gets 404 and keeps the VM */
	off_cleanup(&m, "corrald stopped before the offline migration finished");
	json_decref(m.created);
	json_decref(m.recorded);
}


/* Serve volume vol (just created here) with qemu-nbd on addr; *port where. */
static int off_nbd_start(struct prepared *m, const char *vol, const char *addr, int *port, struct buf *err)
{
	__do_free char *kdir = key_dir(m->uuid);
	__do_free char *obj = tls_object(kdir, true);
	struct vol_record v = { 0 };
	struct cmd c = CMD_INIT;
	struct proc *p = &m->nbd[m->nnbd];
	int r;

	if (m->nnbd >= OFF_MAX_DISKS) {
		buf_printf(err, "more than %d disks to copy", OFF_MAX_DISKS);
		return -E2BIG;
	}
	if ((r = store_vol_get(svc_cfg.store, vol, &v)) < 0) {
		buf_printf(err, "volume %s vanished", vol);
		return r;
	}
	if ((r = mig_port_pick(addr, port, err)) < 0) {
		vol_record_release(&v);
		return r;
	}
	cmd_add(&c, "qemu-nbd");
	cmd_add(&c, "--persistent");
	cmd_add(&c, "--object");
	cmd_add(&c, obj);
	cmd_add(&c, "--tls-creds");
	cmd_add(&c, MIG_TLS_ID);
	cmd_add(&c, "--format");
	cmd_add(&c, v.format);
	cmd_add(&c, "--bind");
	cmd_add(&c, addr);
	cmd_addf(&c, "--port=%d", *port);
	cmd_add(&c, "--export-name");
	cmd_add(&c, vol);
	cmd_add(&c, "--");
	cmd_add(&c, v.path);
	c.helper = true;
	*p = (struct proc)PROC_INIT;
	r = cmd_start(&c, p, err);
	cmd_release(&c);
	vol_record_release(&v);
	if (r < 0)
		return r;
	m->nnbd++;
	for (int64_t end = time_mono_ms() + OFF_NBD_READY_MS; !port_open(addr, *port);) {
		if (proc_wait_timeout(p, 0) != -ETIMEDOUT || time_mono_ms() > end) {
			buf_printf(err, "qemu-nbd for volume %s did not start on %s", vol, mig_self_name());
			return -EIO;
		}
		time_sleep_ms(50);
	}
	return 0;
}

int svc_migrate_offline_prepare(const json_t *req, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "vm", "source", "address", "psk", "disks", "nvram", NULL };
	const json_t *disks = json_object_get(req, "disks");
	const char *addr = json_string_value(json_object_get(req, "address"));
	const char *psk = json_string_value(json_object_get(req, "psk"));
	const char *source = json_string_value(json_object_get(req, "source"));
	__do_free char *kdir = NULL;
	struct vm_def *d = NULL;
	struct prepared *m = NULL;
	json_t *ports = NULL;
	char existing[37];
	size_t i;
	json_t *dj;
	int r;

	if ((r = json_check_keys(req, "migration request", keys, err)) < 0)
		return r;
	if (!addr || !source || !json_is_array(disks) || !psk || !mig_psk_valid(psk)) {
		buf_adds(err, "the migration request needs vm, source, address, disks and a valid psk");
		return -EINVAL;
	}
	if (!(d = vmdef_from_json(json_object_get(req, "vm"), err)))
		return -EINVAL;
	m = xcalloc(1, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "%s", d->uuid);
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	snprintf(m->source, sizeof(m->source), "%s", source);
	m->since_ms = time_mono_ms();
	m->created = json_array();
	m->recorded = json_array();
	if (store_vm_lookup(svc_cfg.store, d->name, existing) == 0 || store_vm_lookup(svc_cfg.store, d->uuid, existing) == 0) {
		buf_printf(err, "a VM named '%s' (or with its uuid) exists on %s already", d->name, mig_self_name());
		r = -EEXIST;
		goto fail_early;
	}
	if ((r = mig_machine_check(d, err)) < 0 || (r = job_hold_vm(d->uuid, d->name, "migrate-in", &m->hold, err)) < 0)
		goto fail_early;
	off_record(m); /* before anything a restart would have to remove */
	json_array_foreach(disks, i, dj) {
		r = mig_disk_accept(dj, m->created, m->recorded, err);
		off_record(m);
		if (r < 0)
			goto fail;
	}
	if ((r = mig_nvram_accept(d, req, err)) < 0)
		goto fail;
	pthread_mutex_lock(&svc_defs_lock);
	r = store_vm_insert(svc_cfg.store, d);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0) {
		buf_printf(err, "cannot define VM %s on %s", d->name, mig_self_name());
		goto fail;
	}
	kdir = key_dir(m->uuid);
	if (json_array_size(m->created) && (r = mig_psk_write(kdir, psk, err)) < 0)
		goto fail;
	ports = json_array();
	json_array_foreach(m->created, i, dj) {
		int port = 0;
		if ((r = off_nbd_start(m, json_string_value(dj), addr, &port, err)) < 0)
			goto fail;
		json_array_append_new(ports, json_pack("{s:s, s:i}", "volume", json_string_value(dj), "port", port));
	}
	if ((r = off_put(m, err)) < 0)
		goto fail;
	svc_vm_event(d->uuid, "migrate", source);
	log_info("vm %s: incoming offline migration from %s, %zu disk%s to copy", d->name, source,
		 json_array_size(m->created), json_array_size(m->created) == 1 ? "" : "s");
	*out = json_pack("{s:o}", "disks", ports);
	vmdef_free(d);
	return 0;
fail:
	json_decref(ports);
	off_cleanup(m, err->s);
fail_early:
	off_free(m);
	vmdef_free(d);
	return r;
}

/* "prepared" (waiting for finish or abort), "finished" (the VM is defined here and ours), or -ENOENT. */
static int off_status(const char *uuid, json_t **out, struct buf *err)
{
	bool prepared = false;
	char found[37];

	pthread_mutex_lock(&off_lock);
	for (int i = 0; i < OFF_MAX && !prepared; i++)
		prepared = off_table[i] && !strcmp(off_table[i]->uuid, uuid);
	pthread_mutex_unlock(&off_lock);
	__do_json json_t *rec = mig_rec_load(uuid); /* a prepare under way has its record before its table entry */
	if (prepared || rec) {
		*out = json_pack("{s:s}", "state", "prepared");
		return 0;
	}
	if (store_vm_lookup(svc_cfg.store, uuid, found) == 0) {
		*out = json_pack("{s:s}", "state", "finished");
		return 0;
	}
	buf_adds(err, "no offline migration of this VM here");
	return -ENOENT;
}

int svc_migrate_offline_step(const char *uuid, const char *step, json_t **out, struct buf *err)
{
	bool finish = !strcmp(step, "finish");
	struct prepared *m;

	if (!strcmp(step, "status"))
		return off_status(uuid, out, err);
	if (!finish && strcmp(step, "abort") != 0) {
		buf_printf(err, "unknown step '%s': want finish, abort or status", step);
		return -EINVAL;
	}
	if (!(m = off_take(uuid, -1))) {
		buf_adds(err, "no incoming offline migration of this VM");
		return -ENOENT;
	}
	if (!finish) {
		off_cleanup(m, "migration aborted by the source");
		off_free(m);
		*out = json_pack("{s:b}", "aborted", 1);
		return 0;
	}
	__do_free char *d = xasprintf("migrated in (offline) from %s", m->source);
	off_nbd_stop(m);
	key_remove(uuid);
	mig_rec_drop(uuid); /* the VM is this host's now */
	svc_vm_event(uuid, "migrate", d);
	log_info("vm %s: %s", m->name, d);
	off_free(m);
	*out = json_pack("{s:s}", "state", "stopped");
	return 0;
}

void svc_migrate_offline_reap(bool all)
{
	int64_t before = all ? INT64_MAX : time_mono_ms() - (int64_t)MIG_OFFLINE_EXPIRE_S * 1000;
	struct prepared *m;

	while ((m = off_take(NULL, before))) {
		off_cleanup(m, all ? "corrald stops" : "the source never finished the offline migration");
		off_free(m);
	}
}

/* ======================= source side ======================= */

struct off_disk {
	char volume[128];
	bool copy;
	uint64_t capacity;
};

struct outgoing {
	char uuid[37];
	char name[128];
	char to[128];
	struct vm_def *def;
	struct off_disk disks[OFF_MAX_DISKS];
	int ndisks;
	struct peer *peer;
	struct job *job;
	uint64_t done, total; /* bytes of copied disks, for progress */
	uint64_t cur;	      /* capacity of the disk being copied */
	uint64_t bandwidth;   /* bytes/s of each copy, 0: unlimited */
};

static void outgoing_free(void *arg)
{
	struct outgoing *o = arg;

	if (!o)
		return;
	peer_close(o->peer);
	vmdef_free(o->def);
	free(o);
}

static json_t *out_request(struct outgoing *o, const char *psk, struct buf *err)
{
	json_t *disks = json_array();

	for (int i = 0; i < o->ndisks; i++) {
		uint64_t capacity;
		json_t *dj = mig_disk_describe(o->disks[i].volume, o->disks[i].copy, &capacity, err);
		if (!dj) {
			json_decref(disks);
			return NULL;
		}
		o->disks[i].capacity = capacity;
		if (o->disks[i].copy)
			o->total += capacity;
		json_array_append_new(disks, dj);
	}
	json_t *req = json_pack("{s:o, s:s, s:s, s:s, s:o}", "vm", vmdef_to_json(o->def), "source", mig_self_name(),
				"address", peer_address(o->peer), "psk", psk, "disks", disks);
	if (mig_nvram_add(o->def, req, err) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* qemu-img convert -p prints "    (12.34/100%)\r": progress; stop when the job is cancelled. */
static int out_copy_progress(const char *data, size_t len, void *opaque)
{
	struct outgoing *o = opaque;
	const char *p = NULL;

	for (size_t i = len; data && i > 0; i--)
		if (data[i - 1] == '(') {
			p = data + i;
			break;
		}
	if (p) {
		double pct = strtod(p, NULL);
		if (pct >= 0 && pct <= 100)
			job_progress_bytes(o->job, o->done + (uint64_t)((double)o->cur * pct / 100.0), o->total);
	}
	return job_cancelled(o->job) ? 1 : 0;
}

static int out_copy(struct outgoing *o, const struct off_disk *d, int port, const char *kdir, struct buf *err)
{
	__do_free char *obj = tls_object(kdir, false);
	__do_free char *target = NULL;
	struct vol_record v = { 0 };
	struct cmd c = CMD_INIT;
	int r;

	if ((r = store_vol_get(svc_cfg.store, d->volume, &v)) < 0) {
		buf_printf(err, "volume %s is gone", d->volume);
		return r;
	}
	target = xasprintf("driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s,tls-creds=%s",
			   peer_address(o->peer), port, d->volume, MIG_TLS_ID);
	cmd_add(&c, "qemu-img");
	cmd_add(&c, "convert");
	cmd_add(&c, "-p");
	cmd_add(&c, "-n");
	cmd_add(&c, "--target-is-zero");
	if (o->bandwidth)
		cmd_addf(&c, "-r%llu", (unsigned long long)o->bandwidth);
	cmd_add(&c, "--object");
	cmd_add(&c, obj);
	cmd_add(&c, "-f");
	cmd_add(&c, v.format);
	cmd_add(&c, "--target-image-opts");
	cmd_add(&c, "--");
	cmd_add(&c, v.path);
	cmd_add(&c, target);
	o->cur = d->capacity;
	job_set_phase(o->job, "copying disk %s to %s", d->volume, o->to);
	__do_buf struct buf e = BUF_INIT;
	r = cmd_run_stream(&c, out_copy_progress, o, &e);
	cmd_release(&c);
	vol_record_release(&v);
	if (r == -ECANCELED)
		return r;
	if (r != 0) {
		buf_printf(err, "copying disk %s to %s failed: %s", d->volume, o->to, e.len ? e.s : "qemu-img failed");
		return r < 0 ? r : -EIO;
	}
	o->done += d->capacity;
	job_progress_bytes(o->job, o->done, o->total);
	return 0;
}

/* POST to the destination; *status 0 when no answer came (it may have acted anyway). */
static int out_call(struct outgoing *o, const char *what, json_t *body, json_t **reply, long *status,
		    struct buf *err)
{
	__do_free char *path = what ? xasprintf("/v1/migrations/offline/%s/%s", o->uuid, what)
				    : xstrdup("/v1/migrations/offline");
	long st = 0;
	int r = peer_call(o->peer, "POST", path, body, reply, &st, err);

	if (status)
		*status = st;
	return r;
}

/* The source's durable record (migrate_recover.h, role "off-out"), before prepare is sent. */
static int out_record(const struct outgoing *o, struct buf *err)
{
	__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[]}", "role", "off-out", "uuid", o->uuid,
					  "name", o->name, "peer", o->to, "phase", "preparing", "disks");
	json_t *disks = json_object_get(rec, "disks");

	for (int i = 0; i < o->ndisks; i++)
		json_array_append_new(disks,
				      json_pack("{s:s, s:b}", "volume", o->disks[i].volume, "copy", o->disks[i].copy));
	return mig_rec_claim(o->uuid, rec, err);
}

/* The VM lives on the destination now: forget it here. */
static void out_forget(struct outgoing *o)
{
	__do_buf struct buf e = BUF_INIT;

	pthread_mutex_lock(&svc_defs_lock);
	store_vm_delete(svc_cfg.store, o->uuid);
	pthread_mutex_unlock(&svc_defs_lock);
	rt_forget(o->uuid);
	svc_net_hosts_refresh(o->def);
	svc_ha_moved(o->uuid, o->to); /* an HA VM's owner in the pool: the destination */
	for (int i = 0; i < o->ndisks; i++) {
		buf_reset(&e);
		if (!o->disks[i].copy)
			store_vol_delete(svc_cfg.store, o->disks[i].volume);
		else if (vol_delete(svc_cfg.store, o->disks[i].volume, &e) < 0)
			log_warn("vm %s: volume %s stays here: %s", o->name, o->disks[i].volume, e.s);
	}
	log_info("vm %s: migrated (offline) to %s", o->name, o->to);
}

static int out_job_run(struct job *j, void *arg, struct buf *err)
{
	struct outgoing *o = arg;
	char psk[MIG_PSK_HEX_LEN + 1] = "";
	__do_free char *kdir = key_dir(o->uuid);
	__do_json json_t *req = NULL, *reply = NULL;
	bool prepared = false;
	long status = 0;
	int r;

	o->job = j;
	job_set_phase(j, "preparing %s", o->to);
	if ((r = peer_open(o->to, &o->peer, err)) < 0)
		return r;
	if ((r = mig_psk_generate(psk, err)) < 0)
		return r;
	if (!(req = out_request(o, psk, err))) {
		explicit_bzero(psk, sizeof(psk));
		return -EIO;
	}
	if ((r = out_record(o, err)) < 0) { /* another migration's record is never touched */
		explicit_bzero(psk, sizeof(psk));
		return r;
	}
	r = out_call(o, NULL, req, &reply, &status, err);
	json_decref(req); /* holds the key */
	req = NULL;
	if (r < 0) {
		explicit_bzero(psk, sizeof(psk));
		prepared = status == 0; /* no answer: it may have prepared; abort it (now or later) */
		goto fail;
	}
	prepared = true;
	if (o->total && (r = mig_psk_write(kdir, psk, err)) < 0)
		goto fail;
	explicit_bzero(psk, sizeof(psk));
	job_progress_bytes(j, 0, o->total);
	for (int i = 0; i < o->ndisks; i++) {
		const json_t *dj;
		size_t k;
		int port = 0;
		if (!o->disks[i].copy)
			continue;
		json_array_foreach(json_object_get(reply, "disks"), k, dj)
			if (!strcmp(json_string_value(json_object_get(dj, "volume")) ?: "", o->disks[i].volume))
				port = (int)json_integer_value(json_object_get(dj, "port"));
		if (port <= 0 || port > 65535) {
			buf_printf(err, "%s did not say where to copy disk %s", o->to, o->disks[i].volume);
			r = -EPROTO;
			goto fail;
		}
		if (job_cancelled(j)) {
			r = -ECANCELED;
			goto fail;
		}
		if ((r = out_copy(o, &o->disks[i], port, kdir, err)) < 0)
			goto fail;
	}
	key_remove(o->uuid);
	job_set_uncancellable(j, "handing the VM over to the destination");
	job_set_phase(j, "handing %s over to %s", o->name, o->to);
	json_decref(reply);
	reply = NULL;
	mig_rec_phase(o->uuid, "finishing"); /* from now on the destination may own the VM */
	if ((r = out_call(o, "finish", NULL, &reply, &status, err)) < 0) {
		__do_free char *base = xasprintf("/v1/migrations/offline/%s", o->uuid);
		int took = mig_handover_taken(o->peer, base);
		if (took < 0) {
			mig_unknown(o->uuid, err,
				    "no answer from %s at the hand-over (%s): the VM stays here and cannot be started "
				    "until %s says whether it took it (corrald asks again every few seconds)",
				    o->to, err->s, o->to);
			return -EHOSTUNREACH; /* the record stays: the reconciler settles it */
		}
		if (!took) {
			mig_rec_phase(o->uuid, "aborting");
			prepared = true;
			goto fail;
		}
		buf_reset(err); /* it did take it */
	}
	{
		__do_free char *d = xasprintf("migrated (offline) to %s", o->to);
		svc_vm_event(o->uuid, "migrate", d);
	}
	out_forget(o);
	mig_rec_drop(o->uuid);
	job_set_result(j, json_pack("{s:s, s:s, s:I}", "kind", "offline", "to", o->to, "disk_bytes",
				    (json_int_t)o->total));
	job_progress(j, 100, 0, 0);
	return 0;
fail:
	explicit_bzero(psk, sizeof(psk));
	key_remove(o->uuid);
	{
		__do_free char *abort_path = xasprintf("/v1/migrations/offline/%s/abort", o->uuid);
		return mig_out_failed(o->peer, abort_path, prepared, o->uuid, "VM", o->name, o->to, j, r, err);
	}
}

static int out_job(struct job *j, void *arg, struct buf *err)
{
	return mig_job_own(((struct outgoing *)arg)->uuid, out_job_run, j, arg, err);
}

int svc_vm_migrate_offline(const char *uuid, const struct svc_migrate_opts *opt, json_t **job, struct buf *err)
{
	struct outgoing *o = xcalloc(1, sizeof(*o));
	struct vm_record rec = { 0 };
	int r;

	snprintf(o->uuid, sizeof(o->uuid), "%s", uuid);
	o->bandwidth = opt->bandwidth;
	if ((r = mig_target_check(opt->to, err)) < 0)
		goto fail;
	snprintf(o->to, sizeof(o->to), "%s", opt->to);
	if (opt->max_downtime_ms) {
		buf_adds(err, "max_downtime applies to live migration only, not with offline");
		r = -EINVAL;
		goto fail;
	}
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto fail;
	}
	snprintf(o->name, sizeof(o->name), "%s", rec.def->name);
	if (rec.invalid || rt_is_active(uuid) || (rec.state != VM_STOPPED && rec.state != VM_CRASHED)) {
		buf_printf(err, "%s: vm is %s; offline migration moves a stopped VM (live migration: without --offline)",
			   rec.def->name, vmstate_name(rec.state));
		r = -EBUSY;
		goto fail;
	}
	if ((r = mig_movable(rec.def, NULL, err)) < 0)
		goto fail;
	if (rec.def->ndisks > OFF_MAX_DISKS) {
		buf_printf(err, "%s has more than %d disks", rec.def->name, OFF_MAX_DISKS);
		r = -E2BIG;
		goto fail;
	}
	o->def = vmdef_dup(rec.def);
	for (int i = 0; i < rec.def->ndisks; i++) {
		struct off_disk *d = &o->disks[o->ndisks++];

		snprintf(d->volume, sizeof(d->volume), "%s", rec.def->disks[i].volume);
		if ((r = mig_disk_copied(d->volume, &d->copy, NULL, err)) < 0)
			goto fail;
	}
	vm_record_release(&rec);
	{
		__do_free char *target = xasprintf("%s to %s (offline)", o->name, o->to);
		struct job_spec spec = { .type = "migrate", .target = target, .vm = o->uuid, .vm_name = o->name,
					 .run = out_job, .arg = o, .free_arg = outgoing_free };
		return job_start(&spec, job, err);
	}
fail:
	vm_record_release(&rec);
	outgoing_free(o);
	return r;
}
