/*
 * cidata.c - see cidata.h.
 *
 * The work happens in a fresh directory made by mkdtemp in corrald's own
 * run directory (root's, mode 0700), not in the VM's directory, which
 * belongs to the QEMU account: nothing that account can do (it is shared
 * by every VM's QEMU) can swap a directory of the work under a write made
 * as root.  The finished image is renamed into the VM's directory over
 * cidata.iso, which replaces whatever was there without following it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cidata.h"
#include "argv.h"
#include "core/cloudinit.h"
#include "util/cmd.h"
#include "util/common.h"
#include "util/fsutil.h"

/* Any fixed time: the image's bytes must not depend on when it was made. */
#define CIDATA_EPOCH "1577836800"       /* 2020-01-01T00:00:00Z: the volume's dates */
#define CIDATA_DATE "2020010100000000" /* the same for every file */

/* Files of a work directory (it has no subdirectories except files/), then the directory. */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	if (d) {
		while ((e = readdir(d))) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) < 0 && errno == EISDIR) {
				__do_free char *sub = xasprintf("%s/%s", path, e->d_name);
				remove_tree(sub);
			}
		}
		closedir(d);
	}
	rmdir(path);
}

void qemu_cidata_remove(const char *vm_dir)
{
	__do_free char *iso = qemu_run_path(vm_dir, QEMU_CIDATA_LEAF);
	unlink(iso);
}

/* Every work directory in work_base whose name starts with prefix. */
static void remove_stale(const char *work_base, const char *prefix)
{
	DIR *d = opendir(work_base);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
			__do_free char *p = qemu_run_path(work_base, e->d_name);
			remove_tree(p);
		}
	}
	closedir(d);
}

static int write_one(const char *dir, const char *leaf, const char *text, struct buf *err)
{
	__do_free char *p = xasprintf("%s/files/%s", dir, leaf);
	int r = fs_write_file_atomic(p, text, strlen(text), 0600);
	if (r < 0)
		buf_printf(err, "cannot write the cloud-init seed's %s: %s", leaf, strerror(-r));
	return r;
}

void qemu_cidata_forget(const char *work_base, const char *uuid)
{
	__do_free char *prefix = xasprintf(QEMU_CIDATA_WORK "%s.", uuid);
	remove_stale(work_base, prefix);
}

int qemu_cidata_build(const struct vm_def *d, const char *work_base, const char *vm_dir, char **path,
		      struct buf *err)
{
	struct cloudinit_seed seed = { 0 };
	__do_free char *prefix = xasprintf(QEMU_CIDATA_WORK "%s.", d->uuid);
	__do_free char *work = xasprintf("%s/%sXXXXXX", work_base, prefix);
	__do_free char *files = NULL, *iso = NULL, *final = NULL;
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, xerr = BUF_INIT;
	int r;

	if ((r = cloudinit_seed_make(d, &seed, err)) < 0)
		return r;
	remove_stale(work_base, prefix);
	if (!mkdtemp(work)) {
		r = -errno;
		buf_printf(err, "cannot create a directory for the cloud-init seed in %s: %s", work_base, strerror(errno));
		goto out_seed;
	}
	files = xasprintf("%s/files", work);
	iso = xasprintf("%s/" QEMU_CIDATA_LEAF, work);
	if (mkdir(files, 0700) < 0) {
		r = -errno;
		buf_printf(err, "cannot create %s: %s", files, strerror(errno));
		goto out;
	}
	if ((r = write_one(work, "meta-data", seed.meta_data, err)) < 0 ||
	    (r = write_one(work, "user-data", seed.user_data, err)) < 0 ||
	    (seed.network_config && (r = write_one(work, "network-config", seed.network_config, err)) < 0))
		goto out;

	cmd_add(&c, "xorriso");
	cmd_add(&c, "-as");
	cmd_add(&c, "mkisofs");
	cmd_add(&c, "-quiet");
	cmd_add(&c, "-output");
	cmd_add(&c, iso);
	cmd_add(&c, "-volid");
	cmd_add(&c, "cidata");
	cmd_add(&c, "-joliet");
	cmd_add(&c, "-r"); /* Rock Ridge, owners 0 and modes 0444: nothing of this host in the image */
	cmd_add(&c, "--set_all_file_dates");
	cmd_add(&c, CIDATA_DATE);
	cmd_add(&c, files);
	cmd_setenv(&c, "SOURCE_DATE_EPOCH", CIDATA_EPOCH);
	r = cmd_run(&c, &out, &xerr);
	if (r != 0) {
		while (xerr.len && (xerr.s[xerr.len - 1] == '\n'))
			xerr.s[--xerr.len] = '\0';
		if (r < 0)
			buf_printf(err, "cannot run xorriso to build the cloud-init seed: %s (install Debian's xorriso)",
				   strerror(-r));
		else
			buf_printf(err, "xorriso failed to build the cloud-init seed (status %d): %s", r,
				   xerr.len ? xerr.s : "no message");
		r = r < 0 ? r : -EIO;
		goto out;
	}
	final = qemu_run_path(vm_dir, QEMU_CIDATA_LEAF);
	if (chmod(iso, 0600) < 0 || rename(iso, final) < 0) {
		r = -errno;
		buf_printf(err, "cannot put the cloud-init seed at %s: %s", final, strerror(errno));
		goto out;
	}
	*path = move_ptr(final);
	r = 0;
out:
	remove_tree(work);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&xerr);
out_seed:
	cloudinit_seed_release(&seed);
	return r;
}
