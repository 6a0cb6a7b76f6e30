/*
 * select.c - see select.h.
 */
#include <string.h>
#include <strings.h>

#include "select.h"
#include "util/strutil.h"
#include "util/common.h"

int selector_parse(const char *s, struct selector *out, struct buf *err)
{
	static const struct {
		const char *prefix;
		enum selector_kind kind;
	} prefixes[] = { { "name:", SEL_NAME_GLOB }, { "uuid:", SEL_UUID }, { "tag:", SEL_TAG } };

	if (!s || !*s || strlen(s) > 255 || str_has_control(s)) {
		buf_adds(err, "invalid VM selector (expected NAME, UUID, name:GLOB, uuid:UUID or tag:TAG)");
		return -1;
	}
	out->kind = SEL_PLAIN;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		size_t n = strlen(prefixes[i].prefix);
		if (strncmp(s, prefixes[i].prefix, n) == 0) {
			if (!s[n]) {
				buf_printf(err, "selector '%s' needs a value after the prefix", s);
				return -1;
			}
			out->kind = prefixes[i].kind;
			out->value = xstrdup(s + n);
			return 0;
		}
	}
	if (strchr(s, ':')) {
		buf_printf(err, "unknown selector prefix in '%.64s' (use name:, uuid: or tag:)", s);
		return -1;
	}
	out->value = xstrdup(s);
	return 0;
}

void selector_release(struct selector *sel)
{
	free(sel->value);
	sel->value = NULL;
}

bool selector_match(const struct selector *sel, const struct vm_def *d)
{
	switch (sel->kind) {
	case SEL_PLAIN:
		return strcmp(sel->value, d->name) == 0 || strcasecmp(sel->value, d->uuid) == 0;
	case SEL_NAME_GLOB:
		return str_glob_match(sel->value, d->name);
	case SEL_UUID:
		return strcasecmp(sel->value, d->uuid) == 0;
	case SEL_TAG:
		for (int i = 0; i < d->ntags; i++)
			if (strcmp(d->tags[i], sel->value) == 0)
				return true;
		return false;
	}
	return false;
}

bool selector_is_single(const struct selector *sel)
{
	return sel->kind == SEL_PLAIN || sel->kind == SEL_UUID;
}
