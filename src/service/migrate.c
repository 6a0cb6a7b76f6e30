/*
 * migrate.c - live migration between trusted hosts (migrate.h,
 * docs/migration.md): the source's job and the destination's prepare,
 * finish and abort.  The QEMU side of every step is qemu/migrate.h; the
 * other host is reached through service/peer.h.  libvirt's phases map as:
 * begin = svc_vm_migrate's checks, prepare = svc_migrate_prepare on the
 * destination, perform = the job's disk and RAM phases, finish =
 * svc_migrate_finish, confirm = the source stopping its QEMU (or resuming
 * it and calling svc_migrate_abort when anything failed).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "service/migrate.h"
#include "service/ha.h"
#include "service/migrate_common.h"
#include "service/migrate_recover.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/argv.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "qemu/cpumodel.h"
#include "service/internal.h"
#include "service/network.h"
#include "service/peer.h"
#include "service/pool.h"
#include "service/replicate.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MIG_POLL_MS 200
/* Of the guest's pause, what follows QEMU's downtime: device state loaded there, the switch, `cont`. */
#define MIG_SWITCH_ALLOWANCE_MS 100
/* No byte of disk or memory moved for this long: the link is gone or stalled
 * (TCP retransmits for minutes); roll back rather than wait (docs/migration.md). */
#define MIG_STALL_MS 30000
#define MIG_QMP_MS 10000
#define MIG_RESUME_MS 30000 /* a rolled-back guest's `cont` is tried for this long */
#define MIG_FINISH_WAIT_MS 20000 /* under the peer client's 30 s per call */
#define MIG_MIRROR_FINISH_MS 120000
#define MIG_MAX_INCOMING 16


/* <run_dir>/<uuid>/mig: where QEMU reads keys.psk. */
static char *psk_dir(const char *uuid) { return xasprintf("%s/%s/mig", svc_cfg.run_dir, uuid); }

/* Whether the running QEMU of uuid has the guest agent's chardev (qemu/argv.h);
 * true when that cannot be asked (the definition then stands). */
/*
 * Why a running guest emulated by TCG migrates quick (its memory moved with
 * the guest paused) unless tcg_live_migration is set: QEMU 7.2 under TCG
 * loses some of the guest's memory writes made while its memory is copied
 * (the dirty bitmap's fast sync path does not re-arm TCG's write tracking,
 * fixed in later QEMU).  Reproduced here with bare QEMU and no corral: a
 * guest writing in a loop, moved at 8 MiB/s with guest agent traffic,
 * oopsed on corrupt slab lists after 1 move in 10-30.  KVM tracks writes
 * itself and is not affected.
 */
#define MIG_TCG_QUICK_WHY \
	"the guest runs under TCG, where QEMU can lose guest memory writes made during a live copy; " \
	"its memory moved with it paused (corrald.conf tcg_live_migration)"

static bool running_under_tcg(const char *uuid)
{
	__do_json json_t *info = rt_info(uuid);
	const char *accel = json_string_value(json_object_get(info, "accel"));
	return accel && !strcmp(accel, "tcg");
}

static bool running_has_agent(const char *uuid)
{
	struct rt_ref *ref = NULL;
	json_t *ret = NULL, *c;
	size_t i;
	bool has = true;
	__do_buf struct buf err = BUF_INIT;
	struct qmp *q = rt_qmp_acquire(uuid, &ref, &err);
	if (!q)
		return true;
	if (qmp_execute(q, "query-chardev", NULL, &ret, MIG_QMP_MS, NULL) == 0 && json_is_array(ret)) {
		has = false;
		json_array_foreach(ret, i, c) {
			const char *label = json_string_value(json_object_get(c, "label"));
			if (label && strcmp(label, QEMU_AGENT_CHARDEV) == 0)
				has = true;
		}
	}
	json_decref(ret);
	rt_qmp_release(ref);
	return has;
}

/* The CPU a VM gets here: its definition's model, else "host" under KVM,
 * "max" under TCG (qemu/argv.c). */
static int cpu_model(const struct vm_def *d, const char **model, struct buf *err)
{
	enum accel_mode a;

	if (accel_resolve(svc_cfg.accel, d->accel, &a, err) < 0)
		return -ENOTSUP;
	*model = d->cpu ? d->cpu : a == ACCEL_KVM ? "host" : "max";
	return 0;
}

/* "model name" and "flags" of the first CPU in /proc/cpuinfo: what a host CPU model passes through. */
static char *cpu_signature(void)
{
	__do_buf struct buf info = BUF_INIT, out = BUF_INIT;

	if (fs_read_file("/proc/cpuinfo", 1 << 20, &info) < 0)
		return xstrdup("");
	for (const char *l = info.s; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len == 0)
			break; /* end of the first CPU */
		if (!strncmp(l, "model name", 10) || !strncmp(l, "flags", 5)) {
			buf_add(&out, l, len);
			buf_addch(&out, '\n');
		}
		l = nl ? nl + 1 : NULL;
	}
	return buf_detach(&out);
}


/* ======================= destination side ======================= */

struct incoming {
	char uuid[37];
	char name[128];
	char source[128];
	struct job_hold *hold;
	json_t *created;	/* volume names this host created (deleted on abort) */
	json_t *recorded;	/* shared volumes only recorded here (records dropped on abort) */
	json_t *replica;	/* this host's replica volumes of the VM, its disks here (kept on abort) */
	bool nbd;
	bool finishing;
	bool stays_paused;	/* paused on the source: not resumed here either */
};

static pthread_mutex_t in_lock = PTHREAD_MUTEX_INITIALIZER;
static struct incoming *in_table[MIG_MAX_INCOMING];

static struct incoming *in_take(const char *uuid)
{
	struct incoming *m = NULL;

	pthread_mutex_lock(&in_lock);
	for (int i = 0; i < MIG_MAX_INCOMING; i++)
		if (in_table[i] && !strcmp(in_table[i]->uuid, uuid)) {
			m = in_table[i];
			in_table[i] = NULL;
			break;
		}
	pthread_mutex_unlock(&in_lock);
	return m;
}

static int in_put(struct incoming *m, struct buf *err)
{
	int r = -EAGAIN;

	pthread_mutex_lock(&in_lock);
	for (int i = 0; i < MIG_MAX_INCOMING; i++)
		if (!in_table[i]) {
			in_table[i] = m;
			r = 0;
			break;
		}
	pthread_mutex_unlock(&in_lock);
	if (r < 0)
		buf_printf(err, "%d incoming migrations are in progress already; try again later", MIG_MAX_INCOMING);
	return r;
}

/* The destination's durable record of m (migrate_recover.h). */
static void in_record(const struct incoming *m, const char *phase)
{
	__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:O, s:O, s:O, s:b}", "role", "in", "uuid",
					  m->uuid, "name", m->name, "peer", m->source, "phase", phase, "created",
					  m->created, "recorded", m->recorded, "replica", m->replica, "nbd", m->nbd);

	mig_rec_save(m->uuid, rec);
}

static void in_free(struct incoming *m)
{
	if (!m)
		return;
	job_release(m->hold);
	json_decref(m->created);
	json_decref(m->recorded);
	json_decref(m->replica);
	free(m);
}

/* Remove everything prepare made for m: QEMU, the definition, volumes, the key. */
static void in_cleanup(struct incoming *m, const char *why)
{
	__do_free char *kdir = psk_dir(m->uuid);
	__do_buf struct buf e = BUF_INIT;
	size_t i;
	json_t *v;

	if (rt_is_active(m->uuid) && rt_kill_reason(m->uuid, why, &e) < 0)
		log_warn("vm %s: incoming migration: %s", m->name, e.s);
	mig_psk_remove(kdir);
	/* The definition and the rows of the shared volumes it named go in one
	 * transaction: nobody sees the VM gone and its volumes still listed. */
	struct store_batch *b = store_batch_new();
	store_batch_vm_delete(b, m->uuid, STORE_GEN_ANY);
	json_array_foreach(m->recorded, i, v)
		store_batch_vol_delete(b, json_string_value(v));
	pthread_mutex_lock(&svc_defs_lock);
	if (store_batch_commit(svc_cfg.store, b, &e) < 0) {
		/* not all there (prepare failed before it stored them): one by one */
		store_vm_delete(svc_cfg.store, m->uuid);
		json_array_foreach(m->recorded, i, v)
			store_vol_delete(svc_cfg.store, json_string_value(v));
	}
	pthread_mutex_unlock(&svc_defs_lock);
	store_batch_free(b);
	rt_forget(m->uuid);
	json_array_foreach(m->created, i, v) {
		buf_reset(&e);
		if (vol_delete(svc_cfg.store, json_string_value(v), &e) < 0)
			log_warn("incoming migration of %s: volume %s: %s", m->name, json_string_value(v), e.s);
	}
	mig_rec_drop(m->uuid);
	log_info("vm %s: incoming migration from %s undone: %s", m->name, m->source, why);
}


/* The QEMU part of prepare: key, capabilities, NBD exports, listening. */
static int in_qemu(struct incoming *m, const char *addr, const char *psk, bool tls, int *port, int *nbd_port,
		   struct buf *err)
{
	__do_free char *kdir = psk_dir(m->uuid);
	__do_json json_t *nodes = rt_disk_nodes(m->uuid);
	struct mig_params p = { .tls = tls };
	struct rt_ref *ref = NULL;
	struct qmp *q;
	int r;

	if ((r = mig_port_pick(addr, port, err)) < 0 || (m->nbd && (r = mig_port_pick(addr, nbd_port, err)) < 0))
		return r;
	if (tls && (r = mig_psk_write(kdir, psk, err)) < 0)
		return r;
	if (!(q = rt_qmp_acquire(m->uuid, &ref, err)))
		return -EIO;
	/* late-block-activate: the disks here stay inactive until finish's `cont`, so a source that takes
	 * the guest back (a failure, a recovery) never meets a second writer of a shared disk.  A guest
	 * that stays paused gets no `cont`: its images are activated when the memory has arrived (the
	 * source's are inactive from then on), else QEMU 7.2 aborts if it is ever migrated again. */
	if ((tls && (r = mig_tls_add(q, kdir, true, err)) < 0) ||
	    (r = mig_caps_set(q, true, !m->stays_paused, err)) < 0 ||
	    (r = mig_params_set(q, &p, err)) < 0)
		goto out;
	if (m->nbd) {
		size_t i;
		json_t *v;
		if ((r = mig_nbd_start(q, addr, *nbd_port, tls, err)) < 0)
			goto out;
		json_array_foreach(m->created, i, v) {
			const char *vol = json_string_value(v);
			const char *node = json_string_value(json_object_get(json_object_get(nodes, vol), "node"));
			if (!node) {
				buf_printf(err, "disk %s is not attached to the incoming VM", vol);
				r = -EIO;
				goto out;
			}
			if ((r = mig_nbd_export(q, node, vol, err)) < 0)
				goto out;
		}
	}
	r = mig_incoming_start(q, addr, *port, err);
out:
	rt_qmp_release(ref);
	return r;
}

/*
 * A disk of a switchover onto the replica (docs/migration.md "Onto its
 * replica"): the volume is this host's replica of the VM, held from the
 * source, and becomes the VM's disk here as it is: opened by the incoming
 * QEMU like a disk on shared storage (inactive until finish's `cont`, no
 * write lock meanwhile, so the replica's export still serves the source's
 * mirror), never created, never removed on abort.  held: the replica
 * volumes this host holds of the VM from its source
 * (svc_replica_switch_volumes, read once per prepare).
 */
static int in_replica_accept(struct incoming *m, const json_t *held, const json_t *dj, struct buf *err)
{
	const char *vol = json_string_value(json_object_get(dj, "volume"));

	if (!json_array_has_string(held, vol)) {
		buf_printf(err, "%s holds no replica of disk %s of %s", mig_self_name(), vol ? vol : "?", m->name);
		return -ENOENT;
	}
	json_array_append_new(m->replica, json_string(vol));
	in_record(m, "prepared");
	return 0;
}

/* Every replica volume held here is a disk the VM brings: none would be left orphaned. */
static int in_replica_complete(struct incoming *m, const json_t *held, struct buf *err)
{
	size_t i;
	json_t *v;

	json_array_foreach(held, i, v) {
		if (!json_array_has_string(m->replica, json_string_value(v))) {
			buf_printf(err, "the replica of %s on %s holds volume %s, which is not a disk of the VM moved",
				   m->name, mig_self_name(), json_string_value(v));
			return -EINVAL;
		}
	}
	return 0;
}

int svc_migrate_prepare(const json_t *req, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "vm", "source", "address", "psk", "disks", "cpu", "paused", "nvram", NULL };
	const json_t *disks = json_object_get(req, "disks");
	const char *addr = json_string_value(json_object_get(req, "address"));
	const char *psk = json_string_value(json_object_get(req, "psk"));
	const char *source = json_string_value(json_object_get(req, "source"));
	const json_t *cpu = json_object_get(req, "cpu");
	struct vm_def *d = NULL;
	struct incoming *m = NULL;
	__do_json json_t *held = NULL; /* replica volumes held here, read at the first replica disk */
	const char *model = NULL;
	char existing[37];
	int r, port = 0, nbd_port = 0;
	size_t i;
	json_t *dj;

	if ((r = json_check_keys(req, "migration request", keys, err)) < 0)
		return r;
	if (!addr || !source || !json_is_array(disks) || (psk && !mig_psk_valid(psk))) {
		buf_adds(err, "the migration request needs vm, source, address, disks and a valid psk");
		return -EINVAL;
	}
	if (!(d = vmdef_from_json(json_object_get(req, "vm"), err)))
		return -EINVAL;
	m = xcalloc(1, sizeof(*m));
	snprintf(m->uuid, sizeof(m->uuid), "%s", d->uuid);
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	snprintf(m->source, sizeof(m->source), "%s", source);
	m->created = json_array();
	m->recorded = json_array();
	m->replica = json_array();
	m->stays_paused = json_is_true(json_object_get(req, "paused"));
	if (store_vm_lookup(svc_cfg.store, d->name, existing) == 0 || store_vm_lookup(svc_cfg.store, d->uuid, existing) == 0) {
		buf_printf(err, "a VM named '%s' (or with its uuid) exists on %s already", d->name, mig_self_name());
		r = -EEXIST;
		goto fail_early;
	}
	if ((r = mig_machine_check(d, err)) < 0 || (r = cpu_model(d, &model, err)) < 0)
		goto fail_early;
	/* A named model is the same CPU wherever QEMU knows it: portable. */
	if (qemu_cpu_portable(model) && (r = svc_cpu_check(d, err)) < 0) {
		__do_free char *why = buf_detach(err);
		buf_printf(err, "%s cannot run the VM's CPU model: %s", mig_self_name(), why);
		r = -ENOTSUP;
		goto fail_early;
	}
	if (strcmp(model, json_string_value(json_object_get(cpu, "model")) ?: "") != 0) {
		buf_printf(err, "the VM's CPU is '%s' on %s but would be '%s' on %s (one host uses KVM, the other TCG)",
			   json_string_value(json_object_get(cpu, "model")) ?: "?", source, model, mig_self_name());
		r = -ENOTSUP;
		goto fail_early;
	}
	if (!strcmp(model, "host")) {
		__do_free char *sig = cpu_signature();
		if (strcmp(sig, json_string_value(json_object_get(cpu, "signature")) ?: "") != 0) {
			buf_printf(err, "the VM uses the 'host' CPU model (KVM) and %s's CPU differs from %s's: "
					"the guest would see its CPU change under it",
				   mig_self_name(), source);
			r = -ENOTSUP;
			goto fail_early;
		}
	}
	if ((r = job_hold_vm(d->uuid, d->name, "migrate-in", &m->hold, err)) < 0)
		goto fail_early;
	in_record(m, "prepared"); /* before anything a restart would have to remove */
	json_array_foreach(disks, i, dj) {
		if (json_is_true(json_object_get(dj, "replica"))) {
			if ((!held && (r = svc_replica_switch_volumes(m->uuid, m->source, &held, err)) < 0) ||
			    (r = in_replica_accept(m, held, dj, err)) < 0)
				goto fail;
			continue;
		}
		r = mig_disk_accept(dj, m->created, m->recorded, err);
		in_record(m, "prepared");
		if (r < 0)
			goto fail;
		m->nbd |= json_is_true(json_object_get(dj, "copy"));
	}
	if (held && (r = in_replica_complete(m, held, err)) < 0)
		goto fail;
	if ((r = mig_nvram_accept(d, req, err)) < 0)
		goto fail;
	pthread_mutex_lock(&svc_defs_lock);
	r = store_vm_insert(svc_cfg.store, d);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0) {
		buf_printf(err, "cannot define VM %s on %s", d->name, mig_self_name());
		goto fail;
	}
	if ((r = rt_start_incoming(d->uuid, err)) < 0 ||
	    (r = in_qemu(m, addr, psk, psk != NULL, &port, &nbd_port, err)) < 0 || (r = in_put(m, err)) < 0)
		goto fail;
	svc_vm_event(d->uuid, "migrate", source);
	log_info("vm %s: incoming migration from %s on %s port %d%s", d->name, source, addr, port,
		 m->nbd ? ", disks over NBD" : "");
	*out = json_pack("{s:i, s:i}", "port", port, "nbd_port", nbd_port);
	vmdef_free(d);
	return 0;
fail:
	in_cleanup(m, err->s);
fail_early:
	in_free(m);
	vmdef_free(d);
	return r;
}

/* The VM runs here on its former replica: the replica's record and key go, its volumes are the VM's. */
static void in_replica_taken(const struct incoming *m)
{
	__do_buf struct buf e = BUF_INIT;
	int r = svc_replica_takeover(m->uuid, &e);

	if (r < 0 && r != -ENOENT) {
		log_warn("vm %s: its replica's record stays: %s", m->name, e.s);
		return;
	}
	__do_free char *d =
		svc_ha_protected(m->uuid)
			? xasprintf("runs on its former replica here; it is not replicated until HA replicates it back "
				    "to %s, onto its old volumes there",
				    m->source)
			: xasprintf("runs on its former replica here; it is no longer replicated: 'corral vm "
				    "replicate %s --to %s --reuse' protects it again onto its old volumes on %s",
				    m->name, m->source, m->source);
	svc_vm_event(m->uuid, "replicate", d);
	log_info("vm %s: %s", m->name, d);
}

int svc_migrate_release(const char *uuid, struct buf *err)
{
	struct incoming *m = NULL;
	bool replica = false;

	pthread_mutex_lock(&in_lock);
	for (int i = 0; i < MIG_MAX_INCOMING; i++)
		if (in_table[i] && !strcmp(in_table[i]->uuid, uuid)) {
			m = in_table[i];
			replica = json_array_size(m->replica) > 0;
		}
	pthread_mutex_unlock(&in_lock);
	if (!m) {
		buf_adds(err, "no incoming migration of this VM");
		return -ENOENT;
	}
	if (!replica) {
		buf_adds(err, "the incoming migration of this VM does not move it onto its replica");
		return -EINVAL;
	}
	return svc_replica_release(uuid, err);
}

int svc_migrate_finish(const char *uuid, bool resume, json_t **out, struct buf *err)
{
	struct incoming *m = in_take(uuid);
	__do_free char *kdir = psk_dir(uuid);
	struct mig_progress p = { 0 };
	struct rt_ref *ref = NULL;
	struct qmp *q;
	int64_t end = time_mono_ms() + MIG_FINISH_WAIT_MS;
	int r;

	if (!m) {
		buf_adds(err, "no incoming migration of this VM");
		return -ENOENT;
	}
	in_record(m, "finishing");
	if (!(q = rt_qmp_acquire(uuid, &ref, err))) {
		r = -EIO;
		goto fail;
	}
	for (;;) {
		uint64_t seen = qmp_events_seen(q);
		if ((r = mig_query(q, &p, err)) < 0 || mig_progress_done(&p) || time_mono_ms() >= end)
			break;
		qmp_events_wait(q, seen, 50);
	}
	if (r == 0 && strcmp(p.status, "completed") != 0) {
		buf_printf(err, "the incoming migration on %s %s%s%s", mig_self_name(),
			   mig_progress_done(&p) ? p.status : "did not complete in time", p.error[0] ? ": " : "", p.error);
		r = -EIO;
	}
	if (r == 0 && m->nbd)
		r = mig_nbd_stop(q, err);
	/* onto the replica: its export is gone before the images here are activated (the source
	 * released it before the switch; again here, in case): never two writers */
	if (r == 0 && json_array_size(m->replica))
		r = svc_replica_release(uuid, err);
	if (r == 0 && resume) {
		__do_buf struct buf why = BUF_INIT;
		if ((r = qmp_execute(q, "cont", NULL, NULL, MIG_QMP_MS, &why)) < 0)
			buf_printf(err, "cannot resume the VM on %s: %s", mig_self_name(), why.s);
	} else if (r == 0) { /* it was paused on the source: it stays paused, and says why */
		__do_free char *why = xasprintf("paused, as it was on %s before the migration", m->source);
		r = rt_pause_reason(uuid, why, err);
	}
	if (r == 0)
		mig_tls_del(q); /* after `cont`: the guest waits for nothing it does not need */
	rt_qmp_release(ref);
	if (r < 0)
		goto fail;
	mig_psk_remove(kdir);
	{
		__do_free char *d = xasprintf("migrated in from %s", m->source);
		svc_vm_event(uuid, "migrate", d);
		log_info("vm %s: %s", m->name, d);
	}
	if (json_array_size(m->replica))
		in_replica_taken(m); /* before the record goes: a restart in between takes it over then */
	mig_rec_drop(uuid); /* the VM is this host's now */
	in_free(m);
	*out = json_pack("{s:s}", "state", resume ? "running" : "paused");
	return 0;
fail:
	in_cleanup(m, err->s);
	in_free(m);
	return r;
}

int svc_migrate_abort(const char *uuid, struct buf *err)
{
	struct incoming *m = in_take(uuid);

	if (!m) {
		__do_json json_t *rec = mig_rec_load(uuid);
		if (rec && !strcmp(json_string_value(json_object_get(rec, "phase")) ?: "", "finishing")) {
			buf_adds(err, "the VM is being resumed here (finish)");
			return -EBUSY;
		}
		buf_adds(err, "no incoming migration of this VM");
		return -ENOENT;
	}
	in_cleanup(m, "migration aborted by the source");
	in_free(m);
	return 0;
}

void svc_migrate_reap(void)
{
	for (int i = 0; i < MIG_MAX_INCOMING; i++) {
		struct incoming *m = NULL;
		pthread_mutex_lock(&in_lock);
		if (in_table[i] && !rt_is_active(in_table[i]->uuid)) {
			m = in_table[i];
			in_table[i] = NULL;
		}
		pthread_mutex_unlock(&in_lock);
		if (m) {
			in_cleanup(m, "the incoming QEMU exited before the migration finished");
			in_free(m);
		}
	}
}

/*
 * Where the incoming migration of uuid stands, for the source's reconciler:
 * "prepared" (paused here; it resumes only with finish), "finishing" (being
 * resumed now), "running" (the migration ended here: the VM is this host's).
 */
int svc_migrate_status(const char *uuid, json_t **out, struct buf *err)
{
	__do_json json_t *rec = mig_rec_load(uuid);
	char found[37];

	if (rec && !strcmp(json_string_value(json_object_get(rec, "role")) ?: "", "in")) {
		const char *ph = json_string_value(json_object_get(rec, "phase")) ?: "";
		*out = json_pack("{s:s}", "state", !strcmp(ph, "finishing") ? "finishing" : "prepared");
		return 0;
	}
	if (store_vm_lookup(svc_cfg.store, uuid, found) == 0) {
		*out = json_pack("{s:s}", "state", "running");
		return 0;
	}
	buf_adds(err, "no incoming migration of this VM");
	return -ENOENT;
}

void mig_in_adopt(const json_t *rec)
{
	struct incoming *m = xcalloc(1, sizeof(*m));
	__do_buf struct buf e = BUF_INIT;
	struct vm_record vr = { 0 };
	const char *s;

	snprintf(m->uuid, sizeof(m->uuid), "%s", (s = json_string_value(json_object_get(rec, "uuid"))) ? s : "");
	snprintf(m->name, sizeof(m->name), "%s", (s = json_string_value(json_object_get(rec, "name"))) ? s : "");
	snprintf(m->source, sizeof(m->source), "%s", (s = json_string_value(json_object_get(rec, "peer"))) ? s : "");
	m->created = json_deep_copy(json_object_get(rec, "created")) ?: json_array();
	m->recorded = json_deep_copy(json_object_get(rec, "recorded")) ?: json_array();
	m->replica = json_deep_copy(json_object_get(rec, "replica")) ?: json_array();
	m->nbd = json_is_true(json_object_get(rec, "nbd"));
	bool defined = store_vm_get(svc_cfg.store, m->uuid, &vr) == 0;
	bool running = defined && vr.state == VM_RUNNING;
	vm_record_release(&vr);
	if (running) {
		/* finish resumed it before corrald died: the VM is this host's */
		mig_rec_drop(m->uuid);
		log_info("vm %s: migrated in from %s (resumed before corrald stopped)", m->name, m->source);
		if (json_array_size(m->replica))
			in_replica_taken(m);
		in_free(m);
		return;
	}
	if (!defined || !rt_is_active(m->uuid)) {
		in_cleanup(m, "corrald stopped during the incoming migration and its QEMU is gone");
		in_free(m);
		return;
	}
	if (job_hold_vm(m->uuid, m->name, "migrate-in", &m->hold, &e) < 0 || in_put(m, &e) < 0) {
		log_warn("vm %s: cannot re-adopt the incoming migration: %s", m->name, e.s);
		in_cleanup(m, e.s);
		in_free(m);
		return;
	}
	in_record(m, "prepared");
	log_info("vm %s: incoming migration from %s re-adopted after a restart; it waits for %s to finish or abort",
		 m->name, m->source, m->source);
}

void svc_migrate_shutdown(void)
{
	mig_reconcile_stop();
	for (int i = 0; i < MIG_MAX_INCOMING; i++) {
		pthread_mutex_lock(&in_lock);
		struct incoming *m = in_table[i];
		in_table[i] = NULL;
		pthread_mutex_unlock(&in_lock);
		if (m) {
			in_cleanup(m, "corrald stopped during the incoming migration");
			in_free(m);
		}
	}
}

/* ======================= source side ======================= */

struct out_disk {
	char volume[128];
	char node[64];
	int slot;
	bool copy;
	bool replica;	/* its replica on the destination becomes the disk there (no copy) */
	bool started;
};

struct outgoing {
	svc_uuid uuid;
	char name[128];
	char to[128];
	struct mig_params params;
	bool with_local_disks;
	bool quick;		/* pause the guest before its memory moves (suspend, move, resume) */
	const char *quick_because; /* why a live migration was made quick (NULL: asked) */
	bool was_running;	/* the guest ran when the migration started (a recovery resumes it) */
	struct vm_def *def;
	struct out_disk disks[VM_MAX_DISKS];
	int ndisks, ncopy, nrepl;
	uint64_t disk_bytes;	/* what the disk copies moved */
	/* during the job */
	struct peer *peer;
	struct job *job;
	bool prepared;		/* the destination holds a prepared VM */
	bool tls_added;
	bool migrating;		/* `migrate` was issued */
	int64_t paused_at;	/* quick: when this host paused the guest (monotonic ms) */
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

/* The prepare request: the definition, where to listen, the key, the disks. */
static json_t *out_request(struct outgoing *o, const char *psk, struct buf *err)
{
	json_t *disks = json_array();
	const char *model;
	__do_free char *sig = cpu_signature();

	if (cpu_model(o->def, &model, err) < 0) {
		json_decref(disks);
		return NULL;
	}
	for (int i = 0; i < o->ndisks; i++) {
		json_t *dj = mig_disk_describe(o->disks[i].volume, o->disks[i].copy || o->disks[i].replica, NULL, err);
		if (!dj) {
			json_decref(disks);
			return NULL;
		}
		if (o->disks[i].replica)
			json_object_set_new(dj, "replica", json_true());
		json_array_append_new(disks, dj);
	}
	json_t *req = json_pack("{s:o, s:s, s:s, s:s, s:o, s:{s:s, s:s}, s:b}", "vm", vmdef_to_json(o->def), "source",
				mig_self_name(), "address", peer_address(o->peer), "psk", psk, "disks", disks, "cpu", "model",
				model, "signature", sig, "paused", !o->was_running);
	if (mig_nvram_add(o->def, req, err) < 0) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* Call the destination: prepare (what NULL) or ".../<uuid>/<what>". */
static int out_peer(struct outgoing *o, const char *method, const char *what, json_t *body, json_t **reply,
		    long *status, struct buf *err)
{
	__do_free char *path = what ? xasprintf("/v1/migrations/incoming/%s/%s", o->uuid, what)
				    : xstrdup("/v1/migrations/incoming");

	return peer_call(o->peer, method, path, body, reply, status, err);
}

/*
 * Follow the memory stream until QEMU's migration is over ("completed",
 * "failed", "cancelled") or, with hold, holds before its switch
 * ("pre-switchover": after migrate-continue it may still say so a moment), with
 * progress in the job.  A stream or disk copy that stalls, or a cancelled
 * job, cancels the migration (the loop then waits for QEMU to say so).
 */
static int out_wait_memory(struct outgoing *o, struct qmp *q, bool hold, struct mig_progress *p, struct buf *err)
{
	bool cancel_sent = false;
	uint64_t last_sent = 0;
	int64_t moved_at = time_mono_ms();
	int r;

	for (;;) {
		uint64_t seen = qmp_events_seen(q);
		if ((r = mig_query(q, p, err)) < 0)
			return r;
		if (mig_progress_done(p) || (hold && !cancel_sent && !strcmp(p->status, "pre-switchover")))
			return 0;
		if (p->ram_transferred != last_sent) {
			last_sent = p->ram_transferred;
			moved_at = time_mono_ms();
		} else if (!cancel_sent && time_mono_ms() - moved_at > MIG_STALL_MS) {
			buf_printf(err, "the memory stream to %s made no progress for %d s (is the link down?)", o->to,
				   MIG_STALL_MS / 1000);
			mig_cancel(q, NULL);
			cancel_sent = true;
		}
		double base = o->ncopy ? 50.0 : 0.0;
		double frac = p->ram_total ? 1.0 - (double)p->ram_remaining / (double)p->ram_total : 0;
		double rate = (double)p->mbps * 125000.0;
		job_progress(o->job, base + (100.0 - base) * frac * 0.99, rate,
			     rate > 0 ? (int64_t)((double)p->ram_remaining / rate) : -1);
		json_t *res = mig_progress_json(p);
		json_object_set_new(res, "phase", json_string("memory"));
		job_set_result(o->job, res);
		/* a disk mirror that breaks meanwhile makes the copy worthless */
		for (int i = 0; i < o->ndisks; i++) {
			struct mig_disk_progress dp;
			if (o->disks[i].started && mig_mirror_query(q, o->disks[i].slot, &dp, NULL) == 0 && dp.failed &&
			    !cancel_sent) {
				buf_printf(err, "copying disk %s to %s failed: %s", o->disks[i].volume, o->to, dp.error);
				mig_cancel(q, NULL);
				cancel_sent = true;
			}
		}
		if (job_cancelled(o->job) && !cancel_sent) {
			mig_cancel(q, NULL);
			cancel_sent = true;
		}
		/* the MIGRATION event ("completed", "pre-switchover") wakes us */
		qmp_events_wait(q, seen, MIG_POLL_MS);
	}
}

/*
 * Onto the replica, at the hold before the switch: the guest is paused and
 * every write it saw acknowledged is on the replica (write-blocking mirror,
 * writethrough export).  The mirrors end in sync, then the destination ends
 * the replica's export (its daemon held the images' write lock): only then
 * may QEMU switch, and the destination activate the images.
 */
static int out_replica_cut(struct outgoing *o, struct qmp *q, struct buf *err)
{
	int r;

	job_set_phase(o->job, "ending the replication onto %s", o->to);
	if ((r = svc_replicate_switch_cut(o->uuid, q, err)) < 0)
		return r;
	return out_peer(o, "POST", "release", NULL, NULL, NULL, err);
}

/* The job's body after prepare: disks, RAM, switch.  0: the guest runs on the destination. */
static int out_run_qemu(struct outgoing *o, struct qmp *q, int port, int nbd_port, const char *kdir, struct buf *err)
{
	struct mig_progress p = { 0 };
	uint64_t disk_total = 0, disk_done = 0, last_done = 0;
	int64_t moved_at = time_mono_ms();
	int r;

	if (o->params.tls) {
		if ((r = mig_tls_add(q, kdir, false, err)) < 0)
			return r;
		o->tls_added = true;
	}
	if (o->ncopy)
		job_set_phase(o->job, "copying %d disk%s to %s", o->ncopy, o->ncopy > 1 ? "s" : "", o->to);
	for (int i = 0; i < o->ndisks; i++) {
		if (!o->disks[i].copy)
			continue;
		if ((r = mig_mirror_start(q, o->disks[i].slot, o->disks[i].node, o->disks[i].volume, peer_address(o->peer),
					  nbd_port, o->params.tls, o->params.max_bandwidth, err)) < 0)
			return r;
		o->disks[i].started = true;
	}
	for (int ready = 0; o->ncopy && ready < o->ncopy;) {
		uint64_t seen = qmp_events_seen(q);
		ready = 0;
		disk_total = disk_done = 0;
		for (int i = 0; i < o->ndisks; i++) {
			struct mig_disk_progress dp;
			if (!o->disks[i].copy)
				continue;
			if ((r = mig_mirror_query(q, o->disks[i].slot, &dp, err)) < 0)
				return r;
			if (dp.failed) {
				buf_printf(err, "copying disk %s to %s failed: %s", o->disks[i].volume, o->to, dp.error);
				return -EIO;
			}
			ready += dp.ready;
			disk_total += dp.len;
			disk_done += dp.offset;
		}
		o->disk_bytes = disk_total;
		job_progress(o->job, disk_total ? 50.0 * (double)disk_done / (double)disk_total : 0, 0, -1);
		job_set_result(o->job, json_pack("{s:s, s:I, s:I}", "phase", "disks", "disk_total",
						 (json_int_t)disk_total, "disk_remaining",
						 (json_int_t)(disk_total - disk_done)));
		if (disk_done != last_done) {
			last_done = disk_done;
			moved_at = time_mono_ms();
		} else if (ready < o->ncopy && time_mono_ms() - moved_at > MIG_STALL_MS) {
			buf_printf(err, "copying the disks to %s made no progress for %d s (is the link down?)", o->to,
				   MIG_STALL_MS / 1000);
			return -ETIMEDOUT;
		}
		if (ready < o->ncopy) {
			/* a mirror's JOB_STATUS_CHANGE to "ready" wakes us: no poll period added */
			qmp_events_wait(q, seen, MIG_POLL_MS);
			if (job_cancelled(o->job))
				return -ECANCELED;
		}
	}
	if (o->quick && o->was_running) {
		/* Quick: the guest stops here and its memory moves in one pass, however busy it was. */
		__do_free char *why = xasprintf("paused for a quick migration to %s", o->to);
		if ((r = rt_pause_reason(o->uuid, why, err)) < 0)
			return r;
		o->paused_at = time_mono_ms();
	}
	job_set_phase(o->job, "migrating memory to %s", o->to);
	/* copied disks and replicas end at the hold before the switch, while the images are active here */
	if ((r = mig_caps_set(q, false, o->ncopy > 0 || o->nrepl > 0, err)) < 0 ||
	    (r = mig_params_set(q, &o->params, err)) < 0 || (r = mig_start(q, peer_address(o->peer), port, err)) < 0)
		return r;
	o->migrating = true;
	if ((r = out_wait_memory(o, q, true, &p, err)) < 0)
		return r;
	if (!strcmp(p.status, "pre-switchover")) {
		/* Paused, the images still active here: the disk copies end first (their
		 * last writes), then QEMU hands the images over (mig_caps_set). */
		job_set_phase(o->job, "finishing the disk copies to %s", o->to);
		for (int i = 0; i < o->ndisks; i++) {
			if (o->disks[i].copy && (r = mig_mirror_finish(q, o->disks[i].slot, MIG_MIRROR_FINISH_MS, err)) < 0)
				return r;
			o->disks[i].started = false;
		}
		if (o->nrepl && (r = out_replica_cut(o, q, err)) < 0)
			return r;
		if ((r = mig_continue(q, err)) < 0 || (r = out_wait_memory(o, q, false, &p, err)) < 0)
			return r;
	}
	if (strcmp(p.status, "completed") != 0) {
		if (!err->len)
			buf_printf(err, "the migration %s%s%s", p.status, p.error[0] ? ": " : "", p.error);
		return job_cancelled(o->job) ? -ECANCELED : -EIO;
	}
	/* The source is paused now ("postmigrate"), the destination has it all: the switch. */
	job_set_uncancellable(o->job, "switching over to the destination");
	job_set_phase(o->job, "switching over to %s", o->to);
	json_t *res = mig_progress_json(&p);
	json_object_set_new(res, "phase", json_string("switch"));
	json_object_set_new(res, "to", json_string(o->to));
	json_object_set_new(res, "kind", json_string(o->quick ? "quick" : "live"));
	if (o->quick_because)
		json_object_set_new(res, "quick_because", json_string(o->quick_because));
	json_object_set_new(res, "disk_bytes", json_integer((json_int_t)o->disk_bytes));
	if (o->nrepl) {
		__do_free char *how = xasprintf("switched over onto its replica on %s: no disk copied", o->to);
		const char *self = mig_self_name();
		__do_free char *next =
			svc_ha_protected(o->uuid)
				? xasprintf("ended: HA replicates %s back to %s, onto its old volumes there, once %s is "
					    "online and not in maintenance (docs/ha.md)",
					    o->name, self, self)
				: xasprintf("ended: %s is no longer replicated; 'corral vm replicate %s --to %s "
					    "--reuse' (on %s) protects it again onto its old volumes here",
					    o->name, o->name, self, o->to);
		json_object_set_new(res, "disks", json_string(how));
		json_object_set_new(res, "replication", json_string(next));
	}
	job_set_result(o->job, res);
	return 0;
}

/* The source's durable record (migrate_recover.h), phase "preparing" before prepare is sent. */
static int out_record(const struct outgoing *o, struct buf *err)
{
	__do_json json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:[]}", "role", "out", "uuid", o->uuid,
					  "name", o->name, "peer", o->to, "phase", "preparing", "was_running",
					  o->was_running, "disks");
	json_t *disks = json_object_get(rec, "disks");

	for (int i = 0; i < o->ndisks; i++)
		json_array_append_new(disks, json_pack("{s:s, s:b, s:b, s:i}", "volume", o->disks[i].volume, "copy",
						       o->disks[i].copy, "replica", o->disks[i].replica, "slot",
						       o->disks[i].slot));
	return mig_rec_claim(o->uuid, rec, err);
}

/*
 * A guest that ran before the migration runs again here: once QEMU's
 * migration has ended (a cancel takes a moment), `cont`, tried again for a
 * while when it fails (a disk still draining after a cut link); a guest it
 * cannot resume stays paused and says why.
 */
static void out_resume(struct outgoing *o, struct qmp *q)
{
	__do_buf struct buf why = BUF_INIT;
	int64_t end = time_mono_ms() + MIG_RESUME_MS;

	for (;;) {
		__do_json json_t *st = NULL;
		struct mig_progress p;
		const char *s;
		buf_reset(&why);
		if (mig_query(q, &p, NULL) == 0 && !mig_progress_done(&p) && strcmp(p.status, "none") != 0) {
			buf_printf(&why, "the migration is still %s", p.status);
		} else if (qmp_execute(q, "query-status", NULL, &st, MIG_QMP_MS, &why) == 0) {
			s = json_string_value(json_object_get(st, "status")) ?: "";
			if (!strcmp(s, "running"))
				return;
			if (strcmp(s, "postmigrate") && strcmp(s, "finish-migrate") && strcmp(s, "paused")) {
				log_warn("vm %s: not resumed after the failed migration: it is %s", o->name, s);
				return;
			}
			if (qmp_execute(q, "cont", NULL, NULL, MIG_QMP_MS, &why) == 0)
				return;
		}
		if (time_mono_ms() >= end)
			break;
		qmp_events_wait(q, qmp_events_seen(q), 500);
	}
	__do_free char *reason =
		xasprintf("the migration to %s failed and the guest could not be resumed (%s): 'vm resume' tries again",
			  o->to, why.len ? why.s : "no answer");
	log_warn("vm %s: %s", o->name, reason);
	__do_buf struct buf e = BUF_INIT;
	rt_pause_reason(o->uuid, reason, &e);
}

/*
 * Back on the source: no migration, no mirrors, no key; the guest runs (it
 * was never stopped for good).  The record stays (phase "aborting") while the
 * destination did not hear the abort, for the reconciler to tell it later.
 */
static void out_rollback(struct outgoing *o, const char *why)
{
	__do_buf struct buf qerr = BUF_INIT;
	struct rt_ref *ref = NULL;
	struct qmp *q = rt_qmp_acquire(o->uuid, &ref, &qerr); /* NULL when QEMU is gone (vm kill pre-empted us) */

	if (q) {
		if (o->migrating)
			mig_cancel(q, NULL);
		for (int i = 0; i < o->ndisks; i++)
			if (o->disks[i].copy)
				mig_mirror_abort(q, o->disks[i].slot, MIG_QMP_MS);
		if (o->tls_added)
			mig_tls_del(q);
		if (o->was_running)
			out_resume(o, q);
	}
	rt_qmp_release(ref);
	bool told = true;
	if (o->prepared) {
		__do_buf struct buf e = BUF_INIT;
		int r = out_peer(o, "POST", "abort", NULL, NULL, NULL, &e);
		if (r < 0 && r != -ENOENT) {
			log_warn("vm %s: cannot abort the incoming migration on %s: %s; asking again later", o->name,
				 o->to, e.s);
			told = false;
		}
		o->prepared = false;
	}
	if (told)
		mig_rec_drop(o->uuid);
	else
		mig_rec_phase(o->uuid, "aborting");
	if (o->nrepl) /* replication as it was (a new export there once it removed the VM) */
		svc_replicate_switch_undo(o->uuid, why);
	__do_free char *d = xasprintf("migration to %s failed, the VM stays here: %s", o->to, why);
	svc_vm_event(o->uuid, "migrate", d);
}

/* The guest runs on the destination: stop the paused QEMU here and forget the VM. */
static void out_forget(struct outgoing *o)
{
	__do_free char *reason = xasprintf("migrated to %s", o->to);
	__do_buf struct buf e = BUF_INIT;

	if (rt_kill_reason(o->uuid, reason, &e) < 0)
		log_warn("vm %s: stopping the migrated QEMU: %s", o->name, e.s);
	pthread_mutex_lock(&svc_defs_lock);
	store_vm_delete(svc_cfg.store, o->uuid);
	pthread_mutex_unlock(&svc_defs_lock);
	rt_forget(o->uuid);
	svc_net_hosts_refresh(o->def);
	if (!o->nrepl)
		svc_ha_moved(o->uuid, o->to); /* an HA VM's owner in the pool: the destination */
	else
		svc_replicate_switch_done(o->uuid, o->to);
	for (int i = 0; i < o->ndisks; i++) {
		buf_reset(&e);
		if (o->disks[i].replica) {
			mig_replica_left(o->uuid, o->name, o->disks[i].volume);
		} else if (o->disks[i].copy) {
			if (vol_delete(svc_cfg.store, o->disks[i].volume, &e) < 0)
				log_warn("vm %s: volume %s stays here: %s", o->name, o->disks[i].volume, e.s);
		} else {
			store_vol_delete(svc_cfg.store, o->disks[i].volume); /* the file is the destination's now */
		}
	}
	if (o->nrepl) /* once its old volumes here are marked stale: the new owner replicates it back onto them */
		svc_ha_moved_onto_replica(o->uuid, o->to, mig_self_name());
	log_info("vm %s: %s", o->name, reason);
}

/*
 * The result's times, once the guest runs there: QEMU 7.2 reports
 * "completed" a moment before it fills in total-time and downtime (a waker on
 * the MIGRATION event may read zeros), so the paused source QEMU is asked
 * again before it is stopped.  Quick: how long the guest stood still, from
 * the pause here to the destination's answer that it runs.
 */
static void out_final_stats(struct outgoing *o)
{
	__do_json json_t *jj = job_get(job_id(o->job));
	json_t *res = json_deep_copy(json_object_get(jj, "result")) ?: json_object();
	__do_buf struct buf e = BUF_INIT;
	struct rt_ref *ref = NULL;
	struct qmp *q = rt_qmp_acquire(o->uuid, &ref, &e);
	struct mig_progress p = { 0 };

	if (o->paused_at)
		json_object_set_new(res, "paused_ms", json_integer((json_int_t)(time_mono_ms() - o->paused_at)));
	if (q && mig_query(q, &p, &e) == 0 && !strcmp(p.status, "completed") && p.total_time_ms > 0) {
		json_object_set_new(res, "total_time_ms", json_integer((json_int_t)p.total_time_ms));
		json_object_set_new(res, "downtime_ms", json_integer((json_int_t)p.downtime_ms));
	}
	rt_qmp_release(ref);
	job_set_result(o->job, res);
}

enum switch_outcome { SW_THERE, SW_HERE, SW_UNKNOWN };

/*
 * The destination answered finish with an error, yet it may run the VM: a
 * finish it carried out, its answer lost, then sent again (peer.h).  Ask
 * where it stands: running there, the source lets go (SW_THERE); prepared
 * there (still to abort) or gone there (it undid it), the source takes the
 * guest back (SW_HERE); anything else leaves it to the reconciler.
 */
static enum switch_outcome out_switch_check(struct outgoing *o, struct buf *err)
{
	__do_json json_t *reply = NULL;
	__do_buf struct buf e = BUF_INIT;
	long status = 0;
	int r = out_peer(o, "POST", "status", NULL, &reply, &status, &e);
	const char *st = json_string_value(json_object_get(reply, "state")) ?: "";

	if (r == 0 && !strcmp(st, "running"))
		return SW_THERE;
	if (r == -ENOENT || (r == 0 && !strcmp(st, "prepared"))) {
		o->prepared = r == 0;
		return SW_HERE;
	}
	buf_printf(err, "; %s then said: %s", o->to, r < 0 ? e.s : st);
	return SW_UNKNOWN;
}

static int out_job_run(struct job *j, void *arg, struct buf *err)
{
	struct outgoing *o = arg;
	char psk[MIG_PSK_HEX_LEN + 1] = "";
	__do_free char *kdir = psk_dir(o->uuid);
	__do_json json_t *req = NULL, *reply = NULL, *fin = NULL;
	struct rt_ref *ref = NULL;
	struct qmp *q = NULL;
	long status = 0;
	int r, port, nbd_port;

	o->job = j;
	job_set_phase(j, "preparing %s", o->to);
	if ((r = peer_open(o->to, &o->peer, err)) < 0)
		return r;
	if ((r = mig_psk_generate(psk, err)) < 0 || !(req = out_request(o, psk, err)))
		return r < 0 ? r : -EIO;
	if (!o->params.tls)
		json_object_del(req, "psk");
	if ((r = out_record(o, err)) < 0) /* another migration's record is never touched */
		return r;
	if (o->nrepl && (r = svc_replicate_switch_begin(o->uuid, o->name, o->to, err)) < 0) {
		mig_rec_drop(o->uuid);
		return r;
	}
	if ((r = out_peer(o, "POST", NULL, req, &reply, &status, err)) < 0) {
		explicit_bzero(psk, sizeof(psk));
		if (status == 0) {
			o->prepared = true; /* no answer: it may have prepared; abort it (now or later) */
			goto fail;
		}
		mig_rec_drop(o->uuid);
		if (o->nrepl)
			svc_replicate_switch_undo(o->uuid, err->s);
		return r;
	}
	o->prepared = true;
	port = (int)json_integer_value(json_object_get(reply, "port"));
	nbd_port = (int)json_integer_value(json_object_get(reply, "nbd_port"));
	if (o->params.tls && (r = mig_psk_write(kdir, psk, err)) < 0)
		goto fail;
	explicit_bzero(psk, sizeof(psk));
	if (!(q = rt_qmp_acquire(o->uuid, &ref, err))) {
		r = -EIO;
		goto fail;
	}
	if (job_cancelled(j)) {
		r = -ECANCELED;
		goto fail;
	}
	if ((r = out_run_qemu(o, q, port, nbd_port, kdir, err)) < 0)
		goto fail;
	rt_qmp_release(ref);
	ref = NULL;
	mig_psk_remove(kdir);

	/* The switch: the destination resumes; only then does this host let go. */
	json_decref(reply);
	reply = NULL;
	status = 0;
	mig_rec_phase(o->uuid, "switching"); /* from now on the destination may be running it */
	fin = json_pack("{s:b}", "resume", o->was_running);
	if ((r = out_peer(o, "POST", "finish", fin, &reply, &status, err)) < 0) {
		enum switch_outcome sw = status ? out_switch_check(o, err) : SW_UNKNOWN;
		if (sw == SW_UNKNOWN) {
			/* No answer: the guest may run there.  Never resume here on a guess. */
			mig_unknown(o->uuid, err,
				    "migration to %s: no clear answer at the switch (%s); the VM stays paused here "
				    "until %s says whether it runs there (corrald asks again every few seconds)",
				    o->to, err->s, o->to);
			o->prepared = false;
			return -EHOSTUNREACH;
		}
		if (sw == SW_HERE) {
			mig_rec_phase(o->uuid, "preparing");
			goto fail;
		}
		log_info("vm %s: %s runs it although finish answered: %s", o->name, o->to, err->s);
		buf_reset(err);
		r = 0;
	}
	o->prepared = false;
	out_final_stats(o);
	out_forget(o);
	mig_rec_drop(o->uuid);
	job_progress(j, 100, 0, 0);
	return 0;
fail:
	rt_qmp_release(ref);
	explicit_bzero(psk, sizeof(psk));
	out_rollback(o, err->len ? err->s : "failed");
	mig_psk_remove(kdir);
	if (job_cancelled(j)) {
		buf_reset(err);
		buf_printf(err, "migration of %s to %s cancelled; it runs here", o->name, o->to);
		return -ECANCELED;
	}
	return r;
}

static int out_job(struct job *j, void *arg, struct buf *err)
{
	return mig_job_own(((struct outgoing *)arg)->uuid, out_job_run, j, arg, err);
}

/*
 * QEMU's downtime-limit for a guest that may stand still `asked` ms (0: the
 * default).  --max-downtime is the pause as the guest sees it: QEMU's last
 * pass, then the destination loading the device state, corral's switch call
 * and `cont`, which took 10-130 ms beyond QEMU's downtime in bench/migrate
 * (bare QEMU's own pause overshoots its limit as much).  QEMU gets what is
 * left after MIG_SWITCH_ALLOWANCE_MS (half of a smaller ask).
 */
static int64_t qemu_downtime_for(int64_t asked)
{
	if (asked <= 0)
		asked = MIG_DEFAULT_DOWNTIME_MS;
	return asked > 2 * MIG_SWITCH_ALLOWANCE_MS ? asked - MIG_SWITCH_ALLOWANCE_MS : (asked + 1) / 2;
}

/*
 * A VM replicated to o->to moves onto its replica: *replicas the replicated
 * volumes (NULL: not replicated, an ordinary migration).  mig_movable
 * checked the replication (to o->to, in sync).  An HA-protected VM too:
 * the switchover removes the pool's replica row before anything moves
 * (svc_replicate_switch_begin), so HA never restarts it on a copy the move
 * makes stale; once it runs there its owner follows and replicates it back
 * (svc_ha_moved_onto_replica).
 */
static int out_replica_plan(struct outgoing *o, const struct vm_def *d, json_t **replicas, struct buf *err)
{
	if (!svc_vm_replicated(o->uuid))
		return 0;
	return svc_replicate_switch_check(o->uuid, d->name, o->to, replicas, err);
}

int svc_vm_migrate(const char *uuid, const struct svc_migrate_opts *opt, json_t **job, struct buf *err)
{
	struct outgoing *o = xcalloc(1, sizeof(*o));
	struct vm_record rec = { 0 };
	__do_json json_t *nodes = NULL, *replicas = NULL;
	int r;

	snprintf(o->uuid, sizeof(o->uuid), "%s", uuid);
	o->with_local_disks = opt->with_local_disks;
	o->quick = opt->quick;
	o->params = (struct mig_params){ .max_bandwidth = opt->bandwidth,
					 .downtime_ms = qemu_downtime_for(opt->max_downtime_ms), .tls = true };
	if (opt->max_downtime_ms < 0 || opt->max_downtime_ms > 60000) {
		buf_adds(err, "max_downtime must be between 1 and 60000 ms");
		r = -EINVAL;
		goto fail;
	}
	if ((r = mig_target_check(opt->to, err)) < 0)
		goto fail;
	snprintf(o->to, sizeof(o->to), "%s", opt->to);
	if ((r = store_vm_get(svc_cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		goto fail;
	}
	snprintf(o->name, sizeof(o->name), "%s", rec.def->name);
	o->was_running = rec.state == VM_RUNNING;
	if (!o->quick && o->was_running && !svc_cfg.tcg_live_migration && running_under_tcg(uuid)) {
		if (opt->max_downtime_ms) {
			buf_printf(err, "%s runs under TCG: its memory moves with the guest paused, so --max-downtime "
					"cannot be met; leave it out, or set tcg_live_migration in corrald.conf "
					"(docs/migration.md)", rec.def->name);
			r = -EINVAL;
			goto fail;
		}
		o->quick = true;
		o->quick_because = MIG_TCG_QUICK_WHY;
		log_info("vm %s: migrating quick: %s", rec.def->name, MIG_TCG_QUICK_WHY);
	}
	if (rec.invalid || !rt_is_active(uuid) || (rec.state != VM_RUNNING && rec.state != VM_PAUSED)) {
		buf_printf(err, "%s: vm is %s; live migration moves a running VM", rec.def->name,
			   vmstate_name(rec.state));
		r = -EBUSY;
		goto fail;
	}
	if ((r = mig_movable(rec.def, o->to, err)) < 0 || (r = out_replica_plan(o, rec.def, &replicas, err)) < 0)
		goto fail;
	o->def = vmdef_dup(rec.def);
	/* The destination builds QEMU from this definition: it must describe the
	 * hardware the guest has now.  A VM started before its definition had the
	 * guest agent channel (an older corral) migrates without it. */
	if (o->def->agent && !running_has_agent(uuid)) {
		o->def->agent = false;
		log_info("vm %s: its QEMU has no guest agent channel; migrating it without one", o->name);
	}
	nodes = rt_disk_nodes(uuid);
	for (int i = 0; i < rec.def->ndisks; i++) {
		struct out_disk *d = &o->disks[o->ndisks++];
		const char *node = json_string_value(json_object_get(json_object_get(nodes, rec.def->disks[i].volume), "node"));
		const char *dev = json_string_value(json_object_get(json_object_get(nodes, rec.def->disks[i].volume), "device"));

		snprintf(d->volume, sizeof(d->volume), "%s", rec.def->disks[i].volume);
		snprintf(d->node, sizeof(d->node), "%s", node ? node : "");
		d->slot = dev && !strncmp(dev, "disk", 4) ? atoi(dev + 4) : i;
		__do_free char *pool = NULL;
		if ((r = mig_disk_copied(d->volume, &d->copy, &pool, err)) < 0)
			goto fail;
		if (d->copy && replicas) {
			/* onto the replica: every local disk is there already */
			d->replica = json_array_has_string(replicas, d->volume);
			if (!d->replica) {
				buf_printf(err, "disk %s of %s is not replicated to %s; stop the replication "
						"('corral vm replicate %s --stop') and migrate with --with-local-disks",
					   d->volume, rec.def->name, o->to, rec.def->name);
				r = -EINVAL;
				goto fail;
			}
			d->copy = false;
			o->nrepl++;
		}
		if (d->copy && !opt->with_local_disks) {
			buf_printf(err, "disk %s of %s is in pool '%s', which is not shared; use --with-local-disks to copy it",
				   d->volume, rec.def->name, pool);
			r = -EINVAL;
			goto fail;
		}
		if (d->copy && !node) {
			buf_printf(err, "disk %s is not attached to the running VM", d->volume);
			r = -EIO;
			goto fail;
		}
		o->ncopy += d->copy;
	}
	vm_record_release(&rec);
	{
		__do_free char *target = xasprintf("%s to %s", o->name, o->to);
		struct job_spec spec = { .type = "migrate", .target = target, .vm = o->uuid, .vm_name = o->name,
					 .run = out_job, .arg = o, .free_arg = outgoing_free };
		return job_start(&spec, job, err);
	}
fail:
	vm_record_release(&rec);
	outgoing_free(o);
	return r;
}
