/*
 * ct_debian.c - the debian template (`ct create --template debian
 * [--release R]`): a minimal Debian built with debootstrap (Debian's
 * package, run as an argv vector) from the host's own Debian mirror, kept
 * as a tarball per release and architecture in corrald's cache
 * (<state_dir>/cache/ct-debian-RELEASE-ARCH.tar.zst), so that the next
 * container of that release only unpacks it (ct_create.c, lxc/untar.c).
 *
 * The base (what lxc-debian and Incus' Debian images do, smaller): the
 * minbase variant with systemd as init (systemd-sysv, dbus), systemd-networkd
 * asking DHCP on every eth* (corral networks' dnsmasq answers) and
 * systemd-resolved for the DNS servers the lease names, iproute2 and
 * netbase; sys-kernel-debug.mount masked (a container may not mount
 * debugfs: the unit would fail and the system report "degraded").  systemd
 * knows it runs in a container (liblxc sets container=lxc) and starts a
 * getty on /dev/console by itself; it halts on SIGRTMIN+3 (ct.c gives
 * liblxc that signal: bookworm's systemd has no unit for SIGPWR in a
 * container).  Per container only /etc/hostname and /etc/hosts are
 * written (ct_create.c).
 * root has no password: set one with `ct exec NAME -- passwd`.
 *
 * The build runs in <cache>/.build-debian-RELEASE-ARCH: debootstrap's
 * output lines become the job's phases; a cancel kills its whole session
 * (debootstrap, dpkg in the chroot); the tarball is written next to the
 * final name and renamed into place, so the cache holds whole tarballs
 * only.  What a failure, a cancel or a killed corrald leaves (debootstrap's
 * /proc and /sys mounts inside the tree, the tree) is unmounted and removed
 * (then, or at the next corrald's start, ct_debian_leftovers_clean).
 * One build at a time (a second create of the same release waits for the
 * first and uses its tarball).  A base older than ct_base_days (corrald.conf)
 * is built again by the next create; if that build fails, the old one serves.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "service/internal.h"
#include "core/job.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"

#define DEBOOTSTRAP "debootstrap"
#define DEFAULT_MIRROR "http://deb.debian.org/debian"
#define BASE_PACKAGES "systemd-sysv,dbus,systemd-resolved,iproute2,netbase"

/* systemd-networkd: DHCP on every NIC corral gives the container */
static const char network_unit[] = "# corral: a DHCP lease on every NIC (corral networks run dnsmasq)\n"
				   "[Match]\n"
				   "Name=eth*\n"
				   "\n"
				   "[Network]\n"
				   "DHCP=ipv4\n";

static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;

static char *cache_dir(void) { return xasprintf("%s/cache", svc_cfg.state_dir); }

/* ---- the host's Debian mirror ---- */

static bool debian_suite(const char *s)
{
	static const char *const suites[] = { CT_DEBIAN_RELEASES, "stable", "oldstable", "testing", "unstable", "sid" };
	for (size_t i = 0; i < ARRAY_SIZE(suites); i++)
		if (strcmp(s, suites[i]) == 0)
			return true;
	return false;
}

static bool uri_ok(const char *u)
{
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0 && strncmp(u, "file:/", 6) != 0)
		return false;
	for (; *u; u++)
		if (*u <= ' ' || *u == '\'' || *u == '"' || *u == '\\')
			return false;
	return true;
}

/* The next whitespace-separated word of *s (NUL-terminated in place), or NULL. */
static char *word(char **s)
{
	char *w = *s + strspn(*s, " \t");
	if (!*w)
		return NULL;
	char *e = w + strcspn(w, " \t");
	*s = *e ? e + 1 : e;
	*e = '\0';
	return w;
}

/* The next line of *s (NUL-terminated in place), or NULL at the end. */
static char *next_line(char **s)
{
	if (!*s)
		return NULL;
	char *line = *s, *nl = strchr(line, '\n');
	*s = nl ? nl + 1 : NULL;
	if (nl)
		*nl = '\0';
	return line;
}

/* One-line style: "deb [opts] URI SUITE COMPONENTS...": the first URI whose SUITE is a Debian release. */
static char *mirror_from_list(char *text)
{
	for (char *line, *rest = text; (line = next_line(&rest));) {
		line[strcspn(line, "#")] = '\0';
		char *type = word(&line), *uri = word(&line);
		if (uri && uri[0] == '[') { /* "[opts]": words up to the one ending them */
			while (uri && !strchr(uri, ']'))
				uri = word(&line);
			uri = uri ? word(&line) : NULL;
		}
		char *suite = uri ? word(&line) : NULL;
		if (type && suite && strcmp(type, "deb") == 0 && debian_suite(suite) && uri_ok(uri))
			return xstrdup(uri);
	}
	return NULL;
}

/* deb822 style (*.sources): in a stanza of Types: deb with a Debian release in Suites:, its first URI. */
static char *mirror_from_sources(char *text)
{
	char *uri = NULL;
	bool deb = false, suite = false;
	for (char *line, *rest = text;;) {
		line = next_line(&rest);
		if (line && line[strspn(line, " \t")] == '#')
			continue; /* a comment, not the end of a stanza */
		char *v = line ? strchr(line, ':') : NULL;
		if (v) {
			*v++ = '\0';
			if (strcasecmp(line, "Types") == 0)
				for (char *w; (w = word(&v));)
					deb = deb || strcmp(w, "deb") == 0;
			else if (strcasecmp(line, "Suites") == 0)
				for (char *w; (w = word(&v));)
					suite = suite || debian_suite(w);
			else if (strcasecmp(line, "URIs") == 0 && !uri) {
				char *w = word(&v);
				if (w && uri_ok(w))
					uri = xstrdup(w);
			}
		} else if (!line || !line[strspn(line, " \t")]) { /* a stanza ends */
			if (deb && suite && uri)
				return uri;
			free(uri);
			uri = NULL;
			deb = suite = false;
			if (!line)
				return NULL;
		}
	}
}

char *ct_debian_mirror_of(char *text, bool deb822) { return deb822 ? mirror_from_sources(text) : mirror_from_list(text); }

/* The mirror apt uses here (sources.list, then sources.list.d), else deb.debian.org. */
static char *host_mirror(void)
{
	__do_buf struct buf b = BUF_INIT;
	char *m = NULL;
	if (fs_read_file("/etc/apt/sources.list", 1 << 20, &b) == 0 && b.s && (m = ct_debian_mirror_of(b.s, false)))
		return m;
	DIR *dir = opendir("/etc/apt/sources.list.d");
	struct dirent *de;
	char *best = NULL, *bestname = NULL;
	while (dir && (de = readdir(dir))) {
		size_t n = strlen(de->d_name);
		bool list = n > 5 && strcmp(de->d_name + n - 5, ".list") == 0;
		bool sources = n > 8 && strcmp(de->d_name + n - 8, ".sources") == 0;
		if (!list && !sources)
			continue;
		/* files in name order, as apt reads them */
		if (bestname && strcmp(de->d_name, bestname) > 0)
			continue;
		__do_free char *p = xasprintf("/etc/apt/sources.list.d/%s", de->d_name);
		struct buf t = BUF_INIT;
		if (fs_read_file(p, 1 << 20, &t) == 0 && t.s && (m = ct_debian_mirror_of(t.s, !list))) {
			free(best);
			free(bestname);
			best = m;
			bestname = xstrdup(de->d_name);
		}
		buf_release(&t);
	}
	if (dir)
		closedir(dir);
	free(bestname);
	return best ? best : xstrdup(DEFAULT_MIRROR);
}

/* dpkg's name for this host's architecture (amd64, arm64...). */
static int host_arch(char out[32], struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf o = BUF_INIT;
	cmd_add(&c, "dpkg");
	cmd_add(&c, "--print-architecture");
	int r = cmd_run(&c, &o, NULL);
	cmd_release(&c);
	size_t n = o.s ? strspn(o.s, "abcdefghijklmnopqrstuvwxyz0123456789") : 0;
	if (r == 0 && n > 0 && n < 32) {
		memcpy(out, o.s, n);
		out[n] = '\0';
		r = 0;
	} else {
		buf_adds(err, "cannot tell this host's Debian architecture (dpkg --print-architecture)");
		r = -EIO;
	}
	buf_release(&o);
	return r;
}

/* ---- leftovers: debootstrap's mounts in the tree, the tree ---- */

/* mountinfo's octal escapes (\040 for a space) undone in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Every mount below dir, deepest (last mounted) first, detached. */
static void umount_under(const char *dir)
{
	__do_buf struct buf b = BUF_INIT;
	char *mps[256];
	int n = 0;
	size_t len = strlen(dir);
	if (fs_read_file("/proc/self/mountinfo", 4 << 20, &b) < 0 || !b.s)
		return;
	for (char *line = b.s, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		char *mp = NULL;
		int k = 0;
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": the fifth word */
		for (char *w; k < 5 && (w = word(&line)); k++)
			mp = w;
		if (k < 5 || n >= 256)
			continue;
		unescape(mp);
		if (strncmp(mp, dir, len) == 0 && mp[len] == '/')
			mps[n++] = mp;
	}
	while (n-- > 0)
		if (umount2(mps[n], MNT_DETACH) < 0)
			log_warn("debian template: cannot unmount %s: %s", mps[n], strerror(errno));
}

static void build_remove(const char *build)
{
	struct buf e = BUF_INIT;
	umount_under(build);
	if (ctrt_remove_tree(build, &e) < 0)
		log_warn("debian template: cannot remove %s: %s", build, e.s);
	buf_release(&e);
}

/*
 * The build's helper session (debootstrap and the dpkg it runs in the
 * chroot, or the tar packing the tree): its leader's pid is noted in
 * <build>/session while it runs, so that a corrald started after a kill -9
 * ends a session the old one left running before it removes the tree (it
 * would go on writing there, and mount /proc and /sys into it).  The
 * process group is killed when its leader still leads its session and its
 * command line names debootstrap or tar, or when the leader is gone (the
 * SIGPIPE of corrald's closed pipe ends it) and members remain: a pid
 * stays taken while a process group of that number lives, so it is still
 * the build's.  A pid reused since for another process is left alone.
 */
#define SESSION_FILE "session"

static void session_note(const char *build, pid_t pid)
{
	__do_free char *p = xasprintf("%s/" SESSION_FILE, build);
	char line[32];
	int n = snprintf(line, sizeof(line), "%d\n", (int)pid);
	if (fs_write_file_atomic(p, line, (size_t)n, 0600) < 0)
		log_warn("debian template: cannot note the build's session in %s", p);
}

static void session_end(const char *build)
{
	__do_free char *p = xasprintf("%s/" SESSION_FILE, build), *cmdline = NULL;
	__do_buf struct buf b = BUF_INIT, c = BUF_INIT;
	long pid;
	char *end;

	if (fs_read_file(p, 64, &b) < 0 || !b.s)
		return;
	pid = strtol(b.s, &end, 10);
	if (pid <= 1 || pid > INT32_MAX || *end != '\n' || kill(-(pid_t)pid, 0) < 0)
		return; /* no process group of that number: nothing runs */
	cmdline = xasprintf("/proc/%ld/cmdline", pid);
	if (kill((pid_t)pid, 0) == 0 && fs_read_file(cmdline, 4096, &c) == 0 && c.len) {
		/* the leader lives (not a zombie, whose command line is empty): is it still the build's? */
		if (getsid((pid_t)pid) != (pid_t)pid)
			return;
		for (size_t i = 0; i < c.len; i++)
			if (!c.s[i])
				c.s[i] = ' ';
		if (!strstr(c.s, "debootstrap") && strncmp(c.s, "tar ", 4) != 0)
			return;
	}
	log_warn("debian template: ending the build's session %ld (%.80s), left running by a stopped corrald", pid,
		 c.len ? c.s : "its leader gone");
	kill(-(pid_t)pid, SIGKILL);
	for (int i = 0; i < 100 && kill(-(pid_t)pid, 0) == 0; i++)
		usleep(50 * 1000);
}

void ct_debian_leftovers_clean(void)
{
	__do_free char *cache = cache_dir();
	DIR *dir = opendir(cache);
	struct dirent *de;
	if (!dir)
		return;
	pthread_mutex_lock(&build_lock);
	while ((de = readdir(dir)))
		if (strncmp(de->d_name, ".build-debian-", 14) == 0 || strncmp(de->d_name, ".part-ct-debian-", 16) == 0) {
			__do_free char *p = xasprintf("%s/%s", cache, de->d_name);
			log_info("debian template: removing %s, left by an interrupted build", p);
			if (de->d_name[1] == 'b') {
				session_end(p);
				build_remove(p);
			}
			else
				unlink(p);
		}
	pthread_mutex_unlock(&build_lock);
	closedir(dir);
}

/* ---- the build ---- */

/* debootstrap's "I: ..." lines: the phase, and how far it got (percent of the whole create). */
struct boot_progress {
	struct job *j;
	const char *release;
	double pct;
	char last_error[256];
};

static void boot_line(struct boot_progress *p, const char *line)
{
	static const struct {
		const char *prefix;
		double floor, cap; /* repeated lines of a phase move from floor towards cap */
	} phases[] = {
		{ "Retrieving InRelease", 1, 1 },	{ "Retrieving Release", 1, 1 },
		{ "Retrieving Packages", 3, 3 },	{ "Resolving dependencies", 4, 4 },
		{ "Retrieving ", 5, 35 },		{ "Validating ", 5, 35 },
		{ "Extracting ", 36, 45 },		{ "Installing core packages", 46, 46 },
		{ "Unpacking required packages", 48, 48 }, { "Configuring required packages", 55, 55 },
		{ "Unpacking the base system", 62, 62 }, { "Configuring the base system", 70, 70 },
		{ "Unpacking ", 48, 70 },		{ "Configuring ", 55, 84 },
		{ "Base system installed successfully", 85, 85 },
	};
	if (strncmp(line, "E: ", 3) == 0 || strncmp(line, "W: Failure", 10) == 0)
		snprintf(p->last_error, sizeof(p->last_error), "%s", line + 3);
	if (strncmp(line, "I: ", 3) != 0)
		return;
	line += 3;
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		if (strncmp(line, phases[i].prefix, strlen(phases[i].prefix)) == 0) {
			double next = p->pct < phases[i].floor ? phases[i].floor : p->pct + 0.25;
			p->pct = next > phases[i].cap ? (p->pct > phases[i].cap ? p->pct : phases[i].cap) : next;
			break;
		}
	job_set_phase(p->j, "debootstrap %s: %.120s", p->release, line);
	job_progress(p->j, p->pct, 0, -1);
}

/*
 * Run c (its own session, noted in `build`, stdout a pipe) for job j: each
 * stdout line to p; a cancel kills the whole session.  Its exit status,
 * -ECANCELED, or -errno when it could not start.
 */
static int run_lines(struct job *j, const char *build, struct cmd *c, struct boot_progress *p, struct buf *err)
{
	struct proc pr = PROC_INIT;
	struct buf line = BUF_INIT;
	char chunk[4096];
	bool cancelled = false;
	int r;

	c->new_session = true;
	c->helper = true;
	cmd_set_io(c, 1, CMD_IO_PIPE, NULL);
	if ((r = cmd_start(c, &pr, err)) < 0)
		return r;
	session_note(build, pr.pid);
	for (;;) {
		struct pollfd pfd = { .fd = pr.out, .events = POLLIN };
		int n = pr.pid ? poll(&pfd, 1, 250) : 0;
		if (job_cancelled(j) && !cancelled) {
			/* its session: debootstrap and the dpkg it runs in the chroot */
			if (proc_wait_timeout(&pr, 0) == -ETIMEDOUT)
				kill(-pr.pid, SIGKILL);
			cancelled = true;
		}
		if (!pr.pid || (n < 0 && errno != EINTR))
			break;
		if (n <= 0)
			continue;
		ssize_t k = read(pr.out, chunk, sizeof(chunk));
		if (k <= 0)
			break;
		for (ssize_t i = 0; i < k; i++) {
			if (chunk[i] != '\n') {
				if (line.len < 1024)
					buf_addch(&line, chunk[i]);
				continue;
			}
			if (p && line.s)
				boot_line(p, line.s);
			buf_reset(&line);
		}
	}
	r = proc_wait(&pr);
	proc_release(&pr);
	buf_release(&line);
	return cancelled ? -ECANCELED : r;
}

static int run_simple(const char *what, struct cmd *c, struct buf *err)
{
	struct buf e = BUF_INIT;
	int r = cmd_run(c, NULL, &e);
	if (r != 0) {
		buf_printf(err, "%s failed (%s %d)%s%.300s", what, r < 0 ? "error" : "exit", r, e.len ? ": " : "",
			   e.len ? e.s : "");
		r = -EIO;
	}
	buf_release(&e);
	return r;
}

/* What corral adds to the debootstrapped tree (trusted: Debian's packages made it). */
static int base_configure(const char *root, struct buf *err)
{
	__do_free char *netdir = xasprintf("%s/etc/systemd/network", root);
	__do_free char *unit = xasprintf("%s/80-corral-dhcp.network", netdir);
	__do_free char *hostname = xasprintf("%s/etc/hostname", root);
	int r;
	if ((r = fs_mkdir_p(netdir, 0755)) < 0 || (r = fs_write_file_atomic(unit, network_unit, strlen(network_unit), 0644)) < 0) {
		buf_printf(err, "cannot write %s: %s", unit, strerror(-r));
		return r;
	}
	/* the build host's name is not the container's (ct_create.c writes that) */
	unlink(hostname);
	struct cmd c = CMD_INIT;
	cmd_add(&c, "chroot");
	cmd_add(&c, root);
	cmd_add(&c, "systemctl");
	cmd_add(&c, "enable");
	cmd_add(&c, "systemd-networkd.service");
	cmd_add(&c, "systemd-resolved.service");
	r = run_simple("systemctl enable systemd-networkd in the Debian base", &c, err);
	cmd_release(&c);
	if (r < 0)
		return r;
	cmd_add(&c, "chroot");
	cmd_add(&c, root);
	cmd_add(&c, "systemctl");
	cmd_add(&c, "mask");
	cmd_add(&c, "sys-kernel-debug.mount");
	r = run_simple("systemctl mask sys-kernel-debug.mount in the Debian base", &c, err);
	cmd_release(&c);
	return r;
}

static int fsync_path(const char *path)
{
	__do_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 || fsync(fd) < 0 ? -errno : 0;
}

/* The build of `tarball` (not there yet) in `build` (not there either). */
static int base_build(struct job *j, const char *release, const char *arch, const char *build, const char *tarball,
		      struct buf *err)
{
	__do_free char *root = xasprintf("%s/root", build), *mirror = host_mirror();
	__do_free char *part = NULL;
	struct boot_progress p = { .j = j, .release = release };
	struct cmd c = CMD_INIT;
	int r;

	if (mkdir(build, 0700) < 0) {
		buf_printf(err, "cannot make %s: %s", build, strerror(errno));
		return -errno;
	}
	job_set_phase(j, "debootstrap %s (%s) from %s", release, arch, mirror);
	log_info("debian template: building the %s base for %s from %s in %s", release, arch, mirror, build);
	cmd_add(&c, DEBOOTSTRAP);
	cmd_add(&c, "--verbose");
	cmd_add(&c, "--variant=minbase");
	cmd_addf(&c, "--arch=%s", arch);
	cmd_add(&c, "--include=" BASE_PACKAGES);
	cmd_add(&c, release);
	cmd_add(&c, root);
	cmd_add(&c, mirror);
	r = run_lines(j, build, &c, &p, err);
	cmd_release(&c);
	if (r == -ECANCELED) {
		buf_adds(err, "cancelled while debootstrap built the Debian base");
		return r;
	}
	if (r != 0) {
		if (r > 0)
			buf_printf(err, "debootstrap %s from %s failed (exit %d)%s%s", release, mirror, r,
				   p.last_error[0] ? ": " : "", p.last_error);
		return r < 0 ? r : -EIO;
	}
	umount_under(build);
	if ((r = base_configure(root, err)) < 0)
		return r;
	/* the tarball next to its final name, renamed into place when whole */
	__do_free char *cache = cache_dir();
	part = xasprintf("%s/.part-ct-debian-%s-%s.tar.zst", cache, release, arch);
	job_set_phase(j, "packing the Debian %s base into %s", release, tarball);
	job_progress(j, 86, 0, -1);
	cmd_add(&c, "tar");
	cmd_add(&c, "--create");
	cmd_add(&c, "--zstd");
	cmd_add(&c, "--numeric-owner");
	cmd_add(&c, "--xattrs");
	cmd_add(&c, "--xattrs-include=*");
	cmd_add(&c, "--acls");
	cmd_add(&c, "--one-file-system");
	cmd_add(&c, "--exclude=./var/cache/apt/archives/*.deb");
	cmd_add(&c, "--exclude=./debootstrap");
	cmd_addf(&c, "--file=%s", part);
	cmd_addf(&c, "--directory=%s", root);
	cmd_add(&c, ".");
	r = run_lines(j, build, &c, NULL, err);
	cmd_release(&c);
	if (r == 0 && (r = fsync_path(part)) == 0 && rename(part, tarball) < 0)
		r = -errno;
	if (r != 0) {
		if (r == -ECANCELED)
			buf_adds(err, "cancelled while the Debian base was packed");
		else if (!err->len)
			buf_printf(err, "cannot pack the Debian base into %s (%s %d)", tarball, r < 0 ? "error" : "tar exit",
				   r < 0 ? -r : r);
		unlink(part);
		return r < 0 ? r : -EIO;
	}
	log_info("debian template: the %s base for %s is %s", release, arch, tarball);
	return 0;
}

int ct_debian_base(struct job *j, const char *release, int *fd, struct buf *err)
{
	__do_free char *cache = cache_dir(), *tarball = NULL, *build = NULL;
	char arch[32];
	int r;

	if ((r = host_arch(arch, err)) < 0)
		return r;
	tarball = xasprintf("%s/ct-debian-%s-%s.tar.zst", cache, release, arch);
	build = xasprintf("%s/.build-debian-%s-%s", cache, release, arch);
	if ((r = fs_mkdir_p(cache, 0700)) < 0) {
		buf_printf(err, "cannot make %s: %s", cache, strerror(-r));
		return r;
	}
	/* one build at a time; a create waiting for another's build stays cancellable */
	while (pthread_mutex_trylock(&build_lock) != 0) {
		job_set_phase(j, "waiting for another build of a Debian base");
		if (job_sleep(j, 500) < 0) {
			buf_adds(err, "cancelled while waiting for another build of a Debian base");
			return -ECANCELED;
		}
	}
	struct stat st;
	bool have = stat(tarball, &st) == 0;
	bool stale = have && svc_cfg.ct_base_days && time(NULL) - st.st_mtime > (time_t)svc_cfg.ct_base_days * 86400;
	if (!have || stale) {
		struct buf e = BUF_INIT;
		if (stale)
			log_info("debian template: the %s base %s is older than %u days: building it again", release,
				 tarball, svc_cfg.ct_base_days);
		build_remove(build);
		r = base_build(j, release, arch, build, tarball, stale ? &e : err);
		build_remove(build);
		if (r < 0 && stale && r != -ECANCELED) {
			log_warn("debian template: the %s base could not be built again (%s): the old one serves", release,
				 e.s);
			r = 0;
		} else if (r < 0 && stale) {
			buf_adds(err, e.s);
		}
		buf_release(&e);
	}
	pthread_mutex_unlock(&build_lock);
	if (r < 0)
		return r;
	if ((*fd = open(tarball, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		buf_printf(err, "cannot open the Debian base %s: %s", tarball, strerror(errno));
		return -errno;
	}
	job_progress(j, 90, 0, -1);
	return 0;
}
