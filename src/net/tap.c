/*
 * tap.c - creating a guest NIC's tap device (see tap.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "tap.h"
#include "util/cleanup.h"

static void port_name(const char *prefix, const char *uuid, const char *mac, char out[TAP_NAME_LEN])
{
	char hex[14];
	int n = 0;
	for (const char *c = uuid; *c && n < 7; c++)
		if (*c != '-')
			hex[n++] = *c;
	for (const char *c = strlen(mac) == 17 ? mac + 9 : ""; *c && n < 13; c++)
		if (*c != ':')
			hex[n++] = *c;
	hex[n] = '\0';
	snprintf(out, TAP_NAME_LEN, "%s%s", prefix, hex);
}

void tap_name(const char *uuid, const char *mac, char out[TAP_NAME_LEN]) { port_name("ct", uuid, mac, out); }
void tap_veth_name(const char *uuid, const char *mac, char out[TAP_NAME_LEN]) { port_name("cv", uuid, mac, out); }

int tap_open(const char *name, struct buf *err)
{
	__do_close int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr = { 0 };
	int r;

	if (fd < 0) {
		r = -errno;
		buf_printf(err, "cannot open /dev/net/tun for NIC %s: %s", name, strerror(errno));
		return r;
	}
	if (strlen(name) >= IFNAMSIZ) {
		buf_printf(err, "tap name %s is too long", name);
		return -EINVAL;
	}
	/* TUNSETIFF attaches to an existing tap of that name: refuse instead. */
	if (if_nametoindex(name) != 0) {
		buf_printf(err, "a network interface named %s exists already", name);
		return -EEXIST;
	}
	memcpy(ifr.ifr_name, name, strlen(name) + 1);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		buf_printf(err, "cannot create tap %s: %s", name, strerror(errno));
		return r;
	}
	return move_fd(fd);
}
