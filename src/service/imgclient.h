/*
 * imgclient.h - asking corral-imgd, the sandboxed image helper, to look
 * inside a disk (imgclient.c).
 *
 * corrald never parses guest-controlled image bytes itself.  For every
 * request it opens the files (the image and its backing chain, read-only)
 * or prepares a device it serves from memory (a backup's disk), starts one
 * helper (src/imgd: chrooted, unprivileged, seccomp-filtered; see
 * imgd/sandbox.h), hands it the descriptors over a socketpair, and reads its
 * answer (imgd/proto.h; docs/image.md).  A helper that crashes, is killed by
 * its sandbox, breaks the protocol or sends nothing for `timeout_s` seconds
 * (a parser caught in a loop) is killed and the request fails with -EIO
 * and a sentence naming the disk; corrald itself is never affected.  Every
 * value that comes back is untrusted and checked by the caller.
 *
 * Per request, one process: a crash only takes that request with it, and
 * starting one costs about a millisecond (docs/bench.md, bench/image-read).
 *
 * Threading: every function may be called from any thread; one struct imgc
 * belongs to one thread at a time.  The source must outlive the imgc.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_SERVICE_IMGCLIENT_H
#define CORRAL_SERVICE_IMGCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "imgd/proto.h"
#include "util/buf.h"

struct imgc_config {
	const char *helper;	/* path of corral-imgd */
	const char *user;	/* the account it runs as (not root, not QEMU's) */
	const char *root;	/* an empty directory it chroots into; created, mode 0555 */
	int timeout_s;		/* the longest the helper may go without sending a frame */
};

/* Copy the configuration (strings included) and make the root directory. */
int imgc_init(const struct imgc_config *cfg, struct buf *err);
void imgc_shutdown(void);

/* What the helper reads: a chain of image files, or a device corrald serves. */
struct imgc_source {
	char *label;			/* names the disk in errors: "volume deb", "file /srv/x.img" */
	int fds[IMGD_MAX_CHAIN];	/* the image, then its backing files in order */
	char *names[IMGD_MAX_CHAIN];	/* their paths */
	size_t n;
	char *format;			/* of fds[0]: "raw", "qcow2" */
	char *snapshot;			/* qcow2 internal snapshot to read, or NULL */
	/* a served device (n == 0): reads of [off, off+len) inside size, from the thread using the imgc */
	int (*pread)(void *arg, void *buf, size_t len, uint64_t off);
	void *arg;
	uint64_t size;
};

#define IMGC_SOURCE_INIT { .label = NULL, .n = 0 }

/*
 * Open chain[0] (format "raw" or "qcow2") and its backing files chain[1..n-1]
 * read-only.  Each must be a regular file or a block device.  Released by
 * imgc_source_release, also after a failure.
 */
int imgc_source_files(struct imgc_source *s, const char *label, const char *const *chain, size_t n,
		      const char *format, const char *snapshot, struct buf *err);
/*
 * The same from descriptors the caller opened (and checked) already:
 * fds[0..n-1] (n <= IMGD_MAX_CHAIN) now belong to s, also on failure; names
 * are copied, for messages.
 */
void imgc_source_fds(struct imgc_source *s, const char *label, int *fds, const char *const *names, size_t n,
		     const char *format, const char *snapshot);
/* A device of size bytes read through pread(arg, ...); arg stays the caller's. */
void imgc_source_served(struct imgc_source *s, const char *label, uint64_t size,
			int (*pread)(void *arg, void *buf, size_t len, uint64_t off), void *arg);
void imgc_source_release(struct imgc_source *s);

/* One helper serving one request. */
struct imgc;

/*
 * Start a helper and send it request req (a JSON object with "op" and the
 * op's arguments; "dev" is added from src), with src's descriptors followed
 * by fds[0..nfds-1] (which stay the caller's).  A request started with
 * imgc_call has a deadline of 10 timeouts in total besides.
 */
int imgc_start(const struct imgc_source *src, const json_t *req, const int *fds, size_t nfds, struct imgc **out,
	       struct buf *err);
/*
 * The helper's next frame for the caller ("file", "data" or "result") into m
 * (IMGD_MSG_INIT; release it).  Reads of a served device are answered here.
 * An "error" frame becomes its -errno and message; a dead, silent or
 * misbehaving helper -EIO.  After an error the imgc is finished: only
 * imgc_end remains.
 */
int imgc_next(struct imgc *c, struct imgd_msg *m, struct buf *err);
/* Stop the helper (killed if it does not exit at once), reap it, free c. */
void imgc_end(struct imgc *c);

/* imgc_start, the "result" frame's JSON into *result (new reference), imgc_end. */
int imgc_call(const struct imgc_source *src, const json_t *req, const int *fds, size_t nfds, json_t **result,
	      struct buf *err);

#endif
