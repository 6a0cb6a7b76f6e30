/*
 * fuzz_untar.c - fuzz target for the container root unpacker
 * (src/lxc/untar.c: `ct create --from-tarball` and the Debian template's
 * cached base), which reads archives anybody can hand an administrator.
 *
 * Input: any bytes, served through a memfd as the archive (libarchive
 * detects plain tar, gzip, xz, zstd, bzip2).  Each input is unpacked twice
 * into a fresh root inside a private scratch directory: as an unprivileged
 * container (ids 100000 + 65536, at most 8 MiB of data) and as a privileged
 * one.  Checked besides "no crash, no leak, no hang":
 *   - a refusal carries a message and leaves no root behind;
 *   - an accepted archive left nothing beside the root: the scratch
 *     directory holds only the root and an empty sentinel directory (an
 *     entry written through a symlink or a `..` would land there);
 *   - in an unprivileged root every owner lies in the id range, no device
 *     node exists, and the data written stayed within the limit.
 * It writes files as the user running it (root, for the owners): fuzz it
 * on a throwaway machine, as a bug here is a write outside the root.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lxc/lxc.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UID_BASE 100000u
#define ID_COUNT 65536u
#define MAX_BYTES (8u << 20)

static char scratch[64], root[96], sentinel[96];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_untar: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void scratch_remove(void)
{
	rmdir(sentinel);
	rmdir(scratch);
}

static void scratch_make(void)
{
	const char *tmp = getenv("TMPDIR");

	if (scratch[0])
		return;
	snprintf(scratch, sizeof(scratch), "%s/fuzz_untar.XXXXXX", tmp && strlen(tmp) < 30 ? tmp : "/tmp");
	if (!mkdtemp(scratch))
		die("mkdtemp", scratch);
	snprintf(root, sizeof(root), "%s/root", scratch);
	snprintf(sentinel, sizeof(sentinel), "%s/sentinel", scratch);
	if (mkdir(sentinel, 0755) < 0)
		die("mkdir", sentinel);
	atexit(scratch_remove);
}

/* Nothing but root (when `with_root`) and an empty sentinel in the scratch dir. */
static void check_scratch(bool with_root)
{
	DIR *d = opendir(scratch);
	struct dirent *e;
	int n = 0;

	if (!d)
		die("opendir", scratch);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strcmp(e->d_name, "sentinel") && !(with_root && !strcmp(e->d_name, "root")))
			die("an entry beside the root", e->d_name);
		n++;
	}
	closedir(d);
	if (n != (with_root ? 2 : 1))
		die("the root", with_root ? "missing after success" : "left behind after a refusal");
	d = opendir(sentinel);
	if (!d)
		die("opendir", sentinel);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			die("written through a link into the sentinel", e->d_name);
	closedir(d);
}

static int check_unpriv_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	if (st->st_uid < UID_BASE || st->st_uid >= UID_BASE + ID_COUNT || st->st_gid < UID_BASE ||
	    st->st_gid >= UID_BASE + ID_COUNT)
		die("an owner outside the id range", path);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		die("a device node in an unprivileged root", path);
	return 0;
}

static void unpack(int fd, bool privileged)
{
	struct ctrt_untar u = { .privileged = privileged, .max_bytes = MAX_BYTES };
	struct buf err = BUF_INIT;
	int r;

	if (!privileged) {
		u.uid_base = UID_BASE;
		u.gid_base = UID_BASE;
		u.id_count = ID_COUNT;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek", NULL);
	r = ctrt_untar(fd, root, &u, &err);
	if (r < 0) {
		if (!err.len)
			die("refused without a message", NULL);
		check_scratch(false);
	} else {
		check_scratch(true);
		if (u.bytes > MAX_BYTES)
			die("more data written than the limit", NULL);
		if (!privileged && nftw(root, check_unpriv_entry, 16, FTW_PHYS) != 0)
			die("walking the root", root);
		buf_reset(&err);
		if (ctrt_remove_tree(root, &err) < 0)
			die("removing the root", err.s);
	}
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd;

	scratch_make();
	fd = memfd_create("fuzz_untar", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create", NULL);
	if (size && write(fd, data, size) != (ssize_t)size)
		die("write", NULL);
	unpack(fd, false);
	unpack(fd, true);
	close(fd);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_untar", argc, argv); }
#endif
