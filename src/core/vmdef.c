/*
 * vmdef.c - parsing, validating and serialising VM definitions.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "vmdef.h"
#include "net/vlan.h"
#include "util/jsonutil.h"
#include "util/strutil.h"
#include "util/common.h"

static const char *const bus_names[] = { "virtio", "scsi", "ide" };
static const char *const accel_names[] = { "auto", "kvm", "tcg" };

const char *disk_bus_name(enum disk_bus b) { return bus_names[b]; }
const char *accel_name(enum accel_mode a) { return accel_names[a]; }

static int parse_enum(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

int disk_bus_parse(const char *s, enum disk_bus *out)
{
	int i = parse_enum(s, bus_names, 3);
	if (i < 0)
		return -1;
	*out = (enum disk_bus)i;
	return 0;
}

void vmdef_random_mac(char out[18])
{
	unsigned char r[3] = { 0x12, 0x34, 0x56 };
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, r, sizeof(r)) != (ssize_t)sizeof(r))
			r[0] ^= (unsigned char)getpid();
		close(fd);
	}
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", r[0], r[1], r[2]);
}

bool vmdef_mac_valid(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		if (i % 3 == 2) {
			if (m[i] != ':')
				return false;
		} else if (!isxdigit((unsigned char)m[i])) {
			return false;
		}
	}
	/* unicast: lowest bit of first octet clear */
	int first = (int)strtol(m, NULL, 16);
	return (first & 1) == 0;
}

/* A path the user gives: absolute, no control characters, sane length. */
static int check_path(const char *field, const char *p, struct buf *err)
{
	if (p[0] != '/') {
		buf_printf(err, "%s must be an absolute path", field);
		return -1;
	}
	if (strlen(p) > 4096 || str_has_control(p)) {
		buf_printf(err, "%s is not a usable path", field);
		return -1;
	}
	return 0;
}

static int dup_str(const json_t *j, const char *key, char **out, struct buf *err)
{
	const char *s = NULL;
	int r = json_get_str(j, key, &s, err);
	if (r == 1)
		*out = xstrdup(s);
	return r;
}

static int parse_boot(struct vm_def *d, const json_t *b, struct buf *err)
{
	static const char *const keys[] = { "mode", "order", "kernel", "initrd", "cmdline", "entry", NULL };
	static const char *const modes[] = { "firmware", "kernel", "disk-kernel" };
	const char *mode = "firmware";

	if (json_check_keys(b, "boot", keys, err) < 0 || json_get_str(b, "mode", &mode, err) < 0)
		return -1;
	int m = parse_enum(mode, modes, 3);
	if (m < 0) {
		buf_printf(err, "boot.mode must be 'firmware', 'kernel' or 'disk-kernel'");
		return -1;
	}
	d->boot_mode = (enum boot_mode)m;
	json_t *order = json_object_get(b, "order");
	if (order) {
		if (d->boot_mode != BOOT_FIRMWARE) {
			buf_adds(err, "boot.order only applies to boot.mode 'firmware'");
			return -1;
		}
		if (!json_is_array(order) || json_array_size(order) < 1 || json_array_size(order) > 2) {
			buf_adds(err, "boot.order must be a list of 'disk' and/or 'cdrom'");
			return -1;
		}
		d->nboot_order = 0;
		size_t i;
		json_t *v;
		json_array_foreach(order, i, v) {
			const char *s = json_string_value(v);
			int dev = s ? (strcmp(s, "disk") == 0 ? BOOT_DEV_DISK : strcmp(s, "cdrom") == 0 ? BOOT_DEV_CDROM : -1) : -1;
			if (dev < 0 || (i == 1 && (int)d->boot_order[0] == dev)) {
				buf_adds(err, "boot.order must be a list of 'disk' and/or 'cdrom', each once");
				return -1;
			}
			d->boot_order[d->nboot_order++] = (enum boot_dev)dev;
		}
	}
	if (dup_str(b, "kernel", &d->kernel, err) < 0 || dup_str(b, "initrd", &d->initrd, err) < 0 ||
	    dup_str(b, "cmdline", &d->cmdline, err) < 0 || dup_str(b, "entry", &d->boot_entry, err) < 0)
		return -1;
	if (d->boot_entry && d->boot_mode != BOOT_DISK_KERNEL) {
		buf_adds(err, "boot.entry needs boot.mode 'disk-kernel'");
		return -1;
	}
	if (d->boot_entry && (!*d->boot_entry || strlen(d->boot_entry) > VM_MAX_BOOT_ENTRY ||
			      str_has_control(d->boot_entry))) {
		buf_printf(err, "boot.entry must be 1 to %d printable characters (a title, an id or an index)",
			   VM_MAX_BOOT_ENTRY);
		return -1;
	}
	if (d->boot_mode == BOOT_KERNEL) {
		if (!d->kernel) {
			buf_adds(err, "boot.mode 'kernel' needs boot.kernel");
			return -1;
		}
		if (check_path("boot.kernel", d->kernel, err) < 0 ||
		    (d->initrd && check_path("boot.initrd", d->initrd, err) < 0))
			return -1;
		if (d->cmdline && (strlen(d->cmdline) > VM_MAX_CMDLINE || str_has_control(d->cmdline))) {
			buf_printf(err, "boot.cmdline must be at most %d printable characters", VM_MAX_CMDLINE);
			return -1;
		}
	} else if (d->kernel || d->initrd || d->cmdline) {
		buf_printf(err, "boot.kernel, boot.initrd and boot.cmdline need boot.mode 'kernel'%s",
			   d->boot_mode == BOOT_DISK_KERNEL ? " ('disk-kernel' reads them from the first disk)" : "");
		return -1;
	}
	return 0;
}

static int parse_disks(struct vm_def *d, const json_t *arr, struct buf *err)
{
	static const char *const keys[] = { "volume", "bus", "io", NULL };
	size_t i;
	json_t *v;

	if (!json_is_array(arr)) {
		buf_adds(err, "disks must be a list");
		return -1;
	}
	if (json_array_size(arr) > VM_MAX_DISKS) {
		buf_printf(err, "a VM has at most %d disks", VM_MAX_DISKS);
		return -1;
	}
	json_array_foreach(arr, i, v) {
		const char *vol = NULL, *bus = "virtio";
		const char *bad;
		if (json_check_keys(v, "a disk", keys, err) < 0 || json_get_str(v, "volume", &vol, err) < 0 ||
		    json_get_str(v, "bus", &bus, err) < 0)
			return -1;
		if (!vol) {
			buf_printf(err, "disk %zu needs a volume", i);
			return -1;
		}
		if ((bad = str_name_invalid(vol))) {
			buf_printf(err, "disk volume: %s", bad);
			return -1;
		}
		if (vmdef_disk_index(d, vol) >= 0) {
			buf_printf(err, "volume '%s' is listed twice", vol);
			return -1;
		}
		if (disk_bus_parse(bus, &d->disks[d->ndisks].bus) < 0) {
			buf_adds(err, "disk bus must be virtio, scsi or ide");
			return -1;
		}
		json_t *io = json_object_get(v, "io");
		__do_free char *what = xasprintf("disk '%s'", vol);
		if (io && vmdisk_io_parse(&d->disks[d->ndisks].io, io, what, err) < 0)
			return -1;
		d->disks[d->ndisks++].volume = xstrdup(vol);
	}
	return 0;
}

static const char *const nic_model_names[] = { "virtio", "e1000" };

const char *nic_model_name(enum nic_model m) { return nic_model_names[m]; }

/* One NIC object (also the old single "nic"); `what` names it in messages. */
static int parse_one_nic(struct vm_def *d, const json_t *n, const char *what, struct buf *err)
{
	static const char *const keys[] = { "mode", "network", "model", "mac", "filter", "vlan", "bw", NULL };
	const char *mode = "user", *model = "virtio", *mac = NULL, *net = NULL, *vlan = NULL;
	struct vm_nic *nic = &d->nics[d->nnics];
	bool filter = true;
	int64_t bw = 0;

	if (!json_is_object(n)) {
		buf_printf(err, "%s must be an object", what);
		return -1;
	}
	if (json_check_keys(n, what, keys, err) < 0 || json_get_str(n, "mode", &mode, err) < 0 ||
	    json_get_str(n, "network", &net, err) < 0 || json_get_str(n, "model", &model, err) < 0 ||
	    json_get_str(n, "mac", &mac, err) < 0 || json_get_bool(n, "filter", &filter, err) < 0 ||
	    json_get_str(n, "vlan", &vlan, err) < 0)
		return -1;
	if (json_object_get(n, "bw") && !json_is_null(json_object_get(n, "bw"))) {
		__do_free char *field = xasprintf("%s.bw", what);
		if (json_get_int(n, "bw", 0, (int64_t)VM_NIC_BW_MAX, &bw, err) < 0)
			return -1;
		if (bw && bw < (int64_t)VM_NIC_BW_MIN) {
			buf_printf(err, "%s: a bandwidth limit is at least 8000 bits/s (8k); 0 is none", field);
			return -1;
		}
	}
	nic->filter = filter;
	if (strcmp(mode, "user") == 0) {
		if (net) {
			buf_printf(err, "%s: a user-mode NIC has no network (use mode 'network')", what);
			return -1;
		}
		if (json_object_get(n, "filter")) {
			buf_printf(err, "%s.filter: only a NIC on a network has a traffic filter", what);
			return -1;
		}
		if (vlan || bw) {
			buf_printf(err, "%s.%s: only a NIC on a network (net=NAME) has %s", what, vlan ? "vlan" : "bw",
				   vlan ? "VLANs" : "a bandwidth limit");
			return -1;
		}
		nic->mode = NIC_USER;
	} else if (strcmp(mode, "network") == 0) {
		const char *bad = net ? str_name_invalid(net) : "missing";
		if (bad) {
			buf_printf(err, "%s.network: %s", what, bad);
			return -1;
		}
		if (vlan) {
			struct vlan_spec vs = VLAN_SPEC_INIT;
			__do_buf struct buf why = BUF_INIT;
			if (vlan_spec_parse(vlan, &vs, &why) < 0) {
				buf_printf(err, "%s.%s", what, why.s);
				return -1;
			}
			bool trunk = vs.trunk;
			vlan_spec_release(&vs);
			if (trunk && filter) {
				buf_printf(err, "%s.vlan: a trunk carries tagged frames, which the traffic filter drops; "
					   "give filter=off with it", what);
				return -1;
			}
		}
		if (bw && !filter) {
			buf_printf(err, "%s.bw: the limit on what the guest sends is policed by the port's traffic "
				   "filter; a NIC with bw needs filter on", what);
			return -1;
		}
		nic->mode = NIC_NETWORK;
		nic->bw = (uint64_t)bw;
	} else {
		buf_printf(err, "%s.mode must be 'user' or 'network'", what);
		return -1;
	}
	int m = parse_enum(model, nic_model_names, 2);
	if (m < 0) {
		buf_printf(err, "%s.model must be 'virtio' or 'e1000'", what);
		return -1;
	}
	nic->model = (enum nic_model)m;
	if (mac) {
		if (!vmdef_mac_valid(mac)) {
			buf_printf(err, "%s.mac must look like 52:54:00:12:34:56 (unicast)", what);
			return -1;
		}
		snprintf(nic->mac, sizeof(nic->mac), "%s", mac);
		for (char *c = nic->mac; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (vmdef_nic_index(d, nic->mac) >= 0) {
			buf_printf(err, "%s.mac %s is used by another NIC of this VM", what, nic->mac);
			return -1;
		}
	}
	/* owned strings last: a NIC refused above leaves nothing to free */
	nic->network = net && nic->mode == NIC_NETWORK ? xstrdup(net) : NULL;
	nic->vlan = vlan ? xstrdup(vlan) : NULL;
	d->nnics++;
	return 0;
}

static int parse_nics(struct vm_def *d, const json_t *old, const json_t *list, struct buf *err)
{
	if (old && list) {
		buf_adds(err, "give either nics (a list) or the older nic, not both");
		return -1;
	}
	if (old) {
		if (json_is_null(old))
			return 0;
		return parse_one_nic(d, old, "nic", err);
	}
	if (!json_is_array(list) || json_array_size(list) > VM_MAX_NICS) {
		buf_printf(err, "nics must be a list of at most %d NICs", VM_MAX_NICS);
		return -1;
	}
	size_t i;
	json_t *n;
	json_array_foreach(list, i, n) {
		char what[32];
		snprintf(what, sizeof(what), "nics[%zu]", i);
		if (parse_one_nic(d, n, what, err) < 0)
			return -1;
	}
	return 0;
}

static int parse_vnc(struct vm_def *d, const json_t *v, struct buf *err)
{
	static const char *const keys[] = { "listen", "display", NULL };
	const char *listen = "127.0.0.1";
	int64_t display = -1;

	if (json_is_null(v)) {
		d->vnc = false;
		return 0;
	}
	if (json_check_keys(v, "vnc", keys, err) < 0 || json_get_str(v, "listen", &listen, err) < 0 ||
	    json_get_int(v, "display", 0, 65535 - 5900, &display, err) < 0)
		return -1;
	for (const char *c = listen; *c; c++) {
		if (!(isalnum((unsigned char)*c) || *c == '.' || *c == ':' || *c == '-')) {
			buf_adds(err, "vnc.listen must be an IP address or host name");
			return -1;
		}
	}
	if (!*listen || strlen(listen) > 255) {
		buf_adds(err, "vnc.listen must be an IP address or host name");
		return -1;
	}
	if (strchr(listen, ':')) {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, listen, &a6) != 1) {
			buf_adds(err, "vnc.listen with ':' must be an IPv6 address (no port: use vnc.display)");
			return -1;
		}
	}
	d->vnc = true;
	d->vnc_listen = xstrdup(listen);
	d->vnc_display = (int)display;
	return 0;
}

static const char *const firmware_names[] = { "bios", "uefi" };

const char *vmdef_firmware_name(enum vm_firmware f) { return firmware_names[f]; }

bool vmdef_cpu_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 1 || n > 63 || !isalnum((unsigned char)name[0]))
		return false;
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

/* "firmware", "secure_boot" and "cpu" (vmdef.h). */
static int parse_firmware_cpu(struct vm_def *d, const json_t *j, struct buf *err)
{
	const char *fw = "bios";
	if (json_get_str(j, "firmware", &fw, err) < 0 || json_get_bool(j, "secure_boot", &d->secure_boot, err) < 0 ||
	    dup_str(j, "cpu", &d->cpu, err) < 0)
		return -1;
	int f = parse_enum(fw, firmware_names, 2);
	if (f < 0) {
		buf_adds(err, "firmware must be bios or uefi");
		return -1;
	}
	d->firmware = (enum vm_firmware)f;
	if (d->secure_boot && d->firmware != FIRMWARE_UEFI) {
		buf_adds(err, "secure_boot needs firmware uefi");
		return -1;
	}
	/* OVMF verifies what it loads: a kernel handed over by QEMU is not signed
	 * for the enrolled (Microsoft) keys, so it would never boot. */
	if (d->secure_boot && d->boot_mode != BOOT_FIRMWARE) {
		buf_adds(err, "secure_boot needs boot mode firmware (a shim and boot loader on the disk): "
			      "Secure Boot refuses a kernel QEMU hands over directly");
		return -1;
	}
	if (d->cpu && !vmdef_cpu_valid(d->cpu)) {
		buf_adds(err, "cpu must be host, max or a CPU model name such as Skylake-Server-v4 "
			      "(letters, digits, '.', '_', '-')");
		return -1;
	}
	return 0;
}

static int parse_tags(struct vm_def *d, const json_t *arr, struct buf *err)
{
	size_t i;
	json_t *v;
	if (!json_is_array(arr) || json_array_size(arr) > VM_MAX_TAGS) {
		buf_printf(err, "tags must be a list of at most %d names", VM_MAX_TAGS);
		return -1;
	}
	d->tags = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		const char *bad = s ? str_name_invalid(s) : "tag must be a string";
		if (bad) {
			buf_printf(err, "tag: %s", bad);
			return -1;
		}
		d->tags[d->ntags++] = xstrdup(s);
	}
	return 0;
}

struct vm_def *vmdef_from_json(const json_t *j, struct buf *err)
{
	static const char *const keys[] = { "name", "uuid", "description", "tags", "cpus", "memory_mib",
					    "accel", "boot", "disks", "cdrom", "nic", "nics", "vnc", "rng",
					    "autostart", "hotplug_ports", "template", "status", "balloon",
					    "limits", "machine", "start_order", "start_delay", "cloud_init", "firmware",
					    "secure_boot", "cpu", "agent", NULL };
	struct vm_def *d = xcalloc(1, sizeof(*d));
	const char *name = NULL, *uuid = NULL, *accel = "auto", *cdrom = NULL, *bad;
	int64_t cpus = 1, mem = 256, ports = VM_DEFAULT_HOTPLUG_PORTS, order = 0, delay = 0;
	json_t *v;

	d->rng = true;
	d->balloon = true;
	d->agent = true;
	d->limits = (struct vm_limits)VM_LIMITS_INIT;
	d->boot_mode = BOOT_FIRMWARE;
	d->boot_order[0] = BOOT_DEV_DISK;
	d->boot_order[1] = BOOT_DEV_CDROM;
	d->nboot_order = 2;
	d->vnc_display = -1;

	if (json_check_keys(j, "the VM definition", keys, err) < 0)
		goto fail;
	if (json_get_str(j, "name", &name, err) < 0 || json_get_str(j, "uuid", &uuid, err) < 0 ||
	    json_get_str(j, "accel", &accel, err) < 0 || json_get_int(j, "cpus", 1, VM_MAX_CPUS, &cpus, err) < 0 ||
	    json_get_int(j, "memory_mib", VM_MIN_MEMORY_MIB, VM_MAX_MEMORY_MIB, &mem, err) < 0 ||
	    json_get_int(j, "hotplug_ports", 0, VM_MAX_HOTPLUG_PORTS, &ports, err) < 0 ||
	    json_get_int(j, "start_order", 0, VM_MAX_START_ORDER, &order, err) < 0 ||
	    json_get_int(j, "start_delay", 0, VM_MAX_START_DELAY, &delay, err) < 0 ||
	    json_get_bool(j, "rng", &d->rng, err) < 0 || json_get_bool(j, "autostart", &d->autostart, err) < 0 ||
	    json_get_bool(j, "template", &d->is_template, err) < 0 || json_get_bool(j, "balloon", &d->balloon, err) < 0 ||
	    json_get_bool(j, "agent", &d->agent, err) < 0 ||
	    dup_str(j, "description", &d->description, err) < 0 || dup_str(j, "machine", &d->machine, err) < 0)
		goto fail;
	if (d->machine && !vmdef_machine_valid(d->machine)) {
		buf_adds(err, "machine must be q35 or a versioned q35 type such as pc-q35-7.2 (corral builds q35 machines)");
		goto fail;
	}
	if (!name) {
		buf_adds(err, "the VM needs a name");
		goto fail;
	}
	if ((bad = str_name_invalid(name))) {
		buf_printf(err, "invalid VM name: %s", bad);
		goto fail;
	}
	{
		uuid_t u;
		/* A name that reads as a uuid would make plain selectors ambiguous. */
		if (uuid_parse(name, u) == 0) {
			buf_adds(err, "invalid VM name: a VM name must not look like a uuid");
			goto fail;
		}
	}
	d->name = xstrdup(name);
	if (uuid) {
		uuid_t u;
		if (uuid_parse(uuid, u) < 0) {
			buf_adds(err, "uuid is not a valid UUID");
			goto fail;
		}
		uuid_unparse_lower(u, d->uuid);
	} else {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, d->uuid);
	}
	if (d->description && (strlen(d->description) > VM_MAX_DESCRIPTION || str_has_control(d->description))) {
		buf_printf(err, "description must be at most %d printable characters", VM_MAX_DESCRIPTION);
		goto fail;
	}
	int a = parse_enum(accel, accel_names, 3);
	if (a < 0) {
		buf_adds(err, "accel must be auto, kvm or tcg");
		goto fail;
	}
	d->accel = (enum accel_mode)a;
	d->cpus = (int)cpus;
	d->memory_mib = mem;
	d->hotplug_ports = (int)ports;
	d->start_order = (int)order;
	d->start_delay = (int)delay;

	if ((v = json_object_get(j, "tags")) && parse_tags(d, v, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "limits")) && vmlimits_parse(&d->limits, v, d->memory_mib, err) < 0)
		goto fail;
	if (d->limits.memory_target_mib && !d->balloon) {
		buf_adds(err, "limits.memory_target_mib needs the balloon device (balloon: true)");
		goto fail;
	}
	if ((v = json_object_get(j, "boot")) && parse_boot(d, v, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "disks")) && parse_disks(d, v, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "cdrom")) && !json_is_null(v)) {
		if (json_get_str(j, "cdrom", &cdrom, err) < 0 || check_path("cdrom", cdrom, err) < 0)
			goto fail;
		d->cdrom = xstrdup(cdrom);
	}
	{
		json_t *old = json_object_get(j, "nic"), *list = json_object_get(j, "nics");
		if (!old && !list) {
			d->nnics = 1; /* the default: one user-mode virtio NIC */
		} else if (parse_nics(d, old, list, err) < 0) {
			goto fail;
		}
		for (int i = 0; i < d->nnics; i++)
			while (!d->nics[i].mac[0] || vmdef_nic_index(d, d->nics[i].mac) != i)
				vmdef_random_mac(d->nics[i].mac);
	}
	if ((v = json_object_get(j, "vnc")) && parse_vnc(d, v, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "cloud_init")) && !json_is_null(v) && cloudinit_parse(v, &d->cloudinit, err) < 0)
		goto fail;
	if (parse_firmware_cpu(d, j, err) < 0)
		goto fail;
	if ((v = json_object_get(j, "status")) && !json_is_object(v)) {
		buf_adds(err, "status must be an object (it is read-only and ignored)");
		goto fail;
	}
	if (d->cloudinit) { /* the seed can be written: a host name comes out of the VM's name */
		struct cloudinit_seed seed;
		int r = cloudinit_seed_make(d, &seed, err);
		cloudinit_seed_release(&seed);
		if (r < 0)
			goto fail;
	}
	return d;
fail:
	vmdef_free(d);
	return NULL;
}

json_t *vmdef_to_json(const struct vm_def *d)
{
	json_t *j = json_object(), *tags = json_array(), *disks = json_array(), *boot = json_object();

	json_object_set_new(j, "name", json_string(d->name));
	json_object_set_new(j, "uuid", json_string(d->uuid));
	json_object_set_new(j, "description", json_string(d->description ? d->description : ""));
	for (int i = 0; i < d->ntags; i++)
		json_array_append_new(tags, json_string(d->tags[i]));
	json_object_set_new(j, "tags", tags);
	if (d->machine)
		json_object_set_new(j, "machine", json_string(d->machine));
	json_object_set_new(j, "cpus", json_integer(d->cpus));
	json_object_set_new(j, "memory_mib", json_integer(d->memory_mib));
	json_object_set_new(j, "accel", json_string(accel_name(d->accel)));
	if (d->boot_mode == BOOT_FIRMWARE) {
		json_t *order = json_array();
		json_object_set_new(boot, "mode", json_string("firmware"));
		for (int i = 0; i < d->nboot_order; i++)
			json_array_append_new(order, json_string(d->boot_order[i] == BOOT_DEV_DISK ? "disk" : "cdrom"));
		json_object_set_new(boot, "order", order);
	} else if (d->boot_mode == BOOT_DISK_KERNEL) {
		json_object_set_new(boot, "mode", json_string("disk-kernel"));
		if (d->boot_entry)
			json_object_set_new(boot, "entry", json_string(d->boot_entry));
	} else {
		json_object_set_new(boot, "mode", json_string("kernel"));
		json_object_set_new(boot, "kernel", json_string(d->kernel));
		if (d->initrd)
			json_object_set_new(boot, "initrd", json_string(d->initrd));
		if (d->cmdline)
			json_object_set_new(boot, "cmdline", json_string(d->cmdline));
	}
	json_object_set_new(j, "boot", boot);
	for (int i = 0; i < d->ndisks; i++)
	{
		json_t *disk = json_pack("{s:s,s:s}", "volume", d->disks[i].volume, "bus", disk_bus_name(d->disks[i].bus));
		if (vmdisk_io_any(&d->disks[i].io))
			json_object_set_new(disk, "io", vmdisk_io_to_json(&d->disks[i].io));
		json_array_append_new(disks, disk);
	}
	json_object_set_new(j, "disks", disks);
	json_object_set_new(j, "cdrom", d->cdrom ? json_string(d->cdrom) : json_null());
	{
		json_t *nics = json_array();
		for (int i = 0; i < d->nnics; i++) {
			const struct vm_nic *n = &d->nics[i];
			json_t *o = json_pack("{s:s,s:s,s:s}", "mode", n->mode == NIC_USER ? "user" : "network", "model",
					      nic_model_name(n->model), "mac", n->mac);
			if (n->network) {
				json_object_set_new(o, "network", json_string(n->network));
				json_object_set_new(o, "filter", json_boolean(n->filter));
			}
			if (n->vlan)
				json_object_set_new(o, "vlan", json_string(n->vlan));
			if (n->bw)
				json_object_set_new(o, "bw", json_integer((json_int_t)n->bw));
			json_array_append_new(nics, o);
		}
		json_object_set_new(j, "nics", nics);
	}
	if (d->vnc) {
		json_t *vnc = json_pack("{s:s}", "listen", d->vnc_listen);
		if (d->vnc_display >= 0)
			json_object_set_new(vnc, "display", json_integer(d->vnc_display));
		json_object_set_new(j, "vnc", vnc);
	} else {
		json_object_set_new(j, "vnc", json_null());
	}
	json_object_set_new(j, "rng", json_boolean(d->rng));
	json_object_set_new(j, "autostart", json_boolean(d->autostart));
	json_object_set_new(j, "start_order", json_integer(d->start_order));
	json_object_set_new(j, "start_delay", json_integer(d->start_delay));
	json_object_set_new(j, "hotplug_ports", json_integer(d->hotplug_ports));
	json_object_set_new(j, "template", json_boolean(d->is_template));
	json_object_set_new(j, "balloon", json_boolean(d->balloon));
	json_object_set_new(j, "agent", json_boolean(d->agent));
	json_object_set_new(j, "limits", vmlimits_to_json(&d->limits));
	if (d->cloudinit)
		json_object_set_new(j, "cloud_init", cloudinit_to_json(d->cloudinit));
	json_object_set_new(j, "firmware", json_string(vmdef_firmware_name(d->firmware)));
	if (d->secure_boot)
		json_object_set_new(j, "secure_boot", json_true());
	if (d->cpu)
		json_object_set_new(j, "cpu", json_string(d->cpu));
	return j;
}

struct vm_def *vmdef_dup(const struct vm_def *d)
{
	__do_json json_t *j = vmdef_to_json(d);
	struct buf err = BUF_INIT;
	struct vm_def *c = vmdef_from_json(j, &err);
	buf_release(&err);
	return c;
}

void vmdef_free(struct vm_def *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->description);
	free(d->machine);
	free(d->cpu);
	for (int i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	free(d->kernel);
	free(d->initrd);
	free(d->cmdline);
	free(d->boot_entry);
	for (int i = 0; i < d->ndisks; i++)
		free(d->disks[i].volume);
	free(d->cdrom);
	free(d->vnc_listen);
	vmlimits_release(&d->limits);
	cloudinit_free(d->cloudinit);
	for (int i = 0; i < d->nnics; i++) {
		free(d->nics[i].network);
		free(d->nics[i].vlan);
	}
	free(d);
}

bool vmdef_machine_valid(const char *name)
{
	if (!name)
		return false;
	if (strcmp(name, "q35") == 0)
		return true;
	if (strncmp(name, "pc-q35-", 7) != 0 || strlen(name) > 32 || !name[7])
		return false;
	for (const char *p = name + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	return true;
}

int vmdef_disk_index(const struct vm_def *d, const char *volume)
{
	for (int i = 0; i < d->ndisks; i++)
		if (strcmp(d->disks[i].volume, volume) == 0)
			return i;
	return -1;
}

void vmdef_nic_remove(struct vm_def *d, int index)
{
	free(d->nics[index].network);
	free(d->nics[index].vlan);
	memmove(&d->nics[index], &d->nics[index + 1], sizeof(d->nics[0]) * (size_t)(d->nnics - index - 1));
	d->nnics--;
}

int vmdef_nic_index(const struct vm_def *d, const char *mac)
{
	for (int i = 0; i < d->nnics; i++)
		if (strcasecmp(d->nics[i].mac, mac) == 0)
			return i;
	return -1;
}

int vmdef_json_nics(const json_t *j, json_t *out[VM_MAX_NICS])
{
	json_t *old = json_object_get(j, "nic"), *list = json_object_get(j, "nics"), *n;
	int k = 0;
	size_t i;
	if (json_is_object(old))
		out[k++] = old;
	json_array_foreach(list, i, n)
		if (k < VM_MAX_NICS && json_is_object(n))
			out[k++] = n;
	return k;
}

void vmdef_json_renew_macs(json_t *j)
{
	json_t *nics[VM_MAX_NICS];
	int n = vmdef_json_nics(j, nics);
	for (int i = 0; i < n; i++) {
		char mac[18];
		vmdef_random_mac(mac);
		json_object_set_new(nics[i], "mac", json_string(mac));
	}
}
