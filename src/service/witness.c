/*
 * witness.c - this host as a witness (see witness.h): STATE/witness with
 * qnetd's NSS database and witness.json, corosync-qnetd under the helper
 * daemon supervisor, its status from corosync-qnetd-tool, and the signing
 * of pool nodes' certificate requests for trusted hosts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/conf.h"
#include "cluster/nssdb.h"
#include "cluster/sdaemon.h"
#include "service/cluster_internal.h"
#include "service/internal.h"
#include "service/witness.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;
static char *wdir;          /* STATE/witness */
static struct sdaemon qnetd; /* set up while this host is a witness */
static bool is_witness;
static unsigned w_port;

static char *wpath(const char *name) { return xasprintf("%s/%s", wdir, name); }

static void on_daemon(const struct sdaemon *d, enum sdaemon_event ev, int attempt, const char *why)
{
	if (ev == SDAEMON_RESTARTED)
		svc_cluster_event("%s had exited: started it again (attempt %d)", d->name, attempt);
	else
		svc_cluster_event("%s had exited and could not be started again (attempt %d): %s", d->name, attempt,
				  why);
}

/* witness.json, or NULL. */
static json_t *conf_load(void)
{
	__do_free char *p = wpath("witness.json");
	struct buf b __do_buf = BUF_INIT;
	if (fs_read_file(p, 1 << 20, &b) < 0)
		return NULL;
	json_t *j = json_loadb(b.s, b.len, 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static int conf_save(const json_t *j, struct buf *err)
{
	__do_free char *p = wpath("witness.json");
	__do_free char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	int r = fs_write_file_atomic(p, text, strlen(text), 0600);
	if (r < 0)
		buf_printf(err, "cannot write %s: %s", p, strerror(-r));
	return r;
}

/* With w_lock: qnetd's argv for port, set up in qnetd. */
static void qnetd_setup(unsigned port)
{
	__do_free char *db = wpath("nssdb");
	__do_free char *lock = wpath("qnetd.lock");
	__do_free char *sock = wpath("qnetd.sock");
	__do_free char *opts = xasprintf("nss_db_dir=%s,lock_file=%s,local_socket_file=%s", db, lock, sock);
	char p[16];
	snprintf(p, sizeof(p), "%u", port);
	sdaemon_release(&qnetd);
	sdaemon_init(&qnetd, wdir, "qnetd", (const char *const[]){ "corosync-qnetd", "-f", "-p", p, "-S", opts, NULL });
	w_port = port;
}

/* -S takes comma-separated name=value pairs: the state directory may hold neither. */
static int dir_ok(struct buf *err)
{
	if (!strpbrk(wdir, ",= \t\n"))
		return 0;
	buf_printf(err, "the state directory %s holds a ',', '=' or blank, which corosync-qnetd's -S cannot take",
		   svc_cfg.state_dir);
	return -EINVAL;
}

int svc_witness_start(struct buf *err)
{
	int r;
	wdir = xasprintf("%s/witness", svc_cfg.state_dir);
	if ((r = sdaemon_supervise_start(on_daemon)) < 0) {
		buf_printf(err, "cannot start the helper daemons' supervisor: %s", strerror(-r));
		return r;
	}
	__do_json json_t *j = conf_load();
	if (!j)
		return 0;
	int64_t port = CLUSTER_WITNESS_PORT;
	struct buf why __do_buf = BUF_INIT;
	__do_free char *db = wpath("nssdb");
	if (json_get_int(j, "port", 1, 65535, &port, &why) < 0 || !nssdb_exists(db)) {
		log_msg(LOG_LVL_ERROR, 0, "witness: %s is unusable: not starting corosync-qnetd", wdir);
		return 0;
	}
	pthread_mutex_lock(&w_lock);
	qnetd_setup((unsigned)port);
	is_witness = true;
	struct proc_identity id;
	if (sdaemon_running(&qnetd, &id))
		log_info("witness: corosync-qnetd (pid %d) is running: re-adopted", (int)id.pid);
	else if (sdaemon_start(&qnetd, &why) < 0)
		log_msg(LOG_LVL_ERROR, 0, "witness: %s (the supervisor tries again)", why.s);
	sdaemon_want(&qnetd, true);
	pthread_mutex_unlock(&w_lock);
	return 0;
}

void svc_witness_shutdown(void)
{
	/* qnetd keeps running: the pools' votes outlive corrald */
	sdaemon_supervise_stop();
	pthread_mutex_lock(&w_lock);
	sdaemon_release(&qnetd);
	is_witness = false;
	pthread_mutex_unlock(&w_lock);
	free(wdir);
	wdir = NULL;
}

/* corosync-qnetd-tool OPT -p SOCK: its output (0), or -errno. */
static int qnetd_tool(const char *opt, struct buf *out)
{
	__do_free char *sock = wpath("qnetd.sock");
	struct cmd c = CMD_INIT;
	cmd_add(&c, "corosync-qnetd-tool");
	cmd_add(&c, opt);
	cmd_add(&c, "-p");
	cmd_add(&c, sock);
	int r = cmd_run(&c, out, NULL);
	cmd_release(&c);
	return r == 0 ? 0 : r < 0 ? r : -EIO;
}

/* The number after "key:" in text, or -1. */
static long field_num(const char *text, const char *key)
{
	const char *p = text ? strstr(text, key) : NULL;
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

/* With w_lock. */
static json_t *status_locked(void)
{
	if (!is_witness)
		return json_pack("{s:b}", "witness", 0);
	struct proc_identity id;
	bool running = sdaemon_running(&qnetd, &id);
	json_t *out = json_pack("{s:b,s:I,s:{s:b,s:o}}", "witness", 1, "port", (json_int_t)w_port, "qnetd", "running",
				running, "pid", running ? json_integer(id.pid) : json_null());
	struct buf s __do_buf = BUF_INIT, l __do_buf = BUF_INIT;
	json_t *connected = json_array();
	if (running && qnetd_tool("-s", &s) == 0) {
		json_object_set_new(out, "connected_clients", json_integer(field_num(s.s, "Connected clients:")));
		json_object_set_new(out, "connected_clusters", json_integer(field_num(s.s, "Connected clusters:")));
	}
	if (running && qnetd_tool("-l", &l) == 0) {
		/* lines: Cluster "NAME": */
		for (const char *p = l.s ? strstr(l.s, "Cluster \"") : NULL; p; p = strstr(p + 1, "Cluster \"")) {
			const char *b = p + 9, *e = strchr(b, '"');
			if (e && e - b <= CLUSTER_NAME_MAX)
				json_array_append_new(connected, json_stringn(b, (size_t)(e - b)));
		}
	}
	json_object_set_new(out, "clusters_connected", connected);
	__do_json json_t *conf = conf_load();
	json_t *signed_for = json_object_get(conf, "clusters");
	json_object_set(out, "certificates", signed_for ? signed_for : json_object());
	if (!running)
		json_object_set_new(out, "warnings",
				    json_pack("[s]", "corosync-qnetd does not run: the pools using this witness have "
						     "no third vote (see witness/qnetd.out)"));
	return out;
}

json_t *svc_witness_status(void)
{
	pthread_mutex_lock(&w_lock);
	json_t *out = status_locked();
	pthread_mutex_unlock(&w_lock);
	return out;
}

static int create_locked(const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "port", NULL };
	int64_t port = CLUSTER_WITNESS_PORT;
	__do_free char *db = wpath("nssdb");
	int r;
	if (json_check_keys(body, "witness", keys, err) < 0 || json_get_int(body, "port", 1, 65535, &port, err) < 0)
		return -EINVAL;
	if (is_witness) {
		buf_printf(err, "this host is already a witness (port %u): corral witness remove first", w_port);
		return -EEXIST;
	}
	if ((r = dir_ok(err)) < 0)
		return r;
	if ((r = fs_mkdir_p(wdir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", wdir, strerror(-r));
		return r;
	}
	__do_json json_t *conf = json_pack("{s:I,s:{}}", "port", (json_int_t)port, "clusters");
	if ((r = nssdb_ca_init(db, err)) < 0 || (r = conf_save(conf, err)) < 0)
		goto undo;
	qnetd_setup((unsigned)port);
	if ((r = sdaemon_start(&qnetd, err)) < 0)
		goto undo;
	is_witness = true;
	sdaemon_want(&qnetd, true);
	svc_cluster_event("this host is now a witness: corosync-qnetd listens on port %u", w_port);
	*out = status_locked();
	return 0;
undo:
	sdaemon_stop(&qnetd);
	sdaemon_release(&qnetd);
	nssdb_remove(db);
	__do_free char *cj = wpath("witness.json");
	unlink(cj);
	return r;
}

int svc_witness_create(const json_t *body, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&w_lock);
	int r = create_locked(body, out, err);
	pthread_mutex_unlock(&w_lock);
	return r;
}

static int remove_locked(bool force, json_t **out, struct buf *err)
{
	if (!is_witness) {
		buf_adds(err, "this host is no witness");
		return -ENOENT;
	}
	struct buf s __do_buf = BUF_INIT;
	long clusters = sdaemon_running(&qnetd, NULL) && qnetd_tool("-s", &s) == 0
				? field_num(s.s, "Connected clusters:") : 0;
	if (clusters > 0 && !force) {
		buf_printf(err, "%ld pool(s) use this witness now (corral witness status): removing it takes their third "
				"vote away; remove it from them first (corral cluster witness remove), or --force",
			   clusters);
		return -EBUSY;
	}
	sdaemon_want(&qnetd, false);
	sdaemon_stop(&qnetd);
	sdaemon_release(&qnetd);
	is_witness = false;
	static const char *const files[] = { "witness.json", "qnetd.lock", "qnetd.sock" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *p = wpath(files[i]);
		unlink(p);
	}
	__do_free char *db = wpath("nssdb");
	nssdb_remove(db);
	svc_cluster_event("this host is no longer a witness: corosync-qnetd stopped, its CA removed");
	*out = json_pack("{s:b,s:I}", "removed", 1, "clusters_connected", (json_int_t)(clusters > 0 ? clusters : 0));
	return 0;
}

int svc_witness_remove(bool force, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&w_lock);
	int r = remove_locked(force, out, err);
	pthread_mutex_unlock(&w_lock);
	return r;
}

static int sign_locked(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "cluster", "csr", NULL };
	const char *cluster = NULL, *csr = NULL;
	struct buf crt __do_buf = BUF_INIT, ca __do_buf = BUF_INIT;
	__do_free char *db = wpath("nssdb");
	int r;
	if (!is_witness) {
		buf_adds(err, "this host is no witness (corral witness init there)");
		return -ENOENT;
	}
	if (json_check_keys(body, "witness sign", keys, err) < 0 || json_get_str(body, "cluster", &cluster, err) < 0 ||
	    json_get_str(body, "csr", &csr, err) < 0)
		return -EINVAL;
	if ((r = cluster_name_check(cluster, err)) < 0)
		return r;
	if ((r = nssdb_sign(db, cluster, csr, &crt, err)) < 0 || (r = nssdb_ca_pem(db, &ca, err)) < 0)
		return r;
	__do_json json_t *conf = conf_load();
	if (conf) {
		json_t *cl = json_object_get(conf, "clusters");
		if (!json_is_object(cl)) {
			cl = json_object();
			json_object_set_new(conf, "clusters", cl);
		}
		json_t *entry = json_object_get(cl, cluster);
		if (!json_is_object(entry)) {
			entry = json_pack("{s:[]}", "requested_by");
			json_object_set_new(cl, cluster, entry);
		}
		json_t *nodes = json_object_get(entry, "requested_by");
		if (!json_array_has_string(nodes, caller) && json_is_array(nodes))
			json_array_append_new(nodes, json_string(caller));
		json_object_set_new(entry, "signed", json_integer(time_wall_ms()));
		struct buf why __do_buf = BUF_INIT;
		if (conf_save(conf, &why) < 0)
			log_warn("witness: %s", why.s);
	}
	svc_cluster_event("signed a qdevice certificate of cluster %s for trusted host %s", cluster, caller);
	*out = json_pack("{s:s,s:s,s:I}", "ca", ca.s, "cert", crt.s, "port", (json_int_t)w_port);
	return 0;
}

int svc_witness_peer_sign(const char *caller, const json_t *body, json_t **out, struct buf *err)
{
	pthread_mutex_lock(&w_lock);
	int r = sign_locked(caller, body, out, err);
	pthread_mutex_unlock(&w_lock);
	return r;
}
