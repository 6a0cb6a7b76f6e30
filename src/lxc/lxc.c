/*
 * lxc.c - the liblxc calls behind lxc.h: define, start, stop, kill, state,
 * exec (attach) and console of one container, each on a liblxc container
 * object made for the call and put back before it returns.
 *
 * liblxc logs into <lxcpath>/<name>/lxc.log (set in the config), so the
 * reason a start failed is read from there into the user's error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>
#include <lxc/version.h>

#include "lxc.h"
#include "lxc_internal.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/proc.h"
#include "util/common.h"

#define LXC_COMMON_CONF "/usr/share/lxc/config/common.conf"
#define LXC_USERNS_CONF "/usr/share/lxc/config/userns.conf"

const char *ctrt_version(void) { return lxc_get_version(); }

struct lxc_container *ctrt_ct_get(const char *lxcpath, const char *name, struct buf *err)
{
	struct lxc_container *c = lxc_container_new(name, lxcpath);
	if (!c)
		buf_printf(err, "container '%s': liblxc cannot open it under %s", name, lxcpath);
	return c;
}

void ctrt_ct_put(struct lxc_container **c)
{
	if (*c)
		lxc_container_put(*c);
	*c = NULL;
}

/* The last lines of the container's liblxc log, appended to err. */
static void log_tail(const char *lxcpath, const char *name, struct buf *err)
{
	__do_free char *path = xasprintf("%s/%s/lxc.log", lxcpath, name);
	struct buf b = BUF_INIT;
	if (fs_read_file(path, 1 << 20, &b) == 0 && b.len) {
		size_t n = b.len, lines = 0;
		while (n > 0 && b.s[n - 1] == '\n')
			n--;
		size_t start = n;
		while (start > 0 && lines < 3)
			if (b.s[--start] == '\n')
				lines++;
		buf_printf(err, " (liblxc: %.*s)", (int)(n - start), b.s + start + (b.s[start] == '\n'));
	}
	buf_release(&b);
}

static bool set_item(struct lxc_container *c, const char *key, const char *value, struct buf *err)
{
	if (c->set_config_item(c, key, value))
		return true;
	buf_printf(err, "container '%s': liblxc refused %s = %s", c->name, key, value);
	return false;
}

int ctrt_define(const char *lxcpath, const struct ctrt_config *cfg, struct buf *err)
{
	__do_ct struct lxc_container *c = NULL;
	__do_free char *dir = xasprintf("%s/%s", lxcpath, cfg->name);
	__do_free char *rootfs = xasprintf("dir:%s", cfg->rootfs);
	__do_free char *log = xasprintf("%s/lxc.log", dir);
	bool ok;

	if (fs_mkdir_p(lxcpath, 0711) < 0 || chmod(lxcpath, 0711) < 0) {
		buf_printf(err, "cannot make the container directory %s: %s", lxcpath, strerror(errno));
		return -EIO;
	}
	if (!(c = ctrt_ct_get(lxcpath, cfg->name, err)))
		return -EIO;
	if (c->is_defined(c)) {
		buf_printf(err, "container '%s' is already defined in %s", cfg->name, lxcpath);
		return -EEXIST;
	}
	/* the mapped root of an unprivileged container must reach its rootfs */
	if (mkdir(dir, 0711) < 0 && errno != EEXIST) {
		buf_printf(err, "cannot make %s: %s", dir, strerror(errno));
		return -EIO;
	}
	ok = set_item(c, "lxc.include", LXC_COMMON_CONF, err) &&
	     (cfg->privileged || set_item(c, "lxc.include", LXC_USERNS_CONF, err)) &&
	     set_item(c, "lxc.rootfs.path", rootfs, err) && set_item(c, "lxc.uts.name", cfg->name, err) &&
	     /* no network yet (a later part of issue 15); never the distribution's lxcbr0 */
	     set_item(c, "lxc.net.0.type", "empty", err) && set_item(c, "lxc.tty.max", "0", err) &&
	     set_item(c, "lxc.pty.max", "16", err) && set_item(c, "lxc.autodev", "1", err) &&
	     set_item(c, "lxc.log.file", log, err) && set_item(c, "lxc.log.level", "WARN", err) &&
	     (!cfg->init_halt_signal || set_item(c, "lxc.signal.halt", cfg->init_halt_signal, err)) &&
	     (!cfg->init_halt_signal || strcmp(cfg->init_halt_signal, CTRT_SYSTEMD_HALT) != 0 ||
	      set_item(c, "lxc.mount.auto", "sys:ro", err));
	if (ok && !cfg->privileged) {
		__do_free char *u = xasprintf("u 0 %u %u", cfg->uid_base, cfg->id_count);
		__do_free char *g = xasprintf("g 0 %u %u", cfg->gid_base, cfg->id_count);
		ok = set_item(c, "lxc.idmap", u, err) && set_item(c, "lxc.idmap", g, err);
	}
	if (ok && !c->save_config(c, NULL)) {
		buf_printf(err, "container '%s': liblxc cannot write its config in %s", cfg->name, dir);
		ok = false;
	}
	if (!ok) {
		struct buf e = BUF_INIT;
		ctrt_remove_tree(dir, &e);
		buf_release(&e);
		return -EIO;
	}
	return 0;
}

int ctrt_halt_signal_set(const char *lxcpath, const char *name, const char *sig, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!set_item(c, "lxc.signal.halt", sig, err) ||
	    (strcmp(sig, CTRT_SYSTEMD_HALT) == 0 && !set_item(c, "lxc.mount.auto", "sys:ro", err)))
		return -EIO;
	if (!c->save_config(c, NULL)) {
		buf_printf(err, "container '%s': liblxc cannot write its config in %s/%s", name, lxcpath, name);
		return -EIO;
	}
	return 0;
}

/*
 * This start's NICs and limits into c's (in-memory) config: the config
 * file keeps "lxc.net.0.type = empty" and no limits; what the definition
 * says now is what runs.
 */
static bool run_items(struct lxc_container *c, const struct ctrt_run *run, struct buf *err)
{
	struct ctrt_item it[CTRT_MAX_ITEMS];
	if (!run)
		return true;
	if (run->nnics > 0 && !c->clear_config_item(c, "lxc.net")) {
		buf_printf(err, "container '%s': liblxc cannot clear its network config", c->name);
		return false;
	}
	for (int i = 0; i < run->nnics; i++) {
		const struct ctrt_nic *n = &run->nics[i];
		char key[64], ifname[16];
		static const char *const keys[] = { "type", "link", "hwaddr", "veth.pair", "name", "flags" };
		snprintf(ifname, sizeof(ifname), "eth%d", i);
		const char *values[] = { "veth", n->bridge, n->mac, n->host_if, ifname, "up" };
		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			snprintf(key, sizeof(key), "lxc.net.%d.%s", i, keys[k]);
			if (!set_item(c, key, values[k], err))
				return false;
		}
	}
	if (run->rootfs) {
		__do_free char *root = xasprintf("dir:%s", run->rootfs);
		if (!set_item(c, "lxc.rootfs.path", root, err))
			return false;
	}
	for (int i = 0; i < run->nmounts; i++) {
		const struct ctrt_mount *m = &run->mounts[i];
		if (strpbrk(m->src, " \t\n\\") || strpbrk(m->dst, " \t\n\\") || m->dst[0] != '/') {
			buf_printf(err, "container '%s': mount %s at %s cannot be written as an fstab line", c->name, m->src,
				   m->dst);
			return false;
		}
		/* the target relative to the root: liblxc mounts it inside the container's root */
		__do_free char *entry = xasprintf("%s %s none bind,create=dir%s 0 0", m->src, m->dst + 1,
						  m->readonly ? ",ro" : "");
		if (!set_item(c, "lxc.mount.entry", entry, err))
			return false;
	}
	int n = run->limits ? ctrt_limit_items(run->limits, false, it) : 0;
	for (int i = 0; i < n; i++) {
		__do_free char *key = xasprintf("lxc.cgroup%s.%s", it[i].v2 ? "2" : "", it[i].key);
		if (!set_item(c, key, it[i].value, err))
			return false;
	}
	return true;
}

/* The start itself, in the short-lived child of ctrt_start. */
static int start_here(const char *lxcpath, const char *name, const struct ctrt_run *run, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!c->is_defined(c)) {
		buf_printf(err, "container '%s' has no liblxc config in %s", name, lxcpath);
		return -ENOENT;
	}
	if (c->is_running(c))
		return 0;
	if (!run_items(c, run, err))
		return -EIO;
	c->want_daemonize(c, true);
	c->want_close_all_fds(c, true);
	if (!c->start(c, 0, NULL)) {
		buf_printf(err, "container '%s' did not start", name);
		log_tail(lxcpath, name, err);
		return -EIO;
	}
	if (!c->wait(c, "RUNNING", 30)) {
		buf_printf(err, "container '%s' did not reach RUNNING", name);
		log_tail(lxcpath, name, err);
		return -EIO;
	}
	return 0;
}

/*
 * The liblxc calls that fork and wait (a start: liblxc forks and waits for
 * the monitor's parent; attach: for the attached process) run in a child
 * of corrald's, forked through proc_spawn (util/proc.h).  corrald is a
 * child subreaper whose reaper thread must be the only caller of wait*():
 * liblxc's own waitpid() there would race it.  In the child (not a
 * subreaper, one thread) liblxc forks and waits as it likes; the monitor
 * it daemonizes is re-parented to corrald, whose reaper collects it when
 * the container stops; corrald's death does not reach it (own session,
 * inherited fds closed).  This departs from proc_child_fn's "async-signal-
 * safe only" rule: the child mallocs and does file I/O through liblxc,
 * which glibc keeps working after fork (its malloc resets its locks), as
 * liblxc's own children do; it takes no lock of corrald's and never logs.
 */
struct in_child {
	const char *lxcpath, *name;
	int msg_fd; /* the child writes its error sentence here */
	const struct ctrt_run *run; /* start only */
	/* exec only */
	char *const *argv;
	int out_fd, err_fd, null_fd;
	int timeout_s;
};

static void child_start(void *arg)
{
	struct in_child *x = arg;
	struct buf e = BUF_INIT;
	int r = start_here(x->lxcpath, x->name, x->run, &e);
	if (e.len && write(x->msg_fd, e.s, e.len) < 0)
		r = -EIO;
	_exit(r == 0 ? 0 : r == -ENOENT ? 2 : 1);
}

/* The child's sentence (after it exited: the monitor may still hold the pipe). */
static void child_message(int fd, struct buf *err)
{
	char msg[4096];
	ssize_t n = read(fd, msg, sizeof(msg) - 1);
	if (n > 0)
		buf_add(err, msg, (size_t)n);
}

int ctrt_start(const char *lxcpath, const char *name, const struct ctrt_run *run, struct buf *err)
{
	struct proc p = PROC_INIT;
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		buf_printf(err, "container '%s': cannot make a pipe: %s", name, strerror(errno));
		return -EIO;
	}
	struct in_child x = { .lxcpath = lxcpath, .name = name, .msg_fd = pfd[1], .run = run };
	int r = proc_spawn(&p, child_start, &x);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		buf_printf(err, "container '%s': cannot fork: %s", name, strerror(-r));
		return r;
	}
	int st = proc_wait(&p);
	proc_release(&p);
	if (st != 0) {
		size_t before = err->len;
		child_message(pfd[0], err);
		if (err->len == before)
			buf_printf(err, "container '%s' did not start (status %d)", name, st);
	}
	close(pfd[0]);
	return st == 0 ? 0 : st == 2 ? -ENOENT : -EIO;
}

int ctrt_shutdown(const char *lxcpath, const char *name, int timeout_s, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!c->is_running(c))
		return 0;
	if (c->shutdown(c, timeout_s))
		return 0;
	if (!c->is_running(c))
		return 0;
	buf_printf(err, "container '%s' did not shut down within %d s (its init ignored the halt signal?); "
		   "stop it with --force", name, timeout_s);
	return -ETIMEDOUT;
}

int ctrt_kill(const char *lxcpath, const char *name, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!c->is_running(c))
		return 0;
	if (!c->stop(c) && c->is_running(c)) {
		buf_printf(err, "container '%s': liblxc could not kill it", name);
		return -EIO;
	}
	c->wait(c, "STOPPED", 10);
	return 0;
}

const char *ctrt_state(const char *lxcpath, const char *name, pid_t *pid)
{
	struct buf e = BUF_INIT;
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, &e);
	const char *s = "STOPPED";
	buf_release(&e);
	if (pid)
		*pid = 0;
	if (!c || !c->is_defined(c))
		return s;
	s = c->state(c); /* a static string of liblxc's */
	if (!s)
		s = "STOPPED";
	if (pid && strcmp(s, "RUNNING") == 0)
		*pid = c->init_pid(c);
	return s;
}

pid_t ctrt_init_pid(const char *lxcpath, const char *name)
{
	struct buf e = BUF_INIT;
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, &e);
	buf_release(&e);
	if (!c || !c->is_defined(c) || !c->is_running(c))
		return 0;
	pid_t pid = c->init_pid(c);
	return pid > 0 ? pid : 0;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Read what is there from fd into b (up to max kept); false at EOF or error. */
static bool drain(int fd, struct buf *b, size_t max)
{
	char tmp[8192];
	ssize_t n = read(fd, tmp, sizeof(tmp));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	if (b->len < max)
		buf_add(b, tmp, (size_t)n > max - b->len ? max - b->len : (size_t)n);
	return true;
}

/* In the child: attach, wait (killing it after the timeout), and say how it
 * ended on msg_fd: "X<status>" (0..255, 128+signal), "T" (timed out and
 * killed) or "E<sentence>" (could not run it). */
static void child_exec(void *arg)
{
	struct in_child *x = arg;
	struct buf e = BUF_INIT;
	__do_ct struct lxc_container *c = ctrt_ct_get(x->lxcpath, x->name, &e);
	char *env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
			"TERM=dumb", NULL };
	lxc_attach_options_t o = LXC_ATTACH_OPTIONS_DEFAULT;
	lxc_attach_command_t cmd = { x->argv[0], (char **)x->argv };
	pid_t pid = -1;
	int status = 0;

	if (!c || !c->is_running(c)) {
		if (c)
			buf_printf(&e, "container '%s' is not running", x->name);
		goto fail;
	}
	o.env_policy = LXC_ATTACH_CLEAR_ENV;
	o.extra_env_vars = env;
	o.stdin_fd = x->null_fd;
	o.stdout_fd = x->out_fd;
	o.stderr_fd = x->err_fd;
	if (c->attach(c, lxc_attach_run_command, &cmd, &o, &pid) < 0 || pid <= 0) {
		buf_printf(&e, "container '%s': liblxc could not attach to run %s", x->name, x->argv[0]);
		goto fail;
	}
	close(x->out_fd);
	close(x->err_fd);
	/* its end wakes us at once (a pidfd), the deadline kills it */
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0) {
		buf_printf(&e, "container '%s': cannot follow %s: %s", x->name, x->argv[0], strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		goto fail;
	}
	int64_t deadline = now_ms() + (int64_t)x->timeout_s * 1000;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd pf = { pfd, POLLIN, 0 };
		if (left > 0) /* an error (EINTR) only means looking again */
			(void)poll(&pf, 1, left > 1000 ? 1000 : (int)left);
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			buf_printf(&e, "container '%s': lost %s: %s", x->name, x->argv[0], strerror(errno));
			goto fail;
		}
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			_exit(write(x->msg_fd, "T", 1) == 1 ? 0 : 1);
		}
	}
	char done[16];
	int n = snprintf(done, sizeof(done), "X%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	_exit(write(x->msg_fd, done, (size_t)n) == n ? 0 : 1);
fail:
	_exit((write(x->msg_fd, "E", 1) == 1 && write(x->msg_fd, e.s ? e.s : "", e.len) >= 0) ? 0 : 1);
}

int ctrt_exec(const char *lxcpath, const char *name, char *const argv[], int timeout_s, size_t max, struct buf *out,
	      struct buf *errout, struct buf *err)
{
	{
		__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
		if (!c)
			return -EIO;
		if (!c->is_running(c)) {
			buf_printf(err, "container '%s' is not running", name);
			return -EINVAL;
		}
	}
	struct proc p = PROC_INIT;
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, pm[2] = { -1, -1 }, devnull = -1, st = -EIO;

	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 || pipe2(po, O_CLOEXEC) < 0 ||
	    pipe2(pe, O_CLOEXEC) < 0 || pipe2(pm, O_CLOEXEC | O_NONBLOCK) < 0) {
		buf_printf(err, "container '%s': cannot make pipes: %s", name, strerror(errno));
		goto out;
	}
	struct in_child x = { .lxcpath = lxcpath, .name = name, .msg_fd = pm[1], .argv = argv, .out_fd = po[1],
			      .err_fd = pe[1], .null_fd = devnull, .timeout_s = timeout_s };
	int r = proc_spawn(&p, child_exec, &x);
	close(po[1]);
	close(pe[1]);
	close(pm[1]);
	po[1] = pe[1] = pm[1] = -1;
	if (r < 0) {
		buf_printf(err, "container '%s': cannot fork: %s", name, strerror(-r));
		st = r;
		goto out;
	}
	/* the output until both ends close (the command and all it started are
	 * gone), bounded by the child's own deadline plus a margin */
	int64_t deadline = now_ms() + (int64_t)timeout_s * 1000 + 5000;
	bool o_open = true, e_open = true;
	while ((o_open || e_open) && now_ms() < deadline) {
		struct pollfd pf[2] = { { o_open ? po[0] : -1, POLLIN, 0 }, { e_open ? pe[0] : -1, POLLIN, 0 } };
		int n = poll(pf, 2, 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (o_open && pf[0].revents)
			o_open = drain(po[0], out, max);
		if (e_open && pf[1].revents)
			e_open = drain(pe[0], errout, max);
	}
	if ((st = proc_wait_timeout(&p, 5000)) == -ETIMEDOUT) {
		proc_signal(&p, SIGKILL);
		st = proc_wait(&p);
	}
	proc_release(&p);
	struct buf m = BUF_INIT;
	child_message(pm[0], &m);
	if (st == 0 && m.len > 1 && m.s[0] == 'X') {
		st = atoi(m.s + 1);
	} else if (st == 0 && m.len == 1 && m.s[0] == 'T') {
		buf_printf(err, "container '%s': %s ran longer than %d s and was killed", name, argv[0], timeout_s);
		st = -ETIMEDOUT;
	} else {
		if (m.len > 1 && m.s[0] == 'E')
			buf_adds(err, m.s + 1);
		else
			buf_printf(err, "container '%s': could not run %s", name, argv[0]);
		st = -EIO;
	}
	buf_release(&m);
out:
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
		if (pm[i] >= 0)
			close(pm[i]);
	}
	if (devnull >= 0)
		close(devnull);
	return st;
}

int ctrt_console_open(const char *lxcpath, const char *name, int *hold_fd, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	int tty = 0, ptx = -1;
	if (!c)
		return -EIO;
	if (!c->is_running(c)) {
		buf_printf(err, "container '%s' is not running", name);
		return -EINVAL;
	}
	int hold = c->console_getfd(c, &tty, &ptx);
	if (hold < 0 || ptx < 0) {
		if (hold >= 0)
			close(hold);
		buf_printf(err, "container '%s': its console is busy or cannot be reached", name);
		return -EBUSY;
	}
	*hold_fd = hold;
	return ptx;
}

int ctrt_undefine(const char *lxcpath, const char *name, struct buf *err)
{
	__do_free char *dir = xasprintf("%s/%s", lxcpath, name);
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (c && c->is_running(c)) {
		buf_printf(err, "container '%s' is running: stop it first", name);
		return -EBUSY;
	}
	/* a root that is a btrfs subvolume goes by its own delete (a tree walk stops at it) */
	__do_free char *root = xasprintf("%s/rootfs", dir);
	int r = ctrt_tree_remove(root, err);
	return r < 0 ? r : ctrt_remove_tree(dir, err);
}

/* ---- freezer (container backups, service/ctbackup.c) ---- */

int ctrt_freeze(const char *lxcpath, const char *name, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!c->is_running(c)) {
		buf_printf(err, "container '%s' is not running: nothing to freeze", name);
		return -EINVAL;
	}
	if (!c->freeze(c)) {
		buf_printf(err, "container '%s': liblxc could not freeze it (freezer cgroup)", name);
		return -EIO;
	}
	return 0;
}

int ctrt_unfreeze(const char *lxcpath, const char *name, struct buf *err)
{
	__do_ct struct lxc_container *c = ctrt_ct_get(lxcpath, name, err);
	if (!c)
		return -EIO;
	if (!c->unfreeze(c)) {
		buf_printf(err, "container '%s': liblxc could not thaw it", name);
		return -EIO;
	}
	return 0;
}
