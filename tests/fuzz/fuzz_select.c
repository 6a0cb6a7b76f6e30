/*
 * fuzz_select.c - fuzz target for VM selectors (the {vm} in API paths and
 * ?select=, typed by users).
 *
 * Input: the selector, then optionally '\n' and a VM name; the name (when
 * valid) joins a small fixed fleet so globs are matched against
 * attacker-chosen names too.  Checked besides "no crash, no leak":
 *   - a rejection carries a message and leaves no value behind;
 *   - an accepted selector has a non-empty printable value;
 *   - a plain selector matches exactly the VM with that name or uuid;
 *   - a selector that claims to be single matches at most one VM.
 * Slow globs show up as libFuzzer timeouts (-timeout=).
 *
 * Build with libFuzzer (-DFUZZING) or as a corpus replayer (see README.md).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/select.h"
#include "core/vmdef.h"
#include "util/buf.h"
#include "util/strutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_select: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

static struct vm_def *make_vm(const char *name, const char *uuid, const char *tag)
{
	struct vm_def *d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	snprintf(d->uuid, sizeof(d->uuid), "%s", uuid);
	if (tag) {
		d->tags = xcalloc(2, sizeof(char *));
		d->tags[0] = xstrdup(tag);
		d->ntags = 1;
	}
	return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t sel_len = nl ? (size_t)(nl - (const char *)data) : size;
	char *sel_text = strndup((const char *)data, sel_len);
	char *vm_name = nl ? strndup(nl + 1, size - sel_len - 1) : NULL;
	struct vm_def *fleet[4];
	int nfleet = 0;

	fleet[nfleet++] = make_vm("web1", "0b6c5a2e-1f3d-4c5b-9a7e-8d6f5e4c3b2a", "prod");
	fleet[nfleet++] = make_vm("web2", "11111111-2222-4333-8444-555555555555", "prod");
	fleet[nfleet++] = make_vm("db", "22222222-2222-4333-8444-555555555555", NULL);
	if (vm_name && !str_name_invalid(vm_name) && strcmp(vm_name, "web1") && strcmp(vm_name, "web2") &&
	    strcmp(vm_name, "db"))
		fleet[nfleet++] = make_vm(vm_name, "33333333-2222-4333-8444-555555555555", vm_name);

	struct selector sel = { 0 };
	struct buf err = BUF_INIT;
	if (selector_parse(sel_text, &sel, &err) < 0) {
		if (err.len == 0)
			die("rejected without a message", sel_text);
		if (sel.value)
			die("rejected but left a value", sel_text);
	} else {
		if (!sel.value || !*sel.value)
			die("accepted with an empty value", sel_text);
		if (str_has_control(sel.value) || strlen(sel.value) > 255)
			die("accepted a value with control characters or too long", sel_text);
		int matched = 0;
		for (int i = 0; i < nfleet; i++) {
			bool m = selector_match(&sel, fleet[i]);
			matched += m;
			if (sel.kind == SEL_PLAIN) {
				bool want = strcmp(sel.value, fleet[i]->name) == 0 ||
					    strcasecmp(sel.value, fleet[i]->uuid) == 0;
				if (m != want)
					die("plain selector matched the wrong VM", sel_text);
			}
		}
		if (selector_is_single(&sel) && matched > 1)
			die("single selector matched several VMs", sel_text);
		selector_release(&sel);
		if (sel.value)
			die("selector_release left a value", sel_text);
	}

	buf_release(&err);
	for (int i = 0; i < nfleet; i++)
		vmdef_free(fleet[i]);
	free(sel_text);
	free(vm_name);
	return 0;
}

#ifndef FUZZING
#include "replay.h"

int main(int argc, char **argv) { return fuzz_replay_main("fuzz_select", argc, argv); }
#endif
