/*
 * sniff.c - what a file offered as a disk image looks like from its first
 * bytes (see appliance.h), so that a disk import that found neither a
 * partition table nor a filesystem can say what the file is instead of
 * importing a text file or an OVA as a raw disk.
 */
#include <string.h>

#include "image/appliance.h"

static bool has(const uint8_t *d, size_t len, size_t off, const char *magic, size_t n)
{
	return len >= off + n && memcmp(d + off, magic, n) == 0;
}

/* Printable UTF-8 and whitespace throughout (a multi-byte sequence cut at the end is fine). */
static bool is_text(const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint8_t c = d[i];
		if (c == '\t' || c == '\n' || c == '\r' || c == '\f' || (c >= 0x20 && c < 0x7f)) {
			i++;
			continue;
		}
		size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!n || c == 0xc0 || c == 0xc1)
			return false;
		for (size_t k = 1; k < n; k++) {
			if (i + k >= len)
				return true;
			if ((d[i + k] & 0xc0) != 0x80)
				return false;
		}
		i += n;
	}
	return true;
}

static bool mem_has(const uint8_t *d, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; i + n <= len; i++)
		if (memcmp(d + i, needle, n) == 0)
			return true;
	return false;
}

const char *img_sniff(const uint8_t *d, size_t len)
{
	if (len == 0)
		return "empty";
	if (has(d, len, 257, "ustar", 5)) {
		size_t n = strnlen((const char *)d, len < 100 ? len : 100);
		return n > 4 && memcmp(d + n - 4, ".ovf", 4) == 0 ? "ova" : "tar";
	}
	if (has(d, len, 0, "\x1f\x8b", 2))
		return "gzip";
	if (has(d, len, 0, "\xfd" "7zXZ\0", 6))
		return "xz";
	if (has(d, len, 0, "BZh", 3))
		return "bzip2";
	if (has(d, len, 0, "\x28\xb5\x2f\xfd", 4))
		return "zstd";
	if (has(d, len, 0, "PK\x03\x04", 4))
		return "zip";
	size_t i = 0;
	while (i < len && d[i] == 0)
		i++;
	if (i == len)
		return "zeros";
	if (is_text(d, len)) {
		size_t s = 0;
		if (has(d, len, 0, "\xef\xbb\xbf", 3))
			s = 3;
		while (s < len && strchr(" \t\r\n", d[s]))
			s++;
		if (s < len && d[s] == '<') {
			if (mem_has(d, len, "Envelope") && mem_has(d, len, "ovf"))
				return "ovf";
			return "xml";
		}
		return "text";
	}
	return "data";
}
