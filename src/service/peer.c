/*
 * peer.c - see peer.h: calling a trusted host's API with mutual TLS.
 *
 * One libcurl easy handle per peer (connections kept alive between calls).
 * TLS goes through curl's OpenSSL: our host certificate and key as the
 * client certificate, and the server's certificate checked by one question
 * in OpenSSL's verify callback: is the leaf the pinned one?  The same
 * callback records the leaf's fingerprint and PEM, which is how `host trust
 * add` learns what to show and pin.  Session resumption is off, so every
 * handshake goes through that callback.
 */
#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "peer.h"
#include "internal.h"
#include "auth/auth.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define PEER_DEFAULT_PORT 8006
#define PEER_CONNECT_MS 5000L
#define PEER_TOTAL_MS 30000L
#define PEER_MAX_REPLY (16u << 20)

struct peer {
	char *name;
	char *url;                 /* "https://HOST:PORT" */
	char host[256];
	unsigned port;
	char ip[256];              /* peer_address: "" until asked, then fixed */
	bool connected;            /* a call has reached the peer */
	char pin[96];              /* "" : accept any (probe) */
	char *authorization;       /* header value, or NULL */
	struct curl_slist *extra;  /* peer_add_header's "Name: value" lines */
	char seen_fp[96];          /* the last handshake's leaf */
	char *seen_pem;
	bool pin_failed;
	long connect_ms, total_ms;
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- URLs ---- */

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

int peer_url_parse(const char *url, char *host, size_t hostlen, unsigned *port, struct buf *err)
{
	const char *p, *end;
	size_t n;

	if (!url || strncmp(url, "https://", 8) != 0)
		goto bad;
	p = url + 8;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || end == p + 1)
			goto bad;
		for (const char *q = p + 1; q < end; q++)
			if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') || (*q >= 'A' && *q <= 'F') ||
			      *q == ':' || *q == '.'))
				goto bad;
		n = (size_t)(end - p - 1);
		p++;
		end++;
	} else {
		end = p;
		while (host_char(*end))
			end++;
		n = (size_t)(end - p);
		if (!n)
			goto bad;
	}
	if (n + 1 > hostlen || n > 253)
		goto bad;
	memcpy(host, p, n);
	host[n] = '\0';
	*port = PEER_DEFAULT_PORT;
	if (*end == ':') {
		int64_t v;
		char num[8];
		size_t k = strspn(end + 1, "0123456789");
		if (k == 0 || k > 5)
			goto bad;
		memcpy(num, end + 1, k);
		num[k] = '\0';
		if (str_parse_int(num, 1, 65535, &v) < 0)
			goto bad;
		*port = (unsigned)v;
		end += 1 + k;
	}
	if (*end == '/')
		end++;
	if (*end)
		goto bad;
	return 0;
bad:
	buf_printf(err, "'%.200s' is not a host's API address: give https://HOST[:PORT] (port 8006 if left out)",
		   url ? url : "");
	return -EINVAL;
}

/* ---- TLS: the pin ---- */

static int pin_verify(int preverify, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct peer *p = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	(void)preverify;

	if (X509_STORE_CTX_get_error_depth(ctx) != 0)
		return 1; /* only the leaf matters */
	X509 *x = X509_STORE_CTX_get_current_cert(ctx);
	if (!p || !x || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return 0;
	for (unsigned i = 0; i < n; i++)
		snprintf(p->seen_fp + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	BIO *b = BIO_new(BIO_s_mem());
	if (b && PEM_write_bio_X509(b, x) == 1) {
		char *t;
		long len = BIO_get_mem_data(b, &t);
		free(p->seen_pem);
		p->seen_pem = len > 0 ? xstrndup(t, (size_t)len) : NULL;
	}
	BIO_free(b);
	if (p->pin[0] && strcmp(p->seen_fp, p->pin) != 0) {
		p->pin_failed = true;
		return 0;
	}
	X509_STORE_CTX_set_error(ctx, X509_V_OK);
	return 1;
}

static CURLcode pin_ctx(CURL *h, void *sslctx, void *opaque)
{
	(void)h;
	SSL_CTX_set_verify(sslctx, SSL_VERIFY_PEER, pin_verify);
	SSL_CTX_set_min_proto_version(sslctx, TLS1_2_VERSION);
	SSL_CTX_set_app_data(sslctx, opaque);
	return CURLE_OK;
}

/* ---- open and close ---- */

int peer_open_url(const char *name, const char *url, const char *fingerprint, struct peer **out, struct buf *err)
{
	char host[256];
	unsigned port;
	int r;

	*out = NULL;
	if ((r = peer_url_parse(url, host, sizeof(host), &port, err)) < 0)
		return r;
	if (!svc_cfg.tls_cert_path || !svc_cfg.tls_key_path) {
		buf_printf(err, "this host has no TLS listener (listen in corrald.conf), so no host certificate to "
				"present to %s", name);
		return -ENOTSUP;
	}
	pthread_once(&curl_once, curl_init_once);
	struct peer *p = xcalloc(1, sizeof(*p));
	if (fingerprint && auth_fingerprint_normalise(fingerprint, p->pin, sizeof(p->pin)) < 0) {
		buf_printf(err, "'%.100s' is not a SHA-256 fingerprint (32 bytes in hex)", fingerprint);
		free(p);
		return -EINVAL;
	}
	p->name = xstrdup(name);
	snprintf(p->host, sizeof(p->host), "%s", host);
	p->port = port;
	p->url = strchr(host, ':') ? xasprintf("https://[%s]:%u", host, port) : xasprintf("https://%s:%u", host, port);
	p->connect_ms = PEER_CONNECT_MS;
	p->total_ms = PEER_TOTAL_MS;
	if (!(p->curl = curl_easy_init())) {
		peer_close(p);
		buf_printf(err, "cannot make an HTTP client for %s", name);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

int peer_open(const char *host_name, struct peer **out, struct buf *err)
{
	struct trusted_host h = { 0 };
	int r;

	*out = NULL;
	if ((r = store_trust_get(svc_cfg.store, host_name ? host_name : "", &h)) < 0) {
		if (r == -ENOENT)
			buf_printf(err, "no trusted host '%.64s' (corral host trust list)", host_name ? host_name : "");
		else
			buf_printf(err, "cannot read the trusted hosts");
		return r;
	}
	r = peer_open_url(h.name, h.url, h.fingerprint, out, err);
	trusted_host_release(&h);
	return r;
}

void peer_close(struct peer *p)
{
	if (!p)
		return;
	if (p->curl)
		curl_easy_cleanup(p->curl);
	if (p->authorization) {
		OPENSSL_cleanse(p->authorization, strlen(p->authorization));
		free(p->authorization);
	}
	curl_slist_free_all(p->extra);
	free(p->seen_pem);
	free(p->name);
	free(p->url);
	free(p);
}

void peer_set_timeout(struct peer *p, long connect_ms, long total_ms)
{
	p->connect_ms = connect_ms;
	p->total_ms = total_ms;
}

void peer_set_authorization(struct peer *p, const char *value)
{
	if (p->authorization) {
		OPENSSL_cleanse(p->authorization, strlen(p->authorization));
		free(p->authorization);
	}
	p->authorization = value ? xasprintf("Authorization: %s", value) : NULL;
}

void peer_add_header(struct peer *p, const char *name, const char *value)
{
	__do_free char *line = xasprintf("%s: %s", name, value);
	p->extra = curl_slist_append(p->extra, line);
}

const char *peer_host(const struct peer *p) { return p->host; }

/* Can this host open a TCP connection to a within PEER_CONNECT_MS? */
static bool reachable(const struct addrinfo *a)
{
	__do_close int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (fd < 0)
		return false;
	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return true;
	if (errno != EINPROGRESS || poll(&pfd, 1, (int)PEER_CONNECT_MS) != 1)
		return false;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0;
}

const char *peer_address(struct peer *p)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char *primary = NULL, service[16];

	if (p->ip[0])
		return p->ip;
	snprintf(service, sizeof(service), "%u", p->port);
	if (p->connected && curl_easy_getinfo(p->curl, CURLINFO_PRIMARY_IP, &primary) == CURLE_OK && primary &&
	    *primary) {
		snprintf(p->ip, sizeof(p->ip), "%s", primary);
	} else if (getaddrinfo(p->host, service, &hints, &ai) == 0) {
		/* the first address its API port answers on, in the resolver's order (as curl tries them) */
		for (const struct addrinfo *a = ai; a && !p->ip[0]; a = a->ai_next)
			if (reachable(a) &&
			    getnameinfo(a->ai_addr, a->ai_addrlen, p->ip, sizeof(p->ip), NULL, 0, NI_NUMERICHOST) != 0)
				p->ip[0] = '\0';
		freeaddrinfo(ai);
	}
	if (!p->ip[0])
		snprintf(p->ip, sizeof(p->ip), "%s", p->host); /* unreachable now: the call that follows says so */
	return p->ip;
}
const char *peer_name(const struct peer *p) { return p->name; }
const char *peer_url(const struct peer *p) { return p->url; }
const char *peer_fingerprint(const struct peer *p) { return p->seen_fp[0] ? p->seen_fp : NULL; }
const char *peer_cert_pem(const struct peer *p) { return p->seen_pem; }

/* ---- calls ---- */

struct reply_buf {
	CURL *h;
	peer_sink_fn sink; /* a 2xx body goes here (peer_call_sink), else into b */
	void *sink_opaque;
	bool sink_failed;
	struct buf b;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
	struct reply_buf *rb = opaque;
	long status = 0;

	if (rb->sink) {
		curl_easy_getinfo(rb->h, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300) {
			if (rb->sink(data, size * n, rb->sink_opaque) < 0) {
				rb->sink_failed = true;
				return 0;
			}
			return size * n;
		}
	}
	if (rb->b.len + size * n > PEER_MAX_REPLY) {
		rb->too_big = true;
		return 0;
	}
	buf_add(&rb->b, data, size * n);
	return size * n;
}

static int status_errno(long status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 401:
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EEXIST;
	case 412: return -ESTALE;
	case 422:
	case 501: return -ENOTSUP;
	case 429:
	case 503: return -EAGAIN;
	case 502: return -EREMOTEIO;
	case 507: return -ENOSPC;
	default: return -EIO;
	}
}

static int transport_errno(struct peer *p, CURLcode rc, struct buf *err)
{
	const char *detail = p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc);

	if (p->pin_failed) {
		buf_printf(err, "%s (%s) presented a certificate with fingerprint %s, not the pinned %s: refused",
			   p->name, p->url, p->seen_fp, p->pin);
		return -EKEYREJECTED;
	}
	buf_printf(err, "cannot reach %s at %s: %s", p->name, p->url, detail);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	default: return -EREMOTEIO;
	}
}

/* Remember the headers a raw call hands back (peer_call_raw). */
static size_t on_header(char *data, size_t size, size_t n, void *opaque)
{
	struct peer_raw_reply *out = opaque;
	size_t len = size * n;
	static const struct {
		const char *name;
		size_t off, cap;
	} keep[] = {
		{ "content-type:", offsetof(struct peer_raw_reply, content_type), sizeof(((struct peer_raw_reply *)0)->content_type) },
		{ "retry-after:", offsetof(struct peer_raw_reply, retry_after), sizeof(((struct peer_raw_reply *)0)->retry_after) },
		{ "etag:", offsetof(struct peer_raw_reply, etag), sizeof(((struct peer_raw_reply *)0)->etag) },
	};

	for (size_t i = 0; out && i < ARRAY_SIZE(keep); i++) {
		size_t k = strlen(keep[i].name);
		if (len <= k || strncasecmp(data, keep[i].name, k) != 0)
			continue;
		const char *v = data + k, *end = data + len;
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		char *dst = (char *)out + keep[i].off;
		size_t m = (size_t)(end - v) < keep[i].cap ? (size_t)(end - v) : keep[i].cap - 1;
		for (size_t j = 0; j < m; j++) /* a header value is printable text: nothing else is passed on */
			dst[j] = (v[j] >= 0x20 && v[j] < 0x7f) ? v[j] : '?';
		dst[m] = '\0';
	}
	return len;
}

/*
 * One HTTP exchange: METHOD PATH with `data` (len bytes, content_type; NULL:
 * no body) and the peer's headers.  0 and *status once an answer came (any
 * status; its body in rb, its headers into hdr_out when non-NULL), else the
 * transport's -errno with err.
 */
static int perform(struct peer *p, const char *method, const char *path, const char *data, size_t len,
		   const char *content_type, struct reply_buf *rb, struct peer_raw_reply *hdr_out, long *status,
		   struct buf *err)
{
	__do_free char *url = xasprintf("%s%s", p->url, path);
	__do_free char *ctype = content_type ? xasprintf("Content-Type: %s", content_type) : NULL;
	struct curl_slist *hdrs = NULL;
	CURL *h = p->curl;
	int64_t t0 = time_mono_ms();
	CURLcode rc;

	*status = 0;
	curl_easy_reset(h);
	p->errbuf[0] = '\0';
	p->pin_failed = false;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->total_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->errbuf);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "corrald/" CORRAL_VERSION);
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L); /* the pin names the host */
	curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, pin_ctx);
	curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, p);
	if (p->pin[0]) { /* a probe presents nothing: the other host would count an unknown certificate */
		curl_easy_setopt(h, CURLOPT_SSLCERT, svc_cfg.tls_cert_path);
		curl_easy_setopt(h, CURLOPT_SSLKEY, svc_cfg.tls_key_path);
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rb);
	if (hdr_out) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, hdr_out);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (p->authorization)
		hdrs = curl_slist_append(hdrs, p->authorization);
	for (const struct curl_slist *e = p->extra; e; e = e->next)
		hdrs = curl_slist_append(hdrs, e->data);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L); /* never sent twice: see peer.h */
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		if (data && ctype)
			hdrs = curl_slist_append(hdrs, ctype);
		if (data || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, data ? data : "");
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(data ? len : 0));
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	rc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		log_debug("peer %s: %s %s failed after %lld ms: %s", p->name, method, path,
			  (long long)(time_mono_ms() - t0), p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
		if (rb->sink_failed) {
			buf_printf(err, "the answer of %s to %s %s could not be taken in", p->name, method, path);
			return -EIO;
		}
		if (rb->too_big) {
			buf_printf(err, "%s answered %s %s with more than %u MiB", p->name, method, path, PEER_MAX_REPLY >> 20);
			return -EREMOTEIO;
		}
		return transport_errno(p, rc, err);
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	p->connected = true;
	log_debug("peer %s: %s %s -> %ld (%lld ms)", p->name, method, path, *status, (long long)(time_mono_ms() - t0));
	return 0;
}

static int call(struct peer *p, const char *method, const char *path, json_t *body, peer_sink_fn sink,
		void *sink_opaque, json_t **reply, long *http_status, struct buf *err)
{
	__do_free char *data = NULL;
	struct reply_buf rb = { .h = p->curl, .sink = sink, .sink_opaque = sink_opaque, .b = BUF_INIT };
	__do_buf struct buf scratch = BUF_INIT;
	long status = 0;
	int r = 0;

	if (!err)
		err = &scratch;
	if (reply)
		*reply = NULL;
	if (http_status)
		*http_status = 0;
	if (body && strcmp(method, "GET") != 0)
		data = json_dumps(body, JSON_COMPACT);
	r = perform(p, method, path, data, data ? strlen(data) : 0, "application/json", &rb, NULL, &status, err);
	if (data)
		OPENSSL_cleanse(data, strlen(data)); /* a body may carry a secret */
	if (r < 0)
		goto out;
	if (http_status)
		*http_status = status;
	json_t *j = rb.b.len ? json_loadb(rb.b.s, rb.b.len, 0, NULL) : NULL;
	if (status >= 200 && status < 300 && sink) {
		/* the body went to the sink */
	} else if (status >= 200 && status < 300) {
		if (rb.b.len && !j) {
			buf_printf(err, "%s answered %s %s with something that is not JSON", p->name, method, path);
			r = -EREMOTEIO;
		} else if (reply) {
			*reply = j;
			j = NULL;
		}
	} else {
		const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
		if (msg)
			buf_printf(err, "%s: %s", p->name, msg);
		else
			buf_printf(err, "%s answered %s %s with HTTP %ld", p->name, method, path, status);
		r = status_errno(status);
	}
	json_decref(j);
out:
	buf_release(&rb.b);
	return r;
}

int peer_call_raw(struct peer *p, const char *method, const char *path, const char *body, size_t len,
		  const char *content_type, struct peer_raw_reply *out, struct buf *err)
{
	struct reply_buf rb = { .h = p->curl, .b = BUF_INIT };
	int r;

	memset(out, 0, sizeof(*out));
	out->body = (struct buf)BUF_INIT;
	r = perform(p, method, path, body, len, content_type, &rb, out, &out->status, err);
	if (r < 0) {
		buf_release(&rb.b);
		return r;
	}
	out->body = rb.b;
	return 0;
}

void peer_raw_reply_release(struct peer_raw_reply *r)
{
	if (r)
		buf_release(&r->body);
}

int peer_call(struct peer *p, const char *method, const char *path, json_t *body, json_t **reply,
	      long *http_status, struct buf *err)
{
	return call(p, method, path, body, NULL, NULL, reply, http_status, err);
}

int peer_call_sink(struct peer *p, const char *method, const char *path, json_t *body, peer_sink_fn sink,
		   void *opaque, long *http_status, struct buf *err)
{
	return call(p, method, path, body, sink, opaque, NULL, http_status, err);
}
