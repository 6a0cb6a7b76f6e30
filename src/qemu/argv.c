/*
 * argv.c - see argv.h.
 */
#include <stdio.h>
#include <string.h>

#include "argv.h"
#include "util/jsonutil.h"
#include "util/common.h"

char *qemu_run_path(const char *run_dir, const char *leaf) { return xasprintf("%s/%s", run_dir, leaf); }

unsigned qemu_tcg_tb_size(long long memory_mib)
{
	/* QEMU 7.2 reserves a 1 GiB translation cache per VM whatever the
	 * guest (a 1 GiB guest: 2.2 GiB of address space), and the cache's
	 * RSS grows toward that as the guest runs new code.  The test guest's
	 * boot fills 50 MiB of it; a quarter of guest RAM, within 128..512 MiB,
	 * leaves room to spare (docs/bench.md, tb-size). */
	long long mib = memory_mib / 4;
	return (unsigned)(mib < 128 ? 128 : mib > 512 ? 512 : mib);
}

long long qemu_memory_overhead_mib(long long memory_mib, enum accel_mode accel)
{
	/* Measured here: a 256 MiB guest's QEMU under TCG peaks near 230 MiB
	 * RSS above what the guest touches, ~100 MiB of it the translation
	 * cache.  Fixed part (binary, libraries, device models, I/O buffers,
	 * page cache charged while the disk is read) 128 MiB, plus 1/32 of
	 * guest RAM for page tables and dirty bitmaps, plus the whole TCG
	 * translation cache under TCG. */
	long long mib = 128 + memory_mib / 32;
	if (accel != ACCEL_KVM)
		mib += qemu_tcg_tb_size(memory_mib);
	return mib;
}

char *qemu_opt_escape(const char *s)
{
	struct buf b = BUF_INIT;
	for (; *s; s++) {
		if (*s == ',')
			buf_addch(&b, ',');
		buf_addch(&b, *s);
	}
	return buf_detach(&b);
}

static void add_json(struct cmd *c, const char *opt, json_t *j)
{
	__do_free char *s = json_to_string(j);
	cmd_add(c, opt);
	cmd_add(c, s);
	json_decref(j);
}

json_t *qemu_blockdev_file(int slot, const char *path, int read_only)
{
	char node[32];
	snprintf(node, sizeof(node), "disk%d-file", slot);
	return json_pack("{s:s,s:s,s:s,s:b}", "driver", "file", "filename", path, "node-name", node, "read-only",
			 read_only);
}

json_t *qemu_blockdev_format(int slot, const char *format, int read_only)
{
	char node[32], file[32];
	snprintf(node, sizeof(node), "disk%d", slot);
	snprintf(file, sizeof(file), "disk%d-file", slot);
	return json_pack("{s:s,s:s,s:s,s:b}", "driver", format, "file", file, "node-name", node, "read-only", read_only);
}

json_t *qemu_disk_device(int slot, enum disk_bus bus, int ide_port, int bootindex)
{
	char id[32], port[32];
	json_t *j;
	snprintf(id, sizeof(id), "disk%d", slot);
	switch (bus) {
	case DISK_BUS_VIRTIO:
		snprintf(port, sizeof(port), "rp%d", slot);
		j = json_pack("{s:s,s:s,s:s,s:s}", "driver", "virtio-blk-pci", "id", id, "drive", id, "bus", port);
		break;
	case DISK_BUS_SCSI:
		j = json_pack("{s:s,s:s,s:s,s:s}", "driver", "scsi-hd", "id", id, "drive", id, "bus", "scsi0.0");
		break;
	default:
		snprintf(port, sizeof(port), "ide.%d", ide_port);
		j = json_pack("{s:s,s:s,s:s,s:s}", "driver", "ide-hd", "id", id, "drive", id, "bus", port);
		break;
	}
	if (bootindex > 0)
		json_object_set_new(j, "bootindex", json_integer(bootindex));
	return j;
}

/* The cloud-init seed: a read-only CD-ROM on the last AHCI port (argv.h). */
static int add_cidata(const struct qemu_launch *l, struct cmd *c, struct buf *err)
{
	char bus[16];
	if (!l->cidata_path) {
		buf_adds(err, "the cloud-init seed was not built");
		return -1;
	}
	snprintf(bus, sizeof(bus), "ide.%d", QEMU_IDE_CIDATA_BUS);
	add_json(c, "-blockdev", json_pack("{s:s,s:s,s:s,s:b}", "driver", "file", "filename", l->cidata_path,
					   "node-name", "cidata0-file", "read-only", 1));
	add_json(c, "-blockdev", json_pack("{s:s,s:s,s:s,s:b}", "driver", "raw", "file", "cidata0-file", "node-name",
					   "cidata0-media", "read-only", 1));
	add_json(c, "-device", json_pack("{s:s,s:s,s:s,s:s}", "driver", "ide-cd", "id", "cidata0", "bus", bus, "drive",
					 "cidata0-media"));
	return 0;
}

static void add_chardev_socket(struct cmd *c, const char *id, const char *path, const char *logfile)
{
	__do_free char *p = qemu_opt_escape(path);
	__do_free char *l = logfile ? qemu_opt_escape(logfile) : NULL;
	cmd_add(c, "-chardev");
	if (l)
		cmd_addf(c, "socket,id=%s,path=%s,server=on,wait=off,logfile=%s,logappend=on", id, p, l);
	else
		cmd_addf(c, "socket,id=%s,path=%s,server=on,wait=off", id, p);
}

void qemu_uefi_files(const char *dir, bool secure_boot, char **code, char **vars_template)
{
	*code = xasprintf("%s/%s", dir, secure_boot ? "OVMF_CODE_4M.secboot.fd" : "OVMF_CODE_4M.fd");
	*vars_template = xasprintf("%s/%s", dir, secure_boot ? "OVMF_VARS_4M.ms.fd" : "OVMF_VARS_4M.fd");
}

/* UEFI: OVMF's code read-only and the VM's vars as the two pflash drives
 * (SeaBIOS, the default, needs nothing). */
static int add_uefi(struct cmd *c, const struct qemu_launch *l, struct buf *err)
{
	if (l->def->firmware != FIRMWARE_UEFI)
		return 0;
	if (!l->uefi_code || !l->uefi_vars) {
		buf_adds(err, "the UEFI firmware files were not prepared");
		return -1;
	}
	__do_free char *code = qemu_opt_escape(l->uefi_code);
	__do_free char *vars = qemu_opt_escape(l->uefi_vars);
	if (l->def->secure_boot) {
		cmd_add(c, "-global");
		cmd_add(c, "driver=cfi.pflash01,property=secure,value=on");
	}
	cmd_add(c, "-drive");
	cmd_addf(c, "if=pflash,unit=0,format=raw,readonly=on,file=%s", code);
	cmd_add(c, "-drive");
	cmd_addf(c, "if=pflash,unit=1,format=raw,file=%s", vars);
	return 0;
}

int qemu_build_argv(const struct qemu_launch *l, struct cmd *c, struct buf *err)
{
	const struct vm_def *d = l->def;
	__do_free char *qmp = qemu_run_path(l->run_dir, "qmp.sock");
	__do_free char *serial = qemu_run_path(l->run_dir, "serial.sock");
	__do_free char *console = qemu_run_path(l->run_dir, "console.log");
	int disk_boot = 0, cdrom_boot = 0, nports = d->ndisks + d->hotplug_ports, ide_used = 0;
	bool need_scsi = false;
	static const int ide_ports[QEMU_MAX_IDE_DISKS] = { 0, 1, 3, 4, 5 };
	int ide_max = d->cloudinit ? QEMU_MAX_IDE_DISKS - 1 : QEMU_MAX_IDE_DISKS;

	for (int i = 0; i < d->ndisks; i++) {
		if (d->disks[i].bus == DISK_BUS_SCSI)
			need_scsi = true;
		if (d->disks[i].bus == DISK_BUS_IDE && ++ide_used > ide_max) {
			buf_printf(err, "at most %d IDE disks fit beside the CD-ROM drive%s", ide_max,
				   d->cloudinit ? " and the cloud-init seed" : "");
			return -1;
		}
	}
	if (d->boot_mode == BOOT_FIRMWARE) {
		for (int i = 0; i < d->nboot_order; i++) {
			if (d->boot_order[i] == BOOT_DEV_DISK)
				disk_boot = i + 1;
			else
				cdrom_boot = i + 1;
		}
	}

	cmd_add(c, l->binary);
	cmd_add(c, "-name");
	{
		__do_free char *n = qemu_opt_escape(d->name);
		cmd_addf(c, "guest=%s,debug-threads=on", n);
	}
	cmd_add(c, "-uuid");
	cmd_add(c, d->uuid);
	cmd_add(c, "-nodefaults");
	cmd_add(c, "-no-user-config");
	cmd_add(c, "-machine");
	/* Secure Boot's OVMF keeps its variables in SMM-protected flash.  Without
	 * a screen (no VNC), graphics=off makes SeaBIOS write to the serial
	 * console (its sercon), so "No bootable device." reaches `vm log`. */
	cmd_addf(c, "%s%s%s", d->machine ? d->machine : "q35", d->secure_boot ? ",smm=on" : "",
		 d->vnc ? "" : ",graphics=off");
	cmd_add(c, "-accel");
	if (l->accel == ACCEL_KVM)
		cmd_add(c, "kvm");
	else
		cmd_addf(c, "tcg,tb-size=%u", qemu_tcg_tb_size(d->memory_mib));
	/* KVM: the host CPU.  TCG: every feature TCG emulates, so guests that
	 * need a recent baseline (x86-64-v2 for EL9) boot. */
	cmd_add(c, "-cpu");
	cmd_add(c, d->cpu ? d->cpu : l->accel == ACCEL_KVM ? "host" : "max");
	cmd_add(c, "-smp");
	cmd_addf(c, "%d", d->cpus);
	cmd_add(c, "-m");
	cmd_addf(c, "%lld", (long long)d->memory_mib);
	if (l->paused || l->incoming)
		cmd_add(c, "-S");
	if (l->incoming) {
		cmd_add(c, "-incoming");
		cmd_add(c, "defer");
	}
	cmd_add(c, "-no-shutdown");
	/* disk-kernel: a reset (guest reboot, system_reset) becomes a SHUTDOWN
	 * with reason guest-reset / host-qmp-system-reset, so corrald can start
	 * QEMU again with the kernel the guest's boot configuration names now
	 * (runtime.c, docs/boot.md); -no-shutdown keeps QEMU until then. */
	if (d->boot_mode == BOOT_DISK_KERNEL) {
		cmd_add(c, "-action");
		cmd_add(c, "reboot=shutdown");
	}
	cmd_add(c, "-msg");
	cmd_add(c, "timestamp=on");
	cmd_add(c, "-sandbox");
	cmd_add(c, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");

	add_chardev_socket(c, "qmp", qmp, NULL);
	cmd_add(c, "-mon");
	cmd_add(c, "chardev=qmp,mode=control");
	add_chardev_socket(c, "serial0", serial, console);
	cmd_add(c, "-serial");
	cmd_add(c, "chardev:serial0");

	if (d->vnc) {
		__do_free char *lis = qemu_opt_escape(d->vnc_listen);
		bool v6 = strchr(d->vnc_listen, ':') != NULL;
		cmd_add(c, "-vnc");
		if (d->vnc_display >= 0)
			cmd_addf(c, v6 ? "[%s]:%d" : "%s:%d", lis, d->vnc_display);
		else
			cmd_addf(c, v6 ? "[%s]:0,to=99" : "%s:0,to=99", lis);
		cmd_add(c, "-device");
		cmd_add(c, "VGA,id=video0");
	} else {
		cmd_add(c, "-display");
		cmd_add(c, "none");
	}

	if (add_uefi(c, l, err) < 0)
		return -1;
	if (d->boot_mode == BOOT_KERNEL || d->boot_mode == BOOT_DISK_KERNEL) {
		bool disk = d->boot_mode == BOOT_DISK_KERNEL;
		const char *kernel = l->boot_kernel, *initrd = l->boot_initrd;
		const char *cmdline = disk ? l->boot_cmdline : d->cmdline;
		if (!kernel) {
			buf_adds(err, disk ? "no kernel was found on the first disk to boot" : "no kernel to boot");
			return -1;
		}
		cmd_add(c, "-kernel");
		cmd_add(c, kernel);
		if (initrd) {
			cmd_add(c, "-initrd");
			cmd_add(c, initrd);
		}
		if (cmdline) {
			cmd_add(c, "-append");
			cmd_add(c, cmdline);
		}
	} else {
		cmd_add(c, "-boot");
		cmd_add(c, "strict=on");
	}

	/* Root ports: functions of multifunction slots 2.. on pcie.0. */
	for (int i = 0; i < nports; i++) {
		cmd_add(c, "-device");
		cmd_addf(c, "pcie-root-port,id=rp%d,bus=pcie.0,chassis=%d,port=0x%x,addr=0x%x.0x%x%s", i, i + 1,
			 0x10 + i, 2 + i / 8, i % 8, i % 8 == 0 ? ",multifunction=on" : "");
	}
	if (need_scsi) {
		cmd_add(c, "-device");
		cmd_add(c, "virtio-scsi-pci,id=scsi0");
	}

	ide_used = 0;
	for (int i = 0; i < d->ndisks; i++) {
		int boot = (disk_boot && i == 0) ? disk_boot : 0;
		add_json(c, "-blockdev", qemu_blockdev_file(i, l->disk_path[i], 0));
		add_json(c, "-blockdev", qemu_blockdev_format(i, l->disk_format[i], 0));
		add_json(c, "-device", qemu_disk_device(i, d->disks[i].bus,
							d->disks[i].bus == DISK_BUS_IDE ? ide_ports[ide_used++] : 0, boot));
	}

	if (d->cdrom) {
		char fdset[32];
		if (l->cdrom_fd < 3 || l->cdrom_fdset <= 0) {
			buf_adds(err, "the CD-ROM medium was not opened");
			return -1;
		}
		snprintf(fdset, sizeof(fdset), "/dev/fdset/%d", l->cdrom_fdset);
		cmd_add(c, "-add-fd");
		cmd_addf(c, "fd=%d,set=%d,opaque=cdrom0", l->cdrom_fd, l->cdrom_fdset);
		json_t *f = json_pack("{s:s,s:s,s:s,s:b}", "driver", "file", "filename", fdset, "node-name",
				      "cdrom0-file", "read-only", 1);
		json_t *r = json_pack("{s:s,s:s,s:s,s:b}", "driver", "raw", "file", "cdrom0-file", "node-name", "cdrom0-media",
				      "read-only", 1);
		add_json(c, "-blockdev", f);
		add_json(c, "-blockdev", r);
	}
	{
		json_t *dev = json_pack("{s:s,s:s,s:s}", "driver", "ide-cd", "id", "cdrom0", "bus", "ide.2");
		if (d->cdrom)
			json_object_set_new(dev, "drive", json_string("cdrom0-media"));
		if (cdrom_boot)
			json_object_set_new(dev, "bootindex", json_integer(cdrom_boot));
		add_json(c, "-device", dev);
	}
	if (d->cloudinit && add_cidata(l, c, err) < 0)
		return -1;

	for (int i = 0; i < d->nnics; i++) {
		const struct vm_nic *n = &d->nics[i];
		cmd_add(c, "-netdev");
		if (n->mode == NIC_USER) {
			cmd_addf(c, "user,id=net%d", i);
		} else if (l->tap_fd[i] >= 3) {
			cmd_addf(c, "tap,id=net%d,fd=%d,vhost=off", i, l->tap_fd[i]);
		} else {
			buf_printf(err, "NIC %d (network %s) has no tap device", i, n->network);
			return -1;
		}
		cmd_add(c, "-device");
		/* The first NIC keeps the id older corral gave its only NIC. */
		if (n->model == NIC_E1000)
			cmd_addf(c, "e1000,id=net%d-dev,netdev=net%d,mac=%s", i, i, n->mac);
		else
			cmd_addf(c, "virtio-net-pci,id=net%d-dev,netdev=net%d,mac=%s", i, i, n->mac);
	}
	if (d->rng) {
		cmd_add(c, "-object");
		cmd_add(c, "rng-random,id=rng0,filename=/dev/urandom");
		cmd_add(c, "-device");
		cmd_add(c, "virtio-rng-pci,id=rng0-dev,rng=rng0");
	}
	if (d->balloon) {
		cmd_add(c, "-device");
		cmd_add(c, "virtio-balloon-pci,id=" QEMU_BALLOON_ID);
	}
	if (d->agent) {
		/* Last, so the devices before it keep their PCI addresses. */
		__do_free char *sock = qemu_run_path(l->run_dir, QEMU_AGENT_SOCKET);
		add_chardev_socket(c, QEMU_AGENT_CHARDEV, sock, NULL);
		cmd_add(c, "-device");
		cmd_add(c, "virtio-serial-pci,id=" QEMU_AGENT_CHARDEV "-bus");
		cmd_add(c, "-device");
		cmd_add(c, "virtserialport,id=" QEMU_AGENT_CHARDEV "-port,bus=" QEMU_AGENT_CHARDEV
			   "-bus.0,chardev=" QEMU_AGENT_CHARDEV ",name=" QEMU_AGENT_PORT);
	}
	return 0;
}
