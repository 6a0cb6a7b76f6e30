/*
 * select.h - naming VMs the way backup tools do.
 *
 *   web1              the VM named web1, or whose uuid is web1
 *   name:web*         shell glob on names
 *   uuid:0b6c...      exact uuid
 *   tag:prod          VMs carrying the tag
 *
 * selector_parse validates; selector_match tests one definition.
 */
#ifndef CORRAL_CORE_SELECT_H
#define CORRAL_CORE_SELECT_H

#include <stdbool.h>

#include "core/vmdef.h"
#include "util/buf.h"

enum selector_kind { SEL_PLAIN, SEL_NAME_GLOB, SEL_UUID, SEL_TAG };

struct selector {
	enum selector_kind kind;
	char *value;
};

/* 0, or -1 with a sentence in err (empty, control characters, unknown prefix, > 255 chars). */
int selector_parse(const char *s, struct selector *out, struct buf *err);
void selector_release(struct selector *sel);
bool selector_match(const struct selector *sel, const struct vm_def *d);
/* true if the selector can match at most one VM. */
bool selector_is_single(const struct selector *sel);

#endif
