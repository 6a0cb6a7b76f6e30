/*
 * main.c - corrald: the corral host daemon.
 *
 * Opens the state database, works out KVM vs TCG, re-attaches to the QEMU
 * processes that survived a previous corrald, serves the REST API on a unix
 * socket and starts autostart VMs (in order, service/autostart.h).
 * SIGTERM/SIGINT stop the daemon, and the guests only when shutdown_guests
 * is set.  One corrald per state directory (flock on corrald.lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "service/replicate.h"
#include "service/autostart.h"
#include "service/cluster.h"
#include "service/hostpath.h"
#include "service/policy.h"
#include "service/network.h"
#include "service/pool.h"
#include "service/recover.h"
#include "service/migrate.h"
#include "service/ct.h"
#include "service/metrics.h"
#include "service/alarms.h"
#include "service/migrate_offline.h"
#include "service/service.h"
#include "service/snapshot.h"
#include "service/trust.h"
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
#include "util/timeutil.h"
#include "util/runas.h"
#include "util/common.h"
#include "config.h"

static void usage(FILE *out)
{
	struct buf opts = BUF_INIT;

	cfg_usage(&opts);
	fprintf(out,
		"usage: corrald [options]\n"
		"\n"
		"The corral host daemon: runs QEMU virtual machines and serves the corral API.\n"
		"\n"
		"  --config PATH              read settings from PATH (default\n"
		"                             " CFG_DEFAULT_PATH ", which may be\n"
		"                             missing); every option below is also a key there\n"
		"                             (--http-workers is http_workers) and overrides\n"
		"                             the file (see docs/config.md)\n"
		"  --print-config-doc         print the key table of docs/config.md\n"
		"  --print-config-example     print a commented corrald.conf (every key at\n"
		"                             its default)\n"
		"  --check-config             read the settings (file and flags), say whether\n"
		"                             they are valid, and exit without starting\n"
		"  --version                  print the version\n"
		"  -h, --help                 this text\n"
		"\n"
		"%s"
		"\n"
		"Stopping corrald (SIGTERM, SIGINT, kill -9) never stops the guests unless\n"
		"shutdown_guests is set; the next corrald re-attaches to them.\n",
		opts.s);
	buf_release(&opts);
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

/* The web UI's files: `ui` beside corrald (the build tree links it there), else the installed ones. */
static char *ui_default_path(void)
{
	__do_free char *self = realpath("/proc/self/exe", NULL);
	char *slash = self ? strrchr(self, '/') : NULL;

	if (slash) {
		char *sibling = xasprintf("%.*s/ui/index.html", (int)(slash - self), self);
		if (access(sibling, R_OK) == 0) {
			sibling[strlen(sibling) - strlen("/index.html")] = '\0';
			return sibling;
		}
		free(sibling);
	}
	return xstrdup(CORRAL_UI_PATH);
}

/* A flag given on the command line, applied after the file. */
struct cli_setting {
	const struct cfg_key *key;
	const char *value;
	const char *flag;
};

/*
 * Settings from the file (--config, else the optional default file; its
 * name into *file), then the flags on top.  -1 on an error already
 * printed, with *exit_code set; 1 when a flag like --help was answered
 * (exit *exit_code); 0 to run.
 */
static int settings_load(int argc, char **argv, struct corrald_config *cfg, const char **file, int *exit_code)
{
	enum { OPT_CONFIG = 1000, OPT_DOC, OPT_EXAMPLE, OPT_CHECK, OPT_VERSION, OPT_KEY };
	size_t nkeys;
	const struct cfg_key *keys = cfg_keys(&nkeys);
	__do_free struct option *opts = xcalloc(nkeys + 7, sizeof(*opts));
	__do_free char **names = xcalloc(nkeys, sizeof(*names));
	__do_free struct cli_setting *set = xcalloc((size_t)argc + 1, sizeof(*set));
	const char *config = NULL;
	struct buf err = BUF_INIT;
	bool check = false;
	size_t nset = 0, o = 0;
	int c, r = 0;

	*exit_code = 2;
	for (size_t i = 0; i < nkeys; i++) {
		names[i] = cfg_flag_name(&keys[i]);
		opts[o++] = (struct option){ names[i], keys[i].type == CFG_BOOL ? no_argument : required_argument, NULL,
					     OPT_KEY + (int)i };
	}
	opts[o++] = (struct option){ "config", required_argument, NULL, OPT_CONFIG };
	opts[o++] = (struct option){ "print-config-doc", no_argument, NULL, OPT_DOC };
	opts[o++] = (struct option){ "print-config-example", no_argument, NULL, OPT_EXAMPLE };
	opts[o++] = (struct option){ "check-config", no_argument, NULL, OPT_CHECK };
	opts[o++] = (struct option){ "version", no_argument, NULL, OPT_VERSION };
	opts[o++] = (struct option){ "help", no_argument, NULL, 'h' };
	while (r == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: config = optarg; break;
		case OPT_DOC: {
			struct buf doc = BUF_INIT;
			cfg_doc(&doc);
			fputs(doc.s, stdout);
			buf_release(&doc);
			*exit_code = 0;
			r = 1;
			break;
		}
		case OPT_EXAMPLE: {
			struct buf doc = BUF_INIT;
			cfg_example(&doc);
			fputs(doc.s, stdout);
			buf_release(&doc);
			*exit_code = 0;
			r = 1;
			break;
		}
		case OPT_CHECK: check = true; break;
		case OPT_VERSION: printf("corrald %s\n", CORRAL_VERSION); *exit_code = 0; r = 1; break;
		case 'h': usage(stdout); *exit_code = 0; r = 1; break;
		default:
			if (c < OPT_KEY || c >= OPT_KEY + (int)nkeys) {
				usage(stderr);
				r = -1;
				break;
			}
			set[nset++] = (struct cli_setting){ &keys[c - OPT_KEY], optarg ? optarg : "yes",
							   names[c - OPT_KEY] };
			break;
		}
	}
	if (r == 0 && optind < argc) {
		fprintf(stderr, "corrald: unexpected argument '%s'\n", argv[optind]);
		r = -1;
	}
	*file = config ? config : CFG_DEFAULT_PATH;
	if (r == 0 && cfg_load(cfg, *file, config != NULL, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		*exit_code = 1;
		r = -1;
	}
	for (size_t i = 0; r == 0 && i < nset; i++) {
		__do_free char *shown = xasprintf("--%s", set[i].flag);
		if (cfg_set(cfg, set[i].key, set[i].value, true, shown, &err) < 0) {
			fprintf(stderr, "corrald: %s\n", err.s);
			r = -1;
		}
	}
	if (r == 0 && check) {
		printf("corrald: settings valid (%s%s)\n", *file, fs_exists(*file) ? "" : " is missing: defaults");
		*exit_code = 0;
		r = 1;
	}
	for (size_t i = 0; i < nkeys; i++)
		free(names[i]);
	buf_release(&err);
	return r;
}

/* The TCP door's certificate and key (made at first start unless the
 * administrator named her own), read as PEM, and its fingerprint. */
struct tls_setup {
	struct buf cert, key;
	char *fingerprint;
};

static int tls_prepare(struct corrald_config *cfg, struct tls_setup *t, struct buf *err)
{
	char host[256] = "";
	int r;

	if (!cfg->tls_cert && !cfg->tls_key) {
		__do_free char *dir = xasprintf("%s/tls", cfg->state_dir);
		if ((r = fs_mkdir_p(dir, 0700)) < 0) {
			buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
			return r;
		}
		cfg->tls_cert = xasprintf("%s/host.crt", dir);
		cfg->tls_key = xasprintf("%s/host.key", dir);
		gethostname(host, sizeof(host) - 1);
		if ((r = auth_cert_ensure(cfg->tls_cert, cfg->tls_key, host[0] ? host : "localhost", err)) < 0)
			return r;
	} else if (!cfg->tls_cert || !cfg->tls_key) {
		buf_printf(err, "tls_cert and tls_key go together: name both or neither");
		return -EINVAL;
	} else {
		/* the administrator's own files: checked, never made (nor overwritten) here */
		const char *missing = !fs_exists(cfg->tls_cert) ? cfg->tls_cert
				      : !fs_exists(cfg->tls_key) ? cfg->tls_key
								   : NULL;
		if (missing) {
			buf_printf(err, "%s (named by %s) does not exist", missing,
				   missing == cfg->tls_cert ? "tls_cert" : "tls_key");
			return -ENOENT;
		}
		if ((r = auth_cert_ensure(cfg->tls_cert, cfg->tls_key, "localhost", err)) < 0)
			return r;
	}
	if ((r = fs_read_file(cfg->tls_cert, 1 << 20, &t->cert)) < 0) {
		buf_printf(err, "cannot read %s: %s", cfg->tls_cert, strerror(-r));
		return r;
	}
	if ((r = fs_read_file(cfg->tls_key, 1 << 20, &t->key)) < 0) {
		buf_printf(err, "cannot read %s: %s", cfg->tls_key, strerror(-r));
		return r;
	}
	return auth_cert_fingerprint(t->cert.s, t->cert.len, &t->fingerprint, err);
}

/* The group named by socket_group: its gid, or -errno + err. */
static int socket_group_lookup(const char *name, gid_t *gid, struct buf *err)
{
	struct group gr, *found = NULL;
	char tmp[4096];
	int e = getgrnam_r(name, &gr, tmp, sizeof(tmp), &found);
	if (!found) {
		buf_printf(err, "socket_group: no group named '%s'%s%s", name, e ? ": " : "", e ? strerror(e) : "");
		return e ? -e : -ENOENT;
	}
	*gid = gr.gr_gid;
	return 0;
}

static void tls_release(struct tls_setup *t)
{
	if (t->key.s)
		OPENSSL_cleanse(t->key.s, t->key.len);
	buf_release(&t->key);
	buf_release(&t->cert);
	free(t->fingerprint);
}

int main(int argc, char **argv)
{
	struct tls_setup tls = { BUF_INIT, BUF_INIT, NULL };
	struct corrald_config cfg;
	const char *cfg_file = NULL;
	struct http_config hcfg = HTTP_CONFIG_INIT;
	struct http_server *http = NULL;
	unsigned long nofile = 0;
	__do_free char *db = NULL, *lockpath = NULL, *cgdesc = NULL;
	struct cgroup_host cgroups;
	bool have_cgroups;
	struct buf err = BUF_INIT;
	struct accel_probe accel;
	struct store *st = NULL;
	int r, rc = 1;
	sigset_t sigs;

	cfg_init(&cfg);
	if ((r = settings_load(argc, argv, &cfg, &cfg_file, &rc)) != 0) {
		cfg_release(&cfg);
		return rc;
	}
	rc = 1;
	if (cfg.log_file && (r = log_open(cfg.log_file)) < 0) {
		fprintf(stderr, "corrald: cannot open log file %s: %s\n", cfg.log_file, strerror(-r));
		cfg_release(&cfg);
		return 1;
	}
	if (cfg.debug)
		log_set_level(LOG_LVL_DEBUG);
	if (!cfg.run_dir)
		cfg.run_dir = cfg.state_dir_set ? xasprintf("%s/run", cfg.state_dir) : xstrdup("/run/corral");
	if (!cfg.storage_dir)
		cfg.storage_dir = xasprintf("%s/storage", cfg.state_dir);
	if (!cfg.image_helper)
		cfg.image_helper = imgd_default_path();
	if (!cfg.ui_dir)
		cfg.ui_dir = ui_default_path();
	hcfg.workers = (unsigned)cfg.http_workers;
	hcfg.queue_len = (unsigned)cfg.http_queue;
	hcfg.max_connections = (unsigned)cfg.http_max_connections;
	hcfg.idle_timeout_s = (unsigned)cfg.http_idle_timeout;
	hcfg.header_timeout_s = (unsigned)cfg.http_header_timeout;
	hcfg.body_timeout_s = (unsigned)cfg.http_body_timeout;
	const char *state_dir = cfg.state_dir, *sock = cfg.socket, *run_dir = cfg.run_dir;
	const char *storage_dir = cfg.storage_dir, *qemu = cfg.qemu, *qemu_user = cfg.qemu_user;

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
	/* A killed corrald's child between fork and exec (a helper waiting to be
	 * recorded, util/cmd.h) holds the lock a moment longer: wait up to 5 s. */
	int lockerr = lockfd < 0 ? errno : 0;
	for (int i = 0; lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) < 0; i++) {
		lockerr = errno;
		if (lockerr != EWOULDBLOCK || i == 100)
			break;
		time_sleep_ms(50);
		lockerr = 0;
	}
	if (lockerr) {
		fprintf(stderr, "corrald: another corrald is using %s (%s)\n", state_dir, strerror(lockerr));
		return 1;
	}
	{
		/* Helpers (qemu-img, qemu-nbd, corral-imgd) a killed corrald left
		 * running go first, before anything starts new ones. */
		__do_free char *helpers = xasprintf("%s/helpers", run_dir);
		if ((r = fs_mkdir_p(helpers, 0700)) < 0) {
			fprintf(stderr, "corrald: cannot create %s: %s\n", helpers, strerror(-r));
			return 1;
		}
		proc_track_sweep(helpers);
		proc_track_dir_set(helpers);
	}
	if (cfg.listen && tls_prepare(&cfg, &tls, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out;
	}
	if (!cfg.host_name) {
		char hn[256] = "";
		gethostname(hn, sizeof(hn) - 1);
		hn[strcspn(hn, ".")] = '\0'; /* the short name */
		cfg.host_name = xstrdup(hn[0] ? hn : "localhost");
	}
	if (svc_trust_name_check(cfg.host_name, &err) < 0) {
		fprintf(stderr, "corrald: host_name: %s\n", err.s);
		goto out;
	}
	if (!cfg.cgroup_parent[0] || cfg.cgroup_parent[0] == '.' || strlen(cfg.cgroup_parent) > 64 ||
	    strspn(cfg.cgroup_parent, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		    strlen(cfg.cgroup_parent)) {
		fprintf(stderr, "corrald: cgroup_parent: 1-64 of letters, digits, '.', '_', '-', not starting with '.'\n");
		goto out;
	}
	db = xasprintf("%s/state.db", state_dir);
	if (!(st = store_open(db, &err))) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out;
	}
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
	have_cgroups = cgroup_host_detect(&cgroups, cfg.cgroup_parent, &err) == 0;
	if (have_cgroups) {
		cgdesc = cgroup_host_describe(&cgroups);
		log_info("cgroups %s", cgdesc);
	} else {
		log_warn("%s: VMs run in corrald's own cgroup", err.s);
	}
	buf_reset(&err);
	accel_probe_host(&accel, NULL, NULL);
	log_info("corrald %s starting: state %s, accel %s", CORRAL_VERSION, state_dir, accel.reason);
	{
		struct buf allowed = BUF_INIT;
		for (size_t i = 0; i < cfg.allow_path.n; i++)
			buf_printf(&allowed, ", %s", cfg.allow_path.v[i]);
		log_info("settings from %s%s; host files allowed from the storage pools%s%s", cfg_file,
			 fs_exists(cfg_file) ? "" : " (missing: defaults)", allowed.s,
			 cfg.allow_block_devices ? " (block devices too)" : "");
		buf_release(&allowed);
	}

	struct rt_config rcfg = { .store = st,
				  .run_dir = run_dir,
				  .qemu_binary = qemu,
				  .accel = &accel,
				  .qemu_user = qemu_user,
				  .cgroups = have_cgroups ? &cgroups : NULL,
				  .open_host = hostpath_open };
	static char nvram_dir[PATH_MAX];
	snprintf(nvram_dir, sizeof(nvram_dir), "%s/nvram", state_dir);
	rcfg.nvram_dir = nvram_dir;
	svc_rt_hooks(&rcfg);
	struct svc_config ocfg = { .store = st,
				   .retention = { cfg.events_keep, cfg.jobs_keep, cfg.history_days },
				   .state_dir = state_dir,
				   .storage_dir = storage_dir,
				   .run_dir = run_dir,
				   .qemu_binary = qemu,
				   .accel = &accel,
				   .image_helper = cfg.image_helper,
				   .image_user = cfg.image_user,
				   .image_timeout_s = (int)cfg.image_timeout,
				   .allow_path = (const char *const *)cfg.allow_path.v,
				   .n_allow_path = cfg.allow_path.n,
				   .allow_block_devices = cfg.allow_block_devices,
				   .tcg_live_migration = cfg.tcg_live_migration,
				   .ha_watchdog = cfg.ha_watchdog,
				   .ct_base_days = (unsigned)cfg.ct_base_days,
				   .auth_fail_limit = (unsigned)cfg.auth_fail_limit,
				   .auth_fail_window_s = (unsigned)cfg.auth_fail_window,
				   .session_idle_s = (unsigned)cfg.session_idle_timeout,
				   .session_max_age_s = (unsigned)cfg.session_max_age,
				   .host_name = cfg.host_name };
	if (cfg.listen) {
		ocfg.listen = cfg.listen;
		ocfg.tls_fingerprint = tls.fingerprint;
		ocfg.tls_cert_path = cfg.tls_cert;
		ocfg.tls_key_path = cfg.tls_key;
		hcfg.listen = cfg.listen;
		hcfg.tls_cert_pem = tls.cert.s;
		hcfg.tls_key_pem = tls.key.s;
		log_info("TLS certificate %s, SHA-256 fingerprint %s", cfg.tls_cert, tls.fingerprint);
	}
	if (rt_init(&rcfg, &err) < 0 || svc_init(&ocfg, &err) < 0 || svc_pool_init(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	svc_net_init(); /* before guests: their taps go into these bridges */
	/* alarms before the re-attach (a VM found dead fires `vm crashed`) and the sampler (it feeds them) */
	if (svc_alarms_start(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	/* the pool thread, after the alarms (a `host lost quorum` rule sees its first
	 * events); corosync re-adopted, or started, when this host is in a cluster */
	if (svc_cluster_init(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	rt_attach_all();
	svc_snapshot_recover();
	svc_recover(); /* ends the job records a killed corrald left running */
	if (svc_backup_init(&err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	if (svc_metrics_start((unsigned)cfg.metrics_interval, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	hcfg.socket_path = sock;
	gid_t sock_gid = 0;
	if (cfg.socket_group && socket_group_lookup(cfg.socket_group, &sock_gid, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	api_ui_init(cfg.ui_dir, access("/usr/share/novnc/core/rfb.js", R_OK) == 0 ? "/usr/share/novnc" : NULL);
	if (http_start(&hcfg, api_route, &http, &err) < 0) {
		fprintf(stderr, "corrald: %s\n", err.s);
		goto out_rt;
	}
	if (cfg.socket_group) {
		/* the socket is 0660 (http.c): the group may connect, if it can reach it */
		if (chown(sock, (uid_t)-1, sock_gid) < 0)
			log_msg(LOG_LVL_ERROR, errno, "socket_group: cannot give %s to group %s", sock, cfg.socket_group);
		else
			log_info("API socket %s open to group %s", sock, cfg.socket_group);
		__do_free char *dir = xstrdup(sock);
		char *slash = strrchr(dir, '/');
		struct stat d;
		if (slash)
			*slash = '\0';
		if (slash && stat(*dir ? dir : "/", &d) == 0 && !(d.st_mode & S_IXOTH) &&
		    !((d.st_mode & S_IXGRP) && d.st_gid == sock_gid))
			log_warn("socket_group: members of %s cannot reach %s: its directory %s has no search permission "
				 "for them",
				 cfg.socket_group, sock, dir);
	}
	log_info("listening on %s (open-files limit %lu)", sock, nofile);
	svc_autostart_begin();

	int sig = 0;
	sigwait(&sigs, &sig);
	svc_autostart_end();
	if (cfg.shutdown_guests) {
		/* shutdown_guests: the host goes down; the API still answers meanwhile */
		log_info("signal %d: shutting down; stopping the guests first (shutdown_guests)", sig);
		svc_guests_shutdown((int)cfg.shutdown_timeout);
	} else {
		log_info("signal %d: shutting down (guests keep running)", sig);
	}
	events_unsubscribe_all(); /* event streams end, so their connections can close */
	if (http_stop(http) < 0) {
		/* A handler is stuck: leave like kill -9 would; state is crash-safe. */
		log_msg(LOG_LVL_ERROR, 0, "leaving without waiting for the stuck API handlers");
		_exit(1);
	}
	rc = 0;
out_rt:
	svc_metrics_stop(); /* it asks the runtime: gone before it */
	svc_alarms_stop();  /* after the sampler, which feeds it */
	/* No new scheduled runs, then every job cancelled and joined, before what they use goes. */
	svc_backup_shutdown();
	job_engine_shutdown();
	svc_migrate_offline_reap(true); /* prepared offline migrations: removed */
	svc_ct_migrate_reap(true);
	svc_migrate_shutdown(); /* incoming VMs not finished: killed and removed (the source resumes its own) */
	svc_replicate_shutdown(); /* the monitor only: mirrors and replica daemons run on */
	/* the pool thread, the HA agent and the self-fence (corosync keeps running) before the
	 * runtime: a fence thread that still ran would see no guest running once the runtime is
	 * gone and hand corral-guard an empty armed set before telling it corrald stops */
	svc_cluster_shutdown();
	rt_shutdown();
	svc_shutdown();
out:
	store_close(st);
	proc_reaper_stop();
	buf_release(&err);
	tls_release(&tls);
	cfg_release(&cfg);
	return rc;
}
