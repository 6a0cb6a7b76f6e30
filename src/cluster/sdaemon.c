/*
 * sdaemon.c - supervised helper daemons that outlive corrald (see
 * sdaemon.h): start with an early-failure check, stop, identity files, and
 * one thread restarting the wanted ones with a back-off, as membership.c
 * does for corosync.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include "cluster/sdaemon.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define START_WAIT_MS 1500
#define BACKOFF_MAX_S 30
#define BACKOFF_RESET_S 60

/* lock: every struct sdaemon's supervisor fields, the wanted list, starts and stops */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct sdaemon *wanted[SDAEMON_MAX];
static pthread_t thread;
static bool thread_on;
static int stop_fd = -1;
static sdaemon_event_fn *event_fn;

void sdaemon_init(struct sdaemon *d, const char *dir, const char *base, const char *const *argv)
{
	size_t n = 0;
	memset(d, 0, sizeof(*d));
	while (argv[n])
		n++;
	d->argv = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		d->argv[i] = xstrdup(argv[i]);
	d->name = xstrdup(argv[0]);
	d->pidfile = xasprintf("%s/%s.pid", dir, base);
	d->outfile = xasprintf("%s/%s.out", dir, base);
}

void sdaemon_release(struct sdaemon *d)
{
	for (size_t i = 0; d->argv && d->argv[i]; i++)
		free(d->argv[i]);
	free(d->argv);
	free(d->name);
	free(d->pidfile);
	free(d->outfile);
	memset(d, 0, sizeof(*d));
}

bool sdaemon_running(const struct sdaemon *d, struct proc_identity *id)
{
	struct proc_identity me;
	if (!d->pidfile || proc_identity_load(d->pidfile, &me) < 0 || !proc_identity_alive(&me))
		return false;
	if (id)
		*id = me;
	return true;
}

/* With lock held. */
static int start_locked(struct sdaemon *d, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct proc_identity id;
	struct stat st;
	int r;

	if (sdaemon_running(d, NULL))
		return 0;
	size_t from = stat(d->outfile, &st) == 0 ? (size_t)st.st_size : 0;
	for (size_t i = 0; d->argv[i]; i++)
		cmd_add(&c, d->argv[i]);
	cmd_set_io(&c, 1, CMD_IO_FILE, d->outfile);
	cmd_set_io(&c, 2, CMD_IO_FILE, d->outfile);
	c.new_session = true;
	r = cmd_start(&c, &p, &why);
	cmd_release(&c);
	if (r < 0) {
		buf_printf(err, "cannot start %s: %s", d->name, why.s);
		return r;
	}
	if ((r = proc_identity_get(p.pid, &id)) == 0)
		r = proc_identity_save(d->pidfile, &id);
	if (r < 0)
		log_warn("cannot record %s's pid in %s: %s", d->name, d->pidfile, strerror(-r));
	int status = proc_wait_timeout(&p, START_WAIT_MS);
	if (status != -ETIMEDOUT) {
		__do_free char *o = fs_tail_text(d->outfile, from);
		buf_printf(err, "%s exited at once (status %d): %s", d->name, status, o);
		unlink(d->pidfile);
		proc_release(&p);
		return -EIO;
	}
	log_info("%s started (pid %d)", d->name, (int)p.pid);
	proc_release(&p); /* left to the reaper; found again by its identity */
	return 0;
}

int sdaemon_start(struct sdaemon *d, struct buf *err)
{
	pthread_mutex_lock(&lock);
	int r = start_locked(d, err);
	if (r == 0) {
		d->seen_up = time_mono_ms();
		d->attempt = 0;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

int sdaemon_stop(struct sdaemon *d)
{
	struct proc_identity id;
	pthread_mutex_lock(&lock);
	if (sdaemon_running(d, &id)) {
		proc_identity_signal(&id, SIGTERM);
		for (int i = 0; i < 700 && proc_identity_alive(&id); i++) {
			if (i == 500)
				proc_identity_signal(&id, SIGKILL);
			usleep(10000);
		}
		log_info("%s (pid %d) stopped", d->name, (int)id.pid);
	}
	if (d->pidfile)
		unlink(d->pidfile);
	d->seen_up = 0;
	pthread_mutex_unlock(&lock);
	return 0;
}

void sdaemon_want(struct sdaemon *d, bool on)
{
	pthread_mutex_lock(&lock);
	int free_slot = -1, at = -1;
	for (int i = 0; i < SDAEMON_MAX; i++) {
		if (wanted[i] == d)
			at = i;
		if (!wanted[i] && free_slot < 0)
			free_slot = i;
	}
	if (on && at < 0 && free_slot >= 0) {
		wanted[free_slot] = d;
		d->wanted = true;
		d->attempt = 0;
		d->next_try = 0;
		d->seen_up = sdaemon_running(d, NULL) ? time_mono_ms() : 0;
	} else if (!on && at >= 0) {
		wanted[at] = NULL;
		d->wanted = false;
	}
	pthread_mutex_unlock(&lock);
}

/* With lock held: one daemon's check.  *ev set (-1: nothing to report). */
static void tick_locked(struct sdaemon *d, int *ev, struct buf *why)
{
	int64_t now = time_mono_ms();
	*ev = -1;
	if (sdaemon_running(d, NULL)) {
		if (!d->seen_up)
			d->seen_up = now;
		if (d->attempt && now - d->seen_up > BACKOFF_RESET_S * 1000)
			d->attempt = 0;
		return;
	}
	if (d->seen_up) { /* it was running: it exited */
		int delay = 1 << (d->attempt < 5 ? d->attempt : 5);
		d->seen_up = 0;
		d->next_try = now + 1000LL * (delay < BACKOFF_MAX_S ? delay : BACKOFF_MAX_S);
		log_warn("%s exited; starting it again in %d s", d->name, delay < BACKOFF_MAX_S ? delay : BACKOFF_MAX_S);
		return;
	}
	if (now < d->next_try)
		return;
	d->attempt++;
	if (start_locked(d, why) < 0) {
		int delay = 1 << (d->attempt < 5 ? d->attempt : 5);
		d->next_try = now + 1000LL * (delay < BACKOFF_MAX_S ? delay : BACKOFF_MAX_S);
		*ev = SDAEMON_RESTART_FAILED;
	} else {
		d->seen_up = time_mono_ms();
		*ev = SDAEMON_RESTARTED;
	}
}

static void *supervisor(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd pfd = { .fd = stop_fd, .events = POLLIN };
		if (poll(&pfd, 1, 1000) > 0)
			break;
		for (int i = 0; i < SDAEMON_MAX; i++) {
			struct buf why = BUF_INIT;
			char name[64] = "";
			int ev = -1, attempt = 0;
			struct sdaemon copy;
			pthread_mutex_lock(&lock);
			if (wanted[i]) {
				tick_locked(wanted[i], &ev, &why);
				attempt = wanted[i]->attempt;
				snprintf(name, sizeof(name), "%s", wanted[i]->name);
			}
			pthread_mutex_unlock(&lock);
			if (ev >= 0 && event_fn) {
				memset(&copy, 0, sizeof(copy));
				copy.name = name;
				event_fn(&copy, (enum sdaemon_event)ev, attempt, why.s ? why.s : "");
			}
			buf_release(&why);
		}
	}
	return NULL;
}

int sdaemon_supervise_start(sdaemon_event_fn *on_event)
{
	if (thread_on)
		return -EALREADY;
	event_fn = on_event;
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0)
		return -errno;
	int r = pthread_create(&thread, NULL, supervisor, NULL);
	if (r) {
		close(stop_fd);
		stop_fd = -1;
		return -r;
	}
	thread_on = true;
	return 0;
}

void sdaemon_supervise_stop(void)
{
	uint64_t one = 1;
	if (!thread_on)
		return;
	if (write(stop_fd, &one, sizeof(one)) < 0)
		log_warn("cannot wake the helper daemons' supervisor");
	pthread_join(thread, NULL);
	close(stop_fd);
	stop_fd = -1;
	thread_on = false;
	pthread_mutex_lock(&lock);
	memset(wanted, 0, sizeof(wanted));
	pthread_mutex_unlock(&lock);
}
