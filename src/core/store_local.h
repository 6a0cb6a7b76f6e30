/*
 * store_local.h - the host-local half of corrald's store (see store.h).
 *
 * What only this host knows and no other host replicates: the runtime state
 * of its VMs, its jobs, its event history and its policy scheduler's run
 * times.  Written directly (no batches, no submit hook) through the store's
 * host-local connection, so these writes never wait for, nor delay,
 * configuration reads and batches.  Events and finished jobs are history:
 * store_prune() keeps them within a retention.
 */
#ifndef CORRAL_CORE_STORE_LOCAL_H
#define CORRAL_CORE_STORE_LOCAL_H

#include <stdint.h>
#include <jansson.h>

#include "core/store.h"
#include "core/vmstate.h"

/* ---- VM runtime state (read back through store_vm_get/list) ---- */

/* -ENOENT if the VM is not in the configuration.  reason NULL is stored as "". */
int store_vm_set_state(struct store *s, const char *uuid, enum vm_state st, const char *reason);

/* ---- events: appended, never changed (until pruned) ---- */

/* vm_uuid NULL: an event of the host. */
int store_event_add(struct store *s, const char *vm_uuid, const char *type, const char *detail);
/* The newest `limit` events of one VM (NULL: of the host), oldest first: [{"time","type","detail"}]. */
json_t *store_event_list(struct store *s, const char *vm_uuid, int limit);
/* The newest `limit` events of the host and every VM, oldest first:
 * [{"time","vm","name","type","detail"}] (vm/name null for host events). */
json_t *store_event_recent(struct store *s, int limit);

/* ---- alarms (store_alarm.c): each (rule, object) pair's state and its history ---- */

/* One stored state (times in ms since the epoch; value NAN when unknown). */
struct alarm_state_row {
	char *rule, *object, *name, *state;
	int64_t since, cond_since, clear_since;
	double value;
};
void alarm_state_row_release(struct alarm_state_row *r);
/* Every stored state; *out NULL and *n 0 on failure. */
int store_alarm_state_list(struct store *s, struct alarm_state_row **out, size_t *n);
void store_alarm_state_list_free(struct alarm_state_row *list, size_t n);
/* Insert or replace the state of (rule, object); state "ok" deletes the row. */
int store_alarm_state_put(struct store *s, const struct alarm_state_row *r);
/*
 * Record a transition of (rule, object) at time_ms (value NAN: unknown),
 * store the pair's new state and queue the notifications it sends, in one
 * transaction, so a crash leaves all or none.  state may be NULL (history
 * only: event rules).  outbox, or NULL: an array of {"target", "smtp"
 * (object or null), "payload"} for alarm_outbox; each gets its row's "id".
 */
int store_alarm_transition(struct store *s, int64_t time_ms, const char *rule, const char *object, const char *name,
			   const char *from, const char *to, double value, const struct alarm_state_row *state,
			   json_t *outbox);
/* Every notification not sent yet, oldest first: [{"id","rule","target","smtp","payload","attempt"}]. */
json_t *store_alarm_outbox_list(struct store *s);
/* A notification failed for the attempt-th time and will be tried again. */
int store_alarm_outbox_retry(struct store *s, int64_t id, int attempt);
/* A notification was delivered or given up: its row goes (-ENOENT if gone already). */
int store_alarm_outbox_done(struct store *s, int64_t id);
/* The newest `limit` transitions of rule (NULL: of every rule), oldest first:
 * [{"time","alarm","object","name","from","to","value"?}]. */
json_t *store_alarm_history(struct store *s, const char *rule, int limit);

/* ---- jobs (records of core/job.h's engine, in its JSON shape; docs/api.md "Jobs") ---- */

/* A new row from the job's type, target, vm, parent and started; its id or -1. */
int64_t store_job_insert(struct store *s, const json_t *job);
/* Rewrite state, progress, rate, eta, phase, error, result and finished from the job JSON. */
int store_job_save(struct store *s, int64_t id, const json_t *job);
/* Transitional (the ad-hoc job threads, until every job runs on core/job.h). */
int64_t store_job_create(struct store *s, const char *type, const char *target, const char *vm_uuid);
int store_job_progress(struct store *s, int64_t id, double percent, double rate, int64_t eta_s);
/* state: "succeeded" or "failed" (with error). */
int store_job_finish(struct store *s, int64_t id, const char *state, const char *error);
/* A JSON summary kept with the job ("result" in job JSON), e.g. a backup run's statistics. */
int store_job_set_result(struct store *s, int64_t id, const json_t *result);
/* The jobs recorded "running", oldest first: at start-up, those a previous daemon left. */
json_t *store_job_running(struct store *s);
/* Jobs left "running" by a previous daemon become failed with this reason. */
int store_job_fail_stale(struct store *s, const char *reason);
json_t *store_job_get(struct store *s, int64_t id);
/* Newest first; vm_uuid NULL: every job. */
json_t *store_job_list(struct store *s, const char *vm_uuid, int limit);

/* ---- the policy scheduler's times on this host (store_policy_get/list read them) ---- */

/* -ENOENT if there is no such policy. */
int store_policy_set_runs(struct store *s, const char *name, int64_t last_run, int64_t next_run);

/* ---- this host's pool membership (store_cluster.c; docs/cluster.md) ----
 *
 * At most one row: the cluster's definition (cluster/conf.h JSON, checked by
 * the caller) and this host's node name in it.  Host-local: each member
 * keeps its copy, updated by the member that adds or removes a node. */

/* *def and *self (new strings, caller frees): 0, or -ENOENT when in no cluster. */
int store_cluster_get(struct store *s, char **def, char **self);
/* Insert or replace the one row. */
int store_cluster_put(struct store *s, const char *name, const char *self, const char *def);
/* Delete it: 0 also when there was none. */
int store_cluster_delete(struct store *s);

/* ---- trusted hosts (store_trust.c; docs/remote.md "Trusted hosts") ----
 *
 * The hosts this host calls, and accepts calls from, with mutual TLS: each
 * one's name (unique here), the URL of its API, and the certificate it
 * presents, pinned by SHA-256 fingerprint ("AB:CD:..."; unique too).  Host-
 * local: every host keeps its own list (trust is given per host, both ways).
 */
struct trusted_host {
	char *name, *url, *fingerprint, *cert; /* cert: PEM */
	int64_t added_ms;
};
void trusted_host_release(struct trusted_host *h);
/* -ENOENT if none. */
int store_trust_get(struct store *s, const char *name, struct trusted_host *out);
/* The host whose certificate has fingerprint `fp`; -ENOENT if none. */
int store_trust_find(struct store *s, const char *fp, struct trusted_host *out);
/* By name. */
int store_trust_list(struct store *s, struct trusted_host **out, size_t *n);
void store_trust_list_free(struct trusted_host *list, size_t n);
/* -EEXIST if the name or the fingerprint is already trusted (added_ms is set here). */
int store_trust_add(struct store *s, const struct trusted_host *h);
/* -ENOENT if there is no such host. */
int store_trust_delete(struct store *s, const char *name);

/* ---- retention of the history ---- */

#define STORE_KEEP_EVENTS 1000 /* per VM, and of the host's own */
#define STORE_KEEP_JOBS 1000   /* finished ones; running jobs are never pruned */
#define STORE_KEEP_DAYS 90

struct store_retention {
	int64_t events; /* newest events kept per VM and for the host; <= 0: no count limit */
	int64_t jobs;   /* newest finished jobs kept; <= 0: no count limit */
	int64_t days;   /* events and finished jobs older than this go; <= 0: no age limit */
};
#define STORE_RETENTION_INIT { STORE_KEEP_EVENTS, STORE_KEEP_JOBS, STORE_KEEP_DAYS }

/*
 * Delete events and finished jobs beyond `r`, measured against `now_ms`
 * (the wall clock, ms), in one transaction.  The number of rows deleted, or
 * -errno.  Index-driven: cheap enough to run every hour.
 */
int store_prune(struct store *s, const struct store_retention *r, int64_t now_ms);

#endif
