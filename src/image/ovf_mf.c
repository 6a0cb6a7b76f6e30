/*
 * ovf_mf.c - the manifest of an appliance (see appliance.h): one line per
 * file, "SHA256(disk1.vmdk)= 3f5a...", as VMware's ovftool and VirtualBox
 * write it (SHA1 in older exports).  corrald hashes every member itself and
 * compares; this only turns the text into {"file":{"alg","digest"}}.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "image/appliance.h"
#include "util/common.h"

static int mf_line(const char *line, size_t len, size_t lineno, json_t *out, struct buf *err)
{
	static const struct { const char *prefix; const char *alg; size_t hexlen; } algs[] = {
		{ "SHA256(", "sha256", 64 },
		{ "SHA1(", "sha1", 40 },
	};
	char name[OVA_NAME_MAX + 1], hex[65];
	size_t i, k;

	while (len && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r'))
		len--;
	if (len == 0)
		return 0;
	for (i = 0; i < ARRAY_SIZE(algs); i++)
		if (len > strlen(algs[i].prefix) && strncmp(line, algs[i].prefix, strlen(algs[i].prefix)) == 0)
			break;
	if (i == ARRAY_SIZE(algs)) {
		buf_printf(err, "line %zu of the manifest is not a SHA256 or SHA1 line", lineno);
		return -EINVAL;
	}
	const char *p = line + strlen(algs[i].prefix), *end = line + len;
	const char *close = NULL;
	for (const char *q = p; q + 1 < end; q++)
		if (q[0] == ')' && q[1] == '=')
			close = q;	/* the last ")=": a file name may hold ')' */
	if (!close || close == p || (size_t)(close - p) > OVA_NAME_MAX) {
		buf_printf(err, "line %zu of the manifest has no file name", lineno);
		return -EINVAL;
	}
	memcpy(name, p, (size_t)(close - p));
	name[close - p] = '\0';
	for (k = 0; name[k]; k++)
		if ((unsigned char)name[k] < 0x20 || (unsigned char)name[k] >= 0x7f) {
			buf_printf(err, "line %zu of the manifest names a file with control characters", lineno);
			return -EINVAL;
		}
	p = close + 2;
	while (p < end && *p == ' ')
		p++;
	if ((size_t)(end - p) != algs[i].hexlen) {
		buf_printf(err, "line %zu of the manifest has a digest of the wrong length", lineno);
		return -EINVAL;
	}
	for (k = 0; k < algs[i].hexlen; k++) {
		if (!isxdigit((unsigned char)p[k])) {
			buf_printf(err, "line %zu of the manifest has a digest that is not hexadecimal", lineno);
			return -EINVAL;
		}
		hex[k] = (char)tolower((unsigned char)p[k]);
	}
	hex[k] = '\0';
	if (json_object_get(out, name)) {
		buf_printf(err, "the manifest lists %s twice", name);
		return -EINVAL;
	}
	if (json_object_size(out) >= OVA_MAX_MEMBERS) {
		buf_printf(err, "the manifest lists more than %d files", OVA_MAX_MEMBERS);
		return -EFBIG;
	}
	json_object_set_new(out, name, json_pack("{s:s,s:s}", "alg", algs[i].alg, "digest", hex));
	return 0;
}

int ovf_mf_parse(const char *text, size_t len, json_t **out, struct buf *err)
{
	json_t *m = json_object();
	size_t lineno = 1;
	int r = 0;

	*out = NULL;
	if (len > OVF_MAX_MF_SIZE) {
		buf_printf(err, "the manifest is %zu bytes, more than %u", len, OVF_MAX_MF_SIZE);
		json_decref(m);
		return -EFBIG;
	}
	for (size_t off = 0; off < len && r == 0; lineno++) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		if (memchr(text + off, '\0', n)) {
			buf_printf(err, "line %zu of the manifest holds a NUL byte", lineno);
			r = -EINVAL;
			break;
		}
		r = mf_line(text + off, n, lineno, m, err);
		off += n + 1;
	}
	if (r < 0) {
		json_decref(m);
		return r;
	}
	*out = m;
	return 0;
}
