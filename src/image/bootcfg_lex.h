/*
 * bootcfg_lex.h - internal to bootcfg.c: the GRUB 2 script tokenizer.
 *
 * A script is cut into words (kept raw, quotes and $variables still in
 * them, because GRUB expands them only when a command runs), separators
 * (newline or ';') and the braces of menuentry/submenu/function bodies.
 * Unquoted '{' and '}' are tokens of their own wherever they appear, as in
 * GRUB's lexer; '#' starts a comment only at the start of a word.
 */
#ifndef CORRAL_IMAGE_BOOTCFG_LEX_H
#define CORRAL_IMAGE_BOOTCFG_LEX_H

#include <stddef.h>

#include "util/buf.h"

enum bc_tok_type { BC_WORD, BC_SEP, BC_LBRACE, BC_RBRACE, BC_EOF };

struct bc_tok {
	enum bc_tok_type type;
	int line;
	char *text; /* raw word for BC_WORD, else NULL */
};

struct bc_script {
	char *path;
	struct bc_tok *toks; /* ends with one BC_EOF */
	size_t n;
	struct bc_script *next;
};

/* Tokenize text (lines counted from first_line) into s, which owns the
 * tokens afterwards.  -EINVAL with "PATH:LINE: what" on an unterminated
 * quote or ${. */
int bc_lex(const char *text, size_t len, const char *path, int first_line, struct bc_script *s, struct buf *err);
void bc_script_release(struct bc_script *s);

#endif
