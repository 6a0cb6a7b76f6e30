/*
 * test_backup_engine.c - the backup engine against a real QEMU 7.2 (TCG,
 * guest CPUs paused: the block layer runs all the same) and a real
 * repository: full then incremental backups of a running VM through a
 * fleecing point (a write made after the point must not be in the backup),
 * a raw disk always read whole, restores compared with qemu-img against
 * images built independently with qemu-io, backup_dev_open, a failed run
 * (NBD server torn away mid-read) leaving no manifest and a chain that stays
 * exact, cleanup after a simulated crash, backups of a stopped VM through
 * qemu-nbd whose bitmap lets the next running backup be incremental, an
 * internal snapshot (snapshot-save) on a qcow2 carrying persistent bitmaps,
 * and cancels: a backup of a running and of a stopped VM cancelled mid-disk
 * stops within a second, leaves no manifest, no QEMU block objects and no
 * qemu-nbd, and the next incremental is still exact; a cancelled restore
 * leaves no image and no qemu-nbd.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "backup/backup.h"
#include "backup/fleece.h"
#include "backup/repo.h"
#include "qemu/qmp.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MiB (1024ull * 1024)
#define CHUNK (256u * 1024)
#define DISK_SIZE (32 * MiB)
#define RAW_SIZE (8 * MiB)

struct fx {
	char dir[64];
	char *repo_path, *img, *raw, *v2, *expect, *expect_raw, *run_dir, *qmp_sock, *pidfile;
	struct repo *repo;
	struct qmp *qmp;
	pid_t qemu_pid;
	/* a write to make from the progress callback, once */
	const char *cb_write, *cb_write_expect;
	bool cb_kill_nbd, cb_kill_qemu_nbd, cb_done;
	int qemu_nbd_killed;		/* by cb_kill_qemu_nbd */
	/* cancel: set the flag at the first progress report of this phase */
	atomic_bool cancel;
	const char *cancel_at;
	int64_t cancel_ms;		/* when it was set */
	uint64_t done_at_cancel, done_after_cancel, total;
	struct buf last_err;		/* of the last do_backup */
	const char *nvram;		/* a UEFI VM's vars file to keep (backup_req.nvram_path) */
};

static int run_argv(const char *const *argv, struct buf *out)
{
	struct cmd c = CMD_INIT;
	for (size_t i = 0; argv[i]; i++)
		cmd_add(&c, argv[i]);
	struct buf e = BUF_INIT;
	int r = cmd_run(&c, out, &e);
	if (r != 0)
		print_message("%s failed (%d): %s\n", argv[0], r, e.s);
	buf_release(&e);
	cmd_release(&c);
	return r;
}

#define RUN(...) run_argv((const char *const[]){ __VA_ARGS__, NULL }, NULL)

static char *fx_path(struct fx *f, const char *name)
{
	return xasprintf("%s/%s", f->dir, name);
}

/* The same write on the expected raw image (built independently of QEMU's VM). */
static void expect_write(const char *img, const char *io)
{
	assert_int_equal(RUN("qemu-io", "-f", "raw", "-c", io, img), 0);
}

static void hmp_write(struct fx *f, const char *dev, const char *io)
{
	__do_free char *line = xasprintf("qemu-io -d /machine/peripheral/%s/virtio-backend \"%s\"", dev, io);
	json_t *ret = NULL;
	struct buf err = BUF_INIT;
	int r = qmp_execute(f->qmp, "human-monitor-command", json_pack("{s:s}", "command-line", line), &ret, 0, &err);
	assert_int_equal(r, 0);
	/* qemu-io in HMP reports errors as its output. */
	if (strlen(json_string_value(ret)))
		print_message("qemu-io: %s\n", json_string_value(ret));
	assert_int_equal(strlen(json_string_value(ret)), 0);
	json_decref(ret);
	buf_release(&err);
}

/* Guest write: on the VM's disk and on the expected image. */
static void both_write(struct fx *f, const char *io)
{
	hmp_write(f, "vd0", io);
	expect_write(f->expect, io);
}

static void qemu_start(struct fx *f)
{
	__do_free char *bf = xasprintf("driver=file,filename=%s,node-name=disk0-file", f->img);
	__do_free char *rf = xasprintf("driver=file,filename=%s,node-name=disk1-file", f->raw);
	__do_free char *vf = xasprintf("driver=file,filename=%s,node-name=disk2-file", f->v2);
	__do_free char *qmpopt = xasprintf("unix:%s,server=on,wait=off", f->qmp_sock);
	assert_int_equal(RUN("qemu-system-x86_64", "-accel", "tcg", "-M", "q35", "-m", "64", "-nodefaults", "-display",
			     "none", "-S", "-blockdev", bf, "-blockdev", "driver=qcow2,file=disk0-file,node-name=disk0",
			     "-device", "virtio-blk-pci,drive=disk0,id=vd0", "-blockdev", rf, "-blockdev",
			     "driver=raw,file=disk1-file,node-name=disk1", "-device", "virtio-blk-pci,drive=disk1,id=vd1",
			     "-blockdev", vf, "-blockdev", "driver=qcow2,file=disk2-file,node-name=disk2", "-device",
			     "virtio-blk-pci,drive=disk2,id=vd2",
			     "-qmp", qmpopt, "-daemonize", "-pidfile", f->pidfile),
			 0);
	struct buf pb = BUF_INIT, err = BUF_INIT;
	assert_int_equal(fs_read_file(f->pidfile, 64, &pb), 0);
	f->qemu_pid = (pid_t)atoi(pb.s);
	buf_release(&pb);
	f->qmp = qmp_connect(f->qmp_sock, 10000, NULL, NULL, NULL, &err);
	if (!f->qmp)
		print_message("qmp: %s\n", err.s);
	assert_non_null(f->qmp);
	buf_release(&err);
}

static void qemu_stop(struct fx *f)
{
	if (f->qmp) {
		struct buf err = BUF_INIT;
		qmp_execute(f->qmp, "quit", NULL, NULL, 0, &err);
		buf_release(&err);
		qmp_close(f->qmp);
		f->qmp = NULL;
	}
	for (int i = 0; f->qemu_pid > 0 && i < 500 && kill(f->qemu_pid, 0) == 0; i++)
		time_sleep_ms(10);
	if (f->qemu_pid > 0 && kill(f->qemu_pid, 0) == 0)
		kill(f->qemu_pid, SIGKILL);
	f->qemu_pid = 0;
}

static int setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/corral-test-bk-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->repo_path = fx_path(f, "repo");
	f->img = fx_path(f, "disk0.qcow2");
	f->raw = fx_path(f, "disk1.raw");
	f->v2 = fx_path(f, "disk2-v2.qcow2");
	f->expect = fx_path(f, "expect.raw");
	f->expect_raw = fx_path(f, "expect1.raw");
	f->run_dir = fx_path(f, "run");
	f->qmp_sock = fx_path(f, "run/qmp.sock");
	f->pidfile = fx_path(f, "run/qemu.pid");
	f->last_err = (struct buf)BUF_INIT;
	mkdir(f->run_dir, 0700);
	struct buf err = BUF_INIT;
	struct repo_create_opts o = { .chunk_size = CHUNK };
	if (repo_create(f->repo_path, &o, &err) < 0 || repo_open(f->repo_path, NULL, NULL, &f->repo, &err) < 0) {
		print_message("repo: %s\n", err.s);
		return -1;
	}
	buf_release(&err);
	__do_free char *dsz = xasprintf("%llu", DISK_SIZE);
	__do_free char *rsz = xasprintf("%llu", RAW_SIZE);
	if (RUN("qemu-img", "create", "-q", "-f", "qcow2", f->img, dsz) || RUN("qemu-img", "create", "-q", "-f", "raw", f->raw, rsz) ||
	    RUN("qemu-img", "create", "-q", "-f", "raw", f->expect, dsz) ||
	    RUN("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", f->v2, rsz) ||
	    RUN("qemu-img", "create", "-q", "-f", "raw", f->expect_raw, rsz))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	qemu_stop(f);
	repo_close(f->repo);
	RUN("rm", "-rf", f->dir);
	free(f->repo_path);
	free(f->img);
	free(f->raw);
	free(f->v2);
	free(f->expect);
	free(f->expect_raw);
	free(f->run_dir);
	free(f->qmp_sock);
	free(f->pidfile);
	buf_release(&f->last_err);
	free(f);
	return 0;
}

/* The qemu-nbd processes whose command line mentions `needle`: counted,
 * and with `sig` also signalled. */
static int qemu_nbd_find(const char *needle, int sig)
{
	int found = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int pid = atoi(de->d_name);
		if (pid <= 0)
			continue;
		__do_free char *p = xasprintf("/proc/%d/cmdline", pid);
		struct buf cl = BUF_INIT;
		if (fs_read_file(p, 65536, &cl) == 0 && strcmp(cl.s, "qemu-nbd") == 0) {
			for (size_t i = 0; i + 1 < cl.len; i++)
				if (cl.s[i] == 0)
					cl.s[i] = ' ';
			if (strstr(cl.s, needle) && (!sig || kill(pid, sig) == 0))
				found++;
		}
		buf_release(&cl);
	}
	if (d)
		closedir(d);
	return found;
}

static void progress(uint64_t done, uint64_t total, const char *phase, void *arg)
{
	struct fx *f = arg;
	assert_true(done <= total);
	if (atomic_load(&f->cancel)) {
		f->done_after_cancel = done;
	} else if (f->cancel_at && strcmp(phase, f->cancel_at) == 0) {
		atomic_store(&f->cancel, true);
		f->cancel_ms = time_mono_ms();
		f->done_at_cancel = f->done_after_cancel = done;
		f->total = total;
	}
	/* At every report, not once: a disk whose reads were all answered
	 * before the kill still completes, and the next disk has its own
	 * qemu-nbd. Each disk's first report comes before its first read. */
	if (f->cb_kill_qemu_nbd && strcmp(phase, "read") == 0)
		f->qemu_nbd_killed += qemu_nbd_find(f->run_dir, SIGKILL);
	if (strcmp(phase, "read") != 0 || f->cb_done)
		return;
	f->cb_done = true;
	if (f->cb_write) {
		hmp_write(f, "vd0", f->cb_write);
		expect_write(f->cb_write_expect, f->cb_write);
	}
	if (f->cb_kill_nbd) {
		struct buf err = BUF_INIT;
		assert_int_equal(qmp_execute(f->qmp, "nbd-server-stop", NULL, NULL, 0, &err), 0);
		buf_release(&err);
	}
}

static int do_backup(struct fx *f, bool running, int64_t now, struct backup_result *res)
{
	struct backup_disk_req disks[3] = {
		{ "vol0", f->img, "qcow2", DISK_SIZE, "disk0", running ? "disk0" : NULL },
		{ "vol1", f->raw, "raw", RAW_SIZE, "disk1", running ? "disk1" : NULL },
		/* qcow2 v2: cannot hold persistent bitmaps, always read whole */
		{ "vol2", f->v2, "qcow2", RAW_SIZE, "disk2", running ? "disk2" : NULL },
	};
	json_t *def = json_pack("{s:s}", "name", "vm1");
	struct backup_req req = { .vm_name = "vm1", .vm_uuid = "11111111-2222-3333-4444-555555555555",
				  .definition = def, .qmp = running ? f->qmp : NULL, .disks = disks, .n_disks = 3,
				  .policy = "daily", .run_dir = f->run_dir, .now = now, .cancel = &f->cancel,
				  .nvram_path = f->nvram };
	struct buf err = BUF_INIT;
	f->cb_done = false;
	int r = backup_vm(f->repo, &req, progress, f, res, &err);
	if (r < 0)
		print_message("backup_vm: %s\n", err.s);
	buf_reset(&f->last_err);
	buf_add(&f->last_err, err.s, err.len);
	buf_release(&err);
	json_decref(def);
	return r;
}

static void restore_compare(struct fx *f, const char *id, size_t index, const char *fmt, const char *expect)
{
	static int n;
	__do_free char *dest = xasprintf("%s/restored-%d.%s", f->dir, n++, fmt);
	struct buf err = BUF_INIT;
	int r = backup_restore_disk(f->repo, id, index, dest, fmt, NULL, NULL, NULL, &err);
	if (r < 0)
		print_message("restore: %s\n", err.s);
	assert_int_equal(r, 0);
	/* Exists now: a second restore onto it is refused and leaves it alone. */
	assert_int_equal(backup_restore_disk(f->repo, id, index, dest, fmt, NULL, NULL, NULL, &err), -EEXIST);
	buf_release(&err);
	assert_int_equal(RUN("qemu-img", "compare", "-q", "-f", "raw", "-F", fmt, expect, dest), 0);
	unlink(dest);
}

static json_t *node_bitmaps(struct fx *f, const char *node)
{
	json_t *nodes = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(qmp_execute(f->qmp, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &nodes, 0, &err), 0);
	buf_release(&err);
	size_t i;
	json_t *n;
	json_t *out = NULL;
	json_array_foreach(nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "node-name"));
		assert_null(strstr(name, "corral-fleece"));
		if (strcmp(name, node) == 0)
			out = json_incref(json_object_get(n, "dirty-bitmaps"));
	}
	json_decref(nodes);
	return out;
}

/* The node's corral bitmaps are exactly `want` (NULL-terminated), recording. */
static void assert_bitmaps(struct fx *f, const char *const *want)
{
	json_t *bms = node_bitmaps(f, "disk0");
	size_t count = 0, i;
	json_t *b;
	json_array_foreach(bms, i, b) {
		const char *name = json_string_value(json_object_get(b, "name"));
		if (!name || strncmp(name, "corral-", 7) != 0)
			continue;
		bool found = false;
		for (size_t k = 0; want[k]; k++)
			found |= strcmp(want[k], name) == 0;
		if (!found)
			print_message("unexpected bitmap %s\n", name);
		assert_true(found);
		assert_true(json_is_true(json_object_get(b, "recording")));
		count++;
	}
	size_t nw = 0;
	while (want[nw])
		nw++;
	assert_int_equal(count, nw);
	json_decref(bms);
}

static size_t manifest_count(struct fx *f)
{
	char **ids = NULL;
	size_t n = 0;
	struct buf err = BUF_INIT;
	assert_int_equal(repo_manifest_list(f->repo, &ids, &n, &err), 0);
	repo_ids_free(ids, n);
	buf_release(&err);
	return n;
}

static char *bitmap_of(const char *id)
{
	return xasprintf("corral-%s", strchr(id, '/') + 1);
}

static void snapshot_expect(struct fx *f, const char *snap)
{
	__do_free char *p = fx_path(f, snap);
	assert_int_equal(RUN("cp", "--sparse=always", f->expect, p), 0);
}

static void test_running(void **state)
{
	struct fx *f = *state;
	struct backup_result r1, r2, r3, r4, r5, r6;
	qemu_start(f);
	both_write(f, "write -P 0x11 0 2M");
	both_write(f, "write -P 0x22 10M 1M");
	hmp_write(f, "vd1", "write -P 0x77 1M 1M");
	expect_write(f->expect_raw, "write -P 0x77 1M 1M");

	/* 1: full (no earlier backup); zero areas are not even read. */
	assert_int_equal(do_backup(f, true, 1000000000, &r1), 0);
	assert_false(r1.disks[0].incremental);
	assert_non_null(strstr(r1.disks[0].full_reason, "no earlier backup"));
	assert_non_null(strstr(r1.disks[1].full_reason, "raw"));
	assert_true(r1.disks[0].bytes_read >= 3 * MiB && r1.disks[0].bytes_read <= 4 * MiB);
	assert_int_equal(r1.disks[0].chunks, DISK_SIZE / CHUNK);
	snapshot_expect(f, "e1.raw");

	/* 2: incremental; a write made during the read is not in it. */
	both_write(f, "write -P 0x33 20M 512k");
	snapshot_expect(f, "e2.raw");
	f->cb_write = "write -P 0x44 64k 64k";
	f->cb_write_expect = f->expect;
	assert_int_equal(do_backup(f, true, 1000000100, &r2), 0);
	f->cb_write = NULL;
	assert_true(r2.disks[0].incremental);
	assert_null(r2.disks[0].full_reason);
	assert_int_equal(r2.disks[0].bytes_read, 512 * 1024);
	assert_false(r2.disks[1].incremental);
	assert_false(r2.disks[2].incremental);
	json_t *rj = backup_result_json(&r2);
	assert_true(json_is_true(json_object_get(json_array_get(json_object_get(rj, "disks"), 0), "incremental")));
	json_decref(rj);

	/* 3: picks up exactly the write made during 2. */
	snapshot_expect(f, "e3.raw");
	assert_int_equal(do_backup(f, true, 1000000200, &r3), 0);
	assert_true(r3.disks[0].incremental);
	assert_int_equal(r3.disks[0].bytes_read, CHUNK);
	__do_free char *bm3 = bitmap_of(r3.id);
	assert_bitmaps(f, (const char *const[]){ bm3, NULL });

	/* Manifest fields. */
	json_t *m = NULL;
	struct buf err = BUF_INIT;
	assert_int_equal(repo_manifest_read(f->repo, r3.id, &m, &err), 0);
	json_t *d0 = json_array_get(json_object_get(m, "disks"), 0);
	assert_int_equal(json_integer_value(json_object_get(m, "version")), BACKUP_MANIFEST_VERSION);
	assert_string_equal(json_string_value(json_object_get(d0, "previous")), r2.id);
	assert_string_equal(json_string_value(json_object_get(d0, "bitmap")), bm3);
	assert_true(json_is_null(json_array_get(json_object_get(d0, "chunks"), 100)));
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(m, "disks"), 1), "bitmap")));
	assert_true(json_is_null(json_object_get(json_array_get(json_object_get(m, "disks"), 2), "bitmap")));
	json_decref(m);

	/* Restores equal the images built with qemu-io. */
	__do_free char *e1 = fx_path(f, "e1.raw"), *e2 = fx_path(f, "e2.raw"), *e3 = fx_path(f, "e3.raw");
	restore_compare(f, r1.id, 0, "qcow2", e1);
	restore_compare(f, r2.id, 0, "qcow2", e2);
	restore_compare(f, r2.id, 0, "raw", e2);
	restore_compare(f, r3.id, 0, "qcow2", e3);
	restore_compare(f, r3.id, 1, "raw", f->expect_raw);

	/* backup_dev_open reads what the restore wrote. */
	struct backup_dev *dev = NULL;
	assert_int_equal(backup_dev_open(f->repo, r2.id, 0, &dev, &err), 0);
	assert_int_equal(backup_dev_size(dev), DISK_SIZE);
	struct buf want = BUF_INIT;
	assert_int_equal(fs_read_file(e2, DISK_SIZE + 1, &want), 0);
	unsigned char *got = xmalloc(DISK_SIZE);
	for (uint64_t off = 0; off < DISK_SIZE; off += 3 * MiB + 4097) {
		size_t len = DISK_SIZE - off < 3 * MiB + 4097 ? DISK_SIZE - off : 3 * MiB + 4097;
		assert_int_equal(backup_dev_pread(dev, got + off, len, off), 0);
	}
	assert_memory_equal(got, want.s, DISK_SIZE);
	assert_int_equal(backup_dev_pread(dev, got, 2, DISK_SIZE - 1), -EINVAL);
	free(got);
	buf_release(&want);
	backup_dev_close(dev);
	assert_int_equal(backup_dev_open(f->repo, r2.id, 5, &dev, &err), -ENOENT);
	buf_reset(&err);

	/* 4: fails while reading (NBD server stopped) as the guest writes: no
	 * manifest, old bitmap recording again and holding that write. */
	size_t before = manifest_count(f);
	both_write(f, "write -P 0x58 12M 1M");
	f->cb_kill_nbd = true;
	f->cb_write = "write -P 0x55 5M 64k";
	f->cb_write_expect = f->expect;
	assert_true(do_backup(f, true, 1000000300, &r4) < 0);
	f->cb_kill_nbd = false;
	f->cb_write = NULL;
	assert_int_equal(manifest_count(f), before);
	assert_bitmaps(f, (const char *const[]){ bm3, NULL });
	assert_int_equal(access(f->run_dir, F_OK), 0);
	__do_free char *ov = fx_path(f, "run/corral-fleece-0.qcow2");
	assert_int_equal(access(ov, F_OK), -1);

	/* 5: still incremental from 3, and includes the write made during 4. */
	snapshot_expect(f, "e5.raw");
	assert_int_equal(do_backup(f, true, 1000000400, &r5), 0);
	assert_true(r5.disks[0].incremental);
	assert_int_equal(r5.disks[0].bytes_read, 5 * CHUNK);
	__do_free char *e5 = fx_path(f, "e5.raw");
	restore_compare(f, r5.id, 0, "qcow2", e5);

	/* Crash with a fleecing point up: cleanup removes it; the next run sees
	 * the half-switched bitmaps and reads the disk whole. */
	__do_free char *bm5 = bitmap_of(r5.id);
	struct fleece_disk_spec spec = { "disk0", DISK_SIZE, bm5, "corral-20010101T000000Z" };
	qmp_close(f->qmp);
	pid_t child = fork();
	if (child == 0) {
		/* corrald: takes the point, then dies without tearing it down. */
		struct buf cerr = BUF_INIT;
		struct qmp *cq = qmp_connect(f->qmp_sock, 10000, NULL, NULL, NULL, &cerr);
		struct fleece *fl = NULL;
		_exit(cq && fleece_take(cq, f->run_dir, &spec, 1, &fl, &cerr) == 0 ? 0 : 1);
	}
	int status = -1;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(access(ov, F_OK), 0);
	f->qmp = qmp_connect(f->qmp_sock, 10000, NULL, NULL, NULL, &err);
	assert_non_null(f->qmp);
	assert_int_equal(backup_cleanup_vm(f->qmp, f->run_dir, &err), 0);
	assert_int_equal(access(ov, F_OK), -1);
	json_decref(node_bitmaps(f, "disk0")); /* asserts no corral-fleece node */
	assert_int_equal(backup_cleanup_vm(f->qmp, f->run_dir, &err), 0);
	assert_int_equal(do_backup(f, true, 1000000500, &r6), 0);
	assert_false(r6.disks[0].incremental);
	assert_non_null(strstr(r6.disks[0].full_reason, "stopped recording"));
	__do_free char *bm6 = bitmap_of(r6.id);
	assert_bitmaps(f, (const char *const[]){ bm6, NULL });
	restore_compare(f, r6.id, 0, "qcow2", f->expect);

	/* Internal snapshots still work on a qcow2 with persistent bitmaps. */
	assert_int_equal(qmp_execute(f->qmp, "snapshot-save",
				     json_pack("{s:s,s:s,s:s,s:[s]}", "job-id", "snap1", "tag", "s1", "vmstate", "disk0",
					       "devices", "disk0"),
				     NULL, 0, &err),
			 0);
	int sr = qmp_job_wait(f->qmp, "snap1", 20000, &err);
	if (sr < 0)
		print_message("snapshot-save: %s\n", err.s);
	assert_int_equal(sr, 0);
	buf_release(&err);

	backup_result_release(&r1);
	backup_result_release(&r2);
	backup_result_release(&r3);
	backup_result_release(&r5);
	backup_result_release(&r6);
	qemu_stop(f);
}

static void test_stopped(void **state)
{
	struct fx *f = *state;
	struct backup_result r1, r2, r3;
	assert_int_equal(RUN("qemu-io", "-f", "qcow2", "-c", "write -P 0x66 3M 1M", f->img), 0);
	expect_write(f->expect, "write -P 0x66 3M 1M");
	assert_int_equal(do_backup(f, false, 1000001000, &r1), 0);
	assert_false(r1.disks[0].incremental);
	assert_non_null(strstr(r1.disks[0].full_reason, "no earlier backup"));
	assert_false(r1.disks[2].incremental);
	assert_true(r1.disks[0].bytes_read <= 2 * MiB);
	restore_compare(f, r1.id, 0, "qcow2", f->expect);
	/* qemu-nbd dies mid-read: no manifest, no bitmap added, no leftovers. */
	assert_int_equal(RUN("qemu-io", "-f", "qcow2", "-c", "write -P 0x68 8M 2M", f->img), 0);
	expect_write(f->expect, "write -P 0x68 8M 2M");
	size_t before = manifest_count(f);
	f->cb_kill_qemu_nbd = true;
	f->qemu_nbd_killed = 0;
	assert_true(do_backup(f, false, 1000001050, &r2) < 0);
	f->cb_kill_qemu_nbd = false;
	assert_true(f->qemu_nbd_killed >= 1);
	assert_int_equal(manifest_count(f), before);
	struct buf out = BUF_INIT;
	assert_int_equal(run_argv((const char *const[]){ "qemu-img", "info", "--output=json", f->img, NULL }, &out), 0);
	__do_free char *bm1 = bitmap_of(r1.id);
	assert_non_null(strstr(out.s, bm1));
	assert_null(strstr(strstr(out.s, bm1) + 1, "\"corral-"));
	assert_true(strstr(out.s, "\"corral-") == strstr(out.s, bm1) - 1);
	buf_reset(&out);
	__do_free char *sock = fx_path(f, "run/corral-nbd-0.sock");
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(do_backup(f, false, 1000001100, &r2), 0);
	/* Offline writes (qemu-io) were recorded by the image's bitmap: only they are read. */
	assert_true(r2.disks[0].incremental);
	assert_int_equal(r2.disks[0].bytes_read, 2 * MiB);
	restore_compare(f, r2.id, 0, "qcow2", f->expect);
	/* Exactly the newest bitmap is left on the image. */
	assert_int_equal(run_argv((const char *const[]){ "qemu-img", "info", "--output=json", f->img, NULL }, &out), 0);
	__do_free char *bm2 = bitmap_of(r2.id);
	assert_null(strstr(out.s, bm1));
	assert_non_null(strstr(out.s, bm2));
	buf_release(&out);
	/* The VM starts: its first backup continues the chain. */
	qemu_start(f);
	both_write(f, "write -P 0x67 30M 64k");
	assert_int_equal(do_backup(f, true, 1000001200, &r3), 0);
	assert_true(r3.disks[0].incremental);
	assert_int_equal(r3.disks[0].bytes_read, CHUNK);
	restore_compare(f, r3.id, 0, "qcow2", f->expect);
	qemu_stop(f);
	backup_result_release(&r1);
	backup_result_release(&r2);
	backup_result_release(&r3);
}

/* A UEFI VM's vars file goes with the backup and comes back byte for byte;
 * a backup without one says so; verify counts its chunks and sweep keeps them. */
static void test_nvram(void **state)
{
	struct fx *f = *state;
	struct backup_result r1, r2;
	__do_free char *vars = fx_path(f, "vars.fd");
	__do_buf struct buf data = BUF_INIT, got = BUF_INIT, err = BUF_INIT;

	/* OVMF_VARS_4M's shape: 540672 bytes, mostly zero, a variable store at the start and near the end */
	buf_grow(&data, 540672);
	memset(data.s, 0, 540672);
	data.len = 540672;
	for (size_t i = 0; i < 4096; i++) {
		data.s[i] = (char)(i * 7 + 1);
		data.s[540672 - 4096 + i] = (char)(i * 13 + 5);
	}
	assert_int_equal(fs_write_file_atomic(vars, data.s, data.len, 0600), 0);
	assert_int_equal(do_backup(f, false, 1000002000, &r1), 0);
	assert_int_equal(backup_nvram_read(f->repo, r1.id, &got, &err), -ENOENT);
	f->nvram = vars;
	assert_int_equal(do_backup(f, false, 1000002100, &r2), 0);
	buf_reset(&err);
	buf_reset(&got);
	assert_int_equal(backup_nvram_read(f->repo, r2.id, &got, &err), 0);
	assert_int_equal(got.len, data.len);
	assert_memory_equal(got.s, data.s, data.len);
	/* the older backup goes; the vars' chunks are the newer one's and stay */
	assert_int_equal(repo_manifest_delete(f->repo, r1.id, &err), 0);
	uint64_t freed = 0, bytes = 0;
	assert_int_equal(repo_sweep(f->repo, NULL, &freed, &bytes, &err), 0);
	buf_reset(&got);
	assert_int_equal(backup_nvram_read(f->repo, r2.id, &got, &err), 0);
	assert_memory_equal(got.s, data.s, data.len);
	/* a vars file swapped for a symlink (its directory is the qemu user's) is not followed */
	__do_free char *link = fx_path(f, "link.fd");
	struct backup_result r3;
	assert_int_equal(symlink("/etc/passwd", link), 0);
	f->nvram = link;
	assert_true(do_backup(f, false, 1000002200, &r3) < 0);
	assert_non_null(strstr(f->last_err.s, "cannot read the NVRAM vars"));
	f->nvram = NULL;
	unlink(link);
	backup_result_release(&r1);
	backup_result_release(&r2);
}

/* The running QEMU holds nothing of a backup: no export, no block job, no
 * fleecing node (node_bitmaps checks), no overlay file, no NBD socket. */
static void assert_qemu_clean(struct fx *f)
{
	static const char *const queries[] = { "query-block-exports", "query-jobs" };
	struct buf err = BUF_INIT;
	for (size_t i = 0; i < ARRAY_SIZE(queries); i++) {
		json_t *ret = NULL;
		assert_int_equal(qmp_execute(f->qmp, queries[i], NULL, &ret, 0, &err), 0);
		if (json_array_size(ret))
			print_message("%s: %s\n", queries[i], json_dumps(ret, JSON_COMPACT));
		assert_int_equal(json_array_size(ret), 0);
		json_decref(ret);
	}
	buf_release(&err);
	json_decref(node_bitmaps(f, "disk0"));
	__do_free char *ov = fx_path(f, "run/corral-fleece-0.qcow2");
	__do_free char *sock = fx_path(f, "run/corral-backup.sock");
	assert_int_equal(access(ov, F_OK), -1);
	assert_int_equal(access(sock, F_OK), -1);
}

/* A backup that cancels itself at its first read report: it stops mid-disk
 * (the bytes done after the cancel prove it) and returns within a second
 * or two (CANCEL_MAX_MS leaves room for a loaded machine and ASan), with no
 * manifest and no qemu-nbd left. */
#define CANCEL_MAX_MS 5000
static void backup_cancelled(struct fx *f, bool running, int64_t now)
{
	struct backup_result res;
	size_t before = manifest_count(f);
	f->cancel_at = "read";
	int r = do_backup(f, running, now, &res);
	int64_t took = time_mono_ms() - f->cancel_ms;
	f->cancel_at = NULL;
	atomic_store(&f->cancel, false);
	print_message("cancelled at %llu of %llu bytes, %llu reported after; backup_vm returned %lld ms later\n",
		      (unsigned long long)f->done_at_cancel, (unsigned long long)f->total,
		      (unsigned long long)f->done_after_cancel, (long long)took);
	assert_int_equal(r, -ECANCELED);
	assert_non_null(strstr(f->last_err.s, "cancelled"));
	assert_true(f->done_after_cancel <= f->done_at_cancel + 2 * CHUNK);
	assert_true(f->done_after_cancel < f->total / 2);
	assert_true(took < CANCEL_MAX_MS);
	assert_int_equal(manifest_count(f), before);
	assert_int_equal(qemu_nbd_find(f->run_dir, 0), 0);
	__do_free char *sock = fx_path(f, "run/corral-nbd-0.sock");
	assert_int_equal(access(sock, F_OK), -1);
}

/* A restore that cancels itself at its first write report: no image, no qemu-nbd. */
static void restore_cancelled(struct fx *f, const char *id, const char *fmt)
{
	__do_free char *dest = xasprintf("%s/cancelled.%s", f->dir, fmt);
	struct buf err = BUF_INIT;
	f->cancel_at = "write";
	int r = backup_restore_disk(f->repo, id, 0, dest, fmt, &f->cancel, progress, f, &err);
	int64_t took = time_mono_ms() - f->cancel_ms;
	f->cancel_at = NULL;
	atomic_store(&f->cancel, false);
	print_message("restore (%s) cancelled at %llu of %llu bytes: %s (%lld ms)\n", fmt,
		      (unsigned long long)f->done_at_cancel, (unsigned long long)f->total, err.s, (long long)took);
	assert_int_equal(r, -ECANCELED);
	assert_non_null(strstr(err.s, "cancelled"));
	assert_true(f->done_after_cancel < f->total);
	assert_true(took < CANCEL_MAX_MS);
	assert_int_equal(access(dest, F_OK), -1);
	assert_int_equal(qemu_nbd_find(dest, 0), 0);
	buf_release(&err);
}

static void test_cancel(void **state)
{
	struct fx *f = *state;
	struct backup_result r1, r2, r3;
	qemu_start(f);
	both_write(f, "write -P 0x11 0 8M");
	assert_int_equal(do_backup(f, true, 1000002000, &r1), 0);
	__do_free char *bm1 = bitmap_of(r1.id);

	/* Running: the guest writes before and during a cancelled run; both
	 * writes are in the next incremental, which is exact.  (While the
	 * callback makes that write the other worker may finish the disk, so a
	 * second cancel, with a quick callback, shows the workers stop.) */
	both_write(f, "write -P 0x21 8M 4M");
	f->cb_write = "write -P 0x31 20M 64k";
	f->cb_write_expect = f->expect;
	backup_cancelled(f, true, 1000002100);
	f->cb_write = NULL;
	assert_bitmaps(f, (const char *const[]){ bm1, NULL });
	assert_qemu_clean(f);
	backup_cancelled(f, true, 1000002150);
	assert_bitmaps(f, (const char *const[]){ bm1, NULL });
	assert_qemu_clean(f);
	snapshot_expect(f, "c2.raw");
	assert_int_equal(do_backup(f, true, 1000002200, &r2), 0);
	assert_true(r2.disks[0].incremental);
	assert_int_equal(r2.disks[0].bytes_read, 4 * MiB + CHUNK);
	__do_free char *c2 = fx_path(f, "c2.raw");
	restore_compare(f, r2.id, 0, "qcow2", c2);
	qemu_stop(f);

	/* Stopped: qemu-nbd goes, no new bitmap stays, the next run is incremental. */
	assert_int_equal(RUN("qemu-io", "-f", "qcow2", "-c", "write -P 0x41 12M 2M", f->img), 0);
	expect_write(f->expect, "write -P 0x41 12M 2M");
	backup_cancelled(f, false, 1000002300);
	struct buf out = BUF_INIT;
	assert_int_equal(run_argv((const char *const[]){ "qemu-img", "info", "--output=json", f->img, NULL }, &out), 0);
	__do_free char *bm2 = bitmap_of(r2.id);
	__do_free char *bm2q = xasprintf("\"%s\"", bm2);
	assert_non_null(strstr(out.s, bm2q));
	assert_true(strstr(out.s, "\"corral-") == strstr(out.s, bm2q));
	assert_null(strstr(strstr(out.s, bm2q) + 1, "\"corral-"));
	buf_release(&out);
	assert_int_equal(do_backup(f, false, 1000002400, &r3), 0);
	assert_true(r3.disks[0].incremental);
	assert_int_equal(r3.disks[0].bytes_read, 2 * MiB);
	restore_compare(f, r3.id, 0, "qcow2", f->expect);

	/* Restores: through qemu-nbd (qcow2) and straight into the file (raw). */
	restore_cancelled(f, r3.id, "qcow2");
	restore_cancelled(f, r3.id, "raw");
	restore_compare(f, r3.id, 0, "raw", f->expect);

	backup_result_release(&r1);
	backup_result_release(&r2);
	backup_result_release(&r3);
}

int main(void)
{
	if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 || access("/usr/bin/qemu-nbd", X_OK) != 0) {
		printf("1..0 # SKIP qemu-system-x86_64 or qemu-nbd missing\n");
		return 77;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nvram, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
