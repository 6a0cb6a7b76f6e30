/*
 * hostpath.h - host files an API caller may name (hostpath.c).
 *
 * Some requests name a file on corrald's host: a volume import's source, a
 * VM's kernel, initrd and CD-ROM image (also a CD change on a running VM),
 * an image file read with `corral disk files --file`, and the backing files
 * of those images.  corrald runs as root, so without a rule any caller of
 * the API could have it read /etc/shadow into a volume or a guest.  The
 * rule: a host file must lie inside an allowed root, which is a storage
 * pool's directory or an `allow_path` entry of corrald.conf (also
 * --allow-path), and is reached from that root without leaving it.
 *
 * hostpath_open() opens the root (O_PATH, following the admin's own
 * symlinks), then the rest of the path beneath it with openat2(2)
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: a `..` or a symlink that leads
 * out of the root is refused, so is a /proc magic link.  The file found is
 * checked on its descriptor (fstat, fstatfs), never by its name again:
 *   - a regular file is accepted;
 *   - a block device only when allow_block_devices is set, or when an
 *     allow_path entry names that very path;
 *   - anything else (directory, FIFO, socket, character device) is refused
 *     without being opened for reading;
 *   - a file under /proc, /sys or /dev, or on a procfs or sysfs mount, is
 *     refused unless the root it was found in is itself inside those trees
 *     (an admin who lists /dev/vg0 means it).
 * Only then is it reopened read-only from the O_PATH descriptor, so the
 * descriptor returned is the file that was checked.  Callers use that
 * descriptor (imgclient, QEMU's fd sets, the kernel copy) rather than the
 * name wherever they can; see docs/security.md for where the name is
 * still used.
 *
 * A refusal is -EACCES (the API's 403 "forbidden") with a sentence naming
 * what was refused and the rule, e.g. "kernel /etc/shadow: not inside a
 * storage pool or an allow_path directory of corrald.conf (allowed:
 * /srv/iso, /var/lib/corral/storage)".  A path that is not absolute is
 * -EINVAL; a file that does not exist inside an allowed root -ENOENT.
 *
 * Threading: hostpath_open may be called from any thread after
 * hostpath_init; the allow list is fixed until hostpath_shutdown.
 */
#ifndef CORRAL_SERVICE_HOSTPATH_H
#define CORRAL_SERVICE_HOSTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/buf.h"

/* Copy the admin's allow list (absolute paths) and the block-device switch. */
void hostpath_init(const char *const *allow, size_t n, bool allow_block_devices);
void hostpath_shutdown(void);

/*
 * Open `path` read-only (O_CLOEXEC) under the rule above; `what` names the
 * file in messages ("kernel", "cdrom image", "source image").  The
 * descriptor (>= 0, the caller's to close) or -errno with err appended;
 * *st (may be NULL) gets its fstat.
 */
int hostpath_open(const char *what, const char *path, struct stat *st, struct buf *err);

/* hostpath_open, then close: for checks at definition time. */
int hostpath_check(const char *what, const char *path, struct buf *err);
/* The same rule for a directory (a container's given root, service/ct.h):
 * 0 when `path` is a directory inside an allowed root, else -errno + err. */
int hostpath_dir_check(const char *what, const char *path, struct buf *err);

#endif
