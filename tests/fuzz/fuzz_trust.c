/*
 * fuzz_trust.c - fuzz target for what another host (or an administrator)
 * hands host trust: the API URL of a host (peer_url_parse: `host trust add
 * URL`, a join's "url"), host names (svc_trust_name_check), and QEMU's
 * `-machine help` text (qemu_machines_parse) read on every start.
 *
 * Checked besides "no crash, no leak, no read past the input":
 *   - an accepted URL gives a non-empty host of only letters, digits, '.',
 *     '-' (or ':' and hex for IPv6) and a port 1-65535; a refusal says what
 *     is wanted;
 *   - an accepted name is 1-64 bytes and starts with a letter or digit;
 *   - every machine an alias resolves to is a listed concrete machine.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu/machine.h"
#include "service/peer.h"
#include "service/trust.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_trust: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct buf err = BUF_INIT;
	char host[256];
	unsigned port = 0;

	if (peer_url_parse(s, host, sizeof(host), &port, &err) == 0) {
		if (!host[0] || port < 1 || port > 65535)
			die("accepted a URL without host or port");
		for (const char *p = host; *p; p++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:", *p))
				die("accepted a host with a stray byte");
	} else if (!strstr(err.s, "https://HOST")) {
		die("a refused URL without the wanted form");
	}
	buf_reset(&err);
	if (svc_trust_name_check(s, &err) == 0) {
		size_t n = strlen(s);
		if (n < 1 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
					 (s[0] >= '0' && s[0] <= '9')))
			die("accepted a bad host name");
	}
	struct qemu_machines m;
	if (qemu_machines_parse(s, &m) == 0) {
		for (size_t i = 0; i < m.naliases; i++) {
			const char *t = qemu_machines_resolve(&m, m.aliases[i]);
			bool listed = false;
			for (size_t k = 0; t && k < m.n; k++)
				listed |= m.names[k] == t;
			if (t && !listed)
				die("an alias resolved to a machine not listed");
		}
		qemu_machines_release(&m);
	}
	buf_release(&err);
	free(s);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_trust", argc, argv); }
#endif
