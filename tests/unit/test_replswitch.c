/*
 * test_replswitch.c - the QMP steps of a live migration onto the replica
 * (docs/migration.md "Onto its replica"; service/migrate.c with
 * service/replicate.c's switchover), against two fake QEMUs replaying what
 * real QEMU 7.2s said (tests/data/qmp/replswitch-{src,dst}.replies):
 *
 * the source's disk is replicated (qemu/replicate.h: NBD node over TLS onto
 * a qemu-storage-daemon's writethrough export, write-blocking mirror, ready);
 * the destination QEMU opened the very image the daemon serves (-incoming:
 * inactive, no lock taken); the memory moves with pause-before-switchover;
 * at "pre-switchover" the mirror is checked ready and caught up, ended in
 * sync (repl_finish: block-job-cancel of a ready mirror completes it) and
 * its node deleted; then migrate-continue.  On the destination the first
 * `cont`, with the daemon still holding the image, is refused by QEMU's
 * image locking (never two writers); once the daemon is gone (the
 * "release" step) `cont` activates the image and the guest runs.
 *
 * Recording: tests/data/qmp/record-replswitch.sh BUILD (two QEMUs, the
 * daemon, one record-proxy.py per QMP socket, then this binary with
 * --record SRC DST QSD_PID, which runs the same steps against them and
 * stops the daemon where the release step would).  The end-to-end test of
 * the feature is tests/integration/t93-repl-switch.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "qmp_fake.h"
#include "qemu/migrate.h"
#include "qemu/qmp.h"
#include "qemu/replicate.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/timeutil.h"
#include "util/common.h"

#define RS_HOST "127.0.0.1"
#define RS_NBD_PORT 47011
#define RS_MIG_PORT 47012
#define RS_KEY_DIR "/tmp/corral-replsw/k"
#define RS_QMP_MS 10000

struct rs_run {
	struct qmp *src, *dst;
	int poll_ms;	/* between polls (0 in replays) */
	pid_t qsd;	/* recording: the daemon stopped at the release step (0: none) */
	/* out */
	int mirror_polls, mig_polls;
	char cont_refused[256]; /* why the first `cont` failed */
};

static void rs_sleep(const struct rs_run *r)
{
	if (r->poll_ms)
		time_sleep_ms(r->poll_ms);
}

static int rs_wait_status(struct rs_run *r, struct qmp *q, const char *want, struct mig_progress *p, struct buf *err)
{
	int rc;
	for (int i = 0; i < 600; i++) {
		if ((rc = mig_query(q, p, err)) < 0)
			return rc;
		r->mig_polls++;
		if (!strcmp(p->status, want))
			return 0;
		if (mig_progress_done(p)) {
			buf_printf(err, "the migration is %s, not %s", p->status, want);
			return -EIO;
		}
		rs_sleep(r);
	}
	buf_printf(err, "the migration never reached %s", want);
	return -ETIMEDOUT;
}

/* The whole switchover; 0: the guest runs on the destination. */
static int rs_switch(struct rs_run *r, struct buf *err)
{
	struct mig_params params = { 0 };
	struct mig_disk_progress dp = { 0 };
	struct mig_progress p = { 0 };
	__do_json json_t *st = NULL;
	int rc;

	/* the replication, as replicate.c starts it */
	if ((rc = mig_tls_add_id(r->src, REPL_TLS_ID, RS_KEY_DIR, false, err)) < 0 ||
	    (rc = repl_target_add(r->src, 0, "r1-d", RS_HOST, RS_NBD_PORT, err)) < 0 ||
	    (rc = repl_mirror_start(r->src, 0, "disk0", true, err)) < 0)
		return rc;
	do {
		if ((rc = mig_job_progress(r->src, "repl0", "the replication mirror", &dp, err)) < 0)
			return rc;
		r->mirror_polls++;
		if (dp.failed) {
			buf_printf(err, "the mirror failed: %s", dp.error);
			return -EIO;
		}
		if (!dp.ready)
			rs_sleep(r);
	} while (!dp.ready);
	/* the migration, as migrate.c runs it onto a replica */
	if ((rc = mig_caps_set(r->dst, true, true, err)) < 0 || (rc = mig_params_set(r->dst, &params, err)) < 0 ||
	    (rc = mig_incoming_start(r->dst, RS_HOST, RS_MIG_PORT, err)) < 0 ||
	    (rc = mig_caps_set(r->src, false, true, err)) < 0 || (rc = mig_params_set(r->src, &params, err)) < 0 ||
	    (rc = mig_start(r->src, RS_HOST, RS_MIG_PORT, err)) < 0 ||
	    (rc = rs_wait_status(r, r->src, "pre-switchover", &p, err)) < 0)
		return rc;
	/* the hold: svc_replicate_switch_cut */
	if ((rc = mig_job_progress(r->src, "repl0", "the replication mirror", &dp, err)) < 0)
		return rc;
	if (!dp.ready || dp.offset < dp.len) {
		buf_adds(err, "the mirror is not caught up at the hold");
		return -EIO;
	}
	if ((rc = repl_finish(r->src, 0, RS_QMP_MS, err)) < 0)
		return rc;
	mig_tls_del_id(r->src, REPL_TLS_ID);
	if ((rc = mig_continue(r->src, err)) < 0 || (rc = rs_wait_status(r, r->src, "completed", &p, err)) < 0 ||
	    (rc = rs_wait_status(r, r->dst, "completed", &p, err)) < 0)
		return rc;
	/* finish before the release: the daemon still holds the image */
	__do_buf struct buf why = BUF_INIT;
	if (qmp_execute(r->dst, "cont", NULL, NULL, RS_QMP_MS, &why) == 0) {
		buf_adds(err, "the destination activated an image the replica's daemon holds");
		return -EIO;
	}
	snprintf(r->cont_refused, sizeof(r->cont_refused), "%s", why.s ?: "");
	/* the release step: the daemon stopped, the image's lock gone */
	if (r->qsd > 0) {
		kill(r->qsd, SIGTERM);
		for (int i = 0; i < 100 && kill(r->qsd, 0) == 0; i++)
			time_sleep_ms(50);
	}
	if ((rc = qmp_execute(r->dst, "cont", NULL, NULL, RS_QMP_MS, err)) < 0 ||
	    (rc = qmp_execute(r->dst, "query-status", NULL, &st, RS_QMP_MS, err)) < 0)
		return rc;
	if (strcmp(json_string_value(json_object_get(st, "status")) ?: "", "running") != 0) {
		buf_printf(err, "the destination is %s", json_string_value(json_object_get(st, "status")) ?: "?");
		return -EIO;
	}
	return 0;
}

static void test_switch(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *fs = fake_new("replswitch-src"), *fd = fake_new("replswitch-dst");
	struct rs_run r = { 0 };

	(void)state;
	r.src = fake_connect(fs);
	r.dst = fake_connect(fd);
	assert_int_equal(rs_switch(&r, &err), 0);
	assert_string_equal(err.s ?: "", "");
	assert_true(r.mirror_polls >= 1);
	/* QEMU's image locking kept the destination from writing while the daemon served the image */
	assert_non_null(strstr(r.cont_refused, "lock"));
	qmp_close(r.src);
	qmp_close(r.dst);
	fake_stop(fs);
	fake_stop(fd);
}

/* test_replswitch --record SRC_SOCK DST_SOCK QSD_PID: the same steps against real QEMUs. */
static int record(char **argv)
{
	__do_buf struct buf err = BUF_INIT;
	struct rs_run r = { .poll_ms = 100, .qsd = (pid_t)atoi(argv[4]) };

	if (!(r.src = qmp_connect(argv[2], 10000, NULL, NULL, NULL, &err)) ||
	    !(r.dst = qmp_connect(argv[3], 10000, NULL, NULL, NULL, &err))) {
		fprintf(stderr, "connect: %s\n", err.s);
		return 1;
	}
	int rc = rs_switch(&r, &err);
	printf("{\"ok\": %s, \"error\": \"%s\", \"mirror_polls\": %d, \"mig_polls\": %d, \"cont_refused\": \"%s\"}\n",
	       rc == 0 ? "true" : "false", err.s ?: "", r.mirror_polls, r.mig_polls, r.cont_refused);
	qmp_close(r.src);
	qmp_close(r.dst);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "--record"))
		return record(argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
