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
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "service/events.h"
#include "service/policy.h"
#include "service/pool.h"
#include "service/service.h"
#include "service/snapshot.h"
#include "service/vm.h"
#include "api/http.h"
#include "api/routes.h"
#include "core/events.h"
#include "core/job.h"
#include "core/store.h"
#include "core/store_local.h"
#include "qemu/accel.h"
#include "qemu/runtime.h"
#include "util/fsutil.h"
#include "util/log.h"
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
	      "  --log-file PATH    log there instead of stderr\n"
	      "  --debug            verbose logging\n"
	      "  --version          print the version\n"
	      "  -h, --help         this text\n"
	      "\n"
	      "Stopping corrald (SIGTERM, SIGINT, kill -9) never stops the guests; the next\n"
	      "corrald re-attaches to them.\n",
	      out);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' }, { "socket", required_argument, NULL, 'S' },
		{ "run-dir", required_argument, NULL, 'r' },   { "storage-dir", required_argument, NULL, 'd' },
		{ "qemu", required_argument, NULL, 'q' },      { "log-file", required_argument, NULL, 'l' },
		{ "debug", no_argument, NULL, 'D' },	       { "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },	       { NULL, 0, NULL, 0 },
	};
	__do_free char *state_dir = NULL, *sock = NULL, *run_dir = NULL, *storage_dir = NULL, *qemu = NULL;
	__do_free char *db = NULL, *lockpath = NULL;
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
		case 'l':
			if ((r = log_open(optarg)) < 0) {
				fprintf(stderr, "corrald: cannot open log file %s: %s\n", optarg, strerror(-r));
				return 1;
			}
			break;
		case 'D': log_set_level(LOG_LVL_DEBUG); break;
		case 'V': printf("corrald %s\n", CORRAL_VERSION); return 0;
		case 'h': usage(stdout); return 0;
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

	/* Daemonized QEMUs become our children while we run, so we can reap them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
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
	store_job_fail_stale(st, "corrald stopped while the job ran");
	job_engine_init(st);
	accel_probe_host(&accel, NULL, NULL);
	log_info("corrald %s starting: state %s, accel %s", CORRAL_VERSION, state_dir, accel.reason);

	struct rt_config rcfg = { .store = st,
				  .on_state = svc_on_vm_state,
				  .on_event = svc_on_vm_event,
				  .run_dir = run_dir,
				  .qemu_binary = qemu,
				  .accel = &accel };
	struct svc_config ocfg = { .store = st,
				   .state_dir = state_dir,
				   .storage_dir = storage_dir,
				   .run_dir = run_dir,
				   .qemu_binary = qemu,
				   .accel = &accel };
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
	if (http_start(sock, api_route, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	log_info("listening on %s", sock);
	svc_vm_autostart();

	int sig = 0;
	sigwait(&sigs, &sig);
	log_info("signal %d: shutting down (guests keep running)", sig);
	events_unsubscribe_all(); /* event streams end, so their connections can close */
	http_stop();
	rc = 0;
out_rt:
	/* Jobs first: they use the runtime, the service layer and the store. */
	svc_backup_shutdown();
	job_engine_shutdown();
	rt_shutdown();
	svc_shutdown();
out:
	store_close(st);
	buf_release(&err);
	return rc;
}
