/*
 * snapnvram.h - the copies of a UEFI VM's NVRAM vars that its snapshots
 * carry (snapnvram.c, docs/snapshots.md).
 *
 * A snapshot of a UEFI VM keeps the VM's vars file as it was at the
 * snapshot's point in rt_nvram_snapshot_path(uuid, name) (qemu/runtime.h:
 * <nvram_dir>/<uuid>@<name>.fd): a byte copy of the file, or an
 * empty file when the VM had none yet (never started; it gets OVMF's
 * pristine vars at its next start).  A revert puts the copy back before the
 * VM runs again; a snapshot without a copy (of a BIOS VM) leaves the vars
 * alone.  The copy of a running VM must be taken while it is paused (QEMU
 * writes every change of the guest's flash through to the file, so the
 * file of a paused VM is its flash): snapshot.c does that.
 *
 * Callers hold the VM's job lock (core/job.h); files are written to a temp
 * file, fsync'ed and renamed, so a crash leaves the old or the new file
 * whole, plus at most a temp file that svc_snap_nvram_sweep removes.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_SNAPNVRAM_H
#define CORRAL_SERVICE_SNAPNVRAM_H

#include <stdbool.h>

#include "util/buf.h"

/* Keep the vars of VM uuid (or "none yet") as snapshot `name`'s copy. */
int svc_snap_nvram_save(const char *uuid, const char *name, struct buf *err);
/*
 * Make snapshot `name`'s copy the vars of VM uuid (an empty copy: remove
 * them, fresh ones at the next start).  No QEMU of the VM may run (it holds
 * the file open: a replaced file would lose its later writes).  *restored:
 * whether the snapshot had a copy (without one nothing changes).
 */
int svc_snap_nvram_restore(const char *uuid, const char *name, bool *restored, struct buf *err);
/* Remove snapshot `name`'s copy (none: 0). */
int svc_snap_nvram_drop(const char *uuid, const char *name, struct buf *err);
/* Does snapshot `name` of VM uuid carry a copy? */
bool svc_snap_nvram_has(const char *uuid, const char *name);
/* At start, after the snapshot rows are recovered (snapshot.c): remove the
 * copies no snapshot row names (and temp files a crash left). */
void svc_snap_nvram_sweep(void);

#endif
