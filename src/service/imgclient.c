/*
 * imgclient.c - corrald's side of the image helper (see imgclient.h):
 * opening what it may read, starting it, serving its device reads, timing it
 * out, and telling the user what happened when it died.
 *
 * The helper is started with posix_spawn by start_helper() below (registered
 * with util/proc.h's registry, so corrald's reaper leaves it to us), with the
 * minimum a sandboxed child needs: fd 0 and 1 /dev/null, fd 2 a non-blocking
 * pipe (so a chatty helper loses its words instead of blocking; the tail is
 * logged when it fails), fd 3 its end of the socketpair, every other fd
 * closed, an empty environment and no blocked or ignored signals.  It
 * enters its sandbox itself, first thing after exec, before it reads a
 * request (imgd/sandbox.h).  It is the one program start outside the
 * command runner (util/cmd.h), whose fork() would copy corrald's page tables
 * on every request; proc_signal never reaches a recycled pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <spawn.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "service/imgclient.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/common.h"

#define HELLO_TIMEOUT_MS 10000
#define EXIT_GRACE_MS 200
#define STDERR_KEEP 4096
#define CALL_TIMEOUTS 10	/* a request that wants one answer gets this many timeouts in all */

static struct imgc_config cfg;

int imgc_init(const struct imgc_config *c, struct buf *err)
{
	struct stat st;
	int r;

	imgc_shutdown();
	cfg.helper = xstrdup(c->helper);
	cfg.user = xstrdup(c->user);
	cfg.root = xstrdup(c->root);
	cfg.timeout_s = c->timeout_s > 0 ? c->timeout_s : 30;
	if (mkdir(cfg.root, 0555) < 0 && errno != EEXIST) {
		r = -errno;
		buf_printf(err, "cannot create the image helper's root %s: %s", cfg.root, strerror(-r));
		return r;
	}
	if (lstat(cfg.root, &st) < 0 || !S_ISDIR(st.st_mode) || chmod(cfg.root, 0555) < 0) {
		buf_printf(err, "%s must be a directory (the image helper's empty root)", cfg.root);
		return -ENOTDIR;
	}
	return 0;
}

void imgc_shutdown(void)
{
	free((char *)cfg.helper);
	free((char *)cfg.user);
	free((char *)cfg.root);
	memset(&cfg, 0, sizeof(cfg));
}

/* ---- sources ---- */

int imgc_source_files(struct imgc_source *s, const char *label, const char *const *chain, size_t n,
		      const char *format, const char *snapshot, struct buf *err)
{
	*s = (struct imgc_source)IMGC_SOURCE_INIT;
	s->label = xstrdup(label);
	s->format = format ? xstrdup(format) : NULL;
	s->snapshot = snapshot ? xstrdup(snapshot) : NULL;
	if (n == 0 || n > IMGD_MAX_CHAIN) {
		buf_printf(err, "cannot read %s: its backing chain has %zu files (at most %d)", label, n, IMGD_MAX_CHAIN);
		return -ELOOP;
	}
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		/* O_NONBLOCK: a FIFO put in place of an image cannot hang the open */
		int fd = open(chain[i], O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		int r = fd < 0 || fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) ? 0 : -EINVAL;
		if (r < 0) {
			const char *why = r == -EINVAL ? "not a regular file or block device" : strerror(-r);
			if (fd >= 0)
				close(fd);
			if (i == 0)
				buf_printf(err, "cannot open image %s: %s", chain[0], why);
			else
				buf_printf(err, "cannot open backing file %s of %s: %s", chain[i], label, why);
			return r;
		}
		s->fds[s->n] = fd;
		s->names[s->n++] = xstrdup(chain[i]);
	}
	return 0;
}

void imgc_source_fds(struct imgc_source *s, const char *label, int *fds, const char *const *names, size_t n,
		     const char *format, const char *snapshot)
{
	*s = (struct imgc_source)IMGC_SOURCE_INIT;
	s->label = xstrdup(label);
	s->format = format ? xstrdup(format) : NULL;
	s->snapshot = snapshot ? xstrdup(snapshot) : NULL;
	for (size_t i = 0; i < n && i < IMGD_MAX_CHAIN; i++) {
		s->fds[s->n] = fds[i];
		s->names[s->n++] = xstrdup(names[i]);
	}
}

void imgc_source_served(struct imgc_source *s, const char *label, uint64_t size,
			int (*pread_fn)(void *arg, void *buf, size_t len, uint64_t off), void *arg)
{
	*s = (struct imgc_source)IMGC_SOURCE_INIT;
	s->label = xstrdup(label);
	s->pread = pread_fn;
	s->arg = arg;
	s->size = size;
}

void imgc_source_release(struct imgc_source *s)
{
	for (size_t i = 0; i < s->n; i++) {
		close(s->fds[i]);
		free(s->names[i]);
	}
	free(s->label);
	free(s->format);
	free(s->snapshot);
	*s = (struct imgc_source)IMGC_SOURCE_INIT;
}

static json_t *source_json(const struct imgc_source *s)
{
	if (s->n == 0)
		return json_pack("{s:s,s:I,s:s}", "kind", "remote", "size", (json_int_t)s->size, "desc", s->label);
	json_t *names = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(names, json_string(s->names[i]));
	return json_pack("{s:s,s:o,s:o,s:o}", "kind", "file", "names", names, "format",
			 s->format ? json_string(s->format) : json_null(), "snapshot",
			 s->snapshot ? json_string(s->snapshot) : json_null());
}

/* ---- the helper process ---- */

struct imgc {
	const struct imgc_source *src;
	struct proc proc;
	int sock;
	int errpipe;		/* read end of the helper's stderr */
	int64_t deadline;	/* the whole request (imgc_call), 0 for none */
	int64_t t_start, t_hello, t_end;	/* for the debug log: spawned, confined, done */
	bool failed;		/* it broke or gave up: imgc_next answers no more */
	bool killed;		/* we killed it (timeout) */
};

/* fd, moved above the numbers the child's descriptors go to (0..3), so
 * no dup2 of the file actions overwrites it before it is used. */
static int above_targets(int fd)
{
	if (fd > IMGD_SOCK_FD)
		return fd;
	int moved = fcntl(fd, F_DUPFD_CLOEXEC, IMGD_SOCK_FD + 1);
	close(fd);
	return moved;
}

/*
 * Start argv[0] with fd 0 and 1 on /dev/null, 2 = errw, 3 = sock, nothing
 * else open, no blocked signals, every signal at its default, an empty
 * environment.  posix_spawn is glibc's clone(CLONE_VM|CLONE_VFORK): corrald's
 * page tables are not copied, and a failed exec is reported here.  0 or -errno.
 */
struct helper_start {
	char *const *argv;
	int sock, errw;
};

static int start_helper(void *arg, pid_t *pid)
{
	const struct helper_start *h = arg;
	char *const *argv = h->argv;
	int sock = h->sock, errw = h->errw;
	static char *const envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
	posix_spawn_file_actions_adddup2(&fa, 0, 1);
	posix_spawn_file_actions_adddup2(&fa, errw, 2);
	posix_spawn_file_actions_adddup2(&fa, sock, IMGD_SOCK_FD);
	posix_spawn_file_actions_addclosefrom_np(&fa, IMGD_SOCK_FD + 1);
	r = posix_spawn(pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -r;
}

static int spawn(struct imgc *c, struct buf *err)
{
	struct passwd pw, *pwp = NULL;
	char pwbuf[4096];
	int sv[2], ep[2], r;

	getpwnam_r(cfg.user, &pw, pwbuf, sizeof(pwbuf), &pwp);
	if (!pwp) {
		buf_printf(err, "the image helper's user %s does not exist: create it with scripts/setup-user.sh %s, "
				"or name another with corrald --image-user", cfg.user, cfg.user);
		return -ENOENT;
	}
	if (pwp->pw_uid == 0 || pwp->pw_gid == 0) {
		buf_printf(err, "the image helper must not run as root, but user %s is uid %u gid %u", cfg.user,
			   (unsigned)pwp->pw_uid, (unsigned)pwp->pw_gid);
		return -EPERM;
	}
	__do_free char *uid = xasprintf("%u", (unsigned)pwp->pw_uid);
	__do_free char *gid = xasprintf("%u", (unsigned)pwp->pw_gid);
	char *const argv[] = { (char *)cfg.helper, "--uid", uid, "--gid", gid, "--root", (char *)cfg.root, NULL };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		buf_printf(err, "cannot create a socket for the image helper: %s", strerror(-r));
		return r;
	}
	/* Room for a few 1 MiB data frames in flight, so a file streams without
	 * a context switch per 200 KiB (best effort: the default works too). */
	int sndbuf = 4 * IMGD_MAX_DATA;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		close(sv[0]);
		close(sv[1]);
		buf_printf(err, "cannot create a pipe for the image helper: %s", strerror(-r));
		return r;
	}
	sv[1] = above_targets(sv[1]);
	ep[1] = above_targets(ep[1]);
	struct helper_start hs = { argv, sv[1], ep[1] };
	/* Registered with the process registry (util/proc.h): its reaper must
	 * leave this child's exit status to us. */
	r = sv[1] < 0 || ep[1] < 0 ? -EMFILE : proc_spawn_with(&c->proc, start_helper, &hs);
	if (sv[1] >= 0)
		close(sv[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	c->sock = sv[0];
	c->errpipe = ep[0];
	if (r < 0) {
		buf_printf(err, "cannot start the image helper %s: %s", cfg.helper, strerror(-r));
		return r;
	}
	proc_track(&c->proc); /* a corrald killed meanwhile: the next one ends it */
	return 0;
}

/* Wait up to ms for the helper to exit, kill it if it has not: how it
 * ended (proc.h: exit status, 128+signal; 0 when there was no helper). */
static int reap(struct imgc *c, int ms)
{
	if (c->proc.pid <= 0)
		return 0;
	int st = proc_wait_timeout(&c->proc, ms);
	if (st == -ETIMEDOUT) {
		proc_signal(&c->proc, SIGKILL);
		st = proc_wait(&c->proc);
	}
	proc_release(&c->proc);
	return st;
}

/* The tail of what the helper wrote to stderr, printable, into out. */
static void stderr_tail(struct imgc *c, struct buf *out)
{
	char tmp[STDERR_KEEP];
	size_t len = 0;
	ssize_t n;

	while ((n = read(c->errpipe, tmp + len, sizeof(tmp) - len)) > 0) {
		len += (size_t)n;
		if (len == sizeof(tmp)) {	/* keep the last half */
			memmove(tmp, tmp + len / 2, len / 2);
			len /= 2;
		}
	}
	while (len && (tmp[len - 1] == '\n' || tmp[len - 1] == ' '))
		len--;
	buf_add_printable(out, tmp, len);
}

/*
 * The request failed at the transport (r, why): stop the helper and replace
 * the reason with what became of it.  Always -EIO.
 */
static int fail(struct imgc *c, int r, const char *why, struct buf *err)
{
	struct buf tail = BUF_INIT, msg = BUF_INIT;
	const char *label = c->src->label;

	c->failed = true;
	if (r == -ETIMEDOUT) {
		c->killed = true;
		proc_signal(&c->proc, SIGKILL);
	}
	/* A helper that is still alive sees the socket close and exits (or is
	 * killed a second later); one that crashed is reaped at once. */
	if (c->sock >= 0)
		close(move_fd(c->sock));
	int st = reap(c, c->killed ? 0 : 1000);
	stderr_tail(c, &tail);
	if (c->killed && c->deadline && time_mono_ms() >= c->deadline)
		buf_printf(&msg, "cannot read %s: the image helper took more than %d s and was stopped; the image "
				 "may be damaged or hostile", label, CALL_TIMEOUTS * cfg.timeout_s);
	else if (c->killed)
		buf_printf(&msg, "cannot read %s: the image helper made no progress for %d s and was stopped; the image "
				 "may be damaged or hostile", label, cfg.timeout_s);
	else if (st == 128 + SIGSYS)
		buf_printf(&msg, "cannot read %s: the image helper was stopped by its sandbox (a forbidden system "
				 "call); the image may be hostile", label);
	else if (st > 128)
		buf_printf(&msg, "cannot read %s: the image helper crashed (%s); the image may be damaged or hostile",
			   label, strsignal(st - 128));
	else if (st > 0)
		buf_printf(&msg, "cannot read %s: the image helper failed (exit status %d)%s%s", label, st,
			   tail.len ? ": " : "", tail.s);
	else
		buf_printf(&msg, "cannot read %s: %s", label, why);
	/* a parser that dies on an image is worth an administrator's attention */
	log_warn("%s%s%s", msg.s, tail.len ? "; it said: " : "", tail.s);
	buf_adds(err, msg.s);
	buf_release(&msg);
	buf_release(&tail);
	return -EIO;
}

/* A deadline for the next frame: the inactivity timeout, or the request's end if sooner. */
static int64_t next_deadline(const struct imgc *c)
{
	int64_t d = time_mono_ms() + (int64_t)cfg.timeout_s * 1000;
	return c->deadline && c->deadline < d ? c->deadline : d;
}

/* Answer {"op":"read","off","len"} from the served device. */
static int serve_read(struct imgc *c, const struct imgd_msg *m, struct buf *err)
{
	const json_t *joff = json_object_get(m->j, "off"), *jlen = json_object_get(m->j, "len");
	const struct imgc_source *s = c->src;

	if (!s->pread || !json_is_integer(joff) || !json_is_integer(jlen) || json_integer_value(joff) < 0 ||
	    json_integer_value(jlen) < 1 || json_integer_value(jlen) > IMGD_MAX_DATA ||
	    (uint64_t)json_integer_value(joff) > s->size ||
	    (uint64_t)json_integer_value(jlen) > s->size - (uint64_t)json_integer_value(joff)) {
		buf_adds(err, "the image helper asked for a read outside the disk");
		return -EPROTO;
	}
	size_t len = (size_t)json_integer_value(jlen);
	__do_free char *data = xmalloc(len);
	int r = s->pread(s->arg, data, len, (uint64_t)json_integer_value(joff));
	if (r < 0)
		return imgd_send_error(c->sock, next_deadline(c), r, NULL, err);
	__do_json json_t *j = json_pack("{s:s}", "op", "data");
	return imgd_send(c->sock, next_deadline(c), j, data, len, NULL, 0, err);
}

int imgc_next(struct imgc *c, struct imgd_msg *m, struct buf *err)
{
	struct buf why = BUF_INIT;
	int r;

	*m = (struct imgd_msg)IMGD_MSG_INIT;
	if (c->failed) {
		buf_printf(err, "cannot read %s: the image helper already failed", c->src->label);
		return -EIO;
	}
	for (;;) {
		if ((r = imgd_recv(c->sock, next_deadline(c), m, &why)) < 0)
			break;
		if (strcmp(m->op, "read") == 0) {
			r = serve_read(c, m, &why);
			imgd_msg_release(m);
			if (r < 0)
				break;
			continue;
		}
		if (m->nfds) {
			buf_adds(&why, "image helper protocol error: it sent file descriptors");
			r = -EPROTO;
		} else if (strcmp(m->op, "error") == 0) {
			c->failed = true;
			r = imgd_msg_error(m, err);
			imgd_msg_release(m);
			buf_release(&why);
			return r;
		} else if (strcmp(m->op, "file") == 0 || strcmp(m->op, "data") == 0 || strcmp(m->op, "result") == 0) {
			buf_release(&why);
			return 0;
		} else {
			buf_printf(&why, "image helper protocol error: unexpected message '%.40s'", m->op);
			r = -EPROTO;
		}
		imgd_msg_release(m);
		break;
	}
	r = fail(c, r, why.s, err);
	buf_release(&why);
	return r;
}

int imgc_start(const struct imgc_source *src, const json_t *req, const int *fds, size_t nfds, struct imgc **out,
	       struct buf *err)
{
	struct imgc *c = xcalloc(1, sizeof(*c));
	struct imgd_msg m = IMGD_MSG_INIT;
	struct buf why = BUF_INIT;
	int all[IMGD_MAX_FDS];
	int r;

	*out = NULL;
	c->src = src;
	c->proc = (struct proc)PROC_INIT;
	c->sock = c->errpipe = -EBADF;
	if (!cfg.helper) {
		buf_printf(err, "cannot read %s: the image helper is not configured", src->label);
		free(c);
		return -ENOTSUP;
	}
	if (!json_is_object(req)) {
		buf_printf(err, "cannot read %s: no valid request for the image helper", src->label);
		free(c);
		return -EINVAL;
	}
	if (src->n + nfds > IMGD_MAX_FDS) {
		buf_printf(err, "cannot read %s: too many files for one request", src->label);
		free(c);
		return -E2BIG;
	}
	c->t_start = time_mono_ms();
	if ((r = spawn(c, &why)) < 0) {
		buf_printf(err, "cannot read %s: %s", src->label, why.s);
		buf_release(&why);
		imgc_end(c);
		return r;
	}
	/* The helper says hello once it is inside its sandbox, or why it could not get there. */
	r = imgd_recv(c->sock, time_mono_ms() + HELLO_TIMEOUT_MS, &m, &why);
	if (r == 0 && strcmp(m.op, "error") == 0) {
		buf_adds(&why, "the image helper could not enter its sandbox: ");
		imgd_msg_error(&m, &why);
		r = -EPERM;
	} else if (r == 0 && (strcmp(m.op, "hello") != 0 ||
			      json_integer_value(json_object_get(m.j, "version")) != IMGD_PROTO_VERSION ||
			      (getuid() == 0 && json_integer_value(json_object_get(m.j, "uid")) == 0))) {
		buf_adds(&why, "the image helper did not start as expected (wrong version or still root)");
		r = -EPROTO;
	}
	imgd_msg_release(&m);
	c->t_hello = time_mono_ms();
	if (r == 0) {
		__do_json json_t *j = json_deep_copy(req);
		json_object_set_new(j, "dev", source_json(src));
		for (size_t i = 0; i < src->n + nfds; i++)
			all[i] = i < src->n ? src->fds[i] : fds[i - src->n];
		r = imgd_send(c->sock, next_deadline(c), j, NULL, 0, all, src->n + nfds, &why);
	}
	if (r < 0) {
		r = fail(c, r, why.s, err);
		buf_release(&why);
		imgc_end(c);
		return r;
	}
	buf_release(&why);
	*out = c;
	return 0;
}

void imgc_end(struct imgc *c)
{
	if (!c)
		return;
	c->t_end = time_mono_ms();
	if (c->sock >= 0)
		close(c->sock);
	/* it exits when it sees the socket close; one that lingers is killed */
	reap(c, EXIT_GRACE_MS);
	if (c->t_hello)
		log_debug("image helper for %s: confined after %lld ms, answered after %lld ms, gone after %lld ms",
			  c->src->label, (long long)(c->t_hello - c->t_start), (long long)(c->t_end - c->t_start),
			  (long long)(time_mono_ms() - c->t_start));
	if (c->errpipe >= 0)
		close(c->errpipe);
	free(c);
}

int imgc_call(const struct imgc_source *src, const json_t *req, const int *fds, size_t nfds, json_t **result,
	      struct buf *err)
{
	struct imgc *c;
	struct imgd_msg m;
	int r;

	*result = NULL;
	if ((r = imgc_start(src, req, fds, nfds, &c, err)) < 0)
		return r;
	c->deadline = time_mono_ms() + CALL_TIMEOUTS * (int64_t)cfg.timeout_s * 1000;
	if ((r = imgc_next(c, &m, err)) == 0) {
		if (strcmp(m.op, "result") == 0) {
			*result = json_incref(m.j);
		} else {
			r = fail(c, -EPROTO, "image helper protocol error: it streamed data for a request that wants none",
				 err);
		}
		imgd_msg_release(&m);
	}
	imgc_end(c);
	return r;
}
