/*
 * cmd.c - argv vectors, the child's setup between fork and exec, and the
 * synchronous runners on top of cmd_start (see cmd.h; forks and waits are
 * proc.c's).
 *
 * Everything the child needs is prepared in the parent (the program's path,
 * the environment vector, the opened stdio files and pipes), so the child
 * only moves fds around and calls async-signal-safe functions.  It reports a
 * failure before exec through a close-on-exec pipe: an errno and a string
 * literal (its address is valid in both processes after fork).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cmd.h"
#include "timeutil.h"
#include "common.h"

#define CMD_TICK_MS 250
#define CMD_KILL_AFTER_MS 3000
#define CAPTURE_MAX (1u << 20)
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

static struct buf *dry_record;
static int dry_result;

void cmd_set_dry_run(struct buf *record, int result)
{
	dry_record = record;
	dry_result = result;
}

static void vec_push(char ***v, size_t *n, size_t *alloc, char *s)
{
	if (*n + 2 > *alloc) {
		*alloc = *alloc ? *alloc * 2 : 16;
		*v = xrealloc(*v, *alloc * sizeof(char *));
	}
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

void cmd_add(struct cmd *c, const char *arg) { vec_push(&c->argv, &c->argc, &c->alloc, xstrdup(arg)); }

void cmd_addf(struct cmd *c, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	vec_push(&c->argv, &c->argc, &c->alloc, buf_detach(&b));
}

void cmd_setenv(struct cmd *c, const char *name, const char *value)
{
	vec_push(&c->env, &c->nenv, &c->env_alloc, xasprintf("%s=%s", name, value));
}

int cmd_keep_fd(struct cmd *c, int fd, int target)
{
	if (fd < 0 || target < 3)
		return -EINVAL;
	for (int i = 0; i < c->nkeep; i++)
		if (c->keep[i].target == target)
			return -EINVAL;
	if (c->nkeep >= CMD_MAX_KEEP)
		return -E2BIG;
	c->keep[c->nkeep].fd = fd;
	c->keep[c->nkeep].target = target;
	c->nkeep++;
	return 0;
}

void cmd_set_io(struct cmd *c, int which, enum cmd_io how, const char *path)
{
	if (which < 0 || which > 2)
		return;
	c->io[which].how = how;
	c->io[which].path = path;
}

void cmd_release(struct cmd *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	for (size_t i = 0; i < c->nenv; i++)
		free(c->env[i]);
	free(c->argv);
	free(c->env);
	*c = (struct cmd)CMD_INIT;
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

/* ---- the child -------------------------------------------------------- */

struct child {
	const struct cmd *c;
	const char *path;   /* resolved program */
	char **envp;
	int stdio[3];       /* what becomes fd 0, 1, 2 */
	int floor;          /* first fd number above every target */
	int maxfd;          /* for the close-on-exec fallback */
	int report;         /* write end of the failure pipe */
	int go;             /* helpers: read end of the pipe saying "recorded, exec" */
	int go_w;           /* its write end: the child closes its copy, so corrald's death means EOF */
};

struct child_failure {
	int err;
	const char *what;
};

static void child_main(void *arg)
{
	struct child *k = arg;
	struct child_failure f = { 0, "exec" };
	int src[3 + CMD_MAX_KEEP];
	struct sigaction dfl;
	sigset_t none;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL); /* glibc's internal signals answer EINVAL: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (k->go_w >= 0)
		close(k->go_w);

	if (k->c->new_session && setsid() < 0) {
		f.what = "setsid";
		goto fail;
	}
	/* Move every source above the targets first, so no dup2 below can
	 * clobber a source that is still to be moved. */
	for (int i = 0; i < 3 + k->c->nkeep; i++) {
		int from = i < 3 ? k->stdio[i] : k->c->keep[i - 3].fd;
		if ((src[i] = fcntl(from, F_DUPFD_CLOEXEC, k->floor)) < 0) {
			f.what = "moving file descriptors";
			goto fail;
		}
	}
	/* Everything inherited is closed at exec, then the targets are set. */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < k->maxfd; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	for (int i = 0; i < 3 + k->c->nkeep; i++) {
		int to = i < 3 ? i : k->c->keep[i - 3].target;
		if (dup2(src[i], to) < 0) {
			f.what = "setting up file descriptors";
			goto fail;
		}
	}
	if (k->c->dir && chdir(k->c->dir) < 0) {
		f.what = "changing directory";
		goto fail;
	}
	if (k->c->pre_exec) {
		const char *what = "pre-exec setup";
		int r = k->c->pre_exec(k->c->pre_exec_arg, &what);
		if (r < 0) {
			f.err = -r;
			f.what = what;
			goto report;
		}
	}
	if (k->go >= 0) {
		/* A helper runs only once corrald recorded it (proc_track): if
		 * corrald dies first, this reads EOF and the helper never starts. */
		char b;
		ssize_t n;
		while ((n = read(k->go, &b, 1)) < 0 && errno == EINTR)
			;
		if (n != 1) {
			f.err = EPIPE;
			f.what = "waiting to be recorded";
			goto report;
		}
	}
	execve(k->path, k->c->argv, k->envp);
fail:
	f.err = errno;
report:
	if (write(k->report, &f, sizeof(f)) < 0)
		_exit(127);
	_exit(127);
}

/* ---- the parent ------------------------------------------------------- */

/* The program's path: argv[0] if it has a '/', else the first match in PATH. */
static char *resolve(const char *prog)
{
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
	const char *path = getenv("PATH");
	__do_free char *dirs = xstrdup(path && *path ? path : DEFAULT_PATH);
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		__do_free char *p = xasprintf("%s/%s", *d ? d : ".", prog);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0)
			return move_ptr(p);
	}
	errno = ENOENT;
	return NULL;
}

/* environ without the names c->env replaces, then c->env. */
static char **build_env(const struct cmd *c)
{
	char **v = NULL;
	size_t n = 0, alloc = 0;
	for (char **e = environ; e && *e; e++) {
		size_t len = strcspn(*e, "=");
		bool replaced = false;
		for (size_t i = 0; i < c->nenv; i++)
			if (strncmp(c->env[i], *e, len) == 0 && c->env[i][len] == '=')
				replaced = true;
		if (!replaced)
			vec_push(&v, &n, &alloc, *e);
	}
	for (size_t i = 0; i < c->nenv; i++)
		vec_push(&v, &n, &alloc, c->env[i]);
	if (!v)
		v = xcalloc(1, sizeof(char *));
	return v;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -EBADF;
}

/* Open what fd `which` of the child is: its end into *child, ours (a pipe) into *parent. */
static int open_io(const struct cmd *c, int which, int *child, int *parent, struct buf *err)
{
	int p[2];
	switch (c->io[which].how) {
	case CMD_IO_PIPE:
		if (pipe2(p, O_CLOEXEC) < 0)
			break;
		*child = which == 0 ? p[0] : p[1];
		*parent = which == 0 ? p[1] : p[0];
		return 0;
	case CMD_IO_FILE:
		*child = open(c->io[which].path,
			      which == 0 ? O_RDONLY | O_CLOEXEC : O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY | O_CLOEXEC,
			      0600);
		if (*child >= 0)
			return 0;
		buf_printf(err, "cannot open %s for %s: %s", c->io[which].path, c->argv[0], strerror(errno));
		return -errno;
	default:
		if ((*child = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0)
			return 0;
		break;
	}
	buf_printf(err, "cannot set up the standard streams of %s: %s", c->argv[0], strerror(errno));
	return -errno;
}

static void record_dry(const struct cmd *c)
{
	__do_free char *s = cmd_to_string(c);
	buf_adds(dry_record, s);
	for (int i = 0; i < c->nkeep; i++)
		buf_printf(dry_record, " [fd %d]", c->keep[i].target);
	buf_addch(dry_record, '\n');
}

int cmd_start(const struct cmd *c, struct proc *p, struct buf *err)
{
	struct buf scratch = BUF_INIT;
	struct child k = { .c = c, .stdio = { -EBADF, -EBADF, -EBADF }, .floor = 3, .report = -EBADF, .go = -EBADF,
			   .go_w = -EBADF };
	int parent[3] = { -EBADF, -EBADF, -EBADF };
	int rep[2] = { -EBADF, -EBADF };
	int go[2] = { -EBADF, -EBADF };
	__do_free char *path = NULL;
	char **envp = NULL;
	int r;

	if (!err)
		err = &scratch;
	if (c->argc == 0) {
		buf_adds(err, "no program to run");
		return -EINVAL;
	}
	if (dry_record) {
		record_dry(c);
		p->dry_status = dry_result;
		return 0;
	}
	if (!(path = resolve(c->argv[0]))) {
		r = -errno;
		buf_printf(err, "cannot run %s: %s", c->argv[0], strerror(-r));
		goto out;
	}
	for (int i = 0; i < 3; i++)
		if ((r = open_io(c, i, &k.stdio[i], &parent[i], err)) < 0)
			goto out;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		r = -errno;
		buf_printf(err, "cannot run %s: %s", c->argv[0], strerror(-r));
		goto out;
	}
	for (int i = 0; i < c->nkeep; i++)
		if (c->keep[i].target >= k.floor)
			k.floor = c->keep[i].target + 1;
	k.maxfd = (int)sysconf(_SC_OPEN_MAX);
	if (k.maxfd <= 0 || k.maxfd > 1 << 20)
		k.maxfd = 1 << 16;
	k.path = path;
	k.envp = envp = build_env(c);
	k.report = rep[1];
	if (c->helper && pipe2(go, O_CLOEXEC) < 0) {
		r = -errno;
		buf_printf(err, "cannot run %s: %s", c->argv[0], strerror(-r));
		goto out;
	}
	k.go = go[0];
	k.go_w = go[1];
	if ((r = proc_spawn(p, child_main, &k)) < 0) {
		buf_printf(err, "cannot run %s: fork: %s", c->argv[0], strerror(-r));
		goto out;
	}
	close_fd(&rep[1]);
	close_fd(&go[0]);
	for (int i = 0; i < 3; i++)
		close_fd(&k.stdio[i]);
	if (c->helper) {
		/* Record it before it may run, then let it exec (child_main). */
		proc_track(p);
		ssize_t w = write(go[1], "g", 1);
		(void)w; /* on failure the child reports "waiting to be recorded" below */
		close_fd(&go[1]);
	}
	struct child_failure f;
	ssize_t n;
	while ((n = read(rep[0], &f, sizeof(f))) < 0 && errno == EINTR)
		;
	if (n == (ssize_t)sizeof(f)) {
		r = f.err > 0 ? -f.err : -EIO;
		if (strcmp(f.what, "exec") == 0)
			buf_printf(err, "cannot run %s: %s", c->argv[0], strerror(-r));
		else
			buf_printf(err, "cannot run %s: %s: %s", c->argv[0], f.what, strerror(-r));
		proc_wait(p);
		proc_release(p);
		goto out;
	}
	p->in = move_fd(parent[0]);
	p->out = move_fd(parent[1]);
	p->err = move_fd(parent[2]);
	r = 0;
out:
	for (int i = 0; i < 3; i++) {
		close_fd(&k.stdio[i]);
		close_fd(&parent[i]);
	}
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	close_fd(&go[0]);
	close_fd(&go[1]);
	free(envp);
	buf_release(&scratch);
	return r;
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
	struct cmd k = *c; /* shallow: only the stream choices differ */
	struct proc p = PROC_INIT;
	bool stopped = false;
	int64_t kill_at = 0;
	int r;

	if (c->argc == 0)
		return -EINVAL;
	if (dry_record) {
		record_dry(c);
		return dry_result;
	}
	k.io[1].how = k.io[2].how = CMD_IO_PIPE;
	if ((r = cmd_start(&k, &p, NULL)) < 0)
		return r;
	int oopen = 1, eopen = 1;
	while (oopen || eopen) {
		struct pollfd pf[2] = { { oopen ? p.out : -1, POLLIN, 0 }, { eopen ? p.err : -1, POLLIN, 0 } };
		int n = poll(pf, 2, cb ? CMD_TICK_MS : -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int verdict = 0;
		if (n == 0 && cb && !stopped)
			verdict = cb(NULL, 0, opaque);
		if (pf[0].revents)
			verdict |= drain(p.out, out, cb, opaque, &oopen);
		if (pf[1].revents)
			drain(p.err, err, NULL, NULL, &eopen);
		if (verdict && !stopped) {
			/* Asked to stop: TERM now, KILL if it lingers. */
			stopped = true;
			proc_signal(&p, SIGTERM);
			kill_at = time_mono_ms() + CMD_KILL_AFTER_MS;
		} else if (stopped && kill_at && time_mono_ms() >= kill_at) {
			proc_signal(&p, SIGKILL);
			kill_at = 0;
		}
	}
	r = proc_wait(&p);
	proc_release(&p);
	return stopped ? -ECANCELED : r;
}

int cmd_run(const struct cmd *c, struct buf *out, struct buf *err) { return run(c, out, NULL, NULL, err); }

int cmd_run_stream(const struct cmd *c, cmd_out_cb on_out, void *opaque, struct buf *err)
{
	return run(c, NULL, on_out, opaque, err);
}
