/*
 * test_cloudinit.c - the cloud-init part of a VM definition and its NoCloud
 * seed (src/core/cloudinit.c, src/qemu/cidata.c): validation of every value
 * corral writes into YAML, the exact text of the files it writes, the
 * instance-id's rules, and the ISO image (volume id cidata, reproducible).
 */
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

#include "core/cloudinit.h"
#include "core/vmdef.h"
#include "qemu/cidata.h"
#include "util/buf.h"
#include "util/common.h"
#include "util/fsutil.h"

#define UUID "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e31"

static void assert_contains(const char *hay, const char *needle)
{
	if (!hay || !strstr(hay, needle))
		fail_msg("expected \"%s\" to contain \"%s\"", hay ? hay : "(null)", needle);
}

/* A definition from JSON text; NULL with err on rejection. */
static struct vm_def *def(const char *text, struct buf *err)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("test JSON does not parse: %s: %s", je.text, text);
	struct vm_def *d = vmdef_from_json(j, err);
	json_decref(j);
	return d;
}

static struct vm_def *def_ok(const char *text)
{
	struct buf err = BUF_INIT;
	struct vm_def *d = def(text, &err);
	if (!d)
		fail_msg("rejected: %s: %s", err.s, text);
	buf_release(&err);
	return d;
}

static void rejected(const char *text, const char *message)
{
	struct buf err = BUF_INIT;
	struct vm_def *d = def(text, &err);
	if (d)
		fail_msg("accepted: %s", text);
	assert_contains(err.s, message);
	buf_release(&err);
}

static void test_yaml_quote(void **state)
{
	(void)state;
	struct buf b = BUF_INIT;
	assert_int_equal(cloudinit_yaml_quote(&b, "plain"), 0);
	assert_string_equal(b.s, "\"plain\"");
	buf_reset(&b);
	assert_int_equal(cloudinit_yaml_quote(&b, "a\"b\\c: d # e"), 0);
	assert_string_equal(b.s, "\"a\\\"b\\\\c: d # e\"");
	buf_reset(&b);
	assert_int_equal(cloudinit_yaml_quote(&b, ""), 0);
	assert_string_equal(b.s, "\"\"");
	buf_reset(&b);
	assert_int_equal(cloudinit_yaml_quote(&b, "Jos\xc3\xa9 \xe2\x98\x83"), 0); /* other UTF-8 is kept */
	assert_string_equal(b.s, "\"Jos\xc3\xa9 \xe2\x98\x83\"");
	buf_reset(&b);
	buf_adds(&b, "kept");
	assert_int_equal(cloudinit_yaml_quote(&b, "ad\nmin"), -EINVAL);
	assert_int_equal(cloudinit_yaml_quote(&b, "tab\there"), -EINVAL);
	assert_int_equal(cloudinit_yaml_quote(&b, "cr\r"), -EINVAL);
	assert_int_equal(cloudinit_yaml_quote(&b, "del\x7f"), -EINVAL);
	assert_int_equal(cloudinit_yaml_quote(&b, "nel\xc2\x85"), -EINVAL);       /* U+0085 */
	assert_int_equal(cloudinit_yaml_quote(&b, "ls\xe2\x80\xa8x"), -EINVAL);   /* U+2028 */
	assert_int_equal(cloudinit_yaml_quote(&b, "ps\xe2\x80\xa9x"), -EINVAL);   /* U+2029 */
	assert_int_equal(cloudinit_yaml_quote(&b, "\xef\xbb\xbf" "bom"), -EINVAL);  /* U+FEFF */
	assert_string_equal(b.s, "kept"); /* untouched */
	buf_release(&b);
}

static void test_rejects(void **state)
{
	(void)state;
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"ad\\nmin\"}}", "cloud_init.user must not contain control");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"x\\\" : y\"}}", "cloud_init.user must be a login name");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"9lives\"}}", "login name");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}", "longer than 32");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"users\":\"x\"}}", "users");
	rejected("{\"name\":\"a\",\"cloud_init\":[]}", "cloud_init");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"u\",\"password_hash\":\"secret123\"}}", "crypt(3) hash");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"u\",\"password_hash\":\"$y$a b$c\"}}", "crypt(3) hash");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"password_hash\":\"$y$j9T$a$b\"}}", "needs cloud_init.user");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"hostname\":\"a b\"}}", "host name");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"hostname\":\"-a\"}}", "host name");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"hostname\":\"a..b\"}}", "host name");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":[\"ssh-ed25519 A\\nusers: []\"]}}", "ssh_keys[0]");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":[\"\"]}}", "ssh_keys[0]");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":[\"k \\u2028users: []\"]}}", "ssh_keys[0]");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"hostname\":\"a\\u0085b\"}}", "control characters");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":[1]}}", "ssh_keys[0]");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":\"k\"}}", "array");
	rejected("{\"name\":\"a\",\"cloud_init\":{\"user\":\"u\",\"user_data\":\"#cloud-config\\n\"}}",
		 "user_data is used as it is");
	/* a VM name that makes no host name needs an explicit one */
	rejected("{\"name\":\"web-\",\"cloud_init\":{}}", "--ci-hostname");

	{
		/* the size limits: 64 KiB of user-data is fine, one byte more is not */
		struct buf big = BUF_INIT;
		char *text;
		buf_adds(&big, "{\"name\":\"a\",\"cloud_init\":{\"user_data\":\"");
		for (int i = 0; i < CLOUDINIT_MAX_TEXT; i++)
			buf_addch(&big, 'x');
		buf_adds(&big, "\"}}");
		struct vm_def *d = def_ok(big.s);
		vmdef_free(d);
		text = xasprintf("%.*sx\"}}", (int)(big.len - 3), big.s);
		rejected(text, "longer than 65536 bytes");
		free(text);
		buf_release(&big);
	}
	{
		struct buf many = BUF_INIT;
		buf_adds(&many, "{\"name\":\"a\",\"cloud_init\":{\"ssh_keys\":[");
		for (int i = 0; i <= CLOUDINIT_MAX_KEYS; i++)
			buf_printf(&many, "%s\"ssh-ed25519 K%d\"", i ? "," : "", i);
		buf_adds(&many, "]}}");
		rejected(many.s, "more than 32 keys");
		buf_release(&many);
	}
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct vm_def *d = def_ok("{\"name\":\"a\",\"uuid\":\"" UUID "\",\"cloud_init\":{\"user\":\"admin\","
				  "\"password_hash\":\"$6$rounds=5000$salt$hash./\",\"ssh_keys\":[\"k1\",\"k2\"],"
				  "\"hostname\":\"h.example.com\"}}");
	json_t *j = vmdef_to_json(d);
	json_t *ci = json_object_get(j, "cloud_init");
	char *text = json_dumps(ci, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"hostname\":\"h.example.com\",\"password_hash\":\"$6$rounds=5000$salt$hash./\","
				  "\"ssh_keys\":[\"k1\",\"k2\"],\"user\":\"admin\"}");
	free(text);
	json_decref(j);
	vmdef_free(d);

	/* off: no member at all; null is accepted as off */
	d = def_ok("{\"name\":\"a\",\"cloud_init\":null}");
	assert_null(d->cloudinit);
	j = vmdef_to_json(d);
	assert_null(json_object_get(j, "cloud_init"));
	json_decref(j);
	vmdef_free(d);
}

static void test_seed_text(void **state)
{
	(void)state;
	struct cloudinit_seed s;
	struct buf err = BUF_INIT;
	struct vm_def *d = def_ok(
		"{\"name\":\"web_1\",\"uuid\":\"" UUID "\",\"nics\":[{\"mode\":\"user\",\"mac\":\"52:54:00:00:00:01\"},"
		"{\"mode\":\"user\",\"mac\":\"52:54:00:00:00:02\"}],\"cloud_init\":{\"user\":\"admin\","
		"\"password_hash\":\"$y$j9T$salt$hash\",\"ssh_keys\":[\"ssh-ed25519 AAAA a\\\"b\\\\c: d\",\"ssh-rsa BBBB\"]}}");

	assert_int_equal(cloudinit_seed_make(d, &s, &err), 0);
	char *meta = xasprintf("instance-id: \"%s\"\nlocal-hostname: \"web-1\"\n", s.instance_id);
	assert_string_equal(s.meta_data, meta);
	free(meta);
	assert_string_equal(s.user_data,
			    "#cloud-config\n"
			    "# written by corral from the VM's definition (docs/cloud-init.md)\n"
			    "users:\n"
			    "  - name: \"admin\"\n"
			    "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n"
			    "    shell: \"/bin/bash\"\n"
			    "    lock_passwd: false\n"
			    "    hashed_passwd: \"$y$j9T$salt$hash\"\n"
			    "    ssh_authorized_keys:\n"
			    "      - \"ssh-ed25519 AAAA a\\\"b\\\\c: d\"\n"
			    "      - \"ssh-rsa BBBB\"\n"
			    "ssh_pwauth: true\n");
	assert_string_equal(s.network_config,
			    "# written by corral: DHCP on every NIC (docs/cloud-init.md)\n"
			    "version: 2\n"
			    "ethernets:\n"
			    "  nic0:\n"
			    "    match:\n"
			    "      macaddress: \"52:54:00:00:00:01\"\n"
			    "    dhcp4: true\n"
			    "  nic1:\n"
			    "    match:\n"
			    "      macaddress: \"52:54:00:00:00:02\"\n"
			    "    dhcp4: true\n");
	cloudinit_seed_release(&s);
	vmdef_free(d);

	/* keys without a user: the image's default user gets them; no NICs: no network-config */
	d = def_ok("{\"name\":\"b\",\"uuid\":\"" UUID "\",\"nics\":[],\"cloud_init\":{\"ssh_keys\":[\"k\"]}}");
	assert_int_equal(cloudinit_seed_make(d, &s, &err), 0);
	assert_string_equal(s.user_data, "#cloud-config\n"
					 "# written by corral from the VM's definition (docs/cloud-init.md)\n"
					 "ssh_authorized_keys:\n"
					 "  - \"k\"\n");
	assert_null(s.network_config);
	cloudinit_seed_release(&s);
	vmdef_free(d);

	/* the admin's own files, verbatim */
	d = def_ok("{\"name\":\"c\",\"uuid\":\"" UUID "\",\"cloud_init\":{\"user_data\":\"#cloud-config\\nusers: []\\n\","
		   "\"network_config\":\"version: 1\\n\",\"hostname\":\"db.example.com\"}}");
	assert_int_equal(cloudinit_seed_make(d, &s, &err), 0);
	assert_string_equal(s.user_data, "#cloud-config\nusers: []\n");
	assert_string_equal(s.network_config, "version: 1\n");
	assert_contains(s.meta_data, "\nlocal-hostname: \"db.example.com\"\n");
	cloudinit_seed_release(&s);
	vmdef_free(d);
	buf_release(&err);
}

static void iid(const char *text, char out[64])
{
	struct cloudinit_seed s;
	struct buf err = BUF_INIT;
	struct vm_def *d = def_ok(text);
	assert_int_equal(cloudinit_seed_make(d, &s, &err), 0);
	snprintf(out, 64, "%s", s.instance_id);
	cloudinit_seed_release(&s);
	vmdef_free(d);
	buf_release(&err);
}

static void test_instance_id(void **state)
{
	(void)state;
	char a[64], a2[64], b[64], c[64], e[64], f[64];
#define BASE "{\"name\":\"a\",\"uuid\":\"" UUID "\",\"nics\":[{\"mode\":\"user\",\"mac\":\"52:54:00:00:00:01\"}],"
	iid(BASE "\"cloud_init\":{\"user\":\"admin\"}}", a);
	iid(BASE "\"cloud_init\":{\"user\":\"admin\"}}", a2);
	iid(BASE "\"cloud_init\":{\"user\":\"admin\",\"hostname\":\"x\"}}", b);
	iid(BASE "\"cloud_init\":{\"user\":\"admin\",\"ssh_keys\":[\"k\"]}}", c);
	iid("{\"name\":\"a\",\"uuid\":\"6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e32\",\"nics\":[{\"mode\":\"user\","
	    "\"mac\":\"52:54:00:00:00:01\"}],\"cloud_init\":{\"user\":\"admin\"}}", e);
	iid("{\"name\":\"a\",\"uuid\":\"" UUID "\",\"nics\":[{\"mode\":\"user\",\"mac\":\"52:54:00:00:00:09\"}],"
	    "\"cloud_init\":{\"user\":\"admin\"}}", f);
#undef BASE
	assert_string_equal(a, a2);             /* the same settings: the same instance */
	assert_int_equal(strlen(a), 4 + 36 + 1 + 16);
	assert_int_equal(strncmp(a, "iid-" UUID "-", 41), 0);
	assert_string_not_equal(a, b);          /* a changed setting */
	assert_string_not_equal(a, c);
	assert_string_not_equal(a, f);          /* a new MAC (the network-config changes) */
	assert_string_not_equal(a, e);          /* a clone: a new uuid */
	assert_string_equal(a + 41, e + 41);    /* ... with the same settings */
}

/* The image: volume id cidata, the files inside, the same bytes every time. */
static void test_iso(void **state)
{
	(void)state;
	char dir[] = "/tmp/corral-test-cidata.XXXXXX";
	struct buf err = BUF_INIT, one = BUF_INIT, two = BUF_INIT;
	char *path = NULL;

	if (system("command -v xorriso >/dev/null 2>&1") != 0) {
		fprintf(stderr, "xorriso is not installed (scripts/install-deps.sh); image test skipped\n");
		skip();
	}
	assert_non_null(mkdtemp(dir));
	struct vm_def *d = def_ok("{\"name\":\"a\",\"uuid\":\"" UUID "\",\"cloud_init\":{\"user\":\"admin\"}}");
	if (qemu_cidata_build(d, dir, dir, &path, &err) < 0)
		fail_msg("build: %s", err.s);
	assert_int_equal(fs_read_file(path, 4 << 20, &one), 0);
	free(path);
	path = NULL;
	sleep(1); /* a second later: no timestamp may differ */
	if (qemu_cidata_build(d, dir, dir, &path, &err) < 0)
		fail_msg("build: %s", err.s);
	assert_int_equal(fs_read_file(path, 4 << 20, &two), 0);
	free(path);
	path = NULL;
	assert_int_equal(one.len, two.len);
	assert_memory_equal(one.s, two.s, one.len);
	/* the primary volume descriptor (sector 16): type 1, "CD001", volume id at byte 40 */
	assert_true(one.len > 16 * 2048 + 72);
	assert_int_equal((unsigned char)one.s[16 * 2048], 1);
	assert_memory_equal(one.s + 16 * 2048 + 1, "CD001", 5);
	assert_memory_equal(one.s + 16 * 2048 + 40, "cidata  ", 8); /* as given: blkid and cloud-init read "cidata" */
	assert_non_null(memmem(one.s, one.len, "local-hostname: \"a\"", 19));
	assert_non_null(memmem(one.s, one.len, "  - name: \"admin\"", 17));
	/* the work directory is gone; removing leaves nothing */
	qemu_cidata_remove(dir);
	/* what kill -9 during a build leaves goes at the next build and when the VM is deleted */
	{
		char *stale = xasprintf("%s/.cidata-%s.crash1", dir, UUID);
		char *file = xasprintf("%s/files", stale);
		char *other = xasprintf("%s/.cidata-6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e39.keep", dir);
		assert_int_equal(mkdir(stale, 0700), 0);
		assert_int_equal(mkdir(file, 0700), 0);
		assert_int_equal(mkdir(other, 0700), 0);
		if (qemu_cidata_build(d, dir, dir, &path, &err) < 0)
			fail_msg("build: %s", err.s);
		assert_false(fs_exists(stale));
		assert_int_equal(mkdir(stale, 0700), 0);
		qemu_cidata_forget(dir, UUID);
		assert_false(fs_exists(stale));
		assert_true(fs_exists(other)); /* another VM's */
		assert_int_equal(rmdir(other), 0);
		qemu_cidata_remove(dir);
		free(stale);
		free(file);
		free(other);
	}
	assert_int_equal(rmdir(dir), 0);
	free(path);
	vmdef_free(d);
	buf_release(&one);
	buf_release(&two);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_yaml_quote), cmocka_unit_test(test_rejects),   cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_seed_text),  cmocka_unit_test(test_instance_id), cmocka_unit_test(test_iso),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
