/*
 * ct_ha.c - what HA needs of a container (ct.h "HA"; docs/ha.md
 * "Containers"): the pool's copy of its definition and volumes, taken on
 * a new host and dropped on the old one, whether it runs here, a pidfd of
 * its init for the self-fence and corral-guard, and the offline stop of a
 * maintenance move.  The HA manager and agent (ha_manager.c) and the fence
 * (ha_fence.c) call these where a VM's path calls the QEMU runtime; the
 * rules (owner, quorum, fence before restart) are theirs, one for both
 * kinds.
 *
 * Only a root that is a directory volume of a shared pool is taken (with
 * mount points on shared pools only): another host sees the same tree, so
 * nothing is copied.  An image root is refused: a fenced host's kernel
 * keeps its loop-mounted ext4 until the host is cleaned up, and a second
 * mount of it elsewhere would corrupt it.
 *
 * Killing a container is killing its init: the kernel then kills every
 * other process of its PID namespace.  The pidfd is opened from liblxc's
 * init pid (in any state but stopped: a container frozen for a backup is
 * armed too) and checked against liblxc again after opening, so it never
 * names a recycled pid.  An init not gone 20 ms after the kill may be
 * frozen (a cgroup v1 freezer holds SIGKILL until a thaw): its own freezer
 * cgroup is thawed through the files, so the kill lands.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "core/job.h"
#include "service/internal.h"
#include "service/network.h"
#include "storage/dirvol.h"
#include "storage/volume.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/common.h"

#define CT_HA_DEFAULT_MIB 128 /* what the plan counts for a container without a memory limit */
#define CT_HA_FENCED_MAX 256

/* Containers this corrald fenced (or learnt corral-guard fenced), with the reason, until started again. */
static pthread_mutex_t fenced_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char uuid[37];
	char reason[128];
} fenced[CT_HA_FENCED_MAX];
static size_t nfenced;

/* The volume `vol` as the pool's copy names it ({volume, pool, format, file}) appended to disks;
 * -EINVAL + err when it is not a directory volume of a shared pool. */
static int vol_capture(const char *ctname, const char *what, const char *vol, json_t *disks, struct buf *err)
{
	struct vol_record v = { 0 };
	struct pool_record pr = { 0 };
	const char *pool = NULL;
	size_t plen;
	int r = 0;
	if (store_vol_get(svc_cfg.store, vol, &v) < 0) {
		buf_printf(err, "%s %s of container %s: no such volume here", what, vol, ctname);
		r = -ENOENT;
	} else if (store_pool_get(svc_cfg.store, (pool = v.pool ? v.pool : "default"), &pr) < 0 || !pr.shared) {
		__do_free char *how = strcmp(what, "root volume") == 0
					      ? xasprintf(": corral ct move %s --pool POOL", ctname)
					      : xstrdup("");
		buf_printf(err,
			   "%s %s of container %s is in pool '%s', which is not shared: HA could not restart %s on "
			   "another host (containers have no replication: put it in a shared pool%s; docs/ha.md, "
			   "\"Containers\")",
			   what, vol, ctname, pool, ctname, how);
		r = -EINVAL;
	} else if (strcmp(v.format, VOL_DIR_FORMAT) != 0) {
		buf_printf(err,
			   "%s %s of container %s is an image file (%s), not a directory: HA takes no image roots "
			   "(a fenced host's kernel can still hold its loop-mounted filesystem when another host "
			   "mounts it; use a directory root in a shared pool; docs/ha.md, \"Containers\")",
			   what, vol, ctname, v.format);
		r = -EINVAL;
	} else if ((plen = strlen(pr.path)) >= strlen(v.path) || strncmp(v.path, pr.path, plen) != 0 ||
		   v.path[plen] != '/') {
		buf_printf(err, "%s %s of container %s is not inside its pool's directory (%s)", what, vol, ctname,
			   pr.path);
		r = -EINVAL;
	} else {
		json_array_append_new(disks, json_pack("{s:s,s:s,s:s,s:s}", "volume", v.name, "pool", pool, "format",
						       v.format, "file", v.path + plen + 1));
	}
	pool_record_release(&pr);
	vol_record_release(&v);
	return r;
}

int svc_ct_ha_capture(const char *key, json_t *def, char uuid[37], struct buf *err)
{
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	json_t *disks = json_array();
	if (d->rootfs) {
		buf_printf(err, "container %s runs on a host directory (%s), in no pool: HA could not restart it on "
			   "another host (only a root volume in a shared pool can be; docs/ha.md, \"Containers\")",
			   d->name, d->rootfs);
		r = -EINVAL;
	} else if (!d->volume) {
		buf_printf(err, "the root of container %s is in this host's lxcpath (no pool volume): HA could not "
			   "restart it on another host (put it in a shared pool: corral ct move %s --pool POOL)",
			   d->name, d->name);
		r = -EINVAL;
	} else {
		r = vol_capture(d->name, "root volume", d->volume, disks, err);
	}
	for (int i = 0; i < d->nmounts && r == 0; i++)
		r = vol_capture(d->name, "mount point volume", d->mounts[i].volume, disks, err);
	if (r == 0) {
		json_t *cj = ctdef_to_json(d);
		json_object_del(cj, "created");
		json_object_set_new(def, "vm", json_string(d->name));
		json_object_set_new(def, "kind", json_string("container"));
		json_object_set_new(def, "ctdef", cj);
		json_object_set_new(def, "disks", disks);
		json_object_set_new(def, "memory_mib", json_integer(d->limits.memory_limit_mib > 0
									    ? (json_int_t)d->limits.memory_limit_mib
									    : CT_HA_DEFAULT_MIB));
		snprintf(uuid, 37, "%s", d->uuid);
	} else {
		json_decref(disks);
	}
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

bool svc_ct_exists(const char *uuid)
{
	struct ct_record rec = { 0 };
	if (store_ct_get(svc_cfg.store, uuid, &rec) < 0)
		return false;
	ct_record_release(&rec);
	return true;
}

bool svc_ct_running(const char *uuid, const char **state)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	if (state)
		*state = "unknown here";
	if (store_ct_get(svc_cfg.store, uuid, &rec) < 0)
		return false;
	const char *st = ctrt_state(lp, rec.name, NULL);
	ct_record_release(&rec);
	if (state)
		*state = st;
	return strcmp(st, "STOPPED") != 0;
}

int svc_ct_pidfd(const char *uuid)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	if (store_ct_get(svc_cfg.store, uuid, &rec) < 0)
		return -ESRCH;
	/* any state but stopped: a container frozen for a backup is armed too */
	pid_t pid = ctrt_init_pid(lp, rec.name);
	int fd = -ESRCH;
	if (pid > 0) {
		fd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (fd < 0) {
			fd = -errno;
		} else {
			/* still its init after opening: the pidfd names no recycled pid */
			if (ctrt_init_pid(lp, rec.name) != pid) {
				close(fd);
				fd = -ESRCH;
			}
		}
	}
	ct_record_release(&rec);
	return fd;
}

void svc_ct_fenced_note(const char *uuid, const char *reason)
{
	pthread_mutex_lock(&fenced_lock);
	size_t i = 0;
	while (i < nfenced && strcmp(fenced[i].uuid, uuid) != 0)
		i++;
	if (i == nfenced) {
		if (nfenced == CT_HA_FENCED_MAX)
			i = 0; /* forget the oldest rather than refuse */
		else
			nfenced++;
	}
	snprintf(fenced[i].uuid, sizeof(fenced[i].uuid), "%.36s", uuid);
	snprintf(fenced[i].reason, sizeof(fenced[i].reason), "%s", reason);
	pthread_mutex_unlock(&fenced_lock);
}

bool svc_ct_fenced(const char *uuid, char *reason, size_t len)
{
	bool found = false;
	pthread_mutex_lock(&fenced_lock);
	for (size_t i = 0; i < nfenced && !found; i++)
		if (strcmp(fenced[i].uuid, uuid) == 0) {
			found = true;
			if (reason)
				snprintf(reason, len, "%s", fenced[i].reason);
		}
	pthread_mutex_unlock(&fenced_lock);
	return found;
}

/* A start or a drop of the record: no longer "fenced here". */
static void fenced_clear(const char *uuid)
{
	pthread_mutex_lock(&fenced_lock);
	for (size_t i = 0; i < nfenced; i++)
		if (strcmp(fenced[i].uuid, uuid) == 0) {
			fenced[i] = fenced[--nfenced];
			break;
		}
	pthread_mutex_unlock(&fenced_lock);
}

/* The pid a pidfd names (its fdinfo), or 0. */
static pid_t pidfd_pid(int fd)
{
	__do_free char *path = xasprintf("/proc/self/fdinfo/%d", fd);
	__do_buf struct buf b = BUF_INIT;
	const char *p;
	long pid = 0;
	if (fs_read_file(path, 4096, &b) == 0 && b.s && (p = strstr(b.s, "\nPid:")))
		pid = strtol(p + 5, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/* A killed init that did not go at once: its cgroup may be frozen (a
 * backup's freeze), where a cgroup v1 freezer holds SIGKILL until a thaw.
 * Thaw the init's own freezer cgroup (v1 freezer.state, v2 cgroup.freeze)
 * through the files, whatever froze it, so the kill lands; liblxc is not
 * asked (its state may not know of the freeze). */
static void thaw_killed(pid_t pid, const char *uuid)
{
	__do_free char *cg = xasprintf("/proc/%d/cgroup", (int)pid);
	__do_buf struct buf b = BUF_INIT;
	if (pid <= 0 || fs_read_file(cg, 1 << 16, &b) < 0 || !b.s)
		return;
	for (char *line = b.s, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		if ((nl = strchr(line, '\n')))
			*nl = '\0';
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2 || strstr(c2, ".."))
			continue;
		*c2 = '\0';
		__do_free char *file = NULL;
		const char *value = NULL;
		if (strstr(c1 + 1, "freezer")) {
			file = xasprintf("/sys/fs/cgroup/freezer%s/freezer.state", c2 + 1);
			value = "THAWED";
		} else if (c1 == line + 1 && line[0] == '0' && !c1[1]) {
			file = xasprintf("/sys/fs/cgroup%s/cgroup.freeze", c2 + 1);
			value = "0";
		}
		if (!file)
			continue;
		int fd = open(file, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && write(fd, value, strlen(value)) == (ssize_t)strlen(value))
			log_warn("container %s: killed while frozen (not gone at once): thawed %s so the kill lands", uuid,
				 file);
		if (fd >= 0)
			close(fd);
	}
}

int svc_ct_fence(const char *uuid, int pidfd, const char *reason, struct buf *err)
{
	int fd = pidfd >= 0 ? pidfd : svc_ct_pidfd(uuid);
	if (fd < 0) {
		buf_adds(err, "container is not running");
		return -ESRCH;
	}
	int r = (int)syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	int e = errno;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	/* not gone at once: perhaps frozen (a backup's freeze), where a cgroup v1
	 * freezer holds SIGKILL until a thaw; thaw it so the kill lands */
	bool lingers = r == 0 && poll(&p, 1, 20) == 0;
	pid_t pid = lingers ? pidfd_pid(fd) : 0;
	if (fd != pidfd)
		close(fd);
	if (r < 0 && e != ESRCH) {
		buf_printf(err, "cannot kill the container's init: %s", strerror(e));
		return -e;
	}
	svc_ct_fenced_note(uuid, reason);
	if (lingers)
		thaw_killed(pid, uuid);
	return r < 0 ? 1 : 0;
}

int svc_ct_ha_start(const char *uuid, struct buf *err)
{
	int r = svc_ct_start_now(uuid, err);
	if (r == 0)
		fenced_clear(uuid);
	return r;
}

int svc_ct_ha_stop(const char *uuid, int timeout_s, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct job_hold *h = NULL;
	int r = ct_load(uuid, &rec, &d, err);
	if (r < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "ha-stop", &h, err)) == 0 && !ct_is_stopped(lp, d)) {
		r = ctrt_shutdown(lp, d->name, timeout_s, err);
		if (r == -ETIMEDOUT) {
			buf_reset(err);
			r = ctrt_kill(lp, d->name, err);
		}
		ct_stopped(lp, d);
		if (r == 0 && !ct_is_stopped(lp, d)) {
			buf_printf(err, "container '%s' still runs after its stop", d->name);
			r = -EBUSY;
		}
	}
	job_release(h);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

/* The volume rows of the pool's copy (`disks`) into b, checked against this host's shared pools. */
static int vols_adopt(const json_t *disks, struct store_batch *b, struct buf *err)
{
	size_t i;
	json_t *dj;
	json_array_foreach(disks, i, dj)
	{
		const char *vol = json_string_value(json_object_get(dj, "volume"));
		const char *pool = json_string_value(json_object_get(dj, "pool"));
		const char *file = json_string_value(json_object_get(dj, "file"));
		const char *format = json_string_value(json_object_get(dj, "format"));
		struct pool_record pr = { 0 };
		struct vol_record have = { 0 };
		if (!vol || !pool || !file || !format || strstr(file, "..") || strcmp(format, VOL_DIR_FORMAT) != 0) {
			buf_adds(err, "a volume of the HA resource is incomplete");
			return -EINVAL;
		}
		if (store_pool_get(svc_cfg.store, pool, &pr) < 0 || !pr.shared) {
			buf_printf(err, "this host has no shared pool '%s' for volume %s", pool, vol);
			pool_record_release(&pr);
			return -ENOENT;
		}
		__do_free char *path = xasprintf("%s/%s", pr.path, file);
		pool_record_release(&pr);
		if (store_vol_get(svc_cfg.store, vol, &have) == 0) {
			bool same = strcmp(have.path, path) == 0 && !have.vm && !have.ct;
			vol_record_release(&have);
			if (!same) {
				buf_printf(err, "a different volume named %s exists here (or another guest uses it)", vol);
				return -EEXIST;
			}
			continue;
		}
		if (fs_exists(path) <= 0) {
			buf_printf(err, "this host does not see volume %s in its shared pool '%s' (%s)", vol, pool, path);
			return -ENOENT;
		}
		struct vol_record rec = { .name = (char *)vol, .format = (char *)format, .path = path,
					  .pool = (char *)pool };
		store_batch_vol_add(b, &rec);
	}
	return 0;
}

int svc_ct_ha_adopt(const char *uuid, const json_t *def, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = NULL;
	struct ct_def *d = ctdef_from_json(json_object_get(def, "ctdef"), CTDEF_FROM_STORE, err);
	struct ct_record old = { 0 };
	char vm[37];
	int r;
	if (!d) {
		if (!err->len)
			buf_adds(err, "the HA resource carries no container definition");
		return -EINVAL;
	}
	pthread_mutex_lock(&svc_defs_lock);
	if (strcasecmp(d->uuid, uuid) != 0 || !d->volume || d->rootfs) {
		buf_adds(err, "the HA resource's container definition is not the one it protects");
		r = -EINVAL;
		goto out;
	}
	if (store_ct_get(svc_cfg.store, d->uuid, &old) == 0) {
		ct_record_release(&old);
		r = 0; /* taken over already (a corrald killed after the commit) */
		goto out;
	}
	if (store_ct_get(svc_cfg.store, d->name, &old) == 0 || store_vm_lookup(svc_cfg.store, d->name, vm) == 0) {
		buf_printf(err, "a %s named '%s' exists here already", old.uuid ? "container" : "VM", d->name);
		ct_record_release(&old);
		r = -EEXIST;
		goto out;
	}
	if ((r = ct_idmap_same_here(d, "this host", err)) < 0)
		goto out;
	if ((r = svc_net_check_ct(d, err)) < 0)
		goto out;
	dir = xasprintf("%s/%s", lp, d->name);
	if (fs_exists(dir) > 0) {
		/* only liblxc's config and log of an earlier stay (a take-over cut short): ours to replace */
		__do_free char *inside = xasprintf("%s/rootfs", dir);
		if (fs_exists(inside) > 0) {
			buf_printf(err, "%s exists here already and holds a root: not touching it", dir);
			r = -EEXIST;
			goto out;
		}
		if ((r = ctrt_undefine(lp, d->name, err)) < 0)
			goto out;
	}
	struct store_batch *b = store_batch_new();
	if ((r = vols_adopt(json_object_get(def, "disks"), b, err)) < 0) {
		store_batch_free(b);
		goto out;
	}
	{
		/* liblxc's config names the root where the pool's copy says (each start names it again) */
		struct ctrt_config cfg;
		__do_free char *real = NULL;
		size_t i;
		json_t *dj;
		json_array_foreach(json_object_get(def, "disks"), i, dj)
		{
			const char *vol = json_string_value(json_object_get(dj, "volume"));
			struct pool_record pr = { 0 };
			if (vol && strcmp(vol, d->volume) == 0 &&
			    store_pool_get(svc_cfg.store, json_string_value(json_object_get(dj, "pool")), &pr) == 0)
				real = xasprintf("%s/%s/rootfs", pr.path, json_string_value(json_object_get(dj, "file")));
			pool_record_release(&pr);
		}
		if (!real) {
			buf_printf(err, "the HA resource lists no volume for the root %s", d->volume);
			store_batch_free(b);
			r = -EINVAL;
			goto out;
		}
		ct_cfg_of(d, real, &cfg);
		if ((r = ctrt_define(lp, &cfg, err)) < 0) {
			store_batch_free(b);
			goto out;
		}
	}
	{
		__do_json json_t *j = ctdef_to_json(d);
		json_object_del(j, "created");
		__do_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		store_batch_ct_put(b, d->uuid, d->name, text, true);
	}
	r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	if (r < 0) {
		struct buf e = BUF_INIT;
		ctrt_undefine(lp, d->name, &e);
		buf_release(&e);
		goto out;
	}
	pthread_mutex_unlock(&svc_defs_lock);
	svc_net_ct_hosts_refresh(d);
	ctdef_free(d);
	return 0;
out:
	pthread_mutex_unlock(&svc_defs_lock);
	ctdef_free(d);
	return r;
}

int svc_ct_ha_forget(const char *uuid, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct job_hold *h = NULL;
	int r = ct_load(uuid, &rec, &d, err);
	if (r < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "ha-forget", &h, err)) < 0)
		goto out;
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' runs here", d->name);
		r = -EBUSY;
		goto out;
	}
	if (d->rootfs || !d->volume) {
		buf_printf(err, "container '%s' has no root volume: not dropped", d->name);
		r = -EINVAL;
		goto out;
	}
	/* the rows only (the container's, then its volumes'): the tree is the new owner's */
	struct store_batch *b = store_batch_new();
	store_batch_ct_delete(b, d->uuid);
	store_batch_vol_delete(b, d->volume);
	for (int i = 0; i < d->nmounts; i++)
		store_batch_vol_delete(b, d->mounts[i].volume);
	r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	if (r < 0)
		goto out;
	fenced_clear(d->uuid);
	/* liblxc's config and log; a volume root has no rootfs/ in there */
	if (ctrt_undefine(lp, d->name, err) < 0)
		log_warn("container %s: record dropped, but %s/%s stays: %s", d->name, lp, d->name, err->s);
	buf_reset(err);
	svc_net_ct_hosts_refresh(d);
out:
	job_release(h);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}
