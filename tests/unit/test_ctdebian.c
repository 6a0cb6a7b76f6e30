/*
 * test_ctdebian.c - the debian template's choice of mirror
 * (src/service/ct_debian.c): apt sources in one-line and deb822 style,
 * with options, comments, security and third-party entries, and hostile
 * URIs that must never reach debootstrap's argv.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "service/ct_internal.h"
#include "util/cleanup.h"
#include "util/common.h"

/* The mirror named by `text` (copied: the parser cuts it), compared with want (NULL: none). */
static void mirror(const char *text, bool deb822, const char *want)
{
	__do_free char *copy = xstrdup(text);
	__do_free char *got = ct_debian_mirror_of(copy, deb822);
	if (!want != !got || (want && strcmp(want, got) != 0))
		fail_msg("%s: want %s, got %s", text, want ? want : "none", got ? got : "none");
}

static void test_one_line(void **state)
{
	(void)state;
	mirror("deb http://deb.debian.org/debian bookworm main\n", false, "http://deb.debian.org/debian");
	mirror("# deb http://old/debian bookworm main\n"
	       "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n"
	       "deb http://security.debian.org/debian-security bookworm-security main\n"
	       "deb [arch=amd64 signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bookworm main contrib\n",
	       false, "http://mirror.example/debian");
	mirror("deb [ arch=amd64 ] http://m2/debian trixie main\n", false, "http://m2/debian");
	mirror("deb-src http://deb.debian.org/debian bookworm main\n", false, NULL);
	mirror("deb ftp://x/debian bookworm main\n", false, NULL);
	mirror("deb http://x/deb'ian bookworm main\n", false, NULL);
	mirror("deb http://x/debian\n", false, NULL);
	mirror("", false, NULL);
}

static void test_deb822(void **state)
{
	(void)state;
	mirror("Types: deb\n"
	       "# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
	       "URIs: http://deb.debian.org/debian\n"
	       "Suites: bookworm bookworm-updates\n"
	       "Components: main\n"
	       "\n"
	       "Types: deb\n"
	       "URIs: http://deb.debian.org/debian-security\n"
	       "Suites: bookworm-security\n",
	       true, "http://deb.debian.org/debian");
	mirror("Types: deb\nURIs: https://deb.nodesource.com/node_20.x\nSuites: nodistro\n\n"
	       "Types: deb-src deb\nURIs: http://local/debian\nSuites: stable\n",
	       true, "http://local/debian");
	mirror("Types: deb-src\nURIs: http://local/debian\nSuites: bookworm\n", true, NULL);
	mirror("Types: deb\nURIs: http://a b\nSuites: bookworm\n", true, "http://a");
	mirror("Types: deb\nURIs: --option\nSuites: bookworm\n", true, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_deb822),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
