/*
 * internal.h - what the service files share; not for other modules:
 * the configuration, the mutex under which VM definitions (names,
 * volume ownership) change, and what the backup jobs share (repo.c).
 */
#ifndef CORRAL_SERVICE_INTERNAL_H
#define CORRAL_SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "service/service.h"

extern struct svc_config svc_cfg;
extern pthread_mutex_t svc_defs_lock;

/* The periodic chores' thread (housekeeping.c), run by svc_init/svc_shutdown. */
int svc_housekeeping_start(void);
void svc_housekeeping_stop(void);

/* Remove incoming migrations (migrate.c) whose QEMU exited before the source
 * finished or aborted them (the source cancelled, died or lost the link and
 * QEMU's incoming side failed): run by the housekeeping thread. */
void svc_migrate_reap(void);

/* Record event `type` ("disk", "snapshot", ...) with `detail` in VM uuid's
 * history and publish it on the event bus (events.c). */
void svc_vm_event(const char *uuid, const char *type, const char *detail);

/* A VM name a job is about to define (a clone, an import): claimed by one job
 * at a time, from its request to its end (vm.c); false if another holds it.
 * svc_vm_create still checks the store under svc_defs_lock. */
bool svc_vm_name_claim(const char *name);
void svc_vm_name_release(const char *name);

/* Pin d->machine to the concrete type this host's QEMU has for it (NULL:
 * q35), host.c.  -ENOTSUP + sentence if the QEMU lacks it.  When the QEMU's
 * types could not be listed, d is left alone (0). */
int svc_machine_pin(struct vm_def *d, struct buf *err);
/* The concrete machine types of this host's QEMU (JSON array, new reference). */
json_t *svc_machine_types(void);
/* d's "cpu" against the CPU models of this host's QEMU (probed once at
 * start) and its accelerator: 0 or -EINVAL + "did you mean" (host.c). */
int svc_cpu_check(const struct vm_def *d, struct buf *err);
/* Does this host's QEMU know CPU model `name`?  (false when not probed) */
bool svc_cpu_known(const char *name);
json_t *svc_cpu_models(void);
/* firmware uefi: OVMF's files present ("install the ovmf package") and a
 * directly booted kernel not an ELF vmlinux (OVMF needs an EFI stub), host.c. */
int svc_firmware_check(const struct vm_def *d, struct buf *err);
/* The stored VM's machine type pinned (written back if it was not; a VM
 * defined before types were pinned gets it at its first start), vm.c. */
int svc_vm_machine_pin(const char *uuid, struct buf *err);

/* A vol_progress_cb (storage/volume.h) reporting into the job `job` (a
 * struct job *) and answering its cancel (events.c). */
int svc_job_vol_progress(void *job, double percent, double rate, int64_t eta_s);

struct job;
struct repo;
/* A job_on_cancel hook (core/job.h) that sets `flag`, an atomic_bool a
 * backup-library call watches (backup/repo.h, "Cancelling"). */
void svc_cancel_flag_set(void *flag);
/* Lock repository r for job j, shared or exclusive.  While another job holds
 * it the job waits, says so in its phase, and stops with -ECANCELED (err
 * set) when it is cancelled meanwhile. */
int svc_repo_lock_job(struct job *j, struct repo *r, bool exclusive, struct buf *err);

#endif
