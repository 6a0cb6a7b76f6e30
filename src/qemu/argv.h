/*
 * argv.h - the QEMU command line for a VM definition.
 *
 * Pure function of its inputs (no I/O), so it is tested with golden files
 * (tests/data/argv/NAME.json -> NAME.args).  Layout of the machine:
 *   q35 (graphics=off without VNC: firmware output on the serial
 *   console), `-nodefaults`, QMP and serial on unix sockets in the run dir, the
 *   serial output also logged to console.log, `-no-shutdown` (corrald
 *   decides what a guest power-off means: quit, or reset for a graceful
 *   reboot).  No -daemonize: corrald starts QEMU as a direct child in its
 *   own session (runtime.c); `-sandbox` denies obsolete syscalls, privilege
 *   changes, fork/exec and resource control once QEMU is up (and would
 *   kill -daemonize's fork).  Under TCG the translation cache is sized by
 *   qemu_tcg_tb_size().
 *   Files QEMU does not own are handed over as fds: the CD-ROM medium is
 *   `/dev/fdset/<cdrom_fdset>` over `-add-fd fd=<cdrom_fd>`; kernels and
 *   initrds are copies in the run dir (boot_kernel, boot_initrd).
 *   Disk slot i uses node "disk<i>" (format) over "disk<i>-file" and device
 *   id "disk<i>"; a virtio disk in slot i sits on root port "rp<i>".  There
 *   are ndisks + hotplug_ports root ports, so every free slot can take a
 *   hot-added virtio disk.  IDE disks take AHCI ports ide.0,1,3,4,5; the
 *   CD-ROM drive "cdrom0" is always present on ide.2 (empty unless a medium
 *   is defined) so media can be changed while running.  A VM with
 *   cloud-init has a second, read-only CD-ROM drive "cidata0" on ide.5
 *   holding its seed (node "cidata0-media" over "cidata0-file"), which
 *   leaves room for 4 IDE disks; it is never a boot device.
 *   The balloon (unless the definition turns it off) is virtio-balloon-pci
 *   "balloon0" on pcie.0, without deflate-on-oom, so an inflated balloon
 *   shows as less MemTotal in the guest.  Resource limits are not on the
 *   command line: the cgroup is set before QEMU runs and disk I/O limits
 *   and the balloon target go over QMP before the guest's first instruction
 *   (runtime.c).
 *   The guest agent channel (unless the definition turns it off) comes
 *   last: virtio-serial-pci "qga0-bus" with one port named
 *   org.qemu.guest_agent.0 on chardev "qga0", a listening unix socket
 *   `agent.sock` in the run dir that corrald connects to (qemu/qga.h).
 */
#ifndef CORRAL_QEMU_ARGV_H
#define CORRAL_QEMU_ARGV_H

#include <stdbool.h>

#include "core/vmdef.h"
#include "util/cmd.h"

#define QEMU_IDE_CDROM_BUS 2
#define QEMU_MAX_IDE_DISKS 5
#define QEMU_IDE_CIDATA_BUS 5 /* the last AHCI port: IDE disks fill ports in order */

struct qemu_launch {
	const struct vm_def *def;
	const char *binary;       /* qemu-system-x86_64 */
	const char *run_dir;      /* per-VM directory for sockets, pid file, log */
	enum accel_mode accel;    /* resolved: ACCEL_KVM or ACCEL_TCG */
	bool paused;              /* -S: do not run the guest until `cont` */
	bool incoming;            /* -incoming defer: the guest's state arrives by migration (qemu/migrate.h) */
	const char *disk_path[VM_MAX_DISKS];   /* parallel to def->disks */
	const char *disk_format[VM_MAX_DISKS];
	/* BOOT_KERNEL and BOOT_DISK_KERNEL: the kernel and initrd (NULL: none)
	 * as copied into the run dir, and for BOOT_DISK_KERNEL the entry's
	 * command line (NULL: none; BOOT_KERNEL uses the definition's). */
	const char *boot_kernel, *boot_initrd, *boot_cmdline;
	/* A CD-ROM medium defined: the fd number QEMU gets it as and the fd set. */
	int cdrom_fd, cdrom_fdset;
	/* def->cloudinit: the NoCloud seed image in the run dir (qemu/cidata.h). */
	const char *cidata_path;
	/* NIC i on a network: the fd number QEMU gets its tap as (QEMU_TAP_FD + i). */
	int tap_fd[VM_MAX_NICS];
	/* FIRMWARE_UEFI: OVMF's code (read-only pflash 0) and the VM's own NVRAM
	 * vars file (writable pflash 1); qemu_uefi_files() says which. */
	const char *uefi_code, *uefi_vars;
};

/* OVMF as Debian's `ovmf` ships it (q35 needs the 4 MiB builds). */
#define QEMU_OVMF_DIR "/usr/share/OVMF"
/* The firmware code and the pristine vars template for a UEFI VM (Secure
 * Boot: the SMM build and the vars with Microsoft's keys enrolled), as
 * file names under `dir` (QEMU_OVMF_DIR; tests pass their own). */
void qemu_uefi_files(const char *dir, bool secure_boot, char **code, char **vars_template);

#define QEMU_CDROM_FD 3
#define QEMU_CDROM_FDSET 1
#define QEMU_TAP_FD 4

#define QEMU_BALLOON_ID "balloon0"
#define QEMU_AGENT_SOCKET "agent.sock"
#define QEMU_AGENT_CHARDEV "qga0"
#define QEMU_AGENT_PORT "org.qemu.guest_agent.0"

/* What QEMU needs beside the guest's RAM (MiB): the default memory limit's margin (docs/limits.md). */
long long qemu_memory_overhead_mib(long long memory_mib, enum accel_mode accel);

/* The TCG translation cache (MiB) for a guest of memory_mib. */
unsigned qemu_tcg_tb_size(long long memory_mib);

/* Fill `out` (empty CMD_INIT) or return -1 with err (e.g. too many IDE disks). */
int qemu_build_argv(const struct qemu_launch *l, struct cmd *out, struct buf *err);

/* JSON for `-blockdev`/`blockdev-add` of a disk's two nodes (new references). */
json_t *qemu_blockdev_file(int slot, const char *path, int read_only);
json_t *qemu_blockdev_format(int slot, const char *format, int read_only);
/* JSON for `-device`/`device_add` of disk `slot` on `bus` (ide_port used for IDE). */
json_t *qemu_disk_device(int slot, enum disk_bus bus, int ide_port, int bootindex);

/* Paths inside a run dir (caller frees). */
char *qemu_run_path(const char *run_dir, const char *leaf);
/* A value for a QemuOpts list (-chardev, -drive, ...): every ',' doubled (caller frees). */
char *qemu_opt_escape(const char *s);

#endif
