/*
 * fuzz_qga.c - fuzz target for what a guest agent sends (src/qemu/qga.c):
 * the bytes a guest controls, read as the stream after a guest-sync-delimited
 * request and then as replies.
 *
 * Input: the received bytes.  qga_sync_scan() looks for the reply to sync id
 * 42 (fed in pieces of 7 bytes, as reads may split it); every whole line of
 * the input goes through qga_reply_parse() and each "return" value through
 * the OS, host name and interface parsers.  Checked besides "no crash, no
 * leak":
 *   - the scan never consumes more than it was given, and once done stays
 *     within the bytes;
 *   - a refused reply carries a message;
 *   - what the info parsers keep is bounded (QGA_MAX_* entries, strings of at
 *     most QGA_MAX_STR bytes without control characters) and every address
 *     kept parses back as an address.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu/qga.h"
#include "util/buf.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_qga: %s\n", what);
	abort();
}

static void check_str(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s)
		die("a kept value is not a string");
	if (strlen(s) > QGA_MAX_STR || str_has_control(s))
		die("a kept string is unbounded or holds control characters");
}

static void check_addr(const char *s, bool prefix)
{
	char a[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	snprintf(a, sizeof(a), "%s", s);
	char *slash = strchr(a, '/');
	if (prefix != (slash != NULL))
		die("an address with a wrong prefix form");
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, a, bin) != 1 && inet_pton(AF_INET6, a, bin) != 1)
		die("a kept address does not parse");
}

static void check_info(const json_t *ret)
{
	json_t *os = qga_osinfo_parse(ret), *ips = NULL, *v, *ifc;
	const char *k;
	size_t i, j;
	json_object_foreach(os, k, v)
		check_str(v);
	json_decref(os);
	free(qga_hostname_parse(ret));
	json_t *ifs = qga_interfaces_parse(ret, &ips);
	if (json_array_size(ifs) > QGA_MAX_IFACES || json_array_size(ips) > QGA_MAX_ADDRS)
		die("too many interfaces or addresses kept");
	json_array_foreach(ifs, i, ifc) {
		check_str(json_object_get(ifc, "name"));
		if (json_object_get(ifc, "mac"))
			check_str(json_object_get(ifc, "mac"));
		if (json_array_size(json_object_get(ifc, "addresses")) > QGA_MAX_ADDRS)
			die("too many addresses on an interface");
		json_array_foreach(json_object_get(ifc, "addresses"), j, v)
			check_addr(json_string_value(v), true);
	}
	json_array_foreach(ips, i, v)
		check_addr(json_string_value(v), false);
	json_decref(ifs);
	json_decref(ips);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct buf rx = BUF_INIT;
	bool delim = false, done = false;

	/* the sync scan over the stream as it arrives */
	for (size_t off = 0; off < size && !done;) {
		size_t piece = size - off < 7 ? size - off : 7;
		buf_add(&rx, in + off, piece);
		off += piece;
		size_t used = qga_sync_scan(rx.s, rx.len, 42, &delim, &done);
		if (used > rx.len)
			die("the scan consumed more than it was given");
		memmove(rx.s, rx.s + used, rx.len - used);
		rx.len -= used;
	}
	buf_release(&rx);

	/* every line as a reply */
	for (size_t pos = 0; pos < size;) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - (in + pos)) : size - pos;
		struct buf err = BUF_INIT;
		json_t *ret = NULL;
		int r = qga_reply_parse(in + pos, n, &ret, &err);
		if (r < 0 && !err.len)
			die("a refused reply without a message");
		if (r == 0)
			check_info(ret);
		json_decref(ret);
		buf_release(&err);
		pos += n + 1;
	}
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_qga", argc, argv); }
#endif
