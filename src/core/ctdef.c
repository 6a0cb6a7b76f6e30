/*
 * ctdef.c - parsing, validating and writing container definitions (see
 * ctdef.h).  Everything a caller sends passes through ctdef_from_json
 * before any file or row is made, so a refused definition changes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <uuid/uuid.h>

#include "ctdef.h"
#include "util/jsonutil.h"
#include "util/cleanup.h"
#include "util/common.h"

static const char *const template_names[] = { [CT_TEMPLATE_NONE] = "", [CT_TEMPLATE_BUSYBOX] = "busybox" };

const char *ctdef_template_name(enum ct_template t)
{
	return t == CT_TEMPLATE_BUSYBOX ? template_names[t] : NULL;
}

const char *ctdef_name_invalid(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0)
		return "name is empty";
	if (n > 63)
		return "name is longer than 63 characters";
	if (name[0] == '-' || name[n - 1] == '-')
		return "name must not start or end with '-'";
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-')
			return "name may only contain letters, digits and '-' (it is the container's hostname)";
	return NULL;
}

/* An absolute path without "." or ".." components, doubled or trailing slashes. */
static bool path_normal(const char *p)
{
	if (!p || p[0] != '/' || strlen(p) > 4000)
		return false;
	if (strcmp(p, "/") == 0)
		return false; /* the host's own root is never a container's */
	for (const char *s = p; *s; ) {
		s++; /* past '/' */
		size_t n = strcspn(s, "/");
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
	}
	for (const char *s = p; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == ':')
			return false; /* control characters; ':' would be read as an LXC storage prefix */
	return true;
}

static int get_u32(const json_t *o, const char *key, uint32_t min, uint32_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > UINT32_MAX) {
		buf_printf(err, "container definition: idmap '%s' must be a whole number from %u", key, min);
		return -EINVAL;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int parse_idmap(const json_t *m, struct ct_idmap *out, struct buf *err)
{
	static const char *const keys[] = { "uid_base", "gid_base", "count", NULL };
	if (!json_is_object(m)) {
		buf_adds(err, "container definition: 'idmap' must be an object");
		return -EINVAL;
	}
	if (json_check_keys(m, "idmap", keys, err) < 0 || get_u32(m, "uid_base", 1, &out->uid_base, err) < 0 ||
	    get_u32(m, "gid_base", 1, &out->gid_base, err) < 0 || get_u32(m, "count", 1, &out->count, err) < 0)
		return -EINVAL;
	if ((uint64_t)out->uid_base + out->count > UINT32_MAX || (uint64_t)out->gid_base + out->count > UINT32_MAX) {
		buf_adds(err, "container definition: idmap range goes past the largest id");
		return -EINVAL;
	}
	return 0;
}

struct ct_def *ctdef_from_json(const json_t *j, enum ctdef_origin origin, struct buf *err)
{
	static const char *const user_keys[] = { "name", "uuid", "description", "template", "rootfs", "privileged",
						 NULL };
	static const char *const store_keys[] = { "name", "uuid", "description", "template", "rootfs", "privileged",
						  "idmap", "created", NULL };
	const char *name = NULL, *uuid = NULL, *desc = NULL, *tmpl = NULL, *rootfs = NULL, *bad;
	bool priv = false;

	if (!json_is_object(j)) {
		buf_adds(err, "container definition must be a JSON object");
		return NULL;
	}
	if (json_check_keys(j, "container definition", origin == CTDEF_FROM_USER ? user_keys : store_keys, err) < 0)
		return NULL;
	if (json_get_str(j, "name", &name, err) < 0 || json_get_str(j, "uuid", &uuid, err) < 0 ||
	    json_get_str(j, "description", &desc, err) < 0 || json_get_str(j, "template", &tmpl, err) < 0 ||
	    json_get_str(j, "rootfs", &rootfs, err) < 0 || json_get_bool(j, "privileged", &priv, err) < 0)
		return NULL;
	if (!name) {
		buf_adds(err, "container definition: 'name' is required");
		return NULL;
	}
	if ((bad = ctdef_name_invalid(name))) {
		buf_printf(err, "invalid container name '%.64s': %s", name, bad);
		return NULL;
	}
	if (!tmpl == !rootfs) {
		buf_adds(err, "container definition: give exactly one of 'template' (busybox) and 'rootfs' (a directory)");
		return NULL;
	}
	if (tmpl && strcmp(tmpl, "busybox") != 0) {
		buf_printf(err, "unknown container template '%.64s' (known: busybox)", tmpl);
		return NULL;
	}
	if (rootfs && !path_normal(rootfs)) {
		buf_printf(err, "container rootfs '%.256s' must be an absolute directory path without '.', '..', "
			   "':' or doubled slashes, and not /", rootfs);
		return NULL;
	}
	if (desc && strlen(desc) > 1024) {
		buf_adds(err, "container description is longer than 1024 characters");
		return NULL;
	}
	struct ct_def *d = xcalloc(1, sizeof(*d));
	if (uuid) {
		uuid_t u;
		if (uuid_parse(uuid, u) < 0) {
			buf_printf(err, "container definition: invalid uuid '%.64s'", uuid);
			ctdef_free(d);
			return NULL;
		}
		uuid_unparse_lower(u, d->uuid);
	} else {
		uuid_t u;
		uuid_generate_random(u);
		uuid_unparse_lower(u, d->uuid);
	}
	d->name = xstrdup(name);
	d->description = desc ? xstrdup(desc) : NULL;
	d->tmpl = tmpl ? CT_TEMPLATE_BUSYBOX : CT_TEMPLATE_NONE;
	d->rootfs = rootfs ? xstrdup(rootfs) : NULL;
	d->privileged = priv;
	if (origin == CTDEF_FROM_STORE) {
		json_t *m = json_object_get(j, "idmap"), *c = json_object_get(j, "created");
		if (m && parse_idmap(m, &d->idmap, err) < 0) {
			ctdef_free(d);
			return NULL;
		}
		if (json_is_integer(c))
			d->created_ms = json_integer_value(c);
	}
	if (!d->privileged && origin == CTDEF_FROM_STORE && d->idmap.count == 0) {
		buf_printf(err, "container '%s': an unprivileged container needs an idmap", d->name);
		ctdef_free(d);
		return NULL;
	}
	return d;
}

json_t *ctdef_to_json(const struct ct_def *d)
{
	json_t *j = json_pack("{s:s,s:s,s:b,s:I}", "name", d->name, "uuid", d->uuid, "privileged", d->privileged,
			      "created", (json_int_t)d->created_ms);
	if (d->description)
		json_object_set_new(j, "description", json_string(d->description));
	if (d->tmpl != CT_TEMPLATE_NONE)
		json_object_set_new(j, "template", json_string(ctdef_template_name(d->tmpl)));
	if (d->rootfs)
		json_object_set_new(j, "rootfs", json_string(d->rootfs));
	if (d->idmap.count)
		json_object_set_new(j, "idmap", json_pack("{s:I,s:I,s:I}", "uid_base", (json_int_t)d->idmap.uid_base,
							  "gid_base", (json_int_t)d->idmap.gid_base, "count",
							  (json_int_t)d->idmap.count));
	return j;
}

void ctdef_free(struct ct_def *d)
{
	if (!d)
		return;
	free(d->name);
	free(d->description);
	free(d->rootfs);
	free(d);
}
