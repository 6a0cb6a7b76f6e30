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

#include "net/vlan.h"
#include "util/buf.h"

struct nlmsghdr;

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

/*
 * VLANs on bridges (net/vlan.h).  nl_bridge_vlan_filtering() turns VLAN
 * filtering on or off on bridge `name` (RTM_NEWLINK, IFLA_LINKINFO
 * {kind "bridge", IFLA_INFO_DATA {IFLA_BR_VLAN_FILTERING}}); on a kernel
 * without CONFIG_BRIDGE_VLAN_FILTERING the kernel answers -EOPNOTSUPP.
 * nl_port_vlan_apply() applies a vlan_plan() to bridge port `port`: one
 * request per entry, RTM_SETLINK (add) or RTM_DELLINK (del) of family
 * AF_BRIDGE carrying IFLA_AF_SPEC {IFLA_BRIDGE_VLAN_INFO {flags, vid}}, as
 * `bridge vlan add|del` sends; idempotent (removing a VID that is not there
 * is fine), so re-applying after a corrald restart changes nothing.
 */
int nl_bridge_vlan_filtering(const char *name, bool on, struct buf *err);
int nl_port_vlan_apply(const char *port, const struct vlan_entry *e, size_t n, struct buf *err);

/*
 * The requests above, built into buf (MNL_SOCKET_BUFFER_SIZE bytes) without
 * sending them (sequence number 0), and a text rendering of a request (its
 * header, ifinfomsg and attribute tree, then every byte in hex) for the
 * golden tests: on kernels without VLAN filtering this is how the messages
 * are checked.
 */
struct nlmsghdr *nl_bridge_vlan_filtering_msg(char *buf, const char *name, bool on);
struct nlmsghdr *nl_port_vlan_msg(char *buf, int port_index, const struct vlan_entry *e);
void nl_msg_format(const struct nlmsghdr *nlh, struct buf *out);

/* Add addr/prefix (IPv6, 16 bytes, without duplicate address detection) to `name`; one there is fine. */
int nl_addr6_add(const char *name, const uint8_t addr[16], int prefix, struct buf *err);

/* Every IPv4 address configured on the host (a malloc'd array the caller frees). */
struct nl_addr4 {
	int index;
	uint32_t addr;      /* network byte order */
	int prefix;
};
int nl_addr4_list(struct nl_addr4 **out, size_t *n, struct buf *err);

#endif
