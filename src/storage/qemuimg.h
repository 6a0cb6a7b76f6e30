/*
 * qemuimg.h - running qemu-img and reading its errors.
 *
 * Every qemu-img run in corral (volumes, clones, snapshots) goes through
 * these helpers: the command line is an argv built on the cmd API (no
 * shell), and a failure becomes 0 or -errno plus one clean sentence taken
 * from qemu-img's own stderr, so every caller reports it the same way.
 * Errors: -ENOSPC when qemu-img ran out of room (or quota), -EIO for any
 * other failure; the reason is appended to `why` without a trailing newline.
 */
#ifndef CORRAL_STORAGE_QEMUIMG_H
#define CORRAL_STORAGE_QEMUIMG_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/cmd.h"

/* Start the empty `c` as the command line "qemu-img ARG..." (the arguments up to NULL). */
__attribute__((sentinel)) void qemu_img_cmd(struct cmd *c, ...);

/*
 * Turn a finished qemu-img run (`rc` from cmd_run*, its stderr in `errout`)
 * into 0 or -errno, appending the reason to `why` on failure: qemu-img's
 * last "qemu-img: " line without the prefix (with a hint line after it in
 * parentheses), else the last non-empty stderr line, else the exit status.
 */
int qemu_img_result(int rc, const struct buf *errout, struct buf *why);

/* Run the qemu-img command `c` and release it; its stdout into `out` (NULL: dropped). */
int qemu_img_run(struct cmd *c, struct buf *out, struct buf *why);

/*
 * A source image corrald opened (and checked) itself is handed to qemu-img
 * as this descriptor number, and qemu-img opens it by this name (a new open
 * of the same file): qemu-img never resolves the caller's path.
 */
#define QEMU_IMG_SRC_FD 3
#define QEMU_IMG_SRC_PATH "/dev/fd/3"

/*
 * Bytes a conversion of `src` (format `src_format`) into `format` needs
 * (`qemu-img measure`) into *required.  shared: src may be open in a running
 * VM (measure has no -U: force-share goes through --image-opts).  src_fd
 * >= 0: measure that descriptor instead (src is then QEMU_IMG_SRC_PATH).
 */
int qemu_img_measure(const char *src, int src_fd, const char *src_format, const char *format, bool shared,
		     uint64_t *required, struct buf *why);

/*
 * The backing files of image `path` (of `format`: nothing is probed about
 * the image itself) as QEMU resolves them, nearest first (`qemu-img info
 * --backing-chain`, the image shared and read-only): *n paths in *files
 * (the caller frees each and the array).  A backing file that is not a
 * plain absolute file name (json:, a URL) or not raw or qcow2 is -ENOTSUP.
 */
int qemu_img_backing_chain(const char *path, const char *format, char ***files, size_t *n, struct buf *why);

#endif
