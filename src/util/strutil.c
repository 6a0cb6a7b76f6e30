/*
 * strutil.c - see strutil.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "strutil.h"
#include "common.h"

void str_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int str_unhex(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

bool str_uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	}
	return true;
}

const char *str_name_invalid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return "name is empty";
	if (n > NAME_MAX_LEN)
		return "name is longer than 63 characters";
	if (name[0] == '.' || name[0] == '-')
		return "name must not start with '.' or '-'";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(isalnum(c) || c == '.' || c == '_' || c == '-'))
			return "name may only contain letters, digits, '.', '_' and '-'";
	}
	return NULL;
}

/* The decimal number s starts with (no sign, no space) into *v, *end after it. */
static int leading_u64(const char *s, unsigned long long *v, char **end)
{
	if (!s || !isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno ? -ERANGE : 0;
}

int str_parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	char *end;
	uint64_t mult = default_unit;
	unsigned long long v;
	int r;

	if ((r = leading_u64(s, &v, &end)) < 0)
		return r;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'B': mult = 1; break;
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		case 'T': mult = 1ULL << 40; break;
		default: return -EINVAL;
		}
		end++;
		if (mult != 1 && (*end == 'i' || *end == 'I'))
			end++;
		if (mult != 1 && (*end == 'B' || *end == 'b'))
			end++;
		if (*end)
			return -EINVAL;
	}
	if (mult && v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

int str_parse_rate(const char *s, uint64_t *out)
{
	char *end;
	uint64_t mult = 1;
	unsigned long long v;
	int r;

	if ((r = leading_u64(s, &v, &end)) < 0)
		return r;
	switch (*end) {
	case 'k': case 'K': mult = 1000ULL; end++; break;
	case 'm': case 'M': mult = 1000000ULL; end++; break;
	case 'g': case 'G': mult = 1000000000ULL; end++; break;
	case 't': case 'T': mult = 1000000000000ULL; end++; break;
	default: break;
	}
	if (*end && strcmp(end, "bit") && strcmp(end, "bit/s") && strcmp(end, "bps"))
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

const char *str_fmt_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	double v = (double)bytes;
	int u = 0;
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	else
		snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

bool str_glob_match(const char *pattern, const char *s)
{
	return fnmatch(pattern, s, 0) == 0;
}

bool str_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return true;
	return false;
}

size_t str_distance(const char *a, const char *b)
{
	/* Damerau-Levenshtein (optimal string alignment), three rows. */
	size_t la = strlen(a), lb = strlen(b), rows[3][64];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > 63 || lb > 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (prev[j - 1] + cost < d)
				d = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

int str_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || *s == ' ' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

bool str_list_has(const char *list, const char *item)
{
	size_t n = item ? strlen(item) : 0;
	while (item && list && *list) {
		size_t len = strcspn(list, ",");
		if (len == n && strncmp(list, item, n) == 0)
			return true;
		list += len + (list[len] == ',');
	}
	return false;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int str_url_decode(const char *in, size_t len, bool plus_space, char **out)
{
	char *s = xmalloc(len + 1), *o = s;

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '%') {
			*o++ = plus_space && in[i] == '+' ? ' ' : in[i];
			continue;
		}
		int hi = i + 1 < len ? hex_val(in[i + 1]) : -1;
		int lo = i + 2 < len ? hex_val(in[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(s);
			return -EINVAL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	*out = s;
	return 0;
}

char *str_url_encode(const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(in);
	char *s = xmalloc(3 * n + 1), *o = s;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '.' || *p == '_' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return s;
}
