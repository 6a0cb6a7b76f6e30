/*
 * ct.c - system containers (see ct.h): the service rules around liblxc.
 *
 * A create builds the root (busybox template) or checks the given one,
 * writes liblxc's config, then commits the store row; any failure undoes
 * the steps before it.  Actions run as jobs holding the container's lock.
 * A start installs each NIC's traffic filter (service/network.h), then
 * hands liblxc the NICs and limits of the definition for that start
 * (struct ctrt_run); a stop or kill removes the filters.  Limits are
 * liblxc's cgroup keys: which hierarchy (v1 or v2) carries each controller
 * is read once from the host's mounts (cgroup/cgroup.h).
 */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ct.h"
#include "ct_internal.h"
#include "vm.h"
#include "service/internal.h"
#include "service/ha.h"
#include "service/ha_lease.h"
#include "service/hostpath.h"
#include "service/network.h"
#include "service/pool.h"
#include "service/migrate_recover.h"
#include "cgroup/cgroup.h"
#include "core/ctdef.h"
#include "core/job.h"
#include "core/select.h"
#include "lxc/lxc.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/cleanup.h"
#include "util/common.h"

#define EXEC_MAX_OUTPUT (1u << 20)
#define SUBID_COUNT 65536u

char *ct_lxcpath(void) { return xasprintf("%s/lxc", svc_cfg.state_dir); }

bool ct_is_stopped(const char *lp, const struct ct_def *d)
{
	return strcmp(ctrt_state(lp, d->name, NULL), "STOPPED") == 0;
}

/* The record and parsed definition of container `key`; -ENOENT + sentence. */
int ct_load(const char *key, struct ct_record *rec, struct ct_def **d, struct buf *err)
{
	int r = store_ct_get(svc_cfg.store, key, rec);
	if (r == -ENOENT) {
		buf_printf(err, "container '%s' not found", key);
		return r;
	}
	if (r < 0) {
		buf_adds(err, "cannot read the container list");
		return r;
	}
	__do_json json_t *j = json_loads(rec->def, 0, NULL);
	if (!(*d = ctdef_from_json(j, CTDEF_FROM_STORE, err))) {
		ct_record_release(rec);
		return -EIO;
	}
	return 0;
}

const char *ct_halt_signal(const struct ct_def *d)
{
	if (d->halt_signal[0])
		return d->halt_signal;
	/* busybox init halts on SIGUSR1 (what LXC's busybox template sets); systemd on SIGRTMIN+3
	 * (bookworm's has no unit for liblxc's SIGPWR in a container) */
	return d->tmpl == CT_TEMPLATE_BUSYBOX ? "SIGUSR1" : d->tmpl == CT_TEMPLATE_DEBIAN ? "SIGRTMIN+3" : NULL;
}

void ct_cfg_of(const struct ct_def *d, const char *rootfs, struct ctrt_config *c)
{
	*c = (struct ctrt_config){ .name = d->name, .rootfs = rootfs, .privileged = d->privileged,
				   .uid_base = d->idmap.uid_base, .gid_base = d->idmap.gid_base,
				   .id_count = d->idmap.count,
				   .init_halt_signal = ct_halt_signal(d) };
}

/* ---- limits ---- */

/* Where the memory, cpu and pids controllers are (1: v1, 2: v2, 0: none), as liblxc sees them. */
static int cg_version[3];
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;
static const char *const cg_names[3] = { "memory", "cpu", "pids" };

static void cg_detect(void)
{
	struct cgroup_host h;
	struct buf e = BUF_INIT;
	if (cgroup_host_detect(&h, "corral", &e) == 0)
		for (int i = 0; i < 3; i++)
			cg_version[i] = cgroup_host_controller_version(&h, cg_names[i]);
	else
		log_warn("containers: no cgroup hierarchy found, so no container limits: %s", e.s);
	buf_release(&e);
}

/* A limit whose controller this host lacks is refused (-ENOTSUP). */
static int limits_check_host(const struct ct_limits *l, struct buf *err)
{
	bool want[3] = { l->memory_limit_mib > 0, l->cpu_weight || l->cpu_limit_centi, l->pids_limit > 0 };
	pthread_once(&cg_once, cg_detect);
	for (int i = 0; i < 3; i++)
		if (want[i] && !cg_version[i]) {
			buf_printf(err, "this host has no cgroup '%s' controller (v1 or v2), so that limit cannot be "
				   "enforced", cg_names[i]);
			return -ENOTSUP;
		}
	return 0;
}

static void rt_limits_of(const struct ct_limits *l, struct ctrt_limits *out)
{
	pthread_once(&cg_once, cg_detect);
	*out = (struct ctrt_limits){ .cpu_weight = (unsigned)l->cpu_weight, .cpu_limit_centi = (unsigned)l->cpu_limit_centi,
				     .memory_bytes = (uint64_t)l->memory_limit_mib << 20, .pids = (uint64_t)l->pids_limit,
				     .v2_memory = cg_version[0] == 2, .v2_cpu = cg_version[1] == 2,
				     .v2_pids = cg_version[2] == 2 };
}

/* What the running container's cgroup holds, as "limits" in its status (NULL: not running). */
static json_t *limits_now(const struct ct_def *d)
{
	__do_free char *lp = ct_lxcpath();
	struct ctrt_limits l;
	struct ctrt_usage u;
	struct buf e = BUF_INIT;
	rt_limits_of(&d->limits, &l);
	int r = ctrt_limits_get(lp, d->name, &l, &u, &e);
	buf_release(&e);
	if (r < 0)
		return NULL;
	json_t *j = json_object();
	json_object_set_new(j, "cpu_weight", l.cpu_weight ? json_integer(l.cpu_weight) : json_null());
	json_object_set_new(j, "cpu_limit", l.cpu_limit_centi ? json_real(l.cpu_limit_centi / 100.0) : json_null());
	json_object_set_new(j, "memory_limit_mib", l.memory_bytes ? json_integer((json_int_t)(l.memory_bytes >> 20))
								   : json_null());
	json_object_set_new(j, "pids_limit", l.pids ? json_integer((json_int_t)l.pids) : json_null());
	if (u.has_memory_used)
		json_object_set_new(j, "memory_used", json_integer((json_int_t)u.memory_used));
	if (u.has_pids_current)
		json_object_set_new(j, "pids", json_integer((json_int_t)u.pids_current));
	json_object_set_new(j, "cgroup", json_string(cg_version[0] == 2 ? "v2" : "v1"));
	return j;
}

/* root's first range of at least SUBID_COUNT ids in `file` (/etc/subuid, /etc/subgid). */
static int subid_range(const char *file, uint32_t *base, struct buf *err)
{
	__do_buf struct buf b = BUF_INIT;
	if (fs_read_file(file, 1 << 20, &b) == 0) {
		for (char *line = b.s; line && *line;) {
			char *nl = strchr(line, '\n');
			unsigned long long lo, cnt;
			char who[64];
			if (nl)
				*nl = '\0';
			if (sscanf(line, "%63[^:]:%llu:%llu", who, &lo, &cnt) == 3 &&
			    (strcmp(who, "root") == 0 || strcmp(who, "0") == 0) && cnt >= SUBID_COUNT && lo > 0 &&
			    lo + cnt <= UINT32_MAX) {
				*base = (uint32_t)lo;
				return 0;
			}
			line = nl ? nl + 1 : NULL;
		}
	}
	buf_printf(err, "unprivileged containers need a range of %u subordinate ids for root in %s "
		   "(scripts/setup-user.sh adds root:100000:65536; docs/containers.md), or create it --privileged",
		   SUBID_COUNT, file);
	return -ENOTSUP;
}

static bool sel_match(const struct selector *sel, const struct ct_record *rec)
{
	const char *name = rec->name, *uuid = rec->uuid;

	switch (sel->kind) {
	case SEL_PLAIN: return strcmp(sel->value, name) == 0 || strcasecmp(sel->value, uuid) == 0;
	case SEL_NAME_GLOB: return fnmatch(sel->value, name, 0) == 0;
	case SEL_UUID: return strcasecmp(sel->value, uuid) == 0;
	case SEL_TAG: {
		__do_json json_t *j = json_loads(rec->def, 0, NULL);
		struct buf e = BUF_INIT;
		struct ct_def *d = ctdef_from_json(j, CTDEF_FROM_STORE, &e);
		bool has = d && ctdef_has_tag(d, sel->value);
		ctdef_free(d);
		buf_release(&e);
		return has;
	}
	default: return false;
	}
}

static json_t *ct_entry(const struct ct_def *d, bool full)
{
	__do_free char *lp = ct_lxcpath();
	char job[64];
	pid_t pid;
	const char *st = ctrt_state(lp, d->name, &pid);
	__do_free char *lower = xstrdup(st);
	for (char *p = lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	json_t *j = ctdef_to_json(d);
	job_vm_current(d->uuid, job, sizeof(job));
	json_t *status = json_pack("{s:s,s:o,s:o}", "state", lower, "pid", pid > 0 ? json_integer(pid) : json_null(),
				   "job", job[0] ? json_string(job) : json_null());
	json_object_set_new(status, "nics", svc_net_ct_nic_status(d));
	if (full) {
		__do_free char *dir = xasprintf("%s/%s", lp, d->name);
		json_t *lim = pid > 0 ? limits_now(d) : NULL;
		if (lim)
			json_object_set_new(status, "limits", lim);
		json_object_set_new(status, "lxcpath", json_string(lp));
		json_object_set_new(status, "storage", ct_storage_json(d));
		json_object_set_new(status, "config", json_string(dir));
		json_object_set_new(status, "events", store_event_list(svc_cfg.store, d->uuid, 20));
	}
	json_object_set_new(j, "kind", json_string("container"));
	json_object_set_new(j, "state", json_string(lower));
	json_object_set_new(j, "status", status);
	return j;
}

json_t *svc_ct_list(const char *selector, struct buf *err)
{
	struct selector sel = { 0 };
	struct ct_record *list;
	size_t n;
	if (selector && selector_parse(selector, &sel, err) < 0)
		return NULL;
	if (store_ct_list(svc_cfg.store, &list, &n) < 0) {
		selector_release(&sel);
		buf_adds(err, "cannot read the container list");
		return NULL;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		if (selector && !sel_match(&sel, &list[i]))
			continue;
		struct buf e = BUF_INIT;
		__do_json json_t *j = json_loads(list[i].def, 0, NULL);
		struct ct_def *d = ctdef_from_json(j, CTDEF_FROM_STORE, &e);
		if (d) {
			d->created_ms = list[i].created_ms;
			json_array_append_new(arr, ct_entry(d, false));
		}
		else
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "name", list[i].name, "uuid",
							     list[i].uuid, "kind", "container", "invalid", e.s));
		ctdef_free(d);
		buf_release(&e);
	}
	store_ct_list_free(list, n);
	selector_release(&sel);
	return json_pack("{s:o}", "containers", arr);
}

int svc_ct_show(const char *key, json_t **out, struct buf *err)
{
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	d->created_ms = rec.created_ms;
	*out = ct_entry(d, true);
	ctdef_free(d);
	ct_record_release(&rec);
	return 0;
}

/* The given root: an existing directory inside an allowed root (a pool or an
 * allow_path entry, hostpath.h), owned by the container's root. */
static int check_rootfs(const struct ct_def *d, struct buf *err)
{
	struct stat st;
	__do_free char *init = xasprintf("%s/sbin/init", d->rootfs);
	int r = hostpath_dir_check("container rootfs", d->rootfs, err);
	if (r < 0)
		return r;
	if (stat(d->rootfs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		buf_printf(err, "container rootfs %s is not a directory", d->rootfs);
		return -EINVAL;
	}
	if (!d->privileged && st.st_uid != d->idmap.uid_base) {
		buf_printf(err, "container rootfs %s is owned by uid %u, but an unprivileged container's root is "
			   "host uid %u: give the tree to that range (docs/containers.md) or create it --privileged",
			   d->rootfs, (unsigned)st.st_uid, d->idmap.uid_base);
		return -EINVAL;
	}
	if (access(init, X_OK) < 0) {
		buf_printf(err, "container rootfs %s has no executable /sbin/init", d->rootfs);
		return -EINVAL;
	}
	return 0;
}

/* Create: a template-built or given root, or (fill set: a restore,
 * svc_ct_create_filled) a root fill writes into the new directory. */
static int ct_create(const json_t *def, svc_ct_fill_fn fill, void *fill_arg, json_t **out, bool *is_job,
		     struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *rootfs = NULL, *dir = NULL;
	__do_close int tarball = -EBADF;
	struct ct_def *d = ctdef_from_json(def, CTDEF_FROM_USER, err);
	char vm[37];
	int r;

	if (!d)
		return -EINVAL;
	if (!d->privileged) {
		uint32_t ub, gb;
		if ((r = subid_range("/etc/subuid", &ub, err)) < 0 || (r = subid_range("/etc/subgid", &gb, err)) < 0)
			goto out;
		d->idmap = (struct ct_idmap){ ub, gb, SUBID_COUNT };
	}
	if (d->rootfs && !fill && (r = check_rootfs(d, err)) < 0)
		goto out;
	/* the tarball: a file inside an allowed root (hostpath.h), opened now and read by the job */
	if (d->tarball && !fill && (r = tarball = hostpath_open("container tarball", d->tarball, NULL, err)) < 0)
		goto out;
	if ((r = limits_check_host(&d->limits, err)) < 0)
		goto out;
	if (d->volume) {
		buf_adds(err, "container definition: 'volume' is chosen by corrald (give 'pool' to pick the root's pool)");
		r = -EINVAL;
		goto out;
	}
	if ((d->rootfs || fill) && (d->pool || d->image_size)) {
		buf_adds(err, "container definition: 'pool' and 'image_size' are for a root corral builds (a template)");
		r = -EINVAL;
		goto out;
	}
	if ((r = ct_mounts_check(d, err)) < 0)
		goto out;
	d->created_ms = 0;
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = svc_net_check_ct(d, err)) < 0) {
		pthread_mutex_unlock(&svc_defs_lock);
		goto out;
	}
	struct ct_record old = { 0 };
	if (store_ct_get(svc_cfg.store, d->name, &old) == 0 || store_vm_lookup(svc_cfg.store, d->name, vm) == 0) {
		buf_printf(err, "a %s named '%s' already exists", old.uuid ? "container" : "vm", d->name);
		ct_record_release(&old);
		pthread_mutex_unlock(&svc_defs_lock);
		r = -EEXIST;
		goto out;
	}
	dir = xasprintf("%s/%s", lp, d->name);
	if ((r = ct_dir_taken(dir, d->name, err)) < 0) {
		pthread_mutex_unlock(&svc_defs_lock);
		goto out;
	}
	/* a root unpacked from a tarball (the debian template's too) takes a while: a job (ct_create.c) */
	if (!fill && (d->tarball || d->tmpl == CT_TEMPLATE_DEBIAN)) {
		json_t *pool = NULL;
		pthread_mutex_unlock(&svc_defs_lock);
		/* an unknown pool is refused now, not after a debootstrap */
		if ((r = svc_pool_get(d->pool ? d->pool : "default", &pool, err)) < 0)
			goto out;
		json_decref(pool);
		*is_job = true;
		r = ct_create_job(move_ptr(d), move_fd(tarball), out, err);
		goto out;
	}
	/* a template's root: a directory volume of its pool, refused when the pool lacks the room */
	if (!d->rootfs && !fill && (r = ct_root_vol_make(d, d->pool, ct_template_need(), err)) < 0) {
		pthread_mutex_unlock(&svc_defs_lock);
		goto out;
	}
	rootfs = ct_rootfs_of(d);
	struct ctrt_config cfg;
	ct_cfg_of(d, rootfs, &cfg);
	if ((r = ctrt_define(lp, &cfg, err)) < 0) {
		ct_root_vol_undo(d);
		pthread_mutex_unlock(&svc_defs_lock);
		goto out;
	}
	if (fill && (r = fill(rootfs, fill_arg, err)) < 0)
		goto undo;
	/* an image root is mounted while the template is built into it, then unmounted */
	if (!fill && (r = ct_root_mount(d, err)) < 0)
		goto undo;
	if (!fill && d->tmpl == CT_TEMPLATE_BUSYBOX &&
	    (r = ctrt_rootfs_busybox(rootfs, d->privileged ? 0 : d->idmap.uid_base,
				     d->privileged ? 0 : d->idmap.gid_base, err)) < 0)
		goto undo;
	ct_root_umount(d);
	{
		__do_json json_t *j = ctdef_to_json(d);
		json_object_del(j, "created");
		__do_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		struct store_batch *b = store_batch_new();
		store_batch_ct_put(b, d->uuid, d->name, text, true);
		r = store_batch_commit(svc_cfg.store, b, err);
		store_batch_free(b);
		if (r < 0)
			goto undo;
	}
	pthread_mutex_unlock(&svc_defs_lock);
	ct_mounts_give(d);
	svc_net_ct_hosts_refresh(d);
	svc_vm_event(d->uuid, "container", "created");
	r = svc_ct_show(d->uuid, out, err);
	goto out;
undo:
	ct_root_umount(d);
	{
		struct buf e = BUF_INIT;
		ctrt_undefine(lp, d->name, &e);
		buf_release(&e);
	}
	ct_root_vol_undo(d);
	pthread_mutex_unlock(&svc_defs_lock);
out:
	ctdef_free(d);
	return r;
}

int svc_ct_create(const json_t *def, json_t **out, bool *is_job, struct buf *err)
{
	*is_job = false;
	return ct_create(def, NULL, NULL, out, is_job, err);
}

int svc_ct_create_filled(const json_t *def, svc_ct_fill_fn fill, void *arg, json_t **out, struct buf *err)
{
	bool is_job = false;
	return ct_create(def, fill, arg, out, &is_job, err);
}

int svc_ct_idmap_host(uint32_t *uid_base, uint32_t *gid_base, uint32_t *count, struct buf *err)
{
	int r;
	if ((r = subid_range("/etc/subuid", uid_base, err)) < 0 || (r = subid_range("/etc/subgid", gid_base, err)) < 0)
		return r;
	*count = SUBID_COUNT;
	return 0;
}

int ct_idmap_same_here(const struct ct_def *d, const char *here, struct buf *err)
{
	uint32_t ub, gb, n;
	int r;
	if (d->privileged)
		return 0;
	if ((r = svc_ct_idmap_host(&ub, &gb, &n, err)) < 0)
		return r;
	if (ub != d->idmap.uid_base || gb != d->idmap.gid_base || n < d->idmap.count) {
		buf_printf(err,
			   "container '%s' maps its ids to host uids %u and gids %u, but %s gives containers "
			   "uids %u and gids %u (/etc/subuid, /etc/subgid): give both hosts root the same "
			   "subordinate range (docs/containers.md)",
			   d->name, d->idmap.uid_base, d->idmap.gid_base, here, ub, gb);
		return -EINVAL;
	}
	return 0;
}

int svc_ct_delete(const char *key, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	__do_free char *rootdir = NULL, *image = NULL;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct job_hold *h = NULL;
	int r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "delete", &h, err)) < 0)
		goto out;
	if (strcmp(ctrt_state(lp, d->name, NULL), "STOPPED") != 0) {
		buf_printf(err, "container '%s' is running: stop it first", d->name);
		r = -EBUSY;
		goto out;
	}
	if (svc_ha_protected(d->uuid)) {
		/* the pool would restart it elsewhere from a root this delete removes */
		buf_printf(err, "container '%s' is HA-protected: corral ha remove %s first", d->name, d->name);
		r = -EBUSY;
		goto out;
	}
	/* the rows first (the container, then its root volume; its mount
	 * points' volumes become free): a crash between the two leaves only
	 * files, which a create of the same name reports rather than reuses */
	rootdir = ct_rootdir_of(d);
	image = ct_root_image_of(d);
	struct store_batch *b = store_batch_new();
	store_batch_ct_delete(b, d->uuid);
	ct_batch_root_delete(b, d);
	r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	if (r < 0)
		goto out;
	/* its snapshots (btrfs subvolumes need their own delete), then a
	 * template-built root (its volume, or in <lxcpath>/<name>); a given one is never removed */
	if ((r = ct_root_files_remove(lp, d, rootdir, image, err)) < 0)
		log_warn("container %s: row deleted but its files stay: %s", d->name, err->s);
	svc_net_ct_hosts_refresh(d);
	store_event_add(svc_cfg.store, d->uuid, "container", "deleted");
	*out = json_pack("{s:[s]}", "deleted", d->name);
	r = 0;
out:
	job_release(h);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

/* ---- actions ---- */

static int ct_start_leased(const char *lp, const struct ct_def *d, struct buf *err);

/* Start d: its disk lease (HA), its NICs' filters and bridges, its limits,
 * then liblxc; a failed start leaves no filter behind. */
static int ct_start(const char *lp, const struct ct_def *d, struct buf *err)
{
	int r;

	if (strcmp(ctrt_state(lp, d->name, NULL), "STOPPED") != 0)
		return 0; /* running already (or on its way): as liblxc's start says */
	/* an HA container on a shared pool: its disk lease first (docs/ha.md "Disk leases") */
	if ((r = ha_lease_acquire(d->uuid, d->name, err)) < 0)
		return r;
	r = ct_start_leased(lp, d, err);
	ha_lease_start_done(d->uuid, r == 0);
	return r;
}

static int ct_start_leased(const char *lp, const struct ct_def *d, struct buf *err)
{
	char bridges[CT_MAX_NICS][16], ports[CT_MAX_NICS][16];
	struct ctrt_nic nics[CT_MAX_NICS];
	struct ctrt_limits lim;
	int opened = 0, r = 0;

	/* an image root: loop-mounted from here until the stop (one left mounted by a killed corrald is used) */
	if ((r = ct_root_mount(d, err)) < 0)
		return r;
	ct_snap_leftovers_clean(lp, d);
	if ((r = limits_check_host(&d->limits, err)) < 0) {
		ct_root_umount(d);
		return r;
	}
	for (; opened < d->nnics; opened++) {
		if ((r = svc_net_ct_nic_open(d, opened, bridges[opened], ports[opened], err)) < 0)
			break;
		nics[opened] = (struct ctrt_nic){ bridges[opened], d->nics[opened].mac, ports[opened] };
	}
	struct ctrt_mount mounts[CT_MAX_MOUNTS];
	char *mpaths[CT_MAX_MOUNTS] = { 0 };
	bool resolved = false;
	if (r == 0 && (r = ct_mounts_resolve(d, mounts, mpaths, err)) == 0)
		resolved = true;
	if (r == 0) {
		/* the root where the store says it is now (a move changes it) */
		__do_free char *rootfs = ct_rootfs_of(d);
		rt_limits_of(&d->limits, &lim);
		struct ctrt_run run = { .nics = nics, .nnics = d->nnics, .limits = &lim, .rootfs = rootfs,
					.mounts = mounts, .nmounts = d->nmounts };
		r = ctrt_start(lp, d->name, &run, err);
	}
	for (int i = 0; resolved && i < d->nmounts; i++)
		free(mpaths[i]);
	if (r < 0) {
		for (int i = 0; i < opened; i++)
			svc_net_ct_nic_closed(d, i);
		if (ct_is_stopped(lp, d))
			ct_root_umount(d);
	}
	return r;
}

/* After a stop or kill: the stopped container's NIC filters go (its veths went with its namespace). */
void ct_stopped(const char *lp, const struct ct_def *d)
{
	if (strcmp(ctrt_state(lp, d->name, NULL), "STOPPED") != 0)
		return;
	for (int i = 0; i < d->nnics; i++)
		svc_net_ct_nic_closed(d, i);
	ct_root_umount(d);
}

int svc_ct_start_now(const char *key, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	struct job_hold *h = NULL;
	char peer[128];
	int r = ct_load(key, &rec, &d, err);

	if (r < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "start", &h, err)) < 0)
		goto out;
	if (!ct_is_stopped(lp, d)) {
		r = 0; /* running already (it ran on while corrald was down) */
		goto out;
	}
	if (mig_rec_unsettled(d->uuid, peer, sizeof(peer))) {
		buf_printf(err, "container '%s' may have moved to %s (its migration is not settled)", d->name, peer);
		r = -EBUSY;
		goto out;
	}
	/* an HA container runs on its owner in the pool only, and never without quorum */
	if ((r = svc_ha_start_check(d->uuid, d->name, err)) < 0)
		goto out;
	if ((r = d->rootfs ? check_rootfs(d, err) : 0) == 0)
		r = ct_start(lp, d, err);
out:
	job_release(h);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

int svc_ct_events(const char *key, int limit, json_t **out, struct buf *err)
{
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(key, &rec, &d, err);

	if (r < 0)
		return r;
	*out = json_pack("{s:o}", "events", store_event_list(svc_cfg.store, d->uuid, limit));
	ctdef_free(d);
	ct_record_release(&rec);
	return 0;
}

/* What an edit may not change: a sentence, or NULL. */
static const char *edit_refusal(const struct ct_def *old, const struct ct_def *nd, const json_t *def)
{
	if (strcmp(old->name, nd->name) != 0)
		return "the name cannot change (its liblxc directory and hostname are named after it)";
	if (json_object_get(def, "uuid") && strcasecmp(old->uuid, nd->uuid) != 0)
		return "the uuid cannot change";
	if (old->tmpl != nd->tmpl || (!old->rootfs) != (!nd->rootfs) ||
	    (old->rootfs && strcmp(old->rootfs, nd->rootfs) != 0) || (!old->tarball) != (!nd->tarball) ||
	    (old->tarball && strcmp(old->tarball, nd->tarball) != 0) || strcmp(old->release, nd->release) != 0)
		return "the root (template, release, tarball or rootfs) cannot change";
	if (old->privileged != nd->privileged)
		return "privileged cannot change (the root's owners follow it)";
	if (nd->volume && (!old->volume || strcmp(old->volume, nd->volume) != 0))
		return "the root volume cannot change (move it to another pool with 'ct move')";
	if (nd->pool)
		return "'pool' is chosen at create (move the root with 'ct move')";
	return NULL;
}

int svc_ct_update(const char *key, const json_t *def, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL, *nd = NULL;
	struct job_hold *h = NULL;
	const char *why;
	int r = ct_load(key, &rec, &d, err);

	if (r < 0)
		return r;
	if (!(nd = ctdef_from_json(def, CTDEF_FROM_USER, err))) {
		r = -EINVAL;
		goto out;
	}
	if ((why = edit_refusal(d, nd, def))) {
		buf_printf(err, "container '%s': %s", d->name, why);
		r = -EINVAL;
		goto out;
	}
	if ((r = limits_check_host(&nd->limits, err)) < 0)
		goto out;
	if ((r = job_hold_vm(d->uuid, d->name, "edit", &h, err)) < 0)
		goto out;
	if (!ct_is_stopped(lp, d)) {
		buf_printf(err, "container '%s' is running: stop it first (limits change live with 'ct limits')", d->name);
		r = -EBUSY;
		goto out;
	}
	/* what corral keeps: the uuid, the id map, the creation time, the snapshots */
	snprintf(nd->uuid, sizeof(nd->uuid), "%s", d->uuid);
	nd->idmap = d->idmap;
	if (!nd->halt_signal[0])
		memcpy(nd->halt_signal, d->halt_signal, sizeof(nd->halt_signal));
	nd->created_ms = d->created_ms;
	nd->snaps = d->snaps;
	nd->nsnaps = d->nsnaps;
	d->snaps = NULL;
	d->nsnaps = 0;
	free(nd->volume);
	nd->volume = d->volume ? xstrdup(d->volume) : NULL;
	pthread_mutex_lock(&svc_defs_lock);
	r = svc_net_check_ct(nd, err);
	if (r == 0)
		r = ct_mounts_check(nd, err);
	if (r == 0)
		r = ct_store_def(nd, false, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto out;
	ct_mounts_give(nd);
	svc_net_ct_hosts_refresh(nd);
	svc_vm_event(d->uuid, "container", "definition edited");
	r = svc_ct_show(d->uuid, out, err);
out:
	job_release(h);
	ctdef_free(nd);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

int ct_action_parse(const char *s)
{
	static const char *const names[] = { [CT_START] = "start", [CT_STOP] = "stop", [CT_KILL] = "kill",
					     [CT_REBOOT] = "reboot" };
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

struct ct_act {
	enum ct_action a;
	struct ct_action_opts o;
	size_t n;
	svc_uuid *uuids;
	bool locked; /* one container: the job holds its lock */
};

static void ct_act_free(void *p)
{
	struct ct_act *x = p;
	free(x->uuids);
	free(x);
}

static int ct_act_one(struct job *j, const struct ct_act *x, const char *uuid, json_t *results)
{
	__do_free char *lp = ct_lxcpath();
	struct buf err = BUF_INIT;
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(uuid, &rec, &d, &err);
	bool held = false;
	static const char *const whats[] = { [CT_START] = "start", [CT_STOP] = "stop", [CT_KILL] = "kill",
					     [CT_REBOOT] = "reboot" };
	const char *what = whats[x->a];

	if (r == 0 && !x->locked && (r = job_lock_vm(j, d->uuid, d->name, &err)) == 0)
		held = true;
	if (r == 0) {
		job_set_phase(j, "%s %s", what, d->name);
		char peer[128];
		if (x->a == CT_START && mig_rec_unsettled(d->uuid, peer, sizeof(peer))) {
			buf_printf(&err, "container '%s' may have moved to %s (its migration is not settled): not "
				   "starting it here until %s answers",
				   d->name, peer, peer);
			r = -EBUSY;
		} else if (x->a != CT_STOP && x->a != CT_KILL && (r = svc_ha_start_check(d->uuid, d->name, &err)) < 0) {
			/* an HA container runs on its owner in the pool only (a reboot starts it again) */
		} else if (x->a == CT_START) {
			/* the config again from the definition: what corral stored is what runs */
			if (!d->rootfs || (r = check_rootfs(d, &err)) == 0)
				r = ct_start(lp, d, &err);
		} else if (x->a == CT_STOP || x->a == CT_REBOOT) {
			if (x->a == CT_REBOOT && strcmp(ctrt_state(lp, d->name, NULL), "RUNNING") != 0) {
				buf_printf(&err, "container '%s' is not running: start it", d->name);
				r = -EINVAL;
			} else {
				r = ctrt_shutdown(lp, d->name, x->o.timeout_s, &err);
				if (r == -ETIMEDOUT && x->o.force) {
					buf_reset(&err);
					r = ctrt_kill(lp, d->name, &err);
				}
				ct_stopped(lp, d);
			}
			/* a reboot starts it again from the definition, as `ct start` does */
			if (r == 0 && x->a == CT_REBOOT) {
				job_set_phase(j, "start %s", d->name);
				if (!d->rootfs || (r = check_rootfs(d, &err)) == 0)
					r = ct_start(lp, d, &err);
			}
		} else {
			r = ctrt_kill(lp, d->name, &err);
			ct_stopped(lp, d);
		}
		__do_free char *detail = r == 0 ? xasprintf("%s", what) : xasprintf("%s failed: %s", what, err.s);
		svc_vm_event(d->uuid, "container", detail);
		/* HA follows a requested start or stop (docs/ha.md "Containers") */
		if (r == 0 && x->a == CT_START)
			svc_ha_requested(d->uuid, true);
		else if (r == 0 && (x->a == CT_STOP || x->a == CT_KILL))
			svc_ha_requested(d->uuid, false);
	}
	if (held)
		job_unlock_vm(j, d->uuid);
	const char *st = d ? ctrt_state(lp, d->name, NULL) : "unknown";
	__do_free char *lower = xstrdup(st);
	for (char *p = lower; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	json_array_append_new(results, json_pack("{s:s,s:s,s:b,s:s,s:s?}", "name", d ? d->name : uuid, "uuid", uuid,
						 "ok", r == 0, "state", lower, "error", r < 0 ? err.s : NULL));
	ctdef_free(d);
	ct_record_release(&rec);
	buf_release(&err);
	return r;
}

static int ct_act_run(struct job *j, void *arg, struct buf *err)
{
	struct ct_act *x = arg;
	json_t *results = json_array();
	int failed = 0, last = 0;
	job_set_uncancellable(j, "a container action is one liblxc call (a stop waits at most its timeout; "
			      "'ct kill' pre-empts it)");
	for (size_t i = 0; i < x->n; i++) {
		int r = ct_act_one(j, x, x->uuids[i], results);
		if (r < 0) {
			failed++;
			last = r;
		}
	}
	if (failed && x->n == 1)
		buf_adds(err, json_string_value(json_object_get(json_array_get(results, 0), "error")));
	else if (failed)
		buf_printf(err, "%d of %zu containers failed", failed, x->n);
	job_set_result(j, json_pack("{s:o}", "containers", results));
	return failed ? last : 0;
}

int svc_ct_action_job(const char *selector, enum ct_action a, const struct ct_action_opts *o, json_t **job,
		      struct buf *err)
{
	struct selector sel = { 0 };
	struct ct_record *list;
	size_t n;
	static const char *const types[] = { "ct-start", "ct-stop", "ct-kill", "ct-reboot" };

	if (selector_parse(selector, &sel, err) < 0)
		return -EINVAL;
	if (store_ct_list(svc_cfg.store, &list, &n) < 0) {
		selector_release(&sel);
		buf_adds(err, "cannot read the container list");
		return -EIO;
	}
	struct ct_act *x = xcalloc(1, sizeof(*x));
	x->a = a;
	x->o = *o;
	x->uuids = xcalloc(n + 1, sizeof(svc_uuid));
	char name[64] = "";
	for (size_t i = 0; i < n; i++)
		if (sel_match(&sel, &list[i])) {
			snprintf(x->uuids[x->n++], sizeof(svc_uuid), "%s", list[i].uuid);
			snprintf(name, sizeof(name), "%s", list[i].name);
		}
	store_ct_list_free(list, n);
	selector_release(&sel);
	if (x->n == 0) {
		buf_printf(err, "no container matches '%s'", selector);
		ct_act_free(x);
		return -ENOENT;
	}
	x->locked = x->n == 1;
	struct job_spec spec = { .type = types[a], .target = x->n == 1 ? name : selector,
				 .vm = x->n == 1 ? x->uuids[0] : NULL, .vm_name = x->n == 1 ? name : NULL,
				 .preempt = a == CT_KILL, .run = ct_act_run, .arg = x, .free_arg = ct_act_free };
	return job_start(&spec, job, err);
}

int svc_ct_exec(const char *key, const json_t *argv, int timeout_s, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	size_t n = json_array_size(argv), i;
	json_t *v;
	int r;

	if (!json_is_array(argv) || n == 0 || n > 4096) {
		buf_adds(err, "'command' must be a non-empty array of strings");
		return -EINVAL;
	}
	json_array_foreach(argv, i, v) if (!json_is_string(v) || (i == 0 && !*json_string_value(v))) {
		buf_adds(err, "'command' must be a non-empty array of strings");
		return -EINVAL;
	}
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	char **args = xcalloc(n + 1, sizeof(*args));
	json_array_foreach(argv, i, v) args[i] = (char *)json_string_value(v);
	struct buf o = BUF_INIT, e = BUF_INIT;
	r = ctrt_exec(lp, d->name, args, timeout_s, EXEC_MAX_OUTPUT, &o, &e, err);
	free(args);
	if (r >= 0)
		*out = json_pack("{s:i,s:s%,s:s%,s:b}", "exit_status", r, "stdout", o.s ? o.s : "", o.len, "stderr",
				 e.s ? e.s : "", e.len, "truncated", o.len >= EXEC_MAX_OUTPUT || e.len >= EXEC_MAX_OUTPUT);
	buf_release(&o);
	buf_release(&e);
	ctdef_free(d);
	ct_record_release(&rec);
	return r < 0 ? r : 0;
}

int svc_ct_console_open(const char *key, int *hold, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL;
	int r = ct_load(key, &rec, &d, err);
	if (r < 0)
		return r;
	r = ctrt_console_open(lp, d->name, hold, err);
	ctdef_free(d);
	ct_record_release(&rec);
	return r;
}

/* ---- changes of a definition ---- */

int ct_store_def(const struct ct_def *nd, bool create, struct buf *err)
{
	__do_json json_t *j = ctdef_to_json(nd);
	json_object_del(j, "created");
	__do_free char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	struct store_batch *b = store_batch_new();
	store_batch_ct_put(b, nd->uuid, nd->name, text, create);
	int r = store_batch_commit(svc_cfg.store, b, err);
	store_batch_free(b);
	return r;
}

/*
 * A NIC added to (nic != NULL) or removed from (mac) a stopped container:
 * the new definition validated and checked against the networks (under
 * svc_defs_lock, as a create), stored, the hosts files refreshed.
 */
static int ct_nic_change(const char *key, const json_t *nic, const char *mac, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL, *nd = NULL;
	struct job_hold *h = NULL;
	int r;

	if (nic && !json_is_object(nic)) {
		buf_adds(err, "the NIC must be an object {network, mac}");
		return -EINVAL;
	}
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, nic ? "nic attach" : "nic detach", &h, err)) < 0)
		goto out;
	if (strcmp(ctrt_state(lp, d->name, NULL), "STOPPED") != 0) {
		buf_printf(err, "container '%s' is running: stop it to %s a NIC (hot-plug into a running container is "
			   "not there yet)", d->name, nic ? "attach" : "detach");
		r = -EBUSY;
		goto out;
	}
	{
		__do_json json_t *j = ctdef_to_json(d);
		json_t *list = json_object_get(j, "nics");
		if (!list) {
			list = json_array();
			json_object_set_new(j, "nics", list);
		}
		if (nic) {
			json_array_append(list, (json_t *)nic);
		} else {
			int k = ctdef_nic_index(d, mac);
			if (k < 0) {
				buf_printf(err, "container '%s' has no NIC with MAC %.32s", d->name, mac);
				r = -ENOENT;
				goto out;
			}
			json_array_remove(list, (size_t)k);
		}
		if (!(nd = ctdef_from_json(j, CTDEF_FROM_STORE, err))) {
			r = -EINVAL;
			goto out;
		}
	}
	pthread_mutex_lock(&svc_defs_lock);
	if ((r = svc_net_check_ct(nd, err)) == 0)
		r = ct_store_def(nd, false, err);
	pthread_mutex_unlock(&svc_defs_lock);
	if (r < 0)
		goto out;
	svc_net_ct_hosts_refresh(d);
	svc_net_ct_hosts_refresh(nd);
	{
		__do_free char *ev = nic ? xasprintf("NIC %s on network %s attached", nd->nics[nd->nnics - 1].mac,
						     nd->nics[nd->nnics - 1].network)
					 : xasprintf("NIC %s detached", mac);
		svc_vm_event(d->uuid, "container", ev);
	}
	job_release(h);
	h = NULL;
	r = svc_ct_show(d->uuid, out, err);
out:
	job_release(h);
	ctdef_free(d);
	ctdef_free(nd);
	ct_record_release(&rec);
	return r;
}

int svc_ct_nic_attach(const char *key, const json_t *nic, json_t **out, struct buf *err)
{
	return ct_nic_change(key, nic, NULL, out, err);
}

int svc_ct_nic_detach(const char *key, const char *mac, json_t **out, struct buf *err)
{
	return ct_nic_change(key, NULL, mac, out, err);
}

/* ---- limits ---- */

int svc_ct_limits_set(const char *key, const json_t *changes, json_t **out, struct buf *err)
{
	__do_free char *lp = ct_lxcpath();
	struct ct_record rec = { 0 };
	struct ct_def *d = NULL, *nd = NULL;
	struct job_hold *h = NULL;
	struct ctrt_limits oldl, newl;
	const char *k;
	json_t *v;
	bool running = false;
	int r;

	if (!json_is_object(changes) || json_object_size(changes) == 0) {
		buf_adds(err, "nothing to change: give cpu_weight, cpu_limit, memory_limit_mib or pids_limit "
			 "(null: no limit)");
		return -EINVAL;
	}
	if ((r = ct_load(key, &rec, &d, err)) < 0)
		return r;
	if ((r = job_hold_vm(d->uuid, d->name, "limits", &h, err)) < 0)
		goto out;
	{
		/* the new definition, validated as a whole: a refused change touches nothing */
		__do_json json_t *j = ctdef_to_json(d);
		json_t *l = json_object_get(j, "limits");
		if (!l) {
			l = json_object();
			json_object_set_new(j, "limits", l);
		}
		json_object_foreach((json_t *)changes, k, v) {
			if (json_is_null(v))
				json_object_del(l, k);
			else
				json_object_set(l, k, v);
		}
		if (!(nd = ctdef_from_json(j, CTDEF_FROM_STORE, err))) {
			r = -EINVAL;
			goto out;
		}
	}
	if ((r = limits_check_host(&nd->limits, err)) < 0)
		goto out;
	rt_limits_of(&d->limits, &oldl);
	rt_limits_of(&nd->limits, &newl);
	running = strcmp(ctrt_state(lp, d->name, NULL), "RUNNING") == 0;
	if (running && (r = ctrt_limits_set(lp, d->name, &newl, err)) < 0) {
		struct buf e = BUF_INIT;
		if (ctrt_limits_set(lp, d->name, &oldl, &e) < 0)
			log_warn("container %s: cannot put its old limits back: %s", d->name, e.s);
		buf_release(&e);
		goto out;
	}
	if ((r = ct_store_def(nd, false, err)) < 0) {
		struct buf e = BUF_INIT;
		if (running && ctrt_limits_set(lp, d->name, &oldl, &e) < 0)
			log_warn("container %s: cannot put its old limits back: %s", d->name, e.s);
		buf_release(&e);
		goto out;
	}
	{
		__do_json json_t *lj = ctdef_limits_to_json(&nd->limits);
		__do_free char *text = json_dumps(lj, JSON_COMPACT | JSON_SORT_KEYS);
		__do_free char *ev = xasprintf("limits set to %s%s", text, running ? " (live)" : "");
		svc_vm_event(d->uuid, "container", ev);
	}
	job_release(h);
	h = NULL;
	r = svc_ct_show(d->uuid, out, err);
out:
	job_release(h);
	ctdef_free(d);
	ctdef_free(nd);
	ct_record_release(&rec);
	return r;
}
