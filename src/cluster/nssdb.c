/*
 * nssdb.c - NSS databases for corosync-qnetd and corosync-qdevice (see
 * nssdb.h): certutil runs with argv vectors, its files (empty password
 * file, random noise, requests and certificates) are written here, and the
 * subject of a certificate the witness signs is checked with OpenSSL.
 */
#include <dirent.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/nssdb.h"
#include "util/cleanup.h"
#include "util/cmd.h"
#include "util/fsutil.h"
#include "util/log.h"
#include "util/common.h"

#define CA_NICK "QNet CA"
#define SERVER_NICK "QNetd Cert"
#define CLIENT_NICK "Cluster Cert"
#define VALIDITY_MONTHS "1200"

bool nssdb_exists(const char *dir)
{
	__do_free char *p = xasprintf("%s/cert9.db", dir);
	return access(p, F_OK) == 0;
}

int nssdb_pem_check(const char *text, const char *what, struct buf *err)
{
	size_t n = text ? strlen(text) : 0;
	bool ok = n > 0 && n <= NSSDB_PEM_MAX && strstr(text, "-----BEGIN ");
	for (size_t i = 0; ok && i < n; i++)
		ok = text[i] == '\n' || text[i] == '\r' || ((unsigned char)text[i] >= 0x20 && text[i] < 0x7f);
	if (ok)
		return 0;
	buf_printf(err, "%s is not a PEM text (printable ASCII, at most %d bytes)", what, NSSDB_PEM_MAX);
	return -EINVAL;
}

/* certutil ARGS... -d sql:dir, run; stdin from file `in` (may be NULL). */
static int certutil(const char *dir, const char *in, struct buf *err, const char *const *args)
{
	struct buf out __do_buf = BUF_INIT, errout __do_buf = BUF_INIT;
	struct cmd c = CMD_INIT;
	cmd_add(&c, "certutil");
	for (size_t i = 0; args[i]; i++)
		cmd_add(&c, args[i]);
	cmd_add(&c, "-d");
	cmd_addf(&c, "sql:%s", dir);
	if (in)
		cmd_set_io(&c, 0, CMD_IO_FILE, in);
	int r = cmd_run(&c, &out, &errout);
	cmd_release(&c);
	if (r == 0)
		return 0;
	while (errout.len && (errout.s[errout.len - 1] == '\n' || errout.s[errout.len - 1] == ' '))
		errout.s[--errout.len] = '\0';
	const char *last = errout.len ? strrchr(errout.s, '\n') : NULL;
	buf_printf(err, "certutil %s failed (%d): %s", args[0], r,
		   r < 0 ? strerror(-r) : last ? last + 1 : errout.len ? errout.s : "no message");
	return r < 0 ? r : -EIO;
}

static int write_text(const char *path, const void *data, size_t len, struct buf *err)
{
	int r = fs_write_file_atomic(path, data, len, 0600);
	if (r < 0)
		buf_printf(err, "cannot write %s: %s", path, strerror(-r));
	return r;
}

/* A new empty database in dir (0700): pwdfile.txt (empty) and noise.txt (random). */
static int db_new(const char *dir, struct buf *err)
{
	__do_free char *pwd = xasprintf("%s/pwdfile.txt", dir);
	__do_free char *noise = xasprintf("%s/noise.txt", dir);
	unsigned char rnd[2048];
	int r;
	nssdb_remove(dir);
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(-r));
		return r;
	}
	chmod(dir, 0700);
	for (size_t got = 0; got < sizeof(rnd);) {
		ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);
		if (n < 0 && errno != EINTR) {
			buf_printf(err, "getrandom: %s", strerror(errno));
			return -errno;
		}
		got += n > 0 ? (size_t)n : 0;
	}
	if ((r = write_text(pwd, "", 0, err)) < 0 || (r = write_text(noise, rnd, sizeof(rnd), err)) < 0)
		return r;
	return certutil(dir, NULL, err, (const char *const[]){ "-N", "-f", pwd, NULL });
}

/* The next serial number of the CA in dir (dir/serial.txt, from 101). */
static unsigned next_serial(const char *dir)
{
	__do_free char *path = xasprintf("%s/serial.txt", dir);
	struct buf b __do_buf = BUF_INIT;
	unsigned long n = 100;
	char text[24];
	if (fs_read_file(path, 64, &b) == 0 && b.len)
		n = strtoul(b.s, NULL, 10);
	if (n < 100 || n > 0x7fffffff)
		n = 100;
	n++;
	snprintf(text, sizeof(text), "%lu\n", n);
	if (fs_write_file_atomic(path, text, strlen(text), 0600) < 0)
		log_warn("cannot write %s", path);
	return (unsigned)n;
}

int nssdb_ca_init(const char *dir, struct buf *err)
{
	__do_free char *pwd = xasprintf("%s/pwdfile.txt", dir);
	__do_free char *noise = xasprintf("%s/noise.txt", dir);
	__do_free char *answers = xasprintf("%s/ca-answers.txt", dir);
	char s1[16], s2[16];
	int r;
	if ((r = db_new(dir, err)) < 0)
		return r;
	/* -2 asks: a CA? (y) path length (0: unlimited) critical? (y) */
	if ((r = write_text(answers, "y\n0\ny\n", 6, err)) < 0)
		return r;
	snprintf(s1, sizeof(s1), "%u", next_serial(dir));
	r = certutil(dir, answers, err,
		     (const char *const[]){ "-S", "-n", CA_NICK, "-s", "CN=QNet CA", "-x", "-t", "CT,,", "-m", s1, "-v",
					    VALIDITY_MONTHS, "-z", noise, "-f", pwd, "-2", NULL });
	unlink(answers);
	if (r < 0)
		return r;
	snprintf(s2, sizeof(s2), "%u", next_serial(dir));
	return certutil(dir, NULL, err,
			(const char *const[]){ "-S", "-n", SERVER_NICK, "-s", "CN=Qnetd Server", "-c", CA_NICK, "-t",
					       "u,u,u", "-m", s2, "-v", VALIDITY_MONTHS, "-z", noise, "-f", pwd, NULL });
}

int nssdb_ca_pem(const char *dir, struct buf *out, struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf e __do_buf = BUF_INIT;
	cmd_add(&c, "certutil");
	cmd_add(&c, "-L");
	cmd_add(&c, "-n");
	cmd_add(&c, CA_NICK);
	cmd_add(&c, "-a");
	cmd_add(&c, "-d");
	cmd_addf(&c, "sql:%s", dir);
	int r = cmd_run(&c, out, &e);
	cmd_release(&c);
	if (r != 0 || nssdb_pem_check(out->s, "the CA certificate", err) < 0) {
		buf_printf(err, "%scannot read the witness's CA certificate in %s", err->len ? ": " : "", dir);
		return r < 0 ? r : -EIO;
	}
	return 0;
}

/* Does the PEM certificate at path name CN=cluster? */
static bool subject_is(const char *path, const char *cluster)
{
	FILE *f = fopen(path, "re");
	char cn[64] = "";
	if (!f)
		return false;
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return false;
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
	X509_free(x);
	return n > 0 && strcmp(cn, cluster) == 0;
}

int nssdb_sign(const char *dir, const char *cluster, const char *csr, struct buf *out, struct buf *err)
{
	__do_free char *req = xasprintf("%s/request-%s.csr", dir, cluster);
	__do_free char *crt = xasprintf("%s/cluster-%s.crt", dir, cluster);
	__do_free char *pwd = xasprintf("%s/pwdfile.txt", dir);
	char serial[16];
	int r;
	if ((r = nssdb_pem_check(csr, "the certificate request", err)) < 0)
		return r;
	if (!nssdb_exists(dir)) {
		buf_adds(err, "this host is no witness (corral witness init)");
		return -ENOENT;
	}
	if ((r = write_text(req, csr, strlen(csr), err)) < 0)
		return r;
	snprintf(serial, sizeof(serial), "%u", next_serial(dir));
	unlink(crt);
	r = certutil(dir, NULL, err,
		     (const char *const[]){ "-C", "-v", VALIDITY_MONTHS, "-m", serial, "-i", req, "-a", "-o", crt, "-c",
					    CA_NICK, "-f", pwd, NULL });
	unlink(req);
	if (r < 0)
		return r;
	if (!subject_is(crt, cluster)) {
		unlink(crt);
		buf_printf(err, "the certificate request is not for cluster %s (its subject must be CN=%s)", cluster,
			   cluster);
		return -EINVAL;
	}
	r = fs_read_file(crt, NSSDB_PEM_MAX, out);
	if (r < 0)
		buf_printf(err, "cannot read %s: %s", crt, strerror(-r));
	return r;
}

int nssdb_client_init(const char *dir, const char *cluster, struct buf *csr, struct buf *err)
{
	__do_free char *pwd = xasprintf("%s/pwdfile.txt", dir);
	__do_free char *noise = xasprintf("%s/noise.txt", dir);
	__do_free char *req = xasprintf("%s/request.csr", dir);
	__do_free char *subject = xasprintf("CN=%s", cluster);
	int r;
	if ((r = db_new(dir, err)) < 0 ||
	    (r = certutil(dir, NULL, err,
			  (const char *const[]){ "-R", "-s", subject, "-a", "-o", req, "-z", noise, "-f", pwd, NULL })) < 0)
		return r;
	r = fs_read_file(req, NSSDB_PEM_MAX, csr);
	unlink(req);
	if (r < 0)
		buf_printf(err, "cannot read the certificate request: %s", strerror(-r));
	return r;
}

int nssdb_client_finish(const char *dir, const char *ca, const char *crt, struct buf *err)
{
	__do_free char *pwd = xasprintf("%s/pwdfile.txt", dir);
	__do_free char *ca_path = xasprintf("%s/qnetd-cacert.crt", dir);
	__do_free char *crt_path = xasprintf("%s/cluster.crt", dir);
	int r;
	if ((r = nssdb_pem_check(ca, "the witness's CA certificate", err)) < 0 ||
	    (r = nssdb_pem_check(crt, "the cluster certificate", err)) < 0)
		return r;
	if (!nssdb_exists(dir)) {
		buf_adds(err, "no certificate request was made on this host");
		return -ENOENT;
	}
	if ((r = write_text(ca_path, ca, strlen(ca), err)) < 0 || (r = write_text(crt_path, crt, strlen(crt), err)) < 0)
		return r;
	if ((r = certutil(dir, NULL, err,
			  (const char *const[]){ "-A", "-t", "CT,c,c", "-n", CA_NICK, "-f", pwd, "-i", ca_path, NULL })) < 0)
		return r;
	return certutil(dir, NULL, err,
			(const char *const[]){ "-A", "-t", "u,u,u", "-n", CLIENT_NICK, "-f", pwd, "-i", crt_path, NULL });
}

void nssdb_remove(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	while (dp && (e = readdir(dp))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		__do_free char *p = xasprintf("%s/%s", dir, e->d_name);
		unlink(p);
	}
	if (dp)
		closedir(dp);
	rmdir(dir);
}
