/*
 * trust.h - trusted hosts: which other corrald this host calls, and accepts
 * calls from, with mutual TLS (trust.c; docs/remote.md "Trusted hosts").
 *
 * The handshake, run by `corral host trust add URL` on host A:
 *
 *   1. A connects to B's TLS listener and shows its certificate's
 *      fingerprint (svc_trust_probe); an administrator compares it with the
 *      one `corral host info` prints on B and accepts it.
 *   2. A calls B's POST /v1/host/trust/join with B's certificate pinned,
 *      presenting A's host certificate as its TLS client certificate and
 *      an API token of B that may change B's host (Sys.Modify on /host):
 *      that token is B's administrator's consent.  B pins the certificate
 *      A presented (A proved in the handshake that it holds the key) under
 *      the name A gives, at the address A called from (or the URL A gives),
 *      and answers with its own name (svc_trust_join).
 *   3. A pins B's certificate, then asks B to call it back over mutual TLS
 *      (POST /v1/host/trust/ping), which proves trust both ways.
 *
 * The token is used for the join only; it is never stored, logged or sent
 * again, and may be deleted (or made with a short --ttl) right after.
 * Afterwards each host calls the other with its certificate alone, as the
 * identity "host:NAME" (service/auth.h).
 *
 * Threading: any thread.  Errors: see service.h; a peer that cannot be
 * reached or refuses gives its own message (peer.h).
 */
#ifndef CORRAL_SERVICE_TRUST_H
#define CORRAL_SERVICE_TRUST_H

#include <jansson.h>

#include "service/service.h"

/* A host name: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.  -EINVAL + sentence. */
int svc_trust_name_check(const char *name, struct buf *err);

/* {"hosts":[{"name","url","fingerprint","added"}]} by name. */
json_t *svc_trust_list(void);

/* Connect to the host at url and report its certificate without trusting
 * it: *out = {"url","fingerprint"}. */
int svc_trust_probe(const char *url, json_t **out, struct buf *err);

/*
 * Steps 2 and 3 above, as host A.  name: what to call B here (NULL: the name
 * B gives); fingerprint: B's, accepted by the administrator; token: B's API
 * token "USER!ID:SECRET" (wiped by the caller); self_url: how B reaches this
 * host (NULL: the address B sees this host's call come from, and this host's
 * listen port).  *out = {"name","url","fingerprint","peer_name","verified"}.
 * -EEXIST if the name or the certificate is already trusted here; nothing is
 * stored here if B refuses, and B forgets this host again if storing fails.
 */
int svc_trust_add(const char *url, const char *name, const char *fingerprint, const char *token,
		  const char *self_url, json_t **out, struct buf *err);

/*
 * Step 2 as host B: the caller presented the certificate client_fp/client_pem
 * (NULL: none, refused with -EINVAL) from address peer_addr, and asks (body
 * {"name", "url" | "port"}) to be trusted.  *out = {"name","fingerprint"} of
 * this host.
 */
int svc_trust_join(const char *client_fp, const char *client_pem, const char *peer_addr, const json_t *body,
		   json_t **out, struct buf *err);

/* Call the trusted host `caller` back (GET /v1/host): 0 if it answers; *out = {"name","ms"}. */
int svc_trust_ping(const char *caller, json_t **out, struct buf *err);

/*
 * Stop trusting host `name`: it is forgotten here whatever happens, and told
 * (POST /v1/host/trust/leave, 5 s) to forget this host too.  *out =
 * {"deleted":[name],"peer_told", "peer_error"?}.  -ENOENT if no such host.
 */
int svc_trust_remove(const char *name, json_t **out, struct buf *err);

/* The trusted host `caller` asks to be forgotten (it removed this host). */
int svc_trust_leave(const char *caller, struct buf *err);

#endif
