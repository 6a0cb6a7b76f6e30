/*
 * fuzz_ovf.c - fuzz target for the appliance readers (src/image/ovf.c,
 * ova_tar.c, ovf_mf.c, sniff.c), which `vm import` and `disk import` run on
 * files anybody can hand an administrator.
 *
 * Input: any bytes.  They are parsed as an OVF descriptor, as a manifest,
 * as a tar archive (served from memory as a device) and sniffed.  Checked
 * besides "no crash, no leak, no hang":
 *   - a failure carries a message and returns no result;
 *   - an accepted descriptor has 1..1024 CPUs, memory >= 1 MiB, at most 16
 *     disks of positive capacity with a known controller kind, at most 4
 *     NICs, firmware null/"bios"/"efi", and warnings that are strings;
 *   - an accepted manifest's digests are lower-case hex of 40 or 64 digits;
 *   - every tar member lies inside the input, has a plain name (no '/', no
 *     leading '.') and members do not overlap.
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/appliance.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_ovf: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static void check_failure(int r, json_t *out, const struct buf *err, const char *what)
{
	if (r < 0) {
		if (!err->len)
			die(what, "failed without a message");
		if (out)
			die(what, "failed but returned a result");
	} else if (!out) {
		die(what, "succeeded without a result");
	}
}

static void check_descriptor(const json_t *d)
{
	json_int_t cpus = json_integer_value(json_object_get(d, "cpus"));
	json_int_t mem = json_integer_value(json_object_get(d, "memory_mib"));
	const json_t *fw = json_object_get(d, "firmware"), *x;
	size_t i;

	if (cpus < 1 || cpus > 1024 || mem < 1)
		die("descriptor", "cpus or memory out of range");
	if (!json_is_null(fw) && strcmp(json_string_value(fw), "bios") != 0 && strcmp(json_string_value(fw), "efi") != 0)
		die("descriptor", "unknown firmware value");
	if (json_array_size(json_object_get(d, "disks")) > OVF_MAX_DISKS ||
	    json_array_size(json_object_get(d, "nics")) > OVF_MAX_NICS)
		die("descriptor", "too many disks or NICs");
	json_array_foreach(json_object_get(d, "disks"), i, x) {
		const char *ctl = json_string_value(json_object_get(x, "controller"));
		if (json_integer_value(json_object_get(x, "capacity")) <= 0)
			die("descriptor", "disk without a positive capacity");
		if (!ctl || !strstr(" ide sata scsi nvme other ", ctl))
			die("descriptor", "unknown controller kind");
	}
	json_array_foreach(json_object_get(d, "warnings"), i, x)
		if (!json_is_string(x))
			die("descriptor", "a warning that is not a string");
}

static void check_manifest(const json_t *m)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v) {
		const char *hex = json_string_value(json_object_get(v, "digest"));
		size_t n = hex ? strlen(hex) : 0;
		if ((n != 40 && n != 64) || strspn(hex, "0123456789abcdef") != n)
			die("manifest", "digest is not lower-case hex of the right length");
	}
}

struct mem {
	const uint8_t *data;
};

static int mem_pread(void *priv, void *buf, size_t len, uint64_t off)
{
	memcpy(buf, ((struct mem *)priv)->data + off, len);
	return 0;
}

static void mem_close(void *priv) { free(priv); }

static const struct img_dev_ops mem_ops = { mem_pread, mem_close };

static void check_tar(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct img_dev *dev = NULL;
	struct mem *m = calloc(1, sizeof(*m));
	json_t *idx = NULL, *x;
	uint64_t prev_end = 0;
	size_t i;

	m->data = data;
	if (img_dev_new(&mem_ops, m, size, "fuzz.ova", &dev, &err) < 0)
		die("tar", "cannot make the device");
	int r = ova_tar_index(dev, &idx, &err);
	check_failure(r, idx, &err, "tar");
	json_array_foreach(idx, i, x) {
		const char *name = json_string_value(json_object_get(x, "name"));
		uint64_t off = (uint64_t)json_integer_value(json_object_get(x, "offset"));
		uint64_t len = (uint64_t)json_integer_value(json_object_get(x, "size"));
		if (!name || !*name || strchr(name, '/') || name[0] == '.')
			die("tar", "a member name that is not plain");
		if (off > size || len > size - off || off < prev_end)
			die("tar", "a member outside the input or overlapping another");
		prev_end = off + len;
	}
	json_decref(idx);
	img_dev_free(dev);
	buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	json_t *out = NULL;

	int r = ovf_parse((const char *)data, size, &out, &err);
	check_failure(r, out, &err, "descriptor");
	if (out)
		check_descriptor(out);
	json_decref(out);
	out = NULL;
	buf_reset(&err);

	r = ovf_mf_parse((const char *)data, size, &out, &err);
	check_failure(r, out, &err, "manifest");
	if (out)
		check_manifest(out);
	json_decref(out);
	buf_release(&err);

	check_tar(data, size);
	if (!img_sniff(data, size))
		die("sniff", "no answer");
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_ovf", argc, argv); }
#endif
