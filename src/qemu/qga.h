/*
 * qga.h - client for the QEMU guest agent (qemu-ga) on a VM's agent socket.
 *
 * The agent runs inside the guest and talks JSON over a virtio-serial port
 * ("org.qemu.guest_agent.0", qemu/argv.h) that QEMU exposes as a listening
 * unix socket in the run dir.  Unlike QMP there is no greeting, no id in the
 * replies and no guarantee that anyone answers: the guest may have no agent,
 * a stopped one, or one that answers late to a request an earlier caller
 * gave up on.  So:
 *  - before the first command of a connection, and after any timeout or
 *    protocol error, the client resynchronises with `guest-sync-delimited`
 *    and a random id: everything up to the 0xFF delimiter the agent sends
 *    first is dropped, then every reply up to the one carrying that id;
 *  - every call is bounded by its timeout_ms (connect, write, read, and the
 *    wait for the per-VM lock): nothing blocks longer, agent or not;
 *  - one caller at a time per struct qga (a mutex taken with that same
 *    deadline: a second caller gets -EBUSY rather than queueing).
 *
 * What the agent sends is untrusted input (the guest controls it): replies
 * are parsed by qga_reply_parse() (bounded size, JSON object with "return"
 * or "error"), and the guest information by qga_*_parse(), which keep only
 * bounded, printable strings and well-formed addresses.  These are pure
 * functions, unit-tested and fuzzed (tests/fuzz/fuzz_qga.c).
 *
 * Errors: functions return 0 or -errno and, when err is non-NULL, append one
 * sentence: -ETIMEDOUT (the agent did not answer in time), -ECONNREFUSED /
 * -ENOENT (no socket: QEMU is gone), -EPIPE (connection lost), -EPROTO (a
 * reply that is not the agent's protocol), -EIO (the agent answered with an
 * error; its description, sanitised, is in err), -EBUSY (another caller).
 */
#ifndef CORRAL_QEMU_QGA_H
#define CORRAL_QEMU_QGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "util/buf.h"

/* Largest reply line accepted from the agent; more is a protocol error. */
#define QGA_MSG_MAX (1u << 20)
/* Bounds of what the info parsers keep. */
#define QGA_MAX_STR 256
#define QGA_MAX_IFACES 64
#define QGA_MAX_ADDRS 64

struct qga;

/* A client for the agent socket at `path` (copied).  Does not connect yet:
 * the first call does. */
struct qga *qga_new(const char *path);
/* Close and free (NULL-safe).  No call may be running on g. */
void qga_free(struct qga *g);

/*
 * Run agent command `cmd` with `args` (a JSON object or NULL; the reference
 * is stolen, also on failure) within timeout_ms in all.  On success *ret
 * (when ret is non-NULL) is a new reference to the reply's "return" value.
 * Commands that send no reply on success (guest-shutdown) are sent with
 * no_reply: the call returns 0 once the command is written after a
 * successful sync.
 */
int qga_execute(struct qga *g, const char *cmd, json_t *args, json_t **ret, int timeout_ms, struct buf *err);
int qga_execute_noreply(struct qga *g, const char *cmd, json_t *args, int timeout_ms, struct buf *err);

/* Whether g synchronised with an agent since its last failure. */
bool qga_is_synced(struct qga *g);

/* ---- parsing (pure; untrusted input) ----------------------------------- */

/*
 * One reply line (without the newline): a JSON object with "return" (0,
 * *ret a new reference when ret is non-NULL) or "error" (-EIO, its "desc"
 * sanitised into err).  Anything else is -EPROTO.
 */
int qga_reply_parse(const char *line, size_t len, json_t **ret, struct buf *err);

/*
 * Scan received bytes rx[0..len) for the answer to guest-sync-delimited
 * `id`: returns the number of bytes consumed and sets *done when the reply
 * with that id was found (everything before it is dropped: bytes before the
 * last 0xFF delimiter, then whole lines that are not that reply).  With
 * *done false the caller keeps the unconsumed tail and reads more; a line
 * longer than QGA_MSG_MAX bytes is consumed as garbage.
 */
size_t qga_sync_scan(const char *rx, size_t len, int64_t id, bool *seen_delim, bool *done);

/* guest-get-osinfo's return -> {"name","pretty_name","version","id",
 * "kernel_release"} (members absent when the agent gave none or gave
 * something unusable); NULL when nothing usable. */
json_t *qga_osinfo_parse(const json_t *ret);
/* guest-get-host-name's return -> the host name (caller frees) or NULL. */
char *qga_hostname_parse(const json_t *ret);
/*
 * guest-network-get-interfaces' return -> [{"name","mac","addresses":
 * ["ADDR/PREFIX",...]}] (at most QGA_MAX_IFACES, QGA_MAX_ADDRS each; bad
 * entries skipped); *ips (when non-NULL) gets the flat list of addresses
 * other than loopback and IPv6 link-local, without prefixes.  NULL when ret
 * is not an array.
 */
json_t *qga_interfaces_parse(const json_t *ret, json_t **ips);

#endif
