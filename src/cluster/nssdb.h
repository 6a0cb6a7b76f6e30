/*
 * nssdb.h - the NSS certificate databases of corosync-qnetd (the witness)
 * and corosync-qdevice (each node of a pool with a witness), made with
 * NSS's certutil through the command runner (nssdb.c; docs/cluster.md
 * "Two nodes").
 *
 * What Debian's corosync-qnetd-certutil and corosync-qdevice-net-certutil
 * do, with the directories as parameters (those scripts hard-code
 * /etc/corosync/...), and one difference: each node makes its own key and
 * certificate request, which the witness's CA signs, so no private key
 * ever leaves a host (the stock scripts export one node's key to the
 * others as PKCS#12).  qnetd checks that a client's certificate is signed
 * by its CA and names the cluster (CN=<cluster_name>); every node's does.
 *
 *   witness: nssdb_ca_init(dir)      dir/ (0700): CA "QNet CA" (self-signed)
 *                                    and server cert "QNetd Cert", as
 *                                    corosync-qnetd -S nss_db_dir=dir wants
 *            nssdb_ca_pem(dir)       the CA certificate, PEM
 *            nssdb_sign(dir, name)   a node's request signed for cluster name
 *   node:    nssdb_client_init(dir)  a new database with a key; the request
 *            nssdb_client_finish     the CA and the signed certificate
 *                                    ("Cluster Cert", qdevice's default) in
 *
 * The databases have an empty password (as the stock scripts make them:
 * the daemons open them unattended); they are 0700 directories of corrald's
 * state.  Certificates and requests travel as PEM text, at most
 * NSSDB_PEM_MAX bytes of printable ASCII.
 * Threading: any thread; callers serialise changes to one directory.
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_CLUSTER_NSSDB_H
#define CORRAL_CLUSTER_NSSDB_H

#include <stdbool.h>

#include "util/buf.h"

#define NSSDB_PEM_MAX 16384

/* Is there a database in dir? */
bool nssdb_exists(const char *dir);
/* Check that text is PEM-like (printable ASCII and newlines, NSSDB_PEM_MAX at most, a BEGIN line). */
int nssdb_pem_check(const char *text, const char *what, struct buf *err);

int nssdb_ca_init(const char *dir, struct buf *err);
int nssdb_ca_pem(const char *dir, struct buf *out, struct buf *err);
/* Sign the request csr (PEM) for cluster (its CN must be the cluster's name): *out the certificate, PEM. */
int nssdb_sign(const char *dir, const char *cluster, const char *csr, struct buf *out, struct buf *err);

/* A new database in dir (removing an old one) with a key, and a request for CN=cluster into csr (PEM). */
int nssdb_client_init(const char *dir, const char *cluster, struct buf *csr, struct buf *err);
/* Import the witness's CA and this node's signed certificate (both PEM). */
int nssdb_client_finish(const char *dir, const char *ca, const char *crt, struct buf *err);

/* Remove a database directory made here (its files, then the directory). */
void nssdb_remove(const char *dir);

#endif
