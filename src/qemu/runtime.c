/*
 * runtime.c - see runtime.h.
 *
 * One struct vm_rt per VM whose QEMU corrald is attached to, on a list
 * guarded by rt_lock; rt_cond is broadcast whenever a VM's QEMU goes away
 * or a device is deleted, so callers can wait with a timeout.  QMP events
 * are queued by the QMP reader threads and handled in order by one worker
 * thread (callbacks must not call back into QMP).
 */
#include <dirent.h>
#include <errno.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "runtime.h"
#include "argv.h"
#include "cidata.h"
#include "reslimits.h"
#include "qmp.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/runas.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MAX_SLOTS 32
#define QMP_TIMEOUT_MS 10000
#define CONSOLE_LOG_ROTATE (1 << 20)
#define QEMU_START_TIMEOUT_MS 30000
#define ATTACH_FIRST_MS 3000	  /* a re-attached QEMU's greeting, at first */
#define ATTACH_RETRY_MS 1000	  /* then each further try */
#define ATTACH_PATIENCE_MS 120000 /* then give up: the guest runs on, unmanaged */

struct vm_rt {
	char uuid[37];
	char name[NAME_MAX + 1];
	char *dir;
	pid_t pid;
	struct proc proc;            /* QEMU, when this corrald started it (else pid 0) */
	struct proc_identity ident;  /* QEMU, from its pid file when re-attached */
	int cdrom_fdset;             /* the fd set holding the CD-ROM medium, 0: none */
	struct qmp *qmp;
	enum vm_state state;
	bool stop_requested;
	unsigned stop_gen; /* bumped by every stop or kill request */
	char stop_reason[128];
	bool guest_shutdown;
	bool reboot_pending;
	bool resetting; /* between a reboot's SHUTDOWN and the RESUME after reset */
	bool disk_kernel; /* --boot disk-kernel: a reset ends this QEMU (argv.h) */
	bool relaunch;    /* ... and this one ended for a reboot: start it again */
	bool gone;
	bool console_busy;
	int console_fd; /* the attached session's serial connection, or -1 */
	bool has_scsi;
	enum accel_mode accel; /* as resolved at start (or on re-attach) */
	int nports;
	struct slot {
		char vol[NAME_MAX + 1]; /* "" = free */
		char node[32];          /* format node; the device id is always disk<slot> */
		char file[32];          /* protocol node below it */
	} slots[MAX_SLOTS];
	/* NICs on networks (boot ones: netdev net<i>; hot-plugged: hn<mac digits>, in root
	 * port slot `slot`, whose slots[] entry is "nic:<mac>"); mac "" = free */
	struct rt_nic {
		char mac[18];
		char id[16];  /* netdev id; the device is <id>-dev */
		int slot;     /* -1: on pcie.0 from the start */
	} nics[2 * VM_MAX_NICS];
	char deleted[8][32];
	int ndeleted;
	int refs; /* the list holds one; get_active() callers one each */
	struct vm_rt *next;
};

struct rt_event {
	char uuid[37];
	char *name; /* NULL: EOF */
	json_t *data;
	struct rt_event *next;
};

static struct rt_config cfg;
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rt_cond = PTHREAD_COND_INITIALIZER;
static struct vm_rt *vms;

/*
 * Reports to the service (cfg.on_state, cfg.on_event), which writes them to
 * the store: an fsync that must not happen under rt_lock, which every VM
 * listing needs.  set_state() and vm_event() queue a report under rt_lock, in
 * QEMU's order; rt_unlock() delivers the queue after releasing rt_lock, one
 * deliverer at a time (deliver_lock), so reports reach the service in the
 * order they were made.  Code that reports without rt_lock (a VM not yet in
 * the list) calls reports_deliver() itself.
 */
struct rt_report {
	char uuid[37];
	char *name;
	enum vm_state st; /* a state change's new state */
	char *type;       /* event type; NULL for a state change */
	char *detail; /* the event's detail or the state's reason */
	struct rt_report *next;
};
static pthread_mutex_t rep_lock = PTHREAD_MUTEX_INITIALIZER; /* leaf: the queue */
static pthread_mutex_t deliver_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rt_report *rep_head, *rep_tail;
static _Thread_local bool delivering; /* a report's receiver called back into the runtime */

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct rt_event *q_head, *q_tail;
static bool q_stop;
static pthread_t worker;
static bool worker_started;

/* ---- helpers ---------------------------------------------------------- */

static struct vm_rt *find_locked(const char *uuid)
{
	for (struct vm_rt *v = vms; v; v = v->next)
		if (strcmp(v->uuid, uuid) == 0)
			return v;
	return NULL;
}

static char *vm_dir(const char *uuid) { return xasprintf("%s/%s", cfg.run_dir, uuid); }

/* Queue a report for delivery after rt_lock is released (reports_deliver). */
static void report_queue(const struct vm_rt *v, const char *type, enum vm_state st, const char *detail)
{
	struct rt_report *r = xcalloc(1, sizeof(*r));
	snprintf(r->uuid, sizeof(r->uuid), "%s", v->uuid);
	r->name = xstrdup(v->name);
	r->st = st;
	r->type = type ? xstrdup(type) : NULL;
	r->detail = xstrdup(detail ? detail : "");
	pthread_mutex_lock(&rep_lock);
	if (rep_tail)
		rep_tail->next = r;
	else
		rep_head = r;
	rep_tail = r;
	pthread_mutex_unlock(&rep_lock);
}

static void report_state(const struct vm_rt *v, enum vm_state st, const char *reason)
{
	report_queue(v, NULL, st, reason);
}

static void report_event(const struct vm_rt *v, const char *type, const char *detail)
{
	report_queue(v, type, VM_STOPPED /* unused for events */, detail);
}

static struct rt_report *report_pop(void)
{
	pthread_mutex_lock(&rep_lock);
	struct rt_report *r = rep_head;
	if (r) {
		rep_head = r->next;
		if (!rep_head)
			rep_tail = NULL;
	}
	pthread_mutex_unlock(&rep_lock);
	return r;
}

/* Hand every queued report to the service, in order.  Never under rt_lock. */
static void reports_deliver(void)
{
	struct rt_report *r;

	if (delivering) /* the outer loop of this thread delivers what was queued */
		return;
	pthread_mutex_lock(&deliver_lock);
	delivering = true;
	while ((r = report_pop())) {
		if (!r->type && cfg.on_state)
			cfg.on_state(r->uuid, r->name, r->st, r->detail);
		else if (r->type && cfg.on_event)
			cfg.on_event(r->uuid, r->name, r->type, r->detail);
		free(r->name);
		free(r->type);
		free(r->detail);
		free(r);
	}
	delivering = false;
	pthread_mutex_unlock(&deliver_lock);
}

static void rt_unlock(void)
{
	pthread_mutex_unlock(&rt_lock);
	reports_deliver();
}

/* Record a state change (caller holds rt_lock or owns v exclusively); the
 * service hears of it when rt_lock is released (reports_deliver). */
static void set_state(struct vm_rt *v, enum vm_state st, const char *reason)
{
	if (v->state == st)
		return;
	if (!vmstate_can_transition(v->state, st))
		log_warn("vm %s: unexpected transition %s -> %s", v->name, vmstate_name(v->state), vmstate_name(st));
	v->state = st;
	log_info("vm %s: %s: %s", v->name, vmstate_name(st), reason);
	report_state(v, st, reason);
	pthread_cond_broadcast(&rt_cond);
}

static void vm_event(struct vm_rt *v, const char *type, const char *detail)
{
	log_info("vm %s: %s: %s", v->name, type, detail);
	report_event(v, type, detail);
}

/* Does v's QEMU still run?  Its identity (pid file: pid, start time, boot)
 * and its command line (which holds the uuid) must both match. */
static bool qemu_alive(const struct vm_rt *v)
{
	char path[64];
	struct buf b = BUF_INIT;
	bool ok = false;

	if (!proc_identity_alive(&v->ident))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)v->ident.pid);
	if (fs_read_file(path, 1 << 20, &b) == 0)
		for (size_t i = 0; i < b.len; i += strlen(b.s + i) + 1)
			if (strcmp(b.s + i, v->uuid) == 0)
				ok = true;
	buf_release(&b);
	return ok;
}

/* SIGKILL v's QEMU: through the process registry if this corrald started it,
 * else through its identity (never a recycled pid either way). */
static void qemu_kill(struct vm_rt *v)
{
	if (v->proc.pid)
		proc_signal(&v->proc, SIGKILL);
	else if (qemu_alive(v))
		proc_identity_signal(&v->ident, SIGKILL);
}

/* Wait up to timeout_ms for v's QEMU to be gone (and reaped, when it is our child). */
static bool qemu_wait_gone(struct vm_rt *v, int timeout_ms)
{
	if (v->proc.pid)
		return proc_wait_timeout(&v->proc, timeout_ms) != -ETIMEDOUT;
	for (int64_t end = time_mono_ms() + timeout_ms; qemu_alive(v); time_sleep_ms(20))
		if (time_mono_ms() >= end)
			return false;
	return true;
}

static char *vm_cgroup_name(const char *uuid) { return xasprintf("vm-%s", uuid); }

/* Before its group goes: if the kernel's OOM killer struck in it, say so in why. */
static bool vm_cgroup_oom(const struct vm_rt *v, char *why, size_t size)
{
	struct cgroup_stats st;
	struct cgroup_limits l;
	struct buf err = BUF_INIT;
	__do_free char *name = vm_cgroup_name(v->uuid);
	bool oom = cfg.cgroups && cgroup_vm_stats(cfg.cgroups, name, &st, &err) == 0 && st.has_oom && st.oom_kills;
	if (oom) {
		if (cgroup_vm_get_limits(cfg.cgroups, name, &l, &err) == 0 && l.memory_max)
			snprintf(why, size, "killed by the kernel's OOM killer: QEMU reached the VM's memory limit (%llu MiB)",
				 (unsigned long long)(l.memory_max >> 20));
		else
			snprintf(why, size, "killed by the kernel's OOM killer");
	}
	buf_release(&err);
	return oom;
}

/* Write d's CPU and memory limits to the VM's group (which exists). */
static int vm_cgroup_limits(const char *uuid, const struct vm_def *d, enum accel_mode accel, struct buf *err)
{
	struct cgroup_limits l;
	__do_free char *name = vm_cgroup_name(uuid);
	if (!cfg.cgroups) {
		if (d->limits.cpu_weight || d->limits.cpu_limit_centi || d->limits.cpuset || d->limits.memory_limit_mib > 0) {
			buf_adds(err, "this host has no usable cgroups, so CPU and memory limits cannot be applied");
			return -ENOTSUP;
		}
		return 0;
	}
	if (d->limits.cpuset) {
		int r = cpuset_host_check(d->limits.cpuset, NULL, err);
		if (r < 0)
			return r;
	}
	qemu_limits_cgroup(d, accel, &l);
	return cgroup_vm_set_limits(cfg.cgroups, name, &l, err);
}

/* QEMU is gone: its cgroup goes too. */
static void vm_cgroup_remove(const struct vm_rt *v)
{
	struct buf err = BUF_INIT;
	__do_free char *name = vm_cgroup_name(v->uuid);
	if (cfg.cgroups && cgroup_vm_remove(cfg.cgroups, name, &err) < 0)
		log_warn("vm %s: %s", v->name, err.s);
	buf_release(&err);
}

static void slot_set(struct vm_rt *v, int i, const char *vol, const char *node, const char *file)
{
	snprintf(v->slots[i].vol, sizeof(v->slots[i].vol), "%s", vol);
	snprintf(v->slots[i].node, sizeof(v->slots[i].node), "%s", node);
	snprintf(v->slots[i].file, sizeof(v->slots[i].file), "%s", file);
}

/* The default node names of slot i (argv.h). */
static void slot_set_default(struct vm_rt *v, int i, const char *vol)
{
	char node[32], file[32];
	snprintf(node, sizeof(node), "disk%d", i);
	snprintf(file, sizeof(file), "disk%d-file", i);
	slot_set(v, i, vol, node, file);
}

static void save_slots(struct vm_rt *v)
{
	__do_json json_t *j = json_object();
	json_t *slots = json_object();
	__do_free char *path = qemu_run_path(v->dir, "slots.json");
	char key[8];
	json_object_set_new(j, "ports", json_integer(v->nports));
	json_object_set_new(j, "scsi", json_boolean(v->has_scsi));
	json_object_set_new(j, "cdrom_fdset", json_integer(v->cdrom_fdset));
	for (int i = 0; i < MAX_SLOTS; i++) {
		if (!v->slots[i].vol[0])
			continue;
		snprintf(key, sizeof(key), "%d", i);
		json_object_set_new(slots, key,
				    json_pack("{s:s,s:s,s:s}", "volume", v->slots[i].vol, "node", v->slots[i].node,
					      "file", v->slots[i].file));
	}
	json_object_set_new(j, "slots", slots);
	json_t *nics = json_array();
	for (int i = 0; i < 2 * VM_MAX_NICS; i++)
		if (v->nics[i].mac[0])
			json_array_append_new(nics, json_pack("{s:s,s:s,s:i}", "mac", v->nics[i].mac, "id", v->nics[i].id,
							      "slot", v->nics[i].slot));
	json_object_set_new(j, "nics", nics);
	__do_free char *s = json_to_string(j);
	if (fs_write_file_atomic(path, s, strlen(s), 0600) < 0)
		log_warn("vm %s: cannot save %s", v->name, path);
}

static void load_slots(struct vm_rt *v)
{
	__do_free char *path = qemu_run_path(v->dir, "slots.json");
	struct buf b = BUF_INIT;
	__do_json json_t *j = NULL;
	const char *key;
	json_t *val;
	/* Only a file we wrote: the directory is the qemu user's. */
	if (fs_read_file_mine(path, 1 << 20, &b) == 0)
		j = json_loads(b.s, 0, NULL);
	buf_release(&b);
	if (!j)
		return;
	v->nports = (int)json_integer_value(json_object_get(j, "ports"));
	v->has_scsi = json_is_true(json_object_get(j, "scsi"));
	v->cdrom_fdset = (int)json_integer_value(json_object_get(j, "cdrom_fdset"));
	json_object_foreach(json_object_get(j, "slots"), key, val) {
		int i = atoi(key);
		const char *vol = json_string_value(json_object_get(val, "volume"));
		const char *node = json_string_value(json_object_get(val, "node"));
		const char *file = json_string_value(json_object_get(val, "file"));
		if (i >= 0 && i < MAX_SLOTS && vol && node && file)
			slot_set(v, i, vol, node, file);
	}
	size_t k;
	json_array_foreach(json_object_get(j, "nics"), k, val) {
		const char *mac = json_string_value(json_object_get(val, "mac"));
		const char *id = json_string_value(json_object_get(val, "id"));
		if (k < 2 * VM_MAX_NICS && mac && id) {
			snprintf(v->nics[k].mac, sizeof(v->nics[k].mac), "%s", mac);
			snprintf(v->nics[k].id, sizeof(v->nics[k].id), "%s", id);
			v->nics[k].slot = (int)json_integer_value(json_object_get(val, "slot"));
		}
	}
}

/* Everything in <dir>/<sub> (files only: nothing there has subdirectories), then <sub>. */
static void remove_subdir(const char *dir, const char *sub)
{
	__do_free char *path = qemu_run_path(dir, sub);
	DIR *d = opendir(path);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(path);
}

/* What only a running QEMU needs: sockets, pid file, slots, boot/ copies. */
static void remove_run_files(const char *dir)
{
	static const char *const leaves[] = { "qmp.sock", "serial.sock", "qemu.pid", "slots.json" };
	for (size_t i = 0; i < ARRAY_SIZE(leaves); i++) {
		__do_free char *p = qemu_run_path(dir, leaves[i]);
		unlink(p);
	}
	remove_subdir(dir, "boot");
	qemu_cidata_remove(dir);
}

/* A VM's runtime record, not on the list yet. */
static struct vm_rt *vm_rt_new(const struct vm_record *r)
{
	struct vm_rt *v = xcalloc(1, sizeof(*v));
	v->proc = (struct proc)PROC_INIT;
	snprintf(v->uuid, sizeof(v->uuid), "%s", r->def->uuid);
	snprintf(v->name, sizeof(v->name), "%s", r->def->name);
	v->dir = vm_dir(v->uuid);
	v->state = r->state;
	v->console_fd = -1;
	v->disk_kernel = r->def->boot_mode == BOOT_DISK_KERNEL;
	return v;
}

static void vm_rt_free(struct vm_rt *v)
{
	if (!v)
		return;
	qmp_close(v->qmp);
	proc_release(&v->proc);
	free(v->dir);
	free(v);
}

/* Drop a reference taken by get_active(); the last one frees. */
static void vm_rt_put(struct vm_rt **vp)
{
	struct vm_rt *v = *vp;
	if (!v)
		return;
	pthread_mutex_lock(&rt_lock);
	bool last = --v->refs == 0;
	rt_unlock();
	if (last)
		vm_rt_free(v);
	*vp = NULL;
}
#define __do_put __attribute__((cleanup(vm_rt_put)))

/* ---- events ----------------------------------------------------------- */

static void enqueue(const char *uuid, const char *name, json_t *data)
{
	struct rt_event *e = xcalloc(1, sizeof(*e));
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	e->name = name ? xstrdup(name) : NULL;
	e->data = data ? json_incref(data) : NULL;
	pthread_mutex_lock(&q_lock);
	if (q_tail)
		q_tail->next = e;
	else
		q_head = e;
	q_tail = e;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static void on_qmp_event(void *opaque, const char *event, json_t *data, int64_t ts_ms)
{
	(void)ts_ms;
	enqueue(opaque, event, data);
}

static void on_qmp_eof(void *opaque) { enqueue(opaque, NULL, NULL); }

/* QEMU is gone: decide stopped vs crashed, reap, clean up.  rt_lock held. */
static void handle_exit_locked(struct vm_rt *v)
{
	v->gone = true;
	rt_unlock();
	/* Reaped by the reaper if it is our child; else wait for it to vanish. */
	if (!qemu_wait_gone(v, 2000)) {
		log_warn("vm %s: QMP closed but QEMU (pid %d) still runs; killing it", v->name, (int)v->pid);
		qemu_kill(v);
		qemu_wait_gone(v, 10000);
	}
	char oom[160];
	bool oomed = vm_cgroup_oom(v, oom, sizeof(oom));
	vm_cgroup_remove(v);
	pthread_mutex_lock(&rt_lock);
	remove_run_files(v->dir);
	if (v->stop_requested)
		set_state(v, VM_STOPPED, v->stop_reason);
	else if (v->relaunch)
		set_state(v, VM_STOPPED, RT_REBOOT_REASON);
	else if (v->guest_shutdown)
		set_state(v, VM_STOPPED, "guest shut down");
	else
		set_state(v, VM_CRASHED, oomed ? oom : "qemu exited unexpectedly");
	pthread_cond_broadcast(&rt_cond);
}

static void handle_event(struct rt_event *e)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(e->uuid);
	if (!v || v->gone) {
		rt_unlock();
		return;
	}
	if (!e->name) {
		v->refs++;
		handle_exit_locked(v);
		bool relaunch = v->relaunch && !v->stop_requested;
		for (struct vm_rt **p = &vms; *p; p = &(*p)->next) {
			if (*p == v) {
				*p = v->next;
				v->refs--; /* the list's reference */
				break;
			}
		}
		pthread_cond_broadcast(&rt_cond);
		rt_unlock();
		if (relaunch && cfg.on_reboot)
			cfg.on_reboot(v->uuid, v->name);
		vm_rt_put(&v);
		return;
	}
	struct qmp *q = v->qmp;
	if (strcmp(e->name, "SHUTDOWN") == 0) {
		bool guest = json_is_true(json_object_get(e->data, "guest"));
		const char *reason = json_string_value(json_object_get(e->data, "reason"));
		/* disk-kernel: every reset ends QEMU (-action reboot=shutdown); so
		 * does the power-off of a graceful `vm reboot`.  The service starts
		 * it again with what the boot configuration says now (pygrub). */
		if (v->disk_kernel && !v->stop_requested &&
		    ((reason && (strcmp(reason, "guest-reset") == 0 || strcmp(reason, "host-qmp-system-reset") == 0)) ||
		     (v->reboot_pending && guest))) {
			v->reboot_pending = false;
			v->relaunch = true;
			vm_event(v, "reboot",
				 reason && strcmp(reason, "guest-reset") == 0 ? "guest rebooted; reading its boot configuration again"
				 : "rebooting; reading the boot configuration again");
			rt_unlock();
			qmp_execute(q, "quit", NULL, NULL, QMP_TIMEOUT_MS, NULL);
			return;
		}
		if (v->reboot_pending && guest) {
			v->reboot_pending = false;
			v->resetting = true;
			vm_event(v, "reboot", "guest shut down for reboot; resetting");
			rt_unlock();
			struct buf err = BUF_INIT;
			if (qmp_execute(q, "system_reset", NULL, NULL, QMP_TIMEOUT_MS, &err) < 0 ||
			    qmp_execute(q, "cont", NULL, NULL, QMP_TIMEOUT_MS, &err) < 0)
				log_warn("vm %s: reboot failed: %s", v->name, err.s);
			buf_release(&err);
			return;
		}
		if (reason && strcmp(reason, "host-qmp-quit") == 0) {
			rt_unlock();
			return;
		}
		v->guest_shutdown = guest;
		vm_event(v, "shutdown", reason ? reason : "shutdown");
		rt_unlock();
		/* -no-shutdown keeps QEMU around; a power-off means the VM is done. */
		qmp_execute(q, "quit", NULL, NULL, QMP_TIMEOUT_MS, NULL);
		return;
	}
	if (strcmp(e->name, "STOP") == 0) {
		if (v->state == VM_RUNNING && !v->guest_shutdown && !v->resetting && !v->relaunch)
			set_state(v, VM_PAUSED, "paused");
	} else if (strcmp(e->name, "RESUME") == 0) {
		v->resetting = false;
		if (v->state == VM_PAUSED)
			set_state(v, VM_RUNNING, "resumed");
	} else if (strcmp(e->name, "RESET") == 0) {
		const char *reason = json_string_value(json_object_get(e->data, "reason"));
		vm_event(v, "reset", reason ? reason : "reset");
	} else if (strcmp(e->name, "DEVICE_TRAY_MOVED") == 0) {
		vm_event(v, "cdrom", json_is_true(json_object_get(e->data, "tray-open")) ? "tray opened" : "tray closed");
	} else if (strcmp(e->name, "BLOCK_IO_ERROR") == 0) {
		__do_free char *d = xasprintf(
			"I/O error on %s during %s (action %s%s)",
			json_string_value(json_object_get(e->data, "node-name")) ?: "?",
			json_string_value(json_object_get(e->data, "operation")) ?: "?",
			json_string_value(json_object_get(e->data, "action")) ?: "?",
			json_is_true(json_object_get(e->data, "nospace")) ? ", host disk full" : "");
		vm_event(v, "io-error", d);
	} else if (strcmp(e->name, "DEVICE_DELETED") == 0) {
		const char *dev = json_string_value(json_object_get(e->data, "device"));
		if (dev) {
			snprintf(v->deleted[v->ndeleted % 8], sizeof(v->deleted[0]), "%s", dev);
			v->ndeleted++;
			pthread_cond_broadcast(&rt_cond);
		}
	}
	rt_unlock();
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q_lock);
		while (!q_head && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (!q_head && q_stop) {
			pthread_mutex_unlock(&q_lock);
			return NULL;
		}
		struct rt_event *e = q_head;
		q_head = e->next;
		if (!q_head)
			q_tail = NULL;
		pthread_mutex_unlock(&q_lock);
		handle_event(e);
		json_decref(e->data);
		free(e->name);
		free(e);
	}
}

/* ---- init ------------------------------------------------------------- */

int rt_init(const struct rt_config *c, struct buf *err)
{
	int r;
	cfg = *c;
	cfg.run_dir = xstrdup(c->run_dir);
	cfg.qemu_binary = xstrdup(c->qemu_binary);
	cfg.qemu_user = xstrdup(c->qemu_user ? c->qemu_user : RUNAS_DEFAULT_USER);
	if ((r = fs_mkdir_p(cfg.run_dir, 0700)) < 0) {
		buf_printf(err, "cannot create run directory %s: %s", cfg.run_dir, strerror(-r));
		return r;
	}
	q_stop = false;
	if ((r = pthread_create(&worker, NULL, worker_main, NULL)) != 0) {
		buf_printf(err, "cannot start event thread: %s", strerror(r));
		return -r;
	}
	worker_started = true;
	return 0;
}

void rt_shutdown(void)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *list = vms;
	vms = NULL;
	rt_unlock();
	for (struct vm_rt *v = list, *n; v; v = n) {
		n = v->next;
		vm_rt_free(v); /* closes its QMP connection; QEMU runs on */
	}
	if (worker_started) {
		pthread_mutex_lock(&q_lock);
		q_stop = true;
		pthread_cond_signal(&q_cond);
		pthread_mutex_unlock(&q_lock);
		pthread_join(worker, NULL);
		worker_started = false;
	}
	while (q_head) {
		struct rt_event *e = q_head;
		q_head = e->next;
		json_decref(e->data);
		free(e->name);
		free(e);
	}
	q_tail = NULL;
	free((char *)cfg.run_dir);
	free((char *)cfg.qemu_binary);
	free((char *)cfg.qemu_user);
	cfg.run_dir = cfg.qemu_binary = cfg.qemu_user = NULL;
}

/* Connect QMP and put v on the list.  On failure v is untouched and not listed. */
static int connect_vm(struct vm_rt *v, int timeout_ms, struct buf *err)
{
	__do_free char *sock = qemu_run_path(v->dir, "qmp.sock");
	v->qmp = qmp_connect(sock, timeout_ms, on_qmp_event, on_qmp_eof, v->uuid, err);
	if (!v->qmp)
		return -EIO;
	pthread_mutex_lock(&rt_lock);
	v->refs = 1;
	v->next = vms;
	vms = v;
	rt_unlock();
	return 0;
}

static const char *qmp_status(struct vm_rt *v, struct buf *err)
{
	static __thread char status[32];
	json_t *ret = NULL;
	if (qmp_execute(v->qmp, "query-status", NULL, &ret, QMP_TIMEOUT_MS, err) < 0)
		return NULL;
	snprintf(status, sizeof(status), "%s", json_string_value(json_object_get(ret, "status")) ?: "unknown");
	json_decref(ret);
	return status;
}

static int find_slot(struct vm_rt *v, const char *volume);

/* Re-attached: QEMU keeps its disk limits and balloon target, but a kill -9
 * in the middle of a change may have left them ahead of the stored
 * definition.  Set every disk's (none included) and the target again. */
static void qmp_reapply_limits(struct vm_rt *v, const struct vm_def *d)
{
	struct buf err = BUF_INIT;
	char dev[32];
	for (int i = 0; i < d->ndisks; i++) {
		pthread_mutex_lock(&rt_lock);
		int slot = find_slot(v, d->disks[i].volume);
		rt_unlock();
		if (slot < 0)
			continue;
		snprintf(dev, sizeof(dev), "disk%d", slot);
		if (qemu_disk_io_set(v->qmp, dev, d->disks[i].bus, &d->disks[i].io, &err) < 0)
			log_warn("vm %s: %s", v->name, err.s);
		buf_reset(&err);
	}
	if (d->balloon &&
	    qemu_balloon_set(v->qmp, d->limits.memory_target_mib ? d->limits.memory_target_mib : d->memory_mib, &err) < 0)
		log_warn("vm %s: %s", v->name, err.s);
	buf_release(&err);
}

/*
 * Re-attach to one VM's QEMU (or record that it died meanwhile).  -EAGAIN:
 * QEMU runs but its monitor gave no greeting within timeout_ms; nothing was
 * changed and the caller may try again.
 */
static int attach_one(struct vm_record *r, int timeout_ms)
{
	struct vm_rt *v = vm_rt_new(r);
	struct buf err = BUF_INIT;
	const char *st;

	{
		__do_free char *pidfile = qemu_run_path(v->dir, "qemu.pid");
		proc_identity_load(pidfile, &v->ident);
	}
	v->pid = v->ident.pid;
	if (!qemu_alive(v)) {
		char oom[200];
		bool oomed = vm_cgroup_oom(v, oom + 0, sizeof(oom));
		remove_run_files(v->dir);
		vm_cgroup_remove(v);
		if (r->state == VM_STOPPING || r->state == VM_STARTING)
			set_state(v, VM_STOPPED, "qemu exited while corrald was not running");
		else
			set_state(v, VM_CRASHED, oomed ? oom : "qemu exited while corrald was not running");
		reports_deliver();
		vm_rt_free(v);
		return 0;
	}
	load_slots(v);
	if (connect_vm(v, timeout_ms, &err) < 0) {
		vm_rt_free(v);
		buf_release(&err);
		return -EAGAIN;
	}
	pthread_mutex_lock(&rt_lock);
	vm_event(v, "attach", "re-attached to running QEMU after corrald restart");
	rt_unlock();
	/* The limits as defined now (a kill -9 may have come mid-change). */
	if (accel_resolve(cfg.accel, r->def->accel, &v->accel, &err) < 0)
		v->accel = ACCEL_TCG;
	buf_reset(&err);
	if (vm_cgroup_limits(v->uuid, r->def, v->accel, &err) < 0) {
		log_warn("vm %s: cannot re-apply its limits: %s", v->name, err.s);
		buf_reset(&err);
	}
	qmp_reapply_limits(v, r->def);
	st = qmp_status(v, &err);
	pthread_mutex_lock(&rt_lock);
	if (st && strcmp(st, "shutdown") == 0) {
		v->guest_shutdown = true;
		v->stop_requested = true;
		snprintf(v->stop_reason, sizeof(v->stop_reason), "guest shut down while corrald was not running");
		rt_unlock();
		qmp_execute(v->qmp, "quit", NULL, NULL, QMP_TIMEOUT_MS, NULL);
	} else {
		if (st && strcmp(st, "running") == 0)
			set_state(v, VM_RUNNING, "re-attached");
		else if (st)
			set_state(v, VM_PAUSED, "re-attached (paused)");
		rt_unlock();
	}
	buf_release(&err);
	return 0;
}

void rt_attach_all(void)
{
	struct vm_record *list;
	size_t n, busy = 0;
	if (store_vm_list(cfg.store, &list, &n) < 0)
		return;
	bool *again = xcalloc(n ? n : 1, sizeof(*again));
	for (size_t i = 0; i < n; i++)
		if (vmstate_is_active(list[i].state) && attach_one(&list[i], ATTACH_FIRST_MS) == -EAGAIN)
			again[i] = true, busy++;
	/* A QEMU deep in a memory snapshot (its main loop saving RAM) greets only
	 * when that ends: wait for it rather than leave a running guest
	 * unmanaged, before snapshot and job recovery look at its images. */
	int64_t end = time_mono_ms() + ATTACH_PATIENCE_MS;
	if (busy)
		log_warn("%zu running QEMU%s did not answer on %s monitor yet (busy, e.g. saving a memory snapshot); "
			 "waiting up to %d s", busy, busy > 1 ? "s" : "", busy > 1 ? "their" : "its",
			 ATTACH_PATIENCE_MS / 1000);
	while (busy && time_mono_ms() < end) {
		for (size_t i = 0; i < n; i++)
			if (again[i] && attach_one(&list[i], ATTACH_RETRY_MS) != -EAGAIN)
				again[i] = false, busy--;
	}
	for (size_t i = 0; i < n; i++)
		if (again[i])
			log_warn("vm %s: QEMU runs but its monitor did not answer in %d s; leaving it alone until "
				 "corrald restarts", list[i].def->name, ATTACH_PATIENCE_MS / 1000);
	free(again);
	store_vm_list_free(list, n);
}

/* ---- lifecycle -------------------------------------------------------- */

static int check_file(const char *what, const char *path, struct buf *err)
{
	if (access(path, R_OK) < 0) {
		buf_printf(err, "%s %s: %s", what, path, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* A host file a definition names, through rt_config.open_host. */
static int open_host(const char *what, const char *path, struct buf *err)
{
	int fd;

	if (cfg.open_host)
		return cfg.open_host(what, path, NULL, err);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fd = -errno;
		buf_printf(err, "%s %s: %s", what, path, strerror(-fd));
	}
	return fd;
}

static void rotate_log(const char *dir, const char *name)
{
	__do_free char *log = qemu_run_path(dir, name);
	__do_free char *old = xasprintf("%s.1", log);
	struct stat st;
	if (stat(log, &st) == 0 && st.st_size > CONSOLE_LOG_ROTATE)
		rename(log, old);
}

static char *last_line(const char *s)
{
	struct buf b = BUF_INIT;
	const char *end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	const char *start = end;
	while (start > s && start[-1] != '\n')
		start--;
	buf_add(&b, start, (size_t)(end - start));
	return buf_detach(&b);
}

void rt_boot_choice_release(struct rt_boot_choice *c)
{
	free(c->title);
	free(c->cmdline);
	free(c->entry_kernel);
	free(c->config);
	memset(c, 0, sizeof(*c));
}

/* --boot disk-kernel: the chosen entry's kernel and initrd out of the first
 * disk into <run dir>/boot (rt_config.boot_extract), and the choice recorded. */
static int disk_kernel_prepare(struct vm_rt *v, const struct vm_def *d, const struct vol_record *vols,
			       struct rt_boot_choice *bc, struct buf *err)
{
	__do_free char *dir = qemu_run_path(v->dir, "boot");
	struct buf e = BUF_INIT;
	int r;

	if (d->ndisks == 0) {
		buf_printf(err, "vm %s boots the kernel of its first disk (boot mode disk-kernel) but has no disk",
			   d->name);
		return -EINVAL;
	}
	if (!cfg.boot_extract) {
		buf_printf(err, "vm %s boots the kernel of its first disk, but this corrald cannot read disks", d->name);
		return -ENOTSUP;
	}
	r = cfg.boot_extract(&vols[0], d->boot_entry, dir, bc, &e);
	if (r < 0) {
		buf_printf(err, "cannot boot vm %s from volume %s: %s", d->name, d->disks[0].volume, e.s);
		buf_release(&e);
		return r == -EFBIG ? -EINVAL : r;
	}
	buf_release(&e);
	__do_free char *where = bc->partition ? xasprintf("partition %d", bc->partition) : xstrdup("the whole disk");
	__do_free char *detail = xasprintf("disk-kernel: entry %d '%s' of %s on %s: kernel %s, cmdline '%s'",
					   bc->index, bc->title, bc->config, where, bc->entry_kernel, bc->cmdline);
	vm_event(v, "boot", detail);
	reports_deliver();
	return 0;
}

char *rt_nvram_path(const char *uuid)
{
	if (cfg.nvram_dir)
		return xasprintf("%s/%s.fd", cfg.nvram_dir, uuid);
	return xasprintf("%s/%s/nvram.fd", cfg.run_dir, uuid);
}

int rt_nvram_write(const char *uuid, const void *data, size_t len)
{
	__do_free char *path = rt_nvram_path(uuid);
	__do_free char *dir = xstrdup(path);
	int r;

	*strrchr(dir, '/') = '\0';
	if ((r = fs_mkdir_p(dir, 0700)) < 0)
		return r;
	return fs_write_file_atomic(path, data, len, 0600);
}

char *rt_nvram_snapshot_path(const char *uuid, const char *snapshot)
{
	__do_free char *vars = rt_nvram_path(uuid);
	return xasprintf("%.*s@%s.fd", (int)strlen(vars) - 3, vars, snapshot);
}

/*
 * Every file in the directory of VM uuid's vars whose name starts with
 * "<its name without .fd>@" (its snapshots' copies), for which keep(uuid,
 * snapshot name or NULL, arg) is false (keep NULL: all), is removed.
 */
static void nvram_copies_remove(const char *uuid, bool (*keep)(const char *uuid, const char *name, void *arg),
				void *arg)
{
	__do_free char *vars = rt_nvram_path(uuid);
	char *slash = strrchr(vars, '/');
	struct dirent *e;
	DIR *d;

	*slash = '\0';
	if (!(d = opendir(vars)))
		return;
	size_t plen = strlen(slash + 1) - 3;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= plen || strncmp(e->d_name, slash + 1, plen) != 0 || e->d_name[plen] != '@')
			continue;
		bool named = n > plen + 4 && strcmp(e->d_name + n - 3, ".fd") == 0;
		__do_free char *name = named ? xstrndup(e->d_name + plen + 1, n - plen - 4) : NULL;
		if (keep && keep(uuid, name, arg))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 && keep)
			log_info("removed %s/%s: no snapshot of vm %s holds it", vars, e->d_name, uuid);
	}
	closedir(d);
}

void rt_nvram_snapshots_sweep(bool (*keep)(const char *uuid, const char *name, void *arg), void *arg)
{
	DIR *d = cfg.nvram_dir ? opendir(cfg.nvram_dir) : NULL;
	struct dirent *e;
	char uuid[37], last[37] = "";

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) <= 36 || e->d_name[36] != '@')
			continue;
		memcpy(uuid, e->d_name, 36);
		uuid[36] = '\0';
		if (strcmp(uuid, last) == 0) /* each VM once */
			continue;
		memcpy(last, uuid, sizeof(last));
		nvram_copies_remove(uuid, keep, arg);
	}
	closedir(d);
}

/* --firmware uefi: OVMF's code as installed, and the VM's own NVRAM vars,
 * copied from OVMF's template at its first start and kept after (the boot
 * entries and settings the guest stores there), owned by the qemu user. */
static int uefi_prepare(const struct vm_def *d, char **code, char **vars, struct buf *err)
{
	__do_free char *tmpl = NULL;
	int r;

	qemu_uefi_files(cfg.ovmf_dir ? cfg.ovmf_dir : QEMU_OVMF_DIR, d->secure_boot, code, &tmpl);
	for (int i = 0; i < 2; i++) {
		const char *f = i ? tmpl : *code;
		if (access(f, R_OK) < 0) {
			buf_printf(err, "vm %s boots with UEFI but the firmware file %s is missing: install the ovmf package",
				   d->name, f);
			return -ENOENT;
		}
	}
	*vars = rt_nvram_path(d->uuid);
	if (cfg.nvram_dir) {
		if ((r = fs_mkdir_p(cfg.nvram_dir, 0700)) < 0) {
			buf_printf(err, "cannot create %s: %s", cfg.nvram_dir, strerror(-r));
			return r;
		}
		if ((r = runas_own(cfg.nvram_dir, err)) < 0)
			return r;
	}
	if (!fs_exists(*vars) && (r = fs_copy_file(tmpl, *vars, 0600)) < 0) {
		buf_printf(err, "cannot create the NVRAM file %s of vm %s: %s", *vars, d->name, strerror(-r));
		return r;
	}
	return runas_own(*vars, err);
}

/* --kernel PATH: copy the admin's kernel and initrd (read as root) into
 * <run dir>/boot, where the qemu user can read them, as a disk-kernel boot
 * would have them. */
static int kernel_prepare(struct vm_rt *v, const struct vm_def *d, char **kernel, char **initrd, struct buf *err)
{
	__do_free char *dir = qemu_run_path(v->dir, "boot");
	const char *src[2] = { d->kernel, d->initrd };
	char **dst[2] = { kernel, initrd };
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	for (int i = 0; i < 2 && src[i]; i++) {
		__do_close int fd = open_host(i ? "initrd" : "kernel", src[i], err);
		if (fd < 0)
			return fd;
		*dst[i] = xasprintf("%s/%s", dir, i ? "initrd" : "vmlinuz");
		if ((r = fs_copy_fd(fd, *dst[i], 0600)) < 0) {
			buf_printf(err, "%s %s: %s", i ? "initrd" : "kernel", src[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

/*
 * Hand QEMU what it opens by path: its run dir (and the console log it
 * appends to), the boot/ copies, every disk volume, and read-only the
 * volumes those are linked clones of.  Volumes made by older versions (or
 * by qemu-img as root) are fixed here.
 */
static int own_files(struct vm_rt *v, const struct vol_record *vols, int nvols, struct buf *err)
{
	__do_free char *console = qemu_run_path(v->dir, "console.log");
	__do_free char *boot = qemu_run_path(v->dir, "boot");
	int r;

	if ((r = runas_own(v->dir, err)) < 0 || (fs_exists(console) && (r = runas_own(console, err)) < 0))
		return r;
	if (fs_exists(boot)) {
		static const char *const files[] = { "boot/vmlinuz", "boot/initrd" };
		if ((r = runas_own(boot, err)) < 0)
			return r;
		for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
			__do_free char *f = qemu_run_path(v->dir, files[i]);
			if (fs_exists(f) && (r = runas_own(f, err)) < 0)
				return r;
		}
	}
	for (int i = 0; i < nvols; i++) {
		if ((r = runas_own(vols[i].path, err)) < 0)
			return r;
		__do_free char *backing = vols[i].backing ? xstrdup(vols[i].backing) : NULL;
		for (int depth = 0; backing && depth < 64; depth++) {
			struct vol_record b = { 0 };
			if (store_vol_get(cfg.store, backing, &b) < 0)
				break;
			r = runas_share_readonly(b.path, err);
			free(backing);
			backing = b.backing ? xstrdup(b.backing) : NULL;
			vol_record_release(&b);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* What QEMU's child does between fork and exec (async-signal-safe): enter
 * the VM's cgroup while still root, then become the qemu user. */
struct launch_hook {
	const struct cgroup_vm *cg;
	const struct runas *user;
};

static int launch_hook(void *arg, const char **what)
{
	const struct launch_hook *h = arg;
	int r;
	if (h->cg && (r = cgroup_vm_enter(h->cg)) < 0) {
		*what = "entering the VM's cgroup";
		return r;
	}
	return runas_drop(h->user, what);
}

/* What QEMU printed to its log since offset `from`: its last line. */
static char *log_last_line(const char *dir, off_t from)
{
	__do_free char *path = qemu_run_path(dir, "qemu.log");
	struct buf b = BUF_INIT;
	char *line;
	fs_read_file(path, 4 << 20, &b);
	line = last_line((size_t)from <= b.len ? b.s + from : b.s);
	buf_release(&b);
	return line;
}

/*
 * Started QEMU: wait until its monitor answers (then v is on the list) or it
 * exits.  0, or -EIO with err saying why ("qemu failed to start: <its last
 * line>").
 */
static int launch_wait(struct vm_rt *v, off_t log_from, struct buf *err)
{
	__do_free char *sock = qemu_run_path(v->dir, "qmp.sock");
	int64_t deadline = time_mono_ms() + QEMU_START_TIMEOUT_MS;
	struct buf qerr = BUF_INIT;
	int st = -ETIMEDOUT, r = -EIO;

	while (!fs_exists(sock) && time_mono_ms() < deadline)
		if ((st = proc_wait_timeout(&v->proc, 10)) != -ETIMEDOUT)
			break;
	if (st == -ETIMEDOUT && fs_exists(sock)) {
		int left = (int)(deadline - time_mono_ms());
		if (connect_vm(v, left > 1000 ? left : 1000, &qerr) == 0) {
			buf_release(&qerr);
			return 0;
		}
		st = proc_wait_timeout(&v->proc, 200);
	}
	if (st != -ETIMEDOUT) {
		__do_free char *msg = log_last_line(v->dir, log_from);
		if (*msg)
			buf_printf(err, "qemu failed to start: %s", msg);
		else
			buf_printf(err, "qemu failed to start: it exited with status %d", st);
		if (strstr(msg, "Permission denied") && runas_active())
			buf_printf(err, " (QEMU runs as user %s: it needs search permission on every directory "
				   "above its files)", cfg.qemu_user);
	} else if (qerr.len) {
		buf_printf(err, "qemu started but its monitor does not answer: %s", qerr.s);
	} else {
		buf_printf(err, "qemu did not open its monitor socket within %d s", QEMU_START_TIMEOUT_MS / 1000);
	}
	buf_release(&qerr);
	return r;
}

static bool wait_gone(const char *uuid, int timeout_ms);

/* After launch, guest not yet run: each disk's I/O limits, the balloon. */
static int qmp_setup_limits(struct vm_rt *v, const struct vm_def *d, struct buf *err)
{
	char dev[32];
	int r;
	for (int i = 0; i < d->ndisks; i++) {
		if (!vmdisk_io_any(&d->disks[i].io))
			continue;
		snprintf(dev, sizeof(dev), "disk%d", i);
		if ((r = qemu_disk_io_set(v->qmp, dev, d->disks[i].bus, &d->disks[i].io, err)) < 0)
			return r;
	}
	if (d->balloon) {
		struct buf e = BUF_INIT;
		if (qemu_balloon_stats_enable(v->qmp, &e) < 0)
			log_warn("vm %s: %s", v->name, e.s);
		buf_release(&e);
		if (d->limits.memory_target_mib && (r = qemu_balloon_set(v->qmp, d->limits.memory_target_mib, err)) < 0)
			return r;
	}
	return 0;
}

static int start(const char *uuid, bool paused, bool incoming, struct buf *err)
{
	struct vm_record rec = { 0 };
	struct qemu_launch l = { 0 };
	struct vol_record vols[VM_MAX_DISKS] = { 0 };
	struct cmd c = CMD_INIT;
	struct vm_rt *v = NULL;
	struct rt_boot_choice bc = { 0 };
	__do_free char *boot_kernel = NULL, *boot_initrd = NULL, *cidata = NULL, *uefi_code = NULL,
		       *uefi_vars = NULL;
	struct cgroup_vm cg = CGROUP_VM_INIT;
	struct runas user;
	struct buf why = BUF_INIT;
	__do_close int cdrom = -EBADF;
	int taps[VM_MAX_NICS];
	__do_free char *log = NULL, *pidfile = NULL, *cgname = vm_cgroup_name(uuid);
	enum accel_mode accel;
	bool launched = false;
	int r, nvols = 0;

	for (int i = 0; i < VM_MAX_NICS; i++)
		taps[i] = -EBADF;
	if ((r = store_vm_get(cfg.store, uuid, &rec)) < 0) {
		buf_adds(err, "vm not found");
		return r;
	}
	if (rec.invalid) { /* rec.def is the store's placeholder */
		buf_printf(err, "its stored definition is invalid (%s)", rec.invalid);
		r = -EINVAL;
		goto out;
	}
	pthread_mutex_lock(&rt_lock);
	bool running = find_locked(uuid) != NULL;
	rt_unlock();
	if (running) {
		buf_adds(err, "vm is already running");
		r = -EBUSY;
		goto out;
	}
	if ((r = runas_lookup(cfg.qemu_user, &user, err)) < 0)
		goto out;
	runas_set_owner(&user);
	if (accel_resolve(cfg.accel, rec.def->accel, &accel, err) < 0) {
		r = -ENOTSUP;
		goto out;
	}
	for (int i = 0; i < rec.def->ndisks; i++) {
		if (store_vol_get(cfg.store, rec.def->disks[i].volume, &vols[i]) < 0) {
			buf_printf(err, "disk volume '%s' does not exist", rec.def->disks[i].volume);
			r = -ENOENT;
			goto out;
		}
		nvols++;
		if ((r = check_file("disk volume", vols[i].path, err)) < 0)
			goto out;
		l.disk_path[i] = vols[i].path;
		l.disk_format[i] = vols[i].format;
	}
	/* The admin's ISO: opened here, as root, and handed to QEMU as an fd. */
	if (rec.def->cdrom && (cdrom = open_host("cdrom image", rec.def->cdrom, err)) < 0) {
		r = cdrom;
		goto out;
	}

	v = vm_rt_new(&rec);
	if (strlen(v->dir) + sizeof("/serial.sock") > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		buf_printf(err, "run directory path %s is too long for unix sockets; use a shorter --run-dir", v->dir);
		r = -ENAMETOOLONG;
		goto out;
	}
	if ((r = fs_mkdir_p(v->dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", v->dir, strerror(-r));
		goto out;
	}
	remove_run_files(v->dir);
	rotate_log(v->dir, "console.log");
	rotate_log(v->dir, "qemu.log");

	if (rec.def->boot_mode == BOOT_DISK_KERNEL) {
		if ((r = disk_kernel_prepare(v, rec.def, vols, &bc, err)) < 0)
			goto out;
		boot_kernel = qemu_run_path(v->dir, "boot/vmlinuz");
		boot_initrd = bc.initrd ? qemu_run_path(v->dir, "boot/initrd") : NULL;
	}
	if (rec.def->boot_mode == BOOT_KERNEL && (r = kernel_prepare(v, rec.def, &boot_kernel, &boot_initrd, err)) < 0)
		goto out;
	/* The cloud-init seed, made again from the definition at every start
	 * (and by a migration's destination): the QEMU account's to read. */
	if (rec.def->cloudinit && ((r = qemu_cidata_build(rec.def, cfg.run_dir, v->dir, &cidata, err)) < 0 ||
				   (r = runas_own(cidata, err)) < 0))
		goto out;
	if ((r = own_files(v, vols, nvols, err)) < 0)
		goto out;
	if (rec.def->firmware == FIRMWARE_UEFI && (r = uefi_prepare(rec.def, &uefi_code, &uefi_vars, err)) < 0)
		goto out;
	if (cfg.cgroups && (r = cgroup_vm_create(cfg.cgroups, cgname, &cg, err)) < 0)
		goto out;
	/* Limited before QEMU enters the group: it never runs without them. */
	if ((r = vm_cgroup_limits(uuid, rec.def, accel, err)) < 0)
		goto out;
	v->accel = accel;
	/* Disk I/O limits and the balloon target go over QMP before the guest's first instruction. */
	bool qmp_setup = rec.def->limits.memory_target_mib > 0;
	for (int i = 0; i < rec.def->ndisks; i++)
		qmp_setup |= vmdisk_io_any(&rec.def->disks[i].io);
	l.boot_kernel = boot_kernel;
	l.boot_initrd = boot_initrd;
	l.cidata_path = cidata;
	l.uefi_code = uefi_code;
	l.uefi_vars = uefi_vars;
	l.boot_cmdline = bc.cmdline && *bc.cmdline ? bc.cmdline : NULL;
	l.def = rec.def;
	l.binary = cfg.qemu_binary;
	l.run_dir = v->dir;
	l.accel = accel;
	l.paused = paused || qmp_setup;
	l.incoming = incoming;
	if (cdrom >= 0) {
		l.cdrom_fd = QEMU_CDROM_FD;
		l.cdrom_fdset = QEMU_CDROM_FDSET;
		v->cdrom_fdset = QEMU_CDROM_FDSET;
		cmd_keep_fd(&c, cdrom, QEMU_CDROM_FD);
	}
	/* Network NICs: taps made by the service layer, handed over as fds. */
	for (int i = 0; i < rec.def->nnics; i++) {
		if (rec.def->nics[i].mode != NIC_NETWORK)
			continue;
		if (!cfg.nic_open) {
			buf_adds(err, "NICs on networks are not available here");
			r = -ENOTSUP;
			goto out;
		}
		if ((taps[i] = cfg.nic_open(rec.def, i, err)) < 0) {
			r = taps[i];
			goto out;
		}
		l.tap_fd[i] = QEMU_TAP_FD + i;
		if ((r = cmd_keep_fd(&c, taps[i], QEMU_TAP_FD + i)) < 0) {
			buf_adds(err, "too many descriptors to hand to QEMU");
			goto out;
		}
	}
	if (qemu_build_argv(&l, &c, err) < 0) {
		r = -EINVAL;
		goto out;
	}
	v->nports = rec.def->ndisks + rec.def->hotplug_ports;
	for (int i = 0; i < rec.def->nnics; i++) {
		snprintf(v->nics[i].mac, sizeof(v->nics[i].mac), "%s", rec.def->nics[i].mac);
		snprintf(v->nics[i].id, sizeof(v->nics[i].id), "net%d", i);
		v->nics[i].slot = -1;
	}
	for (int i = 0; i < rec.def->ndisks; i++) {
		slot_set_default(v, i, rec.def->disks[i].volume);
		if (rec.def->disks[i].bus == DISK_BUS_SCSI)
			v->has_scsi = true;
	}

	/* A direct child in its own session, cgroup and user; output to qemu.log. */
	struct launch_hook hook = { cfg.cgroups ? &cg : NULL, &user };
	struct stat lst;
	log = qemu_run_path(v->dir, "qemu.log");
	off_t log_from = stat(log, &lst) == 0 ? lst.st_size : 0;
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.new_session = true;
	c.pre_exec = launch_hook;
	c.pre_exec_arg = &hook;
	set_state(v, VM_STARTING, accel == ACCEL_KVM ? "starting (kvm)" : "starting (tcg)");
	reports_deliver();
	if ((r = cmd_start(&c, &v->proc, &why)) < 0) {
		buf_printf(err, "qemu failed to start: %s", why.s);
		r = -EIO;
		goto fail;
	}
	launched = true;
	v->pid = v->proc.pid;
	if (proc_identity_get(v->pid, &v->ident) < 0)
		v->ident.pid = v->pid; /* exited already: launch_wait reports it */
	pidfile = qemu_run_path(v->dir, "qemu.pid");
	if ((r = proc_identity_save(pidfile, &v->ident)) < 0)
		log_warn("vm %s: cannot write %s: %s", v->name, pidfile, strerror(-r));
	save_slots(v);
	if ((r = launch_wait(v, log_from, err)) < 0)
		goto fail;
	if ((r = qmp_setup_limits(v, rec.def, err)) < 0 ||
	    (qmp_setup && !paused && (r = qmp_execute(v->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS, err)) < 0)) {
		/* v is listed now: the exit handler reports the stop (with why) and frees it */
		pthread_mutex_lock(&rt_lock);
		v->stop_requested = true;
		v->stop_gen++;
		snprintf(v->stop_reason, sizeof(v->stop_reason), "%s", err->s);
		rt_unlock();
		qemu_kill(v);
		wait_gone(uuid, 10000);
		v = NULL;
		r = -EIO;
		goto out;
	}
	pthread_mutex_lock(&rt_lock);
	if (find_locked(uuid) == v && !v->gone)
		set_state(v, paused ? VM_PAUSED : VM_RUNNING,
			  incoming ? "waiting for an incoming migration" : paused ? "started paused" : "started");
	rt_unlock();
	v = NULL; /* owned by the list now */
	r = 0;
	goto out;
fail:
	if (launched) {
		qemu_kill(v);
		qemu_wait_gone(v, 10000);
	}
	remove_run_files(v->dir);
	set_state(v, VM_STOPPED, err->s);
	reports_deliver();
	r = -EIO;
out:
	/* QEMU holds the taps now (or failed: then they vanish with our copy). */
	for (int i = 0; i < VM_MAX_NICS; i++)
		if (taps[i] >= 0)
			close(taps[i]);
	if (v && cfg.cgroups)
		vm_cgroup_remove(v);
	cgroup_vm_release(&cg);
	rt_boot_choice_release(&bc);
	vm_rt_free(v);
	for (int i = 0; i < nvols; i++)
		vol_record_release(&vols[i]);
	vm_record_release(&rec);
	cmd_release(&c);
	buf_release(&why);
	return r;
}

int rt_start(const char *uuid, struct buf *err) { return start(uuid, false, false, err); }
int rt_start_paused(const char *uuid, struct buf *err) { return start(uuid, true, false, err); }
int rt_start_incoming(const char *uuid, struct buf *err) { return start(uuid, true, true, err); }

/* Look up an attached VM, take a reference (drop it with vm_rt_put) and its QMP handle. */
static struct vm_rt *get_active(const char *uuid, struct qmp **q, struct buf *err)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	if (!v || v->gone || !v->qmp) {
		rt_unlock();
		if (err)
			buf_adds(err, "vm is not running");
		return NULL;
	}
	*q = v->qmp;
	v->refs++;
	rt_unlock();
	return v;
}

/* Wait until the VM with uuid is gone, or timeout, or stop(opaque) says so
 * (polled every 100 ms; stop may be NULL).  true if gone. */
static bool wait_gone_until(const char *uuid, int timeout_ms, bool (*stop)(const void *), const void *opaque)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	bool gone;
	pthread_mutex_lock(&rt_lock);
	for (;;) {
		gone = find_locked(uuid) == NULL;
		if (gone || time_mono_ms() >= deadline || (stop && stop(opaque)))
			break;
		struct timespec ts = time_realtime_in(100);
		pthread_cond_timedwait(&rt_cond, &rt_lock, &ts);
	}
	rt_unlock();
	return gone;
}

static bool wait_gone(const char *uuid, int timeout_ms) { return wait_gone_until(uuid, timeout_ms, NULL, NULL); }

static int do_kill(const char *uuid, const char *reason, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	v->stop_requested = true;
	v->stop_gen++;
	snprintf(v->stop_reason, sizeof(v->stop_reason), "%s", reason);
	rt_unlock();
	qmp_execute(q, "quit", NULL, NULL, 3000, NULL);
	if (wait_gone(uuid, 5000))
		return 0;
	qemu_kill(v);
	if (!wait_gone(uuid, 10000)) {
		buf_adds(err, "qemu did not exit after SIGKILL");
		return -EIO;
	}
	return 0;
}

int rt_kill(const char *uuid, struct buf *err) { return do_kill(uuid, "killed by user", err); }

int rt_pidfd(const char *uuid)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	int fd = -ESRCH;
	if (v && !v->gone && v->ident.pid > 0) {
		fd = (int)syscall(SYS_pidfd_open, v->ident.pid, 0);
		if (fd < 0) {
			fd = -errno;
		} else if (!proc_identity_alive(&v->ident)) { /* the pid names another process now */
			close(fd);
			fd = -ESRCH;
		}
	}
	rt_unlock();
	return fd;
}

int rt_fence(const char *uuid, const char *reason, struct buf *err)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	if (!v || v->gone) {
		rt_unlock();
		buf_adds(err, "vm is not running");
		return -ESRCH;
	}
	v->stop_requested = true;
	v->stop_gen++;
	snprintf(v->stop_reason, sizeof(v->stop_reason), "%s", reason);
	/* pidfd of the process whose start time and boot id we recorded: never a recycled pid */
	int r = proc_identity_signal(&v->ident, SIGKILL);
	rt_unlock();
	if (r == -ESRCH)
		return 1; /* dead already (the guard killed it): its exit records `reason` */
	if (r < 0) {
		buf_printf(err, "cannot kill qemu: %s", strerror(-r));
		return r;
	}
	return 0;
}
int rt_kill_reason(const char *uuid, const char *reason, struct buf *err) { return do_kill(uuid, reason, err); }

int rt_stop(const char *uuid, int timeout_s, enum rt_stop_how how, const char *by, bool (*cancelled)(const void *),
	    const void *opaque, struct buf *err)
{
	return rt_stop_nudged(uuid, timeout_s, how, by, cancelled, opaque, NULL, err);
}

/* Wait for the guest to go; halfway (nudge->after_s) try the nudge once. */
static bool wait_gone_nudged(const char *uuid, int timeout_s, bool (*cancelled)(const void *), const void *opaque,
			     const struct rt_stop_nudge *nudge)
{
	if (!nudge || nudge->after_s <= 0 || nudge->after_s >= timeout_s)
		return wait_gone_until(uuid, timeout_s * 1000, cancelled, opaque);
	if (wait_gone_until(uuid, nudge->after_s * 1000, cancelled, opaque))
		return true;
	if (cancelled && cancelled(opaque))
		return false;
	if (nudge->fn(nudge->arg) == 0) {
		char what[200];
		snprintf(what, sizeof(what), "the guest ignored the power button for %d s; asked %s to power off",
			 nudge->after_s, nudge->what);
		pthread_mutex_lock(&rt_lock);
		struct vm_rt *v = find_locked(uuid);
		if (v)
			vm_event(v, "stop", what);
		rt_unlock();
	}
	return wait_gone_until(uuid, (timeout_s - nudge->after_s) * 1000, cancelled, opaque);
}

int rt_stop_nudged(const char *uuid, int timeout_s, enum rt_stop_how how, const char *by,
		   bool (*cancelled)(const void *), const void *opaque, const struct rt_stop_nudge *nudge,
		   struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = NULL;
	int r;

	char reason[160];
	if (how == RT_STOP_FORCE) {
		snprintf(reason, sizeof(reason), "stopped by %s (forced: killed at once)", by);
		return (r = do_kill(uuid, reason, err)) < 0 ? r : 1;
	}
	if (!(v = get_active(uuid, &q, err)))
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	bool paused = v->state == VM_PAUSED;
	v->stop_requested = true;
	unsigned gen = ++v->stop_gen;
	snprintf(v->stop_reason, sizeof(v->stop_reason), "stopped by %s (the guest powered off)", by);
	set_state(v, VM_STOPPING, "graceful shutdown requested (ACPI power button)");
	rt_unlock();
	/* A paused guest cannot see the power button. */
	if (paused && (r = qmp_execute(q, "cont", NULL, NULL, QMP_TIMEOUT_MS, err)) < 0)
		return r;
	if ((r = qmp_execute(q, "system_powerdown", NULL, NULL, QMP_TIMEOUT_MS, err)) < 0) {
		if (r == -EPIPE && wait_gone(uuid, 5000))
			return 0;
		return r;
	}
	if (wait_gone_nudged(uuid, timeout_s, cancelled, opaque, nudge))
		return 0;
	bool stop_cancelled = cancelled && cancelled(opaque);
	if (stop_cancelled || how == RT_STOP_WAIT) {
		/* Back to running: a later power-off by the guest is its own shutdown. */
		char why[160];
		if (stop_cancelled)
			snprintf(why, sizeof(why), "stop cancelled (the guest may still act on the power button)");
		else
			snprintf(why, sizeof(why), "stop timed out: the guest ignored the power button for %d s; not killed",
				 timeout_s);
		pthread_mutex_lock(&rt_lock);
		if (find_locked(uuid) == v && !v->gone && v->stop_gen == gen) {
			v->stop_requested = false;
			set_state(v, VM_RUNNING, why);
		}
		rt_unlock();
		if (stop_cancelled) {
			buf_adds(err, "stop cancelled; the guest keeps running");
			return -ECANCELED;
		}
		buf_printf(err,
			   "the guest ignored the ACPI power button for %d s and keeps running (not killed); "
			   "kill it with 'corral vm stop --force', or wait and then kill with '--timeout SECS --kill'",
			   timeout_s);
		return -ETIMEDOUT;
	}
	snprintf(reason, sizeof(reason), "stopped by %s (guest ignored the power button for %d s; killed)", by,
		 timeout_s);
	return (r = do_kill(uuid, reason, err)) < 0 ? r : 1;
}

int rt_reboot(const char *uuid, bool force, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	if (!v)
		return -EBUSY;
	if (force) {
		pthread_mutex_lock(&rt_lock);
		vm_event(v, "reboot", "hard reset by user");
		rt_unlock();
		return qmp_execute(q, "system_reset", NULL, NULL, QMP_TIMEOUT_MS, err);
	}
	pthread_mutex_lock(&rt_lock);
	v->reboot_pending = true;
	vm_event(v, "reboot", "graceful reboot requested (ACPI power button, then reset)");
	rt_unlock();
	return qmp_execute(q, "system_powerdown", NULL, NULL, QMP_TIMEOUT_MS, err);
}

static int pause_resume(const char *uuid, bool pause, const char *reason, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	int r;
	if (!v)
		return -EBUSY;
	if ((r = qmp_execute(q, pause ? "stop" : "cont", NULL, NULL, QMP_TIMEOUT_MS, err)) < 0)
		return r;
	pthread_mutex_lock(&rt_lock);
	if (find_locked(uuid) == v && !v->gone) { /* v keeps its reference: the cleanup drops it */
		enum vm_state st = pause ? VM_PAUSED : VM_RUNNING;
		if (v->state == st) { /* paused already (an incoming migration): the new reason is the news */
			log_info("vm %s: %s: %s", v->name, vmstate_name(st), reason);
			report_state(v, st, reason);
		} else {
			set_state(v, st, reason);
		}
	}
	rt_unlock();
	return 0;
}

int rt_pause(const char *uuid, struct buf *err) { return pause_resume(uuid, true, "paused by user", err); }
int rt_resume(const char *uuid, struct buf *err) { return pause_resume(uuid, false, "resumed by user", err); }
int rt_pause_reason(const char *uuid, const char *reason, struct buf *err)
{
	return pause_resume(uuid, true, reason, err);
}
int rt_resume_reason(const char *uuid, const char *reason, struct buf *err)
{
	return pause_resume(uuid, false, reason, err);
}

/* ---- devices ---------------------------------------------------------- */

static int find_slot(struct vm_rt *v, const char *volume)
{
	for (int i = 0; i < MAX_SLOTS; i++)
		if (strcmp(v->slots[i].vol, volume) == 0)
			return i;
	return -1;
}

int rt_disk_attach(const char *uuid, const char *volume, const char *path, const char *format,
		   enum disk_bus bus, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char node[32];
	int slot = -1, r;

	if (!v)
		return -EBUSY;
	if (bus == DISK_BUS_IDE) {
		buf_adds(err, "IDE disks cannot be hot-plugged; use bus virtio or scsi, or attach while the VM is stopped");
		return -ENOTSUP;
	}
	pthread_mutex_lock(&rt_lock);
	if (bus == DISK_BUS_SCSI && !v->has_scsi) {
		rt_unlock();
		buf_adds(err, "this VM has no SCSI controller (it gets one when started with a SCSI disk); use bus virtio");
		return -ENOTSUP;
	}
	int limit = bus == DISK_BUS_VIRTIO ? v->nports : MAX_SLOTS;
	for (int i = 0; i < limit && i < MAX_SLOTS; i++) {
		if (!v->slots[i].vol[0]) {
			slot = i;
			break;
		}
	}
	rt_unlock();
	if (slot < 0) {
		buf_printf(err, "no free hot-plug port left (this VM has %d); raise hotplug_ports while it is stopped",
			   v->nports);
		return -ENOSPC;
	}
	if ((r = runas_own(path, err)) < 0)
		return r;
	if ((r = qmp_execute(q, "blockdev-add", qemu_blockdev_file(slot, path, 0), NULL, QMP_TIMEOUT_MS, err)) < 0)
		return r;
	if ((r = qmp_execute(q, "blockdev-add", qemu_blockdev_format(slot, format, 0), NULL, QMP_TIMEOUT_MS, err)) < 0)
		goto undo_file;
	if ((r = qmp_execute(q, "device_add", qemu_disk_device(slot, bus, 0, 0), NULL, QMP_TIMEOUT_MS, err)) < 0)
		goto undo_format;
	pthread_mutex_lock(&rt_lock);
	slot_set_default(v, slot, volume);
	save_slots(v);
	{
		__do_free char *d = xasprintf("disk %s hot-plugged (%s, slot %d)", volume, disk_bus_name(bus), slot);
		vm_event(v, "disk", d);
	}
	rt_unlock();
	return 0;
undo_format:
	snprintf(node, sizeof(node), "disk%d", slot);
	qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, QMP_TIMEOUT_MS, NULL);
undo_file:
	snprintf(node, sizeof(node), "disk%d-file", slot);
	qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, QMP_TIMEOUT_MS, NULL);
	return r;
}

/* After device_del of `id`: wait (15 s) for QEMU's DEVICE_DELETED.  Clear v->deleted before the device_del. */
static bool wait_device_deleted(struct vm_rt *v, const char *uuid, const char *id)
{
	bool deleted = false;
	int64_t deadline = time_mono_ms() + 15000;
	pthread_mutex_lock(&rt_lock);
	while (!deleted && time_mono_ms() < deadline && find_locked(uuid)) {
		for (int i = 0; i < 8; i++)
			if (strcmp(v->deleted[i], id) == 0)
				deleted = true;
		if (deleted)
			break;
		struct timespec ts = time_realtime_in(1000);
		pthread_cond_timedwait(&rt_cond, &rt_lock, &ts);
	}
	rt_unlock();
	return deleted;
}

int rt_disk_detach(const char *uuid, const char *volume, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char id[32], node[32], file[32];
	int r, slot;
	bool deleted = false;

	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	slot = find_slot(v, volume);
	for (int i = 0; i < 8; i++)
		v->deleted[i][0] = '\0';
	rt_unlock();
	if (slot < 0) {
		buf_printf(err, "volume '%s' is not attached to the running VM", volume);
		return -ENOENT;
	}
	snprintf(id, sizeof(id), "disk%d", slot);
	pthread_mutex_lock(&rt_lock);
	snprintf(node, sizeof(node), "%s", v->slots[slot].node);
	snprintf(file, sizeof(file), "%s", v->slots[slot].file);
	rt_unlock();
	if ((r = qmp_execute(q, "device_del", json_pack("{s:s}", "id", id), NULL, QMP_TIMEOUT_MS, err)) < 0)
		return r;
	if (!(deleted = wait_device_deleted(v, uuid, id))) {
		buf_printf(err, "the guest did not release disk %s within 15 s (does it support PCIe hot-unplug?)",
			   volume);
		return -ETIMEDOUT;
	}
	qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, QMP_TIMEOUT_MS, NULL);
	qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", file), NULL, QMP_TIMEOUT_MS, NULL);
	pthread_mutex_lock(&rt_lock);
	if (find_locked(uuid) == v) {
		v->slots[slot].vol[0] = '\0';
		save_slots(v);
		__do_free char *d = xasprintf("disk %s hot-unplugged", volume);
		vm_event(v, "disk", d);
	}
	rt_unlock();
	return 0;
}

int rt_nic_attach(const char *uuid, int tap_fd, const char *mac, enum nic_model model, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char id[16], dev[24], fdname[24], tag[24];
	int slot = -1, k = -1, r;

	if (!v)
		return -EBUSY;
	/* QEMU ids: letters, digits, '-': hn + the MAC's hex digits */
	int n = snprintf(id, sizeof(id), "hn");
	for (const char *c = mac + 9; *c && n < (int)sizeof(id) - 1; c++)
		if (*c != ':')
			id[n++] = *c;
	id[n] = '\0';
	snprintf(dev, sizeof(dev), "%s-dev", id);
	snprintf(fdname, sizeof(fdname), "fd-%s", id);
	snprintf(tag, sizeof(tag), "nic:%s", mac);
	pthread_mutex_lock(&rt_lock);
	for (int i = 0; i < v->nports && i < MAX_SLOTS; i++) {
		if (!v->slots[i].vol[0]) {
			slot = i;
			break;
		}
	}
	for (int i = 0; i < 2 * VM_MAX_NICS && k < 0; i++)
		if (!v->nics[i].mac[0])
			k = i;
	if (slot >= 0 && k >= 0) {
		slot_set(v, slot, tag, "", "");
		snprintf(v->nics[k].mac, sizeof(v->nics[k].mac), "%s", mac);
		snprintf(v->nics[k].id, sizeof(v->nics[k].id), "%s", id);
		v->nics[k].slot = slot;
	}
	rt_unlock();
	if (slot < 0 || k < 0) {
		buf_printf(err, "no free hot-plug port left (this VM has %d); raise hotplug_ports while it is stopped",
			   v->nports);
		return -ENOSPC;
	}
	char bus[16];
	snprintf(bus, sizeof(bus), "rp%d", slot);
	if ((r = qmp_execute_fd(q, "getfd", json_pack("{s:s}", "fdname", fdname), tap_fd, NULL, QMP_TIMEOUT_MS, err)) <
	    0)
		goto fail;
	if ((r = qmp_execute(q, "netdev_add",
			     json_pack("{s:s,s:s,s:s,s:b}", "type", "tap", "id", id, "fd", fdname, "vhost", 0), NULL,
			     QMP_TIMEOUT_MS, err)) < 0) {
		qmp_execute(q, "closefd", json_pack("{s:s}", "fdname", fdname), NULL, QMP_TIMEOUT_MS, NULL);
		goto fail;
	}
	if ((r = qmp_execute(q, "device_add",
			     json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver",
				       model == NIC_E1000 ? "e1000" : "virtio-net-pci", "id", dev, "netdev", id, "mac",
				       mac, "bus", bus),
			     NULL, QMP_TIMEOUT_MS, err)) < 0) {
		qmp_execute(q, "netdev_del", json_pack("{s:s}", "id", id), NULL, QMP_TIMEOUT_MS, NULL);
		goto fail;
	}
	pthread_mutex_lock(&rt_lock);
	if (find_locked(uuid) == v) {
		save_slots(v);
		__do_free char *d = xasprintf("NIC %s hot-plugged", mac);
		vm_event(v, "nic", d);
	}
	rt_unlock();
	return 0;
fail:
	pthread_mutex_lock(&rt_lock);
	v->slots[slot].vol[0] = '\0';
	v->nics[k].mac[0] = '\0';
	rt_unlock();
	return r;
}

int rt_nic_detach(const char *uuid, const char *mac, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char id[16], dev[24];
	int k = -1, r;

	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	for (int i = 0; i < 2 * VM_MAX_NICS; i++)
		if (strcasecmp(v->nics[i].mac, mac) == 0)
			k = i;
	if (k >= 0) {
		snprintf(id, sizeof(id), "%s", v->nics[k].id);
		snprintf(dev, sizeof(dev), "%s-dev", id);
	}
	for (int i = 0; i < 8; i++)
		v->deleted[i][0] = '\0';
	rt_unlock();
	if (k < 0) {
		buf_printf(err, "NIC %s is not plugged into the running VM", mac);
		return -ENOENT;
	}
	if (v->nics[k].slot < 0) {
		buf_printf(err, "NIC %s was there when the VM started (on the root bus, which has no hot-unplug): "
			   "remove it while the VM is stopped", mac);
		return -ENOTSUP;
	}
	if ((r = qmp_execute(q, "device_del", json_pack("{s:s}", "id", dev), NULL, QMP_TIMEOUT_MS, err)) < 0)
		return r;
	if (!wait_device_deleted(v, uuid, dev)) {
		buf_printf(err, "the guest did not release NIC %s within 15 s (does it support PCIe hot-unplug?)", mac);
		return -ETIMEDOUT;
	}
	/* the netdev goes, and with QEMU's last descriptor the tap */
	qmp_execute(q, "netdev_del", json_pack("{s:s}", "id", id), NULL, QMP_TIMEOUT_MS, NULL);
	pthread_mutex_lock(&rt_lock);
	if (find_locked(uuid) == v) {
		if (v->nics[k].slot >= 0 && v->nics[k].slot < MAX_SLOTS)
			v->slots[v->nics[k].slot].vol[0] = '\0';
		v->nics[k].mac[0] = '\0';
		save_slots(v);
		__do_free char *d = xasprintf("NIC %s hot-unplugged", mac);
		vm_event(v, "nic", d);
	}
	rt_unlock();
	return 0;
}

int rt_nic_link(const char *uuid, const char *mac, bool up, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char dev[24];
	int k = -1;

	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	for (int i = 0; i < 2 * VM_MAX_NICS; i++)
		if (strcasecmp(v->nics[i].mac, mac) == 0)
			k = i;
	if (k >= 0)
		snprintf(dev, sizeof(dev), "%s-dev", v->nics[k].id);
	rt_unlock();
	if (k < 0) {
		buf_printf(err, "NIC %s is not plugged into the running VM", mac);
		return -ENOENT;
	}
	int r = qmp_execute(q, "set_link", json_pack("{s:s,s:b}", "name", dev, "up", up), NULL, QMP_TIMEOUT_MS, err);
	if (r == 0) {
		pthread_mutex_lock(&rt_lock);
		__do_free char *d = xasprintf("NIC %s link %s", mac, up ? "up" : "down");
		vm_event(v, "nic", d);
		rt_unlock();
	}
	return r;
}

int rt_disk_resize(const char *uuid, const char *volume, uint64_t size, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	char node[32];
	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	int slot = find_slot(v, volume);
	if (slot >= 0)
		snprintf(node, sizeof(node), "%s", v->slots[slot].node);
	rt_unlock();
	if (slot < 0) {
		buf_printf(err, "volume '%s' is not attached to the running VM", volume);
		return -ENOENT;
	}
	return qmp_execute(q, "block_resize", json_pack("{s:s,s:I}", "node-name", node, "size", (json_int_t)size), NULL,
			   QMP_TIMEOUT_MS, err);
}

/* Drop a CD-ROM fd set QEMU no longer uses (a new medium or an eject replaced it). */
static void cdrom_fdset_drop(struct vm_rt *v, struct qmp *q, int fdset)
{
	if (fdset > 0 && qmp_execute(q, "remove-fd", json_pack("{s:i}", "fdset-id", fdset), NULL, QMP_TIMEOUT_MS,
				     NULL) < 0)
		log_warn("vm %s: cannot remove fd set %d of the old CD-ROM medium", v->name, fdset);
}

int rt_cdrom_change(const char *uuid, const char *path, bool force, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	__do_close int fd = -EBADF;
	json_t *ret = NULL;
	int r, fdset, old;

	if (!v)
		return -EBUSY;
	pthread_mutex_lock(&rt_lock);
	old = v->cdrom_fdset;
	rt_unlock();
	if (!path) {
		if ((r = qmp_execute(q, "eject", json_pack("{s:s,s:b}", "id", "cdrom0", "force", force), NULL,
				     QMP_TIMEOUT_MS, err)) < 0)
			return r;
		fdset = 0;
	} else {
		/* The admin's file, opened as root; QEMU (the qemu user) gets the fd. */
		if ((fd = open_host("cdrom image", path, err)) < 0)
			return fd;
		if ((r = qmp_execute_fd(q, "add-fd", json_pack("{s:s}", "opaque", "cdrom0"), fd, &ret, QMP_TIMEOUT_MS,
					err)) < 0)
			return r;
		fdset = (int)json_integer_value(json_object_get(ret, "fdset-id"));
		json_decref(ret);
		__do_free char *file = xasprintf("/dev/fdset/%d", fdset);
		if ((r = qmp_execute(q, "blockdev-change-medium",
				     json_pack("{s:s,s:s,s:s,s:s}", "id", "cdrom0", "filename", file, "format", "raw",
					       "read-only-mode", "read-only"),
				     NULL, QMP_TIMEOUT_MS, err)) < 0) {
			cdrom_fdset_drop(v, q, fdset);
			return r;
		}
	}
	cdrom_fdset_drop(v, q, old);
	pthread_mutex_lock(&rt_lock);
	v->cdrom_fdset = fdset;
	save_slots(v);
	rt_unlock();
	return 0;
}

/* ---- queries and console ---------------------------------------------- */

bool rt_is_active(const char *uuid)
{
	pthread_mutex_lock(&rt_lock);
	bool a = find_locked(uuid) != NULL;
	rt_unlock();
	return a;
}

json_t *rt_info(const char *uuid)
{
	struct qmp *q;
	struct buf err = BUF_INIT;
	json_t *ret = NULL, *info;
	__do_put struct vm_rt *v = get_active(uuid, &q, &err);
	buf_release(&err);
	if (!v)
		return NULL;
	pthread_mutex_lock(&rt_lock);
	info = json_pack("{s:i,s:s}", "pid", (int)v->pid, "accel", v->accel == ACCEL_KVM ? "kvm" : "tcg");
	rt_unlock();
	if (qmp_execute(q, "query-vnc", NULL, &ret, 2000, NULL) == 0 && json_is_true(json_object_get(ret, "enabled"))) {
		const char *host = json_string_value(json_object_get(ret, "host"));
		const char *svc = json_string_value(json_object_get(ret, "service"));
		json_object_set_new(info, "vnc", json_sprintf("%s:%s", host ? host : "?", svc ? svc : "?"));
	} else {
		json_object_set_new(info, "vnc", json_null());
	}
	json_decref(ret);
	return info;
}

char *rt_console_log_path(const char *uuid)
{
	__do_free char *dir = vm_dir(uuid);
	return qemu_run_path(dir, "console.log");
}

int rt_console_open(const char *uuid, bool force, struct buf *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	__do_free char *dir = vm_dir(uuid);
	__do_free char *path = qemu_run_path(dir, "serial.sock");
	int fd;

	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	if (!v || v->gone) {
		rt_unlock();
		buf_adds(err, "vm is not running");
		return -EBUSY;
	}
	if (v->console_busy && !force) {
		rt_unlock();
		buf_adds(err, "another console session is attached to this vm (--force takes it over)");
		return -EBUSY;
	}
	if (v->console_busy && v->console_fd >= 0) {
		/* Take over: the old session's relay sees its serial connection
		 * end and closes it; QEMU then accepts ours (still queued). */
		log_info("vm %s: console taken over", uuid);
		shutdown(v->console_fd, SHUT_RDWR);
	}
	v->console_busy = true;
	v->console_fd = -1;
	rt_unlock();

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		buf_printf(err, "cannot connect to the serial console: %s", strerror(e));
		rt_console_close(uuid, -1);
		return -e;
	}
	pthread_mutex_lock(&rt_lock);
	if ((v = find_locked(uuid)))
		v->console_fd = fd;
	rt_unlock();
	return fd;
}

void rt_console_close(const char *uuid, int fd)
{
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	/* A session that was taken over leaves the console to its successor. */
	if (v && (fd < 0 ? v->console_fd < 0 : v->console_fd == fd)) {
		v->console_busy = false;
		v->console_fd = -1;
	}
	rt_unlock();
	if (fd >= 0)
		close(fd);
}

void rt_forget(const char *uuid)
{
	__do_free char *dir = vm_dir(uuid);
	remove_run_files(dir);
	qemu_cidata_forget(cfg.run_dir, uuid);
	static const char *const logs[] = { "console.log", "console.log.1", "qemu.log", "qemu.log.1" };
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		__do_free char *p = qemu_run_path(dir, logs[i]);
		unlink(p);
	}
	__do_free char *nvram = rt_nvram_path(uuid);
	unlink(nvram);
	nvram_copies_remove(uuid, NULL, NULL);
	rmdir(dir);
}

/* ---- extension points ------------------------------------------------- */

struct qmp *rt_qmp_acquire(const char *uuid, struct rt_ref **ref, struct buf *err)
{
	struct qmp *q = NULL;
	struct vm_rt *v = get_active(uuid, &q, err);
	*ref = (struct rt_ref *)v;
	return v ? q : NULL;
}

void rt_qmp_release(struct rt_ref *ref)
{
	struct vm_rt *v = (struct vm_rt *)ref;
	vm_rt_put(&v);
}

json_t *rt_disk_nodes(const char *uuid)
{
	json_t *j = NULL;
	char dev[32];
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	if (v && !v->gone) {
		j = json_object();
		for (int i = 0; i < MAX_SLOTS; i++) {
			if (!v->slots[i].vol[0])
				continue;
			snprintf(dev, sizeof(dev), "disk%d", i);
			json_object_set_new(j, v->slots[i].vol,
					    json_pack("{s:s,s:s,s:s}", "node", v->slots[i].node, "file", v->slots[i].file,
						      "device", dev));
		}
	}
	rt_unlock();
	return j;
}

int rt_disk_set_nodes(const char *uuid, const char *volume, const char *node, const char *file)
{
	int r = -ENOENT;
	pthread_mutex_lock(&rt_lock);
	struct vm_rt *v = find_locked(uuid);
	int slot = v ? find_slot(v, volume) : -1;
	if (slot >= 0) {
		slot_set(v, slot, volume, node, file);
		save_slots(v);
		r = 0;
	}
	rt_unlock();
	return r;
}

int rt_limits_apply(const char *uuid, const struct vm_def *d, struct buf *err)
{
	struct qmp *q;
	__do_put struct vm_rt *v = get_active(uuid, &q, err);
	if (!v)
		return -EBUSY;
	return vm_cgroup_limits(uuid, d, v->accel, err);
}

int rt_usage_get(const char *uuid, struct rt_usage *out)
{
	struct qmp *q;
	struct buf err = BUF_INIT;
	__do_put struct vm_rt *v = get_active(uuid, &q, &err);
	memset(out, 0, sizeof(*out));
	if (!v) {
		buf_release(&err);
		return -ENOENT;
	}
	pthread_mutex_lock(&rt_lock);
	out->pid = v->pid;
	rt_unlock();
	if (cfg.cgroups) {
		__do_free char *name = vm_cgroup_name(uuid);
		if (cgroup_vm_stats(cfg.cgroups, name, &out->cg, &err) < 0)
			memset(&out->cg, 0, sizeof(out->cg));
	}
	buf_release(&err);
	return 0;
}

json_t *rt_limits_effective(const char *uuid, const struct vm_def *d)
{
	struct qmp *q;
	struct buf err = BUF_INIT;
	struct cgroup_limits l;
	struct cgroup_stats st;
	__do_put struct vm_rt *v = get_active(uuid, &q, &err);
	__do_free char *name = vm_cgroup_name(uuid);
	json_t *j;
	if (!v || !cfg.cgroups) {
		buf_release(&err);
		return NULL;
	}
	j = json_pack("{s:s,s:I}", "cgroup", cgroup_layout_name(cfg.cgroups->layout), "memory_limit_default_mib",
		      (json_int_t)(d->memory_mib + qemu_memory_overhead_mib(d->memory_mib, v->accel)));
	if (cgroup_vm_get_limits(cfg.cgroups, name, &l, &err) == 0) {
		json_object_set_new(j, "cpu_weight", json_integer(l.cpu_weight));
		json_object_set_new(j, "cpu_limit", l.cpu_quota_us && l.cpu_period_us
							    ? json_real((double)l.cpu_quota_us / (double)l.cpu_period_us)
							    : json_null());
		json_object_set_new(j, "cpu_quota_us", json_integer((json_int_t)l.cpu_quota_us));
		json_object_set_new(j, "cpu_period_us", json_integer((json_int_t)l.cpu_period_us));
		json_object_set_new(j, "cpuset", json_string(l.cpuset));
		json_object_set_new(j, "memory_limit_mib", l.memory_max ? json_integer((json_int_t)(l.memory_max >> 20))
									: json_null());
	}
	if (cgroup_vm_stats(cfg.cgroups, name, &st, &err) == 0) {
		if (st.has_cpu)
			json_object_set_new(j, "cpu_time_ns", json_integer((json_int_t)st.cpu_ns));
		if (st.has_memory)
			json_object_set_new(j, "memory_used_mib", json_integer((json_int_t)(st.memory_bytes >> 20)));
		if (st.has_oom)
			json_object_set_new(j, "oom_kills", json_integer((json_int_t)st.oom_kills));
	}
	buf_release(&err);
	return j;
}
