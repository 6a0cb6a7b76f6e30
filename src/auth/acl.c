/*
 * acl.c - privileges, roles and the access decision (see auth.h).
 *
 * The model follows Proxmox VE's: privileges are the unit a route needs,
 * roles are fixed bundles of them, and an ACL entry gives a subject a role
 * on a path that covers everything below it.  Unlike Proxmox, more specific
 * entries never take rights away: rights only add up, so reading the list
 * of a subject's entries is enough to know what it may do.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "util/common.h"

static const struct {
	enum auth_priv priv;
	const char *name;
} privs[] = {
	{ AUTH_SYS_AUDIT, "Sys.Audit" },         { AUTH_VM_AUDIT, "VM.Audit" },
	{ AUTH_STORE_AUDIT, "Datastore.Audit" }, { AUTH_VM_POWER, "VM.PowerMgmt" },
	{ AUTH_VM_CONSOLE, "VM.Console" },       { AUTH_VM_SNAPSHOT, "VM.Snapshot" },
	{ AUTH_VM_BACKUP, "VM.Backup" },         { AUTH_VM_CONFIG, "VM.Config" },
	{ AUTH_STORE_ALLOCATE, "Datastore.Allocate" }, { AUTH_USER_MODIFY, "User.Modify" },
	{ AUTH_SYS_MODIFY, "Sys.Modify" },       { AUTH_HOST_PEER, "Host.Peer" },
};

#define AUDIT (AUTH_SYS_AUDIT | AUTH_VM_AUDIT | AUTH_STORE_AUDIT)

static const struct {
	const char *name;
	unsigned privs;
} roles[] = {
	{ "Administrator", AUTH_PRIV_ALL },
	{ "Operator", AUDIT | AUTH_VM_POWER | AUTH_VM_CONSOLE | AUTH_VM_SNAPSHOT | AUTH_VM_BACKUP },
	{ "Auditor", AUDIT },
};

const char *auth_priv_name(enum auth_priv p)
{
	for (size_t i = 0; i < ARRAY_SIZE(privs); i++)
		if (privs[i].priv == p)
			return privs[i].name;
	return NULL;
}

unsigned auth_role_privs(const char *name)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(roles); i++)
		if (strcmp(roles[i].name, name) == 0)
			return roles[i].privs;
	return 0;
}

const char *const *auth_role_names(void)
{
	static const char *const names[] = { "Administrator", "Operator", "Auditor", NULL };
	return names;
}

static bool scope_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '@' || c == ':';
}

int auth_scope_check(const char *path, struct buf *err)
{
	size_t n = path ? strlen(path) : 0;

	if (!path || path[0] != '/' || n > 255)
		goto bad;
	if (n == 1)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if (path[i] == '/') {
			if (path[i - 1] == '/' || i == n - 1)
				goto bad;
		} else if (!scope_char(path[i])) {
			goto bad;
		}
	}
	/* no "." or ".." segment: a scope names objects, not a walk */
	for (const char *seg = path + 1; seg; seg = strchr(seg, '/') ? strchr(seg, '/') + 1 : NULL) {
		size_t len = strcspn(seg, "/");
		if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
			goto bad;
	}
	return 0;
bad:
	buf_printf(err, "a scope is '/' or a path like /vms/NAME or /pools/NAME (segments of letters, digits, '.', "
			"'_', '-', '@', ':', not '.' or '..'; at most 255 bytes)");
	return -EINVAL;
}

/* scope covers object: equal, "/", or a prefix ending at a segment boundary. */
static bool scope_covers(const char *scope, const char *object)
{
	size_t n = strlen(scope);
	if (strcmp(scope, "/") == 0)
		return true;
	return strncmp(scope, object, n) == 0 && (object[n] == '\0' || object[n] == '/');
}

static bool subject_allows(const struct auth_acl *acl, size_t n, const char *subject, enum auth_priv priv,
			   const char *object)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(acl[i].subject, subject) == 0 && (auth_role_privs(acl[i].role) & (unsigned)priv) &&
		    scope_covers(acl[i].path, object))
			return true;
	return false;
}

bool auth_acl_allows(const struct auth_acl *acl, size_t n, const char *user, const char *token,
		     enum auth_priv priv, const char *object)
{
	if (priv == AUTH_PRIV_NONE || !user || strchr(user, '!') || !object || object[0] != '/')
		return false;
	if (!subject_allows(acl, n, user, priv, object))
		return false;
	if (token) {
		char sub[2 * AUTH_NAME_MAX + 2];
		snprintf(sub, sizeof(sub), "%s!%s", user, token);
		return subject_allows(acl, n, sub, priv, object);
	}
	return true;
}

bool auth_acl_allows_within(const struct auth_acl *acl, size_t n, const char *user, const char *token,
			    enum auth_priv priv, const char *prefix)
{
	char sub[2 * AUTH_NAME_MAX + 2];
	size_t plen;

	if (!prefix || !user)
		return false;
	if (auth_acl_allows(acl, n, user, token, priv, prefix))
		return true;
	plen = strlen(prefix);
	snprintf(sub, sizeof(sub), "%s!%s", user, token ? token : "");
	/* some entry of hers (or her token's) on a path below prefix that grants it there */
	for (size_t i = 0; i < n; i++) {
		const char *who = acl[i].subject, *path = acl[i].path;
		if (strcmp(who, user) != 0 && (!token || strcmp(who, sub) != 0))
			continue;
		if (strncmp(path, prefix, plen) != 0 || path[plen] != '/')
			continue;
		if (auth_acl_allows(acl, n, user, token, priv, path))
			return true;
	}
	return false;
}
