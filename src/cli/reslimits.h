/*
 * reslimits.h - resource limit flags of the CLI and the verbs built on them
 * (cmd_limits.c): `vm set`, `vm limits`, and the limit flags `vm create`
 * and `disk attach` also take.
 *
 * The flags only shape JSON (docs/api.md: a definition's "limits" and a
 * disk's "io", or the body of POST /v1/vms/{vm}/limits); corrald validates
 * every value.  "none" (or "default" for --memory-limit) becomes null,
 * which in a change returns the field to its default.  Per-disk flags
 * (--iops, --bps, ...) apply to the disk named by the last --disk (vm set)
 * or to the one disk of the verb (disk attach); --disk-iops VOL=N and
 * --disk-bps VOL=SIZE name the disk themselves.
 */
#ifndef CORRAL_CLI_RESLIMITS_H
#define CORRAL_CLI_RESLIMITS_H

#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>

#include "cli.h"
#include "output.h"

enum limits_opt {
	LIMITS_OPT_CPU_WEIGHT = CLI_OPT_FIRST + 200,
	LIMITS_OPT_CPU_LIMIT,
	LIMITS_OPT_CPUSET,
	LIMITS_OPT_MEMORY_LIMIT,
	LIMITS_OPT_MEMORY_TARGET,
	LIMITS_OPT_DISK_IOPS,
	LIMITS_OPT_DISK_BPS,
	/* one disk's: */
	LIMITS_OPT_IOPS,
	LIMITS_OPT_IOPS_RD,
	LIMITS_OPT_IOPS_WR,
	LIMITS_OPT_BPS,
	LIMITS_OPT_BPS_RD,
	LIMITS_OPT_BPS_WR,
	LIMITS_OPT_IOPS_MAX,
	LIMITS_OPT_BPS_MAX,
	LIMITS_OPT_BURST,
	LIMITS_OPT_NO_IO,
	LIMITS_OPT_END,
};

#define LIMITS_VM_OPTIONS                                                          \
	{ "cpu-weight", required_argument, NULL, LIMITS_OPT_CPU_WEIGHT },          \
	{ "cpu-limit", required_argument, NULL, LIMITS_OPT_CPU_LIMIT },            \
	{ "cpuset", required_argument, NULL, LIMITS_OPT_CPUSET },                  \
	{ "memory-limit", required_argument, NULL, LIMITS_OPT_MEMORY_LIMIT },      \
	{ "memory-target", required_argument, NULL, LIMITS_OPT_MEMORY_TARGET },    \
	{ "disk-iops", required_argument, NULL, LIMITS_OPT_DISK_IOPS },            \
	{ "disk-bps", required_argument, NULL, LIMITS_OPT_DISK_BPS }

#define LIMITS_DISK_OPTIONS                                                        \
	{ "iops", required_argument, NULL, LIMITS_OPT_IOPS },                      \
	{ "iops-rd", required_argument, NULL, LIMITS_OPT_IOPS_RD },                \
	{ "iops-wr", required_argument, NULL, LIMITS_OPT_IOPS_WR },                \
	{ "bps", required_argument, NULL, LIMITS_OPT_BPS },                        \
	{ "bps-rd", required_argument, NULL, LIMITS_OPT_BPS_RD },                  \
	{ "bps-wr", required_argument, NULL, LIMITS_OPT_BPS_WR },                  \
	{ "iops-max", required_argument, NULL, LIMITS_OPT_IOPS_MAX },              \
	{ "bps-max", required_argument, NULL, LIMITS_OPT_BPS_MAX },                \
	{ "burst", required_argument, NULL, LIMITS_OPT_BURST },                    \
	{ "no-io-limits", no_argument, NULL, LIMITS_OPT_NO_IO }

#define LIMITS_VM_HELP                                                              \
	"  --cpu-weight N        CPU weight 1..10000 against other VMs (host\n"         \
	"                        default 100 = cgroup v1's 1024 shares)\n"            \
	"  --cpu-limit CPUS      at most this many CPUs' time, e.g. 0.5 or 1.5\n"     \
	"  --cpuset LIST         run only on these host CPUs, e.g. 0-1,3\n"           \
	"  --memory-limit SIZE   hard limit of the VM's QEMU (default: the guest's\n" \
	"                        memory plus QEMU's overhead, docs/limits.md)\n"     \
	"  --memory-target SIZE  balloon the guest down to SIZE\n"                    \
	"  --disk-iops VOL=N     I/O operations per second of disk VOL\n"             \
	"  --disk-bps VOL=SIZE   bytes per second of disk VOL (e.g. 10M)\n"
#define LIMITS_DISK_HELP                                                            \
	"  --iops N, --iops-rd N, --iops-wr N\n"                                       \
	"                        I/O operations per second: total, or reads and\n"    \
	"                        writes apart\n"                                        \
	"  --bps SIZE, --bps-rd SIZE, --bps-wr SIZE\n"                                 \
	"                        bytes per second, the same way (e.g. 20M)\n"        \
	"  --iops-max N, --bps-max SIZE\n"                                             \
	"                        bursts above --iops/--bps allowed for --burst\n"     \
	"                        seconds (default 1)\n"

struct limits_flags {
	json_t *limits;   /* {"cpu_weight": .., ...}, null members: back to default */
	json_t *disks;    /* {"VOL": {"iops": .., ...} or null} */
	char *disk;       /* the disk per-disk flags apply to */
	bool any;
};
#define LIMITS_FLAGS_INIT { NULL, NULL, NULL, false }
void limits_flags_release(struct limits_flags *f);
#define __do_limits_flags __attribute__((cleanup(limits_flags_release)))

/* Is opt one of the LIMITS_OPT_* values? */
bool limits_opt_is(int opt);
/* Record one flag.  CLI_OK or a usage error (printed). */
int limits_flags_parse(struct limits_flags *f, const char *cmd, int opt, const char *arg);
/* vm create: put the flags into the definition (nulls dropped); a disk the
 * definition lacks is a usage error. */
int limits_flags_to_def(struct limits_flags *f, const char *cmd, json_t *def);

/* vm show: the limits and balloon lines of a VM answer. */
void limits_show_lines(struct table *t, const json_t *vm);

int cli_vm_set(struct cli *cli, int argc, char **argv);
int cli_vm_limits(struct cli *cli, int argc, char **argv);

#endif
