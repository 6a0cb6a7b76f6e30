/*
 * assets.h - which file answers a web UI path, and the small pieces of
 * HTTP the UI needs besides the API's: the session cookie and the
 * same-origin check.  No I/O beyond what the caller does with the answers.
 *
 * Paths: "/ui/" is the UI's index.html; "/ui/A/B.js" is ui_dir/A/B.js;
 * "/ui/novnc/..." is a file of noVNC's directory (Debian's novnc package)
 * when one is configured.  Every segment must be 1-128 of letters, digits,
 * '.', '_', '-', not starting with '.', at most 8 segments, and the name
 * must end in an extension the UI uses (html, js, css, svg, png, ico, json,
 * woff, woff2, ttf, map): nothing else on the host can be named, whatever
 * the directories hold besides.  Errors: -ENOENT + a sentence.
 */
#ifndef CORRAL_WEB_ASSETS_H
#define CORRAL_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define WEB_COOKIE_NAME "corral_session"

/*
 * The file for UI path `path` (starting "/ui/"): its name (caller frees)
 * and its Content-Type (a static string).  novnc_dir NULL: no noVNC.
 */
int web_asset_file(const char *path, const char *ui_dir, const char *novnc_dir, char **file, const char **ctype,
		   struct buf *err);

/*
 * The value of cookie `name` in a Cookie header ("a=1; b=2") into out
 * (NUL-terminated); false when it is absent, empty, or does not fit.
 */
bool web_cookie_get(const char *header, const char *name, char *out, size_t len);

/*
 * Does the Origin header name the host the request was sent to (scheme
 * https for TLS, else http, and the Host header, compared without case)?
 * False when either is missing.
 */
bool web_origin_same(const char *origin, const char *host, bool tls);

#endif
