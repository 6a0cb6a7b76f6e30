/*
 * cfgsync.c - the pure decisions of the replicated configuration's sync
 * round (see cfgsync.h): the leader choice and the fingerprint of the
 * STATEs a verdict judged.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "cluster/cfgsync.h"
#include "util/common.h"

size_t cfgsync_leader(const struct cfgsync_state *s, size_t n)
{
	size_t best = 0;
	for (size_t i = 1; i < n; i++) {
		const struct cfgsync_state *a = &s[i], *b = &s[best];
		if (a->version != b->version ? a->version > b->version
		    : a->nodeid != b->nodeid ? a->nodeid < b->nodeid
					      : a->pid < b->pid)
			best = i;
	}
	return best;
}

void cfgsync_states_hash(const struct cfgsync_state *s, size_t n, char out[CFGMSG_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < n; i++) {
		char line[CFGMSG_HASH_HEX + 64];
		int l = snprintf(line, sizeof(line), "%u/%u %llu %s\n", s[i].nodeid, s[i].pid,
				 (unsigned long long)s[i].version, s[i].chain);
		ok = l > 0 && EVP_DigestUpdate(ctx, line, (size_t)l);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &len) && len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok) { /* cannot hash: a fingerprint no verdict carries (all zeros is never SHA-256 output here) */
		memset(out, '0', CFGMSG_HASH_HEX);
		out[CFGMSG_HASH_HEX] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}
