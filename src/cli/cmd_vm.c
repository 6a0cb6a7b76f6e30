/*
 * cmd_vm.c - `corral vm ...`: define, list, show, change and drive VMs.
 *
 * Each verb parses its flags, makes the matching request of docs/api.md
 * ("Routes") and prints the answer: one confirmation line or a table, or
 * with --json the API's JSON unchanged.  Flags-to-definition work for
 * create and edit lives in vmdef.c, the console in console.c, the $EDITOR
 * round trip in editor.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "console.h"
#include "editor.h"
#include "reslimits.h"
#include "output.h"
#include "vmdef.h"
#include "util/buf.h"
#include "util/common.h"

#define VM_SELECTOR_HELP                                                         \
	"VM is a name, a uuid, 'name:GLOB' (a shell glob, e.g. 'name:web*') or\n" \
	"'uuid:UUID'.\n"

/* The definition options create and edit share (edit's --disk differs). */
#define DEF_OPTIONS_HELP_1                                                      \
	"  --cpus N              virtual CPUs, 1..64 (default 1)\n"                  \
	"  --memory SIZE         memory, e.g. 256M or 1G; a bare number is MiB\n"     \
	"                        (default 256M)\n"
#define DEF_OPTIONS_HELP_2                                                      \
	"  --cdrom ISO           medium in the CD-ROM drive (a relative path is\n"    \
	"                        made absolute against the current directory)\n"     \
	"  --kernel PATH         boot this kernel directly instead of the firmware\n" \
	"  --initrd PATH         initrd for direct kernel boot (ISO, kernel and\n"    \
	"                        initrd: inside a storage pool or an allow_path\n"  \
	"                        directory of corrald.conf)\n"                     \
	"  --cmdline STR         kernel command line for direct kernel boot\n"        \
	"  --boot ORDER          firmware boot order, e.g. disk,cdrom (the default)\n" \
	"  --boot disk-kernel    boot the kernel the first disk's GRUB or BLS\n"   \
	"                        configuration names (read at every start and\n" \
	"                        reboot)\n"     \
	"  --boot-entry ENTRY    with disk-kernel: the entry to boot (title, id or\n" \
	"                        index; default: the configuration's default;\n"   \
	"                        '' goes back to the default)\n"                    \
	"  --vnc[=LISTEN[:DISPLAY]]\n"                                               \
	"                        VNC display listening on LISTEN (default\n"         \
	"                        127.0.0.1); corrald picks the display number\n"     \
	"                        unless given; the value may be a separate\n"        \
	"                        argument when it has a ':' (--vnc 0.0.0.0:3)\n"     \
	"  --rng, --no-rng       with (default) or without a virtio-rng device\n"     \
	"  --agent on|off        QEMU guest agent channel (default on): guest IPs\n" \
	"                        and OS in 'vm show', frozen filesystems in\n"     \
	"                        backups and snapshots (docs/agent.md)\n"         \
	"  --nic SPEC            a network card; repeat for more (the list given\n"  \
	"                        replaces the VM's): 'user' (QEMU user-mode\n"       \
	"                        networking, the default) or 'net=NAME' (a port on\n" \
	"                        corral network NAME), then optionally\n"           \
	"                        ',mac=MAC' and ',model=virtio|e1000'; for net=\n"  \
	"                        ',filter=off' drops its traffic hygiene (on by\n"  \
	"                        default, docs/network.md), ',vlan=ID' makes it\n"  \
	"                        an access port of VLAN ID (',vlan=trunk:10/20'\n"  \
	"                        a trunk, with filter=off; needs bridge VLAN\n"     \
	"                        filtering in the kernel), ',bw=RATE' limits it\n"  \
	"                        each way (bits/s: 10M, 500k)\n"                    \
	"  --no-nic              no network card\n"                                   \
	"  --mac MAC             MAC address of the first network card (default:\n"  \
	"                        generated; unique on the host)\n"                    \
	"  --autostart           start the VM whenever corrald starts\n"              \
	"  --start-order N       autostart order, 0..1000000 (default 0): lower\n"  \
	"                        starts first (ties by name); host shutdown\n"    \
	"                        stops in the reverse order\n"                     \
	"  --start-delay SECS    after autostarting this VM, wait SECS (0..3600,\n" \
	"                        default 0) before starting the next\n"            \
	"  --description TEXT    free text, up to 1024 characters\n"                  \
	"  --machine TYPE        QEMU machine type: q35 (the default) or a version\n"  \
	"                        such as pc-q35-7.2; pinned to the concrete version\n" \
	"                        at create, so the guest's hardware stays the same\n" \
	"                        on every host (corral host info: machine_types)\n"   \
	"  --firmware bios|uefi  boot firmware (default bios: SeaBIOS); uefi is\n"    \
	"                        OVMF with the VM's own NVRAM (docs/boot.md)\n"       \
	"  --secure-boot         UEFI Secure Boot with Microsoft's keys (implies\n"   \
	"                        --firmware uefi)\n"                                  \
	"  --cpu MODEL           CPU model: host (KVM only), max, or a QEMU model\n"  \
	"                        such as Skylake-Server-v4 (corral host info:\n"     \
	"                        cpu_models); default host under KVM, max under TCG\n" \
	"  --tag TAG             tag the VM; repeat for more tags; the tags given\n"  \
	"                        replace the VM's (or the --from file's) tag list\n" \
	"  --accel auto|kvm|tcg  accelerator (default auto: KVM when usable,\n"      \
	"                        else TCG)\n"                                         \
	"  --hotplug-ports N     spare PCIe ports for hot-added disks, 0..16\n"       \
	"                        (default 4)\n"                                      \
	CI_HELP

static const char usage_create[] =
	"usage: corral vm create NAME [OPTIONS]\n"
	"       corral vm create [NAME] --from FILE [OPTIONS]\n"
	"\n"
	"Define a new VM.  It stays stopped unless --start is given.\n"
	"\n"
	"Options:\n" DEF_OPTIONS_HELP_1
	"  --disk VOL[:BUS]      attach volume VOL on bus virtio (default), scsi\n"
	"                        or ide; repeat for more disks (the first boots)\n"
	DEF_OPTIONS_HELP_2
	LIMITS_VM_HELP
	"  --no-balloon          without the virtio-balloon device (default: with)\n"
	"  --from FILE           start from a JSON definition ('-' reads stdin),\n"
	"                        e.g. the output of 'corral vm show VM --json';\n"
	"                        NAME and the other options override its fields;\n"
	"                        a NAME other than the file's also drops the\n"
	"                        file's uuid and MACs (making a copy)\n"
	"  --start               start the VM once it is created\n"
	"  --json                print the created VM as JSON\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example: corral vm create web1 --memory 1G --disk web1-root --vnc --start\n";

static const char usage_edit[] =
	"usage: corral vm edit VM [OPTIONS] [--from FILE]\n"
	"\n"
	"Change the definition of a stopped (or crashed) VM.  Options are applied\n"
	"to the current definition; with --from FILE the file replaces it first.\n"
	"With neither, on a terminal, the definition opens as JSON in $EDITOR\n"
	"(default vi) and is saved if the editor exits successfully and the text\n"
	"changed.\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n" DEF_OPTIONS_HELP_1
	"  --disk VOL[:BUS]      add a disk, or change the bus of one already there\n"
	"  --remove-disk VOL     remove the disk using volume VOL (the volume stays)\n"
	DEF_OPTIONS_HELP_2
	"  --no-vnc              remove the VNC display\n"
	"  --no-autostart        do not start the VM with corrald\n"
	"  --no-cdrom            empty the CD-ROM drive\n"
	"  --no-tags             remove all tags\n"
	"  --boot-mode firmware|kernel|disk-kernel\n"
	"                        switch between firmware, direct kernel boot and\n"
	"                        booting the first disk's own kernel\n"
	"  --from FILE           replace the definition with FILE ('-' = stdin);\n"
	"                        the VM's uuid is kept when the file has none\n"
	"  --json                print the changed VM as JSON\n"
	"  -h, --help            show this help\n";

static const char usage_list[] =
	"usage: corral vm list [SELECTOR] [--state S[,S...]] [--json]\n"
	"\n"
	"List VMs (all, or those SELECTOR matches) as a table:\n"
	"NAME STATE CPUS MEMORY AUTOSTART TAGS IP UPTIME (STATE is 'template' for\n"
	"templates; IP the addresses leased to its NICs on corral networks and\n"
	"those its guest agent reported last; UPTIME how long a running VM has\n"
	"been running).\n"
	"SELECTOR is a name, a uuid, 'name:GLOB' or 'uuid:UUID'.\n"
	"\n"
	"Options:\n"
	"  --state S    only VMs in state S: running, stopped, paused, starting,\n"
	"               stopping, crashed or template (several: comma-separated)\n"
	"  --json       print the API's answer {\"vms\":[...]} (filtered by --state)\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral vm show VM [--json]\n"
	"\n"
	"Show one VM: its definition, state and why, pid, VNC address, disks, CD-ROM,\n"
	"its guest agent (connected, not responding or off) with the guest's host\n"
	"name, OS and addresses, and recent events.\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n"
	"  --json       print the VM exactly as the API returns it; the output is\n"
	"               accepted back by 'corral vm create --from FILE'\n"
	"  -h, --help   show this help\n";

static const char usage_start[] =
	"usage: corral vm start VM...\n"
	"\n"
	"Start the selected VMs.\n"
	VM_SELECTOR_HELP
	"Each VM argument is one request and may match several VMs.  One line\n"
	"\"NAME: STATE\" is printed per VM; failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_stop[] =
	"usage: corral vm stop VM... [--timeout SECS [--kill] | --force]\n"
	"\n"
	"Shut the selected VMs down gracefully (ACPI power button) and wait for\n"
	"them to power off.  A stop never kills on its own: a guest still running\n"
	"after the timeout fails the stop (it ignored the power button) and runs\n"
	"on, unless --kill was given.\n"
	VM_SELECTOR_HELP
	"One line \"NAME: STATE\" is printed per VM (\"NAME: stopped (... killed)\"\n"
	"when it had to be killed); failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --timeout SECS  seconds to wait for the guest, 0..3600 (default 300)\n"
	"  --kill          kill a guest still running after --timeout SECS\n"
	"                  (needs an explicit --timeout)\n"
	"  --force         kill at once, without the power button (like 'vm kill')\n"
	"  --json          print the combined action results {\"results\":[...]}\n"
	"  -h, --help      show this help\n";

static const char usage_kill[] =
	"usage: corral vm kill VM...\n"
	"\n"
	"Power the selected VMs off at once, without asking the guest.\n"
	VM_SELECTOR_HELP
	"One line \"NAME: STATE\" is printed per VM; failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_reboot[] =
	"usage: corral vm reboot VM... [--force]\n"
	"\n"
	"Reboot the selected VMs gracefully (ACPI), or with --force by a hard reset.\n"
	VM_SELECTOR_HELP
	"One line \"NAME: STATE\" is printed per VM; failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --force      hard reset instead of asking the guest\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_pause[] =
	"usage: corral vm pause VM...\n"
	"\n"
	"Pause the selected VMs' CPUs (memory stays allocated) until\n"
	"'corral vm resume'.\n"
	VM_SELECTOR_HELP
	"One line \"NAME: STATE\" is printed per VM; failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_resume[] =
	"usage: corral vm resume VM...\n"
	"\n"
	"Resume the selected paused VMs.\n"
	VM_SELECTOR_HELP
	"One line \"NAME: STATE\" is printed per VM; failures go to stderr, exit status 1.\n"
	"\n"
	"Options:\n"
	"  --json       print the combined action results {\"results\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_delete[] =
	"usage: corral vm delete VM... [--disks] [--yes]\n"
	"\n"
	"Delete the selected VMs (they must not be running).  Their volumes are\n"
	"kept unless --disks is given.\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n"
	"  --disks      also delete the volumes the VMs use\n"
	"  --json       print the API's answer {\"deleted\":[...],\"volumes_deleted\":[...]}\n"
	"  -y, --yes    do not ask (needed when there is no terminal)\n"
	"  -h, --help   show this help\n";

static const char usage_console[] =
	"usage: corral vm console VM [--linger SECS] [--force]\n"
	"\n"
	"Attach to the running VM's serial console.  On a terminal, the terminal is\n"
	"put in raw mode and Ctrl-] detaches.  Otherwise standard input is sent to\n"
	"the guest; when it ends, guest output is still printed for --linger\n"
	"seconds, e.g.  printf 'echo hi\\n' | corral vm console web1 --linger 3\n"
	"Only one console can be attached to a VM at a time: --force takes it over\n"
	"(the other session is disconnected).\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n"
	"  --linger SECS  without a terminal: how long to keep printing guest output\n"
	"                 after standard input ends (default 2; fractions allowed)\n"
	"  --force        take the console over from the session attached to it\n"
	"  -h, --help     show this help\n";

static const char usage_log[] =
	"usage: corral vm log VM [--tail BYTES]\n"
	"\n"
	"Print the history of the VM's serial console (default: the last 64 KiB\n"
	"kept by corrald) as it was written, to standard output.\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n"
	"  --tail BYTES   print only the last BYTES (units K, M allowed; bare = bytes)\n"
	"  -h, --help     show this help\n";

static const char usage_events[] =
	"usage: corral vm events VM [--follow] [--limit N] [--json]\n"
	"\n"
	"List the VM's events (oldest first) as TIME TYPE DETAIL.\n"
	VM_SELECTOR_HELP
	"\n"
	"Options:\n"
	"  --follow     print the VM's events as they happen (Ctrl-C stops)\n"
	"  --limit N    only the last N events\n"
	"  --json       print the API's answer {\"events\":[...]}\n"
	"  -h, --help   show this help\n";

/* --- helpers --- */

/* "256M" for a memory_mib member. */
static const char *memory_text(const json_t *obj, char *buf, size_t len)
{
	json_t *m = json_object_get(obj, "memory_mib");
	if (!json_is_integer(m) || json_integer_value(m) < 0)
		return "-";
	return out_size((uint64_t)json_integer_value(m) << 20, buf, len);
}

/*
 * Actions answer 202 with a job (one VM) or a job running one job per VM
 * (a selector matching several); its result {"vms":[...]} says how each VM
 * fared.  act_post starts the action on `selector` and appends its job to
 * `jobs`; act_report follows one to its end and prints a line per VM.
 * Both return CLI_OK, CLI_FAIL, or -1 when corrald could not be reached.
 */
static int act_post(struct cli *cli, const char *verb, const char *selector, const json_t *body, json_t *jobs)
{
	struct client *c = cli_client(cli);
	__do_free char *suffix = xasprintf("/%s", verb);
	__do_free char *path = NULL;
	__do_reply struct reply r = REPLY_INIT;
	json_t *job;

	if (!c)
		return -1;
	path = client_path(c, "/v1/vms", selector, suffix);
	if (client_request(c, "POST", path, body, &r) < 0)
		return -1;
	if (!reply_ok(&r) || !json_is_object(job = json_object_get(r.json, "job"))) {
		client_print_error(&r, NULL);
		return CLI_FAIL;
	}
	json_array_append(jobs, job);
	return CLI_OK;
}

static int act_report(struct cli *cli, const json_t *job, const char *selector, json_t *all)
{
	__do_json json_t *final = NULL;
	json_t *res;
	size_t i;
	int rc = job_wait(cli, job, NULL, &final);

	if (!final)
		return -1;
	json_t *vms = json_object_get(json_object_get(final, "result"), "vms");
	if (!json_array_size(vms)) {
		/* No per-VM outcome (the job failed before it got there). */
		const char *msg = out_str(final, "error");
		if (rc != CLI_OK)
			cli_error("%s: %s", selector, msg ? msg : "failed");
		return rc;
	}
	json_array_foreach(vms, i, res) {
		const char *name = out_str(res, "name");
		json_array_append(all, res);
		if (json_is_true(json_object_get(res, "ok"))) {
			/* a stop that had to kill says so */
			const char *reason = out_str(res, "reason");
			bool killed = reason && strstr(reason, "killed");
			if (!cli->json)
				printf("%s: %s%s%s%s\n", name ? name : selector, out_str(res, "state") ?: "ok",
				       killed ? " (" : "", killed ? reason : "", killed ? ")" : "");
			continue;
		}
		/* corrald's per-VM messages already name the VM */
		const char *msg = out_str(res, "error");
		cli_error("%s", msg ? msg : "failed");
		rc = CLI_FAIL;
	}
	return rc;
}

/* Run `verb` on every selector, all at once; print combined JSON with --json. */
static int act_all(struct cli *cli, const char *verb, char **sel, int nsel, const json_t *body)
{
	__do_json json_t *all = json_array();
	__do_json json_t *jobs = json_array();
	int rc = CLI_OK;

	for (int i = 0; i < nsel; i++) {
		size_t before = json_array_size(jobs);
		int r = act_post(cli, verb, sel[i], body, jobs);
		if (r < 0)
			return CLI_FAIL;	/* corrald unreachable: one line is enough */
		if (r != CLI_OK)
			rc = CLI_FAIL;
		if (json_array_size(jobs) == before)
			json_array_append_new(jobs, json_null());
	}
	for (int i = 0; i < nsel; i++) {
		json_t *job = json_array_get(jobs, (size_t)i);
		if (json_is_null(job))
			continue;
		int r = act_report(cli, job, sel[i], all);
		if (r < 0)
			return CLI_FAIL;
		if (r != CLI_OK)
			rc = CLI_FAIL;
	}
	if (cli->json) {
		__do_json json_t *out = json_pack("{sO}", "results", all);
		out_json(out);
	}
	return rc;
}

/* --- create --- */

enum { OPT_START = VMDEF_OPT_END, OPT_TIMEOUT, OPT_FORCE, OPT_DISKS, OPT_LINGER, OPT_TAIL, OPT_LIMIT, OPT_FOLLOW,
       OPT_NO_BALLOON, OPT_STATE, OPT_STOP_KILL };

static int vm_create(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		VMDEF_OPTIONS,
		LIMITS_VM_OPTIONS,
		{ "no-balloon", no_argument, NULL, OPT_NO_BALLOON },
		{ "start", no_argument, NULL, OPT_START },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_vmdef_flags struct vmdef_flags f = VMDEF_FLAGS_INIT;
	__do_limits_flags struct limits_flags lf = LIMITS_FLAGS_INIT;
	bool no_balloon = false;
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *def = NULL;
	__do_free char *vm = NULL;
	struct client *c;
	struct cli_args a;
	bool start = false;
	const char *name, *uuid;
	int opt, rc;

	cli_args_init(&a, "vm create", usage_create, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_START)
			start = true;
		else if (opt == OPT_NO_BALLOON)
			no_balloon = true;
		else if (limits_opt_is(opt)) {
			if ((rc = limits_flags_parse(&lf, a.cmd, opt, optarg)) != CLI_OK)
				return rc;
		} else if ((rc = vmdef_flags_parse(&f, &a, opt, optarg)) != CLI_OK)
			return rc;
	}
	if ((rc = cli_args_count(&a, f.from ? 0 : 1, 1, "VM name")) != CLI_OK)
		return rc;
	if ((rc = vmdef_flags_check(&f, a.cmd)) != CLI_OK)
		return rc;

	if (f.from) {
		def = vmdef_load(f.from);
		if (!def)
			return CLI_FAIL;
	} else {
		def = json_object();
	}
	if (a.npos == 1) {
		const char *old = out_str(def, "name");
		if (old && strcmp(old, a.pos[0]) != 0) {
			/* a copy under a new name: its own uuid and MACs (--mac/--nic may still set them) */
			json_t *nic;
			size_t i;
			json_object_del(def, "uuid");
			json_array_foreach(json_object_get(def, "nics"), i, nic)
				json_object_del(nic, "mac");
			json_object_del(json_object_get(def, "nic"), "mac");
		}
		json_object_set_new(def, "name", json_string(a.pos[0]));
	}
	if ((rc = vmdef_apply(&f, def, false)) != CLI_OK || (rc = limits_flags_to_def(&lf, a.cmd, def)) != CLI_OK)
		return rc;
	if (no_balloon)
		json_object_set_new(def, "balloon", json_false());

	c = cli_client(cli);
	if (!c || client_call(c, "POST", "/v1/vms", def, &r, false) < 0)
		return CLI_FAIL;
	name = out_str(r.json, "name");
	uuid = out_str(r.json, "uuid");
	if (!name)
		name = out_str(def, "name");
	if (!cli->json)
		printf("created vm %s (uuid %s)\n", name ? name : "?", uuid ? uuid : "?");
	if (!start) {
		if (cli->json)
			out_json(r.json);
		return CLI_OK;
	}
	{
		__do_json json_t *results = json_array();
		__do_json json_t *jobs = json_array();
		/* Start exactly the VM just created. */
		__do_free char *sel = uuid ? xasprintf("uuid:%s", uuid) : xstrdup(name ? name : "");
		rc = act_post(cli, "start", sel, NULL, jobs);
		if (rc == CLI_OK)
			rc = act_report(cli, json_array_get(jobs, 0), sel, results);
		if (rc < 0)
			return CLI_FAIL;
	}
	if (cli->json) {
		__do_reply struct reply g = REPLY_INIT;
		vm = client_path(c, "/v1/vms", uuid ? uuid : name, NULL);
		if (client_call(c, "GET", vm, NULL, &g, false) < 0)
			return CLI_FAIL;
		out_json(g.json);
	}
	return rc;
}

/* --- list / show --- */

/* Whether comma-separated `list` holds `item`. */
static bool list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	for (const char *p = list; *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, item, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static void print_vms(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "STATE", "CPUS", "MEMORY", "AUTOSTART", "TAGS", "IP", "UPTIME" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *vm;
	size_t i;

	json_array_foreach(json_object_get(answer, "vms"), i, vm) {
		__do_free char *cpus = out_scalar(json_object_get(vm, "cpus"));
		__do_free char *autostart = out_scalar(json_object_get(vm, "autostart"));
		__do_free char *tags = out_join(json_object_get(vm, "tags"), ",");
		struct buf ips __do_buf = BUF_INIT;
		json_t *nic;
		size_t k;
		char mem[16], up[32];
		const json_t *st = json_object_get(vm, "status");
		bool running = out_str(vm, "state") && strcmp(out_str(vm, "state"), "running") == 0;

		/* Each network NIC's address from its network's DHCP leases. */
		json_array_foreach(json_object_get(json_object_get(vm, "status"), "nics"), k, nic) {
			const char *ip = out_str(nic, "ip");
			if (ip)
				buf_printf(&ips, "%s%s", ips.len ? "," : "", ip);
		}
		/* and the addresses its guest agent reports (from corrald's cache) */
		json_array_foreach(json_object_get(json_object_get(st, "agent"), "ips"), k, nic) {
			const char *ip = json_string_value(nic);
			if (ip && !list_has(ips.s, ip))
				buf_printf(&ips, "%s%s", ips.len ? "," : "", ip);
		}
		/* A template never runs: its state column says what it is. */
		table_add(t, out_str(vm, "name"),
			  json_is_true(json_object_get(vm, "template")) ? "template" : out_str(vm, "state"), cpus,
			  memory_text(vm, mem, sizeof(mem)), autostart, *tags ? tags : "-", ips.len ? ips.s : "-",
			  running ? out_age(out_str(st, "since"), up, sizeof(up)) : "-");
	}
	table_print(t, stdout);
}

/* The state a list shows for a VM: 'template' for templates, else its state. */
static const char *list_state(const json_t *vm)
{
	return json_is_true(json_object_get(vm, "template")) ? "template" : out_str(vm, "state");
}

/* States `vm list --state` knows (core/vmstate.c's names, and 'template'). */
static bool known_state(const char *s, size_t n)
{
	static const char *const states[] = { "stopped", "starting", "running", "paused", "stopping", "crashed",
					      "template" };
	for (size_t i = 0; i < ARRAY_SIZE(states); i++)
		if (strlen(states[i]) == n && strncmp(states[i], s, n) == 0)
			return true;
	return false;
}

/* Whether `state` is one of the comma-separated `want`. */
static bool state_wanted(const char *want, const char *state)
{
	size_t n = state ? strlen(state) : 0;

	for (const char *p = want; state && *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && strncmp(p, state, n) == 0)
			return true;
		p += k + (p[k] == ',');
	}
	return false;
}

static int vm_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state", required_argument, NULL, OPT_STATE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *path = NULL;
	const char *want = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm list", usage_list, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_STATE)
			want = optarg;
	}
	if ((rc = cli_args_count(&a, 0, 1, "selector")) != CLI_OK)
		return rc;
	for (const char *p = want; p && *p;) {
		size_t k = strcspn(p, ",");
		if (!known_state(p, k))
			return cli_usage_error(a.cmd, "unknown state '%.*s' (running, stopped, paused, starting, "
					       "stopping, crashed, template)", (int)k, p);
		p += k + (p[k] == ',');
	}
	if (want && !*want)
		return cli_usage_error(a.cmd, "--state needs a state");
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = client_path_query(c, "/v1/vms", "select", a.npos == 1 ? a.pos[0] : NULL);
	if (client_call(c, "GET", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	if (want) {
		json_t *vms = json_object_get(r.json, "vms");
		for (size_t i = json_array_size(vms); i-- > 0;)
			if (!state_wanted(want, list_state(json_array_get(vms, i))))
				json_array_remove(vms, i);
	}
	if (cli->json)
		out_json(r.json);
	else
		print_vms(r.json);
	return CLI_OK;
}

/* The members of a small object as "k=v k=v" (status.vnc, status.job). */
static char *object_text(const json_t *v)
{
	struct buf b = BUF_INIT;
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return out_scalar(v);
	json_object_foreach((json_t *)v, key, val) {
		__do_free char *s = out_scalar(val);
		buf_printf(&b, "%s%s=%s", b.len ? " " : "", key, s);
	}
	return buf_detach(&b);
}

static void show_boot(struct table *t, const json_t *boot)
{
	const char *mode = out_str(boot, "mode");

	if (mode && strcmp(mode, "kernel") == 0) {
		const char *kernel = out_str(boot, "kernel");
		const char *initrd = out_str(boot, "initrd");
		const char *cmdline = out_str(boot, "cmdline");
		table_add_kv(t, "boot", "kernel %s", kernel ? kernel : "-");
		if (initrd)
			table_add_kv(t, "initrd", "%s", initrd);
		if (cmdline)
			table_add_kv(t, "cmdline", "%s", cmdline);
		return;
	}
	if (mode && strcmp(mode, "disk-kernel") == 0) {
		const char *entry = out_str(boot, "entry");
		table_add_kv(t, "boot", "disk-kernel, entry %s", entry ? entry : "(the default)");
		return;
	}
	__do_free char *order = out_join(json_object_get(boot, "order"), ", ");
	table_add_kv(t, "boot", "firmware%s%s", *order ? ", order " : "", order);
}

/* firmware (bios, uefi, uefi + Secure Boot) and the CPU model, with what it runs as. */
static void show_firmware_cpu(struct table *t, const json_t *vm, const json_t *status)
{
	const char *fw = out_str(vm, "firmware"), *cpu = out_str(vm, "cpu"), *running = out_str(status, "cpu");
	table_add_kv(t, "firmware", "%s%s", fw ? fw : "bios",
		     json_is_true(json_object_get(vm, "secure_boot")) ? " (secure boot)" : "");
	if (cpu)
		table_add_kv(t, "cpu", "%s", cpu);
	else if (running)
		table_add_kv(t, "cpu", "default (running as %s)", running);
	else
		table_add_kv(t, "cpu", "default (host under KVM, max under TCG)");
}

/* agent: STATE; guest: HOSTNAME, OS; guest ips: ... */
static void show_agent(struct table *t, const json_t *agent)
{
	const char *state = out_str(agent, "state"), *host = out_str(agent, "hostname");
	const char *os = out_str(json_object_get(agent, "os"), "pretty_name");
	json_t *ifc;
	size_t i, shown = 0;

	if (!state)
		return;
	table_add_kv(t, "agent", "%s", state);
	if (!os)
		os = out_str(json_object_get(agent, "os"), "name");
	if (host || os)
		table_add_kv(t, "guest", "%s%s%s", host ? host : "", host && os ? ", " : "", os ? os : "");
	json_array_foreach(json_object_get(agent, "interfaces"), i, ifc) {
		__do_free char *addrs = out_join(json_object_get(ifc, "addresses"), " ");
		const char *mac = out_str(ifc, "mac");
		if (!*addrs)
			continue;
		table_add_kv(t, shown++ ? "" : "guest ips", "%s%s%s%s: %s", out_str(ifc, "name"), mac ? " (" : "",
			     mac ? mac : "", mac ? ")" : "", addrs);
	}
}

static void show_vm(const json_t *vm)
{
	__do_table struct table *t = table_new_kv();
	json_t *status = json_object_get(vm, "status");
	json_t *disks = json_object_get(vm, "disks");
	json_t *nics = json_object_get(vm, "nics");
	json_t *vnc = json_object_get(vm, "vnc");
	json_t *events = json_object_get(status, "events");
	const char *s, *reason = out_str(status, "reason");
	char mem[16];
	size_t i;
	json_t *v;

	table_add_kv(t, "name", "%s", (s = out_str(vm, "name")) ? s : "-");
	table_add_kv(t, "uuid", "%s", (s = out_str(vm, "uuid")) ? s : "-");
	if ((s = out_str(vm, "description")) && *s)
		table_add_kv(t, "description", "%s", s);
	if ((s = out_str(vm, "machine")))
		table_add_kv(t, "machine", "%s", s);
	if (json_array_size(json_object_get(vm, "tags"))) {
		__do_free char *tags = out_join(json_object_get(vm, "tags"), ", ");
		table_add_kv(t, "tags", "%s", tags);
	}
	s = out_str(status, "state");
	table_add_kv(t, "state", "%s%s%s%s", s ? s : "-", reason && *reason ? " (" : "",
		     reason && *reason ? reason : "", reason && *reason ? ")" : "");
	if ((s = out_str(status, "since"))) {
		char when[32], age[32];
		table_add_kv(t, "since", "%s (%s ago)", out_time(s, when, sizeof(when)), out_age(s, age, sizeof(age)));
	}
	if (json_is_true(json_object_get(vm, "template")))
		table_add_kv(t, "template", "yes (read-only; clone it to use it)");
	if ((v = json_object_get(status, "pid")) && !json_is_null(v)) {
		__do_free char *pid = out_scalar(v);
		table_add_kv(t, "pid", "%s", pid);
	}
	if ((v = json_object_get(status, "job")) && !json_is_null(v)) {
		__do_free char *job = object_text(v);
		table_add_kv(t, "job", "%s", job);
	}
	if ((v = json_object_get(status, "replication")) && json_is_object(v)) {
		const char *st = out_str(v, "state") ?: "", *e = out_str(v, "error") ?: "";
		if (!strcmp(st, "syncing"))
			table_add_kv(t, "replication", "to %s: syncing %lld%% (since %s)", out_str(v, "peer") ?: "",
				     (long long)json_integer_value(json_object_get(v, "percent")), out_str(v, "since") ?: "");
		else
			table_add_kv(t, "replication", "to %s: %s since %s%s%s", out_str(v, "peer") ?: "", st, out_str(v, "since") ?: "",
				     *e ? ": " : "", e);
	}
	{
		__do_free char *cpus = out_scalar(json_object_get(vm, "cpus"));
		__do_free char *accel = out_scalar(json_object_get(vm, "accel"));
		table_add_kv(t, "cpus", "%s", cpus);
		table_add_kv(t, "memory", "%s", memory_text(vm, mem, sizeof(mem)));
		const char *running_on = out_str(status, "accel");
		if (running_on && strcmp(running_on, accel) != 0)
			table_add_kv(t, "accel", "%s (running on %s)", accel, running_on);
		else
			table_add_kv(t, "accel", "%s", accel);
	}
	show_firmware_cpu(t, vm, status);
	show_boot(t, json_object_get(vm, "boot"));
	if (!json_array_size(disks))
		table_add_kv(t, "disks", "none");
	json_array_foreach(disks, i, v) {
		const char *bus = out_str(v, "bus");
		s = out_str(v, "volume");
		table_add_kv(t, i ? "" : "disks", "%s (%s)", s ? s : "?", bus ? bus : "virtio");
	}
	table_add_kv(t, "cdrom", "%s", (s = out_str(vm, "cdrom")) ? s : "empty");
	if (!json_array_size(nics))
		table_add_kv(t, "nics", "none");
	json_array_foreach(nics, i, v) {
		const char *net = out_str(v, "network"), *model = out_str(v, "model"), *mac = out_str(v, "mac");
		const char *ip = out_str(json_array_get(json_object_get(status, "nics"), i), "ip");
		table_add_kv(t, i ? "" : "nics", "%s%s, %s, %s%s%s", net ? "network " : "user", net ? net : "",
			     model ? model : "virtio", mac ? mac : "-", ip ? ", " : "", ip ? ip : "");
	}
	if (json_is_object(vnc)) {
		json_t *display = json_object_get(vnc, "display");
		__do_free char *d = json_is_integer(display) ? out_scalar(display) : xstrdup("auto");
		__do_free char *live = NULL;
		if ((v = json_object_get(status, "vnc")) && !json_is_null(v))
			live = object_text(v);
		s = out_str(vnc, "listen");
		table_add_kv(t, "vnc", "%s, display %s%s%s%s", s ? s : "127.0.0.1", d,
			     live ? " (now " : "", live ? live : "", live ? ")" : "");
	} else {
		table_add_kv(t, "vnc", "off");
	}
	{
		__do_free char *rng = out_scalar(json_object_get(vm, "rng"));
		__do_free char *autostart = out_scalar(json_object_get(vm, "autostart"));
		__do_free char *ports = out_scalar(json_object_get(vm, "hotplug_ports"));
		table_add_kv(t, "rng", "%s", rng);
		table_add_kv(t, "autostart", "%s (order %lld, delay %lld s)", autostart,
			     (long long)json_integer_value(json_object_get(vm, "start_order")),
			     (long long)json_integer_value(json_object_get(vm, "start_delay")));
		table_add_kv(t, "hotplug ports", "%s", ports);
	}
	show_agent(t, json_object_get(status, "agent"));
	limits_show_lines(t, vm);
	ci_show_lines(t, vm);
	table_print(t, stdout);

	if (json_array_size(events)) {
		__do_table struct table *ev = table_new(3, NULL);
		json_array_foreach(events, i, v) {
			char tb[32];
			__do_free char *when = xasprintf("  %s", out_time(out_str(v, "time"), tb, sizeof(tb)));
			table_add(ev, when, out_str(v, "type"), out_str(v, "detail"));
		}
		puts("events:");
		table_print(ev, stdout);
	}
}

static int vm_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "vm show", usage_show, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "VM"))
		return a.exit_code;
	return cli_show(cli, "/v1/vms", a.pos[0], show_vm);
}

/* --- actions --- */

/* The options of the actions; vm_action turns them into the request body. */
static const struct option action_opts[] = { CLI_COMMON_OPTIONS, { 0 } };
static const struct option stop_opts[] = {
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "kill", no_argument, NULL, OPT_STOP_KILL },
	CLI_COMMON_OPTIONS,
	{ 0 },
};
static const struct option reboot_opts[] = {
	{ "force", no_argument, NULL, OPT_FORCE },
	CLI_COMMON_OPTIONS,
	{ 0 },
};

/*
 * start, stop, kill, reboot, pause, resume: the options `opts` allows go
 * into the request body (none: no body), then act_all on every VM argument.
 */
static int vm_action(struct cli *cli, int argc, char **argv, const char *usage, const struct option *opts)
{
	__do_free char *cmd = xasprintf("vm %s", argv[0]);
	__do_json json_t *body = json_object();
	struct cli_args a;
	int64_t timeout;
	int opt, rc;

	cli_args_init(&a, cmd, usage, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_TIMEOUT:
			if (cli_parse_int(optarg, 0, 3600, &timeout) < 0)
				return cli_usage_error(a.cmd, "invalid --timeout '%s': want seconds, 0..3600", optarg);
			json_object_set_new(body, "timeout", json_integer(timeout));
			break;
		case OPT_FORCE:
			json_object_set_new(body, "force", json_true());
			break;
		case OPT_STOP_KILL:
			json_object_set_new(body, "kill", json_true());
			break;
		}
	}
	if (json_object_get(body, "kill") && json_object_get(body, "force"))
		return cli_usage_error(a.cmd, "--force kills at once and --kill after --timeout: give one of them");
	if (json_object_get(body, "kill") && !json_object_get(body, "timeout"))
		return cli_usage_error(a.cmd, "--kill needs an explicit --timeout SECS (how long to wait before killing)");
	if ((rc = cli_args_count(&a, 1, -1, "VM")) != CLI_OK)
		return rc;
	return act_all(cli, argv[0], a.pos, a.npos, json_object_size(body) ? body : NULL);
}

static int vm_start(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_start, action_opts);
}

static int vm_kill(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_kill, action_opts);
}

static int vm_pause(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_pause, action_opts);
}

static int vm_resume(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_resume, action_opts);
}

static int vm_stop(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_stop, stop_opts);
}

static int vm_reboot(struct cli *cli, int argc, char **argv)
{
	return vm_action(cli, argc, argv, usage_reboot, reboot_opts);
}

/* --- delete --- */

/* Collect the names an answer of DELETE /v1/vms/{vm} lists, printing a line for each. */
static void vm_deleted(struct cli *cli, const char *item, json_t *answer, json_t *all)
{
	static const char *const keys[] = { "deleted", "volumes_deleted" };

	(void)item;
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
		json_t *name;
		size_t j;

		json_array_foreach(json_object_get(answer, keys[k]), j, name) {
			json_array_append(json_object_get(all, keys[k]), name);
			if (!cli->json && json_is_string(name))
				printf("deleted %s %s\n", k ? "volume" : "vm", json_string_value(name));
		}
	}
}

static int vm_delete(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "disks", no_argument, NULL, OPT_DISKS },
		CLI_YES_OPTION,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_json json_t *all = json_pack("{s[]s[]}", "deleted", "volumes_deleted");
	struct cli_args a;
	bool disks = false;
	int opt, rc;

	cli_args_init(&a, "vm delete", usage_delete, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_DISKS)
			disks = true;
	}
	if ((rc = cli_args_count(&a, 1, -1, "VM")) != CLI_OK)
		return rc;
	__do_free char *names = cli_args_joined(&a, 0);
	if ((rc = cli_confirm(&a, "delete vm %s%s", names,
			      disks ? " and the volumes only it uses (their data is lost)" : "")) != CLI_OK)
		return rc;
	return cli_delete_each(cli, "/v1/vms", disks ? "?disks=true" : NULL, a.pos, a.npos, all, vm_deleted);
}

/* --- edit --- */

/* PUT the new definition, only over the one that was read (If-Match: its
 * generation, or anything when gen < 0); on failure mention where the
 * user's edit is kept. */
static int put_definition(struct cli *cli, struct client *c, const char *name, const json_t *def, json_int_t gen,
			  const char *kept)
{
	__do_free char *path = client_path(c, "/v1/vms", name, NULL);
	__do_free char *match = gen >= 0 ? xasprintf("If-Match: \"%" JSON_INTEGER_FORMAT "\"", gen) : NULL;
	const char *const headers[] = { match, NULL };
	__do_reply struct reply r = REPLY_INIT;
	const char *msg;

	if (client_request_with(c, "PUT", path, def, headers, &r) < 0)
		return CLI_FAIL;
	if (!reply_ok(&r) || !json_is_object(r.json)) {
		if (!kept) {
			client_print_error(&r, NULL);
			return CLI_FAIL;
		}
		msg = r.json ? client_error_message(r.json) : NULL;
		if (msg)
			return cli_error("%s (your edit is kept in %s)", msg, kept);
		return cli_error("corrald answered HTTP %ld (your edit is kept in %s)", r.status, kept);
	}
	return cli_vm_changed(cli, r.json, name, "updated");
}

static int vm_edit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		VMDEF_OPTIONS,
		VMDEF_EDIT_OPTIONS,
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_vmdef_flags struct vmdef_flags f = VMDEF_FLAGS_INIT;
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *def = NULL;
	__do_free char *path = NULL;
	__do_free char *name = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm edit", usage_edit, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if ((rc = vmdef_flags_parse(&f, &a, opt, optarg)) != CLI_OK)
			return rc;
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if ((rc = vmdef_flags_check(&f, a.cmd)) != CLI_OK)
		return rc;
	if (!f.any && !f.from && !isatty(STDIN_FILENO))
		return cli_usage_error(a.cmd, "nothing to change: give options or --from FILE (or run on a terminal to use $EDITOR)");

	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = client_path(c, "/v1/vms", a.pos[0], NULL);
	if (client_call(c, "GET", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	name = xstrdup(out_str(r.json, "name") ? out_str(r.json, "name") : a.pos[0]);
	json_t *jgen = json_object_get(json_object_get(r.json, "status"), "generation");
	json_int_t gen = json_is_integer(jgen) ? json_integer_value(jgen) : -1;

	if (f.from) {
		def = vmdef_load(f.from);
		if (!def)
			return CLI_FAIL;
		if (!json_object_get(def, "uuid") && json_object_get(r.json, "uuid"))
			json_object_set(def, "uuid", json_object_get(r.json, "uuid"));
		if (!json_object_get(def, "name"))
			json_object_set_new(def, "name", json_string(name));
	} else {
		def = json_deep_copy(r.json);
		json_object_del(def, "status");
	}

	if (!f.any && !f.from) {
		__do_free char *kept = NULL;
		json_t *edited = NULL;
		int e = editor_edit_json(def, &edited, &kept);

		if (e < 0)
			return CLI_FAIL;
		if (e == 0) {
			printf("vm %s not changed\n", name);
			return CLI_OK;
		}
		json_decref(def);
		def = edited;
		json_object_del(def, "status");
		rc = put_definition(cli, c, name, def, gen, kept);
		if (rc == CLI_OK)
			unlink(kept);
		return rc;
	}
	if ((rc = vmdef_apply(&f, def, true)) != CLI_OK)
		return rc;
	return put_definition(cli, c, name, def, gen, NULL);
}

/* --- log / events / console --- */

static int vm_log(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tail", required_argument, NULL, OPT_TAIL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_reply struct reply r = REPLY_INIT;
	__do_free char *path = NULL;
	__do_free char *suffix = NULL;
	struct client *c;
	struct cli_args a;
	uint64_t tail = 0;
	bool has_tail = false;
	int opt, rc;

	cli_args_init(&a, "vm log", usage_log, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_TAIL) {
			if (cli_parse_size(optarg, 1, &tail) < 0)
				return cli_usage_error(a.cmd, "invalid --tail '%s': want a byte count like 4096 or 64K", optarg);
			has_tail = true;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	if (has_tail)
		suffix = xasprintf("/log?tail=%" PRIu64, tail);
	path = client_path(c, "/v1/vms", a.pos[0], suffix ? suffix : "/log");
	if (client_call(c, "GET", path, NULL, &r, true) < 0)
		return CLI_FAIL;
	fwrite(r.body.s, 1, r.body.len, stdout);
	return CLI_OK;
}

static int vm_events(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_free char *path = NULL;
	__do_free char *suffix = NULL;
	struct client *c;
	struct cli_args a;
	int64_t limit = -1;
	bool follow = false;
	int opt, rc;

	cli_args_init(&a, "vm events", usage_events, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_LIMIT && cli_parse_int(optarg, 1, 10000, &limit) < 0)
			return cli_usage_error(a.cmd, "invalid --limit '%s': want 1..10000", optarg);
		if (opt == OPT_FOLLOW)
			follow = true;
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if (follow)
		return cli_events_follow(cli, a.pos[0], NULL);
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	if (limit > 0)
		suffix = xasprintf("/events?limit=%" PRId64, limit);
	path = client_path(c, "/v1/vms", a.pos[0], suffix ? suffix : "/events");
	return cli_get_print(cli, path, out_guest_events);
}

static int vm_console(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "linger", required_argument, NULL, OPT_LINGER },
		{ "force", no_argument, NULL, OPT_FORCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct cli_args a;
	int64_t linger_ms = 2000;
	bool force = false;
	int opt, rc;

	cli_args_init(&a, "vm console", usage_console, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_FORCE)
			force = true;
		if (opt == OPT_LINGER && cli_parse_seconds(optarg, &linger_ms) < 0)
			return cli_usage_error(a.cmd, "invalid --linger '%s': want seconds", optarg);
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	return console_run(cli, a.pos[0], force, linger_ms);
}

static const struct cli_verb vm_verbs[] = {
	{ "create", "define a new VM from options or a JSON file", vm_create },
	{ "list", "list VMs with their state", vm_list },
	{ "show", "show a VM's definition, state and recent events", vm_show },
	{ "start", "start VMs", vm_start },
	{ "stop", "shut VMs down (ACPI); kill only with --force or --kill", vm_stop },
	{ "kill", "power VMs off at once", vm_kill },
	{ "reboot", "reboot VMs (ACPI, or hard reset with --force)", vm_reboot },
	{ "pause", "pause VMs' CPUs", vm_pause },
	{ "resume", "resume paused VMs", vm_resume },
	{ "delete", "delete VMs (and with --disks their volumes)", vm_delete },
	{ "console", "attach to a VM's serial console (Ctrl-] detaches)", vm_console },
	{ "log", "print a VM's serial console history", vm_log },
	{ "edit", "change a stopped VM's definition (options, --from or $EDITOR)", vm_edit },
	{ "set", "change a VM's resource limits, live when it runs", cli_vm_set },
	{ "limits", "show a VM's resource limits, configured and in effect", cli_vm_limits },
	{ "events", "list a VM's events", vm_events },
	{ "stats", "show a VM's CPU, memory, disk and network use over time", cli_vm_stats },
	{ "template", "turn a stopped VM into a read-only template", cli_vm_template },
	{ "clone", "copy a VM (full, or --linked on a template)", cli_vm_clone },
	{ "import", "create a VM from an OVA or OVF appliance", cli_vm_import },
	{ "migrate", "move a VM to a trusted host (live, or --offline)", cli_vm_migrate },
	{ "replicate", "mirror a running VM's local disks synchronously to a trusted host", cli_vm_replicate },
	{ "boot-entries", "list the boot entries on a VM's first disk (--boot disk-kernel)", cli_vm_boot_entries },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_vm = {
	"vm", "Define, run and inspect virtual machines.", vm_verbs, NULL,
};
