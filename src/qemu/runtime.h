/*
 * runtime.h - running VMs: starting QEMU, talking QMP, following its events.
 *
 * QEMU runs as corrald's direct child (no -daemonize: the sandbox forbids
 * its fork) in its own session and its own cgroup (cgroup.h, vm-<uuid>),
 * as the unprivileged qemu_user (util/runas.h) under -sandbox, with
 * stdout/stderr appended to <run_dir>/<uuid>/qemu.log (so a dead corrald
 * can never SIGPIPE it).  Its sockets, pid file (util/proc.h identity)
 * and console log are in <run_dir>/<uuid>/, a directory owned by the qemu
 * user; corrald (root) only holds a QMP connection.  Started is "the QMP
 * socket answers"; "QEMU exited first" is reported with the last line it
 * printed.  Killing corrald leaves every guest running; rt_attach_all() on
 * the next start finds them again (pid file identity + /proc check + QMP)
 * and marks the VMs whose QEMU died meanwhile as stopped or crashed, with
 * the reason.
 *
 * Files: what QEMU opens by path is handed to the qemu user at start (the
 * run dir, each disk volume; linked clones' backing volumes read-only); the
 * CD-ROM medium is opened by corrald and passed as an fd (-add-fd, or
 * QMP add-fd for a change while running); a kernel and initrd given by
 * path are copied into <run_dir>/<uuid>/boot/.  When QEMU is gone its
 * sockets, pid file and boot/ copies are removed; rt_forget removes the
 * rest (console and QEMU logs) and the directory.
 *
 * State changes and events are reported to the caller (rt_config) as they
 * happen; the service layer records them.  Callers hold the VM's lock (core/job.h) around every rt_* call
 * that changes a VM; QMP events (guest power-off, pause on I/O error, QEMU
 * exit) are handled on an internal worker thread.
 *
 * Errors: 0 or -errno with one user-facing sentence appended to err.
 * -EINVAL invalid request, -ENOENT unknown, -EBUSY conflicting state,
 * -ENOTSUP not possible on this bus/host, -EIO QEMU failed (its message included).
 */
#ifndef CORRAL_QEMU_RUNTIME_H
#define CORRAL_QEMU_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <jansson.h>

#include "core/store.h"
#include "cgroup/cgroup.h"
#include "qemu/accel.h"
#include "util/buf.h"

/* The boot entry a `--boot disk-kernel` VM starts, as rt_config.boot_extract found it. */
struct rt_boot_choice {
	int index;		/* in listing order */
	char *title;
	char *cmdline;		/* the entry's kernel arguments, "" when it has none */
	bool initrd;		/* <dir>/initrd was written */
	char *entry_kernel;	/* the kernel's path as the configuration wrote it */
	char *config;		/* the configuration file read ("/boot/grub/grub.cfg") */
	int partition;		/* 0: a filesystem on the whole disk */
};
void rt_boot_choice_release(struct rt_boot_choice *c);

struct rt_config {
	struct store *store;      /* read: definitions and volumes of VMs to start or re-attach */
	/* What happens is reported up, never written to the store here: a VM's
	 * state changed (with why), or an event for its history.  Called with the
	 * runtime's lock held: quick, and never call back into rt_*. */
	void (*on_state)(const char *uuid, const char *name, enum vm_state st, const char *reason);
	void (*on_event)(const char *uuid, const char *name, const char *type, const char *detail);
	const char *run_dir;      /* per-VM dirs are created below it */
	const char *qemu_binary;  /* e.g. "qemu-system-x86_64" */
	const struct accel_probe *accel;
	const char *qemu_user;    /* the account QEMU runs as ("root" only if asked for) */
	const struct cgroup_host *cgroups; /* where VM groups go; NULL: none (QEMU stays in corrald's) */
	/* `--boot disk-kernel`: copy the kernel (and initrd) of boot entry want
	 * (NULL: the default) of volume vol into <dir>/vmlinuz and <dir>/initrd
	 * (removing a stale initrd when the entry has none) and say which entry
	 * it was.  The service layer reads the disk through its sandboxed image
	 * helper.  0 or -errno + err. */
	int (*boot_extract)(const struct vol_record *vol, const char *want, const char *dir,
			    struct rt_boot_choice *out, struct buf *err);
	/* Open a host file a definition names (`what`: "kernel", "initrd", "cdrom
	 * image") read-only, confined to where the service layer allows
	 * (service/hostpath.h): a descriptor, or -errno + err.  The kernel and
	 * initrd are copied from it, the CD-ROM's is handed to QEMU; the name is
	 * not opened again.  st may be NULL.  NULL: a plain open (tests). */
	int (*open_host)(const char *what, const char *path, struct stat *st, struct buf *err);
	/* NIC `index` of d is on a network: its tap, created, in the network's
	 * bridge and up, as an fd (service/network.h).  QEMU gets it as
	 * QEMU_TAP_FD + index; corrald closes its copy once QEMU runs, so the
	 * tap goes away with QEMU.  -errno + err.  NULL: network NICs cannot start. */
	int (*nic_open)(const struct vm_def *d, int index, struct buf *err);
	/* `--boot disk-kernel`: the guest rebooted (or `vm reboot`): its QEMU
	 * ended so the boot configuration is read again, and the VM is stopped
	 * with reason RT_REBOOT_REASON; the service starts it again (under the
	 * VM's lock).  Called on the event thread without the runtime's lock.
	 * NULL: the VM stays stopped. */
	void (*on_reboot)(const char *uuid, const char *name);
	/* UEFI VMs: where their NVRAM vars files live (<dir>/<uuid>.fd, created
	 * from OVMF's template at the first start); NULL: in their run dir. */
	const char *nvram_dir;
	/* Where OVMF is (NULL: QEMU_OVMF_DIR, qemu/argv.h). */
	const char *ovmf_dir;
};

/* The reason a disk-kernel VM between its two QEMUs of a reboot is stopped with. */
#define RT_REBOOT_REASON "rebooting: reading the boot configuration again"

/* The NVRAM vars file of UEFI VM `uuid` (caller frees); it may not exist yet. */
char *rt_nvram_path(const char *uuid);
/* Replace VM uuid's NVRAM vars with `len` bytes (atomically; its directory
 * made); the qemu user owns it from the next start. 0 or -errno. */
int rt_nvram_write(const char *uuid, const void *data, size_t len);
/*
 * Where snapshot `snapshot` of VM uuid keeps its copy of the vars (caller
 * frees): beside the VM's own, <vars file without ".fd">@<snapshot>.fd
 * (docs/snapshots.md).  One flat directory, no subdirectory: the qemu user
 * owns that directory, and a path through a directory it could swap for a
 * symlink would not be safe to write as root.  The copies themselves are
 * service/snapnvram.h's; rt_forget removes them all.
 */
char *rt_nvram_snapshot_path(const char *uuid, const char *snapshot);
/*
 * At start (nothing writes copies yet): every "<uuid>@..." file in the
 * nvram_dir for which keep(uuid, name, arg) says false is removed (name:
 * the snapshot's, from "<uuid>@<name>.fd"; a temp file a crash left has no
 * such name and is passed with name NULL).  Nothing without an nvram_dir.
 */
void rt_nvram_snapshots_sweep(bool (*keep)(const char *uuid, const char *name, void *arg), void *arg);

int rt_init(const struct rt_config *cfg, struct buf *err);
/* Drop QMP connections and stop the worker; never stops guests. */
void rt_shutdown(void);

/* Re-attach to every VM the store says is active (run once at daemon start).
 * A QEMU whose monitor does not greet (busy saving a memory snapshot) is
 * waited for, up to two minutes, before snapshot and job recovery run;
 * after that it is left running, unmanaged, with a warning. */
void rt_attach_all(void);

/* Lifecycle of the VM with `uuid` (definition read from the store). */
int rt_start(const char *uuid, struct buf *err);
/* How a stop ends when the guest ignores the power button. */
enum rt_stop_how {
	RT_STOP_WAIT,	    /* wait timeout_s, then give up: -ETIMEDOUT, the VM runs on */
	RT_STOP_KILL_AFTER, /* wait timeout_s, then kill QEMU (the reason says so) */
	RT_STOP_FORCE,	    /* kill QEMU at once, no power button */
};
/* Graceful ACPI power-down, waiting up to timeout_s for the guest to power
 * off; what then depends on `how`: a stop never kills unless asked to.
 * Returns 0 when the guest powered off, 1 when QEMU was killed, -errno + err;
 * on -ETIMEDOUT the VM is running again and err says how to force it.
 * `by` names who asked in the VM's reason ("user", "host shutdown").
 * cancelled(opaque) (may be NULL) is polled while waiting: once true the wait
 * ends, the VM is running again (its state says the stop was cancelled) and
 * -ECANCELED is returned. */
int rt_stop(const char *uuid, int timeout_s, enum rt_stop_how how, const char *by, bool (*cancelled)(const void *),
	    const void *opaque, struct buf *err);
/* A second way to ask the guest to power off (its guest agent), tried once
 * when the guest has not powered off after_s seconds into the wait (and the
 * wait is longer): fn returns 0 when the request was delivered; the stop
 * then records an event and waits for the rest of timeout_s. */
struct rt_stop_nudge {
	int after_s;
	int (*fn)(void *arg);
	void *arg;
	const char *what; /* for the event: "its guest agent (guest-shutdown)" */
};
/* rt_stop with a nudge (NULL: none). */
int rt_stop_nudged(const char *uuid, int timeout_s, enum rt_stop_how how, const char *by,
		   bool (*cancelled)(const void *), const void *opaque, const struct rt_stop_nudge *nudge,
		   struct buf *err);
int rt_kill(const char *uuid, struct buf *err);
/* HA self-fence (service/ha_fence.h): SIGKILL QEMU at once through a pidfd
 * of the recorded process (no QMP, no wait), its stopped state recording
 * `reason`.  0 killed, 1 its QEMU had died already (its exit, not handled
 * yet, records `reason`), -ESRCH when not running (exit handled). */
int rt_fence(const char *uuid, const char *reason, struct buf *err);
/* A pidfd (O_CLOEXEC) of the VM's running QEMU, checked to be the recorded
 * process after opening (caller closes), for the HA guard; -ESRCH when not running. */
int rt_pidfd(const char *uuid);
/* Graceful: ACPI power-down, then reset instead of exit.  force: hard reset. */
int rt_reboot(const char *uuid, bool force, struct buf *err);
int rt_pause(const char *uuid, struct buf *err);
int rt_resume(const char *uuid, struct buf *err);
/* rt_pause with the reason the state shows ("paused for a quick migration to b");
 * pausing a paused VM only changes the reason. */
int rt_pause_reason(const char *uuid, const char *reason, struct buf *err);
/* rt_resume with the reason the state shows. */
int rt_resume_reason(const char *uuid, const char *reason, struct buf *err);

/* Live changes on a running VM (the caller updates the definition). */
int rt_disk_attach(const char *uuid, const char *volume, const char *path, const char *format,
		   enum disk_bus bus, struct buf *err);
int rt_disk_detach(const char *uuid, const char *volume, struct buf *err);
int rt_disk_resize(const char *uuid, const char *volume, uint64_t size, struct buf *err);
/* Hot-plug a NIC: the tap fd (the caller's; QEMU gets a copy) on a free root port
 * (netdev "hn<MAC digits>", device "<netdev>-dev").  -ENOSPC without a free port. */
int rt_nic_attach(const char *uuid, int tap_fd, const char *mac, enum nic_model model, struct buf *err);
/* Unplug the NIC with `mac` (plugged at start or later); waits for the guest to release it. */
int rt_nic_detach(const char *uuid, const char *mac, struct buf *err);
/* Set the link of the NIC with `mac` up or down (the guest sees carrier change); not kept across starts. */
int rt_nic_link(const char *uuid, const char *mac, bool up, struct buf *err);
/* path NULL ejects. */
int rt_cdrom_change(const char *uuid, const char *path, bool force, struct buf *err);

/* Resource limits (qemu/reslimits.h).  At start the cgroup gets d's limits
 * before QEMU enters it, and disk I/O limits and the balloon target are set
 * over QMP before the guest runs (QEMU starts with -S then); on re-attach
 * the cgroup limits are written again.  A QEMU the OOM killer ended is
 * crashed with a reason that says so.
 * rt_limits_apply: write d's CPU and memory limits to a running VM's
 * cgroup (the caller holds the job lock and changes disks and the balloon
 * through rt_qmp_acquire).  rt_limits_effective: what the cgroup holds and
 * uses now ({"cpu_weight", "cpu_limit", "cpuset", "memory_limit_mib",
 * "cpu_time_ns", "memory_used_mib", "oom_kills", ...}); NULL when not
 * running or without cgroups. */
int rt_limits_apply(const char *uuid, const struct vm_def *d, struct buf *err);
json_t *rt_limits_effective(const char *uuid, const struct vm_def *d);

/* For the metrics sampler (service/metrics.h): a running VM's QEMU pid and
 * its cgroup's accounting (cg.has_cpu false without cgroups; the caller
 * then reads the pid's own CPU time).  -ENOENT when not running.  Reads
 * files only: never waits for QEMU or for the VM's lock. */
struct rt_usage {
	pid_t pid;
	struct cgroup_stats cg;
};
int rt_usage_get(const char *uuid, struct rt_usage *out);

/* true if QEMU for this VM is running (attached). */
bool rt_is_active(const char *uuid);
/* {"pid":..,"vnc":"127.0.0.1:5900"|null,"accel":"kvm"|"tcg"} for a running VM, else NULL. */
json_t *rt_info(const char *uuid);
/* Path of the console history file (caller frees). */
char *rt_console_log_path(const char *uuid);
/*
 * Connect to the guest's serial port for an interactive console.  Only one
 * console client at a time: -EBUSY while another is attached, unless
 * `force`, which ends the attached session (its serial connection is shut
 * down; its rt_console_close then leaves the console to the new one).
 * Returns a connected fd; call rt_console_close when done.
 */
int rt_console_open(const char *uuid, bool force, struct buf *err);
void rt_console_close(const char *uuid, int fd);
/* Remove the VM's run directory, its NVRAM vars file and its snapshots'
 * copies of them (VM deleted or gone to another host). */
void rt_forget(const char *uuid);

/*
 * For features built on a running VM's monitor (snapshots, block jobs).
 * rt_qmp_acquire returns the QMP connection of a running VM and a reference
 * that keeps it valid until rt_qmp_release (the connection reports -EPIPE
 * if QEMU exits meanwhile).  The caller holds the VM's job lock.  err may
 * be NULL (a caller that only needs the outcome).
 */
struct qmp;
struct rt_ref;
struct qmp *rt_qmp_acquire(const char *uuid, struct rt_ref **ref, struct buf *err);
void rt_qmp_release(struct rt_ref *ref);
/* {"<volume>": {"node": "<format node>", "file": "<protocol node>", "device": "disk<N>"}} of a running VM, or NULL. */
json_t *rt_disk_nodes(const char *uuid);
/* After a block job moved `volume`'s data onto new nodes: record them. */
int rt_disk_set_nodes(const char *uuid, const char *volume, const char *node, const char *file);
/* Start QEMU with the guest paused before its first instruction (-S). */
int rt_start_paused(const char *uuid, struct buf *err);
/* Start QEMU paused with `-incoming defer`: the guest's RAM and device state
 * arrive by live migration (qemu/migrate.h; migrate-incoming names where).
 * The VM is paused, "waiting for an incoming migration", until `cont`. */
int rt_start_incoming(const char *uuid, struct buf *err);
/* rt_kill, with the reason its stopped state records ("migrated to HOST"). */
int rt_kill_reason(const char *uuid, const char *reason, struct buf *err);

#endif
