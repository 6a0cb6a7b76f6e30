/*
 * cmd_ct.c - `corral ct ...`: system containers (docs/containers.md), the
 * CLI side of /v1/containers, with the VM verbs' selectors, --json, jobs
 * and error lines; and `corral list`, VMs and containers in one table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "console.h"
#include "output.h"
#include "vmdef.h"
#include "editor.h"
#include "util/cleanup.h"
#include "util/common.h"

#define CT_SELECTOR_HELP                                                              \
	"\n"                                                                          \
	"A container is named by its name, uuid:UUID, or name:GLOB (several).\n"      \
	"\n"

#define CT_LIMITS_HELP                                                                \
	"  --cpus CPUS         at most this many CPUs' time, e.g. 0.5 or 2\n"          \
	"  --cpu-weight N      CPU weight 1..10000 against other guests (default 100)\n" \
	"  --memory SIZE       memory limit (cgroup), e.g. 64M or 1G\n"                 \
	"  --pids N            at most N processes and threads\n"

static const char usage_create[] =
	"usage: corral ct create NAME (--template busybox|debian [--release R]\n"
	"                        | --from-tarball FILE | --rootfs DIR) [--privileged]\n"
	"                        [--description TEXT] [--nic net=NET[,mac=MAC]]...\n"
	"                        [--cpus CPUS] [--cpu-weight N] [--memory SIZE] [--pids N]\n"
	"                        [--autostart [--start-order N] [--start-delay SECS]] [--tag TAG]...\n"
	"                        [--pool POOL] [--image SIZE] [--mount VOLUME:/PATH[:ro]]...\n"
	"\n"
	"Define a system container (run by liblxc).  --template busybox builds a\n"
	"root from the host's busybox in a directory volume of a storage pool\n"
	"(--pool, default 'default'; refused when the pool lacks the room);\n"
	"--template debian builds a minimal Debian (systemd, DHCP on its NICs)\n"
	"with debootstrap from the host's Debian mirror, once per release (the\n"
	"base is cached: the next one takes seconds); --from-tarball FILE unpacks\n"
	"a root filesystem tarball (tar, .gz, .xz, .zst; inside a storage pool or\n"
	"an allow_path directory), refusing hostile entries.  Those two run as a\n"
	"job with progress ('corral job cancel ID' stops it, leaving nothing).\n"
	"--rootfs DIR uses an existing directory in\n"
	"place (inside a storage pool or an allow_path directory; never deleted by\n"
	"corral).  Containers are unprivileged (a user namespace mapping root's\n"
	"subordinate ids) unless --privileged is given.  Each --nic is a port on\n"
	"corral network NET (eth0, eth1... inside; a veth pair with corral's\n"
	"traffic filter, docs/containers.md); a MAC left out is generated.  The\n"
	"limits are cgroup limits of the whole container, changeable while it runs\n"
	"with 'ct limits'.\n"
	"\n"
	"Options:\n"
	"  --template NAME     build the root: busybox or debian\n"
	"  --release R         the Debian release of --template debian: bookworm\n"
	"                      (the default), bullseye or trixie\n"
	"  --from-tarball FILE unpack this root filesystem tarball as the root\n"
	"  --rootfs DIR        use this directory as the root\n"
	"  --privileged        no user namespace: container root is host root\n"
	"  --description TEXT  a note kept with the container\n"
	"  --nic SPEC          a NIC: net=NET (or network=NET), then ,mac=MAC\n"
	"  --pool POOL         the storage pool of the root (default: 'default')\n"
	"  --image SIZE        the root in an ext4 image file of SIZE (e.g. 1G, at\n"
	"                      least 64M) in the pool, loop-mounted while it runs\n"
	"  --mount VOL:/PATH[:ro]  bind-mount directory volume VOL ('disk create VOL\n"
	"                      --format dir') at /PATH inside (repeatable)\n"
	CT_LIMITS_HELP
	"  --autostart         start the container whenever corrald starts, in one\n"
	"                      order with the autostart VMs\n"
	"  --start-order N     autostart order, 0..1000000 (default 0; lower first,\n"
	"                      ties by name; compared with VMs' --start-order)\n"
	"  --start-delay SECS  after autostarting it, wait SECS (0..3600)\n"
	"  --tag TAG           tag it (repeatable): 'tag:TAG' selectors and backup\n"
	"                      policies select containers and VMs alike\n"
	"  --json              print the API's answer\n"
	"  -h, --help          show this help\n";

static const char usage_limits[] =
	"usage: corral ct limits CONTAINER [--cpus CPUS|none] [--cpu-weight N|none]\n"
	"                        [--memory SIZE|none] [--pids N|none]\n"
	"\n"
	"Show a container's cgroup limits (configured, and what its cgroup holds\n"
	"while it runs, with its memory use and process count), or change them:\n"
	"stored in its definition and, on a running container, written to its\n"
	"cgroup at once.  'none' removes a limit.  A refused value (out of range,\n"
	"or a memory limit below what the container uses) changes nothing.\n"
	"\n"
	"Options:\n"
	CT_LIMITS_HELP
	"  --json              print the container as JSON\n"
	"  -h, --help          show this help\n";

static const char usage_nic[] =
	"usage: corral ct nic list CONTAINER [--json]\n"
	"       corral ct nic attach CONTAINER net=NET[,mac=MAC] [--json]\n"
	"       corral ct nic detach CONTAINER MAC [--json]\n"
	"\n"
	"list: the container's NICs as NAME MAC NETWORK VETH IP (VETH: the host\n"
	"end of its veth pair while it runs; IP: its DHCP lease on the network).\n"
	"attach, detach: add a NIC on corral network NET (a MAC left out is\n"
	"generated) or remove the one with MAC, on a stopped container; its next\n"
	"start has them (no hot-plug into a running container yet).\n"
	"\n"
	"Options:\n"
	"  --json       print the container (list: its nics and status.nics) as JSON\n"
	"  -h, --help   show this help\n";

static const char usage_snapshot[] =
	"usage: corral ct snapshot create CONTAINER NAME [--json]\n"
	"       corral ct snapshot list CONTAINER [--json]\n"
	"       corral ct snapshot revert CONTAINER NAME [--yes] [--json]\n"
	"       corral ct snapshot delete CONTAINER NAME [--yes] [--json]\n"
	"\n"
	"Snapshots of a stopped container's root (one built by corral: a --rootfs\n"
	"directory of your own has none).  create copies the root by the fastest\n"
	"method its filesystem offers (btrfs-snapshot, reflink, or copy: list shows\n"
	"which) after checking the free space; revert makes the root that copy\n"
	"again (swapped in atomically; what changed since is lost; the snapshot\n"
	"stays); delete removes one.  A running container is refused: stop it\n"
	"first.  Deleting the container deletes its snapshots.\n"
	"NAME: 1-63 of [A-Za-z0-9._-], not starting with '.' or '-'.\n"
	"\n"
	"Options:\n"
	"  -y, --yes    revert, delete: do not ask (needed without a terminal)\n"
	"  --json       print the API's answer (create, revert: the job's result)\n"
	"  -h, --help   show this help\n";

static const char usage_clone[] =
	"usage: corral ct clone SRC NEW [--json]\n"
	"\n"
	"Make container NEW a copy of stopped container SRC: its definition (limits,\n"
	"NICs on the same networks with new MACs, privileged or not) under a new\n"
	"name and uuid, and a copy of its root (btrfs-snapshot, reflink or copy, as\n"
	"'ct snapshot'), with no snapshots.  NEW is stopped and independent of SRC.\n"
	"An image root (--image) is copied as its file into NEW's own image in\n"
	"SRC's pool (holes kept), SRC's snapshots removed from it.\n"
	"A job with progress; SRC stays locked while its root is copied.\n"
	"\n"
	"Options:\n"
	"  --json       print the job's result {name, uuid, source, method, size}\n"
	"  -h, --help   show this help\n";

static const char usage_list[] =
	"usage: corral ct list [SELECTOR]\n"
	"\n"
	"List system containers with their state.\n"
	CT_SELECTOR_HELP
	"Options:\n"
	"  --json       print the API's answer {\"containers\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral ct show CONTAINER\n"
	"\n"
	"Show a container's definition, state and recent events.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static const char usage_start[] =
	"usage: corral ct start CONTAINER...\n"
	"\n"
	"Start the selected containers (a job each).\n"
	CT_SELECTOR_HELP
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_stop[] =
	"usage: corral ct stop CONTAINER... [--timeout SECS] [--force]\n"
	"\n"
	"Shut the selected containers down gracefully: their init gets the halt\n"
	"signal (SIGUSR1 for busybox init, else SIGPWR) and up to --timeout\n"
	"seconds to stop.  A container still running then fails the stop and runs\n"
	"on, unless --force was given: then it is killed.\n"
	CT_SELECTOR_HELP
	"Options:\n"
	"  --timeout SECS  seconds to wait, 0..3600 (default 300)\n"
	"  --force         kill a container still running after --timeout\n"
	"  --json          print the combined action results {\"results\":[...]}\n"
	"  -h, --help      show this help\n";

static const char usage_reboot[] =
	"usage: corral ct reboot CONTAINER... [--timeout SECS] [--force]\n"
	"\n"
	"Restart the selected running containers: a graceful stop, as 'ct stop'\n"
	"(init's halt signal, up to --timeout seconds, killed only with --force),\n"
	"then a start from the definition (its NICs and limits as stored now).\n"
	"A stopped container is refused.\n"
	CT_SELECTOR_HELP
	"Options:\n"
	"  --timeout SECS  seconds to wait for the stop, 0..3600 (default 300)\n"
	"  --force         kill a container still running after --timeout\n"
	"  --json          print the combined action results {\"results\":[...]}\n"
	"  -h, --help      show this help\n";

static const char usage_kill[] =
	"usage: corral ct kill CONTAINER...\n"
	"\n"
	"Kill every process of the selected containers at once.\n"
	CT_SELECTOR_HELP
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral ct delete CONTAINER... [--yes]\n"
	"\n"
	"Delete stopped containers: their liblxc config and log, the root corral\n"
	"built for them (a --rootfs directory stays), and their definition.\n"
	"\n"
	"Options:\n"
	"  -y, --yes    do not ask for confirmation\n"
	"  --json       print the API's answers {\"deleted\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_exec[] =
	"usage: corral ct exec CONTAINER [--timeout SECS] -- COMMAND [ARG...]\n"
	"\n"
	"Run COMMAND in the running container (attached to all its namespaces,\n"
	"environment cleared but PATH, HOME and TERM, stdin empty) and wait for it.\n"
	"Its output is printed when it ends (up to 1 MiB of each stream) and\n"
	"corral exits with its exit status.  Not interactive: use 'ct console'.\n"
	"\n"
	"Options:\n"
	"  --timeout SECS  kill it after SECS, 1..3600 (default 60)\n"
	"  --json          print {\"exit_status\", \"stdout\", \"stderr\", \"truncated\"}\n"
	"  -h, --help      show this help\n";

static const char usage_console[] =
	"usage: corral ct console CONTAINER [--linger SECS]\n"
	"\n"
	"Attach this terminal to the container's console (/dev/console, where\n"
	"busybox containers run a shell).  Ctrl-] detaches.  Without a terminal,\n"
	"stdin is sent and output is relayed for --linger seconds after it ends.\n"
	"\n"
	"Options:\n"
	"  --linger SECS  without a terminal: keep relaying after stdin ends (2)\n"
	"  -h, --help     show this help\n";

static const char usage_all[] =
	"usage: corral list [SELECTOR]\n"
	"\n"
	"List VMs and system containers together: kind, name, state, addresses\n"
	"and host.\n"
	"\n"
	"Options:\n"
	"  --json       print {\"guests\":[{kind, name, uuid, state, ips, host}]}\n"
	"  -h, --help   show this help\n";

enum {
	OPT_TEMPLATE = CLI_OPT_FIRST,
	OPT_ROOTFS,
	OPT_PRIVILEGED,
	OPT_DESC,
	OPT_TIMEOUT,
	OPT_FORCE,
	OPT_LINGER,
	OPT_NIC,
	OPT_CPUS,
	OPT_CPU_WEIGHT,
	OPT_MEMORY,
	OPT_PIDS,
	OPT_AUTOSTART,
	OPT_START_ORDER,
	OPT_START_DELAY,
	OPT_TAG,
	OPT_NO_AUTOSTART,
	OPT_NO_TAGS,
	OPT_FROM,
	OPT_POOL,
	OPT_MOUNT,
	OPT_UNMOUNT,
	OPT_NO_MOUNTS,
	OPT_IMAGE,
	OPT_RELEASE,
	OPT_TARBALL,
};

#define CT_LIMIT_OPTIONS                                                    \
	{ "cpus", required_argument, NULL, OPT_CPUS },                      \
	{ "cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT },          \
	{ "memory", required_argument, NULL, OPT_MEMORY },                  \
	{ "pids", required_argument, NULL, OPT_PIDS }

/* One limit flag into limits (null for "none"); CLI_OK or a usage error.
 * corrald checks the ranges; this only shapes the JSON. */
static int limit_opt(json_t *limits, const char *cmd, int opt, const char *arg)
{
	bool none = strcmp(arg, "none") == 0;
	int64_t n;
	uint64_t b;
	if (opt == OPT_CPUS) {
		char *end;
		double c = strtod(arg, &end);
		if (!none && (end == arg || *end || !(c > 0)))
			return cli_usage_error(cmd, "invalid --cpus '%s': want CPUs like 0.5 or 2, or none", arg);
		json_object_set_new(limits, "cpu_limit", none ? json_null()
							       : c == (double)(long long)c ? json_integer((long long)c)
											   : json_real(c));
	} else if (opt == OPT_MEMORY) {
		if (!none && (cli_parse_size(arg, 1u << 20, &b) < 0 || b == 0 || b % (1u << 20)))
			return cli_usage_error(cmd, "invalid --memory '%s': want whole MiB like 64M or 2G, or none", arg);
		json_object_set_new(limits, "memory_limit_mib", none ? json_null() : json_integer((json_int_t)(b >> 20)));
	} else {
		const char *key = opt == OPT_PIDS ? "pids_limit" : "cpu_weight";
		if (!none && cli_parse_int(arg, INT32_MIN, INT64_MAX, &n) < 0)
			return cli_usage_error(cmd, "invalid --%s '%s': want a number, or none",
					       opt == OPT_PIDS ? "pids" : "cpu-weight", arg);
		json_object_set_new(limits, key, none ? json_null() : json_integer(n));
	}
	return CLI_OK;
}

/* --mount VOLUME:/path[:ro|:rw] appended to mounts as {volume, path, readonly};
 * corrald checks the names and the path (core/ctdef.h). */
static int mount_opt(json_t *mounts, const char *cmd, const char *spec)
{
	const char *colon = strchr(spec, ':');
	if (!colon || colon == spec || !colon[1])
		return cli_usage_error(cmd, "invalid --mount '%s': want VOLUME:/PATH[:ro]", spec);
	__do_free char *vol = xstrndup(spec, (size_t)(colon - spec));
	__do_free char *path = xstrdup(colon + 1);
	char *opt = strrchr(path, ':');
	bool ro = false;
	if (opt) {
		*opt++ = '\0';
		if (strcmp(opt, "ro") == 0)
			ro = true;
		else if (strcmp(opt, "rw") != 0)
			return cli_usage_error(cmd, "invalid --mount '%s': the option after the path is ro or rw", spec);
	}
	json_array_append_new(mounts, json_pack("{s:s,s:s,s:b}", "volume", vol, "path", path, "readonly", ro));
	return CLI_OK;
}

static int ct_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, OPT_TEMPLATE },
		{ "rootfs", required_argument, NULL, OPT_ROOTFS },
		{ "release", required_argument, NULL, OPT_RELEASE },
		{ "from-tarball", required_argument, NULL, OPT_TARBALL },
		{ "privileged", no_argument, NULL, OPT_PRIVILEGED },
		{ "description", required_argument, NULL, OPT_DESC },
		{ "nic", required_argument, NULL, OPT_NIC },
		{ "autostart", no_argument, NULL, OPT_AUTOSTART },
		{ "start-order", required_argument, NULL, OPT_START_ORDER },
		{ "start-delay", required_argument, NULL, OPT_START_DELAY },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "pool", required_argument, NULL, OPT_POOL },
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		CT_LIMIT_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_json json_t *mounts = json_array();
	__do_json json_t *tags = json_array();
	__do_json json_t *body = json_object();
	__do_json json_t *limits = json_object();
	__do_json json_t *nics = json_array();
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "ct create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT: return a.exit_code;
		case OPT_TEMPLATE: json_object_set_new(body, "template", json_string(optarg)); break;
		case OPT_ROOTFS:
		case OPT_TARBALL: {
			__do_free char *abs = cli_abspath(optarg);
			json_object_set_new(body, opt == OPT_ROOTFS ? "rootfs" : "tarball", json_string(abs));
			break;
		}
		case OPT_RELEASE: json_object_set_new(body, "release", json_string(optarg)); break;
		case OPT_PRIVILEGED: json_object_set_new(body, "privileged", json_true()); break;
		case OPT_DESC: json_object_set_new(body, "description", json_string(optarg)); break;
		case OPT_AUTOSTART: json_object_set_new(body, "autostart", json_true()); break;
		case OPT_TAG: json_array_append_new(tags, json_string(optarg)); break;
		case OPT_POOL: json_object_set_new(body, "pool", json_string(optarg)); break;
		case OPT_IMAGE: {
			uint64_t b;
			if (cli_parse_size(optarg, 1u << 20, &b) < 0 || b < (64u << 20) || b > INT64_MAX)
				return cli_usage_error(a.cmd, "invalid --image '%s': want a size of at least 64M, e.g. 1G", optarg);
			json_object_set_new(body, "image_size", json_integer((json_int_t)b));
			break;
		}
		case OPT_MOUNT:
			if ((rc = mount_opt(mounts, a.cmd, optarg)) != CLI_OK)
				return rc;
			break;
		case OPT_START_ORDER:
		case OPT_START_DELAY: {
			int64_t n;
			bool ord = opt == OPT_START_ORDER;
			if (cli_parse_int(optarg, 0, ord ? 1000000 : 3600, &n) < 0)
				return cli_usage_error(a.cmd, "invalid --%s '%s': want %s", ord ? "start-order" : "start-delay",
						       optarg, ord ? "0..1000000" : "0..3600 seconds");
			json_object_set_new(body, ord ? "start_order" : "start_delay", json_integer(n));
			break;
		}
		case OPT_NIC: {
			json_t *nic;
			if (vmdef_nic_from_spec(optarg, &nic) < 0)
				return CLI_USAGE;
			json_array_append_new(nics, nic);
			break;
		}
		default:
			if ((rc = limit_opt(limits, a.cmd, opt, optarg)) != CLI_OK)
				return rc;
		}
	}
	if (json_array_size(nics))
		json_object_set(body, "nics", nics);
	if (json_array_size(tags))
		json_object_set(body, "tags", tags);
	if (json_array_size(mounts))
		json_object_set(body, "mounts", mounts);
	{
		const char *k;
		json_t *v;
		void *tmp;
		json_object_foreach_safe(limits, tmp, k, v)
			if (json_is_null(v))
				json_object_del(limits, k);
	}
	if (json_object_size(limits))
		json_object_set(body, "limits", limits);
	if ((rc = cli_args_count(&a, 1, 1, "container name")) != CLI_OK)
		return rc;
	if (!!json_object_get(body, "template") + !!json_object_get(body, "rootfs") +
		    !!json_object_get(body, "tarball") != 1)
		return cli_usage_error(a.cmd, "give one of --template busybox|debian, --from-tarball FILE and --rootfs DIR");
	json_object_set_new(body, "name", json_string(a.pos[0]));
	const char *tmpl = out_str(body, "template");
	const json_t *ct = NULL;
	__do_json json_t *final = NULL;
	if (json_object_get(body, "tarball") || (tmpl && strcmp(tmpl, "debian") == 0)) {
		/* a job: the root is unpacked (and for debian first built) */
		if (job_request(cli, "POST", "/v1/containers", body, "creating", &final) != CLI_OK)
			return CLI_FAIL;
		ct = json_object_get(final, "result");
	} else {
		struct client *c = cli_client(cli);
		if (!c || client_call(c, "POST", "/v1/containers", body, &r, false) < 0)
			return CLI_FAIL;
		ct = r.json;
	}
	if (cli->json)
		out_json(ct);
	else
		printf("created container %s (%s)\n", out_str(ct, "name") ?: a.pos[0],
		       json_is_true(json_object_get(ct, "privileged")) ? "privileged" : "unprivileged");
	return CLI_OK;
}

/* Where a container's root came from: "template debian bookworm", "tarball FILE" or its rootfs. */
static char *root_text(const json_t *ct)
{
	const char *tmpl = out_str(ct, "template"), *rel = out_str(ct, "release");
	if (tmpl)
		return xasprintf("template %s%s%s", tmpl, rel ? " " : "", rel ? rel : "");
	if (out_str(ct, "tarball"))
		return xasprintf("tarball %s", out_str(ct, "tarball"));
	return xstrdup(out_str(ct, "rootfs") ?: "-");
}

static void print_cts(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "STATE", "PRIVILEGED", "ROOT", "PID" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *ct;
	size_t i;
	json_array_foreach(json_object_get(answer, "containers"), i, ct) {
		const json_t *st = json_object_get(ct, "status");
		__do_free char *pid = out_scalar(json_object_get(st, "pid"));
		__do_free char *root = root_text(ct);
		table_add(t, out_str(ct, "name"), out_str(ct, "state") ?: "invalid",
			  json_is_true(json_object_get(ct, "privileged")) ? "yes" : "no", root,
			  json_is_null(json_object_get(st, "pid")) ? "-" : pid);
	}
	table_print(t, stdout);
}

static int ct_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "ct list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 1, "selector"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path_query(c, "/v1/containers", "select", a.npos ? a.pos[0] : NULL);
	return cli_get_print(cli, path, print_cts);
}

/* "cpu limit 1.5, memory 64 MiB (using 3 MiB), pids 100 (now 4)" from a limits object. */
static char *limits_text(const json_t *l)
{
	struct buf b = BUF_INIT;
	json_t *v;
	char sz[16];
	if ((v = json_object_get(l, "cpu_limit")) && json_is_number(v))
		buf_printf(&b, "cpu limit %.2g", json_number_value(v));
	if ((v = json_object_get(l, "cpu_weight")) && json_is_integer(v))
		buf_printf(&b, "%scpu weight %lld", b.len ? ", " : "", (long long)json_integer_value(v));
	if ((v = json_object_get(l, "memory_limit_mib")) && json_is_integer(v))
		buf_printf(&b, "%smemory %s", b.len ? ", " : "",
			   out_size((uint64_t)json_integer_value(v) << 20, sz, sizeof(sz)));
	if ((v = json_object_get(l, "memory_used")) && json_is_integer(v))
		buf_printf(&b, "%s(using %s)", b.len ? " " : "", out_size((uint64_t)json_integer_value(v), sz, sizeof(sz)));
	if ((v = json_object_get(l, "pids_limit")) && json_is_integer(v))
		buf_printf(&b, "%spids %lld", b.len ? ", " : "", (long long)json_integer_value(v));
	if ((v = json_object_get(l, "pids")) && json_is_integer(v))
		buf_printf(&b, "%s(%lld running)", b.len ? " " : "", (long long)json_integer_value(v));
	if (!b.len)
		buf_adds(&b, "none");
	return buf_detach(&b);
}

static void show_ct(const json_t *ct)
{
	__do_table struct table *t = table_new_kv();
	const json_t *st = json_object_get(ct, "status");
	const json_t *m = json_object_get(ct, "idmap");
	table_add_kv(t, "name", "%s", out_str(ct, "name") ?: "-");
	table_add_kv(t, "uuid", "%s", out_str(ct, "uuid") ?: "-");
	table_add_kv(t, "state", "%s", out_str(ct, "state") ?: "-");
	if (json_is_integer(json_object_get(st, "pid")))
		table_add_kv(t, "pid", "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(st, "pid")));
	{
		__do_free char *root = root_text(ct);
		table_add_kv(t, "root", "%s", root);
	}
	if (json_is_true(json_object_get(ct, "privileged")))
		table_add_kv(t, "privileged", "yes (container root is host root)");
	else
		table_add_kv(t, "privileged", "no: ids 0-%" JSON_INTEGER_FORMAT " are host %" JSON_INTEGER_FORMAT
			     "- (uid), %" JSON_INTEGER_FORMAT "- (gid)",
			     json_integer_value(json_object_get(m, "count")) - 1,
			     json_integer_value(json_object_get(m, "uid_base")),
			     json_integer_value(json_object_get(m, "gid_base")));
	if (out_str(ct, "description"))
		table_add_kv(t, "description", "%s", out_str(ct, "description"));
	{
		const json_t *sto = json_object_get(st, "storage"), *root = json_object_get(sto, "root"), *mnt;
		const json_t *used = json_object_get(root, "used");
		char sz[16];
		size_t i;
		if (out_str(root, "image"))
			table_add_kv(t, "root volume", "%s in pool %s: image %s (%s), %s%s",
				     out_str(root, "volume"), out_str(root, "pool") ?: "-", out_str(root, "image"),
				     out_size((uint64_t)json_integer_value(json_object_get(root, "size")), sz, sizeof(sz)),
				     json_is_true(json_object_get(root, "mounted")) ? "mounted on " : "not mounted",
				     json_is_true(json_object_get(root, "mounted")) ? out_str(root, "path") ?: "-" : "");
		else if (out_str(root, "volume"))
			table_add_kv(t, "root volume", "%s in pool %s (%s), using %s", out_str(root, "volume"),
				     out_str(root, "pool") ?: "-", out_str(root, "path") ?: "-",
				     json_is_integer(used) ? out_size((uint64_t)json_integer_value(used), sz, sizeof(sz))
							   : "(measuring)");
		else if (root)
			table_add_kv(t, "root path", "%s (no pool volume: 'ct move --pool' puts it in one)",
				     out_str(root, "rootfs") ?: "-");
		json_array_foreach(json_object_get(sto, "mounts"), i, mnt)
			table_add_kv(t, i ? "" : "mounts", "%s at %s%s (pool %s)", out_str(mnt, "volume") ?: "-",
				     out_str(mnt, "path") ?: "-",
				     json_is_true(json_object_get(mnt, "readonly")) ? ", read-only" : "",
				     out_str(mnt, "pool") ?: "-");
	}
	{
		json_t *n, *ns = json_object_get(st, "nics");
		size_t i;
		json_array_foreach(json_object_get(ct, "nics"), i, n) {
			json_t *s = json_array_get(ns, i);
			table_add_kv(t, i ? "" : "nics", "eth%zu %s on %s%s%s", i, out_str(n, "mac") ?: "-",
				     out_str(n, "network") ?: "-", out_str(s, "ip") ? ", " : "", out_str(s, "ip") ?: "");
		}
	}
	{
		__do_free char *conf = limits_text(json_object_get(ct, "limits"));
		table_add_kv(t, "limits", "%s", conf);
		if (json_is_object(json_object_get(st, "limits"))) {
			__do_free char *now = limits_text(json_object_get(st, "limits"));
			table_add_kv(t, "limits now", "%s", now);
		}
	}
	{
		json_t *sn;
		size_t i;
		json_array_foreach(json_object_get(ct, "snapshots"), i, sn)
			table_add_kv(t, i ? "" : "snapshots", "%s (%s)", out_str(sn, "name") ?: "-", out_str(sn, "method") ?: "-");
	}
	if (json_is_true(json_object_get(ct, "autostart")))
		table_add_kv(t, "autostart", "yes (order %" JSON_INTEGER_FORMAT ", delay %" JSON_INTEGER_FORMAT " s)",
			     json_integer_value(json_object_get(ct, "start_order")),
			     json_integer_value(json_object_get(ct, "start_delay")));
	if (json_array_size(json_object_get(ct, "tags"))) {
		__do_free char *tags = out_join(json_object_get(ct, "tags"), ", ");
		table_add_kv(t, "tags", "%s", tags);
	}
	table_add_kv(t, "config", "%s", out_str(st, "config") ?: "-");
	if (out_str(st, "job"))
		table_add_kv(t, "job", "%s", out_str(st, "job"));
	table_print(t, stdout);
}

static int ct_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "ct show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "container"))
		return a.exit_code;
	return cli_show(cli, "/v1/containers", a.pos[0], show_ct);
}

/* POST the action on each selector, follow each job, a line per container. */
static int ct_action(struct cli *cli, int argc, char **argv, const char *usage, bool stop_opts)
{
	static const struct option plain[] = { CLI_COMMON_OPTIONS, { 0 } };
	static const struct option stop[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_free char *cmd = xasprintf("ct %s", argv[0]);
	__do_json json_t *body = json_object();
	__do_json json_t *all = json_array();
	struct cli_args a;
	int64_t timeout;
	int opt, rc, out = CLI_OK;

	cli_args_init(&a, cmd, usage, argc, argv);
	while ((opt = cli_getopt(cli, &a, stop_opts ? stop : plain)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_TIMEOUT) {
			if (cli_parse_int(optarg, 0, 3600, &timeout) < 0)
				return cli_usage_error(a.cmd, "invalid --timeout '%s': want seconds, 0..3600", optarg);
			json_object_set_new(body, "timeout", json_integer(timeout));
		}
		if (opt == OPT_FORCE)
			json_object_set_new(body, "force", json_true());
	}
	if ((rc = cli_args_count(&a, 1, -1, "container")) != CLI_OK)
		return rc;
	for (int i = 0; i < a.npos; i++) {
		struct client *c = cli_client(cli);
		__do_free char *suffix = xasprintf("/%s", argv[0]);
		__do_free char *path = c ? client_path(c, "/v1/containers", a.pos[i], suffix) : NULL;
		__do_json json_t *final = NULL;
		json_t *res;
		size_t k;
		if (!c)
			return CLI_FAIL;
		rc = job_request(cli, "POST", path, body, NULL, &final);
		if (!final)
			return CLI_FAIL; /* refused: printed */
		json_t *list = json_object_get(json_object_get(final, "result"), "containers");
		if (!json_array_size(list) && rc != CLI_OK) {
			cli_error("%s: %s", a.pos[i], out_str(final, "error") ?: "failed");
			out = CLI_FAIL;
		}
		json_array_foreach(list, k, res) {
			json_array_append(all, res);
			if (json_is_true(json_object_get(res, "ok"))) {
				if (!cli->json)
					printf("%s: %s\n", out_str(res, "name"), out_str(res, "state") ?: "ok");
			} else {
				cli_error("%s", out_str(res, "error") ?: "failed");
				out = CLI_FAIL;
			}
		}
	}
	if (cli->json) {
		__do_json json_t *o = json_pack("{sO}", "results", all);
		out_json(o);
	}
	return out;
}

static int ct_start(struct cli *cli, int argc, char **argv) { return ct_action(cli, argc, argv, usage_start, false); }
static int ct_stop(struct cli *cli, int argc, char **argv) { return ct_action(cli, argc, argv, usage_stop, true); }
static int ct_kill(struct cli *cli, int argc, char **argv) { return ct_action(cli, argc, argv, usage_kill, false); }
static int ct_reboot(struct cli *cli, int argc, char **argv) { return ct_action(cli, argc, argv, usage_reboot, true); }

static void ct_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	json_t *name;
	size_t j;
	(void)item;
	json_array_foreach(json_object_get(answer, "deleted"), j, name) {
		json_array_append(json_object_get(all, "deleted"), name);
		if (!cli->json && json_is_string(name))
			printf("deleted container %s\n", json_string_value(name));
	}
}

static int ct_delete(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { CLI_YES_OPTION, CLI_COMMON_OPTIONS, { 0 } };
	__do_json json_t *all = json_pack("{s[]}", "deleted");
	struct cli_args a;
	int opt, rc;
	cli_args_init(&a, "ct delete", usage_delete, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1)
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
	if ((rc = cli_args_count(&a, 1, -1, "container")) != CLI_OK)
		return rc;
	__do_free char *names = cli_args_joined(&a, 0);
	if ((rc = cli_confirm(&a, "delete container %s", names)) != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/containers", NULL, a.pos, a.npos, all, ct_deleted);
}

static int ct_exec(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "timeout", required_argument, NULL, OPT_TIMEOUT }, CLI_COMMON_OPTIONS,
					      { 0 } };
	__do_json json_t *body = json_pack("{s[]}", "command");
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int64_t timeout;
	int opt, rc;
	cli_args_init(&a, "ct exec", usage_exec, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_TIMEOUT) {
			if (cli_parse_int(optarg, 1, 3600, &timeout) < 0)
				return cli_usage_error(a.cmd, "invalid --timeout '%s': want seconds, 1..3600", optarg);
			json_object_set_new(body, "timeout", json_integer(timeout));
		}
	}
	if ((rc = cli_args_count(&a, 2, -1, "container and command")) != CLI_OK)
		return rc;
	for (int i = 1; i < a.npos; i++)
		json_array_append_new(json_object_get(body, "command"), json_string(a.pos[i]));
	if (cli_call(cli, "POST", "/v1/containers", a.pos[0], "/exec", body, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
	} else {
		json_t *o = json_object_get(r.json, "stdout"), *e = json_object_get(r.json, "stderr");
		fwrite(json_string_value(o) ?: "", 1, json_string_length(o), stdout);
		fflush(stdout);
		fwrite(json_string_value(e) ?: "", 1, json_string_length(e), stderr);
		if (json_is_true(json_object_get(r.json, "truncated")))
			fprintf(stderr, "corral: output truncated at 1 MiB per stream\n");
	}
	json_int_t st = json_integer_value(json_object_get(r.json, "exit_status"));
	return (int)(st & 0xff);
}

static int ct_console(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { { "linger", required_argument, NULL, OPT_LINGER }, CLI_COMMON_OPTIONS,
					      { 0 } };
	struct cli_args a;
	int64_t linger_ms = 2000;
	int opt, rc;
	cli_args_init(&a, "ct console", usage_console, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_LINGER && cli_parse_seconds(optarg, &linger_ms) < 0)
			return cli_usage_error(a.cmd, "invalid --linger '%s': want seconds", optarg);
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	return console_run_at(cli, "/v1/containers", a.pos[0], false, linger_ms);
}

static void print_ct_limits(const json_t *ct)
{
	__do_table struct table *t = table_new_kv();
	const json_t *st = json_object_get(ct, "status");
	__do_free char *conf = limits_text(json_object_get(ct, "limits"));
	table_add_kv(t, "name", "%s", out_str(ct, "name") ?: "-");
	table_add_kv(t, "state", "%s", out_str(ct, "state") ?: "-");
	table_add_kv(t, "configured", "%s", conf);
	if (json_is_object(json_object_get(st, "limits"))) {
		__do_free char *now = limits_text(json_object_get(st, "limits"));
		table_add_kv(t, "in effect", "%s (cgroup %s)", now, out_str(json_object_get(st, "limits"), "cgroup") ?: "-");
	} else {
		table_add_kv(t, "in effect", "- (not running)");
	}
	table_print(t, stdout);
}

static int ct_limits(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { CT_LIMIT_OPTIONS, CLI_COMMON_OPTIONS, { 0 } };
	__do_json json_t *body = json_object();
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int opt, rc;
	cli_args_init(&a, "ct limits", usage_limits, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if ((rc = limit_opt(body, a.cmd, opt, optarg)) != CLI_OK)
			return rc;
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	if (json_object_size(body) == 0)
		return cli_show(cli, "/v1/containers", a.pos[0], print_ct_limits);
	if (cli_call(cli, "POST", "/v1/containers", a.pos[0], "/limits", body, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json)
		out_json(r.json);
	else
		print_ct_limits(r.json);
	return CLI_OK;
}

static void print_ct_nics(const json_t *ct)
{
	static const char *const headers[] = { "NAME", "MAC", "NETWORK", "VETH", "IP" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *status = json_object_get(json_object_get(ct, "status"), "nics"), *n;
	size_t i;
	json_array_foreach(json_object_get(ct, "nics"), i, n) {
		json_t *s = json_array_get(status, i);
		__do_free char *ifname = xasprintf("eth%zu", i);
		table_add(t, ifname, out_str(n, "mac") ?: "-", out_str(n, "network") ?: "-", out_str(s, "veth") ?: "-",
			  out_str(s, "ip") ?: "-");
	}
	table_print(t, stdout);
}

static int ct_nic(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = NULL;
	struct cli_args a;
	const char *sub = argc >= 2 ? argv[1] : "";
	bool list = strcmp(sub, "list") == 0, attach = strcmp(sub, "attach") == 0, detach = strcmp(sub, "detach") == 0;
	if (!list && !attach && !detach) {
		if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
			fputs(usage_nic, stdout);
			return CLI_OK;
		}
		return cli_usage_error("ct nic", "want list, attach or detach, not '%s'", sub);
	}
	__do_free char *cmd = xasprintf("ct nic %s", sub);
	cli_args_init(&a, cmd, usage_nic, argc - 1, argv + 1);
	if (!cli_args_plain(cli, &a, list ? 1 : 2, list ? 1 : 2,
			    list ? "container" : attach ? "container and SPEC" : "container and MAC"))
		return a.exit_code;
	if (list)
		return cli_show(cli, "/v1/containers", a.pos[0], print_ct_nics);
	if (attach) {
		if (vmdef_nic_from_spec(a.pos[1], &body) < 0)
			return CLI_USAGE;
		if (cli_call(cli, "POST", "/v1/containers", a.pos[0], "/nics", body, &r) != CLI_OK)
			return CLI_FAIL;
	} else {
		__do_free char *suffix = xasprintf("/nics/%s", a.pos[1]);
		if (cli_call(cli, "DELETE", "/v1/containers", a.pos[0], suffix, NULL, &r) != CLI_OK)
			return CLI_FAIL;
	}
	if (cli->json) {
		out_json(r.json);
	} else if (attach) {
		json_t *nics = json_object_get(r.json, "nics");
		printf("attached NIC %s to container %s\n", out_str(json_array_get(nics, json_array_size(nics) - 1), "mac") ?: "-",
		       a.pos[0]);
	} else {
		printf("detached NIC %s from container %s\n", a.pos[1], a.pos[0]);
	}
	return CLI_OK;
}

static void print_ct_snaps(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "CREATED", "METHOD", "SIZE" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *s;
	size_t i;
	json_array_foreach(json_object_get(answer, "snapshots"), i, s) {
		char when[40], sz[24];
		json_int_t size = json_integer_value(json_object_get(s, "size"));
		table_add(t, out_str(s, "name") ?: "-",
			  out_time_epoch(json_integer_value(json_object_get(s, "created")) / 1000, when, sizeof(when)),
			  out_str(s, "method") ?: "-", size >= 0 ? out_size((uint64_t)size, sz, sizeof(sz)) : "-");
	}
	table_print(t, stdout);
}

static int ct_snapshot(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *final = NULL;
	struct cli_args a;
	const char *sub = argc >= 2 ? argv[1] : "";
	static const char *const subs[] = { "create", "list", "revert", "delete" };
	int k = -1;
	for (int i = 0; i < (int)ARRAY_SIZE(subs); i++)
		if (strcmp(sub, subs[i]) == 0)
			k = i;
	if (k < 0) {
		if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
			fputs(usage_snapshot, stdout);
			return CLI_OK;
		}
		return cli_usage_error("ct snapshot", "want create, list, revert or delete, not '%s'", sub);
	}
	bool list = k == 1;
	__do_free char *cmd = xasprintf("ct snapshot %s", sub);
	cli_args_init(&a, cmd, usage_snapshot, argc - 1, argv + 1);
	a.yes_ok = k >= 2;
	if (!cli_args_plain(cli, &a, list ? 1 : 2, list ? 1 : 2, list ? "container" : "container and snapshot name"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	if (list) {
		if (cli_call(cli, "GET", "/v1/containers", a.pos[0], "/snapshots", NULL, &r) != CLI_OK)
			return CLI_FAIL;
		if (cli->json)
			out_json(r.json);
		else
			print_ct_snaps(r.json);
		return CLI_OK;
	}
	if (k == 2 || k == 3) {
		int rc = cli_confirm(&a, k == 2 ? "revert container %s to snapshot %s (what changed since is lost)"
					      : "delete snapshot %s of container %s",
				     k == 2 ? a.pos[0] : a.pos[1], k == 2 ? a.pos[1] : a.pos[0]);
		if (rc != CLI_OK)
			return rc;
	}
	if (k == 3) {
		__do_free char *suffix = xasprintf("/snapshots/%s", a.pos[1]);
		if (cli_call(cli, "DELETE", "/v1/containers", a.pos[0], suffix, NULL, &r) != CLI_OK)
			return CLI_FAIL;
		if (cli->json)
			out_json(r.json);
		else
			printf("deleted snapshot %s of container %s\n", a.pos[1], a.pos[0]);
		return CLI_OK;
	}
	__do_free char *suffix = k == 0 ? xstrdup("/snapshots") : xasprintf("/snapshots/%s/revert", a.pos[1]);
	__do_free char *path = client_path(c, "/v1/containers", a.pos[0], suffix);
	__do_json json_t *body = k == 0 ? json_pack("{s:s}", "name", a.pos[1]) : NULL;
	if (job_request(cli, "POST", path, body, k == 0 ? "snapshot" : "reverting", &final) != CLI_OK)
		return CLI_FAIL;
	json_t *res = json_object_get(final, "result");
	if (cli->json) {
		out_json(res);
	} else if (k == 0) {
		char sz[24];
		json_int_t size = json_integer_value(json_object_get(res, "size"));
		printf("took snapshot %s of container %s (%s, %s)\n", a.pos[1], a.pos[0], out_str(res, "method") ?: "-",
		       size >= 0 ? out_size((uint64_t)size, sz, sizeof(sz)) : "-");
	} else {
		printf("reverted container %s to snapshot %s\n", a.pos[0], a.pos[1]);
	}
	return CLI_OK;
}

static int ct_clone(struct cli *cli, int argc, char **argv)
{
	__do_json json_t *final = NULL;
	struct cli_args a;
	cli_args_init(&a, "ct clone", usage_clone, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "source container and new name"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/containers", a.pos[0], "/clone");
	__do_json json_t *body = json_pack("{s:s}", "name", a.pos[1]);
	if (job_request(cli, "POST", path, body, "cloning", &final) != CLI_OK)
		return CLI_FAIL;
	json_t *res = json_object_get(final, "result");
	if (cli->json)
		out_json(res);
	else
		printf("cloned container %s as %s (%s, uuid %s)\n", a.pos[0], a.pos[1], out_str(res, "method") ?: "-",
		       out_str(res, "uuid") ?: "-");
	return CLI_OK;
}

static const char usage_migrate[] =
	"usage: corral ct migrate CT --to HOST [--bandwidth RATE] [--detach] [--json]\n"
	"\n"
	"Move stopped container CT to HOST, a trusted host ('corral host trust list'):\n"
	"its definition (uuid, NICs with their MACs, limits, id map), its root and its\n"
	"snapshots, exactly (owners as numbers, modes, xattrs, ACLs, hard links, device\n"
	"nodes, symlinks).  HOST must have every network its NICs are on and, for an\n"
	"unprivileged container, give containers the same subordinate id range.  A job\n"
	"with progress; CT is this host's until HOST confirms, then it is removed here.\n"
	"An image root arrives on HOST as a directory root (its size limit stays here).\n"
	"On any failure or cancel ('corral job cancel ID') it stays here and nothing\n"
	"is left on HOST.  See docs/containers.md, \"Migration\".\n"
	"\n"
	"Options:\n"
	"  --to HOST    the trusted host to move the container to (required)\n"
	"  --bandwidth RATE  cap the stream of the root, bytes/s with a K/M/G suffix\n"
	"               (MiB/s: '100M'); default: unlimited\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_MIG_TO = CLI_OPT_FIRST, OPT_MIG_DETACH, OPT_MIG_BW };

static int ct_migrate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, OPT_MIG_TO },
		{ "detach", no_argument, NULL, OPT_MIG_DETACH },
		{ "bandwidth", required_argument, NULL, OPT_MIG_BW },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	const char *to = NULL;
	bool detach = false;
	uint64_t bw = 0;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "ct migrate", usage_migrate, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_MIG_TO)
			to = optarg;
		else if (opt == OPT_MIG_DETACH)
			detach = true;
		else if (opt == OPT_MIG_BW && (cli_parse_size(optarg, 1, &bw) < 0 || bw == 0))
			return cli_usage_error(a.cmd, "invalid --bandwidth '%s': want bytes/s, e.g. 100M", optarg);
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	if (!to)
		return cli_usage_error(a.cmd, "--to HOST is required");
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/containers", a.pos[0], "/migrate");
	__do_json json_t *body = json_pack("{s:s}", "to", to);
	if (bw)
		json_object_set_new(body, "bandwidth", json_integer((json_int_t)bw));
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "migrating", detach);
}

static const char usage_move[] =
	"usage: corral ct move CT --pool POOL [--detach] [--json]\n"
	"\n"
	"Move stopped container CT's root, with its snapshots, into storage pool\n"
	"POOL (a job with progress).  The copy keeps owners (the id map's), modes,\n"
	"xattrs, hard links and device nodes; the container uses it once it is\n"
	"stored, and only then is the old copy removed.  A running container is\n"
	"refused (stop it first), and so is a pool without the room.  A root made\n"
	"before roots were pool volumes (or restored, or migrated in) becomes a\n"
	"volume of POOL.  An image root moves as its file (holes kept; its snapshots\n"
	"are inside it).  Mount points stay where their volumes are.\n"
	"\n"
	"Options:\n"
	"  --pool POOL  the pool to move the root to (required)\n"
	"  --detach     print the job and return at once\n"
	"  --json       print the finished job as JSON\n"
	"  -h, --help   show this help\n";

enum { OPT_MV_POOL = CLI_OPT_FIRST, OPT_MV_DETACH };

static int ct_move(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pool", required_argument, NULL, OPT_MV_POOL },
		{ "detach", no_argument, NULL, OPT_MV_DETACH },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	const char *pool = NULL;
	bool detach = false;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "ct move", usage_move, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_MV_POOL)
			pool = optarg;
		else if (opt == OPT_MV_DETACH)
			detach = true;
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	if (!pool)
		return cli_usage_error(a.cmd, "--pool POOL is required");
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/containers", a.pos[0], "/move");
	__do_json json_t *body = json_pack("{s:s}", "pool", pool);
	if (client_call(c, "POST", path, body, &r, false) < 0)
		return CLI_FAIL;
	return job_follow(cli, r.json, "moving", detach);
}

static const char usage_events[] =
	"usage: corral ct events CONTAINER [--limit N] [--json]\n"
	"\n"
	"List the container's events (oldest first) as TIME TYPE DETAIL: created,\n"
	"started, stopped, snapshots, migrations, autostarts (as 'vm events').\n"
	"\n"
	"Options:\n"
	"  --limit N    only the last N events (1..10000, default 100)\n"
	"  --json       print the API's answer {\"events\":[...]}\n"
	"  -h, --help   show this help\n";

enum { OPT_EV_LIMIT = CLI_OPT_FIRST };

static int ct_events(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, OPT_EV_LIMIT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_free char *path = NULL;
	__do_free char *suffix = NULL;
	struct cli_args a;
	int64_t limit = -1;
	int opt, rc;

	cli_args_init(&a, "ct events", usage_events, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_EV_LIMIT && cli_parse_int(optarg, 1, 10000, &limit) < 0)
			return cli_usage_error(a.cmd, "invalid --limit '%s': want 1..10000", optarg);
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	if (limit > 0)
		suffix = xasprintf("/events?limit=%lld", (long long)limit);
	path = client_path(c, "/v1/containers", a.pos[0], suffix ? suffix : "/events");
	return cli_get_print(cli, path, out_guest_events);
}

static const char usage_edit[] =
	"usage: corral ct edit CONTAINER [OPTIONS] [--from FILE]\n"
	"\n"
	"Change the definition of a stopped container (as 'vm edit').  Options are\n"
	"applied to the current definition; with --from FILE the file replaces it\n"
	"first.  With neither, on a terminal, the definition opens as JSON in\n"
	"$EDITOR (default vi) and is saved if the editor exits successfully and the\n"
	"text changed.  Its name, uuid, root and privileged cannot change.\n"
	"\n"
	"Options:\n"
	"  --description TEXT  a note kept with the container\n"
	"  --autostart         start it whenever corrald starts (with the VMs)\n"
	"  --no-autostart      do not\n"
	"  --start-order N     autostart order, 0..1000000\n"
	"  --start-delay SECS  wait SECS after autostarting it (0..3600)\n"
	"  --tag TAG           add a tag (repeatable)\n"
	"  --no-tags           remove all tags (before --tag)\n"
	"  --mount VOL:/PATH[:ro]  add a mount point: directory volume VOL at /PATH\n"
	"                      (repeatable; the volume is this container's then)\n"
	"  --unmount PATH      remove the mount point at PATH (its volume stays)\n"
	"  --no-mounts         remove every mount point (before --mount)\n"
	CT_LIMITS_HELP
	"  --from FILE         replace the definition with FILE ('-' = stdin)\n"
	"  --json              print the changed container as JSON\n"
	"  -h, --help          show this help\n";

/* The user definition of a container as GET answers it: what PUT takes back. */
static json_t *ct_user_def(const json_t *ct)
{
	static const char *const keep[] = { "name",	 "uuid",      "description", "template",    "rootfs",
					    "privileged", "nics",      "limits",      "autostart",   "start_order",
					    "start_delay", "tags",     "volume",      "mounts",      "release",
					    "tarball",	 "halt_signal", NULL };
	json_t *d = json_object();

	for (int i = 0; keep[i]; i++)
		if (json_object_get(ct, keep[i]))
			json_object_set(d, keep[i], json_object_get(ct, keep[i]));
	return d;
}

static int ct_put(struct cli *cli, struct client *c, const char *name, json_t *def, const char *kept)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *path = client_path(c, "/v1/containers", name, NULL);

	if (client_call(c, "PUT", path, def, &r, false) < 0) {
		if (kept)
			fprintf(stderr, "corral: your edit is kept in %s\n", kept);
		return CLI_FAIL;
	}
	if (cli->json)
		out_json(r.json);
	else
		printf("container %s changed\n", name);
	return CLI_OK;
}

static int ct_edit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "description", required_argument, NULL, OPT_DESC },
		{ "autostart", no_argument, NULL, OPT_AUTOSTART },
		{ "no-autostart", no_argument, NULL, OPT_NO_AUTOSTART },
		{ "start-order", required_argument, NULL, OPT_START_ORDER },
		{ "start-delay", required_argument, NULL, OPT_START_DELAY },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "no-tags", no_argument, NULL, OPT_NO_TAGS },
		{ "mount", required_argument, NULL, OPT_MOUNT },
		{ "unmount", required_argument, NULL, OPT_UNMOUNT },
		{ "no-mounts", no_argument, NULL, OPT_NO_MOUNTS },
		{ "from", required_argument, NULL, OPT_FROM },
		CT_LIMIT_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *set = json_object();
	__do_json json_t *limits = json_object();
	__do_json json_t *add_tags = json_array();
	__do_json json_t *add_mounts = json_array();
	__do_json json_t *unmounts = json_array();
	__do_json json_t *def = NULL;
	const char *from = NULL;
	bool no_tags = false, no_mounts = false, any = false;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "ct edit", usage_edit, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		any = any || (opt != CLI_OPT_EXIT && opt != OPT_FROM);
		switch (opt) {
		case CLI_OPT_EXIT: return a.exit_code;
		case OPT_DESC: json_object_set_new(set, "description", json_string(optarg)); break;
		case OPT_AUTOSTART: json_object_set_new(set, "autostart", json_true()); break;
		case OPT_NO_AUTOSTART: json_object_set_new(set, "autostart", json_false()); break;
		case OPT_TAG: json_array_append_new(add_tags, json_string(optarg)); break;
		case OPT_NO_TAGS: no_tags = true; break;
		case OPT_NO_MOUNTS: no_mounts = true; break;
		case OPT_UNMOUNT: json_array_append_new(unmounts, json_string(optarg)); break;
		case OPT_MOUNT:
			if ((rc = mount_opt(add_mounts, a.cmd, optarg)) != CLI_OK)
				return rc;
			break;
		case OPT_FROM: from = optarg; break;
		case OPT_START_ORDER:
		case OPT_START_DELAY: {
			int64_t n;
			bool ord = opt == OPT_START_ORDER;
			if (cli_parse_int(optarg, 0, ord ? 1000000 : 3600, &n) < 0)
				return cli_usage_error(a.cmd, "invalid --%s '%s': want %s", ord ? "start-order" : "start-delay",
						       optarg, ord ? "0..1000000" : "0..3600 seconds");
			json_object_set_new(set, ord ? "start_order" : "start_delay", json_integer(n));
			break;
		}
		default:
			if ((rc = limit_opt(limits, a.cmd, opt, optarg)) != CLI_OK)
				return rc;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "container")) != CLI_OK)
		return rc;
	if (!any && !from && !isatty(STDIN_FILENO))
		return cli_usage_error(a.cmd, "nothing to change: give options or --from FILE (or run on a terminal to use $EDITOR)");
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/containers", a.pos[0], NULL);
	if (client_call(c, "GET", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	__do_free char *name = xstrdup(out_str(r.json, "name") ?: a.pos[0]);
	if (from) {
		if (!(def = vmdef_load(from)))
			return CLI_FAIL;
		if (!json_object_get(def, "name"))
			json_object_set_new(def, "name", json_string(name));
	} else {
		def = ct_user_def(r.json);
	}
	if (!any && !from) {
		__do_free char *kept = NULL;
		json_t *edited = NULL;
		int e = editor_edit_json(def, &edited, &kept);
		if (e < 0)
			return CLI_FAIL;
		if (e == 0) {
			printf("container %s not changed\n", name);
			return CLI_OK;
		}
		rc = ct_put(cli, c, name, edited, kept);
		json_decref(edited);
		if (rc == CLI_OK)
			unlink(kept);
		return rc;
	}
	json_object_update(def, set);
	if (no_tags || json_array_size(add_tags)) {
		json_t *old = json_object_get(def, "tags");
		json_t *tags = no_tags || !old ? json_array() : json_deep_copy(old);
		json_array_extend(tags, add_tags);
		json_object_set_new(def, "tags", tags);
	}
	if (no_mounts || json_array_size(add_mounts) || json_array_size(unmounts)) {
		json_t *old = json_object_get(def, "mounts");
		json_t *ms = no_mounts || !old ? json_array() : json_deep_copy(old);
		json_t *u;
		size_t i;
		json_array_foreach(unmounts, i, u) {
			size_t k;
			json_t *m;
			bool found = false;
			json_array_foreach(ms, k, m)
				if (out_str(m, "path") && strcmp(out_str(m, "path"), json_string_value(u)) == 0) {
					json_array_remove(ms, k);
					found = true;
					break;
				}
			if (!found) {
				json_decref(ms);
				fprintf(stderr, "corral: container %s has no mount point at %s\n", name, json_string_value(u));
				return CLI_FAIL;
			}
		}
		json_array_extend(ms, add_mounts);
		json_object_set_new(def, "mounts", ms);
	}
	if (json_object_size(limits)) {
		json_t *l = json_object_get(def, "limits");
		if (!l)
			json_object_set_new(def, "limits", l = json_object());
		const char *k;
		json_t *v;
		json_object_foreach(limits, k, v)
			if (json_is_null(v))
				json_object_del(l, k);
			else
				json_object_set(l, k, v);
	}
	return ct_put(cli, c, name, def, NULL);
}

static const struct cli_verb ct_verbs[] = {
	{ "create", "define a system container (--template busybox or --rootfs DIR)", ct_create },
	{ "list", "list containers with their state", ct_list },
	{ "show", "show a container's definition and state", ct_show },
	{ "start", "start containers", ct_start },
	{ "stop", "shut containers down (halt signal); kill only with --force", ct_stop },
	{ "kill", "kill containers at once", ct_kill },
	{ "reboot", "restart containers (graceful stop, then start)", ct_reboot },
	{ "delete", "delete stopped containers", ct_delete },
	{ "exec", "run a command in a running container", ct_exec },
	{ "console", "attach to a container's console (Ctrl-] detaches)", ct_console },
	{ "limits", "show or change a container's CPU, memory and pid limits (live)", ct_limits },
	{ "nic", "list a container's NICs, attach or detach one (stopped)", ct_nic },
	{ "snapshot", "snapshots of a stopped container's root: create, list, revert, delete", ct_snapshot },
	{ "clone", "copy a stopped container under a new name", ct_clone },
	{ "migrate", "move a stopped container to a trusted host", ct_migrate },
	{ "move", "move a stopped container's root to another storage pool", ct_move },
	{ "events", "list a container's events", ct_events },
	{ "edit", "change a stopped container's definition", ct_edit },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_ct = {
	"ct", "Define, run and inspect system containers (LXC).", ct_verbs, NULL,
};

/* ---- corral list ---- */

static void add_guests(json_t *out, const json_t *list, const char *kind)
{
	json_t *g;
	size_t i;
	json_array_foreach(list, i, g) {
		json_t *ips = json_array(), *nic, *ip;
		size_t k;
		const json_t *st = json_object_get(g, "status");
		json_array_foreach(json_object_get(st, "nics"), k, nic)
			if (out_str(nic, "ip"))
				json_array_append_new(ips, json_string(out_str(nic, "ip")));
		json_array_foreach(json_object_get(json_object_get(st, "agent"), "ips"), k, ip)
			json_array_append(ips, ip);
		json_array_append_new(out, json_pack("{s:s,s:s?,s:s?,s:s?,s:o,s:s?}", "kind", kind, "name",
						     out_str(g, "name"), "uuid", out_str(g, "uuid"), "state",
						     out_str(g, "state"), "ips", ips, "host", out_str(g, "host")));
	}
}

static int all_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	__do_reply struct reply rv = REPLY_INIT;
	__do_reply struct reply rc_ = REPLY_INIT;
	cli_args_init(&a, "list", usage_all, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 1, "selector"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *pv = client_path_query(c, "/v1/vms", "select", a.npos ? a.pos[0] : NULL);
	__do_free char *pc = client_path_query(c, "/v1/containers", "select", a.npos ? a.pos[0] : NULL);
	if (client_call(c, "GET", pv, NULL, &rv, false) < 0 || client_call(c, "GET", pc, NULL, &rc_, false) < 0)
		return CLI_FAIL;
	__do_json json_t *guests = json_array();
	add_guests(guests, json_object_get(rv.json, "vms"), "vm");
	add_guests(guests, json_object_get(rc_.json, "containers"), "container");
	if (cli->json) {
		__do_json json_t *o = json_pack("{sO}", "guests", guests);
		out_json(o);
		return CLI_OK;
	}
	static const char *const headers[] = { "KIND", "NAME", "STATE", "IP", "HOST" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *g;
	size_t i;
	json_array_foreach(guests, i, g) {
		__do_free char *ips = out_join(json_object_get(g, "ips"), ",");
		table_add(t, out_str(g, "kind"), out_str(g, "name"), out_str(g, "state") ?: "-", *ips ? ips : "-",
			  out_str(g, "host") ?: "local");
	}
	table_print(t, stdout);
	return CLI_OK;
}

const struct cli_noun cli_noun_list = {
	.name = "list",
	.summary = "VMs and containers together: kind, state, addresses, host.",
	.run = all_list,
};
