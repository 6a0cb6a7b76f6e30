/*
 * golden.h - golden-file comparison for the unit tests: a test renders what
 * it checks (a QEMU command line, an nft transaction, a netlink plan...) as
 * text and compares it with a checked-in expectation under the test data
 * directory ($CORRAL_TEST_DATA, else TEST_DATA_DIR given by meson).
 *
 * With CORRAL_REGENERATE_GOLDEN=1 in the environment the expectation is
 * rewritten instead (then review the diff like code).  A difference is
 * reported on stderr with the first differing line of both sides.
 *
 * Errors: golden_compare answers 0 (equal, or rewritten) or 1 (differs,
 * missing, unwritable), so callers can count failures and report them all.
 * Threading: none (tests are single-threaded).
 */
#ifndef CORRAL_TESTS_GOLDEN_H
#define CORRAL_TESTS_GOLDEN_H

#include <stdbool.h>

/* The test data directory. */
const char *golden_data_dir(void);
/* Whether CORRAL_REGENERATE_GOLDEN=1 asks to rewrite the expectations. */
bool golden_regen(void);
/* Compare got with DATA/sub/name (or rewrite it): 0 when equal, 1 otherwise. */
int golden_compare(const char *sub, const char *name, const char *got);

#endif
