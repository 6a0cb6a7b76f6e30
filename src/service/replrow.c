/*
 * replrow.c - the "~repl:<uuid>" rows of the replicated ha_resources table
 * (see replrow.h): what the pool knows of a replica's usability for
 * failover, written by the VM's host through the replicated store.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/store.h"
#include "service/cluster_internal.h"
#include "service/internal.h"
#include "service/ha_admit.h"
#include "service/replrow.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/common.h"

bool replrow_in_pool(void)
{
	struct cluster_def d;
	return svc_cluster_def_get(&d, NULL);
}

json_t *replrow_get(const char *uuid)
{
	__do_free char *key = xasprintf(REPLROW_PREFIX "%s", uuid);
	return svc_ha_row_get(key);
}

static int commit(struct store_batch *b, const char *what, struct buf *err)
{
	struct buf why __do_buf = BUF_INIT;
	int r = store_batch_commit(svc_cfg.store, b, &why);
	store_batch_free(b);
	if (r < 0)
		buf_printf(err, "cannot record %s in the pool: %s", what,
			   why.len ? why.s : store_commit_refusal(r) ? store_commit_refusal(r) : strerror(-r));
	return r;
}

int replrow_put(const char *uuid, const char *name, const char *peer, const char *state, int64_t since, bool create,
		struct buf *err)
{
	char me[CLUSTER_NODE_NAME_MAX + 1];
	struct cluster_def d;
	if (!svc_cluster_def_get(&d, me))
		return 0;
	__do_json json_t *cur = replrow_get(uuid);
	const char *owner = json_string_value(json_object_get(cur, "host"));
	if (!create && (!cur || !owner || strcmp(owner, me) != 0))
		return 0; /* not ours (any more): a failover took it, or replication ended */
	if (cur && !strcmp(json_string_value(json_object_get(cur, "state")) ?: "", state) &&
	    !strcmp(json_string_value(json_object_get(cur, "peer")) ?: "", peer) && owner && !strcmp(owner, me))
		return 0; /* already so */
	json_t *rev = json_object_get(cur, "rev");
	__do_json json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:I}", "vm", name, "host", me, "peer", peer, "state", state,
					  "since", (json_int_t)since);
	__do_free char *text = json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	__do_free char *key = xasprintf(REPLROW_PREFIX "%s", uuid);
	__do_free char *what = xasprintf("the replica of %s on %s as %s", name, peer, state);
	struct store_batch *b = store_batch_new();
	store_batch_ha_decide(b, key, text, NULL, json_is_integer(rev) ? json_integer_value(rev) : 0);
	int r = commit(b, what, err);
	if (r == 0)
		log_info("vm %s: the pool records its replica on %s as %s", name, peer, state);
	return r;
}

int replrow_delete(const char *uuid, struct buf *err)
{
	if (!replrow_in_pool())
		return 0;
	__do_json json_t *cur = replrow_get(uuid);
	if (!cur)
		return 0;
	__do_free char *key = xasprintf(REPLROW_PREFIX "%s", uuid);
	struct store_batch *b = store_batch_new();
	store_batch_ha_delete(b, key);
	return commit(b, "the end of the replication", err);
}
