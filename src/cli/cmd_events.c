/*
 * cmd_events.c - `corral events`: what happened on the host (recorded
 * history), or, with --follow, what happens as it happens (the API's event
 * stream: state changes, job progress, hot-plug, snapshots, backups).
 * `corral vm events VM --follow` (cmd_vm.c) is the same for one VM.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/common.h"

static const char usage_events[] =
	"usage: corral events [--follow] [--vm VM] [--kind KIND[,KIND...]] [--limit N] [--json]\n"
	"\n"
	"List recent events of the host and its VMs (oldest first) as TIME VM KIND\n"
	"DETAIL, or with --follow print events as they happen until interrupted:\n"
	"VM state changes, jobs (start, progress, end), disks, CD-ROMs, snapshots,\n"
	"backups.\n"
	"\n"
	"Options:\n"
	"  --follow       stream events as they happen (Ctrl-C stops)\n"
	"  --vm VM        only events of this VM (a name, uuid, name:GLOB matching one)\n"
	"  --kind LIST    only these kinds (state, job, disk, cdrom, snapshot, backup,\n"
	"                 alarm, created, edited, ...)\n"
	"  --limit N      without --follow: the last N events (default 50)\n"
	"  --json         the API's JSON: {\"events\":[...]}, or with --follow one\n"
	"                 event object per line\n"
	"  -h, --help     show this help\n";

enum { OPT_FOLLOW = CLI_OPT_FIRST, OPT_VM, OPT_KIND, OPT_LIMIT };

/* One line for people: what an event says. */
static char *event_text(const json_t *ev)
{
	const char *kind = out_str(ev, "kind");
	json_t *job = json_object_get(ev, "job");
	struct buf b = BUF_INIT;

	if (kind && strcmp(kind, "job") == 0 && job) {
		const char *state = out_str(job, "state");
		json_t *pct = json_object_get(job, "progress");
		buf_printf(&b, "job %" JSON_INTEGER_FORMAT " %s %s: %s", json_integer_value(json_object_get(job, "id")),
			   out_str(job, "type") ?: "?", out_str(job, "target") ?: "", state ?: "?");
		if (state && strcmp(state, "running") == 0 && json_is_number(pct) && json_number_value(pct) > 0)
			buf_printf(&b, " %.0f%%", json_number_value(pct));
		if (out_str(job, "phase") && state && strcmp(state, "running") == 0)
			buf_printf(&b, " (%s)", out_str(job, "phase"));
		if (out_str(job, "error"))
			buf_printf(&b, ": %s", out_str(job, "error"));
	} else {
		buf_adds(&b, out_str(ev, "detail") ?: "");
	}
	/* who did it (an api event's detail starts with its actor already) */
	if (out_str(ev, "actor") && !(kind && strcmp(kind, "api") == 0))
		buf_printf(&b, " (by %s)", out_str(ev, "actor"));
	return buf_detach(&b);
}

struct follow_out {
	bool json;
};

static bool print_event(const json_t *ev, void *opaque)
{
	const struct follow_out *o = opaque;
	char when[32];
	if (o->json) {
		__do_free char *s = json_dumps(ev, JSON_COMPACT);
		printf("%s\n", s ? s : "{}");
	} else {
		__do_free char *text = event_text(ev);
		printf("%s  %s  %s  %s\n", out_time(out_str(ev, "time"), when, sizeof(when)), out_str(ev, "name") ?: "-",
		       out_str(ev, "kind") ?: "-", text);
	}
	fflush(stdout);
	return true;
}

int cli_events_follow(struct cli *cli, const char *vm, const char *kinds)
{
	struct client *c = cli_client(cli);
	struct follow_out o = { cli->json };
	__do_reply struct reply r = REPLY_INIT;
	struct buf path = BUF_INIT;

	if (!c)
		return CLI_FAIL;
	buf_adds(&path, "/v1/events?follow=true");
	client_query_add(c, &path, "vm", vm);
	client_query_add(c, &path, "kind", kinds);
	int rc = client_events(c, path.s, print_event, &o, &r);
	buf_release(&path);
	if (rc < 0)
		return CLI_FAIL;
	if (!reply_ok(&r)) {
		client_print_error(&r, NULL);
		return CLI_FAIL;
	}
	return cli_error("corrald closed the event stream (it is stopping)");
}

static void print_events(const json_t *answer)
{
	static const char *const headers[] = { "TIME", "VM", "KIND", "DETAIL" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *ev;
	size_t i;

	json_array_foreach(json_object_get(answer, "events"), i, ev) {
		__do_free char *text = event_text(ev);
		char when[32];
		table_add(t, out_time(out_str(ev, "time"), when, sizeof(when)), out_str(ev, "name"), out_str(ev, "kind"),
			  text);
	}
	table_print(t, stdout);
}

static int events_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, OPT_FOLLOW }, { "vm", required_argument, NULL, OPT_VM },
		{ "kind", required_argument, NULL, OPT_KIND }, { "limit", required_argument, NULL, OPT_LIMIT },
		CLI_COMMON_OPTIONS, { 0 },
	};
	const char *vm = NULL, *kinds = NULL, *limit = NULL;
	bool follow = false;
	struct cli_args a;
	int64_t n;
	int opt, rc;

	cli_args_init(&a, "events", usage_events, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		switch (opt) {
		case CLI_OPT_EXIT:
			return a.exit_code;
		case OPT_FOLLOW: follow = true; break;
		case OPT_VM: vm = optarg; break;
		case OPT_KIND: kinds = optarg; break;
		case OPT_LIMIT:
			if (cli_parse_int(optarg, 1, 10000, &n) < 0)
				return cli_usage_error(a.cmd, "invalid --limit '%s': want 1..10000", optarg);
			limit = optarg;
			break;
		}
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if (follow)
		return cli_events_follow(cli, vm, kinds);
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	struct buf path = BUF_INIT;
	buf_adds(&path, "/v1/events");
	client_query_add(c, &path, "vm", vm);
	client_query_add(c, &path, "kind", kinds);
	client_query_add(c, &path, "limit", limit);
	rc = cli_get_print(cli, path.s, print_events);
	buf_release(&path);
	return rc;
}

const struct cli_noun cli_noun_events = {
	.name = "events",
	.summary = "What happened, or with --follow what happens, on the host and its VMs.",
	.run = events_run,
};
