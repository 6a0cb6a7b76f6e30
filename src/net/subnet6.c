/*
 * subnet6.c - IPv6 /64 prefixes of networks (see subnet6.h): parsed with
 * inet_pton, so every textual form the C library accepts is taken, and
 * printed in the canonical compressed form with inet_ntop.
 */
#include "net/subnet6.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/strutil.h"

static const char example[] = "an IPv6 subnet is a /64 written PREFIX::/64, e.g. fd20:1::/64";

int subnet6_parse(const char *s, struct subnet6 *out, struct buf *err)
{
	const char *slash = s ? strchr(s, '/') : NULL;
	char addr[INET6_ADDRSTRLEN];
	int64_t len;
	uint8_t a[16];

	if (!slash || (size_t)(slash - s) >= sizeof(addr)) {
		buf_adds(err, example);
		return -EINVAL;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	if (inet_pton(AF_INET6, addr, a) != 1 || (slash[1] == '0' && slash[2]) ||
	    str_parse_int(slash + 1, 0, 128, &len) < 0) {
		buf_adds(err, example);
		return -EINVAL;
	}
	if (len != SUBNET6_PREFIX) {
		buf_printf(err, "the IPv6 subnet must be a /64 (guests configure themselves by SLAAC), not /%lld",
			   (long long)len);
		return -EINVAL;
	}
	for (int i = 8; i < 16; i++) {
		if (a[i]) {
			struct subnet6 fix;
			char f[SUBNET6_STRLEN];
			memcpy(fix.net, a, 8);
			memset(fix.net + 8, 0, 8);
			buf_printf(err, "%s is not a network address (did you mean %s?)", s, subnet6_fmt(&fix, f));
			return -EINVAL;
		}
	}
	/* ::/64 (unspecified, loopback, v4-mapped), fe80::/10, ff00::/8, 2001:db8::/32 */
	static const uint8_t zero[8] = { 0 };
	if (!memcmp(a, zero, 8) || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || a[0] == 0xff ||
	    (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)) {
		buf_printf(err, "%s is not a usable IPv6 subnet (unspecified, link-local, multicast or documentation)", s);
		return -EINVAL;
	}
	memcpy(out->net, a, 16);
	return 0;
}

const char *subnet6_prefix_fmt(const struct subnet6 *s, char *out)
{
	if (!inet_ntop(AF_INET6, s->net, out, SUBNET6_STRLEN))
		out[0] = '\0';
	return out;
}

const char *subnet6_fmt(const struct subnet6 *s, char *out)
{
	char p[INET6_ADDRSTRLEN];
	snprintf(out, SUBNET6_STRLEN, "%s/%d", subnet6_prefix_fmt(s, p), SUBNET6_PREFIX);
	return out;
}

void subnet6_gateway(const struct subnet6 *s, uint8_t out[16])
{
	memcpy(out, s->net, 16);
	out[15] = 1;
}

const char *subnet6_gateway_fmt(const struct subnet6 *s, char *out)
{
	uint8_t g[16];
	subnet6_gateway(s, g);
	if (!inet_ntop(AF_INET6, g, out, SUBNET6_STRLEN))
		out[0] = '\0';
	return out;
}

bool subnet6_contains(const struct subnet6 *s, const uint8_t addr[16]) { return !memcmp(s->net, addr, 8); }

bool subnet6_equal(const struct subnet6 *a, const struct subnet6 *b) { return !memcmp(a->net, b->net, 8); }
