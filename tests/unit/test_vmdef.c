/*
 * test_vmdef.c - VM definitions (src/core/vmdef.c): defaults, round trips
 * through JSON, and rejection of everything a user can get wrong, with an
 * error sentence that names the offending field.
 *
 * Definitions are written as JSON text, as users and the CLI send them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include <cmocka.h>

#include "core/vmdef.h"
#include "util/buf.h"
#include "util/jsonutil.h"
#include "util/common.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		fail_msg("test JSON does not parse: %s: %s", je.text, text);
	return j;
}

/* Parse `text`; NULL with err filled on rejection. */
static struct vm_def *parse(const char *text, struct buf *err)
{
	__do_json json_t *j = load(text);
	return vmdef_from_json(j, err);
}

static struct vm_def *parse_ok(const char *text)
{
	struct buf err = BUF_INIT;
	struct vm_def *d = parse(text, &err);
	if (!d)
		fail_msg("rejected: %s\n  input: %s", err.s, text);
	assert_int_equal(err.len, 0);
	buf_release(&err);
	return d;
}

static void expect_reject(const char *text, const char *needle)
{
	struct buf err = BUF_INIT;
	struct vm_def *d = parse(text, &err);
	if (d) {
		vmdef_free(d);
		fail_msg("accepted: %s", text);
	}
	if (!strstr(err.s, needle))
		fail_msg("error \"%s\" does not mention \"%s\"\n  input: %s", err.s, needle, text);
	/* one sentence for the user, not a log */
	assert_null(strchr(err.s, '\n'));
	buf_release(&err);
}

static bool mac_looks_generated(const char *m)
{
	unsigned a, b, c;
	char tail;
	return strlen(m) == 17 && strncmp(m, "52:54:00:", 9) == 0 && sscanf(m + 9, "%2x:%2x:%2x%c", &a, &b, &c, &tail) == 3;
}

/* machine: q35 or a versioned q35 type, kept as given (the service pins it), absent by default. */
static void test_machine(void **state)
{
	(void)state;
	struct vm_def *d = parse_ok("{\"name\":\"m\"}");
	assert_null(d->machine);
	json_t *j = vmdef_to_json(d);
	assert_null(json_object_get(j, "machine"));
	json_decref(j);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"m\",\"machine\":\"pc-q35-7.2\"}");
	assert_string_equal(d->machine, "pc-q35-7.2");
	j = vmdef_to_json(d);
	assert_string_equal(json_string_value(json_object_get(j, "machine")), "pc-q35-7.2");
	json_decref(j);
	struct vm_def *c = vmdef_dup(d);
	assert_string_equal(c->machine, "pc-q35-7.2");
	vmdef_free(c);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"m\",\"machine\":\"q35\"}");
	vmdef_free(d);
	expect_reject("{\"name\":\"m\",\"machine\":\"pc-i440fx-7.2\"}", "machine must be q35");
	expect_reject("{\"name\":\"m\",\"machine\":\"pc-q35-\"}", "machine must be q35");
	expect_reject("{\"name\":\"m\",\"machine\":\"pc-q35-7.2,accel=kvm\"}", "machine must be q35");
	expect_reject("{\"name\":\"m\",\"machine\":7}", "machine");
	assert_false(vmdef_machine_valid(NULL));
	assert_true(vmdef_machine_valid("pc-q35-4.0.1"));
}

/* firmware, secure_boot and cpu: defaults, round trip, what is refused. */
static void test_firmware_cpu(void **state)
{
	(void)state;
	struct vm_def *d = parse_ok("{\"name\":\"f\"}");
	assert_int_equal(d->firmware, FIRMWARE_BIOS);
	assert_false(d->secure_boot);
	assert_null(d->cpu);
	json_t *j = vmdef_to_json(d);
	assert_string_equal(json_string_value(json_object_get(j, "firmware")), "bios");
	assert_null(json_object_get(j, "secure_boot"));
	assert_null(json_object_get(j, "cpu"));
	json_decref(j);
	vmdef_free(d);

	d = parse_ok("{\"name\":\"f\",\"firmware\":\"uefi\",\"secure_boot\":true,\"cpu\":\"Nehalem-v1\"}");
	assert_int_equal(d->firmware, FIRMWARE_UEFI);
	assert_true(d->secure_boot);
	assert_string_equal(d->cpu, "Nehalem-v1");
	struct vm_def *c = vmdef_dup(d);
	assert_int_equal(c->firmware, FIRMWARE_UEFI);
	assert_true(c->secure_boot);
	assert_string_equal(c->cpu, "Nehalem-v1");
	vmdef_free(c);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"f\",\"cpu\":\"host\"}");
	vmdef_free(d);

	expect_reject("{\"name\":\"f\",\"firmware\":\"efi\"}", "firmware must be bios or uefi");
	expect_reject("{\"name\":\"f\",\"firmware\":1}", "firmware");
	expect_reject("{\"name\":\"f\",\"secure_boot\":true}", "secure_boot needs firmware uefi");
	expect_reject("{\"name\":\"f\",\"firmware\":\"bios\",\"secure_boot\":true}", "secure_boot needs");
	expect_reject("{\"name\":\"f\",\"secure_boot\":\"yes\"}", "secure_boot");
	expect_reject("{\"name\":\"f\",\"firmware\":\"uefi\",\"secure_boot\":true,\"boot\":{\"mode\":\"kernel\","
		      "\"kernel\":\"/k\"}}", "secure_boot needs boot mode firmware");
	expect_reject("{\"name\":\"f\",\"firmware\":\"uefi\",\"secure_boot\":true,\"boot\":{\"mode\":\"disk-kernel\"}}",
		      "Secure Boot refuses a kernel");
	expect_reject("{\"name\":\"f\",\"cpu\":\"\"}", "cpu must be");
	expect_reject("{\"name\":\"f\",\"cpu\":\"max,+avx\"}", "cpu must be");
	expect_reject("{\"name\":\"f\",\"cpu\":\"-help\"}", "cpu must be");
	expect_reject("{\"name\":\"f\",\"cpu\":\"a b\"}", "cpu must be");
	expect_reject("{\"name\":\"f\",\"cpu\":7}", "cpu");
	assert_false(vmdef_cpu_valid(NULL));
	assert_false(vmdef_cpu_valid("x234567890123456789012345678901234567890123456789012345678901234"));
	assert_true(vmdef_cpu_valid("Cascadelake-Server-v5"));
	assert_true(vmdef_cpu_valid("qemu64"));
}

static void test_minimal_defaults(void **state)
{
	(void)state;
	struct vm_def *d = parse_ok("{\"name\":\"a\"}");

	assert_string_equal(d->name, "a");
	assert_int_equal(d->cpus, 1);
	assert_int_equal(d->memory_mib, 256);
	assert_int_equal(d->accel, ACCEL_AUTO);
	assert_true(d->rng);
	assert_false(d->autostart);
	assert_int_equal(d->nnics, 1);
	assert_true(mac_looks_generated(d->nics[0].mac));
	assert_false(d->vnc);
	assert_int_equal(d->boot_mode, BOOT_FIRMWARE);
	assert_int_equal(d->nboot_order, 2);
	assert_int_equal(d->boot_order[0], BOOT_DEV_DISK);
	assert_int_equal(d->boot_order[1], BOOT_DEV_CDROM);
	assert_null(d->kernel);
	assert_null(d->initrd);
	assert_null(d->cmdline);
	assert_int_equal(d->ndisks, 0);
	assert_null(d->cdrom);
	assert_int_equal(d->ntags, 0);
	assert_int_equal(d->hotplug_ports, 4);

	/* generated uuid: valid, lower case, random (version 4) */
	uuid_t u;
	assert_int_equal(strlen(d->uuid), 36);
	assert_int_equal(uuid_parse(d->uuid, u), 0);
	assert_int_equal(uuid_type(u), UUID_TYPE_DCE_RANDOM);
	for (const char *c = d->uuid; *c; c++)
		assert_false(*c >= 'A' && *c <= 'F');

	/* a second VM gets its own identity */
	struct vm_def *e = parse_ok("{\"name\":\"a\"}");
	assert_string_not_equal(d->uuid, e->uuid);
	assert_string_not_equal(d->nics[0].mac, e->nics[0].mac);

	/* the serialised defaults are what docs/api.md promises */
	__do_json json_t *j = vmdef_to_json(d);
	__do_json json_t *want = json_pack("{s:s,s:s,s:s,s:[],s:i,s:i,s:s,s:{s:s,s:[ss]},s:[],s:n,s:[{s:s,s:s,s:s}],s:n,"
					   "s:b,s:b,s:i,s:i,s:i,s:b,s:b,s:b,s:{},s:s}",
					   "name", "a", "uuid", d->uuid, "description", "", "tags", "cpus", 1,
					   "memory_mib", 256, "accel", "auto", "boot", "mode", "firmware", "order",
					   "disk", "cdrom", "disks", "cdrom", "nics", "mode", "user", "model", "virtio",
					   "mac", d->nics[0].mac, "vnc", "rng", 1, "autostart", 0, "start_order", 0,
					   "start_delay", 0, "hotplug_ports", 4,
					   "template", 0, "balloon", 1, "agent", 1, "limits", "firmware", "bios");
	assert_non_null(want);
	if (!json_equal(j, want)) {
		__do_free char *got = json_to_string(j);
		fail_msg("defaults serialise as %s", got);
	}
	vmdef_free(d);
	vmdef_free(e);
}

static const char full_firmware[] =
	"{\"name\":\"web1\",\"uuid\":\"0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a\","
	"\"description\":\"front end \\\"prod\\\" \\u00fcn\\u00efc\\u00f6de \\u2603 'quoted'\","
	"\"tags\":[\"prod\",\"eu-west.1\",\"web_tier\"],\"cpus\":64,\"memory_mib\":1048576,\"accel\":\"tcg\","
	"\"boot\":{\"mode\":\"firmware\",\"order\":[\"cdrom\",\"disk\"]},"
	"\"disks\":[{\"volume\":\"web1-root\",\"bus\":\"virtio\",\"io\":{\"iops\":100,\"bps_rd\":1048576,"
	"\"bps_wr\":4096,\"iops_max\":200,\"burst_s\":5}},{\"volume\":\"web1-data\",\"bus\":\"scsi\"},"
	"{\"volume\":\"legacy.img\",\"bus\":\"ide\"}],"
	"\"cdrom\":\"/srv/iso/debian 12, netinst.iso\","
	"\"nics\":[{\"mode\":\"user\",\"model\":\"virtio\",\"mac\":\"52:54:00:ab:cd:01\"},"
	"{\"mode\":\"network\",\"model\":\"e1000\",\"mac\":\"52:54:00:ab:cd:02\",\"network\":\"lan\",\"filter\":false}],"
	"\"vnc\":{\"listen\":\"0.0.0.0\",\"display\":3},"
	"\"rng\":false,\"autostart\":true,\"start_order\":20,\"start_delay\":30,\"hotplug_ports\":16,\"template\":false,\"balloon\":true,\"agent\":true,"
	"\"limits\":{\"cpu_weight\":200,\"cpu_limit\":1.5,\"cpuset\":\"0-1,3\",\"memory_limit_mib\":1049000,"
	"\"memory_target_mib\":512},\"firmware\":\"bios\"}";

static const char full_kernel[] =
	"{\"name\":\"k\",\"uuid\":\"00000000-0000-4000-8000-000000000001\",\"description\":\"\",\"tags\":[],"
	"\"cpus\":2,\"memory_mib\":16,\"accel\":\"kvm\","
	"\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/boot/vmlinuz\",\"initrd\":\"/boot/initrd.img\","
	"\"cmdline\":\"console=ttyS0 root=/dev/vda rw quiet panic=-1\"},"
	"\"disks\":[],\"cdrom\":null,\"nics\":[],\"vnc\":{\"listen\":\"::1\"},"
	"\"rng\":true,\"autostart\":false,\"start_order\":0,\"start_delay\":0,\"hotplug_ports\":0,\"template\":false,\"balloon\":false,\"agent\":false,"
	"\"limits\":{\"cpu_limit\":2,\"memory_limit_mib\":0},"
	"\"firmware\":\"uefi\",\"cpu\":\"Skylake-Server-v4\"}";

static void roundtrip(const char *text)
{
	__do_json json_t *in = load(text);
	struct buf err = BUF_INIT;
	struct vm_def *d = vmdef_from_json(in, &err);
	if (!d)
		fail_msg("rejected: %s", err.s);
	__do_json json_t *j1 = vmdef_to_json(d);
	/* every field was given in canonical form, so the output is the input */
	if (!json_equal(in, j1)) {
		__do_free char *got = json_to_string(j1);
		fail_msg("serialised differently:\n  in:  %s\n  out: %s", text, got);
	}
	struct vm_def *d2 = vmdef_from_json(j1, &err);
	assert_non_null(d2);
	__do_json json_t *j2 = vmdef_to_json(d2);
	assert_true(json_equal(j1, j2));

	/* vmdef_dup is the same round trip */
	struct vm_def *d3 = vmdef_dup(d);
	assert_non_null(d3);
	__do_json json_t *j3 = vmdef_to_json(d3);
	assert_true(json_equal(j1, j3));

	vmdef_free(d);
	vmdef_free(d2);
	vmdef_free(d3);
	buf_release(&err);
}

static void test_roundtrip_full(void **state)
{
	(void)state;
	roundtrip(full_firmware);
	roundtrip(full_kernel);

	struct vm_def *d = parse_ok(full_firmware);
	assert_string_equal(d->name, "web1");
	assert_int_equal(d->ntags, 3);
	assert_string_equal(d->tags[1], "eu-west.1");
	assert_int_equal(d->cpus, 64);
	assert_int_equal(d->memory_mib, 1048576);
	assert_int_equal(d->accel, ACCEL_TCG);
	assert_int_equal(d->boot_order[0], BOOT_DEV_CDROM);
	assert_int_equal(d->boot_order[1], BOOT_DEV_DISK);
	assert_int_equal(d->ndisks, 3);
	assert_int_equal(d->disks[0].bus, DISK_BUS_VIRTIO);
	assert_int_equal(d->disks[1].bus, DISK_BUS_SCSI);
	assert_int_equal(d->disks[2].bus, DISK_BUS_IDE);
	assert_int_equal(vmdef_disk_index(d, "web1-data"), 1);
	assert_int_equal(vmdef_disk_index(d, "legacy.img"), 2);
	assert_int_equal(vmdef_disk_index(d, "nope"), -1);
	assert_string_equal(d->cdrom, "/srv/iso/debian 12, netinst.iso");
	assert_string_equal(d->nics[0].mac, "52:54:00:ab:cd:01");
	assert_true(d->vnc);
	assert_string_equal(d->vnc_listen, "0.0.0.0");
	assert_int_equal(d->vnc_display, 3);
	assert_false(d->rng);
	assert_true(d->autostart);
	assert_int_equal(d->hotplug_ports, 16);
	assert_string_equal(d->description, "front end \"prod\" \xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "de \xe2\x98\x83" " 'quoted'");
	vmdef_free(d);

	d = parse_ok(full_kernel);
	assert_int_equal(d->boot_mode, BOOT_KERNEL);
	assert_string_equal(d->kernel, "/boot/vmlinuz");
	assert_string_equal(d->initrd, "/boot/initrd.img");
	assert_int_equal(d->nnics, 0);
	assert_true(d->vnc);
	assert_int_equal(d->vnc_display, -1);
	assert_int_equal(d->accel, ACCEL_KVM);
	vmdef_free(d);
}

static void test_roundtrip_partial(void **state)
{
	(void)state;
	/* definitions relying on defaults also survive to_json -> from_json unchanged */
	static const char *const defs[] = {
		"{\"name\":\"a\"}",
		"{\"name\":\"b\",\"boot\":{\"order\":[\"cdrom\"]},\"vnc\":{}}",
		"{\"name\":\"c\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\"},\"disks\":[{\"volume\":\"v\"}]}",
		"{\"name\":\"d\",\"nic\":{},\"tags\":[\"x\"],\"description\":\"hi\"}",
	};
	for (size_t i = 0; i < ARRAY_SIZE(defs); i++) {
		struct vm_def *d = parse_ok(defs[i]);
		__do_json json_t *j1 = vmdef_to_json(d);
		struct buf err = BUF_INIT;
		struct vm_def *d2 = vmdef_from_json(j1, &err);
		if (!d2)
			fail_msg("own output rejected: %s", err.s);
		__do_json json_t *j2 = vmdef_to_json(d2);
		assert_true(json_equal(j1, j2));
		/* identity is kept, not regenerated */
		assert_string_equal(d->uuid, d2->uuid);
		assert_string_equal(d->nics[0].mac, d2->nics[0].mac);
		vmdef_free(d);
		vmdef_free(d2);
		buf_release(&err);
	}
}

static void test_status_accepted_back(void **state)
{
	(void)state;
	struct vm_def *d = parse_ok(full_firmware);
	__do_json json_t *j = vmdef_to_json(d);
	/* what GET /v1/vms/{vm} returns */
	json_object_set_new(j, "status",
			    json_pack("{s:s,s:s,s:i,s:s,s:s,s:n,s:[{s:s,s:s,s:s}]}", "state", "running", "reason",
				      "started", "pid", 1234, "vnc", "127.0.0.1:5903", "since", "2026-11-22T00:35:26.123Z",
				      "job", "events", "time", "2026-11-22T00:35:26.123Z", "type", "started", "detail",
				      ""));
	struct buf err = BUF_INIT;
	struct vm_def *d2 = vmdef_from_json(j, &err);
	if (!d2)
		fail_msg("definition + status rejected: %s", err.s);
	json_object_del(j, "status");
	__do_json json_t *j2 = vmdef_to_json(d2);
	assert_true(json_equal(j, j2));
	vmdef_free(d);
	vmdef_free(d2);

	/* status must still be an object */
	expect_reject("{\"name\":\"a\",\"status\":\"running\"}", "status");
	buf_release(&err);
}

static void test_normalisation(void **state)
{
	(void)state;
	struct vm_def *d = parse_ok("{\"name\":\"a\",\"uuid\":\"0B6C5A2E-1F3D-4C5B-9A7E-8D6F5E4C3B2A\","
				    "\"nic\":{\"mac\":\"52:54:00:AB:CD:EF\"}}");
	assert_string_equal(d->uuid, "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a");
	assert_string_equal(d->nics[0].mac, "52:54:00:ab:cd:ef");

	/* the older single "nic" is read as the first of "nics" and written back as such */
	{
		__do_json json_t *j = vmdef_to_json(d);
		json_t *nics = json_object_get(j, "nics");
		assert_null(json_object_get(j, "nic"));
		assert_int_equal(json_array_size(nics), 1);
		assert_string_equal(json_string_value(json_object_get(json_array_get(nics, 0), "mac")),
				    "52:54:00:ab:cd:ef");
		assert_string_equal(json_string_value(json_object_get(json_array_get(nics, 0), "mode")), "user");
	}
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\",\"nics\":[{\"mode\":\"network\",\"network\":\"lan\"},"
		     "{\"mode\":\"network\",\"network\":\"lan\"}]}");
	assert_int_equal(d->nnics, 2);
	assert_int_equal(d->nics[0].mode, NIC_NETWORK);
	assert_string_equal(d->nics[1].network, "lan");
	assert_true(d->nics[0].filter && d->nics[1].filter); /* traffic hygiene is on by default */
	assert_string_not_equal(d->nics[0].mac, d->nics[1].mac);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\",\"nics\":[]}");
	assert_int_equal(d->nnics, 0);
	vmdef_free(d);

	/* VLANs and bandwidth of network NICs, kept through JSON */
	d = parse_ok("{\"name\":\"a\",\"nics\":[{\"mode\":\"network\",\"network\":\"lan\",\"vlan\":\"10\","
		     "\"bw\":10000000},{\"mode\":\"network\",\"network\":\"lan\",\"filter\":false,"
		     "\"vlan\":\"trunk:native=5/10/20-22\"},{\"mode\":\"network\",\"network\":\"lan\",\"bw\":0}]}");
	assert_string_equal(d->nics[0].vlan, "10");
	assert_int_equal(d->nics[0].bw, 10000000);
	assert_string_equal(d->nics[1].vlan, "trunk:native=5/10/20-22");
	assert_int_equal(d->nics[1].bw, 0);
	assert_null(d->nics[2].vlan);
	{
		struct vm_def *c2 = vmdef_dup(d);
		__do_json json_t *j = vmdef_to_json(d);
		assert_non_null(c2);
		assert_string_equal(c2->nics[1].vlan, "trunk:native=5/10/20-22");
		assert_int_equal(c2->nics[0].bw, 10000000);
		assert_null(json_object_get(json_array_get(json_object_get(j, "nics"), 2), "bw"));
		vmdef_free(c2);
	}
	vmdef_free(d);

	/* null nic / vnc / cdrom mean none */
	d = parse_ok("{\"name\":\"a\",\"nic\":null,\"vnc\":null,\"cdrom\":null}");
	assert_int_equal(d->nnics, 0);
	assert_false(d->vnc);
	assert_null(d->cdrom);
	vmdef_free(d);

	/* vnc {} listens on loopback with an automatic display */
	d = parse_ok("{\"name\":\"a\",\"vnc\":{}}");
	assert_true(d->vnc);
	assert_string_equal(d->vnc_listen, "127.0.0.1");
	assert_int_equal(d->vnc_display, -1);
	vmdef_free(d);

	/* any locally administered unicast MAC is fine, not only QEMU's prefix */
	d = parse_ok("{\"name\":\"a\",\"nic\":{\"mac\":\"02:00:00:00:00:01\"}}");
	assert_string_equal(d->nics[0].mac, "02:00:00:00:00:01");
	vmdef_free(d);

	/* limits are inclusive */
	d = parse_ok("{\"name\":\"a\",\"cpus\":1,\"memory_mib\":16,\"hotplug_ports\":0}");
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\",\"cpus\":64,\"memory_mib\":1048576,\"hotplug_ports\":16}");
	vmdef_free(d);

	/* autostart order and delay: inclusive limits, default 0, kept by a round trip */
	d = parse_ok("{\"name\":\"a\"}");
	assert_int_equal(d->start_order, 0);
	assert_int_equal(d->start_delay, 0);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\",\"start_order\":1000000,\"start_delay\":3600}");
	struct vm_def *c = vmdef_dup(d);
	assert_int_equal(c->start_order, 1000000);
	assert_int_equal(c->start_delay, 3600);
	vmdef_free(c);
	vmdef_free(d);
}

static void test_disks_limits(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;

	/* 16 disks fit */
	buf_adds(&b, "{\"name\":\"a\",\"disks\":[");
	for (int i = 0; i < 16; i++)
		buf_printf(&b, "%s{\"volume\":\"v%d\"}", i ? "," : "", i);
	buf_adds(&b, "]}");
	struct vm_def *d = parse_ok(b.s);
	assert_int_equal(d->ndisks, 16);
	assert_int_equal(d->disks[15].bus, DISK_BUS_VIRTIO);
	assert_string_equal(d->disks[15].volume, "v15");
	vmdef_free(d);

	/* 17 do not */
	buf_reset(&b);
	buf_adds(&b, "{\"name\":\"a\",\"disks\":[");
	for (int i = 0; i < 17; i++)
		buf_printf(&b, "%s{\"volume\":\"v%d\"}", i ? "," : "", i);
	buf_adds(&b, "]}");
	expect_reject(b.s, "16");
	buf_release(&b);
}

struct reject_case {
	const char *json;
	const char *needle;
};

static void run_rejects(const struct reject_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_reject(c[i].json, c[i].needle);
}

static void test_reject_unknown_fields(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		{ "{\"name\":\"a\",\"bogus\":1}", "'bogus'" },
		{ "{\"name\":\"a\",\"Name\":\"b\"}", "'Name'" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"firmware\",\"speed\":1}}", "'speed'" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"firmware\",\"speed\":1}}", "boot" },
		{ "{\"name\":\"a\",\"nic\":{\"queues\":3}}", "'queues'" },
		{ "{\"name\":\"a\",\"nic\":{\"queues\":3}}", "nic" },
		{ "{\"name\":\"a\",\"vnc\":{\"password\":\"x\"}}", "'password'" },
		{ "{\"name\":\"a\",\"vnc\":{\"password\":\"x\"}}", "vnc" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v\",\"cache\":\"none\"}]}", "'cache'" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v\",\"cache\":\"none\"}]}", "disk" },
	};
	run_rejects(c, ARRAY_SIZE(c));
}

static void test_reject_numbers(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		{ "{\"name\":\"a\",\"cpus\":0}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":65}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":-1}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":\"2\"}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":2.0}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":true}", "cpus" },
		{ "{\"name\":\"a\",\"cpus\":null}", "cpus" },
		{ "{\"name\":\"a\",\"memory_mib\":0}", "memory_mib" },
		{ "{\"name\":\"a\",\"memory_mib\":15}", "memory_mib" },
		{ "{\"name\":\"a\",\"memory_mib\":1048577}", "memory_mib" },
		{ "{\"name\":\"a\",\"memory_mib\":9223372036854775807}", "memory_mib" },
		{ "{\"name\":\"a\",\"memory_mib\":-9223372036854775808}", "memory_mib" },
		{ "{\"name\":\"a\",\"memory_mib\":\"1G\"}", "memory_mib" },
		{ "{\"name\":\"a\",\"hotplug_ports\":17}", "hotplug_ports" },
		{ "{\"name\":\"a\",\"hotplug_ports\":-1}", "hotplug_ports" },
		{ "{\"name\":\"a\",\"start_order\":-1}", "start_order" },
		{ "{\"name\":\"a\",\"start_order\":1000001}", "start_order" },
		{ "{\"name\":\"a\",\"start_order\":\"1\"}", "start_order" },
		{ "{\"name\":\"a\",\"start_delay\":3601}", "start_delay" },
		{ "{\"name\":\"a\",\"start_delay\":-1}", "start_delay" },
		{ "{\"name\":\"a\",\"vnc\":{\"display\":-1}}", "display" },
		{ "{\"name\":\"a\",\"vnc\":{\"display\":70000}}", "display" },
		{ "{\"name\":\"a\",\"vnc\":{\"display\":\"1\"}}", "display" },
	};
	run_rejects(c, ARRAY_SIZE(c));
}

static void test_reject_names(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		{ "{\"name\":\"../x\"}", "name" },
		{ "{\"name\":\"a/b\"}", "name" },
		{ "{\"name\":\"\"}", "name" },
		{ "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", "name" },
		{ "{\"name\":\"\\u0001\"}", "name" },
		{ "{\"name\":\"a\\nb\"}", "name" },
		{ "{\"name\":\"-rf\"}", "name" },
		{ "{\"name\":\".hidden\"}", "name" },
		{ "{\"name\":\"a b\"}", "name" },
		{ "{\"name\":\"a,b\"}", "name" },
		{ "{\"name\":\"caf\\u00e9\"}", "name" },
		{ "{\"name\":5}", "name" },
		{ "{\"name\":null}", "name" },
		{ "{}", "name" },
		{ "{\"cpus\":2}", "name" },
	};
	run_rejects(c, ARRAY_SIZE(c));

	/* 63 characters is the limit, inclusive */
	struct vm_def *d = parse_ok("{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}");
	assert_int_equal(strlen(d->name), 63);
	vmdef_free(d);

	/* a NUL inside a JSON string (only reachable with JSON_ALLOW_NUL) is not truncated silently */
	json_error_t je;
	__do_json json_t *j = json_loads("{\"name\":\"ok\\u0000../../etc\"}", JSON_ALLOW_NUL, &je);
	assert_non_null(j);
	struct buf err = BUF_INIT;
	assert_null(vmdef_from_json(j, &err));
	assert_contains(err.s, "name");
	buf_release(&err);
}

static void test_reject_boot(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		/* kernel mode */
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"vmlinuz\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"./vmlinuz\"}}", "absolute" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"initrd\":\"initrd.img\"}}",
		  "boot.initrd" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\\nx\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"initrd\":\"/i\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":5}}", "kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"cmdline\":\"a\\u0007b\"}}",
		  "boot.cmdline" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"order\":[\"disk\"]}}", "boot.order" },
		/* kernel fields with firmware mode (explicit or default) */
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"firmware\",\"kernel\":\"/k\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"kernel\":\"/k\"}}", "boot.kernel" },
		{ "{\"name\":\"a\",\"boot\":{\"initrd\":\"/i\"}}", "boot.initrd" },
		{ "{\"name\":\"a\",\"boot\":{\"cmdline\":\"quiet\"}}", "boot.cmdline" },
		/* mode and order */
		{ "{\"name\":\"a\",\"boot\":{\"mode\":\"pxe\"}}", "boot.mode" },
		{ "{\"name\":\"a\",\"boot\":{\"mode\":null}}", "mode" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[\"disk\",\"disk\"]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[\"cdrom\",\"cdrom\"]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[\"net\"]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[\"disk\",\"cdrom\",\"disk\"]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":\"disk\"}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":{\"order\":[1]}}", "boot.order" },
		{ "{\"name\":\"a\",\"boot\":\"firmware\"}", "boot" },
		{ "{\"name\":\"a\",\"boot\":null}", "boot" },
	};
	run_rejects(c, ARRAY_SIZE(c));

	/* the longest allowed command line */
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"cmdline\":\"");
	for (int i = 0; i < VM_MAX_CMDLINE; i++)
		buf_addch(&b, 'x');
	buf_adds(&b, "\"}}");
	struct vm_def *d = parse_ok(b.s);
	assert_int_equal(strlen(d->cmdline), VM_MAX_CMDLINE);
	vmdef_free(d);
	/* one more is too long */
	buf_reset(&b);
	buf_adds(&b, "{\"name\":\"a\",\"boot\":{\"mode\":\"kernel\",\"kernel\":\"/k\",\"cmdline\":\"");
	for (int i = 0; i <= VM_MAX_CMDLINE; i++)
		buf_addch(&b, 'x');
	buf_adds(&b, "\"}}");
	expect_reject(b.s, "boot.cmdline");
	buf_release(&b);
}

static void test_reject_disks(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v1\"},{\"volume\":\"v1\",\"bus\":\"scsi\"}]}", "'v1'" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v1\"},{\"volume\":\"v1\",\"bus\":\"scsi\"}]}", "twice" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v1\",\"bus\":\"sata\"}]}", "bus" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v1\",\"bus\":\"VIRTIO\"}]}", "bus" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"v1\",\"bus\":1}]}", "bus" },
		{ "{\"name\":\"a\",\"disks\":[{\"bus\":\"ide\"}]}", "volume" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"../etc/shadow\"}]}", "volume" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"a/b\"}]}", "volume" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":\"\"}]}", "volume" },
		{ "{\"name\":\"a\",\"disks\":[{\"volume\":7}]}", "volume" },
		{ "{\"name\":\"a\",\"disks\":[\"v1\"]}", "disk" },
		{ "{\"name\":\"a\",\"disks\":{\"volume\":\"v1\"}}", "disks" },
		{ "{\"name\":\"a\",\"disks\":null}", "disks" },
		/* cdrom */
		{ "{\"name\":\"a\",\"cdrom\":\"debian.iso\"}", "cdrom" },
		{ "{\"name\":\"a\",\"cdrom\":\"\"}", "cdrom" },
		{ "{\"name\":\"a\",\"cdrom\":5}", "cdrom" },
		{ "{\"name\":\"a\",\"cdrom\":\"/x\\ty.iso\"}", "cdrom" },
	};
	run_rejects(c, ARRAY_SIZE(c));
}

static void test_reject_nic(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"01:54:00:12:34:56\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"ff:ff:ff:ff:ff:ff\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"53:54:00:12:34:56\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"52:54:00:12:34\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"52:54:00:12:34:567\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"52:54:00:12:34:56:78\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"52-54-00-12-34-56\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"52:54:00:12:34:gg\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"525400123456\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\"\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":\" 52:54:00:12:34:5\"}}", "nic.mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mac\":52}}", "mac" },
		{ "{\"name\":\"a\",\"nic\":{\"mode\":\"bridge\"}}", "nic.mode" },
		{ "{\"name\":\"a\",\"nic\":{\"model\":\"rtl8139\"}}", "nic.model" },
		{ "{\"name\":\"a\",\"nic\":true}", "nic" },
		{ "{\"name\":\"a\",\"nic\":{},\"nics\":[]}", "not both" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"network\"}]}", "nics[0].network" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"network\",\"network\":\"../x\"}]}", "nics[0].network" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"user\",\"network\":\"lan\"}]}", "no network" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"user\",\"filter\":false}]}", "nics[0].filter" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"network\",\"network\":\"lan\",\"filter\":\"off\"}]}",
		  "'filter'" },
		{ "{\"name\":\"a\",\"nics\":[{\"mac\":\"52:54:00:00:00:01\"},{\"mac\":\"52:54:00:00:00:01\"}]}",
		  "used by another NIC" },
		{ "{\"name\":\"a\",\"nics\":[{},{},{},{},{}]}", "at most 4" },
#define NN(x) "{\"name\":\"a\",\"nics\":[{\"mode\":\"network\",\"network\":\"lan\"," x "}]}"
		{ NN("\"vlan\":\"0\""), "nics[0].vlan \"0\": VLAN id 0 is outside 1-4094" },
		{ NN("\"vlan\":\"4095\""), "outside 1-4094" },
		{ NN("\"vlan\":\"10,20\""), "nics[0].vlan" },
		{ NN("\"vlan\":\"\""), "nics[0].vlan" },
		{ NN("\"vlan\":10"), "'vlan'" },
		{ NN("\"vlan\":\"trunk:10/20\""), "give filter=off" },
		{ NN("\"bw\":7999"), "at least 8000" },
		{ NN("\"bw\":-1"), "bw" },
		{ NN("\"bw\":\"10M\""), "bw" },
		{ NN("\"bw\":9000000000000000"), "bw" },
		{ NN("\"bw\":1000000,\"filter\":false"), "needs filter on" },
#undef NN
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"user\",\"vlan\":\"10\"}]}", "nics[0].vlan: only a NIC on a network" },
		{ "{\"name\":\"a\",\"nics\":[{\"mode\":\"user\",\"bw\":1000000}]}", "nics[0].bw: only a NIC on a network" },
		{ "{\"name\":\"a\",\"nic\":\"user\"}", "nic" },
	};
	run_rejects(c, ARRAY_SIZE(c));
}

static void test_limits(void **state)
{
	(void)state;
#define L(x) "{\"name\":\"a\",\"memory_mib\":256,\"limits\":" x "}"
#define IO(x) "{\"name\":\"a\",\"disks\":[{\"volume\":\"v\",\"io\":" x "}]}"
	static const struct reject_case c[] = {
		{ L("{\"cpu_weight\":0}"), "cpu_weight" },
		{ L("{\"cpu_weight\":10001}"), "cpu_weight" },
		{ L("{\"cpu_weight\":\"high\"}"), "cpu_weight" },
		{ L("{\"cpu_limit\":0}"), "cpu_limit" },
		{ L("{\"cpu_limit\":0.001}"), "cpu_limit" },
		{ L("{\"cpu_limit\":65}"), "cpu_limit" },
		{ L("{\"cpu_limit\":\"1.5\"}"), "cpu_limit" },
		{ L("{\"cpu_limit\":-1}"), "cpu_limit" },
		{ L("{\"cpuset\":\"\"}"), "cpuset" },
		{ L("{\"cpuset\":\"a\"}"), "cpuset" },
		{ L("{\"cpuset\":\"1-\"}"), "cpuset" },
		{ L("{\"cpuset\":\"3-1\"}"), "cpuset" },
		{ L("{\"cpuset\":\"0,\"}"), "cpuset" },
		{ L("{\"cpuset\":\"0 1\"}"), "cpuset" },
		{ L("{\"cpuset\":\"-1\"}"), "cpuset" },
		{ L("{\"cpuset\":\"1024\"}"), "cpuset" },
		{ L("{\"cpuset\":\"0-99999999999999999999\"}"), "cpuset" },
		{ L("{\"memory_limit_mib\":300}"), "memory_limit_mib" },
		{ L("{\"memory_limit_mib\":-5}"), "memory_limit_mib" },
		{ L("{\"memory_target_mib\":257}"), "memory_target_mib" },
		{ L("{\"memory_target_mib\":8}"), "memory_target_mib" },
		{ L("{\"shares\":5}"), "shares" },
		{ L("[]"), "limits" },
		{ "{\"name\":\"a\",\"balloon\":false,\"limits\":{\"memory_target_mib\":128}}", "balloon" },
		{ IO("{\"iops\":0}"), "iops" },
		{ IO("{\"iops\":100000000}"), "iops" },
		{ IO("{\"bps\":100}"), "bps" },
		{ IO("{\"iops\":10,\"iops_rd\":5}"), "iops_rd" },
		{ IO("{\"bps\":10000,\"bps_wr\":5000}"), "bps_wr" },
		{ IO("{\"iops_max\":10}"), "iops_max" },
		{ IO("{\"iops\":100,\"iops_max\":10}"), "iops_max" },
		{ IO("{\"iops\":100,\"burst_s\":3}"), "burst_s" },
		{ IO("{\"iops\":100,\"iops_max\":200,\"burst_s\":0}"), "burst_s" },
		{ IO("{\"throttle\":1}"), "throttle" },
	};
	run_rejects(c, ARRAY_SIZE(c));

	struct vm_def *d = parse_ok(L("{\"cpu_limit\":0.25,\"cpuset\":\"3,0-1,2,7\",\"memory_limit_mib\":0}"));
	assert_int_equal(d->limits.cpu_limit_centi, 25);
	assert_string_equal(d->limits.cpuset, "0-3,7");
	assert_int_equal(d->limits.memory_limit_mib, 0);
	assert_int_equal(d->limits.cpu_weight, 0);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\"}");
	assert_int_equal(d->limits.memory_limit_mib, -1);
	assert_true(d->balloon);
	vmdef_free(d);
#undef L
#undef IO
}

static void test_cpuset(void **state)
{
	(void)state;
	uint64_t m[CPUSET_WORDS];
	struct buf err = BUF_INIT;
	char *norm = NULL;
	assert_int_equal(cpuset_parse("0-2,5,7-8,6", m, &norm, &err), 0);
	assert_string_equal(norm, "0-2,5-8");
	assert_int_equal(cpuset_count(m), 7);
	free(norm);
	assert_int_equal(cpuset_parse("1023", m, &norm, &err), 0);
	assert_string_equal(norm, "1023");
	free(norm);

	/* against a host CPU list */
	char path[] = "/tmp/corral-test-cpus.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "0-1\n", 4), 4);
	close(fd);
	assert_int_equal(cpuset_host_check("1", path, &err), 0);
	assert_int_equal(cpuset_host_check("0-1", path, &err), 0);
	assert_int_equal(cpuset_host_check("0-2", path, &err), -EINVAL);
	assert_non_null(strstr(err.s, "0-1"));
	unlink(path);
	buf_release(&err);
}

static void test_reject_misc(void **state)
{
	(void)state;
	static const struct reject_case c[] = {
		/* uuid */
		{ "{\"name\":\"a\",\"uuid\":\"not-a-uuid\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":\"0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":\"0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2aa\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":\"0b6c5a2e1f3d4c5b9a7e8d6f5e4c3b2a\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":\"0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3bzz\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":\"\"}", "uuid" },
		{ "{\"name\":\"a\",\"uuid\":42}", "uuid" },
		/* description */
		{ "{\"name\":\"a\",\"description\":\"bell\\u0007\"}", "description" },
		{ "{\"name\":\"a\",\"description\":\"two\\nlines\"}", "description" },
		{ "{\"name\":\"a\",\"description\":\"del\\u007f\"}", "description" },
		{ "{\"name\":\"a\",\"description\":5}", "description" },
		{ "{\"name\":\"a\",\"description\":null}", "description" },
		/* vnc */
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"127.0.0.1,to=99\"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"127.0.0.1 \"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"a b\"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"\"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"unix:/tmp/x\"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":{\"listen\":\"[::1]\"}}", "vnc.listen" },
		{ "{\"name\":\"a\",\"vnc\":true}", "vnc" },
		/* tags */
		{ "{\"name\":\"a\",\"tags\":[\"ok\",\"../bad\"]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":[\"a b\"]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":[\"\"]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":[\"-x\"]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":[5]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":[null]}", "tag" },
		{ "{\"name\":\"a\",\"tags\":\"prod\"}", "tags" },
		{ "{\"name\":\"a\",\"tags\":{\"prod\":true}}", "tags" },
		/* enums and booleans */
		{ "{\"name\":\"a\",\"accel\":\"hvf\"}", "accel" },
		{ "{\"name\":\"a\",\"accel\":\"KVM\"}", "accel" },
		{ "{\"name\":\"a\",\"accel\":1}", "accel" },
		{ "{\"name\":\"a\",\"rng\":\"yes\"}", "rng" },
		{ "{\"name\":\"a\",\"rng\":1}", "rng" },
		{ "{\"name\":\"a\",\"rng\":null}", "rng" },
		{ "{\"name\":\"a\",\"autostart\":0}", "autostart" },
	};
	run_rejects(c, ARRAY_SIZE(c));

	/* 32 tags fit, 33 do not */
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"name\":\"a\",\"tags\":[");
	for (int i = 0; i < 32; i++)
		buf_printf(&b, "%s\"t%d\"", i ? "," : "", i);
	buf_adds(&b, "]}");
	struct vm_def *d = parse_ok(b.s);
	assert_int_equal(d->ntags, 32);
	vmdef_free(d);
	buf_reset(&b);
	buf_adds(&b, "{\"name\":\"a\",\"tags\":[");
	for (int i = 0; i < 33; i++)
		buf_printf(&b, "%s\"t%d\"", i ? "," : "", i);
	buf_adds(&b, "]}");
	expect_reject(b.s, "tags");

	/* description: 1024 printable characters fit, 1025 do not */
	buf_reset(&b);
	buf_adds(&b, "{\"name\":\"a\",\"description\":\"");
	for (int i = 0; i < VM_MAX_DESCRIPTION; i++)
		buf_addch(&b, 'd');
	buf_adds(&b, "\"}");
	d = parse_ok(b.s);
	vmdef_free(d);
	buf_reset(&b);
	buf_adds(&b, "{\"name\":\"a\",\"description\":\"");
	for (int i = 0; i <= VM_MAX_DESCRIPTION; i++)
		buf_addch(&b, 'd');
	buf_adds(&b, "\"}");
	expect_reject(b.s, "description");
	buf_release(&b);

	/* IPv6 and host names are valid vnc listen addresses */
	d = parse_ok("{\"name\":\"a\",\"vnc\":{\"listen\":\"fe80::1\",\"display\":0}}");
	assert_string_equal(d->vnc_listen, "fe80::1");
	assert_int_equal(d->vnc_display, 0);
	vmdef_free(d);
	d = parse_ok("{\"name\":\"a\",\"vnc\":{\"listen\":\"vnc-host.example\"}}");
	vmdef_free(d);
}

static void test_reject_not_object(void **state)
{
	(void)state;
	static const char *const c[] = { "[]", "[{\"name\":\"a\"}]", "\"a\"", "42", "null", "true" };
	for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
		__do_json json_t *j = json_loads(c[i], JSON_DECODE_ANY, NULL);
		assert_non_null(j);
		struct buf err = BUF_INIT;
		struct vm_def *d = vmdef_from_json(j, &err);
		if (d)
			fail_msg("%s accepted", c[i]);
		assert_contains(err.s, "object");
		buf_release(&err);
	}
	struct buf err = BUF_INIT;
	assert_null(vmdef_from_json(NULL, &err));
	assert_true(err.len > 0);
	buf_release(&err);
}

static void test_helpers(void **state)
{
	(void)state;
	enum disk_bus b;
	assert_int_equal(disk_bus_parse("virtio", &b), 0);
	assert_int_equal(b, DISK_BUS_VIRTIO);
	assert_int_equal(disk_bus_parse("scsi", &b), 0);
	assert_int_equal(b, DISK_BUS_SCSI);
	assert_int_equal(disk_bus_parse("ide", &b), 0);
	assert_int_equal(b, DISK_BUS_IDE);
	assert_int_equal(disk_bus_parse("sata", &b), -1);
	assert_int_equal(disk_bus_parse("", &b), -1);
	assert_string_equal(disk_bus_name(DISK_BUS_SCSI), "scsi");
	assert_string_equal(disk_bus_name(DISK_BUS_IDE), "ide");
	assert_string_equal(accel_name(ACCEL_AUTO), "auto");
	assert_string_equal(accel_name(ACCEL_KVM), "kvm");
	assert_string_equal(accel_name(ACCEL_TCG), "tcg");

	/* random MACs: QEMU's prefix, accepted back by the parser, not all equal */
	char first[18], m[18];
	vmdef_random_mac(first);
	int differ = 0;
	for (int i = 0; i < 20; i++) {
		vmdef_random_mac(m);
		assert_true(mac_looks_generated(m));
		differ += strcmp(m, first) != 0;
		char js[80];
		snprintf(js, sizeof(js), "{\"name\":\"a\",\"nic\":{\"mac\":\"%s\"}}", m);
		struct vm_def *d = parse_ok(js);
		assert_string_equal(d->nics[0].mac, m);
		vmdef_free(d);
	}
	assert_true(differ > 0);

	vmdef_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_machine),
		cmocka_unit_test(test_firmware_cpu),
		cmocka_unit_test(test_roundtrip_full),
		cmocka_unit_test(test_roundtrip_partial),
		cmocka_unit_test(test_status_accepted_back),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_disks_limits),
		cmocka_unit_test(test_reject_unknown_fields),
		cmocka_unit_test(test_reject_numbers),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_reject_boot),
		cmocka_unit_test(test_reject_disks),
		cmocka_unit_test(test_reject_nic),
		cmocka_unit_test(test_reject_misc),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_cpuset),
		cmocka_unit_test(test_reject_not_object),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
