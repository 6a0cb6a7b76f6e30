/*
 * cmd.h - running external programs (git's run-command, libvirt's virCommand).
 *
 * Every program corral runs (qemu-system-*, qemu-img, qemu-nbd, ...) goes
 * through here as an argv vector, never a shell string.  A dry-run mode
 * records each command instead of running it, for unit tests.
 *
 * Usage, synchronous:
 *     struct cmd c = CMD_INIT;
 *     cmd_add(&c, "qemu-img"); cmd_addf(&c, "%lluM", mb); ...
 *     int rc = cmd_run(&c, &out, &err);   // waits; captures stdout/stderr
 *     cmd_release(&c);
 * Asynchronous, with launch options (all optional):
 *     struct cmd c = CMD_INIT;
 *     struct proc p = PROC_INIT;
 *     cmd_add(&c, "qemu-system-x86_64"); ...
 *     cmd_keep_fd(&c, iso_fd, 3);            // the child finds it as fd 3
 *     cmd_set_io(&c, 2, CMD_IO_FILE, log);   // stderr appended to a file
 *     c.new_session = true;                  // setsid(): own session
 *     c.pre_exec = hook; c.pre_exec_arg = x; // in the child, before exec
 *     if (cmd_start(&c, &p, &err) == 0) { ... proc_wait_timeout(&p, ms) ... }
 *     proc_release(&p); cmd_release(&c);
 *
 * The child: every signal unblocked and at its default action; stdin,
 * stdout and stderr as chosen (default /dev/null); the kept fds at their
 * target numbers; every other fd closed at exec (whether or not it was
 * opened O_CLOEXEC); then, in this order: setsid (new_session), chdir (dir),
 * pre_exec, execve with the environment plus cmd_setenv's additions.  The
 * program is looked up in PATH by the parent, so "not found" is reported by
 * cmd_start itself.
 *
 * Ownership: struct cmd owns its strings; kept fds and file paths stay the
 * caller's (they must stay valid until cmd_start returns).
 */
#ifndef CORRAL_UTIL_CMD_H
#define CORRAL_UTIL_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "proc.h"

#define CMD_MAX_KEEP 8

/* What stdin (0), stdout (1) or stderr (2) of the child is. */
enum cmd_io {
	CMD_IO_NULL = 0, /* /dev/null (the default) */
	CMD_IO_PIPE,     /* a pipe; the parent's end is in struct proc (in/out/err) */
	CMD_IO_FILE,     /* a file: stdin reads it, stdout/stderr append to it (created 0600) */
};

/*
 * Runs in the child after fork (see proc.h: async-signal-safe calls only),
 * after setsid and chdir, just before exec.  Returns 0, or -errno with *what
 * pointing to a string literal naming the step that failed (e.g. "setuid");
 * cmd_start then fails with that errno and "<program>: <what>: <strerror>".
 */
typedef int (*cmd_hook_fn)(void *arg, const char **what);

struct cmd {
	char **argv;
	size_t argc, alloc;
	char **env;                 /* "NAME=value" additions */
	size_t nenv, env_alloc;
	struct { int fd, target; } keep[CMD_MAX_KEEP];
	int nkeep;
	struct { enum cmd_io how; const char *path; } io[3];
	const char *dir;            /* working directory of the child, or NULL */
	bool new_session;           /* setsid() in the child */
	cmd_hook_fn pre_exec;
	void *pre_exec_arg;
	bool helper;                /* must not outlive corrald: recorded with proc_track() (proc.h)
	                             * before it may exec, so it never runs unrecorded */
};

#define CMD_INIT { .argv = NULL }

void cmd_add(struct cmd *c, const char *arg);
void cmd_addf(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add NAME=value to the child's environment (replacing an inherited NAME). */
void cmd_setenv(struct cmd *c, const char *name, const char *value);
/*
 * Hand `fd` to the child as fd number `target` (>= 3, distinct per call).
 * fd stays the caller's.  -EINVAL for a bad target, -E2BIG past CMD_MAX_KEEP.
 */
int cmd_keep_fd(struct cmd *c, int fd, int target);
/* Choose what fd 0, 1 or 2 of the child is; path for CMD_IO_FILE. */
void cmd_set_io(struct cmd *c, int which, enum cmd_io how, const char *path);
void cmd_release(struct cmd *c);
/* The argv joined with spaces, for logs and golden files (not for a shell). */
char *cmd_to_string(const struct cmd *c);

/*
 * Start the program without waiting.  p must be PROC_INIT; on success
 * p->pid is the child and p->in/out/err hold the parent's ends of the
 * pipes asked for.  Wait with proc_wait()/proc_wait_timeout(), free with
 * proc_release().  0 or -errno with one sentence in err (may be NULL):
 * the program was not found or could not be executed, a file could not be
 * opened, or the pre-exec hook failed.
 */
int cmd_start(const struct cmd *c, struct proc *p, struct buf *err);

/*
 * Run and wait.  stdin is /dev/null (unless set otherwise).  `out`/`err`
 * (may be NULL) receive the program's output (at most 1 MiB each, the rest
 * is drained and dropped).  Returns the exit status (0..255), 128+signal
 * when killed by a signal, or -errno when the program could not be started.
 */
int cmd_run(const struct cmd *c, struct buf *out, struct buf *err);

/*
 * Like cmd_run, but stdout is handed to `on_out` chunk by chunk as it
 * arrives (for progress output such as `qemu-img convert -p`) instead of
 * being captured; on_out is also called with data NULL, len 0 at least
 * every quarter second while nothing arrives.  A non-zero return stops the
 * program (SIGTERM, SIGKILL 3 s later if it lingers) and cmd_run_stream then
 * returns -ECANCELED once it has exited (a job's cancel).
 */
typedef int (*cmd_out_cb)(const char *data, size_t len, void *opaque);
int cmd_run_stream(const struct cmd *c, cmd_out_cb on_out, void *opaque, struct buf *err);

/*
 * Dry-run: while enabled, cmd_run and cmd_start record the command (one
 * line per command: cmd_to_string, then " [fd N]" for every kept fd's
 * target number) into the given buffer and run nothing: cmd_run returns
 * `result`, cmd_start a proc with pid 0 whose proc_wait() answers `result`.
 * Pass NULL to disable.  Test-only; not thread-safe.
 */
void cmd_set_dry_run(struct buf *record, int result);

#endif
