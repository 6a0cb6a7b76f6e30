/*
 * main.c - corrald: the corral host daemon.
 *
 * Opens the state database, works out KVM vs TCG, re-attaches to the QEMU
 * processes that survived a previous corrald, serves the REST API on a unix
 * socket and starts autostart VMs.  SIGTERM/SIGINT stop the daemon, never
 * the guests.  One corrald per state directory (flock on corrald.lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "service/policy.h"
#include "service/pool.h"
#include "service/service.h"
#include "service/snapshot.h"
#include "service/vm.h"
#include "api/http.h"
#include "api/routes.h"
#include "cgroup/cgroup.h"
#include "core/events.h"
#include "core/job.h"
#include "core/store.h"
#include "core/store_local.h"
#include "qemu/accel.h"
#include "qemu/runtime.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/proc.h"
#include "util/runas.h"
#include "util/common.h"

static void usage(FILE *out)
{
	fputs("usage: corrald [options]\n"
	      "\n"
	      "The corral host daemon: runs QEMU virtual machines and serves the corral API.\n"
	      "\n"
	      "  --state-dir DIR    state database and default storage (default /var/lib/corral)\n"
	      "  --socket PATH      API unix socket (default /run/corral/corral.sock)\n"
	      "  --run-dir DIR      per-VM sockets, pid files, console logs\n"
	      "                     (default /run/corral, or STATE-DIR/run with --state-dir)\n"
	      "  --storage-dir DIR  where volumes live (default STATE-DIR/storage)\n"
	      "  --qemu PATH        QEMU system emulator (default qemu-system-x86_64)\n"
	      "  --qemu-user USER   the account QEMU runs as (default corral-qemu, made by\n"
	      "                     scripts/setup-user.sh; root only when named here)\n"
	      "  --image-helper PATH\n"
	      "                     the sandboxed program that reads inside disks (default:\n"
	      "                     corral-imgd next to corrald, else " CORRAL_IMGD_PATH ")\n"
	      "  --image-user USER  the account it runs as (default corral-imgd, made by\n"
	      "                     scripts/setup-user.sh; never root, never QEMU's)\n"
	      "  --image-timeout S  stop it after S seconds without progress (default 30)\n"
	      "  --log-file PATH    log there instead of stderr\n"
	      "  --debug            verbose logging\n"
	      "  --version          print the version\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "API server limits (see docs/api.md):\n"
	      "  --http-workers N          threads running requests (default 8)\n"
	      "  --http-queue N            requests waiting for a worker before 503 (default 64)\n"
	      "  --http-max-connections N  open connections (default 512; lowered to fit\n"
	      "                            the open-files limit)\n"
	      "  --http-idle-timeout S     close a connection silent for S seconds (default 30)\n"
	      "  --http-header-timeout S   request line + headers must arrive within S seconds\n"
	      "                            (default 10)\n"
	      "  --http-body-timeout S     the body must arrive within S seconds (default 30)\n"
	      "\n"
	      "Stopping corrald (SIGTERM, SIGINT, kill -9) never stops the guests; the next\n"
	      "corrald re-attaches to them.\n",
	      out);
}

/* Option --name's value: a whole decimal number in [min, max]; else say so and false. */
static bool parse_uint(const char *name, const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "corrald: --%s must be a whole number from %u to %u, not '%s'\n", name, min, max, s);
		return false;
	}
	*out = (unsigned)v;
	return true;
}

/* corral-imgd next to this corrald (a build tree), else where `make install` puts it. */
static char *imgd_default_path(void)
{
	__do_free char *self = realpath("/proc/self/exe", NULL);
	char *slash = self ? strrchr(self, '/') : NULL;

	if (slash) {
		char *sibling = xasprintf("%.*s/corral-imgd", (int)(slash - self), self);
		if (access(sibling, X_OK) == 0)
			return sibling;
		free(sibling);
	}
	return xstrdup(CORRAL_IMGD_PATH);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' }, { "socket", required_argument, NULL, 'S' },
		{ "run-dir", required_argument, NULL, 'r' },   { "storage-dir", required_argument, NULL, 'd' },
		{ "qemu", required_argument, NULL, 'q' },      { "log-file", required_argument, NULL, 'l' },
		{ "qemu-user", required_argument, NULL, 'u' }, { "debug", no_argument, NULL, 'D' },
		{ "version", no_argument, NULL, 'V' },	       { "help", no_argument, NULL, 'h' },
		{ "http-workers", required_argument, NULL, 'W' },
		{ "http-queue", required_argument, NULL, 'Q' },
		{ "http-max-connections", required_argument, NULL, 'M' },
		{ "http-idle-timeout", required_argument, NULL, 'I' },
		{ "http-header-timeout", required_argument, NULL, 'H' },
		{ "http-body-timeout", required_argument, NULL, 'B' },
		{ "image-helper", required_argument, NULL, 'X' }, { "image-user", required_argument, NULL, 'U' },
		{ "image-timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_config hcfg = HTTP_CONFIG_INIT;
	struct http_server *http = NULL;
	unsigned long nofile = 0;
	__do_free char *state_dir = NULL, *sock = NULL, *run_dir = NULL, *storage_dir = NULL, *qemu = NULL;
	__do_free char *db = NULL, *lockpath = NULL, *qemu_user = NULL, *cgdesc = NULL;
	__do_free char *imgd = NULL, *imgd_user = NULL;
	int imgd_timeout = 30;
	struct cgroup_host cgroups;
	bool have_cgroups;
	struct buf err = BUF_INIT;
	struct accel_probe accel;
	struct store *st = NULL;
	bool state_given = false;
	int c, r, rc = 1;
	sigset_t sigs;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': free(state_dir); state_dir = fs_absolute(optarg); state_given = true; break;
		case 'S': free(sock); sock = fs_absolute(optarg); break;
		case 'r': free(run_dir); run_dir = fs_absolute(optarg); break;
		case 'd': free(storage_dir); storage_dir = fs_absolute(optarg); break;
		case 'q': free(qemu); qemu = xstrdup(optarg); break;
		case 'u': free(qemu_user); qemu_user = xstrdup(optarg); break;
		case 'l':
			if ((r = log_open(optarg)) < 0) {
				fprintf(stderr, "corrald: cannot open log file %s: %s\n", optarg, strerror(-r));
				return 1;
			}
			break;
		case 'D': log_set_level(LOG_LVL_DEBUG); break;
		case 'X': free(imgd); imgd = fs_absolute(optarg); break;
		case 'U': free(imgd_user); imgd_user = xstrdup(optarg); break;
		case 'T': {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 1 || t > 3600) {
				fprintf(stderr, "corrald: --image-timeout wants seconds between 1 and 3600\n");
				return 2;
			}
			imgd_timeout = (int)t;
			break;
		}
		case 'V': printf("corrald %s\n", CORRAL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		case 'W':
			if (!parse_uint("http-workers", optarg, 1, 256, &hcfg.workers))
				return 2;
			break;
		case 'Q':
			if (!parse_uint("http-queue", optarg, 1, 65536, &hcfg.queue_len))
				return 2;
			break;
		case 'M':
			if (!parse_uint("http-max-connections", optarg, 2, 1000000, &hcfg.max_connections))
				return 2;
			break;
		case 'I':
			if (!parse_uint("http-idle-timeout", optarg, 1, 86400, &hcfg.idle_timeout_s))
				return 2;
			break;
		case 'H':
			if (!parse_uint("http-header-timeout", optarg, 1, 86400, &hcfg.header_timeout_s))
				return 2;
			break;
		case 'B':
			if (!parse_uint("http-body-timeout", optarg, 1, 86400, &hcfg.body_timeout_s))
				return 2;
			break;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "corrald: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!state_dir)
		state_dir = xstrdup("/var/lib/corral");
	if (!sock)
		sock = xstrdup("/run/corral/corral.sock");
	if (!run_dir)
		run_dir = state_given ? xasprintf("%s/run", state_dir) : xstrdup("/run/corral");
	if (!storage_dir)
		storage_dir = xasprintf("%s/storage", state_dir);
	if (!qemu)
		qemu = xstrdup("qemu-system-x86_64");
	if (!qemu_user)
		qemu_user = xstrdup(RUNAS_DEFAULT_USER);
	if (!imgd)
		imgd = imgd_default_path();
	if (!imgd_user)
		imgd_user = xstrdup("corral-imgd");

	/* Orphaned descendants (a helper's daemonized child whose parent exited)
	 * become our children instead of init's; the reaper (util/proc.h) reaps
	 * them and every child nobody waits for, so no zombie is ever left. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Every API connection is a descriptor: allow as many as the host does. */
	if ((r = fs_nofile_raise(&nofile)) < 0)
		fprintf(stderr, "corrald: cannot raise the open-files limit: %s\n", strerror(-r));
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	{
		__do_free char *sockdir = xstrdup(sock);
		char *slash = strrchr(sockdir, '/');
		if (slash && slash != sockdir)
			*slash = '\0';
		const char *dirs[] = { state_dir, storage_dir, run_dir, sockdir };
		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
			if ((r = fs_mkdir_p(dirs[i], 0700)) < 0) {
				fprintf(stderr, "corrald: cannot create %s: %s\n", dirs[i], strerror(-r));
				return 1;
			}
		}
	}
	if ((r = proc_reaper_start()) < 0) {
		fprintf(stderr, "corrald: cannot start the process reaper: %s\n", strerror(-r));
		return 1;
	}
	lockpath = xasprintf("%s/corrald.lock", state_dir);
	__do_close int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "corrald: another corrald is using %s (%s)\n", state_dir, strerror(errno));
		return 1;
	}
	db = xasprintf("%s/state.db", state_dir);
	if (!(st = store_open(db, &err))) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out;
	}
	job_engine_init(st);
	store_job_fail_stale(st, "corrald stopped while the job ran");
	job_engine_init(st);
	{
		/* QEMU runs as qemu_user: it must pass through our directories to
		 * its run dir and the volumes, and own what it opens. */
		struct runas user;
		if (strcmp(qemu_user, "root") == 0)
			log_warn("QEMU runs as root (--qemu-user root): a guest that escapes QEMU owns the host");
		if (runas_lookup(qemu_user, &user, &err) == 0) {
			runas_set_owner(&user);
			const char *dirs[] = { state_dir, storage_dir, run_dir };
			for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
				if (runas_traversable(dirs[i], &err) < 0)
					log_warn("%s", err.s);
		} else {
			log_warn("%s; VMs cannot start until it exists", err.s);
		}
		buf_reset(&err);
	}
	have_cgroups = cgroup_host_detect(&cgroups, "corral", &err) == 0;
	if (have_cgroups) {
		cgdesc = cgroup_host_describe(&cgroups);
		log_info("cgroups %s", cgdesc);
	} else {
		log_warn("%s: VMs run in corrald's own cgroup", err.s);
	}
	buf_reset(&err);
	accel_probe_host(&accel, NULL, NULL);
	log_info("corrald %s starting: state %s, accel %s", CORRAL_VERSION, state_dir, accel.reason);

	struct rt_config rcfg = { .store = st,
				  .run_dir = run_dir,
				  .qemu_binary = qemu,
				  .accel = &accel,
				  .qemu_user = qemu_user,
				  .cgroups = have_cgroups ? &cgroups : NULL };
	svc_rt_hooks(&rcfg);
	struct svc_config ocfg = { .store = st,
				   .retention = STORE_RETENTION_INIT,
				   .state_dir = state_dir,
				   .storage_dir = storage_dir,
				   .run_dir = run_dir,
				   .qemu_binary = qemu,
				   .accel = &accel,
				   .image_helper = imgd,
				   .image_user = imgd_user,
				   .image_timeout_s = imgd_timeout };
	if (rt_init(&rcfg, &err) < 0 || svc_init(&ocfg, &err) < 0 || svc_pool_init(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	rt_attach_all();
	svc_snapshot_recover();
	if (svc_backup_init(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	hcfg.socket_path = sock;
	if (http_start(&hcfg, api_route, &http, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	log_info("listening on %s (open-files limit %lu)", sock, nofile);
	svc_vm_autostart();

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("signal %d: shutting down (guests keep running)", sig);
	events_unsubscribe_all(); /* event streams end, so their connections can close */
	if (http_stop(http) < 0) {
		/* A handler is stuck: leave like kill -9 would; state is crash-safe. */
		log_msg(LOG_LVL_ERROR, 0, "leaving without waiting for the stuck API handlers");
		_exit(1);
	}
	rc = 0;
out_rt:
	/* No new scheduled runs, then every job cancelled and joined, before what they use goes. */
	svc_backup_shutdown();
	job_engine_shutdown();
	rt_shutdown();
	svc_shutdown();
out:
	store_close(st);
	proc_reaper_stop();
	buf_release(&err);
	return rc;
}
