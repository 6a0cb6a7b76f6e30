/*
 * test_ovf.c - the appliance readers of the image library (src/image/ovf.c,
 * ova_tar.c, ovf_mf.c, sniff.c): what `vm import` learns from an OVA and
 * what `disk import` learns from a file qemu-img calls raw.
 *
 * The OVF cases are descriptors as VMware's ovftool and VirtualBox write
 * them (tests/data/ovf/vmware.ovf, virtualbox.ovf: OVF 1.x Items with
 * vmw:Config; OVF 2.0 StorageItem/EthernetPortItem with a vbox:Machine), and
 * hostile or broken ones built here (a DOCTYPE with entities, a wrong root,
 * several virtual systems, a disk whose file is not listed...).  Tar
 * archives are built in memory header by header, so each refusal (../
 * names, links, sizes past the end, bad checksums, no end marker) is exact.
 *
 * Data is found through $CORRAL_TEST_DATA or TEST_DATA_DIR.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "image/appliance.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/common.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/data"
#endif

static const char *data_dir(void)
{
	const char *e = getenv("CORRAL_TEST_DATA");
	return e && *e ? e : TEST_DATA_DIR;
}

static json_t *parse_file(const char *name, struct buf *err)
{
	struct buf text = BUF_INIT;
	json_t *out = NULL;
	__do_free char *p = xasprintf("%s/ovf/%s", data_dir(), name);
	assert_int_equal(fs_read_file(p, OVF_MAX_SIZE, &text), 0);
	int r = ovf_parse(text.s, text.len, &out, err);
	buf_release(&text);
	if (r < 0)
		fail_msg("ovf_parse %s: %s", name, err->s);
	return out;
}

static bool has_warning(const json_t *d, const char *needle)
{
	size_t i;
	json_t *w;
	json_array_foreach(json_object_get(d, "warnings"), i, w)
		if (strstr(json_string_value(w), needle))
			return true;
	return false;
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static json_int_t num(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static void test_vmware(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *d = parse_file("vmware.ovf", &err);

	assert_string_equal(str(d, "name"), "web appliance");
	assert_int_equal(num(d, "cpus"), 2);
	assert_int_equal(num(d, "memory_mib"), 320);
	assert_string_equal(str(d, "firmware"), "bios");
	assert_string_equal(str(d, "os"), "Debian GNU/Linux 10 (64-bit)");
	json_t *disks = json_object_get(d, "disks");
	assert_int_equal(json_array_size(disks), 2);
	json_t *d1 = json_array_get(disks, 0), *d2 = json_array_get(disks, 1);
	assert_string_equal(str(d1, "file"), "web appliance-disk1.vmdk");
	assert_int_equal(num(d1, "file_size"), 10485760);
	assert_int_equal(num(d1, "capacity"), 128 << 20);
	assert_string_equal(str(d1, "controller"), "sata");
	assert_non_null(strstr(str(d1, "format"), "streamOptimized"));
	assert_true(json_is_null(json_object_get(d2, "file")));
	assert_int_equal(num(d2, "capacity"), 32 << 20);
	assert_string_equal(str(d2, "controller"), "scsi");
	assert_string_equal(str(d2, "controller_model"), "VirtualSCSI");
	json_t *nics = json_object_get(d, "nics");
	assert_int_equal(json_array_size(nics), 1);
	assert_string_equal(str(json_array_get(nics, 0), "network"), "VM Network");
	assert_string_equal(str(json_array_get(nics, 0), "model"), "VmxNet3");
	assert_true(has_warning(d, "USB controller"));
	assert_true(has_warning(d, "graphics adapter 'Video card'"));
	assert_true(has_warning(d, "vmware.vmci"));
	assert_true(has_warning(d, "hypervisor settings ignored: cpuHotAddEnabled, tools.syncTimeWithHost"));
	/* an empty CD drive is what every corral VM has: no warning */
	assert_false(has_warning(d, "CD/DVD"));
	json_decref(d);
	buf_release(&err);
}

static void test_virtualbox(void **state)
{
	(void)state;
	struct buf err = BUF_INIT;
	json_t *d = parse_file("virtualbox.ovf", &err);

	assert_true(json_is_null(json_object_get(d, "name")) == false);
	assert_string_equal(str(d, "name"), "Ubuntu 22.04");
	assert_int_equal(num(d, "cpus"), 1);
	assert_int_equal(num(d, "memory_mib"), 2048);
	assert_string_equal(str(d, "firmware"), "efi");
	json_t *disks = json_object_get(d, "disks");
	assert_int_equal(json_array_size(disks), 1);
	assert_string_equal(str(json_array_get(disks, 0), "file"), "ubuntu-disk001.vmdk");
	assert_true(json_is_null(json_object_get(json_array_get(disks, 0), "file_size")));
	assert_int_equal(num(json_array_get(disks, 0), "capacity"), 10737418240LL);
	assert_string_equal(str(json_array_get(disks, 0), "controller"), "sata");
	json_t *nics = json_object_get(d, "nics");
	assert_int_equal(json_array_size(nics), 1);
	assert_string_equal(str(json_array_get(nics, 0), "network"), "NAT");
	assert_string_equal(str(json_array_get(nics, 0), "model"), "E1000");
	assert_true(has_warning(d, "ProductSection"));
	assert_true(has_warning(d, "sound card"));
	json_decref(d);
	buf_release(&err);
}

/* A descriptor body around `hw` (hardware items) and `extra` (after the VirtualSystem's Name). */
static char *descriptor(const char *refs, const char *disks, const char *hw)
{
	return xasprintf("<?xml version=\"1.0\"?>\n<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\" "
			 "xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\" "
			 "xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData\">"
			 "<References>%s</References><DiskSection>%s</DiskSection>"
			 "<VirtualSystem ovf:id=\"x\"><Name>x</Name><VirtualHardwareSection>%s</VirtualHardwareSection>"
			 "</VirtualSystem></Envelope>",
			 refs, disks, hw);
}

#define CPU_MEM                                                                                            \
	"<Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>" \
	"<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>" \
	"<rasd:VirtualQuantity>256</rasd:VirtualQuantity></Item>"

static void expect_refused(const char *xml, const char *needle)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	int r = ovf_parse(xml, strlen(xml), &out, &err);
	if (r == 0)
		fail_msg("accepted: %s", xml);
	assert_null(out);
	if (!strstr(err.s, needle))
		fail_msg("error '%s' lacks '%s'", err.s, needle);
	buf_release(&err);
}

static void test_hostile_ovf(void **state)
{
	(void)state;
	/* billion laughs and external entities: no DTD at all */
	expect_refused("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>"
		       "<Envelope>&lol2;</Envelope>",
		       "DOCTYPE");
	expect_refused("<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"http://example.com/x.dtd\"><Envelope/>", "DOCTYPE");
	expect_refused("<?xml version=\"1.0\"?><!ENTITY x SYSTEM \"file:///etc/passwd\"><Envelope>&x;</Envelope>",
		       "DOCTYPE");
	expect_refused("<Envelope><VirtualSystem>", "not well-formed");
	expect_refused("just some text", "not well-formed");
	expect_refused("", "empty");
	expect_refused("<html><body/></html>", "not an OVF document");
	expect_refused("<Envelope><VirtualSystemCollection/></Envelope>", "several virtual machines");
	expect_refused("<Envelope><VirtualSystem/></Envelope>", "no VirtualHardwareSection");
	__do_free char *nocpu = descriptor("", "", "");
	expect_refused(nocpu, "no processor item");
	__do_free char *bigcpu = descriptor("", "",
					    "<Item><rasd:ResourceType>3</rasd:ResourceType>"
					    "<rasd:VirtualQuantity>99999999999999999999</rasd:VirtualQuantity></Item>");
	expect_refused(bigcpu, "processor item");
	__do_free char *badmem = descriptor("", "",
					    "<Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>"
					    "<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>byte * 3^7</rasd:AllocationUnits>"
					    "<rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>");
	expect_refused(badmem, "memory item");
	__do_free char *nofile = descriptor("", "<Disk ovf:diskId=\"d1\" ovf:capacity=\"1024\" ovf:fileRef=\"f9\"/>", CPU_MEM);
	expect_refused(nofile, "does not list");
	__do_free char *nodisk = descriptor("", "",
					    CPU_MEM "<Item><rasd:ResourceType>17</rasd:ResourceType>"
						    "<rasd:HostResource>ovf:/disk/nope</rasd:HostResource></Item>");
	expect_refused(nodisk, "does not define");
	__do_free char *gz = descriptor("<File ovf:id=\"f1\" ovf:href=\"a.vmdk\" ovf:compression=\"gzip\"/>", "", CPU_MEM);
	expect_refused(gz, "gzip-compressed");
	__do_free char *chunked = descriptor("<File ovf:id=\"f1\" ovf:href=\"a.vmdk\" ovf:chunkSize=\"1000\"/>", "", CPU_MEM);
	expect_refused(chunked, "chunks");
	__do_free char *badcap = descriptor("", "<Disk ovf:diskId=\"d1\" ovf:capacity=\"-5\"/>", CPU_MEM);
	expect_refused(badcap, "capacity");
	__do_free char *ovcap = descriptor("", "<Disk ovf:diskId=\"d1\" ovf:capacity=\"99999999999\" "
					       "ovf:capacityAllocationUnits=\"byte * 2^40\"/>", CPU_MEM);
	expect_refused(ovcap, "capacity");

	/* too large */
	size_t big = OVF_MAX_SIZE + 1;
	char *huge = xmalloc(big + 1);
	memset(huge, ' ', big);
	huge[big] = '\0';
	expect_refused(huge, "more than");
	free(huge);

	/* a plain, minimal descriptor is fine, and unknown sections are warned about */
	__do_free char *ok = descriptor("", "", CPU_MEM "<Item><rasd:ResourceType>42</rasd:ResourceType>"
						     "<rasd:ElementName>Quantum flux</rasd:ElementName></Item>");
	struct buf err = BUF_INIT;
	json_t *out = NULL;
	assert_int_equal(ovf_parse(ok, strlen(ok), &out, &err), 0);
	assert_int_equal(num(out, "memory_mib"), 256);
	assert_true(has_warning(out, "Quantum flux"));
	json_decref(out);
	buf_release(&err);
}

static void test_manifest(void **state)
{
	(void)state;
	static const char good[] =
		"SHA256(web.ovf)= 0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\n"
		"SHA1(disk (1).vmdk)= 0123456789abcdef0123456789abcdef01234567\r\n"
		"\n";
	struct buf err = BUF_INIT;
	json_t *m = NULL;

	assert_int_equal(ovf_mf_parse(good, strlen(good), &m, &err), 0);
	assert_int_equal(json_object_size(m), 2);
	assert_string_equal(str(json_object_get(m, "web.ovf"), "alg"), "sha256");
	assert_string_equal(str(json_object_get(m, "web.ovf"), "digest"),
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	assert_string_equal(str(json_object_get(m, "disk (1).vmdk"), "alg"), "sha1");
	json_decref(m);

	static const char *const bad[] = {
		"MD5(a)= 0123456789abcdef0123456789abcdef\n",
		"SHA256(a)= 0123\n",
		"SHA256(a)= zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
		"SHA1(a)= 0123456789abcdef0123456789abcdef01234567\nSHA1(a)= 0123456789abcdef0123456789abcdef01234567\n",
		"SHA1()= 0123456789abcdef0123456789abcdef01234567\n",
		"SHA1(a\x01)= 0123456789abcdef0123456789abcdef01234567\n",
		"hello\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		m = NULL;
		buf_reset(&err);
		if (ovf_mf_parse(bad[i], strlen(bad[i]), &m, &err) == 0)
			fail_msg("accepted manifest %zu", i);
		assert_null(m);
		assert_true(err.len > 0);
	}
	buf_release(&err);
}

/* ---- tar ---- */

struct mem {
	struct buf b;
};

static int mem_pread(void *priv, void *out, size_t len, uint64_t off)
{
	struct mem *m = priv;
	memcpy(out, m->b.s + off, len);
	return 0;
}

static void mem_close(void *priv)
{
	struct mem *m = priv;
	buf_release(&m->b);
	free(m);
}

static const struct img_dev_ops mem_ops = { mem_pread, mem_close };

static void tar_add(struct buf *t, const char *name, char type, size_t size, const char *magic, bool bad_sum)
{
	unsigned char h[512] = { 0 };
	unsigned sum = 0;

	memcpy(h, name, strlen(name) < 100 ? strlen(name) : 100);
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 108, "0000000", 7);
	memcpy(h + 116, "0000000", 7);
	snprintf((char *)h + 124, 12, "%011zo", size);
	memcpy(h + 136, "00000000000", 11);
	h[156] = (unsigned char)type;
	memcpy(h + 257, magic, 8);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum + (bad_sum ? 1 : 0));
	buf_add(t, h, 512);
	size_t padded = (size + 511) / 512 * 512;
	for (size_t i = 0; i < padded; i++)
		buf_addch(t, (char)('a' + i % 26));
}

static void tar_end(struct buf *t)
{
	char z[1024] = { 0 };
	buf_add(t, z, sizeof(z));
}

static int index_of(struct buf *t, json_t **out, struct buf *err)
{
	struct mem *m = xcalloc(1, sizeof(*m));
	struct img_dev *dev = NULL;
	m->b = *t;
	*t = (struct buf)BUF_INIT;
	assert_int_equal(img_dev_new(&mem_ops, m, m->b.len, "test.ova", &dev, err), 0);
	int r = ova_tar_index(dev, out, err);
	img_dev_free(dev);
	return r;
}

#define USTAR "ustar\0" "00"
#define GNUTAR "ustar  \0"

static void test_tar(void **state)
{
	(void)state;
	struct buf t = BUF_INIT, err = BUF_INIT;
	json_t *idx = NULL;

	tar_add(&t, "app.ovf", '0', 700, USTAR, false);
	tar_add(&t, "app.mf", '0', 100, GNUTAR, false);
	tar_add(&t, "app disk1.vmdk", '\0', 1024, USTAR, false);
	tar_end(&t);
	assert_int_equal(index_of(&t, &idx, &err), 0);
	assert_int_equal(json_array_size(idx), 3);
	assert_string_equal(str(json_array_get(idx, 0), "name"), "app.ovf");
	assert_int_equal(num(json_array_get(idx, 0), "offset"), 512);
	assert_int_equal(num(json_array_get(idx, 0), "size"), 700);
	assert_int_equal(num(json_array_get(idx, 1), "offset"), 512 + 1024 + 512);
	assert_int_equal(num(json_array_get(idx, 2), "offset"), 512 + 1024 + 512 + 512 + 512);
	json_decref(idx);

	static const struct {
		const char *name;
		char type;
		bool bad_sum;
		const char *needle;
	} bad[] = {
		{ "../x", '0', false, "directory part" },
		{ "/etc/passwd", '0', false, "directory part" },
		{ "dir/x.vmdk", '0', false, "directory part" },
		{ ".hidden", '0', false, "leading '.'" },
		{ "link.vmdk", '2', false, "symbolic link" },
		{ "hard.vmdk", '1', false, "hard link" },
		{ "dev", '3', false, "device node" },
		{ "d", '5', false, "directory" },
		{ "PaxHeader", 'x', false, "pax" },
		{ "././@LongLink", 'L', false, "leading '.'" },
		{ "x.vmdk", '0', true, "checksum" },
		{ "bad\x01name", '0', false, "control characters" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		buf_reset(&err);
		tar_add(&t, "app.ovf", '0', 10, USTAR, false);
		tar_add(&t, bad[i].name, bad[i].type, 10, USTAR, bad[i].bad_sum);
		tar_end(&t);
		idx = NULL;
		if (index_of(&t, &idx, &err) == 0)
			fail_msg("accepted member %s", bad[i].name);
		if (!strstr(err.s, bad[i].needle) && !(bad[i].type == 'L' && strstr(err.s, "GNU long name")))
			fail_msg("member %s: error '%s' lacks '%s'", bad[i].name, err.s, bad[i].needle);
	}

	/* a size that runs past the end of the file */
	buf_reset(&err);
	tar_add(&t, "app.ovf", '0', 10, USTAR, false);
	tar_add(&t, "big.vmdk", '0', 10, USTAR, false);
	t.len -= 512;
	snprintf(t.s + 512 + 512 + 124, 12, "%011o", 077777777);
	{
		unsigned char *h = (unsigned char *)t.s + 1024;
		unsigned sum = 0;
		memset(h + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += h[i];
		snprintf((char *)h + 148, 8, "%06o", sum);
	}
	assert_int_not_equal(index_of(&t, &idx, &err), 0);
	assert_non_null(strstr(err.s, "claims"));

	/* no end marker; duplicates; not a tar at all */
	buf_reset(&err);
	tar_add(&t, "app.ovf", '0', 10, USTAR, false);
	assert_int_not_equal(index_of(&t, &idx, &err), 0);
	assert_non_null(strstr(err.s, "end-of-archive"));
	buf_reset(&err);
	tar_add(&t, "a.vmdk", '0', 10, USTAR, false);
	tar_add(&t, "a.vmdk", '0', 10, USTAR, false);
	tar_end(&t);
	assert_int_not_equal(index_of(&t, &idx, &err), 0);
	assert_non_null(strstr(err.s, "two members"));
	buf_reset(&err);
	buf_adds(&t, "hello, this is plainly text and not an archive at all");
	for (int i = 0; i < 20; i++)
		buf_adds(&t, "0123456789012345678901234567890123456789");
	assert_int_not_equal(index_of(&t, &idx, &err), 0);
	assert_non_null(strstr(err.s, "not a tar archive"));
	buf_release(&t);
	buf_release(&err);
}

static void test_sniff(void **state)
{
	(void)state;
	struct buf t = BUF_INIT;
	uint8_t zeros[4096] = { 0 };

	assert_string_equal(img_sniff((const uint8_t *)"", 0), "empty");
	assert_string_equal(img_sniff(zeros, sizeof(zeros)), "zeros");
	assert_string_equal(img_sniff((const uint8_t *)"hello world\n\xc3\xa9t\xc3\xa9\n", 17), "text");
	assert_string_equal(img_sniff((const uint8_t *)"<?xml version=\"1.0\"?><Envelope xmlns:ovf=\"x\">", 45), "ovf");
	assert_string_equal(img_sniff((const uint8_t *)"<?xml version=\"1.0\"?><svg/>", 27), "xml");
	assert_string_equal(img_sniff((const uint8_t *)"\x1f\x8b\x08\x00rest", 8), "gzip");
	assert_string_equal(img_sniff((const uint8_t *)"hello\x00\x01\x02", 8), "data");
	tar_add(&t, "app.ovf", '0', 10, USTAR, false);
	assert_string_equal(img_sniff((const uint8_t *)t.s, t.len), "ova");
	buf_reset(&t);
	tar_add(&t, "notes.txt", '0', 10, USTAR, false);
	assert_string_equal(img_sniff((const uint8_t *)t.s, t.len), "tar");
	buf_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmware),
		cmocka_unit_test(test_virtualbox),
		cmocka_unit_test(test_hostile_ovf),
		cmocka_unit_test(test_manifest),
		cmocka_unit_test(test_tar),
		cmocka_unit_test(test_sniff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
