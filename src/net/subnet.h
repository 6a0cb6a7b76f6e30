/*
 * subnet.h - IPv4 subnets of corral networks: parsing "10.20.0.0/24",
 * overlap, and how a network's addresses are laid out.
 *
 * Layout of a subnet N/len (len 8..28): the host's address on the bridge
 * (the guests' gateway and DNS server) is N+1; static reservations are
 * taken from N+2 upward; dnsmasq hands out dynamic leases from the upper
 * half (N + size/2 .. broadcast-1), so the two never meet.
 *
 * Pure functions, no I/O.  Addresses are in host byte order.
 */
#ifndef CORRAL_NET_SUBNET_H
#define CORRAL_NET_SUBNET_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define SUBNET_MIN_PREFIX 8
#define SUBNET_MAX_PREFIX 28

struct subnet {
	uint32_t net;   /* host byte order, host bits zero */
	int prefix;
};

/* Parse "A.B.C.D/LEN": a network address (no host bits) with LEN in range.  0 or -EINVAL + err. */
int subnet_parse(const char *s, struct subnet *out, struct buf *err);
/* Parse a dotted IPv4 address.  0 or -EINVAL. */
int ipv4_parse(const char *s, uint32_t *out);
/* "A.B.C.D" into out (>= 16 bytes). */
const char *ipv4_fmt(uint32_t a, char *out);
/* "A.B.C.D/LEN" into out (>= 19 bytes). */
const char *subnet_fmt(const struct subnet *s, char *out);
uint32_t subnet_mask(const struct subnet *s);
bool subnet_overlap(const struct subnet *a, const struct subnet *b);
bool subnet_contains(const struct subnet *s, uint32_t addr);
uint32_t subnet_gateway(const struct subnet *s);
uint32_t subnet_broadcast(const struct subnet *s);
/* The dynamic range dnsmasq hands out. */
void subnet_dhcp_range(const struct subnet *s, uint32_t *first, uint32_t *last);
/* true if addr can be a static reservation: inside, below the dynamic range, not the gateway. */
bool subnet_reservable(const struct subnet *s, uint32_t addr);

#endif
