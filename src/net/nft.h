/*
 * nft.h - a network's firewall: one nftables table of corral's own per
 * network, `table ip corral-<name>`, written whole and replaced atomically
 * (`table ip T; delete table ip T; table ip T { ... }` in one `nft -f`
 * transaction), deleted whole.  No other table is read, changed or flushed.
 *
 * nft_ruleset() is a pure function of the definition (golden-tested,
 * tests/data/nft/); nft_table_apply/nft_table_delete run the `nft` binary
 * through the command runner with the ruleset in a file under the
 * network's run directory (kept: it is what is loaded).
 *
 * What the table holds (docs/network.md):
 *  - nat: forward chain accepting traffic between the network's ports, out
 *    of the subnet, back in for established connections and for DNAT'ed
 *    port forwards, dropping any other traffic to or from the bridge;
 *    postrouting masquerade of the subnet to anywhere else; prerouting and
 *    output DNAT for each port forward (to the reserved address of its VM).
 *  - isolated: forward chain dropping everything to or from the bridge
 *    except between its own ports.
 *  - bridge, vxlan: no table.
 *
 * Errors: 0 or -errno with one sentence appended to err.
 */
#ifndef CORRAL_NET_NFT_H
#define CORRAL_NET_NFT_H

#include <stdbool.h>

#include "net/netdef.h"
#include "util/buf.h"

/* "corral-<name>" */
char *nft_table_name(const char *net);
/* The whole file `nft -f` loads for the network: the replace idiom plus the table. */
void nft_ruleset(const struct net_def *d, struct buf *out);
/* Write the ruleset to <dir>/firewall.nft and load it. */
int nft_table_apply(const struct net_def *d, const char *dir, struct buf *err);
/* Remove the network's table if present. */
int nft_table_delete(const char *net, struct buf *err);
/* true if the table is loaded. */
bool nft_table_exists(const char *net);

#endif
