/*
 * golden.c - the one golden-file comparison the unit tests share (see
 * golden.h): read the expectation, compare, and on a difference print the
 * first line where the two part; or, when asked, rewrite the expectation.
 */
#include "golden.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

const char *golden_data_dir(void)
{
	const char *e = getenv("CORRAL_TEST_DATA");
	return e && *e ? e : TEST_DATA_DIR;
}

bool golden_regen(void)
{
	const char *re = getenv("CORRAL_REGENERATE_GOLDEN");
	return re && !strcmp(re, "1");
}

int golden_compare(const char *sub, const char *name, const char *got)
{
	__do_free char *path = xasprintf("%s/%s/%s", golden_data_dir(), sub, name);
	__do_buf struct buf want = BUF_INIT;
	int r;

	if (golden_regen()) {
		r = fs_write_file_atomic(path, got, strlen(got), 0644);
		if (r < 0) {
			print_error("cannot write %s: %s\n", path, strerror(-r));
			return 1;
		}
		print_message("regenerated %s\n", path);
		return 0;
	}
	if ((r = fs_read_file(path, 1 << 20, &want)) < 0) {
		print_error("cannot read %s: %s (CORRAL_REGENERATE_GOLDEN=1 creates it)\n", path, strerror(-r));
		return 1;
	}
	if (strcmp(want.s, got)) {
		const char *g = got, *w = want.s;
		int line = 1;
		while (*g && *g == *w) {
			if (*g == '\n')
				line++;
			g++;
			w++;
		}
		while (g > got && g[-1] != '\n' && w > want.s && w[-1] != '\n') {
			g--;
			w--;
		}
		print_error("%s differs at line %d\n  want: %.*s\n  got:  %.*s\n", path, line,
			    (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
		return 1;
	}
	return 0;
}
