/*
 * bootcfg_lex.c - tokenizer for GRUB 2 scripts (grub.cfg and the files it
 * sources), used by bootcfg.c.  See bootcfg_lex.h for the token model.
 *
 * Quotes may span lines like in GRUB; backslash-newline outside single
 * quotes joins lines.  Words keep their quoting: expansion happens later,
 * with the variables of the moment, exactly like GRUB defers it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bootcfg_lex.h"
#include "util/common.h"

struct lexer {
	struct bc_script *s;
	size_t alloc;
	struct buf word;
	bool inword;
	int wline;
};

static void lex_push(struct lexer *l, enum bc_tok_type type, int line, char *text)
{
	if (l->s->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 64;
		l->s->toks = xrealloc(l->s->toks, l->alloc * sizeof(*l->s->toks));
	}
	l->s->toks[l->s->n++] = (struct bc_tok){ .type = type, .line = line, .text = text };
}

static void lex_flush(struct lexer *l)
{
	if (!l->inword)
		return;
	lex_push(l, BC_WORD, l->wline, xstrdup(l->word.s));
	buf_reset(&l->word);
	l->inword = false;
}

static int lex_fail(struct buf *err, const char *path, int line, const char *what)
{
	buf_printf(err, "%s:%d: %s", path, line, what);
	return -EINVAL;
}

int bc_lex(const char *text, size_t len, const char *path, int first_line, struct bc_script *s, struct buf *err)
{
	struct lexer l = { .s = s, .word = BUF_INIT };
	int line = first_line;
	size_t i = 0;
	int r = 0;

	s->path = xstrdup(path);
	while (i < len) {
		char ch = text[i];
		if (ch == '\\' && i + 1 < len && text[i + 1] == '\n') {
			i += 2;
			line++;
			continue;
		}
		if (ch == '\n' || ch == ';') {
			lex_flush(&l);
			lex_push(&l, BC_SEP, line, NULL);
			line += ch == '\n';
			i++;
			continue;
		}
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\0') {
			lex_flush(&l);
			i++;
			continue;
		}
		if (ch == '#' && !l.inword) {
			while (i < len && text[i] != '\n')
				i++;
			continue;
		}
		if (ch == '{' || ch == '}') {
			lex_flush(&l);
			lex_push(&l, ch == '{' ? BC_LBRACE : BC_RBRACE, line, NULL);
			i++;
			continue;
		}
		if (!l.inword) {
			l.inword = true;
			l.wline = line;
		}
		size_t j = i + 1;
		int start = line;
		if (ch == '\\') {
			j = i + 2 <= len ? i + 2 : len;
		} else if (ch == '\'') {
			while (j < len && text[j] != '\'')
				line += text[j++] == '\n';
			if (j >= len) {
				r = lex_fail(err, path, start, "unterminated single quote");
				goto out;
			}
			j++;
		} else if (ch == '"') {
			while (j < len && text[j] != '"') {
				if (text[j] == '\\' && j + 1 < len)
					j++;
				line += text[j++] == '\n';
			}
			if (j >= len) {
				r = lex_fail(err, path, start, "unterminated double quote");
				goto out;
			}
			j++;
		} else if (ch == '$' && i + 1 < len && text[i + 1] == '{') {
			j = i + 2;
			while (j < len && text[j] != '}' && text[j] != '\n')
				j++;
			if (j >= len || text[j] != '}') {
				r = lex_fail(err, path, start, "unterminated ${");
				goto out;
			}
			j++;
		}
		buf_add(&l.word, text + i, j - i);
		i = j;
	}
	lex_flush(&l);
	lex_push(&l, BC_EOF, line, NULL);
out:
	buf_release(&l.word);
	return r;
}

void bc_script_release(struct bc_script *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->toks[i].text);
	free(s->toks);
	free(s->path);
	s->toks = NULL;
	s->path = NULL;
	s->n = 0;
}
