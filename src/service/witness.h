/*
 * witness.h - this host as the witness of two-node pools: corosync-qnetd
 * run and supervised by corrald, its certificate authority, and the
 * signing of pool nodes' certificates (witness.c; docs/cluster.md "Two
 * nodes").
 *
 * A witness is any corrald (it needs no VMs, no corosync and no pool of
 * its own): `corral witness init` makes STATE/witness (0700) with qnetd's
 * NSS database (a CA and the server certificate, cluster/nssdb.h) and
 * witness.json ({"port"}), and starts `corosync-qnetd -f -p PORT -S
 * nss_db_dir=...,lock_file=...,local_socket_file=...` under the helper
 * daemon supervisor (cluster/sdaemon.h): restarted with a back-off if it
 * exits, left running and re-adopted across corrald restarts.  A node of a
 * pool asks for its certificate through the trusted-host API (POST
 * /v1/witness/peer/sign, as a trusted host): the request is signed for the
 * pool's name and recorded in witness.json ("clusters").  One qnetd serves
 * any number of pools.
 *
 * Threading: any thread; one mutex serialises init, remove and signing.
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_WITNESS_H
#define CORRAL_SERVICE_WITNESS_H

#include <jansson.h>

#include "service/service.h"

/* At corrald start: the helper daemon supervisor, and qnetd started or re-adopted when this host is a witness. */
int svc_witness_start(struct buf *err);
void svc_witness_shutdown(void);

/* {port}: make this host a witness.  *out: the status. */
int svc_witness_create(const json_t *body, json_t **out, struct buf *err);
/* GET /v1/witness. */
json_t *svc_witness_status(void);
/* Stop qnetd and forget the CA (pools using it lose its vote).  force: also while pools are connected. */
int svc_witness_remove(bool force, json_t **out, struct buf *err);
/* A trusted host's node asks: {cluster, csr} -> {ca, cert, port}. */
int svc_witness_peer_sign(const char *caller, const json_t *body, json_t **out, struct buf *err);

#endif
