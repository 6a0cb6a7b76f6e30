/*
 * dirvol.c - directory volumes (see dirvol.h): a volume of format "dir" is
 * a directory <pool directory>/<name> registered in the store like an
 * image volume.  Containers keep their roots in them (service/ct_vol.c) and
 * bind-mount them as extra mount points; a VM never uses one (the store
 * refuses it as a disk).
 *
 * What a directory uses has no header to read it from, so it is measured
 * by walking the tree (du: allocated blocks, no symlink followed, no mount
 * crossed).  That walk can take long on a big root, so listings never do
 * it: vol_dir_usage() answers the last measurement and asks one background
 * thread to measure again when it is older than VOL_DIR_USAGE_TTL_MS.
 */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "dirvol.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"

/* ---- usage: a cache of path -> {bytes, time}, refreshed by one thread ---- */

static pthread_mutex_t usage_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t usage_cond = PTHREAD_COND_INITIALIZER;
static json_t *usage;   /* path -> {"bytes": N, "at": ms} */
static json_t *pending; /* paths waiting for a measurement */
static bool worker_started;

static _Thread_local uint64_t walk_sum;

static int walk_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)flag, (void)ftw;
	walk_sum += (uint64_t)st->st_blocks * 512;
	return 0;
}

int vol_dir_measure(const char *path, uint64_t *bytes)
{
	walk_sum = 0;
	if (nftw(path, walk_add, 16, FTW_PHYS | FTW_MOUNT) < 0)
		return -errno;
	*bytes = walk_sum;
	return 0;
}

static void *usage_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&usage_lock);
	for (;;) {
		while (json_object_size(pending) == 0)
			pthread_cond_wait(&usage_cond, &usage_lock);
		void *it = json_object_iter(pending);
		__do_free char *path = xstrdup(json_object_iter_key(it));
		pthread_mutex_unlock(&usage_lock);
		uint64_t bytes = 0;
		int r = vol_dir_measure(path, &bytes);
		pthread_mutex_lock(&usage_lock);
		json_object_del(pending, path);
		if (r == 0)
			json_object_set_new(usage, path, json_pack("{s:I,s:I}", "bytes", (json_int_t)bytes, "at",
								   (json_int_t)time_mono_ms()));
		else
			json_object_del(usage, path);
	}
	return NULL;
}

int vol_dir_usage(const char *path, uint64_t *bytes)
{
	int r = -EAGAIN;
	pthread_mutex_lock(&usage_lock);
	if (!usage) {
		usage = json_object();
		pending = json_object();
	}
	json_t *u = json_object_get(usage, path);
	if (u) {
		*bytes = (uint64_t)json_integer_value(json_object_get(u, "bytes"));
		r = 0;
	}
	if ((!u || time_mono_ms() - json_integer_value(json_object_get(u, "at")) > VOL_DIR_USAGE_TTL_MS) &&
	    json_object_size(pending) < 4096) {
		json_object_set_new(pending, path, json_true());
		if (!worker_started) {
			pthread_t t;
			if (pthread_create(&t, NULL, usage_worker, NULL) == 0) {
				pthread_detach(t);
				worker_started = true;
			}
		}
		pthread_cond_signal(&usage_cond);
	}
	pthread_mutex_unlock(&usage_lock);
	return r;
}

void vol_dir_usage_forget(const char *path)
{
	pthread_mutex_lock(&usage_lock);
	json_object_del(usage, path);
	pthread_mutex_unlock(&usage_lock);
}

/* ---- create, remove ---- */

int vol_dir_make(const char *dir, const char *name, uid_t uid, gid_t gid, char **path, struct buf *err)
{
	const char *bad = str_name_invalid(name);
	if (bad) {
		buf_printf(err, "invalid volume name: %s", bad);
		return -EINVAL;
	}
	__do_free char *p = xasprintf("%s/%s", dir, name);
	if (mkdir(p, 0755) < 0) {
		int e = errno;
		if (e == EEXIST)
			buf_printf(err, "%s exists already in the pool (not a volume corral knows): not touching it", p);
		else
			buf_printf(err, "cannot make directory volume %s: %s", p, strerror(e));
		return -e;
	}
	if ((uid || gid) && chown(p, uid, gid) < 0) {
		int e = errno;
		buf_printf(err, "cannot give %s to %u:%u: %s", p, (unsigned)uid, (unsigned)gid, strerror(e));
		rmdir(p);
		return -e;
	}
	*path = move_ptr(p);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

int vol_dir_remove(const char *path, struct buf *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode)) {
		buf_printf(err, "%s is not a directory: not removing it", path);
		return -ENOTDIR;
	}
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) {
		int e = errno;
		buf_printf(err, "cannot remove %s: %s", path, strerror(e));
		return -e;
	}
	vol_dir_usage_forget(path);
	return 0;
}

int vol_dir_space_check(const char *dir, uint64_t need, struct buf *err)
{
	struct statvfs v;
	char a[16], b[16];
	if (statvfs(dir, &v) < 0) {
		buf_printf(err, "cannot read the free space of %s: %s", dir, strerror(errno));
		return -errno;
	}
	uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
	if (avail < need) {
		buf_printf(err, "not enough space in %s: %s needed, %s free", dir, str_fmt_size(need, a, sizeof(a)),
			   str_fmt_size(avail, b, sizeof(b)));
		return -ENOSPC;
	}
	return 0;
}
