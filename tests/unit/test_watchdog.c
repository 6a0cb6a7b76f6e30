/*
 * test_watchdog.c - corral-guard's watchdog hold (src/guard/watchdog.c)
 * without a watchdog device (these machines have none): which device a
 * setting picks and what the status says, refusal of what is not a
 * watchdog with the device closed again, and the wait for fenced
 * processes to end, which decides whether the guard stops petting.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard/watchdog.h"

static bool chardev(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISCHR(st.st_mode);
}

static void test_configure(void **state)
{
	(void)state;
	struct wd w;
	char why[320];

	assert_int_equal(wd_configure(&w, "none", why, sizeof(why)), 0);
	assert_string_equal(w.path, "");
	assert_non_null(strstr(why, "kill-only"));

	assert_int_equal(wd_configure(&w, "auto", why, sizeof(why)), 0);
	if (chardev("/dev/watchdog0") || chardev("/dev/watchdog")) {
		assert_true(!strncmp(w.path, "/dev/watchdog", 13));
	} else {
		assert_string_equal(w.path, "");
		assert_true(!strncmp(why, "none: this host has no watchdog device", 38));
		assert_non_null(strstr(why, "softdog"));
	}

	/* a path: absolute and a character device, else unusable with the reason */
	assert_int_equal(wd_configure(&w, "dev/watchdog", why, sizeof(why)), -1);
	assert_string_equal(w.path, "");
	assert_non_null(strstr(why, "not an absolute device path"));
	assert_int_equal(wd_configure(&w, "/etc/hostname", why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/etc/hostname is not a character device"));
	assert_int_equal(wd_configure(&w, "/nonexistent/wd", why, sizeof(why)), -1);
	char long_path[200];
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(wd_configure(&w, long_path, why, sizeof(why)), -1);
	assert_string_equal(w.path, "");

	assert_int_equal(wd_configure(&w, "/dev/null", why, sizeof(why)), 0);
	assert_string_equal(w.path, "/dev/null");
	assert_int_equal(w.fd, -1);
}

/* /dev/null takes writes but no watchdog ioctl: refused, closed again, a no-op afterwards */
static void test_arm_refuses_non_watchdog(void **state)
{
	(void)state;
	struct wd w;
	char why[320];

	assert_int_equal(wd_configure(&w, "/dev/null", why, sizeof(why)), 0);
	assert_true(wd_arm(&w, WD_TIMEOUT_S, why, sizeof(why)) < 0);
	assert_int_equal(w.fd, -1);
	assert_non_null(strstr(why, "/dev/null is not a watchdog device"));
	assert_non_null(strstr(why, "kill-only"));
	wd_pet(&w);
	assert_true(wd_disarm(&w));

	assert_int_equal(wd_configure(&w, "none", why, sizeof(why)), 0);
	assert_int_equal(wd_arm(&w, WD_TIMEOUT_S, why, sizeof(why)), -ENODEV);
	assert_int_equal(w.fd, -1);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t child(int *pidfd)
{
	pid_t p = fork();
	assert_true(p >= 0);
	if (p == 0) {
		pause();
		_exit(0);
	}
	*pidfd = (int)syscall(SYS_pidfd_open, p, 0);
	assert_true(*pidfd >= 0);
	return p;
}

/* killed processes: confirmed at once (a zombie counts as ended); a live one: not, after the wait */
static void test_wait_dead(void **state)
{
	(void)state;
	int fds[3];
	pid_t pids[3];
	for (int i = 0; i < 3; i++)
		pids[i] = child(&fds[i]);

	kill(pids[0], SIGKILL);
	kill(pids[1], SIGKILL);
	int64_t t0 = now_ms();
	assert_true(wd_wait_dead(NULL, fds, 2, WD_CONFIRM_MS));
	assert_true(now_ms() - t0 < WD_CONFIRM_MS);

	int none[2] = { -1, -1 }; /* closed slots do not count */
	assert_true(wd_wait_dead(NULL, none, 2, 10));

	t0 = now_ms();
	assert_false(wd_wait_dead(NULL, fds, 3, 300));
	int64_t waited = now_ms() - t0;
	assert_true(waited >= 300 && waited < 1000);

	kill(pids[2], SIGKILL);
	for (int i = 0; i < 3; i++) {
		waitpid(pids[i], NULL, 0);
		close(fds[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configure),
		cmocka_unit_test(test_arm_refuses_non_watchdog),
		cmocka_unit_test(test_wait_dead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
