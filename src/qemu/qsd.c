/*
 * qsd.c - starting, finding and stopping the qemu-storage-daemon that
 * serves a VM's replica volumes over NBD (see qsd.h).  The argv carries no
 * secret: the TLS key is read by the daemon from key/keys.psk.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu/argv.h"
#include "qemu/qsd.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/runas.h"
#include "util/timeutil.h"
#include "util/common.h"

#define QSD_START_WAIT_MS 5000

void qsd_argv(const struct qsd_spec *s, struct cmd *c)
{
	__do_free char *kdir = xasprintf("%s/key", s->dir);
	__do_free char *ek = qemu_opt_escape(kdir);

	cmd_add(c, "qemu-storage-daemon");
	cmd_add(c, "--object");
	cmd_addf(c, "tls-creds-psk,id=%s,dir=%s,endpoint=server", QSD_TLS_ID, ek);
	for (int i = 0; i < s->ndisks; i++) {
		__do_free char *ep = qemu_opt_escape(s->disks[i].path);
		cmd_add(c, "--blockdev");
		cmd_addf(c, "driver=file,node-name=f%d,filename=%s", i, ep);
		cmd_add(c, "--blockdev");
		cmd_addf(c, "driver=%s,node-name=r%d,file=f%d", s->disks[i].format, i, i);
	}
	cmd_add(c, "--nbd-server");
	cmd_addf(c, "addr.type=inet,addr.host=%s,addr.port=%d,tls-creds=%s", s->addr, s->port, QSD_TLS_ID);
	for (int i = 0; i < s->ndisks; i++) {
		cmd_add(c, "--export");
		cmd_addf(c, "type=nbd,id=e%d,node-name=r%d,name=%s,writable=on,writethrough=on", i, i, s->disks[i].export);
	}
}

bool qsd_running(const char *dir, struct proc_identity *id)
{
	__do_free char *pidfile = xasprintf("%s/qsd.pid", dir);
	struct proc_identity me;
	if (proc_identity_load(pidfile, &me) < 0 || !proc_identity_alive(&me))
		return false;
	if (id)
		*id = me;
	return true;
}

/* Does addr:port accept a TCP connection? */
static bool accepts(const char *addr, int port)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	char ps[16];
	bool ok = false;

	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(addr, ps, &hints, &ai) != 0)
		return false;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}

/* The last line of the log since offset from, for an error message. */
static char *log_tail(const char *path, size_t from)
{
	struct buf b __do_buf = BUF_INIT;
	if (fs_read_file(path, 1 << 20, &b) < 0 || b.len <= from)
		return xstrdup("no message");
	while (b.len > from && (b.s[b.len - 1] == '\n' || b.s[b.len - 1] == ' '))
		b.s[--b.len] = '\0';
	char *nl = strrchr(b.s + from, '\n');
	return xstrdup(nl ? nl + 1 : b.s + from);
}

static int drop_hook(void *arg, const char **what) { return runas_drop(arg, what); }

int qsd_start(const struct qsd_spec *s, struct buf *err)
{
	__do_free char *log = xasprintf("%s/qsd.log", s->dir);
	__do_free char *pidfile = xasprintf("%s/qsd.pid", s->dir);
	struct buf why __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct proc_identity id;
	struct runas user;
	struct stat st;
	int r;

	if (qsd_running(s->dir, NULL))
		return 0;
	size_t from = stat(log, &st) == 0 ? (size_t)st.st_size : 0;
	qsd_argv(s, &c);
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.new_session = true;
	if (runas_owner(&user)) {
		c.pre_exec = drop_hook;
		c.pre_exec_arg = &user;
	}
	r = cmd_start(&c, &p, &why);
	cmd_release(&c);
	if (r < 0) {
		buf_printf(err, "cannot start qemu-storage-daemon: %s", why.s);
		return r;
	}
	if ((r = proc_identity_get(p.pid, &id)) == 0)
		r = proc_identity_save(pidfile, &id);
	if (r < 0)
		log_warn("replica: cannot record qemu-storage-daemon's pid in %s: %s", pidfile, strerror(-r));
	int64_t deadline = time_mono_ms() + QSD_START_WAIT_MS;
	for (;;) {
		int stt = proc_wait_timeout(&p, 20);
		if (stt != -ETIMEDOUT) {
			__do_free char *t = log_tail(log, from);
			buf_printf(err, "qemu-storage-daemon exited at once (status %d): %s", stt, t);
			unlink(pidfile);
			proc_release(&p);
			return -EIO;
		}
		if (accepts(s->addr, s->port))
			break;
		if (time_mono_ms() > deadline) {
			buf_printf(err, "qemu-storage-daemon does not listen on %s port %d after %d s", s->addr, s->port,
				   QSD_START_WAIT_MS / 1000);
			proc_signal(&p, SIGKILL);
			unlink(pidfile);
			proc_release(&p);
			return -ETIMEDOUT;
		}
	}
	log_info("replica: qemu-storage-daemon (pid %d) serves %d volume(s) on %s port %d", (int)p.pid, s->ndisks,
		 s->addr, s->port);
	proc_release(&p); /* left to the reaper; found again by its identity */
	return 0;
}

int qsd_stop(const char *dir)
{
	__do_free char *pidfile = xasprintf("%s/qsd.pid", dir);
	struct proc_identity id;
	if (qsd_running(dir, &id)) {
		proc_identity_signal(&id, SIGTERM);
		for (int i = 0; i < 500 && proc_identity_alive(&id); i++) {
			if (i == 300)
				proc_identity_signal(&id, SIGKILL);
			usleep(10000);
		}
	}
	unlink(pidfile);
	return 0;
}
