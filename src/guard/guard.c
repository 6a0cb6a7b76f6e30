/*
 * guard.c - corral-guard, the second line of HA fencing (docs/ha.md
 * "The guard"; design memo 4.2): a tiny process, started by corrald in a
 * session of its own, that kills this host's armed HA QEMUs when the host
 * loses quorum even if corrald hangs or is stopped.
 *
 * It keeps its own libquorum connection and listens on a unix socket
 * (SOCK_SEQPACKET, --socket PATH) for corrald's "armed set" messages: a
 * text payload "set NAME..." carrying the pidfds of the armed QEMUs
 * (SCM_RIGHTS); each message replaces the set and doubles as corrald's
 * heartbeat.  It kills every pidfd of the set with pidfd_send_signal
 * (SIGKILL: a pidfd never names a recycled pid) when
 *   - a quorum notification says not quorate after it saw the host quorate,
 *   - the corosync connection breaks while armed,
 *   - corrald sent nothing for --corrald-timeout seconds (20) while armed,
 *     unless its last message was "quiet" (corrald stopping on purpose:
 *     the set stays armed for quorum loss).
 * It allocates nothing in its loop and locks its memory (mlockall).  One
 * line per decision on stderr (corrald sends it to guard.log); after a kill
 * it writes --report PATH ("REASON\nUUID=NAME ...\n": the names as corrald
 * sent them), from which corrald, once it runs again, records the VMs
 * fenced.  It exits on
 * SIGTERM (corrald stops it when the host leaves its pool).
 */
#include <corosync/corotypes.h>
#include <corosync/quorum.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_ARMED 250
#define MSG_MAX 8192

static int armed_fd[MAX_ARMED];
static unsigned narmed;
static char armed_names[MSG_MAX];
static bool quorate, seen_quorate;
static volatile sig_atomic_t stop;
static const char *report;
static bool quiet; /* corrald said it is stopping on purpose */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ corral-guard: ", when, ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static void set_clear(void)
{
	for (unsigned i = 0; i < narmed; i++)
		close(armed_fd[i]);
	narmed = 0;
	armed_names[0] = '\0';
}

static void fence(const char *why)
{
	unsigned killed = 0;
	int64_t t0 = mono_ms();
	if (!narmed)
		return;
	for (unsigned i = 0; i < narmed; i++)
		if (syscall(SYS_pidfd_send_signal, armed_fd[i], SIGKILL, NULL, 0) == 0)
			killed++;
	say("fenced: %s: SIGKILL to %u of %u armed QEMU(s) (%s) in %lld ms", why, killed, narmed, armed_names,
	    (long long)(mono_ms() - t0));
	if (report) {
		int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dprintf(fd, "%s\n%s\n", why, armed_names);
			fsync(fd);
			close(fd);
		}
	}
	set_clear();
}

static void on_quorum(quorum_handle_t h, uint32_t q, uint64_t seq, uint32_t n, uint32_t *list)
{
	(void)h;
	(void)list;
	say("quorum %s (ring seq %llx, %u node(s))", q ? "quorate" : "NOT quorate", (unsigned long long)seq, n);
	quorate = q;
	if (q)
		seen_quorate = true;
	else if (seen_quorate)
		fence("host lost quorum");
}

/* One message from corrald: replace the armed set.  -1 when the peer went away. */
static int recv_set(int fd)
{
	static char payload[MSG_MAX];
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_ARMED)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { payload, sizeof(payload) - 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(fd, &m, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return -1;
	payload[n] = '\0';
	bool is_quiet = strcmp(payload, "quiet") == 0; /* corrald stops on purpose: keep the set */
	if (!is_quiet)
		set_clear();
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *fds = (int *)CMSG_DATA(c);
		for (unsigned i = 0; i < k; i++) {
			if (!is_quiet && narmed < MAX_ARMED)
				armed_fd[narmed++] = fds[i];
			else
				close(fds[i]);
		}
	}
	static char before[MSG_MAX];
	if (is_quiet) {
		quiet = true;
		say("corrald is stopping: armed set kept (%u QEMU(s)), silence rule off until it is back", narmed);
		return 0;
	}
	quiet = false;
	if (strncmp(payload, "set", 3) == 0)
		snprintf(armed_names, sizeof(armed_names), "%s", payload[3] == ' ' ? payload + 4 : "");
	if (strcmp(before, armed_names) != 0) {
		say("armed for %u QEMU(s): %s", narmed, narmed ? armed_names : "none");
		memcpy(before, armed_names, sizeof(before));
	}
	return 0;
}

static void on_term(int sig) { (void)sig; stop = 1; }

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	unlink(path);
	mode_t old = umask(077);
	int r = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (r < 0 || listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	long corrald_timeout_s = 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
			report = argv[++i];
		else if (strcmp(argv[i], "--corrald-timeout") == 0 && i + 1 < argc)
			corrald_timeout_s = strtol(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: corral-guard --socket PATH [--report PATH] [--corrald-timeout S]\n");
			return 2;
		}
	}
	if (!sock || corrald_timeout_s < 1) {
		fprintf(stderr, "usage: corral-guard --socket PATH [--report PATH] [--corrald-timeout S]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		say("mlockall: %s (going on)", strerror(errno));
	int lfd = listen_on(sock);
	if (lfd < 0) {
		say("cannot listen on %s: %s", sock, strerror(errno));
		return 1;
	}
	say("started (pid %d): socket %s, corrald timeout %ld s; no watchdog device: fencing is kill-only", (int)getpid(),
	    sock, corrald_timeout_s);

	quorum_handle_t qh = 0;
	quorum_callbacks_t cb = { .quorum_notify_fn = on_quorum };
	int qfd = -1, cfd = -1;
	int64_t last_try = 0, last_msg = mono_ms();
	while (!stop) {
		int64_t now = mono_ms();
		if (qfd < 0 && now - last_try >= 1000) {
			uint32_t type;
			int q = 0;
			last_try = now;
			if (quorum_initialize(&qh, &cb, &type) == CS_OK) {
				if (quorum_fd_get(qh, &qfd) != CS_OK || quorum_trackstart(qh, CS_TRACK_CHANGES) != CS_OK ||
				    quorum_getquorate(qh, &q) != CS_OK) {
					quorum_finalize(qh);
					qfd = -1;
				} else {
					quorate = q;
					seen_quorate |= quorate;
					say("connected to corosync: %s", q ? "quorate" : "not quorate");
				}
			}
		}
		struct pollfd p[3] = { { lfd, POLLIN, 0 }, { cfd, POLLIN, 0 }, { qfd, POLLIN, 0 } };
		int r = poll(p, 3, 100);
		if (r < 0 && errno != EINTR)
			break;
		if (qfd >= 0 && p[2].revents) {
			if ((p[2].revents & (POLLHUP | POLLERR)) || quorum_dispatch(qh, CS_DISPATCH_ALL) != CS_OK) {
				say("lost the corosync connection");
				quorum_finalize(qh);
				qfd = -1;
				if (seen_quorate)
					fence("host lost its corosync connection");
				seen_quorate = quorate = false;
			}
		}
		if (p[0].revents & POLLIN) {
			int nfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (nfd >= 0) {
				if (cfd >= 0)
					close(cfd);
				cfd = nfd;
				last_msg = mono_ms();
			}
		}
		if (cfd >= 0 && p[1].revents) {
			if (recv_set(cfd) < 0) {
				close(cfd);
				cfd = -1;
			} else {
				last_msg = mono_ms();
			}
		}
		if (narmed && !quiet && mono_ms() - last_msg > corrald_timeout_s * 1000)
			fence("corrald silent");
	}
	say("stopping (armed: %u)", narmed);
	set_clear();
	if (qfd >= 0)
		quorum_finalize(qh);
	unlink(sock);
	return 0;
}
