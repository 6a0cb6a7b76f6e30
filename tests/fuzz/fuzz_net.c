/*
 * fuzz_net.c - fuzz target for what src/net parses: network definitions
 * (JSON from the API), subnets (IPv4 and IPv6), port-forward specs and dnsmasq lease files
 * (whose hostnames come from guests).
 *
 * Checked besides "no crash, no leak": a rejection carries a message; an
 * accepted definition survives netdef_to_json -> netdef_from_json unchanged
 * and its nft ruleset and dnsmasq configuration build; an accepted subnet
 * prints back as itself; an accepted IPv6 subnet's canonical form parses
 * back to the same prefix; every parsed lease has a printable hostname and a
 * dotted IPv4 address.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dnsmasq.h"
#include "net/netdef.h"
#include "net/nft.h"
#include "net/subnet.h"
#include "net/subnet6.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_net: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void check_def(const uint8_t *data, size_t size)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
	struct buf err = BUF_INIT;
	if (!j)
		return;
	struct net_def *d = netdef_from_json(j, &err);
	if (!d) {
		if (!err.len)
			die("definition rejected without a message", NULL);
	} else {
		json_t *a = netdef_to_json(d);
		struct net_def *e = netdef_from_json(a, &err);
		if (!e)
			die("netdef_to_json output rejected", err.s);
		json_t *b = netdef_to_json(e);
		if (!json_equal(a, b))
			die("definition changed in a JSON round trip", NULL);
		struct buf out = BUF_INIT;
		nft_ruleset(d, &out);
		if (d->type != NET_BRIDGE) {
			dnsmasq_conf(d, "/x", &out);
			if (!strstr(out.s, d->bridge))
				die("configuration does not name the bridge", d->bridge);
		}
		buf_release(&out);
		json_decref(a);
		json_decref(b);
		netdef_free(e);
		netdef_free(d);
	}
	json_decref(j);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size);
	struct buf err = BUF_INIT;
	struct subnet s;
	struct net_forward f;
	struct dnsmasq_lease l[64];

	if (!text)
		abort();
	check_def(data, size);
	if (subnet_parse(text, &s, &err) == 0) {
		char back[19];
		if (strcmp(subnet_fmt(&s, back), text) != 0)
			die("subnet does not print back as itself", text);
	} else if (!err.len) {
		die("subnet rejected without a message", text);
	}
	buf_reset(&err);
	struct subnet6 s6, back6;
	if (subnet6_parse(text, &s6, &err) == 0) {
		char back[SUBNET6_STRLEN];
		buf_reset(&err);
		if (subnet6_parse(subnet6_fmt(&s6, back), &back6, &err) < 0 || !subnet6_equal(&s6, &back6))
			die("IPv6 subnet does not parse back from its canonical form", text);
	} else if (!err.len) {
		die("IPv6 subnet rejected without a message", text);
	}
	buf_reset(&err);
	char *colon = strchr(text, ' ');
	if (colon) {
		*colon = '\0';
		if (netdef_forward_parse(text, colon + 1, &f, &err) == 0)
			free(f.vm);
		else if (!err.len)
			die("forward rejected without a message", NULL);
		*colon = ' ';
	}
	size_t n = dnsmasq_leases_parse(text, l, 64);
	for (size_t i = 0; i < n; i++) {
		uint32_t a;
		if (ipv4_parse(l[i].ip, &a) < 0)
			die("lease with a bad address", l[i].ip);
		for (const char *c = l[i].hostname; *c; c++)
			if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
				die("lease hostname not printable", NULL);
	}
	buf_release(&err);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_net", argc, argv); }
#endif
