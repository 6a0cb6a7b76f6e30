/*
 * test_ctdef.c - container definitions (src/core/ctdef.c): what a caller
 * may send, what the store reads back, and the refusal, with a sentence
 * naming the problem, of hostile names, unknown fields, bad roots and ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/ctdef.h"
#include "lxc/lxc.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/common.h"

static struct ct_def *parse(const char *text, enum ctdef_origin o, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	struct ct_def *d = ctdef_from_json(j, o, err);
	json_decref(j);
	return d;
}

/* text is refused from a user, with `want` in the message. */
static void refused(const char *text, const char *want)
{
	struct buf err = BUF_INIT;
	struct ct_def *d = parse(text, CTDEF_FROM_USER, &err);
	if (d || !err.s || !strstr(err.s, want))
		fail_msg("%s: expected a refusal containing \"%s\", got %s", text, want, d ? "accepted" : err.s);
	ctdef_free(d);
	buf_release(&err);
}

static void test_accepts(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"web-1\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->name, "web-1");
	assert_int_equal(d->tmpl, CT_TEMPLATE_BUSYBOX);
	assert_false(d->privileged);
	assert_int_equal(strlen(d->uuid), 36);
	ctdef_free(d);
	d = parse("{\"name\":\"db\",\"rootfs\":\"/srv/ct/db\",\"privileged\":true,\"description\":\"x\","
		  "\"uuid\":\"0B6C7B4E-1111-2222-3333-444455556666\"}",
		  CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->rootfs, "/srv/ct/db");
	assert_true(d->privileged);
	assert_string_equal(d->uuid, "0b6c7b4e-1111-2222-3333-444455556666");
	ctdef_free(d);
	buf_release(&err);
}

/* Autostart and tags (the one inventory): validated as VMs', written only when set, round-tripped. */
static void test_autostart_tags(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\",\"autostart\":true,\"start_order\":7,"
				 "\"start_delay\":3,\"tags\":[\"web\",\"db\",\"web\"]}",
				 CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_true(d->autostart);
	assert_int_equal(d->start_order, 7);
	assert_int_equal(d->start_delay, 3);
	assert_int_equal(d->ntags, 2); /* the repeat dropped */
	assert_true(ctdef_has_tag(d, "db"));
	assert_false(ctdef_has_tag(d, "dbx"));
	json_t *j = ctdef_to_json(d);
	assert_true(json_is_true(json_object_get(j, "autostart")));
	assert_int_equal(json_array_size(json_object_get(j, "tags")), 2);
	d->created_ms = 1;
	json_object_set_new(j, "idmap", json_pack("{s:i,s:i,s:i}", "uid_base", 100000, "gid_base", 100000, "count", 65536));
	struct ct_def *back = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(back);
	assert_int_equal(back->start_order, 7);
	assert_int_equal(back->ntags, 2);
	ctdef_free(back);
	json_decref(j);
	ctdef_free(d);
	/* unset: not written, so a definition without them reads as before */
	d = parse("{\"name\":\"b\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	assert_non_null(d);
	j = ctdef_to_json(d);
	assert_null(json_object_get(j, "autostart"));
	assert_null(json_object_get(j, "tags"));
	json_decref(j);
	ctdef_free(d);
	buf_release(&err);
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"start_order\":1000001}", "start_order");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"start_delay\":-1}", "start_delay");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"autostart\":1}", "autostart");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"tags\":\"web\"}", "tags must be a list");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"tags\":[\"../x\"]}", "container tag");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"tags\":[1]}", "tag must be a string");
}

static void test_roundtrip_store(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	d->idmap = (struct ct_idmap){ 100000, 200000, 65536 };
	d->created_ms = 42;
	json_t *j = ctdef_to_json(d);
	struct ct_def *e = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(e);
	assert_string_equal(e->uuid, d->uuid);
	assert_int_equal(e->idmap.uid_base, 100000);
	assert_int_equal(e->idmap.gid_base, 200000);
	assert_int_equal(e->idmap.count, 65536);
	assert_int_equal(e->created_ms, 42);
	/* the same JSON from a caller: idmap and created are not theirs to give */
	assert_null(ctdef_from_json(j, CTDEF_FROM_USER, &err));
	assert_non_null(strstr(err.s, "unknown field"));
	json_decref(j);
	ctdef_free(d);
	ctdef_free(e);
	buf_release(&err);
}

static void test_hostile_names(void **state)
{
	(void)state;
	refused("{\"name\":\"../etc\",\"template\":\"busybox\"}", "invalid container name");
	refused("{\"name\":\"a/b\",\"template\":\"busybox\"}", "invalid container name");
	refused("{\"name\":\"-x\",\"template\":\"busybox\"}", "must not start or end");
	refused("{\"name\":\"x-\",\"template\":\"busybox\"}", "must not start or end");
	refused("{\"name\":\"\",\"template\":\"busybox\"}", "name is empty");
	refused("{\"name\":\"a b\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"a.b\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"a\\nb\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"$(reboot)\",\"template\":\"busybox\"}", "letters, digits");
	refused("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"template\":\"busybox\"}",
		"longer than 63");
	refused("{\"template\":\"busybox\"}", "'name' is required");
	refused("{\"name\":7,\"template\":\"busybox\"}", "name");
}

static void test_bad_fields(void **state)
{
	(void)state;
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"net\":\"x\"}", "net");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":0,\"gid_base\":0,\"count\":1}}",
		"idmap");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"created\":1}", "created");
	refused("{\"name\":\"a\"}", "exactly one of");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"rootfs\":\"/srv/a\"}", "exactly one of");
	refused("{\"name\":\"a\",\"template\":\"alpine\"}", "unknown container template");
	refused("{\"name\":\"a\",\"template\":\"debian\",\"release\":\"buster\"}", "unknown Debian release");
	refused("{\"name\":\"a\",\"template\":\"debian\",\"release\":\"../x\"}", "unknown Debian release");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"release\":\"bookworm\"}", "'release' is for");
	refused("{\"name\":\"a\",\"tarball\":\"/srv/r.tar\",\"release\":\"bookworm\"}", "'release' is for");
	refused("{\"name\":\"a\",\"tarball\":\"/srv/r.tar\",\"template\":\"busybox\"}", "exactly one of");
	refused("{\"name\":\"a\",\"tarball\":\"/srv/r.tar\",\"rootfs\":\"/srv/a\"}", "exactly one of");
	refused("{\"name\":\"a\",\"tarball\":\"r.tar\"}", "absolute file path");
	refused("{\"name\":\"a\",\"tarball\":\"/srv/../etc/shadow\"}", "absolute file path");
	refused("{\"name\":\"a\",\"tarball\":\"/srv/r.tar\",\"halt_signal\":\"SIGKILL\"}", "halt_signal");
	refused("{\"name\":\"a\",\"rootfs\":\"srv/a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/../etc\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv//a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a/\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/./a\"}", "absolute");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a:b\"}", "absolute");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"privileged\":\"yes\"}", "privileged");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"uuid\":\"nope\"}", "invalid uuid");
	struct buf err = BUF_INIT;
	json_t *arr = json_array();
	assert_null(ctdef_from_json(arr, CTDEF_FROM_USER, &err));
	assert_non_null(strstr(err.s, "JSON object"));
	json_decref(arr);
	buf_release(&err);
}

static void test_store_checks(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	/* an unprivileged definition without its id range is not usable */
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\"}", CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "needs an idmap"));
	buf_reset(&err);
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":4294967000,"
			  "\"gid_base\":1,\"count\":65536}}",
			  CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "past the largest id"));
	buf_reset(&err);
	assert_null(parse("{\"name\":\"a\",\"template\":\"busybox\",\"idmap\":{\"uid_base\":1,\"gid_base\":1}}",
			  CTDEF_FROM_STORE, &err));
	assert_non_null(strstr(err.s, "count"));
	buf_release(&err);
}

static void test_nics(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"lan\","
				 "\"mac\":\"52:54:00:AB:CD:EF\"},{\"mode\":\"network\",\"network\":\"dmz\"}]}",
				 CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_int_equal(d->nnics, 2);
	assert_string_equal(d->nics[0].network, "lan");
	assert_string_equal(d->nics[0].mac, "52:54:00:ab:cd:ef"); /* lower case, as stored */
	assert_string_equal(d->nics[1].network, "dmz");
	assert_int_equal(strncmp(d->nics[1].mac, "52:54:00:", 9), 0); /* generated, QEMU's range */
	assert_int_equal(ctdef_nic_index(d, "52:54:00:AB:cd:ef"), 0);
	/* the generated MAC is kept through the store */
	d->idmap = (struct ct_idmap){ 100000, 100000, 65536 };
	json_t *j = ctdef_to_json(d);
	struct ct_def *e = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(e);
	assert_string_equal(e->nics[1].mac, d->nics[1].mac);
	json_decref(j);
	ctdef_free(e);
	ctdef_free(d);
	buf_release(&err);

	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"lan\",\"mac\":\"01:00:5e:00:00:01\"}]}",
		"unicast");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"lan\",\"mac\":\"52:54:00:00:00:01\"},"
		"{\"network\":\"lan\",\"mac\":\"52:54:00:00:00:01\"}]}",
		"used by another NIC");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"mac\":\"52:54:00:00:00:01\"}]}", "network");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"../x\"}]}", "network");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"mode\":\"user\"}]}", "corral network");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"lan\",\"vlan\":\"10\"}]}",
		"only a network and a MAC");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"lan\",\"speed\":1}]}", "speed");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":{\"network\":\"lan\"}}", "list");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"nics\":[{\"network\":\"a\"},{\"network\":\"b\"},"
		"{\"network\":\"c\"},{\"network\":\"d\"},{\"network\":\"e\"}]}",
		"at most 4");
}

static void test_limits(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"cpu_limit\":1.5,"
				 "\"cpu_weight\":200,\"memory_limit_mib\":64,\"pids_limit\":100}}",
				 CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_int_equal(d->limits.cpu_limit_centi, 150);
	assert_int_equal(d->limits.cpu_weight, 200);
	assert_int_equal(d->limits.memory_limit_mib, 64);
	assert_int_equal(d->limits.pids_limit, 100);
	json_t *l = ctdef_limits_to_json(&d->limits);
	char *text = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(text, "{\"cpu_limit\":1.5,\"cpu_weight\":200,\"memory_limit_mib\":64,\"pids_limit\":100}");
	free(text);
	json_decref(l);
	ctdef_free(d);
	/* none given: no "limits" member written */
	d = parse("{\"name\":\"a\",\"template\":\"busybox\"}", CTDEF_FROM_USER, &err);
	l = ctdef_to_json(d);
	assert_null(json_object_get(l, "limits"));
	json_decref(l);
	ctdef_free(d);
	buf_release(&err);

	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"memory_limit_mib\":1}}", "memory_limit_mib");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"pids_limit\":0}}", "pids_limit");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"pids_limit\":5000000}}", "pids_limit");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"cpu_limit\":0}}", "cpu_limit");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"cpu_limit\":65}}", "cpu_limit");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"cpu_limit\":\"1\"}}", "cpu_limit");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"cpu_weight\":10001}}", "cpu_weight");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":{\"swap_mib\":0}}", "swap_mib");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"limits\":[]}", "limits");
}

/* The cgroup files a container's limits become (src/lxc/limits.c), on v1 and v2. */
static void test_limit_items(void **state)
{
	(void)state;
	struct ctrt_item it[CTRT_MAX_ITEMS];
	struct buf got = BUF_INIT;
	struct ctrt_limits l = { .cpu_weight = 200, .cpu_limit_centi = 150, .memory_bytes = 64 << 20, .pids = 100 };
	int n = ctrt_limit_items(&l, false, it);
	for (int i = 0; i < n; i++)
		buf_printf(&got, "%s%s=%s;", it[i].v2 ? "2:" : "", it[i].key, it[i].value);
	assert_string_equal(got.s, "memory.limit_in_bytes=67108864;cpu.shares=2048;cpu.cfs_period_us=100000;"
				   "cpu.cfs_quota_us=150000;pids.max=100;");
	buf_reset(&got);
	l.v2_cpu = l.v2_memory = l.v2_pids = true;
	n = ctrt_limit_items(&l, false, it);
	for (int i = 0; i < n; i++)
		buf_printf(&got, "%s%s=%s;", it[i].v2 ? "2:" : "", it[i].key, it[i].value);
	assert_string_equal(got.s, "2:memory.max=67108864;2:cpu.weight=200;2:cpu.max=150000 100000;2:pids.max=100;");
	/* a start writes only the limits set; a live change every file, "none" included */
	buf_reset(&got);
	struct ctrt_limits none = { .memory_bytes = 64 << 20 };
	n = ctrt_limit_items(&none, false, it);
	assert_int_equal(n, 1);
	n = ctrt_limit_items(&none, true, it);
	for (int i = 0; i < n; i++)
		buf_printf(&got, "%s=%s;", it[i].key, it[i].value);
	assert_string_equal(got.s, "memory.limit_in_bytes=67108864;cpu.shares=1024;cpu.cfs_period_us=100000;"
				   "cpu.cfs_quota_us=-1;pids.max=max;");
	buf_reset(&got);
	none = (struct ctrt_limits){ .v2_cpu = true, .v2_memory = true, .v2_pids = true };
	n = ctrt_limit_items(&none, true, it);
	for (int i = 0; i < n; i++)
		buf_printf(&got, "%s=%s;", it[i].key, it[i].value);
	assert_string_equal(got.s, "memory.max=max;cpu.weight=100;cpu.max=max 100000;pids.max=max;");
	buf_release(&got);
}

/* A store definition with `snaps` as its "snapshots". */
static struct ct_def *with_snaps(const char *snaps, struct buf *err)
{
	__do_free char *text = xasprintf("{\"name\":\"a\",\"template\":\"busybox\",\"privileged\":true,"
					 "\"snapshots\":%s}", snaps);
	return parse(text, CTDEF_FROM_STORE, err);
}

static void test_snapshots(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = with_snaps("[{\"name\":\"s1\",\"created\":5,\"method\":\"reflink\",\"size\":4096},"
				      "{\"name\":\"before-upgrade.2\",\"created\":6,\"method\":\"btrfs-snapshot\",\"size\":-1}]",
				      &err);
	assert_non_null(d);
	assert_int_equal(d->nsnaps, 2);
	assert_int_equal(ctdef_snap_index(d, "before-upgrade.2"), 1);
	assert_int_equal(ctdef_snap_index(d, "s2"), -1);
	assert_string_equal(d->snaps[0].method, "reflink");
	assert_int_equal(d->snaps[0].size, 4096);
	/* round trip through the store's JSON */
	json_t *j = ctdef_to_json(d);
	struct ct_def *e = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(e);
	assert_int_equal(e->nsnaps, 2);
	assert_int_equal(e->snaps[1].created_ms, 6);
	/* a caller never gives snapshots */
	assert_null(ctdef_from_json(j, CTDEF_FROM_USER, &err));
	assert_non_null(strstr(err.s, "unknown field"));
	json_decref(j);
	ctdef_snap_remove(e, 0);
	assert_int_equal(e->nsnaps, 1);
	assert_string_equal(e->snaps[0].name, "before-upgrade.2");
	struct ct_snap s = { .name = "s3", .created_ms = 7, .method = "copy", .size = 1 };
	ctdef_snap_add(e, &s);
	assert_int_equal(ctdef_snap_index(e, "s3"), 1);
	ctdef_free(d);
	ctdef_free(e);
	/* refused: hostile or duplicate names, unknown methods and fields, bad numbers */
	static const char *const bad[][2] = {
		{ "[{\"name\":\"../x\",\"created\":1,\"method\":\"copy\"}]", "snapshots[0].name" },
		{ "[{\"name\":\".x\",\"created\":1,\"method\":\"copy\"}]", "snapshots[0].name" },
		{ "[{\"created\":1,\"method\":\"copy\"}]", "missing" },
		{ "[{\"name\":\"a\",\"method\":\"copy\"},{\"name\":\"a\",\"method\":\"copy\"}]", "second snapshot" },
		{ "[{\"name\":\"a\",\"method\":\"overlay\"}]", "unknown method" },
		{ "[{\"name\":\"a\",\"method\":\"copy\",\"x\":1}]", "unknown field" },
		{ "[{\"name\":\"a\",\"method\":\"copy\",\"size\":-2}]", "size" },
		{ "[\"a\"]", "must be an object" },
		{ "{}", "list of at most" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		struct ct_def *x = with_snaps(bad[i][0], &err);
		if (x || !err.s || !strstr(err.s, bad[i][1]))
			fail_msg("%s: expected a refusal containing \"%s\", got %s", bad[i][0], bad[i][1],
				 x ? "accepted" : err.s);
	}
	/* at most CT_MAX_SNAPSHOTS */
	struct buf many = BUF_INIT;
	buf_adds(&many, "[");
	for (int i = 0; i <= CT_MAX_SNAPSHOTS; i++)
		buf_printf(&many, "%s{\"name\":\"s%d\",\"method\":\"copy\"}", i ? "," : "", i);
	buf_adds(&many, "]");
	buf_reset(&err);
	assert_null(with_snaps(many.s, &err));
	assert_non_null(strstr(err.s, "at most"));
	buf_release(&many);
	buf_release(&err);
}

/* Storage: the root's volume and pool, mount points, and the paths a mount may not take. */
/* Roots from the debian template (release, default bookworm) and from tarballs; their halt signals. */
static void test_root_sources(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"d\",\"template\":\"debian\"}", CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_int_equal(d->tmpl, CT_TEMPLATE_DEBIAN);
	assert_string_equal(d->release, "bookworm");
	json_t *j = ctdef_to_json(d);
	assert_string_equal(json_string_value(json_object_get(j, "template")), "debian");
	assert_string_equal(json_string_value(json_object_get(j, "release")), "bookworm");
	json_decref(j);
	ctdef_free(d);
	d = parse("{\"name\":\"d\",\"template\":\"debian\",\"release\":\"trixie\",\"pool\":\"fast\"}",
		  CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->release, "trixie");
	ctdef_free(d);
	d = parse("{\"name\":\"t\",\"tarball\":\"/srv/img/root.tar.xz\",\"image_size\":1073741824}", CTDEF_FROM_USER,
		  &err);
	assert_non_null(d);
	assert_int_equal(d->tmpl, CT_TEMPLATE_NONE);
	assert_null(d->rootfs);
	assert_string_equal(d->tarball, "/srv/img/root.tar.xz");
	assert_string_equal(d->release, "");
	ctdef_free(d);
	/* the store keeps the tarball and the halt signal corral found */
	d = parse("{\"name\":\"t\",\"tarball\":\"/srv/r.tar\",\"halt_signal\":\"SIGRTMIN+3\",\"idmap\":{\"uid_base\":"
		  "100000,\"gid_base\":100000,\"count\":65536}}",
		  CTDEF_FROM_STORE, &err);
	assert_non_null(d);
	assert_string_equal(d->halt_signal, "SIGRTMIN+3");
	j = ctdef_to_json(d);
	assert_string_equal(json_string_value(json_object_get(j, "tarball")), "/srv/r.tar");
	assert_string_equal(json_string_value(json_object_get(j, "halt_signal")), "SIGRTMIN+3");
	json_decref(j);
	ctdef_free(d);
	buf_release(&err);
}

static void test_storage(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	struct ct_def *d = parse("{\"name\":\"a\",\"template\":\"busybox\",\"pool\":\"fast\",\"mounts\":["
				 "{\"volume\":\"data\",\"path\":\"/srv/data\"},"
				 "{\"volume\":\"logs\",\"path\":\"/var/log/app_1.x+y\",\"readonly\":true}]}",
				 CTDEF_FROM_USER, &err);
	assert_non_null(d);
	assert_string_equal(d->pool, "fast");
	assert_null(d->volume);
	assert_int_equal(d->nmounts, 2);
	assert_string_equal(d->mounts[1].volume, "logs");
	assert_string_equal(d->mounts[1].path, "/var/log/app_1.x+y");
	assert_true(d->mounts[1].readonly);
	assert_false(d->mounts[0].readonly);
	assert_int_equal(ctdef_mount_index(d, "/srv/data"), 0);
	assert_int_equal(ctdef_mount_index(d, "/srv"), -1);
	/* the store keeps volume and mounts, never the pool */
	free(d->volume);
	d->volume = xstrdup("a-root");
	json_t *j = ctdef_to_json(d);
	assert_null(json_object_get(j, "pool"));
	assert_string_equal(json_string_value(json_object_get(j, "volume")), "a-root");
	assert_int_equal(json_array_size(json_object_get(j, "mounts")), 2);
	json_object_set_new(j, "idmap", json_pack("{s:i,s:i,s:i}", "uid_base", 100000, "gid_base", 100000, "count", 65536));
	struct ct_def *back = ctdef_from_json(j, CTDEF_FROM_STORE, &err);
	assert_non_null(back);
	assert_string_equal(back->volume, "a-root");
	assert_true(back->mounts[1].readonly);
	ctdef_free(back);
	json_decref(j);
	ctdef_free(d);

	static const char *const bad_paths[] = { "", "relative/x", "/", "/proc", "/proc/sys", "/sys/fs", "/dev",
						 "/dev/shm", "/a/../b", "/a/./b", "/..", "/a//b", "/a/", "/a b",
						 "/a\\b", "/a:b", "/a\nb", "/a$b", "/a*" };
	for (size_t i = 0; i < ARRAY_SIZE(bad_paths); i++)
		if (!ctdef_mount_path_invalid(bad_paths[i]))
			fail_msg("mount path \"%s\" accepted", bad_paths[i]);
	static const char *const good_paths[] = { "/data", "/srv/a-b/c_d.e", "/procfs", "/system", "/devices", "/mnt/x+y" };
	for (size_t i = 0; i < ARRAY_SIZE(good_paths); i++)
		if (ctdef_mount_path_invalid(good_paths[i]))
			fail_msg("mount path \"%s\" refused: %s", good_paths[i], ctdef_mount_path_invalid(good_paths[i]));
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_non_null(ctdef_mount_path_invalid(longp));

	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"/x/../etc\"}]}", "'..'");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"x\"}]}", "absolute");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"/proc/x\"}]}", "/proc");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"../d\",\"path\":\"/x\"}]}", "volume");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"path\":\"/x\"}]}", "'volume' is required");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"/x\",\"opts\":\"\"}]}", "opts");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"/x\"},"
		"{\"volume\":\"e\",\"path\":\"/x\"}]}", "two mounts at /x");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[{\"volume\":\"d\",\"path\":\"/x\"},"
		"{\"volume\":\"d\",\"path\":\"/y\"}]}", "mounted twice");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"volume\":\"r\",\"mounts\":[{\"volume\":\"r\",\"path\":\"/y\"}]}",
		"the container's root");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":{}}", "mounts");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[\"d:/x\"]}", "mount 0");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"pool\":\"../x\"}", "container pool");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"volume\":\"a b\"}", "root volume");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a\",\"pool\":\"p\"}", "--rootfs directory");
	refused("{\"name\":\"a\",\"rootfs\":\"/srv/a\",\"image_size\":134217728}", "--rootfs directory");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"image_size\":1048576}", "image_size");
	refused("{\"name\":\"a\",\"template\":\"busybox\",\"image_size\":\"1G\"}", "image_size");
	{
		struct ct_def *im = parse("{\"name\":\"a\",\"template\":\"busybox\",\"image_size\":134217728}",
					  CTDEF_FROM_USER, &err);
		assert_non_null(im);
		assert_int_equal(im->image_size, 134217728);
		json_t *ij = ctdef_to_json(im);
		assert_null(json_object_get(ij, "image_size")); /* create only: the volume's format tells */
		json_decref(ij);
		ctdef_free(im);
	}
	{
		/* more than CT_MAX_MOUNTS */
		struct buf t = BUF_INIT;
		buf_adds(&t, "{\"name\":\"a\",\"template\":\"busybox\",\"mounts\":[");
		for (int i = 0; i <= CT_MAX_MOUNTS; i++)
			buf_printf(&t, "%s{\"volume\":\"v%d\",\"path\":\"/m%d\"}", i ? "," : "", i, i);
		buf_adds(&t, "]}");
		refused(t.s, "at most");
		buf_release(&t);
	}
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_roundtrip_store),
		cmocka_unit_test(test_autostart_tags),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_store_checks),
		cmocka_unit_test(test_nics),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_limit_items),
		cmocka_unit_test(test_snapshots),
		cmocka_unit_test(test_storage),
		cmocka_unit_test(test_root_sources),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
