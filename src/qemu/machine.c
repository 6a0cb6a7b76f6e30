/*
 * machine.c - see machine.h: the machine types of a QEMU binary, from
 * `-machine help` ("NAME   DESCRIPTION[ (alias of TARGET)][ (default)]"
 * per line after a header), and the rule for names a definition may hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "util/cmd.h"
#include "util/common.h"

static void push(char ***arr, size_t *n, const char *s, size_t len)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = xstrndup(s, len);
}

int qemu_machines_parse(const char *text, struct qemu_machines *out)
{
	const char *line = text;

	memset(out, 0, sizeof(*out));
	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		size_t name = strcspn(line, " \t\n");
		if (name && name < len && line[0] != ' ' && strncmp(line, "Supported", 9) != 0) {
			const char *alias = NULL;
			for (const char *p = line; p + 10 <= line + len; p++)
				if (strncmp(p, "(alias of ", 10) == 0) {
					alias = p + 10;
					break;
				}
			if (alias) {
				size_t t = strcspn(alias, ")\n");
				size_t k = out->naliases;
				push(&out->aliases, &k, line, name);
				push(&out->targets, &out->naliases, alias, t);
			} else {
				push(&out->names, &out->n, line, name);
			}
		}
		line = end ? end + 1 : NULL;
	}
	if (!out->n) {
		qemu_machines_release(out);
		return -EINVAL;
	}
	return 0;
}

int qemu_machines_probe(const char *binary, struct qemu_machines *out, struct buf *err)
{
	struct cmd c = CMD_INIT;
	struct buf text = BUF_INIT;
	int r;

	cmd_add(&c, binary);
	cmd_add(&c, "-machine");
	cmd_add(&c, "help");
	r = cmd_run(&c, &text, NULL);
	if (r != 0 || !text.s || qemu_machines_parse(text.s, out) < 0) {
		buf_printf(err, "cannot list the machine types of %s", binary);
		r = -EIO;
	}
	cmd_release(&c);
	buf_release(&text);
	return r;
}

void qemu_machines_release(struct qemu_machines *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->names[i]);
	for (size_t i = 0; i < m->naliases; i++) {
		free(m->aliases[i]);
		free(m->targets[i]);
	}
	free(m->names);
	free(m->aliases);
	free(m->targets);
	memset(m, 0, sizeof(*m));
}

const char *qemu_machines_resolve(const struct qemu_machines *m, const char *name)
{
	for (size_t i = 0; name && i < m->naliases; i++)
		if (strcmp(m->aliases[i], name) == 0)
			name = m->targets[i];
	for (size_t i = 0; name && i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return m->names[i];
	return NULL;
}
