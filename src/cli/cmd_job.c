/*
 * cmd_job.c - corrald's jobs: `corral job list|show|cancel`, and job_wait
 * (cli.h) which follows a job other verbs started (`disk import`) to its end.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/timeutil.h"
#include "util/common.h"

#define POLL_MS 200

static const char usage_list[] =
	"usage: corral job list [--vm VM] [--json]\n"
	"\n"
	"List recent jobs (the last 50) as ID TYPE TARGET STATE PROGRESS STARTED.\n"
	"\n"
	"Options:\n"
	"  --vm VM      only jobs of the VMs VM selects (a name, a uuid,\n"
	"               'name:GLOB' or 'uuid:UUID')\n"
	"  --json       print the API's answer {\"jobs\":[...]}\n"
	"  -h, --help   show this help\n";

static const char usage_show[] =
	"usage: corral job show ID [--host HOST] [--json]\n"
	"\n"
	"Show one job: type, target, state, phase, progress, rate, ETA, error and\n"
	"times.\n"
	"\n"
	"Options:\n"
	"  --host HOST  a job of HOST, another member of this host's pool (a VM\n"
	"               action done there for you: its answer names the host)\n"
	"  --json       print the job as the API returns it\n"
	"  -h, --help   show this help\n";

static const char usage_cancel[] =
	"usage: corral job cancel ID [--host HOST] [--json]\n"
	"\n"
	"Ask a running job to stop.  It stops at its next chunk or step, rolls back\n"
	"what it made (docs/backup.md, \"Cancelling\") and ends \"cancelled\";\n"
	"follow it with 'corral job show ID'.  A job that already ended, or is in a\n"
	"step that cannot be interrupted (a restore replacing a VM's images), is\n"
	"refused with the reason.\n"
	"\n"
	"Options:\n"
	"  --host HOST  a job of HOST, another member of this host's pool\n"
	"  --json       print the job as it is now\n"
	"  -h, --help   show this help\n";

enum { OPT_VM = CLI_OPT_FIRST, OPT_HOST };

/* "42%" */
static char *progress_text(const json_t *job)
{
	json_t *p = json_object_get(job, "progress");
	if (json_is_number(p))
		return xasprintf("%.0f%%", json_number_value(p));
	return xstrdup("-");
}

/* "120.3 MiB/s" into buf, NULL when the job has no rate. */
static const char *rate_text(const json_t *job, char *buf, size_t len)
{
	json_t *v = json_object_get(job, "rate");
	return json_is_number(v) ? out_rate(json_number_value(v), buf, len) : NULL;
}

/* "3s" into buf, NULL when the job has no ETA. */
static const char *eta_text(const json_t *job, char *buf, size_t len)
{
	json_t *v = json_object_get(job, "eta");
	return json_is_number(v) ? out_duration((int64_t)(json_number_value(v) + 0.5), buf, len) : NULL;
}

/* "importing: 42% 120.3 MiB/s ETA 3s (vm web1: disk 2 of 3)", or "importing: cancelling at 42%" */
static char *progress_line(const char *label, const json_t *job)
{
	__do_free char *pct = progress_text(job);
	struct buf b = BUF_INIT;
	const char *s;
	char tmp[32];

	if (json_is_true(json_object_get(job, "cancelling"))) {
		buf_printf(&b, "%s: cancelling at %s", label, pct);
		return buf_detach(&b);
	}
	buf_printf(&b, "%s: %s", label, pct);
	if ((s = rate_text(job, tmp, sizeof(tmp))))
		buf_printf(&b, " %s", s);
	if ((s = eta_text(job, tmp, sizeof(tmp))))
		buf_printf(&b, " ETA %s", s);
	if ((s = out_str(job, "phase")))
		buf_printf(&b, " (%s)", s);
	return buf_detach(&b);
}

static bool job_running(const json_t *job)
{
	const char *state = out_str(job, "state");
	return state && strcmp(state, "running") == 0;
}

/* Following one job on the event stream. */
struct follow {
	const char *label;	/* NULL: quiet */
	bool tty;
	json_int_t id;
	json_t *cur;		/* the job as last seen */
};

static void show_progress(const struct follow *f)
{
	if (f->tty && f->label) {
		__do_free char *line = progress_line(f->label, f->cur);
		fprintf(stderr, "\r%s\033[K", line);
	}
}

static bool on_job_event(const json_t *ev, void *opaque)
{
	struct follow *f = opaque;
	json_t *job = json_object_get(ev, "job");
	if (json_integer_value(json_object_get(job, "id")) != f->id)
		return true; /* a job it started */
	json_decref(f->cur);
	f->cur = json_deep_copy(job);
	if (job_running(f->cur))
		show_progress(f);
	return job_running(f->cur);
}

/* The state for people: a running job asked to stop is "cancelling". */
static const char *state_text(const json_t *job)
{
	return job_running(job) && json_is_true(json_object_get(job, "cancelling")) ? "cancelling"
										    : out_str(job, "state");
}

int job_wait(struct cli *cli, const json_t *job, const char *label, json_t **final)
{
	struct client *c = cli_client(cli);
	int64_t started = time_mono_ms();
	struct follow f = { label, label && isatty(STDERR_FILENO), json_integer_value(json_object_get(job, "id")),
			    json_deep_copy(job) };
	__do_free char *job_id = out_scalar(json_object_get(job, "id"));
	__do_free char *path = NULL, *events = NULL;
	const char *state, *msg;
	bool tty = f.tty;
	char dur[32];

	*final = NULL;
	if (!c) {
		json_decref(f.cur);
		return CLI_FAIL;
	}
	/* A job another member of the pool runs (a forwarded action: docs/cluster.md
	 * "Pool-wide answers") is asked of that member through this host, by polling:
	 * event streams are not forwarded. */
	const char *host = out_str(job, "host");
	{
		struct buf url = BUF_INIT;
		__do_free char *base = client_path(c, "/v1/jobs", job_id, NULL);
		buf_adds(&url, base);
		client_query_add(c, &url, "host", host);
		path = buf_detach(&url);
	}
	events = xasprintf("/v1/events?follow=true&job=%s", job_id);
	/* The stream starts with the job as it is and ends with it; if it breaks
	 * (corrald restarting), look at the job and follow it again. */
	while (job_running(f.cur)) {
		__do_reply struct reply r = REPLY_INIT;
		show_progress(&f);
		if (!host && client_events(c, events, on_job_event, &f, &r) == 0 && !job_running(f.cur))
			break;
		__do_reply struct reply g = REPLY_INIT;
		if (client_call(c, "GET", path, NULL, &g, false) < 0) {
			json_decref(f.cur);
			return CLI_FAIL;
		}
		json_decref(f.cur);
		f.cur = json_incref(g.json);
		if (job_running(f.cur))
			time_sleep_ms(POLL_MS);
	}
	json_t *cur = f.cur;
	*final = cur; /* the reference f.cur held */
	state = out_str(cur, "state");
	if (!label)
		return state && strcmp(state, "succeeded") == 0 ? CLI_OK : CLI_FAIL;
	if (state && strcmp(state, "succeeded") == 0) {
		if (tty)
			fprintf(stderr, "\r%s: 100%% done in %s\033[K\n", label,
				out_duration((time_mono_ms() - started + 500) / 1000, dur, sizeof(dur)));
		return CLI_OK;
	}
	if (tty)
		fputs("\r\033[K", stderr);
	msg = client_error_message(cur);
	if (!msg)
		msg = out_str(cur, "error");
	{
		__do_free char *id = out_scalar(json_object_get(cur, "id"));
		const char *type = out_str(cur, "type");
		if (state && strcmp(state, "cancelled") == 0)
			return cli_error("%s job %s was cancelled: %s", type ? type : "the", id,
					 msg ? msg : "no details");
		return cli_error("%s job %s %s: %s", type ? type : "the", id,
				 state ? state : "ended", msg ? msg : "no error message");
	}
}

int job_request(struct cli *cli, const char *method, const char *path, const json_t *body, const char *label,
		json_t **final)
{
	struct client *c = cli_client(cli);
	__do_reply struct reply r = REPLY_INIT;
	json_t *job;

	*final = NULL;
	if (!c || client_call(c, method, path, body, &r, false) < 0)
		return CLI_FAIL;
	if (!json_is_object(job = json_object_get(r.json, "job")))
		return cli_error("corrald answered without a job");
	return job_wait(cli, job, label, final);
}

static void print_jobs(const json_t *answer)
{
	static const char *const headers[] = { "ID", "TYPE", "TARGET", "STATE", "PROGRESS", "STARTED" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *job;
	size_t i;

	json_array_foreach(json_object_get(answer, "jobs"), i, job) {
		__do_free char *id = out_scalar(json_object_get(job, "id"));
		__do_free char *target = out_scalar(json_object_get(job, "target"));
		__do_free char *pct = progress_text(job);
		char when[32];
		table_add(t, id, out_str(job, "type"), target, state_text(job), pct,
			  out_time(out_str(job, "started"), when, sizeof(when)));
	}
	table_print(t, stdout);
}

static int job_list(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, OPT_VM },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_free char *path = NULL;
	const char *vm = NULL;
	struct client *c;
	struct cli_args a;
	int opt, rc;

	cli_args_init(&a, "job list", usage_list, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_VM)
			vm = optarg;
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	if (!(c = cli_client(cli)))
		return CLI_FAIL;
	path = client_path_query(c, "/v1/jobs", "vm", vm);
	return cli_get_print(cli, path, print_jobs);
}

static void show_job(const json_t *job)
{
	__do_table struct table *t = table_new_kv();
	static const char *const keys[] = { "id", "type", "target" };
	json_t *v;
	const char *text, *msg;
	char tmp[32];

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		__do_free char *s = out_scalar(json_object_get(job, keys[i]));
		table_add_kv(t, keys[i], "%s", s);
	}
	if ((text = out_str(job, "host")))
		table_add_kv(t, "host", "%s", text);
	table_add_kv(t, "state", "%s", state_text(job));
	if ((text = out_str(job, "phase")))
		table_add_kv(t, "phase", "%s", text);
	{
		__do_free char *pct = progress_text(job);
		table_add_kv(t, "progress", "%s", pct);
	}
	if ((text = rate_text(job, tmp, sizeof(tmp))))
		table_add_kv(t, "rate", "%s", text);
	if ((text = eta_text(job, tmp, sizeof(tmp))))
		table_add_kv(t, "eta", "%s", text);
	v = json_object_get(job, "error");
	if (v && !json_is_null(v)) {
		msg = client_error_message(job);
		__do_free char *s = msg ? xstrdup(msg) : out_scalar(v);
		table_add_kv(t, "error", "%s", s);
	}
	{
		char started[32], finished[32];
		table_add_kv(t, "started", "%s", out_time(out_str(job, "started"), started, sizeof(started)));
		table_add_kv(t, "finished", "%s", out_time(out_str(job, "finished"), finished, sizeof(finished)));
	}
	table_print(t, stdout);
}

/* Parse [--host HOST] ID for show and cancel: the job's path with its suffix and host, or NULL (*rc set). */
static char *job_path(struct cli *cli, struct cli_args *a, const char *suffix, int *rc)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, OPT_HOST },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *host = NULL;
	struct client *c;
	int opt;

	while ((opt = cli_getopt(cli, a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT) {
			*rc = a->exit_code;
			return NULL;
		}
		if (opt == OPT_HOST)
			host = optarg;
	}
	if ((*rc = cli_args_count(a, 1, 1, "job ID")) != CLI_OK)
		return NULL;
	if (!(c = cli_client(cli))) {
		*rc = CLI_FAIL;
		return NULL;
	}
	struct buf url = BUF_INIT;
	__do_free char *base = client_path(c, "/v1/jobs", a->pos[0], suffix);
	buf_adds(&url, base);
	client_query_add(c, &url, "host", host);
	return buf_detach(&url);
}

static int job_show(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;
	int rc;

	cli_args_init(&a, "job show", usage_show, argc, argv);
	__do_free char *path = job_path(cli, &a, NULL, &rc);
	if (!path)
		return rc;
	return cli_get_print(cli, path, show_job);
}

static int job_cancel(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;

	int rc;

	cli_args_init(&a, "job cancel", usage_cancel, argc, argv);
	__do_free char *path = job_path(cli, &a, "/cancel", &rc);
	if (!path)
		return rc;
	if (client_call(cli_client(cli), "POST", path, NULL, &r, false) < 0)
		return CLI_FAIL;
	json_t *job = json_object_get(r.json, "job");
	if (cli->json) {
		out_json(job);
	} else {
		__do_free char *target = out_scalar(json_object_get(job, "target"));
		printf("cancelling job %s (%s %s)\n", a.pos[0], out_str(job, "type"), target);
	}
	return CLI_OK;
}

static const struct cli_verb job_verbs[] = {
	{ "list", "list recent jobs", job_list },
	{ "show", "show one job", job_show },
	{ "cancel", "ask a running job to stop", job_cancel },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_job = {
	"job", "Follow and cancel corrald's long-running jobs (imports, backups, ...).", job_verbs, NULL,
};

/* A backup run's result: one line per VM. */
static void print_backup_vms(const json_t *vms)
{
	static const char *const headers[] = { "VM", "BACKUP", "KIND", "READ", "NEW", "DEDUP", "TIME", "ERROR" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *v;
	size_t i;

	json_array_foreach(vms, i, v) {
		char rd[16], nw[16], dd[16], tm[32];
		json_int_t read = json_integer_value(json_object_get(v, "bytes_read"));
		json_int_t fresh = json_integer_value(json_object_get(v, "bytes_new"));
		const char *error = out_str(v, "error");
		bool incr = false, full = false;
		json_t *d;
		size_t k;

		json_array_foreach(json_object_get(v, "disks"), k, d) {
			if (json_is_true(json_object_get(d, "incremental")))
				incr = true;
			else
				full = true;
		}
		/* dedup: bytes read per byte that needed new storage (compression included) */
		if (read > 0 && fresh > 0)
			snprintf(dd, sizeof(dd), "%.1fx", (double)read / (double)fresh);
		else
			snprintf(dd, sizeof(dd), read > 0 ? "all" : "-");
		snprintf(tm, sizeof(tm), "%.1fs", (double)json_integer_value(json_object_get(v, "duration_ms")) / 1000.0);
		table_add(t, out_str(v, "vm"), error ? "-" : out_str(v, "id"),
			  error ? "-" : incr && full ? "mixed" : incr ? "incremental" : "full",
			  error ? "-" : out_size((uint64_t)read, rd, sizeof(rd)),
			  error ? "-" : out_size((uint64_t)fresh, nw, sizeof(nw)), error ? "-" : dd, error ? "-" : tm,
			  error ? error : "");
	}
	table_print(t, stdout);
	/* how consistent each running VM's point in time is (the guest agent's freeze) */
	json_array_foreach(vms, i, v) {
		const char *note = out_str(v, "consistency_note");
		if (note || out_str(v, "consistency"))
			printf("%s: consistency: %s\n", out_str(v, "vm"), note ? note : out_str(v, "consistency"));
	}
}

/* A finished job's "result" for people. */
static void job_print_result(const json_t *result)
{
	const char *key;
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(result, "evacuated"), i, v) /* host evacuate */
		printf("%s: %s (to %s)%s%s\n", out_str(v, "name"), out_str(v, "state"), out_str(v, "to"),
		       json_object_get(v, "error") ? ": " : "", json_object_get(v, "error") ? out_str(v, "error") : "");
	if (json_is_array(json_object_get(result, "evacuated")))
		return;
	if (json_is_array(json_object_get(result, "vms"))) {
		print_backup_vms(json_object_get(result, "vms"));
		json_t *p;
		json_array_foreach(json_object_get(result, "pruned"), i, p)
			printf("pruned %s (%s)\n", out_str(p, "id"), out_str(p, "reason"));
		return;
	}
	__do_table struct table *t = table_new_kv();
	json_object_foreach((json_t *)result, key, v) {
		__do_free char *s = json_is_array(v) ? out_join(v, ", ") : out_scalar(v);
		table_add_kv(t, key, "%s", s);
	}
	table_print(t, stdout);
}

int job_follow(struct cli *cli, const json_t *answer, const char *label, bool detach)
{
	__do_json json_t *final = NULL;
	json_t *job = json_object_get(answer, "job");
	int rc;

	if (detach) {
		if (cli->json)
			out_json(job);
		else
			printf("started job %" JSON_INTEGER_FORMAT "\n", json_integer_value(json_object_get(job, "id")));
		return CLI_OK;
	}
	rc = job_wait(cli, job, label, &final);
	if (cli->json)
		out_json(final);
	else if (final && json_object_get(final, "result"))
		job_print_result(json_object_get(final, "result"));
	return rc;
}
