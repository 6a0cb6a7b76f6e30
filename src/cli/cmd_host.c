/*
 * cmd_host.c - `corral host info`: what corrald reports about its host
 * (GET /v1/host) as "key: value" lines; `corral host export-db`: every
 * definition the host holds as one JSON document (GET /v1/host/export),
 * XenServer's pool-dump-database for corral; `corral host trust
 * add|list|remove`: trusted hosts (mutual TLS between hosts, /v1/host/trust);
 * `corral host list`: this host and every trusted host with their VMs and
 * pools (GET /v1/hosts); `corral host shutdown-guests`: stop every guest
 * at once, killing the deaf ones after a timeout (POST
 * /v1/host/shutdown-guests); `corral host maintenance HOST on|off`: a pool
 * member's HA maintenance mode (PUT /v1/ha/maintenance/HOST, docs/ha.md).
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "output.h"
#include "util/buf.h"
#include "util/fsutil.h"
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
	if (json_is_array(v)) { /* machine_types: a list of names */
		__do_free char *list = out_join(v, " ");
		table_add_kv(t, key, "%s", list);
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
	"locations, never passphrases), backup policies and alarm rules (never an\n"
	"SMTP password).  Keep it next to your backups: it is what you need to\n"
	"rebuild the host's configuration.\n"
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

static const char usage_trust[] =
	"usage: corral host trust add URL --token-file FILE [--name NAME]\n"
	"                             [--accept-fingerprint FP] [--self-url URL]\n"
	"       corral host trust list\n"
	"       corral host trust remove NAME\n"
	"\n"
	"Trusted hosts call each other's API with mutual TLS: each presents its host\n"
	"certificate and pins the other's.  'add', run on this host, connects to the\n"
	"other host's TLS listener at URL (https://HOST[:PORT], port 8006 if left\n"
	"out), shows its certificate's fingerprint (compare it with what `corral host\n"
	"info` prints there) and, once accepted, asks it to trust this host: FILE\n"
	"holds an API token of the other host (USER!ID:SECRET) that may change it\n"
	"(Sys.Modify on /host, e.g. an Administrator's): that is its administrator's\n"
	"consent.  The token is used for this once and never stored.  Then each host\n"
	"pins the other's certificate and the other host calls this one back to\n"
	"prove trust both ways.  Both hosts need `listen` set in corrald.conf.\n"
	"\n"
	"'remove' forgets a host here and tells it to forget this host too.\n"
	"\n"
	"Options:\n"
	"  --token-file FILE          the other host's API token (first line)\n"
	"  --name NAME                what to call the other host here (default: its own\n"
	"                             host_name)\n"
	"  --accept-fingerprint FP    the other host's SHA-256 certificate fingerprint;\n"
	"                             needed when not asked on a terminal\n"
	"  --self-url URL             how the other host reaches this one (default: the\n"
	"                             address it sees this host's call come from, and\n"
	"                             this host's listen port)\n"
	"  --json                     print the API's answer\n"
	"  -h, --help                 show this help\n";

enum { OPT_TOKEN_FILE = CLI_OPT_FIRST, OPT_NAME, OPT_ACCEPT, OPT_SELF_URL };

/* The first line of FILE into out (wiped by the caller); CLI_OK or CLI_FAIL. */
static int read_token(const char *path, struct buf *out)
{
	int r = fs_read_file(path, 4096, out);
	if (r < 0)
		return cli_error("cannot read the token file %s: %s", path, strerror(-r));
	out->len = strcspn(out->s, "\r\n");
	out->s[out->len] = '\0';
	if (!out->len)
		return cli_error("the token file %s is empty", path);
	return CLI_OK;
}

/* The other host's fingerprint: shown, and accepted on a terminal. */
static int ask_fingerprint(struct cli *cli, const char *url, char *fp, size_t len)
{
	__do_reply struct reply r = REPLY_INIT;
	__do_json json_t *body = json_pack("{s:s}", "url", url);
	int rc;

	if ((rc = cli_call(cli, "POST", "/v1/host", "trust", "/probe", body, &r)) != CLI_OK)
		return rc;
	const char *got = json_string_value(json_object_get(r.json, "fingerprint"));
	if (!got)
		return cli_error("corrald did not report the certificate of %s", url);
	fprintf(stderr, "The host at %s presents a certificate with SHA-256 fingerprint\n  %s\n", url, got);
	if (!isatty(STDIN_FILENO))
		return cli_error("compare it with `corral host info` on that host and pass --accept-fingerprint %s", got);
	fprintf(stderr, "Is it the one `corral host info` shows there? Trust it [y/N]? ");
	char line[16] = "";
	if (!fgets(line, sizeof(line), stdin) || (line[0] != 'y' && line[0] != 'Y'))
		return cli_error("not trusted");
	snprintf(fp, len, "%s", got);
	return CLI_OK;
}

static int trust_add(struct cli *cli, struct cli_args *a)
{
	static const struct option opts[] = {
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "accept-fingerprint", required_argument, NULL, OPT_ACCEPT },
		{ "self-url", required_argument, NULL, OPT_SELF_URL },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	const char *token_file = NULL, *name = NULL, *accept = NULL, *self_url = NULL;
	__do_reply struct reply r = REPLY_INIT;
	struct buf tok = BUF_INIT;
	char fp[128] = "";
	int c, rc;

	while ((c = cli_getopt(cli, a, opts)) != -1) {
		switch (c) {
		case CLI_OPT_EXIT: return a->exit_code;
		case OPT_TOKEN_FILE: token_file = optarg; break;
		case OPT_NAME: name = optarg; break;
		case OPT_ACCEPT: accept = optarg; break;
		case OPT_SELF_URL: self_url = optarg; break;
		}
	}
	if ((rc = cli_args_count(a, 1, 1, "URL")) != CLI_OK)
		return rc;
	if (!token_file)
		return cli_usage_error("host trust add", "--token-file FILE (an API token of the other host) is required");
	if (accept)
		snprintf(fp, sizeof(fp), "%s", accept);
	else if ((rc = ask_fingerprint(cli, a->pos[0], fp, sizeof(fp))) != CLI_OK)
		return rc;
	if ((rc = read_token(token_file, &tok)) != CLI_OK) {
		buf_release(&tok);
		return rc;
	}
	json_t *body = json_pack("{s:s,s:s,s:s,s:s?,s:s?}", "url", a->pos[0], "fingerprint", fp, "token", tok.s, "name",
				 name, "self_url", self_url);
	OPENSSL_cleanse(tok.s, tok.len);
	buf_release(&tok);
	rc = cli_call(cli, "POST", "/v1/host", "trust", NULL, body, &r);
	json_t *t = json_object_get(body, "token");
	OPENSSL_cleanse((void *)json_string_value(t), json_string_length(t));
	json_decref(body);
	if (rc != CLI_OK)
		return rc;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	printf("trusting host %s at %s (fingerprint %s)\n", out_str(r.json, "name"), out_str(r.json, "url"),
	       out_str(r.json, "fingerprint"));
	if (json_is_true(json_object_get(r.json, "verified"))) {
		printf("verified both ways: %s called this host back\n", out_str(r.json, "name"));
		return CLI_OK;
	}
	return cli_error("%s trusts this host, but could not call it back: %s", out_str(r.json, "name"),
			 out_str(r.json, "verify_error"));
}

static void print_trust(const json_t *answer)
{
	static const char *const headers[] = { "NAME", "URL", "ADDED", "FINGERPRINT" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(answer, "hosts"), i, h)
		table_add(t, out_str(h, "name"), out_str(h, "url"), out_str(h, "added"), out_str(h, "fingerprint"));
	table_print(t, stdout);
}

static int host_trust(struct cli *cli, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int rc;

	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(usage_trust, stdout);
		return CLI_OK;
	}
	if (strcmp(sub, "add") != 0 && strcmp(sub, "list") != 0 && strcmp(sub, "remove") != 0)
		return cli_usage_error("host trust", "want add, list or remove");
	cli_args_init(&a, "host trust", usage_trust, argc - 1, argv + 1);
	if (strcmp(sub, "add") == 0)
		return trust_add(cli, &a);
	if (strcmp(sub, "list") == 0) {
		if (!cli_args_plain(cli, &a, 0, 0, ""))
			return a.exit_code;
		return cli_get_print(cli, "/v1/host/trust", print_trust);
	}
	if (!cli_args_plain(cli, &a, 1, 1, "host name"))
		return a.exit_code;
	if ((rc = cli_call(cli, "DELETE", "/v1/host/trust", a.pos[0], NULL, NULL, &r)) != CLI_OK)
		return rc;
	if (cli->json)
		out_json(r.json);
	else if (json_is_true(json_object_get(r.json, "peer_told")))
		printf("no longer trusting host %s (it forgot this host too)\n", a.pos[0]);
	else
		printf("no longer trusting host %s (it could not be told: %s)\n", a.pos[0],
		       out_str(r.json, "peer_error"));
	return CLI_OK;
}

static const char usage_list[] =
	"usage: corral host list [--json]\n"
	"\n"
	"List this host and every trusted host ('corral host trust'), whether it\n"
	"answered, and its VMs and storage pools (shared pools marked).  Each trusted\n"
	"host is asked in parallel, with 2 s to connect and 3 s per request: one that\n"
	"is down or hung is listed as unreachable, with why, and does not stall the\n"
	"list.\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static void print_hosts(const json_t *answer)
{
	static const char *const headers[] = { "HOST", "STATUS", "VMS", "POOLS" };
	__do_table struct table *t = table_new(ARRAY_SIZE(headers), headers);
	json_t *h;
	size_t i;
	json_array_foreach(json_object_get(answer, "hosts"), i, h) {
		struct buf vms = BUF_INIT, pools = BUF_INIT;
		json_t *v;
		size_t j;
		json_array_foreach(json_object_get(h, "vms"), j, v)
			buf_printf(&vms, "%s%s(%s)", j ? " " : "", out_str(v, "name"), out_str(v, "state"));
		json_array_foreach(json_object_get(h, "pools"), j, v)
			buf_printf(&pools, "%s%s%s", j ? " " : "", out_str(v, "name"),
				   json_is_true(json_object_get(v, "shared")) ? "(shared)" : "");
		__do_free char *name = json_is_true(json_object_get(h, "self"))
					       ? xasprintf("%s (this host)", out_str(h, "name"))
					       : xstrdup(out_str(h, "name"));
		__do_free char *status = json_is_true(json_object_get(h, "reachable"))
						 ? xstrdup("up")
						 : xasprintf("unreachable: %s", out_str(h, "error"));
		table_add(t, name, status, vms.len ? vms.s : "-", pools.len ? pools.s : "-");
		buf_release(&vms);
		buf_release(&pools);
	}
	table_print(t, stdout);
}

static int host_list(struct cli *cli, int argc, char **argv)
{
	struct cli_args a;

	cli_args_init(&a, "host list", usage_list, argc, argv);
	if (!cli_args_plain(cli, &a, 0, 0, ""))
		return a.exit_code;
	return cli_get_print(cli, "/v1/hosts", print_hosts);
}

static const char usage_shutdown_guests[] =
	"usage: corral host shutdown-guests [--timeout SECS] [--json]\n"
	"\n"
	"Stop every guest of the host, as a host shutdown does: the ACPI power\n"
	"button of each is pressed in the reverse autostart order (--start-order),\n"
	"then all of them are waited for at once; a guest still running after the\n"
	"timeout is killed, and the line of that VM says so:\n"
	"  NAME: stopped (stopped by host shutdown (guest ignored the power\n"
	"  button for SECS s; killed))\n"
	"corrald does the same on SIGTERM when corrald.conf sets\n"
	"shutdown_guests = yes (by default a corrald stop leaves guests running).\n"
	"\n"
	"Options:\n"
	"  --timeout SECS  how long to wait before killing, 1..3600 (default 300)\n"
	"  --json          print the job's result {\"vms\":[...]}\n"
	"  -h, --help      show this help\n";

static int host_shutdown_guests(struct cli *cli, int argc, char **argv)
{
	enum { OPT_TIMEOUT = CLI_OPT_FIRST };
	static const struct option opts[] = {
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	__do_json json_t *body = json_object();
	__do_json json_t *final = NULL;
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	int64_t timeout;
	int opt, rc;
	size_t i;
	json_t *vm, *job;

	cli_args_init(&a, "host shutdown-guests", usage_shutdown_guests, argc, argv);
	while ((opt = cli_getopt(cli, &a, opts)) != -1) {
		if (opt == CLI_OPT_EXIT)
			return a.exit_code;
		if (opt == OPT_TIMEOUT) {
			if (cli_parse_int(optarg, 1, 3600, &timeout) < 0)
				return cli_usage_error(a.cmd, "invalid --timeout '%s': want seconds, 1..3600", optarg);
			json_object_set_new(body, "timeout", json_integer(timeout));
		}
	}
	if ((rc = cli_args_count(&a, 0, 0, "")) != CLI_OK)
		return rc;
	struct client *c = cli_client(cli);
	if (!c)
		return CLI_FAIL;
	if (client_request(c, "POST", "/v1/host/shutdown-guests", body, &r) < 0)
		return CLI_FAIL;
	if (!reply_ok(&r) || !json_is_object(job = json_object_get(r.json, "job"))) {
		client_print_error(&r, NULL);
		return CLI_FAIL;
	}
	rc = job_wait(cli, job, NULL, &final);
	if (!final)
		return CLI_FAIL;
	json_t *res = json_object_get(final, "result");
	if (cli->json) {
		out_json(res ? res : final);
		return rc;
	}
	json_array_foreach(json_object_get(res, "vms"), i, vm) {
		const char *name = out_str(vm, "name"), *reason = out_str(vm, "reason");
		if (json_is_true(json_object_get(vm, "ok")))
			printf("%s: %s%s%s%s\n", name, out_str(vm, "state") ?: "stopped",
			       json_is_true(json_object_get(vm, "killed")) ? " (" : "",
			       json_is_true(json_object_get(vm, "killed")) && reason ? reason : "",
			       json_is_true(json_object_get(vm, "killed")) ? ")" : "");
		else
			cli_error("%s", out_str(vm, "error") ?: "failed");
	}
	if (!json_array_size(json_object_get(res, "vms")) && rc == CLI_OK)
		printf("no guest was running\n");
	return rc;
}

static const char usage_maintenance[] =
	"usage: corral host maintenance HOST on|off [--json]\n"
	"\n"
	"Turn a pool member's HA maintenance mode on or off (the pool's setting: it\n"
	"needs quorum and every member agrees).  While it is on, the pool's HA manager\n"
	"live-migrates HOST's HA VMs to other hosts, one at a time, in priority and\n"
	"order, and places nothing on HOST.  VMs not protected by HA are not touched\n"
	"(the answer says how many still run there).  Off moves nothing back.  Follow\n"
	"the moves with corral ha status and corral events (docs/ha.md).\n"
	"\n"
	"Options:\n"
	"  --json       print the API's answer\n"
	"  -h, --help   show this help\n";

static int host_maintenance(struct cli *cli, int argc, char **argv)
{
	__do_reply struct reply r = REPLY_INIT;
	struct cli_args a;
	bool on;

	cli_args_init(&a, "host maintenance", usage_maintenance, argc, argv);
	if (!cli_args_plain(cli, &a, 2, 2, "HOST on|off"))
		return a.exit_code;
	if (strcmp(a.pos[1], "on") == 0)
		on = true;
	else if (strcmp(a.pos[1], "off") == 0)
		on = false;
	else
		return cli_usage_error(a.cmd, "'%s': want on or off", a.pos[1]);
	__do_json json_t *body = json_pack("{s:b}", "maintenance", on);
	if (cli_call(cli, "PUT", "/v1/ha/maintenance", a.pos[0], NULL, body, &r) != CLI_OK)
		return CLI_FAIL;
	if (cli->json) {
		out_json(r.json);
		return CLI_OK;
	}
	if (!on) {
		printf("host %s: maintenance off%s (its HA VMs stay where they are)\n", a.pos[0],
		       json_is_true(json_object_get(r.json, "changed")) ? "" : " already");
		return CLI_OK;
	}
	__do_free char *vms = out_join(json_object_get(r.json, "ha_vms"), ", ");
	printf("host %s: maintenance on%s; HA moves away: %s\n", a.pos[0],
	       json_is_true(json_object_get(r.json, "changed")) ? "" : " already", *vms ? vms : "none");
	json_t *nh = json_object_get(r.json, "non_ha_running");
	if (json_is_integer(nh))
		printf("%lld VM(s) not protected by HA still run on %s%s\n", (long long)json_integer_value(nh), a.pos[0],
		       json_integer_value(nh) ? " (HA does not move them: corral host evacuate or vm migrate)" : "");
	else if (out_str(r.json, "note"))
		printf("%s\n", out_str(r.json, "note"));
	return CLI_OK;
}

static const struct cli_verb host_verbs[] = {
	{ "info", "show the host's hypervisor, resources and VM counts", host_info },
	{ "stats", "show the host's CPU, memory, load and pool usage over time", cli_host_stats },
	{ "export-db", "print every definition of this host as JSON", host_export },
	{ "list", "list this host and the trusted hosts, with their VMs and pools", host_list },
	{ "trust", "add, list or remove trusted hosts (mutual TLS)", host_trust },
	{ "evacuate", "live-migrate every running VM off a host to trusted hosts", cli_host_evacuate },
	{ "shutdown-guests", "stop every guest at once, killing the deaf ones after a timeout", host_shutdown_guests },
	{ "maintenance", "turn a pool member's HA maintenance mode on or off", host_maintenance },
	{ NULL, NULL, NULL },
};

const struct cli_noun cli_noun_host = {
	"host", "Inspect the host corrald runs on, and the hosts it trusts.", host_verbs, NULL,
};
