/*
 * vmdef.h - turning `vm create` / `vm edit` flags into a VM definition.
 *
 * Both verbs parse their flags into a struct vmdef_flags (the verb's
 * getopt loop hands every VMDEF_OPT_* value to vmdef_flags_parse) and then
 * apply them to a definition object (docs/api.md "VM definition"): an
 * empty one or a --from file for create, the VM's current definition for
 * edit.  Flags override the fields they name and leave the rest alone.
 *
 * Differences between the two modes: on create, --disk and --tag replace
 * the lists they build; on edit, --disk adds a disk (or changes the bus of
 * one already there) and --remove-disk removes one, --tag still replaces
 * the tag list (--no-tags empties it).
 */
#ifndef CORRAL_CLI_VMDEF_H
#define CORRAL_CLI_VMDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "cli.h"
#include "cloudinit.h"

enum vmdef_opt {
	VMDEF_OPT_CPUS = CLI_OPT_FIRST,
	VMDEF_OPT_MEMORY,
	VMDEF_OPT_DISK,
	VMDEF_OPT_CDROM,
	VMDEF_OPT_KERNEL,
	VMDEF_OPT_INITRD,
	VMDEF_OPT_CMDLINE,
	VMDEF_OPT_BOOT,
	VMDEF_OPT_VNC,
	VMDEF_OPT_RNG,
	VMDEF_OPT_NO_RNG,
	VMDEF_OPT_NO_NIC,
	VMDEF_OPT_MAC,
	VMDEF_OPT_AUTOSTART,
	VMDEF_OPT_DESCRIPTION,
	VMDEF_OPT_TAG,
	VMDEF_OPT_ACCEL,
	VMDEF_OPT_HOTPLUG_PORTS,
	VMDEF_OPT_FROM,
	VMDEF_OPT_BOOT_ENTRY,
	VMDEF_OPT_NIC,
	VMDEF_OPT_MACHINE,
	VMDEF_OPT_START_ORDER,
	VMDEF_OPT_START_DELAY,
	VMDEF_OPT_FIRMWARE,
	VMDEF_OPT_SECURE_BOOT,
	VMDEF_OPT_CPU,
	VMDEF_OPT_AGENT,
	/* vm edit only */
	VMDEF_OPT_REMOVE_DISK,
	VMDEF_OPT_NO_VNC,
	VMDEF_OPT_NO_AUTOSTART,
	VMDEF_OPT_NO_CDROM,
	VMDEF_OPT_BOOT_MODE,
	VMDEF_OPT_NO_TAGS,
	VMDEF_OPT_END,		/* first value free for the verbs' own options */
};

/* The options both verbs take (put in the verb's struct option table). */
#define VMDEF_OPTIONS                                                        \
	{ "cpus", required_argument, NULL, VMDEF_OPT_CPUS },                 \
	{ "memory", required_argument, NULL, VMDEF_OPT_MEMORY },             \
	{ "disk", required_argument, NULL, VMDEF_OPT_DISK },                 \
	{ "cdrom", required_argument, NULL, VMDEF_OPT_CDROM },               \
	{ "kernel", required_argument, NULL, VMDEF_OPT_KERNEL },             \
	{ "initrd", required_argument, NULL, VMDEF_OPT_INITRD },             \
	{ "cmdline", required_argument, NULL, VMDEF_OPT_CMDLINE },           \
	{ "boot", required_argument, NULL, VMDEF_OPT_BOOT },                 \
	{ "vnc", optional_argument, NULL, VMDEF_OPT_VNC },                   \
	{ "rng", no_argument, NULL, VMDEF_OPT_RNG },                         \
	{ "no-rng", no_argument, NULL, VMDEF_OPT_NO_RNG },                   \
	{ "no-nic", no_argument, NULL, VMDEF_OPT_NO_NIC },                   \
	{ "mac", required_argument, NULL, VMDEF_OPT_MAC },                   \
	{ "autostart", no_argument, NULL, VMDEF_OPT_AUTOSTART },             \
	{ "description", required_argument, NULL, VMDEF_OPT_DESCRIPTION },   \
	{ "tag", required_argument, NULL, VMDEF_OPT_TAG },                   \
	{ "accel", required_argument, NULL, VMDEF_OPT_ACCEL },               \
	{ "hotplug-ports", required_argument, NULL, VMDEF_OPT_HOTPLUG_PORTS }, \
	{ "from", required_argument, NULL, VMDEF_OPT_FROM },                 \
	{ "boot-entry", required_argument, NULL, VMDEF_OPT_BOOT_ENTRY },     \
	{ "nic", required_argument, NULL, VMDEF_OPT_NIC },                   \
	{ "machine", required_argument, NULL, VMDEF_OPT_MACHINE },           \
	{ "start-order", required_argument, NULL, VMDEF_OPT_START_ORDER },   \
	{ "start-delay", required_argument, NULL, VMDEF_OPT_START_DELAY },   \
	{ "firmware", required_argument, NULL, VMDEF_OPT_FIRMWARE },         \
	{ "secure-boot", no_argument, NULL, VMDEF_OPT_SECURE_BOOT },         \
	{ "cpu", required_argument, NULL, VMDEF_OPT_CPU },                   \
	{ "agent", required_argument, NULL, VMDEF_OPT_AGENT },               \
	CI_OPTIONS

#define VMDEF_EDIT_OPTIONS                                                   \
	{ "remove-disk", required_argument, NULL, VMDEF_OPT_REMOVE_DISK },   \
	{ "no-vnc", no_argument, NULL, VMDEF_OPT_NO_VNC },                   \
	{ "no-autostart", no_argument, NULL, VMDEF_OPT_NO_AUTOSTART },       \
	{ "no-cdrom", no_argument, NULL, VMDEF_OPT_NO_CDROM },               \
	{ "boot-mode", required_argument, NULL, VMDEF_OPT_BOOT_MODE },       \
	{ "no-tags", no_argument, NULL, VMDEF_OPT_NO_TAGS }

struct strvec {
	char **v;
	size_t n;
};

struct vmdef_flags {
	bool any;		/* some flag other than --from was given */
	bool has_cpus, has_memory, has_hotplug_ports;
	int64_t cpus, memory_mib, hotplug_ports;
	struct strvec disks;	/* "VOL" or "VOL:BUS" */
	struct strvec remove_disks;
	struct strvec tags;
	bool no_tags;
	char *cdrom;		/* absolute */
	bool no_cdrom;
	char *kernel, *initrd;	/* absolute */
	const char *cmdline;
	const char *boot_order;	/* "disk,cdrom" */
	const char *boot_mode;	/* also "disk-kernel" from --boot disk-kernel */
	const char *boot_entry;	/* --boot-entry: implies disk-kernel; "" clears it */
	bool vnc, no_vnc;
	char *vnc_listen;	/* NULL: 127.0.0.1 */
	int64_t vnc_display;	/* -1: chosen by corrald */
	bool rng, no_rng;
	int agent;		/* --agent on|off: 1/0, -1 not given */
	bool no_nic;
	const char *mac;
	struct strvec nics;	/* --nic: "user[,...]" or "net=NAME[,mac=..][,model=..]"; replace the list */
	bool autostart, no_autostart;
	int64_t start_order, start_delay; /* -1: not given */
	const char *description;
	const char *machine;
	const char *accel;
	const char *from;	/* --from FILE ("-" = stdin) */
	struct ci_flags ci;	/* --cloud-init, --ci-* (cloudinit.h) */
	const char *firmware;	/* --firmware bios|uefi */
	bool secure_boot;	/* --secure-boot (implies uefi) */
	const char *cpu;	/* --cpu host|max|MODEL */
};

#define VMDEF_FLAGS_INIT { .vnc_display = -1, .start_order = -1, .start_delay = -1, .agent = -1 }

void vmdef_flags_release(struct vmdef_flags *f);
static inline void cleanup_vmdef_flags(struct vmdef_flags *f) { vmdef_flags_release(f); }
#define __do_vmdef_flags __attribute__((cleanup(cleanup_vmdef_flags)))

/*
 * Record one option (a VMDEF_OPT_* value from cli_getopt, with optarg as
 * `arg`).  `a` is the running argument vector: --vnc without "=" takes the
 * next argument when it can only be a LISTEN:DISPLAY (it contains ':').
 * Returns CLI_OK or CLI_USAGE (message printed).
 */
int vmdef_flags_parse(struct vmdef_flags *f, const struct cli_args *a, int opt, const char *arg);

/* One --nic SPEC ("user" or "net=NAME", then ",mac=MAC", ",model=M") as a NIC
 * object (new reference in *out); -1 with the message printed. */
int vmdef_nic_from_spec(const char *spec, json_t **out);

/* After the loop: reject contradicting flags.  CLI_OK or CLI_USAGE. */
int vmdef_flags_check(const struct vmdef_flags *f, const char *cmd);

/* Apply the flags to `def` in place (see the top of this file for `edit`).
 * CLI_OK, or CLI_FAIL with the message printed. */
int vmdef_apply(const struct vmdef_flags *f, json_t *def, bool edit);

/* Read a definition file ("-" = stdin) as a JSON object, without its
 * read-only "status" member.  New reference, or NULL with the error printed. */
json_t *vmdef_load(const char *path);

#endif
