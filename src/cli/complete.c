/*
 * complete.c - `corral __complete`: the candidates for one word of a
 * command line, from the same noun, verb and option tables that parse it
 * (see complete.h), so completion cannot drift from the CLI.
 *
 * A verb's options are learnt by running the verb in listing mode
 * (cli_args_set_listing): its first cli_getopt hands over the option table
 * and stops it before it does anything.  Names of objects come from
 * corrald with errors silenced.
 */
#include <stdio.h>
#include <string.h>

#include "complete.h"
#include "errout.h"
#include "util/common.h"

enum kind { K_NONE, K_VM, K_VOLUME, K_POOL, K_NETWORK, K_CT, K_ALARM, K_CLUSTER_NODE, K_TRUSTED_HOST };

/* The option of `opts` named by word ("--pool" or "--pool=..."), or NULL. */
static const struct option *option_of(const struct option *opts, const char *word)
{
	size_t n;

	if (!opts || strncmp(word, "--", 2) != 0)
		return NULL;
	n = strcspn(word + 2, "=");
	for (const struct option *o = opts; o->name; o++)
		if (strlen(o->name) == n && strncmp(o->name, word + 2, n) == 0)
			return o;
	return NULL;
}

/* "--name" per option; a name the table has twice (disk create's own
 * --format before the common one) once: getopt takes the first. */
static void print_options(const struct option *opts)
{
	for (const struct option *o = opts; o && o->name; o++) {
		const struct option *p = opts;
		while (p < o && strcmp(p->name, o->name) != 0)
			p++;
		if (p == o)
			printf("--%s\n", o->name);
	}
}

/* The names in GET <path> -> {"<key>":[{"name":...}]}, printed; quiet on any failure. */
static void print_names(struct cli *cli, const char *path, const char *key)
{
	__do_reply struct reply r = REPLY_INIT;
	struct client *c;
	json_t *o;
	size_t i;

	errout_set_quiet(true);
	c = cli_client(cli);
	if (c && client_request(c, "GET", path, NULL, &r) == 0 && reply_ok(&r))
		json_array_foreach(json_object_get(r.json, key), i, o)
			if (json_is_string(json_object_get(o, "name")))
				printf("%s\n", json_string_value(json_object_get(o, "name")));
	errout_set_quiet(false);
}

static void print_kind(struct cli *cli, enum kind k)
{
	switch (k) {
	case K_VM: print_names(cli, "/v1/vms", "vms"); break;
	case K_VOLUME: print_names(cli, "/v1/volumes", "volumes"); break;
	case K_POOL: print_names(cli, "/v1/pools", "pools"); break;
	case K_NETWORK: print_names(cli, "/v1/networks", "networks"); break;
	case K_CT: print_names(cli, "/v1/containers", "containers"); break;
	case K_ALARM: print_names(cli, "/v1/alarms", "alarms"); break;
	case K_CLUSTER_NODE: print_names(cli, "/v1/cluster", "nodes"); break;
	case K_TRUSTED_HOST: print_names(cli, "/v1/host/trust", "hosts"); break;
	case K_NONE: break;
	}
}

/* What an option's value names: --pool POOL, --net/--network NET, a VM's --disk VOLUME. */
static enum kind value_kind(const char *noun, const char *opt)
{
	if (strcmp(opt, "pool") == 0)
		return K_POOL;
	if (strcmp(noun, "alarm") == 0 && strcmp(opt, "on") == 0)
		return K_VM;
	if (strcmp(opt, "net") == 0 || strcmp(opt, "network") == 0)
		return K_NETWORK;
	if ((strcmp(opt, "disk") == 0 || strcmp(opt, "volume") == 0) && strcmp(noun, "vm") == 0)
		return K_VOLUME;
	return K_NONE;
}

/* What the verb's positional argument number `pos` (0: the first) names. */
static enum kind arg_kind(const char *noun, const char *verb, int pos)
{
	bool makes = strcmp(verb, "create") == 0 || strcmp(verb, "import") == 0 || strcmp(verb, "add") == 0;

	if (strcmp(noun, "vm") == 0)
		return makes || (strcmp(verb, "clone") == 0 && pos > 0) ? K_NONE : K_VM;
	if (strcmp(noun, "disk") == 0) {
		if (makes)
			return K_NONE;
		if (strcmp(verb, "attach") == 0 || strcmp(verb, "detach") == 0)
			return pos == 0 ? K_VM : K_VOLUME;
		return pos == 0 || strcmp(verb, "delete") == 0 ? K_VOLUME : K_NONE;
	}
	if (strcmp(noun, "pool") == 0)
		return makes ? K_NONE : K_POOL;
	if (strcmp(noun, "ct") == 0 && (strcmp(verb, "nic") == 0 || strcmp(verb, "snapshot") == 0))
		return pos == 1 ? K_CT : K_NONE; /* ct nic list CT, ct snapshot create CT NAME */
	if (strcmp(noun, "ct") == 0 && strcmp(verb, "clone") == 0)
		return pos == 0 ? K_CT : K_NONE; /* ct clone SRC NEW */
	if (strcmp(noun, "ct") == 0)
		return makes || pos > 0 ? K_NONE : K_CT;
	if (strcmp(noun, "net") == 0)
		return makes || pos > 0 ? K_NONE : K_NETWORK;
	if (strcmp(noun, "nic") == 0 || strcmp(noun, "cdrom") == 0 || strcmp(noun, "snapshot") == 0)
		return pos == 0 ? K_VM : K_NONE;
	if (strcmp(noun, "backup") == 0 && (strcmp(verb, "run") == 0 || strcmp(verb, "list") == 0))
		return K_VM;
	if (strcmp(noun, "alarm") == 0)
		return makes ? K_NONE : K_ALARM;
	if (strcmp(noun, "cluster") == 0 && strcmp(verb, "join") == 0)
		return pos == 0 ? K_TRUSTED_HOST : K_NONE;
	if (strcmp(noun, "cluster") == 0 && strcmp(verb, "node") == 0) /* node remove NAME */
		return pos == 1 ? K_CLUSTER_NODE : K_NONE;
	return K_NONE;
}

/* Run the verb (or the verbless noun) in listing mode: its option table.
 * `next` is the word after the verb, for verbs with their own sub-verbs
 * (`net forward add`, `host trust remove`); NULL if none. */
static const struct option *options_of(struct cli *cli, const struct cli_noun *n, const struct cli_verb *v,
				       char *next)
{
	char *argv[] = { (char *)(v ? v->name : n->name), next, NULL };
	int argc = next ? 2 : 1;

	cli_args_set_listing(true);
	errout_set_quiet(true);
	if (v)
		v->run(cli, argc, argv);
	else
		n->run(cli, argc, argv);
	errout_set_quiet(false);
	const struct option *opts = cli_args_listed();
	cli_args_set_listing(false);
	return opts;
}

int cli_complete(struct cli *cli, int argc, char **argv)
{
	char **w = argv + 1;
	int nw = argc - 2, i = 0, pos = 0;
	const char *cur = argc >= 2 ? argv[argc - 1] : "";
	const struct cli_noun *n;
	const struct cli_verb *v = NULL;
	const struct option *opts, *o;

	if (nw < 0)
		return CLI_OK;
	/* Global options first: those that pick the daemon are honoured. */
	for (; i < nw && w[i][0] == '-'; i++) {
		o = option_of(cli_global_options, w[i]);
		if (!o || o->has_arg != required_argument || strchr(w[i], '='))
			continue;
		if (i + 1 >= nw)
			return CLI_OK; /* completing that option's value */
		if (strcmp(o->name, "socket") == 0) {
			cli->socket_path = w[i + 1];
			cli->socket_set = true;
		} else if (strcmp(o->name, "remote") == 0) {
			cli->remote = w[i + 1];
		} else if (strcmp(o->name, "url") == 0) {
			cli->url = w[i + 1];
		}
		i++;
	}
	if (i == nw) {
		if (cur[0] == '-')
			print_options(cli_global_options);
		else
			for (size_t k = 0; k < cli_nouns_count; k++)
				printf("%s\n", cli_nouns[k]->name);
		return CLI_OK;
	}
	if (!(n = cli_noun_find(w[i++])))
		return CLI_OK;
	if (n->verbs) {
		if (i == nw) {
			for (v = n->verbs; v->name; v++)
				printf("%s\n", v->name);
			return CLI_OK;
		}
		if (!(v = cli_verb_find(n, w[i++])))
			return CLI_OK;
	}
	opts = options_of(cli, n, v, i < nw && w[i][0] != '-' ? w[i] : NULL);
	/* The positional arguments typed so far, skipping options and their values. */
	for (; i < nw; i++) {
		if (strcmp(w[i], "--") == 0 || w[i][0] != '-' || !w[i][1]) {
			pos++;
			continue;
		}
		o = option_of(opts, w[i]);
		if (o && o->has_arg == required_argument && !strchr(w[i], '=')) {
			if (i + 1 == nw) {
				print_kind(cli, value_kind(n->name, o->name));
				return CLI_OK;
			}
			i++;
		}
	}
	if (cur[0] == '-') {
		print_options(opts);
		return CLI_OK;
	}
	if (v && strcmp(n->name, "ct") == 0 && strcmp(v->name, "snapshot") == 0 && pos == 0) {
		static const char *const subs[] = { "create", "list", "revert", "delete" };
		for (size_t k = 0; k < ARRAY_SIZE(subs); k++)
			printf("%s\n", subs[k]);
		return CLI_OK;
	}
	if (v)
		print_kind(cli, arg_kind(n->name, v->name, pos));
	return CLI_OK;
}
