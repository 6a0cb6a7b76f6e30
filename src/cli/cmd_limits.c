/*
 * cmd_limits.c - resource limits from the command line (see reslimits.h):
 * the limit flags shared by `vm create`, `vm set` and `disk attach`, the
 * `vm set` verb (POST /v1/vms/{vm}/limits) and `vm limits` (GET of the
 * same), which prints what is configured beside what is in effect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reslimits.h"
#include "client.h"
#include "util/buf.h"
#include "util/common.h"

void limits_flags_release(struct limits_flags *f)
{
	json_decref(f->limits);
	json_decref(f->disks);
	free(f->disk);
	f->limits = f->disks = NULL;
	f->disk = NULL;
}

bool limits_opt_is(int opt) { return opt >= LIMITS_OPT_CPU_WEIGHT && opt < LIMITS_OPT_END; }

static bool is_none(const char *arg) { return strcmp(arg, "none") == 0; }

static void set_limit(struct limits_flags *f, const char *key, json_t *v)
{
	if (!f->limits)
		f->limits = json_object();
	json_object_set_new(f->limits, key, v);
}

/* The io object of disk `vol` ("" : the verb's own disk), created on demand. */
static json_t *disk_io(struct limits_flags *f, const char *vol)
{
	if (!f->disks)
		f->disks = json_object();
	json_t *io = json_object_get(f->disks, vol);
	if (!json_is_object(io)) {
		io = json_object();
		json_object_set_new(f->disks, vol, io);
	}
	return io;
}

static int parse_rate(const char *cmd, const char *flag, const char *arg, bool bytes, json_t **out)
{
	int64_t n;
	uint64_t b;
	if (is_none(arg)) {
		*out = json_null();
		return CLI_OK;
	}
	if (bytes) {
		if (cli_parse_size(arg, 1, &b) < 0 || b == 0 || b > (uint64_t)INT64_MAX)
			return cli_usage_error(cmd, "invalid --%s '%s': want bytes per second like 10M, or none", flag, arg);
		*out = json_integer((json_int_t)b);
	} else {
		if (cli_parse_int(arg, 1, INT64_MAX, &n) < 0)
			return cli_usage_error(cmd, "invalid --%s '%s': want operations per second, or none", flag, arg);
		*out = json_integer(n);
	}
	return CLI_OK;
}

int limits_flags_parse(struct limits_flags *f, const char *cmd, int opt, const char *arg)
{
	static const struct {
		int opt;
		const char *flag, *key;
		bool bytes;
	} per_disk[] = {
		{ LIMITS_OPT_IOPS, "iops", "iops", false },	     { LIMITS_OPT_IOPS_RD, "iops-rd", "iops_rd", false },
		{ LIMITS_OPT_IOPS_WR, "iops-wr", "iops_wr", false }, { LIMITS_OPT_BPS, "bps", "bps", true },
		{ LIMITS_OPT_BPS_RD, "bps-rd", "bps_rd", true },     { LIMITS_OPT_BPS_WR, "bps-wr", "bps_wr", true },
		{ LIMITS_OPT_IOPS_MAX, "iops-max", "iops_max", false }, { LIMITS_OPT_BPS_MAX, "bps-max", "bps_max", true },
		{ LIMITS_OPT_BURST, "burst", "burst_s", false },
	};
	int64_t n;
	uint64_t b;
	json_t *v = NULL;
	int rc;

	f->any = true;
	switch (opt) {
	case LIMITS_OPT_CPU_WEIGHT:
		if (is_none(arg))
			v = json_null();
		else if (cli_parse_int(arg, INT32_MIN, INT32_MAX, &n) == 0)
			v = json_integer(n);
		else
			return cli_usage_error(cmd, "invalid --cpu-weight '%s': want a number 1..10000, or none", arg);
		set_limit(f, "cpu_weight", v);
		return CLI_OK;
	case LIMITS_OPT_CPU_LIMIT: {
		char *end;
		double c = strtod(arg, &end);
		if (is_none(arg))
			v = json_null();
		else if (end != arg && !*end)
			v = c == (double)(long long)c ? json_integer((long long)c) : json_real(c);
		else
			return cli_usage_error(cmd, "invalid --cpu-limit '%s': want CPUs like 0.5 or 2, or none", arg);
		set_limit(f, "cpu_limit", v);
		return CLI_OK;
	}
	case LIMITS_OPT_CPUSET:
		set_limit(f, "cpuset", is_none(arg) ? json_null() : json_string(arg));
		return CLI_OK;
	case LIMITS_OPT_MEMORY_LIMIT:
	case LIMITS_OPT_MEMORY_TARGET: {
		bool lim = opt == LIMITS_OPT_MEMORY_LIMIT;
		const char *key = lim ? "memory_limit_mib" : "memory_target_mib";
		if ((lim && strcmp(arg, "default") == 0) || (!lim && is_none(arg)))
			v = json_null();
		else if (lim && is_none(arg))
			v = json_integer(0);
		else if (cli_parse_size(arg, 1u << 20, &b) == 0 && b && b % (1u << 20) == 0)
			v = json_integer((json_int_t)(b >> 20));
		else
			return cli_usage_error(cmd, "invalid --%s '%s': want whole MiB like 512M or 2G%s", lim ? "memory-limit" : "memory-target",
					       arg, lim ? ", none or default" : ", or none");
		set_limit(f, key, v);
		return CLI_OK;
	}
	case LIMITS_OPT_DISK_IOPS:
	case LIMITS_OPT_DISK_BPS: {
		bool bytes = opt == LIMITS_OPT_DISK_BPS;
		const char *eq = strchr(arg, '=');
		if (!eq || eq == arg)
			return cli_usage_error(cmd, "invalid --disk-%s '%s': want VOLUME=%s", bytes ? "bps" : "iops", arg,
					       bytes ? "SIZE" : "N");
		__do_free char *vol = xstrndup(arg, (size_t)(eq - arg));
		if ((rc = parse_rate(cmd, bytes ? "disk-bps" : "disk-iops", eq + 1, bytes, &v)) != CLI_OK)
			return rc;
		json_object_set_new(disk_io(f, vol), bytes ? "bps" : "iops", v);
		return CLI_OK;
	}
	case LIMITS_OPT_NO_IO:
		if (!f->disks)
			f->disks = json_object();
		json_object_set_new(f->disks, f->disk ? f->disk : "", json_null());
		return CLI_OK;
	default:
		break;
	}
	for (size_t i = 0; i < ARRAY_SIZE(per_disk); i++) {
		if (per_disk[i].opt != opt)
			continue;
		if (opt == LIMITS_OPT_BURST) {
			if (is_none(arg))
				v = json_null();
			else if (cli_parse_int(arg, 1, INT32_MAX, &n) == 0)
				v = json_integer(n);
			else
				return cli_usage_error(cmd, "invalid --burst '%s': want seconds", arg);
		} else if ((rc = parse_rate(cmd, per_disk[i].flag, arg, per_disk[i].bytes, &v)) != CLI_OK) {
			return rc;
		}
		json_object_set_new(disk_io(f, f->disk ? f->disk : ""), per_disk[i].key, v);
		return CLI_OK;
	}
	return cli_usage_error(cmd, "unknown limit option");
}

/* Drop null members (a definition has no "reset": absent is the default). */
static void drop_nulls(json_t *o)
{
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(o, tmp, k, v)
		if (json_is_null(v))
			json_object_del(o, k);
}

int limits_flags_to_def(struct limits_flags *f, const char *cmd, json_t *def)
{
	const char *vol;
	json_t *io;
	if (f->limits) {
		json_t *l = json_object_get(def, "limits");
		if (!json_is_object(l)) {
			l = json_object();
			json_object_set_new(def, "limits", l);
		}
		json_object_update(l, f->limits);
		drop_nulls(l);
	}
	json_object_foreach(f->disks, vol, io) {
		json_t *disk, *found = NULL;
		size_t i;
		if (!*vol)
			return cli_usage_error(cmd, "per-disk limits need the disk: use --disk-iops VOL=N or --disk-bps VOL=SIZE");
		json_array_foreach(json_object_get(def, "disks"), i, disk)
			if (json_is_string(json_object_get(disk, "volume")) &&
			    strcmp(json_string_value(json_object_get(disk, "volume")), vol) == 0)
				found = disk;
		if (!found)
			return cli_usage_error(cmd, "'%s' is not one of the VM's disks (give it with --disk)", vol);
		if (json_is_object(io)) {
			json_t *have = json_object_get(found, "io");
			if (!json_is_object(have)) {
				have = json_object();
				json_object_set_new(found, "io", have);
			}
			json_object_update(have, io);
			drop_nulls(have);
		} else {
			json_object_del(found, "io");
		}
	}
	return CLI_OK;
}

/* ---- printing -------------------------------------------------------- */

static void add_mib(struct buf *b, const char *label, const json_t *v)
{
	char sz[16];
	if (json_is_integer(v))
		buf_printf(b, "%s%s %s", b->len ? ", " : "", label,
			   out_size((uint64_t)json_integer_value(v) << 20, sz, sizeof(sz)));
}

static char *io_text(const json_t *io)
{
	struct buf b = BUF_INIT;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)io, k, v) {
		char sz[16];
		bool bytes = strncmp(k, "bps", 3) == 0;
		if (bytes && json_is_integer(v))
			buf_printf(&b, "%s%s %s/s", b.len ? ", " : "", k, out_size((uint64_t)json_integer_value(v), sz, sizeof(sz)));
		else {
			__do_free char *s = out_scalar(v);
			buf_printf(&b, "%s%s %s", b.len ? ", " : "", k, s);
		}
	}
	if (!b.len)
		buf_adds(&b, "no limits");
	return buf_detach(&b);
}

static char *conf_text(const json_t *l)
{
	struct buf b = BUF_INIT;
	json_t *v;
	if ((v = json_object_get(l, "cpu_weight"))) {
		__do_free char *s = out_scalar(v);
		buf_printf(&b, "cpu weight %s", s);
	}
	if ((v = json_object_get(l, "cpu_limit"))) {
		__do_free char *s = out_scalar(v);
		buf_printf(&b, "%scpu limit %s", b.len ? ", " : "", s);
	}
	if ((v = json_object_get(l, "cpuset")))
		buf_printf(&b, "%scpuset %s", b.len ? ", " : "", json_string_value(v));
	v = json_object_get(l, "memory_limit_mib");
	if (json_is_integer(v) && json_integer_value(v) == 0)
		buf_printf(&b, "%sno memory limit", b.len ? ", " : "");
	else
		add_mib(&b, "memory limit", v);
	add_mib(&b, "memory target", json_object_get(l, "memory_target_mib"));
	if (!b.len)
		buf_adds(&b, "host defaults");
	return buf_detach(&b);
}

static char *effective_text(const json_t *e)
{
	struct buf b = BUF_INIT;
	json_t *v;
	if (!json_is_object(e))
		return xstrdup("-");
	if ((v = json_object_get(e, "cpu_weight"))) {
		__do_free char *s = out_scalar(v);
		buf_printf(&b, "cpu weight %s", s);
	}
	v = json_object_get(e, "cpu_limit");
	if (json_is_number(v))
		buf_printf(&b, ", cpu limit %.2f", json_number_value(v));
	else
		buf_adds(&b, ", no cpu limit");
	if ((v = json_object_get(e, "cpuset")) && json_string_value(v) && *json_string_value(v))
		buf_printf(&b, ", cpus %s", json_string_value(v));
	v = json_object_get(e, "memory_limit_mib");
	if (json_is_integer(v))
		add_mib(&b, "memory limit", v);
	else
		buf_adds(&b, ", no memory limit");
	add_mib(&b, "using", json_object_get(e, "memory_used_mib"));
	if ((v = json_object_get(e, "oom_kills")) && json_integer_value(v))
		buf_printf(&b, ", %lld OOM kills", (long long)json_integer_value(v));
	if ((v = json_object_get(e, "cgroup")))
		buf_printf(&b, " (cgroup %s)", json_string_value(v));
	return buf_detach(&b);
}

static char *balloon_text(const json_t *bl)
{
	struct buf b = BUF_INIT;
	const json_t *st = json_object_get(bl, "stats");
	char sz[16];
	add_mib(&b, "guest has", json_object_get(bl, "actual_mib"));
	add_mib(&b, "target", json_object_get(bl, "target_mib"));
	if (json_is_object(st)) {
		json_t *free_m = json_object_get(st, "free-memory"), *total = json_object_get(st, "total-memory");
		json_t *avail = json_object_get(st, "available-memory");
		if (json_is_integer(total))
			buf_printf(&b, ", guest total %s", out_size((uint64_t)json_integer_value(total), sz, sizeof(sz)));
		if (json_is_integer(free_m))
			buf_printf(&b, ", free %s", out_size((uint64_t)json_integer_value(free_m), sz, sizeof(sz)));
		if (json_is_integer(avail))
			buf_printf(&b, ", available %s", out_size((uint64_t)json_integer_value(avail), sz, sizeof(sz)));
	} else {
		buf_adds(&b, " (no guest statistics yet)");
	}
	return buf_detach(&b);
}

void limits_show_lines(struct table *t, const json_t *vm)
{
	const json_t *status = json_object_get(vm, "status"), *disks = json_object_get(vm, "disks"), *v;
	size_t i;
	__do_free char *conf = conf_text(json_object_get(vm, "limits"));
	table_add_kv(t, "limits", "%s", conf);
	json_array_foreach(disks, i, v) {
		const json_t *io = json_object_get(v, "io");
		if (json_is_object(io)) {
			__do_free char *s = io_text(io);
			table_add_kv(t, "disk limits", "%s: %s", out_str(v, "volume"), s);
		}
	}
	if ((v = json_object_get(status, "limits")) && json_is_object(v)) {
		__do_free char *s = effective_text(v);
		table_add_kv(t, "limits now", "%s", s);
	}
	if (json_is_false(json_object_get(vm, "balloon")))
		table_add_kv(t, "balloon", "off");
	else if ((v = json_object_get(status, "balloon")) && json_is_object(v)) {
		__do_free char *s = balloon_text(v);
		table_add_kv(t, "balloon", "%s", s);
	} else {
		table_add_kv(t, "balloon", "on");
	}
}

static void print_limits(const json_t *answer)
{
	__do_table struct table *t = table_new_kv();
	const json_t *v;
	size_t i;
	__do_free char *conf = conf_text(json_object_get(answer, "configured"));
	__do_free char *eff = effective_text(json_object_get(answer, "effective"));
	table_add_kv(t, "name", "%s", out_str(answer, "name") ?: "-");
	table_add_kv(t, "state", "%s", out_str(answer, "state") ?: "-");
	table_add_kv(t, "configured", "%s", conf);
	table_add_kv(t, "in effect", "%s", eff);
	if ((v = json_object_get(answer, "effective")) && json_is_object(v)) {
		json_t *d = json_object_get(v, "memory_limit_default_mib");
		char sz[16];
		if (json_is_integer(d))
			table_add_kv(t, "default memory limit", "%s (guest memory + QEMU overhead)",
				     out_size((uint64_t)json_integer_value(d) << 20, sz, sizeof(sz)));
		if ((d = json_object_get(v, "cpu_time_ns")) && json_is_integer(d))
			table_add_kv(t, "cpu time", "%.2f s", (double)json_integer_value(d) / 1e9);
	}
	json_array_foreach(json_object_get(answer, "disks"), i, v) {
		__do_free char *c = io_text(json_object_get(v, "configured"));
		const json_t *e = json_object_get(v, "effective");
		__do_free char *n = json_is_object(e) ? io_text(e) : xstrdup("-");
		table_add_kv(t, i ? "" : "disks", "%s: %s; in effect: %s", out_str(v, "volume"), c, n);
	}
	if (json_is_false(json_object_get(answer, "balloon")))
		table_add_kv(t, "balloon", "off");
	else if ((v = json_object_get(answer, "balloon_now")) && json_is_object(v)) {
		__do_free char *s = balloon_text(v);
		table_add_kv(t, "balloon", "%s", s);
	} else {
		table_add_kv(t, "balloon", "on");
	}
	table_print(t, stdout);
}

/* ---- verbs ------------------------------------------------------------ */

static const char usage_set[] =
	"usage: corral vm set VM [OPTIONS]\n"
	"\n"
	"Change a VM's resource limits.  They are stored in its definition and, on\n"
	"a running VM, applied at once without a restart (cgroup, QEMU's disk\n"
	"throttling, the balloon).  A value of 'none' (for --memory-limit also\n"
	"'default') returns a limit to its default.  A refused value changes\n"
	"nothing.\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' (one VM).\n"
	"\n"
	"Options:\n" LIMITS_VM_HELP
	"  --disk VOL            the disk the following per-disk options apply to\n"
	LIMITS_DISK_HELP
	"  --no-io-limits        remove every I/O limit of the --disk\n"
	"  --json                print the API's answer\n"
	"  -h, --help            show this help\n"
	"\n"
	"Example: corral vm set web1 --cpu-limit 1.5 --disk web1-data --iops 500\n";

enum { OPT_SET_DISK = LIMITS_OPT_END };

int cli_vm_set(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		LIMITS_VM_OPTIONS,
		LIMITS_DISK_OPTIONS,
		{ "disk", required_argument, NULL, OPT_SET_DISK },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_limits_flags struct limits_flags f = LIMITS_FLAGS_INIT;
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_object();
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "vm set", usage_set, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_SET_DISK) {
			free(f.disk);
			f.disk = xstrdup(optarg);
		} else if ((rc = limits_flags_parse(&f, a.cmd, opt, optarg)) != CLI_OK) {
			return rc;
		}
	}
	if ((rc = cli_args_count(&a, 1, 1, "VM")) != CLI_OK)
		return rc;
	if (f.disks && json_object_get(f.disks, ""))
		return cli_usage_error(a.cmd, "per-disk options need --disk VOL before them");
	if (!f.any)
		return cli_usage_error(a.cmd, "nothing to set: give a limit option");
	if (f.limits)
		json_object_update(body, f.limits);
	if (f.disks)
		json_object_set(body, "disks", f.disks);
	if (cli_call(cli, "POST", "/v1/vms", a.pos[0], "/limits", body, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	printf("set limits of vm %s%s\n", out_str(r.json, "name") ?: a.pos[0],
	       json_is_object(json_object_get(r.json, "effective")) ? " (applied to the running VM)" : "");
	return CLI_OK;
}

static const char usage_limits[] =
	"usage: corral vm limits VM [--json]\n"
	"\n"
	"Show a VM's resource limits: what its definition sets and, while it runs,\n"
	"what its cgroup and QEMU hold (CPU weight and limit, CPUs, memory limit\n"
	"and use, OOM kills, each disk's I/O limits, the balloon).\n"
	"VM is a name, a uuid, 'name:GLOB' or 'uuid:UUID' (one VM).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

int cli_vm_limits(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	cli_args_init(&a, "vm limits", usage_limits, argc, argv);
	if (!cli_args_plain(cli, &a, 1, 1, "VM"))
		return a.exit_code;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	__do_free char *path = client_path(c, "/v1/vms", a.pos[0], "/limits");
	return cli_get_print(cli, path, print_limits);
}
