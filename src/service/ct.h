/*
 * ct.h - system containers next to VMs (ct.c): definitions in the store
 * (core/ctdef.h), lifecycle through liblxc (lxc/lxc.h), under the lxcpath
 * <state_dir>/lxc.  docs/containers.md is the user's description.
 *
 * The rules: a definition is validated before anything is made, and a
 * create that fails leaves neither a store row nor an lxcpath entry; a
 * container's name is unique among containers and VMs; a running container
 * is not deleted; every change holds the container's job lock (the job
 * engine's VM locks, keyed by the container's uuid); liblxc is asked for
 * the state every time, so a container that ran on while corrald was down
 * is simply found running.  Unprivileged (the default) needs root's
 * subordinate id range in /etc/subuid and /etc/subgid.
 *
 * NICs (service/network.h: filters, bridges) and limits (cgroup, through
 * liblxc) are given to liblxc at every start from the definition.
 * Snapshots and clones: ct_snap.c; offline migration: ct_migrate.c;
 * backups: ctbackup.c (below).  Autostart (with the VMs, service/
 * autostart.c) and tags are definition fields; `ct edit` replaces a stopped
 * container's definition (svc_ct_update).  Storage (ct_vol.c): a
 * template's root is a directory volume of a pool ("pool" at create,
 * default "default"); "mounts" bind-mount directory volumes inside; `ct
 * move` (svc_ct_move) moves a stopped root between pools.
 *
 * Errors: see service.h.  Returned JSON is a new reference.
 */
#ifndef CORRAL_SERVICE_CT_H
#define CORRAL_SERVICE_CT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"

/* {"containers":[{name, uuid, state, pid, privileged, template, rootfs}]}
 * narrowed by `selector` (NULL: all; name, uuid:U or name:GLOB). */
json_t *svc_ct_list(const char *selector, struct buf *err);
/* The definition plus "status" {state, pid, lxcpath, job}; -ENOENT. */
int svc_ct_show(const char *key, json_t **out, struct buf *err);
/*
 * Create a container from def.  A root made at once (the busybox template,
 * a --rootfs directory): *out the container, *is_job false.  A root that
 * takes a while ("tarball", the debian template; ct_create.c): what can be
 * checked is checked now (the tarball must be a file inside an allowed
 * root, service/hostpath.h), then *out is a job "ct-create" (*is_job true)
 * whose result is the container; it is cancellable and leaves nothing
 * behind when it fails.
 */
int svc_ct_create(const json_t *def, json_t **out, bool *is_job, struct buf *err);
/*
 * Create from a backup (service/ctbackup.c): def as for svc_ct_create, but
 * its root (the "rootfs" given, which must lie in <lxcpath>/<name>/, or the
 * template's place) is not checked or built: fill writes it into the new
 * directory `rootfs` (absent when fill is called), after the liblxc config
 * is written and before the store row is; a failing fill undoes the create
 * (the directory is removed with the container's lxcpath entry).
 */
typedef int (*svc_ct_fill_fn)(const char *rootfs, void *arg, struct buf *err);
int svc_ct_create_filled(const json_t *def, svc_ct_fill_fn fill, void *arg, json_t **out, struct buf *err);
/* The id range this host gives unprivileged containers (root's in
 * /etc/subuid and /etc/subgid); -ENOTSUP + err without one. */
int svc_ct_idmap_host(uint32_t *uid_base, uint32_t *gid_base, uint32_t *count, struct buf *err);
/* A stopped container: its lxcpath entry (and a template-built root) and its row. */
int svc_ct_delete(const char *key, json_t **out, struct buf *err);

/*
 * Replace the definition of a stopped container (`ct edit`, PUT): def is a
 * whole user definition (as for create).  Its name, uuid, root (template
 * or rootfs) and privileged may not change (-EINVAL saying which); the id
 * map, creation time and snapshots are kept.  Checked as at create
 * (networks, MACs, limits the host supports); -EBUSY while it runs.  Holds
 * its lock.  *out: the container as svc_ct_show gives it.
 */
int svc_ct_update(const char *key, const json_t *def, json_t **out, struct buf *err);

/* {"events":[{time, type, detail, actor}]}: the container's last `limit`
 * recorded events, oldest first (as a VM's; type "container", "migrate",
 * "autostart", "snapshot"...); -ENOENT. */
int svc_ct_events(const char *key, int limit, json_t **out, struct buf *err);

/* Start a stopped container now, on this thread, holding its lock (the
 * autostart, service/autostart.c); one already running: 0. */
int svc_ct_start_now(const char *key, struct buf *err);

/* reboot: a graceful stop (as stop, with its timeout and force) then a
 * start from the definition, in one job; a stopped container is refused. */
enum ct_action { CT_START, CT_STOP, CT_KILL, CT_REBOOT };
/* Parse "start", "stop", "kill", "reboot"; -1 if none of them. */
int ct_action_parse(const char *s);
struct ct_action_opts {
	int timeout_s; /* stop, reboot: how long init gets to halt (default SVC_STOP_TIMEOUT_DEFAULT) */
	bool force;    /* stop, reboot: kill when it did not halt within timeout_s */
};
/* Action a on every container `selector` names, as one job whose result is
 * {"containers":[{name, uuid, ok, state, error}]}. */
int svc_ct_action_job(const char *selector, enum ct_action a, const struct ct_action_opts *o, json_t **job,
		      struct buf *err);
/*
 * Run `argv` (a JSON array of strings) in the running container, waiting
 * at most timeout_s: *out = {"exit_status", "stdout", "stderr",
 * "truncated"} (each stream kept up to 1 MiB).
 */
int svc_ct_exec(const char *key, const json_t *argv, int timeout_s, json_t **out, struct buf *err);
/* The console's pty fd (>= 0) and *hold (the liblxc fd that keeps the
 * console slot); the caller closes both. */
int svc_ct_console_open(const char *key, int *hold, struct buf *err);

/*
 * Change a container's limits (docs/containers.md, "Limits"): `changes` is
 * a partial "limits" object (a member given sets it, null removes it).  The
 * new definition is validated first; on a running container the cgroup is
 * written at once (liblxc's set_cgroup_item), and if the kernel refuses a
 * value the old limits are written back and nothing is stored.  Holds the
 * container's job lock.  *out: the container as svc_ct_show gives it.
 */
int svc_ct_limits_set(const char *key, const json_t *changes, json_t **out, struct buf *err);
/*
 * Add a NIC ({network, mac}, as in a definition's "nics") to, or remove the
 * NIC with `mac` from, a stopped container (-EBUSY while it runs: no
 * hot-plug yet); checked as at create (network exists, MAC unique).  The
 * next start has it.  *out: the container.
 */
int svc_ct_nic_attach(const char *key, const json_t *nic, json_t **out, struct buf *err);
int svc_ct_nic_detach(const char *key, const char *mac, json_t **out, struct buf *err);

/*
 * Snapshots and clones of stopped containers (ct_snap.c;
 * docs/containers.md, "Snapshots and clones").  A snapshot is a copy of
 * the root at <lxcpath>/<name>/snapshots/<snap>/rootfs, by the fastest
 * method the filesystem offers (lxc.h, rootcopy.c); its name, time,
 * method and size are kept in the definition ("snapshots").  Only roots
 * corral built (templates) have snapshots and clones: a --rootfs directory
 * of the admin's is refused.  A running container is refused (-EBUSY,
 * "stop it first").  Names: str_name_invalid's rule (as VM snapshots').
 *
 * create, revert and clone are jobs ("ct-snapshot-create",
 * "ct-snapshot-revert", "ct-clone": *job, the job JSON) holding the
 * container's (the clone's source's) lock; what can be checked at once
 * (names, state, existence) is refused before a job starts.  A job's
 * result: the snapshot ({name, created, method, size}), the revert
 * ({container, snapshot, method}), the clone's definition.  list and
 * delete answer at once: {"snapshots": [...]} and {"deleted": [NAME]}.
 */
int svc_ct_snapshot_create(const char *key, const char *name, json_t **job, struct buf *err);
int svc_ct_snapshot_list(const char *key, json_t **out, struct buf *err);
int svc_ct_snapshot_revert(const char *key, const char *name, json_t **job, struct buf *err);
int svc_ct_snapshot_delete(const char *key, const char *name, json_t **out, struct buf *err);
/* A new container `name` (new uuid, new MACs, no snapshots) whose root is
 * a copy of stopped container key's, independent of it. */
int svc_ct_clone(const char *key, const char *name, json_t **job, struct buf *err);
/* Start-up recovery of a ct-create job corrald died in (ct_create.c): a
 * debian base half built goes, and what the job recorded (as a clone's)
 * is removed unless its row was stored (true). */
bool svc_ct_create_recover(const json_t *result);
/* Start-up recovery of a ct-clone job corrald died in (its recorded result
 * {name, uuid}): true if the clone was stored (complete), else what it made
 * (the new liblxc directory) is removed and false. */
bool svc_ct_clone_recover(const json_t *result);

/*
 * Move a stopped container's root (with its snapshots) into pool `pool`
 * (ct_vol.c; docs/containers.md, "Storage"): a job ("ct-move", result
 * {container, pool, from_pool, volume, path, bytes}) holding its lock.  A
 * root not yet in a pool (made before roots were volumes, restored, or
 * migrated in) becomes a volume there.  Refused at once: a running
 * container (-EBUSY), a --rootfs directory (-ENOTSUP), an unknown pool, the
 * pool it is in; the job fails with -ENOSPC when the pool lacks the room,
 * and the old copy goes only after the new one is stored.
 */
int svc_ct_move(const char *key, const char *pool, json_t **job, struct buf *err);
/* Start-up recovery of a ct-move job corrald died in (its recorded result):
 * true if the switch was stored (the old copy is then removed), else the
 * copies it made go and the container keeps its old root (false). */
bool svc_ct_move_recover(const json_t *result);

/*
 * Offline migration of a stopped container to a trusted host (ct_migrate.c;
 * docs/containers.md, "Migration").  Only roots corral built move (a
 * --rootfs directory of the admin's is refused), with their snapshots; the
 * destination must have every network of its NICs and, for an unprivileged
 * container, give containers the same subordinate id range (the tree keeps
 * its numeric owners).  The source owns the container until the
 * destination confirms finish; then it is forgotten here (row and files).
 *
 * svc_ct_migrate: checks (stopped, destination trusted) at once, then a job
 * ("ct-migrate", result {kind: "container", container, to, bytes}) holding
 * the container's lock, with byte progress.  bandwidth: bytes/s the root
 * stream may use (0: unlimited).
 */
int svc_ct_migrate(const char *key, const char *to, uint64_t bandwidth, json_t **job, struct buf *err);
/* Destination: prepare ({container, source, token, bytes}; caller: the
 * trusted host calling, or NULL), then steps pull, finish, abort, status. */
int svc_ct_migrate_prepare(const json_t *req, const char *caller, json_t **out, struct buf *err);
int svc_ct_migrate_step(const char *uuid, const char *step, const char *caller, json_t **out, struct buf *err);
/* Source: the root of an outgoing migration as a tar stream (*fd, read end
 * of a pipe a thread fills), once, for the holder of its token. */
int svc_ct_migrate_root(const char *uuid, const char *token, const char *caller, int *fd, struct buf *err);
/* Destination: remove prepared containers older than MIG_OFFLINE_EXPIRE_S (all: every one). */
void svc_ct_migrate_reap(bool all);
/* Recovery (migrate_recover.c): a "ct-in" record after a restart (removed
 * with what it made); the source forgetting a container the destination took. */
void ct_migrate_in_recover(const json_t *rec);
void svc_ct_migrate_forget(const char *uuid, const char *name, const char *to);

/*
 * HA for containers (ct_ha.c; docs/ha.md "Containers"): what the HA
 * manager, agent and fence (service/ha*.c) call where a VM's path calls
 * the QEMU runtime.
 *
 * svc_ct_ha_capture: container key's definition into an HA row's def:
 * "vm" (its name), "kind": "container", "ctdef", "disks" (its root volume
 * and mount points' volumes, [{volume, pool, format, file}]) and
 * "memory_mib" (its memory limit, or 128); *uuid its uuid.  -EINVAL with
 * the reason when HA could not restart it elsewhere: a --rootfs directory
 * or a root in the lxcpath, a root or mount volume in a pool that is not
 * shared, an image root.  -ENOENT: no such container.
 * svc_ct_ha_adopt: define container uuid here from def (the pool's copy):
 * its volume rows on this host's shared pools (checked to exist), liblxc's
 * config, its row, in one store batch.  0 also when it is defined here
 * already.
 * svc_ct_ha_forget: drop this host's record of a stopped container the
 * pool moved away: its row, its volumes' rows and liblxc's config, never
 * the root or the volumes' trees.
 * svc_ct_ha_start: svc_ct_start_now, and no longer fenced here.
 * svc_ct_ha_stop: a graceful stop (timeout_s), then a kill, holding its
 * lock (a maintenance move: containers have no live migration).
 */
int svc_ct_ha_capture(const char *key, json_t *def, char uuid[37], struct buf *err);
int svc_ct_ha_adopt(const char *uuid, const json_t *def, struct buf *err);
int svc_ct_ha_forget(const char *uuid, struct buf *err);
int svc_ct_ha_start(const char *uuid, struct buf *err);
int svc_ct_ha_stop(const char *uuid, int timeout_s, struct buf *err);
/* Is container uuid defined here? */
bool svc_ct_exists(const char *uuid);
/* Does container uuid run here (liblxc's state not STOPPED)?  *state (may
 * be NULL): liblxc's state, or "unknown here" for no such container. */
bool svc_ct_running(const char *uuid, const char **state);
/* A pidfd of the container's init in any state but stopped (caller
 * closes), checked to be its init after opening; -ESRCH when it does not
 * run. */
int svc_ct_pidfd(const char *uuid);
/* The self-fence: SIGKILL to its init through pidfd (the fence's, opened
 * when it armed; -1: one opened now; the caller keeps its own) (the kernel
 * kills the rest of its PID namespace; a frozen one is thawed so the kill
 * lands).  0 killed, 1 its init had ended already (corral-guard was
 * first), -ESRCH not running.  The container is then "fenced here" with
 * reason. */
int svc_ct_fence(const char *uuid, int pidfd, const char *reason, struct buf *err);
/* corral-guard fenced it (its report): "fenced here" with reason. */
void svc_ct_fenced_note(const char *uuid, const char *reason);
/* Was it fenced here since it last started (in corrald's memory)?  The reason into reason. */
bool svc_ct_fenced(const char *uuid, char *reason, size_t len);

#endif
