/*
 * accel.c - see accel.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "util/fsutil.h"
#include "util/common.h"

void accel_probe_host(struct accel_probe *p, const char *sysfs_root, const char *dev_kvm)
{
	char path[512];
	const char *hw = NULL;
	const char *root = sysfs_root ? sysfs_root : "/sys";

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/module/kvm_intel", root);
	if (fs_exists(path))
		hw = "kvm_intel";
	snprintf(path, sizeof(path), "%s/module/kvm_amd", root);
	if (!hw && fs_exists(path))
		hw = "kvm_amd";
	if (!hw) {
		snprintf(path, sizeof(path), "%s/module/kvm_pvm", root);
		if (fs_exists(path))
			snprintf(p->reason, sizeof(p->reason),
				 "tcg: /dev/kvm is backed by kvm_pvm (nested software virtualization, far slower than TCG); "
				 "no kvm_intel or kvm_amd loaded");
		else
			snprintf(p->reason, sizeof(p->reason),
				 "tcg: no hardware virtualization (neither kvm_intel nor kvm_amd is loaded)");
		return;
	}
	int fd = open(dev_kvm ? dev_kvm : "/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(p->reason, sizeof(p->reason), "tcg: %s is loaded but /dev/kvm cannot be opened: %s", hw,
			 strerror(errno));
		return;
	}
	close(fd);
	p->kvm_usable = true;
	snprintf(p->reason, sizeof(p->reason), "kvm: hardware virtualization through %s", hw);
}

int accel_resolve(const struct accel_probe *p, enum accel_mode want, enum accel_mode *out, struct buf *err)
{
	switch (want) {
	case ACCEL_TCG:
		*out = ACCEL_TCG;
		return 0;
	case ACCEL_KVM:
		if (!p->kvm_usable) {
			buf_printf(err, "accel kvm requested but not usable on this host (%s)", p->reason);
			return -1;
		}
		*out = ACCEL_KVM;
		return 0;
	case ACCEL_AUTO:
		*out = p->kvm_usable ? ACCEL_KVM : ACCEL_TCG;
		return 0;
	}
	return -1;
}
