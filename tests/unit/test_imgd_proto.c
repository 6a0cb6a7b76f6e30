/*
 * test_imgd_proto.c - the frame codec between corrald and corral-imgd
 * (src/imgd/proto.c): headers encoded and checked, frames with JSON,
 * payload and descriptors over a real socketpair, and every way a peer can
 * send a bad frame (bad magic or version, lengths out of bounds, missing or
 * stray descriptors, truncated frames, JSON that is no message), timeouts
 * in both directions, guest text made valid UTF-8, and error frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "imgd/proto.h"
#include "util/timeutil.h"
#include "util/common.h"

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Write raw bytes (and optionally one fd) as the peer would. */
static void raw_send(int sock, const void *p, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)p, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = sizeof(ctl.b);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)len);
}

static void raw_header(int sock, uint16_t version, uint16_t nfds, uint32_t jlen, uint32_t dlen, int fd)
{
	uint8_t h[IMGD_HDR_SIZE];
	imgd_hdr_encode(&(struct imgd_hdr){ version, nfds, jlen, dlen }, h);
	raw_send(sock, h, sizeof(h), fd);
}

static int recv_expect(int sock, int want, const char *msg_part)
{
	struct imgd_msg m = IMGD_MSG_INIT;
	struct buf err = BUF_INIT;
	int r = imgd_recv(sock, time_mono_ms() + 2000, &m, &err);
	assert_int_equal(r, want);
	if (msg_part && !strstr(err.s, msg_part))
		fail_msg("error '%s' does not mention '%s'", err.s, msg_part);
	assert_null(m.j);
	assert_int_equal((int)m.nfds, 0);
	buf_release(&err);
	return r;
}

static void test_header(void **state)
{
	(void)state;
	uint8_t h[IMGD_HDR_SIZE];
	struct imgd_hdr d;
	struct buf err = BUF_INIT;

	imgd_hdr_encode(&(struct imgd_hdr){ IMGD_PROTO_VERSION, 3, 1234, 65536 }, h);
	assert_memory_equal(h, "CIMG\0\1\0\3\0\0\4\xd2\0\1\0\0", IMGD_HDR_SIZE);
	assert_int_equal(imgd_hdr_decode(h, &d, &err), 0);
	assert_int_equal(d.nfds, 3);
	assert_int_equal(d.json_len, 1234);
	assert_int_equal(d.data_len, 65536);

	h[0] = 'X';
	assert_int_equal(imgd_hdr_decode(h, &d, &err), -EPROTO);
	static const struct imgd_hdr bad[] = {
		{ IMGD_PROTO_VERSION + 1, 0, 10, 0 },
		{ IMGD_PROTO_VERSION, IMGD_MAX_FDS + 1, 10, 0 },
		{ IMGD_PROTO_VERSION, 0, 1, 0 },
		{ IMGD_PROTO_VERSION, 0, IMGD_MAX_JSON + 1, 0 },
		{ IMGD_PROTO_VERSION, 0, 10, IMGD_MAX_DATA + 1 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		imgd_hdr_encode(&bad[i], h);
		assert_true(imgd_hdr_decode(h, &d, &err) < 0);
	}
	assert_non_null(strstr(err.s, "version"));
	buf_release(&err);
}

static void test_round_trip(void **state)
{
	(void)state;
	int sv[2], p[2];
	struct buf err = BUF_INIT;
	struct imgd_msg m = IMGD_MSG_INIT;
	char payload[300000];

	pair(sv);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 7);
	__do_json json_t *j = json_pack("{s:s,s:I}", "op", "data", "off", (json_int_t)1 << 40);
	/* a payload larger than the socket buffer: the reader drains while the sender writes */
	pid_t child = fork();
	if (child == 0) {
		int fds[2] = { p[1], p[1] };
		_exit(imgd_send(sv[0], time_mono_ms() + 5000, j, payload, sizeof(payload), fds, 2, &err) == 0 ? 0 : 1);
	}
	assert_true(child > 0);
	assert_int_equal(imgd_recv(sv[1], time_mono_ms() + 5000, &m, &err), 0);
	assert_string_equal(m.op, "data");
	assert_int_equal(json_integer_value(json_object_get(m.j, "off")), (json_int_t)1 << 40);
	assert_int_equal(m.data.len, sizeof(payload));
	assert_memory_equal(m.data.s, payload, sizeof(payload));
	assert_int_equal((int)m.nfds, 2);
	int status = -1;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(status, 0);
	/* the descriptors work: written through one, read from the pipe */
	int fd = imgd_msg_take_fd(&m, 0);
	assert_true(fd >= 0);
	assert_int_equal(imgd_msg_take_fd(&m, 0), -EBADF);
	assert_int_equal(imgd_msg_take_fd(&m, 5), -EBADF);
	assert_int_equal(write(fd, "x", 1), 1);
	char c = 0;
	assert_int_equal(read(p[0], &c, 1), 1);
	assert_int_equal(c, 'x');
	close(fd);
	imgd_msg_release(&m);
	assert_null(m.j);

	/* sendf, then the peer closes: -EPIPE between frames */
	assert_int_equal(imgd_sendf(sv[0], 0, &err, "{s:s,s:i}", "op", "hello", "version", 1), 0);
	close(sv[0]);
	assert_int_equal(imgd_recv(sv[1], 0, &m, &err), 0);
	assert_string_equal(m.op, "hello");
	imgd_msg_release(&m);
	recv_expect(sv[1], -EPIPE, "closed");
	close(sv[1]);
	close(p[0]);
	close(p[1]);
	buf_release(&err);
}

static void test_bad_frames(void **state)
{
	(void)state;
	int sv[2], p[2];
	static const char js[] = "{\"op\":\"x\"}";

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);

	pair(sv); /* garbage instead of a header */
	raw_send(sv[0], "GET / HTTP/1.1\r\n\r\n", 16, -1);
	recv_expect(sv[1], -EPROTO, "magic");
	close(sv[0]), close(sv[1]);

	pair(sv); /* announced JSON too large */
	raw_header(sv[0], IMGD_PROTO_VERSION, 0, IMGD_MAX_JSON + 1, 0, -1);
	recv_expect(sv[1], -EMSGSIZE, NULL);
	close(sv[0]), close(sv[1]);

	pair(sv); /* the stream ends inside a frame */
	raw_header(sv[0], IMGD_PROTO_VERSION, 0, 100, 0, -1);
	raw_send(sv[0], js, sizeof(js) - 1, -1);
	close(sv[0]);
	recv_expect(sv[1], -EPROTO, "inside a frame");
	close(sv[1]);

	pair(sv); /* one descriptor announced, none sent */
	raw_header(sv[0], IMGD_PROTO_VERSION, 1, sizeof(js) - 1, 0, -1);
	raw_send(sv[0], js, sizeof(js) - 1, -1);
	recv_expect(sv[1], -EPROTO, "announced 1");
	close(sv[0]), close(sv[1]);

	pair(sv); /* a descriptor smuggled in with the JSON: refused and closed */
	raw_header(sv[0], IMGD_PROTO_VERSION, 0, sizeof(js) - 1, 0, -1);
	raw_send(sv[0], js, sizeof(js) - 1, p[1]);
	recv_expect(sv[1], -EPROTO, "outside a header");
	close(sv[0]), close(sv[1]);
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 0); /* no write end is left open anywhere */
	close(p[0]);

	static const char *const not_messages[] = { "[1,2,3]", "{\"op\":1}", "{\"no\":\"op\"}", "{\"op\":\"a\",\"op\":\"b\"}", "{oops" };
	for (size_t i = 0; i < ARRAY_SIZE(not_messages); i++) {
		pair(sv);
		raw_header(sv[0], IMGD_PROTO_VERSION, 0, (uint32_t)strlen(not_messages[i]), 0, -1);
		raw_send(sv[0], not_messages[i], strlen(not_messages[i]), -1);
		recv_expect(sv[1], -EPROTO, "op");
		close(sv[0]), close(sv[1]);
	}
}

static void test_timeouts(void **state)
{
	(void)state;
	int sv[2];
	struct buf err = BUF_INIT;
	struct imgd_msg m = IMGD_MSG_INIT;

	pair(sv);
	int64_t t0 = time_mono_ms();
	assert_int_equal(imgd_recv(sv[1], t0 + 100, &m, &err), -ETIMEDOUT);
	assert_true(time_mono_ms() - t0 >= 100);

	/* a peer that never reads cannot hold the sender */
	static char big[IMGD_MAX_DATA];
	__do_json json_t *j = json_pack("{s:s}", "op", "data");
	int r = 0;
	for (int i = 0; i < 16 && r == 0; i++)
		r = imgd_send(sv[0], time_mono_ms() + 100, j, big, sizeof(big), NULL, 0, &err);
	assert_int_equal(r, -ETIMEDOUT);

	/* out of bounds before anything is written */
	assert_int_equal(imgd_send(sv[0], 0, j, big, sizeof(big) + 1, NULL, 0, &err), -EMSGSIZE);
	close(sv[1]);
	assert_int_equal(imgd_send(sv[0], 0, j, NULL, 0, NULL, 0, &err), -EPIPE);
	close(sv[0]);
	buf_release(&err);
}

static void test_text_and_errors(void **state)
{
	(void)state;
	int sv[2];
	struct buf err = BUF_INIT;
	struct imgd_msg m = IMGD_MSG_INIT;

	json_t *t = imgd_json_text("caf\xc3\xa9 \xff\xfe ok \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xf0\x9f\x90\x84");
	assert_non_null(t);
	assert_string_equal(json_string_value(t), "caf\xc3\xa9 ?? ok ?? ??? ???? \xf0\x9f\x90\x84");
	json_decref(t);

	pair(sv);
	assert_int_equal(imgd_send_error(sv[0], 0, -ENOENT, "no \x01such\xff file", &err), 0);
	assert_int_equal(imgd_recv(sv[1], 0, &m, &err), 0);
	assert_string_equal(m.op, "error");
	assert_int_equal(imgd_msg_error(&m, &err), -ENOENT);
	assert_string_equal(err.s, "no ?such? file");
	imgd_msg_release(&m);
	buf_reset(&err);

	/* an errno out of range is -EIO; no message is said so */
	__do_json json_t *j = json_pack("{s:s,s:i}", "op", "error", "errno", 100000);
	assert_int_equal(imgd_send(sv[0], 0, j, NULL, 0, NULL, 0, &err), 0);
	assert_int_equal(imgd_recv(sv[1], 0, &m, &err), 0);
	assert_int_equal(imgd_msg_error(&m, &err), -EIO);
	assert_non_null(strstr(err.s, "without saying why"));
	imgd_msg_release(&m);
	close(sv[0]), close(sv[1]);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),	 cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_frames), cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_text_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
