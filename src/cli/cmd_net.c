/*
 * cmd_net.c - `corral net ...`: networks for guests (the API's
 * /v1/networks): nat, isolated and host-bridge networks, their DHCP
 * leases and port forwards.  A VM joins one with `vm create --nic net=NAME`.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/common.h"

static const char usage_create[] =
	"usage: corral net create NAME [--type nat|isolated|bridge|vxlan] [--subnet CIDR]\n"
	"                         [--subnet6 PREFIX/64] [--bridge BR] [--no-dhcp]\n"
	"                         [--reserve VM=IP]...\n"
	"                         [--vni N --peer IP... [--local IP]]\n"
	"\n"
	"Create a network.  NAME: 1 to 12 of a-z 0-9 -.\n"
	"  nat       (default) a bridge of corral's (cr-NAME unless --bridge) with the\n"
	"            subnet's first address, dnsmasq for DHCP and DNS, masquerade out\n"
	"            and port forwards in (nftables table ip corral-NAME)\n"
	"  isolated  the same without any route out or in\n"
	"  bridge    attach to the existing host bridge --bridge BR (the LAN's DHCP\n"
	"            serves the guests); corral creates nothing but the guests' taps\n"
	"  vxlan     one layer-2 segment over several hosts: a bridge of corral's with\n"
	"            a VXLAN port (VNI --vni, UDP 4789) flooding to every --peer; no\n"
	"            address, no DHCP (create it with the same VNI on every host)\n"
	"\n"
	"Options:\n"
	"  --type T         nat, isolated or bridge\n"
	"  --subnet CIDR    IPv4 network address and prefix, e.g. 10.20.0.0/24 (nat,\n"
	"                   isolated: required; must not overlap another network or an\n"
	"                   address of the host)\n"
	"  --subnet6 P/64   nat, isolated: IPv6 too, e.g. fd20:1::/64: the host is\n"
	"                   P::1 on the bridge, dnsmasq sends router adverts (guests\n"
	"                   take addresses by SLAAC) and answers stateless DHCPv6;\n"
	"                   nat masquerades it out (table ip6 corral-NAME)\n"
	"  --bridge BR      the bridge's name (nat, isolated: must not exist yet)\n"
	"  --no-dhcp        no dnsmasq (guests configure addresses themselves)\n"
	"  --reserve VM=IP  the VM's first NIC on the network always gets IP (from the\n"
	"                   lower half of the subnet; dynamic leases use the upper half)\n"
	"  --vni N          vxlan: the VXLAN network identifier, 1 to 16777215\n"
	"  --peer IP        vxlan: another host's address; repeat for each host\n"
	"  --local IP       vxlan: this host's source address (default: by routing)\n"
	"  --json           print the created network as JSON\n"
	"  -h, --help       show this help\n";

static const char usage_list[] =
	"usage: corral net list [--json]\n"
	"\n"
	"List networks as NAME TYPE SUBNET BRIDGE STATE.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"networks\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral net show NAME [--json]\n"
	"\n"
	"Show a network: type, subnet, gateway, bridge, DHCP, reservations, port\n"
	"forwards, and its state on this host (bridge up, dnsmasq pid, firewall).\n"
	"\n"
	"Options:\n"
	"  --json       print the network as the API returns it\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral net delete NAME... [--yes]\n"
	"\n"
	"Delete networks: their dnsmasq, firewall table and bridge (a bridge network's\n"
	"host bridge is left alone).  Refused while a VM has a NIC on the network.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answers as a JSON array\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_leases[] =
	"usage: corral net leases NAME [--json]\n"
	"\n"
	"List the network's DHCP leases as MAC IP HOSTNAME VM EXPIRES (VM: the VM,\n"
	"or \"NAME (container)\", whose NIC has the MAC).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer {\"leases\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_forward[] =
	"usage: corral net forward add NET tcp:PORT VM:PORT\n"
	"       corral net forward list NET\n"
	"       corral net forward delete NET tcp:PORT\n"
	"\n"
	"Port forwards of a nat network: connections to PORT on any of the host's\n"
	"addresses (udp:PORT for UDP) reach VM:PORT.  The VM gets an address\n"
	"reservation on the network if it has none.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

enum { OPT_TYPE = CLI_OPT_FIRST, OPT_SUBNET, OPT_SUBNET6, OPT_BRIDGE, OPT_NO_DHCP, OPT_RESERVE, OPT_VNI, OPT_PEER, OPT_LOCAL };

static int net_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "subnet", required_argument, NULL, OPT_SUBNET },
		{ "subnet6", required_argument, NULL, OPT_SUBNET6 },
		{ "bridge", required_argument, NULL, OPT_BRIDGE },
		{ "no-dhcp", no_argument, NULL, OPT_NO_DHCP },
		{ "reserve", required_argument, NULL, OPT_RESERVE },
		{ "vni", required_argument, NULL, OPT_VNI },
		{ "peer", required_argument, NULL, OPT_PEER },
		{ "local", required_argument, NULL, OPT_LOCAL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	json_t *res = json_array(), *peers = json_array();
	int64_t vni;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	json_object_set_new(body, "reservations", res);
	json_object_set_new(body, "peers", peers);
	cli_args_init(&a, "net create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		const char *eq;
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_TYPE:
			json_object_set_new(body, "type", json_string(optarg));
			break;
		case OPT_SUBNET:
			json_object_set_new(body, "subnet", json_string(optarg));
			break;
		case OPT_SUBNET6:
			json_object_set_new(body, "subnet6", json_string(optarg));
			break;
		case OPT_BRIDGE:
			json_object_set_new(body, "bridge", json_string(optarg));
			break;
		case OPT_NO_DHCP:
			json_object_set_new(body, "dhcp", json_false());
			break;
		case OPT_VNI:
			if (cli_parse_int(optarg, 1, 16777215, &vni) < 0)
				return cli_usage_error("net create", "invalid --vni '%s': want 1 to 16777215", optarg);
			json_object_set_new(body, "vni", json_integer(vni));
			break;
		case OPT_PEER:
			json_array_append_new(peers, json_string(optarg));
			break;
		case OPT_LOCAL:
			json_object_set_new(body, "local", json_string(optarg));
			break;
		case OPT_RESERVE:
			if (!(eq = strchr(optarg, '=')))
				return cli_usage_error("net create", "invalid --reserve '%s': want VM=IP", optarg);
			json_array_append_new(res, json_pack("{s:s%,s:s}", "vm", optarg, (size_t)(eq - optarg), "ip",
							     eq + 1));
			break;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "network name")) != CLI_OK)
		return rc;
	json_object_set_new(body, "name", json_string(a.pos[0]));
	if (!json_array_size(res))
		json_object_del(body, "reservations");
	if (!json_array_size(peers))
		json_object_del(body, "peers");
	if (!(c = cli_client(cli)) || client_call(c, "POST", "/v1/networks", body, &r, false) < 0)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		printf("created network %s (%s, bridge %s%s%s)\n", a.pos[0], out_str(r.json, "type"),
		       out_str(r.json, "bridge"), out_str(r.json, "subnet") ? ", subnet " : "",
		       out_str(r.json, "subnet") ? out_str(r.json, "subnet") : "");
	return CLI_OK;
}

static const char *net_state(const json_t *n)
{
	json_t *s = json_object_get(n, "status");
	if (out_str(s, "error"))
		return "error";
	return json_is_true(json_object_get(s, "bridge_up")) ? "up" : "down";
}

static void print_nets(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "TYPE", "SUBNET", "BRIDGE", "STATE" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *n;
	size_t i;
	json_array_foreach(json_object_get(answer, "networks"), i, n) {
		const char *sub = out_str(n, "subnet");
		table_add(t, out_str(n, "name"), out_str(n, "type"), sub ? sub : "-", out_str(n, "bridge"), net_state(n));
	}
	table_print(t, stdout);
}

static int net_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "net list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/networks", print_nets);
}

static void show_net(const json_t *n)
{
	__do_table struct table *t = table_new_kv();
	json_t *s = json_object_get(n, "status"), *v;
	const char *str;
	size_t i;

	table_add_kv(t, "name", "%s", out_str(n, "name"));
	table_add_kv(t, "type", "%s", out_str(n, "type"));
	if ((str = out_str(n, "subnet")))
		table_add_kv(t, "subnet", "%s (gateway and DNS %s)", str, out_str(n, "gateway"));
	if ((str = out_str(n, "subnet6")))
		table_add_kv(t, "subnet6", "%s (router and DNS %s)", str, out_str(n, "gateway6"));
	table_add_kv(t, "bridge", "%s", out_str(n, "bridge"));
	if ((v = json_object_get(n, "vni"))) {
		__do_free char *vni = out_scalar(v);
		__do_free char *peers = out_join(json_object_get(n, "peers"), ", ");
		table_add_kv(t, "vxlan", "VNI %s, peers %s%s%s", vni, peers, out_str(n, "local") ? ", local " : "",
			     out_str(n, "local") ? out_str(n, "local") : "");
	}
	table_add_kv(t, "state", "%s%s%s", net_state(n), out_str(s, "error") ? ": " : "",
		     out_str(s, "error") ? out_str(s, "error") : "");
	table_add_kv(t, "dhcp", "%s", json_is_true(json_object_get(n, "dhcp")) ? "dnsmasq" : "no");
	if ((v = json_object_get(s, "dnsmasq_pid"))) {
		__do_free char *pid = out_scalar(v);
		table_add_kv(t, "dnsmasq", "%s", json_is_null(v) ? "not running" : pid);
	}
	if ((v = json_object_get(s, "firewall")))
		table_add_kv(t, "firewall", "%s", json_is_true(v) ? "nft table ip corral-NAME loaded" : "not loaded");
	json_array_foreach(json_object_get(n, "reservations"), i, v)
		table_add_kv(t, i ? "" : "reservations", "%s = %s", out_str(v, "vm"), out_str(v, "ip"));
	json_array_foreach(json_object_get(n, "forwards"), i, v) {
		__do_free char *port = out_scalar(json_object_get(v, "port"));
		__do_free char *vport = out_scalar(json_object_get(v, "vm_port"));
		table_add_kv(t, i ? "" : "forwards", "%s:%s -> %s:%s", out_str(v, "proto"), port, out_str(v, "vm"), vport);
	}
	table_print(t, stdout);
}

static int net_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "net show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "network name"))
		return a.exit_code;
	return cli_show(cli, "/v1/networks", a.pos[0], show_net);
}

static void net_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	if (answer)
		json_array_append(all, answer);
	if (!cli->json)
		printf("deleted network %s\n", item);
}

static int net_delete(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *all = json_array();
	struct cli_args a;
	cli_args_init(&a, "net delete", usage_delete, argc, argv);
	a.yes_ok = true;
	if (!cli_args_plain(cli, &a, 1, -1, "network name"))
		return a.exit_code;
	__do_free char *names = cli_args_joined(&a, 0);
	int rc = cli_confirm(&a, "delete network%s %s", a.npos > 1 ? "s" : "", names);
	if (rc != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/networks", NULL, a.pos, a.npos, all, net_deleted);
}

static void print_leases(const json_t *answer)
{
	static const char *const headers[] = { "MAC", "IP", "HOSTNAME", "VM", "EXPIRES" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *l;
	size_t i;
	json_array_foreach(json_object_get(answer, "leases"), i, l) {
		const char *h = out_str(l, "hostname"), *vm = out_str(l, "vm"), *ct = out_str(l, "container");
		__do_free char *guest = vm ? xstrdup(vm) : ct ? xasprintf("%s (container)", ct) : xstrdup("-");
		char when[32];
		table_add(t, out_str(l, "mac"), out_str(l, "ip"), h ? h : "-", guest,
			  out_time(out_str(l, "expires"), when, sizeof(when)));
	}
	table_print(t, stdout);
}

static int net_leases(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "net leases", usage_leases, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "network name"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/networks", a.pos[0], "/leases");
	return cli_get_print(cli, path, print_leases);
}

static void print_forwards(const json_t *net)
{
	static const char *const headers[] = { "HOST", "VM", "VM-PORT" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *f;
	size_t i;
	json_array_foreach(json_object_get(net, "forwards"), i, f) {
		__do_free char *port = out_scalar(json_object_get(f, "port"));
		__do_free char *vport = out_scalar(json_object_get(f, "vm_port"));
		__do_free char *host = xasprintf("%s:%s", out_str(f, "proto"), port);
		table_add(t, host, out_str(f, "vm"), vport);
	}
	table_print(t, stdout);
}

static int net_forward(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;

	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_forward, stdout);
		return CLI_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "delete") != 0)
		return cli_usage_error("net forward", "want add, list or delete");
	cli_args_init(&a, "net forward", usage_forward, argc - 1, argv + 1);
	if (strcmp(sub, "list") == 0) {
		if (!cli_args_plain(cli, &a, 1, 1, "network name"))
			return a.exit_code;
		return cli_show(cli, "/v1/networks", a.pos[0], print_forwards);
	}
	if (strcmp(sub, "add") == 0) {
		if (!cli_args_plain(cli, &a, 3, 3, "network name and tcp:PORT and VM:PORT"))
			return a.exit_code;
		__do_json json_t *body = json_pack("{s:s,s:s}", "host", a.pos[1], "guest", a.pos[2]);
		if ((rc = cli_call(cli, "POST", "/v1/networks", a.pos[0], "/forwards", body, &r)) != CLI_OK)
			return rc;
		if (cli->json)
			out_json(r.json);
		else
			printf("forwarded %s of the host to %s on network %s\n", a.pos[1], a.pos[2], a.pos[0]);
		return CLI_OK;
	}
	if (!cli_args_plain(cli, &a, 2, 2, "network name and tcp:PORT"))
		return a.exit_code;
	__do_free char *suffix = xasprintf("/forwards/%s", a.pos[1]);
	if ((rc = cli_call(cli, "DELETE", "/v1/networks", a.pos[0], suffix, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else
		printf("removed forward %s from network %s\n", a.pos[1], a.pos[0]);
	return CLI_OK;
}

static const struct cli_verb net_verbs[] = {
	{ "create", "create a nat, isolated or bridge network", net_create },
	{ "list", "list networks", net_list },
	{ "show", "show a network and its state", net_show },
	{ "delete", "delete unused networks", net_delete },
	{ "leases", "list a network's DHCP leases", net_leases },
	{ "forward", "add, list or delete port forwards", net_forward },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_net = {
	"net", "Networks for guests: NAT with DHCP and DNS, isolated, host bridges.", net_verbs, NULL,
};
