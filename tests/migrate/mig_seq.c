/*
 * mig_seq.c - a whole migration between two QEMUs reachable from this
 * process (mig_seq.h); the test-side twin of service/migrate.c's order.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mig_seq.h"
#include "qemu/qmp.h"
#include "util/cleanup.h"
#include "util/timeutil.h"
#include "util/common.h"

#define SEQ_TIMEOUT_MS 10000
#define SEQ_MIRROR_FINISH_MS 60000

static void seq_sleep(const struct mig_seq *s)
{
	if (s->poll_ms > 0)
		time_sleep_ms(s->poll_ms);
}

/* The destination: TLS, capabilities, NBD exports, listening. */
static int seq_prepare(struct mig_seq *s, struct buf *err)
{
	int r;

	if (s->dst_dir && (r = mig_tls_add(s->dst, s->dst_dir, true, err)) < 0)
		return r;
	if ((r = mig_caps_set(s->dst, true, s->ndisks > 0, err)) < 0 || (r = mig_params_set(s->dst, &s->params, err)) < 0)
		return r;
	if (s->ndisks > 0 && (r = mig_nbd_start(s->dst, s->host, s->nbd_port, s->params.tls, err)) < 0)
		return r;
	for (int i = 0; i < s->ndisks; i++) {
		char name[16];
		snprintf(name, sizeof(name), "disk%d", i);
		if ((r = mig_nbd_export(s->dst, name, name, err)) < 0)
			return r;
	}
	return mig_incoming_start(s->dst, s->host, s->port, err);
}

/* The source's disks: mirrors started, polled until all are ready. */
static int seq_disks(struct mig_seq *s, struct buf *err)
{
	int r;

	for (int i = 0; i < s->ndisks; i++) {
		char node[16];
		snprintf(node, sizeof(node), "disk%d", i);
		if ((r = mig_mirror_start(s->src, i, node, node, s->host, s->nbd_port, s->params.tls,
					    s->params.max_bandwidth, err)) < 0)
			return r;
	}
	for (;;) {
		int ready = 0;
		for (int i = 0; i < s->ndisks; i++) {
			struct mig_disk_progress p;
			if ((r = mig_mirror_query(s->src, i, &p, err)) < 0)
				return r;
			if (p.failed) {
				buf_printf(err, "copying disk %d failed: %s", i, p.error);
				return -EIO;
			}
			if (s->log)
				fprintf(s->log, "disk%d %s %llu/%llu\n", i, p.ready ? "ready" : "copying",
					(unsigned long long)p.offset, (unsigned long long)p.len);
			ready += p.ready;
		}
		if (ready == s->ndisks)
			return 0;
		s->disk_polls++;
		seq_sleep(s);
	}
}

/* Poll the source until its migration is final, or (hold) holds before its switch; cancel when asked to. */
static int seq_poll(struct mig_seq *s, bool hold, struct buf *err)
{
	int r;

	for (;;) {
		if ((r = mig_query(s->src, &s->last, err)) < 0)
			return r;
		if (s->log)
			fprintf(s->log, "ram %s remaining %llu dirty %llu/s expected-downtime %lld\n", s->last.status,
				(unsigned long long)s->last.ram_remaining, (unsigned long long)s->last.dirty_rate,
				(long long)s->last.expected_downtime_ms);
		if (mig_progress_done(&s->last) || (hold && !strcmp(s->last.status, "pre-switchover")))
			return 0;
		if (s->cancel_after_polls >= 0 && s->polls == s->cancel_after_polls && (r = mig_cancel(s->src, err)) < 0)
			return r;
		s->polls++;
		seq_sleep(s);
	}
}

/* RAM: start, poll until final; with disks, their last sync before QEMU's switch. */
static int seq_ram(struct mig_seq *s, struct buf *err)
{
	int r;

	if ((r = mig_caps_set(s->src, false, s->ndisks > 0, err)) < 0 || (r = mig_params_set(s->src, &s->params, err)) < 0 ||
	    (r = mig_start(s->src, s->host, s->port, err)) < 0 || (r = seq_poll(s, true, err)) < 0)
		return r;
	if (!strcmp(s->last.status, "pre-switchover")) {
		for (int i = 0; i < s->ndisks; i++)
			if ((r = mig_mirror_finish(s->src, i, SEQ_MIRROR_FINISH_MS, err)) < 0)
				return r;
		if ((r = mig_continue(s->src, err)) < 0 || (r = seq_poll(s, false, err)) < 0)
			return r;
	}
	if (strcmp(s->last.status, "completed") != 0) {
		buf_printf(err, "the migration %s%s%s", s->last.status, s->last.error[0] ? ": " : "", s->last.error);
		return strcmp(s->last.status, "cancelled") ? -EIO : -ECANCELED;
	}
	return 0;
}

/* The switch: destination complete, NBD off, run there. */
static int seq_switch(struct mig_seq *s, struct buf *err)
{
	struct mig_progress d;
	int r;

	for (;;) {
		if ((r = mig_query(s->dst, &d, err)) < 0)
			return r;
		if (mig_progress_done(&d))
			break;
		seq_sleep(s);
	}
	if (strcmp(d.status, "completed") != 0) {
		buf_printf(err, "the destination's migration %s%s%s", d.status, d.error[0] ? ": " : "", d.error);
		return -EIO;
	}
	if (s->ndisks > 0 && (r = mig_nbd_stop(s->dst, err)) < 0)
		return r;
	if (s->dst_dir)
		mig_tls_del(s->dst);
	return qmp_execute(s->dst, "cont", NULL, NULL, SEQ_TIMEOUT_MS, err);
}

/* Back to the source: no migration, no mirrors, guest running; destination gone. */
static void seq_rollback(struct mig_seq *s)
{
	__do_json json_t *st = NULL;
	const char *status;

	mig_cancel(s->src, NULL);
	for (int i = 0; i < s->ndisks; i++)
		mig_mirror_abort(s->src, i, SEQ_TIMEOUT_MS);
	if (qmp_execute(s->src, "query-status", NULL, &st, SEQ_TIMEOUT_MS, NULL) == 0 &&
	    (status = json_string_value(json_object_get(st, "status"))) && strcmp(status, "running") != 0)
		qmp_execute(s->src, "cont", NULL, NULL, SEQ_TIMEOUT_MS, NULL);
	qmp_execute(s->dst, "quit", NULL, NULL, SEQ_TIMEOUT_MS, NULL);
}

int mig_seq_run(struct mig_seq *s, struct buf *err)
{
	int r;

	s->polls = s->disk_polls = 0;
	if ((r = seq_prepare(s, err)) < 0)
		goto fail;
	if (s->src_dir && (r = mig_tls_add(s->src, s->src_dir, false, err)) < 0)
		goto fail;
	if ((r = seq_disks(s, err)) < 0 || (r = seq_ram(s, err)) < 0 || (r = seq_switch(s, err)) < 0)
		goto fail;
	if (s->src_dir)
		mig_tls_del(s->src);
	return 0;
fail:
	seq_rollback(s);
	if (s->src_dir)
		mig_tls_del(s->src);
	return r;
}
