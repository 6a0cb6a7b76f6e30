/*
 * vmdef.h - a VM's definition: what the user asked for, independent of
 * whether it runs.
 *
 * The definition is parsed from and written to JSON (docs/api.md, "VM
 * definition"); vmdef_from_json validates everything a user can get wrong,
 * so a struct vm_def that exists is always valid apart from checks that
 * need the host (volumes existing, files present), which the caller does.
 * Paths are absolute.  Strings are owned by the struct; vmdef_free releases
 * all of it.
 */
#ifndef CORRAL_CORE_VMDEF_H
#define CORRAL_CORE_VMDEF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "core/cloudinit.h"
#include "core/vmlimits.h"
#include "util/buf.h"

#define VM_MAX_DISKS 16
#define VM_MAX_TAGS 32
#define VM_MAX_CPUS 64
#define VM_MIN_MEMORY_MIB 16
#define VM_MAX_MEMORY_MIB (1024 * 1024)
#define VM_MAX_HOTPLUG_PORTS 16
#define VM_DEFAULT_HOTPLUG_PORTS 4
#define VM_MAX_DESCRIPTION 1024
/* Autostart order and delay ("start_order", "start_delay" in JSON). */
#define VM_MAX_START_ORDER 1000000
#define VM_MAX_START_DELAY 3600
#define VM_MAX_CMDLINE 4096
#define VM_MAX_BOOT_ENTRY 512
#define VM_MAX_NICS 4

enum disk_bus { DISK_BUS_VIRTIO, DISK_BUS_SCSI, DISK_BUS_IDE };
enum boot_mode { BOOT_FIRMWARE, BOOT_KERNEL, BOOT_DISK_KERNEL };
enum boot_dev { BOOT_DEV_DISK, BOOT_DEV_CDROM };
enum accel_mode { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
enum nic_mode { NIC_USER, NIC_NETWORK };
enum nic_model { NIC_VIRTIO, NIC_E1000 };
/* The firmware a VM boots with ("firmware" in JSON): SeaBIOS (QEMU's
 * default) or OVMF (UEFI, with a per-VM NVRAM vars file, docs/boot.md). */
enum vm_firmware { FIRMWARE_BIOS, FIRMWARE_UEFI };

struct vm_disk {
	char *volume;
	enum disk_bus bus;
	struct vm_disk_io io; /* "io" in JSON (vmlimits.h) */
};

/*
 * A NIC: QEMU's user-mode network (the default: nothing to set up on the
 * host) or a port on a corral network (a tap in its bridge, net/).  In
 * JSON "nics": [{"mode": "user"|"network", "network": NAME, "model":
 * "virtio"|"e1000", "mac": ..., "filter": BOOL, "vlan": SPEC, "bw": BITS}]
 * ("filter", default true: the port's traffic hygiene, docs/network.md;
 * "vlan": the port's VLANs on its bridge, net/vlan.h grammar, "10" or
 * "trunk:10/20"; "bw": a bandwidth limit in bits per second each way, 0 or
 * absent: none; all three only for network NICs); the single "nic" object
 * of older definitions is read as the first NIC.  A trunk needs filter off
 * (the filter drops tagged frames); bw needs it on (it polices what the
 * guest sends).
 */
struct vm_nic {
	enum nic_mode mode;
	char *network;     /* NIC_NETWORK: the network's name */
	enum nic_model model;
	char mac[18];
	bool filter;       /* NIC_NETWORK: traffic hygiene on its port (default true) */
	char *vlan;        /* NIC_NETWORK: VLAN spec as given (validated), NULL: none */
	uint64_t bw;       /* NIC_NETWORK: bandwidth limit in bits/s each way, 0: none */
};

/* Bounds of a NIC's bandwidth limit, bits/s (net/shape.h's, in bits). */
#define VM_NIC_BW_MIN 8000ULL
#define VM_NIC_BW_MAX (8ULL << 40)

struct vm_def {
	char *name;
	char uuid[37];
	char *description;
	char **tags;
	int ntags;
	int cpus;
	int64_t memory_mib;
	enum accel_mode accel;
	/* The QEMU machine type, concrete ("pc-q35-7.2"), pinned when the VM is
	 * created or first started so the guest's hardware stays the same on
	 * every host (qemu/machine.h); "machine" in JSON; NULL: not pinned yet. */
	char *machine;

	enum boot_mode boot_mode;
	enum boot_dev boot_order[2];
	int nboot_order;
	char *kernel, *initrd, *cmdline;
	/* BOOT_DISK_KERNEL: the entry of the first disk's boot configuration
	 * to boot (title, id or index; NULL: its default); "entry" in JSON. */
	char *boot_entry;

	struct vm_disk disks[VM_MAX_DISKS];
	int ndisks;
	char *cdrom; /* NULL: empty drive */

	struct vm_nic nics[VM_MAX_NICS];
	int nnics;

	bool vnc;
	char *vnc_listen;
	int vnc_display; /* -1: choose at start */

	bool rng;
	bool autostart;
	/* When corrald starts the autostart VMs: ascending start_order (ties by
	 * name), waiting start_delay seconds after this one; host shutdown
	 * stops them in the reverse order. */
	int start_order;
	int start_delay;
	int hotplug_ports;
	bool is_template; /* read-only template: cannot start, only be cloned ("template" in JSON) */
	bool balloon;     /* virtio-balloon device (default on) */
	bool agent;       /* QEMU guest agent channel (default on; "agent" in JSON; qemu/qga.h) */
	struct vm_limits limits; /* "limits" in JSON (vmlimits.h) */
	struct vm_cloudinit *cloudinit; /* "cloud_init" in JSON (cloudinit.h); NULL: no seed */
	/* Boot firmware and CPU model (docs/boot.md).  firmware: "bios" (the
	 * default) or "uefi"; secure_boot ("secure_boot", UEFI only): OVMF's
	 * Secure Boot build with Microsoft's keys enrolled.  cpu: "host", "max"
	 * or a QEMU CPU model name ("cpu" in JSON; NULL: host under KVM, max
	 * under TCG); a named model is checked against the host's QEMU by the
	 * service layer (vmdef only checks its spelling). */
	enum vm_firmware firmware;
	bool secure_boot;
	char *cpu;
};

const char *disk_bus_name(enum disk_bus b);
int disk_bus_parse(const char *s, enum disk_bus *out);
const char *accel_name(enum accel_mode a);
const char *nic_model_name(enum nic_model m);

/*
 * Build a definition from JSON.  `j` may carry a read-only "status" member
 * (ignored).  A missing uuid or MAC is generated.  Returns NULL with a
 * user-facing sentence in err on any invalid input.
 */
struct vm_def *vmdef_from_json(const json_t *j, struct buf *err);
/* Serialise (new reference). */
json_t *vmdef_to_json(const struct vm_def *d);
struct vm_def *vmdef_dup(const struct vm_def *d);
void vmdef_free(struct vm_def *d);

/* May a definition name machine type `name`: "q35" or "pc-q35-" and a version (digits, dots)? */
bool vmdef_machine_valid(const char *name);
/* Index of the disk using `volume`, or -1. */
int vmdef_disk_index(const struct vm_def *d, const char *volume);
const char *vmdef_firmware_name(enum vm_firmware f);
/* Could `name` be a CPU model: 1 to 63 of [A-Za-z0-9._-], starting with an alphanumeric? */
bool vmdef_cpu_valid(const char *name);
/* The NIC objects of definition JSON j: its "nics" elements, or its older
 * "nic" object; *n of them (at most VM_MAX_NICS), borrowed references. */
int vmdef_json_nics(const json_t *j, json_t *out[VM_MAX_NICS]);
/* Give every NIC of definition JSON j a new random MAC (copies and clones). */
void vmdef_json_renew_macs(json_t *j);
/* Remove NIC `index` (0 <= index < nnics), freeing what it owns. */
void vmdef_nic_remove(struct vm_def *d, int index);
/* Index of the NIC with `mac` (any case), or -1. */
int vmdef_nic_index(const struct vm_def *d, const char *mac);
/* Is m a unicast MAC written as 52:54:00:12:34:56 (hex digits in any case)? */
bool vmdef_mac_valid(const char *m);
/* Random locally administered MAC in QEMU's 52:54:00 range. */
void vmdef_random_mac(char out[18]);

#endif
