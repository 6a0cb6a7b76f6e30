/*
 * network.c - networks for guests (see network.h and docs/network.md).
 *
 * What a network is on the host is rebuilt from its definition by net_up(),
 * which is idempotent: it creates what is missing (bridge, address, link
 * state, firewall table, hosts file, dnsmasq) and adopts what is there,
 * refusing a bridge of that name that is not marked as corral's.  net_down()
 * removes exactly those pieces.  Create = check, record, net_up (undone on
 * failure); delete = check users, net_down, forget; corrald start = net_up
 * for each network.  Guest NIC taps are opened by svc_net_nic_open, which
 * the QEMU runtime calls at VM start (rt_config.nic_open).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "network.h"
#include "service/internal.h"
#include "core/ctdef.h"
#include "net/dnsmasq.h"
#include "net/hygiene.h"
#include "net/netdef.h"
#include "net/netlink.h"
#include "net/nft.h"
#include "net/shape.h"
#include "net/subnet.h"
#include "net/tap.h"
#include "net/vlan.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define ALIAS_PREFIX "corral network "

/* Serialises writing hosts files (a leaf lock: nothing is taken under it). */
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;

static void netdef_freep(struct net_def **d) { netdef_free(*d); }
#define __do_netdef __attribute__((cleanup(netdef_freep)))

static char *net_dir(const char *name) { return xasprintf("%s/networks/%s", svc_cfg.state_dir, name); }
static char *bridge_alias(const char *name) { return xasprintf(ALIAS_PREFIX "%s", name); }

static int check_name(const char *name, struct buf *err)
{
	const char *bad = netdef_name_invalid(name);
	if (!bad)
		return 0;
	buf_printf(err, "invalid network name: %s", bad);
	return -EINVAL;
}

/* The stored definition of network `name`. */
static int net_load(const char *name, struct net_def **out, struct buf *err)
{
	struct net_record rec = { 0 };
	int r;
	if ((r = check_name(name, err)) < 0)
		return r;
	if ((r = store_net_get(svc_cfg.store, name, &rec)) < 0) {
		if (r == -ENOENT)
			buf_printf(err, "network '%s' does not exist", name);
		else
			buf_adds(err, "cannot read the network from the state database");
		return r;
	}
	__do_json json_t *j = json_loads(rec.def, 0, NULL);
	net_record_release(&rec);
	struct buf why __do_buf = BUF_INIT;
	if (!j || !(*out = netdef_from_json(j, &why))) {
		buf_printf(err, "the stored definition of network '%s' is invalid: %s", name, why.len ? why.s : "not JSON");
		return -EIO;
	}
	return 0;
}

static int net_store(const struct net_def *d, bool create, struct buf *err)
{
	__do_json json_t *j = netdef_to_json(d);
	__do_free char *text = json_to_string(j);
	struct store_batch *b = store_batch_new();
	store_batch_net_put(b, d->name, text, create);
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	return r;
}

static int net_forget(const char *name, struct buf *err)
{
	struct store_batch *b = store_batch_new();
	store_batch_net_delete(b, name);
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	return r;
}

/* ---- the host side -------------------------------------------------- */

/* 1: `l` is network d's own bridge; 0: no such link; -EEXIST: the name is taken by something else. */
static int bridge_owned(const struct net_def *d, struct nl_link *l, struct buf *err)
{
	__do_free char *alias = bridge_alias(d->name);
	int r = nl_link_get(d->bridge, l, err);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	if (strcmp(l->kind, "bridge") == 0 && strcmp(l->alias, alias) == 0)
		return 1;
	buf_printf(err, "a network interface named %s exists and is not corral's bridge for network %s", d->bridge,
		   d->name);
	return -EEXIST;
}

/* ---- containers' NICs (core/ctdef.h) ------------------------------- */

/* Every container definition that parses (n of them); free with cts_free. */
static struct ct_def **cts_load(size_t *n)
{
	struct ct_record *list;
	size_t nl;
	*n = 0;
	if (store_ct_list(svc_cfg.store, &list, &nl) < 0)
		return NULL;
	struct ct_def **out = xcalloc(nl ? nl : 1, sizeof(*out));
	for (size_t i = 0; i < nl; i++) {
		struct buf e __do_buf = BUF_INIT;
		__do_json json_t *j = json_loads(list[i].def, 0, NULL);
		if ((out[*n] = ctdef_from_json(j, CTDEF_FROM_STORE, &e)))
			(*n)++;
	}
	store_ct_list_free(list, nl);
	return out;
}

static void cts_free(struct ct_def **cts, size_t n)
{
	for (size_t i = 0; cts && i < n; i++)
		ctdef_free(cts[i]);
	free(cts);
}

/* A container NIC seen as a VM's: always on a network, always filtered. */
static struct vm_nic ct_nic_view(const struct ct_nic *n)
{
	struct vm_nic v = { .mode = NIC_NETWORK, .network = n->network, .filter = true };
	snprintf(v.mac, sizeof(v.mac), "%s", n->mac);
	return v;
}

/* The hosts file of network d: every NIC of every VM on it, with the VM's name
 * (so guests resolve each other) and its reservation on the first one. */
static int hosts_update(const struct net_def *d, struct buf *err)
{
	struct vm_record *vms;
	size_t n;
	struct dnsmasq_host *h = NULL;
	size_t nh = 0, alloc = 0;
	__do_free char *dir = net_dir(d->name);
	if (!d->dhcp)
		return 0;
	if (store_vm_list(svc_cfg.store, &vms, &n) < 0) {
		buf_adds(err, "cannot read the VM list");
		return -EIO;
	}
	for (size_t i = 0; i < n; i++) {
		const struct vm_def *v = vms[i].def;
		bool first = true;
		for (int k = 0; k < v->nnics; k++) {
			if (v->nics[k].mode != NIC_NETWORK || strcmp(v->nics[k].network, d->name) != 0)
				continue;
			const struct net_reservation *res = first ? netdef_reservation(d, v->name) : NULL;
			if (nh == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				h = xrealloc(h, alloc * sizeof(*h));
			}
			h[nh++] = (struct dnsmasq_host){ v->nics[k].mac, v->name, res ? res->ip : 0 };
			first = false;
		}
	}
	/* containers too, by their names (unique among VMs and containers) */
	size_t nc;
	struct ct_def **cts = cts_load(&nc);
	for (size_t i = 0; i < nc; i++) {
		for (int k = 0; k < cts[i]->nnics; k++) {
			if (strcmp(cts[i]->nics[k].network, d->name) != 0)
				continue;
			if (nh == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				h = xrealloc(h, alloc * sizeof(*h));
			}
			const struct net_reservation *res = k == 0 ? netdef_reservation(d, cts[i]->name) : NULL;
			h[nh++] = (struct dnsmasq_host){ cts[i]->nics[k].mac, cts[i]->name, res ? res->ip : 0 };
		}
	}
	pthread_mutex_lock(&hosts_lock);
	int r = dnsmasq_hosts_write(dir, h, nh, err);
	cts_free(cts, nc);
	pthread_mutex_unlock(&hosts_lock);
	free(h);
	store_vm_list_free(vms, n);
	return r;
}

static void sysctl_enable(const char *path, const char *what)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		log_warn("cannot enable %s (%s): %s", what, path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void ip_forward_enable(void) { sysctl_enable("/proc/sys/net/ipv4/ip_forward", "IPv4 forwarding"); }
static void ip6_forward_enable(void)
{
	sysctl_enable("/proc/sys/net/ipv6/conf/all/forwarding", "IPv6 forwarding");
}

/* 1: link `name` is network d's VXLAN port; 0: none; -EEXIST: somebody else's. */
static int vxlan_owned(const struct net_def *d, const char *name, struct buf *err)
{
	__do_free char *alias = bridge_alias(d->name);
	struct nl_link l;
	int r = nl_link_get(name, &l, err);
	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	if (strcmp(l.kind, "vxlan") == 0 && strcmp(l.alias, alias) == 0)
		return 1;
	buf_printf(err, "a network interface named %s exists and is not corral's VXLAN port for network %s", name,
		   d->name);
	return -EEXIST;
}

/* The VXLAN port of network d: created if missing, in the bridge, up, flooding to every peer. */
static int vxlan_up(const struct net_def *d, struct buf *err)
{
	__do_free char *alias = bridge_alias(d->name);
	char vx[16];
	int r;
	netdef_vxlan_link(d, vx);
	if ((r = vxlan_owned(d, vx, err)) < 0)
		return r;
	if (r == 0 && (r = nl_vxlan_create(vx, d->vni, NET_VXLAN_PORT, htonl(d->local), alias, err)) < 0)
		return r;
	if ((r = nl_link_set_master(vx, d->bridge, err)) < 0 || (r = nl_link_set_up(vx, true, err)) < 0)
		return r;
	for (int i = 0; i < d->npeers; i++)
		if ((r = nl_vxlan_peer_add(vx, htonl(d->peers[i]), err)) < 0)
			return r;
	return 0;
}

/* Make network d exist on the host, adopting what is there (see the top). */
static int net_up(const struct net_def *d, struct buf *err)
{
	__do_free char *dir = net_dir(d->name);
	__do_free char *alias = bridge_alias(d->name);
	struct nl_link l;
	int r;

	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	if (d->type == NET_BRIDGE) {
		if ((r = nl_link_get(d->bridge, &l, err)) == -ENODEV)
			buf_printf(err, "host bridge %s does not exist", d->bridge);
		else if (r == 0 && strcmp(l.kind, "bridge") != 0)
			buf_printf(err, "%s is not a bridge", d->bridge), r = -EINVAL;
		return r == -ENODEV ? -ENOENT : r;
	}
	if ((r = bridge_owned(d, &l, err)) < 0)
		return r;
	if (r == 0 && (r = nl_bridge_create(d->bridge, alias, err)) < 0)
		return r;
	if (d->type == NET_VXLAN) {
		if ((r = nl_link_set_up(d->bridge, true, err)) < 0)
			return r;
		return vxlan_up(d, err);
	}
	if ((r = nl_addr4_add(d->bridge, htonl(subnet_gateway(&d->subnet)), d->subnet.prefix, err)) < 0)
		return r;
	if (d->has_subnet6) {
		uint8_t gw6[16];
		subnet6_gateway(&d->subnet6, gw6);
		if ((r = nl_addr6_add(d->bridge, gw6, SUBNET6_PREFIX, err)) < 0)
			return r;
	}
	if ((r = nl_link_set_up(d->bridge, true, err)) < 0)
		return r;
	if (d->type == NET_NAT)
		ip_forward_enable();
	if (d->type == NET_NAT && d->has_subnet6)
		ip6_forward_enable();
	if ((r = nft_table_apply(d, dir, err)) < 0)
		return r;
	if ((r = hosts_update(d, err)) < 0)
		return r;
	if (d->dhcp && !dnsmasq_running(dir, NULL) && (r = dnsmasq_start(d, dir, err)) < 0)
		return r;
	return 0;
}

/* Remove what net_up made: dnsmasq, the table, our bridge.  Never a bridge that is not ours. */
static void net_down(const struct net_def *d)
{
	__do_free char *dir = net_dir(d->name);
	struct buf err __do_buf = BUF_INIT;
	struct nl_link l;

	dnsmasq_stop(dir);
	/* a bridge network's bridge may carry other bridge networks' ports: it has none of its own (no users) */
	if (d->type != NET_BRIDGE && hygiene_bridge_remove(d->bridge, &err) < 0)
		log_warn("network %s: %s", d->name, err.s);
	buf_reset(&err);
	if (nft_table_delete(d->name, &err) < 0)
		log_warn("network %s: %s", d->name, err.s);
	buf_reset(&err);
	if (d->type == NET_VXLAN) {
		char vx[16];
		netdef_vxlan_link(d, vx);
		if (vxlan_owned(d, vx, &err) == 1 && nl_link_delete(vx, &err) < 0)
			log_warn("network %s: %s", d->name, err.s);
		buf_reset(&err);
	}
	if (d->type != NET_BRIDGE && bridge_owned(d, &l, &err) == 1 && nl_link_delete(d->bridge, &err) < 0)
		log_warn("network %s: %s", d->name, err.s);
}

static void net_files_remove(const char *name)
{
	static const char *const files[] = { "dnsmasq.conf", "hosts", "leases", "dnsmasq.log", "dnsmasq.pid",
					     "firewall.nft", "firewall.nft.tmp", NULL };
	__do_free char *dir = net_dir(name);
	for (int i = 0; files[i]; i++) {
		__do_free char *p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
	}
	rmdir(dir);
}

/* ---- traffic hygiene (net/hygiene.h) ------------------------------- */

/* Whether NIC `nic` on network `net` is filtered: by default every one (docs/network.md). */
static bool nic_filtered(const struct vm_nic *nic) { return nic->mode == NIC_NETWORK && nic->filter; }

/* Whether corral knows the addresses of network d's guests (its dnsmasq leases them). */
static bool net_leases_known(const struct net_def *d)
{
	return (d->type == NET_NAT || d->type == NET_ISOLATED) && d->dhcp;
}

/* The newest unexpired lease of `mac` on network `name` into *ip; false if none. */
static bool lease_of(const char *name, const char *mac, struct in_addr *ip)
{
	__do_free char *dir = net_dir(name);
	struct dnsmasq_lease *l;
	size_t n;
	long long best = -1;
	bool found = false;
	if (dnsmasq_leases_read(dir, &l, &n) < 0)
		return false;
	for (size_t k = 0; k < n; k++) {
		long long e = l[k].expiry ? l[k].expiry : (long long)1 << 62;
		if (e < (long long)time(NULL))
			continue; /* expired: the address may be somebody else's by now */
		if (strcasecmp(l[k].mac, mac) == 0 && e > best && inet_pton(AF_INET, l[k].ip, ip) == 1) {
			best = e;
			found = true;
		}
	}
	free(l);
	return found;
}

/* The filter of NIC `mac` with tap `tap` on network `net`: its lease if
 * corral knows one (`ip` if not NULL, else the lease file's). */
static void hyg_port_fill(const struct net_def *net, const char *tap, const struct vm_nic *nic,
			  const struct in_addr *ip, struct hygiene_port *p)
{
	const char *mac = nic->mac;
	unsigned m[6] = { 0 };
	*p = (struct hygiene_port)HYGIENE_PORT_INIT;
	p->bridge = net->bridge;
	p->port = tap;
	p->tx_bytes_per_sec = nic->bw / 8; /* what the guest sends: policed (net/shape.h) */
	p->allow_ipv6 = net->has_subnet6;   /* else the network is IPv4 only */
	sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
	for (int i = 0; i < 6; i++)
		p->mac[i] = (uint8_t)m[i];
	if (!net_leases_known(net))
		p->any_ipv4 = true;
	else if (ip)
		p->ipv4 = *ip, p->has_ipv4 = true;
	else
		p->has_ipv4 = lease_of(net->name, mac, &p->ipv4);
}

/* Drop the filter of the tap of VM `uuid`'s NIC `mac` (it stopped, or the NIC went). */
static void hyg_nic_remove(const char *uuid, const char *mac)
{
	struct buf err __do_buf = BUF_INIT;
	char tap[TAP_NAME_LEN];
	tap_name(uuid, mac, tap);
	if (hygiene_port_remove(tap, &err) < 0)
		log_warn("VM %s: cannot remove the traffic filter of NIC %s: %s", uuid, mac, err.s);
}

void svc_net_nic_closed(const struct vm_def *d, int index)
{
	if (nic_filtered(&d->nics[index]))
		hyg_nic_remove(d->uuid, d->nics[index].mac);
}

void svc_net_vm_stopped(const char *uuid)
{
	struct vm_record rec = { 0 };
	if (store_vm_get(svc_cfg.store, uuid, &rec) < 0)
		return;
	for (int i = 0; i < rec.def->nnics; i++)
		svc_net_nic_closed(rec.def, i);
	vm_record_release(&rec);
}

/* ---- a NIC's port: VLANs (net/vlan.h) and bandwidth (net/shape.h) ---- */

/*
 * Whether NIC `nic` (with vlan=) can have VLANs on network net's bridge: the
 * kernel has bridge VLAN filtering, and a host bridge that is not corral's
 * has it on already (corral turns it on only on its own bridges).
 */
static int nic_vlan_check(const struct net_def *net, const struct vm_nic *nic, struct buf *err)
{
	struct vlan_support vs = { 0 };
	struct buf why __do_buf = BUF_INIT;

	vlan_support_probe(NULL, NULL, if_nametoindex(net->bridge) ? net->bridge : NULL, &vs);
	if (vlan_support_require(&vs, VLAN_NEED_BRIDGE_FILTERING, NULL, &why) < 0) {
		buf_printf(err, "NIC %s (vlan=%s) on network %s: %s", nic->mac, nic->vlan, net->name, why.s);
		return -EOPNOTSUPP;
	}
	if (net->type == NET_BRIDGE) {
		__do_free char *path = xasprintf("/sys/class/net/%s/bridge/vlan_filtering", net->bridge);
		struct buf v __do_buf = BUF_INIT;
		if (fs_read_file(path, 64, &v) < 0 || v.s[0] != '1') {
			buf_printf(err,
				   "NIC %s (vlan=%s) on network %s: host bridge %s has VLAN filtering off, and corral "
				   "does not change bridges it does not own; turn it on (ip link set %s type bridge "
				   "vlan_filtering 1) or give the NIC no vlan=",
				   nic->mac, nic->vlan, net->name, net->bridge, net->bridge);
			return -EINVAL;
		}
	}
	return 0;
}

/* The VLANs of NIC `nic` on its port `tap` (in net's bridge), idempotently. */
static int nic_vlan_apply(const struct net_def *net, const struct vm_nic *nic, const char *tap, struct buf *err)
{
	struct vlan_spec vs = VLAN_SPEC_INIT;
	__do_free struct vlan_entry *e = NULL;
	size_t n = 0;
	int r;

	if ((r = nic_vlan_check(net, nic, err)) < 0)
		return r;
	if ((r = vlan_spec_parse(nic->vlan, &vs, err)) < 0)
		return r;
	r = vlan_plan(&vs, &e, &n, err);
	vlan_spec_release(&vs);
	if (r < 0)
		return r;
	if (net->type != NET_BRIDGE && (r = nl_bridge_vlan_filtering(net->bridge, true, err)) < 0)
		return r;
	return nl_port_vlan_apply(tap, e, n, err);
}

/*
 * What NIC `nic` sets on its port besides the filter: VLANs, and the limit
 * on what it receives (tc; the other direction is in the filter).  `always`:
 * also run tc when there is no limit (a restart or a live change may find
 * one to remove).
 */
static int nic_port_settings(const struct net_def *net, const struct vm_nic *nic, const char *tap, bool always,
			     struct buf *err)
{
	int r;
	if (nic->vlan && (r = nic_vlan_apply(net, nic, tap, err)) < 0)
		return r;
	if ((nic->bw || always) && (r = shape_port_set(tap, nic->bw / 8, err)) < 0)
		return r;
	return 0;
}

/*
 * corrald start: make the kernel's filters on each network's bridge exactly
 * those of the NICs whose taps still exist (their QEMU outlived the previous
 * corrald), in one transaction per bridge: re-adopted, never dropped.
 */
static void hyg_sync(struct net_def **nets, size_t nn)
{
	struct vm_record *vms;
	size_t nv, nc;
	if (store_vm_list(svc_cfg.store, &vms, &nv) < 0)
		return;
	struct ct_def **cts = cts_load(&nc);
	for (size_t i = 0; i < nn; i++) {
		bool done = false;
		if (!nets[i])
			continue;
		for (size_t k = 0; k < i; k++) /* bridge networks may share a bridge: one sync for it */
			done = done || (nets[k] && strcmp(nets[k]->bridge, nets[i]->bridge) == 0);
		if (done)
			continue;
		size_t cap = VM_MAX_NICS * nv + CT_MAX_NICS * nc + 1;
		struct hygiene_port *ports = xcalloc(cap, sizeof(*ports));
		char (*taps)[TAP_NAME_LEN] = xcalloc(cap, sizeof(*taps));
		struct vm_nic *views = xcalloc(cap, sizeof(*views));
		size_t np = 0;
		for (size_t v = 0; v < nv; v++) {
			const struct vm_def *vd = vms[v].def;
			for (int c = 0; c < vd->nnics; c++) {
				const struct net_def *net = NULL;
				for (size_t k = i; k < nn && !net; k++)
					if (nets[k] && vd->nics[c].network && strcmp(nets[k]->name, vd->nics[c].network) == 0 &&
					    strcmp(nets[k]->bridge, nets[i]->bridge) == 0)
						net = nets[k];
				if (!net || !nic_filtered(&vd->nics[c]))
					continue;
				tap_name(vd->uuid, vd->nics[c].mac, taps[np]);
				if (!if_nametoindex(taps[np]))
					continue; /* its QEMU is gone: its filter goes */
				hyg_port_fill(net, taps[np], &vd->nics[c], NULL, &ports[np]);
				np++;
			}
		}
		/* containers' veths (their liblxc monitors outlived the previous corrald) */
		for (size_t v = 0; v < nc; v++) {
			for (int c = 0; c < cts[v]->nnics; c++) {
				const struct net_def *net = NULL;
				for (size_t k = i; k < nn && !net; k++)
					if (nets[k] && strcmp(nets[k]->name, cts[v]->nics[c].network) == 0 &&
					    strcmp(nets[k]->bridge, nets[i]->bridge) == 0)
						net = nets[k];
				if (!net)
					continue;
				tap_veth_name(cts[v]->uuid, cts[v]->nics[c].mac, taps[np]);
				if (!if_nametoindex(taps[np]))
					continue; /* not running: its filter goes */
				views[np] = ct_nic_view(&cts[v]->nics[c]);
				hyg_port_fill(net, taps[np], &views[np], NULL, &ports[np]);
				np++;
			}
		}
		struct buf err __do_buf = BUF_INIT;
		if (hygiene_bridge_sync(nets[i]->bridge, ports, np, &err) < 0)
			log_warn("network %s: cannot re-adopt its guests' traffic filters: %s", nets[i]->name, err.s);
		else if (np)
			log_info("network %s: traffic filters of %zu NIC(s) re-adopted", nets[i]->name, np);
		free(ports);
		free(taps);
		free(views);
	}
	store_vm_list_free(vms, nv);
	cts_free(cts, nc);
}

/*
 * corrald start: the VLANs and bandwidth limits of every NIC whose tap still
 * exists are applied again (kernel state outlives corrald, so normally this
 * changes nothing; it settles a change a kill -9 interrupted).
 */
static void ports_sync(struct net_def **nets, size_t nn)
{
	struct vm_record *vms;
	size_t nv;
	if (store_vm_list(svc_cfg.store, &vms, &nv) < 0)
		return;
	for (size_t v = 0; v < nv; v++) {
		const struct vm_def *vd = vms[v].def;
		for (int c = 0; c < vd->nnics; c++) {
			const struct vm_nic *nic = &vd->nics[c];
			const struct net_def *net = NULL;
			char tap[TAP_NAME_LEN];
			struct buf err __do_buf = BUF_INIT;
			for (size_t k = 0; k < nn && !net && nic->network; k++)
				if (nets[k] && strcmp(nets[k]->name, nic->network) == 0)
					net = nets[k];
			if (!net)
				continue;
			tap_name(vd->uuid, nic->mac, tap);
			if (!if_nametoindex(tap))
				continue;
			if (nic_port_settings(net, nic, tap, true, &err) < 0)
				log_warn("VM %s: NIC %s: cannot re-apply its VLANs or bandwidth limit: %s", vd->name,
					 nic->mac, err.s);
			else if (nic->vlan || nic->bw)
				log_info("VM %s: NIC %s: VLANs/bandwidth limit re-adopted", vd->name, nic->mac);
		}
	}
	store_vm_list_free(vms, nv);
}

/* ---- leases learned -------------------------------------------------- */

static pthread_mutex_t leases_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *leases_known; /* MAC -> IPv4 of the last lease seen (leases_lock) */

/* A guest's NIC (its port `port` on the host) got `ip` on network `name`: the running
 * port's filter narrows to it.  kind/event name the guest for the log and its events. */
static void port_lease(const char *uuid, const char *guest, const char *kind, const char *event,
		       const struct vm_nic *nic, const char *port, const char *name, const char *ip)
{
	struct buf err __do_buf = BUF_INIT;
	__do_netdef struct net_def *net = NULL;
	struct hygiene_port p;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1 || !if_nametoindex(port) || net_load(name, &net, &err) < 0 ||
	    !net_leases_known(net))
		return; /* not running: its filter is made when it starts */
	hyg_port_fill(net, port, nic, &a, &p);
	if (hygiene_port_apply(&p, &err) < 0) {
		__do_free char *ev = xasprintf("NIC %s: cannot narrow its traffic filter to %s: %s", nic->mac, ip, err.s);
		log_warn("%s %s: %s", kind, guest, ev);
		svc_vm_event(uuid, event, ev);
	}
}

/* NIC k of VM d got `ip` on network `name`. */
static void hyg_lease(const struct vm_def *d, int k, const char *name, const char *ip)
{
	char tap[TAP_NAME_LEN];
	const struct vm_nic *nic = &d->nics[k];
	if (!nic_filtered(nic) || !nic->network || strcmp(nic->network, name) != 0)
		return;
	tap_name(d->uuid, nic->mac, tap);
	port_lease(d->uuid, d->name, "VM", "nic", nic, tap, name, ip);
}

/* NIC k of container d got `ip` on network `name`. */
static void ct_lease(const struct ct_def *d, int k, const char *name, const char *ip)
{
	char port[TAP_NAME_LEN];
	struct vm_nic v = ct_nic_view(&d->nics[k]);
	if (strcmp(v.network, name) != 0)
		return;
	tap_veth_name(d->uuid, v.mac, port);
	port_lease(d->uuid, d->name, "container", "container", &v, port, name, ip);
}

/* NIC `mac` got `ip` from network `net`'s dnsmasq. */
static void lease_learned(const char *net, const char *mac, const char *ip)
{
	struct vm_record *vms;
	size_t n;
	if (store_vm_list(svc_cfg.store, &vms, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		int k = vmdef_nic_index(vms[i].def, mac);
		if (k < 0)
			continue;
		__do_free char *d = xasprintf("NIC %s has address %s on network %s (DHCP)", mac, ip, net);
		svc_vm_event(vms[i].def->uuid, "nic", d);
		hyg_lease(vms[i].def, k, net, ip);
		store_vm_list_free(vms, n);
		return;
	}
	store_vm_list_free(vms, n);
	size_t nc;
	struct ct_def **cts = cts_load(&nc);
	for (size_t i = 0; i < nc; i++) {
		int k = ctdef_nic_index(cts[i], mac);
		if (k < 0)
			continue;
		__do_free char *d = xasprintf("NIC %s has address %s on network %s (DHCP)", mac, ip, net);
		svc_vm_event(cts[i]->uuid, "container", d);
		ct_lease(cts[i], k, net, ip);
		break;
	}
	cts_free(cts, nc);
}

/* Read every DHCP network's leases; quiet: only remember (corrald start). */
static void leases_scan(bool quiet)
{
	struct net_record *list;
	size_t n;
	if (store_net_list(svc_cfg.store, &list, &n) < 0)
		return;
	pthread_mutex_lock(&leases_lock);
	if (!leases_known)
		leases_known = json_object();
	for (size_t i = 0; i < n; i++) {
		__do_free char *dir = net_dir(list[i].name);
		struct dnsmasq_lease *l;
		size_t nl;
		if (dnsmasq_leases_read(dir, &l, &nl) < 0)
			continue;
		for (size_t k = 0; k < nl; k++) {
			const char *old = json_string_value(json_object_get(leases_known, l[k].mac));
			if (old && strcmp(old, l[k].ip) == 0)
				continue;
			json_object_set_new(leases_known, l[k].mac, json_string(l[k].ip));
			if (!quiet)
				lease_learned(list[i].name, l[k].mac, l[k].ip);
		}
		free(l);
	}
	pthread_mutex_unlock(&leases_lock);
	store_net_list_free(list, n);
}

void svc_net_leases_poll(void) { leases_scan(false); }

void svc_net_init(void)
{
	struct net_record *list;
	size_t n;
	if (store_net_list(svc_cfg.store, &list, &n) < 0)
		return;
	struct net_def **nets = xcalloc(n ? n : 1, sizeof(*nets));
	for (size_t i = 0; i < n; i++) {
		struct buf err __do_buf = BUF_INIT;
		if (net_load(list[i].name, &nets[i], &err) < 0 || net_up(nets[i], &err) < 0)
			log_warn("network %s: cannot bring it up: %s", list[i].name, err.s);
		else
			log_info("network %s: up (%s, bridge %s)", nets[i]->name, net_type_name(nets[i]->type),
				 nets[i]->bridge);
	}
	store_net_list_free(list, n);
	leases_scan(true); /* what was leased while corrald was away is not news */
	hyg_sync(nets, n);
	ports_sync(nets, n);
	for (size_t i = 0; i < n; i++)
		netdef_free(nets[i]);
	free(nets);
}

/* ---- reading ------------------------------------------------------- */

static json_t *net_status(const struct net_def *d)
{
	__do_free char *dir = net_dir(d->name);
	struct nl_link l;
	struct proc_identity id;
	json_t *s = json_object();
	struct buf why __do_buf = BUF_INIT;
	int own = d->type == NET_BRIDGE ? nl_link_get(d->bridge, &l, &why) == 0 : bridge_owned(d, &l, &why);
	json_object_set_new(s, "bridge_up", json_boolean(own == 1 && l.up));
	if (own < 0)
		json_object_set_new(s, "error", json_string(why.s));
	else if (own == 0)
		json_object_set_new(s, "error", json_string("the bridge is missing"));
	if (d->dhcp)
		json_object_set_new(s, "dnsmasq_pid",
				    dnsmasq_running(dir, &id) ? json_integer(id.pid) : json_null());
	if (d->type == NET_NAT || d->type == NET_ISOLATED)
		json_object_set_new(s, "firewall", json_boolean(nft_table_exists(d->name)));
	if (d->type == NET_VXLAN) {
		char vx[16];
		struct buf w __do_buf = BUF_INIT;
		netdef_vxlan_link(d, vx);
		json_object_set_new(s, "vxlan_port", json_boolean(vxlan_owned(d, vx, &w) == 1));
	}
	return s;
}

static json_t *net_json(const struct net_def *d)
{
	json_t *j = netdef_to_json(d);
	if (d->type == NET_NAT || d->type == NET_ISOLATED) {
		char gw[16];
		json_object_set_new(j, "gateway", json_string(ipv4_fmt(subnet_gateway(&d->subnet), gw)));
	}
	if (d->has_subnet6) {
		char gw6[SUBNET6_STRLEN];
		json_object_set_new(j, "gateway6", json_string(subnet6_gateway_fmt(&d->subnet6, gw6)));
	}
	json_object_set_new(j, "status", net_status(d));
	return j;
}

json_t *svc_net_list(void)
{
	struct net_record *list;
	size_t n;
	json_t *arr = json_array();
	if (store_net_list(svc_cfg.store, &list, &n) < 0)
		return json_pack("{s:o}", "networks", arr);
	for (size_t i = 0; i < n; i++) {
		struct buf err __do_buf = BUF_INIT;
		__do_netdef struct net_def *d = NULL;
		if (net_load(list[i].name, &d, &err) == 0)
			json_array_append_new(arr, net_json(d));
		else
			json_array_append_new(arr, json_pack("{s:s,s:{s:s}}", "name", list[i].name, "status", "error",
							     err.s));
	}
	store_net_list_free(list, n);
	return json_pack("{s:o}", "networks", arr);
}

int svc_net_get(const char *name, json_t **out, struct buf *err)
{
	__do_netdef struct net_def *d = NULL;
	int r = net_load(name, &d, err);
	if (r == 0)
		*out = net_json(d);
	return r;
}

/* ---- creating and deleting ----------------------------------------- */

/* Give every forwarded VM without a reservation the lowest free reservable address. */
static int reserve_forwarded(struct net_def *d, struct buf *err)
{
	for (int i = 0; i < d->nforwards; i++) {
		const char *vm = d->forwards[i].vm;
		if (netdef_reservation(d, vm))
			continue;
		uint32_t a = subnet_gateway(&d->subnet) + 1;
		for (; subnet_reservable(&d->subnet, a); a++) {
			bool taken = false;
			for (int k = 0; k < d->nreservations; k++)
				taken = taken || d->reservations[k].ip == a;
			if (!taken)
				break;
		}
		if (!subnet_reservable(&d->subnet, a) || d->nreservations == NET_MAX_RESERVATIONS) {
			buf_printf(err, "no address left to reserve for %s on network %s", vm, d->name);
			return -ENOSPC;
		}
		d->reservations[d->nreservations].vm = xstrdup(vm);
		d->reservations[d->nreservations++].ip = a;
	}
	return 0;
}

/* Checks against the other networks and the host (svc_defs_lock held). */
/*
 * The host's IPv6 addresses (/proc/net/if_inet6: address, ifindex, prefix
 * length, scope, flags, name): -EEXIST if one's prefix overlaps s (the /64
 * would take over the host's routes), naming the interface.
 */
static int check_host6(const struct subnet6 *s, struct buf *err)
{
	__do_fclose FILE *f = fopen("/proc/net/if_inet6", "re");
	char hex[33], ifname[IF_NAMESIZE + 1];
	unsigned idx, plen, scope, flags;

	if (!f)
		return 0; /* no IPv6 on the host: nothing to overlap */
	while (fscanf(f, "%32s %x %x %x %x %16s", hex, &idx, &plen, &scope, &flags, ifname) == 6) {
		uint8_t a[16];
		unsigned bits = plen < SUBNET6_PREFIX ? plen : SUBNET6_PREFIX;
		bool same = true;
		for (int i = 0; i < 16; i++) {
			unsigned v;
			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				return 0;
			a[i] = (uint8_t)v;
		}
		if (scope != 0)
			continue; /* link-local, loopback: never a /64 of ours */
		for (unsigned b = 0; b < bits && same; b++)
			same = ((a[b / 8] ^ s->net[b / 8]) & (0x80u >> (b % 8))) == 0;
		if (same && bits > 0) {
			char p[SUBNET6_STRLEN], h[INET6_ADDRSTRLEN] = "?";
			inet_ntop(AF_INET6, a, h, sizeof(h));
			buf_printf(err, "IPv6 subnet %s overlaps %s/%u on the host's interface %s", subnet6_fmt(s, p), h,
				   plen, ifname);
			return -EEXIST;
		}
	}
	return 0;
}

static int check_new(const struct net_def *d, struct buf *err)
{
	struct net_record *list;
	size_t n;
	int r = 0;

	if (store_net_list(svc_cfg.store, &list, &n) < 0) {
		buf_adds(err, "cannot read the networks");
		return -EIO;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		struct buf why __do_buf = BUF_INIT;
		__do_netdef struct net_def *o = NULL;
		if (strcmp(list[i].name, d->name) == 0) {
			buf_printf(err, "network '%s' already exists", d->name);
			r = -EEXIST;
		} else if (net_load(list[i].name, &o, &why) < 0) {
			continue;
		} else if (strcmp(o->bridge, d->bridge) == 0 && (d->type != NET_BRIDGE || o->type != NET_BRIDGE)) {
			buf_printf(err, "bridge %s is already used by network '%s'", d->bridge, o->name);
			r = -EEXIST;
		} else if (d->type == NET_VXLAN && o->type == NET_VXLAN && d->vni == o->vni) {
			buf_printf(err, "VNI %u is already used by network '%s'", d->vni, o->name);
			r = -EEXIST;
		} else if ((d->type == NET_NAT || d->type == NET_ISOLATED) && (o->type == NET_NAT || o->type == NET_ISOLATED) &&
			   subnet_overlap(&d->subnet, &o->subnet)) {
			char a[19], b[19];
			buf_printf(err, "subnet %s overlaps %s of network '%s'", subnet_fmt(&d->subnet, a),
				   subnet_fmt(&o->subnet, b), o->name);
			r = -EEXIST;
		} else if (d->has_subnet6 && o->has_subnet6 && subnet6_equal(&d->subnet6, &o->subnet6)) {
			char a[SUBNET6_STRLEN];
			buf_printf(err, "IPv6 subnet %s is already used by network '%s'", subnet6_fmt(&d->subnet6, a),
				   o->name);
			r = -EEXIST;
		}
	}
	store_net_list_free(list, n);
	if (r < 0)
		return r;

	struct nl_link l;
	if (d->type == NET_BRIDGE) {
		if ((r = nl_link_get(d->bridge, &l, err)) == -ENODEV) {
			buf_printf(err, "host bridge %s does not exist (a bridge network attaches to an existing bridge)",
				   d->bridge);
			return -ENOENT;
		}
		if (r == 0 && strcmp(l.kind, "bridge") != 0) {
			buf_printf(err, "%s is not a bridge (it is %s)", d->bridge, *l.kind ? l.kind : "a plain device");
			return -EINVAL;
		}
		if (r == 0 && strncmp(l.alias, ALIAS_PREFIX, strlen(ALIAS_PREFIX)) == 0) {
			buf_printf(err, "%s is the bridge of %s: attach to that network instead", d->bridge, l.alias);
			return -EINVAL;
		}
		return r;
	}
	if ((r = bridge_owned(d, &l, err)) < 0)
		return r;
	if (d->type == NET_VXLAN) {
		char vx[16];
		netdef_vxlan_link(d, vx);
		return vxlan_owned(d, vx, err) < 0 ? -EEXIST : 0;
	}
	/* the host's own addresses: a subnet overlapping one would hijack its routes */
	struct nl_addr4 *addrs;
	size_t na;
	if ((r = nl_addr4_list(&addrs, &na, err)) < 0)
		return r;
	for (size_t i = 0; i < na && r == 0; i++) {
		struct subnet h = { ntohl(addrs[i].addr), addrs[i].prefix };
		h.net &= subnet_mask(&h);
		if (h.prefix > 0 && (h.net >> 24) != 127 && subnet_overlap(&d->subnet, &h)) {
			char a[19], b[19], ifname[IF_NAMESIZE] = "?";
			if_indextoname((unsigned)addrs[i].index, ifname);
			buf_printf(err, "subnet %s overlaps %s on the host's interface %s", subnet_fmt(&d->subnet, a),
				   subnet_fmt(&h, b), ifname);
			r = -EEXIST;
		}
	}
	free(addrs);
	if (r == 0 && d->has_subnet6)
		r = check_host6(&d->subnet6, err);
	return r;
}

int svc_net_create(const json_t *j, json_t **out, struct buf *err)
{
	__do_netdef struct net_def *d = netdef_from_json(j, err);
	int r;
	if (!d)
		return -EINVAL;
	if ((r = reserve_forwarded(d, err)) < 0)
		return r;
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = check_new(d, err)) == 0 && (r = net_store(d, true, err)) == 0) {
		if ((r = net_up(d, err)) < 0) {
			struct buf why __do_buf = BUF_INIT;
			net_down(d);
			net_files_remove(d->name);
			if (net_forget(d->name, &why) < 0)
				log_warn("network %s: cannot forget it after a failed create: %s", d->name, why.s);
		}
	}
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		return r;
	log_info("network %s: created (%s, bridge %s)", d->name, net_type_name(d->type), d->bridge);
	*out = net_json(d);
	return 0;
}

int svc_net_delete(const char *name, struct buf *err)
{
	__do_netdef struct net_def *d = NULL;
	char *users = NULL;
	int r;

	pthread_mutex_lock(&svc_defs_lock);
	if ((r = net_load(name, &d, err)) < 0)
		goto out;
	if ((r = store_net_users(svc_cfg.store, name, &users)) == 0 && users) {
		buf_printf(err, "network '%s' is used by VM %s: remove their NICs on it first", name, users);
		r = -EBUSY;
		goto out;
	}
	{
		size_t nc;
		struct ct_def **cts = cts_load(&nc);
		for (size_t i = 0; i < nc && r == 0; i++)
			for (int k = 0; k < cts[i]->nnics && r == 0; k++)
				if (strcmp(cts[i]->nics[k].network, name) == 0) {
					buf_printf(err, "network '%s' is used by container %s: remove its NIC on it "
						   "(or the container) first", name, cts[i]->name);
					r = -EBUSY;
				}
		cts_free(cts, nc);
		if (r < 0)
			goto out;
	}
	if ((r = net_forget(name, err)) < 0)
		goto out;
	net_down(d);
	net_files_remove(name);
	log_info("network %s: deleted", name);
out:
	pthread_mutex_unlock(&svc_defs_lock);
	free(users);
	return r;
}

/* ---- leases and forwards -------------------------------------------- */

/* The VM whose NIC has `mac`, from the list (borrowed), or NULL. */
static const char *vm_of_mac(const struct vm_record *vms, size_t n, const char *mac)
{
	for (size_t i = 0; i < n; i++)
		if (vmdef_nic_index(vms[i].def, mac) >= 0)
			return vms[i].def->name;
	return NULL;
}

int svc_net_leases(const char *name, json_t **out, struct buf *err)
{
	__do_netdef struct net_def *d = NULL;
	__do_free char *dir = NULL;
	struct dnsmasq_lease *l = NULL;
	struct vm_record *vms = NULL;
	size_t n = 0, nv = 0;
	int r;

	if ((r = net_load(name, &d, err)) < 0)
		return r;
	dir = net_dir(name);
	if ((r = dnsmasq_leases_read(dir, &l, &n)) < 0) {
		buf_printf(err, "cannot read the leases of network %s: %s", name, strerror(-r));
		return r;
	}
	store_vm_list(svc_cfg.store, &vms, &nv);
	size_t nc;
	struct ct_def **cts = cts_load(&nc);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char t[40];
		const char *vm = vm_of_mac(vms, nv, l[i].mac), *ct = NULL;
		for (size_t k = 0; k < nc && !vm && !ct; k++)
			if (ctdef_nic_index(cts[k], l[i].mac) >= 0)
				ct = cts[k]->name;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s?,s:s,s:s?,s:s?}", "mac", l[i].mac, "ip", l[i].ip,
						     "hostname", l[i].hostname[0] ? l[i].hostname : NULL, "expires",
						     l[i].expiry ? time_fmt_rfc3339(l[i].expiry * 1000, t, sizeof(t))
								 : "never",
						     "vm", vm, "container", ct));
	}
	store_vm_list_free(vms, nv);
	cts_free(cts, nc);
	free(l);
	*out = json_pack("{s:o}", "leases", arr);
	return 0;
}

/* Network `name` changed into d (forwards, reservations): load its table, then
 * record it; if either fails the table of the stored definition is put back. */
static int net_apply_change(const char *name, struct net_def *d, json_t **out, struct buf *err)
{
	__do_free char *dir = net_dir(d->name);
	int r;
	if ((r = nft_table_apply(d, dir, err)) < 0 || (r = net_store(d, false, err)) < 0) {
		struct buf why __do_buf = BUF_INIT;
		__do_netdef struct net_def *old = NULL;
		if (net_load(name, &old, &why) < 0 || nft_table_apply(old, dir, &why) < 0)
			log_warn("network %s: cannot restore its firewall table: %s", name, why.s);
		return r;
	}
	if ((r = hosts_update(d, err)) < 0)
		return r;
	*out = net_json(d);
	return 0;
}

int svc_net_forward_add(const char *name, const char *host, const char *guest, json_t **out, struct buf *err)
{
	__do_netdef struct net_def *d = NULL;
	struct net_forward f;
	int r;

	if ((r = netdef_forward_parse(host, guest, &f, err)) < 0)
		return r;
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = net_load(name, &d, err)) < 0)
		goto out;
	if (d->type != NET_NAT) {
		buf_printf(err, "network %s is of type %s: port forwards need a nat network", name, net_type_name(d->type));
		r = -EINVAL;
		goto out;
	}
	for (int i = 0; i < d->nforwards; i++) {
		if (d->forwards[i].port == f.port && d->forwards[i].udp == f.udp) {
			buf_printf(err, "%s port %d is already forwarded to %s:%d", f.udp ? "udp" : "tcp", f.port,
				   d->forwards[i].vm, d->forwards[i].vm_port);
			r = -EEXIST;
			goto out;
		}
	}
	if (d->nforwards == NET_MAX_FORWARDS) {
		buf_printf(err, "network %s has the most port forwards it can (%d)", name, NET_MAX_FORWARDS);
		r = -ENOSPC;
		goto out;
	}
	d->forwards[d->nforwards++] = f;
	f.vm = NULL; /* owned by d now */
	if ((r = reserve_forwarded(d, err)) == 0)
		r = net_apply_change(name, d, out, err);
out:
	pthread_mutex_unlock(&svc_defs_lock);
	free(f.vm);
	return r;
}

int svc_net_forward_delete(const char *name, const char *host, json_t **out, struct buf *err)
{
	__do_netdef struct net_def *d = NULL;
	struct net_forward f;
	int r, k = -1;

	if ((r = netdef_forward_parse(host, "x:1", &f, err)) < 0)
		return r;
	free(f.vm);
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = net_load(name, &d, err)) < 0)
		goto out;
	for (int i = 0; i < d->nforwards; i++)
		if (d->forwards[i].port == f.port && d->forwards[i].udp == f.udp)
			k = i;
	if (k < 0) {
		buf_printf(err, "network %s has no forward of %s", name, host);
		r = -ENOENT;
		goto out;
	}
	free(d->forwards[k].vm);
	memmove(&d->forwards[k], &d->forwards[k + 1], (size_t)(d->nforwards - k - 1) * sizeof(d->forwards[0]));
	d->nforwards--;
	r = net_apply_change(name, d, out, err);
out:
	pthread_mutex_unlock(&svc_defs_lock);
	return r;
}

/* ---- VMs' NICs ------------------------------------------------------ */

/* -EEXIST unless every MAC of macs is free: on no NIC of a VM or container other than self_uuid. */
static int macs_unused(const char *const *macs, int nmacs, const char *self_uuid, struct buf *err)
{
	struct vm_record *vms;
	size_t n, nc;
	int r = 0;

	if (store_vm_list(svc_cfg.store, &vms, &n) < 0) {
		buf_adds(err, "cannot read the VM list");
		return -EIO;
	}
	for (size_t v = 0; v < n && r == 0; v++)
		for (int i = 0; i < nmacs && r == 0 && strcmp(vms[v].def->uuid, self_uuid) != 0; i++)
			if (vmdef_nic_index(vms[v].def, macs[i]) >= 0) {
				buf_printf(err, "MAC address %s is already used by VM %s", macs[i], vms[v].def->name);
				r = -EEXIST;
			}
	store_vm_list_free(vms, n);
	struct ct_def **cts = cts_load(&nc);
	for (size_t c = 0; c < nc && r == 0; c++)
		for (int i = 0; i < nmacs && r == 0 && strcmp(cts[c]->uuid, self_uuid) != 0; i++)
			if (ctdef_nic_index(cts[c], macs[i]) >= 0) {
				buf_printf(err, "MAC address %s is already used by container %s", macs[i], cts[c]->name);
				r = -EEXIST;
			}
	cts_free(cts, nc);
	return r;
}

int svc_net_check_vm(const struct vm_def *d, struct buf *err)
{
	int r = 0;

	for (int i = 0; i < d->nnics && r == 0; i++) {
		struct net_record rec = { 0 };
		if (d->nics[i].mode != NIC_NETWORK)
			continue;
		if (store_net_get(svc_cfg.store, d->nics[i].network, &rec) < 0) {
			buf_printf(err, "network '%s' does not exist (create it with 'corral net create')",
				   d->nics[i].network);
			r = -ENOENT;
		}
		net_record_release(&rec);
		if (r == 0 && d->nics[i].vlan) {
			__do_netdef struct net_def *net = NULL;
			if ((r = net_load(d->nics[i].network, &net, err)) == 0)
				r = nic_vlan_check(net, &d->nics[i], err);
		}
	}
	if (r < 0 || d->nnics == 0)
		return r;
	const char *macs[VM_MAX_NICS];
	for (int i = 0; i < d->nnics; i++)
		macs[i] = d->nics[i].mac;
	return macs_unused(macs, d->nnics, d->uuid, err);
}

json_t *svc_net_nic_status(const struct vm_def *d)
{
	json_t *arr = json_array();
	for (int i = 0; i < d->nnics; i++) {
		const struct vm_nic *nic = &d->nics[i];
		json_t *o = json_pack("{s:s}", "mac", nic->mac);
		if (nic->mode == NIC_NETWORK && !netdef_name_invalid(nic->network)) {
			__do_free char *dir = net_dir(nic->network);
			struct dnsmasq_lease *l;
			size_t n;
			char tap[TAP_NAME_LEN];
			const char *ip = NULL;
			long long best = -1;
			tap_name(d->uuid, nic->mac, tap);
			json_object_set_new(o, "network", json_string(nic->network));
			json_object_set_new(o, "tap", if_nametoindex(tap) ? json_string(tap) : json_null());
			if (dnsmasq_leases_read(dir, &l, &n) == 0) {
				for (size_t k = 0; k < n; k++) {
					if (strcasecmp(l[k].mac, nic->mac) == 0 && (l[k].expiry == 0 || l[k].expiry > best)) {
						ip = l[k].ip;
						best = l[k].expiry ? l[k].expiry : (long long)1 << 62;
					}
				}
				json_object_set_new(o, "ip", ip ? json_string(ip) : json_null());
				free(l);
			}
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

void svc_net_hosts_refresh(const struct vm_def *d)
{
	for (int i = 0; i < d->nnics; i++) {
		struct buf err __do_buf = BUF_INIT;
		__do_netdef struct net_def *net = NULL;
		bool seen = false;
		if (d->nics[i].mode != NIC_NETWORK)
			continue;
		for (int k = 0; k < i; k++)
			seen = seen || (d->nics[k].network && strcmp(d->nics[k].network, d->nics[i].network) == 0);
		if (seen)
			continue;
		if (net_load(d->nics[i].network, &net, &err) < 0 || hosts_update(net, &err) < 0)
			log_warn("network %s: cannot refresh its hosts file: %s", d->nics[i].network, err.s);
	}
}

int svc_net_nic_open(const struct vm_def *d, int index, struct buf *err)
{
	const struct vm_nic *nic = &d->nics[index];
	__do_netdef struct net_def *net = NULL;
	__do_close int fd = -EBADF;
	char tap[TAP_NAME_LEN];
	int r;

	if ((r = net_load(nic->network, &net, err)) < 0)
		return r;
	tap_name(d->uuid, nic->mac, tap);
	if ((fd = tap_open(tap, err)) < 0)
		return fd;
	/*
	 * The filter (net/hygiene.h) is in place before the tap joins the
	 * bridge: the guest never sends a frame unfiltered.  Its IPv4 half is
	 * the NIC's current lease if it has one (a restarted guest renews it),
	 * else DHCP only until lease_learned narrows it.  No filter, no start.
	 */
	if (nic_filtered(nic)) {
		struct hygiene_port p;
		struct buf why __do_buf = BUF_INIT;
		hyg_port_fill(net, tap, nic, NULL, &p);
		if ((r = hygiene_port_apply(&p, &why)) < 0) {
			buf_printf(err, "NIC %s: cannot install its traffic filter (nftables bridge table %s): %s",
				   nic->mac, HYGIENE_TABLE, why.s);
			return r;
		}
	}
	/* VLANs and the bandwidth limit too, before the link is up */
	if ((r = nl_link_set_master(tap, net->bridge, err)) < 0 || (r = nic_port_settings(net, nic, tap, false, err)) < 0 ||
	    (r = nl_link_set_up(tap, true, err)) < 0 ||
	    /* not under svc_defs_lock: VM starts must not wait behind definition changes */
	    (r = hosts_update(net, err)) < 0) {
		svc_net_nic_closed(d, index);
		return r;
	}
	return move_fd(fd);
}

int svc_net_nic_update(const struct vm_def *d, int index, struct buf *err)
{
	const struct vm_nic *nic = &d->nics[index];
	__do_netdef struct net_def *net = NULL;
	char tap[TAP_NAME_LEN];
	int r;

	if (nic->mode != NIC_NETWORK)
		return 0;
	tap_name(d->uuid, nic->mac, tap);
	if (!if_nametoindex(tap))
		return 0; /* not running: its next start sets it up */
	if ((r = net_load(nic->network, &net, err)) < 0)
		return r;
	if (nic_filtered(nic)) {
		struct hygiene_port p;
		struct buf why __do_buf = BUF_INIT;
		hyg_port_fill(net, tap, nic, NULL, &p);
		if ((r = hygiene_port_apply(&p, &why)) < 0) {
			buf_printf(err, "NIC %s: cannot update its traffic filter: %s", nic->mac, why.s);
			return r;
		}
	}
	return nic_port_settings(net, nic, tap, true, err);
}

/* ---- containers' NICs ------------------------------------------------ */

int svc_net_check_ct(const struct ct_def *d, struct buf *err)
{
	int r = 0;

	for (int i = 0; i < d->nnics && r == 0; i++) {
		struct net_record rec = { 0 };
		if (store_net_get(svc_cfg.store, d->nics[i].network, &rec) < 0) {
			buf_printf(err, "network '%s' does not exist (create it with 'corral net create')",
				   d->nics[i].network);
			r = -ENOENT;
		}
		net_record_release(&rec);
	}
	if (r < 0 || d->nnics == 0)
		return r;
	const char *macs[CT_MAX_NICS];
	for (int i = 0; i < d->nnics; i++)
		macs[i] = d->nics[i].mac;
	return macs_unused(macs, d->nnics, d->uuid, err);
}

int svc_net_ct_nic_open(const struct ct_def *d, int index, char bridge[TAP_NAME_LEN], char port[TAP_NAME_LEN],
			struct buf *err)
{
	struct vm_nic v = ct_nic_view(&d->nics[index]);
	__do_netdef struct net_def *net = NULL;
	struct hygiene_port p;
	struct buf why __do_buf = BUF_INIT;
	int r;

	if ((r = net_load(v.network, &net, err)) < 0)
		return r;
	if (!if_nametoindex(net->bridge)) {
		buf_printf(err, "network %s is not up on this host (its bridge %s is missing; corrald's log says why)",
			   net->name, net->bridge);
		return -ENODEV;
	}
	tap_veth_name(d->uuid, v.mac, port);
	snprintf(bridge, TAP_NAME_LEN, "%s", net->bridge);
	if (if_nametoindex(port)) {
		buf_printf(err, "NIC %s: a network interface named %s exists already (left from another start?)", v.mac,
			   port);
		return -EEXIST;
	}
	/* the filter first, by name: the veth never sends a frame unfiltered */
	hyg_port_fill(net, port, &v, NULL, &p);
	if ((r = hygiene_port_apply(&p, &why)) < 0) {
		buf_printf(err, "NIC %s: cannot install its traffic filter (nftables bridge table %s): %s", v.mac,
			   HYGIENE_TABLE, why.s);
		return r;
	}
	if ((r = hosts_update(net, err)) < 0)
		svc_net_ct_nic_closed(d, index);
	return r;
}

void svc_net_ct_nic_closed(const struct ct_def *d, int index)
{
	struct buf err __do_buf = BUF_INIT;
	char port[TAP_NAME_LEN];
	tap_veth_name(d->uuid, d->nics[index].mac, port);
	if (hygiene_port_remove(port, &err) < 0)
		log_warn("container %s: cannot remove the traffic filter of NIC %s: %s", d->name, d->nics[index].mac,
			 err.s);
}

json_t *svc_net_ct_nic_status(const struct ct_def *d)
{
	json_t *arr = json_array();
	for (int i = 0; i < d->nnics; i++) {
		char port[TAP_NAME_LEN], ip[INET_ADDRSTRLEN];
		struct in_addr a;
		tap_veth_name(d->uuid, d->nics[i].mac, port);
		bool has = !netdef_name_invalid(d->nics[i].network) && lease_of(d->nics[i].network, d->nics[i].mac, &a) &&
			   inet_ntop(AF_INET, &a, ip, sizeof(ip));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:o}", "mac", d->nics[i].mac, "network",
						     d->nics[i].network, "veth",
						     if_nametoindex(port) ? json_string(port) : json_null(), "ip",
						     has ? json_string(ip) : json_null()));
	}
	return arr;
}

void svc_net_ct_hosts_refresh(const struct ct_def *d)
{
	for (int i = 0; i < d->nnics; i++) {
		struct buf err __do_buf = BUF_INIT;
		__do_netdef struct net_def *net = NULL;
		if (net_load(d->nics[i].network, &net, &err) < 0 || hosts_update(net, &err) < 0)
			log_warn("network %s: cannot refresh its hosts file: %s", d->nics[i].network, err.s);
	}
}
