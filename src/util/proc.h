/*
 * proc.h - child processes: one registry for every fork, one reaper, waits
 * with timeouts, signals that never reach a recycled pid, and the identity
 * of processes corral did not fork itself (pid files).
 *
 * corrald is a child subreaper (PR_SET_CHILD_SUBREAPER): besides the
 * children it forks, every orphaned descendant (a daemon whose parent
 * exited, the intermediate of a double fork) becomes its child.  So that
 * none of them stays a zombie:
 *  - every fork goes through proc_spawn() (cmd_start() in cmd.h uses it),
 *    which forks and registers the child in one critical section of the
 *    registry lock;
 *  - once proc_reaper_start() has run, one reaper thread is the only caller
 *    of wait*() in the process.  It loops
 *        waitid(P_ALL, WEXITED | WNOWAIT)      learn a pid, reap nothing
 *        lock; waitpid(pid, WNOHANG)           reap it under the lock
 *        registered: keep its status, wake its waiters; not: drop it; unlock
 *    A child that exits before its fork returned is still found registered:
 *    the reaper needs the lock that the forking thread holds until the entry
 *    is in.  Because reaping happens under the lock and proc_signal() checks
 *    "not reaped yet" under the same lock, a signal never reaches a recycled
 *    pid.
 *  - Before proc_reaper_start() (unit tests, the CLI) a waiting thread reaps
 *    its own child with the same WNOWAIT-then-lock pattern; orphans are not
 *    collected then.
 * While the reaper runs nothing else may call wait(), waitpid() or waitid()
 * (it would steal statuses): no popen(), system() or libraries that fork and
 * wait on their own (libnbd's nbd_connect_command & co.).
 *
 * Statuses: 0..255 exit status, 128+N killed by signal N, or -errno.
 * Threading: every function may be called from any thread; one struct proc
 * may be waited on by several threads at once, but proc_release() must come
 * after every other call on it has returned.  The registry lock is a leaf:
 * nothing else is locked while it is held.
 */
#ifndef CORRAL_UTIL_PROC_H
#define CORRAL_UTIL_PROC_H

#include <stdbool.h>
#include <sys/types.h>

struct proc_entry;

struct proc {
	pid_t pid;              /* 0: nothing runs (not started, or a dry run) */
	int in;                 /* write end of the child's stdin pipe, or -EBADF */
	int out;                /* read end of its stdout pipe, or -EBADF */
	int err;                /* read end of its stderr pipe, or -EBADF */
	int dry_status;         /* what proc_wait() answers when pid is 0 */
	struct proc_entry *e;   /* the registry's record (private) */
};

#define PROC_INIT { 0, -EBADF, -EBADF, -EBADF, 0, NULL }

/*
 * The child side of proc_spawn(): runs in the new process right after fork
 * and must not return (exec or _exit).  It runs in a copy of a
 * multi-threaded process: only async-signal-safe calls (open, dup2, write,
 * setsid, setuid, execve, _exit...; no malloc, stdio, locks or logging).
 */
typedef void (*proc_child_fn)(void *arg);

/* Fork, register the child and run fn(arg) in it.  p must be PROC_INIT.  0 or -errno. */
int proc_spawn(struct proc *p, proc_child_fn fn, void *arg);

/*
 * Register a child that start(arg, &pid) creates some other way (e.g.
 * posix_spawn, which does not copy the parent's page tables as fork does).
 * start runs with the registry lock held, so the reaper cannot take the
 * child before it is registered; it must not call proc_* itself.  0, or
 * start's -errno.
 */
int proc_spawn_with(struct proc *p, int (*start)(void *arg, pid_t *pid), void *arg);

/* Wait until the child exited; its status (see above).  Repeatable. */
int proc_wait(struct proc *p);
/* The same, giving up after timeout_ms (0: just look): -ETIMEDOUT while it runs. */
int proc_wait_timeout(struct proc *p, int timeout_ms);
/* Send sig unless the child was already reaped: 0, or -ESRCH. */
int proc_signal(struct proc *p, int sig);
/*
 * Close the pipe ends and drop p's registration.  A child still running is
 * left to the reaper (reaped when it exits; without the reaper it stays a
 * zombie until this process exits).  p is PROC_INIT afterwards.
 */
void proc_release(struct proc *p);

/*
 * Start the reaper thread (corrald, right after PR_SET_CHILD_SUBREAPER).
 * 0 or -errno.  proc_reaper_stop() ends it (daemon shutdown, tests).
 */
int proc_reaper_start(void);
void proc_reaper_stop(void);
/* Children reaped that nobody had registered (orphans adopted as subreaper). */
unsigned long proc_reaper_orphans(void);

/*
 * Who a pid is, for processes found through pid files (a QEMU that outlived
 * the corrald that started it, qemu-nbd, ...): the pid, the process's start
 * time (clock ticks after boot, field 22 of /proc/PID/stat) and the boot id,
 * so a pid recycled by another process, or by another boot, is never taken
 * for ours.  start == 0 means unknown (a pid file written before
 * identities): then only the pid is compared.
 */
struct proc_identity {
	pid_t pid;
	unsigned long long start;
	char boot[40];
};

/* The identity of the running process pid: 0, -ESRCH (gone), or -errno. */
int proc_identity_get(pid_t pid, struct proc_identity *out);
/* true if that very process still runs (a zombie does not count). */
bool proc_identity_alive(const struct proc_identity *id);
/*
 * Signal that very process: through a pidfd opened before the identity is
 * compared, so the pid cannot be recycled in between.  0, -ESRCH if it is
 * gone (or the pid now belongs to another process), or -errno.
 */
int proc_identity_signal(const struct proc_identity *id, int sig);
/*
 * Pid files: line 1 the pid (what every pid file reader expects), line 2
 * "START BOOTID".  _save writes atomically (mode 0644).  _load accepts a
 * bare pid (start 0) and refuses a file that is a symlink or is not owned by
 * this process's user (-EPERM): the file may sit in a directory an
 * unprivileged QEMU can write.  0 or -errno.
 */
int proc_identity_save(const char *path, const struct proc_identity *id);
int proc_identity_load(const char *path, struct proc_identity *out);

/*
 * Helpers that must not outlive corrald (qemu-img, qemu-nbd, corral-imgd;
 * never QEMU, which does).  corrald names a directory once
 * (proc_track_dir_set); proc_track(p) then writes p's identity there as
 * <pid>.pid, removed when the child is reaped (cmd_start does it for a
 * cmd marked helper before the child may exec).  At start-up,
 * proc_track_sweep(dir) ends every process whose file is left and whose
 * identity still matches (TERM, KILL after 3 s; a recycled pid is never
 * signalled) and removes the files (also half-written ones): the number
 * stopped, or -errno.
 */
void proc_track_dir_set(const char *dir);
void proc_track(struct proc *p);
int proc_track_sweep(const char *dir);

#endif
