/*
 * migrate_common.c - see migrate_common.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#include <openssl/evp.h>

#include "service/migrate_common.h"
#include "service/migrate_recover.h"
#include "core/job.h"
#include "core/store.h"
#include "qemu/runtime.h"
#include "service/internal.h"
#include "service/peer.h"
#include "service/replicate.h"
#include "service/pool.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/common.h"

const char *mig_self_name(void) { return svc_cfg.host_name ? svc_cfg.host_name : "localhost"; }

int mig_target_check(const char *to, struct buf *err)
{
	struct peer *p = NULL;
	int r;

	if (!to || !*to) {
		buf_adds(err, "the destination host is required (--to HOST)");
		return -EINVAL;
	}
	if (!strcmp(to, mig_self_name())) {
		buf_printf(err, "%s is this host; migrate to another one", to);
		return -EINVAL;
	}
	if ((r = peer_open(to, &p, err)) < 0) /* unknown host: answered now, not by the job */
		return r;
	peer_close(p);
	return 0;
}

int mig_movable(const struct vm_def *d, const char *onto_replica, struct buf *err)
{
	int r;
	if (onto_replica && svc_vm_replicated(d->uuid) &&
	    (r = svc_replicate_switch_check(d->uuid, d->name, onto_replica, NULL, err)) < 0)
		return r;
	if (!onto_replica && svc_vm_replicated(d->uuid)) {
		buf_printf(err, "%s is replicated (docs/ha.md); stop it first with 'corral vm replicate %s --stop'", d->name,
			   d->name);
		return -EBUSY;
	}
	if (d->cdrom) {
		buf_printf(err, "%s: a CD-ROM medium is inserted (a file of this host); eject it first", d->name);
		return -EBUSY;
	}
	return 0;
}

int mig_disk_copied(const char *volume, bool *copy, char **pool, struct buf *err)
{
	struct vol_record v = { 0 };
	struct pool_record pr = { 0 };
	int r;

	if ((r = store_vol_get(svc_cfg.store, volume, &v)) < 0) {
		buf_printf(err, "volume %s is gone", volume);
		return r;
	}
	*copy = !(store_pool_get(svc_cfg.store, v.pool ? v.pool : "default", &pr) == 0 && pr.shared);
	if (*copy && v.backing) {
		buf_printf(err, "disk %s is a linked clone of %s; local linked clones cannot be migrated", volume,
			   v.backing);
		r = -ENOTSUP;
	}
	if (pool)
		*pool = xstrdup(v.pool ? v.pool : "default");
	pool_record_release(&pr);
	vol_record_release(&v);
	return r;
}

int mig_machine_check(struct vm_def *d, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	int r = svc_machine_pin(d, &why);

	if (r < 0)
		buf_printf(err, "%s cannot run %s: %s", mig_self_name(), d->name, why.s);
	return r;
}

int mig_port_pick(const char *addr, int *port, struct buf *err)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	__do_close int fd = -EBADF;

	if (getaddrinfo(addr, "0", &hints, &ai) != 0 || !ai) {
		buf_printf(err, "'%s' is not an IP address of this host", addr);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		int e = errno;
		freeaddrinfo(ai);
		buf_printf(err, "cannot listen on %s: %s", addr, strerror(e));
		return -e;
	}
	freeaddrinfo(ai);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int mig_disk_accept(const json_t *dj, json_t *created, json_t *recorded, struct buf *err)
{
	const char *vol = json_string_value(json_object_get(dj, "volume"));
	const char *pool = json_string_value(json_object_get(dj, "pool"));
	const char *format = json_string_value(json_object_get(dj, "format"));
	const char *file = json_string_value(json_object_get(dj, "file"));
	bool copy = json_is_true(json_object_get(dj, "copy"));
	json_int_t cap = json_integer_value(json_object_get(dj, "capacity"));
	json_int_t alloc = json_integer_value(json_object_get(dj, "allocation"));
	struct vol_record existing = { 0 };
	struct pool_record pr = { 0 };
	int r;

	if (!vol || str_name_invalid(vol) || !pool || !format || (strcmp(format, "qcow2") && strcmp(format, "raw")) ||
	    cap <= 0 || alloc < 0 || (!copy && (!file || !*file || strstr(file, "..") || file[0] == '/'))) {
		buf_adds(err, "invalid disk in the migration request");
		return -EINVAL;
	}
	if (store_vol_get(svc_cfg.store, vol, &existing) == 0) {
		vol_record_release(&existing);
		buf_printf(err, "a volume named '%s' exists on %s already", vol, mig_self_name());
		return -EEXIST;
	}
	if (store_pool_get(svc_cfg.store, pool, &pr) < 0) {
		buf_printf(err, "%s has no pool '%s' for disk %s", mig_self_name(), pool, vol);
		return -ENOENT;
	}
	if (!copy) {
		/* Shared: the same file, seen through this host's mount of the pool. */
		__do_free char *path = xasprintf("%s/%s", pr.path, file);
		struct vol_record rec = { .name = (char *)vol, .format = (char *)format, .path = path,
					  .pool = (char *)pool };
		if (!pr.shared) {
			buf_printf(err, "pool '%s' is not shared on %s", pool, mig_self_name());
			r = -EINVAL;
		} else if (!fs_exists(path)) {
			buf_printf(err, "%s does not see disk %s in its shared pool '%s' (%s)", mig_self_name(), vol, pool,
				   path);
			r = -ENOENT;
		} else if ((r = store_vol_add(svc_cfg.store, &rec)) < 0) {
			buf_printf(err, "cannot record volume %s", vol);
		} else {
			json_array_append_new(recorded, json_string(vol));
		}
		pool_record_release(&pr);
		return r;
	}
	pool_record_release(&pr);
	__do_free char *dir = NULL;
	if ((r = svc_pool_hold(pool, &dir, err)) < 0)
		return r;
	struct statvfs sv;
	if (statvfs(dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < (uint64_t)alloc + (64u << 20)) {
		char have[16], need[16];
		buf_printf(err, "pool '%s' on %s has %s free; disk %s needs %s", pool, mig_self_name(),
			   str_fmt_size((uint64_t)sv.f_bavail * sv.f_frsize, have, sizeof(have)), vol,
			   str_fmt_size((uint64_t)alloc + (64u << 20), need, sizeof(need)));
		r = -ENOSPC;
	} else if ((r = vol_create(svc_cfg.store, dir, vol, (uint64_t)cap, format, err)) == 0) {
		json_array_append_new(created, json_string(vol));
	}
	svc_pool_put(pool);
	return r;
}

json_t *mig_disk_describe(const char *volume, bool copy, uint64_t *capacity, struct buf *err)
{
	struct vol_record v = { 0 };
	struct pool_record pr = { 0 };
	struct vol_info info = { 0 };
	const char *file = NULL;

	if (store_vol_get(svc_cfg.store, volume, &v) < 0 || vol_stat(v.path, v.format, &info, err) < 0) {
		if (!err->len)
			buf_printf(err, "volume %s is gone", volume);
		vol_record_release(&v);
		return NULL;
	}
	if (!copy && store_pool_get(svc_cfg.store, v.pool ? v.pool : "default", &pr) == 0) {
		size_t n = strlen(pr.path);
		if (!strncmp(v.path, pr.path, n) && v.path[n] == '/')
			file = v.path + n + 1;
	}
	json_t *dj = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s?}", "volume", v.name, "pool",
			       v.pool ? v.pool : "default", "format", v.format, "copy", copy, "capacity",
			       (json_int_t)info.capacity, "allocation", (json_int_t)info.allocation, "file", file);
	if (capacity)
		*capacity = info.capacity;
	pool_record_release(&pr);
	vol_record_release(&v);
	return dj;
}

void mig_unknown(const char *uuid, struct buf *err, const char *fmt, ...)
{
	__do_buf struct buf why = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&why, fmt, ap);
	va_end(ap);
	svc_vm_event(uuid, "migrate", why.s);
	buf_reset(err);
	buf_adds(err, why.s);
}

/* The most NVRAM vars a prepare request carries: OVMF's largest (528 KiB)
 * with room, in base64 well under the API's 1 MiB body. */
#define MIG_NVRAM_MAX (640u << 10)

int mig_nvram_add(const struct vm_def *d, json_t *req, struct buf *err)
{
	__do_buf struct buf raw = BUF_INIT;
	__do_free char *path = NULL, *enc = NULL;
	int r;

	if (d->firmware != FIRMWARE_UEFI)
		return 0;
	path = rt_nvram_path(d->uuid);
	/* the qemu user's file, in its directory: no symlink or hard link followed */
	if ((r = fs_read_file_regular(path, MIG_NVRAM_MAX, &raw)) == -ENOENT)
		return 0;
	if (r < 0 || raw.len == 0) {
		buf_printf(err, "cannot read the NVRAM vars %s of %s: %s", path, d->name,
			   r == -EFBIG ? "larger than OVMF's" : r < 0 ? strerror(-r) : "the file is empty");
		return r < 0 ? r : -EIO;
	}
	enc = xmalloc(4 * ((raw.len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)raw.s, (int)raw.len);
	json_object_set_new(req, "nvram", json_string(enc));
	return 0;
}

int mig_nvram_accept(const struct vm_def *d, const json_t *req, struct buf *err)
{
	const json_t *nj = json_object_get(req, "nvram");
	const char *s = json_string_value(nj);
	size_t n = json_string_length(nj);
	__do_free unsigned char *dec = NULL;
	__do_free char *enc = NULL;
	int len, r;

	if (!nj)
		return 0;
	if (d->firmware != FIRMWARE_UEFI || !s || n == 0 || n % 4 != 0 || n > 4 * ((MIG_NVRAM_MAX + 2) / 3)) {
		buf_adds(err, "nvram is the NVRAM vars of a UEFI VM, in base64, at most 640 KiB");
		return -EINVAL;
	}
	dec = xmalloc(n / 4 * 3);
	enc = xmalloc(n + 1);
	len = EVP_DecodeBlock(dec, (const unsigned char *)s, (int)n);
	/* EVP_DecodeBlock counts the '=' padding as zero bytes, and lets some
	 * misplaced padding pass: only what encodes back to s is base64. */
	for (size_t i = n; len > 0 && i > n - 2 && s[i - 1] == '='; i--)
		len--;
	if (len <= 0 || EVP_EncodeBlock((unsigned char *)enc, dec, len) != (int)n || memcmp(enc, s, n) != 0) {
		buf_adds(err, "nvram is not valid base64");
		return -EINVAL;
	}
	if ((r = rt_nvram_write(d->uuid, dec, (size_t)len)) < 0) {
		buf_printf(err, "cannot write the NVRAM vars of %s on %s: %s", d->name, mig_self_name(), strerror(-r));
		return r;
	}
	return 0;
}

int mig_handover_taken(struct peer *peer, const char *base)
{
	__do_free char *path = xasprintf("%s/status", base);
	__do_buf struct buf e = BUF_INIT;
	__do_json json_t *reply = NULL;
	int r = peer_call(peer, "POST", path, NULL, &reply, NULL, &e);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return -1;
	return !strcmp(json_string_value(json_object_get(reply, "state")) ?: "", "finished");
}

int mig_out_failed(struct peer *peer, const char *abort_path, bool prepared, const char *uuid, const char *noun,
		   const char *name, const char *to, struct job *j, int r, struct buf *err)
{
	if (prepared) {
		__do_buf struct buf e = BUF_INIT;
		long st = 0;
		int r2 = peer_call(peer, "POST", abort_path, NULL, NULL, &st, &e);
		if (r2 < 0 && r2 != -ENOENT) {
			log_warn("%s %s: cannot abort the migration on %s: %s; asking again later", noun, name, to, e.s);
			mig_rec_phase(uuid, "aborting");
		} else {
			mig_rec_drop(uuid);
		}
	} else {
		mig_rec_drop(uuid);
	}
	{
		__do_free char *d = xasprintf("offline migration to %s failed, the %s stays here: %s", to, noun,
					      err->len ? err->s : "failed");
		svc_vm_event(uuid, "migrate", d);
	}
	if (job_cancelled(j) || r == -ECANCELED) {
		buf_reset(err);
		buf_printf(err, "offline migration of %s to %s cancelled; it stays here", name, to);
		return -ECANCELED;
	}
	return r;
}

void mig_replica_left(const char *uuid, const char *name, const char *volume)
{
	__do_buf struct buf e = BUF_INIT;

	if (svc_volume_mark_stale(volume, uuid, &e) < 0)
		log_warn("vm %s: volume %s stays here, not marked as its stale copy: %s", name, volume, e.s);
}
