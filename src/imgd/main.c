/*
 * main.c - corral-imgd: the image helper.  corrald starts one per request
 * to parse guest-controlled image bytes (qcow2 metadata, partition tables,
 * ext4 and XFS structures, GRUB and BLS configurations) outside the root
 * daemon, the way OpenBSD's vmd parses guest input in children that hold
 * nothing else (docs/image.md, "The image helper").
 *
 *     corral-imgd --uid UID --gid GID --root DIR
 *
 * It expects its socket as fd 3 and nothing else but stdio, enters its
 * sandbox (sandbox.h) before it reads any request, says "hello", then
 * answers requests (serve.h) until corrald closes the socket.  Not meant to
 * be run by hand.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imgd/proto.h"
#include "imgd/sandbox.h"
#include "imgd/serve.h"
#include "util/log.h"
#include "util/common.h"

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan (the sanitizer build of the tests) the sandbox still applies:
 * LeakSanitizer's ptrace at exit and the symbolizer it would fork are
 * forbidden, and a SEGV is left to kill the process, as in a normal build. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0:symbolize=0:handle_segv=0";
}
#endif

static int parse_id(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || end == s || *end || *out == 0 || *out > INT_MAX ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "gid", required_argument, NULL, 'g' },
		{ "root", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct imgd_sandbox sb = { .root = NULL };
	unsigned long uid = 0, gid = 0;
	struct buf err = BUF_INIT;
	struct stat st;
	int c, r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (parse_id(optarg, &uid) < 0)
				return 2;
			break;
		case 'g':
			if (parse_id(optarg, &gid) < 0)
				return 2;
			break;
		case 'r': sb.root = optarg; break;
		default: return 2;
		}
	}
	if (optind < argc || !uid || !gid || !sb.root) {
		fputs("usage: corral-imgd --uid UID --gid GID --root DIR (started by corrald, socket on fd 3)\n", stderr);
		return 2;
	}
	sb.uid = (uid_t)uid;
	sb.gid = (gid_t)gid;
	if (fstat(IMGD_SOCK_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		fputs("corral-imgd: fd 3 is not a socket; corrald starts this program\n", stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	json_object_seed(0);	/* jansson's hash seed from /dev/urandom, while it can still be opened */
	if ((r = imgd_sandbox_enter(&sb, &err)) < 0) {
		/* corrald reads this as the reason the helper did not start */
		imgd_send_error(IMGD_SOCK_FD, 0, r, err.s, &err);
		return 1;
	}
	if (imgd_sendf(IMGD_SOCK_FD, 0, &err, "{s:s,s:i,s:i,s:i}", "op", "hello", "version", IMGD_PROTO_VERSION, "pid",
		       (int)getpid(), "uid", (int)getuid()) < 0)
		return 1;
	for (;;) {
		struct imgd_msg m = IMGD_MSG_INIT;
		buf_reset(&err);
		r = imgd_recv(IMGD_SOCK_FD, 0, &m, &err);
		if (r == -EPIPE)
			return 0;
		if (r < 0) {
			log_warn("corral-imgd: %s", err.s);
			return 1;
		}
		if (imgd_serve(IMGD_SOCK_FD, &m) < 0)
			return 1;
	}
}
