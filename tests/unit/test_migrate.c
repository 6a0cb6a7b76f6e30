/*
 * test_migrate.c - the QMP steps of a live migration (src/qemu/migrate.c),
 * run in service/migrate.c's order by tests/migrate/mig_seq.c against two
 * fake QEMUs replaying what a real source and destination QEMU 7.2 said
 * (tests/data/qmp/migrate-*.replies, recorded with record-proxy.py while
 * tests/migrate/mig-drive migrated a booted guest): a migration with a
 * local disk copied over NBD, all of it TLS-encrypted with a PSK, whose
 * copy ends while QEMU holds in "pre-switchover"; and a cancelled one with
 * shared storage.  Plus the key file itself.  The fake refuses any command
 * the recording does not have next, so the order is checked too.
 *
 * Recording: tests/data/qmp/record-migrate.sh BUILD GUEST_DIR (two QEMUs,
 * one record-proxy.py per QMP socket, mig-drive with the arguments the
 * tests below use, --poll-ms 300; the numbers asserted below come from its
 * output).  The end-to-end test of the whole feature is
 * tests/integration/t62-migrate.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mig_seq.h"
#include "qmp_fake.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/common.h"

static void test_psk(void **state)
{
	__do_buf struct buf err = BUF_INIT, got = BUF_INIT;
	char a[MIG_PSK_HEX_LEN + 1], b[MIG_PSK_HEX_LEN + 1];
	char dir[] = "/tmp/corral-test-mig.XXXXXX";
	struct stat st;

	(void)state;
	assert_int_equal(mig_psk_generate(a, &err), 0);
	assert_int_equal(mig_psk_generate(b, &err), 0);
	assert_true(mig_psk_valid(a));
	assert_string_not_equal(a, b);
	assert_false(mig_psk_valid("00"));
	assert_false(mig_psk_valid(NULL));
	char upper[MIG_PSK_HEX_LEN + 1];
	memset(upper, 'A', MIG_PSK_HEX_LEN);
	upper[MIG_PSK_HEX_LEN] = 0;
	assert_false(mig_psk_valid(upper));

	assert_non_null(mkdtemp(dir));
	__do_free char *kdir = xasprintf("%s/mig", dir);
	__do_free char *kfile = xasprintf("%s/mig/keys.psk", dir);
	/* a hostile key (a second line) is refused before anything is written */
	assert_int_equal(mig_psk_write(kdir, "00\nevil:11", &err), -EINVAL);
	assert_false(fs_exists(kdir));
	assert_int_equal(mig_psk_write(kdir, a, &err), 0);
	assert_int_equal(stat(kfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(fs_read_file(kfile, 4096, &got), 0);
	__do_free char *want = xasprintf("corral:%s\n", a);
	assert_string_equal(got.s, want);
	/* the standard DH group beside it, so QEMU does not generate one (a real QEMU loads it in t62) */
	__do_free char *dhfile = xasprintf("%s/mig/dh-params.pem", dir);
	buf_reset(&got);
	assert_int_equal(fs_read_file(dhfile, 4096, &got), 0);
	assert_non_null(strstr(got.s, "-----BEGIN DH PARAMETERS-----\nMIIBCAKCAQEA//////////+t+FRY"));
	mig_psk_remove(kdir);
	assert_false(fs_exists(dhfile));
	assert_false(fs_exists(kfile));
	assert_false(fs_exists(kdir));
	assert_int_equal(rmdir(dir), 0);
}

/* A local disk over NBD and the RAM, both encrypted; the guest ends on the destination. */
static void test_local_disk(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *fs = fake_new("migrate-disk-src"), *fd = fake_new("migrate-disk-dst");
	struct mig_seq s = {
		.host = "127.0.0.1", .port = 47001, .nbd_port = 47002, .ndisks = 1,
		.src_dir = "/tmp/migman/s", .dst_dir = "/tmp/migman/d",
		.params = { .tls = true }, .cancel_after_polls = -1,
	};

	(void)state;
	s.src = fake_connect(fs);
	s.dst = fake_connect(fd);
	assert_int_equal(mig_seq_run(&s, &err), 0);
	assert_string_equal(err.s, "");
	assert_string_equal(s.last.status, "completed");
	assert_int_equal(s.last.total_time_ms, 4522);
	assert_int_equal(s.last.downtime_ms, 794);
	assert_int_equal(s.last.ram_total, 134750208);
	assert_int_equal(s.polls, 14);
	assert_true(s.disk_polls >= 1); /* the disk was copied while the guest ran */
	__do_json json_t *j = mig_progress_json(&s.last);
	assert_int_equal(json_integer_value(json_object_get(j, "downtime_ms")), 794);
	assert_true(json_is_null(json_object_get(j, "expected_downtime_ms")));
	qmp_close(s.src);
	qmp_close(s.dst);
	fake_stop(fs);
	fake_stop(fd);
}

/* Shared storage, 10 MB/s, cancelled mid-way: the source runs on, the destination quits. */
static void test_cancel(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *fs = fake_new("migrate-cancel-src"), *fd = fake_new("migrate-cancel-dst");
	struct mig_seq s = {
		.host = "127.0.0.1", .port = 47003, .src_dir = "/tmp/migman/s", .dst_dir = "/tmp/migman/d",
		.params = { .tls = true, .max_bandwidth = 10000000, .downtime_ms = 100 }, .cancel_after_polls = 2,
	};

	(void)state;
	fd->close_at_end = true; /* QEMU 7.2 exits by itself when its incoming migration fails */
	s.src = fake_connect(fs);
	s.dst = fake_connect(fd);
	assert_int_equal(mig_seq_run(&s, &err), -ECANCELED);
	assert_string_equal(err.s, "the migration cancelled");
	assert_string_equal(s.last.status, "cancelled");
	assert_int_equal(s.polls, 3); /* cancelled at the third poll, final at the fourth */
	qmp_close(s.src);
	qmp_close(s.dst);
	fake_stop(fs);
	fake_stop(fd);
}

static void test_progress_done(void **state)
{
	struct mig_progress p = { 0 };

	(void)state;
	const char *final[] = { "completed", "failed", "cancelled" };
	const char *not_final[] = { "none", "setup", "active", "cancelling", "device", "pre-switchover" };
	for (size_t i = 0; i < ARRAY_SIZE(final); i++) {
		snprintf(p.status, sizeof(p.status), "%s", final[i]);
		assert_true(mig_progress_done(&p));
	}
	for (size_t i = 0; i < ARRAY_SIZE(not_final); i++) {
		snprintf(p.status, sizeof(p.status), "%s", not_final[i]);
		assert_false(mig_progress_done(&p));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_psk),
		cmocka_unit_test(test_local_disk),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_progress_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
