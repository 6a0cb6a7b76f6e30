/*
 * sandbox.c - chroot, unprivileged ids, resource limits, no_new_privs and a
 * seccomp filter for corral-imgd (see sandbox.h for the what and why).
 *
 * The allow list is what the image library, zlib, zstd, libext2fs, jansson
 * and glibc's malloc and stdio use on the helper's paths (strace of every
 * request type, and the tests with the filter in place: a missing entry
 * shows up as "stopped by its sandbox" in corrald's answer).  Arguments are filtered
 * where a call could otherwise reach beyond what the helper holds:
 * newfstatat only with AT_EMPTY_PATH (fstat of a held descriptor), mmap and
 * mprotect never with PROT_EXEC, tgkill only to this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgd/sandbox.h"
#include "image/bootdisk.h"
#include "util/common.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int enter_root(const char *root, struct buf *err)
{
	struct stat st;
	__do_close int fd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		buf_printf(err, "cannot open the helper's root %s: %s", root, strerror(-r));
		return r;
	}
	if (st.st_uid != 0 || (st.st_mode & 022)) {
		buf_printf(err, "the helper's root %s must belong to root and be writable by no one else", root);
		return -EPERM;
	}
	if (fchdir(fd) < 0 || chroot(".") < 0 || chdir("/") < 0) {
		int r = -errno;
		buf_printf(err, "cannot chroot into %s: %s", root, strerror(-r));
		return r;
	}
	return 0;
}

static int drop_ids(uid_t uid, gid_t gid, struct buf *err)
{
	uid_t ru, eu, su;

	if (uid == 0 || gid == 0) {
		buf_adds(err, "the image helper must not run as root (uid or gid 0)");
		return -EPERM;
	}
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) {
		int r = -errno;
		buf_printf(err, "cannot drop to uid %u gid %u: %s", (unsigned)uid, (unsigned)gid, strerror(-r));
		return r;
	}
	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid || su != uid || setuid(0) == 0) {
		buf_adds(err, "dropping root did not stick");
		return -EPERM;
	}
	return 0;
}

static int set_limits(struct buf *err)
{
	static const struct {
		int res;
		const char *name;
		rlim_t max;
	} limits[] = {
		{ RLIMIT_NOFILE, "RLIMIT_NOFILE", IMGD_MAX_NOFILE },
		{ RLIMIT_NPROC, "RLIMIT_NPROC", 0 },
		{ RLIMIT_CORE, "RLIMIT_CORE", 0 },
		{ RLIMIT_FSIZE, "RLIMIT_FSIZE", IMG_BOOT_MAX_FILE },
		{ RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK", 0 },
		{ RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE", 0 },
#ifndef UNDER_ASAN
		{ RLIMIT_AS, "RLIMIT_AS", IMGD_MAX_AS },
#endif
	};

	for (size_t i = 0; i < ARRAY_SIZE(limits); i++) {
		struct rlimit rl = { limits[i].max, limits[i].max };
		if (setrlimit(limits[i].res, &rl) < 0) {
			int r = -errno;
			buf_printf(err, "cannot set %s: %s", limits[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

static int load_filter(struct buf *err)
{
	/* What the helper was seen to call under strace on every request type,
	 * plus what glibc needs to report a crash (writev, abort's signals) and
	 * lseek (sizing a block device).  Everything works on descriptors it holds. */
	static const int allowed[] = {
		SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(pread64), SCMP_SYS(lseek), SCMP_SYS(close),
		SCMP_SYS(recvmsg), SCMP_SYS(sendmsg), SCMP_SYS(poll), SCMP_SYS(brk), SCMP_SYS(munmap),
		SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(clock_gettime), SCMP_SYS(getpid),
		SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
		SCMP_SYS(rt_sigaction), SCMP_SYS(exit), SCMP_SYS(exit_group),
	};

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int r = ctx ? 0 : -ENOMEM;

	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; i < ARRAY_SIZE(allowed) && r == 0; i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(newfstatat), 1,
				     SCMP_A3(SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				     SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		buf_printf(err, "cannot load the seccomp filter: %s", strerror(-r));
	return r;
}

int imgd_sandbox_enter(const struct imgd_sandbox *sb, struct buf *err)
{
	int r;

	if (getuid() == 0 || geteuid() == 0) {
		if ((r = enter_root(sb->root, err)) < 0 || (r = drop_ids(sb->uid, sb->gid, err)) < 0)
			return r;
	}
	if ((r = set_limits(err)) < 0)
		return r;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		r = -errno;
		buf_printf(err, "cannot set no_new_privs: %s", strerror(-r));
		return r;
	}
	return load_filter(err);
}
