/*
 * ct_create.c - containers whose root takes a while to make, as a job
 * ("ct-create"): a root unpacked from a tarball (`ct create
 * --from-tarball FILE`) or the debian template's (its cached base,
 * ct_debian.c, unpacked the same way).  ct.c checks the definition and
 * opens the tarball at the request (an unknown network, a taken name, a
 * file outside the allowed host paths are refused at once); this file
 * makes it.
 *
 * The steps follow a clone's (ct_snap.c): the root volume is made and the
 * liblxc directory defined (which reserves the name), the job records
 * {name, uuid, volume} before the unpack, the root is unpacked
 * (lxc/untar.c: hostile entries refused, owners shifted into the id
 * range), and the row is stored last.  A failure or a cancel removes the
 * directory and the volume; after a kill -9 of corrald the next one does
 * (svc_ct_clone_recover, from service/recover.c, which reads the same
 * record), so no half root is ever a container.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "service/internal.h"
#include "service/network.h"
#include "core/job.h"
#include "util/cleanup.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/timeutil.h"

#define UNPACK_MARGIN (4u << 20) /* free space kept beyond what the unpack writes */

struct create_op {
	struct ct_def *d;
	int fd;
};

static void create_op_free(void *p)
{
	struct create_op *o = p;
	if (o->fd >= 0)
		close(o->fd);
	ctdef_free(o->d);
	free(o);
}

struct unpack_progress {
	struct job *j;
	int64_t next_ms;
	bool debian; /* the unpack is the last tenth of the debian template's job */
};

static int unpack_tick(void *opaque, uint64_t read, uint64_t total)
{
	struct unpack_progress *p = opaque;
	int64_t now = time_mono_ms();
	if (job_cancelled(p->j))
		return 1;
	if (now >= p->next_ms && total) {
		if (read >= total)
			read = total - 1;
		if (p->debian)
			job_progress(p->j, 90.0 + 10.0 * (double)read / (double)total, 0, -1);
		else
			job_progress_bytes(p->j, read, total);
		p->next_ms = now + 1000;
	}
	return 0;
}

/* Bytes free for the root at rootfs (its parent: the volume's directory or the mounted image), less a margin. */
static uint64_t room_for(const char *rootfs)
{
	__do_free char *parent = xstrdup(rootfs);
	struct statvfs v;
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	if (statvfs(parent, &v) < 0)
		return 1; /* unknown: the unpack stops at its first byte, with a sentence */
	uint64_t avail = (uint64_t)v.f_bavail * v.f_frsize;
	return avail > UNPACK_MARGIN ? avail - UNPACK_MARGIN : 1;
}

/* An unpacked root's init: present (a symlink counts, it is resolved inside
 * the container); *halt: the signal that halts it when it is a link to
 * busybox (SIGUSR1) or systemd (SIGRTMIN+3), else NULL (liblxc's SIGPWR). */
static int init_check(const char *rootfs, const char **halt, struct buf *err)
{
	__do_free char *init = xasprintf("%s/sbin/init", rootfs);
	char target[PATH_MAX];
	struct stat st;
	if (lstat(init, &st) < 0) {
		buf_adds(err, "the tarball's root has no /sbin/init: it cannot boot as a system container");
		return -EINVAL;
	}
	ssize_t n = S_ISLNK(st.st_mode) ? readlink(init, target, sizeof(target) - 1) : -1;
	*halt = NULL;
	if (n > 0) {
		target[n] = '\0';
		const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		*halt = strcmp(base, "busybox") == 0 ? "SIGUSR1" : strcmp(base, "systemd") == 0 ? "SIGRTMIN+3" : NULL;
	}
	return 0;
}

/* etc/FILE (under the root's etc directory etcfd) replaced by text, owned by uid:gid; one that is
 * not a regular file (a symlink) is left alone, so is one absent when only_existing. */
static int etc_put(int etcfd, const char *file, const char *text, uid_t uid, gid_t gid, bool only_existing)
{
	struct stat st;
	char tmp[64];
	if (fstatat(etcfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 ? !S_ISREG(st.st_mode) : only_existing)
		return 0;
	snprintf(tmp, sizeof(tmp), ".corral-%s.new", file);
	unlinkat(etcfd, tmp, 0);
	__do_close int fd = openat(etcfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fchown(fd, uid, gid) < 0 || fchmod(fd, 0644) < 0 ||
	    renameat(etcfd, tmp, etcfd, file) < 0) {
		int e = errno ? errno : EIO;
		unlinkat(etcfd, tmp, 0);
		return -e;
	}
	return 0;
}

/*
 * The container's name in its root: /etc/hostname (a tarball's only when
 * it has one: systemd sets the hostname from it, over liblxc's
 * lxc.uts.name) and, for the debian template, /etc/hosts.  The root may be
 * the tarball's, hostile: /etc is opened without following a symlink and
 * each file written beside its name and renamed over it.
 */
static int name_write(const char *rootfs, const struct ct_def *d, struct buf *err)
{
	bool debian = d->tmpl == CT_TEMPLATE_DEBIAN;
	uid_t uid = d->privileged ? 0 : d->idmap.uid_base;
	gid_t gid = d->privileged ? 0 : d->idmap.gid_base;
	__do_free char *hostname = xasprintf("%s\n", d->name);
	__do_free char *hosts = xasprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\n\n::1\tlocalhost ip6-localhost "
					  "ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
					  d->name);
	__do_close int root = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	__do_close int etc = root < 0 ? -EBADF : openat(root, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r = 0;
	if (etc < 0)
		return 0; /* no /etc of its own: nothing names the host */
	errno = 0;
	if ((r = etc_put(etc, "hostname", hostname, uid, gid, !debian)) == 0 && debian)
		r = etc_put(etc, "hosts", hosts, uid, gid, false);
	if (r < 0)
		buf_printf(err, "cannot write the container's name into %s/etc: %s", rootfs, strerror(-r));
	return r;
}

/* The create's work (create_run: then the name's claim goes). */
static int create_make(struct job *j, struct create_op *o, struct buf *err)
{
	struct ct_def *d = o->d;
	__do_free char *lp = ct_lxcpath();
	__do_free char *dir = xasprintf("%s/%s", lp, d->name), *rootfs = NULL;
	struct ctrt_config cfg;
	struct stat st;
	const char *halt = NULL;
	bool made_vol = false;
	int r;

	if (d->tmpl == CT_TEMPLATE_DEBIAN && (r = ct_debian_base(j, d->release, &o->fd, err)) < 0)
		return r;
	/* the root volume and the liblxc directory: the name is this job's from here */
	job_set_phase(j, "making the root of %s", d->name);
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = ct_name_free(d->name, err)) == 0 && (r = svc_net_check_ct(d, err)) == 0 &&
	    (r = ct_dir_taken(dir, d->name, err)) == 0) {
		if (fstat(o->fd, &st) < 0) {
			buf_printf(err, "cannot read the tarball: %s", strerror(errno));
			r = -errno;
		} else if ((r = ct_root_vol_make(d, d->pool, (uint64_t)st.st_size + UNPACK_MARGIN, err)) == 0) {
			made_vol = true;
			rootfs = ct_rootfs_of(d);
			ct_cfg_of(d, rootfs, &cfg);
			if ((r = ctrt_define(lp, &cfg, err)) == 0)
				ct_name_claim(d->name, job_id(j));
		}
	}
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto undo_vol;
	/* for start-up recovery (svc_ct_clone_recover): what to remove if corrald dies now */
	job_record_result(j, json_pack("{s:s,s:s,s:s?}", "name", d->name, "uuid", d->uuid, "volume", d->volume));
	if ((r = ct_root_mount(d, err)) < 0)
		goto undo;
	{
		struct unpack_progress p = { j, time_mono_ms() + 1000, d->tmpl == CT_TEMPLATE_DEBIAN };
		struct ctrt_untar u = { .privileged = d->privileged, .uid_base = d->idmap.uid_base,
					.gid_base = d->idmap.gid_base, .id_count = d->idmap.count,
					.max_bytes = room_for(rootfs), .tick = unpack_tick, .opaque = &p };
		job_set_phase(j, "unpacking %s", d->tmpl == CT_TEMPLATE_DEBIAN ? "the Debian base" : d->tarball);
		if (lseek(o->fd, 0, SEEK_SET) < 0 || (r = ctrt_untar(o->fd, rootfs, &u, err)) < 0) {
			if (r == 0) {
				r = -errno;
				buf_printf(err, "cannot read the tarball: %s", strerror(errno));
			} else if (r != -ECANCELED) {
				struct buf e = BUF_INIT;
				buf_printf(&e, "%s%s", d->tarball ? "tarball: " : "", err->s);
				buf_reset(err);
				buf_adds(err, e.s);
				buf_release(&e);
			}
			goto undo;
		}
		if (u.skipped_devices)
			log_info("container %s: %llu device nodes of the tarball skipped (liblxc mounts its own /dev)",
				 d->name, (unsigned long long)u.skipped_devices);
	}
	if ((r = init_check(rootfs, &halt, err)) < 0)
		goto undo;
	if (d->tarball && halt && !d->halt_signal[0]) {
		/* busybox and systemd do not halt on liblxc's SIGPWR: a graceful stop must reach them */
		snprintf(d->halt_signal, sizeof(d->halt_signal), "%s", halt);
		if ((r = ctrt_halt_signal_set(lp, d->name, d->halt_signal, err)) < 0)
			goto undo;
	}
	if ((r = name_write(rootfs, d, err)) < 0)
		goto undo;
	ct_root_umount(d);
	if (job_cancelled(j)) {
		buf_printf(err, "cancelled: container '%s' is removed again", d->name);
		r = -ECANCELED;
		goto undo;
	}
	job_set_phase(j, "storing %s", d->name);
	if ((r = ct_store_new(d, err)) < 0)
		goto undo;
	ct_mounts_give(d);
	svc_net_ct_hosts_refresh(d);
	{
		__do_free char *ev = d->tarball ? xasprintf("created from tarball %s", d->tarball)
						: xasprintf("created from the debian template (%s)", d->release);
		svc_vm_event(d->uuid, "container", ev);
	}
	json_t *out = NULL;
	struct buf se = BUF_INIT;
	if (svc_ct_show(d->uuid, &out, &se) == 0)
		job_set_result(j, out);
	buf_release(&se);
	return 0;
undo:
	{
		struct buf e = BUF_INIT;
		ct_root_umount(d);
		if (ctrt_undefine(lp, d->name, &e) < 0)
			log_warn("container create %s: cannot remove %s: %s", d->name, dir, e.s);
		buf_release(&e);
	}
undo_vol:
	if (made_vol)
		ct_root_vol_undo(d);
	if (job_cancelled(j) && r != -ECANCELED) {
		buf_reset(err);
		buf_printf(err, "cancelled: container '%s' is removed again", d->name);
		r = -ECANCELED;
	}
	return r;
}

static int create_run(struct job *j, void *arg, struct buf *err)
{
	int r = create_make(j, arg, err);
	ct_name_unclaim(job_id(j));
	return r;
}

int ct_create_job(struct ct_def *d, int fd, json_t **job, struct buf *err)
{
	struct create_op *o = xcalloc(1, sizeof(*o));
	o->d = d;
	o->fd = fd;
	struct job_spec spec = { .type = "ct-create", .target = d->name, .vm = d->uuid, .vm_name = d->name,
				 .run = create_run, .arg = o, .free_arg = create_op_free };
	return job_start(&spec, job, err);
}

bool svc_ct_create_recover(const json_t *result)
{
	ct_debian_leftovers_clean();
	return result && svc_ct_clone_recover(result);
}
