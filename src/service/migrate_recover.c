/*
 * migrate_recover.c - live migration after a kill -9 of either corrald or a
 * cut link (migrate_recover.h): the durable records both sides keep, their
 * adoption at start, and the source's reconciler.  The rule is libvirt's
 * (qemuMigrationSrc/Dst recovery after a daemon restart) and Proxmox's: the
 * destination resumes only when the source's finish call asks it to, so
 * until the source recorded "switching" the source may take the guest back
 * on its own and only has to tell the destination to clean up; after that
 * the destination decides: a guest running there wins and the source drops
 * its paused copy, a guest still paused there is aborted and the source
 * resumes; no answer keeps the source paused, with the reason, and asks
 * again every MIG_RECONCILE_S.  Never two running copies, never a disk
 * written from two hosts.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "service/migrate_recover.h"
#include "service/ct.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "qemu/runtime.h"
#include "service/ha.h"
#include "service/internal.h"
#include "service/migrate_offline.h"
#include "service/migrate_common.h"
#include "service/network.h"
#include "service/replicate.h"
#include "service/peer.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MIG_RECONCILE_S 2
#define MIG_REC_QMP_MS 10000
#define MIG_REC_MAX_ACTIVE 64

/* ---------------- records ---------------- */

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;

static char *rec_dir(void) { return xasprintf("%s/migrations", svc_cfg.state_dir); }

static char *rec_path(const char *uuid) { return xasprintf("%s/migrations/%s.json", svc_cfg.state_dir, uuid); }

/* Under rec_lock: write rec to path (its directory made first). */
static int rec_write_locked(const char *path, const json_t *rec)
{
	__do_free char *dir = rec_dir(), *s = json_dumps(rec, JSON_COMPACT);
	int r = fs_mkdir_p(dir, 0700);
	return r < 0 ? r : fs_write_file_atomic(path, s, strlen(s), 0600);
}

/* Under rec_lock: the record in path (an object), or NULL. */
static json_t *rec_read_locked(const char *path)
{
	__do_buf struct buf b = BUF_INIT;
	json_t *j = fs_read_file(path, 1 << 20, &b) == 0 ? json_loads(b.s, 0, NULL) : NULL;
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int mig_rec_save(const char *uuid, const json_t *rec)
{
	__do_free char *path = rec_path(uuid);
	int r;

	pthread_mutex_lock(&rec_lock);
	r = rec_write_locked(path, rec);
	pthread_mutex_unlock(&rec_lock);
	if (r < 0)
		log_warn("migration of %s: cannot record its state in %s: %s", uuid, path, strerror(-r));
	return r;
}

int mig_rec_claim(const char *uuid, const json_t *rec, struct buf *err)
{
	__do_free char *path = rec_path(uuid);
	int r;

	pthread_mutex_lock(&rec_lock);
	__do_json json_t *o = rec_read_locked(path);
	if (o || fs_exists(path) > 0) { /* one it cannot read is never replaced either */
		const char *role = json_string_value(json_object_get(o, "role")) ?: "?";
		buf_printf(err,
			   "%s: a %s migration %s %s is still %s (phase %s; after a corrald restart or a lost link "
			   "it is settled within seconds); try again once it is",
			   json_string_value(json_object_get(rec, "name")) ?: uuid,
			   strstr(role, "off") ? "offline" : !strncmp(role, "ct", 2) ? "container" : "live",
			   strstr(role, "in") ? "from" : "to", json_string_value(json_object_get(o, "peer")) ?: "?",
			   strstr(role, "in") ? "coming in" : "being settled",
			   json_string_value(json_object_get(o, "phase")) ?: "?");
		r = -EBUSY;
	} else if ((r = rec_write_locked(path, rec)) < 0) {
		buf_printf(err, "cannot record the migration's state in %s: %s", path, strerror(-r));
	}
	pthread_mutex_unlock(&rec_lock);
	return r;
}

json_t *mig_rec_load(const char *uuid)
{
	__do_free char *path = rec_path(uuid);

	pthread_mutex_lock(&rec_lock);
	json_t *j = rec_read_locked(path);
	pthread_mutex_unlock(&rec_lock);
	return j;
}

void mig_rec_drop(const char *uuid)
{
	__do_free char *path = rec_path(uuid);

	pthread_mutex_lock(&rec_lock);
	if (unlink(path) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", path, strerror(errno));
	pthread_mutex_unlock(&rec_lock);
}

void mig_rec_phase(const char *uuid, const char *phase)
{
	__do_json json_t *rec = mig_rec_load(uuid);

	if (!rec)
		return;
	json_object_set_new(rec, "phase", json_string(phase));
	mig_rec_save(uuid, rec);
}

/* Does the migration of rec move the VM onto its replica (migrate.c)? */
static bool rec_onto_replica(const json_t *rec)
{
	const json_t *dj;
	size_t i;

	json_array_foreach(json_object_get(rec, "disks"), i, dj)
		if (json_is_true(json_object_get(dj, "replica")))
			return true;
	return false;
}

/* Every record, as a JSON array (empty when none). */
static json_t *rec_all(void)
{
	__do_free char *dir = rec_dir();
	json_t *all = json_array();
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return all;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n != 36 + 5 || strcmp(de->d_name + 36, ".json") != 0)
			continue;
		char uuid[37];
		snprintf(uuid, sizeof(uuid), "%.36s", de->d_name);
		json_t *rec = mig_rec_load(uuid);
		if (rec)
			json_array_append_new(all, rec);
	}
	closedir(d);
	return all;
}

/* ---------------- source jobs alive ---------------- */

static char active[MIG_REC_MAX_ACTIVE][37];

static void mig_job_begin(const char *uuid)
{
	pthread_mutex_lock(&rec_lock);
	for (int i = 0; i < MIG_REC_MAX_ACTIVE; i++)
		if (!active[i][0]) {
			snprintf(active[i], sizeof(active[i]), "%s", uuid);
			break;
		}
	pthread_mutex_unlock(&rec_lock);
}

static void mig_job_end(const char *uuid)
{
	pthread_mutex_lock(&rec_lock);
	for (int i = 0; i < MIG_REC_MAX_ACTIVE; i++)
		if (!strcmp(active[i], uuid))
			active[i][0] = 0;
	pthread_mutex_unlock(&rec_lock);
}

int mig_job_own(const char *uuid, int (*run)(struct job *, void *, struct buf *), struct job *j, void *arg,
		struct buf *err)
{
	mig_job_begin(uuid);
	int r = run(j, arg, err);
	mig_job_end(uuid); /* a record left (no answer, abort not heard) is the reconciler's now */
	return r;
}

static bool job_alive(const char *uuid)
{
	bool found = false;

	pthread_mutex_lock(&rec_lock);
	for (int i = 0; i < MIG_REC_MAX_ACTIVE && !found; i++)
		found = !strcmp(active[i], uuid);
	pthread_mutex_unlock(&rec_lock);
	return found;
}

/* ---------------- the source's reconciler ---------------- */

static const char *rstr(const json_t *rec, const char *key)
{
	return json_string_value(json_object_get(rec, key)) ?: "";
}

/*
 * Take the guest back here: no migration, no mirrors, no key, and a guest
 * QEMU paused for the migration resumed.  Only when the destination cannot
 * be running it (it never got finish, or said it is not running it).
 */
static int src_take_back(const json_t *rec)
{
	int r = 0;
	const char *uuid = rstr(rec, "uuid");
	__do_free char *kdir = xasprintf("%s/%s/mig", svc_cfg.run_dir, uuid);
	__do_buf struct buf e = BUF_INIT;
	struct rt_ref *ref = NULL;
	struct qmp *q = rt_is_active(uuid) ? rt_qmp_acquire(uuid, &ref, &e) : NULL;
	const json_t *disks = json_object_get(rec, "disks");
	const json_t *dj;
	size_t i;

	if (q) {
		__do_json json_t *st = NULL;
		struct mig_progress p = { 0 };
		int64_t end = time_mono_ms() + MIG_REC_QMP_MS;
		const char *s;

		mig_cancel(q, NULL);
		while (mig_query(q, &p, NULL) == 0 && strcmp(p.status, "none") && !mig_progress_done(&p) &&
		       time_mono_ms() < end)
			time_sleep_ms(100);
		json_array_foreach(disks, i, dj)
			if (json_is_true(json_object_get(dj, "copy")))
				mig_mirror_abort(q, (int)json_integer_value(json_object_get(dj, "slot")), MIG_REC_QMP_MS);
		mig_tls_del(q);
		if (qmp_execute(q, "query-status", NULL, &st, MIG_REC_QMP_MS, NULL) == 0 &&
		    (s = json_string_value(json_object_get(st, "status"))) &&
		    (!strcmp(s, "postmigrate") || !strcmp(s, "finish-migrate") ||
		     (!strcmp(s, "paused") && json_is_true(json_object_get(rec, "was_running")))) &&
		    (r = qmp_execute(q, "cont", NULL, NULL, MIG_REC_QMP_MS, &e)) < 0)
			log_warn("vm %s: cannot resume it here yet: %s; trying again", rstr(rec, "name"), e.s);
	}
	rt_qmp_release(ref);
	mig_psk_remove(kdir);
	if (rec_onto_replica(rec)) /* replication as it was (a new export once the destination removed the VM) */
		svc_replicate_switch_undo(uuid, "the migration was settled after corrald or the link went away");
	return r;
}

/* The guest runs on the destination: stop the paused copy here and forget the VM. */
static void src_forget(const json_t *rec)
{
	const char *uuid = rstr(rec, "uuid");
	__do_free char *reason = xasprintf("migrated to %s", rstr(rec, "peer"));
	__do_free char *kdir = xasprintf("%s/%s/mig", svc_cfg.run_dir, uuid);
	__do_buf struct buf e = BUF_INIT;
	struct vm_record vr = { 0 };
	const json_t *dj;
	size_t i;

	if (rt_is_active(uuid) && rt_kill_reason(uuid, reason, &e) < 0)
		log_warn("vm %s: stopping the migrated QEMU: %s", rstr(rec, "name"), e.s);
	mig_psk_remove(kdir);
	bool had = store_vm_get(svc_cfg.store, uuid, &vr) == 0;
	pthread_mutex_lock(&svc_defs_lock);
	store_vm_delete(svc_cfg.store, uuid);
	pthread_mutex_unlock(&svc_defs_lock);
	rt_forget(uuid);
	if (had && !vr.invalid)
		svc_net_hosts_refresh(vr.def);
	vm_record_release(&vr);
	if (rec_onto_replica(rec))
		svc_replicate_switch_done(uuid, rstr(rec, "peer"));
	json_array_foreach(json_object_get(rec, "disks"), i, dj) {
		const char *vol = rstr(dj, "volume");
		buf_reset(&e);
		if (json_is_true(json_object_get(dj, "replica")))
			mig_replica_left(uuid, rstr(rec, "name"), vol);
		else if (!json_is_true(json_object_get(dj, "copy")))
			store_vol_delete(svc_cfg.store, vol);
		else if (vol_delete(svc_cfg.store, vol, &e) < 0 && e.len)
			log_warn("vm %s: volume %s stays here: %s", rstr(rec, "name"), vol, e.s);
	}
	/* an HA VM's owner follows, as after a switch this corrald saw (migrate.c out_forget) */
	if (rec_onto_replica(rec))
		svc_ha_moved_onto_replica(uuid, rstr(rec, "peer"), mig_self_name());
	else
		svc_ha_moved(uuid, rstr(rec, "peer"));
	log_info("vm %s: %s (settled after the switch)", rstr(rec, "name"), reason);
}

/* Ask the destination: POST /v1/migrations/{incoming|offline}/<uuid>/<what>. */
static int peer_ask(const json_t *rec, const char *what, json_t **reply, long *status, struct buf *err)
{
	__do_free char *path = xasprintf("/v1/migrations/%s/%s/%s",
					 !strcmp(rstr(rec, "role"), "off-out")	 ? "offline"
					 : !strcmp(rstr(rec, "role"), "ct-out") ? "ct"
										 : "incoming",
					 rstr(rec, "uuid"), what);
	struct peer *p = NULL;
	int r;

	*status = 0;
	if ((r = peer_open(rstr(rec, "peer"), &p, err)) < 0)
		return r;
	peer_set_timeout(p, 3000, 30000);
	r = peer_call(p, "POST", path, NULL, reply, status, err);
	peer_close(p);
	return r;
}

/*
 * Tell the destination to remove its prepared VM, then take the guest back
 * here; the record goes once both are done (the destination heard it, or
 * had nothing).  The order matters little (the destination never activates
 * the disks before finish: late-block-activate), but a guest resumes more
 * surely once nobody else holds its images.
 */
static void src_abort_peer(json_t *rec)
{
	__do_buf struct buf e = BUF_INIT;
	long status = 0;
	int r = peer_ask(rec, "abort", NULL, &status, &e);
	int back = src_take_back(rec);

	if ((r == 0 || r == -ENOENT) && back == 0) {
		mig_rec_drop(rstr(rec, "uuid"));
		log_info("vm %s: the incoming side on %s is cleaned", rstr(rec, "name"), rstr(rec, "peer"));
	} else if (!json_is_true(json_object_get(rec, "told"))) {
		log_warn("vm %s: %s has not removed its prepared copy yet (%s); asking again every %d s",
			 rstr(rec, "name"), rstr(rec, "peer"), e.s, MIG_RECONCILE_S);
		json_object_set_new(rec, "told", json_true());
		mig_rec_save(rstr(rec, "uuid"), rec);
	}
}

static void reconcile_out(json_t *rec)
{
	const char *uuid = rstr(rec, "uuid"), *phase = rstr(rec, "phase"), *peer = rstr(rec, "peer");
	__do_buf struct buf e = BUF_INIT;
	__do_json json_t *reply = NULL;
	struct job_hold *hold = NULL;
	long status = 0;

	if (job_hold_vm(uuid, rstr(rec, "name"), "migrate-recover", &hold, &e) < 0)
		return; /* busy (vm kill, another job): next round */
	if (strcmp(phase, "switching") != 0) {
		/* finish was never sent: the destination cannot be running the guest */
		if (strcmp(phase, "aborting") != 0) {
			json_object_set_new(rec, "phase", json_string("aborting"));
			mig_rec_save(uuid, rec);
			__do_free char *d = xasprintf("migration to %s did not finish (corrald or the link went away "
						      "before the switch); the VM runs here",
						      peer);
			svc_vm_event(uuid, "migrate", d);
			log_info("vm %s: %s", rstr(rec, "name"), d);
		}
		src_abort_peer(rec);
		job_release(hold);
		return;
	}
	int r = peer_ask(rec, "status", &reply, &status, &e);
	const char *st = json_string_value(json_object_get(reply, "state")) ?: "";
	if (r == 0 && !strcmp(st, "running")) {
		src_forget(rec);
		mig_rec_drop(uuid);
		job_release(hold);
		return;
	}
	if ((r == 0 && !strcmp(st, "prepared")) || r == -ENOENT) {
		/* the destination has not resumed it and will not without finish: take it back */
		json_object_set_new(rec, "phase", json_string("aborting"));
		mig_rec_save(uuid, rec);
		__do_free char *d = xasprintf("migration to %s: %s did not resume the VM at the switch; "
					      "it runs here again",
					      peer, peer);
		svc_vm_event(uuid, "migrate", d);
		log_info("vm %s: %s", rstr(rec, "name"), d);
		src_abort_peer(rec);
	} else if (r < 0 && !json_is_true(json_object_get(rec, "told"))) {
		__do_free char *d = xasprintf("migration to %s: the outcome of the switch is unknown until %s "
					      "answers (%s); the VM stays paused here and corrald asks again every "
					      "%d s (never resume it here while it may run on %s)",
					      peer, peer, e.s, MIG_RECONCILE_S, peer);
		svc_vm_event(uuid, "migrate", d);
		log_warn("vm %s: %s", rstr(rec, "name"), d);
		json_object_set_new(rec, "told", json_true());
		mig_rec_save(uuid, rec);
	}
	/* "finishing": the destination is resuming it right now; next round */
	job_release(hold);
}

/*
 * An offline migration whose job is gone.  Before the hand-over ("preparing",
 * "aborting") the VM is this host's: the destination is told to abort.  After
 * it ("finishing", no answer came) the destination decides: the VM defined
 * there ("finished") is forgotten here; prepared there or unknown there, it
 * stays here and the destination aborts.
 */
static void reconcile_off_out(json_t *rec)
{
	const char *uuid = rstr(rec, "uuid"), *peer = rstr(rec, "peer");
	__do_buf struct buf e = BUF_INIT;
	__do_json json_t *reply = NULL;
	struct job_hold *hold = NULL;
	long status = 0;
	int r;

	if (job_hold_vm(uuid, rstr(rec, "name"), "migrate-recover", &hold, &e) < 0)
		return;
	if (!strcmp(rstr(rec, "phase"), "finishing")) {
		r = peer_ask(rec, "status", &reply, &status, &e);
		const char *st = json_string_value(json_object_get(reply, "state")) ?: "";
		if (r == 0 && !strcmp(st, "finished")) {
			__do_free char *d = xasprintf("migrated (offline) to %s", peer);
			svc_vm_event(uuid, "migrate", d);
			if (!strcmp(rstr(rec, "role"), "ct-out"))
				svc_ct_migrate_forget(uuid, rstr(rec, "name"), peer);
			else
				src_forget(rec);
			mig_rec_drop(uuid);
			job_release(hold);
			return;
		}
		if (r < 0 && r != -ENOENT) {
			if (!json_is_true(json_object_get(rec, "told"))) {
				log_warn("vm %s: whether %s took it at the offline hand-over is unknown until it answers "
					 "(%s); it cannot be started here meanwhile",
					 rstr(rec, "name"), peer, e.s);
				json_object_set_new(rec, "told", json_true());
				mig_rec_save(uuid, rec);
			}
			job_release(hold);
			return;
		}
	}
	buf_reset(&e);
	r = peer_ask(rec, "abort", NULL, &status, &e);
	if (r == 0 || r == -ENOENT) {
		__do_free char *d = xasprintf("offline migration to %s did not finish; the VM stays here", peer);
		svc_vm_event(uuid, "migrate", d);
		log_info("vm %s: %s", rstr(rec, "name"), d);
		mig_rec_drop(uuid);
	} else if (!json_is_true(json_object_get(rec, "told"))) {
		log_warn("vm %s: %s has not removed its prepared copy yet (%s); asking again every %d s",
			 rstr(rec, "name"), peer, e.s, MIG_RECONCILE_S);
		json_object_set_new(rec, "phase", json_string("aborting"));
		json_object_set_new(rec, "told", json_true());
		mig_rec_save(uuid, rec);
	}
	job_release(hold);
}

bool mig_rec_unsettled(const char *uuid, char *peer, size_t len)
{
	__do_json json_t *rec = mig_rec_load(uuid);
	const char *role = rstr(rec, "role"), *phase = rstr(rec, "phase");

	if (!rec || !((!strcmp(role, "out") && !strcmp(phase, "switching")) ||
		      ((!strcmp(role, "off-out") || !strcmp(role, "ct-out")) && !strcmp(phase, "finishing"))))
		return false;
	snprintf(peer, len, "%s", rstr(rec, "peer"));
	return true;
}

static pthread_mutex_t rc_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rc_cond = PTHREAD_COND_INITIALIZER;
static bool rc_stop, rc_running;
static pthread_t rc_thread;

static void *rc_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&rc_lock);
	while (!rc_stop) {
		pthread_mutex_unlock(&rc_lock);
		__do_json json_t *all = rec_all();
		size_t i;
		json_t *rec;
		json_array_foreach(all, i, rec) {
			if (job_alive(rstr(rec, "uuid")))
				continue;
			if (!strcmp(rstr(rec, "role"), "out"))
				reconcile_out(rec);
			else if (!strcmp(rstr(rec, "role"), "off-out") || !strcmp(rstr(rec, "role"), "ct-out"))
				reconcile_off_out(rec); /* a container's as a VM's */
		}
		pthread_mutex_lock(&rc_lock);
		struct timespec ts = time_realtime_in(MIG_RECONCILE_S * 1000);
		if (!rc_stop)
			pthread_cond_timedwait(&rc_cond, &rc_lock, &ts);
	}
	pthread_mutex_unlock(&rc_lock);
	return NULL;
}

void svc_migrate_recover(void)
{
	__do_json json_t *all = rec_all();
	size_t i;
	json_t *rec;

	json_array_foreach(all, i, rec) {
		if (!strcmp(rstr(rec, "role"), "in"))
			mig_in_adopt(rec);
		else if (!strcmp(rstr(rec, "role"), "off-in"))
			mig_off_in_recover(rec);
		else if (!strcmp(rstr(rec, "role"), "ct-in"))
			ct_migrate_in_recover(rec);
		else
			log_info("vm %s: a migration to %s was in progress when corrald stopped (%s); settling it",
				 rstr(rec, "name"), rstr(rec, "peer"), rstr(rec, "phase"));
	}
	rc_stop = false;
	int r = pthread_create(&rc_thread, NULL, rc_main, NULL);
	rc_running = r == 0;
	if (r)
		log_warn("cannot start the migration reconciler: %s", strerror(r));
}

void mig_reconcile_stop(void)
{
	if (!rc_running)
		return;
	pthread_mutex_lock(&rc_lock);
	rc_stop = true;
	pthread_cond_signal(&rc_cond);
	pthread_mutex_unlock(&rc_lock);
	pthread_join(rc_thread, NULL);
	rc_running = false;
}
