/*
 * vm.h - VMs: definitions, selection and lifecycle (vm.c).
 *
 * The rules every caller relies on: a definition is validated before it is
 * stored, a volume belongs to at most one VM, a running VM cannot be edited or
 * deleted, and every change holds the VM's job lock.
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_VM_H
#define CORRAL_SERVICE_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"
#include "core/vmstate.h"

/* Resolve a selector; `single` demands exactly one match.  *out is malloc'd. */
int svc_vm_select(const char *selector, bool single, svc_uuid **out, size_t *n, struct buf *err);
json_t *svc_vm_list(const char *selector, struct buf *err);
/* Definition + "status" (docs/api.md). */
json_t *svc_vm_show(const char *uuid);
int svc_vm_create(const json_t *def, json_t **out, struct buf *err);
/* if_gen: the definition's generation the change was made against (its ETag),
 * -1 for any; a definition changed meanwhile is refused with -ESTALE. */
int svc_vm_update(const char *uuid, const json_t *def, int64_t if_gen, json_t **out, struct buf *err);
/* Appends the names of deleted volumes to vols_deleted (a JSON array). */
int svc_vm_delete(const char *uuid, bool with_disks, json_t *vols_deleted, struct buf *err);
struct svc_action_opts {
	int timeout_s; /* stop: how long to wait for the guest to power off */
	bool force;    /* stop (kill at once), reboot (hard reset) */
	bool kill;     /* stop: kill a guest still running after timeout_s; else the stop fails */
	bool host;     /* stop: asked by the host's shutdown, not a user (said in the VM's reason) */
};
/* A graceful stop's wait when the request names none (seconds). */
#define SVC_STOP_TIMEOUT_DEFAULT 300
/*
 * Actions (vmaction.c): start, stop, kill, reboot, pause or resume every VM
 * `selector` picks, as a job (*job: its JSON).  One VM: that VM's job, with
 * refusals (state, busy) answered at once; several: one job running a job per
 * VM in parallel, whose result {"vms":[{name,uuid,ok,state,error,job}]} says
 * how each fared.  A kill pre-empts the VM's current job (core/job.h).
 */
int svc_vm_action_job(const char *selector, enum vm_action a, const struct svc_action_opts *o, json_t **job,
		      struct buf *err);
/*
 * Action a on the VMs `list` (n of them; ownership passes, even on error) as
 * one job of type `type` on `target`: a job per VM started in list order,
 * all running at once, and the result as for svc_vm_action_job.
 */
int svc_vm_action_list_job(const char *type, const char *target, svc_uuid *list, size_t n, enum vm_action a,
			   const struct svc_action_opts *o, json_t **job, struct buf *err);
/* The same on one VM, waiting for the job's end (autostart, restore --start). */
int svc_vm_action(const char *uuid, enum vm_action a, const struct svc_action_opts *o, struct buf *err);
int svc_vm_disk_attach(const char *uuid, const char *volume, const char *bus, struct buf *err);
/* The same with the disk's I/O limits ("io" of a disk in the definition; NULL: none). */
int svc_vm_disk_attach_io(const char *uuid, const char *volume, const char *bus, const json_t *io, struct buf *err);
int svc_vm_disk_detach(const char *uuid, const char *volume, struct buf *err);
/* Add the NIC `nic` (a definition's NIC object) to the VM; hot-plugged (network NICs
 * only) while it runs.  Remove the NIC with `mac`: live only if it was hot-plugged. */
int svc_vm_nic_attach(const char *uuid, const json_t *nic, struct buf *err);
int svc_vm_nic_detach(const char *uuid, const char *mac, struct buf *err);
/* Link up/down of a running VM's NIC (live only: every start brings links up). */
int svc_vm_nic_link(const char *uuid, const char *mac, bool up, struct buf *err);
/* Change NIC `mac`'s settings: `changes` is {"bw": BITS_PER_SECOND} (0: no
 * limit); live on a running VM (its tap's tc and filter), then stored. */
int svc_vm_nic_set(const char *uuid, const char *mac, const json_t *changes, struct buf *err);
int svc_vm_cdrom(const char *uuid, const char *path, bool force, struct buf *err);
int svc_vm_log(const char *uuid, uint64_t tail, struct buf *out, struct buf *err);
json_t *svc_vm_events(const char *uuid, int limit);
/* Returns a connected fd for the serial console (force: take it over from
 * the attached session); release with svc_vm_console_close. */
int svc_vm_console_open(const char *uuid, bool force, struct buf *err);
/* A socket connected to a running VM's VNC server (QEMU's -vnc, found with
 * query-vnc; an unspecified listen address is reached over loopback), for
 * the web UI's noVNC proxy; the caller closes it.  -ENOENT + err when the VM
 * is not running, -ENOTSUP when it has no VNC display, -errno when the
 * connection fails. */
int svc_vm_vnc_open(const char *uuid, struct buf *err);
void svc_vm_console_close(const char *uuid, int fd);
/* Name of the VM whose definition uses `volume`, or NULL (caller frees). */
char *svc_vm_using_volume(const char *volume);

#endif
