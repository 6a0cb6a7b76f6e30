/*
 * ha_manager.c - the HA manager and the per-host HA agent (see
 * ha_manager.h; docs/ha.md "The manager"): one thread in corrald that,
 * while this host is quorate and holds the pool's configuration, acts on
 * the replicated ha_resources rows.
 *
 * The agent part runs on every host, for the rows naming this host as the
 * owner: it creates the local VM record from the replicated definition
 * when the VM was moved here, starts it, reports it started, restarts it
 * after a crash (max_restart) or asks to have it relocated, keeps the
 * replicated copy of the definition in step with the local one, and drops
 * the local record of a VM the pool moved away from this host.
 *
 * The manager part runs only on the ring's manager (the lowest node id of
 * the configuration group): it marks the VMs of a host that left the
 * quorate ring `fence`, waits W, then places them (cluster/haplace.h) and
 * hands them to their new hosts in waves.  Its writes carry the ring, so
 * one made by a manager that has since lost its office never applies
 * (cluster_store.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/conf.h"
#include "cluster/haplace.h"
#include "cluster/membership.h"
#include "core/job.h"
#include "core/store.h"
#include "core/store_local.h"
#include "core/vmdef.h"
#include "qemu/runtime.h"
#include "service/cluster_internal.h"
#include "service/cluster_store.h"
#include "service/events.h"
#include "service/host.h"
#include "service/ha.h"
#include "service/ha_fence.h"
#include "service/ha_admit.h"
#include "service/ha_group.h"
#include "service/ha_guard.h"
#include "service/ha_kind.h"
#include "service/ct.h"
#include "service/ha_maint.h"
#include "service/ha_manager.h"
#include "service/internal.h"
#include "service/migrate.h"
#include "service/migrate_common.h"
#include "service/network.h"
#include "service/peer.h"
#include "service/replicate.h"
#include "service/replrow.h"
#include "service/vm.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MGR_MAX 256
#define WAVE_CAP_MS 120000 /* a wave's VM not started after this: the next wave goes anyway */
#define MAINT_RETRY_MS 10000 /* a maintenance move that failed or found no host: tried again after */

/* One HA resource as read this round (pointers into def). */
struct res {
	char uuid[37];
	json_t *def;
	const char *name, *host, *state, *status, *from;
	int priority, order, start_delay, max_restart, max_relocate;
	int64_t memory_mib;
	enum ha_kind kind;
};

/* Per host name: when this manager first saw it missing from the quorate ring. */
struct lost {
	char host[CLUSTER_NODE_NAME_MAX + 1];
	int64_t since_mono, since_wall;
};

/* Per VM, on its owner: the crash restarts done here. */
struct local {
	char uuid[37];
	char owner_seen[CLUSTER_NODE_NAME_MAX + 1];
	int restarts;
	int64_t job; /* the maintenance migration job under way (0: none) */
	int64_t down_since; /* a container: mono ms it was first seen stopped while HA wants it started (0: running) */
	bool seen_up;       /* a container: seen running here in this stay (only then is a stop a crash) */
	int64_t reprotect_at; /* a VM switched over onto its replica here: replicate it back not before */
	char reprotect_why[200]; /* the last reason replicating it back failed (an event only when it changes) */
};

/* Per VM, on the manager: a maintenance move not to try again before. */
struct maint_retry {
	char uuid[37];
	int64_t at_mono;
	char why[200]; /* the last reason given (an event only when it changes) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static bool running, stopping;
static char manager_host[CLUSTER_NODE_NAME_MAX + 1]; /* guarded by lock */
static uint32_t manager_node;
static char manager_ring[40];
static bool manager_self;
static int64_t wait_ms_cur;
/* the manager thread's own */
static struct lost lost[CLUSTER_MAX_NODES];
static size_t nlost;
static struct local locals[MGR_MAX];
static size_t nlocals;
static int64_t next_wave_at;        /* mono ms: no new wave before */
static int64_t wave_issued_at;      /* mono ms of the last wave issued */
static int wave_delay_s;            /* the largest start_delay of the last wave */
static int wave_no;                 /* waves issued in this recovery */
static struct maint_retry retries[MGR_MAX];
static size_t nretries;

/* The pool's HA groups as read this round (ha_group.h). */
struct grp {
	const char *name;
	const char *hosts[CLUSTER_MAX_NODES];
	int prio[CLUSTER_MAX_NODES];
	size_t n;
	bool restricted, nofailback;
};
static json_t *groups_json; /* the strings above point into it */
static struct grp groups[64];
static size_t ngroups;

static int jint(const json_t *d, const char *k, int def)
{
	json_t *v = json_object_get(d, k);
	return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

static const char *jstr(const json_t *d, const char *k) { return json_string_value(json_object_get(d, k)); }

/* Point r's strings into its def again (after any change of the def: the
 * old strings may be freed). */
static void res_refresh(struct res *r)
{
	const json_t *d = r->def;
	r->name = jstr(d, "vm") ? jstr(d, "vm") : r->uuid;
	r->host = jstr(d, "host") ? jstr(d, "host") : "";
	r->state = jstr(d, "state") ? jstr(d, "state") : "started";
	r->status = jstr(d, "status") ? jstr(d, "status") : "started";
	r->from = jstr(d, "from");
}

static size_t res_read(struct res *out, size_t max)
{
	struct ha_record *list = NULL;
	size_t n = 0, k = 0;
	if (store_ha_list(svc_cfg.store, &list, &n) < 0)
		return 0;
	for (size_t i = 0; i < n && k < max; i++) {
		json_t *d = json_loads(list[i].def, 0, NULL);
		if (!json_is_object(d)) {
			json_decref(d);
			continue;
		}
		struct res *r = &out[k++];
		memset(r, 0, sizeof(*r));
		snprintf(r->uuid, sizeof(r->uuid), "%s", list[i].uuid);
		r->def = d;
		res_refresh(r);
		r->priority = jint(d, "priority", 0);
		r->order = jint(d, "order", 0);
		r->start_delay = jint(d, "start_delay", 0);
		r->max_restart = jint(d, "max_restart", 1);
		r->max_relocate = jint(d, "max_relocate", 1);
		r->memory_mib = jint(d, "memory_mib", 0);
		r->kind = ha_kind_of(d);
	}
	store_ha_list_free(list, n);
	return k;
}

static void res_free(struct res *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_decref(r[i].def);
}

static void clock_text(int64_t wall_ms, char *out, size_t len)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, len, "%02d:%02d:%02d.%03d UTC", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

/* An "ha" event of the VM on this host, and a log line. */
static void ha_event(const struct res *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ha_event(const struct res *r, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	svc_on_vm_event(r->uuid, r->name, "ha", detail);
	log_info("ha: %s: %s", r->name, detail);
}

/* Write the changed rows (agent: ring NULL; manager: its ring). */
static int write_defs(struct res *const *rs, size_t n, const char *ring, struct buf *err)
{
	if (!n)
		return 0;
	struct store_batch *b = store_batch_new();
	for (size_t i = 0; i < n; i++) {
		__do_free char *text = json_dumps(rs[i]->def, JSON_COMPACT | JSON_SORT_KEYS);
		json_t *rev = json_object_get(rs[i]->def, "rev"); /* compare-and-set: never over a newer row */
		store_batch_ha_decide(b, rs[i]->uuid, text, ring, json_is_integer(rev) ? json_integer_value(rev) : 0);
	}
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	return r;
}

static int write_one(struct res *r, const char *ring)
{
	struct buf err __do_buf = BUF_INIT;
	struct res *one[1] = { r };
	int rc = write_defs(one, 1, ring, &err);
	if (rc < 0)
		log_warn("ha: %s: cannot record the HA state: %s", r->name, err.s ? err.s : "");
	return rc;
}

static void set_status(struct res *r, const char *status, const char *reason)
{
	json_object_set_new(r->def, "status", json_string(status));
	json_object_set_new(r->def, "status_since", json_integer((json_int_t)time_wall_ms()));
	if (reason)
		json_object_set_new(r->def, "status_reason", json_string(reason));
	res_refresh(r);
}

/* Add host to the VM's failed hosts (the manager skips them when relocating). */
static void failed_add(struct res *r, const char *host)
{
	json_t *f = json_object_get(r->def, "failed");
	if (!json_is_array(f))
		json_object_set_new(r->def, "failed", (f = json_array()));
	json_array_append_new(f, json_string(host));
}

static struct local *local_get(const char *uuid, const char *owner)
{
	for (size_t i = 0; i < nlocals; i++)
		if (strcmp(locals[i].uuid, uuid) == 0) {
			if (strcmp(locals[i].owner_seen, owner) != 0) { /* moved since: a fresh count */
				snprintf(locals[i].owner_seen, sizeof(locals[i].owner_seen), "%s", owner);
				locals[i].restarts = 0;
				locals[i].job = 0;
				locals[i].down_since = 0;
				locals[i].seen_up = false;
			}
			return &locals[i];
		}
	if (nlocals == MGR_MAX)
		nlocals = 0; /* forget the oldest counts rather than refuse */
	struct local *l = &locals[nlocals++];
	memset(l, 0, sizeof(*l));
	snprintf(l->uuid, sizeof(l->uuid), "%.36s", uuid);
	snprintf(l->owner_seen, sizeof(l->owner_seen), "%.64s", owner);
	return l;
}

/* ---- the agent ---- */

/* Does r's definition carry disks replicated to another host (docs/ha.md "Failover onto the replica")? */
static const char *replica_host_of(const struct res *r)
{
	size_t i;
	json_t *dj;
	json_array_foreach(json_object_get(r->def, "disks"), i, dj) if (jstr(dj, "replica"))
		return jstr(dj, "replica");
	return NULL;
}

/* Create the local record of r from its replicated definition (same uuid;
 * disks on the shared pools, or the replica volumes this host holds, which
 * become the VM's own: their daemon stopped, the pool's ~repl row gone). */
static int adopt(struct res *r, struct buf *err)
{
	json_t *vj = json_object_get(r->def, "vmdef"), *disks = json_object_get(r->def, "disks");
	size_t i;
	json_t *dj;
	int rc = 0;
	if (!vj) {
		buf_adds(err, "the HA resource carries no VM definition (protected by an older corrald)");
		return -EINVAL;
	}
	struct vm_def *vd = vmdef_from_json(vj, err);
	if (!vd) {
		if (!err->len)
			buf_adds(err, "the HA resource carries no VM definition (protected by an older corrald)");
		return -EINVAL;
	}
	json_array_foreach(disks, i, dj)
	{
		const char *vol = jstr(dj, "volume"), *pool = jstr(dj, "pool"), *file = jstr(dj, "file"),
			   *format = jstr(dj, "format");
		struct pool_record pr = { 0 };
		struct vol_record have = { 0 };
		if (!vol || !pool || !file || !format || strstr(file, "..")) {
			buf_adds(err, "a disk of the HA resource is incomplete");
			rc = -EINVAL;
			goto out;
		}
		if (jstr(dj, "replica")) {
			/* a local disk replicated here: the replica volume of the same name */
			if (store_vol_get(svc_cfg.store, vol, &have) < 0) {
				buf_printf(err, "this host holds no replica volume %s", vol);
				rc = -ENOENT;
				goto out;
			}
			vol_record_release(&have);
			continue;
		}
		if (store_pool_get(svc_cfg.store, pool, &pr) < 0 || !pr.shared) {
			buf_printf(err, "this host has no shared pool '%s' for disk %s", pool, vol);
			pool_record_release(&pr);
			rc = -ENOENT;
			goto out;
		}
		__do_free char *path = xasprintf("%s/%s", pr.path, file);
		pool_record_release(&pr);
		if (store_vol_get(svc_cfg.store, vol, &have) == 0) {
			bool same = strcmp(have.path, path) == 0;
			vol_record_release(&have);
			if (!same) {
				buf_printf(err, "a different volume named %s exists here", vol);
				rc = -EEXIST;
				goto out;
			}
			continue;
		}
		if (fs_exists(path) <= 0) {
			buf_printf(err, "this host does not see disk %s in its shared pool '%s' (%s)", vol, pool, path);
			rc = -ENOENT;
			goto out;
		}
		struct vol_record rec = { .name = (char *)vol, .format = (char *)format, .path = path,
					  .pool = (char *)pool };
		if ((rc = store_vol_add(svc_cfg.store, &rec)) < 0) {
			buf_printf(err, "cannot record volume %s", vol);
			goto out;
		}
	}
	if (replica_host_of(r)) {
		/* the replica's daemon stops before the VM may write the volumes; -ENOENT: taken
		 * over already (a corrald killed after that step: the volumes were checked above) */
		struct buf te __do_buf = BUF_INIT;
		if ((rc = svc_replica_takeover(r->uuid, &te)) < 0 && rc != -ENOENT) {
			buf_adds(err, te.s ? te.s : "cannot take the replica over");
			goto out;
		}
		rc = 0;
		struct buf e __do_buf = BUF_INIT;
		if (replrow_delete(r->uuid, &e) < 0) /* the replication ended with the takeover */
			log_warn("ha: %s: %s", r->name, e.s);
	}
	pthread_mutex_lock(&svc_defs_lock);
	rc = store_vm_insert(svc_cfg.store, vd);
	pthread_mutex_unlock(&svc_defs_lock);
	if (rc < 0)
		buf_printf(err, "cannot define VM %s here (a VM of that name or uuid exists?)", vd->name);
out:
	vmdef_free(vd);
	return rc;
}

/* Drop this host's record of a VM the pool moved elsewhere: never its disks (the new owner's). */
static void forget(struct res *r, const struct vm_record *vm)
{
	if (r->kind == HA_CT) {
		struct buf err __do_buf = BUF_INIT;
		if (svc_ct_ha_forget(r->uuid, &err) < 0) {
			log_warn("ha: %s: cannot drop this host's record: %s", r->name, err.s);
			return;
		}
		ha_event(r, "local record dropped: HA moved %s to %s (its root stays on the shared pool)", r->name,
			 r->host);
		return;
	}
	/* restarted on its replica: this host's copies of its local disks are kept,
	 * records and files, under their names, marked as stale copies of the VM, so
	 * a replication back (`vm replicate --to` this host) compares against them.
	 * Marked before the VM's record goes: a kill -9 in between finds the record
	 * at the next start and forgets it again (marking is idempotent) */
	bool replica = replica_host_of(r) != NULL;
	struct buf kept __do_buf = BUF_INIT;
	for (int i = 0; replica && i < vm->def->ndisks; i++) {
		const char *vol = vm->def->disks[i].volume;
		struct buf e __do_buf = BUF_INIT;
		__do_free char *pool = NULL;
		bool copy = false;
		if (mig_disk_copied(vol, &copy, &pool, &e) < 0 || !copy)
			continue; /* a shared pool's disk is the new owner's */
		if (svc_volume_mark_stale(vol, r->uuid, &e) < 0)
			log_warn("ha: %s: cannot mark volume %s as its stale copy: %s", r->name, vol, e.s);
		buf_printf(&kept, "%s%s", kept.len ? ", " : "", vol);
	}
	pthread_mutex_lock(&svc_defs_lock);
	int rc = store_vm_delete(svc_cfg.store, r->uuid);
	pthread_mutex_unlock(&svc_defs_lock);
	if (rc < 0) { /* still this host's VM: its disks are no stale copies */
		for (int i = 0; replica && i < vm->def->ndisks; i++)
			svc_volume_stale_clear(vm->def->disks[i].volume);
		return;
	}
	rt_forget(r->uuid);
	svc_net_hosts_refresh(vm->def);
	if (replica) {
		svc_replicate_forget(r->uuid);
		ha_event(r, "local record dropped: HA restarted %s on its replica on %s; its old volumes stay here as "
			    "stale copies (%s)",
			 r->name, r->host, kept.s ? kept.s : "none");
		return;
	}
	for (int i = 0; i < vm->def->ndisks; i++)
		store_vol_delete(svc_cfg.store, vm->def->disks[i].volume);
	ha_event(r, "local record dropped: HA moved %s to %s (its disks stay on the shared pool)", r->name,
		 r->host);
}

static int start_vm(struct res *r, struct buf *err)
{
	struct svc_action_opts o = { 0 };
	if (!membership_quorate()) { /* lost since the round began: the self-fence acts, not us */
		buf_adds(err, "this host lost quorum");
		return -EAGAIN;
	}
	int rc = r->kind == HA_CT ? svc_ct_ha_start(r->uuid, err) : svc_vm_action(r->uuid, ACT_START, &o, err);
	if (rc == 0)
		ha_fence_refresh(); /* armed, and corral-guard told, now rather than within the second */
	return rc;
}

/* A container's pool copy (ctdef, disks, memory) in step with this host's definition. */
static void def_sync_ct(struct res *r)
{
	struct buf err __do_buf = BUF_INIT;
	__do_json json_t *now = json_object();
	char uuid[37];
	if (svc_ct_ha_capture(r->uuid, now, uuid, &err) < 0) {
		log_msg(LOG_LVL_DEBUG, 0, "ha: %s: its definition cannot travel: %s", r->name, err.s);
		return;
	}
	if (json_equal(json_object_get(now, "ctdef"), json_object_get(r->def, "ctdef")) &&
	    json_equal(json_object_get(now, "disks"), json_object_get(r->def, "disks")) &&
	    json_equal(json_object_get(now, "memory_mib"), json_object_get(r->def, "memory_mib")))
		return;
	json_object_update(r->def, now);
	res_refresh(r);
	r->memory_mib = jint(r->def, "memory_mib", 0);
	if (write_one(r, NULL) == 0)
		log_info("ha: %s: the pool's copy of its definition updated", r->name);
}

/* Keep the pool's copy of the definition (vmdef, disks) in step with this
 * host's record: every change of the VM's definition here (vm edit, disk
 * add, limits, ...) reaches the pool within a round, whatever verb made it. */
static void def_sync(struct res *r, const struct vm_record *vm)
{
	struct buf err __do_buf = BUF_INIT;
	if (vm->invalid)
		return;
	__do_json json_t *now = json_object();
	if (svc_ha_capture(vm->def, now, &err) < 0) {
		log_msg(LOG_LVL_DEBUG, 0, "ha: %s: its definition cannot travel: %s", r->name, err.s);
		return;
	}
	if (json_equal(json_object_get(now, "vmdef"), json_object_get(r->def, "vmdef")) &&
	    json_equal(json_object_get(now, "disks"), json_object_get(r->def, "disks")))
		return;
	json_object_update(r->def, now);
	if (svc_vm_replicated(r->uuid)) /* replicated again: in the same write (agent_reprotect) */
		json_object_del(r->def, "replicate_back");
	res_refresh(r);
	if (write_one(r, NULL) == 0)
		log_info("ha: %s: the pool's copy of its definition updated", r->name);
}

/* Back to "started" on this host after a move (maintenance, failback) that did not happen. */
static void migrate_undo(struct res *r, const char *me, const char *why)
{
	char reason[400];
	snprintf(reason, sizeof(reason), "the move to %s (%s) did not happen: %s", jstr(r->def, "target") ?: "?",
		 jstr(r->def, "move_cause") ?: "the manager's decision", why);
	json_object_del(r->def, "target");
	json_object_del(r->def, "move_cause");
	set_status(r, "started", reason);
	if (write_one(r, NULL) == 0)
		ha_event(r, "%s stays on %s: %s", r->name, me, reason);
}

/* The manager asked this host (the owner: in maintenance, or not the VM's group's best) to live-migrate r
 * to its "target": one migration job (service/migrate.h), followed round by
 * round.  Once the VM runs there the migration itself moves the row's owner
 * (svc_ha_moved), and the row is no longer this host's. */
static void agent_migrate(struct res *r, struct local *l, const struct vm_record *vm, const char *me)
{
	struct buf err __do_buf = BUF_INIT;
	const char *to = jstr(r->def, "target");
	if (l->job) {
		__do_json json_t *j = job_get(l->job);
		const char *st = jstr(j, "state");
		if (st && strcmp(st, "running") == 0)
			return;
		l->job = 0;
		if (st && strcmp(st, "succeeded") == 0)
			return; /* the row moves with the VM (svc_ha_moved); a row still here is settled below */
		migrate_undo(r, me, jstr(j, "error") ?: "the migration job failed");
		return;
	}
	if (!to) {
		migrate_undo(r, me, "no target host recorded");
		return;
	}
	if (!vmstate_is_active(vm->state)) {
		/* stopped meanwhile: nothing to move live; the manager leaves a stopped VM where it is */
		migrate_undo(r, me, "it is not running here");
		return;
	}
	__do_json json_t *job = NULL;
	struct svc_migrate_opts o = { .to = to };
	if (svc_vm_migrate(r->uuid, &o, &job, &err) < 0) {
		migrate_undo(r, me, err.s ? err.s : "the migration was refused");
		return;
	}
	json_t *id = json_object_get(job, "id");
	l->job = json_is_integer(id) ? json_integer_value(id) : 0;
	ha_event(r, "%s: live-migrating %s to %s (job %lld)", jstr(r->def, "move_cause") ?: "the manager's decision",
		 r->name, to, (long long)l->job);
}

/* A container owned here, HA state and status started, found stopped: fenced
 * here while the pool kept it here (ask the manager to place it again), or,
 * seen running here before, it stopped without a request (its init exited
 * or was killed: a crash, restarted here up to max_restart, then
 * relocated).  Quorate only, and a
 * second after it was first seen down (corral-guard's kill shows first as
 * a stop, until corrald learns of the quorum loss too). */
static void agent_ct_down(struct res *r, struct local *l, const char *me, bool active)
{
	struct buf err __do_buf = BUF_INIT;
	char fence[160] = "", held[128];
	if (active || !membership_quorate())
		return;
	job_vm_current(r->uuid, held, sizeof(held));
	if (held[0] || time_mono_ms() - l->down_since < 1000)
		return; /* a stop or start under way, or just seen down */
	if (svc_ct_fenced(r->uuid, fence, sizeof(fence)) || ha_guard_fenced(r->uuid)) {
		char why[384];
		snprintf(why, sizeof(why), "%.160s on %s, while the pool kept it there", fence[0] ? fence : "fenced", me);
		set_status(r, "relocate", why);
		if (write_one(r, NULL) == 0)
			ha_event(r, "asking the manager to place %s again: %s", r->name, why);
		return;
	}
	/* never seen running in this stay (protected while stopped, or stopped while corrald was
	 * down): no crash to restart, as a VM stopped by itself is not one either */
	if (!l->seen_up)
		return;
	if (l->restarts < r->max_restart) {
		l->restarts++;
		ha_event(r, "restart %d/%d on %s after the container stopped without a request", l->restarts,
			 r->max_restart, me);
		if (start_vm(r, &err) < 0)
			ha_event(r, "restart on %s failed: %s", me, err.s);
		l->down_since = 0;
		return;
	}
	char why[256];
	snprintf(why, sizeof(why), "the container stopped on %s without a request after %d restart(s)", me,
		 l->restarts);
	set_status(r, "relocate", why);
	failed_add(r, me);
	if (write_one(r, NULL) == 0)
		ha_event(r, "asking the manager to relocate %s: %s", r->name, why);
}

#define CT_MOVE_STOP_S 20 /* a container's graceful stop before a maintenance move, then a kill */

/* The manager asked this host to move container r to its "target": no live
 * migration for containers, so it is stopped here (graceful, then killed)
 * and handed over in the pool (owner = target, from = this host, status
 * request_start): the target's agent defines it from the pool's copy and
 * starts it, as after a recovery.  Its root is on a shared pool: nothing
 * is copied.  Never two copies: the hand-over is written only once
 * liblxc says it is stopped here. */
static void agent_handover(struct res *r, const char *me)
{
	struct buf err __do_buf = BUF_INIT;
	const char *to = jstr(r->def, "target");
	const char *cause = jstr(r->def, "move_cause") ?: "the manager's decision";
	if (!to) {
		migrate_undo(r, me, "no target host recorded");
		return;
	}
	if (!membership_quorate())
		return;
	if (ha_res_active(HA_CT, r->uuid)) {
		ha_event(r, "%s: stopping %s on %s to start it on %s (a container has no live migration)", cause,
			 r->name, me, to);
		if (svc_ct_ha_stop(r->uuid, CT_MOVE_STOP_S, &err) < 0) {
			migrate_undo(r, me, err.s ? err.s : "the stop failed");
			return;
		}
	}
	char why[384];
	snprintf(why, sizeof(why), "%s: %s moved offline from %s to %s (stopped on %s; its root is on a shared "
		 "pool, nothing copied)", cause, r->name, me, to, me);
	json_object_set_new(r->def, "from", json_string(me));
	json_object_set_new(r->def, "host", json_string(to));
	json_object_del(r->def, "target");
	json_object_del(r->def, "move_cause");
	json_object_del(r->def, "failed");
	set_status(r, "request_start", why);
	if (write_one(r, NULL) == 0)
		ha_event(r, "%s", why);
}

static void agent_one(struct res *r, const char *me)
{
	struct vm_record vm = { 0 };
	bool ct = r->kind == HA_CT;
	bool have = ct ? svc_ct_exists(r->uuid) : store_vm_get(svc_cfg.store, r->uuid, &vm) == 0;
	bool mine = strcmp(r->host, me) == 0;
	struct buf err __do_buf = BUF_INIT;

	if (!mine) {
		/* moved away by the manager (recovered or relocated from here): drop the stale record */
		if (have && r->from && strcmp(r->from, me) == 0 && !ha_res_active(r->kind, r->uuid)) {
			/* not the record of a migration coming in (a failback or maintenance move
			 * back to this host): the incoming migration holds the VM */
			char held[128];
			job_vm_current(r->uuid, held, sizeof(held));
			if (!held[0])
				forget(r, &vm);
		}
		goto out;
	}
	if (have && ct)
		def_sync_ct(r);
	else if (have)
		def_sync(r, &vm);
	if (strcmp(r->state, "started") != 0)
		goto out;
	struct local *l = local_get(r->uuid, r->host);
	char onreplica[200] = "";
	if (!have) {
		if (strcmp(r->status, "request_start") != 0)
			goto out;
		if (replica_host_of(r)) {
			__do_json json_t *row = replrow_get(r->uuid);
			char when[40] = "";
			if (!strcmp(jstr(row, "state") ?: "", "in-sync") && json_is_integer(json_object_get(row, "since")))
				clock_text(json_integer_value(json_object_get(row, "since")), when, sizeof(when));
			snprintf(onreplica, sizeof(onreplica), "restarted on its replica on %s, in sync since %s", me,
				 *when ? when : "the manager's decision");
		}
		if ((ct ? svc_ct_ha_adopt(r->uuid, r->def, &err) : adopt(r, &err)) < 0) {
			ha_event(r, "cannot take %s over on %s: %s", r->name, me, err.s);
			set_status(r, "relocate", err.s);
			failed_add(r, me);
			write_one(r, NULL);
			goto out;
		}
		ha_event(r, "defined here from the pool's copy of its definition (taken over from %s)",
			 r->from ? r->from : "?");
		l->restarts = 0; /* a new stay on this host */
		if (!ct && store_vm_get(svc_cfg.store, r->uuid, &vm) < 0)
			goto out;
		have = true;
	}
	bool active = ct ? ha_res_active(HA_CT, r->uuid) : vmstate_is_active(vm.state);
	if (ct) {
		l->down_since = active ? 0 : l->down_since ? l->down_since : time_mono_ms();
		l->seen_up |= active;
	}
	if (strcmp(r->status, "request_start") == 0) {
		if (active) {
			char why[160];
			snprintf(why, sizeof(why), "running on %s", me);
			set_status(r, "started", why);
			if (write_one(r, NULL) == 0)
				ha_event(r, "started on %s", me);
		} else {
			/* svc_vm_action waits for the start's end: no start of ours is under way here */
			int rc = start_vm(r, &err);
			if (rc == 0 && onreplica[0])
				ha_event(r, "%s", onreplica);
			if (rc < 0) {
				ha_event(r, "start on %s failed: %s", me, err.s);
				l->restarts = r->max_restart; /* a failed start counts as all restarts used */
				set_status(r, "relocate", err.s);
				failed_add(r, me);
				write_one(r, NULL);
			}
		}
		goto out;
	}
	if (strcmp(r->status, "migrate") == 0) {
		if (ct)
			agent_handover(r, me);
		else
			agent_migrate(r, l, &vm, me);
		goto out;
	}
	if (strcmp(r->status, "started") != 0)
		goto out;
	if (ct) {
		agent_ct_down(r, l, me, active);
		goto out;
	}
	/* fenced here while the pool kept it here: this host lost quorum for a
	 * moment the manager never saw as a departure (a flapping split), so
	 * nobody runs it now.  Ask the manager, through the ordered
	 * configuration, to place it again; never start it behind its back. */
	if (vm.state == VM_STOPPED && vm.reason && strncmp(vm.reason, "fenced:", 7) == 0 && membership_quorate()) {
		char why[384];
		snprintf(why, sizeof(why), "%.160s on %s, while the pool kept it there", vm.reason, me);
		set_status(r, "relocate", why);
		if (write_one(r, NULL) == 0)
			ha_event(r, "asking the manager to place %s again: %s", r->name, why);
		goto out;
	}
	/* crashed: QEMU exited without a stop request */
	if (vm.state == VM_CRASHED) {
		/* a second for the kill to be understood: corral-guard's fence (quorum lost)
		 * shows first as a crash, until corrald learns of the loss too */
		if (time_wall_ms() - vm.since_ms < 1000 || !membership_quorate())
			goto out;
		/* killed by corral-guard, which may know what corrald does not (a stalled
		 * corosync still reads quorate here): the pool restarts it, not this host */
		if (ha_guard_fenced(r->uuid))
			goto out;
		if (l->restarts < r->max_restart) {
			l->restarts++;
			ha_event(r, "restart %d/%d on %s after QEMU exited (%s)", l->restarts, r->max_restart, me,
				 vm.reason ? vm.reason : "crashed");
			if (start_vm(r, &err) < 0)
				ha_event(r, "restart on %s failed: %s", me, err.s);
			goto out;
		}
		char why[256];
		snprintf(why, sizeof(why), "QEMU exited on %s (%s) after %d restart(s)", me,
			 vm.reason ? vm.reason : "crashed", l->restarts);
		set_status(r, "relocate", why);
		failed_add(r, me);
		if (write_one(r, NULL) == 0)
			ha_event(r, "asking the manager to relocate %s: %s", r->name, why);
		goto out;
	}
out:
	if (have && !ct)
		vm_record_release(&vm);
}

/* ---- the manager ---- */

static bool node_online(const struct membership_view *mv, const struct cluster_store_view *cv, uint32_t id)
{
	bool in_group = false;
	for (size_t i = 0; i < cv->n; i++)
		in_group |= cv->members[i] == id;
	return membership_has(mv, id) && in_group;
}

/*
 * After a switchover onto its replica here (migrate.c,
 * svc_ha_moved_onto_replica), an HA VM runs on local disks nothing
 * replicates, and the pool never restarts it elsewhere (no replica row:
 * haplace_replica_usable).  Its owner protects it again onto the host it
 * came from ("replicate_back"), whose old volumes are marked stale copies
 * of it (the compare pass copies only what differs), once that host is
 * online and not in maintenance; tried every SVC_REPL_RETRY_S.  The row's
 * disks (def_sync) and the pool's replica row then follow the new
 * replication: a move or a failover uses it once the pool has it in sync.
 */
static void agent_reprotect(struct res *r, const char *me, const struct cluster_def *d,
			    const struct membership_view *mv, const struct cluster_store_view *cv)
{
	const char *back = jstr(r->def, "replicate_back");
	if (!back || r->kind == HA_CT || strcmp(r->host, me) != 0)
		return;
	if (svc_vm_replicated(r->uuid)) {
		/* replicated again (here, or by hand): nothing left to do */
		json_object_del(r->def, "replicate_back");
		write_one(r, NULL);
		return;
	}
	const struct cluster_node *n = cluster_def_node(d, back);
	if (strcmp(r->state, "started") != 0 || strcmp(r->status, "started") != 0 || !rt_is_active(r->uuid) || !n ||
	    !node_online(mv, cv, n->id) || svc_ha_in_maintenance(back))
		return;
	struct local *l = local_get(r->uuid, r->host);
	int64_t now = time_mono_ms();
	if (now < l->reprotect_at)
		return;
	l->reprotect_at = now + SVC_REPL_RETRY_S * 1000;
	struct buf err __do_buf = BUF_INIT;
	__do_json json_t *out = NULL;
	if (svc_vm_replicate(r->uuid, back, false, 0, &out, &err) < 0) {
		if (strcmp(l->reprotect_why, err.s ? err.s : "") != 0) {
			snprintf(l->reprotect_why, sizeof(l->reprotect_why), "%s", err.s ? err.s : "");
			ha_event(r, "%s is not replicated to %s again yet: %s (tried again every %d s)", r->name, back,
				 err.s ? err.s : "failed", SVC_REPL_RETRY_S);
		}
		return;
	}
	l->reprotect_why[0] = 0;
	ha_event(r, "protecting %s again: replicating it to %s onto its old volumes there (only what differs is "
		    "copied); it may move or fail over there once the pool records the replica in sync",
		 r->name, back);
}

static bool host_in_ring(const struct cluster_def *d, const struct membership_view *mv, const char *name)
{
	const struct cluster_node *n = cluster_def_node(d, name);
	return n && membership_has(mv, n->id);
}

static struct lost *lost_get(const char *host, bool create)
{
	for (size_t i = 0; i < nlost; i++)
		if (strcmp(lost[i].host, host) == 0)
			return &lost[i];
	if (!create || nlost == ARRAY_SIZE(lost))
		return NULL;
	struct lost *l = &lost[nlost++];
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->since_mono = time_mono_ms();
	l->since_wall = time_wall_ms();
	return l;
}

static void lost_drop(const char *host)
{
	for (size_t i = 0; i < nlost; i++)
		if (strcmp(lost[i].host, host) == 0) {
			lost[i] = lost[--nlost];
			return;
		}
}

/* Free memory and shared pools of a surviving host (its own API, 2 s at most); unknown on failure. */
struct hostinfo {
	int64_t free_mib;
	char *pools[16];
	size_t npools;
};

/* Free memory as placement counts it: the host's memory less what its running
 * VMs may use (configured, with QEMU's overhead), as Proxmox's static usage
 * does; not MemAvailable, which lags a VM that just started. */
static int64_t host_free(const json_t *host)
{
	const json_t *c = json_object_get(host, "capacity");
	json_t *m = json_object_get(c, "memory_mib"), *used = json_object_get(c, "committed_memory_limit_mib");
	if (!json_is_integer(m) || !json_is_integer(used))
		return -1;
	int64_t f = json_integer_value(m) - json_integer_value(used);
	return f < 0 ? 0 : f;
}

static void hostinfo_self(struct hostinfo *hi)
{
	struct pool_record *list = NULL;
	size_t n = 0;
	__do_json json_t *h = svc_host_info();
	hi->free_mib = host_free(h);
	if (store_pool_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n && hi->npools < ARRAY_SIZE(hi->pools); i++)
			if (list[i].shared)
				hi->pools[hi->npools++] = xstrdup(list[i].name);
		store_pool_list_free(list, n);
	}
}

static void hostinfo_peer(const char *name, struct hostinfo *hi)
{
	struct peer *p = NULL;
	struct buf err __do_buf = BUF_INIT;
	json_t *h = NULL, *pl = NULL;
	hi->free_mib = -1;
	if (peer_open(name, &p, &err) < 0) {
		log_warn("ha: cannot ask %s for its free memory and pools: %s", name, err.s);
		return;
	}
	peer_set_timeout(p, 1000, 2000);
	if (peer_call(p, "GET", "/v1/host", NULL, &h, NULL, &err) == 0)
		hi->free_mib = host_free(h);
	if (peer_call(p, "GET", "/v1/pools", NULL, &pl, NULL, &err) == 0) {
		size_t i;
		json_t *pj;
		json_array_foreach(json_object_get(pl, "pools"), i, pj)
		{
			if (json_is_true(json_object_get(pj, "shared")) && jstr(pj, "name") &&
			    hi->npools < ARRAY_SIZE(hi->pools))
				hi->pools[hi->npools++] = xstrdup(jstr(pj, "name"));
		}
	} else {
		/* pools unknown: let the new owner's agent check them (it refuses a missing pool) */
		log_warn("ha: cannot ask %s for its pools: %s", name, err.s);
		hi->npools = SIZE_MAX;
	}
	json_decref(h);
	json_decref(pl);
	peer_close(p);
}

static void groups_load(void)
{
	json_decref(groups_json);
	groups_json = svc_ha_group_list();
	ngroups = 0;
	size_t i, k;
	json_t *g, *h;
	json_array_foreach(json_object_get(groups_json, "groups"), i, g)
	{
		if (ngroups == ARRAY_SIZE(groups) || !jstr(g, "name"))
			break;
		struct grp *x = &groups[ngroups++];
		memset(x, 0, sizeof(*x));
		x->name = jstr(g, "name");
		x->restricted = json_is_true(json_object_get(g, "restricted"));
		x->nofailback = json_is_true(json_object_get(g, "nofailback"));
		json_array_foreach(json_object_get(g, "hosts"), k, h) if (x->n < CLUSTER_MAX_NODES && jstr(h, "host"))
		{
			x->hosts[x->n] = jstr(h, "host");
			x->prio[x->n++] = jint(h, "priority", 0);
		}
	}
}

static const struct grp *group_of(const struct res *r)
{
	const char *g = jstr(r->def, "group");
	for (size_t i = 0; g && i < ngroups; i++)
		if (strcmp(groups[i].name, g) == 0)
			return &groups[i];
	return NULL;
}

/* Placement's view of r's group (none: unchanged). */
static void vm_group(struct haplace_vm *x, const struct res *r)
{
	const struct grp *g = group_of(r);
	if (!g)
		return;
	x->group_hosts = g->hosts;
	x->group_prio = g->prio;
	x->ngroup = g->n;
	x->restricted = g->restricted;
}

static int grp_prio(const struct grp *g, const char *host)
{
	for (size_t i = 0; i < g->n; i++)
		if (strcmp(g->hosts[i], host) == 0)
			return g->prio[i];
	return -1;
}

/* The hosts placement may use: online (in the ring and the configuration
 * group) and not in maintenance, with their free memory and pools. */
static size_t hosts_load(const struct cluster_def *d, const char *me, const struct membership_view *mv,
			 const struct cluster_store_view *cv, struct haplace_host *hosts, struct hostinfo *info)
{
	size_t nh = 0;
	memset(info, 0, sizeof(*info) * CLUSTER_MAX_NODES);
	for (unsigned i = 0; i < d->nnodes; i++) {
		if (!node_online(mv, cv, d->nodes[i].id) || svc_ha_in_maintenance(d->nodes[i].name))
			continue; /* a host in maintenance gets nothing placed */
		struct hostinfo *hi = &info[nh];
		if (strcmp(d->nodes[i].name, me) == 0)
			hostinfo_self(hi);
		else
			hostinfo_peer(d->nodes[i].name, hi);
		hosts[nh] = (struct haplace_host){ .name = d->nodes[i].name, .nodeid = d->nodes[i].id,
						   .free_mib = hi->free_mib, .pools = (const char *const *)hi->pools,
						   .npools = hi->npools };
		nh++;
	}
	return nh;
}

/* Unknown pools (a host did not answer): assume it has the VMs' (its agent checks them). */
static void hosts_unknown_pools(struct haplace_host *hosts, size_t nh, struct haplace_vm *v, size_t nv)
{
	for (size_t h = 0; h < nh; h++)
		if (hosts[h].npools == SIZE_MAX) {
			hosts[h].npools = 0;
			for (size_t i = 0; i < nv; i++)
				v[i].npools = 0; /* coarse: no pool check at all this round */
		}
}

static void hosts_free(struct hostinfo *info, size_t nh)
{
	for (size_t h = 0; h < nh; h++)
		for (size_t p = 0; p < info[h].npools && p < ARRAY_SIZE(info[h].pools); p++)
			free(info[h].pools[p]);
}

static struct maint_retry *retry_get(const char *uuid, bool create)
{
	for (size_t i = 0; i < nretries; i++)
		if (strcmp(retries[i].uuid, uuid) == 0)
			return &retries[i];
	if (!create)
		return NULL;
	if (nretries == MGR_MAX)
		nretries = 0;
	struct maint_retry *t = &retries[nretries++];
	memset(t, 0, sizeof(*t));
	snprintf(t->uuid, sizeof(t->uuid), "%.36s", uuid);
	return t;
}

/*
 * Placement's view of r's disks: the pools of those not replicated (pools,
 * 8 at most), and for replicated local disks the replica's host and the
 * pool's record of it (RPO 0: docs/ha.md "Failover onto the replica"), kept
 * alive in r->def "_replrow" until the caller deletes it after placement.
 * The same for a recovery, a maintenance move and a failback: a replicated
 * VM moves onto its in-sync replica (a switchover, migrate.c) or nowhere.
 */
static void place_disks(struct res *r, struct haplace_vm *x, const char **pools)
{
	size_t np = 0, k;
	json_t *fj;
	json_array_foreach(json_object_get(r->def, "disks"), k, fj) if (np < 8 && jstr(fj, "pool") &&
								       !jstr(fj, "replica"))
		pools[np++] = jstr(fj, "pool");
	x->pools = pools;
	x->npools = np;
	if (!(x->replica_host = replica_host_of(r)))
		return;
	x->disk_host = r->host; /* excluded when it is the lost or failed host, or the one moved from */
	json_t *row = replrow_get(r->uuid);
	const char *owner = jstr(row, "host"), *peer = jstr(row, "peer");
	if (row && owner && peer && strcmp(peer, x->replica_host) == 0 &&
	    (strcmp(owner, r->host) == 0 || (r->from && strcmp(owner, r->from) == 0))) {
		x->replica_state = jstr(row, "state");
		json_t *since = json_object_get(row, "since");
		x->replica_since_ms = json_is_integer(since) ? json_integer_value(since) : 0;
		json_object_set_new(r->def, "_replrow", row); /* keeps the strings alive */
	} else {
		json_decref(row);
	}
}

/* Whether a goes before b: priority (descending), order, name. */
static bool res_before(const struct res *a, const struct res *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	if (a->order != b->order)
		return a->order < b->order;
	return strcmp(a->name, b->name) < 0;
}

/* How a move goes: a VM live, a container offline (ha_manager.h). */
static const char *move_how(const struct res *r)
{
	return r->kind == HA_CT ? "offline (a container: stopped, then started on the target)"
				: "by live migration";
}

/* Maintenance (docs/ha.md "Maintenance mode"): for each online host in
 * maintenance with no move under way, hand its first HA VM (priority,
 * order, name) to its agent with a target placed as a recovery would be,
 * the host itself and every host in maintenance left out. */
static void maint_round(struct res *rs, size_t n, const struct cluster_def *d, const char *me,
			const struct membership_view *mv, const struct cluster_store_view *cv)
{
	int64_t now = time_mono_ms();
	for (unsigned i = 0; i < d->nnodes; i++) {
		const char *h = d->nodes[i].name;
		if (!node_online(mv, cv, d->nodes[i].id) || !svc_ha_in_maintenance(h))
			continue;
		struct res *next = NULL;
		bool busy = false;
		for (size_t k = 0; k < n; k++) {
			struct res *r = &rs[k];
			if (strcmp(r->host, h) != 0 || strcmp(r->state, "started") != 0)
				continue;
			if (strcmp(r->status, "migrate") == 0 || strcmp(r->status, "request_start") == 0)
				busy = true;
			if (strcmp(r->status, "started") != 0)
				continue;
			struct maint_retry *t = retry_get(r->uuid, false);
			if (t && now < t->at_mono)
				continue;
			if (!next || res_before(r, next))
				next = r;
		}
		if (busy || !next)
			continue;
		struct haplace_host hosts[CLUSTER_MAX_NODES];
		struct hostinfo info[CLUSTER_MAX_NODES];
		size_t nh = hosts_load(d, me, mv, cv, hosts, info);
		const char *excl[1] = { h }, *vpools[8];
		struct haplace_vm v = { .name = next->name, .priority = next->priority, .order = next->order,
					.memory_mib = next->memory_mib, .exclude = excl, .nexclude = 1 };
		place_disks(next, &v, vpools);
		vm_group(&v, next);
		hosts_unknown_pools(hosts, nh, &v, 1);
		haplace_run(&v, 1, hosts, nh);
		json_object_del(next->def, "_replrow"); /* placement's read, never written */
		struct maint_retry *t = retry_get(next->uuid, true);
		t->at_mono = now + MAINT_RETRY_MS;
		if (v.host < 0) {
			if (strcmp(t->why, v.reason) != 0) {
				snprintf(t->why, sizeof(t->why), "%s", v.reason);
				ha_event(next, "maintenance of %s: %s stays for now: %s (tried again every %d s)", h,
					 next->name, v.reason, MAINT_RETRY_MS / 1000);
			}
			hosts_free(info, nh);
			continue;
		}
		t->why[0] = 0;
		char why[384];
		snprintf(why, sizeof(why), "maintenance of %s: moving %s to %s %s (priority %d, order %d)", h, next->name,
			 hosts[v.host].name, move_how(next), next->priority, next->order);
		json_object_set_new(next->def, "target", json_string(hosts[v.host].name));
		json_object_set_new(next->def, "move_cause", json_sprintf("maintenance of %s", h));
		hosts_free(info, nh);
		set_status(next, "migrate", why);
		if (write_one(next, cv->ring) == 0)
			ha_event(next, "%s", why);
	}
}

/* Failback (docs/ha.md "Groups"): a VM of a group without nofailback that
 * runs on a host of a lower group priority than an online host of its
 * group (not in maintenance) is live-migrated there, one move at a time in
 * the pool. */
static void failback_round(struct res *rs, size_t n, const struct cluster_def *d, const char *me,
			   const struct membership_view *mv, const struct cluster_store_view *cv)
{
	int64_t now = time_mono_ms();
	for (size_t k = 0; k < n; k++)
		if (strcmp(rs[k].status, "migrate") == 0 || strcmp(rs[k].status, "request_start") == 0 ||
		    strcmp(rs[k].status, "fence") == 0)
			return; /* a move or a recovery under way: later */
	for (size_t k = 0; k < n; k++) {
		struct res *r = &rs[k];
		const struct grp *g = group_of(r);
		const struct cluster_node *own = cluster_def_node(d, r->host);
		if (!g || g->nofailback || strcmp(r->state, "started") != 0 || strcmp(r->status, "started") != 0 ||
		    !own || !node_online(mv, cv, own->id))
			continue;
		int cur = grp_prio(g, r->host), top = -1;
		for (size_t i = 0; i < g->n; i++) {
			const struct cluster_node *gn = cluster_def_node(d, g->hosts[i]);
			if (gn && strcmp(g->hosts[i], r->host) != 0 && node_online(mv, cv, gn->id) &&
			    !svc_ha_in_maintenance(g->hosts[i]) && g->prio[i] > top)
				top = g->prio[i];
		}
		if (top <= cur)
			continue;
		struct maint_retry *t = retry_get(r->uuid, false);
		if (t && now < t->at_mono)
			continue;
		struct haplace_host hosts[CLUSTER_MAX_NODES];
		struct hostinfo info[CLUSTER_MAX_NODES];
		size_t nh = hosts_load(d, me, mv, cv, hosts, info);
		const char *excl[1] = { r->host }, *vpools[8];
		struct haplace_vm v = { .name = r->name, .priority = r->priority, .order = r->order,
					.memory_mib = r->memory_mib, .exclude = excl, .nexclude = 1 };
		place_disks(r, &v, vpools);
		vm_group(&v, r);
		hosts_unknown_pools(hosts, nh, &v, 1);
		haplace_run(&v, 1, hosts, nh);
		json_object_del(r->def, "_replrow"); /* placement's read, never written */
		t = retry_get(r->uuid, true);
		t->at_mono = now + MAINT_RETRY_MS;
		if (v.host < 0 || grp_prio(g, hosts[v.host].name) <= cur) {
			hosts_free(info, nh);
			continue; /* its better hosts cannot take it now (memory, pools) */
		}
		const char *to = hosts[v.host].name;
		char why[384];
		snprintf(why, sizeof(why), "failback: moving %s from %s to %s %s (priority %d in group %s; %s: %d)",
			 r->name, r->host, to, move_how(r), grp_prio(g, to), g->name, r->host, cur);
		json_object_set_new(r->def, "target", json_string(to));
		json_object_set_new(r->def, "move_cause", json_sprintf("failback to %s (group %s)", to, g->name));
		hosts_free(info, nh);
		set_status(r, "migrate", why);
		if (write_one(r, cv->ring) == 0)
			ha_event(r, "%s", why);
		return; /* one at a time */
	}
}

static void manager_round(struct res *rs, size_t n, const struct cluster_def *d, const char *me,
			  const struct membership_view *mv, const struct cluster_store_view *cv)
{
	struct res *changed[MGR_MAX];
	size_t nch = 0;
	int64_t now = time_mono_ms();
	int64_t W = ha_fence_wait_ms();
	char when[40];
	struct buf err __do_buf = BUF_INIT;

	/* hosts back in the ring are no longer lost, once none of their VMs waits in fence */
	for (size_t i = 0; i < nlost;) {
		bool fencing = false;
		for (size_t k = 0; k < n; k++)
			fencing |= strcmp(rs[k].status, "fence") == 0 && strcmp(rs[k].host, lost[i].host) == 0;
		if (host_in_ring(d, mv, lost[i].host) && !fencing)
			lost_drop(lost[i].host);
		else
			i++;
	}
	/* 1. the VMs of hosts that left: fence */
	for (size_t i = 0; i < n; i++) {
		struct res *r = &rs[i];
		if (strcmp(r->state, "started") != 0 || host_in_ring(d, mv, r->host))
			continue;
		struct lost *l = lost_get(r->host, true);
		if (!l || (strcmp(r->status, "started") != 0 && strcmp(r->status, "request_start") != 0 &&
			   strcmp(r->status, "migrate") != 0))
			continue;
		clock_text(l->since_wall, when, sizeof(when));
		char why[256];
		snprintf(why, sizeof(why), "%s left the pool at %s (ring %s); waiting %lld ms for its self-fence",
			 r->host, when, cv->ring, (long long)W);
		json_object_del(r->def, "target"); /* a move cut short */
		json_object_del(r->def, "move_cause");
		set_status(r, "fence", why);
		changed[nch++] = r;
	}
	if (nch) {
		if (write_defs(changed, nch, cv->ring, &err) == 0)
			for (size_t i = 0; i < nch; i++)
				ha_event(changed[i], "fence: %s", jstr(changed[i]->def, "status_reason"));
		else
			log_warn("ha: cannot record the fence of a lost host's VMs: %s", err.s);
		return; /* next round, from the applied state */
	}

	/* 2. the wave under way: wait for it (capped), then its start delay */
	bool busy = false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(rs[i].status, "request_start") == 0 && host_in_ring(d, mv, rs[i].host))
			busy = true;
	if (busy && now - wave_issued_at < WAVE_CAP_MS)
		return;
	if (wave_issued_at && !next_wave_at)
		next_wave_at = now + (int64_t)wave_delay_s * 1000;
	if (now < next_wave_at)
		return;

	/* 3. what needs a host: fenced and past W, or asked to relocate */
	struct haplace_vm v[MGR_MAX];
	struct res *vr[MGR_MAX];
	const char *excl[MGR_MAX][CLUSTER_MAX_NODES + 1];
	const char *vpools[MGR_MAX][8];
	size_t nv = 0;
	for (size_t i = 0; i < n && nv < MGR_MAX; i++) {
		struct res *r = &rs[i];
		if (strcmp(r->state, "started") != 0)
			continue;
		bool fenced = strcmp(r->status, "fence") == 0, reloc = strcmp(r->status, "relocate") == 0;
		bool waiting = strcmp(r->status, "recovery") == 0;
		if (!fenced && !reloc && !waiting)
			continue;
		if (fenced) {
			/* W from when this manager saw the host gone (a manager elected since starts the
			 * clock again: later, never earlier); also when the host is back meanwhile */
			struct lost *l = lost_get(r->host, true);
			if (!l || now - l->since_mono < W)
				continue;
		}
		json_t *failed = json_object_get(r->def, "failed");
		if (reloc && (int)json_array_size(failed) > r->max_relocate) {
			char why[256];
			struct buf fl = BUF_INIT;
			size_t k;
			json_t *fj;
			json_array_foreach(failed, k, fj) buf_printf(&fl, "%s%s", k ? ", " : "", json_string_value(fj));
			snprintf(why, sizeof(why), "failed on %s (max_relocate %d): needs corral ha set %s --state ...",
				 fl.s ? fl.s : "", r->max_relocate, r->name);
			buf_release(&fl);
			set_status(r, "error", why);
			if (write_one(r, cv->ring) == 0)
				ha_event(r, "%s in error: %s", r->name, why);
			return;
		}
		struct haplace_vm *x = &v[nv];
		memset(x, 0, sizeof(*x));
		x->name = r->name;
		x->priority = r->priority;
		x->order = r->order;
		x->memory_mib = r->memory_mib;
		size_t ne = 0, k;
		json_t *fj;
		if (fenced)
			excl[nv][ne++] = r->host;
		json_array_foreach(failed, k, fj) if (ne < CLUSTER_MAX_NODES && json_is_string(fj))
			excl[nv][ne++] = json_string_value(fj);
		x->exclude = excl[nv];
		x->nexclude = ne;
		vm_group(x, r);
		place_disks(r, x, vpools[nv]);
		vr[nv] = r;
		nv++;
	}
	if (!nv) {
		wave_no = 0; /* nothing left: the next recovery counts from 0 */
		return;
	}

	/* 4. the surviving hosts that run corrald, with their free memory and pools */
	struct haplace_host hosts[CLUSTER_MAX_NODES];
	struct hostinfo info[CLUSTER_MAX_NODES];
	size_t nh = hosts_load(d, me, mv, cv, hosts, info);
	struct haplace_vm sorted[MGR_MAX];
	memcpy(sorted, v, nv * sizeof(v[0]));
	hosts_unknown_pools(hosts, nh, sorted, nv);
	haplace_run(sorted, nv, hosts, nh);

	/* 5. issue the first wave: every VM of the lowest wave number */
	nch = 0;
	int delay = 0;
	for (size_t i = 0; i < nv; i++) {
		if (sorted[i].wave != sorted[0].wave)
			break;
		struct res *r = NULL;
		for (size_t k = 0; k < nv; k++)
			if (vr[k]->name == sorted[i].name)
				r = vr[k];
		if (!r)
			continue;
		char why[384];
		const char *old = r->host;
		if (sorted[i].host < 0) {
			if (strcmp(r->status, "recovery") == 0 &&
			    strcmp(jstr(r->def, "status_reason") ?: "", sorted[i].reason) == 0)
				continue;
			set_status(r, "recovery", sorted[i].reason);
			changed[nch++] = r;
			continue;
		}
		const char *to = hosts[sorted[i].host].name;
		struct lost *l = lost_get(old, false);
		if (strcmp(r->status, "relocate") == 0) {
			snprintf(why, sizeof(why), "relocating %s from %s to %s: %s", r->name, old, to,
				 jstr(r->def, "status_reason") ?: "it failed there");
		} else {
			if (l)
				clock_text(l->since_wall, when, sizeof(when));
			snprintf(why, sizeof(why), "recovering %s from %s on %s: %s left the pool at %s (priority %d, order %d, wave %d)",
				 r->name, old, to, old, l ? when : "?", r->priority, r->order, wave_no);
		}
		json_object_set_new(r->def, "from", json_string(old));
		json_object_set_new(r->def, "host", json_string(to)); /* old (r->host) is freed here */
		set_status(r, "request_start", why);
		if (strcmp(jstr(r->def, "status") ?: "", "request_start") == 0 && r->start_delay > delay)
			delay = r->start_delay;
		changed[nch++] = r;
	}
	hosts_free(info, nh);
	for (size_t i = 0; i < nv; i++)
		json_object_del(vr[i]->def, "_replrow"); /* placement's read, never written */
	if (!nch)
		return;
	buf_reset(&err);
	if (write_defs(changed, nch, cv->ring, &err) < 0) {
		log_warn("ha: a recovery decision was not applied: %s", err.s);
		return;
	}
	for (size_t i = 0; i < nch; i++)
		ha_event(changed[i], "%s", jstr(changed[i]->def, "status_reason"));
	wave_issued_at = now;
	wave_no++;
	wave_delay_s = delay;
	next_wave_at = 0;
}

static bool view_changed(const struct membership_view *v, void *arg) { return v->changes != *(uint64_t *)arg; }

static void *mgr_main(void *arg)
{
	(void)arg;
	struct membership_view mv;
	struct cluster_store_view cv;
	struct cluster_def d;
	char me[CLUSTER_NODE_NAME_MAX + 1];
	uint64_t seen = 0;
	static struct res rs[MGR_MAX];
	for (;;) {
		pthread_mutex_lock(&lock);
		bool stop = stopping;
		pthread_mutex_unlock(&lock);
		if (stop)
			break;
		membership_wait(200, view_changed, &seen);
		membership_get(&mv);
		seen = mv.changes;
		cluster_store_view(&cv);
		bool in_pool = svc_cluster_def_get(&d, me);
		/* the configuration group must have caught up with the quorate ring the
		 * pool thread sees: a host just back still holds its old rows until the
		 * sync round of the new ring (its group view is of the old ring until then) */
		char ring[40];
		snprintf(ring, sizeof(ring), "%x.%llx", mv.ring_nodeid, (unsigned long long)mv.ring_seq);
		bool act = in_pool && mv.connected && mv.quorate && cv.synced && strcmp(ring, cv.ring) == 0;
		const struct cluster_node *mn = act ? cluster_def_node_id(&d, cv.manager) : NULL;
		pthread_mutex_lock(&lock);
		snprintf(manager_host, sizeof(manager_host), "%s", mn ? mn->name : "");
		manager_node = act ? cv.manager : 0;
		snprintf(manager_ring, sizeof(manager_ring), "%s", act ? cv.ring : "");
		manager_self = act && cv.manager == cv.self;
		wait_ms_cur = ha_fence_wait_ms();
		pthread_mutex_unlock(&lock);
		if (!act) {
			/* a sync round (not synced for a moment) keeps the clocks; losing quorum ends the term */
			if (!mv.quorate) {
				nlost = 0;
				wave_issued_at = next_wave_at = 0;
			}
			continue;
		}
		size_t n = res_read(rs, MGR_MAX);
		for (size_t i = 0; i < n; i++) {
			agent_one(&rs[i], me);
			agent_reprotect(&rs[i], me, &d, &mv, &cv);
		}
		res_free(rs, n);
		svc_ha_capacity_publish(me); /* the failures-to-tolerate plan's numbers (ha_admit.h) */
		if (cv.manager == cv.self) {
			groups_load();
			n = res_read(rs, MGR_MAX);
			manager_round(rs, n, &d, me, &mv, &cv);
			res_free(rs, n);
			n = res_read(rs, MGR_MAX);
			maint_round(rs, n, &d, me, &mv, &cv);
			res_free(rs, n);
			n = res_read(rs, MGR_MAX);
			failback_round(rs, n, &d, me, &mv, &cv);
			res_free(rs, n);
		} else {
			nlost = 0;
			wave_issued_at = next_wave_at = 0;
		}
	}
	json_decref(groups_json);
	groups_json = NULL;
	ngroups = 0;
	return NULL;
}

int ha_manager_start(void)
{
	stopping = false;
	int r = pthread_create(&thread, NULL, mgr_main, NULL);
	if (r)
		return -r;
	running = true;
	return 0;
}

void ha_manager_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
}

json_t *ha_manager_status(void)
{
	pthread_mutex_lock(&lock);
	json_t *out = manager_node ? json_pack("{s:s,s:I,s:s,s:b,s:I}", "host", manager_host, "node",
					       (json_int_t)manager_node, "ring", manager_ring, "self", manager_self,
					       "wait_ms", (json_int_t)wait_ms_cur)
				   : json_pack("{s:n,s:s}", "host", "reason",
					       "no manager: this host is not in a quorate pool holding its configuration");
	pthread_mutex_unlock(&lock);
	return out;
}
