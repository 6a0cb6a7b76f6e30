/*
 * ctdef.h - a system container's definition: what `corral ct create` and
 * POST /v1/containers describe, what the store keeps (table `containers`,
 * the JSON ctdef_to_json writes) and what the LXC layer (src/lxc) turns into
 * a liblxc configuration.
 *
 * A container's root comes from exactly one source: "template" (a rootfs
 * corral builds, today only "busybox", under the container's directory in
 * the lxcpath) or "rootfs" (an existing directory on the host, used in
 * place and never deleted by corral).  "privileged" false (the default) runs
 * it in a user namespace with the id range "idmap" (set by corrald from
 * /etc/subuid and /etc/subgid, never by a caller: docs/containers.md).
 *
 * Extension points left for later parts of issue 15: NICs, limits, volumes
 * and mount points will be members of this struct and of the JSON, each
 * refused today as an unknown field.
 *
 * Ownership: ctdef_from_json returns a new struct the caller frees with
 * ctdef_free (NULL-safe); ctdef_to_json a new JSON reference.  No globals.
 * Errors: -EINVAL with one sentence appended to err.
 */
#ifndef CORRAL_CORE_CTDEF_H
#define CORRAL_CORE_CTDEF_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

/* The templates corral builds a root from ("template" in JSON). */
enum ct_template { CT_TEMPLATE_NONE = 0, CT_TEMPLATE_BUSYBOX };

/* A user-namespace id range: container ids 0..count-1 are host ids base..base+count-1. */
struct ct_idmap {
	uint32_t uid_base, gid_base, count;
};

struct ct_def {
	char *name;
	char uuid[37];
	char *description;      /* NULL: none */
	enum ct_template tmpl;  /* or NONE with rootfs set */
	char *rootfs;           /* an absolute host directory, or NULL with a template */
	bool privileged;
	struct ct_idmap idmap;  /* count 0: none (privileged, or not yet assigned) */
	int64_t created_ms;
};

/* Where a definition comes from: a caller (the API: no "idmap", no
 * "created") or the store (everything ctdef_to_json writes). */
enum ctdef_origin { CTDEF_FROM_USER, CTDEF_FROM_STORE };

/*
 * Parse and validate j.  Unknown members, a hostile name (ctdef_name_invalid),
 * both or neither of template and rootfs, a relative or non-normal rootfs
 * path, an unknown template, and members the origin may not give are
 * refused.  A missing uuid is generated.  NULL + err on failure.
 */
struct ct_def *ctdef_from_json(const json_t *j, enum ctdef_origin origin, struct buf *err);
json_t *ctdef_to_json(const struct ct_def *d);
void ctdef_free(struct ct_def *d);

/* Why `name` cannot name a container (a hostname and a directory name:
 * 1-63 of [A-Za-z0-9-], not starting or ending with '-'), or NULL. */
const char *ctdef_name_invalid(const char *name);
const char *ctdef_template_name(enum ct_template t);

#endif
