/*
 * runas.h - the unprivileged user QEMU runs as, and the files it must own.
 *
 * QEMU runs as a system user (default corral-qemu, made by
 * scripts/setup-user.sh), dropped to in the command runner's pre-exec hook
 * (setgroups, setgid, setuid: no supplementary groups), never as root.  So
 * every file QEMU opens by path must be reachable and owned by that user:
 * volumes, snapshot overlays, mirror targets, fleecing images and the
 * files in its run directory.  Whoever creates such a file as root (corrald
 * through qemu-img, mostly) hands it over with runas_own(); read-only
 * backing files (template volumes) get runas_share_readonly().  Files QEMU
 * must not own (the admin's ISOs, kernels) are opened by corrald and passed
 * as fds, or copied.
 *
 * The owner is process-wide (runas_set_owner: corrald at start and before
 * each VM start, so a user created meanwhile is picked up); without one
 * (unit tests, a qemu_user of root) the helpers do nothing.  Thread-safe.
 */
#ifndef CORRAL_UTIL_RUNAS_H
#define CORRAL_UTIL_RUNAS_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"

#define RUNAS_DEFAULT_USER "corral-qemu"

struct runas {
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Look a user up.  -ENOENT with a sentence saying how to create it. */
int runas_lookup(const char *user, struct runas *out, struct buf *err);
/*
 * Become that user: setgroups to its group alone, setgid, setuid.
 * Async-signal-safe, for pre-exec hooks: 0, or -errno with *what naming the
 * failed step.  Nothing to do for root, nor for the user the caller already is.
 */
int runas_drop(const struct runas *r, const char **what);

/* The owner of files made for QEMU (NULL: none, files stay as created). */
void runas_set_owner(const struct runas *r);
/* A copy of the owner (helpers that run as QEMU's user), or false if none is set. */
bool runas_owner(struct runas *out);
/* true if an owner is set (QEMU does not run as root). */
bool runas_active(void);
/* Hand a file (or directory) to the owner: chown, mode 0600 (0700 for a directory).  0 or -errno + err. */
int runas_own(const char *path, struct buf *err);
/* A read-only backing file: root-owned, group the owner's, mode 0640.  0 or -errno + err. */
int runas_share_readonly(const char *path, struct buf *err);
/*
 * Make sure the owner can pass through dir (adds the search bits g+x,o+x
 * when missing): corrald's state, storage and run directories.
 */
int runas_traversable(const char *dir, struct buf *err);

#endif
