/*
 * cmd_stats.c - `corral vm stats VM` and `corral host stats`: what the
 * metrics sampler recorded (GET /v1/vms/{vm}/stats, GET /v1/host/stats;
 * docs/metrics.md) as a table of series with their newest value, average
 * and maximum over the range (--since, default 1h); --json prints the
 * API's answer with every point.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/common.h"

enum { OPT_SINCE = CLI_OPT_FIRST };

#define STATS_OPTIONS                                          \
	"Options:\n"                                           \
	"  --since DURATION  how far back: 90s, 30m, 1h (default), 2d, 1w;\n" \
	"                    older ranges come from coarser archives (1 min\n" \
	"                    for a week, 1 h for a year)\n"     \
	"  --json            print the API's answer, with every point\n" \
	"  -h, --help        show this help\n"

static const char usage_vm[] =
	"usage: corral vm stats VM [--since DURATION] [--json]\n"
	"\n"
	"Show what corrald sampled of a VM while it ran: CPU (percent of one\n"
	"CPU), QEMU's resident memory, the balloon, each disk's reads and writes\n"
	"(bytes and operations per second) and each network NIC's traffic, with\n"
	"the newest value, the average and the maximum over the range.\n"
	"\n" STATS_OPTIONS;

static const char usage_host[] =
	"usage: corral host stats [--since DURATION] [--json]\n"
	"\n"
	"Show what corrald sampled of its host: CPU (percent of all CPUs),\n"
	"memory used, load averages and each storage pool's usage, with the\n"
	"newest value, the average and the maximum over the range.\n"
	"\n" STATS_OPTIONS;

/* A value of a series in its unit, into b ("-" when null). */
static const char *fmt_value(const json_t *v, const char *unit, char *b, size_t len)
{
	double d = json_number_value(v);
	if (!json_is_number(v))
		return "-";
	if (strcmp(unit, "%") == 0)
		snprintf(b, len, "%.1f%%", d);
	else if (strcmp(unit, "bytes") == 0)
		return out_size(d > 0 ? (uint64_t)d : 0, b, len);
	else if (strcmp(unit, "bytes/s") == 0)
		return out_rate(d, b, len);
	else if (strstr(unit, "/s"))
		snprintf(b, len, "%.1f/s", d);
	else
		snprintf(b, len, "%.2f", d);
	return b;
}

/* "disk d1 read", "nic 52:54:00:12:34:56 receive", "pool default used", "cpu". */
static char *series_label(const json_t *s)
{
	const char *name = out_str(s, "name") ?: "?";
	static const char *const labels[] = { "disk", "nic", "pool" };
	for (size_t i = 0; i < ARRAY_SIZE(labels); i++) {
		const char *v = out_str(s, labels[i]);
		if (!v)
			continue;
		/* disk_read -> "read", net_receive -> "receive", pool_used -> "used" */
		const char *rest = strchr(name, '_');
		__do_free char *r = xstrdup(rest ? rest + 1 : name);
		for (char *c = r; *c; c++)
			if (*c == '_')
				*c = ' ';
		return xasprintf("%s %s %s", labels[i], v, r);
	}
	__do_free char *r = xstrdup(name);
	for (char *c = r; *c; c++)
		if (*c == '_')
			*c = ' ';
	return move_ptr(r);
}

static void print_stats(const json_t *answer)
{
	static const char *const headers[] = { "SERIES", "CURRENT", "AVERAGE", "MAX" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	const json_t *series = json_object_get(answer, "series"), *s;
	json_int_t since = json_integer_value(json_object_get(answer, "since"));
	json_int_t until = json_integer_value(json_object_get(answer, "until"));
	const char *who = out_str(answer, "vm") ?: out_str(answer, "host") ?: "host";
	char span[24], step[24];
	size_t i;

	out_duration(until - since, span, sizeof(span));
	if (!json_array_size(series)) {
		printf("no samples of %s in the last %s (a VM is sampled while it runs, every %lld s)\n", who, span,
		       (long long)json_integer_value(json_object_get(answer, "interval")));
		return;
	}
	out_duration(json_integer_value(json_object_get(answer, "step")), step, sizeof(step));
	printf("%s, last %s, one value per %s:\n", who, span, step);
	json_array_foreach(series, i, s) {
		char c[32], a[32], m[32];
		const char *unit = out_str(s, "unit") ?: "";
		__do_free char *label = series_label(s);
		table_add(t, label, fmt_value(json_object_get(s, "current"), unit, c, sizeof(c)),
			  fmt_value(json_object_get(s, "average"), unit, a, sizeof(a)),
			  fmt_value(json_object_get(s, "max"), unit, m, sizeof(m)));
	}
	table_print(t, stdout);
}

/* Parse the verb's options; the path asked for (caller frees) or NULL with *rc set. */
static char *stats_path(struct cli *cli, struct cli_args *a, bool vm, int *rc)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, OPT_SINCE },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *since = NULL;
	struct client *c;
	int opt;

	while ((opt = cli_getopt(cli, a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT) {
			*rc = a->exit_code;
			return NULL;
		}
		if (opt == OPT_SINCE)
			since = optarg;
	}
	if ((*rc = cli_args_count(a, vm ? 1 : 0, vm ? 1 : 0, vm ? "VM" : "")) != CLI_OK)
		return NULL;
	if (!(c = cli_client(cli))) {
		*rc = CLI_FAIL;
		return NULL;
	}
	__do_free char *q = NULL;
	if (since) {
		__do_free char *e = client_escape(c, since);
		q = xasprintf("/stats?since=%s", e);
	}
	if (vm)
		return client_path(c, "/v1/vms", a->pos[0], q ? q : "/stats");
	return xasprintf("/v1/host%s", q ? q : "/stats");
}

int cli_vm_stats(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc;
	cli_args_init(&a, "vm stats", usage_vm, argc, argv);
	__do_free char *path = stats_path(cli, &a, true, &rc);
	return path ? cli_get_print(cli, path, print_stats) : rc;
}

int cli_host_stats(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc;
	cli_args_init(&a, "host stats", usage_host, argc, argv);
	__do_free char *path = stats_path(cli, &a, false, &rc);
	return path ? cli_get_print(cli, path, print_stats) : rc;
}
