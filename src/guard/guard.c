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
 *     the set stays armed for quorum loss);
 *   - its own messages stopped coming through corosync (a stalled or
 *     stopped corosync, which never tells anyone that quorum is gone): the
 *     guard multicasts a small self-message every 100 ms in the CPG group
 *     corral_guard_v1 and notes the send time of each one delivered back
 *     while quorate; armed, with none for the deadline L that corrald sends
 *     with the set ("set fresh=MS ..."), it kills.  A ring reform holds
 *     deliveries for token + consensus, which L exceeds by 1.5 s.
 * Disk leases (docs/ha.md "Disk leases"; cluster/lease.h): after the
 * first line, the set's payload may carry lines "lease UUID INC MS P" and
 * "release UUID INC", each with one more fd (after the pidfds) of the
 * lease file POOL/.corral-leases/UUID that corrald acquired under the
 * incarnation INC (hex; MS: CLOCK_MONOTONIC ms of corrald's write; P 1:
 * a pidfd of its guest follows the lease fd, when it runs).  A
 * thread of its own (so that a hung pool never stops this loop) rewrites
 * each held record every LEASE_RENEW_MS with the counter one higher, after
 * reading it back: a record of another incarnation means another host took
 * the lease, and the guard kills that guest (its pidfd in the set, by
 * uuid) at once; no write begun successfully for LEASE_GUARD_KILL_MS kills
 * it too, before any acquirer may take the lease (LEASE_EXPIRE_MS).  A
 * "release" line writes the record released (its guest has ended here)
 * and closes it.  A lease is renewed while its guest (that pidfd) lives,
 * through a fence too (a lease without one stops at a fence): a guest the kill did not end
 * keeps its lease, so the pool cannot start it a second time; once it has
 * ended, the guard writes the record released.  A set from corrald
 * without a lease stops its renewal.
 * With a watchdog device (--watchdog auto|none|PATH; watchdog.h) it opens
 * the device while it holds armed guests and pets it from its loop; after
 * a fence it waits WD_CONFIRM_MS for the killed guests to end and stops
 * petting if one has not, so the device resets the host before the
 * survivors restart them; a frozen or killed guard stops petting too.  The
 * device's state goes, as one line, to --status PATH (corrald shows it in
 * `ha status`).
 * It allocates nothing in its loop and locks its memory (mlockall).  One
 * line per decision on stderr (corrald sends it to guard.log); after a kill
 * it writes --report PATH ("REASON\nUUID=NAME ...\n": the names as corrald
 * sent them), from which corrald, once it runs again, records the VMs
 * fenced.  It exits on
 * SIGTERM (corrald stops it when the host leaves its pool).
 */
#include <corosync/corotypes.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
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

#include "cluster/lease.h"
#include "watchdog.h"

#define MAX_ARMED 250
#define MSG_MAX 8192

static int armed_fd[MAX_ARMED];
static char armed_uuid[MAX_ARMED][40];
static unsigned narmed;
static char armed_names[MSG_MAX];
static bool quorate, seen_quorate;
static volatile sig_atomic_t stop;
static const char *report;
static bool quiet; /* corrald said it is stopping on purpose */
static int64_t fresh_ms;   /* from corrald's set: the deadline L; 0: no freshness rule */
static int64_t last_fresh; /* send time of the newest own message delivered while quorate */
static uint32_t my_nodeid;
static struct wd wd = { .fd = -1 };
static bool starving;		 /* a fence was not confirmed: the watchdog is left to reset the host */
static int64_t wd_retry_at;	 /* after a failed open: when to try again */
static const char *status_path; /* the watchdog's state line for corrald */
static char wd_status[320];

#define FRESH_MAGIC 0x63677264u /* "cgrd" */
#define FRESH_EVERY_MS 100

struct fresh_msg {
	uint32_t magic;
	uint32_t pid;
	int64_t sent_ms;
};

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

/* The watchdog's state changed: say it and write it for corrald (temp file, then rename). */
static void status_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void status_set(const char *fmt, ...)
{
	char line[sizeof(wd_status)], tmp[4200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!strcmp(line, wd_status))
		return;
	memcpy(wd_status, line, sizeof(wd_status));
	say("watchdog: %s", wd_status);
	if (!status_path || snprintf(tmp, sizeof(tmp), "%s.tmp", status_path) >= (int)sizeof(tmp))
		return;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	dprintf(fd, "%s\n", wd_status);
	close(fd);
	rename(tmp, status_path);
}

/* Open the device while guests are armed, close it when none are (never once starving). */
static void watchdog_follow(void)
{
	char why[sizeof(wd_status)];
	if (!wd.path[0] || starving)
		return;
	if (narmed && wd.fd < 0 && mono_ms() >= wd_retry_at) {
		if (wd_arm(&wd, WD_TIMEOUT_S, why, sizeof(why)) < 0) {
			wd_retry_at = mono_ms() + 30000;
			status_set("%s", why);
		} else {
			status_set("%s (%s, timeout %d s): armed while HA guests run here, petted every %d ms", wd.path,
				   wd.identity, wd.timeout_s, FRESH_EVERY_MS);
		}
	} else if (!narmed && wd.fd >= 0) {
		if (wd_disarm(&wd))
			status_set("%s (%s): idle: armed while HA guests run here", wd.path, wd.identity);
		else
			status_set("%s (%s): cannot be stopped (no magic close): kept open and petted", wd.path,
				   wd.identity);
	}
}

/* ---- disk leases: the renewer thread owns the fds of "cur"; the main
 * thread hands it a new list through "pend" and reads each one's outcome. */
#define MAX_LEASES MAX_ARMED

struct glease {
	char uuid[40];
	uint64_t inc;
	int fd;
	int pidfd;        /* its guest's (a dup of the armed one), or -1: renewed while that lives */
	bool release;     /* write it released, then drop it */
	bool ended;       /* its guest exited: released, no longer renewed */
	uint64_t counter; /* the last written; 0 until the record was read back */
	int64_t last_ok;  /* mono ms at which the last successful renewal began */
	bool lost;        /* the record names another incarnation: taken over */
	bool fenced;      /* its guest was killed for it: no longer renewed */
	char lost_to[LEASE_HOST_MAX];
};

static pthread_mutex_t lease_lock = PTHREAD_MUTEX_INITIALIZER;
static struct glease cur[MAX_LEASES], pend[MAX_LEASES];
static unsigned ncur, npend;
static bool pend_ready;

/* Main thread: the leases of the set just received (pend[] filled, npend
 * set, fds owned by pend) replace the renewer's at its next round. */
static void lease_hand_over(struct glease *list, unsigned n)
{
	pthread_mutex_lock(&lease_lock);
	if (pend_ready)
		for (unsigned i = 0; i < npend; i++) {
			close(pend[i].fd); /* never seen by the renewer */
			if (pend[i].pidfd >= 0)
				close(pend[i].pidfd);
		}
	memcpy(pend, list, n * sizeof(list[0]));
	npend = n;
	pend_ready = true;
	pthread_mutex_unlock(&lease_lock);
}

/* Renewer, under lease_lock: take the pending list, keeping what it knew of the same incarnations. */
static void lease_merge(struct glease *releases, unsigned *nrel)
{
	struct glease next[MAX_LEASES];
	unsigned k = 0;
	*nrel = 0;
	for (unsigned i = 0; i < npend; i++) {
		struct glease *p = &pend[i];
		if (p->release) {
			releases[(*nrel)++] = *p;
			continue;
		}
		next[k] = *p;
		for (unsigned j = 0; j < ncur; j++)
			if (cur[j].fd >= 0 && cur[j].inc == p->inc && !strcmp(cur[j].uuid, p->uuid)) {
				next[k].counter = cur[j].counter;
				next[k].last_ok = cur[j].last_ok > p->last_ok ? cur[j].last_ok : p->last_ok;
				next[k].lost = cur[j].lost;
				next[k].fenced = p->fenced || cur[j].fenced;
				next[k].ended = cur[j].ended;
				memcpy(next[k].lost_to, cur[j].lost_to, sizeof(next[k].lost_to));
			}
		k++;
	}
	for (unsigned j = 0; j < ncur; j++) {
		close(cur[j].fd);
		if (cur[j].pidfd >= 0)
			close(cur[j].pidfd);
	}
	memcpy(cur, next, k * sizeof(next[0]));
	ncur = k;
	npend = 0;
	pend_ready = false;
}

/* Read the record back; 0 it is ours (*r filled), 1 another incarnation's, -1 unreadable. */
static int lease_read_own(const struct glease *l, struct lease_rec *r)
{
	unsigned char b[LEASE_RECORD_SIZE];
	const char *why;
	if (pread(l->fd, b, sizeof(b), 0) != (ssize_t)sizeof(b) || lease_decode(b, sizeof(b), r, &why) < 0)
		return -1;
	return r->incarnation == l->inc && strcmp(r->uuid, l->uuid) == 0 ? 0 : 1;
}

static int lease_write(int fd, const struct lease_rec *r)
{
	unsigned char b[LEASE_RECORD_SIZE];
	lease_encode(r, b);
	if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	return fdatasync(fd);
}

/* A fence: a lease without its guest's pidfd (a start under way) is no
 * longer renewed: whether that guest lives cannot be known here, and
 * corrald kills an HA guest that starts on a host without quorum. */
static void lease_stop_unknown(void)
{
	pthread_mutex_lock(&lease_lock);
	for (unsigned i = 0; i < ncur; i++)
		if (cur[i].pidfd < 0)
			cur[i].fenced = true;
	for (unsigned i = 0; i < npend; i++)
		if (pend[i].pidfd < 0)
			pend[i].fenced = true;
	pthread_mutex_unlock(&lease_lock);
}

/* Write the record released if it is still this incarnation's. */
static void lease_release(const struct glease *l, const char *why)
{
	struct lease_rec r;
	if (lease_read_own(l, &r) != 0 || r.state == LEASE_RELEASED)
		return;
	r.state = LEASE_RELEASED;
	r.counter++;
	r.wall_ms = (int64_t)time(NULL) * 1000;
	if (lease_write(l->fd, &r) == 0)
		say("disk lease of %s released: %s", l->uuid, why);
}

static void *lease_main(void *arg)
{
	static struct glease rel[MAX_LEASES];
	(void)arg;
	for (;;) {
		unsigned nrel = 0;
		pthread_mutex_lock(&lease_lock);
		if (pend_ready)
			lease_merge(rel, &nrel);
		unsigned n = ncur;
		pthread_mutex_unlock(&lease_lock);
		for (unsigned i = 0; i < nrel; i++) {
			lease_release(&rel[i], "its guest stopped here");
			close(rel[i].fd);
			if (rel[i].pidfd >= 0)
				close(rel[i].pidfd);
		}
		/* cur[] changes only here: its entries are read without the lock */
		for (unsigned i = 0; i < n; i++) {
			struct lease_rec r;
			if (cur[i].lost || cur[i].fenced || cur[i].ended)
				continue;
			struct pollfd pf = { cur[i].pidfd, POLLIN, 0 };
			if (cur[i].pidfd >= 0 && poll(&pf, 1, 0) > 0) {
				/* its guest has ended (a fence's kill, or a stop corrald has not said yet) */
				lease_release(&cur[i], "its guest has ended");
				pthread_mutex_lock(&lease_lock);
				cur[i].ended = true;
				pthread_mutex_unlock(&lease_lock);
				continue;
			}
			int64_t began = mono_ms();
			int own = lease_read_own(&cur[i], &r);
			bool ok = false;
			if (own == 0) {
				r.counter = (cur[i].counter > r.counter ? cur[i].counter : r.counter) + 1;
				r.state = LEASE_HELD;
				r.wall_ms = (int64_t)time(NULL) * 1000;
				ok = lease_write(cur[i].fd, &r) == 0;
			}
			pthread_mutex_lock(&lease_lock);
			if (own == 1) {
				cur[i].lost = true;
				snprintf(cur[i].lost_to, sizeof(cur[i].lost_to), "%s", r.host);
			} else if (ok) {
				cur[i].counter = r.counter;
				cur[i].last_ok = began;
			}
			pthread_mutex_unlock(&lease_lock);
		}
		struct timespec ts = { 0, LEASE_RENEW_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Main thread: kill the armed guest whose lease was taken over or not
 * renewed in time (before any acquirer may take it); its lease is no
 * longer renewed. */
static void fence_uuid(const char *uuid, const char *why);
static void lease_check(void)
{
	char uuid[40], why[256];
	uuid[0] = '\0';
	pthread_mutex_lock(&lease_lock);
	int64_t now = mono_ms();
	for (unsigned i = 0; i < ncur && !uuid[0]; i++) {
		if (cur[i].fenced || cur[i].ended)
			continue;
		if (cur[i].lost)
			snprintf(why, sizeof(why), "disk lease of %.39s taken over by %.63s", cur[i].uuid, cur[i].lost_to);
		else if (now - cur[i].last_ok > LEASE_GUARD_KILL_MS)
			snprintf(why, sizeof(why), "disk lease of %.39s not renewed for %lld ms (its pool does not answer)",
				 cur[i].uuid, (long long)(now - cur[i].last_ok));
		else
			continue;
		snprintf(uuid, sizeof(uuid), "%.39s", cur[i].uuid);
		cur[i].fenced = true;
	}
	pthread_mutex_unlock(&lease_lock);
	if (uuid[0])
		fence_uuid(uuid, why);
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
	if (!wd_wait_dead(&wd, armed_fd, narmed, WD_CONFIRM_MS)) {
		if (wd.fd >= 0) {
			starving = true;
			say("a killed guest has not ended %d ms after SIGKILL: %s stops being petted and resets this "
			    "host within %d s", WD_CONFIRM_MS, wd.path, wd.timeout_s);
			status_set("%s (%s): left to reset this host: a fenced guest did not end", wd.path, wd.identity);
		} else {
			say("a killed guest has not ended %d ms after SIGKILL, and no watchdog can reset this host",
			    WD_CONFIRM_MS);
		}
	}
	if (report) {
		int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dprintf(fd, "%s\n%s\n", why, armed_names);
			fsync(fd);
			close(fd);
		}
	}
	set_clear(); /* the leases stay: renewed while their guests live (one the kill did not end), then released */
	lease_stop_unknown();
}

/* One guest's lease failed: SIGKILL its pidfd (if armed) and report it as fenced. */
static void fence_uuid(const char *uuid, const char *why)
{
	char token[160] = "";
	const char *t = strstr(armed_names, uuid);
	if (t)
		snprintf(token, sizeof(token), "%.*s", (int)strcspn(t, " "), t);
	for (unsigned i = 0; i < narmed; i++) {
		if (strcmp(armed_uuid[i], uuid) != 0)
			continue;
		int r = (int)syscall(SYS_pidfd_send_signal, armed_fd[i], SIGKILL, NULL, 0);
		say("fenced: %s: SIGKILL to its armed process (%s): %s", why, token, r == 0 ? "sent" : strerror(errno));
		if (report && r == 0) {
			int fd = open(report, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
			if (fd >= 0) {
				dprintf(fd, "%s\n%s\n", why, token);
				fsync(fd);
				close(fd);
			}
		}
		return;
	}
	say("%s: no armed process of it to kill here", why);
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

static void on_deliver(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
		       size_t len)
{
	struct fresh_msg m;
	(void)h;
	(void)group;
	if (len != sizeof(m) || nodeid != my_nodeid || pid != (uint32_t)getpid())
		return;
	memcpy(&m, msg, sizeof(m));
	if (m.magic == FRESH_MAGIC && quorate && m.sent_ms > last_fresh)
		last_fresh = m.sent_ms;
}

/* Join corral_guard_v1; the group's fd, or -1 (tried again later). */
static int fresh_join(cpg_handle_t *h)
{
	static cpg_callbacks_t cb = { .cpg_deliver_fn = on_deliver };
	struct cpg_name g = { .length = sizeof("corral_guard_v1") - 1, .value = "corral_guard_v1" };
	int fd = -1;
	if (cpg_initialize(h, &cb) != CS_OK)
		return -1;
	if (cpg_local_get(*h, &my_nodeid) != CS_OK || cpg_join(*h, &g) != CS_OK || cpg_fd_get(*h, &fd) != CS_OK) {
		cpg_finalize(*h);
		return -1;
	}
	last_fresh = mono_ms(); /* the clock starts now: a corosync already stalled fences after L */
	return fd;
}

static void fresh_send(cpg_handle_t h)
{
	struct fresh_msg m = { FRESH_MAGIC, (uint32_t)getpid(), mono_ms() };
	struct iovec iov = { &m, sizeof(m) };
	(void)cpg_mcast_joined(h, CPG_TYPE_AGREED, &iov, 1); /* TRY_AGAIN in a reform: the next one goes */
}

/* Say which leases are renewed when that changes (not at every set). */
static void say_leases(const struct glease *g, unsigned n)
{
	static char before[MSG_MAX];
	char now[MSG_MAX];
	size_t len = 0;
	now[0] = '\0';
	for (unsigned i = 0; i < n && len < sizeof(now) - 64; i++)
		if (!g[i].release)
			len += (size_t)snprintf(now + len, sizeof(now) - len, " %s@%" PRIx64, g[i].uuid, g[i].inc);
	if (strcmp(before, now) != 0) {
		say("renewing %s disk lease(s) every %d ms:%s", now[0] ? "these" : "no", LEASE_RENEW_MS, now);
		memcpy(before, now, sizeof(before));
	}
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
	char *lines = strchr(payload, '\n');
	if (lines)
		*lines++ = '\0';
	if (strncmp(payload, "set", 3) == 0) {
		const char *names = payload[3] == ' ' ? payload + 4 : "";
		if (strncmp(names, "fresh=", 6) == 0) {
			fresh_ms = strtoll(names + 6, NULL, 10);
			names = strchr(names, ' ') ? strchr(names, ' ') + 1 : "";
		}
		snprintf(armed_names, sizeof(armed_names), "%s", names);
	}
	/* the pidfds in the order of the names; the lease files after them */
	unsigned npid = 0;
	for (const char *t = armed_names; *t && npid < narmed; npid++) {
		size_t len = strcspn(t, "=");
		snprintf(armed_uuid[npid], sizeof(armed_uuid[npid]), "%.*s", (int)len, t);
		t += strcspn(t, " ");
		t += *t == ' ';
	}
	static struct glease got[MAX_LEASES];
	unsigned ng = 0, next_fd = npid;
	for (char *save = NULL, *l = lines ? strtok_r(lines, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		char word[16], uuid[40];
		unsigned long long inc = 0;
		long long ms = 0;
		int with_pid = 0;
		if (sscanf(l, "%15s %39s %llx %lld %d", word, uuid, &inc, &ms, &with_pid) < 3 || next_fd >= narmed ||
		    ng >= MAX_LEASES)
			continue;
		struct glease *g = &got[ng++];
		memset(g, 0, sizeof(*g));
		snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
		g->inc = inc;
		g->fd = armed_fd[next_fd];
		armed_fd[next_fd++] = -1;
		g->release = strcmp(word, "release") == 0;
		g->pidfd = -1;
		if (with_pid == 1 && next_fd < narmed) { /* its guest's pidfd follows */
			g->pidfd = armed_fd[next_fd];
			armed_fd[next_fd++] = -1;
		}
		g->last_ok = ms > 0 && ms <= mono_ms() ? ms : mono_ms();
	}
	for (unsigned i = next_fd; i < narmed; i++)
		if (armed_fd[i] >= 0)
			close(armed_fd[i]);
	narmed = npid;
	lease_hand_over(got, ng);
	if (strcmp(before, armed_names) != 0) {
		say("armed for %u QEMU(s): %s", narmed, narmed ? armed_names : "none");
		memcpy(before, armed_names, sizeof(before));
	}
	if (ng)
		say_leases(got, ng);
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
	static const char usage[] = "usage: corral-guard --socket PATH [--report PATH] [--corrald-timeout S] "
				    "[--watchdog auto|none|DEVICE] [--status PATH]\n";
	const char *sock = NULL, *watchdog = "none";
	char why[sizeof(wd_status)];
	long corrald_timeout_s = 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
			report = argv[++i];
		else if (strcmp(argv[i], "--corrald-timeout") == 0 && i + 1 < argc)
			corrald_timeout_s = strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--watchdog") == 0 && i + 1 < argc)
			watchdog = argv[++i];
		else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			status_path = argv[++i];
		else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	if (!sock || corrald_timeout_s < 1) {
		fprintf(stderr, "%s", usage);
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
	say("started (pid %d): socket %s, corrald timeout %ld s", (int)getpid(), sock, corrald_timeout_s);
	pthread_t renewer;
	if (pthread_create(&renewer, NULL, lease_main, NULL) != 0) {
		say("cannot start the disk lease renewer: %s", strerror(errno));
		return 1;
	}
	wd_configure(&wd, watchdog, why, sizeof(why));
	status_set("%s", why);

	quorum_handle_t qh = 0;
	quorum_callbacks_t cb = { .quorum_notify_fn = on_quorum };
	cpg_handle_t gh = 0;
	int qfd = -1, cfd = -1, gfd = -1;
	int64_t last_try = 0, last_msg = mono_ms(), last_sent = 0;
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
		if (qfd >= 0 && gfd < 0 && now - last_try >= 1000) {
			last_try = now;
			if ((gfd = fresh_join(&gh)) >= 0)
				say("joined corral_guard_v1 (node %u): freshness clock running", my_nodeid);
		}
		if (gfd >= 0 && now - last_sent >= FRESH_EVERY_MS) {
			fresh_send(gh);
			last_sent = now;
		}
		struct pollfd p[4] = { { lfd, POLLIN, 0 }, { cfd, POLLIN, 0 }, { qfd, POLLIN, 0 }, { gfd, POLLIN, 0 } };
		int r = poll(p, 4, FRESH_EVERY_MS);
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
		if (gfd >= 0 && p[3].revents) {
			if ((p[3].revents & (POLLHUP | POLLERR)) || cpg_dispatch(gh, CS_DISPATCH_ALL) != CS_OK) {
				cpg_finalize(gh);
				gfd = -1; /* the quorum connection says whether corosync is gone */
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
		lease_check();
		watchdog_follow();
		if (wd.fd >= 0 && !starving)
			wd_pet(&wd);
		if (narmed && !quiet && mono_ms() - last_msg > corrald_timeout_s * 1000)
			fence("corrald silent");
		if (narmed && fresh_ms > 0 && gfd >= 0 && seen_quorate && mono_ms() - last_fresh > fresh_ms) {
			char stalled[96];
			snprintf(stalled, sizeof(stalled), "corosync stalled: no message of this host delivered for %lld ms",
				 (long long)(mono_ms() - last_fresh));
			fence(stalled);
		}
	}
	say("stopping (armed: %u)", narmed);
	set_clear();
	if (wd.fd >= 0 && !starving && !wd_disarm(&wd))
		say("%s cannot be stopped (no magic close): it resets this host unless a new guard takes it", wd.path);
	if (gfd >= 0)
		cpg_finalize(gh);
	if (qfd >= 0)
		quorum_finalize(qh);
	unlink(sock);
	return 0;
}
