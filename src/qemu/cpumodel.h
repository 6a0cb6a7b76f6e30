/*
 * cpumodel.h - the CPU models a QEMU binary knows (cpumodel.c), so that a
 * VM's `--cpu MODEL` is checked before anything is created ("did you mean
 * Skylake-Server-v4?") and a live migration can tell whether the guest's
 * CPU exists on the destination too.
 *
 * "host" (KVM's pass-through of the host CPU) and "max" (everything the
 * accelerator can emulate) are listed by QEMU like models but are not
 * portable between unlike hosts; qemu_cpu_portable() says which are.
 *
 * Ownership: a struct qemu_cpus owns its strings; release with
 * qemu_cpus_release.  Errors: 0 or -errno with one sentence in err.
 */
#ifndef CORRAL_QEMU_CPUMODEL_H
#define CORRAL_QEMU_CPUMODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct qemu_cpus {
	char **names; /* models and aliases, in QEMU's order */
	size_t n;
};

/* Parse `qemu-system-x86_64 -cpu help` ("x86 NAME  DESCRIPTION" lines up to
 * the CPUID flags); -EINVAL if it lists none. */
int qemu_cpus_parse(const char *text, struct qemu_cpus *out);
/* Run `BINARY -cpu help` and parse it. */
int qemu_cpus_probe(const char *binary, struct qemu_cpus *out, struct buf *err);
void qemu_cpus_release(struct qemu_cpus *c);
/* Does the list hold `name` (exactly)? */
bool qemu_cpus_has(const struct qemu_cpus *c, const char *name);
/* The listed name closest to `name` (edit distance, any case) when close
 * enough to be a typo, else NULL. */
const char *qemu_cpus_suggest(const struct qemu_cpus *c, const char *name);
/* A named model, the same on any host whose QEMU knows it: not host or max. */
bool qemu_cpu_portable(const char *name);
/*
 * Is `name` (vmdef "cpu"; NULL: the default) usable with this QEMU (c, when
 * probed: c->n > 0) and accelerator (kvm: KVM usable here)?  0, or -EINVAL
 * with a sentence naming the model and, for a typo, the likely one.
 */
int qemu_cpu_check(const struct qemu_cpus *c, const char *name, bool kvm, struct buf *err);

#endif
