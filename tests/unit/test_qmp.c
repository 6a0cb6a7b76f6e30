/*
 * test_qmp.c - the QMP client (src/qemu/qmp.c) against a fake QEMU.
 *
 * The fake runs on its own thread at the other end of a socketpair and
 * replays a transcript recorded from QEMU 7.2 (tests/data/qmp/NAME.replies,
 * written by tests/data/qmp/record.py): it checks that each command the
 * client sends is the recorded one, with the recorded arguments, then sends
 * the messages QEMU sent after it, with "id" rewritten to the client's.
 * An `after` hook scripts what a real QEMU will not do on demand: garbage,
 * huge messages, silence, late or out-of-order replies.
 *
 * Transcripts are found in $CORRAL_TEST_DATA/qmp if set, else in
 * TEST_DATA_DIR/qmp (tests/meson.build defines it), else relative to this
 * file's path as the compiler saw it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "qemu/qmp.h"
#include "qmp_fake.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"


/* ---- events seen by the client's callbacks ---- */

#define SEEN_MAX 256
struct seen {
	pthread_mutex_t lock;
	int n, eofs;
	char *name[SEEN_MAX];
	json_t *data[SEEN_MAX];
	int64_t ts[SEEN_MAX];
};

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
}

static void seen_release(struct seen *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->name[i]);
		json_decref(s->data[i]);
	}
	pthread_mutex_destroy(&s->lock);
}

static void on_event(void *opaque, const char *event, json_t *data, int64_t ts_ms)
{
	struct seen *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (s->n < SEEN_MAX) {
		s->name[s->n] = xstrdup(event);
		s->data[s->n] = json_incref(data);
		s->ts[s->n] = ts_ms;
		s->n++;
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_eof(void *opaque)
{
	struct seen *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->eofs++;
	pthread_mutex_unlock(&s->lock);
}

/* Wait up to 2 s for *counter (events or eofs) to reach want; returns it. */
static int seen_wait(struct seen *s, int *counter, int want)
{
	int64_t end = time_mono_ms() + 2000;
	int v;

	for (;;) {
		pthread_mutex_lock(&s->lock);
		v = *counter;
		pthread_mutex_unlock(&s->lock);
		if (v >= want || time_mono_ms() > end)
			return v;
		time_sleep_ms(5);
	}
}

/* Connect a client to a fake replaying `transcript` (all of it). */
static struct qmp *connect_fake(struct fake *f, struct seen *s)
{
	__do_buf struct buf err = BUF_INIT;
	struct qmp *q = qmp_connect_fd(fake_start(f), IO_TIMEOUT_MS, on_event, on_eof, s, &err);

	if (!q)
		fail_msg("qmp_connect_fd: %s", err.s);
	return q;
}

/* "timestamp" of the first event `name` in the transcript, in ms. */
static int64_t transcript_ts(struct fake *f, const char *name)
{
	size_t i;
	json_t *l;

	json_array_foreach(f->lines, i, l) {
		json_t *ts = json_object_get(l, "timestamp");
		const char *ev = json_string_value(json_object_get(l, "event"));
		if (ev && strcmp(ev, name) == 0)
			return json_integer_value(json_object_get(ts, "seconds")) * 1000 +
			       json_integer_value(json_object_get(ts, "microseconds")) / 1000;
	}
	fail_msg("no event %s in transcript", name);
	return 0;
}

static void assert_status(struct qmp *q, const char *want)
{
	__do_buf struct buf err = BUF_INIT;
	__do_json json_t *ret = NULL;

	assert_int_equal(qmp_execute(q, "query-status", NULL, &ret, IO_TIMEOUT_MS, &err), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), want);
}

/* ---- tests ---- */

static void test_handshake(void **state)
{
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	q = connect_fake(f, &s);
	assert_true(qmp_is_open(q));
	qmp_close(q);
	fake_stop(f);
	assert_int_equal(s.eofs, 0); /* our own close is no EOF */
	seen_release(&s);
}

static void test_execute_success(void **state)
{
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	q = connect_fake(f, &s);
	assert_status(q, "prelaunch");
	qmp_close(q);
	fake_join(f);
	assert_string_equal(json_string_value(json_object_get(f->last_cmd, "id")), "corral-2");
	fake_free(f);
	seen_release(&s);
}

static void test_qmp_error(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	json_t *ret = NULL;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	q = connect_fake(f, &s);
	assert_status(q, "prelaunch");
	assert_int_equal(qmp_execute(q, "device_del", json_pack("{s:s}", "id", "nosuchdev"), &ret,
				     IO_TIMEOUT_MS, &err),
			 -EIO);
	assert_null(ret);
	assert_string_equal(err.s, "DeviceNotFound: Device 'nosuchdev' not found");
	assert_true(qmp_is_open(q));
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

/* The whole basic transcript: success, error, events before their replies. */
static void run_basic(struct qmp *q, struct fake *f, struct seen *s)
{
	__do_buf struct buf err = BUF_INIT;

	assert_status(q, "prelaunch");
	assert_int_equal(qmp_execute(q, "device_del", json_pack("{s:s}", "id", "nosuchdev"), NULL,
				     IO_TIMEOUT_MS, &err),
			 -EIO);
	assert_int_equal(qmp_execute(q, "cont", NULL, NULL, IO_TIMEOUT_MS, &err), 0);
	/* QEMU sends RESUME before cont's reply: delivered by the time cont returns. */
	assert_int_equal(s->n, 1);
	assert_string_equal(s->name[0], "RESUME");
	assert_null(s->data[0]);
	assert_int_equal(s->ts[0], transcript_ts(f, "RESUME"));
	assert_status(q, "running");
	assert_int_equal(qmp_execute(q, "stop", NULL, NULL, IO_TIMEOUT_MS, &err), 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->name[1], "STOP");
	assert_int_equal(s->ts[1], transcript_ts(f, "STOP"));
	assert_status(q, "paused");
}

static void test_event_before_reply(void **state)
{
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	q = connect_fake(f, &s);
	run_basic(q, f, &s);
	qmp_close(q);
	fake_join(f);
	assert_int_equal(f->commands, 7);
	fake_free(f);
	seen_release(&s);
}

static void test_byte_by_byte(void **state)
{
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->byte_by_byte = true;
	q = connect_fake(f, &s);
	run_basic(q, f, &s);
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

static void test_event_with_data(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("job");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->limit = 10; /* up to the snapshot-save reply and the events after it */
	q = connect_fake(f, &s);
	uint64_t seen0 = qmp_events_seen(q);
	assert_int_equal(qmp_execute(q, "snapshot-save",
				     json_pack("{s:s, s:s, s:s, s:[s]}", "job-id", "snap-save", "tag",
					       "s1", "vmstate", "disk0", "devices", "disk0"),
				     NULL, IO_TIMEOUT_MS, &err),
			 0);
	assert_int_equal(seen_wait(&s, &s.n, 5), 5);
	static const char *const want[] = { "created", "running", "waiting", "pending", "concluded" };
	for (int i = 0; i < 5; i++) {
		assert_string_equal(s.name[i], "JOB_STATUS_CHANGE");
		assert_string_equal(json_string_value(json_object_get(s.data[i], "id")), "snap-save");
		assert_string_equal(json_string_value(json_object_get(s.data[i], "status")), want[i]);
	}
	assert_int_equal(s.ts[0], transcript_ts(f, "JOB_STATUS_CHANGE"));
	assert_true(s.ts[0] <= s.ts[4]);
	/* a poller that saw none of them is woken at once; one that saw all waits for its timeout */
	assert_int_equal(qmp_events_seen(q), seen0 + 5);
	int64_t t0 = time_mono_ms();
	qmp_events_wait(q, seen0, 5000);
	assert_true(time_mono_ms() - t0 < 1000);
	t0 = time_mono_ms();
	qmp_events_wait(q, seen0 + 5, 100);
	assert_true(time_mono_ms() - t0 >= 95);
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

static void after_garbage(struct fake *f) { fake_write(f, "{\"return\": oops}\n", 17); }
static void after_non_object(struct fake *f) { fake_write(f, "[1, 2]\n", 7); }
/* 17 MiB in one message; `end` says whether a newline ever comes. */
static void send_oversized(struct fake *f, bool end)
{
	__do_free char *chunk = xmalloc(1 << 20);

	memset(chunk, 'x', 1 << 20);
	fake_write(f, "{\"return\": \"", 12);
	for (int i = 0; i < 17; i++)
		fake_write(f, chunk, 1 << 20);
	if (end)
		fake_write(f, "\"}\n", 3);
}
static void after_oversized(struct fake *f) { send_oversized(f, true); }
static void after_oversized_unterminated(struct fake *f) { send_oversized(f, false); }

static void check_protocol_error(void (*after)(struct fake *f), const char *why)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	seen_init(&s);
	f->limit = 4; /* read query-status, then misbehave instead of answering */
	f->after = after;
	q = connect_fake(f, &s);
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, IO_TIMEOUT_MS, &err), -EPIPE);
	assert_non_null(strstr(err.s, why));
	assert_int_equal(seen_wait(&s, &s.eofs, 1), 1);
	assert_false(qmp_is_open(q));
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, IO_TIMEOUT_MS, &err), -EPIPE);
	qmp_close(q);
	assert_int_equal(s.eofs, 1);
	fake_stop(f);
	seen_release(&s);
}

static void test_garbage_closes(void **state)
{
	(void)state;
	check_protocol_error(after_garbage, "invalid QMP message");
	check_protocol_error(after_non_object, "not a JSON object");
}

/* QEMU's uint64 "not reported" (UINT64_MAX) arrives as -1, and the connection stays up. */
static void after_u64(struct fake *f)
{
	static const char reply[] = "{\"return\": {\"stats\": {\"stat-free-memory\": 18446744073709551615, "
				    "\"stat-x\": 5, \"s\": \"99999999999999999999\", \"r\": 1.5e300}, "
				    "\"last-update\": 0}, \"id\": \"corral-2\"}\n";
	fake_write(f, reply, sizeof(reply) - 1);
}

static void test_u64_clamped(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	__do_json json_t *ret = NULL;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->limit = 4;
	f->after = after_u64;
	q = connect_fake(f, &s);
	assert_int_equal(qmp_execute(q, "query-status", NULL, &ret, IO_TIMEOUT_MS, &err), 0);
	json_t *st = json_object_get(ret, "stats");
	assert_int_equal(json_integer_value(json_object_get(st, "stat-free-memory")), -1);
	assert_int_equal(json_integer_value(json_object_get(st, "stat-x")), 5);
	assert_string_equal(json_string_value(json_object_get(st, "s")), "99999999999999999999");
	assert_true(qmp_is_open(q));
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

static void test_oversized_closes(void **state)
{
	(void)state;
	check_protocol_error(after_oversized, "exceeds");
	check_protocol_error(after_oversized_unterminated, "exceeds");
}

/* Silent for the first command; answer the second, after a late reply to the first. */
static void after_late_reply(struct fake *f)
{
	json_t *first = json_incref(f->last_cmd);
	json_t *second = fake_read_cmd(f);

	if (second) {
		fake_reply(f, first, json_pack("{s:i}", "answer", 1));
		fake_reply(f, second, json_pack("{s:i}", "answer", 2));
	}
	json_decref(first);
	json_decref(second);
}

static void test_timeout(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	__do_json json_t *ret = NULL;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;
	int64_t t0;

	(void)state;
	seen_init(&s);
	f->limit = 4;
	f->after = after_late_reply;
	q = connect_fake(f, &s);
	t0 = time_mono_ms();
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, 200, &err), -ETIMEDOUT);
	assert_in_range(time_mono_ms() - t0, 190, 2000);
	assert_non_null(strstr(err.s, "timed out"));
	assert_true(qmp_is_open(q));
	/* The late reply to corral-2 must be dropped, not taken for corral-3's. */
	assert_int_equal(qmp_execute(q, "query-name", NULL, &ret, IO_TIMEOUT_MS, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(ret, "answer")), 2);
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

static void test_eof_once(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->limit = 4; /* read query-status, then hang up */
	f->close_at_end = true;
	q = connect_fake(f, &s);
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, IO_TIMEOUT_MS, &err), -EPIPE);
	assert_non_null(strstr(err.s, "closed"));
	assert_int_equal(seen_wait(&s, &s.eofs, 1), 1);
	assert_false(qmp_is_open(q));
	assert_int_equal(qmp_execute(q, "stop", NULL, NULL, IO_TIMEOUT_MS, &err), -EPIPE);
	time_sleep_ms(50);
	qmp_close(q);
	assert_int_equal(s.eofs, 1);
	fake_stop(f);
	seen_release(&s);
}

/* Stop reading, then finish the handshake: the client's next write fails. */
static void after_stop_reading(struct fake *f)
{
	shutdown(f->fd, SHUT_RD);
	fake_reply(f, f->last_cmd, json_object());
	time_sleep_ms(300);
}

static void test_write_to_closed(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->limit = 2; /* greeting, read qmp_capabilities */
	f->after = after_stop_reading;
	q = connect_fake(f, &s);
	/* SIGPIPE is not ignored here: without MSG_NOSIGNAL the test would die. */
	assert_int_equal(qmp_execute(q, "query-status", NULL, NULL, IO_TIMEOUT_MS, &err), -EPIPE);
	assert_non_null(strstr(err.s, "write to QMP socket"));
	assert_int_equal(seen_wait(&s, &s.eofs, 1), 1);
	assert_false(qmp_is_open(q));
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

#define N_THREADS 4
#define N_CALLS 25

/* Collect one command per client thread, answer them in reverse, with an event. */
static void after_echo_reversed(struct fake *f)
{
	for (int round = 0; round < N_CALLS; round++) {
		__do_buf struct buf out = BUF_INIT;
		json_t *cmds[N_THREADS] = { 0 };
		int n = 0;

		while (n < N_THREADS && (cmds[n] = fake_read_cmd(f)))
			n++;
		for (int i = n - 1; i >= 0; i--) {
			json_t *msg = json_pack("{s:O, s:O}", "return",
						json_object_get(cmds[i], "arguments"), "id",
						json_object_get(cmds[i], "id"));
			fake_queue(&out, msg);
			json_decref(msg);
			msg = json_pack("{s:s, s:{s:i}, s:{s:i, s:i}}", "event", "TEST", "data", "k",
					round * N_THREADS + (n - 1 - i), "timestamp", "seconds", 1,
					"microseconds", 0);
			fake_queue(&out, msg);
			json_decref(msg);
			json_decref(cmds[i]);
		}
		fake_write(f, out.s, out.len);
		if (n < N_THREADS)
			return;
	}
}

struct worker {
	struct qmp *q;
	int id, ok;
	char failure[256];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < N_CALLS; i++) {
		__do_buf struct buf err = BUF_INIT;
		__do_json json_t *ret = NULL;
		int want = w->id * 1000 + i;
		int r = qmp_execute(w->q, "echo", json_pack("{s:i}", "n", want), &ret, IO_TIMEOUT_MS, &err);

		if (r != 0 || json_integer_value(json_object_get(ret, "n")) != want) {
			snprintf(w->failure, sizeof(w->failure), "call %d: r=%d %s", i, r, err.s);
			return NULL;
		}
		w->ok++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	struct fake *f = fake_new("basic");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	f->limit = 3; /* the handshake, then echo */
	f->after = after_echo_reversed;
	q = connect_fake(f, &s);
	for (int i = 0; i < N_THREADS; i++) {
		w[i] = (struct worker){ .q = q, .id = i };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_string_equal(w[i].failure, "");
		assert_int_equal(w[i].ok, N_CALLS);
	}
	assert_int_equal(seen_wait(&s, &s.n, N_THREADS * N_CALLS), N_THREADS * N_CALLS);
	for (int i = 0; i < s.n; i++) /* in the order sent */
		assert_int_equal(json_integer_value(json_object_get(s.data[i], "k")), i);
	assert_int_equal(s.ts[0], 1000);
	qmp_close(q);
	fake_stop(f);
	seen_release(&s);
}

static void test_job_wait(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("job");
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	q = connect_fake(f, &s);
	assert_int_equal(qmp_execute(q, "snapshot-save",
				     json_pack("{s:s, s:s, s:s, s:[s]}", "job-id", "snap-save", "tag",
					       "s1", "vmstate", "disk0", "devices", "disk0"),
				     NULL, IO_TIMEOUT_MS, &err),
			 0);
	assert_int_equal(qmp_job_wait(q, "snap-save", IO_TIMEOUT_MS, &err), 0);
	/* A failed snapshot-load "succeeds"; the job holds the error. */
	assert_int_equal(qmp_execute(q, "snapshot-load",
				     json_pack("{s:s, s:s, s:s, s:[s]}", "job-id", "snap-load", "tag",
					       "nosuchtag", "vmstate", "disk0", "devices", "disk0"),
				     NULL, IO_TIMEOUT_MS, &err),
			 0);
	assert_int_equal(qmp_job_wait(q, "snap-load", IO_TIMEOUT_MS, &err), -EIO);
	assert_string_equal(err.s, "Snapshot 'nosuchtag' does not exist in one or more devices");
	qmp_close(q);
	fake_join(f);
	assert_int_equal(f->commands, 7); /* both jobs were dismissed */
	fake_free(f);
	seen_release(&s);
}

/* Answer one more query-jobs: no jobs at all. */
static void after_no_jobs(struct fake *f)
{
	json_t *cmd = fake_read_cmd(f);

	if (cmd)
		fake_reply(f, cmd, json_array());
	json_decref(cmd);
}

static void test_job_wait_running(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	struct fake *f = fake_new("backup");
	struct seen s;
	struct qmp *q;
	int64_t t0;

	(void)state;
	seen_init(&s);
	f->after = after_no_jobs;
	q = connect_fake(f, &s);
	assert_int_equal(qmp_execute(q, "blockdev-backup",
				     json_pack("{s:s, s:s, s:s, s:s, s:i, s:{s:i}, s:b}", "job-id",
					       "bk0", "device", "disk0", "target", "tgt0", "sync",
					       "full", "speed", 8 << 20, "x-perf", "max-chunk",
					       1 << 20, "auto-dismiss", 0),
				     NULL, IO_TIMEOUT_MS, &err),
			 0);
	t0 = time_mono_ms();
	/* query-jobs says running; the concluded event (not the 1 s poll) wakes us. */
	assert_int_equal(qmp_job_wait(q, "bk0", IO_TIMEOUT_MS, &err), 0);
	assert_true(time_mono_ms() - t0 < 900);
	assert_int_equal(qmp_job_wait(q, "nosuchjob", IO_TIMEOUT_MS, &err), -ENOENT);
	assert_string_equal(err.s, "QEMU has no job nosuchjob");
	qmp_close(q);
	fake_join(f);
	assert_int_equal(f->commands, 6);
	fake_free(f);
	seen_release(&s);
}

static void test_handshake_timeout(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	int sv[2];
	int64_t t0 = time_mono_ms();

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_null(qmp_connect_fd(sv[0], 200, NULL, NULL, NULL, &err));
	assert_in_range(time_mono_ms() - t0, 190, 2000);
	assert_non_null(strstr(err.s, "greeting"));
	close(sv[1]);
	/* Not a QMP greeting. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(write(sv[1], "{\"hello\": 1}\n", 13), 13);
	assert_null(qmp_connect_fd(sv[0], 200, NULL, NULL, NULL, &err));
	assert_non_null(strstr(err.s, "greeting"));
	close(sv[1]);
}

struct listener {
	char path[108];
	struct fake *f;
};

/* Create the socket only after 150 ms, accept one client and serve the fake on it. */
static void *listener_main(void *arg)
{
	struct listener *l = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	time_sleep_ms(150);
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		fake_fail(l->f, "bind/listen %s", l->path);
		close(lfd);
		return NULL;
	}
	l->f->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (l->f->fd < 0)
		fake_fail(l->f, "accept");
	else
		fake_main(l->f);
	return NULL;
}

static void test_connect_path(void **state)
{
	__do_buf struct buf err = BUF_INIT;
	char dir[] = "/tmp/test_qmp.XXXXXX";
	struct listener l = { .f = fake_new("basic") };
	pthread_t th;
	struct seen s;
	struct qmp *q;

	(void)state;
	seen_init(&s);
	assert_non_null(mkdtemp(dir));
	snprintf(l.path, sizeof(l.path), "%s/qmp.sock", dir);
	/* Nobody there: fails after the timeout, not before, not forever. */
	int64_t t0 = time_mono_ms();
	assert_null(qmp_connect(l.path, 200, NULL, NULL, NULL, &err));
	assert_in_range(time_mono_ms() - t0, 190, 2000);
	assert_non_null(strstr(err.s, "connect to QMP socket"));
	/* The socket appears while we retry. */
	assert_int_equal(pthread_create(&th, NULL, listener_main, &l), 0);
	q = qmp_connect(l.path, IO_TIMEOUT_MS, on_event, on_eof, &s, &err);
	if (!q)
		fail_msg("qmp_connect: %s", err.s);
	assert_status(q, "prelaunch");
	qmp_close(q);
	pthread_join(th, NULL);
	assert_string_equal(l.f->failure, "");
	fake_free(l.f);
	unlink(l.path);
	rmdir(dir);
	seen_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_execute_success),
		cmocka_unit_test(test_qmp_error),
		cmocka_unit_test(test_event_before_reply),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_event_with_data),
		cmocka_unit_test(test_garbage_closes),
		cmocka_unit_test(test_u64_clamped),
		cmocka_unit_test(test_oversized_closes),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_eof_once),
		cmocka_unit_test(test_write_to_closed),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_job_wait),
		cmocka_unit_test(test_job_wait_running),
		cmocka_unit_test(test_handshake_timeout),
		cmocka_unit_test(test_connect_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
