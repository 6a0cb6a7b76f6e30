/*
 * srcprobe.h - is a file that qemu-img reads as "raw" really a disk
 * (srcprobe.c)?
 *
 * qemu-img calls every file it does not recognise raw: a text file, an OVA,
 * a gzip archive.  Before `disk import` (and `vm import`, for each disk)
 * converts such a file, the sandboxed image helper (imgclient.h) looks at
 * it: a partition table (MBR, GPT) or a known filesystem superblock makes it
 * a plausible disk; anything else is refused with a sentence saying what
 * the file looks like and how to import it anyway (`--source-format raw`,
 * the API's "source_format": "raw").
 *
 * Threading: any thread.  Errors: 0, or -EINVAL with the sentence appended
 * to err (-EIO when the helper failed).
 */
#ifndef CORRAL_SERVICE_SRCPROBE_H
#define CORRAL_SERVICE_SRCPROBE_H

#include "util/buf.h"

/* fd: the source opened read-only (stays the caller's); path names it in messages. */
int svc_raw_source_check(int fd, const char *path, struct buf *err);

#endif
