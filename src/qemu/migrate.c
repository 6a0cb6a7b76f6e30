/*
 * migrate.c - the QMP steps of a live migration (see migrate.h for the
 * order the service layer runs them in): the pre-shared key for QEMU's TLS,
 * migration capabilities and parameters, the incoming side, the NBD server
 * that receives local disks, the source's block mirrors onto it, and
 * query-migrate read into a progress struct.  Every function is one QMP
 * exchange (or a few), so the unit test replays recorded QEMU transcripts.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "migrate.h"
#include "qemu/qmp.h"
#include "util/cleanup.h"
#include "util/fsutil.h"
#include "util/runas.h"
#include "util/timeutil.h"
#include "util/common.h"

#define MIG_QMP_TIMEOUT_MS 10000

/* Run cmd; on failure append "<what>: <QEMU's reason>" to err. */
static int run(struct qmp *q, const char *cmd, json_t *args, json_t **ret, const char *what, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	int r = qmp_execute(q, cmd, args, ret, MIG_QMP_TIMEOUT_MS, &why);

	if (r < 0 && err) /* err may be NULL: a caller that only needs the outcome */
		buf_printf(err, "%s: %s", what, why.s);
	return r;
}

/* "tcp:host:port", with an IPv6 host in brackets. */
static char *tcp_uri(const char *host, int port)
{
	return strchr(host, ':') ? xasprintf("tcp:[%s]:%d", host, port) : xasprintf("tcp:%s:%d", host, port);
}

/* ---- the pre-shared key ------------------------------------------------ */

int mig_psk_generate(char out[MIG_PSK_HEX_LEN + 1], struct buf *err)
{
	unsigned char raw[MIG_PSK_HEX_LEN / 2];
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			buf_printf(err, "cannot make a migration key: %s", strerror(e));
			return -e;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

bool mig_psk_valid(const char *psk)
{
	if (!psk || strlen(psk) != MIG_PSK_HEX_LEN)
		return false;
	for (const char *p = psk; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

/*
 * The finite-field group ffdhe2048 of RFC 7919, as PKCS#3 PEM (what `openssl
 * genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048` writes).  A QEMU
 * TLS server without a dh-params.pem in its credentials directory generates
 * Diffie-Hellman parameters itself when the object is added: 0.3-1 s of the
 * destination's preparation, every migration.  A published, standard group is
 * what TLS 1.3 uses anyway; the key exchange stays ephemeral.
 */
static const char ffdhe2048_pem[] =
	"-----BEGIN DH PARAMETERS-----\n"
	"MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz\n"
	"+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a\n"
	"87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7\n"
	"YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi\n"
	"7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD\n"
	"ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==\n"
	"-----END DH PARAMETERS-----\n";

int mig_psk_write(const char *dir, const char *psk, struct buf *err)
{
	__do_free char *path = xasprintf("%s/keys.psk", dir);
	__do_free char *dh = xasprintf("%s/dh-params.pem", dir);
	__do_free char *line = NULL;
	int r;

	if (!mig_psk_valid(psk)) {
		buf_adds(err, "the migration key is not 64 hex digits");
		return -EINVAL;
	}
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	line = xasprintf("%s:%s\n", MIG_PSK_USER, psk);
	r = fs_write_file_atomic(path, line, strlen(line), 0600);
	explicit_bzero(line, strlen(line));
	if (r < 0) {
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
		return r;
	}
	if ((r = fs_write_file_atomic(dh, ffdhe2048_pem, sizeof(ffdhe2048_pem) - 1, 0644)) < 0) {
		buf_printf(err, "cannot write %s: %s", dh, strerror(-r));
		mig_psk_remove(dir);
		return r;
	}
	if ((r = runas_own(dir, err)) < 0 || (r = runas_own(path, err)) < 0 || (r = runas_own(dh, err)) < 0) {
		mig_psk_remove(dir);
		return r;
	}
	return 0;
}

void mig_psk_remove(const char *dir)
{
	__do_free char *path = xasprintf("%s/keys.psk", dir);
	__do_free char *dh = xasprintf("%s/dh-params.pem", dir);

	unlink(path);
	unlink(dh);
	rmdir(dir);
}

/* ---- both sides --------------------------------------------------------- */

int mig_tls_add(struct qmp *q, const char *dir, bool server, struct buf *err)
{
	return mig_tls_add_id(q, MIG_TLS_ID, dir, server, err);
}

int mig_tls_add_id(struct qmp *q, const char *id, const char *dir, bool server, struct buf *err)
{
	json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "qom-type", "tls-creds-psk", "id", id, "dir", dir,
				 "endpoint", server ? "server" : "client");

	if (!server) /* the server finds the client's name in the key file */
		json_object_set_new(args, "username", json_string(MIG_PSK_USER));

	return run(q, "object-add", args, NULL, "cannot load the migration key into QEMU", err);
}

void mig_tls_del(struct qmp *q) { mig_tls_del_id(q, MIG_TLS_ID); }

void mig_tls_del_id(struct qmp *q, const char *id)
{
	qmp_execute(q, "object-del", json_pack("{s:s}", "id", id), NULL, MIG_QMP_TIMEOUT_MS, NULL);
}

static void cap_add(json_t *caps, const char *name, bool on)
{
	json_array_append_new(caps, json_pack("{s:s, s:b}", "capability", name, "state", (int)on));
}

int mig_caps_set(struct qmp *q, bool destination, bool hold, struct buf *err)
{
	json_t *caps = json_array();

	cap_add(caps, "events", true);
	if (destination) {
		cap_add(caps, "late-block-activate", hold);
	} else {
		cap_add(caps, "auto-converge", true);
		cap_add(caps, "pause-before-switchover", hold);
	}
	return run(q, "migrate-set-capabilities", json_pack("{s:o}", "capabilities", caps), NULL,
		   "cannot set migration capabilities", err);
}

int mig_params_set(struct qmp *q, const struct mig_params *p, struct buf *err)
{
	uint64_t bw = p->max_bandwidth ? p->max_bandwidth : MIG_UNLIMITED_BANDWIDTH;
	int64_t dt = p->downtime_ms > 0 ? p->downtime_ms : MIG_DEFAULT_DOWNTIME_MS;
	json_t *args = json_pack("{s:I, s:I, s:s}", "max-bandwidth", (json_int_t)bw, "downtime-limit", (json_int_t)dt,
				 "tls-creds", p->tls ? MIG_TLS_ID : "");

	return run(q, "migrate-set-parameters", args, NULL, "cannot set migration parameters", err);
}

bool mig_progress_done(const struct mig_progress *p)
{
	return !strcmp(p->status, "completed") || !strcmp(p->status, "failed") || !strcmp(p->status, "cancelled");
}

static uint64_t u64_of(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));
	return v > 0 ? (uint64_t)v : 0;
}

static int64_t ms_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

int mig_query(struct qmp *q, struct mig_progress *p, struct buf *err)
{
	__do_json json_t *ret = NULL;
	json_t *ram;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = run(q, "query-migrate", NULL, &ret, "cannot read the migration's progress", err)) < 0)
		return r;
	snprintf(p->status, sizeof(p->status), "%s",
		 json_string_value(json_object_get(ret, "status")) ? json_string_value(json_object_get(ret, "status"))
								    : "none");
	ram = json_object_get(ret, "ram");
	p->ram_total = u64_of(ram, "total");
	p->ram_remaining = u64_of(ram, "remaining");
	p->ram_transferred = u64_of(ram, "transferred");
	p->dirty_rate = u64_of(ram, "dirty-pages-rate") * (u64_of(ram, "page-size") ? u64_of(ram, "page-size") : 4096);
	p->mbps = (uint64_t)json_number_value(json_object_get(ram, "mbps"));
	p->dirty_sync_count = u64_of(ram, "dirty-sync-count");
	p->expected_downtime_ms = ms_of(ret, "expected-downtime");
	p->total_time_ms = ms_of(ret, "total-time");
	p->downtime_ms = ms_of(ret, "downtime");
	if (json_string_value(json_object_get(ret, "error-desc")))
		snprintf(p->error, sizeof(p->error), "%s", json_string_value(json_object_get(ret, "error-desc")));
	return 0;
}

static json_t *ms_json(int64_t ms) { return ms >= 0 ? json_integer(ms) : json_null(); }

json_t *mig_progress_json(const struct mig_progress *p)
{
	json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "status", p->status, "ram_total",
			      (json_int_t)p->ram_total, "ram_remaining", (json_int_t)p->ram_remaining, "ram_transferred",
			      (json_int_t)p->ram_transferred, "dirty_rate", (json_int_t)p->dirty_rate, "mbps",
			      (json_int_t)p->mbps, "expected_downtime_ms", ms_json(p->expected_downtime_ms),
			      "total_time_ms", ms_json(p->total_time_ms), "downtime_ms", ms_json(p->downtime_ms));
	if (p->error[0])
		json_object_set_new(j, "error", json_string(p->error));
	return j;
}

/* ---- destination -------------------------------------------------------- */

int mig_incoming_start(struct qmp *q, const char *addr, int port, struct buf *err)
{
	__do_free char *uri = tcp_uri(addr, port);

	return run(q, "migrate-incoming", json_pack("{s:s}", "uri", uri), NULL, "cannot listen for the migration",
		   err);
}

static json_t *inet_addr(const char *host, int port)
{
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	return json_pack("{s:s, s:s, s:s}", "type", "inet", "host", host, "port", p);
}

int mig_nbd_start(struct qmp *q, const char *addr, int port, bool tls, struct buf *err)
{
	/* nbd-server-start still takes the legacy form: {type, data: {host, port}} */
	json_t *inet = inet_addr(addr, port);
	json_object_del(inet, "type");
	json_t *args = json_pack("{s:{s:s, s:o}}", "addr", "type", "inet", "data", inet);

	if (tls)
		json_object_set_new(args, "tls-creds", json_string(MIG_TLS_ID));
	return run(q, "nbd-server-start", args, NULL, "cannot start the NBD server for the disks", err);
}

int mig_nbd_export(struct qmp *q, const char *node, const char *name, struct buf *err)
{
	__do_free char *id = xasprintf("mig-exp-%s", name);
	__do_free char *what = xasprintf("cannot export disk %s over NBD", name);
	json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", id, "node-name", node, "name", name,
				 "writable", 1);

	return run(q, "block-export-add", args, NULL, what, err);
}

int mig_nbd_stop(struct qmp *q, struct buf *err)
{
	return run(q, "nbd-server-stop", NULL, NULL, "cannot stop the NBD server", err);
}

/* ---- source ------------------------------------------------------------- */

int mig_nbd_node_add(struct qmp *q, const char *node, const char *export, const char *host, int port,
		     const char *tls_id, int reconnect_s, const char *what, struct buf *err)
{
	json_t *add = json_pack("{s:s, s:s, s:o, s:s}", "driver", "nbd", "node-name", node, "server",
				inet_addr(host, port), "export", export);

	if (tls_id)
		json_object_set_new(add, "tls-creds", json_string(tls_id));
	if (reconnect_s > 0)
		json_object_set_new(add, "reconnect-delay", json_integer(reconnect_s));
	return run(q, "blockdev-add", add, NULL, what, err);
}

int mig_mirror_start(struct qmp *q, int slot, const char *node, const char *export, const char *host, int port,
		     bool tls, uint64_t speed, struct buf *err)
{
	__do_free char *tgt = xasprintf("mig-tgt%d", slot);
	__do_free char *job = xasprintf("mig-mirror%d", slot);
	__do_free char *what = xasprintf("cannot connect disk %d to the destination", slot);
	int r;

	if ((r = mig_nbd_node_add(q, tgt, export, host, port, tls ? MIG_TLS_ID : NULL, 0, what, err)) < 0)
		return r;
	json_t *mirror = json_pack("{s:s, s:s, s:s, s:s, s:b}", "job-id", job, "device", node, "target", tgt, "sync",
				   "full", "auto-dismiss", 0);
	if (speed)
		json_object_set_new(mirror, "speed", json_integer((json_int_t)speed));
	free(what);
	what = xasprintf("cannot start copying disk %d", slot);
	if ((r = run(q, "blockdev-mirror", mirror, NULL, what, err)) < 0)
		qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", tgt), NULL, MIG_QMP_TIMEOUT_MS, NULL);
	return r;
}

int mig_mirror_query(struct qmp *q, int slot, struct mig_disk_progress *p, struct buf *err)
{
	__do_free char *job = xasprintf("mig-mirror%d", slot);
	__do_free char *what = xasprintf("cannot follow the copy of disk %d", slot);

	return mig_job_progress(q, job, what, p, err);
}

int mig_job_progress(struct qmp *q, const char *job, const char *what, struct mig_disk_progress *p, struct buf *err)
{
	__do_json json_t *j = NULL;
	__do_buf struct buf why = BUF_INIT;
	const char *st, *e;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = qmp_job_query(q, job, &j, MIG_QMP_TIMEOUT_MS, &why)) < 0) {
		if (err)
			buf_printf(err, "%s: %s", what, why.s);
		return r;
	}
	st = json_string_value(json_object_get(j, "status"));
	e = json_string_value(json_object_get(j, "error"));
	p->len = u64_of(j, "total-progress");
	p->offset = u64_of(j, "current-progress");
	p->ready = st && !strcmp(st, "ready");
	p->concluded = st && !strcmp(st, "concluded");
	p->failed = e || (st && (!strcmp(st, "concluded") || !strcmp(st, "aborting") || !strcmp(st, "null") ||
				 !strcmp(st, "paused")));
	if (p->failed)
		snprintf(p->error, sizeof(p->error), "%s", e ? e : st);
	return 0;
}

int mig_mirror_finish(struct qmp *q, int slot, int timeout_ms, struct buf *err)
{
	__do_free char *job = xasprintf("mig-mirror%d", slot);
	__do_free char *tgt = xasprintf("mig-tgt%d", slot);
	__do_free char *what = xasprintf("cannot finish copying disk %d", slot);

	return mig_job_finish(q, job, tgt, timeout_ms, what, err);
}

int mig_job_finish(struct qmp *q, const char *job, const char *tgt, int timeout_ms, const char *what, struct buf *err)
{
	__do_buf struct buf why = BUF_INIT;
	int r;

	if ((r = run(q, "block-job-cancel", json_pack("{s:s}", "device", job), NULL, what, err)) < 0)
		return r;
	if ((r = qmp_job_wait(q, job, timeout_ms, &why)) < 0) {
		buf_printf(err, "%s: %s", what, why.s);
		return r;
	}
	return run(q, "blockdev-del", json_pack("{s:s}", "node-name", tgt), NULL, what, err);
}

void mig_mirror_abort(struct qmp *q, int slot, int timeout_ms)
{
	__do_free char *job = xasprintf("mig-mirror%d", slot);
	__do_free char *tgt = xasprintf("mig-tgt%d", slot);

	mig_job_abort(q, job, tgt, timeout_ms);
}

void mig_job_abort(struct qmp *q, const char *job, const char *tgt, int timeout_ms)
{
	/* A peer that vanished without closing the connection (a cut link)
	 * leaves NBD requests in flight until TCP gives up; yank fails them at
	 * once, so the cancel does not wait for them (QEMU >= 6.0). */
	if (tgt)
		qmp_execute(q, "yank",
			    json_pack("{s:[{s:s, s:s}]}", "instances", "type", "block-node", "node-name", tgt), NULL,
			    MIG_QMP_TIMEOUT_MS, NULL);
	qmp_execute(q, "block-job-cancel", json_pack("{s:s, s:b}", "device", job, "force", 1), NULL,
		    MIG_QMP_TIMEOUT_MS, NULL);
	qmp_job_wait(q, job, timeout_ms, NULL); /* -ENOENT at once if there never was a job */
	if (tgt)
		qmp_execute(q, "blockdev-del", json_pack("{s:s}", "node-name", tgt), NULL, MIG_QMP_TIMEOUT_MS, NULL);
}

int mig_start(struct qmp *q, const char *host, int port, struct buf *err)
{
	__do_free char *uri = tcp_uri(host, port);

	return run(q, "migrate", json_pack("{s:s}", "uri", uri), NULL, "cannot start the migration", err);
}

int mig_cancel(struct qmp *q, struct buf *err)
{
	return run(q, "migrate_cancel", NULL, NULL, "cannot cancel the migration", err);
}

int mig_continue(struct qmp *q, struct buf *err)
{
	return run(q, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"), NULL,
		   "cannot continue the migration to its switch", err);
}
