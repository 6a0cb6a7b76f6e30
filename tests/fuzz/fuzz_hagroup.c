/*
 * fuzz_hagroup.c - fuzz target for an HA group's host list (POST
 * /v1/ha/groups "hosts", `corral ha group add --hosts`:
 * hagroup_hosts_parse).
 *
 * Checked besides "no crash, no leak, no read past the input": what is
 * accepted has 1..HAGROUP_MAX_HOSTS hosts, each a valid node name, distinct,
 * with a priority 0..1000, and an error leaves a sentence.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/hagroup.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_hagroup: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct hagroup_host h[HAGROUP_MAX_HOSTS];
	size_t n = 0;
	struct buf err = BUF_INIT;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	int r = hagroup_hosts_parse(text, h, &n, &err);
	if (r == 0) {
		if (n < 1 || n > HAGROUP_MAX_HOSTS)
			die("accepted a list of no hosts or too many");
		for (size_t i = 0; i < n; i++) {
			struct buf e = BUF_INIT;
			if (cluster_node_name_check(h[i].name, &e) < 0)
				die("accepted a bad host name");
			buf_release(&e);
			if (h[i].priority < 0 || h[i].priority > HAGROUP_PRIO_MAX)
				die("accepted a priority out of range");
			for (size_t k = 0; k < i; k++)
				if (strcmp(h[k].name, h[i].name) == 0)
					die("accepted a host twice");
		}
	} else if (r != -EINVAL || !err.s || !*err.s) {
		die("refused without a sentence");
	}
	buf_release(&err);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_hagroup", argc, argv); }
#endif
