/*
 * test_imgclient.c - corrald's side of the image helper (src/service/
 * imgclient.c, fsview.c) against the real helper: the corral-imgd-test
 * build of src/imgd, whose /corral-test/ paths crash, spin or try to
 * escape on purpose.  Checked: listings and streamed files of an ext4
 * image made by mke2fs, a device served from memory (as backups are), a
 * stream the client abandons (helper stopped, owner released), a backing
 * chain that does not match the image's header, and the errors a user gets
 * when the helper crashes, hangs past the timeout, is killed by its
 * seccomp filter, or cannot start (no account, no program) - each without
 * harm to this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "service/fsview.h"
#include "service/imgclient.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MIB (1u << 20)
#define BLOB_SIZE (3 * MIB + 77)

static char dir[64];
static bool have_tools;
static char *blob;

static char *path_in(const char *name) { return xasprintf("%s/%s", dir, name); }

static int run(const char *arg0, ...)
{
	struct cmd c = CMD_INIT;
	struct buf out = BUF_INIT, err = BUF_INIT;
	va_list ap;

	cmd_add(&c, arg0);
	va_start(ap, arg0);
	for (const char *a; (a = va_arg(ap, const char *));)
		cmd_add(&c, a);
	va_end(ap);
	int rc = cmd_run(&c, &out, &err);
	if (rc != 0)
		print_error("%s failed (%d): %s\n", arg0, rc, err.s);
	cmd_release(&c);
	buf_release(&out);
	buf_release(&err);
	return rc;
}

static void config_helper(const char *helper, const char *user, int timeout_s)
{
	__do_free char *root = path_in("root");
	struct imgc_config c = { .helper = helper, .user = user, .root = root, .timeout_s = timeout_s };
	struct buf err = BUF_INIT;
	assert_int_equal(imgc_init(&c, &err), 0);
	buf_release(&err);
}

static void config(const char *user, int timeout_s)
{
	config_helper(IMGD_TEST_HELPER, user, timeout_s);
}

/* The account the helper runs as here: the real one if it exists. */
static const char *helper_user(void)
{
	return getpwnam("corral-imgd") ? "corral-imgd" : "nobody";
}

static int setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN); /* as corrald: an abandoned stream is EPIPE, not death */
	snprintf(dir, sizeof(dir), "/tmp/corral-imgclient.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	have_tools = access("/sbin/mke2fs", X_OK) == 0 || access("/usr/sbin/mke2fs", X_OK) == 0;
	blob = xmalloc(BLOB_SIZE);
	for (size_t i = 0; i < BLOB_SIZE; i++)
		blob[i] = (char)(i * 2654435761u >> 13);
	__do_free char *tree = path_in("tree");
	__do_free char *sub = path_in("tree/etc");
	__do_free char *bl = path_in("tree/blob.bin");
	__do_free char *host = path_in("tree/etc/hostname");
	__do_free char *lnk = path_in("tree/link");
	__do_free char *img = path_in("fs.img");
	__do_free char *base = path_in("base.qcow2");
	__do_free char *top = path_in("top.qcow2");
	fs_mkdir_p(sub, 0755);
	fs_write_file_atomic(bl, blob, BLOB_SIZE, 0644);
	fs_write_file_atomic(host, "imgclient\n", 10, 0644);
	if (symlink("etc/hostname", lnk) < 0)
		return -1;
	if (have_tools && (run("mke2fs", "-q", "-F", "-t", "ext4", "-d", tree, img, "16M", NULL) ||
			   run("qemu-img", "convert", "-q", "-O", "qcow2", img, base, NULL) ||
			   run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top, NULL)))
		have_tools = false;
	config(helper_user(), 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	imgc_shutdown();
	run("rm", "-rf", dir, NULL);
	free(blob);
	return 0;
}

#define NEED_TOOLS()                   \
	do {                           \
		if (!have_tools)       \
			skip();        \
	} while (0)

static void open_image(struct imgc_source *s, const char *name, const char *format)
{
	__do_free char *p = path_in(name);
	struct buf err = BUF_INIT;
	const char *chain[] = { p };
	assert_int_equal(imgc_source_files(s, name, chain, 1, format, NULL, &err), 0);
	buf_release(&err);
}

static void check_listing(const struct imgc_source *src)
{
	json_t *out = NULL;
	struct buf err = BUF_INIT;

	if (svc_fs_listing(src, 0, NULL, "/", &out, &err) < 0)
		fail_msg("listing: %s", err.s);
	assert_string_equal(json_string_value(json_object_get(out, "fstype")), "ext4");
	assert_string_equal(json_string_value(json_object_get(out, "type")), "directory");
	assert_true(json_is_false(json_object_get(out, "truncated")));
	json_t *e = json_object_get(out, "entries");
	/* sorted by name: blob.bin, etc, link, lost+found */
	assert_int_equal(json_array_size(e), 4);
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 0), "name")), "blob.bin");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "size")), BLOB_SIZE);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(e, 0), "mode")), 0644);
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 1), "type")), "directory");
	assert_string_equal(json_string_value(json_object_get(json_array_get(e, 2), "target")), "etc/hostname");
	json_decref(out);

	/* a file is listed as its one entry */
	assert_int_equal(svc_fs_listing(src, 0, NULL, "/link", &out, &err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "type")), "symlink");
	assert_null(json_object_get(out, "truncated"));
	json_decref(out);
	assert_int_equal(svc_fs_listing(src, 0, NULL, "/nope", &out, &err), -ENOENT);
	assert_non_null(strstr(err.s, "/nope"));
	buf_release(&err);
}

static void test_listing(void **state)
{
	(void)state;
	NEED_TOOLS();
	struct imgc_source s;
	open_image(&s, "fs.img", "raw");
	check_listing(&s);
	imgc_source_release(&s);
}

/* A device served from memory, like a backup's disk. */
struct served {
	struct buf data;
	int reads;
	bool fail;
};

static int served_pread(void *arg, void *buf, size_t len, uint64_t off)
{
	struct served *sv = arg;
	sv->reads++;
	if (sv->fail)
		return -EIO;
	assert_true(off + len <= sv->data.len);
	memcpy(buf, sv->data.s + off, len);
	return 0;
}

static void test_served_device(void **state)
{
	(void)state;
	NEED_TOOLS();
	__do_free char *img = path_in("fs.img");
	struct served sv = { .data = BUF_INIT };
	struct imgc_source s;
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	assert_int_equal(fs_read_file(img, 64 * MIB, &sv.data), 0);
	imgc_source_served(&s, "memory disk", sv.data.len, served_pread, &sv);
	check_listing(&s);
	assert_true(sv.reads > 0);
	sv.fail = true;
	assert_true(svc_fs_listing(&s, 0, NULL, "/", &out, &err) < 0);
	assert_null(out);
	imgc_source_release(&s);
	buf_release(&sv.data);
	buf_release(&err);
}

struct owner {
	int released;
};

static void owner_release(void *o)
{
	__atomic_store_n(&((struct owner *)o)->released, 1, __ATOMIC_SEQ_CST);
}

static void wait_released(struct owner *o)
{
	int64_t end = time_mono_ms() + 5000;
	while (!__atomic_load_n(&o->released, __ATOMIC_SEQ_CST) && time_mono_ms() < end)
		time_sleep_ms(10);
	assert_int_equal(o->released, 1);
}

static void test_stream(void **state)
{
	(void)state;
	NEED_TOOLS();
	struct imgc_source s;
	struct owner o = { 0 };
	struct buf err = BUF_INIT, got = BUF_INIT;
	uint64_t size = 0;
	int fd = -1;
	char tmp[65536];
	ssize_t n;

	/* through the backing chain of a qcow2 overlay */
	__do_free char *top = path_in("top.qcow2");
	__do_free char *base = path_in("base.qcow2");
	const char *chain[] = { top, base };
	assert_int_equal(imgc_source_files(&s, "overlay", chain, 2, "qcow2", NULL, &err), 0);
	assert_int_equal(svc_fs_stream(&s, 0, NULL, "/blob.bin", owner_release, &o, &fd, &size, &err), 0);
	assert_int_equal(size, BLOB_SIZE);
	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		buf_add(&got, tmp, (size_t)n);
	close(fd);
	assert_int_equal(got.len, BLOB_SIZE);
	assert_memory_equal(got.s, blob, BLOB_SIZE);
	wait_released(&o);

	/* a client that goes away early: the helper is stopped, the owner released */
	o.released = 0;
	assert_int_equal(svc_fs_stream(&s, 0, NULL, "/blob.bin", owner_release, &o, &fd, &size, &err), 0);
	assert_true(read(fd, tmp, 100) > 0);
	close(fd);
	wait_released(&o);

	/* not a regular file: refused before anything streams, release not called */
	o.released = 0;
	assert_int_equal(svc_fs_stream(&s, 0, NULL, "/etc", owner_release, &o, &fd, &size, &err), -EINVAL);
	assert_non_null(strstr(err.s, "/etc in overlay is not a regular file"));
	assert_int_equal(o.released, 0);
	imgc_source_release(&s);

	/* the header names a backing file that was not given */
	buf_reset(&err);
	assert_int_equal(imgc_source_files(&s, "overlay", chain, 1, "qcow2", NULL, &err), 0);
	assert_int_equal(svc_fs_stream(&s, 0, NULL, "/blob.bin", owner_release, &o, &fd, &size, &err), -ENOENT);
	assert_non_null(strstr(err.s, "was not provided"));
	imgc_source_release(&s);
	buf_release(&got);
	buf_release(&err);
}

/* The error a listing of test path `path` gives, which must mention `want`. */
static void misbehave(const char *path, const char *want)
{
	struct imgc_source s;
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	open_image(&s, "fs.img", "raw");
	assert_int_equal(svc_fs_listing(&s, 0, NULL, path, &out, &err), -EIO);
	if (!strstr(err.s, want))
		fail_msg("%s: '%s' does not say '%s'", path, err.s, want);
	assert_non_null(strstr(err.s, "fs.img"));
	/* and the next request works */
	check_listing(&s);
	imgc_source_release(&s);
	buf_release(&err);
}

static void test_crash(void **state)
{
	(void)state;
	NEED_TOOLS();
	misbehave("/corral-test/crash", "crashed");
}

static void test_hang(void **state)
{
	(void)state;
	NEED_TOOLS();
	int64_t t0 = time_mono_ms();
	misbehave("/corral-test/hang", "no progress for 2 s");
	assert_true(time_mono_ms() - t0 < 6000);
}

static void test_escape(void **state)
{
	(void)state;
	NEED_TOOLS();
	misbehave("/corral-test/escape", "stopped by its sandbox");
}

static void test_cannot_start(void **state)
{
	(void)state;
	NEED_TOOLS();
	struct imgc_source s;
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	open_image(&s, "fs.img", "raw");
	config("corral-no-such-user", 2);
	assert_int_equal(svc_fs_listing(&s, 0, NULL, "/", &out, &err), -ENOENT);
	assert_non_null(strstr(err.s, "corral-no-such-user does not exist"));
	buf_reset(&err);
	config_helper("/nonexistent/corral-imgd", helper_user(), 2);
	assert_int_equal(svc_fs_listing(&s, 0, NULL, "/", &out, &err), -ENOENT);
	assert_non_null(strstr(err.s, "cannot start the image helper /nonexistent/corral-imgd"));
	imgc_source_release(&s);
	config(helper_user(), 2);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing), cmocka_unit_test(test_served_device), cmocka_unit_test(test_stream),
		cmocka_unit_test(test_crash),	cmocka_unit_test(test_hang),	      cmocka_unit_test(test_escape),
		cmocka_unit_test(test_cannot_start),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
