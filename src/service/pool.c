/*
 * pool.c - storage pools (see pool.h): create, list, show, delete, and the
 * holds volume operations take on the pool they write into.
 *
 * A pool is a directory (storage/pool.h checks it) recorded in the store.
 * The default pool, at corrald's storage directory, is made at start.  Every
 * volume operation that puts a file into a pool holds it (svc_pool_hold) for
 * its whole duration, and pool changes happen under pools_lock, so a pool
 * cannot be deleted under a running create, import or move, and two pools
 * can never claim overlapping directories.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pool.h"
#include "service/internal.h"
#include "storage/pool.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define DEFAULT_POOL "default"

static pthread_mutex_t pools_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *holds; /* pool name -> number of volume operations using it */

static void cleanup_pool_record(struct pool_record *p) { pool_record_release(p); }
#define __do_pool_record __attribute__((cleanup(cleanup_pool_record)))

int svc_pool_init(struct buf *err)
{
	__do_pool_record struct pool_record p = { 0 };
	__do_free char *canon = NULL;
	struct buf why __do_buf = BUF_INIT;
	bool exists;
	int r;

	if ((r = pool_path_resolve(svc_cfg.storage_dir, &canon, &exists, &why)) < 0 || !exists) {
		buf_printf(err, "cannot use the storage directory as the default pool: %s",
			   why.len ? why.s : "it does not exist");
		return r < 0 ? r : -ENOENT;
	}
	r = store_pool_get(svc_cfg.store, DEFAULT_POOL, &p);
	if (r == 0 && strcmp(p.path, canon) == 0)
		return 0;
	if (r == 0) {
		/* --storage-dir changed: new volumes go to the new directory; existing ones keep their paths. */
		log_info("default pool moves from %s to %s", p.path, canon);
		store_pool_delete(svc_cfg.store, DEFAULT_POOL);
	} else if (r != -ENOENT) {
		buf_adds(err, "cannot read the pools from the state database");
		return r;
	}
	if ((r = store_pool_insert(svc_cfg.store, DEFAULT_POOL, canon, false)) < 0) {
		buf_adds(err, "cannot record the default pool in the state database");
		return r;
	}
	log_info("default pool at %s", canon);
	return 0;
}

static int check_pool_name(const char *name, struct buf *err)
{
	const char *bad = str_name_invalid(name);
	if (!bad)
		return 0;
	buf_printf(err, "invalid pool name: %s", bad);
	return -EINVAL;
}

/* The pool `name` (validated); -ENOENT with a message when there is none. */
static int get_pool(const char *name, struct pool_record *p, struct buf *err)
{
	int r;
	if ((r = check_pool_name(name, err)) < 0)
		return r;
	r = store_pool_get(svc_cfg.store, name, p);
	if (r == -ENOENT)
		buf_printf(err, "pool '%s' not found", name);
	else if (r < 0)
		buf_printf(err, "cannot look up pool '%s' in the state database", name);
	return r;
}

/* Names of the volumes in pool `name` as "a, b" into out (NULL: only counted); their number. */
static size_t pool_volumes(const char *name, struct buf *out)
{
	struct vol_record *list;
	size_t n, count = 0;

	if (store_vol_list(svc_cfg.store, &list, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(list[i].pool ? list[i].pool : DEFAULT_POOL, name) != 0)
			continue;
		if (out)
			buf_printf(out, "%s%s", count ? ", " : "", list[i].name);
		count++;
	}
	store_vol_list_free(list, n);
	return count;
}

static json_t *pool_json(const struct pool_record *p)
{
	struct buf err = BUF_INIT;
	struct pool_usage u;
	char created[40];
	json_t *j;
	int r;

	j = json_pack("{s:s,s:s,s:b}", "name", p->name, "path", p->path, "shared", p->shared);
	r = pool_usage_get(p->path, &u, &err);
	if (r < 0)
		log_warn("pool %s: %s", p->name, err.s);
	json_object_set_new(j, "capacity", r < 0 ? json_null() : json_integer((json_int_t)u.capacity));
	json_object_set_new(j, "used", r < 0 ? json_null() : json_integer((json_int_t)u.used));
	json_object_set_new(j, "free", r < 0 ? json_null() : json_integer((json_int_t)u.free));
	json_object_set_new(j, "volumes", json_integer((json_int_t)pool_volumes(p->name, NULL)));
	json_object_set_new(j, "created", json_string(time_fmt_rfc3339(p->created_ms, created, sizeof(created))));
	buf_release(&err);
	return j;
}

json_t *svc_pool_list(void)
{
	struct pool_record *list;
	size_t n;
	json_t *arr = json_array();

	if (store_pool_list(svc_cfg.store, &list, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, pool_json(&list[i]));
		store_pool_list_free(list, n);
	}
	return json_pack("{s:o}", "pools", arr);
}

int svc_pool_get(const char *name, json_t **out, struct buf *err)
{
	__do_pool_record struct pool_record p = { 0 };
	int r = get_pool(name, &p, err);
	if (r == 0)
		*out = pool_json(&p);
	return r;
}

/* -EEXIST + message if `path` (canonical) is, holds or lies in an existing pool's directory. */
static int check_overlap(const char *path, struct buf *err)
{
	struct pool_record *list;
	size_t n;
	int r = 0;

	if ((r = store_pool_list(svc_cfg.store, &list, &n)) < 0) {
		buf_adds(err, "cannot read the pools from the state database");
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const char *other = list[i].path;
		if (strcmp(path, other) == 0)
			buf_printf(err, "%s is already the directory of pool '%s'", path, list[i].name);
		else if (pool_paths_overlap(path, other))
			buf_printf(err, "%s %s pool '%s' (%s); pools cannot nest", path,
				   strlen(path) > strlen(other) ? "lies inside" : "contains", list[i].name, other);
		else
			continue;
		r = -EEXIST;
	}
	store_pool_list_free(list, n);
	return r;
}

/*
 * A pool's directory is an allowed root for host files (service/hostpath.h):
 * never the host's own system directories, nor one holding corrald's state
 * (its database).  Refused with -EACCES, as hostpath refuses files.
 */
static int check_system_dir(const char *path, struct buf *err)
{
	static const char *const system[] = { "/etc", "/proc", "/sys", "/dev", "/boot", "/usr", "/bin",
					      "/sbin", "/lib", "/lib32", "/lib64", "/run" };
	for (size_t i = 0; i < ARRAY_SIZE(system); i++) {
		if (pool_paths_overlap(path, system[i])) {
			buf_printf(err, "%s %s system directory %s: a pool's files can be imported and booted, "
				   "so it cannot be a pool", path, strcmp(path, system[i]) ? "overlaps the" : "is the", system[i]);
			return -EACCES;
		}
	}
	if (pool_path_within(svc_cfg.state_dir, path)) {
		buf_printf(err, "%s holds corrald's state directory %s (its database): it cannot be a pool", path,
			   svc_cfg.state_dir);
		return -EACCES;
	}
	return 0;
}

int svc_pool_create(const char *name, const char *path, bool shared, json_t **out, struct buf *err)
{
	__do_pool_record struct pool_record existing = { 0 };
	__do_free char *canon = NULL;
	bool exists = false;
	int r;

	if ((r = check_pool_name(name, err)) < 0)
		return r;
	if ((r = pool_path_resolve(path, &canon, &exists, err)) < 0)
		return r;
	pthread_mutex_lock(&pools_lock);
	if (store_pool_get(svc_cfg.store, name, &existing) == 0) {
		buf_printf(err, "pool '%s' already exists", name);
		r = -EEXIST;
		goto out;
	}
	if ((r = check_overlap(canon, err)) < 0 || (r = check_system_dir(canon, err)) < 0)
		goto out;
	if (!exists && mkdir(canon, 0711) < 0) {
		r = -errno;
		buf_printf(err, "cannot create pool directory %s: %s", canon, strerror(-r));
		goto out;
	}
	if ((r = store_pool_insert(svc_cfg.store, name, canon, shared)) < 0) {
		buf_printf(err, "cannot record pool '%s' in the state database", name);
		if (!exists)
			rmdir(canon);
		goto out;
	}
	log_info("created pool %s at %s%s", name, canon, shared ? " (shared)" : "");
out:
	pthread_mutex_unlock(&pools_lock);
	if (r == 0)
		r = svc_pool_get(name, out, err);
	return r;
}

int svc_pool_delete(const char *name, struct buf *err)
{
	__do_pool_record struct pool_record p = { 0 };
	struct buf vols = BUF_INIT;
	int r;

	if ((r = get_pool(name, &p, err)) < 0)
		return r;
	if (strcmp(name, DEFAULT_POOL) == 0) {
		buf_adds(err, "the default pool cannot be deleted");
		return -EBUSY;
	}
	pthread_mutex_lock(&pools_lock);
	if (json_integer_value(json_object_get(holds, name)) > 0) {
		buf_printf(err, "pool '%s' is in use by a running volume job; try again when it is done", name);
		r = -EBUSY;
	} else if (pool_volumes(name, &vols) > 0) {
		buf_printf(err, "pool '%s' still holds volumes: %s; move or delete them first", name, vols.s);
		r = -EBUSY;
	} else if ((r = store_pool_delete(svc_cfg.store, name)) < 0) {
		buf_printf(err, "cannot remove pool '%s' from the state database", name);
	} else {
		log_info("deleted pool %s (its directory %s is left in place)", name, p.path);
	}
	pthread_mutex_unlock(&pools_lock);
	buf_release(&vols);
	return r;
}

int svc_pool_hold(const char *name, char **path, struct buf *err)
{
	__do_pool_record struct pool_record p = { 0 };
	int r;

	if (!name)
		name = DEFAULT_POOL;
	pthread_mutex_lock(&pools_lock);
	if ((r = get_pool(name, &p, err)) == 0) {
		if (!holds)
			holds = json_object();
		json_object_set_new(holds, name, json_integer(json_integer_value(json_object_get(holds, name)) + 1));
		*path = move_ptr(p.path);
	}
	pthread_mutex_unlock(&pools_lock);
	return r;
}

void svc_pool_put(const char *name)
{
	if (!name)
		name = DEFAULT_POOL;
	pthread_mutex_lock(&pools_lock);
	json_int_t n = json_integer_value(json_object_get(holds, name)) - 1;
	if (n > 0)
		json_object_set_new(holds, name, json_integer(n));
	else
		json_object_del(holds, name);
	pthread_mutex_unlock(&pools_lock);
}
