/*
 * hygiene.h - guest traffic hygiene: what a guest may send into a bridge.
 *
 * Every frame a guest sends enters the bridge through its port (the tap
 * QEMU writes to).  This module filters those frames in the kernel with
 * nftables, in corral's own table `bridge corral-hygiene`, much as libvirt's
 * clean-traffic nwfilter or Incus' security.mac_filtering/ipv4_filtering do:
 *   - the guest sends only from its own MAC (no MAC spoofing, and no flood of
 *     random source MACs filling the bridge's forwarding table);
 *   - IPv4 only from its own leased address; before the lease is known only
 *     DHCP from 0.0.0.0 (no IP spoofing);
 *   - ARP only well-formed and with its own MAC and IP as sender (no ARP
 *     poisoning);
 *   - no DHCP server (UDP source port 67 dropped), DHCP requests only for its
 *     own MAC (chaddr) and at most `dhcp_rate` per second (so a guest cannot
 *     exhaust the pool: the seed);
 *   - IPv6 either dropped entirely, or allowed without router adverts,
 *     redirects, DHCPv6 server replies or spoofed neighbour adverts;
 *   - nothing but IPv4, ARP and IPv6 (no 802.1Q tags, no STP, no LLDP...);
 *   - optionally at most `tx_bytes_per_sec` bytes per second (policing).
 * docs/network.md ("Traffic hygiene") lists every rule and the reason for it.
 *
 * Kernel layout (the one corral owns; nothing else is ever touched):
 *     table bridge corral-hygiene {
 *         map ports { type ifname : verdict; }          port -> its chain
 *         chain prerouting { type filter hook prerouting priority -200;
 *                            iifname vmap @ports }
 *         chain p/BRIDGE/PORT { ...the port's rules... }
 *     }
 * The prerouting hook sees every frame entering the bridge from a port, before
 * the bridge learns its source MAC or decides where it goes (to another port
 * or to the host).  A port's chain name carries its bridge, so a network's
 * ports can be found and removed together.
 *
 * Every change is one nft transaction (`nft -f` fed through the command
 * runner): a port's chain is flushed and refilled atomically, so there is no
 * instant without filter when a lease is learned.  The rules are kernel
 * state: they survive corrald (kill -9 included); applying again is
 * idempotent, which is how corrald re-adopts them after a restart.  When the
 * last port goes, the table goes, so a host without corral guests has no
 * corral-hygiene table.
 *
 * Names: bridge and port names must be valid interface names made of
 * [A-Za-z0-9_.-] (what nft accepts unquoted in a chain name); anything else is
 * refused with an error and changes nothing.
 *
 * Errors: 0 or -errno with one sentence appended to err (may be NULL).
 * Threading: calls that change the kernel are serialised by a module mutex
 * and an flock on HYGIENE_LOCK_PATH (several corrald instances, e.g. tests,
 * share the one kernel table), so any thread may call them.
 */
#ifndef CORRAL_NET_HYGIENE_H
#define CORRAL_NET_HYGIENE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define HYGIENE_TABLE "corral-hygiene"
#define HYGIENE_LOCK_PATH "/run/corral-hygiene.lock"

/* DHCP client packets (v4 and v6) a port may send: per second, and burst. */
#define HYGIENE_DHCP_RATE_DEFAULT 2
#define HYGIENE_DHCP_BURST_DEFAULT 10
#define HYGIENE_DHCP_RATE_MAX 1000

struct hygiene_port {
	const char *bridge;        /* the bridge the port is attached to */
	const char *port;          /* the port: tap (or veth) name */
	uint8_t mac[6];            /* the guest's MAC */
	bool has_ipv4;             /* the guest's lease is known */
	struct in_addr ipv4;       /* that lease (network byte order) */
	bool any_ipv4;             /* no IPv4/ARP address check (corral does not
				    * know the guest's address: bridge, vxlan or
				    * DHCP-less networks); has_ipv4 is ignored */
	bool allow_ipv6;           /* false: drop all IPv6 from the guest */
	unsigned dhcp_rate;        /* DHCP client packets per second (0: default) */
	unsigned dhcp_burst;       /* and burst (0: default) */
	uint64_t tx_bytes_per_sec; /* police what the guest sends (0: no limit) */
};

#define HYGIENE_PORT_INIT { .bridge = NULL, .port = NULL }

/* One filtered port as found in the kernel. */
struct hygiene_entry {
	char bridge[16];
	char port[16];
};

/*
 * The nft transaction hygiene_port_apply() sends for p, into out (appended).
 * `previous_chain` is the chain the port jumps to now if it is a different
 * one (the port moved to another bridge), else NULL.  -EINVAL with a reason
 * for bad names or values.  Pure: used by the golden tests.
 */
int hygiene_port_render(const struct hygiene_port *p, const char *previous_chain,
			struct buf *out, struct buf *err);

/*
 * Install or replace p's filter, atomically (the port is never unfiltered
 * in between).  Call when the port comes up (no lease yet), again when the
 * lease is learned or changes, and for every running NIC after a corrald
 * restart.  The port need not exist yet (rules match by name).
 */
int hygiene_port_apply(const struct hygiene_port *p, struct buf *err);

/*
 * Remove one port's filter (VM stopped, NIC detached).  A port without
 * filter is not an error.  Deletes the table when no port is left.
 */
int hygiene_port_remove(const char *port, struct buf *err);

/* Remove the filters of every port of `bridge` (network deleted). */
int hygiene_bridge_remove(const char *bridge, struct buf *err);

/*
 * Make the kernel hold exactly `ports` (n of them, all on `bridge`) for
 * `bridge`, in one transaction: each is (re)applied as by
 * hygiene_port_apply(), and the bridge's other filtered ports are removed.
 * For corrald's start-up: call it per network with every NIC whose tap
 * exists, so filters left by the previous corrald are re-adopted (never
 * dropped, not even for an instant) and stale ones go.  Ports of other
 * bridges (other networks, other corrald instances) are left alone.  With
 * n == 0 it is hygiene_bridge_remove().
 */
int hygiene_bridge_sync(const char *bridge, const struct hygiene_port *ports, size_t n,
			struct buf *err);

/*
 * The filtered ports in the kernel (all bridges, or only `bridge` if not
 * NULL): *out is malloc'ed (free() it), *n its length.  For re-adoption:
 * after a restart, remove the ports corral no longer knows.
 */
int hygiene_port_list(const char *bridge, struct hygiene_entry **out, size_t *n, struct buf *err);

/*
 * Parse `nft -j list map bridge corral-hygiene ports` output into entries
 * (exposed for the unit test).  Entries whose chain is not p/BRIDGE/PORT are
 * skipped.
 */
int hygiene_map_parse(const char *json, size_t len, struct hygiene_entry **out, size_t *n,
		      struct buf *err);

/* NULL if name can be filtered (an interface name of [A-Za-z0-9_.-]), else why not. */
const char *hygiene_ifname_invalid(const char *name);

#endif
