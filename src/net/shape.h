/*
 * shape.h - per-NIC bandwidth limit on what the guest receives.
 *
 * A tap's egress is the traffic going *to* the guest; a token bucket (tc
 * `tbf`) as the tap's root qdisc queues what exceeds the rate, so TCP senders
 * slow down rather than see drops.  What the guest *sends* enters the host
 * through the tap's ingress, where this kernel has no `police` action and
 * ingress shaping would need an ifb device: that direction is policed by the
 * port's nftables chain instead (hygiene.h, tx_bytes_per_sec: what exceeds the
 * rate is dropped).  docs/network.md ("Traffic hygiene") has the details.
 *
 * tc is run through the command runner (argv, never a shell string).
 * Errors: 0 or -errno with one sentence appended to err (may be NULL).
 * Threading: no shared state; calls for one port must not race each other.
 */
#ifndef CORRAL_NET_SHAPE_H
#define CORRAL_NET_SHAPE_H

#include <stdint.h>

#include "util/buf.h"
#include "util/cmd.h"

#define SHAPE_RATE_MIN 1000ULL         /* bytes/s */
#define SHAPE_RATE_MAX (1ULL << 40)    /* bytes/s */

/*
 * The tc command that limits what `port` sends to its guest to
 * rx_bytes_per_sec (appended to c, which must be CMD_INIT), or removes the
 * limit when rx_bytes_per_sec is 0.  -EINVAL/-ERANGE with a reason.
 */
int shape_port_cmd(const char *port, uint64_t rx_bytes_per_sec, struct cmd *c, struct buf *err);

/*
 * Set (or, with 0, remove) the limit on `port`: idempotent (`tc qdisc
 * replace`; removing a limit that is not there is not an error).  Call when
 * the tap is up, on a live change of the limit, and (idempotently) after a
 * corrald restart; the qdisc goes with the tap.
 */
int shape_port_set(const char *port, uint64_t rx_bytes_per_sec, struct buf *err);

#endif
