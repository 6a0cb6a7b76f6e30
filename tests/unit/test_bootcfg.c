/*
 * test_bootcfg.c - the boot loader configuration parser (src/image/bootcfg.c)
 * that picks the guest kernel for `--boot disk-kernel`.
 *
 * Golden files: every directory tests/data/bootcfg/CASE/ is the root of a
 * boot filesystem (boot/grub/grub.cfg, loader/entries/NAME.conf, grubenv ...),
 * served to bootcfg_load() through a directory-backed bootcfg_io.  The parsed
 * configuration (or the error) rendered as text must equal CASE/expected.txt.
 * Run with CORRAL_REGENERATE_GOLDEN=1 to rewrite the expected.txt files after
 * an intended change, then review the diff like code.  `musts` pins the
 * default entry of the main cases independently of the golden files, so a
 * regeneration cannot silently bless the wrong kernel.
 *
 * Data is found through $CORRAL_TEST_DATA or TEST_DATA_DIR.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "image/bootcfg.h"
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

/* ---- a bootcfg_io reading below a directory ---- */

static int dir_read(void *arg, const char *path, struct buf *out)
{
	__do_free char *p = xasprintf("%s%s", (const char *)arg, path);
	if (strstr(path, "/../"))
		return -EACCES;
	return fs_read_file(p, 16u << 20, out);
}

static int dir_list(void *arg, const char *dir, void (*cb)(const char *name, void *cbarg), void *cbarg)
{
	__do_free char *p = xasprintf("%s%s", (const char *)arg, dir);
	DIR *d = opendir(p);
	struct dirent *e;
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			cb(e->d_name, cbarg);
	closedir(d);
	return 0;
}

static char *render(const struct boot_config *c, int rc, const char *err)
{
	struct buf b = BUF_INIT;
	if (rc < 0) {
		buf_printf(&b, "error: %s\n%s\n", strerror(-rc), err);
		return buf_detach(&b);
	}
	buf_printf(&b, "format: %s\npath: %s\ndefault: %d\nentries: %zu\n", c->format, c->path, c->default_index,
		   c->n);
	for (size_t i = 0; i < c->n; i++) {
		const struct boot_entry *e = &c->entries[i];
		buf_printf(&b, "\n[%zu] title: %s\n", i, e->title);
		buf_printf(&b, "    id: %s\n", e->id ? e->id : "(none)");
		buf_printf(&b, "    kernel: %s\n", e->kernel ? e->kernel : "(none)");
		for (size_t k = 0; k < e->n_initrds; k++)
			buf_printf(&b, "    initrd: %s\n", e->initrds[k]);
		buf_printf(&b, "    cmdline: %s\n", e->cmdline ? e->cmdline : "(none)");
		buf_printf(&b, "    origin: %s\n", e->origin ? e->origin : "(none)");
	}
	return buf_detach(&b);
}

/* Default entries that must come out whatever the golden files say. */
static const struct {
	const char *name;
	const char *title; /* of the default entry; NULL: the case must fail */
	const char *kernel;
} musts[] = {
	{ "debian12", "Debian GNU/Linux", "/boot/vmlinuz-6.1.0-18-amd64" },
	{ "debian12-saved",
	  "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-17-amd64",
	  "/boot/vmlinuz-6.1.0-17-amd64" },
	{ "debian12-next-entry",
	  "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-18-amd64 (recovery mode)",
	  "/boot/vmlinuz-6.1.0-18-amd64" },
	{ "el7", "CentOS Linux (3.10.0-1127.el7.x86_64) 7 (Core)", "/vmlinuz-3.10.0-1127.el7.x86_64" },
	{ "el8-bls", "CentOS Stream (4.18.0-513.el8.x86_64) 8", "/vmlinuz-4.18.0-513.el8.x86_64" },
	{ "fedora-bare-bls", "Fedora Linux (6.5.12-300.fc39.x86_64) 39 (Workstation Edition)",
	  "/vmlinuz-6.5.12-300.fc39.x86_64" },
	{ "legacy-centos5", "CentOS (2.6.18-398.el5)", "/vmlinuz-2.6.18-398.el5" },
	{ "separate-boot", "Debian GNU/Linux", "/vmlinuz-6.1.0-18-amd64" },
	{ "err-unterminated-quote", NULL, NULL },
	{ "err-missing-fi", NULL, NULL },
	{ "err-nesting", NULL, NULL },
};

static int run_case(const char *dir, const char *name, bool regen)
{
	__do_free char *root = xasprintf("%s/%s", dir, name);
	__do_free char *epath = xasprintf("%s/expected.txt", root);
	struct bootcfg_io io = { .read = dir_read, .list = dir_list, .arg = root };
	struct boot_config c = { 0 };
	struct buf err = BUF_INIT, want = BUF_INIT;
	int failed = 0;

	int rc = bootcfg_load(&io, &c, &err);
	if (rc < 0 && err.len == 0) {
		print_error("%s: failed without a message\n", name);
		failed = 1;
	}
	__do_free char *got = render(&c, rc, err.s);
	for (size_t i = 0; i < ARRAY_SIZE(musts); i++) {
		if (strcmp(musts[i].name, name) != 0)
			continue;
		if (!musts[i].title && rc >= 0) {
			print_error("%s: must fail but parsed\n", name);
			failed = 1;
		} else if (musts[i].title &&
			   (rc < 0 || c.default_index < 0 || strcmp(c.entries[c.default_index].title, musts[i].title) ||
			    strcmp(c.entries[c.default_index].kernel, musts[i].kernel))) {
			print_error("%s: default is not '%s' (%s)\n", name, musts[i].title, err.s);
			failed = 1;
		}
	}
	if (regen) {
		if (fs_write_file_atomic(epath, got, strlen(got), 0644) < 0)
			failed = 1;
	} else if (fs_read_file(epath, 1 << 20, &want) < 0) {
		print_error("%s: cannot read %s (CORRAL_REGENERATE_GOLDEN=1 creates it)\n", name, epath);
		failed = 1;
	} else if (strcmp(want.s, got) != 0) {
		const char *g = got, *w = want.s;
		int line = 1;
		while (*g && *g == *w) {
			line += *g == '\n';
			g++;
			w++;
		}
		while (g > got && g[-1] != '\n' && w > want.s && w[-1] != '\n') {
			g--;
			w--;
		}
		print_error("%s: differs from %s at line %d\n  want: %.*s\n  got:  %.*s\n", name, epath, line,
			    (int)strcspn(w, "\n"), w, (int)strcspn(g, "\n"), g);
		failed = 1;
	}
	boot_config_release(&c);
	buf_release(&err);
	buf_release(&want);
	return failed;
}

static void test_golden(void **state)
{
	(void)state;
	__do_free char *dir = xasprintf("%s/bootcfg", data_dir());
	const char *re = getenv("CORRAL_REGENERATE_GOLDEN");
	bool regen = re && strcmp(re, "1") == 0;
	struct dirent **list;
	int n = scandir(dir, &list, NULL, alphasort), failed = 0, cases = 0;

	if (n < 0)
		fail_msg("cannot open %s", dir);
	for (int i = 0; i < n; i++) {
		if (list[i]->d_name[0] != '.') {
			failed += run_case(dir, list[i]->d_name, regen);
			cases++;
		}
		free(list[i]);
	}
	free(list);
	assert_true(cases >= (int)ARRAY_SIZE(musts));
	assert_int_equal(failed, 0);
}

/* ---- bootcfg_select and direct parser checks ---- */

static const char select_cfg[] =
	"set default=\"gnulinux-advanced-x>gnulinux-6.1-recovery\"\n"
	"menuentry 'Debian GNU/Linux' --id gnulinux-simple {\n"
	"  linux /vmlinuz root=/dev/sda1 'console=tty0 quiet' \"a\\\"b\"\n"
	"}\n"
	"submenu 'Advanced options' --id gnulinux-advanced-x {\n"
	"  menuentry 'Debian, with Linux 6.1' --id gnulinux-6.1-advanced { linux /vmlinuz-6.1 ro; }\n"
	"  menuentry 'Debian, with Linux 6.1 (recovery mode)' --id gnulinux-6.1-recovery {\n"
	"    linux /vmlinuz-6.1 ro single\n"
	"    initrd /initrd.img-6.1 /microcode.img\n"
	"  }\n"
	"}\n"
	"menuentry 'Memtest86+' { linux16 /memtest86+.bin; }\n";

static void parse_select_cfg(struct boot_config *c)
{
	struct buf err = BUF_INIT;
	int r = bootcfg_parse_grub2(select_cfg, strlen(select_cfg), "/boot/grub/grub.cfg", NULL, c, &err);
	if (r < 0)
		fail_msg("parse: %s", err.s);
	buf_release(&err);
	assert_int_equal(c->n, 4);
}

static void expect_select(const struct boot_config *c, const char *want, int result, const char *msg)
{
	struct buf err = BUF_INIT;
	int r = bootcfg_select(c, want, &err);
	assert_int_equal(r, result);
	if (msg && !strstr(err.s, msg))
		fail_msg("select '%s': message '%s' lacks '%s'", want, err.s, msg);
	if (result < 0)
		assert_true(err.len > 0);
	buf_release(&err);
}

static void test_select(void **state)
{
	(void)state;
	struct boot_config c;
	parse_select_cfg(&c);
	/* default "subid>entryid" walks into the submenu */
	assert_int_equal(c.default_index, 2);
	assert_string_equal(c.entries[2].id, "gnulinux-advanced-x>gnulinux-6.1-recovery");
	assert_string_equal(c.entries[2].title, "Advanced options>Debian, with Linux 6.1 (recovery mode)");
	assert_int_equal(c.entries[2].n_initrds, 2);
	/* GRUB's quoting removed, then re-quoted for the kernel like GRUB does */
	assert_string_equal(c.entries[0].cmdline, "root=/dev/sda1 \"console=tty0 quiet\" a\\\"b");
	assert_null(c.entries[3].id);

	expect_select(&c, NULL, 2, NULL);
	expect_select(&c, "", 2, NULL);
	expect_select(&c, "0", 0, NULL);
	expect_select(&c, "3", 3, NULL);
	expect_select(&c, "4", -ENOENT, "out of range");
	expect_select(&c, "99999999999999999999", -ENOENT, "out of range");
	expect_select(&c, "Memtest86+", 3, NULL);
	expect_select(&c, "gnulinux-simple", 0, NULL);
	expect_select(&c, "gnulinux-advanced-x>gnulinux-6.1-advanced", 1, NULL);
	expect_select(&c, "Mem", 3, NULL);
	expect_select(&c, "Advanced options>Debian, with Linux 6.1 (r", 2, NULL);
	expect_select(&c, "Advanced", -EINVAL, "ambiguous");
	expect_select(&c, "Windows", -ENOENT, "Windows");
	boot_config_release(&c);

	struct boot_config none = { .default_index = -1 };
	expect_select(&none, NULL, -ENOENT, "no default");
}

/* `set default` by index counts a submenu as one item; past the end GRUB
 * falls back to the first entry; an unknown title too. */
static void test_default_index(void **state)
{
	(void)state;
	static const struct {
		const char *def;
		int want;
	} cases[] = { { "0", 0 }, { "1", 1 }, { "2", 3 }, { "1>1", 2 }, { "7", 0 }, { "nope", 0 },
		      { "Memtest86+", 3 }, { "Advanced options>Debian, with Linux 6.1", 1 }, { "saved", 1 } };
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct buf text = BUF_INIT, err = BUF_INIT;
		struct boot_config c;
		buf_printf(&text, "saved_entry=gnulinux-advanced-x>gnulinux-6.1-advanced\n%s\nset default='%s'\n",
			   select_cfg, cases[i].def);
		int r = bootcfg_parse_grub2(text.s, text.len, "/boot/grub/grub.cfg", NULL, &c, &err);
		if (r < 0)
			fail_msg("%s", err.s);
		if (c.default_index != cases[i].want)
			fail_msg("default '%s' gave %d, want %d", cases[i].def, c.default_index, cases[i].want);
		boot_config_release(&c);
		buf_release(&text);
		buf_release(&err);
	}
}

static void expect_error(const char *text, const char *msg)
{
	struct buf err = BUF_INIT;
	struct boot_config c;
	int r = bootcfg_parse_grub2(text, strlen(text), "/grub/grub.cfg", NULL, &c, &err);
	if (r != -EINVAL || !strstr(err.s, msg))
		fail_msg("'%s': got %d '%s', want '%s'", text, r, err.s, msg);
	boot_config_release(&c);
	buf_release(&err);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("set a=1\nfi\n", "/grub/grub.cfg:2: 'fi' without 'if'");
	expect_error("menuentry 'x' {\n linux /v\n", "/grub/grub.cfg:1: menuentry without a closing }");
	expect_error("menuentry 'x'\n{ linux /v }\n", "/grub/grub.cfg:1: menuentry without a body");
	expect_error("\n\nset a=\"x\n", "/grub/grub.cfg:3: unterminated double quote");
	expect_error("echo ${a\n", "/grub/grub.cfg:1: unterminated ${");
	expect_error("}\n", "'}' without a matching '{'");
	expect_error("if true; then\nfi\nelse\n", "/grub/grub.cfg:3: 'else' without 'if'");
	/* exponential growth of a variable is cut off */
	struct buf b = BUF_INIT;
	buf_adds(&b, "a=xxxxxxxxxxxxxxxx\n");
	for (int i = 0; i < 40; i++)
		buf_adds(&b, "a=$a$a\n");
	expect_error(b.s, "longer than");
	buf_reset(&b);
	for (int i = 0; i < 1001; i++)
		buf_printf(&b, "menuentry 'e%d' { linux /v; }\n", i);
	expect_error(b.s, "more than 1000 menu entries");
	buf_release(&b);
}

/* A few files served from memory, for source/configfile/load_env. */
static const char *const mem_files[][2] = {
	{ "/grub/extra.cfg", "menuentry 'Extra' { linux /extra; }\nset default=Extra\n" },
	{ "/grub/real.cfg", "set default=1\nmenuentry A { linux /a $exported; }\nmenuentry B { linux /b $plain; }\n" },
	{ "/grub/loop.cfg", "source /grub/loop.cfg\n" },
	{ "/grub/grubenv", "# GRUB Environment Block\nsaved_entry=B\\>x\nkernelopts=a\\\nb\n######\n" },
};

static int mem_read(void *arg, const char *path, struct buf *out)
{
	(void)arg;
	for (size_t i = 0; i < ARRAY_SIZE(mem_files); i++)
		if (strcmp(mem_files[i][0], path) == 0) {
			buf_adds(out, mem_files[i][1]);
			return 0;
		}
	return -ENOENT;
}

static int mem_parse(const char *text, struct boot_config *c, struct buf *err)
{
	struct bootcfg_io io = { .read = mem_read };
	return bootcfg_parse_grub2(text, strlen(text), "/grub/grub.cfg", &io, c, err);
}

static void test_source_configfile(void **state)
{
	(void)state;
	struct boot_config c;
	struct buf err = BUF_INIT;

	/* source adds to the menu; a missing file is only a failed command */
	assert_int_equal(mem_parse("menuentry Old { linux /old; }\nsource /grub/extra.cfg\n"
				   "source /grub/missing.cfg\nif [ $? = 1 ]; then menuentry Missed { linux /m; }; fi\n",
				   &c, &err), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.default_index, 1);
	assert_string_equal(c.entries[1].origin, "/grub/extra.cfg:1");
	assert_string_equal(c.entries[2].title, "Missed");
	boot_config_release(&c);

	/* configfile replaces the menu, keeps only exported variables, never returns */
	assert_int_equal(mem_parse("set exported=yes\nexport exported\nset plain=no\nmenuentry Old { linux /old; }\n"
				   "configfile (hd0,msdos1)/grub/real.cfg\nmenuentry After { linux /after; }\n",
				   &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.default_index, 1);
	assert_string_equal(c.entries[0].cmdline, "yes");
	assert_string_equal(c.entries[1].cmdline, "");
	boot_config_release(&c);

	/* an unquoted empty variable leaves `[ ]`, which is false */
	assert_int_equal(mem_parse("if [ $next_entry ]; then set default=1; fi\n"
				   "if [ -n \"$x\" -o x = x -a ! -f /grub/none ]; then menuentry T { linux /t; }; fi\n"
				   "menuentry U { linux /u; }\n",
				   &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.default_index, 0);
	boot_config_release(&c);

	/* grubenv escapes; load_env with a whitelist */
	assert_int_equal(mem_parse("load_env kernelopts\nmenuentry K { linux /k $kernelopts \"$saved_entry\"; }\n"
				   "load_env -f /grub/grubenv saved_entry\n",
				   &c, &err), 0);
	assert_string_equal(c.entries[0].cmdline, "a b B>x");
	boot_config_release(&c);

	assert_int_equal(mem_parse("source /grub/loop.cfg\n", &c, &err), -EINVAL);
	assert_non_null(strstr(err.s, "/grub/loop.cfg:1: source nested more than 8 deep"));
	buf_release(&err);
}

/* Legacy menu.lst directly: `default` out of range falls back to 0. */
static void test_legacy(void **state)
{
	(void)state;
	static const char text[] = "default=5\ntimeout=5\n"
				   "title A\n\troot (hd0,0)\n\tkernel --no-mem-option /vmlinuz-a ro  root=/dev/sda2\n"
				   "\tinitrd /initrd-a.img\n"
				   "title Other\n\trootnoverify (hd0,1)\n\tchainloader +1\n";
	struct boot_config c;
	struct buf err = BUF_INIT;
	assert_int_equal(bootcfg_parse_legacy(text, strlen(text), "/grub/menu.lst", &c, &err), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.default_index, 0);
	assert_string_equal(c.entries[0].kernel, "/vmlinuz-a");
	assert_string_equal(c.entries[0].cmdline, "ro  root=/dev/sda2");
	assert_string_equal(c.entries[0].initrds[0], "/initrd-a.img");
	assert_null(c.entries[1].kernel);
	assert_string_equal(c.entries[1].origin, "/grub/menu.lst:7");
	boot_config_release(&c);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),	      cmocka_unit_test(test_select),
		cmocka_unit_test(test_default_index), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_legacy),	      cmocka_unit_test(test_source_configfile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
