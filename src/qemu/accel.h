/*
 * accel.h - choosing between KVM and TCG.
 *
 * KVM is only worth using where the host has hardware virtualization:
 * kvm_intel or kvm_amd loaded and /dev/kvm openable.  A /dev/kvm backed by
 * something else (nested software modes such as kvm_pvm, see ENVIRONMENT.md)
 * runs guests thousands of times slower than TCG, so `auto` takes TCG there
 * and says why.
 */
#ifndef CORRAL_QEMU_ACCEL_H
#define CORRAL_QEMU_ACCEL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/vmdef.h"

struct accel_probe {
	bool kvm_usable;
	char reason[256]; /* why KVM is / is not used by `auto` */
};

/* Probe the host.  `sysfs_root`/`dev_kvm` are for tests (NULL = "/sys", "/dev/kvm"). */
void accel_probe_host(struct accel_probe *p, const char *sysfs_root, const char *dev_kvm);

/*
 * Resolve a VM's accel setting to ACCEL_KVM or ACCEL_TCG.
 * Returns 0, or -1 with err set when kvm is demanded but unusable.
 */
int accel_resolve(const struct accel_probe *p, enum accel_mode want, enum accel_mode *out, struct buf *err);

#endif
