/*
 * cert.c - the host's TLS certificate (see auth.h): made at first start
 * when the administrator installed none, and its SHA-256 fingerprint, the
 * value clients pin (`corral --fingerprint`, `openssl x509 -fingerprint
 * -sha256` prints the same).
 *
 * The key is ECDSA P-256: small, fast to handshake, and loaded by GnuTLS
 * (the TLS engine of libmicrohttpd) as well as OpenSSL.  The key file is
 * written 0600 before the certificate, each atomically, so a crash leaves
 * either nothing, a key alone (made again next start) or both.
 */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "util/fsutil.h"
#include "util/common.h"

static int bio_text(BIO *b, struct buf *out)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	if (n <= 0)
		return -EIO;
	buf_add(out, p, (size_t)n);
	return 0;
}

static int cert_make(const char *cert_path, const char *key_path, const char *hostname, struct buf *err)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *kb = BIO_new(BIO_s_mem()), *cb = BIO_new(BIO_s_mem());
	struct buf kt = BUF_INIT, ct = BUF_INIT;
	int r = -EIO;

	if (!key || !x || !kb || !cb)
		goto out;
	BIGNUM *bn = BN_new();
	if (!bn || BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 366 * 24 * 3600);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"corral", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	{
		__do_free char *san = xasprintf("DNS:%s,DNS:localhost,IP:127.0.0.1,IP:::1", hostname);
		X509V3_CTX ctx;
		X509V3_set_ctx_nodb(&ctx);
		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
		if (ext) {
			X509_add_ext(x, ext, -1);
			X509_EXTENSION_free(ext);
		}
	}
	if (X509_sign(x, key, EVP_sha256()) <= 0 || PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL) != 1 ||
	    PEM_write_bio_X509(cb, x) != 1 || bio_text(kb, &kt) < 0 || bio_text(cb, &ct) < 0)
		goto out;
	if ((r = fs_write_file_atomic(key_path, kt.s, kt.len, 0600)) < 0) {
		buf_printf(err, "cannot write the TLS key %s: %s", key_path, strerror(-r));
		goto out_msg;
	}
	if ((r = fs_write_file_atomic(cert_path, ct.s, ct.len, 0644)) < 0) {
		buf_printf(err, "cannot write the TLS certificate %s: %s", cert_path, strerror(-r));
		goto out_msg;
	}
	r = 0;
out:
	if (r < 0)
		buf_printf(err, "cannot make a TLS certificate for %s", hostname);
out_msg:
	if (kt.s)
		OPENSSL_cleanse(kt.s, kt.len);
	buf_release(&kt);
	buf_release(&ct);
	BIO_free(kb);
	BIO_free(cb);
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

/* The certificate and key files load and belong together. */
static int cert_check(const char *cert_path, const char *key_path, struct buf *err)
{
	FILE *cf = fopen(cert_path, "re"), *kf = fopen(key_path, "re");
	X509 *x = cf ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kf ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
	int r = 0;

	if (!x) {
		buf_printf(err, "cannot read a PEM certificate from %s", cert_path);
		r = -EINVAL;
	} else if (!key) {
		buf_printf(err, "cannot read a PEM private key from %s (not encrypted)", key_path);
		r = -EINVAL;
	} else if (X509_check_private_key(x, key) != 1) {
		buf_printf(err, "the key %s does not belong to the certificate %s", key_path, cert_path);
		r = -EINVAL;
	}
	EVP_PKEY_free(key);
	X509_free(x);
	if (cf)
		fclose(cf);
	if (kf)
		fclose(kf);
	return r;
}

int auth_cert_ensure(const char *cert_path, const char *key_path, const char *hostname, struct buf *err)
{
	int have_cert = fs_exists(cert_path), have_key = fs_exists(key_path);

	if (have_cert && !have_key) {
		buf_printf(err, "the TLS certificate %s exists but its key %s does not", cert_path, key_path);
		return -ENOENT;
	}
	if (!have_cert) {
		int r = cert_make(cert_path, key_path, hostname, err);
		if (r < 0)
			return r;
	}
	return cert_check(cert_path, key_path, err);
}

int auth_cert_fingerprint(const char *pem, size_t len, char **out, struct buf *err)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	struct buf s = BUF_INIT;
	int r = 0;

	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1) {
		buf_printf(err, "no PEM certificate to take a fingerprint of");
		r = -EINVAL;
	} else {
		for (unsigned i = 0; i < n; i++)
			buf_printf(&s, "%s%02X", i ? ":" : "", md[i]);
		*out = buf_detach(&s);
	}
	X509_free(x);
	BIO_free(b);
	return r;
}

int auth_cert_der_fingerprint(const void *der, size_t len, char **out, struct buf *err)
{
	const unsigned char *p = der;
	X509 *x = len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	struct buf s = BUF_INIT;

	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1) {
		X509_free(x);
		buf_printf(err, "the peer's certificate does not parse");
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++)
		buf_printf(&s, "%s%02X", i ? ":" : "", md[i]);
	*out = buf_detach(&s);
	X509_free(x);
	return 0;
}

int auth_cert_der_to_pem(const void *der, size_t len, char **out, struct buf *err)
{
	const unsigned char *p = der;
	X509 *x = len <= LONG_MAX ? d2i_X509(NULL, &p, (long)len) : NULL;
	BIO *b = BIO_new(BIO_s_mem());
	struct buf s = BUF_INIT;
	int r = 0;

	if (!x || !b || PEM_write_bio_X509(b, x) != 1 || bio_text(b, &s) < 0) {
		buf_printf(err, "the peer's certificate does not parse");
		r = -EINVAL;
	} else {
		*out = buf_detach(&s);
	}
	buf_release(&s);
	BIO_free(b);
	X509_free(x);
	return r;
}

int auth_fingerprint_normalise(const char *in, char *out, size_t len)
{
	size_t k = 0;

	if (len < 96)
		return -EINVAL;
	for (const char *p = in; p && *p; p++) {
		char c = *p;
		if (c == ':')
			continue;
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) || k == 64)
			return -EINVAL;
		out[k / 2 * 3 + k % 2] = c;
		if (k % 2 && k < 63)
			out[k / 2 * 3 + 2] = ':';
		k++;
	}
	if (k != 64)
		return -EINVAL;
	out[95] = '\0';
	return 0;
}
