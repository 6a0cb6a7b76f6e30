/*
 * client.c - libcurl over corrald's unix socket; see client.h.
 *
 * One easy handle serves every request of a CLI run (so the connection is
 * reused); it is reset before each request.  With client_remote() the
 * requests go to an https:// URL instead, carry the API token, and trust
 * exactly the certificate whose SHA-256 fingerprint was given (checked in
 * OpenSSL's verify callback, before a byte of the request is sent), or
 * else the system's certificate authorities.  Errors are reported here and
 * nowhere else, so every caller's failure is exactly one stderr line.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "auth/auth.h"
#include "cli.h"
#include "errout.h"
#include "output.h"
#include "util/jsonutil.h"
#include "util/common.h"

void reply_release(struct reply *r)
{
	buf_release(&r->body);
	json_decref(r->json);
	r->json = NULL;
	r->status = 0;
}

int client_init(struct client *c, const char *socket_path)
{
	c->errbuf[0] = '\0';
	c->socket_path = xstrdup(socket_path);
	c->curl = curl_easy_init();
	if (!c->curl) {
		errout_print("failed", "cannot initialise libcurl");
		return -1;
	}
	return 0;
}

int client_remote(struct client *c, const char *url, const char *token, const char *fingerprint)
{
	size_t n = strlen(url);
	if (strncmp(url, "https://", 8) != 0 || n < 9) {
		errout_print("usage", "--url takes https://HOST:PORT");
		return -1;
	}
	if (fingerprint && auth_fingerprint_normalise(fingerprint, c->fingerprint, sizeof(c->fingerprint)) < 0) {
		errout_print("usage", "--fingerprint takes the SHA-256 fingerprint of corrald's certificate "
				      "(64 hex digits, colons optional; `corral host info` prints it)");
		return -1;
	}
	c->base_url = xstrndup(url, url[n - 1] == '/' ? n - 1 : n);
	if (token)
		c->auth = xasprintf("Authorization: Bearer %s", token);
	return 0;
}

void client_release(struct client *c)
{
	free(c->base_url);
	c->base_url = NULL;
	free(c->remote_name);
	c->remote_name = NULL;
	if (c->auth) {
		OPENSSL_cleanse(c->auth, strlen(c->auth));
		free(c->auth);
		c->auth = NULL;
	}
	if (c->curl)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
	free(c->socket_path);
	c->socket_path = NULL;
}

char *client_escape(struct client *c, const char *s)
{
	char *e = curl_easy_escape(c->curl, s, (int)strlen(s));
	char *copy;

	if (!e) {
		fputs("corral: out of memory\n", stderr);
		abort();
	}
	copy = xstrdup(e);
	curl_free(e);
	return copy;
}

char *client_path(struct client *c, const char *base, const char *item, const char *suffix)
{
	__do_free char *enc = client_escape(c, item);
	return xasprintf("%s/%s%s", base, enc, suffix ? suffix : "");
}

void client_query_add(struct client *c, struct buf *url, const char *key, const char *value)
{
	if (!value)
		return;
	__do_free char *enc = client_escape(c, value);
	buf_printf(url, "%s%s=%s", url->s && strchr(url->s, '?') ? "&" : "?", key, enc);
}

char *client_path_query(struct client *c, const char *base, const char *key, const char *value)
{
	__do_free char *enc = NULL;

	if (!value)
		return xstrdup(base);
	enc = client_escape(c, value);
	return xasprintf("%s?%s=%s", base, key, enc);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	buf_add(userdata, data, size * nmemb);
	return size * nmemb;
}

static struct curl_slist *header_add(struct curl_slist *list, const char *h)
{
	struct curl_slist *n = curl_slist_append(list, h);
	if (!n) {
		fputs("corral: out of memory\n", stderr);
		abort();
	}
	return n;
}

static void print_connect_error(const struct client *c, int err, const char *detail)
{
	if (c->base_url) {
		errout_print("unreachable", "cannot connect to corrald at %s: %s", c->base_url,
			     err ? strerror(err) : detail);
		return;
	}
	errout_print("unreachable", "cannot connect to corrald at %s: %s (is corrald running?)", c->socket_path,
		     err ? strerror(err) : detail);
}

static void parse_body(struct reply *r)
{
	size_t i = 0;

	while (i < r->body.len && strchr(" \t\r\n", r->body.s[i]))
		i++;
	if (i == r->body.len || (r->body.s[i] != '{' && r->body.s[i] != '['))
		return;
	r->json = json_loadb(r->body.s, r->body.len, 0, NULL);
}

/* Where requests go, for messages. */
static const char *client_where(const struct client *c) { return c->base_url ? c->base_url : c->socket_path; }

static char *client_url(struct client *c, const char *path)
{
	return c->base_url ? xasprintf("%s%s", c->base_url, path) : xasprintf("http://corral%s", path);
}

static struct curl_slist *header_add(struct curl_slist *list, const char *h);

static struct curl_slist *auth_headers(struct client *c)
{
	return c->auth ? header_add(NULL, c->auth) : NULL;
}

/* "AB:CD:..." of the certificate at the current depth of ctx; false if it has none. */
static bool cert_fingerprint(X509_STORE_CTX *ctx, char *out, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);

	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32 || len < 3 * n)
		return false;
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return true;
}

static void print_pin_mismatch(const struct client *c, const char *got)
{
	if (errout_quiet())
		return;
	if (!c->remote_name) {
		errout_print("certificate", "the server's certificate has fingerprint %s, not the pinned %s", got,
			     c->fingerprint);
		return;
	}
	if (errout_json()) {
		errout_print("certificate",
			     "the certificate of remote '%s' (%s) has changed: pinned %s, offered %s; nothing was sent; "
			     "check it with 'corral host info' on the host, then: corral remote trust %s",
			     c->remote_name, c->base_url, c->fingerprint, got, c->remote_name);
		return;
	}
	fflush(stdout);
	fprintf(stderr,
		"corral: WARNING: the certificate of remote '%s' (%s) has changed!\n"
		"corral:   pinned:  %s\n"
		"corral:   offered: %s\n"
		"corral: Someone may be intercepting the connection, or the host has a new certificate.\n"
		"corral: Nothing was sent.  Compare the new fingerprint with 'corral host info' on the host\n"
		"corral: (over a channel you trust), then trust it with: corral remote trust %s\n",
		c->remote_name, c->base_url, c->fingerprint, got, c->remote_name);
}

/* OpenSSL's verdict on the server's chain is replaced by one question: is
 * the server's own certificate the pinned one?  (A self-signed host
 * certificate fails every other check, and needs none once pinned.) */
static int pin_verify(int preverify, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct client *c = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	char got[96];
	(void)preverify;

	if (X509_STORE_CTX_get_error_depth(ctx) != 0)
		return 1; /* only the leaf matters */
	if (!c || !cert_fingerprint(ctx, got, sizeof(got)))
		return 0;
	if (strcmp(got, c->fingerprint) != 0) {
		if (!c->pin_failed)
			print_pin_mismatch(c, got);
		c->pin_failed = true;
		return 0;
	}
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static CURLcode pin_ctx(CURL *h, void *sslctx, void *client)
{
	(void)h;
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, pin_verify);
	SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION);
	/* every SSL made from this context finds the client through its app data */
	SSL_CTX_set_app_data(sslctx, client);
	return CURLE_OK;
}

/* The probe of client_server_fingerprint: note the leaf's fingerprint, accept anything. */
static int probe_verify(int preverify, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	char *out = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	(void)preverify;

	if (out && X509_STORE_CTX_get_error_depth(ctx) == 0 && !cert_fingerprint(ctx, out, 96))
		out[0] = '\0';
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static CURLcode probe_ctx(CURL *h, void *sslctx, void *out)
{
	(void)h;
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, probe_verify);
	SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION);
	SSL_CTX_set_app_data(sslctx, out);
	return CURLE_OK;
}

int client_server_fingerprint(const char *url, char *out, size_t len)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char fp[96] = "";
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (!h || len < sizeof(fp)) {
		errout_print("failed", "cannot initialise libcurl");
		curl_easy_cleanup(h);
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, probe_ctx);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, fp);
	rc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		errout_print("unreachable", "cannot connect to %s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (!fp[0]) {
		errout_print("certificate", "%s showed no certificate", url);
		return -1;
	}
	snprintf(out, len, "%s", fp);
	return 0;
}

void client_set_remote_name(struct client *c, const char *name)
{
	free(c->remote_name);
	c->remote_name = name ? xstrdup(name) : NULL;
}

const char *client_auth_header(const struct client *c) { return c->auth; }

/* Reset the handle for one request to `url` over corrald's socket. */
static CURL *request_setup(struct client *c, const char *url)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	c->pin_failed = false;
	if (!c->base_url) {
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
	} else {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (c->fingerprint[0]) {
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L); /* the pin names the host */
			curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, pin_ctx);
			curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, c);
		}
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "corral/" CORRAL_VERSION);
	return h;
}

/*
 * Perform h; while corrald answers 503 with Retry-After (its request queue
 * was full, or it is restarting: the request was refused before it was
 * routed, so nothing happened and sending it again is safe), wait as told
 * (at most 5 s a time, 60 s in all) and send it again.  Other answers,
 * including a 503 without Retry-After, are the caller's.
 */
static CURLcode perform_retrying(CURL *h, struct reply *r)
{
	curl_off_t waited = 0;

	for (;;) {
		curl_off_t after = 0;
		long status = 0;
		CURLcode rc = curl_easy_perform(h);

		if (rc != CURLE_OK)
			return rc;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 503 || curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) != CURLE_OK || after <= 0)
			return rc;
		after = after > 5 ? 5 : after;
		if (waited + after > 60)
			return rc;
		waited += after;
		buf_reset(&r->body);
		sleep((unsigned)after);
	}
}

int client_request(struct client *c, const char *method, const char *path, const json_t *body,
		   struct reply *r)
{
	return client_request_with(c, method, path, body, NULL, r);
}

int client_request_with(struct client *c, const char *method, const char *path, const json_t *body,
			const char *const *headers, struct reply *r)
{
	__do_free char *url = client_url(c, path);
	__do_free char *data = NULL;
	struct curl_slist *hdrs = auth_headers(c);
	CURL *h = request_setup(c, url);
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r->body);
	hdrs = header_add(hdrs, "Expect:");
	hdrs = header_add(hdrs, "Accept: application/json");
	for (size_t i = 0; headers && headers[i]; i++)
		hdrs = header_add(hdrs, headers[i]);

	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (body) {
			data = json_to_string(body);
			hdrs = header_add(hdrs, "Content-Type: application/json");
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(data));
		} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	rc = perform_retrying(h, r);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	if (rc != CURLE_OK) {
		long oserr = 0;
		const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (c->pin_failed) {
			/* reported by pin_verify */
		} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT) {
			print_connect_error(c, (int)oserr, detail);
		} else {
			errout_print("transport", "%s %s to corrald at %s failed: %s", method, path, client_where(c),
				     detail);
		}
		return -1;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	parse_body(r);
	return 0;
}

struct download {
	CURL *h;
	int fd;
	struct reply *r;
	int werr;
};

static size_t on_download(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct download *d = userdata;
	long status = 0;
	int w;

	curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		buf_add(&d->r->body, data, size * nmemb);
		return size * nmemb;
	}
	if ((w = out_write_all(d->fd, data, size * nmemb, false)) < 0) {
		d->werr = -w;
		return 0; /* aborts the transfer */
	}
	return size * nmemb;
}

int client_download(struct client *c, const char *path, int fd, struct reply *r, int *write_err)
{
	__do_free char *url = client_url(c, path);
	struct download d = { c->curl, fd, r, 0 };
	struct curl_slist *hdrs = auth_headers(c);
	CURL *h = request_setup(c, url);
	CURLcode rc;

	*write_err = 0;
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	hdrs = header_add(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (d.werr) {
		*write_err = d.werr;
		errout_print("failed", "cannot write the data of %s: %s", path, strerror(d.werr));
		return -1;
	}
	if (rc != CURLE_OK) {
		long oserr = 0;
		const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (c->pin_failed)
			; /* reported by pin_verify */
		else if (rc == CURLE_COULDNT_CONNECT)
			print_connect_error(c, (int)oserr, detail);
		else
			errout_print("transport", "GET %s from corrald at %s failed: %s", path, client_where(c), detail);
		return -1;
	}
	parse_body(r);
	return 0;
}

struct sse_reader {
	CURL *h;
	struct reply *r;
	struct buf line, data;
	client_event_cb cb;
	void *opaque;
	bool stopped;
};

/* One complete frame: its data lines parsed as JSON and handed on. */
static void sse_dispatch(struct sse_reader *s)
{
	if (s->data.len) {
		json_t *ev = json_loadb(s->data.s, s->data.len, 0, NULL);
		if (ev && !s->cb(ev, s->opaque))
			s->stopped = true;
		json_decref(ev);
	}
	buf_reset(&s->data);
}

static size_t on_sse(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct sse_reader *s = userdata;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		buf_add(&s->r->body, data, n);
		return n;
	}
	for (size_t i = 0; i < n && !s->stopped; i++) {
		if (data[i] != '\n') {
			if (data[i] != '\r' && s->line.len < (16u << 20))
				buf_addch(&s->line, data[i]);
			continue;
		}
		if (s->line.len == 0)
			sse_dispatch(s);
		else if (strncmp(s->line.s, "data:", 5) == 0)
			buf_adds(&s->data, s->line.s + 5 + (s->line.s[5] == ' '));
		buf_reset(&s->line); /* "id:", "event:", ": comments" carry nothing we need */
	}
	return s->stopped ? 0 : n; /* 0 ends the transfer */
}

int client_events(struct client *c, const char *path, client_event_cb cb, void *opaque, struct reply *r)
{
	__do_free char *url = client_url(c, path);
	struct sse_reader s = { c->curl, r, BUF_INIT, BUF_INIT, cb, opaque, false };
	struct curl_slist *hdrs = auth_headers(c);
	CURL *h = request_setup(c, url);
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_sse);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	hdrs = header_add(hdrs, "Accept: text/event-stream");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(h);
	curl_slist_free_all(hdrs);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	buf_release(&s.line);
	buf_release(&s.data);
	if (s.stopped)
		return 0;
	if (rc != CURLE_OK && rc != CURLE_PARTIAL_FILE) {
		long oserr = 0;
		const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);

		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (c->pin_failed)
			; /* reported by pin_verify */
		else if (rc == CURLE_COULDNT_CONNECT)
			print_connect_error(c, (int)oserr, detail);
		else
			errout_print("transport", "the event stream from corrald at %s failed: %s", client_where(c),
				     detail);
		return -1;
	}
	parse_body(r);
	return 0;
}

const char *client_error_message(const json_t *obj)
{
	json_t *err = json_object_get(obj, "error");
	json_t *msg;

	if (json_is_object(err))
		obj = err;
	msg = json_object_get(obj, "message");
	return json_is_string(msg) ? json_string_value(msg) : NULL;
}

void client_print_error(const struct reply *r, const char *prefix)
{
	const char *msg = r->json ? client_error_message(r->json) : NULL;
	const json_t *err = r->json ? json_object_get(r->json, "error") : NULL;
	const char *code = json_string_value(json_object_get(err, "code"));
	struct buf line = BUF_INIT;

	if (prefix)
		buf_printf(&line, "%s: ", prefix);
	if (msg) {
		buf_adds(&line, msg);
	} else {
		/* No error object: name the status and the start of the body. */
		size_t n = strcspn(r->body.s ? r->body.s : "", "\r\n");
		buf_printf(&line, "corrald answered HTTP %ld", r->status);
		if (n > 0)
			buf_printf(&line, ": %.*s", (int)(n > 200 ? 200 : n), r->body.s);
	}
	errout_print(code ? code : "http", "%s", line.s);
	buf_release(&line);
}

int client_call(struct client *c, const char *method, const char *path, const json_t *body,
		struct reply *r, bool raw)
{
	if (client_request(c, method, path, body, r) < 0)
		return -1;
	if (!reply_ok(r)) {
		client_print_error(r, NULL);
		return -1;
	}
	if (!raw && !json_is_object(r->json)) {
		errout_print("malformed", "malformed answer from corrald to %s %s (HTTP %ld)", method, path,
			     r->status);
		return -1;
	}
	return 0;
}

/* The unix socket, connected.  fd, or -1 printed. */
static int connect_unix(struct client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	__do_close int fd = -EBADF;
	size_t n = strlen(c->socket_path);

	if (n >= sizeof(sa.sun_path)) {
		print_connect_error(c, ENAMETOOLONG, NULL);
		return -1;
	}
	memcpy(sa.sun_path, c->socket_path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		print_connect_error(c, errno, NULL);
		return -1;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		print_connect_error(c, errno, NULL);
		return -1;
	}
	return move_fd(fd);
}

int client_stream_open(struct client *c, struct client_stream *s)
{
	__do_free char *url = NULL;
	curl_socket_t sock = CURL_SOCKET_BAD;
	CURL *h;
	CURLcode rc;

	*s = (struct client_stream)CLIENT_STREAM_INIT;
	if (!c->base_url) {
		s->fd = connect_unix(c);
		return s->fd < 0 ? -1 : 0;
	}
	/* The request handle, set up as for a request (pinning, timeouts), then
	 * connect only: the console speaks its upgrade itself. */
	url = client_url(c, "/");
	h = request_setup(c, url);
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		long oserr = 0;
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (!c->pin_failed)
			print_connect_error(c, rc == CURLE_COULDNT_CONNECT ? (int)oserr : 0,
					    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK || sock == CURL_SOCKET_BAD) {
		errout_print("unreachable", "cannot connect to corrald at %s: no socket", c->base_url);
		return -1;
	}
	s->fd = (int)sock;
	s->tls = h;
	return 0;
}

ssize_t client_stream_send(struct client_stream *s, const void *data, size_t len)
{
	if (!s->tls) {
		ssize_t n = send(s->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return n;
	}
	size_t sent = 0;
	CURLcode rc = curl_easy_send(s->tls, data, len, &sent);
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	if (rc != CURLE_OK)
		return -EPIPE;
	return sent ? (ssize_t)sent : -EAGAIN;
}

ssize_t client_stream_recv(struct client_stream *s, void *data, size_t len)
{
	if (!s->tls) {
		ssize_t n = recv(s->fd, data, len, MSG_DONTWAIT);
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		return n;
	}
	size_t got = 0;
	CURLcode rc = curl_easy_recv(s->tls, data, len, &got);
	if (rc == CURLE_AGAIN)
		return -EAGAIN;
	if (rc != CURLE_OK)
		return -ECONNRESET;
	return (ssize_t)got;
}

void client_stream_close(struct client_stream *s)
{
	/* a TLS stream's socket belongs to the curl handle (the client's, reset by its next use) */
	if (!s->tls && s->fd >= 0)
		close(s->fd);
	*s = (struct client_stream)CLIENT_STREAM_INIT;
}
