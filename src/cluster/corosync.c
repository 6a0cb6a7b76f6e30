/*
 * corosync.c - the corosync process corrald runs, and its files (see
 * corosync.h): the configuration written from the pool's definition, the
 * knet key, start with an early-failure check, stop, and finding a running
 * one again by its identity after a corrald restart.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/corosync.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"
#include "util/common.h"

#define COROSYNC_START_WAIT_MS 2000

static pthread_mutex_t sup_lock = PTHREAD_MUTEX_INITIALIZER;

static int dirs_make(const char *dir, struct buf *err)
{
	__do_free char *lib = xasprintf("%s/lib", dir);
	int r;
	if ((r = fs_mkdir_p(dir, 0700)) < 0 || (r = fs_mkdir_p(lib, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", lib, strerror(-r));
		return r;
	}
	chmod(dir, 0700);
	return 0;
}

int corosync_conf_write(const struct cluster_def *d, const char *dir, struct buf *err)
{
	struct buf text __do_buf = BUF_INIT;
	__do_free char *path = xasprintf("%s/corosync.conf", dir);
	int r;
	if ((r = cluster_conf_text(d, dir, &text, err)) < 0 || (r = dirs_make(dir, err)) < 0)
		return r;
	if ((r = fs_write_file_atomic(path, text.s, text.len, 0600)) < 0) {
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int corosync_key_write(const char *dir, const unsigned char *key, size_t len, struct buf *err)
{
	__do_free char *path = xasprintf("%s/authkey", dir);
	int r;
	if (len != COROSYNC_KEY_BYTES) {
		buf_printf(err, "a cluster key is %d bytes, not %zu", COROSYNC_KEY_BYTES, len);
		return -EINVAL;
	}
	if ((r = dirs_make(dir, err)) < 0)
		return r;
	if ((r = fs_write_file_atomic(path, key, len, 0400)) < 0) {
		buf_printf(err, "cannot write the cluster key %s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int corosync_key_make(const char *dir, struct buf *err)
{
	unsigned char key[COROSYNC_KEY_BYTES];
	size_t got = 0;
	while (got < sizeof(key)) {
		ssize_t n = getrandom(key + got, sizeof(key) - got, 0);
		if (n < 0 && errno != EINTR) {
			int e = errno;
			buf_printf(err, "cannot make a cluster key: getrandom: %s", strerror(e));
			return -e;
		}
		if (n > 0)
			got += (size_t)n;
	}
	int r = corosync_key_write(dir, key, sizeof(key), err);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int corosync_key_read(const char *dir, unsigned char *key, size_t len, struct buf *err)
{
	__do_free char *path = xasprintf("%s/authkey", dir);
	struct buf b = BUF_INIT;
	int r = fs_read_file_mine(path, 4096, &b);
	if (r == 0 && b.len != len)
		r = -EINVAL;
	if (r == 0)
		memcpy(key, b.s, len);
	if (b.s)
		OPENSSL_cleanse(b.s, b.len);
	buf_release(&b);
	if (r < 0) {
		buf_printf(err, "cannot read the cluster key %s: %s", path,
			   r == -EINVAL ? "it is not a corral cluster key" : strerror(-r));
		return r;
	}
	return (int)len;
}

bool corosync_running(const char *dir, struct proc_identity *id)
{
	__do_free char *pidfile = xasprintf("%s/corosync.pid", dir);
	struct proc_identity me;
	if (proc_identity_load(pidfile, &me) < 0 || !proc_identity_alive(&me))
		return false;
	if (id)
		*id = me;
	return true;
}

static size_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

int corosync_start(const char *dir, struct buf *err)
{
	__do_free char *conf = xasprintf("%s/corosync.conf", dir);
	__do_free char *out = xasprintf("%s/corosync.out", dir);
	__do_free char *log = xasprintf("%s/corosync.log", dir);
	__do_free char *pidfile = xasprintf("%s/corosync.pid", dir);
	struct buf why __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	struct proc p = PROC_INIT;
	struct proc_identity id;
	int r;

	pthread_mutex_lock(&sup_lock);
	if (corosync_running(dir, NULL)) {
		pthread_mutex_unlock(&sup_lock);
		return 0;
	}
	size_t out_from = file_size(out), log_from = file_size(log);
	cmd_add(&c, "corosync");
	cmd_add(&c, "-f");
	cmd_add(&c, "-c");
	cmd_add(&c, conf);
	cmd_set_io(&c, 1, CMD_IO_FILE, out);
	cmd_set_io(&c, 2, CMD_IO_FILE, out);
	c.new_session = true;
	r = cmd_start(&c, &p, &why);
	cmd_release(&c);
	if (r < 0) {
		pthread_mutex_unlock(&sup_lock);
		buf_printf(err, "cannot start corosync: %s", why.s);
		return r;
	}
	if ((r = proc_identity_get(p.pid, &id)) == 0)
		r = proc_identity_save(pidfile, &id);
	if (r < 0)
		log_warn("cluster: cannot record corosync's pid in %s: %s", pidfile, strerror(-r));
	int st = proc_wait_timeout(&p, COROSYNC_START_WAIT_MS);
	if (st != -ETIMEDOUT) {
		__do_free char *o = fs_tail_text(out, out_from);
		__do_free char *l = fs_tail_text(log, log_from);
		buf_printf(err, "corosync exited at once (status %d): %s; its log: %s", st, o, l);
		unlink(pidfile);
		proc_release(&p);
		pthread_mutex_unlock(&sup_lock);
		return -EIO;
	}
	log_info("cluster: corosync started (pid %d) with %s", (int)p.pid, conf);
	proc_release(&p); /* left to the reaper; found again by its identity */
	pthread_mutex_unlock(&sup_lock);
	return 0;
}

int corosync_stop(const char *dir)
{
	__do_free char *pidfile = xasprintf("%s/corosync.pid", dir);
	struct proc_identity id;
	pthread_mutex_lock(&sup_lock);
	if (corosync_running(dir, &id)) {
		proc_identity_signal(&id, SIGTERM);
		for (int i = 0; i < 700 && proc_identity_alive(&id); i++) {
			if (i == 500)
				proc_identity_signal(&id, SIGKILL);
			usleep(10000);
		}
		log_info("cluster: corosync (pid %d) stopped", (int)id.pid);
	}
	unlink(pidfile);
	pthread_mutex_unlock(&sup_lock);
	return 0;
}

void corosync_files_remove(const char *dir)
{
	static const char *const files[] = { "corosync.conf", "authkey", "corosync.pid" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
	}
	/* lib/ holds corosync's state (ring id); a new cluster starts afresh. */
	__do_free char *lib = xasprintf("%s/lib", dir);
	DIR *dp = opendir(lib);
	struct dirent *e;
	while (dp && (e = readdir(dp))) {
		if (e->d_name[0] == '.')
			continue;
		__do_free char *p = xasprintf("%s/%s", lib, e->d_name);
		unlink(p);
	}
	if (dp)
		closedir(dp);
	rmdir(lib);
}
