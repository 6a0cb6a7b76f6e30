/*
 * trust.c - see trust.h: the trusted-host handshake, both of its sides,
 * listing, removal and the call-back check.
 *
 * Each side writes only its own row (store_trust_add on its own store),
 * so a failure between the two leaves at worst one host trusting the
 * other; svc_trust_add undoes B's row when it cannot write A's, and
 * `host trust remove` on either side tells the other.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "service/trust.h"
#include "service/peer.h"
#include "service/internal.h"
#include "auth/auth.h"
#include "util/log.h"
#include "util/strutil.h"
#include "util/timeutil.h"
#include "util/common.h"

#define TRUST_NAME_MAX 64

/* A host event of kind "trust" (corral events --kind trust). */
static void trust_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trust_event(const char *fmt, ...)
{
	struct buf d = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vprintf(&d, fmt, ap);
	va_end(ap);
	store_event_add(svc_cfg.store, NULL, "trust", d.s);
	buf_release(&d);
}

int svc_trust_name_check(const char *name, struct buf *err)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n >= 1 && n <= TRUST_NAME_MAX;

	for (size_t i = 0; ok && i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		ok = alnum || (i > 0 && (c == '.' || c == '_' || c == '-'));
	}
	if (!ok) {
		buf_printf(err, "a host name is 1-64 of letters, digits, '.', '_' and '-', starting with a letter or digit");
		buf_printf(err, "%s", name ? " (got '" : "");
		if (name)
			buf_add_printable(err, name, n > 64 ? 64 : n);
		buf_printf(err, "%s", name ? "')" : "");
		return -EINVAL;
	}
	return 0;
}

json_t *svc_trust_list(void)
{
	struct trusted_host *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();
	char stamp[40];

	if (store_trust_list(svc_cfg.store, &list, &n) == 0)
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "name", list[i].name, "url", list[i].url,
							     "fingerprint", list[i].fingerprint, "added",
							     time_fmt_rfc3339(list[i].added_ms, stamp, sizeof(stamp))));
	store_trust_list_free(list, n);
	return json_pack("{s:o}", "hosts", arr);
}

/* Refuse early what would fail later: no listener (no certificate to present). */
static int need_listener(struct buf *err)
{
	if (!svc_cfg.listen || !svc_cfg.tls_cert_path || !svc_cfg.tls_fingerprint) {
		buf_printf(err, "host trust needs this host's TLS listener: set listen in corrald.conf "
				"(docs/remote.md)");
		return -ENOTSUP;
	}
	return 0;
}

int svc_trust_probe(const char *url, json_t **out, struct buf *err)
{
	struct peer *p = NULL;
	int r;

	if ((r = need_listener(err)) < 0 || (r = peer_open_url(url ? url : "", url ? url : "", NULL, &p, err)) < 0)
		return r;
	peer_set_timeout(p, 5000, 10000);
	/* Nothing that matters is sent: no Authorization; any answer (401) will do. */
	struct buf ignored = BUF_INIT;
	r = peer_call(p, "GET", "/v1/host", NULL, NULL, NULL, &ignored);
	if (!peer_fingerprint(p)) {
		buf_printf(err, "%s", ignored.s);
		r = r < 0 ? r : -EREMOTEIO;
	} else {
		*out = json_pack("{s:s,s:s}", "url", peer_url(p), "fingerprint", peer_fingerprint(p));
		r = 0;
	}
	buf_release(&ignored);
	peer_close(p);
	return r;
}

/* This host's listen port ("ADDR:PORT" or "[V6]:PORT"). */
static long listen_port(void)
{
	const char *c = svc_cfg.listen ? strrchr(svc_cfg.listen, ':') : NULL;
	int64_t v = 0;
	return c && str_parse_int(c + 1, 1, 65535, &v) == 0 ? (long)v : 0;
}

/* Name and fingerprint are free here; -EEXIST + sentence if not. */
static int trust_free(const char *name, const char *fp, struct buf *err)
{
	struct trusted_host h = { 0 };
	if (name && store_trust_get(svc_cfg.store, name, &h) == 0) {
		buf_printf(err, "a host named '%s' is already trusted (at %s)", name, h.url);
		trusted_host_release(&h);
		return -EEXIST;
	}
	if (fp && store_trust_find(svc_cfg.store, fp, &h) == 0) {
		buf_printf(err, "that certificate is already trusted, as host '%s'", h.name);
		trusted_host_release(&h);
		return -EEXIST;
	}
	if (name && svc_cfg.host_name && strcmp(name, svc_cfg.host_name) == 0) {
		buf_printf(err, "'%s' is this host's own name (give each host its own host_name in corrald.conf)", name);
		return -EEXIST;
	}
	if (fp && svc_cfg.tls_fingerprint && strcmp(fp, svc_cfg.tls_fingerprint) == 0) {
		buf_printf(err, "that is this host's own certificate");
		return -EEXIST;
	}
	return 0;
}

int svc_trust_add(const char *url, const char *name, const char *fingerprint, const char *token,
		  const char *self_url, json_t **out, struct buf *err)
{
	char fp[96];
	struct peer *p = NULL;
	json_t *reply = NULL;
	int r;

	char uhost[256];
	unsigned uport;
	if ((r = need_listener(err)) < 0 || (r = peer_url_parse(url, uhost, sizeof(uhost), &uport, err)) < 0)
		return r;
	if (!fingerprint || auth_fingerprint_normalise(fingerprint, fp, sizeof(fp)) < 0) {
		buf_printf(err, "give the other host's certificate fingerprint (SHA-256, as `corral host info` "
				"shows it there) to accept it");
		return -EINVAL;
	}
	if (!token || !*token || strlen(token) > 300 || str_has_control(token) || !strchr(token, '!')) {
		buf_printf(err, "give an API token of the other host (USER!ID:SECRET) that may change it (Sys.Modify "
				"on /host): its administrator's consent");
		return -EINVAL;
	}
	if ((name && (r = svc_trust_name_check(name, err)) < 0) || (r = trust_free(name, fp, err)) < 0)
		return r;
	if (self_url) {
		char h[256];
		unsigned port;
		if ((r = peer_url_parse(self_url, h, sizeof(h), &port, err)) < 0)
			return r;
	}
	if ((r = peer_open_url(name ? name : url, url, fp, &p, err)) < 0)
		return r;
	{
		__do_free char *authz = xasprintf("Bearer %s", token);
		peer_set_authorization(p, authz);
		OPENSSL_cleanse(authz, strlen(authz));
	}
	json_t *body = json_pack("{s:s,s:I}", "name", svc_cfg.host_name, "port", (json_int_t)listen_port());
	if (self_url)
		json_object_set_new(body, "url", json_string(self_url));
	r = peer_call(p, "POST", "/v1/host/trust/join", body, &reply, NULL, err);
	json_decref(body);
	peer_set_authorization(p, NULL); /* the token was for the join only */
	if (r < 0)
		goto out;
	const char *bname = json_string_value(json_object_get(reply, "name"));
	if (!name && (!bname || svc_trust_name_check(bname, err) < 0)) {
		buf_printf(err, "; %s did not say a usable name: give one with --name", url);
		r = -EREMOTEIO;
		goto undo;
	}
	struct trusted_host h = { .name = (char *)(name ? name : bname), .url = (char *)peer_url(p),
				  .fingerprint = fp, .cert = (char *)peer_cert_pem(p) };
	if (!h.cert || (r = trust_free(h.name, fp, err)) < 0 || (r = store_trust_add(svc_cfg.store, &h)) < 0) {
		if (r == 0 || r == -ENOENT)
			r = -EIO;
		if (!err->len)
			buf_printf(err, "cannot store the trusted host %s", h.name);
		goto undo;
	}
	log_info("trusting host %s at %s (certificate %s)", h.name, h.url, fp);
	trust_event("trusting host %s at %s (certificate %s)", h.name, h.url, fp);
	/* Both ways: B calls this host back with its certificate. */
	struct buf perr = BUF_INIT;
	json_t *pong = NULL;
	int pr = peer_call(p, "POST", "/v1/host/trust/ping", NULL, &pong, NULL, &perr);
	*out = json_pack("{s:s,s:s,s:s,s:s?,s:b}", "name", h.name, "url", h.url, "fingerprint", fp, "peer_name", bname,
			 "verified", pr == 0);
	if (pr < 0) {
		json_object_set_new(*out, "verify_error", json_string(perr.s));
		log_warn("trusted host %s could not call this host back: %s", h.name, perr.s);
	}
	json_decref(pong);
	buf_release(&perr);
	goto out;
undo:
	{
		/* B trusts this host already: it accepts our certificate alone. */
		struct buf uerr = BUF_INIT;
		if (peer_call(p, "POST", "/v1/host/trust/leave", NULL, NULL, NULL, &uerr) < 0)
			log_warn("%s still trusts this host: %s", url, uerr.s);
		buf_release(&uerr);
	}
out:
	json_decref(reply);
	peer_close(p);
	return r;
}

int svc_trust_join(const char *client_fp, const char *client_pem, const char *peer_addr, const json_t *body,
		   json_t **out, struct buf *err)
{
	static const char *const keys[] = { "name", "url", "port", NULL };
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *url = json_string_value(json_object_get(body, "url"));
	json_t *port = json_object_get(body, "port");
	__do_free char *made = NULL;
	const char *k;
	json_t *v;
	int r;

	if ((r = need_listener(err)) < 0)
		return r;
	json_object_foreach((json_t *)body, k, v) {
		bool known = false;
		for (size_t i = 0; keys[i]; i++)
			known |= strcmp(k, keys[i]) == 0;
		if (!known) {
			buf_printf(err, "unknown field '%.64s' in a trust join", k);
			return -EINVAL;
		}
	}
	if (!client_fp || !client_pem) {
		buf_printf(err, "the caller presented no client certificate: host trust needs mutual TLS (corral host "
				"trust add, from the other host's corrald)");
		return -EINVAL;
	}
	if ((r = svc_trust_name_check(name, err)) < 0)
		return r;
	if (url) {
		char h[256];
		unsigned p;
		if ((r = peer_url_parse(url, h, sizeof(h), &p, err)) < 0)
			return r;
	} else {
		if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535) {
			buf_printf(err, "a trust join names the caller's url, or its API port (1-65535)");
			return -EINVAL;
		}
		made = strchr(peer_addr, ':') ? xasprintf("https://[%s]:%lld", peer_addr, (long long)json_integer_value(port))
					      : xasprintf("https://%s:%lld", peer_addr, (long long)json_integer_value(port));
		url = made;
	}
	if ((r = trust_free(name, client_fp, err)) < 0)
		return r;
	struct trusted_host h = { .name = (char *)name, .url = (char *)url, .fingerprint = (char *)client_fp,
				  .cert = (char *)client_pem };
	if ((r = store_trust_add(svc_cfg.store, &h)) < 0) {
		buf_printf(err, "cannot store the trusted host %s", name);
		return r == -EEXIST ? r : -EIO;
	}
	log_info("trusting host %s at %s (certificate %s), joined from %s", name, url, client_fp, peer_addr);
	trust_event("trusting host %s at %s (certificate %s), joined from %s", name, url, client_fp, peer_addr);
	*out = json_pack("{s:s,s:s}", "name", svc_cfg.host_name, "fingerprint", svc_cfg.tls_fingerprint);
	return 0;
}

int svc_trust_ping(const char *caller, json_t **out, struct buf *err)
{
	struct peer *p = NULL;
	int64_t t0 = time_mono_ms();
	int r;

	if ((r = peer_open(caller, &p, err)) < 0)
		return r;
	peer_set_timeout(p, 5000, 10000);
	r = peer_call(p, "GET", "/v1/host", NULL, NULL, NULL, err);
	if (r == 0)
		*out = json_pack("{s:s,s:I}", "name", caller, "ms", (json_int_t)(time_mono_ms() - t0));
	peer_close(p);
	return r;
}

int svc_trust_remove(const char *name, json_t **out, struct buf *err)
{
	struct peer *p = NULL;
	struct buf perr = BUF_INIT;
	int r, pr;

	if ((r = svc_trust_name_check(name, err)) < 0)
		return r;
	if ((pr = peer_open(name, &p, &perr)) == -ENOENT) {
		buf_printf(err, "no trusted host '%s'", name);
		buf_release(&perr);
		return -ENOENT;
	}
	if (pr == 0) {
		peer_set_timeout(p, 3000, 5000);
		pr = peer_call(p, "POST", "/v1/host/trust/leave", NULL, NULL, NULL, &perr);
	}
	peer_close(p);
	if ((r = store_trust_delete(svc_cfg.store, name)) < 0) {
		buf_printf(err, r == -ENOENT ? "no trusted host '%s'" : "cannot forget the trusted host %s", name);
		buf_release(&perr);
		return r;
	}
	log_info("no longer trusting host %s%s%s", name, pr < 0 ? "; it could not be told: " : "",
		 pr < 0 ? perr.s : "");
	trust_event("no longer trusting host %s%s", name, pr < 0 ? " (it could not be told)" : "");
	*out = json_pack("{s:[s],s:b}", "deleted", name, "peer_told", pr == 0);
	if (pr < 0)
		json_object_set_new(*out, "peer_error", json_string(perr.s));
	buf_release(&perr);
	return 0;
}

int svc_trust_leave(const char *caller, struct buf *err)
{
	int r = store_trust_delete(svc_cfg.store, caller);
	if (r < 0) {
		buf_printf(err, "cannot forget the trusted host %s", caller);
		return r;
	}
	log_info("host %s stopped trusting this host: no longer trusting it either", caller);
	trust_event("host %s stopped trusting this host: no longer trusting it either", caller);
	return 0;
}
