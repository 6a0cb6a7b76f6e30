/*
 * cmd.c - fork/exec of argv vectors with captured output and a dry-run mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd.h"
#include "timeutil.h"
#include "log.h"
#include "common.h"

#define CMD_TICK_MS 250
#define CMD_KILL_AFTER_MS 3000
#define CAPTURE_MAX (1u << 20)

static struct buf *dry_record;
static int dry_result;

void cmd_set_dry_run(struct buf *record, int result)
{
	dry_record = record;
	dry_result = result;
}

void cmd_add(struct cmd *c, const char *arg)
{
	if (c->argc + 2 > c->alloc) {
		c->alloc = c->alloc ? c->alloc * 2 : 16;
		c->argv = xrealloc(c->argv, c->alloc * sizeof(char *));
	}
	c->argv[c->argc++] = xstrdup(arg);
	c->argv[c->argc] = NULL;
}

void cmd_addf(struct cmd *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	cmd_add(c, b.s);
	buf_release(&b);
}

void cmd_release(struct cmd *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	c->argv = NULL;
	c->argc = c->alloc = 0;
}

char *cmd_to_string(const struct cmd *c)
{
	struct buf b = BUF_INIT;
	for (size_t i = 0; i < c->argc; i++) {
		if (i)
			buf_addch(&b, ' ');
		buf_adds(&b, c->argv[i]);
	}
	return buf_detach(&b);
}

/* Read what fd has; returns the callback's verdict (non-zero: stop the program). */
static int drain(int fd, struct buf *into, cmd_out_cb cb, void *opaque, int *open_)
{
	char tmp[4096];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		*open_ = 0;
		return 0;
	}
	if (cb)
		return cb(tmp, (size_t)n, opaque);
	if (into && into->len < CAPTURE_MAX)
		buf_add(into, tmp, (size_t)n);
	return 0;
}

static int run(const struct cmd *c, struct buf *out, cmd_out_cb cb, void *opaque, struct buf *err)
{
	int op[2], ep[2], xp[2], status;
	pid_t pid;

	if (c->argc == 0)
		return -EINVAL;
	if (dry_record) {
		__do_free char *s = cmd_to_string(c);
		buf_adds(dry_record, s);
		buf_addch(dry_record, '\n');
		return dry_result;
	}
	if (pipe2(op, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		int e = errno;
		close(op[0]);
		close(op[1]);
		return -e;
	}
	if (pipe2(xp, O_CLOEXEC) < 0) {
		int e = errno;
		close(op[0]); close(op[1]); close(ep[0]); close(ep[1]);
		return -e;
	}
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(op[0]); close(op[1]); close(ep[0]); close(ep[1]); close(xp[0]); close(xp[1]);
		return -e;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(op[1], 1);
		dup2(ep[1], 2);
		execvp(c->argv[0], c->argv);
		int e = errno;
		if (write(xp[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(op[1]);
	close(ep[1]);
	close(xp[1]);
	{
		int e = 0;
		ssize_t n;
		while ((n = read(xp[0], &e, sizeof(e))) < 0 && errno == EINTR)
			;
		close(xp[0]);
		if (n == (ssize_t)sizeof(e)) {
			close(op[0]);
			close(ep[0]);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return -e;
		}
	}
	int oopen = 1, eopen = 1;
	bool stopped = false;
	int64_t kill_at = 0;
	while (oopen || eopen) {
		struct pollfd p[2] = { { oopen ? op[0] : -1, POLLIN, 0 },
				       { eopen ? ep[0] : -1, POLLIN, 0 } };
		int n = poll(p, 2, cb ? CMD_TICK_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int verdict = 0;
		if (n == 0 && cb && !stopped)
			verdict = cb(NULL, 0, opaque);
		if (p[0].revents)
			verdict |= drain(op[0], out, cb, opaque, &oopen);
		if (p[1].revents)
			drain(ep[0], err, NULL, NULL, &eopen);
		if (verdict && !stopped) {
			/* Asked to stop: TERM now, KILL if it lingers. */
			stopped = true;
			kill(pid, SIGTERM);
			kill_at = time_mono_ms() + CMD_KILL_AFTER_MS;
		} else if (stopped && kill_at && time_mono_ms() >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = 0;
		}
	}
	close(op[0]);
	close(ep[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	if (stopped)
		return -ECANCELED;
	if (WIFEXITED(status)) {
		return WEXITSTATUS(status);
	}
	return 128 + WTERMSIG(status);
}

int cmd_run(const struct cmd *c, struct buf *out, struct buf *err) { return run(c, out, NULL, NULL, err); }

int cmd_run_stream(const struct cmd *c, cmd_out_cb on_out, void *opaque, struct buf *err)
{
	return run(c, NULL, on_out, opaque, err);
}
