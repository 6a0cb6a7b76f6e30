/*
 * assets.c - see assets.h: UI paths to files, the session cookie, and the
 * Origin check.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "web/assets.h"
#include "util/common.h"

#define SEG_MAX 128
#define SEGS_MAX 8

static const struct {
	const char *ext;
	const char *ctype;
} types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/vnd.microsoft.icon" },
	{ "json", "application/json" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "map", "application/json" },
};

/* Segments of rel ("a/b.js") are all well-formed; false otherwise. */
static bool segments_ok(const char *rel)
{
	int n = 0;
	while (*rel) {
		size_t len = strcspn(rel, "/");
		if (len == 0 || len > SEG_MAX || rel[0] == '.' || ++n > SEGS_MAX ||
		    strspn(rel, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") < len)
			return false;
		rel += len;
		if (*rel == '/') {
			rel++;
			if (!*rel)
				return false; /* a trailing slash names a directory */
		}
	}
	return n > 0;
}

int web_asset_file(const char *path, const char *ui_dir, const char *novnc_dir, char **file, const char **ctype,
		   struct buf *err)
{
	const char *rel, *dir = ui_dir, *dot;

	*file = NULL;
	if (!path || strncmp(path, "/ui/", 4) != 0)
		goto none;
	rel = path + 4;
	if (!*rel)
		rel = "index.html";
	if (strncmp(rel, "novnc/", 6) == 0) {
		if (!novnc_dir)
			goto none;
		dir = novnc_dir;
		rel += 6;
	}
	if (!dir || !segments_ok(rel) || !(dot = strrchr(rel, '.')) || strchr(dot, '/'))
		goto none;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		if (strcmp(dot + 1, types[i].ext) == 0) {
			*ctype = types[i].ctype;
			*file = xasprintf("%s/%s", dir, rel);
			return 0;
		}
none:
	buf_printf(err, "no such file of the web UI");
	return -ENOENT;
}

bool web_cookie_get(const char *header, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);
	const char *p = header;

	while (p && *p) {
		p += strspn(p, " \t;");
		size_t n = strcspn(p, ";");
		if (n > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
			const char *v = p + nlen + 1;
			size_t vlen = n - nlen - 1;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen == 0 || vlen >= len)
				return false;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		p += n;
	}
	return false;
}

bool web_origin_same(const char *origin, const char *host, bool tls)
{
	const char *scheme = tls ? "https://" : "http://";
	size_t sl = strlen(scheme);

	if (!origin || !host || !*host || strncasecmp(origin, scheme, sl) != 0)
		return false;
	return strcasecmp(origin + sl, host) == 0;
}
