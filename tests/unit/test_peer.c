/*
 * test_peer.c - the peer client (service/peer.h) against a real TLS server
 * (api/http.h with two self-made host certificates): the pinned server
 * certificate is accepted and a different one refused before anything is
 * sent, the server sees the client certificate's fingerprint, an error
 * answer carries the remote's message and maps to an errno, a dead port and
 * a listener that never completes the handshake fail within the timeouts.
 * Also the URL parser and host-name rule (trust.h), and QEMU's machine list
 * (qemu/machine.h) from a recorded `-machine help`.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "api/http.h"
#include "auth/auth.h"
#include "qemu/machine.h"
#include "service/internal.h"
#include "service/peer.h"
#include "service/trust.h"
#include "util/fsutil.h"
#include "util/timeutil.h"
#include "util/common.h"


static char dir[64];
static char srv_crt[128], srv_key[128], cli_crt[128], cli_key[128], sock[128];
static char srv_fp[96], cli_fp[96];
static int port;

static void file_fp(const char *path, char *out)
{
	struct buf pem = BUF_INIT, err = BUF_INIT;
	char *fp = NULL;
	assert_int_equal(fs_read_file(path, 1 << 20, &pem), 0);
	assert_int_equal(auth_cert_fingerprint(pem.s, pem.len, &fp, &err), 0);
	snprintf(out, 96, "%s", fp);
	free(fp);
	buf_release(&pem);
	buf_release(&err);
}

/* Echo what the front end learnt of the client; /fail answers an error. */
static void router(const struct http_request *req, struct http_reply *rep)
{
	if (strcmp(req->path, "/fail") == 0) {
		http_reply_error(rep, 409, "conflict", "it is taken");
		return;
	}
	char *pem = http_client_cert_pem(req);
	http_reply_json(rep, 200,
			json_pack("{s:s?,s:b,s:s?}", "client_fp", req->client_fp, "remote", req->remote,
				  "authorization", http_header(req, "Authorization")));
	assert_true(pem == NULL || strstr(pem, "BEGIN CERTIFICATE") != NULL);
	free(pem);
}

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void test_roundtrip(void **state)
{
	struct http_config cfg = HTTP_CONFIG_INIT;
	struct http_server *srv = NULL;
	struct buf err = BUF_INIT, cpem = BUF_INIT, kpem = BUF_INIT;
	char listen[32], url[64];
	struct peer *p = NULL;
	json_t *reply = NULL;
	long status = 0;
	(void)state;

	assert_int_equal(fs_read_file(srv_crt, 1 << 20, &cpem), 0);
	assert_int_equal(fs_read_file(srv_key, 1 << 20, &kpem), 0);
	port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);
	cfg.socket_path = sock;
	cfg.listen = listen;
	cfg.tls_cert_pem = cpem.s;
	cfg.tls_key_pem = kpem.s;
	cfg.workers = 2;
	if (http_start(&cfg, router, &srv, &err) < 0)
		fail_msg("http_start: %s", err.s);

	/* pinned: the server sees our certificate and no Authorization */
	assert_int_equal(peer_open_url("srv", url, srv_fp, &p, &err), 0);
	assert_string_equal(peer_host(p), "127.0.0.1");
	assert_string_equal(peer_name(p), "srv");
	assert_int_equal(peer_call(p, "GET", "/x", NULL, &reply, &status, &err), 0);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(reply, "client_fp")), cli_fp);
	assert_true(json_is_true(json_object_get(reply, "remote")));
	assert_true(json_is_null(json_object_get(reply, "authorization")));
	assert_string_equal(peer_fingerprint(p), srv_fp);
	assert_non_null(strstr(peer_cert_pem(p), "BEGIN CERTIFICATE"));
	json_decref(reply);

	/* a body, and an Authorization header when set */
	json_t *body = json_pack("{s:s}", "a", "b");
	peer_set_authorization(p, "Bearer u!t:secret");
	assert_int_equal(peer_call(p, "POST", "/x", body, &reply, &status, &err), 0);
	assert_string_equal(json_string_value(json_object_get(reply, "authorization")), "Bearer u!t:secret");
	json_decref(reply);
	json_decref(body);
	peer_set_authorization(p, NULL);

	/* an error answer: the remote's message, its status mapped */
	buf_reset(&err);
	assert_int_equal(peer_call(p, "DELETE", "/fail", NULL, &reply, &status, &err), -EEXIST);
	assert_null(reply);
	assert_int_equal(status, 409);
	assert_string_equal(err.s, "srv: it is taken");
	peer_close(p);

	/* a host name: streams go to the address this host reaches it at (not a name the peer resolves) */
	snprintf(url, sizeof(url), "https://localhost:%d", port);
	assert_int_equal(peer_open_url("srv", url, srv_fp, &p, &err), 0);
	assert_string_equal(peer_host(p), "localhost");
	assert_string_equal(peer_address(p), "127.0.0.1"); /* the one listening, whatever resolves first */
	assert_int_equal(peer_call(p, "GET", "/x", NULL, &reply, &status, &err), 0);
	json_decref(reply);
	assert_string_equal(peer_address(p), "127.0.0.1");
	peer_close(p);
	assert_int_equal(peer_open_url("srv", url, srv_fp, &p, &err), 0);
	assert_int_equal(peer_call(p, "GET", "/x", NULL, &reply, &status, &err), 0);
	json_decref(reply);
	assert_string_equal(peer_address(p), "127.0.0.1"); /* the one the call connected to */
	peer_close(p);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", port);

	/* another certificate pinned: refused before the request is sent */
	buf_reset(&err);
	assert_int_equal(peer_open_url("srv", url, cli_fp, &p, &err), 0);
	assert_int_equal(peer_call(p, "GET", "/x", NULL, &reply, &status, &err), -EKEYREJECTED);
	assert_int_equal(status, 0);
	assert_non_null(strstr(err.s, "not the pinned"));
	assert_non_null(strstr(err.s, srv_fp));
	peer_close(p);

	/* no pin (a probe): any certificate, recorded */
	assert_int_equal(peer_open_url("probe", url, NULL, &p, &err), 0);
	assert_int_equal(peer_call(p, "GET", "/x", NULL, &reply, &status, &err), 0);
	assert_string_equal(peer_fingerprint(p), srv_fp);
	assert_true(json_is_null(json_object_get(reply, "client_fp"))); /* a probe presents no certificate */
	json_decref(reply);
	peer_close(p);

	assert_int_equal(http_stop(srv), 0);
	buf_release(&cpem);
	buf_release(&kpem);
	buf_release(&err);
}

static void test_unreachable(void **state)
{
	struct buf err = BUF_INIT;
	struct peer *p = NULL;
	char url[64];
	(void)state;

	/* nothing listens */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", free_port());
	assert_int_equal(peer_open_url("dead", url, srv_fp, &p, &err), 0);
	assert_int_equal(peer_call(p, "GET", "/v1/host", NULL, NULL, NULL, &err), -EHOSTUNREACH);
	assert_non_null(strstr(err.s, "cannot reach dead"));
	assert_int_equal(peer_call(p, "POST", "/v1/host", NULL, NULL, NULL, NULL), -EHOSTUNREACH); /* err may be NULL */
	peer_close(p);

	/* a listener that never accepts (a hung daemon): the connect timeout ends it */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", ntohs(a.sin_port));
	buf_reset(&err);
	assert_int_equal(peer_open_url("hung", url, srv_fp, &p, &err), 0);
	peer_set_timeout(p, 300, 600);
	int64_t t0 = time_mono_ms();
	assert_int_equal(peer_call(p, "GET", "/v1/host", NULL, NULL, NULL, &err), -EHOSTUNREACH);
	assert_true(time_mono_ms() - t0 < 3000);
	peer_close(p);
	close(fd);
	buf_release(&err);
}

static void test_url_parse(void **state)
{
	static const struct {
		const char *url, *host;
		unsigned port;
	} good[] = {
		{ "https://10.0.0.1:8006", "10.0.0.1", 8006 }, { "https://h", "h", 8006 },
		{ "https://host.example.org:1/", "host.example.org", 1 }, { "https://[::1]:9000", "::1", 9000 },
		{ "https://[fe80::1]", "fe80::1", 8006 },
	};
	static const char *const bad[] = {
		"http://h:8006", "https://", "https://h:0", "https://h:65536", "https://h:8006/v1", "https://[zz]:1",
		"https://h:8006?x", "https://u@h", "https://h :1", "https://[::1", "https://h:", "ftp://h", "",
	};
	char host[256];
	unsigned port_;
	struct buf err = BUF_INIT;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		if (peer_url_parse(good[i].url, host, sizeof(host), &port_, &err) < 0)
			fail_msg("%s refused: %s", good[i].url, err.s);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port_, good[i].port);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		if (peer_url_parse(bad[i], host, sizeof(host), &port_, &err) != -EINVAL)
			fail_msg("%s accepted", bad[i]);
		assert_non_null(strstr(err.s, "https://HOST"));
	}
	assert_int_equal(peer_url_parse(NULL, host, sizeof(host), &port_, &err), -EINVAL);
	buf_release(&err);
}

static void test_names(void **state)
{
	struct buf err = BUF_INIT;
	(void)state;
	assert_int_equal(svc_trust_name_check("A", &err), 0);
	assert_int_equal(svc_trust_name_check("node-2.dc_1", &err), 0);
	assert_int_equal(svc_trust_name_check("", &err), -EINVAL);
	assert_int_equal(svc_trust_name_check(NULL, &err), -EINVAL);
	assert_int_equal(svc_trust_name_check("-a", &err), -EINVAL);
	assert_int_equal(svc_trust_name_check("../x", &err), -EINVAL);
	assert_int_equal(svc_trust_name_check("a b", &err), -EINVAL);
	assert_int_equal(svc_trust_name_check("a:b", &err), -EINVAL);
	char long_name[80];
	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	assert_int_equal(svc_trust_name_check(long_name, &err), -EINVAL);
	long_name[64] = '\0';
	assert_int_equal(svc_trust_name_check(long_name, &err), 0);
	buf_release(&err);
}

static void test_machines(void **state)
{
	static const char help[] = "Supported machines are:\n"
				   "microvm              microvm (i386)\n"
				   "pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\n"
				   "pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\n"
				   "pc-i440fx-7.1        Standard PC (i440FX + PIIX, 1996)\n"
				   "q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\n"
				   "pc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n"
				   "pc-q35-7.1           Standard PC (Q35 + ICH9, 2009)\n"
				   "none                 empty machine\n";
	struct qemu_machines m;
	(void)state;

	assert_int_equal(qemu_machines_parse(help, &m), 0);
	assert_int_equal(m.n, 6);
	assert_int_equal(m.naliases, 2);
	assert_string_equal(qemu_machines_resolve(&m, "q35"), "pc-q35-7.2");
	assert_string_equal(qemu_machines_resolve(&m, "pc"), "pc-i440fx-7.2");
	assert_string_equal(qemu_machines_resolve(&m, "pc-q35-7.1"), "pc-q35-7.1");
	assert_null(qemu_machines_resolve(&m, "pc-q35-1.0"));
	assert_null(qemu_machines_resolve(&m, NULL));
	qemu_machines_release(&m);
	assert_int_equal(qemu_machines_parse("Supported machines are:\n", &m), -EINVAL);
	assert_int_equal(qemu_machines_parse("", &m), -EINVAL);
}

static int setup(void **state)
{
	struct buf err = BUF_INIT;
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/corral-test-peer.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(srv_crt, sizeof(srv_crt), "%s/srv.crt", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/srv.key", dir);
	snprintf(cli_crt, sizeof(cli_crt), "%s/cli.crt", dir);
	snprintf(cli_key, sizeof(cli_key), "%s/cli.key", dir);
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	if (auth_cert_ensure(srv_crt, srv_key, "srv", &err) < 0 || auth_cert_ensure(cli_crt, cli_key, "cli", &err) < 0)
		fail_msg("certificates: %s", err.s);
	file_fp(srv_crt, srv_fp);
	file_fp(cli_crt, cli_fp);
	svc_cfg.tls_cert_path = cli_crt;
	svc_cfg.tls_key_path = cli_key;
	buf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(srv_crt);
	unlink(srv_key);
	unlink(cli_crt);
	unlink(cli_key);
	unlink(sock);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse), cmocka_unit_test(test_names), cmocka_unit_test(test_machines),
		cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
