/*
 * qmp.h - client for QEMU's machine protocol (QMP) on a unix socket.
 *
 * One struct qmp is one connection to one QEMU monitor.  qmp_connect() does
 * the handshake (greeting, qmp_capabilities) synchronously, then a reader
 * thread owns the receiving side: it parses every message (newline-delimited
 * JSON objects, as QEMU writes them; `-mon pretty=on` is not supported),
 * hands replies to the thread waiting for their "id" and delivers events, in
 * the order QEMU sent them, to on_event.
 *
 * Threading:
 *  - qmp_execute(), qmp_job_wait() and qmp_is_open() may be called from any
 *    number of threads at once; each command gets a unique id "corral-<n>".
 *  - on_event and on_eof run on the reader thread.  They must return quickly
 *    and must not call qmp_execute()/qmp_job_wait() on the same qmp (the
 *    reply could only be read by the very thread that is waiting for it: a
 *    deadlock until the timeout) nor qmp_close() (it joins that thread).
 *    Hand work to another thread instead.
 *  - qmp_close() must only be called once every other call on the same qmp
 *    has returned; it is the one function that is not concurrent-safe.
 *
 * Connection loss: when QEMU closes the socket, or sends something that is not
 * a QMP message (invalid JSON, a message over QMP_MSG_MAX), the reader thread
 * closes the connection, wakes every waiter with -EPIPE and calls on_eof
 * exactly once.  on_eof is not called for a close the caller asked for with
 * qmp_close().  A struct qmp stays valid (and answers -EPIPE) until qmp_close().
 *
 * Timeouts: every wait is bounded.  A timeout_ms <= 0 means
 * QMP_DEFAULT_TIMEOUT_MS.  A reply arriving after its caller timed out is
 * dropped, like any reply with an unknown id.
 *
 * Errors: functions return 0 or -errno and, when err is non-NULL, replace
 * its contents with one sentence for the user.
 */
#ifndef CORRAL_QEMU_QMP_H
#define CORRAL_QEMU_QMP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

#define QMP_DEFAULT_TIMEOUT_MS 30000
/* Largest single message accepted from QEMU; more is a protocol error. */
#define QMP_MSG_MAX (16u << 20)

struct qmp;

/*
 * An event: `event` is its name ("STOP"), `data` its "data" member or NULL if
 * it has none (borrowed: json_incref() it to keep it past the call), ts_ms
 * the event's own "timestamp" in milliseconds since the epoch (QEMU's clock;
 * our wall clock if QEMU sent none).
 */
typedef void (*qmp_event_cb)(void *opaque, const char *event, json_t *data, int64_t ts_ms);
/* The connection was lost (QEMU exited, closed it, or broke the protocol). */
typedef void (*qmp_eof_cb)(void *opaque);

/*
 * Connect to the QMP socket at `path`, retrying until timeout_ms while the
 * socket does not exist yet or refuses connections (QEMU still starting);
 * then read the greeting, negotiate capabilities and start the reader
 * thread.  Callbacks may be NULL.  Returns NULL with err set on failure.
 */
struct qmp *qmp_connect(const char *path, int timeout_ms, qmp_event_cb on_event,
			qmp_eof_cb on_eof, void *opaque, struct buf *err);

/*
 * The same on an already connected stream socket (socketpair in tests, an fd
 * passed by QEMU's parent).  Takes ownership of fd: it is closed on failure
 * and by qmp_close().  FD_CLOEXEC is set on it.
 */
struct qmp *qmp_connect_fd(int fd, int timeout_ms, qmp_event_cb on_event,
			   qmp_eof_cb on_eof, void *opaque, struct buf *err);

/*
 * Run command `cmd` with `args` (a JSON object or NULL; the reference is
 * stolen, also on failure) and wait up to timeout_ms for its reply.
 * Returns:
 *   0           success; if ret is non-NULL, *ret is a new reference to the
 *               reply's "return" value (caller json_decref()s it);
 *   -EIO        QEMU answered with an error; err = "<class>: <desc>";
 *   -ETIMEDOUT  no reply in time (the connection stays usable);
 *   -EPIPE      the connection is closed or was lost while waiting.
 * *ret is left untouched unless 0 is returned.
 */
int qmp_execute(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
		struct buf *err);

/*
 * The same, passing the open file descriptor fd to QEMU with the command
 * (SCM_RIGHTS), for `add-fd` and `getfd`.  fd stays the caller's (QEMU gets
 * its own copy).  -EBADF for a negative fd.
 */
int qmp_execute_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret, int timeout_ms,
		   struct buf *err);

/*
 * Wait up to timeout_ms for the job `job_id` (started by a command with
 * "job-id": snapshot-save/-load/-delete, blockdev-backup, block-commit...) to
 * reach "concluded", then job-dismiss it.  Wakes on JOB_STATUS_CHANGE events
 * and re-checks with query-jobs at least once a second.
 * The job must not be auto-dismissed (blockdev-backup etc. need
 * "auto-dismiss": false; snapshot-* jobs never are) and must be auto-finalized
 * (the default), else it never concludes here.
 * Returns 0 if the job concluded without "error"; -EIO with err = the job's
 * error string if it failed (QEMU 7.2 reports a failed snapshot-load only
 * there: the command itself returns {}); -ENOENT if no such job exists;
 * otherwise what qmp_execute() returned.  The job is left alone (not
 * cancelled) on timeout.
 */
int qmp_job_wait(struct qmp *q, const char *job_id, int timeout_ms, struct buf *err);

/*
 * The entry of `job_id` in query-jobs ({"id","type","status",
 * "current-progress","total-progress","error"?}) as a new reference in *job.
 * Returns 0; -ENOENT with err = "QEMU has no job ID" if there is none;
 * otherwise what qmp_execute() returned.
 */
int qmp_job_query(struct qmp *q, const char *job_id, json_t **job, int timeout_ms, struct buf *err);

/*
 * Waiting for "something happened" instead of sleeping between polls:
 * qmp_events_seen() counts the events received so far; qmp_events_wait()
 * returns as soon as another event than the `seen` ones has arrived, after
 * timeout_ms, or when the connection is lost.  A poller takes `seen`
 * before its query, so an event between the query and the wait is not missed.
 */
uint64_t qmp_events_seen(struct qmp *q);
void qmp_events_wait(struct qmp *q, uint64_t seen, int timeout_ms);

/*
 * Close the socket, join the reader thread and free everything.  NULL-safe.
 * Must not be called from a callback nor while other threads use q.
 */
void qmp_close(struct qmp *q);

/* false once the connection is lost (EOF or a protocol error), and for NULL. */
bool qmp_is_open(struct qmp *q);

#endif
