/*
 * qmp_fake.h - a fake QEMU monitor for unit tests: on its own thread at the
 * other end of a socketpair it replays a transcript recorded from QEMU 7.2
 * (tests/data/qmp/NAME.replies, see record.py and record-proxy.py).  Each
 * command the client sends must be the recorded one with the recorded
 * arguments; the fake then sends what QEMU sent after it, with "id"
 * rewritten to the client's.  An `after` hook scripts what a real QEMU will
 * not do on demand.  A problem is kept in `failure` and checked by
 * fake_join() on the test thread (cmocka asserts only work there).
 *
 * Transcripts are found in $CORRAL_TEST_DATA/qmp if set, else in
 * TEST_DATA_DIR/qmp (tests/meson.build defines it), else relative to this
 * file's path as the compiler saw it.
 */
#ifndef CORRAL_TESTS_QMP_FAKE_H
#define CORRAL_TESTS_QMP_FAKE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "util/buf.h"

#define IO_TIMEOUT_MS 5000

struct fake {
	int fd;
	pthread_t thread;
	json_t *lines;     /* transcript, in wire order */
	size_t limit;      /* replay only this many lines (0: all) */
	bool byte_by_byte; /* write QEMU's messages one byte at a time */
	bool close_at_end; /* close after replay+after instead of waiting for the client */
	void (*after)(struct fake *f);
	bool eof;          /* the client closed its end */
	int commands;      /* commands received */
	json_t *last_cmd;
	struct buf in;
	char failure[512]; /* first problem; checked on the test thread */
};

/* The transcript tests/data/qmp/<name>.replies as a JSON array. */
json_t *load_transcript(const char *name);
/* A fake for `transcript` (NULL: an empty one); not started yet. */
struct fake *fake_new(const char *transcript);
/* Start the fake on a socketpair; returns the client's end. */
int fake_start(struct fake *f);
/* Start the fake and connect a QMP client to it (no event callbacks); a
 * failure fails the test. */
struct qmp;
struct qmp *fake_connect(struct fake *f);
/* Wait for the fake to finish (the client must have closed) and check it. */
void fake_join(struct fake *f);
void fake_free(struct fake *f);
/* fake_join + fake_free. */
void fake_stop(struct fake *f);
/* For `after` hooks, on the fake's thread. */
void fake_fail(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fake_write(struct fake *f, const char *p, size_t len);
json_t *fake_read_cmd(struct fake *f);
void fake_reply(struct fake *f, json_t *cmd, json_t *ret);
/* Append msg as one line to out (for a write of several messages at once). */
void fake_queue(struct buf *out, json_t *msg);
/* The fake's thread body (replay, after hook, then wait for the client to close). */
void *fake_main(void *arg);

#endif
