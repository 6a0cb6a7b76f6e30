/*
 * clone.h - templates and clones (clone.c).
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_CLONE_H
#define CORRAL_SERVICE_CLONE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "service/service.h"
#include "core/vmdef.h"

/* Make a stopped VM a read-only template (volumes readonly, mode 0400); *out gets the VM. */
int svc_vm_template(const char *uuid, json_t **out, struct buf *err);
/*
 * Clone a VM as `name`: linked (src must be a template; qcow2 overlays on its
 * volumes, *vm gets the new VM) or full (src stopped or a template; every disk
 * copied in a background job, *job gets the job JSON).  Volumes are named
 * "<name>-disk<i>", next to the source's; nothing is left behind on failure.
 */
int svc_vm_clone(const char *src_uuid, const char *name, bool linked, json_t **vm, json_t **job,
		 struct buf *err);
/* Linked clones of any of `vols`: their VM names (or "volume V" when unattached)
 * appended to `names` ("a, b"); returns how many, or -errno. */
int svc_linked_clones(const char *const *vols, size_t nvols, struct buf *names);
/* -EBUSY + message when `d` is a template that linked clones depend on. */
int svc_template_delete_check(const struct vm_def *d, struct buf *err);
/* -EINVAL/-EBUSY + message when the edit old -> d sets or clears "template", or
 * changes a template beyond its name, description and tags. */
int svc_template_edit_check(const struct vm_def *old, const struct vm_def *d, struct buf *err);

#endif
