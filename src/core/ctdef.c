/*
 * ctdef.c - parsing, validating and writing container definitions (see
 * ctdef.h).  Everything a caller sends passes through ctdef_from_json
 * before any file or row is made, so a refused definition changes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <uuid/uuid.h>

#include "ctdef.h"
#include "core/vmdef.h"
#include "util/strutil.h"
#include "util/jsonutil.h"
#include "util/common.h"
#include "util/cleanup.h"

static const char *const template_names[] = { [CT_TEMPLATE_NONE] = "", [CT_TEMPLATE_BUSYBOX] = "busybox",
					       [CT_TEMPLATE_DEBIAN] = "debian" };
static const char *const debian_releases[] = { CT_DEBIAN_RELEASES };

const char *ctdef_template_name(enum ct_template t)
{
	return t == CT_TEMPLATE_BUSYBOX || t == CT_TEMPLATE_DEBIAN ? template_names[t] : NULL;
}

const char *ctdef_name_invalid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return "name is empty";
	if (n > 63)
		return "name is longer than 63 characters";
	if (name[0] == '-' || name[n - 1] == '-')
		return "name must not start or end with '-'";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return "name may only contain letters, digits and '-' (it is the container's hostname)";
	return NULL;
}

/* An absolute path without "." or ".." components, doubled or trailing slashes. */
static bool path_normal(const char *p)
{
	if (!p || p[0] != '/' || strlen(p) > 4000)
		return false;
	if (strcmp(p, "/") == 0)
		return false; /* the host's own root is never a container's */
	for (const char *s = p; *s; ) {
		s++; /* past '/' */
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
	}
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == ':')
			return false; /* control characters; ':' would be read as an LXC storage prefix */
	return true;
}

static int get_u32(const json_t *o, const char *key, uint32_t min, uint32_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > UINT32_MAX) {
		buf_printf(err, "container definition: idmap '%s' must be a whole number from %u", key, min);
		return -EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_idmap(const json_t *m, struct ct_idmap *out, struct buf *err)
{
	static const char *const keys[] = { "uid_base", "gid_base", "count", NULL };
	if (!json_is_object(m)) {
		buf_adds(err, "container definition: 'idmap' must be an object");
		return -EINVAL;
	}
	if (json_check_keys(m, "idmap", keys, err) < 0 || get_u32(m, "uid_base", 1, &out->uid_base, err) < 0 ||
	    get_u32(m, "gid_base", 1, &out->gid_base, err) < 0 || get_u32(m, "count", 1, &out->count, err) < 0)
		return -EINVAL;
	if ((uint64_t)out->uid_base + out->count > UINT32_MAX || (uint64_t)out->gid_base + out->count > UINT32_MAX) {
		buf_adds(err, "container definition: idmap range goes past the largest id");
		return -EINVAL;
	}
	return 0;
}

int ctdef_nic_index(const struct ct_def *d, const char *mac)
{
	for (int i = 0; i < d->nnics; i++)
		if (strcasecmp(d->nics[i].mac, mac) == 0)
			return i;
	return -1;
}

/* One element of "nics" into d->nics[d->nnics] (counted only when valid). */
static int parse_nic(struct ct_def *d, const json_t *n, size_t i, struct buf *err)
{
	static const char *const keys[] = { "mode", "network", "mac", "model", "vlan", "bw", "filter", NULL };
	static const char *const vm_only[] = { "model", "vlan", "bw", "filter" };
	const char *mode = "network", *net = NULL, *mac = NULL, *bad;
	struct ct_nic *nic = &d->nics[d->nnics];
	__do_free char *what = xasprintf("nics[%zu]", i);

	if (!json_is_object(n)) {
		buf_printf(err, "container definition: %s must be an object {network, mac}", what);
		return -EINVAL;
	}
	if (json_check_keys(n, what, keys, err) < 0)
		return -EINVAL;
	for (size_t k = 0; k < ARRAY_SIZE(vm_only); k++)
		if (json_object_get(n, vm_only[k])) {
			buf_printf(err, "%s.%s: a container's NIC has only a network and a MAC (its port is always "
				   "filtered, with no VLANs or bandwidth limit yet)", what, vm_only[k]);
			return -EINVAL;
		}
	if (json_get_str(n, "mode", &mode, err) < 0 || json_get_str(n, "network", &net, err) < 0 ||
	    json_get_str(n, "mac", &mac, err) < 0)
		return -EINVAL;
	if (strcmp(mode, "network") != 0) {
		buf_printf(err, "%s.mode: a container's NIC is on a corral network (mode 'network'; no user-mode "
			   "networking)", what);
		return -EINVAL;
	}
	if ((bad = net ? str_name_invalid(net) : "missing (give the network: net=NAME)")) {
		buf_printf(err, "%s.network: %s", what, bad);
		return -EINVAL;
	}
	if (mac) {
		if (!vmdef_mac_valid(mac)) {
			buf_printf(err, "%s.mac '%.32s' must look like 52:54:00:12:34:56 (unicast)", what, mac);
			return -EINVAL;
		}
		snprintf(nic->mac, sizeof(nic->mac), "%s", mac);
		for (char *c = nic->mac; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (ctdef_nic_index(d, nic->mac) >= 0) {
			buf_printf(err, "%s.mac %s is used by another NIC of this container", what, nic->mac);
			nic->mac[0] = '\0';
			return -EINVAL;
		}
	} else {
		nic->mac[0] = '\0';
	}
	nic->network = xstrdup(net);
	d->nnics++;
	return 0;
}

static int parse_nics(struct ct_def *d, const json_t *list, struct buf *err)
{
	size_t i;
	json_t *n;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > CT_MAX_NICS) {
		buf_printf(err, "container definition: nics must be a list of at most %d NICs", CT_MAX_NICS);
		return -EINVAL;
	}
	json_array_foreach(list, i, n)
		if (parse_nic(d, n, i, err) < 0)
			return -EINVAL;
	/* generated MACs last, unique within the container (other guests: the service checks) */
	for (int k = 0; k < d->nnics; k++)
		while (!d->nics[k].mac[0] || ctdef_nic_index(d, d->nics[k].mac) != k)
			vmdef_random_mac(d->nics[k].mac);
	return 0;
}

int ctdef_snap_index(const struct ct_def *d, const char *name)
{
	for (int i = 0; i < d->nsnaps; i++)
		if (strcmp(d->snaps[i].name, name) == 0)
			return i;
	return -1;
}

void ctdef_snap_add(struct ct_def *d, const struct ct_snap *s)
{
	d->snaps = xrealloc(d->snaps, (size_t)(d->nsnaps + 1) * sizeof(*d->snaps));
	d->snaps[d->nsnaps++] = *s;
}

void ctdef_snap_remove(struct ct_def *d, int k)
{
	if (k < 0 || k >= d->nsnaps)
		return;
	memmove(&d->snaps[k], &d->snaps[k + 1], (size_t)(d->nsnaps - k - 1) * sizeof(*d->snaps));
	d->nsnaps--;
}

/* The store's "snapshots" list into d->snaps. */
static int parse_snaps(struct ct_def *d, const json_t *list, struct buf *err)
{
	static const char *const keys[] = { "name", "created", "method", "size", NULL };
	static const char *const methods[] = { "copy", "reflink", "btrfs-snapshot" };
	size_t i;
	json_t *s;
	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > CT_MAX_SNAPSHOTS) {
		buf_printf(err, "container definition: snapshots must be a list of at most %d", CT_MAX_SNAPSHOTS);
		return -EINVAL;
	}
	json_array_foreach(list, i, s) {
		const char *name = NULL, *method = "copy", *bad;
		int64_t created = 0, size = -1;
		bool known = false;
		if (!json_is_object(s) || json_check_keys(s, "snapshot", keys, err) < 0 ||
		    json_get_str(s, "name", &name, err) < 0 || json_get_str(s, "method", &method, err) < 0 ||
		    json_get_int(s, "created", 0, INT64_MAX, &created, err) < 0 ||
		    json_get_int(s, "size", -1, INT64_MAX, &size, err) < 0) {
			if (!err->len)
				buf_printf(err, "container definition: snapshots[%zu] must be an object", i);
			return -EINVAL;
		}
		if ((bad = name ? str_name_invalid(name) : "missing")) {
			buf_printf(err, "container definition: snapshots[%zu].name: %s", i, bad);
			return -EINVAL;
		}
		for (size_t k = 0; k < ARRAY_SIZE(methods); k++)
			known |= strcmp(method, methods[k]) == 0;
		if (!known || ctdef_snap_index(d, name) >= 0) {
			buf_printf(err, "container definition: snapshots[%zu]: %s", i,
				   known ? "a second snapshot of that name" : "unknown method");
			return -EINVAL;
		}
		struct ct_snap sn = { .created_ms = created, .size = size };
		snprintf(sn.name, sizeof(sn.name), "%s", name);
		snprintf(sn.method, sizeof(sn.method), "%s", method);
		ctdef_snap_add(d, &sn);
	}
	return 0;
}

int ctdef_limits_parse(const json_t *j, struct ct_limits *out, struct buf *err)
{
	static const char *const keys[] = { "cpu_weight", "cpu_limit", "memory_limit_mib", "pids_limit", NULL };
	int64_t weight = 0;
	json_t *v;

	*out = (struct ct_limits){ 0 };
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_object(j)) {
		buf_adds(err, "container definition: 'limits' must be an object");
		return -EINVAL;
	}
	if (json_check_keys(j, "limits", keys, err) < 0 ||
	    json_get_int(j, "cpu_weight", 1, CT_MAX_CPU_WEIGHT, &weight, err) < 0 ||
	    json_get_int(j, "memory_limit_mib", CT_MIN_MEMORY_MIB, CT_MAX_MEMORY_MIB, &out->memory_limit_mib, err) < 0 ||
	    json_get_int(j, "pids_limit", 1, CT_MAX_PIDS, &out->pids_limit, err) < 0)
		return -EINVAL;
	out->cpu_weight = (int)weight;
	if ((v = json_object_get(j, "cpu_limit"))) {
		double c = json_number_value(v);
		if (!json_is_number(v) || !(c >= 0.01 && c <= CT_MAX_CPUS)) {
			buf_printf(err, "limits.cpu_limit must be a number of CPUs from 0.01 to %d (like 1.5)", CT_MAX_CPUS);
			return -EINVAL;
		}
		out->cpu_limit_centi = (int)(c * 100 + 0.5);
	}
	return 0;
}

json_t *ctdef_limits_to_json(const struct ct_limits *l)
{
	json_t *j = json_object();
	if (l->cpu_weight)
		json_object_set_new(j, "cpu_weight", json_integer(l->cpu_weight));
	if (l->cpu_limit_centi)
		json_object_set_new(j, "cpu_limit", l->cpu_limit_centi % 100 == 0
							    ? json_integer(l->cpu_limit_centi / 100)
							    : json_real(l->cpu_limit_centi / 100.0));
	if (l->memory_limit_mib)
		json_object_set_new(j, "memory_limit_mib", json_integer(l->memory_limit_mib));
	if (l->pids_limit)
		json_object_set_new(j, "pids_limit", json_integer(l->pids_limit));
	return j;
}

/* "tags": names as VMs' (str_name_invalid), at most VM_MAX_TAGS, no repeats; absent or null: none. */
static int parse_tags(struct ct_def *d, const json_t *arr, struct buf *err)
{
	size_t i;
	json_t *v;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > VM_MAX_TAGS) {
		buf_printf(err, "container tags must be a list of at most %d names", VM_MAX_TAGS);
		return -EINVAL;
	}
	d->tags = xcalloc(json_array_size(arr) + 1, sizeof(char *));
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		const char *bad = s ? str_name_invalid(s) : "tag must be a string";
		if (bad) {
			buf_printf(err, "container tag: %s", bad);
			return -EINVAL;
		}
		if (ctdef_has_tag(d, s))
			continue;
		d->tags[d->ntags++] = xstrdup(s);
	}
	return 0;
}

const char *ctdef_mount_path_invalid(const char *path)
{
	static const char *const kernel[] = { "/proc", "/sys", "/dev" };
	size_t n = path ? strlen(path) : 0;
	if (n == 0)
		return "the mount path is empty";
	if (path[0] != '/')
		return "the mount path must be absolute (start with /)";
	if (n > CT_MOUNT_PATH_MAX)
		return "the mount path is longer than 255 characters";
	if (strcmp(path, "/") == 0)
		return "the container's root itself cannot be a mount point";
	for (const char *s = path; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._+-/", *s))
			return "the mount path may only contain letters, digits and . _ + - /";
	if (!path_normal(path) || path[n - 1] == '/')
		return "the mount path must not contain '.' or '..' components, doubled or trailing slashes";
	for (size_t i = 0; i < ARRAY_SIZE(kernel); i++) {
		size_t k = strlen(kernel[i]);
		if (strncmp(path, kernel[i], k) == 0 && (path[k] == '\0' || path[k] == '/'))
			return "the mount path is in /proc, /sys or /dev (the kernel's filesystems inside the container)";
	}
	return NULL;
}

int ctdef_mount_index(const struct ct_def *d, const char *path)
{
	for (int i = 0; i < d->nmounts; i++)
		if (strcmp(d->mounts[i].path, path) == 0)
			return i;
	return -1;
}

static int parse_mounts(struct ct_def *d, const json_t *list, struct buf *err)
{
	static const char *const keys[] = { "volume", "path", "readonly", NULL };
	size_t i;
	json_t *m;

	if (!list || json_is_null(list))
		return 0;
	if (!json_is_array(list) || json_array_size(list) > CT_MAX_MOUNTS) {
		buf_printf(err, "container mounts must be a list of at most %d mount points", CT_MAX_MOUNTS);
		return -EINVAL;
	}
	json_array_foreach(list, i, m) {
		const char *vol = NULL, *path = NULL, *bad;
		bool ro = false;
		if (!json_is_object(m)) {
			buf_printf(err, "container mount %zu must be an object {volume, path, readonly}", i);
			return -EINVAL;
		}
		if (json_check_keys(m, "container mount", keys, err) < 0 || json_get_str(m, "volume", &vol, err) < 0 ||
		    json_get_str(m, "path", &path, err) < 0 || json_get_bool(m, "readonly", &ro, err) < 0)
			return -EINVAL;
		if (!vol || (bad = str_name_invalid(vol))) {
			buf_printf(err, "container mount %zu: volume: %s", i, vol ? bad : "'volume' is required");
			return -EINVAL;
		}
		if ((bad = ctdef_mount_path_invalid(path))) {
			buf_printf(err, "container mount %zu (%.64s): %s", i, vol, bad);
			return -EINVAL;
		}
		if (ctdef_mount_index(d, path) >= 0) {
			buf_printf(err, "container mount %zu: two mounts at %s", i, path);
			return -EINVAL;
		}
		if (d->volume && strcmp(d->volume, vol) == 0) {
			buf_printf(err, "container mount %zu: volume '%s' is the container's root", i, vol);
			return -EINVAL;
		}
		for (int k = 0; k < d->nmounts; k++)
			if (strcmp(d->mounts[k].volume, vol) == 0) {
				buf_printf(err, "container mount %zu: volume '%s' is mounted twice", i, vol);
				return -EINVAL;
			}
		struct ct_mount *o = &d->mounts[d->nmounts++];
		o->volume = xstrdup(vol);
		snprintf(o->path, sizeof(o->path), "%s", path);
		o->readonly = ro;
	}
	return 0;
}

bool ctdef_has_tag(const struct ct_def *d, const char *tag)
{
	for (int i = 0; i < d->ntags; i++)
		if (!strcmp(d->tags[i], tag))
			return true;
	return false;
}

struct ct_def *ctdef_from_json(const json_t *j, enum ctdef_origin origin, struct buf *err)
{
	static const char *const user_keys[] = { "name",   "uuid",	"description", "template",    "rootfs",
						 "privileged", "nics", "limits",      "autostart",   "start_order",
						 "start_delay", "tags", "volume", "pool", "mounts",
						 "image_size", "release", "tarball", "halt_signal", NULL };
	static const char *const store_keys[] = { "name",	 "uuid",	"description", "template", "rootfs",
						  "privileged",	 "idmap",	"created",     "nics",	   "limits",
						  "snapshots",	 "autostart",	"start_order", "start_delay", "tags",
						  "volume",	 "mounts",	"release", "tarball", "halt_signal", NULL };
	const char *name = NULL, *uuid = NULL, *desc = NULL, *tmpl = NULL, *rootfs = NULL, *bad;
	const char *release = NULL, *tarball = NULL, *halt = NULL;
	const char *volume = NULL, *pool = NULL;
	int64_t image_size = 0;
	bool priv = false, autostart = false;
	int64_t order = 0, delay = 0;

	if (!json_is_object(j)) {
		buf_adds(err, "container definition must be a JSON object");
		return NULL;
	}
	if (json_check_keys(j, "container definition", origin == CTDEF_FROM_USER ? user_keys : store_keys, err) < 0)
		return NULL;
	if (json_get_str(j, "name", &name, err) < 0 || json_get_str(j, "uuid", &uuid, err) < 0 ||
	    json_get_str(j, "description", &desc, err) < 0 || json_get_str(j, "template", &tmpl, err) < 0 ||
	    json_get_str(j, "rootfs", &rootfs, err) < 0 || json_get_bool(j, "privileged", &priv, err) < 0 ||
	    json_get_bool(j, "autostart", &autostart, err) < 0 ||
	    json_get_int(j, "start_order", 0, VM_MAX_START_ORDER, &order, err) < 0 ||
	    json_get_int(j, "start_delay", 0, VM_MAX_START_DELAY, &delay, err) < 0 ||
	    json_get_str(j, "volume", &volume, err) < 0 || json_get_str(j, "pool", &pool, err) < 0 ||
	    json_get_int(j, "image_size", CT_IMAGE_MIN, CT_IMAGE_MAX, &image_size, err) < 0 ||
	    json_get_str(j, "release", &release, err) < 0 || json_get_str(j, "tarball", &tarball, err) < 0 ||
	    json_get_str(j, "halt_signal", &halt, err) < 0)
		return NULL;
	if (volume && (bad = str_name_invalid(volume))) {
		buf_printf(err, "container root volume: %s", bad);
		return NULL;
	}
	if (pool && (bad = str_name_invalid(pool))) {
		buf_printf(err, "container pool: %s", bad);
		return NULL;
	}
	if ((volume || pool || image_size) && rootfs) {
		buf_adds(err, "container definition: a --rootfs directory is used in place, so it has no pool or volume");
		return NULL;
	}
	if (!name) {
		buf_adds(err, "container definition: 'name' is required");
		return NULL;
	}
	if ((bad = ctdef_name_invalid(name))) {
		buf_printf(err, "invalid container name '%.64s': %s", name, bad);
		return NULL;
	}
	if (!!tmpl + !!rootfs + !!tarball != 1) {
		buf_adds(err, "container definition: give exactly one of 'template' (busybox, debian), 'tarball' (a "
			 "root filesystem tarball) and 'rootfs' (a directory)");
		return NULL;
	}
	if (tmpl && strcmp(tmpl, "busybox") != 0 && strcmp(tmpl, "debian") != 0) {
		buf_printf(err, "unknown container template '%.64s' (known: busybox, debian)", tmpl);
		return NULL;
	}
	if (release && (!tmpl || strcmp(tmpl, "debian") != 0)) {
		buf_adds(err, "container definition: 'release' is for the debian template");
		return NULL;
	}
	if (tmpl && strcmp(tmpl, "debian") == 0) {
		size_t k = 0;
		if (!release)
			release = debian_releases[0];
		while (k < ARRAY_SIZE(debian_releases) && strcmp(release, debian_releases[k]) != 0)
			k++;
		if (k == ARRAY_SIZE(debian_releases)) {
			buf_printf(err, "unknown Debian release '%.32s' (known: bookworm, bullseye, trixie)", release);
			return NULL;
		}
	}
	if (tarball && !path_normal(tarball)) {
		buf_printf(err, "container tarball '%.256s' must be an absolute file path without '.', '..', ':' "
			   "or doubled slashes", tarball);
		return NULL;
	}
	if (halt && strcmp(halt, "SIGUSR1") != 0 && strcmp(halt, "SIGPWR") != 0 && strcmp(halt, "SIGRTMIN+3") != 0) {
		buf_printf(err, "container definition: unknown halt_signal '%.16s'", halt);
		return NULL;
	}
	if (rootfs && !path_normal(rootfs)) {
		buf_printf(err, "container rootfs '%.256s' must be an absolute directory path without '.', '..', "
			   "':' or doubled slashes, and not /", rootfs);
		return NULL;
	}
	if (desc && strlen(desc) > 1024) {
		buf_adds(err, "container description is longer than 1024 characters");
		return NULL;
	}
	struct ct_def *d = xcalloc(1, sizeof(*d));
	if (uuid) {
		uuid_t u;
		if (uuid_parse(uuid, u) < 0) {
			buf_printf(err, "container definition: invalid uuid '%.64s'", uuid);
			ctdef_free(d);
			return NULL;
		}
		uuid_unparse_lower(u, d->uuid);
	} else {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, d->uuid);
	}
	d->name = xstrdup(name);
	d->description = desc ? xstrdup(desc) : NULL;
	d->tmpl = !tmpl ? CT_TEMPLATE_NONE : strcmp(tmpl, "debian") == 0 ? CT_TEMPLATE_DEBIAN : CT_TEMPLATE_BUSYBOX;
	if (d->tmpl == CT_TEMPLATE_DEBIAN)
		snprintf(d->release, sizeof(d->release), "%s", release);
	d->rootfs = rootfs ? xstrdup(rootfs) : NULL;
	d->tarball = tarball ? xstrdup(tarball) : NULL;
	if (halt)
		snprintf(d->halt_signal, sizeof(d->halt_signal), "%s", halt);
	d->privileged = priv;
	d->autostart = autostart;
	d->start_order = (int)order;
	d->start_delay = (int)delay;
	d->volume = volume ? xstrdup(volume) : NULL;
	d->pool = pool ? xstrdup(pool) : NULL;
	d->image_size = image_size;
	if (parse_tags(d, json_object_get(j, "tags"), err) < 0 || parse_nics(d, json_object_get(j, "nics"), err) < 0 ||
	    parse_mounts(d, json_object_get(j, "mounts"), err) < 0 ||
	    ctdef_limits_parse(json_object_get(j, "limits"), &d->limits, err) < 0) {
		ctdef_free(d);
		return NULL;
	}
	if (origin == CTDEF_FROM_STORE) {
		json_t *m = json_object_get(j, "idmap"), *c = json_object_get(j, "created");
		if (m && parse_idmap(m, &d->idmap, err) < 0) {
			ctdef_free(d);
			return NULL;
		}
		if (json_is_integer(c))
			d->created_ms = json_integer_value(c);
		if (parse_snaps(d, json_object_get(j, "snapshots"), err) < 0) {
			ctdef_free(d);
			return NULL;
		}
	}
	if (!d->privileged && origin == CTDEF_FROM_STORE && d->idmap.count == 0) {
		buf_printf(err, "container '%s': an unprivileged container needs an idmap", d->name);
		ctdef_free(d);
		return NULL;
	}
	return d;
}

json_t *ctdef_to_json(const struct ct_def *d)
{
	json_t *j = json_pack("{s:s,s:s,s:b,s:I}", "name", d->name, "uuid", d->uuid, "privileged", d->privileged,
			      "created", (json_int_t)d->created_ms);
	if (d->description)
		json_object_set_new(j, "description", json_string(d->description));
	if (d->tmpl != CT_TEMPLATE_NONE)
		json_object_set_new(j, "template", json_string(ctdef_template_name(d->tmpl)));
	if (d->release[0])
		json_object_set_new(j, "release", json_string(d->release));
	if (d->rootfs)
		json_object_set_new(j, "rootfs", json_string(d->rootfs));
	if (d->tarball)
		json_object_set_new(j, "tarball", json_string(d->tarball));
	if (d->halt_signal[0])
		json_object_set_new(j, "halt_signal", json_string(d->halt_signal));
	if (d->idmap.count)
		json_object_set_new(j, "idmap", json_pack("{s:I,s:I,s:I}", "uid_base", (json_int_t)d->idmap.uid_base,
							  "gid_base", (json_int_t)d->idmap.gid_base, "count",
							  (json_int_t)d->idmap.count));
	if (d->nnics) {
		json_t *nics = json_array();
		for (int i = 0; i < d->nnics; i++)
			json_array_append_new(nics, json_pack("{s:s,s:s}", "network", d->nics[i].network, "mac",
							      d->nics[i].mac));
		json_object_set_new(j, "nics", nics);
	}
	if (d->nsnaps) {
		json_t *snaps = json_array();
		for (int i = 0; i < d->nsnaps; i++)
			json_array_append_new(snaps, json_pack("{s:s,s:I,s:s,s:I}", "name", d->snaps[i].name, "created",
							       (json_int_t)d->snaps[i].created_ms, "method",
							       d->snaps[i].method, "size", (json_int_t)d->snaps[i].size));
		json_object_set_new(j, "snapshots", snaps);
	}
	/* autostart and tags only when set: a definition without them reads as before */
	if (d->autostart || d->start_order || d->start_delay) {
		json_object_set_new(j, "autostart", json_boolean(d->autostart));
		json_object_set_new(j, "start_order", json_integer(d->start_order));
		json_object_set_new(j, "start_delay", json_integer(d->start_delay));
	}
	if (d->ntags) {
		json_t *tags = json_array();
		for (int i = 0; i < d->ntags; i++)
			json_array_append_new(tags, json_string(d->tags[i]));
		json_object_set_new(j, "tags", tags);
	}
	if (d->volume)
		json_object_set_new(j, "volume", json_string(d->volume));
	if (d->nmounts) {
		json_t *ms = json_array();
		for (int i = 0; i < d->nmounts; i++)
			json_array_append_new(ms, json_pack("{s:s,s:s,s:b}", "volume", d->mounts[i].volume, "path",
							    d->mounts[i].path, "readonly", d->mounts[i].readonly));
		json_object_set_new(j, "mounts", ms);
	}
	json_t *l = ctdef_limits_to_json(&d->limits);
	if (json_object_size(l))
		json_object_set_new(j, "limits", l);
	else
		json_decref(l);
	return j;
}

void ctdef_free(struct ct_def *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->description);
	free(d->rootfs);
	free(d->tarball);
	free(d->volume);
	free(d->pool);
	for (int i = 0; i < d->nmounts; i++)
		free(d->mounts[i].volume);
	free(d->snaps);
	for (int i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	for (int i = 0; i < d->nnics; i++)
		free(d->nics[i].network);
	free(d);
}
