/*
 * test_http.c - the HTTP front end (src/api/http*.c) with a test router,
 * driven by raw sockets: replies and headers, strict query decoding, 413
 * before the body, chunked streams of unknown size delivered as they are
 * written (server-sent events), a client hang-up reaching the producer as
 * EPIPE, 503 + Retry-After when the worker queue is full, upgrades, no
 * idle timeout while a stream waits for its producer or on an upgraded
 * connection, a request waiting while the server was stopped, and a
 * graceful stop that waits for a running handler and ends streams and
 * upgraded connections.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/http.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"

static char sock_path[108];

/* What the test router shares with the tests. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int blocked;     /* handlers waiting in /block */
	bool release;    /* let them go */
	int quiet_wfd;   /* write end of the /quiet stream */
	int64_t sse_second_ms; /* when /sse wrote its second frame */
} T = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, -1, 0 };

static void *sse_producer(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static const char f1[] = "data: 1\n\n", f2[] = "data: 2\n\n";
	/* Not cmocka asserts: this is not the test's thread.  A failed write shows as a missing frame. */
	ssize_t n = write(fd, f1, sizeof(f1) - 1);
	time_sleep_ms(300);
	pthread_mutex_lock(&T.lock);
	T.sse_second_ms = time_mono_ms();
	pthread_mutex_unlock(&T.lock);
	n = write(fd, f2, sizeof(f2) - 1);
	(void)n;
	close(fd);
	return NULL;
}

/* Echo bytes until the client (or http_stop) ends the connection. */
static void echo_upgraded(int fd, void *opaque)
{
	char b[256];
	ssize_t n;
	atomic_int *st = opaque;
	atomic_store(st, fd >= 0 ? 1 : -1);
	if (fd < 0)
		return;
	while ((n = read(fd, b, sizeof(b))) > 0)
		if (write(fd, b, (size_t)n) != n)
			break;
	atomic_store(st, 2);
}

static atomic_int upgrade_state;

/* Runs on the server's workers: failures abort (cmocka asserts only work on the test's thread). */
static void router(const struct http_request *req, struct http_reply *rep)
{
	int p[2];
	pthread_t t;

	if (strcmp(req->path, "/hello") == 0) {
		http_reply_json(rep, 200, json_pack("{s:b}", "ok", 1));
		http_reply_header(rep, "X-Test", "yes");
	} else if (strcmp(req->path, "/echo") == 0) {
		const char *a = http_query(req, "a");
		buf_printf(&rep->text, "[%s|%s|%zu]", a ? a : "(none)", http_header(req, "X-Hdr") ?: "-", req->body_len);
		rep->status = 200;
	} else if (strcmp(req->path, "/block") == 0) {
		pthread_mutex_lock(&T.lock);
		T.blocked++;
		pthread_cond_broadcast(&T.cond);
		while (!T.release)
			pthread_cond_wait(&T.cond, &T.lock);
		T.blocked--;
		pthread_mutex_unlock(&T.lock);
		http_reply_json(rep, 200, json_pack("{s:s}", "done", "block"));
	} else if (strcmp(req->path, "/sse") == 0) {
		if (pipe(p) < 0 || pthread_create(&t, NULL, sse_producer, (void *)(intptr_t)p[1]) != 0)
			abort();
		pthread_detach(t);
		http_reply_stream(rep, p[0], HTTP_SIZE_UNKNOWN);
		http_reply_header(rep, "Content-Type", "text/event-stream");
		http_reply_header(rep, "Cache-Control", "no-cache");
	} else if (strcmp(req->path, "/quiet") == 0) {
		if (pipe(p) < 0)
			abort();
		pthread_mutex_lock(&T.lock);
		T.quiet_wfd = p[1];
		pthread_cond_broadcast(&T.cond);
		pthread_mutex_unlock(&T.lock);
		http_reply_stream(rep, p[0], HTTP_SIZE_UNKNOWN);
	} else if (strcmp(req->path, "/upgrade") == 0) {
		rep->upgrade_cb = echo_upgraded;
		rep->upgrade_opaque = &upgrade_state;
	} else {
		http_reply_error(rep, 404, "not_found", "no such route");
	}
}

/* ---- a raw client ---- */

static int cli_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
	assert_true(fd >= 0);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void cli_send(int fd, const char *s)
{
	assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

/* Read into b until `until` appears (NULL: EOF) or timeout_ms pass; true if it did. */
static bool cli_read(int fd, struct buf *b, const char *until, int timeout_ms)
{
	int64_t end = time_mono_ms() + timeout_ms;
	char tmp[4096];

	for (;;) {
		if (until && strstr(b->s, until))
			return true;
		int64_t left = end - time_mono_ms();
		struct pollfd p = { fd, POLLIN, 0 };
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			return !until;
		buf_add(b, tmp, (size_t)n);
	}
}

/* One request on a fresh connection, the whole answer (server closes: Connection: close). */
static char *cli_request(const char *req)
{
	struct buf b = BUF_INIT;
	int fd = cli_connect();
	assert_true(fd >= 0);
	cli_send(fd, req);
	assert_true(cli_read(fd, &b, NULL, 5000));
	close(fd);
	return buf_detach(&b);
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay, needle);
}

/* header_s: the request head's deadline (0: the default). */
static struct http_server *server_start_head(unsigned workers, unsigned queue, unsigned idle_s, unsigned header_s)
{
	struct http_config cfg = HTTP_CONFIG_INIT;
	struct http_server *srv = NULL;
	struct buf err = BUF_INIT;

	cfg.socket_path = sock_path;
	cfg.workers = workers;
	cfg.queue_len = queue;
	cfg.io_threads = 2;
	cfg.stop_timeout_s = 10;
	cfg.idle_timeout_s = idle_s;
	if (header_s)
		cfg.header_timeout_s = header_s;
	pthread_mutex_lock(&T.lock);
	T.release = false;
	T.quiet_wfd = -1;
	pthread_mutex_unlock(&T.lock);
	if (http_start(&cfg, router, &srv, &err) < 0)
		fail_msg("http_start: %s", err.s);
	buf_release(&err);
	return srv;
}

static struct http_server *server_start(unsigned workers, unsigned queue, unsigned idle_s)
{
	return server_start_head(workers, queue, idle_s, 0);
}

static void wait_blocked(int n)
{
	int64_t end = time_mono_ms() + 5000;
	pthread_mutex_lock(&T.lock);
	while (T.blocked < n && time_mono_ms() < end) {
		pthread_mutex_unlock(&T.lock);
		time_sleep_ms(5);
		pthread_mutex_lock(&T.lock);
	}
	assert_int_equal(T.blocked, n);
	pthread_mutex_unlock(&T.lock);
}

static void release_blocked(void)
{
	pthread_mutex_lock(&T.lock);
	T.release = true;
	pthread_cond_broadcast(&T.cond);
	pthread_mutex_unlock(&T.lock);
}

static int setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/corral-http.XXXXXX";
	assert_non_null(mkdtemp(tmpl));
	snprintf(sock_path, sizeof(sock_path), "%s/s", tmpl);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	*strrchr(sock_path, '/') = '\0';
	rmdir(sock_path);
	return 0;
}

/* ---- tests ---- */

static void test_replies_and_queries(void **state)
{
	(void)state;
	struct http_server *srv = server_start(2, 4, 30);
	char *r;

	r = cli_request("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_contains(r, "HTTP/1.1 200");
	assert_contains(r, "X-Test: yes");
	assert_contains(r, "Content-Type: application/json");
	assert_contains(r, "{\"ok\":true}\n");
	free(r);
	r = cli_request("POST /echo?b=1&a=x%20y+z%2B&a=second HTTP/1.1\r\nHost: t\r\nX-Hdr: hv\r\n"
			"Content-Length: 3\r\nConnection: close\r\n\r\nabc");
	assert_contains(r, "text/plain");
	assert_contains(r, "[x y z+|hv|3]");
	free(r);
	r = cli_request("GET /echo?b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_contains(r, "[(none)|-|0]");
	free(r);
	static const char *const bad[] = { "a=%zz", "a=%0", "a=%00", "%=1" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char q[128];
		snprintf(q, sizeof(q), "GET /echo?%s HTTP/1.1\r\nHost: t\r\n\r\n", bad[i]);
		r = cli_request(q);
		assert_contains(r, "HTTP/1.1 400");
		assert_contains(r, "percent-encoding");
		free(r);
	}
	/* Refused from Content-Length alone, before any body byte is sent. */
	r = cli_request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n");
	assert_contains(r, "HTTP/1.1 413");
	free(r);
	r = cli_request("GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	assert_contains(r, "HTTP/1.1 404");
	free(r);
	assert_int_equal(http_stop(srv), 0);
	assert_true(cli_connect() < 0); /* the socket is gone */
}

static void test_stream_unknown_size(void **state)
{
	(void)state;
	struct http_server *srv = server_start(2, 4, 30);
	struct buf b = BUF_INIT;
	int fd = cli_connect();
	int64_t t0 = time_mono_ms();

	cli_send(fd, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fd, &b, "data: 1\n\n", 5000));
	int64_t first = time_mono_ms();
	/* Frame 1 arrives while the producer still sleeps before frame 2. */
	assert_true(first - t0 < 250);
	assert_true(cli_read(fd, &b, "\r\n0\r\n\r\n", 5000)); /* the last chunk */
	pthread_mutex_lock(&T.lock);
	assert_true(T.sse_second_ms >= first);
	pthread_mutex_unlock(&T.lock);
	assert_contains(b.s, "HTTP/1.1 200");
	assert_contains(b.s, "Transfer-Encoding: chunked");
	assert_contains(b.s, "Content-Type: text/event-stream");
	assert_contains(b.s, "Cache-Control: no-cache");
	assert_contains(b.s, "data: 2\n\n");
	assert_null(strstr(b.s, "application/octet-stream"));
	/* The connection stays usable for the next request. */
	buf_reset(&b);
	cli_send(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fd, &b, "{\"ok\":true}", 5000));
	close(fd);
	buf_release(&b);
	assert_int_equal(http_stop(srv), 0);
}

/* Write to the /quiet producer until EPIPE; ms it took, or -1. */
static int64_t quiet_until_epipe(int timeout_ms)
{
	int64_t t0 = time_mono_ms();
	int wfd;
	pthread_mutex_lock(&T.lock);
	wfd = T.quiet_wfd;
	pthread_mutex_unlock(&T.lock);
	while (time_mono_ms() - t0 < timeout_ms) {
		if (write(wfd, "x", 1) < 0) {
			int e = errno;
			close(wfd);
			return e == EPIPE ? time_mono_ms() - t0 : -1;
		}
		time_sleep_ms(20);
	}
	close(wfd);
	return -1;
}

static void test_stream_client_gone(void **state)
{
	(void)state;
	struct http_server *srv = server_start(2, 4, 30);
	struct buf b = BUF_INIT;
	int fd = cli_connect();

	/* A quiet producer: the connection sits suspended in the watcher. */
	cli_send(fd, "GET /quiet HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fd, &b, "\r\n\r\n", 5000));
	assert_contains(b.s, "application/octet-stream");
	close(fd);
	int64_t ms = quiet_until_epipe(3000);
	assert_true(ms >= 0);
	assert_true(ms < 1000);
	buf_release(&b);
	assert_int_equal(http_stop(srv), 0);
}

static void test_queue_full_503(void **state)
{
	(void)state;
	struct http_server *srv = server_start(1, 1, 30);
	struct buf a = BUF_INIT, q = BUF_INIT;
	int fa = cli_connect(), fq;

	cli_send(fa, "GET /block HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	wait_blocked(1);                       /* the only worker is busy */
	fq = cli_connect();
	cli_send(fq, "GET /block HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	time_sleep_ms(100);                    /* ... and the only queue slot taken */
	int64_t t0 = time_mono_ms();
	char *r = cli_request("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(time_mono_ms() - t0 < 1000);
	assert_contains(r, "HTTP/1.1 503");
	assert_contains(r, "Retry-After: 1");
	assert_contains(r, "\"unavailable\"");
	free(r);
	release_blocked();
	assert_true(cli_read(fa, &a, NULL, 5000));
	assert_true(cli_read(fq, &q, NULL, 5000));
	assert_contains(a.s, "\"done\":\"block\"");
	assert_contains(q.s, "\"done\":\"block\"");
	close(fa);
	close(fq);
	buf_release(&a);
	buf_release(&q);
	assert_int_equal(http_stop(srv), 0);
}

/* Waiting for a stream's producer or in an upgraded connection is not idleness. */
static void test_no_idle_timeout_while_waiting(void **state)
{
	(void)state;
	struct http_server *srv = server_start(2, 4, 1);
	struct buf sb = BUF_INIT, ub = BUF_INIT;
	int fs = cli_connect(), fu = cli_connect(), wfd;

	cli_send(fs, "GET /quiet HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fs, &sb, "\r\n\r\n", 5000));
	cli_send(fu, "GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n");
	assert_true(cli_read(fu, &ub, "\r\n\r\n", 5000));
	time_sleep_ms(2500); /* 2.5 times the idle timeout */
	pthread_mutex_lock(&T.lock);
	wfd = T.quiet_wfd;
	pthread_mutex_unlock(&T.lock);
	assert_int_equal(write(wfd, "late\n", 5), 5);
	assert_true(cli_read(fs, &sb, "late\n", 3000));
	cli_send(fu, "still there");
	assert_true(cli_read(fu, &ub, "still there", 3000));
	/* A plain idle connection is closed meanwhile. */
	int fi = cli_connect();
	struct buf ib = BUF_INIT;
	int64_t t0 = time_mono_ms();
	assert_true(cli_read(fi, &ib, NULL, 5000));
	assert_true(time_mono_ms() - t0 < 2500);
	close(wfd);
	assert_true(cli_read(fs, &sb, "\r\n0\r\n\r\n", 3000)); /* EOF ends the chunked body */
	close(fi);
	close(fs);
	close(fu);
	buf_release(&sb);
	buf_release(&ub);
	buf_release(&ib);
	assert_int_equal(http_stop(srv), 0);
}

/*
 * A server stopped (SIGSTOP) past a keep-alive connection's head deadline,
 * with a request waiting in that connection: once it runs again, the request
 * is answered, not cut off by the deadline that passed while it stood still
 * (a peer's migration finish, carried out with its answer lost, was sent
 * again by libcurl).  The server runs in a child, the only thing stopped.
 */
static void test_stopped_server_answers_waiting_request(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	int ready[2], fd, st;
	char c;

	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct http_server *srv = server_start_head(2, 4, 30, 1);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause(); /* until the test kills it */
		http_stop(srv);
		_exit(0);
	}
	close(ready[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);
	fd = cli_connect();
	assert_true(fd >= 0);
	cli_send(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fd, &b, "{\"ok\":true}", 5000));
	buf_reset(&b);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	cli_send(fd, "GET /echo?a=late HTTP/1.1\r\nHost: t\r\n\r\n");
	time_sleep_ms(2500); /* 2.5 times the head deadline */
	assert_int_equal(kill(pid, SIGCONT), 0);
	bool answered = cli_read(fd, &b, "[late|-|0]", 5000);
	close(fd);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (!answered)
		fail_msg("the request that waited while the server was stopped got: \"%s\"", b.s);
	buf_release(&b);
}

struct stopper {
	struct http_server *srv;
	int rc;
	bool done;
};

static void *stop_thread(void *arg)
{
	struct stopper *s = arg;
	int rc = http_stop(s->srv);
	pthread_mutex_lock(&T.lock);
	s->rc = rc;
	s->done = true;
	pthread_mutex_unlock(&T.lock);
	return NULL;
}

static void test_graceful_stop(void **state)
{
	(void)state;
	struct http_server *srv = server_start(2, 4, 30);
	struct stopper st = { srv, -1, false };
	struct buf a = BUF_INIT, s = BUF_INIT, u = BUF_INIT;
	pthread_t t;
	int fa = cli_connect(), fs = cli_connect(), fu = cli_connect();

	/* In flight at stop: a running handler, a quiet stream, an upgraded connection. */
	cli_send(fa, "GET /block HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	wait_blocked(1);
	cli_send(fs, "GET /quiet HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_true(cli_read(fs, &s, "\r\n\r\n", 5000));
	cli_send(fu, "GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n");
	assert_true(cli_read(fu, &u, "\r\n\r\n", 5000));
	assert_contains(u.s, "HTTP/1.1 101");
	assert_contains(u.s, "Upgrade: test");
	cli_send(fu, "ping");
	assert_true(cli_read(fu, &u, "ping", 5000));
	assert_int_equal(upgrade_state, 1);

	assert_int_equal(pthread_create(&t, NULL, stop_thread, &st), 0);
	/* The stream and the upgraded connection end at once... */
	assert_true(cli_read(fs, &s, NULL, 3000));
	assert_true(cli_read(fu, &u, NULL, 3000));
	for (int i = 0; i < 300 && atomic_load(&upgrade_state) != 2; i++)
		time_sleep_ms(10); /* the handler returns after its socket was shut down */
	assert_int_equal(upgrade_state, 2);
	assert_true(quiet_until_epipe(3000) >= 0);
	/* ... the handler is waited for. */
	time_sleep_ms(200);
	pthread_mutex_lock(&T.lock);
	assert_false(st.done);
	pthread_mutex_unlock(&T.lock);
	assert_true(cli_connect() < 0); /* no longer accepting */
	release_blocked();
	assert_true(cli_read(fa, &a, NULL, 5000));
	assert_contains(a.s, "\"done\":\"block\"");
	pthread_join(t, NULL);
	assert_true(st.done);
	assert_int_equal(st.rc, 0);
	close(fa);
	close(fs);
	close(fu);
	buf_release(&a);
	buf_release(&s);
	buf_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replies_and_queries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_unknown_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_client_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_full_503, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_idle_timeout_while_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stopped_server_answers_waiting_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_graceful_stop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
