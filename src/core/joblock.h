/*
 * joblock.h - one job at a time per VM (libvirt's virDomainObjBeginJob).
 *
 * Every mutating operation on a VM takes its lock with joblock_begin() and
 * gives it back with joblock_end().  A second request while a job runs does
 * not wait: it is refused with "busy: <job> in progress", so the user knows
 * what is going on and nothing races.  Locks are in memory only: a restarted
 * corrald has no running jobs.
 */
#ifndef CORRAL_CORE_JOBLOCK_H
#define CORRAL_CORE_JOBLOCK_H

#include "util/buf.h"

/* 0 and the lock is held, or -EAGAIN with "busy: <job> in progress" appended to err. */
int joblock_begin(const char *vm_uuid, const char *job, struct buf *err);
void joblock_end(const char *vm_uuid);
/* Name of the job holding the VM (copied into out, "" if none). */
void joblock_current(const char *vm_uuid, char *out, size_t len);

#endif
