/*
 * test_hygiene.c - guest traffic hygiene rules (src/net/hygiene.c) and the
 * per-NIC bandwidth limit command (src/net/shape.c).
 *
 * Golden files: each case below is a port (bridge, tap, MAC, lease, options);
 * its nft transaction must equal tests/data/hygiene/NAME.nft exactly.  Run
 * with CORRAL_REGENERATE_GOLDEN=1 to rewrite them after an intended change,
 * then review the diff like code.  Whatever the golden file says, every
 * transaction is also checked for what users rely on: it touches only
 * corral's table, it drops spoofed MACs first, every drop is counted, and
 * (as root, with nft installed) the kernel accepts it (`nft -c`, which
 * changes nothing).  The real-kernel behaviour is tests/integration/t67.
 *
 * Data is found through $CORRAL_TEST_DATA or TEST_DATA_DIR.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "golden.h"
#include "net/hygiene.h"
#include "net/shape.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/common.h"

struct hcase {
	const char *name;
	const char *bridge, *port, *ip;   /* ip NULL: no lease yet */
	uint8_t mac[6];
	bool ipv6;
	unsigned rate, burst;
	uint64_t tx;
	const char *previous;             /* chain the port jumped to before */
};

static const struct hcase cases[] = {
	{ "no-lease", "corral0", "tap-web0", NULL, { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, false, 0, 0, 0, NULL },
	{ "leased", "corral0", "tap-web0", "10.20.0.15", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, false, 0, 0, 0,
	  NULL },
	{ "ipv6", "br-lan", "vnet3", "192.168.1.40", { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01 }, true, 0, 0, 0, NULL },
	{ "limits", "corral0", "tap-db1", "10.20.0.16", { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef }, false, 5, 20,
	  12500000, NULL },
	{ "moved", "corral1", "tap-web0", "10.30.0.2", { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, false, 0, 0, 0,
	  "p/corral0/tap-web0" },
};

static void fill(const struct hcase *c, struct hygiene_port *p)
{
	*p = (struct hygiene_port)HYGIENE_PORT_INIT;
	p->bridge = c->bridge;
	p->port = c->port;
	memcpy(p->mac, c->mac, 6);
	if (c->ip) {
		p->has_ipv4 = true;
		assert_int_equal(inet_pton(AF_INET, c->ip, &p->ipv4), 1);
	}
	p->allow_ipv6 = c->ipv6;
	p->dhcp_rate = c->rate;
	p->dhcp_burst = c->burst;
	p->tx_bytes_per_sec = c->tx;
}

/* What must hold whatever the golden file says. */
static void check_invariants(const struct hcase *c, const char *text)
{
	__do_free char *chain = xasprintf("p/%s/%s", c->bridge, c->port);
	__do_free char *copy = xstrdup(text);
	char *save = NULL, *line;
	int n = 0, first_rule = 1;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		n++;
		/* Only corral's own table, never a flush of anything else. */
		if (!strstr(line, " bridge " HYGIENE_TABLE))
			fail_msg("%s: line outside corral's table: %s", c->name, line);
		if (strstr(line, "ruleset"))
			fail_msg("%s: touches the whole ruleset: %s", c->name, line);
		if (!strncmp(line, "add rule", 8) && strstr(line, chain)) {
			if (first_rule && !strstr(line, "ether saddr !="))
				fail_msg("%s: the first rule must drop spoofed MACs: %s", c->name, line);
			first_rule = 0;
			if (strstr(line, " drop") && !strstr(line, "counter drop"))
				fail_msg("%s: drop without counter: %s", c->name, line);
		}
	}
	assert_true(n > 5);
	assert_false(first_rule);
	/* The port is switched to its chain in the same transaction. */
	__do_free char *elem = xasprintf("ports { \"%s\" : jump %s }", c->port, chain);
	assert_non_null(strstr(text, elem));
}

/* As root with nft installed: the kernel accepts the transaction (check mode). */
static void nft_check(const struct hcase *c, const char *rules)
{
	__do_free char *path = NULL;
	__do_buf struct buf text = BUF_INIT;
	const char *name = c->name;
	struct cmd cm = CMD_INIT;
	__do_buf struct buf out = BUF_INIT, err = BUF_INIT;
	int r;

	if (geteuid() != 0 || fs_exists("/usr/sbin/nft") != 1)
		return;
	/* A port that moves needs its old chain to exist, as it would. */
	if (c->previous)
		buf_printf(&text,
			   "add table bridge " HYGIENE_TABLE "\n"
			   "add map bridge " HYGIENE_TABLE " ports { type ifname : verdict; }\n"
			   "add chain bridge " HYGIENE_TABLE " %s\n"
			   "add element bridge " HYGIENE_TABLE " ports { \"%s\" : jump %s }\n",
			   c->previous, c->port, c->previous);
	buf_adds(&text, rules);
	path = xasprintf("/tmp/test_hygiene.%d.nft", (int)getpid());
	assert_int_equal(fs_write_file_atomic(path, text.s, text.len, 0600), 0);
	cmd_add(&cm, "nft");
	cmd_add(&cm, "-c");
	cmd_add(&cm, "-f");
	cmd_add(&cm, path);
	r = cmd_run(&cm, &out, &err);
	cmd_release(&cm);
	unlink(path);
	if (r != 0)
		fail_msg("%s: nft -c refuses the transaction (%d): %s", name, r, err.s);
}

static void test_golden(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct hygiene_port p;
		__do_buf struct buf out = BUF_INIT, err = BUF_INIT;
		__do_free char *file = xasprintf("%s.nft", cases[i].name);

		fill(&cases[i], &p);
		if (hygiene_port_render(&p, cases[i].previous, &out, &err) < 0)
			fail_msg("%s: %s", cases[i].name, err.s);
		check_invariants(&cases[i], out.s);
		failed += golden_compare("hygiene", file, out.s);
		nft_check(&cases[i], out.s);
	}
	if (failed)
		fail_msg("%d golden case(s) failed", failed);
}

static void test_lease_changes_only_ip_rules(void **state)
{
	struct hygiene_port p;
	__do_buf struct buf a = BUF_INIT, b = BUF_INIT, err = BUF_INIT;

	(void)state;
	fill(&cases[0], &p);
	assert_int_equal(hygiene_port_render(&p, NULL, &a, &err), 0);
	/* Before the lease: IPv4 only as DHCP from 0.0.0.0; ARP only probes. */
	assert_non_null(strstr(a.s, "ether type ip counter drop comment \"ip-spoof\""));
	assert_non_null(strstr(a.s, "arp saddr ip != 0.0.0.0 counter drop"));
	assert_non_null(strstr(a.s, "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 accept"));
	/* The DHCP rate limit comes before the accept of DHCP. */
	assert_true(strstr(a.s, "dhcp-rate") < strstr(a.s, "udp dport 67 accept"));
	p.has_ipv4 = true;
	inet_pton(AF_INET, "10.20.0.15", &p.ipv4);
	assert_int_equal(hygiene_port_render(&p, NULL, &b, &err), 0);
	assert_non_null(strstr(b.s, "ip saddr != 10.20.0.15 counter drop"));
	assert_non_null(strstr(b.s, "arp saddr ip != 10.20.0.15 counter drop"));
	assert_null(strstr(b.s, "ether type ip counter drop"));
	/* Re-applying replaces the chain's rules (flush), never appends. */
	assert_non_null(strstr(b.s, "flush chain bridge corral-hygiene p/corral0/tap-web0\n"));
	assert_non_null(strstr(b.s, "flush chain bridge corral-hygiene prerouting\n"));
}

/* Networks whose addresses corral does not know (bridge, vxlan, no DHCP): all but the IPv4 checks. */
static void test_any_ipv4(void **state)
{
	struct hygiene_port p;
	__do_buf struct buf a = BUF_INIT, err = BUF_INIT;

	(void)state;
	fill(&cases[0], &p);
	p.any_ipv4 = true;
	p.has_ipv4 = true; /* ignored */
	inet_pton(AF_INET, "10.20.0.15", &p.ipv4);
	assert_int_equal(hygiene_port_render(&p, NULL, &a, &err), 0);
	assert_null(strstr(a.s, "ip-spoof"));
	assert_null(strstr(a.s, "arp saddr ip"));
	assert_non_null(strstr(a.s, "mac-spoof"));
	assert_non_null(strstr(a.s, "arp saddr ether != "));
	assert_non_null(strstr(a.s, "dhcp-server"));
	assert_non_null(strstr(a.s, "dhcp-chaddr"));
	assert_non_null(strstr(a.s, "other-l2"));
	assert_non_null(strstr(a.s, "IPv4 any\n"));
	nft_check(&cases[0], a.s);
}

static void test_bad_input(void **state)
{
	static const char *const bad_names[] = { "", "0123456789abcdef", "tap 0", "tap\"0", "tap;0", "ta/p",
						 "tap{0}", "..", "tap\n0" };
	struct hygiene_port p;
	__do_buf struct buf out = BUF_INIT, err = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_names); i++) {
		fill(&cases[1], &p);
		p.port = bad_names[i];
		buf_reset(&err);
		assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
		assert_true(err.len > 0);
		fill(&cases[1], &p);
		p.bridge = bad_names[i];
		assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
		/* Refused before anything runs. */
		assert_int_equal(hygiene_port_remove(bad_names[i], NULL), -EINVAL);
		assert_int_equal(hygiene_bridge_remove(bad_names[i], NULL), -EINVAL);
	}
	assert_int_equal(out.len, 0);

	fill(&cases[1], &p);
	p.mac[0] = 0x01; /* multicast */
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
	fill(&cases[1], &p);
	memset(p.mac, 0, 6);
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
	fill(&cases[1], &p);
	inet_pton(AF_INET, "255.255.255.255", &p.ipv4);
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
	fill(&cases[1], &p);
	inet_pton(AF_INET, "224.0.0.1", &p.ipv4);
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -EINVAL);
	fill(&cases[1], &p);
	p.dhcp_rate = HYGIENE_DHCP_RATE_MAX + 1;
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -ERANGE);
	fill(&cases[1], &p);
	p.tx_bytes_per_sec = 10;
	buf_reset(&err);
	assert_int_equal(hygiene_port_render(&p, NULL, &out, &err), -ERANGE);
	assert_non_null(strstr(err.s, "bandwidth"));
	assert_int_equal(out.len, 0);
}

static void test_map_parse(void **state)
{
	/* As nft 1.0.6 prints `nft -j list map bridge corral-hygiene ports`. */
	static const char json[] =
		"{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\", \"json_schema_version\": 1}}, "
		"{\"map\": {\"family\": \"bridge\", \"name\": \"ports\", \"table\": \"corral-hygiene\", "
		"\"type\": \"ifname\", \"handle\": 2, \"map\": \"verdict\", \"elem\": ["
		"[\"tap0\", {\"jump\": {\"target\": \"p/br0/tap0\"}}], "
		"[\"vnet7\", {\"jump\": {\"target\": \"p/corral1/vnet7\"}}], "
		"[\"odd\", {\"jump\": {\"target\": \"p/br0/other\"}}], "
		"[\"x\", {\"goto\": {\"target\": \"p/br0/x\"}}], "
		"[\"y\", {\"jump\": {\"target\": \"elsewhere\"}}]]}}]}";
	static const char empty[] =
		"{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}}, {\"map\": {\"family\": \"bridge\", "
		"\"name\": \"ports\", \"table\": \"corral-hygiene\", \"type\": \"ifname\", \"map\": \"verdict\"}}]}";
	__do_free struct hygiene_entry *e = NULL;
	__do_buf struct buf err = BUF_INIT;
	size_t n = 9;

	(void)state;
	assert_int_equal(hygiene_map_parse(json, strlen(json), &e, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(e[0].bridge, "br0");
	assert_string_equal(e[0].port, "tap0");
	assert_string_equal(e[1].bridge, "corral1");
	assert_string_equal(e[1].port, "vnet7");
	free(e);
	e = NULL;
	assert_int_equal(hygiene_map_parse(empty, strlen(empty), &e, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(hygiene_map_parse("Error: x", 8, &e, &n, &err), -EPROTO);
	assert_true(err.len > 0);
}

static void test_shape_cmd(void **state)
{
	struct cmd c = CMD_INIT;
	__do_buf struct buf err = BUF_INIT, rec = BUF_INIT;
	char *s;

	(void)state;
	assert_int_equal(shape_port_cmd("tap0", 1250000, &c, &err), 0);
	s = cmd_to_string(&c);
	assert_string_equal(s, "tc qdisc replace dev tap0 root tbf rate 10000000bit burst 125000 latency 50ms");
	free(s);
	cmd_release(&c);
	/* Small rates still get a bucket that holds a GSO frame. */
	assert_int_equal(shape_port_cmd("tap0", 100000, &c, &err), 0);
	s = cmd_to_string(&c);
	assert_string_equal(s, "tc qdisc replace dev tap0 root tbf rate 800000bit burst 65536 latency 50ms");
	free(s);
	cmd_release(&c);
	assert_int_equal(shape_port_cmd("tap0", 0, &c, &err), 0);
	s = cmd_to_string(&c);
	assert_string_equal(s, "tc qdisc del dev tap0 root");
	free(s);
	cmd_release(&c);
	assert_int_equal(shape_port_cmd("tap0", 999, &c, &err), -ERANGE);
	assert_int_equal(shape_port_cmd("tap 0", 100000, &c, &err), -EINVAL);
	cmd_release(&c);

	/* shape_port_set runs exactly that command. */
	cmd_set_dry_run(&rec, 0);
	assert_int_equal(shape_port_set("vnet1", 1000000, &err), 0);
	cmd_set_dry_run(NULL, 0);
	assert_string_equal(rec.s, "tc qdisc replace dev vnet1 root tbf rate 8000000bit burst 100000 latency 50ms\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_lease_changes_only_ip_rules),
		cmocka_unit_test(test_any_ipv4),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_map_parse),
		cmocka_unit_test(test_shape_cmd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
