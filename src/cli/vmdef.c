/*
 * vmdef.c - `vm create` / `vm edit` flags to a VM definition; see vmdef.h.
 *
 * Only the shape of the JSON is decided here (which member a flag sets,
 * relative paths made absolute against the CLI's cwd); every value is
 * validated by corrald, whose message the user then sees.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmdef.h"
#include "cli.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strutil.h"
#include "util/common.h"

#define DEF_FILE_MAX (4u << 20)

static void strvec_add(struct strvec *sv, const char *s)
{
	sv->v = xrealloc(sv->v, (sv->n + 1) * sizeof(char *));
	sv->v[sv->n++] = xstrdup(s);
}

static void strvec_release(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void vmdef_flags_release(struct vmdef_flags *f)
{
	strvec_release(&f->disks);
	strvec_release(&f->remove_disks);
	strvec_release(&f->tags);
	strvec_release(&f->nics);
	ci_flags_release(&f->ci);
	free(f->cdrom);
	free(f->kernel);
	free(f->initrd);
	free(f->vnc_listen);
	f->cdrom = f->kernel = f->initrd = f->vnc_listen = NULL;
}

static void set_path(char **dst, const char *arg)
{
	free(*dst);
	*dst = cli_abspath(arg);
}

/* "LISTEN", "LISTEN:DISPLAY", ":DISPLAY", "DISPLAY", "[V6ADDR]:DISPLAY", "V6ADDR". */
static int parse_vnc(struct vmdef_flags *f, const char *cmd, const char *arg)
{
	const char *colon, *host_end;
	const char *host = arg;
	int64_t display = -1;

	free(f->vnc_listen);
	f->vnc_listen = NULL;
	f->vnc_display = -1;
	if (!arg || !*arg)
		return CLI_OK;
	if (cli_parse_int(arg, 0, 65535, &display) == 0) {
		f->vnc_display = display;
		return CLI_OK;
	}
	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close || (close[1] && close[1] != ':'))
			return cli_usage_error(cmd, "invalid --vnc '%s': use LISTEN[:DISPLAY]", arg);
		host = arg + 1;
		host_end = close;
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strrchr(arg, ':');
		if (colon && strchr(arg, ':') != colon)
			colon = NULL;	/* a bare IPv6 address: no display */
		host_end = colon ? colon : arg + strlen(arg);
	}
	if (colon && cli_parse_int(colon + 1, 0, 65535, &display) < 0)
		return cli_usage_error(cmd, "invalid --vnc display in '%s': use LISTEN[:DISPLAY]", arg);
	if (host_end > host)
		f->vnc_listen = xasprintf("%.*s", (int)(host_end - host), host);
	f->vnc_display = display;
	return CLI_OK;
}

int vmdef_flags_parse(struct vmdef_flags *f, const struct cli_args *a, int opt, const char *arg)
{
	const char *cmd = a->cmd;
	uint64_t bytes;

	if (opt != VMDEF_OPT_FROM)
		f->any = true;
	if (ci_opt_is(opt))
		return ci_flags_parse(&f->ci, cmd, opt, arg);
	switch (opt) {
	case VMDEF_OPT_CPUS:
		if (cli_parse_int(arg, 1, INT32_MAX, &f->cpus) < 0)
			return cli_usage_error(cmd, "invalid --cpus '%s': want a number of CPUs", arg);
		f->has_cpus = true;
		break;
	case VMDEF_OPT_MEMORY:
		if (cli_parse_size(arg, 1u << 20, &bytes) < 0 || bytes == 0 || bytes % (1u << 20))
			return cli_usage_error(cmd, "invalid --memory '%s': want whole MiB like 256M or 1G (a bare number is MiB)", arg);
		f->memory_mib = (int64_t)(bytes >> 20);
		f->has_memory = true;
		break;
	case VMDEF_OPT_DISK:
		if (!*arg || *arg == ':')
			return cli_usage_error(cmd, "invalid --disk '%s': want VOLUME[:BUS]", arg);
		strvec_add(&f->disks, arg);
		break;
	case VMDEF_OPT_REMOVE_DISK:
		strvec_add(&f->remove_disks, arg);
		break;
	case VMDEF_OPT_CDROM:
		set_path(&f->cdrom, arg);
		break;
	case VMDEF_OPT_NO_CDROM:
		f->no_cdrom = true;
		break;
	case VMDEF_OPT_KERNEL:
		set_path(&f->kernel, arg);
		break;
	case VMDEF_OPT_INITRD:
		set_path(&f->initrd, arg);
		break;
	case VMDEF_OPT_CMDLINE:
		f->cmdline = arg;
		break;
	case VMDEF_OPT_BOOT:
		if (strcmp(arg, "disk-kernel") == 0)
			f->boot_mode = arg;
		else
			f->boot_order = arg;
		break;
	case VMDEF_OPT_BOOT_MODE:
		if (strcmp(arg, "firmware") != 0 && strcmp(arg, "kernel") != 0 && strcmp(arg, "disk-kernel") != 0)
			return cli_usage_error(cmd, "invalid --boot-mode '%s': want firmware, kernel or disk-kernel", arg);
		f->boot_mode = arg;
		break;
	case VMDEF_OPT_BOOT_ENTRY:
		f->boot_entry = arg;
		break;
	case VMDEF_OPT_VNC:
		/* "--vnc 0.0.0.0:1": a separate value is taken only when it
		 * contains ':', which no VM name can. */
		if (!arg && optind < a->argc && strchr(a->argv[optind], ':') &&
		    strncmp(a->argv[optind], "name:", 5) != 0 &&
		    strncmp(a->argv[optind], "uuid:", 5) != 0)
			arg = a->argv[optind++];
		f->vnc = true;
		return parse_vnc(f, cmd, arg);
	case VMDEF_OPT_NO_VNC:
		f->no_vnc = true;
		break;
	case VMDEF_OPT_RNG:
		f->rng = true;
		break;
	case VMDEF_OPT_NO_RNG:
		f->no_rng = true;
		break;
	case VMDEF_OPT_AGENT:
		if (strcmp(arg, "on") == 0)
			f->agent = 1;
		else if (strcmp(arg, "off") == 0)
			f->agent = 0;
		else
			return cli_usage_error(cmd, "--agent takes on or off, not '%s'", arg);
		break;
	case VMDEF_OPT_NO_NIC:
		f->no_nic = true;
		break;
	case VMDEF_OPT_MAC:
		f->mac = arg;
		break;
	case VMDEF_OPT_NIC:
		strvec_add(&f->nics, arg);
		break;
	case VMDEF_OPT_AUTOSTART:
		f->autostart = true;
		break;
	case VMDEF_OPT_NO_AUTOSTART:
		f->no_autostart = true;
		break;
	case VMDEF_OPT_MACHINE:
		f->machine = arg;
		break;
	case VMDEF_OPT_FIRMWARE:
		if (strcmp(arg, "bios") != 0 && strcmp(arg, "uefi") != 0)
			return cli_usage_error(cmd, "invalid --firmware '%s': want bios or uefi", arg);
		f->firmware = arg;
		break;
	case VMDEF_OPT_SECURE_BOOT:
		f->secure_boot = true;
		break;
	case VMDEF_OPT_CPU:
		f->cpu = arg;
		break;
	case VMDEF_OPT_START_ORDER:
		if (cli_parse_int(arg, 0, 1000000, &f->start_order) < 0)
			return cli_usage_error(cmd, "invalid --start-order '%s': want a number, 0..1000000", arg);
		break;
	case VMDEF_OPT_START_DELAY:
		if (cli_parse_int(arg, 0, 3600, &f->start_delay) < 0)
			return cli_usage_error(cmd, "invalid --start-delay '%s': want seconds, 0..3600", arg);
		break;
	case VMDEF_OPT_DESCRIPTION:
		f->description = arg;
		break;
	case VMDEF_OPT_TAG:
		strvec_add(&f->tags, arg);
		break;
	case VMDEF_OPT_NO_TAGS:
		f->no_tags = true;
		break;
	case VMDEF_OPT_ACCEL:
		f->accel = arg;
		break;
	case VMDEF_OPT_HOTPLUG_PORTS:
		if (cli_parse_int(arg, 0, INT32_MAX, &f->hotplug_ports) < 0)
			return cli_usage_error(cmd, "invalid --hotplug-ports '%s': want a number", arg);
		f->has_hotplug_ports = true;
		break;
	case VMDEF_OPT_FROM:
		f->from = arg;
		break;
	default:
		return cli_usage_error(cmd, "internal error: unhandled option %d", opt);
	}
	return CLI_OK;
}

int vmdef_flags_check(const struct vmdef_flags *f, const char *cmd)
{
	bool kernel_flags = f->kernel || f->initrd || f->cmdline;

	if (f->boot_order && kernel_flags)
		return cli_usage_error(cmd, "--boot (firmware boot order) cannot be combined with --kernel, --initrd or --cmdline");
	if (f->boot_mode && strcmp(f->boot_mode, "firmware") == 0 && kernel_flags)
		return cli_usage_error(cmd, "--boot-mode firmware cannot be combined with --kernel, --initrd or --cmdline");
	if (f->boot_mode && strcmp(f->boot_mode, "kernel") == 0 && f->boot_order)
		return cli_usage_error(cmd, "--boot-mode kernel cannot be combined with --boot");
	if (f->boot_mode && strcmp(f->boot_mode, "disk-kernel") == 0 && (kernel_flags || f->boot_order))
		return cli_usage_error(cmd, "--boot disk-kernel cannot be combined with --kernel, --initrd, --cmdline or a boot order");
	if (f->boot_entry && ((f->boot_mode && strcmp(f->boot_mode, "disk-kernel") != 0) || kernel_flags || f->boot_order))
		return cli_usage_error(cmd, "--boot-entry needs --boot disk-kernel");
	if (f->secure_boot && f->firmware && strcmp(f->firmware, "bios") == 0)
		return cli_usage_error(cmd, "--secure-boot needs --firmware uefi");
	if (f->vnc && f->no_vnc)
		return cli_usage_error(cmd, "--vnc and --no-vnc contradict each other");
	if (f->rng && f->no_rng)
		return cli_usage_error(cmd, "--rng and --no-rng contradict each other");
	if (f->mac && f->no_nic)
		return cli_usage_error(cmd, "--mac and --no-nic contradict each other");
	if (f->nics.n && (f->no_nic || f->mac))
		return cli_usage_error(cmd, "--nic cannot be combined with --no-nic or --mac (give mac= inside --nic)");
	if (f->autostart && f->no_autostart)
		return cli_usage_error(cmd, "--autostart and --no-autostart contradict each other");
	if (f->cdrom && f->no_cdrom)
		return cli_usage_error(cmd, "--cdrom and --no-cdrom contradict each other");
	if (f->tags.n && f->no_tags)
		return cli_usage_error(cmd, "--tag and --no-tags contradict each other");
	return ci_flags_check(&f->ci, cmd);
}

static json_t *string_array(const struct strvec *sv)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < sv->n; i++)
		json_array_append_new(arr, json_string(sv->v[i]));
	return arr;
}

/* A disk object from "VOL[:BUS]". */
static json_t *disk_object(const char *spec)
{
	const char *colon = strchr(spec, ':');
	json_t *d = json_object();

	if (!colon) {
		json_object_set_new(d, "volume", json_string(spec));
		return d;
	}
	json_object_set_new(d, "volume", json_stringn(spec, (size_t)(colon - spec)));
	json_object_set_new(d, "bus", json_string(colon + 1));
	return d;
}

/* Index of the disk using `volume` in the disks array, or -1. */
static ssize_t disk_find(const json_t *disks, const char *volume, size_t len)
{
	size_t i;
	json_t *d;

	json_array_foreach(disks, i, d) {
		const char *v = json_string_value(json_object_get(d, "volume"));
		if (v && strlen(v) == len && strncmp(v, volume, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

static int apply_disks(const struct vmdef_flags *f, json_t *def, bool edit)
{
	json_t *disks = json_object_get(def, "disks");
	const char *name = out_str(def, "name");

	if (!edit) {
		if (f->disks.n) {
			disks = json_array();
			for (size_t i = 0; i < f->disks.n; i++)
				json_array_append_new(disks, disk_object(f->disks.v[i]));
			json_object_set_new(def, "disks", disks);
		}
		return CLI_OK;
	}
	if (!f->disks.n && !f->remove_disks.n)
		return CLI_OK;
	if (!json_is_array(disks)) {
		disks = json_array();
		json_object_set_new(def, "disks", disks);
	}
	for (size_t i = 0; i < f->remove_disks.n; i++) {
		const char *vol = f->remove_disks.v[i];
		ssize_t at = disk_find(disks, vol, strlen(vol));
		if (at < 0)
			return cli_error("vm '%s' has no disk '%s'", name ? name : "?", vol);
		json_array_remove(disks, (size_t)at);
	}
	for (size_t i = 0; i < f->disks.n; i++) {
		const char *spec = f->disks.v[i];
		json_t *d = disk_object(spec);
		ssize_t at = disk_find(disks, spec, strcspn(spec, ":"));

		if (at < 0) {
			json_array_append_new(disks, d);
			continue;
		}
		/* Already attached: only the bus can change. */
		if (json_object_get(d, "bus"))
			json_object_set(json_array_get(disks, (size_t)at), "bus", json_object_get(d, "bus"));
		json_decref(d);
	}
	return CLI_OK;
}

static void apply_boot(const struct vmdef_flags *f, json_t *def)
{
	bool kernel_flags = f->kernel || f->initrd || f->cmdline;
	json_t *boot = json_object_get(def, "boot");
	const char *mode;

	if (!kernel_flags && !f->boot_order && !f->boot_mode && !f->boot_entry)
		return;
	if (!json_is_object(boot)) {
		boot = json_object();
		json_object_set_new(def, "boot", boot);
	}
	if (f->boot_mode)
		mode = f->boot_mode;
	else if (f->boot_entry)
		mode = "disk-kernel";
	else if (kernel_flags)
		mode = "kernel";
	else
		mode = "firmware";
	json_object_set_new(boot, "mode", json_string(mode));
	if (strcmp(mode, "disk-kernel") != 0)
		json_object_del(boot, "entry");
	if (strcmp(mode, "disk-kernel") == 0) {
		json_object_del(boot, "order");
		json_object_del(boot, "kernel");
		json_object_del(boot, "initrd");
		json_object_del(boot, "cmdline");
		if (f->boot_entry && *f->boot_entry)
			json_object_set_new(boot, "entry", json_string(f->boot_entry));
		else if (f->boot_entry)
			json_object_del(boot, "entry");
		return;
	}
	if (strcmp(mode, "kernel") == 0) {
		json_object_del(boot, "order");
		if (f->kernel)
			json_object_set_new(boot, "kernel", json_string(f->kernel));
		if (f->initrd)
			json_object_set_new(boot, "initrd", json_string(f->initrd));
		if (f->cmdline)
			json_object_set_new(boot, "cmdline", json_string(f->cmdline));
		return;
	}
	json_object_del(boot, "kernel");
	json_object_del(boot, "initrd");
	json_object_del(boot, "cmdline");
	if (f->boot_order) {
		json_t *order = json_array();
		const char *p = f->boot_order;
		while (*p) {
			size_t n = strcspn(p, ",");
			if (n)
				json_array_append_new(order, json_stringn(p, n));
			p += n;
			if (*p == ',')
				p++;
		}
		json_object_set_new(boot, "order", order);
	}
}

int vmdef_nic_from_spec(const char *spec, json_t **out)
{
	__do_free char *copy = xstrdup(spec);
	json_t *nic = json_object();
	char *save = NULL;
	bool first = true;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), first = false) {
		char *eq = strchr(tok, '=');
		if (first && strcmp(tok, "user") == 0) {
			json_object_set_new(nic, "mode", json_string("user"));
			continue;
		}
		if (!eq)
			goto bad;
		*eq = '\0';
		if (first && (strcmp(tok, "net") == 0 || strcmp(tok, "network") == 0)) {
			json_object_set_new(nic, "mode", json_string("network"));
			json_object_set_new(nic, "network", json_string(eq + 1));
		} else if (!first && (strcmp(tok, "mac") == 0 || strcmp(tok, "model") == 0)) {
			json_object_set_new(nic, tok, json_string(eq + 1));
		} else if (!first && strcmp(tok, "filter") == 0 && (!strcmp(eq + 1, "on") || !strcmp(eq + 1, "off"))) {
			json_object_set_new(nic, tok, json_boolean(strcmp(eq + 1, "on") == 0));
		} else if (!first && strcmp(tok, "vlan") == 0 && eq[1]) {
			/* trunk lists may use ':' and '/' (trunk:10/20); the daemon validates */
			json_object_set_new(nic, tok, json_string(eq + 1));
		} else if (!first && strcmp(tok, "bw") == 0) {
			uint64_t bw;
			if (strcmp(eq + 1, "none") && strcmp(eq + 1, "off") && str_parse_rate(eq + 1, &bw) < 0)
				goto bad;
			if (!strcmp(eq + 1, "none") || !strcmp(eq + 1, "off"))
				bw = 0;
			json_object_set_new(nic, tok, json_integer((json_int_t)bw));
		} else {
			goto bad;
		}
	}
	if (!json_object_get(nic, "mode"))
		goto bad;
	*out = nic;
	return 0;
bad:
	json_decref(nic);
	cli_error("invalid --nic '%s': want user or net=NAME, then optionally ,mac=MAC, ,model=virtio|e1000 and "
		  "(net= only) ,filter=on|off, ,vlan=ID|trunk:LIST and ,bw=RATE (bits/s: 10M, 500k)",
		  spec);
	return -1;
}

static int apply_nic(const struct vmdef_flags *f, json_t *def)
{
	json_t *nic = json_object_get(def, "nic");

	if (f->nics.n) {
		json_t *list = json_array();
		for (size_t i = 0; i < f->nics.n; i++) {
			json_t *n;
			if (vmdef_nic_from_spec(f->nics.v[i], &n) < 0) {
				json_decref(list);
				return CLI_FAIL;
			}
			json_array_append_new(list, n);
		}
		json_object_del(def, "nic");
		json_object_set_new(def, "nics", list);
		return CLI_OK;
	}
	if (f->no_nic) {
		json_object_del(def, "nic");
		json_object_set_new(def, "nics", json_array());
		return CLI_OK;
	}
	/* --mac: the first NIC's address (the older single "nic" or nics[0]). */
	if (json_array_size(json_object_get(def, "nics")))
		nic = json_array_get(json_object_get(def, "nics"), 0);
	if (!f->mac)
		return CLI_OK;
	if (!json_is_object(nic)) {
		nic = json_object();
		json_object_set_new(nic, "mode", json_string("user"));
		json_object_set_new(nic, "model", json_string("virtio"));
		json_object_del(def, "nics");
		json_object_set_new(def, "nic", nic);
	}
	json_object_set_new(nic, "mac", json_string(f->mac));
	return CLI_OK;
}

static void apply_vnc(const struct vmdef_flags *f, json_t *def)
{
	json_t *vnc;

	if (f->no_vnc) {
		json_object_set_new(def, "vnc", json_null());
		return;
	}
	if (!f->vnc)
		return;
	const char *listen = f->vnc_listen ? f->vnc_listen : "127.0.0.1";
	if (strncmp(listen, "127.", 4) != 0 && strcmp(listen, "::1") != 0 && strcmp(listen, "localhost") != 0)
		fprintf(stderr, "corral: warning: VNC on %s has no password: whoever reaches that address can "
				"see and control the VM's screen; prefer 127.0.0.1 and an SSH tunnel "
				"(ssh -L 5900:127.0.0.1:59NN HOST)\n", listen);
	vnc = json_object();
	json_object_set_new(vnc, "listen", json_string(listen));
	if (f->vnc_display >= 0)
		json_object_set_new(vnc, "display", json_integer(f->vnc_display));
	json_object_set_new(def, "vnc", vnc);
}

/* --firmware, --secure-boot, --cpu: BIOS drops Secure Boot, Secure Boot implies UEFI. */
static void apply_firmware_cpu(const struct vmdef_flags *f, json_t *def)
{
	if (f->firmware) {
		json_object_set_new(def, "firmware", json_string(f->firmware));
		if (strcmp(f->firmware, "bios") == 0)
			json_object_del(def, "secure_boot");
	}
	if (f->secure_boot) {
		json_object_set_new(def, "firmware", json_string("uefi"));
		json_object_set_new(def, "secure_boot", json_true());
	}
	if (f->cpu)
		json_object_set_new(def, "cpu", json_string(f->cpu));
}

int vmdef_apply(const struct vmdef_flags *f, json_t *def, bool edit)
{
	if (f->description)
		json_object_set_new(def, "description", json_string(f->description));
	if (f->machine)
		json_object_set_new(def, "machine", json_string(f->machine));
	apply_firmware_cpu(f, def);
	if (f->tags.n)
		json_object_set_new(def, "tags", string_array(&f->tags));
	else if (f->no_tags)
		json_object_set_new(def, "tags", json_array());
	if (f->has_cpus)
		json_object_set_new(def, "cpus", json_integer(f->cpus));
	if (f->has_memory)
		json_object_set_new(def, "memory_mib", json_integer(f->memory_mib));
	if (f->accel)
		json_object_set_new(def, "accel", json_string(f->accel));
	apply_boot(f, def);
	if (apply_disks(f, def, edit) != CLI_OK)
		return CLI_FAIL;
	if (f->cdrom)
		json_object_set_new(def, "cdrom", json_string(f->cdrom));
	else if (f->no_cdrom)
		json_object_set_new(def, "cdrom", json_null());
	if (apply_nic(f, def) != CLI_OK)
		return CLI_FAIL;
	apply_vnc(f, def);
	if (f->rng || f->no_rng)
		json_object_set_new(def, "rng", json_boolean(f->rng));
	if (f->agent >= 0)
		json_object_set_new(def, "agent", json_boolean(f->agent));
	if (f->autostart || f->no_autostart)
		json_object_set_new(def, "autostart", json_boolean(f->autostart));
	if (f->has_hotplug_ports)
		json_object_set_new(def, "hotplug_ports", json_integer(f->hotplug_ports));
	if (f->start_order >= 0)
		json_object_set_new(def, "start_order", json_integer(f->start_order));
	if (f->start_delay >= 0)
		json_object_set_new(def, "start_delay", json_integer(f->start_delay));
	return ci_flags_apply(&f->ci, def);
}

static int read_stdin(struct buf *out)
{
	char tmp[8192];
	ssize_t n;

	while ((n = read(STDIN_FILENO, tmp, sizeof(tmp))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (out->len + (size_t)n > DEF_FILE_MAX)
			return -EFBIG;
		buf_add(out, tmp, (size_t)n);
	}
	return 0;
}

json_t *vmdef_load(const char *path)
{
	bool is_stdin = strcmp(path, "-") == 0;
	const char *what = is_stdin ? "standard input" : path;
	__do_buf struct buf data = BUF_INIT;
	json_error_t je;
	json_t *def;
	int r;

	r = is_stdin ? read_stdin(&data) : fs_read_file(path, DEF_FILE_MAX, &data);
	if (r < 0) {
		cli_error("cannot read %s: %s", what, strerror(-r));
		return NULL;
	}
	def = json_loadb(data.s, data.len, JSON_REJECT_DUPLICATES, &je);
	if (!def) {
		cli_error("%s: malformed JSON at line %d column %d: %s", what, je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(def)) {
		json_decref(def);
		cli_error("%s: a VM definition must be a JSON object", what);
		return NULL;
	}
	json_object_del(def, "status");
	return def;
}
