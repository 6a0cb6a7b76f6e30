/*
 * cmd.h - running external programs (git's run-command, libvirt's virCommand).
 *
 * Every program corral runs (qemu-system-*, qemu-img, ...) goes through here
 * as an argv vector, never a shell string.  A dry-run mode records each argv
 * instead of running it, for unit tests.
 *
 * Usage:
 *     struct cmd c = CMD_INIT;
 *     cmd_add(&c, "qemu-img"); cmd_addf(&c, "%lluM", mb); ...
 *     int rc = cmd_run(&c, &out, &err);   // waits; captures stdout/stderr
 *     cmd_release(&c);
 */
#ifndef CORRAL_UTIL_CMD_H
#define CORRAL_UTIL_CMD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

struct cmd {
	char **argv;
	size_t argc;
	size_t alloc;
};

#define CMD_INIT { NULL, 0, 0 }

void cmd_add(struct cmd *c, const char *arg);
void cmd_addf(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cmd_release(struct cmd *c);
/* The argv joined with spaces, for logs and golden files (not for a shell). */
char *cmd_to_string(const struct cmd *c);

/*
 * Run and wait.  stdin is /dev/null.  `out`/`err` (may be NULL) receive
 * the program's output (at most 1 MiB each, the rest is drained and dropped).
 * Returns the exit status (0..255), 128+signal when killed by a signal,
 * or -errno when the program could not be started.
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
 * Dry-run: while enabled, cmd_run records the argv (one line per command,
 * see cmd_to_string) into the given buffer and returns `result` without
 * running anything.  Pass NULL to disable.  Test-only; not thread-safe.
 */
void cmd_set_dry_run(struct buf *record, int result);

#endif
