/*
 * test_net.c - the pure parts of src/net: subnets, network definitions,
 * the nft ruleset and the dnsmasq configuration (golden files in
 * tests/data/net/, rewritten with CORRAL_REGENERATE_GOLDEN=1), lease files,
 * tap names.  What touches the host (netlink, nft, dnsmasq) is proven end to
 * end by tests/integration/t66-network.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "golden.h"
#include "net/dnsmasq.h"
#include "net/netdef.h"
#include "net/nft.h"
#include "net/subnet.h"
#include "net/subnet6.h"
#include "net/tap.h"
#include "util/fsutil.h"
#include "util/common.h"

static struct net_def *def_ok(const char *text)
{
	struct buf err = BUF_INIT;
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("bad test JSON: %s", text);
	struct net_def *d = netdef_from_json(j, &err);
	if (!d)
		fail_msg("%s: %s", text, err.s);
	json_decref(j);
	buf_release(&err);
	return d;
}

static void def_bad(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	struct net_def *d = netdef_from_json(j, &err);
	if (d)
		fail_msg("accepted: %s", text);
	if (!strstr(err.s, want))
		fail_msg("%s: error '%s' lacks '%s'", text, err.s, want);
	json_decref(j);
	buf_release(&err);
}

static void test_subnet(void **state)
{
	(void)state;
	struct subnet s, t;
	struct buf err = BUF_INIT;
	char out[19];
	uint32_t a, lo, hi;

	assert_int_equal(subnet_parse("10.20.0.0/24", &s, &err), 0);
	assert_string_equal(subnet_fmt(&s, out), "10.20.0.0/24");
	assert_int_equal(subnet_parse("10.20.0.0/024", &t, &err), -EINVAL); /* found by fuzz_net */
	assert_string_equal(ipv4_fmt(subnet_gateway(&s), out), "10.20.0.1");
	subnet_dhcp_range(&s, &lo, &hi);
	assert_string_equal(ipv4_fmt(lo, out), "10.20.0.128");
	assert_string_equal(ipv4_fmt(hi, out), "10.20.0.254");
	assert_int_equal(ipv4_parse("10.20.0.2", &a), 0);
	assert_true(subnet_reservable(&s, a));
	assert_false(subnet_reservable(&s, subnet_gateway(&s)));
	assert_false(subnet_reservable(&s, lo));

	assert_int_equal(subnet_parse("10.20.0.128/25", &t, &err), 0);
	assert_true(subnet_overlap(&s, &t));
	assert_int_equal(subnet_parse("10.21.0.0/16", &t, &err), 0);
	assert_false(subnet_overlap(&s, &t));
	assert_int_equal(subnet_parse("10.0.0.0/8", &t, &err), 0);
	assert_true(subnet_overlap(&s, &t));

	static const char *const bad[] = { "10.20.0.5/24", "10.20.0.0", "10.20.0.0/", "10.20.0.0/33", "10.20.0.0/4",
					   "10.20.0.0/30", "256.0.0.0/8", "10.020.0.0/16", "127.0.0.0/8", "224.0.0.0/8",
					   "0.0.0.0/8", "10.20.0.0/24x", " 10.20.0.0/24", "10..0.0/16", "", "/24",
					   "10.20.0.0/+24", "10.20.0.0/024x" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (subnet_parse(bad[i], &t, &err) == 0)
			fail_msg("accepted subnet '%s'", bad[i]);
		assert_true(err.len > 0);
	}
	buf_reset(&err);
	subnet_parse("10.20.0.5/24", &t, &err);
	assert_non_null(strstr(err.s, "did you mean 10.20.0.0/24"));
	buf_release(&err);
}

static void test_netdef(void **state)
{
	(void)state;
	struct net_def *d = def_ok("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\"}");
	assert_int_equal(d->type, NET_NAT);
	assert_string_equal(d->bridge, "cr-lan");
	assert_true(d->dhcp);
	json_t *j = netdef_to_json(d);
	struct buf err = BUF_INIT;
	struct net_def *e = netdef_from_json(j, &err);
	assert_non_null(e);
	json_t *j2 = netdef_to_json(e);
	assert_true(json_equal(j, j2));
	json_decref(j);
	json_decref(j2);
	netdef_free(d);
	netdef_free(e);

	d = def_ok("{\"name\":\"lan0\",\"type\":\"bridge\",\"bridge\":\"br0\"}");
	assert_false(d->dhcp);
	netdef_free(d);

	def_bad("{\"name\":\"lan\"}", "needs a subnet");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.1/24\"}", "not a network address");
	def_bad("{\"name\":\"Lan\",\"subnet\":\"10.20.0.0/24\"}", "a-z, 0-9");
	def_bad("{\"name\":\"averyverylongname\",\"subnet\":\"10.20.0.0/24\"}", "1 to 12");
	def_bad("{\"name\":\"-x\",\"subnet\":\"10.20.0.0/24\"}", "start with");
	def_bad("{\"name\":\"a/b\",\"subnet\":\"10.20.0.0/24\"}", "a-z, 0-9");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"bridge\":\"br;rm\"}", "interface name");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"bridge\":\"averyverylongbridge\"}", "interface name");
	def_bad("{\"name\":\"lan\",\"type\":\"bridge\"}", "needs the host bridge");
	def_bad("{\"name\":\"lan\",\"type\":\"bridge\",\"bridge\":\"br0\",\"subnet\":\"10.20.0.0/24\"}", "takes no subnet");
	def_bad("{\"name\":\"lan\",\"type\":\"vlan\",\"subnet\":\"10.20.0.0/24\"}", "nat, isolated, bridge or vxlan");
	def_bad("{\"name\":\"ov\",\"type\":\"vxlan\",\"peers\":[\"192.0.2.2\"]}", "needs its VNI");
	def_bad("{\"name\":\"ov\",\"type\":\"vxlan\",\"vni\":16777216,\"peers\":[\"192.0.2.2\"]}", "vni");
	def_bad("{\"name\":\"ov\",\"type\":\"vxlan\",\"vni\":5}", "needs peers");
	def_bad("{\"name\":\"ov\",\"type\":\"vxlan\",\"vni\":5,\"peers\":[\"224.0.0.1\"]}", "unicast");
	def_bad("{\"name\":\"ov\",\"type\":\"vxlan\",\"vni\":5,\"peers\":[\"192.0.2.2\"],\"subnet\":\"10.1.0.0/24\"}",
		"layer 2 only");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"vni\":5}", "only apply to a vxlan");
	d = def_ok("{\"name\":\"ov\",\"type\":\"vxlan\",\"vni\":4242,\"peers\":[\"192.0.2.2\",\"192.0.2.3\"],"
		   "\"local\":\"192.0.2.1\"}");
	assert_int_equal(d->vni, 4242);
	assert_int_equal(d->npeers, 2);
	assert_false(d->dhcp);
	assert_string_equal(d->bridge, "cr-ov");
	{
		char vx[16];
		netdef_vxlan_link(d, vx);
		assert_string_equal(vx, "cv-ov");
		json_t *a = netdef_to_json(d);
		struct net_def *e2 = netdef_from_json(a, &err);
		assert_non_null(e2);
		json_t *b = netdef_to_json(e2);
		assert_true(json_equal(a, b));
		struct buf rules = BUF_INIT;
		nft_ruleset(d, &rules);
		assert_int_equal(rules.len, 0);
		json_decref(a);
		json_decref(b);
		netdef_free(e2);
	}
	netdef_free(d);
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"mtu\":9000}", "'mtu'");
	def_bad("{\"name\":\"lan\",\"type\":\"isolated\",\"subnet\":\"10.20.0.0/24\","
		"\"forwards\":[{\"port\":80,\"vm\":\"a\",\"vm_port\":80}]}", "type nat");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"forwards\":[{\"port\":80,\"vm\":\"a\",\"vm_port\":80},"
		"{\"port\":80,\"vm\":\"b\",\"vm_port\":81}]}", "twice");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"forwards\":[{\"port\":0,\"vm\":\"a\",\"vm_port\":80}]}",
		"port");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"forwards\":[{\"port\":80,\"vm\":\"../a\",\"vm_port\":80}]}",
		"invalid VM name");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"reservations\":[{\"vm\":\"a\",\"ip\":\"10.20.0.200\"}]}",
		"dynamic leases start at 10.20.0.128");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"reservations\":[{\"vm\":\"a\",\"ip\":\"10.20.0.1\"}]}",
		"not between");
	def_bad("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\",\"reservations\":[{\"vm\":\"a\",\"ip\":\"10.20.0.2\"},"
		"{\"vm\":\"b\",\"ip\":\"10.20.0.2\"}]}", "reserved twice");

	struct net_forward f;
	buf_reset(&err);
	assert_int_equal(netdef_forward_parse("tcp:8022", "web:22", &f, &err), 0);
	assert_false(f.udp);
	assert_int_equal(f.port, 8022);
	assert_string_equal(f.vm, "web");
	assert_int_equal(f.vm_port, 22);
	free(f.vm);
	static const char *const bad_host[] = { "8022", "sctp:1", "tcp:0", "tcp:65536", "tcp:", "udp:x" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_host); i++)
		assert_int_equal(netdef_forward_parse(bad_host[i], "web:22", &f, &err), -EINVAL);
	assert_int_equal(netdef_forward_parse("tcp:1", "web", &f, &err), -EINVAL);
	assert_int_equal(netdef_forward_parse("tcp:1", "we b:22", &f, &err), -EINVAL);
	assert_int_equal(netdef_forward_parse("tcp:1", ":22", &f, &err), -EINVAL);
	buf_release(&err);
}

/* Compare out with tests/data/net/<name> (or rewrite it). */
static void golden(const char *name, const struct buf *out)
{
	if (golden_compare("net", name, out->s))
		fail_msg("tests/data/net/%s differs (see above)", name);
}

/* IPv6 prefixes of networks (subnet6.c) and the netdef field. */
static void test_subnet6(void **state)
{
	(void)state;
	struct subnet6 s, t;
	struct buf err = BUF_INIT;
	char out[SUBNET6_STRLEN];
	uint8_t a[16];

	assert_int_equal(subnet6_parse("fd20:1::/64", &s, &err), 0);
	assert_string_equal(subnet6_fmt(&s, out), "fd20:1::/64");
	assert_string_equal(subnet6_gateway_fmt(&s, out), "fd20:1::1");
	assert_string_equal(subnet6_prefix_fmt(&s, out), "fd20:1::");
	assert_int_equal(subnet6_parse("FD20:0001:0000:0000:0000:0000:0000:0000/64", &t, &err), 0);
	assert_true(subnet6_equal(&s, &t));
	assert_int_equal(subnet6_parse("2a01:4f8:1:2::/64", &t, &err), 0);
	assert_false(subnet6_equal(&s, &t));
	subnet6_gateway(&s, a);
	assert_true(subnet6_contains(&s, a));
	assert_false(subnet6_contains(&t, a));
	static const struct {
		const char *in, *msg;
	} bad[] = {
		{ "fd20:1::", "PREFIX::/64" },          { "fd20:1::/48", "must be a /64" },
		{ "fd20:1::/128", "must be a /64" },    { "fd20:1::5/64", "did you mean fd20:1::/64" },
		{ "fe80::/64", "link-local" },          { "ff02::/64", "multicast" },
		{ "::/64", "not a usable" },            { "2001:db8::/64", "documentation" },
		{ "10.20.0.0/24", "PREFIX::/64" },      { "fd20:1::/64x", "PREFIX::/64" },
		{ "fd20:1:::/64", "PREFIX::/64" },      { "/64", "PREFIX::/64" },
		{ "fd20:1::/064", "PREFIX::/64" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (subnet6_parse(bad[i].in, &t, &err) != -EINVAL || !strstr(err.s, bad[i].msg))
			fail_msg("\"%s\": \"%s\" lacks \"%s\"", bad[i].in, err.s, bad[i].msg);
	}
	buf_release(&err);

	struct net_def *d = def_ok("{\"name\":\"lan6\",\"subnet\":\"10.20.0.0/24\",\"subnet6\":\"fd20:1::/64\"}");
	assert_true(d->has_subnet6);
	json_t *j = netdef_to_json(d);
	assert_string_equal(json_string_value(json_object_get(j, "subnet6")), "fd20:1::/64");
	json_decref(j);
	netdef_free(d);
	def_bad("{\"name\":\"b\",\"type\":\"bridge\",\"bridge\":\"br0\",\"subnet6\":\"fd20:1::/64\"}",
		"only applies to a nat or isolated");
	def_bad("{\"name\":\"v\",\"type\":\"vxlan\",\"vni\":5,\"peers\":[\"10.0.0.2\"],\"subnet6\":\"fd20:1::/64\"}",
		"only applies to a nat or isolated");
	def_bad("{\"name\":\"x\",\"subnet6\":\"fd20:1::/64\"}", "needs a subnet");
	def_bad("{\"name\":\"x\",\"subnet\":\"10.20.0.0/24\",\"subnet6\":\"fd20::/56\"}", "must be a /64");
	def_bad("{\"name\":\"x\",\"subnet\":\"10.20.0.0/24\",\"subnet6\":6}", "subnet6");
}

static void test_nft_golden(void **state)
{
	(void)state;
	static const struct {
		const char *name, *def;
	} cases[] = {
		{ "nat.nft", "{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\"}" },
		{ "nat-forwards.nft", "{\"name\":\"web\",\"subnet\":\"192.168.100.0/24\",\"bridge\":\"brweb\","
				      "\"forwards\":[{\"port\":8022,\"vm\":\"a\",\"vm_port\":22},"
				      "{\"proto\":\"udp\",\"port\":5353,\"vm\":\"b\",\"vm_port\":53}],"
				      "\"reservations\":[{\"vm\":\"a\",\"ip\":\"192.168.100.2\"},"
				      "{\"vm\":\"b\",\"ip\":\"192.168.100.3\"}]}" },
		{ "isolated.nft", "{\"name\":\"lab\",\"type\":\"isolated\",\"subnet\":\"172.16.8.0/22\"}" },
		{ "nat6.nft", "{\"name\":\"lan6\",\"subnet\":\"10.20.0.0/24\",\"subnet6\":\"fd20:1::/64\","
			      "\"forwards\":[{\"port\":8022,\"vm\":\"a\",\"vm_port\":22}],"
			      "\"reservations\":[{\"vm\":\"a\",\"ip\":\"10.20.0.2\"}]}" },
		{ "isolated6.nft", "{\"name\":\"lab6\",\"type\":\"isolated\",\"subnet\":\"172.16.8.0/22\","
				   "\"subnet6\":\"fd20:2::/64\"}" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct net_def *d = def_ok(cases[i].def);
		struct buf out = BUF_INIT;
		nft_ruleset(d, &out);
		golden(cases[i].name, &out);
		buf_release(&out);
		netdef_free(d);
	}
	/* a bridge network has no table */
	struct net_def *d = def_ok("{\"name\":\"lan0\",\"type\":\"bridge\",\"bridge\":\"br0\"}");
	struct buf out = BUF_INIT;
	nft_ruleset(d, &out);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	netdef_free(d);
}

static void test_dnsmasq_golden(void **state)
{
	(void)state;
	struct net_def *d = def_ok("{\"name\":\"lan\",\"subnet\":\"10.20.0.0/24\"}");
	struct buf out = BUF_INIT;
	dnsmasq_conf(d, "/var/lib/corral/networks/lan", &out);
	golden("nat.dnsmasq.conf", &out);
	netdef_free(d);
	buf_reset(&out);
	d = def_ok("{\"name\":\"lab\",\"type\":\"isolated\",\"subnet\":\"172.16.8.0/22\"}");
	dnsmasq_conf(d, "/var/lib/corral/networks/lab", &out);
	golden("isolated.dnsmasq.conf", &out);
	netdef_free(d);
	buf_reset(&out);
	d = def_ok("{\"name\":\"lan6\",\"subnet\":\"10.20.0.0/24\",\"subnet6\":\"fd20:1::/64\"}");
	dnsmasq_conf(d, "/var/lib/corral/networks/lan6", &out);
	golden("nat6.dnsmasq.conf", &out);
	netdef_free(d);
	buf_reset(&out);
	d = def_ok("{\"name\":\"lab6\",\"type\":\"isolated\",\"subnet\":\"172.16.8.0/22\",\"subnet6\":\"fd20:2::/64\"}");
	dnsmasq_conf(d, "/var/lib/corral/networks/lab6", &out);
	golden("isolated6.dnsmasq.conf", &out);
	netdef_free(d);
	buf_reset(&out);
	const struct dnsmasq_host h[] = { { "52:54:00:00:00:01", "web", 0x0a140002 }, { "52:54:00:00:00:02", "db", 0 } };
	dnsmasq_hosts(h, 2, &out);
	assert_string_equal(out.s, "52:54:00:00:00:01,10.20.0.2,web\n52:54:00:00:00:02,db\n");
	buf_release(&out);
}

static void test_leases(void **state)
{
	(void)state;
	struct dnsmasq_lease l[8];
	const char *text = "1765000000 52:54:00:66:00:02 10.166.1.165 g2 ff:00:66:00:02\n"
			   "0 52:54:00:66:00:01 10.166.1.10 * *\n"
			   "garbage line\n"
			   "1765000000 52:54:00:66:00:03 fe80::1 x *\n"
			   "1765000000 52:54:00:66:00:04 10.1.1.300 x *\n"
			   "-5 52:54:00:66:00:05 10.1.1.3 x *\n"
			   "1765000000 52:54:00:66:00:06 10.1.1.4 bad\x01name *\n"
			   "1765000000 52:54:00:66:00:07 10.1.1.5";
	size_t n = dnsmasq_leases_parse(text, l, 8);
	assert_int_equal(n, 3);
	assert_int_equal(l[0].expiry, 1765000000);
	assert_string_equal(l[0].ip, "10.166.1.165");
	assert_string_equal(l[0].hostname, "g2");
	assert_int_equal(l[1].expiry, 0);
	assert_string_equal(l[1].hostname, "");
	assert_string_equal(l[2].hostname, "bad?name");
	assert_int_equal(dnsmasq_leases_parse(text, l, 1), 1);
	assert_int_equal(dnsmasq_leases_parse("", l, 8), 0);
}

static void test_tap_name(void **state)
{
	(void)state;
	char t[TAP_NAME_LEN];
	tap_name("0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a", "52:54:00:ab:cd:ef", t);
	assert_string_equal(t, "ct0b6c5a2abcdef");
	assert_true(strlen(t) < 16);
	/* a container NIC's veth host end: the same digits, its own prefix */
	tap_veth_name("0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a", "52:54:00:ab:cd:ef", t);
	assert_string_equal(t, "cv0b6c5a2abcdef");
	__do_free char *tbl = nft_table_name("lan");
	assert_string_equal(tbl, "corral-lan");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subnet), cmocka_unit_test(test_subnet6),      cmocka_unit_test(test_netdef), cmocka_unit_test(test_nft_golden),
		cmocka_unit_test(test_dnsmasq_golden), cmocka_unit_test(test_leases), cmocka_unit_test(test_tap_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
