/*
 * cidata.h - the cloud-init NoCloud seed of a VM as an ISO 9660 image.
 *
 * At every start of a VM with "cloud_init" in its definition the runtime
 * calls qemu_cidata_build: the seed's files (core/cloudinit.h) are
 * written into <run dir>/cidata.d and packed by xorriso (run through the
 * command runner, `-as mkisofs`, volume id "cidata", Joliet and Rock
 * Ridge names) into <run dir>/cidata.iso, mode 0600; the runtime then
 * hands it to the QEMU account with the rest of the run dir.  The image is
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
#define QEMU_CIDATA_DIR "cidata.d"

/* Build <run_dir>/cidata.iso from d (d->cloudinit set); *path (caller frees) gets its path. */
int qemu_cidata_build(const struct vm_def *d, const char *run_dir, char **path, struct buf *err);

/* Remove the seed and its work directory from run_dir (missing ones are fine). */
void qemu_cidata_remove(const char *run_dir);

#endif
