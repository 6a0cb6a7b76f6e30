/*
 * proc.c - see proc.h.
 *
 * The registry is a list of entries under reg_lock; reg_cond (monotonic
 * clock) is broadcast whenever an entry gets its status.  An entry is owned
 * by its struct proc until proc_release(); a released entry whose child
 * still runs stays on the list, marked orphaned, and the reaper frees it
 * once it reaps the child.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"
#include "fsutil.h"
#include "log.h"
#include "timeutil.h"
#include "common.h"

struct proc_entry {
	pid_t pid;
	bool done;      /* reaped; status is valid */
	bool orphaned;  /* its struct proc was released */
	int status;
	char *pidfile;  /* proc_track: removed when the child is reaped */
	struct proc_entry *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cond;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static struct proc_entry *reg_head;
static unsigned long reg_forks;     /* bumped by every fork: wakes an idle reaper */
static unsigned long reg_orphans;   /* unregistered children reaped */
static bool reaper_running, reaper_stop;
static pthread_t reaper;
static char *track_dir;             /* proc_track_dir_set */

static void reg_init(void)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&reg_cond, &a);
	pthread_condattr_destroy(&a);
}

static int status_decode(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -ECHILD;
}

static struct proc_entry *find_locked(pid_t pid)
{
	for (struct proc_entry *e = reg_head; e; e = e->next)
		if (e->pid == pid && !e->done)
			return e;
	return NULL;
}

static void unlink_locked(struct proc_entry *e)
{
	for (struct proc_entry **p = &reg_head; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			return;
		}
	}
}

/* Reap pid, known to be a zombie (waitid WNOWAIT said so).  reg_lock held. */
static void reap_locked(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return; /* someone else reaped it (only possible for unregistered children) */
	struct proc_entry *e = find_locked(pid);
	if (!e) {
		reg_orphans++;
		log_debug("reaped process %d (not started by corral: an orphan adopted as subreaper)", (int)pid);
		return;
	}
	e->done = true;
	e->status = status_decode(st);
	if (e->pidfile) {
		unlink(e->pidfile);
		free(e->pidfile);
		e->pidfile = NULL;
	}
	if (e->orphaned) {
		unlink_locked(e);
		free(e);
	}
	pthread_cond_broadcast(&reg_cond);
}

/* Put pid on the registry (reg_lock held) and into p. */
static void reg_add(struct proc *p, struct proc_entry *e, pid_t pid)
{
	e->pid = pid;
	e->next = reg_head;
	reg_head = e;
	reg_forks++;
	pthread_cond_broadcast(&reg_cond);
	p->pid = pid;
	p->e = e;
}

int proc_spawn_with(struct proc *p, int (*start)(void *arg, pid_t *pid), void *arg)
{
	struct proc_entry *e = xcalloc(1, sizeof(*e));
	pid_t pid = 0;

	pthread_once(&reg_once, reg_init);
	pthread_mutex_lock(&reg_lock);
	int r = start(arg, &pid);
	if (r < 0 || pid <= 0) {
		pthread_mutex_unlock(&reg_lock);
		free(e);
		return r < 0 ? r : -ECHILD;
	}
	reg_add(p, e, pid);
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

int proc_spawn(struct proc *p, proc_child_fn fn, void *arg)
{
	struct proc_entry *e = xcalloc(1, sizeof(*e));
	pid_t pid;

	pthread_once(&reg_once, reg_init);
	pthread_mutex_lock(&reg_lock);
	pid = fork();
	if (pid == 0) {
		fn(arg);
		_exit(127);
	}
	if (pid < 0) {
		int err = errno;
		pthread_mutex_unlock(&reg_lock);
		free(e);
		return -err;
	}
	reg_add(p, e, pid);
	pthread_mutex_unlock(&reg_lock);
	return 0;
}

/* Without the reaper: reap p's child ourselves if it has exited (block: wait for that). */
static void self_reap(struct proc *p, bool block)
{
	siginfo_t si;
	int r;
	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT | (block ? 0 : WNOHANG));
	while (r < 0 && errno == EINTR);
	if (r < 0 || si.si_pid != p->pid)
		return; /* still running, or already reaped by another waiter */
	pthread_mutex_lock(&reg_lock);
	if (!p->e->done)
		reap_locked(p->pid);
	pthread_mutex_unlock(&reg_lock);
}

/* Wait for p's status until deadline (monotonic ms; -1: forever). */
static int wait_until(struct proc *p, int64_t deadline)
{
	int64_t nap = 1;

	if (!p->pid)
		return p->e ? -ECHILD : p->dry_status;
	for (;;) {
		pthread_mutex_lock(&reg_lock);
		bool reaping = reaper_running;
		while (reaping && !p->e->done) {
			if (deadline < 0) {
				pthread_cond_wait(&reg_cond, &reg_lock);
			} else {
				struct timespec ts = { .tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000L };
				if (pthread_cond_timedwait(&reg_cond, &reg_lock, &ts) == ETIMEDOUT)
					break;
			}
			reaping = reaper_running;
		}
		pthread_mutex_unlock(&reg_lock);
		if (!reaping)
			self_reap(p, deadline < 0);
		pthread_mutex_lock(&reg_lock);
		bool done = p->e->done;
		int st = p->e->status;
		pthread_mutex_unlock(&reg_lock);
		if (done)
			return st;
		int64_t now = time_mono_ms();
		if (deadline >= 0 && now >= deadline)
			return -ETIMEDOUT;
		if (!reaping && deadline >= 0) {
			time_sleep_ms(nap < deadline - now ? nap : deadline - now);
			nap = nap < 32 ? nap * 2 : 32;
		}
	}
}

int proc_wait(struct proc *p) { return wait_until(p, -1); }

int proc_wait_timeout(struct proc *p, int timeout_ms)
{
	return wait_until(p, time_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0));
}

int proc_signal(struct proc *p, int sig)
{
	int r = -ESRCH;
	if (!p->pid || !p->e)
		return r;
	pthread_mutex_lock(&reg_lock);
	if (!p->e->done)
		r = kill(p->pid, sig) < 0 ? -errno : 0;
	pthread_mutex_unlock(&reg_lock);
	return r;
}

void proc_release(struct proc *p)
{
	int *fds[] = { &p->in, &p->out, &p->err };
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -EBADF;
	}
	if (p->e) {
		pthread_mutex_lock(&reg_lock);
		if (p->e->done) {
			unlink_locked(p->e);
			free(p->e->pidfile);
			free(p->e);
		} else {
			p->e->orphaned = true;
		}
		pthread_mutex_unlock(&reg_lock);
	}
	p->e = NULL;
	p->pid = 0;
	p->dry_status = 0;
}

/* ---- reaper ----------------------------------------------------------- */

static void *reaper_main(void *arg)
{
	(void)arg;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	for (;;) {
		siginfo_t si;
		int r, old;

		pthread_mutex_lock(&reg_lock);
		unsigned long forks = reg_forks;
		bool stop = reaper_stop;
		pthread_mutex_unlock(&reg_lock);
		if (stop)
			return NULL;
		memset(&si, 0, sizeof(si));
		/* The only place the thread can be cancelled (proc_reaper_stop). */
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		r = waitid(P_ALL, 0, &si, WEXITED | WNOWAIT);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		if (r < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&reg_lock);
		if (r < 0) {
			/* No children: sleep until the next fork (or stop). */
			while (reg_forks == forks && !reaper_stop)
				pthread_cond_wait(&reg_cond, &reg_lock);
		} else if (si.si_pid > 0) {
			reap_locked(si.si_pid);
		}
		pthread_mutex_unlock(&reg_lock);
	}
}

int proc_reaper_start(void)
{
	int r;
	pthread_once(&reg_once, reg_init);
	pthread_mutex_lock(&reg_lock);
	if (reaper_running) {
		pthread_mutex_unlock(&reg_lock);
		return 0;
	}
	reaper_stop = false;
	r = pthread_create(&reaper, NULL, reaper_main, NULL);
	if (r == 0)
		reaper_running = true;
	pthread_mutex_unlock(&reg_lock);
	return -r;
}

void proc_reaper_stop(void)
{
	pthread_mutex_lock(&reg_lock);
	if (!reaper_running) {
		pthread_mutex_unlock(&reg_lock);
		return;
	}
	reaper_stop = true;
	pthread_cond_broadcast(&reg_cond);
	pthread_mutex_unlock(&reg_lock);
	pthread_cancel(reaper);
	pthread_join(reaper, NULL);
	pthread_mutex_lock(&reg_lock);
	reaper_running = false;
	pthread_cond_broadcast(&reg_cond); /* waiters fall back to reaping themselves */
	pthread_mutex_unlock(&reg_lock);
}

unsigned long proc_reaper_orphans(void)
{
	pthread_mutex_lock(&reg_lock);
	unsigned long n = reg_orphans;
	pthread_mutex_unlock(&reg_lock);
	return n;
}

/* ---- identity --------------------------------------------------------- */

/* State letter and start time (field 22) of /proc/PID/stat. */
static int stat_read(pid_t pid, char *state, unsigned long long *start)
{
	char path[64];
	struct buf b = BUF_INIT;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((r = fs_read_file(path, 4096, &b)) < 0) {
		buf_release(&b);
		return r == -ENOENT ? -ESRCH : r;
	}
	/* "PID (COMM) S ..." with COMM possibly holding spaces and ')'. */
	const char *p = strrchr(b.s, ')');
	r = -EIO;
	if (p && p[1] == ' ' && p[2]) {
		*state = p[2];
		p += 3;
		/* Fields 4..21 follow the state (field 3); the start time is field 22. */
		for (int field = 4; field <= 22 && p; field++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p) {
			*start = strtoull(p, NULL, 10);
			r = 0;
		}
	}
	buf_release(&b);
	return r;
}

static void boot_id(char *out, size_t size)
{
	struct buf b = BUF_INIT;
	out[0] = '\0';
	if (fs_read_file("/proc/sys/kernel/random/boot_id", 128, &b) == 0) {
		b.s[strcspn(b.s, "\n")] = '\0';
		snprintf(out, size, "%s", b.s);
	}
	buf_release(&b);
}

int proc_identity_get(pid_t pid, struct proc_identity *out)
{
	char st;
	int r;
	if (pid <= 0)
		return -ESRCH;
	memset(out, 0, sizeof(*out));
	if ((r = stat_read(pid, &st, &out->start)) < 0)
		return r;
	out->pid = pid;
	boot_id(out->boot, sizeof(out->boot));
	return 0;
}

bool proc_identity_alive(const struct proc_identity *id)
{
	char st, boot[sizeof(id->boot)];
	unsigned long long start;

	if (id->pid <= 0 || stat_read(id->pid, &st, &start) < 0 || st == 'Z' || st == 'X')
		return false;
	if (!id->start)
		return true;
	boot_id(boot, sizeof(boot));
	return start == id->start && strcmp(boot, id->boot) == 0;
}

int proc_identity_signal(const struct proc_identity *id, int sig)
{
	int fd = (int)syscall(SYS_pidfd_open, id->pid, 0);
	int r;
	if (fd < 0)
		return errno == ESRCH ? -ESRCH : -errno;
	/* The pidfd pins the process that has the pid now; check it is ours. */
	if (!proc_identity_alive(id))
		r = -ESRCH;
	else
		r = syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int proc_identity_save(const char *path, const struct proc_identity *id)
{
	__do_free char *s = xasprintf("%d\n%llu %s\n", (int)id->pid, id->start, id->boot);
	return fs_write_file_atomic(path, s, strlen(s), 0644);
}

int proc_identity_load(const char *path, struct proc_identity *out)
{
	struct buf b = BUF_INIT;
	char *end;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = fs_read_file_mine(path, 256, &b)) < 0)
		goto out;
	long pid = strtol(b.s, &end, 10);
	r = -EINVAL;
	if (end == b.s || pid <= 0 || pid > INT_MAX || (*end && *end != '\n'))
		goto out;
	out->pid = (pid_t)pid;
	r = 0;
	if (*end == '\n' && end[1]) {
		char boot[sizeof(out->boot)] = "";
		unsigned long long start;
		if (sscanf(end + 1, "%llu %39s", &start, boot) < 1) {
			r = -EINVAL;
			goto out;
		}
		out->start = start;
		snprintf(out->boot, sizeof(out->boot), "%s", boot);
	}
out:
	buf_release(&b);
	return r;
}

/* ---- helpers that must not outlive corrald -------------------------------- */

void proc_track_dir_set(const char *dir)
{
	pthread_mutex_lock(&reg_lock);
	free(track_dir);
	track_dir = dir ? xstrdup(dir) : NULL;
	pthread_mutex_unlock(&reg_lock);
}

void proc_track(struct proc *p)
{
	struct proc_identity id;
	char *path = NULL;
	int r;

	if (!p->pid || !p->e)
		return;
	pthread_mutex_lock(&reg_lock);
	if (track_dir)
		path = xasprintf("%s/%d.pid", track_dir, (int)p->pid);
	pthread_mutex_unlock(&reg_lock);
	if (!path)
		return;
	/* Before it is reaped the pid is still ours (a zombie at worst): the identity is its own. */
	if ((r = proc_identity_get(p->pid, &id)) < 0 || (r = proc_identity_save(path, &id)) < 0) {
		log_warn("cannot record helper process %d in %s: %s", (int)p->pid, path, strerror(-r));
		free(path);
		return;
	}
	pthread_mutex_lock(&reg_lock);
	if (p->e->done) {
		unlink(path); /* reaped meanwhile */
		free(path);
	} else {
		free(p->e->pidfile);
		p->e->pidfile = path;
	}
	pthread_mutex_unlock(&reg_lock);
}

/* Ask `id` to go (TERM, KILL after 3 s); true once it is gone. */
static bool identity_end(const struct proc_identity *id)
{
	if (proc_identity_signal(id, SIGTERM) == -ESRCH)
		return true;
	for (int i = 0; i < 300; i++) {
		if (!proc_identity_alive(id))
			return true;
		time_sleep_ms(10);
	}
	proc_identity_signal(id, SIGKILL);
	for (int i = 0; i < 300; i++) {
		if (!proc_identity_alive(id))
			return true;
		time_sleep_ms(10);
	}
	return false;
}

int proc_track_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int killed = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.')
			continue;
		__do_free char *path = xasprintf("%s/%s", dir, de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".pid") != 0) {
			unlink(path); /* a pid file half written when corrald died */
			continue;
		}
		struct proc_identity id;
		if (proc_identity_load(path, &id) == 0 && id.start && proc_identity_alive(&id)) {
			if (identity_end(&id)) {
				log_info("stopped helper process %d left by a previous corrald", (int)id.pid);
				killed++;
			} else {
				log_warn("helper process %d left by a previous corrald does not exit", (int)id.pid);
				continue;
			}
		}
		unlink(path);
	}
	closedir(d);
	return killed;
}
