/*
 * subnet6.h - the IPv6 prefix of a corral network: parsing "fd20:1::/64",
 * its layout, and whether an address is inside it.
 *
 * A network's IPv6 subnet is always a /64: guests configure their addresses
 * themselves from the host's router advertisements (SLAAC), which needs 64
 * host bits.  The host's address on the bridge (the guests' router and DNS
 * server) is PREFIX::1.  Link-local, multicast, loopback, unspecified,
 * IPv4-mapped and documentation prefixes are refused.
 *
 * Pure functions, no I/O.  Addresses are 16 bytes in network byte order.
 * Errors: 0 or -EINVAL with one sentence appended to err.
 */
#ifndef CORRAL_NET_SUBNET6_H
#define CORRAL_NET_SUBNET6_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define SUBNET6_PREFIX 64
#define SUBNET6_STRLEN 48 /* "xxxx:...:xxxx/64" and its NUL */

struct subnet6 {
	uint8_t net[16]; /* the prefix, host bits zero */
};

/* Parse "ADDR/64": a /64 prefix with no host bits, usable for guests. */
int subnet6_parse(const char *s, struct subnet6 *out, struct buf *err);
/* "PREFIX::/64" into out (>= SUBNET6_STRLEN bytes). */
const char *subnet6_fmt(const struct subnet6 *s, char *out);
/* The host's address on the bridge, PREFIX::1. */
void subnet6_gateway(const struct subnet6 *s, uint8_t out[16]);
/* "PREFIX::1" into out (>= SUBNET6_STRLEN bytes). */
const char *subnet6_gateway_fmt(const struct subnet6 *s, char *out);
/* The prefix alone, "PREFIX::" (for dnsmasq), into out (>= SUBNET6_STRLEN bytes). */
const char *subnet6_prefix_fmt(const struct subnet6 *s, char *out);
bool subnet6_contains(const struct subnet6 *s, const uint8_t addr[16]);
bool subnet6_equal(const struct subnet6 *a, const struct subnet6 *b);

#endif
