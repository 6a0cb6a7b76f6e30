/*
 * replica.c - the replica host's half of synchronous disk replication
 * (replicate.h): replica volumes made at the VM's host's request, served
 * by a qemu-storage-daemon per VM (qemu/qsd.h) that outlives corrald, and
 * removed when replication stops.  Record: STATE/replicas/<uuid>/replica.json
 * {"uuid","name","source","address","port","disks":[{"volume","path","format",
 * "reused"}]}; the key lives in STATE/replicas/<uuid>/key (0700, QEMU's user).
 * A volume of a disk's name that exists already is reused (not made) when
 * it is a stale copy of the VM (replica_stale.c) or the request says
 * "reuse", and fits (size, format, a local pool, used by nothing): the VM's
 * host then compares hashes (svc_replica_hashes) and copies what differs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/replicate.h"
#include "service/resync.h"
#include "core/store.h"
#include "qemu/migrate.h"
#include "qemu/qsd.h"
#include "service/internal.h"
#include "service/migrate_common.h"
#include "storage/volume.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/log.h"
#include "util/runas.h"
#include "util/strutil.h"
#include "util/common.h"

static pthread_mutex_t rp_lock = PTHREAD_MUTEX_INITIALIZER;

static char *rp_dir(const char *uuid) { return xasprintf("%s/replicas/%s", svc_cfg.state_dir, uuid); }

/* An IP address (it goes into the daemon's option list): nothing else. */
static bool addr_ok(const char *a)
{
	unsigned char buf[sizeof(struct in6_addr)];
	return a && (inet_pton(AF_INET, a, buf) == 1 || inet_pton(AF_INET6, a, buf) == 1);
}

static json_t *rec_load(const char *uuid)
{
	__do_free char *dir = rp_dir(uuid);
	__do_free char *path = xasprintf("%s/replica.json", dir);
	return json_load_file(path, 0, NULL);
}

static int rec_save(const char *uuid, const json_t *rec, struct buf *err)
{
	__do_free char *dir = rp_dir(uuid);
	__do_free char *path = xasprintf("%s/replica.json", dir);
	__do_free char *text = json_dumps(rec, JSON_COMPACT);
	int r = fs_write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
	return r;
}

/* Start the daemon of rec (a running one is kept). */
static int rp_serve(const json_t *rec, struct buf *err)
{
	const json_t *disks = json_object_get(rec, "disks");
	const char *uuid = json_string_value(json_object_get(rec, "uuid"));
	__do_free char *dir = rp_dir(uuid);
	size_t n = json_array_size(disks), i;
	struct qsd_disk *d = xcalloc(n ? n : 1, sizeof(*d));
	json_t *dj;

	json_array_foreach(disks, i, dj) {
		d[i].path = json_string_value(json_object_get(dj, "path"));
		d[i].format = json_string_value(json_object_get(dj, "format"));
		d[i].export = json_string_value(json_object_get(dj, "volume"));
	}
	struct qsd_spec s = { .dir = dir, .addr = json_string_value(json_object_get(rec, "address")),
			      .port = (int)json_integer_value(json_object_get(rec, "port")), .disks = d,
			      .ndisks = (int)n };
	int r = qsd_start(&s, err);
	free(d);
	return r;
}

/* The replica's own files, once its daemon is stopped: key, record, log, directory. */
static void rp_files_remove(const char *uuid)
{
	__do_free char *dir = rp_dir(uuid);
	__do_free char *kdir = xasprintf("%s/key", dir);
	__do_free char *rec = xasprintf("%s/replica.json", dir);
	__do_free char *log = xasprintf("%s/qsd.log", dir);

	mig_psk_remove(kdir);
	unlink(rec);
	unlink(log);
	rmdir(dir);
}

/* Remove everything of replica uuid: daemon, volumes, key, record. */
static void rp_remove(const char *uuid, const json_t *volumes)
{
	__do_free char *dir = rp_dir(uuid);
	size_t i;
	json_t *v;

	qsd_stop(dir);
	json_array_foreach(volumes, i, v) {
		const char *name = json_is_string(v) ? json_string_value(v) : json_string_value(json_object_get(v, "volume"));
		__do_buf struct buf e = BUF_INIT;
		if (name && vol_delete(svc_cfg.store, name, &e) < 0)
			log_warn("replica %s: volume %s: %s", uuid, name, e.s);
	}
	rp_files_remove(uuid);
}

/* A new key and port for the daemon of rec, and the daemon started on them. */
static int rp_rekey_serve(json_t *rec, const char *psk, struct buf *err)
{
	const char *uuid = json_string_value(json_object_get(rec, "uuid"));
	const char *addr = json_string_value(json_object_get(rec, "address"));
	__do_free char *dir = rp_dir(uuid);
	__do_free char *kdir = xasprintf("%s/key", dir);
	int port, r;

	qsd_stop(dir);
	if ((r = mig_psk_write(kdir, psk, err)) < 0 || (r = mig_port_pick(addr, &port, err)) < 0)
		return r;
	json_object_set_new(rec, "port", json_integer(port));
	json_object_del(rec, "released"); /* served again: a switchover onto it did not happen */
	if ((r = rec_save(uuid, rec, err)) < 0)
		return r;
	return rp_serve(rec, err);
}

/* Only the host whose VM it is may re-key or remove a replica. */
static int rp_caller_check(const json_t *rec, const char *caller, struct buf *err)
{
	const char *source = json_string_value(json_object_get(rec, "source"));
	if (caller && strcmp(caller, source ?: "")) {
		buf_printf(err, "the replica of VM %s belongs to host %s", json_string_value(json_object_get(rec, "name")) ?: "?",
			   source ?: "?");
		return -EACCES;
	}
	return 0;
}

/* The VM of a replica must not be defined here while its export serves the
 * volumes: a switchover onto them (migrate.c) is under way or done. */
static int rp_not_here(const json_t *rec, struct buf *err)
{
	char found[37];
	if (store_vm_lookup(svc_cfg.store, json_string_value(json_object_get(rec, "uuid")) ?: "", found) == 0) {
		buf_printf(err, "vm %s is defined on %s (a migration onto its replica): its replica is not served again "
				"until that is undone",
			   json_string_value(json_object_get(rec, "name")) ?: "?", mig_self_name());
		return -EBUSY;
	}
	return 0;
}

/* Under rp_lock: VM uuid's replica record, if this host holds one and
 * caller (NULL: this host) may change it; else NULL, *r and err set. */
static json_t *rp_owned(const char *uuid, const char *caller, int *r, struct buf *err)
{
	json_t *rec = rec_load(uuid);
	if (!rec) {
		buf_printf(err, "%s holds no replica of VM %s", mig_self_name(), uuid);
		*r = -ENOENT;
	} else if ((*r = rp_caller_check(rec, caller, err)) < 0) {
		json_decref(rec);
		rec = NULL;
	}
	return rec;
}

/* May the existing volume of disk dj hold the replica of VM uuid?  Only a
 * stale copy of it (or any volume with reuse), of the disk's size and
 * format, in a local pool, used by no VM, container or other replica. */
static int rp_reuse_check(const json_t *dj, const char *uuid, bool reuse, struct buf *err)
{
	const char *vol = json_string_value(json_object_get(dj, "volume"));
	const char *format = json_string_value(json_object_get(dj, "format"));
	json_int_t cap = json_integer_value(json_object_get(dj, "capacity"));
	__do_free char *stale = svc_volume_stale_of(vol);
	__do_free char *replica = NULL;
	struct vol_record v = { 0 };
	struct pool_record pr = { 0 };
	struct vol_info info = { 0 };
	__do_buf struct buf why = BUF_INIT;
	int r = 0;

	if (!reuse && (!stale || strcmp(stale, uuid))) {
		buf_printf(err,
			   "a volume named '%s' exists on %s already and is not a stale copy of this VM; if it is an "
			   "older copy of this disk, 'vm replicate --to %s --reuse' compares it and copies only what "
			   "differs",
			   vol, mig_self_name(), mig_self_name());
		return -EEXIST;
	}
	if (store_vol_get(svc_cfg.store, vol, &v) < 0) {
		buf_printf(err, "volume %s vanished", vol);
		return -ENOENT;
	}
	if (v.vm || v.ct) {
		buf_printf(err, "volume '%s' on %s is used by %s '%s': it cannot hold a replica", vol, mig_self_name(),
			   v.vm ? "vm" : "container", v.vm ? (v.vm_name ?: v.vm) : (v.ct_name ?: v.ct));
		r = -EBUSY;
	} else if ((replica = svc_replica_of_volume(vol))) {
		buf_printf(err, "volume '%s' on %s is the replica of vm %s already", vol, mig_self_name(), replica);
		r = -EBUSY;
	} else if (v.readonly || v.backing) {
		buf_printf(err, "volume '%s' on %s is a template's or a linked clone: it cannot hold a replica", vol,
			   mig_self_name());
		r = -EINVAL;
	} else if (store_pool_get(svc_cfg.store, v.pool ? v.pool : "default", &pr) < 0 || pr.shared) {
		buf_printf(err, "volume '%s' on %s is not in a local pool: it cannot hold a replica", vol, mig_self_name());
		r = -EINVAL;
	} else if (strcmp(v.format ?: "", format ?: "")) {
		buf_printf(err, "volume '%s' on %s is %s, the disk is %s: it cannot be reused", vol, mig_self_name(),
			   v.format ?: "?", format ?: "?");
		r = -EINVAL;
	} else if (vol_stat(v.path, v.format, &info, &why) < 0 || (json_int_t)info.capacity != cap) {
		buf_printf(err, "volume '%s' on %s has a virtual size of %llu bytes, the disk %lld: it cannot be reused",
			   vol, mig_self_name(), (unsigned long long)info.capacity, (long long)cap);
		r = -EINVAL;
	}
	pool_record_release(&pr);
	vol_record_release(&v);
	return r;
}

int svc_replica_create(const json_t *req, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "vm", "name", "source", "address", "psk", "disks", "reuse", NULL };
	bool reuse = json_is_true(json_object_get(req, "reuse"));
	__do_json json_t *reused = json_array();
	const char *uuid = json_string_value(json_object_get(req, "vm"));
	const char *name = json_string_value(json_object_get(req, "name"));
	const char *source = json_string_value(json_object_get(req, "source"));
	const char *addr = json_string_value(json_object_get(req, "address"));
	const char *psk = json_string_value(json_object_get(req, "psk"));
	const json_t *disks = json_object_get(req, "disks");
	__do_json json_t *created = json_array();
	__do_json json_t *recorded = json_array();
	__do_json json_t *rec = NULL;
	__do_free char *dir = NULL;
	__do_free char *top = NULL;
	char existing[37];
	size_t i;
	json_t *dj;
	int r;

	if ((r = json_check_keys(req, "replica request", keys, err)) < 0)
		return r;
	if (!str_uuid_valid(uuid) || !name || str_name_invalid(name) || !source || str_name_invalid(source) || !addr_ok(addr) ||
	    !psk || !mig_psk_valid(psk) || !json_is_array(disks) || json_array_size(disks) == 0 ||
	    json_array_size(disks) > 64) {
		buf_adds(err, "the replica request needs vm (a uuid), name, source, address, a valid psk and disks");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	if ((rec = rec_load(uuid))) {
		buf_printf(err, "%s holds a replica of VM %s already (from %s)", mig_self_name(), name,
			   json_string_value(json_object_get(rec, "source")) ?: "?");
		r = -EEXIST;
		goto out;
	}
	if (store_vm_lookup(svc_cfg.store, name, existing) == 0 || store_vm_lookup(svc_cfg.store, uuid, existing) == 0) {
		buf_printf(err, "a VM named '%s' (or with its uuid) exists on %s: it cannot hold its replica", name,
			   mig_self_name());
		r = -EEXIST;
		goto out;
	}
	dir = rp_dir(uuid);
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		goto out;
	}
	/* the daemon (QEMU's user) reaches its key in dir/key: only the search bit */
	top = xasprintf("%s/replicas", svc_cfg.state_dir);
	if ((r = runas_traversable(top, err)) < 0 || (r = runas_traversable(dir, err)) < 0)
		goto out;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[]}", "uuid", uuid, "name", name, "source", source, "address",
			addr, "port", 0, "disks");
	json_array_foreach(disks, i, dj) {
		if (!json_is_true(json_object_get(dj, "copy"))) {
			buf_adds(err, "a replica disk must be a copy");
			r = -EINVAL;
			goto fail;
		}
		const char *vol = json_string_value(json_object_get(dj, "volume"));
		struct vol_record v = { 0 };
		bool exists = vol && !str_name_invalid(vol) && store_vol_get(svc_cfg.store, vol, &v) == 0;
		vol_record_release(&v);
		if (exists) {
			if ((r = rp_reuse_check(dj, uuid, reuse, err)) < 0)
				goto fail;
			json_array_append_new(reused, json_string(vol));
		} else if ((r = mig_disk_accept(dj, created, recorded, err)) < 0) {
			goto fail;
		}
		if ((r = store_vol_get(svc_cfg.store, vol, &v)) < 0) {
			buf_printf(err, "volume %s vanished", vol);
			goto fail;
		}
		json_array_append_new(json_object_get(rec, "disks"),
				      json_pack("{s:s, s:s, s:s, s:b}", "volume", vol, "path", v.path, "format", v.format,
						"reused", exists));
		vol_record_release(&v);
	}
	if ((r = rp_rekey_serve(rec, psk, err)) < 0)
		goto fail;
	/* the replica record holds them now (svc_replica_delete with keep marks them again) */
	json_array_foreach(reused, i, dj)
		svc_volume_stale_clear(json_string_value(dj));
	*out = json_pack("{s:O, s:O}", "port", json_object_get(rec, "port"), "reused", reused);
	log_info("replica of vm %s from %s: %zu volume(s) (%zu reused) served on %s port %d", name, source,
		 json_array_size(disks), json_array_size(reused), addr,
		 (int)json_integer_value(json_object_get(rec, "port")));
	r = 0;
	goto out;
fail:
	rp_remove(uuid, created);
out:
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int svc_replica_export(const char *uuid, const char *caller, const json_t *req, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "psk", NULL };
	const char *psk = json_string_value(json_object_get(req, "psk"));
	__do_json json_t *rec = NULL;
	int r;

	if ((r = json_check_keys(req, "replica export request", keys, err)) < 0)
		return r;
	if (!str_uuid_valid(uuid) || !psk || !mig_psk_valid(psk)) {
		buf_adds(err, "the replica export request needs a uuid and a valid psk");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	if ((rec = rp_owned(uuid, caller, &r, err)) && (r = rp_not_here(rec, err)) == 0 &&
	    (r = rp_rekey_serve(rec, psk, err)) == 0) {
		*out = json_pack("{s:O}", "port", json_object_get(rec, "port"));
	}
	pthread_mutex_unlock(&rp_lock);
	return r;
}

/* Stop serving replica uuid but keep its volumes, marked as stale copies of the VM. */
static void rp_keep(const char *uuid, const json_t *disks)
{
	__do_free char *dir = rp_dir(uuid);
	size_t i;
	json_t *d;

	qsd_stop(dir);
	json_array_foreach(disks, i, d) {
		__do_buf struct buf e = BUF_INIT;
		if (svc_volume_mark_stale(json_string_value(json_object_get(d, "volume")), uuid, &e) < 0)
			log_warn("replica %s: %s", uuid, e.s);
	}
	rp_files_remove(uuid);
}

int svc_replica_delete(const char *uuid, const char *caller, bool keep, json_t **out, struct buf *err)
{
	__do_json json_t *rec = NULL;
	int r = 0;

	if (!str_uuid_valid(uuid)) {
		buf_adds(err, "not a VM uuid");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	if ((rec = rp_owned(uuid, caller, &r, err))) {
		size_t i;
		json_t *d;
		const char *what = keep ? "kept" : "deleted";
		*out = json_pack("{s:[]}", what);
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			json_array_append(json_object_get(*out, what), json_object_get(d, "volume"));
		if (keep)
			rp_keep(uuid, json_object_get(rec, "disks"));
		else
			rp_remove(uuid, json_object_get(rec, "disks"));
		log_info("replica of vm %s %s", json_string_value(json_object_get(rec, "name")) ?: uuid,
			 keep ? "stopped; its volumes kept as a stale copy" : "removed");
	}
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int svc_replica_hashes(const char *uuid, const char *caller, const json_t *req, json_t **out, struct buf *err)
{
	static const char *const keys[] = { "volume", "offset", "count", "chunk", NULL };
	const char *vol = json_string_value(json_object_get(req, "volume"));
	int64_t offset = 0, count = 0, chunk = 0;
	__do_json json_t *rec = NULL;
	struct resync_hashes hs = { 0 };
	struct nbd_handle *h = NULL;
	uint64_t size = 0;
	bool found = false;
	size_t i;
	json_t *d;
	int r;

	if ((r = json_check_keys(req, "replica hash request", keys, err)) < 0)
		return r;
	if (json_get_int(req, "offset", 0, INT64_MAX, &offset, err) < 0 ||
	    json_get_int(req, "count", 1, RESYNC_PAGE_MAX, &count, err) < 0 ||
	    json_get_int(req, "chunk", 4096, 4 << 20, &chunk, err) < 0)
		return -EINVAL;
	if (!str_uuid_valid(uuid) || !vol || str_name_invalid(vol) || count == 0 || chunk == 0 || (chunk & (chunk - 1)) ||
	    offset % chunk) {
		buf_adds(err, "the replica hash request needs a volume, a power-of-two chunk, a chunk-aligned offset and "
			      "a count of 1-1024");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	rec = rp_owned(uuid, caller, &r, err);
	pthread_mutex_unlock(&rp_lock);
	if (!rec)
		return r;
	json_array_foreach(json_object_get(rec, "disks"), i, d)
		found |= !strcmp(json_string_value(json_object_get(d, "volume")) ?: "", vol);
	if (!found) {
		buf_printf(err, "volume %s is not part of the replica of vm %s", vol,
			   json_string_value(json_object_get(rec, "name")) ?: uuid);
		return -ENOENT;
	}
	/* read through the replica's own export: the daemon holds the volume */
	__do_free char *dir = rp_dir(uuid);
	__do_free char *kdir = xasprintf("%s/key", dir);
	if ((r = resync_nbd_connect_tcp(json_string_value(json_object_get(rec, "address")),
					(int)json_integer_value(json_object_get(rec, "port")), vol, kdir, false, &h,
					err)) < 0)
		return r;
	if ((r = resync_nbd_size(h, &size, err)) == 0) {
		if ((uint64_t)offset >= size) {
			buf_printf(err, "offset %lld is past the end of volume %s", (long long)offset, vol);
			r = -EINVAL;
		} else if ((r = resync_hash_range(h, size, (uint64_t)offset, (uint32_t)chunk, (size_t)count, &hs, err)) == 0) {
			*out = resync_hashes_json(&hs, vol);
			resync_hashes_release(&hs);
		}
	}
	resync_nbd_close(h);
	return r;
}

char *svc_replica_of_volume(const char *name)
{
	__do_free char *top = xasprintf("%s/replicas", svc_cfg.state_dir);
	DIR *dp = opendir(top);
	struct dirent *e;
	char *out = NULL;

	/* no rp_lock: records are replaced atomically, and the caller holds
	 * svc_defs_lock (rp_lock must stay independent of it) */
	while (dp && !out && (e = readdir(dp))) {
		if (!str_uuid_valid(e->d_name))
			continue;
		__do_json json_t *rec = rec_load(e->d_name);
		size_t i;
		json_t *d;
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			if (!out && !strcmp(json_string_value(json_object_get(d, "volume")) ?: "", name))
				out = xasprintf("%s on %s", json_string_value(json_object_get(rec, "name")) ?: "?",
						json_string_value(json_object_get(rec, "source")) ?: "?");
	}
	if (dp)
		closedir(dp);
	return out;
}

void svc_replica_adopt(void)
{
	__do_free char *top = xasprintf("%s/replicas", svc_cfg.state_dir);
	DIR *dp = opendir(top);
	struct dirent *e;

	while (dp && (e = readdir(dp))) {
		if (!str_uuid_valid(e->d_name))
			continue;
		__do_json json_t *rec = rec_load(e->d_name);
		__do_free char *dir = rp_dir(e->d_name);
		__do_buf struct buf err = BUF_INIT;
		struct proc_identity id;
		if (!rec)
			continue;
		if (json_is_true(json_object_get(rec, "released"))) {
			/* its VM is being (or was) switched over onto it: served again only when
			 * the VM's host undoes that (svc_replica_export) */
			log_info("replica of vm %s: released for a switchover; not served",
				 json_string_value(json_object_get(rec, "name")) ?: e->d_name);
			continue;
		}
		if (qsd_running(dir, &id)) {
			log_info("replica of vm %s: qemu-storage-daemon (pid %d) re-adopted",
				 json_string_value(json_object_get(rec, "name")) ?: e->d_name, (int)id.pid);
		} else if (rp_serve(rec, &err) < 0) {
			log_warn("replica of vm %s: cannot serve it again: %s",
				 json_string_value(json_object_get(rec, "name")) ?: e->d_name, err.s);
		}
	}
	if (dp)
		closedir(dp);
}

int svc_replica_takeover(const char *uuid, struct buf *err)
{
	__do_json json_t *rec = NULL;
	int r = 0;

	if (!str_uuid_valid(uuid)) {
		buf_adds(err, "not a VM uuid");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	if ((rec = rp_owned(uuid, NULL, &r, err))) {
		__do_free char *dir = rp_dir(uuid);
		/* the daemon first: nothing may write the volumes once the VM has them */
		if ((r = qsd_stop(dir)) < 0) {
			buf_printf(err, "cannot stop the replica's qemu-storage-daemon: %s", strerror(-r));
		} else {
			rp_files_remove(uuid);
			log_info("replica of vm %s from %s taken over: its %zu volume(s) are the VM's disks now",
				 json_string_value(json_object_get(rec, "name")) ?: uuid,
				 json_string_value(json_object_get(rec, "source")) ?: "?",
				 json_array_size(json_object_get(rec, "disks")));
		}
	}
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int svc_replica_switch_volumes(const char *uuid, const char *source, json_t **volumes, struct buf *err)
{
	__do_json json_t *rec = NULL;
	int r = 0;
	size_t i;
	json_t *d;

	if (!str_uuid_valid(uuid)) {
		buf_adds(err, "not a VM uuid");
		return -EINVAL;
	}
	pthread_mutex_lock(&rp_lock);
	if ((rec = rp_owned(uuid, source, &r, err))) {
		*volumes = json_array();
		json_array_foreach(json_object_get(rec, "disks"), i, d)
			json_array_append(*volumes, json_object_get(d, "volume"));
	}
	pthread_mutex_unlock(&rp_lock);
	return r;
}

int svc_replica_release(const char *uuid, struct buf *err)
{
	__do_json json_t *rec = NULL;
	int r = 0;

	pthread_mutex_lock(&rp_lock);
	if ((rec = rp_owned(uuid, NULL, &r, err))) {
		__do_free char *dir = rp_dir(uuid);
		/* recorded first: a restarted corrald does not serve it again (svc_replica_adopt) */
		json_object_set_new(rec, "released", json_true());
		if ((r = rec_save(uuid, rec, err)) == 0 && (r = qsd_stop(dir)) < 0)
			buf_printf(err, "cannot stop the replica's qemu-storage-daemon: %s", strerror(-r));
		if (r == 0)
			log_info("replica of vm %s: its export stopped for a switchover onto it",
				 json_string_value(json_object_get(rec, "name")) ?: uuid);
	}
	pthread_mutex_unlock(&rp_lock);
	return r;
}
