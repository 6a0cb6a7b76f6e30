/*
 * tap.h - tap devices for guest NICs.
 *
 * A tap is opened on /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
 * and not made persistent: it exists while some process holds its fd.
 * corrald opens it, puts it into the network's bridge, brings it up and
 * hands the fd to QEMU (`-netdev tap,fd=N`), then closes its own copy; so
 * the tap lives exactly as long as the QEMU that uses it (it vanishes when
 * QEMU exits, however QEMU exits, and survives corrald being killed).  Its
 * name is derived from the VM's uuid and the NIC's MAC (tap_name), so a
 * restarted corrald finds it again without any record.
 *
 * Errors: 0 / fd, or -errno with one sentence appended to err.
 */
#ifndef CORRAL_NET_TAP_H
#define CORRAL_NET_TAP_H

#include "util/buf.h"

#define TAP_NAME_LEN 16

/* "ct" + the first 7 hex digits of the VM's uuid + the last 6 of the NIC's MAC: 15 bytes. */
void tap_name(const char *uuid, const char *mac, char out[TAP_NAME_LEN]);
/* The host end of a container NIC's veth pair (liblxc creates it): "cv" and
 * the same 13 hex digits, from the container's uuid and the NIC's MAC. */
void tap_veth_name(const char *uuid, const char *mac, char out[TAP_NAME_LEN]);
/* Create tap `name` (-EEXIST if a link of that name exists) and return its fd (O_CLOEXEC). */
int tap_open(const char *name, struct buf *err);

#endif
