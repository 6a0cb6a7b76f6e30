/*
 * ctdef.h - a system container's definition: what `corral ct create` and
 * POST /v1/containers describe, what the store keeps (table `containers`,
 * the JSON ctdef_to_json writes) and what the LXC layer (src/lxc) turns into
 * a liblxc configuration.
 *
 * A container's root comes from exactly one source: "template" (a rootfs
 * corral builds: "busybox", or "debian" with "release", default bookworm,
 * one of CT_DEBIAN_RELEASES), "tarball" (an absolute path of a root
 * filesystem tarball on the host, unpacked once at create; kept as a note
 * of where the root came from) or "rootfs" (an existing directory on the
 * host, used in place and never deleted by corral).  "halt_signal"
 * ("SIGUSR1", "SIGPWR" or "SIGRTMIN+3"; corral sets it from the init it
 * finds in an unpacked tarball: SIGUSR1 for busybox, SIGRTMIN+3 for
 * systemd) is the signal a graceful stop sends init (none: SIGUSR1 for the
 * busybox template, SIGRTMIN+3 for debian's systemd, else liblxc's SIGPWR).  "privileged" false (the default) runs
 * it in a user namespace with the id range "idmap" (set by corrald from
 * /etc/subuid and /etc/subgid, never by a caller: docs/containers.md).
 *
 * NICs ("nics": [{"network": NAME, "mac": MAC}], at most CT_MAX_NICS) are
 * ports on corral networks: a veth pair whose host end joins the network's
 * bridge (docs/containers.md); a MAC left out is generated (QEMU's
 * 52:54:00 range, as VMs' are) and stored.  "mode": "network" is accepted
 * (what `--nic net=NAME` sends for VMs); anything VMs' NICs have beyond
 * network and mac (model, vlan, bw, filter: containers' ports are always
 * filtered) is refused with a sentence saying so.
 * Limits ("limits": {"cpu_weight", "cpu_limit", "memory_limit_mib",
 * "pids_limit"}) are cgroup limits of the whole container; a member left
 * out is no limit (docs/containers.md, "Limits").
 *
 * "autostart", "start_order", "start_delay" and "tags" mean what they mean
 * for VMs (core/vmdef.h), written only when set.
 * "snapshots" ([{name, created, method, size}], store only: a caller's
 * definition may not carry them) lists the copies of its root corral took.
 *
 * "volume" (the root's pool volume, set by corrald at create) and "mounts"
 * ([{volume, path, readonly}], directory volumes bind-mounted inside) are
 * the container's storage; "pool" picks the root's pool at create.
 *
 * Ownership: ctdef_from_json returns a new struct the caller frees with
 * ctdef_free (NULL-safe); ctdef_to_json a new JSON reference.  No globals.
 * Errors: -EINVAL with one sentence appended to err.
 */
#ifndef CORRAL_CORE_CTDEF_H
#define CORRAL_CORE_CTDEF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

/* The templates corral builds a root from ("template" in JSON). */
enum ct_template { CT_TEMPLATE_NONE = 0, CT_TEMPLATE_BUSYBOX, CT_TEMPLATE_DEBIAN };
/* The Debian releases the debian template builds ("release"; the first is the default). */
#define CT_DEBIAN_RELEASES "bookworm", "bullseye", "trixie"

/* A user-namespace id range: container ids 0..count-1 are host ids base..base+count-1. */
struct ct_idmap {
	uint32_t uid_base, gid_base, count;
};

#define CT_MAX_NICS 4
#define CT_MAX_CPU_WEIGHT 10000
#define CT_MAX_CPUS 64
#define CT_MIN_MEMORY_MIB 8
#define CT_MAX_MEMORY_MIB (1LL << 24) /* 16 TiB */
#define CT_MAX_PIDS 4194304LL         /* the kernel's PID_MAX_LIMIT */

/* A NIC: a port on corral network `network`. */
struct ct_nic {
	char *network;
	char mac[18]; /* lower case */
};

/* A snapshot of a stopped container's root (docs/containers.md,
 * "Snapshots and clones"): its copy is <lxcpath>/<name>/snapshots/<name>/rootfs. */
#define CT_MAX_SNAPSHOTS 64
struct ct_snap {
	char name[64];          /* str_name_invalid's rule, as VM snapshots */
	int64_t created_ms;
	char method[16];        /* "copy", "reflink", "btrfs-snapshot" */
	int64_t size;           /* bytes the source root used when taken, -1 unknown */
};

/*
 * A mount point (docs/containers.md, "Storage"): directory volume `volume`
 * of a pool bind-mounted at `path` inside the container (read-only when
 * asked).  path: absolute, normal, of [A-Za-z0-9._+-/] (it becomes an
 * fstab line), not / and not in /proc, /sys or /dev.
 */
#define CT_MAX_MOUNTS 16
#define CT_IMAGE_MIN (64LL << 20)
#define CT_IMAGE_MAX (64LL << 40)
#define CT_MOUNT_PATH_MAX 255
struct ct_mount {
	char *volume;
	char path[CT_MOUNT_PATH_MAX + 1];
	bool readonly;
};

/* cgroup limits; 0 everywhere: none. */
struct ct_limits {
	int cpu_weight;         /* 1..CT_MAX_CPU_WEIGHT (cgroup v2 scale; v1 shares = weight * 1024 / 100) */
	int cpu_limit_centi;    /* hundredths of a CPU (150: 1.5 CPUs' time) */
	int64_t memory_limit_mib;
	int64_t pids_limit;
};

struct ct_def {
	char *name;
	char uuid[37];
	char *description;      /* NULL: none */
	enum ct_template tmpl;  /* or NONE with rootfs or tarball set */
	char release[16];       /* debian: its release; "" for other templates */
	char *rootfs;           /* an absolute host directory, or NULL with a template */
	char *tarball;          /* the tarball the root was unpacked from, or NULL */
	char halt_signal[12];   /* "" (the template's, or liblxc's SIGPWR), "SIGUSR1", "SIGPWR" or "SIGRTMIN+3" */
	bool privileged;
	struct ct_idmap idmap;  /* count 0: none (privileged, or not yet assigned) */
	int64_t created_ms;
	struct ct_nic nics[CT_MAX_NICS];
	int nnics;
	struct ct_limits limits;
	struct ct_snap *snaps;  /* oldest first; only in the store's JSON ("snapshots") */
	int nsnaps;
	/* With the host, in one order with the VMs (service/autostart.c): as
	 * vm_def's autostart, start_order (0..VM_MAX_START_ORDER, ascending,
	 * ties by name) and start_delay (seconds to wait after it, 0..VM_MAX_START_DELAY). */
	bool autostart;
	int start_order, start_delay;
	/* Tags, as VMs' ("tags": names, at most VM_MAX_TAGS, repeats dropped):
	 * selectors (tag:T) and backup policies select containers by them too. */
	char **tags;
	int ntags;
	/* Storage (docs/containers.md, "Storage"): the volume holding the root
	 * ("volume": a "dir" volume of a pool, <pool>/<volume>/rootfs, its
	 * snapshots beside it), NULL for a root in the lxcpath (containers made
	 * before roots were volumes, restored or migrated in) or a --rootfs
	 * directory.  "pool" (caller only, at create): the pool the root
	 * volume goes to (NULL: "default"); never stored. */
	char *volume;
	char *pool;
	/* "image_size" (caller only, at create; never stored): the root in an
	 * ext4 image file volume of this many bytes (CT_IMAGE_MIN..CT_IMAGE_MAX),
	 * loop-mounted while corral needs it; 0: a directory volume. */
	int64_t image_size;
	struct ct_mount mounts[CT_MAX_MOUNTS];
	int nmounts;
};

/* Where a definition comes from: a caller (the API: no "idmap", no
 * "created") or the store (everything ctdef_to_json writes). */
enum ctdef_origin { CTDEF_FROM_USER, CTDEF_FROM_STORE };

/*
 * Parse and validate j.  Unknown members, a hostile name (ctdef_name_invalid),
 * not exactly one of template, tarball and rootfs, a relative or non-normal
 * rootfs or tarball path, an unknown template or release (or a release
 * without the debian template), and members the origin may not give are
 * refused.  A missing uuid is generated.  NULL + err on failure.
 */
struct ct_def *ctdef_from_json(const json_t *j, enum ctdef_origin origin, struct buf *err);
json_t *ctdef_to_json(const struct ct_def *d);
void ctdef_free(struct ct_def *d);

/* Why `name` cannot name a container (a hostname and a directory name:
 * 1-63 of [A-Za-z0-9-], not starting or ending with '-'), or NULL. */
const char *ctdef_name_invalid(const char *name);
const char *ctdef_template_name(enum ct_template t);

/* Index of the snapshot called `name`, or -1. */
int ctdef_snap_index(const struct ct_def *d, const char *name);
/* Append a snapshot (the caller checked the name and the count). */
void ctdef_snap_add(struct ct_def *d, const struct ct_snap *s);
/* Remove snapshot k. */
void ctdef_snap_remove(struct ct_def *d, int k);

/* Why `path` cannot be a mount point inside a container, or NULL. */
const char *ctdef_mount_path_invalid(const char *path);
/* Index of the mount at `path`, or -1. */
int ctdef_mount_index(const struct ct_def *d, const char *path);

/* Does d carry tag `tag`? */
bool ctdef_has_tag(const struct ct_def *d, const char *tag);

/* Index of the NIC with `mac` (any case), or -1. */
int ctdef_nic_index(const struct ct_def *d, const char *mac);
/*
 * The "limits" object j (may be NULL: none) into *out, validated: unknown
 * members, out-of-range values.  -EINVAL + err.
 */
int ctdef_limits_parse(const json_t *j, struct ct_limits *out, struct buf *err);
/* The limits set, as the "limits" object (new reference; {} when none). */
json_t *ctdef_limits_to_json(const struct ct_limits *l);

#endif
