/*
 * machine.h - the machine types a QEMU binary offers (machine.c), so that a
 * VM's definition can pin a concrete, versioned type ("pc-q35-7.2", not the
 * alias "q35" whose meaning moves with each QEMU release): the guest sees
 * the same hardware (its ABI) on every host and across QEMU upgrades, and a
 * host whose QEMU lacks the type is detected before anything starts there.
 *
 * corral builds q35 machines only (PCIe root ports for hot-plug): a
 * definition names "q35" (pinned at create) or "pc-q35-X.Y" (vmdef.h).
 *
 * Ownership: a struct qemu_machines owns its strings; release with
 * qemu_machines_release.  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_QEMU_MACHINE_H
#define CORRAL_QEMU_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct qemu_machines {
	char **names;   /* concrete types, in QEMU's order */
	size_t n;
	char **aliases; /* alias i means targets[i] */
	char **targets;
	size_t naliases;
};

/* Parse the output of `qemu-system-x86_64 -machine help`; -EINVAL if it lists none. */
int qemu_machines_parse(const char *text, struct qemu_machines *out);
/* Run `BINARY -machine help` and parse it. */
int qemu_machines_probe(const char *binary, struct qemu_machines *out, struct buf *err);
void qemu_machines_release(struct qemu_machines *m);
/* The concrete type `name` stands for (itself when concrete), or NULL if the QEMU lacks it. */
const char *qemu_machines_resolve(const struct qemu_machines *m, const char *name);

#endif
