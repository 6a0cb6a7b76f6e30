/*
 * netlink.h - links and addresses through rtnetlink (libmnl): bridges,
 * putting a port into a bridge, link up, IPv4 addresses, and what a link
 * is (kind, alias, master).  corrald never runs `ip`.
 *
 * Every call opens its own NETLINK_ROUTE socket, sends one request and
 * waits for the kernel's acknowledgement, so calls are safe from any thread
 * and hold no state.  Names are interface names (at most IFNAMSIZ-1 bytes).
 *
 * Errors: 0 or -errno with one sentence naming the link appended to err
 * (err may be NULL).  -ENODEV: no such link; -EEXIST: it exists already.
 */
#ifndef CORRAL_NET_NETLINK_H
#define CORRAL_NET_NETLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <net/if.h>

#include "util/buf.h"

struct nl_link {
	int index;
	char kind[32];      /* "bridge", "tun", "veth", ... ("" for a plain device) */
	char alias[128];    /* IFLA_IFALIAS, "" when unset */
	int master;         /* ifindex of the bridge it is a port of, 0: none */
	bool up;            /* IFF_UP */
};

/* true if `name` is usable as an interface name (1..15 of [A-Za-z0-9_.-], not "." or ".."). */
bool nl_ifname_valid(const char *name);

/* What link `name` is; -ENODEV if there is none. */
int nl_link_get(const char *name, struct nl_link *out, struct buf *err);
/* Create bridge `name` (down) with alias (may be NULL); -EEXIST if the name is taken. */
int nl_bridge_create(const char *name, const char *alias, struct buf *err);
/* Create VXLAN link `name` (down): VNI vni, UDP port `port`, source address local
 * (network byte order, 0: any), with alias; -EEXIST if the name is taken. */
int nl_vxlan_create(const char *name, uint32_t vni, uint16_t port, uint32_t local, const char *alias,
		    struct buf *err);
/* Flood entry: frames for unknown destinations on VXLAN link `name` also go to dst
 * (IPv4, network byte order): `bridge fdb append 00:00:00:00:00:00 dev NAME dst DST`. */
int nl_vxlan_peer_add(const char *name, uint32_t dst, struct buf *err);
int nl_link_delete(const char *name, struct buf *err);
int nl_link_set_up(const char *name, bool up, struct buf *err);
/* Make `name` a port of bridge `master` (NULL: release it). */
int nl_link_set_master(const char *name, const char *master, struct buf *err);
/* Add addr/prefix (IPv4, network byte order) to `name`; an address already there is fine. */
int nl_addr4_add(const char *name, uint32_t addr, int prefix, struct buf *err);

/* Every IPv4 address configured on the host (a malloc'd array the caller frees). */
struct nl_addr4 {
	int index;
	uint32_t addr;      /* network byte order */
	int prefix;
};
int nl_addr4_list(struct nl_addr4 **out, size_t *n, struct buf *err);

#endif
