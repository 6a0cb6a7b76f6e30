/*
 * ha_manager.h - the HA manager and agent in corrald (ha_manager.c;
 * docs/ha.md "The manager"): who restarts a lost host's HA VMs, where,
 * in which order, and what each host does with the HA VMs it owns.
 *
 * One thread per corrald, acting only while this host is quorate and
 * holds the pool's configuration (cluster_store_view: synced).
 *
 * Manager (the lowest node id of the pool's configuration group; every
 * member computes the same, no lock): a row whose owner host left the
 * quorate ring goes from status started/request_start to "fence"; after
 * the wait W (ha_fence_wait_ms) the fenced rows, and rows whose owner
 * asked for a relocation, are placed (cluster/haplace.h: priority desc,
 * order asc, name; a wave per (priority, order); the surviving host with
 * the most free memory that has the VM's shared pools) and handed over:
 * owner = new host, from = old host, status "request_start".  A wave
 * starts once the previous one's VMs report started (at most 120 s) plus
 * its largest start_delay.  A relocation beyond max_relocate failed hosts
 * ends in "error".  Every write carries the ring (store_batch_ha_decide),
 * so a manager that lost its office cannot land a decision.
 *
 * Both act only while the host is quorate, holds the pool's configuration
 * and its configuration group has caught up with the quorate ring; an
 * agent never starts a VM without quorum.
 *
 * Agent (every host, for the rows it owns): creates the local VM record
 * from the replicated definition (same uuid, disks recorded on the shared
 * pools), starts it, reports "started"; restarts a crashed VM (QEMU exited
 * without a stop request; a second after, while still quorate, since a
 * kill by corral-guard's fence first looks like a crash) up to
 * max_restart times, then reports
 * "relocate" with itself among the failed hosts; keeps the replicated
 * definition (vmdef, disks) in step with the local one.  For a row owned
 * elsewhere whose "from" is this host and whose QEMU does not run here, it
 * drops the local record (never the disks), with an event.
 *
 * Containers (docs/ha.md "Containers") take the same path; the agent's
 * calls differ by kind (ha_kind.h, service/ct.h "HA"): a container is
 * defined from the pool's copy (ctdef, its volumes on the shared pools),
 * counts as crashed when found stopped without a request, and a
 * maintenance or failback move is offline: the owner stops it, then hands
 * it over (owner = target, request_start) for the target to start.
 *
 * Restart counts live in the agent's memory (reset when the owner changes
 * or corrald restarts).  Events: kind "ha" on the host that decided or
 * acted.  Threading: the functions below from any thread.
 */
#ifndef CORRAL_SERVICE_HA_MANAGER_H
#define CORRAL_SERVICE_HA_MANAGER_H

#include <jansson.h>

int ha_manager_start(void);
void ha_manager_stop(void);
/* {host, node, ring, self, wait_ms} of the current manager, or {host: null, reason}. */
json_t *ha_manager_status(void);

#endif
