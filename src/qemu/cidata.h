/*
 * cidata.h - the cloud-init NoCloud seed of a VM as an ISO 9660 image.
 *
 * At every start of a VM with "cloud_init" in its definition the runtime
 * calls qemu_cidata_build: the seed's files (core/cloudinit.h) are
 * written into a private work directory <work base>/.cidata-<uuid>.XXXXXX
 * (corrald's run directory, never the VM's, which the QEMU account owns)
 * and packed by xorriso (run through the command runner, `-as mkisofs`,
 * volume id "cidata", Joliet and Rock Ridge names) into an image that is
 * then renamed to <VM dir>/cidata.iso, mode 0600; the runtime hands it to
 * the QEMU account.  The image is
 * reproducible (SOURCE_DATE_EPOCH and --set_all_file_dates fix every
 * timestamp xorriso writes, -r every owner and mode):
 * the same definition gives the same bytes on every host, so a guest that
 * has the seed mounted reads the same data after a live migration, where
 * the destination builds its own copy.  argv.h says where the drive sits.
 *
 * Errors: -errno with one sentence in err (xorriso missing or failing, a
 * file that cannot be written, a seed that cannot be made).  Not
 * thread-safe per run dir: the caller holds the VM's job lock.
 */
#ifndef CORRAL_QEMU_CIDATA_H
#define CORRAL_QEMU_CIDATA_H

#include "core/vmdef.h"
#include "util/buf.h"

#define QEMU_CIDATA_LEAF "cidata.iso"
#define QEMU_CIDATA_WORK ".cidata-"

/*
 * Build <vm_dir>/cidata.iso from d (d->cloudinit set), working in a new
 * directory in work_base (root's own, on vm_dir's filesystem), where work
 * directories an earlier crash left for this VM are removed first.  *path
 * (caller frees) gets the image's path.
 */
int qemu_cidata_build(const struct vm_def *d, const char *work_base, const char *vm_dir, char **path,
		      struct buf *err);

/* Remove the work directories a crash (kill -9 of corrald while it built
 * the seed) left in work_base for VM uuid: when the VM is deleted. */
void qemu_cidata_forget(const char *work_base, const char *uuid);

/* Remove the seed from vm_dir (a missing one is fine). */
void qemu_cidata_remove(const char *vm_dir);

#endif
