/*
 * auth.h - who may call corrald over the network, and what they may do.
 *
 * The pure parts of identity and rights, without the store or HTTP:
 *
 *   - privileges and roles (acl.c): a route of the API needs one privilege
 *     (enum auth_priv) on one object path ("/vms/web", "/pools/fast/volumes/
 *     d1", "/host"); a role is a fixed set of privileges (Administrator,
 *     Operator, Auditor); an ACL entry binds a subject (a user "alice" or one
 *     of her tokens "alice!ci") to a role on a scope path.  An entry covers
 *     its path and everything below it ("/" covers all).  Rights add up:
 *     the privilege is granted if any entry of the subject grants it on a
 *     prefix of the object path.  A token never has more rights than its
 *     user: both must be granted.
 *   - credentials (token.c): the Authorization header, "Bearer
 *     USER!TOKENID:SECRET" for API tokens and "Basic base64(USER:PASSWORD)"
 *     for passwords, parsed without trusting a byte of it; names of users
 *     and tokens; token secrets made from the kernel's random bytes and
 *     stored only as their SHA-256.
 *   - passwords (password.c): yescrypt hashes through libcrypt.
 *   - failed-login rate limiting (ratelimit.c): per user and per source
 *     address, in memory (a restart forgets; so does the window).
 *   - the host's TLS certificate (cert.c): a self-signed one made at first
 *     start, and SHA-256 fingerprints.
 *   - the web UI's login sessions (session.c): random ids kept as hashes in
 *     memory, with their user, CSRF token, idle and absolute deadlines.
 *
 * Errors: 0 or -errno with one sentence appended to err.  Secrets (a
 * password, a token secret, a private key) never go into err, the log, or
 * any string these functions return other than the one that carries them.
 * Threading: everything is reentrant; a ratelimit table and a session
 * table have their own lock.
 */
#ifndef CORRAL_AUTH_AUTH_H
#define CORRAL_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- privileges and roles (acl.c) ---- */

enum auth_priv {
	AUTH_PRIV_NONE = 0,        /* a route without one: a bug (test_auth checks the table) */
	AUTH_SYS_AUDIT = 1 << 0,   /* read the host, jobs, events, users and ACLs */
	AUTH_VM_AUDIT = 1 << 1,    /* read VM definitions, state, snapshots, serial log */
	AUTH_STORE_AUDIT = 1 << 2, /* read pools, volumes (and files inside them), repositories, backups, policies */
	AUTH_VM_POWER = 1 << 3,    /* start, stop, kill, reboot, pause, resume; cancel jobs */
	AUTH_VM_CONSOLE = 1 << 4,  /* the serial console */
	AUTH_VM_SNAPSHOT = 1 << 5, /* take, revert and delete snapshots */
	AUTH_VM_BACKUP = 1 << 6,   /* run and verify backups */
	AUTH_VM_CONFIG = 1 << 7,   /* create, edit, delete, clone VMs; disks, CD-ROMs, restores */
	AUTH_STORE_ALLOCATE = 1 << 8, /* create and delete pools, volumes, repositories, policies, backups */
	AUTH_USER_MODIFY = 1 << 9, /* users, tokens and ACLs */
	AUTH_SYS_MODIFY = 1 << 10, /* the host's own configuration: networks, host settings */
	AUTH_PRIV_ALL = (1 << 11) - 1, /* every privilege a role can hold (Administrator) */
	/* Only a trusted host (identity "host:NAME", authenticated by its pinned
	 * client certificate) holds it: routes used only between hosts need it.
	 * No role has it, so no user or token can call them. */
	AUTH_HOST_PEER = 1 << 11,
	AUTH_PRIV_HOST = AUTH_PRIV_ALL | AUTH_HOST_PEER, /* what a trusted host may do */
};

/* The privilege's name ("VM.PowerMgmt"), or NULL for none or a set of several. */
const char *auth_priv_name(enum auth_priv p);
/* The privileges of role `name` (exact, case-sensitive); 0 for an unknown role. */
unsigned auth_role_privs(const char *name);
/* The role names, for listing: NULL-terminated. */
const char *const *auth_role_names(void);

struct auth_acl {
	const char *subject; /* "user" or "user!tokenid" */
	const char *role;
	const char *path;    /* "/", "/vms", "/vms/NAME", "/pools/NAME", ... */
};

/*
 * Is `path` a scope an ACL may name: "/" or "/" followed by segments of
 * letters, digits and ". _ - @ :", no empty segment, at most 255 bytes?
 * -EINVAL with a sentence otherwise.
 */
int auth_scope_check(const char *path, struct buf *err);

/*
 * May `user` (with `token`, or NULL when she logged in with her password)
 * exercise privilege `priv` on `object`, given the ACL entries?  With a
 * token, both the token's entries and the user's must grant it.
 */
bool auth_acl_allows(const struct auth_acl *acl, size_t n, const char *user, const char *token,
		     enum auth_priv priv, const char *object);

/*
 * May the subject exercise `priv` on `prefix` or on something below it
 * ("/vms": on some VM)?  True when auth_acl_allows on prefix, or on the path
 * of one of the user's or the token's own entries below prefix.  (Lists
 * answered with what the caller may read ask this first.)
 */
bool auth_acl_allows_within(const struct auth_acl *acl, size_t n, const char *user, const char *token,
			    enum auth_priv priv, const char *prefix);

/* ---- credentials (token.c) ---- */

#define AUTH_NAME_MAX 64
#define AUTH_SECRET_HEX 64 /* a token secret: 32 random bytes in hex */

/* User names: 1-64 of [A-Za-z0-9._@-], starting with a letter or digit.  -EINVAL + sentence. */
int auth_user_name_check(const char *name, struct buf *err);
/* Token ids: 1-64 of [A-Za-z0-9._-], starting with a letter or digit.  -EINVAL + sentence. */
int auth_token_id_check(const char *id, struct buf *err);

/*
 * The caller a pool member names when it forwards a request (docs/remote.md
 * "Forwarding in a pool"): "USER" or "USER!TOKEN", each a valid name, into
 * user and token (>= AUTH_NAME_MAX + 1 bytes each; token "" without one).
 * -EINVAL + a sentence for anything else.
 */
int auth_caller_parse(const char *value, char *user, char *token, struct buf *err);

enum auth_kind { AUTH_NONE, AUTH_TOKEN, AUTH_PASSWORD };

/* Credentials taken from one Authorization header; secret wiped by auth_cred_release. */
struct auth_cred {
	enum auth_kind kind;
	char user[AUTH_NAME_MAX + 1];
	char token[AUTH_NAME_MAX + 1]; /* AUTH_TOKEN only */
	char secret[256];              /* the token secret or the password */
};

/*
 * Parse an Authorization header value (NULL: none -> kind AUTH_NONE, 0).
 * -EINVAL + a sentence (never quoting the secret) when it is malformed:
 * another scheme, a bad name, a secret too long or with control bytes.
 */
int auth_cred_parse(const char *header, struct auth_cred *out, struct buf *err);
/* Wipe the secret. */
void auth_cred_release(struct auth_cred *c);

/* A new token secret: AUTH_SECRET_HEX hex digits + NUL into out (>= 65 bytes). */
int auth_secret_new(char *out, size_t len, struct buf *err);
/* "sha256:<hex>" of a token secret; caller frees. */
char *auth_secret_hash(const char *secret);
/* secret hashes to `hash` (constant time in the secret). */
bool auth_secret_verify(const char *secret, const char *hash);

/* ---- passwords (password.c) ---- */

/* A yescrypt hash ("$y$...") of password; caller frees.  -errno + err. */
int auth_password_hash(const char *password, char **out, struct buf *err);
/* password matches the crypt(3) hash (constant time in the comparison). */
bool auth_password_verify(const char *password, const char *hash);
/* A password is 8 to 255 bytes without control characters; -EINVAL + sentence. */
int auth_password_check(const char *password, struct buf *err);

/* ---- failed-login rate limiting (ratelimit.c) ---- */

struct auth_ratelimit;

/* At most `limit` failures per key within window_s seconds (limit 0: never limited). */
struct auth_ratelimit *auth_ratelimit_new(unsigned limit, unsigned window_s);
void auth_ratelimit_free(struct auth_ratelimit *rl);
/* 0 if key may try now, else the seconds until it may (> 0). */
int64_t auth_ratelimit_check(struct auth_ratelimit *rl, const char *key, int64_t now_ms);
/* Record a failure of key. */
void auth_ratelimit_fail(struct auth_ratelimit *rl, const char *key, int64_t now_ms);

/* ---- the host certificate (cert.c) ---- */

/*
 * Make sure cert_path and key_path hold a certificate and its key: when
 * neither exists, create a self-signed ECDSA P-256 certificate for
 * `hostname` valid 10 years (key written 0600 first, both atomically).
 * When both exist they are only checked to belong together.  -errno + err
 * (naming the files, never their content).
 */
int auth_cert_ensure(const char *cert_path, const char *key_path, const char *hostname, struct buf *err);
/* The SHA-256 fingerprint of the first certificate in PEM text, as
 * "AB:CD:..." (95 characters); caller frees.  -EINVAL + err if none. */
int auth_cert_fingerprint(const char *pem, size_t len, char **out, struct buf *err);
/* The same of a DER certificate (what a TLS peer presents); -EINVAL if it does not parse. */
int auth_cert_der_fingerprint(const void *der, size_t len, char **out, struct buf *err);
/* A DER certificate as PEM text; caller frees.  -EINVAL if it does not parse. */
int auth_cert_der_to_pem(const void *der, size_t len, char **out, struct buf *err);
/* Normalise a fingerprint a user typed (colons optional, any case) to the
 * "AB:CD:..." form into out (>= 96 bytes); -EINVAL if it is not 32 bytes of hex. */
int auth_fingerprint_normalise(const char *in, char *out, size_t len);

/* ---- web UI sessions (session.c) ---- */

struct auth_sessions;

/* A table of at most `max` sessions, each ending idle_ms after its last use
 * or max_age_ms after it was made. */
struct auth_sessions *auth_sessions_new(unsigned max, int64_t idle_ms, int64_t max_age_ms);
void auth_sessions_free(struct auth_sessions *t);
/*
 * A new session of `user` (already authenticated) at now_ms: its id and its
 * CSRF token, AUTH_SECRET_HEX hex digits + NUL each, into id and csrf
 * (>= 65 bytes).  A full table ends its least recently used session.
 * -errno + err when no random bytes could be had.
 */
int auth_session_create(struct auth_sessions *t, const char *user, int64_t now_ms, char *id, char *csrf,
			struct buf *err);
/* The user and CSRF token (csrf may be NULL) of session id, which counts as
 * used now: 0, or -ENOENT when id is malformed, unknown or expired. */
int auth_session_get(struct auth_sessions *t, const char *id, int64_t now_ms, char *user, size_t user_len,
		     char *csrf, size_t csrf_len);
/* End session id (logout); false if there was none. */
bool auth_session_delete(struct auth_sessions *t, const char *id);
/* End every session of user; how many there were. */
size_t auth_sessions_drop_user(struct auth_sessions *t, const char *user);
/* got is the expected CSRF token (constant time in the bytes; NULL or "" never is). */
bool auth_csrf_equal(const char *expected, const char *got);

#endif
