/*
 * lxc.h - system containers through liblxc (lxc.c) and the busybox root
 * corral builds for them (rootfs.c).  The only files that include
 * <lxc/lxccontainer.h>; the service layer (service/ct.c) decides, this
 * module does what liblxc does.  The daemon never runs lxc-* programs.
 *
 * Every call names a container by its lxcpath (absolute: corrald's
 * <state_dir>/lxc) and its name; liblxc keeps the container's config at
 * <lxcpath>/<name>/config and its state in the monitor process it starts.
 * That monitor, not corrald, keeps a running container alive: ctrt_start
 * has liblxc daemonize it from a short-lived child of corrald (proc_spawn:
 * liblxc's own fork and waitpid happen there, away from corrald's reaper,
 * util/proc.h).  The monitor runs in its own session with every inherited
 * fd closed; corrald, a child subreaper, adopts it and reaps it when the
 * container stops.  A killed corrald leaves it running (then init adopts
 * it) and the next corrald finds it by asking liblxc (ctrt_state): there
 * is nothing else to re-attach.  ctrt_exec attaches from such a child too.
 *
 * Threading: liblxc's container objects are made per call and never shared;
 * calls on different containers may run at once.  Calls on one container
 * are serialised by the caller (the service's job lock).
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_LXC_LXC_H
#define CORRAL_LXC_LXC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

/* What a container's liblxc configuration is made from. */
struct ctrt_config {
	const char *name;       /* also its hostname */
	const char *rootfs;     /* absolute directory */
	bool privileged;
	uint32_t uid_base, gid_base, id_count; /* unprivileged: the user-namespace mapping */
	const char *init_halt_signal; /* e.g. "SIGUSR1" for busybox init; NULL: liblxc's SIGPWR */
};
/* The halt signal of systemd: a container whose init is systemd also gets
 * /sys read-only, as systemd's container interface asks (on a writable
 * /sys systemd-networkd waits for a udev no container runs: no lease). */
#define CTRT_SYSTEMD_HALT "SIGRTMIN+3"

/* A NIC: a veth pair, its host end `host_if` (an interface name corral
 * chose) in bridge `bridge`, its container end eth<N> with MAC `mac`. */
struct ctrt_nic {
	const char *bridge, *mac, *host_if;
};

/*
 * cgroup limits of a container (limits.c), each 0 for none, and on which
 * kind of hierarchy each controller is (the host's layout: v1 controllers
 * or the unified cgroup2 tree; liblxc uses the same one).
 */
struct ctrt_limits {
	unsigned cpu_weight;      /* 1..10000 (v2 scale) */
	unsigned cpu_limit_centi; /* hundredths of a CPU */
	uint64_t memory_bytes;
	uint64_t pids;
	bool v2_cpu, v2_memory, v2_pids;
};

/* A bind mount into the container: host directory `src` at `dst` inside
 * (absolute, checked by core/ctdef.h's rule: no spaces, no "..", not in
 * /proc, /sys, /dev), made if missing; read-only when asked.  liblxc
 * mounts it inside the root (refusing a target that resolves outside it). */
struct ctrt_mount {
	const char *src, *dst;
	bool readonly;
};

/* What a start sets besides the stored config: given at every start, so
 * the definition, not an old config file, is what runs. */
struct ctrt_run {
	const struct ctrt_nic *nics;
	int nnics;
	const struct ctrt_limits *limits; /* NULL: none */
	const char *rootfs;               /* NULL: the config's; else where the root is now (a moved volume) */
	const struct ctrt_mount *mounts;
	int nmounts;
};

/* Is liblxc usable at all (its version, for the host's description)? */
const char *ctrt_version(void);

/* Write <lxcpath>/<name>/config through liblxc (mode 0600, directory 0700).
 * -EEXIST if a container of that name is already defined there. */
int ctrt_define(const char *lxcpath, const struct ctrt_config *cfg, struct buf *err);
/*
 * Start: 0 once liblxc reports it RUNNING, -EIO with the tail of its log
 * otherwise.  run's NICs replace the config's lxc.net items (none: the
 * config's "empty" network, a loopback only) and its limits become
 * lxc.cgroup.* / lxc.cgroup2.* items, for this start (liblxc creates the
 * veth pairs as root, also for an unprivileged container, moves the
 * container end in, and applies the limits before the container's init
 * runs).
 */
int ctrt_start(const char *lxcpath, const char *name, const struct ctrt_run *run, struct buf *err);
/* Graceful: the halt signal to its init, waiting up to timeout_s for it to stop.
 * -ETIMEDOUT (err set) if it is still running then. */
int ctrt_shutdown(const char *lxcpath, const char *name, int timeout_s, struct buf *err);
/* Kill every process of the container at once. */
int ctrt_kill(const char *lxcpath, const char *name, struct buf *err);
/* liblxc's state: "STOPPED", "STARTING", "RUNNING", "STOPPING", "ABORTING",
 * "FREEZING", "FROZEN", "THAWED"; "STOPPED" for an undefined container.
 * *pid (may be NULL): its init's pid when running, else 0. */
const char *ctrt_state(const char *lxcpath, const char *name, pid_t *pid);
/* Its init's pid in any state but STOPPED (also FROZEN, STARTING, STOPPING:
 * what HA's fence kills), else 0. */
pid_t ctrt_init_pid(const char *lxcpath, const char *name);
/*
 * Run argv in the running container (attach: every namespace, its cgroup,
 * its environment cleared but for PATH/TERM/HOME), stdin /dev/null; its
 * stdout and stderr captured into out/errout (at most max bytes each, the
 * rest read and dropped).  Killed after timeout_s.  Returns its exit status
 * (0..255), 128+signal when killed, or -errno.
 */
int ctrt_exec(const char *lxcpath, const char *name, char *const argv[], int timeout_s, size_t max, struct buf *out,
	      struct buf *errout, struct buf *err);
/* A pty fd on the container's console (/dev/console inside); close to detach. */
/* The console is held through *hold_fd (liblxc's command socket) as well: close both. */
int ctrt_console_open(const char *lxcpath, const char *name, int *hold_fd, struct buf *err);
/* Change the halt signal in a defined container's config (a root whose init corral found after the define);
 * CTRT_SYSTEMD_HALT makes /sys read-only too, as at define. */
int ctrt_halt_signal_set(const char *lxcpath, const char *name, const char *sig, struct buf *err);
/* Remove <lxcpath>/<name> (config, log, and the rootfs when it is inside
 * that directory); the container must be stopped.  An absent one: 0. */
int ctrt_undefine(const char *lxcpath, const char *name, struct buf *err);

/*
 * Freeze every task of the running container (liblxc's freeze: the freezer
 * cgroup, or cgroup.freeze on v2), waiting until it is FROZEN; unfreeze
 * thaws it.  For a consistent file-level backup of a running container
 * (service/ctbackup.c): the caller thaws on every path.  -EINVAL if it is
 * not running, -EIO when liblxc fails.
 */
int ctrt_freeze(const char *lxcpath, const char *name, struct buf *err);
int ctrt_unfreeze(const char *lxcpath, const char *name, struct buf *err);

/* ---- limits.c ---- */

#define CTRT_MAX_ITEMS 8
struct ctrt_item {
	char key[40];   /* a cgroup file: "memory.max", "cpu.cfs_quota_us" */
	char value[40];
	bool v2;        /* on the unified hierarchy (config key lxc.cgroup2.KEY, else lxc.cgroup.KEY) */
};
/*
 * The cgroup files and values that carry l, memory first (the one the
 * kernel may refuse).  all: every file, a limit that is 0 written as "no
 * limit" (a live change must undo an earlier limit); else only the limits
 * set (a start).  Returns how many.  Pure: the unit test checks it.
 */
int ctrt_limit_items(const struct ctrt_limits *l, bool all, struct ctrt_item out[CTRT_MAX_ITEMS]);
/*
 * Write every limit of l to the running container's cgroup (liblxc's
 * set_cgroup_item, through its monitor), memory first.  A value the kernel
 * refuses (a memory limit below what it uses, on v1) is -EBUSY/-EIO with
 * the file named; the files written before it stay written: the caller
 * writes the old limits back.  -EINVAL if it is not running.
 */
int ctrt_limits_set(const char *lxcpath, const char *name, const struct ctrt_limits *l, struct buf *err);
/* What the running container's cgroup holds (in l, its v2_* flags given)
 * and uses; -EINVAL if it is not running. */
struct ctrt_usage {
	uint64_t memory_used;   /* bytes charged now */
	uint64_t pids_current;
	bool has_memory_used, has_pids_current;
};
int ctrt_limits_get(const char *lxcpath, const char *name, struct ctrt_limits *l, struct ctrt_usage *u,
		    struct buf *err);

/* ---- rootfs.c ---- */

/*
 * Build a busybox root in `dir` (made, must not exist): the host's static
 * busybox (/bin/busybox) and a link per applet it lists, an inittab whose
 * console runs a login shell with the hostname in its prompt (its rcS
 * starts udhcpc, with /etc/udhcpc.script, on each eth* the container has),
 * passwd and group with root.  `dir` is made by ctrt_root_mkdir (a btrfs
 * subvolume on btrfs).  uid/gid: the owner every file gets (0 privileged, the
 * mapped base unprivileged).  On failure nothing is left behind.
 */
int ctrt_rootfs_busybox(const char *dir, uid_t uid, gid_t gid, struct buf *err);
/* Remove a directory tree (no symlink is followed, no mount crossed). */
int ctrt_remove_tree(const char *dir, struct buf *err);

/* ---- untar.c ---- */

/*
 * A root unpacked from a tar archive (plain, gzip, xz, zstd, bzip2) read
 * from fd, into `dir` (made here by ctrt_root_mkdir; must not exist).  A
 * hostile archive is refused (-EINVAL + a sentence naming the entry): an
 * absolute name or a `..` component, an entry that would be written
 * through a symlink, a hard link to anything but a regular file unpacked
 * before it; for an unprivileged container also a device node outside dev/
 * (those under dev/ are skipped: liblxc mounts /dev) and an owner beyond
 * id_count.  Unprivileged: owners shifted by the bases, only user.* xattrs
 * kept, no ACLs.  Data past max_bytes: -ENOSPC.  tick (may be NULL) is called after
 * every block with the archive's bytes read so far and its size; non-zero
 * stops it (-ECANCELED).  On any failure `dir` is removed again.
 */
struct ctrt_untar {
	bool privileged;
	uid_t uid_base;
	gid_t gid_base;
	uint32_t id_count;
	uint64_t max_bytes;     /* 0: no limit */
	int (*tick)(void *opaque, uint64_t read, uint64_t total);
	void *opaque;
	/* out: data bytes written, entries written, device nodes skipped */
	uint64_t bytes, entries, skipped_devices;
};
int ctrt_untar(int fd, const char *dir, struct ctrt_untar *u, struct buf *err);
/* Why an entry's name is refused (absolute, a `..` component, empty), or
 * NULL with *rel the name without its leading "./" ("" for the root). */
const char *ctrt_untar_name_invalid(const char *name, const char **rel);

/* ---- rootcopy.c ---- */

/*
 * Copies of a container's root (snapshots, reverts, clones).  The method is
 * picked per copy, fastest first: a btrfs subvolume is snapshotted (`btrfs
 * subvolume snapshot`), else `cp -aT --reflink=auto` copies the tree
 * (owners, modes, timestamps, xattrs, device nodes, hard links, symlinks
 * kept) sharing extents where the filesystem reflinks ("reflink", probed
 * with one FICLONE between scratch files next to the destination) or
 * writing every byte ("copy").
 */
enum ctrt_copy_method { CTRT_COPY_PLAIN = 0, CTRT_COPY_REFLINK, CTRT_COPY_BTRFS };
const char *ctrt_copy_method_name(enum ctrt_copy_method m); /* "copy", "reflink", "btrfs-snapshot" */
/* The method a copy of src to dst (not existing; its parent does) would use. */
enum ctrt_copy_method ctrt_copy_method_for(const char *src, const char *dst);
bool ctrt_is_subvolume(const char *dir);
bool ctrt_is_subvolume_fs(const char *dir); /* on btrfs at all */
/*
 * Copy tree src to dst (must not exist), *how (may be NULL) = the method
 * used.  tick (may be NULL) is called about every quarter second during a
 * cp with opaque; non-zero stops the copy (-ECANCELED).  On failure dst is
 * removed again.
 */
int ctrt_tree_copy(const char *src, const char *dst, enum ctrt_copy_method *how, int (*tick)(void *opaque),
		   void *opaque, struct buf *err);
/* Make a container root directory `dir` (mode 0755): a btrfs subvolume
 * when its parent is on btrfs (so its snapshots and clones are subvolume
 * snapshots), else a plain directory. */
int ctrt_root_mkdir(const char *dir, struct buf *err);
/* Remove a tree ctrt_tree_copy or ctrt_root_mkdir made (a btrfs subvolume with `btrfs subvolume delete`). Absent: 0. */
int ctrt_tree_remove(const char *dir, struct buf *err);
/* Disk space the tree uses (allocated blocks, no mount or symlink followed). */
int ctrt_tree_size(const char *dir, uint64_t *bytes);
/* -ENOSPC + "not enough space in DIR: ..." unless `need` bytes are free there. */
int ctrt_space_check(const char *dir, uint64_t need, struct buf *err);
/* Swap two directory entries atomically (renameat2 RENAME_EXCHANGE), then
 * fsync their directory: a crash sees either both old or both new names. */
int ctrt_tree_exchange(const char *a, const char *b, struct buf *err);

#endif
