/*
 * sandbox.h - what corral-imgd gives up before it reads a byte of an image.
 *
 * corrald starts the helper as root with nothing but its socket (fd 3),
 * /dev/null as stdin and stdout, a non-blocking pipe as stderr and an empty
 * environment; image files arrive later over the socket.  imgd_sandbox_enter
 * then, in this order:
 *  1. chroot()s into `root`, an empty directory owned by root and writable
 *     by nobody else (corrald keeps <run dir>/imgd-root so), and chdir("/");
 *  2. drops to uid/gid (a dedicated account, corral-imgd by default, never
 *     root and not QEMU's): setgroups(0), setresgid, setresuid, and checks
 *     that root cannot be regained;
 *  3. sets resource limits: RLIMIT_NOFILE 32 (the socket, stdio and the
 *     largest request's descriptors), RLIMIT_NPROC 0 (no fork), RLIMIT_CORE
 *     0, RLIMIT_FSIZE 1 GiB (a kernel or initrd written out), RLIMIT_AS
 *     IMGD_MAX_AS (not under ASan, whose shadow memory needs terabytes of
 *     address space), RLIMIT_MEMLOCK and RLIMIT_MSGQUEUE 0;
 *  4. PR_SET_DUMPABLE 0 (no ptrace or /proc access from another helper of
 *     the same uid) and PR_SET_NO_NEW_PRIVS;
 *  5. loads a seccomp filter (libseccomp): pread, write, lseek, fstat and
 *     close of descriptors it holds, sendmsg/recvmsg/poll on its socket,
 *     memory management without PROT_EXEC, the clock, signals to itself
 *     and exit are allowed; open/openat fail with EACCES (so a library that
 *     looks for a file fails softly); every other system call - socket,
 *     connect, fork, execve, ptrace, kill, chmod, mount, even read() -
 *     kills the process (SIGSYS).
 * Started without root (a corrald run by a user), steps 1 and 2 are
 * impossible and skipped; the seccomp filter still forbids opening files.
 *
 * Errors: 0 or -errno with the failed step in err.  On failure the helper
 * must exit without reading its requests.
 */
#ifndef CORRAL_IMGD_SANDBOX_H
#define CORRAL_IMGD_SANDBOX_H

#include <sys/types.h>

#include "util/buf.h"

#define IMGD_MAX_AS (1536ull << 20)
#define IMGD_MAX_NOFILE 32

struct imgd_sandbox {
	const char *root;	/* empty directory to chroot into */
	uid_t uid;		/* account to run as (not 0) */
	gid_t gid;
};

int imgd_sandbox_enter(const struct imgd_sandbox *sb, struct buf *err);

#endif
