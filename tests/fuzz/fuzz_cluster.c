/*
 * fuzz_cluster.c - fuzz target for a cluster definition another host sends
 * (PUT /v1/cluster/peer/config, a join's answer: cluster_def_from_json) and
 * the corosync.conf made from what it accepts (cluster_conf_text).
 *
 * Checked besides "no crash, no leak, no read past the input":
 *   - an accepted definition gives a corosync.conf with exactly one
 *     "node {" per node and no line that any name or address could have
 *     added (each line is a known key, a brace or a comment; the witness's
 *     quorum.device keys included);
 *   - what was accepted round-trips through its JSON form unchanged.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/conf.h"
#include "util/buf.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_cluster: %s\n", what);
	abort();
}

static const char *const keys[] = { "version:", "cluster_name:", "config_version:", "transport:", "token:",
				    "crypto_cipher:", "crypto_hash:", "keyfile:", "linknumber:", "state_dir:",
				    "to_stderr:", "to_syslog:", "to_logfile:", "logfile:", "timestamp:",
				    "nodeid:", "name:", "ring", "provider:", "knet_ping_interval:", "knet_ping_timeout:",
				    /* the witness's quorum.device */
				    "model:", "votes:", "timeout:", "sync_timeout:", "host:", "port:", "algorithm:",
				    "tie_breaker:", "mode:", "interval:", "exec_ping: /usr/bin/ping -q -n -c 1 -W 1 ", NULL };

static void check_text(const struct cluster_def *d, const char *text)
{
	unsigned nodes = 0;
	for (const char *line = text; *line;) {
		size_t n = strcspn(line, "\n");
		const char *p = line;
		while (*p == ' ')
			p++;
		bool ok = *p == '#' || *p == '}' || (n && line[n - 1] == '{');
		for (size_t k = 0; !ok && keys[k]; k++)
			ok = strncmp(p, keys[k], strlen(keys[k])) == 0;
		if (!ok)
			die("a line corosync.conf should not have");
		nodes += strncmp(p, "node {", 6) == 0;
		line += n + (line[n] == '\n');
	}
	if (nodes != d->nnodes)
		die("not one node section per node");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__do_json json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct buf err = BUF_INIT, text = BUF_INIT;
	struct cluster_def d, back;

	if (j && cluster_def_from_json(j, &d, &err) == 0) {
		if (cluster_conf_text(&d, "/var/lib/corral/cluster", &text, &err) != 0)
			die("an accepted definition gave no corosync.conf");
		check_text(&d, text.s);
		__do_json json_t *again = cluster_def_to_json(&d);
		if (cluster_def_from_json(again, &back, &err) != 0 || memcmp(&d, &back, sizeof(d)) != 0)
			die("an accepted definition does not round-trip");
	} else if (j && !err.len) {
		die("a refusal without a reason");
	}
	buf_release(&err);
	buf_release(&text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_cluster", argc, argv); }
#endif
