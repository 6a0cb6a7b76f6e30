/*
 * test_qga.c - the guest agent client (src/qemu/qga.c): its parsers of what
 * a guest sends (replies, sync scanning, OS/host/interface information), and
 * the client against a fake agent on a unix socket that answers like qemu-ga
 * 7.2 does (recorded from the test guest), or late, or never.
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

#include "qemu/qga.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/timeutil.h"
#include "util/common.h"

/* ---- parsers ---- */

static void test_reply_parse(void **state)
{
	(void)state;
	__do_buf struct buf err = BUF_INIT;
	json_t *r = NULL;
	const char ok[] = "{\"return\": {\"host-name\": \"g1\"}}";
	assert_int_equal(qga_reply_parse(ok, strlen(ok), &r, &err), 0);
	assert_true(json_is_object(r));
	json_decref(r);

	const char bad[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"fsfreeze \\u0007failed\"}}";
	assert_int_equal(qga_reply_parse(bad, strlen(bad), &r, &err), -EIO);
	assert_null(r);
	/* a description with control characters is not passed on */
	assert_non_null(strstr(err.s, "an error without a description"));

	const char *protos[] = { "", "[1]", "{\"return\": 1", "{}", "{\"error\": 3}", "\"x\"", "{\"a\":1,\"a\":2}" };
	for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
		buf_reset(&err);
		assert_int_equal(qga_reply_parse(protos[i], strlen(protos[i]), &r, &err), -EPROTO);
		assert_null(r);
		assert_true(err.len > 0);
	}
}

static void test_sync_scan(void **state)
{
	(void)state;
	bool delim = false, done = false;
	/* stale replies before the delimiter, a stale sync after it, then ours */
	const char rx[] = "{\"return\": {}}\n{\"return\"\xff{\"return\": 5}\n\xff{\"return\": 7}\n{\"return\": 1}\n";
	size_t len = sizeof(rx) - 1;
	size_t used = qga_sync_scan(rx, len, 7, &delim, &done);
	assert_true(delim);
	assert_true(done);
	/* what follows our reply stays for the next read */
	assert_string_equal(rx + used, "{\"return\": 1}\n");

	/* no delimiter yet: everything is consumed, nothing found */
	delim = false;
	const char pre[] = "{\"return\": 7}\n";
	assert_int_equal(qga_sync_scan(pre, strlen(pre), 7, &delim, &done), strlen(pre));
	assert_false(delim);
	assert_false(done);

	/* delimiter seen, reply incomplete: the partial line is kept */
	delim = false;
	const char part[] = "\xff{\"retu";
	assert_int_equal(qga_sync_scan(part, strlen(part), 7, &delim, &done), 1);
	assert_true(delim);
	assert_false(done);
}

static void test_info_parse(void **state)
{
	(void)state;
	__do_json json_t *os = json_loads("{\"name\": \"Debian GNU/Linux\", \"pretty-name\": \"Debian 12\", "
					  "\"version-id\": \"12\", \"id\": \"debian\", \"kernel-release\": \"6.1.0\", "
					  "\"machine\": \"x86_64\", \"variant\": \"bad\\nline\"}", 0, NULL);
	__do_json json_t *o = qga_osinfo_parse(os);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "pretty_name")), "Debian 12");
	assert_string_equal(json_string_value(json_object_get(o, "version")), "12");
	assert_null(json_object_get(o, "variant"));
	__do_json json_t *empty = json_loads("{\"name\": 3}", 0, NULL);
	assert_null(qga_osinfo_parse(empty));
	assert_null(qga_osinfo_parse(NULL));

	__do_json json_t *hn = json_loads("{\"host-name\": \"web1\"}", 0, NULL);
	__do_free char *h = qga_hostname_parse(hn);
	assert_string_equal(h, "web1");
	__do_json json_t *hbad = json_loads("{\"host-name\": \"a\\u001b[31mb\"}", 0, NULL);
	assert_null(qga_hostname_parse(hbad));

	__do_json json_t *ifs = json_loads(
		"[{\"name\": \"lo\", \"hardware-address\": \"00:00:00:00:00:00\", \"ip-addresses\": ["
		"{\"ip-address-type\": \"ipv4\", \"ip-address\": \"127.0.0.1\", \"prefix\": 8},"
		"{\"ip-address-type\": \"ipv6\", \"ip-address\": \"::1\", \"prefix\": 128}]},"
		"{\"name\": \"eth0\", \"hardware-address\": \"52:54:00:AB:cd:01\", \"ip-addresses\": ["
		"{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.7.0.23\", \"prefix\": 24},"
		"{\"ip-address-type\": \"ipv6\", \"ip-address\": \"fe80::5054:ff:feab:cd01\", \"prefix\": 64},"
		"{\"ip-address-type\": \"ipv6\", \"ip-address\": \"fd00::17\", \"prefix\": 64},"
		"{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.7.0.999\", \"prefix\": 24},"
		"{\"ip-address-type\": \"ipv4\", \"ip-address\": \"10.7.0.24\", \"prefix\": 33},"
		"{\"ip-address-type\": \"ipx\", \"ip-address\": \"1\", \"prefix\": 1}, 17]},"
		"{\"name\": \"\"}, 5, {\"name\": \"eth1\", \"hardware-address\": \"zz\"}]",
		0, NULL);
	json_t *ips = NULL;
	__do_json json_t *out = qga_interfaces_parse(ifs, &ips);
	assert_non_null(out);
	assert_int_equal(json_array_size(out), 3);
	json_t *eth0 = json_array_get(out, 1);
	assert_string_equal(json_string_value(json_object_get(eth0, "mac")), "52:54:00:ab:cd:01");
	assert_int_equal(json_array_size(json_object_get(eth0, "addresses")), 3);
	assert_string_equal(json_string_value(json_array_get(json_object_get(eth0, "addresses"), 0)), "10.7.0.23/24");
	assert_null(json_object_get(json_array_get(out, 2), "mac"));
	assert_int_equal(json_array_size(ips), 2);
	assert_string_equal(json_string_value(json_array_get(ips, 0)), "10.7.0.23");
	assert_string_equal(json_string_value(json_array_get(ips, 1)), "fd00::17");
	json_decref(ips);
	__do_json json_t *notarr = json_loads("{}", 0, NULL);
	assert_null(qga_interfaces_parse(notarr, &ips));
	assert_null(ips);
}

/* ---- the client against a fake agent ---- */

enum fake_mode {
	FAKE_ANSWER,	/* like qemu-ga */
	FAKE_SILENT,	/* reads, never answers (no agent in the guest) */
	FAKE_STALE,	/* first sends a stale reply of an earlier command */
	FAKE_LATE,	/* answers the first command after the client gave up */
};

struct fake {
	char dir[32], path[64];
	int lfd;
	enum fake_mode mode;
	pthread_t thread;
	int commands; /* non-sync commands seen */
};

/* Send s on fd (test helper: blocking). */
static void fake_send(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static void fake_answer(struct fake *f, int fd, const char *line)
{
	json_t *j = json_loads(line, 0, NULL);
	const char *cmd = json_string_value(json_object_get(j, "execute"));
	if (!cmd) {
		json_decref(j);
		return;
	}
	if (strcmp(cmd, "guest-sync-delimited") == 0) {
		json_int_t id = json_integer_value(json_object_get(json_object_get(j, "arguments"), "id"));
		char out[64];
		snprintf(out, sizeof(out), "\xff{\"return\": %lld}\n", (long long)id);
		if (f->mode != FAKE_SILENT)
			fake_send(fd, out);
	} else {
		f->commands++;
		if (f->mode == FAKE_LATE && f->commands == 1)
			time_sleep_ms(400);
		if (strcmp(cmd, "guest-get-host-name") == 0)
			fake_send(fd, "{\"return\": {\"host-name\": \"fake-guest\"}}\n");
		else if (strcmp(cmd, "guest-fsfreeze-freeze") == 0)
			fake_send(fd, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"freeze refused\"}}\n");
		else if (strcmp(cmd, "guest-shutdown") != 0)
			fake_send(fd, "{\"return\": {}}\n");
	}
	json_decref(j);
}

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	int fd;
	while ((fd = accept(f->lfd, NULL, NULL)) >= 0) {
		char buf[4096];
		size_t have = 0;
		ssize_t n;
		if (f->mode == FAKE_STALE)
			fake_send(fd, "{\"return\": {\"host-name\": \"stale\"}}\n");
		while ((n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0)) > 0) {
			have += (size_t)n;
			buf[have] = '\0';
			char *nl;
			while ((nl = memchr(buf, '\n', have))) {
				*nl = '\0';
				char *start = buf;
				char *d = strrchr(buf, '\xff');
				if (d)
					start = d + 1;
				fake_answer(f, fd, start);
				size_t used = (size_t)(nl - buf) + 1;
				memmove(buf, buf + used, have - used);
				have -= used;
				buf[have] = '\0';
			}
		}
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
	memset(f, 0, sizeof(*f));
	f->mode = mode;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_qga.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/agent.sock", f->dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_run, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
}

static void test_client_answers(void **state)
{
	(void)state;
	struct fake f;
	__do_buf struct buf err = BUF_INIT;
	json_t *r = NULL;
	fake_start(&f, FAKE_STALE);
	struct qga *g = qga_new(f.path);
	/* the stale reply sent before our sync is skipped */
	assert_int_equal(qga_execute(g, "guest-get-host-name", NULL, &r, 2000, &err), 0);
	__do_free char *h = qga_hostname_parse(r);
	assert_string_equal(h, "fake-guest");
	json_decref(r);
	assert_true(qga_is_synced(g));
	/* an error reply keeps the stream in step */
	assert_int_equal(qga_execute(g, "guest-fsfreeze-freeze", NULL, &r, 2000, &err), -EIO);
	assert_non_null(strstr(err.s, "freeze refused"));
	assert_true(qga_is_synced(g));
	assert_int_equal(qga_execute_noreply(g, "guest-shutdown", NULL, 2000, &err), 0);
	assert_int_equal(qga_execute(g, "guest-ping", NULL, &r, 2000, &err), 0);
	json_decref(r);
	qga_free(g);
	fake_stop(&f);
}

static void test_client_silent(void **state)
{
	(void)state;
	struct fake f;
	__do_buf struct buf err = BUF_INIT;
	json_t *r = NULL;
	fake_start(&f, FAKE_SILENT);
	struct qga *g = qga_new(f.path);
	int64_t t0 = time_mono_ms();
	assert_int_equal(qga_execute(g, "guest-ping", NULL, &r, 300, &err), -ETIMEDOUT);
	int64_t took = time_mono_ms() - t0;
	assert_true(took >= 250 && took < 1000);
	assert_null(r);
	assert_false(qga_is_synced(g));
	qga_free(g);
	fake_stop(&f);

	/* no socket at all: at once */
	buf_reset(&err);
	g = qga_new("/nonexistent/agent.sock");
	t0 = time_mono_ms();
	assert_true(qga_execute(g, "guest-ping", NULL, &r, 300, &err) < 0);
	assert_true(time_mono_ms() - t0 < 100);
	assert_true(err.len > 0);
	qga_free(g);
}

static void test_client_late(void **state)
{
	(void)state;
	struct fake f;
	__do_buf struct buf err = BUF_INIT;
	json_t *r = NULL;
	fake_start(&f, FAKE_LATE);
	struct qga *g = qga_new(f.path);
	/* the first command times out; its reply arrives later */
	assert_int_equal(qga_execute(g, "guest-get-osinfo", NULL, &r, 200, &err), -ETIMEDOUT);
	/* the next call resyncs past that late reply and gets its own */
	buf_reset(&err);
	assert_int_equal(qga_execute(g, "guest-get-host-name", NULL, &r, 2000, &err), 0);
	__do_free char *h = qga_hostname_parse(r);
	assert_non_null(h);
	assert_string_equal(h, "fake-guest");
	json_decref(r);
	qga_free(g);
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_parse),  cmocka_unit_test(test_sync_scan),
		cmocka_unit_test(test_info_parse),   cmocka_unit_test(test_client_answers),
		cmocka_unit_test(test_client_silent), cmocka_unit_test(test_client_late),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
