/*
 * netdef.c - parsing, validating and serialising network definitions
 * (see netdef.h).
 */
#include <errno.h>
#include <string.h>

#include "netdef.h"
#include "net/netlink.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

static const char *const type_names[] = { "nat", "isolated", "bridge", "vxlan" };

void netdef_vxlan_link(const struct net_def *d, char *out) { snprintf(out, 16, "cv-%s", d->name); }

const char *net_type_name(enum net_type t) { return type_names[t]; }

const char *netdef_name_invalid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > NET_NAME_MAX)
		return "a network name has 1 to 12 characters";
	if (name[0] == '-')
		return "a network name must not start with '-'";
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
			return "a network name may only contain a-z, 0-9 and '-'";
	return NULL;
}

static int vm_name_check(const char *what, const char *vm, struct buf *err)
{
	const char *bad = vm ? str_name_invalid(vm) : "missing";
	if (bad) {
		buf_printf(err, "%s: invalid VM name: %s", what, bad);
		return -EINVAL;
	}
	return 0;
}

int netdef_forward_parse(const char *host, const char *guest, struct net_forward *f, struct buf *err)
{
	int64_t p;
	const char *colon = strchr(host, ':');
	memset(f, 0, sizeof(*f));
	if (!colon || (strncmp(host, "tcp:", 4) != 0 && strncmp(host, "udp:", 4) != 0) ||
	    str_parse_int(colon + 1, 1, 65535, &p) < 0) {
		buf_printf(err, "a forward's host side is tcp:PORT or udp:PORT, not '%s'", host);
		return -EINVAL;
	}
	f->udp = host[0] == 'u';
	f->port = (int)p;
	colon = strrchr(guest, ':');
	if (!colon || str_parse_int(colon + 1, 1, 65535, &p) < 0) {
		buf_printf(err, "a forward's guest side is VM:PORT, not '%s'", guest);
		return -EINVAL;
	}
	f->vm_port = (int)p;
	f->vm = xstrndup(guest, (size_t)(colon - guest));
	if (vm_name_check("forward", f->vm, err) < 0) {
		free(f->vm);
		f->vm = NULL;
		return -EINVAL;
	}
	return 0;
}

static int parse_forwards(struct net_def *d, const json_t *arr, struct buf *err)
{
	static const char *const keys[] = { "proto", "port", "vm", "vm_port", NULL };
	size_t i;
	json_t *f;
	if (!json_is_array(arr) || json_array_size(arr) > NET_MAX_FORWARDS) {
		buf_printf(err, "forwards must be a list of at most %d port forwards", NET_MAX_FORWARDS);
		return -1;
	}
	if (json_array_size(arr) && d->type != NET_NAT) {
		buf_adds(err, "port forwards need a network of type nat");
		return -1;
	}
	json_array_foreach(arr, i, f) {
		const char *proto = "tcp", *vm = NULL;
		int64_t port = 0, vm_port = 0;
		if (!json_is_object(f) || json_check_keys(f, "forward", keys, err) < 0 ||
		    json_get_str(f, "proto", &proto, err) < 0 || json_get_str(f, "vm", &vm, err) < 0 ||
		    json_get_int(f, "port", 1, 65535, &port, err) < 0 ||
		    json_get_int(f, "vm_port", 1, 65535, &vm_port, err) < 0) {
			if (!err->len)
				buf_adds(err, "a forward is an object {proto, port, vm, vm_port}");
			return -1;
		}
		if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0) {
			buf_adds(err, "forward proto must be tcp or udp");
			return -1;
		}
		if (!port || !vm_port) {
			buf_adds(err, "a forward needs port and vm_port");
			return -1;
		}
		if (vm_name_check("forward", vm, err) < 0)
			return -1;
		for (int k = 0; k < d->nforwards; k++) {
			if (d->forwards[k].port == port && d->forwards[k].udp == (proto[0] == 'u')) {
				buf_printf(err, "%s port %d is forwarded twice", proto, (int)port);
				return -1;
			}
		}
		struct net_forward *nf = &d->forwards[d->nforwards++];
		nf->udp = proto[0] == 'u';
		nf->port = (int)port;
		nf->vm = xstrdup(vm);
		nf->vm_port = (int)vm_port;
	}
	return 0;
}

static int parse_reservations(struct net_def *d, const json_t *arr, struct buf *err)
{
	static const char *const keys[] = { "vm", "ip", NULL };
	size_t i;
	json_t *r;
	if (!json_is_array(arr) || json_array_size(arr) > NET_MAX_RESERVATIONS) {
		buf_printf(err, "reservations must be a list of at most %d", NET_MAX_RESERVATIONS);
		return -1;
	}
	if (json_array_size(arr) && !d->dhcp) {
		buf_adds(err, "address reservations need a network with DHCP (nat or isolated)");
		return -1;
	}
	json_array_foreach(arr, i, r) {
		const char *vm = NULL, *ip = NULL;
		uint32_t a;
		if (!json_is_object(r) || json_check_keys(r, "reservation", keys, err) < 0 ||
		    json_get_str(r, "vm", &vm, err) < 0 || json_get_str(r, "ip", &ip, err) < 0) {
			if (!err->len)
				buf_adds(err, "a reservation is an object {vm, ip}");
			return -1;
		}
		if (vm_name_check("reservation", vm, err) < 0)
			return -1;
		if (!ip || ipv4_parse(ip, &a) < 0) {
			buf_printf(err, "reservation for %s: the address must be A.B.C.D", vm);
			return -1;
		}
		if (!subnet_reservable(&d->subnet, a)) {
			uint32_t first, last;
			char lo[16], hi[16], fr[16];
			subnet_dhcp_range(&d->subnet, &first, &last);
			buf_printf(err, "reservation for %s: %s is not between %s and %s (the gateway is .1, dynamic leases start at %s)",
				   vm, ip, ipv4_fmt(subnet_gateway(&d->subnet) + 1, lo), ipv4_fmt(first - 1, hi),
				   ipv4_fmt(first, fr));
			return -1;
		}
		for (int k = 0; k < d->nreservations; k++) {
			if (strcmp(d->reservations[k].vm, vm) == 0 || d->reservations[k].ip == a) {
				buf_printf(err, "reservation for %s: the VM or the address is reserved twice", vm);
				return -1;
			}
		}
		d->reservations[d->nreservations].vm = xstrdup(vm);
		d->reservations[d->nreservations++].ip = a;
	}
	return 0;
}

struct net_def *netdef_from_json(const json_t *j, struct buf *err)
{
	static const char *const keys[] = { "name", "type", "subnet", "subnet6", "bridge", "dhcp", "forwards",
					    "reservations", "vni", "peers", "local", "status", "gateway", "gateway6", NULL };
	struct net_def *d = xcalloc(1, sizeof(*d));
	const char *name = NULL, *type = "nat", *subnet = NULL, *subnet6 = NULL, *bridge = NULL, *bad;
	bool dhcp_given = json_object_get(j, "dhcp") != NULL;
	json_t *v;

	if (!json_is_object(j)) {
		buf_adds(err, "the network definition must be a JSON object");
		goto fail;
	}
	if (json_check_keys(j, "the network definition", keys, err) < 0 || json_get_str(j, "name", &name, err) < 0 ||
	    json_get_str(j, "type", &type, err) < 0 || json_get_str(j, "subnet", &subnet, err) < 0 ||
	    json_get_str(j, "subnet6", &subnet6, err) < 0 ||
	    json_get_str(j, "bridge", &bridge, err) < 0 || json_get_bool(j, "dhcp", &d->dhcp, err) < 0)
		goto fail;
	if (!name) {
		buf_adds(err, "the network needs a name");
		goto fail;
	}
	if ((bad = netdef_name_invalid(name))) {
		buf_printf(err, "invalid network name: %s", bad);
		goto fail;
	}
	d->name = xstrdup(name);
	int t = -1;
	for (int i = 0; i < 4; i++)
		if (strcmp(type, type_names[i]) == 0)
			t = i;
	if (t < 0) {
		buf_adds(err, "network type must be nat, isolated, bridge or vxlan");
		goto fail;
	}
	d->type = (enum net_type)t;
	if (bridge && !nl_ifname_valid(bridge)) {
		buf_adds(err, "bridge must be an interface name: 1 to 15 of A-Z a-z 0-9 . _ -");
		goto fail;
	}
	if (d->type == NET_VXLAN) {
		int64_t vni = 0;
		const char *local = NULL;
		json_t *peers = json_object_get(j, "peers"), *p;
		size_t i;
		if (subnet || (dhcp_given && d->dhcp)) {
			buf_adds(err, "a vxlan network is layer 2 only: it takes no subnet and no DHCP");
			goto fail;
		}
		if (json_get_int(j, "vni", 1, 16777215, &vni, err) < 0 || json_get_str(j, "local", &local, err) < 0)
			goto fail;
		if (!vni) {
			buf_adds(err, "a vxlan network needs its VNI (vni, 1 to 16777215), the same on every host");
			goto fail;
		}
		d->vni = (uint32_t)vni;
		if (local && ipv4_parse(local, &d->local) < 0) {
			buf_adds(err, "local must be an IPv4 address of this host (A.B.C.D)");
			goto fail;
		}
		if (!json_is_array(peers) || json_array_size(peers) < 1 || json_array_size(peers) > NET_MAX_PEERS) {
			buf_printf(err, "a vxlan network needs peers: the other hosts' IPv4 addresses (1 to %d)",
				   NET_MAX_PEERS);
			goto fail;
		}
		json_array_foreach(peers, i, p) {
			uint32_t a;
			if (!json_is_string(p) || ipv4_parse(json_string_value(p), &a) < 0 || (a >> 24) == 0 ||
			    (a >> 24) == 127 || (a >> 24) >= 224) {
				buf_adds(err, "every peer must be a unicast IPv4 address (A.B.C.D)");
				goto fail;
			}
			d->peers[d->npeers++] = a;
		}
		d->dhcp = false;
	} else if (json_object_get(j, "vni") || json_object_get(j, "peers") || json_object_get(j, "local")) {
		buf_adds(err, "vni, peers and local only apply to a vxlan network");
		goto fail;
	}
	if (d->type == NET_VXLAN) {
		/* done above */
	} else if (d->type == NET_BRIDGE) {
		if (!bridge) {
			buf_adds(err, "a network of type bridge needs the host bridge to attach to (bridge)");
			goto fail;
		}
		if (subnet || (dhcp_given && d->dhcp)) {
			buf_adds(err, "a network of type bridge takes no subnet and no DHCP: the bridge's LAN provides them");
			goto fail;
		}
		d->dhcp = false;
	} else {
		if (!subnet) {
			buf_adds(err, "a nat or isolated network needs a subnet (e.g. 10.20.0.0/24)");
			goto fail;
		}
		if (subnet_parse(subnet, &d->subnet, err) < 0)
			goto fail;
		if (subnet6) {
			if (subnet6_parse(subnet6, &d->subnet6, err) < 0)
				goto fail;
			d->has_subnet6 = true;
		}
		if (!dhcp_given)
			d->dhcp = true;
	}
	if (subnet6 && !d->has_subnet6) {
		buf_adds(err, "subnet6 only applies to a nat or isolated network");
		goto fail;
	}
	d->bridge = bridge ? xstrdup(bridge) : xasprintf("cr-%s", name);
	if ((v = json_object_get(j, "forwards")) && parse_forwards(d, v, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "reservations")) && parse_reservations(d, v, err) < 0)
		goto fail;
	return d;
fail:
	netdef_free(d);
	return NULL;
}

json_t *netdef_to_json(const struct net_def *d)
{
	json_t *j = json_object(), *fw = json_array(), *res = json_array();
	char s[19];
	json_object_set_new(j, "name", json_string(d->name));
	json_object_set_new(j, "type", json_string(net_type_name(d->type)));
	if (d->type != NET_BRIDGE && d->type != NET_VXLAN)
		json_object_set_new(j, "subnet", json_string(subnet_fmt(&d->subnet, s)));
	if (d->has_subnet6) {
		char s6[SUBNET6_STRLEN];
		json_object_set_new(j, "subnet6", json_string(subnet6_fmt(&d->subnet6, s6)));
	}
	if (d->type == NET_VXLAN) {
		json_t *peers = json_array();
		for (int i = 0; i < d->npeers; i++)
			json_array_append_new(peers, json_string(ipv4_fmt(d->peers[i], s)));
		json_object_set_new(j, "vni", json_integer(d->vni));
		json_object_set_new(j, "peers", peers);
		if (d->local)
			json_object_set_new(j, "local", json_string(ipv4_fmt(d->local, s)));
	}
	json_object_set_new(j, "bridge", json_string(d->bridge));
	json_object_set_new(j, "dhcp", json_boolean(d->dhcp));
	for (int i = 0; i < d->nforwards; i++)
		json_array_append_new(fw, json_pack("{s:s,s:i,s:s,s:i}", "proto", d->forwards[i].udp ? "udp" : "tcp",
						    "port", d->forwards[i].port, "vm", d->forwards[i].vm, "vm_port",
						    d->forwards[i].vm_port));
	for (int i = 0; i < d->nreservations; i++)
		json_array_append_new(res, json_pack("{s:s,s:s}", "vm", d->reservations[i].vm, "ip",
						     ipv4_fmt(d->reservations[i].ip, s)));
	json_object_set_new(j, "forwards", fw);
	json_object_set_new(j, "reservations", res);
	return j;
}

void netdef_free(struct net_def *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->bridge);
	for (int i = 0; i < d->nforwards; i++)
		free(d->forwards[i].vm);
	for (int i = 0; i < d->nreservations; i++)
		free(d->reservations[i].vm);
	free(d);
}

const struct net_reservation *netdef_reservation(const struct net_def *d, const char *vm)
{
	for (int i = 0; i < d->nreservations; i++)
		if (strcmp(d->reservations[i].vm, vm) == 0)
			return &d->reservations[i];
	return NULL;
}
