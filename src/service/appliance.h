/*
 * appliance.h - importing an OVA or OVF appliance as a new VM (appliance.c).
 *
 * `vm import` reads what the appliance says through the sandboxed image
 * helper (the tar index of an OVA, its OVF descriptor and .mf manifest:
 * image/appliance.h), checks every value it gets back, then runs a
 * "vm-import" job: the disk files are copied out of the OVA into a private
 * directory of the target pool (<pool>/.vm-import-XXXXXX, mode 0700, files
 * named by corrald, never by the archive) while their SHA-256/SHA-1 is
 * computed, the manifest is checked, each disk is converted into a qcow2
 * volume "<vm>-disk<i>" through the ordinary import path (qemu-img, with the
 * same raw-plausibility rule as `disk import`), the scratch directory is
 * removed and the VM is defined (and started with `start`).  What corral
 * cannot honour (EFI firmware, USB, sound, vApp properties, NIC models...)
 * is listed in the job result's "warnings".
 *
 * Nothing is left behind on any failure or cancel: the volumes made so far
 * are deleted, the scratch directory removed, no VM defined; after a crash,
 * start-up recovery (recover.c) does the same from the job's record.
 *
 * Errors: see service.h.  Refusals known before any copy (malformed or
 * hostile archive, missing disk, sizes that lie, name taken) come back at
 * once; a manifest mismatch fails the job.
 */
#ifndef CORRAL_SERVICE_APPLIANCE_H
#define CORRAL_SERVICE_APPLIANCE_H

#include <stdbool.h>
#include <jansson.h>

#include "service/service.h"

struct svc_import_opts {
	const char *name;	/* NULL: from the descriptor */
	const char *pool;	/* NULL: "default" */
	const char *network;	/* NULL: each NIC on the corral network of its OVF name, else user mode */
	bool start;
};

/* Start a vm-import job for the .ova or .ovf at `path`; *job gets the job JSON. */
int svc_vm_import(const char *path, const struct svc_import_opts *o, json_t **job, struct buf *err);

/* Remove a scratch directory a dead vm-import left (recovery): only a
 * directory named .vm-import-* and the files in it. */
void svc_vm_import_scratch_remove(const char *dir);

#endif
