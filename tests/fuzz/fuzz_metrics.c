/*
 * fuzz_metrics.c - fuzz target for what the metrics sampler reads from
 * outside corrald (src/metrics/procstat.c): QEMU's query-blockstats answer
 * (a QEMU runs guest code: its answers are not trusted), and the /proc
 * texts; and the Prometheus writer (src/metrics/expo.c) with the input as
 * a label value.
 *
 * Input: bytes.  As JSON, they go through ps_blockstats_parse(); as text
 * (up to the first NUL), through every /proc parser and, as a label value
 * and as HELP text, through the exposition writer.  Checked besides "no
 * crash, no leak":
 *   - every disk kept is named "disk<digits>";
 *   - the exposition of one sample is exactly one line (plus the HELP and
 *     TYPE lines), whatever the label value holds, and unescaping the
 *     value gives the input back.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/expo.h"
#include "metrics/procstat.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_metrics: %s\n", what);
	abort();
}

/* The label value between the first '="' and the '"} ' that ends the sample line, unescaped. */
static void check_roundtrip(const char *line, const char *want)
{
	const char *p = strstr(line, "=\"");
	struct buf got = BUF_INIT;
	if (!p)
		die("no label in the sample");
	for (p += 2; *p && *p != '"'; p++) {
		if (*p == '\\') {
			p++;
			if (*p == 'n')
				buf_addch(&got, '\n');
			else if (*p == '\\' || *p == '"')
				buf_addch(&got, *p);
			else
				die("an escape the format does not have");
		} else {
			buf_addch(&got, *p);
		}
	}
	if (*p != '"' || strcmp(got.len ? got.s : "", want) != 0)
		die("the label value does not read back as written");
	buf_release(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	json_error_t e;
	memcpy(text, data, size);
	text[size] = '\0';

	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
	struct ps_blk *b = NULL;
	size_t n = 0;
	if (j && ps_blockstats_parse(j, &b, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (strncmp(b[i].device, "disk", 4) != 0 || !b[i].device[4] ||
			    strspn(b[i].device + 4, "0123456789") != strlen(b[i].device + 4))
				die("a disk kept that is not disk<N>");
	}
	free(b);
	json_decref(j);

	struct ps_cpu c;
	struct ps_mem m;
	struct ps_load l;
	uint64_t v;
	ps_cpu_parse(text, 100, &c);
	ps_mem_parse(text, &m);
	ps_load_parse(text, &l);
	ps_rss_parse(text, 4096, &v);
	ps_proc_cpu_parse(text, 100, &v);

	struct buf out = BUF_INIT;
	expo_family(&out, "corral_fuzz", EXPO_GAUGE, text);
	size_t head = out.len;
	expo_sample(&out, "corral_fuzz", (const char *const[]){ "vm", text, NULL }, 1);
	size_t lines = 0;
	for (size_t i = 0; i < out.len; i++)
		lines += out.s[i] == '\n';
	if (lines != 3 || out.s[out.len - 1] != '\n')
		die("one sample did not make exactly one line");
	check_roundtrip(out.s + head, text);
	buf_release(&out);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_metrics", argc, argv); }
#endif
