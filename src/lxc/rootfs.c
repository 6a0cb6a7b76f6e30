/*
 * rootfs.c - the busybox root corral builds for `ct create --template
 * busybox` (what LXC's lxc-busybox template does, by corral's own code and
 * offline): the host's static busybox, a link per applet, an init table
 * (its rcS starts a DHCP client on each NIC the container has) and the few
 * files a login shell wants.  And removing a container's tree.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/common.h"

#define BUSYBOX "/bin/busybox"

static const char *const dirs[] = { "bin", "sbin", "dev", "etc", "etc/init.d", "proc", "sys", "tmp", "root", "run",
				     "var", "var/log", "usr", "usr/bin", "usr/sbin", "lib", "home", "mnt" };

static const char inittab[] = "::sysinit:/etc/init.d/rcS\n"
			      "console::respawn:-/bin/sh\n"
			      "::ctrlaltdel:/sbin/reboot\n";
static const char rcs[] = "#!/bin/sh\n"
			  "# corral's busybox container: the runtime mounted /proc, /sys and /dev\n"
			  "mkdir -p /run /var/run /tmp\n"
			  "# a DHCP client on each NIC (corral networks lease addresses), renewing as it runs\n"
			  "for i in /sys/class/net/eth*; do\n"
			  "\t[ -e \"$i\" ] || continue\n"
			  "\tudhcpc -i \"${i##*/}\" -s /etc/udhcpc.script -x hostname:\"$(hostname)\" >/dev/null 2>&1 &\n"
			  "done\n";
/* udhcpc's hook: the lease onto the interface, the default route and DNS */
static const char udhcpc_script[] =
	"#!/bin/sh\n"
	"case $1 in\n"
	"deconfig) ip -4 addr flush dev \"$interface\"; ip link set \"$interface\" up ;;\n"
	"bound|renew)\n"
	"\tip -4 addr flush dev \"$interface\"\n"
	"\tip addr add \"$ip/$mask\" dev \"$interface\"\n"
	"\t[ -n \"$router\" ] && ip route replace default via \"${router%% *}\" dev \"$interface\"\n"
	"\t: >/etc/resolv.conf\n"
	"\t[ -n \"$domain\" ] && echo \"search $domain\" >>/etc/resolv.conf\n"
	"\tfor d in $dns; do echo \"nameserver $d\" >>/etc/resolv.conf; done ;;\n"
	"esac\n"
	"exit 0\n";
static const char profile[] = "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
			      "export PS1='\\h:\\w\\$ '\n";

static int put_file(const char *root, const char *rel, const char *text, mode_t mode, struct buf *err)
{
	__do_free char *p = xasprintf("%s/%s", root, rel);
	int r = fs_write_file_atomic(p, text, strlen(text), mode);
	if (r < 0)
		buf_printf(err, "cannot write %s: %s", p, strerror(-r));
	return r;
}

/* Link every applet `busybox --list-full` names (bin/sh, usr/bin/wc...) to /bin/busybox. */
static int link_applets(const char *root, struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, e = BUF_INIT;
	int r;
	cmd_add(&c, BUSYBOX);
	cmd_add(&c, "--list-full");
	r = cmd_run(&c, &out, &e);
	cmd_release(&c);
	if (r != 0) {
		buf_printf(err, "%s --list-full failed (exit %d): install busybox-static", BUSYBOX, r);
		r = -EIO;
		goto out;
	}
	r = 0;
	for (char *line = out.s; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		/* only plain relative names inside the root */
		if (*line && line[0] != '/' && !strstr(line, "..") && strcmp(line, "bin/busybox") != 0) {
			__do_free char *p = xasprintf("%s/%s", root, line);
			if (symlink("/bin/busybox", p) < 0 && errno != EEXIST) {
				buf_printf(err, "cannot link %s: %s", p, strerror(errno));
				r = -errno;
				break;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
out:
	buf_release(&out);
	buf_release(&e);
	return r;
}

static uid_t own_uid;
static gid_t own_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, own_uid, own_gid) < 0 ? -1 : 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int ctrt_remove_tree(const char *dir, struct buf *err)
{
	struct stat st;
	if (lstat(dir, &st) < 0)
		return errno == ENOENT ? 0 : (buf_printf(err, "cannot read %s: %s", dir, strerror(errno)), -errno);
	if (nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) {
		int e = errno;
		buf_printf(err, "cannot remove %s: %s", dir, strerror(e));
		return -e;
	}
	return 0;
}

int ctrt_rootfs_busybox(const char *dir, uid_t uid, gid_t gid, struct buf *err)
{
	int r = -EIO;

	if ((r = ctrt_root_mkdir(dir, err)) < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		__do_free char *p = xasprintf("%s/%s", dir, dirs[i]);
		if (mkdir(p, strcmp(dirs[i], "tmp") == 0 ? 01777 : strcmp(dirs[i], "root") == 0 ? 0700 : 0755) < 0) {
			buf_printf(err, "cannot make %s: %s", p, strerror(errno));
			goto fail;
		}
	}
	{
		__do_free char *tmp = xasprintf("%s/tmp", dir);
		chmod(tmp, 01777);
		__do_free char *bb = xasprintf("%s/bin/busybox", dir);
		if ((r = fs_copy_file(BUSYBOX, bb, 0755)) < 0) {
			buf_printf(err, "cannot copy %s into the container: %s (install busybox-static)", BUSYBOX,
				   strerror(-r));
			goto fail;
		}
	}
	if ((r = link_applets(dir, err)) < 0 || (r = put_file(dir, "etc/inittab", inittab, 0644, err)) < 0 ||
	    (r = put_file(dir, "etc/init.d/rcS", rcs, 0755, err)) < 0 ||
	    (r = put_file(dir, "etc/udhcpc.script", udhcpc_script, 0755, err)) < 0 ||
	    (r = put_file(dir, "etc/profile", profile, 0644, err)) < 0 ||
	    (r = put_file(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0644, err)) < 0 ||
	    (r = put_file(dir, "etc/group", "root:x:0:\n", 0644, err)) < 0 ||
	    (r = put_file(dir, "etc/shells", "/bin/sh\n/bin/ash\n", 0644, err)) < 0)
		goto fail;
	if (uid || gid) {
		own_uid = uid;
		own_gid = gid;
		if (nftw(dir, chown_one, 32, FTW_PHYS | FTW_MOUNT) < 0) {
			buf_printf(err, "cannot give %s to the container's ids %u:%u: %s", dir, (unsigned)uid,
				   (unsigned)gid, strerror(errno));
			r = -EIO;
			goto fail;
		}
	}
	return 0;
fail:
	{
		struct buf e = BUF_INIT;
		ctrt_tree_remove(dir, &e);
		buf_release(&e);
	}
	return r < 0 ? r : -EIO;
}
