/*
 * fuzz_bootcfg.c - fuzz target for the boot loader configuration parser
 * (src/image/bootcfg.c), which reads grub.cfg and menu.lst from guest disks,
 * that is from whoever controls the guest.
 *
 * Input: a grub.cfg.  The fake filesystem serves one fixed small grubenv
 * (for load_env) and no other file or directory, so `source`, blscfg and
 * file tests see missing files.  The same input also goes to the legacy
 * menu.lst parser.  Checked besides "no crash, no leak, no hang":
 *   - a failure carries a message and leaves an empty configuration;
 *   - a success has a default inside the entry list (or -1 when empty),
 *     every entry has a title and an origin, and bootcfg_select() of the
 *     default and of every index answers that index.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/bootcfg.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char grubenv[] = "# GRUB Environment Block\n"
			      "saved_entry=gnulinux-advanced-x>gnulinux-6.1-advanced-x\n"
			      "kernelopts=root=/dev/sda1 ro quiet\n"
			      "#####################################################\n";

static int fake_read(void *arg, const char *path, struct buf *out)
{
	size_t len = strlen(path);
	(void)arg;
	if (len < 8 || strcmp(path + len - 8, "/grubenv") != 0)
		return -ENOENT;
	buf_add(out, grubenv, sizeof(grubenv) - 1);
	return 0;
}

static int fake_list(void *arg, const char *dir, void (*cb)(const char *name, void *cbarg), void *cbarg)
{
	(void)arg;
	(void)dir;
	(void)cb;
	(void)cbarg;
	return -ENOENT;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_bootcfg: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void check(int r, struct boot_config *c, struct buf *err)
{
	if (r < 0) {
		if (err->len == 0)
			die("failed without a message", NULL);
		if (c->n != 0 || c->entries)
			die("failed but left entries", err->s);
		return;
	}
	if (c->default_index < -1 || c->default_index >= (int)c->n)
		die("default outside the entry list", NULL);
	for (size_t i = 0; i < c->n; i++) {
		char idx[32];
		struct buf e = BUF_INIT;
		if (!c->entries[i].title || !c->entries[i].origin)
			die("entry without title or origin", NULL);
		snprintf(idx, sizeof(idx), "%zu", i);
		if (bootcfg_select(c, idx, &e) != (int)i)
			die("select by index answered another entry", idx);
		buf_release(&e);
	}
	struct buf e = BUF_INIT;
	int d = bootcfg_select(c, NULL, &e);
	if (c->default_index >= 0 ? d != c->default_index : d >= 0 || e.len == 0)
		die("select of the default disagrees with default_index", e.s);
	buf_release(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bootcfg_io io = { .read = fake_read, .list = fake_list, .arg = NULL };
	struct boot_config c;
	struct buf err = BUF_INIT;

	int r = bootcfg_parse_grub2((const char *)data, size, "/boot/grub/grub.cfg", &io, &c, &err);
	check(r, &c, &err);
	boot_config_release(&c);
	buf_reset(&err);

	r = bootcfg_parse_legacy((const char *)data, size, "/boot/grub/menu.lst", &c, &err);
	check(r, &c, &err);
	boot_config_release(&c);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_bootcfg", argc, argv); }
#endif
