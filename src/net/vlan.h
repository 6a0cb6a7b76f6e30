/*
 * vlan.h - VLANs on corral bridges: what the kernel supports, the NIC's VLAN
 * setting, and the bridge VLAN entries that realise it.
 *
 * Two kernel features are involved:
 *   - bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING): the bridge tags
 *     and untags per port.  Needed for an access VLAN on a guest's NIC and
 *     for trunk NICs.  A bridge then has a `vlan_filtering` attribute in
 *     /sys/class/net/BRIDGE/bridge/; without the option the attribute is
 *     missing and setting it answers "Operation not supported".
 *   - 802.1Q VLAN devices (CONFIG_VLAN_8021Q, module 8021q): `eth0.100`
 *     style devices, needed for a bridge whose uplink is one VLAN of a NIC.
 *     Present when /proc/net/vlan exists, or the module is built in or
 *     installed (modules.builtin / modules.dep of the running kernel).
 * Debian's kernels have both; the kernel of the machines corral is tested on
 * has neither, so there the probe answers with an error naming the missing
 * option, and nothing is changed on the host.
 *
 * The NIC setting (`vlan=` of --nic) is parsed by vlan_spec_parse():
 *     10                       access port of VLAN 10 (untagged to the guest)
 *     trunk:10/20/100-110      trunk: those VLANs tagged
 *     trunk:native=5/10/20     and VLAN 5 untagged (the native VLAN)
 * VIDs are 1..4094.  vlan_plan() turns it into bridge VLAN entries for the
 * port (`bridge vlan` semantics: the default VLAN 1 removed, then the port's
 * VIDs added, the native/access one as pvid untagged), which the net module
 * applies over netlink (RTM_SETLINK, AF_BRIDGE, IFLA_BRIDGE_VLAN_INFO per
 * entry) once the bridge has vlan_filtering on; vlan_plan_format() prints
 * them as `bridge vlan` commands for golden tests and docs.
 *
 * Errors: 0 or -errno with one sentence appended to err (may be NULL).
 * Threading: no shared state.
 */
#ifndef CORRAL_NET_VLAN_H
#define CORRAL_NET_VLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define VLAN_VID_MIN 1
#define VLAN_VID_MAX 4094

/* What the running kernel offers. */
struct vlan_support {
	bool bridge_filtering; /* CONFIG_BRIDGE_VLAN_FILTERING */
	bool dot1q;            /* CONFIG_VLAN_8021Q (built in or loadable) */
};

/*
 * Probe the kernel.  `root` prefixes every path ("" or NULL for the real
 * system; a directory tree for tests); `release` is the kernel release
 * (uname -r; NULL: the running kernel's); `bridge` an existing bridge to
 * look at (NULL: a throw-away probe is not made, the kernel config and
 * module lists answer).  Always 0: an unreadable fact counts as absent.
 */
int vlan_support_probe(const char *root, const char *release, const char *bridge,
		       struct vlan_support *out);

/* What a configuration needs. */
enum vlan_need {
	VLAN_NEED_BRIDGE_FILTERING, /* access or trunk ports on a bridge */
	VLAN_NEED_DOT1Q,            /* a VLAN device as a bridge's uplink */
};

/*
 * 0 if s has what `need` requires, else -EOPNOTSUPP with one sentence naming
 * the missing kernel feature and option (e.g. "VLANs on NICs need bridge VLAN
 * filtering, which this kernel (6.18.44) lacks: it was built without
 * CONFIG_BRIDGE_VLAN_FILTERING.").
 */
int vlan_support_require(const struct vlan_support *s, enum vlan_need need, const char *release,
			 struct buf *err);

#define VLAN_SPEC_MAX 4094

/* A NIC's VLAN setting. */
struct vlan_spec {
	bool trunk;        /* false: access port */
	uint16_t pvid;     /* access VLAN, or the trunk's native VLAN (0: none) */
	uint16_t *vids;    /* trunk: tagged VLANs, sorted, unique (malloc'ed) */
	size_t nvids;
};

#define VLAN_SPEC_INIT { .trunk = false, .pvid = 0, .vids = NULL, .nvids = 0 }

/* Parse a `vlan=` value (grammar above).  -EINVAL/-ERANGE with a reason. */
int vlan_spec_parse(const char *s, struct vlan_spec *out, struct buf *err);
void vlan_spec_release(struct vlan_spec *s);

/* One bridge VLAN entry on a port. */
struct vlan_entry {
	bool del;          /* remove the VID (the bridge's default VLAN 1) */
	uint16_t vid;
	bool pvid;         /* untagged frames from the guest go to this VLAN */
	bool untagged;     /* frames of this VLAN leave to the guest untagged */
};

/*
 * The entries for `port` (malloc'ed array in *out, free() it; *n entries):
 * first `del` of VLAN 1 (unless the spec uses VLAN 1), then the port's VIDs
 * in ascending order.
 */
int vlan_plan(const struct vlan_spec *s, struct vlan_entry **out, size_t *n, struct buf *err);

/* The plan as `bridge vlan add|del dev PORT vid N [pvid] [untagged]` lines. */
void vlan_plan_format(const char *port, const struct vlan_entry *e, size_t n, struct buf *out);

#endif
