/*
 * vlan.c - kernel VLAN support probe, the `vlan=` NIC setting and the bridge
 * VLAN entries it becomes (see vlan.h).
 *
 * The probe reads facts only (sysfs, procfs, the kernel's config and module
 * lists): it never creates a link to find out, so asking changes nothing on
 * the host.  The parser and planner are pure and unit-tested with golden
 * output.
 */
#include "net/vlan.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "util/fsutil.h"
#include "util/common.h"

static bool path_exists(const char *root, const char *path)
{
	__do_free char *p = xasprintf("%s%s", root, path);
	struct stat st;

	return stat(p, &st) == 0;
}

/* true if the file root+path contains `needle` (files up to 8 MiB). */
static bool file_has(const char *root, const char *path, const char *needle)
{
	__do_free char *p = xasprintf("%s%s", root, path);
	__do_buf struct buf b = BUF_INIT;

	if (fs_read_file(p, 8u << 20, &b) < 0)
		return false;
	return strstr(b.s, needle) != NULL;
}

/* 1/0: a bridge found under /sys/class/net tells; -1: no bridge to look at. */
static int bridge_attr(const char *root, const char *bridge)
{
	__do_free char *dir = NULL;
	DIR *d;
	struct dirent *de;
	int found = -1;

	if (bridge) {
		__do_free char *b = xasprintf("/sys/class/net/%s/bridge", bridge);
		__do_free char *a = xasprintf("/sys/class/net/%s/bridge/vlan_filtering", bridge);
		if (path_exists(root, b))
			return path_exists(root, a) ? 1 : 0;
	}
	dir = xasprintf("%s/sys/class/net", root);
	d = opendir(dir);
	if (!d)
		return -1;
	while (found < 0 && (de = readdir(d))) {
		__do_free char *b = NULL, *a = NULL;

		if (de->d_name[0] == '.')
			continue;
		b = xasprintf("/sys/class/net/%s/bridge", de->d_name);
		a = xasprintf("/sys/class/net/%s/bridge/vlan_filtering", de->d_name);
		if (path_exists(root, b))
			found = path_exists(root, a) ? 1 : 0;
	}
	closedir(d);
	return found;
}

int vlan_support_probe(const char *root, const char *release, const char *bridge,
		       struct vlan_support *out)
{
	struct utsname u;
	__do_free char *config = NULL, *builtin = NULL, *dep = NULL;
	int attr;

	if (!root)
		root = "";
	if (!release) {
		if (uname(&u) == 0)
			release = u.release;
		else
			release = "unknown";
	}
	config = xasprintf("/boot/config-%s", release);
	builtin = xasprintf("/lib/modules/%s/modules.builtin", release);
	dep = xasprintf("/lib/modules/%s/modules.dep", release);

	attr = bridge_attr(root, bridge);
	if (attr >= 0)
		out->bridge_filtering = attr == 1;
	else
		out->bridge_filtering = file_has(root, config, "\nCONFIG_BRIDGE_VLAN_FILTERING=y");

	out->dot1q = path_exists(root, "/proc/net/vlan") || file_has(root, builtin, "/8021q.ko") ||
		     file_has(root, dep, "/8021q.ko") || file_has(root, config, "\nCONFIG_VLAN_8021Q=y") ||
		     file_has(root, config, "\nCONFIG_VLAN_8021Q=m");
	return 0;
}

int vlan_support_require(const struct vlan_support *s, enum vlan_need need, const char *release,
			 struct buf *err)
{
	struct utsname u;

	if (!release)
		release = uname(&u) == 0 ? u.release : "unknown";
	switch (need) {
	case VLAN_NEED_BRIDGE_FILTERING:
		if (s->bridge_filtering)
			return 0;
		if (err)
			buf_printf(err,
				   "VLANs on NICs need bridge VLAN filtering, which this kernel (%s) lacks: "
				   "it was built without CONFIG_BRIDGE_VLAN_FILTERING (no vlan_filtering "
				   "attribute on bridges); use a kernel that has it (Debian's do) or a "
				   "network without vlan=.",
				   release);
		return -EOPNOTSUPP;
	case VLAN_NEED_DOT1Q:
		if (s->dot1q)
			return 0;
		if (err)
			buf_printf(err,
				   "a VLAN uplink needs 802.1Q VLAN devices, which this kernel (%s) lacks: "
				   "it was built without CONFIG_VLAN_8021Q (no 8021q module, no /proc/net/vlan).",
				   release);
		return -EOPNOTSUPP;
	}
	return -EINVAL;
}

/* A VID: 1-4 digits in [1, 4094]; *s advanced past it. */
static int parse_vid(const char **s, uint16_t *out, struct buf *err, const char *whole)
{
	unsigned v = 0;
	int digits = 0;

	while (**s >= '0' && **s <= '9') {
		if (++digits > 4) {
			if (err)
				buf_printf(err, "vlan \"%s\": a VLAN id has at most 4 digits.", whole);
			return -ERANGE;
		}
		v = v * 10 + (unsigned)(**s - '0');
		(*s)++;
	}
	if (!digits) {
		if (err)
			buf_printf(err, "vlan \"%s\": a VLAN id (1-4094) is expected%s.", whole,
				   **s ? "" : " at the end");
		return -EINVAL;
	}
	if (v < VLAN_VID_MIN || v > VLAN_VID_MAX) {
		if (err)
			buf_printf(err, "vlan \"%s\": VLAN id %u is outside 1-4094.", whole, v);
		return -ERANGE;
	}
	*out = (uint16_t)v;
	return 0;
}

void vlan_spec_release(struct vlan_spec *s)
{
	free(s->vids);
	*s = (struct vlan_spec)VLAN_SPEC_INIT;
}

int vlan_spec_parse(const char *str, struct vlan_spec *out, struct buf *err)
{
	uint8_t set[(VLAN_VID_MAX + 8) / 8] = { 0 };
	const char *s = str;
	int r;

	*out = (struct vlan_spec)VLAN_SPEC_INIT;
	if (!str || !*str) {
		if (err)
			buf_adds(err, "vlan: a VLAN id (1-4094) or trunk:LIST is required.");
		return -EINVAL;
	}
	if (strncmp(s, "trunk:", 6)) {
		if ((r = parse_vid(&s, &out->pvid, err, str)) < 0)
			return r;
		if (*s) {
			if (err)
				buf_printf(err, "vlan \"%s\": an access VLAN is one id; a trunk is trunk:10/20/30-40.", str);
			return -EINVAL;
		}
		return 0;
	}
	out->trunk = true;
	s += 6;
	for (;;) {
		uint16_t a, b;

		if (!strncmp(s, "native=", 7)) {
			s += 7;
			if (out->pvid) {
				if (err)
					buf_printf(err, "vlan \"%s\": only one native VLAN.", str);
				return -EINVAL;
			}
			if ((r = parse_vid(&s, &out->pvid, err, str)) < 0)
				return r;
		} else {
			if ((r = parse_vid(&s, &a, err, str)) < 0)
				return r;
			b = a;
			if (*s == '-') {
				s++;
				if ((r = parse_vid(&s, &b, err, str)) < 0)
					return r;
				if (b < a) {
					if (err)
						buf_printf(err, "vlan \"%s\": range %u-%u runs backwards.", str, a, b);
					return -EINVAL;
				}
			}
			for (unsigned v = a; v <= b; v++)
				set[v / 8] |= (uint8_t)(1u << (v % 8));
		}
		if (!*s)
			break;
		if (*s != '/') {
			if (err)
				buf_printf(err, "vlan \"%s\": unexpected '%c'; items are separated by '/'.", str,
					   *s >= 0x20 && *s < 0x7f ? *s : '?');
			return -EINVAL;
		}
		s++;
	}
	if (out->pvid && (set[out->pvid / 8] & (1u << (out->pvid % 8)))) {
		if (err)
			buf_printf(err, "vlan \"%s\": VLAN %u cannot be both native (untagged) and tagged.", str,
				   out->pvid);
		out->pvid = 0;
		return -EINVAL;
	}
	for (unsigned v = VLAN_VID_MIN; v <= VLAN_VID_MAX; v++)
		if (set[v / 8] & (1u << (v % 8)))
			out->nvids++;
	if (out->nvids) {
		size_t k = 0;
		out->vids = xcalloc(out->nvids, sizeof(*out->vids));
		for (unsigned v = VLAN_VID_MIN; v <= VLAN_VID_MAX; v++)
			if (set[v / 8] & (1u << (v % 8)))
				out->vids[k++] = (uint16_t)v;
	} else if (!out->pvid) {
		if (err)
			buf_printf(err, "vlan \"%s\": a trunk needs at least one VLAN.", str);
		return -EINVAL;
	}
	return 0;
}

int vlan_plan(const struct vlan_spec *s, struct vlan_entry **out, size_t *n, struct buf *err)
{
	struct vlan_entry *e;
	size_t k = 0;
	bool uses1 = s->pvid == 1;

	*out = NULL;
	*n = 0;
	if (!s->trunk && !s->pvid) {
		if (err)
			buf_adds(err, "vlan: an access port needs a VLAN id.");
		return -EINVAL;
	}
	for (size_t i = 0; i < s->nvids; i++)
		uses1 |= s->vids[i] == 1;
	e = xcalloc(s->nvids + 2, sizeof(*e));
	if (!uses1)
		e[k++] = (struct vlan_entry){ .del = true, .vid = 1 };
	/* Ascending VIDs, the native/access one among them. */
	for (size_t i = 0, placed = !s->pvid; i < s->nvids || !placed;) {
		if (!placed && (i == s->nvids || s->pvid < s->vids[i])) {
			e[k++] = (struct vlan_entry){ .vid = s->pvid, .pvid = true, .untagged = true };
			placed = 1;
			continue;
		}
		e[k++] = (struct vlan_entry){ .vid = s->vids[i] };
		i++;
	}
	*out = e;
	*n = k;
	return 0;
}

void vlan_plan_format(const char *port, const struct vlan_entry *e, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "bridge vlan %s dev %s vid %u%s%s\n", e[i].del ? "del" : "add", port,
			   e[i].vid, e[i].pvid ? " pvid" : "", e[i].untagged ? " untagged" : "");
}
