/*
 * subnet.c - IPv4 subnet arithmetic for networks (see subnet.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "subnet.h"
#include "util/strutil.h"

int ipv4_parse(const char *s, uint32_t *out)
{
	uint32_t a = 0;
	int parts = 0;
	const char *p = s;

	while (parts < 4) {
		int v = 0, digits = 0;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (*p++ - '0');
			if (++digits > 3 || v > 255)
				return -EINVAL;
		}
		if (!digits || (digits > 1 && p[-digits] == '0'))
			return -EINVAL; /* empty, or a leading zero (octal to some tools) */
		a = a << 8 | (uint32_t)v;
		if (++parts < 4 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = a;
	return 0;
}

const char *ipv4_fmt(uint32_t a, char *out)
{
	snprintf(out, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
	return out;
}

const char *subnet_fmt(const struct subnet *s, char *out)
{
	char a[16];
	snprintf(out, 19, "%s/%d", ipv4_fmt(s->net, a), s->prefix);
	return out;
}

uint32_t subnet_mask(const struct subnet *s) { return s->prefix ? ~0u << (32 - s->prefix) : 0; }

int subnet_parse(const char *s, struct subnet *out, struct buf *err)
{
	const char *slash = strchr(s, '/');
	char addr[16];
	int64_t len;
	uint32_t a;

	if (!slash || (size_t)(slash - s) >= sizeof(addr)) {
		buf_adds(err, "a subnet is written A.B.C.D/LEN, e.g. 10.20.0.0/24");
		return -EINVAL;
	}
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	/* no leading zero in the length either ("/024"): a subnet prints back as given */
	if (ipv4_parse(addr, &a) < 0 || (slash[1] == '0' && slash[2]) || str_parse_int(slash + 1, 0, 32, &len) < 0) {
		buf_adds(err, "a subnet is written A.B.C.D/LEN, e.g. 10.20.0.0/24");
		return -EINVAL;
	}
	if (len < SUBNET_MIN_PREFIX || len > SUBNET_MAX_PREFIX) {
		buf_printf(err, "the subnet's prefix length must be between %d and %d", SUBNET_MIN_PREFIX,
			   SUBNET_MAX_PREFIX);
		return -EINVAL;
	}
	struct subnet sn = { a, (int)len };
	if (a & ~subnet_mask(&sn)) {
		char fix[19];
		sn.net = a & subnet_mask(&sn);
		buf_printf(err, "%s is not a network address (did you mean %s?)", s, subnet_fmt(&sn, fix));
		return -EINVAL;
	}
	if ((a >> 24) == 0 || (a >> 24) == 127 || (a >> 24) >= 224) {
		buf_printf(err, "%s is not a usable subnet (loopback, multicast or reserved)", s);
		return -EINVAL;
	}
	*out = sn;
	return 0;
}

bool subnet_overlap(const struct subnet *a, const struct subnet *b)
{
	int p = a->prefix < b->prefix ? a->prefix : b->prefix;
	uint32_t m = p ? ~0u << (32 - p) : 0;
	return (a->net & m) == (b->net & m);
}

bool subnet_contains(const struct subnet *s, uint32_t addr) { return (addr & subnet_mask(s)) == s->net; }
uint32_t subnet_gateway(const struct subnet *s) { return s->net + 1; }
uint32_t subnet_broadcast(const struct subnet *s) { return s->net | ~subnet_mask(s); }

void subnet_dhcp_range(const struct subnet *s, uint32_t *first, uint32_t *last)
{
	uint32_t size = ~subnet_mask(s) + 1;
	*first = s->net + size / 2;
	*last = subnet_broadcast(s) - 1;
}

bool subnet_reservable(const struct subnet *s, uint32_t addr)
{
	uint32_t first, last;
	subnet_dhcp_range(s, &first, &last);
	return subnet_contains(s, addr) && addr > subnet_gateway(s) && addr < first;
}
