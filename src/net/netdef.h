/*
 * netdef.h - a network's definition: what the user asked for.
 *
 * Parsed from and written to JSON (docs/api.md, "Network definition");
 * netdef_from_json validates everything that needs no host: a struct
 * net_def that exists is valid apart from checks against the host and the
 * other networks (bridge names taken, overlapping subnets, VMs existing),
 * which the service layer makes.  Strings are owned by the struct;
 * netdef_free releases all of it.
 *
 * Types: NET_NAT (a bridge of corral's with a subnet, DHCP/DNS by dnsmasq,
 * masquerade out, port forwards in), NET_ISOLATED (the same without any
 * route out or in), NET_BRIDGE (an existing host bridge; corral only adds
 * taps to it: no addresses, no DHCP, no firewall), NET_VXLAN (one layer-2
 * segment over several hosts: a bridge of corral's with a VXLAN port
 * "cv-<name>" of VNI `vni` flooding to every peer; no address, no DHCP: an
 * L2 network whose addressing the guests or a DHCP server on it provide).
 */
#ifndef CORRAL_NET_NETDEF_H
#define CORRAL_NET_NETDEF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "net/subnet.h"
#include "net/subnet6.h"
#include "util/buf.h"

#define NET_NAME_MAX 12    /* "cr-" + name fits IFNAMSIZ-1 */
#define NET_MAX_FORWARDS 64
#define NET_MAX_RESERVATIONS 256

enum net_type { NET_NAT, NET_ISOLATED, NET_BRIDGE, NET_VXLAN };

#define NET_MAX_PEERS 16
#define NET_VXLAN_PORT 4789

struct net_forward {
	bool udp;           /* else tcp */
	int port;           /* on the host */
	char *vm;           /* VM name */
	int vm_port;
};

struct net_reservation {
	char *vm;           /* VM name: its first NIC on the network */
	uint32_t ip;        /* host byte order */
};

struct net_def {
	char *name;
	enum net_type type;
	struct subnet subnet; /* NAT/ISOLATED */
	bool has_subnet6;     /* NAT/ISOLATED: IPv6 too ("subnet6") */
	struct subnet6 subnet6; /* its /64: router adverts (SLAAC) and stateless DHCPv6 by dnsmasq */
	char *bridge;
	bool dhcp;            /* NAT/ISOLATED: dnsmasq serves DHCP and DNS */
	struct net_forward forwards[NET_MAX_FORWARDS];
	int nforwards;
	struct net_reservation reservations[NET_MAX_RESERVATIONS];
	int nreservations;
	/* NET_VXLAN */
	uint32_t vni;                   /* 1..16777215 */
	uint32_t local;                 /* source address (host order), 0: chosen by routing */
	uint32_t peers[NET_MAX_PEERS];  /* the other hosts' addresses (host order) */
	int npeers;
};

/* "cv-<name>": the VXLAN port of a vxlan network (out >= 16 bytes). */
void netdef_vxlan_link(const struct net_def *d, char *out);

const char *net_type_name(enum net_type t);
/* A network name: 1..12 of [a-z0-9-], starting with a letter or digit.  NULL or why not. */
const char *netdef_name_invalid(const char *name);

/* NULL and one sentence in err on any invalid input.  A missing bridge gets "cr-<name>". */
struct net_def *netdef_from_json(const json_t *j, struct buf *err);
json_t *netdef_to_json(const struct net_def *d);
void netdef_free(struct net_def *d);

/* Parse "tcp:8022" / "udp:53" (host side) and "VM:22" (guest side) into f.  0 or -EINVAL + err. */
int netdef_forward_parse(const char *host, const char *guest, struct net_forward *f, struct buf *err);
/* The reservation of VM `vm`, or NULL. */
const struct net_reservation *netdef_reservation(const struct net_def *d, const char *vm);

#endif
