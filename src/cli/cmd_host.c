/*
 * cmd_host.c - `corral host info`: what corrald reports about its host
 * (GET /v1/host) as "key: value" lines; `corral host export-db`: every
 * definition the host holds as one JSON document (GET /v1/host/export),
 * XenServer's pool-dump-database for corral.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

static const char usage_info[] =
	"usage: corral host info [--json]\n"
	"\n"
	"Show the host corrald runs on: hostname, corrald version, QEMU binary and\n"
	"version, the accelerator in use and why, CPUs, memory, directories and VM\n"
	"counts, and what the running VMs commit of its CPUs and memory (with a\n"
	"warning when that is more than the host has).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

/* Printed first, in this order; any other member follows as it comes. */
static const char *const host_keys[] = {
	"hostname", "version", "qemu_binary", "qemu_version", "accel", "accel_reason",
	"cpus", "memory_mib", "state_dir", "storage_dir", "vms_total", "vms_running",
};

/* "capacity": committed against available, then one line per overcommit warning. */
static void add_capacity(struct table *t, const json_t *c)
{
	char a[16], b[16], m[16], d[16];
	const json_t *w;
	size_t i;
	json_t *avail = json_object_get(c, "available_memory_mib");
	table_add_kv(t, "committed cpus", "%.2f of %lld host CPUs (%lld vCPUs)",
		     json_number_value(json_object_get(c, "committed_cpus")),
		     (long long)json_integer_value(json_object_get(c, "cpus")),
		     (long long)json_integer_value(json_object_get(c, "committed_vcpus")));
	table_add_kv(t, "committed memory", "%s guest, %s with QEMU overhead, of %s (%s available now)",
		     out_size((uint64_t)json_integer_value(json_object_get(c, "committed_memory_mib")) << 20, a, sizeof(a)),
		     out_size((uint64_t)json_integer_value(json_object_get(c, "committed_memory_limit_mib")) << 20, b,
			      sizeof(b)),
		     out_size((uint64_t)json_integer_value(json_object_get(c, "memory_mib")) << 20, m, sizeof(m)),
		     json_is_integer(avail) ? out_size((uint64_t)json_integer_value(avail) << 20, d, sizeof(d)) : "?");
	json_array_foreach(json_object_get(c, "warnings"), i, w)
		table_add_kv(t, "warning", "%s", json_string_value(w));
}

static void add_member(struct table *t, const char *key, const json_t *v)
{
	if (strcmp(key, "capacity") == 0 && json_is_object(v)) {
		add_capacity(t, v);
		return;
	}
	if (strcmp(key, "memory_mib") == 0 && json_is_integer(v) && json_integer_value(v) >= 0) {
		char sz[16];
		table_add_kv(t, "memory", "%s", out_size((uint64_t)json_integer_value(v) << 20, sz, sizeof(sz)));
		return;
	}
	__do_free char *s = out_scalar(v);
	table_add_kv(t, key, "%s", s);
}

static void print_host(const json_t *answer)
{
	__do_table struct table *t = table_new_kv();
	const char *key;
	json_t *v;

	for (size_t i = 0; i < ARRAY_SIZE(host_keys); i++)
		if ((v = json_object_get(answer, host_keys[i])))
			add_member(t, host_keys[i], v);
	json_object_foreach((json_t *)answer, key, v) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(host_keys); i++)
			known |= strcmp(key, host_keys[i]) == 0;
		if (!known)
			add_member(t, key, v);
	}
	table_print(t, stdout);
}

static int host_info(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "host info", usage_info, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/host", print_host);
}

static const char usage_export[] =
	"usage: corral host export-db\n"
	"\n"
	"Print, as one JSON document, every definition this host holds: VMs (with\n"
	"their state), volumes, pools, backup repositories (paths and key file\n"
	"locations, never passphrases) and backup policies.  Keep it next to your\n"
	"backups: it is what you need to rebuild the host's configuration.\n"
	"\n"
	"Options:\n"
	"  -h, --help   show this help\n";

static void print_export(const json_t *answer) { out_json(answer); }

static int host_export(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "host export-db", usage_export, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/host/export", print_export);
}

static const struct cli_verb host_verbs[] = {
	{ "info", "show the host's hypervisor, resources and VM counts", host_info },
	{ "export-db", "print every definition of this host as JSON", host_export },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_host = {
	"host", "Inspect the host corrald runs on.", host_verbs, NULL,
};
