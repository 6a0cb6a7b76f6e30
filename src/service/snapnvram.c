/*
 * snapnvram.c - snapshots' copies of a UEFI VM's NVRAM vars file: keep one
 * when a snapshot is taken, put it back on revert, drop it with the
 * snapshot, sweep the ones no snapshot names (see snapnvram.h).  Where the
 * files live is the runtime's (qemu/runtime.h); when a copy is taken and
 * restored in a snapshot's steps is snapshot.c's.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "snapnvram.h"
#include "service/internal.h"
#include "qemu/runtime.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/common.h"

/* OVMF's vars are 128 KiB to 4 MiB; a larger file is not a vars file. */
#define SNAP_NVRAM_MAX (64u << 20)

int svc_snap_nvram_save(const char *uuid, const char *name, struct buf *err)
{
	__do_free char *vars = rt_nvram_path(uuid);
	__do_free char *copy = rt_nvram_snapshot_path(uuid, name);
	__do_free char *dir = xstrdup(copy);
	__do_buf struct buf data = BUF_INIT;
	/* The vars file is the qemu user's, in its directory: no symlink, no hard link followed. */
	int r = fs_read_file_regular(vars, SNAP_NVRAM_MAX, &data);

	if (r == -ENOENT) /* never started: none yet, and the empty copy says so */
		r = 0;
	if (r < 0) {
		buf_printf(err, "cannot read the NVRAM vars %s: %s", vars, strerror(-r));
		return r;
	}
	*strrchr(dir, '/') = '\0';
	if ((r = fs_mkdir_p(dir, 0700)) < 0 || (r = fs_write_file_atomic(copy, data.s, data.len, 0600)) < 0) {
		buf_printf(err, "cannot keep the NVRAM vars in %s: %s", copy, strerror(-r));
		return r;
	}
	return 0;
}

int svc_snap_nvram_restore(const char *uuid, const char *name, bool *restored, struct buf *err)
{
	__do_free char *copy = rt_nvram_snapshot_path(uuid, name);
	__do_free char *vars = rt_nvram_path(uuid);
	__do_buf struct buf data = BUF_INIT;
	/* Only a copy corrald wrote (its own file: the directory is the qemu user's). */
	int r = fs_read_file_mine(copy, SNAP_NVRAM_MAX, &data);

	*restored = false;
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		buf_printf(err, "cannot read the NVRAM vars of snapshot '%s' (%s): %s", name, copy, strerror(-r));
		return r;
	}
	if (data.len == 0)
		r = unlink(vars) < 0 && errno != ENOENT ? -errno : 0;
	else
		r = rt_nvram_write(uuid, data.s, data.len);
	if (r < 0) {
		buf_printf(err, "cannot put back the NVRAM vars of snapshot '%s' into %s: %s", name, vars, strerror(-r));
		return r;
	}
	*restored = true;
	return 0;
}

int svc_snap_nvram_drop(const char *uuid, const char *name, struct buf *err)
{
	__do_free char *copy = rt_nvram_snapshot_path(uuid, name);

	if (unlink(copy) < 0 && errno != ENOENT) {
		int r = -errno;
		buf_printf(err, "cannot remove the NVRAM vars of snapshot '%s' (%s): %s", name, copy, strerror(-r));
		return r;
	}
	return 0;
}

bool svc_snap_nvram_has(const char *uuid, const char *name)
{
	__do_free char *copy = rt_nvram_snapshot_path(uuid, name);
	return fs_exists(copy);
}

static bool row_exists(const char *uuid, const char *name, void *arg)
{
	struct snap_record s = { 0 };
	bool found;
	(void)arg;
	if (!name)
		return false;
	found = store_snap_get(svc_cfg.store, uuid, name, &s) != -ENOENT; /* a store error keeps it */
	snap_record_release(&s);
	return found;
}

void svc_snap_nvram_sweep(void)
{
	rt_nvram_snapshots_sweep(row_exists, NULL);
}
