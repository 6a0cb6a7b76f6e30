/*
 * cmd_nic.c - `corral nic ...`: a VM's network cards (the API's
 * /v1/vms/{vm}/nics): list them with their addresses, add one (hot-plugged
 * into a running VM when it is on a network), remove one.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "vmdef.h"
#include "util/strutil.h"
#include "util/common.h"

static const char usage_list[] =
	"usage: corral nic list VM [--json]\n"
	"\n"
	"List the VM's NICs as MAC NETWORK MODEL TAP IP VLAN BW (the address from\n"
	"the network's DHCP leases; BW the bandwidth limit in bits/s).\n"
	"\n"
	"Options:\n"
	"  --json       print the VM's nics and status.nics as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_attach[] =
	"usage: corral nic attach VM SPEC\n"
	"\n"
	"Add a NIC.  SPEC is 'net=NAME' (a port on corral network NAME) or 'user',\n"
	"then optionally ',mac=MAC' and ',model=virtio|e1000', and for 'net=' NICs\n"
	"',filter=off' (no traffic hygiene on its port; it is on by default, see\n"
	"docs/network.md), ',vlan=ID' (an access port of VLAN ID, 1-4094) or\n"
	"',vlan=trunk:10/20/30-40[/native=5]' (a trunk; needs filter=off), and\n"
	"',bw=RATE' (a bandwidth limit each way in bits/s: 10M, 500k, 1G).  VLANs\n"
	"need bridge VLAN filtering in the host's kernel.  Into a running VM a\n"
	"network NIC is hot-plugged (it needs a free hot-plug port: see\n"
	"--hotplug-ports); a user-mode NIC only while the VM is stopped.\n"
	"\n"
	"Options:\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_detach[] =
	"usage: corral nic detach VM MAC\n"
	"\n"
	"Remove the NIC with MAC.  From a running VM only NICs hot-plugged since it\n"
	"started can be removed (unplugged); the others while it is stopped.\n"
	"\n"
	"Options:\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_set[] =
	"usage: corral nic set VM MAC --bw RATE\n"
	"\n"
	"Change the NIC's bandwidth limit: RATE in bits per second each way (to\n"
	"and from the guest; 10M is 10 Mbit/s, also k, G, and an optional 'bit' or\n"
	"'bps'), or 'none' to lift it.  On a running VM it takes effect at once\n"
	"(tc on its tap, policing in its traffic filter); it is kept for its next\n"
	"starts.  A limit needs the NIC's traffic filter on (filter=on).\n"
	"\n"
	"Options:\n"
	"  --bw RATE    the new limit (bits/s), or 'none'\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_link[] =
	"usage: corral nic link VM MAC up|down\n"
	"\n"
	"Set the link of a running VM's NIC up or down, as pulling and plugging\n"
	"the cable (the guest sees the carrier change).  Every start brings links up.\n"
	"\n"
	"Options:\n"
	"  --json       print the VM as JSON\n"
	"  -h, --help   show this help\n";

/* A rate in bits/s as "10M", "1.5G", "800k" (SI units, as --bw takes them). */
static const char *fmt_rate(json_int_t bits, char *out, size_t len)
{
	static const char units[] = " kMGT";
	double v = (double)bits;
	int u = 0;
	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%lld", (long long)bits);
	else if (v == (double)(long long)v)
		snprintf(out, len, "%lld%c", (long long)v, units[u]);
	else
		snprintf(out, len, "%.1f%c", v, units[u]);
	return out;
}

static void print_nics(const json_t *vm)
{
	static const char *const headers[] = { "MAC", "NETWORK", "MODEL", "TAP", "IP", "VLAN", "BW" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *status = json_object_get(json_object_get(vm, "status"), "nics"), *n;
	size_t i;
	json_array_foreach(json_object_get(vm, "nics"), i, n) {
		json_t *s = json_array_get(status, i);
		const char *net = out_str(n, "network"), *tap = out_str(s, "tap"), *ip = out_str(s, "ip");
		const char *vlan = out_str(n, "vlan");
		json_int_t bw = json_integer_value(json_object_get(n, "bw"));
		char rate[32];
		table_add(t, out_str(n, "mac"), net ? net : "(user)", out_str(n, "model"), tap ? tap : "-", ip ? ip : "-",
			  vlan ? vlan : "-", bw ? fmt_rate(bw, rate, sizeof(rate)) : "-");
	}
	table_print(t, stdout);
}

static int nic_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "nic list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "VM"))
		return a.exit_code;
	return cli_show(cli, "/v1/vms", a.pos[0], print_nics);
}

static int nic_attach(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct cli_args a;
	int rc;
	cli_args_init(&a, "nic attach", usage_attach, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "VM and SPEC"))
		return a.exit_code;
	if (vmdef_nic_from_spec(a.pos[1], &body) < 0)
		return CLI_USAGE;
	if ((rc = cli_call(cli, "POST", "/v1/vms", a.pos[0], "/nics", body, &r)) != CLI_OK)
		return rc;
	return cli_vm_changed(cli, r.json, a.pos[0], "added NIC %s to", a.pos[1]);
}

static int nic_detach(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;
	cli_args_init(&a, "nic detach", usage_detach, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "VM and MAC"))
		return a.exit_code;
	__do_free char *suffix = xasprintf("/nics/%s", a.pos[1]);
	if ((rc = cli_call(cli, "DELETE", "/v1/vms", a.pos[0], suffix, NULL, &r)) != CLI_OK)
		return rc;
	return cli_vm_changed(cli, r.json, a.pos[0], "removed NIC %s from", a.pos[1]);
}

static int nic_set(struct cli *cli, int argc, char **argv)
{
	enum { OPT_BW = CLI_OPT_FIRST };
	static const struct option opts[] = {
		{ "bw", required_argument, NULL, OPT_BW },
		CLI_COMMON_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	uint64_t bw = 0;
	int opt, rc;

	cli_args_init(&a, "nic set", usage_set, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_BW:
			if (strcmp(optarg, "none") && strcmp(optarg, "off") && str_parse_rate(optarg, &bw) < 0)
				return cli_usage_error("nic set", "invalid --bw '%s': want bits/s such as 10M, 500k, 1G, or none",
						       optarg);
			json_object_set_new(body, "bw", json_integer((json_int_t)bw));
			break;
		}
	}
	if ((rc = cli_args_count(&a, 2, 2, "VM and MAC")) != CLI_OK)
		return rc;
	if (!json_object_get(body, "bw"))
		return cli_usage_error("nic set", "nothing to change: give --bw RATE");
	__do_free char *suffix = xasprintf("/nics/%s", a.pos[1]);
	if ((rc = cli_call(cli, "POST", "/v1/vms", a.pos[0], suffix, body, &r)) != CLI_OK)
		return rc;
	return cli_vm_changed(cli, r.json, a.pos[0], "set NIC %s of", a.pos[1]);
}

static int nic_link(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;
	cli_args_init(&a, "nic link", usage_link, argc, argv);
	if (!cli_args_plain(cli, &a, 3, 3, "VM and MAC and up|down"))
		return a.exit_code;
	if (strcmp(a.pos[2], "up") != 0 && strcmp(a.pos[2], "down") != 0)
		return cli_usage_error("nic link", "want up or down, not '%s'", a.pos[2]);
	__do_json json_t *body = json_pack("{s:b}", "up", strcmp(a.pos[2], "up") == 0);
	__do_free char *suffix = xasprintf("/nics/%s/link", a.pos[1]);
	if ((rc = cli_call(cli, "POST", "/v1/vms", a.pos[0], suffix, body, &r)) != CLI_OK)
		return rc;
	return cli_vm_changed(cli, r.json, a.pos[0], "link %s of NIC %s of", a.pos[2], a.pos[1]);
}

static const struct cli_verb nic_verbs[] = {
	{ "list", "list a VM's NICs with their addresses", nic_list },
	{ "attach", "add a NIC (hot-plug into a running VM)", nic_attach },
	{ "detach", "remove a NIC (hot-unplug)", nic_detach },
	{ "set", "change a NIC's bandwidth limit (live)", nic_set },
	{ "link", "set a running VM's NIC link up or down", nic_link },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_nic = {
	"nic", "A VM's network cards: list, attach (hot-plug), detach, set (bandwidth), link up/down.", nic_verbs, NULL,
};
