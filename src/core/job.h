/*
 * job.h - the job engine: how every long operation of corrald runs.
 *
 * A job is a function run on a thread of its own (job_start), recorded in
 * the store's host-local part (a row that says what it is, how far it got,
 * how it ended), watched through the event bus (core/events.h: a "job"
 * event when it starts, at most about four progress events a second, and
 * one when it ends) and cancellable (job_cancel).  Progress lives in memory
 * and reaches the store at most about once a second, never per chunk.
 *
 * VM locks.  A job may lock one VM (job_spec.vm): while it runs, every
 * other job or hold on that VM is refused with "busy: <type> (job N) in
 * progress" (libvirt's virDomainObjBeginJob).  Short synchronous changes
 * (an edit, a CD-ROM change) take the same lock without a thread through
 * job_hold_vm().  A lock is released only by its owner.  `vm kill` (and
 * later fencing) never waits behind a job: a job started with preempt asks
 * the VM's current job to cancel, runs at once (it kills QEMU first, as
 * libvirt's qemuProcessBeginStopJob does), and takes the lock over the
 * moment the previous owner lets go (job_lock_wait), before anybody else.
 *
 * Cancel.  job_cancel() marks the job and calls the cancel hook the job
 * installed for the step it is in (kill a qemu-img child, cancel a QEMU
 * block job, close a stream); the job function notices (job_cancelled, or
 * the error its step returns), rolls back what it made and returns; the job
 * ends "cancelled".  A step that cannot be interrupted says so with
 * job_set_uncancellable(): job_cancel() then answers -EBUSY with that
 * reason.  Cancelling a job cancels the jobs it started (job_spec.parent).
 *
 * Lifetime and threads.  Job threads are joinable; finished ones are
 * joined by the next job_start and by job_engine_shutdown(), which refuses
 * new jobs, cancels every running one and joins every thread before it
 * returns, so nothing the jobs use may be freed before that.
 * Lock order: the engine lock is taken after the store's and never held
 * while a job function, a cancel hook, the store or the event bus runs;
 * a job's hook lock is held while its hook runs, so job_on_cancel(j, NULL,
 * NULL) returns only once a running hook has finished.
 *
 * Errors: 0 or -errno with one sentence for the user appended to err.
 */
#ifndef CORRAL_CORE_JOB_H
#define CORRAL_CORE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "core/store.h"
#include "util/buf.h"

struct job;

/* The work of a job, on the job's thread: 0 (succeeded) or -errno with err
 * set; -ECANCELED, or any error after a cancel request, ends it "cancelled". */
typedef int (*job_fn)(struct job *j, void *arg, struct buf *err);

struct job_spec {
	const char *type;	/* "disk-import", "backup", "stop", ... (at most 31 bytes) */
	const char *target;	/* what it acts on, for people: a VM, volume, repository */
	const char *vm;		/* uuid of the VM whose lock the job takes, or NULL */
	const char *vm_name;	/* that VM's name, for messages and events */
	int64_t parent;		/* id of the job that started this one, or 0 */
	bool preempt;		/* cancel the VM's current job instead of failing busy (vm kill) */
	job_fn run;
	void *arg;
	/* Called with arg as soon as the job is over (its end recorded and published),
	 * also when job_start fails (NULL: nothing to free). */
	void (*free_arg)(void *arg);
};

/* Start the engine on `store` (host-local job records). */
void job_engine_init(struct store *s);
/* Refuse new jobs, cancel every running one, join every job thread. */
void job_engine_shutdown(void);

/*
 * Record and start a job.  0 and *out (optional) = the job JSON
 * (docs/api.md "Jobs"); or -EAGAIN + "busy: ..." when the VM is locked,
 * -ESHUTDOWN while corrald stops, other -errno; spec->arg is then freed.
 */
int job_start(const struct job_spec *spec, json_t **out, struct buf *err);

/* Ask job `id` to stop.  -ENOENT unknown, -EALREADY already over, -EBUSY
 * in a step that cannot be interrupted (the reason in err; err may be NULL). */
int job_cancel(int64_t id, struct buf *err);

/* The job's JSON (running ones from memory, others from the store), or NULL. */
json_t *job_get(int64_t id);
/* The newest `limit` jobs, of one VM when vm is not NULL: {"jobs": [...]}. */
json_t *job_list(const char *vm, int limit);
/* Wait up to timeout_ms (< 0: for ever) for job `id` to end.  0 once it is
 * over (or unknown), -ETIMEDOUT. */
int job_wait(int64_t id, int timeout_ms);

/* ---- for job functions (on the job's own thread) ----------------------- */

int64_t job_id(const struct job *j);
const char *job_vm(const struct job *j);
bool job_cancelled(const struct job *j);
/* Progress: percent in [0, 100) while running, rate in bytes/s (0 unknown), eta in s (-1 unknown). */
void job_progress(struct job *j, double percent, double rate, int64_t eta_s);
/* Progress as `done` of `total` bytes since the job started: percent, average rate, ETA. */
void job_progress_bytes(struct job *j, uint64_t done, uint64_t total);
/* What the job is doing now, for people ("copying disk 2 of 3"). */
void job_set_phase(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON summary kept with the job ("result"); the reference is stolen. */
void job_set_result(struct job *j, json_t *result);
/* The same, written to the store at once: what the job is about to make
 * (files, volumes), so that start-up recovery (service/recover.h) can find
 * and remove it if corrald dies before the job ends. */
void job_record_result(struct job *j, json_t *result);
/* Install (fn != NULL) or remove the hook job_cancel calls for the current
 * step.  fn runs on the canceller's thread; it must be thread-safe and quick. */
void job_on_cancel(struct job *j, void (*fn)(void *opaque), void *opaque);
/* From now on job_cancel answers -EBUSY with `why` (NULL: cancellable again). */
void job_set_uncancellable(struct job *j, const char *why);
/* Sleep up to ms; -ECANCELED at once when the job is cancelled, else 0. */
int job_sleep(struct job *j, int ms);
/* A preempting job: wait up to timeout_ms for the VM lock it was promised.
 * 0 once held, -ETIMEDOUT. */
int job_lock_wait(struct job *j, int timeout_ms);

/* More VMs locked by a running job (a backup run going from VM to VM):
 * 0, or -EAGAIN + "busy: ...".  Released by job_unlock_vm or when the job ends.
 * A kill does not cancel the job for these; it kills QEMU and the job's step
 * on that VM fails. */
int job_lock_vm(struct job *j, const char *vm, const char *vm_name, struct buf *err);
void job_unlock_vm(struct job *j, const char *vm);

/* ---- VM locks without a job thread ------------------------------------- */

struct job_hold;
/* Lock VM `vm` for a short change named `what` ("edit", "cdrom-insert").
 * 0 and *h, or -EAGAIN + "busy: ..." (vm_name names the VM in the message). */
int job_hold_vm(const char *vm, const char *vm_name, const char *what, struct job_hold **h, struct buf *err);
/* Release (NULL-safe). */
void job_release(struct job_hold *h);

/* What holds VM `vm` ("backup (job 12)"), copied into out; "" when free. */
void job_vm_current(const char *vm, char *out, size_t len);
/* The actor (core/events.h) of the job holding VM vm's lock, or "" (none, or not a job). */
void job_vm_actor(const char *vm, char *out, size_t len);

#endif
