/*
 * watchdog.c - the guard's hold on the watchdog device (see watchdog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "watchdog.h"

static bool is_chardev(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

int wd_configure(struct wd *w, const char *conf, char *why, size_t n)
{
	static const char *const candidates[] = { "/dev/watchdog0", "/dev/watchdog" };

	w->path[0] = '\0';
	w->fd = -1;
	if (!conf || !strcmp(conf, "none")) {
		snprintf(why, n, "none (ha_watchdog = none): fencing is kill-only");
		return 0;
	}
	if (!strcmp(conf, "auto")) {
		for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
			if (is_chardev(candidates[i])) {
				snprintf(w->path, sizeof(w->path), "%s", candidates[i]);
				snprintf(why, n, "%s: opened while HA guests are armed here", w->path);
				return 0;
			}
		snprintf(why, n,
			 "none: this host has no watchdog device (no /dev/watchdog0; a hardware one needs its driver, "
			 "e.g. iTCO_wdt or ipmi_watchdog, else 'modprobe softdog'): fencing is kill-only");
		return 0;
	}
	if (conf[0] != '/' || strlen(conf) >= sizeof(w->path)) {
		snprintf(why, n, "unusable: ha_watchdog %.64s is not an absolute device path: fencing is kill-only",
			 conf);
		return -1;
	}
	if (!is_chardev(conf)) {
		snprintf(why, n, "unusable: %s is not a character device: fencing is kill-only", conf);
		return -1;
	}
	snprintf(w->path, sizeof(w->path), "%s", conf);
	snprintf(why, n, "%s: opened while HA guests are armed here", w->path);
	return 0;
}

int wd_arm(struct wd *w, int timeout_s, char *why, size_t n)
{
	struct watchdog_info info = { 0 };
	int t = timeout_s, e;

	if (w->fd >= 0)
		return 0;
	if (!w->path[0]) {
		snprintf(why, n, "no watchdog device");
		return -ENODEV;
	}
	if ((w->fd = open(w->path, O_WRONLY | O_CLOEXEC)) < 0) {
		e = errno;
		if (e == EBUSY)
			snprintf(why, n, "%s is busy: another program holds it (systemd's RuntimeWatchdogSec, "
					 "watchdog(8)): fencing is kill-only", w->path);
		else
			snprintf(why, n, "cannot open %s: %s: fencing is kill-only", w->path, strerror(e));
		return -e;
	}
	/* The timer runs from the open: every failure below must stop it again. */
	if (ioctl(w->fd, WDIOC_GETSUPPORT, &info) < 0) {
		e = errno;
		snprintf(why, n, "%s is not a watchdog device (%s): fencing is kill-only", w->path, strerror(e));
		close(w->fd);
		w->fd = -1;
		return -e;
	}
	snprintf(w->identity, sizeof(w->identity), "%.32s", (const char *)info.identity);
	w->magic_close = info.options & WDIOF_MAGICCLOSE;
	if (!(info.options & WDIOF_SETTIMEOUT) || ioctl(w->fd, WDIOC_SETTIMEOUT, &t) < 0 ||
	    ioctl(w->fd, WDIOC_GETTIMEOUT, &t) < 0 || t > timeout_s) {
		bool stopped = wd_disarm(w);
		snprintf(why, n, "%s (%s) cannot time out within %d s: fencing is kill-only%s", w->path, w->identity,
			 timeout_s, stopped ? "" : " (it cannot be stopped either: kept open and petted)");
		return -EINVAL;
	}
	w->timeout_s = t;
	wd_pet(w);
	return 0;
}

void wd_pet(struct wd *w)
{
	int dummy = 0;
	if (w->fd >= 0 && ioctl(w->fd, WDIOC_KEEPALIVE, &dummy) < 0)
		(void)!write(w->fd, "k", 1);
}

bool wd_disarm(struct wd *w)
{
	if (w->fd < 0)
		return true;
	if (!w->magic_close) {
		wd_pet(w);
		return false;
	}
	int off = WDIOS_DISABLECARD;
	(void)ioctl(w->fd, WDIOC_SETOPTIONS, &off);
	(void)!write(w->fd, "V", 1);
	close(w->fd);
	w->fd = -1;
	return true;
}

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool wd_wait_dead(struct wd *w, const int *pidfds, unsigned n, int ms)
{
	struct pollfd p[256];
	long long end = mono_ms() + ms;

	if (n > sizeof(p) / sizeof(p[0]))
		n = sizeof(p) / sizeof(p[0]);
	for (;;) {
		unsigned alive = 0;
		for (unsigned i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = pidfds[i], .events = POLLIN };
		int r = poll(p, n, 0);
		for (unsigned i = 0; i < n; i++)
			if (pidfds[i] >= 0 && !(r > 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))))
				alive++;
		if (!alive)
			return true;
		long long left = end - mono_ms();
		if (left <= 0)
			return false;
		if (w)
			wd_pet(w);
		(void)poll(NULL, 0, left < 100 ? (int)left : 100);
	}
}
