/*
 * store_replica.h - the replicated part of the configuration (store_replica.c;
 * docs/state.md "Replicated tables", docs/cluster.md "Replicated
 * configuration").
 *
 * In a pool, the tables whose meaning is pool-wide and that name no host
 * path (users, tokens, acls, policies, alarms: "replicated tables") are the
 * same on every member.  Their batches are delivered to every member in one
 * order (service/cluster_store.c) and applied here with
 * store_replica_apply(), which also advances, in the same transaction:
 *   version   the number of replicated batches this host applied;
 *   chain     SHA-256 hex of (previous chain || the batch's bytes), from 64
 *             zeros at version 0: two hosts at one version with one chain
 *             applied the same batches;
 * and keeps the chain of the last STORE_REPLICA_LOG_KEEP versions (the fork
 * check: is this member's chain one the leader went through?).
 * A snapshot (store_replica_export) is the replicated tables plus version
 * and chain as JSON text; store_replica_import replaces this host's
 * replicated tables by one in one transaction (rows not in it go, so do
 * their host-local dependants: an alarm rule's states).  The digest is the
 * SHA-256 of the tables' canonical JSON (rows in key order).
 *
 * Threading and errors as store.h.
 */
#ifndef CORRAL_CORE_STORE_REPLICA_H
#define CORRAL_CORE_STORE_REPLICA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/store.h"
#include "util/buf.h"

#define STORE_REPLICA_LOG_KEEP 10000
#define STORE_REPLICA_HASH_HEX 64

enum store_scope {
	STORE_SCOPE_LOCAL = 0,      /* every op on a host-local configuration table (vms, volumes, ...) */
	STORE_SCOPE_REPLICATED = 1, /* every op on a replicated table */
};

/* Is op (its "op" name) one on a replicated table? */
bool store_op_replicated(const char *op);
/* The scope of a batch (store.h format): STORE_SCOPE_*, or -EINVAL for a
 * batch mixing both kinds (one sentence in err). */
int store_batch_scope(const json_t *batch, struct buf *err);

struct store_replica_state {
	uint64_t version;
	char chain[STORE_REPLICA_HASH_HEX + 1];
	char digest[STORE_REPLICA_HASH_HEX + 1];
};
int store_replica_state(struct store *s, struct store_replica_state *out);
/* The chain at version v (v = 0: 64 zeros): 0, or -ENOENT when no longer kept (or never reached). */
int store_replica_chain_at(struct store *s, uint64_t v, char out[STORE_REPLICA_HASH_HEX + 1]);

/* Apply a delivered batch (the JSON of `body`, len bytes) as store_apply
 * does; when it applies, version + 1 and the chain, in the same transaction. */
int store_replica_apply(struct store *s, const json_t *batch, const char *body, size_t len, struct buf *err);

/* The snapshot as text (caller frees), or NULL (logged). */
char *store_replica_export(struct store *s);
/* Replace the replicated tables, version and chain by the snapshot's. */
int store_replica_import(struct store *s, const char *text, struct buf *err);

/* Back to version 0 and the zero chain (the tables stay): the next sync
 * round finds this host behind the pool and replaces them by the pool's. */
int store_replica_forget(struct store *s);

#endif
