/*
 * replica_stale.c - stale copies: volumes on this host that hold an older
 * copy of a VM's disk (replicate.h "stale copies", docs/ha.md "Resync onto
 * a stale copy").  A replica kept by `vm replicate --stop --keep-replica`,
 * or the old primary's disks after an HA failover, are marked so; a later
 * `vm replicate --to THIS_HOST` of that VM reuses them and copies only the
 * chunks that differ (the compare pass) instead of refusing them.
 *
 * The mark is a file, STATE/stale/<volume>.json {"volume","vm","path",
 * "created","since"}, not a store column: it is this host's business only
 * (never replicated pool-wide), needs no schema migration, and it names the
 * volume's path and creation time so that it counts only for the very
 * volume it was made for: a volume deleted and made again under the same
 * name is not a stale copy of anything (its mark is dropped when read).
 * Volume names are checked names (str_name_invalid), safe as file names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "service/replicate.h"
#include "core/store.h"
#include "service/internal.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

static char *mark_path(const char *name) { return xasprintf("%s/stale/%s.json", svc_cfg.state_dir, name); }

int svc_volume_mark_stale(const char *name, const char *vm_uuid, struct buf *err)
{
	struct vol_record v = { 0 };
	int r;

	if (!name || str_name_invalid(name) || !str_uuid_valid(vm_uuid)) {
		buf_adds(err, "a stale copy is marked with a volume name and the uuid of the VM it copies");
		return -EINVAL;
	}
	if ((r = store_vol_get(svc_cfg.store, name, &v)) < 0) {
		buf_printf(err, "no volume '%s' on %s", name, svc_cfg.host_name ? svc_cfg.host_name : "this host");
		return -ENOENT;
	}
	__do_free char *dir = xasprintf("%s/stale", svc_cfg.state_dir);
	__do_free char *path = mark_path(name);
	__do_json json_t *mark = json_pack("{s:s, s:s, s:s, s:I, s:I}", "volume", name, "vm", vm_uuid, "path", v.path,
					   "created", (json_int_t)v.created_ms, "since", (json_int_t)time_wall_ms());
	__do_free char *text = json_dumps(mark, JSON_COMPACT);
	vol_record_release(&v);
	if ((r = fs_mkdir_p(dir, 0700)) < 0 || (r = fs_write_file_atomic(path, text, strlen(text), 0600)) < 0) {
		buf_printf(err, "cannot mark volume %s as a stale copy (%s): %s", name, path, strerror(-r));
		return r;
	}
	log_info("volume %s marked as a stale copy of vm %s", name, vm_uuid);
	return 0;
}

char *svc_volume_stale_of(const char *name)
{
	struct vol_record v = { 0 };
	if (!name || str_name_invalid(name))
		return NULL;
	__do_free char *path = mark_path(name);
	__do_json json_t *mark = json_load_file(path, 0, NULL);
	if (!mark)
		return NULL;
	const char *vm = json_string_value(json_object_get(mark, "vm"));
	char *out = NULL;
	if (store_vol_get(svc_cfg.store, name, &v) == 0 && str_uuid_valid(vm) &&
	    !strcmp(json_string_value(json_object_get(mark, "path")) ?: "", v.path ?: "") &&
	    json_integer_value(json_object_get(mark, "created")) == v.created_ms)
		out = xstrdup(vm);
	else
		unlink(path); /* the volume it was made for is gone */
	vol_record_release(&v);
	return out;
}

void svc_volume_stale_clear(const char *name)
{
	if (!name || str_name_invalid(name))
		return;
	__do_free char *path = mark_path(name);
	unlink(path);
}
