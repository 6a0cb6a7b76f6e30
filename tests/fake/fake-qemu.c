/*
 * fake-qemu.c - a stand-in for qemu-system-x86_64 that corrald's runtime
 * (src/qemu/runtime.c) starts in the service-layer unit tests.
 *
 * It takes the command line corrald builds (src/qemu/argv.c), reads just
 * enough of it (the QMP socket of `-chardev socket,id=qmp,path=...`, the
 * VM's `-name guest=...`, `-S`), listens on that socket as QEMU does
 * (server=on,wait=off) and answers QMP by replaying a transcript recorded
 * from a real QEMU (tests/data/qmp/NAME.replies, tests/data/qmp/record.py):
 * for each command it sends what QEMU sent after the recorded command with
 * the same name and arguments (file names aside: paths differ from run to
 * run), with the client's "id" and the current time put in.  Within those lines, what came after the reply
 * is what the guest did in response (the SHUTDOWN and STOP a power button
 * press leads to).  It keeps the run state the events it sends imply, to
 * pick the recorded query-status reply for that state, and exits after
 * answering `quit`, as QEMU does.  A command the transcript does not hold
 * (or holds it with other arguments) gets a GenericError naming it, so a
 * test that needs more, or a client that sends something else, fails visibly.
 *
 * Which transcript: $CORRAL_FAKE_QEMU_REPLIES, else FAKE_QEMU_REPLIES
 * (tests/meson.build: tests/data/qmp/lifecycle.replies).  How the guest
 * behaves is chosen by the VM's name, so one test process can have both:
 *   deaf*   the guest reacts to nothing: only what preceded a reply is sent
 *           (after system_powerdown the POWERDOWN, but no SHUTDOWN; after
 *           device_del no DEVICE_DELETED).
 *   other   the guest does what the recorded guest did.
 * SIGUSR1 makes the guest power itself off: the fake sends what the recorded
 * guest did after system_powerdown (SHUTDOWN guest-shutdown, STOP) unasked.
 * `--version` prints a QEMU-like version line (svc_init asks).  It exits on
 * its own when its parent goes (orphaned), so a failed test leaves nothing.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#ifndef FAKE_QEMU_REPLIES
#define FAKE_QEMU_REPLIES ""
#endif

/* One recorded command and what QEMU sent until the next command. */
struct exchange {
	const char *execute;
	json_t *arguments;  /* NULL: none */
	json_t *before;     /* array: events before the reply */
	json_t *reply;      /* {"return"|"error"} or NULL */
	json_t *after;      /* array: what the guest did in response */
};

struct fake {
	json_t *greeting;
	struct exchange *ex;
	size_t nex;
	char *qmp_path;
	char *name;
	bool deaf;
	char status[32];    /* prelaunch, running, paused, shutdown */
	json_t *lines;      /* owns every parsed line */
};

static volatile sig_atomic_t guest_poweroff;

static void on_sigusr1(int sig)
{
	(void)sig;
	guest_poweroff = 1;
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "fake-qemu: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

/* "a,,b" (QEMU option escaping, argv.c opt_escape) up to the next lone comma. */
static char *opt_value(const char *s)
{
	struct buf b = BUF_INIT;
	for (; *s; s++) {
		if (*s == ',' && s[1] == ',')
			s++;
		else if (*s == ',')
			break;
		buf_addch(&b, *s);
	}
	return buf_detach(&b);
}

static void parse_argv(struct fake *f, int argc, char **argv)
{
	snprintf(f->status, sizeof(f->status), "running");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "-S") == 0)
			snprintf(f->status, sizeof(f->status), "prelaunch");
		else if (strcmp(a, "-name") == 0 && next && strncmp(next, "guest=", 6) == 0) {
			free(f->name);
			f->name = opt_value(next + 6);
		}
		else if (strcmp(a, "-chardev") == 0 && next && strncmp(next, "socket,id=qmp,", 14) == 0) {
			const char *p = strstr(next, ",path=");
			if (p) {
				free(f->qmp_path);
				f->qmp_path = opt_value(p + 6);
			}
		}
	}
	if (!f->qmp_path)
		die("%s", "no -chardev socket,id=qmp,path=... on the command line");
	if (!f->name)
		f->name = xstrdup("");
	f->deaf = strncmp(f->name, "deaf", 4) == 0;
}

/* The transcript, cut into exchanges (see struct exchange). */
static void load_transcript(struct fake *f, const char *path)
{
	struct buf b = BUF_INIT;
	if (fs_read_file(path, 16 << 20, &b) < 0)
		die("cannot read transcript %s", path);
	f->lines = json_array();
	struct exchange *cur = NULL;
	for (char *line = b.s, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		json_t *m = json_loads(line, 0, NULL);
		if (!json_is_object(m))
			die("bad line in transcript: %s", line);
		json_array_append_new(f->lines, m);
		if (json_object_get(m, "QMP")) {
			f->greeting = m;
		} else if (json_object_get(m, "execute")) {
			f->ex = xrealloc(f->ex, (f->nex + 1) * sizeof(*f->ex));
			cur = &f->ex[f->nex++];
			*cur = (struct exchange){ .execute = json_string_value(json_object_get(m, "execute")),
						  .arguments = json_object_get(m, "arguments"),
						  .before = json_array(), .after = json_array() };
			json_array_append_new(f->lines, cur->before);
			json_array_append_new(f->lines, cur->after);
		} else if (!cur) {
			continue; /* events before the first command: nothing asked for them */
		} else if (json_object_get(m, "event")) {
			json_array_append(cur->reply ? cur->after : cur->before, m);
		} else if (!cur->reply) {
			cur->reply = m;
		}
	}
	buf_release(&b);
	if (!f->greeting)
		die("transcript %s has no QMP greeting", path);
}

/* Are the arguments `got` the recorded ones?  Any "filename" matches any string. */
static bool args_match(const json_t *rec, const json_t *got)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!rec || !got)
		return !rec && !got;
	if (json_is_object(rec)) {
		if (!json_is_object(got) || json_object_size(rec) != json_object_size(got))
			return false;
		json_object_foreach((json_t *)rec, key, v) {
			json_t *g = json_object_get(got, key);
			if (strcmp(key, "filename") == 0 ? !json_is_string(g) : !args_match(v, g))
				return false;
		}
		return true;
	}
	if (json_is_array(rec)) {
		if (!json_is_array(got) || json_array_size(rec) != json_array_size(got))
			return false;
		json_array_foreach(rec, i, v)
			if (!args_match(v, json_array_get(got, i)))
				return false;
		return true;
	}
	return json_equal(rec, got);
}

/* The recorded exchange for command `execute` with `args` (query-status: for
 * the present state); NULL if none. */
static const struct exchange *lookup(const struct fake *f, const char *execute, const json_t *args)
{
	bool status = strcmp(execute, "query-status") == 0;
	for (size_t i = 0; i < f->nex; i++) {
		const struct exchange *e = &f->ex[i];
		if (strcmp(e->execute, execute) != 0 || !args_match(e->arguments, args))
			continue;
		if (status) {
			const char *st = json_string_value(json_object_get(json_object_get(e->reply, "return"), "status"));
			if (!st || strcmp(st, f->status) != 0)
				continue;
		}
		return e;
	}
	return NULL;
}

static void send_msg(int fd, json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT);
	struct buf b = BUF_INIT;
	buf_adds(&b, s);
	buf_addch(&b, '\n');
	for (size_t off = 0; off < b.len;) {
		ssize_t n = write(fd, b.s + off, b.len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf_release(&b);
	free(s);
}

/* An event as recorded, stamped now; the run state follows it. */
static void send_event(struct fake *f, int fd, const json_t *ev)
{
	json_t *m = json_deep_copy(ev);
	int64_t now = time_wall_ms();
	const char *name = json_string_value(json_object_get(m, "event"));
	json_object_set_new(m, "timestamp", json_pack("{s:I,s:I}", "seconds", (json_int_t)(now / 1000),
						      "microseconds", (json_int_t)(now % 1000 * 1000)));
	if (strcmp(name, "RESUME") == 0)
		snprintf(f->status, sizeof(f->status), "running");
	else if (strcmp(name, "SHUTDOWN") == 0)
		snprintf(f->status, sizeof(f->status), "shutdown");
	else if (strcmp(name, "STOP") == 0 && strcmp(f->status, "shutdown") != 0)
		snprintf(f->status, sizeof(f->status), "paused");
	send_msg(fd, m);
	json_decref(m);
}

/* Answer one command; true when it was quit (QEMU exits after answering). */
static bool answer(struct fake *f, int fd, json_t *cmd)
{
	const char *execute = json_string_value(json_object_get(cmd, "execute"));
	json_t *id = json_object_get(cmd, "id");
	const struct exchange *e = execute ? lookup(f, execute, json_object_get(cmd, "arguments")) : NULL;
	json_t *reply;
	size_t i;
	json_t *ev;

	if (!e || !e->reply) {
		char desc[1024];
		char *a = json_dumps(json_object_get(cmd, "arguments"), JSON_COMPACT);
		snprintf(desc, sizeof(desc), "fake-qemu: no recorded reply for '%s' with arguments %s in state %s",
			 execute ? execute : "?", a ? a : "none", f->status);
		free(a);
		fprintf(stderr, "%s\n", desc);
		reply = json_pack("{s:{s:s,s:s}}", "error", "class", "GenericError", "desc", desc);
		if (id)
			json_object_set(reply, "id", id);
		send_msg(fd, reply);
		json_decref(reply);
		return false;
	}
	json_array_foreach(e->before, i, ev)
		send_event(f, fd, ev);
	reply = json_deep_copy(e->reply);
	if (id)
		json_object_set(reply, "id", id);
	else
		json_object_del(reply, "id");
	send_msg(fd, reply);
	json_decref(reply);
	if (!f->deaf)
		json_array_foreach(e->after, i, ev)
			send_event(f, fd, ev);
	return strcmp(execute, "quit") == 0;
}

/* SIGUSR1 came: the guest powers off on its own (see the file comment). */
static void guest_poweroff_send(struct fake *f, int fd)
{
	const struct exchange *e = lookup(f, "system_powerdown", NULL);
	size_t i;
	json_t *ev;
	guest_poweroff = 0;
	if (!e) {
		fprintf(stderr, "fake-qemu: no recorded system_powerdown to take a guest power-off from\n");
		return;
	}
	json_array_foreach(e->after, i, ev)
		send_event(f, fd, ev);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || strlen(path) >= sizeof(sa.sun_path))
		die("cannot make a socket for %s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		die("cannot listen on %s", path);
	return fd;
}

/* Serve one QMP client until it goes (false) or quit was answered (true). */
static bool serve(struct fake *f, int fd, pid_t parent)
{
	struct buf in = BUF_INIT;
	char tmp[4096];
	bool quit = false;

	send_msg(fd, f->greeting);
	while (!quit) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 500);
		if (getppid() != parent)
			exit(0);
		if (guest_poweroff)
			guest_poweroff_send(f, fd);
		if (n <= 0)
			continue;
		ssize_t got = read(fd, tmp, sizeof(tmp));
		if (got <= 0)
			break;
		buf_add(&in, tmp, (size_t)got);
		char *nl;
		while (!quit && (nl = memchr(in.s, '\n', in.len))) {
			size_t len = (size_t)(nl - in.s) + 1;
			json_t *cmd = json_loadb(in.s, len, 0, NULL);
			if (cmd)
				quit = answer(f, fd, cmd);
			json_decref(cmd);
			memmove(in.s, in.s + len, in.len - len);
			in.len -= len;
			in.s[in.len] = '\0';
		}
	}
	buf_release(&in);
	return quit;
}

int main(int argc, char **argv)
{
	struct fake f = { 0 };
	const char *path = getenv("CORRAL_FAKE_QEMU_REPLIES");

	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("QEMU emulator version 7.2.22 (corral fake-qemu)\n");
		return 0;
	}
	struct sigaction sa = { .sa_handler = on_sigusr1 }; /* no SA_RESTART: poll returns at once */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	pid_t parent = getppid();
	parse_argv(&f, argc, argv);
	load_transcript(&f, path && *path ? path : FAKE_QEMU_REPLIES);
	int lfd = listen_on(f.qmp_path);
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		int n = poll(&p, 1, 500);
		if (getppid() != parent)
			break;
		if (n <= 0)
			continue;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		bool quit = serve(&f, fd, parent);
		close(fd);
		if (quit)
			break;
	}
	close(lfd);
	unlink(f.qmp_path);
	json_decref(f.lines);
	free(f.ex);
	free(f.qmp_path);
	free(f.name);
	return 0;
}
