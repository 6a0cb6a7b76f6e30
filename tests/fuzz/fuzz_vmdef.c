/*
 * fuzz_vmdef.c - fuzz target for VM definitions: bytes -> JSON -> vmdef.
 *
 * What a user or a hand-edited state database can send reaches
 * vmdef_from_json; whatever it accepts is serialised again, parsed again,
 * and turned into a QEMU command line.  Checked besides "no crash, no leak":
 *   - a rejection always carries a message;
 *   - an accepted definition is a fixed point: to_json -> text -> from_json
 *     -> to_json gives the same JSON (the store relies on this);
 *   - the command line holds no control characters (it goes to execve and
 *     to golden files one element per line);
 *   - with cloud_init, the seed can be written, its meta-data is exactly
 *     two lines (instance-id, local-hostname), and every line corral
 *     writes itself into user-data is one of the shapes the writer makes
 *     (no value can start a line of its own: no injected keys).
 *
 * Build with libFuzzer (clang -DFUZZING -fsanitize=fuzzer,address,...), or
 * without FUZZING as a plain program that replays a corpus:
 *     fuzz_vmdef DIR_OR_FILE...
 * (see tests/fuzz/README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vmdef.h"
#include "qemu/argv.h"
#include "util/buf.h"
#include "util/cmd.h"
#include "util/jsonutil.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_vmdef: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* The lines corral's own cloud-config is made of (cloudinit.c user_data_make). */
static bool generated_line_ok(const char *line, size_t n)
{
	static const char *const shapes[] = { "#cloud-config", "# written by corral", "users:", "  - name: \"",
					      "    sudo: \"", "    shell: \"", "    lock_passwd: false",
					      "    hashed_passwd: \"", "    ssh_authorized_keys:", "      - \"",
					      "ssh_pwauth: true", "ssh_authorized_keys:", "  - \"" };
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (n >= strlen(shapes[i]) && strncmp(line, shapes[i], strlen(shapes[i])) == 0)
			return true;
	return false;
}

static void check_seed(const struct vm_def *d)
{
	struct cloudinit_seed seed;
	struct buf err = BUF_INIT;
	size_t lines = 0;

	if (cloudinit_seed_make(d, &seed, &err) < 0)
		die("an accepted definition has no seed", err.s);
	for (const char *p = seed.meta_data; *p; p++)
		lines += *p == '\n';
	if (lines != 2 || strncmp(seed.meta_data, "instance-id: \"iid-", 18) != 0)
		die("meta-data is not two lines", seed.meta_data);
	if (!d->cloudinit->user_data) {
		for (const char *p = seed.user_data; *p;) {
			size_t n = strcspn(p, "\n");
			if (!generated_line_ok(p, n))
				die("unexpected line in the generated user-data", p);
			p += n + (p[n] == '\n');
		}
	}
	cloudinit_seed_release(&seed);
	buf_release(&err);
}

static void check_argv(const struct vm_def *d)
{
	struct qemu_launch l = { 0 };
	struct cmd c = CMD_INIT;
	struct buf err = BUF_INIT;
	char *paths[VM_MAX_DISKS] = { 0 };

	l.def = d;
	l.binary = "qemu-system-x86_64";
	l.run_dir = "/run/corral/fuzz";
	l.accel = d->accel == ACCEL_KVM ? ACCEL_KVM : ACCEL_TCG;
	l.cidata_path = "/run/corral/fuzz/cidata.iso";
	for (int i = 0; i < d->ndisks; i++) {
		paths[i] = xasprintf("/var/lib/corral/storage/%s.qcow2", d->disks[i].volume);
		l.disk_path[i] = paths[i];
		l.disk_format[i] = "qcow2";
	}
	if (qemu_build_argv(&l, &c, &err) == 0) {
		for (size_t i = 0; i < c.argc; i++)
			if (str_has_control(c.argv[i]))
				die("control character in argv element", c.argv[i]);
		if (c.argv[c.argc] != NULL)
			die("argv not NULL-terminated", NULL);
	} else if (err.len == 0) {
		die("qemu_build_argv failed without a message", NULL);
	}
	cmd_release(&c);
	buf_release(&err);
	for (int i = 0; i < d->ndisks; i++)
		free(paths[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t je;
	struct buf err = BUF_INIT;
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return 0;

	struct vm_def *d = vmdef_from_json(j, &err);
	if (!d) {
		if (err.len == 0)
			die("rejected without a message", NULL);
		json_decref(j);
		buf_release(&err);
		return 0;
	}
	if (err.len != 0)
		die("accepted but left an error message", err.s);
	if (str_name_invalid(d->name))
		die("accepted an invalid name", d->name);

	/* to_json -> text -> from_json -> to_json is the identity */
	json_t *out = vmdef_to_json(d);
	char *text = json_to_string(out);
	json_t *back = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!back)
		die("own output does not parse", text);
	struct vm_def *d2 = vmdef_from_json(back, &err);
	if (!d2)
		die("own output rejected", err.s);
	json_t *out2 = vmdef_to_json(d2);
	if (!json_equal(out, out2)) {
		char *t2 = json_to_string(out2);
		fprintf(stderr, "first:  %s\nsecond: %s\n", text, t2);
		free(t2);
		die("to_json/from_json is not a fixed point", NULL);
	}
	/* and so is vmdef_dup */
	struct vm_def *d3 = vmdef_dup(d);
	if (!d3)
		die("vmdef_dup failed", text);

	check_argv(d);
	if (d->cloudinit)
		check_seed(d);

	vmdef_free(d);
	vmdef_free(d2);
	vmdef_free(d3);
	json_decref(out);
	json_decref(out2);
	json_decref(back);
	free(text);
	json_decref(j);
	buf_release(&err);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_vmdef", argc, argv); }
#endif
