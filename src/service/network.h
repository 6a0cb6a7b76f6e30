/*
 * network.h - networks for guests (network.c): create, list, show, delete,
 * leases, port forwards; bringing them up at corrald start; the taps of
 * VMs' NICs.
 *
 * A network is a definition in the store (net/netdef.h) plus what it is
 * on this host: for nat/isolated a bridge of corral's (marked with the
 * alias "corral network <name>"), its address, a dnsmasq and (nat) an
 * nftables table; for bridge an existing host bridge corral only adds
 * taps to.  Files are under <state_dir>/networks/<name>/ (docs/network.md).
 * Creating makes all of it or, on any failure, nothing; deleting removes
 * exactly what was made (never a bridge that is not corral's); corrald's
 * start makes what is missing and re-adopts what is there (same bridge,
 * same dnsmasq by its pid file identity, table reloaded atomically).
 *
 * Changes to networks and VM definitions are serialised by svc_defs_lock;
 * svc_net_nic_open (called by VM starts) does not take it.
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_NETWORK_H
#define CORRAL_SERVICE_NETWORK_H

#include <jansson.h>

#include "core/ctdef.h"
#include "core/vmdef.h"
#include "service/service.h"

/* Bring every network up (corrald start); failures are logged, the network shows them. */
void svc_net_init(void);
json_t *svc_net_list(void);
int svc_net_get(const char *name, json_t **out, struct buf *err);
int svc_net_create(const json_t *def, json_t **out, struct buf *err);
/* -EBUSY while a VM definition has a NIC on it. */
int svc_net_delete(const char *name, struct buf *err);
/* {"leases": [{"mac","ip","hostname","expires","vm"|"container"}]} (the guest whose NIC has the MAC) */
int svc_net_leases(const char *name, json_t **out, struct buf *err);
/* host "tcp:8022", guest "VM:22"; the VM gets an address reservation if it has none. */
int svc_net_forward_add(const char *name, const char *host, const char *guest, json_t **out, struct buf *err);
int svc_net_forward_delete(const char *name, const char *host, json_t **out, struct buf *err);

/* Checks of a VM definition against the networks, under svc_defs_lock:
 * every network NIC's network exists, no MAC is used by another VM, NICs
 * with vlan= are on a bridge that can have VLANs (-EOPNOTSUPP naming the
 * missing kernel feature). */
int svc_net_check_vm(const struct vm_def *d, struct buf *err);
/* status.nics of a VM: [{"mac", "network", "ip"|null, "tap"|null}] parallel to d->nics. */
json_t *svc_net_nic_status(const struct vm_def *d);
/* Look at every network's DHCP leases; a NIC that got a new address is recorded
 * as a "nic" event of its VM (housekeeping.c, every few seconds). */
void svc_net_leases_poll(void);
/* Rewrite the hosts files of the networks d's NICs are on (after a VM was edited or
 * deleted); failures are logged. */
void svc_net_hosts_refresh(const struct vm_def *d);
/* rt_config.nic_open: the tap of NIC `index` of VM d, in its network's bridge and up. */
int svc_net_nic_open(const struct vm_def *d, int index, struct buf *err);
/* NIC `index` of VM d changed (its bw): if its tap exists, its filter and
 * port settings follow, live.  0 when it is not running. */
int svc_net_nic_update(const struct vm_def *d, int index, struct buf *err);
/* NIC `index` of VM d left its network (detached, or QEMU gone): its traffic filter goes. */
void svc_net_nic_closed(const struct vm_def *d, int index);
/* VM `uuid` stopped: the traffic filters of all its NICs go. */
void svc_net_vm_stopped(const char *uuid);

/*
 * Containers' NICs (service/ct.c): a veth pair liblxc makes at the
 * container's start, its host end (tap_veth_name, "cv...") in the
 * network's bridge, filtered like a VM's tap (net/hygiene.h): the filter is
 * installed by name before liblxc creates the port, narrowed to the lease
 * when dnsmasq gives one, re-adopted by svc_net_init while the container
 * runs on, and removed when it stops.  A network a container's NIC is on
 * cannot be deleted; a MAC is unique among VMs' and containers' NICs.
 */
/* d's networks exist and its MACs are nobody else's (under svc_defs_lock). */
int svc_net_check_ct(const struct ct_def *d, struct buf *err);
/* Before a start: NIC `index`'s bridge and host-end name (IFNAMSIZ bytes
 * each) and its traffic filter installed; -ENODEV if the network is not up. */
int svc_net_ct_nic_open(const struct ct_def *d, int index, char bridge[16], char port[16], struct buf *err);
/* NIC `index` of d is gone (the container stopped or did not start): its filter goes. */
void svc_net_ct_nic_closed(const struct ct_def *d, int index);
/* status.nics of a container: [{"mac", "network", "veth"|null, "ip"|null}]. */
json_t *svc_net_ct_nic_status(const struct ct_def *d);
/* Rewrite the hosts files of d's networks (created or deleted). */
void svc_net_ct_hosts_refresh(const struct ct_def *d);

#endif
