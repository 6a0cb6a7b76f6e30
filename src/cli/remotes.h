/*
 * remotes.h - the CLI's list of remote corrald hosts (`corral remote`,
 * `corral --remote NAME`): the file that holds them, its parser and writer.
 *
 * The file is $XDG_CONFIG_HOME/corral/remotes.conf (default
 * ~/.config/corral/remotes.conf), mode 0600 in a 0700 directory, written
 * atomically (temp file, fsync, rename).  It holds API tokens, so a file
 * that others may read is refused.  Format (docs/remote.md, "Remotes"):
 *
 *     # comments on lines of their own
 *     default = h1
 *
 *     [h1]
 *     url = https://192.0.2.10:8006
 *     fingerprint = 35:45:EC:...:C9:D2
 *     token = alice!ci:5b0b0801...
 *
 * A section per remote, named by its remote (1-64 of letters, digits, '.',
 * '_', '-', starting with a letter or digit; "local" is reserved for the
 * unix socket); keys url (https://HOST:PORT), fingerprint (the pinned
 * SHA-256 of the server's certificate) and token (USER!ID:SECRET, optional).
 * Anything else, a duplicate, a missing key or a default naming no remote
 * is an error naming the line.  The parser treats its input as untrusted
 * (tests/fuzz/fuzz_remotes.c).
 *
 * Ownership: a struct remotes owns its strings; remotes_release wipes the
 * tokens before freeing.  Errors: 0 or -errno with one sentence appended to
 * err; a token never appears in err.  Not thread-safe (the CLI is single
 * threaded).
 */
#ifndef CORRAL_CLI_REMOTES_H
#define CORRAL_CLI_REMOTES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define REMOTES_FILE_MAX (1u << 20)
#define REMOTE_LOCAL "local"

struct remote {
	char *name;
	char *url;         /* "https://HOST:PORT", no trailing slash */
	char *fingerprint; /* "AB:CD:..." (auth_fingerprint_normalise form) */
	char *token;       /* "USER!ID:SECRET", or NULL */
};

struct remotes {
	struct remote *list;
	size_t n;
	char *def; /* the default remote's name, or NULL */
};

#define REMOTES_INIT { NULL, 0, NULL }

/* Parse the file's text (need not be NUL-terminated) into *out (REMOTES_INIT).
 * -EINVAL + "line N: ..." on anything malformed; *out is then empty. */
int remotes_parse(const char *text, size_t len, struct remotes *out, struct buf *err);
/* The file's text for r (parses back to the same remotes). */
void remotes_format(const struct remotes *r, struct buf *out);
void remotes_release(struct remotes *r);

/* The remote called name, or NULL. */
struct remote *remotes_find(const struct remotes *r, const char *name);
/* Add (or, with replace, overwrite) a remote; strings are copied.  -EEXIST
 * when it exists and !replace, -EINVAL for a bad name, URL, fingerprint or token. */
int remotes_set(struct remotes *r, const char *name, const char *url, const char *fingerprint, const char *token,
		bool replace, struct buf *err);
/* Remove a remote (and the default, if it was).  -ENOENT if there is none. */
int remotes_remove(struct remotes *r, const char *name, struct buf *err);

/* Checks of what the file and the command line hold; -EINVAL + sentence. */
int remote_name_check(const char *name, struct buf *err);
int remote_url_check(const char *url, struct buf *err);
/* A USER!ID:SECRET token (as auth_cred_parse takes it after "Bearer "). */
int remote_token_check(const char *token, struct buf *err);

/* The file's path ($XDG_CONFIG_HOME or $HOME/.config); caller frees.  NULL + err if neither is set. */
char *remotes_path(struct buf *err);
/* Read path into *out; a missing file is no remotes.  -EPERM when group or
 * others may read it (it holds tokens). */
int remotes_load(const char *path, struct remotes *out, struct buf *err);
/* Write r to path atomically, mode 0600, creating its directory (0700). */
int remotes_save(const char *path, const struct remotes *r, struct buf *err);

#endif
