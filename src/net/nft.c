/*
 * nft.c - a network's own nftables table (see nft.h).
 */
#include <errno.h>
#include <string.h>

#include "nft.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/common.h"

char *nft_table_name(const char *net) { return xasprintf("corral-%s", net); }

/* family "ip" or "ip6"; subnet the network's prefix in that family. */
static void forward_chain(const struct net_def *d, const char *family, const char *subnet, struct buf *o)
{
	const char *br = d->bridge;
	buf_adds(o, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
	buf_printf(o, "\t\tiifname \"%s\" oifname \"%s\" accept\n", br, br);
	if (d->type == NET_NAT) {
		buf_printf(o, "\t\tiifname \"%s\" %s saddr %s accept\n", br, family, subnet);
		buf_printf(o, "\t\toifname \"%s\" %s daddr %s ct state established,related accept\n", br, family,
			   subnet);
		if (d->nforwards && !strcmp(family, "ip"))
			buf_printf(o, "\t\toifname \"%s\" ip daddr %s ct status dnat accept\n", br, subnet);
	}
	buf_printf(o, "\t\tiifname \"%s\" drop\n", br);
	buf_printf(o, "\t\toifname \"%s\" drop\n", br);
	buf_adds(o, "\t}\n");
}

static void dnat_rules(const struct net_def *d, const char *match, struct buf *o)
{
	for (int i = 0; i < d->nforwards; i++) {
		const struct net_forward *f = &d->forwards[i];
		const struct net_reservation *r = netdef_reservation(d, f->vm);
		char ip[16];
		if (!r)
			continue; /* the service layer reserves an address for every forwarded VM */
		buf_printf(o, "\t\t%s%s dport %d dnat to %s:%d\n", match, f->udp ? "udp" : "tcp", f->port,
			   ipv4_fmt(r->ip, ip), f->vm_port);
	}
}

/* `table FAMILY T` opened (after the replace idiom) with its forward chain. */
static void table_open(const struct net_def *d, const char *family, const char *t, const char *subnet, struct buf *o)
{
	buf_printf(o, "table %s %s\ndelete table %s %s\ntable %s %s {\n", family, t, family, t, family, t);
	forward_chain(d, family, subnet, o);
}

static void masquerade_chain(const char *family, const char *subnet, struct buf *o)
{
	buf_adds(o, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	buf_printf(o, "\t\t%s saddr %s %s daddr != %s masquerade\n", family, subnet, family, subnet);
	buf_adds(o, "\t}\n");
}

void nft_ruleset(const struct net_def *d, struct buf *o)
{
	__do_free char *t = nft_table_name(d->name);
	char subnet[19];

	if (d->type == NET_BRIDGE || d->type == NET_VXLAN)
		return;
	subnet_fmt(&d->subnet, subnet);
	buf_printf(o, "# corral network %s (%s): generated, replaced whole on every change\n", d->name,
		   net_type_name(d->type));
	table_open(d, "ip", t, subnet, o);
	if (d->type == NET_NAT) {
		masquerade_chain("ip", subnet, o);
		if (d->nforwards) {
			buf_adds(o, "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
			dnat_rules(d, "fib daddr type local ", o);
			buf_adds(o, "\t}\n");
			buf_adds(o, "\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
			dnat_rules(d, "fib daddr type local ip daddr != 127.0.0.0/8 ", o);
			buf_adds(o, "\t}\n");
		}
	}
	buf_adds(o, "}\n");
	if (!d->has_subnet6)
		return;
	/* IPv6: the same forwarding policy and masquerade in a table of family ip6 (no port forwards) */
	char subnet6[SUBNET6_STRLEN];
	subnet6_fmt(&d->subnet6, subnet6);
	table_open(d, "ip6", t, subnet6, o);
	if (d->type == NET_NAT)
		masquerade_chain("ip6", subnet6, o);
	buf_adds(o, "}\n");
}

int nft_table_apply(const struct net_def *d, const char *dir, struct buf *err)
{
	struct buf rules __do_buf = BUF_INIT, out __do_buf = BUF_INIT, msg __do_buf = BUF_INIT;
	__do_free char *path = xasprintf("%s/firewall.nft", dir);
	struct cmd c = CMD_INIT;
	int r;

	nft_ruleset(d, &rules);
	if (!rules.len)
		return 0;
	if ((r = fs_write_file_atomic(path, rules.s, rules.len, 0600)) < 0) {
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	cmd_add(&c, "nft");
	cmd_add(&c, "-f");
	cmd_add(&c, path);
	r = cmd_run(&c, &out, &msg);
	cmd_release(&c);
	if (r != 0) {
		buf_printf(err, "cannot load the firewall table of network %s: %s", d->name,
			   r < 0 ? strerror(-r) : msg.len ? msg.s : "nft failed");
		return r < 0 ? r : -EIO;
	}
	return 0;
}

static int nft_table_cmd(const char *verb, const char *family, const char *net, struct buf *msg)
{
	__do_free char *t = nft_table_name(net);
	struct cmd c = CMD_INIT;
	struct buf out __do_buf = BUF_INIT;
	cmd_add(&c, "nft");
	cmd_add(&c, verb);
	cmd_add(&c, "table");
	cmd_add(&c, family);
	cmd_add(&c, t);
	int r = cmd_run(&c, &out, msg);
	cmd_release(&c);
	return r;
}

bool nft_table_exists(const char *net)
{
	struct buf msg __do_buf = BUF_INIT;
	return nft_table_cmd("list", "ip", net, &msg) == 0;
}

int nft_table_delete(const char *net, struct buf *err)
{
	static const char *const families[] = { "ip", "ip6" };
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		struct buf msg __do_buf = BUF_INIT;
		if (nft_table_cmd("list", families[i], net, &msg) != 0)
			continue;
		buf_reset(&msg);
		int r = nft_table_cmd("delete", families[i], net, &msg);
		if (r != 0) {
			buf_printf(err, "cannot delete the firewall table %s of network %s: %s", families[i], net,
				   msg.len ? msg.s : "nft failed");
			return r < 0 ? r : -EIO;
		}
	}
	return 0;
}
