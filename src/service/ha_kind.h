/*
 * ha_kind.h - what differs between the two kinds of HA resource, a VM
 * (QEMU, qemu/runtime.h) and a container (liblxc, service/ct.h "HA"), for
 * the one HA path that serves both (ha.c, ha_manager.c, ha_fence.c,
 * ha_guard.c; docs/ha.md "Containers").  The rules (owner, quorum, fence
 * before a restart elsewhere, waves, maintenance) are the same; only these
 * calls differ.  An HA row's "kind" is "container" for a container and
 * absent (older rows) or "vm" for a VM.
 *
 * Threading: any thread.
 */
#ifndef CORRAL_SERVICE_HA_KIND_H
#define CORRAL_SERVICE_HA_KIND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

enum ha_kind { HA_VM, HA_CT };

/* The kind an HA row's def names. */
enum ha_kind ha_kind_of(const json_t *def);
/* "VM" or "container", for sentences. */
const char *ha_kind_word(enum ha_kind k);
/* Does it run on this host (QEMU attached; liblxc's state not STOPPED)? */
bool ha_res_active(enum ha_kind k, const char *uuid);
/* A pidfd of its QEMU or its container's init, checked to be that process
 * (caller closes); -ESRCH when it does not run here. */
int ha_res_pidfd(enum ha_kind k, const char *uuid);
/* The self-fence's SIGKILL: 0 killed, 1 it was dying already (corral-guard
 * was first), -ESRCH not running, other -errno with err.  pidfd: a
 * container's init's, opened when it was armed (-1: look it up now); a
 * VM's QEMU is the runtime's recorded process. */
int ha_res_fence(enum ha_kind k, const char *uuid, int pidfd, const char *reason, struct buf *err);
/* What the process that runs it is called in events: "QEMU" or "the container's init". */
const char *ha_kind_process(enum ha_kind k);

#endif
