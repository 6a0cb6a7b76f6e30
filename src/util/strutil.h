/*
 * strutil.h - parsing and validating the strings users type: object names,
 * sizes with units, glob patterns, percent-encoded URL parts.
 */
#ifndef CORRAL_UTIL_STRUTIL_H
#define CORRAL_UTIL_STRUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define NAME_MAX_LEN 63

/*
 * A name of a VM or volume: 1-63 chars of [A-Za-z0-9._-], not starting with
 * '.' or '-' (so never "..", never an option, never a hidden file).
 * Returns NULL when valid, else a static reason.
 */
const char *str_name_invalid(const char *name);

/* A uuid in its text form, 8-4-4-4-12 hex digits (what may become a path
 * when a peer sends it); false for NULL. */
bool str_uuid_valid(const char *s);

/* Lower-case hex of n bytes into out (2n + 1 bytes); parse exactly 2n hex
 * chars (lower case) into n bytes: 0, or -EINVAL. */
void str_hex(const uint8_t *in, size_t n, char *out);
int str_unhex(const char *hex, uint8_t *out, size_t n);

/*
 * Parse a size: a number with optional unit K, M, G, T (powers of 1024,
 * optional trailing "iB"/"B"); a bare number is bytes unless default_unit
 * says otherwise (e.g. 1024*1024 for "--memory 256").  0 or -EINVAL/-ERANGE.
 */
int str_parse_size(const char *s, uint64_t default_unit, uint64_t *out);

/*
 * Parse a network rate in bits per second: a decimal number with optional
 * unit k, M, G, T (powers of 1000, as for link speeds; either case), then
 * optionally "bit", "bit/s" or "bps": "10M" and "10Mbit" are 10,000,000.
 * 0, or -EINVAL (not a rate) / -ERANGE (overflows 64 bits).
 */
int str_parse_rate(const char *s, uint64_t *out);

/* A decimal integer in [min, max], nothing else around it: 0, or -EINVAL. */
int str_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

/* Human size: "256M", "1.5G".  Writes into buf (>= 16 bytes). */
const char *str_fmt_size(uint64_t bytes, char *buf, size_t len);

/* Shell-style glob match (fnmatch without flags). */
bool str_glob_match(const char *pattern, const char *s);

/* true if the comma-separated `list` has the element `item` (NULL item: false). */
bool str_list_has(const char *list, const char *item);

/* true if s contains any byte < 0x20 or 0x7f. */
bool str_has_control(const char *s);

/* Edit distance (insertions, deletions, substitutions, adjacent swaps)
 * between two short words, for "did you mean"; words longer than 63 bytes
 * are as far as can be (SIZE_MAX). */
size_t str_distance(const char *a, const char *b);

/*
 * Percent-decode in[0..len) into a new string *out (with plus_space, '+'
 * becomes ' ' as in a query string).  -EINVAL (nothing allocated) for a '%'
 * not followed by two hex digits, or one that decodes to NUL.
 */
int str_url_decode(const char *in, size_t len, bool plus_space, char **out);
/* Percent-encode in for a URL path segment or query value: every byte but
 * A-Z a-z 0-9 - . _ ~ as %XX (upper-case hex).  Caller frees. */
char *str_url_encode(const char *in);

#endif
