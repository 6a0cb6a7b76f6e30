/*
 * cpumodel.c - see cpumodel.h: the CPU models of a QEMU binary, from
 * `-cpu help` ("x86 NAME   DESCRIPTION" per line, then "Recognized CPUID
 * flags:" and the flags, which are not models), and the checks a VM's
 * "cpu" field gets against them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cpumodel.h"
#include "util/cmd.h"
#include "util/strutil.h"
#include "util/common.h"

int qemu_cpus_parse(const char *text, struct qemu_cpus *out)
{
	const char *line = text;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *end = strchr(line, '\n');
		if (strncmp(line, "Recognized CPUID", 16) == 0)
			break;
		if (strncmp(line, "x86 ", 4) == 0) {
			const char *name = line + 4;
			name += strspn(name, " ");
			size_t len = strcspn(name, " \t\n");
			if (len) {
				out->names = xrealloc(out->names, (out->n + 1) * sizeof(*out->names));
				out->names[out->n++] = xstrndup(name, len);
			}
		}
		line = end ? end + 1 : NULL;
	}
	if (!out->n) {
		qemu_cpus_release(out);
		return -EINVAL;
	}
	return 0;
}

int qemu_cpus_probe(const char *binary, struct qemu_cpus *out, struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf text = BUF_INIT;
	int r;

	cmd_add(&c, binary);
	cmd_add(&c, "-cpu");
	cmd_add(&c, "help");
	r = cmd_run(&c, &text, NULL);
	if (r != 0 || !text.s || qemu_cpus_parse(text.s, out) < 0) {
		buf_printf(err, "cannot list the CPU models of %s", binary);
		r = -EIO;
	}
	cmd_release(&c);
	buf_release(&text);
	return r;
}

void qemu_cpus_release(struct qemu_cpus *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

bool qemu_cpus_has(const struct qemu_cpus *c, const char *name)
{
	for (size_t i = 0; name && i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return true;
	return false;
}

/* Edit distance ignoring case (QEMU's names mix it: "Skylake-Server", "qemu64"). */
static size_t distance_nocase(const char *a, const char *b)
{
	char la[64], lb[64];
	size_t i;
	if (strlen(a) >= sizeof(la) || strlen(b) >= sizeof(lb))
		return SIZE_MAX;
	for (i = 0; a[i]; i++)
		la[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
	la[i] = 0;
	for (i = 0; b[i]; i++)
		lb[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
	lb[i] = 0;
	return str_distance(la, lb);
}

const char *qemu_cpus_suggest(const struct qemu_cpus *c, const char *name)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX, len = name ? strlen(name) : 0;
	for (size_t i = 0; len && i < c->n; i++) {
		size_t d = distance_nocase(name, c->names[i]);
		if (d < bestd) {
			bestd = d;
			best = c->names[i];
		}
	}
	/* a typo: at most a third of the word wrong (and at most 3 edits) */
	return best && bestd <= 3 && bestd * 3 <= len ? best : NULL;
}

bool qemu_cpu_portable(const char *name) { return name && strcmp(name, "host") != 0 && strcmp(name, "max") != 0; }

int qemu_cpu_check(const struct qemu_cpus *c, const char *name, bool kvm, struct buf *err)
{
	if (!name || strcmp(name, "max") == 0)
		return 0;
	if (strcmp(name, "host") == 0) {
		if (kvm)
			return 0;
		buf_adds(err, "cpu host needs KVM, and this host runs guests with TCG; use max or a named model");
		return -EINVAL;
	}
	if (!c->n || qemu_cpus_has(c, name))
		return 0;
	const char *near = qemu_cpus_suggest(c, name);
	if (near)
		buf_printf(err, "QEMU on this host knows no CPU model %s; did you mean %s? (corral host info lists cpu_models)",
			   name, near);
	else
		buf_printf(err, "QEMU on this host knows no CPU model %s (corral host info lists cpu_models)", name);
	return -EINVAL;
}
