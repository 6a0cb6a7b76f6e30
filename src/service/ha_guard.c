/*
 * ha_guard.c - corrald's side of corral-guard (see ha_guard.h): the guard
 * runs as its own session (cmd new_session), its identity saved in
 * STATE/cluster/guard.pid so a restarted corrald finds it again rather
 * than starting a second; its stderr goes to STATE/cluster/guard.log.  The
 * armed set travels as one SOCK_SEQPACKET message "set [fresh=MS] UUID=NAME..."
 * with the pidfds of the QEMUs and containers' inits (SCM_RIGHTS, from
 * ha_fence.c: ha_res_pidfd), which the guard keeps until the
 * next message, then one line "lease UUID INC MS P" or "release UUID INC"
 * per disk lease (ha_lease.h) with its file's fd (and, P 1, its guest's
 * pidfd) after the pidfds.  The guard writes the state of the watchdog
 * device it arms to STATE/cluster/guard.watchdog (one line).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "service/cluster_internal.h"
#include "service/ha_guard.h"
#include "service/internal.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/common.h"

#define GUARD_MAX_FDS 250

static int conn = -1;

static char *guard_path(void)
{
	__do_free char *self = realpath("/proc/self/exe", NULL);
	char *slash = self ? strrchr(self, '/') : NULL;
	if (slash) {
		char *sibling = xasprintf("%.*s/corral-guard", (int)(slash - self), self);
		if (access(sibling, X_OK) == 0)
			return sibling;
		free(sibling);
	}
	return xstrdup("corral-guard"); /* from PATH */
}

static bool guard_running(struct proc_identity *id)
{
	__do_free char *pidfile = xasprintf("%s/guard.pid", svc_cluster_dir());
	return proc_identity_load(pidfile, id) == 0 && proc_identity_alive(id);
}

int ha_guard_pid(void)
{
	struct proc_identity id;
	return svc_cluster_dir() && guard_running(&id) ? (int)id.pid : 0;
}

void ha_guard_ensure(void)
{
	struct proc_identity id;
	if (!svc_cluster_dir() || guard_running(&id))
		return;
	__do_free char *prog = guard_path();
	__do_free char *sock = xasprintf("%s/guard.sock", svc_cluster_dir());
	__do_free char *log = xasprintf("%s/guard.log", svc_cluster_dir());
	__do_free char *pidfile = xasprintf("%s/guard.pid", svc_cluster_dir());
	struct buf err __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	cmd_add(&c, prog);
	__do_free char *rep = xasprintf("%s/guard.fenced", svc_cluster_dir());
	cmd_add(&c, "--socket");
	cmd_add(&c, sock);
	__do_free char *status = xasprintf("%s/guard.watchdog", svc_cluster_dir());
	cmd_add(&c, "--report");
	cmd_add(&c, rep);
	cmd_add(&c, "--watchdog");
	cmd_add(&c, svc_cfg.ha_watchdog ? svc_cfg.ha_watchdog : "auto");
	cmd_add(&c, "--status");
	cmd_add(&c, status);
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.new_session = true;
	int r = cmd_start(&c, &p, &err);
	cmd_release(&c);
	if (r < 0) {
		log_warn("ha: cannot start corral-guard: %s", err.s);
		return;
	}
	if ((r = proc_identity_get(p.pid, &id)) == 0)
		r = proc_identity_save(pidfile, &id);
	if (r < 0)
		log_warn("ha: cannot record corral-guard's pid in %s: %s", pidfile, strerror(-r));
	log_info("ha: corral-guard started (pid %d)", (int)p.pid);
	proc_release(&p); /* left to the reaper; found again by its identity */
	if (conn >= 0) {
		close(conn);
		conn = -1;
	}
}

static int guard_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	__do_free char *sock = xasprintf("%s/guard.sock", svc_cluster_dir());
	if (strlen(sock) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, sock, strlen(sock) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

bool ha_guard_send(const char *const *uuids, const char *const *names, const int *pidfds, unsigned n,
		   int64_t fresh_ms, const char *leases, const int *lease_fds, unsigned nlease)
{
	int fds[GUARD_MAX_FDS];
	unsigned k = 0;
	struct buf text __do_buf = BUF_INIT;
	if (!svc_cluster_dir())
		return false;
	if (conn < 0 && (conn = guard_connect()) < 0) {
		conn = -1;
		return false;
	}
	buf_adds(&text, "set");
	if (fresh_ms > 0)
		buf_printf(&text, " fresh=%lld", (long long)fresh_ms);
	for (unsigned i = 0; i < n && k < GUARD_MAX_FDS; i++) {
		if (pidfds[i] < 0)
			continue;
		fds[k++] = pidfds[i];
		buf_printf(&text, " %s=%s", uuids[i], names[i]);
	}
	if (k + nlease > GUARD_MAX_FDS)
		nlease = 0; /* never a line without its fd */
	for (unsigned i = 0; i < nlease; i++)
		fds[k++] = lease_fds[i];
	if (nlease && leases)
		buf_adds(&text, leases);
	union {
		char buf[CMSG_SPACE(sizeof(int) * GUARD_MAX_FDS)];
		struct cmsghdr align;
	} u;
	memset(&u, 0, sizeof(u));
	struct iovec iov = { text.s, text.len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (k) {
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * k);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * k);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * k);
	}
	ssize_t r = sendmsg(conn, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0) {
		close(conn);
		conn = -1;
		return false;
	}
	return true;
}

void ha_guard_stop(void)
{
	struct proc_identity id;
	if (conn >= 0) {
		close(conn);
		conn = -1;
	}
	if (!svc_cluster_dir() || !guard_running(&id))
		return;
	proc_identity_signal(&id, SIGTERM);
	__do_free char *pidfile = xasprintf("%s/guard.pid", svc_cluster_dir());
	unlink(pidfile);
	log_info("ha: corral-guard (pid %d) stopped: this host is in no pool", (int)id.pid);
}

char *ha_guard_report(void)
{
	if (!svc_cluster_dir())
		return NULL;
	__do_free char *path = xasprintf("%s/guard.fenced", svc_cluster_dir());
	struct buf b = BUF_INIT;
	if (access(path, F_OK) < 0 || fs_read_file(path, 1 << 16, &b) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

bool ha_guard_fenced(const char *uuid)
{
	__do_free char *text = ha_guard_report();
	__do_free char *want = xasprintf("%s=", uuid);
	const char *names = text ? strchr(text, '\n') : NULL;
	return names && strstr(names, want);
}

char *ha_guard_watchdog(void)
{
	struct buf b = BUF_INIT;
	if (!svc_cluster_dir() || !ha_guard_pid())
		return xstrdup("unknown: corral-guard is not running");
	__do_free char *path = xasprintf("%s/guard.watchdog", svc_cluster_dir());
	if (fs_read_file(path, 1024, &b) < 0 || !b.len) {
		buf_release(&b);
		return xstrdup("unknown: corral-guard has not reported it");
	}
	while (b.len && b.s[b.len - 1] == '\n')
		b.s[--b.len] = '\0';
	return buf_detach(&b);
}

void ha_guard_report_done(void)
{
	if (!svc_cluster_dir())
		return;
	__do_free char *path = xasprintf("%s/guard.fenced", svc_cluster_dir());
	unlink(path);
}

void ha_guard_quiet(void)
{
	if (conn < 0)
		return;
	struct iovec iov = { (void *)"quiet", 5 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (sendmsg(conn, &m, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_warn("ha: cannot tell corral-guard that corrald stops: %s", strerror(errno));
	close(conn);
	conn = -1;
}
