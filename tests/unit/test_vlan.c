/*
 * test_vlan.c - VLAN support probe, the `vlan=` parser and the bridge VLAN
 * entries (src/net/vlan.c).
 *
 * The probe runs against small fake /sys, /proc, /boot and /lib/modules
 * trees made in a temp directory: one like this machine's kernel (a bridge
 * without vlan_filtering, no 8021q anywhere) and one like Debian's (both).
 * The entries are golden: every case's `bridge vlan` lines must equal
 * tests/data/vlan/NAME.plan (CORRAL_REGENERATE_GOLDEN=1 rewrites them).  On
 * this machine VLANs cannot be applied, so this is where the configuration
 * is checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "golden.h"
#include "net/netlink.h"
#include "net/vlan.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

static void put(const char *root, const char *path, const char *text)
{
	__do_free char *p = xasprintf("%s%s", root, path);
	__do_free char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	assert_int_equal(fs_mkdir_p(dir, 0755), 0);
	assert_int_equal(fs_write_file_atomic(p, text, strlen(text), 0644), 0);
}

static void rm_tree(const char *root)
{
	/* Only the temp tree this test made: remove its known files and dirs. */
	static const char *const files[] = {
		"/sys/class/net/br0/bridge/stp_state", "/sys/class/net/br0/bridge/vlan_filtering",
		"/sys/class/net/eth0/mtu",             "/boot/config-6.1.0-13-amd64",
		"/lib/modules/6.1.0-13-amd64/modules.dep", "/proc/net/vlan/config",
	};
	static const char *const dirs[] = {
		"/sys/class/net/br0/bridge", "/sys/class/net/br0", "/sys/class/net/eth0", "/sys/class/net",
		"/sys/class", "/sys", "/boot", "/lib/modules/6.1.0-13-amd64", "/lib/modules", "/lib",
		"/proc/net/vlan", "/proc/net", "/proc",
	};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		__do_free char *p = xasprintf("%s%s", root, files[i]);
		unlink(p);
	}
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		__do_free char *p = xasprintf("%s%s", root, dirs[i]);
		rmdir(p);
	}
	assert_int_equal(rmdir(root), 0);
}

static void test_probe_this_kernel(void **state)
{
	char root[] = "/tmp/test_vlan.XXXXXX";
	struct vlan_support s = { true, true };
	__do_buf struct buf err = BUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* A bridge without the vlan_filtering attribute; no 8021q anywhere. */
	put(root, "/sys/class/net/br0/bridge/stp_state", "0\n");
	put(root, "/sys/class/net/eth0/mtu", "1500\n");
	assert_int_equal(vlan_support_probe(root, "6.18.44-fc", NULL, &s), 0);
	assert_false(s.bridge_filtering);
	assert_false(s.dot1q);
	assert_int_equal(vlan_support_require(&s, VLAN_NEED_BRIDGE_FILTERING, "6.18.44-fc", &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.s, "bridge VLAN filtering"));
	assert_non_null(strstr(err.s, "CONFIG_BRIDGE_VLAN_FILTERING"));
	assert_non_null(strstr(err.s, "6.18.44-fc"));
	buf_reset(&err);
	assert_int_equal(vlan_support_require(&s, VLAN_NEED_DOT1Q, "6.18.44-fc", &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.s, "CONFIG_VLAN_8021Q"));
	/* Asking about that bridge by name gives the same answer. */
	assert_int_equal(vlan_support_probe(root, "6.18.44-fc", "br0", &s), 0);
	assert_false(s.bridge_filtering);
	rm_tree(root);
}

static void test_probe_debian_kernel(void **state)
{
	char root[] = "/tmp/test_vlan.XXXXXX";
	struct vlan_support s = { false, false };
	__do_buf struct buf err = BUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(root));
	/* No bridge yet: the kernel config and module list answer. */
	put(root, "/boot/config-6.1.0-13-amd64",
	    "# Linux kernel config\nCONFIG_BRIDGE=m\nCONFIG_BRIDGE_VLAN_FILTERING=y\nCONFIG_VLAN_8021Q=m\n");
	put(root, "/lib/modules/6.1.0-13-amd64/modules.dep",
	    "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko\nkernel/net/8021q/8021q.ko: kernel/net/802/garp.ko\n");
	assert_int_equal(vlan_support_probe(root, "6.1.0-13-amd64", NULL, &s), 0);
	assert_true(s.bridge_filtering);
	assert_true(s.dot1q);
	assert_int_equal(vlan_support_require(&s, VLAN_NEED_BRIDGE_FILTERING, "6.1.0-13-amd64", &err), 0);
	assert_int_equal(vlan_support_require(&s, VLAN_NEED_DOT1Q, "6.1.0-13-amd64", &err), 0);
	assert_int_equal(err.len, 0);
	/* A bridge with the attribute, and a loaded 8021q. */
	put(root, "/sys/class/net/br0/bridge/vlan_filtering", "0\n");
	put(root, "/proc/net/vlan/config", "VLAN Dev name | VLAN ID\n");
	assert_int_equal(vlan_support_probe(root, "other", "br0", &s), 0);
	assert_true(s.bridge_filtering);
	assert_true(s.dot1q);
	rm_tree(root);
}

struct vcase {
	const char *name, *spec;
};

static const struct vcase plans[] = {
	{ "access-10", "10" },
	{ "access-1", "1" },
	{ "trunk", "trunk:10/20/100-103" },
	{ "trunk-native", "trunk:30/native=5/10-11" },
	{ "trunk-native-1", "trunk:native=1/4094" },
	{ "trunk-overlap", "trunk:10-12/11/12-13" },
};

static void test_plan_golden(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(plans); i++) {
		struct vlan_spec s = VLAN_SPEC_INIT;
		__do_free struct vlan_entry *e = NULL;
		__do_buf struct buf out = BUF_INIT, err = BUF_INIT;
		size_t n = 0;

		if (vlan_spec_parse(plans[i].spec, &s, &err) < 0)
			fail_msg("%s: %s", plans[i].name, err.s);
		assert_int_equal(vlan_plan(&s, &e, &n, &err), 0);
		vlan_spec_release(&s);
		buf_printf(&out, "# vlan=%s\n", plans[i].spec);
		vlan_plan_format("tap-web0", e, n, &out);
		/* Invariants: exactly one pvid at most, VIDs ascending and unique. */
		int pvids = 0, last = 0;
		for (size_t k = 0; k < n; k++) {
			pvids += e[k].pvid;
			if (!e[k].del) {
				assert_true(e[k].vid > last);
				last = e[k].vid;
			}
			assert_true(e[k].vid >= 1 && e[k].vid <= 4094);
		}
		assert_true(pvids <= 1);
		__do_free char *file = xasprintf("%s.plan", plans[i].name);
		failed += golden_compare("vlan", file, out.s);
	}
	if (failed)
		fail_msg("%d golden plan(s) differ", failed);
}

/*
 * The rtnetlink requests that apply the plans (what the kernel receives, byte
 * for byte): tests/data/vlan/NAME.netlink, for a port of ifindex 7, after the
 * request that turns VLAN filtering on bridge cr-lab on.  This machine's
 * kernel cannot take them, so their bytes are what is checked here.
 */
static void test_netlink_golden(void **state)
{
	char msg[8192];
	int failed = 0;

	(void)state;
	{
		__do_buf struct buf out = BUF_INIT;
		struct nlmsghdr *nlh = nl_bridge_vlan_filtering_msg(msg, "cr-lab", true);
		buf_adds(&out, "# VLAN filtering on for bridge cr-lab\n");
		nl_msg_format(nlh, &out);
		assert_non_null(strstr(out.s, "IFLA_BR_VLAN_FILTERING(7) len 5 = 01"));
		failed += golden_compare("vlan", "filtering.netlink", out.s);
	}
	for (size_t i = 0; i < ARRAY_SIZE(plans); i++) {
		struct vlan_spec s = VLAN_SPEC_INIT;
		__do_free struct vlan_entry *e = NULL;
		__do_buf struct buf out = BUF_INIT, err = BUF_INIT;
		size_t n = 0;

		assert_int_equal(vlan_spec_parse(plans[i].spec, &s, &err), 0);
		assert_int_equal(vlan_plan(&s, &e, &n, &err), 0);
		vlan_spec_release(&s);
		buf_printf(&out, "# vlan=%s on port ifindex 7\n", plans[i].spec);
		for (size_t k = 0; k < n; k++) {
			struct nlmsghdr *nlh = nl_port_vlan_msg(msg, 7, &e[k]);
			__do_buf struct buf one = BUF_INIT;
			nl_msg_format(nlh, &one);
			/* what must hold whatever the file says: the message and the entry agree */
			assert_non_null(strstr(one.s, e[k].del ? "RTM_DELLINK" : "RTM_SETLINK"));
			assert_non_null(strstr(one.s, "family AF_BRIDGE(7) index 7"));
			__do_free char *vid = xasprintf("vid %u flags 0x%x", e[k].vid,
							(e[k].pvid ? 2u : 0u) | (e[k].untagged ? 4u : 0u));
			assert_non_null(strstr(one.s, vid));
			buf_adds(&out, one.s);
		}
		__do_free char *file = xasprintf("%s.netlink", plans[i].name);
		failed += golden_compare("vlan", file, out.s);
	}
	if (failed)
		fail_msg("%d golden netlink file(s) differ", failed);
}

static void test_spec_parse(void **state)
{
	static const struct {
		const char *spec;
		int r;
		const char *msg;
	} bad[] = {
		{ "", -EINVAL, "required" },
		{ "0", -ERANGE, "outside" },
		{ "4095", -ERANGE, "outside" },
		{ "12345", -ERANGE, "4 digits" },
		{ "10,20", -EINVAL, "one id" },
		{ "-5", -EINVAL, "expected" },
		{ "trunk:", -EINVAL, "expected" },
		{ "trunk:10/", -EINVAL, "expected" },
		{ "trunk:20-10", -EINVAL, "backwards" },
		{ "trunk:10,20", -EINVAL, "separated" },
		{ "trunk:native=5/native=6", -EINVAL, "one native" },
		{ "trunk:native=5/1-10", -EINVAL, "both native" },
		{ "trunk:10/0", -ERANGE, "outside" },
		{ "trunk:10 ", -EINVAL, "separated" },
		{ "TRUNK:10", -EINVAL, "expected" },
	};
	struct vlan_spec s = VLAN_SPEC_INIT;
	__do_buf struct buf err = BUF_INIT;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		int r = vlan_spec_parse(bad[i].spec, &s, &err);
		if (r != bad[i].r || !strstr(err.s, bad[i].msg))
			fail_msg("\"%s\": got %d \"%s\", want %d \"...%s...\"", bad[i].spec, r, err.s, bad[i].r,
				 bad[i].msg);
		vlan_spec_release(&s);
	}
	assert_int_equal(vlan_spec_parse("trunk:1-4094", &s, &err), 0);
	assert_int_equal(s.nvids, 4094);
	vlan_spec_release(&s);
	assert_int_equal(vlan_spec_parse("trunk:native=7", &s, &err), 0);
	assert_true(s.trunk);
	assert_int_equal(s.pvid, 7);
	assert_int_equal(s.nvids, 0);
	vlan_spec_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe_this_kernel),
		cmocka_unit_test(test_probe_debian_kernel),
		cmocka_unit_test(test_plan_golden),
		cmocka_unit_test(test_netlink_golden),
		cmocka_unit_test(test_spec_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
