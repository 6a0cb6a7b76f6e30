/*
 * ha_ack.h - `corral ha fence-ack HOST` (docs/ha.md "Acknowledging a lost
 * host"): the administrator's word that a pool member this host lost is
 * down, for a partition without quorum (a two-host pool without a witness
 * whose other host died; three hosts of which two died).
 *
 * The acknowledgment lowers votequorum's expected votes of the running
 * cluster by one per acknowledged host (never raising them, so repeating
 * it changes nothing), so that this partition can become quorate and the
 * HA manager restarts the lost host's HA VMs here after its usual wait W.
 * It is refused while the host is in this host's ring, when this host is
 * quorate (the pool needs no word then), and before this host has been
 * without quorum for W (the lost host, if it only lost its links, has
 * killed its HA guests by then: ha_fence.h).  The acknowledged hosts are
 * kept in STATE/cluster/acked (one name per line) until they are back in
 * the ring; then the configured expected votes are put back, so that a
 * later split of the pool needs a majority again.  Each step is a
 * "cluster" event naming who acknowledged.
 *
 * Errors: see service.h.
 */
#ifndef CORRAL_SERVICE_HA_ACK_H
#define CORRAL_SERVICE_HA_ACK_H

#include <jansson.h>

#include "cluster/conf.h"
#include "cluster/membership.h"
#include "util/buf.h"

/* Acknowledge `host` lost: *out {host, acknowledged: [names], expected_votes_before, expected_votes, quorate}. */
int svc_ha_fence_ack(const char *host, json_t **out, struct buf *err);

/* The expected votes to set (pure): the configured votes less one per
 * acknowledged host, no fewer than the votes present, never more than now. */
unsigned ha_ack_votes(unsigned configured, unsigned nlost, unsigned present, unsigned current);

/* From the fence thread on every view: drop acknowledged hosts back in the
 * ring; when none is left, put the configured expected votes back. */
void ha_ack_follow(const struct cluster_def *d, const struct membership_view *v);

#endif
