/*
 * loopmount.c - ext4 image files mounted through loop devices (see
 * loopmount.h): the roots of containers created with `--image SIZE`
 * (service/ct_vol.c, docs/containers.md "Storage").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopmount.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/common.h"
#include "util/fsutil.h"
#include "util/log.h"

/* Run c; a failure becomes one sentence with the program's own words. */
static int run(struct cmd *c, const char *what, struct buf *err)
{
	struct buf out = BUF_INIT, e = BUF_INIT;
	int rc = cmd_run(c, &out, &e);
	if (rc != 0) {
		buf_printf(err, "%s failed%s%s", what, e.len ? ": " : "", e.len ? e.s : "");
		while (err->len && (err->s[err->len - 1] == '\n' || err->s[err->len - 1] == ' '))
			err->s[--err->len] = '\0';
	}
	buf_release(&out);
	buf_release(&e);
	return rc == 0 ? 0 : rc < 0 ? rc : -EIO;
}

int loop_ext4_make(const char *img, uint64_t size, struct buf *err)
{
	__do_close int fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		buf_printf(err, "cannot create image %s: %s", img, strerror(errno));
		return -errno;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		buf_printf(err, "cannot size image %s: %s", img, strerror(e));
		unlink(img);
		return -e;
	}
	struct cmd c = CMD_INIT;
	cmd_add(&c, "mkfs.ext4");
	cmd_add(&c, "-q");
	cmd_add(&c, "-F");
	cmd_add(&c, "-m");
	cmd_add(&c, "0");
	cmd_add(&c, "--");
	cmd_add(&c, img);
	__do_free char *what = xasprintf("mkfs.ext4 of %s", img);
	int r = run(&c, what, err);
	cmd_release(&c);
	if (r < 0)
		unlink(img);
	return r;
}

bool loop_mounted(const char *dir)
{
	__do_buf struct buf b = BUF_INIT;
	if (fs_read_file("/proc/self/mountinfo", 16 << 20, &b) < 0 || !b.s)
		return false;
	/* field 5 is the mount point, with space, tab, newline and backslash octal-escaped */
	for (char *line = b.s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *f = line;
		for (int i = 0; i < 4 && f; i++) {
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (f) {
			size_t n = strcspn(f, " ");
			if (n == strlen(dir) && strncmp(f, dir, n) == 0)
				return true;
		}
		line = nl ? nl + 1 : NULL;
	}
	return false;
}

int loop_mount(const char *img, const char *dir, struct buf *err)
{
	if (loop_mounted(dir))
		return 0;
	if (mkdir(dir, 0711) < 0 && errno != EEXIST) {
		buf_printf(err, "cannot make the mount point %s: %s", dir, strerror(errno));
		return -errno;
	}
	struct cmd c = CMD_INIT;
	cmd_add(&c, "mount");
	cmd_add(&c, "-t");
	cmd_add(&c, "ext4");
	cmd_add(&c, "-o");
	cmd_add(&c, "loop");
	cmd_add(&c, "--");
	cmd_add(&c, img);
	cmd_add(&c, dir);
	__do_free char *what = xasprintf("mounting %s on %s", img, dir);
	int r = run(&c, what, err);
	cmd_release(&c);
	return r;
}

/* Run `prog -- dir`; a failure: "<doing> <dir> failed: ...". */
static int run_on_dir(const char *prog, const char *doing, const char *dir, struct buf *err)
{
	struct cmd c = CMD_INIT;
	cmd_add(&c, prog);
	cmd_add(&c, "--");
	cmd_add(&c, dir);
	__do_free char *what = xasprintf("%s %s", doing, dir);
	int r = run(&c, what, err);
	cmd_release(&c);
	return r;
}

int loop_umount(const char *dir, struct buf *err)
{
	return loop_mounted(dir) ? run_on_dir("umount", "unmounting", dir, err) : 0;
}

int loop_trim(const char *dir, struct buf *err)
{
	return run_on_dir("fstrim", "trimming", dir, err);
}
