/*
 * test_proc.c - the asynchronous command runner and the process registry
 * (src/util/cmd.c, src/util/proc.c) with real programs: kept fds arrive at
 * their number and nothing else leaks into the child, the pre-exec hook runs
 * in the child (and its failure is reported), dry runs record kept fds,
 * timeouts and signals, the reaper (a double-forking child under a
 * subreaper leaves no zombie, a waited child's status still reaches its
 * waiter), and process identities (recycled or dead pids are not ours).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/proc.h"
#include "util/timeutil.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* Read p->out to EOF. */
static void read_all(int fd, struct buf *into)
{
	char tmp[512];
	ssize_t n;
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(into, tmp, (size_t)n);
}

static void test_start_pipes_and_wait(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "read x; echo \"got $x in $PWD as $CORRAL_TEST_VAR\"; exit 3");
	cmd_set_io(&c, 0, CMD_IO_PIPE, NULL);
	cmd_set_io(&c, 1, CMD_IO_PIPE, NULL);
	cmd_setenv(&c, "CORRAL_TEST_VAR", "yes");
	c.dir = "/tmp";
	assert_int_equal(cmd_start(&c, &p, &err), 0);
	assert_true(p.pid > 0);
	assert_true(p.in >= 0 && p.out >= 0);
	assert_int_equal(p.err, -EBADF);
	/* It blocks on stdin: still running. */
	assert_int_equal(proc_wait_timeout(&p, 50), -ETIMEDOUT);
	assert_int_equal(write(p.in, "hi\n", 3), 3);
	read_all(p.out, &out);
	assert_string_equal(out.s, "got hi in /tmp as yes\n");
	assert_int_equal(proc_wait(&p), 3);
	assert_int_equal(proc_wait(&p), 3); /* repeatable */
	/* Reaped: no signal may go to that pid any more. */
	assert_int_equal(proc_signal(&p, SIGTERM), -ESRCH);
	proc_release(&p);
	assert_int_equal(p.pid, 0);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
}

static void test_signal_and_timeout(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;

	cmd_add(&c, "sleep");
	cmd_add(&c, "30");
	c.new_session = true;
	assert_int_equal(cmd_start(&c, &p, NULL), 0);
	/* setsid: its own session and process group */
	assert_int_equal(getsid(p.pid), p.pid);
	int64_t t0 = time_mono_ms();
	assert_int_equal(proc_wait_timeout(&p, 100), -ETIMEDOUT);
	assert_true(time_mono_ms() - t0 >= 100);
	assert_int_equal(proc_signal(&p, SIGKILL), 0);
	assert_int_equal(proc_wait_timeout(&p, 5000), 128 + SIGKILL);
	proc_release(&p);
	cmd_release(&c);
}

/* The child's open fds, as listed by ls in /proc/self/fd (ls's own dir fd included). */
static void child_fds(struct cmd *c, struct buf *out)
{
	cmd_add(c, "ls");
	cmd_add(c, "/proc/self/fd");
	assert_int_equal(cmd_run(c, out, NULL), 0);
}

static bool has_line(const char *s, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = s; (p = strstr(p, line)); p += n)
		if ((p == s || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static void test_kept_fds(void **state)
{
	(void)state;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct buf out = BUF_INIT;
	int pa[2], pb[2];
	char num[16];

	/* A leaked fd: opened without O_CLOEXEC, never kept. */
	int leak = open("/dev/null", O_RDONLY);
	assert_true(leak >= 3);
	/* Two pipes whose write ends go to fds 5 and (swapped on purpose onto
	 * each other's numbers when possible) 6. */
	assert_int_equal(pipe2(pa, O_CLOEXEC), 0);
	assert_int_equal(pipe2(pb, O_CLOEXEC), 0);
	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "echo five >&5; echo six >&6");
	assert_int_equal(cmd_keep_fd(&c, pa[1], 5), 0);
	assert_int_equal(cmd_keep_fd(&c, pb[1], 6), 0);
	assert_int_equal(cmd_keep_fd(&c, pb[1], 6), -EINVAL); /* target taken */
	assert_int_equal(cmd_keep_fd(&c, pb[1], 2), -EINVAL); /* stdio is not a target */
	assert_int_equal(cmd_start(&c, &p, NULL), 0);
	close(pa[1]);
	close(pb[1]);
	assert_int_equal(proc_wait(&p), 0);
	read_all(pa[0], &out);
	assert_string_equal(out.s, "five\n");
	buf_reset(&out);
	read_all(pb[0], &out);
	assert_string_equal(out.s, "six\n");
	proc_release(&p);
	cmd_release(&c);
	close(pa[0]);
	close(pb[0]);

	/* A source fd whose number is another kept fd's target is not clobbered. */
	int x = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	int y = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(x >= 3 && y >= 3);
	assert_int_equal(cmd_keep_fd(&c, x, y), 0); /* /dev/zero onto y's number */
	assert_int_equal(cmd_keep_fd(&c, y, x), 0); /* /dev/null onto x's number */
	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "readlink /proc/self/fd/$0; readlink /proc/self/fd/$1");
	snprintf(num, sizeof(num), "%d", y);
	cmd_add(&c, num);
	snprintf(num, sizeof(num), "%d", x);
	cmd_add(&c, num);
	buf_reset(&out);
	assert_int_equal(cmd_run(&c, &out, NULL), 0);
	assert_string_equal(out.s, "/dev/zero\n/dev/null\n");
	cmd_release(&c);
	close(x);
	close(y);

	/* Nothing but 0-2, the kept fd and ls's own directory fd reaches the child. */
	assert_int_equal(pipe2(pa, O_CLOEXEC), 0);
	assert_int_equal(cmd_keep_fd(&c, pa[0], 9), 0);
	buf_reset(&out);
	child_fds(&c, &out);
	assert_true(has_line(out.s, "9"));
	snprintf(num, sizeof(num), "%d", leak);
	if (leak != 3) /* ls's directory fd is the lowest free one, 3 */
		assert_false(has_line(out.s, num));
	cmd_release(&c);
	close(pa[0]);
	close(pa[1]);
	close(leak);
	buf_release(&out);
}

struct hook_arg {
	const char *path; /* created by the hook */
	int fail;         /* errno to fail with, 0 to succeed */
};

static int test_hook(void *arg, const char **what)
{
	struct hook_arg *h = arg;
	if (h->fail) {
		*what = "test step";
		return -h->fail;
	}
	int fd = open(h->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		*what = "creating the marker";
		return -errno;
	}
	close(fd);
	return 0;
}

static void test_pre_exec_hook(void **state)
{
	(void)state;
	char dir[] = "/tmp/corral-proc-XXXXXX";
	assert_non_null(mkdtemp(dir));
	__do_free char *marker = xasprintf("%s/marker", dir);
	__do_free char *log = xasprintf("%s/log", dir);
	struct hook_arg h = { marker, 0 };
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct buf err = BUF_INIT, got = BUF_INIT;

	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "echo out; echo err >&2");
	cmd_set_io(&c, 1, CMD_IO_FILE, log);
	cmd_set_io(&c, 2, CMD_IO_FILE, log);
	c.pre_exec = test_hook;
	c.pre_exec_arg = &h;
	assert_int_equal(cmd_start(&c, &p, &err), 0);
	assert_int_equal(proc_wait(&p), 0);
	proc_release(&p);
	assert_true(fs_exists(marker));
	/* Both streams appended to the same file. */
	assert_int_equal(fs_read_file(log, 4096, &got), 0);
	assert_string_equal(got.s, "out\nerr\n");

	/* A failing hook: cmd_start fails with its errno and step, nothing runs. */
	h.fail = EACCES;
	assert_int_equal(cmd_start(&c, &p, &err), -EACCES);
	assert_contains(err.s, "test step");
	assert_int_equal(p.pid, 0);
	buf_reset(&got);
	assert_int_equal(fs_read_file(log, 4096, &got), 0);
	assert_string_equal(got.s, "out\nerr\n");

	/* A missing program is reported by cmd_start itself. */
	cmd_release(&c);
	cmd_add(&c, "corral-no-such-program");
	buf_reset(&err);
	assert_int_equal(cmd_start(&c, &p, &err), -ENOENT);
	assert_contains(err.s, "corral-no-such-program");
	cmd_release(&c);

	unlink(marker);
	unlink(log);
	rmdir(dir);
	buf_release(&err);
	buf_release(&got);
}

static void test_dry_run_records_fds(void **state)
{
	(void)state;
	struct buf rec = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;

	cmd_add(&c, "qemu-system-x86_64");
	cmd_add(&c, "-add-fd");
	cmd_add(&c, "fd=3,set=1");
	assert_int_equal(cmd_keep_fd(&c, 0, 3), 0);
	cmd_set_dry_run(&rec, 0);
	assert_int_equal(cmd_start(&c, &p, NULL), 0);
	assert_int_equal(p.pid, 0);
	assert_int_equal(proc_wait(&p), 0);
	proc_release(&p);
	cmd_set_dry_run(&rec, 7);
	assert_int_equal(cmd_run(&c, NULL, NULL), 7);
	cmd_set_dry_run(NULL, 0);
	assert_string_equal(rec.s, "qemu-system-x86_64 -add-fd fd=3,set=1 [fd 3]\n"
				   "qemu-system-x86_64 -add-fd fd=3,set=1 [fd 3]\n");
	cmd_release(&c);
	buf_release(&rec);
}

/* Zombie children of this process, from /proc. */
static int count_zombie_children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	assert_non_null(d);
	while ((de = readdir(d))) {
		char path[300], state;
		int ppid;
		struct buf b = BUF_INIT;
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (fs_read_file(path, 4096, &b) == 0) {
			const char *p = strrchr(b.s, ')');
			if (p && sscanf(p + 1, " %c %d", &state, &ppid) == 2 && ppid == getpid() && state == 'Z')
				n++;
		}
		buf_release(&b);
	}
	closedir(d);
	return n;
}

static int subreaper_setup(void **state)
{
	(void)state;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return -1;
	return proc_reaper_start();
}

static int subreaper_teardown(void **state)
{
	(void)state;
	proc_reaper_stop();
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	return 0;
}

static void test_reaper(void **state)
{
	(void)state;
	unsigned long orphans0 = proc_reaper_orphans();
	enum { N = 12 };
	struct proc p[N];
	struct cmd c = CMD_INIT;

	/* Each child forks a grandchild and exits at once: the grandchild is
	 * orphaned, becomes our child (subreaper) and exits a bit later, like
	 * QEMU's -daemonize intermediate or qemu-nbd --fork. */
	cmd_add(&c, "sh");
	cmd_add(&c, "-c");
	cmd_add(&c, "sleep 0.2 & exit 5");
	for (int i = 0; i < N; i++) {
		p[i] = (struct proc)PROC_INIT;
		assert_int_equal(cmd_start(&c, &p[i], NULL), 0);
	}
	/* Every waiter gets its own child's status, though the reaper reaps. */
	for (int i = 0; i < N; i++) {
		assert_int_equal(proc_wait(&p[i]), 5);
		proc_release(&p[i]);
	}
	/* A released, still running child is reaped when it exits. */
	struct cmd s = CMD_INIT;
	struct proc q = PROC_INIT;
	cmd_add(&s, "sleep");
	cmd_add(&s, "0.1");
	assert_int_equal(cmd_start(&s, &q, NULL), 0);
	proc_release(&q);
	/* Synchronous runs go through the registry too. */
	assert_int_equal(cmd_run(&c, NULL, NULL), 5);

	int64_t deadline = time_mono_ms() + 5000;
	while (proc_reaper_orphans() - orphans0 < N + 1 && time_mono_ms() < deadline)
		time_sleep_ms(20);
	assert_true(proc_reaper_orphans() - orphans0 >= N + 1);
	deadline = time_mono_ms() + 2000;
	while (count_zombie_children() > 0 && time_mono_ms() < deadline)
		time_sleep_ms(20);
	assert_int_equal(count_zombie_children(), 0);
	cmd_release(&c);
	cmd_release(&s);
}

static void test_identity(void **state)
{
	(void)state;
	char dir[] = "/tmp/corral-ident-XXXXXX";
	assert_non_null(mkdtemp(dir));
	__do_free char *pidfile = xasprintf("%s/x.pid", dir);
	__do_free char *link = xasprintf("%s/link.pid", dir);
	struct proc_identity me, back, dead;
	struct buf b = BUF_INIT;

	assert_int_equal(proc_identity_get(getpid(), &me), 0);
	assert_true(me.start > 0);
	assert_true(strlen(me.boot) > 10);
	assert_true(proc_identity_alive(&me));
	assert_int_equal(proc_identity_save(pidfile, &me), 0);
	/* Line 1 is the bare pid, like every pid file. */
	assert_int_equal(fs_read_file(pidfile, 256, &b), 0);
	assert_int_equal(atoi(b.s), (int)getpid());
	assert_int_equal(proc_identity_load(pidfile, &back), 0);
	assert_int_equal(back.pid, me.pid);
	assert_true(back.start == me.start);
	assert_string_equal(back.boot, me.boot);
	assert_int_equal(proc_identity_signal(&back, 0), 0);

	/* Same pid, another start time: a recycled pid is not ours. */
	back.start++;
	assert_false(proc_identity_alive(&back));
	assert_int_equal(proc_identity_signal(&back, SIGTERM), -ESRCH);
	/* Another boot: not ours either. */
	back = me;
	back.boot[0] = back.boot[0] == 'a' ? 'b' : 'a';
	assert_false(proc_identity_alive(&back));

	/* A process that exited and was reaped. */
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	cmd_add(&c, "sleep");
	cmd_add(&c, "5");
	assert_int_equal(cmd_start(&c, &p, NULL), 0);
	assert_int_equal(proc_identity_get(p.pid, &dead), 0);
	assert_true(proc_identity_alive(&dead));
	assert_int_equal(proc_identity_signal(&dead, SIGKILL), 0);
	assert_int_equal(proc_wait(&p), 128 + SIGKILL);
	assert_false(proc_identity_alive(&dead));
	assert_int_equal(proc_identity_signal(&dead, SIGKILL), -ESRCH);
	assert_int_equal(proc_identity_get(dead.pid, &back), -ESRCH);
	proc_release(&p);
	cmd_release(&c);

	/* A legacy pid file: pid only, start unknown. */
	__do_free char *legacy = xasprintf("%d\n", (int)getpid());
	assert_int_equal(fs_write_file_atomic(pidfile, legacy, strlen(legacy), 0644), 0);
	assert_int_equal(proc_identity_load(pidfile, &back), 0);
	assert_int_equal(back.pid, getpid());
	assert_true(back.start == 0);
	assert_true(proc_identity_alive(&back));
	/* Garbage and symlinks are refused. */
	assert_int_equal(fs_write_file_atomic(pidfile, "x\n", 2, 0644), 0);
	assert_int_equal(proc_identity_load(pidfile, &back), -EINVAL);
	assert_int_equal(symlink(pidfile, link), 0);
	assert_int_equal(proc_identity_load(link, &back), -EPERM);

	unlink(link);
	unlink(pidfile);
	rmdir(dir);
	buf_release(&b);
}

/* Helpers tracked in a directory: their pid file lives as long as they do,
 * and a sweep (a restarted corrald) ends the ones left, never a recycled pid. */
static void test_helper_track(void **state)
{
	(void)state;
	char dir[] = "/tmp/corral-track-XXXXXX";
	assert_non_null(mkdtemp(dir));
	proc_track_dir_set(dir);

	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct proc_identity id, me;
	cmd_add(&c, "true");
	c.helper = true;
	assert_int_equal(cmd_run(&c, NULL, NULL), 0);
	cmd_release(&c);
	assert_int_equal(proc_track_sweep(dir), 0); /* nothing left behind by a helper that ended */

	c = (struct cmd)CMD_INIT;
	cmd_add(&c, "sleep");
	cmd_add(&c, "30");
	c.helper = true;
	assert_int_equal(cmd_start(&c, &p, NULL), 0);
	__do_free char *pidfile = xasprintf("%s/%d.pid", dir, (int)p.pid);
	assert_int_equal(proc_identity_load(pidfile, &id), 0);
	assert_int_equal(id.pid, p.pid);
	assert_true(id.start > 0);

	/* A file naming a live pid with another start time: a recycled pid, left alone. */
	assert_int_equal(proc_identity_get(getpid(), &me), 0);
	me.start++;
	__do_free char *recycled = xasprintf("%s/%d.pid", dir, (int)getpid());
	assert_int_equal(proc_identity_save(recycled, &me), 0);

	proc_track_dir_set(NULL); /* as if corrald had died: the next one sweeps */
	assert_int_equal(proc_track_sweep(dir), 1);
	assert_int_equal(proc_wait(&p), 128 + SIGTERM);
	assert_false(fs_exists(pidfile) > 0);
	assert_false(fs_exists(recycled) > 0);
	proc_release(&p);
	cmd_release(&c);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_pipes_and_wait),
		cmocka_unit_test(test_signal_and_timeout),
		cmocka_unit_test(test_kept_fds),
		cmocka_unit_test(test_pre_exec_hook),
		cmocka_unit_test(test_dry_run_records_fds),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_helper_track),
		cmocka_unit_test_setup_teardown(test_reaper, subreaper_setup, subreaper_teardown),
		/* The same runner tests again with the reaper doing the reaping. */
		cmocka_unit_test_setup_teardown(test_start_pipes_and_wait, subreaper_setup, subreaper_teardown),
		cmocka_unit_test_setup_teardown(test_signal_and_timeout, subreaper_setup, subreaper_teardown),
		cmocka_unit_test_setup_teardown(test_identity, subreaper_setup, subreaper_teardown),
		cmocka_unit_test_setup_teardown(test_helper_track, subreaper_setup, subreaper_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
