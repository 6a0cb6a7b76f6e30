/*
 * vmlimits.c - parsing, validating and serialising a VM's resource limits
 * and its disks' I/O limits (see vmlimits.h); also the CPU list syntax
 * cgroups use for pinning ("0-1,3").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmlimits.h"
#include "vmdef.h"
#include "util/fsutil.h"
#include "util/jsonutil.h"
#include "util/common.h"

void vmlimits_release(struct vm_limits *l)
{
	free(l->cpuset);
	l->cpuset = NULL;
}

/* ---- CPU lists --------------------------------------------------------- */

int cpuset_parse(const char *s, uint64_t mask[CPUSET_WORDS], char **norm, struct buf *err)
{
	memset(mask, 0, CPUSET_WORDS * sizeof(uint64_t));
	const char *p = s;
	if (!s || !*s)
		goto bad;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			goto bad;
		long a = strtol(p, &end, 10), b = a;
		p = end;
		if (*p == '-') {
			if (p[1] < '0' || p[1] > '9')
				goto bad;
			b = strtol(p + 1, &end, 10);
			p = end;
		}
		if (a > VM_MAX_CPUSET_CPU || b > VM_MAX_CPUSET_CPU || b < a) {
			buf_printf(err, "cpuset '%s': CPU ranges must go upward and stay within 0-%d", s,
				   VM_MAX_CPUSET_CPU);
			return -EINVAL;
		}
		for (long i = a; i <= b; i++)
			mask[i / 64] |= 1ULL << (i % 64);
		if (*p == ',') {
			if (!p[1])
				goto bad;
			p++;
		} else if (*p) {
			goto bad;
		}
	}
	if (norm) {
		struct buf b = BUF_INIT;
		for (int i = 0; i <= VM_MAX_CPUSET_CPU; i++) {
			if (!(mask[i / 64] >> (i % 64) & 1))
				continue;
			int j = i;
			while (j + 1 <= VM_MAX_CPUSET_CPU && (mask[(j + 1) / 64] >> ((j + 1) % 64) & 1))
				j++;
			buf_printf(&b, b.len ? ",%d" : "%d", i);
			if (j > i)
				buf_printf(&b, "-%d", j);
			i = j;
		}
		*norm = buf_detach(&b);
	}
	return 0;
bad:
	buf_printf(err, "cpuset '%s' is not a CPU list like 0-1,3", s ? s : "");
	return -EINVAL;
}

int cpuset_count(const uint64_t mask[CPUSET_WORDS])
{
	int n = 0;
	for (int i = 0; i < CPUSET_WORDS; i++)
		n += __builtin_popcountll(mask[i]);
	return n;
}

int cpuset_host_check(const char *list, const char *online_path, struct buf *err)
{
	uint64_t want[CPUSET_WORDS], have[CPUSET_WORDS];
	struct buf b = BUF_INIT, e = BUF_INIT;
	const char *path = online_path ? online_path : "/sys/devices/system/cpu/online";
	int r = fs_read_file(path, 4096, &b);
	if (r < 0) {
		buf_printf(err, "cannot read the host's CPUs from %s: %s", path, strerror(-r));
		goto out;
	}
	b.s[strcspn(b.s, "\n")] = '\0';
	if ((r = cpuset_parse(b.s, have, NULL, &e)) < 0) {
		buf_printf(err, "cannot understand the host's CPU list in %s", path);
		goto out;
	}
	if ((r = cpuset_parse(list, want, NULL, err)) < 0)
		goto out;
	for (int i = 0; i < CPUSET_WORDS; i++) {
		if (want[i] & ~have[i]) {
			buf_printf(err, "cpuset '%s' names CPUs this host does not have (its CPUs: %s)", list, b.s);
			r = -EINVAL;
			break;
		}
	}
out:
	buf_release(&b);
	buf_release(&e);
	return r;
}

/* ---- VM limits --------------------------------------------------------- */

int vmlimits_parse(struct vm_limits *l, const json_t *j, int64_t memory_mib, struct buf *err)
{
	static const char *const keys[] = { "cpu_weight", "cpu_limit", "cpuset", "memory_limit_mib",
					    "memory_target_mib", NULL };
	int64_t weight = 0, target = 0;
	const char *cpuset = NULL;
	json_t *v;

	if (json_check_keys(j, "limits", keys, err) < 0 ||
	    json_get_int(j, "cpu_weight", 1, VM_MAX_CPU_WEIGHT, &weight, err) < 0 ||
	    json_get_int(j, "memory_limit_mib", 0, VM_MAX_MEMORY_MIB * 2LL, &l->memory_limit_mib, err) < 0 ||
	    json_get_int(j, "memory_target_mib", VM_MIN_MEMORY_MIB, memory_mib, &target, err) < 0 ||
	    json_get_str(j, "cpuset", &cpuset, err) < 0)
		return -EINVAL;
	l->cpu_weight = (int)weight;
	l->memory_target_mib = target;
	if ((v = json_object_get(j, "cpu_limit"))) {
		double c = json_number_value(v);
		if (!json_is_number(v) || !(c >= 0.01 && c <= VM_MAX_CPUS)) {
			buf_printf(err, "limits.cpu_limit must be a number of CPUs from 0.01 to %d (like 1.5)", VM_MAX_CPUS);
			return -EINVAL;
		}
		l->cpu_limit_centi = (int)(c * 100 + 0.5);
	}
	if (cpuset && cpuset_parse(cpuset, (uint64_t[CPUSET_WORDS]){ 0 }, &l->cpuset, err) < 0)
		return -EINVAL;
	if (l->memory_limit_mib > 0 && l->memory_limit_mib < memory_mib + 64) {
		buf_printf(err, "limits.memory_limit_mib must be at least the guest's memory plus 64 MiB for QEMU "
			   "(%lld MiB), or 0 for no limit", (long long)memory_mib + 64);
		return -EINVAL;
	}
	return 0;
}

json_t *vmlimits_to_json(const struct vm_limits *l)
{
	json_t *j = json_object();
	if (l->cpu_weight)
		json_object_set_new(j, "cpu_weight", json_integer(l->cpu_weight));
	if (l->cpu_limit_centi) {
		/* whole CPUs as an integer, else two decimals exactly */
		if (l->cpu_limit_centi % 100 == 0)
			json_object_set_new(j, "cpu_limit", json_integer(l->cpu_limit_centi / 100));
		else
			json_object_set_new(j, "cpu_limit", json_real(l->cpu_limit_centi / 100.0));
	}
	if (l->cpuset)
		json_object_set_new(j, "cpuset", json_string(l->cpuset));
	if (l->memory_limit_mib >= 0)
		json_object_set_new(j, "memory_limit_mib", json_integer(l->memory_limit_mib));
	if (l->memory_target_mib)
		json_object_set_new(j, "memory_target_mib", json_integer(l->memory_target_mib));
	return j;
}

/* ---- disk I/O limits --------------------------------------------------- */

struct io_field {
	const char *key;
	size_t off;
	bool bytes;
};
#define IOF(k, b) { #k, offsetof(struct vm_disk_io, k), b }
static const struct io_field io_fields[] = {
	IOF(iops, false),     IOF(iops_rd, false),     IOF(iops_wr, false),
	IOF(bps, true),	      IOF(bps_rd, true),       IOF(bps_wr, true),
	IOF(iops_max, false), IOF(iops_rd_max, false), IOF(iops_wr_max, false),
	IOF(bps_max, true),   IOF(bps_rd_max, true),   IOF(bps_wr_max, true),
};

static int64_t *io_at(struct vm_disk_io *io, size_t i) { return (int64_t *)((char *)io + io_fields[i].off); }
static int64_t io_get(const struct vm_disk_io *io, size_t i)
{
	return *(const int64_t *)((const char *)io + io_fields[i].off);
}

bool vmdisk_io_any(const struct vm_disk_io *io)
{
	for (size_t i = 0; i < ARRAY_SIZE(io_fields); i++)
		if (io_get(io, i))
			return true;
	return false;
}

int vmdisk_io_parse(struct vm_disk_io *io, const json_t *j, const char *what, struct buf *err)
{
	static const char *const keys[] = { "iops", "iops_rd", "iops_wr", "bps", "bps_rd", "bps_wr",
					    "iops_max", "iops_rd_max", "iops_wr_max", "bps_max", "bps_rd_max",
					    "bps_wr_max", "burst_s", NULL };
	int64_t burst = 0;
	memset(io, 0, sizeof(*io));
	if (json_check_keys(j, what, keys, err) < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(io_fields); i++) {
		int64_t lo = io_fields[i].bytes ? VM_MIN_BPS : VM_MIN_IOPS;
		int64_t hi = io_fields[i].bytes ? VM_MAX_BPS : VM_MAX_IOPS;
		if (json_get_int(j, io_fields[i].key, lo, hi, io_at(io, i), err) < 0) {
			buf_printf(err, " (%s: io.%s is %s per second)", what, io_fields[i].key,
				   io_fields[i].bytes ? "bytes" : "operations");
			return -EINVAL;
		}
	}
	if (json_get_int(j, "burst_s", 1, VM_MAX_BURST_S, &burst, err) < 0)
		return -EINVAL;
	io->burst_s = (int)burst;
	/* QEMU's rules (throttle_is_valid): a total excludes its read/write
	 * split, and a burst needs a rate at or below it. */
	for (size_t base = 0; base < 12; base += 3) {
		if (io_get(io, base) && (io_get(io, base + 1) || io_get(io, base + 2))) {
			buf_printf(err, "%s: io.%s and io.%s/io.%s cannot be set together", what, io_fields[base].key,
				   io_fields[base + 1].key, io_fields[base + 2].key);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < 6; i++) {
		int64_t rate = io_get(io, i), max = io_get(io, i + 6);
		if (max && (!rate || max < rate)) {
			buf_printf(err, "%s: io.%s (a burst) needs io.%s set, and must not be below it", what,
				   io_fields[i + 6].key, io_fields[i].key);
			return -EINVAL;
		}
	}
	if (io->burst_s) {
		bool any_max = false;
		for (size_t i = 6; i < 12; i++)
			any_max |= io_get(io, i) != 0;
		if (!any_max) {
			buf_printf(err, "%s: io.burst_s needs a burst rate (io.iops_max, io.bps_max, ...)", what);
			return -EINVAL;
		}
	}
	return 0;
}

json_t *vmdisk_io_to_json(const struct vm_disk_io *io)
{
	json_t *j = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(io_fields); i++)
		if (io_get(io, i))
			json_object_set_new(j, io_fields[i].key, json_integer(io_get(io, i)));
	if (io->burst_s)
		json_object_set_new(j, "burst_s", json_integer(io->burst_s));
	return j;
}
