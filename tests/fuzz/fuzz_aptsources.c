/*
 * fuzz_aptsources.c - fuzz target for the debian template's choice of
 * mirror (src/service/ct_debian.c ct_debian_mirror_of): corrald reads the
 * host's apt sources, one-line (*.list) and deb822 (*.sources) style, and
 * hands the first Debian mirror it finds to debootstrap's argv.
 *
 * Input: any bytes (NULs cut the text as a file's read would not, so they
 * are made newlines), parsed in both styles.  Checked besides "no crash, no
 * leak, no read past the input": a mirror found is an http://, https:// or
 * file:/ URI without spaces, control characters, quotes or backslashes
 * (never an option or a second argument), and is a word of the input.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "service/ct_internal.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_aptsources: %s: %s\n", what, detail);
	abort();
}

static void check(const char *text, size_t size, bool deb822)
{
	char *copy = xmalloc(size + 1);
	memcpy(copy, text, size);
	copy[size] = '\0';
	char *m = ct_debian_mirror_of(copy, deb822);
	free(copy);
	if (!m)
		return;
	if (strncmp(m, "http://", 7) != 0 && strncmp(m, "https://", 8) != 0 && strncmp(m, "file:/", 6) != 0)
		die("a mirror that is no http, https or file URI", m);
	for (const char *p = m; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '\'' || *p == '"' || *p == '\\' || *p == 0x7f)
			die("a mirror with a character debootstrap's argv must not get", m);
	if (!strstr(text, m))
		die("a mirror that is not in the input", m);
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1);
	for (size_t i = 0; i < size; i++)
		text[i] = data[i] ? (char)data[i] : '\n';
	text[size] = '\0';
	check(text, size, false);
	check(text, size, true);
	free(text);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_aptsources", argc, argv); }
#endif
