/*
 * ct_internal.h - what the container files of the service layer (ct.c:
 * definitions and lifecycle; ct_snap.c: snapshots and clones) share.  Not
 * for other modules: they use ct.h.
 */
#ifndef CORRAL_SERVICE_CT_INTERNAL_H
#define CORRAL_SERVICE_CT_INTERNAL_H

#include "core/ctdef.h"
#include "core/store.h"
#include "lxc/lxc.h"
#include "util/buf.h"

/* corrald's lxcpath, <state_dir>/lxc (a new string). */
char *ct_lxcpath(void);
/* The record and parsed definition of container `key` (name or uuid); -ENOENT + sentence. */
int ct_load(const char *key, struct ct_record *rec, struct ct_def **d, struct buf *err);
/* The rootfs directory liblxc runs: the given one, or <lxcpath>/<name>/rootfs (a new string). */
char *ct_rootfs_of(const struct ct_def *d);
/* liblxc's configuration of d with root `rootfs` (borrowed pointers). */
void ct_cfg_of(const struct ct_def *d, const char *rootfs, struct ctrt_config *c);
/* Store nd as the container's definition: its row exists (create false) or is new (create true). */
int ct_store_def(const struct ct_def *nd, bool create, struct buf *err);
/* Is it stopped, as liblxc says? */
bool ct_is_stopped(const char *lp, const struct ct_def *d);

/* ct_snap.c: what a crash during a snapshot or revert left in the
 * container's directory (half copies) goes; kept copies stay. */
void ct_snap_leftovers_clean(const char *lp, const struct ct_def *d);
/* Remove every snapshot copy of d (before its directory goes). */
int ct_snap_remove_all(const char *lp, const struct ct_def *d, struct buf *err);

#endif
